//! [`SearchStore`] on SQLite: a narrow table of header fields, scanned with
//! `instr` (a mailbox of 100,000 messages is a few megabytes of it), and a
//! table of header and body text kept apart so that header searches never
//! page through bodies. Both rows reference the message's row and go with
//! it (expunge, mailbox deletion) by cascade. The header lines FETCH
//! lists messages with come first in the text row: reading them never
//! touches the body's overflow pages.
//!
//! `instr` compares bytes of UTF-8 text: on folded text with a folded
//! needle it is the exact case-insensitive substring test of IMAP.

use async_trait::async_trait;
use sqlx::Row;

use crate::mail::message_from_row;
use crate::script::Unit;
use crate::{
    IndexedField, IndexedText, MailboxCounts, MessageRecord, Result, SearchStore, SqliteStore,
};

/// Writes the index rows of a message just inserted, in the caller's
/// transaction; without a text the message is pending.
pub(crate) async fn insert_text(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    mailbox_id: i64,
    uid: i64,
    text: Option<&IndexedText>,
) -> std::result::Result<(), sqlx::Error> {
    let Some(text) = text else {
        sqlx::query("INSERT OR IGNORE INTO search_pending (mailbox_id, uid) VALUES (?, ?)")
            .bind(mailbox_id)
            .bind(uid)
            .execute(&mut **tx)
            .await?;
        return Ok(());
    };
    sqlx::query(
        "INSERT OR REPLACE INTO message_headers
         (mailbox_id, uid, subject, addr_from, addr_to, addr_cc, addr_bcc)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(mailbox_id)
    .bind(uid)
    .bind(&text.subject)
    .bind(&text.from)
    .bind(&text.to)
    .bind(&text.cc)
    .bind(&text.bcc)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT OR REPLACE INTO message_texts (mailbox_id, uid, fields, header, body)
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(mailbox_id)
    .bind(uid)
    .bind(&text.fields)
    .bind(&text.header)
    .bind(&text.body)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The statements of a script that write the index rows of the message
/// `selected` names (a `FROM ... WHERE ...` of its `mailbox_id` and `uid`),
/// if it names one; without a text the message is pending.
pub(crate) fn index_text(unit: &mut Unit<'_>, selected: &str, text: Option<&IndexedText>) {
    let Some(text) = text else {
        unit.statement(format_args!(
            "INSERT OR IGNORE INTO search_pending (mailbox_id, uid) SELECT mailbox_id, uid {selected}"
        ));
        return;
    };
    let subject = unit.bind(text.subject.as_deref());
    let from = unit.bind(text.from.as_deref());
    let to = unit.bind(text.to.as_deref());
    let cc = unit.bind(text.cc.as_deref());
    let bcc = unit.bind(text.bcc.as_deref());
    unit.statement(format_args!(
        "INSERT OR REPLACE INTO message_headers
         (mailbox_id, uid, subject, addr_from, addr_to, addr_cc, addr_bcc)
         SELECT mailbox_id, uid, {subject}, {from}, {to}, {cc}, {bcc} {selected}"
    ));
    let fields = unit.bind(text.fields.as_deref());
    let header = unit.bind(&text.header);
    let body = unit.bind(&text.body);
    unit.statement(format_args!(
        "INSERT OR REPLACE INTO message_texts (mailbox_id, uid, fields, header, body)
         SELECT mailbox_id, uid, {fields}, {header}, {body} {selected}"
    ));
}

fn condition(field: IndexedField) -> &'static str {
    match field {
        IndexedField::Subject => {
            "SELECT uid FROM message_headers WHERE mailbox_id = ?1 AND instr(subject, ?2) > 0"
        }
        IndexedField::From => {
            "SELECT uid FROM message_headers WHERE mailbox_id = ?1 AND instr(addr_from, ?2) > 0"
        }
        IndexedField::To => {
            "SELECT uid FROM message_headers WHERE mailbox_id = ?1 AND instr(addr_to, ?2) > 0"
        }
        IndexedField::Cc => {
            "SELECT uid FROM message_headers WHERE mailbox_id = ?1 AND instr(addr_cc, ?2) > 0"
        }
        IndexedField::Bcc => {
            "SELECT uid FROM message_headers WHERE mailbox_id = ?1 AND instr(addr_bcc, ?2) > 0"
        }
        IndexedField::Body => {
            "SELECT uid FROM message_texts WHERE mailbox_id = ?1 AND instr(body, ?2) > 0"
        }
        IndexedField::Text => {
            "SELECT uid FROM message_texts WHERE mailbox_id = ?1 AND (instr(header, ?2) > 0 OR instr(body, ?2) > 0)"
        }
    }
}

#[async_trait]
impl SearchStore for SqliteStore {
    async fn mailbox_counts(&self, mailbox_id: i64) -> Result<MailboxCounts> {
        // Flags are stored space-separated; system flags compare without
        // regard to ASCII case, as the sessions do.
        let row = sqlx::query(
            r"SELECT COUNT(*) AS messages,
                 COALESCE(SUM(instr(' ' || lower(flags) || ' ', ' \seen ') = 0), 0) AS unseen,
                 COALESCE(SUM(instr(' ' || lower(flags) || ' ', ' \deleted ') > 0), 0) AS deleted,
                 COALESCE(SUM(size), 0) AS size,
                 COALESCE(SUM(uid >= (SELECT recent_from FROM mailboxes WHERE id = ?1)), 0)
                     AS unclaimed
              FROM messages WHERE mailbox_id = ?1",
        )
        .bind(mailbox_id)
        .fetch_one(&mut *self.read().await?)
        .await?;
        let get = |name: &str| -> std::result::Result<u64, sqlx::Error> {
            Ok(row.try_get::<i64, _>(name)? as u64)
        };
        Ok(MailboxCounts {
            messages: get("messages")?,
            unseen: get("unseen")?,
            deleted: get("deleted")?,
            size: get("size")?,
            unclaimed_recent: get("unclaimed")?,
        })
    }

    async fn text_search(
        &self,
        mailbox_id: i64,
        field: IndexedField,
        folded: &str,
    ) -> Result<Vec<u32>> {
        let uids: Vec<i64> = sqlx::query_scalar(condition(field))
            .bind(mailbox_id)
            .bind(folded)
            .fetch_all(&mut *self.read().await?)
            .await?;
        Ok(uids.into_iter().map(|u| u as u32).collect())
    }

    async fn message_fields(&self, mailbox_id: i64, uid: u32) -> Result<Option<Vec<u8>>> {
        let fields: Option<Option<Vec<u8>>> =
            sqlx::query_scalar("SELECT fields FROM message_texts WHERE mailbox_id = ? AND uid = ?")
                .bind(mailbox_id)
                .bind(i64::from(uid))
                .fetch_optional(&mut *self.read().await?)
                .await?;
        Ok(fields.flatten())
    }

    async fn text_pending(&self, mailbox_id: i64, limit: i64) -> Result<Vec<MessageRecord>> {
        let rows = sqlx::query(
            "SELECT m.uid, m.file, m.size, m.internal_date, m.flags, m.modseq, NULL AS cache
             FROM search_pending p JOIN messages m ON m.mailbox_id = p.mailbox_id AND m.uid = p.uid
             WHERE p.mailbox_id = ? ORDER BY p.uid LIMIT ?",
        )
        .bind(mailbox_id)
        .bind(limit)
        .fetch_all(&mut *self.read().await?)
        .await?;
        Ok(rows
            .iter()
            .map(message_from_row)
            .collect::<std::result::Result<_, _>>()?)
    }

    async fn text_index(&self, mailbox_id: i64, texts: &[(u32, IndexedText)]) -> Result<()> {
        let mut tx = self.begin().await?;
        for (uid, text) in texts {
            let pending =
                sqlx::query("DELETE FROM search_pending WHERE mailbox_id = ? AND uid = ?")
                    .bind(mailbox_id)
                    .bind(i64::from(*uid))
                    .execute(&mut *tx)
                    .await?;
            // Gone from the index (expunged) since it was listed: its
            // pending row went with it, and it needs no text.
            if pending.rows_affected() > 0 {
                insert_text(&mut tx, mailbox_id, i64::from(*uid), Some(text)).await?;
            }
        }
        // Derived from the files, like a cache: a text lost to a power cut
        // is computed again by the next search (its pending row comes back
        // with it), so this commit does not wait for the WAL's sync.
        tx.commit().await?;
        Ok(())
    }
}
