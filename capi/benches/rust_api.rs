//! The Rust-API side of the C ABI overhead benchmark (bench/capi-bench.sh):
//! the same work as one `shaken_verify_identity` call on a pinned chain with
//! replay off (parse the value, build the call context, both stages, the
//! report), timed in batches.
//!
//! `cargo bench -p shaken-capi --bench rust_api -- IDENTITY NOW [ITERATIONS]`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use shaken_lib::cert::{parse_chain, TrustAnchors};
use shaken_lib::verify::{self, CallContext, PartyId, Verifier};
use shaken_lib::Limits;
use std::hint::black_box;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let (Some(identity), Some(now)) = (args.first(), args.get(1)) else {
        eprintln!("usage: rust_api IDENTITY NOW [ITERATIONS]");
        std::process::exit(2);
    };
    let now: i64 = now.parse().unwrap();
    let iterations: u32 = args.get(2).map_or(20_000, |n| n.parse().unwrap());
    let certs = concat!(env!("CARGO_MANIFEST_DIR"), "/../certs");
    let limits = Limits::default();
    let mut anchors = TrustAnchors::new();
    anchors
        .add_pem(&std::fs::read(format!("{certs}/root.pem")).unwrap())
        .unwrap();
    let verifier = Verifier::new(anchors).with_limits(limits.clone());
    let chain = parse_chain(
        &std::fs::read(format!("{certs}/sp-chain.pem")).unwrap(),
        &limits,
    )
    .unwrap();
    let (orig, dest) = ("12155550121", "12125550143");
    let once = || {
        let tn = &verifier.policy().tn;
        let ctx = CallContext {
            now,
            orig: vec![PartyId::from_uri(black_box(orig), tn)],
            dest: vec![PartyId::from_uri(black_box(dest), tn)],
            date: None,
            call_id: None,
        };
        let result = verify::parse_identity_or_token(black_box(identity), &limits)
            .map_err(|e| Box::new(verify::Failure::new(e)))
            .and_then(|h| verifier.verify_with_chain(&h, &ctx, &chain));
        verify::report(&result)
    };
    let first = once();
    assert!(first.passed(), "{:?}", first.reason);
    let mut batches = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..iterations {
            black_box(once().passed());
        }
        batches.push(start.elapsed().as_nanos() as f64 / f64::from(iterations));
    }
    batches.sort_by(f64::total_cmp);
    println!("rust_api ns_per_verify {:.0}", batches[2]);
}
