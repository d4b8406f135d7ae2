//! The configuration: defaults, files, environment, flags, refusals.

use super::*;
use clap::Parser;

fn cli(args: &[&str]) -> Cli {
    Cli::parse_from(std::iter::once("hub-server").chain(args.iter().copied()))
}

#[test]
fn printed_config_names_keys_but_not_their_secrets() {
    let config = ServerConfig {
        api_keys: vec![ApiKeyConfig {
            name: "deploy-bot".into(),
            key: "0123456789abcdef-secret".into(),
            scopes: vec![crate::api::keys::Scope::Publish],
        }],
        ..ServerConfig::default()
    };
    let printed = config.to_printable_toml().unwrap();
    assert!(printed.contains("deploy-bot"), "{printed}");
    assert!(!printed.contains("0123456789abcdef-secret"), "{printed}");
    assert!(printed.contains("<redacted>"), "{printed}");
    assert!(
        printed.contains(r#"jwt_hmac_secret = """#),
        "an unset secret shows as unset: {printed}"
    );
}

#[test]
fn defaults_load_without_any_input() {
    let c = ServerConfig::load(&cli(&[])).unwrap();
    assert_eq!(c, ServerConfig::default());
}

#[test]
fn set_flags_override_typed_values() {
    let c = ServerConfig::load(&cli(&[
        "--set",
        "rate_limit_per_sec=250",
        "--bind",
        "0.0.0.0:9",
    ]))
    .unwrap();
    assert_eq!(c.hub.rate_limit_per_sec, 250);
    assert_eq!(c.bind, "0.0.0.0:9");
}

#[test]
fn unknown_keys_and_bad_values_are_errors() {
    let e = ServerConfig::load(&cli(&["--set", "rate_limt_per_sec=5"])).unwrap_err();
    assert!(e.contains("rate_limt_per_sec"), "{e}");
    let e = ServerConfig::load(&cli(&["--set", "max_message_bytes=lots"])).unwrap_err();
    assert!(e.contains("max_message_bytes"), "{e}");
    let e = ServerConfig::load(&cli(&["--set", "workers=many"])).unwrap_err();
    assert!(e.contains("workers"), "{e}");
    assert!(ServerConfig::load(&cli(&["--set", "heartbeat_timeout_ms=0"])).is_err());
    let e = ServerConfig::load(&cli(&["--set", "redis_command_buffer=0"])).unwrap_err();
    assert_eq!(e, "redis_command_buffer must be greater than 0");
    let c = ServerConfig::load(&cli(&["--set", "redis_max_pending_sends=8"])).unwrap();
    assert_eq!(c.redis_max_pending_sends, 8);
}

#[test]
fn namespaces_are_read_and_unknown_options_refused_by_name() {
    let dir = std::env::temp_dir().join(format!("hub-ns-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.toml");
    std::fs::write(
        &good,
        "[namespaces.news]\nsubscribe = \"everyone\"\npublish = \"nobody\"\n\
         [direct]\nbroadcast = \"nobody\"\n",
    )
    .unwrap();
    let c = ServerConfig::load(&cli(&["--config", good.to_str().unwrap()])).unwrap();
    let news = &c.hub.namespaces["news"];
    assert_eq!(news.subscribe, hub_core::permissions::Policy::Everyone);
    assert_eq!(news.publish, hub_core::permissions::Policy::Nobody);
    assert_eq!(
        c.hub.direct.broadcast,
        hub_core::permissions::Policy::Nobody
    );

    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[namespaces.news]\npublsh = \"everyone\"\n").unwrap();
    let e = ServerConfig::load(&cli(&["--config", bad.to_str().unwrap()])).unwrap_err();
    assert!(e.contains("publsh"), "{e}");
    let e = ServerConfig::load(&cli(&["--set", "namespaces.news.publish=anyone"])).unwrap_err();
    assert!(e.contains("anyone"), "{e}");
    let e = ServerConfig::load(&cli(&["--set", "namespaces.a:b.publish=everyone"])).unwrap_err();
    assert!(e.contains("a:b"), "{e}");
    let e = ServerConfig::load(&cli(&["--set", "direct.sned=everyone"])).unwrap_err();
    assert!(e.contains("sned"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}
