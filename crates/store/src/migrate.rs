//! A node's SQLite store copied into PostgreSQL (`havre migrate-storage`).
//!
//! The copy reads one snapshot of the SQLite file (one read transaction:
//! the node may serve meanwhile, what it writes after the start is not in
//! this run's copy) and writes each table in one PostgreSQL transaction
//! that also records the table as copied, with its row count and checksum,
//! in `storage_migration`. A run that stops (a crash, a cut) leaves whole
//! tables or none of one, and the next run goes on with the tables not
//! copied yet. The last step compares every table's count and checksum on
//! both sides: the copy is verified, not assumed.
//!
//! Rows go across as they are, column by column by name: the schema of
//! both engines is the same (see `migrations.rs`), integers, text and bytes.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use futures_util::TryStreamExt;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Connection, Row};

use crate::{PostgresStore, Result, SqliteStore, StoreError};

/// Every table, parents before the rows that refer to them.
pub const TABLES: &[&str] = &[
    "domains",
    "class_quotas",
    "users",
    "aliases",
    "mailboxes",
    "messages",
    "expunged",
    "subscriptions",
    "uidvalidity_given",
    "metadata",
    "message_headers",
    "message_texts",
    "search_pending",
    "queue_messages",
    "queue_recipients",
    "queue_bodies",
    "bayes_totals",
    "bayes_tokens",
    "bayes_learned",
    "sieve_scripts",
    "sieve_users",
    "nodes",
];

/// Rows written per statement.
const BATCH: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Text,
    Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Value {
    Null,
    Integer(i64),
    Text(String),
    Bytes(Vec<u8>),
}

/// One table's rows on one side: how many, and a checksum that does not
/// depend on their order (the engines sort text differently).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableSum {
    pub rows: u64,
    pub checksum: u64,
}

impl TableSum {
    fn add(&mut self, row: &[Value]) {
        let mut hasher = DefaultHasher::new();
        row.hash(&mut hasher);
        self.rows += 1;
        self.checksum = self.checksum.wrapping_add(hasher.finish());
    }
}

/// What [`copy`] tells its caller as it goes.
pub trait Progress {
    /// `table` is being copied: `rows` rows.
    fn table(&mut self, table: &str, rows: u64);
    /// `rows` more rows of the table are written.
    fn rows(&mut self, rows: u64);
    /// `table` was copied by an earlier run.
    fn already(&mut self, table: &str);
}

/// A table compared on both sides after the copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub table: &'static str,
    pub source: TableSum,
    pub target: TableSum,
}

impl Verified {
    pub fn matches(&self) -> bool {
        self.source == self.target
    }
}

/// Copies `source` into `target` (whose schema `PostgresStore::open` made),
/// going on from where an earlier run stopped, then compares both.
pub async fn copy(
    source: &SqliteStore,
    target: &PostgresStore,
    progress: &mut dyn Progress,
) -> Result<Vec<Verified>> {
    let mut target_conn = target.pool.acquire().await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS storage_migration (
            table_name TEXT PRIMARY KEY, rows BIGINT NOT NULL, checksum BIGINT NOT NULL,
            copied_at BIGINT NOT NULL)",
    )
    .execute(&mut *target_conn)
    .await?;
    refuse_foreign_data(&mut target_conn).await?;
    let mut reader = source.read().await?;
    let mut snapshot = reader.begin().await?;
    let mut verified = Vec::new();
    for &table in TABLES {
        let columns = columns(&mut target_conn, table).await?;
        let done: Option<i64> =
            sqlx::query_scalar("SELECT rows FROM storage_migration WHERE table_name = $1")
                .bind(table)
                .fetch_optional(&mut *target_conn)
                .await?;
        if done.is_some() {
            progress.already(table);
        } else {
            copy_table(&mut snapshot, &mut target_conn, table, &columns, progress).await?;
        }
    }
    after_copy(&mut target_conn).await?;
    for &table in TABLES {
        let columns = columns(&mut target_conn, table).await?;
        verified.push(Verified {
            table,
            source: sqlite_sum(&mut snapshot, table, &columns).await?,
            target: postgres_sum(&mut target_conn, table, &columns).await?,
        });
    }
    snapshot.rollback().await?;
    Ok(verified)
}

