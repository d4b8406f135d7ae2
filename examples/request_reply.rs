//! Request/reply between two SDK clients: a "calculator" service answers
//! requests, a caller waits for each reply with a timeout.
//!
//! Run: `cargo run -p examples --example request_reply` (starts a hub
//! in-process), or set `SIGNAL_HUB_URL=ws://127.0.0.1:8080/ws`.

use std::time::Duration;

use hub_client::{Client, ClientError, Event};

mod support;
use serde::{Deserialize, Serialize};
use support::hub_url;

#[derive(Debug, Serialize, Deserialize)]
struct Add {
    a: i64,
    b: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Sum {
    sum: i64,
}

#[tokio::main]
async fn main() -> Result<(), ClientError> {
    let (url, _server) = hub_url();

    let service = Client::builder(&url)
        .address("calculator")
        .connect()
        .await?;
    let mut requests = service.events().await;
    let replier = service.clone();
    tokio::spawn(async move {
        while let Some(event) = requests.next().await {
            let Event::Message(request) = event else {
                continue;
            };
            let Ok(Add { a, b }) = request.payload_as::<Add>() else {
                continue;
            };
            let _ = replier.reply(&request, &Sum { sum: a + b }).await;
        }
    });

    let caller = Client::builder(&url).address("caller").connect().await?;
    for (a, b) in [(1, 2), (40, 2), (-7, 7)] {
        let reply: Sum = caller
            .request("calculator", &Add { a, b }, Duration::from_secs(2))
            .await?;
        println!("{a} + {b} = {}", reply.sum);
    }

    match caller
        .request::<Sum>("nobody", &Add { a: 0, b: 0 }, Duration::from_secs(1))
        .await
    {
        Err(e) => println!("asking nobody: {e}"),
        Ok(reply) => println!("unexpected reply {reply:?}"),
    }

    caller.close().await?;
    service.close().await?;
    Ok(())
}
