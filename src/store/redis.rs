//! The Redis backend: the store shared by several nodes behind a load balancer.
//!
//! # Layout
//! Every key carries the namespace as a Redis Cluster hash tag, `{ns}`, so all of one
//! deployment's keys live in one slot and the Lua scripts below may touch them together:
//! - `{ns}:kv:<key>` — a value;
//! - `{ns}:keys` — a sorted set of every key (all scores 0), the ordered index that makes
//!   [`Kv::scan`] a `ZRANGEBYLEX … LIMIT` in O(log n + limit);
//! - `{ns}:mark:<key>` — a mark, holding its expiry (Unix ms);
//! - `{ns}:events` — the pub/sub channel of [`Kv::notify`].
//!
//! # Atomicity
//! [`Kv::commit`] is one Lua script: Redis runs scripts atomically, and the script evaluates every
//! check before it writes anything, so a failed check writes nothing. Values and their index
//! entries change together, so a key is in `{ns}:keys` exactly when `{ns}:kv:<key>` exists.
//!
//! # Durability
//! "Durable when `commit` returns" holds only as far as the Redis server makes it so. Run Redis
//! with AOF and `appendfsync always` (`appendonly yes`, `appendfsync always`): Redis then fsyncs
//! the AOF before it answers a write, so an acknowledged commit survives a crash of Redis. With
//! the default `appendfsync everysec` up to one second of acknowledged writes can be lost; with
//! replication, a failover can lose writes the replica had not yet received.
//!
//! # Marks
//! A mark holds its logical expiry, compared with the caller's `now` (so every backend, and the
//! conformance suite with explicit times, agree); Redis's own key expiry (`PX`, at least one
//! second) only garbage-collects it. This differs from a bare `SET … NX PX`, which would follow
//! the Redis server's clock instead of the injected one.
//!
//! # Notifications
//! [`Kv::notify`] publishes on `{ns}:events`. A background task holds a dedicated pub/sub
//! connection and forwards every message into a local [`broadcast`] channel; when the connection
//! drops it reconnects with exponential backoff (100 ms doubling to 5 s). Messages published while
//! it is disconnected are lost: notifications are best effort, and caches re-read periodically.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Client, Script};
use tokio::sync::broadcast;
use tokio::task::AbortHandle;

use super::memory::{EVENT_CAPACITY, check_key};
use super::{Batch, Check, Error, Kv};

/// The shortest Redis-side lifetime of a mark, so a mark set just before its expiry is still
/// seen by a concurrent `put_mark` on another node.
const MIN_MARK_TTL_MS: i64 = 1_000;
/// How long a command may wait for its answer (a commit may wait for an fsync).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Reconnection attempts per failing command (100 ms, 200 ms, 400 ms apart); later commands try
/// again.
const CONNECT_RETRIES: usize = 3;
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Checks, then puts, then deletes, all or nothing.
/// `KEYS`: `[index, check keys…, put keys…, delete keys…]`.
/// `ARGV`: `[#checks, #puts, #deletes, (kind, value) per check, (value, member) per put,
/// member per delete]`, kind being `A` (absent), `P` (present) or `E` (equals).
/// Returns 0 on success or the 1-based index of the first failing check.
const COMMIT_LUA: &str = r"
local nc, np, nd = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local a = 4
for i = 1, nc do
  local kind, want = ARGV[a], ARGV[a + 1]
  a = a + 2
  local cur = redis.call('GET', KEYS[1 + i])
  if kind == 'A' then
    if cur then return i end
  elseif kind == 'P' then
    if not cur then return i end
  else
    if cur ~= want then return i end
  end
end
for i = 1, np do
  redis.call('SET', KEYS[1 + nc + i], ARGV[a])
  redis.call('ZADD', KEYS[1], 0, ARGV[a + 1])
  a = a + 2
end
for i = 1, nd do
  redis.call('DEL', KEYS[1 + nc + np + i])
  redis.call('ZREM', KEYS[1], ARGV[a])
  a = a + 1
end
return 0
";

