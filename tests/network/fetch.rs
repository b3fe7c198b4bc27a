//! Integration tests of the fetch layer against loopback servers started here.
//!
//! Every server listens on 127.0.0.1:0 and counts accepted connections and
//! requests. No test touches a non-loopback address. Cache expiry is driven by
//! a `ManualClock`; only the timeout test waits (300 ms).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use shaken::fetch::{CertCache, FetchError, FetchOptions, HttpFetcher, ManualClock, ParseFn};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::rustls;

pub(crate) const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

// ---------------------------------------------------------------- server

#[derive(Clone)]
enum Reply {
    /// A complete response; `content_length: false` sends the body
    /// close-delimited (no Content-Length).
    Http {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        content_length: bool,
    },
    /// Read the request, then never answer.
    Hang,
    /// Wait, then send the reply.
    Delayed(Duration, Box<Reply>),
}

fn ok(body: &str, headers: &[(&str, &str)]) -> Reply {
    Reply::Http {
        status: 200,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.as_bytes().to_vec(),
        content_length: true,
    }
}

fn status(code: u16, headers: &[(&str, &str)]) -> Reply {
    Reply::Http {
        status: code,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: Vec::new(),
        content_length: true,
    }
}

struct Server {
    addr: SocketAddr,
    conns: Arc<AtomicUsize>,
    reqs: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    fn port(&self) -> u16 {
        self.addr.port()
    }
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port())
    }
    fn conns(&self) -> usize {
        self.conns.load(Ordering::SeqCst)
    }
    fn reqs(&self) -> usize {
        self.reqs.load(Ordering::SeqCst)
    }
}

type Handler = Arc<dyn Fn(&str) -> Reply + Send + Sync>;

async fn start(handler: impl Fn(&str) -> Reply + Send + Sync + 'static) -> Server {
    start_with(Arc::new(handler), None).await
}

async fn start_with(handler: Handler, tls: Option<tokio_rustls::TlsAcceptor>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let conns = Arc::new(AtomicUsize::new(0));
    let reqs = Arc::new(AtomicUsize::new(0));
    let (c, r) = (conns.clone(), reqs.clone());
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            c.fetch_add(1, Ordering::SeqCst);
            let (handler, reqs, tls) = (handler.clone(), r.clone(), tls.clone());
            tokio::spawn(async move {
                match tls {
                    Some(acceptor) => {
                        if let Ok(s) = acceptor.accept(stream).await {
                            serve(s, handler, reqs).await;
                        }
                    }
                    None => serve(stream, handler, reqs).await,
                }
            });
        }
    });
    Server {
        addr,
        conns,
        reqs,
        task,
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    handler: Handler,
    reqs: Arc<AtomicUsize>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 16 * 1024 {
            return;
        }
    }
    reqs.fetch_add(1, Ordering::SeqCst);
    let head = String::from_utf8_lossy(&buf).into_owned();
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut reply = handler(&path);
    loop {
        match reply {
            Reply::Delayed(d, r) => {
                tokio::time::sleep(d).await;
                reply = *r;
            }
            Reply::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return;
            }
            Reply::Http {
                status,
                headers,
                body,
                content_length,
            } => {
                let mut out = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
                for (k, v) in headers {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                if content_length {
                    out.push_str(&format!("Content-Length: {}\r\n", body.len()));
                }
                out.push_str("\r\n");
                let _ = s.write_all(out.as_bytes()).await;
                let _ = s.write_all(&body).await;
                let _ = s.shutdown().await;
                return;
            }
        }
    }
}

// ---------------------------------------------------------------- helpers

pub(crate) fn lab_opts() -> FetchOptions {
    FetchOptions {
        allow_http: true,
        allow_private: true,
        ..FetchOptions::default()
    }
}

pub(crate) fn pem_parse() -> ParseFn<String> {
    Arc::new(|b: &[u8]| {
        let s = std::str::from_utf8(b).map_err(|e| e.to_string())?;
        if s.starts_with("-----BEGIN CERTIFICATE-----") {
            Ok(s.to_string())
        } else {
            Err("not a PEM certificate".to_string())
        }
    })
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::starting_at(
        UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    ))
}

fn cache_with(opts: FetchOptions, clock: &Arc<ManualClock>) -> CertCache<String> {
    CertCache::new(opts, pem_parse())
        .unwrap()
        .with_clock(clock.clone())
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

// ---------------------------------------------------------------- HttpFetcher

#[tokio::test]
async fn plain_http_body_content_type_and_max_age() {
    let srv = start(|_| {
        ok(
            PEM,
            &[
                ("Cache-Control", "public, max-age=86400"),
                ("Content-Type", "application/pem-certificate-chain"),
            ],
        )
    })
    .await;
    let f = HttpFetcher::new(&lab_opts()).unwrap();
    let got = f.get(&srv.url("/c.pem"), "*/*", 1024).await.unwrap();
    assert_eq!(got.body, PEM.as_bytes());
    assert_eq!(
        got.content_type.as_deref(),
        Some("application/pem-certificate-chain")
    );
    assert_eq!(got.max_age, Some(secs(86400)));
    assert_eq!(srv.reqs(), 1);
}

#[tokio::test]
async fn no_store_gives_zero_max_age_and_absent_gives_none() {
    let srv = start(|p| {
        if p == "/ns" {
            ok(PEM, &[("Cache-Control", "no-store")])
        } else {
            ok(PEM, &[])
        }
    })
    .await;
    let f = HttpFetcher::new(&lab_opts()).unwrap();
    assert_eq!(
        f.get(&srv.url("/ns"), "*/*", 1024).await.unwrap().max_age,
        Some(Duration::ZERO)
    );
    assert_eq!(
        f.get(&srv.url("/none"), "*/*", 1024).await.unwrap().max_age,
        None
    );
}

fn tls_material() -> (Vec<u8>, tokio_rustls::TlsAcceptor) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "shaken fetch test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf_params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    leaf_params
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key).unwrap();

    let provider = shaken::crypto::tls_provider();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone(), ca.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .unwrap();
    (
        ca.pem().into_bytes(),
        tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    )
}

#[tokio::test]
async fn https_with_test_root() {
    let (root_pem, acceptor) = tls_material();
    let srv = start_with(
        Arc::new(|_: &str| ok(PEM, &[("Cache-Control", "max-age=600")])),
        Some(acceptor),
    )
    .await;
    let opts = FetchOptions {
        allow_private: true,
        extra_tls_roots_pem: vec![root_pem],
        ..FetchOptions::default()
    };
    let f = HttpFetcher::new(&opts).unwrap();
    for host in ["localhost", "127.0.0.1"] {
        let got = f
            .get(&format!("https://{host}:{}/c.pem", srv.port()), "*/*", 1024)
            .await
            .unwrap();
        assert_eq!(got.body, PEM.as_bytes(), "{host}");
        assert_eq!(got.max_age, Some(secs(600)));
    }
    // Through the cache too.
    let c = cache_with(opts, &clock());
    c.get(&format!("https://localhost:{}/c.pem", srv.port()))
        .await
        .unwrap();

    // Without the test root, the server's certificate is not trusted.
    let untrusted = HttpFetcher::new(&FetchOptions {
        allow_private: true,
        ..FetchOptions::default()
    })
    .unwrap();
    let err = untrusted
        .get(
            &format!("https://localhost:{}/c.pem", srv.port()),
            "*/*",
            1024,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "fetch-connect", "{err}");
}

#[tokio::test]
async fn http_url_refused_without_allow_http() {
    let srv = start(|_| ok(PEM, &[])).await;
    let f = HttpFetcher::new(&FetchOptions {
        allow_private: true,
        ..FetchOptions::default()
    })
    .unwrap();
    let err = f.get(&srv.url("/c.pem"), "*/*", 1024).await.unwrap_err();
    assert!(
        matches!(&err, FetchError::SchemeNotAllowed { scheme, .. } if scheme == "http"),
        "{err}"
    );
    assert_eq!(srv.conns(), 0);
}

