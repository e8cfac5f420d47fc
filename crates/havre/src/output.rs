//! How list and show commands print: text for people, JSON (`--json`) for
//! scripts. Each command builds one value that knows both forms, so the two
//! never say different things; lists are JSON arrays, shows objects.

use std::io::Write;

use serde::Serialize;

/// A command's answer, printable both ways.
pub trait Report: Serialize {
    /// The text form, as printed without `--json` (lines end with `\n`).
    fn text(&self) -> String;
}

/// Prints `report` as text, or as JSON when `json`.
pub fn print(report: &impl Report, json: bool) -> anyhow::Result<()> {
    let out = if json {
        let mut text = serde_json::to_string_pretty(report)?;
        text.push('\n');
        text
    } else {
        report.text()
    };
    write_stdout(&out)
}

/// Writes to standard output; a reader that went away (`| head`) is not an
/// error worth a message.
pub fn write_stdout(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Unix seconds as RFC 3339 (`2026-11-23T01:57:34Z`), for JSON.
pub fn rfc3339(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}
