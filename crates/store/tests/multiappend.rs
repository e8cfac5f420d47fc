//! MULTIAPPEND (RFC 3502) indexes its messages all or none.

mod common;

use havre_store::*;

use common::new_message as message;

async fn inbox(store: &dyn Store) -> MailboxRecord {
    store.add_domain("example.test").await.unwrap();
    store
        .mailbox_create("alice@example.test", "INBOX", &MailboxInit::default())
        .await
        .unwrap()
}

on_both_engines! {
    async fn messages_appended_together_get_consecutive_uids_and_one_modseq(engine) {
        let store = common::empty(engine).await;
        let inbox = inbox(&*store).await;
        store
            .message_insert(inbox.id, &message("new/first"))
            .await
            .unwrap();
        let uids = store
            .message_insert_all(
                inbox.id,
                &[message("new/a"), message("new/b"), message("new/c")],
            )
            .await
            .unwrap();
        assert_eq!(uids, vec![2, 3, 4]);
        let listed = store.message_list(inbox.id).await.unwrap();
        let modseqs: Vec<u64> = listed[1..].iter().map(|m| m.modseq).collect();
        assert!(modseqs.iter().all(|m| *m == modseqs[0]), "{modseqs:?}");
        let after = store.mailbox_by_id(inbox.id).await.unwrap().unwrap();
        assert_eq!(after.uidnext, 5);
    }
}

on_both_engines! {
    async fn when_one_message_cannot_be_indexed_none_is(engine) {
        let store = common::empty(engine).await;
        let inbox = inbox(&*store).await;
        // The same file twice in one batch cannot be two messages.
        let batch = [message("new/a"), message("new/b"), message("new/b")];
        let err = store.message_insert_all(inbox.id, &batch).await;
        assert!(matches!(err, Err(StoreError::AlreadyExists(_))), "{err:?}");
        assert!(store.message_list(inbox.id).await.unwrap().is_empty());
        let after = store.mailbox_by_id(inbox.id).await.unwrap().unwrap();
        assert_eq!(after.uidnext, 1, "no UID was used up");
    }
}

on_both_engines! {
    async fn a_file_indexed_before_the_batch_keeps_its_uid(engine) {
        let store = common::empty(engine).await;
        let inbox = inbox(&*store).await;
        let (synced, _) = store
            .message_insert(inbox.id, &message("new/b"))
            .await
            .unwrap();
        let uids = store
            .message_insert_all(
                inbox.id,
                &[message("new/a"), message("new/b"), message("new/c")],
            )
            .await
            .unwrap();
        assert_eq!(uids, vec![2, synced, 3]);
        assert_eq!(store.message_list(inbox.id).await.unwrap().len(), 3);
        let after = store.mailbox_by_id(inbox.id).await.unwrap().unwrap();
        assert_eq!(after.uidnext, 4);
    }
}
