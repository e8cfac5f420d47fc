//! Responses out: a [`Writer`] that appends well-formed response lines to a
//! buffer, choosing atoms, quoted strings or literals so that any bytes the
//! session passes (names, header fields, message parts) stay parseable.

use crate::command::StatusItem;
use crate::date::DateTime;
use crate::fetch::Section;
use crate::flag::Flag;
use crate::lexer::is_atom_char;
use crate::mailbox::MailboxAttr;
use crate::mutf7::mutf7_encode;
use crate::search::PartialRange;
use crate::sequence::{RangeSet, compress_in_order};

/// Longest string written quoted; longer ones become literals.
const MAX_QUOTED: usize = 1024;

/// The status of a status response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    No,
    Bad,
    PreAuth,
    Bye,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bad => "BAD",
            Status::PreAuth => "PREAUTH",
            Status::Bye => "BYE",
        }
    }
}

/// A response code, the bracketed part of a status response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    Alert,
    AlreadyExists,
    /// RFC 4315: the UIDs of the appended messages (several after a
    /// MULTIAPPEND), in the order they were sent.
    AppendUid {
        uid_validity: u32,
        uids: Vec<u32>,
    },
    AuthenticationFailed,
    AuthorizationFailed,
    /// The charsets we do support (empty: no list).
    BadCharset(Vec<String>),
    /// RFC 5465: the NOTIFY events the server supports, after an event it
    /// does not.
    BadEvent(Vec<String>),
    Cannot,
    Capability(Vec<String>),
    ClientBug,
    /// RFC 7162: the previous mailbox is closed (before SELECT's codes).
    Closed,
    ContactAdmin,
    /// RFC 4315: source and destination UIDs, pairwise in the same order.
    CopyUid {
        uid_validity: u32,
        source: Vec<u32>,
        destination: Vec<u32>,
    },
    Corruption,
    Expired,
    ExpungeIssued,
    HasChildren,
    HighestModSeq(u64),
    /// RFC 8474 `MAILBOXID (id)`, from the number [`crate::mailbox_id`] writes.
    MailboxId(u64),
    InUse,
    Limit,
    /// RFC 7162: messages a conditional STORE did not change.
    Modified(RangeSet),
    NoModSeq,
    NonExistent,
    /// RFC 5465: notifications were lost; NOTIFY is off until set again.
    NotificationOverflow,
    /// RFC 5267: the search with this tag gets no ADDTO/REMOVEFROM updates.
    NoUpdate(String),
    NoPerm,
    OverQuota,
    Parse,
    /// With `allow_new`, `\*` is added: clients may create keywords.
    PermanentFlags {
        flags: Vec<Flag>,
        allow_new: bool,
    },
    PrivacyRequired,
    ReadOnly,
    ReadWrite,
    ServerBug,
    TooBig,
    TryCreate,
    UidNext(u32),
    UidNotSticky,
    UidValidity(u32),
    Unavailable,
    UnknownCte,
    Unseen(u32),
    UseAttr,
    /// Anything else, written verbatim (`]`, CR and LF are dropped).
    Other(String),
}

/// Extended LIST data (RFC 5258 CHILDINFO, RFC 9051 OLDNAME).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListExtra<'a> {
    /// `("CHILDINFO" ("SUBSCRIBED"))`: a child matches with RECURSIVEMATCH.
    pub child_info_subscribed: bool,
    /// `("OLDNAME" ("old"))` after a RENAME.
    pub old_name: Option<&'a str>,
}

/// An ESEARCH response (RFC 4731; ESORT RFC 5267). Absent results are left
/// out; an empty `all` is left out too, as RFC 4731 wants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Esearch<'a> {
    /// The tag of the command (`(TAG "a1")`).
    pub tag: Option<&'a str>,
    pub uid: bool,
    pub min: Option<u32>,
    pub max: Option<u32>,
    pub count: Option<u32>,
    /// In the order given (sorted for SEARCH, sort order for ESORT);
    /// consecutive runs are compressed.
    pub all: Option<&'a [u32]>,
    /// RFC 7162: highest mod-sequence of the matched messages.
    pub modseq: Option<u64>,
    /// RFC 9394: the range asked for and the results in it (in order).
    pub partial: Option<(PartialRange, &'a [u32])>,
    /// RFC 5267 `REMOVEFROM (0 set)`: these left the result of an updated
    /// SEARCH (position 0: SEARCH results have no order to keep).
    pub remove_from: Option<&'a [u32]>,
    /// RFC 5267 `ADDTO (0 set)`: these joined the result.
    pub add_to: Option<&'a [u32]>,
}

