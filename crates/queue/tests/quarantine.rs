//! The quarantine is the queue's hold with a reason: released mail becomes
//! due, and mail past the retention goes, record and body.

use std::sync::Arc;
use std::time::Duration;

use havre_queue::{Queue, Spool};
use havre_store::{QueueEntry, QueueRecipient, RecipientStatus, SqliteStore};

const DAY: i64 = 86_400;
const NOW: i64 = 1_700_000_000;

fn entry(id: &str, arrival: i64, reason: Option<&str>) -> QueueEntry {
    QueueEntry {
        id: id.into(),
        sender: "x@remote.test".into(),
        size: 5,
        arrival,
        client: "unknown[192.0.2.1]".into(),
        protocol: "ESMTP".into(),
        attempts: 0,
        next_attempt: arrival,
        hold: reason.is_some(),
        hold_reason: reason.map(str::to_owned),
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

async fn queued(queue: &Queue, entry: QueueEntry) {
    let mut file = queue.spool().create(&entry.id).await.unwrap();
    file.write(b"Subject: x\r\n\r\nbody\r\n").await.unwrap();
    queue.enqueue(file, &entry).await.unwrap();
}

#[tokio::test]
async fn quarantined_mail_older_than_the_retention_is_deleted_and_the_rest_kept() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(&dir.path().join("queue")).unwrap();
    let queue = Queue::new(Arc::new(SqliteStore::memory().await.unwrap()), spool);
    queued(&queue, entry("OLD", NOW - 31 * DAY, Some("a.exe"))).await;
    queued(&queue, entry("RECENT", NOW - 29 * DAY, Some("b.exe"))).await;
    // Held by the operator, long ago: not the quarantine's to delete.
    queued(&queue, entry("OPERATOR", NOW - 90 * DAY, None)).await;
    queue.hold("OPERATOR").await.unwrap();

    let retention = Duration::from_secs(30 * DAY as u64);
    assert_eq!(queue.expire_quarantine(NOW, retention).await.unwrap(), 1);
    assert!(queue.store().queue_get("OLD").await.unwrap().is_none());
    assert!(!queue.spool().message_path("OLD").exists());
    let left: Vec<String> = queue
        .quarantined()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(left, ["RECENT"]);
    assert!(queue.store().queue_get("OPERATOR").await.unwrap().is_some());
    assert!(
        queue
            .quarantined_message("OPERATOR")
            .await
            .unwrap()
            .is_none()
    );
    // Zero keeps everything.
    assert_eq!(
        queue
            .expire_quarantine(NOW + 365 * DAY, Duration::ZERO)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn a_released_message_leaves_the_quarantine_and_is_due_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(&dir.path().join("queue")).unwrap();
    let queue = Queue::new(Arc::new(SqliteStore::memory().await.unwrap()), spool);
    queued(&queue, entry("HELD", NOW, Some("a.exe"))).await;
    let far = NOW + 10 * DAY;
    assert!(queue.store().queue_due(far, 10).await.unwrap().is_empty());
    assert!(queue.quarantined_message("HELD").await.unwrap().is_some());
    assert!(queue.release("HELD").await.unwrap());
    assert!(queue.quarantined_message("HELD").await.unwrap().is_none());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let due = queue.store().queue_due(now, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].hold_reason, None);
}
