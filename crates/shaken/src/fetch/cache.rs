//! The x5u certificate cache: parsed chains keyed by the exact x5u URL.

use std::collections::{HashMap, VecDeque};
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
    /// HTTP fetches made. A fetch that found every fetch slot taken
    /// ([`FetchError::Busy`]) sent nothing and is counted in neither this
    /// nor `fetch_failures`, only in the fetcher's
    /// [`FetchStats::busy`](crate::fetch::FetchStats::busy).
    pub fetches: u64,
    /// Fetches that failed, including bodies the parser rejected: what a
    /// URL or its server did, never the local fetch cap.
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
    /// Entries moved from probation to the protected tier (see
    /// [`CertCache`], "Tiers"): the x5u chains the verifier vouched for.
    pub promotions: u64,
    /// Probation entries evicted to make room in the full cache.
    pub probation_evictions: u64,
    /// Protected entries evicted to make room (only when no probation entry
    /// was left).
    pub protected_evictions: u64,
    /// Entries on probation now (a gauge).
    pub probation_entries: u64,
    /// Protected entries now (a gauge).
    pub protected_entries: u64,
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
    promotions: AtomicU64,
    probation_evictions: AtomicU64,
    protected_evictions: AtomicU64,
    /// Written under the entries' write lock, read without it.
    probation_entries: AtomicU64,
    protected_entries: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// The gauge of entries in `tier`.
fn gauge(c: &Counters, tier: Tier) -> &AtomicU64 {
    match tier {
        Tier::Probation => &c.probation_entries,
        Tier::Protected => &c.protected_entries,
    }
}

/// Who stores an entry: a fetch (with the body as fetched), another lookup
/// (disk, fleet, failure), or [`CertCache::insert`].
enum Stored {
    Fetched(Unwritten),
    ByLookup,
    Inserted,
}

enum Value<T> {
    Ok(Arc<T>),
    Err(FetchError),
}

/// The tier of a cache entry (see [`CertCache`], "Tiers").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Tier {
    /// Stored, not vouched for yet: evicted first.
    Probation,
    /// Vouched for (its chain validated to a trust anchor and verified a
    /// PASSporT signature), inserted by the operator, or in a cache without
    /// probation: evicted only when no probation entry is left.
    Protected,
}

impl Tier {
    /// `"probation"` or `"protected"` (the `tier` label of the metrics).
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Probation => "probation",
            Tier::Protected => "protected",
        }
    }
}

/// What a fetched probation entry still has to write once it is promoted:
/// the body as fetched, for the on-disk cache and the fleet's cache.
struct Unwritten {
    body: Vec<u8>,
    /// The entry's expiry, Unix milliseconds.
    expires_at_ms: u64,
    /// It came from a public address (see [`FetchedBody::from_public_address`]).
    public: bool,
    /// The fleet was told that this node does not vouch for it (once).
    declined: bool,
}

struct Entry<T> {
    value: Value<T>,
    expires: Instant,
    tier: Tier,
    /// A fetched probation entry's body, kept (only when there is a disk
    /// or fleet cache to write it to) until the entry is promoted.
    unwritten: Option<Unwritten>,
    /// From when a call starts a background refresh; `None`: never
    /// (negative entries, values given to [`CertCache::insert`]).
    refresh_at: Option<Instant>,
    /// Set by the one call that started this entry's refresh.
    refreshing: AtomicBool,
    /// When it was stored or promoted (its record in its tier's queue).
    seq: u64,
}

/// The entries and, per tier, their order: `(seq, url)` records, oldest
/// first. A record whose entry is gone, or now has another `seq` (stored
/// again, promoted), is stale: skipped when reached and dropped by the
/// compaction that runs when a queue has grown to twice its live records.
/// Eviction pops from the front: amortised O(1), no scan of the entries.
struct Map<T> {
    entries: HashMap<Arc<str>, Entry<T>>,
    probation: VecDeque<(u64, Arc<str>)>,
    protected: VecDeque<(u64, Arc<str>)>,
    /// Queue records looked at by evictions and compactions (the tests
    /// check that an insert into a full cache does not scan it).
    #[cfg(test)]
    visited: u64,
}

