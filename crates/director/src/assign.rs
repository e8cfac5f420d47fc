//! Which backend serves a user: the assignment kept in the shared state,
//! or, when she has none (or hers points at a backend that failed or was
//! flushed), the ring's pick, claimed atomically so that two directors
//! placing her at once agree. An assignment lasts `director.user_expire`
//! after her last connection ends (Dovecot's `director_user_expire`):
//! while it lasts, no change of weights or backend coming back splits her
//! sessions over two backends.
//!
//! While `havre director move` or `flush` closes a user's sessions on
//! every director, her key holds `moving>` and where she goes, for
//! [`MOVE_GRACE`]: a login waits, a delivery is deferred (4xx), so that
//! nothing reaches her new backend while a session on the old one may
//! still write (Dovecot's `director_user_kill_timeout`).
//!
//! Keys: `director:user:USER` (lowercase) = the backend's address, or
//! `moving>ADDRESS` (`moving>`: the ring's pick once it is over).

use std::time::{Duration, SystemTime};

use havre_state::{Persist, State};

use crate::backends::Backend;
use crate::ring::{Member, Ring};
use crate::view::Views;
use crate::{DirectorError, Result};

const USER: &str = "director:user:";

/// The start of a moving user's value.
const MOVING: &str = "moving>";

/// How long a moving user's sessions have to close on every director
/// before she is placed again (Dovecot's `director_user_kill_timeout`).
pub const MOVE_GRACE: Duration = Duration::from_secs(3);

/// How much longer than [`MOVE_GRACE`] the mark of a move to a named
/// backend lives: `havre director move` ends it itself after the grace,
/// and the mark must not lapse first (her waiting logins would take the
/// ring's pick); if the command dies, the mark still goes.
const MOVE_SLACK: Duration = Duration::from_secs(5);

