//! The extensions, each with the examples of its RFC written fresh.

mod support;

use havre_sieve::{Action, DuplicateMark, HeaderEdit, Location, Zoned, apply_header_edits};
use support::*;

#[test]
fn rfc3894_copy_keeps_the_implicit_keep() {
    let script = r#"require ["copy", "fileinto"];
fileinto :copy "Archive";
redirect :copy "backup@example.com";"#;
    assert_eq!(
        result(script, SIMPLE),
        [
            "fileinto \"Archive\" :copy",
            "redirect \"backup@example.com\" :copy",
            "implicit keep"
        ]
    );
}

#[test]
fn rfc5490_fileinto_create_and_mailboxexists() {
    let script = r#"require ["fileinto", "mailbox"];
if mailboxexists "Lists/sieve" { fileinto "Lists/sieve"; }
else { fileinto :create "Lists/new"; }"#;
    assert_eq!(result(script, SIMPLE), ["fileinto \"Lists/new\" :create"]);
    let host = TestHost {
        mailboxes: vec!["Lists/sieve".into()],
        ..TestHost::default()
    };
    assert_eq!(
        lines(&run_with(script, SIMPLE, &host)),
        ["fileinto \"Lists/sieve\""]
    );
}

#[test]
fn rfc5429_reject_and_ereject() {
    let script = r#"require "reject";
if header :contains "subject" "present" { reject "I don't want your present"; }"#;
    assert_eq!(
        result(script, SIMPLE),
        ["reject \"I don't want your present\""]
    );
    let script = r#"require "ereject"; ereject "no";"#;
    assert_eq!(
        run(script, SIMPLE).actions,
        [Action::Reject {
            reason: "no".into(),
            extended: true
        }]
    );
    let script = r#"require ["reject", "fileinto"]; fileinto "A"; reject "no";"#;
    let error = try_run_with(script, SIMPLE, &TestHost::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "line 1: reject cannot be combined with fileinto"
    );
}

#[test]
fn rfc5232_imap4flags() {
    let script = r#"require ["imap4flags", "fileinto"];
if header :contains "from" "coyote" {
    setflag "\\Flagged";
    addflag ["\\Seen", "$Work \\Seen"];
    fileinto "Boss";
    removeflag "\\Flagged";
}
if hasflag :contains "seen" { keep :flags "\\Answered"; }"#;
    assert_eq!(
        result(script, SIMPLE),
        [
            "fileinto \"Boss\" (flags: \\Flagged \\Seen $Work)",
            "keep (flags: \\Answered)"
        ]
    );
    // The implicit keep stores with the internal variable as it ends.
    let script = r#"require "imap4flags"; addflag "\\Seen";"#;
    let outcome = run(script, SIMPLE);
    assert!(outcome.implicit_keep);
    assert_eq!(outcome.keep_flags, ["\\Seen"]);
    assert_eq!(lines(&outcome), ["implicit keep (flags: \\Seen)"]);
}

#[test]
fn rfc5232_flags_in_variables() {
    let script = r#"require ["imap4flags", "variables"];
addflag "mine" ["a", "b"];
removeflag "mine" "A";
if hasflag :is "mine" "b" { discard; }
if hasflag :count "eq" :comparator "i;ascii-numeric" "mine" "1" { keep; }"#;
    let script = script.replace(
        "require [",
        "require [\"relational\", \"comparator-i;ascii-numeric\", ",
    );
    assert_eq!(result(&script, SIMPLE), ["discard", "keep"]);
}

#[test]
fn rfc5229_variables_and_match_variables() {
    let script = r#"require ["variables", "fileinto"];
set "honorific" "Mr";
set "first_name" "Wile";
set "last_name" "Coyote";
set "vacation" text:
Dear ${HONORIFIC} ${last_name},
I'm out, please leave a message after the meep.
.
;
if header :matches "Subject" "I * a * for *" {
    fileinto "${1}-${2}-${3}";
}
if string :matches "${vacation}" "Dear Mr Coyote,*I'm out,*meep.*" {
    keep;
}"#;
    assert_eq!(
        result(script, SIMPLE),
        ["fileinto \"have-present-you\"", "keep"]
    );
}

