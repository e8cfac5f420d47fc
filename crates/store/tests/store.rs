use havre_store::*;

async fn store_with_domain() -> SqliteStore {
    let store = SqliteStore::memory().await.unwrap();
    store.add_domain("example.test").await.unwrap();
    store
}

fn user(email: &str) -> NewUser {
    NewUser {
        email: email.into(),
        password_hash: None,
        class: "student".into(),
        quota: Some(1 << 30),
    }
}

#[tokio::test]
async fn a_user_in_an_unknown_domain_is_refused() {
    let store = store_with_domain().await;
    let err = store
        .add_user(&user("bob@elsewhere.test"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NoSuchDomain(d) if d == "elsewhere.test"));
}

#[tokio::test]
async fn a_user_added_twice_is_refused_and_the_first_is_kept() {
    let store = store_with_domain().await;
    store.add_user(&user("alice@example.test")).await.unwrap();
    let err = store
        .add_user(&user("alice@example.test"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists(_)));
    let alice = store.get_user("alice@example.test").await.unwrap().unwrap();
    assert_eq!(alice.class, "student");
    assert_eq!(alice.quota, Some(1 << 30));
}

#[tokio::test]
async fn a_domain_with_users_cannot_be_removed() {
    let store = store_with_domain().await;
    store.add_user(&user("alice@example.test")).await.unwrap();
    assert!(matches!(
        store.remove_domain("example.test").await,
        Err(StoreError::DomainNotEmpty { users: 1, .. })
    ));
    store.remove_user("alice@example.test").await.unwrap();
    assert!(store.remove_domain("example.test").await.unwrap());
}

#[tokio::test]
async fn alias_targets_keep_their_order_and_can_be_removed_one_by_one() {
    let store = store_with_domain().await;
    let targets = vec!["b@example.test".to_string(), "a@example.test".to_string()];
    store
        .add_alias("team@example.test", &targets)
        .await
        .unwrap();
    store
        .add_alias("team@example.test", &["c@example.test".to_string()])
        .await
        .unwrap();
    assert_eq!(
        store.alias_targets("team@example.test").await.unwrap(),
        vec!["b@example.test", "a@example.test", "c@example.test"]
    );
    assert_eq!(
        store
            .remove_alias("team@example.test", Some("a@example.test"))
            .await
            .unwrap(),
        1
    );
    let all = store.list_aliases().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].targets, vec!["b@example.test", "c@example.test"]);
}

#[tokio::test]
async fn a_queued_message_round_trips_and_records_attempts() {
    let store = store_with_domain().await;
    let entry = QueueEntry {
        id: "ABC123".into(),
        sender: "x@remote.test".into(),
        size: 1234,
        arrival: 1_700_000_000,
        client: "mx.remote.test[192.0.2.1]".into(),
        protocol: "ESMTP".into(),
        attempts: 0,
        next_attempt: 1_700_000_000,
        hold: false,
        recipients: vec![
            QueueRecipient {
                idx: 0,
                address: "alice@example.test".into(),
                status: RecipientStatus::Pending,
                last_reply: None,
            },
            QueueRecipient {
                idx: 1,
                address: "bob@example.test".into(),
                status: RecipientStatus::Pending,
                last_reply: None,
            },
        ],
    };
    store.queue_insert(&entry).await.unwrap();
    assert_eq!(store.queue_get("ABC123").await.unwrap().unwrap(), entry);
    assert_eq!(store.queue_due(1_700_000_000, 10).await.unwrap().len(), 1);
    store
        .queue_record_attempt(&AttemptOutcome {
            id: "ABC123".into(),
            updates: vec![RecipientUpdate {
                idx: 0,
                status: RecipientStatus::Sent,
                reply: "delivered to maildir".into(),
            }],
            next_attempt: 1_700_000_300,
        })
        .await
        .unwrap();
    assert!(store.queue_due(1_700_000_000, 10).await.unwrap().is_empty());
    let after = store.queue_get("ABC123").await.unwrap().unwrap();
    assert_eq!(after.attempts, 1);
    assert_eq!(after.pending().count(), 1);
    assert!(store.queue_remove("ABC123").await.unwrap());
    assert!(store.queue_list().await.unwrap().is_empty());
}

#[tokio::test]
async fn reopening_a_database_keeps_data_and_does_not_reapply_migrations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("havre.db");
    {
        let store = SqliteStore::open(&path).await.unwrap();
        store.add_domain("example.test").await.unwrap();
    }
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), 1);
    assert!(store.domain_exists("example.test").await.unwrap());
}
