//! The server's reading of client frames: codes, ids and field names in every error.

use super::*;

fn err(text: &str) -> DecodeError {
    Request::decode(text).unwrap_err()
}

#[test]
fn decodes_send_with_raw_payload_and_id() {
    let r =
        Request::decode(r#"{"type":"hub:send","id":7,"to":"bob","payload":{"a":[1,2]}}"#).unwrap();
    assert_eq!(r.id, Some(FrameId::Num(7)));
    match r.frame {
        ClientFrame::Send {
            to,
            payload,
            correlation,
            ack,
            msg_id,
            receipt,
        } => {
            assert_eq!(msg_id, None);
            assert!(!receipt, "no receipt unless asked");
            assert!(ack, "acks are on by default");
            assert_eq!(correlation, Correlation::default());
            assert_eq!(to, "bob");
            assert_eq!(payload.get(), r#"{"a":[1,2]}"#);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn bad_input_gets_distinct_codes() {
    assert_eq!(err("{not json").code, ErrorCode::BadJson);
    // An array is not read as an object by position: no id, no type.
    for text in ["[1,2]", r#" ["hub:ping", 5]"#, r#"[{"type":"hub:ping"}]"#] {
        let e = err(text);
        assert_eq!((e.code, e.id), (ErrorCode::BadJson, None), "{text}");
    }
    assert_eq!(err(r#"{"id":"x"}"#).code, ErrorCode::MissingType);
    let e = err(r#"{"type":"hub:nope","id":"x"}"#);
    assert_eq!(e.code, ErrorCode::UnknownType);
    assert_eq!(e.id, Some(FrameId::Str("x".into())));
    assert_eq!(
        err(r#"{"type":"hub:publish","payload":1}"#).code,
        ErrorCode::MissingField
    );
    assert_eq!(
        err(r#"{"type":"hub:send","to":["a"],"payload":1}"#).code,
        ErrorCode::InvalidField
    );
    assert_eq!(
        err(r#"{"type":"hub:broadcast","to":5,"payload":1}"#).code,
        ErrorCode::InvalidField
    );
}

#[test]
fn a_field_of_the_wrong_type_is_invalid_field_with_the_id() {
    let cases = [
        r#"{"type":"hub:subscribe","id":3,"topic":5}"#,
        r#"{"type":"hub:publish","id":3,"topic":["t"],"payload":1}"#,
        r#"{"type":"hub:connect","id":3,"address":{"a":1}}"#,
        r#"{"type":"hub:connect","id":3,"address":"a","token":7}"#,
        r#"{"type":"hub:send","id":3,"to":"b","payload":1,"ack":"yes"}"#,
        r#"{"type":"hub:send","id":3,"to":"b","payload":1,"correlation_id":1}"#,
    ];
    for text in cases {
        let e = err(text);
        assert_eq!(e.code, ErrorCode::InvalidField, "{text}");
        assert_eq!(e.id, Some(FrameId::Num(3)), "{text}");
        assert!(e.message.contains('`'), "names the field: {}", e.message);
    }
    let e = err(r#"{"type":5,"id":"x"}"#);
    assert_eq!(
        (e.code, e.id),
        (ErrorCode::BadJson, Some(FrameId::Str("x".into())))
    );
    let e = err(r#"{"type":"hub:ping","id":true}"#);
    assert_eq!((e.code, e.id), (ErrorCode::InvalidField, None));
}

#[test]
fn null_optional_fields_count_as_absent() {
    let r = Request::decode(
        r#"{"type":"hub:send","id":null,"to":"b","payload":null,"ack":null,"correlation_id":null}"#,
    )
    .unwrap();
    assert_eq!(r.id, None);
    match r.frame {
        ClientFrame::Send {
            payload,
            ack,
            correlation,
            ..
        } => {
            assert_eq!(payload.get(), "null", "a null payload is a payload");
            assert!(ack);
            assert_eq!(correlation, Correlation::default());
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        err(r#"{"type":"hub:subscribe","topic":null}"#).code,
        ErrorCode::MissingField
    );
}

#[test]
fn escaped_strings_are_decoded_not_refused() {
    let r = Request::decode(r#"{"type":"hub:send","to":"a\"b\u00e9","payload":1}"#).unwrap();
    match r.frame {
        ClientFrame::Send { to, .. } => assert_eq!(to, "a\"b\u{e9}"),
        other => panic!("unexpected {other:?}"),
    }
    let r = Request::decode(r#"{"type":"hub:subscribe","topic":"caf\u00e9"}"#).unwrap();
    assert!(
        matches!(r.frame, ClientFrame::Subscribe { topic, since: None, token: None } if topic == "caf\u{e9}")
    );
}

#[test]
fn broadcast_target_is_star_or_list() {
    let r = Request::decode(r#"{"type":"hub:broadcast","to":"*","payload":null}"#).unwrap();
    assert!(matches!(
        r.frame,
        ClientFrame::Broadcast {
            to: BroadcastTarget::All,
            ..
        }
    ));
    let r = Request::decode(r#"{"type":"hub:broadcast","to":["a","b"],"payload":null}"#).unwrap();
    match r.frame {
        ClientFrame::Broadcast {
            to: BroadcastTarget::List(l),
            ..
        } => assert_eq!(l, ["a", "b"]),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn send_carries_correlation_ids() {
    let r = Request::decode(
        r#"{"type":"hub:send","to":"b","payload":1,"correlation_id":"r1","in_reply_to":"q9"}"#,
    )
    .unwrap();
    match r.frame {
        ClientFrame::Send { correlation, .. } => {
            assert_eq!(correlation.as_refs().correlation_id, Some("r1"));
            assert_eq!(correlation.as_refs().in_reply_to, Some("q9"));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn every_frame_a_client_builds_decodes_to_the_same_frame() {
    let payload = RawValue::from_string(r#"{"k": [1, "two"]}"#.into()).unwrap();
    let frames = [
        ClientFrame::Connect {
            address: "alice".into(),
            device: Some("tab-1".into()),
            token: Some("t".into()),
            metadata: Some(Cow::Owned(payload.clone())),
            features: vec!["batch".into()],
        },
        ClientFrame::Send {
            to: "b\"ob".into(),
            payload: Cow::Owned(payload.clone()),
            correlation: Correlation {
                correlation_id: Some("c".into()),
                in_reply_to: None,
            },
            ack: false,
            msg_id: Some("m1".into()),
            receipt: true,
        },
        ClientFrame::Publish {
            topic: "t".into(),
            payload: Cow::Owned(payload.clone()),
            msg_id: None,
        },
        ClientFrame::Subscribe {
            topic: "t".into(),
            since: None,
            token: Some("tok".into()),
        },
        ClientFrame::SubRefresh {
            topic: "t".into(),
            token: "tok".into(),
        },
        ClientFrame::Unsubscribe { topic: "t".into() },
        ClientFrame::Broadcast {
            to: BroadcastTarget::All,
            payload: Cow::Owned(payload.clone()),
            msg_id: None,
        },
        ClientFrame::Broadcast {
            to: BroadcastTarget::List(vec!["a".into(), "b".into()]),
            payload: Cow::Owned(payload),
            msg_id: Some("m2".into()),
        },
        ClientFrame::Refresh {
            token: "new".into(),
        },
        ClientFrame::Presence {
            topic: "t".into(),
            limit: Some(10),
            after: Some("a".into()),
        },
        ClientFrame::Presence {
            topic: "t".into(),
            limit: None,
            after: None,
        },
        ClientFrame::PresenceStats { topic: "t".into() },
        ClientFrame::Watch {
            address: "b".into(),
        },
        ClientFrame::Unwatch {
            address: "b".into(),
        },
        ClientFrame::Ping,
        ClientFrame::Disconnect,
    ];
    for (i, frame) in frames.into_iter().enumerate() {
        let request = Request {
            id: Some(FrameId::Num(i as u64)),
            frame,
        };
        let text = request.to_json().unwrap();
        let back = Request::decode(&text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
        assert_eq!(back.id, request.id);
        assert_eq!(
            format!("{:?}", back.frame),
            format!("{:?}", request.frame),
            "{text}"
        );
    }
}

#[test]
fn a_presence_limit_outside_its_range_is_refused_by_name() {
    for limit in ["0", "1001", "-1", "\"ten\""] {
        let text = format!(r#"{{"type":"hub:presence","id":4,"topic":"t","limit":{limit}}}"#);
        let e = Request::decode(&text).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidField, "{text}");
        assert!(e.message.contains("limit"), "{}", e.message);
        assert_eq!(e.id, Some(FrameId::Num(4)));
    }
}
