//! The hot writes (a message's index rows, a queue record, an attempt's
//! outcome) are each one script sent to the writer connection: they keep the
//! store's rules, do nothing on the outcomes callers expect (a file indexed
//! already, a mailbox gone, a queue id taken), and a script that fails leaves
//! nothing written and no transaction open for the next writer.
//!
//! The stores are files: another connection (the readers') sees only what
//! committed.

mod common;
use havre_store::*;

struct Node {
    store: SqliteStore,
    _dir: tempfile::TempDir,
}

async fn node() -> Node {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("havre.db"))
        .await
        .unwrap();
    store.add_domain("example.test").await.unwrap();
    Node { store, _dir: dir }
}

async fn inbox(store: &SqliteStore) -> MailboxRecord {
    store
        .mailbox_create("alice@example.test", "INBOX", &MailboxInit::default())
        .await
        .unwrap()
}

fn text(subject: &str) -> IndexedText {
    IndexedText {
        subject: Some(subject.into()),
        from: None,
        to: None,
        cc: None,
        bcc: None,
        header: format!("subject: {subject}\n"),
        body: String::new(),
        fields: None,
    }
}

fn message(file: &str, uid: Option<u32>, text: Option<IndexedText>) -> NewMessage {
    NewMessage {
        file: file.into(),
        size: 10,
        internal_date: 1_700_000_000,
        flags: vec!["\\Seen".into()],
        cache: Some("cached".into()),
        uid,
        text,
    }
}

fn entry(id: &str, sender: &str, recipients: usize) -> QueueEntry {
    let mut entry = common::queued(
        id,
        sender,
        (0..recipients)
            .map(|idx| {
                let orig = (idx % 2 == 1).then(|| format!("list{idx}@example.test"));
                common::pending(idx as i64, &format!("user{idx}@example.test"), orig)
            })
            .collect(),
    );
    entry.size = 10;
    entry
}

async fn uidnext_and_modseq(store: &SqliteStore, mailbox: i64) -> (u32, u64) {
    let record = store.mailbox_by_id(mailbox).await.unwrap().unwrap();
    (record.uidnext, record.highestmodseq)
}

#[tokio::test]
async fn a_kept_uid_is_kept_only_when_not_below_uidnext() {
    let node = node().await;
    let store = &node.store;
    let inbox = inbox(store).await;
    let insert = |file: &'static str, uid: Option<u32>| {
        let store = &node.store;
        async move {
            store
                .message_insert(inbox.id, &message(file, uid, None))
                .await
                .unwrap()
        }
    };
    let (first, m1) = insert("new/a", None).await;
    let (ahead, m2) = insert("new/b", Some(10)).await;
    let (behind, m3) = insert("new/c", Some(5)).await;
    let (at, m4) = insert("new/d", Some(12)).await;
    assert_eq!((first, ahead, behind, at), (1, 10, 11, 12));
    assert_eq!((m2, m3, m4), (m1 + 1, m1 + 2, m1 + 3));
    assert_eq!(uidnext_and_modseq(store, inbox.id).await, (13, m4));
    let stored = store.message_get(inbox.id, 10).await.unwrap().unwrap();
    assert_eq!(
        (stored.file.as_str(), stored.size, stored.modseq),
        ("new/b", 10, m2)
    );
    assert_eq!(stored.flags, vec!["\\Seen"]);
    assert_eq!(
        store.message_cache(inbox.id, 10).await.unwrap().as_deref(),
        Some("cached")
    );
    let pending: Vec<u32> = store
        .text_pending(inbox.id, 10)
        .await
        .unwrap()
        .iter()
        .map(|m| m.uid)
        .collect();
    assert_eq!(pending, vec![1, 10, 11, 12]);
}

#[tokio::test]
async fn a_file_indexed_already_is_refused_and_changes_nothing() {
    let node = node().await;
    let store = &node.store;
    let inbox = inbox(store).await;
    let (uid, _) = store
        .message_insert(inbox.id, &message("new/a", None, Some(text("first"))))
        .await
        .unwrap();
    let before = uidnext_and_modseq(store, inbox.id).await;
    let again = store
        .message_insert(inbox.id, &message("new/a", Some(7), Some(text("second"))))
        .await;
    assert!(
        matches!(again, Err(StoreError::AlreadyExists(_))),
        "{again:?}"
    );
    assert_eq!(uidnext_and_modseq(store, inbox.id).await, before);
    assert_eq!(store.message_list(inbox.id).await.unwrap().len(), 1);
    let search = |subject: &'static str| {
        let store = &node.store;
        async move {
            store
                .text_search(inbox.id, IndexedField::Subject, subject)
                .await
                .unwrap()
        }
    };
    assert_eq!(search("first").await, vec![uid]);
    assert!(search("second").await.is_empty());
    // The writer goes on: the next message commits (the readers see it).
    let (next, _) = store
        .message_insert(inbox.id, &message("new/b", None, Some(text("third"))))
        .await
        .unwrap();
    assert_eq!(next, uid + 1);
    assert_eq!(search("third").await, vec![next]);
}

