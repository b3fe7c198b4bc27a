#![no_main]
//! Token decoding, typed header/claims and the whole stage-1 verifier.
use libfuzzer_sys::fuzz_target;
use shaken::passport::{dangerous, ClaimsPolicy, Token};
use shaken::verify::{parse_identity_or_token, CallContext, Verifier};
use shaken::Limits;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let limits = Limits::default();
    if let Ok(Token::Full(p)) = Token::parse(s, &limits) {
        let _ = p.header();
        let _ = dangerous::claims(&p, &limits, &ClaimsPolicy::new(true));
    }
    if let Ok(h) = parse_identity_or_token(s, &limits) {
        let v = Verifier::new(Default::default());
        let _ = v.prepare(&h, &CallContext::at(1_800_000_000));
    }
});
