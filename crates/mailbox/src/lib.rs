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
//! `%n` the local part, `%u` the whole address, all lower-case. The index of
//! each mailbox (UIDs, flags, mod-sequences) is in the store, kept by
//! [`Mailboxes`], which also keeps what Dovecot reads in step with it (flags
//! in file names, `dovecot-uidlist`, `dovecot-keywords`, `subscriptions`: see
//! `dovecot.rs`); sessions hear of changes through its [`Notifier`].

mod dovecot;
mod files;
mod filing;
mod flags;
mod import;
mod in_flight;
mod inboxes;
mod junk;
mod lessons;
mod mailboxes;
mod notify;
mod quarantine;
mod restore;
mod search_index;
mod sieve;
mod snapshot;
mod staged;
mod storage_check;
mod sync;
mod vacation;

use sha2::{Digest, Sha256};

pub use filing::Filed;
pub use flags::{from_letters, to_letters};
pub use import::{ImportError, ImportReport, ImportedFolder, import_dovecot_maildir};
pub use junk::{Cause, JUNK, JunkClass, JunkLearner, Lesson, TRASH, lesson_class, special_folder};
pub use lessons::{LESSON_QUEUE, Learned, LessonQueue, Taught, Teacher};
pub use mailboxes::{
    Appended, DEFAULT_FOLDERS, Looked, MailboxError, Mailboxes, Transfer, maildir_path,
    normalize_name,
};
pub use notify::{CAPACITY as NOTIFY_CAPACITY, Change, MessageChange, Notifier};
/// Changes as text for the other nodes of a cluster.
pub mod changes {
    pub use crate::notify::{decode, encode};
}
pub use quarantine::QUARANTINE_HEADER;
pub use restore::{RestoreReport, RestoredFolder, restore_user};
pub use sieve::{ActiveScript, Filing, Plan, SieveScripts};
pub use snapshot::{Snapshot, Snapshots};
pub use staged::Staged;
pub use vacation::VacationReply;

/// What a delivery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Written now, with this UID in the INBOX (or the Junk folder).
    Delivered(u32),
    /// A previous attempt had already written it; nothing was written.
    AlreadyDelivered(u32),
}

/// Where the message to deliver is (a spool file, or bytes in memory).
pub use havre_message::MessageSource;

#[derive(Clone, Copy)]
pub struct DeliveryRequest<'a> {
    /// Lower-case address of the local mailbox.
    pub mailbox: &'a str,
    /// Envelope sender, empty for `<>`.
    pub sender: &'a str,
    /// The message as received (CRLF line endings).
    pub message: &'a MessageSource,
    /// Identifies the message for the exactly-once check (a queue id).
    pub message_id: &'a str,
    /// Look for an earlier delivery first (after a crash or a partial attempt).
    pub check_duplicate: bool,
}

/// Final delivery into a user's INBOX, or into their Junk folder for a
/// message the mx quarantined ([`QUARANTINE_HEADER`]), or where her Sieve
/// scripts say ([`LocalDelivery::plan`], `filing.rs`).
#[derive(Clone)]
pub struct LocalDelivery {
    mailboxes: Mailboxes,
    sieve: Option<std::sync::Arc<SieveScripts>>,
}

impl LocalDelivery {
    pub fn new(mailboxes: Mailboxes) -> LocalDelivery {
        LocalDelivery {
            mailboxes,
            sieve: None,
        }
    }

    /// Runs users' (and the site's) Sieve scripts at [`LocalDelivery::plan`].
    pub fn with_sieve(mut self, scripts: std::sync::Arc<SieveScripts>) -> LocalDelivery {
        self.sieve = Some(scripts);
        self
    }

    pub fn mailboxes(&self) -> &Mailboxes {
        &self.mailboxes
    }

    /// The user's INBOX Maildir.
    pub fn maildir_of(&self, user: &str) -> havre_maildir::Maildir {
        self.mailboxes.root_of(user)
    }

