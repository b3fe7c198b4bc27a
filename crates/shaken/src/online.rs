//! Verification with certificate fetching: the core verifier plus the
//! x5u cache (edge layer, feature `fetch`).
//!
//! [`OnlineVerifier::verify`] runs stage 1 of [`Verifier`], takes the chain
//! from the cache (or fetches it, one fetch per URL however many callers
//! wait), and runs stage 2. A fetch failure becomes a 436 with a detail that
//! names the URL and the cause.
//!
//! CRLs go through the same HTTP layer ([`CrlFetcher`]): `Accept:
//! application/pkix-crl`, the CRL body cap, the same https/SSRF rules,
//! cached per `Cache-Control: max-age` (bounded by the CRL's `nextUpdate`)
//! with a negative cache and one fetch per URL at a time. With
//! [`OnlineVerifier::with_crl_fetcher`] the CRL distribution points named in
//! the chain are fetched for each verification (`--fetch-crl`).

use crate::cert::ChainError;
use crate::cert::{parse_chain, Certificate, Crl};
use crate::fetch::{
    CertCache, FetchError, FetchOptions, FetchedBody, ParseFn, SharedCache, SharedEntry,
    SharedKind, Tier,
};
use crate::identity::IdentityHeader;
use crate::verify::{
    CallContext, CrlFailure, Failure, Pending, VerifiedPassport, Verifier, VerifyError,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, UNIX_EPOCH};

/// `Accept` sent for CRL fetches (RFC 5280 §4.2.1.13 / the STI-PA CRL API).
pub const CRL_ACCEPT: &str = "application/pkix-crl, application/x-pem-file;q=0.9, */*;q=0.1";

/// Fetches and caches CRLs (PEM or DER) over the x5u HTTP layer.
///
/// **Background refresh**, as for x5u chains ([`CertCache`]): a CRL cached
/// for a lifetime `L` (`max-age`, bounded by its `nextUpdate`) enters its
/// refresh window when `max(L / 10, Limits::cache_refresh_min)` of it is left
/// (never before half of `L`). The first lookup that finds it there is
/// answered from the cache and starts one fetch of the URL in the background;
/// the fetched CRL (checked like any fetched CRL) replaces the entry. A failed
/// refresh keeps the entry until it expires, counts in the cache's
/// `refresh_failures` and is tried again after `negative_cache_ttl`. An
/// expired CRL is never used: its call waits for the fetch (joining a
/// refresh under way).
pub struct CrlFetcher {
    cache: CertCache<Crl>,
    state: Arc<CrlState>,
    shared: Option<Arc<dyn SharedCache>>,
}

/// What every handle of one CRL fetcher shares (refresh tasks hold one).
#[derive(Default)]
struct CrlState {
    negative: Mutex<HashMap<String, (Instant, FetchError)>>,
    flights: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// When each cached CRL is due for its background refresh (read on
    /// every lookup: a read lock and an atomic claim, as the x5u cache does).
    due: RwLock<HashMap<String, Due>>,
}

/// The refresh schedule of one cached CRL.
#[derive(Debug)]
struct Due {
    /// From when a lookup starts the refresh.
    at: Instant,
    /// When the cached CRL expires.
    expires: Instant,
    /// A refresh is under way.
    busy: AtomicBool,
}

impl std::fmt::Debug for CrlFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrlFetcher")
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn read<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|e| e.into_inner())
}

impl CrlFetcher {
    /// A CRL fetcher with the x5u fetch rules of `opts` (https unless
    /// `allow_http`, SSRF guard unless `allow_private`, timeouts) and the
    /// CRL body cap `opts.limits.max_crl_body`.
    pub fn new(opts: FetchOptions) -> Result<Self, FetchError> {
        let limits = opts.limits.clone();
        let parse: ParseFn<Crl> = Arc::new(move |body: &[u8]| {
            Crl::from_pem_or_der(body, &limits).map_err(|e| e.to_string())
        });
        // CRLs are not written to the x5u on-disk cache.
        let opts = FetchOptions {
            cache_dir: None,
            ..opts
        };
        Ok(CrlFetcher {
            // Entries are inserted (never refreshed by the cache itself: its
            // generic fetch would skip the CRL's scope check); this fetcher
            // refreshes them.
            cache: CertCache::new(opts, parse)?,
            state: Arc::default(),
            shared: None,
        })
    }

    /// Share fetched CRLs and CRL failures with a fleet (see
    /// [`CertCache::with_shared`]): asked before fetching, written after.
    pub fn with_shared(mut self, shared: Arc<dyn SharedCache>) -> Self {
        self.shared = Some(shared);
        self
    }

