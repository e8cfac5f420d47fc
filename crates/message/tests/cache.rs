//! The cache string of an Analysis: round trip, compactness, rejection.

mod common;

use common::*;
use havre_message::{Analysis, analyse};

fn fixtures() -> Vec<Vec<u8>> {
    let mut all: Vec<Vec<u8>> = [PLAIN, ALTERNATIVE, MIXED, FORWARDED, BROKEN]
        .iter()
        .map(|m| m.as_bytes().to_vec())
        .collect();
    all.push(LATIN1.to_vec());
    all.push(b"Subject: \"quoted\" \\ back\\slash\0nul\x01ctl\n\nx".to_vec());
    all.push(Vec::new());
    all
}

#[test]
fn analysis_survives_the_cache_unchanged() {
    for raw in fixtures() {
        let a = analyse(&raw);
        let cached = a.to_cache();
        assert!(!cached.contains(['\n', '\r']), "{cached}");
        let back = Analysis::from_cache(&cached).expect("valid cache");
        assert_eq!(back, a);
        assert_eq!(back.bodystructure(true), a.bodystructure(true));
        assert_eq!(back.envelope(), a.envelope());
        assert_eq!(back.size(), a.size());
        assert_eq!(back.sort_keys(), a.sort_keys());
    }
}

#[test]
fn cache_is_compact() {
    let a = analyse(FORWARDED.as_bytes());
    let cached = a.to_cache();
    // smaller than what it replaces: ENVELOPE + BODY + BODYSTRUCTURE
    let rendered = a.envelope().len() + a.bodystructure(false).len() + a.bodystructure(true).len();
    assert!(cached.len() < rendered, "{} >= {rendered}", cached.len());
    assert!(cached.starts_with("M3 ("));
}

#[test]
fn corrupt_or_foreign_cache_strings_are_refused() {
    let good = analyse(MIXED.as_bytes()).to_cache();
    for bad in ["", "M3 ", "M3 ()", "M1 (1 N N)", "(1 2 3)", "M3 (731 N N)"] {
        assert!(Analysis::from_cache(bad).is_none(), "{bad}");
    }
    for cut in 0..good.len() {
        if good.is_char_boundary(cut) {
            assert!(Analysis::from_cache(&good[..cut]).is_none());
        }
    }
    assert!(Analysis::from_cache(&format!("{good} ")).is_none());
    // offsets beyond the message size are refused
    assert!(Analysis::from_cache(&good.replacen("M3 (731 ", "M3 (7 ", 1)).is_none());
}

#[test]
fn a_cache_written_before_previews_existed_is_analysed_again() {
    // An M2 string (no PREVIEW) would give an empty preview forever if read.
    let current = analyse(MIXED.as_bytes()).to_cache();
    let body = current.strip_prefix("M3 (").expect("current format");
    let without_preview = body.rsplit_once(" \"").expect("preview is last").0;
    assert!(Analysis::from_cache(&format!("M2 ({without_preview})")).is_none());
}
