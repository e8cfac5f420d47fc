//! Postfwd-like policy rules: ordered, each a set of conditions on the facts
//! and one action. Each rule is a check of the pipeline (`rule NAME`), run at
//! its stage in the order of `[[policy.rules]]`.
//!
//! A rule matches when every condition it has matches (an empty rule
//! matches everything); a condition with several values matches if one of
//! them does. Actions: `accept` ends the stage's checks with acceptance
//! (Postfix's `OK`: later rules and greylisting do not run at that stage),
//! `reject` (554 5.7.1) and `defer` (450 4.7.1) refuse with the rule's text,
//! `greylist` greylists the matching mail (even with `greylist.enabled` off),
//! `add_header` adds a header and goes on, `rate` counts the matching mail
//! against a GCRA rate limit in the shared state and defers it (450 4.7.1)
//! beyond the limit.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use havre_checks::{Action, Check, Facts, Header, Stage, Verdict};
use havre_state::{Rate, State};
use ipnet::IpNet;

use crate::Greylist;
use crate::pattern::Pattern;

/// What a rule compares; every field that is set must match.
#[derive(Debug, Clone, Default)]
pub struct Conditions {
    pub client_address: Vec<IpNet>,
    /// The confirmed reverse name; a client without one is `unknown`.
    pub client_name: Vec<Pattern>,
    pub helo: Vec<Pattern>,
    /// `""` is the null sender.
    pub sender: Vec<Pattern>,
    pub recipient: Vec<Pattern>,
    pub sasl_login: Vec<Pattern>,
    /// User classes, compared case-insensitively.
    pub class: Vec<String>,
    pub size_min: Option<u64>,
    pub size_max: Option<u64>,
    pub recipient_count_min: Option<u32>,
    pub recipient_count_max: Option<u32>,
}

impl Conditions {
    /// Whether `facts` meet every condition.
    pub fn matches(&self, facts: &Facts) -> bool {
        let any = |patterns: &[Pattern], value: Option<&str>| {
            patterns.is_empty() || value.is_some_and(|v| patterns.iter().any(|p| p.matches(v)))
        };
        let ip = match facts.client_ip {
            IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map(IpAddr::V4)
                .unwrap_or(facts.client_ip),
            v4 => v4,
        };
        (self.client_address.is_empty() || self.client_address.iter().any(|n| n.contains(&ip)))
            && any(
                &self.client_name,
                Some(facts.client_name.as_deref().unwrap_or("unknown")),
            )
            && any(&self.helo, Some(facts.helo.as_deref().unwrap_or("")))
            && any(&self.sender, facts.sender.as_deref())
            && any(&self.recipient, facts.recipient.as_deref())
            && any(&self.sasl_login, facts.sasl_login.as_deref())
            && (self.class.is_empty()
                || facts
                    .class
                    .as_deref()
                    .is_some_and(|c| self.class.iter().any(|k| k.eq_ignore_ascii_case(c))))
            && self.size_min.is_none_or(|min| facts.size >= min)
            && self.size_max.is_none_or(|max| facts.size <= max)
            && self
                .recipient_count_min
                .is_none_or(|min| facts.recipient_count >= min)
            && self
                .recipient_count_max
                .is_none_or(|max| facts.recipient_count <= max)
    }
}

/// The attribute a rate limit counts per value of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateKey {
    ClientAddress,
    ClientName,
    Helo,
    Sender,
    SenderDomain,
    Recipient,
    RecipientDomain,
    SaslLogin,
    Class,
}

impl RateKey {
    pub const ALL: [RateKey; 9] = [
        RateKey::ClientAddress,
        RateKey::ClientName,
        RateKey::Helo,
        RateKey::Sender,
        RateKey::SenderDomain,
        RateKey::Recipient,
        RateKey::RecipientDomain,
        RateKey::SaslLogin,
        RateKey::Class,
    ];

