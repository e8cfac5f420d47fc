//! Typed commands, as the parser hands them to the session.

use crate::date::DateTime;
use crate::fetch::FetchAttr;
use crate::flag::Flag;
use crate::mailbox::{Mailbox, MailboxAttr};
use crate::notify::NotifySet;
use crate::search::{SearchKey, SearchReturn};
use crate::sequence::SequenceSet;

/// A tagged command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub tag: String,
    pub body: CommandBody,
}

/// What a command asks for. Fields named `uid` say the command came with the
/// `UID` prefix: its sets are UIDs and its responses carry UIDs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandBody {
    Capability,
    Noop,
    Logout,
    StartTls,
    /// `initial_response` (SASL-IR, RFC 4959) is the base64 text as sent;
    /// `Some("")` when the client sent `=` (an empty response).
    Authenticate {
        mechanism: String,
        initial_response: Option<String>,
    },
    Login {
        username: String,
        password: String,
    },
    /// Capability names as sent; compare case-insensitively.
    Enable {
        capabilities: Vec<String>,
    },
    /// SELECT, or EXAMINE with `read_only`.
    Select {
        mailbox: Mailbox,
        read_only: bool,
        params: SelectParams,
    },
    /// `special_use`: the attributes of `CREATE name (USE (\Drafts))`.
    Create {
        mailbox: Mailbox,
        special_use: Vec<MailboxAttr>,
    },
    Delete {
        mailbox: Mailbox,
    },
    Rename {
        from: Mailbox,
        to: Mailbox,
    },
    Subscribe {
        mailbox: Mailbox,
    },
    Unsubscribe {
        mailbox: Mailbox,
    },
    List(ListCommand),
    /// Reference and pattern decoded to UTF-8 like mailbox names.
    Lsub {
        reference: String,
        pattern: String,
    },
    Namespace,
    Status {
        mailbox: Mailbox,
        items: Vec<StatusItem>,
    },
    Append(AppendCommand),
    Idle,
    Check,
    Close,
    Unselect,
    /// EXPUNGE, or with `uid_set` UID EXPUNGE (RFC 4315).
    Expunge {
        uid_set: Option<SequenceSet>,
    },
    Search(SearchCommand),
    Fetch(FetchCommand),
    Store(StoreCommand),
    Copy {
        uid: bool,
        set: SequenceSet,
        mailbox: Mailbox,
    },
    Move {
        uid: bool,
        set: SequenceSet,
        mailbox: Mailbox,
    },
    Sort(SortCommand),
    Thread(ThreadCommand),
    GetQuota {
        root: String,
    },
    GetQuotaRoot {
        mailbox: Mailbox,
    },
    /// Parsed so it can be refused politely.
    SetQuota {
        root: String,
        limits: Vec<(String, u64)>,
    },
    /// RFC 4978 `COMPRESS mechanism` (as sent, upper-cased).
    Compress {
        mechanism: String,
    },
    /// RFC 5464. `mailbox` is empty for the server's entries.
    GetMetadata(GetMetadataCommand),
    /// RFC 5464: each entry with its new value, `None` (NIL) to remove it.
    SetMetadata {
        mailbox: Mailbox,
        entries: Vec<(String, Option<Vec<u8>>)>,
    },
    /// RFC 2971: `None` for `ID NIL`; values `None` for NIL.
    Id {
        params: Option<Vec<(String, Option<String>)>>,
    },
    /// RFC 5465: `NOTIFY SET ...`, or `None` for `NOTIFY NONE`.
    Notify(Option<NotifySet>),
    /// RFC 5267: stop updating the results of these searches (their tags).
    CancelUpdate {
        tags: Vec<String>,
    },
}

