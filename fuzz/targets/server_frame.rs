//! The decoder of server frames (what hub-client parses from the network).
fn main() {
    afl::fuzz!(|data: &[u8]| {
        if let Ok(text) = std::str::from_utf8(data) {
            let _ = hub_core::protocol::ServerFrame::decode(text);
        }
    });
}
