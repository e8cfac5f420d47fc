//! The operator's command line: init, config (postconf-like), domain, user, alias.

use std::process::Command;

use havre_testkit::Havre;

const BIN: &str = env!("CARGO_BIN_EXE_havre");

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn init_writes_a_commented_config_a_certificate_and_the_data_dirs() {
    let node = Havre::init(BIN);
    let text = std::fs::read_to_string(node.config_path()).unwrap();
    // Every key is documented with its default next to it.
    assert!(text.contains("message_size_limit"));
    let comment_lines = text
        .lines()
        .filter(|l| l.trim_start().starts_with('#'))
        .count();
    assert!(comment_lines > 20, "{text}");
    assert!(node.dir().join("tls/cert.pem").exists());
    assert!(node.dir().join("tls/key.pem").exists());
    assert!(node.data_dir().join("havre.db").exists());
    assert_eq!(node.cli_ok(&["domain", "list"]), "example.test\n");
    // --dev: loopback high ports.
    let fresh = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["init", "--dir"])
        .arg(fresh.path())
        .args(["--domain", "example.org", "--dev"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = Command::new(BIN)
        .arg("--config")
        .arg(fresh.path().join("havre.toml"))
        .args(["config", "get", "mx.listen"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&shown.stdout).trim(),
        r#"["127.0.0.1:2525"]"#
    );
    // Never overwrites.
    let again = Command::new(BIN)
        .args(["init", "--dir"])
        .arg(fresh.path())
        .args(["--domain", "example.org"])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn init_dev_on_another_loopback_address_keeps_the_dev_ports_there_for_a_backend_of_the_one_machine_layout()
 {
    let fresh = tempfile::tempdir().unwrap();
    let init = |dir: &std::path::Path, extra: &[&str]| {
        Command::new(BIN)
            .args(["init", "--dir"])
            .arg(dir)
            .args(["--domain", "example.org"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = init(
        &fresh.path().join("b2"),
        &["--dev", "--address", "127.0.0.2"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let config = fresh.path().join("b2/havre.toml");
    for (key, listen) in [
        ("imap.listen", "127.0.0.2:2143"),
        ("pop3.listen", "127.0.0.2:2110"),
        ("managesieve.listen", "127.0.0.2:4190"),
        ("lmtp.listen", "127.0.0.2:2424"),
        ("imap.tls_listen", "127.0.0.2:2993"),
        ("mx.listen", "127.0.0.2:2525"),
        ("http.listen", "127.0.0.2:8080"),
    ] {
        let shown = Command::new(BIN)
            .arg("--config")
            .arg(&config)
            .args(["config", "get", key])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&shown.stdout).trim(),
            format!("[\"{listen}\"]"),
            "{key}"
        );
    }
    // Only with --dev, only on loopback.
    let out = init(&fresh.path().join("x"), &["--address", "127.0.0.3"]);
    assert!(stderr(&out).contains("--dev"), "{}", stderr(&out));
    let out = init(
        &fresh.path().join("y"),
        &["--dev", "--address", "192.0.2.1"],
    );
    assert!(
        stderr(&out).contains("--address 192.0.2.1: --dev listens on loopback only"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_one_machine_layout_of_the_topology_docs_makes_five_nodes_serve_would_take() {
    let site = tempfile::tempdir().unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/topology/one-machine"
    );
    let out = Command::new("sh")
        .arg(script)
        .arg(site.path())
        .arg("postgres://havre@127.0.0.1/havre")
        .env("HAVRE", BIN)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("director add 127.0.0.2"), "{printed}");
    let get = |node: &str, key: &str| {
        let out = Command::new(BIN)
            .arg("--config")
            .arg(site.path().join(node).join("havre.toml"))
            .args(["config", "get", key])
            .output()
            .unwrap();
        assert!(out.status.success(), "{node} {key}: {}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    for node in ["backend2", "backend3", "backend4", "director", "mx"] {
        let check = Command::new(BIN)
            .arg("--config")
            .arg(site.path().join(node).join("havre.toml"))
            .args(["config", "check"])
            .output()
            .unwrap();
        assert!(check.status.success(), "{node}: {}", stderr(&check));
        assert_eq!(get(node, "state.backend"), "\"redis\"", "{node}");
        assert_eq!(get(node, "storage.backend"), "\"postgres\"", "{node}");
    }
    // Backends named by their address alone: the director reaches them on
    // the ports of its own listeners.
    assert_eq!(get("backend3", "imap.listen"), "[\"127.0.0.3:2143\"]");
    assert_eq!(get("director", "imap.listen"), "[\"127.0.0.1:2143\"]");
    assert_eq!(get("director", "director.backend_ports.imap"), "0");
    assert_eq!(get("director", "server.roles"), "[\"director\"]");
    assert_eq!(
        get("mx", "routing.\"example.test\""),
        "\"lmtp:[127.0.0.1]:2424\""
    );
}

#[test]
fn serve_without_a_config_says_where_it_looked_and_what_to_run() {
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg("serve")
        .current_dir(empty.path())
        .env_remove("HAVRE_CONFIG")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("no configuration found"), "{err}");
    assert!(err.contains("havre.toml"), "{err}");
    assert!(err.contains("/etc/havre/havre.toml"), "{err}");
    assert!(err.contains("havre init"), "{err}");
}

#[test]
fn the_config_is_found_through_havre_config_and_the_current_directory() {
    let node = Havre::init(BIN);
    let by_env = Command::new(BIN)
        .args(["config", "get", "server.hostname"])
        .env("HAVRE_CONFIG", node.config_path())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&by_env.stdout).trim(),
        "\"mx.example.test\""
    );
    let by_cwd = Command::new(BIN)
        .args(["config", "get", "server.hostname"])
        .env_remove("HAVRE_CONFIG")
        .current_dir(node.dir())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&by_cwd.stdout).trim(),
        "\"mx.example.test\""
    );
}

#[test]
fn config_show_non_default_lists_what_the_operator_changed_like_postconf_n() {
    let mut node = Havre::init(BIN);
    node.set("smtp.message_size_limit", "50M");
    let shown = node.cli_ok(&["config", "show", "--non-default"]);
    assert!(
        shown.contains("smtp.message_size_limit = \"50M\"\n"),
        "{shown}"
    );
    assert!(
        shown.contains("server.hostname = \"mx.example.test\"\n"),
        "{shown}"
    );
    assert!(!shown.contains("smtp.recipient_limit"), "{shown}");
    let defaults = node.cli_ok(&["config", "show", "--defaults"]);
    assert!(
        defaults.contains("smtp.message_size_limit = \"25M\"\n"),
        "{defaults}"
    );
    assert!(
        defaults.contains("smtp.recipient_limit = 1000\n"),
        "{defaults}"
    );
    let all = node.cli_ok(&["config", "show"]);
    assert!(all.contains("smtp.recipient_limit = 1000\n"), "{all}");
    assert!(all.contains("smtp.message_size_limit = \"50M\"\n"), "{all}");
}

#[test]
fn config_show_hides_the_database_password_and_config_get_gives_it() {
    let mut node = Havre::init(BIN);
    node.set("storage.url", "\"postgres://havre:s3cr3t@db1:5432/havre\"");
    for args in [
        &["config", "show"][..],
        &["config", "show", "--non-default"],
        &["config", "show", "--json"],
    ] {
        let shown = node.cli_ok(args);
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(
            shown.contains("postgres://havre:***@db1:5432/havre"),
            "{shown}"
        );
    }
    let url = node.cli_ok(&["config", "get", "storage.url"]);
    assert_eq!(url.trim(), "\"postgres://havre:s3cr3t@db1:5432/havre\"");
}

#[test]
fn config_set_keeps_comments_and_refuses_what_would_not_load() {
    let mut node = Havre::init(BIN);
    let before = std::fs::read_to_string(node.config_path()).unwrap();
    let comments = |t: &str| {
        t.lines()
            .filter(|l| l.trim_start().starts_with('#'))
            .count()
    };
    // A plain string that is not TOML is taken as a string.
    node.set("smtp.banner", "ESMTP ready");
    assert_eq!(
        node.cli_ok(&["config", "get", "smtp.banner"]).trim(),
        "\"ESMTP ready\""
    );
    let after = std::fs::read_to_string(node.config_path()).unwrap();
    assert_eq!(comments(&before), comments(&after));

    let bad = node.cli(&["config", "set", "smtp.recipient_limit", "\"lots\""]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("smtp.recipient_limit"),
        "{}",
        stderr(&bad)
    );
    let unknown = node.cli(&["config", "set", "smtp.recipient_limt", "10"]);
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("recipient_limt"),
        "{}",
        stderr(&unknown)
    );
    assert_eq!(
        std::fs::read_to_string(node.config_path()).unwrap(),
        after,
        "file untouched"
    );
}

#[test]
fn a_bad_config_is_refused_with_file_line_and_key_and_serve_does_not_start() {
    let mut node = Havre::init(BIN);
    let path = node.config_path();
    let mut text = std::fs::read_to_string(&path).unwrap();
    text = text.replace("[smtp]", "[smtp]\nmessage_size_limit = \"lots\"\n");
    // Drop the original (commented or not) duplicate so the file stays valid TOML.
    let mut seen = false;
    text = text
        .lines()
        .filter(|l| {
            if l.starts_with("message_size_limit") {
                let keep = !seen;
                seen = true;
                keep
            } else {
                true
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&path, &text).unwrap();
    let line = text.lines().position(|l| l.contains("\"lots\"")).unwrap() + 1;
    let check = node.cli(&["config", "check"]);
    assert!(!check.status.success());
    let err = stderr(&check);
    assert!(
        err.contains(&format!("havre.toml:{line}: smtp.message_size_limit")),
        "{err}"
    );
    assert!(err.contains("\"lots\""), "{err}");

    let serve = node.cli(&["serve"]);
    assert!(!serve.status.success());
    assert!(stderr(&serve).contains(&format!(":{line}: smtp.message_size_limit")));
    assert!(std::net::TcpStream::connect(node.smtp_addr()).is_err());
    let _ = &mut node;
}

#[test]
fn serve_refuses_to_start_when_a_listener_cannot_bind() {
    let mut node = Havre::init(BIN);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    node.set("lmtp.listen", &format!("[\"127.0.0.1:{port}\"]"));
    let out = node.cli(&["serve"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!("lmtp.listen: cannot listen on 127.0.0.1:{port}")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn users_domains_and_aliases_are_managed_from_the_command_line() {
    let node = Havre::init(BIN);
    node.cli_ok(&["domain", "add", "Other.TEST"]);
    assert_eq!(
        node.cli_ok(&["domain", "list"]),
        "example.test\nother.test\n"
    );
    let out = node.cli_with_stdin(
        &[
            "user",
            "add",
            "Carol@Other.test",
            "--password-stdin",
            "--class",
            "student",
            "--quota",
            "2G",
        ],
        "s3cret\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = node.cli_ok(&["user", "show", "carol@other.test"]);
    assert!(shown.contains("class:    student"), "{shown}");
    assert!(shown.contains("quota:    2G"), "{shown}");
    assert!(shown.contains("password: ARGON2ID"), "{shown}");
    assert!(
        node.cli_ok(&["user", "list", "other.test"])
            .contains("carol@other.test")
    );

    // A user in a domain we do not serve is refused with a hint.
    let out = node.cli_with_stdin(
        &["user", "add", "x@nowhere.test", "--password-stdin"],
        "pw\n",
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("havre domain add nowhere.test"),
        "{}",
        stderr(&out)
    );

    node.cli_ok(&["alias", "add", "@other.test", "carol@other.test"]);
    node.cli_ok(&[
        "alias",
        "add",
        "team@other.test",
        "carol@other.test",
        "someone@partner.test",
    ]);
    let aliases = node.cli_ok(&["alias", "list"]);
    assert!(
        aliases.contains("@other.test -> carol@other.test\n"),
        "{aliases}"
    );
    assert!(
        aliases.contains("team@other.test -> carol@other.test, someone@partner.test\n"),
        "{aliases}"
    );
    node.cli_ok(&["alias", "remove", "team@other.test", "someone@partner.test"]);
    assert!(
        node.cli_ok(&["alias", "list"])
            .contains("team@other.test -> carol@other.test\n")
    );

    // A domain with users cannot go.
    let out = node.cli(&["domain", "remove", "other.test"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("still has 1 user"),
        "{}",
        stderr(&out)
    );
    node.cli_ok(&["alias", "remove", "team@other.test"]);
    node.cli_ok(&["alias", "remove", "@other.test"]);
    node.cli_ok(&["user", "remove", "carol@other.test"]);
    node.cli_ok(&["domain", "remove", "other.test"]);
    assert_eq!(node.cli_ok(&["domain", "list"]), "example.test\n");

    let out = node.cli_with_stdin(
        &["user", "passwd", "ghost@example.test", "--password-stdin"],
        "x\n",
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no user ghost@example.test"));
}

#[test]
fn alias_add_refuses_a_self_alias_and_a_target_that_is_nobody_and_warns_of_a_loop() {
    let node = Havre::init(BIN);
    node.add_user("alice@example.test");

    let out = node.cli(&["alias", "add", "self@example.test", "self@example.test"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("alias self@example.test -> self@example.test: an alias to itself delivers nowhere (a loop)"),
        "{}",
        stderr(&out)
    );
    // A user's keep-a-copy is no loop.
    node.cli_ok(&[
        "alias",
        "add",
        "alice@example.test",
        "alice@example.test",
        "alice@partner.test",
    ]);

    let out = node.cli(&["alias", "add", "team@example.test", "nobody@example.test"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(
            "nobody@example.test is neither a user nor an alias of local domain example.test"
        ),
        "{}",
        stderr(&out)
    );
    let aliases = node.cli_ok(&["alias", "list"]);
    assert!(
        !aliases.contains("self@") && !aliases.contains("team@"),
        "{aliases}"
    );

    node.cli_ok(&["alias", "add", "loopa@example.test", "alice@example.test"]);
    node.cli_ok(&["alias", "add", "loopb@example.test", "loopa@example.test"]);
    let out = node.cli(&["alias", "add", "loopa@example.test", "loopb@example.test"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("havre: warning: alias loop: loopa@example.test -> loopb@example.test -> loopa@example.test"),
        "{}",
        stderr(&out)
    );
    // alice still gets mail for loopa: a loop, not a dead end.
    assert!(
        !stderr(&out).contains("leads to no mailbox"),
        "{}",
        stderr(&out)
    );

    let out = node.cli(&["user", "remove", "alice@example.test"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "havre: warning: aliases still pointing at alice@example.test: alice@example.test, loopa@example.test;"
        ),
        "{}",
        stderr(&out)
    );
    let out = node.cli(&[
        "alias",
        "remove",
        "loopa@example.test",
        "alice@example.test",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("havre: warning: loopa@example.test leads to no mailbox: mail to it is refused (550 5.4.6 mail forwarding loop)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_hash_imported_from_ldap_or_dovecot_is_stored_when_havre_can_verify_it() {
    let node = Havre::init(BIN);
    // {SSHA} of "secret" with salt "salt", as OpenLDAP's slappasswd writes it.
    let ssha = "{SSHA}gVK8WC9YyFT1gMsQHTGCgT3sSv5zYWx0";
    node.cli_ok(&["user", "add", "ldap@example.test", "--password-hash", ssha]);
    assert!(
        node.cli_ok(&["user", "show", "ldap@example.test"])
            .contains("password: SSHA")
    );
    let crypt = "{SHA512-CRYPT}$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1";
    node.cli_ok(&[
        "user",
        "passwd",
        "ldap@example.test",
        "--password-hash",
        crypt,
    ]);
    assert!(
        node.cli_ok(&["user", "show", "ldap@example.test"])
            .contains("password: SHA512-CRYPT")
    );
    let out = node.cli(&[
        "user",
        "add",
        "bad@example.test",
        "--password-hash",
        "{NOPE}abc",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--password-hash"), "{}", stderr(&out));
}

#[test]
fn started_as_root_serve_switches_to_server_user_once_the_data_belongs_to_it() {
    let mut node = Havre::init(BIN);
    node.add_user("alice@example.test");
    // SAFETY: getuid has no preconditions.
    let root = unsafe { libc::getuid() } == 0;
    node.set("server.user", "nobody");
    if root {
        // Data still owned by root: refused up front, with the fix.
        let out = node.cli(&["serve"]);
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(err.contains("server.user is nobody"), "{err}");
        assert!(err.contains("chown -R nobody:"), "{err}");
        give_data_to_nobody(&node);
    }
    node.start();
    let out = havre_testkit::swaks(&[
        "--server",
        &node.smtp_addr(),
        "--from",
        "x@remote.test",
        "--to",
        "alice@example.test",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let messages = node.wait_for_messages("alice@example.test", 1);
    assert_eq!(messages.len(), 1, "{}", node.log());
    use std::os::unix::fs::MetadataExt;
    let delivered = std::fs::read_dir(node.maildir("alice@example.test").join("new"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let owner = delivered.metadata().unwrap().uid();
    if root {
        assert_eq!(owner, 65534, "delivered as nobody");
        assert!(
            node.log().contains("running as nobody (uid 65534"),
            "{}",
            node.log()
        );
    } else {
        // SAFETY: as above.
        assert_eq!(owner, unsafe { libc::getuid() }, "no switch without root");
    }
}

/// Root's commands act as `server.user`: a Maildir made by `user add` run as
/// root, a DKIM key generated as root and the database files all belong to
/// the account serve runs as, so the first delivery is not deferred with
/// "Permission denied".
#[test]
fn commands_run_as_root_write_as_server_user_so_a_new_user_gets_mail() {
    use std::os::unix::fs::MetadataExt;
    let mut node = Havre::init(BIN);
    // SAFETY: getuid has no preconditions.
    let root = unsafe { libc::getuid() } == 0;
    let expected_owner = if root {
        65534
    } else {
        unsafe { libc::getuid() }
    };
    node.set("server.user", "nobody");
    if root {
        give_data_to_nobody(&node);
    }
    node.start();
    node.add_user("carol@example.test");
    node.cli_ok(&["dkim", "generate", "example.test", "--selector", "s2"]);
    let out = havre_testkit::swaks(&[
        "--server",
        &node.smtp_addr(),
        "--from",
        "x@remote.test",
        "--to",
        "carol@example.test",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let messages = node.wait_for_messages("carol@example.test", 1);
    assert_eq!(messages.len(), 1, "{}", node.log());
    let mut written = vec![node.maildir("carol@example.test")];
    for entry in std::fs::read_dir(node.data_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().contains("havre.db") {
            written.push(path);
        }
    }
    written.push(node.data_dir().join("dkim/example.test"));
    for path in written {
        let owner = std::fs::metadata(&path).unwrap().uid();
        assert_eq!(
            owner,
            expected_owner,
            "{} belongs to {owner}",
            path.display()
        );
    }
    let keys = std::fs::read_dir(node.data_dir().join("dkim/example.test")).unwrap();
    for key in keys {
        let key = key.unwrap();
        assert_eq!(
            key.metadata().unwrap().uid(),
            expected_owner,
            "{:?}",
            key.path()
        );
    }
    assert!(!node.log().contains("Permission denied"), "{}", node.log());
}

/// What an admin runs before serve may switch to `server.user = "nobody"`.
fn give_data_to_nobody(node: &Havre) {
    let status = Command::new("chown")
        .args(["-R", "nobody:"])
        .arg(node.data_dir())
        .status()
        .unwrap();
    assert!(status.success());
}
