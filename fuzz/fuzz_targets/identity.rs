#![no_main]
//! Identity header parsing and its strict round trip.
use libfuzzer_sys::fuzz_target;
use shaken::identity::IdentityHeader;
use shaken::Limits;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let limits = Limits::default();
    if let Ok(list) = IdentityHeader::parse_list(s, &limits) {
        for h in list {
            let _ = IdentityHeader::parse(&h.to_string(), &limits);
        }
    }
});
