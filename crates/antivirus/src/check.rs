//! The antivirus check of the pipeline, at the end of DATA: the message
//! sent to clamd while the client waits for its reply.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use havre_checks::{Check, Facts, Finding, Stage, Verdict};

use crate::clamd::{Clamd, ClamdError, Endpoint, Found};

/// The header of a message clamd scanned and found clean.
pub const SCANNED_HEADER: &str = "X-Virus-Scanned";

/// The header of a message accepted without a scan (`on_error = accept`).
pub const NOT_SCANNED_HEADER: &str = "X-Virus-Scan";

/// What to do with a message when clamd gives no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// `451 4.7.0`: the client keeps the message and tries again later.
    Defer,
    /// Accepted, marked `X-Virus-Scan: not scanned (...)`, a warning
    /// logged: mail keeps flowing while clamd is away.
    Accept,
}

/// What the check needs from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub clamd: Endpoint,
    /// The longest a scan may take, connection included.
    pub timeout: Duration,
    /// Bytes of a message sent to clamd at most; a longer message has its
    /// first `max_size` bytes scanned, and says so in its header.
    pub max_size: usize,
    pub on_error: OnError,
    /// This node's name, in the header of a scanned message (several hops
    /// may each scan).
    pub hostname: String,
}

/// Each message scanned by clamd: a virus is refused with its name
/// (`554 5.7.1 Virus found: Eicar-Signature`), a clean message marked
/// `X-Virus-Scanned: ClamAV at HOST`, and a clamd that does not answer
/// (down, timeout, its own error) defers the message or lets it through
/// marked, as [`OnError`] says.
pub struct Antivirus {
    clamd: Clamd,
    settings: Settings,
}

impl Antivirus {
    pub fn new(settings: Settings) -> Antivirus {
        Antivirus {
            clamd: Clamd::new(settings.clamd.clone(), settings.timeout),
            settings,
        }
    }

    fn not_scanned(&self, facts: &Facts, err: &ClamdError) -> Verdict {
        let queue_id = facts.queue_id.as_deref().unwrap_or("NOQUEUE");
        match self.settings.on_error {
            OnError::Defer => {
                Verdict::defer(451, "4.7.0", "Virus scanner unavailable, try again later")
                    .verbatim()
                    .because(err.to_string())
            }
            OnError::Accept => {
                tracing::warn!(target: "checks", "{queue_id}: antivirus: message accepted without a scan (antivirus.on_error = accept): {err}");
                Verdict::accept()
                    .with_header(
                        NOT_SCANNED_HEADER,
                        format!("not scanned ({})", err.summary()),
                    )
                    .because(format!("not scanned, accepted: {err}"))
            }
        }
    }
}

#[async_trait]
impl Check for Antivirus {
    fn name(&self) -> &str {
        "antivirus"
    }

    fn stages(&self) -> &[Stage] {
        &[Stage::Data]
    }

    async fn check(&self, facts: &Facts) -> Verdict {
        let Some(message) = facts.message.as_deref() else {
            return Verdict::accept().because("no message to scan");
        };
        let sent = message.len().min(self.settings.max_size);
        let started = Instant::now();
        let found = match self.clamd.scan(&message[..sent]).await {
            Ok(found) => found,
            Err(err) => return self.not_scanned(facts, &err),
        };
        let took = started.elapsed().as_millis();
        let endpoint = self.clamd.endpoint();
        match found {
            Found::Virus(names) => {
                let names = names.join(", ");
                Verdict::reject(554, "5.7.1", format!("Virus found: {names}"))
                    .verbatim()
                    .found(Finding::Virus(names.clone()))
                    .because(format!(
                        "virus {names} found by clamd at {endpoint} in {ms} ms",
                        ms = took
                    ))
            }
            Found::Clean if sent < message.len() => Verdict::accept()
                .with_header(
                    SCANNED_HEADER,
                    format!(
                        "ClamAV at {} (first {sent} of {} bytes)",
                        self.settings.hostname,
                        message.len()
                    ),
                )
                .because(format!(
                    "clean in its first {sent} of {} bytes (antivirus.max_size), clamd at {endpoint}, {took} ms",
                    message.len()
                )),
            Found::Clean => Verdict::accept()
                .with_header(
                    SCANNED_HEADER,
                    format!("ClamAV at {}", self.settings.hostname),
                )
                .because(format!(
                    "clean, {sent} bytes scanned by clamd at {endpoint} in {took} ms"
                )),
        }
    }
}
