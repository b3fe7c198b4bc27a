//! The ATIS-1000082 signing and verification service (edge layer, feature
//! `server`): what `shaken serve` runs.
//!
//! - `POST /stir/v1/signing`: `{"signingRequest":{...}}` →
//!   `{"signingResponse":{"identity":"TOKEN;info=<x5u>;alg=ES256;ppt=shaken"}}`.
//! - `POST /stir/v1/verification`: `{"verificationRequest":{"from","to","time","identity"}}`
//!   → `{"verificationResponse":{"verstat",...}}`; verification failures are
//!   HTTP 200 with `reasoncode`/`reasontext`/`reasondesc`.
//! - Request errors: [`RequestError`] (`SVC4000`–`SVC4007`, `POL4050`, `POL5000`).
//! - `GET /health` (liveness), `GET /health/ready` (503 until trust
//!   anchors, the signing key and its certificate are loaded), `GET /metrics`
//!   (Prometheus text, see [`Metrics`]).
//! - Admission ([`auth`]): `--allow-from` networks (other peers are closed
//!   at accept), HTTPS and mutual TLS (rustls), API keys (`Authorization:
//!   Bearer`, 401 `POL4001` otherwise) on signing and verification.
//! - With [`ServerConfig::ui`] (`serve --ui`): the page on `/` and its
//!   endpoints `/ui/v1/inspect` and `/ui/v1/capture` ([`ui`]).
//! - Reload: [`AppState::reload`] swaps a new [`Services`] (verifier, signer,
//!   keys, TLS configuration) in atomically; requests in flight finish with
//!   the state they started with.
//!
//! The service keeps no state besides its caches (x5u chains, replay store),
//! so several instances can run behind any HTTP load balancer. The request
//! clock is the server's ([`ServerClock`]); it is read here, at the edge, and
//! passed to the sans-I/O core as `CallContext::now`.

mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod metrics;
pub mod ui;

pub use auth::{AllowFrom, ApiKeys, AuthError, TlsFiles};
pub use config::{ConfigError, FileConfig};
pub use error::RequestError;
pub use metrics::{Endpoint, Gauges, Metrics, Refusal};

use crate::sti::{StiAs, StiVs};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Path of the signing endpoint.
pub const SIGNING_PATH: &str = "/stir/v1/signing";
/// Path of the verification endpoint.
pub const VERIFICATION_PATH: &str = "/stir/v1/verification";
/// Path of the readiness check.
pub const READY_PATH: &str = "/health/ready";
/// Longest `X-Request-ID` echoed; a longer or non-printable one is replaced
/// by a generated id.
pub const MAX_REQUEST_ID: usize = 128;
/// How long a client may take to finish the TLS handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default cap on a request body: 16 KiB (an Identity header is at most
/// 8 KiB, `Limits::max_identity_header_len`, plus the JSON around it).
pub const DEFAULT_MAX_BODY: usize = 16 * 1024;
/// Default per-request timeout (queueing included): 5 s.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Default bound on requests handled at once: 1024. More wait in line.
pub const DEFAULT_MAX_CONCURRENT: usize = 1024;
/// Most open client connections; past it new connections are closed at once
/// (idle keep-alive connections count too).
pub const MAX_CONNECTIONS: usize = 10_000;
/// How long a client may take to send a request's headers (slow-header
/// clients would otherwise hold connections forever).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Where request handling reads the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ServerClock {
    /// The system clock.
    #[default]
    System,
    /// A frozen time, Unix seconds (tests and labs replaying old traffic).
    Fixed(i64),
}

impl ServerClock {
    /// Now, Unix seconds.
    pub fn now(self) -> i64 {
        match self {
            ServerClock::Fixed(t) => t,
            ServerClock::System => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                .unwrap_or(0),
        }
    }
}

