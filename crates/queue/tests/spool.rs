//! The spool never lets one message take another's place, and never leaves a
//! half-committed body behind.

use std::sync::Arc;

use havre_queue::{IN_MEMORY, MessageSource, Queue, Spool};
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
        node: 0,
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

/// The queued body of `id`, wherever it is kept.
async fn queued(queue: &Queue, id: &str) -> Vec<u8> {
    let body = queue.body(id).await.unwrap().expect("a body");
    body.read_all().unwrap().into_owned()
}

/// A body too big to be kept in memory: a spool file.
fn big(fill: u8) -> Vec<u8> {
    vec![fill; IN_MEMORY + 1]
}

fn files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

#[tokio::test]
async fn a_small_body_is_committed_with_its_record_and_no_file_is_written() {
    let (dir, queue) = queue().await;
    queue
        .enqueue(
            body(&queue, "SMALL", b"Subject: small\r\n\r\nhi\r\n").await,
            &entry("SMALL"),
        )
        .await
        .unwrap();
    assert!(matches!(
        queue.body("SMALL").await.unwrap(),
        Some(MessageSource::Bytes(_))
    ));
    assert_eq!(
        queued(&queue, "SMALL").await,
        b"Subject: small\r\n\r\nhi\r\n"
    );
    assert_eq!(files(&dir.path().join("queue/msg")), 0);
    assert_eq!(files(&dir.path().join("queue/tmp")), 0);
    // Removed with its record.
    queue.remove("SMALL").await.unwrap();
    assert!(queue.body("SMALL").await.unwrap().is_none());
}

#[tokio::test]
async fn a_big_body_is_a_spool_file_named_by_its_id() {
    let (dir, queue) = queue().await;
    queue
        .enqueue(body(&queue, "BIG", &big(b'b')).await, &entry("BIG"))
        .await
        .unwrap();
    assert!(matches!(
        queue.body("BIG").await.unwrap(),
        Some(MessageSource::File(_))
    ));
    assert_eq!(queued(&queue, "BIG").await, big(b'b'));
    assert_eq!(files(&dir.path().join("queue/msg")), 1);
    queue.remove("BIG").await.unwrap();
    assert!(queue.body("BIG").await.unwrap().is_none());
    assert_eq!(files(&dir.path().join("queue/msg")), 0);
}

#[tokio::test]
async fn of_two_big_bodies_received_under_one_id_the_first_committed_keeps_it() {
    let (_dir, queue) = queue().await;
    let first = body(&queue, "RECEIVING", &big(b'1')).await;
    queue.enqueue(first, &entry("RECEIVING")).await.unwrap();
    let second = body(&queue, "RECEIVING", &big(b'2')).await;
    let err = second.commit().await.unwrap_err();
    assert!(err.to_string().contains("exists"), "{err}");
    assert_eq!(queued(&queue, "RECEIVING").await, big(b'1'));
}

#[tokio::test]
async fn committing_onto_a_queued_id_fails_keeps_the_first_body_and_leaves_nothing_in_tmp() {
    for (first, impostor) in [
        (b"first".to_vec(), b"impostor".to_vec()),
        (big(b'f'), big(b'i')),
    ] {
        let (dir, queue) = queue().await;
        queue
            .enqueue(body(&queue, "TAKEN", &first).await, &entry("TAKEN"))
            .await
            .unwrap();
        // The same id again (another process, a clock set back): refused.
        let twin = body(&queue, "TAKEN", &impostor).await;
        let err = queue.enqueue(twin, &entry("TAKEN")).await.unwrap_err();
        assert!(err.to_string().contains("exists"), "{err}");
        assert_eq!(queued(&queue, "TAKEN").await, first);
        assert_eq!(queue.store().queue_list().await.unwrap().len(), 1);
        assert_eq!(
            files(&dir.path().join("queue/tmp")),
            0,
            "the failed commit left its tmp file"
        );
    }
}
