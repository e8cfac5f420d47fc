//! `havre queue`: mailq, postqueue -f, postsuper and postcat for havre.
//! Works while `havre serve` runs: changes are records in the store, which
//! the relay reads at its next pass (within a second).

use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use havre_queue::{MessageSource, Queue, Spool};
use havre_store::{QueueEntry, RecipientStatus, Store};
use serde::Serialize;

use crate::cli::QueueCommand;
use crate::locate;
use crate::output::{self, Report, rfc3339};

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Postfix's mailq date: `Mon Nov 23 01:57:34`.
pub(crate) fn arrival(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| d.format("%a %b %e %H:%M:%S").to_string())
        .unwrap_or_default()
}

fn mark(entry: &QueueEntry, now: i64) -> &'static str {
    if entry.hold {
        "!"
    } else if entry.next_attempt <= now {
        "*"
    } else {
        ""
    }
}

/// The queue as `mailq` shows it; in JSON, an array of postqueue -j's
/// objects (same field names), with havre's attempt count and schedule.
struct Listing {
    entries: Vec<QueueEntry>,
    now: i64,
    /// Each message says which node's queue it is in (`--all-nodes`).
    with_node: bool,
}

#[derive(Serialize)]
struct ListedMessage<'a> {
    queue_name: &'static str,
    queue_id: &'a str,
    arrival_time: i64,
    message_size: u64,
    sender: &'a str,
    attempts: i64,
    next_attempt: i64,
    /// Why a check held it (the quarantine).
    #[serde(skip_serializing_if = "Option::is_none")]
    hold_reason: Option<&'a str>,
    /// The node whose queue holds it (`server.node_id`), with `--all-nodes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    node: Option<u8>,
    recipients: Vec<ListedRecipient<'a>>,
}

#[derive(Serialize)]
struct ListedRecipient<'a> {
    address: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    delay_reason: Option<&'a str>,
}

/// Postfix's queue names: `hold`, `active` (due now), `deferred`.
fn queue_name(entry: &QueueEntry, now: i64) -> &'static str {
    if entry.hold {
        "hold"
    } else if entry.next_attempt <= now {
        "active"
    } else {
        "deferred"
    }
}

impl Serialize for Listing {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.entries.iter().map(|entry| {
            ListedMessage {
                queue_name: queue_name(entry, self.now),
                queue_id: &entry.id,
                arrival_time: entry.arrival,
                message_size: entry.size,
                sender: &entry.sender,
                attempts: entry.attempts,
                next_attempt: entry.next_attempt,
                hold_reason: entry.hold_reason.as_deref(),
                node: self.with_node.then_some(entry.node),
                recipients: entry
                    .pending()
                    .map(|r| ListedRecipient {
                        address: &r.address,
                        delay_reason: r.last_reply.as_deref(),
                    })
                    .collect(),
            }
        }))
    }
}

impl Report for Listing {
    fn text(&self) -> String {
        use std::fmt::Write;
        let entries = &self.entries;
        if entries.is_empty() {
            return "Mail queue is empty\n".into();
        }
        let mut out = String::new();
        out.push_str("-Queue ID-        --Size-- ----Arrival Time---- -Sender/Recipient-------\n");
        let mut total = 0;
        for entry in entries {
            total += entry.size;
            let id = format!("{}{}", entry.id, mark(entry, self.now));
            let sender = if entry.sender.is_empty() {
                "MAILER-DAEMON"
            } else {
                &entry.sender
            };
            let _ = writeln!(
                out,
                "{id:<17} {:>8} {:<20} {sender}",
                entry.size,
                arrival(entry.arrival)
            );
            if self.with_node {
                let _ = writeln!(out, "(node {})", entry.node);
            }
            // A quarantined message says why, as mailq says why mail waits.
            let mut last_reason: Option<&str> = None;
            if let Some(reason) = &entry.hold_reason {
                let _ = writeln!(out, "(quarantine: {reason})");
            }
            for rcpt in entry.pending() {
                let reason = rcpt.last_reply.as_deref();
                if reason.is_some() && reason != last_reason {
                    let _ = writeln!(out, "({})", reason.unwrap_or(""));
                }
                last_reason = reason;
                let _ = writeln!(out, "{:>48} {}", "", rcpt.address);
            }
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "-- {} Kbytes in {} Request{}.",
            total.div_ceil(1024),
            entries.len(),
            if entries.len() == 1 { "" } else { "s" }
        );
        out
    }
}

/// One message: its envelope and state, its headers (postcat -h) or the
/// whole message (postcat -bh).
#[derive(Serialize)]
pub(crate) struct Shown {
    id: String,
    sender: String,
    size: u64,
    arrival: String,
    client: String,
    protocol: String,
    attempts: i64,
    next_attempt: String,
    hold: bool,
    /// Why a check held it (the quarantine).
    #[serde(skip_serializing_if = "Option::is_none")]
    hold_reason: Option<String>,
    recipients: Vec<ShownRecipient>,
    /// The header block, as stored (CRLF made LF).
    headers: String,
    /// After the blank line; only with `--body`.
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(skip)]
    arrival_ts: i64,
    #[serde(skip)]
    next_attempt_ts: i64,
}

