//! The DATA decoder on any bytes, split at any point: the result must not
//! depend on how the network cut the stream, and the output never holds the
//! end marker.
#![no_main]

use havre_smtp_codec::DotDecoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u16, &[u8])| {
    let (split, bytes) = input;
    let split = (split as usize).min(bytes.len());
    let mut whole = DotDecoder::default();
    let (used_whole, done_whole) = whole.decode(bytes);
    let out_whole = whole.take();

    let mut parts = DotDecoder::default();
    let (used_first, done_first) = parts.decode(&bytes[..split]);
    let mut out_parts = parts.take();
    let (used, done) = if done_first {
        (used_first, true)
    } else {
        let (used_second, done_second) = parts.decode(&bytes[split..]);
        out_parts.extend(parts.take());
        (split + used_second, done_second)
    };
    assert_eq!(done, done_whole);
    assert_eq!(used, used_whole);
    assert_eq!(out_parts, out_whole);
    assert!(out_whole.len() <= used_whole);
});
