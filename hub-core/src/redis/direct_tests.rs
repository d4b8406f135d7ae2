//! Tests of `direct`.

use super::*;

#[test]
fn another_node_s_status_becomes_the_same_outcome_here() {
    assert_eq!(status_to_result("ok", "bob"), Ok(DeliveryStatus::Accepted));
    assert_eq!(
        status_to_result("queued", "bob"),
        Ok(DeliveryStatus::Queued)
    );
    assert_eq!(
        status_to_result("recipient_slow", "bob"),
        Err(HubError::RecipientSlow("bob".into()))
    );
    assert_eq!(
        status_to_result("recipient_not_found", "bob"),
        Err(HubError::RecipientNotFound("bob".into()))
    );
    assert!(matches!(
        status_to_result("nonsense", "bob"),
        Err(HubError::Unavailable(_))
    ));
}

#[test]
fn an_envelope_without_outcome_says_so_and_one_with_it_stays_short() {
    let payload = RawValue::from_string(r#"{"a":1}"#.into()).unwrap();
    let mut envelope = Envelope {
        node: "00000000000000ff",
        req: 7,
        to: "bob".into(),
        // Names JSON escapes read back too (owned, not borrowed).
        from: r#"al"i\ce"#.into(),
        payload: &payload,
        correlation_id: Some("c".into()),
        in_reply_to: None,
        outcome: true,
    };
    let json = serde_json::to_string(&envelope).unwrap();
    assert!(!json.contains("outcome"), "{json}");
    let back: Envelope<'_> = serde_json::from_str(&json).unwrap();
    assert!(back.outcome);
    assert_eq!(
        (
            back.payload.get(),
            &*back.from,
            back.correlation_id.as_deref()
        ),
        (r#"{"a":1}"#, r#"al"i\ce"#, Some("c"))
    );
    envelope.outcome = false;
    let json = serde_json::to_string(&envelope).unwrap();
    let back: Envelope<'_> = serde_json::from_str(&json).unwrap();
    assert!(!back.outcome);
}