    /// Replaces the clock of expiries and refreshes (tests use
    /// [`ManualClock`](crate::fetch::ManualClock)).
    pub fn with_clock(mut self, clock: Arc<dyn crate::fetch::Clock>) -> Self {
        self.cache = self.cache.with_clock(clock);
        self
    }

    /// Another handle on the same cache and state (what a refresh task runs with).
    fn handle(&self) -> Self {
        CrlFetcher {
            cache: self.cache.handle(),
            state: Arc::clone(&self.state),
            shared: self.shared.clone(),
        }
    }

    fn now(&self) -> Instant {
        self.cache.clock().now()
    }

    fn limits(&self) -> &crate::Limits {
        &self.cache.http().options().limits
    }

    /// Remember a failure locally for `ttl`.
    fn remember_failure(&self, url: &str, e: &FetchError, ttl: Duration) {
        let max = self.limits().cache_max_entries.max(1);
        let now = self.now();
        let until = now + ttl;
        let mut neg = lock(&self.state.negative);
        if neg.len() >= max {
            neg.retain(|_, (u, _)| *u > now);
            if neg.len() >= max {
                neg.clear();
            }
        }
        neg.insert(url.to_owned(), (until, e.clone()));
    }

    /// Cache `crl` for `ttl` and schedule its background refresh.
    fn store(&self, url: &str, crl: Crl, ttl: Duration) {
        self.cache.insert(url, crl, ttl);
        let now = self.now();
        let window = crate::fetch::refresh_window(ttl, self.limits().cache_refresh_min);
        let (Some(at), Some(expires)) = (
            now.checked_add(ttl.saturating_sub(window)),
            now.checked_add(ttl),
        ) else {
            return;
        };
        let max = self.limits().cache_max_entries.max(1);
        let mut due = write(&self.state.due);
        if due.len() >= max && !due.contains_key(url) {
            due.retain(|_, d| d.expires > now);
            if due.len() >= max {
                due.clear();
            }
        }
        due.insert(
            url.to_owned(),
            Due {
                at,
                expires,
                busy: AtomicBool::new(false),
            },
        );
    }

    /// A CRL or a failure another node of the fleet fetched, kept locally
    /// until the entry's expiry; `None` when expired or not parsable.
    fn take_shared(&self, url: &str, entry: SharedEntry) -> Option<Result<Arc<Crl>, FetchError>> {
        let limits = self.limits();
        let now_ms = crate::fetch::unix_ms(self.cache.clock().system_now());
        let left = Duration::from_millis(
            entry
                .expires_at_ms()
                .checked_sub(now_ms)
                .filter(|l| *l > 0)?,
        );
        match entry {
            SharedEntry::Body { public, .. }
                if !self.cache.http().options().may_take_cached(public) =>
            {
                tracing::debug!(%url, "shared CRL entry fetched from a non-public address; private addresses are refused here: fetching");
                None
            }
            SharedEntry::Body { body, .. } => match parse_crl_at(url, &body, limits) {
                Ok(crl) => {
                    self.store(url, crl, left.min(limits.cache_max_ttl));
                    self.cache.get_cached(url).map(Ok)
                }
                Err(e) => {
                    tracing::warn!(%url, error = %e, "shared CRL entry does not parse; fetching");
                    None
                }
            },
            SharedEntry::Failure { code, detail, .. } => {
                let e = FetchError::remembered(url, &code, &detail);
                self.remember_failure(url, &e, left.min(limits.negative_cache_ttl));
                Some(Err(e))
            }
            // CRLs are protected when fetched: never written unvouched.
            SharedEntry::Unvouched { .. } => None,
        }
    }

    /// The CRL store (its counters count hits and background refreshes;
    /// fetches are made here).
    pub fn cache(&self) -> &CertCache<Crl> {
        &self.cache
    }

    /// A fresh cached CRL, or a fresh cached failure, without I/O. A CRL in
    /// its refresh window is returned and, for the first such lookup,
    /// refetched in the background (see [`CrlFetcher`]).
    pub fn get_cached(&self, url: &str) -> Option<Result<Arc<Crl>, FetchError>> {
        if let Some(c) = self.cache.get_cached(url) {
            self.refresh_if_due(url);
            return Some(Ok(c));
        }
        let neg = lock(&self.state.negative);
        match neg.get(url) {
            Some((until, e)) if *until > self.now() => Some(Err(e.clone())),
            _ => None,
        }
    }

