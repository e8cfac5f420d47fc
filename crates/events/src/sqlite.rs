//! The embedded events database: one SQLite file, one table, indexed by
//! time, queue id and Message-ID.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, QueryBuilder, Row, Sqlite};

use crate::event::{Event, Kind};
use crate::series::{self, Counter, Counts, Range, Series, SeriesError};

#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("events database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("events database: cannot create {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("events database: row {rowid} has an unknown kind {kind:?}")]
    Corrupt { rowid: i64, kind: String },
    #[error("events database: rows of an unknown kind {0:?}")]
    UnknownKind(String),
    #[error("events database: {0}")]
    Series(#[from] SeriesError),
}

const SCHEMA: &[&str] = &[
    // `at` is the row's key: the table is kept in time order, so a period
    // is a range of the table itself (no index on time to maintain), and
    // the writer makes each `at` unique (see `SqliteEvents::insert`).
    "CREATE TABLE IF NOT EXISTS event_log (
        at INTEGER PRIMARY KEY,
        node TEXT NOT NULL,
        kind TEXT NOT NULL,
        role TEXT NOT NULL,
        queue_id TEXT,
        message_id TEXT,
        client TEXT,
        sender TEXT,
        recipient TEXT,
        orig_to TEXT,
        size INTEGER NOT NULL DEFAULT 0,
        delay REAL,
        relay TEXT,
        check_name TEXT,
        related TEXT,
        reason TEXT
    )",
    "CREATE INDEX IF NOT EXISTS event_log_queue_id ON event_log (queue_id) WHERE queue_id IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS event_log_message_id ON event_log (message_id) WHERE message_id IS NOT NULL",
    // The graphs' round-robin series (series.rs): `range` is a
    // `series::Range`, `slot` its step's place, `start` the step's start.
    "CREATE TABLE IF NOT EXISTS series (
        range INTEGER NOT NULL,
        slot INTEGER NOT NULL,
        start INTEGER NOT NULL,
        sent INTEGER NOT NULL DEFAULT 0,
        received INTEGER NOT NULL DEFAULT 0,
        rejected INTEGER NOT NULL DEFAULT 0,
        bounced INTEGER NOT NULL DEFAULT 0,
        greylisted INTEGER NOT NULL DEFAULT 0,
        spam INTEGER NOT NULL DEFAULT 0,
        virus INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (range, slot)
    ) WITHOUT ROWID",
];

/// Adds one step's counts to its slot: to the counts there when the slot
/// holds the same step, in place of them when it holds an older one (the
/// range has wrapped), and not at all for a step older than the slot's
/// (an event that arrived after its range moved on).
const ADD_TO_SLOT: &str = "INSERT INTO series (range, slot, start, sent, received, rejected, \
    bounced, greylisted, spam, virus) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
    ON CONFLICT (range, slot) DO UPDATE SET \
    sent = CASE WHEN start = excluded.start THEN sent + excluded.sent ELSE excluded.sent END, \
    received = CASE WHEN start = excluded.start THEN received + excluded.received ELSE excluded.received END, \
    rejected = CASE WHEN start = excluded.start THEN rejected + excluded.rejected ELSE excluded.rejected END, \
    bounced = CASE WHEN start = excluded.start THEN bounced + excluded.bounced ELSE excluded.bounced END, \
    greylisted = CASE WHEN start = excluded.start THEN greylisted + excluded.greylisted ELSE excluded.greylisted END, \
    spam = CASE WHEN start = excluded.start THEN spam + excluded.spam ELSE excluded.spam END, \
    virus = CASE WHEN start = excluded.start THEN virus + excluded.virus ELSE excluded.virus END, \
    start = excluded.start \
    WHERE excluded.start >= series.start";

const COLUMNS: &str = "at, at, node, kind, role, queue_id, message_id, client, sender, \
                       recipient, orig_to, size, delay, relay, check_name, related, reason";

/// What [`SqliteEvents::find`] looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    QueueId(String),
    MessageId(String),
    /// A sender or recipient address (any case).
    Address(String),
}