#[tokio::test]
async fn a_message_for_a_mailbox_that_is_gone_writes_nothing() {
    let node = node().await;
    let store = &node.store;
    let inbox = inbox(store).await;
    let gone = inbox.id + 1000;
    let refused = store
        .message_insert(gone, &message("new/a", None, Some(text("lost"))))
        .await;
    assert!(
        matches!(refused, Err(StoreError::NoSuchMailbox(_))),
        "{refused:?}"
    );
    let refused = store
        .message_insert(gone, &message("new/b", None, None))
        .await;
    assert!(matches!(refused, Err(StoreError::NoSuchMailbox(_))));
    assert!(store.message_list(gone).await.unwrap().is_empty());
    assert!(store.text_pending(gone, 10).await.unwrap().is_empty());
    assert_eq!(uidnext_and_modseq(store, inbox.id).await, (1, 1));
    let (uid, _) = store
        .message_insert(inbox.id, &message("new/a", None, None))
        .await
        .unwrap();
    assert_eq!(uid, 1);
}

#[tokio::test]
async fn a_queue_id_taken_leaves_the_other_record_and_its_recipients_alone() {
    let node = node().await;
    let store = &node.store;
    let first = entry("0A1", "first@remote.test", 2);
    store.queue_insert(&first, None).await.unwrap();
    let refused = store
        .queue_insert(&entry("0A1", "second@remote.test", 3), None)
        .await;
    assert!(
        matches!(refused, Err(StoreError::AlreadyExists(_))),
        "{refused:?}"
    );
    assert_eq!(store.queue_get("0A1").await.unwrap().unwrap(), first);
    store
        .queue_insert(&entry("0A2", "third@remote.test", 1), None)
        .await
        .unwrap();
    assert_eq!(store.queue_list().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_record_that_fails_halfway_is_not_written_and_the_next_one_commits() {
    let node = node().await;
    let store = &node.store;
    // Two recipients at one place: the record is inserted, then the second
    // recipient breaks the table's key.
    let mut broken = entry("0B1", "x@remote.test", 3);
    broken.recipients[2].idx = 1;
    let failed = store.queue_insert(&broken, None).await;
    assert!(matches!(failed, Err(StoreError::Database(_))), "{failed:?}");
    assert!(store.queue_get("0B1").await.unwrap().is_none());
    // queue_insert reads its record back through a reader: had the failed
    // transaction stayed open, this one would be inside it, uncommitted.
    let next = entry("0B2", "x@remote.test", 1);
    store.queue_insert(&next, None).await.unwrap();
    assert_eq!(store.queue_get("0B2").await.unwrap().unwrap(), next);
    let inbox = inbox(store).await;
    store
        .message_insert(inbox.id, &message("new/a", None, None))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_message_for_many_recipients_and_its_attempt_go_whole() {
    let node = node().await;
    let store = &node.store;
    let inbox = inbox(store).await;
    let many = entry("0C1", "list@remote.test", 1500);
    store.queue_insert(&many, None).await.unwrap();
    assert_eq!(store.queue_get("0C1").await.unwrap().unwrap(), many);
    let updates = |status| {
        (0..1500)
            .map(|idx| RecipientUpdate {
                idx,
                status,
                reply: format!("reply {idx}"),
            })
            .collect()
    };
    let delivered: Vec<DeliveredRow> = (0..200)
        .map(|n| DeliveredRow {
            mailbox_id: inbox.id,
            message: message(&format!("new/{n}"), None, Some(text(&format!("n{n}")))),
        })
        .collect();
    let deferred = store
        .queue_finish_attempt(
            &AttemptOutcome {
                id: "0C1".into(),
                updates: updates(RecipientStatus::Pending),
                next_attempt: 1_700_000_300,
            },
            &delivered,
        )
        .await
        .unwrap();
    assert!(!deferred.removed);
    assert_eq!(deferred.uids, (1..=200).collect::<Vec<u32>>());
    let kept = store.queue_get("0C1").await.unwrap().unwrap();
    assert_eq!(kept.attempts, 1);
    assert_eq!(
        kept.recipients[1499].last_reply.as_deref(),
        Some("reply 1499")
    );
    // The same files again (a retry after a crash): their rows are kept.
    let finished = store
        .queue_finish_attempt(
            &AttemptOutcome {
                id: "0C1".into(),
                updates: updates(RecipientStatus::Sent),
                next_attempt: 1_700_000_600,
            },
            &delivered,
        )
        .await
        .unwrap();
    assert!(finished.removed);
    assert_eq!(finished.uids, deferred.uids);
    assert!(store.queue_get("0C1").await.unwrap().is_none());
    assert_eq!(store.message_list(inbox.id).await.unwrap().len(), 200);
    assert_eq!(
        store
            .text_search(inbox.id, IndexedField::Subject, "n199")
            .await
            .unwrap(),
        vec![200]
    );
}

#[tokio::test]
async fn records_are_listed_with_all_their_recipients_and_a_limit_counts_records() {
    let node = node().await;
    let store = &node.store;
    let mut later = entry("0D2", "b@remote.test", 3);
    later.arrival += 10;
    later.next_attempt += 10;
    let earlier = entry("0D1", "a@remote.test", 4);
    let lonely = QueueEntry {
        recipients: Vec::new(),
        arrival: later.arrival + 10,
        next_attempt: later.next_attempt + 10,
        ..entry("0D3", "c@remote.test", 0)
    };
    for record in [&later, &earlier, &lonely] {
        store.queue_insert(record, None).await.unwrap();
    }
    assert_eq!(
        store.queue_list().await.unwrap(),
        vec![earlier.clone(), later.clone(), lonely.clone()]
    );
    let due = store.queue_due(later.next_attempt + 10, 2).await.unwrap();
    assert_eq!(due, vec![earlier.clone(), later.clone()]);
    assert_eq!(store.queue_get("0D2").await.unwrap(), Some(later));
    assert_eq!(store.queue_get("0D3").await.unwrap(), Some(lonely));
    assert_eq!(store.queue_get("0D4").await.unwrap(), None);
}
