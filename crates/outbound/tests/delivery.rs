//! Deliveries against scripted servers on 127.0.0.1, with MX records from a
//! loopback test DNS server. No Internet.

mod scripted;

use std::path::PathBuf;
use std::time::Duration;

use havre_outbound::{
    ClientSettings, Envelope, RecipientResult, Resolver, Route, Timeouts, TlsPolicy, deliver,
    deliver_reusing, parse_route,
};
use havre_testkit::dns::TestDns;
use scripted::{Script, Server};
use tempfile::TempDir;

const MESSAGE: &[u8] =
    b"From: a@sender.test\r\nTo: b@example.test\r\nSubject: hi\r\n\r\nHello.\r\n";

struct Fixture {
    _dir: TempDir,
    path: PathBuf,
    size: u64,
}

fn message(body: &[u8]) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("4XyZ");
    std::fs::write(&path, body).unwrap();
    Fixture {
        _dir: dir,
        path,
        size: body.len() as u64,
    }
}

fn settings() -> ClientSettings {
    let mut settings = ClientSettings::new("relay.sender.test");
    settings.timeouts = Timeouts::all(Duration::from_secs(5));
    settings
}

fn recipients(list: &[&str]) -> Vec<String> {
    list.iter().map(|r| r.to_string()).collect()
}

fn envelope<'a>(recipients: &'a [String], fixture: &Fixture) -> Envelope<'a> {
    Envelope {
        sender: "a@sender.test",
        recipients,
        size: fixture.size,
        smtputf8: false,
        eight_bit: false,
    }
}

/// A resolver that must not be asked (routes to bracketed addresses).
fn no_dns() -> Resolver {
    Resolver::new(&["127.0.0.1:9".parse().unwrap()]).unwrap()
}

fn direct(server: &Server) -> Route {
    parse_route(&format!("smtp:[127.0.0.1]:{}", server.port())).unwrap()
}

async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("the test took too long")
}

#[tokio::test]
async fn delivery_by_mx_lookup_skips_a_first_mx_that_refuses_connections() {
    let server = Server::start(Script::smtp()).await;
    // mx1 (preferred) is 127.0.0.2, where nobody listens on that port.
    let dns = TestDns::start(
        "example.test.",
        "@ IN MX 10 mx1\n@ IN MX 20 mx2\nmx1 IN A 127.0.0.2\nmx2 IN A 127.0.0.1\n",
    )
    .await
    .unwrap();
    let resolver = Resolver::new(&[dns.addr()]).unwrap();
    let hosts = resolver.mail_hosts("example.test").await.unwrap();
    assert_eq!(
        hosts.iter().map(|h| h.name.as_str()).collect::<Vec<_>>(),
        ["mx1.example.test", "mx2.example.test"]
    );

    let mut settings = settings();
    settings.smtp_port = server.port();
    let fixture = message(MESSAGE);
    let rcpts = recipients(&["b@example.test"]);
    let results = within(deliver(
        &Route::Mx,
        "example.test",
        &resolver,
        &settings,
        &envelope(&rcpts, &fixture),
        &fixture.path,
    ))
    .await;

    let [RecipientResult::Delivered(detail)] = &results[..] else {
        panic!("{results:?}")
    };
    assert_eq!(detail.reply, "250 2.0.0 Ok: queued as 4XyZ");
    assert_eq!(detail.status, "2.0.0");
    assert_eq!(detail.remote_mta.as_deref(), Some("mx2.example.test"));
    assert_eq!(server.log().messages, [MESSAGE.to_vec()]);
}

