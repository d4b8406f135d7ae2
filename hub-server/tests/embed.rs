//! Embedding: the application publishes and sends from its own code, and an
//! in-process actor registered under an address answers clients directly.

mod common;

use actix::prelude::*;
use common::*;
use hub_core::protocol::BroadcastTarget;
use hub_core::protocol::DeliveryStatus;
use hub_core::{BroadcastOptions, DirectMessage, Hub, PublishOptions, SendOptions};
use serde_json::{json, Value};

/// A backend service living in the server process: answers every direct
/// message by sending `{"echo": payload}` back to the sender.
struct Echo {
    hub: Hub,
}

impl Actor for Echo {
    type Context = Context<Self>;
}

impl Handler<DirectMessage> for Echo {
    type Result = ();

    fn handle(&mut self, msg: DirectMessage, ctx: &mut Self::Context) {
        let payload: Value = msg.payload_as().expect("JSON payload");
        let hub = self.hub.clone();
        let reply = async move {
            let echo = json!({ "echo": payload });
            let options = SendOptions::reply_to(&msg);
            let sent = hub.send(&msg.to, &msg.from, &echo, options).await;
            sent.expect("sender is connected");
        };
        ctx.spawn(reply.into_actor(self));
    }
}

/// A client's `hub:send` to a local actor is delivered in-process and the
/// actor's reply reaches the client; clients cannot take the actor's address.
#[actix_rt::test]
async fn local_actor_answers_clients_without_a_network_hop() {
    let server = hub_server::start(&test_config()).expect("server");
    let hub = server.hub.clone();
    let echo = Echo { hub: hub.clone() }.start();
    hub.register_local("echo", echo.recipient())
        .await
        .expect("register");

    let url = format!("ws://{}/ws", server.addr);
    let mut c = Client::open_url(&url).await;
    c.send(json!({"type": "hub:connect", "address": "alice"}))
        .await;
    c.expect("hub:connected").await;
    c.send(json!({"type": "hub:send", "id": 1, "to": "echo", "payload": {"q": 42}}))
        .await;
    // The in-process reply may overtake the ack (documented): accept either order.
    let mut frames = [c.next_frame().await, c.next_frame().await];
    frames.sort_by_key(|f| f["type"].as_str().unwrap_or_default().to_owned());
    assert_eq!(
        frames[0],
        json!({"type": "hub:delivery_ack", "id": 1, "to": "echo", "status": "accepted"})
    );
    assert_eq!(
        frames[1],
        json!({"type": "hub:message", "from": "echo", "payload": {"echo": {"q": 42}}})
    );

    let mut thief = Client::open_url(&url).await;
    let err = thief
        .request(json!({"type": "hub:connect", "address": "echo"}))
        .await;
    assert_eq!(err["code"], "address_reserved", "{err}");

    hub.unregister_local("echo");
    // Gone clients: a connected client that is not being polled could not
    // answer the server's close frame, and the drain would wait for it.
    drop((c, thief));
    server.shutdown().await;
}

