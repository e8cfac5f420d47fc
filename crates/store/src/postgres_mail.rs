//! [`MailStore`] on PostgreSQL.
//!
//! Several nodes write at once: a transaction that gives UIDs or
//! mod-sequences, or writes several messages' rows, starts by locking its
//! mailbox's row ([`lock_mailbox`]) and holds it to its commit. The
//! counters it read are still the mailbox's when it writes them back, and
//! two writers of the same messages never hold some rows each while
//! waiting for the other's. A user's UIDVALIDITY floor and a mailbox's
//! recent mark are read under the same kind of lock. Transactions run at
//! READ COMMITTED: every statement after the lock sees what the previous
//! holder committed.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use sqlx::PgConnection;

use crate::mail::{
    FlagEdit, Indexed, flags_to_text, import_uids, mailbox_from_row, message_from_row,
    next_uidvalidity,
};
use crate::postgres_search::insert_texts;
use crate::sqlite::already_exists;
use crate::{
    FlagMode, FlagUpdate, MailStore, MailboxInit, MailboxRecord, MessageRecord, NewMessage,
    PostgresStore, Result, StoreError,
};

type Sql<T> = std::result::Result<T, sqlx::Error>;

macro_rules! select_mailbox {
    ($rest:literal) => {
        concat!(
            r#"SELECT id, "user", name, uidvalidity, uidnext, highestmodseq, special_use,
               CAST(CASE WHEN EXISTS (SELECT 1 FROM subscriptions s
                   WHERE s."user" = mailboxes."user" AND s.name = mailboxes.name)
                   THEN 1 ELSE 0 END AS BIGINT) AS subscribed
               FROM mailboxes "#,
            $rest
        )
    };
}

macro_rules! select_message {
    ($rest:literal) => {
        concat!(
            "SELECT uid, file, size, internal_date, flags, modseq, NULL AS cache FROM messages ",
            $rest
        )
    };
}

/// Locks mailbox `id`'s row until the commit and reads its `uidnext` and
/// `highestmodseq`; `None` when there is no such mailbox.
async fn lock_mailbox(conn: &mut PgConnection, id: i64) -> Sql<Option<(i64, i64)>> {
    sqlx::query_as("SELECT uidnext, highestmodseq FROM mailboxes WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(conn)
        .await
}

async fn set_counters(
    conn: &mut PgConnection,
    id: i64,
    uidnext: i64,
    highestmodseq: i64,
) -> Sql<()> {
    sqlx::query("UPDATE mailboxes SET uidnext = $2, highestmodseq = $3 WHERE id = $1")
        .bind(id)
        .bind(uidnext)
        .bind(highestmodseq)
        .execute(conn)
        .await?;
    Ok(())
}

/// One column of the rows [`insert_messages`] inserts, bound as an array.
fn column<'m, T>(rows: &[(i64, &'m NewMessage)], get: impl Fn(&'m NewMessage) -> T) -> Vec<T> {
    rows.iter().map(|(_, message)| get(message)).collect()
}

/// Inserts message rows (`uid`, message) of `mailbox_id` at `modseq`, with
/// their search index rows, in one statement each.
async fn insert_messages(
    conn: &mut PgConnection,
    mailbox_id: i64,
    modseq: i64,
    rows: &[(i64, &NewMessage)],
) -> Sql<()> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO messages (mailbox_id, uid, file, size, internal_date, flags, modseq, cache)
         SELECT $1, uid, file, size, internal_date, flags, $2, cache
         FROM UNNEST($3::BIGINT[], $4::TEXT[], $5::BIGINT[], $6::BIGINT[], $7::TEXT[], $8::TEXT[])
             AS m(uid, file, size, internal_date, flags, cache)",
    )
    .bind(mailbox_id)
    .bind(modseq)
    .bind(rows.iter().map(|(uid, _)| *uid).collect::<Vec<i64>>())
    .bind(column(rows, |m| m.file.as_str()))
    .bind(column(rows, |m| m.size as i64))
    .bind(column(rows, |m| m.internal_date))
    .bind(column(rows, |m| flags_to_text(&m.flags)))
    .bind(column(rows, |m| m.cache.as_deref()))
    .execute(&mut *conn)
    .await?;
    let texts: Vec<_> = rows
        .iter()
        .map(|(uid, m)| (*uid, m.text.as_ref()))
        .collect();
    insert_texts(conn, mailbox_id, &texts).await
}

