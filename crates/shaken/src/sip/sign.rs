//! Signing a SIP request (RFC 8224 §6.1, ATIS-1000074 §5.3.1): orig from
//! P-Asserted-Identity (the first value that is a telephone number) else
//! From, dest from To, a `Date` added when absent and checked against `iat`
//! when present; the `Identity` header is appended and every other byte of
//! the request is kept.

use super::verify::{header_err, SipVerifyError};
use super::{NameAddr, SipRequest};
use crate::crypto::Signer;
use crate::identity::IdentityHeader;
use crate::passport::{self, Attestation, Claims, Header};
use crate::tn::{TelephoneNumber, TnPolicy};

/// Largest accepted difference between an existing `Date` header and the
/// `iat` being signed, in seconds (RFC 8224 §6.1 step 3: 60 s RECOMMENDED).
pub const SIGN_DATE_WINDOW: i64 = 60;

/// The identity to sign for: the first P-Asserted-Identity value that is a
/// telephone number, else From.
fn orig_for_signing(req: &SipRequest, tn: &TnPolicy) -> Result<TelephoneNumber, SipVerifyError> {
    let pai = req
        .p_asserted_identities()
        .map_err(header_err("P-Asserted-Identity"))?;
    if let Some(t) = pai
        .iter()
        .find_map(|p| TelephoneNumber::parse(&p.uri, tn).ok())
    {
        return Ok(t);
    }
    let from: NameAddr = req.from().map_err(header_err("From"))?;
    let header = if pai.is_empty() {
        "From"
    } else {
        "From (no P-Asserted-Identity value is a number)"
    };
    TelephoneNumber::parse(&from.uri, tn).map_err(|source| SipVerifyError::NotTn {
        header,
        uri: from.uri.clone(),
        source,
    })
}

/// Sign: orig from P-Asserted-Identity (the first value that is a TN) else
/// From, dest from To; adds `Identity: ...` and, if absent, a `Date` header
/// equal to `iat` (SIP date format); returns the new message bytes. An
/// existing Date more than [`SIGN_DATE_WINDOW`] seconds from `iat` is refused
/// (RFC 8224 §6.1). Everything else (body, Content-Length, line ends) is
/// kept as received.
pub fn sign_request(
    req: &SipRequest,
    signer: &dyn Signer,
    x5u: &str,
    attest: Attestation,
    iat: i64,
    origid: &str,
    tn: &TnPolicy,
) -> Result<Vec<u8>, SipVerifyError> {
    sign_request_with_rcd(req, signer, x5u, attest, iat, origid, tn, None)
}

/// [`sign_request`] with Rich Call Data (RFC 9795): `rcd` claims in the
/// `shaken` PASSporT, or (`rcd.separate`) a second `Identity` header with a
/// `ppt=rcd` PASSporT for the same call (RFC 9795 §12.1).
#[allow(clippy::too_many_arguments)]
pub fn sign_request_with_rcd(
    req: &SipRequest,
    signer: &dyn Signer,
    x5u: &str,
    attest: Attestation,
    iat: i64,
    origid: &str,
    tn: &TnPolicy,
    rcd: Option<&crate::rcd::RcdSigning>,
) -> Result<Vec<u8>, SipVerifyError> {
    if iat < 0 {
        return Err(SipVerifyError::NegativeIat { iat });
    }
    let orig = orig_for_signing(req, tn)?;
    let to = req.to().map_err(header_err("To"))?;
    let dest = TelephoneNumber::parse(&to.uri, tn).map_err(|source| SipVerifyError::NotTn {
        header: "To",
        uri: to.uri.clone(),
        source,
    })?;
    let date = req.date().map_err(header_err("Date"))?;
    if let Some(date) = date {
        let diff = date.saturating_sub(iat).saturating_abs();
        if diff > SIGN_DATE_WINDOW {
            return Err(SipVerifyError::DateOff {
                date,
                iat,
                diff,
                max: SIGN_DATE_WINDOW,
            });
        }
    }
    let header = Header::shaken(x5u);
    let mut claims = Claims::shaken(
        attest,
        orig.to_string(),
        vec![dest.to_string()],
        iat,
        origid,
    );
    let mut second = None;
    match rcd {
        Some(r) if r.separate => {
            let c = crate::rcd::separate_claims(&claims, &r.claims);
            let token = passport::sign(&crate::rcd::rcd_header(x5u), &c, signer)?;
            let mut id = IdentityHeader::shaken(token, x5u);
            id.ppt = Some(crate::rcd::PPT_RCD.into());
            second = Some(id.to_string());
        }
        Some(r) => r.claims.insert_into(&mut claims.extra),
        None => {}
    }
    let token = passport::sign(&header, &claims, signer)?;
    let identity = IdentityHeader::shaken(token, x5u).to_string();
    let mut lines = Vec::with_capacity(3);
    if date.is_none() {
        lines.push(format!("Date: {}", sip_date(iat)));
    }
    lines.push(format!("Identity: {identity}"));
    if let Some(id) = second {
        lines.push(format!("Identity: {id}"));
    }
    Ok(req.with_headers_added(&lines))
}

