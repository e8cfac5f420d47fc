//! What the filter knows of a message besides its bytes: who sent it from
//! where, to whom, when it was received, and what the checks before the
//! filter found. During the SMTP transaction that is the [`Facts`]; for a
//! stored message (`havre spam check FILE`, the benchmark) it is read from
//! the message's trace: the newest `Received:` (its date is when the
//! message arrived, so archived mail scores as it did then) and the
//! results our host wrote on top of it.

use std::net::IpAddr;

use havre_checks::{Facts, Header};
use havre_content::Content;

/// The envelope of one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    pub client_ip: Option<IpAddr>,
    /// The client's confirmed reverse name.
    pub client_name: Option<String>,
    pub helo: Option<String>,
    /// The envelope sender (`Some("")` for `<>`).
    pub sender: Option<String>,
    pub recipients: Vec<String>,
    /// When the message was received (Unix seconds); `None`: unknown, the
    /// dates are not compared.
    pub received: Option<i64>,
    /// The headers the earlier checks added (`Authentication-Results:`,
    /// `Received-SPF:`, `X-Greylist:`); `None`: read our own from the top
    /// of the message.
    pub added: Option<Vec<Header>>,
    /// The client logged in (submission).
    pub authenticated: bool,
}

impl Envelope {
    /// The envelope of an SMTP transaction at the end of DATA.
    pub fn from_facts(facts: &Facts) -> Envelope {
        Envelope {
            client_ip: Some(facts.client_ip.to_canonical()),
            client_name: facts.client_name.clone(),
            helo: facts.helo.clone(),
            sender: facts.sender.clone(),
            recipients: facts.recipients.clone(),
            received: Some(facts.unix_time()),
            added: Some(facts.added.clone()),
            authenticated: facts.sasl_login.is_some(),
        }
    }

    /// The envelope of a stored message, from its newest `Received:`
    /// (`from HELO (name [ip]) ... for <rcpt>; date`) and `Return-Path:`.
    pub fn from_message(content: &Content) -> Envelope {
        let mut envelope = Envelope::default();
        if let Some(received) = content.header("Received") {
            read_received(received, &mut envelope);
        }
        if let Some(path) = content.header("Return-Path") {
            let path = path.trim();
            let path = path.strip_prefix('<').unwrap_or(path);
            envelope.sender = Some(path.strip_suffix('>').unwrap_or(path).trim().to_owned());
        }
        envelope
    }
}

/// What a `Received:` value says of the hop it records.
fn read_received(value: &str, envelope: &mut Envelope) {
    let (trace, date) = match value.rsplit_once(';') {
        Some((trace, date)) => (trace, Some(date)),
        None => (value, None),
    };
    envelope.received = date
        .and_then(|d| mail_parser::DateTime::parse_rfc822(d.trim()))
        .filter(|d| d.is_valid())
        .map(|d| d.to_timestamp());
    let mut words = trace.split_whitespace();
    while let Some(word) = words.next() {
        if word.eq_ignore_ascii_case("from") && envelope.helo.is_none() {
            envelope.helo = words.next().map(str::to_owned);
        } else if word.eq_ignore_ascii_case("for")
            && let Some(rcpt) = words.next()
        {
            let rcpt = rcpt.trim_matches(['<', '>']);
            if rcpt.contains('@') {
                envelope.recipients.push(rcpt.to_owned());
            }
        }
    }
    // `(name [192.0.2.7])`: the client as the receiving host named it.
    if let Some((before, rest)) = trace.split_once('[')
        && let Some((ip, _)) = rest.split_once(']')
    {
        let ip = ip.trim_start_matches("IPv6:");
        envelope.client_ip = ip.parse::<IpAddr>().ok().map(|ip| ip.to_canonical());
        let name = before.rsplit('(').next().unwrap_or("").trim();
        if !name.is_empty() && name != "unknown" && !name.contains(' ') {
            envelope.client_name = Some(name.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use havre_content::{Limits, analyze};

    use super::*;

    #[test]
    fn a_stored_message_is_known_by_its_newest_received_and_return_path() {
        let message = "Return-Path: <alice@example.org>\r\n\
            Received: from client.example.org (mail.example.org [192.0.2.7])\r\n\
            \tby mx.example.edu (havre) with ESMTP id 0123ABC\r\n\tfor <bob@example.edu>; Mon, 01 Jan 2029 10:00:00 +0000 (UTC)\r\n\
            Received: from inner (unknown [10.0.0.1]) by client.example.org; Sun, 31 Dec 2028 10:00:00 +0000\r\n\
            Subject: hi\r\n\r\nbody\r\n";
        let content = analyze(message.as_bytes(), &Limits::default());
        let e = Envelope::from_message(&content);
        assert_eq!(e.client_ip, Some("192.0.2.7".parse().unwrap()));
        assert_eq!(e.client_name.as_deref(), Some("mail.example.org"));
        assert_eq!(e.helo.as_deref(), Some("client.example.org"));
        assert_eq!(e.recipients, ["bob@example.edu"]);
        assert_eq!(e.sender.as_deref(), Some("alice@example.org"));
        assert_eq!(e.received, Some(1_861_956_000));
        assert_eq!(e.added, None);
    }

    #[test]
    fn a_message_without_trace_has_an_empty_envelope() {
        let content = analyze(b"Subject: hi\r\n\r\nbody\r\n", &Limits::default());
        assert_eq!(Envelope::from_message(&content), Envelope::default());
        let content = analyze(
            b"Received: from x (unknown [IPv6:2001:db8::7]) by y; garbage\r\n\r\n",
            &Limits::default(),
        );
        let e = Envelope::from_message(&content);
        assert_eq!(e.client_ip, Some("2001:db8::7".parse().unwrap()));
        assert_eq!((e.client_name, e.received), (None, None));
    }
}