#[derive(Serialize)]
struct ShownRecipient {
    address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    orig: Option<String>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_reply: Option<String>,
}

impl Report for Shown {
    fn text(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let _ = writeln!(out, "id:           {}", self.id);
        let _ = writeln!(out, "sender:       <{}>", self.sender);
        let _ = writeln!(out, "size:         {}", self.size);
        let _ = writeln!(out, "arrival:      {}", arrival(self.arrival_ts));
        let _ = writeln!(out, "client:       {} ({})", self.client, self.protocol);
        let _ = writeln!(out, "attempts:     {}", self.attempts);
        let _ = writeln!(
            out,
            "next attempt: {}{}",
            arrival(self.next_attempt_ts),
            if self.hold { " (on hold)" } else { "" }
        );
        if let Some(reason) = &self.hold_reason {
            let _ = writeln!(out, "quarantine:   {reason}");
        }
        for rcpt in &self.recipients {
            let _ = writeln!(
                out,
                "recipient:    <{}>{} {}{}",
                rcpt.address,
                rcpt.orig
                    .as_deref()
                    .map(|o| format!(" (from <{o}>)"))
                    .unwrap_or_default(),
                rcpt.status,
                rcpt.last_reply
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            );
        }
        out.push('\n');
        out.push_str(&self.headers);
        if let Some(body) = &self.body {
            // postcat -bh: the header block, the blank line, the body.
            out.push('\n');
            out.push_str(body);
            if !body.is_empty() && !body.ends_with('\n') {
                out.push('\n');
            }
        }
        out
    }
}

pub(crate) async fn show(queue: &Queue, id: &str, with_body: bool) -> anyhow::Result<Shown> {
    let entry = queue
        .store()
        .queue_get(id)
        .await?
        .with_context(|| format!("no message {id} in the queue"))?;
    show_entry(queue, entry, with_body).await
}

/// [`show`] of a record already read.
pub(crate) async fn show_entry(
    queue: &Queue,
    entry: QueueEntry,
    with_body: bool,
) -> anyhow::Result<Shown> {
    let id = entry.id.as_str();
    let body = queue
        .body(id)
        .await?
        .with_context(|| format!("message {id} has lost its body (no spool file, none kept)"))?;
    let text = body.read_all().with_context(|| match &body {
        MessageSource::File(path) => format!("cannot read {}", path.display()),
        MessageSource::Bytes(_) => format!("cannot read the body of {id}"),
    })?;
    let head = havre_relay::dsn::header_block(&text);
    let lf = |bytes: &[u8]| String::from_utf8_lossy(bytes).replace("\r\n", "\n");
    let body = with_body.then(|| {
        // After the header block and its blank line.
        let rest = &text[head.len()..];
        let rest = rest
            .strip_prefix(b"\r\n")
            .or_else(|| rest.strip_prefix(b"\n"))
            .unwrap_or(rest);
        lf(rest)
    });
    Ok(Shown {
        id: entry.id.clone(),
        sender: entry.sender.clone(),
        size: entry.size,
        arrival: rfc3339(entry.arrival),
        client: entry.client.clone(),
        protocol: entry.protocol.clone(),
        attempts: entry.attempts,
        next_attempt: rfc3339(entry.next_attempt),
        hold: entry.hold,
        hold_reason: entry.hold_reason.clone(),
        recipients: entry
            .recipients
            .iter()
            .map(|r| ShownRecipient {
                address: r.address.clone(),
                orig: r.orig.clone(),
                status: match r.status {
                    RecipientStatus::Pending => "pending",
                    RecipientStatus::Sent => "sent",
                    RecipientStatus::Failed => "failed",
                },
                last_reply: r.last_reply.clone(),
            })
            .collect(),
        headers: lf(head),
        body,
        arrival_ts: entry.arrival,
        next_attempt_ts: entry.next_attempt,
    })
}

/// What postsuper does to one message, and how it says so.
#[derive(Clone, Copy)]
pub(crate) enum Action {
    Hold,
    Release,
    Delete,
    Requeue,
}

impl Action {
    /// postsuper's log line after the id.
    fn done(self) -> &'static str {
        match self {
            Action::Hold => "placed on hold",
            Action::Release => "released from hold",
            Action::Delete => "removed",
            Action::Requeue => "requeued",
        }
    }

    /// postsuper's summary on standard error.
    fn summary(self) -> &'static str {
        match self {
            Action::Hold => "Placed on hold",
            Action::Release => "Released from hold",
            Action::Delete => "Deleted",
            Action::Requeue => "Requeued",
        }
    }

    /// Does it to `id`, logged as postsuper logs it; false when the message
    /// is not in the queue.
    async fn apply(self, queue: &Queue, id: &str) -> anyhow::Result<bool> {
        Ok(match self {
            Action::Hold => queue.hold(id).await?,
            Action::Release => queue.release(id).await?,
            Action::Delete => queue.delete(id).await?,
            Action::Requeue => queue.requeue(id).await?,
        })
    }

    /// Which messages ALL means: hold takes those not held, release those
    /// held, requeue those not held (postsuper -r ALL), delete every one.
    fn wants(self, entry: &QueueEntry) -> bool {
        match self {
            Action::Hold | Action::Requeue => !entry.hold,
            Action::Release => entry.hold,
            Action::Delete => true,
        }
    }
}

