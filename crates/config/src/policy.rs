//! `[greylist]` and `[policy]`: greylisting and the ordered policy rules.
//!
//! These are the file's shapes; the checks themselves (`havre-policy`) get
//! their own types, built by the binary from these.

use std::fmt;
use std::net::SocketAddr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use crate::values::{Duration, Size};

/// `[greylist]`: Postgrey's semantics and defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Greylist {
    pub enabled: bool,
    pub delay: Duration,
    pub retry_window: Duration,
    pub max_age: Duration,
    pub auto_whitelist_clients: u32,
    /// Networks (CIDR or address) and domains never greylisted.
    pub exempt: Vec<String>,
}

impl Default for Greylist {
    fn default() -> Self {
        Self {
            enabled: false,
            delay: Duration::from_secs(300),
            retry_window: Duration::from_secs(2 * 86_400),
            max_age: Duration::from_secs(35 * 86_400),
            auto_whitelist_clients: 5,
            exempt: Vec::new(),
        }
    }
}

/// `[policy]`: the rules, and the Postfix policy delegation service that
/// answers from them (on when `listen` names an address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Where Postfix's `check_policy_service inet:host:port` connects;
    /// empty: no policy service.
    #[serde(deserialize_with = "crate::model::listen_addrs")]
    pub listen: Vec<SocketAddr>,
    /// Policy connections at once (each Postfix smtpd process keeps one).
    pub max_connections: u32,
    /// A connection without a request for this long is closed.
    pub idle_timeout: Duration,
    /// A request begun must be complete within this.
    pub request_timeout: Duration,
    pub rules: Vec<PolicyRule>,
}

impl Default for Policy {
    /// The seeds' limits: a student may send 10 messages a minute, staff 60.
    fn default() -> Self {
        let rate = |name: &str, class: &str, count: u64| PolicyRule {
            name: name.into(),
            class: vec![class.into()],
            action: Some(PolicyAction::Rate),
            text: Some(format!(
                "Rate limit exceeded: {count} messages per minute for class {class}"
            )),
            rate_limit: Some(RateLimitSpec {
                count,
                per: Duration::from_secs(60),
                key: RateKey::SaslLogin,
                what: RateWhat::Messages,
                burst: None,
            }),
            ..PolicyRule::default()
        };
        Self {
            listen: Vec::new(),
            // Postfix's default_process_limit: as many smtpd processes, each
            // holding one connection to the service.
            max_connections: 100,
            // Longer than Postfix's smtpd_policy_service_max_idle (300s), so
            // Postfix closes an unused connection first and never finds it
            // closed under its next request.
            idle_timeout: Duration::from_secs(360),
            // Postfix's smtpd_policy_service_timeout: Postfix has given up on
            // a request by then.
            request_timeout: Duration::from_secs(100),
            rules: vec![
                rate("student-rate", "student", 10),
                rate("staff-rate", "staff", 60),
            ],
        }
    }
}

/// One `[[policy.rules]]` table: conditions (all must match; a list matches
/// if one of its values does) and an action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyRule {
    pub name: String,
    /// Default: rcpt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<PolicyStage>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "one_or_many"
    )]
    pub client_address: Vec<String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "one_or_many"
    )]
    pub client_name: Vec<String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "one_or_many"
    )]
    pub helo: Vec<String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "one_or_many"
    )]
    pub sender: Vec<String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "one_or_many"
    )]
    pub recipient: Vec<String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "one_or_many"
    )]
    pub sasl_login: Vec<String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "one_or_many"
    )]
    pub class: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_min: Option<Size>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_max: Option<Size>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient_count_min: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient_count_max: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<PolicyAction>,
    /// Reply text of reject, defer and rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `Name: value` of add_header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitSpec>,
}

impl PolicyRule {
    /// The rule as errors name it: `rule 2 ("student-rate")`.
    pub fn label(&self, index: usize) -> String {
        if self.name.is_empty() {
            format!("rule {}", index + 1)
        } else {
            format!("rule {} ({:?})", index + 1, self.name)
        }
    }
}

/// `stage = "..."` of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyStage {
    Connect,
    Helo,
    Mail,
    Rcpt,
    Data,
}

/// `action = "..."` of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyAction {
    Accept,
    Reject,
    Defer,
    Greylist,
    AddHeader,
    Rate,
}

/// `rate_limit = { count = 10, per = "1m", key = "sasl_login", what = "messages" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSpec {
    pub count: u64,
    pub per: Duration,
    pub key: RateKey,
    #[serde(default = "messages")]
    pub what: RateWhat,
    /// Default: `count` (an idle sender may use its whole allowance at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u64>,
}

fn messages() -> RateWhat {
    RateWhat::Messages
}

/// What a rate limit counts per value of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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

/// What a rate limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateWhat {
    Messages,
    Recipients,
    Bytes,
}

/// A list of strings; a single string is a list of one.
fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or a list of strings")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(vec![v.to_owned()])
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(s) = seq.next_element::<String>()? {
                out.push(s);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_any(V)
}
