//! A fleet of verifiers sharing state through Redis (or Valkey, the same
//! protocol): replay detection ([`RedisReplayGuard`]) and the fetched
//! certificate chains, negative cache and CRLs ([`RedisShared`], behind
//! each node's in-memory cache). Edge layer (network, wall clock); the
//! verdict logic is the replay module's, the cache logic [`crate::fetch`]'s.
//! The protocol is the `redis` crate's (its tokio connection manager).
//!
//! **Keys.** `{prefix}replay:{hex}`: one per PASSporT, `hex` the 128-bit
//! replay key (SHA-256 of `header.payload` and of the signature with `s`
//! made low: the request goes out before the signature is verified, see
//! [`ReplayGuard::begin`], so a forged copy lands on a key of its own),
//! written with `SET NX PX` (freshness window, past plus future, plus
//! [`REPLAY_SKEW_S`] for the nodes' clocks); its value is `"{first_seen}
//! {call}"`, `call` a 64-bit hash of the Call-ID, so the same call forked
//! or retried to another node is not a replay. One round trip
//! (`SET .. NX PX .. GET`, Redis 7.0+ and Valkey), written before the
//! signature is checked and read after it; older servers take a second
//! one (`GET`) for a PASSporT seen before. `{prefix}x5u:{hex}` / `{prefix}crl:{hex}` (`hex` from
//! SHA-256 of the URL): the body fetched, or the failure, with the expiry
//! the fetching node derived from `Cache-Control` (a chain only once its
//! node vouched for it; until then, a body-less `U` marker for the claim's
//! hold, see [`SharedEntry::Unvouched`]); `{prefix}claim:...`
//! (`SET NX PX`) lets one node fetch while the others wait for its entry,
//! so the fleet fetches a certificate once.
//!
//! **Time.** Every Redis call is bounded by `timeout` (default 50 ms): a
//! call is never held longer than that by Redis. When Redis does not answer,
//! the [`RedisFailure`] policy decides: `open` verifies without cross-node
//! replay detection (a same-node replay is still caught by a local store)
//! with a warning in the result, `closed` refuses the call
//! (`replay-unavailable`). Caches simply fall back to fetching. The
//! connection comes back by itself, with backoff (the connection manager's
//! reconnect, and a connector task when Redis was down at start).
//!
//! **Awaited in the service.** `shaken serve` verifies without the replay
//! step and awaits [`ReplayGuard::check_async`]: a connection manager made
//! on the service's own runtime, the checks of concurrent calls queued and
//! sent as one pipeline by a flusher task, so no worker waits on Redis.
//! Until that manager is made (the first calls, a failure) the check below
//! runs instead.
//!
//! **Sync over async.** [`ReplayGuard`] is synchronous (the verifier is
//! sans-I/O and called from threads in the CLI and C). The blocking check
//! writes its command before the signature is verified
//! ([`ReplayGuard::begin`]) and reads the answer after, on the calling
//! thread, over a pool of
//! the `redis` crate's blocking connections whose socket timeouts are
//! `timeout` (connect included): no thread hop, about the CPU of one ECDSA
//! verification (a first version that sent every check to a runtime of its
//! own cost 45 % of a node's throughput in thread wake-ups; see
//! BENCHMARKS.md). A healthy check takes tens of microseconds, like the
//! verification around it, and runs inline; once a check failed or took
//! more than 2 ms the link is "degraded", and inside a multi-threaded tokio
//! runtime (`shaken serve`) the next checks wait through
//! `tokio::task::block_in_place`, so the worker's other tasks move to
//! another thread: a slow Redis holds one worker at most once, for at most
//! `timeout`. (In a current-thread runtime, where that is impossible, a
//! check blocks it for at most `timeout`.) The shared-cache calls are async:
//! they run on a one-thread runtime of this module (`shaken-redis`, the
//! tokio connection manager, which reconnects by itself) and are awaited.

use crate::config::{ConfigError, RedisFailure, Setting, VerifierConfig};
use crate::fetch::{Claim, SharedCache, SharedEntry, SharedFuture, SharedKind};
use crate::replay::{
    call_id_key, judge, replay_key, replay_key_signed, ReplayCheck, ReplayGuard, ReplayInFlight,
    ReplayStore, Replayed,
};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::IntoConnectionInfo;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

/// Seconds a replay key outlives the freshness window: the nodes' clocks
/// may differ by this much (NTP keeps them far closer), so a PASSporT is
/// still known to the fleet for as long as any node could accept its `iat`.
pub const REPLAY_SKEW_S: i64 = 5;
/// The first connection at start: a wrong password or an unreachable Redis
/// shows within this time.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Backoff of the connector task when Redis was down at start.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Histogram buckets of Redis call latency, seconds.
const BUCKETS: [f64; 10] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
];
/// Longest wait between two attempts at a blocking connection.
const RETRY_MAX: Duration = Duration::from_secs(1);
/// Idle blocking connections kept (about the threads that verify at once).
const MAX_IDLE: usize = 64;
/// A check slower than this marks the link degraded: the next waits go
/// through `block_in_place` instead of on the tokio worker.
const DEGRADED_AFTER: Duration = Duration::from_millis(2);
/// A shared entry's header line is at most this long (kind, expiry, code, URL).
const MAX_HEADER: usize = 4096;

/// How a verifier reaches Redis.
#[derive(Clone)]
#[non_exhaustive]
pub struct RedisOptions {
    /// `redis://[user[:password]@]host[:port][/db]` or `rediss://` (TLS).
    pub url: String,
    /// A password that replaces the URL's (from `redis-password-file`).
    pub password: Option<String>,
    /// The prefix of every key.
    pub prefix: String,
    /// The bound on every call.
    pub timeout: Duration,
    /// What a call becomes when Redis does not answer.
    pub failure: RedisFailure,
}

impl std::fmt::Debug for RedisOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisOptions")
            .field("url", &redact(&self.url))
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("failure", &self.failure)
            .finish_non_exhaustive()
    }
}

impl RedisOptions {
    /// The defaults (prefix `shaken:`, 50 ms, `open`) for this URL.
    pub fn new(url: impl Into<String>) -> Self {
        RedisOptions {
            url: url.into(),
            password: None,
            prefix: crate::config::DEFAULT_REDIS_PREFIX.to_owned(),
            timeout: Duration::from_millis(crate::config::DEFAULT_REDIS_TIMEOUT_MS),
            failure: RedisFailure::Open,
        }
    }

