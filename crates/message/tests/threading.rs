//! RFC 5256 base subjects, SORT keys and THREAD, compared with what
//! Dovecot 2.3.19 answers for the same mailbox.

use havre_message::{
    SortKeys, ThreadInput, ThreadNode, analyse, base_subject, format_threads, sort_keys,
    thread_orderedsubject, thread_references,
};

#[test]
fn base_subjects_follow_rfc5256() {
    let cases = [
        ("Re: [list] Fwd: hello (fwd)", "hello"),
        ("Re: Re: re: hello", "hello"),
        ("RE:hello", "hello"),
        ("Re : spaced", "spaced"),
        ("Fwd: [list] Re[2]: hello", "hello"),
        ("[fwd: Re: hello]", "hello"),
        ("Re: [fwd: [list] hello] (fwd)", "hello"),
        ("[PATCH] Re: fix the parser", "fix the parser"),
        ("[PATCH]", "[PATCH]"),
        ("[list] [PATCH 2/3] add tests", "add tests"),
        ("Rewards programme", "Rewards programme"),
        ("  hello \t  world  ", "hello world"),
        ("Fw: (fwd)", ""),
        ("=?utf-8?q?Re=3A_caf=C3=A9?=", "caf\u{e9}"),
    ];
    for (subject, base) in cases {
        assert_eq!(base_subject(subject), base, "{subject:?}");
    }
}

#[test]
fn sort_keys_come_from_the_first_headers() {
    let keys = sort_keys(
        b"Date: Sat, 01 Mar 2025 10:00:00 +0100\nSubject: Re: [team] Weekend plans\n\
          From: \"Alice M\" <Alice.Martin@example.org>\nTo: undisclosed:;, bob@example.com\n\
          Message-ID: <b@x>\nIn-Reply-To: <a@x> (sent by Alice)\nReferences: <root@x>\n <a@x>\n\nbody",
    );
    assert_eq!(
        keys,
        SortKeys {
            date: Some(1_740_819_600),
            subject: "WEEKEND PLANS".into(),
            reply_or_forward: true,
            from: "ALICE.MARTIN".into(),
            // RFC 5256: the first address as ENVELOPE gives it, here the
            // group's start marker, whose addr-mailbox is the group name.
            to: "UNDISCLOSED".into(),
            cc: String::new(),
            message_id: Some("<b@x>".into()),
            references: vec!["<root@x>".into(), "<a@x>".into()],
            in_reply_to: Some("<a@x>".into()),
            // RFC 5957: the display name; a group shows its name.
            display_from: "ALICE M".into(),
            display_to: "UNDISCLOSED".into(),
        }
    );
    assert_eq!(keys.sent_date_or(7), 1_740_819_600);
    assert_eq!(sort_keys(b"Subject: x\n\n").sent_date_or(7), 7);
    assert_eq!(analyse(b"Subject: Fwd: x\n\n").sort_keys().subject, "X");
}

/// A weekend conversation: 3 answers 1 through a message we do not have
/// (<c@x>), 4 and 5 answer a missing <zz@x>, 6 answers by subject only.
const CONVERSATION: [&str; 7] = [
    "Message-ID: <a@x>\nSubject: Weekend plans\nFrom: Alice <alice@x>\nTo: bob@x\nDate: Sat, 01 Mar 2025 09:00:00 +0000\n",
    "Message-ID: <b@x>\nIn-Reply-To: <a@x>\nReferences: <a@x>\nSubject: Re: Weekend plans\nFrom: Bob <bob@x>\nTo: alice@x\nDate: Sat, 01 Mar 2025 10:00:00 +0000\n",
    "Message-ID: <d@x>\nReferences: <a@x> <c@x>\nSubject: Re: Weekend plans\nFrom: dave@x\nDate: Sat, 01 Mar 2025 11:00:00 +0000\n",
    "Message-ID: <e@x>\nReferences: <zz@x>\nSubject: Re: Photos\nFrom: erin@x\nDate: Sat, 01 Mar 2025 08:00:00 +0000\n",
    "Message-ID: <f@x>\nReferences: <zz@x>\nSubject: Re: Photos\nFrom: frank@x\nDate: Sat, 01 Mar 2025 08:30:00 +0000\n",
    "Message-ID: <g@x>\nSubject: Re: Weekend plans\nFrom: gina@x\nDate: Sat, 01 Mar 2025 12:00:00 +0000\n",
    "Message-ID: <h@x>\nSubject: Unrelated\nFrom: hank@x\nDate: Sat, 01 Mar 2025 07:00:00 +0000\n",
];

fn conversation_keys() -> Vec<SortKeys> {
    CONVERSATION
        .iter()
        .map(|h| sort_keys(format!("{h}\nbody\n").as_bytes()))
        .collect()
}

fn inputs(keys: &[SortKeys]) -> Vec<ThreadInput<'_>> {
    keys.iter()
        .enumerate()
        .map(|(i, k)| (i as u32 + 1, k, 1_741_564_800 + i as i64))
        .collect()
}

#[test]
fn thread_references_with_missing_parents() {
    let keys = conversation_keys();
    let threads = thread_references(&inputs(&keys));
    assert_eq!(format_threads(&threads), "(7)((4)(5))(1 (2)(3)(6))");
    // the missing <zz@x> stays as a dummy holding 4 and 5
    assert_eq!(threads[1].id, None);
    assert_eq!(threads[1].children.len(), 2);
}

#[test]
fn thread_orderedsubject_groups_by_base_subject() {
    let keys = conversation_keys();
    assert_eq!(
        format_threads(&thread_orderedsubject(&inputs(&keys))),
        "(7)(4 5)(1 (2)(3)(6))"
    );
}

#[test]
fn sort_orders_match_dovecot() {
    let keys = conversation_keys();
    let order = |key: &dyn Fn(&SortKeys) -> String| {
        let mut idx: Vec<usize> = (0..keys.len()).collect();
        idx.sort_by(|&a, &b| key(&keys[a]).cmp(&key(&keys[b])).then(a.cmp(&b)));
        idx.iter().map(|i| i + 1).collect::<Vec<_>>()
    };
    assert_eq!(order(&|k| k.subject.clone()), [4, 5, 7, 1, 2, 3, 6]);
    assert_eq!(order(&|k| k.from.clone()), [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(order(&|k| k.to.clone()), [3, 4, 5, 6, 7, 2, 1]);
    assert_eq!(
        order(&|k| format!("{:012}", k.date.unwrap())),
        [7, 4, 5, 1, 2, 3, 6]
    );
}

#[test]
fn thread_formatting() {
    let leaf = |id| ThreadNode {
        id: Some(id),
        children: vec![],
    };
    let chain = ThreadNode {
        id: Some(3),
        children: vec![ThreadNode {
            id: Some(6),
            children: vec![leaf(4), leaf(44)],
        }],
    };
    assert_eq!(format_threads(&[leaf(2), chain]), "(2)(3 6 (4)(44))");
    assert_eq!(format_threads(&[]), "");
}

#[test]
fn a_very_long_reply_chain_does_not_overflow_the_stack() {
    let keys: Vec<SortKeys> = (0..50_000)
        .map(|i| SortKeys {
            message_id: Some(format!("<{i}@x>")),
            in_reply_to: (i > 0).then(|| format!("<{}@x>", i - 1)),
            date: Some(i),
            ..SortKeys::default()
        })
        .collect();
    let threads = thread_references(&inputs(&keys));
    assert_eq!(threads.len(), 1);
    let text = format_threads(&threads);
    assert!(text.starts_with("(1 2 3 "));
    assert!(text.ends_with(" 50000)"));
}