#[derive(Clone)]
pub struct SqliteEvents {
    pub(crate) pool: SqlitePool,
    /// The last `at` written: each new row's is later (see `insert`).
    last: Arc<Mutex<i64>>,
    /// The marker of a writer at work (`open_for_writing`), removed by
    /// `close`: found at the next start, it says the last one crashed.
    marker: Option<PathBuf>,
}

impl SqliteEvents {
    /// Opens (creating if needed) the events database at `path`, to read
    /// it (`havre report`, `trace`, `stats`) beside the writer.
    pub async fn open(path: &Path) -> Result<SqliteEvents, EventsError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| EventsError::Io {
                path: parent.display().to_string(),
                source,
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Events are not mail: nothing waits for the disk at a commit.
            // WAL keeps the file whole whatever happens to the process;
            // only a power cut or a kernel crash can damage it, which
            // `open_for_writing` checks for after a crash.
            .synchronous(SqliteSynchronous::Off)
            .busy_timeout(Duration::from_secs(30));
        Self::with(options, 2).await
    }

    /// Opens the database for the node's writer (`havre serve`). After a
    /// stop that did not `close` it (a crash, a power cut), its integrity
    /// is checked first; a damaged file is set aside as
    /// `events.sqlite.damaged-<unix time>` and a new one started, so mail
    /// never waits for a broken events database. The first value says
    /// what was set aside, if anything.
    pub async fn open_for_writing(
        path: &Path,
    ) -> Result<(SqliteEvents, Option<PathBuf>), EventsError> {
        let marker = path.with_extension("sqlite.writing");
        let mut set_aside = None;
        if marker.exists() && path.exists() {
            let intact = match Self::open(path).await {
                Ok(db) => db.intact().await,
                Err(_) => false,
            };
            if !intact {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let aside = path.with_extension(format!("sqlite.damaged-{now}"));
                std::fs::rename(path, &aside).map_err(|source| EventsError::Io {
                    path: path.display().to_string(),
                    source,
                })?;
                for suffix in ["-wal", "-shm"] {
                    let mut side = path.as_os_str().to_owned();
                    side.push(suffix);
                    let _ = std::fs::remove_file(PathBuf::from(side));
                }
                set_aside = Some(aside);
            }
        }
        let mut db = Self::open(path).await?;
        std::fs::write(&marker, b"").map_err(|source| EventsError::Io {
            path: marker.display().to_string(),
            source,
        })?;
        db.marker = Some(marker);
        Ok((db, set_aside))
    }

    /// Whether SQLite finds the file sound (`PRAGMA quick_check`).
    async fn intact(&self) -> bool {
        sqlx::query_scalar::<_, String>("PRAGMA quick_check")
            .fetch_one(&self.pool)
            .await
            .is_ok_and(|answer| answer == "ok")
    }

    /// The writer is done (a clean stop): the next start trusts the file.
    pub async fn close(&self) {
        self.pool.close().await;
        if let Some(marker) = &self.marker {
            let _ = std::fs::remove_file(marker);
        }
    }

    /// An in-memory database, for tests.
    pub async fn memory() -> Result<SqliteEvents, EventsError> {
        Self::with(SqliteConnectOptions::from_str("sqlite::memory:")?, 1).await
    }

    async fn with(
        options: SqliteConnectOptions,
        connections: u32,
    ) -> Result<SqliteEvents, EventsError> {
        let pool = SqlitePoolOptions::new()
            .max_connections(connections)
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        for statement in SCHEMA {
            sqlx::query(*statement).execute(&pool).await?;
        }
        let last: Option<i64> = sqlx::query_scalar("SELECT MAX(at) FROM event_log")
            .fetch_one(&pool)
            .await?;
        let db = SqliteEvents {
            pool,
            last: Arc::new(Mutex::new(last.unwrap_or(0))),
            marker: None,
        };
        db.migrate_first_layout().await?;
        Ok(db)
    }