#[tokio::test]
async fn when_every_mx_fails_temporarily_all_recipients_get_the_last_error() {
    // A 4xx greeting on one host, a refused connection on the other.
    let busy = Server::start(Script {
        greeting: "421 4.3.2 busy.test Service not available".into(),
        ..Script::smtp()
    })
    .await;
    let dns = TestDns::start(
        "example.test.",
        "@ IN MX 10 mx1\n@ IN MX 20 mx2\nmx1 IN A 127.0.0.1\nmx2 IN A 127.0.0.2\n",
    )
    .await
    .unwrap();
    let resolver = Resolver::new(&[dns.addr()]).unwrap();
    let mut settings = settings();
    settings.smtp_port = busy.port();
    let fixture = message(MESSAGE);
    let rcpts = recipients(&["b@example.test", "c@example.test"]);
    let results = within(deliver(
        &Route::Mx,
        "example.test",
        &resolver,
        &settings,
        &envelope(&rcpts, &fixture),
        &fixture.path,
    ))
    .await;
    assert_eq!(results.len(), 2);
    for result in &results {
        let RecipientResult::TempFail(detail) = result else {
            panic!("{results:?}")
        };
        assert!(
            detail
                .reply
                .starts_with("connect to mx2.example.test[127.0.0.2]:"),
            "{}",
            detail.reply
        );
        assert!(
            detail.reply.ends_with("Connection refused"),
            "{}",
            detail.reply
        );
        assert_eq!(detail.status, "4.4.1");
    }
    assert_eq!(busy.log().connections, 1);
}

#[tokio::test]
async fn a_451_at_rcpt_is_a_temporary_failure_for_that_recipient_only() {
    let server = Server::start(Script::smtp().rcpt(|address| {
        if address.starts_with("grey") {
            "451 4.7.1 <grey@example.test>: Recipient address rejected: greylisted".into()
        } else {
            "250 2.1.5 Ok".into()
        }
    }))
    .await;
    let fixture = message(MESSAGE);
    let rcpts = recipients(&["a@example.test", "grey@example.test", "c@example.test"]);
    let results = within(deliver(
        &direct(&server),
        "example.test",
        &no_dns(),
        &settings(),
        &envelope(&rcpts, &fixture),
        &fixture.path,
    ))
    .await;
    assert!(results[0].is_delivered(), "{results:?}");
    assert!(results[2].is_delivered(), "{results:?}");
    let RecipientResult::TempFail(detail) = &results[1] else {
        panic!("{results:?}")
    };
    assert_eq!(
        detail.reply,
        "host 127.0.0.1[127.0.0.1] said: 451 4.7.1 <grey@example.test>: Recipient address \
         rejected: greylisted (in reply to RCPT TO command)"
    );
    assert_eq!(detail.status, "4.7.1");
    assert_eq!(
        detail.diagnostic.as_deref(),
        Some("451 4.7.1 <grey@example.test>: Recipient address rejected: greylisted")
    );
    // PIPELINING: MAIL and the three RCPT went in one write; one message.
    let log = server.log();
    assert_eq!(log.messages.len(), 1);
    assert_eq!(
        log.verbs()[1..6],
        ["MAIL", "RCPT", "RCPT", "RCPT", "DATA"].map(String::from)
    );
}

#[tokio::test]
async fn a_550_at_rcpt_is_permanent_for_that_recipient_others_still_delivered() {
    // No PIPELINING: one command at a time.
    let server = Server::start(
        Script::smtp()
            .capabilities(&["SIZE 1000000"])
            .rcpt(|address| {
                if address.starts_with("nobody") {
                    format!("550 5.1.1 <{address}>: Recipient address rejected: User unknown")
                } else {
                    "250 2.1.5 Ok".into()
                }
            }),
    )
    .await;
    let fixture = message(MESSAGE);
    let rcpts = recipients(&["nobody@example.test", "b@example.test"]);
    let results = within(deliver(
        &direct(&server),
        "example.test",
        &no_dns(),
        &settings(),
        &envelope(&rcpts, &fixture),
        &fixture.path,
    ))
    .await;
    let RecipientResult::PermFail(detail) = &results[0] else {
        panic!("{results:?}")
    };
    assert_eq!(detail.status, "5.1.1");
    assert!(
        detail
            .reply
            .contains("User unknown (in reply to RCPT TO command)")
    );
    assert!(results[1].is_delivered(), "{results:?}");
    let log = server.log();
    assert!(
        log.commands
            .iter()
            .any(|(_, c)| c == &format!("MAIL FROM:<a@sender.test> SIZE={}", fixture.size)),
        "{:?}",
        log.commands
    );
}

