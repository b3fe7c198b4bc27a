//! One bounded HTTP GET, shared by x5u and CRL fetching.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use url::{Host, Url};

use super::error::chain_to_string;
use super::ssrf::{blocked_range, check_literal, GuardedResolver};
use super::{FetchError, FetchOptions};

/// A fetched body and the caching information that came with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedBody {
    /// The body, at most the `max_body` given to [`HttpFetcher::get`].
    pub body: Vec<u8>,
    /// The `Content-Type` header, when present and valid UTF-8.
    pub content_type: Option<String>,
    /// `Cache-Control: max-age`; `no-store` / `no-cache` give `Some(0)`;
    /// `None` when the server said nothing usable. Not clamped.
    pub max_age: Option<Duration>,
    /// The address the response came from, when the connection told.
    pub peer: Option<SocketAddr>,
}

impl FetchedBody {
    /// Whether it came from a public address (see
    /// [`blocked_range`](super::blocked_range)); `false` when the address
    /// is not known. A body from a non-public address (possible only with
    /// [`FetchOptions::allow_private`]) is marked so in the on-disk and
    /// the fleet's caches, and a reader that refuses private addresses
    /// does not take it from there.
    pub fn from_public_address(&self) -> bool {
        self.peer.is_some_and(|a| blocked_range(a.ip()).is_none())
    }
}

/// The bound on outbound fetches in flight at once, shared: every
/// [`HttpFetcher`] built from one [`FetchOptions`] or from any clone of it
/// (the x5u cache, the CRL fetcher and the Rich Call Data cache of one
/// verifier) takes its permits from this one pool, and so do the fetcher's
/// own clones and the caches' handles.
///
/// The pool is sized by the first fetcher built on it, from its
/// [`Limits::max_concurrent_fetches`](crate::Limits); later fetchers share
/// that size. `FetchPermits::new()` (what [`FetchOptions::default`] holds)
/// starts a pool of its own. Cheap to clone (a reference count).
#[derive(Clone, Default)]
pub struct FetchPermits {
    pool: Arc<OnceLock<Arc<Pool>>>,
}

#[derive(Debug)]
struct Pool {
    sem: tokio::sync::Semaphore,
    max: usize,
    busy: AtomicU64,
}

impl FetchPermits {
    /// A pool of its own, sized by the first fetcher built on it.
    pub fn new() -> Self {
        FetchPermits::default()
    }

    /// The pool's cap, fetches in flight and busy failures; `None` until a
    /// fetcher was built on it.
    pub fn stats(&self) -> Option<FetchStats> {
        self.pool.get().map(|p| p.stats())
    }

    /// The pool, sized `max` if this is its first fetcher.
    fn pool(&self, max: usize) -> Arc<Pool> {
        Arc::clone(self.pool.get_or_init(|| {
            let max = max.min(tokio::sync::Semaphore::MAX_PERMITS);
            Arc::new(Pool {
                sem: tokio::sync::Semaphore::new(max),
                max,
                busy: AtomicU64::new(0),
            })
        }))
    }
}

impl std::fmt::Debug for FetchPermits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchPermits")
            .field("stats", &self.stats())
            .finish()
    }
}

impl Pool {
    fn stats(&self) -> FetchStats {
        FetchStats {
            max: self.max,
            in_flight: self.max.saturating_sub(self.sem.available_permits()),
            busy: self.busy.load(Ordering::Relaxed),
        }
    }
}

/// A snapshot of a [`FetchPermits`] pool (`/metrics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FetchStats {
    /// The cap: most fetches in flight at once.
    pub max: usize,
    /// Fetches holding a permit now (connecting, waiting for the answer or
    /// reading the body).
    pub in_flight: usize,
    /// Fetches that failed [`FetchError::Busy`] since the pool was made.
    pub busy: u64,
}

/// A hardened HTTP client: https only (unless allowed), SSRF guard, no
/// redirects, no proxies, connect and total timeouts, bounded bodies, and
/// a bound on fetches in flight at once ([`FetchPermits`]).
///
/// Cheap to clone (the reqwest client and the permits are
/// reference-counted; clones share both).
#[derive(Debug, Clone)]
pub struct HttpFetcher {
    client: reqwest::Client,
    opts: Arc<FetchOptions>,
    permits: Arc<Pool>,
}

