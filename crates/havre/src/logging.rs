//! Log lines an operator and the standard tools can read, in the form of
//! Postfix's:
//!
//! `2026-11-23T02:55:30.123+01:00 mail.example.test havre/smtpd[4242]: 0192A3F4C1D2E3F4: client=unknown[192.0.2.1]`
//!
//! The program part is `havre/` and the event's `role` field (Postfix's
//! program names where a Postfix program does the same job: `smtpd`,
//! `submission/smtpd`, `cleanup`, `qmgr`, `smtp`, `local`, `bounce`,
//! `postsuper`; Dovecot's `imap-login` and `pop3-login`), else its target.
//! So pflogsumm (`--syslog-name=havre`) and Fail2ban's stock filters (with
//! `_daemon=havre/\S+`) read them. Warnings and errors say so after the colon,
//! as Postfix's `warning:` lines do. One event is one line: control
//! characters in a message are replaced, so no client-supplied text can
//! forge a line.
//!
//! Lines go to `log.output` (stderr, the syslog socket or journald's) and,
//! when `log.file` is set, are appended to that file too. Timestamps are
//! local time with the offset, so `pflogsumm -d yesterday` picks the local day.

mod journald;
mod line;
mod syslog;

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use havre_config::{LoadedConfig, LogOutput};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::{Context as LayerContext, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

use line::Line;

/// The syslog name of every program: `havre/smtpd`, like Postfix's `postfix/smtpd`.
pub const SYSLOG_NAME: &str = "havre";

/// Installs the global subscriber of `havre serve`: every line to
/// `log.output` and `log.file`, which is opened now (before privileges are
/// dropped). `log.level` is a tracing filter; `$HAVRE_LOG` overrides it for a
/// debugging session.
pub fn init(config: &LoadedConfig) -> anyhow::Result<()> {
    let mut outputs = vec![main_output(config)?];
    if let Some(path) = config.log_file() {
        outputs.push(Output::File(LogFile::open(path)?));
    }
    install(config, outputs)?;
    // A panic (a session's bug, the relay's) is an error line of the log with
    // where it happened, in the log file too, not a bare line on stderr.
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = info.payload_as_str().unwrap_or("(no message)");
        tracing::error!(target: "havre", "panic{location}: {message}");
    }));
    Ok(())
}

/// The subscriber of a command-line run: what it changes (`postsuper`-like
/// queue lines, user changes) goes to `log.file` and a syslog or journald
/// output, never to stderr, which is the command's own. The file is opened
/// at the first line, so a command that logs nothing never touches it, and a
/// file it cannot write costs one warning, not the command.
pub fn init_cli(config: &LoadedConfig) {
    let mut outputs = Vec::new();
    if config.config.log.output != LogOutput::Stderr
        && let Ok(output) = main_output(config)
    {
        outputs.push(output);
    }
    if let Some(path) = config.log_file() {
        outputs.push(Output::File(LogFile::later(path)));
    }
    if !outputs.is_empty() {
        let _ = install(config, outputs);
    }
}

fn main_output(config: &LoadedConfig) -> anyhow::Result<Output> {
    let socket = config.log_socket();
    Ok(match (config.config.log.output, socket) {
        (LogOutput::Syslog, Some(path)) => Output::Syslog(syslog::Syslog::new(path)?),
        (LogOutput::Journald, Some(path)) => Output::Journald(journald::Journald::new(path)?),
        _ => Output::Stderr,
    })
}

fn install(config: &LoadedConfig, outputs: Vec<Output>) -> anyhow::Result<()> {
    let level = &config.config.log.level;
    let directives = std::env::var("HAVRE_LOG").unwrap_or_else(|_| level.to_string());
    let filter = EnvFilter::try_new(&directives)
        .with_context(|| format!("log.level: {directives:?} is not a valid filter"))?;
    let logger = Logger {
        hostname: config.config.server.hostname.clone(),
        pid: std::process::id(),
        outputs,
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(logger)
        .try_init()
        .context("logging already initialised")
}

/// The layer that formats each event once and hands it to every output.
struct Logger {
    hostname: String,
    pid: u32,
    outputs: Vec<Output>,
}

enum Output {
    Stderr,
    File(LogFile),
    Syslog(syslog::Syslog),
    Journald(journald::Journald),
}

impl<S: Subscriber> Layer<S> for Logger {
    fn on_event(&self, event: &Event<'_>, _ctx: LayerContext<'_, S>) {
        let line = Line::of(event);
        let program = format!("{SYSLOG_NAME}/{}", line.program);
        let text = format!(
            "{} {} {program}[{}]: {}\n",
            chrono::Local::now().format("%Y-%m-%dT%H:%M:%S%.3f%:z"),
            self.hostname,
            self.pid,
            line.text
        );
        let fallback = || {
            // The daemon is away: the line is not lost.
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
        };
        for output in &self.outputs {
            match output {
                Output::Stderr => {
                    let _ = std::io::stderr().lock().write_all(text.as_bytes());
                }
                Output::File(file) => file.append(text.as_bytes()),
                Output::Syslog(syslog) => {
                    if syslog.send(&program, self.pid, &line).is_err() {
                        fallback();
                    }
                }
                Output::Journald(journald) => {
                    if journald.send(&program, self.pid, &line).is_err() {
                        fallback();
                    }
                }
            }
        }
    }
}

/// `log.file`, appended to (`O_APPEND`: one write per line, so `serve` and
/// commands run beside it never interleave within a line).
struct LogFile {
    path: PathBuf,
    file: Mutex<Option<File>>,
    /// Opening failed once already (command line): not tried again.
    given_up: std::sync::atomic::AtomicBool,
}

impl LogFile {
    fn open(path: PathBuf) -> anyhow::Result<LogFile> {
        let file = open_append(&path)
            .with_context(|| format!("log.file: cannot open {}", path.display()))?;
        Ok(LogFile {
            path,
            file: Mutex::new(Some(file)),
            given_up: Default::default(),
        })
    }

    fn later(path: PathBuf) -> LogFile {
        LogFile {
            path,
            file: Mutex::new(None),
            given_up: Default::default(),
        }
    }

    fn append(&self, bytes: &[u8]) {
        use std::sync::atomic::Ordering;
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if file.is_none() && !self.given_up.load(Ordering::Relaxed) {
            match open_append(&self.path) {
                Ok(opened) => *file = Some(opened),
                Err(err) => {
                    self.given_up.store(true, Ordering::Relaxed);
                    eprintln!(
                        "havre: warning: cannot append to the log file {}: {err}",
                        self.path.display()
                    );
                }
            }
        }
        if let Some(file) = file.as_mut() {
            let _ = file.write_all(bytes);
        }
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}