/// Everything the service needs. Build with [`ServerConfig::new`] and the
/// `with_*` methods.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Address to bind, e.g. `127.0.0.1:8080` (port 0: any free port).
    pub listen: String,
    /// The signing service; `None` makes `/stir/v1/signing` answer 404 SVC4003.
    pub signing: Option<StiAs>,
    /// The verification service (trust anchors, CRLs, chain source, policy,
    /// limits, replay store): the library's, as on every other surface.
    pub vs: Arc<StiVs>,
    /// Largest |server time − request `time`|, seconds (ATIS E3). Default:
    /// the verifier's `max_age`.
    pub freshness: i64,
    /// Largest request body, bytes. Default [`DEFAULT_MAX_BODY`].
    pub max_body: usize,
    /// Per-request timeout. Default [`DEFAULT_REQUEST_TIMEOUT`].
    pub request_timeout: Duration,
    /// Most signing/verification requests handled at once. Default
    /// [`DEFAULT_MAX_CONCURRENT`].
    pub max_concurrent: usize,
    /// The clock. Default the system clock.
    pub clock: ServerClock,
    /// How long a client may take to send a request's headers. Default
    /// [`HEADER_READ_TIMEOUT`].
    pub header_read_timeout: Duration,
    /// The installed trust-list directory kept current by the service
    /// (`--trust-list-url`): its sequence and `exp` are metrics.
    pub trust_list_dir: Option<std::path::PathBuf>,
    /// API keys; `Some`: signing and verification need one.
    pub api_keys: Option<Arc<ApiKeys>>,
    /// HTTPS (and mutual TLS when the configuration verifies clients).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// `notAfter` of the TLS server certificate, Unix seconds.
    pub tls_not_after: Option<i64>,
    /// `notAfter` of the signing certificate (the leaf at `x5u`), Unix
    /// seconds, once checked against the key; readiness needs it when
    /// signing is on.
    pub signing_cert_not_after: Option<i64>,
    /// Peers allowed to connect; empty: any.
    pub allow_from: AllowFrom,
    /// `/metrics` needs an API key too.
    pub metrics_auth: bool,
    /// Serve the page for people on `/` and its endpoints under `/ui/v1/`
    /// ([`ui`]). Default off.
    pub ui: bool,
}

impl ServerConfig {
    /// A verification-only configuration with the defaults.
    pub fn new(listen: impl Into<String>, vs: Arc<StiVs>) -> Self {
        let freshness = vs.verifier().policy().max_age;
        ServerConfig {
            listen: listen.into(),
            signing: None,
            vs,
            freshness,
            max_body: DEFAULT_MAX_BODY,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_concurrent: DEFAULT_MAX_CONCURRENT,
            clock: ServerClock::System,
            header_read_timeout: HEADER_READ_TIMEOUT,
            api_keys: None,
            tls: None,
            tls_not_after: None,
            signing_cert_not_after: None,
            allow_from: AllowFrom::default(),
            metrics_auth: false,
            trust_list_dir: None,
            ui: false,
        }
    }
    /// Require one of these API keys on signing and verification.
    pub fn with_api_keys(mut self, keys: Arc<ApiKeys>) -> Self {
        self.api_keys = Some(keys);
        self
    }
    /// Serve HTTPS with this configuration (`not_after`: of its certificate,
    /// for the expiry metric).
    pub fn with_tls(mut self, tls: Arc<rustls::ServerConfig>, not_after: Option<i64>) -> Self {
        self.tls = Some(tls);
        self.tls_not_after = not_after;
        self
    }
    /// The signing certificate's `notAfter` (checked to match the key).
    pub fn with_signing_cert_not_after(mut self, not_after: i64) -> Self {
        self.signing_cert_not_after = Some(not_after);
        self
    }
    /// Accept connections only from these networks.
    pub fn with_allow_from(mut self, allow: AllowFrom) -> Self {
        self.allow_from = allow;
        self
    }
    /// Put `/metrics` behind the API keys too.
    pub fn with_metrics_auth(mut self, on: bool) -> Self {
        self.metrics_auth = on;
        self
    }
    /// Serve the page on `/` and its endpoints ([`ui`]).
    pub fn with_ui(mut self, on: bool) -> Self {
        self.ui = on;
        self
    }
    /// Header-read timeout (slow clients are disconnected).
    pub fn with_header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }
    /// Enable signing.
    pub fn with_signing(mut self, signing: StiAs) -> Self {
        self.signing = Some(signing);
        self
    }
    /// Freshness window for the request `time`, seconds.
    pub fn with_freshness(mut self, seconds: i64) -> Self {
        self.freshness = seconds;
        self
    }
    /// Body cap, bytes.
    pub fn with_max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }
    /// Per-request timeout.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }
    /// Concurrency bound (at least 1).
    pub fn with_max_concurrent(mut self, n: usize) -> Self {
        self.max_concurrent = n.max(1);
        self
    }
    /// The clock.
    pub fn with_clock(mut self, clock: ServerClock) -> Self {
        self.clock = clock;
        self
    }
    /// Show the trust list installed in `dir` (sequence, seconds to `exp`)
    /// in the metrics.
    pub fn with_trust_list_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.trust_list_dir = Some(dir.into());
        self
    }
}

