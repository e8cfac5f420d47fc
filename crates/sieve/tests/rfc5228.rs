//! The base language (RFC 5228): its examples and rules, as scenarios.

mod support;

use support::*;

#[test]
fn no_script_action_means_implicit_keep() {
    assert_eq!(result("", SIMPLE), ["implicit keep"]);
    assert_eq!(
        result("# nothing but a comment\n", SIMPLE),
        ["implicit keep"]
    );
}

#[test]
fn section_2_9_discard_and_stop() {
    let script = "if size :over 500K { discard; stop; }\nkeep;";
    assert_eq!(result(script, SIMPLE), ["keep"]);
    let script = "if size :under 1K { discard; stop; }\nkeep;";
    assert_eq!(result(script, SIMPLE), ["discard"]);
}

#[test]
fn section_3_1_if_elsif_else() {
    let script = r#"require "fileinto";
if header :contains "from" "coyote" {
    discard;
} elsif header :contains ["subject"] ["$$$"] {
    discard;
} else {
    fileinto "INBOX";
}"#;
    assert_eq!(result(script, SIMPLE), ["discard"]);
    let other = SIMPLE.replace("Coyote <coyote@", "Wile <wile@");
    assert_eq!(result(script, &other), ["fileinto \"INBOX\""]);
    let rich = other.replace("I have a present", "$$$ a present");
    assert_eq!(result(script, &rich), ["discard"]);
}

#[test]
fn section_4_1_fileinto() {
    let script = "require \"fileinto\";\nif header :contains [\"from\"] \"coyote\" { fileinto \"INBOX.harassment\"; }";
    assert_eq!(result(script, SIMPLE), ["fileinto \"INBOX.harassment\""]);
}

#[test]
fn section_4_2_redirect_cancels_the_implicit_keep() {
    assert_eq!(
        result("redirect \"bart@example.com\";", SIMPLE),
        ["redirect \"bart@example.com\""]
    );
    assert_eq!(
        result("redirect \"bart@example.com\"; keep;", SIMPLE),
        ["redirect \"bart@example.com\"", "keep"]
    );
}

#[test]
fn section_4_3_keep_and_fileinto_inbox_are_one() {
    let script =
        "require \"fileinto\"; keep; fileinto \"INBOX\"; fileinto \"Junk\"; fileinto \"Junk\";";
    assert_eq!(result(script, SIMPLE), ["keep", "fileinto \"Junk\""]);
}

#[test]
fn section_5_1_address_parts() {
    let script = r#"if address :is :all "from" "coyote@desert.example.org" { discard; }"#;
    assert_eq!(result(script, SIMPLE), ["discard"]);
    let script = r#"if address :domain :is ["from", "to"] "acme.example.com" { discard; }"#;
    assert_eq!(result(script, SIMPLE), ["discard"]);
    let script = r#"if address :localpart :is "from" "Coyote" { discard; }"#;
    assert_eq!(
        result(script, SIMPLE),
        ["discard"],
        "i;ascii-casemap is the default"
    );
    let script = r#"if address :localpart :comparator "i;octet" :is "from" "Coyote" { discard; }"#;
    assert_eq!(result(script, SIMPLE), ["implicit keep"]);
}

#[test]
fn section_5_2_allof_and_5_3_anyof() {
    let script = r#"if allof (header :contains "from" "coyote", header :contains "to" "roadrunner") { discard; }"#;
    assert_eq!(result(script, SIMPLE), ["discard"]);
    let script = r#"if allof (header :contains "from" "coyote", header :contains "to" "elmer") { discard; }"#;
    assert_eq!(result(script, SIMPLE), ["implicit keep"]);
    let script =
        r#"if anyof (false, header :contains "to" "elmer", exists "X-Caffeine") { discard; }"#;
    assert_eq!(result(script, SIMPLE), ["discard"]);
}

#[test]
fn section_5_4_envelope() {
    let script = r#"require "envelope";
if envelope :all :is "from" "coyote@desert.example.org" { discard; }"#;
    assert_eq!(result(script, SIMPLE), ["discard"]);
    let script = r#"require "envelope";
if envelope :domain :is "to" "acme.example.com" { discard; }"#;
    assert_eq!(result(script, SIMPLE), ["discard"]);
}

