//! The decoder of client frames (what every session parses from the
//! network): any text decodes or is refused with an error, without a
//! panic; what decodes encodes again to a frame that decodes the same.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        if let Ok(frame) = hub_core::protocol::client::Request::decode(text) {
            let again = frame.to_json().expect("a decoded frame encodes");
            let back = hub_core::protocol::client::Request::decode(&again)
                .expect("an encoded frame decodes");
            assert_eq!(
                format!("{frame:?}"),
                format!("{back:?}"),
                "round trip of {text}"
            );
        }
    });
}