    /// The spelling in `havre.toml`.
    pub const fn as_str(self) -> &'static str {
        match self {
            RateKey::ClientAddress => "client_address",
            RateKey::ClientName => "client_name",
            RateKey::Helo => "helo",
            RateKey::Sender => "sender",
            RateKey::SenderDomain => "sender_domain",
            RateKey::Recipient => "recipient",
            RateKey::RecipientDomain => "recipient_domain",
            RateKey::SaslLogin => "sasl_login",
            RateKey::Class => "class",
        }
    }

    pub fn parse(text: &str) -> Option<RateKey> {
        RateKey::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// The value counted for `facts`, lower-case; `None` if they have none
    /// (the rule then does not apply). The null sender counts as `<>`.
    fn value(self, facts: &Facts) -> Option<String> {
        let v = match self {
            RateKey::ClientAddress => Some(facts.client_ip.to_string()),
            RateKey::ClientName => facts.client_name.clone(),
            RateKey::Helo => facts.helo.clone(),
            RateKey::Sender => facts
                .sender
                .as_deref()
                .map(|s| if s.is_empty() { "<>" } else { s }.to_owned()),
            RateKey::SenderDomain => facts.sender_domain(),
            RateKey::Recipient => facts.recipient.clone(),
            RateKey::RecipientDomain => facts.recipient_domain(),
            RateKey::SaslLogin => facts.sasl_login.clone(),
            RateKey::Class => facts.class.clone(),
        };
        v.filter(|v| !v.is_empty()).map(|v| v.to_lowercase())
    }
}

/// What a rate limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateWhat {
    /// Messages: one per transaction (at RCPT, the first recipient counts).
    Messages,
    /// Recipients: one per RCPT (at the end of DATA, all of them).
    Recipients,
    /// Bytes: the announced SIZE (at MAIL, or at the first RCPT), or the real
    /// size at the end of DATA.
    Bytes,
}

impl RateWhat {
    pub const fn as_str(self) -> &'static str {
        match self {
            RateWhat::Messages => "messages",
            RateWhat::Recipients => "recipients",
            RateWhat::Bytes => "bytes",
        }
    }

    pub fn parse(text: &str) -> Option<RateWhat> {
        [RateWhat::Messages, RateWhat::Recipients, RateWhat::Bytes]
            .into_iter()
            .find(|w| w.as_str() == text)
    }

    /// The stages at which this can be counted.
    pub fn stages(self) -> &'static [Stage] {
        match self {
            RateWhat::Messages => &[Stage::Mail, Stage::Rcpt, Stage::Data],
            RateWhat::Recipients => &[Stage::Rcpt, Stage::Data],
            RateWhat::Bytes => &[Stage::Mail, Stage::Rcpt, Stage::Data],
        }
    }

    /// The cost of `facts` (0: nothing to count at this point).
    fn cost(self, facts: &Facts) -> u64 {
        let first_rcpt = facts.recipient_count == 0;
        match (self, facts.stage) {
            (RateWhat::Messages, Stage::Rcpt) => u64::from(first_rcpt),
            (RateWhat::Messages, Stage::Mail | Stage::Data) => 1,
            (RateWhat::Recipients, Stage::Rcpt) => 1,
            (RateWhat::Recipients, Stage::Data) => u64::from(facts.recipient_count),
            (RateWhat::Bytes, Stage::Rcpt) if first_rcpt => facts.size,
            (RateWhat::Bytes, Stage::Mail | Stage::Data) => facts.size,
            _ => 0,
        }
    }
}

/// A rate limit: `rate` of `what` per value of `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    pub rate: Rate,
    pub key: RateKey,
    pub what: RateWhat,
}

/// `1m` → `minute`, `10m` → `10 minutes`, `90s` → `90 seconds`.
pub fn period_text(per: Duration) -> String {
    let secs = per.as_secs();
    for (unit, name) in [
        (604_800, "week"),
        (86_400, "day"),
        (3600, "hour"),
        (60, "minute"),
        (1, "second"),
    ] {
        if secs >= unit && secs.is_multiple_of(unit) {
            let n = secs / unit;
            return if n == 1 {
                name.to_owned()
            } else {
                format!("{n} {name}s")
            };
        }
    }
    format!("{} ms", per.as_millis())
}

