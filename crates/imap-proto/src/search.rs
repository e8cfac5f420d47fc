//! SEARCH keys (RFC 9051 6.4.4, RFC 3501 NEW/OLD/RECENT, RFC 7162 MODSEQ,
//! RFC 5032 OLDER/YOUNGER) and the RETURN options of ESEARCH (RFC 4731,
//! PARTIAL of RFC 9394, UPDATE and CONTEXT of RFC 5267).

use crate::date::Date;
use crate::error::ParseError;
use crate::lexer::{Cursor, PResult};
use crate::sequence::SequenceSet;

/// One search key. Strings are UTF-8 (see [`crate::SearchCommand::charset`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    All,
    Answered,
    Bcc(String),
    Before(Date),
    Body(String),
    Cc(String),
    Deleted,
    Draft,
    Flagged,
    From(String),
    /// `HEADER field-name string`
    Header(String, String),
    Keyword(String),
    Larger(u64),
    New,
    Not(Box<SearchKey>),
    Old,
    On(Date),
    Or(Box<SearchKey>, Box<SearchKey>),
    Recent,
    Seen,
    SentBefore(Date),
    SentOn(Date),
    SentSince(Date),
    Since(Date),
    Smaller(u64),
    Subject(String),
    Text(String),
    To(String),
    Uid(SequenceSet),
    Unanswered,
    Undeleted,
    Undraft,
    Unflagged,
    Unkeyword(String),
    Unseen,
    /// A bare sequence set (message sequence numbers), or `$`.
    Sequence(SequenceSet),
    /// A parenthesised group: all of the keys.
    And(Vec<SearchKey>),
    /// RFC 7162: `MODSEQ ["/flags/\Seen" priv|shared|all] n`.
    ModSeq {
        entry: Option<(String, EntryType)>,
        modseq: u64,
    },
    /// RFC 5032 WITHIN: internal date older than this many seconds.
    Older(u32),
    /// RFC 5032 WITHIN: internal date younger than this many seconds.
    Younger(u32),
    /// RFC 8474 OBJECTID: `EMAILID id`.
    EmailId(String),
    /// RFC 8474 OBJECTID: `THREADID id`.
    ThreadId(String),
    /// RFC 8514 SAVEDATE: `SAVEDBEFORE date`.
    SavedBefore(Date),
    /// RFC 8514 SAVEDATE: `SAVEDON date`.
    SavedOn(Date),
    /// RFC 8514 SAVEDATE: `SAVEDSINCE date`.
    SavedSince(Date),
    /// RFC 8514 SAVEDATE: every message of a mailbox that keeps save dates.
    SaveDateSupported,
}

/// The metadata type of a CONDSTORE `MODSEQ` search entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryType {
    Private,
    Shared,
    All,
}

/// `SEARCH RETURN (...)` options (RFC 4731, RFC 5182 SAVE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SearchReturn {
    Min,
    Max,
    All,
    Count,
    Save,
    /// `PARTIAL range` (RFC 9394): one page of the results.
    Partial(PartialRange),
    /// `UPDATE` (RFC 5267 CONTEXT=SEARCH): keep the result up to date with
    /// unsolicited `ESEARCH ... ADDTO/REMOVEFROM` until CANCELUPDATE.
    Update,
    /// `CONTEXT` (RFC 5267): a hint that more of this result will be asked
    /// for; it changes nothing in the answer.
    Context,
}

/// A PARTIAL range: positions `low..=high` (1-based) in the list of
/// results, counted from its end when `from_end` (`-1:-100` is the last
/// hundred). Written back as the client sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PartialRange {
    pub first: u32,
    pub second: u32,
    pub from_end: bool,
}

impl PartialRange {
    /// The indices of the results this range selects among `count`.
    pub fn indices(&self, count: usize) -> std::ops::Range<usize> {
        let low = self.first.min(self.second) as usize;
        let high = self.first.max(self.second) as usize;
        if low > count {
            return 0..0;
        }
        if self.from_end {
            count.saturating_sub(high)..count + 1 - low
        } else {
            low - 1..high.min(count)
        }
    }
}

impl std::fmt::Display for PartialRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.from_end { "-" } else { "" };
        write!(f, "{sign}{}:{sign}{}", self.first, self.second)
    }
}

/// `partial-range` (RFC 9394): `nz-number ":" nz-number` or
/// `"-" nz-number ":" "-" nz-number`.
fn parse_partial_range(c: &mut Cursor<'_>) -> PResult<PartialRange> {
    let from_end = c.eat(b'-');
    let first = c.nz_number()?;
    c.expect(b':', "bad PARTIAL range")?;
    if from_end {
        c.expect(b'-', "a PARTIAL range is both negative or both positive")?;
    }
    let second = c.nz_number()?;
    Ok(PartialRange {
        first,
        second,
        from_end,
    })
}

