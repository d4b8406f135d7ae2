//! The codes' tables: unique, round-tripping, in their ranges.

use super::*;
use std::collections::HashSet;

#[test]
fn error_codes_are_unique_and_round_trip() {
    let mut seen = HashSet::new();
    for code in ALL_ERROR_CODES {
        assert!(seen.insert(code.as_str()), "duplicate {}", code.as_str());
        assert_eq!(ErrorCode::from_wire(code.as_str()), Some(*code));
        assert!(!code.hint().is_empty());
    }
}

#[test]
fn close_codes_are_unique_and_in_their_ranges() {
    let mut numbers = HashSet::new();
    for code in ALL_CLOSE_CODES {
        assert!(numbers.insert(code.number()));
        assert_eq!(CloseCode::from_number(code.number()), Some(*code));
        // The reason must fit a close frame (123 bytes).
        assert!(code.as_str().len() <= 123);
        // RFC 6455's own codes, or the hub's in the private range.
        assert!(
            [1000, 1002, 1007].contains(&code.number()) || (4000..5000).contains(&code.number()),
            "{code}"
        );
        assert_eq!(code.is_hubs_own(), code.number() >= 4000);
    }
    assert!(CloseCode::ServerShutdown.reconnect());
    assert!(CloseCode::SlowConsumer.reconnect());
    assert!(!CloseCode::DuplicateConnection.reconnect());
    assert!(!CloseCode::Policy.reconnect());
    assert!(!CloseCode::ProtocolError.reconnect());
    assert!(!CloseCode::InvalidPayload.reconnect());
    assert!(!CloseCode::Normal.reconnect());
}
