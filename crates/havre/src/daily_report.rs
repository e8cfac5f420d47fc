//! The daily report mailed to `report.mail_to` at `report.time`, as a cron
//! job running pflogsumm mails it: the 24 hours up to then, as text and
//! HTML (multipart/alternative), queued from `<>` like a notice so that
//! a bounce of it never loops. A reload applies new addresses and times.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Local, NaiveTime, TimeZone};
use havre_config::LoadedConfig;
use havre_events::SqliteEvents;
use havre_queue::Queue;
use tokio::sync::watch;

use crate::report_cmd::{Period, build, title};

/// Sends the report at each `report.time` until `shutdown`.
pub async fn run(
    queue: Arc<Queue>,
    events: SqliteEvents,
    mut config: watch::Receiver<Arc<LoadedConfig>>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let (at, mail_to) = {
            let loaded = config.borrow_and_update();
            let report = &loaded.config.report;
            (report.seconds_after_midnight(), report.mail_to.clone())
        };
        // `config check` refuses a bad time: a reload cannot bring one.
        let next = at.and_then(|at| next_time(Local::now(), at));
        let wait = next.map_or(Duration::from_secs(86_400), |next| {
            (next - Local::now()).to_std().unwrap_or_default()
        });
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            // New addresses or a new time: count again from now.
            _ = config.changed() => continue,
            _ = shutdown.changed() => return,
        }
        if mail_to.is_empty() || next.is_none() {
            continue;
        }
        let hostname = config.borrow().config.server.hostname.clone();
        if let Err(err) = send(&queue, &events, &hostname, &mail_to).await {
            tracing::error!(target: "report", "daily report not sent: {err:#}");
        }
        // Past the minute, so the same time is not taken twice.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The first moment at `seconds` after a local midnight that is later than
/// `now` (today's or tomorrow's; a time a clock change skips is taken an
/// hour later).
fn next_time(now: DateTime<Local>, seconds: u32) -> Option<DateTime<Local>> {
    let time = NaiveTime::from_num_seconds_from_midnight_opt(seconds, 0)?;
    let mut day = now.date_naive();
    for _ in 0..3 {
        let at = day.and_time(time);
        let local = Local.from_local_datetime(&at).earliest().or_else(|| {
            Local
                .from_local_datetime(&(at + chrono::Duration::hours(1)))
                .earliest()
        });
        if let Some(local) = local
            && local > now
        {
            return Some(local);
        }
        day = day.succ_opt()?;
    }
    None
}

async fn send(
    queue: &Queue,
    events: &SqliteEvents,
    hostname: &str,
    mail_to: &[String],
) -> anyhow::Result<()> {
    let mut period = Period::since("24h")?;
    let now = Local::now();
    period.name = format!("the 24 hours up to {}", now.format("%Y-%m-%d %H:%M"));
    let report = build(events, &period).await?;
    let title = title(hostname, &period);
    let message_id = format!("<{}.report@{hostname}>", now.timestamp_micros());
    let message = compose(
        hostname,
        mail_to,
        &title,
        &message_id,
        now,
        &report.text(&title),
        &report.html(&title),
    );
    for to in mail_to {
        let id = queue
            .enqueue_notice(to, &message, &message_id, "report")
            .await?;
        tracing::info!(target: "report", "{id}: daily report to <{to}> queued");
    }
    Ok(())
}

/// The report's mail: both parts in base64, so no line of a reason a
/// remote server wrote can be too long for SMTP.
fn compose(
    hostname: &str,
    mail_to: &[String],
    subject: &str,
    message_id: &str,
    date: DateTime<Local>,
    text: &str,
    html: &str,
) -> Vec<u8> {
    let boundary = format!("=_havre_report_{}", date.timestamp_micros());
    let mut out = String::new();
    out.push_str(&format!("From: Mail report <MAILER-DAEMON@{hostname}>\r\n"));
    out.push_str(&format!("To: {}\r\n", mail_to.join(", ")));
    out.push_str(&format!(
        "Subject: {}\r\n",
        subject.replace(['\r', '\n'], " ")
    ));
    out.push_str(&format!("Date: {}\r\n", date.to_rfc2822()));
    out.push_str(&format!("Message-ID: {message_id}\r\n"));
    out.push_str("Auto-Submitted: auto-generated\r\n");
    out.push_str("MIME-Version: 1.0\r\n");
    out.push_str(&format!(
        "Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n"
    ));
    for (kind, body) in [("text/plain", text), ("text/html", html)] {
        out.push_str(&format!("--{boundary}\r\n"));
        out.push_str(&format!("Content-Type: {kind}; charset=utf-8\r\n"));
        out.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
        let encoded = base64::engine::general_purpose::STANDARD.encode(body.as_bytes());
        for line in encoded.as_bytes().chunks(76) {
            out.push_str(std::str::from_utf8(line).unwrap_or_default());
            out.push_str("\r\n");
        }
    }
    out.push_str(&format!("--{boundary}--\r\n"));
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_report_is_later_today_or_tomorrow_at_the_same_time() {
        let now = Local.with_ymd_and_hms(2026, 3, 10, 6, 0, 0).unwrap();
        let at = |h: u32, m: u32| next_time(now, h * 3600 + m * 60).unwrap();
        assert_eq!(
            at(6, 30),
            Local.with_ymd_and_hms(2026, 3, 10, 6, 30, 0).unwrap()
        );
        assert_eq!(
            at(0, 0),
            Local.with_ymd_and_hms(2026, 3, 11, 0, 0, 0).unwrap()
        );
        assert_eq!(
            at(6, 0),
            Local.with_ymd_and_hms(2026, 3, 11, 6, 0, 0).unwrap()
        );
    }

    #[test]
    fn the_mail_has_both_parts_and_comes_from_the_mailer_daemon() {
        let date = Local.with_ymd_and_hms(2026, 3, 10, 6, 0, 0).unwrap();
        let text = compose(
            "mx.example.test",
            &["postmaster@example.test".into()],
            "Mail report",
            "<1@mx>",
            date,
            "received 3",
            "<p>received 3</p>",
        );
        let text = String::from_utf8(text).unwrap();
        assert!(text.starts_with("From: Mail report <MAILER-DAEMON@mx.example.test>\r\nTo: postmaster@example.test\r\n"), "{text}");
        assert!(text.contains("Content-Type: multipart/alternative; boundary="));
        assert!(text.contains("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\ncmVjZWl2ZWQgMw==\r\n"), "{text}");
        assert!(text.contains("Content-Type: text/html; charset=utf-8"));
        assert!(text.lines().all(|l| l.len() <= 998), "SMTP line limit");
    }
}
