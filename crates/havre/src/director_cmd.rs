//! `havre director ...`: the directors' shared view of backends and users,
//! read and changed as `doveadm director` does. Changes act on every
//! running director at once (the kicks go over the shared state's channel;
//! each director also checks its sessions against the view every
//! `director.probe_interval`).

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use havre_config::LoadedConfig;
use havre_director::backends::{self, Admin, Backend};
use havre_director::kicks::{self, Kick};
use havre_director::{assign, relayed};
use havre_state::State;
use serde::Serialize;

use crate::cli::DirectorCommand;
use crate::locate;
use crate::output::{self, Report, rfc3339};

pub(crate) async fn run(config: Option<PathBuf>, cmd: DirectorCommand) -> anyhow::Result<()> {
    let loaded = locate::load(config)?;
    crate::logging::init_cli(&loaded);
    crate::privileges::become_server_user(&loaded)?;
    crate::checks::data(&loaded)?;
    let state = locate::open_state(&loaded).await?;
    let state = &*state;
    let expire = loaded.config.director.user_expire.0;
    match cmd {
        DirectorCommand::Status { format } => {
            let status = Status::read(state).await?;
            output::print(&status, format.json)?;
        }
        DirectorCommand::Add { backend, weight } => {
            let address = backends::normalize_address(&backend)?;
            if backends::get(state, &address).await?.is_some() {
                bail!("{address} is a backend already (havre director weight|up|down change it)");
            }
            backends::put(state, &address, weight, Admin::Up).await?;
            println!("backend {address} added, weight {weight}: it takes new users");
        }
        DirectorCommand::Remove { backend } => {
            let found = known(state, &backend).await?;
            backends::put(state, &found.address, found.weight, Admin::Down).await?;
            let moved = move_away(state, &found.address).await?;
            backends::remove(state, &found.address).await?;
            println!(
                "backend {} removed; {moved} user(s) go elsewhere",
                found.address
            );
        }
        DirectorCommand::Up { backend } => {
            let found = known(state, &backend).await?;
            backends::put(state, &found.address, found.weight, Admin::Up).await?;
            println!("backend {} takes new users", found.address);
        }
        DirectorCommand::Down { backend } => {
            let found = known(state, &backend).await?;
            backends::put(state, &found.address, found.weight, Admin::Down).await?;
            println!(
                "backend {} takes no new user; its users stay until their assignments expire (havre director flush moves them now)",
                found.address
            );
        }
        DirectorCommand::Weight { backend, weight } => {
            let found = known(state, &backend).await?;
            backends::put(state, &found.address, weight, found.admin).await?;
            println!("backend {} weight {weight}", found.address);
        }
        DirectorCommand::Move { user, backend } => {
            let user = account_address(&loaded, &user).await?.with_context(|| {
                format!("no user {user}: havre director move places accounts (havre user list)")
            })?;
            let found = known(state, &backend).await?;
            if let Some(why) = &found.failed {
                bail!(
                    "backend {} is down ({why}): not moving {user} there",
                    found.address
                );
            }
            // Her logins wait and her mail is deferred while every
            // director closes her sessions; then she is there. Kicked
            // again at the end: a login under way at the first kick (placed
            // before the move began) may have opened a session since.
            assign::begin_move(state, &user, &found.address).await?;
            kicks::send(state, &Kick::User(user.clone())).await?;
            tokio::time::sleep(assign::MOVE_GRACE).await;
            kicks::send(state, &Kick::User(user.clone())).await?;
            let held = assign::finish_move(state, &user, &found.address, expire).await?;
            if held != found.address {
                bail!(
                    "{user} was not moved to {}: she is assigned to {held} now (another move or flush meanwhile?)",
                    found.address
                );
            }
            println!(
                "{user} moved to {}: her sessions elsewhere are closed",
                found.address
            );
        }
        DirectorCommand::Flush { backend } => {
            let found = known(state, &backend).await?;
            backends::put(state, &found.address, found.weight, Admin::Down).await?;
            let moved = move_away(state, &found.address).await?;
            println!(
                "backend {} flushed: {moved} user(s) moved, it takes no new user (havre director up {} brings it back)",
                found.address, found.address
            );
        }
        DirectorCommand::Kick { user } => {
            // A removed account's sessions are closed by the name given,
            // and so are any while the directory does not answer.
            let user = match account_address(&loaded, &user).await {
                Ok(found) => found.unwrap_or(user),
                Err(err) => {
                    eprintln!("havre: warning: {err:#}; kicking {user} as given");
                    user
                }
            };
            kicks::send(state, &Kick::User(user.clone())).await?;
            println!("{user}: her sessions on every director are closed");
        }
        DirectorCommand::Map { user, format } => {
            // A name no account has still maps: where the ring would put it.
            let (user, account) = match account_address(&loaded, &user).await {
                Ok(Some(address)) => (address, true),
                Ok(None) => (user.to_lowercase(), false),
                Err(err) => {
                    eprintln!("havre: warning: {err:#}; mapping {user} as given");
                    (user.to_lowercase(), true)
                }
            };
            let map = Map::read(state, &user, account).await?;
            output::print(&map, format.json)?;
        }
    }
    Ok(())
}

