//! `havre sieve`: an operator stores, activates and removes users' Sieve
//! scripts, and checks and tries scripts on files.

use std::process::{Command, Output};

use havre_testkit::Havre;

const BIN: &str = env!("CARGO_BIN_EXE_havre");

const LISTS: &str = "require [\"fileinto\", \"imap4flags\"];\n\
                     if header :contains \"List-Id\" \"lists.example\" {\n  \
                     fileinto :flags \"\\\\Seen\" \"Lists\";\n}\n";

const TYPO: &str = "require \"fileinto\";\n\
                    if header :contains \"Subject\" \"x\" {\n  \
                    filein \"Lists\";\n}\n";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `havre sieve ARGS` without any configuration.
fn bare(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("sieve")
        .args(args)
        .env_remove("HAVRE_CONFIG")
        .output()
        .unwrap()
}

#[test]
fn a_script_with_a_typo_is_refused_with_its_line_and_column() {
    let node = Havre::init(BIN);
    node.add_user("alice@example.test");
    let out = node.cli_with_stdin(&["sieve", "put", "alice@example.test", "main"], TYPO);
    assert!(!out.status.success());
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("<stdin>:3:3: unknown command 'filein'"),
        "{stderr}"
    );
    // Nothing was stored.
    assert_eq!(node.cli_ok(&["sieve", "list", "alice@example.test"]), "");
    // The same from a file names the file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("typo.sieve");
    std::fs::write(&file, TYPO).unwrap();
    let file = file.to_str().unwrap();
    let out = node.cli(&["sieve", "put", "alice@example.test", "main", file]);
    assert!(
        text(&out.stderr).contains(&format!("{file}:3:3: unknown command 'filein'")),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_script_is_stored_listed_activated_fetched_and_deleted_only_when_inactive() {
    let node = Havre::init(BIN);
    node.add_user("alice@example.test");
    let user = "alice@example.test";
    let out = node.cli_with_stdin(&["sieve", "put", user, "lists"], LISTS);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = node.cli_with_stdin(&["sieve", "put", user, "other"], "keep;\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(node.cli_ok(&["sieve", "list", user]), "lists\nother\n");
    node.cli_ok(&["sieve", "activate", user, "lists"]);
    assert_eq!(
        node.cli_ok(&["sieve", "list", user]),
        "lists ACTIVE\nother\n"
    );
    let json: serde_json::Value =
        serde_json::from_str(&node.cli_ok(&["sieve", "list", user, "--json"])).unwrap();
    assert_eq!(json[0]["name"], "lists");
    assert_eq!(json[0]["active"], true);
    assert_eq!(json[1]["active"], false);
    assert_eq!(node.cli_ok(&["sieve", "get", user, "lists"]), LISTS);
    // The active script is never deleted.
    let out = node.cli(&["sieve", "delete", user, "lists"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("active script: deactivate it first"),
        "{}",
        text(&out.stderr)
    );
    node.cli_ok(&["sieve", "delete", user, "other"]);
    node.cli_ok(&["sieve", "deactivate", user]);
    assert_eq!(node.cli_ok(&["sieve", "list", user]), "lists\n");
    node.cli_ok(&["sieve", "delete", user, "lists"]);
    assert_eq!(node.cli_ok(&["sieve", "list", user]), "");
    // Unknown users and scripts are named.
    let out = node.cli(&["sieve", "list", "nobody@example.test"]);
    assert!(text(&out.stderr).contains("no user nobody@example.test"));
    let out = node.cli(&["sieve", "activate", user, "missing"]);
    assert!(text(&out.stderr).contains("has no script \"missing\""));
}

#[test]
fn check_says_ok_or_lists_errors_like_a_compiler() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.sieve");
    let bad = dir.path().join("bad.sieve");
    std::fs::write(&good, LISTS).unwrap();
    std::fs::write(
        &bad,
        "require \"fileinto\";\nfilein \"a\";\nredirect \"not an address\";\n",
    )
    .unwrap();
    let out = bare(&["check", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{}: ok\n", good.display()));
    let out = bare(&["check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let b = bad.display();
    assert!(
        stderr.contains(&format!("{b}:2:1: unknown command 'filein'")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{b}:3:10: invalid redirect address 'not an address'"
        )),
        "{stderr}"
    );
}

#[test]
fn test_prints_what_a_script_would_do_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("lists.sieve");
    std::fs::write(&script, LISTS).unwrap();
    let list_mail = dir.path().join("list.eml");
    std::fs::write(
        &list_mail,
        "From: bob@remote.example\r\nTo: alice@example.test\r\n\
         List-Id: <talk.lists.example>\r\nSubject: hi\r\n\r\nhello\r\n",
    )
    .unwrap();
    let plain = dir.path().join("plain.eml");
    std::fs::write(
        &plain,
        "From: bob@remote.example\r\nTo: alice@example.test\r\nSubject: hi\r\n\r\nhello\r\n",
    )
    .unwrap();
    let s = script.to_str().unwrap();
    let out = bare(&["test", s, list_mail.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "fileinto \"Lists\" (flags: \\Seen)\n");
    let out = bare(&["test", s, plain.to_str().unwrap()]);
    assert_eq!(text(&out.stdout), "implicit keep\n");

    // The envelope: given, or guessed from the header.
    let envelope = dir.path().join("envelope.sieve");
    std::fs::write(
        &envelope,
        "require [\"envelope\", \"subaddress\"];\n\
         if envelope :detail \"to\" \"news\" { discard; stop; }\n\
         if envelope :is \"from\" \"bob@remote.example\" { redirect \"carol@example.test\"; }\n",
    )
    .unwrap();
    let e = envelope.to_str().unwrap();
    let out = bare(&["test", e, plain.to_str().unwrap()]);
    assert_eq!(text(&out.stdout), "redirect \"carol@example.test\"\n");
    let out = bare(&[
        "test",
        e,
        plain.to_str().unwrap(),
        "--envelope-from",
        "<>",
        "--envelope-to",
        "alice+news@example.test",
    ]);
    assert_eq!(text(&out.stdout), "discard\n");

    // A run that fails keeps, and says why.
    let failing = dir.path().join("failing.sieve");
    std::fs::write(
        &failing,
        "require \"include\";\ninclude :personal \"missing\";\n",
    )
    .unwrap();
    let out = bare(&["test", failing.to_str().unwrap(), plain.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("implicit keep"));
    assert!(
        text(&out.stderr).contains("line 2"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_script_name_a_managesieve_client_could_not_use_is_refused_and_a_long_one_it_can_is_taken() {
    let node = Havre::init(BIN);
    node.add_user("alice@example.test");
    let out = node.cli_with_stdin(&["sieve", "put", "alice@example.test", "tab\there"], LISTS);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("Script name holds control characters."),
        "{}",
        text(&out.stderr)
    );
    // 200 characters: ManageSieve takes up to 255 octets, and so does the CLI.
    let long = "n".repeat(200);
    let out = node.cli_with_stdin(&["sieve", "put", "alice@example.test", &long], LISTS);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = node.cli_with_stdin(
        &["sieve", "put", "alice@example.test", &"n".repeat(256)],
        LISTS,
    );
    assert!(
        text(&out.stderr).contains("Script name is too long."),
        "{}",
        text(&out.stderr)
    );
}
