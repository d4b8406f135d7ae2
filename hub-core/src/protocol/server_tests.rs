//! Tests of `server`.

use super::*;

#[test]
fn message_frame_embeds_payload_verbatim() {
    let payload = RawValue::from_string(r#"{"x": 1}"#.into()).unwrap();
    let text = ServerFrame::Message(Message {
        topic: Some("t".into()),
        from: "a".into(),
        correlation_id: None,
        in_reply_to: None,
        seq: None,
        offset: None,
        payload: Cow::Borrowed(&payload),
    })
    .to_json();
    assert_eq!(
        text,
        r#"{"type":"hub:message","topic":"t","from":"a","payload":{"x": 1}}"#
    );
}

#[test]
fn every_frame_reads_back_as_it_was_written() {
    let limits = LimitsInfo {
        max_message_bytes: 1,
        rate_limit_per_sec: 2,
        rate_limit_burst: 3,
        max_topics_per_session: 4,
        max_subscribers_per_topic: 5,
        broadcast_max_recipients: 6,
        outbound_queue_frames: 7,
        outbound_queue_bytes: 8,
    };
    let id = FrameId::Str("q\"1".into());
    let frames = [
        ServerFrame::Connected(Connected {
            id: Some(Cow::Borrowed(&id)),
            session_id: "s".into(),
            address: "a".into(),
            protocol_version: PROTOCOL_VERSION,
            heartbeat_interval_ms: 1,
            heartbeat_timeout_ms: 2,
            limits: Cow::Borrowed(&limits),
            features: vec!["batch".into()],
        }),
        ServerFrame::DeliveryAck(DeliveryAck {
            id: Some(Cow::Owned(FrameId::Num(9))),
            to: "b".into(),
            status: DeliveryStatus::Rejected,
            reason: Some(ErrorCode::RecipientSlow),
        }),
        ServerFrame::BroadcastAck(BroadcastAck {
            id: None,
            recipients: 2,
            not_found: vec!["x".into()],
        }),
        ServerFrame::Error(Error {
            id: None,
            code: ErrorCode::TopicFull,
            message: "full".into(),
            hint: ErrorCode::TopicFull.hint().into(),
            temporary: true,
            reason: None,
        }),
        ServerFrame::PresenceAck(PresenceAck {
            id: None,
            topic: "t".into(),
            members: vec![super::super::presence::Member {
                address: "a".into(),
                info: Some(Cow::Owned(
                    RawValue::from_string(r#"{"name":"A"}"#.into()).unwrap(),
                )),
            }],
            next: Some("a".into()),
        }),
        ServerFrame::PresenceStatsAck(PresenceStatsAck {
            id: None,
            topic: "t".into(),
            members: 3,
        }),
        ServerFrame::WatchAck(WatchAck {
            id: None,
            address: "b".into(),
            online: Some(true),
        }),
        ServerFrame::Leave(MemberEvent {
            topic: "t".into(),
            address: "a".into(),
            info: None,
        }),
        ServerFrame::Offline(AddressEvent {
            address: "b".into(),
        }),
        ServerFrame::Disconnect(Disconnect {
            code: 4000,
            reason: "server_shutdown".into(),
            reconnect: true,
            retry_after_ms: Some(1500),
            hint: "later".into(),
        }),
    ];
    for frame in frames {
        let text = frame.to_json();
        let back = ServerFrame::decode(&text).unwrap();
        assert_eq!(back.to_json(), text, "round trip of {text}");
    }
}

#[test]
fn unknown_types_and_codes_from_newer_servers() {
    assert!(matches!(
        ServerFrame::decode(r#"{"type":"hub:future"}"#),
        Err(ServerDecodeError::UnknownType(t)) if t == "hub:future"
    ));
    let frame = ServerFrame::decode(
        r#"{"type":"hub:error","code":"brand_new","message":"m","hint":"h","temporary":false}"#,
    )
    .unwrap();
    assert!(matches!(frame, ServerFrame::Error(e) if e.code == ErrorCode::Internal));
}
