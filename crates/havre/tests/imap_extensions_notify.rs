//! IMAP that tells a client of changes it did not ask about, seen by real
//! clients (Python's imaplib, raw commands through it, smtplib for mail
//! arriving) against the real binary: NOTIFY (RFC 5465) and search
//! contexts, CONTEXT=SEARCH (RFC 5267). Every scenario has two sessions of
//! the same user: a "phone" that listens and a "laptop" that changes things.

use havre_testkit::imap::{IMAPLIB_PRELUDE, lines_with};
use havre_testkit::{Havre, python_ok};

fn node() -> Havre {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.start();
    node
}

/// What these scenarios add to `havre_testkit::imap::IMAPLIB_PRELUDE`:
/// reading what the server sends while no command runs.
const EXTRA: &str = r#"
import re, smtplib
def message(subject, flags=""):
    return ("From: bob@example.test\r\nTo: alice@example.test\r\nSubject: %s\r\n\r\nHello.\r\n" % subject).encode()
def line(m, seconds=20):
    # One response line, a literal's bytes kept inline.
    m.sock.settimeout(seconds)
    try:
        text = m._get_line().decode(errors="replace")
        literal = re.search(r"\{(\d+)\}$", text)
        if literal:
            text += m.read(int(literal.group(1))).decode(errors="replace") + line(m, seconds)
        return text
    finally:
        m.sock.settimeout(None)
def wait_for(m, prefix):
    # Every line up to the first that starts with prefix (unsolicited:
    # no command is running).
    seen = []
    while True:
        seen.append(line(m))
        if seen[-1].startswith(prefix):
            return seen
def deliver(subject):
    with smtplib.SMTP("127.0.0.1", int(sys.argv[2]), timeout=30) as s:
        s.sendmail("bob@remote.test", ["alice@example.test"], message(subject))
"#;

fn imap(node: &Havre, script: &str) -> String {
    python_ok(
        &format!("{IMAPLIB_PRELUDE}\n{EXTRA}\n{script}"),
        &[&node.imap_port.to_string(), &node.smtp_port.to_string()],
    )
}

fn has_capability(out: &str, capability: &str) -> bool {
    lines_with(out, "caps: * CAPABILITY")
        .iter()
        .any(|l| l.split(' ').any(|c| c == capability))
}

#[test]
fn a_phone_with_notify_on_inbox_and_sent_sees_a_status_for_sent_when_the_laptop_appends_there() {
    let node = node();
    let out = imap(
        &node,
        r#"
phone = connect(); laptop = connect()
print("caps:", raw(phone, "CAPABILITY")[0])
for l in raw(phone, "NOTIFY SET (mailboxes (INBOX Sent) (MessageNew MessageExpunge))"): print("notify:", l)
# Drafts is not watched: nothing about it comes before the news of Sent.
laptop.append("Drafts", None, None, message("a draft"))
laptop.append("Sent", None, None, message("to carol"))
for l in wait_for(phone, "* STATUS"): print("sent:", l)
# Mail arriving by SMTP while the phone waits between commands.
deliver("from bob")
for l in wait_for(phone, "* STATUS"): print("inbox:", l)
# A flag change is not asked for; the expunge after it is.
laptop.select("Sent")
laptop.store("1", "+FLAGS", "\\Deleted")
laptop.expunge()
for l in wait_for(phone, "* STATUS"): print("expunged:", l)
for l in raw(phone, "NOOP"): print("noop:", l)
"#,
    );
    assert!(has_capability(&out, "NOTIFY"), "{out}");
    assert!(
        lines_with(&out, "notify: ")
            .last()
            .is_some_and(|l| l.contains(" OK ")),
        "{out}"
    );
    assert_eq!(
        lines_with(&out, "sent: "),
        ["sent: * STATUS Sent (MESSAGES 1 UIDNEXT 2 UNSEEN 1)"],
        "{out}"
    );
    assert_eq!(
        lines_with(&out, "inbox: "),
        ["inbox: * STATUS INBOX (MESSAGES 1 UIDNEXT 2 UNSEEN 1)"],
        "{out}"
    );
    assert_eq!(
        lines_with(&out, "expunged: "),
        ["expunged: * STATUS Sent (MESSAGES 0 UIDNEXT 2 UNSEEN 0)"],
        "{out}"
    );
    assert_eq!(lines_with(&out, "noop: * ").len(), 0, "{out}");
}

