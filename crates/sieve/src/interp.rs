//! Running compiled scripts on a message.
//!
//! A [`Run`] holds what the scripts of one delivery share: the actions so
//! far, the implicit keep, the IMAP flags, global variables, the edited
//! header, the work done. Every command and test costs one instruction and
//! every comparison one more per 256 bytes it reads; past
//! [`Limits::max_instructions`] the run ends with an error. Sieve has no
//! loops, so only big scripts and include chains can get there.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use crate::compile::compile_regex;
use crate::date::Zoned;
use crate::error::RuntimeError;
use crate::host::Host;
use crate::limits::Limits;
use crate::matching::{matches, order};
use crate::message::{Envelope, Field, Message, addresses, decoded_value};
use crate::outcome::{Action, DuplicateMark, HeaderEdit, Outcome, Vacation};
use crate::program::{
    AddressPart, BodyTransform, Cmd, CmdKind, DuplicateId, FlagOp, Index, Location, MatchKind,
    Matcher, Piece, Str, Test, TestKind, Zone,
};
use crate::script::Script;
use crate::{actions, variables};

/// How a block ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// It ran to its end.
    Ended,
    /// `stop`: nothing more runs.
    Stopped,
    /// `return` (RFC 6609): back to the including script.
    Returned,
}

/// The variables of one script being run.
struct Frame<'s> {
    script: &'s Script,
    vars: HashMap<String, String>,
    globals: HashSet<String>,
    matches: Vec<String>,
}

/// One delivery's run of one or more scripts on a message.
///
/// ```text
/// let mut run = Run::new(&message, &envelope, &host, &limits);
/// for script in before.iter().chain([&user]).chain(after.iter()) {
///     if run.execute(script)? == Flow::Stopped { break; }
/// }
/// let outcome = run.finish();
/// ```
///
/// The scripts share actions, flags and the implicit keep, as Pigeonhole's
/// `sieve_before`/`sieve_after` sequences do; whether a `stop` ends the
/// sequence is the caller's choice ([`Flow::Stopped`]).
pub struct Run<'r, 'm> {
    message: &'r Message<'m>,
    envelope: &'r Envelope,
    host: &'r dyn Host,
    limits: Limits,
    edited: Option<Vec<Field>>,
    pub(crate) actions: actions::Actions,
    flags: Vec<String>,
    globals: HashMap<String, String>,
    header_edits: Vec<HeaderEdit>,
    duplicates: Vec<DuplicateMark>,
    instructions: u64,
    include_stack: Vec<(Location, String)>,
    included_once: HashSet<(Location, String)>,
    includes: usize,
}

impl<'r, 'm> Run<'r, 'm> {
    pub fn new(
        message: &'r Message<'m>,
        envelope: &'r Envelope,
        host: &'r dyn Host,
        limits: &Limits,
    ) -> Self {
        Run {
            message,
            envelope,
            host,
            limits: limits.clone(),
            edited: None,
            actions: actions::Actions::new(limits),
            flags: Vec::new(),
            globals: HashMap::new(),
            header_edits: Vec::new(),
            duplicates: Vec::new(),
            instructions: 0,
            include_stack: Vec::new(),
            included_once: HashSet::new(),
            includes: 0,
        }
    }

    /// Runs one script; its actions join those of the scripts run before.
    pub fn execute(&mut self, script: &Script) -> Result<Flow, RuntimeError> {
        let mut frame = Frame {
            script,
            vars: HashMap::new(),
            globals: HashSet::new(),
            matches: Vec::new(),
        };
        self.block(&mut frame, &script.commands)
    }

    /// What the scripts decided.
    pub fn finish(self) -> Outcome {
        let (actions, implicit_keep) = self.actions.finish();
        Outcome {
            actions,
            implicit_keep,
            keep_flags: self.flags,
            header_edits: self.header_edits,
            duplicates: self.duplicates,
        }
    }

    fn tick(&mut self, line: u32, cost: u64) -> Result<(), RuntimeError> {
        self.instructions = self.instructions.saturating_add(cost);
        if self.instructions > self.limits.max_instructions {
            return Err(RuntimeError::too_much_work(
                line,
                self.limits.max_instructions,
            ));
        }
        Ok(())
    }