#[tokio::test]
async fn ssrf_guard_refuses_loopback_before_connecting() {
    let srv = start(|_| ok(PEM, &[])).await;
    let p = srv.port();
    let opts = FetchOptions {
        allow_http: true,
        allow_any_port: true,
        ..FetchOptions::default()
    };
    let f = HttpFetcher::new(&opts).unwrap();
    let cache = cache_with(opts.clone(), &clock());
    for url in [
        format!("http://127.0.0.1:{p}/x"),
        format!("http://localhost:{p}/x"),
        format!("http://[::ffff:127.0.0.1]:{p}/x"),
        format!("http://127.1.2.3:{p}/x"),
        format!("http://2130706433:{p}/x"),
    ] {
        let err = f.get(&url, "*/*", 1024).await.unwrap_err();
        assert!(
            matches!(err, FetchError::PrivateAddress { .. }),
            "{url}: {err}"
        );
        assert!(
            err.to_string().contains("refused by the SSRF guard"),
            "{err}"
        );
        let err = cache.get(&url).await.unwrap_err();
        assert!(
            matches!(err, FetchError::PrivateAddress { .. }),
            "{url}: {err}"
        );
    }
    // Same with the default port policy: the literal check comes first.
    let strict = HttpFetcher::new(&FetchOptions {
        allow_http: true,
        ..FetchOptions::default()
    })
    .unwrap();
    let err = strict
        .get(&format!("http://127.0.0.1:{p}/x"), "*/*", 1024)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::PrivateAddress { .. }), "{err}");
    let err = strict
        .get(&format!("http://localhost:{p}/x"), "*/*", 1024)
        .await
        .unwrap_err();
    assert!(
        matches!(err, FetchError::PortNotAllowed { port, .. } if port == p),
        "{err}"
    );
    assert_eq!(
        srv.conns(),
        0,
        "the guard must refuse before any connection"
    );
}

#[tokio::test]
async fn http_404_is_http_status() {
    let srv = start(|_| status(404, &[])).await;
    let f = HttpFetcher::new(&lab_opts()).unwrap();
    let err = f.get(&srv.url("/missing"), "*/*", 1024).await.unwrap_err();
    assert!(
        matches!(err, FetchError::HttpStatus { status: 404, .. }),
        "{err}"
    );
    assert!(err.to_string().contains(&srv.url("/missing")));
}

#[tokio::test]
async fn redirect_is_refused_and_not_followed() {
    let target = start(|_| ok(PEM, &[])).await;
    let loc = target.url("/c.pem");
    let srv = start(move |_| status(302, &[("Location", &loc)])).await;
    let f = HttpFetcher::new(&lab_opts()).unwrap();
    let err = f.get(&srv.url("/c.pem"), "*/*", 1024).await.unwrap_err();
    match &err {
        FetchError::Redirect { location, .. } => assert_eq!(location, &target.url("/c.pem")),
        e => panic!("{e}"),
    }
    assert_eq!(target.conns(), 0);
}

#[tokio::test]
async fn oversize_body_is_too_large() {
    let big = "x".repeat(2000);
    let b2 = big.clone();
    let srv = start(move |p| Reply::Http {
        status: 200,
        headers: vec![],
        body: b2.clone().into_bytes(),
        content_length: p == "/cl",
    })
    .await;
    let f = HttpFetcher::new(&lab_opts()).unwrap();
    for path in ["/cl", "/nocl"] {
        let err = f.get(&srv.url(path), "*/*", 1000).await.unwrap_err();
        assert!(
            matches!(err, FetchError::TooLarge { limit: 1000, .. }),
            "{path}: {err}"
        );
        // Exactly at the limit is fine.
        assert_eq!(
            f.get(&srv.url(path), "*/*", 2000).await.unwrap().body.len(),
            2000,
            "{path}"
        );
    }
}