    /// The first layout (a table `events` with an index on time) moved
    /// into `event_log`, in time order, once.
    async fn migrate_first_layout(&self) -> Result<(), EventsError> {
        let old: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'events'",
        )
        .fetch_one(&self.pool)
        .await?;
        if old == 0 {
            return Ok(());
        }
        let rows = sqlx::query(
            "SELECT rowid, at, node, kind, role, queue_id, message_id, client, sender, \
             recipient, orig_to, size, delay, relay, check_name, related, reason \
             FROM events ORDER BY at, rowid",
        )
        .fetch_all(&self.pool)
        .await?;
        let events = rows.iter().map(event).collect::<Result<Vec<_>, _>>()?;
        self.write_rows(&events).await?;
        sqlx::query("DROP TABLE events").execute(&self.pool).await?;
        Ok(())
    }

    /// Writes `events` in one transaction, with what they add to the
    /// graphs. Each row's `at` is its key: one equal to or earlier than
    /// the last written is moved just after it (a few microseconds, when
    /// two sessions recorded at once), so the table stays in time order.
    pub async fn insert(&self, events: &[Event]) -> Result<(), EventsError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        self.insert_rows(&mut tx, events).await?;
        for (range, start, counts) in series::tally(events) {
            let mut add = sqlx::query(ADD_TO_SLOT)
                .bind(range.id())
                .bind(range.slot(start))
                .bind(start);
            for count in counts {
                add = add.bind(count as i64);
            }
            add.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// [`SqliteEvents::insert`] without the graphs (a migration).
    async fn write_rows(&self, events: &[Event]) -> Result<(), EventsError> {
        let mut tx = self.pool.begin().await?;
        self.insert_rows(&mut tx, events).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_rows(
        &self,
        tx: &mut sqlx::Transaction<'_, Sqlite>,
        events: &[Event],
    ) -> Result<(), EventsError> {
        let mut order: Vec<&Event> = events.iter().collect();
        order.sort_by_key(|e| e.at);
        let keys: Vec<i64> = {
            let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
            order
                .iter()
                .map(|e| {
                    *last = e.at.max(*last + 1);
                    *last
                })
                .collect()
        };
        let rows: Vec<(i64, &Event)> = keys.into_iter().zip(order).collect();
        // 16 values a row: SQLite takes 32,766 variables a statement.
        for chunk in rows.chunks(2_000) {
            let mut insert = QueryBuilder::<Sqlite>::new(
                "INSERT INTO event_log (at, node, kind, role, queue_id, message_id, client, \
                 sender, recipient, orig_to, size, delay, relay, check_name, related, reason) ",
            );
            insert.push_values(chunk, |mut row, (at, e)| {
                row.push_bind(*at)
                    .push_bind(&e.node)
                    .push_bind(e.kind.as_str())
                    .push_bind(&e.role)
                    .push_bind(&e.queue_id)
                    .push_bind(&e.message_id)
                    .push_bind(&e.client)
                    .push_bind(&e.sender)
                    .push_bind(&e.recipient)
                    .push_bind(&e.original)
                    .push_bind(e.size as i64)
                    .push_bind(e.delay)
                    .push_bind(&e.relay)
                    .push_bind(&e.check)
                    .push_bind(&e.related)
                    .push_bind(&e.reason);
            });
            insert.build().execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// The graph of `range` ending at `now` (seconds since the epoch).
    pub async fn series(&self, range: Range, now: i64) -> Result<Series, EventsError> {
        let rows = sqlx::query(
            "SELECT slot, start, sent, received, rejected, bounced, greylisted, spam, virus \
             FROM series WHERE range = ?",
        )
        .bind(range.id())
        .fetch_all(&self.pool)
        .await?;
        let mut slots = Vec::with_capacity(rows.len());
        for row in rows {
            let slot: i64 = row.try_get(0)?;
            let mut counts = Counts::default();
            for (i, counter) in Counter::ALL.into_iter().enumerate() {
                let count: i64 = row.try_get(2 + i)?;
                counts[i] = u64::try_from(count).map_err(|_| SeriesError {
                    range,
                    slot,
                    why: format!("its {} count is {count}", counter.as_str()),
                })?;
            }
            slots.push((slot, row.try_get(1)?, counts));
        }
        Ok(Series::assemble(range, now, slots)?)
    }

    /// Every event from `from` (included) to `until` (excluded), in
    /// microseconds since the epoch, in time order.
    pub async fn between(&self, from: i64, until: i64) -> Result<Vec<Event>, EventsError> {
        // Only constants are put in the text; values are bound.
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM event_log WHERE at >= ? AND at < ? ORDER BY at"
        )))
        .bind(from)
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event).collect()
    }

    /// The events that name `wanted` from `from` to `until`, in time order.
    pub async fn find(
        &self,
        wanted: &Wanted,
        from: i64,
        until: i64,
    ) -> Result<Vec<Event>, EventsError> {
        let (condition, value) = match wanted {
            Wanted::QueueId(id) => ("queue_id = ?1", id.clone()),
            Wanted::MessageId(id) => ("message_id = ?1", id.clone()),
            Wanted::Address(a) => (
                "(lower(sender) = ?1 OR lower(recipient) = ?1)",
                a.to_ascii_lowercase(),
            ),
        };
        // Only constants are put in the text; values are bound.
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM event_log WHERE {condition} AND at >= ?2 AND at < ?3 \
             ORDER BY at"
        )))
        .bind(value)
        .bind(from)
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event).collect()
    }

    /// Writes a consistent copy of the database into the new file `path`
    /// (`havre backup snapshot`) while events are written.
    pub async fn snapshot_to(&self, path: &Path) -> Result<(), EventsError> {
        let text = path.to_str().ok_or_else(|| EventsError::Io {
            path: path.display().to_string(),
            source: std::io::Error::other("a snapshot path must be UTF-8"),
        })?;
        sqlx::query("VACUUM INTO ?")
            .bind(text)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes events older than `before`; how many.
    pub async fn prune(&self, before: i64) -> Result<u64, EventsError> {
        let done = sqlx::query("DELETE FROM event_log WHERE at < ?")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

fn event(row: &SqliteRow) -> Result<Event, EventsError> {
    let kind: String = row.try_get(3)?;
    let Some(parsed) = Kind::parse(&kind) else {
        return Err(EventsError::Corrupt {
            rowid: row.try_get(0)?,
            kind,
        });
    };
    Ok(Event {
        at: row.try_get(1)?,
        node: row.try_get(2)?,
        kind: parsed,
        role: row.try_get(4)?,
        queue_id: row.try_get(5)?,
        message_id: row.try_get(6)?,
        client: row.try_get(7)?,
        sender: row.try_get(8)?,
        recipient: row.try_get(9)?,
        original: row.try_get(10)?,
        size: row.try_get::<i64, _>(11)?.max(0) as u64,
        delay: row.try_get(12)?,
        relay: row.try_get(13)?,
        check: row.try_get(14)?,
        related: row.try_get(15)?,
        reason: row.try_get(16)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_come_back_in_time_order_and_by_id_or_address() {
        let db = SqliteEvents::memory().await.unwrap();
        let mut accepted = Event::new(Kind::Accepted, "cleanup")
            .queue_id("Q1")
            .message_id("<m1@x>")
            .sender("Bob@Remote.test")
            .size(1200);
        accepted.at = 2_000;
        accepted.node = "mx1".into();
        let mut delivered = Event::new(Kind::Delivered, "local")
            .queue_id("Q1")
            .recipient("alice@example.test")
            .relay("local")
            .delay(0.5);
        delivered.at = 3_000;
        delivered.node = "mx1".into();
        let mut other = Event::new(Kind::Reject, "smtpd")
            .recipient("nobody@example.test")
            .check("rcpt")
            .reason("550 5.1.1 User unknown");
        other.at = 1_000;
        other.node = "mx1".into();
        db.insert(&[delivered.clone(), accepted.clone(), other.clone()])
            .await
            .unwrap();
        assert_eq!(
            db.between(0, 10_000).await.unwrap(),
            vec![other.clone(), accepted.clone(), delivered.clone()]
        );
        assert_eq!(
            db.between(1_500, 3_000).await.unwrap(),
            vec![accepted.clone()]
        );
        assert_eq!(
            db.find(&Wanted::QueueId("Q1".into()), 0, 10_000)
                .await
                .unwrap(),
            vec![accepted.clone(), delivered.clone()]
        );
        assert_eq!(
            db.find(&Wanted::Address("bob@remote.test".into()), 0, 10_000)
                .await
                .unwrap(),
            vec![accepted.clone()]
        );
        assert_eq!(
            db.find(&Wanted::MessageId("<m1@x>".into()), 0, 10_000)
                .await
                .unwrap(),
            vec![accepted]
        );
        assert_eq!(db.prune(2_500).await.unwrap(), 2);
        assert_eq!(db.between(0, 10_000).await.unwrap(), vec![delivered]);
    }

    #[tokio::test]
    async fn the_graphs_count_what_each_batch_brought_and_wrap_round() {
        let db = SqliteEvents::memory().await.unwrap();
        let minute = 60 * 29_000_000;
        let at = |second: i64, kind: Kind| {
            let mut e = Event::new(kind, "t");
            e.at = second * 1_000_000;
            e.node = "mx1".into();
            e
        };
        db.insert(&[at(minute, Kind::Accepted), at(minute + 1, Kind::Delivered)])
            .await
            .unwrap();
        db.insert(&[at(minute + 2, Kind::Delivered), at(minute + 3, Kind::Spam)])
            .await
            .unwrap();
        let day = db.series(Range::Day, minute + 30).await.unwrap();
        let last = day.points.last().unwrap();
        assert_eq!(last.start, minute);
        assert_eq!(
            (
                last.get(Counter::Received),
                last.get(Counter::Sent),
                last.get(Counter::Spam)
            ),
            (1, 2, 1)
        );
        // A day later the minute's slot is taken by the new minute: the
        // day graph forgets the old one, the week graph still has it.
        let later = minute + 86_400;
        db.insert(&[at(later, Kind::Reject)]).await.unwrap();
        let day = db.series(Range::Day, later).await.unwrap();
        assert_eq!(
            (day.total(Counter::Sent), day.total(Counter::Rejected)),
            (0, 1)
        );
        let week = db.series(Range::Week, later).await.unwrap();
        assert_eq!(
            (week.total(Counter::Sent), week.total(Counter::Rejected)),
            (2, 1)
        );
        // An event of a step the slot has moved past changes nothing.
        db.insert(&[at(minute, Kind::Reject)]).await.unwrap();
        let day = db.series(Range::Day, later).await.unwrap();
        assert_eq!(day.total(Counter::Rejected), 1);
        let slots: i64 = sqlx::query_scalar("SELECT count(*) FROM series WHERE range = 0")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(
            slots, 1,
            "the day graph keeps one slot per minute of a day at most"
        );
    }

    #[tokio::test]
    async fn a_corrupted_graph_slot_is_named_with_its_range() {
        let db = SqliteEvents::memory().await.unwrap();
        sqlx::query("INSERT INTO series (range, slot, start, sent) VALUES (1, 5, 600, -3)")
            .execute(&db.pool)
            .await
            .unwrap();
        let err = db.series(Range::Week, 1_000).await.unwrap_err().to_string();
        assert!(
            err.contains("week graph's series is corrupted: slot 5: its sent count is -3"),
            "{err}"
        );
        assert!(db.series(Range::Day, 1_000).await.is_ok());
    }

    fn many(n: i64) -> Vec<Event> {
        (0..n)
            .map(|i| {
                let mut e = Event::new(Kind::Accepted, "cleanup")
                    .queue_id(format!("Q{i}"))
                    .sender(format!("sender{i}@remote.test"));
                e.at = 1_000 + i;
                e.node = "mx1".into();
                e
            })
            .collect()
    }

    #[tokio::test]
    async fn a_database_damaged_by_a_crash_is_set_aside_and_a_clean_stop_is_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.sqlite");
        let (db, aside) = SqliteEvents::open_for_writing(&path).await.unwrap();
        assert_eq!(aside, None);
        db.insert(&many(2_000)).await.unwrap();
        db.close().await;
        // A clean stop: the next start keeps the file as it is.
        let (db, aside) = SqliteEvents::open_for_writing(&path).await.unwrap();
        assert_eq!(aside, None);
        assert_eq!(db.between(0, i64::MAX).await.unwrap().len(), 2_000);
        // Then a power cut: the writer never closed, a page is garbage.
        db.pool.close().await;
        let mut bytes = std::fs::read(&path).unwrap();
        for b in &mut bytes[8_192..12_288] {
            *b = 0x5a;
        }
        std::fs::write(&path, bytes).unwrap();
        let (db, aside) = SqliteEvents::open_for_writing(&path).await.unwrap();
        let aside = aside.expect("the damaged file set aside");
        assert!(
            aside.to_str().unwrap().contains("events.sqlite.damaged-"),
            "{aside:?}"
        );
        assert!(aside.exists());
        assert_eq!(db.between(0, i64::MAX).await.unwrap(), vec![]);
        db.insert(&many(1)).await.unwrap();
        db.close().await;
    }

    #[tokio::test]
    async fn rows_recorded_at_the_same_time_keep_their_order_and_all_are_kept() {
        let db = SqliteEvents::memory().await.unwrap();
        let mut same = many(3);
        for e in &mut same {
            e.at = 5_000;
        }
        db.insert(&same).await.unwrap();
        // A late one, older than what is written: kept, just after.
        db.insert(&many(1)).await.unwrap();
        let ats: Vec<i64> = db
            .between(0, i64::MAX)
            .await
            .unwrap()
            .iter()
            .map(|e| e.at)
            .collect();
        assert_eq!(ats, [5_000, 5_001, 5_002, 5_003]);
    }

    #[tokio::test]
    async fn the_first_layout_is_moved_into_the_time_ordered_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.sqlite");
        {
            let pool = SqlitePoolOptions::new()
                .connect_with(
                    SqliteConnectOptions::new()
                        .filename(&path)
                        .create_if_missing(true),
                )
                .await
                .unwrap();
            sqlx::query(
                "CREATE TABLE events (at INTEGER NOT NULL, node TEXT NOT NULL, kind TEXT NOT NULL, \
                 role TEXT NOT NULL, queue_id TEXT, message_id TEXT, client TEXT, sender TEXT, \
                 recipient TEXT, orig_to TEXT, size INTEGER NOT NULL DEFAULT 0, delay REAL, \
                 relay TEXT, check_name TEXT, related TEXT, reason TEXT)",
            )
            .execute(&pool)
            .await
            .unwrap();
            for (at, id) in [(300, "B"), (100, "A"), (300, "C")] {
                sqlx::query("INSERT INTO events (at, node, kind, role, queue_id) VALUES (?, 'n', 'accepted', 'cleanup', ?)")
                    .bind(at)
                    .bind(id)
                    .execute(&pool)
                    .await
                    .unwrap();
            }
            pool.close().await;
        }
        let db = SqliteEvents::open(&path).await.unwrap();
        let ids: Vec<(i64, String)> = db
            .between(0, i64::MAX)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.at, e.queue_id.unwrap()))
            .collect();
        assert_eq!(
            ids,
            [(100, "A".into()), (300, "B".into()), (301, "C".into())]
        );
        let left: i64 =
            sqlx::query_scalar("SELECT count(*) FROM sqlite_master WHERE name = 'events'")
                .fetch_one(&db.pool)
                .await
                .unwrap();
        assert_eq!(left, 0);
    }

    #[tokio::test]
    async fn a_row_of_an_unknown_kind_is_named() {
        let db = SqliteEvents::memory().await.unwrap();
        sqlx::query("INSERT INTO event_log (at, node, kind, role) VALUES (1, 'n', 'zap', 'x')")
            .execute(&db.pool)
            .await
            .unwrap();
        let err = db.between(0, 10).await.unwrap_err().to_string();
        assert!(err.contains("unknown kind \"zap\""), "{err}");
    }
}
