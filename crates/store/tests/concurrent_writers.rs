//! Writers at once never hand out a UID, a mod-sequence or a UIDVALIDITY
//! twice, never claim a recent message for two sessions, never pass the
//! metadata limit. On PostgreSQL each call runs on a connection of its own,
//! as from as many nodes.

mod common;

use std::future::Future;
use std::sync::Arc;

use common::TestStore;
use havre_store::*;

const ALICE: &str = "alice@example.test";

/// `call(store, i)` for each `i` of `0..n`, all at once; their results in
/// order of `i`.
async fn at_once<T, F, Fut>(store: &Arc<TestStore>, n: usize, call: F) -> Vec<T>
where
    F: Fn(Arc<TestStore>, usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let tasks: Vec<_> = (0..n)
        .map(|i| tokio::spawn(call(store.clone(), i)))
        .collect();
    let mut results = Vec::with_capacity(n);
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

fn message(file: &str, text: Option<IndexedText>) -> NewMessage {
    NewMessage {
        text,
        ..common::new_message(file)
    }
}

async fn store_with_inbox(engine: common::Engine) -> (Arc<TestStore>, MailboxRecord) {
    let store = common::empty(engine).await;
    let inbox = store
        .mailbox_create(ALICE, "INBOX", &MailboxInit::default())
        .await
        .unwrap();
    (Arc::new(store), inbox)
}

on_both_engines! {
    async fn deliveries_flag_changes_and_expunges_at_once_each_take_their_own_modseq(engine) {
        let (store, inbox) = store_with_inbox(engine).await;
        let id = inbox.id;
        let first = at_once(&store, 10, |store, i| async move {
            store.message_insert(id, &message(&format!("new/{i}"), None)).await.unwrap()
        })
        .await;
        let mut uids: Vec<u32> = first.iter().map(|(uid, _)| *uid).collect();
        uids.sort();
        assert_eq!(uids, (1..=10).collect::<Vec<u32>>());
        let mut modseqs: Vec<u64> = first.iter().map(|(_, modseq)| *modseq).collect();

        // Messages 1 to 5 expunged, 6 to 10 flagged, 11 to 20 delivered.
        let mixed = at_once(&store, 20, |store, i| async move {
            let uid = i as u32 + 1;
            match uid {
                1..=5 => store.message_expunge(id, &[uid]).await.unwrap(),
                6..=10 => {
                    let flags = [format!("k{uid}")];
                    let update = store
                        .message_update_flags(id, &[uid], FlagMode::Add, &flags, None)
                        .await;
                    update.unwrap().changed[0].modseq
                }
                _ => {
                    let new = message(&format!("new/{i}b"), None);
                    store.message_insert(id, &new).await.unwrap().1
                }
            }
        })
        .await;
        modseqs.extend(mixed);
        modseqs.sort();
        modseqs.dedup();
        assert_eq!(modseqs.len(), 30, "a mod-sequence was given twice");
        let after = store.mailbox_by_id(id).await.unwrap().unwrap();
        assert_eq!(after.highestmodseq, inbox.highestmodseq + 30);
        assert_eq!(after.uidnext, 21);
        let listed: Vec<u32> =
            store.message_list(id).await.unwrap().iter().map(|m| m.uid).collect();
        assert_eq!(listed, (6..=20).collect::<Vec<u32>>());
        assert_eq!(store.expunged_since(id, 0).await.unwrap(), vec![1, 2, 3, 4, 5]);
    }
}

on_both_engines! {
    async fn one_file_delivered_at_once_is_indexed_once(engine) {
        let (store, inbox) = store_with_inbox(engine).await;
        let id = inbox.id;
        let tries = at_once(&store, 8, |store, _| async move {
            store.message_insert(id, &message("new/same", None)).await
        })
        .await;
        let indexed = tries.iter().filter(|t| t.is_ok()).count();
        assert_eq!(indexed, 1, "{tries:?}");
        assert!(tries.iter().all(|t| matches!(t, Ok(_) | Err(StoreError::AlreadyExists(_)))));
        assert_eq!(store.message_list(id).await.unwrap().len(), 1);
        let after = store.mailbox_by_id(id).await.unwrap().unwrap();
        assert_eq!(after.uidnext, 2, "no UID was used up by the refused ones");
    }
}

on_both_engines! {
    async fn mailboxes_created_at_once_get_distinct_uidvalidities(engine) {
        let store = Arc::new(common::empty(engine).await);
        let created = at_once(&store, 10, |store, i| async move {
            store
                .mailbox_create(ALICE, &format!("box{i}"), &MailboxInit::default())
                .await
                .unwrap()
                .uidvalidity
        })
        .await;
        let mut distinct = created.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 10, "{created:?}");
    }
}