#[test]
fn notify_set_status_reports_every_watched_mailbox_and_notify_none_stops_the_news() {
    let node = node();
    let out = imap(
        &node,
        r#"
phone = connect(); laptop = connect()
laptop.append("Sent", None, None, message("one"))
laptop.append("Sent", None, None, message("two"))
phone.select("INBOX")
for l in raw(phone, "NOTIFY SET STATUS (personal (MessageNew MessageExpunge))"): print("status:", l)
for l in raw(phone, "NOTIFY NONE"): print("none:", l)
laptop.append("Sent", None, None, message("three"))
# A later command carries nothing about Sent either.
laptop.create("Later")
for l in raw(phone, "NOOP"): print("noop:", l)
"#,
    );
    let status = lines_with(&out, "status: * STATUS ");
    // Every mailbox but the selected one (INBOX), with its UIDVALIDITY.
    let of = |name: &str| {
        status
            .iter()
            .find(|l| l.starts_with(&format!("status: * STATUS {name} (")))
            .map(|l| {
                let items: Vec<&str> = l
                    .split(['(', ')'])
                    .nth(1)
                    .unwrap_or("")
                    .split(' ')
                    .collect();
                [
                    items[0], items[1], items[2], items[3], items[4], items[6], items[7],
                ]
                .join(" ")
            })
            .unwrap_or_default()
    };
    assert_eq!(
        of("Sent"),
        "MESSAGES 2 UIDNEXT 3 UIDVALIDITY UNSEEN 2",
        "{out}"
    );
    assert_eq!(
        of("Drafts"),
        "MESSAGES 0 UIDNEXT 1 UIDVALIDITY UNSEEN 0",
        "{out}"
    );
    assert!(!status.iter().any(|l| l.contains(" INBOX ")), "{out}");
    assert!(
        lines_with(&out, "status: ")
            .last()
            .is_some_and(|l| l.contains(" OK ")),
        "{out}"
    );
    assert!(
        lines_with(&out, "none: ")
            .last()
            .is_some_and(|l| l.contains(" OK ")),
        "{out}"
    );
    assert_eq!(lines_with(&out, "noop: * ").len(), 0, "{out}");
}

#[test]
fn the_selected_mailbox_pushes_new_mail_with_its_fetch_attributes_flag_changes_and_expunges_without_idle()
 {
    let node = node();
    let out = imap(
        &node,
        r#"
phone = connect(); laptop = connect()
raw(phone, "ENABLE IMAP4rev2")
laptop.append("INBOX", None, None, message("old"))
phone.select("INBOX")
for l in raw(phone, "NOTIFY SET (selected (MessageNew (UID FLAGS BODY[HEADER.FIELDS (Subject)] RFC822.SIZE) MessageExpunge FlagChange))"): print("notify:", l)
laptop.append("INBOX", None, None, message("new one"))
for l in wait_for(phone, "* 2 FETCH"): print("new:", l)
laptop.select("INBOX")
laptop.store("1", "+FLAGS", "\\Flagged")
for l in wait_for(phone, "* 1 FETCH"): print("flag:", l)
laptop.store("1", "+FLAGS", "\\Deleted")
laptop.expunge()
for l in wait_for(phone, "* 1 EXPUNGE"): print("expunge:", l)
# The notification's BODY[] read nothing as seen.
for l in raw(phone, "FETCH 1 (FLAGS)"): print("flags:", l)
"#,
    );
    let new = lines_with(&out, "new: ");
    assert_eq!(new[0], "new: * 2 EXISTS", "{out}");
    assert!(
        new[1]
            .to_ascii_uppercase()
            .starts_with("NEW: * 2 FETCH (UID 2 FLAGS () BODY[HEADER.FIELDS (SUBJECT)] {")
            && new[1].contains("Subject: new one"),
        "{out}"
    );
    assert_eq!(
        lines_with(&out, "flag: "),
        ["flag: * 1 FETCH (UID 1 FLAGS (\\Flagged))"],
        "{out}"
    );
    assert_eq!(
        lines_with(&out, "expunge: ").last(),
        Some(&"expunge: * 1 EXPUNGE"),
        "{out}"
    );
    assert_eq!(
        lines_with(&out, "flags: * "),
        ["flags: * 1 FETCH (FLAGS ())"],
        "{out}"
    );
}

#[test]
fn selected_delayed_holds_expunges_back_until_the_client_sends_a_command() {
    let node = node();
    let out = imap(
        &node,
        r#"
phone = connect(); laptop = connect()
raw(phone, "ENABLE IMAP4rev2")
laptop.append("INBOX", None, None, message("doomed"))
phone.select("INBOX")
raw(phone, "NOTIFY SET (selected-delayed (MessageNew MessageExpunge))")
laptop.select("INBOX")
laptop.store("1", "+FLAGS", "\\Deleted")
laptop.expunge()
laptop.append("INBOX", None, None, message("after"))
# The new message comes at once; the expunge waits for a command.
for l in wait_for(phone, "* 2 EXISTS"): print("pushed:", l)
# FlagChange was not asked for: the flag waits for a command too.
laptop.uid("STORE", "2", "+FLAGS", "\\Flagged")
for l in raw(phone, "NOOP"): print("noop:", l)
"#,
    );
    assert_eq!(
        lines_with(&out, "pushed: "),
        ["pushed: * 2 EXISTS"],
        "{out}"
    );
    assert_eq!(
        lines_with(&out, "noop: * "),
        [
            "noop: * 1 EXPUNGE",
            "noop: * 1 FETCH (UID 2 FLAGS (\\Flagged))"
        ],
        "{out}"
    );
}

