#![no_main]
//! The STI-PA trust list (issue 17): the JWS alone or the STI-PA API answer
//! that wraps it, parsed, then verified against the lab chain as its signer
//! and the lab root as the pinned STI-PA root. Whatever the bytes, no panic,
//! and a list that verifies holds only CA certificates.
use libfuzzer_sys::fuzz_target;
use shaken::cert::{parse_chain, Certificate, TrustAnchors};
use shaken::trust::UnverifiedList;
use shaken::Limits;
use std::sync::OnceLock;

const NOW: i64 = 1_800_000_000;

struct Fixture {
    roots: TrustAnchors,
    signer: Vec<Certificate>,
}

fn fixture() -> Option<&'static Fixture> {
    static F: OnceLock<Option<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        let limits = Limits::default();
        let mut roots = TrustAnchors::new();
        roots.add_pem(include_bytes!("../../certs/root.pem")).ok()?;
        let signer = parse_chain(include_bytes!("../../certs/sp-chain.pem"), &limits).ok()?;
        Some(Fixture { roots, signer })
    })
    .as_ref()
}

fuzz_target!(|data: &[u8]| {
    let Some(f) = fixture() else { return };
    let limits = Limits::default();
    let Ok(list) = UnverifiedList::parse(data, &limits) else { return };
    let _ = list.x5u();
    let installed = data.first().map(|b| u64::from(*b));
    if let Ok(verified) = list.verify(&f.signer, &f.roots, installed, NOW, &limits) {
        assert!(installed.is_none_or(|i| verified.sequence >= i));
    }
});
