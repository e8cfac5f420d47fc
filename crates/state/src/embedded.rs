//! The one-node state: a map in memory, durable keys written through to a
//! SQLite file (see `disk.rs`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;

use crate::clock::{Clock, SystemClock, from_micros, micros};
use crate::disk::{self, Op, Pending, Writer};
use crate::gcra::{self, Rate, RateAnswer};
use crate::{Entry, Persist, Result, State, StateError};

/// How often, at most, a write sweeps expired keys out of the map.
const PRUNE_EVERY_US: i64 = 60 * 1_000_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Text(String),
    Int(i64),
    /// A GCRA cell: its theoretical arrival time in microseconds.
    Cell(i64),
}

impl Value {
    fn render(&self) -> String {
        match self {
            Value::Text(s) => s.clone(),
            Value::Int(n) | Value::Cell(n) => n.to_string(),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub(crate) value: Value,
    /// Microseconds since the epoch; `None`: never.
    pub(crate) expires: Option<i64>,
    pub(crate) durable: bool,
}

impl Item {
    fn live(&self, now: i64) -> bool {
        self.expires.is_none_or(|e| e > now)
    }
}

#[derive(Default)]
pub(crate) struct Map {
    items: HashMap<String, Item>,
    last_prune: i64,
}

impl Map {
    /// The live item at `key` (an expired one is removed).
    fn live(&mut self, key: &str, now: i64) -> Option<&mut Item> {
        if self.items.get(key).is_some_and(|i| !i.live(now)) {
            self.items.remove(key);
        }
        self.items.get_mut(key)
    }

    /// Sweeps expired keys, at most once a minute, so keys nobody asks for
    /// again do not pile up.
    fn prune(&mut self, now: i64) {
        if now - self.last_prune >= PRUNE_EVERY_US {
            self.items.retain(|_, i| i.live(now));
            self.last_prune = now;
        }
    }

    /// Replaces every durable key by `rows` (the file's content).
    pub(crate) fn replace_durable(&mut self, rows: Vec<(String, Item)>) {
        self.items.retain(|_, i| !i.durable);
        self.items.extend(rows);
    }
}

/// The state of a single node: in memory, with [`Persist::Durable`] keys
/// also in a SQLite file when opened with [`EmbeddedState::open`].
///
/// Operations take one short lock on the map; durable writes are queued to
/// the file's writer under that lock (so the file sees them in order) and
/// awaited after it.
pub struct EmbeddedState {
    map: Arc<Mutex<Map>>,
    clock: Arc<dyn Clock>,
    disk: Option<Writer>,
    channels: crate::channels::Channels,
}

impl EmbeddedState {
    /// State kept in memory only: `Durable` keys are lost at exit too (tests,
    /// `havre check`).
    pub fn memory() -> EmbeddedState {
        EmbeddedState::memory_with_clock(Arc::new(SystemClock))
    }

    /// [`EmbeddedState::memory`] reading the time from `clock`.
    pub fn memory_with_clock(clock: Arc<dyn Clock>) -> EmbeddedState {
        EmbeddedState {
            map: Arc::new(Mutex::new(Map::default())),
            clock,
            disk: None,
            channels: Default::default(),
        }
    }

    /// State whose durable keys live in the SQLite file at `path` (created
    /// if missing; `<data_dir>/state.db` by convention): their live rows
    /// are loaded now. Must be called inside a Tokio runtime (the file's
    /// writer is a task).
    pub async fn open(path: &Path) -> Result<EmbeddedState> {
        EmbeddedState::open_with_clock(path, Arc::new(SystemClock)).await
    }

    /// [`EmbeddedState::open`] reading the time from `clock`.
    pub async fn open_with_clock(path: &Path, clock: Arc<dyn Clock>) -> Result<EmbeddedState> {
        let map = Arc::new(Mutex::new(Map::default()));
        let disk = disk::open(path, map.clone(), clock.clone()).await?;
        Ok(EmbeddedState {
            map,
            clock,
            disk: Some(disk),
            channels: Default::default(),
        })
    }

    fn now(&self) -> i64 {
        micros(self.clock.now())
    }

    fn lock(&self) -> MutexGuard<'_, Map> {
        // A panic while holding the lock leaves a consistent map (every
        // change is one insert or remove): keep serving.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `persist` goes to the file (only when there is one).
    fn durable(&self, persist: Persist) -> bool {
        persist == Persist::Durable && self.disk.is_some()
    }

    fn send(&self, op: Op) -> Option<Pending> {
        self.disk.as_ref().map(|d| d.send(op))
    }
}

async fn wait(pending: Option<Pending>) -> Result<()> {
    match pending {
        Some(p) => p.wait().await,
        None => Ok(()),
    }
}

fn expiry(now: i64, ttl: Duration) -> i64 {
    now.saturating_add(i64::try_from(ttl.as_micros()).unwrap_or(i64::MAX))
}

#[async_trait]
impl State for EmbeddedState {
    async fn get(&self, key: &str) -> Result<Option<String>> {
        let now = self.now();
        Ok(self.lock().live(key, now).map(|i| i.value.render()))
    }

    async fn set(
        &self,
        key: &str,
        value: &str,
        ttl: Option<Duration>,
        persist: Persist,
    ) -> Result<()> {
        let now = self.now();
        let durable = self.durable(persist);
        let expires = ttl.map(|t| expiry(now, t));
        let pending = {
            let mut map = self.lock();
            map.prune(now);
            let old = map.items.insert(
                key.to_owned(),
                Item {
                    value: Value::Text(value.to_owned()),
                    expires,
                    durable,
                },
            );
            if durable {
                self.send(Op::Put {
                    key: key.to_owned(),
                    value: Value::Text(value.to_owned()),
                    expires,
                })
            } else if old.is_some_and(|o| o.durable) {
                self.send(Op::Delete(key.to_owned()))
            } else {
                None
            }
        };
        wait(pending).await
    }

    async fn claim(
        &self,
        key: &str,
        value: &str,
        replacing: Option<&str>,
        ttl: Option<Duration>,
        persist: Persist,
    ) -> Result<String> {
        let now = self.now();
        let durable = self.durable(persist);
        let expires = ttl.map(|t| expiry(now, t));
        let pending = {
            let mut map = self.lock();
            if let Some(found) = map.live(key, now) {
                let found = found.value.render();
                if found != value && replacing != Some(found.as_str()) {
                    return Ok(found);
                }
            }
            map.items.insert(
                key.to_owned(),
                Item {
                    value: Value::Text(value.to_owned()),
                    expires,
                    durable,
                },
            );
            durable
                .then(|| {
                    self.send(Op::Put {
                        key: key.to_owned(),
                        value: Value::Text(value.to_owned()),
                        expires,
                    })
                })
                .flatten()
        };
        wait(pending).await?;
        Ok(value.to_owned())
    }

    async fn extend(&self, key: &str, value: &str, ttl: Duration) -> Result<Option<String>> {
        let now = self.now();
        let expires = Some(expiry(now, ttl));
        let (found, pending) = {
            let mut map = self.lock();
            let Some(item) = map.live(key, now) else {
                return Ok(None);
            };
            let found = item.value.render();
            if found != value {
                return Ok(Some(found));
            }
            item.expires = expires;
            let pending = item
                .durable
                .then(|| {
                    self.send(Op::Put {
                        key: key.to_owned(),
                        value: item.value.clone(),
                        expires,
                    })
                })
                .flatten();
            (found, pending)
        };
        wait(pending).await?;
        Ok(Some(found))
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let now = self.now();
        let (existed, pending) = {
            let mut map = self.lock();
            let old = map.items.remove(key);
            let existed = old.as_ref().is_some_and(|o| o.live(now));
            // A key memory does not have may still be in the file (written
            // by another process since the last reload): delete it there
            // too. A memory-only key costs no write.
            let pending = match old {
                Some(o) if !o.durable => None,
                _ => self.send(Op::Delete(key.to_owned())),
            };
            (existed, pending)
        };
        wait(pending).await?;
        Ok(existed)
    }

    async fn incr(&self, key: &str, by: i64, ttl: Duration, persist: Persist) -> Result<i64> {
        let now = self.now();
        let durable = self.durable(persist);
        let (value, pending) = {
            let mut map = self.lock();
            map.prune(now);
            let item = match map.live(key, now) {
                Some(item) => item,
                None => map.items.entry(key.to_owned()).or_insert(Item {
                    value: Value::Int(0),
                    expires: Some(expiry(now, ttl)),
                    durable,
                }),
            };
            let current = match &item.value {
                Value::Int(n) => *n,
                Value::Text(s) => s
                    .parse::<i64>()
                    .map_err(|_| StateError::NotANumber(key.to_owned()))?,
                Value::Cell(_) => return Err(StateError::NotANumber(key.to_owned())),
            };
            let value = current.saturating_add(by);
            item.value = Value::Int(value);
            let pending = if item.durable {
                let op = Op::Put {
                    key: key.to_owned(),
                    value: Value::Int(value),
                    expires: item.expires,
                };
                self.send(op)
            } else {
                None
            };
            (value, pending)
        };
        wait(pending).await?;
        Ok(value)
    }

    async fn rate(&self, key: &str, rate: &Rate, cost: u64) -> Result<RateAnswer> {
        let now = self.now();
        let mut map = self.lock();
        map.prune(now);
        let tat = match map.live(key, now).map(|i| &i.value) {
            Some(Value::Cell(tat)) => Some(*tat),
            _ => None,
        };
        let (answer, new_tat) = gcra::step(tat, now, rate, cost);
        if let Some(tat) = new_tat {
            // Past its TAT a cell means nothing: let it expire then.
            map.items.insert(
                key.to_owned(),
                Item {
                    value: Value::Cell(tat),
                    expires: Some(tat),
                    durable: false,
                },
            );
        }
        Ok(answer)
    }

    async fn entry(&self, key: &str) -> Result<Option<Entry>> {
        let now = self.now();
        Ok(self.lock().live(key, now).map(|i| Entry {
            key: key.to_string(),
            value: i.value.render(),
            expires_at: i.expires.map(from_micros),
        }))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<Entry>> {
        let now = self.now();
        let map = self.lock();
        let mut out: Vec<Entry> = map
            .items
            .iter()
            .filter(|(k, i)| k.starts_with(prefix) && i.live(now))
            .map(|(k, i)| Entry {
                key: k.clone(),
                value: i.value.render(),
                expires_at: i.expires.map(from_micros),
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn publish(&self, channel: &str, message: &str) -> Result<()> {
        self.channels.publish(channel, message);
        Ok(())
    }

    fn subscribe(&self, channel: &str) -> tokio::sync::mpsc::Receiver<String> {
        self.channels.subscribe(channel)
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::ManualClock;

    fn clock() -> Arc<ManualClock> {
        Arc::new(ManualClock::new(
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        ))
    }

    #[tokio::test]
    async fn values_expire_after_their_ttl() {
        let clock = clock();
        let state = EmbeddedState::memory_with_clock(clock.clone());
        state
            .set("k", "v", Some(Duration::from_secs(10)), Persist::Memory)
            .await
            .unwrap();
        assert_eq!(state.get("k").await.unwrap().as_deref(), Some("v"));
        clock.advance(Duration::from_secs(10));
        assert_eq!(state.get("k").await.unwrap(), None);
        assert!(state.list("").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn the_first_claim_wins_until_it_expires() {
        let clock = clock();
        let state = EmbeddedState::memory_with_clock(clock.clone());
        let ttl = Some(Duration::from_secs(900));
        let claim = |value, replacing| {
            state.claim("director:alice", value, replacing, ttl, Persist::Memory)
        };
        assert_eq!(claim("10.0.0.2", None).await.unwrap(), "10.0.0.2");
        assert_eq!(claim("10.0.0.3", None).await.unwrap(), "10.0.0.2");
        // Only the value it holds may be replaced.
        assert_eq!(
            claim("10.0.0.3", Some("10.0.0.4")).await.unwrap(),
            "10.0.0.2"
        );
        clock.advance(Duration::from_secs(600));
        // Renewed: 900 s from now.
        assert_eq!(
            claim("10.0.0.2", Some("10.0.0.2")).await.unwrap(),
            "10.0.0.2"
        );
        clock.advance(Duration::from_secs(600));
        assert_eq!(claim("10.0.0.3", None).await.unwrap(), "10.0.0.2");
        assert_eq!(
            claim("10.0.0.3", Some("10.0.0.2")).await.unwrap(),
            "10.0.0.3"
        );
        clock.advance(Duration::from_secs(900));
        assert_eq!(claim("10.0.0.4", None).await.unwrap(), "10.0.0.4");
    }

    #[tokio::test]
    async fn extending_renews_only_the_value_held_and_never_brings_a_key_back() {
        let clock = clock();
        let state = EmbeddedState::memory_with_clock(clock.clone());
        let ttl = Duration::from_secs(900);
        let extend = |value| state.extend("director:alice", value, ttl);
        assert_eq!(extend("10.0.0.2").await.unwrap(), None);
        assert_eq!(state.get("director:alice").await.unwrap(), None);
        state
            .claim(
                "director:alice",
                "10.0.0.2",
                None,
                Some(ttl),
                Persist::Memory,
            )
            .await
            .unwrap();
        clock.advance(Duration::from_secs(600));
        assert_eq!(
            extend("10.0.0.3").await.unwrap().as_deref(),
            Some("10.0.0.2")
        );
        assert_eq!(
            extend("10.0.0.2").await.unwrap().as_deref(),
            Some("10.0.0.2")
        );
        // Renewed: 900 s from the extension, not the claim.
        clock.advance(Duration::from_secs(600));
        assert_eq!(
            state.get("director:alice").await.unwrap().as_deref(),
            Some("10.0.0.2")
        );
        state.delete("director:alice").await.unwrap();
        assert_eq!(extend("10.0.0.2").await.unwrap(), None);
        assert_eq!(state.get("director:alice").await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_counter_keeps_the_expiry_of_its_first_increment() {
        let clock = clock();
        let state = EmbeddedState::memory_with_clock(clock.clone());
        let ttl = Duration::from_secs(600);
        assert_eq!(
            state.incr("fail:a", 1, ttl, Persist::Memory).await.unwrap(),
            1
        );
        clock.advance(Duration::from_secs(599));
        assert_eq!(
            state.incr("fail:a", 2, ttl, Persist::Memory).await.unwrap(),
            3
        );
        clock.advance(Duration::from_secs(1));
        assert_eq!(
            state.incr("fail:a", 1, ttl, Persist::Memory).await.unwrap(),
            1
        );
        state.set("text", "x", None, Persist::Memory).await.unwrap();
        assert!(matches!(
            state.incr("text", 1, ttl, Persist::Memory).await,
            Err(StateError::NotANumber(_))
        ));
    }

    #[tokio::test]
    async fn one_entry_is_read_with_its_expiry_as_a_listing_shows_it() {
        let state = EmbeddedState::memory_with_clock(clock());
        state
            .set(
                "director:user:a",
                "10.0.0.2",
                Some(Duration::from_secs(900)),
                Persist::Memory,
            )
            .await
            .unwrap();
        let listed = state.list("director:user:a").await.unwrap();
        assert_eq!(
            state.entry("director:user:a").await.unwrap().as_ref(),
            listed.first()
        );
        assert_eq!(state.entry("director:user:b").await.unwrap(), None);
    }

    #[tokio::test]
    async fn listing_by_prefix_is_sorted_and_shows_expiry() {
        let state = EmbeddedState::memory_with_clock(clock());
        for ip in ["192.0.2.9", "192.0.2.1"] {
            state
                .set(
                    &format!("ban:{ip}"),
                    "auth",
                    Some(Duration::from_secs(3600)),
                    Persist::Durable,
                )
                .await
                .unwrap();
        }
        state
            .set("grey:x", "1", None, Persist::Memory)
            .await
            .unwrap();
        let bans = state.list("ban:").await.unwrap();
        let keys: Vec<&str> = bans.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["ban:192.0.2.1", "ban:192.0.2.9"]);
        assert!(bans[0].expires_at.is_some());
        assert!(state.delete("ban:192.0.2.1").await.unwrap());
        assert!(!state.delete("ban:192.0.2.1").await.unwrap());
    }

    #[tokio::test]
    async fn the_rate_limit_refuses_beyond_the_burst_and_allows_again_later() {
        let clock = clock();
        let state = EmbeddedState::memory_with_clock(clock.clone());
        let rate = Rate::new(2, Duration::from_secs(60));
        assert!(state.rate("r", &rate, 1).await.unwrap().allowed);
        assert!(state.rate("r", &rate, 1).await.unwrap().allowed);
        let refused = state.rate("r", &rate, 1).await.unwrap();
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after, Some(Duration::from_secs(30)));
        clock.advance(Duration::from_secs(30));
        assert!(state.rate("r", &rate, 1).await.unwrap().allowed);
    }

    #[tokio::test]
    async fn writes_queued_together_reach_the_file_as_the_memory_has_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let clock = clock();
        let day = Some(Duration::from_secs(86_400));
        let expected = {
            let state = Arc::new(
                EmbeddedState::open_with_clock(&path, clock.clone())
                    .await
                    .unwrap(),
            );
            // Many writers at once: their changes reach the writer in
            // batches mixing puts and deletes of the same keys.
            let tasks: Vec<_> = (0..600)
                .map(|n| {
                    let state = state.clone();
                    tokio::spawn(async move {
                        let key = format!("grey:{}", n % 50);
                        if n % 7 == 3 {
                            state.delete(&key).await.map(|_| ())
                        } else {
                            state.set(&key, &n.to_string(), day, Persist::Durable).await
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap().unwrap();
            }
            state.list("grey:").await.unwrap()
        };
        assert!(expected.len() > 10, "{expected:?}");
        let reopened = EmbeddedState::open_with_clock(&path, clock).await.unwrap();
        assert_eq!(reopened.list("grey:").await.unwrap(), expected);
    }

    #[tokio::test]
    async fn state_survives_a_restart_for_bans_and_greylist_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let clock = clock();
        {
            let state = EmbeddedState::open_with_clock(&path, clock.clone())
                .await
                .unwrap();
            let day = Some(Duration::from_secs(86_400));
            state
                .set("ban:192.0.2.1", "auth", day, Persist::Durable)
                .await
                .unwrap();
            state
                .set("grey:t", "1,2", day, Persist::Durable)
                .await
                .unwrap();
            state
                .incr(
                    "awl:192.0.2.1",
                    5,
                    Duration::from_secs(86_400),
                    Persist::Durable,
                )
                .await
                .unwrap();
            state
                .set("ban:192.0.2.2", "gone", day, Persist::Durable)
                .await
                .unwrap();
            state.delete("ban:192.0.2.2").await.unwrap();
            state
                .incr(
                    "conn:192.0.2.1",
                    1,
                    Duration::from_secs(3600),
                    Persist::Memory,
                )
                .await
                .unwrap();
            let rate = Rate::new(1, Duration::from_secs(60));
            state.rate("rate:x", &rate, 1).await.unwrap();
        }
        let state = EmbeddedState::open_with_clock(&path, clock.clone())
            .await
            .unwrap();
        assert_eq!(
            state.get("ban:192.0.2.1").await.unwrap().as_deref(),
            Some("auth")
        );
        assert_eq!(state.get("grey:t").await.unwrap().as_deref(), Some("1,2"));
        assert_eq!(
            state
                .incr("awl:192.0.2.1", 1, Duration::from_secs(1), Persist::Durable)
                .await
                .unwrap(),
            6
        );
        assert_eq!(
            state.get("ban:192.0.2.2").await.unwrap(),
            None,
            "deleted stays deleted"
        );
        assert_eq!(
            state.get("conn:192.0.2.1").await.unwrap(),
            None,
            "memory-only"
        );
        assert_eq!(
            state.get("rate:x").await.unwrap(),
            None,
            "rate cells are memory-only"
        );
        drop(state);
        clock.advance(Duration::from_secs(86_400));
        let state = EmbeddedState::open_with_clock(&path, clock).await.unwrap();
        assert_eq!(
            state.get("ban:192.0.2.1").await.unwrap(),
            None,
            "expired while stopped"
        );
    }

    #[tokio::test]
    async fn a_change_made_by_another_process_reaches_the_running_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let running = EmbeddedState::open(&path).await.unwrap();
        running
            .set("ban:192.0.2.3", "x", None, Persist::Durable)
            .await
            .unwrap();
        // Let the writer take its first look at the file.
        tokio::time::sleep(Duration::from_millis(100)).await;
        {
            let cli = EmbeddedState::open(&path).await.unwrap();
            cli.set("ban:192.0.2.1", "manual", None, Persist::Durable)
                .await
                .unwrap();
            cli.delete("ban:192.0.2.3").await.unwrap();
        }
        let mut seen = false;
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if running.get("ban:192.0.2.1").await.unwrap().is_some() {
                seen = true;
                break;
            }
        }
        assert!(seen, "the running state sees the new ban");
        assert_eq!(running.get("ban:192.0.2.3").await.unwrap(), None);
    }
}