/// How strings of a search program are turned into UTF-8.
#[derive(Clone, Copy)]
pub(crate) enum Strings {
    /// Refuse bytes that are not UTF-8.
    Strict,
    /// A charset we will refuse anyway (`BADCHARSET`): keep going.
    Lossy,
}

fn string(c: &mut Cursor<'_>, strings: Strings) -> PResult<String> {
    let bytes = c.astring()?;
    match strings {
        Strings::Strict => String::from_utf8(bytes.into_owned())
            .map_err(|_| ParseError::syntax("search string is not valid UTF-8")),
        Strings::Lossy => Ok(String::from_utf8_lossy(&bytes).into_owned()),
    }
}

/// `RETURN (opt ...)` after the keyword `RETURN` has been consumed.
pub(crate) fn parse_return_options(c: &mut Cursor<'_>) -> PResult<Vec<SearchReturn>> {
    c.sp()?;
    let mut options = Vec::new();
    c.paren_list(true, |c| {
        let option = match c.keyword()?.as_str() {
            "MIN" => SearchReturn::Min,
            "MAX" => SearchReturn::Max,
            "ALL" => SearchReturn::All,
            "COUNT" => SearchReturn::Count,
            "SAVE" => SearchReturn::Save,
            "UPDATE" => SearchReturn::Update,
            "CONTEXT" => SearchReturn::Context,
            "PARTIAL" => {
                c.sp()?;
                let range = parse_partial_range(c)?;
                if options
                    .iter()
                    .any(|o| matches!(o, SearchReturn::Partial(_)))
                {
                    return Err(ParseError::syntax("PARTIAL given twice"));
                }
                SearchReturn::Partial(range)
            }
            _ => return Err(ParseError::syntax("unknown RETURN option")),
        };
        if !options.contains(&option) {
            options.push(option);
        }
        Ok(())
    })?;
    // RFC 9394 3.1: ALL and PARTIAL are mutually exclusive.
    if options.contains(&SearchReturn::All)
        && options
            .iter()
            .any(|o| matches!(o, SearchReturn::Partial(_)))
    {
        return Err(ParseError::syntax("RETURN with both ALL and PARTIAL"));
    }
    Ok(options)
}

/// `search-key *(SP search-key)` up to the end of the command.
pub(crate) fn parse_keys(c: &mut Cursor<'_>, strings: Strings) -> PResult<Vec<SearchKey>> {
    let mut keys = vec![parse_key(c, strings)?];
    loop {
        // Trailing spaces before CRLF are forgiven by `end`.
        if c.at_end() || c.rest().iter().all(|&b| matches!(b, b' ' | b'\r' | b'\n')) {
            return Ok(keys);
        }
        c.sp()?;
        keys.push(parse_key(c, strings)?);
    }
}

