//! [`SearchStore`] on PostgreSQL: the tables of SQLite's index (header
//! fields apart from header and body text), scanned with `strpos`, which
//! like SQLite's `instr` is the exact substring test IMAP needs on folded
//! text with a folded needle.

use std::collections::HashSet;

use async_trait::async_trait;
use sqlx::{PgConnection, Row};

use crate::mail::message_from_row;
use crate::{
    IndexedField, IndexedText, MailboxCounts, MessageRecord, PostgresStore, Result, SearchStore,
};

/// Writes the index rows of messages (`uid`, text) of `mailbox_id` in the
/// caller's transaction; a message without a text is pending.
pub(crate) async fn insert_texts(
    conn: &mut PgConnection,
    mailbox_id: i64,
    texts: &[(i64, Option<&IndexedText>)],
) -> std::result::Result<(), sqlx::Error> {
    let pending: Vec<i64> = texts
        .iter()
        .filter(|(_, text)| text.is_none())
        .map(|(uid, _)| *uid)
        .collect();
    if !pending.is_empty() {
        sqlx::query(
            "INSERT INTO search_pending (mailbox_id, uid)
             SELECT $1, uid FROM UNNEST($2::BIGINT[]) AS p(uid) ON CONFLICT DO NOTHING",
        )
        .bind(mailbox_id)
        .bind(pending)
        .execute(&mut *conn)
        .await?;
    }
    let indexed: Vec<(i64, &IndexedText)> = texts
        .iter()
        .filter_map(|(uid, text)| Some((*uid, (*text)?)))
        .collect();
    if indexed.is_empty() {
        return Ok(());
    }
    let column = |get: fn(&IndexedText) -> Option<&str>| -> Vec<Option<&str>> {
        indexed.iter().map(|(_, text)| get(text)).collect()
    };
    sqlx::query(
        "WITH headers AS (
             INSERT INTO message_headers
                 (mailbox_id, uid, subject, addr_from, addr_to, addr_cc, addr_bcc)
             SELECT $1, * FROM UNNEST($2::BIGINT[],
                 $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::TEXT[])
             ON CONFLICT (mailbox_id, uid) DO UPDATE SET subject = excluded.subject,
                 addr_from = excluded.addr_from, addr_to = excluded.addr_to,
                 addr_cc = excluded.addr_cc, addr_bcc = excluded.addr_bcc)
         INSERT INTO message_texts (mailbox_id, uid, fields, header, body)
         SELECT $1, * FROM UNNEST($2::BIGINT[], $8::BYTEA[], $9::TEXT[], $10::TEXT[])
         ON CONFLICT (mailbox_id, uid) DO UPDATE SET fields = excluded.fields,
             header = excluded.header, body = excluded.body",
    )
    .bind(mailbox_id)
    .bind(indexed.iter().map(|(uid, _)| *uid).collect::<Vec<i64>>())
    .bind(column(|text| text.subject.as_deref()))
    .bind(column(|text| text.from.as_deref()))
    .bind(column(|text| text.to.as_deref()))
    .bind(column(|text| text.cc.as_deref()))
    .bind(column(|text| text.bcc.as_deref()))
    .bind(
        indexed
            .iter()
            .map(|(_, text)| text.fields.as_deref())
            .collect::<Vec<Option<&[u8]>>>(),
    )
    .bind(column(|text| Some(text.header.as_str())))
    .bind(column(|text| Some(text.body.as_str())))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn condition(field: IndexedField) -> &'static str {
    match field {
        IndexedField::Subject => {
            "SELECT uid FROM message_headers WHERE mailbox_id = $1 AND strpos(subject, $2) > 0
             ORDER BY uid"
        }
        IndexedField::From => {
            "SELECT uid FROM message_headers WHERE mailbox_id = $1 AND strpos(addr_from, $2) > 0
             ORDER BY uid"
        }
        IndexedField::To => {
            "SELECT uid FROM message_headers WHERE mailbox_id = $1 AND strpos(addr_to, $2) > 0
             ORDER BY uid"
        }
        IndexedField::Cc => {
            "SELECT uid FROM message_headers WHERE mailbox_id = $1 AND strpos(addr_cc, $2) > 0
             ORDER BY uid"
        }
        IndexedField::Bcc => {
            "SELECT uid FROM message_headers WHERE mailbox_id = $1 AND strpos(addr_bcc, $2) > 0
             ORDER BY uid"
        }
        IndexedField::Body => {
            "SELECT uid FROM message_texts WHERE mailbox_id = $1 AND strpos(body, $2) > 0
             ORDER BY uid"
        }
        IndexedField::Text => {
            "SELECT uid FROM message_texts WHERE mailbox_id = $1
             AND (strpos(header, $2) > 0 OR strpos(body, $2) > 0) ORDER BY uid"
        }
    }
}