/// The first file named twice among messages to insert together: the
/// statement would refuse it, without saying which.
fn repeated_file<'m>(messages: impl IntoIterator<Item = &'m NewMessage>) -> Option<&'m str> {
    let mut seen = HashSet::new();
    messages
        .into_iter()
        .map(|message| message.file.as_str())
        .find(|file| !seen.insert(*file))
}

/// What `havre_deliver` answered for a message (`indexed`, `indexed_uid`,
/// `indexed_modseq`), as [`Indexed`].
pub(crate) fn indexed_from(
    indexed: &str,
    uid: Option<i64>,
    modseq: Option<i64>,
) -> Result<Indexed> {
    let number = |value: Option<i64>| {
        value.ok_or_else(|| {
            StoreError::Database(sqlx::Error::Protocol(format!(
                "havre_deliver answered {indexed} without its UID"
            )))
        })
    };
    Ok(match indexed {
        "new" => Indexed::New {
            uid: number(uid)? as u32,
            modseq: number(modseq)? as u64,
        },
        "known" => Indexed::Known {
            uid: number(uid)? as u32,
        },
        _ => Indexed::NoMailbox,
    })
}

/// The UIDVALIDITY of a mailbox being created for `user`
/// ([`next_uidvalidity`]), recorded as the highest her mailboxes had. Her
/// row stays locked until the commit: two creations never start from the
/// same value.
async fn give_uidvalidity(conn: &mut PgConnection, user: &str, requested: Option<u32>) -> Sql<u32> {
    let last: i64 = sqlx::query_scalar(
        r#"INSERT INTO uidvalidity_given ("user", last) VALUES ($1, 0)
           ON CONFLICT ("user") DO UPDATE SET last = uidvalidity_given.last RETURNING last"#,
    )
    .bind(user)
    .fetch_one(&mut *conn)
    .await?;
    let given = next_uidvalidity(last, requested);
    sqlx::query(r#"UPDATE uidvalidity_given SET last = GREATEST(last, $2) WHERE "user" = $1"#)
        .bind(user)
        .bind(i64::from(given))
        .execute(conn)
        .await?;
    Ok(given)
}

#[async_trait]
impl MailStore for PostgresStore {
    async fn mailbox_create(
        &self,
        user: &str,
        name: &str,
        init: &MailboxInit,
    ) -> Result<MailboxRecord> {
        let mut tx = self.begin().await?;
        let uidvalidity = give_uidvalidity(&mut tx, user, init.uidvalidity).await?;
        let id: i64 = sqlx::query_scalar(
            r#"INSERT INTO mailboxes ("user", name, uidvalidity, uidnext, special_use)
               VALUES ($1, $2, $3, $4, $5) RETURNING id"#,
        )
        .bind(user)
        .bind(name)
        .bind(i64::from(uidvalidity))
        .bind(i64::from(init.uidnext.unwrap_or(1).max(1)))
        .bind(&init.special_use)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| already_exists(e, || format!("mailbox {name}")))?;
        tx.commit().await?;
        self.mailbox_by_id(id)
            .await?
            .ok_or_else(|| StoreError::NoSuchMailbox(name.to_string()))
    }

    async fn mailbox_get(&self, user: &str, name: &str) -> Result<Option<MailboxRecord>> {
        let row = sqlx::query(select_mailbox!(r#"WHERE "user" = $1 AND name = $2"#))
            .bind(user)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(mailbox_from_row).transpose()?)
    }

    async fn mailbox_by_id(&self, id: i64) -> Result<Option<MailboxRecord>> {
        let row = sqlx::query(select_mailbox!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(mailbox_from_row).transpose()?)
    }

    async fn mailbox_list(&self, user: &str) -> Result<Vec<MailboxRecord>> {
        // Byte order, as SQLite sorts, whatever the database's collation.
        let rows = sqlx::query(select_mailbox!(
            r#"WHERE "user" = $1 ORDER BY name COLLATE "C""#
        ))
        .bind(user)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(mailbox_from_row)
            .collect::<std::result::Result<_, _>>()?)
    }

    async fn mailbox_rename(&self, id: i64, new_name: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        let old: Option<(String, String)> =
            sqlx::query_as(r#"SELECT "user", name FROM mailboxes WHERE id = $1 FOR UPDATE"#)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        sqlx::query("UPDATE mailboxes SET name = $1 WHERE id = $2")
            .bind(new_name)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| already_exists(e, || format!("mailbox {new_name}")))?;
        if let Some((user, old_name)) = old {
            // The subscription follows the mailbox, as in Dovecot, and
            // replaces one of the new name.
            sqlx::query(
                r#"WITH moved AS (
                       DELETE FROM subscriptions WHERE "user" = $1 AND name = $2 RETURNING "user")
                   INSERT INTO subscriptions ("user", name) SELECT "user", $3 FROM moved
                   ON CONFLICT DO NOTHING"#,
            )
            .bind(&user)
            .bind(&old_name)
            .bind(new_name)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn mailbox_delete(&self, id: i64) -> Result<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM mailboxes WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM metadata WHERE mailbox_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn metadata_get(
        &self,
        user: &str,
        mailbox_id: Option<i64>,
    ) -> Result<Vec<(String, Vec<u8>)>> {
        Ok(sqlx::query_as(
            r#"SELECT entry, value FROM metadata WHERE "user" = $1 AND mailbox_id = $2
               ORDER BY entry COLLATE "C""#,
        )
        .bind(user)
        .bind(mailbox_id.unwrap_or(0))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn metadata_set(
        &self,
        user: &str,
        mailbox_id: Option<i64>,
        changes: &[(String, Option<Vec<u8>>)],
        max_entries: usize,
    ) -> Result<bool> {
        let target = mailbox_id.unwrap_or(0);
        // Changes apply in order: an entry named twice ends as its last.
        let last: HashMap<String, Option<&[u8]>> = changes
            .iter()
            .map(|(entry, value)| (entry.to_ascii_lowercase(), value.as_deref()))
            .collect();
        let (set, removed): (Vec<_>, Vec<_>) = last.into_iter().partition(|(_, v)| v.is_some());
        let mut tx = self.begin().await?;
        // The count decides the commit: another node's entries of the same
        // place must not come between it and the commit.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(format!("metadata {user} {target}"))
            .execute(&mut *tx)
            .await?;
        if !removed.is_empty() {
            sqlx::query(
                r#"DELETE FROM metadata WHERE "user" = $1 AND mailbox_id = $2 AND entry = ANY($3)"#,
            )
            .bind(user)
            .bind(target)
            .bind(
                removed
                    .into_iter()
                    .map(|(entry, _)| entry)
                    .collect::<Vec<_>>(),
            )
            .execute(&mut *tx)
            .await?;
        }
        if !set.is_empty() {
            let (entries, values): (Vec<String>, Vec<&[u8]>) = set
                .into_iter()
                .filter_map(|(entry, value)| Some((entry, value?)))
                .unzip();
            sqlx::query(
                r#"INSERT INTO metadata ("user", mailbox_id, entry, value)
                   SELECT $1, $2, * FROM UNNEST($3::TEXT[], $4::BYTEA[])
                   ON CONFLICT ("user", mailbox_id, entry) DO UPDATE SET value = excluded.value"#,
            )
            .bind(user)
            .bind(target)
            .bind(entries)
            .bind(values)
            .execute(&mut *tx)
            .await?;
        }
        let count: i64 = sqlx::query_scalar(
            r#"SELECT COUNT(*) FROM metadata WHERE "user" = $1 AND mailbox_id = $2"#,
        )
        .bind(user)
        .bind(target)
        .fetch_one(&mut *tx)
        .await?;
        if count as usize > max_entries {
            tx.rollback().await?;
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn subscription_set(&self, user: &str, name: &str, subscribed: bool) -> Result<()> {
        let sql = if subscribed {
            r#"INSERT INTO subscriptions ("user", name) VALUES ($1, $2) ON CONFLICT DO NOTHING"#
        } else {
            r#"DELETE FROM subscriptions WHERE "user" = $1 AND name = $2"#
        };
        sqlx::query(sql)
            .bind(user)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn subscriptions(&self, user: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            r#"SELECT name FROM subscriptions WHERE "user" = $1 ORDER BY name COLLATE "C""#,
        )
        .bind(user)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn mailbox_claim_recent(&self, id: i64) -> Result<std::ops::Range<u32>> {
        let mut tx = self.begin().await?;
        let (from, uidnext): (i64, i64) =
            sqlx::query_as("SELECT recent_from, uidnext FROM mailboxes WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::NoSuchMailbox(id.to_string()))?;
        if from < uidnext {
            sqlx::query("UPDATE mailboxes SET recent_from = $1 WHERE id = $2")
                .bind(uidnext)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(from as u32..(uidnext.max(from)) as u32)
    }

    async fn mailbox_recent_from(&self, id: i64) -> Result<u32> {
        let from: Option<i64> =
            sqlx::query_scalar("SELECT recent_from FROM mailboxes WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(from.ok_or_else(|| StoreError::NoSuchMailbox(id.to_string()))? as u32)
    }

    async fn mailbox_import(
        &self,
        user: &str,
        name: &str,
        init: &MailboxInit,
        messages: &[NewMessage],
    ) -> Result<MailboxRecord> {
        let mut tx = self.begin().await?;
        let existing: Option<(i64, i64, i64, i64)> = sqlx::query_as(
            r#"SELECT id, uidvalidity, uidnext, highestmodseq FROM mailboxes
               WHERE "user" = $1 AND name = $2 FOR UPDATE"#,
        )
        .bind(user)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        // `floor`: the lowest UID the mailbox may still give.
        let (id, floor, highestmodseq) = match existing {
            Some((id, uidvalidity, uidnext, highestmodseq)) => {
                let count: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE mailbox_id = $1")
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await?;
                if count > 0 {
                    return Err(StoreError::AlreadyExists(format!(
                        "mailbox {name} with {count} message(s)"
                    )));
                }
                let new_uidvalidity = match init.uidvalidity {
                    Some(requested) => {
                        i64::from(give_uidvalidity(&mut tx, user, Some(requested)).await?)
                    }
                    None => uidvalidity,
                };
                let floor = if new_uidvalidity == uidvalidity {
                    // Same UIDVALIDITY: UIDs given before must not come back.
                    uidnext as u32
                } else {
                    // A new UIDVALIDITY: what clients knew of the old UIDs is void.
                    sqlx::query("DELETE FROM expunged WHERE mailbox_id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    1
                };
                sqlx::query(
                    "UPDATE mailboxes SET uidvalidity = $1, special_use = COALESCE($2, special_use)
                     WHERE id = $3",
                )
                .bind(new_uidvalidity)
                .bind(&init.special_use)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                (id, floor.max(1), highestmodseq)
            }
            None => {
                let uidvalidity = give_uidvalidity(&mut tx, user, init.uidvalidity).await?;
                let id: i64 = sqlx::query_scalar(
                    r#"INSERT INTO mailboxes ("user", name, uidvalidity, uidnext, special_use)
                       VALUES ($1, $2, $3, 1, $4) RETURNING id"#,
                )
                .bind(user)
                .bind(name)
                .bind(i64::from(uidvalidity))
                .bind(&init.special_use)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| already_exists(e, || format!("mailbox {name}")))?;
                (id, 1, 1)
            }
        };
        if let Some(file) = repeated_file(messages) {
            return Err(StoreError::AlreadyExists(format!("message {file}")));
        }
        let modseq = highestmodseq + 1;
        let (uids, uidnext) = import_uids(floor, init.uidnext, messages);
        let rows: Vec<(i64, &NewMessage)> = uids.into_iter().map(i64::from).zip(messages).collect();
        insert_messages(&mut tx, id, modseq, &rows).await?;
        // Imported messages were seen on the old server: none is \Recent here.
        sqlx::query(
            "UPDATE mailboxes SET uidnext = $1, highestmodseq = $2, recent_from = $1 WHERE id = $3",
        )
        .bind(i64::from(uidnext))
        .bind(if messages.is_empty() {
            highestmodseq
        } else {
            modseq
        })
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.mailbox_by_id(id)
            .await?
            .ok_or_else(|| StoreError::NoSuchMailbox(name.to_string()))
    }

    async fn message_insert(&self, mailbox_id: i64, message: &NewMessage) -> Result<(u32, u64)> {
        match self.deliveries.index(mailbox_id, message.clone()).await? {
            Indexed::New { uid, modseq } => Ok((uid, modseq)),
            Indexed::Known { .. } => Err(StoreError::AlreadyExists(format!(
                "message {}",
                message.file
            ))),
            Indexed::NoMailbox => Err(StoreError::NoSuchMailbox(mailbox_id.to_string())),
        }
    }

    async fn message_insert_all(
        &self,
        mailbox_id: i64,
        messages: &[NewMessage],
    ) -> Result<Vec<u32>> {
        let mut tx = self.begin_locking().await?;
        let (mut uidnext, highest) = lock_mailbox(&mut tx, mailbox_id)
            .await?
            .ok_or_else(|| StoreError::NoSuchMailbox(mailbox_id.to_string()))?;
        let modseq = highest + 1;
        // Rows from before this call are adopted (the lock keeps others
        // from coming meanwhile); the same file twice in the call is an
        // error, and undoes the whole call.
        let known: HashMap<String, i64> = sqlx::query_as(
            "SELECT file, uid FROM messages WHERE mailbox_id = $1 AND file = ANY($2)",
        )
        .bind(mailbox_id)
        .bind(messages.iter().map(|m| m.file.as_str()).collect::<Vec<_>>())
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        let mut fresh: Vec<(i64, &NewMessage)> = Vec::new();
        let mut uids = Vec::with_capacity(messages.len());
        for message in messages {
            let uid = known.get(&message.file).copied().unwrap_or_else(|| {
                fresh.push((uidnext, message));
                uidnext += 1;
                uidnext - 1
            });
            uids.push(uid as u32);
        }
        if let Some(file) = repeated_file(fresh.iter().map(|(_, message)| *message)) {
            return Err(StoreError::AlreadyExists(format!("message {file}")));
        }
        insert_messages(&mut tx, mailbox_id, modseq, &fresh).await?;
        set_counters(&mut tx, mailbox_id, uidnext, modseq).await?;
        tx.commit().await?;
        Ok(uids)
    }

    async fn message_by_file(&self, mailbox_id: i64, file: &str) -> Result<Option<MessageRecord>> {
        let row = sqlx::query(select_message!("WHERE mailbox_id = $1 AND file = $2"))
            .bind(mailbox_id)
            .bind(file)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(message_from_row).transpose()?)
    }

    async fn message_get(&self, mailbox_id: i64, uid: u32) -> Result<Option<MessageRecord>> {
        let row = sqlx::query(select_message!("WHERE mailbox_id = $1 AND uid = $2"))
            .bind(mailbox_id)
            .bind(i64::from(uid))
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(message_from_row).transpose()?)
    }

    async fn message_set_file(&self, mailbox_id: i64, uid: u32, file: &str) -> Result<()> {
        sqlx::query("UPDATE messages SET file = $1 WHERE mailbox_id = $2 AND uid = $3")
            .bind(file)
            .bind(mailbox_id)
            .bind(i64::from(uid))
            .execute(&self.pool)
            .await
            .map_err(|e| already_exists(e, || format!("message {file}")))?;
        Ok(())
    }

    async fn message_set_files(&self, mailbox_id: i64, files: &[(u32, String)]) -> Result<()> {
        if files.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        lock_mailbox(&mut tx, mailbox_id).await?;
        sqlx::query(
            "UPDATE messages m SET file = f.file
             FROM UNNEST($2::BIGINT[], $3::TEXT[]) AS f(uid, file)
             WHERE m.mailbox_id = $1 AND m.uid = f.uid",
        )
        .bind(mailbox_id)
        .bind(
            files
                .iter()
                .map(|(uid, _)| i64::from(*uid))
                .collect::<Vec<_>>(),
        )
        .bind(
            files
                .iter()
                .map(|(_, file)| file.as_str())
                .collect::<Vec<_>>(),
        )
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            already_exists(e, || match files {
                [(_, file)] => format!("message {file}"),
                _ => format!("a message file among {} renamed", files.len()),
            })
        })?;
        tx.commit().await?;
        Ok(())
    }

    async fn message_list_above(&self, mailbox_id: i64, uid: u32) -> Result<Vec<MessageRecord>> {
        let rows = sqlx::query(select_message!(
            "WHERE mailbox_id = $1 AND uid > $2 ORDER BY uid"
        ))
        .bind(mailbox_id)
        .bind(i64::from(uid))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(message_from_row)
            .collect::<std::result::Result<_, _>>()?)
    }

    async fn message_list(&self, mailbox_id: i64) -> Result<Vec<MessageRecord>> {
        // UIDs start at 1.
        self.message_list_above(mailbox_id, 0).await
    }

    async fn message_changes(&self, mailbox_id: i64, modseq: u64) -> Result<Vec<MessageRecord>> {
        let rows = sqlx::query(select_message!(
            "WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid"
        ))
        .bind(mailbox_id)
        .bind(modseq as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(message_from_row)
            .collect::<std::result::Result<_, _>>()?)
    }

    async fn message_update_flags(
        &self,
        mailbox_id: i64,
        uids: &[u32],
        mode: FlagMode,
        flags: &[String],
        unchanged_since: Option<u64>,
    ) -> Result<FlagUpdate> {
        let mut tx = self.begin_locking().await?;
        let (_, highest) = lock_mailbox(&mut tx, mailbox_id)
            .await?
            .ok_or_else(|| StoreError::NoSuchMailbox(mailbox_id.to_string()))?;
        let edit = FlagEdit {
            mode,
            flags,
            unchanged_since,
            modseq: highest as u64 + 1,
        };
        let rows: Vec<(i64, String, i64, String)> = sqlx::query_as(
            "SELECT uid, flags, modseq, file FROM messages WHERE mailbox_id = $1 AND uid = ANY($2)",
        )
        .bind(mailbox_id)
        .bind(uids.iter().map(|uid| i64::from(*uid)).collect::<Vec<_>>())
        .fetch_all(&mut *tx)
        .await?;
        let mut stored: HashMap<u32, (String, u64, String)> = rows
            .into_iter()
            .map(|(uid, flags, modseq, file)| (uid as u32, (flags, modseq as u64, file)))
            .collect();
        let mut result = FlagUpdate::default();
        for uid in uids {
            let Some((flags, modseq, file)) = stored.get_mut(uid) else {
                continue;
            };
            // A UID named twice finds the flags its first mention left.
            if let Some(change) = edit.apply(&mut result, *uid, flags, *modseq, file.clone()) {
                *flags = flags_to_text(&change.flags);
                *modseq = change.modseq;
            }
        }
        if !result.changed.is_empty() {
            sqlx::query(
                "WITH changed AS (
                     UPDATE messages m SET flags = c.flags, modseq = $2
                     FROM UNNEST($3::BIGINT[], $4::TEXT[]) AS c(uid, flags)
                     WHERE m.mailbox_id = $1 AND m.uid = c.uid)
                 UPDATE mailboxes SET highestmodseq = $2 WHERE id = $1",
            )
            .bind(mailbox_id)
            .bind(edit.modseq as i64)
            .bind(
                result
                    .changed
                    .iter()
                    .map(|c| i64::from(c.uid))
                    .collect::<Vec<_>>(),
            )
            .bind(
                result
                    .changed
                    .iter()
                    .map(|c| flags_to_text(&c.flags))
                    .collect::<Vec<_>>(),
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(result)
    }

    async fn message_cache(&self, mailbox_id: i64, uid: u32) -> Result<Option<String>> {
        let cache: Option<Option<String>> =
            sqlx::query_scalar("SELECT cache FROM messages WHERE mailbox_id = $1 AND uid = $2")
                .bind(mailbox_id)
                .bind(i64::from(uid))
                .fetch_optional(&self.pool)
                .await?;
        Ok(cache.flatten())
    }

    async fn message_set_cache(&self, mailbox_id: i64, uid: u32, cache: &str) -> Result<()> {
        sqlx::query("UPDATE messages SET cache = $1 WHERE mailbox_id = $2 AND uid = $3")
            .bind(cache)
            .bind(mailbox_id)
            .bind(i64::from(uid))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn message_expunge(&self, mailbox_id: i64, uids: &[u32]) -> Result<u64> {
        let mut tx = self.begin_locking().await?;
        let (_, highest) = lock_mailbox(&mut tx, mailbox_id)
            .await?
            .ok_or_else(|| StoreError::NoSuchMailbox(mailbox_id.to_string()))?;
        let modseq = highest + 1;
        sqlx::query(
            "WITH gone AS (
                 DELETE FROM messages WHERE mailbox_id = $1 AND uid = ANY($2) RETURNING uid)
             INSERT INTO expunged (mailbox_id, uid, modseq) SELECT $1, uid, $3 FROM gone
             ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq",
        )
        .bind(mailbox_id)
        .bind(uids.iter().map(|uid| i64::from(*uid)).collect::<Vec<_>>())
        .bind(modseq)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE mailboxes SET highestmodseq = $1 WHERE id = $2")
            .bind(modseq)
            .bind(mailbox_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(modseq as u64)
    }

    async fn expunged_since(&self, mailbox_id: i64, modseq: u64) -> Result<Vec<u32>> {
        let uids: Vec<i64> = sqlx::query_scalar(
            "SELECT uid FROM expunged WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid",
        )
        .bind(mailbox_id)
        .bind(modseq as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(uids.into_iter().map(|u| u as u32).collect())
    }

    async fn quota_used(&self, user: &str) -> Result<u64> {
        let used: i64 = sqlx::query_scalar(
            r#"SELECT CAST(COALESCE(SUM(bytes), 0) AS BIGINT) FROM mailboxes WHERE "user" = $1"#,
        )
        .bind(user)
        .fetch_one(&self.pool)
        .await?;
        Ok(used as u64)
    }
}
