//! The content analysis (havre-content) on any bytes a sender can put in a
//! message: it must not panic, and what it returns must respect the limits
//! it was given, with default limits and with tiny ones (so every limit is
//! reached often).
#![no_main]

use havre_content::{Content, Limits, analyze};
use libfuzzer_sys::fuzz_target;

fn check(content: &Content, raw: &[u8], limits: &Limits) {
    assert_eq!(content.size, raw.len());
    assert!(content.text.len() <= limits.max_text_bytes);
    assert!(content.hidden_text.len() <= limits.max_text_bytes);
    assert!(content.parts <= limits.max_parts);
    assert!(content.raw_header().len() <= limits.max_scan_bytes.min(raw.len()));
    for part in &content.text_parts {
        assert!(content.text.get(part.range.clone()).is_some(), "{part:?}");
    }
    for field in &content.headers {
        assert!(content.raw_header().get(field.raw.clone()).is_some(), "{field:?}");
    }
    assert!(content.url_hosts.len() <= limits.max_urls);
    assert!(content.email_domains.len() <= limits.max_urls);
    assert!(content.html.links.len() <= limits.max_urls);
    for host in content.url_hosts.iter().chain(&content.email_domains) {
        assert!(!host.is_empty() && host.len() <= 253, "{host:?}");
        assert!(!host.contains(|c: char| c.is_whitespace() || c.is_ascii_uppercase()), "{host:?}");
    }
    let entries: usize = content
        .attachments
        .iter()
        .filter_map(|a| a.archive.as_ref())
        .map(|a| a.entries.len())
        .sum();
    assert!(entries <= limits.max_archive_entries);
    for a in &content.attachments {
        for e in a.archive.iter().flat_map(|a| &a.entries) {
            assert!(e.depth >= 1 && e.depth <= limits.max_archive_depth);
        }
    }
    assert!((0.0..=1.0).contains(&content.capital_ratio()));
    assert!((0.0..=1.0).contains(&content.encoding.qp_max_encoded_ratio));
}

fuzz_target!(|raw: &[u8]| {
    let limits = Limits::default();
    check(&analyze(raw, &limits), raw, &limits);
    let tiny = Limits {
        max_scan_bytes: 2048,
        max_parts: 6,
        max_depth: 3,
        max_text_bytes: 256,
        max_urls: 4,
        max_archive_entries: 4,
        max_archive_depth: 1,
        max_inflate_bytes: 512,
    };
    check(&analyze(raw, &tiny), raw, &tiny);
});
