//! What havre writes is its own: the database (password hashes), the spool,
//! the mailboxes and the keys are never open to other accounts, and serve
//! refuses a data directory that is missing or open to them.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use havre_testkit::Havre;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Every file and directory under `root` whose mode lets group or others in.
fn open_to_others(root: &Path) -> Vec<(PathBuf, u32)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let m = mode(&path);
            if m & 0o077 != 0 {
                out.push((path.clone(), m));
            }
            if entry.file_type().unwrap().is_dir() {
                stack.push(path);
            }
        }
    }
    out
}

#[test]
fn a_production_init_leaves_nothing_readable_by_others() {
    let dir = tempfile::tempdir().unwrap();
    let node_dir = dir.path().join("etc-havre");
    let out = Command::new(env!("CARGO_BIN_EXE_havre"))
        .args(["init", "--dir"])
        .arg(&node_dir)
        .args(["--domain", "example.org", "--hostname", "mx.example.org"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let data = node_dir.join("data");
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("havre.db")), 0o600);
    // Like /etc/postfix and main.cf: the account serve switches to must reach
    // the data inside, and the configuration and certificate hold no secret.
    assert_eq!(mode(&node_dir), 0o755);
    assert_eq!(mode(&node_dir.join("havre.toml")), 0o644);
    let public: Vec<PathBuf> = open_to_others(&node_dir)
        .into_iter()
        .map(|(path, _)| path)
        .filter(|path| path != &node_dir.join("havre.toml"))
        .filter(|path| {
            path.extension().is_none_or(|e| e != "pem") || !path.to_string_lossy().contains("cert")
        })
        .collect();
    assert_eq!(public, Vec::<PathBuf>::new());
}

#[test]
fn the_database_spool_and_mailbox_stay_private_after_user_add_and_a_delivery() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.start();
    let out = havre_testkit::swaks(&[
        "--server",
        &node.smtp_addr(),
        "--from",
        "x@remote.test",
        "--to",
        "alice@example.test",
    ]);
    assert!(out.status.success());
    assert_eq!(node.wait_for_messages("alice@example.test", 1).len(), 1);
    node.wait_for_empty_queue();
    let data = node.data_dir();
    assert_eq!(mode(&data.join("havre.db")), 0o600);
    assert_eq!(mode(&data.join("queue/msg")), 0o700);
    assert_eq!(open_to_others(&data), []);
}

#[test]
fn serve_refuses_a_database_readable_by_others_and_names_the_chmod() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    let db = node.data_dir().join("havre.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let said = node.start_refused();
    assert!(
        said.contains(&format!("chmod 600 {}", db.display())),
        "{said}"
    );
}

#[test]
fn serve_refuses_a_data_dir_that_does_not_exist_instead_of_starting_empty() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.set("server.data_dir", "\"/nonexistent/havre-data\"");
    let said = node.start_refused();
    assert!(
        said.contains("server.data_dir: /nonexistent/havre-data does not exist"),
        "{said}"
    );
    assert!(!Path::new("/nonexistent/havre-data").exists());
    // The CLI does not make one either.
    let out = node.cli(&["user", "list"]);
    assert!(!out.status.success());
}
