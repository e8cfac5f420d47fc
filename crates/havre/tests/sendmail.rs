//! `sendmail` and `mailq`, as cron, PHP's mail() and scripts use them: the
//! message goes into the queue of the running node as the calling Unix
//! account, and the exit status says whether it did.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use havre_testkit::{Havre, free_port, swaks};

const BIN: &str = env!("CARGO_BIN_EXE_havre");

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `command` with `stdin` fed to it.
fn run(mut command: Command, stdin: &str) -> Output {
    use std::io::Write;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let _ = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes());
    child.wait_with_output().expect("output")
}

/// The account a script runs as: `nobody` when the tests run as root (the
/// real case: cron jobs of other accounts), else the account running them.
fn script_account() -> (String, Option<&'static str>) {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } == 0 {
        ("nobody".into(), Some("nobody"))
    } else {
        let name = Command::new("id").arg("-un").output().expect("id -un");
        (text(&name.stdout).trim().to_string(), None)
    }
}

/// A node with alice, started; its directory reachable by other accounts
/// (the temporary directory above it is private), as /etc/havre is.
fn node() -> Havre {
    let node = Havre::init(BIN);
    node.add_user("alice@example.test");
    let above = node.dir().parent().expect("parent").to_path_buf();
    std::fs::set_permissions(&above, std::fs::Permissions::from_mode(0o711)).unwrap();
    node
}

/// `sh SCRIPT`, as `account` when given (setpriv, no supplementary groups).
fn sh_as(account: Option<&str>, script: &Path) -> Output {
    let command = match account {
        Some(account) => {
            let mut c = Command::new("setpriv");
            c.args([
                &format!("--reuid={account}"),
                "--regid=nogroup",
                "--clear-groups",
                "sh",
            ])
            .arg(script);
            c
        }
        None => {
            let mut c = Command::new("sh");
            c.arg(script);
            c
        }
    };
    run(command, "")
}

