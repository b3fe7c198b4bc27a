//! The x5u certificate cache: parsed chains keyed by the exact x5u URL.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::OnceCell;

use super::clock::{Clock, SystemClock};
use super::shared::{Claim, SharedCache, SharedEntry, SharedKind};
use super::{disk, FetchError, FetchOptions, HttpFetcher};

/// `Accept` sent for x5u fetches (ATIS-1000080: the STI-CR should answer
/// `application/pem-certificate-chain`).
pub const X5U_ACCEPT: &str =
    "application/pem-certificate-chain, application/x-pem-file;q=0.9, */*;q=0.1";

/// What the caller makes of a fetched body (e.g. a parsed certificate
/// chain). The `String` error becomes [`FetchError::Parse`].
pub type ParseFn<T> = Arc<dyn Fn(&[u8]) -> Result<T, String> + Send + Sync>;

/// Counters of a [`CertCache`], for metrics and `--stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CacheStats {
    /// Lookups answered from a fresh positive entry.
    pub hits: u64,
    /// `get` calls that found no fresh entry (positive or negative).
    pub misses: u64,
    /// HTTP fetches made.
    pub fetches: u64,
    /// Fetches that failed, including bodies the parser rejected.
    pub fetch_failures: u64,
    /// `get` calls answered from the negative cache.
    pub negative_hits: u64,
    /// `get` calls that joined a fetch already in flight for the same URL.
    pub coalesced: u64,
    /// Entries loaded from the on-disk cache.
    pub disk_hits: u64,
    /// Background refreshes started: a call found its entry in the refresh
    /// window (see [`CertCache`]) and was answered from it while the entry
    /// was fetched again.
    pub refreshes: u64,
    /// Background refreshes that failed; the entry they were refreshing is
    /// kept until it expires.
    pub refresh_failures: u64,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    fetches: AtomicU64,
    fetch_failures: AtomicU64,
    negative_hits: AtomicU64,
    coalesced: AtomicU64,
    disk_hits: AtomicU64,
    refreshes: AtomicU64,
    refresh_failures: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

enum Value<T> {
    Ok(Arc<T>),
    Err(FetchError),
}

struct Entry<T> {
    value: Value<T>,
    expires: Instant,
    /// From when a call starts a background refresh; `None`: never
    /// (negative entries, values given to [`CertCache::insert`]).
    refresh_at: Option<Instant>,
    /// Set by the one call that started this entry's refresh.
    refreshing: AtomicBool,
    /// Insertion order, for evicting the oldest.
    seq: u64,
}

type Flight<T> = Arc<OnceCell<Result<Arc<T>, FetchError>>>;

/// What every handle of one cache shares (the refresh tasks hold one).
struct State<T> {
    entries: RwLock<HashMap<String, Entry<T>>>,
    inflight: Mutex<HashMap<String, Flight<T>>>,
    seq: AtomicU64,
    counters: Counters,
    /// Where refreshes run when the call that starts one is not on a
    /// multi-thread tokio runtime (a blocking caller, the C ABI): one
    /// worker thread, started on the first such refresh.
    runtime: OnceLock<tokio::runtime::Runtime>,
}

impl<T> Drop for State<T> {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            // Never wait here: the last handle may be dropped inside a
            // runtime, or by a refresh task on this very runtime.
            rt.shutdown_background();
        }
    }
}

/// Cache of parsed x5u chains keyed by the exact x5u URL.
///
/// `Send + Sync`; share it through an `Arc`. Lookups take a read lock only;
/// concurrent [`get`](CertCache::get)s of one URL share one fetch.
///
/// **Background refresh.** An entry fetched for a lifetime `L` (from
/// `Cache-Control: max-age`, clamped) enters its refresh window when
/// `max(L / 10, Limits::cache_refresh_min)` of it is left (never before half
/// of `L`). The first call that finds it there, through
/// [`get_cached`](Self::get_cached) or [`get`](Self::get), is answered from
/// the entry at once and starts one fetch of the URL in the background (one
/// per URL however many calls; on the caller's multi-thread tokio runtime,
/// else on a one-thread runtime of the cache's own). The fetched chain
/// replaces the entry. A failed refresh keeps the entry until it expires,
/// logs a warning, counts in [`CacheStats::refresh_failures`], and is tried
/// again after `negative_cache_ttl`. An expired entry is never served: its
/// call waits for the fetch (joining a refresh already under way). Entries
/// given to [`insert`](Self::insert) are never refreshed.
pub struct CertCache<T> {
    http: HttpFetcher,
    parse: ParseFn<T>,
    clock: Arc<dyn Clock>,
    shared: Option<(Arc<dyn SharedCache>, SharedKind)>,
    accept: &'static str,
    refresh: bool,
    state: Arc<State<T>>,
}

