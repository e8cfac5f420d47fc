//! What only the PostgreSQL store has to show: it is shared. Several nodes
//! open one database at once, each sees its own queue, and its schema is
//! versioned as SQLite's is. Each test has its own schema on the machine's
//! server (the test command starts one when none answers).

mod common;

use common::{pending, queued};
use havre_store::*;
use havre_testkit::cluster::PostgresSchema;
use sqlx::Connection;

async fn sql(url: &str, statement: &str) {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_string()))
        .execute(&mut conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn nodes_starting_together_on_an_empty_database_migrate_it_once() {
    let schema = PostgresSchema::create().await.unwrap();
    let (a, b) = tokio::join!(
        PostgresStore::open(schema.url()),
        PostgresStore::open(schema.url())
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.schema_version().await.unwrap(), SCHEMA_VERSION);
    a.add_domain("example.test").await.unwrap();
    assert!(b.domain_exists("example.test").await.unwrap());
    // Reopened: nothing applied again, the data kept.
    drop((a, b));
    let again = PostgresStore::open(schema.url()).await.unwrap();
    assert!(again.domain_exists("example.test").await.unwrap());
}

#[tokio::test]
async fn a_database_newer_than_this_havre_is_refused() {
    let schema = PostgresSchema::create().await.unwrap();
    drop(PostgresStore::open(schema.url()).await.unwrap());
    sql(
        schema.url(),
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)",
    )
    .await;
    match PostgresStore::open(schema.url()).await {
        Err(StoreError::SchemaTooNew { found: 999, known }) => assert_eq!(known, SCHEMA_VERSION),
        Err(other) => panic!("expected SchemaTooNew, got {other}"),
        Ok(_) => panic!("a newer schema was opened"),
    }
}

#[tokio::test]
async fn a_migration_that_fails_leaves_nothing_of_itself() {
    let schema = PostgresSchema::create().await.unwrap();
    // Migration 13 makes sieve_scripts, then sieve_users, which is in the way.
    sql(schema.url(), "CREATE TABLE sieve_users (x TEXT)").await;
    assert!(PostgresStore::open(schema.url()).await.is_err());
    let mut conn = sqlx::PgConnection::connect(schema.url()).await.unwrap();
    let version: i64 = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(version, 12);
    let scripts: Option<String> =
        sqlx::query_scalar("SELECT CAST(to_regclass('sieve_scripts') AS TEXT)")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(scripts, None, "half of migration 13 was applied");
}

#[tokio::test]
async fn each_node_delivers_its_own_queue_and_the_cluster_lists_all() {
    let schema = PostgresSchema::create().await.unwrap();
    let one = PostgresStore::open(schema.url()).await.unwrap().for_node(1);
    let two = PostgresStore::open(schema.url()).await.unwrap().for_node(2);
    let mut first = queued(
        "A01",
        "a@remote.test",
        vec![pending(0, "x@example.test", None)],
    );
    first.node = 1;
    let mut second = queued(
        "B02",
        "b@remote.test",
        vec![pending(0, "y@example.test", None)],
    );
    second.node = 2;
    second.size = 4096;
    one.queue_insert(&first, None).await.unwrap();
    two.queue_insert(&second, None).await.unwrap();

    let ids = |entries: Vec<QueueEntry>| entries.into_iter().map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(ids(one.queue_due(i64::MAX, 10).await.unwrap()), ["A01"]);
    assert_eq!(ids(two.queue_due(i64::MAX, 10).await.unwrap()), ["B02"]);
    assert_eq!(ids(one.queue_list().await.unwrap()), ["A01"]);
    assert_eq!(one.queue_summary().await.unwrap().new, 1);
    assert_eq!(
        ids(two.queue_list_all_nodes().await.unwrap()),
        ["A01", "B02"]
    );
    let by_node = one.queue_summary_by_node().await.unwrap();
    assert_eq!(
        by_node
            .iter()
            .map(|(n, s)| (*n, s.new, s.bytes))
            .collect::<Vec<_>>(),
        [(1, 1, 1234), (2, 1, 4096)]
    );
    // A reschedule of "everything" is the node's own.
    assert_eq!(one.queue_reschedule(None, 5, false).await.unwrap(), 1);
}

