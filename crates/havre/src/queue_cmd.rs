//! `havre queue`: mailq, postqueue -f and postsuper for havre. Works while
//! `havre serve` runs: changes are records in the store, which the relay
//! reads at its next pass (within a second).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use havre_queue::{Queue, Spool};
use havre_store::{QueueEntry, RecipientStatus, Store};

use crate::cli::QueueCommand;
use crate::locate;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Postfix's mailq date: `Mon Nov 23 01:57:34`.
fn arrival(ts: i64) -> String {
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

fn print_list(entries: &[QueueEntry]) {
    if entries.is_empty() {
        println!("Mail queue is empty");
        return;
    }
    let now = now();
    println!("-Queue ID-        --Size-- ----Arrival Time---- -Sender/Recipient-------");
    let mut total = 0;
    for entry in entries {
        total += entry.size;
        let id = format!("{}{}", entry.id, mark(entry, now));
        let sender = if entry.sender.is_empty() {
            "MAILER-DAEMON"
        } else {
            &entry.sender
        };
        println!(
            "{id:<17} {:>8} {:<20} {sender}",
            entry.size,
            arrival(entry.arrival)
        );
        let mut last_reason: Option<&str> = None;
        for rcpt in entry
            .recipients
            .iter()
            .filter(|r| r.status == RecipientStatus::Pending)
        {
            let reason = rcpt.last_reply.as_deref();
            if reason.is_some() && reason != last_reason {
                println!("({})", reason.unwrap_or(""));
            }
            last_reason = reason;
            println!("{:>48} {}", "", rcpt.address);
        }
        println!();
    }
    println!(
        "-- {} Kbytes in {} Request{}.",
        total.div_ceil(1024),
        entries.len(),
        if entries.len() == 1 { "" } else { "s" }
    );
}

async fn show(store: &Arc<dyn Store>, spool: &Spool, id: &str) -> anyhow::Result<()> {
    let entry = store
        .queue_get(id)
        .await?
        .with_context(|| format!("no message {id} in the queue"))?;
    println!("id:           {}", entry.id);
    println!("sender:       <{}>", entry.sender);
    println!("size:         {}", entry.size);
    println!("arrival:      {}", arrival(entry.arrival));
    println!("client:       {} ({})", entry.client, entry.protocol);
    println!("attempts:     {}", entry.attempts);
    println!(
        "next attempt: {}{}",
        arrival(entry.next_attempt),
        if entry.hold { " (on hold)" } else { "" }
    );
    for rcpt in &entry.recipients {
        let status = match rcpt.status {
            RecipientStatus::Pending => "pending",
            RecipientStatus::Sent => "sent",
            RecipientStatus::Failed => "failed",
        };
        println!(
            "recipient:    <{}>{} {status}{}",
            rcpt.address,
            rcpt.orig
                .as_deref()
                .map(|o| format!(" (from <{o}>)"))
                .unwrap_or_default(),
            rcpt.last_reply
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        );
    }
    let path = spool.message_path(id);
    let text = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    println!();
    print!(
        "{}",
        String::from_utf8_lossy(havre_relay::dsn::header_block(&text)).replace("\r\n", "\n")
    );
    Ok(())
}

pub async fn run(explicit: Option<PathBuf>, command: QueueCommand) -> anyhow::Result<()> {
    let config = locate::load(explicit)?;
    crate::logging::init_cli(&config);
    let store = locate::open_store(&config).await?;
    let queue = Queue::new(
        store.clone(),
        Spool::open(&config.data_dir().join("queue"))?,
    );
    match command {
        QueueCommand::List => print_list(&store.queue_list().await?),
        QueueCommand::Show { id } => show(&store, queue.spool(), &id).await?,
        QueueCommand::Hold { id } => {
            if !queue.hold(&id).await? {
                bail!("no message {id} in the queue");
            }
            println!("{id}: placed on hold");
        }
        QueueCommand::Release { id } => {
            if !queue.release(&id).await? {
                bail!("no message {id} in the queue");
            }
            println!("{id}: released from hold");
        }
        QueueCommand::Delete { id } => {
            let ids: Vec<String> = if id == "ALL" {
                store
                    .queue_list()
                    .await?
                    .into_iter()
                    .map(|e| e.id)
                    .collect()
            } else {
                vec![id.clone()]
            };
            let mut deleted = 0;
            for id in &ids {
                if queue.delete(id).await? {
                    deleted += 1;
                }
            }
            if deleted == 0 && id != "ALL" {
                bail!("no message {id} in the queue");
            }
            println!(
                "Deleted: {deleted} message{}",
                if deleted == 1 { "" } else { "s" }
            );
        }
        QueueCommand::Requeue { id } => {
            // ALL: every message not on hold, each logged as postsuper does.
            let ids: Vec<String> = if id == "ALL" {
                store
                    .queue_list()
                    .await?
                    .into_iter()
                    .filter(|e| !e.hold)
                    .map(|e| e.id)
                    .collect()
            } else {
                vec![id.clone()]
            };
            let mut n = 0;
            for id in &ids {
                if queue.requeue(id).await? {
                    n += 1;
                }
            }
            if n == 0 && id != "ALL" {
                bail!("no message {id} in the queue");
            }
            println!("Requeued: {n} message{}", if n == 1 { "" } else { "s" });
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