    /// The Redis settings of a verifier configuration (reads the password
    /// file); `None` without `redis`.
    pub fn from_config(c: &VerifierConfig) -> Result<Option<Self>, ConfigError> {
        let Some(url) = &c.redis else {
            return Ok(None);
        };
        let password = match &c.redis_password_file {
            None => None,
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Redis {
                    setting: Setting::RedisPasswordFile,
                    detail: format!("{}: {e}", path.display()),
                })?;
                let pw = text.lines().next().unwrap_or("").trim_end().to_owned();
                if pw.is_empty() {
                    return Err(ConfigError::Redis {
                        setting: Setting::RedisPasswordFile,
                        detail: format!("{}: the file holds no password", path.display()),
                    });
                }
                Some(pw)
            }
        };
        Ok(Some(RedisOptions {
            url: url.clone(),
            password,
            prefix: c.redis_prefix.clone(),
            timeout: Duration::from_millis(c.redis_timeout_ms.max(1)),
            failure: c.redis_failure,
        }))
    }
}

/// A URL with its password replaced by `***` (for logs and errors).
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => {
            // Not a URL: show only what precedes a possible user-info part.
            match url.rsplit_once('@') {
                Some((_, host)) => format!("***@{}", host.chars().take(200).collect::<String>()),
                None => url.chars().take(200).collect(),
            }
        }
    }
}

/// Why one Redis call gave no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fail {
    /// Not connected (reconnecting).
    Down,
    /// No answer within the timeout.
    Timeout(Duration),
    /// An error from the connection or the server.
    Error(String),
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fail::Down => f.write_str("is not connected (reconnecting)"),
            Fail::Timeout(t) => write!(f, "did not answer within {} ms", t.as_millis()),
            Fail::Error(e) => write!(f, "failed: {e}"),
        }
    }
}

impl Fail {
    /// A Redis error; its own response timeout counts as a timeout.
    fn from_redis(e: &redis::RedisError, limit: Duration) -> Fail {
        if e.is_timeout() {
            Fail::Timeout(limit)
        } else {
            Fail::Error(e.to_string())
        }
    }
}

/// Counters of the Redis link, for `/metrics`.
#[derive(Default)]
struct Counters {
    commands: AtomicU64,
    errors: AtomicU64,
    timeouts: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len() + 1],
    latency_us: AtomicU64,
    replay_unchecked: AtomicU64,
    replay_refused: AtomicU64,
    shared_hits: AtomicU64,
    shared_misses: AtomicU64,
    shared_writes: AtomicU64,
    fleet_waits: AtomicU64,
    connects: AtomicU64,
    replay_awaited: AtomicU64,
}

fn bump(a: &AtomicU64) {
    a.fetch_add(1, Ordering::Relaxed);
}

/// A snapshot of the Redis link's state and counters.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct RedisStats {
    /// Whether the last call succeeded (the link is up).
    pub up: bool,
    /// Calls made (each bounded by the timeout).
    pub commands: u64,
    /// Calls that failed (errors and timeouts, and calls while disconnected).
    pub errors: u64,
    /// Of those, calls that hit the timeout.
    pub timeouts: u64,
    /// Latency histogram: counts per bucket of [`RedisStats::BUCKETS`], and
    /// the calls slower than the last.
    pub latency_buckets: Vec<u64>,
    /// Sum of the latencies, microseconds.
    pub latency_sum_us: u64,
    /// Calls that passed without cross-node replay detection (policy open).
    pub replay_unchecked: u64,
    /// Calls refused because the replay status was unknown (policy closed).
    pub replay_refused: u64,
    /// Chains, CRLs or failures another node fetched, read from Redis.
    pub shared_hits: u64,
    /// Local misses that Redis could not answer either.
    pub shared_misses: u64,
    /// Entries this node wrote for the fleet.
    pub shared_writes: u64,
    /// Times this node waited for another node's fetch.
    pub fleet_waits: u64,
    /// Connections established (the first and every reconnection by the
    /// connector).
    pub connects: u64,
    /// Replay checks awaited on the service's runtime (the others ran on
    /// the verifying thread: the CLI, C, or while that connection was made).
    pub replay_awaited: u64,
}

impl RedisStats {
    /// The upper bounds of the latency buckets, seconds.
    pub const BUCKETS: [f64; 10] = BUCKETS;

    /// The Prometheus text exposition of these counters (`shaken_redis_*`).
    pub fn render_prometheus(&self) -> String {
        let mut o = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, v: u64| {
            let _ = writeln!(o, "# HELP shaken_redis_{name} {help}");
            let _ = writeln!(o, "# TYPE shaken_redis_{name} {kind}");
            let _ = writeln!(o, "shaken_redis_{name} {v}");
        };
        metric(
            "up",
            "gauge",
            "1 when the last Redis call succeeded, 0 when Redis is unreachable or slow.",
            u64::from(self.up),
        );
        metric(
            "commands_total",
            "counter",
            "Redis calls made.",
            self.commands,
        );
        metric(
            "errors_total",
            "counter",
            "Redis calls that failed (errors, timeouts, disconnected).",
            self.errors,
        );
        metric(
            "timeouts_total",
            "counter",
            "Redis calls that hit the timeout.",
            self.timeouts,
        );
        metric(
            "replay_unchecked_total",
            "counter",
            "Calls verified without cross-node replay detection (Redis down, policy open).",
            self.replay_unchecked,
        );
        metric(
            "replay_refused_total",
            "counter",
            "Calls refused because their replay status was unknown (Redis down, policy closed).",
            self.replay_refused,
        );
        metric(
            "shared_hits_total",
            "counter",
            "Chains, CRLs and failures read from the fleet's shared cache.",
            self.shared_hits,
        );
        metric(
            "shared_misses_total",
            "counter",
            "Local cache misses the shared cache could not answer.",
            self.shared_misses,
        );
        metric(
            "shared_writes_total",
            "counter",
            "Entries written to the shared cache by this node.",
            self.shared_writes,
        );
        metric(
            "fleet_waits_total",
            "counter",
            "Times this node waited for a fetch claimed by another node.",
            self.fleet_waits,
        );
        metric(
            "connects_total",
            "counter",
            "Connections to Redis established.",
            self.connects,
        );
        metric(
            "replay_awaited_total",
            "counter",
            "Replay checks awaited on the service's runtime instead of blocking a worker.",
            self.replay_awaited,
        );
        let _ = writeln!(
            o,
            "# HELP shaken_redis_latency_seconds Latency of Redis calls."
        );
        let _ = writeln!(o, "# TYPE shaken_redis_latency_seconds histogram");
        let mut cumulative = 0u64;
        for (i, le) in BUCKETS.iter().enumerate() {
            cumulative += self.latency_buckets.get(i).copied().unwrap_or(0);
            let _ = writeln!(
                o,
                "shaken_redis_latency_seconds_bucket{{le=\"{le}\"}} {cumulative}"
            );
        }
        cumulative += self
            .latency_buckets
            .get(BUCKETS.len())
            .copied()
            .unwrap_or(0);
        let _ = writeln!(
            o,
            "shaken_redis_latency_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
        );
        let _ = writeln!(
            o,
            "shaken_redis_latency_seconds_sum {}",
            self.latency_sum_us as f64 / 1e6
        );
        let _ = writeln!(o, "shaken_redis_latency_seconds_count {cumulative}");
        o
    }
}

