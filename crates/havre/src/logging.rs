//! Log lines an operator and the standard tools can read, in the form of
//! Postfix's:
//!
//! `2026-11-23T02:55:30.123+01:00 mail.example.test havre/smtpd[4242]: 0192A3F4C1D2E3F4: client=unknown[192.0.2.1]`
//!
//! The program part is `havre/` and the event's `role` field (Postfix's
//! program names where a Postfix program does the same job: `smtpd`,
//! `submission/smtpd`, `pickup`, `cleanup`, `qmgr`, `smtp`, `local`,
//! `bounce`, `postsuper`; Dovecot's `imap-login` and `pop3-login`), else its
//! target. So pflogsumm (`--syslog-name=havre`) and Fail2ban's stock filters
//! (with `_daemon=havre/\S+`) read them. Warnings and errors say so after the
//! colon, as Postfix's `warning:` lines do. One event is one line: control
//! characters in a message are replaced, so no client-supplied text can
//! forge a line.
//!
//! Lines go to `log.output` (stderr, the syslog socket or journald's) and,
//! when `log.file` is set, are appended to that file too. Timestamps are
//! local time with the offset, so `pflogsumm -d yesterday` picks the local day.
//! A reload changes the level and reopens the file ([`LogControl`]), as
//! logrotate expects; `log.output` and `log.socket` wait for a restart.

mod journald;
mod line;
mod syslog;

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use havre_config::{LoadedConfig, LogOutput};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, Layer, SubscriberExt};
use tracing_subscriber::registry::Registry;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, reload};

use line::Line;

/// The syslog name of every program: `havre/smtpd`, like Postfix's `postfix/smtpd`.
pub const SYSLOG_NAME: &str = "havre";

/// Installs the global subscriber of `havre serve`: every line to
/// `log.output` and `log.file`, which is opened now (before privileges are
/// dropped). `log.level` is a tracing filter; `$HAVRE_LOG` overrides it for a
/// debugging session. The returned [`LogControl`] is what a reload changes.
pub fn init(config: &LoadedConfig) -> anyhow::Result<LogControl> {
    let file = LogFile::default();
    file.set(config.log_file().as_deref())?;
    let control = install(
        config,
        vec![main_output(config)?, Output::File(file.clone())],
        file,
    )?;
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
    Ok(control)
}

/// The subscriber of a command-line run: what it changes (`postsuper`-like
/// queue lines, user changes) goes to `log.file` and a syslog or journald
/// output, never to stderr, which is the command's own. Called before the
/// command becomes `server.user`, so that an existing file is open already;
/// one that does not exist is created at the first line, so a command that
/// logs nothing never makes it, and a file it cannot write costs one
/// warning, not the command.
pub fn init_cli(config: &LoadedConfig) {
    let mut outputs = Vec::new();
    if config.config.log.output != LogOutput::Stderr
        && let Ok(output) = main_output(config)
    {
        outputs.push(output);
    }
    let file = LogFile::later(config.log_file());
    if config.log_file().is_some() {
        outputs.push(Output::File(file.clone()));
    }
    if !outputs.is_empty() {
        let _ = install(config, outputs, file);
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

fn install(
    config: &LoadedConfig,
    outputs: Vec<Output>,
    file: LogFile,
) -> anyhow::Result<LogControl> {
    let level = &config.config.log.level;
    let env = std::env::var("HAVRE_LOG").ok();
    let directives = env.clone().unwrap_or_else(|| level.to_string());
    let filter = EnvFilter::try_new(&directives)
        .with_context(|| format!("log.level: {directives:?} is not a valid filter"))?;
    let (filter, handle) = reload::Layer::new(filter);
    let logger = Logger {
        hostname: config.config.server.hostname.clone(),
        pid: std::process::id(),
        outputs,
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(logger)
        .try_init()
        .context("logging already initialised")?;
    Ok(LogControl {
        filter: handle,
        file,
        overridden: env.is_some(),
    })
}

/// What a reload changes in the logging: the filter (`log.level`) and the
/// file (`log.file`), reopened after logrotate renamed it. The output
/// (`log.output`, `log.socket`) stays as serve started.
pub struct LogControl {
    filter: reload::Handle<EnvFilter, Registry>,
    file: LogFile,
    /// `$HAVRE_LOG`, which wins over `log.level` for the life of the process.
    overridden: bool,
}

impl LogControl {
    /// Applies `log.level`; false when `$HAVRE_LOG` overrides it.
    pub fn set_level(&self, level: &str) -> anyhow::Result<bool> {
        if self.overridden {
            return Ok(false);
        }
        let filter = EnvFilter::try_new(level)
            .with_context(|| format!("log.level: {level:?} is not a valid filter"))?;
        self.filter
            .reload(filter)
            .context("log.level: the logger is gone")?;
        Ok(true)
    }

    /// Opens the log file again by its name: after `mv havre.log havre.log.1`
    /// lines go to a new `havre.log`. On failure lines keep going where they went.
    pub fn reopen(&self) -> anyhow::Result<()> {
        self.file.set(self.file.path().as_deref())
    }

    /// Sends the lines to `path` from now on (None: `log.output` only).
    pub fn set_file(&self, path: Option<&Path>) -> anyhow::Result<()> {
        self.file.set(path)
    }

    /// The file lines go to, if any.
    pub fn file(&self) -> Option<PathBuf> {
        self.file.path()
    }
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
/// commands run beside it never interleave within a line), and replaceable
/// while lines are written: a line is one `write` under the lock, so a
/// reopen never splits one.
#[derive(Clone, Default)]
struct LogFile(Arc<Mutex<OpenLog>>);

#[derive(Default)]
struct OpenLog {
    path: Option<PathBuf>,
    file: Option<File>,
    /// Opening at the first line failed (command line): not tried again.
    given_up: bool,
}

impl LogFile {
    /// The file of a command line: opened now if it exists, since a command
    /// run as root acts as `server.user` afterwards and the file serve opened
    /// as root may be root's; created at the first line otherwise.
    fn later(path: Option<PathBuf>) -> LogFile {
        let file = path
            .as_deref()
            .and_then(|path| OpenOptions::new().append(true).open(path).ok());
        LogFile(Arc::new(Mutex::new(OpenLog {
            path,
            file,
            given_up: false,
        })))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OpenLog> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn path(&self) -> Option<PathBuf> {
        self.lock().path.clone()
    }

    /// Opens `path` now and sends the lines there; on failure nothing changes.
    fn set(&self, path: Option<&Path>) -> anyhow::Result<()> {
        let file = path
            .map(|path| {
                open_append(path)
                    .with_context(|| format!("log.file: cannot open {}", path.display()))
            })
            .transpose()?;
        let mut current = self.lock();
        current.path = path.map(Path::to_path_buf);
        current.file = file;
        current.given_up = false;
        Ok(())
    }

    fn append(&self, bytes: &[u8]) {
        let mut current = self.lock();
        if current.file.is_none()
            && !current.given_up
            && let Some(path) = current.path.clone()
        {
            match open_append(&path) {
                Ok(opened) => current.file = Some(opened),
                Err(err) => {
                    current.given_up = true;
                    eprintln!(
                        "havre: warning: cannot append to the log file {}: {err}",
                        path.display()
                    );
                }
            }
        }
        if let Some(file) = current.file.as_mut() {
            let _ = file.write_all(bytes);
        }
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}