#[test]
fn a_client_watching_its_mailbox_names_hears_of_creates_renames_subscriptions_and_deletes() {
    let node = node();
    let out = imap(
        &node,
        r#"
phone = connect(); laptop = connect()
raw(phone, "ENABLE IMAP4rev2")
for l in raw(phone, "NOTIFY SET (personal (MailboxName SubscriptionChange))"): print("notify:", l)
laptop.create("Projects")
laptop.rename("Projects", "Work")
laptop.subscribe("Work")
laptop.unsubscribe("Work")
laptop.delete("Work")
for l in wait_for(phone, "* LIST (\\NonExistent)"): print("names:", l)
"#,
    );
    assert_eq!(
        lines_with(&out, "names: "),
        [
            "names: * LIST () \"/\" Projects",
            "names: * LIST () \"/\" Work (\"OLDNAME\" (Projects))",
            "names: * LIST (\\Subscribed) \"/\" Work",
            "names: * LIST () \"/\" Work",
            "names: * LIST (\\NonExistent) \"/\" Work",
        ],
        "{out}"
    );
}

#[test]
fn notify_refuses_unsupported_events_and_malformed_requests_and_reports_an_overflow() {
    let node = node();
    let out = imap(
        &node,
        r#"
phone = connect(); laptop = connect()
for l in raw(phone, "NOTIFY SET (personal (MessageNew MessageExpunge AnnotationChange))"): print("badevent:", l)
for l in raw(phone, "NOTIFY SET (personal (MessageNew))"): print("alone:", l)
names = " ".join("box%d" % i for i in range(101))
for l in raw(phone, "NOTIFY SET (mailboxes (%s) (MessageNew MessageExpunge))" % names): print("names:", l)
# The phone is busy (an APPEND waits for its literal) while the laptop
# makes more changes than the phone's channel keeps.
raw(phone, "NOTIFY SET (personal (SubscriptionChange))")
tag = phone._new_tag()
phone.send(tag + b" APPEND INBOX {5}\r\n")
print("continue:", line(phone))
for i in range(100):
    laptop.subscribe("Sent")
phone.send(b"hello\r\n")
for l in until(phone, tag): print("append:", l)
# NOTIFY is off now: nothing more comes until it is set again.
laptop.unsubscribe("Sent")
raw(phone, "NOTIFY SET (personal (SubscriptionChange))")
laptop.subscribe("Trash")
for l in wait_for(phone, "* LIST"): print("again:", l)
"#,
    );
    let badevent = lines_with(&out, "badevent: ");
    assert!(
        badevent[0].contains(
            " NO [BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)]"
        ),
        "{out}"
    );
    assert!(lines_with(&out, "alone: ")[0].contains(" BAD "), "{out}");
    assert!(
        lines_with(&out, "names: ")[0].contains(" NO [NOTIFICATIONOVERFLOW]"),
        "{out}"
    );
    let append = lines_with(&out, "append: ");
    assert!(
        append[0].starts_with("append: * OK [NOTIFICATIONOVERFLOW]"),
        "{out}"
    );
    assert!(
        append.last().is_some_and(|l| l.contains(" OK [APPENDUID ")),
        "{out}"
    );
    // Not the unsubscribe from when NOTIFY was off: only the new news.
    assert_eq!(
        lines_with(&out, "again: "),
        ["again: * LIST (\\Subscribed) \"/\" Trash"],
        "{out}"
    );
}

