//! The spool never lets one message take another's place, and never leaves a
//! half-committed body behind.

use std::sync::Arc;

use havre_queue::{Queue, Spool};
use havre_store::{QueueEntry, QueueRecipient, RecipientStatus, SqliteStore};

fn entry(id: &str) -> QueueEntry {
    QueueEntry {
        id: id.into(),
        sender: "x@remote.test".into(),
        size: 5,
        arrival: 1_700_000_000,
        client: "localhost[127.0.0.1]".into(),
        protocol: "ESMTP".into(),
        attempts: 0,
        next_attempt: 1_700_000_000,
        hold: false,
        hold_reason: None,
        warned: false,
        recipients: vec![QueueRecipient {
            idx: 0,
            address: "alice@example.test".into(),
            orig: None,
            status: RecipientStatus::Pending,
            last_reply: None,
        }],
    }
}

async fn queue() -> (tempfile::TempDir, Queue) {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(&dir.path().join("queue")).unwrap();
    let store = Arc::new(SqliteStore::memory().await.unwrap());
    (dir, Queue::new(store, spool))
}

async fn body(queue: &Queue, id: &str, text: &[u8]) -> havre_queue::SpoolFile {
    let mut file = queue.spool().create(id).await.unwrap();
    file.write(text).await.unwrap();
    file
}

#[tokio::test]
async fn of_two_bodies_received_under_one_id_the_first_committed_keeps_it() {
    let (_dir, queue) = queue().await;
    let first = body(&queue, "RECEIVING", b"first").await;
    let second = body(&queue, "RECEIVING", b"second").await;
    queue.enqueue(first, &entry("RECEIVING")).await.unwrap();
    let err = second.commit().await.unwrap_err();
    assert!(err.to_string().contains("exists"), "{err}");
    assert_eq!(
        std::fs::read(queue.spool().message_path("RECEIVING")).unwrap(),
        b"first"
    );
}

#[tokio::test]
async fn committing_onto_a_queued_id_fails_keeps_the_first_body_and_leaves_nothing_in_tmp() {
    let (dir, queue) = queue().await;
    queue
        .enqueue(body(&queue, "TAKEN", b"first").await, &entry("TAKEN"))
        .await
        .unwrap();
    // The same id again (another process, a clock set back): refused.
    let twin = body(&queue, "TAKEN", b"impostor").await;
    let err = queue.enqueue(twin, &entry("TAKEN")).await.unwrap_err();
    assert!(err.to_string().contains("exists"), "{err}");
    assert_eq!(
        std::fs::read(queue.spool().message_path("TAKEN")).unwrap(),
        b"first"
    );
    assert_eq!(queue.store().queue_list().await.unwrap().len(), 1);
    assert_eq!(
        std::fs::read_dir(dir.path().join("queue/tmp"))
            .unwrap()
            .count(),
        0,
        "the failed commit left its tmp file"
    );
}
