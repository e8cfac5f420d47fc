//! Delivery scenarios, on a real file system in a temporary directory.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use havre_maildir::{Maildir, MaildirError, parse_name};

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn file_name(p: &Path) -> &str {
    p.file_name().unwrap().to_str().unwrap()
}

fn dir_is_empty(p: &Path) -> bool {
    fs::read_dir(p).unwrap().next().is_none()
}

#[test]
fn a_delivered_message_is_in_new_with_lf_endings_and_correct_s_and_w() {
    let tmp = tempfile::tempdir().unwrap();
    let md = Maildir::new(tmp.path().join("user"));
    md.create().unwrap();

    let prefix = b"Return-Path: <a@b.test>\r\nDelivered-To: c@d.test\r\n";
    let body = b"Subject: hi\r\n\r\nline one\r\nbare\rCR stays\r\n";
    let path = md
        .deliver(
            "Qabc123",
            "mx/1:a",
            prefix,
            &mut std::io::Cursor::new(&body[..]),
            at(1_700_000_000),
        )
        .unwrap();

    let expected = b"Return-Path: <a@b.test>\nDelivered-To: c@d.test\nSubject: hi\n\nline one\nbare\rCR stays\n";
    assert_eq!(fs::read(&path).unwrap(), expected);
    assert_eq!(path.parent().unwrap(), md.root().join("new"));

    let crlf_size = prefix.len() + body.len();
    assert_eq!(
        file_name(&path),
        format!(
            "1700000000.Qabc123.mx\\0571\\072a,S={},W={crlf_size}",
            expected.len()
        )
    );
    let n = parse_name(file_name(&path));
    assert_eq!(n.size, Some(expected.len() as u64));
    assert_eq!(n.vsize, Some(crlf_size as u64));
    assert_eq!(n.flags, "");

    assert!(dir_is_empty(&md.root().join("tmp")));
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(md.messages().unwrap(), vec![path]);
}

#[test]
fn a_message_moved_to_cur_with_flags_is_still_found_by_find_delivered() {
    let tmp = tempfile::tempdir().unwrap();
    let md = Maildir::new(tmp.path());
    md.create().unwrap();
    assert_eq!(md.find_delivered("Q1").unwrap(), None);

    let path = md
        .deliver(
            "Q1",
            "host",
            b"",
            &mut std::io::Cursor::new(&b"x\r\n"[..]),
            at(1),
        )
        .unwrap();
    assert_eq!(md.find_delivered("Q1").unwrap(), Some(path.clone()));

    // What Dovecot does when a client sees and answers the message.
    let cur = md
        .root()
        .join("cur")
        .join(format!("{}:2,RS", file_name(&path)));
    fs::rename(&path, &cur).unwrap();
    assert_eq!(md.find_delivered("Q1").unwrap(), Some(cur.clone()));
    assert_eq!(parse_name(file_name(&cur)).flags, "RS");

    // Other uniques, including prefixes of this one, are not confused with it.
    assert_eq!(md.find_delivered("Q").unwrap(), None);
    assert_eq!(md.find_delivered("Q12").unwrap(), None);
    assert_eq!(md.messages().unwrap(), vec![cur]);
}

#[test]
fn find_delivered_in_a_maildir_not_yet_created_finds_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let md = Maildir::new(tmp.path().join("nobody"));
    assert_eq!(md.find_delivered("Q1").unwrap(), None);
}

/// Yields some bytes, then fails: a client connection dropping mid-DATA.
struct FailingReader {
    given: bool,
}

impl Read for FailingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if std::mem::replace(&mut self.given, true) {
            return Err(io::Error::new(io::ErrorKind::ConnectionReset, "gone"));
        }
        let part = b"Subject: half\r\n\r\nsome";
        buf[..part.len()].copy_from_slice(part);
        Ok(part.len())
    }
}

