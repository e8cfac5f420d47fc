//! The policy service's answers, request by request and over a connection,
//! with the shipped checks (havre-policy) on an in-memory state.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use havre_checks::Pipeline;
use havre_policy_proto::{Limits, Reply, Request};
use havre_policy_server::{
    Classes, Instances, PolicyServices, PolicySettings, Server, answer, serve,
};
use havre_state::{EmbeddedState, State};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// alice is a student, bob staff; "broken" makes the directory fail.
struct FixedClasses;

#[async_trait]
impl Classes for FixedClasses {
    async fn class_of(&self, login: &str) -> Result<Option<String>, String> {
        match login {
            "alice@example.edu" => Ok(Some("student".into())),
            "bob@example.edu" => Ok(Some("staff".into())),
            "broken@example.edu" => Err("database is locked".into()),
            _ => Ok(None),
        }
    }
}

fn services(toml: &str) -> PolicyServices {
    let cfg = havre_config::parse(toml, Path::new("havre.toml")).unwrap();
    let state: Arc<dyn State> = Arc::new(EmbeddedState::memory());
    let mut pipeline = Pipeline::new("policy");
    for check in havre_policy::from_config(&cfg, state).unwrap().all() {
        pipeline.push(check);
    }
    PolicyServices {
        settings: PolicySettings {
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_millis(500),
            limits: Limits::default(),
        },
        pipeline: Arc::new(pipeline),
        classes: Arc::new(FixedClasses),
    }
}

fn rcpt(login: &str, instance: &str, recipient: &str) -> Request {
    Request::new()
        .with("request", "smtpd_access_policy")
        .with("protocol_state", "RCPT")
        .with("protocol_name", "ESMTP")
        .with("client_address", "192.0.2.7")
        .with("client_name", "unknown")
        .with("helo_name", "laptop")
        .with("sender", login)
        .with("recipient", recipient)
        .with("recipient_count", "0")
        .with("instance", instance)
        .with("sasl_username", login)
}

fn host() -> IpAddr {
    "127.0.0.1".parse().unwrap()
}

#[tokio::test]
async fn a_students_11th_message_in_a_minute_is_deferred_however_many_recipients_each_had() {
    let s = services("");
    let i = Instances::new();
    for n in 0..10 {
        let instance = format!("a.{n}");
        for to in ["x@example.net", "y@example.net", "z@example.net"] {
            let r = answer(&s, &i, host(), &rcpt("alice@example.edu", &instance, to)).await;
            assert_eq!(r, Reply::Dunno, "message {n}, recipient {to}");
        }
    }
    assert_eq!(
        answer(
            &s,
            &i,
            host(),
            &rcpt("alice@example.edu", "a.10", "x@example.net")
        )
        .await,
        Reply::Refuse(
            "450 4.7.1 Rate limit exceeded: 10 messages per minute for class student".into()
        )
    );
    for n in 0..11 {
        let r = answer(
            &s,
            &i,
            host(),
            &rcpt("bob@example.edu", &format!("b.{n}"), "x@example.net"),
        )
        .await;
        assert_eq!(r, Reply::Dunno, "staff may send 60 a minute");
    }
}

#[tokio::test]
async fn rules_answer_ok_reject_and_one_prepend_per_message() {
    let s = services(
        r#"
[[policy.rules]]
name = "partners"
client_address = "198.51.100.0/24"
action = "accept"

[[policy.rules]]
name = "spammer"
sender = "spammer@bad.test"
action = "reject"
text = "Go away"

[[policy.rules]]
name = "tag"
action = "add_header"
header = "X-Policy: seen"
"#,
    );
    let i = Instances::new();
    let partner = rcpt("", "p.1", "x@example.edu").with("client_address", "198.51.100.9");
    assert_eq!(answer(&s, &i, host(), &partner).await, Reply::Ok);
    let spam = rcpt("", "s.1", "x@example.edu").with("sender", "spammer@bad.test");
    assert_eq!(
        answer(&s, &i, host(), &spam).await,
        Reply::Refuse("554 5.7.1 Go away".into())
    );
    let first = rcpt("", "t.1", "x@example.edu");
    let second = rcpt("", "t.1", "y@example.edu");
    assert_eq!(
        answer(&s, &i, host(), &first).await,
        Reply::Prepend("X-Policy: seen".into())
    );
    assert_eq!(
        answer(&s, &i, host(), &second).await,
        Reply::Dunno,
        "the header was added to this message already"
    );
    let next_message = rcpt("", "t.2", "x@example.edu");
    assert_eq!(
        answer(&s, &i, host(), &next_message).await,
        Reply::Prepend("X-Policy: seen".into())
    );
}