/// What a reload replaces: the verification and signing services, the API
/// keys and the TLS configuration, built together and swapped in at once.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Services {
    /// The verification service.
    pub vs: Arc<StiVs>,
    /// The signing service, when signing is on.
    pub signing: Option<StiAs>,
    /// `notAfter` of the signing certificate, Unix seconds.
    pub signing_cert_not_after: Option<i64>,
    /// The API keys, when clients must present one.
    pub api_keys: Option<Arc<ApiKeys>>,
    /// The TLS configuration new connections get.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// `notAfter` of the TLS server certificate, Unix seconds.
    pub tls_not_after: Option<i64>,
    /// With a replay store that answers asynchronously (Redis): `vs`
    /// without its replay step, and that store, so the handler awaits the
    /// check instead of blocking its worker (built on first use).
    replay_async: std::sync::OnceLock<Option<ReplaySplit>>,
}

/// A verifier without its replay step, and the store to await after it.
type ReplaySplit = (Arc<StiVs>, Arc<dyn crate::ReplayGuard>);

impl Services {
    /// The verifier to run and the replay store to await after it, when
    /// that store answers asynchronously; else `vs` and `None`.
    pub(crate) fn replay_split(&self) -> (&Arc<StiVs>, Option<&Arc<dyn crate::ReplayGuard>>) {
        let split = self.replay_async.get_or_init(|| {
            let guard = self.vs.verifier().replay_guard()?;
            guard
                .is_async()
                .then(|| (Arc::new(self.vs.with_own_replay(None)), guard.clone()))
        });
        match split {
            Some((vs, guard)) => (vs, Some(guard)),
            None => (&self.vs, None),
        }
    }

    /// Verification only, no keys, no TLS.
    pub fn new(vs: Arc<StiVs>) -> Self {
        Services {
            vs,
            signing: None,
            signing_cert_not_after: None,
            api_keys: None,
            tls: None,
            tls_not_after: None,
            replay_async: std::sync::OnceLock::new(),
        }
    }
    /// Signing with this service, whose certificate expires at `not_after`.
    pub fn with_signing(mut self, signing: StiAs, not_after: Option<i64>) -> Self {
        self.signing = Some(signing);
        self.signing_cert_not_after = not_after;
        self
    }
    /// These API keys.
    pub fn with_api_keys(mut self, keys: Arc<ApiKeys>) -> Self {
        self.api_keys = Some(keys);
        self
    }
    /// This TLS configuration.
    pub fn with_tls(mut self, tls: Arc<rustls::ServerConfig>, not_after: Option<i64>) -> Self {
        self.tls = Some(tls);
        self.tls_not_after = not_after;
        self
    }

    fn from_config(c: &ServerConfig) -> Self {
        Services {
            vs: c.vs.clone(),
            signing: c.signing.clone(),
            signing_cert_not_after: c.signing_cert_not_after,
            api_keys: c.api_keys.clone(),
            tls: c.tls.clone(),
            tls_not_after: c.tls_not_after,
            replay_async: std::sync::OnceLock::new(),
        }
    }

    /// Why `/health/ready` would answer 503 at `now` (empty: ready).
    pub fn not_ready(&self, now: i64) -> Vec<String> {
        let mut why = Vec::new();
        if self.vs.verifier().anchors().is_empty() {
            why.push("no trust anchors loaded".to_owned());
        }
        if self.signing.is_some() {
            match self.signing_cert_not_after {
                None => why.push("the signing certificate is not loaded".to_owned()),
                Some(t) if t < now => why.push("the signing certificate has expired".to_owned()),
                Some(_) => {}
            }
        }
        if self.tls_not_after.is_some_and(|t| t < now) {
            why.push("the TLS certificate has expired".to_owned());
        }
        why
    }
}

/// Why a reload was refused before anything was swapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReloadError {
    /// The new state would turn HTTPS or API keys off (or on): that is a
    /// restart, never a reload.
    #[error("a reload cannot turn {0} on or off; restart the service for that")]
    Shape(&'static str),
}

struct Inner {
    config: ServerConfig,
    metrics: Metrics,
    live: RwLock<Arc<Services>>,
    loaded_at: AtomicI64,
    /// The slots of signing and verification (`max_concurrent`), shared by
    /// the fast path and the Router's routes for those paths.
    api_slots: Arc<tokio::sync::Semaphore>,
}

