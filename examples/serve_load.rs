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
//!     [--server-threads 1] [--client-threads 1] [--rounds 1]
//!     [--modes http,http+key,https,https+key,https+mtls,http+replay,http+redis]
//! ```
//!
//! `http+replay` turns replay detection on (the in-memory store) and
//! `http+redis` puts it in Redis (a `redis-server` this example starts on a
//! free loopback port): the pool's PASSporTs come back for the same call
//! (same from, to and time), so every request after the first is the
//! idempotent-retry path, the most Redis work (SET NX, then GET).
//!
//! Each mode runs against its own server, one after the other in one run:
//! plain HTTP, HTTP with an API key, HTTPS, HTTPS with an API key, and
//! mutual TLS. The table gives verifications per second of the server's
//! own CPU time (its runtime threads' utime + stime), so the cost of
//! authentication and TLS is measured per CPU second whatever the client
//! (which shares the machine) uses.
//!
//! Replay detection is off (a pool of pre-signed PASSporTs is reused).
//!
//! ## Against a running server: `--url` (closed or open loop)
//!
//! ```text
//! serve_load --url http://127.0.0.1:PORT/stir/v1/verification --bodies FILE
//!     [--connections 32] [--seconds 3] [--rate R] [--warmup 64] [--server-pid PID] [--spin]
//! ```
//!
//! Drives a `shaken serve` started elsewhere (`bench/serve-compare.sh` pins
//! it to one core and this driver to the other). FILE holds one
//! verification request a line, as `shaken verify --batch` reads them; each
//! is sent once, wrapped as `{"verificationRequest":LINE}`, so with replay
//! detection on every request is a new PASSporT. Every answer must be 200
//! with `TN-Validation-Passed`; anything else is counted as failed.
//!
//! - Without `--rate` (closed loop): every connection sends its next
//!   request as soon as the previous answer is in: the server's maximum rate.
//! - With `--rate R` (open loop): request `i` is due at `start + i / R`
//!   whatever the answers before it did, and its latency is counted from
//!   that due time, not from when a connection was free to send it, so
//!   queueing shows in the percentiles instead of slowing the sender down
//!   (no coordinated omission). The driver spins on the clock for the last
//!   millisecond before each due time (tokio's timer has 1 ms granularity),
//!   so it keeps its own core busy.
//!
//! `--spin` (always on with `--rate`) keeps the driver's thread polling its
//! sockets instead of sleeping in epoll between answers. A sleeping driver
//! sends late (waking a halted vCPU took up to a millisecond here), and on
//! loopback the sender's kernel runs the receiver's TCP input and wakes it,
//! so every answer would pay, on the server's CPU time, for waking the
//! driver's core (an inter-processor interrupt, dear in a VM): a cost a
//! client on another host never puts on the server.
//!
//! `--server-pid` reads that process's utime + stime from `/proc/PID/stat`
//! after the warm-up and at the end. The output is `key value` lines.
//! `others_cpu_ms` is the CPU time every other thread on the machine ran in
//! the measured window (kernel threads and other processes, from
//! `/proc/*/task/*/schedstat`), and `others_top` the biggest of them by
//! name: on a two-core machine whose cores the server and the driver keep
//! busy, a kernel thread's burst of a few milliseconds takes one of them
//! and shows in the latency tail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

fn main() {
    if std::env::args().any(|a| a == "--url") {
        drive::main();
    } else {
        load::main();
    }
}

/// `--url`: closed- or open-loop driver of a server started elsewhere.
mod drive {
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::time::{Duration, Instant};

    fn value(name: &str) -> Option<String> {
        let args: Vec<String> = std::env::args().collect();
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    }

    fn number(name: &str, default: f64) -> f64 {
        match value(name) {
            None => default,
            Some(v) => match v.parse::<f64>() {
                Ok(x) if x.is_finite() && x >= 0.0 => x,
                _ => fail(&format!("{name} {v}: not a non-negative number")),
            },
        }
    }

    fn fail(msg: &str) -> ! {
        eprintln!("serve_load: {msg}");
        std::process::exit(2);
    }

    fn clock_ticks_per_second() -> f64 {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .unwrap_or(100.0)
    }

