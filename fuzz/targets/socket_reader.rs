//! The socket reader: WebSocket framing from raw client bytes (masks,
//! opcodes, continuations, the max_message_bytes check from the header,
//! UTF-8), with a small limit so that the oversized paths are reached.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        hub_core::bench_support::read_client_bytes(data, 256);
    });
}
