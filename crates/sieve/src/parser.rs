//! The grammar of RFC 5228 §8.2, tokens to a syntax tree.
//!
//! ```text
//! commands  = *command
//! command   = identifier arguments (";" / block)
//! block     = "{" commands "}"
//! arguments = *argument [ test / test-list ]
//! argument  = string-list / number / tag
//! test      = identifier arguments
//! test-list = "(" test *("," test) ")"
//! ```
//!
//! The parser recurses into blocks and test lists, so it counts how deep it
//! is and refuses to go past [`Limits::max_block_nesting`] or
//! [`Limits::max_test_nesting`] *before* it recurses: ten thousand nested
//! `if`s are an error at the 33rd, never a stack overflow.

use crate::ast::{Arg, CommandNode, TestNode};
use crate::error::{CompileError, Pos};
use crate::lexer::{Tok, Token, tokenize};
use crate::limits::Limits;

/// The commands of `source`.
pub(crate) fn parse(source: &str, limits: &Limits) -> Result<Vec<CommandNode>, CompileError> {
    if source.len() > limits.max_script_size {
        return Err(CompileError::new(
            Pos::START,
            format!(
                "script too large: {} bytes, the limit is {}",
                source.len(),
                limits.max_script_size
            ),
        ));
    }
    let tokens = tokenize(source)?;
    let mut parser = Parser {
        tokens,
        at: 0,
        limits,
    };
    let commands = parser.commands(0)?;
    let token = parser.peek();
    if token.tok != Tok::Eof {
        return Err(parser.unexpected("a command"));
    }
    Ok(commands)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    at: usize,
    limits: &'a Limits,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        // The token list always ends with Eof, and the parser never moves past it.
        &self.tokens[self.at.min(self.tokens.len() - 1)]
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if token.tok != Tok::Eof {
            self.at += 1;
        }
        token
    }

    fn unexpected(&self, wanted: &str) -> CompileError {
        let token = self.peek();
        CompileError::new(
            token.pos,
            format!("expected {wanted}, found {}", token.tok.describe()),
        )
    }

    /// Commands until a `}` or the end; `depth` is the number of blocks around them.
    fn commands(&mut self, depth: usize) -> Result<Vec<CommandNode>, CompileError> {
        let mut commands = Vec::new();
        loop {
            match &self.peek().tok {
                Tok::Ident(_) => commands.push(self.command(depth)?),
                Tok::RBrace | Tok::Eof => return Ok(commands),
                _ => return Err(self.unexpected("a command")),
            }
        }
    }

    fn command(&mut self, depth: usize) -> Result<CommandNode, CompileError> {
        let token = self.advance();
        let Tok::Ident(name) = token.tok else {
            unreachable!("commands() only calls command() on an identifier")
        };
        let (args, tests, test_list) = self.arguments(0)?;
        let next = self.peek().clone();
        let block = match next.tok {
            Tok::Semicolon => {
                self.advance();
                None
            }
            Tok::LBrace => {
                if depth >= self.limits.max_block_nesting {
                    return Err(CompileError::new(
                        next.pos,
                        format!(
                            "blocks nested too deeply (the limit is {})",
                            self.limits.max_block_nesting
                        ),
                    ));
                }
                self.advance();
                let inner = self.commands(depth + 1)?;
                if self.peek().tok != Tok::RBrace {
                    return Err(self.unexpected("'}'"));
                }
                self.advance();
                Some(inner)
            }
            _ => {
                return Err(CompileError::new(
                    next.pos,
                    format!(
                        "expected ';' or a block after command '{name}', found {}",
                        next.tok.describe()
                    ),
                ));
            }
        };
        Ok(CommandNode {
            name,
            pos: token.pos,
            args,
            tests,
            test_list,
            block,
        })
    }

    /// Arguments, then an optional test or test list; `depth` is the
    /// number of tests around them.
    #[allow(clippy::type_complexity)]
    fn arguments(&mut self, depth: usize) -> Result<(Vec<Arg>, Vec<TestNode>, bool), CompileError> {
        let mut args = Vec::new();
        loop {
            let token = self.peek().clone();
            match token.tok {
                Tok::Str(s) => {
                    self.advance();
                    args.push(Arg::Str(s, token.pos));
                }
                Tok::Number(n) => {
                    self.advance();
                    args.push(Arg::Number(n, token.pos));
                }
                Tok::Tag(tag) => {
                    self.advance();
                    args.push(Arg::Tag(tag, token.pos));
                }
                Tok::LBracket => {
                    self.advance();
                    args.push(Arg::List(self.string_list()?, token.pos));
                }
                _ => break,
            }
        }
        let token = self.peek().clone();
        match token.tok {
            Tok::Ident(_) => {
                self.check_test_depth(depth, token.pos)?;
                Ok((args, vec![self.test(depth + 1)?], false))
            }
            Tok::LParen => {
                self.check_test_depth(depth, token.pos)?;
                self.advance();
                let mut tests = Vec::new();
                loop {
                    if !matches!(self.peek().tok, Tok::Ident(_)) {
                        return Err(self.unexpected("a test"));
                    }
                    tests.push(self.test(depth + 1)?);
                    match self.advance().tok {
                        Tok::Comma => {}
                        Tok::RParen => break,
                        _ => {
                            self.at -= 1;
                            return Err(self.unexpected("',' or ')' in a test list"));
                        }
                    }
                }
                Ok((args, tests, true))
            }
            _ => Ok((args, Vec::new(), false)),
        }
    }

    fn check_test_depth(&self, depth: usize, pos: Pos) -> Result<(), CompileError> {
        if depth >= self.limits.max_test_nesting {
            return Err(CompileError::new(
                pos,
                format!(
                    "tests nested too deeply (the limit is {})",
                    self.limits.max_test_nesting
                ),
            ));
        }
        Ok(())
    }

    fn test(&mut self, depth: usize) -> Result<TestNode, CompileError> {
        let token = self.advance();
        let Tok::Ident(name) = token.tok else {
            unreachable!("test() is only called on an identifier")
        };
        let (args, tests, test_list) = self.arguments(depth)?;
        Ok(TestNode {
            name,
            pos: token.pos,
            args,
            tests,
            test_list,
        })
    }

    /// The strings of a list; the `[` is read.
    fn string_list(&mut self) -> Result<Vec<String>, CompileError> {
        let mut list = Vec::new();
        loop {
            let token = self.advance();
            match token.tok {
                Tok::Str(s) => list.push(s),
                _ => {
                    self.at -= 1;
                    return Err(self.unexpected("a string in a string list"));
                }
            }
            match self.advance().tok {
                Tok::Comma => {}
                Tok::RBracket => return Ok(list),
                _ => {
                    self.at -= 1;
                    return Err(self.unexpected("',' or ']' in a string list"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(source: &str) -> Vec<CommandNode> {
        parse(source, &Limits::default()).unwrap()
    }

    fn error(source: &str) -> String {
        parse(source, &Limits::default()).unwrap_err().to_string()
    }

    #[test]
    fn if_elsif_else_with_tests() {
        let commands = parse_ok(
            "if anyof (header :is \"X\" \"y\", not exists [\"A\", \"B\"]) { discard; }\n\
             elsif true { keep; } else { stop; }",
        );
        assert_eq!(commands.len(), 3);
        let test = &commands[0].tests[0];
        assert_eq!(test.name, "anyof");
        assert!(test.test_list);
        assert_eq!(test.tests.len(), 2);
        assert_eq!(test.tests[1].tests[0].name, "exists");
        assert_eq!(
            test.tests[1].tests[0].args,
            vec![Arg::List(
                vec!["A".into(), "B".into()],
                Pos {
                    line: 1,
                    column: 42
                }
            )]
        );
        assert_eq!(commands[1].name, "elsif");
        assert_eq!(commands[1].pos, Pos { line: 2, column: 1 });
        assert_eq!(commands[2].block.as_ref().unwrap()[0].name, "stop");
    }

    #[test]
    fn syntax_errors_say_where_and_what() {
        assert_eq!(
            error("keep"),
            "line 1, column 5: expected ';' or a block after command 'keep', found end of script"
        );
        assert_eq!(
            error("if true {\n  keep;\n"),
            "line 3, column 1: expected '}', found end of script"
        );
        assert_eq!(
            error("fileinto [\"a\" \"b\"];"),
            "line 1, column 15: expected ',' or ']' in a string list, found string"
        );
        assert_eq!(
            error("if anyof (true, false {}"),
            "line 1, column 23: expected ',' or ')' in a test list, found '{'"
        );
        assert_eq!(
            error("}"),
            "line 1, column 1: expected a command, found '}'"
        );
        assert_eq!(
            error("\"x\";"),
            "line 1, column 1: expected a command, found string"
        );
        assert_eq!(
            error("if () {}"),
            "line 1, column 5: expected a test, found ')'"
        );
    }

    #[test]
    fn ten_thousand_nested_ifs_are_an_error_not_a_stack_overflow() {
        let depth = 10_000;
        let mut source = "if true {\n".repeat(depth);
        source.push_str(&"}\n".repeat(depth));
        assert_eq!(
            error(&source),
            "line 33, column 9: blocks nested too deeply (the limit is 32)"
        );
        let nots = format!("if {} true {{ }}", "not ".repeat(depth));
        assert_eq!(
            error(&nots),
            "line 1, column 132: tests nested too deeply (the limit is 32)"
        );
        let lists = format!(
            "if {}true{} {{ }}",
            "anyof(".repeat(depth),
            ")".repeat(depth)
        );
        assert!(error(&lists).contains("tests nested too deeply"));
    }

    #[test]
    fn thirty_two_levels_are_fine() {
        let mut source = "if true {\n".repeat(32);
        source.push_str(&"}\n".repeat(32));
        parse_ok(&source);
    }

    #[test]
    fn a_script_past_the_size_limit_is_refused_before_lexing() {
        let source = format!("set \"x\" \"{}\";", "a".repeat(2 << 20));
        assert_eq!(
            error(&source),
            format!(
                "line 1, column 1: script too large: {} bytes, the limit is 1048576",
                source.len()
            )
        );
    }
}