#[test]
fn rfc5229_match_variables_are_shortest_from_the_left() {
    let message = SIMPLE.replace(
        "Subject: I have a present for you",
        "Subject: [acme-users] [fwd] version 1.0 is out",
    );
    let script = r#"require ["variables", "fileinto"];
if header :matches "Subject" "[*] *" { fileinto "lists.${1}"; set "rest" "${2}"; }
if string :is "${rest}" "[fwd] version 1.0 is out" { keep; }"#;
    assert_eq!(
        result(script, &message),
        ["fileinto \"lists.acme-users\"", "keep"]
    );
    let script = r#"require ["variables", "fileinto"];
if address :matches "from" "*@*" { fileinto "from.${2}.${1}"; }"#;
    assert_eq!(
        result(script, SIMPLE),
        ["fileinto \"from.desert.example.org.coyote\""]
    );
}

#[test]
fn rfc5229_modifiers_and_string_test() {
    let script = r#"require "variables";
set :upperfirst :lower "a" "jUMBLED";
set :length "n" "${a}";
set :quotewildcard "q" "*?";
if allof (string :is "${a}" "Jumbled", string :is "${n}" "7", string :matches "*?" "${q}") { discard; }"#;
    assert_eq!(result(script, SIMPLE), ["discard"]);
    assert_eq!(
        compile_error("require \"variables\"; set :lower :upper \"a\" \"b\";"),
        "line 1, column 33: modifiers :lower and :upper cannot be used together"
    );
    assert_eq!(
        compile_error("require \"variables\"; set \"1\" \"b\";"),
        "line 1, column 26: invalid variable name '1'"
    );
}

#[test]
fn without_variables_dollar_braces_are_text() {
    let script = r#"require "fileinto"; fileinto "${x}";"#;
    assert_eq!(result(script, SIMPLE), ["fileinto \"${x}\""]);
}

#[test]
fn rfc5230_vacation() {
    let script = r#"require "vacation";
if header :contains "subject" "cyrus" {
    vacation "I'm out -- send mail to cyrus-bugs";
} else {
    vacation :days 23 :addresses ["tjs@example.edu", "ts4z@landru.example.edu"]
        :subject "Out" :from "tjs@example.edu" :handle "away" "I'm out -- call me at 555-1212";
}"#;
    let outcome = run(script, SIMPLE);
    assert!(outcome.implicit_keep, "vacation keeps the message");
    let [Action::Vacation(vacation)] = outcome.actions.as_slice() else {
        panic!("{outcome:?}")
    };
    assert_eq!(vacation.reason, "I'm out -- call me at 555-1212");
    assert_eq!(vacation.period, 23 * 86_400);
    assert_eq!(
        vacation.addresses,
        ["tjs@example.edu", "ts4z@landru.example.edu"]
    );
    assert_eq!(vacation.subject.as_deref(), Some("Out"));
    assert_eq!(vacation.from.as_deref(), Some("tjs@example.edu"));
    assert_eq!(vacation.handle, "away");
    let script = "require \"vacation\"; vacation :days 1000 :mime \"x\"; ";
    let outcome = run(script, SIMPLE);
    let [Action::Vacation(vacation)] = outcome.actions.as_slice() else {
        panic!()
    };
    assert_eq!(vacation.period, 60 * 86_400, "capped at the limit");
    assert!(vacation.mime);
    assert!(vacation.handle.starts_with("vacation-"));
    let twice = "require \"vacation\"; vacation \"a\"; vacation \"b\";";
    let error = try_run_with(twice, SIMPLE, &TestHost::default()).unwrap_err();
    assert_eq!(error.to_string(), "line 1: more than one vacation action");
}