/// A database that holds a mail system's data which this copy did not put
/// there is not written into.
async fn refuse_foreign_data(conn: &mut sqlx::PgConnection) -> Result<()> {
    let (copied, domains, users): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM storage_migration), (SELECT COUNT(*) FROM domains),
                (SELECT COUNT(*) FROM users)",
    )
    .fetch_one(&mut *conn)
    .await?;
    if copied == 0 && (domains > 0 || users > 0) {
        return Err(StoreError::NotOnThisEngine(
            "the target database already holds domains or users that no earlier migrate-storage \
             run copied; give an empty database",
        ));
    }
    Ok(())
}

/// The target's columns of `table`, in order, with their kinds.
async fn columns(conn: &mut sqlx::PgConnection, table: &str) -> Result<Vec<(String, Kind)>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT column_name::TEXT, data_type::TEXT FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|(name, kind)| {
            let kind = match kind.as_str() {
                "bigint" | "integer" => Kind::Integer,
                "text" => Kind::Text,
                "bytea" => Kind::Bytes,
                _ => {
                    return Err(StoreError::NotOnThisEngine(
                        "a column of a type migrate-storage does not copy",
                    ));
                }
            };
            Ok((name, kind))
        })
        .collect()
}

fn column_list(columns: &[(String, Kind)]) -> String {
    columns
        .iter()
        .map(|(name, _)| format!("\"{name}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A row of either engine, read as the target's column kinds say.
trait Cells {
    fn value(&self, index: usize, kind: Kind) -> sqlx::Result<Value>;

    fn values(&self, columns: &[(String, Kind)]) -> sqlx::Result<Vec<Value>> {
        columns
            .iter()
            .enumerate()
            .map(|(i, (_, kind))| self.value(i, *kind))
            .collect()
    }
}

macro_rules! cells {
    ($row:ty) => {
        impl Cells for $row {
            fn value(&self, index: usize, kind: Kind) -> sqlx::Result<Value> {
                Ok(match kind {
                    Kind::Integer => self
                        .try_get::<Option<i64>, _>(index)?
                        .map_or(Value::Null, Value::Integer),
                    Kind::Text => self
                        .try_get::<Option<String>, _>(index)?
                        .map_or(Value::Null, Value::Text),
                    Kind::Bytes => self
                        .try_get::<Option<Vec<u8>>, _>(index)?
                        .map_or(Value::Null, Value::Bytes),
                })
            }
        }
    };
}

cells!(SqliteRow);
cells!(PgRow);

/// The count and checksum of a table's rows as they come.
async fn sum_of<R: Cells>(
    mut rows: impl futures_util::Stream<Item = sqlx::Result<R>> + Unpin,
    columns: &[(String, Kind)],
) -> Result<TableSum> {
    let mut sum = TableSum::default();
    while let Some(row) = rows.try_next().await? {
        sum.add(&row.values(columns)?);
    }
    Ok(sum)
}

async fn copy_table(
    snapshot: &mut sqlx::SqliteConnection,
    target: &mut sqlx::PgConnection,
    table: &'static str,
    columns: &[(String, Kind)],
    progress: &mut dyn Progress,
) -> Result<()> {
    let count: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(&mut *snapshot)
        .await?;
    progress.table(table, count.max(0) as u64);
    let mut tx = target.begin().await?;
    let select = format!("SELECT {} FROM {table}", column_list(columns));
    let mut rows = sqlx::query(AssertSqlSafe(select)).fetch(&mut *snapshot);
    let mut batch: Vec<Vec<Value>> = Vec::with_capacity(BATCH);
    let mut sum = TableSum::default();
    while let Some(row) = rows.try_next().await? {
        let values = row.values(columns)?;
        sum.add(&values);
        batch.push(values);
        if batch.len() == BATCH {
            progress.rows(batch.len() as u64);
            insert(&mut tx, table, columns, std::mem::take(&mut batch)).await?;
        }
    }
    if !batch.is_empty() {
        progress.rows(batch.len() as u64);
        insert(&mut tx, table, columns, batch).await?;
    }
    sqlx::query(
        "INSERT INTO storage_migration (table_name, rows, checksum, copied_at)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(table)
    .bind(sum.rows as i64)
    .bind(sum.checksum as i64)
    .bind(crate::sqlite::now())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// One statement for the whole batch: a column of values per array.
async fn insert(
    conn: &mut sqlx::PgConnection,
    table: &str,
    columns: &[(String, Kind)],
    rows: Vec<Vec<Value>>,
) -> Result<()> {
    let arrays: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, (_, kind))| {
            let kind = match kind {
                Kind::Integer => "BIGINT",
                Kind::Text => "TEXT",
                Kind::Bytes => "BYTEA",
            };
            format!("${}::{kind}[]", i + 1)
        })
        .collect();
    let statement = format!(
        "INSERT INTO {table} ({}) SELECT * FROM UNNEST({})",
        column_list(columns),
        arrays.join(", ")
    );
    // The rows turned into columns, each value moved, not copied.
    let mut by_column: Vec<Vec<Value>> = columns
        .iter()
        .map(|_| Vec::with_capacity(rows.len()))
        .collect();
    for row in rows {
        for (column, value) in by_column.iter_mut().zip(row) {
            column.push(value);
        }
    }
    let mut query = sqlx::query(AssertSqlSafe(statement));
    for ((_, kind), values) in columns.iter().zip(by_column) {
        let values = values.into_iter();
        query = match kind {
            Kind::Integer => query.bind(
                values
                    .map(|v| match v {
                        Value::Integer(n) => Some(n),
                        _ => None,
                    })
                    .collect::<Vec<_>>(),
            ),
            Kind::Text => query.bind(
                values
                    .map(|v| match v {
                        Value::Text(t) => Some(t),
                        _ => None,
                    })
                    .collect::<Vec<_>>(),
            ),
            Kind::Bytes => query.bind(
                values
                    .map(|v| match v {
                        Value::Bytes(b) => Some(b),
                        _ => None,
                    })
                    .collect::<Vec<_>>(),
            ),
        };
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

/// What the rows' own values do not carry: mailbox sizes counted again
/// (the trigger added each copied message to the copied size) and the next
/// mailbox id after the copied ones.
async fn after_copy(conn: &mut sqlx::PgConnection) -> Result<()> {
    sqlx::raw_sql(
        "UPDATE mailboxes SET bytes =
             (SELECT COALESCE(SUM(size), 0) FROM messages WHERE mailbox_id = mailboxes.id);
         SELECT setval(pg_get_serial_sequence('mailboxes', 'id'),
                       GREATEST((SELECT MAX(id) FROM mailboxes), 1));",
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn sqlite_sum(
    conn: &mut sqlx::SqliteConnection,
    table: &str,
    columns: &[(String, Kind)],
) -> Result<TableSum> {
    let select = format!("SELECT {} FROM {table}", column_list(columns));
    sum_of(
        sqlx::query(AssertSqlSafe(select)).fetch(&mut *conn),
        columns,
    )
    .await
}

async fn postgres_sum(
    conn: &mut sqlx::PgConnection,
    table: &str,
    columns: &[(String, Kind)],
) -> Result<TableSum> {
    let select = format!("SELECT {} FROM {table}", column_list(columns));
    sum_of(
        sqlx::query(AssertSqlSafe(select)).fetch(&mut *conn),
        columns,
    )
    .await
}
