#![no_main]
//! Certificate extension DER: TNAuthList and JWT claim constraints (RFC 8226,
//! RFC 9118): decode, and re-encode what decodes.
use libfuzzer_sys::fuzz_target;
use shaken::cert::claim_constraints::ClaimConstraints;
use shaken::cert::TnAuthList;

fuzz_target!(|data: &[u8]| {
    if let Ok(list) = TnAuthList::from_der(data) {
        let der = list.to_der().expect("a decoded list re-encodes");
        assert_eq!(TnAuthList::from_der(&der).expect("round trip"), list);
    }
    for enhanced in [false, true] {
        if let Ok(c) = ClaimConstraints::from_der(data, enhanced) {
            let der = c.to_der().expect("decoded constraints re-encode");
            assert_eq!(ClaimConstraints::from_der(&der, true).expect("round trip"), c);
        }
    }
});
