//! The relay after a crash: a message whose delivery reached the Maildir but
//! whose queue record was not updated must not be delivered again.

mod common;

use common::{enqueue, fixture, now, run_until_empty};
use havre_mailbox::DeliveryRequest;

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
