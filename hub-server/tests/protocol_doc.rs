//! docs/PROTOCOL.md lists hub-server's own config keys with their defaults.

use hub_server::ServerConfig;

#[test]
fn every_server_key_is_documented_with_its_default() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/PROTOCOL.md");
    let doc = std::fs::read_to_string(path).expect("docs/PROTOCOL.md is readable");
    let hub = serde_json::to_value(hub_core::Config::default()).expect("serializable");
    let all = serde_json::to_value(ServerConfig::default()).expect("serializable");
    for (key, value) in all.as_object().expect("an object") {
        if hub.get(key).is_some() {
            continue; // hub-core's keys: hub-core/tests/protocol_doc.rs
        }
        let default = match value {
            serde_json::Value::String(s) if s.is_empty() => "empty".to_owned(),
            serde_json::Value::String(s) => format!("`{s}`"),
            other => other.to_string(),
        };
        let expected = format!("| `{key}` | {default} |");
        assert!(
            doc.lines().any(|line| line.starts_with(&expected)),
            "no row starting `{expected}`"
        );
    }
}
