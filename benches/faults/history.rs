//! The history a fault run records: one JSON object per line, each an
//! operation a client made or saw, or a fault the runner injected, with
//! `t` in milliseconds since the run began (one clock: the recorder's).

use serde_json::Value;

/// One line of the history.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Event {
    /// Milliseconds since the run began.
    pub(crate) t: u64,
    pub(crate) op: Op,
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    /// A session of `address` was answered `hub:connected` (on `node`).
    Connected { address: String, session: String },
    /// A session ended, with the close code it got (0: the connection was
    /// lost without one).
    Closed { session: String, code: u16 },
    /// A send from `from` to `to`, message `msg` (`sender:number`), and
    /// how it was answered: `accepted`, `queued`, `rejected`, or
    /// `no_answer` (the connection went first).
    Sent {
        from: String,
        to: String,
        msg: String,
        status: String,
        /// For `no_answer`: when it was first sent.
        first_t: Option<u64>,
    },
    /// A session of `to` was handed `msg` from `from`, stored as `seq`.
    Delivered {
        session: String,
        to: String,
        from: String,
        msg: String,
        seq: Option<u64>,
    },
    /// A session of `to` acknowledged every stored message up to `seq`.
    Acked {
        session: String,
        to: String,
        seq: u64,
    },
    /// A session of `address` answered a ping: it is alive at `t`.
    Alive { session: String, address: String },
    /// `watcher` was told `address` went `online` or `offline`.
    Watched {
        watcher: String,
        address: String,
        online: bool,
    },
    /// A publication of `from` to the feed was acknowledged at `offset`.
    Published { from: String, offset: u64 },
    /// A session of `to` was handed the feed's publication at `offset`.
    TopicDelivered {
        session: String,
        to: String,
        offset: u64,
    },
    /// A session of `to` asked at `asked_t` to recover the feed after
    /// `since_offset`, and was answered (`t`) `recovered`, with the stream
    /// at `offset`, after the `replayed` offsets.
    Recovery {
        session: String,
        to: String,
        asked_t: u64,
        since_offset: u64,
        recovered: bool,
        offset: Option<u64>,
        replayed: Vec<u64>,
    },
    /// The runner began (or ended) a fault.
    Fault { what: String, begin: bool },
}

impl Event {
    /// Reads one history line.
    pub(crate) fn parse(line: &str) -> Result<Self, String> {
        let v: Value = serde_json::from_str(line).map_err(|e| format!("{e}: {line}"))?;
        let text = |key: &str| -> Result<String, String> {
            v.get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("no `{key}` in {line}"))
        };
        let number = |key: &str| v.get(key).and_then(Value::as_u64);
        let t = number("t").ok_or_else(|| format!("no `t` in {line}"))?;
        let op = match text("op")?.as_str() {
            "connected" => Op::Connected {
                address: text("address")?,
                session: text("session")?,
            },
            "closed" => Op::Closed {
                session: text("session")?,
                code: number("code").unwrap_or(0) as u16,
            },
            "sent" => Op::Sent {
                from: text("from")?,
                to: text("to")?,
                msg: text("msg")?,
                status: text("status")?,
                first_t: number("first_t"),
            },
            "delivered" => Op::Delivered {
                session: text("session")?,
                to: text("to")?,
                from: text("from")?,
                msg: text("msg")?,
                seq: number("seq"),
            },
            "acked" => Op::Acked {
                session: text("session")?,
                to: text("to")?,
                seq: number("seq").ok_or_else(|| format!("no `seq` in {line}"))?,
            },
            "alive" => Op::Alive {
                session: text("session")?,
                address: text("address")?,
            },
            "watched" => Op::Watched {
                watcher: text("watcher")?,
                address: text("address")?,
                online: text("event")? == "online",
            },
            "published" => Op::Published {
                from: text("from")?,
                offset: number("offset").ok_or_else(|| format!("no `offset` in {line}"))?,
            },
            "topic_delivered" => Op::TopicDelivered {
                session: text("session")?,
                to: text("to")?,
                offset: number("offset").ok_or_else(|| format!("no `offset` in {line}"))?,
            },
            "recovery" => Op::Recovery {
                session: text("session")?,
                to: text("to")?,
                asked_t: number("asked_t").unwrap_or(0),
                since_offset: number("since_offset").unwrap_or(0),
                recovered: v.get("recovered").and_then(Value::as_bool).unwrap_or(false),
                offset: number("offset"),
                replayed: v
                    .get("replayed")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_u64).collect())
                    .unwrap_or_default(),
            },
            "fault" => Op::Fault {
                what: text("what")?,
                begin: v.get("begin").and_then(Value::as_bool).unwrap_or(true),
            },
            other => return Err(format!("unknown op `{other}` in {line}")),
        };
        Ok(Self { t, op })
    }
}

/// The sender's number in a message id `sender:number`.
pub(crate) fn number_of(msg: &str) -> Option<u64> {
    msg.rsplit_once(':')?.1.parse().ok()
}
