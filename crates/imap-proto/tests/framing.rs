//! The framer as a session drives it: lines, literals, refusals.

use havre_imap_proto::*;

/// What the session did, step by step, for one client transcript.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Command(Vec<u8>),
    Continue(u64),
    NonSync(u64),
    Refused(String, u64, bool),
    Skipped(u64),
}

/// Plays a client byte stream through the framer the way a session would:
/// read a line, or `size` literal bytes when asked, or drop bytes when told.
fn drive(framer: &mut CommandFramer, mut input: &[u8]) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut discard = 0u64;
    while !input.is_empty() {
        if discard > 0 {
            let n = (discard as usize).min(input.len());
            input = &input[n..];
            discard -= n as u64;
            continue;
        }
        if framer.literal_remaining() > 0 {
            let n = framer.push_literal(input);
            input = &input[n..];
            continue;
        }
        let end = input
            .iter()
            .position(|&b| b == b'\n')
            .map_or(input.len(), |p| p + 1);
        let (line, rest) = input.split_at(end);
        input = rest;
        match framer.push_line(line).unwrap() {
            Framed::Complete(cmd) => steps.push(Step::Command(cmd)),
            Framed::NeedLiteral {
                size,
                synchronizing: true,
            } => steps.push(Step::Continue(size)),
            Framed::NeedLiteral {
                size,
                synchronizing: false,
            } => steps.push(Step::NonSync(size)),
            Framed::Refused(r) => {
                steps.push(Step::Refused(
                    String::from_utf8(r.response()).unwrap(),
                    r.discard,
                    r.close,
                ));
                discard = r.discard;
            }
            Framed::Skip { discard: d } => {
                steps.push(Step::Skipped(d));
                discard = d;
            }
        }
    }
    steps
}

fn command(s: &[u8]) -> Step {
    Step::Command(s.to_vec())
}

#[test]
fn framing_scenarios() {
    let big = "x".repeat(5000);
    let cases: Vec<(&str, CommandFramer, Vec<u8>, Vec<Step>)> = vec![
        (
            "a command without literals is complete at its line end",
            CommandFramer::new(1000, 10_000),
            b"a NOOP\r\nb LOGOUT\n".to_vec(),
            vec![command(b"a NOOP\r\n"), command(b"b LOGOUT\r\n")],
        ),
        (
            "a synchronizing literal asks for a continuation",
            CommandFramer::new(1000, 10_000),
            b"a LOGIN {5}\r\nalice pass\r\n".to_vec(),
            vec![Step::Continue(5), command(b"a LOGIN {5}\r\nalice pass\r\n")],
        ),
        (
            "non-synchronizing literals need no continuation (RFC 7888 example)",
            CommandFramer::new(1000, 10_000),
            b"A001 LOGIN {11+}\r\nFRED FOOBAR {7+}\r\nfat man\r\n".to_vec(),
            vec![
                Step::NonSync(11),
                Step::NonSync(7),
                command(b"A001 LOGIN {11+}\r\nFRED FOOBAR {7+}\r\nfat man\r\n"),
            ],
        ),
        (
            "a literal may hold CRLF and look like commands",
            CommandFramer::new(1000, 10_000),
            b"a APPEND INBOX {15}\r\nb LOGOUT\r\n.\r\n\r\n\r\nc NOOP\r\n".to_vec(),
            vec![
                Step::Continue(15),
                command(b"a APPEND INBOX {15}\r\nb LOGOUT\r\n.\r\n\r\n\r\n"),
                command(b"c NOOP\r\n"),
            ],
        ),
        (
            "an append literal8 is framed like a literal",
            CommandFramer::new(1000, 10_000),
            b"a APPEND INBOX ~{3}\r\n\0\0\0\r\n".to_vec(),
            vec![
                Step::Continue(3),
                command(b"a APPEND INBOX ~{3}\r\n\0\0\0\r\n"),
            ],
        ),
        (
            "a non-synchronizing literal over 4096 bytes is refused under LITERAL-",
            CommandFramer::new(10_000, 100_000),
            format!("a LOGIN {{5000+}}\r\n{big} secret\r\nb NOOP\r\n").into_bytes(),
            vec![
                Step::Refused(
                    "a BAD [TOOBIG] Non-synchronizing literal over 4096 bytes\r\n".into(),
                    5000,
                    false,
                ),
                Step::Skipped(0),
                command(b"b NOOP\r\n"),
            ],
        ),
        (
            "a non-synchronizing append over 4096 bytes is refused with TOOBIG",
            CommandFramer::new(10_000, 100_000),
            format!("a APPEND INBOX {{5000+}}\r\n{big}\r\nb NOOP\r\n").into_bytes(),
            vec![
                Step::Refused(
                    "a BAD [TOOBIG] Non-synchronizing literal over 4096 bytes\r\n".into(),
                    5000,
                    false,
                ),
                Step::Skipped(0),
                command(b"b NOOP\r\n"),
            ],
        ),
        (
            "LITERAL+ accepts a big non-synchronizing literal within the limit",
            CommandFramer::new(10_000, 100_000).literal_plus(true),
            format!("a APPEND INBOX {{5000+}}\r\n{big}\r\n").into_bytes(),
            vec![
                Step::NonSync(5000),
                command(format!("a APPEND INBOX {{5000+}}\r\n{big}\r\n").as_bytes()),
            ],
        ),
        (
            "an append over the APPENDLIMIT is refused before the continuation",
            CommandFramer::new(1000, 4000),
            b"a APPEND INBOX (\\Seen) {5000}\r\nb NOOP\r\n".to_vec(),
            vec![
                Step::Refused("a NO [TOOBIG] Message too big\r\n".into(), 0, false),
                command(b"b NOOP\r\n"),
            ],
        ),
        (
            "the messages of a MULTIAPPEND share the APPENDLIMIT",
            CommandFramer::new(100, 4000),
            format!(
                "a APPEND INBOX {{3000}}\r\n{} {{3000}}\r\nb NOOP\r\n",
                "m".repeat(3000)
            )
            .into_bytes(),
            vec![
                Step::Continue(3000),
                Step::Refused("a NO [TOOBIG] Message too big\r\n".into(), 0, false),
                command(b"b NOOP\r\n"),
            ],
        ),
        (
            "a literal outside APPEND counts against the command limit",
            CommandFramer::new(100, 100_000),
            b"a LOGIN {500}\r\nb NOOP\r\n".to_vec(),
            vec![
                Step::Refused("a BAD [TOOBIG] Literal too big\r\n".into(), 0, false),
                command(b"b NOOP\r\n"),
            ],
        ),
        (
            "a line over the command limit is refused",
            CommandFramer::new(20, 100_000),
            b"a SEARCH SUBJECT hello-world\r\nb NOOP\r\n".to_vec(),
            vec![
                Step::Refused("a BAD Command too long\r\n".into(), 0, false),
                command(b"b NOOP\r\n"),
            ],
        ),
        (
            "the rest of a refused command is skipped, literals and all",
            CommandFramer::new(30, 100_000),
            b"a SEARCH SUBJECT this-is-far-too-long {3+}\r\nabc BODY {2+}\r\nxy\r\nb NOOP\r\n"
                .to_vec(),
            vec![
                Step::Refused("a BAD Command too long\r\n".into(), 3, false),
                Step::Skipped(2),
                Step::Skipped(0),
                command(b"b NOOP\r\n"),
            ],
        ),
        (
            "a refused literal too big to skip closes the connection",
            CommandFramer::new(100, 1000),
            b"a LOGIN {99999999+}\r\n".to_vec(),
            vec![Step::Refused(
                "a BAD [TOOBIG] Non-synchronizing literal over 4096 bytes\r\n".into(),
                99_999_999,
                true,
            )],
        ),
        (
            "an untagged refusal when the tag is unreadable",
            CommandFramer::new(10, 1000),
            b"  this is not a command at all\r\n".to_vec(),
            vec![Step::Refused("* BAD Command too long\r\n".into(), 0, false)],
        ),
        (
            "a zero-length literal",
            CommandFramer::new(100, 1000),
            b"a LOGIN {0}\r\n \"\"\r\n".to_vec(),
            vec![Step::Continue(0), command(b"a LOGIN {0}\r\n \"\"\r\n")],
        ),
    ];
    for (scenario, mut framer, input, expected) in cases {
        let steps = drive(&mut framer, &input);
        assert_eq!(steps, expected, "{scenario}");
        if scenario != "a refused literal too big to skip closes the connection" {
            assert!(framer.is_idle(), "{scenario}: framer left mid-command");
        }
    }
}

