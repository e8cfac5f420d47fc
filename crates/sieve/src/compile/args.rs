//! Reading the arguments of one command or test: tags first, then
//! positional arguments, each of the type the command wants.

use crate::ast::Arg;
use crate::error::{CompileError, Pos};

pub(crate) struct Args<'a> {
    list: &'a [Arg],
    at: usize,
    /// "command 'fileinto'" or "test 'header'", for messages.
    what: String,
    /// Where the command or test starts.
    pub pos: Pos,
}

impl<'a> Args<'a> {
    pub(crate) fn new(list: &'a [Arg], what: String, pos: Pos) -> Self {
        Args {
            list,
            at: 0,
            what,
            pos,
        }
    }

    /// The next argument if it is a tag (and moves past it).
    pub(crate) fn tag(&mut self) -> Option<(&'a str, Pos)> {
        match self.list.get(self.at) {
            Some(Arg::Tag(tag, pos)) => {
                self.at += 1;
                Some((tag.as_str(), *pos))
            }
            _ => None,
        }
    }

    /// Whether another positional argument follows.
    pub(crate) fn has_more(&self) -> bool {
        self.at < self.list.len()
    }

    /// The number of arguments left.
    pub(crate) fn remaining(&self) -> usize {
        self.list.len() - self.at
    }

    fn missing(&self, wanted: &str) -> CompileError {
        match self.list.get(self.at) {
            Some(Arg::Tag(tag, pos)) => CompileError::new(
                *pos,
                format!(
                    "unexpected tag ':{tag}' for {}, expected {wanted}",
                    self.what
                ),
            ),
            Some(arg) => CompileError::new(
                arg.pos(),
                format!(
                    "{} expects {wanted} here, found {}",
                    self.what,
                    describe(arg)
                ),
            ),
            None => CompileError::new(self.pos, format!("{} is missing {wanted}", self.what)),
        }
    }

    /// A single string.
    pub(crate) fn string(&mut self, wanted: &str) -> Result<(String, Pos), CompileError> {
        match self.list.get(self.at) {
            Some(Arg::Str(s, pos)) => {
                self.at += 1;
                Ok((s.clone(), *pos))
            }
            _ => Err(self.missing(wanted)),
        }
    }

    /// A string list; a single string is a list of one.
    pub(crate) fn string_list(&mut self, wanted: &str) -> Result<(Vec<String>, Pos), CompileError> {
        match self.list.get(self.at) {
            Some(Arg::Str(s, pos)) => {
                self.at += 1;
                Ok((vec![s.clone()], *pos))
            }
            Some(Arg::List(list, pos)) => {
                self.at += 1;
                Ok((list.clone(), *pos))
            }
            _ => Err(self.missing(wanted)),
        }
    }

    pub(crate) fn number(&mut self, wanted: &str) -> Result<(u64, Pos), CompileError> {
        match self.list.get(self.at) {
            Some(Arg::Number(n, pos)) => {
                self.at += 1;
                Ok((*n, *pos))
            }
            _ => Err(self.missing(wanted)),
        }
    }

    /// Every argument was read.
    pub(crate) fn end(&self) -> Result<(), CompileError> {
        match self.list.get(self.at) {
            None => Ok(()),
            Some(Arg::Tag(tag, pos)) => Err(CompileError::new(
                *pos,
                format!(
                    "unexpected tag ':{tag}' for {} (tags come before the other arguments)",
                    self.what
                ),
            )),
            Some(arg) => Err(CompileError::new(
                arg.pos(),
                format!("too many arguments for {}", self.what),
            )),
        }
    }

    /// The error for a tag the command does not know.
    pub(crate) fn unknown_tag(&self, tag: &str, pos: Pos) -> CompileError {
        CompileError::new(pos, format!("unknown tag ':{tag}' for {}", self.what))
    }
}

fn describe(arg: &Arg) -> &'static str {
    match arg {
        Arg::Str(..) => "a string",
        Arg::List(..) => "a string list",
        Arg::Number(..) => "a number",
        Arg::Tag(..) => "a tag",
    }
}
