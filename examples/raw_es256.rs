//! The physical limit: raw ES256 sign and verify rates of the crypto backend
//! that `shaken` is built with (ring by default, p256 with `--features
//! rustcrypto`), on one thread, measured the way `openssl speed ecdsap256`
//! measures OpenSSL: the same key and a 20-byte message again and again, for
//! a bounded time. `bench/compare.sh` prints these next to OpenSSL's figures
//! as the ceiling of what the batch pipeline can reach.
//!
//! ```text
//! cargo run --release --example raw_es256 -- certs/sp.key.pem [SECONDS]
//! sign/s 70969
//! verify/s 24933
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use shaken::crypto::{verify_es256, KeySigner, Signer};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Calls per second of `f`, run for `secs` after a short warm-up.
fn rate(secs: f64, mut f: impl FnMut()) -> f64 {
    for _ in 0..200 {
        f();
    }
    let limit = Duration::from_secs_f64(secs);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < limit {
        for _ in 0..64 {
            f();
        }
        n += 64;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(key_path) = args.next() else {
        eprintln!("usage: raw_es256 KEY.pem [SECONDS]");
        std::process::exit(2);
    };
    let secs: f64 = args.next().map_or(3.0, |s| s.parse().unwrap());
    let signer = KeySigner::from_pem(&std::fs::read_to_string(&key_path).unwrap()).unwrap();
    let point = signer.public_key().unwrap();
    // openssl speed signs and verifies a 20-byte buffer.
    let msg = [0x5au8; 20];
    let sig = signer.sign_es256(&msg).unwrap();
    let sign = rate(secs, || {
        black_box(signer.sign_es256(black_box(&msg)).unwrap());
    });
    let verify = rate(secs, || {
        verify_es256(black_box(&point), black_box(&msg), &sig).unwrap();
    });
    println!("sign/s {sign:.0}");
    println!("verify/s {verify:.0}");
}
