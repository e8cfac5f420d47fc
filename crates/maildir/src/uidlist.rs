//! `dovecot-uidlist`: the UIDs of a folder's messages, as Dovecot keeps them
//! beside the messages, so Dovecot pointed at the folder shows the UIDs and
//! UIDVALIDITY havre's IMAP showed.
//!
//! Version 3, which Dovecot 1.1 and later write:
//! - header: `3 V<uidvalidity> N<next uid> G<mailbox GUID, 32 hex digits>`;
//! - one line per message, in UID order: `<uid> [<key><value> ...] :<name>`,
//!   the name being the file's name up to its ':' (what no flag change
//!   alters); the keys we write are `W` (the RFC 822 size) and `S` (the
//!   size on disk), only when the name has no `,W=` / `,S=` of its own.
//!
//! New messages are appended; the header's next UID may then be below the
//! last record's, which Dovecot reads as the record's UID + 1. A record
//! whose file is gone is an expunged message: readers skip it, and the next
//! rewrite drops it. Version 1 (`1 <uidvalidity> <next uid>`, then
//! `<uid> <name>`), written by old Dovecots and Courier, is read too.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::Path;

use crate::dotlock::{DotLock, FileId};
use crate::error::io_at;
use crate::{Maildir, MaildirError};

/// The file's name in each folder.
pub const UIDLIST: &str = "dovecot-uidlist";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UidlistHeader {
    pub uidvalidity: u32,
    /// The next UID: the header's, or above the last record if that is higher.
    pub nextuid: u32,
    /// The mailbox GUID (32 hex digits), absent from version 1.
    pub guid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UidlistRecord {
    pub uid: u32,
    /// The file's name up to ':' (no `new/` or `cur/`).
    pub name: String,
    /// `W`: the RFC 822 size, when the record carries it.
    pub vsize: Option<u64>,
    /// `S`: the size on disk, when the record carries it.
    pub size: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uidlist {
    pub header: UidlistHeader,
    /// In UID order.
    pub records: Vec<UidlistRecord>,
}

impl UidlistHeader {
    /// The version 3 header line, with its newline.
    pub fn render(&self) -> String {
        let mut line = format!("3 V{} N{}", self.uidvalidity, self.nextuid);
        if let Some(guid) = &self.guid {
            line.push_str(&format!(" G{guid}"));
        }
        line.push('\n');
        line
    }
}

impl UidlistRecord {
    /// The version 3 record line, with its newline.
    pub fn render(&self) -> String {
        let mut line = self.uid.to_string();
        if let Some(vsize) = self.vsize {
            line.push_str(&format!(" W{vsize}"));
        }
        if let Some(size) = self.size {
            line.push_str(&format!(" S{size}"));
        }
        line.push_str(" :");
        line.push_str(&self.name);
        line.push('\n');
        line
    }
}

impl Uidlist {
    /// Reads a uidlist's text; an error names the line (1 is the header).
    pub fn parse(text: &str) -> Result<Uidlist, (usize, String)> {
        let mut lines = text.lines();
        let header = lines.next().unwrap_or_default();
        let (version, mut header) = parse_header(header)?;
        let mut records: Vec<UidlistRecord> = Vec::new();
        for (index, line) in lines.enumerate() {
            let number = index + 2;
            if line.is_empty() {
                continue;
            }
            let record = parse_record(version, line).map_err(|reason| (number, reason))?;
            if records.last().is_some_and(|last| record.uid <= last.uid) {
                return Err((number, format!("bad or unordered UID: {line:?}")));
            }
            records.push(record);
        }
        if let Some(last) = records.last() {
            header.nextuid = header.nextuid.max(last.uid + 1);
        }
        Ok(Uidlist { header, records })
    }
}

fn parse_header(line: &str) -> Result<(u8, UidlistHeader), (usize, String)> {
    let bad = |reason: String| (1, reason);
    let mut header = UidlistHeader {
        uidvalidity: 0,
        nextuid: 0,
        guid: None,
    };
    let version = match line.split_once(' ') {
        Some(("1", rest)) => {
            let mut fields = rest.split_whitespace().map(str::parse::<u32>);
            match (fields.next(), fields.next()) {
                (Some(Ok(v)), Some(Ok(n))) => (header.uidvalidity, header.nextuid) = (v, n),
                _ => return Err(bad("bad version 1 header".into())),
            }
            1
        }
        Some(("3", rest)) => {
            for field in rest.split_whitespace() {
                let (key, value) = field.split_at(1);
                match key {
                    "V" => header.uidvalidity = value.parse().unwrap_or(0),
                    "N" => header.nextuid = value.parse().unwrap_or(0),
                    "G" => header.guid = Some(value.to_string()),
                    _ => {}
                }
            }
            3
        }
        _ => {
            return Err(bad(format!(
                "unsupported header {line:?} (Dovecot writes version 3, or 1)"
            )));
        }
    };
    if header.uidvalidity == 0 || header.nextuid == 0 {
        return Err(bad(format!(
            "header without UIDVALIDITY or NEXTUID: {line:?}"
        )));
    }
    Ok((version, header))
}

fn parse_record(version: u8, line: &str) -> Result<UidlistRecord, String> {
    let (uid, rest) = line
        .split_once(' ')
        .ok_or_else(|| format!("not `<uid> <file>`: {line:?}"))?;
    let uid: u32 = uid
        .parse()
        .ok()
        .filter(|&u| u > 0)
        .ok_or_else(|| format!("bad or unordered UID: {line:?}"))?;
    let mut rest = rest.trim_start_matches(' ');
    let (mut vsize, mut size) = (None, None);
    if version == 3 {
        // Extension fields (`W1234`, `S1200`, `G...`) until the ':'.
        while !rest.is_empty() && !rest.starts_with(':') {
            let (field, after) = rest.split_once(' ').unwrap_or((rest, ""));
            if let Some(w) = field.strip_prefix('W') {
                vsize = w.parse().ok();
            } else if let Some(s) = field.strip_prefix('S') {
                size = s.parse().ok();
            }
            rest = after.trim_start_matches(' ');
        }
        rest = rest.strip_prefix(':').unwrap_or(rest);
    }
    if rest.is_empty() || rest.contains('/') {
        return Err(format!("bad file name: {line:?}"));
    }
    Ok(UidlistRecord {
        uid,
        name: rest.split(':').next().unwrap_or(rest).to_string(),
        vsize,
        size,
    })
}

impl Maildir {
    /// The folder's `dovecot-uidlist` and which version of the file it is,
    /// `None` when there is none.
    pub fn read_uidlist(&self) -> Result<Option<(Uidlist, FileId)>, MaildirError> {
        let path = self.root.join(UIDLIST);
        let Some((bytes, id)) = read_whole(&path)? else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(&bytes);
        let uidlist = Uidlist::parse(&text).map_err(|(line, reason)| MaildirError::Malformed {
            path: path.clone(),
            line,
            reason,
        })?;
        Ok(Some((uidlist, id)))
    }

    /// The version of `dovecot-uidlist` there is now, `None` without one.
    pub fn uidlist_id(&self) -> Result<Option<FileId>, MaildirError> {
        FileId::at(&self.root.join(UIDLIST))
    }

    /// Writes the whole `dovecot-uidlist` under its lock (written beside,
    /// fsynced, renamed over the old one, directory fsynced); returns the
    /// version written.
    pub fn write_uidlist(
        &self,
        header: &UidlistHeader,
        records: &[UidlistRecord],
    ) -> Result<FileId, MaildirError> {
        let mut text = header.render();
        for record in records {
            text.push_str(&record.render());
        }
        DotLock::acquire(&self.root.join(UIDLIST))?.replace(text.as_bytes(), None)
    }

    /// Appends `records` to `dovecot-uidlist` under its lock, if the file is
    /// still the version `expected` (the caller read or wrote it), and
    /// fsyncs it: returns the version after the append, or `None`, appending
    /// nothing, when the file changed since (the caller reads it again).
    pub fn append_uidlist(
        &self,
        expected: FileId,
        records: &[UidlistRecord],
    ) -> Result<Option<FileId>, MaildirError> {
        let appended = self.append_uidlist_unsynced(expected, records)?;
        if appended.is_some() {
            self.sync_uidlist()?;
        }
        Ok(appended)
    }

    /// [`Maildir::append_uidlist`] without the fsync, for a caller that
    /// calls [`Maildir::sync_uidlist`] once its own locks are released, so
    /// that concurrent appenders share one fsync.
    pub fn append_uidlist_unsynced(
        &self,
        expected: FileId,
        records: &[UidlistRecord],
    ) -> Result<Option<FileId>, MaildirError> {
        let path = self.root.join(UIDLIST);
        let _lock = DotLock::acquire(&path)?;
        if FileId::at(&path)? != Some(expected) {
            return Ok(None);
        }
        let mut file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io_at(&path))?;
        let text: String = records.iter().map(UidlistRecord::render).collect();
        file.write_all(text.as_bytes()).map_err(io_at(&path))?;
        let meta = file.metadata().map_err(io_at(&path))?;
        Ok(Some(FileId::of(&meta)))
    }

    /// fsyncs `dovecot-uidlist`, shared with concurrent callers (group
    /// sync). The file named now is synced: one that replaced it since was
    /// synced by its writer before its rename, with whatever it lists.
    pub fn sync_uidlist(&self) -> Result<(), MaildirError> {
        let path = self.root.join(UIDLIST);
        havre_fsync::sync_file(&path).map_err(io_at(&path))
    }
}

/// A control file's bytes and the version they are, read without its lock
/// (a reader may have no right to lock a tree it only imports): the file
/// is read again if it grew while being read, so the version never claims
/// more than the bytes hold.
pub(crate) fn read_whole(path: &Path) -> Result<Option<(Vec<u8>, FileId)>, MaildirError> {
    for _ in 0..3 {
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_at(path)(e)),
        };
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io_at(path))?;
        let meta = file.metadata().map_err(io_at(path))?;
        if meta.len() == bytes.len() as u64 {
            return Ok(Some((bytes, FileId::of(&meta))));
        }
    }
    Err(io_at(path)(std::io::Error::other(
        "the file kept changing while it was read",
    )))
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn a_version_3_uidlist_is_read_with_its_extensions() {
        let uidlist = Uidlist::parse(
            "3 V1600000000 N13 G3085f01b7f11094c501100008c4a11c1\n\
             5 :1600000001.M1P1.old,S=10,W=12\n\
             9 W300 S290 :1600000002.M2P1.old\n",
        )
        .unwrap();
        assert_eq!(
            uidlist.header,
            UidlistHeader {
                uidvalidity: 1_600_000_000,
                nextuid: 13,
                guid: Some("3085f01b7f11094c501100008c4a11c1".into())
            }
        );
        assert_eq!(uidlist.records[0].name, "1600000001.M1P1.old,S=10,W=12");
        assert_eq!(uidlist.records[1].uid, 9);
        assert_eq!(
            (uidlist.records[1].vsize, uidlist.records[1].size),
            (Some(300), Some(290))
        );
    }

    #[test]
    fn a_version_1_uidlist_is_read_and_the_next_uid_is_above_the_last() {
        let uidlist = Uidlist::parse("1 1100000000 2\n1 1100000001.a.old:2,S\n3 b.old\n").unwrap();
        assert_eq!(uidlist.header.uidvalidity, 1_100_000_000);
        assert_eq!(uidlist.header.nextuid, 4);
        assert_eq!(uidlist.records[0].name, "1100000001.a.old");
    }

    #[test]
    fn a_broken_uidlist_names_its_line() {
        assert_eq!(
            Uidlist::parse("3 V1 N5\n4 :a\n2 :b\n").unwrap_err(),
            (3, "bad or unordered UID: \"2 :b\"".to_string())
        );
        assert_eq!(Uidlist::parse("2 1 5\n").unwrap_err().0, 1);
        assert_eq!(Uidlist::parse("3 V0 N5\n").unwrap_err().0, 1);
        assert_eq!(Uidlist::parse("3 V1 N5\n4 :a/b\n").unwrap_err().0, 2);
    }

    #[test]
    fn what_is_written_reads_back_and_appends_follow_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let md = Maildir::new(dir.path());
        md.create().unwrap();
        assert!(md.read_uidlist().unwrap().is_none());
        let header = UidlistHeader {
            uidvalidity: 1_700_000_000,
            nextuid: 3,
            guid: Some("00112233445566778899aabbccddeeff".into()),
        };
        let first = UidlistRecord {
            uid: 2,
            name: "1.Q1.h,S=5,W=6".into(),
            vsize: None,
            size: None,
        };
        let id = md
            .write_uidlist(&header, std::slice::from_ref(&first))
            .unwrap();
        let second = UidlistRecord {
            uid: 7,
            name: "2.Q2.other".into(),
            vsize: Some(12),
            size: Some(10),
        };
        let id = md
            .append_uidlist(id, std::slice::from_ref(&second))
            .unwrap()
            .unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join(UIDLIST)).unwrap(),
            "3 V1700000000 N3 G00112233445566778899aabbccddeeff\n\
             2 :1.Q1.h,S=5,W=6\n\
             7 W12 S10 :2.Q2.other\n"
        );
        let (read, read_id) = md.read_uidlist().unwrap().unwrap();
        assert_eq!(read_id, id);
        assert_eq!(read.records, vec![first, second]);
        assert_eq!(read.header.nextuid, 8);

        // Someone else rewrote it: nothing is appended to a file not read.
        md.write_uidlist(&header, &[]).unwrap();
        assert_eq!(md.append_uidlist(id, &[]).unwrap(), None);
    }
}