#[test]
fn rfc6131_vacation_seconds() {
    let script = "require \"vacation-seconds\"; vacation :seconds 1800 \"brb\";";
    let limits = havre_sieve::Limits {
        vacation_min_period: 0,
        ..havre_sieve::Limits::default()
    };
    let compiled = havre_sieve::Script::compile(script, &limits).unwrap();
    let raw = crlf(SIMPLE);
    let outcome = compiled
        .run(
            &havre_sieve::Message::parse(raw.as_bytes()),
            &envelope(),
            &TestHost::default(),
        )
        .unwrap();
    let [Action::Vacation(vacation)] = outcome.actions.as_slice() else {
        panic!()
    };
    assert_eq!(vacation.period, 1800);
    assert_eq!(
        compile_error("require \"vacation\"; vacation :seconds 5 \"x\";"),
        "line 1, column 30: tag ':seconds' needs require \"vacation-seconds\""
    );
}

#[test]
fn rfc5233_subaddress() {
    let script = r#"require ["envelope", "subaddress", "fileinto", "variables"];
if envelope :detail "to" "birds" { fileinto "birds"; }
if envelope :user "to" "roadrunner" { keep; }
if address :matches :detail "cc" "*" { fileinto "detail-${1}"; }"#;
    assert_eq!(
        result(script, SIMPLE),
        ["fileinto \"birds\"", "keep", "fileinto \"detail-sieve\""]
    );
    assert_eq!(
        compile_error("if address :user \"to\" \"x\" {}"),
        "line 1, column 12: address part ':user' needs require \"subaddress\""
    );
}

#[test]
fn rfc5231_relational() {
    let message = SIMPLE.replace("X-Caffeine: C8H10N4O2", "X-Priority: 3\nX-Priority: 1");
    let script = r#"require ["relational", "comparator-i;ascii-numeric"];
if header :value "lt" :comparator "i;ascii-numeric" "x-priority" "2" { fileinto "x"; }"#;
    let script = script.replace("require [", "require [\"fileinto\", ");
    assert_eq!(result(&script, &message), ["fileinto \"x\""]);
    let script = r#"require ["relational", "comparator-i;ascii-numeric"];
if header :count "ge" :comparator "i;ascii-numeric" "x-priority" "2" { discard; }
if address :count "eq" :comparator "i;ascii-numeric" ["to", "cc"] "2" { keep; }"#;
    assert_eq!(result(script, &message), ["discard", "keep"]);
    assert_eq!(
        compile_error("require \"relational\"; if header :value \"xx\" \"a\" \"b\" {}"),
        "line 1, column 40: unknown relational operator 'xx'"
    );
    assert_eq!(
        compile_error(
            "require \"comparator-i;ascii-numeric\"; if header :contains :comparator \"i;ascii-numeric\" \"a\" \"b\" {}"
        ),
        "line 1, column 49: comparator 'i;ascii-numeric' only compares whole values (:is, :value, :count)"
    );
}

#[test]
fn rfc5173_body() {
    let script = r#"require ["body", "fileinto"];
if body :text :contains "anvil" { fileinto "anvils"; }
if body :raw :contains "cliff." { keep; }
if body :content "image" :contains "" { discard; }"#;
    assert_eq!(result(script, SIMPLE), ["fileinto \"anvils\"", "keep"]);
    let multipart = "From: a@example.org\n\
Content-Type: multipart/mixed; boundary=XX\n\
\n\
--XX\n\
Content-Type: text/html\n\
\n\
<p>Buy <b>now</b></p>\n\
--XX\n\
Content-Type: text/plain\n\
Content-Transfer-Encoding: quoted-printable\n\
\n\
caf=C3=A9 offer\n\
--XX--\n";
    let script = r#"require "body";
if body :contains "buy now" { discard; }
if body :content "text/html" :contains "<b>" { keep; }
if body :content "text/plain" :contains "café" { redirect "a@example.com"; }"#;
    assert_eq!(
        result(script, multipart),
        ["discard", "keep", "redirect \"a@example.com\""]
    );
}

