//! Real processes and places for them: the hub-server binary on a port
//! (killed on drop, or with SIGKILL), a free loopback port, a temp dir.

use std::time::Duration;

use super::PATIENCE;

/// A fresh directory under the system's temp dir, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let unique = format!(
            "hub-test-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let dir = std::env::temp_dir().join(unique);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A port free now on loopback (the binary binds it right after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The real hub-server binary on `port`, storing in `dir`; killed on drop.
pub struct Binary {
    child: std::process::Child,
    pub url: String,
    port: u16,
}

impl Binary {
    /// Starts it with `extra` settings (`key=value`, each given to `--set`)
    /// and waits until it listens.
    pub async fn start(dir: &TempDir, port: u16, extra: &[&str]) -> Self {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_hub-server"));
        command
            .args(["--bind", &format!("127.0.0.1:{port}")])
            .args(["--set", &format!("data_dir={}", dir.0.display())])
            .args(["--set", "rate_limit_per_sec=0", "--set", "workers=1"]);
        for setting in extra {
            command.args(["--set", setting]);
        }
        let child = command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("hub-server starts");
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the binary never listened"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Self {
            child,
            url: format!("ws://127.0.0.1:{port}/ws"),
            port,
        }
    }

    /// Waits until it says it is ready (`/ready` 200), as a load balancer
    /// would: with the Redis engine, once its subscriptions are in place
    /// (before, another node's answers to it can go unheard).
    pub async fn until_ready(&self) {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while super::http_at(addr, "GET", "/ready", None, None)
            .await
            .status
            != 200
        {
            assert!(tokio::time::Instant::now() < deadline, "never ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL: no shutdown, no flush.
    pub fn kill_9(mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
