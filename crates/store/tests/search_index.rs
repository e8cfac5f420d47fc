//! The search index follows its messages: written with the row, gone with
//! the expunge, and filled in later for messages that came without text.

mod common;

use havre_store::*;

fn text(subject: &str, body: &str) -> IndexedText {
    IndexedText {
        subject: Some(subject.into()),
        from: Some("alice <alice@example.test>".into()),
        to: None,
        cc: None,
        bcc: None,
        header: format!("subject: {subject}\n"),
        body: body.into(),
        fields: Some(format!("Subject: {subject}\r\n").into_bytes()),
    }
}

fn message(file: &str, text: Option<IndexedText>) -> NewMessage {
    NewMessage {
        text,
        ..common::new_message(file)
    }
}

async fn inbox(store: &dyn Store) -> MailboxRecord {
    store.add_domain("example.test").await.unwrap();
    store
        .mailbox_create("alice@example.test", "INBOX", &MailboxInit::default())
        .await
        .unwrap()
}

on_both_engines! {
    async fn a_message_is_found_by_its_indexed_text_until_it_is_expunged(engine) {
        let store = common::empty(engine).await;
        let inbox = inbox(&*store).await;
        let (quarterly, _) = store
            .message_insert(
                inbox.id,
                &message("new/a", Some(text("quarterly report", "figures"))),
            )
            .await
            .unwrap();
        let (lunch, _) = store
            .message_insert(
                inbox.id,
                &message("new/b", Some(text("lunch", "quarterly figures"))),
            )
            .await
            .unwrap();
        let search = |field, needle: &'static str| {
            let store = &store;
            async move { store.text_search(inbox.id, field, needle).await.unwrap() }
        };
        assert_eq!(
            search(IndexedField::Subject, "quarterly").await,
            vec![quarterly]
        );
        assert_eq!(search(IndexedField::Body, "quarterly").await, vec![lunch]);
        assert_eq!(
            search(IndexedField::Text, "quarterly").await,
            vec![quarterly, lunch]
        );
        assert_eq!(
            search(IndexedField::From, "alice@").await,
            vec![quarterly, lunch]
        );
        assert_eq!(search(IndexedField::To, "").await, Vec::<u32>::new());
        assert_eq!(
            search(IndexedField::Subject, "").await,
            vec![quarterly, lunch]
        );

        assert_eq!(
            store.message_fields(inbox.id, lunch).await.unwrap(),
            Some(b"Subject: lunch\r\n".to_vec())
        );

        store.message_expunge(inbox.id, &[quarterly]).await.unwrap();
        assert_eq!(
            store.message_fields(inbox.id, quarterly).await.unwrap(),
            None
        );
        assert_eq!(search(IndexedField::Text, "quarterly").await, vec![lunch]);
        assert_eq!(
            search(IndexedField::Subject, "quarterly").await,
            Vec::<u32>::new()
        );
    }
}

on_both_engines! {
    async fn a_message_without_text_is_pending_until_indexed(engine) {
        let store = common::empty(engine).await;
        let inbox = inbox(&*store).await;
        let (old, _) = store
            .message_insert(inbox.id, &message("cur/old", None))
            .await
            .unwrap();
        let (gone, _) = store
            .message_insert(inbox.id, &message("cur/gone", None))
            .await
            .unwrap();
        let pending: Vec<u32> = store
            .text_pending(inbox.id, 10)
            .await
            .unwrap()
            .iter()
            .map(|m| m.uid)
            .collect();
        assert_eq!(pending, vec![old, gone]);
        assert!(
            store
                .text_search(inbox.id, IndexedField::Subject, "old")
                .await
                .unwrap()
                .is_empty()
        );

        // Expunged between the listing and the indexing: skipped.
        store.message_expunge(inbox.id, &[gone]).await.unwrap();
        store
            .text_index(
                inbox.id,
                &[(old, text("an old one", "")), (gone, text("old too", ""))],
            )
            .await
            .unwrap();
        assert!(store.text_pending(inbox.id, 10).await.unwrap().is_empty());
        assert_eq!(
            store
                .text_search(inbox.id, IndexedField::Subject, "old")
                .await
                .unwrap(),
            vec![old]
        );
    }
}

on_both_engines! {
    async fn deleting_a_mailbox_takes_its_index_along(engine) {
        let store = common::empty(engine).await;
        let inbox = inbox(&*store).await;
        store
            .message_insert(inbox.id, &message("new/a", Some(text("hello", "world"))))
            .await
            .unwrap();
        store
            .message_insert(inbox.id, &message("new/b", None))
            .await
            .unwrap();
        assert!(store.mailbox_delete(inbox.id).await.unwrap());
        let again = store
            .mailbox_create("alice@example.test", "INBOX", &MailboxInit::default())
            .await
            .unwrap();
        // Neither engine gives an id twice (AUTOINCREMENT, an identity
        // column): look at the old one.
        assert_ne!(again.id, inbox.id);
        assert!(
            store
                .text_search(inbox.id, IndexedField::Text, "hello")
                .await
                .unwrap()
                .is_empty()
        );
        assert!(store.text_pending(inbox.id, 10).await.unwrap().is_empty());
    }
}
