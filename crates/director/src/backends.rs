//! The backends the directors send users to, kept in the shared state so
//! every director sees the same list (`havre director add|remove|up|down|
//! weight`), and what the probes found of them.
//!
//! Keys (under `state.prefix`):
//! - `director:backends` = one line per backend, `ADDRESS weight=N
//!   admin=up|down`: the operator's word, durable (the embedded state's
//!   file, Redis's persistence), changed by compare-and-set
//!   ([`State::claim`]). One key, not one per backend: a director reads it
//!   every second, and listing keys by prefix walks the whole keyspace
//!   (every user's assignment with it).
//! - `director:health:ADDRESS` = why a probe failed: set by the director
//!   whose probe failed, for a few probe intervals and again at each failed
//!   probe; removed by the first probe that succeeds. Every director reads
//!   it (one GET per backend), so they agree on who is down.

use std::time::Duration;

use havre_state::{Persist, State};

use crate::{DirectorError, Result};

const BACKENDS: &str = "director:backends";
const HEALTH: &str = "director:health:";

/// Dovecot's default vhost count.
pub const DEFAULT_WEIGHT: u32 = 100;

/// The operator's word on a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admin {
    /// Takes new users.
    Up,
    /// Takes no new user; its users stay until their assignment expires
    /// (`havre director down`), or were moved away (`flush`).
    Down,
}

/// One backend as the directors see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    pub address: String,
    pub weight: u32,
    pub admin: Admin,
    /// Why the last probe failed; `None`: it answered (or was not probed
    /// yet).
    pub failed: Option<String>,
}

impl Backend {
    /// Whether it may serve users at all (assigned ones included).
    pub fn healthy(&self) -> bool {
        self.failed.is_none()
    }

    /// Whether the ring gives it new users.
    pub fn takes_new_users(&self) -> bool {
        self.healthy() && self.admin == Admin::Up && self.weight > 0
    }
}

/// A backend's name: an IP address or a host name, as an operator types
/// it (`havre director add 127.0.0.2`), compared without case.
pub fn normalize_address(address: &str) -> Result<String> {
    let address = address.trim().to_ascii_lowercase();
    let valid = !address.is_empty()
        && address.len() <= 253
        && (address.parse::<std::net::IpAddr>().is_ok()
            || address.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            }));
    if valid {
        Ok(address)
    } else {
        Err(DirectorError::InvalidAddress(address))
    }
}

fn render(records: &[(String, u32, Admin)]) -> String {
    records
        .iter()
        .map(|(address, weight, admin)| {
            let admin = match admin {
                Admin::Up => "up",
                Admin::Down => "down",
            };
            format!("{address} weight={weight} admin={admin}\n")
        })
        .collect()
}

/// The lines `ADDRESS weight=N admin=up|down`; a field a line lacks keeps
/// its default.
fn parse(text: &str) -> Vec<(String, u32, Admin)> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let address = fields.next()?.to_string();
            let mut weight = DEFAULT_WEIGHT;
            let mut admin = Admin::Up;
            for field in fields {
                match field.split_once('=') {
                    Some(("weight", n)) => weight = n.parse().unwrap_or(DEFAULT_WEIGHT),
                    Some(("admin", "down")) => admin = Admin::Down,
                    _ => {}
                }
            }
            Some((address, weight, admin))
        })
        .collect()
}

/// Every backend, sorted by address, with what the probes found.
pub async fn list(state: &dyn State) -> Result<Vec<Backend>> {
    let records = parse(&state.get(BACKENDS).await?.unwrap_or_default());
    let mut out = Vec::with_capacity(records.len());
    for (address, weight, admin) in records {
        let failed = state.get(&format!("{HEALTH}{address}")).await?;
        out.push(Backend {
            address,
            weight,
            admin,
            failed,
        });
    }
    out.sort_by(|a, b| a.address.cmp(&b.address));
    Ok(out)
}

/// The backend named `address`, if the directors know it.
pub async fn get(state: &dyn State, address: &str) -> Result<Option<Backend>> {
    Ok(list(state)
        .await?
        .into_iter()
        .find(|b| b.address == address))
}

/// Changes the list with `edit`, written only if nobody changed it
/// meanwhile (else read again and edited again).
async fn edit(
    state: &dyn State,
    edit: impl Fn(&mut Vec<(String, u32, Admin)>) -> bool,
) -> Result<bool> {
    for _ in 0..20 {
        let before = state.get(BACKENDS).await?;
        let mut records = parse(before.as_deref().unwrap_or(""));
        if !edit(&mut records) {
            return Ok(false);
        }
        let after = render(&records);
        let held = state
            .claim(BACKENDS, &after, before.as_deref(), None, Persist::Durable)
            .await?;
        if held == after {
            return Ok(true);
        }
    }
    Err(DirectorError::Contended(BACKENDS.to_string()))
}

/// Adds a backend (or changes one already known).
pub async fn put(state: &dyn State, address: &str, weight: u32, admin: Admin) -> Result<()> {
    edit(state, |records| {
        records.retain(|(a, _, _)| a != address);
        records.push((address.to_string(), weight, admin));
        records.sort_by(|a, b| a.0.cmp(&b.0));
        true
    })
    .await?;
    Ok(())
}

/// Forgets a backend; whether it was known.
pub async fn remove(state: &dyn State, address: &str) -> Result<bool> {
    state.delete(&format!("{HEALTH}{address}")).await?;
    edit(state, |records| {
        let before = records.len();
        records.retain(|(a, _, _)| a != address);
        records.len() != before
    })
    .await
}

/// Records a failed probe of `address` (`why`), kept for `ttl` unless a
/// probe fails again.
pub async fn mark_failed(state: &dyn State, address: &str, why: &str, ttl: Duration) -> Result<()> {
    let key = format!("{HEALTH}{address}");
    Ok(state.set(&key, why, Some(ttl), Persist::Memory).await?)
}

/// Records a probe that succeeded: whether the backend was marked failed.
pub async fn mark_answering(state: &dyn State, address: &str) -> Result<bool> {
    Ok(state.delete(&format!("{HEALTH}{address}")).await?)
}
