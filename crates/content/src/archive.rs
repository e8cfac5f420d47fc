//! The entries of zip archives, read from their central directory; nested
//! zips opened up to a depth, inflating no more than a byte budget shared
//! by the whole message (a zip bomb spends it and stops).

use std::io::{Cursor, Read};

use crate::content::{Archive, ArchiveEntry};
use crate::limits::{Limits, LimitsHit};
use crate::sniff::{FileType, sniff};

/// Bytes read from the start of an entry to tell its type.
const SNIFF_BYTES: u64 = 64;

/// The state of archive reading across one message.
pub(crate) struct ArchiveReader<'l> {
    limits: &'l Limits,
    /// Bytes that may still be inflated.
    budget: usize,
    /// Entries that may still be listed (all archives of the message
    /// together: each costs a decompressor to sniff it).
    entries_left: usize,
    pub(crate) hit: LimitsHit,
}

impl<'l> ArchiveReader<'l> {
    pub(crate) fn new(limits: &'l Limits) -> Self {
        ArchiveReader {
            limits,
            budget: limits.max_inflate_bytes,
            entries_left: limits.max_archive_entries,
            hit: LimitsHit::default(),
        }
    }

    /// The entries of the zip `data` (depth 1 for an attachment), and the
    /// type the entries show it is (a zip, an Office document, a jar).
    pub(crate) fn read(&mut self, data: &[u8]) -> (Archive, FileType) {
        let mut archive = Archive::default();
        let kind = self.list(data, 1, &mut archive);
        (archive, kind)
    }

    fn list(&mut self, data: &[u8], depth: usize, out: &mut Archive) -> FileType {
        let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(data)) else {
            out.unreadable = true;
            return FileType::Zip;
        };
        let mut kind = FileType::Zip;
        for index in 0..zip.len() {
            if self.entries_left == 0 {
                self.hit.archive_entries = true;
                break;
            }
            self.entries_left -= 1;
            let (name, size, encrypted, is_dir) = match zip.by_index_raw(index) {
                Ok(file) => (
                    String::from_utf8_lossy(file.name_raw()).into_owned(),
                    file.size(),
                    file.encrypted(),
                    file.is_dir(),
                ),
                Err(_) => {
                    out.unreadable = true;
                    continue;
                }
            };
            if name == "[Content_Types].xml" {
                kind = FileType::OfficeOpenXml;
            } else if name.eq_ignore_ascii_case("META-INF/MANIFEST.MF") {
                kind = FileType::Jar;
            }
            out.encrypted |= encrypted;
            let sniffed = if encrypted || is_dir {
                None
            } else {
                self.inflate(&mut zip, index, SNIFF_BYTES)
                    .and_then(|head| sniff(&head))
            };
            out.entries.push(ArchiveEntry {
                name,
                depth,
                size,
                encrypted,
                sniffed,
            });
            if sniffed == Some(FileType::Zip) {
                self.nested(&mut zip, index, size, depth, out);
            }
        }
        kind
    }

    /// Lists a zip inside a zip, within the depth and the inflate budget.
    fn nested(
        &mut self,
        zip: &mut zip::ZipArchive<Cursor<&[u8]>>,
        index: usize,
        size: u64,
        depth: usize,
        out: &mut Archive,
    ) {
        if depth >= self.limits.max_archive_depth {
            self.hit.archive_depth = true;
            return;
        }
        if size > self.budget as u64 {
            self.hit.inflate_bytes = true;
            out.unreadable = true;
            return;
        }
        match self.inflate(zip, index, size) {
            // The declared size can lie: what was read must be all there is.
            Some(inner) if inner.len() as u64 == size => {
                let entry = out.entries.len() - 1;
                let kind = self.list(&inner, depth + 1, out);
                out.entries[entry].sniffed = Some(kind);
            }
            _ => out.unreadable = true,
        }
    }

    /// Up to `want` bytes of an entry, inflated, charged to the budget.
    /// `None` when it cannot be read (or the budget is spent).
    fn inflate(
        &mut self,
        zip: &mut zip::ZipArchive<Cursor<&[u8]>>,
        index: usize,
        want: u64,
    ) -> Option<Vec<u8>> {
        let allowed = want.min(self.budget as u64);
        if allowed < want {
            self.hit.inflate_bytes = true;
        }
        let file = zip.by_index(index).ok()?;
        let mut data = Vec::with_capacity(allowed.min(64 * 1024) as usize);
        // A read error (bad data, checksum) still leaves the bytes read.
        let _ = file.take(allowed).read_to_end(&mut data);
        self.budget -= data.len();
        (allowed == want || !data.is_empty()).then_some(data)
    }
}
