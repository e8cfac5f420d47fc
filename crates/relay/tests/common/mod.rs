//! The relay's test fixture: a store with alice and bob (no quota) and
//! the alias team (both), a spool, local delivery into a temporary
//! directory.
//!
//! Each test binary uses what it needs of it.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use havre_directory::Directory;
use havre_mailbox::{LocalDelivery, Mailboxes};
use havre_queue::{LookedUp, Queue, Spool};
use havre_relay::{Relay, RelaySettings};
use havre_store::{NewUser, QueueEntry, QueueRecipient, RecipientStatus, SqliteStore, Store};
use tokio::sync::watch;

pub struct Fixture {
    _dir: tempfile::TempDir,
    pub queue: Arc<Queue>,
    pub directory: Directory,
    pub local: LocalDelivery,
}

pub async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db")).await.unwrap());
    store.add_domain("example.test").await.unwrap();
    for email in ["alice@example.test", "bob@example.test"] {
        store
            .add_user(&NewUser {
                email: email.into(),
                password_hash: None,
                class: "staff".into(),
                quota: None,
            })
            .await
            .unwrap();
    }
    store
        .add_alias(
            "team@example.test",
            &["alice@example.test".into(), "bob@example.test".into()],
        )
        .await
        .unwrap();
    let spool = Spool::open(&dir.path().join("queue")).unwrap();
    let queue = Arc::new(Queue::new(store.clone(), spool));
    let directory = Directory::new(store.clone(), "+");
    let local = LocalDelivery::new(Mailboxes::new(
        store,
        format!("{}/mail/%d/%n", dir.path().display()),
        "mx.test",
    ));
    Fixture {
        _dir: dir,
        queue,
        directory,
        local,
    }
}

pub async fn enqueue(f: &Fixture, id: &str, rcpts: &[&str], arrival: i64) {
    enqueue_from(f, id, "s@remote.test", rcpts, arrival, LookedUp::default()).await
}

/// [`enqueue`] from `sender`, with what RCPT read of the recipients.
pub async fn enqueue_from(
    f: &Fixture,
    id: &str,
    sender: &str,
    rcpts: &[&str],
    arrival: i64,
    looked_up: LookedUp,
) {
    let mut body = f.queue.spool().create(id).await.unwrap();
    body.write(b"Subject: once\r\n\r\nonly once\r\n")
        .await
        .unwrap();
    let entry = QueueEntry {
        id: id.into(),
        sender: sender.into(),
        size: 28,
        arrival,
        client: "unknown[127.0.0.1]".into(),
        protocol: "ESMTP".into(),
        attempts: 0,
        next_attempt: arrival,
        hold: false,
        hold_reason: None,
        warned: false,
        node: 0,
        recipients: rcpts
            .iter()
            .enumerate()
            .map(|(i, a)| QueueRecipient {
                idx: i as i64,
                address: a.to_string(),
                orig: None,
                status: RecipientStatus::Pending,
                last_reply: None,
            })
            .collect(),
    };
    f.queue
        .enqueue_looked_up(body, &entry, looked_up)
        .await
        .unwrap();
}

pub async fn run_until_empty(f: &Fixture) {
    let relay = Relay::new(
        f.queue.clone(),
        f.directory.clone(),
        f.local.clone(),
        watch::channel(RelaySettings {
            concurrency: 2,
            retry_min: Duration::from_secs(1),
            retry_max: Duration::from_secs(1),
            max_lifetime: Duration::from_secs(3600),
            delay_warning: Duration::ZERO,
            quota_full_tempfail: false,
        })
        .1,
        None,
        havre_events::Events::disabled(),
    );
    let (stop, shutdown) = watch::channel(false);
    let task = tokio::spawn(relay.run(shutdown));
    for _ in 0..200 {
        if f.queue.store().queue_list().await.unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    stop.send(true).unwrap();
    task.await.unwrap();
    assert!(
        f.queue.store().queue_list().await.unwrap().is_empty(),
        "queue not drained"
    );
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
