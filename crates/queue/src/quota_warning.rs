//! Quota warnings, as Dovecot's `quota_warning`: a delivery that takes a
//! user's use across 80% or 95% of her quota tells her, once per crossing,
//! with a message from MAILER-DAEMON queued like any other. Going back
//! under a level (messages expunged) and across again warns again.

use havre_store::QuotaUse;

use crate::Queue;

impl Queue {
    /// Queues the warning to `mailbox` when this delivery of `size` bytes
    /// takes her use (`before` it) across a level; logs what it did.
    pub async fn warn_quota(&self, mailbox: &str, before: QuotaUse, size: u64, hostname: &str) {
        let Some(level) = warning_crossed(before, size) else {
            return;
        };
        let after = QuotaUse {
            used: before.used.saturating_add(size),
            ..before
        };
        let now = chrono::Utc::now().timestamp();
        let (text, message_id) = warning_message(mailbox, level, after, hostname, now);
        match self
            .enqueue_notice(mailbox, &text, &message_id, "local")
            .await
        {
            Ok(id) => {
                tracing::info!(target: "queue", role = "local", "{id}: quota warning to <{mailbox}>: {level}% of her quota used")
            }
            Err(err) => {
                tracing::warn!(target: "queue", "cannot queue the quota warning to <{mailbox}>: {err}")
            }
        }
    }
}

/// The levels warned about, highest first (percent of the quota).
pub const WARNING_LEVELS: [u64; 2] = [95, 80];

/// The highest level that `size` more bytes take `before` across, if any.
pub fn warning_crossed(before: QuotaUse, size: u64) -> Option<u64> {
    if before.limit == 0 {
        return None;
    }
    let after = before.used.saturating_add(size);
    WARNING_LEVELS.into_iter().find(|level| {
        let mark = before.limit.saturating_mul(*level) / 100;
        before.used < mark && after >= mark
    })
}

/// The warning to `user` that her mailboxes reached `level`% of her quota
/// (`after`: her use with the message just delivered); with its
/// Message-ID. CRLF line ends, ready to queue.
pub fn warning_message(
    user: &str,
    level: u64,
    after: QuotaUse,
    hostname: &str,
    now: i64,
) -> (Vec<u8>, String) {
    let message_id = format!("<{now}.quota{level}.{}@{hostname}>", user.replace('@', "="));
    let date = chrono::DateTime::from_timestamp(now, 0)
        .map(|d| d.format("%a, %d %b %Y %H:%M:%S +0000").to_string())
        .unwrap_or_default();
    let mib = |bytes: u64| format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0));
    let text = format!(
        "From: Mail Delivery System <MAILER-DAEMON@{hostname}>\r\n\
         To: <{user}>\r\n\
         Subject: Your mailbox is {level}% full\r\n\
         Date: {date}\r\n\
         Message-ID: {message_id}\r\n\
         Auto-Submitted: auto-generated\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\
         \r\n\
         Your mailbox now holds {used} of its {limit} quota ({level}% or more).\r\n\
         \r\n\
         When it is full, new mail for you is refused and its senders are told.\r\n\
         Delete or archive messages you no longer need, and empty your Trash.\r\n",
        used = mib(after.used),
        limit = mib(after.limit),
    );
    (text.into_bytes(), message_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(used: u64) -> QuotaUse {
        QuotaUse { limit: 1000, used }
    }

    #[test]
    fn a_delivery_warns_at_the_highest_level_it_crosses_and_only_when_it_crosses() {
        assert_eq!(warning_crossed(quota(700), 50), None);
        assert_eq!(warning_crossed(quota(700), 100), Some(80));
        assert_eq!(warning_crossed(quota(700), 260), Some(95));
        assert_eq!(
            warning_crossed(quota(850), 10),
            None,
            "warned already at 80"
        );
        assert_eq!(warning_crossed(quota(850), 100), Some(95));
        assert_eq!(warning_crossed(quota(960), 10), None);
        assert_eq!(warning_crossed(QuotaUse { limit: 0, used: 0 }, 10), None);
    }

    #[test]
    fn the_warning_is_a_plain_auto_generated_message_to_the_user() {
        let (text, id) = warning_message("carol@example.test", 80, quota(820), "mx.test", 0);
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("To: <carol@example.test>\r\n"));
        assert!(text.contains("Subject: Your mailbox is 80% full\r\n"));
        assert!(text.contains("Auto-Submitted: auto-generated\r\n"));
        assert!(text.contains(&format!("Message-ID: {id}\r\n")));
    }
}
