//! The attempt that follows a message's queueing starts from what RCPT read
//! of its recipients a moment before, rather than reading the directory
//! again; a recipient with a quota is read again, as its use changes with
//! every delivery.

mod common;

use std::time::{Duration, Instant};

use common::{enqueue_from, fixture, now, run_until_empty};
use havre_queue::LookedUp;
use havre_store::{AddressEntry, NewUser, QuotaUse};

/// What RCPT read of `address`, `ago`: a user of ours with `quota`.
fn read_at_rcpt(address: &str, ago: Duration, quota: Option<QuotaUse>) -> LookedUp {
    LookedUp {
        at: Some(Instant::now() - ago),
        entries: vec![(
            address.to_string(),
            AddressEntry {
                domain_local: true,
                user: true,
                quota,
                sieve: None,
                aliases: Vec::new(),
            },
        )],
    }
}

fn delivered_to(f: &common::Fixture, mailbox: &str) -> usize {
    f.local
        .maildir_of(mailbox)
        .messages()
        .map_or(0, |m| m.len())
}

/// Bob's copies of a message from <> (bounced without a report) whose RCPT
/// read him as a user `ago`, removed since.
async fn delivered_to_bob_removed_since_rcpt(ago: Duration) -> usize {
    let f = fixture().await;
    let looked_up = read_at_rcpt("bob@example.test", ago, None);
    f.queue
        .store()
        .remove_user("bob@example.test")
        .await
        .unwrap();
    enqueue_from(
        &f,
        "00000000000F0001",
        "",
        &["bob@example.test"],
        now(),
        looked_up,
    )
    .await;
    run_until_empty(&f).await;
    delivered_to(&f, "bob@example.test")
}

#[tokio::test]
async fn a_message_just_queued_is_delivered_from_what_rcpt_read_without_a_new_lookup() {
    // A new lookup would bounce it as unknown; the delivery goes by what
    // RCPT read.
    assert_eq!(delivered_to_bob_removed_since_rcpt(Duration::ZERO).await, 1);
}

#[tokio::test]
async fn what_rcpt_read_seconds_ago_is_read_again() {
    assert_eq!(
        delivered_to_bob_removed_since_rcpt(Duration::from_secs(3)).await,
        0
    );
}

#[tokio::test]
async fn a_user_with_a_quota_is_read_again_at_delivery() {
    let f = fixture().await;
    f.queue
        .store()
        .add_user(&NewUser {
            email: "carol@example.test".into(),
            password_hash: None,
            class: "staff".into(),
            quota: Some(10),
        })
        .await
        .unwrap();
    // RCPT saw room; the store says 10 bytes, less than the message.
    let room = QuotaUse {
        limit: 1 << 20,
        used: 0,
    };
    let looked_up = read_at_rcpt("carol@example.test", Duration::ZERO, Some(room));
    enqueue_from(
        &f,
        "00000000000F0003",
        "",
        &["carol@example.test"],
        now(),
        looked_up,
    )
    .await;
    run_until_empty(&f).await;
    assert_eq!(delivered_to(&f, "carol@example.test"), 0);
}