#[test]
fn rfc5260_date_and_currentdate() {
    let script = r#"require ["date", "relational", "fileinto"];
if date :value "ge" :originalzone "date" "hour" "09" { fileinto "morning"; }
if date :zone "+0000" "date" "time" "17:06:31" { fileinto "utc"; }
if date :is "date" "date" "1997-04-01" { fileinto "local"; }
if currentdate :is "date" "2024-02-29" { fileinto "today"; }
if currentdate :zone "-1200" :is "weekday" "4" { fileinto "thursday"; }"#;
    assert_eq!(
        result(script, SIMPLE),
        [
            "fileinto \"morning\"",
            "fileinto \"utc\"",
            "fileinto \"local\"",
            "fileinto \"today\"",
            "fileinto \"thursday\""
        ]
    );
    let host = TestHost {
        now: Some(Zoned {
            unix: 0,
            offset_minutes: -300,
        }),
        ..TestHost::default()
    };
    let script = r#"require ["date", "variables"];
if currentdate :matches "iso8601" "*" { set "now" "${1}"; }
if string :is "${now}" "1969-12-31T19:00:00-05:00" { discard; }"#;
    assert_eq!(lines(&run_with(script, SIMPLE, &host)), ["discard"]);
    assert_eq!(
        compile_error("require \"date\"; if date :zone \"0100\" \"date\" \"year\" \"1997\" {}"),
        "line 1, column 31: invalid time zone '0100'"
    );
    assert_eq!(
        compile_error("require \"date\"; if currentdate \"century\" \"20\" {}"),
        "line 1, column 32: unknown date part 'century'"
    );
}

#[test]
fn rfc5260_index() {
    let message = "Received: from b by c; Tue, 1 Apr 1997 10:00:00 +0000\n\
Received: from a by b; Mon, 31 Mar 1997 23:59:00 +0000\n\
Subject: x\n\n";
    let script = r#"require ["date", "index", "fileinto"];
if date :index 1 "received" "date" "1997-04-01" { fileinto "first"; }
if date :index 1 :last :zone "+0000" "received" "date" "1997-03-31" { fileinto "last"; }
if header :index 2 :contains "received" "from a" { keep; }
if header :index 3 :contains "received" "" { discard; }"#;
    assert_eq!(
        result(script, message),
        ["fileinto \"first\"", "fileinto \"last\"", "keep"]
    );
}

#[test]
fn rfc5293_editheader() {
    let script = r#"require ["editheader", "fileinto"];
addheader "X-Sieve" "seen";
addheader :last "X-Trace" "end";
if header :is "X-Sieve" "seen" { fileinto "edited"; }
deleteheader "X-Caffeine";
if not exists "X-Caffeine" { keep; }
deleteheader :index 1 :contains "x-nope" "x";"#;
    let outcome = run(script, SIMPLE);
    assert_eq!(
        outcome.header_edits,
        [
            HeaderEdit::Add {
                name: "X-Sieve".into(),
                value: "seen".into(),
                last: false
            },
            HeaderEdit::Add {
                name: "X-Trace".into(),
                value: "end".into(),
                last: true
            },
            HeaderEdit::Delete {
                name: "X-Caffeine".into(),
                occurrence: 1
            },
        ]
    );
    assert_eq!(lines(&outcome)[..2], ["fileinto \"edited\"", "keep"]);
    let raw = crlf(SIMPLE);
    let edited =
        String::from_utf8(apply_header_edits(raw.as_bytes(), &outcome.header_edits)).unwrap();
    assert!(edited.starts_with("X-Sieve: seen\r\nFrom: Coyote"));
    assert!(edited.contains("Date: Tue, 1 Apr 1997 09:06:31 -0800\r\nX-Trace: end\r\n\r\nLook,"));
    assert!(!edited.contains("Caffeine"));
    assert_eq!(
        compile_error("require \"editheader\"; deleteheader \"Received\";"),
        "line 1, column 36: header field 'Received' may not be changed"
    );
    assert_eq!(
        compile_error("require \"editheader\"; addheader \"Bad Name\" \"x\";"),
        "line 1, column 33: invalid header field name 'Bad Name'"
    );
}