impl<T> Default for Map<T> {
    fn default() -> Self {
        Map {
            entries: HashMap::new(),
            probation: VecDeque::new(),
            protected: VecDeque::new(),
            #[cfg(test)]
            visited: 0,
        }
    }
}

impl<T> Map<T> {
    fn queue(&mut self, tier: Tier) -> &mut VecDeque<(u64, Arc<str>)> {
        match tier {
            Tier::Probation => &mut self.probation,
            Tier::Protected => &mut self.protected,
        }
    }

    /// Remove the oldest live entry of `tier`; `None` when it has none.
    fn evict_oldest(&mut self, tier: Tier) -> Option<Entry<T>> {
        loop {
            let (seq, url) = self.queue(tier).pop_front()?;
            #[cfg(test)]
            {
                self.visited += 1;
            }
            let live = self
                .entries
                .get(&url)
                .is_some_and(|e| e.seq == seq && e.tier == tier);
            if live {
                return self.entries.remove(&url);
            }
        }
    }

    /// Append the record of `url` (live with `seq`) to `tier`'s queue, and
    /// drop the stale records once they outnumber the live ones.
    fn push(&mut self, tier: Tier, seq: u64, url: Arc<str>, live: usize) {
        self.queue(tier).push_back((seq, url));
        if self.queue(tier).len() > 2 * live + 16 {
            let Map {
                entries,
                probation,
                protected,
                ..
            } = self;
            let q = match tier {
                Tier::Probation => probation,
                Tier::Protected => protected,
            };
            #[cfg(test)]
            let before = q.len();
            q.retain(|(seq, url)| {
                entries
                    .get(url)
                    .is_some_and(|e| e.seq == *seq && e.tier == tier)
            });
            #[cfg(test)]
            {
                self.visited += before as u64;
            }
        }
    }
}

type Flight<T> = Arc<OnceCell<Result<Arc<T>, FetchError>>>;

/// What every handle of one cache shares (the refresh tasks hold one).
struct State<T> {
    entries: RwLock<Map<T>>,
    inflight: Mutex<HashMap<String, Flight<T>>>,
    seq: AtomicU64,
    counters: Counters,
    /// Where refreshes run when the call that starts one is not on a
    /// multi-thread tokio runtime (a blocking caller, the C ABI): one
    /// worker thread, started on the first such refresh.
    runtime: OnceLock<tokio::runtime::Runtime>,
}

