//! The bound on outbound fetches in flight (`Limits::max_concurrent_fetches`,
//! `--max-fetches`): proved against a loopback listener that accepts
//! connections, never answers, and counts how many are open at once; the
//! permit comes back on every path; a busy failure is never cached; the x5u
//! cache, the CRL fetcher and the Rich Call Data cache of one verifier share
//! one pool.

use std::io::Read;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shaken::config::VerifierConfig;
use shaken::fetch::{CertCache, FetchError, FetchOptions, HttpFetcher};
use shaken::online::{chain_cache, CrlFetcher};
use shaken::sti::StiVs;

use crate::support::http::{Reply, Server};

use crate::fetch::{lab_opts, pem_parse, PEM};

/// Accepts connections and never answers. `open`: connections whose
/// request arrived and that the client has not closed yet; `peak`: the most
/// of them at once; `accepted`: every connection; `requests`: every request.
struct Silent {
    port: u16,
    open: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
    accepted: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

impl Silent {
    fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let (o, p, a, r) = (
            open.clone(),
            peak.clone(),
            accepted.clone(),
            requests.clone(),
        );
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                a.fetch_add(1, Ordering::SeqCst);
                let (o, p, r) = (o.clone(), p.clone(), r.clone());
                std::thread::spawn(move || {
                    // Bounded, so a client that never closes cannot keep the
                    // thread forever.
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(20)));
                    let mut buf = [0u8; 4096];
                    match conn.read(&mut buf) {
                        Ok(n) if n > 0 => {}
                        _ => return,
                    }
                    let now = o.fetch_add(1, Ordering::SeqCst) + 1;
                    p.fetch_max(now, Ordering::SeqCst);
                    r.fetch_add(1, Ordering::SeqCst);
                    // Never answer; wait for the client to give up.
                    while matches!(conn.read(&mut buf), Ok(n) if n > 0) {}
                    o.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Silent {
            port,
            open,
            peak,
            accepted,
            requests,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    /// Wait (bounded) until `n` requests are held open.
    async fn wait_open(&self, n: usize) {
        let start = Instant::now();
        while self.open() < n {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the listener saw {} open requests, not {n}",
                self.open()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Wait (bounded) until `n` requests arrived in all.
    async fn wait_requests(&self, n: usize) {
        let start = Instant::now();
        while self.requests.load(Ordering::SeqCst) < n {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the listener saw {} requests, not {n}",
                self.requests.load(Ordering::SeqCst)
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

fn opts(cap: usize, timeout_ms: u64) -> FetchOptions {
    let mut o = lab_opts();
    o.limits.max_concurrent_fetches = cap;
    o.limits.fetch_timeout = Duration::from_millis(timeout_ms);
    o.limits.connect_timeout = Duration::from_millis(timeout_ms);
    o
}

/// Three times the cap of concurrent gets, each for its own URL: the
/// listener never holds more than the cap, the rest fail busy within their
/// fetch timeout, with nothing sent. The first `cap` gets go through a
/// fetcher with a longer timeout built from the same options (so sharing
/// their pool, as the CRL fetcher shares the x5u cache's): no permit comes
/// free while the others wait, which makes every count exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_times_the_cap_never_holds_more_than_the_cap() {
    const CAP: usize = 4;
    let silent = Silent::start();
    let holding = opts(CAP, 1500);
    let holder = HttpFetcher::new(&holding).unwrap();
    let mut short = holding.clone();
    short.limits.fetch_timeout = Duration::from_millis(300);
    let flood = HttpFetcher::new(&short).unwrap();

    let mut held = tokio::task::JoinSet::new();
    for i in 0..CAP {
        let (f, url) = (holder.clone(), silent.url(&format!("/held/{i}")));
        held.spawn(async move { f.get(&url, "*/*", 1024).await });
    }
    silent.wait_open(CAP).await;
    assert_eq!(flood.stats().in_flight, CAP);

    let start = Instant::now();
    let mut waiting = tokio::task::JoinSet::new();
    for i in 0..2 * CAP {
        let (f, url) = (flood.clone(), silent.url(&format!("/flood/{i}")));
        waiting.spawn(async move { f.get(&url, "*/*", 1024).await });
    }
    let mut busy = 0;
    while let Some(r) = waiting.join_next().await {
        match r.unwrap() {
            Err(FetchError::Busy { url, max }) => {
                assert!(url.contains("/flood/"), "{url}");
                assert_eq!(max, CAP);
                busy += 1;
            }
            other => panic!("expected fetch-busy, got {other:?}"),
        }
    }
    let waited = start.elapsed();
    assert_eq!(busy, 2 * CAP);
    // They waited for a permit (their own fetch timeout), and gave up while
    // the holders still held every permit: bounded by their own deadline,
    // not by the holders'.
    assert!(waited >= Duration::from_millis(290), "{waited:?}");
    assert_eq!(holder.stats().in_flight, CAP);
    assert_eq!(silent.peak(), CAP);
    assert_eq!(
        silent.accepted.load(Ordering::SeqCst),
        CAP,
        "the flood sent nothing"
    );
    assert_eq!(flood.stats().busy, (2 * CAP) as u64);

    while let Some(r) = held.join_next().await {
        let e = r.unwrap().unwrap_err();
        assert!(matches!(e, FetchError::Timeout { .. }), "{e}");
    }
    assert_eq!(holder.stats().in_flight, 0);
    assert_eq!(silent.peak(), CAP);
}

/// The same flood through one fetcher, every deadline about the same:
/// every get ends within its timeout (nothing hangs), the first `CAP` time
/// out holding their permit, each of the others either fails busy or got a
/// permit in its last moments and timed out too, and every permit comes
/// back. (Which of the two happens is a race between timers, so the exact
/// bound on connections is proved above, with deadlines apart.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_through_one_fetcher_ends_within_the_timeout() {
    const CAP: usize = 3;
    let silent = Silent::start();
    let f = HttpFetcher::new(&opts(CAP, 400)).unwrap();
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..3 * CAP {
        let (f, url) = (f.clone(), silent.url(&format!("/c/{i}")));
        set.spawn(async move { f.get(&url, "*/*", 1024).await });
    }
    let (mut busy, mut timeout) = (0, 0);
    while let Some(r) = set.join_next().await {
        match r.unwrap() {
            Err(FetchError::Busy { .. }) => busy += 1,
            Err(FetchError::Timeout { .. }) => timeout += 1,
            other => panic!("expected fetch-busy or fetch-timeout, got {other:?}"),
        }
    }
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(busy + timeout, 3 * CAP);
    assert!(timeout >= CAP, "busy {busy}, timeout {timeout}");
    assert_eq!(f.stats().in_flight, 0);
    assert_eq!(f.stats().busy, busy as u64);
}

/// With a cap of 1, a fetch still gets the permit after every way the one
/// before it ended: success, HTTP error, redirect, body too large, timeout,
/// a body the parser refuses, and a future dropped mid-fetch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_permit_comes_back_on_every_path() {
    let srv = Server::start();
    let ok = srv.route("/ok", Reply::Ok(PEM.as_bytes().to_vec()));
    let missing = srv.route("/missing", Reply::Status(404));
    let moved = srv.route("/moved", Reply::Status(302));
    let big = srv.route("/big", Reply::Ok(vec![b'x'; 4096]));
    let junk = srv.route("/junk", Reply::Ok(b"not a certificate".to_vec()));
    let silent = Silent::start();
    let o = opts(1, 500);
    let f = HttpFetcher::new(&o).unwrap();
    // Shares the pool of `f` (a clone of the same options) and holds its
    // permit longer than `f` waits.
    let mut long = o.clone();
    long.limits.fetch_timeout = Duration::from_secs(5);
    let slow = HttpFetcher::new(&long).unwrap();
    let cache = CertCache::new(o.clone(), pem_parse()).unwrap();

    let next_gets_the_permit = |what: &'static str| {
        let (f, ok) = (f.clone(), ok.clone());
        async move {
            assert_eq!(f.stats().in_flight, 0, "after {what}");
            let got = f.get(&ok, "*/*", 1024).await;
            assert_eq!(got.unwrap().body, PEM.as_bytes(), "after {what}");
        }
    };

    next_gets_the_permit("nothing").await;
    next_gets_the_permit("a success").await;
    let e = f.get(&missing, "*/*", 1024).await.unwrap_err();
    assert!(
        matches!(e, FetchError::HttpStatus { status: 404, .. }),
        "{e}"
    );
    next_gets_the_permit("an HTTP error").await;
    let e = f.get(&moved, "*/*", 1024).await.unwrap_err();
    assert!(matches!(e, FetchError::Redirect { .. }), "{e}");
    next_gets_the_permit("a redirect").await;
    let e = f.get(&big, "*/*", 100).await.unwrap_err();
    assert!(matches!(e, FetchError::TooLarge { .. }), "{e}");
    next_gets_the_permit("a body too large").await;
    let e = f.get(&silent.url("/t"), "*/*", 1024).await.unwrap_err();
    assert!(matches!(e, FetchError::Timeout { .. }), "{e}");
    next_gets_the_permit("a timeout").await;
    let e = cache.get(&junk).await.unwrap_err();
    assert!(matches!(e, FetchError::Parse { .. }), "{e}");
    // The cache's fetcher shares the pool of `f` (the same options).
    next_gets_the_permit("a parse failure").await;

    // Dropped mid-fetch: the request reached the listener, then the future
    // is dropped (a caller cancelled, a request timed out above us).
    let dropped = {
        let (f, url) = (f.clone(), silent.url("/dropped"));
        tokio::spawn(async move { f.get(&url, "*/*", 1024).await })
    };
    silent.wait_requests(2).await;
    assert_eq!(f.stats().in_flight, 1);
    dropped.abort();
    assert!(dropped.await.unwrap_err().is_cancelled());
    next_gets_the_permit("a dropped future").await;
    // A future dropped while it waited for the permit; and one that waited
    // for the whole fetch timeout (busy).
    let holder = {
        let (f, url) = (slow.clone(), silent.url("/held"));
        tokio::spawn(async move { f.get(&url, "*/*", 1024).await })
    };
    silent.wait_requests(3).await;
    let waiting = tokio::time::timeout(Duration::from_millis(50), f.get(&ok, "*/*", 1024)).await;
    assert!(waiting.is_err(), "it waited for the permit");
    let e = f.get(&ok, "*/*", 1024).await.unwrap_err();
    assert!(matches!(e, FetchError::Busy { max: 1, .. }), "{e}");
    assert_eq!(f.stats().in_flight, 1);
    holder.abort();
    let _ = holder.await;
    next_gets_the_permit("a busy failure and a future dropped while waiting").await;
    assert_eq!(f.stats().busy, 1);
    assert_eq!(srv.hits("/ok"), 9, "nothing sent while busy");
}

/// A busy failure says nothing about the URL: it is not kept in the
/// negative cache, and once a permit is free the same URL is fetched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_failure_is_not_negatively_cached() {
    let srv = Server::start();
    let ok = srv.route("/sp.pem", Reply::Ok(PEM.as_bytes().to_vec()));
    let silent = Silent::start();
    let o = opts(1, 300);
    let cache = CertCache::new(o.clone(), pem_parse()).unwrap();
    // Another fetcher of the same pool (as the CRL fetcher is), holding the
    // one permit longer than the cache waits.
    let mut long = o;
    long.limits.fetch_timeout = Duration::from_secs(5);
    let holder = {
        let (f, url) = (HttpFetcher::new(&long).unwrap(), silent.url("/slow.pem"));
        tokio::spawn(async move { f.get(&url, "*/*", 1024).await })
    };
    silent.wait_open(1).await;
    let e = cache.get(&ok).await.unwrap_err();
    assert_eq!(e.code(), "fetch-busy");
    assert!(
        e.to_string().contains(&ok) && e.to_string().contains("nothing was sent"),
        "{e}"
    );
    assert_eq!(srv.hits("/sp.pem"), 0, "nothing sent while busy");
    holder.abort();
    let _ = holder.await;
    // Not remembered: the next call fetches the URL.
    assert_eq!(cache.get(&ok).await.unwrap().as_str(), PEM);
    assert_eq!(srv.hits("/sp.pem"), 1);
    let s = cache.stats();
    assert_eq!(s.negative_hits, 0, "{s:?}");
    assert_eq!(cache.http().stats().busy, 1);
    // The busy attempt sent nothing: it is neither a fetch nor a failure of
    // the URL (an operator reading fetch_failures would chase the wrong
    // server), only the fetcher's busy count.
    assert_eq!((s.fetches, s.fetch_failures), (1, 0), "{s:?}");
}

/// One verifier, one pool: the x5u cache, the CRL fetcher and the Rich
/// Call Data cache built from one configuration's fetch options share it,
/// and so does the service a reload builds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_pool_per_verifier() {
    let silent = Silent::start();
    let mut c = VerifierConfig::default();
    c.allow_http_x5u = true;
    c.allow_private_x5u = true;
    c.fetch_timeout_ms = 2000;
    c.max_fetches = 2;
    c.fetch_rcd = true;
    c.fetch_crl = true;
    let fetch = shaken::sti::fetch_options(&c).unwrap();
    assert_eq!(fetch.limits.max_concurrent_fetches, 2);
    let chains = chain_cache(fetch.clone()).unwrap();
    let crls = CrlFetcher::new(fetch.clone()).unwrap();
    let rcd = shaken::sti::rcd_cache(&fetch).unwrap();
    let hold = |f: &HttpFetcher, path: &str| {
        let (f, url) = (f.clone(), silent.url(path));
        tokio::spawn(async move { f.get(&url, "*/*", 1024).await })
    };
    let a = hold(chains.http(), "/x5u");
    let b = hold(crls.cache().http(), "/crl");
    silent.wait_open(2).await;
    assert_eq!(rcd.http().stats().in_flight, 2);
    // The RCD cache waits for a permit (the logo would come at once).
    let srv = Server::start();
    let logo = srv.route("/logo.png", Reply::Ok(b"PNG".to_vec()));
    let waited = tokio::time::timeout(Duration::from_millis(300), rcd.get(&logo)).await;
    assert!(waited.is_err(), "the RCD cache did not wait: {waited:?}");
    assert_eq!(srv.hits("/logo.png"), 0);
    a.abort();
    b.abort();
    let _ = (a.await, b.await);