    /// The one-per-URL lock that fetches of `url` hold.
    fn flight(&self, url: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut f = lock(&self.state.flights);
        Arc::clone(f.entry(url.to_owned()).or_default())
    }

    /// The flight is over: keep the map from growing with every URL ever seen.
    fn end_flight(&self, url: &str, flight: &Arc<tokio::sync::Mutex<()>>) {
        let mut f = lock(&self.state.flights);
        if f.get(url).is_some_and(|a| Arc::ptr_eq(a, flight)) {
            f.remove(url);
        }
    }

    /// The CRL at `url`: from the cache, or fetched (one fetch per URL at a
    /// time; failures are remembered for `limits.negative_cache_ttl`).
    pub async fn get(&self, url: &str) -> Result<Arc<Crl>, FetchError> {
        if let Some(r) = self.get_cached(url) {
            return r;
        }
        let flight = self.flight(url);
        let guard = flight.lock().await;
        let result = match self.get_cached(url) {
            Some(r) => r,
            None => match self.shared.clone() {
                None => self.fetch_and_store(url).await,
                Some(store) => {
                    let wait = self.limits().fetch_timeout;
                    let found =
                        crate::fetch::shared_lookup(store.as_ref(), SharedKind::Crl, url, wait, 0)
                            .await
                            .and_then(|e| self.take_shared(url, e));
                    match found {
                        Some(r) => r,
                        None => self.fetch_and_store(url).await,
                    }
                }
            },
        };
        drop(guard);
        // Later callers find the cache (or the negative cache).
        self.end_flight(url, &flight);
        result
    }

    /// Start the background refresh of `url` if its CRL is due and no
    /// refresh is under way.
    fn refresh_if_due(&self, url: &str) {
        let now = self.now();
        let held = {
            let due = read(&self.state.due);
            let Some(d) = due.get(url) else {
                return;
            };
            if d.at > now
                || d.expires <= now
                || d.busy.load(Ordering::Relaxed)
                || d.busy
                    .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
                    .is_err()
            {
                return;
            }
            d.expires
        };
        self.cache.count_refresh();
        tracing::debug!(%url, "cached CRL near its expiry; refreshing it in the background");
        let this = self.handle();
        let owned = url.to_owned();
        let spawned = self
            .cache
            .spawn_background(async move { this.refresh(&owned, held).await });
        if let Err(reason) = spawned {
            tracing::warn!(%url, %reason, "cannot refresh a cached CRL in the background");
            if let Some(d) = read(&self.state.due).get(url) {
                d.busy.store(false, Ordering::Release);
            }
        }
    }

    /// The background refresh of `url`, whose cached CRL expires at `held`.
    async fn refresh(&self, url: &str, held: Instant) {
        let flight = self.flight(url);
        let guard = flight.lock().await;
        let replaced = read(&self.state.due)
            .get(url)
            .is_none_or(|d| d.expires > held);
        if !replaced {
            self.refresh_once(url, held).await;
        }
        drop(guard);
        self.end_flight(url, &flight);
    }

    async fn refresh_once(&self, url: &str, held: Instant) {
        if let Some(store) = self.shared.clone() {
            // Another node may have refreshed it already: only an entry that
            // outlives the one held counts.
            let wait = self.limits().fetch_timeout;
            let left = held.saturating_duration_since(self.now());
            let newer_than = crate::fetch::unix_ms(self.cache.clock().system_now())
                .saturating_add(u64::try_from(left.as_millis()).unwrap_or(u64::MAX));
            let found =
                crate::fetch::shared_lookup(store.as_ref(), SharedKind::Crl, url, wait, newer_than)
                    .await;
            match found {
                Some(entry @ SharedEntry::Body { .. }) => {
                    if let Some(Ok(_)) = self.take_shared(url, entry) {
                        return;
                    }
                }
                Some(SharedEntry::Failure { code, detail, .. }) => {
                    let e = FetchError::remembered(url, &code, &detail);
                    self.refresh_failed(url, &e);
                    return;
                }
                Some(SharedEntry::Unvouched { .. }) | None => {}
            }
        }
        match self.fetch(url).await {
            Ok((crl, ttl, body)) => self.stored(url, crl, ttl, body).await,
            Err(e) => {
                self.refresh_failed(url, &e);
                // A busy refresh says nothing about the URL: not for the fleet.
                if let Some(store) = self.shared.as_ref() {
                    self.share_failure(store.as_ref(), url, &e).await;
                }
            }
        }
    }

