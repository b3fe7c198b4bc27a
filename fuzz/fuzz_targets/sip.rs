#![no_main]
//! SIP request reading and every accessor.
use libfuzzer_sys::fuzz_target;
use shaken::sip::SipRequest;
use shaken::Limits;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = SipRequest::parse(data, &Limits::default()) {
        let _ = req.from();
        let _ = req.to();
        let _ = req.p_asserted_identities();
        let _ = req.date();
        let _ = req.identity_headers();
        let _ = req.with_headers_added(&["Identity: x".to_string()]);
        let _ = req.without_header("identity");
    }
});
