//! `havre report [--day YYYY-MM-DD | --since DURATION] [--html]`:
//! pflogsumm's daily report, from the events of the period (havre-events'
//! `report`); the mailed one is built here too (`daily_report.rs`).

use std::path::PathBuf;

use anyhow::{Context, bail};
use chrono::{Local, NaiveDate, TimeZone, Timelike};
use havre_events::SqliteEvents;
use havre_events::report::Report;

use crate::locate;

/// The period a report covers: microseconds since the epoch, `from`
/// included, `until` excluded, and how to name it.
pub(crate) struct Period {
    pub from: i64,
    pub until: i64,
    pub name: String,
}

impl Period {
    /// The local calendar day `day` (YYYY-MM-DD), or today.
    pub(crate) fn day(day: Option<&str>) -> anyhow::Result<Period> {
        let date = match day {
            None => Local::now().date_naive(),
            Some(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .with_context(|| format!("--day {text:?}: expected YYYY-MM-DD"))?,
        };
        let start = |d: NaiveDate| -> anyhow::Result<i64> {
            let midnight = d.and_hms_opt(0, 0, 0).expect("midnight exists");
            // The earliest midnight when a time change repeats it.
            let local = Local
                .from_local_datetime(&midnight)
                .earliest()
                .with_context(|| format!("{d} has no local midnight"))?;
            Ok(local.timestamp_micros())
        };
        let next = date
            .succ_opt()
            .with_context(|| format!("{date}: no day after it"))?;
        Ok(Period {
            from: start(date)?,
            until: start(next)?,
            name: date.format("%Y-%m-%d").to_string(),
        })
    }

    /// The last `since` (a duration as the configuration writes them:
    /// `90m`, `24h`, `7d`) up to now.
    pub(crate) fn since(since: &str) -> anyhow::Result<Period> {
        let length: havre_config::Duration = since
            .parse()
            .map_err(|e| anyhow::anyhow!("--since {since:?}: {e}"))?;
        let until = Local::now().timestamp_micros();
        let from = until - length.0.as_micros() as i64;
        Ok(Period {
            from,
            until,
            name: format!("the last {since}"),
        })
    }
}

/// The events database of the node, read only by commands: missing is an
/// error that says why.
pub(crate) async fn events_db(loaded: &havre_config::LoadedConfig) -> anyhow::Result<SqliteEvents> {
    let path = loaded.events_path();
    if !path.exists() {
        if !loaded.config.events.enabled {
            bail!(
                "no events database at {}: events.enabled is false (havre config set events.enabled true, then havre reload)",
                path.display()
            );
        }
        bail!(
            "no events database at {}: havre serve has not run with events on this node yet",
            path.display()
        );
    }
    SqliteEvents::open(&path)
        .await
        .with_context(|| format!("cannot read the events database {}", path.display()))
}

pub(crate) async fn run(
    config: Option<PathBuf>,
    day: Option<String>,
    since: Option<String>,
    json: bool,
    html: bool,
) -> anyhow::Result<()> {
    let loaded = locate::load(config)?;
    crate::logging::init_cli(&loaded);
    crate::privileges::become_server_user(&loaded)?;
    let period = match (&day, &since) {
        (Some(_), Some(_)) => bail!("--day and --since name two periods: give one"),
        (_, Some(since)) => Period::since(since)?,
        (day, None) => Period::day(day.as_deref())?,
    };
    let db = events_db(&loaded).await?;
    let report = build(&db, &period).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let title = title(&loaded.config.server.hostname, &period);
    if html {
        print!("{}", report.html(&title));
        return Ok(());
    }
    if report.is_empty() {
        println!(
            "no events on {} (kept for events.retention = {})",
            period.name, loaded.config.events.retention
        );
        return Ok(());
    }
    print!("{}", report.text(&title));
    Ok(())
}

/// The report of `period` from the events in `db`, hours in local time.
pub(crate) async fn build(db: &SqliteEvents, period: &Period) -> anyhow::Result<Report> {
    let hour_of = |micros: i64| {
        Local
            .timestamp_micros(micros)
            .single()
            .map_or(0, |t| t.hour() as u8)
    };
    Ok(db.report(period.from, period.until, hour_of).await?)
}

pub(crate) fn title(hostname: &str, period: &Period) -> String {
    format!("Mail report of {hostname} for {}", period.name)
}
