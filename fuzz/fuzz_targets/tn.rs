#![no_main]
//! Telephone-number canonicalisation.
use libfuzzer_sys::fuzz_target;
use shaken::tn::{TelephoneNumber, TnPolicy};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(tn) = TelephoneNumber::parse(s, &TnPolicy::default()) {
        assert!(tn.as_str().len() <= 15);
        assert!(tn.as_str().bytes().all(|b| b.is_ascii_digit() || b == b'*' || b == b'#'));
    }
});
