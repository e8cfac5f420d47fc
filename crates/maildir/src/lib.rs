//! Dovecot-compatible Maildir delivery.
//!
//! The on-disk format is exactly what Dovecot writes, so an admin can point
//! Dovecot at a mailbox havre delivered to, and the other way round.
//!
//! # Layout (Maildir++)
//!
//! The INBOX is the root: `root/{cur,new,tmp}`. Folders are directories
//! beside them named after the IMAP name with '.' between levels: "Sent" is
//! `root/.Sent`, "Lists/foo" is `root/.Lists.foo`, each with its own
//! cur/ new/ tmp/ and an empty `maildirfolder` file. Non-ASCII folder names
//! are stored in modified UTF-7, as Dovecot does. Directories are 0700 and
//! files 0600.
//!
//! # Naming
//!
//! A delivered message is `new/<unix secs>.<unique>.<hostname>,S=<size>,W=<vsize>`:
//! `unique` is chosen by the caller (derived from its queue id, so that a
//! retry after a crash produces the same name), `hostname` is escaped as
//! Dovecot does ('/' → `\057`, ':' → `\072`; we also turn ',' into `\054`),
//! `S=` is the size on disk and `W=` the RFC 822 size with CRLF line
//! endings. Once seen, the file moves to cur/ with `:2,<flags>` appended
//! (by havre or by Dovecot); [`parse_name`] reads all those fields back.
//!
//! # Flags and control files
//!
//! Dovecot keeps a message's flags in its file name, `:2,` then the letters
//! sorted (`D`raft, `F`lagged, `R`eplied, `S`een, `T`rashed, and `a`..`z`
//! for the keywords listed in the folder's `dovecot-keywords`);
//! [`with_flags`] writes them. Beside the messages each folder has
//! `dovecot-uidlist` (UIDVALIDITY, next UID and each file's UID) and the root
//! has `subscriptions`. This crate reads and writes those files in Dovecot's
//! formats, each change under Dovecot's dot-lock (`<file>.lock`) and made
//! durable: a new version is written beside, fsynced and renamed over the
//! old; an append to `dovecot-uidlist` is fsynced.
//!
//! # What `deliver` guarantees
//!
//! The message (with LF line endings, as Dovecot stores it) is written to
//! tmp/, the file is fsynced, renamed into new/, and new/ is fsynced before
//! [`Maildir::deliver`] returns `Ok`: after `Ok`, the message survives a
//! crash. new/ never holds a partial file; on `Err` the tmp file has been
//! removed. [`Maildir::find_delivered`] tells whether a message with a given
//! unique part is already in new/ or cur/, so a caller recovering from a
//! crash delivers nothing twice.
//!
//! # What it refuses
//!
//! A `unique` that is empty or has '/', ':', ',', '.' or control characters
//! (it would make the name ambiguous or escape the directory), a host name
//! that is empty or has control characters, and folder names with empty
//! levels, '.', control characters, or that are "INBOX" itself.
//!
//! The crate is synchronous std code; async callers run it in
//! `spawn_blocking`. It is Unix-only (file modes, directory fsync).

mod crlf;
mod deliver;
mod dotlock;
mod error;
mod folder;
mod fs;
mod keywords;
mod maildir;
mod name;
mod subscriptions;
mod uidlist;

pub use dotlock::FileId;
pub use error::MaildirError;
pub use folder::{folder_name, utf8_folder_name};
pub use keywords::{KEYWORDS, Keywords, MAX_KEYWORDS};
pub use maildir::{Maildir, stable_part};
pub use name::{MaildirName, parse_name, unique_of, with_flags};
pub use subscriptions::{SUBSCRIPTIONS, parse_subscriptions, render_subscriptions};
pub use uidlist::{UIDLIST, Uidlist, UidlistHeader, UidlistRecord};