    /// Tell the fleet this node's fetch of `url` failed
    /// ([`share_failure`](crate::fetch::share_failure)).
    async fn share_failure(&self, store: &dyn SharedCache, url: &str, e: &FetchError) {
        let limits = self.limits();
        crate::fetch::share_failure(
            store,
            SharedKind::Crl,
            url,
            e,
            self.cache.clock().system_now(),
            limits.negative_cache_ttl,
            limits.fetch_timeout.saturating_add(Duration::from_secs(1)),
        )
        .await;
    }

    /// A background refresh failed: the cached CRL is kept until it
    /// expires, and the refresh is tried again after `negative_cache_ttl`.
    fn refresh_failed(&self, url: &str, e: &FetchError) {
        let now = self.now();
        let backoff = self.limits().negative_cache_ttl.max(Duration::from_secs(1));
        self.cache.count_refresh_failure();
        let mut due = write(&self.state.due);
        if let Some(d) = due.get_mut(url) {
            d.busy.store(false, Ordering::Release);
            d.at = now.checked_add(backoff).unwrap_or(d.expires);
            let left_s = d.expires.saturating_duration_since(now).as_secs();
            tracing::warn!(%url, error = %e, left_s, "background CRL refresh failed; the cached CRL is kept until it expires");
        }
    }

    /// Fetch and check the CRL at `url`: the CRL, its cache lifetime and
    /// what was fetched (for the fleet).
    async fn fetch(&self, url: &str) -> Result<(Crl, Duration, FetchedBody), FetchError> {
        let limits = self.limits();
        let fetched = self
            .cache
            .http()
            .get(url, CRL_ACCEPT, limits.max_crl_body)
            .await?;
        let crl = parse_crl_at(url, &fetched.body, limits)?;
        let now = self
            .cache
            .clock()
            .system_now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let ttl = crl_ttl(
            fetched.max_age,
            crl.next_update(),
            now,
            limits.cache_default_ttl,
            limits.cache_min_ttl,
            limits.cache_max_ttl,
        );
        Ok((crl, ttl, fetched))
    }

    /// Store a fetched CRL here and in the fleet's cache.
    async fn stored(&self, url: &str, crl: Crl, ttl: Duration, fetched: FetchedBody) {
        self.store(url, crl, ttl);
        if let Some(store) = &self.shared {
            let entry = SharedEntry::Body {
                public: fetched.from_public_address(),
                body: fetched.body,
                expires_at_ms: crate::fetch::unix_ms(self.cache.clock().system_now())
                    .saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)),
            };
            store.put(SharedKind::Crl, url.to_owned(), entry).await;
        }
    }

    async fn fetch_and_store(&self, url: &str) -> Result<Arc<Crl>, FetchError> {
        match self.fetch(url).await {
            Ok((crl, ttl, body)) => {
                self.stored(url, crl, ttl, body).await;
                self.cache
                    .get_cached(url)
                    .ok_or_else(|| FetchError::Client {
                        reason: "the CRL cache holds no entries (Limits::cache_max_entries is 0)"
                            .to_owned(),
                    })
            }
            // Every fetch slot was taken: nothing was asked of the URL, so
            // nothing is remembered about it (the next call tries again).
            Err(e) if e.is_transient_local() => Err(e),
            Err(e) => {
                let limits = self.limits();
                tracing::debug!(%url, error = %e, "CRL fetch failed; negatively cached");
                self.remember_failure(url, &e, limits.negative_cache_ttl);
                if let Some(store) = &self.shared {
                    self.share_failure(store.as_ref(), url, &e).await;
                }
                Err(e)
            }
        }
    }

    /// Fetches every URL; returns the CRLs obtained and the failures.
    pub async fn fetch_all(&self, urls: &[String]) -> (Vec<Crl>, Vec<CrlFailure>) {
        let mut crls = Vec::new();
        let mut failures = Vec::new();
        for url in urls {
            match self.get(url).await {
                Ok(c) => crls.push((*c).clone()),
                Err(e) => failures.push(CrlFailure {
                    url: url.clone(),
                    detail: format!("{} ({e})", e.code()),
                }),
            }
        }
        (crls, failures)
    }

    /// Like [`fetch_all`](Self::fetch_all) from the cache only; `None` when
    /// some URL is neither cached nor negatively cached.
    pub fn cached_all(&self, urls: &[String]) -> Option<(Vec<Crl>, Vec<CrlFailure>)> {
        let mut crls = Vec::new();
        let mut failures = Vec::new();
        for url in urls {
            match self.get_cached(url)? {
                Ok(c) => crls.push((*c).clone()),
                Err(e) => failures.push(CrlFailure {
                    url: url.clone(),
                    detail: format!("{} ({e})", e.code()),
                }),
            }
        }
        Some((crls, failures))
    }
}

