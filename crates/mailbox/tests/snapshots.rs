//! Sessions on the same mailbox share one copy of its message records: the
//! snapshot of a mod-sequence is made once, the next one shares what did not
//! change, and the last user's going frees it.

use std::sync::Arc;

use havre_mailbox::Mailboxes;
use havre_store::{FlagMode, MailboxRecord, SqliteStore};

const USER: &str = "alice@example.test";

async fn setup() -> (tempfile::TempDir, Mailboxes, MailboxRecord) {
    let dir = tempfile::tempdir().unwrap();
    let template = format!("{}/mail/%d/%n/Maildir", dir.path().display());
    let store = Arc::new(SqliteStore::memory().await.unwrap());
    let mailboxes = Mailboxes::new(store, template, "mx.example.test");
    mailboxes.ensure_defaults(USER).await.unwrap();
    let inbox = mailboxes.get(USER, "INBOX").await.unwrap().unwrap();
    for n in 1..=3 {
        let message = format!("Subject: message {n}\r\n\r\nbody {n}\r\n");
        mailboxes
            .append(USER, &inbox, message.into_bytes(), Vec::new(), None)
            .await
            .unwrap();
    }
    (dir, mailboxes, inbox)
}

/// The mailbox as the store has it now (what a session reads before asking).
async fn now(mailboxes: &Mailboxes, inbox: &MailboxRecord) -> MailboxRecord {
    mailboxes.get(USER, &inbox.name).await.unwrap().unwrap()
}

#[tokio::test]
async fn sessions_selecting_the_same_mailbox_get_the_same_records() {
    let (_dir, mailboxes, inbox) = setup().await;
    let inbox = now(&mailboxes, &inbox).await;
    let first = mailboxes.snapshot(&inbox).await.unwrap();
    let second = mailboxes.snapshot(&inbox).await.unwrap();
    assert!(Arc::ptr_eq(&first, &second));
    assert_eq!(first.uids(), [1, 2, 3]);
    assert_eq!(first.modseq(), inbox.highestmodseq);
    assert_eq!(mailboxes.snapshots().live(), 1);
}

#[tokio::test]
async fn a_flag_change_makes_a_new_snapshot_sharing_the_unchanged_records() {
    let (_dir, mailboxes, inbox) = setup().await;
    let before = mailboxes
        .snapshot(&now(&mailboxes, &inbox).await)
        .await
        .unwrap();
    mailboxes
        .update_flags(USER, &inbox, &[2], FlagMode::Add, &["\\Seen".into()], None)
        .await
        .unwrap();
    let after = mailboxes
        .snapshot(&now(&mailboxes, &inbox).await)
        .await
        .unwrap();
    assert!(after.modseq() > before.modseq());
    assert_eq!(after.uids(), [1, 2, 3]);
    let (old, new) = (before.records(), after.records());
    assert!(Arc::ptr_eq(&old[0], &new[0]));
    assert!(Arc::ptr_eq(&old[2], &new[2]));
    assert!(!Arc::ptr_eq(&old[1], &new[1]));
    assert_eq!(new[1].flags, ["\\Seen"]);
    assert!(old[1].flags.is_empty(), "the old snapshot does not change");
}

#[tokio::test]
async fn expunged_messages_leave_the_next_snapshot_and_new_ones_join_it() {
    let (_dir, mailboxes, inbox) = setup().await;
    let before = mailboxes
        .snapshot(&now(&mailboxes, &inbox).await)
        .await
        .unwrap();
    let first = before.get(1).unwrap().as_ref().clone();
    mailboxes.expunge(USER, &inbox, &[first]).await.unwrap();
    mailboxes
        .append(
            USER,
            &inbox,
            b"Subject: four\r\n\r\n4\r\n".to_vec(),
            Vec::new(),
            None,
        )
        .await
        .unwrap();
    let after = mailboxes
        .snapshot(&now(&mailboxes, &inbox).await)
        .await
        .unwrap();
    assert_eq!(after.uids(), [2, 3, 4]);
    assert_eq!(before.uids(), [1, 2, 3]);
    // Made from the store from scratch, it is the same.
    let advanced: Vec<_> = after.records().iter().map(|m| m.as_ref().clone()).collect();
    drop((before, after));
    let fresh = mailboxes
        .snapshot(&now(&mailboxes, &inbox).await)
        .await
        .unwrap();
    let loaded: Vec<_> = fresh.records().iter().map(|m| m.as_ref().clone()).collect();
    assert_eq!(advanced, loaded);
    assert_eq!(fresh.get(4).unwrap().size, 20);
}

#[tokio::test]
async fn a_snapshot_goes_with_its_last_session() {
    let (_dir, mailboxes, inbox) = setup().await;
    let snapshot = mailboxes
        .snapshot(&now(&mailboxes, &inbox).await)
        .await
        .unwrap();
    let weak = Arc::downgrade(&snapshot);
    assert_eq!(mailboxes.snapshots().live(), 1);
    drop(snapshot);
    assert!(weak.upgrade().is_none());
    assert_eq!(mailboxes.snapshots().live(), 0);
}
