use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::thread;
use std::time::Duration;

use super::*;

/// A stand-in for the disk: `written` counts writes made, `durable` the
/// highest write a finished sync covered (what was written when it began).
#[derive(Default)]
struct Disk {
    written: AtomicU64,
    durable: AtomicU64,
}

impl Disk {
    fn write(&self) -> u64 {
        self.written.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn fsync(&self, pause: Duration) -> io::Result<()> {
        let covers = self.written.load(Ordering::SeqCst);
        thread::sleep(pause);
        self.durable.fetch_max(covers, Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn sixteen_writers_share_a_few_syncs_and_each_returns_only_once_its_write_is_covered() {
    let group = Arc::new(GroupSync::new());
    let disk = Arc::new(Disk::default());
    let callers = 16;
    let start = Arc::new(Barrier::new(callers));
    let threads: Vec<_> = (0..callers)
        .map(|_| {
            let (group, disk, start) = (group.clone(), disk.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                let mine = disk.write();
                group
                    .sync(|| disk.fsync(Duration::from_millis(30)))
                    .unwrap();
                let durable = disk.durable.load(Ordering::SeqCst);
                assert!(
                    durable >= mine,
                    "returned with write {mine} while only {durable} were synced"
                );
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert!(
        group.runs() < callers as u64,
        "{} syncs for {callers} writers: nothing was shared",
        group.runs()
    );
}

#[test]
fn a_writer_arriving_during_a_sync_waits_for_the_next_one() {
    let group = Arc::new(GroupSync::new());
    let disk = Arc::new(Disk::default());
    let (started_tx, started) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let first = {
        let (group, disk) = (group.clone(), disk.clone());
        thread::spawn(move || {
            disk.write();
            group
                .sync(|| {
                    // This sync began before the second write: it covers one.
                    let covers = disk.written.load(Ordering::SeqCst);
                    started_tx.send(()).unwrap();
                    release_rx.recv().unwrap();
                    disk.durable.fetch_max(covers, Ordering::SeqCst);
                    Ok(())
                })
                .unwrap();
        })
    };
    started.recv().unwrap();
    let second = {
        let (group, disk) = (group.clone(), disk.clone());
        thread::spawn(move || {
            let mine = disk.write();
            group.sync(|| disk.fsync(Duration::ZERO)).unwrap();
            disk.durable.load(Ordering::SeqCst) >= mine
        })
    };
    // Let the second writer reach its wait while the first sync runs.
    thread::sleep(Duration::from_millis(50));
    release.send(()).unwrap();
    first.join().unwrap();
    assert!(
        second.join().unwrap(),
        "the second writer returned on a sync that began before its write"
    );
    assert_eq!(group.runs(), 2);
}

#[test]
fn a_failed_sync_fails_every_writer_waiting_on_it_and_the_next_writers_succeed() {
    let group = Arc::new(GroupSync::new());
    let (release, leader) = held_sync_ending(&group, || Err(io::Error::other("EIO")));
    let waiter = {
        let group = group.clone();
        thread::spawn(move || group.sync(|| Ok(())))
    };
    thread::sleep(Duration::from_millis(50));
    release.send(()).unwrap();
    assert!(leader.join().unwrap().is_err());
    // Its pages may have gone with the failed write-back: the waiter must
    // not hear "on disk" even though its own sync succeeded.
    let waited = waiter.join().unwrap();
    assert!(waited.is_err(), "{waited:?}");
    // A writer that came after the failure is judged by its own sync.
    group.sync(|| Ok(())).unwrap();
}

#[test]
fn directories_are_synced_per_path_and_forgotten_when_idle() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir(&a).unwrap();
    std::fs::create_dir(&b).unwrap();
    let syncs = Syncs::new();
    syncs.sync_dir(&a).unwrap();
    syncs.sync_dir(&b).unwrap();
    assert_eq!(syncs.busy(), 0);
    let missing = syncs.sync_dir(&dir.path().join("gone")).unwrap_err();
    assert_eq!(missing.kind(), io::ErrorKind::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_async_writers_share_a_few_syncs_and_each_returns_only_once_its_write_is_covered() {
    let group = Arc::new(GroupSync::new());
    let disk = Arc::new(Disk::default());
    let callers = 16;
    let writers: Vec<_> = (0..callers)
        .map(|_| {
            let (group, disk) = (group.clone(), disk.clone());
            tokio::spawn(async move {
                let mine = disk.write();
                let syncing = disk.clone();
                group
                    .sync_async(move || syncing.fsync(Duration::from_millis(30)))
                    .await
                    .unwrap();
                let durable = disk.durable.load(Ordering::SeqCst);
                assert!(
                    durable >= mine,
                    "returned with write {mine} while only {durable} were synced"
                );
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    assert!(
        group.runs() < callers as u64,
        "{} syncs for {callers} writers: nothing was shared",
        group.runs()
    );
}

/// A sync under way on a thread of its own, ended by the returned sender.
fn held_sync(group: &Arc<GroupSync>) -> (mpsc::Sender<()>, thread::JoinHandle<io::Result<()>>) {
    held_sync_ending(group, || Ok(()))
}

/// A sync under way on its own thread until released, then ending with
/// what `outcome` says.
fn held_sync_ending(
    group: &Arc<GroupSync>,
    outcome: fn() -> io::Result<()>,
) -> (mpsc::Sender<()>, thread::JoinHandle<io::Result<()>>) {
    let (started_tx, started) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let group = group.clone();
    let held = thread::spawn(move || {
        group.sync(|| {
            started_tx.send(()).unwrap();
            release_rx.recv().unwrap();
            outcome()
        })
    });
    started.recv().unwrap();
    (release, held)
}

#[test]
fn async_writers_wait_without_holding_a_thread_of_the_blocking_pool() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(1)
        .enable_time()
        .build()
        .unwrap();
    let group = Arc::new(GroupSync::new());
    let (release, held) = held_sync(&group);
    runtime.block_on(async {
        let writers: Vec<_> = (0..8)
            .map(|_| {
                let group = group.clone();
                tokio::spawn(async move { group.sync_async(|| Ok(())).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        // The pool's only thread is free while eight writers wait.
        let probe = tokio::task::spawn_blocking(|| ());
        tokio::time::timeout(Duration::from_secs(5), probe)
            .await
            .expect("the waiting writers hold the blocking pool")
            .unwrap();
        assert!(writers.iter().all(|w| !w.is_finished()));
        release.send(()).unwrap();
        for writer in writers {
            writer.await.unwrap().unwrap();
        }
    });
    held.join().unwrap().unwrap();
    assert_eq!(
        group.runs(),
        2,
        "one sync for the eight writers that waited"
    );
}

#[test]
fn a_failed_sync_fails_the_async_writers_waiting_on_it_and_the_next_ones_succeed() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_time()
        .build()
        .unwrap();
    let group = Arc::new(GroupSync::new());
    let (release, leader) = held_sync_ending(&group, || Err(io::Error::other("EIO")));
    runtime.block_on(async {
        let waiter = {
            let group = group.clone();
            tokio::spawn(async move { group.sync_async(|| Ok(())).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        release.send(()).unwrap();
        let waited = waiter.await.unwrap();
        assert!(waited.is_err(), "{waited:?}");
        group.sync_async(|| Ok(())).await.unwrap();
    });
    assert!(leader.join().unwrap().is_err());
}

#[test]
fn a_sync_whose_leader_went_away_still_ends_for_those_waiting_on_it() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_time()
        .build()
        .unwrap();
    let group = Arc::new(GroupSync::new());
    let (release_first, first) = held_sync(&group);
    runtime.block_on(async {
        // Both arrive during the first sync: the next one covers both,
        // and the leader's op is the one that takes long.
        let (leading_tx, leading) = mpsc::channel();
        let (end_tx, end) = mpsc::channel::<()>();
        let leader = {
            let group = group.clone();
            tokio::spawn(async move {
                group
                    .sync_async(move || {
                        leading_tx.send(()).unwrap();
                        end.recv().unwrap();
                        Ok(())
                    })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let waiter = {
            let group = group.clone();
            tokio::spawn(async move { group.sync_async(|| panic!("not the leader")).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        release_first.send(()).unwrap();
        tokio::task::spawn_blocking(move || leading.recv().unwrap())
            .await
            .unwrap();
        leader.abort();
        assert!(leader.await.unwrap_err().is_cancelled());
        end_tx.send(()).unwrap();
        waiter.await.unwrap().unwrap();
    });
    first.join().unwrap().unwrap();
    assert_eq!(group.runs(), 2);
}
