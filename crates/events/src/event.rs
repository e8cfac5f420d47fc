//! One event: what happened, to which message, between whom.

use serde::Serialize;

/// What an event tells. Its name (`as_str`) is what the database keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A client connected (mx, submission, lmtp).
    Connect,
    /// A command refused by a check or the directory (`reason`: the reply,
    /// `check`: which).
    Reject,
    /// A recipient told to come back later by greylisting.
    Greylist,
    /// A message taken into the queue (Postfix's "received").
    Accepted,
    /// A copy delivered: into a mailbox, or handed to another server
    /// (`relay`).
    Delivered,
    /// A delivery that will be tried again.
    Deferred,
    /// A recipient given up on: a DSN goes to the sender.
    Bounced,
    /// A notice to the sender (a DSN, a delay warning) about this
    /// message, queued as `related`.
    Notice,
    /// A login that succeeded (`client`, `recipient` is the user).
    Login,
    /// A login refused.
    LoginFailed,
    /// The spam filter found a message to be spam (whatever was done with
    /// it: tagged, put in Junk, refused).
    Spam,
    /// The antivirus found a virus in a message (`reason`: its names).
    Virus,
}

impl Kind {
    pub const ALL: [Kind; 12] = [
        Kind::Connect,
        Kind::Reject,
        Kind::Greylist,
        Kind::Accepted,
        Kind::Delivered,
        Kind::Deferred,
        Kind::Bounced,
        Kind::Notice,
        Kind::Login,
        Kind::LoginFailed,
        Kind::Spam,
        Kind::Virus,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Connect => "connect",
            Kind::Reject => "reject",
            Kind::Greylist => "greylist",
            Kind::Accepted => "accepted",
            Kind::Delivered => "delivered",
            Kind::Deferred => "deferred",
            Kind::Bounced => "bounced",
            Kind::Notice => "notice",
            Kind::Login => "login",
            Kind::LoginFailed => "login-failed",
            Kind::Spam => "spam",
            Kind::Virus => "virus",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// One event. Fields that do not apply stay empty (`None`, 0).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Microseconds since the Unix epoch; 0: now, filled in when recorded.
    pub at: i64,
    /// The node that recorded it; empty: this one.
    pub node: String,
    pub kind: Kind,
    /// The program that decided, as in the log line (`smtpd`, `local`,
    /// `smtp`, `imap-login`...).
    pub role: String,
    pub queue_id: Option<String>,
    pub message_id: Option<String>,
    /// `host[ip]`, as Postfix writes a client.
    pub client: Option<String>,
    pub sender: Option<String>,
    pub recipient: Option<String>,
    /// The address the recipient was given as, when an alias or a
    /// forwarding led to `recipient` (Postfix's `orig_to`).
    pub original: Option<String>,
    /// Bytes of the message.
    pub size: u64,
    /// Seconds from arrival to this event (deliveries).
    pub delay: Option<f64>,
    /// Where a copy went (`local`, `host[ip]:port`).
    pub relay: Option<String>,
    /// The check that decided a refusal (`rcpt`, `greylist`, `dnsbl`...).
    pub check: Option<String>,
    /// Another message this one led to (the queue id of its DSN).
    pub related: Option<String>,
    /// The reply or status text (`550 5.1.1 ... User unknown`, a DSN's
    /// diagnostic).
    pub reason: Option<String>,
}

impl Event {
    /// An event of `kind` by `role`, everything else empty.
    pub fn new(kind: Kind, role: &str) -> Event {
        Event {
            at: 0,
            node: String::new(),
            kind,
            role: role.to_string(),
            queue_id: None,
            message_id: None,
            client: None,
            sender: None,
            recipient: None,
            original: None,
            size: 0,
            delay: None,
            relay: None,
            check: None,
            related: None,
            reason: None,
        }
    }

    pub fn queue_id(mut self, id: impl Into<String>) -> Event {
        self.queue_id = Some(id.into());
        self
    }

    pub fn message_id(mut self, id: impl Into<String>) -> Event {
        self.message_id = Some(id.into());
        self
    }

    pub fn client(mut self, client: impl Into<String>) -> Event {
        self.client = Some(client.into());
        self
    }

    pub fn sender(mut self, sender: impl Into<String>) -> Event {
        self.sender = Some(sender.into());
        self
    }

    pub fn recipient(mut self, recipient: impl Into<String>) -> Event {
        self.recipient = Some(recipient.into());
        self
    }

    pub fn original(mut self, address: impl Into<String>) -> Event {
        self.original = Some(address.into());
        self
    }

    pub fn size(mut self, size: u64) -> Event {
        self.size = size;
        self
    }

    pub fn delay(mut self, seconds: f64) -> Event {
        self.delay = Some(seconds);
        self
    }

    pub fn relay(mut self, relay: impl Into<String>) -> Event {
        self.relay = Some(relay.into());
        self
    }

    pub fn check(mut self, check: impl Into<String>) -> Event {
        self.check = Some(check.into());
        self
    }

    pub fn related(mut self, queue_id: impl Into<String>) -> Event {
        self.related = Some(queue_id.into());
        self
    }

    pub fn reason(mut self, reason: impl Into<String>) -> Event {
        self.reason = Some(reason.into());
        self
    }
}

pub(crate) fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}
