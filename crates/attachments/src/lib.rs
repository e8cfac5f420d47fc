//! Attachment rules, a check of the pipeline at the end of DATA (Amavis'
//! banned files, Rspamd's bad extensions): a message carrying a file whose
//! name or type is refused is refused while the client is connected
//! (`554 5.7.1 Attachment refused: invoice.exe (executable)`), or accepted
//! and held in the queue (the quarantine) when so configured.
//!
//! A file is refused ([`Rules::refused`]) when, in this order:
//!
//! 1. its content is of a refused type, whatever its name and declared
//!    type say (the first bytes of a Windows executable under `invoice.pdf`
//!    sent as `application/pdf`): the strongest evidence, and what a lying
//!    sender cannot hide;
//! 2. its name's last extension is refused (`invoice.pdf.exe` is an exe;
//!    trailing dots and spaces are ignored, as Windows ignores them);
//! 3. its declared MIME type is refused.
//!
//! The files inside zip archives (and zips inside those, as deep as the
//! analysis goes) are judged by their names and contents the same way.
//!
//! The message is read by `havre-content`'s one bounded analysis, on a
//! blocking thread: whatever the message (a zip bomb, 100,000 parts), the
//! check's time and memory are bounded, and it never fails the delivery.

#![forbid(unsafe_code)]

mod check;
mod rules;

pub use check::{Action, AttachmentCheck};
pub use rules::{Refused, Rules, Why};
