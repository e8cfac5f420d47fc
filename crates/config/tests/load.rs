//! Loading `havre.toml`: what operators are told when it is wrong.

use std::fs;
use std::path::{Path, PathBuf};

use havre_config::{Config, ConfigError, Role, Size, check, load, parse};

fn write(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("havre.toml");
    fs::write(&path, text).unwrap();
    path
}

fn error_of(text: &str) -> String {
    parse(text, Path::new("/etc/havre/havre.toml"))
        .unwrap_err()
        .to_string()
}

#[test]
fn an_operator_who_misspells_a_key_is_told_the_file_line_and_the_known_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "[server]\n\nhostnmae = \"mx.example.org\"\n");
    let err = load(&path).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:3: unknown key server.hostnmae (known keys in [server]: hostname, data_dir, user, roles, node_id, shutdown_grace)",
            path.display()
        )
    );
    assert_eq!(err.line(), Some(3));
    assert_eq!(err.key(), Some("server.hostnmae"));
}

#[test]
fn a_misspelled_dotted_key_or_table_is_refused_too() {
    assert_eq!(
        error_of("smtp.banner = \"x\"\nsmtp.banr = \"y\"\n"),
        "/etc/havre/havre.toml:2: unknown key smtp.banr (known keys in [smtp]: banner, \
         message_size_limit, line_length_limit, recipient_limit, hard_error_limit, idle_timeout, \
         session_deadline, max_connections, max_connections_per_ip)"
    );
    assert_eq!(
        error_of("[server]\nhostname = \"a\"\n[servr]\nuser = \"x\"\n"),
        "/etc/havre/havre.toml:3: unknown key servr (known top-level keys: server, log, tls, \
         storage, mx, lmtp, imap, pop3, managesieve, http, auth, directory, ldap, smtp, relay, routing, submission, dns, dkim, queue, mailbox, sieve, sendmail, greylist, \
         policy, guard, antivirus, attachments, quarantine, spam, events, report, state, director)"
    );
    assert_eq!(
        error_of("smtp = { banner = \"x\", idle = 3 }\n"),
        "/etc/havre/havre.toml:1: unknown key smtp.idle (known keys in [smtp]: banner, \
         message_size_limit, line_length_limit, recipient_limit, hard_error_limit, idle_timeout, \
         session_deadline, max_connections, max_connections_per_ip)"
    );
}

#[test]
fn a_size_that_makes_no_sense_is_refused_with_file_line_and_key() {
    let text = format!("{}[smtp]\nmessage_size_limit = \"lots\"\n", "\n".repeat(12));
    assert_eq!(
        error_of(&text),
        r#"/etc/havre/havre.toml:14: smtp.message_size_limit: expected a size like "25M" or a number of bytes, found "lots""#
    );
}

