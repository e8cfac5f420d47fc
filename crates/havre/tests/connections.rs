//! Connection floods and limits on the real binary: per-address and total
//! caps with a reply that says why, a low open-file limit, the session
//! deadline. Load is bounded: at most 1,100 connections, each test well
//! under a minute.

use havre_testkit::{Havre, python_ok};

/// Python: `conn(port, source)` opens a connection from a loopback source
/// address and returns `(socket, reader)`; `first(port, source)` its first line.
const PRELUDE: &str = r#"
import socket, sys, time
def conn(port, source="127.0.0.1"):
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(15)
    s.connect(("127.0.0.1", int(port)))
    return s, s.makefile("rb")
def first(port, source="127.0.0.1"):
    s, f = conn(port, source)
    return s, f.readline().decode().strip()
"#;

#[test]
fn a_flood_of_1100_connections_under_1024_descriptors_leaves_the_mx_and_imap_serving_others() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.start_with_open_files(1024);
    let out = python_ok(
        &format!(
            "{PRELUDE}{}",
            r#"
import imaplib, resource, smtplib, ssl
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
mx, imap = sys.argv[1], int(sys.argv[2])
flood = [conn(mx) for _ in range(1100)]
greeted = refused = 0
for s, f in flood:
    try:
        line = f.readline().decode()
    except OSError as e:
        line = f"error {e}"
    if line.startswith("220 "):
        greeted += 1
    elif line.startswith("421 4.7.0") and "too many connections from 127.0.0.1" in line:
        refused += 1
    else:
        print("unexpected:", repr(line))
print("greeted:", greeted, "refused:", refused)
# The flood still holds its connections while others use the node.
c = smtplib.SMTP(timeout=30, source_address=("127.0.0.2", 0))
c.connect("127.0.0.1", int(mx))
c.ehlo("normal.test")
c.sendmail("bob@remote.test", ["alice@example.test"], b"Subject: during the flood\r\n\r\nhello\r\n")
c.quit()
print("smtp: sent")
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4("127.0.0.1", imap); m.starttls(ssl_context=ctx)
m.login("alice@example.test", "secret")
print("imap:", m.select("INBOX")[0])
m.logout()
"#
        ),
        &[&node.smtp_port.to_string(), &node.imap_port.to_string()],
    );
    let counts = out.lines().find(|l| l.starts_with("greeted:")).unwrap();
    let numbers: Vec<u32> = counts
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    let (greeted, refused) = (numbers[0], numbers[1]);
    assert!(!out.contains("unexpected:"), "{out}");
    assert!(greeted > 0 && refused > 0, "{out}");
    assert_eq!(greeted + refused, 1100, "{out}");
    assert!(out.contains("smtp: sent"), "{out}");
    assert!(out.contains("imap: OK"), "{out}");
    let delivered = node.wait_for_messages("alice@example.test", 1);
    assert!(delivered[0].contains("Subject: during the flood"));
    let log = node.log();
    assert!(log.contains("open-file limit: 1024"), "{log}");
    assert!(
        log.contains("cannot hold the configured connection limits"),
        "{log}"
    );
    assert!(!log.contains("Too many open files"), "{log}");
}

#[test]
fn smtp_clients_beyond_the_per_address_or_the_total_cap_get_421_saying_why() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.set("smtp.max_connections", "4");
    node.set("smtp.max_connections_per_ip", "2");
    node.start();
    let out = python_ok(
        &format!(
            "{PRELUDE}{}",
            r#"
mx = sys.argv[1]
a1, line = first(mx); print("a1:", line)
a2, line = first(mx); print("a2:", line)
a3, line = first(mx); print("third from one address:", line)
b1, line = first(mx, "127.0.0.2"); print("b1:", line)
b2, line = first(mx, "127.0.0.2"); print("b2:", line)
c1, line = first(mx, "127.0.0.3"); print("fifth in all:", line)
a1.close(); time.sleep(0.5)
c2, line = first(mx, "127.0.0.3"); print("after one left:", line)
"#
        ),
        &[&node.smtp_port.to_string()],
    );
    for greeted in [
        "a1: 220",
        "a2: 220",
        "b1: 220",
        "b2: 220",
        "after one left: 220",
    ] {
        assert!(out.contains(greeted), "{greeted}: {out}");
    }
    assert!(
        out.contains("third from one address: 421 4.7.0 mx.example.test Error: too many connections from 127.0.0.1"),
        "{out}"
    );
    assert!(
        out.contains(
            "fifth in all: 421 4.3.2 mx.example.test Error: too many connections (limit 4)"
        ),
        "{out}"
    );
}

#[test]
fn a_site_in_the_internal_networks_is_spared_the_per_address_cap_but_not_the_total() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.set("smtp.max_connections", "4");
    node.set("smtp.max_connections_per_ip", "2");
    // A whole campus behind one NAT address, as Postfix spares $mynetworks.
    node.set("relay.internal_networks", "[\"127.0.0.2/32\"]");
    node.start();
    let out = python_ok(
        &format!(
            "{PRELUDE}{}",
            r#"
mx = sys.argv[1]
held = []
for n in range(1, 5):
    s, line = first(mx, "127.0.0.2"); held.append(s); print(f"nat{n}:", line)
s, line = first(mx, "127.0.0.2"); print("fifth in all:", line)
"#
        ),
        &[&node.smtp_port.to_string()],
    );
    for n in 1..=4 {
        assert!(out.contains(&format!("nat{n}: 220")), "{out}");
    }
    assert!(out.contains("fifth in all: 421 4.3.2"), "{out}");
}