    fn fields(&self) -> &[Field] {
        self.edited.as_deref().unwrap_or(self.message.fields())
    }

    fn block(&mut self, frame: &mut Frame<'_>, commands: &[Cmd]) -> Result<Flow, RuntimeError> {
        for cmd in commands {
            self.tick(cmd.line, 1)?;
            match self.command(frame, cmd)? {
                Flow::Ended => {}
                flow => return Ok(flow),
            }
        }
        Ok(Flow::Ended)
    }

    fn command(&mut self, frame: &mut Frame<'_>, cmd: &Cmd) -> Result<Flow, RuntimeError> {
        let line = cmd.line;
        match &cmd.kind {
            CmdKind::If {
                branches,
                otherwise,
            } => {
                for (test, block) in branches {
                    if self.test(frame, test)? {
                        return self.block(frame, block);
                    }
                }
                if let Some(block) = otherwise {
                    return self.block(frame, block);
                }
            }
            CmdKind::Stop => return Ok(Flow::Stopped),
            CmdKind::Return => return Ok(Flow::Returned),
            CmdKind::Keep { flags } => {
                let flags = self.action_flags(frame, flags.as_deref(), line)?;
                self.actions.add(line, Action::Keep { flags })?;
            }
            CmdKind::Discard => self.actions.add(line, Action::Discard)?,
            CmdKind::FileInto {
                mailbox,
                flags,
                copy,
                create,
            } => {
                let mailbox = self.expand(frame, mailbox, line)?.into_owned();
                crate::compile::check_mailbox_name(&mailbox)
                    .map_err(|e| RuntimeError::new(line, e))?;
                let flags = self.action_flags(frame, flags.as_deref(), line)?;
                self.actions.add(
                    line,
                    Action::FileInto {
                        mailbox,
                        flags,
                        create: *create,
                        copy: *copy,
                    },
                )?;
            }
            CmdKind::Redirect { address, copy } => {
                let address = self.expand(frame, address, line)?.into_owned();
                crate::compile::check_redirect_address(&address)
                    .map_err(|e| RuntimeError::new(line, e))?;
                self.actions.add(
                    line,
                    Action::Redirect {
                        address,
                        copy: *copy,
                    },
                )?;
            }
            CmdKind::Reject { reason, extended } => {
                let reason = self.expand(frame, reason, line)?.into_owned();
                self.actions.add(
                    line,
                    Action::Reject {
                        reason,
                        extended: *extended,
                    },
                )?;
            }
            CmdKind::Flags {
                op,
                variable,
                flags,
            } => {
                let given = self.flag_list(frame, flags, line)?;
                let current = match variable {
                    Some(name) => split_flags(&self.get_var(frame, name)),
                    None => std::mem::take(&mut self.flags),
                };
                let changed = change_flags(current, *op, given);
                match variable {
                    Some(name) => {
                        let value = changed.join(" ");
                        self.set_var(frame, name, value, line)?;
                    }
                    None => self.flags = changed,
                }
            }
            CmdKind::Set {
                name,
                value,
                modifiers,
            } => {
                let value = self.expand(frame, value, line)?.into_owned();
                let value = variables::apply(value, modifiers);
                self.set_var(frame, name, value, line)?;
            }
            CmdKind::Global { names } => {
                for name in names {
                    frame.globals.insert(name.clone());
                }
            }
            CmdKind::Vacation(vacation) => {
                let reason = self.expand(frame, &vacation.reason, line)?.into_owned();
                let subject = self.expand_opt(frame, vacation.subject.as_ref(), line)?;
                let from = self.expand_opt(frame, vacation.from.as_ref(), line)?;
                let addresses = self.expand_all(frame, &vacation.addresses, line)?;
                let handle = match &vacation.handle {
                    Some(handle) => self.expand(frame, handle, line)?.into_owned(),
                    None => {
                        default_handle(&reason, subject.as_deref(), from.as_deref(), vacation.mime)
                    }
                };
                let period = vacation
                    .period
                    .unwrap_or(self.limits.vacation_default_period)
                    .clamp(
                        self.limits.vacation_min_period,
                        self.limits.vacation_max_period,
                    );
                self.actions.add(
                    line,
                    Action::Vacation(Vacation {
                        reason,
                        subject,
                        from,
                        addresses,
                        mime: vacation.mime,
                        handle,
                        period,
                    }),
                )?;
            }
            CmdKind::Include {
                location,
                name,
                once,
                optional,
            } => {
                let name = self.expand(frame, name, line)?.into_owned();
                return self.include(*location, name, *once, *optional, line);
            }
            CmdKind::AddHeader { last, name, value } => {
                let name = self.expand(frame, name, line)?.into_owned();
                let value = self.expand(frame, value, line)?;
                // Line breaks only as folding: any other CR or LF becomes a space.
                let value: String = value
                    .chars()
                    .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
                    .collect();
                if crate::compile::check_editable_header(&name).is_err() {
                    // Pigeonhole ignores edits of protected fields made at run time.
                    return Ok(Flow::Ended);
                }
                let mut fields = self.fields().to_vec();
                let field = Field {
                    name: name.clone(),
                    value: format!(" {value}"),
                };
                if *last {
                    fields.push(field);
                } else {
                    fields.insert(0, field);
                }
                self.edited = Some(fields);
                self.header_edits.push(HeaderEdit::Add {
                    name,
                    value,
                    last: *last,
                });
            }
            CmdKind::DeleteHeader {
                index,
                name,
                matcher,
            } => {
                let name = self.expand(frame, name, line)?.into_owned();
                if crate::compile::check_editable_header(&name).is_ok() {
                    self.delete_header(frame, &name, *index, matcher.as_ref(), line)?;
                }
            }
        }
        Ok(Flow::Ended)
    }