/// `Hub::publish` and `Hub::send` from application code reach clients.
#[actix_rt::test]
async fn app_code_publishes_and_sends_to_clients() {
    let server = hub_server::start(&test_config()).expect("server");
    let hub = server.hub.clone();
    let url = format!("ws://{}/ws", server.addr);
    let mut c = Client::open_url(&url).await;
    c.send(json!({"type": "hub:connect", "address": "bob"}))
        .await;
    c.expect("hub:connected").await;
    c.subscribe("alerts").await;

    assert_eq!(
        hub.publish(
            "alerts",
            "backend",
            &json!({"level": "warn"}),
            PublishOptions::default()
        )
        .await
        .map(|p| p.recipients),
        Ok(1)
    );
    let m = c.expect("hub:message").await;
    assert_eq!(
        m,
        json!({"type": "hub:message", "topic": "alerts", "from": "backend", "payload": {"level": "warn"}})
    );

    let sent = hub.send("backend", "bob", &"direct", SendOptions::default());
    assert_eq!(sent.await, Ok(DeliveryStatus::Accepted));
    assert_eq!(c.expect("hub:message").await["payload"], "direct");
    let asking = SendOptions::default().correlation_id("q1");
    let sent = hub.send("backend", "bob", &"asking", asking).await;
    assert_eq!(sent, Ok(DeliveryStatus::Accepted));
    let m = c.expect("hub:message").await;
    assert_eq!(
        (&m["payload"], &m["correlation_id"]),
        (&json!("asking"), &json!("q1"))
    );
    let missing = hub
        .send("backend", "nobody", &1, SendOptions::default())
        .await;
    assert_eq!(
        missing.unwrap_err().code(),
        hub_core::protocol::ErrorCode::RecipientNotFound
    );
    let bad_id = SendOptions::default().correlation_id("");
    let refused = hub.send("backend", "bob", &1, bad_id).await;
    assert_eq!(
        refused.unwrap_err().code(),
        hub_core::protocol::ErrorCode::InvalidField,
        "a correlation id is checked like a client's"
    );
    drop(c); // see the first test
    server.shutdown().await;
}

/// `Hub::broadcast` from application code: a list (each address once, the
/// missing ones named) and "everyone but the sender".
#[actix_rt::test]
async fn app_code_broadcasts_to_a_list_and_to_all() {
    let server = hub_server::start(&test_config()).expect("server");
    let hub = server.hub.clone();
    let url = format!("ws://{}/ws", server.addr);
    let mut clients = Vec::new();
    for name in ["ann", "ben"] {
        let mut c = Client::open_url(&url).await;
        c.send(json!({"type": "hub:connect", "address": name}))
            .await;
        c.expect("hub:connected").await;
        clients.push(c);
    }
    let list = BroadcastTarget::List(vec!["ann".into(), "ann".into(), "ghost".into()]);
    let to_ann = hub.broadcast("ops", &list, &"to ann", BroadcastOptions::default());
    let outcome = to_ann.await.expect("broadcast");
    assert_eq!(
        (outcome.recipients, outcome.not_found),
        (1, vec!["ghost".to_owned()])
    );
    assert_eq!(clients[0].expect("hub:message").await["payload"], "to ann");
    let outcome = hub
        .broadcast(
            "ops",
            &BroadcastTarget::All,
            &"to all",
            BroadcastOptions::default(),
        )
        .await
        .expect("broadcast");
    assert_eq!(outcome.recipients, 2);
    for c in &mut clients {
        let m = c.expect("hub:message").await;
        assert_eq!(
            (&m["from"], &m["payload"]),
            (&json!("ops"), &json!("to all"))
        );
        c.expect_nothing_pending().await;
    }
    let bad = BroadcastTarget::List(vec!["".into()]);
    assert_eq!(
        hub.broadcast("ops", &bad, &1, BroadcastOptions::default())
            .await
            .unwrap_err()
            .code(),
        hub_core::protocol::ErrorCode::InvalidField
    );
    drop(clients); // see the first test
    server.shutdown().await;
}

/// A closure registered with `register_handler` serves an address too.
#[actix_rt::test]
async fn closure_handler_serves_an_address() {
    let server = hub_server::start(&test_config()).expect("server");
    let hub = server.hub.clone();
    let replier = hub.clone();
    hub.register_handler("time", move |msg: DirectMessage| {
        let replier = replier.clone();
        actix_rt::spawn(async move {
            let now = json!({"now": 1234});
            let options = SendOptions::reply_to(&msg);
            let _ = replier.send(&msg.to, &msg.from, &now, options).await;
        });
    })
    .await
    .expect("register");
    let mut c = Client::open_url(&format!("ws://{}/ws", server.addr)).await;
    c.send(json!({"type": "hub:connect", "address": "carol"}))
        .await;
    c.expect("hub:connected").await;
    c.send(json!({"type": "hub:send", "to": "time", "payload": null}))
        .await;
    let mut frames = [c.next_frame().await, c.next_frame().await];
    frames.sort_by_key(|f| f["type"].as_str().unwrap_or_default().to_owned());
    assert_eq!(frames[0]["status"], "accepted");
    assert_eq!(
        frames[1],
        json!({"type": "hub:message", "from": "time", "payload": {"now": 1234}})
    );
    drop(c); // see the first test
    server.shutdown().await;
}