#[tokio::test]
async fn a_request_the_service_cannot_read_or_a_failing_directory_defers_if_permitted() {
    let s = services("");
    let i = Instances::new();
    let defer = Reply::DeferIfPermit("Policy service error".into());
    let no_address = rcpt("", "x.1", "a@b").with("client_address", "");
    assert_eq!(answer(&s, &i, host(), &no_address).await, defer);
    let other = rcpt("", "x.1", "a@b").with("request", "junk");
    assert_eq!(answer(&s, &i, host(), &other).await, defer);
    let broken = rcpt("broken@example.edu", "x.2", "a@b");
    assert_eq!(answer(&s, &i, host(), &broken).await, defer);
    let data = rcpt("", "x.3", "a@b").with("protocol_state", "DATA");
    assert_eq!(answer(&s, &i, host(), &data).await, Reply::Dunno);
}

/// A policy service on a loopback port.
async fn start(toml: &str) -> (u16, Arc<Server>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (_tx, rx) = tokio::sync::watch::channel(Arc::new(services(toml)));
    std::mem::forget(_tx);
    let server = Server::new(rx);
    let (_stopper, stop) = havre_net::Stopper::new();
    std::mem::forget(_stopper);
    let gate = havre_net::Gate::new(
        "policy",
        havre_net::Caps {
            total: 2,
            per_ip: 2,
        },
        stop,
    );
    tokio::spawn(serve(listener, server.clone(), gate));
    (port, server)
}

/// Sends `bytes`, then reads until `replies` replies came or the server
/// closed; returns what came.
async fn exchange(stream: &mut TcpStream, bytes: &[u8], replies: usize) -> String {
    let mut got = Vec::new();
    // A server that closed the connection may make the write or the read
    // fail (a reset): that is an end too.
    if stream.write_all(bytes).await.is_err() {
        return String::new();
    }
    let mut buf = [0u8; 4096];
    while got.windows(2).filter(|w| w == b"\n\n").count() < replies {
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("a reply in time");
        let n = read.unwrap_or(0);
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(got).unwrap()
}

#[tokio::test]
async fn one_connection_carries_many_requests_and_garbage_costs_one_reply() {
    let (port, server) = start("").await;
    let mut c = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let good = rcpt("alice@example.edu", "c.1", "x@example.net").encode();
    assert_eq!(exchange(&mut c, &good, 1).await, "action=DUNNO\n\n");
    let garbage = b"hello there\nGET / HTTP/1.0\n\n";
    let long = [b"sender=".as_slice(), &vec![b'x'; 100_000], b"\n\n"].concat();
    let sent = [garbage.as_slice(), &long, b"\xff\xfe=\x80\n\n", &good].concat();
    assert_eq!(
        exchange(&mut c, &sent, 4).await,
        "action=DEFER_IF_PERMIT Policy service error\n\n".repeat(3) + "action=DUNNO\n\n",
        "three bad requests, then a good one, all answered in order"
    );
    assert_eq!(server.instances.len(), 1, "c.1 is under way");
    let next = rcpt("alice@example.edu", "c.2", "x@example.net").encode();
    exchange(&mut c, &next, 1).await;
    assert_eq!(
        server.instances.len(),
        1,
        "c.1 was forgotten when c.2 began"
    );
    drop(c);
}

#[tokio::test]
async fn an_unfinished_request_is_closed_after_the_request_timeout() {
    let (port, _server) = start("").await;
    let mut slow = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let started = std::time::Instant::now();
    let got = exchange(
        &mut slow,
        b"request=smtpd_access_policy\nprotocol_state=RC",
        1,
    )
    .await;
    assert_eq!(got, "", "closed without a reply");
    assert!(started.elapsed() >= Duration::from_millis(400));
}

#[tokio::test]
async fn a_connection_beyond_the_cap_is_closed_and_the_others_are_served() {
    let (port, _server) = start("").await;
    let _a = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut b = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let good = rcpt("", "d.1", "x@example.net").encode();
    assert_eq!(
        exchange(&mut third, &good, 1).await,
        "",
        "beyond max_connections: closed"
    );
    assert_eq!(exchange(&mut b, &good, 1).await, "action=DUNNO\n\n");
}

#[tokio::test]
async fn requests_sent_ahead_are_all_answered_in_order() {
    let (port, _server) = start("").await;
    let mut c = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let good = rcpt("", "e.1", "x@example.net").encode();
    // 3,000 requests without reading a reply: the service answers as it
    // goes (a few KiB at a time) while this client is still writing.
    let mut sent = Vec::new();
    for n in 0..3000 {
        sent.extend_from_slice(if n % 2 == 0 { &good } else { b"junk\n\n" });
    }
    let (mut read, mut write) = c.split();
    let writer = async { write.write_all(&sent).await.unwrap() };
    let reader = async {
        let mut got = Vec::new();
        let mut buf = [0u8; 65536];
        while got.windows(2).filter(|w| w == b"\n\n").count() < 3000 {
            let n = read.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed early");
            got.extend_from_slice(&buf[..n]);
        }
        String::from_utf8(got).unwrap()
    };
    let ((), got) = tokio::join!(writer, reader);
    let expected = "action=DUNNO\n\naction=DEFER_IF_PERMIT Policy service error\n\n".repeat(1500);
    assert_eq!(got, expected);
}
