//! The routing table (Postfix transport maps) and relay domains: mail for
//! a lab's domain accepted from the Internet and passed to the lab's
//! server, a user whose mail goes to another server, domains refused or
//! dropped by the table, and `havre route` saying why each time.

use havre_testkit::{Havre, SinkMode, SmtpSink};

fn node(configure: impl FnOnce(&mut Havre)) -> Havre {
    Havre::started(
        env!("CARGO_BIN_EXE_havre"),
        &["alice@example.test"],
        configure,
    )
}

/// An Internet client (not in relay.internal_networks) sends to `to` over
/// the mx; swaks' output.
fn from_the_internet(node: &Havre, to: &str) -> (bool, String) {
    node.send_to_mx(to)
}

/// Alice sends over submission (AUTH) to `to`.
fn from_alice(node: &Havre, to: &str) {
    node.submit(
        "alice@example.test",
        to,
        &["--header", "From: Alice <alice@example.test>"],
    );
}

#[test]
fn mail_for_a_labs_relay_domain_is_taken_from_the_internet_and_handed_to_the_labs_server() {
    let lab = SmtpSink::start(SinkMode::Accept);
    let node = node(|n| {
        n.set("relay.domains", "[\"lab.example.edu\"]");
        n.set(
            "routing.\"lab.example.edu\"",
            &format!("\"smtp:[127.0.0.1]:{}\"", lab.port),
        );
    });
    let (sent, text) = from_the_internet(&node, "bob@lab.example.edu");
    assert!(sent, "{text}");
    let received = lab.wait_for(1);
    assert_eq!(received.len(), 1, "{}", node.log());
    node.wait_for_empty_queue();

    // A domain that is neither ours nor relayed stays refused.
    let (sent, text) = from_the_internet(&node, "bob@elsewhere.test");
    assert!(!sent);
    assert!(text.contains("554 5.7.1"), "{text}");

    let why = node.cli_ok(&["route", "bob@lab.example.edu"]);
    assert_eq!(
        why,
        format!(
            "bob@lab.example.edu: accepted: lab.example.edu is a relay domain (relay.domains)\n  \
             bob@lab.example.edu -> smtp:[127.0.0.1]:{} (routing.\"lab.example.edu\")\n",
            lab.port
        )
    );
    let why = node.cli_ok(&["route", "bob@elsewhere.test"]);
    assert!(
        why.starts_with(
            "bob@elsewhere.test: not accepted: elsewhere.test is not a domain of this node"
        ),
        "{why}"
    );
    assert!(
        why.contains(
            "bob@elsewhere.test -> smtp: (no routing entry: the MX hosts of elsewhere.test)"
        ),
        "{why}"
    );
}

#[test]
fn a_relay_domain_with_a_recipient_list_refuses_an_unknown_recipient_at_rcpt() {
    let lab = SmtpSink::start(SinkMode::Accept);
    let node = node(|n| {
        n.set("relay.domains", "[\"lab.example.edu\"]");
        n.set("relay.recipients", "[\"bob@lab.example.edu\"]");
        n.set(
            "routing.\"lab.example.edu\"",
            &format!("\"smtp:[127.0.0.1]:{}\"", lab.port),
        );
    });
    let (sent, text) = from_the_internet(&node, "mallory@lab.example.edu");
    assert!(!sent);
    assert!(
        text.contains(
            "550 5.1.1 <mallory@lab.example.edu>: Recipient address rejected: User unknown in relay recipient table"
        ),
        "{text}"
    );
    let (sent, text) = from_the_internet(&node, "bob@lab.example.edu");
    assert!(sent, "{text}");
    assert_eq!(lab.wait_for(1).len(), 1, "{}", node.log());
    let why = node.cli_ok(&["route", "mallory@lab.example.edu"]);
    assert_eq!(
        why,
        "mallory@lab.example.edu: not accepted: refused at RCPT: 550 5.1.1 User unknown in relay \
         recipient table (relay.recipients)\n"
    );
}