#[test]
fn framed_commands_parse() {
    let mut framer = CommandFramer::new(1000, 10_000);
    let steps = drive(
        &mut framer,
        b"A003 APPEND saved-messages (\\Seen) {14}\r\nSubject: x\r\n\r\n\r\n",
    );
    let Some(Step::Command(cmd)) = steps.last() else {
        panic!("{steps:?}")
    };
    let cmd = parse_command(cmd).unwrap();
    let CommandBody::Append(append) = cmd.body else {
        panic!()
    };
    assert_eq!(append.messages[0].message, b"Subject: x\r\n\r\n");
    assert_eq!(append.messages[0].flags, vec![Flag::Seen]);
}

#[test]
fn a_truncated_line_is_refused_and_its_literal_skipped() {
    let mut framer = CommandFramer::new(100, 10_000);
    let Framed::Refused(r) = framer
        .push_truncated_line(b"x7 SEARCH TEXT aaaaaaaa", b"aaaa {4+}\r\n")
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(r.tag.as_deref(), Some("x7"));
    assert_eq!(r.discard, 4);
    assert_eq!(r.response(), b"x7 BAD Command too long\r\n");
    assert_eq!(
        framer.push_line(b"\r\n").unwrap(),
        Framed::Skip { discard: 0 }
    );
    assert!(framer.is_idle());
}

#[test]
fn pushing_a_line_while_a_literal_is_due_is_a_session_bug() {
    let mut framer = CommandFramer::new(100, 10_000);
    assert_eq!(
        framer.push_line(b"a LOGIN {3}\r\n").unwrap(),
        Framed::NeedLiteral {
            size: 3,
            synchronizing: true
        }
    );
    assert_eq!(framer.push_line(b"abc"), Err(FrameError::LiteralPending));
    assert_eq!(framer.push_literal(b"ab"), 2);
    assert_eq!(framer.literal_remaining(), 1);
    assert_eq!(framer.push_literal(b"cdef"), 1);
    framer.reset();
    assert!(framer.is_idle());
}