impl<T> State<T> {
    /// The entries, for a lookup (a poisoned lock is taken over: every
    /// update leaves the map consistent).
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Map<T>> {
        self.entries.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The entries, for an update.
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Map<T>> {
        self.entries.write().unwrap_or_else(|e| e.into_inner())
    }
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
///
/// **Bound and eviction.** At most `Limits::cache_max_entries` entries
/// (positive and negative). A full cache makes room for a new URL by
/// evicting the oldest entry of the probation tier, and only when that tier
/// is empty the oldest protected entry; an expired entry goes when its turn
/// comes. Each tier keeps its order in a queue, so an eviction costs
/// amortised O(1) under the write lock, whatever the cache holds.
///
/// **Tiers** ([`with_probation`](Self::with_probation), on for the x5u
/// chain cache). With probation on, every entry a lookup stores (fetched,
/// read from the disk cache, taken from the fleet, a negative entry) starts
/// on *probation*; its owner [`promote`](Self::promote)s it once it has
/// vouched for the value (the x5u cache: once the chain validated to a trust
/// anchor and verified a PASSporT's signature in some call, whatever the
/// call's verdict). A refreshed or refetched protected entry stays
/// protected; entries given to [`insert`](Self::insert) are protected. Only
/// a promotion writes a fetched body to the on-disk cache and the fleet's
/// cache (once): a stranger naming new URLs can push only other probation
/// entries out and leaves no file and no shared entry. Fetch failures still
/// go to the fleet (for `negative_cache_ttl`). Without probation (the
/// default: CRLs, Rich Call Data content, whose URLs come from the
/// operator or from chains and PASSporTs that verified) every entry is
/// protected and fetched bodies are written when fetched.
pub struct CertCache<T> {
    http: HttpFetcher,
    parse: ParseFn<T>,
    clock: Arc<dyn Clock>,
    shared: Option<(Arc<dyn SharedCache>, SharedKind)>,
    accept: &'static str,
    refresh: bool,
    probation: bool,
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
            promotions: l(&c.promotions),
            probation_evictions: l(&c.probation_evictions),
            protected_evictions: l(&c.protected_evictions),
            probation_entries: l(&c.probation_entries),
            protected_entries: l(&c.protected_entries),
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
            probation: self.probation,
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
    tier: Tier,
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
            probation: false,
            state: Arc::new(State {
                entries: RwLock::new(Map::default()),
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

    /// Whether stored entries start on probation (default `false`; see
    /// [`CertCache`], "Tiers"). With `true` the owner promotes the entries
    /// it vouches for, and only those reach the disk and the fleet.
    pub fn with_probation(mut self, probation: bool) -> Self {
        self.probation = probation;
        self
    }

    fn opts(&self) -> &FetchOptions {
        self.http.options()
    }

    /// Whether a fetched body is kept with its probation entry: only when
    /// a promotion would write it somewhere.
    fn keeps_bodies(&self) -> bool {
        self.probation && (self.opts().cache_dir.is_some() || self.shared.is_some())
    }

    /// Fast synchronous path: a fresh positive entry, or `None`. Counts a hit
    /// (a `None` is not counted; [`get`](Self::get) counts the miss). An
    /// entry in its refresh window is returned and, for the first such call,
    /// refetched in the background (see [`CertCache`]).
    pub fn get_cached(&self, url: &str) -> Option<Arc<T>> {
        self.get_cached_tiered(url).map(|(v, _)| v)
    }

    /// [`get_cached`](Self::get_cached) with the entry's tier (no extra
    /// lock: what a caller that may [`promote`](Self::promote) looks at).
    pub fn get_cached_tiered(&self, url: &str) -> Option<(Arc<T>, Tier)> {
        let found = self.lookup(url, true)?;
        match found.result {
            Ok(v) => {
                bump(&self.state.counters.hits);
                if found.refresh {
                    self.start_refresh(url, found.expires);
                }
                Some((v, found.tier))
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
        let map = self.state.read();
        let e = map.entries.get(url).filter(|e| e.expires > now)?;
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
            tier: e.tier,
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
        let map = self.state.read();
        if let Some(e) = map.entries.get(url) {
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
        let mut map = self.state.write();
        match map.entries.get_mut(url) {
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
        // Busy: every fetch slot was taken, nothing was sent (the fetcher
        // counts those); counted when done, so the counter only grows.
        if !matches!(&outcome, Err(e) if e.is_transient_local()) {
            bump(&self.state.counters.fetches);
        }
        match outcome {
            Ok((value, fetched)) => {
                let ttl = clamp_ttl(
                    fetched.max_age,
                    limits.cache_default_ttl,
                    limits.cache_min_ttl,
                    limits.cache_max_ttl,
                );
                let v = Arc::new(value);
                let body = Unwritten {
                    public: fetched.from_public_address(),
                    body: fetched.body,
                    expires_at_ms: unix_ms(self.clock.system_now()).saturating_add(millis(ttl)),
                    declined: false,
                };
                // On probation the body stays with the entry, written when
                // (if ever) it is promoted; protected, it is written now.
                let stored = self.store(
                    url,
                    Value::Ok(Arc::clone(&v)),
                    ttl,
                    true,
                    Stored::Fetched(body),
                );
                if let Some(body) = stored {
                    self.write_out(url, body).await;
                } else if held.is_some() {
                    // A background refresh of an entry on probation: no
                    // call is there to vouch for the new value or decline
                    // it, and the fleet's claim this node took would keep
                    // the other nodes waiting for a body until it lapsed.
                    // They are told at once, as a decline does; a call
                    // that vouches for it later still shares the body.
                    self.decline(url, &v).await;
                }
                Ok(v)
            }
            Err(err) => {
                if !err.is_transient_local() {
                    bump(&self.state.counters.fetch_failures);
                }
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
                    Stored::ByLookup,
                );
                // Bounded by its lifetime (`negative_cache_ttl`).
                if let Some((store, kind)) = &self.shared {
                    share_failure(
                        store.as_ref(),
                        *kind,
                        url,
                        &err,
                        self.clock.system_now(),
                        limits.negative_cache_ttl,
                        limits.fetch_timeout.saturating_add(Duration::from_secs(1)),
                    )
                    .await;
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
            SharedEntry::Body { public, .. } if !self.opts().may_take_cached(public) => {
                tracing::debug!(%url, "shared cache entry fetched from a non-public address; private addresses are refused here: fetching");
                None
            }
            SharedEntry::Body { body, .. } => match (self.parse)(&body) {
                Ok(value) => {
                    let v = Arc::new(value);
                    self.store(
                        url,
                        Value::Ok(Arc::clone(&v)),
                        left.min(limits.cache_max_ttl),
                        true,
                        Stored::ByLookup,
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
                    Stored::ByLookup,
                );
                bump(&self.state.counters.negative_hits);
                Some(Err(err))
            }
            SharedEntry::Unvouched { .. } => None,
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
        let disk::DiskEntry {
            expires,
            public,
            body,
        } = disk::read(dir, url, limits.max_fetch_body).await?;
        if !self.opts().may_take_cached(public) {
            // Its host name resolved to a non-public address when it was
            // fetched (or a version 1 file did not say): the resolver that
            // refuses those is not asked for a cached entry, so it is not
            // taken. A fetch now asks it.
            tracing::debug!(%url, "on-disk cache entry fetched from a non-public address (or of unknown origin); private addresses are refused here: ignored");
            return None;
        }
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
                self.store(
                    url,
                    Value::Ok(Arc::clone(&v)),
                    remaining,
                    true,
                    Stored::ByLookup,
                );
                Some(v)
            }
            Err(reason) => {
                tracing::debug!(%url, %reason, "on-disk cache entry does not parse; ignored");
                None
            }
        }
    }

    /// Inserts a value (e.g. a chain read from a local file) as if fetched,
    /// fresh for `ttl` (not clamped). Not written to disk, never refreshed,
    /// protected (the operator's choice, not a stranger's).
    pub fn insert(&self, url: &str, value: T, ttl: Duration) {
        self.store(
            url,
            Value::Ok(Arc::new(value)),
            ttl,
            false,
            Stored::Inserted,
        );
    }

    /// Store an entry. A value stored by a lookup starts on probation (with
    /// probation on) unless it replaces a protected positive entry (a
    /// refresh or refetch of a known URL); a negative entry is always on
    /// probation. A fetched body comes back when it is to be written now
    /// (the entry is protected); on probation it is kept with the entry
    /// (when a promotion would write it somewhere) or dropped.
    fn store(
        &self,
        url: &str,
        value: Value<T>,
        ttl: Duration,
        refreshable: bool,
        how: Stored,
    ) -> Option<Unwritten> {
        let max = self.opts().limits.cache_max_entries;
        let (inserted, body) = match how {
            Stored::Fetched(body) => (false, Some(body)),
            Stored::ByLookup => (false, None),
            Stored::Inserted => (true, None),
        };
        if max == 0 {
            // Nothing is held; without probation a fetched body is written.
            return body.filter(|_| !self.probation);
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
        let c = &self.state.counters;
        let mut map = self.state.write();
        let previous = map
            .entries
            .get(url)
            .map(|e| (e.tier, matches!(e.value, Value::Ok(_))));
        let tier = match (inserted, &value, previous) {
            (true, _, _) => Tier::Protected,
            _ if !self.probation => Tier::Protected,
            (_, Value::Err(_), _) => Tier::Probation,
            (_, Value::Ok(_), Some((Tier::Protected, true))) => Tier::Protected,
            _ => Tier::Probation,
        };
        if let Some((old, _)) = previous {
            gauge(c, old).fetch_sub(1, Ordering::Relaxed);
        } else {
            while map.entries.len() >= max {
                let evicted = match map.evict_oldest(Tier::Probation) {
                    Some(e) => Some((e, &c.probation_evictions)),
                    None => map
                        .evict_oldest(Tier::Protected)
                        .map(|e| (e, &c.protected_evictions)),
                };
                let Some((e, counter)) = evicted else {
                    break;
                };
                bump(counter);
                gauge(c, e.tier).fetch_sub(1, Ordering::Relaxed);
            }
        }
        let (unwritten, out) = match tier {
            Tier::Protected => (None, body),
            Tier::Probation if self.keeps_bodies() => (body, None),
            Tier::Probation => (None, None),
        };
        let key: Arc<str> = Arc::from(url);
        map.entries.insert(
            Arc::clone(&key),
            Entry {
                value,
                expires,
                tier,
                unwritten,
                refresh_at,
                refreshing: AtomicBool::new(false),
                seq,
            },
        );
        let live = gauge(c, tier)
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        map.push(tier, seq, key, usize::try_from(live).unwrap_or(usize::MAX));
        out
    }

    /// Write a fetched body out: to the fleet's cache and the on-disk cache.
    async fn write_out(&self, url: &str, body: Unwritten) {
        let now_ms = unix_ms(self.clock.system_now());
        if body.expires_at_ms <= now_ms {
            return;
        }
        if let Some(dir) = &self.opts().cache_dir {
            let expires = body.expires_at_ms / 1000;
            if let Err(e) = disk::write(dir, url, expires, body.public, &body.body).await {
                tracing::warn!(%url, dir = %dir.display(), error = %e, "cannot write the on-disk certificate cache");
            }
        }
        if let Some((store, kind)) = &self.shared {
            let entry = SharedEntry::Body {
                body: body.body,
                expires_at_ms: body.expires_at_ms,
                public: body.public,
            };
            store.put(*kind, url.to_owned(), entry).await;
        }
    }

    /// Move `url`'s entry to the protected tier, if it is on probation and
    /// still holds `value` (the value the caller vouches for; a value
    /// replaced meanwhile is not promoted). `Some` with the body to write
    /// out; `None` when nothing was promoted.
    fn promote_entry(&self, url: &str, value: &Arc<T>) -> Option<Option<Unwritten>> {
        let seq = self.state.seq.fetch_add(1, Ordering::Relaxed);
        let c = &self.state.counters;
        let mut map = self.state.write();
        let (key, e) = map.entries.get_key_value(url)?;
        if e.tier != Tier::Probation || !matches!(&e.value, Value::Ok(v) if Arc::ptr_eq(v, value)) {
            return None;
        }
        let key = Arc::clone(key);
        let e = map.entries.get_mut(url)?;
        e.tier = Tier::Protected;
        e.seq = seq;
        let unwritten = e.unwritten.take();
        c.probation_entries.fetch_sub(1, Ordering::Relaxed);
        let live = c
            .protected_entries
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        map.push(
            Tier::Protected,
            seq,
            key,
            usize::try_from(live).unwrap_or(usize::MAX),
        );
        bump(&c.promotions);
        Some(unwritten)
    }

    /// Promote `url`'s probation entry holding `value` to the protected tier
    /// (see [`CertCache`], "Tiers") and write its fetched body to the disk
    /// and fleet caches, once. Returns whether it was promoted: `false` when
    /// it already was, when the entry is gone or holds another value.
    pub async fn promote(&self, url: &str, value: &Arc<T>) -> bool {
        match self.promote_entry(url, value) {
            Some(Some(body)) => {
                self.write_out(url, body).await;
                true
            }
            Some(None) => true,
            None => false,
        }
    }

    /// [`promote`](Self::promote) for a synchronous caller: the writes run
    /// in the background (on the caller's multi-thread tokio runtime, else
    /// on the cache's own one).
    pub fn promote_now(&self, url: &str, value: &Arc<T>) -> bool {
        match self.promote_entry(url, value) {
            Some(Some(body)) => {
                let this = self.handle();
                let owned = url.to_owned();
                if let Err(reason) =
                    self.spawn_background(async move { this.write_out(&owned, body).await })
                {
                    tracing::warn!(%url, %reason, "cannot write a promoted entry out");
                }
                true
            }
            Some(None) => true,
            None => false,
        }
    }

    /// The owner does not vouch for the value `url`'s probation entry holds
    /// (a call used it and did not earn it protection). With a fleet's
    /// cache, and when this node fetched it, the fleet is told so once
    /// ([`SharedEntry::Unvouched`], for the claim's hold): the nodes that
    /// wait on this node's claim fetch it themselves instead of waiting
    /// for a body that will not come. Nothing else changes.
    pub async fn decline(&self, url: &str, value: &Arc<T>) {
        let Some((store, kind)) = &self.shared else {
            return;
        };
        {
            let mut map = self.state.write();
            let Some(e) = map.entries.get_mut(url) else {
                return;
            };
            let ours = e.tier == Tier::Probation
                && matches!(&e.value, Value::Ok(v) if Arc::ptr_eq(v, value));
            match e.unwritten.as_mut() {
                Some(u) if ours && !u.declined => u.declined = true,
                _ => return,
            }
        }
        // Another node may have vouched for (and shared) the same chain
        // meanwhile: never replace its body with the marker.
        if let Some(SharedEntry::Body { .. }) = store.get(*kind, url.to_owned()).await {
            return;
        }
        let hold = self
            .opts()
            .limits
            .fetch_timeout
            .saturating_add(Duration::from_secs(1));
        let entry = SharedEntry::Unvouched {
            expires_at_ms: unix_ms(self.clock.system_now()).saturating_add(millis(hold)),
        };
        store.put(*kind, url.to_owned(), entry).await;
    }

    /// The tier of `url`'s entry (fresh or not yet evicted), if any.
    pub fn tier(&self, url: &str) -> Option<Tier> {
        let map = self.state.read();
        map.entries.get(url).map(|e| e.tier)
    }

    /// Removes every entry (positive and negative). Counters are kept.
    pub fn clear(&self) {
        let mut map = self.state.write();
        *map = Map::default();
        let c = &self.state.counters;
        c.probation_entries.store(0, Ordering::Relaxed);
        c.protected_entries.store(0, Ordering::Relaxed);
    }

    /// Number of entries held (fresh or not yet evicted).
    pub fn len(&self) -> usize {
        self.state.read().entries.len()
    }

    /// Queue records the evictions and compactions have looked at.
    #[cfg(test)]
    fn visited(&self) -> u64 {
        self.state.read().visited
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
    match store.get(kind, url.to_owned()).await.filter(newer) {
        // Fetched by another node, not vouched for (or refused by its
        // guard): claim and fetch.
        Some(e) if answers(&e) => return Some(e),
        Some(_) | None => {}
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
        match store.get(kind, url.to_owned()).await.filter(newer) {
            Some(e) if answers(&e) => return Some(e),
            // The node that fetched it did not vouch for it (or its guard
            // refused it): stop waiting.
            Some(_) => return None,
            None => {}
        }
    }
    None
}

/// The shared form of a fetch failure, kept for `ttl`.
fn shared_failure(err: &FetchError, now: SystemTime, ttl: Duration) -> SharedEntry {
    SharedEntry::Failure {
        code: err.code().to_owned(),
        detail: err.to_string(),
        expires_at_ms: unix_ms(now).saturating_add(millis(ttl)),
    }
}

/// Tell the fleet that this node's fetch of `url` failed with `err`: the
/// failure, kept for `ttl`, spares the other nodes the same failing fetch.
/// A busy node ([`FetchError::is_transient_local`]) tells nothing. A
/// refusal by this node's own guard ([`FetchError::is_local_policy`]) is
/// not the URL's: another node may be allowed to fetch it, so the fleet is
/// told only that this node's claim is over ([`SharedEntry::Unvouched`],
/// for `hold`), and never over a body another node shared.
pub(crate) async fn share_failure(
    store: &dyn SharedCache,
    kind: SharedKind,
    url: &str,
    err: &FetchError,
    now: SystemTime,
    ttl: Duration,
    hold: Duration,
) {
    if err.is_transient_local() {
        return;
    }
    let entry = if err.is_local_policy() {
        if let Some(SharedEntry::Body { .. }) = store.get(kind, url.to_owned()).await {
            return;
        }
        SharedEntry::Unvouched {
            expires_at_ms: unix_ms(now).saturating_add(millis(hold)),
        }
    } else {
        shared_failure(err, now, ttl)
    };
    store.put(kind, url.to_owned(), entry).await;
}

/// Whether a shared entry answers for `url` here: not a marker that the
/// fetching node did not vouch for it, nor a refusal by another node's own
/// guard (a node of an older version shared those), which this node's
/// options decide for themselves.
fn answers(e: &SharedEntry) -> bool {
    match e {
        SharedEntry::Unvouched { .. } => false,
        SharedEntry::Failure { code, .. } => !super::error::is_local_policy_code(code),
        SharedEntry::Body { .. } => true,
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
    fn bounded_evicts_the_oldest() {
        let (c, clock) = cache(3);
        c.insert("u1", "1".into(), s(10));
        c.insert("u2", "2".into(), s(1000));
        c.insert("u3", "3".into(), s(1000));
        clock.advance(s(20)); // u1 expired, and the oldest: it goes first
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

    /// A cache of `max_entries` whose lookups store on probation.
    fn tiered(max_entries: usize) -> CertCache<String> {
        cache(max_entries).0.with_probation(true)
    }

    /// Store `url` as a lookup would (a fetch without a body to write, the
    /// disk, the fleet): the value it now holds.
    fn looked_up(c: &CertCache<String>, url: &str, ttl: Duration) -> Arc<String> {
        let v = Arc::new(url.to_uppercase());
        c.store(url, Value::Ok(Arc::clone(&v)), ttl, true, Stored::ByLookup);
        v
    }

    fn failed(c: &CertCache<String>, url: &str) {
        let err = FetchError::Parse {
            url: url.into(),
            reason: "test".into(),
        };
        c.store(url, Value::Err(err), s(30), false, Stored::ByLookup);
    }

    fn held(c: &CertCache<String>, urls: &[&str]) -> Vec<bool> {
        urls.iter().map(|u| c.tier(u).is_some()).collect()
    }

    #[test]
    fn probation_entries_are_evicted_before_protected_ones() {
        let c = tiered(3);
        let a = looked_up(&c, "a", s(1000));
        assert_eq!(c.tier("a"), Some(Tier::Probation));
        assert!(c.promote_now("a", &a));
        assert_eq!(c.tier("a"), Some(Tier::Protected));
        looked_up(&c, "p1", s(1000));
        looked_up(&c, "p2", s(1000));
        // Full: each new URL pushes the oldest probation entry out, never
        // the protected one, however many come.
        for i in 3..200 {
            looked_up(&c, &format!("p{i}"), s(1000));
            assert_eq!(c.len(), 3);
            assert_eq!(c.tier("a"), Some(Tier::Protected), "after p{i}");
        }
        assert_eq!(held(&c, &["p197", "p198", "p199"]), [false, true, true]);
        let st = c.stats();
        assert_eq!(
            (
                st.probation_evictions,
                st.protected_evictions,
                st.promotions
            ),
            (197, 0, 1)
        );
        assert_eq!((st.probation_entries, st.protected_entries), (2, 1));
    }

    #[test]
    fn protected_entries_go_oldest_first_only_when_no_probation_entry_is_left() {
        let c = tiered(3);
        for u in ["a", "b", "c"] {
            let v = looked_up(&c, u, s(1000));
            assert!(c.promote_now(u, &v));
        }
        looked_up(&c, "p1", s(1000)); // no probation entry: the oldest protected (a)
        assert_eq!(held(&c, &["a", "b", "c", "p1"]), [false, true, true, true]);
        looked_up(&c, "p2", s(1000)); // p1 goes, not b
        assert_eq!(held(&c, &["b", "c", "p1", "p2"]), [true, true, false, true]);
        // Promoted later is younger: b (promoted first) is the next to go.
        let p2 = c.get_cached("p2").unwrap();
        assert!(c.promote_now("p2", &p2));
        looked_up(&c, "p3", s(1000));
        assert_eq!(held(&c, &["b", "c", "p2", "p3"]), [false, true, true, true]);
        let st = c.stats();
        assert_eq!((st.probation_evictions, st.protected_evictions), (1, 2));
    }

    #[test]
    fn expired_entries_go_when_their_turn_comes() {
        let (c, clock) = cache(3);
        let c = c.with_probation(true);
        looked_up(&c, "old", s(10));
        looked_up(&c, "p1", s(1000));
        let a = looked_up(&c, "a", s(1000));
        c.promote_now("a", &a);
        clock.advance(s(20)); // "old" expired: it is the oldest probation entry anyway
        looked_up(&c, "p2", s(1000));
        assert_eq!(
            held(&c, &["old", "p1", "a", "p2"]),
            [false, true, true, true]
        );
        assert!(c.get_cached("old").is_none());
    }

    #[test]
    fn negative_entries_are_on_probation() {
        let c = tiered(2);
        let a = looked_up(&c, "a", s(1000));
        c.promote_now("a", &a);
        failed(&c, "bad");
        assert_eq!(c.tier("bad"), Some(Tier::Probation));
        failed(&c, "bad2"); // evicts bad, not a
        assert_eq!(held(&c, &["a", "bad", "bad2"]), [true, false, true]);
        // A failure replacing a protected entry is on probation.
        failed(&c, "a");
        assert_eq!(c.tier("a"), Some(Tier::Probation));
        assert_eq!(c.stats().protected_entries, 0);
    }

    #[test]
    fn a_refreshed_protected_entry_stays_protected() {
        let c = tiered(10);
        let v1 = looked_up(&c, "a", s(100));
        c.promote_now("a", &v1);
        // A refresh (or a refetch once expired) stores it again.
        looked_up(&c, "a", s(100));
        assert_eq!(c.tier("a"), Some(Tier::Protected));
        assert_eq!(c.stats().promotions, 1);
        let st = c.stats();
        assert_eq!((st.probation_entries, st.protected_entries), (0, 1));
        // A probation entry stored again stays on probation.
        looked_up(&c, "p", s(100));
        looked_up(&c, "p", s(100));
        assert_eq!(c.tier("p"), Some(Tier::Probation));
    }

    #[test]
    fn only_the_value_vouched_for_is_promoted() {
        let c = tiered(10);
        let v1 = looked_up(&c, "a", s(100));
        looked_up(&c, "a", s(100)); // replaced meanwhile
        assert!(!c.promote_now("a", &v1));
        assert_eq!(c.tier("a"), Some(Tier::Probation));
        assert!(!c.promote_now("gone", &v1));
        let v2 = c.get_cached("a").unwrap();
        assert!(c.promote_now("a", &v2));
        assert!(!c.promote_now("a", &v2), "once");
        assert_eq!(c.stats().promotions, 1);
    }

    #[test]
    fn inserted_entries_are_protected() {
        let c = tiered(2);
        c.insert("file", "F".into(), s(1000));
        assert_eq!(c.tier("file"), Some(Tier::Protected));
        for i in 0..10 {
            looked_up(&c, &format!("p{i}"), s(1000));
        }
        assert_eq!(c.tier("file"), Some(Tier::Protected));
    }

    #[test]
    fn without_probation_every_entry_is_protected() {
        let (c, _) = cache(2);
        looked_up(&c, "a", s(1000));
        failed(&c, "b");
        assert_eq!(c.tier("a"), Some(Tier::Protected));
        assert_eq!(c.tier("b"), Some(Tier::Protected));
        looked_up(&c, "c", s(1000)); // the oldest goes
        assert_eq!(held(&c, &["a", "b", "c"]), [false, true, true]);
    }

    /// Structural, not timed: an insert into a full cache of 100,000 entries
    /// looks at a bounded number of queue records, however full the cache,
    /// also while promotions and restores leave stale records behind.
    #[test]
    fn eviction_does_not_scan_the_cache() {
        const N: usize = 100_000;
        let c = tiered(N);
        for i in 0..N {
            looked_up(&c, &format!("p{i}"), s(1000));
        }
        assert_eq!(c.visited(), 0, "filling evicts nothing");
        for i in 0..1_000 {
            let v = looked_up(&c, &format!("known{i}"), s(1000));
            c.promote_now(&format!("known{i}"), &v);
        }
        let before = c.visited();
        // 1,000 entries evicted, one record each (plus compaction, amortised).
        assert!(before <= 2 * 1_000, "{before}");
        const M: u64 = 20_000;
        for i in 0..M {
            looked_up(&c, &format!("flood{i}"), s(1000));
            // Stale records: a known signer stored again (its refresh).
            looked_up(&c, &format!("known{}", i % 1_000), s(1000));
        }
        let visited = c.visited() - before;
        assert!(
            visited <= 4 * M,
            "{visited} records looked at for {M} inserts into a full cache of {N}"
        );
        assert_eq!(c.len(), N);
        for i in 0..1_000 {
            assert_eq!(c.tier(&format!("known{i}")), Some(Tier::Protected));
        }
        let st = c.stats();
        assert_eq!(st.protected_evictions, 0);
        assert_eq!(st.probation_evictions, 1_000 + M);
        assert_eq!(st.probation_entries + st.protected_entries, N as u64);
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