/// `iat` in the SIP date format (RFC 3261 §20.17), e.g.
/// `Tue, 16 Aug 2016 19:23:38 GMT`.
fn sip_date(iat: i64) -> String {
    let secs = u64::try_from(iat).unwrap_or(0);
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::sip::test_lab::*;

    /// Rich Call Data both ways (RFC 9795 §12): claims in the shaken
    /// PASSporT, or a second Identity header with ppt=rcd; the name is
    /// compared with the From display name ("Alice") and the Call-Info lines
    /// are given.
    #[test]
    fn sign_and_verify_rich_call_data_both_carriages() {
        use crate::rcd::{Rcd, RcdClaims, RcdSigning};
        let lab = lab();
        let v = lab.verifier();
        for separate in [false, true] {
            let rcd = RcdSigning {
                claims: RcdClaims::new(
                    Some(Rcd {
                        icn: Some("https://cdn.example/acme.png".into()),
                        ..Rcd::named("Acme Bank")
                    }),
                    Some("Card \"fraud\" alert".into()),
                ),
                separate,
            };
            let out = sign_request_with_rcd(
                &parse(TEL),
                &lab.signer(),
                X5U,
                Attestation::A,
                NOW,
                ORIGID,
                &TnPolicy::default(),
                Some(&rcd),
            )
            .unwrap();
            let signed = parse(&out);
            assert_eq!(signed.identity_headers().len(), 1 + usize::from(separate));
            let r = lab.verify(&v, &signed, NOW + 5);
            assert!(r.passed(), "{:?}", r.overall.reason);
            let got = r.overall.rcd.as_ref().expect("rcd");
            assert!(got.verified, "{:?}", got.reason);
            assert_eq!(got.nam.as_deref(), Some("Acme Bank"));
            assert_eq!(
                got.carriage.as_deref(),
                Some(if separate { "rcd" } else { "shaken" })
            );
            let d = got.display_name.as_ref().unwrap();
            assert_eq!(
                (d.header.as_str(), d.name.as_str(), d.matches),
                ("From", "Alice", false)
            );
            assert_eq!(
                got.call_info,
                [
                    "Call-Info: <https://cdn.example/acme.png>;purpose=icon;verified=\"true\"",
                    "Call-Info: <data:>;purpose=jcard;call-reason=\"Card \\\"fraud\\\" alert\";verified=\"true\"",
                ]
            );
            if separate {
                assert_eq!(r.passports[1].ppt.as_deref(), Some("rcd"));
                assert!(!r.passports[1].supported);
                assert!(r.overall.warnings.is_empty(), "{:?}", r.overall.warnings);
                // The shaken PASSporT altered, the rcd one intact: the call
                // fails, and its name is not vouched for either.
                let text = String::from_utf8(out.clone()).unwrap();
                let line = text
                    .split("\r\n")
                    .find(|l| l.starts_with("Identity: ") && l.ends_with("ppt=shaken"))
                    .unwrap();
                let at = text.find(line).unwrap();
                let sig = at + line.find(';').unwrap();
                let sig = text[at..sig].rfind('.').unwrap() + at + 1;
                let mut bytes = out.clone();
                bytes[sig] = if bytes[sig] == b'A' { b'B' } else { b'A' };
                let broken = lab.verify(&v, &parse(&bytes), NOW + 5);
                assert!(!broken.passed());
                assert!(broken.passports[1].report.passed());
                let got = broken.overall.rcd.as_ref().expect("rcd");
                assert!(!got.verified);
                assert!(got
                    .reason
                    .as_deref()
                    .unwrap()
                    .contains("shaken PASSporT did not pass"));
                assert!(got.call_info.is_empty());
                // Verified too late: the call fails as stale, and its name
                // (whose own PASSporT fails the same way) is not vouched for.
                let late = lab.verify(&v, &signed, NOW + 3600);
                assert!(!late.passed());
                let got = late.overall.rcd.as_ref().expect("rcd");
                assert!(!got.verified);
                assert!(got.call_info.is_empty());
            }
        }
    }

    #[test]
    fn sign_then_verify_every_template() {
        let lab = lab();
        let v = lab.verifier();
        for (name, msg) in [
            ("tel", TEL),
            ("pai-two", PAI2),
            ("no-date", NO_DATE),
            ("compact", COMPACT),
            ("folded", FOLDED),
            ("userphone", USERPHONE),
            ("lf", LF),
        ] {
            let signed = lab.sign(msg);
            assert_eq!(signed.identity_headers().len(), 1, "{name}");
            let r = lab.verify(&v, &signed, NOW + 5);
            assert!(r.passed(), "{name}: {:?}", r.overall.reason);
            assert_eq!(r.overall.orig.as_deref(), Some("12155550121"), "{name}");
            assert_eq!(r.overall.dest, vec!["12125550143".to_owned()], "{name}");
            assert_eq!(r.sip.verstat_param, ";verstat=TN-Validation-Passed");
            assert_eq!(r.sip.reason_header, None);
            assert_eq!(r.passports.len(), 1);
            assert!(r.passports[0].supported);
            assert_eq!(r.passports[0].ppt.as_deref(), Some("shaken"));
        }
    }

    #[test]
    fn sign_adds_date_only_when_missing() {
        let lab = lab();
        let signed = lab.sign(NO_DATE);
        assert_eq!(signed.date().unwrap(), Some(NOW));
        assert_eq!(
            signed.header_instances("date"),
            vec!["Tue, 16 Aug 2016 19:23:38 GMT"]
        );
        let signed = lab.sign(TEL);
        assert_eq!(signed.header_instances("date").len(), 1);
        // LF messages stay LF.
        let signed = lab.sign(LF);
        assert!(!signed.as_bytes().contains(&b'\r'));
        assert_eq!(signed.body(), parse(LF).body());
    }

    #[test]
    fn sign_refuses_date_far_from_iat() {
        let lab = lab();
        let req = parse(TEL);
        let e = sign_request(
            &req,
            &lab.signer(),
            X5U,
            Attestation::A,
            NOW + 120,
            ORIGID,
            &TnPolicy::default(),
        )
        .unwrap_err();
        assert!(
            matches!(e, SipVerifyError::DateOff { diff: 120, .. }),
            "{e}"
        );
        let e = sign_request(
            &req,
            &lab.signer(),
            X5U,
            Attestation::A,
            -1,
            ORIGID,
            &TnPolicy::default(),
        )
        .unwrap_err();
        assert!(matches!(e, SipVerifyError::NegativeIat { .. }));
    }

    #[test]
    fn sign_refuses_non_tn_identities() {
        let lab = lab();
        let req = replace(
            &parse(TEL),
            "from",
            "From: <sip:alice@atlanta.example.com>;tag=1",
        );
        let e = sign_request(
            &req,
            &lab.signer(),
            X5U,
            Attestation::A,
            NOW,
            ORIGID,
            &TnPolicy::default(),
        )
        .unwrap_err();
        assert!(
            matches!(e, SipVerifyError::NotTn { header: "From", .. }),
            "{e}"
        );
        let req = replace(&parse(TEL), "to", "To: <sip:bob@biloxi.example.com>");
        let e = sign_request(
            &req,
            &lab.signer(),
            X5U,
            Attestation::A,
            NOW,
            ORIGID,
            &TnPolicy::default(),
        )
        .unwrap_err();
        assert!(
            matches!(e, SipVerifyError::NotTn { header: "To", .. }),
            "{e}"
        );
        assert_eq!(e.id(), "sip-not-tn");
    }

    #[test]
    fn sign_uses_first_tn_pai() {
        let lab = lab();
        // PAI: a non-number sip URI first, then a tel.
        let req = replace(
            &parse(PAI2),
            "p-asserted-identity",
            "P-Asserted-Identity: <sip:alice@atlanta.example.com>, <tel:+1-215-555-0121>",
        );
        let out = sign_request(
            &req,
            &lab.signer(),
            X5U,
            Attestation::B,
            NOW,
            ORIGID,
            &TnPolicy::default(),
        )
        .unwrap();
        let r = lab.verify(&lab.verifier(), &parse(&out), NOW);
        assert!(r.passed(), "{:?}", r.overall.reason);
        assert_eq!(r.overall.orig.as_deref(), Some("12155550121"));
    }

    #[test]
    fn sip_date_format() {
        assert_eq!(sip_date(NOW), "Tue, 16 Aug 2016 19:23:38 GMT");
    }
}
