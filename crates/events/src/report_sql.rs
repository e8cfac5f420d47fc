//! The report of a period counted by the events database itself: a few
//! grouped passes over the period's range of the table (the events by kind
//! and quarter-hour; by sender and recipient; by reason; the delays), so
//! that a day of a million events comes back as some tens of thousands of
//! groups rather than a million rows (bench/report). The groups go into the
//! same `Builder` that counts events one at a time; a test checks that both
//! ways give the same report.

use sqlx::Row;

use crate::event::Kind;
use crate::report::{Builder, Report};
use crate::sqlite::{EventsError, SqliteEvents};

/// Quarter-hours: every time zone's hours start on one.
const BUCKET: i64 = 900 * 1_000_000;

impl SqliteEvents {
    /// The report of the events from `from` to `until` (microseconds);
    /// `hour_of` gives the local hour (0-23) of a time.
    pub async fn report(
        &self,
        from: i64,
        until: i64,
        hour_of: impl Fn(i64) -> u8,
    ) -> Result<Report, EventsError> {
        let mut builder = Builder::new(hour_of);
        let kind = |text: String| Kind::parse(&text).ok_or(EventsError::UnknownKind(text));
        let grouped = |sql: &'static str| {
            sqlx::query(sql)
                .bind(from)
                .bind(until)
                .bind(BUCKET)
                .fetch_all(&self.pool)
        };
        // The passes run side by side, on the pool's connections.
        let (by_time, by_party, by_reason, delays, deferred) = tokio::join!(
            grouped(
                "SELECT kind, at / ?3, count(*), total(size) FROM event_log \
                 WHERE at >= ?1 AND at < ?2 GROUP BY 1, 2"
            ),
            grouped(
                "SELECT kind, CASE kind WHEN 'accepted' THEN lower(coalesce(sender, '')) \
                     ELSE lower(coalesce(recipient, '')) END, \
                 count(*), total(size), total(coalesce(delay, 0.0)), max(coalesce(delay, 0.0)), \
                 total(orig_to IS NOT NULL AND relay IS NOT NULL AND relay <> 'local') \
                 FROM event_log WHERE at >= ?1 AND at < ?2 \
                 AND kind IN ('accepted', 'delivered', 'deferred') GROUP BY 1, 2"
            ),
            grouped(
                "SELECT kind, check_name, reason, count(*) FROM event_log \
                 WHERE at >= ?1 AND at < ?2 \
                 AND kind IN ('deferred', 'bounced', 'reject', 'greylist') GROUP BY 1, 2, 3"
            ),
            grouped(
                "SELECT coalesce(delay, 0.0), count(*) FROM event_log \
                 WHERE at >= ?1 AND at < ?2 AND kind = 'delivered' GROUP BY 1"
            ),
            grouped(
                "SELECT count(DISTINCT queue_id) FROM event_log \
                 WHERE at >= ?1 AND at < ?2 AND kind = 'deferred'"
            ),
        );
        for row in by_time? {
            let bucket: i64 = row.try_get(1)?;
            builder.add_counted(
                kind(row.try_get(0)?)?,
                bucket * BUCKET,
                count(&row, 2)?,
                row.try_get::<f64, _>(3)? as u64,
            );
        }
        for row in by_party? {
            let who: String = row.try_get(1)?;
            builder.add_party(
                kind(row.try_get(0)?)?,
                &who,
                count(&row, 2)?,
                row.try_get::<f64, _>(3)? as u64,
                (row.try_get(4)?, row.try_get(5)?),
                row.try_get::<f64, _>(6)? as u64,
            );
        }
        for row in by_reason? {
            let check: Option<String> = row.try_get(1)?;
            let reason: Option<String> = row.try_get(2)?;
            builder.add_reason(
                kind(row.try_get(0)?)?,
                check.as_deref(),
                reason.as_deref(),
                count(&row, 3)?,
            );
        }
        for row in delays? {
            builder.add_delays(row.try_get(0)?, count(&row, 1)?);
        }
        if let Some(row) = deferred?.first() {
            builder.set_deferred_messages(count(row, 0)?);
        }
        Ok(builder.finish())
    }
}

