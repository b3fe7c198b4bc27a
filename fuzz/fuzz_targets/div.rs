#![no_main]
//! Diverted calls (RFC 8946, shaken::div): the request extensions of
//! `--batch`/REST (`div` signing requests, `identities`/`requestUri`), the
//! `div` claim, and a whole SIP request verified against the lab chain,
//! which runs stage 1 of every `div`/`div-o` PASSporT, unnests `opt` and
//! checks the chain.
use libfuzzer_sys::fuzz_target;
use shaken::cert::{parse_chain, Certificate, TrustAnchors};
use shaken::div::{DivClaim, DivSignRequest, VerifyExtension};
use shaken::sip::{verify_request, SipRequest};
use shaken::verify::Verifier;
use shaken::Limits;
use std::sync::{Arc, OnceLock};

struct Fixture {
    verifier: Verifier,
    chain: Arc<Vec<Certificate>>,
}

fn fixture() -> Option<&'static Fixture> {
    static F: OnceLock<Option<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        let mut anchors = TrustAnchors::new();
        anchors.add_pem(include_bytes!("../../certs/anchors.pem")).ok()?;
        let chain = parse_chain(include_bytes!("../../certs/sp-chain.pem"), &Limits::default()).ok()?;
        Some(Fixture { verifier: Verifier::new(anchors), chain: Arc::new(chain) })
    })
    .as_ref()
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let _ = DivSignRequest::parse(data, &limits);
    let _ = VerifyExtension::parse(data, &limits);
    if let Ok(v) = shaken::parse_json_strict(data, limits.max_json_depth) {
        let _ = DivClaim::from_json(&v);
    }
    let Some(f) = fixture() else { return };
    if let Ok(req) = SipRequest::parse(data, &limits) {
        let chain = f.chain.clone();
        let r = verify_request(&f.verifier, &req, 1_800_000_000, |_| Ok(chain.clone()));
        let _ = r.diversion.map(|d| d.is_valid());
    }
});
