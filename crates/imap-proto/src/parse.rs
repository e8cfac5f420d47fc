//! Command parsing: one assembled command (lines and literals, as
//! [`crate::CommandFramer`] hands it over) to a [`Command`].

use crate::command::*;
use crate::date::DateTime;
use crate::error::{ParseError, ParseErrorKind};
use crate::fetch::parse_items;
use crate::flag::Flag;
use crate::lexer::{Cursor, PResult};
use crate::mailbox::{Mailbox, MailboxAttr, decode_mailbox_name};
use crate::notify::parse_notify;
use crate::search::{Strings, parse_keys, parse_return_options};
use crate::sequence::SequenceSet;

/// What the parser needs to know about the session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// Mailbox names are UTF-8 as sent (after `ENABLE IMAP4rev2` or
    /// `ENABLE UTF8=ACCEPT`); otherwise 7-bit names are modified UTF-7.
    pub utf8_mailboxes: bool,
}

/// Parses one complete command (its final CRLF optional) with default
/// options: mailbox names in modified UTF-7, raw UTF-8 tolerated.
pub fn parse_command(input: &[u8]) -> Result<Command, ParseError> {
    parse_command_with(input, &ParseOptions::default())
}

/// Parses one complete command.
pub fn parse_command_with(input: &[u8], options: &ParseOptions) -> Result<Command, ParseError> {
    let mut c = Cursor::new(input);
    let Some(tag) = c.tag() else {
        return Err(ParseError::new(
            ParseErrorKind::NoTag,
            "missing or invalid tag",
        ));
    };
    if !c.eat(b' ') {
        return Err(ParseError::syntax("missing command").with_tag(tag));
    }
    let mut p = Parser { c, options };
    match p.body() {
        Ok(body) => Ok(Command {
            tag: tag.to_owned(),
            body,
        }),
        Err(err) => Err(err.with_tag(tag)),
    }
}

struct Parser<'a, 'o> {
    c: Cursor<'a>,
    options: &'o ParseOptions,
}

fn unknown() -> ParseError {
    ParseError::new(ParseErrorKind::UnknownCommand, "unknown command")
}

