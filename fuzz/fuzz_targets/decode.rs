//! Fuzzes the control-protocol decoder: arbitrary bytes, cut into reads at positions taken
//! from the input itself, go through the line decoder and both frame decoders. Nothing may
//! panic and the decoder may never hold more than its limit.
//!
//! Run with `cargo +nightly fuzz run decode` from the repository root.

#![no_main]

use headroom_ipc::{decode_client_frame, decode_server_frame, LineDecoder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // First byte picks the read size, so splits vary with the input.
    let (chunk, rest) = match data.split_first() {
        Some((c, rest)) => (usize::from(*c).max(1), rest),
        None => return,
    };
    for limit in [64, headroom_ipc::MAX_FRAME_BYTES] {
        let mut decoder = LineDecoder::new(limit);
        for piece in rest.chunks(chunk) {
            let mut input = piece;
            while let Some(item) = decoder.next_frame(&mut input) {
                if let Ok(frame) = item {
                    assert!(frame.len() <= limit);
                    let _ = decode_client_frame(&frame);
                    let _ = decode_server_frame(&frame);
                }
                assert!(decoder.buffered() <= limit);
            }
            assert!(input.is_empty());
            assert!(decoder.buffered() <= limit);
        }
    }
    // Whole input as a single frame, too.
    let _ = decode_client_frame(rest);
    let _ = decode_server_frame(rest);
});
