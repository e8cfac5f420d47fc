//! What a run decided: the actions in order, whether the implicit keep
//! applies, header edits and duplicate marks; and their `sieve-test`-like text.

use std::fmt;

/// One action to carry out, in the order the script gave them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Store into INBOX (RFC 5228 §4.3) with these IMAP flags (RFC 5232).
    Keep { flags: Vec<String> },
    /// Store into `mailbox` (UTF-8, `/`-separated as the user wrote it);
    /// `create` when missing (RFC 5490 §3.2); `copy`: did not cancel the
    /// implicit keep (RFC 3894).
    FileInto {
        mailbox: String,
        flags: Vec<String>,
        create: bool,
        copy: bool,
    },
    /// Send the message on, unchanged, to `address` (RFC 5228 §4.2).
    Redirect { address: String, copy: bool },
    /// Cancel the implicit keep and nothing else (RFC 5228 §4.4).
    Discard,
    /// Refuse the message with `reason` (RFC 5429): `extended` (ereject)
    /// prefers an SMTP refusal to a bounce.
    Reject { reason: String, extended: bool },
    /// Answer the sender (RFC 5230).
    Vacation(Vacation),
}

/// A vacation response, all its parameters resolved. Whether to send it is
/// the host's decision from here (RFC 5230 §4.5 and §5: not to the null
/// sender, lists, auto-submitted mail, mailer daemons; only when the
/// user's address is in To/Cc; at most once per `period` per sender and
/// handle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vacation {
    pub reason: String,
    pub subject: Option<String>,
    pub from: Option<String>,
    /// The user's other addresses (`:addresses`).
    pub addresses: Vec<String>,
    /// The reason is a MIME entity (`:mime`).
    pub mime: bool,
    /// `:handle`, or one made from the parameters (RFC 5230 §4.2).
    pub handle: String,
    /// At most one response per sender in this many seconds, within the limits.
    pub period: u64,
}

/// A change of the message's header (RFC 5293), in order; apply them
/// with [`apply_header_edits`](crate::apply_header_edits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderEdit {
    /// Add `name: value` at the top, or the bottom with `last`.
    Add {
        name: String,
        value: String,
        last: bool,
    },
    /// Delete the `occurrence`th field called `name` (from 1, counted
    /// from the top of the header as it is when this edit applies).
    Delete { name: String, occurrence: usize },
}

/// An id the duplicate tracking store should remember once the actions
/// are done (RFC 7352 §3): insert it for `seconds` when missing or
/// expired; with `last`, renew it for `seconds` when present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateMark {
    pub handle: String,
    pub id: String,
    pub seconds: u64,
    pub last: bool,
}

/// The result of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub actions: Vec<Action>,
    /// No action cancelled the implicit keep (RFC 5228 §2.10.2): store into
    /// INBOX with [`keep_flags`](Self::keep_flags).
    pub implicit_keep: bool,
    /// The flags the implicit keep stores with (RFC 5232 §3: the internal
    /// variable as it is at the end).
    pub keep_flags: Vec<String>,
    pub header_edits: Vec<HeaderEdit>,
    pub duplicates: Vec<DuplicateMark>,
}

impl Outcome {
    /// The mailboxes the message goes to (INBOX for keep and the implicit
    /// keep), each with its flags and whether to create it.
    pub fn deliveries(&self) -> Vec<(&str, &[String], bool)> {
        let mut out: Vec<(&str, &[String], bool)> = Vec::new();
        for action in &self.actions {
            match action {
                Action::Keep { flags } => out.push(("INBOX", flags, false)),
                Action::FileInto {
                    mailbox,
                    flags,
                    create,
                    ..
                } => out.push((mailbox, flags, *create)),
                _ => {}
            }
        }
        if self.implicit_keep && !out.iter().any(|(m, _, _)| m.eq_ignore_ascii_case("INBOX")) {
            out.push(("INBOX", &self.keep_flags, false));
        }
        out
    }
}

fn write_flags(f: &mut fmt::Formatter<'_>, flags: &[String]) -> fmt::Result {
    if !flags.is_empty() {
        write!(f, " (flags: {})", flags.join(" "))?;
    }
    Ok(())
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Keep { flags } => {
                f.write_str("keep")?;
                write_flags(f, flags)
            }
            Action::FileInto {
                mailbox,
                flags,
                create,
                copy,
            } => {
                write!(f, "fileinto {mailbox:?}")?;
                write_flags(f, flags)?;
                if *create {
                    f.write_str(" :create")?;
                }
                if *copy {
                    f.write_str(" :copy")?;
                }
                Ok(())
            }
            Action::Redirect { address, copy } => {
                write!(f, "redirect {address:?}")?;
                if *copy {
                    f.write_str(" :copy")?;
                }
                Ok(())
            }
            Action::Discard => f.write_str("discard"),
            Action::Reject { reason, extended } => {
                let name = if *extended { "ereject" } else { "reject" };
                write!(f, "{name} {reason:?}")
            }
            Action::Vacation(v) => {
                write!(f, "vacation (period {}s, handle {:?}", v.period, v.handle)?;
                if let Some(subject) = &v.subject {
                    write!(f, ", subject {subject:?}")?;
                }
                if let Some(from) = &v.from {
                    write!(f, ", from {from:?}")?;
                }
                if !v.addresses.is_empty() {
                    write!(f, ", addresses {:?}", v.addresses)?;
                }
                if v.mime {
                    f.write_str(", mime")?;
                }
                write!(f, ") {:?}", v.reason)
            }
        }
    }
}

impl fmt::Display for HeaderEdit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderEdit::Add { name, value, last } => {
                write!(
                    f,
                    "addheader{} {name:?} {value:?}",
                    if *last { " :last" } else { "" }
                )
            }
            HeaderEdit::Delete { name, occurrence } => {
                write!(f, "deleteheader {name:?} (occurrence {occurrence})")
            }
        }
    }
}

/// One line per action, then the implicit keep, header edits and
/// duplicate marks, as `havre sieve test` prints them.
impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for action in &self.actions {
            writeln!(f, "{action}")?;
        }
        if self.implicit_keep {
            f.write_str("implicit keep")?;
            write_flags(f, &self.keep_flags)?;
            writeln!(f)?;
        }
        for edit in &self.header_edits {
            writeln!(f, "{edit}")?;
        }
        for mark in &self.duplicates {
            writeln!(
                f,
                "duplicate mark {:?} {:?} for {}s{}",
                mark.handle,
                mark.id,
                mark.seconds,
                if mark.last { " (last)" } else { "" }
            )?;
        }
        Ok(())
    }
}
