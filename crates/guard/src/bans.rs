//! Bans in the state: one durable key `ban:<ip>` per banned address, whose
//! time to live is the ban's and whose value is when and why it was made
//! (`<unix seconds> <reason>`). The guard, `havre ban` and (in a cluster)
//! every node read and write the same keys.

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use havre_state::{Persist, Result, State};

const PREFIX: &str = "ban:";

/// One banned address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    pub ip: IpAddr,
    pub since: SystemTime,
    pub until: SystemTime,
    pub reason: String,
}

fn key(ip: IpAddr) -> String {
    format!("{PREFIX}{}", ip.to_canonical())
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Bans `ip` from `now` for `time`, replacing a ban it had.
pub async fn add_ban(
    state: &dyn State,
    ip: IpAddr,
    time: Duration,
    reason: &str,
    now: SystemTime,
) -> Result<Ban> {
    let ip = ip.to_canonical();
    let value = format!("{} {reason}", secs(now));
    state
        .set(&key(ip), &value, Some(time), Persist::Durable)
        .await?;
    Ok(Ban {
        ip,
        since: now,
        until: now + time,
        reason: reason.to_owned(),
    })
}

/// Lifts the ban of `ip`; whether it was banned.
pub async fn remove_ban(state: &dyn State, ip: IpAddr) -> Result<bool> {
    state.delete(&key(ip)).await
}

/// The bans in force, by address. A key that is not an address is skipped
/// (nothing of ours writes one).
pub async fn list_bans(state: &dyn State) -> Result<Vec<Ban>> {
    let mut bans: Vec<Ban> = state
        .list(PREFIX)
        .await?
        .into_iter()
        .filter_map(|entry| {
            let ip: IpAddr = entry.key.strip_prefix(PREFIX)?.parse().ok()?;
            let (since, reason) = entry.value.split_once(' ').unwrap_or(("0", &entry.value));
            let since = SystemTime::UNIX_EPOCH + Duration::from_secs(since.parse().unwrap_or(0));
            // Kept until deleted: only written by hand; shown as ending in
            // a century.
            let until = entry
                .expires_at
                .unwrap_or_else(|| since + Duration::from_secs(100 * 365 * 86_400));
            Some(Ban {
                ip,
                since,
                until,
                reason: reason.to_owned(),
            })
        })
        .collect();
    bans.sort_by_key(|b| b.ip);
    Ok(bans)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use havre_state::{EmbeddedState, ManualClock};

    use super::*;

    #[tokio::test]
    async fn a_ban_is_listed_with_its_reason_until_it_expires_or_is_removed() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let clock = Arc::new(ManualClock::new(start));
        let state = EmbeddedState::memory_with_clock(clock.clone());
        let hour = Duration::from_secs(3600);
        for ip in ["192.0.2.10", "192.0.2.9", "::ffff:192.0.2.8"] {
            add_ban(&state, ip.parse().unwrap(), hour, "by hand", start)
                .await
                .unwrap();
        }
        let bans = list_bans(&state).await.unwrap();
        let ips: Vec<String> = bans.iter().map(|b| b.ip.to_string()).collect();
        assert_eq!(ips, ["192.0.2.8", "192.0.2.9", "192.0.2.10"], "by address");
        assert_eq!(bans[0].reason, "by hand");
        assert_eq!((bans[0].since, bans[0].until), (start, start + hour));
        assert!(
            remove_ban(&state, "192.0.2.9".parse().unwrap())
                .await
                .unwrap()
        );
        assert!(
            !remove_ban(&state, "192.0.2.9".parse().unwrap())
                .await
                .unwrap()
        );
        clock.advance(hour);
        assert!(list_bans(&state).await.unwrap().is_empty());
    }
}
