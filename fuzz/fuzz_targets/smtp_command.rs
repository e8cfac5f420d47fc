//! Any bytes as an SMTP command line: a command or an error reply, never a
//! panic; and every error has a reply a client can read.
#![no_main]

use havre_smtp_codec::parse_command;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &[u8]| {
    match parse_command(line) {
        Ok(command) => {
            let _ = command.name();
        }
        Err(err) => {
            let reply = err.reply();
            assert!(reply.code >= 500 && reply.code < 600);
            let mut out = Vec::new();
            reply.write_to(&mut out);
            assert!(out.ends_with(b"\r\n"));
        }
    }
});
