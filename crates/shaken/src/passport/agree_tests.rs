//! The typed readers as verification uses them (over a borrowed tree of the
//! decoded bytes) against `from_json` over a `Value`, and both against the
//! readers as they were before the two shared one implementation (kept
//! verbatim in `before`): the same value or the same error, field for field,
//! for every payload of the tables, under both `iat` policies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::diagnostic::Diagnostic;
use crate::json::parse_strict;
use crate::{b64, Limits};
use serde_json::Value;
use std::collections::BTreeSet;

mod before {
    //! `Header::from_json` and `Claims::from_json` before this change.
    use super::super::{
        Attestation, Claims, ClaimsError, ClaimsPolicy, Dest, Header, HeaderError, Orig,
    };
    use crate::Limits;
    use serde_json::Value;

    pub(super) fn header(v: &Value) -> Result<Header, HeaderError> {
        let obj = v.as_object().ok_or(HeaderError::NotObject)?;
        for forbidden in ["jwk", "kid", "x5c", "jku", "crit", "x5t", "x5t#S256"] {
            if obj.contains_key(forbidden) {
                return Err(HeaderError::Forbidden { param: forbidden });
            }
        }
        let str_field = |name: &'static str| -> Result<Option<String>, HeaderError> {
            match obj.get(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(HeaderError::WrongType { param: name }),
            }
        };
        let alg = str_field("alg")?.ok_or(HeaderError::Missing { param: "alg" })?;
        let typ = str_field("typ")?;
        let ppt = str_field("ppt")?;
        let x5u = str_field("x5u")?;
        let extra = obj
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "alg" | "typ" | "ppt" | "x5u"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(Header {
            alg,
            typ,
            ppt,
            x5u,
            extra,
        })
    }

    pub(super) fn claims(
        v: &Value,
        limits: &Limits,
        policy: &ClaimsPolicy,
    ) -> Result<Claims, ClaimsError> {
        let obj = v.as_object().ok_or(ClaimsError::NotObject)?;
        for name in obj.keys() {
            if !name.is_ascii() {
                return Err(ClaimsError::NonAsciiName { name: name.clone() });
            }
        }
        let mut iat_was_string = false;
        let iat = match obj.get("iat") {
            None => return Err(ClaimsError::Missing { claim: "iat" }),
            Some(Value::Number(n)) => {
                n.as_i64()
                    .filter(|i| *i >= 0)
                    .ok_or_else(|| ClaimsError::WrongType {
                        claim: "iat",
                        expected: "a non-negative integer (NumericDate)",
                        found: n.to_string(),
                    })?
            }
            Some(Value::String(s)) if policy.lenient_iat_string => {
                iat_was_string = true;
                s.parse::<i64>()
                    .ok()
                    .filter(|i| *i >= 0 && s.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| ClaimsError::WrongType {
                        claim: "iat",
                        expected: "a non-negative integer (NumericDate)",
                        found: format!("{s:?}"),
                    })?
            }
            Some(Value::String(s)) => return Err(ClaimsError::IatIsString { value: s.clone() }),
            Some(other) => {
                return Err(ClaimsError::WrongType {
                    claim: "iat",
                    expected: "a non-negative integer (NumericDate)",
                    found: type_name(other).into(),
                })
            }
        };
        let orig = match obj.get("orig") {
            None => return Err(ClaimsError::Missing { claim: "orig" }),
            Some(Value::Object(o)) => {
                if o.len() != 1 {
                    return Err(ClaimsError::OrigNotSingle { count: o.len() });
                }
                match (o.get("tn"), o.get("uri")) {
                    (Some(Value::String(tn)), None) => Orig::Tn(tn.clone()),
                    (None, Some(Value::String(uri))) => Orig::Uri(uri.clone()),
                    (Some(other), None) | (None, Some(other)) => {
                        return Err(ClaimsError::WrongType {
                            claim: "orig.tn/orig.uri",
                            expected: "a string",
                            found: type_name(other).into(),
                        })
                    }
                    _ => {
                        let key = o.keys().next().cloned().unwrap_or_default();
                        return Err(ClaimsError::UnknownIdentityType { claim: "orig", key });
                    }
                }
            }
            Some(other) => {
                return Err(ClaimsError::WrongType {
                    claim: "orig",
                    expected: "an object {\"tn\": ...} or {\"uri\": ...}",
                    found: type_name(other).into(),
                })
            }
        };
        let dest = match obj.get("dest") {
            None => return Err(ClaimsError::Missing { claim: "dest" }),
            Some(Value::Object(o)) => {
                let mut dest = Dest::default();
                for (k, v) in o {
                    let list = match k.as_str() {
                        "tn" => &mut dest.tn,
                        "uri" => &mut dest.uri,
                        _ => {
                            return Err(ClaimsError::UnknownIdentityType {
                                claim: "dest",
                                key: k.clone(),
                            })
                        }
                    };
                    let Value::Array(items) = v else {
                        return Err(ClaimsError::WrongType {
                            claim: if k == "tn" { "dest.tn" } else { "dest.uri" },
                            expected: "an array of strings (RFC 8225 §5.2.1; erratum 5715)",
                            found: type_name(v).into(),
                        });
                    };
                    if items.len() > limits.max_dest_entries {
                        return Err(ClaimsError::TooManyDest {
                            count: items.len(),
                            max: limits.max_dest_entries,
                        });
                    }
                    for item in items {
                        match item {
                            Value::String(s) => list.push(s.clone()),
                            other => {
                                return Err(ClaimsError::WrongType {
                                    claim: if k == "tn" { "dest.tn[]" } else { "dest.uri[]" },
                                    expected: "a string",
                                    found: type_name(other).into(),
                                })
                            }
                        }
                    }
                }
                if dest.tn.is_empty() && dest.uri.is_empty() {
                    return Err(ClaimsError::DestEmpty);
                }
                dest
            }
            Some(other) => {
                return Err(ClaimsError::WrongType {
                    claim: "dest",
                    expected: "an object {\"tn\": [...]}",
                    found: type_name(other).into(),
                })
            }
        };
        let attest = match obj.get("attest") {
            None => None,
            Some(Value::String(s)) => Some(match s.as_str() {
                "A" => Attestation::A,
                "B" => Attestation::B,
                "C" => Attestation::C,
                _ => return Err(ClaimsError::BadAttest { value: s.clone() }),
            }),
            Some(other) => {
                return Err(ClaimsError::WrongType {
                    claim: "attest",
                    expected: "the string \"A\", \"B\" or \"C\"",
                    found: type_name(other).into(),
                })
            }
        };
        let origid = match obj.get("origid") {
            None => None,
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(other) => {
                return Err(ClaimsError::WrongType {
                    claim: "origid",
                    expected: "a non-empty string (a UUID)",
                    found: match other {
                        Value::String(_) => "an empty string".into(),
                        _ => type_name(other).into(),
                    },
                })
            }
        };
        let extra = obj
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "iat" | "orig" | "dest" | "attest" | "origid"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(Claims {
            iat,
            orig,
            dest,
            attest,
            origid,
            extra,
            iat_was_string,
        })
    }

    fn type_name(v: &Value) -> &'static str {
        match v {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }
}