#[tokio::test]
async fn starttls_is_used_when_offered() {
    let server = Server::start(Script::smtp().with_tls()).await;
    let fixture = message(MESSAGE);
    let rcpts = recipients(&["b@example.test"]);
    let (results, connection) = within(deliver_reusing(
        None,
        &direct(&server),
        "example.test",
        &no_dns(),
        &settings(),
        &envelope(&rcpts, &fixture),
        &fixture.path,
    ))
    .await;
    assert!(results[0].is_delivered(), "{results:?}");
    let connection = connection.expect("a usable session");
    let tls = connection.tls().expect("the session is encrypted");
    assert!(tls.starts_with("TLSv1.3 with cipher"), "{tls}");
    connection.quit().await;

    let log = server.log();
    let plain: Vec<&str> = log
        .commands
        .iter()
        .filter(|(tls, _)| !tls)
        .map(|(_, c)| c.as_str())
        .collect();
    assert_eq!(plain, ["EHLO relay.sender.test", "STARTTLS"]);
    let encrypted = log.verbs()[2..].to_vec();
    assert_eq!(encrypted[..3], ["EHLO", "MAIL", "RCPT"].map(String::from));
    assert_eq!(log.messages, [MESSAGE.to_vec()]);
}

#[tokio::test]
async fn tls_policy_none_never_sends_starttls() {
    let server = Server::start(Script::smtp().with_tls()).await;
    let fixture = message(MESSAGE);
    let rcpts = recipients(&["b@example.test"]);
    let mut settings = settings();
    settings.tls = TlsPolicy::None;
    let results = within(deliver(
        &direct(&server),
        "example.test",
        &no_dns(),
        &settings,
        &envelope(&rcpts, &fixture),
        &fixture.path,
    ))
    .await;
    assert!(results[0].is_delivered(), "{results:?}");
    assert!(!server.log().verbs().contains(&"STARTTLS".to_owned()));
}

#[tokio::test]
async fn a_failed_tls_handshake_is_retried_in_clear_on_the_same_host() {
    let server = Server::start(Script {
        broken_tls: true,
        ..Script::smtp().capabilities(&["PIPELINING", "STARTTLS"])
    })
    .await;
    let fixture = message(MESSAGE);
    let rcpts = recipients(&["b@example.test"]);
    let results = within(deliver(
        &direct(&server),
        "example.test",
        &no_dns(),
        &settings(),
        &envelope(&rcpts, &fixture),
        &fixture.path,
    ))
    .await;
    assert!(results[0].is_delivered(), "{results:?}");
    let log = server.log();
    assert_eq!(log.connections, 2);
    assert_eq!(
        log.verbs().iter().filter(|v| *v == "STARTTLS").count(),
        1,
        "{:?}",
        log.commands
    );
}

#[tokio::test]
async fn a_null_mx_is_a_permanent_failure() {
    let dns = TestDns::start("example.test.", "@ IN MX 0 .\n")
        .await
        .unwrap();
    let resolver = Resolver::new(&[dns.addr()]).unwrap();
    let fixture = message(MESSAGE);
    let rcpts = recipients(&["b@example.test", "c@example.test"]);
    let results = within(deliver(
        &Route::Mx,
        "example.test",
        &resolver,
        &settings(),
        &envelope(&rcpts, &fixture),
        &fixture.path,
    ))
    .await;
    for result in &results {
        let RecipientResult::PermFail(detail) = result else {
            panic!("{results:?}")
        };
        assert_eq!(detail.status, "5.1.10");
        assert_eq!(
            detail.reply,
            "Domain example.test does not accept mail (nullMX)"
        );
    }
}