/// The authentication hook: a refused connect gets `unauthorized` with the
/// authenticator's message and the socket stays open for another try; an
/// authenticator can also bind the address to the token's subject.
#[actix_rt::test]
async fn authenticator_refuses_bad_tokens_and_binds_addresses() {
    use hub_core::auth::{AuthFuture, AuthRejection, Authenticator, ConnectRequest, Identity};

    struct TokenIsSubject;
    impl Authenticator for TokenIsSubject {
        fn authenticate(&self, request: ConnectRequest) -> AuthFuture {
            Box::pin(async move {
                match request
                    .token
                    .as_deref()
                    .and_then(|t| t.strip_prefix("valid:"))
                {
                    Some(subject) => Ok(Identity::new(subject)),
                    None => Err(AuthRejection::new("token is not valid")),
                }
            })
        }
    }

    let hub = Hub::builder(hub_core::Config::default())
        .authenticator(TokenIsSubject)
        .start()
        .expect("hub");
    assert!(hub.auth_enforced());
    let (addr, handle) = serve_on_actix_web(&hub);

    let mut c = Client::open_url(&format!("ws://{addr}/ws")).await;
    let refused = c
        .request(json!({"type": "hub:connect", "id": 1, "address": "mallory", "token": "forged"}))
        .await;
    assert_eq!(
        (refused["code"].clone(), refused["id"].clone()),
        (json!("unauthorized"), json!(1))
    );
    assert_eq!(refused["message"], "token is not valid");
    let connected = c
        .request(
            json!({"type": "hub:connect", "id": 2, "address": "ignored", "token": "valid:alice"}),
        )
        .await;
    assert_eq!(connected["type"], "hub:connected");
    assert_eq!(
        connected["address"], "alice",
        "the authenticator chose the address"
    );
    handle.stop(false).await;
}

/// An authenticator that never answers cannot hold a session forever: after
/// `heartbeat_timeout_ms` the connect is refused (`internal`, temporary) and
/// the session reads frames again.
#[actix_rt::test]
async fn a_hanging_authenticator_is_cut_off() {
    use hub_core::auth::{AuthFuture, Authenticator, ConnectRequest};

    struct Never;
    impl Authenticator for Never {
        fn authenticate(&self, _: ConnectRequest) -> AuthFuture {
            Box::pin(std::future::pending())
        }
    }

    let config = hub_core::Config {
        heartbeat_interval_ms: 100,
        heartbeat_timeout_ms: 300,
        ..hub_core::Config::default()
    };
    let hub = Hub::builder(config)
        .authenticator(Never)
        .start()
        .expect("hub");
    let (addr, handle) = serve_on_actix_web(&hub);

    let mut c = Client::open_url(&format!("ws://{addr}/ws")).await;
    c.send(json!({"type": "hub:connect", "id": 1, "address": "stuck"}))
        .await;
    c.send(json!({"type": "hub:ping", "id": 2})).await;
    let refused = c.next_frame().await;
    assert_eq!(
        (&refused["code"], &refused["id"]),
        (&json!("internal"), &json!(1))
    );
    assert_eq!(refused["temporary"], true);
    assert_eq!(
        c.expect("hub:pong").await["id"],
        2,
        "the session reads again"
    );
    drop(c);
    handle.stop(false).await;
}

/// Serves `hub` through `ws_endpoint` in a plain actix-web server on a free
/// loopback port; returns the address and the server's handle.
fn serve_on_actix_web(hub: &Hub) -> (std::net::SocketAddr, actix_web::dev::ServerHandle) {
    use actix_web::{web, App, HttpServer};
    let app_hub = hub.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(app_hub.clone()))
            .route("/ws", web::get().to(hub_core::ws_endpoint))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    actix_rt::spawn(server);
    (addr, handle)
}
