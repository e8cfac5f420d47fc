//! Commands: control (RFC 5228 §3), actions (§4 and the extensions'),
//! `set`, flags, vacation, include, editheader.

use super::args::Args;
use super::spec::{IndexSpec, MatchSpec};
use super::strings::is_variable_name;
use super::{Compiler, no_tests_nor_block};
use crate::ast::CommandNode;
use crate::error::{CompileError, Pos};
use crate::extensions::Ext;
use crate::program::{
    Cmd, CmdKind, Comparator, FlagOp, Location, Modifier, Str, Test, VacationCmd,
};

impl Compiler<'_> {
    pub(super) fn command(&mut self, node: &CommandNode) -> Result<Cmd, CompileError> {
        self.nodes += 1;
        let name = node.name.as_str();
        let mut args = Args::new(&node.args, format!("command '{name}'"), node.pos);
        let kind = match name {
            "if" => {
                let (test, block) = self.conditional(node, true)?;
                let test = test.expect("conditional returns a test when asked for one");
                CmdKind::If {
                    branches: vec![(test, block)],
                    otherwise: None,
                }
            }
            "require" => {
                return Err(CompileError::new(
                    node.pos,
                    "'require' must come before any other command",
                ));
            }
            "stop" => CmdKind::Stop,
            "keep" => CmdKind::Keep {
                flags: self.flags_tag(&mut args)?,
            },
            "discard" => CmdKind::Discard,
            "redirect" => self.redirect(&mut args)?,
            "fileinto" => {
                self.need(Ext::FileInto, node.pos, "command 'fileinto'")?;
                self.fileinto(&mut args)?
            }
            "reject" | "ereject" => {
                let ext = if name == "reject" {
                    Ext::Reject
                } else {
                    Ext::EReject
                };
                self.need(ext, node.pos, &format!("command '{name}'"))?;
                let (reason, pos) = args.string("a reason")?;
                CmdKind::Reject {
                    reason: self.str(reason, pos)?,
                    extended: name == "ereject",
                }
            }
            "setflag" | "addflag" | "removeflag" => {
                self.need(Ext::Imap4Flags, node.pos, &format!("command '{name}'"))?;
                self.flag_command(name, &mut args)?
            }
            "set" => {
                self.need(Ext::Variables, node.pos, "command 'set'")?;
                self.set(&mut args)?
            }
            "global" => {
                self.need(Ext::Include, node.pos, "command 'global'")?;
                self.need(Ext::Variables, node.pos, "command 'global'")?;
                let (names, pos) = args.string_list("a list of variable names")?;
                let mut checked = Vec::new();
                for name in names {
                    let name = self.constant(name, pos)?;
                    if !is_variable_name(&name, false) {
                        return Err(CompileError::new(
                            pos,
                            format!("invalid variable name '{name}'"),
                        ));
                    }
                    checked.push(name.to_ascii_lowercase());
                }
                CmdKind::Global { names: checked }
            }
            "return" => {
                self.need(Ext::Include, node.pos, "command 'return'")?;
                CmdKind::Return
            }
            "include" => {
                self.need(Ext::Include, node.pos, "command 'include'")?;
                self.include(&mut args)?
            }
            "vacation" => {
                self.need(Ext::Vacation, node.pos, "command 'vacation'")?;
                self.vacation(&mut args)?
            }
            "addheader" | "deleteheader" => {
                self.need(Ext::EditHeader, node.pos, &format!("command '{name}'"))?;
                self.edit_header(name, &mut args)?
            }
            _ => {
                return Err(CompileError::new(
                    node.pos,
                    format!("unknown command '{name}'"),
                ));
            }
        };
        if name != "if" {
            args.end()?;
            no_tests_nor_block(node)?;
        }
        Ok(Cmd {
            line: node.pos.line,
            kind,
        })
    }

    /// The test and block of an `if`, `elsif` (`needs_test`) or `else`.
    pub(super) fn conditional(
        &mut self,
        node: &CommandNode,
        needs_test: bool,
    ) -> Result<(Option<Test>, Vec<Cmd>), CompileError> {
        if let Some(arg) = node.args.first() {
            return Err(CompileError::new(
                arg.pos(),
                format!("'{}' takes a test, not arguments", node.name),
            ));
        }
        let test = if needs_test {
            if node.tests.len() != 1 || node.test_list {
                return Err(CompileError::new(
                    node.pos,
                    format!("'{}' needs exactly one test", node.name),
                ));
            }
            Some(self.test(&node.tests[0])?)
        } else {
            if let Some(test) = node.tests.first() {
                return Err(CompileError::new(test.pos, "'else' takes no test"));
            }
            None
        };
        let Some(block) = &node.block else {
            return Err(CompileError::new(
                node.pos,
                format!("'{}' needs a block", node.name),
            ));
        };
        Ok((test, self.block(block)))
    }

    /// `:flags <list>` (RFC 5232 §5), for keep and fileinto.
    fn flags_tag(&self, args: &mut Args) -> Result<Option<Vec<Str>>, CompileError> {
        let mut flags = None;
        while let Some((tag, pos)) = args.tag() {
            flags = Some(self.flags_argument(tag, pos, args)?);
        }
        Ok(flags)
    }

    fn flags_argument(
        &self,
        tag: &str,
        pos: Pos,
        args: &mut Args,
    ) -> Result<Vec<Str>, CompileError> {
        if tag != "flags" {
            return Err(args.unknown_tag(tag, pos));
        }
        self.need(Ext::Imap4Flags, pos, "tag ':flags'")?;
        let (list, pos) = args.string_list("a list of flags")?;
        self.strs(list, pos)
    }

    fn redirect(&self, args: &mut Args) -> Result<CmdKind, CompileError> {
        let mut copy = false;
        while let Some((tag, pos)) = args.tag() {
            match tag {
                "copy" => {
                    self.need(Ext::Copy, pos, "tag ':copy'")?;
                    copy = true;
                }
                _ => return Err(args.unknown_tag(tag, pos)),
            }
        }
        let (address, pos) = args.string("an address")?;
        let address = self.str(address, pos)?;
        if let Some(text) = address.as_const()
            && let Err(e) = check_redirect_address(text)
        {
            return Err(CompileError::new(pos, e));
        }
        Ok(CmdKind::Redirect { address, copy })
    }

    fn fileinto(&self, args: &mut Args) -> Result<CmdKind, CompileError> {
        let (mut copy, mut create, mut flags) = (false, false, None);
        while let Some((tag, pos)) = args.tag() {
            match tag {
                "copy" => {
                    self.need(Ext::Copy, pos, "tag ':copy'")?;
                    copy = true;
                }
                "create" => {
                    self.need(Ext::Mailbox, pos, "tag ':create'")?;
                    create = true;
                }
                _ => flags = Some(self.flags_argument(tag, pos, args)?),
            }
        }
        let (mailbox, pos) = args.string("a mailbox name")?;
        let mailbox = self.str(mailbox, pos)?;
        if let Some(name) = mailbox.as_const()
            && let Err(e) = check_mailbox_name(name)
        {
            return Err(CompileError::new(pos, e));
        }
        Ok(CmdKind::FileInto {
            mailbox,
            flags,
            copy,
            create,
        })
    }

    /// setflag/addflag/removeflag `[<variablename>] <list-of-flags>`.
    fn flag_command(&self, name: &str, args: &mut Args) -> Result<CmdKind, CompileError> {
        if let Some((tag, pos)) = args.tag() {
            return Err(args.unknown_tag(tag, pos));
        }
        let variable = if args.remaining() >= 2 {
            let (variable, pos) = args.string("a variable name")?;
            self.need(Ext::Variables, pos, "a flag variable")?;
            Some(self.variable_name(variable, pos)?)
        } else {
            None
        };
        let (list, pos) = args.string_list("a list of flags")?;
        let op = match name {
            "setflag" => FlagOp::Set,
            "addflag" => FlagOp::Add,
            _ => FlagOp::Remove,
        };
        Ok(CmdKind::Flags {
            op,
            variable,
            flags: self.strs(list, pos)?,
        })
    }

    /// The name of a variable to set (RFC 5229 §4: no match variables).
    pub(super) fn variable_name(&self, name: String, pos: Pos) -> Result<String, CompileError> {
        let name = self.constant(name, pos)?;
        let namespaces = self.has(Ext::Include);
        if is_variable_name(&name, namespaces) {
            Ok(name.to_ascii_lowercase())
        } else {
            Err(CompileError::new(
                pos,
                format!("invalid variable name '{name}'"),
            ))
        }
    }

    fn set(&self, args: &mut Args) -> Result<CmdKind, CompileError> {
        let mut modifiers: Vec<Modifier> = Vec::new();
        while let Some((tag, pos)) = args.tag() {
            let modifier = match tag {
                "lower" => Modifier::Lower,
                "upper" => Modifier::Upper,
                "lowerfirst" => Modifier::LowerFirst,
                "upperfirst" => Modifier::UpperFirst,
                "quotewildcard" => Modifier::QuoteWildcard,
                "quoteregex" => {
                    self.need(Ext::Regex, pos, "modifier ':quoteregex'")?;
                    Modifier::QuoteRegex
                }
                "length" => Modifier::Length,
                _ => return Err(args.unknown_tag(tag, pos)),
            };
            if let Some(other) = modifiers
                .iter()
                .find(|m| m.precedence() == modifier.precedence() && **m != modifier)
            {
                return Err(CompileError::new(
                    pos,
                    format!(
                        "modifiers :{} and :{tag} cannot be used together",
                        modifier_name(*other)
                    ),
                ));
            }
            if !modifiers.contains(&modifier) {
                modifiers.push(modifier);
            }
        }
        modifiers.sort_by_key(|m| std::cmp::Reverse(m.precedence()));
        let (name, pos) = args.string("a variable name")?;
        let name = self.variable_name(name, pos)?;
        let (value, pos) = args.string("a value")?;
        Ok(CmdKind::Set {
            name,
            value: self.str(value, pos)?,
            modifiers,
        })
    }

    fn include(&self, args: &mut Args) -> Result<CmdKind, CompileError> {
        let (mut location, mut once, mut optional) = (None, false, false);
        while let Some((tag, pos)) = args.tag() {
            match tag {
                "personal" | "global" => {
                    if location.is_some() {
                        return Err(CompileError::new(pos, "more than one location"));
                    }
                    location = Some(if tag == "global" {
                        Location::Global
                    } else {
                        Location::Personal
                    });
                }
                "once" => once = true,
                "optional" => optional = true,
                _ => return Err(args.unknown_tag(tag, pos)),
            }
        }
        let (name, pos) = args.string("a script name")?;
        let name = self.str(name, pos)?;
        if let Some(text) = name.as_const()
            && let Err(e) = check_script_name(text)
        {
            return Err(CompileError::new(pos, e));
        }
        Ok(CmdKind::Include {
            location: location.unwrap_or(Location::Personal),
            name,
            once,
            optional,
        })
    }

    fn vacation(&self, args: &mut Args) -> Result<CmdKind, CompileError> {
        let mut cmd = VacationCmd {
            period: None,
            subject: None,
            from: None,
            addresses: Vec::new(),
            mime: false,
            handle: None,
            reason: Str::Const(String::new()),
        };
        while let Some((tag, pos)) = args.tag() {
            match tag {
                "days" | "seconds" => {
                    if tag == "seconds" {
                        self.need(Ext::VacationSeconds, pos, "tag ':seconds'")?;
                    }
                    if cmd.period.is_some() {
                        return Err(CompileError::new(
                            pos,
                            ":days and :seconds exclude each other",
                        ));
                    }
                    let (n, _) = args.number("a period")?;
                    cmd.period = Some(if tag == "days" {
                        n.saturating_mul(86_400)
                    } else {
                        n
                    });
                }
                "subject" => {
                    let (s, pos) = args.string("a subject")?;
                    cmd.subject = Some(self.str(s, pos)?);
                }
                "from" => {
                    let (s, pos) = args.string("an address")?;
                    cmd.from = Some(self.str(s, pos)?);
                }
                "addresses" => {
                    let (list, pos) = args.string_list("a list of addresses")?;
                    cmd.addresses = self.strs(list, pos)?;
                }
                "mime" => cmd.mime = true,
                "handle" => {
                    let (s, pos) = args.string("a handle")?;
                    cmd.handle = Some(self.str(s, pos)?);
                }
                _ => return Err(args.unknown_tag(tag, pos)),
            }
        }
        let (reason, pos) = args.string("a reason")?;
        cmd.reason = self.str(reason, pos)?;
        Ok(CmdKind::Vacation(Box::new(cmd)))
    }

    fn edit_header(&self, name: &str, args: &mut Args) -> Result<CmdKind, CompileError> {
        if name == "addheader" {
            let mut last = false;
            while let Some((tag, pos)) = args.tag() {
                match tag {
                    "last" => last = true,
                    _ => return Err(args.unknown_tag(tag, pos)),
                }
            }
            let (field, pos) = args.string("a header field name")?;
            let field = self.header_to_edit(field, pos)?;
            let (value, pos) = args.string("a value")?;
            return Ok(CmdKind::AddHeader {
                last,
                name: field,
                value: self.str(value, pos)?,
            });
        }
        let mut spec = MatchSpec::default();
        let mut index = IndexSpec::default();
        while let Some((tag, pos)) = args.tag() {
            // deleteheader has :index and :last without the index extension.
            if !index.take(self, tag, pos, args, false)? && !spec.take(self, tag, pos, args)? {
                return Err(args.unknown_tag(tag, pos));
            }
        }
        let (field, pos) = args.string("a header field name")?;
        let field = self.header_to_edit(field, pos)?;
        let matcher = if args.has_more() {
            let (keys, pos) = args.string_list("a list of value patterns")?;
            Some(spec.finish(self, self.strs(keys, pos)?, Comparator::AsciiCasemap)?)
        } else {
            None
        };
        Ok(CmdKind::DeleteHeader {
            index: index.finish()?,
            name: field,
            matcher,
        })
    }

    fn header_to_edit(&self, field: String, pos: Pos) -> Result<Str, CompileError> {
        let field = self.str(field, pos)?;
        if let Some(name) = field.as_const() {
            check_editable_header(name).map_err(|e| CompileError::new(pos, e))?;
        }
        Ok(field)
    }
}

