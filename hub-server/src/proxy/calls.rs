//! The subscribe, publish and RPC proxies: hub-core's [`Backend`] over
//! HTTP. Each call posts who asks (`client`, `user`, `address`) and what:
//!
//! ```json
//! {"client": "s-1f", "user": "alice", "address": "alice/tab1", "topic": "room:7"}
//! {"client": "s-1f", "user": "alice", "address": "alice/tab1", "topic": "room:7", "payload": {"text": "hi"}}
//! {"client": "s-1f", "user": "alice", "address": "alice/tab1", "method": "profile.get", "data": {"id": 7}}
//! ```
//!
//! and takes `{"result": ...}` or `{"error": {"code": "...", "message": "..."}}`:
//! a subscribe's result may grant more rights on the topic (`{"rights":
//! ["publish", "presence"]}`), a publish's may replace the payload
//! (`{"payload": ...}`), an RPC's carries the answer (`{"data": ...}`).

use std::sync::Arc;

use hub_core::auth::TopicGrant;
use hub_core::backend::{
    Backend, BackendFuture, BackendRefusal, CallKind, Caller, PublishCall, RpcCall, TopicCall,
};
use hub_core::permissions::Right;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{malformed, Answered, Failure, Proxy};

/// The proxies configured (`subscribe_proxy_url`, `publish_proxy_url`,
/// `rpc_proxy_url`); a call with none is refused `no_backend`.
#[derive(Debug, Default, Clone)]
pub struct AppBackend {
    /// `subscribe_proxy_url`.
    pub subscribe: Option<Arc<Proxy>>,
    /// `publish_proxy_url`.
    pub publish: Option<Arc<Proxy>>,
    /// `rpc_proxy_url`.
    pub rpc: Option<Arc<Proxy>>,
}

/// What is posted: who asks, and the call's own fields.
#[derive(Serialize)]
struct Asked<'a, T: Serialize> {
    client: &'a str,
    user: &'a str,
    address: &'a str,
    #[serde(flatten)]
    call: T,
}

#[derive(Serialize)]
struct Topic<'a> {
    topic: &'a str,
}

#[derive(Serialize)]
struct Publish<'a> {
    topic: &'a str,
    payload: &'a RawValue,
}

#[derive(Serialize)]
struct Rpc<'a> {
    method: &'a str,
    data: &'a RawValue,
}

/// A subscribe's result.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Subscribed {
    #[serde(default)]
    rights: Vec<String>,
}

/// A publish's result.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Published {
    #[serde(default)]
    payload: Option<Box<RawValue>>,
}

/// An RPC's result.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    #[serde(default)]
    data: Option<Box<RawValue>>,
}

impl Backend for AppBackend {
    fn subscribe(&self, call: TopicCall) -> BackendFuture<TopicGrant> {
        let proxy = self.subscribe.clone();
        Box::pin(async move {
            let topic = Topic { topic: &call.topic };
            let result: Subscribed = ask(proxy, &call.caller, topic).await?;
            let rights = result
                .rights
                .iter()
                .map(|name| Right::from_name(name).filter(|r| r.on_topics()))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| unusable("subscribe", "rights names other than topic rights"))?;
            Ok(TopicGrant::new(None, &rights))
        })
    }

    fn publish(&self, call: PublishCall) -> BackendFuture<Option<Box<RawValue>>> {
        let proxy = self.publish.clone();
        Box::pin(async move {
            let publish = Publish {
                topic: &call.topic,
                payload: &call.payload,
            };
            let result: Published = ask(proxy, &call.caller, publish).await?;
            Ok(result.payload)
        })
    }

    fn rpc(&self, call: RpcCall) -> BackendFuture<Box<RawValue>> {
        let proxy = self.rpc.clone();
        Box::pin(async move {
            let rpc = Rpc {
                method: &call.method,
                data: &call.data,
            };
            let result: Answer = ask(proxy, &call.caller, rpc).await?;
            let null = || {
                RawValue::from_string("null".into()).map_err(|e| unusable("rpc", &e.to_string()))
            };
            result.data.map_or_else(null, Ok)
        })
    }

    fn answers(&self, kind: CallKind) -> bool {
        match kind {
            CallKind::Subscribe => self.subscribe.is_some(),
            CallKind::Publish => self.publish.is_some(),
            CallKind::Rpc => self.rpc.is_some(),
        }
    }
}

/// Posts `call` for `caller` to `proxy`; its result, or the refusal the
/// client is told.
async fn ask<T: DeserializeOwned>(
    proxy: Option<Arc<Proxy>>,
    caller: &Caller,
    call: impl Serialize,
) -> Result<T, BackendRefusal> {
    let Some(proxy) = proxy else {
        return Err(BackendRefusal::no_backend(
            "this hub has no proxy for this call",
        ));
    };
    let asked = Asked {
        client: &caller.client,
        user: &caller.user,
        address: &caller.address,
        call,
    };
    let name = proxy.name;
    let answered: Answered<T> = proxy.call(&asked).await.map_err(|f| failed(name, f))?;
    match answered.decided().map_err(|why| unusable(name, why))? {
        Ok(result) => Ok(result),
        Err(refused) => Err(BackendRefusal::refused(
            refused.code,
            format!("refused by the application: {}", refused.message),
        )),
    }
}

/// The refusal for a call that got no usable answer.
fn failed(name: &'static str, failure: Failure) -> BackendRefusal {
    match failure {
        Failure::Busy => BackendRefusal::unavailable(format!(
            "the {name} proxy has proxy_max_concurrency calls in flight; try again"
        )),
        Failure::Unavailable(why) => BackendRefusal::unavailable(format!(
            "the {name} proxy did not answer ({why}); try again"
        )),
        Failure::Malformed(_) => {
            BackendRefusal::internal(format!("the {name} proxy's answer could not be used"))
        }
    }
}

/// An answer of the documented shape whose content cannot be used.
fn unusable(name: &'static str, why: &str) -> BackendRefusal {
    malformed(name, why);
    failed(name, Failure::Malformed(why.to_owned()))
}