impl<T> std::fmt::Debug for CertCache<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertCache")
            .field("http", &self.http)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl<T> CertCache<T> {
    /// A snapshot of the counters.
    pub fn stats(&self) -> CacheStats {
        let c = &self.state.counters;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CacheStats {
            hits: l(&c.hits),
            misses: l(&c.misses),
            fetches: l(&c.fetches),
            fetch_failures: l(&c.fetch_failures),
            negative_hits: l(&c.negative_hits),
            coalesced: l(&c.coalesced),
            disk_hits: l(&c.disk_hits),
            refreshes: l(&c.refreshes),
            refresh_failures: l(&c.refresh_failures),
        }
    }

    /// Another handle on the same entries, counters and runtime (what a
    /// refresh task runs with).
    pub(crate) fn handle(&self) -> Self {
        CertCache {
            http: self.http.clone(),
            parse: Arc::clone(&self.parse),
            clock: Arc::clone(&self.clock),
            shared: self.shared.clone(),
            accept: self.accept,
            refresh: self.refresh,
            state: Arc::clone(&self.state),
        }
    }
}

/// A fresh entry found by a lookup.
struct Found<T> {
    result: Result<Arc<T>, FetchError>,
    expires: Instant,
    /// This lookup claimed the entry's background refresh.
    refresh: bool,
}

/// How long before its expiry an entry of lifetime `ttl` is refreshed:
/// a tenth of it, at least `min`, at most half of it.
pub(crate) fn refresh_window(ttl: Duration, min: Duration) -> Duration {
    (ttl / 10).max(min).min(ttl / 2)
}

