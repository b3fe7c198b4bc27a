#![no_main]
//! Certificate chain parsing (PEM or DER) and validation against the lab
//! trust anchors and CRL (certs/): the fuzzed chain on its own, and the
//! fuzzed certificates as leaves under the real lab STI-CA.
use libfuzzer_sys::fuzz_target;
use shaken::cert::{parse_chain, validate_chain, Certificate, ChainPolicy, Crl, TrustAnchors};
use shaken::Limits;
use std::sync::OnceLock;

const NOW: i64 = 1_800_000_000;

struct Fixture {
    anchors: TrustAnchors,
    ca: Certificate,
    crls: Vec<Crl>,
}

fn fixture() -> Option<&'static Fixture> {
    static F: OnceLock<Option<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        let limits = Limits::default();
        let mut anchors = TrustAnchors::new();
        anchors.add_pem(include_bytes!("../../certs/anchors.pem")).ok()?;
        let ca = parse_chain(include_bytes!("../../certs/ca.pem"), &limits).ok()?.into_iter().next()?;
        let crl = Crl::from_pem_or_der(include_bytes!("../../certs/crl.pem"), &limits).ok()?;
        Some(Fixture { anchors, ca, crls: vec![crl] })
    })
    .as_ref()
}

fuzz_target!(|data: &[u8]| {
    let Some(f) = fixture() else { return };
    let limits = Limits::default();
    let Ok(mut chain) = parse_chain(data, &limits) else { return };
    let policy = ChainPolicy::default();
    let _ = validate_chain(&chain, &f.anchors, &[], NOW, &policy);
    let _ = validate_chain(&chain, &f.anchors, &f.crls, NOW, &policy);
    chain.truncate(1);
    chain.push(f.ca.clone());
    let _ = validate_chain(&chain, &f.anchors, &f.crls, NOW, &policy);
});
