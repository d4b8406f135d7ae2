//! Property tests: every frame type of protocol v1, with arbitrary field
//! values, survives encode → decode → encode unchanged, both ways (the
//! client frames the server decodes, the server frames hub-client decodes).
//! So the decoders lose nothing the encoders write, whatever the values.

use std::borrow::Cow;

use hub_core::protocol::client::{
    BroadcastTarget, ClientFrame, Correlation, FrameId, Request, StreamPosition,
};
use hub_core::protocol::codes::ALL_ERROR_CODES;
use hub_core::protocol::presence::{
    AddressEvent, Member, MemberEvent, PresenceAck, PresenceStatsAck, WatchAck,
};
use hub_core::protocol::server::{
    BroadcastAck, Connected, DeliveryAck, Disconnect, Echo, Error, Message, PublishAck,
    RateLimited, Receipt, ReceiptStatus, RpcAck, TopicAck, Unsubscribed,
};
use hub_core::protocol::{DeliveryStatus, ErrorCode, LimitsInfo, ServerFrame};
use proptest::prelude::*;
use serde_json::value::RawValue;
use serde_json::Value;

/// An address or topic: what names may be.
fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9:_. -]{1,24}"
}

/// Any text: unicode, quotes, backslashes, control characters.
fn text() -> impl Strategy<Value = String> {
    any::<String>()
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(text(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn raw() -> impl Strategy<Value = Cow<'static, RawValue>> {
    json().prop_map(|v| Cow::Owned(RawValue::from_string(v.to_string()).unwrap()))
}

/// An optional raw field's value: never `null`, which the protocol reads
/// as absent ("an optional field set to null counts as absent"; the server
/// drops a token's `info` of `null` before it is ever sent).
fn optional_raw() -> impl Strategy<Value = Option<Cow<'static, RawValue>>> {
    proptest::option::of(raw().prop_filter("null is absent", |r| r.get() != "null"))
}

fn cow(s: impl Strategy<Value = String>) -> impl Strategy<Value = Cow<'static, str>> {
    s.prop_map(Cow::Owned)
}

fn frame_id() -> impl Strategy<Value = FrameId> {
    prop_oneof![
        any::<u64>().prop_map(FrameId::Num),
        name().prop_map(FrameId::Str)
    ]
}

fn echoed() -> impl Strategy<Value = Option<Cow<'static, FrameId>>> {
    proptest::option::of(frame_id().prop_map(Cow::Owned))
}

fn code() -> impl Strategy<Value = ErrorCode> {
    prop::sample::select(ALL_ERROR_CODES)
}

fn client_frame() -> impl Strategy<Value = ClientFrame<'static>> {
    let connect = (
        cow(name()),
        proptest::option::of(cow(name())),
        proptest::option::of(cow(text())),
        optional_raw(),
        prop::collection::vec(cow(name()), 0..3),
    )
        .prop_map(
            |(address, device, token, metadata, features)| ClientFrame::Connect {
                address,
                device,
                token,
                metadata,
                features,
            },
        );
    let send = (
        cow(name()),
        raw(),
        proptest::option::of(cow(text())),
        proptest::option::of(cow(text())),
        any::<bool>(),
        proptest::option::of(cow(name())),
        any::<bool>(),
    )
        .prop_map(
            |(to, payload, correlation_id, in_reply_to, ack, msg_id, receipt)| ClientFrame::Send {
                to,
                payload,
                correlation: Correlation {
                    correlation_id,
                    in_reply_to,
                },
                ack,
                msg_id,
                receipt,
            },
        );
    let publish = (cow(name()), raw(), proptest::option::of(cow(name()))).prop_map(
        |(topic, payload, msg_id)| ClientFrame::Publish {
            topic,
            payload,
            msg_id,
        },
    );
    let subscribe = (
        cow(name()),
        proptest::option::of((cow(name()), any::<u64>())),
        proptest::option::of(cow(text())),
    )
        .prop_map(|(topic, since, token)| ClientFrame::Subscribe {
            topic,
            since: since.map(|(epoch, offset)| StreamPosition { epoch, offset }),
            token,
        });
    let broadcast = (
        prop_oneof![
            Just(BroadcastTarget::All),
            prop::collection::vec(name(), 1..4).prop_map(BroadcastTarget::List),
        ],
        raw(),
        proptest::option::of(cow(name())),
    )
        .prop_map(|(to, payload, msg_id)| ClientFrame::Broadcast {
            to,
            payload,
            msg_id,
        });
    let presence = (
        cow(name()),
        proptest::option::of(1usize..=1000),
        proptest::option::of(cow(name())),
    )
        .prop_map(|(topic, limit, after)| ClientFrame::Presence {
            topic,
            limit,
            after,
        });
    prop_oneof![
        connect,
        send,
        publish,
        subscribe,
        cow(name()).prop_map(|topic| ClientFrame::Unsubscribe { topic }),
        broadcast,
        presence,
        cow(name()).prop_map(|topic| ClientFrame::PresenceStats { topic }),
        cow(name()).prop_map(|address| ClientFrame::Watch { address }),
        cow(name()).prop_map(|address| ClientFrame::Unwatch { address }),
        cow(text()).prop_map(|token| ClientFrame::Refresh { token }),
        (cow(name()), cow(text()))
            .prop_map(|(topic, token)| ClientFrame::SubRefresh { topic, token }),
        any::<u64>().prop_map(|seq| ClientFrame::Ack { seq }),
        ("[A-Za-z0-9_.:/-]{1,40}", proptest::option::of(raw())).prop_map(|(method, data)| {
            ClientFrame::Rpc {
                method: Cow::Owned(method),
                data,
            }
        }),
        Just(ClientFrame::Ping),
        Just(ClientFrame::Disconnect),
    ]
}