impl RateLimit {
    /// `10 messages per minute`.
    pub fn describe(&self) -> String {
        format!(
            "{} {} per {}",
            self.rate.count,
            self.what.as_str(),
            period_text(self.rate.per)
        )
    }
}

/// What a matching rule does.
#[derive(Clone)]
pub enum RuleAction {
    Accept,
    Reject {
        text: String,
    },
    Defer {
        text: String,
    },
    Greylist(Arc<Greylist>),
    AddHeader(Header),
    Rate {
        limit: RateLimit,
        /// The reply text; `None`: `Rate limit exceeded: 10 messages per
        /// minute for sasl_login alice@example.edu`.
        text: Option<String>,
        state: Arc<dyn State>,
    },
}

/// One rule of `[[policy.rules]]`, a check of the pipeline.
pub struct Rule {
    /// The rule's own name (in state keys).
    rule: String,
    /// `rule NAME`, the check's name in logs.
    name: String,
    stage: [Stage; 1],
    conditions: Conditions,
    action: RuleAction,
}

impl Rule {
    pub fn new(name: &str, stage: Stage, conditions: Conditions, action: RuleAction) -> Rule {
        Rule {
            rule: name.to_owned(),
            name: format!("rule {name}"),
            stage: [stage],
            conditions,
            action,
        }
    }

    async fn rate(
        &self,
        facts: &Facts,
        limit: &RateLimit,
        text: Option<&str>,
        state: &Arc<dyn State>,
    ) -> Verdict {
        let Some(value) = limit.key.value(facts) else {
            return Verdict::accept().because(format!("no {} to count", limit.key.as_str()));
        };
        let cost = limit.what.cost(facts);
        if cost == 0 {
            return Verdict::accept().because("nothing to count at this stage");
        }
        let key = format!("rate:{}:{value}", self.rule);
        let answer = match state.rate(&key, &limit.rate, cost).await {
            Ok(answer) => answer,
            Err(e) => {
                tracing::warn!(target: "checks", "{}: {e}; not limiting", self.name);
                return Verdict::accept().because(format!("state unavailable: {e}"));
            }
        };
        if answer.allowed {
            return Verdict::accept().because(format!(
                "{} {value} within {}",
                limit.key.as_str(),
                limit.describe()
            ));
        }
        let retry = match answer.retry_after {
            Some(d) => format!("allowed again in {} s", d.as_secs_f64().ceil()),
            None => format!("{cost} {} never fit in the limit", limit.what.as_str()),
        };
        let text = match text {
            Some(t) => t.to_owned(),
            None => format!(
                "Rate limit exceeded: {} for {} {value}",
                limit.describe(),
                limit.key.as_str()
            ),
        };
        Verdict::defer(450, "4.7.1", text).because(format!(
            "{} {value} over {}; {retry}",
            limit.key.as_str(),
            limit.describe()
        ))
    }
}

#[async_trait]
impl Check for Rule {
    fn name(&self) -> &str {
        &self.name
    }

    fn stages(&self) -> &[Stage] {
        &self.stage
    }

