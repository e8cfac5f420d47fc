//! What the directory's tests start from.

use std::sync::Arc;

use havre_directory::password;
use havre_store::{NewUser, SqliteStore, Store};

/// A store in memory with the domain of each of `users` and each of them,
/// password "secret".
pub async fn store_with(users: &[&str]) -> Arc<SqliteStore> {
    let store = Arc::new(SqliteStore::memory().await.unwrap());
    for email in users {
        let domain = email.rsplit('@').next().unwrap();
        if !store.domain_exists(domain).await.unwrap() {
            store.add_domain(domain).await.unwrap();
        }
        store
            .add_user(&NewUser {
                email: email.to_string(),
                password_hash: Some(password::hash_password("secret")),
                class: "staff".into(),
                quota: None,
            })
            .await
            .unwrap();
    }
    store
}