/// The shared state of the handlers: the configuration and the counters.
/// Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.0.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State for `config`.
    pub fn new(config: ServerConfig) -> Self {
        let live = RwLock::new(Arc::new(Services::from_config(&config)));
        let now = config.clock.now();
        let api_slots = Arc::new(tokio::sync::Semaphore::new(config.max_concurrent.max(1)));
        AppState(Arc::new(Inner {
            api_slots,
            config,
            metrics: Metrics::default(),
            live,
            loaded_at: AtomicI64::new(now),
        }))
    }
    /// The configuration the server started with (`vs`, `signing`,
    /// `api_keys` and `tls` there are the initial [`Services`]; see
    /// [`services`](Self::services) for the ones in use).
    pub fn config(&self) -> &ServerConfig {
        &self.0.config
    }
    /// The counters.
    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }
    /// The services in use. A request takes them once and keeps them to
    /// the end, whatever reloads happen meanwhile.
    pub fn services(&self) -> Arc<Services> {
        match self.0.live.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }
    /// Swap `next` in: new requests and new connections use it; requests in
    /// flight finish with the old one. Counted in `shaken_reloads_total`.
    pub fn reload(&self, next: Services) -> Result<(), ReloadError> {
        let current = self.services();
        let result = if current.tls.is_some() != next.tls.is_some() {
            Err(ReloadError::Shape("HTTPS (--tls-cert)"))
        } else if current.api_keys.is_some() != next.api_keys.is_some() {
            Err(ReloadError::Shape("API keys (--api-keys)"))
        } else if current.signing.is_some() != next.signing.is_some() {
            Err(ReloadError::Shape("signing (--key)"))
        } else {
            Ok(())
        };
        match result {
            Ok(()) => {
                let next = Arc::new(next);
                match self.0.live.write() {
                    Ok(mut g) => *g = next,
                    Err(poisoned) => *poisoned.into_inner() = next,
                }
                self.0
                    .loaded_at
                    .store(self.0.config.clock.now(), Ordering::Relaxed);
                self.0.metrics.reloaded(true);
                Ok(())
            }
            Err(e) => {
                self.0.metrics.reloaded(false);
                Err(e)
            }
        }
    }
    /// A reload failed before it got to [`reload`](Self::reload) (a file
    /// unreadable, a key that does not match its certificate): count it.
    /// The running state is kept.
    pub fn reload_failed(&self) {
        self.0.metrics.reloaded(false);
    }
    /// Why `/health/ready` answers 503 (empty: ready).
    pub fn not_ready(&self) -> Vec<String> {
        self.services().not_ready(self.0.config.clock.now())
    }
    /// The Prometheus text of `GET /metrics`.
    pub fn render_metrics(&self) -> String {
        let services = self.services();
        let cache = services.vs.online().map(|o| o.cache().stats());
        let now = self.0.config.clock.now();
        let gauges = Gauges {
            ready: services.not_ready(now).is_empty(),
            signing_cert_expiry: services
                .signing
                .as_ref()
                .and(services.signing_cert_not_after)
                .map(|t| t.saturating_sub(now)),
            tls_cert_expiry: services.tls_not_after.map(|t| t.saturating_sub(now)),
            api_keys: services.api_keys.as_ref().map(|k| k.len()),
            loaded_at: self.0.loaded_at.load(Ordering::Relaxed),
            trust_list: self
                .0
                .config
                .trust_list_dir
                .as_deref()
                .and_then(|d| crate::trust_dir::read_state(d).ok().flatten())
                .map(|st| (st.sequence, st.exp.saturating_sub(now))),
            fetches: services.vs.fetch_stats(),
        };
        #[allow(unused_mut)]
        let mut text = self.0.metrics.render_service(cache, &gauges);
        #[cfg(feature = "redis")]
        if let Some(r) = services.vs.redis() {
            text.push_str(&r.stats().render_prometheus());
        }
        text
    }
}

