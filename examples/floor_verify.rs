//! The floor of a JSON Lines verifier: how fast a verifier that does only
//! the work no verifier can skip gets through the lines of
//! `bench/compare.sh`, against the bare signature checks of those same
//! lines, in interleaved rounds of one run.
//!
//! The minimal verifier, per line: read the request JSON (typed, the
//! `identity` borrowed), cut the token at `;` and `.`, decode the header and
//! the payload from base64url and read both as JSON (typed), decode the
//! signature, verify it with aws-lc-rs over the received bytes (SHA-256
//! included, public key parsed once), and write one JSON line with the
//! verdict and five claims. Nothing else: no number canonicalisation, no
//! Identity parameters, no `x5u` or chain lookup, no freshness or TN checks,
//! no replay store, no summary, no report. It is not a verifier anyone should
//! run; it shows what is left for all of that once the unavoidable work is
//! done. Its bare rows verify each line's own signature over its own signing
//! input (distinct signatures, as a batch has them).
//!
//! ```text
//! cargo run --release --example floor_verify -- certs/sp.key.pem VERIFY.jsonl [ROUNDS]
//! bare verify of the lines' signatures   16899 /CPU-s
//! minimal JSON Lines verifier            15990 /CPU-s  (0.946x of bare)
//! bare-lines/s 16899
//! floor-lines/s 15990
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use shaken::crypto::{KeySigner, Signer};
use std::borrow::Cow;
use std::hint::black_box;

#[path = "support/cpu.rs"]
mod cpu;
use cpu::thread_cpu_ns;

#[derive(Deserialize)]
struct Request<'a> {
    #[serde(borrow)]
    identity: Cow<'a, str>,
}

#[derive(Deserialize)]
struct Header<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(borrow)]
    ppt: Cow<'a, str>,
    #[serde(borrow)]
    x5u: Cow<'a, str>,
}

#[derive(Deserialize)]
struct Tn<'a> {
    #[serde(borrow)]
    tn: Cow<'a, str>,
}

#[derive(Deserialize)]
struct Tns<'a> {
    #[serde(borrow)]
    tn: Vec<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Claims<'a> {
    #[serde(borrow)]
    attest: Cow<'a, str>,
    #[serde(borrow)]
    dest: Tns<'a>,
    iat: i64,
    #[serde(borrow)]
    orig: Tn<'a>,
    #[serde(borrow)]
    origid: Cow<'a, str>,
}

#[derive(Serialize)]
struct Line<'a> {
    line: u64,
    verstat: &'a str,
    attest: &'a str,
    orig: &'a str,
    dest: &'a [Cow<'a, str>],
    origid: &'a str,
    iat: i64,
}

/// The minimal verification of one line; appends its output line to `out`.
fn verify_line(
    key: &aws_lc_rs::signature::ParsedPublicKey,
    no: u64,
    line: &[u8],
    out: &mut Vec<u8>,
) {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let req: Request = serde_json::from_slice(line).unwrap();
    let token = req.identity.split(';').next().unwrap();
    let (signing_input, sig) = token.rsplit_once('.').unwrap();
    let (h, p) = signing_input.split_once('.').unwrap();
    let header = b64.decode(h).unwrap();
    let header: Header = serde_json::from_slice(&header).unwrap();
    let payload = b64.decode(p).unwrap();
    let claims: Claims = serde_json::from_slice(&payload).unwrap();
    let mut raw = [0u8; 66];
    let n = b64.decode_slice(sig, &mut raw).unwrap();
    let ok = header.alg == "ES256"
        && header.ppt == "shaken"
        && !header.x5u.is_empty()
        && key
            .verify_sig(signing_input.as_bytes(), raw.get(..n).unwrap())
            .is_ok();
    serde_json::to_writer(
        &mut *out,
        &Line {
            line: no,
            verstat: if ok {
                "TN-Validation-Passed"
            } else {
                "TN-Validation-Failed"
            },
            attest: &claims.attest,
            orig: &claims.orig.tn,
            dest: &claims.dest.tn,
            origid: &claims.origid,
            iat: claims.iat,
        },
    )
    .unwrap();
    out.push(b'\n');
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(key_path), Some(lines_path)) = (args.next(), args.next()) else {
        eprintln!("usage: floor_verify KEY.pem VERIFY.jsonl [ROUNDS]");
        std::process::exit(2);
    };
    let rounds: usize = args.next().map_or(5, |s| s.parse().unwrap()).max(1);
    let pem = std::fs::read_to_string(&key_path).unwrap();
    let point = KeySigner::from_pem(&pem).unwrap().public_key().unwrap();
    let key = aws_lc_rs::signature::ParsedPublicKey::new(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
        &point,
    )
    .unwrap();
    let text = std::fs::read(&lines_path).unwrap();
    let lines: Vec<&[u8]> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert!(!lines.is_empty(), "{lines_path} has no lines");
    // What the bare rows verify: each line's signing input and signature.
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let pairs: Vec<(String, Vec<u8>)> = lines
        .iter()
        .map(|l| {
            let req: Request = serde_json::from_slice(l).unwrap();
            let token = req.identity.split(';').next().unwrap();
            let (input, sig) = token.rsplit_once('.').unwrap();
            (input.to_owned(), b64.decode(sig).unwrap())
        })
        .collect();
    // Every line must verify, or the floor would be measuring failures.
    let mut out = Vec::with_capacity(1 << 20);
    for (i, l) in lines.iter().enumerate() {
        verify_line(&key, i as u64 + 1, l, &mut out);
    }
    let failed = out
        .split(|&b| b == b'\n')
        .filter(|l| l.windows(20).any(|w| w == b"TN-Validation-Failed"))
        .count();
    assert_eq!(failed, 0, "{failed} lines of {lines_path} did not verify");

    // Interleaved in blocks of 256 lines (bare, then minimal, block after
    // block), so that a change in the host's speed during the run weighs on
    // both alike; the rates are the totals of all rounds.
    let (mut bare_ns, mut floor_ns, mut n) = (0u64, 0u64, 0u64);
    for _ in 0..rounds {
        for (block, (pairs, lines)) in pairs.chunks(256).zip(lines.chunks(256)).enumerate() {
            let cpu0 = thread_cpu_ns();
            for (input, sig) in pairs {
                black_box(&key)
                    .verify_sig(black_box(input.as_bytes()), black_box(sig))
                    .unwrap();
            }
            let cpu1 = thread_cpu_ns();
            for (i, l) in lines.iter().enumerate() {
                out.clear();
                verify_line(&key, (block * 256 + i) as u64 + 1, black_box(l), &mut out);
                black_box(&out);
            }
            let cpu2 = thread_cpu_ns();
            bare_ns += cpu1.saturating_sub(cpu0);
            floor_ns += cpu2.saturating_sub(cpu1);
            n += lines.len() as u64;
        }
    }
    let per_s = |ns: u64| n as f64 / (ns.max(1) as f64 / 1e9);
    let (bare, floor) = (per_s(bare_ns), per_s(floor_ns));
    println!("bare verify of the lines' signatures   {bare:.0} /CPU-s");
    println!(
        "minimal JSON Lines verifier            {floor:.0} /CPU-s  ({:.3}x of bare)",
        floor / bare
    );
    println!("bare-lines/s {bare:.0}");
    println!("floor-lines/s {floor:.0}");
}