#[test]
fn values_of_the_wrong_type_say_what_was_expected() {
    let cases = [
        (
            "[smtp]\nrecipient_limit = \"many\"\n",
            "2: smtp.recipient_limit: expected a non-negative integer, found \"many\"",
        ),
        (
            "[smtp]\nrecipient_limit = -3\n",
            "2: smtp.recipient_limit: expected a non-negative integer, found integer -3",
        ),
        (
            "[server]\nhostname = 42\n",
            "2: server.hostname: expected a string, found integer 42",
        ),
        (
            "server = 5\n",
            "1: server: expected a table, found an integer",
        ),
        (
            "[[server]]\nhostname = \"a\"\n",
            "1: server: expected a table, found an array of tables",
        ),
        ("mx = [{}]\n", "1: mx: expected a table, found an array"),
        (
            "[server]\nroles = [\"mx\", \"pop4\"]\n",
            "2: server.roles: expected a role (mx, submission, relay, lmtp, imap, pop3, managesieve, web, director), found \"pop4\"",
        ),
        (
            "[mx]\nlisten = [\n  \"0.0.0.0:25\",\n  \"localhost\",\n]\n",
            "4: mx.listen: expected an address and port like \"0.0.0.0:25\" or \"[::1]:25\", found \"localhost\"",
        ),
        (
            "[storage]\nbackend = \"mysql\"\n",
            "2: storage.backend: storage backend \"mysql\" is not supported by this version of havre; \
             the backends are \"sqlite\" and \"postgres\"",
        ),
        (
            "[queue]\nretry_min = \"soon\"\n",
            "2: queue.retry_min: expected a duration like \"30s\", \"5m\", \"4h\", \"5d\" or a number of seconds, found \"soon\"",
        ),
        (
            "[queue]\nretry_min = true\n",
            "2: queue.retry_min: expected a duration like \"30s\", \"5m\", \"4h\", \"5d\" or a number of seconds, found boolean true",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(
            error_of(text),
            format!("/etc/havre/havre.toml:{expected}"),
            "{text}"
        );
    }
}

#[test]
fn values_that_cannot_work_are_refused_with_their_key_and_line() {
    let cases = [
        (
            "[server]\nhostname = \"\"\n",
            "2: server.hostname: must not be empty",
        ),
        (
            "[server]\nroles = []\n",
            "2: server.roles: must list at least one role",
        ),
        (
            "[mx]\nlisten = []\n",
            "2: mx.listen: the mx role is enabled in server.roles but listens nowhere",
        ),
        (
            "[smtp]\nrecipient_limit = 0\n",
            "2: smtp.recipient_limit: must be greater than 0",
        ),
        (
            "[smtp]\nmessage_size_limit = 0\n",
            "2: smtp.message_size_limit: must be greater than 0",
        ),
        (
            "[smtp]\nhard_error_limit = 0\n",
            "2: smtp.hard_error_limit: must be greater than 0",
        ),
        (
            "[smtp]\nline_length_limit = 100\n",
            "2: smtp.line_length_limit: must be at least 512",
        ),
        (
            "[smtp]\nidle_timeout = 0\n",
            "2: smtp.idle_timeout: must be longer than 0s",
        ),
        (
            "[dkim]\nselector = \"my/key\"\n",
            "2: dkim.selector: \"my/key\" is not a DNS name",
        ),
        (
            "[dkim]\nselector = \"\"\n",
            "2: dkim.selector: must not be empty",
        ),
        (
            "[queue]\ndelivery_concurrency = 0\n",
            "2: queue.delivery_concurrency: must be greater than 0",
        ),
        (
            "[queue]\nretry_min = \"2h\"\nretry_max = \"1h\"\n",
            "3: queue.retry_max: must not be shorter than queue.retry_min (2h > 1h)",
        ),
        (
            "[mailbox]\nmaildir = \"mail/%d/Maildir\"\n",
            "2: mailbox.maildir: must contain %n or %u",
        ),
        (
            "[mailbox]\nmaildir = \"mail/%x/%n\"\n",
            "2: mailbox.maildir: unknown variable %x",
        ),
        (
            "[log]\nlevel = \"info,havre_smtp=loud\"\n",
            "2: log.level: unknown level \"loud\"",
        ),
        (
            "[lmtp]\nlisten = [\"0.0.0.0:25\"]\n",
            "2: lmtp.listen: 0.0.0.0:25 is also in mx.listen",
        ),
        // A bare word would be taken for a target and silence every line.
        (
            "[log]\nlevel = \"verbose\"\n",
            "2: log.level: unknown level \"verbose\" (expected error, warn, info, debug, trace or off, or target=level)",
        ),
        (
            "[log]\nlevel = \"info, =debug\"\n",
            "2: log.level: \"\" in \"=debug\" is not a log target",
        ),
        (
            "[imap]\ntls_listen = [\"0.0.0.0:465\"]\n",
            "2: imap.tls_listen: 0.0.0.0:465 is also in submission.tls_listen: two listeners cannot share an address",
        ),
        (
            "[pop3]\nlisten = [\"127.0.0.1:143\"]\n",
            "2: pop3.listen: 127.0.0.1:143 overlaps 0.0.0.0:143 of imap.listen",
        ),
    ];
    for (text, expected) in cases {
        let err = error_of(text);
        assert!(
            err.starts_with(&format!("/etc/havre/havre.toml:{expected}")),
            "{text}: {err}"
        );
    }
}

#[test]
fn a_problem_with_a_key_left_at_its_default_points_at_its_table() {
    let err = error_of("# comment\n[queue]\nretry_min = \"2h\"\n");
    assert_eq!(
        err,
        "/etc/havre/havre.toml:2: queue.retry_max: must not be shorter than queue.retry_min (2h > 1h)"
    );
}

#[test]
fn a_role_without_listener_is_fine_when_the_role_is_off() {
    let cfg = parse(
        "[server]\nroles = [\"relay\"]\n[mx]\nlisten = []\n",
        Path::new("havre.toml"),
    )
    .unwrap();
    assert_eq!(cfg.server.roles, [Role::Relay]);
    assert!(cfg.mx.listen.is_empty());
}

#[test]
fn a_missing_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.toml");
    let err = load(&path).unwrap_err();
    assert!(matches!(err, ConfigError::NotFound { .. }));
    assert!(
        err.to_string()
            .starts_with(&format!("{}: no such file", path.display())),
        "{err}"
    );
}