#[tokio::test]
async fn a_failover_pair_in_the_url_moves_to_the_host_that_answers() {
    let schema = PostgresSchema::create().await.unwrap();
    let first = havre_testkit::CutProxy::start(schema.server_address());
    let second = havre_testkit::CutProxy::start(schema.server_address());
    let one = format!("127.0.0.1:{}", first.port());
    let both = format!("{one},127.0.0.1:{}", second.port());
    let url = schema.url_through(first.port()).replacen(&one, &both, 1)
        + "&target_session_attrs=read-write";
    let store = PostgresStore::open(&url).await.unwrap();
    store.add_domain("example.test").await.unwrap();
    // The first host goes away: within a few checks the store writes to the
    // second, without being opened again.
    first.cut();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        match store.add_domain("after.test").await {
            Ok(()) => break,
            Err(err) => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "never moved to the second host: {err}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    }
    assert!(store.domain_exists("example.test").await.unwrap());
    // A URL naming only hosts that do not answer: opening says so.
    second.cut();
    let refused = PostgresStore::open(&url).await;
    assert!(refused.is_err(), "opened with no host answering");
}

#[tokio::test]
async fn a_target_session_attrs_havre_does_not_know_is_refused() {
    let schema = PostgresSchema::create().await.unwrap();
    let url = format!("{}&target_session_attrs=prefer-standby", schema.url());
    match PostgresStore::open(&url).await {
        Err(err) => assert!(
            err.to_string()
                .contains("target_session_attrs=prefer-standby"),
            "{err}"
        ),
        Ok(_) => panic!("opened"),
    }
}

#[tokio::test]
async fn a_url_with_sslmode_gets_tls_and_one_on_loopback_without_goes_plain() {
    let schema = PostgresSchema::create().await.unwrap();
    // The test server offers TLS (scripts/test starts it so, as Debian's
    // package does); loopback without sslmode: none.
    let plain = PostgresStore::open(schema.url()).await.unwrap();
    assert!(!plain.connection_encrypted().await.unwrap());
    let url = format!("{}&sslmode=require", schema.url());
    let encrypted = PostgresStore::open(&url).await.unwrap();
    assert!(encrypted.connection_encrypted().await.unwrap());
    encrypted.add_domain("example.test").await.unwrap();
    assert!(plain.domain_exists("example.test").await.unwrap());
}

/// A store on a schema of its own with alice's INBOX (kept with it).
async fn store_with_inbox() -> (PostgresSchema, std::sync::Arc<PostgresStore>, MailboxRecord) {
    let schema = PostgresSchema::create().await.unwrap();
    let store = std::sync::Arc::new(PostgresStore::open(schema.url()).await.unwrap());
    store.add_domain("example.test").await.unwrap();
    let inbox = store
        .mailbox_create("alice@example.test", "INBOX", &MailboxInit::default())
        .await
        .unwrap();
    (schema, store, inbox)
}

/// 40 deliveries into one mailbox at once, from `store`: their UIDs, sorted.
async fn forty_at_once(
    store: &std::sync::Arc<PostgresStore>,
    inbox: i64,
    bad: Option<usize>,
) -> Vec<Result<(u32, u64)>> {
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let store = store.clone();
            // A NUL byte: PostgreSQL refuses it in a TEXT value.
            let file = if Some(i) == bad {
                "new/bad\0name".to_string()
            } else {
                format!("new/{i}")
            };
            // Each with its search text, as a delivery has.
            let message = NewMessage {
                text: Some(IndexedText {
                    subject: Some(format!("letter {i}")),
                    from: Some("bob@remote.test".into()),
                    header: format!("Subject: letter {i}\n"),
                    body: format!("body of letter {i}"),
                    fields: Some(format!("Subject: letter {i}\r\n").into_bytes()),
                    ..Default::default()
                }),
                ..common::new_message(&file)
            };
            tokio::spawn(async move { store.message_insert(inbox, &message).await })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deliveries_into_one_mailbox_at_once_share_transactions_and_each_keeps_its_uid() {
    let (schema, store, inbox) = store_with_inbox().await;
    let results = forty_at_once(&store, inbox.id, None).await;
    let mut uids: Vec<u32> = results.iter().map(|r| r.as_ref().unwrap().0).collect();
    let mut modseqs: Vec<u64> = results.iter().map(|r| r.as_ref().unwrap().1).collect();
    uids.sort();
    modseqs.sort();
    modseqs.dedup();
    assert_eq!(uids, (1..=40).collect::<Vec<u32>>());
    assert_eq!(modseqs.len(), 40, "a mod-sequence was given twice");
    let after = store.mailbox_by_id(inbox.id).await.unwrap().unwrap();
    assert_eq!(
        (after.uidnext, after.highestmodseq),
        (41, inbox.highestmodseq + 40)
    );
    // Rows written by one transaction carry its id (xmin): 40 deliveries
    // that waited for each other's turn went in fewer transactions.
    let mut conn = sqlx::PgConnection::connect(schema.url()).await.unwrap();
    let transactions: i64 =
        sqlx::query_scalar("SELECT COUNT(DISTINCT xmin::TEXT) FROM messages WHERE mailbox_id = $1")
            .bind(inbox.id)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(
        transactions < 40,
        "{transactions} transactions for 40 deliveries"
    );
    // Their search rows went with them, each its own.
    let searchable: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM message_headers h JOIN message_texts t USING (mailbox_id, uid)
         JOIN messages m USING (mailbox_id, uid)
         WHERE h.mailbox_id = $1 AND m.file = 'new/' || substr(h.subject, 8)
           AND t.body = 'body of ' || h.subject AND h.addr_from = 'bob@remote.test'",
    )
    .bind(inbox.id)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(searchable, 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_delivery_the_server_refuses_fails_alone_among_those_indexed_with_it() {
    let (_schema, store, inbox) = store_with_inbox().await;
    let results = forty_at_once(&store, inbox.id, Some(20)).await;
    for (i, result) in results.iter().enumerate() {
        if i == 20 {
            assert!(matches!(result, Err(StoreError::Database(_))), "{result:?}");
        } else {
            assert!(result.is_ok(), "delivery {i}: {result:?}");
        }
    }
    assert_eq!(store.message_list(inbox.id).await.unwrap().len(), 39);
}

#[tokio::test]
async fn a_delivery_s_index_call_commits_without_waiting_for_the_disk_and_only_its_own() {
    // The mailbox's row is locked by the call: its commit must not hold the
    // lock through the WAL flush (the caller's next statement waits for
    // that), and the setting must end with the call's transaction.
    let (schema, _store, inbox) = store_with_inbox().await;
    let mut conn = sqlx::PgConnection::connect(schema.url()).await.unwrap();
    let setting = "SELECT current_setting('synchronous_commit')";
    sqlx::raw_sql("BEGIN").execute(&mut conn).await.unwrap();
    let (ordinal, indexed): (i32, String) = sqlx::query_as(
        "SELECT ordinal, indexed FROM havre_deliver(NULL, NULL, NULL, NULL, NULL, NULL, NULL,
             ARRAY[$1::BIGINT], ARRAY['new/1'],
             ARRAY[10::BIGINT], ARRAY[0::BIGINT], ARRAY[''], ARRAY[NULL::TEXT],
             ARRAY[NULL::BIGINT], ARRAY[FALSE], ARRAY[NULL::TEXT], ARRAY[NULL::TEXT],
             ARRAY[NULL::TEXT], ARRAY[NULL::TEXT], ARRAY[NULL::TEXT], ARRAY[NULL::BYTEA],
             ARRAY[NULL::TEXT], ARRAY[NULL::TEXT])",
    )
    .bind(inbox.id)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!((ordinal, indexed.as_str()), (1, "new"));
    let during: String = sqlx::query_scalar(setting)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(during, "off");
    sqlx::raw_sql("COMMIT").execute(&mut conn).await.unwrap();
    let after: String = sqlx::query_scalar(setting)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(after, "on");
}

#[tokio::test]
async fn message_texts_and_queued_bodies_are_compressed_with_lz4_where_the_server_has_it() {
    // pglz, the default, took three times lz4's time to write a message's
    // search text: the column's method says which the schema chose.
    let (schema, _store, _inbox) = store_with_inbox().await;
    let mut conn = sqlx::PgConnection::connect(schema.url()).await.unwrap();
    let methods: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT c.relname::TEXT, a.attname::TEXT, a.attcompression::TEXT
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
             WHERE c.relnamespace = current_schema()::regnamespace
               AND (c.relname, a.attname) IN (('message_texts', 'header'),
                                              ('message_texts', 'body'),
                                              ('queue_bodies', 'body'))
             ORDER BY 1, 2",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let lz4 = |table: &str, column: &str| (table.to_string(), column.to_string(), "l".to_string());
    assert_eq!(
        methods,
        vec![
            lz4("message_texts", "body"),
            lz4("message_texts", "header"),
            lz4("queue_bodies", "body"),
        ]
    );
}

/// The end of a relay attempt that delivered `id`'s one recipient into
/// `inbox` as `file`.
async fn deliver_queued(store: &PostgresStore, inbox: i64, id: &str, file: &str) {
    let finished = store
        .queue_finish_attempt(
            &AttemptOutcome {
                id: id.into(),
                updates: vec![RecipientUpdate {
                    idx: 0,
                    status: RecipientStatus::Sent,
                    reply: "250 2.0.0 delivered".into(),
                }],
                next_attempt: 0,
            },
            &[DeliveredRow {
                mailbox_id: inbox,
                message: common::new_message(file),
            }],
        )
        .await
        .unwrap();
    assert!(finished.removed, "{id} stayed queued");
}

/// Queues a message for alice as `id`.
async fn queue_for_alice(store: &PostgresStore, id: &str) {
    let recipients = vec![pending(0, "alice@example.test", None)];
    store
        .queue_insert(
            &queued(id, "bob@remote.test", recipients),
            Some(b"Subject: hi\r\n\r\nhi\r\n"),
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_deliveries_ending_while_mail_is_received_ride_on_the_records_commits() {
    // On one SMTP connection, a message's delivery used to flush the WAL
    // itself, then the next message's insert flushed it again: two flushes
    // a message where SQLite shares one.
    let (_schema, store, inbox) = store_with_inbox().await;
    let receiving = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sessions: Vec<_> = (0..4)
        .map(|session| {
            let (store, receiving) = (store.clone(), receiving.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while receiving.load(std::sync::atomic::Ordering::Relaxed) {
                    queue_for_alice(&store, &format!("S{session}M{n}")).await;
                    n += 1;
                }
            })
        })
        .collect();
    for i in 0..20 {
        let id = format!("D{i}");
        queue_for_alice(&store, &id).await;
        deliver_queued(&store, inbox.id, &id, &format!("new/{i}")).await;
    }
    receiving.store(false, std::sync::atomic::Ordering::Relaxed);
    for session in sessions {
        session.await.unwrap();
    }
    // Each waits up to 10 ms for an insert to start; one that found none
    // (this machine stalled) ran its flush.
    let flushes = store.flushes_run();
    assert!(flushes < 10, "20 deliveries ran {flushes} flushes");
    assert_eq!(store.message_list(inbox.id).await.unwrap().len(), 20);
}

#[tokio::test]
async fn a_relay_delivery_with_no_mail_being_received_runs_its_flush_at_once() {
    let (_schema, store, inbox) = store_with_inbox().await;
    queue_for_alice(&store, "Q1").await;
    // Long enough after the insert that nobody expects another.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    deliver_queued(&store, inbox.id, "Q1", "new/1").await;
    assert_eq!(store.flushes_run(), 1);
    assert!(store.queue_get("Q1").await.unwrap().is_none());
}

#[tokio::test]
async fn a_record_removed_or_delivered_takes_its_recipients_and_body_with_it() {
    // Nothing references a record (migration 22): its removal must.
    let (schema, store, inbox) = store_with_inbox().await;
    queue_for_alice(&store, "GONE1").await;
    queue_for_alice(&store, "GONE2").await;
    queue_for_alice(&store, "KEPT").await;
    assert!(store.queue_remove("GONE1").await.unwrap());
    deliver_queued(&store, inbox.id, "GONE2", "new/1").await;
    let mut conn = sqlx::PgConnection::connect(schema.url()).await.unwrap();
    let left: Vec<(String, String)> = sqlx::query_as(
        "SELECT 'recipient', queue_id FROM queue_recipients
         UNION ALL SELECT 'body', queue_id FROM queue_bodies ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        left,
        [
            ("body".into(), "KEPT".into()),
            ("recipient".into(), "KEPT".into())
        ]
    );
    // The same id queued again (a record restored by hand) starts clean.
    queue_for_alice(&store, "GONE1").await;
    let again = store.queue_get("GONE1").await.unwrap().unwrap();
    assert_eq!(again.recipients.len(), 1);
}

/// Asks `store` for `address`'s entry until `done` says yes, for at most
/// `within`; the last entry read.
async fn entry_until(
    store: &PostgresStore,
    address: &str,
    within: std::time::Duration,
    done: impl Fn(&AddressEntry) -> bool,
) -> AddressEntry {
    let deadline = std::time::Instant::now() + within;
    loop {
        let entry = store.address_entry(address, "example.test").await.unwrap();
        if done(&entry) || std::time::Instant::now() > deadline {
            return entry;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Two nodes on one schema, with alice a user of both: node `a` serves her
/// entry from memory by the time it returns.
async fn alice_kept_by_a(url: &str, url_of_a: &str) -> (PostgresStore, PostgresStore) {
    let a = PostgresStore::open(url_of_a).await.unwrap();
    let b = PostgresStore::open(url).await.unwrap();
    b.add_domain("example.test").await.unwrap();
    b.add_user(&common::user("alice@example.test"))
        .await
        .unwrap();
    let served = || a.entries_served_from_memory();
    // The first lookup starts the node's listener; what is read once it
    // listens is kept.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while served() == 0 && std::time::Instant::now() < deadline {
        let entry = a
            .address_entry("alice@example.test", "example.test")
            .await
            .unwrap();
        assert!(entry.user);
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(served() > 0, "alice's entry is never served from memory");
    (a, b)
}

#[tokio::test]
async fn a_recipient_read_again_costs_no_query_until_another_node_removes_her() {
    let schema = PostgresSchema::create().await.unwrap();
    let (a, b) = alice_kept_by_a(schema.url(), schema.url()).await;
    let before = a.entries_served_from_memory();
    for _ in 0..10 {
        a.address_entry("alice@example.test", "example.test")
            .await
            .unwrap();
    }
    assert_eq!(a.entries_served_from_memory(), before + 10);

    assert!(b.remove_user("alice@example.test").await.unwrap());
    let seen = entry_until(
        &a,
        "alice@example.test",
        std::time::Duration::from_secs(2),
        |e| !e.user,
    )
    .await;
    assert!(
        !seen.user,
        "node a still delivers to alice after b removed her"
    );
}

#[tokio::test]
async fn a_change_made_by_hand_in_the_database_is_heard_and_one_of_the_node_s_own_at_once() {
    let schema = PostgresSchema::create().await.unwrap();
    let (a, _b) = alice_kept_by_a(schema.url(), schema.url()).await;
    // The node's own change: seen by the next lookup, no waiting.
    a.add_alias("alice@example.test", &["archive@example.test".to_string()])
        .await
        .unwrap();
    let entry = a
        .address_entry("alice@example.test", "example.test")
        .await
        .unwrap();
    assert_eq!(entry.aliases, ["archive@example.test"]);
    // An operator's psql session.
    sql(
        schema.url(),
        "UPDATE aliases SET target = 'records@example.test' WHERE address = 'alice@example.test'",
    )
    .await;
    let seen = entry_until(
        &a,
        "alice@example.test",
        std::time::Duration::from_secs(2),
        |e| e.aliases == ["records@example.test"],
    )
    .await;
    assert_eq!(seen.aliases, ["records@example.test"]);
}

#[tokio::test]
async fn a_change_made_while_the_node_cannot_hear_is_not_missed_when_it_can_again() {
    let schema = PostgresSchema::create().await.unwrap();
    let proxy = havre_testkit::CutProxy::start(schema.server_address());
    let (a, b) = alice_kept_by_a(schema.url(), &schema.url_through(proxy.port())).await;
    // Every connection of node a is cut, its listener's with them; alice
    // is removed meanwhile, and the notification goes to nobody.
    proxy.cut();
    assert!(b.remove_user("alice@example.test").await.unwrap());
    b.add_user(&common::user("postmaster@example.test"))
        .await
        .unwrap();
    proxy.restore();
    // Node a listens again once it serves entries from memory again
    // (the postmaster's, kept at the first read after it is back).
    let served = a.entries_served_from_memory();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while a.entries_served_from_memory() == served {
        assert!(
            std::time::Instant::now() < deadline,
            "node a never listens again"
        );
        let _ = a
            .address_entry("postmaster@example.test", "example.test")
            .await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let entry = a
        .address_entry("alice@example.test", "example.test")
        .await
        .unwrap();
    assert!(
        !entry.user,
        "node a served alice's entry kept before the cut"
    );
}