#[test]
fn imap_and_pop3_clients_beyond_their_caps_get_bye_and_err_saying_why() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.set("imap.max_connections", "2");
    node.set("pop3.max_connections_per_ip", "1");
    node.start();
    let out = python_ok(
        &format!(
            "{PRELUDE}{}",
            r#"
imap, pop3 = sys.argv[1], sys.argv[2]
i1, line = first(imap); print("imap 1:", line)
i2, line = first(imap, "127.0.0.2"); print("imap 2:", line)
i3, line = first(imap, "127.0.0.3"); print("imap 3:", line)
p1, line = first(pop3); print("pop3 1:", line)
p2, line = first(pop3); print("pop3 2:", line)
"#
        ),
        &[&node.imap_port.to_string(), &node.pop3_port.to_string()],
    );
    assert!(out.contains("imap 1: * OK"), "{out}");
    assert!(out.contains("imap 2: * OK"), "{out}");
    assert!(
        out.contains("imap 3: * BYE [UNAVAILABLE] Server is full"),
        "{out}"
    );
    assert!(out.contains("pop3 1: +OK"), "{out}");
    assert!(
        out.contains("pop3 2: -ERR [SYS/TEMP] Too many connections from your address."),
        "{out}"
    );
}

#[test]
fn a_backend_spares_its_directors_the_per_address_cap_on_pop3_managesieve_and_lmtp() {
    // A mailbox backend: it takes directors' logins (a cluster secret) from
    // 127.0.0.2, the director, and every session a director relays comes
    // from that one address; 127.0.0.3 is any other client.
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.be_backend_of("[\"127.0.0.2/32\"]");
    node.set("pop3.max_connections_per_ip", "1");
    node.set("managesieve.max_connections_per_ip", "1");
    node.set("smtp.max_connections_per_ip", "1");
    node.start();
    let out = python_ok(
        &format!(
            "{PRELUDE}{}",
            r#"
held = []
for name, port in zip(["pop3", "managesieve", "lmtp"], sys.argv[1:]):
    for source, who in [("127.0.0.2", "director"), ("127.0.0.3", "client")]:
        for n in (1, 2, 3):
            s, f = conn(port, source); held.append(s)
            line = f.readline().decode().strip()
            if name == "managesieve" and line.startswith('"'):
                # The capability list, then the greeting's OK line.
                while line.startswith('"'):
                    line = f.readline().decode().strip()
            print(f"{name} {who} {n}:", line)
"#
        ),
        &[
            &node.pop3_port.to_string(),
            &node.managesieve_port.to_string(),
            &node.lmtp_port.to_string(),
        ],
    );
    for n in 1..=3 {
        assert!(out.contains(&format!("pop3 director {n}: +OK")), "{out}");
        assert!(
            out.contains(&format!("managesieve director {n}: OK")),
            "{out}"
        );
        assert!(out.contains(&format!("lmtp director {n}: 220")), "{out}");
    }
    assert!(out.contains("pop3 client 1: +OK"), "{out}");
    assert!(
        out.contains("pop3 client 2: -ERR [SYS/TEMP] Too many connections from your address."),
        "{out}"
    );
    assert!(out.contains("managesieve client 1: OK"), "{out}");
    assert!(
        out.contains(
            "managesieve client 2: BYE (TRYLATER) \"Too many connections from your address.\""
        ),
        "{out}"
    );
    assert!(out.contains("lmtp client 1: 220"), "{out}");
    assert!(out.contains("lmtp client 2: 421 4.7.0"), "{out}");
}

#[test]
fn a_client_dripping_commands_is_closed_at_the_session_deadline() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.set("smtp.session_deadline", "\"3s\"");
    node.set("imap.login_timeout", "\"3s\"");
    node.start();
    let out = python_ok(
        &format!(
            "{PRELUDE}{}",
            r#"
def drip(port, greeting, command, done):
    s, f = conn(port)
    f.readline()
    start = time.time()
    while time.time() - start < 20:
        s.sendall(command)
        line = f.readline().decode().strip()
        if done(line):
            return line, round(time.time() - start, 1), f.readline() == b""
        time.sleep(0.5)
    return "still open", 20, False
line, after, closed = drip(sys.argv[1], "220", b"NOOP\r\n", lambda l: not l.startswith("250"))
print("smtp:", line, "| after", after, "| closed", closed)
line, after, closed = drip(sys.argv[2], "* OK", b"a NOOP\r\n", lambda l: l.startswith("* BYE"))
print("imap:", line, "| after", after, "| closed", closed)
"#
        ),
        &[&node.smtp_port.to_string(), &node.imap_port.to_string()],
    );
    assert!(
        out.contains("smtp: 421 4.4.2 mx.example.test Error: session time limit exceeded"),
        "{out}"
    );
    assert!(
        out.contains("imap: * BYE Disconnected for inactivity."),
        "{out}"
    );
    for line in out.lines() {
        let after: f64 = line
            .split("| after ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(99.0);
        assert!((2.5..8.0).contains(&after), "closed near 3s: {line}");
        assert!(line.ends_with("| closed True"), "{line}");
    }
}
