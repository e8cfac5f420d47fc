mod common;

use common::{Engine, TestStore};
use havre_store::*;

async fn store_with_domain(engine: Engine) -> TestStore {
    common::store_on(engine, &[]).await
}

fn user(email: &str) -> NewUser {
    NewUser {
        email: email.into(),
        password_hash: None,
        class: "student".into(),
        quota: Some(1 << 30),
    }
}

on_both_engines! {
    async fn a_user_in_an_unknown_domain_is_refused(engine) {
        let store = store_with_domain(engine).await;
        let err = store
            .add_user(&user("bob@elsewhere.test"))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NoSuchDomain(d) if d == "elsewhere.test"));
    }
}

on_both_engines! {
    async fn a_user_added_twice_is_refused_and_the_first_is_kept(engine) {
        let store = store_with_domain(engine).await;
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
}

on_both_engines! {
    async fn modifying_a_user_changes_only_what_is_named(engine) {
        let store = store_with_domain(engine).await;
        store.add_user(&user("alice@example.test")).await.unwrap();
        let before = store.get_user("alice@example.test").await.unwrap().unwrap();
        assert!(!before.disabled);
        let changed = store
            .modify_user(
                "alice@example.test",
                &UserChanges {
                    quota: Some(None),
                    disabled: Some(true),
                    ..UserChanges::default()
                },
            )
            .await
            .unwrap();
        assert!(changed);
        let after = store.get_user("alice@example.test").await.unwrap().unwrap();
        assert_eq!(after.quota, None);
        assert!(after.disabled);
        assert_eq!(after.class, "student", "the class was not named");
        assert!(
            !store
                .modify_user("nobody@example.test", &UserChanges::default())
                .await
                .unwrap()
        );
    }
}

on_both_engines! {
    async fn a_domain_with_users_cannot_be_removed(engine) {
        let store = store_with_domain(engine).await;
        store.add_user(&user("alice@example.test")).await.unwrap();
        assert!(matches!(
            store.remove_domain("example.test").await,
            Err(StoreError::DomainNotEmpty { users: 1, .. })
        ));
        store.remove_user("alice@example.test").await.unwrap();
        assert!(store.remove_domain("example.test").await.unwrap());
    }
}

on_both_engines! {
    async fn one_read_tells_the_domain_the_user_and_the_alias_of_an_address(engine) {
        let store = store_with_domain(engine).await;
        store.add_user(&user("alice@example.test")).await.unwrap();
        let targets = vec![
            "alice@example.test".to_string(),
            "b@remote.test".to_string(),
        ];
        store
            .add_alias("alice@example.test", &targets)
            .await
            .unwrap();
        let entry = |address: &'static str, domain: &'static str| {
            let store = &store;
            async move { store.address_entry(address, domain).await.unwrap() }
        };
        assert_eq!(
            entry("alice@example.test", "example.test").await,
            AddressEntry {
                domain_local: true,
                user: true,
                quota: Some(QuotaUse {
                    limit: 1 << 30,
                    used: 0
                }),
                sieve: None,
                aliases: targets.clone(),
            }
        );
        assert_eq!(
            entry("nobody@example.test", "example.test").await,
            AddressEntry {
                domain_local: true,
                ..AddressEntry::default()
            }
        );
        assert_eq!(
            entry("alice@elsewhere.test", "elsewhere.test").await,
            AddressEntry::default()
        );
    }
}

on_both_engines! {
    async fn alias_targets_keep_their_order_and_can_be_removed_one_by_one(engine) {
        let store = store_with_domain(engine).await;
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
}

on_both_engines! {
    async fn a_queued_message_round_trips_and_records_attempts(engine) {
        let store = store_with_domain(engine).await;
        let entry = common::queued(
            "ABC123",
            "x@remote.test",
            vec![
                common::pending(0, "alice@example.test", None),
                common::pending(1, "bob@example.test", None),
            ],
        );
        store.queue_insert(&entry, None).await.unwrap();
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

        // The attempt that leaves a recipient pending keeps the record; the one
        // that makes the last final removes it in the same commit.
        store.queue_insert(&entry, None).await.unwrap();
        let outcome = |idx: i64, status: RecipientStatus| AttemptOutcome {
            id: "ABC123".into(),
            updates: vec![RecipientUpdate {
                idx,
                status,
                reply: "done".into(),
            }],
            next_attempt: 1_700_000_300,
        };
        let finish = store
            .queue_finish_attempt(&outcome(0, RecipientStatus::Sent), &[])
            .await
            .unwrap()
            .removed;
        assert!(!finish);
        let kept = store.queue_get("ABC123").await.unwrap().unwrap();
        assert_eq!((kept.attempts, kept.pending().count()), (1, 1));
        let deferred = store
            .queue_finish_attempt(&outcome(1, RecipientStatus::Pending), &[])
            .await
            .unwrap()
            .removed;
        assert!(!deferred);
        let finish = store
            .queue_finish_attempt(&outcome(1, RecipientStatus::Failed), &[])
            .await
            .unwrap()
            .removed;
        assert!(finish);
        assert!(store.queue_get("ABC123").await.unwrap().is_none());
    }
}

on_both_engines! {
    async fn an_attempt_reads_its_record_and_kept_body_together(engine) {
        let store = store_with_domain(engine).await;
        // A list's message: three recipients, the body once.
        let list = common::queued(
            "LIST",
            "x@remote.test",
            (0..3)
                .map(|n| common::pending(n, &format!("m{n}@example.test"), None))
                .collect(),
        );
        store
            .queue_insert(&list, Some(b"Subject: to the list\r\n\r\nhello\r\n"))
            .await
            .unwrap();
        let (entry, body) = store.queue_get_with_body("LIST").await.unwrap().unwrap();
        assert_eq!(entry, store.queue_get("LIST").await.unwrap().unwrap());
        assert_eq!(entry.recipients.len(), 3);
        assert_eq!(
            body.as_deref(),
            Some(&b"Subject: to the list\r\n\r\nhello\r\n"[..])
        );
        // A record whose body is a spool file has none; no record, nothing.
        let filed = common::queued(
            "FILED",
            "x@remote.test",
            vec![common::pending(0, "alice@example.test", None)],
        );
        store.queue_insert(&filed, None).await.unwrap();
        let (entry, body) = store.queue_get_with_body("FILED").await.unwrap().unwrap();
        assert_eq!(entry.id, "FILED");
        assert_eq!(body, None);
        assert!(store.queue_get_with_body("NONE").await.unwrap().is_none());
    }
}

on_both_engines! {
    async fn a_body_kept_with_its_record_commits_with_it_and_goes_with_it(engine) {
        let store = store_with_domain(engine).await;
        let entry = |id: &str| {
            common::queued(
                id,
                "x@remote.test",
                vec![common::pending(0, "alice@example.test", None)],
            )
        };
        store
            .queue_insert(&entry("KEPT"), Some(b"Subject: kept\r\n\r\nhello\r\n"))
            .await
            .unwrap();
        assert_eq!(
            store.queue_body("KEPT").await.unwrap().as_deref(),
            Some(&b"Subject: kept\r\n\r\nhello\r\n"[..])
        );
        // Another message that drew the same id neither replaces the body nor
        // leaves one of its own.
        let twice = store.queue_insert(&entry("KEPT"), Some(b"other")).await;
        assert!(
            matches!(twice, Err(StoreError::AlreadyExists(_))),
            "{twice:?}"
        );
        assert_eq!(
            store.queue_body("KEPT").await.unwrap().as_deref(),
            Some(&b"Subject: kept\r\n\r\nhello\r\n"[..])
        );
        // A record whose body is a spool file has none here.
        store.queue_insert(&entry("FILE"), None).await.unwrap();
        assert_eq!(store.queue_body("FILE").await.unwrap(), None);

        // The attempt that makes the last recipient final takes the body too.
        let finished = store
            .queue_finish_attempt(
                &AttemptOutcome {
                    id: "KEPT".into(),
                    updates: vec![RecipientUpdate {
                        idx: 0,
                        status: RecipientStatus::Sent,
                        reply: "delivered to maildir".into(),
                    }],
                    next_attempt: 1_700_000_300,
                },
                &[],
            )
            .await
            .unwrap();
        assert!(finished.removed);
        assert_eq!(store.queue_body("KEPT").await.unwrap(), None);
        // And so does an operator's removal.
        store
            .queue_insert(&entry("GONE"), Some(b"x"))
            .await
            .unwrap();
        assert!(store.queue_remove("GONE").await.unwrap());
        assert_eq!(store.queue_body("GONE").await.unwrap(), None);
    }
}

on_both_engines! {
    async fn a_quarantined_message_keeps_its_reason_until_released_and_is_listed_by_age(engine) {
        let store = store_with_domain(engine).await;
        let entry = |id: &str, arrival: i64, reason: Option<&str>| QueueEntry {
            id: id.into(),
            sender: "x@remote.test".into(),
            size: 10,
            arrival,
            client: "unknown[192.0.2.1]".into(),
            protocol: "ESMTP".into(),
            attempts: 0,
            next_attempt: arrival,
            hold: reason.is_some(),
            hold_reason: reason.map(str::to_owned),
            warned: false,
            node: 0,
            recipients: vec![QueueRecipient {
                idx: 0,
                address: "alice@example.test".into(),
                orig: None,
                status: RecipientStatus::Pending,
                last_reply: None,
            }],
        };
        store
            .queue_insert(
                &entry("OLD", 1_000, Some("attachment refused: a.exe")),
                None,
            )
            .await
            .unwrap();
        store
            .queue_insert(
                &entry("NEW", 2_000, Some("attachment refused: b.exe")),
                None,
            )
            .await
            .unwrap();
        store
            .queue_insert(&entry("PLAIN", 1_500, None), None)
            .await
            .unwrap();
        // The operator's hold is not a quarantine.
        store.queue_hold("PLAIN", true).await.unwrap();
        let ids = |list: Vec<QueueEntry>| list.into_iter().map(|e| e.id).collect::<Vec<_>>();
        assert_eq!(
            ids(store.queue_quarantined(None).await.unwrap()),
            ["OLD", "NEW"]
        );
        assert_eq!(
            ids(store.queue_quarantined(Some(2_000)).await.unwrap()),
            ["OLD"]
        );
        assert!(
            store
                .queue_due(10_000, 10)
                .await
                .unwrap()
                .iter()
                .all(|e| e.id != "OLD")
        );
        let old = store.queue_get("OLD").await.unwrap().unwrap();
        assert!(old.quarantined());
        assert_eq!(
            old.hold_reason.as_deref(),
            Some("attachment refused: a.exe")
        );
        store.queue_hold("OLD", false).await.unwrap();
        let released = store.queue_get("OLD").await.unwrap().unwrap();
        assert!(!released.hold && released.hold_reason.is_none());
        assert_eq!(ids(store.queue_quarantined(None).await.unwrap()), ["NEW"]);
    }
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
    assert_eq!(store.schema_version().await.unwrap(), SCHEMA_VERSION);
    assert!(store.domain_exists("example.test").await.unwrap());
}

async fn mailbox(store: &dyn Store) -> MailboxRecord {
    store
        .mailbox_create("alice@example.test", "INBOX", &MailboxInit::default())
        .await
        .unwrap()
}

fn message(file: &str, flags: &[&str]) -> NewMessage {
    NewMessage {
        file: file.into(),
        size: 100,
        internal_date: 1_700_000_000,
        flags: flags.iter().map(|f| f.to_string()).collect(),
        cache: None,
        uid: None,
        text: None,
    }
}

on_both_engines! {
    async fn uids_grow_and_every_change_takes_a_new_modseq(engine) {
        let store = store_with_domain(engine).await;
        let inbox = mailbox(&*store).await;
        assert_eq!((inbox.uidnext, inbox.highestmodseq), (1, 1));
        let (uid1, m1) = store
            .message_insert(inbox.id, &message("new/a", &[]))
            .await
            .unwrap();
        let (uid2, m2) = store
            .message_insert(inbox.id, &message("new/b", &["\\Seen"]))
            .await
            .unwrap();
        assert_eq!((uid1, uid2), (1, 2));
        assert!(m2 > m1);
        let changed = store
            .message_update_flags(
                inbox.id,
                &[1],
                FlagMode::Replace,
                &["\\Flagged".into()],
                None,
            )
            .await
            .unwrap()
            .changed;
        assert_eq!(changed.len(), 1);
        assert!(changed[0].modseq > m2);
        // UNCHANGEDSINCE older than the message's modseq: refused, nothing changed.
        let refused = store
            .message_update_flags(inbox.id, &[2], FlagMode::Replace, &[], Some(m1))
            .await
            .unwrap();
        assert!(refused.changed.is_empty());
        assert_eq!(refused.modified, [2]);
        let since = store.message_changes(inbox.id, m2).await.unwrap();
        assert_eq!(since.iter().map(|m| m.uid).collect::<Vec<_>>(), vec![1]);
        assert_eq!(since[0].flags, vec!["\\Flagged"]);
        let expunged_at = store.message_expunge(inbox.id, &[1]).await.unwrap();
        assert_eq!(
            store
                .expunged_since(inbox.id, expunged_at - 1)
                .await
                .unwrap(),
            vec![1]
        );
        // A UID is never reused after an expunge.
        let (uid3, _) = store
            .message_insert(inbox.id, &message("new/c", &[]))
            .await
            .unwrap();
        assert_eq!(uid3, 3);
        assert_eq!(store.quota_used("alice@example.test").await.unwrap(), 200);
    }
}

on_both_engines! {
    async fn an_imported_mailbox_keeps_its_uidvalidity_and_uids(engine) {
        let store = store_with_domain(engine).await;
        let init = MailboxInit {
            special_use: Some("\\Sent".into()),
            uidvalidity: Some(1_234_567),
            uidnext: Some(40),
        };
        let sent = store
            .mailbox_create("alice@example.test", "Sent", &init)
            .await
            .unwrap();
        assert_eq!((sent.uidvalidity, sent.uidnext), (1_234_567, 40));
        let mut kept = message("cur/x", &[]);
        kept.uid = Some(57);
        assert_eq!(store.message_insert(sent.id, &kept).await.unwrap().0, 57);
        assert_eq!(
            store
                .message_insert(sent.id, &message("cur/y", &[]))
                .await
                .unwrap()
                .0,
            58
        );
        assert!(matches!(
            store
                .mailbox_create("alice@example.test", "Sent", &MailboxInit::default())
                .await,
            Err(StoreError::AlreadyExists(_))
        ));
    }
}

fn kept(file: &str, uid: u32) -> NewMessage {
    NewMessage {
        uid: Some(uid),
        text: None,
        ..message(file, &[])
    }
}

on_both_engines! {
    async fn a_mailbox_imported_whole_keeps_uids_and_a_uidnext_above_expunged_ones(engine) {
        let store = store_with_domain(engine).await;
        let init = MailboxInit {
            special_use: None,
            uidvalidity: Some(1_600_000_000),
            // UIDs 13..=19 were given and expunged on the old server.
            uidnext: Some(20),
        };
        let inbox = store
            .mailbox_import(
                "alice@example.test",
                "INBOX",
                &init,
                &[kept("cur/a", 5), kept("cur/b", 9), kept("new/c", 12)],
            )
            .await
            .unwrap();
        assert_eq!((inbox.uidvalidity, inbox.uidnext), (1_600_000_000, 20));
        let uids: Vec<u32> = store
            .message_list(inbox.id)
            .await
            .unwrap()
            .iter()
            .map(|m| m.uid)
            .collect();
        assert_eq!(uids, vec![5, 9, 12]);
        let (next, _) = store
            .message_insert(inbox.id, &message("new/d", &[]))
            .await
            .unwrap();
        assert_eq!(next, 20);
        // Importing over a mailbox that has messages is refused.
        assert!(matches!(
            store
                .mailbox_import("alice@example.test", "INBOX", &init, &[])
                .await,
            Err(StoreError::AlreadyExists(_))
        ));
    }
}

on_both_engines! {
    async fn an_empty_mailbox_takes_the_imported_uidvalidity_and_keeps_its_id(engine) {
        let store = store_with_domain(engine).await;
        let empty = store
            .mailbox_create(
                "alice@example.test",
                "Sent",
                &MailboxInit {
                    special_use: Some("\\Sent".into()),
                    uidvalidity: Some(7),
                    uidnext: Some(30),
                },
            )
            .await
            .unwrap();
        let init = MailboxInit {
            uidvalidity: Some(1_600_000_000),
            uidnext: Some(4),
            ..MailboxInit::default()
        };
        let sent = store
            .mailbox_import("alice@example.test", "Sent", &init, &[kept("cur/a", 3)])
            .await
            .unwrap();
        assert_eq!(sent.id, empty.id);
        assert_eq!((sent.uidvalidity, sent.uidnext), (1_600_000_000, 4));
        assert_eq!(sent.special_use.as_deref(), Some("\\Sent"));

        // Without a UIDVALIDITY to import, the mailbox keeps its own and never
        // gives a UID below its UIDNEXT again.
        let before = store
            .mailbox_create(
                "alice@example.test",
                "Drafts",
                &MailboxInit {
                    uidvalidity: Some(8),
                    uidnext: Some(30),
                    ..MailboxInit::default()
                },
            )
            .await
            .unwrap();
        let drafts = store
            .mailbox_import(
                "alice@example.test",
                "Drafts",
                &MailboxInit::default(),
                &[kept("cur/a", 3)],
            )
            .await
            .unwrap();
        assert_eq!(drafts.id, before.id);
        assert_eq!((drafts.uidvalidity, drafts.uidnext), (8, 31));
        assert_eq!(store.message_list(drafts.id).await.unwrap()[0].uid, 30);
    }
}

on_both_engines! {
    async fn removing_a_user_removes_the_index_of_her_mailboxes(engine) {
        let store = store_with_domain(engine).await;
        store.add_user(&user("alice@example.test")).await.unwrap();
        let inbox = mailbox(&*store).await;
        store
            .message_insert(inbox.id, &message("new/a", &[]))
            .await
            .unwrap();
        assert!(store.remove_user("alice@example.test").await.unwrap());
        assert!(
            store
                .mailbox_list("alice@example.test")
                .await
                .unwrap()
                .is_empty()
        );
        assert!(store.message_list(inbox.id).await.unwrap().is_empty());
        assert_eq!(store.quota_used("alice@example.test").await.unwrap(), 0);
    }
}

on_both_engines! {
    async fn the_subscription_list_outlives_a_mailbox_and_follows_a_rename(engine) {
        let store = store_with_domain(engine).await;
        let alice = "alice@example.test";
        let work = store
            .mailbox_create(alice, "Work", &MailboxInit::default())
            .await
            .unwrap();
        assert!(!work.subscribed, "creating a mailbox does not subscribe it");
        store.subscription_set(alice, "Work", true).await.unwrap();
        store.subscription_set(alice, "Work", true).await.unwrap();
        assert!(
            store
                .mailbox_get(alice, "Work")
                .await
                .unwrap()
                .unwrap()
                .subscribed
        );
        store.mailbox_rename(work.id, "Job").await.unwrap();
        assert_eq!(store.subscriptions(alice).await.unwrap(), ["Job"]);
        store.mailbox_delete(work.id).await.unwrap();
        assert_eq!(store.subscriptions(alice).await.unwrap(), ["Job"]);
        store.subscription_set(alice, "Job", false).await.unwrap();
        store.subscription_set(alice, "Job", false).await.unwrap();
        assert!(store.subscriptions(alice).await.unwrap().is_empty());
    }
}

on_both_engines! {
    async fn a_name_deleted_and_created_again_in_the_same_second_gets_a_greater_uidvalidity(engine) {
        let store = store_with_domain(engine).await;
        let mut seen = Vec::new();
        for _ in 0..5 {
            let box_ = store
                .mailbox_create("alice@example.test", "Lists", &MailboxInit::default())
                .await
                .unwrap();
            seen.push(box_.uidvalidity);
            assert!(store.mailbox_delete(box_.id).await.unwrap());
        }
        assert!(seen.windows(2).all(|w| w[1] > w[0]), "{seen:?}");
        // An import far in the future raises the floor of every later creation.
        let imported = MailboxInit {
            uidvalidity: Some(seen[4] + 1000),
            ..MailboxInit::default()
        };
        store
            .mailbox_create("alice@example.test", "Old", &imported)
            .await
            .unwrap();
        let after = store
            .mailbox_create("alice@example.test", "Lists", &MailboxInit::default())
            .await
            .unwrap();
        assert_eq!(after.uidvalidity, seen[4] + 1001);
    }
}

on_both_engines! {
    async fn a_moved_message_file_keeps_its_uid_and_is_found_by_its_new_name(engine) {
        let store = store_with_domain(engine).await;
        let inbox = store
            .mailbox_create("alice@example.test", "INBOX", &MailboxInit::default())
            .await
            .unwrap();
        let (uid, modseq) = store
            .message_insert(inbox.id, &message("new/1.a.h,S=3", &[]))
            .await
            .unwrap();
        store
            .message_set_file(inbox.id, uid, "cur/1.a.h,S=3:2,S")
            .await
            .unwrap();
        let moved = store
            .message_by_file(inbox.id, "cur/1.a.h,S=3:2,S")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((moved.uid, moved.modseq), (uid, modseq));
        assert!(
            store
                .message_by_file(inbox.id, "new/1.a.h,S=3")
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(
            store
                .message_get(inbox.id, uid)
                .await
                .unwrap()
                .unwrap()
                .file,
            "cur/1.a.h,S=3:2,S"
        );
    }
}

on_both_engines! {
    async fn files_renamed_for_their_flags_are_recorded_together_and_a_flag_change_names_the_file(engine) {
        let store = store_with_domain(engine).await;
        let inbox = mailbox(&*store).await;
        let mut uids = Vec::new();
        for file in ["new/1.a.h", "new/2.b.h", "new/3.c.h"] {
            uids.push(
                store
                    .message_insert(inbox.id, &message(file, &[]))
                    .await
                    .unwrap()
                    .0,
            );
        }
        let done = store
            .message_update_flags(
                inbox.id,
                &uids[..2],
                FlagMode::Add,
                &["\\Seen".into()],
                None,
            )
            .await
            .unwrap();
        // The file each changed message had, for the caller to rename.
        let files: Vec<&str> = done.changed.iter().map(|c| c.file.as_str()).collect();
        assert_eq!(files, ["new/1.a.h", "new/2.b.h"]);
        store
            .message_set_files(
                inbox.id,
                &[
                    (uids[0], "cur/1.a.h:2,S".into()),
                    (uids[1], "cur/2.b.h:2,S".into()),
                ],
            )
            .await
            .unwrap();
        // What a dovecot-uidlist ending at the first message lacks.
        let above: Vec<(u32, String)> = store
            .message_list_above(inbox.id, uids[0])
            .await
            .unwrap()
            .into_iter()
            .map(|m| (m.uid, m.file))
            .collect();
        assert_eq!(
            above,
            [
                (uids[1], "cur/2.b.h:2,S".to_string()),
                (uids[2], "new/3.c.h".to_string())
            ]
        );
        // Two messages cannot take one name: nothing of the batch is recorded.
        assert!(
            store
                .message_set_files(
                    inbox.id,
                    &[(uids[0], "cur/x".into()), (uids[2], "cur/2.b.h:2,S".into())],
                )
                .await
                .is_err()
        );
        assert_eq!(
            store
                .message_get(inbox.id, uids[0])
                .await
                .unwrap()
                .unwrap()
                .file,
            "cur/1.a.h:2,S"
        );
    }
}

on_both_engines! {
    async fn each_new_message_is_claimed_as_recent_by_one_session_only(engine) {
        let store = store_with_domain(engine).await;
        let inbox = store
            .mailbox_create("alice@example.test", "INBOX", &MailboxInit::default())
            .await
            .unwrap();
        store
            .message_insert(inbox.id, &message("new/a", &[]))
            .await
            .unwrap();
        store
            .message_insert(inbox.id, &message("new/b", &[]))
            .await
            .unwrap();
        assert_eq!(store.mailbox_recent_from(inbox.id).await.unwrap(), 1);
        assert_eq!(store.mailbox_claim_recent(inbox.id).await.unwrap(), 1..3);
        assert_eq!(store.mailbox_claim_recent(inbox.id).await.unwrap(), 3..3);
        store
            .message_insert(inbox.id, &message("new/c", &[]))
            .await
            .unwrap();
        assert_eq!(store.mailbox_claim_recent(inbox.id).await.unwrap(), 3..4);
        assert_eq!(store.mailbox_recent_from(inbox.id).await.unwrap(), 4);
    }
}

on_both_engines! {
    async fn an_attempt_commits_the_index_rows_of_its_deliveries_with_its_outcome(engine) {
        let store = store_with_domain(engine).await;
        let inbox = mailbox(&*store).await;
        // Indexed already: a sync found the file after a crash, before the retry.
        let (found, _) = store
            .message_insert(inbox.id, &message("new/1.A.h", &[]))
            .await
            .unwrap();
        let entry = common::queued(
            "0A",
            "x@remote.test",
            vec![common::pending(0, "alice@example.test", None)],
        );
        store.queue_insert(&entry, None).await.unwrap();
        let row = |mailbox_id: i64, file: &str| DeliveredRow {
            mailbox_id,
            message: message(file, &[]),
        };
        let finished = store
            .queue_finish_attempt(
                &AttemptOutcome {
                    id: "0A".into(),
                    updates: vec![RecipientUpdate {
                        idx: 0,
                        status: RecipientStatus::Sent,
                        reply: "delivered to maildir".into(),
                    }],
                    next_attempt: 1_700_000_300,
                },
                &[
                    row(inbox.id, "new/2.B.h"),
                    row(inbox.id, "new/1.A.h"),
                    row(inbox.id + 100, "new/3.C.h"),
                ],
            )
            .await
            .unwrap();
        assert!(finished.removed);
        assert_eq!(finished.uids, vec![found + 1, found, 0]);
        assert!(store.queue_get("0A").await.unwrap().is_none());
        let files: Vec<String> = store
            .message_list(inbox.id)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.file)
            .collect();
        assert_eq!(files, ["new/1.A.h", "new/2.B.h"]);
    }
}

on_both_engines! {
    async fn a_node_s_heartbeat_is_kept_with_what_it_runs(engine) {
        let store = common::empty(engine).await;
        let mut node = NodeStatus {
            id: 3,
            hostname: "mx3.example.test".into(),
            roles: vec!["mx".into(), "relay".into()],
            address: "mx 127.0.0.1:2525".into(),
            version: "0.1.0".into(),
            started_at: 1_700_000_000,
            heartbeat: 1_700_000_000,
        };
        store.node_heartbeat(&node).await.unwrap();
        node.heartbeat += 10;
        store.node_heartbeat(&node).await.unwrap();
        assert_eq!(store.nodes().await.unwrap(), [node]);
    }
}

#[tokio::test]
async fn a_migration_that_fails_on_sqlite_leaves_nothing_of_itself() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("havre.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    // Migration 13 makes sieve_scripts, then sieve_users, which is in the way.
    sqlx::raw_sql("CREATE TABLE sieve_users (x TEXT)")
        .execute(&mut conn)
        .await
        .unwrap();
    assert!(SqliteStore::open(&path).await.is_err());
    let version: i64 = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(version, 12);
    let scripts: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'sieve_scripts'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(scripts, 0, "half of migration 13 was applied");
}

on_both_engines! {
    async fn a_file_indexed_twice_keeps_its_first_row_and_the_second_is_told_so(engine) {
        // A sync of the folder may index a delivered file before the
        // delivery does: the second insert changes nothing and says so.
        let store = store_with_domain(engine).await;
        let inbox = store
            .mailbox_create("alice@example.test", "INBOX", &MailboxInit::default())
            .await
            .unwrap();
        let (first, _) = store
            .message_insert(inbox.id, &message("new/1", &["\\Seen"]))
            .await
            .unwrap();
        // With its search rows this time: none of them goes in either.
        let with_text = NewMessage {
            text: Some(IndexedText {
                subject: Some("again".into()),
                header: "Subject: again\n".into(),
                body: "again".into(),
                ..Default::default()
            }),
            ..message("new/1", &[])
        };
        let again = store.message_insert(inbox.id, &with_text).await;
        assert!(matches!(again, Err(StoreError::AlreadyExists(_))), "{again:?}");
        let listed = store.message_list(inbox.id).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].uid, first);
        assert!(listed[0].flags.iter().any(|f| f == "\\Seen"));
        let (next, _) = store
            .message_insert(inbox.id, &message("new/2", &[]))
            .await
            .unwrap();
        assert!(next > first);
        assert_eq!(store.message_list(inbox.id).await.unwrap().len(), 2);
    }
}
