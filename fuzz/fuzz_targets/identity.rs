#![no_main]
//! Identity header parsing and its strict round trip: what parses prints to
//! a value that parses to the same header.
use libfuzzer_sys::fuzz_target;
use shaken::identity::IdentityHeader;
use shaken::Limits;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let limits = Limits::default();
    if let Ok(list) = IdentityHeader::parse_list(s, &limits) {
        for h in list {
            let printed = h.to_string();
            let again = IdentityHeader::parse(&printed, &limits).expect("a printed header parses");
            // Printing spells out the default alg (ES256, RFC 8224 §4.1).
            let mut expected = h.clone();
            expected.alg.get_or_insert_with(|| "ES256".into());
            assert_eq!(again, expected, "round trip of {printed:?}");
        }
    }
    let _ = IdentityHeader::parse_one(s, &limits);
});