/// Delivers one message to `b@<domain>` by MX with the given zone for
/// example.test, and returns the failure's detail.
async fn permanent_failure_for(domain: &str, zone: &str) -> havre_outbound::Detail {
    let dns = TestDns::start("example.test.", zone).await.unwrap();
    let resolver = Resolver::new(&[dns.addr()]).unwrap();
    let fixture = message(MESSAGE);
    let address = format!("b@{domain}");
    let rcpts = recipients(&[address.as_str()]);
    let results = within(deliver(
        &Route::Mx,
        domain,
        &resolver,
        &settings(),
        &envelope(&rcpts, &fixture),
        &fixture.path,
    ))
    .await;
    let RecipientResult::PermFail(detail) = &results[0] else {
        panic!("{results:?}")
    };
    detail.clone()
}

#[tokio::test]
async fn a_domain_that_does_not_exist_fails_for_good_with_status_5_1_2() {
    let detail = permanent_failure_for("nowhere.example.test", "www IN A 127.0.0.1\n").await;
    assert_eq!(detail.status, "5.1.2");
    assert!(
        detail
            .reply
            .contains("name=nowhere.example.test type=MX: Host not found"),
        "{}",
        detail.reply
    );
}

#[tokio::test]
async fn a_domain_with_neither_mx_nor_address_fails_with_status_5_1_2() {
    let detail = permanent_failure_for("txt.example.test", "txt IN TXT \"no mail\"\n").await;
    assert_eq!(detail.status, "5.1.2", "{}", detail.reply);
}

#[tokio::test]
async fn an_mx_host_that_does_not_exist_is_a_routing_failure_5_4_4() {
    let detail =
        permanent_failure_for("far.example.test", "far IN MX 10 ghost.example.test.\n").await;
    assert_eq!(detail.status, "5.4.4", "{}", detail.reply);
    assert!(
        detail.reply.contains("name=ghost.example.test"),
        "{}",
        detail.reply
    );
}

#[tokio::test]
async fn a_dns_server_that_does_not_answer_is_a_temporary_failure() {
    // A UDP socket that never replies.
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let resolver = Resolver::with_timeout(
        &[silent.local_addr().unwrap()],
        Duration::from_millis(300),
        1,
    )
    .unwrap();
    let fixture = message(MESSAGE);
    let rcpts = recipients(&["b@example.test"]);
    let results = within(deliver(
        &Route::Mx,
        "example.test",
        &resolver,
        &settings(),
        &envelope(&rcpts, &fixture),
        &fixture.path,
    ))
    .await;
    let RecipientResult::TempFail(detail) = &results[0] else {
        panic!("{results:?}")
    };
    assert_eq!(detail.status, "4.4.3");
}

#[tokio::test]
async fn a_domain_without_mx_falls_back_to_its_a_record() {
    let server = Server::start(Script::smtp()).await;
    let dns = TestDns::start("example.test.", "@ IN A 127.0.0.1\n")
        .await
        .unwrap();
    let resolver = Resolver::new(&[dns.addr()]).unwrap();
    let mut settings = settings();
    settings.smtp_port = server.port();
    let fixture = message(MESSAGE);
    let rcpts = recipients(&["b@example.test"]);
    let results = within(deliver(
        &Route::Mx,
        "example.test",
        &resolver,
        &settings,
        &envelope(&rcpts, &fixture),
        &fixture.path,
    ))
    .await;
    let [RecipientResult::Delivered(detail)] = &results[..] else {
        panic!("{results:?}")
    };
    assert_eq!(detail.remote_mta.as_deref(), Some("example.test"));
    assert_eq!(server.log().messages.len(), 1);
}

/// `body` to b@example.test straight to `server`.
async fn deliver_one(server: &Server, body: &[u8]) -> Vec<RecipientResult> {
    let fixture = message(body);
    let rcpts = recipients(&["b@example.test"]);
    within(deliver(
        &direct(server),
        "example.test",
        &no_dns(),
        &settings(),
        &envelope(&rcpts, &fixture),
        &fixture.path,
    ))
    .await
}

