//! The compiled form of a script: commands and tests checked and typed,
//! strings split into literal text and variable references, constant
//! regular expressions compiled. Immutable once built, `Send + Sync`.

use regex_lite::Regex;

/// Where an `include` looks for a script (RFC 6609 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Location {
    /// The user's own scripts (`:personal`, the default).
    Personal,
    /// The site's scripts (`:global`).
    Global,
}

/// A string argument: constant, or with `${...}` references expanded at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Str {
    Const(String),
    Template(Vec<Piece>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Lit(String),
    /// A variable, by its lower-case name (`global.` prefix kept).
    Var(String),
    /// A match variable `${N}`.
    Match(usize),
}

impl Str {
    /// The constant text, if the string has no variable in it.
    pub(crate) fn as_const(&self) -> Option<&str> {
        match self {
            Str::Const(s) => Some(s),
            Str::Template(_) => None,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Cmd {
    pub line: u32,
    pub kind: CmdKind,
}

#[derive(Debug, Clone)]
pub(crate) enum CmdKind {
    If {
        branches: Vec<(Test, Vec<Cmd>)>,
        otherwise: Option<Vec<Cmd>>,
    },
    Stop,
    Return,
    Keep {
        flags: Option<Vec<Str>>,
    },
    Discard,
    FileInto {
        mailbox: Str,
        flags: Option<Vec<Str>>,
        copy: bool,
        create: bool,
    },
    Redirect {
        address: Str,
        copy: bool,
    },
    Reject {
        reason: Str,
        extended: bool,
    },
    Flags {
        op: FlagOp,
        variable: Option<String>,
        flags: Vec<Str>,
    },
    Set {
        name: String,
        value: Str,
        modifiers: Vec<Modifier>,
    },
    Global {
        names: Vec<String>,
    },
    Vacation(Box<VacationCmd>),
    Include {
        location: Location,
        name: Str,
        once: bool,
        optional: bool,
    },
    AddHeader {
        last: bool,
        name: Str,
        value: Str,
    },
    DeleteHeader {
        index: Option<Index>,
        name: Str,
        matcher: Option<Matcher>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlagOp {
    Set,
    Add,
    Remove,
}

/// `set` modifiers, in the order they apply (RFC 5229 §4.1: highest precedence first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Modifier {
    Lower,
    Upper,
    LowerFirst,
    UpperFirst,
    QuoteWildcard,
    QuoteRegex,
    Length,
}

impl Modifier {
    pub(crate) fn precedence(self) -> u8 {
        match self {
            Modifier::Lower | Modifier::Upper => 40,
            Modifier::LowerFirst | Modifier::UpperFirst => 30,
            Modifier::QuoteWildcard | Modifier::QuoteRegex => 20,
            Modifier::Length => 10,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct VacationCmd {
    /// The period in seconds, as written (`:days` times 86400, or `:seconds`).
    pub period: Option<u64>,
    pub subject: Option<Str>,
    pub from: Option<Str>,
    pub addresses: Vec<Str>,
    pub mime: bool,
    pub handle: Option<Str>,
    pub reason: Str,
}

#[derive(Debug, Clone)]
pub(crate) struct Test {
    pub line: u32,
    pub kind: TestKind,
}

#[derive(Debug, Clone)]
pub(crate) enum TestKind {
    True,
    False,
    Not(Box<Test>),
    AllOf(Vec<Test>),
    AnyOf(Vec<Test>),
    Header {
        names: Vec<Str>,
        matcher: Matcher,
        index: Option<Index>,
    },
    Address {
        part: AddressPart,
        names: Vec<Str>,
        matcher: Matcher,
        index: Option<Index>,
    },
    Envelope {
        part: AddressPart,
        names: Vec<Str>,
        matcher: Matcher,
    },
    Exists(Vec<Str>),
    Size {
        over: bool,
        limit: u64,
    },
    Body {
        transform: BodyTransform,
        matcher: Matcher,
    },
    Date {
        zone: Zone,
        header: Str,
        part: DatePart,
        matcher: Matcher,
        index: Option<Index>,
    },
    CurrentDate {
        zone: Zone,
        part: DatePart,
        matcher: Matcher,
    },
    String {
        sources: Vec<Str>,
        matcher: Matcher,
    },
    HasFlag {
        variables: Vec<String>,
        matcher: Matcher,
    },
    Duplicate {
        handle: Option<Str>,
        id: DuplicateId,
        seconds: Option<u64>,
        last: bool,
    },
    SpamTest {
        percent: bool,
        matcher: Matcher,
    },
    VirusTest {
        matcher: Matcher,
    },
    MailboxExists(Vec<Str>),
    Environment {
        name: Str,
        matcher: Matcher,
    },
}

/// Comparator, match type and keys of a test.
#[derive(Debug, Clone)]
pub(crate) struct Matcher {
    pub comparator: Comparator,
    pub kind: MatchKind,
    pub keys: Vec<Str>,
    /// For `:regex`, each constant key compiled (None for keys with variables).
    pub regexes: Vec<Option<Regex>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Comparator {
    Octet,
    AsciiCasemap,
    AsciiNumeric,
}

impl Comparator {
    pub(crate) fn by_name(name: &str) -> Option<Comparator> {
        match name.to_ascii_lowercase().as_str() {
            "i;octet" => Some(Comparator::Octet),
            "i;ascii-casemap" => Some(Comparator::AsciiCasemap),
            "i;ascii-numeric" => Some(Comparator::AsciiNumeric),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MatchKind {
    Is,
    Contains,
    Matches,
    Regex,
    Value(Relation),
    Count(Relation),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Relation {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

impl Relation {
    pub(crate) fn by_name(name: &str) -> Option<Relation> {
        match name.to_ascii_lowercase().as_str() {
            "gt" => Some(Relation::Gt),
            "ge" => Some(Relation::Ge),
            "lt" => Some(Relation::Lt),
            "le" => Some(Relation::Le),
            "eq" => Some(Relation::Eq),
            "ne" => Some(Relation::Ne),
            _ => None,
        }
    }

    pub(crate) fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Relation::Gt => ordering == Greater,
            Relation::Ge => ordering != Less,
            Relation::Lt => ordering == Less,
            Relation::Le => ordering != Greater,
            Relation::Eq => ordering == Equal,
            Relation::Ne => ordering != Equal,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddressPart {
    All,
    LocalPart,
    Domain,
    User,
    Detail,
}

/// `:index N [:last]` (RFC 5260 §6): the Nth field of the name, from the top or the bottom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Index {
    pub n: u64,
    pub last: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum BodyTransform {
    Raw,
    Content(Vec<Str>),
    Text,
}

/// The time zone a date test converts to (RFC 5260 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Zone {
    /// The host's zone (the default).
    Local,
    /// The zone written in the date itself (`:originalzone`).
    Original,
    /// `:zone "+hhmm"`, in minutes east of UTC.
    Fixed(i32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DatePart {
    Year,
    Month,
    Day,
    Date,
    Julian,
    Hour,
    Minute,
    Second,
    Time,
    Iso8601,
    Std11,
    Zone,
    Weekday,
}

impl DatePart {
    pub(crate) fn by_name(name: &str) -> Option<DatePart> {
        Some(match name.to_ascii_lowercase().as_str() {
            "year" => DatePart::Year,
            "month" => DatePart::Month,
            "day" => DatePart::Day,
            "date" => DatePart::Date,
            "julian" => DatePart::Julian,
            "hour" => DatePart::Hour,
            "minute" => DatePart::Minute,
            "second" => DatePart::Second,
            "time" => DatePart::Time,
            "iso8601" => DatePart::Iso8601,
            "std11" => DatePart::Std11,
            "zone" => DatePart::Zone,
            "weekday" => DatePart::Weekday,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub(crate) enum DuplicateId {
    MessageId,
    Header(Str),
    UniqueId(Str),
}
