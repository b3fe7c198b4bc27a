#![no_main]
//! CRL parsing (PEM or DER) and its use while validating the lab chain
//! (certs/): signature, issuer, scope (direct and indirect), nextUpdate,
//! serial lookup.
use libfuzzer_sys::fuzz_target;
use shaken::cert::{parse_chain, validate_chain, Certificate, ChainPolicy, Crl, TrustAnchors};
use shaken::Limits;
use std::sync::OnceLock;

const NOW: i64 = 1_800_000_000;

struct Fixture {
    anchors: TrustAnchors,
    chain: Vec<Certificate>,
}

fn fixture() -> Option<&'static Fixture> {
    static F: OnceLock<Option<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        let limits = Limits::default();
        let mut anchors = TrustAnchors::new();
        anchors.add_pem(include_bytes!("../../certs/anchors.pem")).ok()?;
        let chain = parse_chain(include_bytes!("../../certs/sp-chain.pem"), &limits).ok()?;
        Some(Fixture { anchors, chain })
    })
    .as_ref()
}

fuzz_target!(|data: &[u8]| {
    let Some(f) = fixture() else { return };
    let Ok(crl) = Crl::from_pem_or_der(data, &Limits::default()) else { return };
    let _ = crl.lists_serial(f.chain.first().map_or("", |c| c.serial_hex()));
    let _ = (crl.issuer(), crl.next_update(), crl.scope(), crl.unsupported());
    for required in [false, true] {
        let mut policy = ChainPolicy::default();
        policy.crl_required = required;
        let _ = validate_chain(&f.chain, &f.anchors, std::slice::from_ref(&crl), NOW, &policy);
    }
});
