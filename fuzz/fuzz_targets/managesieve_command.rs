//! Any bytes as ManageSieve client input, through the framer and the parser
//! (havre-managesieve's `proto`, without the server): never a panic; the
//! framer keeps no more than its limit whatever literals announce; every
//! refusal and every parse error is one sendable response; and what the
//! session would echo from a parsed command (names, NOOP's tag) is written
//! as a string that reads back as the same text.
#![no_main]

use havre_managesieve::proto::{
    Code, Command, Framed, Framer, Status, announced_literal, parse_command, parse_sasl_response,
    response, string,
};
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 512;
const SKIP: u64 = 2048;

fuzz_target!(|input: &[u8]| {
    check(input);
    let _ = parse_sasl_response(input);
    let mut framer = Framer::new(LIMIT, SKIP);
    let mut rest = input;
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |p| p + 1);
        // Lines past the session's line limit reach the framer cut.
        let line = &rest[..end];
        let framed = if line.len() > 256 {
            framer.line_too_long(&line[..32], &line[line.len() - 32..])
        } else {
            framer.line(line)
        };
        rest = &rest[end..];
        match framed {
            Framed::Complete(command) => {
                assert!(command.len() <= LIMIT);
                check(&command);
            }
            Framed::Literal(n) => {
                assert!(n <= SKIP.max(LIMIT as u64));
                let n = usize::try_from(n).unwrap_or(usize::MAX).min(rest.len());
                framer.literal(&rest[..n]);
                rest = &rest[n..];
            }
            Framed::Refused { response, close } => {
                sendable(&response);
                if close {
                    return;
                }
            }
        }
    }
});

/// One response line, CRLF-terminated, holding no other line end (or a
/// literal that says how long it is).
fn sendable(line: &[u8]) {
    assert!(line.ends_with(b"\r\n"));
    if announced_literal(&line[..line.iter().position(|&b| b == b'\n').unwrap() + 1]).is_none() {
        assert!(!line[..line.len() - 2].contains(&b'\n'));
    }
}

fn check(bytes: &[u8]) {
    let command = match parse_command(bytes) {
        Ok(command) => command,
        Err(e) => {
            sendable(&e.response());
            return;
        }
    };
    let texts: Vec<&str> = match &command {
        Command::HaveSpace { name, .. }
        | Command::PutScript { name, .. }
        | Command::SetActive { name }
        | Command::GetScript { name }
        | Command::DeleteScript { name } => vec![name],
        Command::RenameScript { from, to } => vec![from, to],
        Command::Noop { tag: Some(tag) } => {
            sendable(&response(Status::Ok, Some(&Code::Tag(tag.clone())), "Done"));
            vec![tag]
        }
        Command::Authenticate { mechanism, initial } => {
            let mut v = vec![mechanism.as_str()];
            v.extend(initial.as_deref());
            v
        }
        _ => vec![],
    };
    for text in texts {
        // Written back as LISTSCRIPTS writes a name: it reads back the same.
        let mut echo = b"GETSCRIPT ".to_vec();
        string(&mut echo, text.as_bytes());
        echo.extend_from_slice(b"\r\n");
        match parse_command(&echo) {
            Ok(Command::GetScript { name }) => assert_eq!(name, text),
            other => panic!("{text:?} echoed as {echo:?} reads back as {other:?}"),
        }
    }
}
