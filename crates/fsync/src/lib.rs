//! One fsync for many waiters ("group sync").
//!
//! A writer that has finished its `write`/`rename`/`link` and needs it on
//! disk asks for a sync of the file or directory. fsync(2) flushes whatever
//! the inode holds when it *starts*, so any sync that began after the
//! writer's call returned covers it. [`GroupSync::sync`] returns once such a
//! sync has completed: if one is already running, the caller waits for it
//! to end and for the next one, which a single waiter (the leader) runs for
//! everyone who arrived meanwhile. Twenty sessions that finish their writes
//! while one fsync is under way cost two fsyncs, not twenty.
//!
//! A failed sync fails every caller that was waiting when it ended, not
//! only those it was meant to cover: a sync running when a caller wrote
//! may have taken its pages into a write-back that failed, and Linux marks
//! such pages clean, so a later successful fsync would not prove them on
//! disk. Nobody answers "on disk" after an fsync error it might depend on.
//!
//! [`Syncs`] keeps one [`GroupSync`] per path (a spool directory, each
//! Maildir folder's `new/`); [`sync_dir`] and [`sync_file`] use one shared by
//! the whole process. The calls block: async callers run them in
//! `spawn_blocking`, or use [`GroupSync::sync_async`], whose waiters hold no
//! thread while they wait (twenty waiters would otherwise park twenty
//! threads of the blocking pool, each woken and switched to at the end).

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

use tokio::sync::Notify;

/// Syncs of one file or directory, shared by concurrent callers.
#[derive(Default)]
pub struct GroupSync {
    state: Mutex<State>,
    /// Wakes the blocking callers when a run ends.
    finished: Condvar,
    /// Wakes the async callers when a run ends.
    ended: Notify,
    runs: AtomicU64,
}

#[derive(Default)]
struct State {
    /// Sequence number of the last sync that started.
    started: u64,
    /// Sequence number of the last sync that ended.
    finished: u64,
    running: bool,
    /// The last sync that failed (0: none) and how.
    failed: u64,
    error: Option<(io::ErrorKind, String)>,
}

impl GroupSync {
    pub fn new() -> GroupSync {
        GroupSync::default()
    }

    /// Returns `Ok` once a run of `op` that started after this call has
    /// succeeded (and none failed since this call). `op` is the fsync
    /// itself; it runs on one caller's thread for every caller waiting.
    pub fn sync(&self, op: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
        let mut state = self.lock();
        let turn = state.turn();
        let seq = loop {
            match state.next_step(turn) {
                Step::Done(outcome) => return outcome,
                Step::Lead(seq) => break seq,
                Step::Wait => {
                    state = self
                        .finished
                        .wait(state)
                        .unwrap_or_else(|poison| poison.into_inner())
                }
            }
        };
        drop(state);
        self.lead(seq, op)?;
        // A sync that failed while this caller waited may have lost its pages.
        self.lock().outcome_after(turn.seen)
    }

    /// [`GroupSync::sync`] for async callers, with the same guarantee:
    /// waiters await the end of the run under way without holding a
    /// thread, and the leader runs `op` on tokio's blocking pool. That run
    /// goes on to its end even if the leader's caller goes away, since the
    /// others wait for it.
    pub async fn sync_async<F>(self: &Arc<Self>, op: F) -> io::Result<()>
    where
        F: FnOnce() -> io::Result<()> + Send + 'static,
    {
        let turn = self.lock().turn();
        loop {
            // Registered before the state is read: a run that ends after
            // the read wakes this caller.
            let mut ended = pin!(self.ended.notified());
            ended.as_mut().enable();
            let step = self.lock().next_step(turn);
            match step {
                Step::Done(outcome) => return outcome,
                Step::Lead(seq) => {
                    let group = Arc::clone(self);
                    tokio::task::spawn_blocking(move || group.lead(seq, op))
                        .await
                        // The run ended as failed: see `Run::drop`.
                        .map_err(|panic| {
                            io::Error::other(format!("the fsync panicked: {panic}"))
                        })??;
                    return self.lock().outcome_after(turn.seen);
                }
                Step::Wait => ended.await,
            }
        }
    }

