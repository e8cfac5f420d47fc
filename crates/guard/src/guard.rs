//! The node's guard: counts offences per address, bans, and answers the
//! gates from memory.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use havre_config::Duration as Shown;
use havre_net::Screen;
use havre_state::{Clock, EmbeddedState, Persist, State, StateError, SystemClock};

use crate::bans::{add_ban, list_bans};
use crate::settings::{CONNECTION_WINDOW, GuardSettings, Offence, Service};

/// How often the bans in memory are brought in line with the state (bans
/// and unbans made by `havre ban` or another node).
const REFRESH_EVERY: Duration = Duration::from_secs(1);

/// The guard of a node; clones share it. See the crate documentation.
#[derive(Clone)]
pub struct Guard {
    inner: Arc<Inner>,
}

struct Inner {
    state: Arc<dyn State>,
    clock: Arc<dyn Clock>,
    settings: RwLock<Arc<GuardSettings>>,
    /// The bans in force, as the gates read them.
    bans: RwLock<HashMap<IpAddr, Known>>,
    /// An address's offences counted by service are counted one at a time
    /// in this process (by stripes of addresses): the first of a window
    /// sets the services' shares to 0, which must not wipe the share a
    /// second one, counted at once, has just added.
    shares: Vec<tokio::sync::Mutex<()>>,
}

/// How many stripes [`Inner::shares`] has.
const SHARE_STRIPES: usize = 64;

fn share_stripes() -> Vec<tokio::sync::Mutex<()>> {
    (0..SHARE_STRIPES)
        .map(|_| tokio::sync::Mutex::new(()))
        .collect()
}

struct Known {
    until: SystemTime,
    /// When this process put it in the map: a refresh that read the state
    /// before then does not take it out.
    noted: Instant,
    /// False for a ban the state failed to keep: only this process knows
    /// it, and keeps it until it ends.
    saved: bool,
}

/// What is counted under which key.
#[derive(Clone, Copy)]
enum Kind {
    Login,
    Recipient,
    Error,
    Connection,
}

impl Kind {
    fn of(offence: Offence) -> (Kind, Option<Service>) {
        match offence {
            Offence::FailedLogin(s) => (Kind::Login, Some(s)),
            Offence::UnknownRecipient => (Kind::Recipient, None),
            Offence::ProtocolError(s) => (Kind::Error, Some(s)),
            Offence::Connection => (Kind::Connection, None),
        }
    }

    const ALL: [Kind; 4] = [Kind::Login, Kind::Recipient, Kind::Error, Kind::Connection];

    fn key(self, service: Option<Service>, ip: IpAddr) -> String {
        let kind = match self {
            Kind::Login => "login",
            Kind::Recipient => "rcpt",
            Kind::Error => "error",
            Kind::Connection => "conn",
        };
        match service {
            Some(s) => format!("guard:{kind}:{}:{ip}", s.as_str()),
            None => format!("guard:{kind}:{ip}"),
        }
    }

    /// `10 failed logins`, `1 unknown recipient`...
    fn counted(self, n: i64) -> String {
        let (one, many) = match self {
            Kind::Login => ("failed login", "failed logins"),
            Kind::Recipient => ("unknown recipient", "unknown recipients"),
            Kind::Error => ("bad command", "bad commands"),
            Kind::Connection => ("connection", "connections"),
        };
        format!("{n} {}", if n == 1 { one } else { many })
    }

    fn by_service(self) -> bool {
        matches!(self, Kind::Login | Kind::Error)
    }
}

impl Guard {
    /// The guard of a node whose state is `state`; the bans in force are
    /// loaded now.
    pub async fn open(settings: GuardSettings, state: Arc<dyn State>) -> Result<Guard, StateError> {
        Guard::open_with_clock(settings, state, Arc::new(SystemClock)).await
    }

    /// [`Guard::open`] reading the time from `clock` (the state's, in tests).
    pub async fn open_with_clock(
        settings: GuardSettings,
        state: Arc<dyn State>,
        clock: Arc<dyn Clock>,
    ) -> Result<Guard, StateError> {
        let guard = Guard {
            inner: Arc::new(Inner {
                state,
                clock,
                settings: RwLock::new(Arc::new(settings)),
                bans: RwLock::new(HashMap::new()),
                shares: share_stripes(),
            }),
        };
        guard.sync(false).await?;
        let banned = guard.read_bans().len();
        if banned > 0 {
            tracing::info!(target: "guard", "{banned} address(es) banned");
        }
        Ok(guard)
    }

