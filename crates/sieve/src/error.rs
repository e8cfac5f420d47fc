//! Errors: a script that does not compile, and a run that went wrong.

use std::fmt;

/// A place in a script: line and column, both from 1 (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

impl Pos {
    pub(crate) const START: Pos = Pos { line: 1, column: 1 };
}

/// Why a script does not compile, and where.
///
/// Displayed as `line 3, column 5: unknown command 'filein'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl CompileError {
    pub(crate) fn new(pos: Pos, message: impl Into<String>) -> Self {
        CompileError {
            line: pos.line,
            column: pos.column,
            message: message.into(),
        }
    }

    /// Where the error is.
    pub fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            column: self.column,
        }
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for CompileError {}

/// Why a run of a compiled script stopped before its end: too many
/// redirects or actions, too much work, conflicting actions (`reject` with
/// `fileinto`), a missing include, an include cycle...
///
/// What to do with it is Pigeonhole's rule: **the message is kept** (an
/// implicit keep into INBOX, as if the script had done nothing) and the
/// error is logged, with the script's name, as
/// `sieve: NAME: line 12: too many redirect actions (limit 4)`. None of
/// the run's actions is carried out, not even those before the error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeError {
    /// The line of the command or test that failed (0 when no line applies).
    pub line: u32,
    pub message: String,
    /// The run went past [`Limits::max_instructions`](crate::Limits).
    too_much_work: bool,
}

impl RuntimeError {
    pub(crate) fn new(line: u32, message: impl Into<String>) -> Self {
        RuntimeError {
            line,
            message: message.into(),
            too_much_work: false,
        }
    }

    pub(crate) fn too_much_work(line: u32, max: u64) -> Self {
        RuntimeError {
            too_much_work: true,
            ..RuntimeError::new(line, format!("too much work: more than {max} instructions"))
        }
    }

    /// Whether the run ended because it went past its instructions: the
    /// same run with a bigger allowance may end otherwise.
    pub fn is_too_much_work(&self) -> bool {
        self.too_much_work
    }
}

impl fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            f.write_str(&self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

impl std::error::Error for RuntimeError {}