    /// utime + stime of a process, seconds (`/proc/PID/stat`).
    fn process_cpu(pid: &str, hz: f64) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_else(|e| fail(&format!("/proc/{pid}/stat: {e}")));
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        (ticks(11) + ticks(12)) as f64 / hz
    }

    /// CPU time of every thread on the machine outside this process and
    /// the server (`/proc/*/task/*/schedstat`, nanoseconds), by thread id,
    /// with its name: the kernel's own threads and any other process. On a
    /// small machine their bursts take a core from the server or from this
    /// driver for milliseconds, and show as latency that is not the server's.
    fn other_threads(server_pid: Option<&str>) -> std::collections::HashMap<u64, (u64, String)> {
        let own = std::process::id().to_string();
        let mut seen = std::collections::HashMap::new();
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return seen;
        };
        for p in procs.flatten() {
            let name = p.file_name();
            let Some(pid) = name
                .to_str()
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            if pid == own || Some(pid) == server_pid {
                continue;
            }
            let Ok(tasks) = std::fs::read_dir(p.path().join("task")) else {
                continue;
            };
            let process = std::fs::read_to_string(p.path().join("comm")).unwrap_or_default();
            let process = process.trim();
            for t in tasks.flatten() {
                let Some(tid) = t.file_name().to_str().and_then(|n| n.parse::<u64>().ok()) else {
                    continue;
                };
                let run = std::fs::read_to_string(t.path().join("schedstat"))
                    .ok()
                    .and_then(|s| {
                        s.split_whitespace()
                            .next()
                            .and_then(|v| v.parse::<u64>().ok())
                    });
                let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
                let comm = comm.trim();
                // A thread by its process's name too (`process_api/tokio-rt-worker`).
                let name = if comm == process || process.is_empty() {
                    comm.to_owned()
                } else {
                    format!("{process}/{comm}")
                };
                if let Some(run) = run {
                    seen.insert(tid, (run, name.replace(' ', "_")));
                }
            }
        }
        seen
    }

    /// What the other threads ran between two [`other_threads`] snapshots:
    /// the total and the biggest ones, in milliseconds. Threads that started
    /// in between count from zero; those that ended are left out.
    fn other_cpu(
        before: &std::collections::HashMap<u64, (u64, String)>,
        after: &std::collections::HashMap<u64, (u64, String)>,
    ) -> (f64, Vec<(String, f64)>) {
        let mut by_name: std::collections::HashMap<String, f64> = std::collections::HashMap::new();
        let mut total = 0.0;
        for (tid, (run, comm)) in after {
            let was = before.get(tid).map_or(0, |(r, _)| *r);
            let ms = run.saturating_sub(was) as f64 / 1e6;
            if ms > 0.0 {
                total += ms;
                // A kernel worker renames itself after the queue it serves.
                let name = match comm.split_once('-') {
                    Some((w, _)) if w.starts_with("kworker") => w.to_owned(),
                    _ => comm.clone(),
                };
                *by_name.entry(name).or_default() += ms;
            }
        }
        let mut top: Vec<(String, f64)> = by_name.into_iter().collect();
        top.sort_by(|a, b| b.1.total_cmp(&a.1));
        top.truncate(4);
        (total, top)
    }

    fn percentile(sorted: &[u32], p: f64) -> f64 {
        if sorted.is_empty() {
            return 0.0;
        }
        let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        f64::from(sorted[i.min(sorted.len() - 1)]) / 1000.0
    }

    /// Wait until `due`: tokio's timer for all but the last millisecond,
    /// then yield in a loop (the runtime polls its sockets in between).
    async fn pace(due: Instant) {
        loop {
            let now = Instant::now();
            if now >= due {
                return;
            }
            let left = due - now;
            if left > Duration::from_millis(2) {
                tokio::time::sleep(left - Duration::from_millis(1)).await;
            } else {
                tokio::task::yield_now().await;
            }
        }
    }

    /// POST one request; `Ok` only for 200 with `TN-Validation-Passed`.
    async fn post(client: &reqwest::Client, url: &str, body: String) -> Result<(), String> {
        let r = client
            .post(url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = r.status();
        let text = r
            .bytes()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?;
        let passed = text.windows(20).any(|w| w == b"TN-Validation-Passed");
        if status.is_success() && passed {
            Ok(())
        } else {
            Err(format!("{status}: {}", String::from_utf8_lossy(&text)))
        }
    }

    #[derive(Default)]
    struct Tally {
        latency_us: Vec<u32>,
        /// How late each request left against its due time (open loop).
        send_lag_us: Vec<u32>,
        failed: u64,
        first_failure: Option<String>,
    }

    pub fn main() {
        let url = value("--url").unwrap_or_else(|| fail("--url URL is needed"));
        let path = value("--bodies").unwrap_or_else(|| fail("--bodies FILE is needed"));
        let connections = number("--connections", 32.0).clamp(1.0, 1024.0) as usize;
        let seconds = number("--seconds", 3.0).clamp(0.1, 120.0);
        let rate = number("--rate", 0.0);
        let warmup = number("--warmup", connections as f64 * 2.0) as usize;
        let server_pid = value("--server-pid");
        // Open loop always spins: a driver asleep in epoll when a request
        // falls due wakes late (a halted vCPU takes up to a millisecond to
        // run again here), and that lateness would count as the server's.
        let spin = std::env::args().any(|a| a == "--spin") || rate > 0.0;
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| fail(&format!("--bodies {path}: {e}")));
        let bodies: Vec<String> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| format!("{{\"verificationRequest\":{l}}}"))
            .collect();
        if bodies.len() <= warmup {
            fail(&format!(
                "--bodies {path}: {} requests, not more than the {warmup} of the warm-up",
                bodies.len()
            ));
        }
        let hz = clock_ticks_per_second();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async move {
            shaken::crypto::install_tls_provider();
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(connections)
                .tcp_nodelay(true)
                .build()
                .unwrap();
            let bodies = Rc::new(bodies);
            let tally = Rc::new(RefCell::new(Tally::default()));
            let next = Rc::new(std::cell::Cell::new(0usize));

            // Warm-up: open the connections (handshakes are not measured)
            // and check that the server passes these requests.
            let send = Rc::new(move |client: reqwest::Client, body: String| {
                let url = url.clone();
                async move { post(&client, &url, body).await }
            });
            let mut tasks = Vec::new();
            for c in 0..connections {
                let (client, bodies, send) = (client.clone(), bodies.clone(), send.clone());
                tasks.push(tokio::task::spawn_local(async move {
                    let mut i = c;
                    while i < warmup {
                        if let Err(e) = send(client.clone(), bodies[i].clone()).await {
                            fail(&format!("warm-up request {i}: {e}"));
                        }
                        i += connections;
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            next.set(warmup);

            let others_before = other_threads(server_pid.as_deref());
            let cpu_before = server_pid.as_deref().map(|p| process_cpu(p, hz));
            let own_before = process_cpu("self", hz);
            let start = Instant::now();
            let deadline = start + Duration::from_secs_f64(seconds);
            let interval = (rate > 0.0).then(|| Duration::from_secs_f64(1.0 / rate));
            // --spin: keep this thread polling (never asleep in epoll), so
            // the server's answers do not pay for waking it.
            let done = Rc::new(std::cell::Cell::new(false));
            if spin {
                let done = done.clone();
                tokio::task::spawn_local(async move {
                    while !done.get() {
                        tokio::task::yield_now().await;
                    }
                });
            }
            let mut tasks = Vec::new();
            for _ in 0..connections {
                let (client, bodies, send) = (client.clone(), bodies.clone(), send.clone());
                let (tally, next) = (tally.clone(), next.clone());
                tasks.push(tokio::task::spawn_local(async move {
                    loop {
                        let i = next.get();
                        if i >= bodies.len() {
                            break;
                        }
                        next.set(i + 1);
                        let due = match interval {
                            Some(d) => {
                                let k = u32::try_from(i - warmup).unwrap_or(u32::MAX);
                                let due = start + d * k;
                                if due >= deadline {
                                    break;
                                }
                                pace(due).await;
                                due
                            }
                            None => {
                                let now = Instant::now();
                                if now >= deadline {
                                    break;
                                }
                                now
                            }
                        };
                        let lag = due.elapsed();
                        let r = send(client.clone(), bodies[i].clone()).await;
                        let us = |d: Duration| u32::try_from(d.as_micros()).unwrap_or(u32::MAX);
                        let mut t = tally.borrow_mut();
                        t.latency_us.push(us(due.elapsed()));
                        t.send_lag_us.push(us(lag));
                        if let Err(e) = r {
                            t.failed += 1;
                            t.first_failure.get_or_insert(e);
                        }
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            done.set(true);
            let elapsed = start.elapsed().as_secs_f64();
            let server_cpu = server_pid
                .as_deref()
                .zip(cpu_before)
                .map(|(p, before)| process_cpu(p, hz) - before);
            let own_cpu = process_cpu("self", hz) - own_before;
            let (others_ms, others_top) =
                other_cpu(&others_before, &other_threads(server_pid.as_deref()));
            let mut t = tally.borrow_mut();
            let n = t.latency_us.len();
            let exhausted =
                next.get() >= bodies.len() && start.elapsed() < Duration::from_secs_f64(seconds);
            t.latency_us.sort_unstable();
            t.send_lag_us.sort_unstable();
            println!(
                "mode {}",
                if interval.is_some() { "open" } else { "closed" }
            );
            println!("connections {connections}");
            if rate > 0.0 {
                println!("target_rate {rate:.0}");
            }
            println!("requests {n}");
            println!("failed {}", t.failed);
            println!("elapsed_s {elapsed:.3}");
            println!("rate {:.1}", n as f64 / elapsed);
            println!("p50_ms {:.3}", percentile(&t.latency_us, 0.50));
            println!("p90_ms {:.3}", percentile(&t.latency_us, 0.90));
            println!("p99_ms {:.3}", percentile(&t.latency_us, 0.99));
            println!("p999_ms {:.3}", percentile(&t.latency_us, 0.999));
            println!("max_ms {:.3}", percentile(&t.latency_us, 1.0));
            println!("send_lag_p99_ms {:.3}", percentile(&t.send_lag_us, 0.99));
            println!("client_cpu_s {own_cpu:.2}");
            if let Some(c) = server_cpu {
                println!("server_cpu_s {c:.2}");
                if n > 0 {
                    println!("server_cpu_us_per_request {:.2}", 1e6 * c / n as f64);
                }
            }
            println!("others_cpu_ms {others_ms:.1}");
            let top: Vec<String> = others_top
                .iter()
                .filter(|(_, ms)| *ms >= 0.5)
                .map(|(name, ms)| format!("{name}={ms:.1}"))
                .collect();
            println!(
                "others_top {}",
                if top.is_empty() {
                    "-".to_owned()
                } else {
                    top.join(",")
                }
            );
            if exhausted {
                println!("exhausted 1");
            }
            if let Some(e) = &t.first_failure {
                eprintln!(
                    "serve_load: first failure: {}",
                    e.chars().take(300).collect::<String>()
                );
            }
        });
    }
}

mod load {

    use shaken::cert::{parse_chain, TrustAnchors};
    use shaken::config::{ReplayMode, Source};
    use shaken::crypto::KeySigner;
    use shaken::identity::IdentityHeader;
    use shaken::passport::{self, Attestation, Claims, Header};
    use shaken::pki::{LabPki, LabPkiOptions};
    use shaken::server::{ApiKeys, Server, ServerClock, ServerConfig, TlsFiles};
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
        let rounds = arg("--rounds", 1).clamp(1, 10);
        let modes = modes();
        let redis = modes.contains(&Mode::Redis).then(RedisServer::start);
        let tls = TlsMaterial::new();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        println!("shaken serve load (in-process client, loopback, fixed chain, keep-alive)");
        println!("  cores                 {cores} (server threads {server_threads}, client threads {client_threads})");
        println!("  concurrency           {concurrency}, {seconds} s per mode, {rounds} round(s)");
        println!("  library, 1 core       {core_rate:.0} verifications/s");
        println!();
        println!(
            "  {:<14} {:>9} {:>10} {:>9} {:>9} {:>12} {:>8} {:>10}",
            "mode", "requests", "req/s", "p50 ms", "p99 ms", "per CPU-s", "vs plain", "sleeps/req"
        );
        let mut plain_per_cpu: Option<f64> = None;
        for round in 0..rounds {
            for &mode in &modes {
                let r = run_mode(
                    mode,
                    &Setup {
                        redis_url: redis.as_ref().map(|r| r.url.clone()),
                        root_pem: &root_pem,
                        chain_pem: &chain_pem,
                        bodies: bodies.clone(),
                        tls: &tls,
                        seconds,
                        concurrency,
                        max_requests,
                        server_threads,
                        client_threads,
                    },
                );
                let per_cpu = if r.server_cpu > 0.0 {
                    r.requests as f64 / r.server_cpu
                } else {
                    0.0
                };
                if mode == Mode::Plain && round == 0 {
                    plain_per_cpu = Some(per_cpu);
                }
                let rel = plain_per_cpu
                    .filter(|p| *p > 0.0)
                    .map_or("-".to_owned(), |p| format!("{:.1} %", 100.0 * per_cpu / p));
                println!(
                    "  {:<14} {:>9} {:>10.0} {:>9.3} {:>9.3} {:>12.0} {:>8} {:>10.2}{}",
                    mode.name(),
                    r.requests,
                    r.rate,
                    r.p50,
                    r.p99,
                    per_cpu,
                    rel,
                    r.sleeps_per_request,
                    if r.failures > 0 {
                        format!("  ({} failed)", r.failures)
                    } else {
                        String::new()
                    }
                );
            }
        }
        println!();
        println!("  per CPU-s: verifications per second of the server's own CPU time");
        println!(
            "  (its runtime threads, from /proc/self/task/TID/stat), whatever the client uses;\n  sleeps/req: the server threads' voluntary context switches per request."
        );
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Mode {
        Plain,
        ApiKey,
        Https,
        HttpsKey,
        Mtls,
        Replay,
        Redis,
    }

    impl Mode {
        fn name(self) -> &'static str {
            match self {
                Mode::Plain => "http",
                Mode::ApiKey => "http+key",
                Mode::Https => "https",
                Mode::HttpsKey => "https+key",
                Mode::Mtls => "https+mtls",
                Mode::Replay => "http+replay",
                Mode::Redis => "http+redis",
            }
        }
        fn tls(self) -> bool {
            matches!(self, Mode::Https | Mode::HttpsKey | Mode::Mtls)
        }
        fn key(self) -> bool {
            matches!(self, Mode::ApiKey | Mode::HttpsKey)
        }
    }

    /// `--modes http,http+key,https,https+key,https+mtls,http+replay,http+redis`
    /// (default the first five).
    fn modes() -> Vec<Mode> {
        let all = [
            Mode::Plain,
            Mode::ApiKey,
            Mode::Https,
            Mode::HttpsKey,
            Mode::Mtls,
            Mode::Replay,
            Mode::Redis,
        ];
        let args: Vec<String> = std::env::args().collect();
        match args
            .iter()
            .position(|a| a == "--modes")
            .and_then(|i| args.get(i + 1))
        {
            None => all[..5].to_vec(),
            Some(list) => list
                .split(',')
                .filter_map(|m| all.iter().copied().find(|x| x.name() == m.trim()))
                .collect(),
        }
    }

    /// A `redis-server` on a free loopback port, stopped on drop.
    struct RedisServer {
        child: std::process::Child,
        url: String,
    }

    impl RedisServer {
        fn start() -> RedisServer {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let child = std::process::Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("http+redis needs redis-server (apt-get install redis-server)");
            let deadline = Instant::now() + Duration::from_secs(10);
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(Instant::now() < deadline, "redis-server did not start");
                std::thread::sleep(Duration::from_millis(20));
            }
            RedisServer {
                child,
                url: format!("redis://127.0.0.1:{port}"),
            }
        }
    }

    impl Drop for RedisServer {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    const API_KEY: &str = "bench-key-0123456789abcdef";

    /// A server CA, a server certificate for 127.0.0.1, a client CA and a
    /// client certificate, made here with rcgen.
    struct TlsMaterial {
        ca_pem: String,
        server_cert: String,
        server_key: String,
        client_ca_pem: String,
        client_identity_pem: String,
        dir: tempfile::TempDir,
    }

    impl TlsMaterial {
        fn new() -> Self {
            let ca = |name: &str| {
                let key = rcgen::KeyPair::generate().unwrap();
                let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
                p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
                p.distinguished_name
                    .push(rcgen::DnType::CommonName, name.to_owned());
                let cert = p.self_signed(&key).unwrap();
                (cert, key)
            };
            let leaf = |ca: &(rcgen::Certificate, rcgen::KeyPair), server: bool| {
                let key = rcgen::KeyPair::generate().unwrap();
                let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
                if server {
                    p.subject_alt_names
                        .push(rcgen::SanType::IpAddress(std::net::IpAddr::V4(
                            std::net::Ipv4Addr::LOCALHOST,
                        )));
                }
                let cert = p.signed_by(&key, &ca.0, &ca.1).unwrap();
                (cert.pem(), key.serialize_pem())
            };
            let server_ca = ca("bench server CA");
            let client_ca = ca("bench client CA");
            let (server_cert, server_key) = leaf(&server_ca, true);
            let (client_cert, client_key) = leaf(&client_ca, false);
            TlsMaterial {
                ca_pem: server_ca.0.pem(),
                server_cert,
                server_key,
                client_ca_pem: client_ca.0.pem(),
                client_identity_pem: format!("{client_cert}{client_key}"),
                dir: tempfile::tempdir().unwrap(),
            }
        }

        fn server_config(&self, mtls: bool) -> Arc<tokio_rustls::rustls::ServerConfig> {
            let p = |f: &str, text: &str| {
                let path = self.dir.path().join(f);
                std::fs::write(&path, text).unwrap();
                path
            };
            TlsFiles {
                cert: p("cert.pem", &self.server_cert),
                key: p("key.pem", &self.server_key),
                client_ca: mtls.then(|| p("client-ca.pem", &self.client_ca_pem)),
            }
            .load()
            .unwrap()
        }
    }

    struct Setup<'a> {
        /// `redis://127.0.0.1:PORT` of the redis-server started for `http+redis`.
        redis_url: Option<String>,
        root_pem: &'a str,
        chain_pem: &'a str,
        bodies: Arc<Vec<String>>,
        tls: &'a TlsMaterial,
        seconds: u64,
        concurrency: usize,
        max_requests: u64,
        server_threads: usize,
        client_threads: usize,
    }

    struct Outcome {
        requests: usize,
        failures: u64,
        rate: f64,
        p50: f64,
        p99: f64,
        server_cpu: f64,
        /// Times the server's threads went to sleep (voluntary context
        /// switches), per request: a worker that blocks on a socket shows here.
        sleeps_per_request: f64,
    }

    /// Voluntary context switches so far of these threads.
    fn voluntary_switches(tids: &[String]) -> u64 {
        tids.iter()
            .filter_map(|tid| std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).ok())
            .filter_map(|st| {
                st.lines()
                    .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                    .and_then(|v| v.trim().parse::<u64>().ok())
            })
            .sum()
    }

    /// CPU seconds (user + system) used so far by these threads.
    fn cpu_seconds(tids: &[String]) -> f64 {
        let hz = std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .unwrap_or(100.0);
        let mut ticks = 0u64;
        for tid in tids {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")) else {
                continue;
            };
            // Fields after the command name in parentheses: state is field 3,
            // utime 14 and stime 15.
            let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
            let f: Vec<&str> = rest.split_whitespace().collect();
            ticks += f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            ticks += f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        }
        ticks as f64 / hz
    }

    fn run_mode(mode: Mode, s: &Setup<'_>) -> Outcome {
        let tids: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let record = tids.clone();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let root_pem = s.root_pem.to_owned();
        let chain_pem = s.chain_pem.to_owned();
        let server_threads = s.server_threads;
        let tls = mode.tls().then(|| s.tls.server_config(mode == Mode::Mtls));
        let redis_url = s.redis_url.clone();
        let keys_file = s.tls.dir.path().join("api-keys.txt");
        std::fs::write(&keys_file, format!("{API_KEY}\n")).unwrap();
        let server_thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(server_threads)
                .on_thread_start(move || {
                    if let Ok(link) = std::fs::read_link("/proc/thread-self") {
                        if let Some(tid) = link.file_name().and_then(|t| t.to_str()) {
                            record.lock().unwrap().push(tid.to_owned());
                        }
                    }
                })
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let mut vc = VerifierConfig::default();
                vc.trust_anchors = vec![Source::Inline(root_pem.into_bytes())];
                vc.cert = Some(Source::Inline(chain_pem.into_bytes()));
                vc.replay = match mode {
                    Mode::Replay | Mode::Redis => ReplayMode::Memory,
                    _ => ReplayMode::Off,
                };
                if mode == Mode::Redis {
                    vc.redis = redis_url;
                }
                let vs = Arc::new(StiVs::from_config(&vc).unwrap());
                let mut config =
                    ServerConfig::new("127.0.0.1:0", vs).with_clock(ServerClock::Fixed(NOW));
                if mode.key() {
                    config = config.with_api_keys(Arc::new(ApiKeys::load(&keys_file).unwrap()));
                }
                if let Some(tls) = tls {
                    config = config.with_tls(tls, None);
                }
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
            .worker_threads(s.client_threads)
            .enable_all()
            .build()
            .unwrap();
        let (seconds, concurrency, max_requests) = (s.seconds, s.concurrency, s.max_requests);
        let bodies = s.bodies.clone();
        shaken::crypto::install_tls_provider();
        let mut builder = reqwest::Client::builder()
            .pool_max_idle_per_host(concurrency)
            .use_rustls_tls();
        if mode.tls() {
            builder = builder.add_root_certificate(
                reqwest::Certificate::from_pem(s.tls.ca_pem.as_bytes()).unwrap(),
            );
        }
        if mode == Mode::Mtls {
            builder = builder.identity(
                reqwest::Identity::from_pem(s.tls.client_identity_pem.as_bytes()).unwrap(),
            );
        }
        let client = builder.build().unwrap();
        let scheme = if mode.tls() { "https" } else { "http" };
        let url = format!("{scheme}://{addr}/stir/v1/verification");
        let auth = mode.key().then(|| format!("Bearer {API_KEY}"));
        let outcome = rt.block_on(async move {
            let post = move |client: &reqwest::Client, body: String| {
                let mut r = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body);
                if let Some(a) = &auth {
                    r = r.header("authorization", a);
                }
                r
            };
            // One check that the server really passes these, which also opens
            // the connection pool (handshakes are not what is measured).
            let text = post(&client, bodies[0].clone())
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(
                text.contains("TN-Validation-Passed"),
                "{}: {text}",
                mode.name()
            );

            let issued = Arc::new(AtomicU64::new(0));
            let cpu_before = cpu_seconds(&tids.lock().unwrap());
            let sleeps_before = voluntary_switches(&tids.lock().unwrap());
            let deadline = Instant::now() + Duration::from_secs(seconds);
            let start = Instant::now();
            let mut tasks = Vec::new();
            for w in 0..concurrency {
                let client = client.clone();
                let bodies = bodies.clone();
                let issued = issued.clone();
                let post = post.clone();
                let mk = move |i: usize| post(&client, bodies[i % bodies.len()].clone());
                tasks.push(tokio::spawn(async move {
                    let mut lat: Vec<u32> = Vec::new();
                    let mut failures = 0u64;
                    let mut i = w;
                    while Instant::now() < deadline
                        && issued.fetch_add(1, Ordering::Relaxed) < max_requests
                    {
                        let req = mk(i);
                        i += concurrency;
                        let t = Instant::now();
                        let ok = match req.send().await {
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
            let server_cpu = cpu_seconds(&tids.lock().unwrap()) - cpu_before;
            let sleeps = voluntary_switches(&tids.lock().unwrap()).saturating_sub(sleeps_before);
            all.sort_unstable();
            Outcome {
                requests: all.len(),
                failures,
                rate: all.len() as f64 / elapsed,
                p50: percentile(&all, 0.50),
                p99: percentile(&all, 0.99),
                server_cpu,
                sleeps_per_request: sleeps as f64 / all.len().max(1) as f64,
            }
        });
        let _ = stop_tx.send(());
        let _ = server_thread.join();
        outcome
    }
}
