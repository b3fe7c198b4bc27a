//! A flood of new x5u URLs against K known signers (issue 21: a stranger
//! cannot flush the certificate cache).
//!
//! ```text
//! cargo run --release --example cache_flood -- [--tiers on|off] [K] [FLOOD] [CACHE]
//! ```
//!
//! One process: a loopback x5u server (axum, plain HTTP on 127.0.0.1)
//! serves the lab chain `certs/sp-chain.pem` at K "known" URLs and, for the
//! stranger, a 404 or a parseable chain to another root
//! (`tests/data/cert/openssl/good-chain.pem`) at every other URL. One
//! `OnlineVerifier` over an x5u cache of CACHE entries (default 1,000; the
//! tiers on as `shaken::online::chain_cache` builds it, or off: every entry
//! protected, the oldest evicted, which is what the cache did before) first
//! verifies one call of each known signer, then, while one thread sends
//! FLOOD stranger calls (default 10 x CACHE), each naming a new x5u URL and
//! passing every check before the fetch, the main thread verifies the known
//! signers' calls round robin, as fast as it can. It prints the known calls'
//! latency (median, p99, max), how many of them had to fetch again
//! (`refetches`: requests the known URLs got after warm-up), the flood's
//! rate and the cache's counters, and `RESULT name value` lines.
//! Replay detection is off; the clock is pinned. Lab use only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shaken::cert::TrustAnchors;
use shaken::crypto::KeySigner;
use shaken::fetch::FetchOptions;
use shaken::identity::IdentityHeader;
use shaken::online::{chain_cache, OnlineVerifier};
use shaken::passport::{sign, Attestation, Claims, Header};
use shaken::verify::{CallContext, Verifier};
use shaken::Limits;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const NOW: i64 = 1_767_225_600;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut tiers = true;
    if let Some(i) = args.iter().position(|a| a == "--tiers") {
        tiers = match args.get(i + 1).map(String::as_str) {
            Some("on") => true,
            Some("off") => false,
            _ => usage(),
        };
        args.drain(i..i + 2);
    }
    let num = |i: usize, default: usize| match args.get(i).map(|a| a.parse::<usize>()) {
        None => default,
        Some(Ok(n)) if n > 0 => n,
        _ => usage(),
    };
    let known = num(0, 100);
    let cache_size = num(2, 1_000);
    let flood = num(1, 10 * cache_size);

    let chain = std::fs::read(format!("{ROOT}/certs/sp-chain.pem")).unwrap();
    let untrusted =
        std::fs::read(format!("{ROOT}/tests/data/cert/openssl/good-chain.pem")).unwrap();
    let known_hits = Arc::new(AtomicU64::new(0));
    let port = start_server(chain, untrusted, known_hits.clone());
    let base = format!("http://127.0.0.1:{port}");

    let sp = KeySigner::from_pem(&read(&format!("{ROOT}/certs/sp.key.pem"))).unwrap();
    let stranger = KeySigner::from_pem(&read(&format!(
        "{ROOT}/tests/data/cert/openssl/good.key.pem"
    )))
    .unwrap();
    let known_calls: Vec<IdentityHeader> = (0..known)
        .map(|k| identity(&format!("{base}/known/{k}.pem"), &sp))
        .collect();
    eprintln!("signing {flood} stranger calls ...");
    let flood_calls: Vec<IdentityHeader> = (0..flood)
        .map(|n| identity(&format!("{base}/s/{n}.pem"), &stranger))
        .collect();

    let mut anchors = TrustAnchors::new();
    anchors
        .add_pem(read(&format!("{ROOT}/certs/root.pem")).as_bytes())
        .unwrap();
    let verifier = Arc::new(Verifier::new(anchors));
    let mut limits = Limits::default();
    limits.cache_max_entries = cache_size;
    let cache = chain_cache(FetchOptions {
        allow_http: true,
        allow_private: true,
        limits,
        ..FetchOptions::default()
    })
    .unwrap()
    .with_probation(tiers);
    let online = OnlineVerifier::new(verifier, Arc::new(cache));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let ctx = CallContext::at(NOW);
    // One call each, blocking: `None` from the cache means a fetch.
    let call = |id: &IdentityHeader| -> (bool, bool) {
        match online.verify_cached(id, &ctx) {
            Some(r) => (r.is_ok(), false),
            None => (rt.block_on(online.verify(id, &ctx)).is_ok(), true),
        }
    };
    for id in &known_calls {
        assert!(call(id).0, "a known signer's call must verify");
    }
    let warm_requests = known_hits.load(Ordering::SeqCst);
    assert_eq!(warm_requests, known as u64);

    let done = AtomicBool::new(false);
    let (mut lat, refetched_calls, flood_secs) = std::thread::scope(|s| {
        let flooder = s.spawn(|| {
            let t = Instant::now();
            for id in &flood_calls {
                assert!(!call(id).0, "a stranger's call must fail");
            }
            done.store(true, Ordering::SeqCst);
            t.elapsed().as_secs_f64()
        });
        let mut lat = Vec::new();
        let mut refetched = 0u64;
        let mut i = 0;
        while !done.load(Ordering::SeqCst) {
            let t = Instant::now();
            let (ok, fetched) = call(&known_calls[i % known]);
            lat.push(t.elapsed().as_secs_f64() * 1e6);
            assert!(ok);
            refetched += u64::from(fetched);
            i += 1;
        }
        (lat, refetched, flooder.join().unwrap())
    });
    let refetches = known_hits.load(Ordering::SeqCst) - warm_requests;
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p) as usize];
    let (p50, p99, max) = (pct(0.5), pct(0.99), lat[lat.len() - 1]);
    let st = online.cache().stats();
    println!(
        "cache_flood: tiers {}, cache {cache_size} entries, {known} known signers, {flood} stranger calls (new x5u URLs: 404 / untrusted chain)",
        if tiers { "on" } else { "off" }
    );
    println!(
        "flood        {:8.0} calls/s ({flood_secs:.2} s)",
        flood as f64 / flood_secs
    );
    println!(
        "known calls  {:8} during the flood, {refetched_calls} answered by a fetch, {refetches} requests to known URLs",
        lat.len()
    );
    println!("known call   median {p50:8.1} us   p99 {p99:8.1} us   max {max:9.1} us");
    println!(
        "cache        fetches {} hits {} promotions {} evictions probation {} protected {}, entries probation {} protected {}",
        st.fetches,
        st.hits,
        st.promotions,
        st.probation_evictions,
        st.protected_evictions,
        st.probation_entries,
        st.protected_entries
    );
    println!("RESULT cache_flood_known_p50_us {p50:.1}");
    println!("RESULT cache_flood_known_p99_us {p99:.1}");
    println!("RESULT cache_flood_known_refetches {refetches}");
    println!(
        "RESULT cache_flood_rate_per_s {:.0}",
        flood as f64 / flood_secs
    );
}

