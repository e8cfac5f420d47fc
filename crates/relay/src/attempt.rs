//! One delivery attempt of one queued message.

use std::time::Instant;

use havre_directory::{Address, Resolution, Target};
use havre_mailbox::{DeliveryOutcome, DeliveryRequest};
use havre_store::{AttemptOutcome, QueueEntry, QueueRecipient, RecipientStatus, RecipientUpdate};

use crate::dsn::ReportedRecipient;
use crate::{Relay, unix_now};

/// What happened to one recipient in this attempt.
enum Verdict {
    Sent(String),
    Deferred(String),
    Failed(String),
}

impl Relay {
    pub(crate) async fn attempt(&self, entry: QueueEntry) {
        let started = Instant::now();
        let id = entry.id.clone();
        let body = self.queue.spool().message_path(&id);
        // Arrival times are whole seconds: a message from the second this process
        // started may come from the process that died, so it is checked too.
        let check_duplicate = entry.arrival <= self.started_at || entry.attempts > 0;
        let expired = unix_now() - entry.arrival > self.settings.max_lifetime.as_secs() as i64;
        let mut updates = Vec::new();
        let mut bounced = Vec::new();
        for rcpt in entry.pending() {
            let verdict = if !body.exists() {
                Verdict::Deferred("4.3.0 queue file missing".into())
            } else {
                self.deliver_recipient(&entry, rcpt, &body, check_duplicate)
                    .await
            };
            let delay =
                (unix_now() - entry.arrival).max(0) as f64 + started.elapsed().as_secs_f64();
            let (status, text, word) = match verdict {
                Verdict::Sent(text) => (RecipientStatus::Sent, text, "sent"),
                Verdict::Failed(text) => (RecipientStatus::Failed, text, "bounced"),
                Verdict::Deferred(text) if expired => (
                    RecipientStatus::Failed,
                    format!(
                        "{text}; message expired after {}s in the queue",
                        self.settings.max_lifetime.as_secs()
                    ),
                    "expired",
                ),
                Verdict::Deferred(text) => (RecipientStatus::Pending, text, "deferred"),
            };
            tracing::info!(
                target: "relay",
                "{id}: to=<{}>, relay=local, delay={delay:.2}, status={word} ({text})",
                rcpt.address
            );
            if status == RecipientStatus::Failed {
                bounced.push(ReportedRecipient {
                    address: rcpt.address.clone(),
                    diagnostic: text.clone(),
                    remote_mta: None,
                });
            }
            updates.push(RecipientUpdate {
                idx: rcpt.idx,
                status,
                reply: text,
            });
        }
        let done = entry.recipients.iter().all(|r| {
            r.status.is_final()
                || updates
                    .iter()
                    .any(|u| u.idx == r.idx && u.status.is_final())
        });
        let outcome = AttemptOutcome {
            id: id.clone(),
            updates,
            next_attempt: unix_now() + self.backoff(entry.attempts),
        };
        // The bounce is queued before the failure is recorded: a crash in
        // between sends it twice rather than never.
        if !bounced.is_empty() {
            self.bounce(&entry, &bounced).await;
        }
        if let Err(err) = self.queue.store().queue_record_attempt(&outcome).await {
            // The next attempt redoes the work; the duplicate check keeps it exactly-once.
            tracing::error!(target: "relay", "{id}: cannot record the attempt: {err}");
            return;
        }
        if done {
            match self.queue.remove(&id).await {
                Ok(()) => tracing::info!(target: "relay", "{id}: removed"),
                Err(err) => tracing::error!(target: "relay", "{id}: cannot remove: {err}"),
            }
        }
    }

    /// Queues a non-delivery notification to the sender. Never for the null
    /// sender: a bounce never bounces (RFC 5321 6.1, no loops).
    async fn bounce(&self, entry: &QueueEntry, failed: &[ReportedRecipient]) {
        if entry.sender.is_empty() {
            tracing::info!(target: "relay", "{}: no bounce: null sender", entry.id);
            return;
        }
        let original = tokio::fs::read(self.queue.spool().message_path(&entry.id))
            .await
            .unwrap_or_default();
        let now = unix_now();
        let dsn = crate::dsn::build(&crate::dsn::Report {
            reporting_mta: self.local.mailboxes().hostname(),
            queue_id: &entry.id,
            sender: &entry.sender,
            arrival: entry.arrival,
            action: crate::dsn::Action::Failed,
            recipients: failed,
            original_headers: crate::dsn::header_block(&original),
            now,
        });
        match self.queue_notification(&entry.sender, &dsn, now).await {
            Ok(id) => {
                tracing::info!(target: "relay", "{}: sender non-delivery notification: {id}", entry.id)
            }
            Err(err) => {
                tracing::error!(target: "relay", "{}: cannot queue the bounce: {err}", entry.id)
            }
        }
    }

