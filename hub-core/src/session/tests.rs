//! The session's request logic as plain methods, on a session that is
//! built but never run.

use super::*;
use crate::auth::AllowAll;
use crate::config::Config;
use crate::error::HubError;

fn session(config: Config) -> (Session, OutboundBody) {
    let node = Arc::new(
        Node::start(
            config,
            crate::node::Hooks {
                authenticator: Arc::new(AllowAll),
                backend: Arc::new(crate::backend::NoBackend),
                lifecycle: None,
            },
            None,
            Default::default(),
        )
        .expect("a valid config"),
    );
    let guard = ConnectionGuard::acquire(&node.metrics, 1).expect("a slot");
    let me = Context::<Session>::new().address();
    let (mut session, body) = Session::new(
        node,
        me,
        ReadSwitch::default(),
        "trace",
        None,
        guard,
        Vec::new(),
    );
    session.grants = Arc::new(Grants::everything());
    (session, body)
}

fn topic_addr() -> Addr<Topic> {
    Context::<Topic>::new().address()
}

#[actix_rt::test]
async fn subscribing_twice_needs_one_join() {
    let (mut s, _body) = session(Config::default());
    let first = s.plan_subscribe("t", false).unwrap();
    assert_eq!(
        first.map(|(t, _, _)| t).as_deref(),
        Some("t"),
        "the first subscribe joins"
    );
    s.pending_subscribes.remove("t");
    s.subscriptions.insert("t".into(), topic_addr());
    assert!(
        s.plan_subscribe("t", false).unwrap().is_none(),
        "the second is acked at once"
    );
}

#[actix_rt::test]
async fn the_topic_cap_counts_subscribes_still_in_flight() {
    let config = Config {
        max_topics_per_session: 2,
        ..Config::default()
    };
    let (mut s, _body) = session(config);
    s.subscriptions.insert("held".into(), topic_addr());
    assert!(s.plan_subscribe("pending", false).unwrap().is_some());
    assert_eq!(
        s.plan_subscribe("third", false).err(),
        Some(HubError::TooManyTopics(2))
    );
}

#[actix_rt::test]
async fn unsubscribe_checks_the_name_then_the_subscription() {
    let (mut s, _body) = session(Config::default());
    assert!(matches!(
        s.plan_unsubscribe(""),
        Err(HubError::InvalidName(_))
    ));
    assert_eq!(
        s.plan_unsubscribe("never").unwrap_err(),
        HubError::NotSubscribed("never".into())
    );
    s.subscriptions.insert("t".into(), topic_addr());
    assert!(s.plan_unsubscribe("t").is_ok());
    assert!(s.subscriptions.is_empty(), "gone before the topic is told");
}

#[actix_rt::test]
async fn the_rate_limit_refuses_past_the_burst_and_says_when_to_retry() {
    let config = Config {
        rate_limit_per_sec: 1,
        rate_limit_burst: 2,
        ..Config::default()
    };
    let (s, _body) = session(config);
    assert_eq!((s.take_rate(), s.take_rate()), (Ok(()), Ok(())));
    let retry_after_ms = s.take_rate().unwrap_err();
    assert!((1..=1001).contains(&retry_after_ms), "{retry_after_ms}");
}

#[actix_rt::test]
async fn no_rate_limit_when_it_is_zero() {
    let config = Config {
        rate_limit_per_sec: 0,
        ..Config::default()
    };
    let (s, _body) = session(config);
    assert!((0..1000).all(|_| s.take_rate().is_ok()));
}

#[actix_rt::test]
async fn a_subscribe_without_the_right_reserves_nothing() {
    let (mut s, _body) = session(Config::default());
    s.grants = s.node.no_grants.clone();
    assert!(matches!(
        s.plan_subscribe("t", false),
        Err(HubError::Forbidden {
            right: crate::permissions::Right::Subscribe,
            ..
        })
    ));
    assert!(s.pending_subscribes.is_empty());
    assert_eq!(
        s.plan_subscribe("nowhere:t", false).unwrap_err(),
        HubError::UnknownNamespace("nowhere".into())
    );
}

#[actix_rt::test]
async fn a_namespace_cap_travels_with_the_join() {
    let mut config = Config::default();
    let small = crate::permissions::NamespaceOptions {
        max_subscribers: 3,
        ..Default::default()
    };
    config.namespaces.insert("small".into(), small);
    let (mut s, _body) = session(config);
    let (_, kind, _) = s.plan_subscribe("small:room", false).unwrap().unwrap();
    assert_eq!(kind.max_subscribers, 3);
    let (_, kind, _) = s.plan_subscribe("room", false).unwrap().unwrap();
    assert_eq!(
        kind.max_subscribers, 0,
        "default namespace: max_subscribers_per_topic"
    );
}