/// The routes, with the concurrency bound on the two API endpoints (health
/// and metrics answer even when the API is saturated), the API key check in
/// front of them (before any queueing, so an unauthenticated flood takes no
/// slot) and, around everything, the request id, the timeout, the metrics
/// and the request log.
pub fn router(state: AppState) -> Router {
    // A reload never turns API keys on or off (ReloadError::Shape), so
    // without keys at the start the check is left out of every request.
    let keys = state.config().api_keys.is_some();
    let mut api = Router::new()
        .route(
            SIGNING_PATH,
            post(api::signing).fallback(api::method_not_allowed),
        )
        .route(
            VERIFICATION_PATH,
            post(api::verification).fallback(api::method_not_allowed),
        )
        .layer(tower::limit::GlobalConcurrencyLimitLayer::with_semaphore(
            Arc::clone(&state.0.api_slots),
        ));
    if keys {
        api = api.layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_key,
        ));
    }
    let mut metrics = Router::new().route(
        "/metrics",
        get(api::metrics).fallback(api::method_not_allowed),
    );
    if keys && state.config().metrics_auth {
        metrics = metrics.layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_key,
        ));
    }
    let health = Router::new()
        .route(
            "/health",
            get(api::health).fallback(api::method_not_allowed),
        )
        .route(
            READY_PATH,
            get(api::ready).fallback(api::method_not_allowed),
        );
    let mut open = health;
    if state.config().ui {
        // The page itself is open: it holds nothing, and asks for the key.
        open = open.route(
            ui::PAGE_PATH,
            get(ui::page).fallback(api::method_not_allowed),
        );
        // Its API: behind the same keys as the ATIS API, with a bound of
        // its own so that people looking at captures never take the SBCs'
        // slots.
        let ui_api = Router::new()
            .route(
                ui::INSPECT_PATH,
                post(ui::inspect).fallback(api::method_not_allowed),
            )
            .route(
                ui::CAPTURE_PATH,
                post(ui::capture).fallback(api::method_not_allowed),
            )
            .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
                ui::MAX_CONCURRENT,
            ))
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                require_key,
            ));
        open = open.merge(ui_api);
    }
    api.merge(metrics)
        .merge(open)
        .fallback(api::not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// 401 `POL4001` unless the request carries one of the API keys (when
/// keys are configured).
async fn require_key(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(refused) = key_refusal(&state, req.headers()) {
        return refused;
    }
    next.run(req).await
}

/// The 401 `POL4001` answer (counted) when keys are configured and these
/// headers carry none of them; `None` when the request may go on.
fn key_refusal(state: &AppState, headers: &axum::http::HeaderMap) -> Option<Response> {
    let services = state.services();
    let keys = services.api_keys.as_ref()?;
    let why = match auth::bearer(headers) {
        auth::Presented::Bearer(token) if keys.check(token) => return None,
        auth::Presented::Missing => Refusal::KeyMissing,
        auth::Presented::Bearer(_) | auth::Presented::Malformed => Refusal::KeyInvalid,
    };
    state.metrics().refused(why);
    let mut resp = RequestError::Unauthorized {
        presented: why == Refusal::KeyInvalid,
    }
    .into_response();
    resp.extensions_mut().insert(AuthTag(why.as_str()));
    Some(resp)
}

/// The peer of a connection, put on every request it carries.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// Set on 401 responses so the request log can say why.
#[derive(Debug, Clone, Copy)]
struct AuthTag(&'static str);

/// Decrements the in-flight gauge however the request ends (a client that
/// disconnects drops the future).
struct InFlight(AppState);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.metrics().leave();
    }
}

/// Longest path written to the log.
const MAX_LOGGED_PATH: usize = 128;

/// `x-request-id`, built once: inserting the header by its `&str` name made
/// a new (allocated) `HeaderName` on each of the two inserts per request.
static X_REQUEST_ID: axum::http::HeaderName = axum::http::HeaderName::from_static("x-request-id");

/// The request's `X-Request-ID` (or `X-RequestID`, as some ATIS clients
/// spell it) when it is short printable ASCII; otherwise a new UUID.
fn request_id(headers: &axum::http::HeaderMap) -> axum::http::HeaderValue {
    let given = headers
        .get(&X_REQUEST_ID)
        .or_else(|| headers.get("x-requestid"))
        .filter(|v| {
            !v.is_empty()
                && v.len() <= MAX_REQUEST_ID
                && v.as_bytes().iter().all(|b| b.is_ascii_graphic())
        });
    match given {
        Some(v) => v.clone(),
        None => new_request_id(),
    }
}

/// A new request id in UUID form (version 4 bits): a random base drawn once
/// per process plus a counter. Unique within a process, and across
/// instances and restarts with the odds of random UUIDs; request ids are
/// labels, not secrets, and `Uuid::new_v4` per request asked the kernel
/// for randomness (a system call) on every request.
fn new_request_id() -> axum::http::HeaderValue {
    static BASE: std::sync::OnceLock<u128> = std::sync::OnceLock::new();
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let base = *BASE.get_or_init(|| uuid::Uuid::new_v4().as_u128());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let id = uuid::Builder::from_random_bytes(base.wrapping_add(u128::from(n)).to_be_bytes())
        .into_uuid();
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    axum::http::HeaderValue::from_str(id.hyphenated().encode_lower(&mut text))
        .unwrap_or_else(|_| axum::http::HeaderValue::from_static("-"))
}

