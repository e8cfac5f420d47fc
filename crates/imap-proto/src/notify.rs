//! NOTIFY (RFC 5465): which events of which mailboxes a client wants to
//! hear of without asking, and its parser.
//!
//! The rules RFC 5465 puts on the shape of a request are checked here (a
//! breach is `BAD`): MessageNew and MessageExpunge go together, FlagChange
//! and AnnotationChange need both, one `selected`/`selected-delayed` group
//! at most and only message events in it, fetch attributes only after its
//! MessageNew. Whether an event is supported is the session's call
//! (`NO [BADEVENT]`), so any atom is taken as an event.

use crate::error::ParseError;
use crate::fetch::{FetchAttr, parse_items};
use crate::lexer::{Cursor, PResult};
use crate::mailbox::{Mailbox, decode_mailbox_name};

/// `NOTIFY SET [STATUS] group...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifySet {
    /// `STATUS`: send the STATUS of every watched mailbox now.
    pub status: bool,
    pub groups: Vec<EventGroup>,
}

/// `(filter events)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventGroup {
    pub filter: NotifyFilter,
    /// `None` for `NONE`: nothing about these mailboxes.
    pub events: Option<Vec<NotifyEvent>>,
}

/// The mailboxes an event group is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyFilter {
    Selected,
    /// As `Selected`, but expunges wait for a command that allows them.
    SelectedDelayed,
    /// The mailboxes mail is delivered to.
    Inboxes,
    /// All the user's mailboxes.
    Personal,
    Subscribed,
    /// These mailboxes and all below them.
    Subtree(Vec<Mailbox>),
    /// Exactly these mailboxes.
    Mailboxes(Vec<Mailbox>),
}

impl NotifyFilter {
    pub fn is_selected(&self) -> bool {
        matches!(self, NotifyFilter::Selected | NotifyFilter::SelectedDelayed)
    }
}

/// One event name of RFC 5465 5, or any other atom (`Other`, as sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyEvent {
    /// With the attributes to FETCH for each new message (selected only).
    MessageNew(Vec<FetchAttr>),
    MessageExpunge,
    FlagChange,
    AnnotationChange,
    MailboxName,
    SubscriptionChange,
    MailboxMetadataChange,
    ServerMetadataChange,
    Other(String),
}

impl NotifyEvent {
    /// The name as RFC 5465 spells it (for `BADEVENT`).
    pub fn name(&self) -> &str {
        match self {
            NotifyEvent::MessageNew(_) => "MessageNew",
            NotifyEvent::MessageExpunge => "MessageExpunge",
            NotifyEvent::FlagChange => "FlagChange",
            NotifyEvent::AnnotationChange => "AnnotationChange",
            NotifyEvent::MailboxName => "MailboxName",
            NotifyEvent::SubscriptionChange => "SubscriptionChange",
            NotifyEvent::MailboxMetadataChange => "MailboxMetadataChange",
            NotifyEvent::ServerMetadataChange => "ServerMetadataChange",
            NotifyEvent::Other(name) => name,
        }
    }

    fn is_message_event(&self) -> bool {
        matches!(
            self,
            NotifyEvent::MessageNew(_)
                | NotifyEvent::MessageExpunge
                | NotifyEvent::FlagChange
                | NotifyEvent::AnnotationChange
        )
    }
}

/// After `NOTIFY SP`: `NONE` (`None`) or `SET ...`.
pub(crate) fn parse_notify(c: &mut Cursor<'_>, utf8: bool) -> PResult<Option<NotifySet>> {
    match c.keyword()?.as_str() {
        "NONE" => return Ok(None),
        "SET" => {}
        _ => return Err(ParseError::syntax("NOTIFY SET or NOTIFY NONE")),
    }
    c.sp()?;
    let mut status = false;
    if c.peek_atom_is("STATUS") {
        c.keyword()?;
        status = true;
        c.sp()?;
    }
    let mut groups = vec![event_group(c, utf8)?];
    while c.peek() == Some(b' ') && c.peek_at(1) == Some(b'(') {
        c.sp()?;
        groups.push(event_group(c, utf8)?);
    }
    if groups.iter().filter(|g| g.filter.is_selected()).count() > 1 {
        return Err(ParseError::syntax("only one selected or selected-delayed"));
    }
    Ok(Some(NotifySet { status, groups }))
}