impl HttpFetcher {
    /// Builds the client. Fails when an extra TLS root does not parse, or
    /// when `limits.max_concurrent_fetches` is 0 (no fetch could start).
    pub fn new(opts: &FetchOptions) -> Result<Self, FetchError> {
        if opts.limits.max_concurrent_fetches == 0 {
            return Err(FetchError::Client {
                reason: "Limits::max_concurrent_fetches is 0: no fetch could ever start".into(),
            });
        }
        // reqwest takes its TLS provider from the process default.
        crate::crypto::install_tls_provider();
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(opts.limits.connect_timeout)
            .timeout(opts.limits.fetch_timeout)
            .https_only(!opts.allow_http)
            .user_agent(opts.user_agent.clone())
            .pool_max_idle_per_host(4)
            .dns_resolver(Arc::new(GuardedResolver {
                guard: !opts.allow_private,
            }));
        for (index, pem) in opts.extra_tls_roots_pem.iter().enumerate() {
            let certs =
                reqwest::Certificate::from_pem_bundle(pem).map_err(|e| FetchError::TlsRoot {
                    index,
                    reason: chain_to_string(&e),
                })?;
            if certs.is_empty() {
                return Err(FetchError::TlsRoot {
                    index,
                    reason: "no PEM certificate found".to_string(),
                });
            }
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
        let client = builder.build().map_err(|e| FetchError::Client {
            reason: chain_to_string(&e),
        })?;
        Ok(HttpFetcher {
            client,
            permits: opts.permits.pool(opts.limits.max_concurrent_fetches),
            opts: Arc::new(opts.clone()),
        })
    }

    /// The options this fetcher was built with.
    pub fn options(&self) -> &FetchOptions {
        &self.opts
    }

    /// The cap on fetches in flight, those in flight now and the busy
    /// failures, of the pool this fetcher shares (see [`FetchPermits`]).
    pub fn stats(&self) -> FetchStats {
        self.permits.stats()
    }

    /// Checks the URL against the policy without any I/O: it parses, has a
    /// host and no credentials, the scheme is allowed, an IP-literal host is
    /// public (unless `allow_private`), and the port is the scheme's standard
    /// port (unless `allow_any_port` or `allow_private`).
    pub fn check_url(&self, url: &str) -> Result<Url, FetchError> {
        let invalid = |reason: &str| FetchError::InvalidUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let parsed = Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
        match parsed.scheme() {
            "https" => {}
            "http" if self.opts.allow_http => {}
            other => {
                return Err(FetchError::SchemeNotAllowed {
                    url: url.to_string(),
                    scheme: other.to_string(),
                })
            }
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(invalid("credentials in the URL are not allowed"));
        }
        let host = parsed.host().ok_or_else(|| invalid("no host"))?;
        if !self.opts.allow_private {
            match host {
                Host::Ipv4(v4) => check_literal(&v4.to_string(), v4.into())?,
                Host::Ipv6(v6) => check_literal(&format!("[{v6}]"), v6.into())?,
                Host::Domain(_) => {}
            }
        }
        if !self.opts.allow_private && !self.opts.allow_any_port {
            // `port()` is None when the port is absent or the scheme's default.
            if let Some(port) = parsed.port() {
                return Err(FetchError::PortNotAllowed {
                    url: url.to_string(),
                    port,
                });
            }
        }
        Ok(parsed)
    }

    /// One GET of `url` with `Accept: accept`, reading at most `max_body`
    /// bytes. 2xx only; a 3xx is [`FetchError::Redirect`], anything else
    /// [`FetchError::HttpStatus`].
    pub async fn get(
        &self,
        url: &str,
        accept: &str,
        max_body: usize,
    ) -> Result<FetchedBody, FetchError> {
        let parsed = self.check_url(url)?;
        let req = self
            .client
            .get(parsed)
            .header(reqwest::header::ACCEPT, accept);
        self.send(url, req, max_body).await
    }

    /// [`HttpFetcher::get`] with an `Authorization` header (the STI-PA API
    /// takes its access token there, without a scheme).
    pub async fn get_authorized(
        &self,
        url: &str,
        accept: &str,
        authorization: &str,
        max_body: usize,
    ) -> Result<FetchedBody, FetchError> {
        let parsed = self.check_url(url)?;
        let req = self
            .client
            .get(parsed)
            .header(reqwest::header::ACCEPT, accept)
            .header(reqwest::header::AUTHORIZATION, authorization);
        self.send(url, req, max_body).await
    }

    /// One POST of a JSON body under the same rules as [`HttpFetcher::get`]
    /// (the STI-PA API's `auth/login`).
    pub async fn post_json(
        &self,
        url: &str,
        body: Vec<u8>,
        max_body: usize,
    ) -> Result<FetchedBody, FetchError> {
        let parsed = self.check_url(url)?;
        let req = self
            .client
            .post(parsed)
            .header(reqwest::header::ACCEPT, "application/json")
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        self.send(url, req, max_body).await
    }

    async fn send(
        &self,
        url: &str,
        req: reqwest::RequestBuilder,
        max_body: usize,
    ) -> Result<FetchedBody, FetchError> {
        let total = self.opts.limits.fetch_timeout;
        let now = tokio::time::Instant::now();
        // What `tokio::time::timeout` does with a duration too long to add.
        let deadline = now
            .checked_add(total)
            .unwrap_or_else(|| now + Duration::from_secs(86400 * 365 * 30));
        // Waiting for a permit counts inside the fetch's own deadline: a
        // call never waits longer than it did without the cap. The permit
        // is released when this future ends or is dropped, on every path.
        let _permit = match self.permits.sem.try_acquire() {
            Ok(p) => p,
            Err(_) => {
                let got = tokio::time::timeout_at(deadline, self.permits.sem.acquire()).await;
                match got {
                    // A permit that came free as the deadline passed is
                    // given back at once: no connection is started for a
                    // fetch with no time left.
                    Ok(Ok(p)) if tokio::time::Instant::now() < deadline => p,
                    // Err(_) inside: the semaphore is never closed.
                    _ => {
                        self.permits.busy.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(%url, max = self.permits.max, "no fetch permit came free within the fetch timeout");
                        return Err(FetchError::Busy {
                            url: url.to_string(),
                            max: self.permits.max,
                        });
                    }
                }
            }
        };
        // reqwest applies the same total timeout from when the request is
        // sent; this outer one also bounds the wait above and anything
        // reqwest's does not (whichever fires first gives the same error).
        match tokio::time::timeout_at(deadline, self.send_inner(url, req, max_body)).await {
            Ok(r) => r,
            Err(_) => Err(FetchError::Timeout {
                url: url.to_string(),
                after_ms: millis(total),
            }),
        }
    }

    async fn send_inner(
        &self,
        url: &str,
        req: reqwest::RequestBuilder,
        max_body: usize,
    ) -> Result<FetchedBody, FetchError> {
        let mut resp = req.send().await.map_err(|e| self.map_err(url, &e))?;
        let status = resp.status();
        if status.is_redirection() {
            let location = header_str(&resp, reqwest::header::LOCATION).unwrap_or_default();
            return Err(FetchError::Redirect {
                url: url.to_string(),
                location,
            });
        }
        if !status.is_success() {
            return Err(FetchError::HttpStatus {
                url: url.to_string(),
                status: status.as_u16(),
            });
        }
        let too_large = || FetchError::TooLarge {
            url: url.to_string(),
            limit: max_body,
        };
        if let Some(len) = resp.content_length() {
            if len > max_body as u64 {
                return Err(too_large());
            }
        }
        let peer = resp.remote_addr();
        let content_type = header_str(&resp, reqwest::header::CONTENT_TYPE);
        let max_age = cache_max_age(
            resp.headers()
                .get_all(reqwest::header::CACHE_CONTROL)
                .iter()
                .filter_map(|v| v.to_str().ok()),
        );
        let mut body = Vec::with_capacity(
            resp.content_length()
                .map_or(4096, |l| l as usize)
                .min(max_body),
        );
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.map_err(url, &e))? {
            if body.len().saturating_add(chunk.len()) > max_body {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(FetchedBody {
            body,
            content_type,
            max_age,
            peer,
        })
    }

    fn map_err(&self, url: &str, e: &reqwest::Error) -> FetchError {
        // Our resolver's errors travel inside reqwest's error chain.
        let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(s) = src {
            if let Some(fe) = s.downcast_ref::<FetchError>() {
                return fe.clone();
            }
            src = s.source();
        }
        if e.is_timeout() {
            let after = if e.is_connect() {
                self.opts.limits.connect_timeout
            } else {
                self.opts.limits.fetch_timeout
            };
            return FetchError::Timeout {
                url: url.to_string(),
                after_ms: millis(after),
            };
        }
        let reason = chain_to_string(e);
        if e.is_body() || e.is_decode() {
            FetchError::Body {
                url: url.to_string(),
                reason,
            }
        } else {
            FetchError::Connect {
                url: url.to_string(),
                reason,
            }
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn header_str(resp: &reqwest::Response, name: reqwest::header::HeaderName) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Reads `max-age` from `Cache-Control` header values. `no-store` and
/// `no-cache` win and give `Some(0)`; a malformed `max-age` is ignored.
pub fn cache_max_age<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Duration> {
    let mut max_age = None;
    for value in values {
        for directive in value.split(',') {
            let directive = directive.trim();
            let (name, arg) = match directive.split_once('=') {
                Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
                None => (directive, None),
            };
            if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
                return Some(Duration::ZERO);
            }
            if name.eq_ignore_ascii_case("max-age") && max_age.is_none() {
                if let Some(secs) = arg.and_then(|a| a.parse::<u64>().ok()) {
                    max_age = Some(Duration::from_secs(secs));
                }
            }
        }
    }
    max_age
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn max_age_parsing() {
        let d = |s: u64| Some(Duration::from_secs(s));
        assert_eq!(cache_max_age(["max-age=86400"]), d(86400));
        assert_eq!(
            cache_max_age(["public, max-age=600, must-revalidate"]),
            d(600)
        );
        assert_eq!(cache_max_age(["Max-Age=\"60\""]), d(60));
        assert_eq!(cache_max_age(["public", "max-age=5"]), d(5));
        assert_eq!(cache_max_age(["max-age=600, no-store"]), d(0));
        assert_eq!(cache_max_age(["no-cache"]), d(0));
        assert_eq!(cache_max_age(["max-age=abc"]), None);
        assert_eq!(cache_max_age(["max-age=-1"]), None);
        assert_eq!(cache_max_age(["public"]), None);
        assert_eq!(cache_max_age([]), None);
    }

    fn fetcher(f: impl FnOnce(&mut FetchOptions)) -> HttpFetcher {
        let mut o = FetchOptions::default();
        f(&mut o);
        HttpFetcher::new(&o).unwrap()
    }

    #[test]
    fn url_policy() {
        let strict = fetcher(|_| {});
        assert!(strict.check_url("https://cr.example/c.pem").is_ok());
        assert!(strict.check_url("https://cr.example:443/c.pem").is_ok());
        assert_eq!(
            strict
                .check_url("http://cr.example/c.pem")
                .unwrap_err()
                .code(),
            "fetch-scheme-not-allowed"
        );
        assert_eq!(
            strict
                .check_url("ftp://cr.example/c.pem")
                .unwrap_err()
                .code(),
            "fetch-scheme-not-allowed"
        );
        assert_eq!(
            strict.check_url("not a url").unwrap_err().code(),
            "fetch-invalid-url"
        );
        assert_eq!(
            strict
                .check_url("https://u:p@cr.example/")
                .unwrap_err()
                .code(),
            "fetch-invalid-url"
        );
        assert_eq!(
            strict
                .check_url("https://cr.example:8443/c.pem")
                .unwrap_err()
                .code(),
            "fetch-port-not-allowed"
        );
        for private in [
            "https://10.0.0.5/c",
            "https://169.254.169.254/latest",
            "https://[::1]/c",
            "https://[::ffff:127.0.0.1]/c",
            "https://[fe80::1]/c",
            "https://0x7f000001/c",
        ] {
            assert_eq!(
                strict.check_url(private).unwrap_err().code(),
                "fetch-private-address",
                "{private}"
            );
        }
        let http = fetcher(|o| o.allow_http = true);
        assert!(http.check_url("http://cr.example/c.pem").is_ok());
        let lab = fetcher(|o| o.allow_private = true);
        assert!(lab.check_url("https://127.0.0.1:8443/c").is_ok());
        let ports = fetcher(|o| o.allow_any_port = true);
        assert!(ports.check_url("https://cr.example:8443/c").is_ok());
        assert_eq!(
            ports
                .check_url("https://127.0.0.1:8443/c")
                .unwrap_err()
                .code(),
            "fetch-private-address"
        );
    }

    #[test]
    fn bad_extra_root_is_an_error() {
        let o = FetchOptions {
            extra_tls_roots_pem: vec![b"not pem".to_vec()],
            ..FetchOptions::default()
        };
        assert_eq!(HttpFetcher::new(&o).unwrap_err().code(), "fetch-tls-root");
    }
}
