//! Redis as Sentinel runs it: a primary, a replica of it, and one sentinel
//! (quorum 1) that watches them and can be told to fail over.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::redis::Redis;
use super::{free_port, TempDir, PATIENCE};

/// The name the sentinel knows the primary by.
pub const SERVICE: &str = "hub";

/// A primary, its replica and a sentinel watching them; killed on drop.
pub struct Sentinels {
    pub primary: Redis,
    pub replica: Redis,
    child: Child,
    pub port: u16,
    _dir: TempDir,
}

impl Sentinels {
    /// Starts the three and waits until the replica is in sync and the
    /// sentinel knows of it (so it can fail over).
    pub async fn start() -> Self {
        let primary = Redis::start().await;
        let of = primary.port.to_string();
        let replica = Redis::start_with(
            |_| vec!["--replicaof".into(), "127.0.0.1".into(), of],
            Vec::new(),
        )
        .await;
        waiting_for("the replica never synced", || {
            replica
                .cli(&["INFO", "replication"])
                .contains("master_link_status:up")
        })
        .await;
        let dir = TempDir::new("sentinel");
        let port = free_port();
        let config = dir.0.join("sentinel.conf");
        std::fs::write(
            &config,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {}\n\
                 sentinel monitor {SERVICE} 127.0.0.1 {} 1\n\
                 sentinel down-after-milliseconds {SERVICE} 2000\n\
                 sentinel failover-timeout {SERVICE} 10000\n",
                dir.0.display(),
                primary.port
            ),
        )
        .expect("write sentinel.conf");
        let child = Command::new("redis-server")
            .arg(&config)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        let sentinels = Self {
            primary,
            replica,
            child,
            port,
            _dir: dir,
        };
        let replica = format!("127.0.0.1:{}", sentinels.replica.port);
        waiting_for("the sentinel never saw the replica", || {
            sentinels
                .cli(&["SENTINEL", "REPLICAS", SERVICE])
                .contains(&sentinels.replica.port.to_string())
                || sentinels
                    .cli(&["SENTINEL", "SLAVES", SERVICE])
                    .contains(&replica)
        })
        .await;
        sentinels
    }

    /// `redis-cli` against the sentinel; its trimmed output.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli on PATH");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The URL a node reaches the primary by, through the sentinel.
    pub fn url(&self) -> String {
        format!(
            "redis-sentinel://127.0.0.1:{}?sentinelServiceName={SERVICE}",
            self.port
        )
    }

    /// The port of the primary the sentinel names now.
    pub fn primary_port(&self) -> Option<u16> {
        self.cli(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE])
            .lines()
            .nth(1)
            .and_then(|port| port.trim().parse().ok())
    }

    /// Fails over to the replica and waits until the sentinel names it and
    /// the old primary serves as its replica.
    pub async fn fail_over(&self) {
        waiting_for("the sentinel never began the failover", || {
            self.cli(&["SENTINEL", "FAILOVER", SERVICE]) == "OK"
                || self.primary_port() == Some(self.replica.port)
        })
        .await;
        waiting_for("the sentinel never named the replica", || {
            self.primary_port() == Some(self.replica.port)
        })
        .await;
        waiting_for("the old primary never became a replica", || {
            self.primary.cli(&["ROLE"]).starts_with("slave")
        })
        .await;
    }
}

impl Drop for Sentinels {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (at most a few PATIENCEs: a failover takes seconds) until `done`.
async fn waiting_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + 3 * PATIENCE;
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
