//! `havre quarantine`: the mail a check accepted but held (Postfix's HOLD,
//! `attachments.action = "quarantine"`). Quarantined mail is queued mail on
//! hold with a reason, so this is `havre queue` narrowed to it: the same
//! show, and postsuper's release and delete, logged alike.

use std::path::PathBuf;

use anyhow::Context;
use havre_queue::{Queue, Spool};
use havre_store::QueueEntry;
use serde::Serialize;

use crate::cli::QuarantineCommand;
use crate::locate;
use crate::output::{self, Report, rfc3339};
use crate::queue_cmd::{self, Action, Scope};

/// The quarantine in mailq's layout, each message's reason above its
/// recipients; in JSON an array of objects.
struct Listing {
    entries: Vec<QueueEntry>,
}

#[derive(Serialize)]
struct Listed<'a> {
    queue_id: &'a str,
    /// RFC 3339.
    date: String,
    arrival_time: i64,
    message_size: u64,
    sender: &'a str,
    recipients: Vec<&'a str>,
    reason: &'a str,
}

impl Serialize for Listing {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.entries.iter().map(|e| Listed {
            queue_id: &e.id,
            date: rfc3339(e.arrival),
            arrival_time: e.arrival,
            message_size: e.size,
            sender: &e.sender,
            recipients: e.pending().map(|r| r.address.as_str()).collect(),
            reason: e.hold_reason.as_deref().unwrap_or(""),
        }))
    }
}

impl Report for Listing {
    fn text(&self) -> String {
        use std::fmt::Write;
        if self.entries.is_empty() {
            return "Quarantine is empty\n".into();
        }
        let mut out = String::from(
            "-Queue ID-            --Size-- ----Arrival Time---- -Sender/Recipient-------\n",
        );
        let mut total = 0;
        for e in &self.entries {
            total += e.size;
            let sender = if e.sender.is_empty() {
                "MAILER-DAEMON"
            } else {
                &e.sender
            };
            let _ = writeln!(
                out,
                "{:<21} {:>8} {:<20} {sender}",
                e.id,
                e.size,
                queue_cmd::arrival(e.arrival)
            );
            let _ = writeln!(out, "({})", e.hold_reason.as_deref().unwrap_or(""));
            for rcpt in e.pending() {
                let _ = writeln!(out, "{:>52} {}", "", rcpt.address);
            }
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "-- {} Kbytes in {} Request{}.",
            total.div_ceil(1024),
            self.entries.len(),
            if self.entries.len() == 1 { "" } else { "s" }
        );
        out
    }
}

pub async fn run(explicit: Option<PathBuf>, command: QuarantineCommand) -> anyhow::Result<()> {
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
        QuarantineCommand::List { format } => {
            let listing = Listing {
                entries: queue.quarantined().await?,
            };
            output::print(&listing, format.json)?
        }
        QuarantineCommand::Show { id, body, format } => {
            let entry = queue
                .quarantined_message(&id)
                .await?
                .with_context(|| format!("no message {id} in quarantine"))?;
            let shown = queue_cmd::show_entry(&queue, entry, body).await?;
            output::print(&shown, format.json)?
        }
        QuarantineCommand::Release { ids } => {
            queue_cmd::postsuper(&store, &queue, Action::Release, Scope::Quarantine, &ids).await?
        }
        QuarantineCommand::Delete { ids } => {
            queue_cmd::postsuper(&store, &queue, Action::Delete, Scope::Quarantine, &ids).await?
        }
    }
    Ok(())
}
