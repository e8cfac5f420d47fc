//! The durable copy of the embedded state: a SQLite file of its own.
//!
//! Why not a table in the store: the state is not the node's records. In a
//! cluster it moves to Redis, not to the shared PostgreSQL; its writes (one
//! per new greylist triplet: a spam run makes thousands) must not wait
//! behind queue commits on the store's single writer; it may lose its last
//! writes at a power cut (`synchronous=NORMAL`: a retried greylisting, not a
//! lost message), where the store may not; and an operator can delete the
//! file to start afresh without touching mail.
//!
//! One task owns the connection and applies writes in the order the memory
//! map made them (they are sent under the map's lock), several to a
//! transaction when they queue up; each caller waits for its commit
//! (write-through). Every few seconds, when idle, the task removes expired
//! rows and looks at SQLite's `data_version`: if another process (the
//! `havre ban` command) changed the file, the durable keys in memory are
//! replaced by the file's.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, Row};
use tokio::sync::{mpsc, oneshot};

use crate::clock::{Clock, micros};
use crate::embedded::{Item, Map, Value};
use crate::{Result, StateError};

/// The schema version this code writes (`PRAGMA user_version`).
const SCHEMA: i64 = 1;

/// How often the idle writer looks for expired rows and outside changes.
const TICK: Duration = Duration::from_secs(2);

/// One change to apply.
pub(crate) enum Op {
    Put {
        key: String,
        value: Value,
        expires: Option<i64>,
    },
    Delete(String),
}

struct Request {
    op: Op,
    done: oneshot::Sender<std::result::Result<(), String>>,
}

/// The handle that sends changes to the writer task.
pub(crate) struct Writer {
    tx: mpsc::UnboundedSender<Request>,
    path: PathBuf,
}

/// A change sent, whose commit can be awaited.
pub(crate) struct Pending {
    done: oneshot::Receiver<std::result::Result<(), String>>,
    path: PathBuf,
}

impl Pending {
    pub(crate) async fn wait(self) -> Result<()> {
        match self.done.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(StateError::Database {
                path: self.path.display().to_string(),
                source: sqlx::Error::Protocol(message),
            }),
            Err(_) => Err(StateError::WriterGone),
        }
    }
}

impl Writer {
    /// Queues `op`. Call it while holding the map's lock, so the file sees
    /// changes in the order the map did.
    pub(crate) fn send(&self, op: Op) -> Pending {
        let (done, rx) = oneshot::channel();
        // A send fails only if the task has stopped; the receiver then
        // reports it.
        let _ = self.tx.send(Request { op, done });
        Pending {
            done: rx,
            path: self.path.clone(),
        }
    }
}

fn db_error(path: &Path) -> impl Fn(sqlx::Error) -> StateError + '_ {
    move |source| StateError::Database {
        path: path.display().to_string(),
        source,
    }
}

/// Opens (creating) the file, loads its live rows into `map`, and starts the
/// writer task.
pub(crate) async fn open(
    path: &Path,
    map: Arc<Mutex<Map>>,
    clock: Arc<dyn Clock>,
) -> Result<Writer> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| StateError::Io {
            path: parent.display().to_string(),
            source,
        })?;
    }
    let err = db_error(path);
    let options = SqliteConnectOptions::from_str("sqlite:")
        .map_err(&err)?
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5));
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .map_err(&err)?;
    let version: i64 = sqlx::query_scalar("PRAGMA user_version")
        .fetch_one(&mut conn)
        .await
        .map_err(&err)?;
    if version > SCHEMA {
        return Err(StateError::SchemaTooNew {
            path: path.display().to_string(),
            found: version,
            known: SCHEMA,
        });
    }
    if version < SCHEMA {
        // kind: 0 text, 1 integer; expires_at: microseconds since the
        // epoch, NULL for never.
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS state (
                key        TEXT PRIMARY KEY,
                value      TEXT NOT NULL,
                kind       INTEGER NOT NULL,
                expires_at INTEGER
            ) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS state_expires ON state(expires_at);
            PRAGMA user_version = 1;",
        )
        .execute(&mut conn)
        .await
        .map_err(&err)?;
    }
    let rows = load(&mut conn, micros(clock.now())).await.map_err(&err)?;
    {
        let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
        map.replace_durable(rows);
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let task = Task {
        conn,
        rx,
        map,
        clock,
        path: path.to_owned(),
        data_version: None,
    };
    tokio::spawn(task.run());
    Ok(Writer {
        tx,
        path: path.to_owned(),
    })
}

/// The live rows of the file.
async fn load(conn: &mut SqliteConnection, now: i64) -> sqlx::Result<Vec<(String, Item)>> {
    let rows = sqlx::query(
        "SELECT key, value, kind, expires_at FROM state WHERE expires_at IS NULL OR expires_at > ?",
    )
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let key: String = row.try_get(0)?;
        let text: String = row.try_get(1)?;
        let kind: i64 = row.try_get(2)?;
        let value = match kind {
            1 => match text.parse() {
                Ok(n) => Value::Int(n),
                Err(_) => continue,
            },
            _ => Value::Text(text),
        };
        let item = Item {
            value,
            expires: row.try_get(3)?,
            durable: true,
        };
        out.push((key, item));
    }
    Ok(out)
}