/// A node of a THREAD response: a message (or `None`, a missing parent that
/// only groups its children) and its replies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThreadNode {
    pub id: Option<u32>,
    pub children: Vec<ThreadNode>,
}

impl Drop for ThreadNode {
    /// Without recursion: a reply chain can be thousands of messages deep.
    fn drop(&mut self) {
        let mut stack = std::mem::take(&mut self.children);
        while let Some(mut node) = stack.pop() {
            stack.append(&mut node.children);
        }
    }
}

/// Appends responses to a buffer. With `utf8` (IMAP4rev2 or UTF8=ACCEPT
/// enabled) mailbox names are written in UTF-8 and may be quoted with 8-bit
/// characters; otherwise names are modified UTF-7 and 8-bit strings are
/// always literals.
#[derive(Debug, Clone, Default)]
pub struct Writer {
    buf: Vec<u8>,
    utf8: bool,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    pub fn with_utf8(utf8: bool) -> Writer {
        Writer {
            buf: Vec::new(),
            utf8,
        }
    }

    pub fn set_utf8(&mut self, utf8: bool) {
        self.utf8 = utf8;
    }

    pub fn utf8(&self) -> bool {
        self.utf8
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The bytes written so far; the writer is left empty.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn clear(&mut self) {
        self.buf.clear();
    }

    // --- primitives --------------------------------------------------------

    /// Bytes as they are (the caller vouches for their syntax).
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self
    }

    fn num(&mut self, n: impl std::fmt::Display) -> &mut Self {
        use std::io::Write;
        let _ = write!(self.buf, "{n}");
        self
    }

    fn can_quote(&self, s: &[u8]) -> bool {
        if s.len() > MAX_QUOTED {
            return false;
        }
        let seven_bit = s
            .iter()
            .all(|&b| matches!(b, 0x01..=0x7f) && b != b'\r' && b != b'\n');
        seven_bit
            || (self.utf8
                && std::str::from_utf8(s).is_ok()
                && !s.iter().any(|&b| matches!(b, 0 | b'\r' | b'\n')))
    }

    fn quoted(&mut self, s: &[u8]) -> &mut Self {
        self.buf.push(b'"');
        for &b in s {
            if b == b'"' || b == b'\\' {
                self.buf.push(b'\\');
            }
            self.buf.push(b);
        }
        self.buf.push(b'"');
        self
    }

    /// `{n}` CRLF and the bytes.
    pub fn literal(&mut self, s: &[u8]) -> &mut Self {
        self.buf.push(b'{');
        self.num(s.len());
        self.buf.extend_from_slice(b"}\r\n");
        self.buf.extend_from_slice(s);
        self
    }

    /// `~{n}` CRLF and the bytes (RFC 3516 literal8).
    pub fn literal8(&mut self, s: &[u8]) -> &mut Self {
        self.buf.push(b'~');
        self.literal(s)
    }

    /// A `string`: quoted when safe, else a literal.
    pub fn string(&mut self, s: &[u8]) -> &mut Self {
        if self.can_quote(s) {
            self.quoted(s)
        } else {
            self.literal(s)
        }
    }

    /// An `astring`: an atom when it is one (and not `NIL`), else a string.
    pub fn astring(&mut self, s: &[u8]) -> &mut Self {
        if !s.is_empty() && s.iter().all(|&b| is_atom_char(b)) && !s.eq_ignore_ascii_case(b"NIL") {
            self.raw(s)
        } else {
            self.string(s)
        }
    }

    /// An `nstring`: `NIL` or a string.
    pub fn nstring(&mut self, s: Option<&[u8]>) -> &mut Self {
        match s {
            Some(s) => self.string(s),
            None => self.raw(b"NIL"),
        }
    }

    /// A mailbox name: modified UTF-7 unless UTF-8 is enabled.
    pub fn mailbox(&mut self, name: &str) -> &mut Self {
        if self.utf8 {
            self.astring(name.as_bytes())
        } else {
            let encoded = mutf7_encode(name);
            self.astring(encoded.as_bytes())
        }
    }

