//! `havre trace ID [--since DURATION]`: every event of a message (a queue
//! id, a `<Message-ID>` or an address), in time order, with the time each
//! step took.

use std::path::PathBuf;

use anyhow::{Context, bail};
use chrono::{Local, TimeZone};
use havre_events::Event;

use crate::locate;
use crate::report_cmd::{Period, events_db};

pub(crate) async fn run(
    config: Option<PathBuf>,
    id: String,
    since: String,
    json: bool,
) -> anyhow::Result<()> {
    let loaded = locate::load(config)?;
    crate::logging::init_cli(&loaded);
    crate::privileges::become_server_user(&loaded)?;
    let period = Period::since(&since)?;
    let db = events_db(&loaded).await?;
    let wanted = havre_events::trace::wanted(&id);
    let events = havre_events::trace::trace(&db, &wanted, period.from, period.until)
        .await
        .with_context(|| format!("cannot trace {id}"))?;
    if events.is_empty() {
        bail!(
            "no event names {id} in {} (events are kept events.retention = {}; --since looks further back)",
            period.name,
            loaded.config.events.retention
        );
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&events)?);
    } else {
        print!("{}", text(&events));
    }
    Ok(())
}

/// One line an event: its local time, the time since the step before, the
/// node and program, what happened and to whom.
fn text(events: &[Event]) -> String {
    let mut out = String::new();
    let mut before: Option<i64> = None;
    for e in events {
        let when = Local.timestamp_micros(e.at).single().map_or_else(
            || e.at.to_string(),
            |t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
        );
        let step = match before {
            Some(b) => format!("+{:.3}s", (e.at - b) as f64 / 1e6),
            None => String::new(),
        };
        before = Some(e.at);
        let mut what = Vec::new();
        if let Some(id) = &e.queue_id {
            what.push(id.clone());
        }
        what.push(e.kind.as_str().to_string());
        if let Some(id) = &e.message_id {
            what.push(format!("message-id={id}"));
        }
        if let Some(client) = &e.client {
            what.push(format!("client={client}"));
        }
        if let Some(sender) = &e.sender {
            what.push(format!("from=<{sender}>"));
        }
        if let Some(to) = &e.recipient {
            what.push(format!("to=<{to}>"));
        }
        if let Some(orig) = &e.original {
            what.push(format!("orig_to=<{orig}>"));
        }
        if e.size > 0 {
            what.push(format!("size={}", e.size));
        }
        if let Some(relay) = &e.relay {
            what.push(format!("relay={relay}"));
        }
        if let Some(delay) = e.delay {
            what.push(format!("delay={delay:.2}"));
        }
        if let Some(check) = &e.check {
            what.push(format!("check={check}"));
        }
        if let Some(related) = &e.related {
            what.push(format!("-> {related}"));
        }
        if let Some(reason) = &e.reason {
            what.push(format!("({reason})"));
        }
        out.push_str(&format!(
            "{when} {step:>9} {} {}: {}\n",
            e.node,
            e.role,
            what.join(" ")
        ));
    }
    out
}
