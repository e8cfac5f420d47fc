//! Users' Sieve scripts as ManageSieve and `havre sieve` keep them.

mod common;

use common::{Engine, TestStore};
use havre_store::*;

const ALICE: &str = "alice@example.test";

async fn store(engine: Engine) -> TestStore {
    common::store_on(engine, &[ALICE]).await
}

on_both_engines! {
    async fn a_user_uploads_two_scripts_and_only_the_one_she_activates_runs(engine) {
        let store = store(engine).await;
        assert_eq!(store.sieve_active(ALICE).await.unwrap(), None);
        store.sieve_put(ALICE, "vacation", "keep;").await.unwrap();
        store.sieve_put(ALICE, "lists", "discard;").await.unwrap();
        assert_eq!(
            store.sieve_active(ALICE).await.unwrap(),
            None,
            "none active yet"
        );
        assert!(store.sieve_activate(ALICE, Some("lists")).await.unwrap());
        assert_eq!(
            store.sieve_active(ALICE).await.unwrap().unwrap().source,
            "discard;"
        );
        // Activating another leaves exactly one active.
        assert!(store.sieve_activate(ALICE, Some("vacation")).await.unwrap());
        let listed = store.sieve_list(ALICE).await.unwrap();
        assert_eq!(
            listed,
            [
                SieveScriptInfo {
                    name: "lists".into(),
                    active: false,
                    size: 8
                },
                SieveScriptInfo {
                    name: "vacation".into(),
                    active: true,
                    size: 5
                },
            ]
        );
        // No such script: nothing changes.
        assert!(!store.sieve_activate(ALICE, Some("nothing")).await.unwrap());
        assert_eq!(
            store.sieve_active(ALICE).await.unwrap().unwrap().name,
            "vacation"
        );
        // Replacing the active script keeps it active, with its new source.
        store.sieve_put(ALICE, "vacation", "stop;").await.unwrap();
        assert_eq!(
            store.sieve_active(ALICE).await.unwrap().unwrap().source,
            "stop;"
        );
        assert_eq!(store.sieve_used(ALICE).await.unwrap(), 8 + 5);
        // Deactivating.
        assert!(store.sieve_activate(ALICE, None).await.unwrap());
        assert_eq!(store.sieve_active(ALICE).await.unwrap(), None);
    }
}

on_both_engines! {
    async fn the_active_script_cannot_be_deleted_and_renames_never_overwrite(engine) {
        let store = store(engine).await;
        store.sieve_put(ALICE, "a", "keep;").await.unwrap();
        store.sieve_put(ALICE, "b", "keep;").await.unwrap();
        store.sieve_activate(ALICE, Some("a")).await.unwrap();
        assert_eq!(
            store.sieve_delete(ALICE, "a").await.unwrap(),
            SieveDeleted::Active
        );
        assert_eq!(
            store.sieve_delete(ALICE, "zz").await.unwrap(),
            SieveDeleted::NoSuchScript
        );
        assert_eq!(
            store.sieve_rename(ALICE, "a", "b").await.unwrap(),
            SieveRenamed::NameTaken
        );
        assert_eq!(
            store.sieve_rename(ALICE, "zz", "c").await.unwrap(),
            SieveRenamed::NoSuchScript
        );
        assert_eq!(
            store.sieve_rename(ALICE, "a", "c").await.unwrap(),
            SieveRenamed::Renamed
        );
        // Renamed, still active.
        assert_eq!(store.sieve_active(ALICE).await.unwrap().unwrap().name, "c");
        assert_eq!(
            store.sieve_delete(ALICE, "b").await.unwrap(),
            SieveDeleted::Deleted
        );
        assert_eq!(store.sieve_get(ALICE, "b").await.unwrap(), None);
    }
}

on_both_engines! {
    async fn every_change_of_a_users_scripts_makes_compiled_copies_stale(engine) {
        let store = store(engine).await;
        store.sieve_put(ALICE, "a", "keep;").await.unwrap();
        store.sieve_activate(ALICE, Some("a")).await.unwrap();
        let first = store.sieve_active(ALICE).await.unwrap().unwrap().changed;
        store.sieve_put(ALICE, "a", "discard;").await.unwrap();
        let second = store.sieve_active(ALICE).await.unwrap().unwrap().changed;
        assert!(second > first);
        store.sieve_rename(ALICE, "a", "b").await.unwrap();
        assert!(store.sieve_active(ALICE).await.unwrap().unwrap().changed > second);
    }
}

on_both_engines! {
    async fn removing_a_user_removes_her_scripts(engine) {
        let store = store(engine).await;
        store.sieve_put(ALICE, "a", "keep;").await.unwrap();
        store.sieve_activate(ALICE, Some("a")).await.unwrap();
        assert!(store.remove_user(ALICE).await.unwrap());
        assert!(store.sieve_list(ALICE).await.unwrap().is_empty());
        assert_eq!(store.sieve_used(ALICE).await.unwrap(), 0);
    }
}

on_both_engines! {
    async fn her_address_entry_says_whether_she_has_an_active_script_and_its_version(engine) {
        let store = store(engine).await;
        let entry = || async { store.address_entry(ALICE, "example.test").await.unwrap() };
        assert_eq!(entry().await.sieve, None);
        store.sieve_put(ALICE, "a", "keep;").await.unwrap();
        assert_eq!(entry().await.sieve, None, "uploaded, not active");
        store.sieve_activate(ALICE, Some("a")).await.unwrap();
        let first = entry().await.sieve.expect("active");
        assert_eq!(
            first,
            store.sieve_active(ALICE).await.unwrap().unwrap().changed
        );
        store.sieve_put(ALICE, "a", "discard;").await.unwrap();
        assert!(entry().await.sieve.unwrap() > first, "a new version");
        store.sieve_activate(ALICE, None).await.unwrap();
        assert_eq!(entry().await.sieve, None);
    }
}

on_both_engines! {
    async fn scripts_activated_at_once_leave_one_active_and_count_every_change(engine) {
        let store = store(engine).await;
        for name in ["a", "b", "c", "d"] {
            store.sieve_put(ALICE, name, "keep;").await.unwrap();
        }
        let before = store.sieve_get(ALICE, "a").await.unwrap().unwrap().changed;
        // On PostgreSQL each on a connection of its own, as from four nodes.
        let activated = tokio::join!(
            store.sieve_activate(ALICE, Some("a")),
            store.sieve_activate(ALICE, Some("b")),
            store.sieve_activate(ALICE, Some("c")),
            store.sieve_activate(ALICE, Some("d")),
        );
        assert!(matches!(activated, (Ok(true), Ok(true), Ok(true), Ok(true))));
        let active: Vec<String> = store
            .sieve_list(ALICE)
            .await
            .unwrap()
            .into_iter()
            .filter(|s| s.active)
            .map(|s| s.name)
            .collect();
        assert_eq!(active.len(), 1);
        let after = store.sieve_active(ALICE).await.unwrap().unwrap();
        assert_eq!(after.name, active[0]);
        assert_eq!(after.changed, before + 4);
    }
}