    fn include(
        &mut self,
        location: Location,
        name: String,
        once: bool,
        optional: bool,
        line: u32,
    ) -> Result<Flow, RuntimeError> {
        crate::compile::check_script_name(&name).map_err(|e| RuntimeError::new(line, e))?;
        let key = (location, name);
        if once && self.included_once.contains(&key) {
            return Ok(Flow::Ended);
        }
        let shown = &key.1;
        if self.include_stack.contains(&key) {
            return Err(RuntimeError::new(
                line,
                format!("include cycle: script '{shown}' includes itself"),
            ));
        }
        if self.include_stack.len() >= self.limits.max_include_depth {
            return Err(RuntimeError::new(
                line,
                format!(
                    "includes nested too deeply (the limit is {})",
                    self.limits.max_include_depth
                ),
            ));
        }
        if self.includes >= self.limits.max_includes {
            return Err(RuntimeError::new(
                line,
                format!(
                    "too many includes (the limit is {})",
                    self.limits.max_includes
                ),
            ));
        }
        let script = match self.host.include(location, shown) {
            Ok(Some(script)) => script,
            Ok(None) if optional => return Ok(Flow::Ended),
            Ok(None) => {
                return Err(RuntimeError::new(
                    line,
                    format!("included script '{shown}' does not exist"),
                ));
            }
            Err(e) => {
                return Err(RuntimeError::new(
                    line,
                    format!("included script '{shown}' cannot be used: {e}"),
                ));
            }
        };
        self.includes += 1;
        self.included_once.insert(key.clone());
        self.include_stack.push(key);
        let flow = self.execute(&script);
        self.include_stack.pop();
        match flow? {
            Flow::Stopped => Ok(Flow::Stopped),
            Flow::Ended | Flow::Returned => Ok(Flow::Ended),
        }
    }