/// Parse a CRL fetched from `url`. A CRL that names its distribution point
/// must come from there (specs §5.2): a CRL for another scope served at
/// this URL is refused.
fn parse_crl_at(url: &str, body: &[u8], limits: &crate::Limits) -> Result<Crl, FetchError> {
    let crl = Crl::from_pem_or_der(body, limits).map_err(|e| FetchError::Parse {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    let idp = &crl.scope().uris;
    if !idp.is_empty() && !idp.iter().any(|u| u == url) {
        return Err(FetchError::Parse {
            url: url.to_owned(),
            reason: format!(
                "the CRL's issuingDistributionPoint names {}, not the URL it was fetched from",
                idp.join(", ")
            ),
        });
    }
    Ok(crl)
}

/// Cache lifetime of a fetched CRL: `max-age` (or the default) clamped to
/// `[min, max]`, and never past the CRL's `nextUpdate` (but at least `min`).
fn crl_ttl(
    max_age: Option<Duration>,
    next_update: Option<i64>,
    now: i64,
    default: Duration,
    min: Duration,
    max: Duration,
) -> Duration {
    let mut ttl = max_age.unwrap_or(default).max(min).min(max.max(min));
    if let Some(nu) = next_update {
        let left = Duration::from_secs(u64::try_from(nu.saturating_sub(now)).unwrap_or(0));
        ttl = ttl.min(left).max(min);
    }
    ttl
}

/// The distinct http(s) CRL distribution point URLs of a chain, in order.
pub fn crl_urls(chain: &[Certificate]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in chain {
        for u in c.crl_distribution_points() {
            if out.len() == MAX_CDP_URLS {
                return out;
            }
            if (u.starts_with("http://") || u.starts_with("https://")) && !out.contains(u) {
                out.push(u.clone());
            }
        }
    }
    out
}

/// Most CRL distribution point URLs fetched for one chain (ATIS-1000080:
/// exactly one per certificate; a chain has at most a few).
pub const MAX_CDP_URLS: usize = 4;

/// The x5u cache holding parsed chains (end entity first).
pub type ChainCache = CertCache<Vec<Certificate>>;

/// Build a chain cache whose parser is [`parse_chain`] under `opts.limits`,
/// with probation on (see [`CertCache`], "Tiers"): a fetched chain is on
/// probation until [`OnlineVerifier`] sees it vouched for
/// ([`vouches_for_chain`]), and only then reaches the disk and the fleet.
pub fn chain_cache(opts: FetchOptions) -> Result<ChainCache, FetchError> {
    let limits = opts.limits.clone();
    let parse: ParseFn<Vec<Certificate>> =
        Arc::new(move |body: &[u8]| parse_chain(body, &limits).map_err(|e| e.to_string()));
    Ok(CertCache::new(opts, parse)?.with_probation(true))
}

/// How far [`OnlineVerifier::complete_cached_until_signature`] got.
// The signature variant is large (the decoded PASSporT): it is made once
// a call and moved into place, where a box would cost an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
#[non_exhaustive]
pub enum OnlineStep {
    /// The verification ended before the signature (a failure).
    Done(Result<VerifiedPassport, Box<Failure>>),
    /// The signature is what is left.
    Signature(OnlineSignature),
}

/// A cached-chain verification at its signature
/// ([`crate::verify::SignatureStep`], and the cached chain to promote when
/// the call vouches for it).
#[derive(Debug)]
pub struct OnlineSignature {
    step: crate::verify::SignatureStep,
    promote: Option<(String, Arc<Vec<Certificate>>)>,
}

impl OnlineSignature {
    /// [`SignatureStep::check_signature`](crate::verify::SignatureStep::check_signature).
    pub fn check_signature(&mut self) -> bool {
        self.step.check_signature()
    }
}

/// Whether a verification's outcome vouches for the chain it used, so that
/// its x5u cache entry is protected: the chain validated to a trust anchor
/// and its end-entity key verified the PASSporT's signature. The verdict
/// may still be a failure (a stale `iat` found by attribution, a replay, a
/// TN the certificate does not cover, a CRL that could not be fetched): a
/// known signer whose calls fail later checks is still known. A chain that
/// validates is not enough: certificate chains are public, and a stranger
/// serving a copy of one at a URL of their own cannot make it verify a
/// signature. Costs nothing: the verifier established both already.
pub fn vouches_for_chain(result: &Result<VerifiedPassport, Box<Failure>>) -> bool {
    match result {
        Ok(_) => true,
        Err(f) => f.signer.as_ref().is_some_and(|s| {
            s.signature_verified
                && (s.trusted
                    // Validated (without CRL coverage), then failed for the
                    // CRL that could not be fetched under the hard policy.
                    || matches!(f.error, VerifyError::Chain(ChainError::CrlUnavailable { .. })))
        }),
    }
}

/// The signer attribution established: a trusted chain whose key verified
/// the signature.
fn attributed_trusted(f: &Failure) -> bool {
    f.signer
        .as_ref()
        .is_some_and(|s| s.trusted && s.signature_verified)
}

/// Map a fetch failure to the 436 verification error.
pub fn fetch_error(e: &FetchError) -> VerifyError {
    VerifyError::CertUnavailable {
        detail: format!("x5u certificate could not be obtained: {e}"),
        cause: e.code(),
    }
}

/// Where a verification's CRLs come from: fixed URLs (`--crl URL`) and/or
/// the CRL distribution points named in the chain (`--fetch-crl`), through
/// one [`CrlFetcher`] (cached, refetched when `max-age` or `nextUpdate`
/// runs out, so a long-running service never holds a stale CRL).
#[derive(Clone)]
pub struct CrlSource {
    fetcher: Arc<CrlFetcher>,
    urls: Vec<String>,
    follow_cdp: bool,
}

impl std::fmt::Debug for CrlSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrlSource")
            .field("urls", &self.urls)
            .field("follow_cdp", &self.follow_cdp)
            .finish()
    }
}

