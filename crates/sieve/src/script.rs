//! A compiled script, and the entry points: compile, check, run.

use crate::compile::compile;
use crate::error::{CompileError, RuntimeError};
use crate::host::Host;
use crate::interp::Run;
use crate::limits::Limits;
use crate::message::{Envelope, Message};
use crate::outcome::Outcome;
use crate::parser::parse;
use crate::program::Cmd;

/// A script checked and compiled: immutable, `Send + Sync`, cheap to keep
/// in a cache (behind an `Arc`) and to run on many messages at once.
#[derive(Debug, Clone)]
pub struct Script {
    pub(crate) commands: Vec<Cmd>,
    pub(crate) limits: Limits,
    pub(crate) variables: bool,
    extensions: Vec<&'static str>,
    nodes: usize,
    tests_mailboxes: bool,
}

impl Script {
    /// Compiles `source`; the first error if it does not compile (see
    /// [`check`] for all of them).
    pub fn compile(source: &str, limits: &Limits) -> Result<Script, CompileError> {
        Self::compile_all(source, limits).map_err(|mut errors| errors.swap_remove(0))
    }

    fn compile_all(source: &str, limits: &Limits) -> Result<Script, Vec<CompileError>> {
        let nodes = parse(source, limits).map_err(|e| vec![e])?;
        let compiled = compile(&nodes, limits)?;
        Ok(Script {
            variables: compiled.required.contains(&"variables"),
            commands: compiled.commands,
            limits: limits.clone(),
            extensions: compiled.required,
            nodes: compiled.nodes,
            tests_mailboxes: compiled.tests_mailboxes,
        })
    }

    /// The extensions the script requires, sorted.
    pub fn extensions(&self) -> &[&'static str] {
        &self.extensions
    }

    /// How many commands and tests the script is made of: what one run
    /// costs at most when no test loops over big values (a caller may run
    /// a light script on its own thread and a heavy one elsewhere).
    pub fn size(&self) -> usize {
        self.nodes
    }

    /// Whether the script has a `mailboxexists` test: only then does a
    /// run ask the [`Host`] which mailboxes exist.
    pub fn tests_mailboxes(&self) -> bool {
        self.tests_mailboxes
    }

    /// The limits the script was compiled with, which its runs keep.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Runs the script on one message. On a [`RuntimeError`] the caller
    /// keeps the message and logs the error (see there). For global
    /// scripts run before and after the user's, use [`Run`] directly.
    pub fn run(
        &self,
        message: &Message<'_>,
        envelope: &Envelope,
        host: &dyn Host,
    ) -> Result<Outcome, RuntimeError> {
        let mut run = Run::new(message, envelope, host, &self.limits);
        run.execute(self)?;
        Ok(run.finish())
    }
}

/// Every error of `source` (syntax errors stop at the first; errors of
/// commands are listed up to twenty), sorted by position; empty when the
/// script compiles. For `havre sieve check` and ManageSieve's
/// CHECKSCRIPT/PUTSCRIPT.
pub fn check(source: &str, limits: &Limits) -> Vec<CompileError> {
    match Script::compile_all(source, limits) {
        Ok(_) => Vec::new(),
        Err(errors) => errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_can_be_shared_between_threads() {
        fn shared<T: Send + Sync + 'static>() {}
        shared::<Script>();
    }

    #[test]
    fn check_lists_several_errors() {
        let errors = check(
            "require \"fileinto\";\nfilein \"a\";\nkeep :copy;\nredirect \"not an address\";\n",
            &Limits::default(),
        );
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "line 2, column 1: unknown command 'filein'",
                "line 3, column 6: unknown tag ':copy' for command 'keep'",
                "line 4, column 10: invalid redirect address 'not an address'",
            ]
        );
        assert!(check("keep;", &Limits::default()).is_empty());
    }

    #[test]
    fn a_script_says_its_size_and_whether_it_asks_which_mailboxes_exist() {
        let limits = Limits::default();
        let filing = Script::compile(
            "require [\"fileinto\", \"mailbox\"];\nif header :contains \"subject\" \"x\" { fileinto :create \"X\"; stop; }\n",
            &limits,
        )
        .unwrap();
        assert_eq!(filing.size(), 4, "if, header, fileinto, stop");
        assert!(!filing.tests_mailboxes());
        let asking = Script::compile(
            "require [\"fileinto\", \"mailbox\"];\nif not mailboxexists \"X\" { keep; }\n",
            &limits,
        )
        .unwrap();
        assert!(asking.tests_mailboxes());
    }
}
