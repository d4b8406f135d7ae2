//! `hub-faults proxy`: a TCP proxy between a node and Redis that injects
//! the network's faults (this machine's kernel has no `netem`):
//!
//! - `delay MS`: every chunk, each way, is held `MS` before it goes on;
//! - `loss PERCENT`: that share of chunks is held back 200 ms more, with
//!   what follows it (what TCP does with a lost segment: a retransmission
//!   timeout, the stream behind it waits);
//! - `hold`: a partition: nothing passes, the connections stay open (no
//!   reset: the node finds out from its own timeouts); what was sent waits
//!   and goes through when the partition heals, as retransmissions do;
//! - `cut`: every connection is closed and new ones are closed at once;
//! - `pass`: none of these (the faults above last until it).
//!
//! Commands come one per line on the control port (`echo hold >
//! /dev/tcp/127.0.0.1/PORT` from a script), each answered `ok`.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

/// What a lost chunk costs: a retransmission timeout.
const RETRANSMIT: Duration = Duration::from_millis(200);

/// The faults in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Faults {
    delay_ms: u64,
    loss_percent: u32,
    hold: bool,
    cut: bool,
}

impl Faults {
    fn apply(mut self, command: &str) -> Result<Self, String> {
        let mut words = command.split_whitespace();
        let number = |word: Option<&str>| -> Result<u64, String> {
            word.and_then(|w| w.parse().ok())
                .ok_or_else(|| format!("`{command}` needs a number"))
        };
        match words.next() {
            Some("pass") => self = Self::default(),
            Some("delay") => self.delay_ms = number(words.next())?,
            Some("loss") => self.loss_percent = number(words.next())?.min(100) as u32,
            Some("hold") => self.hold = true,
            Some("cut") => self.cut = true,
            _ => {
                return Err(format!(
                    "unknown command `{command}`: pass, delay MS, loss PERCENT, hold, cut"
                ))
            }
        }
        Ok(self)
    }
}

/// Runs the proxy until the process ends.
pub(crate) async fn run(
    listen: SocketAddr,
    target: SocketAddr,
    control: SocketAddr,
) -> std::io::Result<()> {
    let (faults, watching) = watch::channel(Faults::default());
    let controls = TcpListener::bind(control).await?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = controls.accept().await {
            let faults = faults.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    // The borrow ends here: the send below takes the lock.
                    let applied = faults.borrow().apply(line.trim());
                    let answer = match applied {
                        Ok(next) => {
                            faults.send_replace(next);
                            eprintln!("hub-faults proxy {listen}: {next:?}");
                            "ok\n".to_owned()
                        }
                        Err(e) => format!("error: {e}\n"),
                    };
                    let _ = write.write_all(answer.as_bytes()).await;
                }
            });
        }
    });
    let listener = TcpListener::bind(listen).await?;
    loop {
        let (client, _) = listener.accept().await?;
        if watching.borrow().cut {
            drop(client);
            continue;
        }
        let faults = watching.clone();
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(target).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            tokio::select! {
                _ = pump(client_read, server_write, faults.clone()) => {}
                _ = pump(server_read, client_write, faults) => {}
            }
        });
    }
}

/// Carries one direction of a connection, as the faults say; returns when
/// either side ends or the connection is cut.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut faults: watch::Receiver<Faults>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut random = seed();
    let mut last = Instant::now();
    loop {
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            changed = faults.changed() => {
                if changed.is_err() || faults.borrow().cut {
                    return;
                }
                continue;
            }
        };
        let now = *faults.borrow();
        let mut release = Instant::now() + Duration::from_millis(now.delay_ms);
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        if (random % 100) < u64::from(now.loss_percent) {
            release += RETRANSMIT;
        }
        // A stream keeps its order: nothing overtakes a held chunk.
        release = release.max(last);
        last = release;
        tokio::time::sleep_until(release).await;
        loop {
            let now = *faults.borrow_and_update();
            if now.cut {
                return;
            }
            if !now.hold {
                break;
            }
            if faults.changed().await.is_err() {
                return;
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    nanos | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_set_the_faults_and_pass_clears_them() {
        let f = Faults::default().apply("delay 50").unwrap();
        let f = f.apply("loss 5").unwrap().apply("hold").unwrap();
        assert_eq!(
            f,
            Faults {
                delay_ms: 50,
                loss_percent: 5,
                hold: true,
                cut: false
            }
        );
        assert_eq!(f.apply("pass").unwrap(), Faults::default());
        assert!(f.apply("delay").unwrap_err().contains("needs a number"));
        assert!(f.apply("explode").unwrap_err().contains("unknown command"));
    }
}