on_both_engines! {
    async fn sessions_claiming_at_once_each_get_other_recent_messages(engine) {
        let (store, inbox) = store_with_inbox(engine).await;
        let id = inbox.id;
        for i in 0..10 {
            store.message_insert(id, &message(&format!("new/{i}"), None)).await.unwrap();
        }
        let claims = at_once(&store, 8, |store, i| async move {
            if i % 2 == 0 {
                store.message_insert(id, &message(&format!("new/late{i}"), None)).await.unwrap();
            }
            store.mailbox_claim_recent(id).await.unwrap()
        })
        .await;
        let mut claimed: Vec<u32> = claims.into_iter().flatten().collect();
        claimed.sort();
        let uidnext = store.mailbox_by_id(id).await.unwrap().unwrap().uidnext;
        let unclaimed = store.mailbox_recent_from(id).await.unwrap();
        assert_eq!(claimed, (1..unclaimed).collect::<Vec<u32>>(), "claimed twice or lost");
        assert_eq!(store.mailbox_claim_recent(id).await.unwrap(), unclaimed..uidnext);
    }
}

on_both_engines! {
    async fn entries_set_at_once_never_pass_the_limit(engine) {
        let (store, inbox) = store_with_inbox(engine).await;
        let id = inbox.id;
        let set = at_once(&store, 10, |store, i| async move {
            let entry = (format!("/private/e{i}"), Some(b"x".to_vec()));
            store.metadata_set(ALICE, Some(id), &[entry], 4).await.unwrap()
        })
        .await;
        assert_eq!(set.iter().filter(|done| **done).count(), 4, "{set:?}");
        assert_eq!(store.metadata_get(ALICE, Some(id)).await.unwrap().len(), 4);
    }
}

on_both_engines! {
    async fn messages_indexed_while_they_are_expunged_are_skipped(engine) {
        let (store, inbox) = store_with_inbox(engine).await;
        let id = inbox.id;
        for round in 0..5 {
            let mut uids = Vec::new();
            for i in 0..20 {
                let file = format!("cur/{round}-{i}");
                uids.push(store.message_insert(id, &message(&file, None)).await.unwrap().0);
            }
            let text = IndexedText {
                subject: Some("s".into()),
                from: None,
                to: None,
                cc: None,
                bcc: None,
                header: String::new(),
                body: String::new(),
                fields: None,
            };
            let texts: Arc<Vec<(u32, IndexedText)>> =
                Arc::new(uids.iter().map(|uid| (*uid, text.clone())).collect());
            let uids = Arc::new(uids);
            // The index in one order, the expunges one by one in the other.
            at_once(&store, 2, |store, i| {
                let (texts, uids) = (texts.clone(), uids.clone());
                async move {
                    if i == 0 {
                        store.text_index(id, &texts).await.unwrap();
                    } else {
                        for uid in uids.iter().rev() {
                            store.message_expunge(id, &[*uid]).await.unwrap();
                        }
                    }
                }
            })
            .await;
            assert!(store.message_list(id).await.unwrap().is_empty());
            assert!(store.text_pending(id, 100).await.unwrap().is_empty());
        }
    }
}
