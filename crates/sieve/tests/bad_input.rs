//! Bad input ends in a clear error or a bounded run, never a panic, a hang
//! or a stack overflow.

mod support;

use std::time::{Duration, Instant};

use havre_sieve::{Limits, Message, Script, check};
use support::*;

#[test]
fn ten_thousand_nested_ifs() {
    let mut script = "if true {\n".repeat(10_000);
    script.push_str(&"}\n".repeat(10_000));
    assert_eq!(
        compile_error(&script),
        "line 33, column 9: blocks nested too deeply (the limit is 32)"
    );
}

#[test]
fn ten_thousand_nested_nots_and_lists() {
    let script = format!("if {}true {{}}", "not ".repeat(10_000));
    assert!(compile_error(&script).contains("tests nested too deeply (the limit is 32)"));
    let script = format!(
        "if {}true{} {{}}",
        "allof(".repeat(10_000),
        ")".repeat(10_000)
    );
    assert!(compile_error(&script).contains("tests nested too deeply (the limit is 32)"));
}

#[test]
fn a_two_megabyte_string() {
    let script = format!("require \"reject\"; reject \"{}\";", "x".repeat(2 << 20));
    assert!(
        compile_error(&script).starts_with("line 1, column 1: script too large:"),
        "{}",
        compile_error(&script)
    );
    // Within a raised limit the same script compiles.
    let limits = Limits {
        max_script_size: 4 << 20,
        ..Limits::default()
    };
    assert!(Script::compile(&script, &limits).is_ok());
}

#[test]
fn unterminated_things() {
    assert_eq!(
        compile_error("keep; \"open"),
        "line 1, column 7: unterminated string"
    );
    assert_eq!(
        compile_error("if true {"),
        "line 1, column 10: expected '}', found end of script"
    );
    assert_eq!(
        compile_error("reject text:\nno end"),
        "line 1, column 8: unterminated multi-line string"
    );
    assert_eq!(
        compile_error("/* forever"),
        "line 1, column 1: unterminated comment"
    );
    assert_eq!(
        compile_error("if anyof(true,"),
        "line 1, column 15: expected a test, found end of script"
    );
}

#[test]
fn a_slow_regex_runs_in_linear_time() {
    let message = format!("Subject: {}\n\nbody\n", "a".repeat(60_000));
    let script = r#"require "regex"; if header :regex "subject" "(a*)*b" { discard; }"#;
    let start = Instant::now();
    assert_eq!(result(script, &message), ["implicit keep"]);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    let script = r#"require "regex"; if header :regex "subject" "^(a|aa)+$" { discard; }"#;
    assert_eq!(result(script, &message), ["discard"]);
}

#[test]
fn a_huge_regex_is_refused() {
    let script =
        r#"require "regex"; if header :regex "subject" "(((a{100}){100}){100})" { discard; }"#;
    let error = compile_error(script);
    assert!(
        error.starts_with("line 1, column 28: invalid regular expression"),
        "{error}"
    );
}

#[test]
fn a_huge_regex_made_of_variables_is_a_runtime_error() {
    let script = r#"require ["regex", "variables"];
set "r" "((a{100}){100}){100}";
if header :regex "subject" "${r}" { discard; }"#;
    let error = try_run_with(script, SIMPLE, &TestHost::default()).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("line 3: invalid regular expression"),
        "{error}"
    );
}

#[test]
fn redirect_ten_times() {
    let script: String = (0..10)
        .map(|i| format!("redirect \"user{i}@example.com\";\n"))
        .collect();
    let error = try_run_with(&script, SIMPLE, &TestHost::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "line 5: too many redirect actions (the limit is 4)"
    );
    // The same address ten times is one redirect.
    let script = "redirect \"a@example.com\";\n".repeat(10);
    assert_eq!(result(&script, SIMPLE), ["redirect \"a@example.com\""]);
}

#[test]
fn too_many_actions() {
    let script: String = std::iter::once("require \"fileinto\";\n".to_string())
        .chain((0..40).map(|i| format!("fileinto \"box{i}\";\n")))
        .collect();
    let error = try_run_with(&script, SIMPLE, &TestHost::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "line 34: too many actions (the limit is 32)"
    );
}

