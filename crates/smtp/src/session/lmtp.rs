//! LMTP's end of DATA (RFC 2033 4.2): one reply per accepted recipient,
//! in RCPT order, after each of its mailboxes' copies was written (here,
//! or at its backend when this node is a director).

use std::collections::BTreeSet;

use havre_directory::Target;
use havre_events::Kind;
use havre_mailbox::{ActiveScript, DeliveryOutcome, DeliveryRequest, MessageSource};
use havre_smtp_codec::Reply;

use super::{BodyWriter, Session, Transaction, write_error_reply};
use crate::partly_delivered::{ContentDigest, Key};

impl Session {
    /// LMTP (RFC 2033 4.2): one reply per accepted recipient, in RCPT order.
    pub(super) async fn deliver_lmtp(&self, tx: &Transaction, body: BodyWriter) -> Vec<Reply> {
        let Some(file) = body.file else {
            return vec![Reply::new(451, "4.3.0", "Error: write error"); tx.recipients.len()];
        };
        // Kept in memory, or a spool file without a queue record and not
        // fsynced: only the mailbox copies must be durable before each 250
        // (they are), and a crash before the replies leaves at most an
        // orphan that the startup sweep removes while the client,
        // unanswered, sends the message again.
        let message = match file.commit_transient().await {
            Ok(message) => message,
            Err(err) => {
                tracing::error!(target: "smtp", "{}: cannot write the message: {err}", tx.id);
                return vec![write_error_reply(&err); tx.recipients.len()];
            }
        };
        let started = std::time::Instant::now();
        let content = body.digest.map(ContentDigest::finish);
        if let Some(forward) = self.services.lmtp_forward.clone() {
            let replies = self
                .forward_lmtp(&*forward, tx, &message, body.size, content, started)
                .await;
            if let MessageSource::File(_) = message {
                self.services.queue.spool().remove(&tx.id).await;
            }
            return replies;
        }
        let size = body.size;
        // One mailbox's outcome, for reports and traces.
        let record = |kind: Kind, mailbox: &str, rcpt: &str, reason: String| {
            self.services.events.record(
                self.lmtp_event(kind, tx, mailbox, rcpt)
                    .size(size)
                    .delay(started.elapsed().as_secs_f64())
                    .reason(reason),
            );
        };
        let mut replies = Vec::new();
        for (rcpt, targets) in &tx.recipients {
            let key = content
                .filter(|_| several(targets))
                .map(|content| Key::new(&content, &tx.sender, rcpt));
            let earlier = self.earlier_copies(key.as_ref(), tx).await;
            let mut delivered = earlier.clone();
            let mut failures = Vec::new();
            let mut full = Vec::new();
            let mut rejected = None;
            for target in targets {
                let Target::Mailbox(mailbox) = target else {
                    continue;
                };
                if earlier.contains(mailbox) {
                    log_earlier_copy(tx, mailbox, rcpt);
                    continue;
                }
                let facts = tx.facts_of(mailbox);
                let quota = facts.and_then(|f| f.quota);
                if quota.is_some_and(|q| q.exceeded_by(body.size)) {
                    tracing::info!(target: "smtp", role = "lmtp", "{}: to=<{mailbox}>, orig_to=<{rcpt}>, relay=local, status=bounced (quota exceeded)", tx.id);
                    record(Kind::Bounced, mailbox, rcpt, "quota exceeded".into());
                    full.push(mailbox.clone());
                    continue;
                }
                let request = DeliveryRequest {
                    mailbox,
                    sender: &tx.sender,
                    message: &message,
                    message_id: &tx.id,
                    check_duplicate: false,
                };
                // The user's Sieve scripts first: which folders, what else
                // (RCPT's lookup said whether she has one).
                let active =
                    facts.map_or(ActiveScript::Unknown, |f| ActiveScript::from_entry(f.sieve));
                let mut plan = self
                    .services
                    .local
                    .plan_knowing(&request, Some(rcpt), active)
                    .await;
                if let Some(reason) = plan.reject.take() {
                    tracing::info!(target: "smtp", role = "lmtp", "{}: to=<{mailbox}>, orig_to=<{rcpt}>, relay=local, delay={:.2}, status=bounced (rejected by sieve: {reason})", tx.id, started.elapsed().as_secs_f64());
                    record(
                        Kind::Bounced,
                        mailbox,
                        rcpt,
                        format!("rejected by sieve: {reason}"),
                    );
                    rejected = Some(reason);
                    continue;
                }
                let queue = &self.services.queue;
                crate::lmtp_sieve::send_vacation(queue, &mut plan, mailbox, &tx.id).await;
                if plan.filings.is_empty() {
                    crate::lmtp_sieve::send_redirects(
                        queue, &mut plan, mailbox, &tx.sender, &tx.id,
                    )
                    .await;
                }
                if plan.filings.is_empty() {
                    tracing::info!(target: "smtp", role = "lmtp", "{}: to=<{mailbox}>, orig_to=<{rcpt}>, relay=local, delay={:.2}, status=sent (discarded by sieve)", tx.id, started.elapsed().as_secs_f64());
                    record(Kind::Delivered, mailbox, rcpt, "discarded by sieve".into());
                    delivered.insert(mailbox.clone());
                    continue;
                }
                let result = self.services.local.deliver_plan(request, &plan).await;
                match result {
                    Ok(filed) => {
                        delivered.insert(mailbox.clone());
                        let folders: Vec<&str> = filed
                            .iter()
                            .map(|f| f.folder.as_str())
                            .filter(|f| *f != "INBOX")
                            .collect();
                        let into = if folders.is_empty() {
                            String::new()
                        } else {
                            format!(" folder {}", folders.join(", "))
                        };
                        tracing::info!(target: "smtp", role = "lmtp", "{}: to=<{mailbox}>, orig_to=<{rcpt}>, relay=local, delay={:.2}, status=sent (delivered to maildir{into})", tx.id, started.elapsed().as_secs_f64());
                        record(
                            Kind::Delivered,
                            mailbox,
                            rcpt,
                            format!("delivered to maildir{into}"),
                        );
                        crate::lmtp_sieve::send_redirects(
                            queue, &mut plan, mailbox, &tx.sender, &tx.id,
                        )
                        .await;
                        let fresh = filed
                            .iter()
                            .any(|f| matches!(f.outcome, DeliveryOutcome::Delivered(_)));
                        if let (true, Some(quota)) = (fresh, quota) {
                            let hostname = &self.services.settings.hostname;
                            queue.warn_quota(mailbox, quota, body.size, hostname).await;
                        }
                    }
                    Err(err) => {
                        tracing::warn!(target: "smtp", role = "lmtp", "{}: to=<{mailbox}>, orig_to=<{rcpt}>, relay=local, status=deferred ({err})", tx.id);
                        record(Kind::Deferred, mailbox, rcpt, err.to_string());
                        failures.push(mailbox.clone());
                    }
                }
            }
            // A deferral first: the retry skips the copies written and
            // meets a full mailbox again, where a refusal now would bounce
            // the copy that only failed for a moment.
            let reply = if !failures.is_empty() {
                Reply::new(
                    451,
                    "4.2.0",
                    format!("<{rcpt}> delivery failed, try again later"),
                )
            } else if let Some(mailbox) = full.first() {
                self.over_quota(mailbox)
            } else if let Some(reason) = rejected {
                crate::lmtp_sieve::rejected_reply(rcpt, &reason)
            } else {
                Reply::new(250, "2.0.0", format!("<{rcpt}> {} Saved", tx.id))
            };
            self.settle_copies(key.as_ref(), tx, &reply, &delivered, &earlier)
                .await;
            replies.push(reply);
        }
        if let MessageSource::File(_) = message {
            self.services.queue.spool().remove(&tx.id).await;
        }
        replies
    }
}