fn write_script(node: &Havre, name: &str, body: &str) -> PathBuf {
    let path = node.dir().join(name);
    std::fs::write(&path, body).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn a_cron_like_script_pipes_a_message_into_havre_sendmail_t_and_it_arrives_from_the_mapped_sender()
{
    let mut node = node();
    let (account, run_as) = script_account();
    node.set(
        "sendmail.canonical",
        &format!("{{ \"{account}\" = \"robot@example.test\" }}"),
    );
    node.start();
    let script = write_script(
        &node,
        "nightly.sh",
        &format!(
            "#!/bin/sh\n\
             printf 'To: alice\\nCc: Alice <alice@example.test>\\nBcc: alice\\nSubject: nightly report\\n\\n\
             all good\\n.\\nnot part of the message\\n' \\\n\
             | {BIN} --config {} sendmail -t\n",
            node.config_path().display()
        ),
    );
    let out = sh_as(run_as, &script);
    assert!(
        out.status.success(),
        "exit {:?}: {}{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(
        text(&out.stdout),
        "",
        "cron mails any output: there is none"
    );
    let messages = node.wait_for_messages("alice@example.test", 1);
    let message = &messages[0];
    assert!(
        message.starts_with("Return-Path: <robot@example.test>"),
        "the caller's canonical address is the sender: {message}"
    );
    // SAFETY: getuid has no preconditions.
    let uid = if run_as.is_some() {
        65534
    } else {
        unsafe { libc::getuid() }
    };
    assert!(
        message.contains(&format!("(havre, from userid {uid})")),
        "the uid the kernel gave is in the trace: {message}"
    );
    let from = message
        .lines()
        .find(|l| l.starts_with("From: "))
        .expect("a From: header is added");
    assert!(from.contains("robot@example.test"), "{from}");
    assert!(message.contains("\nDate: "), "{message}");
    assert!(message.contains("\nMessage-ID: <"), "{message}");
    assert!(!message.contains("Bcc:"), "Bcc: is removed: {message}");
    assert!(message.contains("all good"), "{message}");
    assert!(
        !message.contains("not part of the message"),
        "a lone dot ends the message without -i: {message}"
    );
    // To, Cc and Bcc named alice three ways: one copy.
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(node.messages("alice@example.test").len(), 1);
    // Postfix's pickup line, which pflogsumm counts as a message received.
    assert!(node.log().contains("havre/pickup["), "{}", node.log());
    assert!(
        node.log()
            .contains(&format!("uid={uid} from=<robot@example.test>")),
        "{}",
        node.log()
    );
    assert!(
        node.log().contains(&format!("uid={uid} ({account})")),
        "{}",
        node.log()
    );
}

#[test]
fn cron_calling_the_sendmail_symlink_with_its_usual_options_delivers_to_an_unqualified_user() {
    let mut node = node();
    node.start();
    let link = node.dir().join("sendmail");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    // Debian's cron: sendmail -FCronDaemon -i -B8BITMIME -oem USER.
    let script = write_script(
        &node,
        "cron.sh",
        &format!(
            "#!/bin/sh\n\
             printf 'From: root (Cron Daemon)\\nTo: alice\\nSubject: Cron <root@host> ./backup\\n\\n\
             backup done\\n.\\nstill the output\\n' \\\n\
             | HAVRE_CONFIG={} {} -FCronDaemon -i -B8BITMIME -oem alice\n",
            node.config_path().display(),
            link.display()
        ),
    );
    let (_, run_as) = script_account();
    let out = sh_as(run_as, &script);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let messages = node.wait_for_messages("alice@example.test", 1);
    let message = &messages[0];
    assert!(
        message.contains("From: root (Cron Daemon)\n"),
        "a From: header is kept: {message}"
    );
    assert!(
        message.contains("backup done\n.\nstill the output"),
        "-i: a lone dot is text: {message}"
    );
}

#[test]
fn sendmail_bs_speaks_smtp_on_standard_input_and_output() {
    let mut node = node();
    node.start();
    let mut command = Command::new(BIN);
    command
        .arg("--config")
        .arg(node.config_path())
        .args(["sendmail", "-bs"]);
    // Typed as a person would: LF line ends.
    let out = run(
        command,
        "EHLO me\nMAIL FROM:<root>\nRCPT TO:<alice>\nDATA\nSubject: by hand\n\nhello\n.\nQUIT\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.starts_with("220 mx.example.test"), "{said}");
    assert!(
        said.contains("250 2.1.0 <root@example.test>... Sender ok"),
        "unqualified names are completed with the origin: {said}"
    );
    assert!(
        said.contains("250 2.1.5 <alice@example.test>... Recipient ok"),
        "{said}"
    );
    assert!(said.contains("250 2.0.0 Ok: queued as "), "{said}");
    assert!(said.contains("221 2.0.0 Bye"), "{said}");
    let messages = node.wait_for_messages("alice@example.test", 1);
    assert!(messages[0].contains("Subject: by hand"), "{}", messages[0]);
    assert!(messages[0].starts_with("Return-Path: <root@example.test>"));
}

#[test]
fn mailq_through_a_symlink_lists_the_queue() {
    let mut node = node();
    let dead = free_port();
    node.set(
        "relay.routes",
        &format!("{{ \"partner.test\" = \"smtp:[127.0.0.1]:{dead}\" }}"),
    );
    node.start();
    let out = swaks(&[
        "--server",
        &node.smtp_addr(),
        "--from",
        "sender@remote.test",
        "--to",
        "alice@example.test",
    ]);
    assert!(out.status.success());
    let mut command = Command::new(BIN);
    command.arg("--config").arg(node.config_path()).args([
        "sendmail",
        "-i",
        "someone@partner.test",
    ]);
    let sent = run(command, "Subject: out\n\nstuck\n");
    assert!(sent.status.success(), "{}", text(&sent.stderr));
    let link = node.dir().join("mailq");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let mut listed = String::new();
    for _ in 0..100 {
        let out = Command::new(&link)
            .env("HAVRE_CONFIG", node.config_path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        listed = text(&out.stdout);
        if listed.contains("someone@partner.test") && listed.contains('(') {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(listed.starts_with("-Queue ID-"), "{listed}");
    assert!(listed.contains("someone@partner.test"), "{listed}");
    assert!(listed.contains("root@example.test"), "the sender: {listed}");
    // The two listings are taken moments apart: a retry falling due in
    // between turns the message's mark to `*` (active), so marks aside.
    assert_eq!(
        without_marks(&listed),
        without_marks(&node.cli_ok(&["queue", "list"])),
        "mailq is havre queue list"
    );
}

#[test]
fn without_a_running_serve_sendmail_exits_75_and_says_the_message_was_not_queued() {
    let node = node();
    let mut command = Command::new(BIN);
    command
        .arg("--config")
        .arg(node.config_path())
        .args(["sendmail", "alice"]);
    let out = run(command, "Subject: lost?\n\nno\n");
    assert_eq!(out.status.code(), Some(75), "EX_TEMPFAIL");
    let said = text(&out.stderr);
    assert!(said.contains("cannot reach havre serve"), "{said}");
    assert!(said.contains("not queued"), "{said}");
}

#[test]
fn a_refused_recipient_is_named_and_the_exit_status_is_67_while_the_others_get_the_message() {
    let mut node = node();
    node.start();
    let mut command = Command::new(BIN);
    command.arg("--config").arg(node.config_path()).args([
        "sendmail",
        "alice",
        "nosuch@example.test",
    ]);
    let out = run(command, "Subject: two\n\nhello\n");
    assert_eq!(out.status.code(), Some(67), "EX_NOUSER");
    let said = text(&out.stderr);
    assert!(said.contains("queued as "), "{said}");
    assert!(
        said.contains("nosuch@example.test: 550 5.1.1"),
        "the refused one and why: {said}"
    );
    node.wait_for_messages("alice@example.test", 1);
}

/// A listing without the mark mailq puts after a queue id (`*` active,
/// `!` on hold), which follows the retry schedule from one moment to the next.
fn without_marks(listing: &str) -> String {
    listing
        .lines()
        .map(|line| match line.split_once(' ') {
            Some((id, rest)) if id.ends_with(['*', '!']) => {
                format!("{} {rest}", &id[..id.len() - 1])
            }
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}