#[async_trait]
impl SearchStore for PostgresStore {
    async fn mailbox_counts(&self, mailbox_id: i64) -> Result<MailboxCounts> {
        // Flags are stored space-separated; system flags compare without
        // regard to ASCII case, as the sessions do.
        let row = sqlx::query(
            r"SELECT COUNT(*) AS messages,
                 COUNT(*) FILTER (WHERE strpos(' ' || lower(flags) || ' ', ' \seen ') = 0)
                     AS unseen,
                 COUNT(*) FILTER (WHERE strpos(' ' || lower(flags) || ' ', ' \deleted ') > 0)
                     AS deleted,
                 CAST(COALESCE(SUM(size), 0) AS BIGINT) AS size,
                 COUNT(*) FILTER (WHERE uid >= (SELECT recent_from FROM mailboxes WHERE id = $1))
                     AS unclaimed
              FROM messages WHERE mailbox_id = $1",
        )
        .bind(mailbox_id)
        .fetch_one(&self.pool)
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
            .fetch_all(&self.pool)
            .await?;
        Ok(uids.into_iter().map(|u| u as u32).collect())
    }

    async fn message_fields(&self, mailbox_id: i64, uid: u32) -> Result<Option<Vec<u8>>> {
        let fields: Option<Option<Vec<u8>>> = sqlx::query_scalar(
            "SELECT fields FROM message_texts WHERE mailbox_id = $1 AND uid = $2",
        )
        .bind(mailbox_id)
        .bind(i64::from(uid))
        .fetch_optional(&self.pool)
        .await?;
        Ok(fields.flatten())
    }

    async fn text_pending(&self, mailbox_id: i64, limit: i64) -> Result<Vec<MessageRecord>> {
        let rows = sqlx::query(
            "SELECT m.uid, m.file, m.size, m.internal_date, m.flags, m.modseq, NULL AS cache
             FROM search_pending p JOIN messages m ON m.mailbox_id = p.mailbox_id AND m.uid = p.uid
             WHERE p.mailbox_id = $1 ORDER BY p.uid LIMIT $2",
        )
        .bind(mailbox_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(message_from_row)
            .collect::<std::result::Result<_, _>>()?)
    }

    async fn text_index(&self, mailbox_id: i64, texts: &[(u32, IndexedText)]) -> Result<()> {
        let uids: Vec<i64> = texts.iter().map(|(uid, _)| i64::from(*uid)).collect();
        let mut tx = self.begin().await?;
        // The messages first, then their pending rows: the order in which
        // an expunge takes them, so that the two never wait on each other.
        sqlx::query("SELECT 1 FROM messages WHERE mailbox_id = $1 AND uid = ANY($2) FOR KEY SHARE")
            .bind(mailbox_id)
            .bind(&uids)
            .execute(&mut *tx)
            .await?;
        // A message expunged since it was listed lost its pending row with
        // it and needs no text; one another search indexed meanwhile has
        // its text.
        let pending: Vec<i64> = sqlx::query_scalar(
            "DELETE FROM search_pending WHERE mailbox_id = $1 AND uid = ANY($2) RETURNING uid",
        )
        .bind(mailbox_id)
        .bind(&uids)
        .fetch_all(&mut *tx)
        .await?;
        let mut pending: HashSet<i64> = pending.into_iter().collect();
        let texts: Vec<(i64, Option<&IndexedText>)> = texts
            .iter()
            .map(|(uid, text)| (i64::from(*uid), Some(text)))
            .filter(|(uid, _)| pending.remove(uid))
            .collect();
        insert_texts(&mut tx, mailbox_id, &texts).await?;
        tx.commit().await?;
        Ok(())
    }
}