#[test]
fn too_much_work() {
    // Many keys against a long header: the comparisons count.
    let keys: Vec<String> = (0..5_000).map(|i| format!("\"k{i}\"")).collect();
    let script = format!(
        "if header :contains \"subject\" [{}] {{ discard; }}\n",
        keys.join(",")
    )
    .repeat(25);
    let message = format!("Subject: {}\n\nbody\n", "x".repeat(10_000));
    let start = Instant::now();
    let error = try_run_with(&script, &message, &TestHost::default()).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("too much work: more than 1000000 instructions"),
        "{error}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn matches_on_a_long_value_is_bounded() {
    let message = format!("Subject: {}\n\nbody\n", "a".repeat(60_000));
    let pattern = "*a".repeat(200) + "b";
    let script = format!("if header :matches \"subject\" \"{pattern}\" {{ discard; }}");
    assert_eq!(result(&script, &message), ["implicit keep"]);
}

#[test]
fn variables_are_cut_and_counted() {
    let script = r#"require "variables";
set "a" "0123456789";
set "a" "${a}${a}${a}${a}${a}${a}${a}${a}${a}${a}";
set "a" "${a}${a}${a}${a}${a}${a}${a}${a}${a}${a}";
set "a" "${a}${a}${a}${a}${a}${a}${a}${a}${a}${a}";
set :length "n" "${a}";
if string :is "${n}" "4096" { discard; }"#;
    assert_eq!(result(script, SIMPLE), ["discard"]);
    let many: String = (0..300).map(|i| format!("set \"v{i}\" \"x\";\n")).collect();
    let script = format!("require \"variables\";\n{many}");
    let error = try_run_with(&script, SIMPLE, &TestHost::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "line 257: too many variables (the limit is 255)"
    );
}

#[test]
fn unknown_and_unrequired_extensions() {
    assert_eq!(
        compile_error("require \"imapflags\";"),
        "line 1, column 9: unsupported extension \"imapflags\""
    );
    assert_eq!(
        compile_error("if body :contains \"x\" { }"),
        "line 1, column 4: test 'body' needs require \"body\""
    );
    assert_eq!(
        compile_error("require \"fileinto\"; fileinto :copy \"x\";"),
        "line 1, column 30: tag ':copy' needs require \"copy\""
    );
    assert_eq!(
        compile_error("if header :regex \"a\" \"b\" {}"),
        "line 1, column 11: match type ':regex' needs require \"regex\""
    );
    assert_eq!(
        compile_error("if header :count \"eq\" \"a\" \"1\" {}"),
        "line 1, column 11: match type ':count' needs require \"relational\""
    );
    assert_eq!(
        compile_error("set \"a\" \"b\";"),
        "line 1, column 1: command 'set' needs require \"variables\""
    );
}

#[test]
fn check_lists_every_error_with_its_line() {
    let errors = check(
        "require \"fileinto\";\nif true { filein \"x\"; }\nkeep :flags \"x\";\nif bogus {}\n",
        &Limits::default(),
    );
    let lines: Vec<u32> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [2, 3, 4]);
    assert_eq!(errors[2].message, "unknown test 'bogus'");
}

#[test]
fn binary_garbage_is_a_syntax_error() {
    for source in ["\u{0}\u{1}", "if \u{7f} {}", "keep;\u{feff}", "¿keep?"] {
        let error = Script::compile(source, &Limits::default()).unwrap_err();
        assert!(error.message.starts_with("unexpected character"), "{error}");
    }
}

#[test]
fn odd_messages_run() {
    let script = r#"require ["body", "date", "variables", "editheader"];
if header :matches "subject" "*" { set "s" "${1}"; }
if body :contains "x" { keep; }
if date :is "date" "year" "2000" { discard; }
deleteheader "subject";
addheader "X-S" "${s}";"#;
    for raw in [
        &b""[..],
        b"\r\n",
        b"no header at all",
        b"Subject: \xff\xfe\r\n\r\n\xff",
        b"Date: garbage\r\n\r\nx",
        b":\r\n: :\r\n\r\n",
    ] {
        let message = Message::parse(raw);
        compile(script)
            .run(&message, &envelope(), &TestHost::default())
            .unwrap();
    }
}
