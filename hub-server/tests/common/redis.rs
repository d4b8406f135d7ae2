//! A real redis-server (from the system's packages: `.ci/run` installs it)
//! on a free loopback port, in a temp dir, persisting nothing; and nodes of
//! one hub sharing it.
#![allow(dead_code, unreachable_pub)]

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hub_server::{Engine, ServerConfig};

use serde_json::{json, Value};

use super::{http, start, test_config, Client, TempDir, PATIENCE};

/// A redis-server child process; killed on drop.
pub struct Redis {
    child: Option<Child>,
    pub port: u16,
    dir: TempDir,
    /// In cluster mode (a master of a [`RedisCluster`]).
    cluster: bool,
    /// More redis-server arguments (after the defaults, so they win).
    pub(super) server_args: Vec<String>,
    /// Arguments every `redis-cli` call takes (TLS: the certificates).
    pub(super) cli_args: Vec<String>,
}

impl Redis {
    /// Starts redis-server and waits until it answers PING.
    pub async fn start() -> Self {
        Self::start_with(|_| Vec::new(), Vec::new()).await
    }

    /// Starts redis-server with `server_args(port)` after the defaults
    /// (a replica: `--replicaof`; TLS: `--port 0 --tls-port PORT`...), and
    /// `cli_args` on every `redis-cli` call.
    pub async fn start_with(
        server_args: impl FnOnce(u16) -> Vec<String>,
        cli_args: Vec<String>,
    ) -> Self {
        let port = super::free_port();
        let mut redis = Self {
            child: None,
            port,
            dir: TempDir::new("redis"),
            cluster: false,
            server_args: server_args(port),
            cli_args,
        };
        redis.first_run().await;
        redis
    }

    /// The file redis-server logs to.
    pub fn log_file(&self) -> std::path::PathBuf {
        self.dir.0.join("redis.log")
    }

    async fn run(&mut self) {
        assert!(self.spawned().await, "redis-server never answered");
    }

    /// Starts it for the first time: a port taken between `free_port` and
    /// redis-server's bind (by another test's process) makes it exit at
    /// once; then again on other free ports, when nothing else names them.
    async fn first_run(&mut self) {
        for _ in 0..4 {
            if self.spawned().await {
                return;
            }
            if !self.server_args.is_empty() {
                break;
            }
            self.port = super::free_port();
        }
        panic!("redis-server never answered");
    }

    /// Spawns redis-server and waits until it answers PING (`true`), or
    /// has exited, or PATIENCE ran out (`false`).
    async fn spawned(&mut self) -> bool {
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir.0)
            .arg("--logfile")
            .arg(self.log_file())
            .args(&self.server_args);
        if self.cluster {
            command.args(["--cluster-enabled", "yes", "--cluster-config-file"]);
            command.arg(self.dir.0.join("nodes.conf"));
            // The bus port defaults to the port + 10000, past 65535 for
            // a free port above 55535 (Redis then does not start): a free
            // one of its own.
            let bus = super::free_port().to_string();
            command.args(["--cluster-port", &bus]);
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH (apt-get install redis-server; .ci/run does)");
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while self.cli(&["PING"]) != "PONG" {
            let exited = self
                .child
                .as_mut()
                .map(|c| matches!(c.try_wait(), Ok(Some(_))));
            if exited == Some(true) || tokio::time::Instant::now() >= deadline {
                self.kill();
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    /// SIGKILL: Redis is gone, every connection to it cut.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            let _ = child.wait();
        }
    }

    /// SIGSTOP (`true`) or SIGCONT (`false`): a Redis that stalls, its
    /// connections open and silent, as a frozen host or a long fork does.
    pub fn pause(&self, stopped: bool) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        let signal = if stopped { "-STOP" } else { "-CONT" };
        let status = Command::new("kill")
            .args([signal, &pid])
            .status()
            .expect("kill");
        assert!(status.success(), "kill {signal} {pid}");
    }

    /// Starts it again on the same port (empty: it persisted nothing).
    pub async fn restart(&mut self) {
        self.kill();
        self.run().await;
    }

    /// `redis-cli` against this server; its trimmed output.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(&self.cli_args)
            .args(args)
            .output()
            .expect("redis-cli on PATH (it comes with redis-server)");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// How many times Redis ran `command` (lower case) since its stats
    /// were reset (`CONFIG RESETSTAT`), scripts' calls included.
    pub fn calls(&self, command: &str) -> u64 {
        let stats = self.cli(&["INFO", "commandstats"]);
        let prefix = format!("cmdstat_{command}:calls=");
        stats
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .and_then(|rest| rest.split(',').next())
            .map_or(0, |calls| calls.parse().expect("a count"))
    }

    /// Watches every command Redis runs from now (`MONITOR`), scripts'
    /// included, each line with the client that sent it.
    pub fn monitor(&self) -> Monitor {
        let mut child = Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "monitor"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("redis-cli on PATH");
        let stdout = child.stdout.take().expect("piped");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let seen = lines.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                seen.lock().unwrap_or_else(|e| e.into_inner()).push(line);
            }
        });
        // `OK` comes first once it is watching.
        let deadline = std::time::Instant::now() + PATIENCE;
        while lines.lock().unwrap_or_else(|e| e.into_inner()).is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "MONITOR never started"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        Monitor { child, lines }
    }

    /// How many connections are subscribed to `channel` (sharded pub/sub).
    pub fn shard_subscribers(&self, channel: &str) -> u64 {
        let out = self.cli(&["PUBSUB", "SHARDNUMSUB", channel]);
        out.lines()
            .nth(1)
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("PUBSUB SHARDNUMSUB answered {out:?}"))
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A Redis Cluster of three masters (no replicas), each a redis-server in
/// cluster mode on a free port; killed on drop.
pub struct RedisCluster {
    masters: Vec<Redis>,
}