/// The messages an operator's command may touch: the whole queue (`havre
/// queue`), or the quarantined ones only (`havre quarantine`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    Queue,
    Quarantine,
}

impl Scope {
    /// Where a message was not found, in the error.
    fn place(self) -> &'static str {
        match self {
            Scope::Queue => "the queue",
            Scope::Quarantine => "quarantine",
        }
    }

    /// The messages ALL means for `action`.
    async fn all(self, store: &Arc<dyn Store>, action: Action) -> anyhow::Result<Vec<QueueEntry>> {
        Ok(match self {
            Scope::Queue => store
                .queue_list()
                .await?
                .into_iter()
                .filter(|e| action.wants(e))
                .collect(),
            Scope::Quarantine => store.queue_quarantined(None).await?,
        })
    }

    /// Whether `id` is there (for the quarantine: queued and quarantined).
    async fn holds(self, queue: &Queue, id: &str) -> anyhow::Result<bool> {
        Ok(match self {
            Scope::Queue => true,
            Scope::Quarantine => queue.quarantined_message(id).await?.is_some(),
        })
    }
}

/// The ids an operator gave: ALL, `-` (standard input: the first word of
/// each line, a mailq `*` or `!` mark dropped), or ids.
async fn targets(
    store: &Arc<dyn Store>,
    action: Action,
    scope: Scope,
    given: &[String],
) -> anyhow::Result<Vec<(String, bool)>> {
    let mut out = Vec::new();
    for id in given {
        match id.as_str() {
            "ALL" => out.extend(
                scope
                    .all(store, action)
                    .await?
                    .into_iter()
                    .map(|e| (e.id, true)),
            ),
            "-" => {
                for line in std::io::stdin().lock().lines() {
                    let line = line.context("cannot read queue ids from standard input")?;
                    if let Some(word) = line.split_whitespace().next() {
                        let id = word.trim_end_matches(['*', '!']);
                        out.push((id.to_string(), false));
                    }
                }
            }
            id => out.push((id.to_string(), false)),
        }
    }
    Ok(out)
}

pub(crate) async fn postsuper(
    store: &Arc<dyn Store>,
    queue: &Queue,
    action: Action,
    scope: Scope,
    given: &[String],
) -> anyhow::Result<()> {
    let mut done = 0;
    let mut missing = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (id, from_all) in targets(store, action, scope, given).await? {
        if !seen.insert(id.clone()) {
            continue;
        }
        if scope.holds(queue, &id).await? && action.apply(queue, &id).await? {
            output::write_stdout(&format!("{id}: {}\n", action.done()))?;
            done += 1;
        } else if !from_all {
            missing.push(id);
        }
    }
    eprintln!(
        "havre: {}: {done} message{}",
        action.summary(),
        if done == 1 { "" } else { "s" }
    );
    match missing.as_slice() {
        [] => Ok(()),
        [one] => Err(anyhow::anyhow!("no message {one} in {}", scope.place())),
        many => Err(anyhow::anyhow!(
            "not in {}: {} (the others were done)",
            scope.place(),
            many.join(", ")
        )),
    }
}

pub async fn run(explicit: Option<PathBuf>, command: QueueCommand) -> anyhow::Result<()> {
    let config = locate::load(explicit)?;
    // Before becoming server.user: the log file may be root's.
    crate::logging::init_cli(&config);
    crate::privileges::become_server_user(&config)?;
    let store = locate::open_store(&config).await?;
    let queue = Queue::new(
        store.clone(),
        Spool::open(&config.data_dir().join("queue"))?,
    );
    match command {
        QueueCommand::List { all_nodes, format } => {
            let entries = if all_nodes {
                store.queue_list_all_nodes().await?
            } else {
                store.queue_list().await?
            };
            let listing = Listing {
                entries,
                now: now(),
                with_node: all_nodes,
            };
            output::print(&listing, format.json)?
        }
        QueueCommand::Show { id, body, format } => {
            output::print(&show(&queue, &id, body).await?, format.json)?
        }
        QueueCommand::Hold { ids } => {
            postsuper(&store, &queue, Action::Hold, Scope::Queue, &ids).await?
        }
        QueueCommand::Release { ids } => {
            postsuper(&store, &queue, Action::Release, Scope::Queue, &ids).await?
        }
        QueueCommand::Delete { ids } => {
            postsuper(&store, &queue, Action::Delete, Scope::Queue, &ids).await?
        }
        QueueCommand::Requeue { ids } => {
            postsuper(&store, &queue, Action::Requeue, Scope::Queue, &ids).await?
        }
        QueueCommand::Flush => {
            let n = store.queue_reschedule(None, now(), false).await?;
            println!(
                "Flushed: {n} message{} due now",
                if n == 1 { "" } else { "s" }
            );
        }
    }
    Ok(())
}
