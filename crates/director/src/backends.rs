//! The backends the directors send users to, kept in the shared state so
//! every director sees the same list (`havre director add|remove|up|down|
//! weight`), and what the probes found of them.
//!
//! Keys (under `state.prefix`):
//! - `director:backend:ADDRESS` = `weight=N admin=up|down`: the operator's
//!   word, durable (the embedded state's file, Redis's persistence).
//! - `director:health:ADDRESS` = why a probe failed: set by the director
//!   whose probe failed, for a few probe intervals and again at each failed
//!   probe; removed by the first probe that succeeds. Every director reads
//!   it, so they agree on who is down.

use std::time::Duration;

use havre_state::{Persist, State};

use crate::{DirectorError, Result};

const BACKEND: &str = "director:backend:";
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

fn render(weight: u32, admin: Admin) -> String {
    let admin = match admin {
        Admin::Up => "up",
        Admin::Down => "down",
    };
    format!("weight={weight} admin={admin}")
}

/// The record `weight=N admin=up|down`; a field it lacks keeps its default.
fn parse(value: &str) -> (u32, Admin) {
    let mut weight = DEFAULT_WEIGHT;
    let mut admin = Admin::Up;
    for field in value.split_whitespace() {
        match field.split_once('=') {
            Some(("weight", n)) => weight = n.parse().unwrap_or(DEFAULT_WEIGHT),
            Some(("admin", "down")) => admin = Admin::Down,
            _ => {}
        }
    }
    (weight, admin)
}

/// Every backend, sorted by address, with what the probes found.
pub async fn list(state: &dyn State) -> Result<Vec<Backend>> {
    let records = state.list(BACKEND).await?;
    let health = state.list(HEALTH).await?;
    Ok(records
        .into_iter()
        .map(|entry| {
            let address = entry.key[BACKEND.len()..].to_string();
            let (weight, admin) = parse(&entry.value);
            let failed = health
                .iter()
                .find(|h| h.key[HEALTH.len()..] == address)
                .map(|h| h.value.clone());
            Backend {
                address,
                weight,
                admin,
                failed,
            }
        })
        .collect())
}

/// The backend named `address`, if the directors know it.
pub async fn get(state: &dyn State, address: &str) -> Result<Option<Backend>> {
    Ok(list(state)
        .await?
        .into_iter()
        .find(|b| b.address == address))
}

/// Adds a backend (or changes one already known).
pub async fn put(state: &dyn State, address: &str, weight: u32, admin: Admin) -> Result<()> {
    let key = format!("{BACKEND}{address}");
    Ok(state
        .set(&key, &render(weight, admin), None, Persist::Durable)
        .await?)
}

/// Forgets a backend; whether it was known.
pub async fn remove(state: &dyn State, address: &str) -> Result<bool> {
    state.delete(&format!("{HEALTH}{address}")).await?;
    Ok(state.delete(&format!("{BACKEND}{address}")).await?)
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
