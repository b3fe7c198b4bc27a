//! Verification cost per call as the number of distinct signers grows: N
//! lab SP certificates (one lab PKI), one signed call each, verified in
//! turn (round robin) through one `Verifier`, whose memo of validated
//! chains is what keeps a known signer at one ECDSA check a call. Reports
//! microseconds of CPU a call (this thread) for each N.
//!
//! ```text
//! cargo run --release --example many_signers -- [N ...]
//! signers   calls   us/call (CPU)
//!    1000   20000        45.1
//!    8000   40000        46.0
//! ```
//!
//! A memo smaller than the set of active signers makes every call validate
//! its chain again (webpki path, the chain's own signatures): the number
//! jumps to ~3x. BENCHMARKS.md records the run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use shaken::cert::{parse_chain, Certificate, TrustAnchors};
use shaken::crypto::KeySigner;
use shaken::identity::IdentityHeader;
use shaken::passport::{sign, Attestation, Claims, Header};
use shaken::pki::{LabPki, LabPkiOptions, LeafOptions};
use shaken::verify::{CallContext, Verifier};
use shaken::Limits;

const NOW: i64 = 1_800_000_000;

#[path = "support/cpu.rs"]
mod cpu;
use cpu::thread_cpu_ns;

fn main() {
    let sizes: Vec<usize> = {
        let v: Vec<usize> = std::env::args()
            .skip(1)
            .map(|a| a.parse().unwrap())
            .collect();
        if v.is_empty() {
            vec![1000, 4000, 5000, 8000]
        } else {
            v
        }
    };
    let max = sizes.iter().copied().max().unwrap_or(1);
    let pki = LabPki::generate(&LabPkiOptions::new(NOW - 86_400, NOW + 86_400)).unwrap();
    let mut anchors = TrustAnchors::new();
    anchors.add_pem(pki.anchors_pem().as_bytes()).unwrap();
    eprintln!("issuing {max} SP certificates and signing one call each ...");
    let signers: Vec<(Vec<Certificate>, IdentityHeader)> = (0..max)
        .map(|i| {
            let mut lo = LeafOptions::new(NOW - 3600, NOW + 3600);
            lo.serial = Some(0x1000 + i as u64);
            let leaf = pki.issue_leaf(&lo).unwrap();
            let chain = parse_chain(
                format!("{}{}", leaf.cert_pem, pki.ca.cert_pem).as_bytes(),
                &Limits::default(),
            )
            .unwrap();
            let x5u = format!("https://cr.example.net/sp{i}.pem");
            let claims = Claims::shaken(
                Attestation::A,
                "12155550121",
                vec!["12125550143".into()],
                NOW,
                format!("{i:08x}-0000-4000-8000-000000000000"),
            );
            let signer = KeySigner::from_pem(&leaf.key_pem).unwrap();
            let token = sign(&Header::shaken(&x5u), &claims, &signer).unwrap();
            (chain, IdentityHeader::shaken(token, &x5u))
        })
        .collect();
    println!("signers   calls   us/call (CPU)");
    for n in sizes {
        let verifier = Verifier::new(anchors.clone());
        let calls = (n * 5).max(20_000);
        let ctx = CallContext::at(NOW);
        // One round first so that the memo holds what it can.
        for (chain, id) in signers.iter().take(n) {
            let p = verifier.prepare(id, &ctx).unwrap();
            verifier.complete(p, Ok(chain), NOW).unwrap();
        }
        let cpu0 = thread_cpu_ns();
        for k in 0..calls {
            let (chain, id) = &signers[k % n];
            let p = verifier.prepare(id, &ctx).unwrap();
            verifier.complete(p, Ok(chain), NOW).unwrap();
        }
        let us = (thread_cpu_ns() - cpu0) as f64 / 1000.0 / calls as f64;
        println!("{n:>7} {calls:>7} {us:>11.1}");
    }
}
