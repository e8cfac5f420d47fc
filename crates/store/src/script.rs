//! Write transactions sent to the writer connection whole.
//!
//! sqlx runs every statement as a round trip to the connection's worker
//! thread (a channel send and a wake-up each way), and a transaction holds
//! the single writer connection for all of its round trips: BEGIN, five
//! statements and COMMIT were seven of them, fourteen context switches
//! while every other writer waited. sqlx-sqlite executes a query string of
//! several statements as one command of its worker, the statements taking
//! their parameters one after another from the one argument list. A
//! [`Script`] is such a string, from `BEGIN IMMEDIATE` to `COMMIT`: a whole
//! transaction in one round trip.
//!
//! What a script must respect:
//! - an outcome the caller expects (a duplicate, a row gone) is not an
//!   error: the statement that could fail on it is written to do nothing,
//!   and a row the script returns tells what happened. An error is the
//!   database's (disk full, I/O), and [`SqliteStore::run`] rolls the
//!   transaction back;
//! - statements name their values by the [`Param`]s [`Unit::bind`] gave,
//!   and are sent with plain `?` parameters, one value per occurrence.
//!   (sqlx-sqlite takes the unused numbers below a `?NNN` for plain `?` and
//!   gives them values from a running count: past a few statements that
//!   count runs beyond the argument list and it stops binding, leaving NULL
//!   in the parameters that follow);
//! - it is read to its end ([`sqlx::query::Query::fetch_all`]): the worker
//!   stops executing a script whose results nobody reads any more, and the
//!   statements left, COMMIT among them, never run.
//!
//! A script of many statements (a message for a thousand recipients) is
//! prepared for its one use, not kept among the connection's cached
//! statements, which would hold its thousand prepared statements.

use std::fmt;
use std::sync::Arc;

use sqlx::error::BoxDynError;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Arguments, AssertSqlSafe, Sqlite, SqliteConnection};

use crate::{Result, SqliteStore};

/// A script of fewer statements is one of the few shapes that come back
/// (one message, a record for a few recipients), worth keeping prepared.
const CACHED_STATEMENTS: usize = 32;

/// One transaction's statements, from `BEGIN IMMEDIATE` (the write lock
/// taken first, so a writer of another process makes it wait on
/// `busy_timeout` rather than fail halfway) to the `COMMIT` that
/// [`SqliteStore::run`] appends.
pub(crate) struct Script {
    sql: String,
    arguments: SqliteArguments,
    statements: usize,
    /// The first value that could not be bound.
    unbound: Option<BoxDynError>,
}

/// Statements that share values.
pub(crate) struct Unit<'s> {
    script: &'s mut Script,
    values: Vec<Value>,
}

/// A value of a unit as its statements name it (`?N`, N its place in the
/// unit), until [`Unit::statement`] turns it into a plain `?`.
#[derive(Clone, Copy)]
pub(crate) struct Param(usize);

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "?{}", self.0)
    }
}

/// A value bound once and sent for each of its occurrences.
#[derive(Clone)]
pub(crate) enum Value {
    Null,
    Integer(i64),
    Text(Arc<str>),
    Blob(Arc<[u8]>),
}

impl From<i64> for Value {
    fn from(value: i64) -> Value {
        Value::Integer(value)
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Value {
        Value::Text(value.into())
    }
}

impl From<&String> for Value {
    fn from(value: &String) -> Value {
        Value::Text(value.as_str().into())
    }
}

impl From<String> for Value {
    fn from(value: String) -> Value {
        Value::Text(value.into())
    }
}

impl From<&[u8]> for Value {
    fn from(value: &[u8]) -> Value {
        Value::Blob(value.into())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Value {
        value.map_or(Value::Null, Into::into)
    }
}

impl Script {
    pub(crate) fn new() -> Script {
        Script {
            sql: "BEGIN IMMEDIATE;\n".to_string(),
            arguments: SqliteArguments::default(),
            statements: 1,
            unbound: None,
        }
    }

    pub(crate) fn unit(&mut self) -> Unit<'_> {
        Unit {
            script: self,
            values: Vec::new(),
        }
    }
}

impl Unit<'_> {
    pub(crate) fn bind(&mut self, value: impl Into<Value>) -> Param {
        self.values.push(value.into());
        Param(self.values.len())
    }

