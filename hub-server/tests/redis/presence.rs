//! Topic members across nodes: joins and leaves span nodes, a killed node's members leave once.

use super::*;

#[actix_rt::test]
async fn a_topic_s_members_and_their_joins_and_leaves_span_nodes() {
    let redis = Redis::start().await;
    let [one, two] = ready_nodes([
        presence_config(&redis, "t12:"),
        presence_config(&redis, "t12:"),
    ])
    .await;
    let (mut alice, _) = Client::connect(&one, "alice").await;
    alice.subscribe("room:a").await;
    let (mut bob, _) = Client::connect(&two, "bob").await;
    bob.send(json!({"type": "hub:subscribe", "id": "s", "topic": "room:a"}))
        .await;
    // Alice's join, made on another node before bob subscribed, may still
    // reach him when its announcement is slow (PROTOCOL, "Many nodes").
    let ack = loop {
        let f = bob.next_frame().await;
        if f["type"] != "hub:join" || f["address"] != "alice" {
            break f;
        }
    };
    assert_eq!(ack["type"], "hub:subscribe_ack", "{ack}");
    let join = alice.expect("hub:join").await;
    assert_eq!(
        (join["address"].as_str(), join["topic"].as_str()),
        (Some("bob"), Some("room:a"))
    );

    // Every node lists every member, in address order; the count agrees.
    let (mut carol, _) = Client::connect(&two, "carol").await;
    assert_eq!(members(&mut carol, "room:a").await, ["alice", "bob"]);
    let stats = carol
        .request(json!({"type": "hub:presence_stats", "id": "s", "topic": "room:a"}))
        .await;
    assert_eq!(stats["members"], 2, "{stats}");
    // Pages across nodes: one at a time.
    let page = carol
        .request(json!({"type": "hub:presence", "id": "p", "topic": "room:a", "limit": 1}))
        .await;
    assert_eq!(
        (
            page["members"][0]["address"].as_str(),
            page["next"].as_str()
        ),
        (Some("alice"), Some("alice"))
    );
    let page = carol
        .request(json!({"type": "hub:presence", "id": "p", "topic": "room:a", "limit": 1, "after": "alice"}))
        .await;
    assert_eq!(page["members"][0]["address"], "bob");
    assert!(page["next"].is_null(), "{page}");

    // Bob leaves: alice, on the other node, hears it once, and he is no
    // longer listed anywhere.
    let ack = bob
        .request(json!({"type": "hub:unsubscribe", "id": "u", "topic": "room:a"}))
        .await;
    assert_eq!(ack["type"], "hub:unsubscribe_ack");
    let leave = alice.expect("hub:leave").await;
    assert_eq!(leave["address"], "bob");
    assert_eq!(members(&mut alice, "room:a").await, ["alice"]);
    // Bob's join is the next event: nothing came between.
    bob.subscribe("room:a").await;
    assert_eq!(alice.expect("hub:join").await["address"], "bob");
}

#[actix_rt::test]
async fn a_killed_node_s_members_leave_once_when_their_leases_run_out() {
    let redis = Redis::start().await;
    let one = start(presence_config(&redis, "t13:"));
    let extra = [
        "registration_ttl_ms=1500",
        "namespaces.room.track_presence=true",
        "namespaces.room.join_leave=true",
    ];
    let (_dir, doomed) = doomed_node(&redis, "t13:", &extra).await;
    eventually_ready(&one).await;
    let (mut alice, _) = Client::connect(&one, "alice").await;
    alice.subscribe("room:b").await;
    let (mut carol, _) = Client::connect_url(&doomed.url, "carol", &[]).await;
    carol.subscribe("room:b").await;
    assert_eq!(alice.expect("hub:join").await["address"], "carol");
    assert_eq!(members(&mut alice, "room:b").await, ["alice", "carol"]);

    doomed.kill_9();
    // No one is left to say carol left: her lease runs out, and the node
    // that finds it ends her memberships, each announced once.
    assert_eq!(alice.expect("hub:leave").await["address"], "carol");
    assert_eq!(members(&mut alice, "room:b").await, ["alice"]);
}