struct Task {
    conn: SqliteConnection,
    rx: mpsc::UnboundedReceiver<Request>,
    map: Arc<Mutex<Map>>,
    clock: Arc<dyn Clock>,
    path: PathBuf,
    /// SQLite's `data_version` when last looked at: it changes when another
    /// connection commits, never for this connection's own commits.
    data_version: Option<i64>,
}

impl Task {
    async fn run(mut self) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                request = self.rx.recv() => {
                    let Some(first) = request else { break };
                    let mut batch = vec![first];
                    while batch.len() < 512 {
                        match self.rx.try_recv() {
                            Ok(r) => batch.push(r),
                            Err(_) => break,
                        }
                    }
                    self.apply(batch).await;
                }
                _ = tick.tick() => self.maintain().await,
            }
        }
    }

    async fn apply(&mut self, batch: Vec<Request>) {
        let result = write(&mut self.conn, &batch).await;
        if let Err(e) = &result {
            tracing::error!(target: "state", "{}: saving {} change(s) failed: {e}", self.path.display(), batch.len());
        }
        for request in batch {
            let _ = request
                .done
                .send(result.as_ref().map(|_| ()).map_err(|e| e.to_string()));
        }
    }

    async fn maintain(&mut self) {
        let now = micros(self.clock.now());
        if let Err(e) = sqlx::query("DELETE FROM state WHERE expires_at <= ?")
            .bind(now)
            .execute(&mut self.conn)
            .await
        {
            tracing::warn!(target: "state", "{}: removing expired entries: {e}", self.path.display());
        }
        let version: i64 = match sqlx::query_scalar("PRAGMA data_version")
            .fetch_one(&mut self.conn)
            .await
        {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(target: "state", "{}: {e}", self.path.display());
                return;
            }
        };
        let changed = self.data_version.is_some_and(|v| v != version);
        if self.data_version.is_none() || !changed {
            self.data_version = Some(version);
            return;
        }
        let rows = match load(&mut self.conn, now).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(target: "state", "{}: reading changes: {e}", self.path.display());
                return;
            }
        };
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        // A change queued since the read would be undone by the file's older
        // value: try again at the next tick, once the queue is empty.
        if !self.rx.is_empty() {
            return;
        }
        map.replace_durable(rows);
        self.data_version = Some(version);
        tracing::info!(target: "state", "{}: reloaded after a change by another process", self.path.display());
    }
}

/// Rows of one statement at most (4 parameters each for an INSERT, well
/// under SQLite's limit); a power of two.
const ROWS_PER_STATEMENT: usize = 128;

/// Applies `batch` in one transaction, in order. Consecutive puts go in one
/// multi-row upsert and consecutive deletes in one `DELETE ... IN`: each
/// statement is a round trip to sqlx's connection thread, and under a spam
/// run (one write per new greylist triplet) those trips, not SQLite, were
/// the cost of a write.
async fn write(conn: &mut SqliteConnection, batch: &[Request]) -> sqlx::Result<()> {
    let mut tx = conn.begin().await?;
    let mut rest = batch;
    while let Some(first) = rest.first() {
        let is_put = matches!(first.op, Op::Put { .. });
        let same = rest
            .iter()
            .take(ROWS_PER_STATEMENT)
            .take_while(|r| matches!(r.op, Op::Put { .. }) == is_put)
            .count();
        // A power of two: a handful of statement texts, each prepared once
        // and kept in the connection's statement cache.
        let run = 1 << same.ilog2();
        let (now, later) = rest.split_at(run);
        rest = later;
        if is_put {
            put_rows(&mut tx, now).await?;
        } else {
            delete_rows(&mut tx, now).await?;
        }
    }
    tx.commit().await
}

/// One upsert of the puts of `run` (a later row for a key wins, as it would
/// one statement at a time).
async fn put_rows(conn: &mut SqliteConnection, run: &[Request]) -> sqlx::Result<()> {
    let rows: Vec<(&String, String, i64, Option<i64>)> = run
        .iter()
        .filter_map(|r| match &r.op {
            Op::Put {
                key,
                value,
                expires,
            } => match value {
                Value::Text(s) => Some((key, s.clone(), 0, *expires)),
                Value::Int(n) => Some((key, n.to_string(), 1, *expires)),
                // Rate cells are never durable.
                Value::Cell(_) => None,
            },
            Op::Delete(_) => None,
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let mut sql = String::from("INSERT INTO state (key, value, kind, expires_at) VALUES ");
    for i in 0..rows.len() {
        sql.push_str(if i == 0 {
            "(?, ?, ?, ?)"
        } else {
            ", (?, ?, ?, ?)"
        });
    }
    sql.push_str(
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value,
            kind = excluded.kind, expires_at = excluded.expires_at",
    );
    // Safe: the text is made of placeholders only; the values are bound.
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (key, text, kind, expires) in rows {
        query = query.bind(key).bind(text).bind(kind).bind(expires);
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

/// One `DELETE ... IN` of the deletes of `run`.
async fn delete_rows(conn: &mut SqliteConnection, run: &[Request]) -> sqlx::Result<()> {
    let keys: Vec<&String> = run
        .iter()
        .filter_map(|r| match &r.op {
            Op::Delete(key) => Some(key),
            Op::Put { .. } => None,
        })
        .collect();
    let marks = vec!["?"; keys.len()].join(", ");
    let sql = format!("DELETE FROM state WHERE key IN ({marks})");
    // Safe: the text is made of placeholders only; the keys are bound.
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for key in keys {
        query = query.bind(key);
    }
    query.execute(&mut *conn).await?;
    Ok(())
}
