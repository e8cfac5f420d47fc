//! A cluster on loopback: three havre nodes sharing one PostgreSQL (a
//! schema of the test's own), one Redis (a key prefix of its own) and one
//! mail directory, each with its own listeners and `server.node_id`. What
//! one node accepts, another serves; an IDLE session on one node hears of
//! a delivery another made at once; `havre cluster status` on any node
//! lists them all.

use havre_testkit::Havre;
use havre_testkit::cluster::{PostgresSchema, redis_prefix};

const BIN: &str = env!("CARGO_BIN_EXE_havre");

struct Cluster {
    nodes: Vec<Havre>,
    /// Dropped after the nodes (fields drop in order): their connections
    /// are closed by then.
    schema: PostgresSchema,
    _mail: tempfile::TempDir,
}

/// `count` nodes numbered from 1, every role on each, alice's account made
/// once for all of them, each node then configured by `configure`.
fn cluster(count: u8, configure: impl Fn(&mut Havre)) -> Cluster {
    let schema = PostgresSchema::create_blocking().unwrap();
    let mail = tempfile::tempdir().unwrap();
    let prefix = redis_prefix("cluster");
    let mut nodes = Vec::new();
    for id in 1..=count {
        let mut node = Havre::init(BIN);
        node.join_cluster(id, schema.url(), &prefix, mail.path());
        if id == 1 {
            node.add_user("alice@example.test");
        }
        configure(&mut node);
        node.start();
        nodes.push(node);
    }
    Cluster {
        nodes,
        schema,
        _mail: mail,
    }
}

/// alice IDLEs on `imap_port` while a message goes to `smtp_port`; prints
/// when the EXISTS came, then the subject of the message over IMAP.
const IDLE_WHILE_ANOTHER_NODE_DELIVERS: &str = r#"
import imaplib, ssl, smtplib, sys, threading, time
imap_port, smtp_port = int(sys.argv[1]), int(sys.argv[2])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4("127.0.0.1", imap_port)
m.starttls(ssl_context=ctx)
m.login("alice@example.test", "secret")
m.select("INBOX")
tag = m._new_tag().decode()
m.send(f"{tag} IDLE\r\n".encode())
print("continuation:", m.readline().decode().strip())
sent = {}
def deliver():
    time.sleep(0.3)
    s = smtplib.SMTP("127.0.0.1", smtp_port, timeout=30)
    s.sendmail("bob@remote.test", ["alice@example.test"],
               b"From: bob@remote.test\r\nSubject: across the cluster\r\n\r\nhello\r\n")
    s.quit()
    sent["at"] = time.time()
threading.Thread(target=deliver).start()
m.sock.settimeout(20)
line = m.readline().decode().strip()
print("pushed:", line, "after", round(time.time() - sent.get("at", time.time()), 2))
m.send(b"DONE\r\n")
print("done:", m.readline().decode().strip())
typ, data = m.fetch("1", "(UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
print("fetched:", data[0][0].decode(), data[0][1].decode().strip())
m.logout()
"#;

#[test]
fn mail_accepted_on_one_node_is_pushed_to_an_idle_session_on_another_within_a_second() {
    let cluster = cluster(3, |_| {});
    let (a, b) = (&cluster.nodes[0], &cluster.nodes[1]);
    let out = havre_testkit::python_ok(
        IDLE_WHILE_ANOTHER_NODE_DELIVERS,
        &[&b.imap_port.to_string(), &a.smtp_port.to_string()],
    );
    assert!(out.contains("continuation: + idling"), "{out}");
    let pushed = out
        .lines()
        .find(|l| l.starts_with("pushed:"))
        .unwrap_or_default();
    assert!(pushed.contains("* 1 EXISTS"), "{out}");
    let after: f64 = pushed
        .rsplit(' ')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap();
    assert!(after < 1.0, "the push took {after} s: {out}");
    assert!(out.contains("Subject: across the cluster"), "{out}");
    assert!(out.contains("UID 1 "), "{out}");
    // The message was accepted and delivered by node 1 (its log), and
    // read through node 2.
    assert!(
        a.wait_for_log("to=<alice@example.test>", 1)
            .contains("status=sent"),
        "{}",
        a.log()
    );
}

#[test]
fn cluster_status_lists_every_node_with_its_roles_listeners_and_queue() {
    let cluster = cluster(3, |_| {});
    let c = &cluster.nodes[2];
    let json = c.cli_ok(&["cluster", "status", "--json"]);
    let nodes: serde_json::Value = serde_json::from_str(&json).unwrap();
    let nodes = nodes.as_array().unwrap();
    assert_eq!(nodes.len(), 3, "{json}");
    for (node, havre) in nodes.iter().zip(&cluster.nodes) {
        let id = node["id"].as_u64().unwrap();
        assert_eq!(node["hostname"], format!("node{id}.example.test"));
        assert_eq!(node["answering"], true, "{json}");
        let roles: Vec<&str> = node["roles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        assert!(roles.contains(&"mx") && roles.contains(&"imap"), "{json}");
        let listening = node["listening"].as_str().unwrap();
        assert!(
            listening.contains(&format!("mx 127.0.0.1:{}", havre.smtp_port)),
            "{json}"
        );
        assert!(
            listening.contains(&format!("127.0.0.1:{}", havre.imap_port)),
            "{json}"
        );
        assert_eq!(node["queue"]["active"], 0, "{json}");
    }
    let text = c.cli_ok(&["cluster", "status"]);
    assert!(text.starts_with("NODE "), "{text}");
    assert_eq!(
        text.lines()
            .filter(|l| l.contains(".example.test") && l.contains("s ago"))
            .count(),
        3,
        "{text}"
    );
}

const SEND_FILES: &str = include_str!("support/send_files.py");

#[test]
fn a_message_held_on_one_node_is_in_its_queue_only_and_in_the_clusters_list() {
    let cluster = cluster(2, |node| node.set("attachments.action", "\"quarantine\""));
    let (a, b) = (&cluster.nodes[0], &cluster.nodes[1]);
    // A refused attachment: node 1 keeps the message in its queue, on hold.
    let spec = r#"{"subject": "invoice", "attachments": [{"name": "invoice.exe", "type": "application/octet-stream", "content": "pe"}]}"#;
    let reply = havre_testkit::python_ok(
        SEND_FILES,
        &[&a.smtp_port.to_string(), "alice@example.test", spec],
    );
    let id = reply
        .trim()
        .strip_prefix("250 2.0.0 Ok: queued as ")
        .unwrap_or_else(|| panic!("not queued: {reply}"))
        .to_owned();
    let ids = |listing: &str| -> Vec<(String, Option<u64>)> {
        let list: serde_json::Value = serde_json::from_str(listing).unwrap();
        list.as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["queue_id"].as_str().unwrap().to_owned(),
                    m["node"].as_u64(),
                )
            })
            .collect()
    };
    assert_eq!(
        ids(&a.cli_ok(&["queue", "list", "--json"])),
        [(id.clone(), None)]
    );
    // Node 2's own queue is empty; the cluster's has node 1's message.
    assert_eq!(ids(&b.cli_ok(&["queue", "list", "--json"])), []);
    assert_eq!(
        ids(&b.cli_ok(&["queue", "list", "--all-nodes", "--json"])),
        [(id.clone(), Some(1))]
    );
    let text = b.cli_ok(&["queue", "list", "--all-nodes"]);
    assert!(text.contains("(node 1)"), "{text}");
    let status: serde_json::Value =
        serde_json::from_str(&b.cli_ok(&["cluster", "status", "--json"])).unwrap();
    assert_eq!(status[0]["queue"]["hold"], 1, "{status}");
    assert_eq!(status[1]["queue"]["hold"], 0, "{status}");
}

