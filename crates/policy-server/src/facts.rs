//! A policy request as the facts of a stage, the way an SMTP session would
//! describe the same moment.

use std::net::IpAddr;
use std::time::SystemTime;

use havre_checks::{Facts, Stage};
use havre_policy_proto::Request;

/// The only request Postfix's SMTP server sends.
pub const ACCESS_POLICY: &str = "smtpd_access_policy";

/// A request the service cannot answer from its attributes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FactsError {
    #[error("no request attribute")]
    NoRequest,
    #[error("request={0:?} is not {ACCESS_POLICY}")]
    UnknownRequest(String),
    #[error("no protocol_state attribute")]
    NoState,
    #[error("client_address {0:?} is not an IP address")]
    BadClientAddress(String),
    #[error("{name}={value:?} is not a number")]
    NotANumber { name: &'static str, value: String },
}

/// The facts of `request` at `time`; `Ok(None)` at a protocol state where no
/// check runs (`DATA`, `VRFY`, `ETRN`: the answer is `DUNNO`).
///
/// Attributes map as Postfix means them: `client_name` is the verified name
/// (`unknown`: none), `sender` is known from MAIL on (empty: the null
/// sender), `sasl_username` is the login, `size` the announced size (the
/// real one at END-OF-MESSAGE), `recipient_count` counts the accepted
/// recipients at DATA and END-OF-MESSAGE (at RCPT Postfix sends 0: the
/// service counts the RCPTs of the message itself, see `Instances`). The
/// user class is not in the request: the caller looks it up.
pub fn facts(request: &Request, time: SystemTime) -> Result<Option<Facts>, FactsError> {
    match request.get("request") {
        None => return Err(FactsError::NoRequest),
        Some(ACCESS_POLICY) => {}
        Some(other) => return Err(FactsError::UnknownRequest(other.to_owned())),
    }
    let state = request
        .non_empty("protocol_state")
        .ok_or(FactsError::NoState)?;
    let Some(stage) = Stage::from_protocol_state(state) else {
        return Ok(None);
    };
    let address = request.get("client_address").unwrap_or("");
    let client_ip =
        parse_ip(address).ok_or_else(|| FactsError::BadClientAddress(address.into()))?;
    let mut facts = Facts::new(client_ip);
    facts.stage = stage;
    facts.time = time;
    facts.client_name = request
        .non_empty("client_name")
        .filter(|n| !n.eq_ignore_ascii_case("unknown"))
        .map(str::to_owned);
    facts.helo = request.non_empty("helo_name").map(str::to_owned);
    if stage >= Stage::Mail {
        facts.sender = Some(request.get("sender").unwrap_or("").to_owned());
    }
    facts.recipient = request.non_empty("recipient").map(str::to_owned);
    facts.sasl_login = request.non_empty("sasl_username").map(str::to_owned);
    facts.queue_id = request.non_empty("queue_id").map(str::to_owned);
    facts.size = number(request, "size")?;
    facts.recipient_count = u32::try_from(number(request, "recipient_count")?).unwrap_or(u32::MAX);
    Ok(Some(facts))
}

/// A numeric attribute; missing or empty is 0, as Postfix sends `name=0`
/// or nothing for what it does not know.
fn number(request: &Request, name: &'static str) -> Result<u64, FactsError> {
    match request.non_empty(name) {
        None => Ok(0),
        Some(v) => v.parse().map_err(|_| FactsError::NotANumber {
            name,
            value: v.to_owned(),
        }),
    }
}

/// Postfix writes IPv4 as `1.2.3.4` and IPv6 as `1:2:3::4:5:6`; an
/// IPv4-mapped IPv6 address is the IPv4 client it stands for.
fn parse_ip(text: &str) -> Option<IpAddr> {
    match text.parse().ok()? {
        IpAddr::V6(v6) => Some(
            v6.to_ipv4_mapped()
                .map(IpAddr::V4)
                .unwrap_or(IpAddr::V6(v6)),
        ),
        v4 => Some(v4),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rcpt() -> Request {
        Request::new()
            .with("request", "smtpd_access_policy")
            .with("protocol_state", "RCPT")
            .with("protocol_name", "ESMTP")
            .with("client_address", "192.0.2.7")
            .with("client_name", "unknown")
            .with("reverse_client_name", "host.dyn.example.net")
            .with("helo_name", "client.example")
            .with("sender", "")
            .with("recipient", "bob@example.edu")
            .with("recipient_count", "0")
            .with("queue_id", "")
            .with("instance", "1a2b.5f3e0c1d.0")
            .with("size", "12345")
            .with("sasl_username", "")
    }

    #[test]
    fn a_postfix_rcpt_request_gives_the_facts_an_smtp_session_would() {
        let f = facts(&rcpt(), SystemTime::UNIX_EPOCH).unwrap().unwrap();
        assert_eq!(f.stage, Stage::Rcpt);
        assert_eq!(f.client_ip, "192.0.2.7".parse::<IpAddr>().unwrap());
        assert_eq!(f.client_name, None, "unknown: no verified name");
        assert_eq!(f.helo.as_deref(), Some("client.example"));
        assert_eq!(f.sender.as_deref(), Some(""), "the null sender");
        assert_eq!(f.recipient.as_deref(), Some("bob@example.edu"));
        assert_eq!(f.sasl_login, None);
        assert_eq!(f.queue_id, None);
        assert_eq!(f.size, 12345);
        assert_eq!(f.time, SystemTime::UNIX_EPOCH);
    }

    #[test]
    fn states_without_checks_have_no_facts_and_early_states_no_sender() {
        let at =
            |state: &str| facts(&rcpt().with("protocol_state", state), SystemTime::now()).unwrap();
        assert_eq!(at("DATA"), None);
        assert_eq!(at("VRFY"), None);
        assert_eq!(at("ETRN"), None);
        let helo = at("EHLO").unwrap();
        assert_eq!((helo.stage, helo.sender), (Stage::Helo, None));
        assert_eq!(at("END-OF-MESSAGE").unwrap().stage, Stage::Data);
    }

    #[test]
    fn ipv6_and_mapped_clients_are_understood() {
        let at = |addr: &str| {
            facts(&rcpt().with("client_address", addr), SystemTime::now())
                .map(|f| f.unwrap().client_ip.to_string())
        };
        assert_eq!(at("2001:db8::7").unwrap(), "2001:db8::7");
        assert_eq!(at("::ffff:192.0.2.9").unwrap(), "192.0.2.9");
        assert_eq!(
            at("not-an-ip"),
            Err(FactsError::BadClientAddress("not-an-ip".into()))
        );
    }

    #[test]
    fn what_is_not_an_access_policy_request_is_an_error() {
        let now = SystemTime::now();
        assert_eq!(facts(&Request::new(), now), Err(FactsError::NoRequest));
        assert_eq!(
            facts(&rcpt().with("request", "junk"), now),
            Err(FactsError::UnknownRequest("junk".into()))
        );
        assert_eq!(
            facts(&rcpt().with("protocol_state", ""), now),
            Err(FactsError::NoState)
        );
        assert!(matches!(
            facts(&rcpt().with("size", "-1"), now),
            Err(FactsError::NotANumber { name: "size", .. })
        ));
    }
}
