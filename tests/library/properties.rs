//! Property tests (issue 8, part 2): what must hold for every input, not
//! just the examples in the unit tests.
//!
//! - sign → Identity header → verify round-trips for arbitrary valid claims;
//! - any single-byte change to the signed token fails verification;
//! - the Identity header and TNAuthList DER round-trip;
//! - TN canonicalisation is idempotent.
//!
//! Case counts are modest (the suite runs in a debug build on every CI run),
//! the seed is fixed (see [`cfg`]) and nothing is persisted: a failure prints
//! its minimal input, which then belongs in a unit test of the owning module.

use crate::support::{self, X5U};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde_json::Value;
use shaken::cert::{parse_chain, Certificate, TnAuthList, TnEntry, TrustAnchors};
use shaken::crypto::{DeterministicSigner, KeySigner, Signer};
use shaken::identity::IdentityHeader;
use shaken::passport::{sign, Attestation, Claims, Header, Orig, Token};
use shaken::tn::{NationalRule, TelephoneNumber, TnPolicy};
use shaken::verify::{parse_identity_or_token, CallContext, PartyId, Verifier};
use shaken::Limits;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The lab certificates are valid from 2024-01-01 for a century.
const IAT_MIN: i64 = 1_704_067_200;
const IAT_MAX: i64 = 4_000_000_000;

/// Fixed seed, so a run is reproducible and CI never fails by chance; set
/// `PROPTEST_RNG_SEED=<u64>` (or `PROPTEST_CASES`) to explore further.
fn cfg(cases: u32) -> Config {
    let default = Config::default(); // reads the PROPTEST_* variables
    let explore = std::env::var_os("PROPTEST_RNG_SEED").is_some();
    Config {
        cases: if std::env::var_os("PROPTEST_CASES").is_some() {
            default.cases
        } else {
            cases
        },
        failure_persistence: None,
        rng_seed: if explore {
            default.rng_seed
        } else {
            RngSeed::Fixed(0x5348_414b_454e)
        },
        ..default
    }
}

fn certs(f: &str) -> Vec<u8> {
    std::fs::read(support::certs(f)).unwrap()
}

struct Lab {
    verifier: Verifier,
    chain: Vec<Certificate>,
    signer: KeySigner,
    deterministic: DeterministicSigner,
}

fn lab() -> &'static Lab {
    static LAB: OnceLock<Lab> = OnceLock::new();
    LAB.get_or_init(|| {
        let mut anchors = TrustAnchors::new();
        anchors.add_pem(&certs("anchors.pem")).unwrap();
        let key = String::from_utf8(certs("sp.key.pem")).unwrap();
        Lab {
            verifier: Verifier::new(anchors),
            chain: parse_chain(&certs("sp-chain.pem"), &Limits::default()).unwrap(),
            signer: KeySigner::from_pem(&key).unwrap(),
            deterministic: DeterministicSigner::from_pem(&key).unwrap(),
        }
    })
}

// ------------------------------------------------------------- strategies

fn attest() -> impl Strategy<Value = Attestation> {
    prop_oneof![
        Just(Attestation::A),
        Just(Attestation::B),
        Just(Attestation::C)
    ]
}

/// A telephone number as a signer puts it in a claim: 1-15 digits, or a
/// short code with `*`/`#`.
fn tn() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[0-9]{1,15}",
        1 => "1[2-9][0-9]{9}",
        1 => "[*#][0-9]{1,6}",
    ]
}

fn origid() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<u128>().prop_map(|n| uuid::Uuid::from_u128(n).to_string()),
        // Not a UUID: accepted with a warning. Any text, escaped in JSON.
        1 => "\\PC{1,40}",
    ]
}

/// Extension claims: names outside the registered ones, values of any JSON
/// scalar type (strings with any Unicode, to exercise escaping).
fn extra() -> impl Strategy<Value = BTreeMap<String, Value>> {
    let value = prop_oneof![
        "\\PC{0,20}".prop_map(Value::String),
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
        prop::collection::vec("[a-z]{0,5}", 0..3).prop_map(Value::from),
    ];
    prop::collection::btree_map("x[a-z0-9_]{0,8}", value, 0..4)
}

fn claims() -> impl Strategy<Value = Claims> {
    (
        attest(),
        tn(),
        prop::collection::vec(tn(), 1..=10),
        IAT_MIN..IAT_MAX,
        origid(),
        extra(),
    )
        .prop_map(|(a, orig, dest, iat, origid, extra)| {
            let mut c = Claims::shaken(a, orig, dest, iat, origid);
            c.extra = extra;
            c
        })
}