    /// Appends one statement (without its `;`), its `?N` made plain `?`
    /// with their values added in the order they occur.
    pub(crate) fn statement(&mut self, sql: fmt::Arguments<'_>) {
        let sql = sql.to_string();
        let mut rest = sql.as_str();
        while let Some(at) = rest.find('?') {
            self.script.sql.push_str(&rest[..=at]);
            rest = &rest[at + 1..];
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let value = rest[..digits]
                .parse::<usize>()
                .ok()
                .and_then(|n| self.values.get(n.checked_sub(1)?))
                .cloned();
            rest = &rest[digits..];
            match value {
                Some(value) => self.add(value),
                None => {
                    self.fail("a parameter of a script's statement is not one of its unit's".into())
                }
            }
        }
        self.script.sql.push_str(rest);
        self.script.sql.push_str(";\n");
        self.script.statements += 1;
    }

    fn add(&mut self, value: Value) {
        let arguments = &mut self.script.arguments;
        let added = match value {
            Value::Null => arguments.add(None::<i64>),
            Value::Integer(value) => arguments.add(value),
            Value::Text(value) => arguments.add(value),
            Value::Blob(value) => arguments.add(value),
        };
        if let Err(err) = added {
            self.fail(err);
        }
    }

    fn fail(&mut self, err: BoxDynError) {
        self.script.unbound.get_or_insert(err);
    }
}

impl SqliteStore {
    /// Runs `script` as one transaction on the writer connection: the rows
    /// its statements returned, in order, once the commit is on disk.
    pub(crate) async fn run(&self, script: Script) -> Result<Vec<SqliteRow>> {
        let rows = self.commit_script(script).await?;
        self.synced().await?;
        Ok(rows)
    }

    async fn commit_script(&self, mut script: Script) -> Result<Vec<SqliteRow>> {
        if let Some(err) = script.unbound {
            return Err(sqlx::Error::Encode(err).into());
        }
        script.sql.push_str("COMMIT;");
        let cached = script.statements < CACHED_STATEMENTS;
        let query =
            sqlx::query_with(AssertSqlSafe(script.sql), script.arguments).persistent(cached);
        let mut open = OpenScript(Some(self.writer.acquire().await?));
        match query.fetch_all(open.connection()).await {
            Ok(rows) => {
                open.ended();
                Ok(rows)
            }
            Err(err) => {
                open.roll_back().await;
                Err(err.into())
            }
        }
    }
}

/// The writer connection while a script's transaction may be open on it:
/// it goes back to the pool only outside a transaction, or closed.
struct OpenScript(Option<PoolConnection<Sqlite>>);

impl OpenScript {
    fn connection(&mut self) -> &mut SqliteConnection {
        self.0.as_mut().expect("taken only when the script ends")
    }

    /// The COMMIT ran: nothing is open.
    fn ended(mut self) {
        self.0.take();
    }

    async fn roll_back(mut self) {
        let clean = leave_transaction(self.connection()).await;
        let mut connection = self.0.take().expect("taken only when the script ends");
        if !clean {
            tracing::warn!(target: "store", "a transaction could not be rolled back; reopening the database connection");
            // Closing it ends the transaction; the pool opens another.
            connection.close_on_drop();
        }
    }
}

impl Drop for OpenScript {
    fn drop(&mut self) {
        // The caller went away before the script's end: the worker ran
        // some of it and stopped when nobody read its results any more.
        if let Some(connection) = self.0.take() {
            tokio::spawn(OpenScript(Some(connection)).roll_back());
        }
    }
}

/// Ends whatever transaction a script left open; false when none could be
/// ended and the connection must not serve again.
async fn leave_transaction(connection: &mut SqliteConnection) -> bool {
    if sqlx::raw_sql("ROLLBACK")
        .execute(&mut *connection)
        .await
        .is_ok()
    {
        return true;
    }
    // None was open (the script failed at its BEGIN, or SQLite rolled back
    // by itself on a full disk), or it cannot end: a BEGIN tells, since it
    // only succeeds outside a transaction.
    sqlx::raw_sql("BEGIN; ROLLBACK")
        .execute(&mut *connection)
        .await
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    #[tokio::test]
    async fn a_script_abandoned_halfway_leaves_no_transaction_open() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("havre.db"))
            .await
            .unwrap();
        {
            let mut open = OpenScript(Some(store.writer.acquire().await.unwrap()));
            // What the worker ran of a script before its caller went away.
            sqlx::raw_sql(
                "BEGIN IMMEDIATE; INSERT INTO domains (name, created_at) VALUES ('half.test', 0)",
            )
            .execute(open.connection())
            .await
            .unwrap();
        }
        // Inside the abandoned transaction, this would never commit.
        store.add_domain("next.test").await.unwrap();
        assert!(store.domain_exists("next.test").await.unwrap());
        assert!(!store.domain_exists("half.test").await.unwrap());
    }
}
