//! One delivery attempt of one queued message.

use havre_directory::{Address, MailboxFacts, Resolution, Target};
use havre_events::{Event, Kind};
use havre_mailbox::{ActiveScript, DeliveryRequest, MessageSource, Staged};
use havre_outbound::Nexthop;
use havre_queue::{Fresh, LookedUp};
use havre_store::{AttemptOutcome, QueueEntry, QueueRecipient, RecipientStatus, RecipientUpdate};

use crate::dsn::ReportedRecipient;
use crate::{Relay, unix_now};

/// How long a recipient's entry read at RCPT serves the delivery instead of
/// a new read: the attempt of a message just queued starts within
/// milliseconds; one that waited (a long DATA, a busy relay) reads again.
const LOOKED_UP_SERVES: std::time::Duration = std::time::Duration::from_secs(2);

/// What happened to one recipient in this attempt.
enum Verdict {
    Sent(Note),
    Deferred(Note),
    Failed(Note),
}

/// One result: its RFC 3463 status code (the log's `dsn=`, the DSN's
/// `Status:`) and its words (the remote's reply or a local reason).
#[derive(Debug, Clone)]
pub(crate) struct Note {
    pub status: String,
    pub text: String,
}

impl Note {
    pub fn new(status: &str, text: impl Into<String>) -> Note {
        Note {
            status: status.to_string(),
            text: text.into(),
        }
    }

