//! Test vectors shared by the PASSporT unit tests (RFC 8225 Appendix A and
//! tokens derived from it; see specs §8).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::{Claims, Dest, Header, Orig};
use crate::Limits;
use std::collections::BTreeMap;

pub(super) const A1_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgi7q2TZvN9VDFg8Vy
qCP06bETrR2v8MRvr89rn4i+UAahRANCAAQWfaj1HUETpoNCrOtp9KA8o0V79IuW
ARKt9C1cFPkyd3FBP4SeiNZxQhDrD0tdBHls3/wFe8++K2FrPyQF9vuh
-----END PRIVATE KEY-----
";
/// RFC 8225 A.2 as printed (the key that verifies the §7.1 example).
pub(super) const A2_PUB: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE8HNbQd/TmvCKwPKHkMF9fScavGeH
78YTU8qLS8I5HLHSSmlATLcslQMhNC/OhlWBYC626nIlo7XeebYS7Sb37g==
-----END PUBLIC KEY-----
";
pub(super) const T2: &str = "eyJhbGciOiJFUzI1NiIsInR5cCI6InBhc3Nwb3J0IiwieDV1IjoiaHR0cHM6Ly9jZXJ0LmV4YW1wbGUub3JnL3Bhc3Nwb3J0LmNlciJ9.eyJkZXN0Ijp7InVyaSI6WyJzaXA6YWxpY2VAZXhhbXBsZS5jb20iXX0sImlhdCI6MTQ3MTM3NTQxOCwib3JpZyI6eyJ0biI6IjEyMTU1NTUxMjEyIn19.VLBCIVDCaeK6M4hLJb6SHQvacAQVvoiiEOWQ_iUkqk79UD81fHQ0E1b3_GluIkba7UWYRM47ZbNFdOJquE35cw";
pub(super) const T3: &str = "eyJhbGciOiJFUzI1NiIsInR5cCI6InBhc3Nwb3J0IiwieDV1IjoiaHR0cHM6Ly9jZXJ0LmV4YW1wbGUub3JnL3Bhc3Nwb3J0LmNlciJ9.eyJkZXN0Ijp7InVyaSI6WyJzaXA6YWxpY2VAZXhhbXBsZS5jb20iXX0sImlhdCI6IjE0NDMyMDgzNDUiLCJvcmlnIjp7InRuIjoiMTIxNTU1NTEyMTIifX0.rq3pjT1hoRwakEGjHCnWSwUnshd0-zJ6F1VOgFWSjHBr8Qjpjlk-cpFYpFYsojNCpTzO3QfPOlckGaS6hEck7w";
pub(super) const T5_BASELINE: &str = "eyJhbGciOiJFUzI1NiIsInR5cCI6InBhc3Nwb3J0IiwieDV1IjoiaHR0cHM6Ly9jZXJ0LmV4YW1wbGUub3JnL3Bhc3Nwb3J0LmNlciJ9.eyJkZXN0Ijp7InVyaSI6WyJzaXA6YWxpY2VAZXhhbXBsZS5jb20iXX0sImlhdCI6MTQ3MTM3NTQxOCwib3JpZyI6eyJ0biI6IjEyMTU1NTUxMjEyIn19.2c_SAul3BxIuvMR3G8VfbFwj6ZoOHBQF-qVaR-Mef0V2ipEhTe0ZYBaLrnhuSRVNwy1Tu-tr334XUBdnPYi3tA";
pub(super) const T5_SHAKEN: &str = "eyJhbGciOiJFUzI1NiIsInBwdCI6InNoYWtlbiIsInR5cCI6InBhc3Nwb3J0IiwieDV1IjoiaHR0cHM6Ly9jZXJ0LmV4YW1wbGUub3JnL3Bhc3Nwb3J0LmNlciJ9.eyJhdHRlc3QiOiJBIiwiZGVzdCI6eyJ0biI6WyIxMjE1NTU1MDEzMSJdfSwiaWF0IjoxNDQzMjA4MzQ1LCJvcmlnIjp7InRuIjoiMTIxNTU1NTAxMjEifSwib3JpZ2lkIjoiMTIzZTQ1NjctZTg5Yi0xMmQzLWE0NTYtNDI2NjU1NDQwMDAwIn0.PwimjV0wnsRsOCmtANjxRqn2_o1EhP-l8ixwLTIbyhMUF4qiJVy7mRUmup5JAeX8xy4hu4uZYeVmwVJtLuYnpw";
pub(super) const X5U: &str = "https://cert.example.org/passport.cer";

pub(super) fn limits() -> Limits {
    Limits::default()
}

pub(super) fn baseline_header() -> Header {
    Header {
        alg: "ES256".into(),
        typ: Some("passport".into()),
        ppt: None,
        x5u: Some(X5U.into()),
        extra: BTreeMap::new(),
    }
}

pub(super) fn baseline_claims() -> Claims {
    Claims {
        iat: 1471375418,
        orig: Orig::Tn("12155551212".into()),
        dest: Dest {
            tn: vec![],
            uri: vec!["sip:alice@example.com".into()],
        },
        attest: None,
        origid: None,
        extra: BTreeMap::new(),
        iat_was_string: false,
    }
}
