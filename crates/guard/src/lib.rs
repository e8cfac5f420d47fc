//! The guard: Fail2ban's job inside havre.
//!
//! Every protocol reports what a client does wrong to one [`Guard`] per
//! node: failed logins (SMTP AUTH, IMAP, POP3), recipients answered 550
//! 5.1.1 (a dictionary attack), bad commands, and each connection. Per
//! client address these are counted in the shared [`State`] (keys
//! `guard:...`, in memory: a restart forgives), over `find_time` from the
//! first one (an hour for connections). An address that reaches a limit is
//! banned for `ban_time`: a durable key `ban:<ip>` with that time to live,
//! so a ban outlives a restart and ends by itself. Its counters start
//! again from zero.
//!
//! A banned address is refused when it connects, before any session starts:
//! each role's gate asks the guard ([`havre_net::Screen`]), which answers
//! from a map in memory (one lookup), never from the state. The map follows
//! the state: a ban made here goes in at once, one made by `havre ban add`
//! (or another node) comes in at the next [`Guard::refresh`], every second.
//!
//! What it promises: an address in `guard.exempt` is never counted nor
//! refused; a disabled guard counts nothing and refuses no one; a state
//! that fails to count is logged and lets the client through (the guard
//! never takes the service down with it); a ban the state could not save
//! still applies in this process until it ends.
//!
//! [`State`]: havre_state::State

#![forbid(unsafe_code)]

mod bans;
mod from_config;
mod guard;
mod settings;

pub use bans::{Ban, add_ban, list_bans, remove_ban};
pub use from_config::settings_from_config;
pub use guard::Guard;
pub use settings::{GuardSettings, Offence, Service};