    /// Human-readable text: never empty, CR, LF and NUL become spaces.
    fn text(&mut self, text: &str) -> &mut Self {
        if text.is_empty() {
            return self.raw(b"completed");
        }
        for &b in text.as_bytes() {
            self.buf.push(if matches!(b, 0 | b'\r' | b'\n') {
                b' '
            } else {
                b
            });
        }
        self
    }

    fn crlf(&mut self) -> &mut Self {
        self.raw(b"\r\n")
    }

    fn flag_list(&mut self, flags: &[Flag]) -> &mut Self {
        self.buf.push(b'(');
        for (i, flag) in flags.iter().enumerate() {
            if i > 0 {
                self.buf.push(b' ');
            }
            self.raw(flag.to_string().as_bytes());
        }
        self.buf.push(b')');
        self
    }

    fn code(&mut self, code: &Code) -> &mut Self {
        self.buf.push(b'[');
        let simple = match code {
            Code::Alert => "ALERT",
            Code::AlreadyExists => "ALREADYEXISTS",
            Code::AuthenticationFailed => "AUTHENTICATIONFAILED",
            Code::AuthorizationFailed => "AUTHORIZATIONFAILED",
            Code::Cannot => "CANNOT",
            Code::ClientBug => "CLIENTBUG",
            Code::Closed => "CLOSED",
            Code::ContactAdmin => "CONTACTADMIN",
            Code::Corruption => "CORRUPTION",
            Code::Expired => "EXPIRED",
            Code::ExpungeIssued => "EXPUNGEISSUED",
            Code::HasChildren => "HASCHILDREN",
            Code::InUse => "INUSE",
            Code::Limit => "LIMIT",
            Code::NoModSeq => "NOMODSEQ",
            Code::NonExistent => "NONEXISTENT",
            Code::NotificationOverflow => "NOTIFICATIONOVERFLOW",
            Code::NoPerm => "NOPERM",
            Code::OverQuota => "OVERQUOTA",
            Code::Parse => "PARSE",
            Code::PrivacyRequired => "PRIVACYREQUIRED",
            Code::ReadOnly => "READ-ONLY",
            Code::ReadWrite => "READ-WRITE",
            Code::ServerBug => "SERVERBUG",
            Code::TooBig => "TOOBIG",
            Code::TryCreate => "TRYCREATE",
            Code::UidNotSticky => "UIDNOTSTICKY",
            Code::Unavailable => "UNAVAILABLE",
            Code::UnknownCte => "UNKNOWN-CTE",
            Code::UseAttr => "USEATTR",
            _ => "",
        };
        self.raw(simple.as_bytes());
        match code {
            Code::AppendUid { uid_validity, uids } => {
                self.raw(b"APPENDUID ").num(uid_validity).raw(b" ");
                self.raw(compress_in_order(uids).as_bytes());
            }
            Code::BadCharset(charsets) => {
                self.raw(b"BADCHARSET");
                if !charsets.is_empty() {
                    self.raw(b" (");
                    for (i, cs) in charsets.iter().enumerate() {
                        if i > 0 {
                            self.raw(b" ");
                        }
                        self.astring(cs.as_bytes());
                    }
                    self.raw(b")");
                }
            }
            Code::BadEvent(events) => {
                self.raw(b"BADEVENT (");
                for (i, event) in events.iter().enumerate() {
                    if i > 0 {
                        self.raw(b" ");
                    }
                    self.astring(event.as_bytes());
                }
                self.raw(b")");
            }
            Code::NoUpdate(tag) => {
                self.raw(b"NOUPDATE ").quoted(tag.as_bytes());
            }
            Code::Capability(caps) => {
                self.raw(b"CAPABILITY");
                for cap in caps {
                    self.raw(b" ").raw(cap.as_bytes());
                }
            }
            Code::CopyUid {
                uid_validity,
                source,
                destination,
            } => {
                self.raw(b"COPYUID ").num(uid_validity).raw(b" ");
                self.raw(compress_in_order(source).as_bytes()).raw(b" ");
                self.raw(compress_in_order(destination).as_bytes());
            }
            Code::MailboxId(n) => {
                self.raw(b"MAILBOXID (")
                    .raw(crate::mailbox_id(*n).as_bytes())
                    .raw(b")");
            }
            Code::HighestModSeq(n) => {
                self.raw(b"HIGHESTMODSEQ ").num(n);
            }
            Code::Modified(set) => {
                self.raw(b"MODIFIED ").num(set);
            }
            Code::PermanentFlags { flags, allow_new } => {
                self.raw(b"PERMANENTFLAGS (");
                for (i, flag) in flags.iter().enumerate() {
                    if i > 0 {
                        self.raw(b" ");
                    }
                    self.raw(flag.to_string().as_bytes());
                }
                if *allow_new {
                    self.raw(if flags.is_empty() { b"\\*" } else { b" \\*" });
                }
                self.raw(b")");
            }
            Code::UidNext(n) => {
                self.raw(b"UIDNEXT ").num(n);
            }
            Code::UidValidity(n) => {
                self.raw(b"UIDVALIDITY ").num(n);
            }
            Code::Unseen(n) => {
                self.raw(b"UNSEEN ").num(n);
            }
            Code::Other(text) => {
                for &b in text.as_bytes() {
                    if !matches!(b, b']' | b'\r' | b'\n' | 0) {
                        self.buf.push(b);
                    }
                }
            }
            _ => {}
        }
        self.raw(b"] ")
    }

