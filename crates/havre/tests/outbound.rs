//! Mail to the world: routes, MX lookup on the test's own DNS, retries, bounces
//! with the remote's reply, expiry, and DKIM signatures a verifier accepts.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use havre_testkit::dns::TestDns;
use havre_testkit::{Havre, SinkMode, SmtpSink, free_port, python_ok, swaks};
use mail_auth::hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use mail_auth::{AuthenticatedMessage, DkimResult, MessageAuthenticator};

fn node(configure: impl FnOnce(&mut Havre)) -> Havre {
    Havre::started(
        env!("CARGO_BIN_EXE_havre"),
        &["alice@example.test"],
        configure,
    )
}

/// Alice sends over submission (465, AUTH) to `to`.
fn send_as_alice(node: &Havre, to: &str, subject: &str) {
    node.submit(
        "alice@example.test",
        to,
        &[
            "--header",
            "From: Alice <alice@example.test>",
            "--header",
            &format!("Subject: {subject}"),
        ],
    );
}

fn route(node: &mut Havre, domain: &str, value: &str) {
    node.set(&format!("relay.routes.\"{domain}\""), value);
}

#[tokio::test(flavor = "multi_thread")]
async fn mail_along_a_route_arrives_dkim_signed_and_verifies_with_the_published_key() {
    let sink = SmtpSink::start(SinkMode::Accept);
    let node = node(|n| route(n, "far.test", &format!("smtp:[127.0.0.1]:{}", sink.port)));
    send_as_alice(&node, "bob@far.test", "signed");
    let received = tokio::task::spawn_blocking(move || (sink.wait_for(1), sink))
        .await
        .unwrap();
    let (messages, _sink) = received;
    assert_eq!(messages.len(), 1, "{}", node.log());
    let message = &messages[0];
    assert!(message.starts_with("DKIM-Signature: "), "{message}");
    assert!(message.contains("d=example.test"), "{message}");

    assert_eq!(
        dkim_results(&node, message).await,
        [DkimResult::Pass],
        "{message}"
    );
    let node = tokio::task::spawn_blocking(move || {
        node.wait_for_empty_queue();
        node
    })
    .await
    .unwrap();
    let log = node.log();
    assert!(
        log.contains("to=<bob@far.test>, relay=") && log.contains("status=sent"),
        "{log}"
    );
}