impl Parser<'_, '_> {
    fn body(&mut self) -> PResult<CommandBody> {
        let name = self.c.keyword().map_err(|_| unknown())?;
        let body = match name.as_str() {
            "CAPABILITY" => CommandBody::Capability,
            "NOOP" => CommandBody::Noop,
            "LOGOUT" => CommandBody::Logout,
            "STARTTLS" => CommandBody::StartTls,
            "NAMESPACE" => CommandBody::Namespace,
            "IDLE" => CommandBody::Idle,
            "CHECK" => CommandBody::Check,
            "CLOSE" => CommandBody::Close,
            "UNSELECT" => CommandBody::Unselect,
            "EXPUNGE" => CommandBody::Expunge { uid_set: None },
            "AUTHENTICATE" => self.authenticate()?,
            "LOGIN" => {
                self.c.sp()?;
                let username = self.c.astring_utf8("user name is not valid UTF-8")?;
                self.c.sp()?;
                let password = self.c.astring_utf8("password is not valid UTF-8")?;
                CommandBody::Login { username, password }
            }
            "ENABLE" => {
                let mut capabilities = Vec::new();
                self.c.sp()?;
                loop {
                    capabilities.push(self.c.atom()?.to_owned());
                    if !self.more() {
                        break;
                    }
                }
                CommandBody::Enable { capabilities }
            }
            "SELECT" | "EXAMINE" => {
                self.c.sp()?;
                let mailbox = self.mailbox()?;
                let params = self.select_params()?;
                CommandBody::Select {
                    mailbox,
                    read_only: name == "EXAMINE",
                    params,
                }
            }
            "CREATE" => self.create()?,
            "DELETE" => CommandBody::Delete {
                mailbox: self.sp_mailbox()?,
            },
            "RENAME" => CommandBody::Rename {
                from: self.sp_mailbox()?,
                to: self.sp_mailbox()?,
            },
            "SUBSCRIBE" => CommandBody::Subscribe {
                mailbox: self.sp_mailbox()?,
            },
            "UNSUBSCRIBE" => CommandBody::Unsubscribe {
                mailbox: self.sp_mailbox()?,
            },
            "LIST" => CommandBody::List(self.list()?),
            "LSUB" => {
                self.c.sp()?;
                let reference = self.mailbox_string()?;
                self.c.sp()?;
                let pattern = self.pattern()?;
                CommandBody::Lsub { reference, pattern }
            }
            "STATUS" => {
                let mailbox = self.sp_mailbox()?;
                self.c.sp()?;
                let items = self.status_items()?;
                CommandBody::Status { mailbox, items }
            }
            "APPEND" => CommandBody::Append(self.append()?),
            "SEARCH" => CommandBody::Search(self.search(false)?),
            "FETCH" => CommandBody::Fetch(self.fetch(false)?),
            "STORE" => CommandBody::Store(self.store(false)?),
            "COPY" | "MOVE" => self.copy_move(&name, false)?,
            "SORT" => CommandBody::Sort(self.sort(false)?),
            "THREAD" => CommandBody::Thread(self.thread(false)?),
            "UID" => self.uid()?,
            "GETQUOTA" => {
                self.c.sp()?;
                CommandBody::GetQuota {
                    root: self.c.astring_utf8("quota root is not valid UTF-8")?,
                }
            }
            "GETQUOTAROOT" => CommandBody::GetQuotaRoot {
                mailbox: self.sp_mailbox()?,
            },
            "SETQUOTA" => self.setquota()?,
            "ID" => self.id()?,
            "COMPRESS" => {
                self.c.sp()?;
                CommandBody::Compress {
                    mechanism: self.c.atom()?.to_ascii_uppercase(),
                }
            }
            "GETMETADATA" => CommandBody::GetMetadata(self.getmetadata()?),
            "SETMETADATA" => self.setmetadata()?,
            "NOTIFY" => {
                self.c.sp()?;
                CommandBody::Notify(parse_notify(&mut self.c, self.options.utf8_mailboxes)?)
            }
            "CANCELUPDATE" => {
                // RFC 5267: `1*(SP tag-string)`; the tags are strings.
                let mut tags = Vec::new();
                self.c.sp()?;
                loop {
                    tags.push(self.c.astring_utf8("a tag is ASCII")?);
                    if !self.more() {
                        break;
                    }
                }
                CommandBody::CancelUpdate { tags }
            }
            _ => return Err(unknown()),
        };
        self.c.end()?;
        Ok(body)
    }

    /// A space follows and it is not the end of the command.
    fn more(&mut self) -> bool {
        if self.c.peek() == Some(b' ')
            && !self.c.rest()[1..]
                .iter()
                .all(|&b| matches!(b, b' ' | b'\r' | b'\n'))
        {
            self.c.eat(b' ');
            true
        } else {
            false
        }
    }

    fn uid(&mut self) -> PResult<CommandBody> {
        self.c.sp()?;
        let name = self.c.keyword().map_err(|_| unknown())?;
        Ok(match name.as_str() {
            "FETCH" => CommandBody::Fetch(self.fetch(true)?),
            "STORE" => CommandBody::Store(self.store(true)?),
            "SEARCH" => CommandBody::Search(self.search(true)?),
            "COPY" | "MOVE" => self.copy_move(&name, true)?,
            "SORT" => CommandBody::Sort(self.sort(true)?),
            "THREAD" => CommandBody::Thread(self.thread(true)?),
            "EXPUNGE" => {
                self.c.sp()?;
                CommandBody::Expunge {
                    uid_set: Some(SequenceSet::parse(&mut self.c)?),
                }
            }
            _ => return Err(unknown()),
        })
    }

    fn mailbox(&mut self) -> PResult<Mailbox> {
        Ok(Mailbox::new(self.mailbox_string()?))
    }

    fn sp_mailbox(&mut self) -> PResult<Mailbox> {
        self.c.sp()?;
        self.mailbox()
    }

    fn mailbox_string(&mut self) -> PResult<String> {
        let raw = self.c.astring()?;
        decode_mailbox_name(&raw, self.options.utf8_mailboxes)
    }

    fn pattern(&mut self) -> PResult<String> {
        let raw = self.c.list_mailbox()?;
        decode_mailbox_name(&raw, self.options.utf8_mailboxes)
    }