/// One consistent page: `KEYS[1]` the index; `ARGV`: min, max, count, value-key prefix.
/// Returns `[key, value, key, value, …]`.
const SCAN_LUA: &str = r"
local members = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', 0, ARGV[3])
local out = {}
for _, m in ipairs(members) do
  local v = redis.call('GET', ARGV[4] .. m)
  if v then
    out[#out + 1] = m
    out[#out + 1] = v
  end
end
return out
";

/// `KEYS[1]` the mark; `ARGV`: expires (ms), now (ms), Redis TTL (ms). 1 if newly set, else 0.
const MARK_LUA: &str = r"
local cur = redis.call('GET', KEYS[1])
if cur and tonumber(cur) > tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
";

/// A [`Kv`] over Redis, shared by every node using the same namespace.
pub struct RedisKv {
    con: ConnectionManager,
    ns: String,
    commit_script: Script,
    scan_script: Script,
    mark_script: Script,
    events: broadcast::Sender<String>,
    pump: AbortHandle,
}

impl std::fmt::Debug for RedisKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisKv")
            .field("ns", &self.ns)
            .finish_non_exhaustive()
    }
}

fn backend(e: &redis::RedisError) -> Error {
    Error::Backend(format!("redis: {e}"))
}

impl RedisKv {
    /// Connects to the Redis at `url` (`redis://host:port/db`), using `namespace` to keep this
    /// deployment's keys apart, and subscribes to its notifications before returning. Must be
    /// called inside a tokio runtime (it spawns the subscriber task).
    ///
    /// # Errors
    /// [`Error::Backend`] when the URL is invalid or Redis cannot be reached.
    pub async fn connect(url: &str, namespace: &str) -> Result<Self, Error> {
        let client = Client::open(url).map_err(|e| backend(&e))?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_number_of_retries(CONNECT_RETRIES);
        let con = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(|e| backend(&e))?;
        let ns = format!("{{{namespace}}}");
        let channel = format!("{ns}:events");
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        // Subscribe now, so a notify sent after `connect` returns is always seen.
        let first = subscribe(&client, &channel)
            .await
            .map_err(|e| backend(&e))?;
        let pump = tokio::spawn(pump(client, channel, events.clone(), first)).abort_handle();
        Ok(Self {
            con,
            ns,
            commit_script: Script::new(COMMIT_LUA),
            scan_script: Script::new(SCAN_LUA),
            mark_script: Script::new(MARK_LUA),
            events,
            pump,
        })
    }

    fn kv_key(&self, key: &str) -> String {
        format!("{}:kv:{key}", self.ns)
    }

    fn index_key(&self) -> String {
        format!("{}:keys", self.ns)
    }

    fn mark_key(&self, key: &str) -> String {
        format!("{}:mark:{key}", self.ns)
    }
}

impl Drop for RedisKv {
    fn drop(&mut self) {
        self.pump.abort();
    }
}

/// A live subscription: both halves are kept, so the connection stays open.
struct Subscription {
    _sink: redis::aio::PubSubSink,
    stream: redis::aio::PubSubStream,
}

async fn subscribe(client: &Client, channel: &str) -> redis::RedisResult<Subscription> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    let (sink, stream) = pubsub.split();
    Ok(Subscription {
        _sink: sink,
        stream,
    })
}

