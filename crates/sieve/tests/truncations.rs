//! What the fuzz target `sieve_script` checks, on every prefix of a script
//! that uses every extension: each compiles or fails with a position, and
//! each that compiles runs to an outcome or a runtime error.

mod support;

use havre_sieve::{Limits, Message, Script, apply_header_edits, check};
use support::*;

const EVERYTHING: &str = r#"require ["fileinto", "reject", "envelope", "encoded-character", "vacation",
  "subaddress", "comparator-i;ascii-numeric", "relational", "regex", "body", "copy",
  "include", "variables", "imap4flags", "mailbox", "date", "index", "duplicate",
  "editheader", "spamtestplus", "virustest", "environment", "ereject", "vacation-seconds"];
# a comment
/* and another */
if allof (header :matches "subject" "*caf?*", not exists "x-nope",
          address :user :comparator "i;octet" "to" "roadrunner") {
    set :upper "s" "${1}";
    fileinto :copy :create :flags ["\\Seen", "$x"] "Box/${s}";
} elsif anyof (envelope :detail "to" "birds", body :content "text" :contains "words",
               size :over 1K, date :index 1 :zone "+0100" "date" "year" "1997") {
    addflag "\\Flagged";
    redirect :copy "a@example.com";
} else {
    keep;
}
if string :regex "${s}" "^(C)A" { addheader :last "X-Got" "${1}${hex:21}"; }
if duplicate :seconds 60 { discard; }
if spamtest :percent :value "ge" "0" { deleteheader :index 1 :matches "x-got" "*"; }
if virustest :count "eq" "1" { stop; }
if environment :is "phase" "during" { vacation :days 3 :subject "away" text:
Gone fishing.
..
.
; }
if currentdate :value "gt" "year" "2000" { ereject "bye"; }
"#;

#[test]
fn every_prefix_compiles_or_fails_with_a_position() {
    let raw = crlf(SIMPLE);
    let message = Message::parse(raw.as_bytes());
    let limits = Limits::default();
    let mut compiled = 0;
    for (cut, _) in EVERYTHING.char_indices() {
        let source = &EVERYTHING[..cut];
        let errors = check(source, &limits);
        match Script::compile(source, &limits) {
            Ok(script) => {
                compiled += 1;
                assert!(errors.is_empty());
                if let Ok(outcome) = script.run(&message, &envelope(), &TestHost::default()) {
                    let _ = outcome.to_string();
                    let _ = apply_header_edits(raw.as_bytes(), &outcome.header_edits);
                }
            }
            Err(error) => {
                assert_eq!(errors.first(), Some(&error), "{source}");
                assert!(error.line >= 1 && error.column >= 1);
            }
        }
    }
    assert!(compiled > 5, "only {compiled} prefixes compiled");
}

#[test]
fn the_whole_script_runs() {
    let outcome = run(EVERYTHING, SIMPLE);
    // The subject has no "caf", the recipient's detail is "birds"; the
    // virus verdict (not tested) is one value, so the count is 1: stop.
    assert_eq!(
        lines(&outcome),
        [
            "redirect \"a@example.com\" :copy",
            "implicit keep (flags: \\Flagged)",
            "duplicate mark \"\" \"<1234@desert.example.org>\" for 60s",
        ]
    );
}
