//! What the real binary says when it cannot start or cannot reach what it
//! needs: a second server on the same data directory, Redis not running, a
//! bad config with JSON logs asked for, and logs redirected to a file; and
//! `healthcheck`, which asks a running one.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;

use common::*;

fn hub_server() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hub-server"))
}

/// Runs the binary to its end; (exit code, stdout, stderr).
fn run(command: &mut Command) -> (Option<i32>, String, String) {
    let out = command.output().expect("hub-server runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A second server on the data directory of a running one is told the
/// store is in use, and by what, not that it is damaged; `check-config`
/// says the same before anything starts.
#[tokio::test]
async fn a_second_server_on_one_data_dir_is_told_it_is_in_use() {
    let dir = TempDir::new("locked");
    let _first = Binary::start(&dir, free_port(), &[]).await;
    let data_dir = format!("data_dir={}", dir.0.display());
    let bind = format!("127.0.0.1:{}", free_port());
    let (code, _, stderr) = run(hub_server().args(["--bind", &bind, "--set", &data_dir]));
    assert_ne!(code, Some(0));
    assert!(stderr.contains("is in use by another process"), "{stderr}");
    assert!(stderr.contains("another hub-server"), "{stderr}");
    assert!(
        !stderr.contains("move it away"),
        "it is not damaged: {stderr}"
    );
    let (code, _, stderr) = run(hub_server().args(["check-config", "--set", &data_dir]));
    assert_eq!(code, Some(2));
    assert!(stderr.contains("is in use by another process"), "{stderr}");
}

/// With JSON logs asked for, a config that does not load is one JSON
/// line naming the key, like every other line the server writes.
#[test]
fn a_fatal_error_is_a_json_line_when_json_logs_are_asked_for() {
    let (code, stdout, _) = run(hub_server().args(["--log-json", "--set", "max_topics=x"]));
    assert_eq!(code, Some(2));
    let line: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(line["level"], "ERROR");
    let error = line["error"].as_str().unwrap();
    assert!(error.contains("`max_topics`"), "{line}");
    let (code, stdout, _) = run(hub_server()
        .env("SIGNAL_HUB_LOG_FORMAT", "json")
        .args(["--set", "max_topics=x"]));
    assert_eq!(code, Some(2));
    assert!(stdout.trim().starts_with('{'), "{stdout}");
}

/// A server started with its output piped: each line, as it comes.
struct Running {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
}

impl Running {
    fn start(command: &mut Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Self { child, lines }
    }

    /// The first line `probe` accepts; panics after PATIENCE.
    fn line(&self, what: &str, probe: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if probe(&line) => return line,
                Ok(_) => {}
                Err(_) => panic!("no line: {what}"),
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Redis not running: one error line says so (refused, at which URL, what
/// to check), not only `Request timed out`. The output is piped, so the
/// human format has no colour codes.
#[test]
fn redis_not_running_is_said_plainly() {
    let closed = free_port();
    let server = Running::start(hub_server().args([
        "--bind",
        &format!("127.0.0.1:{}", free_port()),
        "--set",
        "engine=redis",
        "--set",
        &format!("redis_url=redis://127.0.0.1:{closed}"),
    ]));
    let line = server.line("the listening line", |l| l.contains("listening"));
    assert!(
        !line.contains('\u{1b}'),
        "no ANSI escapes into a pipe: {line:?}"
    );
    let line = server.line("why Redis cannot be used", |l| {
        l.contains("cannot reach Redis")
    });
    assert!(
        line.contains(&format!("redis://127.0.0.1:{closed}")),
        "{line}"
    );
    assert!(line.contains("Connection refused"), "{line}");
    assert!(line.contains("is redis-server running"), "{line}");
}

/// `hub-server healthcheck` (the image's HEALTHCHECK) asks the server its
/// config describes for `/ready`: 0 when ready, 1 with why when not.
#[tokio::test]
async fn healthcheck_asks_the_local_server_whether_it_is_ready() {
    let dir = TempDir::new("healthcheck");
    let port = free_port();
    let _server = Binary::start(&dir, port, &[]).await;
    let bind = format!("127.0.0.1:{port}");
    let (code, stdout, stderr) = run(hub_server().args(["--bind", &bind, "healthcheck"]));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("ready at"), "{stdout}");
    let closed = format!("127.0.0.1:{}", free_port());
    let (code, _, stderr) = run(hub_server().args(["--bind", &closed, "healthcheck"]));
    assert_eq!(code, Some(1));
    assert!(stderr.contains("nothing answers"), "{stderr}");
}