fn server_frame() -> impl Strategy<Value = ServerFrame<'static>> {
    let limits = prop::array::uniform8(0u32..=u32::MAX).prop_map(|n| LimitsInfo {
        max_message_bytes: n[0] as usize,
        rate_limit_per_sec: n[1],
        rate_limit_burst: n[2],
        max_topics_per_session: n[3] as usize,
        max_subscribers_per_topic: n[4] as usize,
        broadcast_max_recipients: n[5] as usize,
        outbound_queue_frames: n[6] as usize,
        outbound_queue_bytes: n[7] as usize,
    });
    let connected = (
        echoed(),
        cow(text()),
        cow(name()),
        any::<u32>(),
        any::<(u64, u64)>(),
        limits,
        prop::collection::vec(cow(name()), 0..3),
    )
        .prop_map(
            |(id, session_id, address, version, (every, timeout), limits, features)| {
                ServerFrame::Connected(Connected {
                    id,
                    session_id,
                    address,
                    protocol_version: version,
                    heartbeat_interval_ms: every,
                    heartbeat_timeout_ms: timeout,
                    limits: Cow::Owned(limits),
                    features,
                })
            },
        );
    let status = prop_oneof![
        Just(DeliveryStatus::Accepted),
        Just(DeliveryStatus::Queued),
        Just(DeliveryStatus::Rejected)
    ];
    let delivery = (echoed(), cow(name()), status, proptest::option::of(code())).prop_map(
        |(id, to, status, reason)| {
            ServerFrame::DeliveryAck(DeliveryAck {
                id,
                to,
                status,
                reason,
            })
        },
    );
    let topic_ack = (
        echoed(),
        cow(name()),
        proptest::option::of(cow(name())),
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(|(id, topic, epoch, offset, recovered)| TopicAck {
            id,
            topic,
            epoch,
            offset,
            recovered,
        })
        .boxed();
    let publish_ack = (
        echoed(),
        cow(name()),
        any::<u32>(),
        proptest::option::of(any::<u64>()),
    )
        .prop_map(|(id, topic, recipients, offset)| {
            ServerFrame::PublishAck(PublishAck {
                id,
                topic,
                recipients: recipients as usize,
                offset,
            })
        });
    let broadcast_ack = (
        echoed(),
        any::<u32>(),
        prop::collection::vec(cow(name()), 0..3),
    )
        .prop_map(|(id, recipients, not_found)| {
            ServerFrame::BroadcastAck(BroadcastAck {
                id,
                recipients: recipients as usize,
                not_found,
            })
        });
    let message = (
        proptest::option::of(cow(name())),
        cow(name()),
        proptest::option::of(cow(text())),
        proptest::option::of(cow(text())),
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<u64>()),
        raw(),
    )
        .prop_map(
            |(topic, from, correlation_id, in_reply_to, seq, offset, payload)| {
                ServerFrame::Message(Message {
                    topic,
                    from,
                    correlation_id,
                    in_reply_to,
                    seq,
                    offset,
                    payload,
                })
            },
        );
    let disconnect = (
        any::<u16>(),
        cow(text()),
        any::<bool>(),
        proptest::option::of(any::<u64>()),
        cow(text()),
    )
        .prop_map(|(code, reason, reconnect, retry_after_ms, hint)| {
            ServerFrame::Disconnect(Disconnect {
                code,
                reason,
                reconnect,
                retry_after_ms,
                hint,
            })
        });
    let rate_limited = (echoed(), code(), any::<u64>(), cow(text())).prop_map(
        |(id, code, retry_after_ms, hint)| {
            ServerFrame::RateLimited(RateLimited {
                id,
                code,
                retry_after_ms,
                hint,
            })
        },
    );
    let error = (
        echoed(),
        code(),
        cow(text()),
        cow(text()),
        any::<bool>(),
        proptest::option::of(cow(name())),
    )
        .prop_map(|(id, code, message, hint, temporary, reason)| {
            ServerFrame::Error(Error {
                id,
                code,
                message,
                hint,
                temporary,
                reason,
            })
        });
    let rpc_ack = (echoed(), raw()).prop_map(|(id, data)| ServerFrame::RpcAck(RpcAck { id, data }));
    let receipt = (
        echoed(),
        proptest::option::of(cow(name())),
        cow(name()),
        prop_oneof![Just(ReceiptStatus::Delivered), Just(ReceiptStatus::Expired)],
        proptest::option::of(any::<u64>()),
    )
        .prop_map(|(id, msg_id, to, status, seq)| {
            ServerFrame::Receipt(Receipt {
                id,
                msg_id,
                to,
                status,
                seq,
            })
        });
    let member = (cow(name()), optional_raw()).prop_map(|(address, info)| Member { address, info });
    let presence_ack = (
        echoed(),
        cow(name()),
        prop::collection::vec(member, 0..4),
        proptest::option::of(cow(name())),
    )
        .prop_map(|(id, topic, members, next)| {
            ServerFrame::PresenceAck(PresenceAck {
                id,
                topic,
                members,
                next,
            })
        });
    let stats = (echoed(), cow(name()), any::<u32>()).prop_map(|(id, topic, members)| {
        ServerFrame::PresenceStatsAck(PresenceStatsAck {
            id,
            topic,
            members: members as usize,
        })
    });
    let watch_ack = (echoed(), cow(name()), proptest::option::of(any::<bool>()))
        .prop_map(|(id, address, online)| WatchAck {
            id,
            address,
            online,
        })
        .boxed();
    let member_event = (cow(name()), cow(name()), optional_raw())
        .prop_map(|(topic, address, info)| MemberEvent {
            topic,
            address,
            info,
        })
        .boxed();
    let address_event = cow(name())
        .prop_map(|address| AddressEvent { address })
        .boxed();
    let echo = echoed().prop_map(|id| Echo { id }).boxed();
    prop_oneof![
        connected,
        delivery,
        topic_ack.clone().prop_map(ServerFrame::SubscribeAck),
        topic_ack.clone().prop_map(ServerFrame::UnsubscribeAck),
        topic_ack.clone().prop_map(ServerFrame::SubRefresh),
        topic_ack.clone().prop_map(ServerFrame::Subscribed),
        topic_ack.prop_map(ServerFrame::SubRefreshAck),
        (cow(name()), cow(name()))
            .prop_map(|(topic, reason)| ServerFrame::Unsubscribed(Unsubscribed { topic, reason })),
        publish_ack,
        broadcast_ack,
        message,
        echo.clone().prop_map(ServerFrame::Pong),
        echo.clone().prop_map(ServerFrame::DisconnectAck),
        disconnect,
        rate_limited,
        error,
        echo.clone().prop_map(ServerFrame::Refresh),
        echo.prop_map(ServerFrame::RefreshAck),
        receipt,
        presence_ack,
        stats,
        watch_ack.clone().prop_map(ServerFrame::WatchAck),
        watch_ack.prop_map(ServerFrame::UnwatchAck),
        member_event.clone().prop_map(ServerFrame::Join),
        member_event.prop_map(ServerFrame::Leave),
        address_event.clone().prop_map(ServerFrame::Online),
        address_event.prop_map(ServerFrame::Offline),
        rpc_ack,
    ]
}

