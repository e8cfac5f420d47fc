//! What the store's tests start from: a store with users of
//! `example.test`, and queued messages from a remote sender received in
//! 2023, due at once, with pending recipients.
//!
//! The tests are the `Store` trait's conformance suite: a scenario written
//! in [`on_both_engines!`] runs on SQLite (in memory) and on PostgreSQL (a
//! schema of its own on the machine's server), as `scenario::sqlite` and
//! `scenario::postgres`.

// Each test binary uses its part.
#![allow(dead_code)]

use std::ops::Deref;

use havre_store::{
    NewMessage, NewUser, PostgresStore, QueueEntry, QueueRecipient, RecipientStatus, SqliteStore,
    Store,
};
use havre_testkit::cluster::PostgresSchema;

/// The engines a scenario of [`on_both_engines!`] runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A store under test, and what keeps it (its PostgreSQL schema, dropped
/// after the store closes).
pub struct TestStore {
    store: Box<dyn Store>,
    _schema: Option<PostgresSchema>,
}

impl Deref for TestStore {
    type Target = dyn Store;

    fn deref(&self) -> &(dyn Store + 'static) {
        &*self.store
    }
}

/// An empty store on `engine`, migrated to the current schema.
pub async fn empty(engine: Engine) -> TestStore {
    match engine {
        Engine::Sqlite => TestStore {
            store: Box::new(SqliteStore::memory().await.unwrap()),
            _schema: None,
        },
        Engine::Postgres => {
            let schema = PostgresSchema::create().await.unwrap();
            let store = PostgresStore::open(schema.url()).await.unwrap();
            TestStore {
                store: Box::new(store),
                _schema: Some(schema),
            }
        }
    }
}

/// A store on `engine` with the domain `example.test` and these users.
pub async fn store_on(engine: Engine, emails: &[&str]) -> TestStore {
    let store = empty(engine).await;
    store.add_domain("example.test").await.unwrap();
    for email in emails {
        store.add_user(&user(email)).await.unwrap();
    }
    store
}

/// Scenarios written once, each run on both engines (a module per
/// scenario, a test per engine); `$engine` names the [`Engine`] in the body.
#[macro_export]
macro_rules! on_both_engines {
    ($(async fn $name:ident($engine:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                let $engine = $crate::common::Engine::Sqlite;
                $body
            }

            #[tokio::test]
            async fn postgres() {
                let $engine = $crate::common::Engine::Postgres;
                $body
            }
        }
    )*};
}

/// An in-memory store with the domain `example.test` and these users.
pub async fn store_with_users(emails: &[&str]) -> SqliteStore {
    let store = SqliteStore::memory().await.unwrap();
    store.add_domain("example.test").await.unwrap();
    for email in emails {
        store.add_user(&user(email)).await.unwrap();
    }
    store
}

/// A user of the default class, without password nor quota.
pub fn user(email: &str) -> NewUser {
    NewUser {
        email: email.into(),
        password_hash: None,
        class: "default".into(),
        quota: None,
    }
}

/// A queued message `id` from `sender` to `recipients`, all pending.
/// A message file to index: 10 bytes, no flags, no search text.
pub fn new_message(file: &str) -> NewMessage {
    NewMessage {
        file: file.into(),
        size: 10,
        internal_date: 1_700_000_000,
        flags: Vec::new(),
        cache: None,
        uid: None,
        text: None,
    }
}

pub fn queued(id: &str, sender: &str, recipients: Vec<QueueRecipient>) -> QueueEntry {
    QueueEntry {
        id: id.into(),
        sender: sender.into(),
        size: 1234,
        arrival: 1_700_000_000,
        client: "mx.remote.test[192.0.2.1]".into(),
        protocol: "ESMTP".into(),
        attempts: 0,
        next_attempt: 1_700_000_000,
        hold: false,
        hold_reason: None,
        warned: false,
        node: 0,
        recipients,
    }
}

/// Recipient number `idx`, pending, sent to `address` (for `orig`'s RCPT).
pub fn pending(idx: i64, address: &str, orig: Option<String>) -> QueueRecipient {
    QueueRecipient {
        idx,
        address: address.into(),
        orig,
        status: RecipientStatus::Pending,
        last_reply: None,
    }
}
