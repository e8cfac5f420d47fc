//! The read connections, lent one statement at a time.
//!
//! sqlx's pool pings every connection it takes back, in a task of its own:
//! with SQLite that is a second trip to the connection's worker thread for
//! each read, as costly as the read itself (two thread switches each way).
//! The ping is there to flush what a cancelled write left behind (a queued
//! ROLLBACK); these connections are opened read-only and run single SELECTs,
//! or a read transaction that [`Readers::get`]'s caller ends, so nothing is
//! left to flush: a connection goes back to the set as it is.
//!
//! An in-memory store has one connection for everything (each in-memory
//! connection is its own database): its reads go through the writer's pool.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};

use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Connection, Sqlite, SqlitePool};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub(crate) enum Readers {
    Own(Arc<Set>),
    /// The in-memory store's only connection.
    Shared(SqlitePool),
}

pub(crate) struct Set {
    idle: Mutex<Vec<SqliteConnection>>,
    /// One permit per connection in `idle`.
    permits: Arc<Semaphore>,
}

/// A connection lent by [`Readers::get`]; dropping it gives it back.
pub(crate) enum Reader {
    Own {
        conn: Option<SqliteConnection>,
        set: Arc<Set>,
        _permit: OwnedSemaphorePermit,
    },
    Shared(PoolConnection<Sqlite>),
}

impl Readers {
    /// `count` read-only connections to the database of `options`.
    pub(crate) async fn open(
        options: &SqliteConnectOptions,
        count: usize,
    ) -> sqlx::Result<Readers> {
        let options = options.clone().read_only(true);
        let mut idle = Vec::with_capacity(count);
        for _ in 0..count {
            idle.push(SqliteConnection::connect_with(&options).await?);
        }
        Ok(Readers::Own(Arc::new(Set {
            idle: Mutex::new(idle),
            permits: Arc::new(Semaphore::new(count)),
        })))
    }

    /// A connection for a read; wait for one when all are lent.
    pub(crate) async fn get(&self) -> sqlx::Result<Reader> {
        match self {
            Readers::Shared(pool) => Ok(Reader::Shared(pool.acquire().await?)),
            Readers::Own(set) => {
                let permit = set
                    .permits
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| sqlx::Error::PoolClosed)?;
                let conn = set
                    .idle
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .pop()
                    .ok_or(sqlx::Error::PoolClosed)?;
                Ok(Reader::Own {
                    conn: Some(conn),
                    set: set.clone(),
                    _permit: permit,
                })
            }
        }
    }
}

impl Deref for Reader {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        match self {
            Reader::Own { conn, .. } => conn.as_ref().expect("lent until dropped"),
            Reader::Shared(conn) => conn,
        }
    }
}

impl DerefMut for Reader {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        match self {
            Reader::Own { conn, .. } => conn.as_mut().expect("lent until dropped"),
            Reader::Shared(conn) => conn,
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        if let Reader::Own { conn, set, .. } = self
            && let Some(conn) = conn.take()
        {
            // Back before the permit (dropped after this) lets a waiter in.
            set.idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(conn);
        }
    }
}