/// Moves the users of a backend just taken down (each waits while her
/// sessions close, `assign::MOVE_GRACE`, then goes where the ring says):
/// twice, the second time once no director can still place users on the
/// old view (each places them on one at most `view::USABLE_FOR` old), so a
/// user a director placed there meanwhile moves too.
async fn move_away(state: &dyn State, address: &str) -> anyhow::Result<usize> {
    let mut moved = 0;
    for pass in 0..2 {
        if pass > 0 {
            tokio::time::sleep(havre_director::view::USABLE_FOR + Duration::from_millis(200)).await;
        }
        moved += assign::move_backend_users(state, address).await?.len();
        kicks::send(state, &Kick::Backend(address.to_string())).await?;
    }
    Ok(moved)
}

/// The address a user is placed by: her account's, whatever name she was
/// given as (her login name, another case), as logins and deliveries
/// place her; `None` when no account has that name.
async fn account_address(loaded: &LoadedConfig, name: &str) -> anyhow::Result<Option<String>> {
    let store = locate::open_store(loaded).await?;
    let directory = locate::directory(loaded, store)?;
    Ok(directory
        .account(name)
        .await
        .with_context(|| format!("cannot look {name} up"))?
        .map(|user| user.email))
}

/// The backend named `name`, or an error naming the known ones.
async fn known(state: &dyn State, name: &str) -> anyhow::Result<Backend> {
    let address = backends::normalize_address(name)?;
    let list = backends::list(state).await?;
    let names: Vec<String> = list.iter().map(|b| b.address.clone()).collect();
    list.into_iter()
        .find(|b| b.address == address)
        .with_context(|| {
            if names.is_empty() {
                format!("no backend {address}: none added yet (havre director add ADDRESS)")
            } else {
                format!(
                    "no backend {address}; the backends are {}",
                    names.join(", ")
                )
            }
        })
}

fn seconds(at: Option<SystemTime>) -> Option<i64> {
    at.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
}

#[derive(Serialize)]
#[serde(transparent)]
struct Status {
    backends: Vec<Shown>,
}

#[derive(Serialize)]
struct Shown {
    backend: String,
    /// up, down (taken out by an operator) or failed (by the probes).
    state: &'static str,
    /// Why the probes found it failing.
    failure: Option<String>,
    weight: u32,
    users: usize,
    sessions: usize,
}