    let vs = StiVs::from_config(&c).unwrap();
    let stats = vs.fetch_stats().unwrap();
    assert_eq!((stats.max, stats.in_flight, stats.busy), (2, 0, 0));
    let online = vs.online().unwrap();
    let held = hold(online.cache().http(), "/held");
    silent.wait_requests(3).await;
    assert_eq!(vs.fetch_stats().unwrap().in_flight, 1);
    let reloaded = vs.rebuild(&c).unwrap();
    assert_eq!(
        reloaded.fetch_stats().unwrap().in_flight,
        1,
        "a reload keeps the pool"
    );
    assert!(std::ptr::eq(
        reloaded.online().unwrap().cache(),
        online.cache()
    ));
    // A reload that fetches another way keeps neither: a kept cache would
    // fetch with the settings it was built with.
    let mut wider = c.clone();
    wider.max_fetches = 3;
    let widened = reloaded.rebuild(&wider).unwrap();
    let stats = widened.fetch_stats().unwrap();
    assert_eq!(
        (stats.max, stats.in_flight),
        (3, 0),
        "a new pool of the new cap"
    );
    assert!(!std::ptr::eq(
        widened.online().unwrap().cache(),
        online.cache()
    ));
    // The SSRF guard turned back on takes effect at once: nothing is asked
    // of the loopback server.
    let mut strict = c.clone();
    strict.allow_private_x5u = false;
    let strict = reloaded.rebuild(&strict).unwrap();
    let guarded = srv.route("/guarded.pem", Reply::Ok(b"not asked".to_vec()));
    let e = strict
        .online()
        .unwrap()
        .cache()
        .get(&guarded)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "fetch-private-address", "{e}");
    assert_eq!(srv.hits("/guarded.pem"), 0);
    held.abort();
    let _ = held.await;
    assert_eq!(reloaded.fetch_stats().unwrap().in_flight, 0);
    let after = rcd.get(&logo).await.unwrap();
    assert_eq!(after.bytes(), b"PNG");