#[tokio::test]
async fn dot_stuffing_a_line_starting_with_a_dot_arrives_intact() {
    let body: &[u8] = b"Subject: dots\r\n\r\n.hidden\r\n..two\r\n.\r\nend\r\n";
    let server = Server::start(Script::smtp()).await;
    let results = deliver_one(&server, body).await;
    assert!(results[0].is_delivered(), "{results:?}");
    assert_eq!(server.log().messages, [body.to_vec()]);
}

#[tokio::test]
async fn a_bare_cr_goes_out_as_crlf_so_a_lax_next_hop_sees_no_smuggled_end_of_data() {
    // A next hop that takes a lone CR as a line end would read "\r.\r" as the
    // end of data and the rest as a second transaction.
    let body: &[u8] =
        b"Subject: cr\r\n\r\nline1\r.\r\nMAIL FROM:<evil@remote.test>\r\nRCPT TO:<x@y>\r\n";
    let server = Server::start(Script::smtp()).await;
    let results = deliver_one(&server, body).await;
    assert!(results[0].is_delivered(), "{results:?}");
    let received = &server.log().messages[0];
    assert_eq!(
        received.as_slice(),
        b"Subject: cr\r\n\r\nline1\r\n.\r\nMAIL FROM:<evil@remote.test>\r\nRCPT TO:<x@y>\r\n"
    );
}

#[tokio::test]
async fn a_large_message_is_streamed_whole() {
    // Several blocks, with lines starting with dots across block edges.
    let mut body = Vec::new();
    for i in 0..40_000 {
        body.extend_from_slice(format!(".line {i} ..........\r\n").as_bytes());
    }
    let server = Server::start(Script::smtp()).await;
    let fixture = message(&body);
    let rcpts = recipients(&["b@example.test"]);
    let results = within(deliver(
        &direct(&server),
        "example.test",
        &no_dns(),
        &settings(),
        &envelope(&rcpts, &fixture),
        &fixture.path,
    ))
    .await;
    assert!(results[0].is_delivered(), "{results:?}");
    assert!(server.log().messages[0] == body);
}

#[tokio::test]
async fn a_5xx_at_mail_is_permanent_for_all_recipients() {
    let server = Server::start(Script {
        mail: "553 5.7.1 <a@sender.test>: Sender address rejected: not owned".into(),
        ..Script::smtp()
    })
    .await;
    let fixture = message(MESSAGE);
    let rcpts = recipients(&["b@example.test", "c@example.test"]);
    let results = within(deliver(
        &direct(&server),
        "example.test",
        &no_dns(),
        &settings(),
        &envelope(&rcpts, &fixture),
        &fixture.path,
    ))
    .await;
    for result in &results {
        let RecipientResult::PermFail(detail) = result else {
            panic!("{results:?}")
        };
        assert!(detail.reply.ends_with("(in reply to MAIL FROM command)"));
        assert_eq!(detail.status, "5.7.1");
    }
    assert!(server.log().messages.is_empty());
}

#[tokio::test]
async fn a_message_over_the_servers_size_is_refused_before_mail() {
    let server = Server::start(Script::smtp().capabilities(&["PIPELINING", "SIZE 10"])).await;
    let fixture = message(MESSAGE);
    let rcpts = recipients(&["b@example.test"]);
    let results = within(deliver(
        &direct(&server),
        "example.test",
        &no_dns(),
        &settings(),
        &envelope(&rcpts, &fixture),
        &fixture.path,
    ))
    .await;
    let RecipientResult::PermFail(detail) = &results[0] else {
        panic!("{results:?}")
    };
    assert_eq!(detail.status, "5.3.4");
    assert_eq!(
        detail.reply,
        format!(
            "message size {} exceeds size limit 10 of server 127.0.0.1[127.0.0.1]",
            fixture.size
        )
    );
    assert!(!server.log().verbs().contains(&"MAIL".to_owned()));
}