impl CommandBody {
    /// The command's name for logs (`UID FETCH`, `EXAMINE`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            CommandBody::Capability => "CAPABILITY",
            CommandBody::Noop => "NOOP",
            CommandBody::Logout => "LOGOUT",
            CommandBody::StartTls => "STARTTLS",
            CommandBody::Authenticate { .. } => "AUTHENTICATE",
            CommandBody::Login { .. } => "LOGIN",
            CommandBody::Enable { .. } => "ENABLE",
            CommandBody::Select {
                read_only: false, ..
            } => "SELECT",
            CommandBody::Select {
                read_only: true, ..
            } => "EXAMINE",
            CommandBody::Create { .. } => "CREATE",
            CommandBody::Delete { .. } => "DELETE",
            CommandBody::Rename { .. } => "RENAME",
            CommandBody::Subscribe { .. } => "SUBSCRIBE",
            CommandBody::Unsubscribe { .. } => "UNSUBSCRIBE",
            CommandBody::List(_) => "LIST",
            CommandBody::Lsub { .. } => "LSUB",
            CommandBody::Namespace => "NAMESPACE",
            CommandBody::Status { .. } => "STATUS",
            CommandBody::Append(_) => "APPEND",
            CommandBody::Idle => "IDLE",
            CommandBody::Check => "CHECK",
            CommandBody::Close => "CLOSE",
            CommandBody::Unselect => "UNSELECT",
            CommandBody::Expunge { uid_set: None } => "EXPUNGE",
            CommandBody::Expunge { uid_set: Some(_) } => "UID EXPUNGE",
            CommandBody::Search(s) if s.uid => "UID SEARCH",
            CommandBody::Search(_) => "SEARCH",
            CommandBody::Fetch(f) if f.uid => "UID FETCH",
            CommandBody::Fetch(_) => "FETCH",
            CommandBody::Store(s) if s.uid => "UID STORE",
            CommandBody::Store(_) => "STORE",
            CommandBody::Copy { uid: true, .. } => "UID COPY",
            CommandBody::Copy { .. } => "COPY",
            CommandBody::Move { uid: true, .. } => "UID MOVE",
            CommandBody::Move { .. } => "MOVE",
            CommandBody::Sort(s) if s.uid => "UID SORT",
            CommandBody::Sort(_) => "SORT",
            CommandBody::Thread(t) if t.uid => "UID THREAD",
            CommandBody::Thread(_) => "THREAD",
            CommandBody::GetQuota { .. } => "GETQUOTA",
            CommandBody::GetQuotaRoot { .. } => "GETQUOTAROOT",
            CommandBody::SetQuota { .. } => "SETQUOTA",
            CommandBody::GetMetadata(_) => "GETMETADATA",
            CommandBody::SetMetadata { .. } => "SETMETADATA",
            CommandBody::Id { .. } => "ID",
            CommandBody::Compress { .. } => "COMPRESS",
            CommandBody::Notify(_) => "NOTIFY",
            CommandBody::CancelUpdate { .. } => "CANCELUPDATE",
        }
    }
}

/// `GETMETADATA [(MAXSIZE n DEPTH d)] mailbox entries` (RFC 5464).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetMetadataCommand {
    /// Empty for the server's entries.
    pub mailbox: Mailbox,
    /// Entry names as sent (`/private/...` or `/shared/...`).
    pub entries: Vec<String>,
    /// Values longer than this are left out (and their size reported).
    pub max_size: Option<u64>,
    pub depth: MetadataDepth,
}

/// How far below each asked entry GETMETADATA looks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MetadataDepth {
    /// The entry itself.
    #[default]
    Zero,
    /// And its children.
    One,
    /// And all entries below it.
    Infinity,
}

/// `SELECT`/`EXAMINE` parameters (RFC 7162).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelectParams {
    pub condstore: bool,
    pub qresync: Option<QResync>,
}

/// `(QRESYNC (uidvalidity modseq [known-uids [(seqs uids)]]))`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QResync {
    pub uid_validity: u32,
    pub modseq: u64,
    pub known_uids: Option<SequenceSet>,
    /// `(known-sequence-set known-uid-set)`: message numbers and the UIDs
    /// the client believes they have.
    pub seq_match: Option<(SequenceSet, SequenceSet)>,
}

/// LIST, basic (`LIST ref pattern`) or extended (RFC 5258, RFC 5819
/// LIST-STATUS, RFC 6154 SPECIAL-USE).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListCommand {
    /// The reference name, decoded to UTF-8 (often empty).
    pub reference: String,
    /// One or more patterns with `*`/`%`, decoded to UTF-8.
    pub patterns: Vec<String>,
    pub selection: ListSelection,
    pub returns: ListReturn,
    /// The client used the extended syntax (selection options, several
    /// patterns or RETURN): answer with extended LIST data.
    pub extended: bool,
}

/// LIST selection options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListSelection {
    pub subscribed: bool,
    pub remote: bool,
    pub recursive_match: bool,
    pub special_use: bool,
}

/// LIST RETURN options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListReturn {
    pub subscribed: bool,
    pub children: bool,
    pub special_use: bool,
    /// `RETURN (STATUS (...))`: send a STATUS response per listed mailbox.
    pub status: Option<Vec<StatusItem>>,
}

/// A STATUS data item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusItem {
    Messages,
    UidNext,
    UidValidity,
    Unseen,
    Deleted,
    Size,
    Recent,
    HighestModSeq,
    AppendLimit,
    /// RFC 8474: the value is the number [`crate::mailbox_id`] writes.
    MailboxId,
}

