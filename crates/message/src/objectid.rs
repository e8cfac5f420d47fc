//! OBJECTID (RFC 8474) identifiers of a message, taken from its content as
//! Cyrus does, so a COPY or MOVE (which writes a new file) keeps them.

use sha2::{Digest, Sha256};

use crate::crlf::imap_form;
use crate::sort::SortKeys;

/// `EMAILID`: `M` and 24 hex digits of the SHA-256 of the message (its
/// IMAP form): the same in every mailbox the message is copied to.
pub fn email_id(raw: &[u8]) -> String {
    format!("M{}", hex24(&Sha256::digest(&*imap_form(raw))))
}

/// `THREADID`: `T` and 24 hex digits of the SHA-256 of the thread's first
/// Message-ID (the first of References, else In-Reply-To, else the
/// message's own), so replies share their thread's id; `None` (NIL) for a
/// message without any Message-ID.
pub fn thread_id(keys: &SortKeys) -> Option<String> {
    let root = keys
        .references
        .first()
        .or(keys.in_reply_to.as_ref())
        .or(keys.message_id.as_ref())?;
    Some(format!("T{}", hex24(&Sha256::digest(root.as_bytes()))))
}

fn hex24(digest: &[u8]) -> String {
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sort::sort_keys;

    #[test]
    fn a_reply_shares_its_threads_id_and_a_copy_its_email_id() {
        let first = b"Message-ID: <a@x>\nSubject: hi\n\nx\n";
        let reply = b"Message-ID: <b@x>\r\nIn-Reply-To: <a@x>\r\nReferences: <a@x>\r\n\r\ny\r\n";
        let other = b"Message-ID: <c@x>\n\nz\n";
        let a = thread_id(&sort_keys(first)).unwrap();
        assert_eq!(thread_id(&sort_keys(reply)), Some(a.clone()));
        assert_ne!(thread_id(&sort_keys(other)), Some(a));
        assert_eq!(thread_id(&sort_keys(b"Subject: none\n\n")), None);
        // The LF file and the CRLF one are the same message.
        assert_eq!(
            email_id(first),
            email_id(b"Message-ID: <a@x>\r\nSubject: hi\r\n\r\nx\r\n")
        );
        assert_ne!(email_id(first), email_id(other));
        assert_eq!(email_id(first).len(), 25);
    }
}
