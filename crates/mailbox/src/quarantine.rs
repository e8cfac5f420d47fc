//! Quarantined mail: a message the mx marked `X-Havre-Quarantine:` (a
//! DMARC `quarantine` policy) is delivered into the user's Junk folder, the
//! one with the `\Junk` special use (RFC 6154), created if missing.
//!
//! The mark is trusted because the mx removes any `X-Havre-Quarantine:`
//! the client sent before it adds its own at the top of the message; a
//! message from LMTP comes from the node's own tiers.

use std::io::Read;

use havre_store::MailboxRecord;

use crate::junk::{JUNK, special_folder};
use crate::{MailboxError, Mailboxes, MessageSource};

/// The field the checks add (`havre-auth`).
pub const QUARANTINE_HEADER: &str = "X-Havre-Quarantine";

/// How much of the message is read to find the mark: it is near the top,
/// after the few fields the mx writes first.
const HEAD_READ: usize = 64 * 1024;

/// Whether the header of the message has the quarantine mark. A file that
/// cannot be read is not quarantined: delivery reads it next and reports
/// the error.
pub(crate) fn is_quarantined(source: &MessageSource) -> bool {
    match source {
        MessageSource::Bytes(bytes) => {
            has_field(&bytes[..bytes.len().min(HEAD_READ)], QUARANTINE_HEADER)
        }
        MessageSource::File(path) => {
            let Ok(file) = std::fs::File::open(path) else {
                return false;
            };
            let mut head = Vec::with_capacity(8 * 1024);
            if file.take(HEAD_READ as u64).read_to_end(&mut head).is_err() {
                return false;
            }
            has_field(&head, QUARANTINE_HEADER)
        }
    }
}

/// Whether the header section of `head` has a field named `name`.
fn has_field(head: &[u8], name: &str) -> bool {
    for line in head.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return false;
        }
        if let Some(colon) = line.iter().position(|&b| b == b':')
            && line[..colon]
                .trim_ascii_end()
                .eq_ignore_ascii_case(name.as_bytes())
        {
            return true;
        }
    }
    false
}

impl Mailboxes {
    /// The user's Junk folder: the mailbox with the `\Junk` special use,
    /// else one named Junk, else a new `Junk` (`\Junk`, subscribed, as the
    /// defaults are).
    pub async fn junk(&self, user: &str) -> Result<MailboxRecord, MailboxError> {
        let list = self.list(user).await?;
        if let Some(found) = special_folder(&list, JUNK) {
            return Ok(found.clone());
        }
        let created = self.create(user, "Junk", Some("\\Junk")).await?;
        self.subscribe(user, "Junk", true).await?;
        Ok(created)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mark_is_found_in_the_header_only() {
        assert!(has_field(
            b"Received: x\r\nx-havre-quarantine : dmarc\r\n\r\n",
            QUARANTINE_HEADER
        ));
        assert!(!has_field(
            b"Received: x\r\n\r\nX-Havre-Quarantine: dmarc\r\n",
            QUARANTINE_HEADER
        ));
        assert!(!has_field(
            b"X-Havre-Quarantined: no\r\n\r\n",
            QUARANTINE_HEADER
        ));
    }
}