/// A body that can be read again (delivery may write a message twice).
impl io::Seek for FailingReader {
    fn seek(&mut self, _: io::SeekFrom) -> io::Result<u64> {
        Ok(0)
    }
}

#[test]
fn a_failed_write_leaves_nothing_in_new() {
    let tmp = tempfile::tempdir().unwrap();
    let md = Maildir::new(tmp.path());
    md.create().unwrap();

    let err = md
        .deliver(
            "Q2",
            "host",
            b"",
            &mut FailingReader { given: false },
            at(5),
        )
        .unwrap_err();
    match &err {
        MaildirError::Body { path, source } => {
            assert_eq!(path, &md.root().join("tmp").join("5.Q2.host"));
            assert_eq!(source.kind(), io::ErrorKind::ConnectionReset);
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert!(err.to_string().contains("5.Q2.host"), "{err}");
    assert!(dir_is_empty(&md.root().join("new")));
    assert!(dir_is_empty(&md.root().join("tmp")));
    assert_eq!(md.find_delivered("Q2").unwrap(), None);
}

#[test]
fn a_delivery_into_a_missing_maildir_fails_naming_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let md = Maildir::new(tmp.path().join("missing"));
    let err = md
        .deliver(
            "Q3",
            "host",
            b"",
            &mut std::io::Cursor::new(&b"x"[..]),
            at(5),
        )
        .unwrap_err();
    assert!(matches!(err, MaildirError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("missing/tmp/5.Q3.host"), "{err}");
}

#[test]
fn an_ambiguous_unique_or_hostname_is_refused_before_writing() {
    let tmp = tempfile::tempdir().unwrap();
    let md = Maildir::new(tmp.path());
    md.create().unwrap();
    for unique in ["", "a.b", "../x", "a:2,S", "a,S=1", "a\nb"] {
        let err = md
            .deliver(
                unique,
                "host",
                b"",
                &mut std::io::Cursor::new(&b"x"[..]),
                at(1),
            )
            .unwrap_err();
        assert!(matches!(err, MaildirError::InvalidUnique(_)), "{err:?}");
        assert!(md.find_delivered(unique).is_err());
    }
    let err = md
        .deliver(
            "ok",
            "ho\nst",
            b"",
            &mut std::io::Cursor::new(&b"x"[..]),
            at(1),
        )
        .unwrap_err();
    assert!(matches!(err, MaildirError::InvalidHostname(_)), "{err:?}");
    assert!(md.messages().unwrap().is_empty());
    assert!(dir_is_empty(&md.root().join("tmp")));
}

#[test]
fn create_is_idempotent_and_private() {
    let tmp = tempfile::tempdir().unwrap();
    let md = Maildir::new(tmp.path().join("a/b/user"));
    md.create().unwrap();
    md.create().unwrap();
    for sub in ["", "cur", "new", "tmp"] {
        let meta = fs::metadata(md.root().join(sub)).unwrap();
        assert!(meta.is_dir());
        assert_eq!(meta.permissions().mode() & 0o777, 0o700, "{sub}");
    }
}

#[test]
fn folders_are_created_the_maildir_plus_plus_way() {
    let tmp = tempfile::tempdir().unwrap();
    let inbox = Maildir::new(tmp.path().join("user"));

    let sent = inbox.create_folder("Sent").unwrap();
    let foo = inbox.create_folder("Lists/foo").unwrap();
    let accents = inbox.create_folder("Envoyés").unwrap();
    assert_eq!(inbox.create_folder("Sent").unwrap(), sent);

    assert_eq!(sent.root(), inbox.root().join(".Sent"));
    assert_eq!(foo.root(), inbox.root().join(".Lists.foo"));
    assert_eq!(accents.root(), inbox.root().join(".Envoy&AOk-s"));
    for folder in [&sent, &foo, &accents] {
        for sub in ["cur", "new", "tmp"] {
            assert!(folder.root().join(sub).is_dir());
        }
        let marker = fs::metadata(folder.root().join("maildirfolder")).unwrap();
        assert!(marker.is_file());
        assert_eq!(marker.len(), 0);
    }
    // The INBOX itself is a maildir too, and is no folder.
    for sub in ["cur", "new", "tmp"] {
        assert!(inbox.root().join(sub).is_dir());
    }
    assert!(!inbox.root().join("maildirfolder").exists());
    // Maildir++ does not create the parent level ".Lists".
    assert!(!inbox.root().join(".Lists").exists());

    // Delivering into a folder works like delivering into the INBOX.
    let path = foo
        .deliver(
            "Q9",
            "host",
            b"",
            &mut std::io::Cursor::new(&b"x\r\n"[..]),
            at(9),
        )
        .unwrap();
    assert_eq!(path, foo.root().join("new/9.Q9.host,S=2,W=3"));
    assert!(inbox.messages().unwrap().is_empty());

    for bad in ["a.b", "", "INBOX", "a//b"] {
        let err = inbox.create_folder(bad).unwrap_err();
        assert!(matches!(err, MaildirError::InvalidFolder { .. }), "{err:?}");
    }
}

#[test]
fn a_large_message_is_streamed_and_sized_correctly() {
    let tmp = tempfile::tempdir().unwrap();
    let md = Maildir::new(tmp.path());
    md.create().unwrap();
    // 65537-byte lines: the 64 KiB copy buffer's first chunk ends between
    // a line's CR and its LF.
    let line = format!("{}\r\n", "y".repeat(65_535));
    let body = line.repeat(3);
    let path = md
        .deliver(
            "Qbig",
            "h",
            b"",
            &mut std::io::Cursor::new(body.as_bytes()),
            at(2),
        )
        .unwrap();
    let on_disk = fs::read(&path).unwrap();
    assert_eq!(on_disk, body.replace("\r\n", "\n").as_bytes());
    let n = parse_name(file_name(&path));
    assert_eq!(n.size, Some(on_disk.len() as u64));
    assert_eq!(n.vsize, Some(body.len() as u64));
}

#[test]
fn a_message_a_reader_moved_to_cur_and_renamed_for_its_flags_is_found_again() {
    let tmp = tempfile::tempdir().unwrap();
    let md = Maildir::new(tmp.path().join("user"));
    md.create().unwrap();
    let path = md
        .deliver(
            "Qmoved",
            "mx",
            b"",
            &mut std::io::Cursor::new(&b"Subject: x\r\n\r\n"[..]),
            at(1_700_000_000),
        )
        .unwrap();
    let name = file_name(&path).to_string();
    assert_eq!(
        md.find_moved(&name).unwrap().as_deref(),
        Some(path.as_path())
    );
    let moved = md.root().join("cur").join(format!("{name}:2,RS"));
    fs::rename(&path, &moved).unwrap();
    assert_eq!(md.find_moved(&name).unwrap(), Some(moved.clone()));
    // Found from its old cur/ name too, after another flag change.
    let again = md.root().join("cur").join(format!("{name}:2,S"));
    fs::rename(&moved, &again).unwrap();
    assert_eq!(
        md.find_moved(&format!("{name}:2,RS")).unwrap(),
        Some(again.clone())
    );
    fs::remove_file(&again).unwrap();
    assert_eq!(md.find_moved(&name).unwrap(), None);
}

#[test]
fn a_message_with_bare_lfs_in_crlf_text_is_stored_as_received_with_its_own_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let md = Maildir::new(dir.path().join("Maildir"));
    md.create().unwrap();
    let body = b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00\n\x01\n\x02\n\x03\r\n";
    let path = md
        .deliver(
            "Qbin",
            "host",
            b"",
            &mut std::io::Cursor::new(&body[..]),
            at(3),
        )
        .unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), body);
    let name = path.file_name().unwrap().to_str().unwrap().to_string();
    assert!(
        name.ends_with(&format!(",S={0},W={0}", body.len())),
        "{name}"
    );
}
