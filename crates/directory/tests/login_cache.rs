//! A reconnect storm after a restart: the same user logging in again within
//! `auth.cache_ttl` costs no second password hash, but a changed password,
//! a wrong one or a disabled account are never answered from the cache.

mod common;

use std::sync::Arc;
use std::time::Duration;

use havre_directory::*;
use havre_store::{SqliteStore, Store, UserChanges};

const ALICE: &str = "alice@example.test";

async fn directory() -> (Directory, Arc<SqliteStore>) {
    let store = common::store_with(&[ALICE]).await;
    let directory = Directory::new(store.clone(), "+").with_login_cache(Duration::from_secs(60));
    (directory, store)
}

/// Logs in; whether it was accepted and how many hashes it cost.
async fn login(directory: &Directory, email: &str, password: &str) -> (bool, u64) {
    let before = directory.passwords_verified();
    let accepted = directory
        .authenticate(email, password)
        .await
        .unwrap()
        .is_some();
    (accepted, directory.passwords_verified() - before)
}

#[tokio::test]
async fn logging_in_again_costs_no_hash_until_the_password_changes() {
    let (directory, store) = directory().await;
    assert_eq!(login(&directory, ALICE, "secret").await, (true, 1));
    for _ in 0..5 {
        assert_eq!(login(&directory, ALICE, "secret").await, (true, 0));
    }
    // The address is the user's whatever its case.
    assert_eq!(
        login(&directory, "Alice@Example.TEST", "secret").await,
        (true, 0)
    );

    let new_hash = password::hash_password("new secret");
    store.set_password(ALICE, Some(&new_hash)).await.unwrap();
    assert_eq!(login(&directory, ALICE, "secret").await, (false, 1));
    assert_eq!(login(&directory, ALICE, "new secret").await, (true, 1));
    assert_eq!(login(&directory, ALICE, "new secret").await, (true, 0));
}

#[tokio::test]
async fn wrong_passwords_and_unknown_users_always_cost_a_hash() {
    let (directory, _store) = directory().await;
    assert_eq!(login(&directory, ALICE, "secret").await, (true, 1));
    for _ in 0..3 {
        assert_eq!(login(&directory, ALICE, "guess").await, (false, 1));
        assert_eq!(
            login(&directory, "bob@example.test", "secret").await,
            (false, 1)
        );
    }
}

#[tokio::test]
async fn a_disabled_account_is_refused_even_with_remembered_credentials() {
    let (directory, store) = directory().await;
    assert_eq!(login(&directory, ALICE, "secret").await, (true, 1));
    store
        .modify_user(
            ALICE,
            &UserChanges {
                disabled: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!login(&directory, ALICE, "secret").await.0);
}

#[tokio::test]
async fn without_the_cache_every_login_hashes() {
    let (_, store) = directory().await;
    let directory = Directory::new(store, "+");
    assert_eq!(login(&directory, ALICE, "secret").await, (true, 1));
    assert_eq!(login(&directory, ALICE, "secret").await, (true, 1));
}