impl CrlSource {
    /// CRLs from `urls` and, with `follow_cdp`, from each chain's CRL
    /// distribution points.
    pub fn new(fetcher: Arc<CrlFetcher>, urls: Vec<String>, follow_cdp: bool) -> Self {
        CrlSource {
            fetcher,
            urls,
            follow_cdp,
        }
    }

    fn urls_for(&self, chain: &[Certificate]) -> Vec<String> {
        let mut urls = self.urls.clone();
        if self.follow_cdp {
            for u in crl_urls(chain) {
                if !urls.contains(&u) {
                    urls.push(u);
                }
            }
        }
        urls
    }

    /// The CRLs for `chain` from the cache only; `None` if one must be fetched.
    pub fn cached(&self, chain: &[Certificate]) -> Option<(Vec<Crl>, Vec<CrlFailure>)> {
        self.fetcher.cached_all(&self.urls_for(chain))
    }

    /// The CRLs for `chain`, fetched where not cached, and the failures.
    pub async fn get(&self, chain: &[Certificate]) -> (Vec<Crl>, Vec<CrlFailure>) {
        self.fetcher.fetch_all(&self.urls_for(chain)).await
    }
}

/// A [`Verifier`] with a shared certificate cache.
#[derive(Clone)]
pub struct OnlineVerifier {
    verifier: Arc<Verifier>,
    cache: Arc<ChainCache>,
    crls: Option<CrlSource>,
}

impl OnlineVerifier {
    /// Combine a verifier and a cache.
    pub fn new(verifier: Arc<Verifier>, cache: Arc<ChainCache>) -> Self {
        OnlineVerifier {
            verifier,
            cache,
            crls: None,
        }
    }

    /// Fetch the CRL distribution points named in each chain (`--fetch-crl`)
    /// with this fetcher, and check revocation against them.
    pub fn with_crl_fetcher(mut self, crls: Arc<CrlFetcher>) -> Self {
        self.crls = Some(CrlSource::new(crls, vec![], true));
        self
    }

    /// Check revocation against the CRLs of `source` on every verification.
    pub fn with_crl_source(mut self, source: CrlSource) -> Self {
        self.crls = Some(source);
        self
    }

    /// The verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The cache.
    pub fn cache(&self) -> &ChainCache {
        &self.cache
    }

    /// Verify one Identity header: stage 1, the chain from the cache or the
    /// network, stage 2.
    pub async fn verify(
        &self,
        identity: &IdentityHeader,
        ctx: &CallContext,
    ) -> Result<VerifiedPassport, Box<Failure>> {
        let pending = self.verifier.prepare(identity, ctx)?;
        self.complete(pending, ctx).await
    }

