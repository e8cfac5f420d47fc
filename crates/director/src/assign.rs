//! Which backend serves a user: the assignment kept in the shared state,
//! or, when she has none (or hers points at a backend that failed or was
//! flushed), the ring's pick, claimed atomically so that two directors
//! placing her at once agree. An assignment lasts `director.user_expire`
//! after her last connection ends (Dovecot's `director_user_expire`):
//! while it lasts, no change of weights or backend coming back splits her
//! sessions over two backends.
//!
//! Keys: `director:user:USER` (lowercase) = the backend's address.

use std::time::{Duration, SystemTime};

use havre_state::{Persist, State};

use crate::backends::{self, Backend};
use crate::ring::{Member, Ring};
use crate::{DirectorError, Result};

const USER: &str = "director:user:";

fn key(user: &str) -> String {
    format!("{USER}{}", user.to_lowercase())
}

/// How a login's backend was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Her assignment, renewed.
    Kept,
    /// Placed by the ring: she had no assignment, or hers pointed at a
    /// backend that cannot serve her now.
    Placed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub backend: String,
    pub why: Why,
}

/// The ring of the backends that take new users.
pub fn ring(backends: &[Backend]) -> Ring {
    Ring::new(
        backends
            .iter()
            .filter(|b| b.takes_new_users())
            .map(|b| Member {
                address: &b.address,
                weight: b.weight,
            }),
    )
}

/// The backend for a login of `user`, assigned to her for `expire`.
pub async fn place(state: &dyn State, user: &str, expire: Duration) -> Result<Placement> {
    let key = key(user);
    let backends = backends::list(state).await?;
    let serves = |address: &str| backends.iter().any(|b| b.address == address && b.healthy());
    let mut current = state.get(&key).await?;
    // A few rounds at most: each lost race means another director placed
    // her meanwhile, and its choice is taken unless it is void too.
    for _ in 0..3 {
        if let Some(address) = &current
            && serves(address)
        {
            let kept = state
                .claim(&key, address, Some(address), Some(expire), Persist::Memory)
                .await?;
            if &kept == address {
                return Ok(Placement {
                    backend: kept,
                    why: Why::Kept,
                });
            }
            current = Some(kept);
            continue;
        }
        let ring = ring(&backends);
        let Some(pick) = ring.pick(user) else {
            return Err(DirectorError::NoBackend);
        };
        let got = state
            .claim(
                &key,
                pick,
                current.as_deref(),
                Some(expire),
                Persist::Memory,
            )
            .await?;
        if got == pick {
            return Ok(Placement {
                backend: got,
                why: Why::Placed,
            });
        }
        current = Some(got);
    }
    Err(DirectorError::Contended(user.to_string()))
}

/// Renews `user`'s assignment to `backend` for `expire` from now (a
/// session of hers ended, or is still open), unless she was moved since.
pub async fn renew(state: &dyn State, user: &str, backend: &str, expire: Duration) -> Result<()> {
    let key = key(user);
    let held = state
        .claim(&key, backend, Some(backend), Some(expire), Persist::Memory)
        .await?;
    if held != backend {
        tracing::debug!(target: "director", "user=<{user}> moved to {held} meanwhile");
    }
    Ok(())
}

/// Assigns `user` to `backend` whatever she had (`havre director move`).
pub async fn assign(state: &dyn State, user: &str, backend: &str, expire: Duration) -> Result<()> {
    Ok(state
        .set(&key(user), backend, Some(expire), Persist::Memory)
        .await?)
}

/// One user's assignment, as `havre director map` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub user: String,
    pub backend: String,
    pub expires_at: Option<SystemTime>,
}

/// Every assignment (the keys of every user placed and not expired).
pub async fn all(state: &dyn State) -> Result<Vec<Assignment>> {
    Ok(state
        .list(USER)
        .await?
        .into_iter()
        .map(|entry| Assignment {
            user: entry.key[USER.len()..].to_string(),
            backend: entry.value,
            expires_at: entry.expires_at,
        })
        .collect())
}

/// `user`'s assignment, if she has one.
pub async fn of(state: &dyn State, user: &str) -> Result<Option<Assignment>> {
    let key = key(user);
    Ok(state
        .list(&key)
        .await?
        .into_iter()
        .find(|entry| entry.key == key)
        .map(|entry| Assignment {
            user: entry.key[USER.len()..].to_string(),
            backend: entry.value,
            expires_at: entry.expires_at,
        }))
}

/// Drops the assignments to `backend`; returns the users who had one.
/// Each is removed only if it still names `backend` (one placed elsewhere
/// meanwhile stays).
pub async fn release_backend(state: &dyn State, backend: &str) -> Result<Vec<String>> {
    let mut users = Vec::new();
    for assignment in all(state).await? {
        if assignment.backend != backend {
            continue;
        }
        // Replaced by nothing that lasts a millisecond, if it is still the
        // value seen (a delete could remove a placement made meanwhile).
        let held = state
            .claim(
                &key(&assignment.user),
                "",
                Some(backend),
                Some(Duration::from_millis(1)),
                Persist::Memory,
            )
            .await?;
        if held.is_empty() {
            users.push(assignment.user);
        }
    }
    Ok(users)
}