#[tokio::test]
async fn silent_server_times_out() {
    let srv = start(|_| Reply::Hang).await;
    let mut opts = lab_opts();
    opts.limits.fetch_timeout = Duration::from_millis(300);
    opts.limits.connect_timeout = Duration::from_millis(300);
    let f = HttpFetcher::new(&opts).unwrap();
    let err = f.get(&srv.url("/c.pem"), "*/*", 1024).await.unwrap_err();
    assert!(
        matches!(err, FetchError::Timeout { after_ms: 300, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("timed out after 300 ms"), "{err}");
}

// ---------------------------------------------------------------- CertCache

#[tokio::test]
async fn hundred_gets_one_request() {
    let srv = start(|_| ok(PEM, &[("Cache-Control", "max-age=3600")])).await;
    let c = cache_with(lab_opts(), &clock());
    let url = srv.url("/c.pem");
    assert!(c.get_cached(&url).is_none());
    for _ in 0..100 {
        assert_eq!(c.get(&url).await.unwrap().as_str(), PEM);
    }
    assert_eq!(srv.reqs(), 1);
    assert!(c.get_cached(&url).is_some());
    let s = c.stats();
    assert_eq!(
        (s.fetches, s.misses, s.hits, s.fetch_failures),
        (1, 1, 100, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_gets_coalesce_into_one_request() {
    let srv = start(|_| Reply::Delayed(Duration::from_millis(200), Box::new(ok(PEM, &[])))).await;
    let c = Arc::new(cache_with(lab_opts(), &clock()));
    let url = srv.url("/c.pem");
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (c, url) = (c.clone(), url.clone());
            tokio::spawn(async move { c.get(&url).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().as_str(), PEM);
    }
    assert_eq!(srv.reqs(), 1);
    let s = c.stats();
    assert_eq!(s.fetches, 1);
    assert_eq!(s.misses, 50);
    assert_eq!(s.coalesced, 49);
}

#[tokio::test]
async fn max_age_is_honoured_and_expiry_refetches() {
    let srv = start(|_| ok(PEM, &[("Cache-Control", "max-age=120")])).await;
    let clk = clock();
    // Exact expiry, without the background refresh (tested below).
    let c = cache_with(lab_opts(), &clk).with_refresh(false);
    let url = srv.url("/c.pem");
    c.get(&url).await.unwrap();
    clk.advance(secs(119));
    assert!(c.get_cached(&url).is_some());
    c.get(&url).await.unwrap();
    assert_eq!(srv.reqs(), 1);
    clk.advance(secs(2));
    assert!(c.get_cached(&url).is_none());
    c.get(&url).await.unwrap();
    assert_eq!(srv.reqs(), 2);
}

#[tokio::test]
async fn max_age_is_clamped_and_default_applies() {
    let srv = start(|p| match p {
        "/zero" => ok(PEM, &[("Cache-Control", "max-age=0")]),
        "/huge" => ok(PEM, &[("Cache-Control", "max-age=9999999")]),
        _ => ok(PEM, &[]),
    })
    .await;
    let clk = clock();
    // min 60 s, default 1 h, max 24 h; exact expiry, without the refresh.
    let c = cache_with(lab_opts(), &clk).with_refresh(false);
    for p in ["/zero", "/huge", "/none"] {
        c.get(&srv.url(p)).await.unwrap();
    }
    clk.advance(secs(59));
    assert!(
        c.get_cached(&srv.url("/zero")).is_some(),
        "max-age=0 is raised to the 60 s floor"
    );
    clk.advance(secs(2));
    assert!(c.get_cached(&srv.url("/zero")).is_none());
    clk.advance(secs(3600 - 61 - 1));
    assert!(c.get_cached(&srv.url("/none")).is_some());
    clk.advance(secs(2));
    assert!(c.get_cached(&srv.url("/none")).is_none(), "default 1 h");
    clk.advance(secs(24 * 3600 - 3601 - 1));
    assert!(c.get_cached(&srv.url("/huge")).is_some());
    clk.advance(secs(2));
    assert!(c.get_cached(&srv.url("/huge")).is_none(), "ceiling 24 h");
}

#[tokio::test]
async fn failures_are_negatively_cached() {
    let srv = start(|p| {
        if p == "/500" {
            status(500, &[])
        } else {
            ok("not pem", &[])
        }
    })
    .await;
    let clk = clock();
    let c = cache_with(lab_opts(), &clk); // negative ttl 30 s
    let url = srv.url("/500");
    let e1 = c.get(&url).await.unwrap_err();
    assert!(
        matches!(e1, FetchError::HttpStatus { status: 500, .. }),
        "{e1}"
    );
    let e2 = c.get(&url).await.unwrap_err();
    assert_eq!(e1, e2);
    assert_eq!(srv.reqs(), 1);
    assert!(c.get_cached(&url).is_none());
    clk.advance(secs(29));
    c.get(&url).await.unwrap_err();
    assert_eq!(srv.reqs(), 1);
    clk.advance(secs(2));
    c.get(&url).await.unwrap_err();
    assert_eq!(srv.reqs(), 2);

    // A body the parser rejects is a Parse error, cached too.
    let bad = srv.url("/bad");
    let e = c.get(&bad).await.unwrap_err();
    assert!(matches!(e, FetchError::Parse { .. }), "{e}");
    c.get(&bad).await.unwrap_err();
    assert_eq!(srv.reqs(), 3);
    let s = c.stats();
    assert_eq!((s.fetch_failures, s.negative_hits), (3, 3));
}

#[tokio::test]
async fn insert_is_served_without_fetching() {
    let srv = start(|_| ok(PEM, &[])).await;
    let c = cache_with(lab_opts(), &clock());
    let url = srv.url("/local.pem");
    c.insert(&url, "local".to_string(), secs(60));
    assert_eq!(c.get(&url).await.unwrap().as_str(), "local");
    assert_eq!(srv.reqs(), 0);
}

#[tokio::test]
async fn disk_cache_survives_a_new_instance_and_corruption_is_ignored() {
    let srv = start(|_| ok(PEM, &[("Cache-Control", "max-age=600")])).await;
    let dir = tempfile::tempdir().unwrap();
    let opts = FetchOptions {
        cache_dir: Some(dir.path().to_path_buf()),
        ..lab_opts()
    };
    let clk = clock();
    let url = srv.url("/c.pem");

    cache_with(opts.clone(), &clk).get(&url).await.unwrap();
    assert_eq!(srv.reqs(), 1);
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "one file, no temp files left: {files:?}");

    // A new instance (as another process would) reads it from disk.
    let second = cache_with(opts.clone(), &clk);
    assert_eq!(second.get(&url).await.unwrap().as_str(), PEM);
    assert_eq!(srv.reqs(), 1);
    assert_eq!(second.stats().disk_hits, 1);

    // Expired on disk: refetched.
    clk.advance(secs(601));
    cache_with(opts.clone(), &clk).get(&url).await.unwrap();
    assert_eq!(srv.reqs(), 2);

    // Corrupt: ignored, refetched, and rewritten.
    for garbage in [
        &b"\x00\xffgarbage"[..],
        b"shaken-x5u-cache 1\nurl nope\n",
        b"",
    ] {
        std::fs::write(&files[0], garbage).unwrap();
        let before = srv.reqs();
        let c = cache_with(opts.clone(), &clk);
        assert_eq!(c.get(&url).await.unwrap().as_str(), PEM);
        assert_eq!(srv.reqs(), before + 1);
        assert_eq!(c.stats().disk_hits, 0);
    }
    // The rewritten file is good again.
    let before = srv.reqs();
    cache_with(opts, &clk).get(&url).await.unwrap();
    assert_eq!(srv.reqs(), before);
}

// ---------------------------------------------------------------- background refresh

/// What the refresh tests' server answers, changed as a test goes.
#[derive(Clone)]
enum Mode {
    /// 200, this body, `max-age=100`.
    Serve(&'static str),
    /// The same after this long.
    Slow(&'static str, Duration),
    /// 500.
    Fail,
}

const V1: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n# v1\n";
const V2: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n# v2\n";

async fn switchable(max_age: u64) -> (Server, Arc<std::sync::Mutex<Mode>>) {
    let mode = Arc::new(std::sync::Mutex::new(Mode::Serve(V1)));
    let m = mode.clone();
    let cc = format!("max-age={max_age}");
    let srv = start(move |_| match m.lock().unwrap().clone() {
        Mode::Serve(body) => ok(body, &[("Cache-Control", &cc)]),
        Mode::Slow(body, d) => Reply::Delayed(d, Box::new(ok(body, &[("Cache-Control", &cc)]))),
        Mode::Fail => status(500, &[]),
    })
    .await;
    (srv, mode)
}

fn set(mode: &std::sync::Mutex<Mode>, m: Mode) {
    *mode.lock().unwrap() = m;
}

/// Wait (really) until `cond` holds, at most 20 s.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..2000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for: {what}");
}

fn body(c: &CertCache<String>, url: &str) -> Option<String> {
    c.get_cached(url).map(|v| v.as_str().to_owned())
}

/// A lifetime of 100 s has a refresh window of 10 s (`cache_refresh_min`;
/// a tenth is 10 s too): the calls in it are answered from the entry at
/// once while one slow fetch replaces it, however many calls there are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_in_the_refresh_window_does_not_wait_and_one_refresh_replaces_the_entry() {
    let (srv, mode) = switchable(100).await;
    let clk = clock();
    let c = Arc::new(cache_with(lab_opts(), &clk));
    let url = srv.url("/sp.pem");
    assert_eq!(c.get(&url).await.unwrap().as_str(), V1);
    set(&mode, Mode::Slow(V2, secs(2)));

    clk.advance(secs(89)); // 11 s left: not yet in the window
    assert_eq!(body(&c, &url).as_deref(), Some(V1));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!((srv.reqs(), c.stats().refreshes), (1, 0));

    clk.advance(secs(2)); // 9 s left: in the window
    let started = std::time::Instant::now();
    let callers: Vec<_> = (0..8)
        .map(|i| {
            let (c, url) = (c.clone(), url.clone());
            tokio::spawn(async move {
                for _ in 0..100 {
                    let got = if i % 2 == 0 {
                        c.get_cached(&url).unwrap()
                    } else {
                        c.get(&url).await.unwrap()
                    };
                    assert_eq!(got.as_str(), V1);
                }
            })
        })
        .collect();
    for t in callers {
        t.await.unwrap();
    }
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(1),
        "800 calls in the window took {waited:?}: they waited for the 2 s refresh"
    );
    eventually("the refreshed entry", || {
        body(&c, &url).as_deref() == Some(V2)
    })
    .await;
    assert_eq!(srv.reqs(), 2, "one refresh for 800 calls");
    let s = c.stats();
    assert_eq!((s.refreshes, s.refresh_failures, s.fetches), (1, 0, 2));

    // The new entry lives its own 100 s, past the old one's expiry.
    clk.advance(secs(20));
    assert_eq!(body(&c, &url).as_deref(), Some(V2));
    assert_eq!(srv.reqs(), 2);
}

/// A refresh that fails keeps the entry until it expires, is counted, is
/// tried again after `negative_cache_ttl` (30 s); once the entry has
/// expired the call waits for the fetch and its failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_refresh_keeps_serving_until_expiry_and_retries_later() {
    let (srv, mode) = switchable(1000).await; // window 100 s: refresh from 900 s
    let clk = clock();
    let c = cache_with(lab_opts(), &clk);
    let url = srv.url("/sp.pem");
    c.get(&url).await.unwrap();
    set(&mode, Mode::Fail);

    clk.advance(secs(900));
    assert_eq!(body(&c, &url).as_deref(), Some(V1));
    eventually("the failed refresh", || c.stats().refresh_failures == 1).await;
    assert_eq!(srv.reqs(), 2);
    for _ in 0..50 {
        assert_eq!(
            c.get(&url).await.unwrap().as_str(),
            V1,
            "kept after the failure"
        );
    }
    clk.advance(secs(25)); // within the 30 s back-off: no new attempt
    assert_eq!(body(&c, &url).as_deref(), Some(V1));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(srv.reqs(), 2);

    clk.advance(secs(10)); // past the back-off: tried again, fails again
    assert_eq!(body(&c, &url).as_deref(), Some(V1));
    eventually("the second failed refresh", || {
        c.stats().refresh_failures == 2
    })
    .await;
    assert_eq!(srv.reqs(), 3);

    clk.advance(secs(29)); // 964 s, before the next attempt (965 s): served
    assert_eq!(body(&c, &url).as_deref(), Some(V1));
    clk.advance(secs(37)); // 1001 s: expired, never served again
    assert_eq!(body(&c, &url), None);
    let e = c.get(&url).await.unwrap_err();
    assert!(
        matches!(e, FetchError::HttpStatus { status: 500, .. }),
        "{e}"
    );
    assert_eq!(srv.reqs(), 4, "the expired call fetched in line");
    // ... and that failure is negatively cached as usual.
    c.get(&url).await.unwrap_err();
    assert_eq!(srv.reqs(), 4);
    let s = c.stats();
    assert_eq!(
        (s.negative_hits, s.refreshes, s.refresh_failures),
        (1, 2, 2)
    );
}

/// A refresh that succeeds after failing replaces the entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_refresh_that_succeeds_replaces_the_entry() {
    let (srv, mode) = switchable(1000).await;
    let clk = clock();
    let c = cache_with(lab_opts(), &clk);
    let url = srv.url("/sp.pem");
    c.get(&url).await.unwrap();
    set(&mode, Mode::Fail);
    clk.advance(secs(950));
    body(&c, &url);
    eventually("the failed refresh", || c.stats().refresh_failures == 1).await;
    set(&mode, Mode::Serve(V2));
    clk.advance(secs(31));
    assert_eq!(body(&c, &url).as_deref(), Some(V1));
    eventually("the refreshed entry", || {
        body(&c, &url).as_deref() == Some(V2)
    })
    .await;
    clk.advance(secs(100)); // past the first entry's expiry
    assert_eq!(body(&c, &url).as_deref(), Some(V2));
    assert_eq!((srv.reqs(), c.stats().refreshes), (3, 2));
}

/// An expired entry is not served: the call waits for the fetch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_entry_is_fetched_in_line() {
    let (srv, mode) = switchable(100).await;
    let clk = clock();
    let c = cache_with(lab_opts(), &clk);
    let url = srv.url("/sp.pem");
    c.get(&url).await.unwrap();
    set(&mode, Mode::Slow(V2, Duration::from_millis(300)));
    clk.advance(secs(101)); // skipped the window: nothing refreshed it
    assert_eq!(body(&c, &url), None);
    let started = std::time::Instant::now();
    assert_eq!(c.get(&url).await.unwrap().as_str(), V2);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(srv.reqs(), 2);
    assert_eq!(c.stats().refreshes, 0);
}