    /// Delivers into INBOX (Junk for a quarantined message) and indexes
    /// (its own commit): durable and visible when this returns. What
    /// [`LocalDelivery::deliver_plan`] does for a plan that keeps.
    pub async fn deliver(
        &self,
        request: DeliveryRequest<'_>,
    ) -> Result<DeliveryOutcome, MailboxError> {
        let filed = self.deliver_plan(request, &Plan::keep()).await?;
        filed
            .into_iter()
            .next()
            .map(|f| f.outcome)
            .ok_or_else(|| MailboxError::NoSuchMailbox("INBOX".into()))
    }

    /// Delivers durably without committing the index row: the caller
    /// commits [`Staged::row`] with its own changes, then hands it to
    /// [`Mailboxes::staged_indexed`] (see `staged.rs`).
    pub async fn stage(&self, request: DeliveryRequest<'_>) -> Result<Staged, MailboxError> {
        let user = request.mailbox.to_lowercase();
        let unique = unique_name(request.message_id, &user);
        self.stage_inbox(request, &unique, Vec::new()).await
    }

    /// [`LocalDelivery::stage`] into INBOX under `unique`, with `flags`;
    /// Junk for a quarantined message.
    pub(crate) async fn stage_inbox(
        &self,
        request: DeliveryRequest<'_>,
        unique: &str,
        flags: Vec<String>,
    ) -> Result<Staged, MailboxError> {
        let user = request.mailbox.to_lowercase();
        let unique = unique.to_string();
        let inbox = self.mailboxes.inbox(&user).await?;
        let header = delivery_header(&request);
        // The quarantine mark is looked for on the blocking thread that
        // writes the copy: most messages have none and cost no extra trip.
        let staged = self
            .mailboxes
            .stage_file(
                &user,
                &inbox,
                &unique,
                header.clone().into_bytes(),
                request.message,
                request.check_duplicate,
                true,
                flags.clone(),
            )
            .await?;
        if let Some(staged) = staged {
            return Ok(staged);
        }
        let junk = self.mailboxes.junk(&user).await?;
        tracing::info!(target: "relay", role = "local", "{}: to=<{user}>: quarantined: delivered to {} ({QUARANTINE_HEADER})", request.message_id, junk.name);
        self.mailboxes
            .stage_file(
                &user,
                &junk,
                &unique,
                header.into_bytes(),
                request.message,
                request.check_duplicate,
                false,
                flags,
            )
            .await?
            .ok_or_else(|| MailboxError::NoSuchMailbox(junk.name.clone()))
    }
}

