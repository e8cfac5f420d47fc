//! SIGHUP and `havre reload`: the configuration is read again and applied to
//! new connections and deliveries without dropping any, the log file is
//! reopened for logrotate, and a file serve would refuse is refused with its
//! file, line and key while the running configuration goes on.

use std::path::Path;

use havre_testkit::{Havre, SinkMode, SmtpSink, dialogue, python_ok, swaks};

const BIN: &str = env!("CARGO_BIN_EXE_havre");

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The 1-based line of `key` in the `[table]` of the file at `path`.
fn line_of(path: &Path, table: &str, key: &str) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    let header = format!("[{table}]");
    let start = text
        .lines()
        .position(|l| l == header)
        .unwrap_or_else(|| panic!("no {header} in {text}"));
    let prefix = format!("{key} ");
    start
        + text
            .lines()
            .skip(start)
            .position(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no {key} in {header}"))
        + 1
}

/// Replaces the line of `key` in `[table]`, as an operator with an editor
/// would, without `config set`'s check.
fn edit(path: &Path, table: &str, key: &str, value: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    let mut current = String::new();
    let mut done = false;
    for line in text.lines() {
        if line.starts_with('[') {
            current = line.trim_matches(|c| c == '[' || c == ']').to_string();
        }
        if !done && current == table && line.starts_with(&format!("{key} ")) {
            out.push(format!("{key} = {value}"));
            done = true;
            continue;
        }
        out.push(line.to_string());
    }
    assert!(done, "no {key} in [{table}] of {text}");
    std::fs::write(path, out.join("\n") + "\n").unwrap();
}

fn greeting(node: &Havre) -> String {
    dialogue(node.smtp_port, "s, f = connect()\nprint(last(f))", &[])
}

