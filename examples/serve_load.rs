//! In-process load driver for the ATIS-1000082 verification endpoint.
//!
//! Starts `shaken::server` on 127.0.0.1:0 with a lab PKI and a fixed chain
//! (the "cached certificate" case), then runs N concurrent HTTP/1.1
//! keep-alive clients posting verification requests for a bounded time and
//! count. Prints requests/s, p50/p99 latency, and, as the baseline, the
//! single-core rate of the library verifier on the same chain (what
//! `shaken verify --batch` does per worker).
//!
//! ```text
//! cargo run --release --example serve_load -- [--seconds 5] [--concurrency 32] [--requests 200000]
//!     [--server-threads 1] [--client-threads 1]
//! ```
//!
//! Replay detection is off (a pool of pre-signed PASSporTs is reused).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

fn main() {
    load::main();
}

mod load {

    use shaken::cert::{parse_chain, TrustAnchors};
    use shaken::config::{ReplayMode, Source};
    use shaken::crypto::KeySigner;
    use shaken::identity::IdentityHeader;
    use shaken::passport::{self, Attestation, Claims, Header};
    use shaken::pki::{LabPki, LabPkiOptions};
    use shaken::server::{Server, ServerClock, ServerConfig};
    use shaken::tn::{TelephoneNumber, TnPolicy};
    use shaken::verify::{self, CallContext, PartyId, Verifier};
    use shaken::Limits;
    use shaken::{StiVs, VerifierConfig};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    const NOW: i64 = 1_700_000_000;
    const X5U: &str = "https://cr.example.net/sp-1234.pem";
    const POOL: usize = 512;

