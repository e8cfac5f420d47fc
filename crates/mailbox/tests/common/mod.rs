//! What the mailbox tests start from.

use std::sync::Arc;

use havre_store::{NewUser, SqliteStore, Store};

/// An in-memory store with the domain `example.test` and the user `email`
/// (default class, no quota of her own).
pub async fn store_with_user(email: &str) -> Arc<SqliteStore> {
    let store = Arc::new(SqliteStore::memory().await.unwrap());
    store.add_domain("example.test").await.unwrap();
    store
        .add_user(&NewUser {
            email: email.into(),
            password_hash: None,
            class: "default".into(),
            quota: None,
        })
        .await
        .unwrap();
    store
}
