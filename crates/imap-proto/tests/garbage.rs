//! Whatever bytes come in, nothing panics and every refusal can be sent.

use havre_imap_proto::*;

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Fragments of real commands, so that random input gets past the tag often.
const WORDS: &[&str] = &[
    "a",
    " ",
    "UID",
    "FETCH",
    "SEARCH",
    "STORE",
    "SELECT",
    "LIST",
    "APPEND",
    "SORT",
    "THREAD",
    "1:*",
    "$",
    "(",
    ")",
    "[",
    "]",
    "<",
    ">",
    ".",
    "BODY.PEEK",
    "HEADER.FIELDS",
    "NOT",
    "OR",
    "\"",
    "\\",
    "{3}\r\n",
    "{2+}\r\n",
    "~{1}\r\n",
    "\r\n",
    "*",
    "%",
    "&",
    "&-",
    "&U,BTFw-",
    "RETURN",
    "CHARSET",
    "UTF-8",
    "FLAGS",
    "+FLAGS.SILENT",
    "\\Seen",
    "1-Feb-1994",
    "\"01-Feb-1994 12:00:00 +0100\"",
    "QRESYNC",
    "CHANGEDSINCE",
    "0",
    "4294967296",
    "NIL",
    "STATUS",
    "MESSAGES",
    "\0",
    "\u{e9}",
];

#[test]
fn garbage_never_panics() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for round in 0..30_000 {
        let mut input = Vec::new();
        let len = rng.below(40);
        for _ in 0..len {
            if round % 2 == 0 {
                input.push(rng.next() as u8);
            } else {
                input.extend_from_slice(WORDS[rng.below(WORDS.len())].as_bytes());
            }
        }
        match parse_command(&input) {
            Ok(cmd) => {
                let _ = cmd.body.name();
            }
            Err(err) => {
                let response = err.response();
                assert!(response.ends_with(b"\r\n"));
                assert!(!response[..response.len() - 2].contains(&b'\n'));
            }
        }
        let _ = parse_command_with(
            &input,
            &ParseOptions {
                utf8_mailboxes: true,
            },
        );
        let _ = mutf7_decode(&input);
        let _ = is_idle_done(&input);
        let _ = parse_auth_line(&input);

        let mut framer = CommandFramer::new(64, 128);
        let mut rest = &input[..];
        while !rest.is_empty() {
            if framer.literal_remaining() > 0 {
                let n = framer.push_literal(rest);
                rest = &rest[n..];
                continue;
            }
            let end = rest
                .iter()
                .position(|&b| b == b'\n')
                .map_or(rest.len(), |p| p + 1);
            match framer.push_line(&rest[..end]).unwrap() {
                Framed::Complete(cmd) => {
                    assert!(cmd.len() <= 64 + 2);
                    let _ = parse_command(&cmd);
                }
                Framed::Refused(r) => {
                    assert!(r.response().ends_with(b"\r\n"));
                }
                Framed::NeedLiteral { .. } | Framed::Skip { .. } => {}
            }
            rest = &rest[end..];
        }
    }
}
