//! A failed login must not tell a guesser whether the account exists: it
//! costs one password verification either way.

use std::sync::Arc;

use havre_directory::*;
use havre_store::{NewUser, SqliteStore, Store};

#[tokio::test]
async fn a_wrong_password_for_nobody_costs_a_verification_as_for_alice() {
    let store = SqliteStore::memory().await.unwrap();
    store.add_domain("example.test").await.unwrap();
    store
        .add_user(&NewUser {
            email: "alice@example.test".into(),
            password_hash: Some(password::hash_password("secret")),
            class: "staff".into(),
            quota: None,
        })
        .await
        .unwrap();
    let dir = Directory::new(Arc::new(store), "+");

    let before = dir.passwords_verified();
    let alice = dir.authenticate("alice@example.test", "guess").await;
    assert!(alice.unwrap().is_none());
    assert_eq!(dir.passwords_verified(), before + 1);

    for nobody in [
        "nobody@example.test",
        "someone@elsewhere.test",
        "not an address",
    ] {
        let before = dir.passwords_verified();
        assert!(dir.authenticate(nobody, "guess").await.unwrap().is_none());
        assert_eq!(
            dir.passwords_verified(),
            before + 1,
            "{nobody}: a failure without a verification answers sooner"
        );
    }
}