fn count(row: &sqlx::sqlite::SqliteRow, at: usize) -> Result<u64, EventsError> {
    Ok(row.try_get::<i64, _>(at)?.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use crate::event::{Event, Kind};
    use crate::report::Report;
    use crate::sqlite::SqliteEvents;

    /// A small day with every kind of event and the odd cases (no sender,
    /// mixed case, forwarded copies, deferrals of one message twice, no
    /// delay, no reason).
    fn day() -> Vec<Event> {
        let mut events = Vec::new();
        let mut at = 3_600_000_000 * 24 * 20_000;
        let mut push = |e: Event| {
            let mut e = e;
            at += 700_000_000;
            e.at = at;
            e.node = "mx1".into();
            events.push(e);
        };
        for n in 0..40u64 {
            push(Event::new(Kind::Connect, "smtpd").client("c[192.0.2.1]"));
            let sender = match n % 4 {
                0 => "",
                1 => "Bob@Remote.Test",
                2 => "bob@remote.test",
                _ => "carol@other.test",
            };
            push(
                Event::new(Kind::Accepted, "smtpd")
                    .queue_id(format!("Q{n}"))
                    .sender(sender)
                    .size(1_000 + n),
            );
            let mut delivered = Event::new(Kind::Delivered, "local")
                .queue_id(format!("Q{n}"))
                .recipient(if n % 3 == 0 {
                    "Alice@Example.Test"
                } else {
                    "dan@lab.example.test"
                })
                .size(1_000 + n)
                .relay(if n % 5 == 0 {
                    "lab[10.0.0.1]:25"
                } else {
                    "local"
                });
            if n % 2 == 0 {
                delivered = delivered.delay(n as f64 / 8.0);
            }
            if n % 5 == 0 {
                delivered = delivered.original("list@example.test");
            }
            push(delivered);
            if n % 7 == 0 {
                for _ in 0..2 {
                    push(
                        Event::new(Kind::Deferred, "smtp")
                            .queue_id(format!("Q{n}"))
                            .recipient("eve@Slow.Test")
                            .reason("4.4.1 connection refused"),
                    );
                }
            }
            if n % 9 == 0 {
                push(Event::new(Kind::Bounced, "smtp").recipient("x@bad.test"));
            }
            if n % 4 == 0 {
                push(
                    Event::new(Kind::Reject, "smtpd")
                        .check("recipient")
                        .reason("550 5.1.1 unknown"),
                );
                push(
                    Event::new(Kind::Greylist, "smtpd")
                        .check("greylist")
                        .reason("450 4.7.1 later"),
                );
                push(Event::new(Kind::Reject, "smtpd"));
            }
            if n % 6 == 0 {
                push(Event::new(Kind::Login, "imap-login").recipient("alice@example.test"));
                push(Event::new(Kind::LoginFailed, "imap-login").recipient("alice@example.test"));
                push(Event::new(Kind::Spam, "smtpd"));
                push(Event::new(Kind::Virus, "smtpd"));
                push(Event::new(Kind::Notice, "bounce"));
            }
        }
        events
    }

    #[tokio::test]
    async fn the_database_s_groups_give_the_report_the_events_give_one_by_one() {
        let events = day();
        let hour_of = |at: i64| ((at / 3_600_000_000 + 2) % 24) as u8;
        let db = SqliteEvents::memory().await.unwrap();
        db.insert(&events).await.unwrap();
        let (from, until) = (events[5].at, events[events.len() - 3].at);
        let grouped = db.report(from, until, hour_of).await.unwrap();
        let within: Vec<Event> = events
            .into_iter()
            .filter(|e| e.at >= from && e.at < until)
            .collect();
        let one_by_one = Report::of(&within, hour_of);
        assert_eq!(grouped, one_by_one);
        assert!(grouped.received > 30 && grouped.forwarded > 0 && grouped.deferred > 0);
        assert!(grouped.per_hour.iter().filter(|h| h.received > 0).count() > 3);
    }

    #[tokio::test]
    async fn a_row_of_a_kind_this_havre_does_not_know_is_named_not_counted() {
        let db = SqliteEvents::memory().await.unwrap();
        sqlx::query("INSERT INTO event_log (at, node, kind, role) VALUES (5, 'n', 'zap', 'x')")
            .execute(&db.pool)
            .await
            .unwrap();
        let err = db.report(0, 10, |_| 0).await.unwrap_err().to_string();
        assert!(err.contains("unknown kind \"zap\""), "{err}");
    }
}