/// The DKIM results of `message` against the keys `node` publishes (its
/// `dns records`, served by a loopback DNS server).
async fn dkim_results(node: &Havre, message: &str) -> Vec<DkimResult> {
    let zone = node.cli_ok(&["dns", "records", "example.test"]);
    let dns = TestDns::start("example.test", &zone).await.unwrap();
    let mut connection = ConnectionConfig::udp();
    connection.port = dns.addr().port();
    let ns = NameServerConfig::new(dns.addr().ip(), true, vec![connection]);
    let mut opts = ResolverOpts::default();
    opts.use_hosts_file = ResolveHosts::Never;
    opts.timeout = Duration::from_secs(2);
    let auth = MessageAuthenticator::new(ResolverConfig::from_parts(None, vec![], vec![ns]), opts)
        .unwrap();
    let parsed = AuthenticatedMessage::parse(message.as_bytes()).unwrap();
    auth.verify_dkim(&parsed)
        .await
        .into_iter()
        .map(|o| o.result().clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_with_a_bare_cr_leaves_signed_over_the_bytes_actually_sent() {
    let sink = SmtpSink::start(SinkMode::Accept);
    let node = node(|n| route(n, "far.test", &format!("smtp:[127.0.0.1]:{}", sink.port)));
    // smtplib sends bytes as they are: the body's bare CR reaches the spool,
    // and the wire turns it into CRLF; the signature must be over that.
    python_ok(
        r#"
import smtplib, ssl, sys
port = int(sys.argv[1])
ctx = ssl._create_unverified_context()
s = smtplib.SMTP_SSL("127.0.0.1", port, context=ctx)
s.login("alice@example.test", "secret")
msg = (b"From: Alice <alice@example.test>\r\nTo: bob@far.test\r\nSubject: cr\r\n"
       b"Message-ID: <cr@example.test>\r\n\r\nline1\rline2\r\nline3\r\n")
s.sendmail("alice@example.test", ["bob@far.test"], msg)
s.quit()
"#,
        &[&node.submissions_port.to_string()],
    );
    let (messages, _sink) = tokio::task::spawn_blocking(move || (sink.wait_for(1), sink))
        .await
        .unwrap();
    let message = &messages[0];
    assert!(message.starts_with("DKIM-Signature: "), "{message}");
    assert!(message.contains("line1\r\nline2"), "{message:?}");
    assert_eq!(
        dkim_results(&node, message).await,
        [DkimResult::Pass],
        "{message:?}"
    );
}

/// Names seen in `dir` from now until the returned flag is set, polled
/// every millisecond.
fn watch_names(
    dir: std::path::PathBuf,
) -> (Arc<AtomicBool>, std::thread::JoinHandle<BTreeSet<String>>) {
    let stop = Arc::new(AtomicBool::new(false));
    let watching = stop.clone();
    let watcher = std::thread::spawn(move || {
        let mut seen = BTreeSet::new();
        while !watching.load(Ordering::Relaxed) {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                seen.insert(entry.file_name().to_string_lossy().into_owned());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        seen
    });
    (stop, watcher)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_5_mb_message_leaves_signed_with_no_signed_copy_beside_its_spool_file() {
    let sink = SmtpSink::start(SinkMode::Accept);
    let node = node(|n| route(n, "far.test", &format!("smtp:[127.0.0.1]:{}", sink.port)));
    let (stop, watcher) = watch_names(node.data_dir().join("queue/msg"));
    python_ok(
        r#"
import smtplib, ssl, sys
port = int(sys.argv[1])
ctx = ssl._create_unverified_context()
s = smtplib.SMTP_SSL("127.0.0.1", port, context=ctx)
s.login("alice@example.test", "secret")
line = b"0123456789" * 7 + b"abcdefgh\r\n"
msg = (b"From: Alice <alice@example.test>\r\nTo: bob@far.test\r\nSubject: big\r\n"
       b"Message-ID: <big@example.test>\r\n\r\n" + line * (5 * 1024 * 1024 // len(line)))
s.sendmail("alice@example.test", ["bob@far.test"], msg)
s.quit()
"#,
        &[&node.submissions_port.to_string()],
    );
    let (messages, sink, node) = tokio::task::spawn_blocking(move || {
        let messages = sink.wait_for(1);
        node.wait_for_empty_queue();
        (messages, sink, node)
    })
    .await
    .unwrap();
    stop.store(true, Ordering::Relaxed);
    let seen = watcher.join().unwrap();
    // The queued message itself, and nothing else: no signed copy.
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen.iter()
            .all(|name| name.chars().all(|c| c.is_ascii_hexdigit())),
        "{seen:?}"
    );
    let message = &messages[0];
    assert!(message.len() > 5 * 1024 * 1024, "{}", message.len());
    assert!(
        message.starts_with("DKIM-Signature: "),
        "{}",
        &message[..200]
    );
    assert_eq!(
        dkim_results(&node, message).await,
        [DkimResult::Pass],
        "{}",
        &message[..2000]
    );
    drop(sink);
}

#[tokio::test(flavor = "multi_thread")]
async fn mx_lookup_skips_a_first_mx_that_refuses_connections() {
    let sink = SmtpSink::start(SinkMode::Accept);
    // mx1 is an address where nothing listens; mx2 is the sink.
    let zone = "@ IN MX 10 mx1.far.test.\n@ IN MX 20 mx2.far.test.\nmx1 IN A 127.0.0.2\nmx2 IN A 127.0.0.1\n";
    let dns = TestDns::start("far.test", zone).await.unwrap();
    let dns_addr = dns.addr();
    let port = sink.port;
    let node = tokio::task::spawn_blocking(move || {
        node(|n| {
            n.set("dns.nameservers", &format!("[\"{dns_addr}\"]"));
            // "smtp:far.test:PORT" still looks up the MX of far.test; only the port is the sink's.
            route(n, "far.test", &format!("smtp:far.test:{port}"));
        })
    })
    .await
    .unwrap();
    send_as_alice(&node, "bob@far.test", "by mx");
    let (messages, _sink) = tokio::task::spawn_blocking(move || (sink.wait_for(1), sink))
        .await
        .unwrap();
    assert_eq!(messages.len(), 1, "{}", node.log());
    // The relay logs once the attempt is recorded, after the remote said 250.
    let node = tokio::task::spawn_blocking(move || {
        node.wait_for_empty_queue();
        node
    })
    .await
    .unwrap();
    assert!(node.log().contains("relay=mx2.far.test"), "{}", node.log());
    drop(dns);
}

#[test]
fn a_remote_that_answers_451_then_250_gets_the_message_on_retry() {
    let sink = SmtpSink::start(SinkMode::DeferOnce);
    let node = node(|n| route(n, "far.test", &format!("smtp:[127.0.0.1]:{}", sink.port)));
    send_as_alice(&node, "bob@far.test", "retried");
    let messages = sink.wait_for(1);
    assert_eq!(messages.len(), 1, "{}", node.log());
    node.wait_for_empty_queue();
    let log = node.log();
    assert!(
        log.contains("status=deferred") && log.contains("451 4.3.0"),
        "{log}"
    );
    assert!(log.contains("status=sent"), "{log}");
}

#[test]
fn a_remote_550_bounces_to_the_sender_with_the_remote_reply() {
    let sink = SmtpSink::start(SinkMode::Reject);
    let node = node(|n| route(n, "far.test", &format!("smtp:[127.0.0.1]:{}", sink.port)));
    send_as_alice(&node, "nobody@far.test", "will bounce");
    let dsn = node.wait_for_messages("alice@example.test", 1);
    assert_eq!(dsn.len(), 1, "{}", node.log());
    let dsn = &dsn[0];
    assert!(
        dsn.contains("Subject: Undelivered Mail Returned to Sender"),
        "{dsn}"
    );
    assert!(
        dsn.contains("Final-Recipient: rfc822; nobody@far.test"),
        "{dsn}"
    );
    assert!(dsn.contains("Status: 5.1.1"), "{dsn}");
    assert!(
        dsn.contains("no such user here"),
        "the remote's reply: {dsn}"
    );
    // The address once from us, then the remote's own words.
    assert!(
        dsn.contains(
            "<nobody@far.test>: host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <nobody@far.test>: "
        ),
        "{dsn}"
    );
    assert!(dsn.contains("Subject: will bounce"), "{dsn}");
    node.wait_for_empty_queue();
}

#[test]
fn a_message_that_cannot_leave_before_it_expires_is_returned() {
    let dead = free_port();
    let node = node(|n| {
        route(n, "far.test", &format!("smtp:[127.0.0.1]:{dead}"));
        n.set("queue.max_lifetime", "\"3s\"");
    });
    send_as_alice(&node, "bob@far.test", "too late");
    let dsn = node.wait_for_messages("alice@example.test", 1);
    assert_eq!(dsn.len(), 1, "{}", node.log());
    assert!(
        dsn[0].contains("Final-Recipient: rfc822; bob@far.test"),
        "{}",
        dsn[0]
    );
    assert!(dsn[0].contains("expired"), "{}", dsn[0]);
    node.wait_for_empty_queue();
    assert!(node.log().contains("status=expired"), "{}", node.log());
}

#[test]
fn a_sender_is_warned_once_when_mail_is_delayed() {
    let dead = free_port();
    let node = node(|n| {
        route(n, "far.test", &format!("smtp:[127.0.0.1]:{dead}"));
        n.set("queue.delay_warning", "\"1s\"");
    });
    send_as_alice(&node, "bob@far.test", "slow");
    let warnings = node.wait_for_messages("alice@example.test", 1);
    assert_eq!(warnings.len(), 1, "{}", node.log());
    assert!(
        warnings[0].contains("Subject: Delayed Mail (still being retried)"),
        "{}",
        warnings[0]
    );
    assert!(warnings[0].contains("Action: delayed"), "{}", warnings[0]);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        node.messages("alice@example.test").len(),
        1,
        "warned once only"
    );
    assert!(
        node.cli_ok(&["queue", "list"]).contains("bob@far.test"),
        "still queued"
    );
    // Postfix's words: a warning is not a non-delivery notice.
    let log = node.log();
    assert!(log.contains("havre/bounce["), "{log}");
    assert!(log.contains(": sender delay notification: "), "{log}");
    assert!(!log.contains("non-delivery notification"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn mail_to_a_domain_that_does_not_exist_bounces_with_5_1_2_naming_the_address_once() {
    let dns = TestDns::start("far.test", "www IN A 127.0.0.1\n")
        .await
        .unwrap();
    let dns_addr = dns.addr();
    let node = tokio::task::spawn_blocking(move || {
        let node = node(|n| n.set("dns.nameservers", &format!("[\"{dns_addr}\"]")));
        send_as_alice(&node, "bob@nowhere.far.test", "lost");
        node
    })
    .await
    .unwrap();
    let dsn = node.wait_for_messages("alice@example.test", 1);
    assert_eq!(dsn.len(), 1, "{}", node.log());
    let dsn = &dsn[0];
    assert!(dsn.contains("Status: 5.1.2"), "{dsn}");
    assert!(
        dsn.contains(
            "<bob@nowhere.far.test>: Host or domain name not found. Name service error \
             for name=nowhere.far.test type=MX: Host not found"
        ),
        "{dsn}"
    );
    let human = dsn
        .split("Content-Type: message/delivery-status")
        .next()
        .unwrap();
    assert_eq!(human.matches("bob@nowhere.far.test").count(), 1, "{human}");
    assert!(
        node.log()
            .contains("to=<bob@nowhere.far.test>, relay=none, delay="),
        "{}",
        node.log()
    );
    assert!(
        node.log()
            .contains(", dsn=5.1.2, status=bounced (Host or domain name not found.")
    );
    drop(dns);
}

#[test]
fn messages_to_one_destination_share_a_connection_within_its_concurrency_limit() {
    let sink = SmtpSink::start(SinkMode::Accept);
    let node = node(|n| {
        route(n, "far.test", &format!("smtp:[127.0.0.1]:{}", sink.port));
        n.set("queue.destination_concurrency", "1");
        // The injecting client is an internal application: it may relay.
        n.set("relay.internal_networks", "[\"127.0.0.0/8\"]");
    });
    havre_testkit::python_ok(
        r#"
import smtplib, sys
with smtplib.SMTP("127.0.0.1", int(sys.argv[1])) as s:
    for i in range(5):
        s.sendmail("alice@example.test", ["bob@far.test"], f"From: alice@example.test\r\nSubject: {i}\r\n\r\nx\r\n")
"#,
        &[&node.smtp_port.to_string()],
    );
    assert_eq!(sink.wait_for(5).len(), 5, "{}", node.log());
    assert!(
        sink.connections() < 5,
        "{} connections for 5 messages",
        sink.connections()
    );
}

#[test]
fn an_alias_forwarding_to_two_remote_addresses_never_resends_the_one_that_succeeded() {
    let sink = SmtpSink::start(SinkMode::Accept);
    let dead = free_port();
    let node = node(|n| {
        route(n, "far.test", &format!("smtp:[127.0.0.1]:{}", sink.port));
        route(n, "down.test", &format!("smtp:[127.0.0.1]:{dead}"));
        n.cli_ok(&[
            "alias",
            "add",
            "both@example.test",
            "bob@far.test",
            "carol@down.test",
        ]);
    });
    let out = swaks(&[
        "--server",
        &node.smtp_addr(),
        "--from",
        "x@remote.test",
        "--to",
        "both@example.test",
    ]);
    assert!(out.status.success());
    assert_eq!(sink.wait_for(1).len(), 1);
    // Several retries of the deferred address later (retry_min is 1 s in tests)...
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        sink.messages().len(),
        1,
        "bob got the message again: {}",
        node.log()
    );
    let show = node.cli_ok(&["queue", "list"]);
    assert!(
        show.contains("carol@down.test") && !show.contains("bob@far.test"),
        "{show}"
    );
    assert!(
        node.log()
            .contains("to=<bob@far.test>, orig_to=<both@example.test>,"),
        "{}",
        node.log()
    );
}
