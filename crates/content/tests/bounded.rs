//! Bad input stays bounded: MIME bombs, zip bombs, broken encodings and
//! huge messages give an analysis quickly, with the limits they reached.

use std::time::{Duration, Instant};

use havre_content::{Limits, analyze};

/// Generous: these run unoptimised on a shared 2-core machine; an
/// unbounded analysis of the same inputs takes far longer or never ends.
const QUICK: Duration = Duration::from_secs(20);

fn timed(raw: &[u8]) -> (havre_content::Content, Duration) {
    let start = Instant::now();
    let content = analyze(raw, &Limits::default());
    (content, start.elapsed())
}

#[test]
fn messages_attached_inside_each_other_a_hundred_thousand_deep_stop_at_the_depth_limit() {
    let level = b"Content-Type: message/rfc822\r\n\r\n";
    let mut raw = b"From: a@example.com\r\nSubject: deep\r\n".to_vec();
    while raw.len() + level.len() < 4 * 1024 * 1024 - 100 {
        raw.extend_from_slice(level);
    }
    raw.extend_from_slice(b"\r\nbottom\r\n");
    let (content, took) = timed(&raw);
    eprintln!("message/rfc822 x {}: {took:?}", raw.len() / level.len());
    assert!(content.limits_hit.depth, "{:?}", content.limits_hit);
    assert!(took < QUICK, "{took:?}");
}