/// A blocking caller (no tokio runtime: `verify --batch` workers, the C
/// ABI) starts the refresh on the cache's own runtime and does not wait.
#[test]
fn a_blocking_caller_refreshes_in_the_background_too() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (srv, mode) = rt.block_on(switchable(100));
    let clk = clock();
    let c = Arc::new(cache_with(lab_opts(), &clk));
    let url = srv.url("/sp.pem");
    rt.block_on(c.get(&url)).unwrap();
    set(&mode, Mode::Slow(V2, secs(2)));
    clk.advance(secs(95));
    let started = std::time::Instant::now();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..100 {
                    assert_eq!(body(&c, &url).as_deref(), Some(V1));
                }
            });
        }
    });
    assert!(started.elapsed() < Duration::from_secs(1));
    rt.block_on(eventually("the refreshed entry", || {
        body(&c, &url).as_deref() == Some(V2)
    }));
    assert_eq!((srv.reqs(), c.stats().refreshes), (2, 1));
    drop(srv);
}

/// With an on-disk cache shared by two processes, the second one's refresh
/// takes the chain the first one refetched from the disk, not the network.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_takes_a_newer_entry_from_the_disk_cache() {
    let (srv, mode) = switchable(100).await;
    let dir = tempfile::tempdir().unwrap();
    let opts = FetchOptions {
        cache_dir: Some(dir.path().to_path_buf()),
        ..lab_opts()
    };
    let clk = clock();
    let (a, b) = (cache_with(opts.clone(), &clk), cache_with(opts, &clk));
    let url = srv.url("/sp.pem");
    a.get(&url).await.unwrap();
    b.get(&url).await.unwrap(); // from the disk
    assert_eq!((srv.reqs(), b.stats().disk_hits), (1, 1));
    set(&mode, Mode::Serve(V2));
    clk.advance(secs(95));
    body(&a, &url);
    eventually("a refreshed", || body(&a, &url).as_deref() == Some(V2)).await;
    let on_disk = || {
        std::fs::read_dir(dir.path()).unwrap().any(|f| {
            let f = f.unwrap().path();
            std::fs::read_to_string(f).is_ok_and(|t| t.contains("# v2"))
        })
    };
    eventually("a wrote the disk cache", on_disk).await;
    assert_eq!(srv.reqs(), 2);
    body(&b, &url);
    eventually("b refreshed", || body(&b, &url).as_deref() == Some(V2)).await;
    assert_eq!(srv.reqs(), 2, "b read the newer file");
    assert_eq!(b.stats().disk_hits, 2);
}

#[test]
fn wall_clock_is_not_needed() {
    // ManualClock is the only clock the cache tests use; this documents it.
    let c = ManualClock::starting_at(SystemTime::UNIX_EPOCH);
    c.advance(secs(1));
    assert_eq!(shaken::fetch::Clock::system_now(&c), UNIX_EPOCH + secs(1));
}

/// The library path every surface shares (`StiVs`: `verify --batch`, the C
/// ABI's verifier, `shaken serve`'s cached lookups), in real time with a
/// 3 s certificate lifetime (the `Limits` of the configuration; refresh
/// window 1 s): a call in the window is answered at once while a 1.5 s
/// refetch runs, and a call after the old entry's expiry finds the new one
/// without fetching.
#[test]
fn the_verification_service_refreshes_a_known_signers_chain_before_it_expires() {
    use crate::support::http::{Reply as Http, Server as HttpServer};
    use shaken::config::{ReplayMode, Source};
    use shaken::identity::IdentityHeader;
    use shaken::passport::{sign, Attestation, Claims, Header};
    use shaken::{CallContext, StiVs, VerifierConfig};

    let chain = std::fs::read(crate::support::certs("sp-chain.pem")).unwrap();
    let pem = |body: &[u8]| Http::Pem {
        body: body.to_vec(),
        content_length: true,
    };
    let srv = HttpServer::start();
    let x5u = srv.route("/sp.pem", pem(&chain));
    let now = 1_767_225_600;
    let claims = Claims::shaken(
        Attestation::A,
        "12155550121",
        vec!["12125550143".into()],
        now,
        "123e4567-e89b-12d3-a456-426655440000",
    );
    let token = sign(
        &Header::shaken(&x5u),
        &claims,
        &crate::support::lab_signer(),
    )
    .unwrap();
    let identity = IdentityHeader::shaken(token, &x5u).to_string();
    let mut config = VerifierConfig::default();
    config.trust_anchors = vec![Source::Path(crate::support::certs("root.pem").into())];
    config.replay = ReplayMode::Off;
    config.allow_http_x5u = true;
    config.allow_private_x5u = true;
    config.limits.cache_default_ttl = secs(3); // the server sends no max-age
    config.limits.cache_min_ttl = secs(1);
    config.limits.cache_refresh_min = secs(1);
    let vs = StiVs::from_config(&config).unwrap();
    let ctx = CallContext::at(now);
    let verify = || {
        let started = std::time::Instant::now();
        let r = vs.verify_result_blocking(&identity, &ctx);
        assert!(r.is_ok(), "{r:?}");
        started.elapsed()
    };
    let stats = || vs.online().unwrap().cache().stats();

    verify();
    let fetched = std::time::Instant::now();
    assert_eq!(srv.hits("/sp.pem"), 1);
    srv.route(
        "/sp.pem",
        Http::Delayed(Duration::from_millis(1500), Box::new(pem(&chain))),
    );
    std::thread::sleep(secs(2).saturating_sub(fetched.elapsed()) + Duration::from_millis(200));
    let waited = verify(); // in the window (2.2 s of 3 s)
    assert!(
        waited < Duration::from_millis(700),
        "the call waited {waited:?} for the 1.5 s refresh"
    );
    for _ in 0..50 {
        verify();
    }
    let deadline = std::time::Instant::now() + secs(10);
    while stats().fetches < 2 || srv.hits("/sp.pem") < 2 {
        assert!(std::time::Instant::now() < deadline, "{:?}", stats());
        std::thread::sleep(Duration::from_millis(20));
    }
    // Past the first entry's expiry (and the refresh done): served from the
    // refreshed entry, no new fetch.
    std::thread::sleep(secs(4).saturating_sub(fetched.elapsed()));
    let waited = verify();
    assert!(waited < Duration::from_millis(700), "{waited:?}");
    let s = stats();
    assert_eq!(
        (s.refreshes, s.fetches, s.refresh_failures),
        (1, 2, 0),
        "{s:?}"
    );
    assert_eq!(srv.hits("/sp.pem"), 2);
}