/// `Return-Path:` (the envelope sender) and `Delivered-To:` (the mailbox),
/// on top of every copy.
fn delivery_header(request: &DeliveryRequest<'_>) -> String {
    format!(
        "Return-Path: <{}>\r\nDelivered-To: {}\r\n",
        request.sender, request.mailbox
    )
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
    use std::sync::Arc;

    use std::path::PathBuf;

    use havre_store::SqliteStore;

    use super::*;

    async fn setup() -> (tempfile::TempDir, LocalDelivery, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let template = format!("{}/mail/%d/%n/Maildir", dir.path().display());
        let spool = dir.path().join("msg");
        std::fs::write(&spool, b"Subject: hi\r\n\r\nhello\r\n").unwrap();
        let store = Arc::new(SqliteStore::memory().await.unwrap());
        let mailboxes = Mailboxes::new(store, template, "mx.example.test");
        (dir, LocalDelivery::new(mailboxes), spool)
    }

    fn request(spool: &MessageSource, check: bool) -> DeliveryRequest<'_> {
        DeliveryRequest {
            mailbox: "alice@example.test",
            sender: "bob@remote.test",
            message: spool,
            message_id: "0123ABCD",
            check_duplicate: check,
        }
    }

    #[tokio::test]
    async fn a_delivered_message_carries_return_path_and_delivered_to_and_gets_uid_1() {
        let (dir, local, spool) = setup().await;
        let source = MessageSource::file(&spool);
        let outcome = local.deliver(request(&source, false)).await.unwrap();
        assert_eq!(outcome, DeliveryOutcome::Delivered(1));
        let files = local.maildir_of("alice@example.test").messages().unwrap();
        assert_eq!(files.len(), 1);
        assert!(files[0].starts_with(dir.path().join("mail/example.test/alice/Maildir/new")));
        let text = std::fs::read_to_string(&files[0]).unwrap();
        assert_eq!(
            text,
            "Return-Path: <bob@remote.test>\nDelivered-To: alice@example.test\nSubject: hi\n\nhello\n"
        );
        // The first delivery created the user's folders.
        let store = local.mailboxes().store();
        let names: Vec<String> = store
            .mailbox_list("alice@example.test")
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        for name in ["INBOX", "Drafts", "Sent", "Trash", "Junk", "Archive"] {
            assert!(names.contains(&name.to_string()), "{names:?}");
        }
        assert!(
            dir.path()
                .join("mail/example.test/alice/Maildir/.Sent/maildirfolder")
                .exists()
        );
    }

    #[tokio::test]
    async fn a_user_removed_and_made_again_gets_her_next_mail_in_her_new_inbox() {
        let (_dir, local, spool) = setup().await;
        let store = local.mailboxes().store().clone();
        let user = havre_store::NewUser {
            email: "alice@example.test".into(),
            password_hash: None,
            class: "default".into(),
            quota: None,
        };
        store.add_domain("example.test").await.unwrap();
        store.add_user(&user).await.unwrap();
        let source = MessageSource::file(&spool);
        // Her INBOX is kept from this first delivery on.
        local.deliver(request(&source, false)).await.unwrap();
        let old = local.mailboxes().get("alice@example.test", "INBOX").await;
        let old = old.unwrap().unwrap().id;
        // Another process (`havre user remove`, then `add`) makes her again:
        // a new INBOX, another id.
        assert!(store.remove_user("alice@example.test").await.unwrap());
        store.add_user(&user).await.unwrap();
        local
            .mailboxes()
            .ensure_defaults("alice@example.test")
            .await
            .unwrap();
        let new = local.mailboxes().get("alice@example.test", "INBOX").await;
        let new = new.unwrap().unwrap();
        assert_ne!(new.id, old);
        let next = DeliveryRequest {
            message_id: "0123ABCE",
            ..request(&source, false)
        };
        assert_eq!(
            local.deliver(next).await.unwrap(),
            DeliveryOutcome::AlreadyDelivered(1)
        );
        let indexed = store.message_list(new.id).await.unwrap();
        assert_eq!(indexed.len(), 1, "{indexed:?}");
        // And the one after that goes straight to the new INBOX.
        let third = DeliveryRequest {
            message_id: "0123ABCF",
            ..request(&source, false)
        };
        assert_eq!(
            local.deliver(third).await.unwrap(),
            DeliveryOutcome::Delivered(2)
        );
    }

    #[tokio::test]
    async fn a_maildir_removed_from_the_disk_is_made_again_by_the_next_delivery() {
        let (_dir, local, spool) = setup().await;
        let source = MessageSource::file(&spool);
        local.deliver(request(&source, false)).await.unwrap();
        let root = local.maildir_of("alice@example.test");
        std::fs::remove_dir_all(root.root()).unwrap();
        let next = DeliveryRequest {
            message_id: "0123ABCE",
            ..request(&source, false)
        };
        assert_eq!(
            local.deliver(next).await.unwrap(),
            DeliveryOutcome::Delivered(2)
        );
        assert_eq!(root.messages().unwrap().len(), 1);
        assert!(root.root().join("cur").is_dir() && root.root().join("tmp").is_dir());
    }

    #[tokio::test]
    async fn a_retry_after_a_crash_does_not_deliver_twice() {
        let (_dir, local, spool) = setup().await;
        let source = MessageSource::file(&spool);
        local.deliver(request(&source, false)).await.unwrap();
        let again = local.deliver(request(&source, true)).await.unwrap();
        assert_eq!(again, DeliveryOutcome::AlreadyDelivered(1));
        assert_eq!(
            local
                .maildir_of("alice@example.test")
                .messages()
                .unwrap()
                .len(),
            1
        );
    }

    #[tokio::test]
    async fn a_staged_copy_is_left_to_its_writer_and_indexed_by_sync_if_its_commit_never_comes() {
        let (_dir, local, spool) = setup().await;
        let source = MessageSource::file(&spool);
        let user = "alice@example.test";
        local.deliver(request(&source, false)).await.unwrap();
        let mut second = request(&source, false);
        second.message_id = "0123ABCE";
        let staged = local.stage(second).await.unwrap();
        assert!(staged.fresh());
        let mailboxes = local.mailboxes();
        let inbox = mailboxes.get(user, "INBOX").await.unwrap().unwrap();
        // Written and durable, but its row commits with the caller's
        // transaction: a session's sync must not take it meanwhile.
        assert_eq!(local.maildir_of(user).messages().unwrap().len(), 2);
        assert_eq!(mailboxes.sync(user, &inbox).await.unwrap(), 0);
        assert_eq!(staged.row().mailbox_id, inbox.id);
        // The commit failed (the attempt is dropped): the file is the
        // folder's like any file without a row.
        drop(staged);
        assert_eq!(mailboxes.sync(user, &inbox).await.unwrap(), 1);
        let uids: Vec<u32> = mailboxes
            .store()
            .message_list(inbox.id)
            .await
            .unwrap()
            .iter()
            .map(|m| m.uid)
            .collect();
        assert_eq!(uids, [1, 2]);
    }

    #[tokio::test]
    async fn a_file_written_but_not_indexed_gets_its_uid_at_the_next_sync() {
        let (_dir, local, spool) = setup().await;
        let source = MessageSource::file(&spool);
        local.deliver(request(&source, false)).await.unwrap();
        let mailboxes = local.mailboxes();
        let inbox = mailboxes
            .get("alice@example.test", "inbox")
            .await
            .unwrap()
            .unwrap();
        // Another program (or a crash before indexing) leaves a file behind.
        let maildir = local.maildir_of("alice@example.test");
        std::fs::write(
            maildir.root().join("cur/1700000000.M1P1.other:2,FS"),
            b"Subject: x\n\nbody\n",
        )
        .unwrap();
        assert_eq!(
            mailboxes.sync("alice@example.test", &inbox).await.unwrap(),
            1
        );
        assert_eq!(
            mailboxes.sync("alice@example.test", &inbox).await.unwrap(),
            0
        );
        let messages = mailboxes.store().message_list(inbox.id).await.unwrap();
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[1].flags, vec!["\\Flagged", "\\Seen"]);
        assert_eq!(messages[1].size, 20);
    }

    #[tokio::test]
    async fn a_file_another_program_moved_to_cur_is_the_same_message_and_stays_readable() {
        let (_dir, local, spool) = setup().await;
        let source = MessageSource::file(&spool);
        local.deliver(request(&source, false)).await.unwrap();
        let mailboxes = local.mailboxes();
        let user = "alice@example.test";
        let inbox = mailboxes.get(user, "INBOX").await.unwrap().unwrap();
        let before = mailboxes.store().message_list(inbox.id).await.unwrap();
        let old = mailboxes.message_path(user, &inbox, &before[0]).unwrap();
        // What Dovecot does when a client reads the message.
        let name = old.file_name().unwrap().to_str().unwrap().to_string();
        let moved = local
            .maildir_of(user)
            .root()
            .join(format!("cur/{name}:2,S"));
        std::fs::rename(&old, &moved).unwrap();
        let bytes = mailboxes
            .read_message(user, &inbox, &before[0])
            .await
            .unwrap();
        assert!(bytes.ends_with(b"hello\n"));
        assert_eq!(mailboxes.sync(user, &inbox).await.unwrap(), 0);
        let after = mailboxes.store().message_list(inbox.id).await.unwrap();
        assert_eq!(after.len(), 1);
        assert_eq!(after[0].uid, before[0].uid);
        assert_eq!(after[0].file, format!("cur/{name}:2,S"));
        std::fs::remove_file(&moved).unwrap();
        assert!(matches!(
            mailboxes.read_message(user, &inbox, &before[0]).await,
            Err(MailboxError::MissingFile(_))
        ));
        mailboxes.expunge(user, &inbox, &after).await.unwrap();
        assert!(matches!(
            mailboxes.read_message(user, &inbox, &before[0]).await,
            Err(MailboxError::Expunged(1))
        ));
    }

    #[tokio::test]
    async fn a_quarantined_message_goes_to_the_junk_folder_even_renamed_or_deleted() {
        let (dir, local, spool) = setup().await;
        let source = MessageSource::file(&spool);
        std::fs::write(
            &spool,
            b"X-Havre-Quarantine: dmarc\r\nSubject: hi\r\n\r\nhello\r\n",
        )
        .unwrap();
        local.deliver(request(&source, false)).await.unwrap();
        let root = dir.path().join("mail/example.test/alice/Maildir");
        assert_eq!(
            std::fs::read_dir(root.join(".Junk/new")).unwrap().count(),
            1
        );
        assert_eq!(std::fs::read_dir(root.join("new")).unwrap().count(), 0);
        // The user renamed Junk: the \Junk folder is still where it goes.
        let user = "alice@example.test";
        let mailboxes = local.mailboxes();
        let junk = mailboxes.get(user, "Junk").await.unwrap().unwrap();
        mailboxes.rename(user, &junk, "Spam").await.unwrap();
        let mut second = request(&source, false);
        second.message_id = "0123ABCE";
        local.deliver(second).await.unwrap();
        assert_eq!(
            std::fs::read_dir(root.join(".Spam/new")).unwrap().count(),
            2
        );
        // No Junk folder at all: one is made.
        let spam = mailboxes.get(user, "Spam").await.unwrap().unwrap();
        mailboxes.delete(user, &spam).await.unwrap();
        let mut third = request(&source, false);
        third.message_id = "0123ABCF";
        local.deliver(third).await.unwrap();
        let made = mailboxes.get(user, "Junk").await.unwrap().unwrap();
        assert_eq!(made.special_use.as_deref(), Some("\\Junk"));
    }

    #[tokio::test]
    async fn a_message_from_memory_is_delivered_as_one_from_a_file_and_quarantine_is_obeyed() {
        let (dir, local, _spool) = setup().await;
        let plain = MessageSource::Bytes(b"Subject: hi\r\n\r\nhello\r\n".as_slice().into());
        local.deliver(request(&plain, false)).await.unwrap();
        let root = dir.path().join("mail/example.test/alice/Maildir");
        let files = local.maildir_of("alice@example.test").messages().unwrap();
        assert_eq!(
            std::fs::read_to_string(&files[0]).unwrap(),
            "Return-Path: <bob@remote.test>\nDelivered-To: alice@example.test\nSubject: hi\n\nhello\n"
        );
        let marked = MessageSource::Bytes(
            b"X-Havre-Quarantine: dmarc\r\nSubject: hi\r\n\r\nhello\r\n"
                .as_slice()
                .into(),
        );
        let mut second = request(&marked, false);
        second.message_id = "0123ABCE";
        local.deliver(second).await.unwrap();
        assert_eq!(std::fs::read_dir(root.join("new")).unwrap().count(), 1);
        assert_eq!(
            std::fs::read_dir(root.join(".Junk/new")).unwrap().count(),
            1
        );
    }

    #[test]
    fn a_local_part_cannot_climb_out_of_the_mail_root() {
        let store: Arc<dyn havre_store::Store> = Arc::new(
            tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(SqliteStore::memory())
                .unwrap(),
        );
        let mailboxes = Mailboxes::new(store, "/srv/mail/%d/%n", "h");
        assert_eq!(
            mailboxes.root_of("../../etc@example.test").root(),
            std::path::Path::new("/srv/mail/example.test/______etc")
        );
    }
}