struct Inner {
    client: redis::Client,
    shown: String,
    prefix: String,
    timeout: Duration,
    failure: RedisFailure,
    conn: RwLock<Option<ConnectionManager>>,
    connecting: AtomicBool,
    up: AtomicBool,
    handle: tokio::runtime::Handle,
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    counters: Counters,
    /// Idle blocking connections for the replay check (one per thread
    /// that checks at the same time).
    pool: Mutex<Vec<redis::Connection>>,
    /// No new blocking connection before this (backoff after a failure).
    retry: Mutex<(Option<Instant>, Duration)>,
    /// The last check failed or was slow: wait off the tokio worker.
    degraded: AtomicBool,
    /// The server refused `SET .. NX GET` (Redis before 7.0): two round
    /// trips (SET NX, then GET) on a key already there.
    no_set_nx_get: AtomicBool,
    /// The awaited replay check's connection manager, made on the runtime
    /// that awaits it (the service's), so no call hops to another thread:
    /// that runtime's id and the manager.
    replay_cm: RwLock<Option<(tokio::runtime::Id, ConnectionManager)>>,
    /// One task at a time makes it; none before this instant (backoff).
    replay_cm_making: AtomicBool,
    replay_cm_retry: Mutex<Option<Instant>>,
    /// Awaited replay checks waiting for the next pipeline, and whether a
    /// flusher task is already on its way to send them.
    replay_queue: Mutex<Vec<Queued>>,
    replay_flushing: AtomicBool,
}

/// One awaited replay check waiting for its pipeline.
struct Queued {
    key: String,
    value: String,
    px: u64,
    answer: tokio::sync::oneshot::Sender<Option<Result<Option<String>, Fail>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let rt = self
            .runtime
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(rt) = rt {
            // Safe from async code too (a plain drop is not).
            rt.shutdown_background();
        }
    }
}

/// A link to Redis shared by the replay guard and the shared cache of one
/// verifier: its client, its runtime, its counters. Cheap to clone.
#[derive(Clone)]
pub struct Redis(Arc<Inner>);

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("url", &self.0.shown)
            .field("prefix", &self.0.prefix)
            .field("timeout", &self.0.timeout)
            .field("failure", &self.0.failure)
            .finish_non_exhaustive()
    }
}

fn is_auth_error(e: &redis::RedisError) -> bool {
    if e.kind() == redis::ErrorKind::AuthenticationFailed {
        return true;
    }
    let code = e.code().unwrap_or("");
    let text = e.to_string();
    ["NOAUTH", "WRONGPASS", "NOPERM"]
        .iter()
        .any(|c| code.eq_ignore_ascii_case(c) || text.contains(c))
        || text.contains("invalid password")
}

fn manager_config(timeout: Duration) -> ConnectionManagerConfig {
    // The crate's default reconnect backoff is 1 s x 100^n; ours retries
    // every 1 s at most (jittered), 6 times per reconnect, then the next
    // call starts another round.
    ConnectionManagerConfig::new()
        .set_connection_timeout(CONNECT_TIMEOUT)
        .set_response_timeout(timeout)
        .set_factor(2)
        .set_max_delay(1000)
        .set_number_of_retries(6)
}

/// One connection attempt and a `PING`, so that a wrong password shows.
async fn probe(
    client: redis::Client,
    timeout: Duration,
) -> Result<ConnectionManager, redis::RedisError> {
    let cfg = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(CONNECT_TIMEOUT)
        .set_response_timeout(CONNECT_TIMEOUT);
    let mut c = client
        .get_multiplexed_async_connection_with_config(&cfg)
        .await?;
    let _: String = redis::cmd("PING").query_async(&mut c).await?;
    drop(c);
    ConnectionManager::new_with_config(client, manager_config(timeout)).await
}

/// Run `fut` on `handle` and wait for it from synchronous code, at most
/// `limit` (see the module docs on why and how).
fn wait_on<T: Send + 'static>(
    handle: &tokio::runtime::Handle,
    fut: impl Future<Output = Result<T, Fail>> + Send + 'static,
    limit: Duration,
) -> Result<T, Fail> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    handle.spawn(async move {
        let r = match tokio::time::timeout(limit, fut).await {
            Ok(r) => r,
            Err(_) => Err(Fail::Timeout(limit)),
        };
        let _ = tx.send(r);
    });
    // A little slack for the hop back; the command itself is bounded above.
    let wait = || {
        rx.recv_timeout(limit + Duration::from_millis(20))
            .unwrap_or(Err(Fail::Timeout(limit)))
    };
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(wait)
        }
        _ => wait(),
    }
}

impl Redis {
    /// Connect: a bad URL or refused credentials are errors now; an
    /// unreachable Redis is a warning, and a connector task keeps trying
    /// (with backoff) while calls follow the failure policy.
    pub fn connect(opts: RedisOptions) -> Result<Self, ConfigError> {
        let shown = redact(&opts.url);
        let bad = |detail: String| ConfigError::Redis {
            setting: Setting::Redis,
            detail,
        };
        let scheme = opts
            .url
            .split_once("://")
            .map(|(s, _)| s.to_ascii_lowercase());
        if !matches!(scheme.as_deref(), Some("redis" | "rediss")) {
            return Err(bad(format!(
                "{shown}: not a Redis URL (expected redis://[user:password@]host[:port][/db] or rediss://... for TLS)"
            )));
        }
        let mut info = opts
            .url
            .as_str()
            .into_connection_info()
            .map_err(|e| bad(format!("{shown}: not a usable Redis URL: {e}")))?;
        if let Some(pw) = &opts.password {
            info.redis.password = Some(pw.clone());
        }
        // rediss:// builds its rustls config from the process default provider.
        crate::crypto::install_tls_provider();
        let client = redis::Client::open(info).map_err(|e| bad(format!("{shown}: {e}")))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("shaken-redis")
            .enable_all()
            .build()
            .map_err(|e| bad(format!("starting the Redis runtime: {e}")))?;
        let handle = runtime.handle().clone();
        let redis = Redis(Arc::new(Inner {
            client: client.clone(),
            shown: shown.clone(),
            prefix: opts.prefix,
            timeout: opts.timeout,
            failure: opts.failure,
            conn: RwLock::new(None),
            connecting: AtomicBool::new(false),
            up: AtomicBool::new(false),
            handle: handle.clone(),
            runtime: Mutex::new(Some(runtime)),
            counters: Counters::default(),
            pool: Mutex::new(Vec::new()),
            retry: Mutex::new((None, BACKOFF_MIN)),
            degraded: AtomicBool::new(false),
            no_set_nx_get: AtomicBool::new(false),
            replay_cm: RwLock::new(None),
            replay_cm_making: AtomicBool::new(false),
            replay_cm_retry: Mutex::new(None),
            replay_queue: Mutex::new(Vec::new()),
            replay_flushing: AtomicBool::new(false),
        }));
        let timeout = opts.timeout;
        let first = wait_on(
            &handle,
            async move {
                probe(client, timeout).await.map_err(|e| {
                    if is_auth_error(&e) {
                        Fail::Error(format!("auth:{e}"))
                    } else {
                        Fail::Error(e.to_string())
                    }
                })
            },
            CONNECT_TIMEOUT + Duration::from_millis(500),
        );
        match first {
            Ok(cm) => redis.set_connection(cm),
            Err(Fail::Error(e)) if e.starts_with("auth:") => {
                return Err(bad(format!(
                    "{shown}: the server refused the credentials ({}); check the password in the URL or the password file",
                    e.trim_start_matches("auth:")
                )));
            }
            Err(f) => {
                tracing::warn!(target: "shaken::redis", url = %shown, error = %f, "Redis unreachable at start; verifying under the failure policy ({}) and reconnecting in the background", redis.0.failure.as_str());
                redis.start_connector();
            }
        }
        Ok(redis)
    }