/// What the flood tests share: a verification service (`StiVs`, the path
/// of `verify`, `verify --batch`, `serve` and the C ABI) with an x5u cache
/// of 8 entries, a trusted signer's server and a stranger's.
struct Flood {
    vs: shaken::StiVs,
    config: shaken::VerifierConfig,
    trusted: crate::support::http::Server,
    stranger: crate::support::http::Server,
    now: i64,
}

const FLOOD_CACHE: usize = 8;

impl Flood {
    fn new(cache_dir: Option<&std::path::Path>) -> Flood {
        use shaken::config::{ReplayMode, Source};
        let mut config = shaken::VerifierConfig::default();
        config.trust_anchors = vec![Source::Path(crate::support::certs("root.pem").into())];
        config.replay = ReplayMode::Off;
        config.allow_http_x5u = true;
        config.allow_private_x5u = true;
        config.cache_dir = cache_dir.map(|d| d.to_path_buf());
        config.limits.cache_max_entries = FLOOD_CACHE;
        Flood {
            vs: shaken::StiVs::from_config(&config).unwrap(),
            config,
            trusted: crate::support::http::Server::start(),
            stranger: crate::support::http::Server::start(),
            now: 1_767_225_600,
        }
    }

    fn pem(body: &[u8]) -> crate::support::http::Reply {
        crate::support::http::Reply::Pem {
            body: body.to_vec(),
            content_length: true,
        }
    }

    /// An Identity value for `x5u`, signed with `signer`, `age` s old.
    fn identity(&self, x5u: &str, signer: &shaken::crypto::KeySigner, age: i64) -> String {
        use shaken::identity::IdentityHeader;
        use shaken::passport::{sign, Attestation, Claims, Header};
        let claims = Claims::shaken(
            Attestation::A,
            "12155550121",
            vec!["12125550143".into()],
            self.now - age,
            "123e4567-e89b-12d3-a456-426655440000",
        );
        let token = sign(&Header::shaken(x5u), &claims, signer).unwrap();
        IdentityHeader::shaken(token, x5u).to_string()
    }

    fn verify(&self, vs: &shaken::StiVs, identity: &str) -> Result<(), String> {
        let ctx = shaken::CallContext::at(self.now);
        vs.verify_result_blocking(identity, &ctx)
            .map(|_| ())
            .map_err(|f| f.error.id().to_owned())
    }

    fn stats(&self) -> shaken::fetch::CacheStats {
        self.vs.online().unwrap().cache().stats()
    }

    /// Two known signers: one whose call passed, one whose only call was
    /// stale (it fails before its certificate is needed; attribution
    /// fetched and validated the chain). Returns their fresh calls.
    fn known_signers(&self) -> (String, String) {
        let chain = std::fs::read(crate::support::certs("sp-chain.pem")).unwrap();
        let signer = crate::support::lab_signer();
        let a = self.trusted.route("/sp.pem", Flood::pem(&chain));
        let b = self.trusted.route("/sp2.pem", Flood::pem(&chain));
        let call_a = self.identity(&a, &signer, 0);
        assert_eq!(self.verify(&self.vs, &call_a), Ok(()));
        let stale = self.identity(&b, &signer, 3600);
        assert_eq!(self.verify(&self.vs, &stale), Err("iat-stale".into()));
        assert_eq!(
            (self.trusted.hits("/sp.pem"), self.trusted.hits("/sp2.pem")),
            (1, 1)
        );
        let c = self.vs.online().unwrap().cache();
        assert_eq!(c.tier(&a), Some(shaken::fetch::Tier::Protected));
        assert_eq!(c.tier(&b), Some(shaken::fetch::Tier::Protected));
        (call_a, self.identity(&b, &signer, 0))
    }

    /// Calls of a stranger, each naming a new x5u URL on their server:
    /// a 404, a parseable chain to another root (signed with its key), or
    /// a copy of the trusted signer's public chain (signed with the
    /// stranger's key). Every one passes the checks before the fetch.
    fn flood(&self, calls: usize) {
        let untrusted = std::fs::read("tests/data/cert/openssl/good-chain.pem").unwrap();
        let copied = std::fs::read(crate::support::certs("sp-chain.pem")).unwrap();
        let key = std::fs::read_to_string("tests/data/cert/openssl/good.key.pem").unwrap();
        let stranger = shaken::crypto::KeySigner::from_pem(&key).unwrap();
        for i in 0..calls {
            let url = match i % 3 {
                0 => self.stranger.url(&format!("/missing-{i}.pem")),
                1 => self
                    .stranger
                    .route(&format!("/untrusted-{i}.pem"), Flood::pem(&untrusted)),
                _ => self
                    .stranger
                    .route(&format!("/copy-{i}.pem"), Flood::pem(&copied)),
            };
            let want = ["cert-unavailable", "cert-untrusted", "signature-invalid"][i % 3];
            let got = self.verify(&self.vs, &self.identity(&url, &stranger, 0));
            assert_eq!(got, Err(want.to_owned()), "call {i}");
        }
        assert_eq!(self.stranger.total(), calls, "one fetch per stranger URL");
    }
}

/// Issue 21: a stranger whose calls each name a new x5u URL (three times
/// the cache's size) pushes out only other probation entries; both known
/// signers are then answered from the cache (their server's request
/// counters do not move).
#[test]
fn a_flood_of_new_x5u_urls_does_not_push_known_signers_out() {
    let f = Flood::new(None);
    let (a, b) = f.known_signers();
    f.flood(3 * FLOOD_CACHE);
    assert_eq!(f.verify(&f.vs, &a), Ok(()));
    assert_eq!(f.verify(&f.vs, &b), Ok(()));
    assert_eq!(
        (f.trusted.hits("/sp.pem"), f.trusted.hits("/sp2.pem")),
        (1, 1)
    );
    let s = f.stats();
    assert_eq!(s.promotions, 2, "{s:?}");
    assert_eq!(s.protected_evictions, 0, "{s:?}");
    assert_eq!(s.probation_evictions, 3 * FLOOD_CACHE as u64 - 6, "{s:?}");
    assert_eq!((s.protected_entries, s.probation_entries), (2, 6), "{s:?}");
}

/// The same with the on-disk cache: the stranger's chains leave no file,
/// the known signers' chains one each, written when they were vouched for,
/// and a new process reads them instead of fetching.
#[test]
fn a_flood_of_new_x5u_urls_leaves_no_file_in_the_disk_cache() {
    let dir = tempfile::tempdir().unwrap();
    let f = Flood::new(Some(dir.path()));
    let (a, b) = f.known_signers();
    let files = || std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(files(), 2);
    f.flood(3 * FLOOD_CACHE);
    assert_eq!(files(), 2, "the stranger's chains were not written");
    let next = shaken::StiVs::from_config(&f.config).unwrap();
    assert_eq!(f.verify(&next, &a), Ok(()));
    assert_eq!(f.verify(&next, &b), Ok(()));
    assert_eq!(
        (f.trusted.hits("/sp.pem"), f.trusted.hits("/sp2.pem")),
        (1, 1)
    );
    assert_eq!(next.online().unwrap().cache().stats().disk_hits, 2);
    assert_eq!(files(), 2, "read, not written again");
}