    async fn check(&self, facts: &Facts) -> Verdict {
        if !self.conditions.matches(facts) {
            return Verdict::accept().because("does not match");
        }
        match &self.action {
            RuleAction::Accept => Verdict::permit().because("matched: accept"),
            RuleAction::Reject { text } => {
                Verdict::reject(554, "5.7.1", text).because("matched: reject")
            }
            RuleAction::Defer { text } => {
                Verdict::defer(450, "4.7.1", text).because("matched: defer")
            }
            RuleAction::AddHeader(h) => {
                let mut v = Verdict::accept().because("matched: add_header");
                v.headers.push(h.clone());
                v
            }
            RuleAction::Greylist(g) => {
                let mut v = g.check(facts).await;
                if matches!(v.action, Action::Accept) {
                    v.reason = v.reason.map(|r| format!("greylist: {r}"));
                }
                v
            }
            RuleAction::Rate { limit, text, state } => {
                self.rate(facts, limit, text.as_deref(), state).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use havre_checks::{Outcome, Pipeline};
    use havre_state::{EmbeddedState, ManualClock};

    use super::*;

    /// State whose clock stands still: the counts below never depend on how
    /// fast the test runs.
    fn frozen_state() -> Arc<dyn State> {
        let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000));
        Arc::new(EmbeddedState::memory_with_clock(Arc::new(clock)))
    }

    fn rate_rule(
        name: &str,
        class: &str,
        count: u64,
        state: &Arc<dyn State>,
        text: Option<&str>,
    ) -> Arc<dyn Check> {
        Arc::new(Rule::new(
            name,
            Stage::Rcpt,
            Conditions {
                class: vec![class.into()],
                ..Conditions::default()
            },
            RuleAction::Rate {
                limit: RateLimit {
                    rate: Rate::new(count, Duration::from_secs(60)),
                    key: RateKey::SaslLogin,
                    what: RateWhat::Messages,
                },
                text: text.map(str::to_owned),
                state: state.clone(),
            },
        ))
    }

    /// The shipped defaults: student 10 a minute, staff 60.
    fn shipped(state: &Arc<dyn State>) -> Pipeline {
        Pipeline::new("test")
            .with(rate_rule(
                "student-rate",
                "student",
                10,
                state,
                Some("Rate limit exceeded: 10 messages per minute for class student"),
            ))
            .with(rate_rule("staff-rate", "staff", 60, state, None))
    }

    fn message(login: &str, class: &str) -> Facts {
        let mut f = Facts::new("192.0.2.7".parse().unwrap());
        f.stage = Stage::Rcpt;
        f.sasl_login = Some(login.into());
        f.class = Some(class.into());
        f.sender = Some(login.into());
        f.recipient = Some("friend@example.net".into());
        f
    }

    async fn send(p: &Pipeline, f: &Facts) -> Outcome {
        p.run(f).await
    }

    #[tokio::test]
    async fn a_students_11th_message_in_a_minute_gets_450_4_7_1() {
        let state = frozen_state();
        let p = shipped(&state);
        let f = message("alice@example.edu", "student");
        for n in 1..=10 {
            assert_eq!(send(&p, &f).await.action, Action::Accept, "message {n}");
        }
        let out = send(&p, &f).await;
        assert_eq!(
            out.reply_line(&f).as_deref(),
            Some(
                "450 4.7.1 <friend@example.net>: Recipient address rejected: Rate limit exceeded: 10 messages per minute for class student"
            )
        );
        let step = out.decided_by().unwrap();
        assert_eq!(step.check, "rule student-rate");
        assert!(
            step.verdict
                .reason
                .as_deref()
                .unwrap()
                .contains("sasl_login alice@example.edu over 10 messages per minute")
        );
        // Another student has an allowance of their own.
        assert_eq!(
            send(&p, &message("carol@example.edu", "student"))
                .await
                .action,
            Action::Accept
        );
    }

    #[tokio::test]
    async fn staff_are_not_limited_at_11() {
        let state = frozen_state();
        let p = shipped(&state);
        let f = message("prof@example.edu", "staff");
        for n in 1..=60 {
            assert_eq!(send(&p, &f).await.action, Action::Accept, "message {n}");
        }
        let out = send(&p, &f).await;
        assert_eq!(
            out.reply_line(&f).as_deref(),
            Some(
                "450 4.7.1 <friend@example.net>: Recipient address rejected: Rate limit exceeded: 60 messages per minute for sasl_login prof@example.edu"
            )
        );
    }

    #[tokio::test]
    async fn more_recipients_of_one_message_count_once_as_messages() {
        let state = frozen_state();
        let p = Pipeline::new("test").with(rate_rule("r", "student", 1, &state, None));
        let mut f = message("alice@example.edu", "student");
        assert_eq!(send(&p, &f).await.action, Action::Accept);
        for count in 1..5 {
            f.recipient_count = count;
            assert_eq!(
                send(&p, &f).await.action,
                Action::Accept,
                "recipient {count}"
            );
        }
        f.recipient_count = 0;
        assert!(
            matches!(send(&p, &f).await.action, Action::Defer(_)),
            "the next message"
        );
    }

    #[tokio::test]
    async fn rules_run_in_order_and_accept_stops_the_stage() {
        let state = frozen_state();
        let pat = |s: &str| Pattern::parse(s).unwrap();
        let p = Pipeline::new("test")
            .with(Arc::new(Rule::new(
                "tag-big",
                Stage::Rcpt,
                Conditions {
                    size_min: Some(1000),
                    ..Conditions::default()
                },
                RuleAction::AddHeader(Header::new("X-Big", "yes")),
            )))
            .with(Arc::new(Rule::new(
                "partners",
                Stage::Rcpt,
                Conditions {
                    client_address: vec!["198.51.100.0/24".parse().unwrap()],
                    ..Conditions::default()
                },
                RuleAction::Accept,
            )))
            .with(Arc::new(Rule::new(
                "no-dynamic",
                Stage::Rcpt,
                Conditions {
                    client_name: vec![pat("unknown"), pat(r"/\bdyn(amic)?\b/")],
                    ..Conditions::default()
                },
                RuleAction::Reject {
                    text: "Dynamic addresses must use their provider's server".into(),
                },
            )))
            .with(rate_rule("student", "student", 1, &state, None));
        let mut f = message("x", "staff");
        f.sasl_login = None;
        f.class = None;
        f.size = 5000;
        let out = p.run(&f).await;
        assert_eq!(
            out.reply_line(&f).as_deref(),
            Some(
                "554 5.7.1 <friend@example.net>: Recipient address rejected: Dynamic addresses must use their provider's server"
            )
        );
        assert_eq!(out.headers.len(), 1, "tag-big ran before");
        f.client_ip = "::ffff:198.51.100.4".parse().unwrap();
        let out = p.run(&f).await;
        assert_eq!(out.action, Action::Permit);
        assert_eq!(out.decided_by().unwrap().check, "rule partners");
        f.client_ip = "192.0.2.9".parse().unwrap();
        f.client_name = Some("mail.example.net".into());
        assert_eq!(
            p.run(&f).await.action,
            Action::Accept,
            "a named static client"
        );
        f.client_name = Some("1-2-3-4.dyn.isp.example".into());
        assert!(matches!(p.run(&f).await.action, Action::Reject(_)));
    }

    #[test]
    fn conditions_on_senders_sizes_and_counts() {
        let pat = |s: &str| Pattern::parse(s).unwrap();
        let c = Conditions {
            sender: vec![pat(""), pat("@lists.example.org")],
            recipient_count_min: Some(2),
            size_max: Some(100),
            ..Conditions::default()
        };
        let mut f = message("x", "staff");
        f.sender = Some(String::new());
        f.recipient_count = 2;
        f.size = 100;
        assert!(c.matches(&f));
        f.sender = Some("bounce@Lists.Example.org".into());
        assert!(c.matches(&f));
        f.size = 101;
        assert!(!c.matches(&f));
        f.size = 1;
        f.recipient_count = 1;
        assert!(!c.matches(&f));
        f.sender = None;
        f.recipient_count = 3;
        assert!(!c.matches(&f), "no sender before MAIL");
    }

    #[test]
    fn periods_read_as_words() {
        assert_eq!(period_text(Duration::from_secs(60)), "minute");
        assert_eq!(period_text(Duration::from_secs(600)), "10 minutes");
        assert_eq!(period_text(Duration::from_secs(86_400)), "day");
        assert_eq!(period_text(Duration::from_secs(90)), "90 seconds");
    }
}
