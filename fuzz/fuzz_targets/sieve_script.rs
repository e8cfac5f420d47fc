//! Sieve scripts are written by users and uploaded through ManageSieve:
//! compiling any bytes must end in a script or an error with a line and a
//! column, never a panic; a script that compiles must run on a message to
//! an outcome or a runtime error, within its limits.
#![no_main]

use havre_sieve::{Envelope, Limits, Message, NoHost, Script, check};
use libfuzzer_sys::fuzz_target;

const MESSAGE: &[u8] = b"From: Coyote <coyote@desert.example.org>\r\n\
To: roadrunner+birds@acme.example.com\r\n\
Subject: =?UTF-8?Q?caf=C3=A9?= anvils\r\n\
Date: Tue, 1 Apr 1997 09:06:31 -0800\r\n\
Message-ID: <1234@desert.example.org>\r\n\
Content-Type: multipart/alternative; boundary=b\r\n\
\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nplain words\r\n\
--b\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n\
--b--\r\n";

/// Small limits, so the fuzzer reaches them.
fn limits() -> Limits {
    Limits {
        max_script_size: 64 << 10,
        max_instructions: 20_000,
        ..Limits::default()
    }
}

fuzz_target!(|bytes: &[u8]| {
    let Ok(source) = std::str::from_utf8(bytes) else {
        return;
    };
    let limits = limits();
    let errors = check(source, &limits);
    match Script::compile(source, &limits) {
        Ok(script) => {
            assert!(errors.is_empty());
            let envelope = Envelope {
                from: "coyote@desert.example.org".into(),
                to: "roadrunner+birds@acme.example.com".into(),
                original_to: None,
                auth: None,
            };
            let message = Message::parse(MESSAGE);
            if let Ok(outcome) = script.run(&message, &envelope, &NoHost) {
                assert!(outcome.actions.len() <= limits.max_actions);
                let _ = outcome.to_string();
                let _ = havre_sieve::apply_header_edits(MESSAGE, &outcome.header_edits);
            }
        }
        Err(error) => {
            assert_eq!(errors.first(), Some(&error));
            assert!(error.line >= 1 && error.column >= 1);
        }
    }
});
