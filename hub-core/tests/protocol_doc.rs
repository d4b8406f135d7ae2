//! docs/PROTOCOL.md is the contract: every error code, close code and config
//! default in the code must be in its tables, with the same values.

use hub_core::permissions::NamespaceOptions;
use hub_core::protocol::codes::{ALL_CLOSE_CODES, ALL_ERROR_CODES};
use hub_core::Config;

fn protocol_md() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/PROTOCOL.md");
    std::fs::read_to_string(path).expect("docs/PROTOCOL.md is readable")
}

/// The cells of the table row whose first cell is `first`.
fn row<'a>(doc: &'a str, first: &str) -> Option<Vec<&'a str>> {
    doc.lines().find_map(|line| {
        let cells: Vec<&str> = line
            .trim()
            .strip_prefix('|')?
            .strip_suffix('|')?
            .split('|')
            .map(str::trim)
            .collect();
        (cells.first() == Some(&first)).then_some(cells)
    })
}

fn yes_no(flag: bool) -> &'static str {
    if flag {
        "yes"
    } else {
        "no"
    }
}

#[test]
fn every_error_code_is_documented_with_its_temporary_flag() {
    let doc = protocol_md();
    for code in ALL_ERROR_CODES {
        let name = format!("`{}`", code.as_str());
        let cells = row(&doc, &name).unwrap_or_else(|| panic!("{name} has no row"));
        assert_eq!(cells[1], yes_no(code.temporary()), "temporary of {name}");
    }
}

#[test]
fn every_close_code_is_documented_with_its_number_and_advice() {
    let doc = protocol_md();
    for code in ALL_CLOSE_CODES {
        let number = code.number().to_string();
        let cells = row(&doc, &number).unwrap_or_else(|| panic!("close {number} has no row"));
        assert_eq!(
            cells[1],
            format!("`{}`", code.as_str()),
            "reason of {number}"
        );
        let advice = cells[2].trim_start_matches("**");
        let documented = advice.starts_with("yes");
        assert_eq!(
            documented,
            code.reconnect(),
            "reconnect of {number}: {advice}"
        );
    }
}

#[test]
fn every_limit_is_documented_with_its_default() {
    let doc = protocol_md();
    let defaults = serde_json::to_value(Config::default()).expect("serializable");
    let mut rows = Vec::new();
    flatten("", &defaults, &mut rows);
    // The options of every namespace, under a placeholder name.
    let namespace = serde_json::to_value(NamespaceOptions::default()).expect("serializable");
    flatten("namespaces.<name>", &namespace, &mut rows);
    for (key, value) in rows {
        let name = format!("`{key}`");
        let cells = row(&doc, &name).unwrap_or_else(|| panic!("{name} has no row"));
        assert_eq!(cells[1], value, "default of {name}");
    }
}

/// Dotted keys and their defaults as the table writes them; a table with
/// keys is one row per key, an empty one is one row (`{}`).
fn flatten(prefix: &str, value: &serde_json::Value, rows: &mut Vec<(String, String)>) {
    match value.as_object() {
        Some(fields) if !fields.is_empty() => {
            for (key, value) in fields {
                let key = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&key, value, rows);
            }
        }
        _ => rows.push((prefix.to_owned(), value.to_string())),
    }
}