    fn authenticate(&mut self) -> PResult<CommandBody> {
        self.c.sp()?;
        let mechanism = self.c.atom()?.to_ascii_uppercase();
        let initial_response = if self.more() {
            let rest = self.c.rest();
            let len = rest
                .iter()
                .take_while(|&&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
                .count();
            let text = std::str::from_utf8(&rest[..len]).unwrap_or_default();
            let response = if text == "=" {
                String::new()
            } else {
                text.to_owned()
            };
            if len == 0 || !valid_base64(&response) {
                return Err(ParseError::syntax("bad initial response"));
            }
            self.c.advance(len);
            Some(response)
        } else {
            None
        };
        Ok(CommandBody::Authenticate {
            mechanism,
            initial_response,
        })
    }

    fn select_params(&mut self) -> PResult<SelectParams> {
        let mut params = SelectParams::default();
        if !self.more() {
            return Ok(params);
        }
        self.c.paren_list(false, |c| {
            match c.keyword()?.as_str() {
                "CONDSTORE" => params.condstore = true,
                "QRESYNC" => {
                    c.sp()?;
                    c.expect(b'(', "expected '(' after QRESYNC")?;
                    let uid_validity = c.nz_number()?;
                    c.sp()?;
                    let modseq = c.modseq()?;
                    let mut known_uids = None;
                    let mut seq_match = None;
                    if c.eat(b' ') {
                        if c.peek() != Some(b'(') {
                            known_uids = Some(SequenceSet::parse(c)?);
                            if c.eat(b' ') {
                                seq_match = Some(seq_match_data(c)?);
                            }
                        } else {
                            seq_match = Some(seq_match_data(c)?);
                        }
                    }
                    c.expect(b')', "expected ')' after QRESYNC parameters")?;
                    params.qresync = Some(QResync {
                        uid_validity,
                        modseq,
                        known_uids,
                        seq_match,
                    });
                }
                _ => return Err(ParseError::syntax("unknown SELECT parameter")),
            }
            Ok(())
        })?;
        Ok(params)
    }

    fn create(&mut self) -> PResult<CommandBody> {
        let mailbox = self.sp_mailbox()?;
        let mut special_use = Vec::new();
        if self.more() {
            self.c.paren_list(false, |c| {
                if c.keyword()? != "USE" {
                    return Err(ParseError::syntax("unknown CREATE parameter"));
                }
                c.sp()?;
                c.paren_list(true, |c| {
                    c.expect(b'\\', "expected a special-use attribute")?;
                    let attr = MailboxAttr::parse(c.atom()?);
                    if !attr.is_special_use() {
                        return Err(ParseError::syntax("not a special-use attribute"));
                    }
                    special_use.push(attr);
                    Ok(())
                })
            })?;
        }
        Ok(CommandBody::Create {
            mailbox,
            special_use,
        })
    }

    fn list(&mut self) -> PResult<ListCommand> {
        let mut list = ListCommand::default();
        self.c.sp()?;
        if self.c.peek() == Some(b'(') {
            list.extended = true;
            let selection = &mut list.selection;
            self.c.paren_list(true, |c| {
                match c.keyword()?.as_str() {
                    "SUBSCRIBED" => selection.subscribed = true,
                    "REMOTE" => selection.remote = true,
                    "RECURSIVEMATCH" => selection.recursive_match = true,
                    "SPECIAL-USE" => selection.special_use = true,
                    _ => return Err(ParseError::syntax("unknown LIST selection option")),
                }
                Ok(())
            })?;
            // RFC 5258 3: RECURSIVEMATCH alone is an error.
            if selection.recursive_match && !selection.subscribed && !selection.special_use {
                return Err(ParseError::syntax(
                    "RECURSIVEMATCH needs another selection option",
                ));
            }
            self.c.sp()?;
        }
        list.reference = self.mailbox_string()?;
        self.c.sp()?;
        if self.c.peek() == Some(b'(') {
            list.extended = true;
            let mut patterns = Vec::new();
            let utf8 = self.options.utf8_mailboxes;
            self.c.paren_list(false, |c| {
                let raw = c.list_mailbox()?;
                patterns.push(decode_mailbox_name(&raw, utf8)?);
                Ok(())
            })?;
            list.patterns = patterns;
        } else {
            list.patterns.push(self.pattern()?);
        }
        if self.more() {
            if self.c.keyword()? != "RETURN" {
                return Err(ParseError::syntax("expected RETURN"));
            }
            list.extended = true;
            self.c.sp()?;
            let returns = &mut list.returns;
            self.c.paren_list(true, |c| {
                match c.keyword()?.as_str() {
                    "SUBSCRIBED" => returns.subscribed = true,
                    "CHILDREN" => returns.children = true,
                    "SPECIAL-USE" => returns.special_use = true,
                    "STATUS" => {
                        c.sp()?;
                        returns.status = Some(status_items(c)?);
                    }
                    _ => return Err(ParseError::syntax("unknown LIST return option")),
                }
                Ok(())
            })?;
        }
        Ok(list)
    }

    fn status_items(&mut self) -> PResult<Vec<StatusItem>> {
        status_items(&mut self.c)
    }

    fn append(&mut self) -> PResult<AppendCommand> {
        let mailbox = self.sp_mailbox()?;
        let mut messages = Vec::new();
        // MULTIAPPEND (RFC 3502): another message follows after a space.
        while self.c.eat(b' ') {
            messages.push(self.append_message()?);
        }
        if messages.is_empty() {
            return Err(ParseError::syntax("APPEND needs the message as a literal"));
        }
        Ok(AppendCommand { mailbox, messages })
    }

    fn append_message(&mut self) -> PResult<AppendMessage> {
        let mut flags = Vec::new();
        if self.c.peek() == Some(b'(') {
            flags = Flag::parse_list(&mut self.c)?;
            self.c.sp()?;
        }
        let mut date = None;
        if self.c.peek() == Some(b'"') {
            date = Some(DateTime::parse(&mut self.c)?);
            self.c.sp()?;
        }
        if self.c.peek_atom_is("CATENATE") {
            self.c.keyword()?;
            self.c.sp()?;
            let mut parts = Vec::new();
            self.c.paren_list(false, |c| {
                match c.keyword()?.as_str() {
                    "TEXT" => {
                        c.sp()?;
                        parts.push(CatenatePart::Text(c.literal(true, true)?.0.to_vec()));
                    }
                    "URL" => {
                        c.sp()?;
                        parts.push(CatenatePart::Url(c.astring_utf8("a URL is ASCII")?));
                    }
                    _ => return Err(ParseError::syntax("a CATENATE part is TEXT or URL")),
                }
                Ok(())
            })?;
            return Ok(AppendMessage {
                flags,
                date,
                message: Vec::new(),
                binary: false,
                catenate: Some(parts),
            });
        }
        if !matches!(self.c.peek(), Some(b'{' | b'~')) {
            return Err(ParseError::syntax("APPEND needs the message as a literal"));
        }
        // NUL is tolerated in the message: it is the store's call.
        let (message, binary) = self.c.literal(true, true)?;
        Ok(AppendMessage {
            flags,
            date,
            message: message.to_vec(),
            binary,
            catenate: None,
        })
    }

    /// `[SP (options)] SP mailbox SP (entry / "(" entries ")")`; the
    /// options are also taken after the mailbox, where RFC 5464's own
    /// examples put them.
    fn getmetadata(&mut self) -> PResult<GetMetadataCommand> {
        self.c.sp()?;
        let mut max_size = None;
        let mut depth = MetadataDepth::Zero;
        if self.c.peek() == Some(b'(') {
            metadata_options(&mut self.c, &mut max_size, &mut depth)?;
            self.c.sp()?;
        }
        let mailbox = self.mailbox()?;
        self.c.sp()?;
        if self.c.peek() == Some(b'(') && self.c.peek_at(1).is_some_and(|b| b.is_ascii_alphabetic())
        {
            metadata_options(&mut self.c, &mut max_size, &mut depth)?;
            self.c.sp()?;
        }
        let mut entries = Vec::new();
        if self.c.peek() == Some(b'(') {
            self.c.paren_list(false, |c| {
                entries.push(metadata_entry(c)?);
                Ok(())
            })?;
        } else {
            entries.push(metadata_entry(&mut self.c)?);
        }
        Ok(GetMetadataCommand {
            mailbox,
            entries,
            max_size,
            depth,
        })
    }

    /// `SP mailbox SP "(" entry SP value *(SP entry SP value) ")"`.
    fn setmetadata(&mut self) -> PResult<CommandBody> {
        let mailbox = self.sp_mailbox()?;
        self.c.sp()?;
        let mut entries = Vec::new();
        self.c.paren_list(false, |c| {
            let entry = metadata_entry(c)?;
            c.sp()?;
            let value = if matches!(c.peek(), Some(b'~')) {
                Some(c.literal(true, true)?.0.to_vec())
            } else {
                c.nstring()?.map(|v| v.into_owned())
            };
            entries.push((entry, value));
            Ok(())
        })?;
        Ok(CommandBody::SetMetadata { mailbox, entries })
    }

    /// `[RETURN (...)]` then `[CHARSET x]` then the keys.
    fn search(&mut self, uid: bool) -> PResult<SearchCommand> {
        self.c.sp()?;
        let mut result = None;
        if self.c.peek_atom_is("RETURN") {
            self.c.keyword()?;
            result = Some(parse_return_options(&mut self.c)?);
            self.c.sp()?;
        }
        let mut charset = None;
        if self.c.peek_atom_is("CHARSET") {
            self.c.keyword()?;
            self.c.sp()?;
            charset = Some(self.c.astring_utf8("bad charset")?);
            self.c.sp()?;
        }
        let criteria = parse_keys(&mut self.c, strings_for(charset.as_deref()))?;
        Ok(SearchCommand {
            uid,
            result,
            charset,
            criteria,
        })
    }

    fn fetch(&mut self, uid: bool) -> PResult<FetchCommand> {
        self.c.sp()?;
        let set = SequenceSet::parse(&mut self.c)?;
        self.c.sp()?;
        let items = parse_items(&mut self.c)?;
        let mut changed_since = None;
        let mut vanished = false;
        if self.more() {
            self.c.paren_list(false, |c| {
                match c.keyword()?.as_str() {
                    "CHANGEDSINCE" => {
                        c.sp()?;
                        // mod-sequence-valzer: 0 is allowed.
                        changed_since = Some(c.number64()?);
                    }
                    "VANISHED" => vanished = true,
                    _ => return Err(ParseError::syntax("unknown FETCH modifier")),
                }
                Ok(())
            })?;
            // RFC 7162 3.2.6.
            if vanished && (!uid || changed_since.is_none()) {
                return Err(ParseError::syntax(
                    "VANISHED needs UID FETCH and CHANGEDSINCE",
                ));
            }
        }
        Ok(FetchCommand {
            uid,
            set,
            items,
            changed_since,
            vanished,
        })
    }

    fn store(&mut self, uid: bool) -> PResult<StoreCommand> {
        self.c.sp()?;
        let set = SequenceSet::parse(&mut self.c)?;
        self.c.sp()?;
        let mut unchanged_since = None;
        if self.c.peek() == Some(b'(') {
            self.c.paren_list(false, |c| {
                if c.keyword()? != "UNCHANGEDSINCE" {
                    return Err(ParseError::syntax("unknown STORE modifier"));
                }
                c.sp()?;
                unchanged_since = Some(c.number64()?);
                Ok(())
            })?;
            self.c.sp()?;
        }
        let mode = if self.c.eat(b'+') {
            StoreMode::Add
        } else if self.c.eat(b'-') {
            StoreMode::Remove
        } else {
            StoreMode::Replace
        };
        let silent = match self.c.keyword()?.as_str() {
            "FLAGS" => false,
            "FLAGS.SILENT" => true,
            _ => return Err(ParseError::syntax("expected FLAGS, +FLAGS or -FLAGS")),
        };
        self.c.sp()?;
        let flags = if self.c.peek() == Some(b'(') {
            Flag::parse_list(&mut self.c)?
        } else {
            let mut flags = vec![Flag::parse_wire(&mut self.c)?];
            while self.more() {
                flags.push(Flag::parse_wire(&mut self.c)?);
            }
            flags
        };
        Ok(StoreCommand {
            uid,
            set,
            unchanged_since,
            mode,
            silent,
            flags,
        })
    }

    fn copy_move(&mut self, name: &str, uid: bool) -> PResult<CommandBody> {
        self.c.sp()?;
        let set = SequenceSet::parse(&mut self.c)?;
        let mailbox = self.sp_mailbox()?;
        Ok(if name == "COPY" {
            CommandBody::Copy { uid, set, mailbox }
        } else {
            CommandBody::Move { uid, set, mailbox }
        })
    }

    fn sort(&mut self, uid: bool) -> PResult<SortCommand> {
        self.c.sp()?;
        let mut result = None;
        if self.c.peek_atom_is("RETURN") {
            self.c.keyword()?;
            result = Some(parse_return_options(&mut self.c)?);
            self.c.sp()?;
        }
        let mut criteria = Vec::new();
        self.c.paren_list(false, |c| {
            let mut reverse = false;
            let mut name = c.keyword()?;
            if name == "REVERSE" {
                reverse = true;
                c.sp()?;
                name = c.keyword()?;
            }
            let key = match name.as_str() {
                "ARRIVAL" => SortKey::Arrival,
                "CC" => SortKey::Cc,
                "DATE" => SortKey::Date,
                "FROM" => SortKey::From,
                "SIZE" => SortKey::Size,
                "SUBJECT" => SortKey::Subject,
                "TO" => SortKey::To,
                "DISPLAYFROM" => SortKey::DisplayFrom,
                "DISPLAYTO" => SortKey::DisplayTo,
                _ => return Err(ParseError::syntax("unknown sort criterion")),
            };
            criteria.push(SortCriterion { reverse, key });
            Ok(())
        })?;
        self.c.sp()?;
        let charset = self.c.astring_utf8("bad charset")?;
        self.c.sp()?;
        let search = parse_keys(&mut self.c, strings_for(Some(&charset)))?;
        Ok(SortCommand {
            uid,
            result,
            criteria,
            charset,
            search,
        })
    }

    fn thread(&mut self, uid: bool) -> PResult<ThreadCommand> {
        self.c.sp()?;
        let algorithm = match self.c.keyword()?.as_str() {
            "ORDEREDSUBJECT" => ThreadAlgorithm::OrderedSubject,
            "REFERENCES" => ThreadAlgorithm::References,
            _ => return Err(ParseError::syntax("unknown threading algorithm")),
        };
        self.c.sp()?;
        let charset = self.c.astring_utf8("bad charset")?;
        self.c.sp()?;
        let search = parse_keys(&mut self.c, strings_for(Some(&charset)))?;
        Ok(ThreadCommand {
            uid,
            algorithm,
            charset,
            search,
        })
    }

    fn setquota(&mut self) -> PResult<CommandBody> {
        self.c.sp()?;
        let root = self.c.astring_utf8("quota root is not valid UTF-8")?;
        self.c.sp()?;
        let mut limits = Vec::new();
        self.c.paren_list(true, |c| {
            let resource = c.atom()?.to_ascii_uppercase();
            c.sp()?;
            limits.push((resource, c.number64()?));
            Ok(())
        })?;
        Ok(CommandBody::SetQuota { root, limits })
    }

    fn id(&mut self) -> PResult<CommandBody> {
        self.c.sp()?;
        if self.c.peek_atom_is("NIL") {
            self.c.keyword()?;
            return Ok(CommandBody::Id { params: None });
        }
        let mut params = Vec::new();
        self.c.paren_list(true, |c| {
            let key = String::from_utf8_lossy(&c.string()?).into_owned();
            c.sp()?;
            let value = c
                .nstring()?
                .map(|v| String::from_utf8_lossy(&v).into_owned());
            params.push((key, value));
            Ok(())
        })?;
        Ok(CommandBody::Id {
            params: Some(params),
        })
    }
}

fn status_items(c: &mut Cursor<'_>) -> PResult<Vec<StatusItem>> {
    let mut items = Vec::new();
    c.paren_list(false, |c| {
        let item = StatusItem::from_name(&c.keyword()?)
            .ok_or_else(|| ParseError::syntax("unknown STATUS item"))?;
        if !items.contains(&item) {
            items.push(item);
        }
        Ok(())
    })?;
    Ok(items)
}

/// `"(" known-sequence-set SP known-uid-set ")"`.
fn seq_match_data(c: &mut Cursor<'_>) -> PResult<(SequenceSet, SequenceSet)> {
    c.expect(b'(', "expected '('")?;
    let seqs = SequenceSet::parse(c)?;
    c.sp()?;
    let uids = SequenceSet::parse(c)?;
    c.expect(b')', "expected ')'")?;
    Ok((seqs, uids))
}

/// Strings of a search program must be UTF-8 when the charset is one we
/// support; any other charset will be refused with BADCHARSET after parsing.
fn strings_for(charset: Option<&str>) -> Strings {
    match charset {
        None => Strings::Strict,
        Some(cs) if cs.eq_ignore_ascii_case("UTF-8") || cs.eq_ignore_ascii_case("US-ASCII") => {
            Strings::Strict
        }
        Some(_) => Strings::Lossy,
    }
}

fn valid_base64(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    s.len() - body.len() <= 2
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// Whether `line` (CRLF optional) ends an IDLE: `DONE`, any case.
pub fn is_idle_done(line: &[u8]) -> bool {
    let line = line
        .strip_suffix(b"\n")
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .unwrap_or(line);
    line.eq_ignore_ascii_case(b"DONE")
}

/// A client line during AUTHENTICATE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthLine {
    /// `*`: the client cancels (answer `TAG BAD`).
    Cancel,
    /// Base64 text, as sent (empty for an empty response).
    Response(String),
}

/// Reads one AUTHENTICATE continuation line (CRLF optional).
pub fn parse_auth_line(line: &[u8]) -> Result<AuthLine, ParseError> {
    let line = line
        .strip_suffix(b"\n")
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .unwrap_or(line);
    if line == b"*" {
        return Ok(AuthLine::Cancel);
    }
    match std::str::from_utf8(line) {
        Ok(text) if valid_base64(text) => Ok(AuthLine::Response(text.to_owned())),
        _ => Err(ParseError::syntax("bad base64 in authentication response")),
    }
}

/// `(MAXSIZE n DEPTH d)`, either or both.
fn metadata_options(
    c: &mut Cursor<'_>,
    max_size: &mut Option<u64>,
    depth: &mut MetadataDepth,
) -> PResult<()> {
    c.paren_list(false, |c| {
        match c.keyword()?.as_str() {
            "MAXSIZE" => {
                c.sp()?;
                *max_size = Some(c.number64()?);
            }
            "DEPTH" => {
                c.sp()?;
                *depth = match c.keyword()?.as_str() {
                    "0" => MetadataDepth::Zero,
                    "1" => MetadataDepth::One,
                    "INFINITY" => MetadataDepth::Infinity,
                    _ => return Err(ParseError::syntax("DEPTH is 0, 1 or infinity")),
                };
            }
            _ => return Err(ParseError::syntax("unknown GETMETADATA option")),
        }
        Ok(())
    })
}

/// A metadata entry name (RFC 5464 3.2): an astring of printable ASCII,
/// checked further by the session.
fn metadata_entry(c: &mut Cursor<'_>) -> PResult<String> {
    c.astring_utf8("metadata entry names are ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::SearchReturn;

    #[test]
    fn authenticate_with_an_empty_initial_response() {
        let cmd = parse_command(b"a AUTHENTICATE PLAIN =\r\n").unwrap();
        assert_eq!(
            cmd.body,
            CommandBody::Authenticate {
                mechanism: "PLAIN".into(),
                initial_response: Some(String::new())
            }
        );
    }

    #[test]
    fn search_return_keeps_the_first_of_repeated_options() {
        let cmd = parse_command(b"a SEARCH RETURN (MIN MIN) ALL").unwrap();
        let CommandBody::Search(s) = cmd.body else {
            panic!()
        };
        assert_eq!(s.result, Some(vec![SearchReturn::Min]));
    }

    #[test]
    fn search_return_partial_takes_a_range_from_either_end() {
        let cmd = parse_command(b"a UID SEARCH RETURN (COUNT PARTIAL -1:-100) UNDELETED").unwrap();
        let CommandBody::Search(s) = cmd.body else {
            panic!()
        };
        let range = crate::PartialRange {
            first: 1,
            second: 100,
            from_end: true,
        };
        assert_eq!(
            s.result,
            Some(vec![SearchReturn::Count, SearchReturn::Partial(range)])
        );
        for bad in [
            &b"a SEARCH RETURN (PARTIAL 1:-5) ALL"[..],
            b"a SEARCH RETURN (PARTIAL 0:5) ALL",
            b"a SEARCH RETURN (PARTIAL 1:5 PARTIAL 6:9) ALL",
            b"a SEARCH RETURN (ALL PARTIAL 1:5) ALL",
            b"a SEARCH RETURN (PARTIAL) ALL",
        ] {
            assert!(
                parse_command(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn search_return_update_and_context_are_options() {
        let cmd = parse_command(b"a UID SEARCH RETURN (COUNT UPDATE CONTEXT) UNSEEN").unwrap();
        let CommandBody::Search(s) = cmd.body else {
            panic!()
        };
        assert_eq!(
            s.result,
            Some(vec![
                SearchReturn::Count,
                SearchReturn::Update,
                SearchReturn::Context
            ])
        );
    }
}
