//! Embedding Signal Hub in your own actix-web app, both directions:
//!
//! - **app → clients**: a route of the app (`POST /notify/{address}`) sends a
//!   direct message, and a timer publishes to the `clock` topic, from the
//!   app's own code through the [`Hub`] handle;
//! - **clients → app**: an in-process actor registered under the address
//!   `echo` receives clients' `hub:send`s with no second network hop and
//!   answers them.
//!
//! Run: `cargo run -p examples --example embed`, then with websocat:
//! ```text
//! websocat ws://127.0.0.1:8090/ws
//! {"type":"hub:connect","address":"me"}
//! {"type":"hub:subscribe","topic":"clock"}
//! {"type":"hub:send","to":"echo","payload":{"hello":"backend"}}
//! ```
//! and in another shell: `curl -X POST localhost:8090/notify/me -d 'hi from the app'`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use actix_web::{web, App, HttpResponse, HttpServer};
use hub_core::{ws_endpoint, Config, DirectMessage, Hub, PublishOptions, SendOptions};
use serde_json::{json, Value};

/// A backend service that lives in the server process under the address `echo`.
struct Echo {
    hub: Hub,
}

impl Actor for Echo {
    type Context = Context<Self>;
}

impl Handler<DirectMessage> for Echo {
    type Result = ();

    fn handle(&mut self, msg: DirectMessage, ctx: &mut Self::Context) {
        let payload: Value = msg.payload_as().unwrap_or(Value::Null);
        // Reply as `echo` to whoever sent it, wherever in the hub it is; the
        // sender may have left meanwhile.
        let hub = self.hub.clone();
        let reply = async move {
            let options = SendOptions::reply_to(&msg);
            let echo = json!({ "echo": payload });
            let _ = hub.send(&msg.to, &msg.from, &echo, options).await;
        };
        ctx.spawn(reply.into_actor(self));
    }
}

/// App code sending to a connected client.
async fn notify(hub: web::Data<Hub>, address: web::Path<String>, body: String) -> HttpResponse {
    let options = SendOptions::default().live_only();
    match hub
        .send("app", &address, &json!({ "text": body }), options)
        .await
    {
        Ok(_) => HttpResponse::Accepted().finish(),
        Err(e) => HttpResponse::NotFound().body(e.to_string()),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt().init();
    let hub = Hub::start(Config::default()).map_err(std::io::Error::other)?;

    let echo = Echo { hub: hub.clone() }.start();
    hub.register_local("echo", echo.recipient())
        .await
        .map_err(std::io::Error::other)?;

    let clock = hub.clone();
    actix_rt::spawn(async move {
        let mut tick = actix_rt::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            let _ = clock
                .publish(
                    "clock",
                    "app",
                    &json!({ "unix_ms": now.as_millis() as u64 }),
                    PublishOptions::default(),
                )
                .await;
        }
    });

    let bind = std::env::var("EMBED_BIND").unwrap_or_else(|_| "127.0.0.1:8090".into());
    println!("embedded hub on ws://{bind}/ws");
    HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(hub.clone()))
            .route("/ws", web::get().to(ws_endpoint))
            .route("/notify/{address}", web::post().to(notify))
    })
    .tcp_nodelay(true) // small real-time frames must not wait for Nagle
    .bind(bind)?
    .run()
    .await
}
