//! Responses as the session writes them, byte for byte.

use havre_imap_proto::*;

fn written(f: impl FnOnce(&mut Writer)) -> String {
    let mut w = Writer::new();
    f(&mut w);
    String::from_utf8(w.into_bytes()).unwrap()
}

fn written_utf8(f: impl FnOnce(&mut Writer)) -> String {
    let mut w = Writer::with_utf8(true);
    f(&mut w);
    String::from_utf8(w.into_bytes()).unwrap()
}

#[test]
fn responses_are_written_byte_for_byte() {
    let header = Section {
        part: vec![],
        text: Some(SectionText::HeaderFields(vec!["SUBJECT".into()])),
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "exists, recent and expunge",
            written(|w| {
                w.exists(172).recent(1).expunge(3);
            }),
            "* 172 EXISTS\r\n* 1 RECENT\r\n* 3 EXPUNGE\r\n",
        ),
        (
            "vanished earlier with ranges compressed",
            written(|w| {
                let uids: RangeSet = [41, 43, 44, 45, 46, 300].into_iter().collect();
                w.vanished(true, &uids);
            }),
            "* VANISHED (EARLIER) 41,43:46,300\r\n",
        ),
        (
            "vanished with nothing vanished writes nothing",
            written(|w| {
                w.vanished(false, &RangeSet::new());
            }),
            "",
        ),
        (
            "flags and permanent flags",
            written(|w| {
                w.flags(&[
                    Flag::Answered,
                    Flag::Flagged,
                    Flag::Deleted,
                    Flag::Seen,
                    Flag::Draft,
                ]);
                w.untagged(
                    Status::Ok,
                    Some(&Code::PermanentFlags {
                        flags: vec![Flag::Deleted, Flag::Seen],
                        allow_new: true,
                    }),
                    "Limited",
                );
            }),
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n",
        ),
        (
            "select codes",
            written(|w| {
                w.untagged(
                    Status::Ok,
                    Some(&Code::UidValidity(3857529045)),
                    "UIDs valid",
                );
                w.untagged(Status::Ok, Some(&Code::UidNext(4392)), "Predicted next UID");
                w.untagged(
                    Status::Ok,
                    Some(&Code::HighestModSeq(715194045007)),
                    "Highest",
                );
                w.untagged(Status::Ok, Some(&Code::Closed), "");
                w.tagged(
                    "A142",
                    Status::Ok,
                    Some(&Code::ReadWrite),
                    "SELECT completed",
                );
            }),
            "* OK [UIDVALIDITY 3857529045] UIDs valid\r\n* OK [UIDNEXT 4392] Predicted next UID\r\n* OK [HIGHESTMODSEQ 715194045007] Highest\r\n* OK [CLOSED] completed\r\nA142 OK [READ-WRITE] SELECT completed\r\n",
        ),
        (
            "tagged responses with codes",
            written(|w| {
                w.tagged("a", Status::No, Some(&Code::TryCreate), "No such mailbox");
                w.tagged("b", Status::No, Some(&Code::TooBig), "Message too big");
                w.tagged("c", Status::No, Some(&Code::AlreadyExists), "Exists");
                w.tagged("d", Status::No, Some(&Code::NonExistent), "Unknown");
                w.tagged("e", Status::No, Some(&Code::OverQuota), "Quota");
                w.tagged("f", Status::No, Some(&Code::AuthenticationFailed), "Failed");
                w.tagged("g", Status::No, Some(&Code::PrivacyRequired), "TLS first");
                w.tagged("h", Status::No, Some(&Code::Unavailable), "Later");
                w.tagged("i", Status::No, Some(&Code::Cannot), "Cannot");
                w.tagged("j", Status::No, Some(&Code::Limit), "Limit");
                w.tagged("k", Status::No, Some(&Code::ServerBug), "Bug");
                w.tagged("l", Status::Ok, Some(&Code::ReadOnly), "EXAMINE completed");
                w.tagged("m", Status::Ok, Some(&Code::NoModSeq), "No modseq");
                w.tagged(
                    "n",
                    Status::No,
                    Some(&Code::BadCharset(vec!["UTF-8".into()])),
                    "Charset",
                );
            }),
            "a NO [TRYCREATE] No such mailbox\r\nb NO [TOOBIG] Message too big\r\nc NO [ALREADYEXISTS] Exists\r\nd NO [NONEXISTENT] Unknown\r\ne NO [OVERQUOTA] Quota\r\nf NO [AUTHENTICATIONFAILED] Failed\r\ng NO [PRIVACYREQUIRED] TLS first\r\nh NO [UNAVAILABLE] Later\r\ni NO [CANNOT] Cannot\r\nj NO [LIMIT] Limit\r\nk NO [SERVERBUG] Bug\r\nl OK [READ-ONLY] EXAMINE completed\r\nm OK [NOMODSEQ] No modseq\r\nn NO [BADCHARSET (UTF-8)] Charset\r\n",
        ),
        (
            "copyuid keeps source and destination paired",
            written(|w| {
                w.tagged(
                    "A004",
                    Status::Ok,
                    Some(&Code::CopyUid {
                        uid_validity: 38505,
                        source: vec![304, 319, 320, 321, 322],
                        destination: vec![3956, 3957, 3958, 3959, 3960],
                    }),
                    "Done",
                );
            }),
            "A004 OK [COPYUID 38505 304,319:322 3956:3960] Done\r\n",
        ),
        (
            "metadata of the server and of a mailbox, a value with CRLF as a literal",
            written(|w| {
                w.metadata("", &[("/private/theme", b"dark")]);
                w.metadata(
                    "INBOX",
                    &[("/shared/comment", b"a\r\nb"), ("/private/x", b"")],
                );
            }),
            "* METADATA \"\" (/private/theme \"dark\")\r\n\
             * METADATA INBOX (/shared/comment {4}\r\na\r\nb /private/x \"\")\r\n",
        ),
        (
            "appenduid of a multiappend",
            written(|w| {
                w.tagged(
                    "A003",
                    Status::Ok,
                    Some(&Code::AppendUid {
                        uid_validity: 38505,
                        uids: vec![3955, 3956, 3957, 3960],
                    }),
                    "APPEND completed",
                );
            }),
            "A003 OK [APPENDUID 38505 3955:3957,3960] APPEND completed\r\n",
        ),
        (
            "appenduid and modified",
            written(|w| {
                w.tagged(
                    "A003",
                    Status::Ok,
                    Some(&Code::AppendUid {
                        uid_validity: 38505,
                        uids: vec![3955],
                    }),
                    "APPEND completed",
                );
                let set: RangeSet = [7, 9].into_iter().collect();
                w.tagged(
                    "d105",
                    Status::Ok,
                    Some(&Code::Modified(set)),
                    "Conditional STORE failed",
                );
            }),
            "A003 OK [APPENDUID 38505 3955] APPEND completed\r\nd105 OK [MODIFIED 7,9] Conditional STORE failed\r\n",
        ),
        (
            "text with line breaks cannot break the response",
            written(|w| {
                w.tagged("a", Status::Bad, None, "one\r\ntwo");
            }),
            "a BAD one  two\r\n",
        ),
        (
            "a list with a mailbox name encoded in modified UTF-7",
            written(|w| {
                w.list(
                    &[MailboxAttr::HasNoChildren, MailboxAttr::Drafts],
                    Some('/'),
                    "Entwürfe",
                );
                w.list(
                    &[MailboxAttr::NoSelect],
                    Some('/'),
                    "~peter/mail/日本語/台北",
                );
                w.list(&[], Some('/'), "INBOX");
                w.list(&[], None, "Sent Items");
            }),
            "* LIST (\\HasNoChildren \\Drafts) \"/\" Entw&APw-rfe\r\n* LIST (\\Noselect) \"/\" ~peter/mail/&ZeVnLIqe-/&U,BTFw-\r\n* LIST () \"/\" INBOX\r\n* LIST () NIL \"Sent Items\"\r\n",
        ),
        (
            "a list with UTF-8 enabled quotes the UTF-8 name",
            written_utf8(|w| {
                w.list(&[], Some('/'), "Entwürfe");
            }),
            "* LIST () \"/\" \"Entwürfe\"\r\n",
        ),
        (
            "an extended list with childinfo and oldname",
            written(|w| {
                w.list_extended(
                    &[MailboxAttr::Subscribed],
                    Some('.'),
                    "Foo",
                    &ListExtra {
                        child_info_subscribed: true,
                        old_name: Some("Bar"),
                    },
                );
            }),
            "* LIST (\\Subscribed) \".\" Foo (\"CHILDINFO\" (\"SUBSCRIBED\") \"OLDNAME\" (Bar))\r\n",
        ),
        (
            "an lsub",
            written(|w| {
                w.lsub(&[], Some('/'), "Drafts");
            }),
            "* LSUB () \"/\" Drafts\r\n",
        ),
        (
            "a status",
            written(|w| {
                w.status(
                    "blurdybloop",
                    &[(StatusItem::Messages, 231), (StatusItem::UidNext, 44292)],
                );
                w.status("", &[(StatusItem::Size, 0)]);
            }),
            "* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n* STATUS \"\" (SIZE 0)\r\n",
        ),
        (
            "an esearch with every result",
            written(|w| {
                w.esearch(&Esearch {
                    tag: Some("x"),
                    uid: true,
                    min: Some(1),
                    max: Some(5),
                    count: Some(3),
                    all: Some(&[1, 2, 3, 4, 5]),
                    modseq: None,
                    partial: None,
                    ..Default::default()
                });
            }),
            "* ESEARCH (TAG \"x\") UID MIN 1 MAX 5 COUNT 3 ALL 1:5\r\n",
        ),
        (
            "context updates (RFC 5267): removals first, position 0, nothing empty",
            written(|w| {
                w.esearch(&Esearch {
                    tag: Some("B01"),
                    uid: true,
                    add_to: Some(&[12, 10, 11]),
                    remove_from: Some(&[3]),
                    ..Default::default()
                });
                w.esearch(&Esearch {
                    tag: Some("B02"),
                    add_to: Some(&[4]),
                    remove_from: Some(&[]),
                    ..Default::default()
                });
            }),
            "* ESEARCH (TAG \"B01\") UID REMOVEFROM (0 3) ADDTO (0 10:12)\r\n* ESEARCH (TAG \"B02\") ADDTO (0 4)\r\n",
        ),
        (
            "notify and context codes",
            written(|w| {
                w.untagged(
                    Status::No,
                    Some(&Code::NoUpdate("s 1".into())),
                    "Too many updated searches",
                );
                w.tagged(
                    "n",
                    Status::No,
                    Some(&Code::BadEvent(vec![
                        "MessageNew".into(),
                        "FlagChange".into(),
                    ])),
                    "Unsupported",
                );
                w.untagged(
                    Status::Ok,
                    Some(&Code::NotificationOverflow),
                    "Too many events",
                );
            }),
            "* NO [NOUPDATE \"s 1\"] Too many updated searches\r\nn NO [BADEVENT (MessageNew FlagChange)] Unsupported\r\n* OK [NOTIFICATIONOVERFLOW] Too many events\r\n",
        ),
        (
            "esearch pages (RFC 9394): results in order, NIL for an empty page",
            written(|w| {
                w.esearch(&Esearch {
                    tag: Some("p1"),
                    uid: true,
                    partial: Some((
                        PartialRange {
                            first: 1,
                            second: 3,
                            from_end: true,
                        },
                        &[7, 8, 9],
                    )),
                    count: Some(9),
                    ..Default::default()
                });
                w.esearch(&Esearch {
                    tag: Some("p2"),
                    partial: Some((
                        PartialRange {
                            first: 10,
                            second: 20,
                            from_end: false,
                        },
                        &[],
                    )),
                    ..Default::default()
                });
            }),
            "* ESEARCH (TAG \"p1\") UID COUNT 9 PARTIAL (-1:-3 7:9)\r\n* ESEARCH (TAG \"p2\") PARTIAL (10:20 NIL)\r\n",
        ),
        (
            "an esearch that matched nothing leaves ALL out",
            written(|w| {
                w.esearch(&Esearch {
                    tag: Some("A285"),
                    uid: true,
                    count: Some(0),
                    all: Some(&[]),
                    ..Default::default()
                });
            }),
            "* ESEARCH (TAG \"A285\") UID COUNT 0\r\n",
        ),
        (
            "search and sort results, with a modseq",
            written(|w| {
                w.search(&[2, 3, 6], None);
                w.search(&[], Some(9));
                w.search(&[2, 5], Some(917162500));
                w.sort(&[5, 3, 4, 1, 2], None);
            }),
            "* SEARCH 2 3 6\r\n* SEARCH\r\n* SEARCH 2 5 (MODSEQ 917162500)\r\n* SORT 5 3 4 1 2\r\n",
        ),
        (
            "a thread response (RFC 5256 example)",
            written(|w| {
                let leaf = |id| ThreadNode {
                    id: Some(id),
                    children: vec![],
                };
                let chain = |ids: &[u32], end: Vec<ThreadNode>| {
                    let mut node = ThreadNode {
                        id: Some(*ids.last().unwrap()),
                        children: end,
                    };
                    for &id in ids.iter().rev().skip(1) {
                        node = ThreadNode {
                            id: Some(id),
                            children: vec![node],
                        };
                    }
                    node
                };
                w.thread(&[
                    chain(&[2], vec![]),
                    chain(
                        &[3, 6],
                        vec![chain(&[4, 23], vec![]), chain(&[44, 7, 96], vec![])],
                    ),
                    ThreadNode {
                        id: None,
                        children: vec![leaf(10), leaf(11)],
                    },
                ]);
                w.thread(&[]);
            }),
            "* THREAD (2)(3 6 (4 23)(44 7 96))((10)(11))\r\n* THREAD\r\n",
        ),
        (
            "quota and quotaroot",
            written(|w| {
                w.quota("", &[("STORAGE", 10, 512)]);
                w.quota_root("INBOX", &[""]);
            }),
            "* QUOTA \"\" (STORAGE 10 512)\r\n* QUOTAROOT INBOX \"\"\r\n",
        ),
        (
            "namespace, id, enabled and capability",
            written(|w| {
                w.namespace(&[("", Some('/'))], &[], &[("Shared/", Some('/'))]);
                w.id(Some(&[("name", Some("havre")), ("support-url", None)]));
                w.id(None);
                w.enabled(&["CONDSTORE", "QRESYNC"]);
                w.capability(&["IMAP4rev2", "IMAP4rev1", "LITERAL-", "AUTH=PLAIN"]);
            }),
            "* NAMESPACE ((\"\" \"/\")) NIL ((\"Shared/\" \"/\"))\r\n* ID (\"name\" \"havre\" \"support-url\" NIL)\r\n* ID NIL\r\n* ENABLED CONDSTORE QRESYNC\r\n* CAPABILITY IMAP4rev2 IMAP4rev1 LITERAL- AUTH=PLAIN\r\n",
        ),
        (
            "a continuation and an empty SASL challenge",
            written(|w| {
                w.continuation("Ready");
                w.continuation_raw("");
            }),
            "+ Ready\r\n+ \r\n",
        ),
        (
            "a fetch with uid, flags, modseq and a header section as a literal",
            written(|w| {
                w.fetch(3).uid(7).flags(&[Flag::Seen]).modseq(12).section(
                    &header,
                    None,
                    Some(b"Subject: hello\r\n\r\n"),
                );
            }),
            "* 3 FETCH (UID 7 FLAGS (\\Seen) MODSEQ (12) BODY[HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: hello\r\n\r\n)\r\n",
        ),
        (
            "a fetch with preformatted envelope and structure, internal date and size",
            written(|w| {
                let date = DateTime::parse_str("\"17-Jul-1996 02:44:25 -0700\"").unwrap();
                w.fetch(12)
                    .internal_date(&date)
                    .rfc822_size(4286)
                    .envelope(b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)")
                    .body_structure(b"(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 3 1)");
            }),
            "* 12 FETCH (INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 4286 ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) BODYSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 3 1))\r\n",
        ),
        (
            "a fetch of a partial body, a missing part and a binary part with NUL",
            written(|w| {
                w.fetch(1)
                    .section(&Section::default(), Some(0), Some(b"abc"))
                    .section(
                        &Section {
                            part: vec![4, 1],
                            text: Some(SectionText::Mime),
                        },
                        None,
                        None,
                    )
                    .binary(&[2], None, Some(b"a\0b"))
                    .binary(&[3], Some(10), Some(b"text"))
                    .binary_size(&[2], 3);
            }),
            "* 1 FETCH (BODY[]<0> {3}\r\nabc BODY[4.1.MIME] NIL BINARY[2] ~{3}\r\na\0b BINARY[3]<10> {4}\r\ntext BINARY.SIZE[2] 3)\r\n",
        ),
        (
            "a PREVIEW, an empty one and a missing one (RFC 8970)",
            written(|w| {
                w.fetch(3)
                    .preview(Some("Hi \"Bob\""))
                    .preview(Some(""))
                    .preview(None);
            }),
            "* 3 FETCH (PREVIEW \"Hi \\\"Bob\\\"\" PREVIEW \"\" PREVIEW NIL)\r\n",
        ),
        (
            "rfc822 items",
            written(|w| {
                w.fetch(2)
                    .rfc822_header(Some(b"A: b\r\n\r\n"))
                    .rfc822_text(Some(b""))
                    .rfc822(None);
            }),
            "* 2 FETCH (RFC822.HEADER {8}\r\nA: b\r\n\r\n RFC822.TEXT {0}\r\n RFC822 NIL)\r\n",
        ),
    ];
    for (scenario, got, expected) in cases {
        assert_eq!(got, expected, "{scenario}");
    }
}

