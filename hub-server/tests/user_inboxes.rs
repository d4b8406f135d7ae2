//! With durability on, a send to a user is stored once for each of its
//! inboxes — its own address's, if it has one, and each device's the hub
//! knows (a device that connected within `offline_retention_ms`) — so a
//! device that was away gets, when it comes back, what was sent to its
//! user meanwhile: in order, once after its acks. On every engine (two
//! nodes where they share one).

mod common;

use common::engines::{Engine, Kind};
use common::*;
use serde_json::{json, Value};

async fn connected(url: &str, user: &str, device: &str) -> Client {
    let mut c = Client::open_url(url).await;
    let answer = c
        .request(
            json!({"type": "hub:connect", "id": "c", "address": user, "device": device,
            "features": ["ack"]}),
        )
        .await;
    assert_eq!(answer["type"], "hub:connected", "{answer}");
    assert_eq!(answer["address"], format!("{user}/{device}"), "{answer}");
    c
}

/// Says goodbye (`hub:disconnect`, no grace) and reads to the close.
async fn goodbye(mut c: Client) {
    c.send(json!({"type": "hub:disconnect"})).await;
    c.until_close().await;
}

/// The nodes of a test: two sharing the engine, or one.
async fn nodes(engine: &Engine) -> Vec<hub_server::SpawnedServer> {
    nodes_with(engine, engine.config()).await
}

async fn nodes_with(
    engine: &Engine,
    config: hub_server::ServerConfig,
) -> Vec<hub_server::SpawnedServer> {
    let shared = matches!(engine.kind, Kind::Redis | Kind::RedisCluster);
    let mut nodes = vec![engine.start(config.clone()).await];
    if shared {
        nodes.push(engine.start(config).await);
    }
    nodes
}

/// Takes `n` stored messages and acknowledges the last; their payloads.
async fn take_all(c: &mut Client, n: usize) -> Vec<Value> {
    let got = take(c, n).await;
    let last = got.last().map_or(0, |(seq, _)| *seq);
    c.send(json!({"type": "hub:ack", "seq": last})).await;
    got.into_iter().map(|(_, payload)| payload).collect()
}

async fn a_device_that_was_away_gets_what_was_sent_to_its_user_once_in_order(engine: Engine) {
    let nodes = nodes(&engine).await;
    let url = |i: usize| nodes[i % nodes.len()].ws_url();
    let mut phone = connected(&url(0), "dana", "phone").await;
    let laptop = connected(&url(1), "dana", "laptop").await;
    goodbye(laptop).await;
    let (mut bob, _) = Client::connect_url(&url(0), "bob", &[]).await;

    // The phone takes each send at once; the laptop's copies wait.
    for n in 0..3 {
        let ack = send(&mut bob, "dana", json!(n)).await;
        assert_eq!(ack["status"], "accepted", "the phone took it: {ack}");
    }
    assert_eq!(
        take_all(&mut phone, 3).await,
        [json!(0), json!(1), json!(2)]
    );

    // The laptop comes back (on the other node): what it missed, in order;
    // not acknowledged, it comes again on the next return.
    let mut laptop = connected(&url(1), "dana", "laptop").await;
    let unacked: Vec<Value> = take(&mut laptop, 3)
        .await
        .into_iter()
        .map(|m| m.1)
        .collect();
    assert_eq!(unacked, [json!(0), json!(1), json!(2)]);
    goodbye(laptop).await;
    let mut laptop = connected(&url(1), "dana", "laptop").await;
    assert_eq!(
        take_all(&mut laptop, 3).await,
        [json!(0), json!(1), json!(2)]
    );

    // A send now reaches both; a send to one device only that one.
    let ack = send(&mut bob, "dana", json!("both")).await;
    assert_eq!(ack["status"], "accepted", "{ack}");
    let ack = send(&mut bob, "dana/phone", json!("phone")).await;
    assert_eq!(ack["status"], "accepted", "{ack}");
    assert_eq!(take_all(&mut laptop, 1).await, [json!("both")]);
    assert_eq!(
        take_all(&mut phone, 2).await,
        [json!("both"), json!("phone")]
    );

    // Acknowledged is taken once: coming back again brings nothing.
    goodbye(laptop).await;
    let mut laptop = connected(&url(0), "dana", "laptop").await;
    laptop.expect_nothing_pending().await;
    phone.expect_nothing_pending().await;
}