#[test]
fn a_user_routed_to_another_server_gets_her_mail_there_not_in_her_maildir() {
    let lab = SmtpSink::start(SinkMode::Accept);
    let node = node(|n| {
        n.set(
            "routing.\"carol@example.test\"",
            &format!("\"smtp:[127.0.0.1]:{}\"", lab.port),
        );
        // A smarthost for the world never takes the node's own mail.
        n.set("routing.\"*\"", "\"smtp:[127.0.0.1]:9\"");
    });
    node.add_user("carol@example.test");
    let (sent, text) = from_the_internet(&node, "carol@example.test");
    assert!(sent, "{text}");
    let received = lab.wait_for(1);
    assert_eq!(received.len(), 1, "{}", node.log());
    node.wait_for_empty_queue();
    assert!(node.messages("carol@example.test").is_empty());
    // Alice's mail stays here, whatever `*` says.
    let (sent, text) = from_the_internet(&node, "alice@example.test");
    assert!(sent, "{text}");
    assert_eq!(node.wait_for_messages("alice@example.test", 1).len(), 1);

    let why = node.cli_ok(&["route", "carol@example.test"]);
    assert_eq!(
        why,
        format!(
            "carol@example.test: accepted: example.test is a domain of this node\n  \
             carol@example.test -> smtp:[127.0.0.1]:{} (routing.\"carol@example.test\")\n",
            lab.port
        )
    );
    let why = node.cli_ok(&["route", "alice@example.test"]);
    assert_eq!(
        why,
        "alice@example.test: accepted: example.test is a domain of this node\n  \
         alice@example.test -> local (a mailbox of this node)\n"
    );
}

#[test]
fn an_error_entry_bounces_with_its_words_and_a_discard_entry_drops_the_mail_as_sent() {
    let node = node(|n| {
        n.set(
            "routing.\"old.example.org\"",
            "\"error:5.1.1 This domain no longer receives mail\"",
        );
        n.set("routing.\"noreply@far.test\"", "\"discard\"");
    });
    from_alice(&node, "someone@old.example.org");
    let dsn = node.wait_for_messages("alice@example.test", 1);
    assert_eq!(dsn.len(), 1, "{}", node.log());
    assert!(dsn[0].contains("Status: 5.1.1"), "{}", dsn[0]);
    assert!(
        dsn[0].contains("This domain no longer receives mail"),
        "{}",
        dsn[0]
    );
    node.wait_for_empty_queue();

    from_alice(&node, "noreply@far.test");
    node.wait_for_log("to=<noreply@far.test>", 1);
    node.wait_for_empty_queue();
    let log = node.log();
    let line = log
        .lines()
        .find(|l| l.contains("to=<noreply@far.test>"))
        .unwrap();
    assert!(line.contains("status=sent (discarded)"), "{line}");
    // No bounce for the discarded one: still only the first DSN.
    assert_eq!(node.messages("alice@example.test").len(), 1);

    let why = node.cli_ok(&["route", "someone@old.example.org"]);
    assert!(
        why.ends_with(
            "  someone@old.example.org -> error:5.1.1 This domain no longer receives mail \
             (routing.\"old.example.org\": bounced)\n"
        ),
        "{why}"
    );
    let why = node.cli_ok(&["route", "noreply@far.test"]);
    assert!(
        why.ends_with("  noreply@far.test -> discard (routing.\"noreply@far.test\": dropped, logged as sent)\n"),
        "{why}"
    );
}

#[test]
fn a_routing_entry_that_does_not_parse_is_named_with_its_line() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.set("routing.\"lab.example.edu\"", "\"smtp:[10.1.2.3\"");
    let out = node.cli(&["config", "check"]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("routing.\"lab.example.edu\""), "{text}");
    assert!(text.contains("missing ']'"), "{text}");
}

#[test]
fn a_domain_alias_delivers_each_address_to_the_same_one_at_the_new_domain() {
    let node = node(|n| {
        n.set(
            "directory.domain_aliases.\"old.example\"",
            "\"example.test\"",
        );
        // A smarthost for the world never takes an alias domain's mail.
        n.set("routing.\"*\"", "\"smtp:[127.0.0.1]:9\"");
    });
    let (sent, text) = from_the_internet(&node, "Alice@Old.Example");
    assert!(sent, "{text}");
    assert_eq!(node.wait_for_messages("alice@example.test", 1).len(), 1);
    let (sent, text) = from_the_internet(&node, "nobody@old.example");
    assert!(!sent);
    assert!(text.contains("550 5.1.1"), "{text}");
    assert_eq!(
        node.cli_ok(&["route", "alice@old.example"]),
        "alice@old.example: accepted: old.example is a domain of this node; alias of \
         alice@example.test\n  alice@example.test -> local (a mailbox of this node)\n"
    );
}