/// Forwards pub/sub messages into `events` forever, reconnecting with backoff.
async fn pump(
    client: Client,
    channel: String,
    events: broadcast::Sender<String>,
    first: Subscription,
) {
    let mut current = Some(first);
    let mut backoff = BACKOFF_MIN;
    loop {
        let sub = match current.take() {
            Some(sub) => sub,
            None => match subscribe(&client, &channel).await {
                Ok(sub) => {
                    tracing::info!(%channel, "redis pub/sub reconnected");
                    backoff = BACKOFF_MIN;
                    sub
                }
                Err(e) => {
                    tracing::warn!(%channel, error = %e, ?backoff, "redis pub/sub reconnect failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    continue;
                }
            },
        };
        let Subscription { _sink, mut stream } = sub;
        while let Some(msg) = stream.next().await {
            match msg.get_payload::<String>() {
                // `send` fails only when nobody is watching, which is fine.
                Ok(topic) => drop(events.send(topic)),
                Err(e) => tracing::warn!(error = %e, "ignoring a non-UTF-8 notification"),
            }
        }
        tracing::warn!(%channel, "redis pub/sub connection lost; reconnecting");
        tokio::time::sleep(backoff).await;
    }
}

/// The `ZRANGEBYLEX` bounds selecting the keys that start with `prefix`, strictly after
/// `start_after` when that is further on.
fn lex_bounds(prefix: &str, start_after: Option<&str>) -> (Vec<u8>, Vec<u8>) {
    let min = match start_after {
        Some(after) if after >= prefix => [b"(", after.as_bytes()].concat(),
        _ => [b"[", prefix.as_bytes()].concat(),
    };
    // Keys are UTF-8, which never contains the byte 0xff, so every key starting with `prefix`
    // sorts strictly below `prefix ++ 0xff`.
    let max = if prefix.is_empty() {
        b"+".to_vec()
    } else {
        [b"(", prefix.as_bytes(), &[0xff]].concat()
    };
    (min, max)
}

#[async_trait]
impl Kv for RedisKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        let mut con = self.con.clone();
        con.get(self.kv_key(key)).await.map_err(|e| backend(&e))
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, Error> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut con = self.con.clone();
        let full: Vec<String> = keys.iter().map(|k| self.kv_key(k)).collect();
        redis::cmd("MGET")
            .arg(&full)
            .query_async(&mut con)
            .await
            .map_err(|e| backend(&e))
    }

    async fn scan(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, Error> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let (min, max) = lex_bounds(prefix, start_after);
        let count = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut con = self.con.clone();
        let flat: Vec<Vec<u8>> = self
            .scan_script
            .key(self.index_key())
            .arg(min)
            .arg(max)
            .arg(count)
            .arg(format!("{}:kv:", self.ns))
            .invoke_async(&mut con)
            .await
            .map_err(|e| backend(&e))?;
        let mut out = Vec::with_capacity(flat.len() / 2);
        let mut it = flat.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            let key = String::from_utf8(k).map_err(|e| Error::Corrupt {
                key: String::from_utf8_lossy(e.as_bytes()).into_owned(),
                reason: "index member is not UTF-8".to_owned(),
            })?;
            out.push((key, v));
        }
        Ok(out)
    }

    /// Checks first, then puts, then deletes (a key both put and deleted ends up absent).
    async fn commit(&self, batch: Batch) -> Result<(), Error> {
        let mut inv = self.commit_script.prepare_invoke();
        inv.key(self.index_key());
        for check in &batch.checks {
            inv.key(self.kv_key(check_key(check)));
        }
        for (key, _) in &batch.puts {
            inv.key(self.kv_key(key));
        }
        for key in &batch.deletes {
            inv.key(self.kv_key(key));
        }
        inv.arg(batch.checks.len())
            .arg(batch.puts.len())
            .arg(batch.deletes.len());
        for check in &batch.checks {
            match check {
                Check::Absent(_) => inv.arg("A").arg(""),
                Check::Present(_) => inv.arg("P").arg(""),
                Check::Equals(_, want) => inv.arg("E").arg(want.as_slice()),
            };
        }
        for (key, value) in &batch.puts {
            inv.arg(value.as_slice()).arg(key.as_str());
        }
        for key in &batch.deletes {
            inv.arg(key.as_str());
        }
        let mut con = self.con.clone();
        let failed: usize = inv.invoke_async(&mut con).await.map_err(|e| backend(&e))?;
        if failed == 0 {
            return Ok(());
        }
        match failed.checked_sub(1).and_then(|i| batch.checks.get(i)) {
            Some(check) => Err(Error::Conflict(check_key(check).to_owned())),
            None => Err(Error::Backend(format!(
                "redis: commit script returned {failed} for {} checks",
                batch.checks.len()
            ))),
        }
    }

    async fn put_mark(
        &self,
        key: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, Error> {
        let expires_ms = expires_at.timestamp_millis();
        let now_ms = now.timestamp_millis();
        let ttl_ms = expires_ms.saturating_sub(now_ms).max(MIN_MARK_TTL_MS);
        let mut con = self.con.clone();
        let set: i64 = self
            .mark_script
            .key(self.mark_key(key))
            .arg(expires_ms)
            .arg(now_ms)
            .arg(ttl_ms)
            .invoke_async(&mut con)
            .await
            .map_err(|e| backend(&e))?;
        Ok(set == 1)
    }

    async fn notify(&self, topic: &str) -> Result<(), Error> {
        let mut con = self.con.clone();
        let _receivers: i64 = con
            .publish(format!("{}:events", self.ns), topic)
            .await
            .map_err(|e| backend(&e))?;
        Ok(())
    }

    fn watch(&self) -> broadcast::Receiver<String> {
        self.events.subscribe()
    }

    fn backend_name(&self) -> &'static str {
        "redis"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lex_bounds_cover_exactly_the_prefix() {
        assert_eq!(lex_bounds("", None), (b"[".to_vec(), b"+".to_vec()));
        assert_eq!(
            lex_bounds("a/", None),
            (b"[a/".to_vec(), b"(a/\xff".to_vec())
        );
        assert_eq!(lex_bounds("a/", Some("a/b")).0, b"(a/b".to_vec());
        assert_eq!(lex_bounds("a/", Some("a/")).0, b"(a/".to_vec());
        assert_eq!(lex_bounds("a/", Some("0")).0, b"[a/".to_vec());
    }
}