    /// Stage 2 of a PASSporT the caller prepared (a shaken one with
    /// [`Verifier::prepare`], a `div` one with [`Verifier::prepare_div`]):
    /// the chain from the cache or the network, CRLs, then
    /// [`Verifier::complete`].
    pub async fn complete(
        &self,
        pending: Pending,
        ctx: &CallContext,
    ) -> Result<VerifiedPassport, Box<Failure>> {
        if self.verifier.anchors().is_empty() {
            // Nothing can be trusted: say so (437, with how to configure
            // anchors) without fetching a stranger's URL first.
            return self.verifier.complete(pending, Ok(&[]), ctx.now);
        }
        let (chain, tier) = match self.cache.get_cached_tiered(&pending.x5u) {
            Some((c, tier)) => (Ok(c), tier),
            None => (
                self.cache
                    .get(&pending.x5u)
                    .await
                    .map_err(|e| fetch_error(&e)),
                Tier::Probation,
            ),
        };
        // The URL, for a promotion (not copied for a protected entry).
        let url = (tier == Tier::Probation).then(|| pending.x5u.clone());
        let result = self.complete_with_chain(pending, chain.clone(), ctx).await;
        if let (Some(url), Ok(c)) = (url, &chain) {
            if vouches_for_chain(&result) {
                self.cache.promote(&url, c).await;
            } else {
                // A fleet's nodes waiting on this node's fetch go on.
                self.cache.decline(&url, c).await;
            }
        }
        result
    }

    async fn complete_with_chain(
        &self,
        pending: Pending,
        chain: Result<Arc<Vec<Certificate>>, VerifyError>,
        ctx: &CallContext,
    ) -> Result<VerifiedPassport, Box<Failure>> {
        match chain {
            Ok(c) => match &self.crls {
                Some(source) => {
                    let (crls, failures) = match source.cached(&c) {
                        Some(r) => r,
                        // The distribution points of a chain that does not
                        // lead to an anchor are a stranger's URLs: fetch
                        // nothing for it (it fails as untrusted anyway).
                        None if source.follow_cdp
                            && !self.verifier.chain_is_trusted(&c, ctx.now) =>
                        {
                            (vec![], vec![])
                        }
                        None => source.get(&c).await,
                    };
                    self.verifier.complete_with_crls(
                        pending,
                        Ok(c.as_slice()),
                        ctx.now,
                        &crls,
                        &failures,
                    )
                }
                None => self.verifier.complete(pending, Ok(c.as_slice()), ctx.now),
            },
            Err(e) => self.verifier.complete(pending, Err(e), ctx.now),
        }
    }

    /// Verify without waiting for the network: `None` when the chain is not
    /// cached (then call [`verify`](Self::verify)). Batch workers use this on
    /// their hot path.
    pub fn verify_cached(
        &self,
        identity: &IdentityHeader,
        ctx: &CallContext,
    ) -> Option<Result<VerifiedPassport, Box<Failure>>> {
        let pending = match self.verifier.prepare(identity, ctx) {
            Ok(p) => p,
            Err(f) => return Some(Err(f)),
        };
        self.complete_cached(pending, ctx).ok()
    }

    /// [`verify_cached`](Self::verify_cached) up to the signature: `None`
    /// when the certificate (or a CRL) must still be fetched.
    pub fn verify_cached_until_signature(
        &self,
        identity: &IdentityHeader,
        ctx: &CallContext,
    ) -> Option<OnlineStep> {
        match self.verifier.prepare(identity, ctx) {
            Ok(p) => self.complete_cached_until_signature(p, ctx).ok(),
            Err(f) => Some(OnlineStep::Done(Err(f))),
        }
    }

    /// [`complete`](Self::complete) without waiting for the network: the
    /// pending PASSporT is handed back when its chain (or a CRL) is not
    /// cached.
    pub fn complete_cached(
        &self,
        pending: Pending,
        ctx: &CallContext,
    ) -> Result<Result<VerifiedPassport, Box<Failure>>, Box<Pending>> {
        Ok(match self.complete_cached_until_signature(pending, ctx)? {
            OnlineStep::Done(result) => result,
            OnlineStep::Signature(step) => self.complete_signature(step, ctx.now),
        })
    }