/// A fleet's shared cache in memory (what `fleet::RedisShared` is to Redis):
/// entries by URL, claims that never expire within a test.
#[derive(Debug, Default)]
struct MemoryShared {
    entries: std::sync::Mutex<std::collections::HashMap<String, shaken::fetch::SharedEntry>>,
    claims: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl shaken::fetch::SharedCache for MemoryShared {
    fn get(
        &self,
        _kind: shaken::fetch::SharedKind,
        url: String,
    ) -> shaken::fetch::SharedFuture<Option<shaken::fetch::SharedEntry>> {
        let e = self.entries.lock().unwrap().get(&url).cloned();
        Box::pin(async move { e })
    }
    fn put(
        &self,
        _kind: shaken::fetch::SharedKind,
        url: String,
        entry: shaken::fetch::SharedEntry,
    ) -> shaken::fetch::SharedFuture<()> {
        self.claims.lock().unwrap().remove(&url);
        self.entries.lock().unwrap().insert(url, entry);
        Box::pin(async {})
    }
    fn claim(
        &self,
        _kind: shaken::fetch::SharedKind,
        url: String,
        _hold: Duration,
    ) -> shaken::fetch::SharedFuture<shaken::fetch::Claim> {
        let mine = self.claims.lock().unwrap().insert(url);
        Box::pin(async move {
            if mine {
                shaken::fetch::Claim::Mine
            } else {
                shaken::fetch::Claim::Theirs
            }
        })
    }
}

/// Two nodes of a fleet: the one whose entry comes due second takes the
/// chain the first one refetched from the shared cache; the old shared
/// entry (the one being refreshed) never counts as a refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_takes_a_newer_entry_from_the_fleet() {
    let (srv, mode) = switchable(100).await;
    let shared: Arc<dyn shaken::fetch::SharedCache> = Arc::new(MemoryShared::default());
    let clk = clock();
    let node =
        || cache_with(lab_opts(), &clk).with_shared(shared.clone(), shaken::fetch::SharedKind::X5u);
    let (a, b) = (node(), node());
    let url = srv.url("/sp.pem");
    a.get(&url).await.unwrap();
    b.get(&url).await.unwrap(); // from the fleet
    assert_eq!(srv.reqs(), 1);
    set(&mode, Mode::Serve(V2));
    clk.advance(secs(95));
    body(&a, &url);
    eventually("a refreshed", || body(&a, &url).as_deref() == Some(V2)).await;
    assert_eq!(
        srv.reqs(),
        2,
        "the old shared entry did not pass for a refresh"
    );
    body(&b, &url);
    eventually("b refreshed", || body(&b, &url).as_deref() == Some(V2)).await;
    assert_eq!(srv.reqs(), 2, "b took a's entry from the fleet");
    assert_eq!((a.stats().fetches, b.stats().fetches), (2, 0));
}

// ---------------------------------------------------------------- CRL background refresh

/// What the CRL refresh tests' server answers.
#[derive(Clone)]
enum CrlMode {
    /// 200, this CRL, this `Cache-Control`, after this delay.
    Serve(String, String, Duration),
    /// 500.
    Fail,
}

/// Two CRLs of one lab CA (wall time of [`clock`]): the first lists one
/// serial, the second two, so a test can tell which one is cached. Both
/// have `nextUpdate` `next` seconds after the clock's start.
fn two_crls(next: i64) -> (String, String) {
    use shaken::pki::{LabPki, LabPkiOptions};
    let t0 = 1_700_000_000;
    let pki = LabPki::generate(&LabPkiOptions::new(t0 - 86_400, t0 + 365 * 86_400)).unwrap();
    (
        pki.issue_crl(&[1], t0 - 60, t0 + next).unwrap(),
        pki.issue_crl(&[1, 2], t0 - 60, t0 + next).unwrap(),
    )
}

async fn crl_server(first: &str, cache_control: &str) -> (Server, Arc<std::sync::Mutex<CrlMode>>) {
    let mode = Arc::new(std::sync::Mutex::new(CrlMode::Serve(
        first.to_owned(),
        cache_control.to_owned(),
        Duration::ZERO,
    )));
    let m = mode.clone();
    let srv = start(move |_| match m.lock().unwrap().clone() {
        CrlMode::Serve(body, cc, delay) => {
            let reply = ok(&body, &[("Cache-Control", &cc)]);
            if delay.is_zero() {
                reply
            } else {
                Reply::Delayed(delay, Box::new(reply))
            }
        }
        CrlMode::Fail => status(500, &[]),
    })
    .await;
    (srv, mode)
}

fn crl_fetcher(clk: &Arc<ManualClock>) -> shaken::online::CrlFetcher {
    shaken::online::CrlFetcher::new(lab_opts())
        .unwrap()
        .with_clock(clk.clone())
}

/// How many serials the cached CRL at `url` lists (`None`: nothing fresh cached).
fn crl_listed(f: &shaken::online::CrlFetcher, url: &str) -> Option<usize> {
    match f.get_cached(url) {
        Some(Ok(c)) => Some(c.revoked_serials()),
        _ => None,
    }
}

/// A CRL cached for 100 s (`max-age`) has a refresh window of 10 s: the
/// lookups in it are answered from the cache at once while one slow fetch
/// replaces it, however many lookups there are; the new CRL lives its own
/// lifetime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crl_in_its_refresh_window_is_answered_at_once_and_refreshed_once() {
    let (v1, v2) = two_crls(86_400);
    let (srv, mode) = crl_server(&v1, "max-age=100").await;
    let clk = clock();
    let f = Arc::new(crl_fetcher(&clk));
    let url = srv.url("/crl.pem");
    assert_eq!(f.get(&url).await.unwrap().revoked_serials(), 1);
    *mode.lock().unwrap() = CrlMode::Serve(v2, "max-age=100".into(), secs(2));

    clk.advance(secs(89)); // 11 s left: not yet in the window
    assert_eq!(crl_listed(&f, &url), Some(1));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!((srv.reqs(), f.cache().stats().refreshes), (1, 0));

    clk.advance(secs(2)); // 9 s left: in the window
    let started = std::time::Instant::now();
    let callers: Vec<_> = (0..8)
        .map(|i| {
            let (f, url) = (f.clone(), url.clone());
            tokio::spawn(async move {
                for _ in 0..100 {
                    let got = if i % 2 == 0 {
                        f.get_cached(&url).unwrap().unwrap()
                    } else {
                        f.get(&url).await.unwrap()
                    };
                    assert_eq!(got.revoked_serials(), 1);
                }
            })
        })
        .collect();
    for t in callers {
        t.await.unwrap();
    }
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(1),
        "800 lookups in the window took {waited:?}: they waited for the 2 s refresh"
    );
    eventually("the refreshed CRL", || crl_listed(&f, &url) == Some(2)).await;
    assert_eq!(srv.reqs(), 2, "one refresh for 800 lookups");
    let s = f.cache().stats();
    assert_eq!((s.refreshes, s.refresh_failures), (1, 0));

    // The new CRL lives its own 100 s, past the old one's expiry.
    clk.advance(secs(20));
    assert_eq!(crl_listed(&f, &url), Some(2));
    assert_eq!(srv.reqs(), 2);
}

/// A CRL whose `nextUpdate` comes before `max-age` runs out is refreshed
/// before its `nextUpdate`: cached for 200 s of a 1 h `max-age`, it is
/// refetched from 180 s (the last 20 s, a tenth).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crl_is_refreshed_before_its_next_update() {
    let (v1, v2) = two_crls(200);
    let (srv, mode) = crl_server(&v1, "max-age=3600").await;
    let clk = clock();
    let f = crl_fetcher(&clk);
    let url = srv.url("/crl.pem");
    f.get(&url).await.unwrap();
    *mode.lock().unwrap() = CrlMode::Serve(v2, "max-age=3600".into(), Duration::ZERO);
    clk.advance(secs(179));
    assert_eq!(crl_listed(&f, &url), Some(1));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(srv.reqs(), 1, "not due yet");
    clk.advance(secs(2));
    assert_eq!(crl_listed(&f, &url), Some(1), "answered from the cache");
    eventually("the refreshed CRL", || crl_listed(&f, &url) == Some(2)).await;
    assert_eq!(srv.reqs(), 2);
}

