//! The physical limit: bare ES256 sign and verify rates of the two vetted
//! native backends, ring and aws-lc-rs, side by side in one run, and of
//! `shaken`'s own crypto API on the backend it is built with
//! (`shaken::crypto::BACKEND`). Measured the way `openssl speed ecdsap256`
//! measures OpenSSL: the same key and a 20-byte message again and again.
//!
//! Verification is also measured the way a pipeline meets it: 4,096 distinct
//! messages and signatures by the same key, cycled (the `distinct` rows).
//! Both backends' P-256 verification is variable-time (the inverse of `s`,
//! the recoding of the two scalars), so verifying one signature again and
//! again lets the CPU's branch predictors learn its exact path: on this
//! machine the repeated signature verifies about 10 % faster than distinct
//! ones, a speed no stream of real calls can reach.
//!
//! Rates are per **CPU second of the measuring thread**
//! (`/proc/thread-self/schedstat`), so another process on the machine does
//! not lower them, and the backends run in interleaved rounds (ring,
//! aws-lc-rs, shaken, ring, ...), each round `SECONDS / ROUNDS` long; the
//! median round counts. `bench/compare.sh` reads the last three lines: the
//! faster backend's figures.
//!
//! ```text
//! cargo run --release --example raw_es256 -- certs/sp.key.pem [SECONDS] [ROUNDS]
//! backend                sign/s   verify/s  (per CPU second, median of 5 rounds)
//! ring                    80808      27333
//! aws-lc-rs               85343      28643  (public key parsed once)
//! ring distinct                      24790  (4096 distinct signatures, cycled)
//! aws-lc-rs distinct                 25880  (4096 distinct signatures, cycled)
//! shaken (aws-lc-rs)      85120      28590
//! faster: sign aws-lc-rs, verify aws-lc-rs, distinct verify aws-lc-rs
//! sign/s 85343
//! verify/s 28643
//! distinct-verify/s 25880
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use p256::pkcs8::EncodePrivateKey;
use shaken::crypto::{KeySigner, PublicKey, Signer};
use std::hint::black_box;
use std::time::{Duration, Instant};

#[path = "support/cpu.rs"]
mod cpu;
use cpu::thread_cpu_ns;

