//! Rich Call Data through the whole procedure (RFC 9795 §8): both
//! carriages, the construction rules (438 `rcd-invalid`), the certificate's
//! claim constraints on `rcd`/`crn`/`rcdi` (438 `claim-constraint-violated`)
//! and digests that make the RCD untrusted without failing the call.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::test_lab::{lab, Lab, NOW, X5U};
use super::{report, report_with_content, CallContext};
use crate::cert::claim_constraints::ClaimConstraints;
use crate::cert::{parse_chain, Certificate};
use crate::crypto::KeySigner;
use crate::identity::IdentityHeader;
use crate::json::parse_strict;
use crate::passport::{sign, Attestation, Claims, Header};
use crate::pki::LeafOptions;
use crate::rcd::{Integrity, RcdContent, PPT_RCD};
use crate::report::{Report, Verstat};
use crate::Limits;
use serde_json::Value;

fn with_extra(mut claims: Claims, extra: &str) -> Claims {
    let Value::Object(m) = parse_strict(extra.as_bytes(), 16).unwrap() else {
        panic!("not an object")
    };
    claims.extra.extend(m);
    claims
}

fn shaken_claims(extra: &str) -> Claims {
    with_extra(
        Claims::shaken(
            Attestation::A,
            "12155550121",
            vec!["12125550143".into()],
            NOW,
            "123e4567-e89b-12d3-a456-426655440000",
        ),
        extra,
    )
}

fn rcd_identity(key: &str, extra: &str) -> IdentityHeader {
    let signer = KeySigner::from_pem(key).unwrap();
    let mut claims = shaken_claims(extra);
    claims.attest = None;
    claims.origid = None;
    let mut header = Header::shaken(X5U);
    header.ppt = Some(PPT_RCD.into());
    let token = sign(&header, &claims, &signer).unwrap();
    let mut id = IdentityHeader::shaken(token, X5U);
    id.ppt = Some(PPT_RCD.into());
    id
}

fn verify(lab: &Lab, chain: &[Certificate], key: &str, extra: &str) -> Report {
    let signer = KeySigner::from_pem(key).unwrap();
    let token = sign(&Header::shaken(X5U), &shaken_claims(extra), &signer).unwrap();
    let identity = IdentityHeader::shaken(token, X5U);
    report(
        &lab.verifier
            .verify_with_chain(&identity, &CallContext::at(NOW), chain),
    )
}

#[test]
fn inline_rcd_in_the_shaken_passport_is_verified() {
    let lab = lab();
    let r = verify(
        &lab,
        &lab.chain,
        &lab.leaf_key,
        r#"{"rcd":{"nam":"Acme Bank"},"crn":"Card fraud alert"}"#,
    );
    assert_eq!(r.verstat, Verstat::Passed, "{:?}", r.reason);
    let rcd = r.rcd.unwrap();
    assert!(rcd.verified);
    assert_eq!(rcd.nam.as_deref(), Some("Acme Bank"));
    assert_eq!(rcd.crn.as_deref(), Some("Card fraud alert"));
    assert_eq!(rcd.carriage.as_deref(), Some("shaken"));
    assert_eq!(rcd.summary(), "Acme Bank (verified)");
    // Without rcd claims the report has no rcd object (and the JSON no key).
    let r = verify(&lab, &lab.chain, &lab.leaf_key, "{}");
    assert!(r.rcd.is_none());
    assert!(!serde_json::to_string(&r).unwrap().contains("\"rcd\""));
}