    /// The URL, without its password.
    pub fn url(&self) -> &str {
        &self.0.shown
    }

    /// The failure policy.
    pub fn failure(&self) -> RedisFailure {
        self.0.failure
    }

    /// The state and counters.
    pub fn stats(&self) -> RedisStats {
        let c = &self.0.counters;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        RedisStats {
            up: self.0.up.load(Ordering::Relaxed),
            commands: l(&c.commands),
            errors: l(&c.errors),
            timeouts: l(&c.timeouts),
            latency_buckets: c.buckets.iter().map(l).collect(),
            latency_sum_us: l(&c.latency_us),
            replay_unchecked: l(&c.replay_unchecked),
            replay_refused: l(&c.replay_refused),
            shared_hits: l(&c.shared_hits),
            shared_misses: l(&c.shared_misses),
            shared_writes: l(&c.shared_writes),
            fleet_waits: l(&c.fleet_waits),
            connects: l(&c.connects),
            replay_awaited: l(&c.replay_awaited),
        }
    }

    fn set_connection(&self, cm: ConnectionManager) {
        *self.0.conn.write().unwrap_or_else(|p| p.into_inner()) = Some(cm);
        bump(&self.0.counters.connects);
        self.0.up.store(true, Ordering::Relaxed);
    }

    /// Keep trying to connect, with backoff, until it works (once).
    fn start_connector(&self) {
        if self.0.connecting.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak: Weak<Inner> = Arc::downgrade(&self.0);
        let client = self.0.client.clone();
        let timeout = self.0.timeout;
        self.0.handle.spawn(async move {
            let mut delay = BACKOFF_MIN;
            loop {
                tokio::time::sleep(delay).await;
                if weak.strong_count() == 0 {
                    return;
                }
                let r = tokio::time::timeout(CONNECT_TIMEOUT * 2, probe(client.clone(), timeout)).await;
                let Some(inner) = weak.upgrade() else {
                    return;
                };
                match r {
                    Ok(Ok(cm)) => {
                        let redis = Redis(inner);
                        redis.set_connection(cm);
                        redis.0.connecting.store(false, Ordering::Release);
                        tracing::info!(target: "shaken::redis", url = %redis.0.shown, "connected to Redis");
                        return;
                    }
                    Ok(Err(e)) => {
                        tracing::debug!(target: "shaken::redis", url = %inner.shown, error = %e, "Redis still unreachable");
                    }
                    Err(_) => {
                        tracing::debug!(target: "shaken::redis", url = %inner.shown, "Redis connection attempt timed out");
                    }
                }
                drop(inner);
                delay = (delay * 2).min(BACKOFF_MAX);
            }
        });
    }

    fn connection(&self) -> Option<ConnectionManager> {
        let c = self
            .0
            .conn
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if c.is_none() {
            self.start_connector();
        }
        c
    }

