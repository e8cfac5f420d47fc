//! A full disk must never turn into acknowledged writes that vanish.
//!
//! The database lives on a tmpfs of a few megabytes (the test mounts it: root
//! only). Inserts run until the disk is full; each one that said Ok must be
//! readable by another connection, and once space is back the same store
//! commits again and other processes (the CLI) can write.

mod common;
use havre_store::*;
use havre_testkit::SmallDisk;

fn entry(n: usize) -> QueueEntry {
    common::queued(
        &format!("{n:016X}"),
        "x@remote.test",
        (0..4)
            .map(|idx| {
                let orig = Some(format!("list-{n}-{}@example.test", "x".repeat(200)));
                common::pending(
                    idx,
                    &format!("user{idx}-with-a-long-enough-name@example.test"),
                    orig,
                )
            })
            .collect(),
    )
}

#[tokio::test]
async fn a_full_disk_refuses_queue_records_and_the_store_recovers_when_space_is_back() {
    let disk = SmallDisk::mount("4m");
    let path = disk.path().join("havre.db");
    let store = SqliteStore::open(&path).await.unwrap();
    store.add_domain("example.test").await.unwrap();

    disk.fill(0);
    let mut acknowledged = Vec::new();
    let mut full_errors = 0;
    for n in 0..20_000 {
        match store.queue_insert(&entry(n), None).await {
            Ok(()) => acknowledged.push(entry(n).id),
            Err(err) => {
                assert!(err.is_storage_full(), "a full disk must say so: {err}");
                full_errors += 1;
                if full_errors == 5 {
                    break;
                }
            }
        }
    }
    assert_eq!(full_errors, 5, "the disk never filled up");

    disk.free();
    // Service resumes by itself: the same store, no restart.
    store.queue_insert(&entry(100_000), None).await.unwrap();
    acknowledged.push(entry(100_000).id);

    // Another process (the CLI) can write, and sees every acknowledged record.
    let cli = SqliteStore::open(&path).await.unwrap();
    cli.add_domain("after.test").await.unwrap();
    let queued: Vec<String> = cli
        .queue_list()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    for id in &acknowledged {
        assert!(
            queued.contains(id),
            "{id} was acknowledged but is not in the queue ({} acknowledged, {} queued)",
            acknowledged.len(),
            queued.len()
        );
    }
    assert!(cli.domain_exists("after.test").await.unwrap());
    drop(store);
}
