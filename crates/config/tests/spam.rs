//! `[spam]`: Rspamd's thresholds and the seeds' marking by default, what an
//! operator writes (integers or decimals, weights by symbol name), and what
//! they are told when a value cannot work.

use havre_config::{Points, set, show_defaults, show_non_default};

mod common;
use common::{config, error_of};

#[test]
fn the_defaults_reject_at_15_tag_at_6_greylist_at_4_and_file_above_5_into_junk() {
    let shown = show_defaults();
    for (key, value) in [
        ("spam.enabled", "true"),
        ("spam.scan_submission", "false"),
        ("spam.reject", "15.0"),
        ("spam.add_header", "6.0"),
        ("spam.greylist", "4.0"),
        ("spam.junk_above", "5.0"),
        ("spam.level_high", "5.0"),
        ("spam.level_medium", "4.0"),
        ("spam.level_low", "3.0"),
        ("spam.subject_tag", "\"[SPAM] \""),
        ("spam.uribl", "[]"),
    ] {
        assert!(
            shown.contains(&(key.into(), value.into())),
            "{key} = {value} in {shown:?}"
        );
    }
}

#[test]
fn an_operator_writes_scores_as_integers_or_decimals_and_weights_by_symbol() {
    let cfg = config(
        "[spam]\nreject = 20\nadd_header = 7.5\nuribl = [\"multi.uribl.example\", \"dbl.example*2\"]\n\
         [spam.weights]\nMIME_HTML_ONLY = 1.5\nBAYES_HAM = -4\n",
    );
    assert_eq!(cfg.spam.reject, Points(20.0));
    assert_eq!(cfg.spam.add_header, Points(7.5));
    assert_eq!(cfg.spam.uribl.len(), 2);
    assert_eq!(cfg.spam.uribl[1].weight, 2);
    assert_eq!(cfg.spam.weights["MIME_HTML_ONLY"], Points(1.5));
    assert_eq!(cfg.spam.weights["BAYES_HAM"], Points(-4.0));
    let shown = show_non_default(&cfg);
    assert!(
        shown.contains(&("spam.weights.MIME_HTML_ONLY".into(), "1.5".into())),
        "{shown:?}"
    );
    assert!(
        shown.contains(&("spam.reject".into(), "20.0".into())),
        "{shown:?}"
    );
}

#[test]
fn havre_config_set_changes_a_threshold_and_a_weight() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("havre.toml");
    std::fs::write(&path, "[spam]\nenabled = true\n").unwrap();
    set(&path, "spam.reject", "12").unwrap();
    set(&path, "spam.weights.GTUBE", "500").unwrap();
    let cfg = config(&std::fs::read_to_string(&path).unwrap());
    assert_eq!(cfg.spam.reject, Points(12.0));
    assert_eq!(cfg.spam.weights["GTUBE"], Points(500.0));
}

#[test]
fn spam_values_that_cannot_work_are_refused_with_their_key() {
    let cases = [
        (
            "[spam]\ngreylist = 7\n",
            "spam.greylist: must not be above spam.add_header (7 > 6)",
        ),
        (
            "[spam]\nadd_header = 16\n",
            "spam.add_header: must not be above spam.reject (16 > 15)",
        ),
        (
            "[spam]\nlevel_low = 4.5\n",
            "spam.level_low: must not be above spam.level_medium (4.5 > 4)",
        ),
        ("[spam]\nreject = \"lots\"\n", "spam.reject"),
        ("[spam]\nreject = nan\n", "spam.reject"),
        ("[spam]\nuribl = [\"not a zone\"]\n", "spam.uribl"),
        (
            "[spam]\ndns_time_limit = 0\n",
            "spam.dns_time_limit: must be longer than 0s",
        ),
        ("[spam.weights]\nGTUBE = \"high\"\n", "spam.weights"),
    ];
    for (text, expected) in cases {
        let err = error_of(text);
        assert!(err.contains(expected), "{text}\n=> {err}");
    }
}