impl Status {
    async fn read(state: &dyn State) -> anyhow::Result<Status> {
        let assignments = assign::all(state).await?;
        let sessions = relayed::total(state).await?;
        let backends = backends::list(state)
            .await?
            .into_iter()
            .map(|b| Shown {
                state: match (&b.failed, b.admin) {
                    (Some(_), _) => "failed",
                    (None, Admin::Down) => "down",
                    (None, Admin::Up) => "up",
                },
                users: assignments
                    .iter()
                    .filter(|a| a.backend == b.address)
                    .count(),
                sessions: sessions.get(&b.address).copied().unwrap_or(0),
                failure: b.failed,
                weight: b.weight,
                backend: b.address,
            })
            .collect();
        Ok(Status { backends })
    }
}

impl Report for Status {
    fn text(&self) -> String {
        if self.backends.is_empty() {
            return "no backend (havre director add ADDRESS)\n".to_string();
        }
        let width = self
            .backends
            .iter()
            .map(|b| b.backend.len())
            .max()
            .unwrap_or(0)
            .max("backend".len());
        let mut out = format!(
            "{:width$}  {:6}  {:>6}  {:>6}  {:>8}\n",
            "backend", "state", "weight", "users", "sessions"
        );
        for b in &self.backends {
            out.push_str(&format!(
                "{:width$}  {:6}  {:>6}  {:>6}  {:>8}",
                b.backend, b.state, b.weight, b.users, b.sessions
            ));
            if let Some(why) = &b.failure {
                out.push_str(&format!("  ({why})"));
            }
            out.push('\n');
        }
        out
    }
}

#[derive(Serialize)]
struct Map {
    user: String,
    /// Whether an account has that name.
    account: bool,
    /// The backend her next connection goes to; `None` when none can take her.
    backend: Option<String>,
    /// Assigned (kept until `assigned_until`), or placed by the ring.
    why: &'static str,
    assigned_until: Option<String>,
    /// What the ring picks among the backends taking new users.
    ring: Option<String>,
}

impl Map {
    async fn read(state: &dyn State, user: &str, account: bool) -> anyhow::Result<Map> {
        let list = backends::list(state).await?;
        let ring = assign::ring(&list).pick(user).map(str::to_string);
        let assignment = assign::of(state, user).await?;
        let usable = |address: &str| list.iter().any(|b| b.address == address && b.healthy());
        Ok(match assignment {
            Some(a) if a.moving().is_some() => Map {
                user: user.to_string(),
                account,
                backend: Some(a.moving().unwrap_or_default())
                    .filter(|to| !to.is_empty())
                    .map(str::to_string)
                    .or_else(|| ring.clone()),
                why: "moving",
                assigned_until: None,
                ring,
            },
            Some(a) if usable(&a.backend) => Map {
                user: user.to_string(),
                account,
                backend: Some(a.backend),
                why: "assigned",
                assigned_until: seconds(a.expires_at).map(rfc3339),
                ring,
            },
            _ => Map {
                user: user.to_string(),
                account,
                backend: ring.clone(),
                why: "ring",
                assigned_until: None,
                ring,
            },
        })
    }
}

impl Report for Map {
    fn text(&self) -> String {
        let mut out = format!("user:     {}\n", self.user);
        if !self.account {
            out.push_str("account:  none by this name (where the ring would put it)\n");
        }
        match (&self.backend, self.why) {
            (Some(b), "assigned") => out.push_str(&format!(
                "backend:  {b} (assigned until {}, director.user_expire after her last connection)\n",
                self.assigned_until.as_deref().unwrap_or("-")
            )),
            (Some(b), "moving") => out.push_str(&format!(
                "backend:  {b} (moving there: her sessions are being closed, her logins wait and her mail is deferred)\n"
            )),
            (Some(b), _) => out.push_str(&format!(
                "backend:  {b} (not assigned: the ring's pick at her next connection)\n"
            )),
            (None, _) => out.push_str("backend:  none (no backend takes users)\n"),
        }
        out.push_str(&format!(
            "ring:     {}\n",
            self.ring.as_deref().unwrap_or("-")
        ));
        out
    }
}
