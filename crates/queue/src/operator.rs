//! The operator's changes to the queue, as Postfix's postsuper makes them:
//! each change is logged as postsuper logs it (`<id>: placed on hold`,
//! `<id>: released from hold`, `<id>: requeued`, `<id>: removed`), here
//! rather than in each command, so every way of making it is in the log.

use crate::{Queue, QueueError};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Queue {
    /// No delivery attempt until [`Queue::release`]. False when there is no
    /// such message.
    pub async fn hold(&self, id: &str) -> Result<bool, QueueError> {
        let found = self.store.queue_hold(id, true).await?;
        if found {
            tracing::info!(target: "queue", role = "postsuper", "{id}: placed on hold");
        }
        Ok(found)
    }

    /// Ends a hold; the message is due at once.
    pub async fn release(&self, id: &str) -> Result<bool, QueueError> {
        let found = self.store.queue_hold(id, false).await?;
        if found {
            self.store.queue_reschedule(Some(id), now(), false).await?;
            tracing::info!(target: "queue", role = "postsuper", "{id}: released from hold");
            self.kick();
        }
        Ok(found)
    }

    /// Due at once, with the retry schedule started over.
    pub async fn requeue(&self, id: &str) -> Result<bool, QueueError> {
        let found = self.store.queue_reschedule(Some(id), now(), true).await? > 0;
        if found {
            tracing::info!(target: "queue", role = "postsuper", "{id}: requeued");
            self.kick();
        }
        Ok(found)
    }

    /// Deletes a message undelivered: record first, body second (a crash in
    /// between leaves an orphan body that the next start removes).
    pub async fn delete(&self, id: &str) -> Result<bool, QueueError> {
        let found = self.store.queue_remove(id).await?;
        if found {
            self.spool.remove(id).await;
            tracing::info!(target: "queue", role = "postsuper", "{id}: removed");
        }
        Ok(found)
    }
}
