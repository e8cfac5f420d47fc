//! `havre completions SHELL` and `havre manual DIR`: shell completions and
//! one man page per command, made from the command line's own definitions,
//! so neither can say something the binary does not do. The Debian
//! package ships both (scripts/deb).

use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// Prints the completion script for `shell` on standard output.
pub fn completions(shell: Shell) -> anyhow::Result<()> {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "havre", &mut out);
    crate::output::write_stdout(&String::from_utf8_lossy(&out))
}

/// Writes `havre.8` and a page per command (`havre-queue-list.8`) into
/// `dir`; prints how many.
pub fn manual(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut root = Cli::command().disable_help_subcommand(true);
    root.build();
    let written = pages(root, dir)?;
    println!("{written} man pages written in {}", dir.display());
    Ok(())
}

/// The page of `command` and of each of its visible subcommands; how many.
fn pages(command: clap::Command, dir: &Path) -> anyhow::Result<usize> {
    let mut written = 0;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        written += pages(sub.clone(), dir)?;
    }
    // Section 8: commands for the administrator, as Postfix's and Dovecot's.
    clap_mangen::Man::new(command)
        .section("8")
        .manual("havre")
        .generate_to(dir)
        .with_context(|| format!("cannot write into {}", dir.display()))?;
    Ok(written + 1)
}
