//! The state on Redis (`state.backend = "redis"`), shared by every node of a
//! cluster: each operation is one command or one Lua script, so it is
//! atomic on the server and two nodes never both take the last unit of a
//! rate limit. Keys are `state.prefix` + the caller's key, so several sites
//! (or tests) share one Redis. Times come from the Redis server's clock
//! (`TIME` in the scripts): the nodes' clocks may disagree, the limit
//! does not.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};

use crate::gcra::{Rate, RateAnswer};
use crate::{Entry, Persist, Result, State, StateError};

/// INCRBY, and the expiry set only when the key has none (created now).
const INCR: &str = r"
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2], 'NX')
return value
";

/// One GCRA step (gcra.rs, the same arithmetic) at the server's time:
/// ARGV[1] the tolerance, ARGV[2] the increment, in microseconds. Returns
/// {allowed, microseconds to wait (-1: never)}.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tolerance = tonumber(ARGV[1])
local increment = tonumber(ARGV[2])
if increment > tolerance then
  return {0, -1}
end
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then
  tat = now
end
local new_tat = tat + increment
local allow_at = new_tat - tolerance
if now < allow_at then
  return {0, allow_at - now}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.floor((new_tat - now) / 1000) + 1)
return {1, 0}
";

/// SET ARGV[1] unless the key holds a value other than ARGV[1] and (when
/// ARGV[3] is 1) ARGV[4]; ARGV[2] the expiry in milliseconds (0: none).
/// Returns the value the key holds afterwards.
const CLAIM: &str = r"
local found = redis.call('GET', KEYS[1])
if found and found ~= ARGV[1] and not (ARGV[3] == '1' and found == ARGV[4]) then
  return found
end
if tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
return ARGV[1]
";

/// PEXPIRE ARGV[2] if the key holds ARGV[1]; returns what it holds (nil:
/// nothing).
const EXTEND: &str = r"
local found = redis.call('GET', KEYS[1])
if found == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return found
";

pub struct RedisState {
    /// For subscriptions, each on a connection of its own.
    client: redis::Client,
    connection: ConnectionManager,
    prefix: String,
    incr: Script,
    gcra: Script,
    claim: Script,
    extend: Script,
}

