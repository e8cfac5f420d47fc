//! [`MailStore`] on SQLite.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::mail::{
    FlagEdit, Indexed, flags_to_text, import_uids, mailbox_from_row, message_from_row,
    next_uidvalidity,
};
use crate::script::Script;
use crate::sqlite::already_exists;
use crate::{
    FlagMode, FlagUpdate, MailStore, MailboxInit, MailboxRecord, MessageRecord, NewMessage, Result,
    SqliteStore, StoreError,
};

/// The one INSERT of a message row, for new messages and imports alike,
/// with its search index rows.
async fn insert_message_row(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    mailbox_id: i64,
    uid: i64,
    modseq: i64,
    message: &NewMessage,
) -> std::result::Result<sqlx::sqlite::SqliteQueryResult, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO messages (mailbox_id, uid, file, size, internal_date, flags, modseq, cache)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(mailbox_id)
    .bind(uid)
    .bind(&message.file)
    .bind(message.size as i64)
    .bind(message.internal_date)
    .bind(flags_to_text(&message.flags))
    .bind(modseq)
    .bind(&message.cache)
    .execute(&mut **tx)
    .await?;
    crate::sqlite_search::insert_text(tx, mailbox_id, uid, message.text.as_ref()).await?;
    Ok(inserted)
}

/// The statements of a script that index a new message in `mailbox_id`:
/// at `uidnext`, or at the UID it keeps when that is not below `uidnext`,
/// with a new mod-sequence, and with its search index rows. A file indexed
/// already (a sync of the folder came first) keeps its row, and a mailbox
/// gone meanwhile gets none: neither is an error, the row the statements
/// return tells ([`Indexed::from_row`]).
pub(crate) fn index_message(script: &mut Script, mailbox_id: i64, message: &NewMessage) {
    let mut unit = script.unit();
    let mailbox = unit.bind(mailbox_id);
    let kept = unit.bind(i64::from(message.uid.unwrap_or(0)));
    let file = unit.bind(&message.file);
    let size = unit.bind(message.size as i64);
    let date = unit.bind(message.internal_date);
    let flags = unit.bind(flags_to_text(&message.flags));
    let cache = unit.bind(message.cache.as_deref());
    unit.statement(format_args!(
        "INSERT INTO messages (mailbox_id, uid, file, size, internal_date, flags, modseq, cache)
         SELECT id, max(uidnext, {kept}), {file}, {size}, {date}, {flags}, highestmodseq + 1, {cache}
         FROM mailboxes WHERE id = {mailbox}
         ON CONFLICT (mailbox_id, file) DO NOTHING"
    ));
    // uidnext is above every UID given before: a row of the file at or
    // above it is the one just inserted, until uidnext moves past it.
    let inserted = format!(
        "FROM messages WHERE mailbox_id = {mailbox} AND file = {file}
         AND uid >= (SELECT uidnext FROM mailboxes WHERE id = {mailbox})"
    );
    crate::sqlite_search::index_text(&mut unit, &inserted, message.text.as_ref());
    unit.statement(format_args!(
        "SELECT m.uid, m.modseq, m.uid >= b.uidnext AS inserted
         FROM (SELECT 1) LEFT JOIN mailboxes b ON b.id = {mailbox}
         LEFT JOIN messages m ON m.mailbox_id = b.id AND m.file = {file}"
    ));
    unit.statement(format_args!(
        "UPDATE mailboxes SET uidnext = max(uidnext, {kept}) + 1, highestmodseq = highestmodseq + 1
         WHERE id = {mailbox} AND EXISTS (SELECT 1 {inserted})"
    ));
}

impl Indexed {
    /// What the statements of [`index_message`] did, from the row they return.
    pub(crate) fn from_row(row: &SqliteRow) -> std::result::Result<Indexed, sqlx::Error> {
        let Some(uid) = row.try_get::<Option<i64>, _>("uid")? else {
            return Ok(Indexed::NoMailbox);
        };
        let uid = uid as u32;
        if row.try_get::<i64, _>("inserted")? == 0 {
            return Ok(Indexed::Known { uid });
        }
        let modseq = row.try_get::<i64, _>("modseq")? as u64;
        Ok(Indexed::New { uid, modseq })
    }
}