fn parsed(text: &str) -> Value {
    serde_json::from_str(text).expect("a frame is JSON")
}

proptest! {
    // No regression files: a failure prints its minimal input.
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_client_frame_survives_a_round_trip(
        id in proptest::option::of(frame_id()),
        frame in client_frame(),
    ) {
        // An RPC needs an id (its answer is matched by it).
        let id = match frame {
            ClientFrame::Rpc { .. } => id.or(Some(FrameId::Num(1))),
            _ => id,
        };
        let request = Request { id, frame };
        let first = request.to_json().unwrap();
        prop_assert!(!first.contains('\n'), "one line: {}", first);
        let decoded = Request::decode(&first)
            .map_err(|e| TestCaseError::fail(format!("{e:?} for {first}")))?;
        let again = decoded.to_json().unwrap();
        prop_assert_eq!(parsed(&first), parsed(&again));
    }

    #[test]
    fn every_server_frame_survives_a_round_trip(frame in server_frame()) {
        let first = frame.to_json();
        prop_assert!(!first.contains('\n'), "one line: {}", first);
        let decoded = ServerFrame::decode(&first)
            .map_err(|e| TestCaseError::fail(format!("{e} for {first}")))?;
        let again = decoded.to_json();
        prop_assert_eq!(parsed(&first), parsed(&again));
    }
}
