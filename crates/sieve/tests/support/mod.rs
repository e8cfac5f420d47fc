//! What the scenario tests share: a host that answers from fields, and
//! short ways to compile, run and print.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use havre_sieve::{
    Envelope, Host, Limits, Location, Message, Outcome, RuntimeError, Script, Zoned,
};

/// A message as the tests write it: LF line ends become CRLF.
pub fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

pub const SIMPLE: &str = "From: Coyote <coyote@desert.example.org>\n\
To: roadrunner@acme.example.com\n\
Cc: Ken <ken+sieve@example.org>\n\
Subject: I have a present for you\n\
Message-ID: <1234@desert.example.org>\n\
Date: Tue, 1 Apr 1997 09:06:31 -0800\n\
X-Caffeine: C8H10N4O2\n\
\n\
Look, I'm sorry about the whole anvil thing, and I really\n\
didn't mean to try and drop it on you from the top of the\n\
cliff.  I want to try to make it up to you.\n";

#[derive(Default)]
pub struct TestHost {
    pub now: Option<Zoned>,
    pub mailboxes: Vec<String>,
    /// (handle, id) pairs the duplicate store holds.
    pub seen: Vec<(String, String)>,
    pub scripts: HashMap<(Location, String), String>,
    pub environment: HashMap<String, String>,
    pub spam_level: Option<u8>,
    pub spam_percent: Option<u8>,
    pub virus_level: Option<u8>,
}

impl Host for TestHost {
    fn now(&self) -> Zoned {
        self.now.unwrap_or(Zoned {
            // 2024-02-29 12:34:56 UTC, seen at +0100.
            unix: 1_709_210_096,
            offset_minutes: 60,
        })
    }

    fn mailbox_exists(&self, mailbox: &str) -> bool {
        self.mailboxes.iter().any(|m| m == mailbox)
    }

    fn duplicate_seen(&self, handle: &str, id: &str) -> bool {
        self.seen.iter().any(|(h, i)| h == handle && i == id)
    }

    fn include(&self, location: Location, name: &str) -> Result<Option<Arc<Script>>, String> {
        match self.scripts.get(&(location, name.to_string())) {
            Some(source) => Script::compile(source, &Limits::default())
                .map(|s| Some(Arc::new(s)))
                .map_err(|e| e.to_string()),
            None => Ok(None),
        }
    }

    fn environment(&self, name: &str) -> Option<String> {
        self.environment
            .get(name)
            .cloned()
            .or_else(|| havre_sieve::NoHost.environment(name))
    }

    fn spam_level(&self) -> Option<u8> {
        self.spam_level
    }

    fn spam_percent(&self) -> Option<u8> {
        self.spam_percent
    }

    fn virus_level(&self) -> Option<u8> {
        self.virus_level
    }
}

pub fn envelope() -> Envelope {
    Envelope {
        from: "coyote@desert.example.org".into(),
        to: "roadrunner+birds@acme.example.com".into(),
        original_to: None,
        auth: None,
    }
}

pub fn compile(script: &str) -> Script {
    match Script::compile(script, &Limits::default()) {
        Ok(script) => script,
        Err(e) => panic!("does not compile: {e}\n{}", shorten(script)),
    }
}

pub fn try_run_with(script: &str, message: &str, host: &TestHost) -> Result<Outcome, RuntimeError> {
    let raw = crlf(message);
    let message = Message::parse(raw.as_bytes());
    compile(script).run(&message, &envelope(), host)
}

pub fn run_with(script: &str, message: &str, host: &TestHost) -> Outcome {
    try_run_with(script, message, host)
        .unwrap_or_else(|e| panic!("run failed: {e}\n{}", shorten(script)))
}

pub fn run(script: &str, message: &str) -> Outcome {
    run_with(script, message, &TestHost::default())
}

/// The outcome's lines, as `havre sieve test` would print them.
pub fn lines(outcome: &Outcome) -> Vec<String> {
    outcome.to_string().lines().map(str::to_string).collect()
}

/// The outcome of `script` on `message`, as lines.
pub fn result(script: &str, message: &str) -> Vec<String> {
    lines(&run(script, message))
}

/// The compile error of `script`, displayed.
pub fn compile_error(script: &str) -> String {
    match Script::compile(script, &Limits::default()) {
        Ok(_) => panic!("compiles, but should not:\n{}", shorten(script)),
        Err(e) => e.to_string(),
    }
}

/// At most 300 characters of a script, for failure messages.
pub fn shorten(script: &str) -> String {
    script.chars().take(300).collect()
}
