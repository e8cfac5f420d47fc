//! Flag updates are applied to what the store holds, not to a caller's copy.

mod common;

use std::sync::Arc;

use havre_store::*;

async fn inbox_with(store: &dyn Store, flags: &[&str]) -> (MailboxRecord, u32) {
    store.add_domain("example.test").await.unwrap();
    let inbox = store
        .mailbox_create("alice@example.test", "INBOX", &MailboxInit::default())
        .await
        .unwrap();
    let (uid, _) = store
        .message_insert(
            inbox.id,
            &NewMessage {
                file: "new/a".into(),
                size: 100,
                internal_date: 1_700_000_000,
                flags: flags.iter().map(|f| f.to_string()).collect(),
                cache: None,
                uid: None,
                text: None,
            },
        )
        .await
        .unwrap();
    (inbox, uid)
}

fn v(flags: &[&str]) -> Vec<String> {
    flags.iter().map(|f| f.to_string()).collect()
}

async fn stored_flags(store: &dyn Store, mailbox: i64) -> Vec<String> {
    store.message_list(mailbox).await.unwrap()[0].flags.clone()
}

on_both_engines! {
    async fn a_flag_added_by_one_update_survives_a_flag_removed_by_another(engine) {
        let store = common::empty(engine).await;
        let (inbox, uid) = inbox_with(&*store, &["\\Seen"]).await;
        // Both callers saw `(\Seen)`; neither sends the flags it believes in.
        store
            .message_update_flags(inbox.id, &[uid], FlagMode::Add, &v(&["\\Answered"]), None)
            .await
            .unwrap();
        let removed = store
            .message_update_flags(inbox.id, &[uid], FlagMode::Remove, &v(&["\\Seen"]), None)
            .await
            .unwrap();
        assert_eq!(removed.changed.len(), 1);
        assert_eq!(removed.changed[0].flags, v(&["\\Answered"]));
        assert_eq!(stored_flags(&*store, inbox.id).await, v(&["\\Answered"]));
    }
}

on_both_engines! {
    async fn concurrent_additions_of_different_keywords_all_stay(engine) {
        let store = Arc::new(common::empty(engine).await);
        let (inbox, uid) = inbox_with(&**store, &[]).await;
        // On PostgreSQL each on a connection of its own, as from many nodes.
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let flags = [format!("k{i}")];
                    store
                        .message_update_flags(inbox.id, &[uid], FlagMode::Add, &flags, None)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut modseqs = Vec::new();
        for task in tasks {
            modseqs.push(task.await.unwrap().changed[0].modseq);
        }
        let flags = stored_flags(&**store, inbox.id).await;
        assert_eq!(flags.len(), 20, "{flags:?}");
        // Each addition took its own mod-sequence.
        modseqs.sort();
        modseqs.dedup();
        assert_eq!(modseqs.len(), 20, "{modseqs:?}");
        let mailbox = store.mailbox_by_id(inbox.id).await.unwrap().unwrap();
        assert_eq!(mailbox.highestmodseq, inbox.highestmodseq + 21);
    }
}

on_both_engines! {
    async fn an_update_that_changes_nothing_keeps_the_modseq(engine) {
        let store = common::empty(engine).await;
        let (inbox, uid) = inbox_with(&*store, &["\\Seen"]).await;
        let before = store.mailbox_by_id(inbox.id).await.unwrap().unwrap();
        let done = store
            .message_update_flags(inbox.id, &[uid], FlagMode::Add, &v(&["\\seen"]), None)
            .await
            .unwrap();
        assert!(done.changed.is_empty());
        assert_eq!(done.unchanged.len(), 1);
        assert_eq!(done.unchanged[0].modseq, before.highestmodseq);
        let after = store.mailbox_by_id(inbox.id).await.unwrap().unwrap();
        assert_eq!(after.highestmodseq, before.highestmodseq);
    }
}

on_both_engines! {
    async fn unchangedsince_leaves_a_message_modified_after_it_alone(engine) {
        let store = common::empty(engine).await;
        let (inbox, uid) = inbox_with(&*store, &[]).await;
        let seen_at = store
            .mailbox_by_id(inbox.id)
            .await
            .unwrap()
            .unwrap()
            .highestmodseq;
        let first = store
            .message_update_flags(
                inbox.id,
                &[uid],
                FlagMode::Add,
                &v(&["\\Flagged"]),
                Some(seen_at),
            )
            .await
            .unwrap();
        assert_eq!(first.changed.len(), 1);
        let second = store
            .message_update_flags(inbox.id, &[uid], FlagMode::Replace, &v(&[]), Some(seen_at))
            .await
            .unwrap();
        assert_eq!(second.modified, vec![uid]);
        assert!(second.changed.is_empty() && second.unchanged.is_empty());
        assert_eq!(stored_flags(&*store, inbox.id).await, v(&["\\Flagged"]));
        // A message expunged meanwhile is in none of the lists.
        store.message_expunge(inbox.id, &[uid]).await.unwrap();
        let gone = store
            .message_update_flags(inbox.id, &[uid], FlagMode::Add, &v(&["\\Seen"]), None)
            .await
            .unwrap();
        assert_eq!(gone, FlagUpdate::default());
    }
}

on_both_engines! {
    async fn a_uid_named_twice_is_changed_once(engine) {
        let store = common::empty(engine).await;
        let (inbox, uid) = inbox_with(&*store, &[]).await;
        let done = store
            .message_update_flags(inbox.id, &[uid, uid], FlagMode::Add, &v(&["\\Seen"]), None)
            .await
            .unwrap();
        assert_eq!(done.changed.len(), 1);
        // The second mention finds the flags the first left.
        assert_eq!(done.unchanged.len(), 1);
        assert_eq!(done.unchanged[0].flags, v(&["\\Seen"]));
        assert_eq!(done.unchanged[0].modseq, done.changed[0].modseq);
    }
}