fn event_group(c: &mut Cursor<'_>, utf8: bool) -> PResult<EventGroup> {
    c.expect(b'(', "expected '(' before an event group")?;
    c.enter()?;
    let filter = match c.keyword()?.as_str() {
        "SELECTED" => NotifyFilter::Selected,
        "SELECTED-DELAYED" => NotifyFilter::SelectedDelayed,
        "INBOXES" => NotifyFilter::Inboxes,
        "PERSONAL" => NotifyFilter::Personal,
        "SUBSCRIBED" => NotifyFilter::Subscribed,
        "SUBTREE" => NotifyFilter::Subtree(mailboxes(c, utf8)?),
        "MAILBOXES" => NotifyFilter::Mailboxes(mailboxes(c, utf8)?),
        _ => return Err(ParseError::syntax("unknown NOTIFY mailbox filter")),
    };
    c.sp()?;
    let events = if c.peek() == Some(b'(') {
        let mut events = Vec::new();
        c.paren_list(false, |c| {
            events.push(event(c)?);
            Ok(())
        })?;
        Some(events)
    } else if c.keyword()? == "NONE" {
        None
    } else {
        return Err(ParseError::syntax("events are a list or NONE"));
    };
    c.expect(b')', "expected ')' after an event group")?;
    c.leave();
    if let Some(events) = &events {
        check_events(&filter, events)?;
    }
    Ok(EventGroup { filter, events })
}

/// `one-or-more-mailbox` after the filter's name.
fn mailboxes(c: &mut Cursor<'_>, utf8: bool) -> PResult<Vec<Mailbox>> {
    c.sp()?;
    let mut names = Vec::new();
    let mut one = |c: &mut Cursor<'_>| -> PResult<()> {
        let raw = c.astring()?;
        names.push(Mailbox::new(decode_mailbox_name(&raw, utf8)?));
        Ok(())
    };
    if c.peek() == Some(b'(') {
        c.paren_list(false, one)?;
    } else {
        one(c)?;
    }
    Ok(names)
}

fn event(c: &mut Cursor<'_>) -> PResult<NotifyEvent> {
    let name = c.atom()?.to_owned();
    Ok(match name.to_ascii_uppercase().as_str() {
        "MESSAGENEW" => {
            let mut items = Vec::new();
            if c.peek() == Some(b' ') && c.peek_at(1) == Some(b'(') {
                c.sp()?;
                items = parse_items(c)?;
            }
            NotifyEvent::MessageNew(items)
        }
        "MESSAGEEXPUNGE" => NotifyEvent::MessageExpunge,
        "FLAGCHANGE" => NotifyEvent::FlagChange,
        "ANNOTATIONCHANGE" => NotifyEvent::AnnotationChange,
        "MAILBOXNAME" => NotifyEvent::MailboxName,
        "SUBSCRIPTIONCHANGE" => NotifyEvent::SubscriptionChange,
        "MAILBOXMETADATACHANGE" => NotifyEvent::MailboxMetadataChange,
        "SERVERMETADATACHANGE" => NotifyEvent::ServerMetadataChange,
        _ => NotifyEvent::Other(name),
    })
}