    // --- status responses --------------------------------------------------

    /// `TAG OK|NO|BAD [CODE] text`.
    pub fn tagged(
        &mut self,
        tag: &str,
        status: Status,
        code: Option<&Code>,
        text: &str,
    ) -> &mut Self {
        self.raw(tag.as_bytes()).raw(b" ");
        self.status_body(status, code, text)
    }

    /// `* OK|NO|BAD|PREAUTH|BYE [CODE] text`.
    pub fn untagged(&mut self, status: Status, code: Option<&Code>, text: &str) -> &mut Self {
        self.raw(b"* ");
        self.status_body(status, code, text)
    }

    fn status_body(&mut self, status: Status, code: Option<&Code>, text: &str) -> &mut Self {
        self.raw(status.as_str().as_bytes()).raw(b" ");
        if let Some(code) = code {
            self.code(code);
        }
        self.text(text).crlf()
    }

    /// `+ text` (command continuation request).
    pub fn continuation(&mut self, text: &str) -> &mut Self {
        self.raw(b"+ ").text(text).crlf()
    }

    /// `+ base64` (an AUTHENTICATE challenge, possibly empty: `+ `).
    pub fn continuation_raw(&mut self, base64: &str) -> &mut Self {
        self.raw(b"+ ").text_or_empty(base64).crlf()
    }

    fn text_or_empty(&mut self, text: &str) -> &mut Self {
        if text.is_empty() {
            self
        } else {
            self.text(text)
        }
    }

    // --- mailbox data ------------------------------------------------------

    /// `* CAPABILITY ...`
    pub fn capability(&mut self, caps: &[&str]) -> &mut Self {
        self.raw(b"* CAPABILITY");
        for cap in caps {
            self.raw(b" ").raw(cap.as_bytes());
        }
        self.crlf()
    }

    /// `* ENABLED ...`
    pub fn enabled(&mut self, caps: &[&str]) -> &mut Self {
        self.raw(b"* ENABLED");
        for cap in caps {
            self.raw(b" ").raw(cap.as_bytes());
        }
        self.crlf()
    }

    /// `* n EXISTS`
    pub fn exists(&mut self, n: u32) -> &mut Self {
        self.raw(b"* ").num(n).raw(b" EXISTS").crlf()
    }

    /// `* n RECENT` (IMAP4rev1 only).
    pub fn recent(&mut self, n: u32) -> &mut Self {
        self.raw(b"* ").num(n).raw(b" RECENT").crlf()
    }

    /// `* n EXPUNGE`
    pub fn expunge(&mut self, seq: u32) -> &mut Self {
        self.raw(b"* ").num(seq).raw(b" EXPUNGE").crlf()
    }

    /// `* VANISHED [(EARLIER)] uids` (RFC 7162); nothing when `uids` is empty.
    pub fn vanished(&mut self, earlier: bool, uids: &RangeSet) -> &mut Self {
        if uids.is_empty() {
            return self;
        }
        self.raw(b"* VANISHED ");
        if earlier {
            self.raw(b"(EARLIER) ");
        }
        self.num(uids).crlf()
    }

    /// `* FLAGS (...)`
    pub fn flags(&mut self, flags: &[Flag]) -> &mut Self {
        self.raw(b"* FLAGS ").flag_list(flags).crlf()
    }