#[test]
fn a_search_kept_up_to_date_gets_addto_when_matching_mail_arrives_and_removefrom_when_it_goes() {
    let node = node();
    let out = imap(
        &node,
        r#"
phone = connect(); laptop = connect()
print("caps:", raw(phone, "CAPABILITY")[0])
raw(phone, "ENABLE IMAP4rev2")
laptop.append("INBOX", None, None, message("first"))
phone.select("INBOX")
lines = raw(phone, "UID SEARCH RETURN (UPDATE) UNSEEN")
for l in lines: print("search:", l)
tag = re.search(r'\(TAG "([^"]+)"\)', lines[0]).group(1)
# A matching message arrives by APPEND, a read one does not match.
laptop.append("INBOX", "(\\Seen)", None, message("read already"))
laptop.append("INBOX", None, None, message("unread"))
for l in raw(phone, "NOOP"): print("arrived:", l)
# By SMTP too: the relay delivers it soon after the 250.
deliver("by smtp")
for attempt in range(400):
    got = raw(phone, "NOOP")
    if any(" EXISTS" in l for l in got): break
    time.sleep(0.05)
for l in got: print("delivered:", l)
# Read on the laptop: it leaves the result.
laptop.select("INBOX")
laptop.store("1", "+FLAGS", "\\Seen")
for l in raw(phone, "NOOP"): print("read:", l)
# Expunged: it leaves the result before its EXPUNGE.
laptop.store("3", "+FLAGS", "\\Deleted")
laptop.expunge()
for l in raw(phone, "NOOP"): print("expunged:", l)
# This session's own STORE counts too.
for l in raw(phone, "UID STORE 4 +FLAGS (\\Seen)"): print("own:", l)
for l in raw(phone, 'CANCELUPDATE "%s"' % tag): print("cancel:", l)
laptop.append("INBOX", None, None, message("unnoticed"))
for l in raw(phone, "NOOP"): print("cancelled:", l)
for l in raw(phone, 'CANCELUPDATE "%s"' % tag): print("again:", l)
"#,
    );
    assert!(has_capability(&out, "CONTEXT=SEARCH"), "{out}");
    let tag = |l: &str| l.split('"').nth(1).unwrap_or_default().to_string();
    let search = lines_with(&out, "search: * ESEARCH");
    assert!(search[0].ends_with(" UID ALL 1"), "{out}");
    let t = tag(search[0]);
    let update = |what: &str| format!("* ESEARCH (TAG \"{t}\") UID {what}");
    assert_eq!(
        lines_with(&out, "arrived: * ESEARCH"),
        [format!("arrived: {}", update("ADDTO (0 3)"))],
        "{out}"
    );
    assert_eq!(
        lines_with(&out, "delivered: * ESEARCH"),
        [format!("delivered: {}", update("ADDTO (0 4)"))],
        "{out}"
    );
    assert_eq!(
        lines_with(&out, "read: * ESEARCH"),
        [format!("read: {}", update("REMOVEFROM (0 1)"))],
        "{out}"
    );
    let expunged = lines_with(&out, "expunged: * ");
    assert_eq!(
        expunged,
        [
            format!("expunged: {}", update("REMOVEFROM (0 3)")),
            "expunged: * 3 EXPUNGE".to_string()
        ],
        "{out}"
    );
    assert!(
        lines_with(&out, "own: * ESEARCH") == [format!("own: {}", update("REMOVEFROM (0 4)"))],
        "{out}"
    );
    assert!(lines_with(&out, "cancel: ")[0].contains(" OK "), "{out}");
    assert_eq!(lines_with(&out, "cancelled: * ESEARCH").len(), 0, "{out}");
    assert!(lines_with(&out, "again: ")[0].contains(" NO "), "{out}");
}

#[test]
fn a_search_by_sequence_number_is_updated_in_sequence_numbers_and_some_searches_are_not_kept() {
    let node = node();
    let out = imap(
        &node,
        r#"
phone = connect(); laptop = connect()
raw(phone, "ENABLE IMAP4rev2")
for s in ["a", "b", "c"]:
    laptop.append("INBOX", None, None, message(s))
phone.select("INBOX")
for l in raw(phone, "SEARCH RETURN (COUNT UPDATE) SUBJECT b"): print("search:", l)
for l in raw(phone, "SEARCH RETURN (UPDATE) 1:2"): print("numbers:", l)
for l in raw(phone, "SORT RETURN (UPDATE) (SUBJECT) UTF-8 ALL"): print("sort:", l)
laptop.select("INBOX")
laptop.store("1:2", "+FLAGS", "\\Deleted")
laptop.expunge()
laptop.append("INBOX", None, None, message("b again"))
# Removals are numbered as the client numbers messages before the
# EXPUNGEs, additions as after them.
for l in raw(phone, "NOOP"): print("noop:", l)
"#,
    );
    let search = lines_with(&out, "search: * ESEARCH");
    assert!(search[0].ends_with(" COUNT 1"), "{out}");
    assert!(
        lines_with(&out, "numbers: * NO [NOUPDATE ").len() == 1
            && lines_with(&out, "numbers: * ESEARCH")[0].ends_with(" ALL 1:2"),
        "{out}"
    );
    assert_eq!(lines_with(&out, "sort: * NO [NOUPDATE ").len(), 1, "{out}");
    let t = search[0].split('"').nth(1).unwrap_or_default();
    assert_eq!(
        lines_with(&out, "noop: * "),
        [
            format!("noop: * ESEARCH (TAG \"{t}\") REMOVEFROM (0 2)"),
            "noop: * 2 EXPUNGE".to_string(),
            "noop: * 1 EXPUNGE".to_string(),
            "noop: * 2 EXISTS".to_string(),
            format!("noop: * ESEARCH (TAG \"{t}\") ADDTO (0 2)"),
        ],
        "{out}"
    );
}