fn verify(value: &str, claims: &Claims) -> Result<shaken::verify::VerifiedPassport, String> {
    let lab = lab();
    let identity = parse_identity_or_token(value, &Limits::default()).map_err(|e| e.to_string())?;
    let policy = TnPolicy::default();
    let mut ctx = CallContext::at(claims.iat);
    if let Orig::Tn(t) = &claims.orig {
        ctx.orig
            .push(PartyId::Tn(TelephoneNumber::parse(t, &policy).unwrap()));
    }
    for d in &claims.dest.tn {
        ctx.dest
            .push(PartyId::Tn(TelephoneNumber::parse(d, &policy).unwrap()));
    }
    lab.verifier
        .verify_with_chain(&identity, &ctx, &lab.chain)
        .map_err(|f| format!("{} ({})", f.error, f.error.full_id()))
}

// ------------------------------------------------------------- properties

proptest! {
    #![proptest_config(cfg(128))]

    /// Any valid claim set signs, travels as an Identity header, verifies,
    /// and comes back equal.
    #[test]
    fn sign_verify_round_trip(c in claims()) {
        let token = sign(&Header::shaken(X5U), &c, &lab().signer).unwrap();
        let value = IdentityHeader::shaken(token.clone(), X5U).to_string();
        let v = verify(&value, &c).map_err(TestCaseError::fail)?;
        prop_assert_eq!(v.claims(), &c);
        prop_assert_eq!(v.header(), &Header::shaken(X5U));
        prop_assert_eq!(v.x5u(), X5U);
        // The bare token (x5u standing for info) verifies too.
        prop_assert!(verify(&token, &c).is_ok());
        // And decodes to the same header and claims.
        let Token::Full(p) = Token::parse(&token, &Limits::default()).unwrap() else {
            return Err(TestCaseError::fail("not full form"));
        };
        prop_assert_eq!(p.header().unwrap(), Header::shaken(X5U));
        let decoded = shaken::passport::dangerous::claims(&p, &Limits::default(), &Default::default()).unwrap();
        prop_assert_eq!(decoded, c);
    }

    /// Any single-byte change to the signed token (header, payload or
    /// signature) makes verification fail: strict base64url leaves no
    /// second spelling of the same bytes.
    #[test]
    fn any_single_byte_change_fails(c in claims(), pos in any::<prop::sample::Index>(), byte in 0x20u8..0x7f) {
        let token = sign(&Header::shaken(X5U), &c, &lab().signer).unwrap();
        let i = pos.index(token.len());
        prop_assume!(token.as_bytes()[i] != byte);
        let mut bytes = token.into_bytes();
        bytes[i] = byte;
        let altered = String::from_utf8(bytes).unwrap();
        let value = format!("{altered};info=<{X5U}>;alg=ES256;ppt=shaken");
        prop_assert!(verify(&value, &c).is_err(), "accepted {value}");
    }

    /// The same for a change of the byte into any character allowed in a
    /// token, at the very end of a segment (where base64 hides its slack).
    #[test]
    fn segment_tail_changes_fail(c in claims(), seg in 0usize..3, ch in prop::sample::select(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".to_vec())) {
        let token = sign(&Header::shaken(X5U), &c, &lab().signer).unwrap();
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let last = parts[seg].pop().unwrap();
        prop_assume!(last != ch as char);
        parts[seg].push(ch as char);
        let value = format!("{};info=<{X5U}>;alg=ES256;ppt=shaken", parts.join("."));
        prop_assert!(verify(&value, &c).is_err(), "accepted {value}");
    }

    /// Identity header: format (strict) then parse (lenient) is the identity.
    #[test]
    fn identity_header_round_trip(
        token in "[A-Za-z0-9_-]{1,40}(\\.[A-Za-z0-9_-]{0,40}){0,2}",
        host in "[a-z][a-z0-9-]{0,15}(\\.[a-z][a-z0-9-]{0,10}){1,3}",
        path in "(/[A-Za-z0-9._~-]{1,12}){0,3}",
        alg in prop_oneof!["[A-Za-z0-9]{1,8}", "[ -~]{1,10}"],
        ppt in prop::option::of(prop_oneof!["[a-z]{1,8}", "[ -~]{1,10}"]),
        params in prop::collection::btree_map("[a-z][a-z0-9-]{0,8}", prop::option::of("[A-Za-z0-9._-]{1,12}"), 0..5),
    ) {
        let params: Vec<(String, Option<String>)> = params
            .into_iter()
            .filter(|(k, _)| !matches!(k.as_str(), "info" | "alg" | "ppt"))
            .collect();
        let h = IdentityHeader {
            token,
            info: Some(format!("https://{host}{path}")),
            alg: Some(alg),
            ppt,
            params,
        };
        let text = h.to_string();
        let back = IdentityHeader::parse(&text, &Limits::default()).unwrap();
        prop_assert_eq!(&back, &h);
        prop_assert_eq!(back.to_string(), text.clone());
        // The lenient spellings real peers send read the same (spaces
        // around ';' and '=', name case), when no quoted value holds the
        // text being respelled.
        let quoted = [h.alg.as_deref(), h.ppt.as_deref()]
            .into_iter()
            .flatten()
            .any(|v| v.contains(';') || v.contains("info="));
        if !quoted {
            let loose = text.replace(';', " ; ").replace("info=", "INFO = ");
            prop_assert_eq!(IdentityHeader::parse(&loose, &Limits::default()).unwrap(), h);
        }
    }

    /// TNAuthList: to_der then from_der is the identity for every valid list.
    #[test]
    fn tn_auth_list_round_trip(entries in prop::collection::vec(prop_oneof![
        "[!-~]{1,64}".prop_map(TnEntry::Spc),
        "[0-9#*]{1,15}".prop_map(TnEntry::One),
        ("[0-9]{1,15}", 2u64..=u64::MAX).prop_map(|(start, count)| TnEntry::Range { start, count }),
    ], 1..8)) {
        let list = TnAuthList(entries);
        let der = list.to_der().unwrap();
        prop_assert_eq!(TnAuthList::from_der(&der).unwrap(), list);
    }

    /// TNAuthList decoding never panics on arbitrary bytes, and whatever it
    /// accepts re-encodes to the same DER (strict DER: one encoding).
    #[test]
    fn tn_auth_list_decode_is_total_and_canonical(der in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(list) = TnAuthList::from_der(&der) {
            prop_assert_eq!(list.to_der().unwrap(), der);
        }
    }

    /// Canonicalising a canonical number changes nothing, under either
    /// national rule, for any input that canonicalises at all.
    #[test]
    fn tn_canonicalisation_is_idempotent(input in prop_oneof![
        "\\+?[0-9 ().-]{1,20}",
        "(tel:|sip:|sips:|TEL:)\\+?[0-9-]{1,16}(@example\\.com)?(;[a-z]+=[a-z0-9]+)?",
        "[0-9*#+ ]{1,18}",
        "\\PC{0,12}",
    ]) {
        let none = TnPolicy { national: NationalRule::None };
        if let Ok(t) = TelephoneNumber::parse(&input, &none) {
            prop_assert_eq!(TelephoneNumber::parse(t.as_str(), &none).unwrap(), t);
        }
        let nanp = TnPolicy::default();
        if let Ok(t) = TelephoneNumber::parse(&input, &nanp) {
            let again = TelephoneNumber::parse(t.as_str(), &nanp).unwrap();
            // "+2155550121" is the E.164 number 2155550121, whose canonical
            // digits read as a national NANP number are 1-215-555-0121: the
            // one place where the NANP rule is not idempotent, by design of
            // the canonical form (it drops the '+').
            let global_ten = t.as_str().len() == 10
                && t.as_str().bytes().all(|b| b.is_ascii_digit())
                && !t.as_str().starts_with(['0', '1']);
            if global_ten {
                prop_assert_eq!(again.as_str(), format!("1{}", t.as_str()));
            } else {
                prop_assert_eq!(&again, &t);
            }
            // Read as a PASSporT claim, the canonical digits match the
            // number they came from under either reading.
            let claim = TelephoneNumber::parse_claim(t.as_str(), &nanp).unwrap();
            prop_assert!(claim.matches(&t), "{:?} does not match {}", claim, t);
            // Under NANP, canonical digits also come back from a tel: URI.
            let via_uri = TelephoneNumber::parse(&format!("tel:+{}", t.as_str()), &nanp).unwrap();
            prop_assert_eq!(via_uri, TelephoneNumber::parse(t.as_str(), &none).unwrap());
        }
    }
}

proptest! {
    #![proptest_config(cfg(24))]

    /// RFC 6979 signing: same input, same token; and it verifies.
    #[test]
    fn deterministic_signing_is_stable_and_verifies(c in claims()) {
        let lab = lab();
        let a = sign(&Header::shaken(X5U), &c, &lab.deterministic).unwrap();
        let b = sign(&Header::shaken(X5U), &c, &lab.deterministic).unwrap();
        prop_assert_eq!(&a, &b);
        prop_assert!(verify(&a, &c).is_ok());
        prop_assert_eq!(lab.deterministic.public_key(), lab.signer.public_key());
    }
}