impl<T: Send + Sync + 'static> CertCache<T> {
    /// A cache fetching with `opts` and turning bodies into `T` with `parse`.
    pub fn new(opts: FetchOptions, parse: ParseFn<T>) -> Result<Self, FetchError> {
        let http = HttpFetcher::new(&opts)?;
        Ok(CertCache {
            http,
            parse,
            clock: Arc::new(SystemClock),
            shared: None,
            accept: X5U_ACCEPT,
            refresh: true,
            state: Arc::new(State {
                entries: RwLock::new(HashMap::new()),
                inflight: Mutex::new(HashMap::new()),
                seq: AtomicU64::new(0),
                counters: Counters::default(),
                runtime: OnceLock::new(),
            }),
        })
    }

    /// Send this `Accept` header instead of the certificate types (the
    /// Rich Call Data content cache asks for images and jCards).
    pub fn with_accept(mut self, accept: &'static str) -> Self {
        self.accept = accept;
        self
    }

    /// Put a cache shared by a fleet of verifiers behind this one: asked on
    /// a local miss (after the disk), before fetching; what this node
    /// fetches (or fails to fetch) is written to it with its expiry.
    pub fn with_shared(mut self, shared: Arc<dyn SharedCache>, kind: SharedKind) -> Self {
        self.shared = Some((shared, kind));
        self
    }

    /// Replaces the clock (tests use [`ManualClock`](super::ManualClock)).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Whether entries near their expiry are refreshed in the background
    /// (default `true`; see [`CertCache`]). With `false` an entry is used
    /// until it expires and the next call then waits for the fetch.
    pub fn with_refresh(mut self, refresh: bool) -> Self {
        self.refresh = refresh;
        self
    }

    fn opts(&self) -> &FetchOptions {
        self.http.options()
    }

    /// Fast synchronous path: a fresh positive entry, or `None`. Counts a hit
    /// (a `None` is not counted; [`get`](Self::get) counts the miss). An
    /// entry in its refresh window is returned and, for the first such call,
    /// refetched in the background (see [`CertCache`]).
    pub fn get_cached(&self, url: &str) -> Option<Arc<T>> {
        let found = self.lookup(url, true)?;
        match found.result {
            Ok(v) => {
                bump(&self.state.counters.hits);
                if found.refresh {
                    self.start_refresh(url, found.expires);
                }
                Some(v)
            }
            Err(_) => {
                if found.refresh {
                    // Negative entries have no refresh time; never claimed.
                    self.release_refresh(url);
                }
                None
            }
        }
    }

    /// A fresh entry, positive or negative, without counting. With `claim`,
    /// the first lookup of an entry in its refresh window claims the refresh.
    fn lookup(&self, url: &str, claim: bool) -> Option<Found<T>> {
        let now = self.clock.now();
        let entries = self.state.entries.read().unwrap_or_else(|e| e.into_inner());
        let e = entries.get(url).filter(|e| e.expires > now)?;
        let refresh = claim
            && self.refresh
            && e.refresh_at.is_some_and(|at| at <= now)
            && !e.refreshing.load(Ordering::Relaxed)
            && e.refreshing
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok();
        Some(Found {
            result: match &e.value {
                Value::Ok(v) => Ok(Arc::clone(v)),
                Value::Err(err) => Err(err.clone()),
            },
            expires: e.expires,
            refresh,
        })
    }

    fn count_lookup(&self, r: &Result<Arc<T>, FetchError>) {
        match r {
            Ok(_) => bump(&self.state.counters.hits),
            Err(_) => bump(&self.state.counters.negative_hits),
        }
    }

    /// Full path: a fresh entry; else a fresh negative entry (its error);
    /// else the URL policy check, the on-disk cache, and finally a fetch,
    /// parse and store. Concurrent callers for one URL share one fetch. A
    /// fetch or parse failure is cached for `negative_cache_ttl`. An entry
    /// in its refresh window is returned at once and refetched in the
    /// background (see [`CertCache`]).
    pub async fn get(&self, url: &str) -> Result<Arc<T>, FetchError> {
        if let Some(found) = self.lookup(url, true) {
            self.count_lookup(&found.result);
            if found.refresh {
                self.start_refresh(url, found.expires);
            }
            return found.result;
        }
        bump(&self.state.counters.misses);
        // Policy failures need no I/O: report them without caching.
        self.http.check_url(url)?;
        let (flight, leader) = {
            let mut inflight = self.lock_inflight();
            // Re-check under the lock: a fetch may have completed (stored,
            // then left the in-flight map) since the lookup above.
            if let Some(found) = self.lookup(url, false) {
                return found.result;
            }
            match inflight.get(url) {
                Some(f) => (Arc::clone(f), false),
                None => {
                    let f: Flight<T> = Arc::new(OnceCell::new());
                    inflight.insert(url.to_string(), Arc::clone(&f));
                    (f, true)
                }
            }
        };
        if !leader {
            bump(&self.state.counters.coalesced);
        }
        // If the caller running the load is cancelled, another waiter takes
        // it over (OnceCell semantics).
        let result = flight.get_or_init(|| self.load(url, None)).await.clone();
        self.end_flight(url, &flight);
        result
    }

    fn lock_inflight(&self) -> std::sync::MutexGuard<'_, HashMap<String, Flight<T>>> {
        self.state
            .inflight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The flight is over: later callers find the entry it stored.
    fn end_flight(&self, url: &str, flight: &Flight<T>) {
        let mut inflight = self.lock_inflight();
        if inflight.get(url).is_some_and(|f| Arc::ptr_eq(f, flight)) {
            inflight.remove(url);
        }
    }

    /// Let a later call claim the refresh of `url`'s entry again.
    fn release_refresh(&self, url: &str) {
        let entries = self.state.entries.read().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = entries.get(url) {
            e.refreshing.store(false, Ordering::Release);
        }
    }

    /// Start the background refresh of `url`, whose entry (claimed by the
    /// caller) expires at `held`. It is an ordinary flight: a call whose
    /// entry expires meanwhile joins it instead of fetching again.
    fn start_refresh(&self, url: &str, held: Instant) {
        let flight: Flight<T> = {
            let mut inflight = self.lock_inflight();
            if inflight.contains_key(url) {
                // A fetch is already under way; it replaces the entry.
                drop(inflight);
                self.release_refresh(url);
                return;
            }
            let f: Flight<T> = Arc::new(OnceCell::new());
            inflight.insert(url.to_owned(), Arc::clone(&f));
            f
        };
        bump(&self.state.counters.refreshes);
        tracing::debug!(%url, "cached entry near its expiry; refreshing it in the background");
        let this = self.handle();
        let owned = url.to_owned();
        let task = async move {
            let _ = flight.get_or_init(|| this.load(&owned, Some(held))).await;
            this.end_flight(&owned, &flight);
        };
        if let Err(reason) = self.spawn_background(task) {
            tracing::warn!(%url, %reason, "cannot refresh a cached entry in the background");
            let mut inflight = self.lock_inflight();
            inflight.remove(url);
            drop(inflight);
            self.release_refresh(url);
        }
    }

    /// Run a background refresh `task`: on the caller's multi-thread tokio
    /// runtime, else on the cache's own one-thread runtime.
    pub(crate) fn spawn_background(
        &self,
        task: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), String> {
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                drop(h.spawn(task));
                Ok(())
            }
            _ => self.runtime().map(|rt| drop(rt.spawn(task))),
        }
    }

    /// Count a background refresh started by the owner of this cache (the
    /// CRL fetcher refreshes its entries itself).
    pub(crate) fn count_refresh(&self) {
        bump(&self.state.counters.refreshes);
    }

    /// Count a failed background refresh started by the owner of this cache.
    pub(crate) fn count_refresh_failure(&self) {
        bump(&self.state.counters.refresh_failures);
    }

    /// The clock lookups and expiries use.
    pub(crate) fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The cache's own refresh runtime, started on first use.
    fn runtime(&self) -> Result<&tokio::runtime::Runtime, String> {
        if let Some(rt) = self.state.runtime.get() {
            return Ok(rt);
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("shaken-refresh")
            .enable_all()
            .build()
            .map_err(|e| format!("starting the refresh runtime: {e}"))?;
        if let Err(lost) = self.state.runtime.set(rt) {
            // Another thread won the race: its runtime is kept.
            lost.shutdown_background();
        }
        self.state
            .runtime
            .get()
            .ok_or_else(|| "the refresh runtime vanished".to_owned())
    }

    /// A background refresh failed: keep the entry it was refreshing while
    /// it is fresh (`true`), to be tried again after `negative_cache_ttl`.
    /// `false`: it has expired (or gone) and the failure is cached as usual.
    fn keep_after_failed_refresh(&self, url: &str, err: &FetchError) -> bool {
        let now = self.clock.now();
        let backoff = self
            .opts()
            .limits
            .negative_cache_ttl
            .max(Duration::from_secs(1));
        let mut entries = self
            .state
            .entries
            .write()
            .unwrap_or_else(|e| e.into_inner());
        match entries.get_mut(url) {
            Some(e) if e.expires > now && matches!(e.value, Value::Ok(_)) => {
                e.refresh_at = now.checked_add(backoff);
                e.refreshing.store(false, Ordering::Release);
                bump(&self.state.counters.refresh_failures);
                let left_s = e.expires.saturating_duration_since(now).as_secs();
                tracing::warn!(%url, error = %err, left_s, "background refresh failed; the cached entry is kept until it expires");
                true
            }
            _ => false,
        }
    }

    /// Disk, then network; stores the outcome. `held`: this is the refresh
    /// of an entry that expires then, and what the disk or the fleet holds
    /// counts only if it is newer than that entry.
    async fn load(&self, url: &str, held: Option<Instant>) -> Result<Arc<T>, FetchError> {
        let limits = &self.opts().limits;
        let held_left = held.map(|h| h.saturating_duration_since(self.clock.now()));
        if let Some(dir) = self.opts().cache_dir.clone() {
            if let Some(v) = self.load_from_disk(&dir, url, held_left).await {
                return Ok(v);
            }
        }
        if let Some((store, kind)) = &self.shared {
            let wait = limits.fetch_timeout;
            let newer_than = held_left.map_or(0, |l| {
                unix_ms(self.clock.system_now()).saturating_add(millis(l))
            });
            if let Some(entry) = shared_lookup(store.as_ref(), *kind, url, wait, newer_than).await {
                match entry {
                    // Another node's failure does not replace a fresh chain.
                    SharedEntry::Failure { code, detail, .. } if held.is_some() => {
                        let err = FetchError::remembered(url, &code, &detail);
                        if self.keep_after_failed_refresh(url, &err) {
                            return Err(err);
                        }
                    }
                    entry => {
                        if let Some(r) = self.take_shared(url, entry) {
                            return r;
                        }
                    }
                }
            }
        }
        bump(&self.state.counters.fetches);
        let outcome = async {
            let fetched = self
                .http
                .get(url, self.accept, limits.max_fetch_body)
                .await?;
            let value = (self.parse)(&fetched.body).map_err(|reason| FetchError::Parse {
                url: url.to_string(),
                reason,
            })?;
            Ok::<_, FetchError>((value, fetched))
        }
        .await;
        match outcome {
            Ok((value, fetched)) => {
                let ttl = clamp_ttl(
                    fetched.max_age,
                    limits.cache_default_ttl,
                    limits.cache_min_ttl,
                    limits.cache_max_ttl,
                );
                let v = Arc::new(value);
                self.store(url, Value::Ok(Arc::clone(&v)), ttl, true);
                if let Some((store, kind)) = &self.shared {
                    let entry = SharedEntry::Body {
                        body: fetched.body.clone(),
                        expires_at_ms: unix_ms(self.clock.system_now()).saturating_add(millis(ttl)),
                    };
                    store.put(*kind, url.to_owned(), entry).await;
                }
                if let Some(dir) = &self.opts().cache_dir {
                    let expires = unix_secs(self.clock.system_now()).saturating_add(ttl.as_secs());
                    if let Err(e) = disk::write(dir, url, expires, &fetched.body).await {
                        tracing::warn!(%url, dir = %dir.display(), error = %e, "cannot write the on-disk certificate cache");
                    }
                }
                Ok(v)
            }
            Err(err) => {
                bump(&self.state.counters.fetch_failures);
                if held.is_some() && self.keep_after_failed_refresh(url, &err) {
                    // The fleet keeps the chain it has; nothing to share.
                    return Err(err);
                }
                if err.is_transient_local() {
                    // Busy: nothing was sent; says nothing about the URL.
                    return Err(err);
                }
                tracing::debug!(%url, error = %err, "x5u fetch failed; negatively cached");
                self.store(
                    url,
                    Value::Err(err.clone()),
                    limits.negative_cache_ttl,
                    false,
                );
                if let Some((store, kind)) = &self.shared {
                    let entry =
                        shared_failure(&err, self.clock.system_now(), limits.negative_cache_ttl);
                    store.put(*kind, url.to_owned(), entry).await;
                }
                Err(err)
            }
        }
    }

    /// Take an entry another node of the fleet fetched: parse the body
    /// (each node checks it itself) or remember the failure, locally, until
    /// the entry's expiry. `None`: expired, or a body that does not parse.
    fn take_shared(&self, url: &str, entry: SharedEntry) -> Option<Result<Arc<T>, FetchError>> {
        let limits = &self.opts().limits;
        let now = unix_ms(self.clock.system_now());
        let left =
            Duration::from_millis(entry.expires_at_ms().checked_sub(now).filter(|l| *l > 0)?);
        match entry {
            SharedEntry::Body { body, .. } => match (self.parse)(&body) {
                Ok(value) => {
                    let v = Arc::new(value);
                    self.store(
                        url,
                        Value::Ok(Arc::clone(&v)),
                        left.min(limits.cache_max_ttl),
                        true,
                    );
                    Some(Ok(v))
                }
                Err(reason) => {
                    tracing::warn!(%url, %reason, "shared cache entry does not parse; fetching");
                    None
                }
            },
            SharedEntry::Failure { code, detail, .. } => {
                let err = FetchError::remembered(url, &code, &detail);
                self.store(
                    url,
                    Value::Err(err.clone()),
                    left.min(limits.negative_cache_ttl),
                    false,
                );
                bump(&self.state.counters.negative_hits);
                Some(Err(err))
            }
        }
    }

    /// The on-disk entry of `url`, stored here. With `newer_than`, only an
    /// entry with more than that left (plus a second) counts: another
    /// process refreshed it.
    async fn load_from_disk(
        &self,
        dir: &std::path::Path,
        url: &str,
        newer_than: Option<Duration>,
    ) -> Option<Arc<T>> {
        let limits = &self.opts().limits;
        let (expires, body) = disk::read(dir, url, limits.max_fetch_body).await?;
        let now = unix_secs(self.clock.system_now());
        let remaining = Duration::from_secs(expires.checked_sub(now).filter(|r| *r > 0)?)
            .min(limits.cache_max_ttl);
        if let Some(held) = newer_than {
            if remaining <= held.saturating_add(Duration::from_secs(1)) {
                return None;
            }
        }
        match (self.parse)(&body) {
            Ok(value) => {
                bump(&self.state.counters.disk_hits);
                let v = Arc::new(value);
                self.store(url, Value::Ok(Arc::clone(&v)), remaining, true);
                Some(v)
            }
            Err(reason) => {
                tracing::debug!(%url, %reason, "on-disk cache entry does not parse; ignored");
                None
            }
        }
    }

    /// Inserts a value (e.g. a chain read from a local file) as if fetched,
    /// fresh for `ttl` (not clamped). Not written to disk, never refreshed.
    pub fn insert(&self, url: &str, value: T, ttl: Duration) {
        self.store(url, Value::Ok(Arc::new(value)), ttl, false);
    }

    fn store(&self, url: &str, value: Value<T>, ttl: Duration, refreshable: bool) {
        let max = self.opts().limits.cache_max_entries;
        if max == 0 {
            return;
        }
        let now = self.clock.now();
        let expires = now
            .checked_add(ttl)
            .unwrap_or(now + Duration::from_secs(365 * 24 * 3600));
        let refresh_at = if refreshable {
            let window = refresh_window(ttl, self.opts().limits.cache_refresh_min);
            now.checked_add(ttl.saturating_sub(window))
        } else {
            None
        };
        let seq = self.state.seq.fetch_add(1, Ordering::Relaxed);
        let mut entries = self
            .state
            .entries
            .write()
            .unwrap_or_else(|e| e.into_inner());
        if !entries.contains_key(url) && entries.len() >= max {
            entries.retain(|_, e| e.expires > now);
            while entries.len() >= max {
                let oldest = entries
                    .iter()
                    .min_by_key(|(_, e)| e.seq)
                    .map(|(k, _)| k.clone());
                match oldest {
                    Some(k) => {
                        entries.remove(&k);
                    }
                    None => break,
                }
            }
        }
        entries.insert(
            url.to_string(),
            Entry {
                value,
                expires,
                refresh_at,
                refreshing: AtomicBool::new(false),
                seq,
            },
        );
    }

    /// Removes every entry (positive and negative). Counters are kept.
    pub fn clear(&self) {
        self.state
            .entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Number of entries held (fresh or not yet evicted).
    pub fn len(&self) -> usize {
        self.state
            .entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Whether the cache holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The underlying fetcher, for CRL fetches (same policy and client).
    pub fn http(&self) -> &HttpFetcher {
        &self.http
    }
}

/// The cache lifetime for a server's `max-age`: clamped to `[min, max]`;
/// `default` (also clamped) when the server gave none.
pub(crate) fn clamp_ttl(
    max_age: Option<Duration>,
    default: Duration,
    min: Duration,
    max: Duration,
) -> Duration {
    let ttl = max_age.unwrap_or(default);
    ttl.max(min).min(max.max(min))
}

/// The shared entry for `url`: present, or fetched by another node within
/// `wait` after it claimed the fetch. `None`: this node fetches. Only an
/// entry that expires after `newer_than_ms` (Unix ms; 0 for any) counts: a
/// refresh looks for a newer entry than the one it holds.
pub(crate) async fn shared_lookup(
    store: &dyn SharedCache,
    kind: SharedKind,
    url: &str,
    wait: Duration,
    newer_than_ms: u64,
) -> Option<SharedEntry> {
    let newer = |e: &SharedEntry| e.expires_at_ms() > newer_than_ms;
    if let Some(e) = store.get(kind, url.to_owned()).await.filter(newer) {
        return Some(e);
    }
    // Hold the claim a little longer than one fetch may take.
    let hold = wait.saturating_add(Duration::from_secs(1));
    if store.claim(kind, url.to_owned(), hold).await != Claim::Theirs {
        return None;
    }
    let poll = store.poll_interval().max(Duration::from_millis(1));
    let rounds = (wait.as_millis() / poll.as_millis().max(1)).clamp(1, 10_000);
    for _ in 0..rounds {
        tokio::time::sleep(poll).await;
        if let Some(e) = store.get(kind, url.to_owned()).await.filter(newer) {
            return Some(e);
        }
    }
    None
}

/// The shared form of a fetch failure, kept for `ttl`.
pub(crate) fn shared_failure(err: &FetchError, now: SystemTime, ttl: Duration) -> SharedEntry {
    SharedEntry::Failure {
        code: err.code().to_owned(),
        detail: err.to_string(),
        expires_at_ms: unix_ms(now).saturating_add(millis(ttl)),
    }
}

pub(crate) fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::super::ManualClock;
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn ttl_clamping() {
        assert_eq!(clamp_ttl(Some(s(600)), s(3600), s(60), s(86400)), s(600));
        assert_eq!(clamp_ttl(Some(s(0)), s(3600), s(60), s(86400)), s(60));
        assert_eq!(
            clamp_ttl(Some(s(10 * 86400)), s(3600), s(60), s(86400)),
            s(86400)
        );
        assert_eq!(clamp_ttl(None, s(3600), s(60), s(86400)), s(3600));
    }

    #[test]
    fn refresh_window_is_a_tenth_at_least_the_minimum_at_most_half() {
        let min = s(10);
        assert_eq!(refresh_window(s(3600), min), s(360));
        assert_eq!(refresh_window(s(86400), min), s(8640));
        assert_eq!(refresh_window(s(60), min), s(10), "the minimum");
        assert_eq!(refresh_window(s(12), min), s(6), "never before half");
        assert_eq!(refresh_window(s(0), min), s(0));
    }

    #[test]
    fn inserted_entries_are_never_refreshed() {
        let (c, clock) = cache(10);
        c.insert("https://a.example/", "A".into(), s(100));
        clock.advance(s(99));
        assert!(c.get_cached("https://a.example/").is_some());
        assert_eq!(c.stats().refreshes, 0);
    }

    fn cache(max_entries: usize) -> (CertCache<String>, Arc<ManualClock>) {
        let mut opts = FetchOptions::default();
        opts.limits.cache_max_entries = max_entries;
        let parse: ParseFn<String> =
            Arc::new(|b: &[u8]| Ok(String::from_utf8_lossy(b).into_owned()));
        let clock = Arc::new(ManualClock::starting_at(UNIX_EPOCH + s(1_700_000_000)));
        (
            CertCache::new(opts, parse)
                .unwrap()
                .with_clock(clock.clone()),
            clock,
        )
    }

    #[test]
    fn insert_get_cached_and_expiry() {
        let (c, clock) = cache(10);
        c.insert("https://a.example/", "A".into(), s(100));
        assert_eq!(
            c.get_cached("https://a.example/")
                .as_deref()
                .map(String::as_str),
            Some("A")
        );
        assert_eq!(c.get_cached("https://b.example/"), None);
        clock.advance(s(99));
        assert!(c.get_cached("https://a.example/").is_some());
        clock.advance(s(1));
        assert!(c.get_cached("https://a.example/").is_none());
        assert_eq!(c.stats().hits, 2);
    }

    #[test]
    fn bounded_evicts_expired_then_oldest() {
        let (c, clock) = cache(3);
        c.insert("u1", "1".into(), s(10));
        c.insert("u2", "2".into(), s(1000));
        c.insert("u3", "3".into(), s(1000));
        clock.advance(s(20)); // u1 expired
        c.insert("u4", "4".into(), s(1000));
        assert_eq!(c.len(), 3);
        assert!(c.get_cached("u2").is_some());
        c.insert("u5", "5".into(), s(1000)); // none expired: the oldest (u2) goes
        assert_eq!(c.len(), 3);
        assert!(c.get_cached("u2").is_none());
        for u in ["u3", "u4", "u5"] {
            assert!(c.get_cached(u).is_some(), "{u}");
        }
        // Replacing an existing key does not evict.
        c.insert("u3", "3b".into(), s(1000));
        assert!(c.get_cached("u4").is_some() && c.get_cached("u5").is_some());
    }

    #[test]
    fn zero_capacity_stores_nothing() {
        let (c, _) = cache(0);
        c.insert("u", "x".into(), s(10));
        assert!(c.is_empty());
    }

    #[tokio::test]
    async fn policy_errors_are_not_cached() {
        let (c, _) = cache(10);
        let e = c.get("http://cr.example/c.pem").await.unwrap_err();
        assert_eq!(e.code(), "fetch-scheme-not-allowed");
        assert!(c.is_empty());
        assert_eq!(c.stats().fetches, 0);
    }

    fn assert_send_sync<X: Send + Sync>() {}
    #[test]
    fn cache_is_send_sync() {
        assert_send_sync::<CertCache<Vec<u8>>>();
        assert_send_sync::<HttpFetcher>();
    }
}