/// The shape RFC 5465 5 and 8 ask of one group's events.
fn check_events(filter: &NotifyFilter, events: &[NotifyEvent]) -> PResult<()> {
    let has = |f: fn(&NotifyEvent) -> bool| events.iter().any(f);
    let new = has(|e| matches!(e, NotifyEvent::MessageNew(_)));
    let expunge = has(|e| matches!(e, NotifyEvent::MessageExpunge));
    if new != expunge {
        return Err(ParseError::syntax(
            "MessageNew and MessageExpunge go together",
        ));
    }
    if has(|e| matches!(e, NotifyEvent::FlagChange | NotifyEvent::AnnotationChange)) && !new {
        return Err(ParseError::syntax(
            "FlagChange needs MessageNew and MessageExpunge",
        ));
    }
    if filter.is_selected() {
        if events.iter().any(|e| !e.is_message_event()) {
            return Err(ParseError::syntax(
                "only message events for the selected mailbox",
            ));
        }
    } else if has(|e| matches!(e, NotifyEvent::MessageNew(items) if !items.is_empty())) {
        return Err(ParseError::syntax(
            "fetch attributes only for the selected mailbox",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CommandBody, parse_command};

    fn notify(line: &str) -> Result<Option<NotifySet>, crate::ParseError> {
        parse_command(line.as_bytes()).map(|c| match c.body {
            CommandBody::Notify(set) => set,
            other => panic!("not NOTIFY: {other:?}"),
        })
    }

    #[test]
    fn a_phone_watches_the_selected_mailbox_and_two_others() {
        let set = notify(
            "a NOTIFY SET STATUS (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (From)]) \
             MessageExpunge FlagChange)) (mailboxes (INBOX Sent) (MessageNew MessageExpunge)) \
             (personal (MailboxName SubscriptionChange))",
        )
        .unwrap()
        .unwrap();
        assert!(set.status);
        assert_eq!(set.groups.len(), 3);
        assert_eq!(set.groups[0].filter, NotifyFilter::Selected);
        let events = set.groups[0].events.as_ref().unwrap();
        assert!(matches!(&events[0], NotifyEvent::MessageNew(items) if items.len() == 2));
        assert_eq!(
            set.groups[1].filter,
            NotifyFilter::Mailboxes(vec![Mailbox::new("INBOX"), Mailbox::new("Sent")])
        );
        assert_eq!(
            set.groups[2].events,
            Some(vec![
                NotifyEvent::MailboxName,
                NotifyEvent::SubscriptionChange
            ])
        );
        assert_eq!(notify("a NOTIFY NONE").unwrap(), None);
        let set =
            notify("a notify set (subtree Lists NONE) (inboxes (messagenew messageexpunge Quux))")
                .unwrap()
                .unwrap();
        assert_eq!(
            set.groups[0],
            EventGroup {
                filter: NotifyFilter::Subtree(vec![Mailbox::new("Lists")]),
                events: None
            }
        );
        // Unknown events are the session's to refuse (NO [BADEVENT]).
        assert_eq!(
            set.groups[1].events.as_ref().unwrap()[2],
            NotifyEvent::Other("Quux".into())
        );
    }

    #[test]
    fn requests_rfc_5465_forbids_are_syntax_errors() {
        for bad in [
            "a NOTIFY SET (selected (MessageNew))",
            "a NOTIFY SET (selected (FlagChange))",
            "a NOTIFY SET (personal (MessageExpunge FlagChange))",
            "a NOTIFY SET (selected (MailboxName))",
            "a NOTIFY SET (selected NONE) (selected-delayed NONE)",
            "a NOTIFY SET (personal (MessageNew (UID) MessageExpunge))",
            "a NOTIFY SET (mailboxes (MessageNew MessageExpunge))",
            "a NOTIFY SET (elsewhere (MailboxName))",
            "a NOTIFY SET (personal ())",
            "a NOTIFY SET",
            "a NOTIFY SET STATUS",
            "a NOTIFY ALL",
        ] {
            assert!(notify(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cancelupdate_takes_one_or_more_tags() {
        let cmd = parse_command(b"a CANCELUPDATE \"s1\" \"s 2\"").unwrap();
        assert_eq!(
            cmd.body,
            CommandBody::CancelUpdate {
                tags: vec!["s1".into(), "s 2".into()]
            }
        );
        assert!(parse_command(b"a CANCELUPDATE").is_err());
    }
}