fn usage() -> ! {
    eprintln!("usage: cache_flood [--tiers on|off] [K] [FLOOD] [CACHE]");
    std::process::exit(2);
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn identity(x5u: &str, signer: &KeySigner) -> IdentityHeader {
    let claims = Claims::shaken(
        Attestation::A,
        "12155550121",
        vec!["12125550143".into()],
        NOW,
        "123e4567-e89b-12d3-a456-426655440000",
    );
    let token = sign(&Header::shaken(x5u), &claims, signer).unwrap();
    IdentityHeader::shaken(token, x5u)
}

/// The x5u server on its own thread and runtime (as another process would
/// be): the lab chain under `/known/`, else a 404 (even numbers) or the
/// untrusted chain; returns its port.
fn start_server(chain: Vec<u8>, untrusted: Vec<u8>, known_hits: Arc<AtomicU64>) -> u16 {
    use axum::http::{header, StatusCode, Uri};
    use axum::response::IntoResponse;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let (chain, untrusted) = (Arc::new(chain), Arc::new(untrusted));
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let app = axum::Router::new().fallback(move |uri: Uri| {
                let (chain, untrusted, hits) =
                    (chain.clone(), untrusted.clone(), known_hits.clone());
                async move {
                    let path = uri.path();
                    let body = if path.starts_with("/known/") {
                        hits.fetch_add(1, Ordering::SeqCst);
                        chain
                    } else {
                        let n: u64 = path
                            .trim_start_matches("/s/")
                            .trim_end_matches(".pem")
                            .parse()
                            .unwrap_or(0);
                        if n % 2 == 0 {
                            return StatusCode::NOT_FOUND.into_response();
                        }
                        untrusted
                    };
                    (
                        [
                            (header::CONTENT_TYPE, "application/pem-certificate-chain"),
                            (header::CACHE_CONTROL, "max-age=86400"),
                        ],
                        (*body).clone(),
                    )
                        .into_response()
                }
            });
            axum::serve(listener, app).await.unwrap();
        });
    });
    std::thread::sleep(Duration::from_millis(50));
    port
}
