//! The published test vectors (specs §8 b), read from tests/data/vectors/.

use crate::support::{bin, test_data};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use shaken::canonical_json as canonical;
use shaken::cert::claim_constraints::ClaimConstraints;
use shaken::cert::{TnAuthList, TnEntry};
use shaken::crypto::{
    public_point_from_pem, verify_es256, DeterministicSigner, RawSignature, Signer,
};
use shaken::passport::{
    dangerous, rebuild_compact, sign, ClaimsPolicy, Header, Token, UnverifiedPassport,
};
use shaken::{b64, Limits};

fn vector(name: &str) -> String {
    let p = test_data("vectors").join(name);
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_owned()
}

fn limits() -> Limits {
    Limits::default()
}

#[test]
fn t1_keys_a2_is_not_the_a1_public_key() {
    let signer = DeterministicSigner::from_pem(&vector("rfc8225-a1-private.pem")).unwrap();
    let a1_pub = public_point_from_pem(&vector("rfc8225-a1-public.pem")).unwrap();
    let a2_pub = public_point_from_pem(&vector("rfc8225-a2-public.pem")).unwrap();
    assert_eq!(signer.public_key().unwrap(), a1_pub);
    assert_ne!(a1_pub, a2_pub);
}

#[test]
fn t2_serialises_byte_exact_and_its_signature_verifies_with_neither_key() {
    let t2 = vector("t2-rfc8225-appendix-a.token");
    let p = UnverifiedPassport::parse(&t2, &limits()).unwrap();
    // Our canonical serialisation of the decoded header and claims gives the same bytes.
    let h = b64::encode(canonical(&p.header().unwrap().to_json()).as_bytes());
    let claims = dangerous::claims(&p, &limits(), &ClaimsPolicy::default()).unwrap();
    let c = b64::encode(canonical(&claims.to_json()).as_bytes());
    assert_eq!(format!("{h}.{c}"), p.signing_input());
    for key in ["rfc8225-a1-public.pem", "rfc8225-a2-public.pem"] {
        let point = public_point_from_pem(&vector(key)).unwrap();
        assert!(p.verify_signature(&point).is_err(), "{key}");
    }
}

#[test]
fn t3_verifies_with_a2_and_string_iat_needs_the_lenient_policy() {
    let t3 = vector("t3-rfc8225-7.1.token");
    let p = UnverifiedPassport::parse(&t3, &limits()).unwrap();
    p.verify_signature(&public_point_from_pem(&vector("rfc8225-a2-public.pem")).unwrap())
        .unwrap();
    assert!(dangerous::claims(&p, &limits(), &ClaimsPolicy::default()).is_err());
    let c = dangerous::claims(&p, &limits(), &ClaimsPolicy::new(true)).unwrap();
    assert_eq!(c.iat, 1443208345);
    // The compact form decodes to the same signature.
    let Token::Compact { signature } =
        Token::parse(&vector("t3-rfc8225-7.1-compact.token"), &limits()).unwrap()
    else {
        panic!("compact form expected");
    };
    assert_eq!(&signature, p.signature());
}

#[test]
fn t3_compact_form_is_refused_by_the_shaken_verifier() {
    let o = bin()
        .args([
            "verify",
            &format!(
                "{};info=<https://cert.example.org/passport.cer>;ppt=shaken",
                vector("t3-rfc8225-7.1-compact.token")
            ),
            "--format",
            "json",
            "--now",
            "1443208345",
        ])
        .env_remove("SHAKEN_TRUST_ANCHORS")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["reason"]["id"], "compact-form");
    assert_eq!(v["reason"]["code"], 438);
}

#[test]
fn t4_rfc7515_high_s_signature_verifies() {
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    let text = vector("t4-rfc7515-a3.txt");
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap()
            .to_owned()
    };
    let x = b64::decode(&field("x")).unwrap();
    let y = b64::decode(&field("y")).unwrap();
    let point = p256::EncodedPoint::from_affine_coordinates(
        x.as_slice().into(),
        y.as_slice().into(),
        false,
    );
    let key = p256::PublicKey::from_sec1_bytes(point.as_bytes()).unwrap();
    let point = key.to_encoded_point(false).as_bytes().to_vec();
    let sig: RawSignature = b64::decode(&field("signature"))
        .unwrap()
        .try_into()
        .unwrap();
    verify_es256(&point, field("input").as_bytes(), &sig).unwrap();
}

#[test]
fn t5_tokens_are_reproduced_by_deterministic_signing() {
    let signer = DeterministicSigner::from_pem(&vector("rfc8225-a1-private.pem")).unwrap();
    let a1_pub = public_point_from_pem(&vector("rfc8225-a1-public.pem")).unwrap();
    for name in ["t5-baseline.token", "t5-shaken.token"] {
        let token = vector(name);
        let p = UnverifiedPassport::parse(&token, &limits()).unwrap();
        p.verify_signature(&a1_pub).unwrap();
        let header: Header = p.header().unwrap();
        let claims = dangerous::claims(&p, &limits(), &ClaimsPolicy::default()).unwrap();
        assert_eq!(sign(&header, &claims, &signer).unwrap(), token, "{name}");
        // And the compact form rebuilds to the same token.
        assert_eq!(
            rebuild_compact(&header, &claims, p.signature()),
            token,
            "{name}"
        );
    }
}

#[test]
fn t6_der_vectors_round_trip() {
    let der = STANDARD.decode(vector("t6-tnauthlist.b64")).unwrap();
    let list = TnAuthList::from_der(&der).unwrap();
    assert_eq!(
        list.0,
        vec![
            TnEntry::Spc("bogus".into()),
            TnEntry::Range {
                start: "5715551212".into(),
                count: 788
            },
            TnEntry::One("7035551212".into()),
        ]
    );
    assert_eq!(list.to_der().unwrap(), der);
    let spc = TnAuthList::from_der(
        &STANDARD
            .decode(vector("t6-tnauthlist-spc-only.b64"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(spc.spc(), Some("1234"));
    let der = STANDARD
        .decode(vector("t6-jwtclaimconstraints.b64"))
        .unwrap();
    let c = ClaimConstraints::from_der(&der, false).unwrap();
    assert_eq!(c.must_include, vec!["foo"]);
    assert_eq!(c.to_der().unwrap(), der);
}