    fn record<T>(&self, started: Instant, r: &Result<T, Fail>) {
        let c = &self.0.counters;
        bump(&c.commands);
        let took = started.elapsed();
        let secs = took.as_secs_f64();
        let i = BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BUCKETS.len());
        if let Some(b) = c.buckets.get(i) {
            bump(b);
        }
        c.latency_us.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        match r {
            Ok(_) => {
                if !self.0.up.swap(true, Ordering::Relaxed) {
                    tracing::info!(target: "shaken::redis", url = %self.0.shown, "Redis answers again");
                }
            }
            Err(f) => {
                bump(&c.errors);
                if matches!(f, Fail::Timeout(_)) {
                    bump(&c.timeouts);
                }
                if self.0.up.swap(false, Ordering::Relaxed) {
                    tracing::warn!(target: "shaken::redis", url = %self.0.shown, error = %f, failure = self.0.failure.as_str(), "Redis call failed");
                }
            }
        }
    }

    /// A blocking connection: an idle one, or a new one (unless a recent
    /// failure asks to wait: backoff from 100 ms to 1 s).
    fn blocking_connection(&self) -> Result<redis::Connection, Fail> {
        if let Some(c) = self.0.pool.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            return Ok(c);
        }
        let limit = self.0.timeout;
        {
            let r = self.0.retry.lock().unwrap_or_else(|p| p.into_inner());
            if r.0.is_some_and(|at| Instant::now() < at) {
                return Err(Fail::Down);
            }
        }
        let made = self
            .0
            .client
            .get_connection_with_timeout(limit)
            .and_then(|c| {
                c.set_read_timeout(Some(limit))?;
                c.set_write_timeout(Some(limit))?;
                Ok(c)
            });
        let mut r = self.0.retry.lock().unwrap_or_else(|p| p.into_inner());
        match made {
            Ok(c) => {
                *r = (None, BACKOFF_MIN);
                Ok(c)
            }
            Err(e) => {
                let backoff = r.1;
                *r = (Some(Instant::now() + backoff), (backoff * 2).min(RETRY_MAX));
                Err(Fail::from_redis(&e, limit))
            }
        }
    }

    /// `SET key value NX PX px`; on a key already there, its value. Runs
    /// on the calling thread over a pooled blocking connection (see the
    /// module docs); a connection that failed or timed out is dropped (a
    /// late answer must not be read as the next one's).
    fn set_nx_blocking(&self, key: String, value: String, px: u64) -> Result<Option<String>, Fail> {
        let started = Instant::now();
        let limit = self.0.timeout;
        let op = || -> Result<Option<String>, Fail> {
            let mut c = self.blocking_connection()?;
            let r = (|| -> redis::RedisResult<Option<String>> {
                // One round trip (Redis 7.0+, Valkey): `SET .. NX GET` sets
                // a new key (answer nil) or leaves the key there and
                // answers its value.
                if !self.0.no_set_nx_get.load(Ordering::Relaxed) {
                    let r: redis::RedisResult<Option<String>> = redis::cmd("SET")
                        .arg(&key)
                        .arg(&value)
                        .arg("NX")
                        .arg("PX")
                        .arg(px)
                        .arg("GET")
                        .query(&mut c);
                    match r {
                        Ok(prev) => return Ok(prev),
                        Err(e) if e.kind() == redis::ErrorKind::ResponseError => {
                            // An older server: NX and GET do not combine.
                            self.0.no_set_nx_get.store(true, Ordering::Relaxed);
                        }
                        Err(e) => return Err(e),
                    }
                }
                let set: Option<String> = redis::cmd("SET")
                    .arg(&key)
                    .arg(&value)
                    .arg("NX")
                    .arg("PX")
                    .arg(px)
                    .query(&mut c)?;
                if set.is_some() {
                    return Ok(None);
                }
                let prev: Option<String> = redis::cmd("GET").arg(&key).query(&mut c)?;
                Ok(Some(prev.unwrap_or_default()))
            })();
            match r {
                Ok(v) => {
                    let mut pool = self.0.pool.lock().unwrap_or_else(|p| p.into_inner());
                    if pool.len() < MAX_IDLE {
                        pool.push(c);
                    }
                    Ok(v)
                }
                Err(e) => Err(Fail::from_redis(&e, limit)),
            }
        };
        let off_worker = self.0.degraded.load(Ordering::Relaxed)
            && tokio::runtime::Handle::try_current()
                .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let r = if off_worker {
            tokio::task::block_in_place(op)
        } else {
            op()
        };
        self.0.degraded.store(
            r.is_err() || started.elapsed() > DEGRADED_AFTER,
            Ordering::Relaxed,
        );
        self.record(started, &r);
        r
    }

    /// The first half of `SET key value NX PX px GET` (Redis 7.0+): the
    /// command is written on a pooled blocking connection, its answer left
    /// to [`Redis::recv_set_nx_get`]. `None` when this server needs the two
    /// round trips, or the link is degraded (then [`Redis::set_nx_blocking`]).
    fn send_set_nx_get(
        &self,
        key: &str,
        value: &str,
        px: u64,
    ) -> Option<Result<redis::Connection, Fail>> {
        if self.0.no_set_nx_get.load(Ordering::Relaxed) || self.0.degraded.load(Ordering::Relaxed) {
            return None;
        }
        let packed = redis::cmd("SET")
            .arg(key)
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(px)
            .arg("GET")
            .get_packed_command();
        Some(self.blocking_connection().and_then(|mut c| {
            c.send_packed_command(&packed)
                .map(|()| c)
                .map_err(|e| Fail::from_redis(&e, self.0.timeout))
        }))
    }

    /// The second half: the answer (the previous value, or nil for a new
    /// key). A server that refuses `NX` with `GET` is remembered and asked
    /// again the old way.
    fn recv_set_nx_get(
        &self,
        mut c: redis::Connection,
        started: Instant,
        key: String,
        value: String,
        px: u64,
    ) -> Result<Option<String>, Fail> {
        let limit = self.0.timeout;
        let r = match c.recv_response().and_then(|v| v.extract_error()) {
            Ok(v) => {
                self.pool_connection(c);
                redis::from_owned_redis_value::<Option<String>>(v)
                    .map_err(|e| Fail::from_redis(&e, limit))
            }
            Err(e) if e.kind() == redis::ErrorKind::ResponseError => {
                // An older server: NX and GET do not combine.
                self.pool_connection(c);
                self.0.no_set_nx_get.store(true, Ordering::Relaxed);
                return self.set_nx_blocking(key, value, px);
            }
            // The connection is dropped: a late answer must not be read as
            // the next one's.
            Err(e) => Err(Fail::from_redis(&e, limit)),
        };
        self.0.degraded.store(
            r.is_err() || started.elapsed() > DEGRADED_AFTER,
            Ordering::Relaxed,
        );
        self.record(started, &r);
        r
    }

    /// The awaited replay check's connection manager on the current
    /// runtime, or `None` while it is being made (one task makes it, with
    /// backoff after a failure): the caller then checks on its thread.
    fn replay_manager(&self) -> Option<ConnectionManager> {
        let handle = tokio::runtime::Handle::try_current().ok()?;
        let id = handle.id();
        if let Some((have, cm)) = self
            .0
            .replay_cm
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            if *have == id {
                return Some(cm.clone());
            }
        }
        let wait = *self
            .0
            .replay_cm_retry
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if wait.is_some_and(|at| Instant::now() < at)
            || self.0.replay_cm_making.swap(true, Ordering::AcqRel)
        {
            return None;
        }
        let this = self.clone();
        handle.spawn(async move {
            let made = ConnectionManager::new_with_config(
                this.0.client.clone(),
                manager_config(this.0.timeout),
            )
            .await;
            match made {
                Ok(cm) => {
                    *this.0.replay_cm.write().unwrap_or_else(|p| p.into_inner()) = Some((id, cm));
                    *this
                        .0
                        .replay_cm_retry
                        .lock()
                        .unwrap_or_else(|p| p.into_inner()) = None;
                }
                Err(e) => {
                    tracing::debug!(target: "shaken::redis", error = %e, "the replay connection could not be made; checks stay on the caller's thread");
                    *this
                        .0
                        .replay_cm_retry
                        .lock()
                        .unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + RETRY_MAX);
                }
            }
            this.0.replay_cm_making.store(false, Ordering::Release);
        });
        None
    }

    /// `SET key value NX PX px GET`, awaited on this runtime's connection
    /// manager, bounded by the timeout. The checks of concurrent calls go
    /// out together: each is queued, and one flusher task, which first lets
    /// the other ready tasks run, sends everything queued as one pipeline
    /// (one write, one read for many calls under load). `None`: a server
    /// that needs two round trips (the caller checks on its thread).
    async fn set_nx_get_async(
        &self,
        cm: &ConnectionManager,
        key: &str,
        value: &str,
        px: u64,
    ) -> Option<Result<Option<String>, Fail>> {
        let started = Instant::now();
        let limit = self.0.timeout;
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.0
            .replay_queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Queued {
                key: key.to_owned(),
                value: value.to_owned(),
                px,
                answer: tx,
            });
        if !self.0.replay_flushing.swap(true, Ordering::AcqRel) {
            let this = self.clone();
            let cm = cm.clone();
            tokio::spawn(async move { this.flush_replay_queue(cm).await });
        }
        let r = match tokio::time::timeout(limit, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Some(Err(Fail::Error(
                "the Redis pipeline task ended without an answer".to_owned(),
            ))),
            Err(_) => Some(Err(Fail::Timeout(limit))),
        };
        if let Some(r) = &r {
            self.record(started, r);
            bump(&self.0.counters.replay_awaited);
        }
        r
    }

    /// Sends the queued replay checks as one pipeline and hands each its
    /// answer (see [`Redis::set_nx_get_async`]).
    async fn flush_replay_queue(self, mut cm: ConnectionManager) {
        // The handlers that are ready now queue their checks first.
        tokio::task::yield_now().await;
        self.0.replay_flushing.store(false, Ordering::Release);
        let batch = std::mem::take(
            &mut *self
                .0
                .replay_queue
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        if batch.is_empty() {
            return;
        }
        let limit = self.0.timeout;
        let mut pipe = redis::pipe();
        for q in &batch {
            pipe.cmd("SET")
                .arg(&q.key)
                .arg(&q.value)
                .arg("NX")
                .arg("PX")
                .arg(q.px)
                .arg("GET");
        }
        let r = tokio::time::timeout(limit, pipe.query_async::<Vec<Option<String>>>(&mut cm)).await;
        let fail = match r {
            Ok(Ok(answers)) if answers.len() == batch.len() => {
                for (q, a) in batch.into_iter().zip(answers) {
                    let _ = q.answer.send(Some(Ok(a)));
                }
                return;
            }
            Ok(Err(e)) if e.kind() == redis::ErrorKind::ResponseError => {
                // An older server: NX and GET do not combine.
                self.0.no_set_nx_get.store(true, Ordering::Relaxed);
                for q in batch {
                    let _ = q.answer.send(None);
                }
                return;
            }
            Ok(Ok(answers)) => Fail::Error(format!(
                "Redis answered {} replies to a pipeline of {}",
                answers.len(),
                batch.len()
            )),
            Ok(Err(e)) => Fail::from_redis(&e, limit),
            Err(_) => Fail::Timeout(limit),
        };
        for q in batch {
            let _ = q.answer.send(Some(Err(fail.clone())));
        }
    }

    fn pool_connection(&self, c: redis::Connection) {
        let mut pool = self.0.pool.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < MAX_IDLE {
            pool.push(c);
        }
    }

    /// Run a command on the Redis runtime, bounded by the timeout.
    async fn run<T: redis::FromRedisValue + Send + 'static>(
        &self,
        cmd: redis::Cmd,
    ) -> Result<T, Fail> {
        let started = Instant::now();
        let r = match self.connection() {
            None => Err(Fail::Down),
            Some(mut cm) => {
                let limit = self.0.timeout;
                let task = self.0.handle.spawn(async move {
                    match tokio::time::timeout(limit, cmd.query_async::<T>(&mut cm)).await {
                        Ok(Ok(v)) => Ok(v),
                        Ok(Err(e)) => Err(Fail::from_redis(&e, limit)),
                        Err(_) => Err(Fail::Timeout(limit)),
                    }
                });
                match task.await {
                    Ok(r) => r,
                    Err(e) => Err(Fail::Error(format!("the Redis task ended: {e}"))),
                }
            }
        };
        self.record(started, &r);
        r
    }

    fn key(&self, parts: &[&str]) -> String {
        let mut k = self.0.prefix.clone();
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                k.push(':');
            }
            k.push_str(p);
        }
        k
    }
}

