//! Cold call against warm call (issue 21): what a call costs when its
//! signer's certificate chain is not cached yet and must be fetched from the
//! `x5u` URL, next to a call whose chain is cached and to the fetch alone.
//!
//! ```text
//! cargo run --release --example cold_call -- [ROUNDS]
//! ```
//!
//! One process, one run: a loopback x5u server (axum, plain HTTP on
//! 127.0.0.1, `Connection: close` so that every fetch opens a new
//! connection, as the first call of a new signer does) serves
//! `certs/sp-chain.pem`; one [`StiVs`] built from a [`VerifierConfig`] (the
//! library path `verify --batch`, `shaken serve` and the C ABI share)
//! verifies one PASSporT signed with `certs/sp.key.pem`. Each round times,
//! in turn:
//!
//! - **fetch**: a GET of the same URL through the same [`HttpFetcher`]
//!   (same client, same rules, a new connection), on a runtime like the
//!   service's own fetch runtime;
//! - **cold**: the certificate cache cleared, then one blocking verification
//!   (which misses, fetches, parses and validates the chain, caches it and
//!   verifies the signature);
//! - **warm**: the same verification with the chain cached (the median of 5).
//!
//! It prints the medians and `RESULT name value` lines: the target
//! `cold <= 1.5 x (warm + fetch)` as `cold_vs_warm_plus_fetch`, and
//! `(cold - fetch) / warm` as `cold_minus_fetch_vs_warm` (what a cold call
//! does besides the fetch, in warm calls). Replay detection is off (the same
//! PASSporT is verified again and again); the clock is pinned to its `iat`.
//! Lab use only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shaken::config::{ReplayMode, Source};
use shaken::crypto::KeySigner;
use shaken::fetch::X5U_ACCEPT;
use shaken::identity::IdentityHeader;
use shaken::passport::{sign, Attestation, Claims, Header};
use shaken::{CallContext, StiVs, VerifierConfig};

const CERTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/certs");

fn main() {
    let rounds: usize = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 1000,
        Some(Ok(n)) if n > 0 => n,
        _ => {
            eprintln!("usage: cold_call [ROUNDS]");
            std::process::exit(2);
        }
    };
    let body = std::fs::read(format!("{CERTS}/sp-chain.pem")).unwrap();
    let served = Arc::new(AtomicU64::new(0));
    let port = start_server(body, served.clone());
    let x5u = format!("http://127.0.0.1:{port}/sp.pem");

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let key = std::fs::read_to_string(format!("{CERTS}/sp.key.pem")).unwrap();
    let signer = KeySigner::from_pem(&key).unwrap();
    let claims = Claims::shaken(
        Attestation::A,
        "12155550121",
        vec!["12125550143".into()],
        now,
        "123e4567-e89b-12d3-a456-426655440000",
    );
    let token = sign(&Header::shaken(&x5u), &claims, &signer).unwrap();
    let identity = IdentityHeader::shaken(token, &x5u).to_string();

    let mut config = VerifierConfig::default();
    config.trust_anchors = vec![Source::Path(format!("{CERTS}/root.pem").into())];
    config.replay = ReplayMode::Off;
    config.allow_http_x5u = true;
    config.allow_private_x5u = true;
    let vs = StiVs::from_config(&config).unwrap();
    let ctx = CallContext::at(now);
    let cache = vs.online().expect("x5u is fetched").cache();
    let http = cache.http().clone();
    let max_body = http.options().limits.max_fetch_body;
    // Like the service's fetch runtime: one worker, the caller blocks on it.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();

    let verify = || {
        let r = vs.verify_result_blocking(&identity, &ctx);
        assert!(r.is_ok(), "the lab PASSporT must verify: {r:?}");
    };
    let fetch = || {
        let got = rt.block_on(http.get(&x5u, X5U_ACCEPT, max_body)).unwrap();
        assert!(!got.body.is_empty());
    };
    // Warm up: connections, allocator, the first fetch of each kind.
    for _ in 0..20 {
        fetch();
        cache.clear();
        verify();
        verify();
    }

    let (mut warm, mut fetched, mut cold) = (Vec::new(), Vec::new(), Vec::new());
    let before = served.load(Ordering::SeqCst);
    for _ in 0..rounds {
        fetched.push(time(fetch));
        cache.clear();
        cold.push(time(verify));
        for _ in 0..5 {
            warm.push(time(verify));
        }
    }
    let requests = served.load(Ordering::SeqCst) - before;
    assert_eq!(
        requests,
        2 * rounds as u64,
        "one request per fetch and per cold call"
    );

    let (w, f, c) = (median(&mut warm), median(&mut fetched), median(&mut cold));
    let ratio = c / (w + f);
    let besides = (c - f) / w;
    println!(
        "cold_call: {rounds} rounds, x5u {x5u} (loopback HTTP, a new connection per fetch), \
         {requests} requests served"
    );
    println!("warm   median {w:9.1} us   (chain cached)");
    println!("fetch  median {f:9.1} us   (the GET alone, same fetcher)");
    println!("cold   median {c:9.1} us   (cache cleared: fetch + parse + validate + verify)");
    println!(
        "target cold <= 1.5 x (warm + fetch): {ratio:.2} ({})",
        if ratio <= 1.5 { "met" } else { "NOT met" }
    );
    println!("RESULT cold_call_warm_us {w:.1}");
    println!("RESULT cold_call_fetch_us {f:.1}");
    println!("RESULT cold_call_cold_us {c:.1}");
    println!("RESULT cold_vs_warm_plus_fetch {ratio:.2}");
    println!("RESULT cold_minus_fetch_vs_warm {besides:.2}");
}

/// Microseconds `f` took.
fn time(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64() * 1e6
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The x5u server on its own thread and runtime (as another process would
/// be); returns its port.
fn start_server(body: Vec<u8>, served: Arc<AtomicU64>) -> u16 {
    use axum::http::header;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let body = Arc::new(body);
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let app = axum::Router::new().fallback(move || {
                let (body, served) = (body.clone(), served.clone());
                async move {
                    served.fetch_add(1, Ordering::SeqCst);
                    (
                        [
                            (header::CONTENT_TYPE, "application/pem-certificate-chain"),
                            (header::CACHE_CONTROL, "max-age=86400"),
                            (header::CONNECTION, "close"),
                        ],
                        (*body).clone(),
                    )
                }
            });
            axum::serve(listener, app).await.unwrap();
        });
    });
    // The listener is bound already; a moment for the runtime to start.
    std::thread::sleep(Duration::from_millis(50));
    port
}
