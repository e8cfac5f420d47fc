//! Commands as real clients send them, parsed to their typed form.

use havre_imap_proto::*;

fn set(s: &str) -> SequenceSet {
    SequenceSet::parse_str(s).unwrap()
}

fn mbox(s: &str) -> Mailbox {
    Mailbox::new(s)
}

fn fields(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn date(y: u16, m: u8, d: u8) -> Date {
    Date::new(y, m, d).unwrap()
}

fn parse_ok(scenario: &str, input: &[u8]) -> Command {
    match parse_command(input) {
        Ok(cmd) => cmd,
        Err(err) => panic!("{scenario}: {input:?} failed: {err}"),
    }
}

#[test]
fn commands_parse_to_their_typed_form() {
    let thunderbird_headers = fields(&[
        "From",
        "To",
        "Cc",
        "Bcc",
        "Subject",
        "Date",
        "Message-ID",
        "Priority",
        "X-Priority",
        "References",
        "Newsgroups",
        "In-Reply-To",
        "Content-Type",
        "Reply-To",
    ]);
    let cases: Vec<(&str, &[u8], CommandBody)> = vec![
        (
            "a capability without arguments",
            b"1 CAPABILITY\r\n",
            CommandBody::Capability,
        ),
        (
            "command names are case-insensitive",
            b"a1 noop\r\n",
            CommandBody::Noop,
        ),
        ("a logout without CRLF", b"A LOGOUT", CommandBody::Logout),
        ("starttls", b"x STARTTLS\r\n", CommandBody::StartTls),
        (
            "a login with quoted strings and escapes",
            b"a001 LOGIN \"fred\" \"fat \\\"man\\\\\"\r\n",
            CommandBody::Login {
                username: "fred".into(),
                password: "fat \"man\\".into(),
            },
        ),
        (
            "a login with atoms, as mutt sends it",
            b"a0001 LOGIN alice@example.org s3cret\r\n",
            CommandBody::Login {
                username: "alice@example.org".into(),
                password: "s3cret".into(),
            },
        ),
        (
            "a login with non-synchronizing literals (RFC 7888 example)",
            b"A001 LOGIN {11+}\r\nFRED FOOBAR {7+}\r\nfat man\r\n",
            CommandBody::Login {
                username: "FRED FOOBAR".into(),
                password: "fat man".into(),
            },
        ),
        (
            "an authenticate plain with a SASL-IR initial response",
            b"a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n",
            CommandBody::Authenticate {
                mechanism: "PLAIN".into(),
                initial_response: Some("AGFsaWNlAHNlY3JldA==".into()),
            },
        ),
        (
            "an authenticate without an initial response",
            b"a authenticate login\r\n",
            CommandBody::Authenticate {
                mechanism: "LOGIN".into(),
                initial_response: None,
            },
        ),
        (
            "an enable of several extensions",
            b"t ENABLE QRESYNC CONDSTORE UTF8=ACCEPT\r\n",
            CommandBody::Enable {
                capabilities: fields(&["QRESYNC", "CONDSTORE", "UTF8=ACCEPT"]),
            },
        ),
        (
            "a select of inbox in lower case normalises to INBOX",
            b"3 select inbox\r\n",
            CommandBody::Select {
                mailbox: mbox("INBOX"),
                read_only: false,
                params: SelectParams::default(),
            },
        ),
        (
            "an examine with CONDSTORE",
            b"a EXAMINE \"Sent Items\" (CONDSTORE)\r\n",
            CommandBody::Select {
                mailbox: mbox("Sent Items"),
                read_only: true,
                params: SelectParams {
                    condstore: true,
                    qresync: None,
                },
            },
        ),
        (
            "a select with QRESYNC, known uids and sequence match data (RFC 7162 example)",
            b"A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541 (1:3 1,3,5)))\r\n",
            CommandBody::Select {
                mailbox: mbox("INBOX"),
                read_only: false,
                params: SelectParams {
                    condstore: false,
                    qresync: Some(QResync {
                        uid_validity: 67890007,
                        modseq: 20050715194045000,
                        known_uids: Some(set("41,43:211,214:541")),
                        seq_match: Some((set("1:3"), set("1,3,5"))),
                    }),
                },
            },
        ),
        (
            "a select with QRESYNC and only the modseq",
            b"A02 SELECT INBOX (QRESYNC (67890007 90060115194045000))",
            CommandBody::Select {
                mailbox: mbox("INBOX"),
                read_only: false,
                params: SelectParams {
                    condstore: false,
                    qresync: Some(QResync {
                        uid_validity: 67890007,
                        modseq: 90060115194045000,
                        known_uids: None,
                        seq_match: None,
                    }),
                },
            },
        ),
        (
            "a create with a special-use attribute",
            b"t1 CREATE \"Important Messages\" (USE (\\Flagged))\r\n",
            CommandBody::Create {
                mailbox: mbox("Important Messages"),
                special_use: vec![MailboxAttr::Flagged],
            },
        ),
        (
            "a create of a mailbox in modified UTF-7 decodes to UTF-8",
            b"a CREATE ~peter/mail/&ZeVnLIqe-/&U,BTFw-\r\n",
            CommandBody::Create {
                mailbox: mbox("~peter/mail/日本語/台北"),
                special_use: vec![],
            },
        ),
        (
            "a create of a raw UTF-8 name is taken as UTF-8",
            "a CREATE \"Entwürfe\"\r\n".as_bytes(),
            CommandBody::Create {
                mailbox: mbox("Entwürfe"),
                special_use: vec![],
            },
        ),
        (
            "a delete",
            b"a DELETE Trash/old\r\n",
            CommandBody::Delete {
                mailbox: mbox("Trash/old"),
            },
        ),
        (
            "a rename with a literal",
            b"a RENAME {4}\r\nfoo1 \"bar 2\"\r\n",
            CommandBody::Rename {
                from: mbox("foo1"),
                to: mbox("bar 2"),
            },
        ),
        (
            "a subscribe and an unsubscribe",
            b"a SUBSCRIBE Drafts",
            CommandBody::Subscribe {
                mailbox: mbox("Drafts"),
            },
        ),
        (
            "an unsubscribe",
            b"a UNSUBSCRIBE \"\"",
            CommandBody::Unsubscribe {
                mailbox: mbox(""),
            },
        ),
        (
            "a basic list as Thunderbird sends it",
            b"5 list \"\" \"*\"\r\n",
            CommandBody::List(ListCommand {
                reference: String::new(),
                patterns: vec!["*".into()],
                ..Default::default()
            }),
        ),
        (
            "a basic list with an unquoted percent pattern",
            b"a LIST \"\" %\r\n",
            CommandBody::List(ListCommand {
                reference: String::new(),
                patterns: vec!["%".into()],
                ..Default::default()
            }),
        ),
        (
            "a list-extended with selection, several patterns and return options",
            b"A01 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (\"%\" \"Other/*\") RETURN (CHILDREN SPECIAL-USE)\r\n",
            CommandBody::List(ListCommand {
                reference: String::new(),
                patterns: vec!["%".into(), "Other/*".into()],
                selection: ListSelection {
                    subscribed: true,
                    recursive_match: true,
                    ..Default::default()
                },
                returns: ListReturn {
                    children: true,
                    special_use: true,
                    ..Default::default()
                },
                extended: true,
            }),
        ),
        (
            "a list-status as Apple Mail sends it",
            b"7 LIST \"\" \"*\" RETURN (SUBSCRIBED STATUS (MESSAGES UNSEEN UIDNEXT UIDVALIDITY HIGHESTMODSEQ))",
            CommandBody::List(ListCommand {
                reference: String::new(),
                patterns: vec!["*".into()],
                returns: ListReturn {
                    subscribed: true,
                    status: Some(vec![
                        StatusItem::Messages,
                        StatusItem::Unseen,
                        StatusItem::UidNext,
                        StatusItem::UidValidity,
                        StatusItem::HighestModSeq,
                    ]),
                    ..Default::default()
                },
                extended: true,
                ..Default::default()
            }),
        ),
        (
            "a list of special-use mailboxes",
            b"t3 LIST (SPECIAL-USE) \"\" \"*\"",
            CommandBody::List(ListCommand {
                reference: String::new(),
                patterns: vec!["*".into()],
                selection: ListSelection {
                    special_use: true,
                    ..Default::default()
                },
                extended: true,
                ..Default::default()
            }),
        ),
        (
            "an lsub",
            b"a LSUB \"#news.\" \"comp.mail.*\"",
            CommandBody::Lsub {
                reference: "#news.".into(),
                pattern: "comp.mail.*".into(),
            },
        ),
        ("a namespace", b"n NAMESPACE", CommandBody::Namespace),
        (
            "a status with every item",
            b"A042 STATUS blurdybloop (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT HIGHESTMODSEQ APPENDLIMIT)",
            CommandBody::Status {
                mailbox: mbox("blurdybloop"),
                items: vec![
                    StatusItem::Messages,
                    StatusItem::UidNext,
                    StatusItem::UidValidity,
                    StatusItem::Unseen,
                    StatusItem::Deleted,
                    StatusItem::Size,
                    StatusItem::Recent,
                    StatusItem::HighestModSeq,
                    StatusItem::AppendLimit,
                ],
            },
        ),
        (
            "an append with flags, a date and a synchronizing literal",
            b"A003 APPEND saved-messages (\\Seen $Forwarded) \"07-Feb-1994 21:52:25 -0800\" {21}\r\nSubject: hi\r\n\r\nbody\r\n\r\n",
            CommandBody::Append(AppendCommand {
                mailbox: mbox("saved-messages"),
                messages: vec![AppendMessage {
                    flags: vec![Flag::Seen, Flag::Keyword("$Forwarded".into())],
                    date: Some(DateTime {
                        date: date(1994, 2, 7),
                        hour: 21,
                        minute: 52,
                        second: 25,
                        zone_minutes: -480,
                    }),
                    message: b"Subject: hi\r\n\r\nbody\r\n".to_vec(),
                    binary: false,
                    catenate: None,
                }],
            }),
        ),
        (
            "an append of a binary literal8 with NUL",
            b"a APPEND Drafts ~{3+}\r\na\0b\r\n",
            CommandBody::Append(AppendCommand {
                mailbox: mbox("Drafts"),
                messages: vec![AppendMessage {
                    flags: vec![],
                    date: None,
                    message: b"a\0b".to_vec(),
                    binary: true,
                    catenate: None,
                }],
            }),
        ),
        (
            "an append with a date-time with a single-digit day",
            b"a APPEND INBOX \" 7-Feb-1994 21:52:25 +0000\" {1}\r\nx",
            CommandBody::Append(AppendCommand {
                mailbox: mbox("INBOX"),
                messages: vec![AppendMessage {
                    flags: vec![],
                    date: Some(DateTime {
                        date: date(1994, 2, 7),
                        hour: 21,
                        minute: 52,
                        second: 25,
                        zone_minutes: 0,
                    }),
                    message: b"x".to_vec(),
                    binary: false,
                    catenate: None,
                }],
            }),
        ),
        (
            "a multiappend of two messages, the second with flags (RFC 3502)",
            b"a APPEND INBOX {2}\r\nm1 (\\Draft) ~{2}\r\nm2\r\n",
            CommandBody::Append(AppendCommand {
                mailbox: mbox("INBOX"),
                messages: vec![
                    AppendMessage {
                        flags: vec![],
                        date: None,
                        message: b"m1".to_vec(),
                        binary: false,
                        catenate: None,
                    },
                    AppendMessage {
                        flags: vec![Flag::Draft],
                        date: None,
                        message: b"m2".to_vec(),
                        binary: true,
                        catenate: None,
                    },
                ],
            }),
        ),
        (
            "a getmetadata of one server entry",
            b"a GETMETADATA \"\" /private/vendor/x/theme",
            CommandBody::GetMetadata(GetMetadataCommand {
                mailbox: mbox(""),
                entries: vec!["/private/vendor/x/theme".into()],
                max_size: None,
                depth: MetadataDepth::Zero,
            }),
        ),
        (
            "a getmetadata with options and a list of entries (RFC 5464 4.2)",
            b"a GETMETADATA (MAXSIZE 1024 DEPTH infinity) INBOX (/shared/comment \"/private/comment\")",
            CommandBody::GetMetadata(GetMetadataCommand {
                mailbox: mbox("INBOX"),
                entries: vec!["/shared/comment".into(), "/private/comment".into()],
                max_size: Some(1024),
                depth: MetadataDepth::Infinity,
            }),
        ),
        (
            "a getmetadata with its options after the mailbox, as RFC 5464's examples write it",
            b"a GETMETADATA \"INBOX\" (MAXSIZE 1024) (\"/shared/comment\" \"/private/comment\")",
            CommandBody::GetMetadata(GetMetadataCommand {
                mailbox: mbox("INBOX"),
                entries: vec!["/shared/comment".into(), "/private/comment".into()],
                max_size: Some(1024),
                depth: MetadataDepth::Zero,
            }),
        ),
        (
            "a setmetadata that sets one entry and removes another",
            b"a SETMETADATA INBOX (/private/comment {5}\r\nhello /shared/comment NIL)",
            CommandBody::SetMetadata {
                mailbox: mbox("INBOX"),
                entries: vec![
                    ("/private/comment".into(), Some(b"hello".to_vec())),
                    ("/shared/comment".into(), None),
                ],
            },
        ),
        (
            "a catenate of text and a URL (RFC 4469 example)",
            b"A003 APPEND Drafts (\\Seen \\Draft) CATENATE (URL \"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER\" TEXT {6}\r\nbody\r\n)",
            CommandBody::Append(AppendCommand {
                mailbox: mbox("Drafts"),
                messages: vec![AppendMessage {
                    flags: vec![Flag::Seen, Flag::Draft],
                    date: None,
                    message: vec![],
                    binary: false,
                    catenate: Some(vec![
                        CatenatePart::Url(
                            "/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER".into(),
                        ),
                        CatenatePart::Text(b"body\r\n".to_vec()),
                    ]),
                }],
            }),
        ),
        ("an idle", b"a IDLE\r\n", CommandBody::Idle),
        ("a check", b"a CHECK", CommandBody::Check),
        ("a close", b"a CLOSE", CommandBody::Close),
        ("an unselect", b"a UNSELECT", CommandBody::Unselect),
        (
            "an expunge",
            b"a EXPUNGE",
            CommandBody::Expunge { uid_set: None },
        ),
        (
            "a uid expunge",
            b"a UID EXPUNGE 3000:3002",
            CommandBody::Expunge {
                uid_set: Some(set("3000:3002")),
            },
        ),
        (
            "a uid fetch with body peek header fields as Thunderbird sends it",
            b"6 UID fetch 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)])\r\n",
            CommandBody::Fetch(FetchCommand {
                uid: true,
                set: set("1:*"),
                items: vec![
                    FetchAttr::Uid,
                    FetchAttr::Rfc822Size,
                    FetchAttr::Flags,
                    FetchAttr::BodySection {
                        section: Section {
                            part: vec![],
                            text: Some(SectionText::HeaderFields(thunderbird_headers.clone())),
                        },
                        partial: None,
                        peek: true,
                    },
                ],
                changed_since: None,
                vanished: false,
            }),
        ),
        (
            "a uid fetch with body peek header fields and partial parses",
            b"a UID FETCH 4827313:4828442 (BODY.PEEK[1.2.HEADER.FIELDS (SUBJECT \"x-spam\")]<0.2048>)",
            CommandBody::Fetch(FetchCommand {
                uid: true,
                set: set("4827313:4828442"),
                items: vec![FetchAttr::BodySection {
                    section: Section {
                        part: vec![1, 2],
                        text: Some(SectionText::HeaderFields(fields(&["SUBJECT", "x-spam"]))),
                    },
                    partial: Some(Partial {
                        origin: 0,
                        length: 2048,
                    }),
                    peek: true,
                }],
                changed_since: None,
                vanished: false,
            }),
        ),
        (
            "a fetch of the FAST macro",
            b"a FETCH 2:4 FAST",
            CommandBody::Fetch(FetchCommand {
                uid: false,
                set: set("2:4"),
                items: vec![
                    FetchAttr::Flags,
                    FetchAttr::InternalDate,
                    FetchAttr::Rfc822Size,
                ],
                changed_since: None,
                vanished: false,
            }),
        ),
        (
            "a fetch of the FULL macro",
            b"a FETCH 1 full",
            CommandBody::Fetch(FetchCommand {
                uid: false,
                set: set("1"),
                items: vec![
                    FetchAttr::Flags,
                    FetchAttr::InternalDate,
                    FetchAttr::Rfc822Size,
                    FetchAttr::Envelope,
                    FetchAttr::Body,
                ],
                changed_since: None,
                vanished: false,
            }),
        ),
        (
            "a fetch of PREVIEW, plain and LAZY (RFC 8970)",
            b"a UID FETCH 1:* (UID PREVIEW PREVIEW (lazy) FLAGS)",
            CommandBody::Fetch(FetchCommand {
                uid: true,
                set: set("1:*"),
                items: vec![
                    FetchAttr::Uid,
                    FetchAttr::Preview { lazy: false },
                    FetchAttr::Preview { lazy: true },
                    FetchAttr::Flags,
                ],
                changed_since: None,
                vanished: false,
            }),
        ),
        (
            "a fetch of every simple item, mime, text and binary sections",
            b"a FETCH 1,3:5,7:* (ENVELOPE INTERNALDATE RFC822 RFC822.HEADER RFC822.TEXT BODYSTRUCTURE MODSEQ BODY BODY[] BODY[TEXT]<10.20> BODY[2.MIME] BODY[3] BODY[HEADER] BODY[1.HEADER.FIELDS.NOT (Received)] BINARY[1.2]<0.100> BINARY.PEEK[] BINARY.SIZE[2])",
            CommandBody::Fetch(FetchCommand {
                uid: false,
                set: set("1,3:5,7:*"),
                items: vec![
                    FetchAttr::Envelope,
                    FetchAttr::InternalDate,
                    FetchAttr::Rfc822,
                    FetchAttr::Rfc822Header,
                    FetchAttr::Rfc822Text,
                    FetchAttr::BodyStructure,
                    FetchAttr::ModSeq,
                    FetchAttr::Body,
                    FetchAttr::BodySection {
                        section: Section::default(),
                        partial: None,
                        peek: false,
                    },
                    FetchAttr::BodySection {
                        section: Section {
                            part: vec![],
                            text: Some(SectionText::Text),
                        },
                        partial: Some(Partial {
                            origin: 10,
                            length: 20,
                        }),
                        peek: false,
                    },
                    FetchAttr::BodySection {
                        section: Section {
                            part: vec![2],
                            text: Some(SectionText::Mime),
                        },
                        partial: None,
                        peek: false,
                    },
                    FetchAttr::BodySection {
                        section: Section {
                            part: vec![3],
                            text: None,
                        },
                        partial: None,
                        peek: false,
                    },
                    FetchAttr::BodySection {
                        section: Section {
                            part: vec![],
                            text: Some(SectionText::Header),
                        },
                        partial: None,
                        peek: false,
                    },
                    FetchAttr::BodySection {
                        section: Section {
                            part: vec![1],
                            text: Some(SectionText::HeaderFieldsNot(fields(&["Received"]))),
                        },
                        partial: None,
                        peek: false,
                    },
                    FetchAttr::Binary {
                        part: vec![1, 2],
                        partial: Some(Partial {
                            origin: 0,
                            length: 100,
                        }),
                        peek: false,
                    },
                    FetchAttr::Binary {
                        part: vec![],
                        partial: None,
                        peek: true,
                    },
                    FetchAttr::BinarySize { part: vec![2] },
                ],
                changed_since: None,
                vanished: false,
            }),
        ),
        (
            "a uid fetch with CHANGEDSINCE and VANISHED",
            b"s100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)",
            CommandBody::Fetch(FetchCommand {
                uid: true,
                set: set("300:500"),
                items: vec![FetchAttr::Flags],
                changed_since: Some(12345),
                vanished: true,
            }),
        ),
        (
            "a fetch of the saved search result",
            b"a FETCH $ (UID)",
            CommandBody::Fetch(FetchCommand {
                uid: false,
                set: SequenceSet::Saved,
                items: vec![FetchAttr::Uid],
                changed_since: None,
                vanished: false,
            }),
        ),
        (
            "a store adding a flag silently",
            b"A003 STORE 2:4 +FLAGS.SILENT (\\Deleted)",
            CommandBody::Store(StoreCommand {
                uid: false,
                set: set("2:4"),
                unchanged_since: None,
                mode: StoreMode::Add,
                silent: true,
                flags: vec![Flag::Deleted],
            }),
        ),
        (
            "a uid store with UNCHANGEDSINCE and flags without parentheses",
            b"d105 UID STORE 7,5,9 (UNCHANGEDSINCE 320162338) -flags \\Seen $Junk",
            CommandBody::Store(StoreCommand {
                uid: true,
                set: set("7,5,9"),
                unchanged_since: Some(320162338),
                mode: StoreMode::Remove,
                silent: false,
                flags: vec![Flag::Seen, Flag::Keyword("$Junk".into())],
            }),
        ),
        (
            "a store replacing flags with an empty list",
            b"a STORE 1 FLAGS ()",
            CommandBody::Store(StoreCommand {
                uid: false,
                set: set("1"),
                unchanged_since: None,
                mode: StoreMode::Replace,
                silent: false,
                flags: vec![],
            }),
        ),
        (
            "a uid copy to a quoted mailbox",
            b"a UID COPY 1:3,7 \"Saved Items\"",
            CommandBody::Copy {
                uid: true,
                set: set("1:3,7"),
                mailbox: mbox("Saved Items"),
            },
        ),
        (
            "a move",
            b"a MOVE 2 Trash",
            CommandBody::Move {
                uid: false,
                set: set("2"),
                mailbox: mbox("Trash"),
            },
        ),
        (
            "a uid move",
            b"a uid move 42:43 Archive",
            CommandBody::Move {
                uid: true,
                set: set("42:43"),
                mailbox: mbox("Archive"),
            },
        ),
        (
            "a getquota, getquotaroot and setquota",
            b"a GETQUOTA \"\"",
            CommandBody::GetQuota {
                root: String::new(),
            },
        ),
        (
            "a getquotaroot",
            b"a GETQUOTAROOT INBOX",
            CommandBody::GetQuotaRoot {
                mailbox: mbox("INBOX"),
            },
        ),
        (
            "a setquota is parsed so it can be refused",
            b"a SETQUOTA \"\" (STORAGE 512 message 1000)",
            CommandBody::SetQuota {
                root: String::new(),
                limits: vec![("STORAGE".into(), 512), ("MESSAGE".into(), 1000)],
            },
        ),
        (
            "an id as Thunderbird sends it",
            b"1 ID (\"name\" \"Thunderbird\" \"version\" \"128.5.0\" \"os\" NIL)",
            CommandBody::Id {
                params: Some(vec![
                    ("name".into(), Some("Thunderbird".into())),
                    ("version".into(), Some("128.5.0".into())),
                    ("os".into(), None),
                ]),
            },
        ),
        ("an id nil", b"a ID NIL", CommandBody::Id { params: None }),
        (
            "trailing spaces before CRLF are forgiven",
            b"a NOOP  \r\n",
            CommandBody::Noop,
        ),
    ];
    for (scenario, input, expected) in cases {
        let cmd = parse_ok(scenario, input);
        assert_eq!(cmd.body, expected, "{scenario}");
    }
}

#[test]
fn searches_parse_to_their_keys() {
    let cases: Vec<(&str, &[u8], SearchCommand)> = vec![
        (
            "a search with OR NOT and nested parentheses",
            b"a SEARCH OR NOT (SEEN FLAGGED) (FROM \"smith\" (SINCE 1-Feb-1994 NOT TO bob)) UNDELETED",
            SearchCommand {
                uid: false,
                result: None,
                charset: None,
                criteria: vec![
                    SearchKey::Or(
                        Box::new(SearchKey::Not(Box::new(SearchKey::And(vec![
                            SearchKey::Seen,
                            SearchKey::Flagged,
                        ])))),
                        Box::new(SearchKey::And(vec![
                            SearchKey::From("smith".into()),
                            SearchKey::And(vec![
                                SearchKey::Since(date(1994, 2, 1)),
                                SearchKey::Not(Box::new(SearchKey::To("bob".into()))),
                            ]),
                        ])),
                    ),
                    SearchKey::Undeleted,
                ],
            },
        ),
        (
            "an esearch with every return option and a charset",
            b"a UID SEARCH RETURN (MIN MAX ALL COUNT SAVE) CHARSET UTF-8 SUBJECT {6+}\r\nr\xc3\xa9sum\r\n",
            SearchCommand {
                uid: true,
                result: Some(vec![
                    SearchReturn::Min,
                    SearchReturn::Max,
                    SearchReturn::All,
                    SearchReturn::Count,
                    SearchReturn::Save,
                ]),
                charset: Some("UTF-8".into()),
                criteria: vec![SearchKey::Subject("résum".into())],
            },
        ),
        (
            "an esearch with an empty return list",
            b"a SEARCH RETURN () UNSEEN",
            SearchCommand {
                uid: false,
                result: Some(vec![]),
                charset: None,
                criteria: vec![SearchKey::Unseen],
            },
        ),
        (
            "a search over sequence sets, uids and the saved result",
            b"a SEARCH 1:5,7 UID 100:* $ NOT $",
            SearchCommand {
                uid: false,
                result: None,
                charset: None,
                criteria: vec![
                    SearchKey::Sequence(set("1:5,7")),
                    SearchKey::Uid(set("100:*")),
                    SearchKey::Sequence(SequenceSet::Saved),
                    SearchKey::Not(Box::new(SearchKey::Sequence(SequenceSet::Saved))),
                ],
            },
        ),
        (
            "a search with every RFC 9051 key",
            b"a SEARCH ALL ANSWERED BCC b BEFORE \"2-Mar-2024\" BODY x CC c DELETED DRAFT FLAGGED FROM f HEADER X-Spam yes KEYWORD $Junk LARGER 100 NEW OLD ON 29-Feb-2024 RECENT SEEN SENTBEFORE 1-Jan-2000 SENTON 2-Jan-2000 SENTSINCE 3-Jan-2000 SINCE 4-Jan-2000 SMALLER 5000 SUBJECT s TEXT t TO to UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNKEYWORD NonJunk UNSEEN OLDER 3600 YOUNGER 60",
            SearchCommand {
                uid: false,
                result: None,
                charset: None,
                criteria: vec![
                    SearchKey::All,
                    SearchKey::Answered,
                    SearchKey::Bcc("b".into()),
                    SearchKey::Before(date(2024, 3, 2)),
                    SearchKey::Body("x".into()),
                    SearchKey::Cc("c".into()),
                    SearchKey::Deleted,
                    SearchKey::Draft,
                    SearchKey::Flagged,
                    SearchKey::From("f".into()),
                    SearchKey::Header("X-Spam".into(), "yes".into()),
                    SearchKey::Keyword("$Junk".into()),
                    SearchKey::Larger(100),
                    SearchKey::New,
                    SearchKey::Old,
                    SearchKey::On(date(2024, 2, 29)),
                    SearchKey::Recent,
                    SearchKey::Seen,
                    SearchKey::SentBefore(date(2000, 1, 1)),
                    SearchKey::SentOn(date(2000, 1, 2)),
                    SearchKey::SentSince(date(2000, 1, 3)),
                    SearchKey::Since(date(2000, 1, 4)),
                    SearchKey::Smaller(5000),
                    SearchKey::Subject("s".into()),
                    SearchKey::Text("t".into()),
                    SearchKey::To("to".into()),
                    SearchKey::Unanswered,
                    SearchKey::Undeleted,
                    SearchKey::Undraft,
                    SearchKey::Unflagged,
                    SearchKey::Unkeyword("NonJunk".into()),
                    SearchKey::Unseen,
                    SearchKey::Older(3600),
                    SearchKey::Younger(60),
                ],
            },
        ),
        (
            "a condstore search by modseq with an entry",
            b"a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338",
            SearchCommand {
                uid: false,
                result: None,
                charset: None,
                criteria: vec![SearchKey::ModSeq {
                    entry: Some(("/flags/\\draft".into(), EntryType::All)),
                    modseq: 620162338,
                }],
            },
        ),
        (
            "a search as mbsync sends it for new messages",
            b"7 UID SEARCH UID 1:* NOT DELETED",
            SearchCommand {
                uid: true,
                result: None,
                charset: None,
                criteria: vec![
                    SearchKey::Uid(set("1:*")),
                    SearchKey::Not(Box::new(SearchKey::Deleted)),
                ],
            },
        ),
        (
            "a search in an unsupported charset still parses, lossily",
            b"a SEARCH CHARSET ISO-8859-1 BODY caf\xe9",
            SearchCommand {
                uid: false,
                result: None,
                charset: Some("ISO-8859-1".into()),
                criteria: vec![SearchKey::Body("caf\u{fffd}".into())],
            },
        ),
    ];
    for (scenario, input, expected) in cases {
        let cmd = parse_ok(scenario, input);
        assert_eq!(cmd.body, CommandBody::Search(expected), "{scenario}");
    }
}

#[test]
fn sort_and_thread_parse() {
    let cmd = parse_ok(
        "a uid sort with reverse and a charset",
        b"A283 UID SORT (REVERSE ARRIVAL cc DATE FROM SIZE SUBJECT TO) UTF-8 SINCE 1-Feb-1994",
    );
    assert_eq!(
        cmd.body,
        CommandBody::Sort(SortCommand {
            uid: true,
            result: None,
            criteria: vec![
                SortCriterion {
                    reverse: true,
                    key: SortKey::Arrival
                },
                SortCriterion {
                    reverse: false,
                    key: SortKey::Cc
                },
                SortCriterion {
                    reverse: false,
                    key: SortKey::Date
                },
                SortCriterion {
                    reverse: false,
                    key: SortKey::From
                },
                SortCriterion {
                    reverse: false,
                    key: SortKey::Size
                },
                SortCriterion {
                    reverse: false,
                    key: SortKey::Subject
                },
                SortCriterion {
                    reverse: false,
                    key: SortKey::To
                },
            ],
            charset: "UTF-8".into(),
            search: vec![SearchKey::Since(date(1994, 2, 1))],
        })
    );

    let cmd = parse_ok(
        "an esort with return options",
        b"a SORT RETURN (MIN COUNT) (DATE) UTF-8 UNDELETED UNKEYWORD $Junk",
    );
    let CommandBody::Sort(sort) = cmd.body else {
        panic!("not a sort")
    };
    assert_eq!(
        sort.result,
        Some(vec![SearchReturn::Min, SearchReturn::Count])
    );
    assert_eq!(sort.search.len(), 2);

    let cmd = parse_ok(
        "a thread by references",
        b"a UID THREAD REFERENCES UTF-8 ALL",
    );
    assert_eq!(
        cmd.body,
        CommandBody::Thread(ThreadCommand {
            uid: true,
            algorithm: ThreadAlgorithm::References,
            charset: "UTF-8".into(),
            search: vec![SearchKey::All],
        })
    );
    let cmd = parse_ok(
        "a thread by ordered subject",
        b"a THREAD orderedsubject us-ascii SEEN",
    );
    assert!(matches!(
        cmd.body,
        CommandBody::Thread(ThreadCommand {
            algorithm: ThreadAlgorithm::OrderedSubject,
            ..
        })
    ));
}

#[test]
fn utf8_mailboxes_are_taken_as_sent_once_enabled() {
    let utf8 = ParseOptions {
        utf8_mailboxes: true,
    };
    let cmd = parse_command_with(b"a SELECT \"AT&T\"", &utf8).unwrap();
    assert!(
        matches!(cmd.body, CommandBody::Select { ref mailbox, .. } if mailbox.as_str() == "AT&T")
    );
    // Without UTF-8 the same name is invalid modified UTF-7.
    let err = parse_command(b"a SELECT \"AT&T\"").unwrap_err();
    assert_eq!(err.tag(), Some("a"));
    assert!(err.message().contains("modified UTF-7"));
}

#[test]
fn bad_commands_are_refused_with_a_tag_when_there_is_one() {
    let cases: Vec<(&str, &[u8], Option<&str>, ParseErrorKind)> = vec![
        (
            "a getmetadata depth other than 0, 1 or infinity",
            b"a GETMETADATA (DEPTH 2) \"\" /private/x",
            Some("a"),
            ParseErrorKind::Syntax,
        ),
        (
            "a setmetadata entry without a value",
            b"a SETMETADATA INBOX (/private/comment)",
            Some("a"),
            ParseErrorKind::Syntax,
        ),
        (
            "an empty line has no tag",
            b"\r\n",
            None,
            ParseErrorKind::NoTag,
        ),
        (
            "a line starting with a space has no tag",
            b" NOOP\r\n",
            None,
            ParseErrorKind::NoTag,
        ),
        (
            "a tag alone is a syntax error",
            b"a1\r\n",
            Some("a1"),
            ParseErrorKind::Syntax,
        ),
        (
            "an unknown command",
            b"a1 XYZZY\r\n",
            Some("a1"),
            ParseErrorKind::UnknownCommand,
        ),
        (
            "an unknown uid command",
            b"a1 UID NOOP\r\n",
            Some("a1"),
            ParseErrorKind::UnknownCommand,
        ),
        (
            "arguments after a command that has none",
            b"a NOOP now",
            Some("a"),
            ParseErrorKind::Syntax,
        ),
        (
            "a literal shorter than announced",
            b"a LOGIN {10}\r\nabc",
            Some("a"),
            ParseErrorKind::Syntax,
        ),
        (
            "a NUL in a login literal",
            b"a LOGIN {3}\r\na\0b x",
            Some("a"),
            ParseErrorKind::Syntax,
        ),
        (
            "a zero in a sequence set",
            b"a FETCH 0:3 FLAGS",
            Some("a"),
            ParseErrorKind::Syntax,
        ),
        (
            "an unknown fetch item",
            b"a FETCH 1 (FLAGS BOGUS)",
            Some("a"),
            ParseErrorKind::Syntax,
        ),
        (
            "MIME without a part number",
            b"a FETCH 1 BODY[MIME]",
            Some("a"),
            ParseErrorKind::Syntax,
        ),
        (
            "VANISHED without UID FETCH",
            b"a FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)",
            Some("a"),
            ParseErrorKind::Syntax,
        ),
        (
            "VANISHED without CHANGEDSINCE",
            b"a UID FETCH 1:* FLAGS (VANISHED)",
            Some("a"),
            ParseErrorKind::Syntax,
        ),
        (
            "RECURSIVEMATCH alone",
            b"a LIST (RECURSIVEMATCH) \"\" *",
            Some("a"),
            ParseErrorKind::Syntax,
        ),
        (
            "an unknown search key",
            b"a SEARCH FOO",
            Some("a"),
            ParseErrorKind::Syntax,
        ),
        (
            "an impossible date",
            b"a SEARCH SINCE 30-Feb-2024",
            Some("a"),
            ParseErrorKind::Syntax,
        ),
        (
            "an unknown status item",
            b"a STATUS INBOX (MESSAGES FOO)",
            Some("a"),
            ParseErrorKind::Syntax,
        ),
        (
            "an append without a literal",
            b"a APPEND INBOX \"hello\"",
            Some("a"),
            ParseErrorKind::Syntax,
        ),
        (
            "a bad escape in a quoted string",
            b"a LOGIN \"a\\b\" c",
            Some("a"),
            ParseErrorKind::Syntax,
        ),
        (
            "a search without keys",
            b"a SEARCH",
            Some("a"),
            ParseErrorKind::Syntax,
        ),
    ];
    for (scenario, input, tag, kind) in cases {
        let err = parse_command(input).expect_err(scenario);
        assert_eq!(err.tag(), tag, "{scenario}");
        assert_eq!(err.kind(), kind, "{scenario}: {err}");
        let response = err.response();
        assert!(response.ends_with(b"\r\n"));
        assert!(
            !response[..response.len() - 2].contains(&b'\n'),
            "{scenario}"
        );
        let expected_start = format!("{} BAD ", tag.unwrap_or("*"));
        assert!(
            response.starts_with(expected_start.as_bytes()),
            "{scenario}"
        );
    }
}

#[test]
fn nesting_deeper_than_the_limit_is_refused_not_recursed() {
    for (scenario, key) in [("NOT", "NOT "), ("parentheses", "("), ("OR", "OR ALL ")] {
        let mut cmd = b"a SEARCH ".to_vec();
        for _ in 0..100_000 {
            cmd.extend_from_slice(key.as_bytes());
        }
        cmd.extend_from_slice(b"ALL");
        let err = parse_command(&cmd).expect_err(scenario);
        assert_eq!(err.kind(), ParseErrorKind::TooDeep, "{scenario}");
    }
    // Just under the limit is fine.
    let mut cmd = b"a SEARCH ".to_vec();
    for _ in 0..MAX_DEPTH {
        cmd.extend_from_slice(b"NOT ");
    }
    cmd.extend_from_slice(b"ALL");
    parse_command(&cmd).unwrap();
}

#[test]
fn idle_done_and_authenticate_lines() {
    for (line, done) in [
        (&b"DONE\r\n"[..], true),
        (b"done", true),
        (b"Done\n", true),
        (b"DONE NOW\r\n", false),
        (b"a NOOP\r\n", false),
        (b"\r\n", false),
    ] {
        assert_eq!(is_idle_done(line), done, "{line:?}");
    }
    assert_eq!(parse_auth_line(b"*\r\n").unwrap(), AuthLine::Cancel);
    assert_eq!(
        parse_auth_line(b"dGVzdA==\r\n").unwrap(),
        AuthLine::Response("dGVzdA==".into())
    );
    assert_eq!(
        parse_auth_line(b"\r\n").unwrap(),
        AuthLine::Response(String::new())
    );
    assert!(parse_auth_line(b"not base64!\r\n").is_err());
}

#[test]
fn sequence_sets_resolve_against_the_mailbox() {
    let s = set("1,3:5,7:*");
    assert!(!s.contains(2, 10));
    assert!(s.contains(4, 10));
    assert!(s.contains(10, 10));
    assert!(!s.contains(11, 10));
    let resolved = s.resolve(10).unwrap();
    assert_eq!(resolved.to_string(), "1,3:5,7:10");
    assert_eq!(resolved.count(), 8);
    assert_eq!(
        resolved.iter().collect::<Vec<_>>(),
        vec![1, 3, 4, 5, 7, 8, 9, 10]
    );
    // `*` below the start: 5:* in a mailbox of 3 is 3:5.
    assert_eq!(set("5:*").resolve(3).unwrap().to_string(), "3:5");
    // Overlaps and reversed ranges merge.
    assert_eq!(
        set("9:7,1,2,8,3:4").resolve(100).unwrap().to_string(),
        "1:4,7:9"
    );
    assert_eq!(set("*").max_explicit(), None);
    assert_eq!(set("3,9:2").max_explicit(), Some(9));
    assert!(SequenceSet::Saved.resolve(5).is_none());
    assert_eq!(set("1:*").to_string(), "1:*");
}

#[test]
fn dates_convert_to_and_from_unix_time() {
    let cases = [
        ("\"01-Jan-1970 00:00:00 +0000\"", 0i64),
        ("\"01-Feb-1994 12:00:00 +0100\"", 760_100_400),
        ("\"29-Feb-2024 23:59:59 -0500\"", 1_709_269_199),
        ("\"31-Dec-1969 23:59:59 +0000\"", -1),
    ];
    for (text, unix) in cases {
        let dt = DateTime::parse_str(text).unwrap();
        assert_eq!(dt.to_unix(), unix, "{text}");
        let back = DateTime::from_unix(unix, dt.zone_minutes).unwrap();
        assert_eq!(format!("\"{back}\""), text);
    }
    assert_eq!(
        Date::parse_str("1-Feb-1994").unwrap().to_string(),
        "1-Feb-1994"
    );
    assert_eq!(Date::from_unix(760_100_400, 0), Some(date(1994, 2, 1)));
    assert_eq!(
        Date::from_unix(-1, 0),
        Some(date(1969, 12, 31)),
        "a day before the epoch"
    );
    assert!(Date::parse_str("29-Feb-2023").is_err());
    assert!(DateTime::parse_str("\"01-Feb-1994 24:00:00 +0000\"").is_err());
}

#[test]
fn real_client_commands_parse() {
    let cases: Vec<(&str, &[u8], usize)> = vec![
        (
            "Thunderbird fetching a whole message with a partial",
            b"12 UID fetch 4 (UID RFC822.SIZE FLAGS BODY.PEEK[]<0.32768>)\r\n",
            4,
        ),
        (
            "Outlook listing headers",
            b"A6 UID FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER] INTERNALDATE)\r\n",
            5,
        ),
        (
            "Apple Mail resynchronising flags with CONDSTORE",
            b"8.121 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1234)\r\n",
            1,
        ),
        (
            "mbsync looking for its tracking header",
            b"9 UID FETCH 5 (UID BODY.PEEK[HEADER.FIELDS (X-TUID)])\r\n",
            2,
        ),
        (
            "mutt fetching envelopes",
            b"a0005 FETCH 1:12 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (DATE FROM SENDER SUBJECT TO CC MESSAGE-ID REFERENCES CONTENT-TYPE CONTENT-DESCRIPTION IN-REPLY-TO REPLY-TO LINES LIST-POST LIST-SUBSCRIBE LIST-UNSUBSCRIBE X-LABEL X-ORIGINAL-TO)])\r\n",
            5,
        ),
        (
            "a single item without parentheses",
            b"a FETCH 1 BODYSTRUCTURE\r\n",
            1,
        ),
    ];
    for (scenario, input, count) in cases {
        let cmd = parse_ok(scenario, input);
        let CommandBody::Fetch(fetch) = cmd.body else {
            panic!("{scenario}: not a FETCH")
        };
        assert_eq!(fetch.items.len(), count, "{scenario}");
    }
    for (scenario, input) in [
        ("Apple Mail's ID", &b"1.1 ID (\"name\" \"Mac OS X Mail\" \"version\" \"16.0 (3774.600.62)\" \"os\" \"Mac OS X\" \"os-version\" \"14.5 (23F79)\" \"vendor\" \"Apple Inc.\")\r\n"[..]),
        ("Thunderbird's select", b"3 select \"INBOX\" (CONDSTORE)\r\n"),
        ("Thunderbird's quota", b"9 getquotaroot \"INBOX\"\r\n"),
        ("Thunderbird's subscribed special-use list", b"4 list (SUBSCRIBED) \"\" \"*\" RETURN (SPECIAL-USE)\r\n"),
        ("Outlook's xlist-free list", b"A3 LIST \"\" \"*\"\r\n"),
        ("mbsync's non-synchronizing append", b"7 APPEND \"INBOX\" (\\Seen) {7+}\r\nSubj: x\r\n"),
        ("mutt's status", b"a0010 STATUS \"Sent\" (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)\r\n"),
        ("a store as Thunderbird deletes", b"15 uid store 7 +Flags (\\Deleted)\r\n"),
        ("Apple Mail's move", b"12.3 UID MOVE 17 \"Deleted Messages\"\r\n"),
        ("K-9's esearch", b"5 UID SEARCH RETURN (ALL) UNSEEN NOT DELETED\r\n"),
    ] {
        parse_ok(scenario, input);
    }
}

#[test]
fn inbox_is_case_insensitive() {
    assert_eq!(normalize_inbox("inBox"), Some("INBOX"));
    assert_eq!(normalize_inbox("INBOX/sub"), None);
    assert!(Mailbox::new("Inbox").is_inbox());
    assert_eq!(Mailbox::new("inbox/Sub").as_str(), "inbox/Sub");
    assert_eq!(decode_mailbox_name(b"&ZeVnLIqe-", false).unwrap(), "日本語");
    assert_eq!(
        decode_mailbox_name(b"&ZeVnLIqe-", true).unwrap(),
        "&ZeVnLIqe-"
    );
}

#[test]
fn a_mailbox_name_that_is_not_modified_utf7_is_refused_with_no() {
    for input in [
        &b"a1 CREATE \"&Jjo\"\r\n"[..],
        b"a2 SELECT &-x&AGE\r\n",
        b"a3 LIST \"\" \"&Zm9v\"\r\n",
    ] {
        let err = parse_command(input).expect_err("invalid name");
        assert_eq!(err.kind(), ParseErrorKind::BadMailboxName, "{err}");
        let tag = err.tag().unwrap();
        assert_eq!(
            err.response(),
            format!("{tag} NO Mailbox name is not valid modified UTF-7.\r\n").into_bytes()
        );
    }
}
