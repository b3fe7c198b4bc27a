//! Peak memory of the in-memory replay store (issue 21): 10,000 distinct
//! verified calls a second, a 60 s freshness window, for several windows'
//! worth of simulated time.
//!
//! ```text
//! cargo run --release --example replay_memory -- [RATE] [SECONDS] [MAX_AGE] [CAPACITY]
//! ```
//!
//! Defaults: 10,000 calls/s for 600 s of simulated time (6 million calls)
//! with `max_age` 60. The store is the one `shaken verify --replay` and
//! `shaken serve` build: `Verifier::default_replay_store` for the policy of a
//! [`VerifierConfig`] with that `max_age`, whose entries live for the whole
//! freshness window, past plus future (`VerifierConfig::replay_ttl`: 60 + 60
//! = 120 s by default). The clock is simulated (the store never reads one):
//! each simulated second records `RATE` PASSporTs that differ in `origid`,
//! each with its own Call-ID, as fast as the machine goes. With CAPACITY,
//! a `ReplayStore::new(ttl, CAPACITY)` instead (to size the default).
//!
//! At the end, the calls of the last window are presented again: each must
//! be caught as a replay, and the ones that are not (their entries were
//! evicted to stay within the store's capacity) are counted. It prints the
//! process's peak resident memory (VmHWM of /proc/self/status, Linux) and
//! `RESULT` lines for `bench/compare.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use shaken::cert::TrustAnchors;
use shaken::verify::Verifier;
use shaken::VerifierConfig;

/// A `header.payload` as long as a real SHAKEN one (about 330 characters),
/// distinct for each `n`.
fn signing_input(n: u64, iat: i64) -> String {
    format!(
        "eyJhbGciOiJFUzI1NiIsInBwdCI6InNoYWtlbiIsInR5cCI6InBhc3Nwb3J0IiwieDV1IjoiaHR0cHM6Ly9jci5leGFtcGxlLm5ldC9zcC5wZW0ifQ.\
         {{\"attest\":\"A\",\"dest\":{{\"tn\":[\"12125550143\"]}},\"iat\":{iat},\"orig\":{{\"tn\":\"12155550121\"}},\
         \"origid\":\"{:08x}-e89b-12d3-a456-{:012x}\"}}",
        n >> 48,
        n & 0xffff_ffff_ffff
    )
}

fn call_id(n: u64) -> String {
    format!("{n:016x}@sbc.example.net")
}

/// Kilobytes on a `VmHWM:` / `VmRSS:` line of /proc/self/status.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u64>());
    let mut next = |default: u64| match args.next() {
        None => default,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("usage: replay_memory [RATE] [SECONDS] [MAX_AGE] [CAPACITY]");
            std::process::exit(2);
        }
    };
    let (rate, seconds, max_age) = (next(10_000), next(600), next(60));
    let capacity = next(0);
    let mut config = VerifierConfig::default();
    config.max_age = u32::try_from(max_age).unwrap();
    let ttl = config.replay_ttl();
    let store = if capacity == 0 {
        Verifier::new(TrustAnchors::new())
            .with_policy(config.policy())
            .default_replay_store()
    } else {
        shaken::ReplayStore::new(ttl, usize::try_from(capacity).unwrap())
    };
    let baseline = status_kib("VmRSS:").unwrap_or(0);

    let start_time: i64 = 1_767_225_600;
    let started = Instant::now();
    let mut n = 0u64;
    let mut refused = 0u64;
    let mut max_len = 0usize;
    for second in 0..seconds as i64 {
        let now = start_time + second;
        for _ in 0..rate {
            let input = signing_input(n, now);
            if store
                .check_and_record(&input, Some(&call_id(n)), now)
                .is_err()
            {
                refused += 1;
            }
            n += 1;
        }
        if second % 10 == 9 {
            max_len = max_len.max(store.len());
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let peak_kib = status_kib("VmHWM:").unwrap_or(0);
    assert_eq!(refused, 0, "distinct PASSporTs are never replays");

    // The calls of the last window, presented again at its end for another
    // Call-ID: each must be a replay. Newest first: a missed one is recorded
    // (a store full of live entries then drops its oldest), and must not
    // push out the ones still to be presented.
    let now = start_time + seconds as i64 - 1;
    let window = ttl.unsigned_abs().min(seconds) * rate;
    let mut missed = 0u64;
    for m in (n - window..n).rev() {
        let iat = start_time + (m / rate) as i64;
        if store
            .check_and_record(&signing_input(m, iat), Some("replayer@elsewhere"), now)
            .is_ok()
        {
            missed += 1;
        }
    }

    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "replay_memory: {n} calls, {rate}/s for {seconds} s simulated, max_age {max_age} \
         (entries live {ttl} s), in {elapsed:.1} s ({:.0} calls/s of CPU)",
        n as f64 / elapsed
    );
    println!(
        "entries held: at most {max_len}; live at {rate}/s x {ttl} s: {}",
        rate * ttl.unsigned_abs()
    );
    println!(
        "replays of the last {window} calls not caught (evicted to stay within capacity): {missed}"
    );
    println!(
        "RSS before the store filled {:.1} MiB, peak (VmHWM) {:.1} MiB",
        mib(baseline),
        mib(peak_kib)
    );
    println!(
        "target peak < 128 MiB: {}",
        if mib(peak_kib) < 128.0 {
            "met"
        } else {
            "NOT met"
        }
    );
    println!("RESULT replay_store_peak_rss_mib {:.1}", mib(peak_kib));
    println!(
        "RESULT replay_store_calls_per_cpu_s {:.0}",
        n as f64 / elapsed
    );
    println!("RESULT replay_store_missed_replays {missed}");
}