    /// Queues a message from the null sender to `to` (DSNs).
    pub(crate) async fn queue_notification(
        &self,
        to: &str,
        message: &[u8],
        now: i64,
    ) -> Result<String, havre_queue::QueueError> {
        let id = havre_queue::new_queue_id();
        let mut file = self.queue.spool().create(&id).await?;
        file.write(message).await?;
        let entry = QueueEntry {
            id: id.clone(),
            sender: String::new(),
            size: message.len() as u64,
            arrival: now,
            client: "local".into(),
            protocol: "DSN".into(),
            attempts: 0,
            next_attempt: now,
            hold: false,
            recipients: vec![QueueRecipient {
                idx: 0,
                address: to.to_string(),
                status: RecipientStatus::Pending,
                last_reply: None,
            }],
        };
        self.queue.enqueue(file, &entry).await?;
        Ok(id)
    }

    /// Seconds until the next attempt: retry_min doubled per attempt, capped.
    fn backoff(&self, attempts: i64) -> i64 {
        let min = self.settings.retry_min.as_secs().max(1);
        let max = self.settings.retry_max.as_secs().max(min);
        let factor = 1u64 << attempts.clamp(0, 20);
        min.saturating_mul(factor).min(max) as i64
    }

    async fn deliver_recipient(
        &self,
        entry: &QueueEntry,
        rcpt: &QueueRecipient,
        body: &std::path::Path,
        check_duplicate: bool,
    ) -> Verdict {
        let id = &entry.id;
        let address = match Address::parse(&rcpt.address) {
            Ok(a) => a,
            Err(err) => return Verdict::Failed(format!("5.1.3 bad address: {err}")),
        };
        let targets = match self.directory.resolve(&address).await {
            Ok(Resolution::Deliver(targets)) => targets,
            Ok(Resolution::UnknownUser) => {
                return Verdict::Failed("5.1.1 user unknown".into());
            }
            Ok(Resolution::NotLocal) => {
                return Verdict::Deferred(
                    "4.4.1 domain not local and outbound delivery is not enabled on this node"
                        .into(),
                );
            }
            Err(err) => return Verdict::Deferred(format!("4.3.0 directory unavailable: {err}")),
        };
        let mut delivered = Vec::new();
        let mut deferred = Vec::new();
        let mut failed = Vec::new();
        for target in targets {
            match target {
                Target::Mailbox(mailbox) => {
                    let result = self
                        .local
                        .deliver(DeliveryRequest {
                            mailbox: &mailbox,
                            sender: &entry.sender,
                            message: body,
                            message_id: id,
                            check_duplicate,
                        })
                        .await;
                    match result {
                        Ok(DeliveryOutcome::Delivered(_)) => delivered.push(mailbox),
                        Ok(DeliveryOutcome::AlreadyDelivered(_)) => {
                            tracing::info!(target: "relay", "{id}: to=<{mailbox}>, orig_to=<{}>, status=sent (already delivered by an earlier attempt)", rcpt.address);
                            delivered.push(mailbox);
                        }
                        Err(err) => deferred.push(format!("<{mailbox}>: 4.2.0 {err}")),
                    }
                }
                Target::Remote(remote) => deferred.push(format!(
                    "<{remote}>: 4.4.1 outbound delivery is not enabled on this node"
                )),
                Target::Unknown(unknown) => failed.push(format!("<{unknown}>: 5.1.1 user unknown")),
            }
        }
        if !deferred.is_empty() {
            Verdict::Deferred(deferred.join("; "))
        } else if delivered.is_empty() {
            Verdict::Failed(failed.join("; "))
        } else {
            let mut text = format!("2.0.0 delivered to maildir of {}", delivered.join(", "));
            if !failed.is_empty() {
                text.push_str(&format!("; not delivered: {}", failed.join("; ")));
            }
            Verdict::Sent(text)
        }
    }
}