#[tokio::test]
async fn smtputf8_is_sent_when_needed_and_refused_when_not_offered() {
    let fixture = message(MESSAGE);
    let rcpts = recipients(&["jöran@example.test"]);

    let with = Server::start(Script::smtp().capabilities(&["SMTPUTF8", "8BITMIME"])).await;
    let mut env = envelope(&rcpts, &fixture);
    env.eight_bit = true;
    let results = within(deliver(
        &direct(&with),
        "example.test",
        &no_dns(),
        &settings(),
        &env,
        &fixture.path,
    ))
    .await;
    assert!(results[0].is_delivered(), "{results:?}");
    assert!(
        with.log()
            .commands
            .iter()
            .any(|(_, c)| c == "MAIL FROM:<a@sender.test> BODY=8BITMIME SMTPUTF8"),
        "{:?}",
        with.log().commands
    );

    let without = Server::start(Script::smtp()).await;
    let results = within(deliver(
        &direct(&without),
        "example.test",
        &no_dns(),
        &settings(),
        &env,
        &fixture.path,
    ))
    .await;
    let RecipientResult::PermFail(detail) = &results[0] else {
        panic!("{results:?}")
    };
    assert_eq!(detail.status, "5.6.7");
    assert_eq!(
        detail.reply,
        "SMTPUTF8 is required, but was not offered by host 127.0.0.1[127.0.0.1]"
    );
}

#[tokio::test]
async fn lmtp_gives_one_reply_per_accepted_recipient() {
    let server = Server::start(Script::lmtp().end_of_data(|rcpt| {
        if rcpt.starts_with("full") {
            format!("452 4.2.2 <{rcpt}> Mailbox full")
        } else {
            format!("250 2.0.0 <{rcpt}> Saved")
        }
    }))
    .await;
    let route = parse_route(&format!("lmtp:[127.0.0.1]:{}", server.port())).unwrap();
    let fixture = message(MESSAGE);
    let rcpts = recipients(&["a@example.test", "full@example.test", "c@example.test"]);
    let results = within(deliver(
        &route,
        "example.test",
        &no_dns(),
        &settings(),
        &envelope(&rcpts, &fixture),
        &fixture.path,
    ))
    .await;
    assert_eq!(results[0].reply(), "250 2.0.0 <a@example.test> Saved");
    assert_eq!(results[2].reply(), "250 2.0.0 <c@example.test> Saved");
    let RecipientResult::TempFail(detail) = &results[1] else {
        panic!("{results:?}")
    };
    assert_eq!(detail.status, "4.2.2");
    assert!(detail.reply.ends_with("(in reply to end of DATA command)"));
    assert_eq!(server.log().verbs()[0], "LHLO");
}

#[tokio::test]
async fn lmtp_over_a_unix_socket() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("lmtp");
    let listener = tokio::net::UnixListener::bind(&socket).unwrap();
    let server = tokio::spawn(async move {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let (stream, _) = listener.accept().await.unwrap();
        let mut io = BufReader::new(stream);
        io.get_mut().write_all(b"220 lmtp ready\r\n").await.unwrap();
        let mut line = String::new();
        let mut in_data = false;
        let mut seen = Vec::new();
        loop {
            line.clear();
            if io.read_line(&mut line).await.unwrap() == 0 {
                return seen;
            }
            seen.push(line.clone());
            let reply: &[u8] = if in_data {
                if line != ".\r\n" {
                    continue;
                }
                in_data = false;
                b"250 2.0.0 Saved\r\n"
            } else if line.starts_with("LHLO") {
                b"250-lmtp\r\n250 PIPELINING\r\n"
            } else if line.starts_with("DATA") {
                in_data = true;
                b"354 go ahead\r\n"
            } else if line.starts_with("QUIT") {
                b"221 bye\r\n"
            } else {
                b"250 2.1.0 Ok\r\n"
            };
            io.get_mut().write_all(reply).await.unwrap();
        }
    });
    let route = parse_route(&format!("lmtp:unix:{}", socket.display())).unwrap();
    let fixture = message(MESSAGE);
    let rcpts = recipients(&["b@example.test"]);
    let results = within(deliver(
        &route,
        "example.test",
        &no_dns(),
        &settings(),
        &envelope(&rcpts, &fixture),
        &fixture.path,
    ))
    .await;
    assert!(results[0].is_delivered(), "{results:?}");
    let seen = within(server).await.unwrap();
    assert_eq!(seen[0], "LHLO relay.sender.test\r\n");
}

