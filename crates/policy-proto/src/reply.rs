//! The server's answer: one `action=` line and an empty line.

use std::fmt;

/// An action of Postfix's access(5) table, as a policy service answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `action=DUNNO`: nothing to say; Postfix goes on with its restrictions.
    Dunno,
    /// `action=OK`: accept at this stage (Postfix stops the restriction list).
    Ok,
    /// `action=450 4.7.1 text` or `action=554 5.7.1 text`: a 4xx or 5xx
    /// refusal, which Postfix writes as `450 4.7.1 <rcpt>: Recipient address
    /// rejected: text`.
    Refuse(String),
    /// `action=DEFER_IF_PERMIT text`: 450 unless Postfix refuses for good
    /// anyway; what a service answers when it cannot decide.
    DeferIfPermit(String),
    /// `action=PREPEND Name: value`: add one header, then go on as DUNNO.
    Prepend(String),
}

impl Reply {
    /// The bytes on the wire, empty line included. A newline or NUL in a
    /// text (which would end the reply early or be refused by Postfix)
    /// becomes a space.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = format!("action={self}").into_bytes();
        for b in &mut out {
            if matches!(*b, b'\n' | b'\r' | 0) {
                *b = b' ';
            }
        }
        out.extend_from_slice(b"\n\n");
        out
    }
}

impl fmt::Display for Reply {
    /// What follows `action=`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Dunno => f.write_str("DUNNO"),
            Reply::Ok => f.write_str("OK"),
            Reply::Refuse(line) => f.write_str(line),
            Reply::DeferIfPermit(text) => write!(f, "DEFER_IF_PERMIT {text}"),
            Reply::Prepend(header) => write!(f, "PREPEND {header}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reply_is_one_action_line_and_an_empty_line() {
        assert_eq!(Reply::Dunno.encode(), b"action=DUNNO\n\n");
        assert_eq!(Reply::Ok.encode(), b"action=OK\n\n");
        assert_eq!(
            Reply::Refuse("450 4.7.1 Rate limit exceeded".into()).encode(),
            b"action=450 4.7.1 Rate limit exceeded\n\n"
        );
        assert_eq!(
            Reply::DeferIfPermit("Policy service error".into()).encode(),
            b"action=DEFER_IF_PERMIT Policy service error\n\n"
        );
        assert_eq!(
            Reply::Prepend("X-Greylist: delayed 2 seconds".into()).encode(),
            b"action=PREPEND X-Greylist: delayed 2 seconds\n\n"
        );
    }

    #[test]
    fn a_text_cannot_end_the_reply_early() {
        assert_eq!(
            Reply::Refuse("554 5.7.1 no\n\naction=OK".into()).encode(),
            b"action=554 5.7.1 no  action=OK\n\n"
        );
    }
}
