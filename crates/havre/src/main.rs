//! The `havre` binary: wires the role crates together and gives operators
//! their command line. No mail logic lives here.

mod checks;
mod cli;
mod config_cmd;
mod directory_cmd;
mod dkim_cmd;
mod dns_cmd;
mod import_cmd;
mod init;
mod live;
mod locate;
mod logging;
mod open_files;
mod password_input;
mod pidfile;
mod privileges;
mod queue_cmd;
mod reload;
mod reload_cmd;
mod serve;
mod tls;

use clap::Parser;

use cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    // Password hashing (argon2id) allocates ~19 MB per verification; with
    // glibc's default thresholds those blocks stay in the heap after being
    // freed and the process keeps gigabytes after a burst of logins. Served
    // from mmap instead, they go back to the system at once.
    // SAFETY: mallopt only tunes the allocator; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
    // Postfix's umask: the database holds password hashes, the spool and the
    // mailboxes hold mail. Whatever any command creates is the owner's only.
    // SAFETY: umask(2) has no preconditions.
    unsafe {
        libc::umask(0o077);
    }
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("havre: cannot start the runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("havre: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.config;
    match cli.command {
        Command::Init(args) => init::run(args).await,
        Command::Serve => serve::run(config).await,
        Command::Reload => reload_cmd::run(config),
        Command::Config(cmd) => config_cmd::run(config, cmd),
        Command::Domain(cmd) => directory_cmd::domain(config, cmd).await,
        Command::User(cmd) => directory_cmd::user(config, cmd).await,
        Command::Alias(cmd) => directory_cmd::alias(config, cmd).await,
        Command::Import(cmd) => import_cmd::run(config, cmd).await,
        Command::Queue(cmd) => queue_cmd::run(config, cmd).await,
        Command::Dkim(cmd) => dkim_cmd::run(config, cmd).await,
        Command::Dns(cmd) => dns_cmd::run(config, cmd).await,
    }
}
