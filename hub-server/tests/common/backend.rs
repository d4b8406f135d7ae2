//! The application's backend on loopback, for the proxy tests: answers
//! each call with what the test set (per path, or one answer for all),
//! and keeps what it was posted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the backend does with one call.
#[derive(Clone)]
pub enum Reply {
    /// Answers 200 with this JSON text.
    Json(String),
    /// Answers with this status and an empty body.
    Status(u16),
    /// Never answers.
    Hang,
    /// Answers 200 with this JSON text after this many milliseconds.
    Late(u64, String),
}

#[derive(Default)]
struct Replies {
    /// By path; `None`: the one for every path.
    by_path: HashMap<String, Reply>,
    any: Option<Reply>,
}

/// One request the backend took.
#[derive(Clone, Debug)]
pub struct Post {
    pub path: String,
    /// Lower-case names.
    pub headers: HashMap<String, String>,
    /// The body as sent.
    pub raw: String,
    pub body: Value,
}

/// See the module docs.
pub struct Backend {
    pub addr: std::net::SocketAddr,
    replies: Arc<Mutex<Replies>>,
    posted: Arc<Mutex<Vec<Post>>>,
}

impl Backend {
    /// A backend answering every path with `reply`.
    pub async fn start(reply: Reply) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let replies = Arc::new(Mutex::new(Replies {
            any: Some(reply),
            ..Replies::default()
        }));
        let posted = Arc::new(Mutex::new(Vec::new()));
        let (answers, bodies) = (replies.clone(), posted.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (answers, bodies) = (answers.clone(), bodies.clone());
                tokio::spawn(async move {
                    let Some(post) = read_request(&mut socket).await else {
                        return;
                    };
                    let path = post.path.clone();
                    bodies.lock().unwrap().push(post);
                    let reply = {
                        let answers = answers.lock().unwrap();
                        answers.by_path.get(&path).or(answers.any.as_ref()).cloned()
                    };
                    let (status, text) = match reply.unwrap_or(Reply::Status(404)) {
                        Reply::Json(text) => (200, text),
                        Reply::Status(status) => (status, String::new()),
                        Reply::Hang => {
                            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                            return;
                        }
                        Reply::Late(ms, text) => {
                            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                            (200, text)
                        }
                    };
                    let response = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                        text.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                });
            }
        });
        Self {
            addr,
            replies,
            posted,
        }
    }

    /// The connect proxy's URL.
    pub fn url(&self) -> String {
        self.url_of("/hub/connect")
    }

    /// The URL of `path` here.
    pub fn url_of(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers every path with `reply` (unless set for the path).
    pub fn set(&self, reply: Reply) {
        self.replies.lock().unwrap().any = Some(reply);
    }

    /// Answers `path` with `reply`.
    pub fn set_for(&self, path: &str, reply: Reply) {
        let mut replies = self.replies.lock().unwrap();
        replies.by_path.insert(path.to_owned(), reply);
    }

    /// The bodies posted, in order.
    pub fn posted(&self) -> Vec<Value> {
        self.posts().into_iter().map(|p| p.body).collect()
    }

    /// The bodies posted to `path`, in order.
    pub fn posted_to(&self, path: &str) -> Vec<Value> {
        let posts = self.posts().into_iter();
        posts.filter(|p| p.path == path).map(|p| p.body).collect()
    }

    /// Every request taken, in order, with its headers.
    pub fn posts(&self) -> Vec<Post> {
        self.posted.lock().unwrap().clone()
    }
}

/// One HTTP request: its path, headers and JSON body (by its Content-Length).
async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<Post> {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = socket.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        bytes.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&bytes);
        let Some(end) = text.find("\r\n\r\n") else {
            continue;
        };
        let path = text.split(' ').nth(1).unwrap_or("/").to_owned();
        let length: usize = text[..end]
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        if bytes.len() >= end + 4 + length {
            let raw = String::from_utf8_lossy(&bytes[end + 4..end + 4 + length]).into_owned();
            let body = serde_json::from_str(&raw).ok()?;
            let headers = text[..end]
                .lines()
                .skip(1)
                .filter_map(|l| l.split_once(':'))
                .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
                .collect();
            return Some(Post {
                path,
                headers,
                raw,
                body,
            });
        }
    }
}
