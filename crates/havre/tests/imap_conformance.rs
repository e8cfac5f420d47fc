//! IMAP conformance seen by real clients (Python's imaplib, raw commands
//! through it) against the real binary: subscriptions, SEARCH and SORT on
//! addresses and dates, BINARY, mailbox names, CHECK.

use havre_testkit::Havre;
use havre_testkit::imap::{imaplib, lines_with};

fn node() -> Havre {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.start();
    node
}

fn imap(node: &Havre, script: &str) -> String {
    imaplib(node, script)
}

#[test]
fn create_does_not_subscribe_and_delete_does_not_unsubscribe() {
    let node = node();
    let out = imap(
        &node,
        r#"
m = connect()
other = connect()
print("create:", m.create("Projects")[0])
for l in raw(other, 'LSUB "" "*"'): print("lsub-after-create:", l)
print("subscribe:", m.subscribe("Projects")[0])
print("delete:", other.delete("Projects")[0])
for l in raw(m, 'LSUB "" "*"'): print("lsub-after-delete:", l)
for l in raw(m, 'LIST (SUBSCRIBED) "" "*"'): print("list-subscribed:", l)
for l in raw(m, 'LIST "" "*"'): print("list:", l)
print("unsubscribe:", other.unsubscribe("Projects")[0])
for l in raw(m, 'LSUB "" "*"'): print("lsub-after-unsubscribe:", l)
"#,
    );
    assert!(out.contains("create: OK"), "{out}");
    // A client's CREATE leaves the subscription list alone; the server's own
    // default folders were subscribed when it created them.
    let after_create = lines_with(&out, "lsub-after-create: * LSUB");
    assert!(
        after_create.iter().all(|l| !l.contains("Projects")),
        "{out}"
    );
    for default in ["INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive"] {
        assert!(
            after_create
                .iter()
                .any(|l| l.ends_with(&format!(" {default}"))),
            "{default} is not subscribed: {out}"
        );
    }
    assert!(out.contains("delete: OK"), "{out}");
    assert!(
        out.contains(r#"lsub-after-delete: * LSUB () "/" Projects"#),
        "{out}"
    );
    assert!(
        out.contains(r#"list-subscribed: * LIST (\NonExistent \Subscribed) "/" Projects"#),
        "{out}"
    );
    assert!(
        lines_with(&out, "list: * LIST")
            .iter()
            .all(|l| !l.contains("Projects")),
        "{out}"
    );
    assert!(out.contains("unsubscribe: OK"), "{out}");
    assert!(
        lines_with(&out, "lsub-after-unsubscribe: * LSUB")
            .iter()
            .all(|l| !l.contains("Projects")),
        "{out}"
    );
}

#[test]
fn lsub_percent_shows_noselect_parents_and_recursivematch_gives_childinfo() {
    let node = node();
    let out = imap(
        &node,
        r#"
m = connect()
print("create:", m.create("Lists/rust")[0])
print("subscribe:", m.subscribe("Lists/rust")[0])
for l in raw(m, 'LSUB "" "%"'): print("lsub:", l)
for l in raw(m, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"'): print("recursive:", l)
for l in raw(m, 'LIST (SUBSCRIBED) "" "%"'): print("plain:", l)
"#,
    );
    assert!(out.contains("subscribe: OK"), "{out}");
    assert!(
        out.contains(r#"lsub: * LSUB (\Noselect) "/" Lists"#),
        "{out}"
    );
    assert!(
        !out.contains(r#"lsub: * LSUB () "/" Lists/rust"#),
        "`%` does not reach the second level: {out}"
    );
    assert!(
        out.contains(r#"recursive: * LIST (\HasChildren) "/" Lists ("CHILDINFO" ("SUBSCRIBED"))"#),
        "{out}"
    );
    assert!(
        lines_with(&out, "plain: * LIST")
            .iter()
            .all(|l| !l.contains("Lists")),
        "{out}"
    );
}

/// Three messages whose Date day differs from their UTC day, an address
/// with comments, and a group.
const APPEND_THREE: &str = r#"
def append(m, text):
    typ, data = m.append("INBOX", None, None, text.replace("\n", "\r\n").encode())
    assert typ == "OK", data
m = connect()
append(m, "Date: Mon, 1 Jan 2024 23:30:00 -0500\nFrom: Alice (the boss) <alice(at home)@example.test>\nTo: zed@example.test\nSubject: one\n\nlate on the first\n")
append(m, "Date: Tue, 2 Jan 2024 00:30:00 +0900\nFrom: carol@example.test\nTo: undisclosed-recipients:;\nSubject: two\n\nearly on the second\n")
append(m, "Date: Wed, 3 Jan 2024 12:00:00 +0000\nFrom: bob@example.test\nTo: Team: amy@example.test;\nSubject: three\n\nnoon on the third\n")
m.select("INBOX")
"#;

#[test]
fn sent_dates_use_the_date_headers_own_day_and_address_keys_the_envelope() {
    let node = node();
    let out = imap(
        &node,
        &format!(
            "{APPEND_THREE}{}",
            r#"
for key in ["SENTON 1-Jan-2024", "SENTON 2-Jan-2024", "SENTBEFORE 2-Jan-2024",
            "SENTSINCE 2-Jan-2024", 'FROM "boss"', 'FROM "home"',
            'FROM "Alice <alice@example.test>"', 'TO "team"']:
    typ, data = m.search(None, key)
    print(key, "->", data[0].decode())
typ, data = m.sort("(TO)", "UTF-8", "ALL")
print("sort to ->", data[0].decode())
"#
        ),
    );
    let answer = |key: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{key} -> ")))
            .unwrap_or_else(|| panic!("no answer to {key}: {out}"))
            .to_string()
    };
    // 23:30 -0500 on the 1st is the 2nd in UTC, 00:30 +0900 on the 2nd is
    // the 1st in UTC: each is still sent on the day its header says.
    assert_eq!(answer("SENTON 1-Jan-2024"), "1", "{out}");
    assert_eq!(answer("SENTON 2-Jan-2024"), "2", "{out}");
    assert_eq!(answer("SENTBEFORE 2-Jan-2024"), "1", "{out}");
    assert_eq!(answer("SENTSINCE 2-Jan-2024"), "2 3", "{out}");
    // Comments are not part of the address ENVELOPE gives.
    assert_eq!(answer(r#"FROM "boss""#), "", "{out}");
    assert_eq!(answer(r#"FROM "home""#), "", "{out}");
    assert_eq!(answer(r#"FROM "Alice <alice@example.test>""#), "1", "{out}");
    assert_eq!(answer(r#"TO "team""#), "3", "{out}");
    // By the first To address's mailbox: TEAM (a group), UNDISCLOSED-RECIPIENTS
    // (a group without members), ZED.
    assert_eq!(answer("sort to"), "3 2 1", "{out}");
}

#[test]
fn a_mailbox_name_that_is_not_modified_utf7_gets_no_and_check_completes() {
    let node = node();
    let out = imap(
        &node,
        r#"
m = connect()
for l in raw(m, 'CREATE "&Jjo"'): print("create:", l)
for l in raw(m, 'SELECT "&-x&AGE"'): print("select:", l)
m.select("INBOX")
for l in raw(m, 'CHECK'): print("check:", l)
for l in raw(m, 'NOOP'): print("noop:", l)
"#,
    );
    let tagged = |prefix: &str| {
        out.lines()
            .rfind(|l| l.starts_with(prefix) && !l.contains(" * "))
            .unwrap_or_else(|| panic!("no {prefix}: {out}"))
            .to_string()
    };
    assert!(
        tagged("create:").ends_with(" NO Mailbox name is not valid modified UTF-7."),
        "{out}"
    );
    assert!(
        tagged("select:").ends_with(" NO Mailbox name is not valid modified UTF-7."),
        "{out}"
    );
    assert!(tagged("check:").ends_with(" OK CHECK completed."), "{out}");
    assert!(tagged("noop:").ends_with(" OK NOOP completed."), "{out}");
}