    /// `* LIST (attrs) "/" name`
    pub fn list(
        &mut self,
        attrs: &[MailboxAttr],
        delimiter: Option<char>,
        name: &str,
    ) -> &mut Self {
        self.list_like(b"LIST", attrs, delimiter, name, &ListExtra::default())
    }

    /// `* LIST (attrs) "/" name (extended data)`
    pub fn list_extended(
        &mut self,
        attrs: &[MailboxAttr],
        delimiter: Option<char>,
        name: &str,
        extra: &ListExtra<'_>,
    ) -> &mut Self {
        self.list_like(b"LIST", attrs, delimiter, name, extra)
    }

    /// `* LSUB (attrs) "/" name`
    pub fn lsub(
        &mut self,
        attrs: &[MailboxAttr],
        delimiter: Option<char>,
        name: &str,
    ) -> &mut Self {
        self.list_like(b"LSUB", attrs, delimiter, name, &ListExtra::default())
    }

    fn list_like(
        &mut self,
        kind: &[u8],
        attrs: &[MailboxAttr],
        delimiter: Option<char>,
        name: &str,
        extra: &ListExtra<'_>,
    ) -> &mut Self {
        self.raw(b"* ").raw(kind).raw(b" (");
        for (i, attr) in attrs.iter().enumerate() {
            if i > 0 {
                self.raw(b" ");
            }
            self.raw(attr.to_string().as_bytes());
        }
        self.raw(b") ");
        match delimiter {
            Some(d) => {
                let mut tmp = [0u8; 4];
                self.quoted(d.encode_utf8(&mut tmp).as_bytes());
            }
            None => {
                self.raw(b"NIL");
            }
        }
        self.raw(b" ").mailbox(name);
        let mut items = Vec::new();
        if extra.child_info_subscribed {
            items.push(0);
        }
        if extra.old_name.is_some() {
            items.push(1);
        }
        if !items.is_empty() {
            self.raw(b" (");
            for (i, item) in items.into_iter().enumerate() {
                if i > 0 {
                    self.raw(b" ");
                }
                if item == 0 {
                    self.raw(b"\"CHILDINFO\" (\"SUBSCRIBED\")");
                } else if let Some(old) = extra.old_name {
                    self.raw(b"\"OLDNAME\" (").mailbox(old).raw(b")");
                }
            }
            self.raw(b")");
        }
        self.crlf()
    }

    /// `* STATUS name (ITEM n ...)`
    pub fn status(&mut self, mailbox: &str, items: &[(StatusItem, u64)]) -> &mut Self {
        self.raw(b"* STATUS ").mailbox(mailbox).raw(b" (");
        for (i, (item, value)) in items.iter().enumerate() {
            if i > 0 {
                self.raw(b" ");
            }
            if *item == StatusItem::MailboxId {
                self.raw(b"MAILBOXID (")
                    .raw(crate::mailbox_id(*value).as_bytes())
                    .raw(b")");
            } else {
                self.raw(item.name().as_bytes()).raw(b" ").num(value);
            }
        }
        self.raw(b")").crlf()
    }

    /// `* METADATA mailbox (entry value ...)` (RFC 5464 4.4); `mailbox` is
    /// empty for the server's entries.
    pub fn metadata(&mut self, mailbox: &str, entries: &[(&str, &[u8])]) -> &mut Self {
        self.raw(b"* METADATA ");
        if mailbox.is_empty() {
            self.raw(b"\"\"");
        } else {
            self.mailbox(mailbox);
        }
        self.raw(b" (");
        for (i, (entry, value)) in entries.iter().enumerate() {
            if i > 0 {
                self.raw(b" ");
            }
            self.astring(entry.as_bytes()).raw(b" ");
            if value.contains(&0) {
                self.literal8(value);
            } else {
                self.string(value);
            }
        }
        self.raw(b")").crlf()
    }

    /// `* SEARCH n ...` with `(MODSEQ m)` for CONDSTORE searches.
    pub fn search(&mut self, ids: &[u32], modseq: Option<u64>) -> &mut Self {
        self.id_list(b"* SEARCH", ids, modseq)
    }

    /// `* SORT n ...` (RFC 5256), with `(MODSEQ m)` if asked.
    pub fn sort(&mut self, ids: &[u32], modseq: Option<u64>) -> &mut Self {
        self.id_list(b"* SORT", ids, modseq)
    }