    /// A guard that counts nothing and refuses no one (for sessions run
    /// without a node: tests, tools).
    pub fn off() -> Guard {
        Guard {
            inner: Arc::new(Inner {
                state: Arc::new(EmbeddedState::memory()),
                clock: Arc::new(SystemClock),
                settings: RwLock::new(Arc::new(GuardSettings::off())),
                bans: RwLock::new(HashMap::new()),
                shares: share_stripes(),
            }),
        }
    }

    /// New limits (a reload); counts and bans stay.
    pub fn apply(&self, settings: GuardSettings) {
        *self
            .inner
            .settings
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Arc::new(settings);
    }

    pub fn settings(&self) -> Arc<GuardSettings> {
        self.inner
            .settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn read_bans(&self) -> std::sync::RwLockReadGuard<'_, HashMap<IpAddr, Known>> {
        self.inner.bans.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_bans(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<IpAddr, Known>> {
        self.inner.bans.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Until when `ip` is banned, if it is (exemptions aside): one lookup
    /// in memory.
    pub fn banned(&self, ip: IpAddr) -> Option<SystemTime> {
        let until = self.read_bans().get(&ip.to_canonical())?.until;
        (until > self.inner.clock.now()).then_some(until)
    }

    /// Addresses banned now (metrics).
    pub fn bans_in_force(&self) -> usize {
        let now = self.inner.clock.now();
        self.read_bans().values().filter(|b| b.until > now).count()
    }

    /// Counts `offence` by `ip`, and bans it if that reaches a limit.
    /// Returns until when the address is banned, if it is (now or before).
    pub async fn record(&self, ip: IpAddr, offence: Offence) -> Option<SystemTime> {
        let ip = ip.to_canonical();
        let settings = self.settings();
        if !settings.enabled || settings.is_exempt(ip) {
            return None;
        }
        if let Some(until) = self.banned(ip) {
            // Its sessions still under way: already dealt with.
            return Some(until);
        }
        let (limit, window) = settings.limit(offence);
        let warn = match offence {
            Offence::Connection => settings.connections_warn,
            _ => 0,
        };
        if limit == 0 && warn == 0 {
            return None;
        }
        let (kind, service) = Kind::of(offence);
        let n = match self.count(kind, service, ip, window).await {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(target: "guard", "cannot count {} from {ip}: {e}", kind.counted(1));
                return None;
            }
        };
        if warn > 0 && n == i64::from(warn) {
            tracing::warn!(target: "guard", "{} from {ip} within {} (guard.connections_warn {warn})", kind.counted(n), Shown(CONNECTION_WINDOW));
        }
        if limit == 0 || n < i64::from(limit) {
            return None;
        }
        let mut reason = format!("{} in {}", kind.counted(n), Shown(window));
        if let Some(breakdown) = self.breakdown(kind, ip).await {
            reason.push_str(&format!(" ({breakdown})"));
        }
        Some(self.ban(ip, settings.ban_time, &reason).await)
    }

    /// [`Guard::record`] without waiting, from code that cannot (the gate,
    /// a reply being queued); nothing happens outside a Tokio runtime.
    pub fn note(&self, ip: IpAddr, offence: Offence) {
        if !self.settings().enabled {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let guard = self.clone();
            runtime.spawn(async move {
                guard.record(ip, offence).await;
            });
        }
    }

    /// Adds one to the address's counter of `kind` (and of the service's
    /// share of it); returns the total in the window.
    async fn count(
        &self,
        kind: Kind,
        service: Option<Service>,
        ip: IpAddr,
        window: Duration,
    ) -> Result<i64, StateError> {
        let state = &self.inner.state;
        let _one_at_a_time = match service {
            Some(_) => {
                let stripe = {
                    use std::hash::{Hash, Hasher};
                    let mut hasher = std::collections::hash_map::DefaultHasher::new();
                    ip.hash(&mut hasher);
                    hasher.finish() as usize % SHARE_STRIPES
                };
                Some(self.inner.shares[stripe].lock().await)
            }
            None => None,
        };
        let n = state
            .incr(&kind.key(None, ip), 1, window, Persist::Memory)
            .await?;
        if let Some(service) = service {
            if n == 1 {
                // A new window: the shares start with it, not with the
                // last window's leftovers.
                for s in Service::ALL {
                    state
                        .set(&kind.key(Some(s), ip), "0", Some(window), Persist::Memory)
                        .await?;
                }
            }
            state
                .incr(&kind.key(Some(service), ip), 1, window, Persist::Memory)
                .await?;
        }
        Ok(n)
    }

    /// `smtp 4, imap 6`: each service's share of the count.
    async fn breakdown(&self, kind: Kind, ip: IpAddr) -> Option<String> {
        if !kind.by_service() {
            return None;
        }
        let mut parts = Vec::new();
        for s in Service::ALL {
            let n = self
                .inner
                .state
                .get(&kind.key(Some(s), ip))
                .await
                .ok()
                .flatten()
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(0);
            if n > 0 {
                parts.push(format!("{} {n}", s.as_str()));
            }
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }

    /// Bans `ip` for `time`; its counters start again. A ban the state
    /// cannot keep still applies in this process. Returns its end.
    async fn ban(&self, ip: IpAddr, time: Duration, reason: &str) -> SystemTime {
        // Offences that were being counted at once: the first ban stands.
        if let Some(until) = self.banned(ip) {
            return until;
        }
        let now = self.inner.clock.now();
        let until = now + time;
        let saved = match add_ban(&*self.inner.state, ip, time, reason, now).await {
            Ok(_) => true,
            Err(e) => {
                tracing::error!(target: "guard", "the ban of {ip} is not saved (it ends with this process): {e}");
                false
            }
        };
        // In the map once in the state, so that a refresh reading the state
        // meanwhile cannot take it for lifted.
        self.write_bans().insert(
            ip,
            Known {
                until,
                noted: Instant::now(),
                saved,
            },
        );
        tracing::info!(target: "guard", "banned {ip} for {}: {reason}", Shown(time));
        for kind in Kind::ALL {
            let _ = self.inner.state.delete(&kind.key(None, ip)).await;
        }
        until
    }

    /// Brings the bans in memory in line with the state: bans made
    /// elsewhere (`havre ban add`, another node) come in, lifted and
    /// expired ones go; each change is logged.
    pub async fn refresh(&self) -> Result<(), StateError> {
        self.sync(true).await
    }

    async fn sync(&self, log: bool) -> Result<(), StateError> {
        let started = Instant::now();
        let listed = list_bans(&*self.inner.state).await?;
        let now = self.inner.clock.now();
        let mut map = self.write_bans();
        let mut seen = HashSet::with_capacity(listed.len());
        for ban in listed {
            seen.insert(ban.ip);
            let known = map.get(&ban.ip).map(|k| k.until);
            if known == Some(ban.until) {
                continue;
            }
            // The state times a ban it saves by its own clock reading: a
            // difference of less than a second is the same ban.
            let moved = known.map(|k| {
                k.duration_since(ban.until)
                    .or_else(|_| ban.until.duration_since(k))
                    .unwrap_or_default()
                    >= Duration::from_secs(1)
            });
            if log {
                let until = havre_net::until_text(ban.until);
                match moved {
                    None => {
                        tracing::info!(target: "guard", "banned {} until {until}: {}", ban.ip, ban.reason)
                    }
                    Some(true) => {
                        tracing::info!(target: "guard", "ban of {} now ends {until}: {}", ban.ip, ban.reason)
                    }
                    Some(false) => {}
                }
            }
            map.insert(
                ban.ip,
                Known {
                    until: ban.until,
                    noted: started,
                    saved: true,
                },
            );
        }
        map.retain(|ip, known| {
            if seen.contains(ip) || known.noted > started || (!known.saved && known.until > now) {
                return true;
            }
            if log {
                if known.until <= now {
                    tracing::info!(target: "guard", "ban of {ip} expired");
                } else {
                    tracing::info!(target: "guard", "unbanned {ip}: its ban was removed");
                }
            }
            false
        });
        Ok(())
    }

    /// Refreshes every second, for ever (the task ends with the process).
    pub async fn run(self) {
        let mut tick = tokio::time::interval(REFRESH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tick.tick().await;
            match self.refresh().await {
                Ok(()) => failing = false,
                Err(e) if !failing => {
                    failing = true;
                    tracing::error!(target: "guard", "cannot read the bans: {e}");
                }
                Err(_) => {}
            }
        }
    }

    /// The check every role's gate makes (see [`havre_net::Screen`]).
    pub fn as_screen(&self) -> Arc<dyn Screen> {
        Arc::new(self.clone())
    }
}

impl Screen for Guard {
    /// Refuses a banned address; counts the others' connections.
    fn screen(&self, ip: IpAddr) -> Result<(), SystemTime> {
        let settings = self.settings();
        if !settings.enabled {
            return Ok(());
        }
        let ip = ip.to_canonical();
        if settings.is_exempt(ip) {
            return Ok(());
        }
        if let Some(until) = self.banned(ip) {
            return Err(until);
        }
        self.note(ip, Offence::Connection);
        Ok(())
    }
}
