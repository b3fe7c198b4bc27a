//! Edge layer: fetching x5u certificate chains and CRLs, and the certificate cache.
//!
//! - [`HttpFetcher`]: one bounded GET (https only unless allowed, SSRF guard,
//!   no redirects, no proxies, timeouts, size caps, at most
//!   `Limits::max_concurrent_fetches` in flight: [`FetchPermits`]). Used for
//!   x5u, CRLs and Rich Call Data content.
//! - [`CertCache`]: parsed chains keyed by the exact x5u URL, honouring
//!   `Cache-Control: max-age` clamped to the [`Limits`](crate::Limits) bounds,
//!   with a negative cache, request coalescing and an optional on-disk cache
//!   shared between processes, and optionally a [`SharedCache`] shared by
//!   the verifiers of a fleet (Redis, feature `redis`) behind the local one;
//!   with probation on (the x5u chain cache), a stranger's entries are
//!   evicted before the ones the verifier vouched for, and only those reach
//!   the disk and the fleet.
//!
//! Time enters through a [`Clock`] ([`SystemClock`] by default, [`ManualClock`]
//! in tests). Every [`FetchError`] maps to SIP 436 for an x5u (specs §5.1, §7).

mod cache;
mod clock;
mod disk;
mod error;
mod http;
mod shared;
mod ssrf;

pub(crate) use cache::{refresh_window, unix_ms};
pub(crate) use cache::{share_failure, shared_lookup};
pub use cache::{CacheStats, CertCache, ParseFn, Tier, X5U_ACCEPT};

/// The wall clock, Unix milliseconds (shared cache expiries).
pub(crate) fn unix_ms_now() -> u64 {
    cache::unix_ms(std::time::SystemTime::now())
}
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::FetchError;
pub use http::{cache_max_age, FetchPermits, FetchStats, FetchedBody, HttpFetcher};
pub use shared::{Claim, SharedCache, SharedEntry, SharedFuture, SharedKind};
pub use ssrf::blocked_range;

use std::path::PathBuf;

/// How x5u and CRL fetches are made.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Allow `http://` URLs. Default `false`: x5u and CRL URLs must be https
    /// (specs §5.1).
    pub allow_http: bool,
    /// Allow hosts that are, or resolve to, non-public addresses (loopback,
    /// RFC 1918, link-local, …; see [`blocked_range`]) and any port. Default
    /// `false`: the SSRF guard is on (specs §7).
    pub allow_private: bool,
    /// Allow ports other than the scheme's standard one (443 / 80) for public
    /// hosts. Default `false` (specs §7: "only https and the standard port").
    /// `allow_private` implies it.
    pub allow_any_port: bool,
    /// PEM files (each may hold several certificates) trusted as TLS roots in
    /// addition to the built-in webpki (Mozilla) roots; `--tls-ca`.
    pub extra_tls_roots_pem: Vec<Vec<u8>>,
    /// Timeouts, body caps and cache bounds.
    pub limits: crate::Limits,
    /// Directory of the on-disk certificate cache, shared safely between
    /// processes. `None`: memory only.
    pub cache_dir: Option<PathBuf>,
    /// `User-Agent` sent with every request.
    pub user_agent: String,
    /// The pool of fetch permits (`limits.max_concurrent_fetches` of them):
    /// every [`HttpFetcher`] built from these options or from a clone of
    /// them shares it, so the x5u cache, the CRL fetcher and the Rich Call
    /// Data cache of one verifier are bound together. The default is a new
    /// pool; see [`FetchPermits`].
    pub permits: FetchPermits,
}

impl FetchOptions {
    /// Whether a body cached by another process or node (the on-disk cache,
    /// the fleet's) may be taken: always when it came from a public address,
    /// else only with [`allow_private`](Self::allow_private). A cached entry
    /// is taken without asking the resolver that would refuse its host.
    pub(crate) fn may_take_cached(&self, from_public_address: bool) -> bool {
        from_public_address || self.allow_private
    }
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            allow_http: false,
            allow_private: false,
            allow_any_port: false,
            extra_tls_roots_pem: Vec::new(),
            limits: crate::Limits::default(),
            cache_dir: None,
            user_agent: concat!("shaken/", env!("CARGO_PKG_VERSION")).to_string(),
            permits: FetchPermits::new(),
        }
    }
}