    fn id_list(&mut self, head: &[u8], ids: &[u32], modseq: Option<u64>) -> &mut Self {
        self.raw(head);
        for id in ids {
            self.raw(b" ").num(id);
        }
        if let Some(m) = modseq.filter(|_| !ids.is_empty()) {
            self.raw(b" (MODSEQ ").num(m).raw(b")");
        }
        self.crlf()
    }

    /// `* ESEARCH (TAG "a") UID MIN 1 MAX 5 COUNT 3 ALL 1:5 MODSEQ 9`
    pub fn esearch(&mut self, e: &Esearch<'_>) -> &mut Self {
        self.raw(b"* ESEARCH");
        if let Some(tag) = e.tag {
            self.raw(b" (TAG ").quoted(tag.as_bytes()).raw(b")");
        }
        if e.uid {
            self.raw(b" UID");
        }
        if let Some(n) = e.min {
            self.raw(b" MIN ").num(n);
        }
        if let Some(n) = e.max {
            self.raw(b" MAX ").num(n);
        }
        if let Some(n) = e.count {
            self.raw(b" COUNT ").num(n);
        }
        if let Some(all) = e.all.filter(|a| !a.is_empty()) {
            self.raw(b" ALL ").raw(compress_in_order(all).as_bytes());
        }
        if let Some((range, ids)) = e.partial {
            self.raw(b" PARTIAL (").num(range).raw(b" ");
            if ids.is_empty() {
                self.raw(b"NIL");
            } else {
                self.raw(compress_in_order(ids).as_bytes());
            }
            self.raw(b")");
        }
        if let Some(m) = e.modseq {
            self.raw(b" MODSEQ ").num(m);
        }
        // Removals first: with sequence numbers, they name messages as the
        // client numbered them before this response (RFC 5267 4.3.2).
        for (name, ids) in [
            (&b" REMOVEFROM (0 "[..], e.remove_from),
            (b" ADDTO (0 ", e.add_to),
        ] {
            if let Some(ids) = ids.filter(|ids| !ids.is_empty()) {
                let mut sorted = ids.to_vec();
                sorted.sort_unstable();
                sorted.dedup();
                self.raw(name)
                    .raw(compress_in_order(&sorted).as_bytes())
                    .raw(b")");
            }
        }
        self.crlf()
    }

    /// `* THREAD (1 2)(3 (4)(5))` (RFC 5256). Written without recursion, so
    /// any depth is fine.
    pub fn thread(&mut self, threads: &[ThreadNode]) -> &mut Self {
        enum Work<'t> {
            Open(&'t ThreadNode),
            Close,
        }
        self.raw(b"* THREAD");
        if !threads.is_empty() {
            self.raw(b" ");
        }
        let mut stack: Vec<Work<'_>> = threads.iter().rev().map(Work::Open).collect();
        while let Some(work) = stack.pop() {
            let Work::Open(node) = work else {
                self.raw(b")");
                continue;
            };
            self.raw(b"(");
            let mut cur = node;
            let mut wrote = false;
            loop {
                if let Some(id) = cur.id {
                    if wrote {
                        self.raw(b" ");
                    }
                    self.num(id);
                    wrote = true;
                }
                match cur.children.as_slice() {
                    [only] => cur = only,
                    [] => {
                        self.raw(b")");
                        break;
                    }
                    children => {
                        if wrote {
                            self.raw(b" ");
                        }
                        stack.push(Work::Close);
                        stack.extend(children.iter().rev().map(Work::Open));
                        break;
                    }
                }
            }
        }
        self.crlf()
    }

    /// `* QUOTA root (RESOURCE usage limit ...)` (RFC 9208).
    pub fn quota(&mut self, root: &str, resources: &[(&str, u64, u64)]) -> &mut Self {
        self.raw(b"* QUOTA ").astring(root.as_bytes()).raw(b" (");
        for (i, (name, usage, limit)) in resources.iter().enumerate() {
            if i > 0 {
                self.raw(b" ");
            }
            self.raw(name.as_bytes())
                .raw(b" ")
                .num(usage)
                .raw(b" ")
                .num(limit);
        }
        self.raw(b")").crlf()
    }

    /// `* QUOTAROOT mailbox root ...`
    pub fn quota_root(&mut self, mailbox: &str, roots: &[&str]) -> &mut Self {
        self.raw(b"* QUOTAROOT ").mailbox(mailbox);
        for root in roots {
            self.raw(b" ").astring(root.as_bytes());
        }
        self.crlf()
    }

