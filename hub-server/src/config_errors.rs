//! Config errors a person can act on: the key's whole path
//! (`api_keys[0].scopes[1]`), where the value came from (the file, an
//! environment variable, a flag), and what is expected in words, not in
//! Rust types (`a whole number from 0 to 4294967295`, not `u32`).

use figment::error::{Actual, Kind};

/// Every error of `error`, each on its own, joined by `; `.
pub(crate) fn describe(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let key = key_path(&e.path);
            let from = e
                .metadata
                .as_ref()
                .map(|m| format!(" (from {})", source_name(&m.name)))
                .unwrap_or_default();
            match key {
                Some(key) => format!("`{key}`{from}: {}", plain(&e.kind)),
                None => format!("{}{from}", plain(&e.kind)),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `["api_keys", "0", "scopes"]` as `api_keys[0].scopes`.
fn key_path(path: &[String]) -> Option<String> {
    let mut out = String::new();
    for part in path {
        if part.parse::<usize>().is_ok() {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(part);
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Figment's provider names, as a user knows them.
fn source_name(name: &str) -> String {
    if name.contains("environment") {
        "a SIGNAL_HUB_* environment variable".into()
    } else if name.contains("TOML") {
        "the config file".into()
    } else if name.contains("Serialized") || name.contains("default") {
        "the defaults".into()
    } else {
        "a flag".into()
    }
}

/// An error kind in words.
fn plain(kind: &Kind) -> String {
    match kind {
        Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => {
            format!("{} is not {}", shown(actual), expected_in_words(expected))
        }
        Kind::UnknownVariant(found, expected) => format!(
            "`{found}` is not one of {}",
            expected
                .iter()
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Kind::UnknownField(found, expected) => format!(
            "`{found}` is not a key here; the keys are {}",
            expected.join(", ")
        ),
        Kind::MissingField(name) => format!("`{name}` is missing"),
        other => other.to_string(),
    }
}

fn shown(actual: &Actual) -> String {
    match actual {
        Actual::Str(s) => format!("\"{s}\""),
        Actual::Signed(n) => n.to_string(),
        Actual::Unsigned(n) => n.to_string(),
        Actual::Float(n) => n.to_string(),
        Actual::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

/// serde's expectation (`u32`, `a sequence`) in words.
fn expected_in_words(expected: &str) -> String {
    let range = |max: &str| format!("a whole number from 0 to {max}");
    match expected {
        "u8" => range("255"),
        "u16" => range("65535"),
        "u32" => range("4294967295"),
        "u64" | "usize" => range("18446744073709551615"),
        "i32" | "i64" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" => "true or false".into(),
        "a sequence" => "a list: [\"a\", \"b\"] in the file or a flag, \
                         or a,b in a SIGNAL_HUB_* environment variable"
            .into(),
        "a map" => "a table of keys, e.g. { name = \"x\" }".into(),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_show_indexes() {
        let path = ["api_keys", "0", "scopes", "1"].map(String::from);
        assert_eq!(key_path(&path).unwrap(), "api_keys[0].scopes[1]");
        assert_eq!(key_path(&[]), None);
    }

    #[test]
    fn rust_types_are_said_in_words() {
        let kind = Kind::InvalidType(Actual::Str("lots".into()), "u32".into());
        assert_eq!(
            plain(&kind),
            "\"lots\" is not a whole number from 0 to 4294967295"
        );
        let kind = Kind::UnknownVariant("x".into(), &["batch", "interval"]);
        assert_eq!(plain(&kind), "`x` is not one of `batch`, `interval`");
    }
}
