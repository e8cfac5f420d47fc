//! Rows read the same way from either engine.
//!
//! SQLite and PostgreSQL give rows of different types; what havre reads from
//! them is a handful of column types, the same on both (the schema stores
//! every integer as 64 bits, see `migrations.rs`). [`StoreRow`] names those
//! reads, so a record is decoded by one function for both engines.

use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use crate::{QueueEntry, QueueRecipient, RecipientStatus, User};

// The SELECTs whose rows these functions read, the same SQL on both engines.

/// A user's quota as it applies: her own, her class's when she has none
/// (`class_quotas`), none when hers is 0 (unlimited whatever her class).
macro_rules! effective_quota {
    () => {
        "CASE WHEN quota = 0 THEN NULL ELSE COALESCE(quota, \
         (SELECT c.quota FROM class_quotas c WHERE c.class = users.class)) END AS quota"
    };
}

/// `SELECT` of every queue column, followed by the rest of the statement.
macro_rules! select_queue {
    ($rest:literal) => {
        concat!(
            "SELECT id, sender, size, arrival, client, protocol, attempts, next_attempt, hold, \
             hold_reason, warned, node FROM queue_messages ",
            $rest
        )
    };
}

/// The records [`select_queue!`] selects with `$messages`, each followed by
/// its recipients, in the order `$order` of columns of `m`: one query, not
/// one more per record.
macro_rules! select_entries {
    ($messages:literal, $order:literal) => {
        concat!(
            "SELECT m.*, r.idx, r.address, r.orig, r.status, r.last_reply FROM (",
            select_queue!($messages),
            ") m LEFT JOIN queue_recipients r ON r.queue_id = m.id ORDER BY ",
            $order,
            ", m.id, r.idx"
        )
    };
}

type Decoded<T> = std::result::Result<T, sqlx::Error>;

pub(crate) trait StoreRow {
    fn text(&self, column: &str) -> Decoded<String>;
    fn maybe_text(&self, column: &str) -> Decoded<Option<String>>;
    fn int(&self, column: &str) -> Decoded<i64>;
    fn maybe_int(&self, column: &str) -> Decoded<Option<i64>>;
}

macro_rules! store_row {
    ($row:ty) => {
        impl StoreRow for $row {
            fn text(&self, column: &str) -> Decoded<String> {
                self.try_get(column)
            }
            fn maybe_text(&self, column: &str) -> Decoded<Option<String>> {
                self.try_get(column)
            }
            fn int(&self, column: &str) -> Decoded<i64> {
                self.try_get(column)
            }
            fn maybe_int(&self, column: &str) -> Decoded<Option<i64>> {
                self.try_get(column)
            }
        }
    };
}

store_row!(SqliteRow);
store_row!(PgRow);

/// A user's row, her quota as it applies (`effective_quota!`).
pub(crate) fn user_from_row(row: &impl StoreRow) -> Decoded<User> {
    Ok(User {
        email: row.text("email")?,
        password_hash: row.maybe_text("password_hash")?,
        class: row.text("class")?,
        quota: row.maybe_int("quota")?.map(|q| q as u64),
        created_at: row.int("created_at")?,
        disabled: row.int("disabled")? != 0,
    })
}

fn entry_from_row(row: &impl StoreRow) -> Decoded<QueueEntry> {
    Ok(QueueEntry {
        id: row.text("id")?,
        sender: row.text("sender")?,
        size: row.int("size")? as u64,
        arrival: row.int("arrival")?,
        client: row.text("client")?,
        protocol: row.text("protocol")?,
        attempts: row.int("attempts")?,
        next_attempt: row.int("next_attempt")?,
        hold: row.int("hold")? != 0,
        hold_reason: row.maybe_text("hold_reason")?,
        warned: row.int("warned")? != 0,
        node: row.int("node")? as u8,
        recipients: Vec::new(),
    })
}

/// The records of rows from `select_entries!`: each record's columns
/// repeated on each of its recipients' rows, in order.
pub(crate) fn entries_from_rows(rows: &[impl StoreRow]) -> Decoded<Vec<QueueEntry>> {
    let mut entries: Vec<QueueEntry> = Vec::new();
    for row in rows {
        let id = row.text("id")?;
        if entries.last().is_none_or(|last| last.id != id) {
            entries.push(entry_from_row(row)?);
        }
        let Some(idx) = row.maybe_int("idx")? else {
            continue;
        };
        let recipient = QueueRecipient {
            idx,
            address: row.text("address")?,
            orig: row.maybe_text("orig")?,
            status: RecipientStatus::from_i64(row.int("status")?),
            last_reply: row.maybe_text("last_reply")?,
        };
        if let Some(entry) = entries.last_mut() {
            entry.recipients.push(recipient);
        }
    }
    Ok(entries)
}

/// `SELECT` of every column of `nodes`, followed by the rest of the statement.
macro_rules! select_nodes {
    ($rest:literal) => {
        concat!(
            "SELECT id, hostname, roles, address, version, started_at, heartbeat FROM nodes ",
            $rest
        )
    };
}

pub(crate) fn node_from_row(row: &impl StoreRow) -> Decoded<crate::NodeStatus> {
    Ok(crate::NodeStatus {
        id: row.int("id")? as u8,
        hostname: row.text("hostname")?,
        roles: row
            .text("roles")?
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        address: row.text("address")?,
        version: row.text("version")?,
        started_at: row.int("started_at")?,
        heartbeat: row.int("heartbeat")?,
    })
}

/// `(node, on hold, tried, messages, bytes, oldest arrival)` groups as
/// each node's summary, in node order.
pub(crate) fn summaries_by_node(
    groups: Vec<(i64, bool, bool, i64, i64, Option<i64>)>,
) -> Vec<(u8, crate::QueueSummary)> {
    let mut by_node: std::collections::BTreeMap<u8, Vec<_>> = Default::default();
    for (node, hold, tried, count, bytes, oldest) in groups {
        by_node
            .entry(node as u8)
            .or_default()
            .push((hold, tried, count, bytes, oldest));
    }
    by_node
        .into_iter()
        .map(|(node, groups)| (node, crate::QueueSummary::from_groups(groups)))
        .collect()
}
