//! The address directory in shards: on a Redis Cluster each address's
//! holding and memberships live in the shard its hash picks, so every
//! primary takes part of the directory; members listed in pages come from
//! every shard; and a node whose shard count is not the hub's says so on
//! `/ready` and refuses connects instead of keeping a directory of its own.

use super::*;
use common::redis::RedisCluster;

/// Holding keys (`…a:<address>`) on one Redis.
fn holdings(redis: &Redis, prefix: &str) -> usize {
    redis
        .cli(&["KEYS", &format!("{{{prefix}dir*a:*")])
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count()
}

#[actix_rt::test]
async fn on_a_cluster_every_primary_holds_part_of_the_directory_and_pages_span_the_shards() {
    let cluster = RedisCluster::start().await;
    let config = || {
        let mut config = test_config();
        config.engine = hub_server::Engine::Redis;
        config.redis_url = cluster.url();
        config.redis_prefix = "sh1:".into();
        let room = hub_core::permissions::NamespaceOptions {
            track_presence: true,
            ..Default::default()
        };
        config.hub.namespaces.insert("room".into(), room);
        config
    };
    let [one, two] = ready_nodes([config(), config()]).await;
    let mut clients = Vec::new();
    for i in 0..40 {
        let node = if i % 2 == 0 { &one } else { &two };
        let (mut c, _) = Client::connect(node, &format!("user-{i:02}")).await;
        c.subscribe("room:big").await;
        clients.push(c);
    }
    let held: Vec<usize> = cluster
        .masters()
        .iter()
        .map(|m| holdings(m, "sh1:"))
        .collect();
    assert_eq!(held.iter().sum::<usize>(), 40, "{held:?}");
    assert!(
        held.iter().all(|&n| n > 0),
        "every primary holds some addresses: {held:?}"
    );

    // Pages of 7 walk every member once, in order, from every shard.
    let reader = &mut clients[0];
    let (mut listed, mut after) = (Vec::new(), None::<String>);
    for id in 0.. {
        let mut ask = json!({"type": "hub:presence", "id": id, "topic": "room:big", "limit": 7});
        if let Some(after) = &after {
            ask["after"] = json!(after);
        }
        let page = reader.request(ask).await;
        assert_eq!(page["type"], "hub:presence_ack", "{page}");
        let members = page["members"].as_array().expect("members");
        assert!(members.len() <= 7, "{page}");
        listed.extend(
            members
                .iter()
                .map(|m| m["address"].as_str().expect("an address").to_owned()),
        );
        match page["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    let want: Vec<String> = (0..40).map(|i| format!("user-{i:02}")).collect();
    assert_eq!(listed, want, "every member once, in address order");
    let stats = reader
        .request(json!({"type": "hub:presence_stats", "id": "s", "topic": "room:big"}))
        .await;
    assert_eq!(stats["members"], 40, "counted over every shard: {stats}");

    // One holder per address still: the newer connection wins across nodes.
    let (mut again, _) = Client::connect(&two, "user-00").await;
    let (_, code) = clients[0].until_close().await;
    assert_eq!(code, 4500);
    again.expect_nothing_pending().await;
}

#[actix_rt::test]
async fn a_node_whose_shard_count_is_not_the_hubs_is_not_ready_and_refuses_connects() {
    let redis = Redis::start().await;
    let [one] = ready_nodes([node_config(&redis, "sh2:")]).await;
    let (_alice, _) = Client::connect(&one, "alice").await;
    // The first node's sweep has recorded the hub's count.
    eventually("the hub's shard count recorded", || {
        redis.cli(&["GET", "{sh2:dir}shards"]).trim() == "1"
    })
    .await;

    let mut config = node_config(&redis, "sh2:");
    config.redis_directory_shards = 4;
    let two = common::start(config);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let reason = loop {
        let (status, body) = ready(&two).await;
        if status == 503
            && body["reason"]
                .as_str()
                .is_some_and(|r| r.contains("shards"))
        {
            break body["reason"].as_str().unwrap_or_default().to_owned();
        }
        assert!(tokio::time::Instant::now() < deadline, "never told: {body}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(
        reason.contains("redis_directory_shards is 4") && reason.contains("use 1"),
        "{reason}"
    );
    let mut c = Client::open(&two).await;
    let refused = c
        .request(json!({"type": "hub:connect", "id": "c", "address": "bob"}))
        .await;
    assert_eq!(refused["code"], "unavailable", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("redis_directory_shards")),
        "{refused}"
    );
    // The node that agrees with the hub is untouched.
    let (_bob, _) = Client::connect(&one, "bob").await;
    assert_eq!(ready(&one).await.0, 200);
}
