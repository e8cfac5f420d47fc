//! METADATA entries (RFC 5464): per mailbox or server, all or none per
//! call, gone with their mailbox or user.

mod common;

use common::{Engine, TestStore};
use havre_store::*;

const ALICE: &str = "alice@example.test";

async fn store_with_alice(engine: Engine) -> (TestStore, MailboxRecord) {
    let store = common::store_on(engine, &[ALICE]).await;
    let inbox = store
        .mailbox_create(ALICE, "INBOX", &MailboxInit::default())
        .await
        .unwrap();
    (store, inbox)
}

fn set(entry: &str, value: Option<&str>) -> (String, Option<Vec<u8>>) {
    (entry.into(), value.map(|v| v.as_bytes().to_vec()))
}

on_both_engines! {
    async fn entries_of_a_mailbox_and_of_the_server_are_apart_and_case_insensitive(engine) {
        let (store, inbox) = store_with_alice(engine).await;
        assert!(
            store
                .metadata_set(
                    ALICE,
                    Some(inbox.id),
                    &[set("/private/Comment", Some("mine"))],
                    10
                )
                .await
                .unwrap()
        );
        assert!(
            store
                .metadata_set(ALICE, None, &[set("/shared/comment", Some("server"))], 10)
                .await
                .unwrap()
        );
        assert_eq!(
            store.metadata_get(ALICE, Some(inbox.id)).await.unwrap(),
            vec![("/private/comment".to_string(), b"mine".to_vec())]
        );
        assert_eq!(
            store.metadata_get(ALICE, None).await.unwrap(),
            vec![("/shared/comment".to_string(), b"server".to_vec())]
        );
        // NIL removes; a second write replaces.
        store
            .metadata_set(
                ALICE,
                Some(inbox.id),
                &[
                    set("/PRIVATE/COMMENT", None),
                    set("/private/x", Some("1")),
                    set("/private/x", Some("2")),
                ],
                10,
            )
            .await
            .unwrap();
        assert_eq!(
            store.metadata_get(ALICE, Some(inbox.id)).await.unwrap(),
            vec![("/private/x".to_string(), b"2".to_vec())]
        );
    }
}

on_both_engines! {
    async fn a_call_that_would_exceed_the_entry_limit_changes_nothing(engine) {
        let (store, inbox) = store_with_alice(engine).await;
        let first = [set("/private/a", Some("1")), set("/private/b", Some("2"))];
        assert!(
            store
                .metadata_set(ALICE, Some(inbox.id), &first, 2)
                .await
                .unwrap()
        );
        let more = [
            set("/private/a", Some("changed")),
            set("/private/c", Some("3")),
        ];
        assert!(
            !store
                .metadata_set(ALICE, Some(inbox.id), &more, 2)
                .await
                .unwrap()
        );
        assert_eq!(
            store.metadata_get(ALICE, Some(inbox.id)).await.unwrap(),
            vec![
                ("/private/a".to_string(), b"1".to_vec()),
                ("/private/b".to_string(), b"2".to_vec())
            ]
        );
    }
}

on_both_engines! {
    async fn entries_go_with_their_mailbox_and_with_their_user(engine) {
        let (store, inbox) = store_with_alice(engine).await;
        let work = store
            .mailbox_create(ALICE, "Work", &MailboxInit::default())
            .await
            .unwrap();
        let entry = [set("/private/comment", Some("x"))];
        store
            .metadata_set(ALICE, Some(work.id), &entry, 10)
            .await
            .unwrap();
        store
            .metadata_set(ALICE, Some(inbox.id), &entry, 10)
            .await
            .unwrap();
        store.metadata_set(ALICE, None, &entry, 10).await.unwrap();
        store.mailbox_delete(work.id).await.unwrap();
        let again = store
            .mailbox_create(ALICE, "Work", &MailboxInit::default())
            .await
            .unwrap();
        assert!(
            store
                .metadata_get(ALICE, Some(work.id))
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .metadata_get(ALICE, Some(again.id))
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store
                .metadata_get(ALICE, Some(inbox.id))
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(store.remove_user(ALICE).await.unwrap());
        assert!(
            store
                .metadata_get(ALICE, Some(inbox.id))
                .await
                .unwrap()
                .is_empty()
        );
        assert!(store.metadata_get(ALICE, None).await.unwrap().is_empty());
    }
}