    /// Runs `op` as run `seq` and ends that run, for the leader's caller
    /// and everyone waiting.
    fn lead(&self, seq: u64, op: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
        let mut run = Run {
            group: self,
            seq,
            result: None,
        };
        self.runs.fetch_add(1, Ordering::Relaxed);
        let result = op();
        run.result = Some(match &result {
            Ok(()) => Ok(()),
            Err(err) => Err((err.kind(), err.to_string())),
        });
        drop(run);
        result
    }

    /// How many times `op` ran: fewer than the callers when they shared.
    pub fn runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

/// Where a caller stands: the first run that covers it is `wanted` (the
/// next to start when it called), and any run that ended after `seen` may
/// have had its pages in a failed write-back.
#[derive(Clone, Copy)]
struct Turn {
    wanted: u64,
    seen: u64,
}

enum Step {
    Done(io::Result<()>),
    /// Run number `seq` is this caller's to run.
    Lead(u64),
    Wait,
}

impl State {
    fn turn(&self) -> Turn {
        Turn {
            wanted: self.started + 1,
            seen: self.finished,
        }
    }

    fn next_step(&mut self, turn: Turn) -> Step {
        if self.finished >= turn.wanted {
            return Step::Done(self.outcome_after(turn.seen));
        }
        if self.running {
            return Step::Wait;
        }
        self.started += 1;
        self.running = true;
        Step::Lead(self.started)
    }

    fn outcome_after(&self, seen: u64) -> io::Result<()> {
        match &self.error {
            Some((kind, text)) if self.failed > seen => Err(io::Error::new(
                *kind,
                format!("an fsync shared with other writers failed: {text}"),
            )),
            _ => Ok(()),
        }
    }
}

/// The leader's run: ends it (success, error, or a panic in `op`) and
/// wakes the waiters.
struct Run<'a> {
    group: &'a GroupSync,
    seq: u64,
    result: Option<Result<(), (io::ErrorKind, String)>>,
}

impl Drop for Run<'_> {
    fn drop(&mut self) {
        let mut state = self.group.lock();
        state.finished = self.seq;
        state.running = false;
        let outcome = self
            .result
            .take()
            .unwrap_or_else(|| Err((io::ErrorKind::Other, "the fsync panicked".into())));
        if let Err(error) = outcome {
            state.failed = self.seq;
            state.error = Some(error);
        }
        drop(state);
        self.group.finished.notify_all();
        self.group.ended.notify_waiters();
    }
}

/// One [`GroupSync`] per path, kept while someone uses it.
#[derive(Default)]
pub struct Syncs {
    groups: Mutex<HashMap<PathBuf, Arc<GroupSync>>>,
}

impl Syncs {
    pub fn new() -> Syncs {
        Syncs::default()
    }

    /// fsyncs the directory `dir`, which makes the names created, renamed,
    /// linked or removed in it durable; shared with concurrent callers.
    pub fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.sync_path(dir)
    }

    /// fsyncs the file at `path` (opened read-only: fsync flushes the
    /// inode, whichever descriptor asks); shared with concurrent callers.
    pub fn sync_file(&self, path: &Path) -> io::Result<()> {
        self.sync_path(path)
    }

    fn sync_path(&self, path: &Path) -> io::Result<()> {
        let group = {
            let mut groups = self.lock();
            groups
                .entry(path.to_path_buf())
                .or_insert_with(|| Arc::new(GroupSync::new()))
                .clone()
        };
        let result = group.sync(|| File::open(path)?.sync_all());
        let mut groups = self.lock();
        // Ours and the map's: nobody else holds it (clones are only made
        // under this lock), so an idle path costs no memory.
        if Arc::strong_count(&group) == 2 {
            groups.remove(path);
        }
        result
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<PathBuf, Arc<GroupSync>>> {
        self.groups
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Paths with a sync under way or awaited (for tests).
    pub fn busy(&self) -> usize {
        self.lock().len()
    }
}

/// The process's registry: every crate that syncs a given directory
/// shares its syncs with the others.
pub fn global() -> &'static Syncs {
    static GLOBAL: OnceLock<Syncs> = OnceLock::new();
    GLOBAL.get_or_init(Syncs::new)
}

/// [`Syncs::sync_dir`] on the process's registry.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    global().sync_dir(dir)
}

/// [`Syncs::sync_file`] on the process's registry.
pub fn sync_file(path: &Path) -> io::Result<()> {
    global().sync_file(path)
}

#[cfg(test)]
mod tests;
