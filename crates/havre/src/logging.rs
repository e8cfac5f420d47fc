//! Log lines an operator can follow, in the spirit of Postfix's:
//!
//! `2026-11-23T01:55:30.123Z mail.example.test havre/mx[4242]: 0192A3F4C1D2E3F4: client=unknown[192.0.2.1]`
//!
//! The program part is the role (`mx`, `lmtp`, `relay`...): the event's `role`
//! field when it has one, else its target. Warnings and errors say so after the
//! colon, as Postfix's `warning:` lines do. Lines go to stderr and, when
//! `log.file` is set, are appended to that file too.

use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Mutex;

use anyhow::Context;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

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

/// Installs the global subscriber. `level` is `log.level` (a tracing filter);
/// `$HAVRE_LOG` overrides it for a debugging session.
pub fn init(level: &str, file: Option<&Path>, hostname: &str) -> anyhow::Result<()> {
    let directives = std::env::var("HAVRE_LOG").unwrap_or_else(|_| level.to_string());
    let filter = EnvFilter::try_new(&directives)
        .with_context(|| format!("log.level: {directives:?} is not a valid filter"))?;
    let style = || PostfixStyle {
        hostname: hostname.to_string(),
        pid: std::process::id(),
    };
    let stderr = tracing_subscriber::fmt::layer()
        .event_format(style())
        .with_writer(std::io::stderr);
    let file_layer = match file {
        Some(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("log.file: cannot open {}", path.display()))?;
            Some(
                tracing_subscriber::fmt::layer()
                    .event_format(style())
                    .with_ansi(false)
                    .with_writer(Mutex::new(file)),
            )
        }
        None => None,
    };
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
    Ok(())
}