    /// [`complete_cached`](Self::complete_cached) up to the signature
    /// ([`Verifier::complete_until_signature`]): finish an
    /// [`OnlineStep::Signature`] with
    /// [`complete_signature`](Self::complete_signature).
    pub fn complete_cached_until_signature(
        &self,
        pending: Pending,
        ctx: &CallContext,
    ) -> Result<OnlineStep, Box<Pending>> {
        let Some((chain, tier)) = self.cache.get_cached_tiered(&pending.x5u) else {
            return Err(Box::new(pending));
        };
        let crls = match &self.crls {
            Some(source) => match source.cached(&chain) {
                Some(r) => Some(r),
                None => return Err(Box::new(pending)),
            },
            None => None,
        };
        // The URL, for a promotion (not copied for a protected entry).
        let promote = (tier == Tier::Probation).then(|| (pending.x5u.clone(), Arc::clone(&chain)));
        let (crls, failures) = crls.unwrap_or_default();
        let step = self.verifier.complete_until_signature(
            pending,
            Ok(chain.as_slice()),
            ctx.now,
            &crls,
            &failures,
        );
        Ok(match step {
            Ok(step) => OnlineStep::Signature(OnlineSignature { step, promote }),
            Err(f) => OnlineStep::Done(self.promote_if_vouched(promote, Err(f))),
        })
    }

    /// The end of a verification that
    /// [`complete_cached_until_signature`](Self::complete_cached_until_signature)
    /// took up to its signature ([`Verifier::complete_signature`]).
    pub fn complete_signature(
        &self,
        step: OnlineSignature,
        now: i64,
    ) -> Result<VerifiedPassport, Box<Failure>> {
        let OnlineSignature { step, promote } = step;
        let result = self.verifier.complete_signature(step, now);
        self.promote_if_vouched(promote, result)
    }

    /// A chain on probation that this result vouches for is promoted.
    fn promote_if_vouched(
        &self,
        promote: Option<(String, Arc<Vec<Certificate>>)>,
        result: Result<VerifiedPassport, Box<Failure>>,
    ) -> Result<VerifiedPassport, Box<Failure>> {
        if let Some((url, chain)) = promote {
            if vouches_for_chain(&result) {
                self.cache.promote_now(&url, &chain);
            }
        }
        result
    }

    /// Attribution of a failure found before the certificate was needed
    /// ([`Verifier::attribute`]) with the cached chain of its `x5u`; `None`
    /// when that chain is not cached. A chain it establishes as the trusted
    /// signer's is promoted, as a verification's would be.
    pub fn attribute_cached(
        &self,
        identity: &IdentityHeader,
        failure: &mut Failure,
        now: i64,
    ) -> Option<()> {
        let x5u = failure.x5u.clone().unwrap_or_default();
        let (chain, tier) = self.cache.get_cached_tiered(&x5u)?;
        self.verifier.attribute(identity, failure, &chain, now);
        if tier == Tier::Probation && attributed_trusted(failure) {
            self.cache.promote_now(&x5u, &chain);
        }
        Some(())
    }

    /// [`attribute_cached`](Self::attribute_cached), fetching the chain when
    /// it is not cached (as a call that passed stage 1 would have).
    pub async fn attribute(&self, identity: &IdentityHeader, failure: &mut Failure, now: i64) {
        let Some(x5u) = failure.x5u.clone() else {
            return;
        };
        let Ok(chain) = self.cache.get(&x5u).await else {
            return;
        };
        self.verifier.attribute(identity, failure, &chain, now);
        if attributed_trusted(failure) {
            self.cache.promote(&x5u, &chain).await;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn crl_ttl_is_bounded_by_next_update() {
        let (d, min, max) = (
            Duration::from_secs(3600),
            Duration::from_secs(60),
            Duration::from_secs(86400),
        );
        assert_eq!(crl_ttl(None, None, 0, d, min, max), d);
        assert_eq!(crl_ttl(Some(Duration::ZERO), None, 0, d, min, max), min);
        assert_eq!(
            crl_ttl(Some(Duration::from_secs(1 << 30)), None, 0, d, min, max),
            max
        );
        assert_eq!(
            crl_ttl(None, Some(600), 0, d, min, max),
            Duration::from_secs(600)
        );
        assert_eq!(crl_ttl(None, Some(-5), 0, d, min, max), min);
    }

    #[test]
    fn crl_urls_are_distinct_and_http_only() {
        let pki = crate::pki::LabPki::generate(&crate::pki::LabPkiOptions::new(
            1_767_225_600,
            1_767_225_600 + 86400,
        ))
        .unwrap();
        let chain =
            parse_chain(pki.leaf_chain_pem().as_bytes(), &crate::Limits::default()).unwrap();
        assert_eq!(crl_urls(&chain), ["http://127.0.0.1/crl.pem"]);
    }
}