#[tokio::test]
async fn a_connection_is_reused_for_the_next_message() {
    let server = Server::start(Script::smtp()).await;
    let fixture = message(MESSAGE);
    let rcpts = recipients(&["b@example.test"]);
    let route = direct(&server);
    let resolver = no_dns();
    let settings = settings();
    let env = envelope(&rcpts, &fixture);
    let (first, kept) = within(deliver_reusing(
        None,
        &route,
        "example.test",
        &resolver,
        &settings,
        &env,
        &fixture.path,
    ))
    .await;
    assert!(first[0].is_delivered());
    let kept = kept.expect("kept");
    assert_eq!(kept.transactions(), 1);
    let (second, kept) = within(deliver_reusing(
        Some(kept),
        &route,
        "example.test",
        &resolver,
        &settings,
        &env,
        &fixture.path,
    ))
    .await;
    assert!(second[0].is_delivered());
    let kept = kept.expect("still usable");
    assert_eq!(kept.transactions(), 2);
    kept.quit().await;
    let log = server.log();
    assert_eq!(log.connections, 1);
    assert_eq!(log.messages.len(), 2);
    assert!(log.verbs().contains(&"RSET".to_owned()));
}

#[tokio::test]
async fn a_silent_server_times_out_at_the_greeting_and_the_next_host_is_tried() {
    let silent = Server::start(Script {
        silent: true,
        ..Script::smtp()
    })
    .await;
    // MX hosts share one port: the good one listens on 127.0.0.3.
    let good = Server::start_on(
        format!("127.0.0.3:{}", silent.port()).parse().unwrap(),
        Script::smtp(),
    )
    .await;
    let dns = TestDns::start(
        "example.test.",
        "@ IN MX 10 mx1\n@ IN MX 20 mx2\nmx1 IN A 127.0.0.1\nmx2 IN A 127.0.0.3\n",
    )
    .await
    .unwrap();
    let resolver = Resolver::new(&[dns.addr()]).unwrap();
    let mut settings = settings();
    settings.smtp_port = silent.port();
    settings.timeouts.greeting = Duration::from_millis(300);
    let fixture = message(MESSAGE);
    let rcpts = recipients(&["b@example.test"]);
    let results = within(deliver(
        &Route::Mx,
        "example.test",
        &resolver,
        &settings,
        &envelope(&rcpts, &fixture),
        &fixture.path,
    ))
    .await;
    assert!(results[0].is_delivered(), "{results:?}");
    assert_eq!(silent.log().connections, 1);
    assert_eq!(good.log().messages.len(), 1);
}

#[tokio::test]
async fn a_greeting_timeout_on_the_only_host_is_temporary() {
    let silent = Server::start(Script {
        silent: true,
        ..Script::smtp()
    })
    .await;
    let mut settings = settings();
    settings.timeouts.greeting = Duration::from_millis(200);
    let fixture = message(MESSAGE);
    let rcpts = recipients(&["b@example.test"]);
    let results = within(deliver(
        &direct(&silent),
        "example.test",
        &no_dns(),
        &settings,
        &envelope(&rcpts, &fixture),
        &fixture.path,
    ))
    .await;
    let RecipientResult::TempFail(detail) = &results[0] else {
        panic!("{results:?}")
    };
    assert_eq!(
        detail.reply,
        "conversation with 127.0.0.1[127.0.0.1] timed out while receiving the initial server \
         greeting"
    );
    assert_eq!(detail.status, "4.4.2");
}