#[path = "support/student.rs"]
mod student;

#[test]
fn a_students_limit_of_ten_a_minute_holds_across_two_nodes_of_the_cluster() {
    let cluster = cluster(2, |_| {});
    // Made on node 1, known at once to node 2: one store.
    student::add_student(&cluster.nodes[0]);
    student::ten_a_minute_hold_across(&cluster.nodes[0], &cluster.nodes[1]);
}

#[test]
fn a_node_taking_the_id_of_another_that_answers_does_not_start() {
    let cluster = cluster(1, |_| {});
    let mut twin = Havre::init(BIN);
    twin.set("server.node_id", "1");
    twin.set("server.hostname", "\"twin.example.test\"");
    twin.share_storage(cluster.schema.url());
    let said = twin.start_refused();
    assert!(
        said.contains("server.node_id: 1 is the id of node1.example.test, which answered"),
        "{said}"
    );
}

/// Asks `smtp_port` about `RCPT TO:<alice@example.test>` every 20 ms:
/// until the answer changes, for at most 10 s after the file `argv[2]`
/// appears; prints each answer that differs from the last, with how long
/// after the file it came ("-": before the file).
const RCPT_UNTIL_IT_CHANGES: &str = r#"
import os, smtplib, sys, time
port, flag = int(sys.argv[1]), sys.argv[2]
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.ehlo("client.remote.test")
last, since = None, None
while True:
    s.mail("bob@remote.test")
    code, text = s.rcpt("alice@example.test")
    s.rset()
    if since is None and os.path.exists(flag):
        since = time.time()
    answer = f"{code} {text.decode()}"
    if answer != last:
        print(answer, "after", round(time.time() - since, 2) if since else "-", flush=True)
        if last is not None:
            break
        last = answer
    if since and time.time() - since > 10:
        print("unchanged after 10 s", flush=True)
        break
    time.sleep(0.02)
s.quit()
"#;

#[test]
fn a_user_removed_on_one_node_is_refused_at_rcpt_on_another_within_a_second() {
    let cluster = cluster(2, |_| {});
    let (a, b) = (&cluster.nodes[0], &cluster.nodes[1]);
    let flag = tempfile::tempdir().unwrap();
    let removed = flag.path().join("removed");
    let asking = {
        let (port, removed) = (a.smtp_port.to_string(), removed.clone());
        std::thread::spawn(move || {
            havre_testkit::python_ok(RCPT_UNTIL_IT_CHANGES, &[&port, removed.to_str().unwrap()])
        })
    };
    // Node 1 answers alice's RCPT from memory by now (its first lookups
    // started the listener).
    std::thread::sleep(std::time::Duration::from_millis(1500));
    b.cli_ok(&["user", "remove", "alice@example.test"]);
    std::fs::write(&removed, "").unwrap();
    let out = asking.join().unwrap();
    let mut answers = out.lines();
    assert!(
        answers.next().unwrap_or_default().starts_with("250 "),
        "{out}"
    );
    let refused = answers.next().unwrap_or_default();
    assert!(refused.starts_with("550 5.1.1"), "{out}");
    // "-": refused before the removal's command had even returned.
    let after: f64 = match refused.rsplit(' ').next() {
        Some("-") => 0.0,
        seconds => seconds.and_then(|s| s.parse().ok()).unwrap(),
    };
    assert!(after < 1.0, "refused {after} s after the removal: {out}");
}
