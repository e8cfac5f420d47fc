//! One event as the outputs write it: its program name and its text.

use std::fmt::Write as _;

use tracing::field::{Field, Visit};
use tracing::{Event, Level};

pub(super) struct Line {
    /// `smtpd`, `qmgr`, `imap-login`...: the event's `role`, else its target
    /// without the `havre_` prefix and the module path.
    pub program: String,
    pub level: Level,
    /// `warning: ` (for warnings and errors), the message, then any other
    /// fields as ` name=value`; on one line.
    pub text: String,
}

impl Line {
    pub fn of(event: &Event<'_>) -> Line {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        let program = fields.role.unwrap_or_else(|| {
            let target = meta.target().trim_start_matches("havre_");
            target.split("::").next().unwrap_or(target).to_string()
        });
        let severity = match *meta.level() {
            Level::ERROR => "error: ",
            Level::WARN => "warning: ",
            Level::DEBUG => "debug: ",
            Level::TRACE => "trace: ",
            Level::INFO => "",
        };
        let text = one_line(&format!("{severity}{}{}", fields.message, fields.extra));
        Line {
            program: sanitize_program(&program),
            level: *meta.level(),
            text,
        }
    }

    /// The syslog severity (RFC 5424 6.2.1).
    pub fn severity(&self) -> u8 {
        match self.level {
            Level::ERROR => 3,
            Level::WARN => 4,
            Level::INFO => 6,
            Level::DEBUG | Level::TRACE => 7,
        }
    }
}

/// Control characters (a CR or LF a client slipped into a name) become
/// spaces: an event is one line, and no text can start a forged one.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
        .collect()
}

/// A program name is one word of a syslog tag: no spaces, brackets or colons.
fn sanitize_program(program: &str) -> String {
    program
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::{one_line, sanitize_program};

    #[test]
    fn a_line_break_in_client_text_cannot_start_a_forged_line() {
        assert_eq!(
            one_line("helo=<x\r\n2026-01-01T00:00:00Z h havre/smtpd[1]: forged>"),
            "helo=<x  2026-01-01T00:00:00Z h havre/smtpd[1]: forged>"
        );
    }

    #[test]
    fn a_program_name_is_one_word_of_a_syslog_tag() {
        assert_eq!(sanitize_program("submission/smtpd"), "submission/smtpd");
        assert_eq!(sanitize_program("a b[1]:"), "a_b_1__");
    }
}
