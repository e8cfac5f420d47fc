//! The student of the rate-limit scenarios: an account of the class
//! `student` (10 messages a minute by default), sending through two nodes.

// Each test binary uses its part.
#![allow(dead_code)]

use havre_testkit::Havre;

/// The student sends `count` messages through `port`, numbered from
/// `first`; prints each one's number and reply code.
pub const SENDS: &str = include_str!("student_sends.py");

/// Adds stu@example.test (password "secret") of the class `student`.
pub fn add_student(node: &Havre) {
    let out = node.cli_with_stdin(
        &[
            "user",
            "add",
            "stu@example.test",
            "--password-stdin",
            "--class",
            "student",
        ],
        "secret\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Six messages through `a`, six more through `b`: the 11th and 12th of
/// the minute are deferred with 450 4.7.1 though `b` saw only six.
pub fn ten_a_minute_hold_across(a: &Havre, b: &Havre) {
    let through_a = havre_testkit::python_ok(SENDS, &[&a.submission_port.to_string(), "1", "6"]);
    let through_b = havre_testkit::python_ok(SENDS, &[&b.submission_port.to_string(), "7", "6"]);
    for n in 1..=6 {
        assert!(through_a.contains(&format!("{n} 250 ")), "{through_a}");
    }
    for n in 7..=10 {
        assert!(through_b.contains(&format!("{n} 250 ")), "{through_b}");
    }
    for n in 11..=12 {
        assert!(
            through_b.contains(&format!(
                "{n} 450 4.7.1 <alice@example.test>: Recipient address rejected: Rate limit exceeded"
            )),
            "the 11th message a minute went through: {through_b}"
        );
    }
}
