#![no_main]
//! Full decode-and-verify with a fixed key and chain (the lab PKI in certs/).
//!
//! Input: a mode byte, then UTF-8 text.
//! - even mode: the text is an Identity header value (or a bare token),
//!   verified as it is: parsing, header and claims checks, chain, signature;
//! - odd mode: the text is `HEADER-JSON\nCLAIMS-JSON`, which the harness signs
//!   with the lab SP key, so that everything after the signature check (claims,
//!   freshness, orig/dest comparison, attestation, claim constraints) is
//!   reached with hostile JSON.
use libfuzzer_sys::fuzz_target;
use shaken::cert::{parse_chain, Certificate, TrustAnchors};
use shaken::crypto::{DeterministicSigner, Signer};
use shaken::tn::{TelephoneNumber, TnPolicy};
use shaken::verify::{CallContext, PartyId, Verifier};
use shaken::{b64, Limits};
use std::sync::OnceLock;

const NOW: i64 = 1_800_000_000;
const HEADER: &str = r#"{"alg":"ES256","ppt":"shaken","typ":"passport","x5u":"https://cr.example.net/sp.pem"}"#;

struct Fixture {
    verifier: Verifier,
    chain: Vec<Certificate>,
    signer: DeterministicSigner,
    ctx: CallContext,
}

fn fixture() -> Option<&'static Fixture> {
    static F: OnceLock<Option<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        let limits = Limits::default();
        let mut anchors = TrustAnchors::new();
        anchors.add_pem(include_bytes!("../../certs/anchors.pem")).ok()?;
        let chain = parse_chain(include_bytes!("../../certs/sp-chain.pem"), &limits).ok()?;
        let signer =
            DeterministicSigner::from_pem(include_str!("../../certs/sp.key.pem")).ok()?;
        let policy = TnPolicy::default();
        let tn = |s: &str| TelephoneNumber::parse(s, &policy).ok().map(PartyId::Tn);
        let ctx = CallContext {
            now: NOW,
            orig: vec![tn("12155550121")?],
            dest: vec![tn("12125550143")?],
            date: None,
            call_id: None,
        };
        Some(Fixture { verifier: Verifier::new(anchors), chain, signer, ctx })
    })
    .as_ref()
}

fuzz_target!(|data: &[u8]| {
    let Some(f) = fixture() else { return };
    let Some((&mode, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let value = if mode & 1 == 1 {
        let (header, claims) = text.split_once('\n').unwrap_or((HEADER, text));
        let input = format!("{}.{}", b64::encode(header.as_bytes()), b64::encode(claims.as_bytes()));
        let Ok(sig) = f.signer.sign_es256(input.as_bytes()) else { return };
        let ppt = if mode & 2 == 2 { ";ppt=shaken" } else { "" };
        format!("{input}.{};info=<https://cr.example.net/sp.pem>;alg=ES256{ppt}", b64::encode(&sig))
    } else {
        text.to_owned()
    };
    if let Ok(h) = f.verifier.parse_identity(&value) {
        let _ = f.verifier.verify_with_chain(&h, &f.ctx, &f.chain);
        let _ = f.verifier.verify_with_chain(&h, &CallContext::at(NOW), &f.chain);
    }
});
