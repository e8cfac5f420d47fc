//! The operator's everyday tools beyond adding users: doveadm's who, kick
//! and auth test, user modify, postconf -X and multi-key lookups, JSON for
//! scripts, and a version that names the build.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};

use havre_testkit::imap::IMAPLIB_PRELUDE;
use havre_testkit::{Havre, swaks};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_havre");

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json(node: &Havre, args: &[&str]) -> Value {
    let out = node.cli_ok(args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {out}"))
}

/// A client that stays logged in and prints what the server says until it
/// hangs up: an IMAP session in IDLE, or a POP3 session between commands.
struct Client {
    child: Child,
    lines: BufReader<ChildStdout>,
}

impl Client {
    fn start(script: &str, port: u16) -> Client {
        use std::io::Write;
        let mut child = Command::new("python3")
            .args(["-", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap());
        let mut client = Client { child, lines };
        let first = client.line();
        assert_eq!(first.trim(), "logged in", "{first}");
        client
    }

    fn imap(node: &Havre) -> Client {
        let script = format!(
            "{IMAPLIB_PRELUDE}\n\
             m = connect()\n\
             m.select('INBOX')\n\
             print('logged in', flush=True)\n\
             m.send(m._new_tag() + b' IDLE\\r\\n')\n\
             while True:\n    \
                 try:\n        line = m._get_line()\n    \
                 except Exception as e:\n        print('closed', flush=True); break\n    \
                 print(line.decode(), flush=True)\n"
        );
        Client::start(&script, node.imap_port)
    }

    fn pop3(node: &Havre) -> Client {
        let script = "import poplib, ssl, sys\n\
             ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
             p = poplib.POP3('127.0.0.1', int(sys.argv[1])); p.stls(context=ctx)\n\
             p.user('alice@example.test'); p.pass_('secret')\n\
             print('logged in', flush=True)\n\
             print(p.file.readline().decode().strip(), flush=True)\n\
             print('closed' if p.file.readline() == b'' else 'more', flush=True)\n";
        Client::start(script, node.pop3_port)
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.lines.read_line(&mut line).expect("client output");
        line
    }

    /// What it printed until the server closed the connection.
    fn until_closed(mut self) -> String {
        let mut all = String::new();
        loop {
            let line = self.line();
            if line.is_empty() || line.trim() == "closed" {
                let _ = self.child.wait();
                return all;
            }
            all.push_str(&line);
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn started_node() -> Havre {
    let mut node = Havre::init(BIN);
    node.add_user("alice@example.test");
    node.add_user("bob@example.test");
    node.start();
    node
}

/// Waits until `havre who` lists `count` sessions.
fn who_until(node: &Havre, count: usize) -> Value {
    for _ in 0..100 {
        let listed = json(node, &["who", "--json"]);
        if listed.as_array().map(Vec::len) == Some(count) {
            return listed;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!(
        "who never listed {count} sessions: {}",
        node.cli_ok(&["who"])
    );
}

#[test]
fn who_lists_the_imap_and_pop3_sessions_and_kick_closes_those_of_one_user() {
    let node = started_node();
    let imap = Client::imap(&node);
    let pop3 = Client::pop3(&node);
    let listed = who_until(&node, 2);
    let mut protocols: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(s["user"], "alice@example.test", "{s}");
            assert_eq!(s["client"], "127.0.0.1", "{s}");
            assert!(s["session"].as_u64().is_some(), "{s}");
            assert!(s["since"].as_str().unwrap().ends_with('Z'), "{s}");
            s["protocol"].as_str().unwrap()
        })
        .collect();
    protocols.sort();
    assert_eq!(protocols, ["imap", "pop3"]);
    let table = node.cli_ok(&["who"]);
    assert!(table.starts_with("username"), "{table}");
    assert_eq!(table.matches("alice@example.test").count(), 2, "{table}");
    assert!(
        node.cli_ok(&["who", "bob@example.test"]).lines().count() == 1,
        "bob has no session: only the heading"
    );

    let out = node.cli(&["kick", "bob@example.test"]);
    assert!(!out.status.success(), "nobody to kick is said");
    assert!(text(&out.stderr).contains("no IMAP, POP3 or ManageSieve session"));

    assert_eq!(
        node.cli_ok(&["kick", "alice@example.test"]),
        "alice@example.test: 2 session(s) closed\n"
    );
    let said = imap.until_closed();
    assert!(
        said.contains("* BYE Disconnected by the administrator."),
        "{said}"
    );
    let said = pop3.until_closed();
    assert!(
        said.contains("-ERR Disconnected by the administrator."),
        "{said}"
    );
    who_until(&node, 0);
    assert!(
        node.log().contains("Kicked by the administrator"),
        "{}",
        node.log()
    );
}

#[test]
fn who_and_kick_say_when_serve_is_not_running() {
    let node = Havre::init(BIN);
    let out = node.cli(&["who"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("havre serve is not running"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_disabled_user_cannot_log_in_is_kicked_and_still_receives_mail_until_enabled() {
    let node = started_node();
    let imap = Client::imap(&node);
    who_until(&node, 1);
    let out = node.cli_ok(&["user", "modify", "alice@example.test", "--disable"]);
    assert!(
        out.contains("disabled: logins refused, mail still delivered"),
        "{out}"
    );
    assert!(
        out.contains("1 session(s) on the running node closed"),
        "{out}"
    );
    assert!(imap.until_closed().contains("* BYE"));

    let login = havre_testkit::imap::imaplib(
        &node,
        "try:\n    connect(); print('in')\nexcept imaplib.IMAP4.error as e:\n    print('refused:', e)\n",
    );
    assert!(login.starts_with("refused:"), "{login}");
    assert!(
        node.log()
            .contains("login of alice@example.test refused: the account is disabled"),
        "the operator sees why: {}",
        node.log()
    );
    let auth = node.cli_with_stdin(&["auth", "test", "alice@example.test"], "secret\n");
    assert_eq!(auth.status.code(), Some(77), "doveadm's EX_NOPERM");
    assert_eq!(
        text(&auth.stdout),
        "passdb: alice@example.test auth failed\n"
    );
    assert!(text(&auth.stderr).contains("account is disabled"));

    let sent = swaks(&[
        "--server",
        &node.smtp_addr(),
        "--from",
        "someone@remote.test",
        "--to",
        "alice@example.test",
    ]);
    assert!(
        text(&sent.stdout).contains("250 2.0.0 Ok: queued"),
        "mail is still taken"
    );
    node.wait_for_messages("alice@example.test", 1);
    let shown = json(&node, &["user", "show", "alice@example.test", "--json"]);
    assert_eq!(shown["disabled"], true);
    assert!(node.cli_ok(&["user", "list"]).contains("disabled"));

    node.cli_ok(&["user", "modify", "alice@example.test", "--enable"]);
    let login = havre_testkit::imap::imaplib(&node, "connect(); print('in')\n");
    assert_eq!(login.trim(), "in");
}

#[test]
fn user_modify_changes_class_quota_and_password_and_nothing_else() {
    let node = Havre::init(BIN);
    node.add_user("alice@example.test");
    let out = node.cli_with_stdin(
        &[
            "user",
            "modify",
            "alice@example.test",
            "--class",
            "staff",
            "--quota",
            "2G",
            "--password-stdin",
        ],
        "n3w-secret\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "user alice@example.test: class staff, quota 2G, password changed\n"
    );
    let shown = json(&node, &["user", "show", "alice@example.test", "--json"]);
    assert_eq!(shown["class"], "staff");
    assert_eq!(shown["quota"], 2u64 << 30);
    assert_eq!(shown["disabled"], false);
    let auth = node.cli_with_stdin(&["auth", "test", "alice@example.test"], "n3w-secret\n");
    assert!(auth.status.success(), "{}", text(&auth.stderr));
    assert!(text(&auth.stdout).starts_with("passdb: alice@example.test auth succeeded\n"));
    node.cli_ok(&[
        "user",
        "modify",
        "alice@example.test",
        "--quota",
        "unlimited",
    ]);
    let shown = json(&node, &["user", "show", "alice@example.test", "--json"]);
    assert_eq!(shown["quota"], Value::Null);
    assert_eq!(shown["class"], "staff", "kept");

    let out = node.cli(&["user", "modify", "alice@example.test"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("nothing to change"));
    let out = node.cli(&["user", "modify", "nobody@example.test", "--class", "x"]);
    assert!(text(&out.stderr).contains("no user nobody@example.test"));
}

#[test]
fn auth_test_says_why_a_login_fails() {
    let node = Havre::init(BIN);
    node.add_user("alice@example.test");
    node.cli_ok(&["user", "add", "nopass@example.test"]);
    for (user, password, why) in [
        ("alice@example.test", "wrong", "wrong password"),
        ("ghost@example.test", "secret", "no such user"),
        ("nopass@example.test", "x", "has no password"),
    ] {
        let out = node.cli_with_stdin(&["auth", "test", user], &format!("{password}\n"));
        assert_eq!(out.status.code(), Some(77), "{user}");
        assert!(
            text(&out.stderr).contains(why),
            "{user}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn config_get_takes_several_keys_and_unset_brings_a_key_back_to_its_default() {
    let mut node = Havre::init(BIN);
    node.set("smtp.banner", "Welcome");
    assert_eq!(
        node.cli_ok(&["config", "get", "smtp.banner"]),
        "\"Welcome\"\n"
    );
    assert_eq!(
        node.cli_ok(&["config", "get", "smtp.banner", "server.hostname"]),
        "smtp.banner = \"Welcome\"\nserver.hostname = \"mx.example.test\"\n"
    );
    let got = json(
        &node,
        &[
            "config",
            "get",
            "smtp.banner",
            "smtp.message_size_limit",
            "--json",
        ],
    );
    assert_eq!(got["smtp.banner"], "Welcome");
    assert_eq!(got["smtp.message_size_limit"], "25M");
    let out = node.cli(&["config", "get", "smtp.banner", "smtp.baner"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("smtp.banner"), "a suggestion");

    let said = node.cli_ok(&["config", "unset", "smtp.banner"]);
    assert!(said.starts_with("smtp.banner removed from "), "{said}");
    assert_eq!(
        node.cli_ok(&["config", "get", "smtp.banner"]),
        "\"ESMTP havre\"\n"
    );
    let file = std::fs::read_to_string(node.config_path()).unwrap();
    assert!(!file.contains("Welcome"), "{file}");
    assert!(
        file.contains("[smtp]"),
        "the rest of the file stays: {file}"
    );
    assert!(
        node.cli_ok(&["config", "unset", "smtp.banner"])
            .contains("is not set"),
        "a second unset changes nothing"
    );
    assert!(
        !node
            .cli_ok(&["config", "show", "--non-default"])
            .contains("smtp.banner")
    );
}

#[test]
fn every_list_and_show_command_prints_json_for_scripts() {
    let node = Havre::init(BIN);
    node.add_user("alice@example.test");
    node.cli_ok(&["alias", "add", "team@example.test", "alice@example.test"]);
    assert_eq!(
        json(&node, &["domain", "list", "--json"]),
        serde_json::json!(["example.test"])
    );
    let users = json(&node, &["user", "list", "--json"]);
    assert_eq!(users[0]["email"], "alice@example.test");
    assert_eq!(users[0]["password_scheme"], "ARGON2ID");
    let alice = json(&node, &["user", "show", "alice@example.test", "--json"]);
    assert!(
        alice["maildir"]
            .as_str()
            .unwrap()
            .ends_with("alice/Maildir")
    );
    assert_eq!(
        json(&node, &["alias", "list", "--json"]),
        serde_json::json!([{"address": "team@example.test", "targets": ["alice@example.test"]}])
    );
    let keys = json(&node, &["dkim", "list", "--json"]);
    assert_eq!(keys[0]["domain"], "example.test");
    assert_eq!(keys[0]["signs"], true);
    assert_eq!(keys[0]["dns_name"], "havre._domainkey.example.test");
    assert_eq!(
        json(&node, &["queue", "list", "--json"]),
        serde_json::json!([])
    );
    let config = json(&node, &["config", "show", "--json"]);
    assert_eq!(config["server.hostname"], "mx.example.test");
    assert!(config["mx.listen"].is_array());
    let defaults = json(&node, &["config", "show", "--defaults", "--json"]);
    assert_eq!(defaults["smtp.message_size_limit"], "25M");
}

#[test]
fn queue_list_and_show_in_json_use_postqueue_field_names() {
    let mut node = Havre::init(BIN);
    node.add_user("alice@example.test");
    let dead = havre_testkit::free_port();
    node.set(
        "relay.routes",
        &format!("{{ \"partner.test\" = \"smtp:[127.0.0.1]:{dead}\" }}"),
    );
    node.cli_ok(&["alias", "add", "fwd@example.test", "someone@partner.test"]);
    node.start();
    swaks(&[
        "--server",
        &node.smtp_addr(),
        "--from",
        "sender@remote.test",
        "--to",
        "fwd@example.test",
    ]);
    let mut listed = Value::Null;
    for _ in 0..100 {
        listed = json(&node, &["queue", "list", "--json"]);
        if listed[0]["recipients"][0]["delay_reason"].is_string() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let message = &listed[0];
    assert_eq!(message["sender"], "sender@remote.test");
    assert!(message["arrival_time"].as_i64().unwrap() > 0);
    assert!(message["message_size"].as_u64().unwrap() > 0);
    assert!(["active", "deferred"].contains(&message["queue_name"].as_str().unwrap()));
    assert_eq!(message["recipients"][0]["address"], "someone@partner.test");
    let id = message["queue_id"].as_str().unwrap();
    let shown = json(&node, &["queue", "show", id, "--body", "--json"]);
    assert_eq!(shown["id"], id);
    assert_eq!(shown["recipients"][0]["orig"], "fwd@example.test");
    assert_eq!(shown["recipients"][0]["status"], "pending");
    assert!(shown["headers"].as_str().unwrap().contains("Received: "));
    assert!(
        shown["body"]
            .as_str()
            .unwrap()
            .contains("This is a test mailing")
    );
}

#[test]
fn the_version_names_the_git_commit_it_was_built_from() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    let said = text(&out.stdout);
    assert!(
        said.starts_with(&format!("havre {}", env!("CARGO_PKG_VERSION"))),
        "{said}"
    );
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output();
    if let Ok(head) = head
        && head.status.success()
    {
        let commit = text(&head.stdout).trim().to_string();
        assert_eq!(
            said.trim(),
            format!("havre {} (git {commit})", env!("CARGO_PKG_VERSION"))
        );
    }
}