    // A pinned chain, no CRL URL, no RCD: nothing is fetched, no pool.
    let mut pinned = VerifierConfig::default();
    pinned.cert = Some(shaken::config::Source::Path(
        crate::support::certs("sp-chain.pem").into(),
    ));
    let vs = StiVs::from_config(&pinned).unwrap();
    assert!(vs.fetch_stats().is_none());

    c.max_fetches = 0;
    let e = shaken::sti::fetch_options(&c).unwrap_err();
    assert_eq!(e.id(), "config-out-of-range");
    assert_eq!(e.setting().key(), "max-fetches");
    assert!(e.to_string().contains("at least 1"), "{e}");
    let e = StiVs::from_config(&c).unwrap_err();
    assert_eq!(e.id(), "config-out-of-range");
    let mut zero = opts(1, 300);
    zero.limits.max_concurrent_fetches = 0;
    assert_eq!(HttpFetcher::new(&zero).unwrap_err().code(), "fetch-client");
}

/// A CRL fetch that found every slot taken is not remembered either: the
/// CRL fetcher asked nothing of the URL, so the next call fetches it (under
/// the hard policy a remembered failure would fail that CRL's calls with 437
/// for the negative-cache lifetime).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_crl_fetch_is_not_remembered() {
    use shaken::pki::{LabPki, LabPkiOptions};
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let pki = LabPki::generate(&LabPkiOptions::new(now - 86_400, now + 365 * 86_400)).unwrap();
    let crl = pki.issue_crl(&[1], now - 60, now + 3600).unwrap();
    let srv = Server::start();
    let url = srv.route("/ca.crl", Reply::Ok(crl.into_bytes()));
    let silent = Silent::start();
    let o = opts(1, 300);
    let crls = CrlFetcher::new(o.clone()).unwrap();
    let mut long = o;
    long.limits.fetch_timeout = Duration::from_secs(5);
    let holder = {
        let (f, u) = (HttpFetcher::new(&long).unwrap(), silent.url("/slow"));
        tokio::spawn(async move { f.get(&u, "*/*", 1024).await })
    };
    silent.wait_open(1).await;
    let e = crls.get(&url).await.unwrap_err();
    assert_eq!(e.code(), "fetch-busy", "{e}");
    assert_eq!(srv.hits("/ca.crl"), 0, "nothing sent while busy");
    assert!(
        crls.get_cached(&url).is_none(),
        "a busy failure is not cached"
    );
    holder.abort();
    let _ = holder.await;
    let c = crls.get(&url).await.unwrap();
    assert_eq!(c.revoked_serials(), 1);
    assert_eq!(srv.hits("/ca.crl"), 1);
}