/// `-` for a value that is not there, in the request log.
struct OrDash<T>(Option<T>);

impl<T: std::fmt::Display> std::fmt::Display for OrDash<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(v) => v.fmt(f),
            None => f.write_str("-"),
        }
    }
}

/// The layer around every request of the Router: the request id, the
/// timeout, the metrics and the request log ([`observed`]).
async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let peer = OrDash(req.extensions().get::<Peer>().map(|p| p.0));
    observed(state, peer, req, |req| next.run(req)).await
}

/// `inner` on `req` with what every request gets, on the Router and on the
/// fast path alike: the request id (echoed, or generated), the in-flight
/// gauge, the request timeout (queueing included), the metrics and the
/// request log line.
async fn observed<P, F, Fut>(state: AppState, peer: P, mut req: Request, inner: F) -> Response
where
    P: std::fmt::Display,
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let start = Instant::now();
    let method = req.method().clone();
    let endpoint = Endpoint::from_path(req.uri().path());
    // The API's paths are logged without a copy of their own.
    let path: std::borrow::Cow<'static, str> = match endpoint {
        Endpoint::Verification => VERIFICATION_PATH.into(),
        Endpoint::Signing => SIGNING_PATH.into(),
        _ => req
            .uri()
            .path()
            .chars()
            .take(MAX_LOGGED_PATH)
            .collect::<String>()
            .into(),
    };
    let rid = request_id(req.headers());
    req.headers_mut().insert(X_REQUEST_ID.clone(), rid.clone());
    state.metrics().enter();
    let _guard = InFlight(state.clone());
    let timeout = state.config().request_timeout;
    let mut resp = match tokio::time::timeout(timeout, inner(req)).await {
        Ok(r) => r,
        Err(_) => RequestError::Internal {
            detail: format!("request timed out after {} ms", timeout.as_millis()),
        }
        .into_response(),
    };
    resp.headers_mut().insert(X_REQUEST_ID.clone(), rid.clone());
    let elapsed = start.elapsed();
    let status = resp.status().as_u16();
    state.metrics().finished(endpoint, status, elapsed);
    let outcome = resp.extensions().get::<api::Outcome>();
    let verstat = outcome.map(|o| o.verstat.as_str()).unwrap_or("-");
    let reason = outcome.and_then(|o| o.reason_code).unwrap_or(0);
    let reason_id = outcome.and_then(|o| o.reason_id.as_deref()).unwrap_or("-");
    let origid = resp
        .extensions()
        .get::<api::Origid>()
        .map(|o| o.0.as_str())
        .unwrap_or("-");
    let attest = resp
        .extensions()
        .get::<api::Origid>()
        .and_then(|o| o.1)
        .map(|a| a.as_str())
        .unwrap_or("-");
    let message_id = resp
        .extensions()
        .get::<error::ErrorTag>()
        .map(|t| t.0)
        .unwrap_or("-");
    let auth = resp
        .extensions()
        .get::<AuthTag>()
        .map(|t| t.0)
        .unwrap_or("-");
    let latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    let request_id = rid.to_str().unwrap_or("-");
    tracing::info!(
        target: "shaken::server",
        peer = %peer,
        request_id,
        method = %method,
        path = %path,
        status,
        latency_us,
        origid,
        attest,
        verstat,
        reasoncode = reason,
        reason = reason_id,
        message_id,
        auth,
        "request"
    );
    resp
}

/// The HTTP service of one connection. `POST` on the two API paths goes
/// straight to its handler, wrapped in what the [`router`] puts around it,
/// in the same order: [`observed`] (request id, timeout, metrics, log),
/// the API key check when keys are configured, a slot of `max_concurrent`
/// (the same semaphore as the Router's), and `Content-Length` as axum's
/// route future sets it. Everything else (other methods on those paths
/// too) goes to the Router. This skips the Router's path matching and its
/// `from_fn` layers (a boxed future and a boxed service clone each) on the
/// requests the service exists for.
#[derive(Clone)]
struct Connection {
    state: AppState,
    app: Router,
    peer: SocketAddr,
    /// `peer` as the request log writes it, formatted once per
    /// connection rather than on every request's line.
    peer_text: Arc<str>,
    /// API keys are configured (a reload never turns them on or off).
    keys: bool,
}

/// The endpoints of the fast path.
#[derive(Clone, Copy)]
enum FastRoute {
    Signing,
    Verification,
}