fn key(user: &str) -> String {
    format!("{USER}{}", user.to_lowercase())
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

/// The backend for `user` (a login, a delivery), assigned to her for
/// `expire`: her assignment if it names a backend that serves (renewed
/// when it is the ring's pick too: one round trip), else the ring's pick
/// among the backends that take new users, claimed so that two directors
/// placing her at once agree.
///
/// The view is the one `views` keeps (up to a second and a half old): her
/// assignment is never set aside on it alone. When it says her backend does
/// not serve, the view is read again first, so that a backend back up (or
/// one she was just moved to) a moment ago does not lose her.
pub async fn place(
    state: &dyn State,
    views: &Views,
    user: &str,
    expire: Duration,
) -> Result<String> {
    let key = key(user);
    let mut view = views.get().await?;
    let mut read_again = true;
    let mut replacing: Option<String> = None;
    // A few rounds at most: each lost race means another director placed
    // her meanwhile, and its choice is taken unless it is void too.
    for _ in 0..3 {
        // The claim of her current value renews it; of another, does not.
        let pick = view.ring.pick(user).map(str::to_string);
        let got = match pick.as_deref() {
            Some(pick) => {
                state
                    .claim(
                        &key,
                        pick,
                        replacing.as_deref(),
                        Some(expire),
                        Persist::Memory,
                    )
                    .await?
            }
            // No backend takes new users: only an assignment still serves.
            None => match state.get(&key).await? {
                Some(found) => found,
                None => return Err(DirectorError::NoBackend),
            },
        };
        if got.starts_with(MOVING) {
            return Err(DirectorError::Moving(user.to_string()));
        }
        if !view.serves(&got) && read_again {
            read_again = false;
            view = views.read().await?;
        }
        if view.serves(&got) {
            if pick.as_deref() != Some(got.as_str()) {
                renew(state, user, &got, expire).await?;
            }
            return Ok(got);
        }
        if view.ring.pick(user).is_none() {
            return Err(DirectorError::NoBackend);
        }
        replacing = Some(got);
    }
    Err(DirectorError::Contended(user.to_string()))
}

/// [`place`] for a login: a user who is moving is waited for (her old
/// sessions closing), up to [`MOVE_GRACE`] and a second.
pub async fn place_waiting(
    state: &dyn State,
    views: &Views,
    user: &str,
    expire: Duration,
) -> Result<String> {
    let deadline = tokio::time::Instant::now() + MOVE_GRACE + MOVE_SLACK + Duration::from_secs(1);
    loop {
        match place(state, views, user, expire).await {
            Err(DirectorError::Moving(_)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => return other,
        }
    }
}

/// Where a user whose key holds `value` is moving, if she is (`Some("")`:
/// wherever the ring says).
pub fn moving(value: &str) -> Option<&str> {
    value.strip_prefix(MOVING)
}

/// Starts moving `user` to `to`, whatever she had: see [`MOVE_GRACE`].
/// The caller closes her sessions, waits the grace, then calls
/// [`finish_move`].
pub async fn begin_move(state: &dyn State, user: &str, to: &str) -> Result<()> {
    let moving = format!("{MOVING}{to}");
    let lasts = MOVE_GRACE + MOVE_SLACK;
    Ok(state
        .set(&key(user), &moving, Some(lasts), Persist::Memory)
        .await?)
}

/// Ends `user`'s move to `to` begun by [`begin_move`]: assigned there for
/// `expire`, unless something else was set meanwhile; returns where she
/// is assigned afterwards. (Not called, the mark lapses and she is placed
/// by the ring.)
pub async fn finish_move(
    state: &dyn State,
    user: &str,
    to: &str,
    expire: Duration,
) -> Result<String> {
    let moving = format!("{MOVING}{to}");
    Ok(state
        .claim(&key(user), to, Some(&moving), Some(expire), Persist::Memory)
        .await?)
}

/// Renews `user`'s assignment to `backend` for `expire` from now (a
/// session of hers ended, or is still open), unless she was moved since
/// or her assignment dropped (a flush, a failure: never set again here,
/// or a session that outlived its kick would pin her to the backend she
/// was sent away from); returns the backend she is assigned to
/// afterwards, if any.
pub async fn renew(
    state: &dyn State,
    user: &str,
    backend: &str,
    expire: Duration,
) -> Result<Option<String>> {
    Ok(state.extend(&key(user), backend, expire).await?)
}

/// Assigns `user` to `backend`, where a session of hers is, unless she has
/// an assignment already (the state lost hers: a Redis restarted without
/// it); returns where she is assigned afterwards.
pub async fn restore(
    state: &dyn State,
    user: &str,
    backend: &str,
    expire: Duration,
) -> Result<String> {
    Ok(state
        .claim(&key(user), backend, None, Some(expire), Persist::Memory)
        .await?)
}

/// One user's assignment, as `havre director map` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub user: String,
    pub backend: String,
    pub expires_at: Option<SystemTime>,
}

impl Assignment {
    /// Where she is moving ([`begin_move`]; `Some("")`: wherever the ring
    /// says), if she is.
    pub fn moving(&self) -> Option<&str> {
        moving(&self.backend)
    }

    fn of_entry(entry: havre_state::Entry) -> Assignment {
        Assignment {
            user: entry.key[USER.len()..].to_string(),
            backend: entry.value,
            expires_at: entry.expires_at,
        }
    }
}

/// Every assignment (the keys of every user placed and not expired).
pub async fn all(state: &dyn State) -> Result<Vec<Assignment>> {
    let entries = state.list(USER).await?;
    Ok(entries.into_iter().map(Assignment::of_entry).collect())
}

/// `user`'s assignment, if she has one.
pub async fn of(state: &dyn State, user: &str) -> Result<Option<Assignment>> {
    Ok(state.entry(&key(user)).await?.map(Assignment::of_entry))
}

/// Drops the assignments to `backend` (it failed); returns the users who
/// had one. Each is removed only if it still names `backend` (one placed
/// elsewhere meanwhile stays).
pub async fn release_backend(state: &dyn State, backend: &str) -> Result<Vec<String>> {
    // Replaced by nothing that lasts a millisecond, if it is still the
    // value seen (a delete could remove a placement made meanwhile).
    replace_backend(state, backend, "", Duration::from_millis(1)).await
}

/// Starts moving the users of `backend` (a flush) wherever the ring says
/// once their sessions are closed ([`begin_move`]); returns them.
pub async fn move_backend_users(state: &dyn State, backend: &str) -> Result<Vec<String>> {
    replace_backend(state, backend, MOVING, MOVE_GRACE).await
}

async fn replace_backend(
    state: &dyn State,
    backend: &str,
    value: &str,
    ttl: Duration,
) -> Result<Vec<String>> {
    let mut users = Vec::new();
    for assignment in all(state).await? {
        if assignment.backend != backend {
            continue;
        }
        let held = state
            .claim(
                &key(&assignment.user),
                value,
                Some(backend),
                Some(ttl),
                Persist::Memory,
            )
            .await?;
        if held == value {
            users.push(assignment.user);
        }
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use havre_state::EmbeddedState;

    use super::*;
    use crate::backends::{self, Admin};

    const EXPIRE: Duration = Duration::from_secs(900);

    /// A state with backends 127.0.0.2 and .3 up, and a view of it.
    async fn two_backends() -> (Arc<dyn State>, Views) {
        let state: Arc<dyn State> = Arc::new(EmbeddedState::memory());
        for address in ["127.0.0.2", "127.0.0.3"] {
            backends::put(&*state, address, 100, Admin::Up)
                .await
                .unwrap();
        }
        let views = Views::new(state.clone());
        (state, views)
    }

    #[tokio::test]
    async fn a_moving_user_s_logins_wait_and_her_deliveries_are_told_to_wait() {
        let (state, views) = two_backends().await;
        let alice = "alice@example.test";
        let was = place(&*state, &views, alice, EXPIRE).await.unwrap();
        let to = if was == "127.0.0.2" {
            "127.0.0.3"
        } else {
            "127.0.0.2"
        };
        begin_move(&*state, alice, to).await.unwrap();
        // A delivery is refused for now (the LMTP path defers it) ...
        assert!(matches!(
            place(&*state, &views, alice, EXPIRE).await,
            Err(DirectorError::Moving(_))
        ));
        // ... a login waits until the move is over, and lands there.
        let login = {
            let (state, views) = (state.clone(), Arc::new(views));
            tokio::spawn(async move { place_waiting(&*state, &views, alice, EXPIRE).await })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!login.is_finished());
        assert_eq!(finish_move(&*state, alice, to, EXPIRE).await.unwrap(), to);
        assert_eq!(login.await.unwrap().unwrap(), to);
    }

    #[tokio::test]
    async fn a_user_moved_to_a_backend_back_up_a_moment_ago_stays_there() {
        let (state, views) = two_backends().await;
        backends::mark_failed(&*state, "127.0.0.2", "no answer", EXPIRE)
            .await
            .unwrap();
        views.read().await.unwrap();
        // It answers again and an operator moves alice there
        // (`havre director move`): the view kept still says it is down.
        backends::mark_answering(&*state, "127.0.0.2")
            .await
            .unwrap();
        begin_move(&*state, "alice@example.test", "127.0.0.2")
            .await
            .unwrap();
        finish_move(&*state, "alice@example.test", "127.0.0.2", EXPIRE)
            .await
            .unwrap();
        let placed = place(&*state, &views, "alice@example.test", EXPIRE)
            .await
            .unwrap();
        assert_eq!(placed, "127.0.0.2");
        assert_eq!(
            state.get("director:user:alice@example.test").await.unwrap(),
            Some("127.0.0.2".to_string())
        );
        // Down for real, and seen so: she goes to the one that serves.
        backends::mark_failed(&*state, "127.0.0.2", "no answer", EXPIRE)
            .await
            .unwrap();
        views.read().await.unwrap();
        let placed = place(&*state, &views, "alice@example.test", EXPIRE)
            .await
            .unwrap();
        assert_eq!(placed, "127.0.0.3");
    }
}