use crate::hex;

fn url_key(url: &str) -> String {
    let d = Sha256::digest(url.as_bytes());
    hex(d.get(..16).unwrap_or(&[]))
}

/// Replay detection shared by a fleet through Redis (see the module docs).
#[derive(Debug)]
pub struct RedisReplayGuard {
    redis: Redis,
    ttl: i64,
    /// Same-node replays are still caught while Redis is down (policy open).
    local: ReplayStore,
}

impl RedisReplayGuard {
    /// A guard keeping PASSporTs for `ttl_seconds` (the freshness window,
    /// past plus future), plus [`REPLAY_SKEW_S`] in Redis.
    pub fn new(redis: Redis, ttl_seconds: i64) -> Self {
        let ttl = ttl_seconds.max(1);
        RedisReplayGuard {
            redis,
            ttl,
            local: ReplayStore::new(ttl, crate::replay::DEFAULT_CAPACITY),
        }
    }

    /// The link.
    pub fn redis(&self) -> &Redis {
        &self.redis
    }
}

impl ReplayGuard for RedisReplayGuard {
    fn check_and_record(
        &self,
        signing_input: &str,
        call_id: Option<&str>,
        now: i64,
    ) -> Result<(), Replayed> {
        match self.check(signing_input, call_id, now) {
            ReplayCheck::Replayed(r) => Err(r),
            ReplayCheck::Unavailable { .. } => Err(Replayed {
                age: 0,
                first_call_id: "an unknown Call-ID (the replay store did not answer)".into(),
            }),
            _ => Ok(()),
        }
    }

    fn check(&self, signing_input: &str, call_id: Option<&str>, now: i64) -> ReplayCheck {
        let key = self
            .redis
            .key(&["replay", &hex(&replay_key(signing_input))]);
        let (value, px) = self.value(call_id, now);
        let r = self.redis.set_nx_blocking(key, value, px);
        self.verdict(r, signing_input, call_id, now)
    }

    fn is_async(&self) -> bool {
        true
    }

    fn check_async<'a>(
        &'a self,
        signing_input: &'a str,
        signature: &'a [u8],
        call_id: Option<&'a str>,
        now: i64,
    ) -> Option<crate::replay::ReplayFuture<'a>> {
        self.check_async_inner(signing_input, signature, call_id, now)
    }

    fn begin<'a>(
        &'a self,
        signing_input: &str,
        signature: &[u8],
        call_id: Option<&str>,
        now: i64,
    ) -> Option<Box<dyn ReplayInFlight + 'a>> {
        let key = self
            .redis
            .key(&["replay", &hex(&replay_key_signed(signing_input, signature))]);
        let (value, px) = self.value(call_id, now);
        let started = Instant::now();
        let sent = self.redis.send_set_nx_get(&key, &value, px);
        if let Some(Err(f)) = &sent {
            self.redis.0.degraded.store(true, Ordering::Relaxed);
            self.redis.record::<()>(started, &Err(f.clone()));
        }
        Some(Box::new(RedisInFlight {
            guard: self,
            sent,
            started,
            key,
            value,
            px,
            signing_input: signing_input.to_owned(),
            call_id: call_id.map(str::to_owned),
            now,
        }))
    }
}