/// A failed refresh keeps the CRL until it expires, is counted, and is
/// tried again after `negative_cache_ttl` (30 s); once the CRL has expired
/// the call waits for the fetch and gets its failure, negatively cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_crl_refresh_keeps_the_crl_until_it_expires() {
    let (v1, _) = two_crls(86_400);
    let (srv, mode) = crl_server(&v1, "max-age=1000").await; // window 100 s
    let clk = clock();
    let f = crl_fetcher(&clk);
    let url = srv.url("/crl.pem");
    f.get(&url).await.unwrap();
    *mode.lock().unwrap() = CrlMode::Fail;

    clk.advance(secs(900));
    assert_eq!(crl_listed(&f, &url), Some(1));
    eventually("the failed refresh", || {
        f.cache().stats().refresh_failures == 1
    })
    .await;
    assert_eq!(srv.reqs(), 2);
    for _ in 0..50 {
        assert_eq!(f.get(&url).await.unwrap().revoked_serials(), 1, "kept");
    }
    clk.advance(secs(25)); // within the back-off: no new attempt
    assert_eq!(crl_listed(&f, &url), Some(1));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(srv.reqs(), 2);

    clk.advance(secs(10)); // past the back-off: tried again, fails again
    assert_eq!(crl_listed(&f, &url), Some(1));
    eventually("the second failed refresh", || {
        f.cache().stats().refresh_failures == 2
    })
    .await;
    assert_eq!(srv.reqs(), 3);

    clk.advance(secs(66)); // 1001 s: expired, never used again
    assert_eq!(crl_listed(&f, &url), None);
    let e = f.get(&url).await.unwrap_err();
    assert!(
        matches!(e, FetchError::HttpStatus { status: 500, .. }),
        "{e}"
    );
    assert_eq!(srv.reqs(), 4, "the expired CRL was fetched in line");
    f.get(&url).await.unwrap_err();
    assert_eq!(srv.reqs(), 4, "and its failure negatively cached");
    let s = f.cache().stats();
    assert_eq!((s.refreshes, s.refresh_failures), (2, 2));
}

/// A lookup from a thread without a tokio runtime (a `verify --batch`
/// worker, the C ABI) starts the refresh on the cache's own runtime.
#[test]
fn a_crl_looked_up_without_a_runtime_is_refreshed_too() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (v1, v2) = two_crls(86_400);
    let (srv, mode) = rt.block_on(crl_server(&v1, "max-age=100"));
    let clk = clock();
    let f = crl_fetcher(&clk);
    let url = srv.url("/crl.pem");
    rt.block_on(f.get(&url)).unwrap();
    *mode.lock().unwrap() = CrlMode::Serve(v2, "max-age=100".into(), Duration::ZERO);
    clk.advance(secs(95));
    assert_eq!(crl_listed(&f, &url), Some(1));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while crl_listed(&f, &url) != Some(2) {
        assert!(std::time::Instant::now() < deadline, "never refreshed");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(srv.reqs(), 2);
}

/// With probation on, a fetched body reaches the on-disk cache and the
/// fleet's cache when its entry is promoted (once), not when fetched; a
/// declined entry leaves only the body-less marker in the fleet's cache.
#[tokio::test]
async fn a_probation_entry_is_written_out_only_when_promoted() {
    use shaken::fetch::{SharedCache, SharedEntry, SharedKind, Tier};
    let srv = start(|_| ok(PEM, &[("Cache-Control", "max-age=600")])).await;
    let dir = tempfile::tempdir().unwrap();
    let opts = FetchOptions {
        cache_dir: Some(dir.path().to_path_buf()),
        ..lab_opts()
    };
    let clk = clock();
    let shared = Arc::new(MemoryShared::default());
    let c = cache_with(opts.clone(), &clk)
        .with_probation(true)
        .with_shared(shared.clone(), SharedKind::X5u);
    let files = || std::fs::read_dir(dir.path()).unwrap().count();
    let (url, other) = (srv.url("/c.pem"), srv.url("/stranger.pem"));
    let v = c.get(&url).await.unwrap();
    assert_eq!(c.tier(&url), Some(Tier::Probation));
    assert_eq!(files(), 0);
    assert_eq!(shared.get(SharedKind::X5u, url.clone()).await, None);
    assert!(c.promote(&url, &v).await);
    assert_eq!(c.tier(&url), Some(Tier::Protected));
    assert_eq!(files(), 1);
    assert!(matches!(
        shared.get(SharedKind::X5u, url.clone()).await,
        Some(SharedEntry::Body { .. })
    ));
    assert!(!c.promote(&url, &v).await, "once");
    // Declined: the marker, once, and nothing on disk.
    let w = c.get(&other).await.unwrap();
    c.decline(&other, &w).await;
    assert!(matches!(
        shared.get(SharedKind::X5u, other.clone()).await,
        Some(SharedEntry::Unvouched { .. })
    ));
    // Declining a promoted entry changes nothing.
    c.decline(&url, &v).await;
    assert!(matches!(
        shared.get(SharedKind::X5u, url.clone()).await,
        Some(SharedEntry::Body { .. })
    ));
    assert_eq!(files(), 1);
    assert_eq!(c.stats().promotions, 1);
    // Another process reads the promoted file; its entry starts on probation.
    let next = cache_with(opts, &clk).with_probation(true);
    next.get(&url).await.unwrap();
    assert_eq!((srv.reqs(), next.stats().disk_hits), (2, 1));
    assert_eq!(next.tier(&url), Some(Tier::Probation));
}

// ---------------------------------------------------------------- origin of cached bodies

/// Fetching options that refuse private addresses but let a test reach its
/// loopback server by *name*: `localhost` passes the URL check (a name,
/// not an IP literal; any port), and only the resolver would refuse it.
fn guarded_opts(cache_dir: Option<&std::path::Path>) -> FetchOptions {
    FetchOptions {
        allow_http: true,
        allow_any_port: true,
        allow_private: false,
        cache_dir: cache_dir.map(|d| d.to_path_buf()),
        ..FetchOptions::default()
    }
}

