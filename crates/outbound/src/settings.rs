//! What the caller tells the client: settings and the envelope.

use std::time::Duration;

/// Per-stage timeouts, RFC 5321 4.5.3.2; the defaults are Postfix's
/// (`smtp_*_timeout`), which follow the RFC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP connect (`smtp_connect_timeout`, 30 s).
    pub connect: Duration,
    /// The server's 220 greeting (RFC: 5 min).
    pub greeting: Duration,
    /// EHLO/LHLO/HELO (`smtp_helo_timeout`, 5 min).
    pub helo: Duration,
    /// STARTTLS reply and TLS handshake (`smtp_starttls_timeout`, 5 min).
    pub starttls: Duration,
    /// MAIL FROM (RFC: 5 min).
    pub mail: Duration,
    /// Each RCPT TO (RFC: 5 min).
    pub rcpt: Duration,
    /// The reply to DATA (RFC: 2 min).
    pub data_init: Duration,
    /// Sending each block of the message (RFC: 3 min).
    pub data_block: Duration,
    /// The reply(ies) after the final dot (RFC: 10 min).
    pub data_done: Duration,
    /// RSET before reusing a connection (`smtp_rset_timeout`, 20 s).
    pub rset: Duration,
    /// The reply to QUIT (`smtp_quit_timeout`, 5 min; it is waited for in
    /// the background, never by the caller).
    pub quit: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        let min = |m: u64| Duration::from_secs(60 * m);
        Timeouts {
            connect: Duration::from_secs(30),
            greeting: min(5),
            helo: min(5),
            starttls: min(5),
            mail: min(5),
            rcpt: min(5),
            data_init: min(2),
            data_block: min(3),
            data_done: min(10),
            rset: Duration::from_secs(20),
            quit: min(5),
        }
    }
}

impl Timeouts {
    /// Every timeout set to `d` (tests).
    pub fn all(d: Duration) -> Timeouts {
        Timeouts {
            connect: d,
            greeting: d,
            helo: d,
            starttls: d,
            mail: d,
            rcpt: d,
            data_init: d,
            data_block: d,
            data_done: d,
            rset: d,
            quit: d,
        }
    }
}

/// What to do about TLS on SMTP routes. LMTP never uses STARTTLS (like
/// Postfix's default `lmtp_tls_security_level = none`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TlsPolicy {
    /// Postfix `smtp_tls_security_level = may`: STARTTLS when the server
    /// offers it, without checking its certificate. When STARTTLS is not
    /// offered, or the server answers it with an error, the session goes on
    /// in clear. When the TLS handshake itself fails, the same address is
    /// tried again at once in clear (Postfix does that only once the
    /// message is older than `minimal_backoff_time`; we do not know the
    /// message's age here, and a plaintext retry now beats a deferral).
    #[default]
    Opportunistic,
    /// Never STARTTLS.
    None,
}

/// How the client behaves; plain values, no configuration types.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// Our name in EHLO/LHLO/HELO (`smtp_helo_name`).
    pub helo_name: String,
    pub timeouts: Timeouts,
    pub tls: TlsPolicy,
    /// The port of MX deliveries ([`Route::Mx`](crate::Route::Mx)); 25
    /// except in tests.
    pub smtp_port: u16,
    /// At most this many addresses are tried per delivery
    /// (`smtp_mx_address_limit`, 5).
    pub max_addresses: usize,
    /// At most this many servers that answered (greeting or not) per
    /// delivery (`smtp_mx_session_limit`, 2).
    pub max_sessions: usize,
}

impl ClientSettings {
    pub fn new(helo_name: impl Into<String>) -> ClientSettings {
        ClientSettings {
            helo_name: helo_name.into(),
            timeouts: Timeouts::default(),
            tls: TlsPolicy::Opportunistic,
            smtp_port: 25,
            max_addresses: 5,
            max_sessions: 2,
        }
    }
}

/// The envelope of one message for one destination.
#[derive(Debug, Clone, Copy)]
pub struct Envelope<'a> {
    /// The reverse path without brackets; empty for the null sender.
    pub sender: &'a str,
    /// Recipient addresses without brackets; results come in this order.
    pub recipients: &'a [String],
    /// The message size in bytes (the spool file's size), for SIZE=.
    pub size: u64,
    /// The message needs SMTPUTF8 (internationalised headers). Non-ASCII
    /// envelope addresses imply it.
    pub smtputf8: bool,
    /// The body has 8-bit bytes: BODY=8BITMIME when offered (sent as is
    /// when not: no conversion to quoted-printable).
    pub eight_bit: bool,
}