fn parse_key(c: &mut Cursor<'_>, strings: Strings) -> PResult<SearchKey> {
    match c.peek() {
        Some(b'(') => {
            let mut keys = Vec::new();
            c.paren_list(false, |c| {
                keys.push(parse_key(c, strings)?);
                Ok(())
            })?;
            return Ok(SearchKey::And(keys));
        }
        Some(b'0'..=b'9' | b'*' | b'$') => return Ok(SearchKey::Sequence(SequenceSet::parse(c)?)),
        _ => {}
    }
    let name = c
        .keyword()
        .map_err(|_| ParseError::syntax("expected a search key"))?;
    let key = match name.as_str() {
        "ALL" => SearchKey::All,
        "ANSWERED" => SearchKey::Answered,
        "DELETED" => SearchKey::Deleted,
        "DRAFT" => SearchKey::Draft,
        "FLAGGED" => SearchKey::Flagged,
        "NEW" => SearchKey::New,
        "OLD" => SearchKey::Old,
        "RECENT" => SearchKey::Recent,
        "SEEN" => SearchKey::Seen,
        "UNANSWERED" => SearchKey::Unanswered,
        "UNDELETED" => SearchKey::Undeleted,
        "UNDRAFT" => SearchKey::Undraft,
        "UNFLAGGED" => SearchKey::Unflagged,
        "UNSEEN" => SearchKey::Unseen,
        "BCC" => SearchKey::Bcc(arg_string(c, strings)?),
        "BODY" => SearchKey::Body(arg_string(c, strings)?),
        "CC" => SearchKey::Cc(arg_string(c, strings)?),
        "FROM" => SearchKey::From(arg_string(c, strings)?),
        "SUBJECT" => SearchKey::Subject(arg_string(c, strings)?),
        "TEXT" => SearchKey::Text(arg_string(c, strings)?),
        "TO" => SearchKey::To(arg_string(c, strings)?),
        "HEADER" => {
            c.sp()?;
            let field = c.astring_utf8("bad header field name")?;
            if field.is_empty()
                || !field
                    .bytes()
                    .all(|b| (0x21..=0x7e).contains(&b) && b != b':')
            {
                return Err(ParseError::syntax("bad header field name"));
            }
            SearchKey::Header(field, arg_string(c, strings)?)
        }
        "KEYWORD" => SearchKey::Keyword(arg_atom(c)?),
        "UNKEYWORD" => SearchKey::Unkeyword(arg_atom(c)?),
        "BEFORE" => SearchKey::Before(arg_date(c)?),
        "ON" => SearchKey::On(arg_date(c)?),
        "SINCE" => SearchKey::Since(arg_date(c)?),
        "SENTBEFORE" => SearchKey::SentBefore(arg_date(c)?),
        "SENTON" => SearchKey::SentOn(arg_date(c)?),
        "SENTSINCE" => SearchKey::SentSince(arg_date(c)?),
        "SAVEDBEFORE" => SearchKey::SavedBefore(arg_date(c)?),
        "SAVEDON" => SearchKey::SavedOn(arg_date(c)?),
        "SAVEDSINCE" => SearchKey::SavedSince(arg_date(c)?),
        "SAVEDATESUPPORTED" => SearchKey::SaveDateSupported,
        "EMAILID" => SearchKey::EmailId(arg_atom(c)?),
        "THREADID" => SearchKey::ThreadId(arg_atom(c)?),
        "LARGER" => {
            c.sp()?;
            SearchKey::Larger(c.number64()?)
        }
        "SMALLER" => {
            c.sp()?;
            SearchKey::Smaller(c.number64()?)
        }
        "OLDER" => {
            c.sp()?;
            SearchKey::Older(c.nz_number()?)
        }
        "YOUNGER" => {
            c.sp()?;
            SearchKey::Younger(c.nz_number()?)
        }
        "UID" => {
            c.sp()?;
            SearchKey::Uid(SequenceSet::parse(c)?)
        }
        "NOT" => {
            c.sp()?;
            c.enter()?;
            let key = parse_key(c, strings)?;
            c.leave();
            SearchKey::Not(Box::new(key))
        }
        "OR" => {
            c.enter()?;
            c.sp()?;
            let a = parse_key(c, strings)?;
            c.sp()?;
            let b = parse_key(c, strings)?;
            c.leave();
            SearchKey::Or(Box::new(a), Box::new(b))
        }
        "MODSEQ" => {
            c.sp()?;
            let entry = if c.peek() == Some(b'"') {
                let name = String::from_utf8(c.quoted()?)
                    .map_err(|_| ParseError::syntax("bad MODSEQ entry name"))?;
                c.sp()?;
                let kind = match c.keyword()?.as_str() {
                    "PRIV" => EntryType::Private,
                    "SHARED" => EntryType::Shared,
                    "ALL" => EntryType::All,
                    _ => return Err(ParseError::syntax("bad MODSEQ entry type")),
                };
                c.sp()?;
                Some((name, kind))
            } else {
                None
            };
            // mod-sequence-valzer: zero is allowed here.
            SearchKey::ModSeq {
                entry,
                modseq: c.number64()?,
            }
        }
        _ => return Err(ParseError::syntax("unknown search key")),
    };
    Ok(key)
}

fn arg_string(c: &mut Cursor<'_>, strings: Strings) -> PResult<String> {
    c.sp()?;
    string(c, strings)
}

fn arg_atom(c: &mut Cursor<'_>) -> PResult<String> {
    c.sp()?;
    Ok(c.atom()?.to_owned())
}

fn arg_date(c: &mut Cursor<'_>) -> PResult<Date> {
    c.sp()?;
    Date::parse(c)
}

#[cfg(test)]
mod tests {
    use super::PartialRange;

    fn range(first: u32, second: u32, from_end: bool) -> PartialRange {
        PartialRange {
            first,
            second,
            from_end,
        }
    }

    #[test]
    fn partial_ranges_select_pages_from_either_end() {
        assert_eq!(range(1, 100, false).indices(250), 0..100);
        assert_eq!(range(300, 201, false).indices(250), 200..250);
        assert_eq!(range(251, 300, false).indices(250), 0..0);
        assert_eq!(range(1, 100, true).indices(250), 150..250);
        assert_eq!(range(101, 200, true).indices(250), 50..150);
        assert_eq!(range(1, 5, true).indices(3), 0..3);
        assert_eq!(range(4, 5, true).indices(3), 0..0);
        assert_eq!(range(1, 1, true).indices(0), 0..0);
        assert_eq!(range(1, 100, true).to_string(), "-1:-100");
        assert_eq!(range(1, 100, false).to_string(), "1:100");
    }
}
