//! `havre ban list|add|remove`: the guard's bans, read and changed in the
//! state file (DATA_DIR/state.db) that the running serve reads again every
//! few seconds.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::{anyhow, bail};
use havre_guard::{Ban, add_ban, list_bans, remove_ban, settings_from_config};
use havre_net::until_text;
use serde::Serialize;

use crate::cli::BanCommand;
use crate::locate;
use crate::output::{self, Report, rfc3339};

/// The reason a ban made with `havre ban add` shows.
const BY_HAND: &str = "added by havre ban add";

#[derive(Serialize)]
#[serde(transparent)]
struct Bans(Vec<Shown>);

/// One ban; in JSON the times are RFC 3339.
#[derive(Serialize)]
struct Shown {
    address: String,
    since: String,
    until: String,
    reason: String,
    #[serde(skip)]
    until_text: String,
}

impl Shown {
    fn of(ban: Ban) -> Shown {
        let secs = |t: SystemTime| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        };
        Shown {
            address: ban.ip.to_string(),
            since: rfc3339(secs(ban.since)),
            until: rfc3339(secs(ban.until)),
            until_text: until_text(ban.until),
            reason: ban.reason,
        }
    }
}

impl Report for Bans {
    fn text(&self) -> String {
        let width = self
            .0
            .iter()
            .map(|b| b.address.len())
            .max()
            .unwrap_or(0)
            .max("address".len());
        let mut out = format!("{:width$}  {:23}  reason\n", "address", "banned until");
        for b in &self.0 {
            out.push_str(&format!(
                "{:width$}  {:23}  {}\n",
                b.address, b.until_text, b.reason
            ));
        }
        out
    }
}

pub async fn run(explicit: Option<PathBuf>, command: BanCommand) -> anyhow::Result<()> {
    let loaded = locate::load(explicit)?;
    // Before becoming server.user: the log file may be root's.
    crate::logging::init_cli(&loaded);
    crate::privileges::become_server_user(&loaded)?;
    // A typo in server.data_dir must not create a state file elsewhere.
    crate::checks::data(&loaded)?;
    let state = crate::locate::open_state(&loaded).await?;
    let state = &*state;
    match command {
        BanCommand::List { format } => {
            let bans = list_bans(state).await?;
            output::print(
                &Bans(bans.into_iter().map(Shown::of).collect()),
                format.json,
            )
        }
        BanCommand::Add { ip, time } => {
            let ip = address(&ip)?;
            let guard = &loaded.config.guard;
            if settings_from_config(&loaded.config).is_exempt(ip) {
                bail!(
                    "{ip} is exempt (guard.exempt {:?}): a ban would not apply; take it out of guard.exempt first",
                    guard.exempt
                );
            }
            let time = match time {
                Some(text) => text
                    .parse::<havre_config::Duration>()
                    .map_err(|e| anyhow!("--for: {e}"))?,
                None => guard.ban_time,
            };
            if time.0.is_zero() {
                bail!("--for: a ban must last longer than 0s");
            }
            let ban = add_ban(state, ip, time.0, BY_HAND, SystemTime::now()).await?;
            tracing::info!(target: "guard", role = "ban", "banned {ip} for {time}: {BY_HAND}");
            println!("banned {ip} for {time}, until {}", until_text(ban.until));
            if !guard.enabled {
                eprintln!("note: guard.enabled is false: no ban applies until it is true");
            }
            Ok(())
        }
        BanCommand::Remove { ip } => {
            let ip = address(&ip)?;
            if !remove_ban(state, ip).await? {
                bail!("{ip} is not banned");
            }
            tracing::info!(target: "guard", role = "ban", "unbanned {ip}: removed by havre ban remove");
            println!("unbanned {ip}");
            Ok(())
        }
    }
}

/// An IPv4 or IPv6 address (an IPv4-mapped one is its IPv4 address).
fn address(text: &str) -> anyhow::Result<IpAddr> {
    text.trim()
        .parse::<IpAddr>()
        .map(|ip| ip.to_canonical())
        .map_err(|_| anyhow!("{text:?} is not an IP address (like 192.0.2.1 or 2001:db8::1)"))
}