fn modifier_name(modifier: Modifier) -> &'static str {
    match modifier {
        Modifier::Lower => "lower",
        Modifier::Upper => "upper",
        Modifier::LowerFirst => "lowerfirst",
        Modifier::UpperFirst => "upperfirst",
        Modifier::QuoteWildcard => "quotewildcard",
        Modifier::QuoteRegex => "quoteregex",
        Modifier::Length => "length",
    }
}

/// An address `redirect` may send to: `local@domain`, nothing around it.
pub(crate) fn check_redirect_address(address: &str) -> Result<(), String> {
    let valid = match address.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && domain.contains(|c: char| c.is_alphanumeric())
                && !address
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ','))
                && !domain.contains(['"', '(', ')', '@'])
        }
        None => false,
    };
    if valid {
        Ok(())
    } else {
        Err(format!("invalid redirect address '{address}'"))
    }
}

/// A mailbox `fileinto` may name: not empty, no control characters.
pub(crate) fn check_mailbox_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty mailbox name".into());
    }
    if name.chars().any(char::is_control) {
        return Err(format!("invalid mailbox name '{}'", name.escape_default()));
    }
    Ok(())
}

/// A script name `include` may name (RFC 6609 §3.2: no `/`).
pub(crate) fn check_script_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.contains('/') || name.chars().any(char::is_control) {
        return Err(format!("invalid script name '{}'", name.escape_default()));
    }
    Ok(())
}

/// A header field name editheader may add or delete (RFC 5293 §3, §4):
/// a valid field name, and never `Received` nor `Auto-Submitted`, which
/// tell loops and automatic replies apart.
pub(crate) fn check_editable_header(name: &str) -> Result<(), String> {
    if name.is_empty() || !name.bytes().all(|b| (33..=126).contains(&b) && b != b':') {
        return Err(format!(
            "invalid header field name '{}'",
            name.escape_default()
        ));
    }
    if name.eq_ignore_ascii_case("received") || name.eq_ignore_ascii_case("auto-submitted") {
        return Err(format!("header field '{name}' may not be changed"));
    }
    Ok(())
}