#[test]
fn a_syntax_error_gives_the_line() {
    let err = error_of("[server]\nhostname = \"a\"\nuser = \n");
    assert!(
        err.starts_with("/etc/havre/havre.toml:3: invalid TOML: "),
        "{err}"
    );
    let err = error_of("[server]\nhostname = \"a\"\nhostname = \"b\"\n");
    assert!(
        err.starts_with("/etc/havre/havre.toml:3: invalid TOML: "),
        "{err}"
    );
}

#[test]
fn a_file_that_is_not_utf8_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("havre.toml");
    fs::write(&path, b"[server]\nhostname = \"\xff\"\n").unwrap();
    let err = load(&path).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:2: invalid TOML: the file is not UTF-8 text",
            path.display()
        )
    );
}

#[test]
fn an_empty_file_is_the_default_configuration() {
    assert_eq!(
        parse("", Path::new("havre.toml")).unwrap(),
        Config::default()
    );
}

#[test]
fn values_are_read_with_their_units() {
    let cfg = parse(
        "[smtp]\nmessage_size_limit = \"10MB\"\nidle_timeout = 30\n[mx]\nlisten = \"[::1]:2525\"\n",
        Path::new("havre.toml"),
    )
    .unwrap();
    assert_eq!(cfg.smtp.message_size_limit, Size(10 << 20));
    assert_eq!(
        cfg.smtp.idle_timeout.get(),
        std::time::Duration::from_secs(30)
    );
    assert_eq!(cfg.mx.listen, ["[::1]:2525".parse().unwrap()]);
}

#[test]
fn relative_paths_are_resolved_against_the_file_and_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "[server]\ndata_dir = \"data\"\n[log]\nfile = \"/var/log/havre.log\"\n",
    );
    let loaded = check(&path).unwrap();
    let base = &fs::canonicalize(dir.path()).unwrap();
    assert_eq!(&loaded.config_dir(), base);
    assert_eq!(loaded.data_dir(), base.join("data"));
    assert_eq!(loaded.tls_cert(), base.join("tls/cert.pem"));
    assert_eq!(loaded.tls_key(), base.join("tls/key.pem"));
    assert_eq!(loaded.sqlite_path(), base.join("data/havre.db"));
    assert_eq!(
        loaded.maildir_template(),
        base.join("data/mail/%d/%n/Maildir")
    );
    assert_eq!(loaded.log_file(), Some(PathBuf::from("/var/log/havre.log")));

    let defaults = check(&write(dir.path(), "")).unwrap();
    assert_eq!(defaults.data_dir(), Path::new("/var/lib/havre"));
    assert_eq!(defaults.sqlite_path(), Path::new("/var/lib/havre/havre.db"));
    assert_eq!(defaults.log_file(), None);
}

