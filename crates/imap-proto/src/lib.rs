//! IMAP wire format for the server side, with no I/O: IMAP4rev2 (RFC 9051)
//! and IMAP4rev1 (RFC 3501) commands in, responses out. Kept apart from the
//! session and sockets so it can be fuzzed cheaply (`fuzz/`, target
//! `imap_command`).
//!
//! **Why hand-written.** imap-codec, the obvious crate, lacks ESEARCH and
//! `SEARCH RETURN`, LIST-STATUS and other IMAP4rev2 pieces this server
//! needs, and the release that would add more (2.0) is still an alpha. The
//! part of IMAP a server parses is small and regular; owning it lets the
//! limits, the error texts and the extensions we advertise be ours, like the
//! session state machine of the SMTP side.
//!
//! **What it parses.** [`CommandFramer`] turns the lines and literals a
//! client sends (`{N}`, non-synchronizing `{N+}` of RFC 7888, `~{N}` of RFC
//! 3516) into one complete command, enforcing a command limit, the
//! APPENDLIMIT and LITERAL- as it goes, and says when a continuation is due.
//! [`parse_command`] turns that command into a typed [`Command`]: the
//! commands of RFC 9051 and RFC 3501 plus the extensions a current client
//! uses: UIDPLUS, MOVE, UNSELECT, IDLE, NAMESPACE, ENABLE, ID, SASL-IR,
//! LITERAL+/-, BINARY, CONDSTORE/QRESYNC, ESEARCH and SEARCHRES,
//! LIST-EXTENDED, LIST-STATUS, SPECIAL-USE and CREATE-SPECIAL-USE, SORT,
//! ESORT, THREAD, QUOTA, WITHIN, STATUS=SIZE, APPENDLIMIT, CONTEXT=SEARCH
//! (`RETURN (UPDATE)`, CANCELUPDATE) and NOTIFY. Mailbox names
//! come out in UTF-8 ([`mutf7_decode`]/[`mutf7_encode`] for the modified
//! UTF-7 of older clients); sequence sets keep `*` and `$` unresolved for
//! the session to resolve against the mailbox ([`SequenceSet::resolve`]).
//!
//! **What it writes.** [`Writer`] appends responses (status responses with
//! their codes, mailbox data, ESEARCH, THREAD, FETCH with literals) choosing
//! atoms, quoted strings or literals so that any bytes stay parseable.
//!
//! **What it promises.** No input makes it panic; nothing recurses deeper
//! than [`MAX_DEPTH`] (parentheses, `NOT`, `OR`); memory is bounded by the
//! framer's limits. Every [`ParseError`] has a message fit for `TAG BAD`, and
//! says when the tag itself was unreadable (answer `* BAD`).
//!
//! **What it refuses.** Unknown commands, unknown options and malformed
//! arguments (BAD); NUL in literals other than the APPEND message; mailbox
//! names that are neither valid modified UTF-7 nor UTF-8; other extensions
//! we do not advertise.

mod command;
mod date;
mod error;
mod fetch;
mod flag;
mod frame;
mod lexer;
mod mailbox;
mod mutf7;
mod notify;
mod parse;
mod response;
mod search;
mod sequence;
mod url;

pub use command::{
    AppendCommand, AppendMessage, CatenatePart, Command, CommandBody, FetchCommand,
    GetMetadataCommand, ListCommand, ListReturn, ListSelection, MetadataDepth, QResync,
    SearchCommand, SelectParams, SortCommand, SortCriterion, SortKey, StatusItem, StoreCommand,
    StoreMode, ThreadAlgorithm, ThreadCommand,
};
pub use date::{Date, DateTime};
pub use error::{ParseError, ParseErrorKind};
pub use fetch::{FetchAttr, Partial, Section, SectionText};
pub use flag::Flag;
pub use frame::{
    CommandFramer, FrameError, Framed, LITERAL_MINUS_MAX, Refusal, RefuseReason,
    literal_announcement,
};
pub use lexer::MAX_DEPTH;
pub use mailbox::{Mailbox, MailboxAttr, decode_mailbox_name, normalize_inbox};
pub use mutf7::{Mutf7Error, mutf7_decode, mutf7_encode};
pub use notify::{EventGroup, NotifyEvent, NotifyFilter, NotifySet};
pub use parse::{
    AuthLine, ParseOptions, is_idle_done, parse_auth_line, parse_command, parse_command_with,
};
pub use response::{Code, Esearch, FetchWriter, ListExtra, Status, ThreadNode, Writer};
pub use search::{EntryType, PartialRange, SearchKey, SearchReturn};
pub use sequence::{RangeSet, SeqNum, SeqRange, SequenceSet, compress_in_order};
pub use url::ImapUrl;

/// RFC 8474 MAILBOXID: `F` and 16 hex digits of a number that names one
/// mailbox for good (the server packs its UIDVALIDITY and row id).
pub fn mailbox_id(n: u64) -> String {
    format!("F{n:016x}")
}