impl RedisCluster {
    pub async fn start() -> Self {
        let mut masters = Vec::new();
        for _ in 0..3 {
            let mut redis = Redis {
                child: None,
                port: super::free_port(),
                dir: TempDir::new("redis-cluster"),
                cluster: true,
                server_args: Vec::new(),
                cli_args: Vec::new(),
            };
            redis.first_run().await;
            masters.push(redis);
        }
        let nodes: Vec<String> = masters
            .iter()
            .map(|m| format!("127.0.0.1:{}", m.port))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli on PATH");
        assert!(created.status.success(), "{created:?}");
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while !masters
            .iter()
            .all(|m| m.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok"))
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the cluster never formed"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { masters }
    }

    /// The cluster's masters.
    pub fn masters(&self) -> &[Redis] {
        &self.masters
    }

    /// `redis-cluster://` naming every master.
    pub fn url(&self) -> String {
        let mut url = format!("redis-cluster://127.0.0.1:{}", self.masters[0].port);
        for (i, m) in self.masters.iter().enumerate().skip(1) {
            url.push(if i == 1 { '?' } else { '&' });
            url.push_str(&format!("node=127.0.0.1:{}", m.port));
        }
        url
    }
}

/// A test config for a node of the hub on `redis`, its keys and channels
/// under `prefix` (one per test, so tests sharing nothing share no names).
pub fn node_config(redis: &Redis, prefix: &str) -> ServerConfig {
    let mut config = test_config();
    config.engine = Engine::Redis;
    config.redis_url = redis.url();
    config.redis_prefix = prefix.into();
    config.redis_command_timeout_ms = 2_000;
    config
}

/// A loopback TCP proxy to a Redis on `port`: a Redis far away (every chunk
/// a client sends is held for `delay`) or cut off (`cut`: every connection
/// through it dropped, new ones refused, until `restore`), for one node.
/// Runs on the test's runtime.
pub struct Link {
    pub port: u16,
    cut: Arc<AtomicBool>,
    pumps: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Link {
    pub async fn start(port: u16, delay: Duration) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let link = Self {
            port: listener.local_addr().expect("addr").port(),
            cut: Arc::new(AtomicBool::new(false)),
            pumps: Arc::new(Mutex::new(Vec::new())),
        };
        let (cut, pumps) = (link.cut.clone(), link.pumps.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if cut.load(Ordering::SeqCst) {
                    continue;
                }
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
                    continue;
                };
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                let up = tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n @ 1..) = client_read.read(&mut buf).await {
                        if !delay.is_zero() {
                            tokio::time::sleep(delay).await;
                        }
                        if server_write.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
                let down = tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                });
                pumps.lock().unwrap().extend([up, down]);
            }
        });
        link
    }

    /// Drops every connection through the link and refuses new ones.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for pump in self.pumps.lock().unwrap().drain(..) {
            pump.abort();
        }
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

/// `/ready`'s status and body.
pub async fn ready(server: &hub_server::SpawnedServer) -> (u16, Value) {
    let answer = http(server, "GET", "/ready", None, None).await;
    let json = answer.json();
    (answer.status, json)
}

/// Waits (at most PATIENCE) until `/ready` says 200.
pub async fn eventually_ready(server: &hub_server::SpawnedServer) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (status, body) = ready(server).await;
        if status == 200 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never ready: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Starts a node for each config and waits until each is ready.
pub async fn ready_nodes<const N: usize>(
    configs: [hub_server::ServerConfig; N],
) -> [hub_server::SpawnedServer; N] {
    let nodes = configs.map(start);
    for node in &nodes {
        eventually_ready(node).await;
    }
    nodes
}

/// A node config whose `feed` namespace keeps a history of 100.
pub fn history_config(redis: &Redis, prefix: &str) -> hub_server::ServerConfig {
    let mut config = node_config(redis, prefix);
    let feed = hub_core::permissions::NamespaceOptions {
        history_size: 100,
        ..Default::default()
    };
    config.hub.namespaces.insert("feed".into(), feed);
    config
}

/// Subscribes with `since` and returns the replayed payloads and the ack.
pub async fn recover(
    client: &mut Client,
    topic: &str,
    epoch: &str,
    offset: u64,
) -> (Vec<u64>, Value) {
    client
        .send(json!({"type": "hub:subscribe", "id": "s", "topic": topic, "since": {"epoch": epoch, "offset": offset}}))
        .await;
    let mut replayed = Vec::new();
    loop {
        let f = client.next_frame().await;
        if f["id"] == "s" {
            return (replayed, f);
        }
        replayed.push(f["payload"].as_u64().expect("a payload"));
    }
}

/// Commands Redis ran, as `MONITOR` printed them; stops on drop.
pub struct Monitor {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Monitor {
    /// The client (`addr`) that sent the first command whose line holds
    /// every one of `words` (a script's own commands name its caller:
    /// `[0 lua]` lines follow the `EVALSHA` of the client that ran it).
    pub fn sender_of(&self, words: &[&str]) -> Option<String> {
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        let mut caller = None;
        for line in lines.iter() {
            // `<time> [<db> <client>] "<command>" "<arg>"...`; `OK` first.
            let Some(client) = line
                .split('[')
                .nth(1)
                .and_then(|rest| rest.split(']').next())
                .and_then(|inside| inside.split(' ').nth(1))
            else {
                continue;
            };
            if client != "lua" {
                caller = Some(client.to_owned());
            }
            let line = line.to_lowercase();
            if words.iter().all(|w| line.contains(&w.to_lowercase())) {
                return caller;
            }
        }
        None
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