#[test]
fn a_relative_config_path_still_gives_absolute_paths() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "[server]\ndata_dir = \"data\"\n");
    let cwd = std::env::current_dir().unwrap();
    // Relative to the current directory, without changing it (tests run in parallel).
    let relative = pathdiff(&dir.path().join("havre.toml"), &cwd);
    let loaded = load(&relative).unwrap();
    assert!(
        loaded.data_dir().is_absolute(),
        "{}",
        loaded.data_dir().display()
    );
    assert_eq!(
        loaded.data_dir(),
        fs::canonicalize(dir.path()).unwrap().join("data")
    );
}

/// `target` relative to `base`, with `..` as needed.
fn pathdiff(target: &Path, base: &Path) -> PathBuf {
    let t: Vec<_> = target.components().collect();
    let b: Vec<_> = base.components().collect();
    let common = t.iter().zip(&b).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c);
    }
    out
}

#[test]
fn garbage_is_refused_without_panicking() {
    let base = havre_config::defaults_commented();
    let mut inputs: Vec<String> = Vec::new();
    // Prefixes of a valid file: one every third byte, and every one that
    // ends a line or cuts a key, a table header or a value short (each
    // parse reads the whole prefix: all of them would make this test
    // quadratic in the length of the documented file).
    for end in (0..base.len()).filter(|i| base.is_char_boundary(*i)) {
        let cut = matches!(
            base.as_bytes()[end],
            b'\n' | b'=' | b'[' | b']' | b'"' | b'{' | b','
        );
        if end % 3 == 0 || cut {
            inputs.push(base[..end].to_owned());
        }
    }
    // Pseudo-random bytes and pseudo-random edits of a valid file.
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let alphabet = b"[]{}=\"'.,#\n \t\\abcxyz019-+:_%\x00\x7f";
    for _ in 0..2000 {
        let len = (next() % 80) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        inputs.push(String::from_utf8_lossy(&bytes).into_owned());
        let mut edited = base.clone().into_bytes();
        for _ in 0..3 {
            let at = (next() as usize) % edited.len();
            edited[at] = alphabet[(next() % alphabet.len() as u64) as usize];
        }
        inputs.push(String::from_utf8_lossy(&edited).into_owned());
    }
    inputs.extend(
        [
            "[server]\nhostname = \"\u{1F4E7}\"\nhostnmae = 1",
            "server.roles = [[[[[]]]]]",
            "a = 99999999999999999999999",
            "smtp.message_size_limit = 18446744073709551615",
            "smtp.message_size_limit = \"99999999999T\"",
            "queue.retry_min = 9223372036854775807\nqueue.retry_max = \"999999999999w\"",
            "[[server]]\n",
            "mx = [{}]",
            "mailbox.maildir = \"%\"",
        ]
        .map(str::to_owned),
    );
    for input in &inputs {
        if let Err(e) = parse(input, Path::new("havre.toml")) {
            let _ = e.to_string();
        }
    }
}

#[test]
fn the_seeds_layout_in_docs_topology_is_one_loadable_file_per_role() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/topology");
    let roles = |name: &str| {
        load(&dir.join(name))
            .unwrap_or_else(|e| panic!("{e}"))
            .config
            .server
            .roles
    };
    assert_eq!(
        roles("mx1.toml"),
        [Role::Mx, Role::Submission, Role::Relay, Role::Web]
    );
    assert_eq!(roles("director1.toml"), [Role::Director]);
    assert_eq!(
        roles("backend1.toml"),
        [Role::Imap, Role::Pop3, Role::ManageSieve, Role::Lmtp]
    );
    let files = fs::read_dir(&dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension() == Some("toml".as_ref()))
        .count();
    assert_eq!(files, 3, "a file in docs/topology no test loads");
}
