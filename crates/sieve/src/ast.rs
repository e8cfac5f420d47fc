//! The syntax tree of a script as written, before any command is checked.

use crate::error::Pos;

/// An argument of a command or test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Arg {
    /// A single string.
    Str(String, Pos),
    /// A bracketed string list (`["a", "b"]`).
    List(Vec<String>, Pos),
    Number(u64, Pos),
    /// A `:tag`, lower case, without its colon.
    Tag(String, Pos),
}

impl Arg {
    pub(crate) fn pos(&self) -> Pos {
        match self {
            Arg::Str(_, pos) | Arg::List(_, pos) | Arg::Number(_, pos) | Arg::Tag(_, pos) => *pos,
        }
    }
}

/// A test: its name, its arguments, and the tests it holds (`not`, `anyof`, `allof`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TestNode {
    pub name: String,
    pub pos: Pos,
    pub args: Vec<Arg>,
    pub tests: Vec<TestNode>,
    /// The tests were written as a parenthesised list.
    pub test_list: bool,
}

/// A command: its name, arguments, tests (`if`) and block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CommandNode {
    pub name: String,
    pub pos: Pos,
    pub args: Vec<Arg>,
    pub tests: Vec<TestNode>,
    pub test_list: bool,
    pub block: Option<Vec<CommandNode>>,
}