impl FastRoute {
    fn of(req: &axum::http::Request<hyper::body::Incoming>) -> Option<FastRoute> {
        if req.method() != axum::http::Method::POST {
            return None;
        }
        match req.uri().path() {
            VERIFICATION_PATH => Some(FastRoute::Verification),
            SIGNING_PATH => Some(FastRoute::Signing),
            _ => None,
        }
    }
}

type ResponseFuture =
    std::pin::Pin<Box<dyn Future<Output = Result<Response, std::convert::Infallible>> + Send>>;

impl hyper::service::Service<axum::http::Request<hyper::body::Incoming>> for Connection {
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = ResponseFuture;

    fn call(&self, mut req: axum::http::Request<hyper::body::Incoming>) -> Self::Future {
        let Some(route) = FastRoute::of(&req) else {
            req.extensions_mut().insert(Peer(self.peer));
            return Box::pin(tower::ServiceExt::oneshot(self.app.clone(), req));
        };
        let state = self.state.clone();
        let peer = Arc::clone(&self.peer_text);
        let keys = self.keys;
        Box::pin(async move {
            let req = req.map(axum::body::Body::new);
            // The handler's future on the heap of its own, as axum boxes
            // it: it holds the verification's whole state (tens of KB with
            // the x5u fetch inline), and every future it is moved into
            // (the timeout, this one) would copy it otherwise (callgrind:
            // 24k more instructions of memcpy per request unboxed).
            let mut resp = observed(state.clone(), peer, req, |req| {
                Box::pin(async move {
                    if keys {
                        if let Some(refused) = key_refusal(&state, req.headers()) {
                            return refused;
                        }
                    }
                    // Waiting for a slot counts in the request timeout, as on
                    // the Router.
                    let Ok(_slot) = state.0.api_slots.acquire().await else {
                        return RequestError::Internal {
                            detail: "the request slots are closed".to_owned(),
                        }
                        .into_response();
                    };
                    match route {
                        FastRoute::Verification => {
                            api::verification(State(state.clone()), req).await
                        }
                        FastRoute::Signing => api::signing(State(state.clone()), req).await,
                    }
                })
            })
            .await;
            set_content_length(&mut resp);
            Ok(resp)
        })
    }
}