#[test]
fn section_5_5_exists_needs_every_header() {
    assert_eq!(
        result(r#"if exists ["From", "Date"] { discard; }"#, SIMPLE),
        ["discard"]
    );
    assert_eq!(
        result(r#"if exists ["From", "X-Nope"] { discard; }"#, SIMPLE),
        ["implicit keep"]
    );
    assert_eq!(
        result(r#"if not exists "X-Nope" { discard; }"#, SIMPLE),
        ["discard"]
    );
}

#[test]
fn section_5_7_header_matches_with_wildcards() {
    let script = r#"if header :matches "Subject" "I have a * for ?ou" { discard; }"#;
    assert_eq!(result(script, SIMPLE), ["discard"]);
    let script = r#"if header :matches "X-Caffeine" "" { discard; }"#;
    assert_eq!(result(script, SIMPLE), ["implicit keep"]);
    let script = r#"if header :is "X-Caffeine" "c8h10n4o2" { discard; }"#;
    assert_eq!(result(script, SIMPLE), ["discard"]);
    let script = r#"if header :contains "X-Caffeine" "" { discard; }"#;
    assert_eq!(
        result(script, SIMPLE),
        ["discard"],
        "the empty key is in every value"
    );
}

#[test]
fn section_5_9_size() {
    assert_eq!(
        result("if size :over 100 { discard; }", SIMPLE),
        ["discard"]
    );
    assert_eq!(
        result("if size :under 100 { discard; }", SIMPLE),
        ["implicit keep"]
    );
}

#[test]
fn header_values_are_decoded_from_rfc_2047() {
    let message = SIMPLE.replace(
        "Subject: I have a present for you",
        "Subject: =?ISO-8859-1?Q?Caf=E9?= =?UTF-8?B?w6A=?= Paris",
    );
    let script = r#"if header :is "subject" "Caféà Paris" { discard; }"#;
    assert_eq!(result(script, &message), ["discard"]);
}

#[test]
fn section_2_10_6_stop_ends_everything() {
    assert_eq!(result("keep; stop; discard;", SIMPLE), ["keep"]);
}

#[test]
fn multi_line_strings_carry_text() {
    let script = "require \"reject\";\nreject text:\nNo thanks.\n..and a dot\n.\n;";
    assert_eq!(
        result(script, SIMPLE),
        ["reject \"No thanks.\\r\\n.and a dot\\r\\n\""]
    );
}

#[test]
fn compile_errors_name_the_place() {
    assert_eq!(
        compile_error("filein \"x\";"),
        "line 1, column 1: unknown command 'filein'"
    );
    assert_eq!(
        compile_error("keep;\nfileinto \"x\";"),
        "line 2, column 1: command 'fileinto' needs require \"fileinto\""
    );
    assert_eq!(
        compile_error("require [\"fileinto\", \"notify\"];"),
        "line 1, column 9: unsupported extension \"notify\""
    );
    assert_eq!(
        compile_error("keep;\nrequire \"fileinto\";"),
        "line 2, column 1: 'require' must come before any other command"
    );
    assert_eq!(
        compile_error("if header :is \"a\" {}"),
        "line 1, column 4: test 'header' is missing a key list"
    );
    assert_eq!(
        compile_error("if header :is :contains \"a\" \"b\" {}"),
        "line 1, column 15: more than one match type"
    );
    assert_eq!(
        compile_error("if header :comparator \"i;foo\" \"a\" \"b\" {}"),
        "line 1, column 23: unknown comparator 'i;foo'"
    );
    assert_eq!(
        compile_error("elsif true {}"),
        "line 1, column 1: 'elsif' without a preceding 'if'"
    );
    assert_eq!(
        compile_error("if true { keep; }\nkeep;\nelse { }"),
        "line 3, column 1: 'else' without a preceding 'if'"
    );
    assert_eq!(
        compile_error("if true;"),
        "line 1, column 1: 'if' needs a block"
    );
    assert_eq!(
        compile_error("if size 10 {}"),
        "line 1, column 4: test 'size' needs :over or :under"
    );
    assert_eq!(
        compile_error("keep \"x\";"),
        "line 1, column 6: too many arguments for command 'keep'"
    );
    assert_eq!(
        compile_error("if true keep;"),
        "line 1, column 9: test 'true' takes no test"
    );
    assert_eq!(
        compile_error("if exists \"Bad:Name\" {}"),
        "line 1, column 11: invalid header name 'Bad:Name'"
    );
    assert_eq!(
        compile_error("redirect \"nobody\";"),
        "line 1, column 10: invalid redirect address 'nobody'"
    );
}