impl RedisState {
    /// Connects to `url` (`redis://host:port/db`, `rediss://` for TLS);
    /// every key is put under `prefix`. Fails when Redis does not answer:
    /// a node does not start on a state it cannot reach.
    pub async fn connect(url: &str, prefix: &str) -> Result<RedisState> {
        let client = redis::Client::open(url).map_err(error)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(2);
        let connection = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(error)?;
        let state = RedisState {
            client,
            connection,
            prefix: prefix.to_string(),
            incr: Script::new(INCR),
            gcra: Script::new(GCRA),
            claim: Script::new(CLAIM),
            extend: Script::new(EXTEND),
        };
        // The connection manager connects lazily on some errors: ask once.
        let _: String = redis::cmd("PING")
            .query_async(&mut state.connection.clone())
            .await
            .map_err(error)?;
        Ok(state)
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

/// Keys SCAN looks at per step of a listing.
const SCAN_COUNT: u32 = 1000;

/// Messages a subscriber may fall behind by before Redis's reader waits.
const BACKLOG: usize = 256;

/// Between two attempts to subscribe again after the connection failed.
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(1);

/// Forwards the messages of `channel` to `to` until `to` is dropped
/// (`Ok`) or the connection fails (`Err`).
async fn forward(
    client: &redis::Client,
    channel: &str,
    to: &tokio::sync::mpsc::Sender<String>,
) -> std::result::Result<(), redis::RedisError> {
    use futures_util::StreamExt;
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    let mut messages = pubsub.on_message();
    loop {
        tokio::select! {
            message = messages.next() => {
                let Some(message) = message else {
                    return Err(redis::RedisError::from((
                        redis::ErrorKind::Io,
                        "the subscription's connection closed",
                    )));
                };
                let payload: String = message.get_payload()?;
                if to.send(payload).await.is_err() {
                    return Ok(());
                }
            }
            _ = to.closed() => return Ok(()),
        }
    }
}

fn error(e: redis::RedisError) -> StateError {
    StateError::Redis(e.to_string())
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// `text` with the characters SCAN's MATCH gives a meaning to escaped.
fn glob_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[async_trait]
impl State for RedisState {
    async fn get(&self, key: &str) -> Result<Option<String>> {
        let mut c = self.connection.clone();
        c.get(self.key(key)).await.map_err(error)
    }

    async fn set(
        &self,
        key: &str,
        value: &str,
        ttl: Option<Duration>,
        _persist: Persist,
    ) -> Result<()> {
        let mut c = self.connection.clone();
        match ttl {
            Some(ttl) => c.pset_ex(self.key(key), value, millis(ttl)).await,
            None => c.set(self.key(key), value).await,
        }
        .map_err(error)
    }

    async fn claim(
        &self,
        key: &str,
        value: &str,
        replacing: Option<&str>,
        ttl: Option<Duration>,
        _persist: Persist,
    ) -> Result<String> {
        let mut c = self.connection.clone();
        self.claim
            .key(self.key(key))
            .arg(value)
            .arg(ttl.map_or(0, millis))
            .arg(if replacing.is_some() { "1" } else { "0" })
            .arg(replacing.unwrap_or(""))
            .invoke_async(&mut c)
            .await
            .map_err(error)
    }

    async fn extend(&self, key: &str, value: &str, ttl: Duration) -> Result<Option<String>> {
        let mut c = self.connection.clone();
        self.extend
            .key(self.key(key))
            .arg(value)
            .arg(millis(ttl).max(1))
            .invoke_async(&mut c)
            .await
            .map_err(error)
    }

    async fn entry(&self, key: &str) -> Result<Option<Entry>> {
        let mut c = self.connection.clone();
        let now = SystemTime::now();
        let (value, ttl): (Option<String>, i64) = redis::pipe()
            .get(self.key(key))
            .pttl(self.key(key))
            .query_async(&mut c)
            .await
            .map_err(error)?;
        Ok(value.map(|value| Entry {
            key: key.to_string(),
            value,
            expires_at: (ttl >= 0).then(|| now + Duration::from_millis(ttl as u64)),
        }))
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let mut c = self.connection.clone();
        let removed: i64 = c.del(self.key(key)).await.map_err(error)?;
        Ok(removed > 0)
    }

    async fn incr(&self, key: &str, by: i64, ttl: Duration, _persist: Persist) -> Result<i64> {
        let mut c = self.connection.clone();
        self.incr
            .key(self.key(key))
            .arg(by)
            .arg(millis(ttl))
            .invoke_async(&mut c)
            .await
            .map_err(|e| match e.kind() {
                redis::ErrorKind::Server(_) if e.to_string().contains("not an integer") => {
                    StateError::NotANumber(key.to_string())
                }
                _ => error(e),
            })
    }

    async fn rate(&self, key: &str, rate: &Rate, cost: u64) -> Result<RateAnswer> {
        let mut c = self.connection.clone();
        let (allowed, wait): (i64, i64) = self
            .gcra
            .key(self.key(key))
            .arg(rate.span_us(rate.burst.max(1)))
            .arg(rate.span_us(cost))
            .invoke_async(&mut c)
            .await
            .map_err(error)?;
        Ok(RateAnswer {
            allowed: allowed == 1,
            retry_after: match wait {
                -1 => None,
                wait => Some(Duration::from_micros(wait.max(0) as u64)),
            },
        })
    }

    async fn list(&self, prefix: &str) -> Result<Vec<Entry>> {
        let mut c = self.connection.clone();
        let pattern = format!("{}*", glob_literal(&self.key(prefix)));
        let mut keys: Vec<String> = Vec::new();
        // SCAN walks the whole keyspace whatever the pattern: a thousand
        // keys a step, not Redis's ten, or a listing on a Redis holding a
        // site's 100,000 assignments takes ten thousand round trips.
        let mut cursor = 0u64;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(SCAN_COUNT)
                .query_async(&mut c)
                .await
                .map_err(error)?;
            keys.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        keys.sort();
        keys.dedup();
        let now = SystemTime::now();
        let mut entries = Vec::with_capacity(keys.len());
        for key in keys {
            let (value, ttl): (Option<String>, i64) = redis::pipe()
                .get(&key)
                .pttl(&key)
                .query_async(&mut c)
                .await
                .map_err(error)?;
            // Expired or deleted between the scan and now.
            let Some(value) = value else { continue };
            entries.push(Entry {
                key: key[self.prefix.len()..].to_string(),
                value,
                expires_at: (ttl >= 0).then(|| now + Duration::from_millis(ttl as u64)),
            });
        }
        Ok(entries)
    }

    async fn publish(&self, channel: &str, message: &str) -> Result<()> {
        let mut c = self.connection.clone();
        let _receivers: i64 = c.publish(self.key(channel), message).await.map_err(error)?;
        Ok(())
    }

    fn subscribe(&self, channel: &str) -> tokio::sync::mpsc::Receiver<String> {
        let (to, receiver) = tokio::sync::mpsc::channel(BACKLOG);
        let client = self.client.clone();
        let channel = self.key(channel);
        tokio::spawn(async move {
            let mut failing = false;
            loop {
                match forward(&client, &channel, &to).await {
                    Ok(()) => return,
                    Err(err) if !failing => {
                        failing = true;
                        tracing::warn!(target: "state", "subscription to {channel} on Redis lost, retrying every second: {err}");
                    }
                    Err(_) => {}
                }
                if to.is_closed() {
                    return;
                }
                tokio::time::sleep(RESUBSCRIBE_AFTER).await;
            }
        });
        receiver
    }
}
