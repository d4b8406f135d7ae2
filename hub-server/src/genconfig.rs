//! `hub-server genconfig`: a configuration file with every key commented
//! out at its default, each under what it does. The words come from
//! docs/PROTOCOL.md's tables (built into the binary), the contract a test
//! keeps in step with the code, so the file and the documentation cannot
//! disagree.

use std::collections::HashMap;

use crate::ServerConfig;

/// docs/PROTOCOL.md, read for its `| key | default | meaning |` rows.
const PROTOCOL: &str = include_str!("../../docs/PROTOCOL.md");

/// Widest comment line.
const WIDTH: usize = 96;

/// The commented default configuration.
///
/// # Errors
/// The defaults could not be written as TOML (a bug).
pub fn genconfig() -> Result<String, String> {
    let meanings = meanings(PROTOCOL);
    let defaults = ServerConfig::default().to_printable_toml()?;
    let mut out = String::from(
        "## Signal Hub configuration: every key at its default, commented out (`# key = value`;\n\
         ## lines of `##` say what the key below them does). Uncomment what you change. Each key\n\
         ## can also be set as SIGNAL_HUB_<KEY> in the environment or with --set key=value; check\n\
         ## a file with `hub-server check-config -c FILE`. Reference: docs/PROTOCOL.md.\n",
    );
    let mut table = String::new();
    for line in defaults.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            table = name.to_owned();
            if table == "namespaces" {
                namespace_example(&mut out, &meanings);
            } else {
                out.push_str(&format!("\n# [{name}]\n"));
            }
            continue;
        }
        let Some((key, _)) = line.split_once(" = ") else {
            continue;
        };
        let path = if table.is_empty() {
            key.to_owned()
        } else {
            format!("{table}.{key}")
        };
        out.push('\n');
        if let Some((_, meaning)) = meanings.get(path.as_str()) {
            comment(&mut out, meaning);
        }
        out.push_str(&format!("# {line}\n"));
    }
    Ok(out)
}

/// A `[namespaces.chat]` table with every namespace key at its default.
fn namespace_example(out: &mut String, meanings: &HashMap<&str, (&str, &str)>) {
    out.push('\n');
    if let Some((_, meaning)) = meanings.get("namespaces") {
        comment(out, meaning);
    }
    out.push_str("# [namespaces.chat]\n");
    let mut keys: Vec<_> = meanings
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("namespaces.<name>.").map(|k| (k, *v)))
        .collect();
    keys.sort();
    for (key, (default, meaning)) in keys {
        out.push('\n');
        comment(out, meaning);
        out.push_str(&format!("# {key} = {default}\n"));
    }
}

/// `text` as `## ` lines (prose; a setting is `# key = value`) of at most [`WIDTH`] characters.
fn comment(out: &mut String, text: &str) {
    let mut line = String::from("##");
    for word in text.split_whitespace() {
        if line.len() + 1 + word.len() > WIDTH && line.len() > 2 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("##");
        }
        line.push(' ');
        line.push_str(word);
    }
    if line.len() > 2 {
        out.push_str(&line);
        out.push('\n');
    }
}

/// key → (default, meaning) from every table row whose first cell is a
/// backticked key and which has three cells.
fn meanings(doc: &str) -> HashMap<&str, (&str, &str)> {
    let mut rows = HashMap::new();
    for line in doc.lines() {
        let Some(rest) = line.strip_prefix("| `") else {
            continue;
        };
        let Some((key, rest)) = rest.split_once("` | ") else {
            continue;
        };
        let Some((default, meaning)) = rest.split_once(" | ") else {
            continue;
        };
        let meaning = meaning.trim_end().trim_end_matches('|').trim();
        if !meaning.is_empty() && !key.contains(' ') {
            rows.entry(key).or_insert((default.trim(), meaning));
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_top_level_key_is_explained() {
        let text = genconfig().unwrap();
        let defaults = ServerConfig::default().to_printable_toml().unwrap();
        for line in defaults.lines().filter(|l| l.contains(" = ")) {
            let key = line.split(" = ").next().unwrap();
            let at = text
                .find(&format!("\n# {line}\n"))
                .unwrap_or_else(|| panic!("{key} missing"));
            let before = &text[..at];
            let explained = before.rsplit("\n\n").next().unwrap();
            assert!(explained.starts_with("## "), "{key}: {explained:?}");
            assert!(
                explained.len() > 10,
                "{key} has no explanation: {explained:?}"
            );
        }
    }
}
