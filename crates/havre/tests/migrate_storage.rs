//! `havre migrate-storage`: a node with 10,000 messages moves from SQLite
//! to PostgreSQL, and the IMAP clients that knew it see the same UIDs,
//! flags and UIDVALIDITY (mbsync finds nothing to do); a copy that stopped
//! halfway goes on where it stopped.

use std::path::Path;

use havre_testkit::cluster::PostgresSchema;
use havre_testkit::{Havre, python_ok};

#[path = "support/mbsync.rs"]
mod client;
use client::{mbsync, mbsync_config};

const MESSAGES: usize = 10_000;

/// A Dovecot Maildir of `MESSAGES` messages with varied flags, and a
/// folder with a few.
fn dovecot_maildir(root: &Path) {
    let flags = ["", "S", "FS", "RS", "S", "DS"];
    for dir in [
        "cur",
        "new",
        "tmp",
        ".Archive/cur",
        ".Archive/new",
        ".Archive/tmp",
    ] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    for n in 0..MESSAGES {
        let name = format!(
            "{}.M{n}P1.old:2,{}",
            1_700_000_000 + n,
            flags[n % flags.len()]
        );
        let text = format!(
            "From: list@remote.test\nSubject: message {n}\nMessage-ID: <m{n}@remote.test>\n\nbody {n}\n"
        );
        std::fs::write(root.join("cur").join(name), text).unwrap();
    }
    for n in 0..3 {
        std::fs::write(
            root.join(format!(".Archive/cur/{n}.M{n}P2.old:2,S")),
            format!("Subject: kept {n}\n\nold\n"),
        )
        .unwrap();
    }
}

/// What an IMAP client knows of alice's folders: per folder its
/// UIDVALIDITY, UIDNEXT and each message's UID and flags.
const STATE: &str = r#"
import imaplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.starttls(ssl_context=ctx)
m.login("alice@example.test", "secret")
for folder in ["INBOX", "Archive"]:
    typ, data = m.status(folder, "(UIDVALIDITY UIDNEXT MESSAGES)")
    print(folder, data[0].decode())
    m.select(folder, readonly=True)
    typ, data = m.uid("FETCH", "1:*", "(FLAGS)")
    for line in data:
        print(" ", line.decode())
m.logout()
"#;

/// Every file of the local mirror, sorted (a name holds the UID and flags).
fn mirror(config: &Path) -> Vec<String> {
    let local = config.parent().unwrap().join("local");
    let mut names = Vec::new();
    let mut dirs = vec![local];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            if entry.file_type().unwrap().is_dir() {
                dirs.push(entry.path());
            } else {
                names.push(entry.path().display().to_string());
            }
        }
    }
    names.sort();
    names
}

#[test]
fn ten_thousand_messages_move_to_postgresql_and_imap_clients_see_nothing_change() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    // This test starts on SQLite whatever HAVRE_TEST_STORAGE says.
    node.set("storage.backend", "\"sqlite\"");
    node.add_user("alice@example.test");
    let old = node.dir().join("old-maildir");
    dovecot_maildir(&old);
    node.cli_ok(&[
        "import",
        "maildir",
        &old.display().to_string(),
        "--user",
        "alice@example.test",
    ]);
    node.start();
    let port = node.imap_port.to_string();
    let before = python_ok(STATE, &[&port]);
    assert!(
        before.contains(&format!("MESSAGES {MESSAGES}")),
        "{}",
        &before[..200]
    );
    let (config, _) = mbsync_config(&node, "*");
    mbsync(&config);
    let mirrored = mirror(&config);
    assert!(mirrored.len() > MESSAGES, "{}", mirrored.len());
    node.stop();

    let schema = PostgresSchema::create_blocking().unwrap();
    let url = schema.url().to_string();
    // A first run stops at the table `nodes`: the target has a row there
    // already (as a run killed there would have left it mid-way).
    sql(
        &url,
        "INSERT INTO nodes VALUES (0, 'x', '', '', '', 0, 0)",
        true,
    );
    let stopped = node.cli(&["migrate-storage", "--to", &url]);
    let said = String::from_utf8_lossy(&stopped.stderr);
    assert!(
        !stopped.status.success() && said.contains("nodes"),
        "{said}"
    );
    sql(&url, "DELETE FROM nodes", false);
    let resumed = node.cli(&["migrate-storage", "--to", &url]);
    let said = String::from_utf8_lossy(&resumed.stderr);
    assert!(resumed.status.success(), "{said}");
    assert!(
        said.contains("messages: copied by an earlier run"),
        "{said}"
    );
    assert!(!said.contains("nodes: copied by an earlier run"), "{said}");
    let report = String::from_utf8_lossy(&resumed.stdout).into_owned();
    let row = |table: &str| {
        report
            .lines()
            .find(|l| l.starts_with(&format!("{table} ")))
            .unwrap_or_else(|| panic!("{report}"))
            .split_whitespace()
            .skip(1)
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(
        row("messages"),
        format!("{} same", MESSAGES + 3),
        "{report}"
    );
    assert!(!report.contains("DIFFERENT"), "{report}");
    assert!(
        report.contains("storage.backend = \"postgres\""),
        "{report}"
    );

    node.set("storage.url", &format!("{url:?}"));
    node.set("storage.backend", "\"postgres\"");
    node.start();
    let after = python_ok(STATE, &[&port]);
    assert_eq!(after, before, "what IMAP clients see changed");
    let second = mbsync(&config);
    assert_eq!(
        mirror(&config),
        mirrored,
        "mbsync changed the mirror:\n{second}"
    );
}

/// Runs `statement` on the database at `url`, after making havre's tables
/// there when `create` (as `havre serve` would on its first start).
fn sql(url: &str, statement: &str, create: bool) {
    let url = url.to_string();
    let statement = statement.to_string();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async move {
            use sqlx::Connection;
            if create {
                drop(havre_store::PostgresStore::open(&url).await.unwrap());
            }
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
                .execute(&mut conn)
                .await
                .unwrap();
        });
}
