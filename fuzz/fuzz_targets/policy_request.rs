//! Postfix policy requests from any bytes, cut at any points: the frames must
//! not depend on how the network cut the stream, a decoder never keeps more
//! than one line's worth of a line, and every request read re-encodes to
//! bytes that decode to the same request.
#![no_main]

use havre_policy_proto::{Decoder, Frame, Limits};
use libfuzzer_sys::fuzz_target;

/// Small limits, so the fuzzer reaches them.
const LIMITS: Limits = Limits {
    line_length: 64,
    attributes: 8,
};

/// Every frame of `bytes`, fed in pieces that end at the `cuts`.
fn frames(bytes: &[u8], cuts: &[u8]) -> (Vec<Frame>, bool) {
    let mut decoder = Decoder::new(LIMITS);
    let mut out = Vec::new();
    let mut start = 0;
    let mut ends: Vec<usize> = cuts
        .iter()
        .map(|&c| c as usize * bytes.len() / 256)
        .collect();
    ends.push(bytes.len());
    ends.sort_unstable();
    for end in ends {
        let piece = &bytes[start.min(end)..end];
        let mut at = 0;
        while at < piece.len() {
            let (n, frame) = decoder.decode(&piece[at..]);
            assert!(n > 0 && n <= piece.len() - at, "decode takes some of what it is given");
            at += n;
            out.extend(frame);
        }
        start = start.max(end);
    }
    (out, decoder.in_request())
}

fuzz_target!(|input: (Vec<u8>, &[u8])| {
    let (cuts, bytes) = input;
    let whole = frames(bytes, &[]);
    let cut = frames(bytes, &cuts);
    assert_eq!(whole, cut);
    for frame in &whole.0 {
        if let Frame::Request(request) = frame {
            assert!(request.len() <= LIMITS.attributes);
            let again = frames(&request.encode(), &[]);
            assert_eq!(again, (vec![frame.clone()], false));
        }
    }
});
