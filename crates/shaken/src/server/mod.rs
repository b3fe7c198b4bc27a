//! The ATIS-1000082 signing and verification service (edge layer, feature
//! `server`): what `shaken serve` runs.
//!
//! - `POST /stir/v1/signing`: `{"signingRequest":{...}}` →
//!   `{"signingResponse":{"identity":"TOKEN;info=<x5u>;alg=ES256;ppt=shaken"}}`.
//! - `POST /stir/v1/verification`: `{"verificationRequest":{"from","to","time","identity"}}`
//!   → `{"verificationResponse":{"verstat",...}}`; verification failures are
//!   HTTP 200 with `reasoncode`/`reasontext`/`reasondesc`.
//! - Request errors: [`RequestError`] (`SVC4000`–`SVC4007`, `POL4050`, `POL5000`).
//! - `GET /health`, `GET /metrics` (Prometheus text, see [`Metrics`]).
//!
//! The service keeps no state besides its caches (x5u chains, replay store),
//! so several instances can run behind any HTTP load balancer. The request
//! clock is the server's ([`ServerClock`]); it is read here, at the edge, and
//! passed to the sans-I/O core as `CallContext::now`.

mod api;
pub mod config;
pub mod error;
pub mod metrics;

pub use config::{ConfigError, FileConfig};
pub use error::RequestError;
pub use metrics::{Endpoint, Metrics};

use crate::sti::{StiAs, StiVs};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Path of the signing endpoint.
pub const SIGNING_PATH: &str = "/stir/v1/signing";
/// Path of the verification endpoint.
pub const VERIFICATION_PATH: &str = "/stir/v1/verification";
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
        }
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
}

struct Inner {
    config: ServerConfig,
    metrics: Metrics,
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
        AppState(Arc::new(Inner {
            config,
            metrics: Metrics::default(),
        }))
    }
    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.0.config
    }
    /// The counters.
    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }
    /// The Prometheus text of `GET /metrics`.
    pub fn render_metrics(&self) -> String {
        let cache = self.0.config.vs.online().map(|o| o.cache().stats());
        #[allow(unused_mut)]
        let mut text = self.0.metrics.render(cache);
        #[cfg(feature = "redis")]
        if let Some(r) = self.0.config.vs.redis() {
            text.push_str(&r.stats().render_prometheus());
        }
        text
    }
}

/// The routes, with the concurrency bound on the two API endpoints (health
/// and metrics answer even when the API is saturated) and, around
/// everything, the timeout, the metrics and the request log.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route(
            SIGNING_PATH,
            post(api::signing).fallback(api::method_not_allowed),
        )
        .route(
            VERIFICATION_PATH,
            post(api::verification).fallback(api::method_not_allowed),
        )
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            state.config().max_concurrent.max(1),
        ));
    let ops = Router::new()
        .route(
            "/health",
            get(api::health).fallback(api::method_not_allowed),
        )
        .route(
            "/metrics",
            get(api::metrics).fallback(api::method_not_allowed),
        );
    api.merge(ops)
        .fallback(api::not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

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

async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let path: String = req.uri().path().chars().take(MAX_LOGGED_PATH).collect();
    let endpoint = Endpoint::from_path(req.uri().path());
    state.metrics().enter();
    let _guard = InFlight(state.clone());
    let timeout = state.config().request_timeout;
    let resp = match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => RequestError::Internal {
            detail: format!("request timed out after {} ms", timeout.as_millis()),
        }
        .into_response(),
    };
    let elapsed = start.elapsed();
    let status = resp.status().as_u16();
    state.metrics().finished(endpoint, status, elapsed);
    let outcome = resp.extensions().get::<api::Outcome>();
    let verstat = outcome.map(|o| o.verstat.as_str()).unwrap_or("-");
    let reason = outcome.and_then(|o| o.reason_code).unwrap_or(0);
    let reason_id = outcome.and_then(|o| o.reason_id.as_deref()).unwrap_or("-");
    let message_id = resp
        .extensions()
        .get::<error::ErrorTag>()
        .map(|t| t.0)
        .unwrap_or("-");
    let latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    tracing::info!(
        target: "shaken::server",
        method = %method,
        path = %path,
        status,
        latency_us,
        verstat,
        reasoncode = reason,
        reason = reason_id,
        message_id,
        "request"
    );
    resp
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
        let app = router(self.state);
        let listener = self.listener;
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        let mut refused: u64 = 0;
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
            let service = hyper_util::service::TowerToHyperService::new(app.clone());
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_read_timeout)
                .keep_alive(true)
                .serve_connection(hyper_util::rt::TokioIo::new(tcp), service);
            let conn = graceful.watch(conn);
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(target: "shaken::server", %peer, "connection ended: {e}");
                }
                drop(slot);
            });
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
