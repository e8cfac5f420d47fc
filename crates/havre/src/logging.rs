//! Log lines an operator can follow, in the spirit of Postfix's:
//!
//! `2026-11-23T01:55:30.123Z mail.example.test havre/mx[4242]: 0192A3F4C1D2E3F4: client=unknown[192.0.2.1]`
//!
//! The program part is the role (`mx`, `lmtp`, `relay`...): the event's `role`
//! field when it has one, else its target. Warnings and errors say so after the
//! colon, as Postfix's `warning:` lines do. Lines go to stderr and, when
//! `log.file` is set, are appended to that file too. A reload changes the
//! level and reopens the file ([`LogControl`]), as logrotate expects.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Context;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::registry::Registry;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, reload};

struct PostfixStyle {
    hostname: String,
    pid: u32,
}

#[derive(Default)]
struct Fields {
    role: Option<String>,
    message: String,
    extra: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "role" => self.role = Some(value.to_string()),
            "message" => self.message.push_str(value),
            name => {
                let _ = write!(self.extra, " {name}={value}");
            }
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => {
                let _ = write!(self.message, "{value:?}");
            }
            "role" => self.role = Some(format!("{value:?}")),
            name => {
                let _ = write!(self.extra, " {name}={value:?}");
            }
        }
    }
}

impl<S, N> FormatEvent<S, N> for PostfixStyle
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        let program = fields
            .role
            .as_deref()
            .unwrap_or_else(|| meta.target().trim_start_matches("havre_"));
        let severity = match *meta.level() {
            Level::ERROR => "error: ",
            Level::WARN => "warning: ",
            Level::DEBUG => "debug: ",
            Level::TRACE => "trace: ",
            Level::INFO => "",
        };
        writeln!(
            writer,
            "{} {} havre/{}[{}]: {severity}{}{}",
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ"),
            self.hostname,
            program,
            self.pid,
            fields.message,
            fields.extra
        )
    }
}

/// What a reload changes in the logging: the filter (`log.level`) and the
/// file (`log.file`), reopened after logrotate renamed it.
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
        let path = self.file.path();
        self.set_file(path.as_deref())
    }

    /// Sends the lines to `path` from now on (None: stderr only).
    pub fn set_file(&self, path: Option<&Path>) -> anyhow::Result<()> {
        let file = path.map(open).transpose()?;
        let mut current = self.file.0.lock().unwrap_or_else(|e| e.into_inner());
        current.path = path.map(Path::to_path_buf);
        current.file = file;
        Ok(())
    }

    /// The file lines go to, if any.
    pub fn file(&self) -> Option<PathBuf> {
        self.file.path()
    }
}

fn open(path: &Path) -> anyhow::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("log.file: cannot open {}", path.display()))
}

/// The log file, replaceable while lines are written: one line is one
/// `write` under the lock, so a reopen never splits a line.
#[derive(Clone, Default)]
struct LogFile(Arc<Mutex<OpenLog>>);

#[derive(Default)]
struct OpenLog {
    path: Option<PathBuf>,
    file: Option<File>,
}

impl LogFile {
    fn path(&self) -> Option<PathBuf> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .path
            .clone()
    }
}

impl<'a> MakeWriter<'a> for LogFile {
    type Writer = LogFileWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LogFileWriter(self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

struct LogFileWriter<'a>(MutexGuard<'a, OpenLog>);

impl Write for LogFileWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.0.file {
            Some(file) => file.write(buf),
            None => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.0.file {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

/// Installs the global subscriber. `level` is `log.level` (a tracing filter);
/// `$HAVRE_LOG` overrides it for a debugging session.
pub fn init(level: &str, file: Option<&Path>, hostname: &str) -> anyhow::Result<LogControl> {
    let env = std::env::var("HAVRE_LOG").ok();
    let directives = env.clone().unwrap_or_else(|| level.to_string());
    let filter = EnvFilter::try_new(&directives)
        .with_context(|| format!("log.level: {directives:?} is not a valid filter"))?;
    let (filter, handle) = reload::Layer::new(filter);
    let style = || PostfixStyle {
        hostname: hostname.to_string(),
        pid: std::process::id(),
    };
    let stderr = tracing_subscriber::fmt::layer()
        .event_format(style())
        .with_writer(std::io::stderr);
    let log_file = LogFile::default();
    let control = LogControl {
        filter: handle,
        file: log_file.clone(),
        overridden: env.is_some(),
    };
    control.set_file(file)?;
    let file_layer = tracing_subscriber::fmt::layer()
        .event_format(style())
        .with_ansi(false)
        .with_writer(log_file);
    tracing_subscriber::registry()
        .with(filter)
        .with(stderr)
        .with(file_layer)
        .try_init()
        .context("logging already initialised")?;
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