/// `Content-Length` from the body's exact size when the response has none,
/// as axum's top-level route future does (after the layers, so the header
/// comes after `x-request-id`, as on the Router). Left to hyper, the line
/// would come after the `connection: close` hyper adds to the map when the
/// client asked for it: other bytes than the Router's.
fn set_content_length(resp: &mut Response) {
    use axum::body::HttpBody;
    if resp
        .headers()
        .contains_key(axum::http::header::CONTENT_LENGTH)
    {
        return;
    }
    if let Some(n) = resp.body().size_hint().exact() {
        resp.headers_mut().insert(
            axum::http::header::CONTENT_LENGTH,
            axum::http::HeaderValue::from(n),
        );
    }
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// Accepting or serving failed.
    #[error("serving on {addr}")]
    Serve {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A bound, not yet running server: [`bind`](Server::bind) reports the
/// actual address (for port 0), then [`run`](Server::run).
#[derive(Debug)]
pub struct Server {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    state: AppState,
}

impl Server {
    /// Bind `config.listen`.
    pub async fn bind(config: ServerConfig) -> Result<Server, ServerError> {
        let listener = tokio::net::TcpListener::bind(&config.listen)
            .await
            .map_err(|source| ServerError::Bind {
                addr: config.listen.clone(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: config.listen.clone(),
            source,
        })?;
        Ok(Server {
            listener,
            addr,
            state: AppState::new(config),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The shared state (metrics).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serve until `shutdown` completes, then stop accepting, let requests in
    /// flight finish, and return. Connections still open one request timeout
    /// (plus 1 s) after the signal are dropped.
    pub async fn run<F>(self, shutdown: F) -> Result<(), ServerError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let drain = self.state.config().request_timeout + Duration::from_secs(1);
        let (tx, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = tx.send(true);
        });
        let mut signalled = rx.clone();
        let header_read_timeout = self.state.config().header_read_timeout;
        let allow_from = self.state.config().allow_from.clone();
        let state = self.state.clone();
        let keys = self.state.config().api_keys.is_some();
        let app = router(self.state);
        let listener = self.listener;
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        let mut refused: u64 = 0;
        let mut refused_peers: u64 = 0;
        loop {
            let (tcp, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(c) => c,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(target: "shaken::server", "accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = signalled.wait_for(|s| *s) => break,
            };
            if !allow_from.allows(peer.ip()) {
                state.metrics().refused(Refusal::AllowFrom);
                refused_peers += 1;
                if refused_peers.is_power_of_two() {
                    tracing::warn!(target: "shaken::server", %peer, refused = refused_peers, "peer outside --allow-from: connection closed");
                }
                continue; // dropping the stream closes it
            }
            let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                refused += 1;
                if refused.is_power_of_two() {
                    tracing::warn!(target: "shaken::server", %peer, refused, "connection limit ({MAX_CONNECTIONS}) reached: closing new connections");
                }
                continue; // dropping the stream closes it
            };
            // Request/response traffic: send each answer at once (no Nagle
            // delay behind a delayed ACK on keep-alive connections).
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(target: "shaken::server", "TCP_NODELAY not set: {e}");
            }
            let service = Connection {
                state: state.clone(),
                app: app.clone(),
                peer,
                peer_text: OrDash(Some(peer)).to_string().into(),
                keys,
            };
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_read_timeout)
                .keep_alive(true);
            // Each new connection takes the TLS configuration in use now: a
            // reload changes the certificate for the next handshakes only.
            match state.services().tls.clone() {
                None => {
                    let conn = graceful
                        .watch(http.serve_connection(hyper_util::rt::TokioIo::new(tcp), service));
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!(target: "shaken::server", %peer, "connection ended: {e}");
                        }
                        drop(slot);
                    });
                }
                Some(tls) => {
                    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
                    let watcher = graceful.watcher();
                    let state = state.clone();
                    tokio::spawn(async move {
                        let handshake =
                            tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await;
                        let stream = match handshake {
                            Ok(Ok(s)) => s,
                            Ok(Err(e)) => {
                                state.metrics().refused(Refusal::TlsHandshake);
                                tracing::info!(target: "shaken::server", %peer, "TLS handshake refused: {e}");
                                return;
                            }
                            Err(_) => {
                                state.metrics().refused(Refusal::TlsHandshake);
                                tracing::info!(target: "shaken::server", %peer, "TLS handshake timed out");
                                return;
                            }
                        };
                        let conn = watcher.watch(
                            http.serve_connection(hyper_util::rt::TokioIo::new(stream), service),
                        );
                        if let Err(e) = conn.await {
                            tracing::debug!(target: "shaken::server", %peer, "connection ended: {e}");
                        }
                        drop(slot);
                    });
                }
            }
        }
        drop(listener);
        tracing::info!(target: "shaken::server", "shutting down: finishing requests in flight");
        tokio::select! {
            () = graceful.shutdown() => Ok(()),
            () = tokio::time::sleep(drain) => {
                tracing::warn!(target: "shaken::server", "connections still open {} ms after shutdown: closing them", drain.as_millis());
                Ok(())
            }
        }
    }
}

/// Bind and serve until `shutdown` completes (see [`Server::run`]).
pub async fn serve<F>(config: ServerConfig, shutdown: F) -> Result<(), ServerError>
where
    F: Future<Output = ()> + Send + 'static,
{
    Server::bind(config).await?.run(shutdown).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// `max_concurrent` counts the fast path and the Router alike: the
    /// Router's routes for the API paths wait for a slot of the semaphore
    /// the fast path takes its slots from.
    #[tokio::test]
    async fn the_router_waits_for_the_slots_the_fast_path_takes() {
        let vs = Arc::new(StiVs::from_config(&crate::config::VerifierConfig::default()).unwrap());
        let state = AppState::new(ServerConfig::new("127.0.0.1:0", vs).with_max_concurrent(1));
        let app = router(state.clone());
        let get = || {
            axum::http::Request::get(VERIFICATION_PATH)
                .body(axum::body::Body::empty())
                .unwrap()
        };
        // A free slot: the wrong method is answered at once.
        let r = tower::ServiceExt::oneshot(app.clone(), get())
            .await
            .unwrap();
        assert_eq!(r.status(), axum::http::StatusCode::METHOD_NOT_ALLOWED);
        // The one slot held (as a fast-path request holds it): the Router's
        // request waits, and is answered once the slot is free.
        let slot = Arc::clone(&state.0.api_slots)
            .acquire_owned()
            .await
            .unwrap();
        let waiting = tokio::spawn(tower::ServiceExt::oneshot(app.clone(), get()));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiting.is_finished(), "answered without a slot");
        drop(slot);
        let r = waiting.await.unwrap().unwrap();
        assert_eq!(r.status(), axum::http::StatusCode::METHOD_NOT_ALLOWED);
    }
}
