//! The `havre` binary: wires the role crates together and gives operators
//! their command line. No mail logic lives here.

mod auth_cmd;
mod backup_cmd;
mod ban_cmd;
mod bayes_model;
mod change_bus;
mod check_cmd;
mod checks;
mod cli;
mod cluster_cmd;
mod config_cmd;
mod control;
mod daily_report;
mod director_cmd;
mod director_node;
mod directory_check_cmd;
mod directory_cmd;
mod dkim_cmd;
mod dns_cmd;
mod exit;
mod heartbeat;
mod import_cmd;
mod init;
mod junk_learning;
mod live;
mod locate;
mod logging;
mod manual_cmd;
mod migrate_storage_cmd;
mod open_files;
mod output;
mod password_input;
mod pickup;
mod pidfile;
mod pipelines;
mod policy_service;
mod privileges;
mod quarantine_cmd;
mod quarantine_sweep;
mod queue_cmd;
mod reload;
mod reload_cmd;
mod report_cmd;
mod route_cmd;
mod sendmail;
mod serve;
mod session_cmd;
mod sieve_cmd;
mod spam_check_cmd;
mod spam_cmd;
mod spam_stats_cmd;
mod stats_cmd;
mod tls;
mod trace_cmd;
mod version;
mod web_node;

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
    let invoked = Invoked::from_argv0();
    let cli = match invoked {
        Invoked::Havre => Some(Cli::parse()),
        Invoked::Sendmail | Invoked::Mailq => None,
    };
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
    let result = match cli {
        Some(cli) => runtime.block_on(run(cli)),
        None => {
            // Called as sendmail or mailq: their arguments, not havre's.
            let mut argv: Vec<String> = std::env::args().skip(1).collect();
            if invoked == Invoked::Mailq {
                argv.insert(0, "-bp".into());
            }
            let config = std::env::var_os("HAVRE_CONFIG").map(std::path::PathBuf::from);
            runtime.block_on(sendmail::run(config, &argv))
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => match err.downcast_ref::<exit::Exit>() {
            // Its own words (sendmail's start with "sendmail:"), its own status.
            Some(exit) => {
                if exit.message.starts_with("sendmail:") {
                    eprintln!("{}", exit.message);
                } else {
                    eprintln!("havre: {}", exit.message);
                }
                std::process::ExitCode::from(exit.code)
            }
            None => {
                eprintln!("havre: {err:#}");
                std::process::ExitCode::FAILURE
            }
        },
    }
}

/// The name the binary was run under: `sendmail` and `mailq` are the
/// symbolic links Unix programs call (/usr/sbin/sendmail, /usr/bin/mailq).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Invoked {
    Havre,
    Sendmail,
    Mailq,
}

impl Invoked {
    fn from_argv0() -> Invoked {
        let argv0 = std::env::args_os().next().unwrap_or_default();
        let name = std::path::Path::new(&argv0)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match name.as_str() {
            "sendmail" => Invoked::Sendmail,
            "mailq" => Invoked::Mailq,
            _ => Invoked::Havre,
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
        Command::Quarantine(cmd) => quarantine_cmd::run(config, cmd).await,
        Command::Dkim(cmd) => dkim_cmd::run(config, cmd).await,
        Command::Dns(cmd) => dns_cmd::run(config, cmd).await,
        Command::Directory(cmd) => directory_check_cmd::run(config, cmd).await,
        Command::Sendmail { args } => sendmail::run(config, &args).await,
        Command::Who { user, format } => session_cmd::who(config, user, format.json).await,
        Command::Kick { user } => session_cmd::kick(config, user).await,
        Command::Auth(cmd) => auth_cmd::run(config, cmd).await,
        Command::Check {
            file,
            ip,
            helo,
            from,
            rcpt,
            format,
        } => {
            let args = check_cmd::CheckArgs {
                file,
                ip,
                helo,
                from,
                rcpt,
                json: format.json,
            };
            check_cmd::run(config, args).await
        }
        Command::Ban(cmd) => ban_cmd::run(config, cmd).await,
        Command::Backup(cmd) => backup_cmd::run(config, cmd).await,
        Command::Completions { shell } => manual_cmd::completions(shell),
        Command::Manual { dir } => manual_cmd::manual(&dir),
        Command::Spam(cmd) => spam_cmd::run(config, cmd).await,
        Command::Sieve(cmd) => sieve_cmd::run(config, cmd).await,
        Command::Route { address, format } => route_cmd::run(config, address, format.json).await,
        Command::Trace { id, since, format } => {
            trace_cmd::run(config, id, since, format.json).await
        }
        Command::Cluster(cmd) => cluster_cmd::run(config, cmd).await,
        Command::Director(cmd) => director_cmd::run(config, cmd).await,
        Command::MigrateStorage { to } => migrate_storage_cmd::run(config, to).await,
        Command::Stats { range, format } => stats_cmd::run(config, range, format.json).await,
        Command::Report {
            day,
            since,
            html,
            format,
        } => report_cmd::run(config, day, since, format.json, html).await,
    }
}
