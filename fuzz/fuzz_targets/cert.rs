#![no_main]
//! Certificate chain and CRL parsing (PEM or DER).
use libfuzzer_sys::fuzz_target;
use shaken::cert::{parse_chain, Crl};
use shaken::Limits;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if let Ok(chain) = parse_chain(data, &limits) {
        for c in &chain {
            let _ = c.tn_auth_list();
            let _ = c.subject();
        }
    }
    let _ = Crl::from_pem_or_der(data, &limits);
});
