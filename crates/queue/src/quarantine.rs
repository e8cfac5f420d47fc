//! The quarantine: messages a check accepted but put on hold (Postfix's
//! `HOLD` action), each with its reason (`QueueEntry::hold_reason`). They
//! are ordinary queue records on hold, so the operator's hold, release and
//! delete ([`crate::operator`]) apply to them; this adds what only the
//! quarantine has: its listing and its retention.

use std::time::Duration;

use havre_store::QueueEntry;

use crate::{Queue, QueueError};

impl Queue {
    /// The quarantined messages, oldest first.
    pub async fn quarantined(&self) -> Result<Vec<QueueEntry>, QueueError> {
        Ok(self.store.queue_quarantined(None).await?)
    }

    /// The quarantined message `id`, if there is one (a message on hold by
    /// the operator's hand is not in quarantine).
    pub async fn quarantined_message(&self, id: &str) -> Result<Option<QueueEntry>, QueueError> {
        Ok(self
            .store
            .queue_get(id)
            .await?
            .filter(QueueEntry::quarantined))
    }

    /// Deletes the quarantined messages that arrived more than `retention`
    /// before `now` (unix seconds), each logged with its age and reason;
    /// a zero `retention` keeps them forever. Returns how many went.
    pub async fn expire_quarantine(
        &self,
        now: i64,
        retention: Duration,
    ) -> Result<usize, QueueError> {
        if retention.is_zero() {
            return Ok(0);
        }
        let before = now.saturating_sub(retention.as_secs() as i64);
        let mut removed = 0;
        for entry in self.store.queue_quarantined(Some(before)).await? {
            // Record first, body second, as any deletion.
            if !self.store.queue_remove(&entry.id).await? {
                continue;
            }
            self.spool.remove(&entry.id).await;
            removed += 1;
            tracing::info!(
                target: "queue",
                role = "qmgr",
                "{}: from=<{}>, removed from quarantine after {} days (quarantine.retention {} days): {}",
                entry.id,
                entry.sender,
                (now - entry.arrival) / 86_400,
                retention.as_secs() / 86_400,
                entry.hold_reason.as_deref().unwrap_or("")
            );
        }
        Ok(removed)
    }
}