impl RedisReplayGuard {
    fn check_async_inner<'a>(
        &'a self,
        signing_input: &'a str,
        signature: &'a [u8],
        call_id: Option<&'a str>,
        now: i64,
    ) -> Option<crate::replay::ReplayFuture<'a>> {
        if self.redis.0.no_set_nx_get.load(Ordering::Relaxed) {
            return None;
        }
        let cm = self.redis.replay_manager()?;
        Some(Box::pin(async move {
            let key = self
                .redis
                .key(&["replay", &hex(&replay_key_signed(signing_input, signature))]);
            let (value, px) = self.value(call_id, now);
            let answer = match self.redis.set_nx_get_async(&cm, &key, &value, px).await {
                Some(a) => a,
                // Two round trips on this server: the blocking way, once.
                None => self.redis.set_nx_blocking(key, value, px),
            };
            self.verdict(answer, signing_input, call_id, now)
        }))
    }

    /// The value (`"{now} {call}"`) and expiry (ms) of a replay key.
    fn value(&self, call_id: Option<&str>, now: i64) -> (String, u64) {
        let call = call_id_key(call_id);
        let px = u64::try_from(self.ttl.saturating_add(REPLAY_SKEW_S))
            .unwrap_or(1)
            .saturating_mul(1000);
        (format!("{now} {call:x}"), px)
    }

    /// The verdict from Redis's answer (the previous value of the key), or
    /// from the failure policy when Redis did not answer. The local store
    /// is kept in step with every verified PASSporT, for the outages.
    fn verdict(
        &self,
        answer: Result<Option<String>, Fail>,
        signing_input: &str,
        call_id: Option<&str>,
        now: i64,
    ) -> ReplayCheck {
        let local = self.local.check_and_record(signing_input, call_id, now);
        let call = call_id_key(call_id);
        match answer {
            Ok(None) => ReplayCheck::Fresh,
            Ok(Some(prev)) => {
                let mut parts = prev.split_ascii_whitespace();
                let first = parts.next().and_then(|p| p.parse::<i64>().ok());
                let first_call = parts.next().and_then(|p| u64::from_str_radix(p, 16).ok());
                match first.zip(first_call) {
                    // Expired between SET and GET, or not ours: not a replay.
                    None => ReplayCheck::Fresh,
                    Some((first, first_call)) => {
                        match judge(first, first_call, call, now, self.ttl) {
                            None => ReplayCheck::Fresh,
                            Some(mut r) => {
                                // Another node's clock may be a little ahead.
                                r.age = r.age.max(0);
                                ReplayCheck::Replayed(r)
                            }
                        }
                    }
                }
            }
            Err(f) => match self.redis.0.failure {
                RedisFailure::Open => {
                    if let Err(r) = local {
                        return ReplayCheck::Replayed(r);
                    }
                    bump(&self.redis.0.counters.replay_unchecked);
                    ReplayCheck::Unchecked {
                        warning: format!(
                            "replay not checked across the fleet: Redis {f}; checked on this node only (failure policy open)"
                        ),
                    }
                }
                RedisFailure::Closed => {
                    bump(&self.redis.0.counters.replay_refused);
                    ReplayCheck::Unavailable {
                        detail: format!("Redis {} {f} (failure policy closed)", self.redis.0.shown),
                    }
                }
            },
        }
    }
}

/// A replay check whose `SET .. NX PX .. GET` went out before the signature
/// was verified ([`ReplayGuard::begin`]): on a healthy link its answer is
/// in the socket by the time the signature is checked, so reading it costs
/// no wait. Dropped unfinished (the signature failed), it still reads the
/// answer (within the timeout) so that the connection can be reused.
struct RedisInFlight<'a> {
    guard: &'a RedisReplayGuard,
    /// `None`: nothing sent (two-round-trip server, or degraded link): the
    /// blocking check runs in `finish`.
    sent: Option<Result<redis::Connection, Fail>>,
    started: Instant,
    key: String,
    value: String,
    px: u64,
    signing_input: String,
    call_id: Option<String>,
    now: i64,
}

impl ReplayInFlight for RedisInFlight<'_> {
    fn finish(mut self: Box<Self>) -> ReplayCheck {
        let redis = &self.guard.redis;
        let key = std::mem::take(&mut self.key);
        let value = std::mem::take(&mut self.value);
        let answer = match self.sent.take() {
            None => redis.set_nx_blocking(key, value, self.px),
            Some(Err(f)) => Err(f),
            Some(Ok(c)) => redis.recv_set_nx_get(c, self.started, key, value, self.px),
        };
        self.guard.verdict(
            answer,
            &self.signing_input,
            self.call_id.as_deref(),
            self.now,
        )
    }
}

impl Drop for RedisInFlight<'_> {
    fn drop(&mut self) {
        if let Some(Ok(mut c)) = self.sent.take() {
            if c.recv_response().is_ok() {
                self.guard.redis.pool_connection(c);
            }
        }
    }
}

/// The fleet's shared cache of chains, CRLs and failures in Redis.
#[derive(Debug, Clone)]
pub struct RedisShared {
    redis: Redis,
    max_entry: usize,
}

impl RedisShared {
    /// Entries larger than `max_body` (plus a header line) are ignored
    /// when read back (use the largest of the x5u and CRL body caps).
    pub fn new(redis: Redis, max_body: usize) -> Self {
        RedisShared {
            redis,
            max_entry: max_body.saturating_add(MAX_HEADER),
        }
    }
}

/// `P {expires_ms} {url}\n{body}` (a body from a public address),
/// `N {expires_ms} {url}\n{body}` (from a non-public one),
/// `F {expires_ms} {code} {url}\n{detail}` or `U {expires_ms} {url}\n`
/// (unvouched: no body). `B`, the body of the version before the origin
/// was recorded, is read as `N`: its origin is unknown. A node of that
/// version reads neither `P` nor `N`, and fetches for itself.
fn encode(url: &str, entry: &SharedEntry) -> Vec<u8> {
    let mut out = match entry {
        SharedEntry::Body {
            expires_at_ms,
            public,
            ..
        } => {
            let kind = if *public { 'P' } else { 'N' };
            format!("{kind} {expires_at_ms} {url}\n")
        }
        SharedEntry::Unvouched { expires_at_ms } => format!("U {expires_at_ms} {url}\n"),
        SharedEntry::Failure {
            code,
            expires_at_ms,
            ..
        } => format!("F {expires_at_ms} {code} {url}\n"),
    }
    .into_bytes();
    match entry {
        SharedEntry::Body { body, .. } => out.extend_from_slice(body),
        SharedEntry::Failure { detail, .. } => out.extend_from_slice(detail.as_bytes()),
        SharedEntry::Unvouched { .. } => {}
    }
    out
}