#[test]
fn sighup_during_a_load_drops_no_connection_and_every_message_is_accepted() {
    let mut node = Havre::init(BIN);
    node.add_user("alice@example.test");
    node.start();
    let config = node.config_path();
    let out = python_ok(
        r#"
import os, signal, smtplib, sys, threading, time
pid, port, log, config = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
stop = threading.Event()
sent, errors = [0] * 4, []
def client(n):
    # Each client sends transactions back to back, three per connection.
    try:
        while not stop.is_set():
            s = smtplib.SMTP("127.0.0.1", port, timeout=30)
            for _ in range(3):
                s.sendmail("bob@remote.test", ["alice@example.test"],
                           f"Subject: load {n}\r\n\r\nmessage {sent[n]} of client {n}\r\n")
                sent[n] += 1
            s.quit()
    except Exception as e:
        errors.append(f"client {n}: {e!r}")
threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
for t in threads: t.start()
def reloads():
    return open(log).read().count("reload: done")
def wait(until, what):
    deadline = time.time() + 30
    while not until() and not errors:
        if time.time() > deadline:
            errors.append(f"waited 30s for {what}"); return
        time.sleep(0.05)
wait(lambda: min(sent) >= 3, "the first messages")
for i in range(4):
    # Something to apply each time: a new banner.
    text = open(config).read().replace('banner = "ESMTP havre', f'banner = "ESMTP havre{i}', 1)
    open(config + ".new", "w").write(text); os.rename(config + ".new", config)
    before = sum(sent)
    os.kill(pid, signal.SIGHUP)
    wait(lambda: reloads() >= i + 1, f"reload {i + 1}")
    # Clients kept sending across the reload.
    wait(lambda: sum(sent) >= before + 6, "messages after the reload")
stop.set()
for t in threads: t.join()
print("sent", sum(sent))
print("errors", errors)
"#,
        &[
            &node.pid().unwrap().to_string(),
            &node.smtp_port.to_string(),
            &node.dir().join("havre.log").display().to_string(),
            &config.display().to_string(),
        ],
    );
    assert!(out.contains("errors []"), "{out}\n{}", node.log());
    let sent: usize = out
        .lines()
        .find_map(|l| l.strip_prefix("sent "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        !node.wait_for_exit(std::time::Duration::ZERO),
        "serve died: {}",
        node.stderr()
    );
    let delivered = node.wait_for_messages("alice@example.test", sent);
    assert_eq!(delivered.len(), sent, "{}", node.log());
    let log = node.log();
    assert_eq!(
        log.matches("reload: smtp.banner changed").count(),
        4,
        "{log}"
    );
    assert!(greeting(&node).contains("ESMTP havre3"));
}

#[test]
fn a_route_changed_and_reloaded_is_used_by_the_next_message() {
    let first = SmtpSink::start(SinkMode::Accept);
    let second = SmtpSink::start(SinkMode::Accept);
    let mut node = Havre::init(BIN);
    // Loopback clients may relay: the test sends from the MX port.
    node.set("relay.internal_networks", "[\"127.0.0.0/8\"]");
    node.set(
        "relay.routes.\"far.test\"",
        &format!("smtp:[127.0.0.1]:{}", first.port),
    );
    node.start();
    let send = |subject: &str| {
        let out = swaks(&[
            "--server",
            &node.smtp_addr(),
            "--from",
            "alice@example.test",
            "--to",
            "bob@far.test",
            "--header",
            &format!("Subject: {subject}"),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    };
    send("before the reload");
    assert_eq!(first.wait_for(1).len(), 1, "{}", node.log());

    let set = node.cli(&[
        "config",
        "set",
        "relay.routes.\"far.test\"",
        &format!("smtp:[127.0.0.1]:{}", second.port),
    ]);
    assert!(set.status.success(), "{}", stderr(&set));
    node.hup();
    let log = node.wait_for_log("reload: done", 1);
    assert!(log.contains("reload: relay.routes changed"), "{log}");
    send("after the reload");
    let arrived = second.wait_for(1);
    assert_eq!(arrived.len(), 1, "{}", node.log());
    assert!(arrived[0].contains("Subject: after the reload"));
    assert_eq!(first.messages().len(), 1);
}

#[test]
fn limits_and_networks_changed_by_a_reload_apply_to_the_next_session() {
    let mut node = Havre::init(BIN);
    node.add_user("alice@example.test");
    node.start();
    let script = r#"
s, f = connect()
last(f)
s.sendall(b"EHLO client.test\r\n"); print("ehlo:", [l for l in reply(f) if "SIZE" in l])
s.sendall(b"MAIL FROM:<bob@example.test>\r\n"); last(f)
s.sendall(b"RCPT TO:<carol@far.test>\r\n"); print("relay:", last(f))
"#;
    let before = dialogue(node.smtp_port, script, &[]);
    assert!(before.contains("SIZE 26214400"), "{before}");
    assert!(before.contains("relay: 554 5.7.1"), "{before}");
    for (key, value) in [
        ("smtp.message_size_limit", "\"1M\""),
        ("relay.internal_networks", "[\"127.0.0.0/8\"]"),
    ] {
        let set = node.cli(&["config", "set", key, value]);
        assert!(set.status.success(), "{}", stderr(&set));
    }
    node.hup();
    let log = node.wait_for_log("reload: done", 1);
    assert!(
        log.contains("reload: smtp.message_size_limit changed"),
        "{log}"
    );
    assert!(
        log.contains("reload: relay.internal_networks changed"),
        "{log}"
    );
    let after = dialogue(node.smtp_port, script, &[]);
    assert!(after.contains("SIZE 1048576"), "{after}");
    assert!(after.contains("relay: 250"), "{after}");
}

#[test]
fn a_dkim_key_generated_while_serve_runs_signs_after_a_reload() {
    let sink = SmtpSink::start(SinkMode::Accept);
    let mut node = Havre::init(BIN);
    node.set("relay.internal_networks", "[\"127.0.0.0/8\"]");
    node.set(
        "relay.routes.\"far.test\"",
        &format!("smtp:[127.0.0.1]:{}", sink.port),
    );
    node.start();
    let send = || {
        let out = swaks(&[
            "--server",
            &node.smtp_addr(),
            "--from",
            "alice@example.test",
            "--to",
            "bob@far.test",
            "--header",
            "From: Alice <alice@example.test>",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    };
    let signatures = |message: &str| message.matches("DKIM-Signature:").count();
    send();
    assert_eq!(signatures(&sink.wait_for(1)[0]), 1, "{}", node.log());
    let generated = node.cli(&[
        "dkim",
        "generate",
        "example.test",
        "--selector",
        "second",
        "--algorithm",
        "ed25519",
    ]);
    assert!(generated.status.success(), "{}", stderr(&generated));
    let reload = node.cli(&["reload"]);
    assert!(reload.status.success(), "{}", stderr(&reload));
    let log = node.wait_for_log("reload: done", 1);
    assert!(
        log.contains("reload: DKIM keys changed; signing with: ")
            && log.contains("second._domainkey.example.test"),
        "{log}"
    );
    send();
    let messages = sink.wait_for(2);
    assert_eq!(messages.len(), 2, "{}", node.log());
    assert_eq!(signatures(&messages[1]), 2, "{}", messages[1]);
}

#[test]
fn the_log_file_is_reopened_after_logrotate_renames_it() {
    let mut node = Havre::init(BIN);
    node.add_user("alice@example.test");
    node.start();
    let log = node.dir().join("havre.log");
    let rotated = node.dir().join("havre.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    node.hup();
    node.wait_for_log("reload: done", 1);
    let out = swaks(&[
        "--server",
        &node.smtp_addr(),
        "--from",
        "bob@remote.test",
        "--to",
        "alice@example.test",
    ]);
    assert!(out.status.success());
    assert_eq!(node.wait_for_messages("alice@example.test", 1).len(), 1);
    let new = node.wait_for_log("status=sent", 1);
    assert!(new.contains("reload: reading"), "{new}");
    assert!(new.contains("to=<alice@example.test>"), "{new}");
    assert!(!new.contains(" started: roles "), "{new}");
    let old = std::fs::read_to_string(&rotated).unwrap();
    assert!(old.contains(" started: roles "), "{old}");
    assert!(!old.contains("to=<alice@example.test>"), "{old}");
}

#[test]
fn a_bad_file_is_refused_with_file_line_and_key_and_the_running_configuration_is_kept() {
    let mut node = Havre::init(BIN);
    node.add_user("alice@example.test");
    node.set("smtp.banner", "\"ESMTP before\"");
    node.start();
    let config = node.config_path();
    // A banner change and a level the logger would take for a target.
    edit(&config, "smtp", "banner", "\"ESMTP after\"");
    edit(&config, "log", "level", "\"verbose\"");
    let line = line_of(&config, "log", "level");
    node.hup();
    let log = node.wait_for_log("reload refused", 1);
    assert!(
        log.contains(&format!(
            "error: reload refused: {}:{line}: log.level: unknown level \"verbose\"",
            config.display()
        )),
        "{log}"
    );
    assert!(log.contains("the running configuration is kept"), "{log}");
    assert!(!log.contains("smtp.banner changed"), "{log}");
    assert!(greeting(&node).contains("ESMTP before"));
    // The level in use still logs: a delivery is in the log.
    let out = swaks(&[
        "--server",
        &node.smtp_addr(),
        "--from",
        "bob@remote.test",
        "--to",
        "alice@example.test",
    ]);
    assert!(out.status.success());
    assert!(node.wait_for_log("status=sent", 1).contains("status=sent"));

    // `havre reload` says the same on the terminal and does not signal.
    let reload = node.cli(&["reload"]);
    assert!(!reload.status.success());
    let said = stderr(&reload);
    assert!(
        said.contains(&format!(":{line}: log.level: unknown level")),
        "{said}"
    );
    assert!(said.contains("not reloaded"), "{said}");
    assert_eq!(node.log().matches("reload: reading").count(), 1);
}

#[test]
fn a_certificate_that_does_not_load_is_refused_and_starttls_keeps_the_running_one() {
    let mut node = Havre::init(BIN);
    node.start();
    let cert = node.dir().join("tls/cert.pem");
    let before = std::fs::read_to_string(&cert).unwrap();
    std::fs::write(&cert, "not a certificate\n").unwrap();
    node.hup();
    let log = node.wait_for_log("reload refused", 1);
    assert!(log.contains(": tls.cert: "), "{log}");
    assert!(log.contains("no certificate in"), "{log}");
    let out = python_ok(
        r#"
import smtplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=15); s.starttls(context=ctx)
print(ssl.DER_cert_to_PEM_cert(s.sock.getpeercert(binary_form=True)))
"#,
        &[&node.smtp_port.to_string()],
    );
    let der = |pem: &str| {
        pem.lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<String>()
    };
    assert_eq!(der(&out), der(&before));
}

#[test]
fn a_renewed_certificate_is_offered_to_new_handshakes_after_a_reload() {
    let mut node = Havre::init(BIN);
    node.start();
    // Another certificate and key, as a renewal would bring.
    let other = tempfile::tempdir().unwrap();
    let init = std::process::Command::new(BIN)
        .args(["init", "--dir"])
        .arg(other.path().join("n"))
        .args(["--domain", "renewed.test", "--dev"])
        .output()
        .unwrap();
    assert!(init.status.success(), "{}", stderr(&init));
    for file in ["cert.pem", "key.pem"] {
        std::fs::copy(
            other.path().join("n/tls").join(file),
            node.dir().join("tls").join(file),
        )
        .unwrap();
    }
    node.hup();
    let log = node.wait_for_log("reload: done", 1);
    assert!(log.contains("reload: new TLS certificate from"), "{log}");
    let out = python_ok(
        r#"
import smtplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=15); s.starttls(context=ctx)
print(ssl.DER_cert_to_PEM_cert(s.sock.getpeercert(binary_form=True)))
"#,
        &[&node.smtp_port.to_string()],
    );
    let renewed = std::fs::read_to_string(node.dir().join("tls/cert.pem")).unwrap();
    let der = |pem: &str| {
        pem.lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<String>()
    };
    assert_eq!(der(&out), der(&renewed));
}

#[test]
fn havre_reload_applies_a_new_banner_to_new_connections_and_says_what_needs_a_restart() {
    use std::io::{BufRead, BufReader, Write};
    let mut node = Havre::init(BIN);
    node.add_user("alice@example.test");
    // Without serve, `config set` has nothing to add and reload nothing to do.
    let quiet = node.cli(&["config", "set", "smtp.banner", "\"ESMTP first\""]);
    assert!(quiet.status.success());
    assert_eq!(stderr(&quiet), "");
    let nothing = node.cli(&["reload"]);
    assert!(!nothing.status.success());
    assert!(
        stderr(&nothing).contains("no havre serve runs"),
        "{}",
        stderr(&nothing)
    );
    node.start();
    let pid = node.pid().unwrap();
    let pid_file = node.data_dir().join("havre.pid");
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap().trim(),
        pid.to_string()
    );

    // A session opened before the reload goes on with what it had.
    let mut early = BufReader::new(std::net::TcpStream::connect(node.smtp_addr()).unwrap());
    let mut banner = String::new();
    early.read_line(&mut banner).unwrap();
    assert!(banner.contains("ESMTP first"), "{banner}");

    let set = node.cli(&["config", "set", "smtp.banner", "\"ESMTP second\""]);
    assert!(set.status.success());
    assert_eq!(
        stderr(&set).trim(),
        format!("havre: serve is running (pid {pid}): run `havre reload` to apply")
    );
    let moved = node.cli(&["config", "set", "imap.listen", "[\"127.0.0.1:1\"]"]);
    assert!(moved.status.success());
    assert_eq!(
        stderr(&moved).trim(),
        format!(
            "havre: serve is running (pid {pid}): imap.listen only changes when serve restarts"
        )
    );
    let reload = node.cli(&["reload"]);
    assert!(reload.status.success(), "{}", stderr(&reload));
    let said = String::from_utf8_lossy(&reload.stdout);
    assert!(
        said.contains(&format!("serve (pid {pid}) is reloading")),
        "{said}"
    );
    let log = node.wait_for_log("reload: done", 1);
    assert!(log.contains("reload: smtp.banner changed"), "{log}");
    assert!(
        log.contains("warning: reload: imap.listen needs a restart"),
        "{log}"
    );
    assert!(greeting(&node).contains("ESMTP second"));

    // The early session still carries a transaction to its end.
    let mut command = |line: &str| {
        early
            .get_mut()
            .write_all(format!("{line}\r\n").as_bytes())
            .unwrap();
        let mut reply = String::new();
        loop {
            reply.clear();
            early.read_line(&mut reply).unwrap();
            if reply.as_bytes().get(3) != Some(&b'-') {
                return reply.trim().to_string();
            }
        }
    };
    command("EHLO early.test");
    command("MAIL FROM:<bob@remote.test>");
    command("RCPT TO:<alice@example.test>");
    assert!(command("DATA").starts_with("354"));
    let queued = command("Subject: early\r\n\r\nopened before the reload\r\n.");
    assert!(queued.starts_with("250 2.0.0 Ok: queued"), "{queued}");
    assert_eq!(node.wait_for_messages("alice@example.test", 1).len(), 1);

    node.stop();
    assert!(!pid_file.exists(), "the pid file goes with serve");
}

#[test]
fn config_check_finds_what_serve_would_refuse_and_names_file_line_and_key() {
    let node = Havre::init(BIN);
    let config = node.config_path();
    let original = std::fs::read_to_string(&config).unwrap();
    let other = tempfile::tempdir().unwrap();
    let init = std::process::Command::new(BIN)
        .args(["init", "--dir"])
        .arg(other.path().join("n"))
        .args(["--domain", "other.test", "--dev"])
        .output()
        .unwrap();
    assert!(init.status.success());
    let foreign_key = format!(
        "{:?}",
        other.path().join("n/tls/key.pem").display().to_string()
    );
    let taken = format!("[\"127.0.0.1:{}\"]", node.smtp_port);
    let set = |key: &str, value: &str| {
        let out = node.cli(&["config", "set", key, value]);
        assert!(out.status.success(), "{}", stderr(&out));
    };
    // What breaks, where the key is, and what check must say about it.
    type Case<'a> = (&'a str, Box<dyn Fn() + 'a>, (&'a str, &'a str), String);
    let cases: Vec<Case> = vec![
        (
            "a log level that would silence every line",
            Box::new(|| edit(&config, "log", "level", "\"verbose\"")),
            ("log", "level"),
            "log.level: unknown level \"verbose\"".into(),
        ),
        (
            "a route the outbound parser refuses",
            Box::new(|| set("relay.routes.\"far.test\"", "smtp:[192.0.2.1")),
            ("relay.routes", "\"far.test\""),
            "relay.routes.\"far.test\": expected smtp:[host]:port".into(),
        ),
        (
            "a certificate that is not there",
            Box::new(|| set("tls.cert", "tls/missing.pem")),
            ("tls", "cert"),
            "tls.cert: cannot read".into(),
        ),
        (
            "a key that is not the certificate's",
            Box::new(|| edit(&config, "tls", "key", &foreign_key)),
            ("tls", "key"),
            "tls.key: ".into(),
        ),
        (
            "two listeners on one address",
            Box::new(|| edit(&config, "imap", "listen", &taken)),
            ("imap", "listen"),
            format!(
                "imap.listen: 127.0.0.1:{} is also in mx.listen",
                node.smtp_port
            ),
        ),
    ];
    for (what, break_it, (table, key), expected) in cases {
        std::fs::write(&config, &original).unwrap();
        break_it();
        let line = line_of(&config, table, key);
        let out = node.cli(&["config", "check"]);
        let err = stderr(&out);
        assert!(!out.status.success(), "{what}: config check passed");
        assert!(
            err.contains(&format!("havre.toml:{line}: {expected}")),
            "{what}: {err}"
        );
    }
    // Not in the file but refused by serve all the same: a data directory
    // open to other accounts.
    std::fs::write(&config, &original).unwrap();
    assert!(node.cli(&["config", "check"]).status.success());
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(node.data_dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = node.cli(&["config", "check"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(": server.data_dir: ") && err.contains("chmod -R o-rwx"),
        "{err}"
    );
}

#[test]
fn after_the_switch_to_server_user_a_reload_keeps_the_key_only_root_reads_and_applies_the_rest() {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        // Without root there is no switch to show.
        return;
    }
    let mut node = Havre::init(BIN);
    node.set("server.user", "nobody");
    let chown = std::process::Command::new("chown")
        .args(["-R", "nobody:"])
        .arg(node.data_dir())
        .status()
        .unwrap();
    assert!(chown.success());
    node.start();
    let set = node.cli(&["config", "set", "smtp.banner", "\"ESMTP as nobody\""]);
    assert!(set.status.success(), "{}", stderr(&set));
    node.hup();
    let log = node.wait_for_log("reload: done", 1);
    // The TLS files are root's (0700 directory, 0600 key), as `havre init`
    // run by root leaves them.
    assert!(
        log.contains("warning: reload: tls.")
            && log.contains("Permission denied")
            && log.contains("the running certificate is kept: make it readable by nobody"),
        "{log}"
    );
    assert!(log.contains("reload: smtp.banner changed"), "{log}");
    assert!(greeting(&node).contains("ESMTP as nobody"));
    // STARTTLS still offers the certificate serve started with.
    let out = python_ok(
        r#"
import smtplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=15); s.starttls(context=ctx)
print("tls:", s.sock.version())
"#,
        &[&node.smtp_port.to_string()],
    );
    assert!(out.contains("tls: TLS"), "{out}");
}