macro_rules! select_mailbox {
    ($rest:literal) => {
        concat!(
            "SELECT id, user, name, uidvalidity, uidnext, highestmodseq, special_use, \
             EXISTS (SELECT 1 FROM subscriptions s \
                     WHERE s.user = mailboxes.user AND s.name = mailboxes.name) AS subscribed \
             FROM mailboxes ",
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

/// The UIDVALIDITY of a mailbox being created for `user`
/// ([`next_uidvalidity`]), recorded as the highest her mailboxes had.
async fn give_uidvalidity(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    user: &str,
    requested: Option<u32>,
) -> std::result::Result<u32, sqlx::Error> {
    let last: Option<i64> = sqlx::query_scalar("SELECT last FROM uidvalidity_given WHERE user = ?")
        .bind(user)
        .fetch_optional(&mut **tx)
        .await?;
    let given = next_uidvalidity(last.unwrap_or(0), requested);
    sqlx::query(
        "INSERT INTO uidvalidity_given (user, last) VALUES (?, ?)
         ON CONFLICT (user) DO UPDATE SET last = MAX(last, excluded.last)",
    )
    .bind(user)
    .bind(i64::from(given))
    .execute(&mut **tx)
    .await?;
    Ok(given)
}

#[async_trait]
impl MailStore for SqliteStore {
    async fn mailbox_create(
        &self,
        user: &str,
        name: &str,
        init: &MailboxInit,
    ) -> Result<MailboxRecord> {
        let mut tx = self.begin().await?;
        let uidvalidity = give_uidvalidity(&mut tx, user, init.uidvalidity).await?;
        let id = sqlx::query(
            "INSERT INTO mailboxes (user, name, uidvalidity, uidnext, special_use)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(user)
        .bind(name)
        .bind(i64::from(uidvalidity))
        .bind(init.uidnext.unwrap_or(1).max(1) as i64)
        .bind(&init.special_use)
        .execute(&mut *tx)
        .await
        .map_err(|e| already_exists(e, || format!("mailbox {name}")))?
        .last_insert_rowid();
        self.commit(tx).await?;
        self.mailbox_by_id(id)
            .await?
            .ok_or_else(|| StoreError::NoSuchMailbox(name.to_string()))
    }

    async fn mailbox_get(&self, user: &str, name: &str) -> Result<Option<MailboxRecord>> {
        let row = sqlx::query(select_mailbox!("WHERE user = ? AND name = ?"))
            .bind(user)
            .bind(name)
            .fetch_optional(&mut *self.read().await?)
            .await?;
        Ok(row.as_ref().map(mailbox_from_row).transpose()?)
    }

    async fn mailbox_by_id(&self, id: i64) -> Result<Option<MailboxRecord>> {
        let row = sqlx::query(select_mailbox!("WHERE id = ?"))
            .bind(id)
            .fetch_optional(&mut *self.read().await?)
            .await?;
        Ok(row.as_ref().map(mailbox_from_row).transpose()?)
    }

    async fn mailbox_list(&self, user: &str) -> Result<Vec<MailboxRecord>> {
        let rows = sqlx::query(select_mailbox!("WHERE user = ? ORDER BY name"))
            .bind(user)
            .fetch_all(&mut *self.read().await?)
            .await?;
        Ok(rows
            .iter()
            .map(mailbox_from_row)
            .collect::<std::result::Result<_, _>>()?)
    }

    async fn mailbox_rename(&self, id: i64, new_name: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        let old: Option<(String, String)> =
            sqlx::query_as("SELECT user, name FROM mailboxes WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        sqlx::query("UPDATE mailboxes SET name = ? WHERE id = ?")
            .bind(new_name)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| already_exists(e, || format!("mailbox {new_name}")))?;
        if let Some((user, old_name)) = old {
            // The subscription follows the mailbox, as in Dovecot.
            sqlx::query("UPDATE OR REPLACE subscriptions SET name = ? WHERE user = ? AND name = ?")
                .bind(new_name)
                .bind(&user)
                .bind(&old_name)
                .execute(&mut *tx)
                .await?;
        }
        self.commit(tx).await?;
        Ok(())
    }

    async fn mailbox_delete(&self, id: i64) -> Result<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM mailboxes WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM metadata WHERE mailbox_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        self.commit(tx).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn metadata_get(
        &self,
        user: &str,
        mailbox_id: Option<i64>,
    ) -> Result<Vec<(String, Vec<u8>)>> {
        let rows = sqlx::query(
            "SELECT entry, value FROM metadata WHERE user = ? AND mailbox_id = ? ORDER BY entry",
        )
        .bind(user)
        .bind(mailbox_id.unwrap_or(0))
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("entry")?, r.try_get("value")?)))
            .collect()
    }

    async fn metadata_set(
        &self,
        user: &str,
        mailbox_id: Option<i64>,
        changes: &[(String, Option<Vec<u8>>)],
        max_entries: usize,
    ) -> Result<bool> {
        let target = mailbox_id.unwrap_or(0);
        let mut tx = self.begin().await?;
        for (entry, value) in changes {
            let entry = entry.to_ascii_lowercase();
            match value {
                Some(value) => sqlx::query(
                    "INSERT INTO metadata (user, mailbox_id, entry, value) VALUES (?, ?, ?, ?)
                     ON CONFLICT (user, mailbox_id, entry) DO UPDATE SET value = excluded.value",
                )
                .bind(user)
                .bind(target)
                .bind(&entry)
                .bind(value.as_slice()),
                None => sqlx::query(
                    "DELETE FROM metadata WHERE user = ? AND mailbox_id = ? AND entry = ?",
                )
                .bind(user)
                .bind(target)
                .bind(&entry),
            }
            .execute(&mut *tx)
            .await?;
        }
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM metadata WHERE user = ? AND mailbox_id = ?")
                .bind(user)
                .bind(target)
                .fetch_one(&mut *tx)
                .await?;
        if count as usize > max_entries {
            tx.rollback().await?;
            return Ok(false);
        }
        self.commit(tx).await?;
        Ok(true)
    }

    async fn subscription_set(&self, user: &str, name: &str, subscribed: bool) -> Result<()> {
        let sql = if subscribed {
            "INSERT OR IGNORE INTO subscriptions (user, name) VALUES (?, ?)"
        } else {
            "DELETE FROM subscriptions WHERE user = ? AND name = ?"
        };
        self.write(sqlx::query(sql).bind(user).bind(name)).await?;
        Ok(())
    }

    async fn subscriptions(&self, user: &str) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT name FROM subscriptions WHERE user = ? ORDER BY name")
                .bind(user)
                .fetch_all(&mut *self.read().await?)
                .await?,
        )
    }

    async fn mailbox_claim_recent(&self, id: i64) -> Result<std::ops::Range<u32>> {
        let mut tx = self.begin().await?;
        let (from, uidnext): (i64, i64) =
            sqlx::query_as("SELECT recent_from, uidnext FROM mailboxes WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::NoSuchMailbox(id.to_string()))?;
        if from < uidnext {
            sqlx::query("UPDATE mailboxes SET recent_from = ? WHERE id = ?")
                .bind(uidnext)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        self.commit(tx).await?;
        Ok(from as u32..(uidnext.max(from)) as u32)
    }

    async fn mailbox_recent_from(&self, id: i64) -> Result<u32> {
        let from: Option<i64> =
            sqlx::query_scalar("SELECT recent_from FROM mailboxes WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut *self.read().await?)
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
            "SELECT id, uidvalidity, uidnext, highestmodseq FROM mailboxes
             WHERE user = ? AND name = ?",
        )
        .bind(user)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        // `floor`: the lowest UID the mailbox may still give.
        let (id, floor, highestmodseq) = match existing {
            Some((id, uidvalidity, uidnext, highestmodseq)) => {
                let count: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE mailbox_id = ?")
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
                    sqlx::query("DELETE FROM expunged WHERE mailbox_id = ?")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    1
                };
                sqlx::query(
                    "UPDATE mailboxes SET uidvalidity = ?, special_use = COALESCE(?, special_use)
                     WHERE id = ?",
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
                let id = sqlx::query(
                    "INSERT INTO mailboxes (user, name, uidvalidity, uidnext, special_use)
                     VALUES (?, ?, ?, 1, ?)",
                )
                .bind(user)
                .bind(name)
                .bind(i64::from(uidvalidity))
                .bind(&init.special_use)
                .execute(&mut *tx)
                .await?
                .last_insert_rowid();
                (id, 1, 1)
            }
        };
        let modseq = highestmodseq + 1;
        let (uids, uidnext) = import_uids(floor, init.uidnext, messages);
        for (message, uid) in messages.iter().zip(uids) {
            insert_message_row(&mut tx, id, uid as i64, modseq, message)
                .await
                .map_err(|e| already_exists(e, || format!("message {}", message.file)))?;
        }
        // Imported messages were seen on the old server: none is \Recent here.
        sqlx::query(
            "UPDATE mailboxes SET uidnext = ?1, highestmodseq = ?2, recent_from = ?1 WHERE id = ?3",
        )
        .bind(uidnext as i64)
        .bind(if messages.is_empty() {
            highestmodseq
        } else {
            modseq
        })
        .bind(id)
        .execute(&mut *tx)
        .await?;
        self.commit(tx).await?;
        self.mailbox_by_id(id)
            .await?
            .ok_or_else(|| StoreError::NoSuchMailbox(name.to_string()))
    }

    async fn message_insert(&self, mailbox_id: i64, message: &NewMessage) -> Result<(u32, u64)> {
        let mut script = Script::new();
        index_message(&mut script, mailbox_id, message);
        let rows = self.run(script).await?;
        let row = rows.first().ok_or(sqlx::Error::RowNotFound)?;
        match Indexed::from_row(row)? {
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
        let mut tx = self.begin().await?;
        let row = sqlx::query("SELECT uidnext, highestmodseq FROM mailboxes WHERE id = ?")
            .bind(mailbox_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NoSuchMailbox(mailbox_id.to_string()))?;
        let first = row.try_get::<i64, _>("uidnext")? as u32;
        let mut uidnext = first;
        let modseq = row.try_get::<i64, _>("highestmodseq")? as u64 + 1;
        let mut uids = Vec::with_capacity(messages.len());
        for message in messages {
            // Only a row from before this call is adopted: the same file
            // twice in one call is an error, and undoes the whole call.
            let known = sqlx::query(
                "SELECT uid FROM messages WHERE mailbox_id = ? AND file = ? AND uid < ?",
            )
            .bind(mailbox_id)
            .bind(&message.file)
            .bind(first as i64)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(known) = known {
                uids.push(known.try_get::<i64, _>("uid")? as u32);
                continue;
            }
            insert_message_row(&mut tx, mailbox_id, uidnext as i64, modseq as i64, message)
                .await
                .map_err(|e| already_exists(e, || format!("message {}", message.file)))?;
            uids.push(uidnext);
            uidnext += 1;
        }
        sqlx::query("UPDATE mailboxes SET uidnext = ?, highestmodseq = ? WHERE id = ?")
            .bind(uidnext as i64)
            .bind(modseq as i64)
            .bind(mailbox_id)
            .execute(&mut *tx)
            .await?;
        self.commit(tx).await?;
        Ok(uids)
    }

    async fn message_by_file(&self, mailbox_id: i64, file: &str) -> Result<Option<MessageRecord>> {
        let row = sqlx::query(select_message!("WHERE mailbox_id = ? AND file = ?"))
            .bind(mailbox_id)
            .bind(file)
            .fetch_optional(&mut *self.read().await?)
            .await?;
        Ok(row.as_ref().map(message_from_row).transpose()?)
    }

    async fn message_get(&self, mailbox_id: i64, uid: u32) -> Result<Option<MessageRecord>> {
        let row = sqlx::query(select_message!("WHERE mailbox_id = ? AND uid = ?"))
            .bind(mailbox_id)
            .bind(uid as i64)
            .fetch_optional(&mut *self.read().await?)
            .await?;
        Ok(row.as_ref().map(message_from_row).transpose()?)
    }

    async fn message_set_file(&self, mailbox_id: i64, uid: u32, file: &str) -> Result<()> {
        self.write(
            sqlx::query("UPDATE messages SET file = ? WHERE mailbox_id = ? AND uid = ?")
                .bind(file)
                .bind(mailbox_id)
                .bind(uid as i64),
        )
        .await
        .map_err(|e| already_exists(e, || format!("message {file}")))?;
        Ok(())
    }

    async fn message_set_files(&self, mailbox_id: i64, files: &[(u32, String)]) -> Result<()> {
        if files.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        for (uid, file) in files {
            sqlx::query("UPDATE messages SET file = ? WHERE mailbox_id = ? AND uid = ?")
                .bind(file)
                .bind(mailbox_id)
                .bind(*uid as i64)
                .execute(&mut *tx)
                .await
                .map_err(|e| already_exists(e, || format!("message {file}")))?;
        }
        self.commit(tx).await?;
        Ok(())
    }

    async fn message_list_above(&self, mailbox_id: i64, uid: u32) -> Result<Vec<MessageRecord>> {
        let rows = sqlx::query(select_message!(
            "WHERE mailbox_id = ? AND uid > ? ORDER BY uid"
        ))
        .bind(mailbox_id)
        .bind(uid as i64)
        .fetch_all(&mut *self.read().await?)
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
            "WHERE mailbox_id = ? AND modseq > ? ORDER BY uid"
        ))
        .bind(mailbox_id)
        .bind(modseq as i64)
        .fetch_all(&mut *self.read().await?)
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
        // The one writer connection holds this transaction from the read of
        // the stored flags to their update: no other change comes between.
        let mut tx = self.begin().await?;
        let highest: i64 = sqlx::query_scalar("SELECT highestmodseq FROM mailboxes WHERE id = ?")
            .bind(mailbox_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NoSuchMailbox(mailbox_id.to_string()))?;
        let edit = FlagEdit {
            mode,
            flags,
            unchanged_since,
            modseq: highest as u64 + 1,
        };
        let mut result = FlagUpdate::default();
        for uid in uids {
            let row: Option<(String, i64, String)> = sqlx::query_as(
                "SELECT flags, modseq, file FROM messages WHERE mailbox_id = ? AND uid = ?",
            )
            .bind(mailbox_id)
            .bind(*uid as i64)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((stored, stored_modseq, file)) = row else {
                continue;
            };
            let Some(change) = edit.apply(&mut result, *uid, &stored, stored_modseq as u64, file)
            else {
                continue;
            };
            sqlx::query(
                "UPDATE messages SET flags = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?",
            )
            .bind(flags_to_text(&change.flags))
            .bind(edit.modseq as i64)
            .bind(mailbox_id)
            .bind(*uid as i64)
            .execute(&mut *tx)
            .await?;
        }
        if !result.changed.is_empty() {
            sqlx::query("UPDATE mailboxes SET highestmodseq = ? WHERE id = ?")
                .bind(edit.modseq as i64)
                .bind(mailbox_id)
                .execute(&mut *tx)
                .await?;
        }
        self.commit(tx).await?;
        Ok(result)
    }

    async fn message_cache(&self, mailbox_id: i64, uid: u32) -> Result<Option<String>> {
        let cache: Option<Option<String>> =
            sqlx::query_scalar("SELECT cache FROM messages WHERE mailbox_id = ? AND uid = ?")
                .bind(mailbox_id)
                .bind(uid as i64)
                .fetch_optional(&mut *self.read().await?)
                .await?;
        Ok(cache.flatten())
    }

    async fn message_set_cache(&self, mailbox_id: i64, uid: u32, cache: &str) -> Result<()> {
        self.write_derived(
            sqlx::query("UPDATE messages SET cache = ? WHERE mailbox_id = ? AND uid = ?")
                .bind(cache)
                .bind(mailbox_id)
                .bind(uid as i64),
        )
        .await?;
        Ok(())
    }

    async fn message_expunge(&self, mailbox_id: i64, uids: &[u32]) -> Result<u64> {
        let mut tx = self.begin().await?;
        let modseq: i64 = sqlx::query_scalar("SELECT highestmodseq FROM mailboxes WHERE id = ?")
            .bind(mailbox_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NoSuchMailbox(mailbox_id.to_string()))?;
        let modseq = modseq + 1;
        for uid in uids {
            let done = sqlx::query("DELETE FROM messages WHERE mailbox_id = ? AND uid = ?")
                .bind(mailbox_id)
                .bind(*uid as i64)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() > 0 {
                sqlx::query(
                    "INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)",
                )
                .bind(mailbox_id)
                .bind(*uid as i64)
                .bind(modseq)
                .execute(&mut *tx)
                .await?;
            }
        }
        sqlx::query("UPDATE mailboxes SET highestmodseq = ? WHERE id = ?")
            .bind(modseq)
            .bind(mailbox_id)
            .execute(&mut *tx)
            .await?;
        self.commit(tx).await?;
        Ok(modseq as u64)
    }

    async fn expunged_since(&self, mailbox_id: i64, modseq: u64) -> Result<Vec<u32>> {
        let uids: Vec<i64> = sqlx::query_scalar(
            "SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid",
        )
        .bind(mailbox_id)
        .bind(modseq as i64)
        .fetch_all(&mut *self.read().await?)
        .await?;
        Ok(uids.into_iter().map(|u| u as u32).collect())
    }

    async fn quota_used(&self, user: &str) -> Result<u64> {
        let used: i64 =
            sqlx::query_scalar("SELECT COALESCE(SUM(bytes), 0) FROM mailboxes WHERE user = ?")
                .bind(user)
                .fetch_one(&mut *self.read().await?)
                .await?;
        Ok(used as u64)
    }
}
