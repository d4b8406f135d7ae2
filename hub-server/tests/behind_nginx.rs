//! The README's nginx block, run with a real nginx in front of a real hub:
//! WebSockets go through it, and with `trusted_proxies` the hub's per-IP
//! caps see each user (here, loopback source addresses 127.0.0.2 and
//! 127.0.0.3), not nginx; a hop a client forges is not believed.

mod common;

use std::process::{Child, Command, Stdio};

use common::*;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::MaybeTlsStream;

/// nginx with the README's block, killed on drop.
struct Nginx {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The README's first fenced block in `language` that holds `holding`.
fn readme_block(language: &str, holding: &str) -> String {
    let readme = include_str!("../../README.md");
    let fence = format!("```{language}\n");
    readme
        .match_indices(&fence)
        .map(|(at, _)| {
            let start = at + fence.len();
            let end = start + readme[start..].find("```").unwrap();
            readme[start..end]
                .lines()
                .map(str::trim_start)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .find(|block| block.contains(holding))
        .unwrap_or_else(|| panic!("README has a {language} block with {holding}"))
}

impl Nginx {
    /// nginx on a free port, proxying to the hub on `hub_port`, as the
    /// README writes it.
    async fn start(hub_port: u16) -> Self {
        let dir = TempDir::new("nginx");
        let port = free_port();
        let block = readme_block("nginx", "proxy_pass")
            .replace("listen 80;", &format!("listen 127.0.0.1:{port};"))
            .replace("127.0.0.1:8080", &format!("127.0.0.1:{hub_port}"));
        assert!(block.contains(&format!("127.0.0.1:{hub_port}")), "{block}");
        let d = dir.0.display();
        let conf = format!(
            "user root;\ndaemon off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log warn;\nevents {{}}\nhttp {{\naccess_log off;\n\
             client_body_temp_path {d}/body;\nproxy_temp_path {d}/proxy;\n{block}\n}}\n"
        );
        std::fs::write(dir.0.join("nginx.conf"), conf).unwrap();
        let child = Command::new("nginx")
            .arg("-c")
            .arg(dir.0.join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx on PATH (apt-get install nginx-light; .ci/run installs it)");
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            let log = std::fs::read_to_string(dir.0.join("error.log")).unwrap_or_default();
            assert!(
                tokio::time::Instant::now() < deadline,
                "nginx never listened: {log}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Self {
            child,
            port,
            _dir: dir,
        }
    }

    /// A WebSocket through nginx from loopback address `source`, with a
    /// forged `X-Forwarded-For` if given; the client, or the refusal.
    async fn open_from(&self, source: &str, forged: Option<&str>) -> Result<Client, (u16, String)> {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
        let stream = socket
            .connect(([127, 0, 0, 1], self.port).into())
            .await
            .unwrap();
        let url = format!("ws://127.0.0.1:{}/ws", self.port);
        let mut request = url.into_client_request().unwrap();
        if let Some(forged) = forged {
            request
                .headers_mut()
                .insert("x-forwarded-for", forged.parse().unwrap());
        }
        match tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream)).await {
            Ok((ws, _)) => Ok(Client::from_stream(ws)),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                let body = response.body().clone().unwrap_or_default();
                Err((response.status().as_u16(), String::from_utf8(body).unwrap()))
            }
            Err(e) => panic!("upgrade through nginx failed: {e}"),
        }
    }
}

async fn connected(mut c: Client, address: &str) -> Client {
    c.send(json!({"type": "hub:connect", "id": 1, "address": address}))
        .await;
    let answer = c.next_frame().await;
    assert_eq!(answer["type"], "hub:connected", "{answer}");
    c
}

#[tokio::test]
async fn through_the_readmes_nginx_the_hub_sees_each_user() {
    let toml: toml::Value = toml::from_str(&readme_block("toml", "trusted_proxies")).unwrap();
    let mut config = test_config();
    config.hub.trusted_proxies = toml["trusted_proxies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    config.hub.connection_rate_per_ip = 0;
    config.hub.max_connections_per_ip = 1;
    let server = start(config);
    let nginx = Nginx::start(server.addr.port()).await;

    let mut alice = connected(nginx.open_from("127.0.0.2", None).await.unwrap(), "alice").await;
    let (status, body) = match nginx.open_from("127.0.0.2", None).await {
        Ok(_) => panic!("a second connection of 127.0.0.2 went through"),
        Err(refusal) => refusal,
    };
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("max_connections_per_ip"), "{body}");

    // Another user, whose forged hop names a third address: nginx writes
    // the header afresh, so the hub counts 127.0.0.3, once.
    let bob = nginx.open_from("127.0.0.3", Some("198.51.100.1")).await;
    let mut bob = connected(bob.unwrap(), "bob").await;
    assert!(nginx
        .open_from("127.0.0.3", Some("198.51.100.2"))
        .await
        .is_err());

    let ack = send(&mut bob, "alice", json!("through nginx")).await;
    assert_eq!(ack["status"], "accepted", "{ack}");
    assert_eq!(
        alice.expect("hub:message").await["payload"],
        "through nginx"
    );
}
