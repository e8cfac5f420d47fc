//! The bounds of one analysis, and which of them a message reached.

/// How much of a message [`crate::analyze`] looks at. The defaults follow
/// the scan limits of SpamAssassin and Rspamd: the first 4 MiB of a
/// message tell what it is; what lies past them is not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of the message analysed (its start); the rest is ignored.
    pub max_scan_bytes: usize,
    /// MIME parts looked at (containers included), in message order.
    pub max_parts: usize,
    /// Nesting of multiparts and attached messages entered.
    pub max_depth: usize,
    /// Bytes of decoded text kept in [`crate::Content::text`].
    pub max_text_bytes: usize,
    /// URL hosts, e-mail domains and links kept (each list).
    pub max_urls: usize,
    /// Archive entries listed, all archives of the message together
    /// (nested ones included).
    pub max_archive_entries: usize,
    /// Archives inside archives opened: 1 lists the entries of an attached
    /// zip, 2 also those of a zip inside it.
    pub max_archive_depth: usize,
    /// Bytes inflated from archives, the whole message together: nested
    /// archives opened and the first bytes of entries sniffed (a zip bomb
    /// stops here).
    pub max_inflate_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_scan_bytes: 4 * 1024 * 1024,
            max_parts: 1000,
            max_depth: 20,
            max_text_bytes: 1024 * 1024,
            max_urls: 1000,
            max_archive_entries: 1000,
            max_archive_depth: 2,
            max_inflate_bytes: 8 * 1024 * 1024,
        }
    }
}

/// The limits a message reached: what was analysed is a part of it only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitsHit {
    /// The message is longer than [`Limits::max_scan_bytes`].
    pub scan_bytes: bool,
    /// More than [`Limits::max_parts`] MIME parts.
    pub parts: bool,
    /// Nesting deeper than [`Limits::max_depth`].
    pub depth: bool,
    /// More decoded text than [`Limits::max_text_bytes`].
    pub text: bool,
    /// More URL hosts, domains or links than [`Limits::max_urls`].
    pub urls: bool,
    /// More archive entries than [`Limits::max_archive_entries`].
    pub archive_entries: bool,
    /// Archives nested deeper than [`Limits::max_archive_depth`].
    pub archive_depth: bool,
    /// Archives needing more than [`Limits::max_inflate_bytes`] inflated
    /// (a zip bomb looks like this).
    pub inflate_bytes: bool,
}

impl LimitsHit {
    /// Whether any limit was reached.
    pub fn any(&self) -> bool {
        self.names().next().is_some()
    }

    /// The names of the limits reached (`scan_bytes`, `parts`, ...), as the
    /// fields are named, for a symbol or a log line.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        [
            (self.scan_bytes, "scan_bytes"),
            (self.parts, "parts"),
            (self.depth, "depth"),
            (self.text, "text"),
            (self.urls, "urls"),
            (self.archive_entries, "archive_entries"),
            (self.archive_depth, "archive_depth"),
            (self.inflate_bytes, "inflate_bytes"),
        ]
        .into_iter()
        .filter_map(|(hit, name)| hit.then_some(name))
    }
}
