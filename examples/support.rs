//! Shared by the SDK examples: where the hub is.

/// `SIGNAL_HUB_URL`, or a hub started in this process on a free port (kept alive by
/// the returned server handle).
pub(crate) fn hub_url() -> (String, Option<hub_server::SpawnedServer>) {
    if let Ok(url) = std::env::var("SIGNAL_HUB_URL") {
        return (url, None);
    }
    let config = hub_server::ServerConfig {
        bind: "127.0.0.1:0".into(),
        // An example's hub lives as long as the example: stored messages in memory.
        durability: hub_server::Durability::Memory,
        ..Default::default()
    };
    let server = hub_server::spawn(config).expect("start an in-process hub");
    (server.ws_url(), Some(server))
}
