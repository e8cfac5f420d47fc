//! Any bytes as IMAP client input, through the framer and the parser: never a
//! panic; every refusal is one sendable line; and what the session would
//! echo from a parsed command (mailbox names, sections, sequence sets) is
//! written without panicking and reads back as the same thing.
#![no_main]

use havre_imap_proto::{
    Code, CommandBody, CommandFramer, Esearch, FetchAttr, Flag, Framed, Mailbox, NotifyEvent,
    NotifyFilter, ParseOptions, SearchReturn, Section, Status, StatusItem, Writer, parse_command,
    parse_command_with,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    // The first byte picks the options so both mailbox modes get explored.
    let (options, bytes) = match input.split_first() {
        Some((&b, rest)) => (
            ParseOptions {
                utf8_mailboxes: b & 1 == 1,
            },
            rest,
        ),
        None => (ParseOptions::default(), input),
    };

    check(bytes, &options);

    let mut framer = CommandFramer::new(256, 1024).literal_plus(input.first() == Some(&2));
    let mut rest = bytes;
    let mut discard = 0usize;
    while !rest.is_empty() {
        if discard > 0 {
            let n = discard.min(rest.len());
            rest = &rest[n..];
            discard -= n;
            continue;
        }
        if framer.literal_remaining() > 0 {
            let n = framer.push_literal(rest);
            rest = &rest[n..];
            continue;
        }
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |p| p + 1);
        let framed = framer
            .push_line(&rest[..end])
            .expect("the driver never misuses the framer");
        rest = &rest[end..];
        match framed {
            Framed::Complete(command) => {
                assert!(command.len() <= 256 + 1024 + 256);
                check(&command, &options);
            }
            Framed::Refused(refusal) => {
                let line = refusal.response();
                assert!(line.ends_with(b"\r\n"));
                assert!(!line[..line.len() - 2].contains(&b'\n'));
                if refusal.close {
                    return;
                }
                discard = usize::try_from(refusal.discard).unwrap_or(usize::MAX);
            }
            Framed::Skip { discard: d } => discard = usize::try_from(d).unwrap_or(usize::MAX),
            Framed::NeedLiteral { size, .. } => assert!(size <= 1024 + 256),
        }
    }
});

fn check(bytes: &[u8], options: &ParseOptions) {
    let command = match parse_command_with(bytes, options) {
        Ok(command) => command,
        Err(err) => {
            let line = err.response();
            assert!(line.ends_with(b"\r\n"));
            assert!(!line[..line.len() - 2].contains(&b'\n'));
            return;
        }
    };
    let mut w = Writer::with_utf8(options.utf8_mailboxes);
    w.tagged(&command.tag, Status::Ok, None, command.body.name());
    match &command.body {
        CommandBody::Select { mailbox, .. }
        | CommandBody::Delete { mailbox }
        | CommandBody::Subscribe { mailbox }
        | CommandBody::Status { mailbox, .. }
        | CommandBody::Copy { mailbox, .. }
        | CommandBody::Move { mailbox, .. } => echo_mailbox(&mut w, mailbox),
        CommandBody::Fetch(fetch) => {
            echo_items(&mut w, &fetch.items);
            let text = fetch.set.to_string();
            if !fetch.set.is_saved() {
                let back = havre_imap_proto::SequenceSet::parse_str(&text)
                    .expect("a sequence set reads back");
                assert_eq!(back, fetch.set);
            }
        }
        CommandBody::Search(search) => {
            let all: Vec<u32> = (1..=3).collect();
            w.esearch(&Esearch {
                tag: Some(&command.tag),
                uid: search.uid,
                all: Some(&all),
                ..Default::default()
            });
            if search
                .result
                .as_ref()
                .is_some_and(|r| r.contains(&SearchReturn::Update))
            {
                // What a context's updates look like (RFC 5267).
                w.esearch(&Esearch {
                    tag: Some(&command.tag),
                    uid: search.uid,
                    remove_from: Some(&[2]),
                    add_to: Some(&[7, 5, 6]),
                    ..Default::default()
                });
                w.untagged(Status::No, Some(&Code::NoUpdate(command.tag.clone())), "no");
            }
        }
        CommandBody::Notify(Some(set)) => {
            // The names a NOTIFY watches come back in STATUS and LIST.
            for group in &set.groups {
                if let NotifyFilter::Subtree(names) | NotifyFilter::Mailboxes(names) = &group.filter
                {
                    for mailbox in names {
                        echo_mailbox(&mut w, mailbox);
                    }
                }
                let events = group.events.iter().flatten();
                for event in events.clone() {
                    if let NotifyEvent::MessageNew(items) = event {
                        echo_items(&mut w, items);
                    }
                }
                let names = events.map(|e| e.name().to_string()).collect();
                w.tagged(&command.tag, Status::No, Some(&Code::BadEvent(names)), "no");
            }
        }
        CommandBody::CancelUpdate { tags } => {
            for tag in tags {
                w.untagged(Status::No, Some(&Code::NoUpdate(tag.clone())), "no");
                w.esearch(&Esearch {
                    tag: Some(tag),
                    add_to: Some(&[1]),
                    ..Default::default()
                });
            }
        }
        _ => {}
    }
    assert!(w.as_bytes().ends_with(b"\r\n"));
}

/// A mailbox name the session writes back in LIST and STATUS; in
/// modified UTF-7 it reads back the same.
fn echo_mailbox(w: &mut Writer, mailbox: &Mailbox) {
    w.list(&[], Some('/'), mailbox.as_str());
    w.status(mailbox.as_str(), &[(StatusItem::Messages, 1)]);
    let mut echo = Writer::new();
    echo.raw(b"a SELECT ").mailbox(mailbox.as_str());
    let back = parse_command(echo.as_bytes()).expect("an echoed name parses");
    let CommandBody::Select { mailbox: again, .. } = back.body else {
        panic!("not a SELECT")
    };
    assert_eq!(&again, mailbox);
}

/// A FETCH response with the items asked for (FETCH, NOTIFY MessageNew).
fn echo_items(w: &mut Writer, items: &[FetchAttr]) {
    let mut f = w.fetch(1);
    f.uid(1).flags(&[Flag::Seen]);
    for item in items {
        match item {
            FetchAttr::BodySection {
                section, partial, ..
            } => {
                f.section(section, partial.map(|p| p.origin), Some(b"x\r\n\0"));
                echo_section(section);
            }
            FetchAttr::Binary { part, partial, .. } => {
                f.binary(part, partial.map(|p| p.origin), Some(b"\0"));
            }
            FetchAttr::BinarySize { part } => {
                f.binary_size(part, 1);
            }
            _ => {}
        }
    }
}

/// A section echoed in a FETCH response parses back to itself.
fn echo_section(section: &Section) {
    let text = format!("a FETCH 1 BODY[{section}]");
    let back = parse_command(text.as_bytes()).expect("an echoed section parses");
    let CommandBody::Fetch(fetch) = back.body else {
        panic!("not a FETCH")
    };
    let [FetchAttr::BodySection { section: again, .. }] = fetch.items.as_slice() else {
        panic!("not one section")
    };
    assert_eq!(again, section);
}
