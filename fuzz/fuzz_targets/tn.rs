#![no_main]
//! Telephone-number canonicalisation: bounded output, only dialable
//! characters, and idempotence (a canonical number parses to itself) under
//! both national rules.
use libfuzzer_sys::fuzz_target;
use shaken::tn::{NationalRule, TelephoneNumber, TnPolicy};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    for national in [NationalRule::Nanp, NationalRule::None] {
        let policy = TnPolicy { national };
        if let Ok(tn) = TelephoneNumber::parse(s, &policy) {
            assert!(tn.as_str().len() <= 15);
            assert!(tn.as_str().bytes().all(|b| b.is_ascii_digit() || b == b'*' || b == b'#'));
            // Canonical digits are E.164 without the '+': with the '+' back they
            // read as themselves under every rule, and as they are under `none`
            // (under `nanp` a 10-digit E.164 number reads as national: PASSporT
            // claims are matched both ways, see TelephoneNumber::parse_claim).
            if tn.as_str().bytes().all(|b| b.is_ascii_digit()) {
                let plus = TelephoneNumber::parse(&format!("+{tn}"), &policy).expect("+canonical parses");
                assert_eq!(plus, tn, "idempotent as E.164");
            }
            let none = TnPolicy { national: NationalRule::None };
            let again = TelephoneNumber::parse(tn.as_str(), &none).expect("a canonical number parses");
            assert_eq!(again, tn, "canonicalisation is idempotent");
            let claim = TelephoneNumber::parse_claim(tn.as_str(), &policy).expect("claim parses");
            assert!(claim.matches(&tn), "a canonical claim matches its own number");
        }
    }
});