fn decode(url: &str, raw: &[u8]) -> Option<SharedEntry> {
    let nl = raw.iter().take(MAX_HEADER).position(|b| *b == b'\n')?;
    let head = std::str::from_utf8(raw.get(..nl)?).ok()?;
    let rest = raw.get(nl + 1..)?;
    let mut f = head.splitn(4, ' ');
    let kind = f.next()?;
    let expires_at_ms = f.next()?.parse::<u64>().ok()?;
    match kind {
        "P" | "N" | "B" => (f.next()? == url && f.next().is_none()).then(|| SharedEntry::Body {
            body: rest.to_vec(),
            expires_at_ms,
            public: kind == "P",
        }),
        "U" => (f.next()? == url && f.next().is_none() && rest.is_empty())
            .then_some(SharedEntry::Unvouched { expires_at_ms }),
        "F" => {
            let code = f.next()?.to_owned();
            (f.next()? == url).then(|| SharedEntry::Failure {
                code,
                detail: String::from_utf8_lossy(rest).chars().take(1000).collect(),
                expires_at_ms,
            })
        }
        _ => None,
    }
}

impl SharedCache for RedisShared {
    fn get(&self, kind: SharedKind, url: String) -> SharedFuture<Option<SharedEntry>> {
        let this = self.clone();
        Box::pin(async move {
            let key = this.redis.key(&[kind.as_str(), &url_key(&url)]);
            let mut cmd = redis::cmd("GET");
            cmd.arg(&key);
            let raw: Option<Vec<u8>> = this.redis.run(cmd).await.ok().flatten();
            let c = &this.redis.0.counters;
            match raw
                .filter(|r| r.len() <= this.max_entry)
                .and_then(|r| decode(&url, &r))
            {
                Some(e) => {
                    bump(&c.shared_hits);
                    Some(e)
                }
                None => {
                    bump(&c.shared_misses);
                    None
                }
            }
        })
    }

    fn put(&self, kind: SharedKind, url: String, entry: SharedEntry) -> SharedFuture<()> {
        let this = self.clone();
        Box::pin(async move {
            let hash = url_key(&url);
            let now = crate::fetch::unix_ms_now();
            let px = entry.expires_at_ms().saturating_sub(now);
            let claim = this.redis.key(&["claim", kind.as_str(), &hash]);
            if px > 0 {
                let key = this.redis.key(&[kind.as_str(), &hash]);
                let mut cmd = redis::cmd("SET");
                cmd.arg(&key).arg(encode(&url, &entry)).arg("PX").arg(px);
                if this.redis.run::<()>(cmd).await.is_ok() {
                    bump(&this.redis.0.counters.shared_writes);
                }
            }
            let mut cmd = redis::cmd("DEL");
            cmd.arg(&claim);
            let _ = this.redis.run::<()>(cmd).await;
        })
    }

    fn claim(&self, kind: SharedKind, url: String, hold: Duration) -> SharedFuture<Claim> {
        let this = self.clone();
        Box::pin(async move {
            let key = this.redis.key(&["claim", kind.as_str(), &url_key(&url)]);
            let mut cmd = redis::cmd("SET");
            cmd.arg(&key)
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(u64::try_from(hold.as_millis()).unwrap_or(u64::MAX).max(1));
            match this.redis.run::<Option<String>>(cmd).await {
                Ok(Some(_)) => Claim::Mine,
                Ok(None) => {
                    bump(&this.redis.0.counters.fleet_waits);
                    Claim::Theirs
                }
                Err(_) => Claim::Unknown,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn urls_are_shown_without_their_password() {
        assert_eq!(
            redact("redis://user:s3cret@cache.example:6380/2"),
            "redis://user:***@cache.example:6380/2"
        );
        assert_eq!(redact("redis://cache.example"), "redis://cache.example");
        assert!(!redact("not a url:s3cret@host").contains("s3cret"));
    }

    #[test]
    fn entries_round_trip_and_name_their_url() {
        let url = "https://cr.example/sp.pem";
        for public in [true, false] {
            let b = SharedEntry::Body {
                body: b"-----BEGIN CERTIFICATE-----\n\x00\xff".to_vec(),
                expires_at_ms: 1_800_000_000_000,
                public,
            };
            assert_eq!(decode(url, &encode(url, &b)), Some(b.clone()));
            // A hash collision (or a key written for another URL) is not taken.
            assert_eq!(decode("https://other.example/", &encode(url, &b)), None);
        }
        // A body written by a node that did not record its origin.
        assert_eq!(
            decode(url, format!("B 9 {url}\nabc").as_bytes()),
            Some(SharedEntry::Body {
                body: b"abc".to_vec(),
                expires_at_ms: 9,
                public: false,
            })
        );
        assert!(encode(
            url,
            &SharedEntry::Body {
                body: Vec::new(),
                expires_at_ms: 9,
                public: true
            }
        )
        .starts_with(b"P 9 "));
        let f = SharedEntry::Failure {
            code: "fetch-http-status".into(),
            detail: "https://cr.example/sp.pem: HTTP status 404".into(),
            expires_at_ms: 5,
        };
        assert_eq!(decode(url, &encode(url, &f)), Some(f));
        let u = SharedEntry::Unvouched {
            expires_at_ms: 1_800_000_000_000,
        };
        assert_eq!(decode(url, &encode(url, &u)), Some(u.clone()));
        assert_eq!(decode("https://other.example/", &encode(url, &u)), None);
        let mut with_body = encode(url, &u);
        with_body.extend_from_slice(b"-----BEGIN CERTIFICATE-----");
        assert_eq!(
            decode(url, &with_body),
            None,
            "an unvouched entry has no body"
        );
        for junk in [&b""[..], b"B", b"B x y\n", b"Q 1 u\n", b"\xff\xfe\n"] {
            assert_eq!(decode(url, junk), None);
        }
    }

    #[test]
    fn bad_urls_are_refused_at_start_without_showing_the_password() {
        for url in [
            "http://cache.example",
            "cache.example:6379",
            "redis://u:pw@[::1",
        ] {
            let e = Redis::connect(RedisOptions::new(url)).unwrap_err();
            assert_eq!(e.setting(), Setting::Redis, "{url}");
            assert!(!e.to_string().contains(":pw@"), "{e}");
        }
    }

    #[test]
    fn metrics_render_as_prometheus_text() {
        let s = RedisStats {
            up: true,
            commands: 3,
            latency_buckets: vec![1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            ..RedisStats::default()
        };
        let t = s.render_prometheus();
        assert!(t.contains("shaken_redis_up 1\n"), "{t}");
        assert!(
            t.contains("shaken_redis_latency_seconds_bucket{le=\"0.00025\"} 3"),
            "{t}"
        );
        assert!(t.contains("shaken_redis_latency_seconds_count 3"), "{t}");
    }
}