#[tokio::test]
async fn a_5xx_greeting_from_the_last_server_is_permanent() {
    let server = Server::start(Script {
        greeting: "554 5.7.1 go away".into(),
        ..Script::smtp()
    })
    .await;
    let fixture = message(MESSAGE);
    let rcpts = recipients(&["b@example.test"]);
    let results = within(deliver(
        &direct(&server),
        "example.test",
        &no_dns(),
        &settings(),
        &envelope(&rcpts, &fixture),
        &fixture.path,
    ))
    .await;
    let RecipientResult::PermFail(detail) = &results[0] else {
        panic!("{results:?}")
    };
    assert_eq!(
        detail.reply,
        "host 127.0.0.1[127.0.0.1] refused to talk to me: 554 5.7.1 go away"
    );
}

#[tokio::test]
async fn a_missing_message_file_is_a_temporary_failure_without_connecting() {
    let server = Server::start(Script::smtp()).await;
    let rcpts = recipients(&["b@example.test"]);
    let results = deliver(
        &direct(&server),
        "example.test",
        &no_dns(),
        &settings(),
        &Envelope {
            sender: "",
            recipients: &rcpts,
            size: 1,
            smtputf8: false,
            eight_bit: false,
        },
        std::path::Path::new("/nonexistent/spool/file"),
    )
    .await;
    assert!(results[0].is_temporary(), "{results:?}");
    assert_eq!(results[0].status(), "4.3.0");
    assert_eq!(server.log().connections, 0);
}

#[tokio::test]
async fn recipients_over_the_servers_limit_go_in_a_second_transaction() {
    let server = Server::start(Script {
        max_recipients: Some(2),
        ..Script::smtp()
    })
    .await;
    let fixture = message(MESSAGE);
    let rcpts = recipients(&["a@example.test", "b@example.test", "c@example.test"]);
    let results = within(deliver(
        &direct(&server),
        "example.test",
        &no_dns(),
        &settings(),
        &envelope(&rcpts, &fixture),
        &fixture.path,
    ))
    .await;
    assert!(results.iter().all(|r| r.is_delivered()), "{results:?}");
    let log = server.log();
    assert_eq!(log.connections, 1);
    assert_eq!(log.messages.len(), 2);
}

#[tokio::test]
async fn a_recipient_deferred_by_the_first_mx_is_tried_at_the_next() {
    let first = Server::start(Script::smtp().rcpt(|address| {
        if address.starts_with("later") {
            "450 4.2.0 <later@example.test>: try again".into()
        } else {
            "250 2.1.5 Ok".into()
        }
    }))
    .await;
    let second = Server::start_on(
        format!("127.0.0.3:{}", first.port()).parse().unwrap(),
        Script::smtp(),
    )
    .await;
    let dns = TestDns::start(
        "example.test.",
        "@ IN MX 10 mx1\n@ IN MX 20 mx2\nmx1 IN A 127.0.0.1\nmx2 IN A 127.0.0.3\n",
    )
    .await
    .unwrap();
    let resolver = Resolver::new(&[dns.addr()]).unwrap();
    let mut settings = settings();
    settings.smtp_port = first.port();
    let fixture = message(MESSAGE);
    let rcpts = recipients(&["now@example.test", "later@example.test"]);
    let results = within(deliver(
        &Route::Mx,
        "example.test",
        &resolver,
        &settings,
        &envelope(&rcpts, &fixture),
        &fixture.path,
    ))
    .await;
    assert_eq!(
        results[0].detail().remote_mta.as_deref(),
        Some("mx1.example.test")
    );
    assert_eq!(
        results[1].detail().remote_mta.as_deref(),
        Some("mx2.example.test")
    );
    assert!(results.iter().all(|r| r.is_delivered()), "{results:?}");
    let commands = second.log().commands;
    assert!(
        commands
            .iter()
            .any(|(_, c)| c == "RCPT TO:<later@example.test>")
            && !commands
                .iter()
                .any(|(_, c)| c == "RCPT TO:<now@example.test>"),
        "{commands:?}"
    );
}