    fn arg(name: &str, default: u64) -> u64 {
        let args: Vec<String> = std::env::args().collect();
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    fn percentile(sorted: &[u32], p: f64) -> f64 {
        if sorted.is_empty() {
            return 0.0;
        }
        let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        f64::from(sorted[i.min(sorted.len() - 1)]) / 1000.0
    }

    pub fn main() {
        let seconds = arg("--seconds", 5).clamp(1, 60);
        let concurrency = arg("--concurrency", 32).clamp(1, 1024) as usize;
        let max_requests = arg("--requests", 200_000).max(1);

        let pki = LabPki::generate(&LabPkiOptions::new(NOW - 86_400, NOW + 86_400)).unwrap();
        let limits = Limits::default();
        let chain = parse_chain(pki.leaf_chain_pem().as_bytes(), &limits).unwrap();
        let mut anchors = TrustAnchors::new();
        anchors.add_pem(pki.root.cert_pem.as_bytes()).unwrap();
        let verifier = Arc::new(Verifier::new(anchors));
        let (root_pem, chain_pem) = (pki.root.cert_pem.clone(), pki.leaf_chain_pem());
        let signer = KeySigner::from_pem(&pki.leaf.key_pem).unwrap();
        let identities: Vec<String> = (0..POOL)
            .map(|i| {
                let claims = Claims::shaken(
                    Attestation::A,
                    "12155550121",
                    vec!["12155550131".into()],
                    NOW,
                    format!("de305d54-75b4-431b-adb2-{i:012x}"),
                );
                let token = passport::sign(&Header::shaken(X5U), &claims, &signer).unwrap();
                IdentityHeader::shaken(token, X5U).to_string()
            })
            .collect();
        let bodies: Arc<Vec<String>> = Arc::new(
            identities
                .iter()
                .map(|id| {
                    serde_json::json!({"verificationRequest": {
                        "from": {"tn": "12155550121"},
                        "to": {"tn": ["12155550131"]},
                        "time": NOW,
                        "identity": id,
                    }})
                    .to_string()
                })
                .collect(),
        );

        // Baseline: the library verifier on one core, same chain.
        let policy = TnPolicy::default();
        let ctx = CallContext {
            now: NOW,
            orig: vec![PartyId::Tn(
                TelephoneNumber::parse("12155550121", &policy).unwrap(),
            )],
            dest: vec![PartyId::Tn(
                TelephoneNumber::parse("12155550131", &policy).unwrap(),
            )],
            ..CallContext::default()
        };
        let t = Instant::now();
        let mut n = 0u64;
        while t.elapsed() < Duration::from_secs(2) {
            let id =
                verify::parse_identity_or_token(&identities[n as usize % POOL], &limits).unwrap();
            let r = verifier.verify_with_chain(&id, &ctx, &chain);
            assert!(r.is_ok());
            n += 1;
        }
        let core_rate = n as f64 / t.elapsed().as_secs_f64();

        // The server gets its own runtime and worker threads, the client another,
        // so the server's share of the machine is known.
        let server_threads = arg("--server-threads", 1).clamp(1, 64) as usize;
        let client_threads = arg("--client-threads", 1).clamp(1, 64) as usize;
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server_thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(server_threads)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let mut vc = VerifierConfig::default();
                vc.trust_anchors = vec![Source::Inline(root_pem.into_bytes())];
                vc.cert = Some(Source::Inline(chain_pem.into_bytes()));
                vc.replay = ReplayMode::Off;
                let vs = Arc::new(StiVs::from_config(&vc).unwrap());
                let config =
                    ServerConfig::new("127.0.0.1:0", vs).with_clock(ServerClock::Fixed(NOW));
                let server = Server::bind(config).await.unwrap();
                addr_tx.send(server.local_addr()).unwrap();
                server
                    .run(async move {
                        let _ = stop_rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let addr = addr_rx.recv().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(client_threads)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let url = format!("http://{addr}/stir/v1/verification");
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(concurrency)
                .build()
                .unwrap();

            // One check that the server really passes these.
            let r = client
                .post(&url)
                .header("content-type", "application/json")
                .body(bodies[0].clone())
                .send()
                .await
                .unwrap();
            let text = r.text().await.unwrap();
            assert!(text.contains("TN-Validation-Passed"), "{text}");

            let issued = Arc::new(AtomicU64::new(0));
            let deadline = Instant::now() + Duration::from_secs(seconds);
            let start = Instant::now();
            let mut tasks = Vec::new();
            for w in 0..concurrency {
                let client = client.clone();
                let url = url.clone();
                let bodies = bodies.clone();
                let issued = issued.clone();
                tasks.push(tokio::spawn(async move {
                    let mut lat: Vec<u32> = Vec::new();
                    let mut failures = 0u64;
                    let mut i = w;
                    while Instant::now() < deadline
                        && issued.fetch_add(1, Ordering::Relaxed) < max_requests
                    {
                        let body = bodies[i % bodies.len()].clone();
                        i += concurrency;
                        let t = Instant::now();
                        let ok = match client
                            .post(&url)
                            .header("content-type", "application/json")
                            .body(body)
                            .send()
                            .await
                        {
                            Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                            Err(_) => false,
                        };
                        lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                        if !ok {
                            failures += 1;
                        }
                    }
                    (lat, failures)
                }));
            }
            let mut all = Vec::new();
            let mut failures = 0;
            for t in tasks {
                let (lat, f) = t.await.unwrap();
                all.extend(lat);
                failures += f;
            }
            let elapsed = start.elapsed().as_secs_f64();
            all.sort_unstable();
            let rate = all.len() as f64 / elapsed;
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            println!("shaken serve load (in-process client, loopback, fixed chain)");
            println!("  cores                 {cores} (server threads {server_threads}, client threads {client_threads})");
            println!("  concurrency           {concurrency}");
            println!("  requests              {} in {elapsed:.2} s ({failures} failed)", all.len());
            println!("  verifications/s       {rate:.0}");
            println!("  latency p50           {:.3} ms", percentile(&all, 0.50));
            println!("  latency p99           {:.3} ms", percentile(&all, 0.99));
            println!("  library, 1 core       {core_rate:.0} verifications/s");
            let per_core = rate / server_threads.min(cores) as f64;
            println!(
                "  server per core       {per_core:.0} /s = {:.0} % of the library per-core rate",
                100.0 * per_core / core_rate
            );
        });
        let _ = stop_tx.send(());
        let _ = server_thread.join();
    }
}
