//! `havre trace`: every event of a message, from its arrival to its
//! mailboxes or its bounce, and the notices it led to.

use std::collections::BTreeSet;

use crate::event::{Event, Kind};
use crate::sqlite::{EventsError, SqliteEvents, Wanted};

/// What the operator gave: a queue id, a `<Message-ID>` or an address.
pub fn wanted(text: &str) -> Wanted {
    let text = text.trim();
    if text.starts_with('<') && text.ends_with('>') {
        Wanted::MessageId(text.to_string())
    } else if text.contains('@') {
        Wanted::Address(text.to_string())
    } else {
        Wanted::QueueId(text.to_ascii_uppercase())
    }
}

/// The events of the messages `wanted` names between `from` and `until`
/// (microseconds), with those of the notices (DSNs) they led to, in time
/// order. An address gives the events that name it (refusals included)
/// and every event of the messages among them.
pub async fn trace(
    db: &SqliteEvents,
    wanted: &Wanted,
    from: i64,
    until: i64,
) -> Result<Vec<Event>, EventsError> {
    let found = db.find(wanted, from, until).await?;
    let mut ids: BTreeSet<String> = found.iter().filter_map(|e| e.queue_id.clone()).collect();
    let mut events: Vec<Event> = found.into_iter().filter(|e| e.queue_id.is_none()).collect();
    let mut done = BTreeSet::new();
    // Notices are messages of their own: followed too (a DSN's own
    // delivery, or its bounce).
    while let Some(id) = ids.pop_first() {
        if !done.insert(id.clone()) {
            continue;
        }
        for event in db.find(&Wanted::QueueId(id), from, until).await? {
            if event.kind == Kind::Notice
                && let Some(related) = &event.related
                && !done.contains(related)
            {
                ids.insert(related.clone());
            }
            events.push(event);
        }
    }
    events.sort_by_key(|e| e.at);
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(micros: i64, event: Event) -> Event {
        let mut event = event;
        event.at = micros;
        event.node = "mx1".into();
        event
    }

    #[tokio::test]
    async fn a_bounced_message_is_followed_to_its_dsn_and_the_dsn_to_its_mailbox() {
        let db = SqliteEvents::memory().await.unwrap();
        db.insert(&[
            at(
                1,
                Event::new(Kind::Accepted, "smtpd")
                    .queue_id("A1")
                    .message_id("<m@x>")
                    .sender("alice@example.test"),
            ),
            at(
                2,
                Event::new(Kind::Bounced, "smtp")
                    .queue_id("A1")
                    .recipient("nobody@bad.test"),
            ),
            at(
                3,
                Event::new(Kind::Notice, "bounce")
                    .queue_id("A1")
                    .related("B2"),
            ),
            at(
                4,
                Event::new(Kind::Delivered, "local")
                    .queue_id("B2")
                    .recipient("alice@example.test"),
            ),
            at(
                5,
                Event::new(Kind::Delivered, "local")
                    .queue_id("C3")
                    .recipient("bob@example.test"),
            ),
        ])
        .await
        .unwrap();
        for asked in ["a1", "<m@x>"] {
            let kinds: Vec<(Kind, Option<String>)> = trace(&db, &wanted(asked), 0, 10)
                .await
                .unwrap()
                .into_iter()
                .map(|e| (e.kind, e.queue_id))
                .collect();
            assert_eq!(
                kinds,
                vec![
                    (Kind::Accepted, Some("A1".into())),
                    (Kind::Bounced, Some("A1".into())),
                    (Kind::Notice, Some("A1".into())),
                    (Kind::Delivered, Some("B2".into())),
                ],
                "{asked}"
            );
        }
        assert!(trace(&db, &wanted("FFFF"), 0, 10).await.unwrap().is_empty());
    }
}
