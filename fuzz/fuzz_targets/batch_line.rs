#![no_main]
//! One JSON Lines request of `verify --batch` / `sign --batch`
//! (shaken::batch), and the verification of a parsed request against the
//! lab chain (certs/).
use libfuzzer_sys::fuzz_target;
use shaken::batch::{SignRequest, VerifyRequest};
use shaken::cert::{parse_chain, Certificate, TrustAnchors};
use shaken::tn::TnPolicy;
use shaken::verify::Verifier;
use shaken::Limits;
use std::sync::OnceLock;

struct Fixture {
    verifier: Verifier,
    chain: Vec<Certificate>,
}

fn fixture() -> Option<&'static Fixture> {
    static F: OnceLock<Option<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        let mut anchors = TrustAnchors::new();
        anchors.add_pem(include_bytes!("../../certs/anchors.pem")).ok()?;
        let chain = parse_chain(include_bytes!("../../certs/sp-chain.pem"), &Limits::default()).ok()?;
        Some(Fixture { verifier: Verifier::new(anchors), chain })
    })
    .as_ref()
}

fuzz_target!(|data: &[u8]| {
    let Some(f) = fixture() else { return };
    let policy = TnPolicy::default();
    if let Ok(req) = VerifyRequest::parse(data, &policy) {
        if let Ok(h) = f.verifier.parse_identity(&req.identity) {
            let _ = f.verifier.verify_with_chain(&h, &req.context(Some(1_800_000_000)), &f.chain);
            let _ = f.verifier.verify_with_chain(&h, &req.context(None), &f.chain);
        }
    }
    if let Ok(req) = SignRequest::parse(data, &policy) {
        let _ = req.claims.to_json();
    }
});