    /// `* NAMESPACE personal other shared`; each a list of (prefix,
    /// delimiter), NIL when empty.
    pub fn namespace(
        &mut self,
        personal: &[(&str, Option<char>)],
        other: &[(&str, Option<char>)],
        shared: &[(&str, Option<char>)],
    ) -> &mut Self {
        self.raw(b"* NAMESPACE");
        for group in [personal, other, shared] {
            self.raw(b" ");
            if group.is_empty() {
                self.raw(b"NIL");
                continue;
            }
            self.raw(b"(");
            for (prefix, delimiter) in group {
                self.raw(b"(");
                let name = if self.utf8 {
                    (*prefix).to_owned()
                } else {
                    mutf7_encode(prefix)
                };
                self.string(name.as_bytes()).raw(b" ");
                match delimiter {
                    Some(d) => {
                        let mut tmp = [0u8; 4];
                        self.quoted(d.encode_utf8(&mut tmp).as_bytes());
                    }
                    None => {
                        self.raw(b"NIL");
                    }
                }
                self.raw(b")");
            }
            self.raw(b")");
        }
        self.crlf()
    }

    /// `* ID ("name" "havre" ...)` or `* ID NIL`.
    pub fn id(&mut self, params: Option<&[(&str, Option<&str>)]>) -> &mut Self {
        self.raw(b"* ID ");
        match params {
            None => {
                self.raw(b"NIL");
            }
            Some(params) => {
                self.raw(b"(");
                for (i, (key, value)) in params.iter().enumerate() {
                    if i > 0 {
                        self.raw(b" ");
                    }
                    self.string(key.as_bytes()).raw(b" ");
                    self.nstring(value.map(str::as_bytes));
                }
                self.raw(b")");
            }
        }
        self.crlf()
    }

    /// Starts `* seq FETCH (`; add items, and the response is closed with
    /// `)` CRLF when the [`FetchWriter`] is dropped: chain the items in one
    /// statement (`w.fetch(3).uid(7).flags(&f);`) or drop it explicitly.
    pub fn fetch(&mut self, seq: u32) -> FetchWriter<'_> {
        self.raw(b"* ").num(seq).raw(b" FETCH (");
        FetchWriter {
            w: self,
            first: true,
        }
    }
}

/// The items of one FETCH response; see [`Writer::fetch`].
pub struct FetchWriter<'w> {
    w: &'w mut Writer,
    first: bool,
}

