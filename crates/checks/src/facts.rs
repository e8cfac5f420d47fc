//! What is known of a transaction when a check runs.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use crate::{Header, Stage};

/// The facts of one SMTP transaction at one stage: a plain struct that the
/// SMTP session, the Postfix policy service and `havre check` fill alike.
///
/// Addresses are as the client gave them (the checks normalise what they
/// compare). Fields that a stage does not know yet are empty: no sender
/// before MAIL, no recipient before RCPT, no headers before the end of DATA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub stage: Stage,
    /// The client's address (an IPv4 client seen through an IPv6 socket is
    /// given as IPv4).
    pub client_ip: IpAddr,
    /// The client's forward-confirmed reverse name (PTR whose A/AAAA leads
    /// back to the address; Postfix's `client_name`), `None` if it has none.
    pub client_name: Option<String>,
    /// The HELO/EHLO argument.
    pub helo: Option<String>,
    /// The envelope sender: `None` before MAIL, `Some("")` for the null
    /// sender `<>`.
    pub sender: Option<String>,
    /// The recipient of the RCPT being checked (at `Rcpt`).
    pub recipient: Option<String>,
    /// The recipients accepted so far in this transaction (at `Data`: all of
    /// them). May stay empty when the caller only knows the count (the
    /// Postfix policy protocol sends no list).
    pub recipients: Vec<String>,
    /// How many recipients were accepted before this stage: at `Rcpt`, those
    /// before the current one (0 for the first recipient of a message); at
    /// `Data`, all of them. The Postfix policy service counts the RCPTs of
    /// one `instance` itself, since Postfix sends 0 at RCPT.
    pub recipient_count: u32,
    /// The SASL login of an authenticated client.
    pub sasl_login: Option<String>,
    /// The class of the authenticated user (`student`, `staff`...).
    pub class: Option<String>,
    /// The size announced with MAIL FROM SIZE=, or at `Data` the real size.
    pub size: u64,
    /// The queue id, once MAIL FROM allocated it.
    pub queue_id: Option<String>,
    /// When the stage happens (checks with a memory of time compare with it,
    /// so tests and `havre check` can set it).
    pub time: SystemTime,
    /// At `Data`: the message's header section, raw bytes as received.
    pub headers: Option<Vec<u8>>,
    /// At `Data`: the whole message as the client sent it (header and
    /// body, before anything is added or removed), for the checks that
    /// read the body (DKIM, the content filter). `None` where the caller
    /// has no message (the Postfix policy service).
    pub message: Option<Arc<Vec<u8>>>,
    /// The headers the transaction's checks asked to add so far: those of
    /// the earlier stages (the session's connect and HELO headers, then the
    /// transaction's), and those of the earlier checks of this stage (the
    /// [`Pipeline`](crate::Pipeline) adds them as it goes). A check that
    /// weighs what others found (the spam filter reading SPF's
    /// `Received-SPF:` and DMARC's `Authentication-Results:`) reads them
    /// here: they are not in [`Facts::message`] yet.
    pub added: Vec<Header>,
}

impl Facts {
    /// A connection from `client_ip`, now, with nothing else known yet.
    pub fn new(client_ip: IpAddr) -> Facts {
        Facts {
            stage: Stage::Connect,
            client_ip,
            client_name: None,
            helo: None,
            sender: None,
            recipient: None,
            recipients: Vec::new(),
            recipient_count: 0,
            sasl_login: None,
            class: None,
            size: 0,
            queue_id: None,
            time: SystemTime::now(),
            headers: None,
            message: None,
            added: Vec::new(),
        }
    }

    /// The client as Postfix names it in replies and logs: `name[ip]`, or
    /// `unknown[ip]` without a confirmed name.
    pub fn client_label(&self) -> String {
        format!(
            "{}[{}]",
            self.client_name.as_deref().unwrap_or("unknown"),
            self.client_ip
        )
    }

    /// The domain of the sender, lower-case; `None` for the null sender or
    /// before MAIL.
    pub fn sender_domain(&self) -> Option<String> {
        self.sender.as_deref().and_then(domain_of)
    }

    /// The domain of the current recipient, lower-case.
    pub fn recipient_domain(&self) -> Option<String> {
        self.recipient.as_deref().and_then(domain_of)
    }

    /// Seconds since the Unix epoch of [`Facts::time`].
    pub fn unix_time(&self) -> i64 {
        match self.time.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i64,
            Err(e) => -(e.duration().as_secs() as i64),
        }
    }
}

/// The part after the last `@`, lower-case, if there is one.
fn domain_of(address: &str) -> Option<String> {
    let (_, domain) = address.rsplit_once('@')?;
    let domain = domain.trim_end_matches('.');
    (!domain.is_empty()).then(|| domain.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_without_a_confirmed_name_is_unknown_as_in_postfix() {
        let mut f = Facts::new("192.0.2.7".parse().unwrap());
        assert_eq!(f.client_label(), "unknown[192.0.2.7]");
        f.client_name = Some("mx.example.org".into());
        assert_eq!(f.client_label(), "mx.example.org[192.0.2.7]");
    }

    #[test]
    fn domains_are_lower_case_and_the_null_sender_has_none() {
        let mut f = Facts::new("192.0.2.7".parse().unwrap());
        f.sender = Some(String::new());
        assert_eq!(f.sender_domain(), None);
        f.sender = Some("Bob@Example.ORG".into());
        assert_eq!(f.sender_domain().as_deref(), Some("example.org"));
        f.recipient = Some("\"a@b\"@Dept.Example.edu.".into());
        assert_eq!(f.recipient_domain().as_deref(), Some("dept.example.edu"));
    }
}
