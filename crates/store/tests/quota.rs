//! A user's quota use: what her mailboxes hold, kept as messages come and
//! go, read with her address at RCPT time.

mod common;

use havre_store::*;

const ALICE: &str = "alice@example.test";

fn message(file: &str, size: u64) -> NewMessage {
    NewMessage {
        file: file.into(),
        size,
        internal_date: 1_700_000_000,
        flags: Vec::new(),
        cache: None,
        uid: None,
        text: None,
    }
}

on_both_engines! {
    async fn quota_use_follows_deliveries_expunges_and_deleted_folders(engine) {
        let store = common::store_on(engine, &[]).await;
        store
            .add_user(&NewUser {
                quota: Some(10_000),
                ..common::user(ALICE)
            })
            .await
            .unwrap();
        let inbox = store
            .mailbox_create(ALICE, "INBOX", &MailboxInit::default())
            .await
            .unwrap();
        let lists = store
            .mailbox_create(ALICE, "Lists", &MailboxInit::default())
            .await
            .unwrap();
        let (first, _) = store
            .message_insert(inbox.id, &message("new/1", 3_000))
            .await
            .unwrap();
        store
            .message_insert(inbox.id, &message("new/2", 2_000))
            .await
            .unwrap();
        store
            .message_insert(lists.id, &message("new/3", 4_000))
            .await
            .unwrap();
        assert_eq!(store.quota_used(ALICE).await.unwrap(), 9_000);
        let entry = store.address_entry(ALICE, "example.test").await.unwrap();
        assert_eq!(
            entry.quota,
            Some(QuotaUse {
                limit: 10_000,
                used: 9_000
            })
        );
        assert!(
            !entry.quota.unwrap().exceeded_by(1_000),
            "filling it exactly fits"
        );
        assert!(entry.quota.unwrap().exceeded_by(1_001));

        store.message_expunge(inbox.id, &[first]).await.unwrap();
        assert_eq!(store.quota_used(ALICE).await.unwrap(), 6_000);
        assert!(store.mailbox_delete(lists.id).await.unwrap());
        assert_eq!(store.quota_used(ALICE).await.unwrap(), 2_000);
    }
}

on_both_engines! {
    async fn a_user_without_a_quota_has_none_in_her_entry(engine) {
        let store = common::store_on(engine, &[ALICE]).await;
        let entry = store.address_entry(ALICE, "example.test").await.unwrap();
        assert!(entry.user);
        assert_eq!(entry.quota, None);
    }
}

on_both_engines! {
    async fn a_user_without_a_quota_of_her_own_has_her_classs_and_0_is_unlimited(engine) {
        let store = common::store_on(engine, &[]).await;
        let student = |email: &str, quota| NewUser {
            class: "student".into(),
            quota,
            ..common::user(email)
        };
        store
            .add_user(&student("dan@example.test", None))
            .await
            .unwrap();
        store
            .add_user(&student("eve@example.test", Some(0)))
            .await
            .unwrap();
        store
            .add_user(&student("fay@example.test", Some(5_000)))
            .await
            .unwrap();
        let quota = |email: &'static str| {
            let store = &store;
            async move { store.get_user(email).await.unwrap().unwrap().quota }
        };
        assert_eq!(quota("dan@example.test").await, None, "no class quotas yet");
        store
            .set_class_quotas(&[("student".into(), 1_000), ("staff".into(), 9_000)])
            .await
            .unwrap();
        assert_eq!(quota("dan@example.test").await, Some(1_000));
        assert_eq!(quota("eve@example.test").await, None, "exempt");
        assert_eq!(quota("fay@example.test").await, Some(5_000), "her own");
        let entry = store
            .address_entry("dan@example.test", "example.test")
            .await
            .unwrap();
        assert_eq!(
            entry.quota,
            Some(QuotaUse {
                limit: 1_000,
                used: 0
            })
        );
        let exempt = store
            .address_entry("eve@example.test", "example.test")
            .await
            .unwrap();
        assert_eq!(exempt.quota, None);
        // Replaced whole: a class left out has no default any more.
        store
            .set_class_quotas(&[("staff".into(), 9_000)])
            .await
            .unwrap();
        assert_eq!(quota("dan@example.test").await, None);
    }
}