    fn delete_header(
        &mut self,
        frame: &mut Frame<'_>,
        name: &str,
        index: Option<Index>,
        matcher: Option<&Matcher>,
        line: u32,
    ) -> Result<(), RuntimeError> {
        let positions: Vec<usize> = self
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| f.name.eq_ignore_ascii_case(name))
            .map(|(i, _)| i)
            .collect();
        // (position in the header, occurrence among the fields of the name, from 1)
        let mut chosen: Vec<(usize, usize)> = positions
            .iter()
            .enumerate()
            .map(|(n, &i)| (i, n + 1))
            .collect();
        if let Some(index) = index {
            chosen = pick(&chosen, index).into_iter().collect();
        }
        if let Some(matcher) = matcher {
            let mut kept = Vec::new();
            for (i, occurrence) in chosen {
                let value = decoded_value(&self.fields()[i].value, self.limits.max_header_size);
                if self.match_values(frame, matcher, vec![value], line)? {
                    kept.push((i, occurrence));
                }
            }
            chosen = kept;
        }
        if chosen.is_empty() {
            return Ok(());
        }
        let mut fields = self.fields().to_vec();
        // From the bottom, so each occurrence still counts from the top as it is.
        for (i, occurrence) in chosen.into_iter().rev() {
            fields.remove(i);
            self.header_edits.push(HeaderEdit::Delete {
                name: name.to_string(),
                occurrence,
            });
        }
        self.edited = Some(fields);
        Ok(())
    }

    /// The flags of `:flags`, or the internal variable's.
    fn action_flags(
        &mut self,
        frame: &Frame<'_>,
        flags: Option<&[Str]>,
        line: u32,
    ) -> Result<Vec<String>, RuntimeError> {
        match flags {
            Some(list) => self.flag_list(frame, list, line),
            None => Ok(self.flags.clone()),
        }
    }

    fn flag_list(
        &mut self,
        frame: &Frame<'_>,
        list: &[Str],
        line: u32,
    ) -> Result<Vec<String>, RuntimeError> {
        let mut out = Vec::new();
        for item in list {
            let text = self.expand(frame, item, line)?;
            out = change_flags(out, FlagOp::Add, split_flags(&text));
        }
        Ok(out)
    }

    // ---- variables ----

    fn get_var(&self, frame: &Frame<'_>, name: &str) -> String {
        if let Some(global) = name.strip_prefix("global.") {
            return self.globals.get(global).cloned().unwrap_or_default();
        }
        if frame.globals.contains(name) {
            return self.globals.get(name).cloned().unwrap_or_default();
        }
        frame.vars.get(name).cloned().unwrap_or_default()
    }

    fn set_var(
        &mut self,
        frame: &mut Frame<'_>,
        name: &str,
        value: String,
        line: u32,
    ) -> Result<(), RuntimeError> {
        let value = variables::truncate(value, self.limits.max_variable_size);
        let (map, key) = if let Some(global) = name.strip_prefix("global.") {
            (&mut self.globals, global)
        } else if frame.globals.contains(name) {
            (&mut self.globals, name)
        } else {
            (&mut frame.vars, name)
        };
        if !map.contains_key(key) && map.len() >= self.limits.max_variables {
            return Err(RuntimeError::new(
                line,
                format!(
                    "too many variables (the limit is {})",
                    self.limits.max_variables
                ),
            ));
        }
        map.insert(key.to_string(), value);
        Ok(())
    }

    /// A string argument with its variables expanded; at most
    /// `max_script_size` bytes, each 256 bytes costing an instruction.
    fn expand<'s>(
        &mut self,
        frame: &Frame<'_>,
        text: &'s Str,
        line: u32,
    ) -> Result<Cow<'s, str>, RuntimeError> {
        let pieces = match text {
            Str::Const(text) => return Ok(Cow::Borrowed(text)),
            Str::Template(pieces) => pieces,
        };
        let mut out = String::new();
        for piece in pieces {
            match piece {
                Piece::Lit(text) => out.push_str(text),
                Piece::Var(name) => out.push_str(&self.get_var(frame, name)),
                Piece::Match(n) => {
                    if let Some(value) = frame.matches.get(*n) {
                        out.push_str(value);
                    }
                }
            }
            if out.len() > self.limits.max_script_size {
                return Err(RuntimeError::new(
                    line,
                    "string too long after variable expansion",
                ));
            }
        }
        self.tick(line, (out.len() / 256) as u64)?;
        Ok(Cow::Owned(out))
    }

    fn expand_opt(
        &mut self,
        frame: &Frame<'_>,
        text: Option<&Str>,
        line: u32,
    ) -> Result<Option<String>, RuntimeError> {
        text.map(|t| self.expand(frame, t, line).map(Cow::into_owned))
            .transpose()
    }

    fn expand_all(
        &mut self,
        frame: &Frame<'_>,
        list: &[Str],
        line: u32,
    ) -> Result<Vec<String>, RuntimeError> {
        list.iter()
            .map(|t| self.expand(frame, t, line).map(Cow::into_owned))
            .collect()
    }

    // ---- tests ----

    fn test(&mut self, frame: &mut Frame<'_>, test: &Test) -> Result<bool, RuntimeError> {
        let line = test.line;
        self.tick(line, 1)?;
        match &test.kind {
            TestKind::True => Ok(true),
            TestKind::False => Ok(false),
            TestKind::Not(inner) => Ok(!self.test(frame, inner)?),
            TestKind::AllOf(tests) => {
                for t in tests {
                    if !self.test(frame, t)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            TestKind::AnyOf(tests) => {
                for t in tests {
                    if self.test(frame, t)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            TestKind::Header {
                names,
                matcher,
                index,
            } => {
                let names = self.expand_all(frame, names, line)?;
                let max = self.limits.max_header_size;
                let values = self
                    .named_fields(&names, *index)
                    .into_iter()
                    .map(|raw| decoded_value(&raw, max))
                    .collect();
                self.match_values(frame, matcher, values, line)
            }
            TestKind::Address {
                part,
                names,
                matcher,
                index,
            } => {
                let names = self.expand_all(frame, names, line)?;
                let max = self.limits.max_header_size;
                let delimiter = self.host.recipient_delimiter().to_string();
                let values = self
                    .named_fields(&names, *index)
                    .into_iter()
                    .flat_map(|raw| addresses(&raw, max))
                    .filter_map(|a| address_part(&a, *part, &delimiter))
                    .collect();
                self.match_values(frame, matcher, values, line)
            }
            TestKind::Envelope {
                part,
                names,
                matcher,
            } => {
                let names = self.expand_all(frame, names, line)?;
                let delimiter = self.host.recipient_delimiter().to_string();
                let mut values = Vec::new();
                for name in &names {
                    let address = match name.to_ascii_lowercase().as_str() {
                        "from" => Some(self.envelope.from.clone()),
                        "to" => Some(self.envelope.to.clone()),
                        "orig_to" => Some(
                            self.envelope
                                .original_to
                                .clone()
                                .unwrap_or_else(|| self.envelope.to.clone()),
                        ),
                        "auth" => self.envelope.auth.clone(),
                        _ => {
                            return Err(RuntimeError::new(
                                line,
                                format!("unknown envelope part '{name}'"),
                            ));
                        }
                    };
                    let Some(address) = address else { continue };
                    let address = address.trim_start_matches('<').trim_end_matches('>');
                    if address.is_empty() {
                        // The null sender: only :all sees it, as "".
                        if *part == AddressPart::All {
                            values.push(String::new());
                        }
                        continue;
                    }
                    values.extend(address_part(address, *part, &delimiter));
                }
                self.match_values(frame, matcher, values, line)
            }
            TestKind::Exists(names) => {
                let names = self.expand_all(frame, names, line)?;
                Ok(names
                    .iter()
                    .all(|n| self.fields().iter().any(|f| f.name.eq_ignore_ascii_case(n))))
            }
            TestKind::Size { over, limit } => {
                let size = self.message.size() as u64;
                Ok(if *over { size > *limit } else { size < *limit })
            }
            TestKind::Body { transform, matcher } => {
                let max = self.limits.max_body_size;
                let values = match transform {
                    BodyTransform::Raw => {
                        let raw = self.message.raw_body();
                        vec![String::from_utf8_lossy(&raw[..raw.len().min(max)]).into_owned()]
                    }
                    BodyTransform::Text => self.message.body_texts(None, max),
                    BodyTransform::Content(types) => {
                        let types = self.expand_all(frame, types, line)?;
                        self.message.body_texts(Some(&types), max)
                    }
                };
                self.tick(line, values.iter().map(|v| v.len() as u64 / 256).sum())?;
                self.match_values(frame, matcher, values, line)
            }
            TestKind::Date {
                zone,
                header,
                part,
                matcher,
                index,
            } => {
                let header = self.expand(frame, header, line)?.into_owned();
                let is_received = header.eq_ignore_ascii_case("received");
                let now = self.host.now();
                let values = self
                    .named_fields(std::slice::from_ref(&header), *index)
                    .into_iter()
                    .filter_map(|raw| {
                        let text = crate::message::unfold(&raw);
                        let text = if is_received {
                            text.rsplit(';').next().unwrap_or("").to_string()
                        } else {
                            text
                        };
                        Zoned::parse(&text)
                    })
                    .map(|date| in_zone(date, *zone, now).part(*part))
                    .collect();
                self.match_values(frame, matcher, values, line)
            }
            TestKind::CurrentDate {
                zone,
                part,
                matcher,
            } => {
                let now = self.host.now();
                let value = in_zone(now, *zone, now).part(*part);
                self.match_values(frame, matcher, vec![value], line)
            }
            TestKind::String { sources, matcher } => {
                let mut values = self.expand_all(frame, sources, line)?;
                if matches!(matcher.kind, MatchKind::Count(_)) {
                    // RFC 5229 §5: empty strings are not counted.
                    values.retain(|v| !v.is_empty());
                }
                self.match_values(frame, matcher, values, line)
            }
            TestKind::HasFlag { variables, matcher } => {
                let values = if variables.is_empty() {
                    self.flags.clone()
                } else {
                    let mut all = Vec::new();
                    for name in variables {
                        all =
                            change_flags(all, FlagOp::Add, split_flags(&self.get_var(frame, name)));
                    }
                    all
                };
                self.match_values(frame, matcher, values, line)
            }
            TestKind::Duplicate {
                handle,
                id,
                seconds,
                last,
            } => {
                let handle = match handle {
                    Some(h) => self.expand(frame, h, line)?.into_owned(),
                    None => String::new(),
                };
                let id = match id {
                    DuplicateId::MessageId => self.first_value("message-id"),
                    DuplicateId::Header(name) => {
                        let name = self.expand(frame, name, line)?.into_owned();
                        self.first_value(&name)
                    }
                    DuplicateId::UniqueId(value) => {
                        Some(self.expand(frame, value, line)?.into_owned())
                    }
                };
                let Some(id) = id.filter(|id| !id.is_empty()) else {
                    return Ok(false);
                };
                let seen = self.host.duplicate_seen(&handle, &id);
                let mark = DuplicateMark {
                    handle,
                    id,
                    seconds: seconds
                        .unwrap_or(self.limits.duplicate_default_period)
                        .min(self.limits.duplicate_max_period),
                    last: *last,
                };
                if !self.duplicates.contains(&mark) {
                    self.duplicates.push(mark);
                }
                Ok(seen)
            }
            TestKind::SpamTest { percent, matcher } => {
                let value = if *percent {
                    self.host.spam_percent().map(|p| p.min(100))
                } else {
                    self.host.spam_level().map(|l| l.clamp(1, 10))
                };
                let value = value.unwrap_or(0).to_string();
                self.match_values(frame, matcher, vec![value], line)
            }
            TestKind::VirusTest { matcher } => {
                let value = self
                    .host
                    .virus_level()
                    .map_or(0, |l| l.clamp(1, 5))
                    .to_string();
                self.match_values(frame, matcher, vec![value], line)
            }
            TestKind::MailboxExists(names) => {
                let names = self.expand_all(frame, names, line)?;
                Ok(names.iter().all(|n| self.host.mailbox_exists(n)))
            }
            TestKind::Environment { name, matcher } => {
                let name = self.expand(frame, name, line)?.to_ascii_lowercase();
                let values: Vec<String> = self.host.environment(&name).into_iter().collect();
                self.match_values(frame, matcher, values, line)
            }
        }
    }

    /// The raw values of the fields called any of `names`, in header
    /// order; with `index`, only the one it picks of each name.
    fn named_fields(&self, names: &[String], index: Option<Index>) -> Vec<String> {
        let mut out = Vec::new();
        for name in names {
            let found: Vec<(usize, usize)> = self
                .fields()
                .iter()
                .enumerate()
                .filter(|(_, f)| f.name.eq_ignore_ascii_case(name))
                .map(|(i, _)| (i, 0))
                .collect();
            let found = match index {
                Some(index) => pick(&found, index).into_iter().collect(),
                None => found,
            };
            out.extend(
                found
                    .into_iter()
                    .map(|(i, _)| self.fields()[i].value.clone()),
            );
        }
        out
    }

    fn first_value(&self, name: &str) -> Option<String> {
        self.fields()
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
            .map(|f| decoded_value(&f.value, self.limits.max_header_size))
    }

    /// Whether any of `values` matches any key; sets the match variables
    /// on a `:matches` or `:regex` success.
    fn match_values(
        &mut self,
        frame: &mut Frame<'_>,
        matcher: &Matcher,
        values: Vec<String>,
        line: u32,
    ) -> Result<bool, RuntimeError> {
        let keys = self.expand_all(frame, &matcher.keys, line)?;
        if let MatchKind::Count(relation) = matcher.kind {
            let count = values.len().to_string();
            return Ok(keys
                .iter()
                .any(|k| relation.holds(order(matcher.comparator, &count, k))));
        }
        let want_captures =
            frame.script.variables && matches!(matcher.kind, MatchKind::Matches | MatchKind::Regex);
        let mut dynamic: Vec<Option<regex_lite::Regex>> = Vec::new();
        if matcher.kind == MatchKind::Regex {
            for (i, key) in keys.iter().enumerate() {
                if matcher.regexes.get(i).is_some_and(Option::is_some) {
                    dynamic.push(None);
                } else {
                    self.tick(line, 1 + key.len() as u64 / 16)?;
                    let regex = compile_regex(key, matcher.comparator, self.limits.max_regex_size)
                        .map_err(|e| RuntimeError::new(line, e))?;
                    dynamic.push(Some(regex));
                }
            }
        }
        for value in &values {
            for (i, key) in keys.iter().enumerate() {
                let mut cost = 1 + (value.len() + key.len()) as u64 / 256;
                if matcher.kind == MatchKind::Matches {
                    cost += (value.len() as u64).saturating_mul(key.len() as u64) / 65_536;
                }
                self.tick(line, cost)?;
                let regex = matcher
                    .regexes
                    .get(i)
                    .and_then(Option::as_ref)
                    .or_else(|| dynamic.get(i).and_then(Option::as_ref));
                let mut captures = Vec::new();
                let found = matches(
                    matcher.comparator,
                    matcher.kind,
                    value,
                    key,
                    regex,
                    want_captures.then_some(&mut captures),
                );
                if found {
                    if want_captures {
                        frame.matches = captures;
                    }
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}

/// The entry `index` picks out of `found` (from the top, or the bottom with `:last`).
fn pick(found: &[(usize, usize)], index: Index) -> Option<(usize, usize)> {
    let n = usize::try_from(index.n).ok()?.checked_sub(1)?;
    if index.last {
        found.len().checked_sub(n + 1).map(|i| found[i])
    } else {
        found.get(n).copied()
    }
}

fn in_zone(date: Zoned, zone: Zone, now: Zoned) -> Zoned {
    match zone {
        Zone::Local => date.in_zone(now.offset_minutes),
        Zone::Original => date,
        Zone::Fixed(offset) => date.in_zone(offset),
    }
}

/// One part of `local@domain` (RFC 5228 §2.7.4, RFC 5233). `:user` and
/// `:detail` split the local part at the first delimiter; an address
/// without one has no detail (the test sees no value).
fn address_part(address: &str, part: AddressPart, delimiter: &str) -> Option<String> {
    let (local, domain) = match address.rsplit_once('@') {
        Some((local, domain)) => (local, Some(domain)),
        None => (address, None),
    };
    match part {
        AddressPart::All => Some(address.to_string()),
        AddressPart::LocalPart => Some(local.to_string()),
        AddressPart::Domain => domain.map(str::to_string),
        AddressPart::User => Some(
            local
                .split_once(delimiter)
                .filter(|_| !delimiter.is_empty())
                .map_or(local, |(user, _)| user)
                .to_string(),
        ),
        AddressPart::Detail => local
            .split_once(delimiter)
            .filter(|_| !delimiter.is_empty())
            .map(|(_, detail)| detail.to_string()),
    }
}

/// Flags from a string: separated by spaces, duplicates dropped.
fn split_flags(text: &str) -> Vec<String> {
    change_flags(
        Vec::new(),
        FlagOp::Add,
        text.split_ascii_whitespace().map(str::to_string).collect(),
    )
}

/// `current` set to, added to or removed from `given` (flags compare without case).
fn change_flags(current: Vec<String>, op: FlagOp, given: Vec<String>) -> Vec<String> {
    let given: Vec<String> = given
        .iter()
        .flat_map(|g| g.split_ascii_whitespace())
        .map(str::to_string)
        .collect();
    let mut out = match op {
        FlagOp::Set => Vec::new(),
        _ => current,
    };
    match op {
        FlagOp::Set | FlagOp::Add => {
            for flag in given {
                if !out.iter().any(|f| f.eq_ignore_ascii_case(&flag)) {
                    out.push(flag);
                }
            }
        }
        FlagOp::Remove => out.retain(|f| !given.iter().any(|g| g.eq_ignore_ascii_case(f))),
    }
    out
}

/// A handle made from vacation's parameters (RFC 5230 §4.2): the same
/// parameters give the same handle.
fn default_handle(reason: &str, subject: Option<&str>, from: Option<&str>, mime: bool) -> String {
    // FNV-1a, 64 bits: stable across builds and platforms.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        hash ^= 0xff;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    };
    feed(reason.as_bytes());
    feed(subject.unwrap_or("").as_bytes());
    feed(from.unwrap_or("").as_bytes());
    feed(if mime { b"mime" } else { b"" });
    format!("vacation-{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_parts() {
        let a = "ken+sieve@example.org";
        assert_eq!(address_part(a, AddressPart::All, "+").unwrap(), a);
        assert_eq!(
            address_part(a, AddressPart::LocalPart, "+").unwrap(),
            "ken+sieve"
        );
        assert_eq!(
            address_part(a, AddressPart::Domain, "+").unwrap(),
            "example.org"
        );
        assert_eq!(address_part(a, AddressPart::User, "+").unwrap(), "ken");
        assert_eq!(address_part(a, AddressPart::Detail, "+").unwrap(), "sieve");
        assert_eq!(
            address_part("ken@example.org", AddressPart::Detail, "+"),
            None
        );
        assert_eq!(
            address_part("ken+@example.org", AddressPart::Detail, "+").unwrap(),
            ""
        );
        assert_eq!(
            address_part("a+b+c@x", AddressPart::Detail, "+").unwrap(),
            "b+c"
        );
    }

    #[test]
    fn flags_change_as_sets() {
        let flags = change_flags(Vec::new(), FlagOp::Set, vec!["\\Seen \\Flagged".into()]);
        assert_eq!(flags, ["\\Seen", "\\Flagged"]);
        let flags = change_flags(flags, FlagOp::Add, vec!["\\seen".into(), "$Work".into()]);
        assert_eq!(flags, ["\\Seen", "\\Flagged", "$Work"]);
        let flags = change_flags(flags, FlagOp::Remove, vec!["\\FLAGGED".into()]);
        assert_eq!(flags, ["\\Seen", "$Work"]);
    }

    #[test]
    fn index_picks_from_either_end() {
        let found = [(3, 0), (5, 0), (9, 0)];
        assert_eq!(pick(&found, Index { n: 1, last: false }), Some((3, 0)));
        assert_eq!(pick(&found, Index { n: 1, last: true }), Some((9, 0)));
        assert_eq!(pick(&found, Index { n: 3, last: true }), Some((3, 0)));
        assert_eq!(pick(&found, Index { n: 4, last: false }), None);
        assert_eq!(pick(&found, Index { n: 4, last: true }), None);
    }

    #[test]
    fn default_handles_follow_the_parameters() {
        let a = default_handle("away", Some("s"), None, false);
        assert_eq!(a, default_handle("away", Some("s"), None, false));
        assert_ne!(a, default_handle("away", None, Some("s"), false));
        assert_ne!(a, default_handle("away", Some("s"), None, true));
    }
}