#[test]
fn strings_are_atoms_quoted_or_literals_as_needed() {
    let cases: Vec<(&str, &[u8], &str)> = vec![
        ("a plain word is an atom", b"INBOX", "INBOX"),
        ("NIL must be quoted", b"NIL", "\"NIL\""),
        ("an empty string is quoted", b"", "\"\""),
        ("spaces are quoted", b"Sent Items", "\"Sent Items\""),
        (
            "quotes and backslashes are escaped",
            b"a\"b\\c",
            "\"a\\\"b\\\\c\"",
        ),
        ("brackets are quoted", b"a]b", "\"a]b\""),
        ("CRLF needs a literal", b"a\r\nb", "{4}\r\na\r\nb"),
        (
            "8-bit needs a literal without UTF-8",
            "é".as_bytes(),
            "{2}\r\né",
        ),
    ];
    for (scenario, input, expected) in cases {
        assert_eq!(
            written(|w| {
                w.astring(input);
            }),
            expected,
            "{scenario}"
        );
    }
    assert_eq!(
        written_utf8(|w| {
            w.astring("é".as_bytes());
        }),
        "\"é\""
    );
    assert_eq!(
        written(|w| {
            w.nstring(None);
        }),
        "NIL"
    );
}

#[test]
fn written_responses_reparse_where_they_are_commands_too() {
    // A mailbox name written by the server comes back the same when a client
    // sends it in a command.
    for name in [
        "INBOX",
        "Sent Items",
        "Entwürfe",
        "a\"b",
        "~peter/mail/日本語/台北",
        "NIL",
        "AT&T",
    ] {
        let mut w = Writer::new();
        w.raw(b"a SELECT ").mailbox(name).raw(b"\r\n");
        let cmd = parse_command(w.as_bytes()).unwrap();
        let CommandBody::Select { mailbox, .. } = cmd.body else {
            panic!()
        };
        assert_eq!(mailbox.as_str(), name);
    }
}

#[test]
fn uid_lists_compress_in_order() {
    assert_eq!(compress_in_order(&[3, 4, 5, 9, 7, 8]), "3:5,9,7:8");
    assert_eq!(compress_in_order(&[]), "");
    assert_eq!(compress_in_order(&[u32::MAX, 1]), "4294967295,1");
    let mut set = RangeSet::new();
    for n in [5, 1, 3, 2, 4, 10, 12, 11] {
        set.insert(n);
    }
    assert_eq!(set.to_string(), "1:5,10:12");
    assert!(set.contains(11) && !set.contains(6));
    set.insert_range(6..=9);
    assert_eq!(set.to_string(), "1:12");
}