#[test]
fn malformed_rcd_fails_the_passport_naming_the_member() {
    let lab = lab();
    for (extra, member) in [
        (r#"{"rcd":{"icn":"https://x.example/a.png"}}"#, "\"nam\""),
        (
            r#"{"rcd":{"nam":"a","jcd":["vcard",[]],"jcl":"https://x.example/j"}}"#,
            "\"jcl\"",
        ),
        (r#"{"rcd":"Acme"}"#, "\"rcd\""),
        (r#"{"rcdi":{}}"#, "\"rcdi\""),
    ] {
        let r = verify(&lab, &lab.chain, &lab.leaf_key, extra);
        let reason = r.reason.unwrap();
        assert_eq!(reason.id, "rcd-invalid", "{extra}");
        assert_eq!(reason.code, 438);
        assert_eq!(r.verstat, Verstat::NoValidation);
        assert!(reason.detail.contains(member), "{extra}: {}", reason.detail);
    }
}

#[test]
fn a_separate_rcd_passport_verifies() {
    let lab = lab();
    let id = rcd_identity(&lab.leaf_key, r#"{"rcd":{"nam":"Acme Bank"}}"#);
    let r = report(
        &lab.verifier
            .verify_with_chain(&id, &CallContext::at(NOW), &lab.chain),
    );
    assert_eq!(r.verstat, Verstat::Passed, "{:?}", r.reason);
    assert_eq!(r.ppt.as_deref(), Some("rcd"));
    let rcd = r.rcd.unwrap();
    assert!(rcd.verified);
    assert_eq!(rcd.carriage.as_deref(), Some("rcd"));
    // ppt=rcd with neither rcd nor crn.
    let id = rcd_identity(&lab.leaf_key, "{}");
    let r = report(
        &lab.verifier
            .verify_with_chain(&id, &CallContext::at(NOW), &lab.chain),
    );
    assert_eq!(r.reason.unwrap().id, "rcd-invalid");
}

#[test]
fn a_bad_signature_leaves_the_rcd_unverified() {
    let lab = lab();
    let other =
        crate::pki::LabPki::generate(&crate::pki::LabPkiOptions::new(NOW - 86_400, NOW + 86_400))
            .unwrap();
    let wrong = other
        .issue_leaf(&LeafOptions::new(NOW - 3600, NOW + 3600))
        .unwrap();
    let r = verify(
        &lab,
        &lab.chain,
        &wrong.key_pem,
        r#"{"rcd":{"nam":"Acme Bank"}}"#,
    );
    assert_eq!(r.reason.as_ref().unwrap().id, "signature-invalid");
    let rcd = r.rcd.unwrap();
    assert!(!rcd.verified);
    assert!(rcd.reason.unwrap().contains("signature-invalid"));
}

#[test]
fn digests_untrust_the_rcd_but_not_the_call() {
    let lab = lab();
    // /nam digest of "Q Branch Spy Gadgets" on another name: mismatch.
    let r = verify(
        &lab,
        &lab.chain,
        &lab.leaf_key,
        r#"{"rcd":{"nam":"Acme Bank","icn":"https://cdn.example/logo.png"},"rcdi":{"/nam":"sha256-sM275lTgzCte+LHOKHtU4SxG8shlOo6OS4ot8IJQImY","/icn":"sha256-sM275lTgzCte+LHOKHtU4SxG8shlOo6OS4ot8IJQImY"}}"#,
    );
    assert_eq!(r.verstat, Verstat::Passed, "{:?}", r.reason);
    let rcd = r.rcd.unwrap();
    assert!(!rcd.verified);
    assert_eq!(rcd.integrity["/nam"], Integrity::Mismatch);
    assert_eq!(rcd.integrity["/icn"], Integrity::Unverified);
    // The matching digests, with the icon fetched.
    let signer = KeySigner::from_pem(&lab.leaf_key).unwrap();
    let rcd = crate::rcd::RcdClaims::new(
        Some(crate::rcd::Rcd {
            icn: Some("https://cdn.example/logo.png".into()),
            ..crate::rcd::Rcd::named("Acme Bank")
        }),
        None,
    );
    let mut content = RcdContent::new();
    content.insert("https://cdn.example/logo.png", Ok(b"\x89PNG".to_vec()));
    let rcd = rcd
        .with_digests(crate::rcd::DigestAlg::Sha384, &content)
        .unwrap();
    let mut claims = shaken_claims("{}");
    rcd.insert_into(&mut claims.extra);
    let token = sign(&Header::shaken(X5U), &claims, &signer).unwrap();
    let result = lab.verifier.verify_with_chain(
        &IdentityHeader::shaken(token, X5U),
        &CallContext::at(NOW),
        &lab.chain,
    );
    let r = report_with_content(&result, &content);
    let got = r.rcd.unwrap();
    assert!(got.verified, "{:?}", got.reason);
    assert_eq!(got.integrity["/icn"], Integrity::Verified);
    // Not fetched: unverified, the call still passes.
    let r = report(&result);
    assert_eq!(r.verstat, Verstat::Passed);
    assert!(!r.rcd.unwrap().verified);
    // The content changed since signing.
    let mut changed = RcdContent::new();
    changed.insert("https://cdn.example/logo.png", Ok(b"GIF89a".to_vec()));
    let r = report_with_content(&result, &changed);
    assert_eq!(r.verstat, Verstat::Passed);
    let got = r.rcd.unwrap();
    assert_eq!(got.integrity["/icn"], Integrity::Mismatch);
    assert!(got.reason.unwrap().contains("changed since signing"));
}

fn constrained(lab: &Lab, c: &ClaimConstraints) -> (Vec<Certificate>, String) {
    let (mut params, key) = lab
        .pki
        .leaf_params(&LeafOptions::new(NOW - 3600, NOW + 3600))
        .unwrap();
    params
        .custom_extensions
        .push(rcgen::CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 5, 5, 7, 1, 33],
            c.to_der().unwrap(),
        ));
    let leaf = lab.pki.issue_custom(params, &key).unwrap();
    let chain = parse_chain(
        format!("{}{}", leaf.cert_pem, lab.pki.ca.cert_pem).as_bytes(),
        &Limits::default(),
    )
    .unwrap();
    (chain, leaf.key_pem)
}

/// RFC 9795 §6.2, §6.3, §7.1: a certificate that fixes the name, the call
/// reason or the digests.
#[test]
fn claim_constraints_on_rcd_crn_and_rcdi() {
    let lab = lab();
    let c = ClaimConstraints {
        must_include: vec!["rcd".into(), "crn".into()],
        permitted_values: vec![
            // Written with spaces: compared as JSON, not as text.
            ("rcd".into(), vec![r#"{ "nam": "Acme Bank" }"#.into()]),
            ("crn".into(), vec!["Card fraud alert".into()]),
        ],
        must_exclude: vec![],
    };
    let (chain, key) = constrained(&lab, &c);
    let ok = verify(
        &lab,
        &chain,
        &key,
        r#"{"rcd":{"nam":"Acme Bank"},"crn":"Card fraud alert"}"#,
    );
    assert_eq!(ok.verstat, Verstat::Passed, "{:?}", ok.reason);
    assert!(ok.rcd.unwrap().verified);
    for (extra, claim) in [
        (
            r#"{"rcd":{"nam":"Evil Bank"},"crn":"Card fraud alert"}"#,
            "\"rcd\"",
        ),
        (r#"{"rcd":{"nam":"Acme Bank"},"crn":"Prize"}"#, "\"crn\""),
        (r#"{"rcd":{"nam":"Acme Bank"}}"#, "\"crn\""),
    ] {
        let r = verify(&lab, &chain, &key, extra);
        let reason = r.reason.unwrap();
        assert_eq!(reason.id, "claim-constraint-violated", "{extra}");
        assert_eq!(reason.code, 438);
        assert!(reason.detail.contains(claim), "{extra}: {}", reason.detail);
        assert!(!r.rcd.unwrap().verified);
    }
    // §6.3: the certificate pins the rcdi value (the name stays private).
    let rcdi = r#"{"/nam":"sha256-sM275lTgzCte+LHOKHtU4SxG8shlOo6OS4ot8IJQImY"}"#;
    let c = ClaimConstraints {
        must_include: vec!["rcd".into(), "rcdi".into()],
        permitted_values: vec![("rcdi".into(), vec![rcdi.into()])],
        must_exclude: vec![],
    };
    let (chain, key) = constrained(&lab, &c);
    let r = verify(
        &lab,
        &chain,
        &key,
        &format!(r#"{{"rcd":{{"nam":"Q Branch Spy Gadgets"}},"rcdi":{rcdi}}}"#),
    );
    assert_eq!(r.verstat, Verstat::Passed, "{:?}", r.reason);
    assert!(r.rcd.unwrap().verified);
    let r = verify(
        &lab,
        &chain,
        &key,
        r#"{"rcd":{"nam":"Q Branch Spy Gadgets"}}"#,
    );
    assert_eq!(r.reason.unwrap().id, "claim-constraint-violated");
    // A gateway delegate that must never carry a name (RFC 9795 §16.1).
    let c = ClaimConstraints {
        must_include: vec![],
        permitted_values: vec![],
        must_exclude: vec!["rcd".into()],
    };
    let (chain, key) = constrained(&lab, &c);
    let r = verify(&lab, &chain, &key, r#"{"rcd":{"nam":"Acme Bank"}}"#);
    assert_eq!(r.reason.unwrap().id, "claim-constraint-violated");
}
