//! The relay after a crash: a message whose delivery reached the Maildir but
//! whose queue record was not updated must not be delivered again.

use std::sync::Arc;
use std::time::Duration;

use havre_directory::Directory;
use havre_mailbox::{DeliveryRequest, LocalDelivery, Mailboxes};
use havre_queue::{Queue, Spool};
use havre_relay::{Relay, RelaySettings};
use havre_store::{NewUser, QueueEntry, QueueRecipient, RecipientStatus, SqliteStore, Store};
use tokio::sync::watch;

struct Fixture {
    _dir: tempfile::TempDir,
    queue: Arc<Queue>,
    directory: Directory,
    local: LocalDelivery,
}

async fn fixture() -> Fixture {
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

async fn enqueue(f: &Fixture, id: &str, rcpts: &[&str], arrival: i64) {
    let mut body = f.queue.spool().create(id).await.unwrap();
    body.write(b"Subject: once\r\n\r\nonly once\r\n")
        .await
        .unwrap();
    let entry = QueueEntry {
        id: id.into(),
        sender: "s@remote.test".into(),
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
    f.queue.enqueue(body, &entry).await.unwrap();
}

async fn run_until_empty(f: &Fixture) {
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

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn a_delivery_interrupted_before_its_record_was_updated_is_not_repeated() {
    let f = fixture().await;
    // A message from before the "crash": alice already has it, the record says pending.
    enqueue(&f, "00000000000AAAAA", &["team@example.test"], now() - 60).await;
    f.local
        .deliver(DeliveryRequest {
            mailbox: "alice@example.test",
            sender: "s@remote.test",
            message: &f.queue.body("00000000000AAAAA").await.unwrap().unwrap(),
            message_id: "00000000000AAAAA",
            check_duplicate: false,
        })
        .await
        .unwrap();
    // Make that copy look a minute old, as it would be after a crash and restart:
    // a second delivery would then get another file name, not overwrite it.
    let earlier = f
        .local
        .maildir_of("alice@example.test")
        .messages()
        .unwrap()
        .remove(0);
    let name = earlier.file_name().unwrap().to_str().unwrap();
    let (_, rest) = name.split_once('.').unwrap();
    std::fs::rename(
        &earlier,
        earlier.with_file_name(format!("{}.{rest}", now() - 60)),
    )
    .unwrap();
    run_until_empty(&f).await;
    assert_eq!(
        f.local
            .maildir_of("alice@example.test")
            .messages()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        f.local
            .maildir_of("bob@example.test")
            .messages()
            .unwrap()
            .len(),
        1
    );
    // Delivered messages leave no body behind.
    assert!(f.queue.body("00000000000AAAAA").await.unwrap().is_none());
}

#[tokio::test]
async fn two_recipients_expanding_to_the_same_mailbox_get_one_copy() {
    let f = fixture().await;
    enqueue(
        &f,
        "00000000000BBBBB",
        &[
            "team@example.test",
            "alice@example.test",
            "alice+x@example.test",
        ],
        now(),
    )
    .await;
    run_until_empty(&f).await;
    assert_eq!(
        f.local
            .maildir_of("alice@example.test")
            .messages()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn spool_files_without_a_record_are_swept_at_startup() {
    let f = fixture().await;
    let mut orphan = f.queue.spool().create("00000000000CCCCC").await.unwrap();
    orphan.write(b"never acknowledged").await.unwrap();
    orphan.commit().await.unwrap();
    // A big body that was still arriving in tmp/ when the process died.
    let msg = f.queue.spool().message_path("00000000000DDDDD");
    let tmp = msg.parent().unwrap().parent().unwrap().join("tmp");
    std::fs::write(tmp.join("00000000000DDDDD"), b"half").unwrap();
    enqueue(&f, "00000000000EEEEE", &["bob@example.test"], now()).await;
    assert_eq!(f.queue.sweep().await.unwrap(), 2);
    assert!(f.queue.spool().ids().await.unwrap().is_empty());
    // The queued message keeps its body (kept with its record).
    assert!(f.queue.body("00000000000EEEEE").await.unwrap().is_some());
}
