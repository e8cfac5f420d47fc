//! The mailbox tier's delivery: a message for a local user lands in that user's
//! Dovecot-compatible Maildir.
//!
//! Both entry points use it: the relay delivering from the queue and the LMTP
//! listener. Each delivery prepends `Return-Path:` (the envelope sender) and
//! `Delivered-To:` (the final mailbox, as Postfix's local agent does) and is
//! durable when [`LocalDelivery::deliver`] returns: the file is fsynced and
//! renamed into `new/`, which is fsynced too.
//!
//! Exactly-once: the file name's unique part is derived from the caller's
//! message id and the mailbox, so a delivery retried after a crash can ask
//! ([`DeliveryRequest::check_duplicate`]) whether it already happened, instead of
//! delivering the same message twice.
//!
//! Where a mailbox lives comes from a Dovecot-style template: `%d` the domain,
//! `%n` the local part, `%u` the whole address, all lower-case.

use std::path::{Path, PathBuf};

use havre_maildir::{Maildir, MaildirError};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Maildir(#[from] MaildirError),
    #[error("cannot read {path}: {source}")]
    Spool {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("delivery task failed: {0}")]
    Task(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered(PathBuf),
    /// A previous attempt had already delivered it; nothing was written.
    AlreadyDelivered(PathBuf),
}

pub struct DeliveryRequest<'a> {
    /// Lower-case address of the local mailbox.
    pub mailbox: &'a str,
    /// Envelope sender, empty for `<>`.
    pub sender: &'a str,
    /// The message as received (CRLF line endings).
    pub message: &'a Path,
    /// Identifies the message for the exactly-once check (a queue id).
    pub message_id: &'a str,
    /// Look for an earlier delivery first (after a crash or a partial attempt).
    pub check_duplicate: bool,
}

#[derive(Clone)]
pub struct LocalDelivery {
    template: String,
    hostname: String,
}

impl LocalDelivery {
    /// `maildir_template` is an absolute path with `%d`, `%n`, `%u`.
    pub fn new(maildir_template: impl Into<String>, hostname: impl Into<String>) -> LocalDelivery {
        LocalDelivery {
            template: maildir_template.into(),
            hostname: hostname.into(),
        }
    }

    pub fn maildir_of(&self, mailbox: &str) -> Maildir {
        let mailbox = mailbox.to_lowercase();
        let (local, domain) = mailbox.rsplit_once('@').unwrap_or((&mailbox, ""));
        // Path separators in a local part must not climb out of the mail root.
        let safe = |s: &str| s.replace('/', "_").replace("..", "__");
        let path = self
            .template
            .replace("%u", &safe(&mailbox))
            .replace("%d", &safe(domain))
            .replace("%n", &safe(local));
        Maildir::new(path)
    }

    pub async fn deliver(
        &self,
        request: DeliveryRequest<'_>,
    ) -> Result<DeliveryOutcome, DeliveryError> {
        let maildir = self.maildir_of(request.mailbox);
        let unique = unique_name(request.message_id, request.mailbox);
        let header = format!(
            "Return-Path: <{}>\r\nDelivered-To: {}\r\n",
            request.sender, request.mailbox
        );
        let hostname = self.hostname.clone();
        let message = request.message.to_path_buf();
        let check = request.check_duplicate;
        tokio::task::spawn_blocking(move || {
            maildir.create()?;
            if check && let Some(found) = maildir.find_delivered(&unique)? {
                return Ok(DeliveryOutcome::AlreadyDelivered(found));
            }
            let mut body =
                std::fs::File::open(&message).map_err(|source| DeliveryError::Spool {
                    path: message.clone(),
                    source,
                })?;
            let path = maildir.deliver(
                &unique,
                &hostname,
                header.as_bytes(),
                &mut body,
                std::time::SystemTime::now(),
            )?;
            Ok(DeliveryOutcome::Delivered(path))
        })
        .await
        .map_err(|e| DeliveryError::Task(e.to_string()))?
    }
}

/// `<message id>R<16 hex of sha256(mailbox)>`: the same message to the same
/// mailbox always gets the same name, whichever alias it came through.
fn unique_name(message_id: &str, mailbox: &str) -> String {
    let digest = Sha256::digest(mailbox.to_lowercase().as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let id: String = message_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    format!("{id}R{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, LocalDelivery, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let template = format!("{}/mail/%d/%n/Maildir", dir.path().display());
        let spool = dir.path().join("msg");
        std::fs::write(&spool, b"Subject: hi\r\n\r\nhello\r\n").unwrap();
        (dir, LocalDelivery::new(template, "mx.example.test"), spool)
    }

    fn request<'a>(spool: &'a Path, check: bool) -> DeliveryRequest<'a> {
        DeliveryRequest {
            mailbox: "alice@example.test",
            sender: "bob@remote.test",
            message: spool,
            message_id: "0123ABCD",
            check_duplicate: check,
        }
    }

    #[tokio::test]
    async fn a_delivered_message_carries_return_path_and_delivered_to() {
        let (dir, local, spool) = setup();
        let DeliveryOutcome::Delivered(path) = local.deliver(request(&spool, false)).await.unwrap()
        else {
            panic!("not delivered")
        };
        assert!(path.starts_with(dir.path().join("mail/example.test/alice/Maildir/new")));
        let text = std::fs::read_to_string(path).unwrap();
        assert_eq!(
            text,
            "Return-Path: <bob@remote.test>\nDelivered-To: alice@example.test\nSubject: hi\n\nhello\n"
        );
    }

    #[tokio::test]
    async fn a_retry_after_a_crash_does_not_deliver_twice() {
        let (_dir, local, spool) = setup();
        local.deliver(request(&spool, false)).await.unwrap();
        let again = local.deliver(request(&spool, true)).await.unwrap();
        assert!(matches!(again, DeliveryOutcome::AlreadyDelivered(_)));
        assert_eq!(
            local
                .maildir_of("alice@example.test")
                .messages()
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn a_local_part_cannot_climb_out_of_the_mail_root() {
        let local = LocalDelivery::new("/srv/mail/%d/%n", "h");
        assert_eq!(
            local.maildir_of("../../etc@example.test").root(),
            Path::new("/srv/mail/example.test/______etc")
        );
    }
}