impl FetchWriter<'_> {
    fn item(&mut self, name: &[u8]) -> &mut Writer {
        if !self.first {
            self.w.raw(b" ");
        }
        self.first = false;
        self.w.raw(name)
    }

    /// `UID n`
    pub fn uid(&mut self, uid: u32) -> &mut Self {
        self.item(b"UID ").num(uid);
        self
    }

    /// `FLAGS (...)`
    pub fn flags(&mut self, flags: &[Flag]) -> &mut Self {
        self.item(b"FLAGS ").flag_list(flags);
        self
    }

    /// `MODSEQ (n)`
    pub fn modseq(&mut self, modseq: u64) -> &mut Self {
        self.item(b"MODSEQ (").num(modseq).raw(b")");
        self
    }

    /// `INTERNALDATE "dd-Mon-yyyy hh:mm:ss +zzzz"`
    pub fn internal_date(&mut self, date: &DateTime) -> &mut Self {
        self.item(b"INTERNALDATE \"").num(date).raw(b"\"");
        self
    }

    /// `SAVEDATE "dd-Mon-yyyy hh:mm:ss +zzzz"` (RFC 8514), or NIL.
    pub fn save_date(&mut self, date: Option<&DateTime>) -> &mut Self {
        match date {
            Some(date) => self.item(b"SAVEDATE \"").num(date).raw(b"\""),
            None => self.item(b"SAVEDATE NIL"),
        };
        self
    }

    /// `EMAILID (id)` (RFC 8474).
    pub fn email_id(&mut self, id: &str) -> &mut Self {
        self.item(b"EMAILID (").raw(id.as_bytes()).raw(b")");
        self
    }

    /// `THREADID (id)` or `THREADID NIL` (RFC 8474).
    pub fn thread_id(&mut self, id: Option<&str>) -> &mut Self {
        match id {
            Some(id) => self.item(b"THREADID (").raw(id.as_bytes()).raw(b")"),
            None => self.item(b"THREADID NIL"),
        };
        self
    }

    /// `RFC822.SIZE n`
    pub fn rfc822_size(&mut self, size: u64) -> &mut Self {
        self.item(b"RFC822.SIZE ").num(size);
        self
    }

    /// `ENVELOPE (...)`, preformatted by the caller.
    pub fn envelope(&mut self, formatted: &[u8]) -> &mut Self {
        self.item(b"ENVELOPE ").raw(formatted);
        self
    }

    /// `BODYSTRUCTURE (...)`, preformatted by the caller.
    pub fn body_structure(&mut self, formatted: &[u8]) -> &mut Self {
        self.item(b"BODYSTRUCTURE ").raw(formatted);
        self
    }

    /// `BODY (...)` (non-extensible structure), preformatted by the caller.
    pub fn body(&mut self, formatted: &[u8]) -> &mut Self {
        self.item(b"BODY ").raw(formatted);
        self
    }

    /// `BODY[section]<origin> data` as a literal (`NIL` when `None`: the
    /// part does not exist). `origin` is the partial's start, if one was
    /// asked for.
    pub fn section(
        &mut self,
        section: &Section,
        origin: Option<u32>,
        data: Option<&[u8]>,
    ) -> &mut Self {
        let w = self.item(b"BODY[");
        w.num(section).raw(b"]");
        if let Some(o) = origin {
            w.raw(b"<").num(o).raw(b">");
        }
        w.raw(b" ");
        match data {
            Some(d) => w.literal(d),
            None => w.raw(b"NIL"),
        };
        self
    }

    /// `BINARY[part]<origin> data`: `~{n}` when the data holds NUL, `{n}`
    /// otherwise, `NIL` when `None`.
    pub fn binary(&mut self, part: &[u32], origin: Option<u32>, data: Option<&[u8]>) -> &mut Self {
        let w = self.item(b"BINARY[");
        write_part(w, part);
        w.raw(b"]");
        if let Some(o) = origin {
            w.raw(b"<").num(o).raw(b">");
        }
        w.raw(b" ");
        match data {
            Some(d) if d.contains(&0) => w.literal8(d),
            Some(d) => w.literal(d),
            None => w.raw(b"NIL"),
        };
        self
    }

    /// `BINARY.SIZE[part] n`
    pub fn binary_size(&mut self, part: &[u32], size: u64) -> &mut Self {
        let w = self.item(b"BINARY.SIZE[");
        write_part(w, part);
        w.raw(b"] ").num(size);
        self
    }

    /// `RFC822 data`
    pub fn rfc822(&mut self, data: Option<&[u8]>) -> &mut Self {
        let w = self.item(b"RFC822 ");
        match data {
            Some(d) => w.literal(d),
            None => w.raw(b"NIL"),
        };
        self
    }

    /// `RFC822.HEADER data`
    pub fn rfc822_header(&mut self, data: Option<&[u8]>) -> &mut Self {
        let w = self.item(b"RFC822.HEADER ");
        match data {
            Some(d) => w.literal(d),
            None => w.raw(b"NIL"),
        };
        self
    }

    /// `RFC822.TEXT data`
    pub fn rfc822_text(&mut self, data: Option<&[u8]>) -> &mut Self {
        let w = self.item(b"RFC822.TEXT ");
        match data {
            Some(d) => w.literal(d),
            None => w.raw(b"NIL"),
        };
        self
    }

    /// `PREVIEW "text"` (RFC 8970), `NIL` when there is none to give.
    pub fn preview(&mut self, text: Option<&str>) -> &mut Self {
        self.item(b"PREVIEW ").nstring(text.map(str::as_bytes));
        self
    }

    /// Any other item, `NAME value`, value written verbatim.
    pub fn raw_item(&mut self, name: &str, value: &[u8]) -> &mut Self {
        self.item(name.as_bytes()).raw(b" ").raw(value);
        self
    }
}

fn write_part(w: &mut Writer, part: &[u32]) {
    for (i, p) in part.iter().enumerate() {
        if i > 0 {
            w.raw(b".");
        }
        w.num(p);
    }
}

impl Drop for FetchWriter<'_> {
    fn drop(&mut self) {
        self.w.raw(b")\r\n");
    }
}