/// What verification reads: `Token::decode`'s header and claims.
fn decode(
    token: &str,
    policy: &ClaimsPolicy,
) -> (Result<Header, HeaderError>, Result<Claims, ClaimsError>) {
    match Token::decode(token, &Limits::default(), policy).unwrap() {
        Decoded::Full {
            passport,
            header,
            claims,
        } => {
            // The same passport as `Token::parse`'s.
            let parsed = UnverifiedPassport::parse(token, &Limits::default()).unwrap();
            assert_eq!(passport.signing_input(), parsed.signing_input());
            assert_eq!(passport.signature(), parsed.signature());
            assert_eq!(passport.header_json(), parsed.header_json());
            assert_eq!(
                dangerous::payload_json(&passport),
                dangerous::payload_json(&parsed)
            );
            (header, claims)
        }
        Decoded::Compact => panic!("compact form: {token}"),
    }
}

/// Every way a token fails to decode fails `decode` the same way; the
/// compact form is recognised.
#[test]
fn decode_fails_as_parse_fails() {
    let limits = Limits::default();
    let good = token(r#"{"alg":"ES256"}"#, "{}");
    let long_segment = token(&format!(r#"{{"x":"{}"}}"#, "a".repeat(5000)), "{}");
    let der = format!(
        "{}.{}.{}",
        b64::encode(b"{}"),
        b64::encode(b"{}"),
        b64::encode(&[0x30u8; 70])
    );
    let cases = [
        "a.b".to_owned(),
        "a.b.c.d".to_owned(),
        "x".repeat(9000),
        long_segment,
        good.replacen('.', "=.", 1),
        format!("{}.e30=.{}", b64::encode(b"{}"), b64::encode(&[1u8; 64])),
        format!("{}.{}.AA", b64::encode(b"{}"), b64::encode(b"{}")),
        der,
        "..AA".to_owned(),
    ];
    for t in &cases {
        let e = Token::parse(t, &limits).unwrap_err();
        for policy in &POLICIES {
            assert_eq!(Token::decode(t, &limits, policy).unwrap_err(), e, "{t}");
        }
    }
    let compact = to_compact(&good).unwrap();
    assert!(matches!(
        Token::parse(&compact, &limits),
        Ok(Token::Compact { .. })
    ));
    assert!(matches!(
        Token::decode(&compact, &limits, &ClaimsPolicy::default()),
        Ok(Decoded::Compact)
    ));
}

fn token(header: &str, payload: &str) -> String {
    format!(
        "{}.{}.{}",
        b64::encode(header.as_bytes()),
        b64::encode(payload.as_bytes()),
        b64::encode(&[7u8; 64])
    )
}

const POLICIES: [ClaimsPolicy; 2] = [
    ClaimsPolicy {
        lenient_iat_string: false,
    },
    ClaimsPolicy {
        lenient_iat_string: true,
    },
];

/// A valid SHAKEN payload with `patch` spliced in after the opening brace
/// (a member that is not repeated below) or, for a whole text, as given.
const OK: &str = r#"{"attest":"A","dest":{"tn":["12155550131"]},"iat":1443208345,"orig":{"tn":"12155550121"},"origid":"123e4567-e89b-12d3-a456-426655440000"}"#;

fn claims_table() -> Vec<String> {
    let dest = r#""dest":{"tn":["1"]}"#;
    let orig = r#""orig":{"tn":"2"}"#;
    let with = |members: &str| format!("{{{members}}}");
    let base = |extra: &str| with(&format!(r#""iat":1,{dest},{orig}{extra}"#));
    let mut t: Vec<String> = vec![
        OK.into(),
        // NotObject
        "[]".into(),
        r#""x""#.into(),
        "1".into(),
        "null".into(),
        // NonAsciiName: the first in byte order is named, and it comes
        // before every other problem.
        base(r#","é":1"#),
        with(r#""ü":1,"é":2"#),
        with(r#""\u00fc":1,"iat":"x""#),
        // Missing, in the order iat, orig, dest.
        with(&format!("{dest},{orig}")),
        with(&format!(r#""iat":1,{dest}"#)),
        with(&format!(r#""iat":1,{orig}"#)),
        "{}".into(),
        with(orig),
        // iat: wrong types and values, strings under both policies.
        with(&format!(r#""iat":1.5,{dest},{orig}"#)),
        with(&format!(r#""iat":-1,{dest},{orig}"#)),
        with(&format!(r#""iat":1e3,{dest},{orig}"#)),
        with(&format!(r#""iat":18446744073709551615,{dest},{orig}"#)),
        with(&format!(r#""iat":9223372036854775807,{dest},{orig}"#)),
        with(&format!(r#""iat":0,{dest},{orig}"#)),
        with(&format!(r#""iat":true,{dest},{orig}"#)),
        with(&format!(r#""iat":null,{dest},{orig}"#)),
        with(&format!(r#""iat":[1],{dest},{orig}"#)),
        with(&format!(r#""iat":{{}},{dest},{orig}"#)),
        with(&format!(r#""iat":"1443208345",{dest},{orig}"#)),
        with(&format!(r#""iat":"\u0031443208345",{dest},{orig}"#)),
        with(&format!(r#""iat":"-1",{dest},{orig}"#)),
        with(&format!(r#""iat":"+1",{dest},{orig}"#)),
        with(&format!(r#""iat":"1a",{dest},{orig}"#)),
        with(&format!(r#""iat":"",{dest},{orig}"#)),
        with(&format!(r#""iat":"99999999999999999999",{dest},{orig}"#)),
        with(&format!(r#""iat":"x","orig":1,{dest}"#)),
        // orig
        with(&format!(r#""iat":1,{dest},"orig":"2""#)),
        with(&format!(r#""iat":1,{dest},"orig":["2"]"#)),
        with(&format!(r#""iat":1,{dest},"orig":{{}}"#)),
        with(&format!(r#""iat":1,{dest},"orig":{{"tn":"2","uri":"x"}}"#)),
        with(&format!(
            r#""iat":1,{dest},"orig":{{"tn":"2","xx":"x","yy":1}}"#
        )),
        with(&format!(r#""iat":1,{dest},"orig":{{"tn":2}}"#)),
        with(&format!(r#""iat":1,{dest},"orig":{{"uri":null}}"#)),
        with(&format!(r#""iat":1,{dest},"orig":{{"xx":"2"}}"#)),
        with(&format!(r#""iat":1,{dest},"orig":{{"TN":"2"}}"#)),
        with(&format!(
            r#""iat":1,{dest},"orig":{{"t\u006e":"2\u00e9\"\\"}}"#
        )),
        with(&format!(r#""iat":1,{dest},"orig":{{"uri":"sip:a@b"}}"#)),
        with(r#""iat":1,"orig":{"xx":1},"dest":7"#),
        // dest
        with(&format!(r#""iat":1,{orig},"dest":[]"#)),
        with(&format!(r#""iat":1,{orig},"dest":"1""#)),
        with(&format!(r#""iat":1,{orig},"dest":{{}}"#)),
        with(&format!(r#""iat":1,{orig},"dest":{{"tn":[]}}"#)),
        with(&format!(r#""iat":1,{orig},"dest":{{"tn":[],"uri":[]}}"#)),
        with(&format!(r#""iat":1,{orig},"dest":{{"tn":"1"}}"#)),
        with(&format!(r#""iat":1,{orig},"dest":{{"uri":{{}}}}"#)),
        with(&format!(r#""iat":1,{orig},"dest":{{"tn":[1]}}"#)),
        with(&format!(r#""iat":1,{orig},"dest":{{"tn":["1",null]}}"#)),
        with(&format!(r#""iat":1,{orig},"dest":{{"uri":[true]}}"#)),
        with(&format!(r#""iat":1,{orig},"dest":{{"xx":["1"]}}"#)),
        // Members are met in byte order: "aaa" before "tn", "zzz" after.
        with(&format!(r#""iat":1,{orig},"dest":{{"tn":[1],"aaa":[]}}"#)),
        with(&format!(r#""iat":1,{orig},"dest":{{"zzz":[],"tn":[1]}}"#)),
        with(&format!(r#""iat":1,{orig},"dest":{{"uri":[1],"tn":"x"}}"#)),
        with(&format!(
            r#""iat":1,{orig},"dest":{{"uri":["sip:b@c","tel:+1"],"tn":["3","1","3"]}}"#
        )),
        with(&format!(
            r#""iat":1,{orig},"dest":{{"t\u006e":["\u0031"]}}"#
        )),
        // attest
        base(r#","attest":"D""#),
        base(r#","attest":"a""#),
        base(r#","attest":"""#),
        base(r#","attest":1"#),
        base(r#","attest":["A"]"#),
        base(r#","attest":"\u0042""#),
        base(r#","attest":"C""#),
        // origid
        base(r#","origid":"""#),
        base(r#","origid":1"#),
        base(r#","origid":null"#),
        base(r#","origid":"x""#),
        // Several problems: the first in the reader's order is the one.
        base(r#","attest":"D","origid":"""#),
        with(r#""iat":-1,"orig":{},"dest":{}"#),
        with(r#""iat":1,"orig":{},"dest":{}"#),
        with(r#""iat":1,"orig":{"tn":"1"},"dest":{},"attest":"D""#),
        // Extension claims, kept as received, escapes and all.
        base(
            r#","rcd":{"nam":"Bob \"B\"","icn":"https:\/\/x\/y.png"},"crn":"\u00e9","aaa":[1,-2,2.5,true,null,{}],"zz":{"n":{"m":[[]]}}"#,
        ),
        base(r#","d\u0069v":1,"":"empty","x y":0.1"#),
    ];
    for (count, ok) in [(10, true), (11, false), (40, false)] {
        let items: Vec<String> = (0..count).map(|i| format!("\"{i}\"")).collect();
        let p = with(&format!(
            r#""iat":1,{orig},"dest":{{"tn":[{}]}}"#,
            items.join(",")
        ));
        assert_eq!(ok, count <= Limits::default().max_dest_entries);
        t.push(p.clone());
        t.push(with(&format!(
            r#""iat":1,{orig},"dest":{{"uri":[{}],"tn":[1]}}"#,
            items.join(",")
        )));
    }
    t
}

#[test]
fn claims_read_from_the_bytes_as_from_json_and_as_before() {
    let limits = Limits::default();
    let mut ids = BTreeSet::new();
    let mut oks = 0;
    for payload in claims_table() {
        let v = parse_strict(payload.as_bytes(), limits.max_json_depth).unwrap();
        let p = UnverifiedPassport::parse(&token(r#"{"alg":"ES256"}"#, &payload), &limits).unwrap();
        assert_eq!(dangerous::payload_json(&p), &v, "{payload}");
        for policy in &POLICIES {
            let reference = before::claims(&v, &limits, policy);
            assert_eq!(
                Claims::from_json(&v, &limits, policy),
                reference,
                "{payload}"
            );
            assert_eq!(
                dangerous::claims(&p, &limits, policy),
                reference,
                "{payload}"
            );
            let (header, claims) = decode(&token(r#"{"alg":"ES256"}"#, &payload), policy);
            assert_eq!(header, p.header(), "{payload}");
            assert_eq!(claims, reference, "{payload}");
            match &reference {
                Ok(_) => oks += 1,
                Err(e) => {
                    ids.insert(e.id());
                }
            }
        }
    }
    let every: BTreeSet<&str> = [
        "claims-not-object",
        "claims-name-not-ascii",
        "claims-missing",
        "claims-wrong-type",
        "claims-iat-string",
        "claims-orig-not-single",
        "claims-unknown-identity-type",
        "claims-dest-empty",
        "claims-too-many-dest",
        "claims-bad-attest",
    ]
    .into();
    assert_eq!(ids, every);
    assert!(oks >= 20, "{oks}");
}

/// The spots the table is for, spelled out (the reference could share a
/// mistake with the new code only if both were wrong in the same way).
#[test]
fn first_errors_in_the_old_order() {
    let limits = Limits::default();
    let strict = ClaimsPolicy::default();
    let read = |payload: &str| {
        let p = UnverifiedPassport::parse(&token(r#"{"alg":"ES256"}"#, payload), &limits).unwrap();
        dangerous::claims(&p, &limits, &strict)
    };
    assert_eq!(
        read(r#"{"ü":1,"é":2}"#),
        Err(ClaimsError::NonAsciiName { name: "é".into() })
    );
    assert_eq!(
        read(r#"{"iat":1,"orig":{"tn":"2"},"dest":{"tn":[1],"aaa":[]}}"#),
        Err(ClaimsError::UnknownIdentityType {
            claim: "dest",
            key: "aaa".into()
        })
    );
    assert_eq!(
        read(r#"{"iat":1,"orig":{"tn":"2"},"dest":{"zzz":[],"tn":[1]}}"#),
        Err(ClaimsError::WrongType {
            claim: "dest.tn[]",
            expected: "a string",
            found: "a number".into()
        })
    );
    assert_eq!(
        read(r#"{"iat":1,"orig":{"xx":"2"},"dest":{}}"#),
        Err(ClaimsError::UnknownIdentityType {
            claim: "orig",
            key: "xx".into()
        })
    );
    assert_eq!(
        read(r#"{"iat":18446744073709551615,"orig":{},"dest":{}}"#),
        Err(ClaimsError::WrongType {
            claim: "iat",
            expected: "a non-negative integer (NumericDate)",
            found: "18446744073709551615".into()
        })
    );
    assert_eq!(
        read(r#"{"iat":"\u0031","orig":{},"dest":{}}"#),
        Err(ClaimsError::IatIsString { value: "1".into() })
    );
    let c =
        read(r#"{"iat":1,"orig":{"t\u006e":"2\""},"dest":{"tn":["1"]},"x\u0079":{"a":"\u00e9"}}"#)
            .unwrap();
    assert_eq!(c.orig, Orig::Tn("2\"".into()));
    assert_eq!(c.extra.get("xy"), Some(&serde_json::json!({"a": "é"})));
}

fn header_table() -> Vec<&'static str> {
    vec![
        r#"{"alg":"ES256","ppt":"shaken","typ":"passport","x5u":"https://cert.example.org/passport.cer"}"#,
        r#"{"alg":"ES256"}"#,
        r#"{"al\u0067":"ES\u0032\u00356","x5u":"https:\/\/a\/b\"c"}"#,
        r#"{"alg":"ES256","foo":[1,{"b":null}],"\u0062ar":"\"q\"","é":1,"":2.5}"#,
        "[]",
        r#""x""#,
        "null",
        "{}",
        r#"{"typ":"passport"}"#,
        r#"{"typ":1}"#,
        r#"{"alg":1}"#,
        r#"{"alg":null,"typ":1}"#,
        r#"{"alg":"ES256","typ":1}"#,
        r#"{"alg":"ES256","ppt":[]}"#,
        r#"{"alg":"ES256","x5u":{}}"#,
        r#"{"alg":"ES256","jwk":{}}"#,
        r#"{"alg":"ES256","kid":"k"}"#,
        r#"{"alg":"ES256","x5c":[]}"#,
        r#"{"alg":"ES256","jku":"u"}"#,
        r#"{"alg":"ES256","crit":["x"]}"#,
        r#"{"alg":"ES256","x5t":"t"}"#,
        r#"{"alg":"ES256","x5t#S256":"t"}"#,
        r#"{"alg":"ES256","k\u0069d":"k"}"#,
        // The first forbidden parameter of the list, before any other problem.
        r#"{"x5c":[],"jwk":{},"alg":1}"#,
        r#"{"crit":[],"kid":1}"#,
    ]
}

#[test]
fn header_reads_from_the_bytes_as_from_json_and_as_before() {
    let limits = Limits::default();
    let mut ids = BTreeSet::new();
    let mut oks = 0;
    for header in header_table() {
        let v = parse_strict(header.as_bytes(), limits.max_json_depth).unwrap();
        let p = UnverifiedPassport::parse(&token(header, "{}"), &limits).unwrap();
        assert_eq!(p.header_json(), &v, "{header}");
        let reference = before::header(&v);
        assert_eq!(Header::from_json(&v), reference, "{header}");
        assert_eq!(p.header(), reference, "{header}");
        for policy in &POLICIES {
            let (h, claims) = decode(&token(header, "{}"), policy);
            assert_eq!(h, reference, "{header}");
            assert_eq!(claims, dangerous::claims(&p, &limits, policy), "{header}");
            assert_eq!(claims, Err(ClaimsError::Missing { claim: "iat" }));
        }
        match &reference {
            Ok(_) => oks += 1,
            Err(e) => {
                ids.insert(e.id());
            }
        }
    }
    let every: BTreeSet<&str> = [
        "header-not-object",
        "header-param-required",
        "header-param-wrong-type",
        "header-param-forbidden",
    ]
    .into();
    assert_eq!(ids, every);
    assert_eq!(oks, 4);
    let p =
        UnverifiedPassport::parse(&token(r#"{"x5c":[],"jwk":{},"alg":1}"#, "{}"), &limits).unwrap();
    assert_eq!(p.header(), Err(HeaderError::Forbidden { param: "jwk" }));
    let p = UnverifiedPassport::parse(&token(header_table()[3], "{}"), &limits).unwrap();
    let h = p.header().unwrap();
    let extra: Vec<&str> = h.extra.keys().map(String::as_str).collect();
    assert_eq!(extra, ["", "bar", "foo", "é"]);
    assert_eq!(h.extra.get("bar"), Some(&Value::String("\"q\"".into())));
}

/// What `Token::parse` rejects and the reason it gives, for the rules of
/// strict JSON, in the header and in the payload.
#[test]
fn token_parse_rejects_what_parse_strict_rejects() {
    let limits = Limits::default();
    let bad = [
        r#"{"alg":"ES256","alg":"none"}"#,
        r#"{"a":1,"\u0061":2}"#,
        r#"{"orig":{"tn":"1","t\u006e":"2"}}"#,
        r#"{"dest":{"tn":[{"a":1,"a":1}]}}"#,
        r#"{"x":[[[[[[[[1]]]]]]]]}"#,
        r#"{"a":1,"a":[[[[[[[[1]]]]]]]]}"#,
        r#"{"a":1} x"#,
        r#"{"a":1}{}"#,
        r#"{"a":}"#,
        "",
    ];
    for text in bad {
        let reason = parse_strict(text.as_bytes(), limits.max_json_depth)
            .unwrap_err()
            .to_string();
        for (h, p, part) in [
            (text, "{}", "header"),
            (r#"{"alg":"ES256"}"#, text, "payload"),
        ] {
            let e = Token::parse(&token(h, p), &limits).unwrap_err();
            assert_eq!(
                e,
                PassportError::Json {
                    part,
                    reason: reason.clone()
                },
                "{text}"
            );
            assert_eq!(e.id(), "token-json");
            let d = Token::decode(&token(h, p), &limits, &ClaimsPolicy::default()).unwrap_err();
            assert_eq!(d, e, "{text}");
        }
    }
    let ok = r#"{"x":[[[[[[[1]]]]]]]}"#;
    assert!(parse_strict(ok.as_bytes(), limits.max_json_depth).is_ok());
    assert!(Token::parse(&token(ok, ok), &limits).is_ok());
    for bytes in [&b"\"\xff\""[..], b"{\"a\":\"\xc3\"}"] {
        let reason = parse_strict(bytes, limits.max_json_depth)
            .unwrap_err()
            .to_string();
        let t = format!(
            "{}.{}.{}",
            b64::encode(bytes),
            b64::encode(b"{}"),
            b64::encode(&[7u8; 64])
        );
        assert_eq!(
            Token::parse(&t, &limits).unwrap_err(),
            PassportError::Json {
                part: "header",
                reason
            }
        );
    }
}