/// A chain fetched from a host name that resolved to a private address
/// (allowed then) is not served from the on-disk cache to a process that
/// refuses private addresses: it used to be, until it expired, because the
/// disk is read before the resolver is asked. One fetched from a public
/// address is still served from the disk without a fetch.
#[tokio::test]
async fn a_disk_entry_from_a_private_address_is_not_served_when_they_are_refused() {
    let srv = start(|_| ok(PEM, &[("Cache-Control", "max-age=600")])).await;
    let dir = tempfile::tempdir().unwrap();
    let clk = clock();
    let url = format!("http://localhost:{}/c.pem", srv.port());
    let lab = FetchOptions {
        cache_dir: Some(dir.path().to_path_buf()),
        ..lab_opts()
    };
    cache_with(lab.clone(), &clk).get(&url).await.unwrap();
    assert_eq!(srv.reqs(), 1);
    let file = std::fs::read_dir(dir.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(written.contains("\nfrom non-public\n"), "{written}");

    // Refused: not from the disk, and the fetch is refused by the resolver.
    let guarded = cache_with(guarded_opts(Some(dir.path())), &clk);
    let e = guarded.get(&url).await.unwrap_err();
    assert_eq!(e.code(), "fetch-private-address", "{e}");
    assert_eq!((srv.reqs(), guarded.stats().disk_hits), (1, 0));
    // A process that allows them still takes it from the disk.
    let again = cache_with(lab.clone(), &clk);
    again.get(&url).await.unwrap();
    assert_eq!((srv.reqs(), again.stats().disk_hits), (1, 1));

    // A file written before the origin was recorded counts as non-public.
    let v1 = written
        .replace("shaken-x5u-cache 2", "shaken-x5u-cache 1")
        .replace("from non-public\n", "");
    std::fs::write(&file, &v1).unwrap();
    let guarded = cache_with(guarded_opts(Some(dir.path())), &clk);
    assert_eq!(
        guarded.get(&url).await.unwrap_err().code(),
        "fetch-private-address"
    );
    assert_eq!((srv.reqs(), guarded.stats().disk_hits), (1, 0));
    let again = cache_with(lab, &clk);
    again.get(&url).await.unwrap();
    assert_eq!(
        (srv.reqs(), again.stats().disk_hits),
        (1, 1),
        "read by a lab process"
    );

    // From a public address (as a real STI-CR is): served from the disk
    // under the guard, nothing fetched.
    let public = written.replace("from non-public", "from public");
    std::fs::write(&file, public).unwrap();
    let guarded = cache_with(guarded_opts(Some(dir.path())), &clk);
    assert_eq!(guarded.get(&url).await.unwrap().as_str(), PEM);
    assert_eq!((srv.reqs(), guarded.stats().disk_hits), (1, 1));
}

/// The same through the fleet's cache: a node that refuses private
/// addresses does not take a chain another node fetched from one; it
/// fetches for itself (refused by its resolver). A body from a public
/// address is taken.
#[tokio::test]
async fn a_fleet_entry_from_a_private_address_is_not_taken_when_they_are_refused() {
    use shaken::fetch::{SharedCache, SharedEntry, SharedKind};
    let srv = start(|_| ok(PEM, &[("Cache-Control", "max-age=600")])).await;
    let clk = clock();
    let shared = Arc::new(MemoryShared::default());
    let node =
        |opts: FetchOptions| cache_with(opts, &clk).with_shared(shared.clone(), SharedKind::X5u);
    let url = format!("http://localhost:{}/c.pem", srv.port());
    node(lab_opts()).get(&url).await.unwrap();
    assert!(matches!(
        shared.get(SharedKind::X5u, url.clone()).await,
        Some(SharedEntry::Body { public: false, .. })
    ));
    // A lab node takes it.
    let lab = node(lab_opts());
    lab.get(&url).await.unwrap();
    assert_eq!((srv.reqs(), lab.stats().fetches), (1, 0));
    // A guarded node does not: it fetches, and its resolver refuses.
    let guarded = node(guarded_opts(None));
    let e = guarded.get(&url).await.unwrap_err();
    assert_eq!(e.code(), "fetch-private-address", "{e}");
    assert_eq!(srv.reqs(), 1, "nothing reached the server");
    // Its guard's refusal is its own: the lab node's body stays shared, and
    // the next lab node still takes it.
    assert!(matches!(
        shared.get(SharedKind::X5u, url.clone()).await,
        Some(SharedEntry::Body { public: false, .. })
    ));
    let lab = node(lab_opts());
    lab.get(&url).await.unwrap();
    assert_eq!((srv.reqs(), lab.stats().fetches), (1, 0));

    // A guarded node first: it tells the fleet only that its claim is over,
    // and a lab node fetches the URL for itself at once.
    let first = format!("http://localhost:{}/first.pem", srv.port());
    let e = node(guarded_opts(None)).get(&first).await.unwrap_err();
    assert_eq!(e.code(), "fetch-private-address", "{e}");
    assert!(matches!(
        shared.get(SharedKind::X5u, first.clone()).await,
        Some(SharedEntry::Unvouched { .. })
    ));
    let lab = node(lab_opts());
    assert_eq!(lab.get(&first).await.unwrap().as_str(), PEM);
    assert_eq!((srv.reqs(), lab.stats().fetches), (2, 1));
    // A refusal an older node shared as a failure is not taken either.
    let old = format!("http://localhost:{}/old.pem", srv.port());
    shared
        .put(
            SharedKind::X5u,
            old.clone(),
            SharedEntry::Failure {
                code: "fetch-private-address".into(),
                detail: "refused by the SSRF guard".into(),
                expires_at_ms: 1_700_000_000_000 + 600_000,
            },
        )
        .await;
    assert_eq!(node(lab_opts()).get(&old).await.unwrap().as_str(), PEM);
    assert_eq!(srv.reqs(), 3);

    // A body another node fetched from a public address is taken.
    let other = format!("http://localhost:{}/public.pem", srv.port());
    let expires_at_ms = 1_700_000_000_000 + 600_000;
    shared
        .put(
            SharedKind::X5u,
            other.clone(),
            SharedEntry::Body {
                body: PEM.as_bytes().to_vec(),
                expires_at_ms,
                public: true,
            },
        )
        .await;
    let guarded = node(guarded_opts(None));
    assert_eq!(guarded.get(&other).await.unwrap().as_str(), PEM);
    assert_eq!((srv.reqs(), guarded.stats().fetches), (3, 0));
}

/// CRLs through the fleet's cache follow the same rule.
#[tokio::test]
async fn a_fleet_crl_from_a_private_address_is_not_taken_when_they_are_refused() {
    use shaken::fetch::{SharedCache, SharedEntry, SharedKind};
    let (v1, _) = two_crls(86_400);
    let (srv, _mode) = crl_server(&v1, "max-age=600").await;
    let clk = clock();
    let shared: Arc<dyn SharedCache> = Arc::new(MemoryShared::default());
    let node = |opts: FetchOptions| {
        shaken::online::CrlFetcher::new(opts)
            .unwrap()
            .with_clock(clk.clone())
            .with_shared(shared.clone())
    };
    let url = format!("http://localhost:{}/crl.pem", srv.port());
    node(lab_opts()).get(&url).await.unwrap();
    assert!(matches!(
        shared.get(SharedKind::Crl, url.clone()).await,
        Some(SharedEntry::Body { public: false, .. })
    ));
    node(lab_opts()).get(&url).await.unwrap();
    assert_eq!(srv.reqs(), 1, "a lab node took it from the fleet");
    let e = node(guarded_opts(None)).get(&url).await.unwrap_err();
    assert_eq!(e.code(), "fetch-private-address", "{e}");
    assert_eq!(srv.reqs(), 1, "nothing reached the server");
    // The refusal is the guarded node's own: the lab nodes keep the body.
    node(lab_opts()).get(&url).await.unwrap();
    assert_eq!(srv.reqs(), 1, "a lab node still took it from the fleet");
    let first = format!("http://localhost:{}/first.crl", srv.port());
    let e = node(guarded_opts(None)).get(&first).await.unwrap_err();
    assert_eq!(e.code(), "fetch-private-address", "{e}");
    assert!(matches!(
        shared.get(SharedKind::Crl, first.clone()).await,
        Some(SharedEntry::Unvouched { .. })
    ));
    node(lab_opts()).get(&first).await.unwrap();
    assert_eq!(srv.reqs(), 2, "a lab node fetched it for itself");
    // From a public address: taken.
    let other = format!("http://localhost:{}/other.crl", srv.port());
    shared
        .put(
            SharedKind::Crl,
            other.clone(),
            SharedEntry::Body {
                body: v1.into_bytes(),
                expires_at_ms: 1_700_000_000_000 + 600_000,
                public: true,
            },
        )
        .await;
    node(guarded_opts(None)).get(&other).await.unwrap();
    assert_eq!(srv.reqs(), 2);
}

/// A probation entry refreshed in the background releases the fleet's
/// claim it took with an `Unvouched` marker, as a decline does: no call is
/// there to vouch for the new value, and the other nodes would otherwise
/// wait on the claim for a body that does not come until it lapses. A call
/// that vouches for the value later still shares the body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probation_entry_refreshed_in_the_background_releases_the_claim() {
    use shaken::fetch::{SharedCache, SharedEntry, SharedKind, Tier};
    let (srv, mode) = switchable(100).await;
    let clk = clock();
    let shared = Arc::new(MemoryShared::default());
    let c = cache_with(lab_opts(), &clk)
        .with_probation(true)
        .with_shared(shared.clone(), SharedKind::X5u);
    let url = srv.url("/stranger.pem");
    let v = c.get(&url).await.unwrap();
    assert_eq!(c.tier(&url), Some(Tier::Probation));
    c.decline(&url, &v).await; // the call that used it did not vouch
    let claimed = || shared.claims.lock().unwrap().contains(&url);
    assert!(!claimed());
    set(&mode, Mode::Serve(V2));
    clk.advance(secs(95)); // in the refresh window
    body(&c, &url);
    eventually("refreshed", || body(&c, &url).as_deref() == Some(V2)).await;
    assert_eq!(c.tier(&url), Some(Tier::Probation));
    eventually("the claim released", || !claimed()).await;
    let marker = shared.get(SharedKind::X5u, url.clone()).await;
    let now_ms = 1_700_000_095_000;
    assert!(
        matches!(marker, Some(SharedEntry::Unvouched { expires_at_ms }) if expires_at_ms > now_ms),
        "a new marker: {marker:?}"
    );
    assert_eq!(srv.reqs(), 2);
    // Vouched for afterwards: the body reaches the fleet after all.
    let w = c.get(&url).await.unwrap();
    assert!(c.promote(&url, &w).await);
    assert!(matches!(
        shared.get(SharedKind::X5u, url.clone()).await,
        Some(SharedEntry::Body { .. })
    ));
}