    /// Several results as one: the first one's status, every text.
    fn join(notes: &[Note]) -> Note {
        Note {
            status: notes.first().map_or_else(String::new, |n| n.status.clone()),
            text: notes
                .iter()
                .map(|n| n.text.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        }
    }
}

/// What happened to the mailboxes and remote addresses one recipient
/// expanded to.
#[derive(Default)]
pub(crate) struct Progress {
    pub delivered: Vec<Note>,
    pub deferred: Vec<Note>,
    pub failed: Vec<Note>,
    /// The log's `relay=`: None for local delivery, the remote server that
    /// answered (`mx.far.test[192.0.2.1]:25`), or `none` when none did.
    pub relay: Option<String>,
    /// The remote server's name, for the DSN's `Remote-MTA`.
    pub remote_mta: Option<String>,
}

impl Progress {
    fn verdict(self) -> Verdict {
        if !self.deferred.is_empty() {
            Verdict::Deferred(Note::join(&self.deferred))
        } else if self.delivered.is_empty() && self.failed.is_empty() {
            // Nothing delivered and nothing failed would end the recipient
            // silently: it fails, so the sender hears of it.
            Verdict::Failed(Note::new("5.4.6", "the address led nowhere"))
        } else if self.delivered.is_empty() {
            Verdict::Failed(Note::join(&self.failed))
        } else {
            let mut sent = Note::join(&self.delivered);
            if !self.failed.is_empty() {
                sent.text.push_str(&format!(
                    "; not delivered: {}",
                    Note::join(&self.failed).text
                ));
            }
            Verdict::Sent(sent)
        }
    }
}

/// A remote address one recipient leads to, for [`Relay::deliver_remote`].
pub(crate) struct RemoteTarget {
    /// The recipient's place in this attempt's progress.
    pub index: usize,
    pub address: String,
    /// An alias led to it: results name it, since the recipient's own
    /// address is not where it went.
    pub expanded: bool,
    /// Its own route (her LDAP mail host), before the routing table's.
    pub route: Option<havre_outbound::Route>,
}

impl RemoteTarget {
    /// `<address>: ` before a result when an alias led here, else nothing.
    pub fn named(&self) -> String {
        if self.expanded {
            format!("<{}>: ", self.address)
        } else {
            String::new()
        }
    }
}

impl Relay {
    /// Tries to deliver a queued message: its record with the body kept
    /// with it, if any, as queued here ([`havre_queue::Fresh`], with what
    /// RCPT read of its recipients) or read back
    /// ([`havre_queue::Queue::entry_with_body`]).
    pub(crate) async fn attempt(&self, start: Fresh) {
        let Fresh {
            entry,
            body: kept,
            looked_up,
        } = start;
        let id = entry.id.clone();
        // Its 250 (or 451) first: see `Queue::received`. A spool file is
        // looked for after it (an enqueue that failed removed its own).
        self.queue.received(&id).await;
        let body = self
            .queue
            .body_from(&id, kept)
            .ok_or_else(|| Note::new("4.3.0", "queue file missing"));
        if entry.recipients.is_empty() {
            // Only an older version queued these (an alias loop accepted at
            // RCPT): there is nobody to deliver to or to name in a bounce, so
            // the operator is told what goes.
            tracing::warn!(target: "relay", role = "qmgr", "{id}: from=<{}>, queued without any recipient: removed undelivered", entry.sender);
            if let Err(err) = self.queue.remove(&id).await {
                tracing::error!(target: "relay", "{id}: cannot remove: {err}");
            }
            return;
        }
        // Arrival times are whole seconds: a message from the second this process
        // started may come from the process that died, so it is checked too.
        let check_duplicate = entry.arrival <= self.started_at
            || entry.attempts > 0
            || self
                .unrecorded
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&id);
        let settings = self.settings();
        let expired = unix_now() - entry.arrival > settings.max_lifetime.as_secs() as i64;
        let mut updates = Vec::new();
        let mut bounced = Vec::new();
        let mut delayed = Vec::new();
        let pending: Vec<&QueueRecipient> = entry.pending().collect();
        let mut progress: Vec<Progress> = pending.iter().map(|_| Progress::default()).collect();
        let mut remote = Vec::new();
        // Mailbox copies written, their index rows not yet committed.
        let mut staged = Vec::new();
        for (i, rcpt) in pending.iter().enumerate() {
            match &body {
                Err(missing) => progress[i].deferred.push(missing.clone()),
                Ok(body) => {
                    self.deliver_recipient(
                        &entry,
                        &looked_up,
                        rcpt,
                        body,
                        check_duplicate,
                        &mut progress[i],
                        i,
                        &mut remote,
                        &mut staged,
                    )
                    .await;
                }
            }
        }
        // Remote addresses come only from recipients that had a body.
        if let (false, Ok(body)) = (remote.is_empty(), &body) {
            // Remote servers may take minutes: the local copies are indexed
            // (shown to their owners) now, not with the outcome.
            for copy in staged.drain(..) {
                if let Err(err) = self.local.mailboxes().index_staged(copy).await {
                    tracing::warn!(target: "relay", "{id}: delivered, not indexed yet (the next sync of the folder will): {err}");
                }
            }
            self.deliver_remote(&entry, body, remote, &mut progress)
                .await;
        }
        for (rcpt, progress) in pending.into_iter().zip(progress) {
            let relay = progress.relay.clone().unwrap_or_else(|| "local".into());
            let to_remote = progress.relay.is_some();
            let remote_mta = progress.remote_mta.clone();
            let verdict = progress.verdict();
            let delay = crate::delay(&entry);
            let (status, note, word) = match verdict {
                Verdict::Sent(note) => (RecipientStatus::Sent, note, "sent"),
                Verdict::Failed(note) => (RecipientStatus::Failed, note, "bounced"),
                Verdict::Deferred(mut note) if expired => {
                    note.text = format!(
                        "{}; message expired after {}s in the queue",
                        note.text,
                        settings.max_lifetime.as_secs()
                    );
                    (RecipientStatus::Failed, note, "expired")
                }
                Verdict::Deferred(note) => (RecipientStatus::Pending, note, "deferred"),
            };
            // Postfix's delivery line, named after the Postfix program that
            // would have made it (local or smtp), which pflogsumm counts.
            tracing::info!(
                target: "relay",
                role = if to_remote { "smtp" } else { "local" },
                "{id}: to=<{}>,{} relay={relay}, delay={delay:.2}, dsn={}, status={word} ({})",
                rcpt.address,
                rcpt.orig
                    .as_ref()
                    .map(|o| format!(" orig_to=<{o}>,"))
                    .unwrap_or_default(),
                note.status,
                note.text
            );
            let kind = match word {
                "sent" => Kind::Delivered,
                "deferred" => Kind::Deferred,
                _ => Kind::Bounced,
            };
            let event = Event::new(kind, if to_remote { "smtp" } else { "local" })
                .queue_id(id.as_str())
                .client(entry.client.as_str())
                .sender(entry.sender.as_str())
                .recipient(rcpt.address.as_str())
                .size(entry.size)
                .delay(delay)
                .relay(relay.as_str())
                .reason(format!("{} {}", note.status, note.text));
            self.events.record(match &rcpt.orig {
                Some(orig) => event.original(orig.as_str()),
                None => event,
            });
            let reported = || ReportedRecipient {
                address: rcpt.address.clone(),
                original: rcpt.orig.clone(),
                status: note.status.clone(),
                diagnostic: note.text.clone(),
                remote_mta: remote_mta.clone(),
            };
            if status == RecipientStatus::Failed {
                bounced.push(reported());
            }
            if status == RecipientStatus::Pending {
                delayed.push(reported());
            }
            let text = note.text;
            updates.push(RecipientUpdate {
                idx: rcpt.idx,
                status,
                reply: text,
            });
        }
        let outcome = AttemptOutcome {
            id: id.clone(),
            updates,
            next_attempt: unix_now() + self.backoff(entry.attempts),
        };
        // The bounce is queued before the failure is recorded: a crash in
        // between sends it twice rather than never.
        if !bounced.is_empty() {
            self.bounce(
                &entry,
                body.as_ref().ok(),
                &bounced,
                crate::dsn::Action::Failed,
            )
            .await;
        }
        let warning = settings.delay_warning.as_secs() as i64;
        if warning > 0
            && !entry.warned
            && unix_now() - entry.arrival >= warning
            && !delayed.is_empty()
        {
            self.bounce(
                &entry,
                body.as_ref().ok(),
                &delayed,
                crate::dsn::Action::Delayed,
            )
            .await;
            if let Err(err) = self.queue.store().queue_mark_warned(&id).await {
                tracing::error!(target: "relay", "{id}: cannot record the delay warning: {err}");
            }
        }
        havre_queue::fault::reached(havre_queue::fault::ATTEMPT_DELIVERED);
        // The mailbox copies' index rows, the outcome and, when every
        // recipient is final, the record's removal: one commit. If it fails,
        // the copies are files without rows (the next sync indexes them) and
        // the next attempt finds them instead of delivering again.
        let rows: Vec<_> = staged.iter().map(|s| s.row().clone()).collect();
        match self.queue.finish_attempt(&outcome, &rows).await {
            Ok(finished) => {
                self.unrecorded
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&id);
                for (copy, uid) in staged.into_iter().zip(finished.uids) {
                    self.local.mailboxes().staged_indexed(copy, uid).await;
                }
            }
            Err(err) => {
                self.unrecorded
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(id.clone());
                tracing::error!(target: "relay", "{id}: cannot record the attempt: {err}")
            }
        }
    }

    /// Queues a non-delivery notification to the sender. Never for the null
    /// sender: a bounce never bounces (RFC 5321 6.1, no loops).
    async fn bounce(
        &self,
        entry: &QueueEntry,
        body: Option<&MessageSource>,
        failed: &[ReportedRecipient],
        action: crate::dsn::Action,
    ) {
        if entry.sender.is_empty() {
            tracing::info!(target: "relay", role = "bounce", "{}: no bounce: null sender", entry.id);
            return;
        }
        // Without its body (lost), the notice still goes, without the
        // original's header.
        let original: std::sync::Arc<[u8]> = match body {
            Some(MessageSource::Bytes(bytes)) => bytes.clone(),
            Some(MessageSource::File(path)) => {
                tokio::fs::read(path).await.unwrap_or_default().into()
            }
            None => std::sync::Arc::from(&[][..]),
        };
        let now = unix_now();
        let reporting_mta = self.local.mailboxes().hostname();
        let dsn = crate::dsn::build(&crate::dsn::Report {
            reporting_mta,
            queue_id: &entry.id,
            sender: &entry.sender,
            arrival: entry.arrival,
            action,
            recipients: failed,
            original_headers: crate::dsn::header_block(&original),
            now,
        });
        // Postfix's words for each kind of notice.
        let kind = match action {
            crate::dsn::Action::Failed => "non-delivery",
            crate::dsn::Action::Delayed => "delay",
        };
        let message_id = crate::dsn::message_id(&entry.id, now, reporting_mta);
        match self
            .queue
            .enqueue_notice(&entry.sender, &dsn, &message_id, "DSN")
            .await
        {
            Ok(id) => {
                tracing::info!(target: "relay", role = "bounce", "{}: sender {kind} notification: {id}", entry.id);
                self.events.record(
                    Event::new(Kind::Notice, "bounce")
                        .queue_id(entry.id.as_str())
                        .recipient(entry.sender.as_str())
                        .related(id)
                        .reason(format!("sender {kind} notification")),
                );
            }
            Err(err) => {
                tracing::error!(target: "relay", "{}: cannot queue the bounce: {err}", entry.id)
            }
        }
    }

    /// The quota of `mailbox` and her use, when she has one (`known`: what
    /// the recipient's lookup read of her already).
    async fn quota_of(
        &self,
        mailbox: &str,
        known: Option<MailboxFacts>,
    ) -> Result<Option<havre_store::QuotaUse>, havre_store::StoreError> {
        if let Some(facts) = known {
            return Ok(facts.quota);
        }
        let store = self.directory.store();
        let limit = store.get_user(mailbox).await?.and_then(|u| u.quota);
        let Some(limit) = limit else {
            return Ok(None);
        };
        let used = store.quota_used(mailbox).await?;
        Ok(Some(havre_store::QuotaUse { limit, used }))
    }

    /// Seconds until the next attempt: retry_min doubled per attempt, capped.
    fn backoff(&self, attempts: i64) -> i64 {
        let settings = self.settings();
        let min = settings.retry_min.as_secs().max(1);
        let max = settings.retry_max.as_secs().max(min);
        let factor = 1u64 << attempts.clamp(0, 20);
        min.saturating_mul(factor).min(max) as i64
    }

    /// Queues a Sieve plan's redirects of `user`'s (from the original
    /// envelope sender); false when one could not be queued.
    async fn redirect(
        &self,
        plan: &mut havre_mailbox::Plan,
        user: &str,
        sender: &str,
        id: &str,
    ) -> bool {
        if plan.redirects.is_empty() {
            return true;
        }
        let message = plan.redirected_message(user);
        let redirects = std::mem::take(&mut plan.redirects);
        self.queue
            .enqueue_redirects(sender, &redirects, &message, user, id)
            .await
    }

    /// Resolves one recipient and delivers its local mailboxes now; its
    /// remote addresses are collected for [`Relay::deliver_remote`].
    #[allow(clippy::too_many_arguments)]
    async fn deliver_recipient(
        &self,
        entry: &QueueEntry,
        looked_up: &LookedUp,
        rcpt: &QueueRecipient,
        body: &MessageSource,
        check_duplicate: bool,
        progress: &mut Progress,
        index: usize,
        remote: &mut Vec<RemoteTarget>,
        staged: &mut Vec<Staged>,
    ) {
        let id = &entry.id;
        let address = match Address::parse(&rcpt.address) {
            Ok(a) => a,
            Err(err) => {
                progress
                    .failed
                    .push(Note::new("5.1.3", format!("bad address: {err}")));
                return;
            }
        };
        // Recipients are expanded at enqueue: a local user's address is a
        // mailbox already (re-expanding it would follow a self-copy alias
        // again). Older records and addresses aliased since resolve as usual.
        // One read answers the usual case (a user of ours), with her quota
        // and whether she has a Sieve script: the delivery reads neither.
        // Read at RCPT just before, it is not read again, unless she has a
        // quota: its use changes with every delivery.
        let key = address.key();
        let found = match looked_up
            .entry(&key, LOOKED_UP_SERVES)
            .filter(|e| e.quota.is_none())
        {
            Some(known) => Some(known.clone()),
            None => self
                .directory
                .store()
                .address_entry(&key, address.domain())
                .await
                .ok(),
        };
        // The routing table first: an address's entry, or its domain's
        // (havre-outbound's routing.rs says which apply to our domains).
        // Any next hop but `local` is the remote side's (`remote.rs`).
        let settings = self.outbound_settings().filter(|s| !s.routes.is_empty());
        if let Some(found) = &found
            && let Some(settings) = settings
            && let Some(routed) = settings.routes.lookup(
                &key,
                self.directory
                    .routes_as_local(found.domain_local, address.domain())
                    .await,
            )
            && *routed.nexthop != Nexthop::Local
        {
            remote.push(RemoteTarget {
                index,
                address: address.to_string(),
                expanded: false,
                route: None,
            });
            return;
        }
        let (resolved, facts) = match found {
            Some(found) if found.user => (
                Ok(Resolution::Deliver(vec![Target::Mailbox(key)])),
                vec![(
                    address.key(),
                    MailboxFacts {
                        quota: found.quota,
                        sieve: found.sieve,
                    },
                )],
            ),
            // An alias, an LDAP account: resolved from the entry read above.
            found => match self.directory.resolve_knowing(&address, found).await {
                Ok((resolution, facts)) => (Ok(resolution), facts),
                Err(err) => (Err(err), Vec::new()),
            },
        };
        let targets = match resolved {
            Ok(Resolution::Deliver(targets)) => targets,
            Ok(Resolution::Disabled) => {
                progress.failed.push(Note::new("5.2.1", "mailbox disabled"));
                return;
            }
            Ok(Resolution::UnknownUser) => {
                progress.failed.push(Note::new("5.1.1", "user unknown"));
                return;
            }
            // The aliases changed since the message was queued: bounce it,
            // never drop it as delivered to nobody.
            Ok(Resolution::Loop) => {
                progress
                    .failed
                    .push(Note::new("5.4.6", "mail forwarding loop"));
                return;
            }
            Ok(Resolution::NotLocal) => {
                remote.push(RemoteTarget {
                    index,
                    address: address.to_string(),
                    expanded: false,
                    route: None,
                });
                return;
            }
            Err(err) => {
                progress
                    .deferred
                    .push(Note::new("4.3.0", format!("directory unavailable: {err}")));
                return;
            }
        };
        // A target is named in a result only when it is not the recipient
        // itself: the DSN and the log name the recipient already.
        let own = address.key();
        let named = |target: &str| {
            if target == own {
                String::new()
            } else {
                format!("<{target}>: ")
            }
        };
        let mut mailboxes = Vec::new();
        let mut discarded = Vec::new();
        for target in targets {
            match target {
                Target::Mailbox(mailbox) => {
                    // Her LDAP account names the server that keeps her
                    // mail (a lab's own): it goes there, not here.
                    match self.directory.mail_host(&mailbox).await {
                        Ok(Some(host)) if !self.is_this_node(&host) => {
                            match mail_host_route(&host) {
                                Ok(route) => remote.push(RemoteTarget {
                                    expanded: mailbox != own,
                                    index,
                                    address: mailbox,
                                    route: Some(route),
                                }),
                                Err(err) => progress.deferred.push(Note::new(
                                    "4.3.5",
                                    format!("{}bad mail host {host:?}: {err}", named(&mailbox)),
                                )),
                            }
                            continue;
                        }
                        Ok(_) => {}
                        Err(err) => {
                            progress.deferred.push(Note::new(
                                "4.3.0",
                                format!("{}directory unavailable: {err}", named(&mailbox)),
                            ));
                            continue;
                        }
                    }
                    let known = facts.iter().find(|(m, _)| *m == mailbox).map(|(_, f)| *f);
                    let quota = match self.quota_of(&mailbox, known).await {
                        Ok(quota) => quota,
                        Err(err) => {
                            progress.deferred.push(Note::new(
                                "4.3.0",
                                format!("{}quota unavailable: {err}", named(&mailbox)),
                            ));
                            continue;
                        }
                    };
                    if quota.is_some_and(|q| q.exceeded_by(entry.size)) {
                        let full = format!("{}mailbox is full (quota exceeded)", named(&mailbox));
                        if self.settings().quota_full_tempfail {
                            progress.deferred.push(Note::new("4.2.2", full));
                        } else {
                            progress.failed.push(Note::new("5.2.2", full));
                        }
                        continue;
                    }
                    let request = DeliveryRequest {
                        mailbox: &mailbox,
                        sender: &entry.sender,
                        message: body,
                        message_id: id,
                        check_duplicate,
                    };
                    // The user's Sieve scripts first: which folders, what else.
                    // The address the client gave (an alias) is hers too,
                    // for `envelope "orig_to"` and vacation.
                    let given = rcpt.orig.as_deref().unwrap_or(&rcpt.address);
                    let active =
                        known.map_or(ActiveScript::Unknown, |f| ActiveScript::from_entry(f.sieve));
                    let mut plan = self.local.plan_knowing(&request, Some(given), active).await;
                    if let Some(reason) = plan.reject.take() {
                        progress.failed.push(Note::new(
                            "5.7.1",
                            format!("{}rejected by sieve: {reason}", named(&mailbox)),
                        ));
                        continue;
                    }
                    // Due whatever becomes of the delivery: the state
                    // already counts it as sent.
                    if let Some(reply) = plan.vacation_reply.take() {
                        self.queue
                            .enqueue_vacation(&reply.to, &reply.message, &mailbox, id)
                            .await;
                    }
                    if plan.filings.is_empty() {
                        if !self.redirect(&mut plan, &mailbox, &entry.sender, id).await {
                            // Never lost: a redirect that could not be queued keeps.
                            plan = havre_mailbox::Plan::keep();
                        } else {
                            discarded.push(mailbox);
                            continue;
                        }
                    }
                    match self.local.stage_plan(request, &plan).await {
                        Ok(copies) => {
                            let fresh = copies.iter().any(|copy| copy.fresh());
                            if let (true, Some(quota)) = (fresh, quota) {
                                let hostname = self.local.mailboxes().hostname();
                                self.queue
                                    .warn_quota(&mailbox, quota, entry.size, hostname)
                                    .await;
                            }
                            for copy in copies {
                                if !copy.fresh() {
                                    tracing::info!(target: "relay", role = "local", "{id}: to=<{mailbox}>, orig_to=<{}>, status=sent (already delivered by an earlier attempt)", rcpt.address);
                                }
                                staged.push(copy);
                            }
                            // After the copies: a deferred recipient, tried
                            // again, does not redirect twice.
                            self.redirect(&mut plan, &mailbox, &entry.sender, id).await;
                            mailboxes.push(mailbox);
                        }
                        Err(err) => progress
                            .deferred
                            .push(Note::new("4.2.0", format!("{}{err}", named(&mailbox)))),
                    }
                }
                Target::Remote(address) => remote.push(RemoteTarget {
                    expanded: address != rcpt.address,
                    index,
                    address,
                    route: None,
                }),
                Target::Unknown(unknown) => progress.failed.push(Note::new(
                    "5.1.1",
                    format!("{}user unknown", named(&unknown)),
                )),
            }
        }
        if !discarded.is_empty() && mailboxes.is_empty() {
            progress.delivered.push(Note::new(
                "2.0.0",
                if discarded == [own.clone()] {
                    "discarded by sieve".to_string()
                } else {
                    format!("discarded by sieve of {}", discarded.join(", "))
                },
            ));
        }
        if mailboxes == [own.clone()] {
            progress
                .delivered
                .push(Note::new("2.0.0", "delivered to maildir"));
        } else if !mailboxes.is_empty() {
            progress.delivered.push(Note::new(
                "2.0.0",
                format!("delivered to maildir of {}", mailboxes.join(", ")),
            ));
        }
    }
}

/// The route to a user's mail host (`ldap.attributes.mail_host`): `host`,
/// `host:port` or `[address]:port`, always that host (no MX lookup), port
/// 25 when none is given.
pub fn mail_host_route(host: &str) -> Result<havre_outbound::Route, havre_outbound::RouteError> {
    let host = host.trim();
    let text = if host.starts_with('[') {
        format!("smtp:{host}")
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if !name.contains(':') => format!("smtp:[{name}]:{port}"),
            _ => format!("smtp:[{host}]"),
        }
    };
    havre_outbound::parse_route(&text)
}