/// Calls of `f` per CPU second (wall-clock per second where schedstat is
/// missing), run for `secs` of wall time after a short warm-up.
fn rate(secs: f64, f: &mut dyn FnMut()) -> f64 {
    for _ in 0..100 {
        f();
    }
    let limit = Duration::from_secs_f64(secs);
    let start = Instant::now();
    let cpu0 = thread_cpu_ns();
    let mut n = 0u64;
    while start.elapsed() < limit {
        for _ in 0..32 {
            f();
        }
        n += 32;
    }
    let cpu = thread_cpu_ns().saturating_sub(cpu0);
    let elapsed = if cpu > 0 {
        cpu as f64 / 1e9
    } else {
        start.elapsed().as_secs_f64()
    };
    n as f64 / elapsed
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

struct Backend {
    name: String,
    note: &'static str,
    /// `None` for the distinct-signature rows, which only verify.
    sign: Option<Box<dyn FnMut()>>,
    verify: Box<dyn FnMut()>,
}

/// How many distinct signatures the `distinct` rows cycle through.
const DISTINCT: u32 = 4096;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(key_path) = args.next() else {
        eprintln!("usage: raw_es256 KEY.pem [SECONDS] [ROUNDS]");
        std::process::exit(2);
    };
    let secs: f64 = args.next().map_or(3.0, |s| s.parse().unwrap());
    let rounds: usize = args.next().map_or(5, |s| s.parse().unwrap()).max(1);
    let pem = std::fs::read_to_string(&key_path).unwrap();
    let shaken_signer = KeySigner::from_pem(&pem).unwrap();
    let point = shaken_signer.public_key().unwrap();
    let secret = p256::SecretKey::from_sec1_pem(&pem)
        .or_else(|_| <p256::SecretKey as p256::pkcs8::DecodePrivateKey>::from_pkcs8_pem(&pem))
        .unwrap();
    let pkcs8 = secret.to_pkcs8_der().unwrap();
    // openssl speed signs and verifies a 20-byte buffer.
    const MSG: [u8; 20] = [0x5a; 20];

    let ring_rng = ring::rand::SystemRandom::new();
    let ring_pair = ring::signature::EcdsaKeyPair::from_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        pkcs8.as_bytes(),
        &ring_rng,
    )
    .unwrap();
    let ring_sig = ring_pair.sign(&ring_rng, &MSG).unwrap().as_ref().to_vec();
    let ring_point = point.clone();

    let aws_rng = aws_lc_rs::rand::SystemRandom::new();
    let aws_pair = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        pkcs8.as_bytes(),
    )
    .unwrap();
    let aws_sig = aws_pair.sign(&aws_rng, &MSG).unwrap().as_ref().to_vec();
    let aws_key = aws_lc_rs::signature::ParsedPublicKey::new(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
        &point,
    )
    .unwrap();

    // Distinct messages (a counter in the first four bytes), each signed
    // once, for the rows that verify them in turn.
    let messages: Vec<[u8; 20]> = (0..DISTINCT)
        .map(|i| {
            let mut m = MSG;
            m[..4].copy_from_slice(&i.to_be_bytes());
            m
        })
        .collect();
    let distinct: std::rc::Rc<Vec<([u8; 20], Vec<u8>)>> = std::rc::Rc::new(
        messages
            .iter()
            .map(|m| (*m, aws_pair.sign(&aws_rng, m).unwrap().as_ref().to_vec()))
            .collect(),
    );
    let aws_key_distinct = aws_lc_rs::signature::ParsedPublicKey::new(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
        &point,
    )
    .unwrap();
    let ring_point_distinct = point.clone();

    let shaken_key = PublicKey::from_point(&point).unwrap();
    let shaken_sig = shaken_signer.sign_es256(&MSG).unwrap();
    shaken_key.verify(&MSG, &shaken_sig).unwrap();

    let mut backends = [
        Backend {
            name: "ring".into(),
            note: "",
            sign: Some(Box::new({
                let (pair, rng) = (ring_pair, ring::rand::SystemRandom::new());
                move || {
                    black_box(pair.sign(&rng, black_box(&MSG)).unwrap());
                }
            })),
            verify: Box::new(move || {
                ring::signature::UnparsedPublicKey::new(
                    &ring::signature::ECDSA_P256_SHA256_FIXED,
                    black_box(&ring_point),
                )
                .verify(black_box(&MSG), &ring_sig)
                .unwrap();
            }),
        },
        Backend {
            name: "aws-lc-rs".into(),
            note: "  (public key parsed once)",
            sign: Some(Box::new(move || {
                black_box(aws_pair.sign(&aws_rng, black_box(&MSG)).unwrap());
            })),
            verify: Box::new(move || {
                black_box(&aws_key)
                    .verify_sig(black_box(&MSG), &aws_sig)
                    .unwrap();
            }),
        },
        Backend {
            name: "ring distinct".into(),
            note: "  (4096 distinct signatures, cycled)",
            sign: None,
            verify: Box::new({
                let (set, mut next) = (distinct.clone(), 0usize);
                move || {
                    let (m, sig) = &set[next % set.len()];
                    next += 1;
                    ring::signature::UnparsedPublicKey::new(
                        &ring::signature::ECDSA_P256_SHA256_FIXED,
                        black_box(&ring_point_distinct),
                    )
                    .verify(black_box(m), sig)
                    .unwrap();
                }
            }),
        },
        Backend {
            name: "aws-lc-rs distinct".into(),
            note: "  (4096 distinct signatures, cycled)",
            sign: None,
            verify: Box::new({
                let (set, mut next) = (distinct.clone(), 0usize);
                move || {
                    let (m, sig) = &set[next % set.len()];
                    next += 1;
                    black_box(&aws_key_distinct)
                        .verify_sig(black_box(m), sig)
                        .unwrap();
                }
            }),
        },
        Backend {
            name: format!("shaken ({})", shaken::crypto::BACKEND),
            note: "",
            sign: Some(Box::new(move || {
                black_box(shaken_signer.sign_es256(black_box(&MSG)).unwrap());
            })),
            verify: Box::new(move || {
                black_box(&shaken_key)
                    .verify(black_box(&MSG), &shaken_sig)
                    .unwrap();
            }),
        },
    ];
    let per = secs / rounds as f64;
    let mut signs = vec![Vec::new(); backends.len()];
    let mut verifies = vec![Vec::new(); backends.len()];
    for _ in 0..rounds {
        for (i, b) in backends.iter_mut().enumerate() {
            if let Some(sign) = b.sign.as_mut() {
                signs[i].push(rate(per, &mut **sign));
            }
            verifies[i].push(rate(per, &mut *b.verify));
        }
    }
    println!(
        "backend                 sign/s   verify/s  (per CPU second, median of {rounds} rounds)"
    );
    let mut best_sign = ("", 0.0f64);
    let mut best_verify = ("", 0.0f64);
    let mut best_distinct = ("", 0.0f64);
    for (i, b) in backends.iter().enumerate() {
        let v = median(verifies[i].clone());
        let s = if signs[i].is_empty() {
            String::new()
        } else {
            format!("{:.0}", median(signs[i].clone()))
        };
        println!("{:<20} {s:>9} {v:>10.0}{}", b.name, b.note);
        // The bare backends only: shaken's API is what is measured against them.
        let backend = ["ring", "aws-lc-rs"][i % 2];
        match i {
            0 | 1 => {
                let s = median(signs[i].clone());
                if s > best_sign.1 {
                    best_sign = (backend, s);
                }
                if v > best_verify.1 {
                    best_verify = (backend, v);
                }
            }
            2 | 3 if v > best_distinct.1 => best_distinct = (backend, v),
            _ => {}
        }
    }
    println!(
        "faster: sign {}, verify {}, distinct verify {}",
        best_sign.0, best_verify.0, best_distinct.0
    );
    println!("sign/s {:.0}", best_sign.1);
    println!("verify/s {:.0}", best_verify.1);
    println!("distinct-verify/s {:.0}", best_distinct.1);
}
