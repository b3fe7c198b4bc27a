#![no_main]
//! Rich Call Data claims (shaken::rcd, issue 16): a PASSporT payload read
//! as both carriages, then everything done with claims that read: the
//! report, the URLs the digests want (the input itself stands for every
//! fetched body, so `/jcl/...` pointers are followed into it), the
//! integrity checks, signing digests and the Call-Info lines. Nothing may
//! panic or loop.
use libfuzzer_sys::fuzz_target;
use shaken::rcd::{DigestAlg, RcdClaims, RcdContent, RcdReport};

fuzz_target!(|data: &[u8]| {
    let Ok(payload) = shaken::parse_json_strict(data, 8) else { return };
    for ppt_rcd in [false, true] {
        let Ok(Some(claims)) = RcdClaims::from_payload(&payload, ppt_rcd) else { continue };
        let mut content = RcdContent::new();
        for _round in 0..3 {
            for url in claims.wanted(&content) {
                content.insert(url, Ok(data.to_vec()));
            }
        }
        let _ = claims.check_integrity(&content);
        let mut report = RcdReport::new(&claims, Ok(()), &content, "shaken");
        report.fill_call_info(true);
        report.compare_display_name("From", Some("x"));
        let _ = report.summary();
        let _ = claims.clone().with_digests(DigestAlg::Sha256, &content);
    }
});
