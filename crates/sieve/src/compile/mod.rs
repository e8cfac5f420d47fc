//! From the syntax tree to the compiled program: every command and test
//! checked against what it takes (argument types, tags, comparators, match
//! types, address parts) and against the extensions the script required.
//!
//! An error in one command does not stop the checking of the next ones, so
//! [`check`](crate::check) can list several; a script compiles only when
//! there is none.

mod args;
mod commands;
mod conditions;
mod spec;
pub(crate) mod strings;

pub(crate) use commands::{
    check_editable_header, check_mailbox_name, check_redirect_address, check_script_name,
};
pub(crate) use spec::compile_regex;

use std::collections::HashSet;

use crate::ast::CommandNode;
use crate::error::{CompileError, Pos};
use crate::extensions::Ext;
use crate::limits::Limits;
use crate::program::{Cmd, CmdKind, Str};

/// Errors past this many are not looked for.
const MAX_ERRORS: usize = 20;

pub(crate) struct Compiler<'l> {
    pub(crate) limits: &'l Limits,
    required: HashSet<Ext>,
    pub(crate) errors: Vec<CompileError>,
    /// Commands and tests compiled so far (the script's weight).
    pub(crate) nodes: usize,
    /// Whether a `mailboxexists` test was compiled.
    pub(crate) tests_mailboxes: bool,
}

/// What a compiled script is made of.
pub(crate) struct Compiled {
    pub commands: Vec<Cmd>,
    pub required: Vec<&'static str>,
    pub nodes: usize,
    pub tests_mailboxes: bool,
}

pub(crate) fn compile(
    nodes: &[CommandNode],
    limits: &Limits,
) -> Result<Compiled, Vec<CompileError>> {
    let mut compiler = Compiler {
        limits,
        required: HashSet::new(),
        errors: Vec::new(),
        nodes: 0,
        tests_mailboxes: false,
    };
    let mut rest = nodes;
    while let Some((first, others)) = rest.split_first() {
        if first.name != "require" {
            break;
        }
        if let Err(e) = compiler.require(first) {
            compiler.errors.push(e);
        }
        rest = others;
    }
    let commands = compiler.block(rest);
    if compiler.errors.is_empty() {
        let mut required: Vec<&'static str> = compiler.required.iter().map(|e| e.name()).collect();
        required.sort_unstable();
        Ok(Compiled {
            commands,
            required,
            nodes: compiler.nodes,
            tests_mailboxes: compiler.tests_mailboxes,
        })
    } else {
        compiler.errors.sort_by_key(|e| e.pos());
        Err(compiler.errors)
    }
}

impl Compiler<'_> {
    pub(crate) fn has(&self, ext: Ext) -> bool {
        self.required.contains(&ext)
    }

    /// An error unless `ext` was required; `what` names the thing that needs it.
    pub(crate) fn need(&self, ext: Ext, pos: Pos, what: &str) -> Result<(), CompileError> {
        if self.has(ext) {
            Ok(())
        } else {
            Err(CompileError::new(
                pos,
                format!("{what} needs require \"{}\"", ext.name()),
            ))
        }
    }

    fn require(&mut self, node: &CommandNode) -> Result<(), CompileError> {
        let mut args = args::Args::new(&node.args, "command 'require'".into(), node.pos);
        let (names, pos) = args.string_list("a list of extensions")?;
        args.end()?;
        no_tests_nor_block(node)?;
        for name in names {
            match name.to_ascii_lowercase().as_str() {
                "comparator-i;octet" | "comparator-i;ascii-casemap" => continue,
                _ => {}
            }
            let ext = Ext::by_name(&name).ok_or_else(|| {
                CompileError::new(pos, format!("unsupported extension \"{name}\""))
            })?;
            self.required.insert(ext);
            match ext {
                Ext::VacationSeconds => {
                    self.required.insert(Ext::Vacation);
                }
                Ext::SpamTestPlus => {
                    self.required.insert(Ext::SpamTest);
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The commands of a block, `if`/`elsif`/`else` chains joined.
    fn block(&mut self, nodes: &[CommandNode]) -> Vec<Cmd> {
        let mut out: Vec<Cmd> = Vec::new();
        // Whether the last command compiled is an `if` an `elsif` or `else` may follow.
        let mut open_if = false;
        for node in nodes {
            if self.errors.len() >= MAX_ERRORS {
                break;
            }
            let result = match node.name.as_str() {
                "elsif" | "else" => {
                    if !open_if {
                        Err(CompileError::new(
                            node.pos,
                            format!("'{}' without a preceding 'if'", node.name),
                        ))
                    } else {
                        self.chain(node, out.last_mut())
                    }
                }
                _ => self.command(node).map(|cmd| {
                    out.push(cmd);
                }),
            };
            open_if = match node.name.as_str() {
                "if" | "elsif" => result.is_ok(),
                _ => false,
            };
            if let Err(e) = result {
                self.errors.push(e);
            }
        }
        out
    }

    /// Adds an `elsif` or `else` to the `if` before it.
    fn chain(&mut self, node: &CommandNode, last: Option<&mut Cmd>) -> Result<(), CompileError> {
        let (test, block) = self.conditional(node, node.name == "elsif")?;
        if let Some(Cmd {
            kind: CmdKind::If {
                branches,
                otherwise,
            },
            ..
        }) = last
        {
            match test {
                Some(test) => branches.push((test, block)),
                None => *otherwise = Some(block),
            }
        }
        Ok(())
    }

    /// A string argument as the program keeps it: encoded characters
    /// decoded, variable references split out.
    pub(crate) fn str(&self, text: String, pos: Pos) -> Result<Str, CompileError> {
        let text = if self.has(Ext::EncodedCharacter) {
            strings::decode_encoded_characters(&text).map_err(|e| CompileError::new(pos, e))?
        } else {
            text
        };
        if self.has(Ext::Variables) {
            Ok(strings::template(text))
        } else {
            Ok(Str::Const(text))
        }
    }

    pub(crate) fn strs(&self, list: Vec<String>, pos: Pos) -> Result<Vec<Str>, CompileError> {
        list.into_iter().map(|s| self.str(s, pos)).collect()
    }

    /// A string that must be known at compile time (names, operators).
    pub(crate) fn constant(&self, text: String, pos: Pos) -> Result<String, CompileError> {
        match self.str(text, pos)? {
            Str::Const(s) => Ok(s),
            Str::Template(_) => Err(CompileError::new(pos, "a variable is not allowed here")),
        }
    }
}

pub(crate) fn no_tests_nor_block(node: &CommandNode) -> Result<(), CompileError> {
    if let Some(test) = node.tests.first() {
        return Err(CompileError::new(
            test.pos,
            format!("command '{}' takes no test", node.name),
        ));
    }
    if node.block.is_some() {
        return Err(CompileError::new(
            node.pos,
            format!("command '{}' takes no block", node.name),
        ));
    }
    Ok(())
}
