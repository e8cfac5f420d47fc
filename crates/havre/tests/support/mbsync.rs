//! mbsync (isync), a real synchronising client, mirroring a node's mailboxes
//! into a local Maildir.

use std::path::{Path, PathBuf};
use std::process::Command;

use havre_testkit::Havre;

/// Runs mbsync on `config` (every channel, `-V`); what it printed. A failed
/// run fails the test.
pub fn mbsync(config: &Path) -> String {
    let out = Command::new("mbsync")
        .args(["-V", "-c"])
        .arg(config)
        .arg("-a")
        .output()
        .expect("mbsync (Debian package isync; the test command installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "mbsync failed:\n{text}");
    text
}

/// An mbsync configuration mirroring alice's folders that match
/// `patterns` (STARTTLS) into a local Maildir; returns it and the local
/// INBOX. A debug build on a busy machine may take longer than mbsync's
/// 20 s of silence to answer a FETCH of thousands of messages.
pub fn mbsync_config(node: &Havre, patterns: &str) -> (PathBuf, PathBuf) {
    mbsync_config_to(
        &node.dir().join("mbsync"),
        ("127.0.0.1", node.imap_port),
        &node.dir().join("tls/cert.pem"),
        patterns,
    )
}

/// [`mbsync_config`] for the IMAP server at `server` (host, port) whose
/// certificate is `cert`, the mirror and its state under `work`.
pub fn mbsync_config_to(
    work: &Path,
    server: (&str, u16),
    cert: &Path,
    patterns: &str,
) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(work.join("local")).unwrap();
    let config = work.join("mbsyncrc");
    std::fs::write(
        &config,
        format!(
            "IMAPAccount havre\nHost {host}\nPort {port}\nUser alice@example.test\nPass secret\n\
             SSLType STARTTLS\nCertificateFile {cert}\nTimeout 180\n\n\
             IMAPStore remote\nAccount havre\n\n\
             MaildirStore local\nPath {local}/\nInbox {local}/INBOX\n\n\
             Channel mirror\nFar :remote:\nNear :local:\nPatterns {patterns}\nCreate Near\n\
             Sync All\nExpunge Both\nSyncState *\n",
            host = server.0,
            port = server.1,
            cert = cert.display(),
            local = work.join("local").display(),
        ),
    )
    .unwrap();
    (config, work.join("local/INBOX"))
}