/// A send to a user whose devices are all away is `queued` (stored for
/// each), a retry of its `msg_id` stores nothing again, and a receipt
/// comes once per copy, naming the device that took it.
async fn a_users_send_is_queued_for_each_device_and_its_receipts_name_them(engine: Engine) {
    let nodes = nodes(&engine).await;
    let url = |i: usize| nodes[i % nodes.len()].ws_url();
    goodbye(connected(&url(0), "erin", "phone").await).await;
    goodbye(connected(&url(1), "erin", "laptop").await).await;
    let (mut bob, _) = Client::connect_url(&url(0), "bob", &[]).await;

    let sent = json!({"type": "hub:send", "id": "r", "to": "erin", "payload": "hi",
        "msg_id": "m-1", "receipt": true});
    let ack = bob.request(sent.clone()).await;
    assert_eq!(ack["status"], "queued", "{ack}");
    let again = bob.request(sent).await;
    assert_eq!(
        again["status"], "queued",
        "a retry gets the first answer: {again}"
    );

    let mut heard = Vec::new();
    for (i, device) in ["phone", "laptop"].into_iter().enumerate() {
        let mut c = connected(&url(i), "erin", device).await;
        let got = take(&mut c, 1).await;
        assert_eq!(got[0].1, "hi");
        c.send(json!({"type": "hub:ack", "seq": got[0].0})).await;
        // Once: the retry stored no second copy.
        c.expect_nothing_pending().await;
        let receipt = bob.expect("hub:receipt").await;
        assert_eq!(receipt["status"], "delivered", "{receipt}");
        assert_eq!(receipt["msg_id"], "m-1", "{receipt}");
        heard.push(receipt["to"].as_str().unwrap_or_default().to_owned());
        bob.send(json!({"type": "hub:ack", "seq": receipt["seq"]}))
            .await;
    }
    assert_eq!(heard, ["erin/phone", "erin/laptop"]);

    // A user the hub has never seen, with no device either, is not found.
    let ack = send(&mut bob, "nobody", json!(1)).await;
    assert_eq!(ack["reason"], "recipient_not_found", "{ack}");
}

/// A device whose inbox is at its caps gets no copy, the others do; a send
/// is refused `recipient_queue_full` only when every inbox of the user is.
async fn a_full_device_inbox_misses_copies_without_holding_back_the_others(engine: Engine) {
    let mut config = engine.config();
    config.hub.inbox_max_messages = 2;
    let nodes = nodes_with(&engine, config).await;
    let url = |i: usize| nodes[i % nodes.len()].ws_url();
    goodbye(connected(&url(0), "finn", "phone").await).await;
    goodbye(connected(&url(1), "finn", "laptop").await).await;
    let (mut bob, _) = Client::connect_url(&url(0), "bob", &[]).await;
    for n in 1..=2 {
        assert_eq!(send(&mut bob, "finn", json!(n)).await["status"], "queued");
    }
    // The laptop takes both and leaves; the phone's inbox stays full.
    let mut laptop = connected(&url(1), "finn", "laptop").await;
    assert_eq!(take_all(&mut laptop, 2).await, [json!(1), json!(2)]);
    laptop.expect_nothing_pending().await;
    goodbye(laptop).await;

    for n in 3..=4 {
        let ack = send(&mut bob, "finn", json!(n)).await;
        assert_eq!(ack["status"], "queued", "the laptop has room: {ack}");
    }
    let ack = send(&mut bob, "finn", json!(5)).await;
    assert_eq!(ack["reason"], "recipient_queue_full", "{ack}");
    // Sends 3 and 4 each missed the phone (send 5 was refused whole).
    assert_eq!(metric(&nodes[0], |m| m.inbox_full_copies_total), 2);

    let mut phone = connected(&url(0), "finn", "phone").await;
    assert_eq!(take_all(&mut phone, 2).await, [json!(1), json!(2)]);
    phone.expect_nothing_pending().await;
    let mut laptop = connected(&url(1), "finn", "laptop").await;
    assert_eq!(take_all(&mut laptop, 2).await, [json!(3), json!(4)]);
    laptop.expect_nothing_pending().await;
}

on_every_engine!(
    a_full_device_inbox_misses_copies_without_holding_back_the_others,
    a_device_that_was_away_gets_what_was_sent_to_its_user_once_in_order,
    a_users_send_is_queued_for_each_device_and_its_receipts_name_them,
);