impl StatusItem {
    pub fn name(self) -> &'static str {
        match self {
            StatusItem::Messages => "MESSAGES",
            StatusItem::UidNext => "UIDNEXT",
            StatusItem::UidValidity => "UIDVALIDITY",
            StatusItem::Unseen => "UNSEEN",
            StatusItem::Deleted => "DELETED",
            StatusItem::Size => "SIZE",
            StatusItem::Recent => "RECENT",
            StatusItem::HighestModSeq => "HIGHESTMODSEQ",
            StatusItem::AppendLimit => "APPENDLIMIT",
            StatusItem::MailboxId => "MAILBOXID",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<StatusItem> {
        Some(match name {
            "MESSAGES" => StatusItem::Messages,
            "UIDNEXT" => StatusItem::UidNext,
            "UIDVALIDITY" => StatusItem::UidValidity,
            "UNSEEN" => StatusItem::Unseen,
            "DELETED" => StatusItem::Deleted,
            "SIZE" => StatusItem::Size,
            "RECENT" => StatusItem::Recent,
            "HIGHESTMODSEQ" => StatusItem::HighestModSeq,
            "APPENDLIMIT" => StatusItem::AppendLimit,
            "MAILBOXID" => StatusItem::MailboxId,
            _ => return None,
        })
    }
}

/// `APPEND mailbox 1*([flags] [date-time] literal)`: one message, or
/// several with MULTIAPPEND (RFC 3502), saved all or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendCommand {
    pub mailbox: Mailbox,
    /// At least one, in the order sent.
    pub messages: Vec<AppendMessage>,
}

/// One message of an APPEND.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendMessage {
    pub flags: Vec<Flag>,
    pub date: Option<DateTime>,
    /// Empty when the message is built from `catenate`.
    pub message: Vec<u8>,
    /// Sent as `literal8` (`~{N}`, RFC 3516): may hold NUL and bare 8-bit.
    pub binary: bool,
    /// `CATENATE (...)` (RFC 4469): the message is these parts, in order.
    pub catenate: Option<Vec<CatenatePart>>,
}

/// A part of a CATENATE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatenatePart {
    /// `TEXT literal`: bytes as sent.
    Text(Vec<u8>),
    /// `URL astring`: as sent, for `[BADURL]`; see [`crate::ImapUrl`].
    Url(String),
}

/// SEARCH / UID SEARCH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchCommand {
    pub uid: bool,
    /// `None`: no RETURN (answer `* SEARCH`, or ESEARCH once IMAP4rev2 is
    /// enabled). `Some(vec![])`: `RETURN ()`, which means `RETURN (ALL)`.
    pub result: Option<Vec<SearchReturn>>,
    /// As sent (`None` when absent). Strings of the program are UTF-8; with
    /// a charset other than UTF-8/US-ASCII they were decoded lossily and the
    /// session should answer `NO [BADCHARSET (UTF-8)]`.
    pub charset: Option<String>,
    /// The keys, all of which must match.
    pub criteria: Vec<SearchKey>,
}

/// FETCH / UID FETCH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchCommand {
    pub uid: bool,
    pub set: SequenceSet,
    pub items: Vec<FetchAttr>,
    /// `(CHANGEDSINCE n)` (RFC 7162).
    pub changed_since: Option<u64>,
    /// `(CHANGEDSINCE n VANISHED)`: only with UID FETCH and CHANGEDSINCE.
    pub vanished: bool,
}

/// STORE / UID STORE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreCommand {
    pub uid: bool,
    pub set: SequenceSet,
    /// `(UNCHANGEDSINCE n)` (RFC 7162).
    pub unchanged_since: Option<u64>,
    pub mode: StoreMode,
    /// `.SILENT`: no untagged FETCH for the changed flags.
    pub silent: bool,
    pub flags: Vec<Flag>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    /// `FLAGS`
    Replace,
    /// `+FLAGS`
    Add,
    /// `-FLAGS`
    Remove,
}

/// SORT / UID SORT (RFC 5256, ESORT RFC 5267).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortCommand {
    pub uid: bool,
    /// `SORT RETURN (...)`: answer with ESEARCH (ESORT).
    pub result: Option<Vec<SearchReturn>>,
    pub criteria: Vec<SortCriterion>,
    pub charset: String,
    pub search: Vec<SearchKey>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortCriterion {
    pub reverse: bool,
    pub key: SortKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Arrival,
    Cc,
    Date,
    From,
    Size,
    Subject,
    To,
    /// RFC 5957
    DisplayFrom,
    /// RFC 5957
    DisplayTo,
}

/// THREAD / UID THREAD (RFC 5256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadCommand {
    pub uid: bool,
    pub algorithm: ThreadAlgorithm,
    pub charset: String,
    pub search: Vec<SearchKey>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadAlgorithm {
    OrderedSubject,
    References,
}