#[test]
fn rfc5293_deleteheader_with_value_patterns() {
    let message = "X-A: one\nX-A: two\nX-A: three\nSubject: s\n\nbody\n";
    let script = r#"require "editheader"; deleteheader :matches "x-a" ["t*"];"#;
    let outcome = run(script, message);
    assert_eq!(
        outcome.header_edits,
        [
            HeaderEdit::Delete {
                name: "x-a".into(),
                occurrence: 3
            },
            HeaderEdit::Delete {
                name: "x-a".into(),
                occurrence: 2
            },
        ]
    );
    let raw = crlf(message);
    let edited = apply_header_edits(raw.as_bytes(), &outcome.header_edits);
    assert_eq!(
        String::from_utf8(edited).unwrap(),
        crlf("X-A: one\nSubject: s\n\nbody\n")
    );
}

#[test]
fn rfc6609_include() {
    let mut host = TestHost::default();
    host.scripts.insert(
        (Location::Personal, "spam".into()),
        r#"require ["include", "variables", "fileinto"];
global "folder";
if header :contains "subject" "present" { fileinto "${folder}"; return; }
discard;"#
            .into(),
    );
    host.scripts.insert(
        (Location::Global, "common".into()),
        "require \"fileinto\"; fileinto \"Common\";".into(),
    );
    let script = r#"require ["include", "variables"];
global "folder";
set "folder" "Junk";
include :personal "spam";
include :global :once "common";
include :global :once "common";
include :optional "missing";"#;
    assert_eq!(
        lines(&run_with(script, SIMPLE, &host)),
        ["fileinto \"Junk\"", "fileinto \"Common\""]
    );
    let error =
        try_run_with("require \"include\"; include \"missing\";", SIMPLE, &host).unwrap_err();
    assert_eq!(
        error.to_string(),
        "line 1: included script 'missing' does not exist"
    );
}

#[test]
fn rfc6609_include_cycles_and_depth_are_errors() {
    let mut host = TestHost::default();
    host.scripts.insert(
        (Location::Personal, "a".into()),
        "require \"include\"; include \"b\";".into(),
    );
    host.scripts.insert(
        (Location::Personal, "b".into()),
        "require \"include\"; include \"a\";".into(),
    );
    let error = try_run_with("require \"include\"; include \"a\";", SIMPLE, &host).unwrap_err();
    assert_eq!(
        error.to_string(),
        "line 1: include cycle: script 'a' includes itself"
    );
    // A chain of distinct scripts deeper than the limit.
    for i in 0..20 {
        host.scripts.insert(
            (Location::Personal, format!("s{i}")),
            format!("require \"include\"; include \"s{}\";", i + 1),
        );
    }
    host.scripts
        .insert((Location::Personal, "s20".into()), "keep;".into());
    let error = try_run_with("require \"include\"; include \"s0\";", SIMPLE, &host).unwrap_err();
    assert_eq!(
        error.to_string(),
        "line 1: includes nested too deeply (the limit is 10)"
    );
    // A broken included script is an error at run time, not a panic.
    host.scripts.insert(
        (Location::Personal, "broken".into()),
        "fileinto \"x\";".into(),
    );
    let error =
        try_run_with("require \"include\"; include \"broken\";", SIMPLE, &host).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("included script 'broken' cannot be used"),
        "{error}"
    );
}

#[test]
fn rfc7352_duplicate() {
    let script = r#"require ["duplicate", "fileinto"];
if duplicate { discard; stop; }
fileinto "new";"#;
    let outcome = run(script, SIMPLE);
    assert_eq!(lines(&outcome)[0], "fileinto \"new\"");
    assert_eq!(
        outcome.duplicates,
        [DuplicateMark {
            handle: String::new(),
            id: "<1234@desert.example.org>".into(),
            seconds: 12 * 3600,
            last: false,
        }]
    );
    let host = TestHost {
        seen: vec![(String::new(), "<1234@desert.example.org>".into())],
        ..TestHost::default()
    };
    assert_eq!(lines(&run_with(script, SIMPLE, &host))[0], "discard");
    let script = r#"require ["duplicate", "variables"];
if header :matches "subject" "*" { set "s" "${1}"; }
if duplicate :handle "subjects" :uniqueid "${s}" :seconds 9999999 :last { discard; }"#;
    let outcome = run(script, SIMPLE);
    assert_eq!(outcome.duplicates[0].id, "I have a present for you");
    assert_eq!(outcome.duplicates[0].handle, "subjects");
    assert_eq!(outcome.duplicates[0].seconds, 7 * 86_400, "capped");
    assert!(outcome.duplicates[0].last);
}

