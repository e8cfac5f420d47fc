//! What the service remembers of each message Postfix asks about, between
//! its requests: how many recipients it let through (Postfix sends
//! `recipient_count=0` at every RCPT), and the headers it asked Postfix to
//! add (one `PREPEND` per reply, so the others wait for the next request).
//!
//! A message is named by Postfix's `instance` attribute, with the address of
//! the Postfix host (two hosts may use the same instance string). Postfix
//! sends the requests of one message over one connection, unless
//! `smtpd_policy_service_request_limit` makes it reconnect, so the map is
//! shared by all connections; an entry goes when the connection that used
//! it moves on to another instance (Postfix's README: the previous message
//! is then done) or, for a connection that went away, after [`KEEP`].

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use havre_checks::{Header, Outcome};

/// How long an untouched message is remembered: Postfix's smtpd gives up on
/// a session long before (its policy connections live at most
/// smtpd_policy_service_max_ttl, 1000 s).
pub const KEEP: Duration = Duration::from_secs(3600);

/// Messages remembered at most; beyond, the oldest are forgotten (their
/// next recipient counts as a first one again: a message may be counted
/// twice by a rate limit, never fewer times).
const MAX_ENTRIES: usize = 100_000;

type Key = (IpAddr, String);

/// One message's memory.
#[derive(Debug, Default)]
pub struct Message {
    /// Recipients the service did not refuse.
    pub recipients: u32,
    /// The headers asked for so far, by check and name: each goes out once.
    asked: Vec<(String, String)>,
    /// Asked for and not sent yet.
    pending: VecDeque<Header>,
}

impl Message {
    /// Takes the headers of `outcome` that this message has not had yet.
    pub fn add_headers(&mut self, outcome: &Outcome) {
        for (check, header) in &outcome.headers {
            let seen = self
                .asked
                .iter()
                .any(|(c, n)| c == check && n.eq_ignore_ascii_case(&header.name));
            if !seen {
                self.asked.push((check.clone(), header.name.clone()));
                self.pending.push_back(header.clone());
            }
        }
    }

    /// The next header to send, if one waits.
    pub fn next_header(&mut self) -> Option<Header> {
        self.pending.pop_front()
    }
}

struct Entry {
    message: Message,
    touched: Instant,
}

/// The messages under way, shared by the service's connections.
#[derive(Default)]
pub struct Instances {
    entries: Mutex<HashMap<Key, Entry>>,
}

impl Instances {
    pub fn new() -> Instances {
        Instances::default()
    }

    /// Runs `f` on the message `instance` of the Postfix at `host`.
    pub fn with<T>(&self, host: IpAddr, instance: &str, f: impl FnOnce(&mut Message) -> T) -> T {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let key = (host, instance.to_owned());
        if !entries.contains_key(&key) && entries.len() >= MAX_ENTRIES {
            forget_old(&mut entries, now);
        }
        let entry = entries.entry(key).or_insert_with(|| Entry {
            message: Message::default(),
            touched: now,
        });
        entry.touched = now;
        f(&mut entry.message)
    }

    /// The message is done (its connection asked about another one).
    pub fn forget(&self, host: IpAddr, instance: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(&(host, instance.to_owned()));
    }

    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Drops what was not touched for [`KEEP`]; if that is not enough, the
/// older half.
fn forget_old(entries: &mut HashMap<Key, Entry>, now: Instant) {
    entries.retain(|_, e| now.duration_since(e.touched) < KEEP);
    if entries.len() >= MAX_ENTRIES {
        let mut ages: Vec<Instant> = entries.values().map(|e| e.touched).collect();
        ages.sort_unstable();
        let cut = ages[ages.len() / 2];
        entries.retain(|_, e| e.touched > cut);
    }
}

#[cfg(test)]
mod tests {
    use havre_checks::{Action, Step, Verdict};

    use super::*;

    fn outcome(headers: &[(&str, &str, &str)]) -> Outcome {
        Outcome {
            action: Action::Accept,
            headers: headers
                .iter()
                .map(|(c, n, v)| ((*c).to_owned(), Header::new(*n, *v)))
                .collect(),
            steps: vec![Step {
                check: "x".into(),
                verdict: Verdict::accept(),
            }],
        }
    }

    #[test]
    fn recipients_are_counted_per_host_and_instance() {
        let i = Instances::new();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        i.with(a, "1.2.3", |m| m.recipients += 1);
        i.with(a, "1.2.3", |m| m.recipients += 1);
        assert_eq!(i.with(a, "1.2.3", |m| m.recipients), 2);
        assert_eq!(i.with(b, "1.2.3", |m| m.recipients), 0, "another Postfix");
        i.forget(a, "1.2.3");
        assert_eq!(i.with(a, "1.2.3", |m| m.recipients), 0);
    }

    #[test]
    fn a_header_goes_out_once_per_message_and_the_others_wait_their_turn() {
        let mut m = Message::default();
        m.add_headers(&outcome(&[
            ("greylist", "X-Greylist", "delayed 2 seconds"),
            ("rule tag", "X-Tag", "1"),
        ]));
        m.add_headers(&outcome(&[("greylist", "X-Greylist", "delayed 3 seconds")]));
        assert_eq!(
            m.next_header().unwrap().to_string(),
            "X-Greylist: delayed 2 seconds"
        );
        m.add_headers(&outcome(&[("greylist", "X-Greylist", "delayed 4 seconds")]));
        assert_eq!(m.next_header().unwrap().to_string(), "X-Tag: 1");
        assert_eq!(m.next_header(), None);
    }

    #[test]
    fn the_map_stays_bounded() {
        let i = Instances::new();
        let host: IpAddr = "192.0.2.1".parse().unwrap();
        for n in 0..MAX_ENTRIES + 10 {
            i.with(host, &n.to_string(), |m| m.recipients = 1);
        }
        assert!(i.len() <= MAX_ENTRIES, "{}", i.len());
        assert_eq!(
            i.with(host, &(MAX_ENTRIES + 9).to_string(), |m| m.recipients),
            1,
            "the newest is kept"
        );
    }
}
