//! Replay detection through Redis against the in-memory store, side by side
//! in one run (issue 18's speed targets): the cached-chain verification of
//! `shaken verify --batch` and `shaken serve`, every PASSporT new (so every
//! call writes a replay key), on `threads` threads.
//!
//! Starts its own `redis-server` on a free loopback port (`--save ''
//! --appendonly no`), alternates rounds of the two variants so both see the
//! same machine, and prints per variant: the median and p99 latency of one
//! verification, and verifications per CPU second of this process (its
//! Redis runtime thread included; the Redis server's own CPU is printed
//! apart). Never a test: numbers go to BENCHMARKS.md.
//!
//! ```text
//! cargo run --release --example fleet_bench -- [--rounds 6] [--per-round 4000] [--threads 1]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use shaken::cert::{parse_chain, TrustAnchors};
use shaken::crypto::KeySigner;
use shaken::fleet::{Redis, RedisOptions, RedisReplayGuard};
use shaken::identity::IdentityHeader;
use shaken::passport::{self, Attestation, Claims, Header};
use shaken::pki::{LabPki, LabPkiOptions};
use shaken::tn::{TelephoneNumber, TnPolicy};
use shaken::verify::{CallContext, PartyId, Verifier};
use shaken::Limits;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const NOW: i64 = 1_700_000_000;
const X5U: &str = "https://cr.example.net/sp-1234.pem";

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// utime + stime of a process, seconds (from /proc/PID/stat, 100 Hz ticks).
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 of stat(5); `after` starts at field 3.
    (ticks(11) + ticks(12)) / 100.0
}

struct Variant {
    name: &'static str,
    verifier: Arc<Verifier>,
    latencies: Vec<Duration>,
    cpu: f64,
    redis_cpu: f64,
    count: u64,
}

fn main() {
    let rounds = arg("--rounds", 6).clamp(1, 100);
    let per_round = arg("--per-round", 4000).clamp(10, 1_000_000) as usize;
    let threads = arg("--threads", 1).clamp(1, 64) as usize;

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = match Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("redis-server is needed (apt-get install redis-server): {e}");
            std::process::exit(2);
        }
    };
    let server_pid = server.id().to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }

    let pki = LabPki::generate(&LabPkiOptions::new(NOW - 86_400, NOW + 86_400)).unwrap();
    let limits = Limits::default();
    let chain = Arc::new(parse_chain(pki.leaf_chain_pem().as_bytes(), &limits).unwrap());
    let mut anchors = TrustAnchors::new();
    anchors.add_pem(pki.root.cert_pem.as_bytes()).unwrap();
    let memory = Verifier::new(anchors.clone());
    let memory = Arc::new(
        memory
            .clone()
            .with_replay(Arc::new(memory.default_replay_store())),
    );
    let redis = Redis::connect(RedisOptions::new(format!("redis://127.0.0.1:{port}"))).unwrap();
    let with_redis = Arc::new(
        Verifier::new(anchors)
            .with_replay_guard(Arc::new(RedisReplayGuard::new(redis.clone(), 120))),
    );

    // Every verification sees a new PASSporT: signed up front, not timed.
    let total = rounds as usize * per_round * 2;
    eprintln!("signing {total} PASSporTs...");
    let signer = KeySigner::from_pem(&pki.leaf.key_pem).unwrap();
    let header = passport::EncodedHeader::new(&Header::shaken(X5U)).unwrap();
    // The last 50 warm both variants up and are never timed.
    let identities: Vec<shaken::identity::IdentityHeader> = (0..total + 50)
        .map(|i| {
            let claims = Claims::shaken(
                Attestation::A,
                "12155550121",
                vec!["12155550131".into()],
                NOW,
                format!("de305d54-75b4-431b-adb2-{i:012x}"),
            );
            let token = passport::sign_encoded(&header, &claims, &signer).unwrap();
            IdentityHeader::shaken(token, X5U)
        })
        .collect();
    let policy = TnPolicy::default();
    let ctx = CallContext {
        now: NOW,
        orig: vec![PartyId::Tn(
            TelephoneNumber::parse("12155550121", &policy).unwrap(),
        )],
        dest: vec![PartyId::Tn(
            TelephoneNumber::parse("12155550131", &policy).unwrap(),
        )],
        call_id: None,
        ..CallContext::default()
    };

    let mut variants = [
        Variant {
            name: "memory replay store",
            verifier: memory,
            latencies: Vec::new(),
            cpu: 0.0,
            redis_cpu: 0.0,
            count: 0,
        },
        Variant {
            name: "Redis replay (--redis)",
            verifier: with_redis,
            latencies: Vec::new(),
            cpu: 0.0,
            redis_cpu: 0.0,
            count: 0,
        },
    ];
    // Warm up both (the chain memo, the connection).
    for v in &variants {
        for id in identities.iter().rev().take(50) {
            let _ = v.verifier.verify_with_chain(id, &ctx, &chain);
        }
    }
    let mut next = 0usize;
    for _ in 0..rounds {
        for v in variants.iter_mut() {
            let batch = &identities[next..next + per_round];
            next += per_round;
            let cpu0 = cpu_seconds("self");
            let rcpu0 = cpu_seconds(&server_pid);
            let chunk = per_round.div_ceil(threads);
            let lat: Vec<Vec<Duration>> = std::thread::scope(|s| {
                let handles: Vec<_> = batch
                    .chunks(chunk)
                    .map(|part| {
                        let verifier = &v.verifier;
                        let (ctx, chain) = (&ctx, &chain);
                        s.spawn(move || {
                            let mut out = Vec::with_capacity(part.len());
                            for id in part {
                                let t = Instant::now();
                                let r = verifier.verify_with_chain(id, ctx, chain);
                                out.push(t.elapsed());
                                assert!(r.is_ok(), "{:?}", r.err().map(|f| f.error.to_string()));
                            }
                            out
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            v.cpu += cpu_seconds("self") - cpu0;
            v.redis_cpu += cpu_seconds(&server_pid) - rcpu0;
            v.count += per_round as u64;
            v.latencies.extend(lat.into_iter().flatten());
        }
    }
    let _ = server.kill();
    let _ = server.wait();

    println!(
        "{} verifications per variant, {rounds} alternating rounds, {threads} thread(s), cached chain, every PASSporT new",
        rounds as usize * per_round
    );
    let mut medians = Vec::new();
    let mut rates = Vec::new();
    for v in variants.iter_mut() {
        v.latencies.sort();
        let pct = |p: f64| {
            v.latencies
                .get(((v.latencies.len() as f64 * p) as usize).min(v.latencies.len() - 1))
                .copied()
                .unwrap_or_default()
        };
        let (p50, p99) = (pct(0.5), pct(0.99));
        let rate = v.count as f64 / v.cpu.max(0.01);
        println!(
            "{:<24} p50 {:>7.1} us  p99 {:>7.1} us  {:>8.0} verifications per CPU second (process {:.2} s CPU; redis-server {:.2} s)",
            v.name,
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6,
            rate,
            v.cpu,
            v.redis_cpu
        );
        medians.push(p50);
        rates.push(rate);
    }
    let added = medians[1].as_secs_f64() * 1e6 - medians[0].as_secs_f64() * 1e6;
    println!(
        "Redis adds {added:.1} us at the median (target <= 150 us); keeps {:.0} % of the throughput per CPU second (target >= 90 %)",
        100.0 * rates[1] / rates[0]
    );
    let s = redis.stats();
    println!(
        "Redis calls {} errors {} timeouts {}",
        s.commands, s.errors, s.timeouts
    );
}
