//! The web role's probes, as Prometheus, Zabbix, Nagios or Kubernetes read
//! them with a real HTTP client (curl): `/metrics` in Prometheus' text
//! format, moving as mail flows; `/health/ready` saying 503 until every
//! role listens, then 200; addresses outside `http.metrics_networks`
//! refused.

use std::process::Command;
use std::time::{Duration, Instant};

use havre_testkit::Havre;

/// A sample's value in Prometheus' text format, parsed by prometheus-parse
/// (the format's rules, not a grep): `name` with every label of `labels`.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text format");
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => f64::NAN,
        })
}

#[test]
fn ready_says_503_until_every_role_listens_then_200_and_live_answers_at_once() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.start_with_fault("ready-delay:3000");
    let (code, body) = node.http_get("/health/ready");
    assert_eq!(code, 503, "{body}");
    assert!(body.starts_with("not ready: starting"), "{body}");
    assert_eq!(node.http_get("/health/live"), (200, "alive\n".to_string()));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, body) = node.http_get("/health/ready");
        if code == 200 {
            assert_eq!(body, "ready\n");
            break;
        }
        assert!(Instant::now() < deadline, "still {code} {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn metrics_parse_as_prometheus_text_and_move_when_mail_flows() {
    let node = Havre::started(env!("CARGO_BIN_EXE_havre"), &["alice@example.test"], |_| {});
    let (code, before) = node.http_get("/metrics");
    assert_eq!(code, 200, "{before}");
    let accepted = |text: &str| {
        sample(text, "havre_messages_total", &[("outcome", "accepted")]).unwrap_or(0.0)
    };
    let delivered = |text: &str| {
        sample(text, "havre_messages_total", &[("outcome", "delivered")]).unwrap_or(0.0)
    };
    let (sent, text) = node.send_to_mx("alice@example.test");
    assert!(sent, "{text}");
    node.wait_for_messages("alice@example.test", 1);
    node.wait_for_empty_queue();
    let (_, after) = node.http_get("/metrics");
    assert_eq!(accepted(&after), accepted(&before) + 1.0, "{after}");
    assert_eq!(delivered(&after), delivered(&before) + 1.0, "{after}");
    assert!(
        sample(&after, "havre_connections_total", &[("role", "smtpd")]).unwrap_or(0.0) >= 1.0,
        "{after}"
    );
    assert_eq!(
        sample(&after, "havre_queue_messages", &[("state", "deferred")]),
        Some(0.0),
        "{after}"
    );
    assert!(
        sample(&after, "havre_delivery_delay_seconds_count", &[]).unwrap_or(0.0) >= 1.0,
        "{after}"
    );
    assert!(
        sample(&after, "havre_memory_resident_bytes", &[]).unwrap_or(0.0) > 1e6,
        "{after}"
    );
    // The mx looked the sender's domain up (SPF) on the test's DNS server.
    assert!(
        sample(
            &after,
            "havre_dns_latency_seconds_count",
            &[("type", "TXT")]
        )
        .unwrap_or(0.0)
            >= 1.0,
        "{after}"
    );
    assert!(
        sample(&after, "havre_store_latency_seconds_count", &[]).unwrap_or(0.0) >= 1.0,
        "{after}"
    );
    assert_eq!(sample(&after, "havre_bans", &[]), Some(0.0), "{after}");
    assert_eq!(
        sample(&after, "havre_sessions", &[("protocol", "imap")]),
        Some(0.0),
        "{after}"
    );
    assert_eq!(
        sample(&after, "havre_deliveries_in_flight", &[]),
        Some(0.0),
        "{after}"
    );

    // A wrong password counts as a failed login.
    let (sent, _) = node.submit_as(
        "alice@example.test",
        "wrong",
        "alice@example.test",
        "alice@example.test",
    );
    assert!(!sent);
    let (_, later) = node.http_get("/metrics");
    assert!(
        sample(&later, "havre_logins_total", &[("outcome", "failed")]).unwrap_or(0.0) >= 1.0,
        "{later}"
    );
}

/// Polls `/metrics` until `name{labels}` reads `want` (gauges are set
/// at each scrape, from what the node has at that moment).
fn wait_for_gauge(node: &Havre, name: &str, labels: &[(&str, &str)], want: f64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, text) = node.http_get("/metrics");
        if sample(&text, name, labels) == Some(want) {
            return;
        }
        assert!(Instant::now() < deadline, "{name} never {want}: {text}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_session_and_ban_gauges_follow_what_the_node_has_now() {
    let node = Havre::started(env!("CARGO_BIN_EXE_havre"), &["alice@example.test"], |_| {});
    wait_for_gauge(&node, "havre_sessions", &[("protocol", "imap")], 0.0);
    // Alice stays logged in over IMAP for a while.
    let mut alice = Command::new("python3")
        .arg("-c")
        .arg(format!(
            "{}\nm = connect()\nprint('in', flush=True)\ntime.sleep(30)",
            havre_testkit::imap::IMAPLIB_PRELUDE
        ))
        .arg(node.imap_port.to_string())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_gauge(&node, "havre_sessions", &[("protocol", "imap")], 1.0);
    let _ = alice.kill();
    let _ = alice.wait();
    wait_for_gauge(&node, "havre_sessions", &[("protocol", "imap")], 0.0);
    wait_for_gauge(&node, "havre_bans", &[], 0.0);
    node.cli_ok(&["ban", "add", "192.0.2.9"]);
    wait_for_gauge(&node, "havre_bans", &[], 1.0);
}

/// A ManageSieve client (a webmail's filters page) with a wrong password.
const SIEVE_WRONG_PASSWORD: &str = r#"
import base64, socket, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
f = s.makefile("rb")
def until_status():
    while True:
        line = f.readline().decode()
        if not line or line.startswith(("OK", "NO", "BYE")):
            return line.strip()
until_status()
s.sendall(b"STARTTLS\r\n"); until_status()
s = ctx.wrap_socket(s, server_hostname="localhost"); f = s.makefile("rb")
until_status()
token = base64.b64encode(b"\0alice@example.test\0guess").decode()
s.sendall(('AUTHENTICATE "PLAIN" "%s"\r\n' % token).encode())
print(until_status())
"#;

#[test]
fn a_failed_managesieve_login_is_counted_with_the_others() {
    let node = Havre::started(env!("CARGO_BIN_EXE_havre"), &["alice@example.test"], |_| {});
    let out = havre_testkit::python_ok(SIEVE_WRONG_PASSWORD, &[&node.managesieve_port.to_string()]);
    assert!(out.starts_with("NO"), "{out}");
    let (_, text) = node.http_get("/metrics");
    assert_eq!(
        sample(
            &text,
            "havre_logins_total",
            &[("role", "managesieve-login"), ("outcome", "failed")]
        ),
        Some(1.0),
        "{text}"
    );
}

#[test]
fn an_address_outside_the_metrics_networks_is_refused() {
    let node = Havre::started(env!("CARGO_BIN_EXE_havre"), &[], |n| {
        n.set("http.metrics_networks", "[\"192.0.2.0/24\"]");
    });
    for path in ["/metrics", "/health/ready", "/health/live"] {
        let (code, body) = node.http_get(path);
        assert_eq!(code, 403, "{path}: {body}");
        assert!(body.contains("http.metrics_networks"), "{body}");
    }
    // A network that does not parse is named by config check.
    let mut bad = Havre::init(env!("CARGO_BIN_EXE_havre"));
    bad.set("http.metrics_networks", "[\"not-a-network\"]");
    let out = bad.cli(&["config", "check"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("http.metrics_networks") && err.contains("not-a-network"),
        "{err}"
    );
}