#[test]
fn rfc5235_spamtest_and_virustest() {
    let script = r#"require ["spamtest", "relational", "comparator-i;ascii-numeric", "fileinto"];
if spamtest :value "ge" :comparator "i;ascii-numeric" "6" { fileinto "Junk"; }
elsif spamtest :is "0" { fileinto "Untested"; }"#;
    assert_eq!(result(script, SIMPLE), ["fileinto \"Untested\""]);
    let host = TestHost {
        spam_level: Some(8),
        ..TestHost::default()
    };
    assert_eq!(
        lines(&run_with(script, SIMPLE, &host)),
        ["fileinto \"Junk\""]
    );
    let script = r#"require ["spamtestplus", "relational", "virustest"];
if spamtest :percent :value "gt" "50" { discard; }
if virustest :value "ge" "4" { keep; }"#;
    let host = TestHost {
        spam_percent: Some(75),
        virus_level: Some(5),
        ..TestHost::default()
    };
    assert_eq!(lines(&run_with(script, SIMPLE, &host)), ["discard", "keep"]);
}

#[test]
fn rfc5183_environment() {
    let mut host = TestHost::default();
    host.environment
        .insert("remote-ip".into(), "192.0.2.7".into());
    let script = r#"require "environment";
if environment :matches "remote-ip" "192.0.2.*" { discard; }
if environment :is "phase" "during" { keep; }"#;
    assert_eq!(lines(&run_with(script, SIMPLE, &host)), ["discard", "keep"]);
    assert_eq!(
        result(
            "require \"environment\"; if environment \"name\" \"havre\" { discard; }",
            SIMPLE
        ),
        ["discard"]
    );
}

#[test]
fn encoded_characters() {
    let script = r#"require ["encoded-character", "fileinto"];
if header :contains "subject" "${hex:70 72 65 73 65 6e 74}" { fileinto "${unicode:263a}"; }"#;
    assert_eq!(result(script, SIMPLE), ["fileinto \"☺\""]);
    assert_eq!(
        compile_error("require \"encoded-character\"; keep :flags \"${unicode:d800}\";"),
        "line 1, column 35: tag ':flags' needs require \"imap4flags\""
    );
    assert_eq!(
        compile_error("require \"encoded-character\"; redirect \"${unicode:d800}\";"),
        "line 1, column 39: ${unicode:d800} is not a Unicode character"
    );
}

#[test]
fn regex_match_type() {
    let script = r#"require ["regex", "variables", "fileinto"];
if header :regex "from" "([a-z]+)@([a-z.]+)" { fileinto "${2}/${1}"; }
if header :regex :comparator "i;octet" "subject" "^i have" { discard; }
if header :regex "subject" "^I HAVE" { keep; }"#;
    assert_eq!(
        result(script, SIMPLE),
        ["fileinto \"desert.example.org/coyote\"", "keep"]
    );
    let error = compile_error("require \"regex\"; if header :regex \"a\" \"(unclosed\" {}");
    assert!(
        error.starts_with("line 1, column 28: invalid regular expression '(unclosed'"),
        "{error}"
    );
    let script = r#"require ["regex", "variables"];
set :quoteregex "dot" "a.b";
if string :regex "axb" "${dot}" { discard; }
if string :regex "a.b" "^${dot}$" { keep; }"#;
    assert_eq!(result(script, SIMPLE), ["keep"]);
}