impl Session {
    /// LMTP at a director: each recipient's mailboxes sent to their
    /// backends, one reply per recipient from theirs (a temporary failure
    /// of one mailbox defers the recipient; a refusal refuses it).
    async fn forward_lmtp(
        &self,
        forward: &dyn havre_net::LmtpForward,
        tx: &Transaction,
        message: &MessageSource,
        size: u64,
        content: Option<[u8; 32]>,
        started: std::time::Instant,
    ) -> Vec<Reply> {
        let per_rcpt: Vec<Vec<&str>> = tx
            .recipients
            .iter()
            .map(|(_, targets)| {
                targets
                    .iter()
                    .filter_map(|t| match t {
                        Target::Mailbox(m) => Some(m.as_str()),
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        let mut keys = Vec::new();
        let mut earlier = Vec::new();
        for (rcpt, targets) in &tx.recipients {
            let key = content
                .filter(|_| several(targets))
                .map(|content| Key::new(&content, &tx.sender, rcpt));
            earlier.push(self.earlier_copies(key.as_ref(), tx).await);
            keys.push(key);
        }
        // Each mailbox once, unless every recipient that leads to it had
        // it delivered by an earlier attempt.
        let mut mailboxes: Vec<String> = Vec::new();
        for (targets, earlier) in per_rcpt.iter().zip(&earlier) {
            for m in targets {
                if !earlier.contains(*m) && !mailboxes.iter().any(|known| known == m) {
                    mailboxes.push(m.to_string());
                }
            }
        }
        let answers = forward.forward(&tx.sender, &mailboxes, message).await;
        let answer_of = |m: &str| {
            mailboxes
                .iter()
                .position(|k| k == m)
                .and_then(|i| answers.get(i))
        };
        let mut replies = Vec::new();
        for (((rcpt, _), targets), (key, earlier)) in tx
            .recipients
            .iter()
            .zip(&per_rcpt)
            .zip(keys.iter().zip(&earlier))
        {
            let mut reply = Reply::new(250, "2.0.0", format!("<{rcpt}> {} Saved", tx.id));
            let mut delivered = earlier.clone();
            for mailbox in targets {
                if earlier.contains(*mailbox) {
                    log_earlier_copy(tx, mailbox, rcpt);
                    continue;
                }
                let Some(answer) = answer_of(mailbox) else {
                    continue;
                };
                if answer.code / 100 == 2 {
                    delivered.insert(mailbox.to_string());
                }
                let (status, kind) = match answer.code {
                    200..=299 => ("sent", Kind::Delivered),
                    400..=499 => ("deferred", Kind::Deferred),
                    _ => ("bounced", Kind::Bounced),
                };
                tracing::info!(target: "smtp", role = "lmtp", "{}: to=<{mailbox}>, orig_to=<{rcpt}>, relay={}, delay={:.2}, status={status} ({})", tx.id, answer.backend, started.elapsed().as_secs_f64(), answer.text);
                self.services.events.record(
                    self.lmtp_event(kind, tx, mailbox, rcpt)
                        .size(size)
                        .delay(started.elapsed().as_secs_f64())
                        .reason(answer.text.clone()),
                );
                // The worst answer speaks for the recipient: a deferral
                // before a refusal, so the sender tries again.
                let worse = matches!((reply.code / 100, answer.code / 100), (2, 4 | 5) | (5, 4));
                if worse {
                    reply = Reply::new(
                        answer.code,
                        known_status(&answer.status, answer.code),
                        format!("<{rcpt}> {}", answer.text),
                    );
                }
            }
            self.settle_copies(key.as_ref(), tx, &reply, &delivered, earlier)
                .await;
            replies.push(reply);
        }
        replies
    }

    /// After a recipient's reply: what was `delivered` of an address of
    /// several mailboxes (`key`) remembered while it is deferred, forgotten
    /// once it is answered for good.
    async fn settle_copies(
        &self,
        key: Option<&Key>,
        tx: &Transaction,
        reply: &Reply,
        delivered: &BTreeSet<String>,
        earlier: &BTreeSet<String>,
    ) {
        if let Some(key) = key {
            let deferred = reply.code / 100 == 4;
            self.services
                .partly_delivered
                .settle(key, &tx.id, delivered, deferred, !earlier.is_empty())
                .await;
        }
    }

    /// What an earlier attempt delivered for the recipient of `key` (none
    /// without a key: an address of one mailbox).
    async fn earlier_copies(&self, key: Option<&Key>, tx: &Transaction) -> BTreeSet<String> {
        match key {
            Some(key) => self.services.partly_delivered.earlier(key, &tx.id).await,
            None => BTreeSet::new(),
        }
    }
}

/// A backend's enhanced status among those a mailbox server gives, or the
/// class's generic one (the backend's own words stay in the text).
fn known_status(status: &str, code: u16) -> &'static str {
    const KNOWN: [&str; 14] = [
        "2.0.0", "4.2.0", "4.2.2", "4.3.0", "4.3.1", "4.4.0", "4.4.1", "4.4.2", "4.7.1", "5.1.1",
        "5.2.0", "5.2.2", "5.3.4", "5.7.1",
    ];
    KNOWN
        .into_iter()
        .find(|k| *k == status)
        .unwrap_or(match code / 100 {
            2 => "2.0.0",
            4 => "4.0.0",
            _ => "5.0.0",
        })
}

/// Whether an address leads to several mailboxes: one reply for copies
/// that may fare differently ([`crate::partly_delivered`]).
pub(super) fn several(targets: &[Target]) -> bool {
    targets
        .iter()
        .filter(|t| matches!(t, Target::Mailbox(_)))
        .nth(1)
        .is_some()
}

/// A mailbox skipped at a retry: no `status=`, so reports do not count
/// the copy twice.
fn log_earlier_copy(tx: &Transaction, mailbox: &str, rcpt: &str) {
    tracing::info!(target: "smtp", role = "lmtp", "{}: to=<{mailbox}>, orig_to=<{rcpt}>: delivered by an earlier attempt, skipped", tx.id);
}
