//! PASSporT claims (RFC 8225 §5) and the SHAKEN extension (RFC 8588):
//! `iat`, `orig`, `dest`, `attest`, `origid`; extension claims are kept.

use crate::json::JsonRead;
use crate::Limits;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// SHAKEN attestation level (RFC 8588 §4, ATIS-1000074 §5.2.3).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Attestation {
    /// Full attestation.
    A,
    /// Partial attestation.
    B,
    /// Gateway attestation.
    C,
}

impl Attestation {
    /// What the level means, in words a person can act on.
    pub fn meaning(self) -> &'static str {
        match self {
            Attestation::A => "full: the signing carrier knows the customer and has verified their right to use this number",
            Attestation::B => "partial: the signing carrier knows the customer, but has not verified their right to use this number",
            Attestation::C => "gateway: the signing carrier only knows where the call entered its network, not who placed it",
        }
    }
    /// `"A"`, `"B"` or `"C"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Attestation::A => "A",
            Attestation::B => "B",
            Attestation::C => "C",
        }
    }
}

impl fmt::Display for Attestation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Attestation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "A" | "a" => Ok(Attestation::A),
            "B" | "b" => Ok(Attestation::B),
            "C" | "c" => Ok(Attestation::C),
            other => Err(format!("invalid attestation {other:?}: expected A, B or C")),
        }
    }
}

/// The originating identity: exactly one of `tn` or `uri` (RFC 8225 §5.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Orig {
    /// A canonical telephone number.
    Tn(String),
    /// A URI.
    Uri(String),
}

impl Orig {
    /// The number or URI as text.
    pub fn as_str(&self) -> &str {
        match self {
            Orig::Tn(s) | Orig::Uri(s) => s,
        }
    }
}

/// The destination identities (RFC 8225 §5.2.1): arrays of `tn` and `uri`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dest {
    /// Canonical telephone numbers.
    pub tn: Vec<String>,
    /// URIs.
    pub uri: Vec<String>,
}

/// How strictly claims are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ClaimsPolicy {
    /// Accept `iat` as a decimal string (`"1443208345"`), as the RFC 8225 §7.1
    /// and the original RFC 8588 §6 examples do (erratum 6656 fixed it).
    /// Off by default: RFC 8225 §5.1.1 requires a JSON number.
    pub lenient_iat_string: bool,
}

impl ClaimsPolicy {
    /// The strict default, or (`lenient_iat_string`) the one that accepts
    /// an `iat` sent as a decimal string.
    pub fn new(lenient_iat_string: bool) -> Self {
        ClaimsPolicy { lenient_iat_string }
    }
}

/// PASSporT claims (RFC 8225 §5, RFC 8588).
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    /// Issued-at, seconds since the epoch.
    pub iat: i64,
    /// Originating identity.
    pub orig: Orig,
    /// Destination identities.
    pub dest: Dest,
    /// SHAKEN attestation (absent in non-SHAKEN PASSporTs).
    pub attest: Option<Attestation>,
    /// SHAKEN origination identifier.
    pub origid: Option<String>,
    /// Extension claims, kept as received.
    pub extra: BTreeMap<String, Value>,
    /// `iat` arrived as a string (only possible under the lenient policy).
    pub iat_was_string: bool,
}

impl Claims {
    /// SHAKEN claims with `tn` orig and dest.
    pub fn shaken(
        attest: Attestation,
        orig_tn: impl Into<String>,
        dest_tns: Vec<String>,
        iat: i64,
        origid: impl Into<String>,
    ) -> Self {
        let mut tn = dest_tns;
        tn.sort();
        tn.dedup();
        Claims {
            iat,
            orig: Orig::Tn(orig_tn.into()),
            dest: Dest { tn, uri: vec![] },
            attest: Some(attest),
            origid: Some(origid.into()),
            extra: BTreeMap::new(),
            iat_was_string: false,
        }
    }

    /// Read claims from parsed JSON, checking every type.
    pub fn from_json(
        v: &Value,
        limits: &Limits,
        policy: &ClaimsPolicy,
    ) -> Result<Self, ClaimsError> {
        Claims::read(v, limits, policy)
    }

    /// [`Claims::from_json`] over any parsed form: the received payload is
    /// read from a [`crate::json::Node`] borrowing the decoded bytes, with
    /// exactly these rules, in this order.
    pub(crate) fn read<'a, J: JsonRead<'a>>(
        v: J,
        limits: &Limits,
        policy: &ClaimsPolicy,
    ) -> Result<Self, ClaimsError> {
        let members = v.members().ok_or(ClaimsError::NotObject)?;
        for (name, _) in members.clone() {
            if !name.is_ascii() {
                return Err(ClaimsError::NonAsciiName {
                    name: name.to_owned(),
                });
            }
        }
        let mut iat_was_string = false;
        let iat = match v.member("iat") {
            None => return Err(ClaimsError::Missing { claim: "iat" }),
            Some(iat) => match (iat.number(), iat.text()) {
                (Some(n), _) => {
                    n.as_i64()
                        .filter(|i| *i >= 0)
                        .ok_or_else(|| ClaimsError::WrongType {
                            claim: "iat",
                            expected: "a non-negative integer (NumericDate)",
                            found: n.to_string(),
                        })?
                }
                (None, Some(s)) if policy.lenient_iat_string => {
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
                (None, Some(s)) => {
                    return Err(ClaimsError::IatIsString {
                        value: s.to_owned(),
                    })
                }
                (None, None) => {
                    return Err(ClaimsError::WrongType {
                        claim: "iat",
                        expected: "a non-negative integer (NumericDate)",
                        found: type_name(iat).into(),
                    })
                }
            },
        };
        let orig = match v.member("orig") {
            None => return Err(ClaimsError::Missing { claim: "orig" }),
            Some(o) => {
                let Some(mut names) = o.members() else {
                    return Err(ClaimsError::WrongType {
                        claim: "orig",
                        expected: "an object {\"tn\": ...} or {\"uri\": ...}",
                        found: type_name(o).into(),
                    });
                };
                if names.len() != 1 {
                    return Err(ClaimsError::OrigNotSingle { count: names.len() });
                }
                let (make, id): (fn(String) -> Orig, J) = match (o.member("tn"), o.member("uri")) {
                    (Some(tn), None) => (Orig::Tn, tn),
                    (None, Some(uri)) => (Orig::Uri, uri),
                    _ => {
                        let key = names.next().map(|(k, _)| k.to_owned()).unwrap_or_default();
                        return Err(ClaimsError::UnknownIdentityType { claim: "orig", key });
                    }
                };
                match id.text() {
                    Some(s) => make(s.to_owned()),
                    None => {
                        return Err(ClaimsError::WrongType {
                            claim: "orig.tn/orig.uri",
                            expected: "a string",
                            found: type_name(id).into(),
                        })
                    }
                }
            }
        };
        let dest = match v.member("dest") {
            None => return Err(ClaimsError::Missing { claim: "dest" }),
            Some(d) => {
                let Some(entries) = d.members() else {
                    return Err(ClaimsError::WrongType {
                        claim: "dest",
                        expected: "an object {\"tn\": [...]}",
                        found: type_name(d).into(),
                    });
                };
                let mut dest = Dest::default();
                for (k, v) in entries {
                    let list = match k {
                        "tn" => &mut dest.tn,
                        "uri" => &mut dest.uri,
                        _ => {
                            return Err(ClaimsError::UnknownIdentityType {
                                claim: "dest",
                                key: k.to_owned(),
                            })
                        }
                    };
                    let Some(items) = v.items() else {
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
                    list.reserve_exact(items.len());
                    for item in items {
                        match item.text() {
                            Some(s) => list.push(s.to_owned()),
                            None => {
                                return Err(ClaimsError::WrongType {
                                    claim: if k == "tn" { "dest.tn[]" } else { "dest.uri[]" },
                                    expected: "a string",
                                    found: type_name(item).into(),
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
        };
        let attest = match v.member("attest") {
            None => None,
            Some(a) => match a.text() {
                Some("A") => Some(Attestation::A),
                Some("B") => Some(Attestation::B),
                Some("C") => Some(Attestation::C),
                Some(s) => {
                    return Err(ClaimsError::BadAttest {
                        value: s.to_owned(),
                    })
                }
                None => {
                    return Err(ClaimsError::WrongType {
                        claim: "attest",
                        expected: "the string \"A\", \"B\" or \"C\"",
                        found: type_name(a).into(),
                    })
                }
            },
        };
        let origid = match v.member("origid") {
            None => None,
            Some(o) => match o.text() {
                Some(s) if !s.is_empty() => Some(s.to_owned()),
                Some(_) => {
                    return Err(ClaimsError::WrongType {
                        claim: "origid",
                        expected: "a non-empty string (a UUID)",
                        found: "an empty string".into(),
                    })
                }
                None => {
                    return Err(ClaimsError::WrongType {
                        claim: "origid",
                        expected: "a non-empty string (a UUID)",
                        found: type_name(o).into(),
                    })
                }
            },
        };
        let extra = members
            .filter(|(k, _)| !matches!(*k, "iat" | "orig" | "dest" | "attest" | "origid"))
            .map(|(k, v)| (k.to_owned(), v.to_value()))
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

    /// The claims in the deterministic JSON of RFC 8225 §9: exactly
    /// `json::canonical(&self.to_json())`, written straight from the fields
    /// (every signature used to build, write and drop a `Value` tree first).
    pub fn to_canonical_json(&self) -> String {
        const STANDARD: [&str; 5] = ["attest", "dest", "iat", "orig", "origid"];
        if STANDARD.iter().any(|k| self.extra.contains_key(*k)) {
            // An extension claim under a standard name replaces it in
            // `to_json`; keep that one rule in one place.
            return crate::json::canonical(&self.to_json());
        }
        use crate::json::{write_canonical, write_string};
        let mut out = String::with_capacity(160);
        let mut extra = self.extra.iter().peekable();
        out.push('{');
        let mut first = true;
        let mut sep = |out: &mut String| {
            if !std::mem::take(&mut first) {
                out.push(',');
            }
        };
        for key in STANDARD {
            // Extension claims sort among the standard ones by byte order.
            while let Some((k, v)) = extra.next_if(|(k, _)| k.as_str() < key) {
                sep(&mut out);
                write_string(k, &mut out);
                out.push(':');
                write_canonical(v, &mut out);
            }
            match key {
                "attest" => {
                    if let Some(a) = self.attest {
                        sep(&mut out);
                        out.push_str("\"attest\":");
                        write_string(a.as_str(), &mut out);
                    }
                }
                "dest" => {
                    sep(&mut out);
                    out.push_str("\"dest\":{");
                    let list = |name: &str, items: &[String], out: &mut String| {
                        out.push('"');
                        out.push_str(name);
                        out.push_str("\":[");
                        for (i, item) in items.iter().enumerate() {
                            if i > 0 {
                                out.push(',');
                            }
                            write_string(item, out);
                        }
                        out.push(']');
                    };
                    if !self.dest.tn.is_empty() {
                        list("tn", &self.dest.tn, &mut out);
                    }
                    if !self.dest.uri.is_empty() {
                        if !self.dest.tn.is_empty() {
                            out.push(',');
                        }
                        list("uri", &self.dest.uri, &mut out);
                    }
                    out.push('}');
                }
                "iat" => {
                    sep(&mut out);
                    out.push_str("\"iat\":");
                    out.push_str(itoa::Buffer::new().format(self.iat));
                }
                "orig" => {
                    sep(&mut out);
                    match &self.orig {
                        Orig::Tn(t) => {
                            out.push_str("\"orig\":{\"tn\":");
                            write_string(t, &mut out);
                        }
                        Orig::Uri(u) => {
                            out.push_str("\"orig\":{\"uri\":");
                            write_string(u, &mut out);
                        }
                    }
                    out.push('}');
                }
                _ => {
                    if let Some(o) = &self.origid {
                        sep(&mut out);
                        out.push_str("\"origid\":");
                        write_string(o, &mut out);
                    }
                }
            }
        }
        for (k, v) in extra {
            sep(&mut out);
            write_string(k, &mut out);
            out.push(':');
            write_canonical(v, &mut out);
        }
        out.push('}');
        out
    }

    /// The claims as a JSON object (`iat` always a number).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("iat".into(), Value::from(self.iat));
        let mut orig = Map::new();
        match &self.orig {
            Orig::Tn(t) => orig.insert("tn".into(), Value::String(t.clone())),
            Orig::Uri(u) => orig.insert("uri".into(), Value::String(u.clone())),
        };
        m.insert("orig".into(), Value::Object(orig));
        let mut dest = Map::new();
        if !self.dest.tn.is_empty() {
            dest.insert(
                "tn".into(),
                self.dest.tn.iter().cloned().map(Value::String).collect(),
            );
        }
        if !self.dest.uri.is_empty() {
            dest.insert(
                "uri".into(),
                self.dest.uri.iter().cloned().map(Value::String).collect(),
            );
        }
        m.insert("dest".into(), Value::Object(dest));
        if let Some(a) = self.attest {
            m.insert("attest".into(), Value::String(a.as_str().into()));
        }
        if let Some(o) = &self.origid {
            m.insert("origid".into(), Value::String(o.clone()));
        }
        for (k, v) in &self.extra {
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m)
    }
}

fn type_name<'a, J: JsonRead<'a>>(v: J) -> &'static str {
    v.kind().name()
}

/// Why claims are unacceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimsError {
    /// Payload is not an object.
    #[error("PASSporT payload is not a JSON object")]
    NotObject,
    /// Claim names must be US-ASCII (RFC 8225 §5).
    #[error("claim name {name:?} is not US-ASCII (RFC 8225 §5)")]
    NonAsciiName {
        /// The name.
        name: String,
    },
    /// A required claim is missing.
    #[error("required claim {claim:?} is missing")]
    Missing {
        /// The claim.
        claim: &'static str,
    },
    /// A claim has the wrong type.
    #[error("claim {claim:?} must be {expected}, found {found}")]
    WrongType {
        /// The claim.
        claim: &'static str,
        /// What it must be.
        expected: &'static str,
        /// What it is.
        found: String,
    },
    /// `iat` given as a string.
    #[error("claim \"iat\" is the string {value:?}; RFC 8225 §5.1.1 requires a JSON number (accept it with the lenient iat option)")]
    IatIsString {
        /// The string.
        value: String,
    },
    /// `orig` must hold exactly one identity.
    #[error("claim \"orig\" must hold exactly one of \"tn\" or \"uri\"; it holds {count} members")]
    OrigNotSingle {
        /// Member count.
        count: usize,
    },
    /// An identity type we do not know.
    #[error("claim {claim:?} holds unknown identity type {key:?} (expected \"tn\" or \"uri\")")]
    UnknownIdentityType {
        /// `orig` or `dest`.
        claim: &'static str,
        /// The key found.
        key: String,
    },
    /// `dest` holds nothing.
    #[error("claim \"dest\" holds no identity")]
    DestEmpty,
    /// Too many `dest` entries.
    #[error("claim \"dest\" holds {count} entries; the limit is {max}")]
    TooManyDest {
        /// Count.
        count: usize,
        /// Limit.
        max: usize,
    },
    /// `attest` is not A, B or C.
    #[error("claim \"attest\" is {value:?}; it must be \"A\", \"B\" or \"C\" (RFC 8588)")]
    BadAttest {
        /// The value.
        value: String,
    },
}

/// Claims that do not read fail verification with 438 (E14, E19).
impl crate::diagnostic::Diagnostic for ClaimsError {
    fn id(&self) -> &'static str {
        match self {
            ClaimsError::NotObject => "claims-not-object",
            ClaimsError::NonAsciiName { .. } => "claims-name-not-ascii",
            ClaimsError::Missing { .. } => "claims-missing",
            ClaimsError::WrongType { .. } => "claims-wrong-type",
            ClaimsError::IatIsString { .. } => "claims-iat-string",
            ClaimsError::OrigNotSingle { .. } => "claims-orig-not-single",
            ClaimsError::UnknownIdentityType { .. } => "claims-unknown-identity-type",
            ClaimsError::DestEmpty => "claims-dest-empty",
            ClaimsError::TooManyDest { .. } => "claims-too-many-dest",
            ClaimsError::BadAttest { .. } => "claims-bad-attest",
        }
    }
    fn sip_code(&self) -> Option<u16> {
        Some(438)
    }
    fn verstat(&self) -> Option<crate::report::Verstat> {
        Some(crate::report::Verstat::NoValidation)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::json::{canonical, parse_strict};
    use crate::passport::vectors::limits;
    use crate::passport::Header;

    /// The direct writer is byte for byte the canonical form of `to_json`,
    /// with extension claims sorting before, among and after the standard
    /// ones, URIs, escapes, and an extension under a standard name.
    #[test]
    fn canonical_claims_are_the_canonical_json_of_to_json() {
        let base = Claims::shaken(
            Attestation::B,
            "12155550121",
            vec!["12125550143".into(), "12125550144".into()],
            1_800_000_000,
            "123e4567-e89b-12d3-a456-426655440000",
        );
        let mut cases = vec![base.clone()];
        let mut c = base.clone();
        c.attest = None;
        c.origid = None;
        c.orig = Orig::Uri("sip:alice@example.com".into());
        c.dest.uri = vec!["sip:bob@example.com".into(), "tel:+1\"2\\3\u{1}é".into()];
        cases.push(c.clone());
        c.dest.tn.clear();
        cases.push(c);
        let mut c = base.clone();
        for (k, v) in [
            ("aaa", serde_json::json!(1)),
            ("crn", serde_json::json!("Card \"fraud\" alert")),
            (
                "div",
                serde_json::json!({"tn": "1", "b": [1, {"z": null, "a": true}]}),
            ),
            ("iat_x", serde_json::json!(-5)),
            ("origin", serde_json::json!(2.5)),
            (
                "rcd",
                serde_json::json!({"nam": "Acme", "icn": "https://x/y.png"}),
            ),
            ("zzz", serde_json::json!([])),
            ("", serde_json::json!("empty name")),
        ] {
            c.extra.insert(k.into(), v);
            cases.push(c.clone());
        }
        let mut c = base.clone();
        c.iat = -1;
        c.extra.insert("iat".into(), serde_json::json!("replaced"));
        cases.push(c);
        for c in &cases {
            assert_eq!(c.to_canonical_json(), canonical(&c.to_json()), "{c:?}");
        }
    }

    #[test]
    fn unknown_claims_and_header_params_are_kept() {
        let payload = r#"{"attest":"A","dest":{"tn":["1"]},"iat":1,"orig":{"tn":"2"},"origid":"x","rcd":{"nam":"Bob"}}"#;
        let v = parse_strict(payload.as_bytes(), 8).unwrap();
        let c = Claims::from_json(&v, &limits(), &ClaimsPolicy::default()).unwrap();
        assert_eq!(c.extra.get("rcd").unwrap()["nam"], "Bob");
        assert_eq!(canonical(&c.to_json()), payload);
        let h =
            Header::from_json(&parse_strict(br#"{"alg":"ES256","foo":[1]}"#, 8).unwrap()).unwrap();
        assert!(h.extra.contains_key("foo"));
    }

    #[test]
    fn rejects_bad_claims() {
        let l = limits();
        let pol = ClaimsPolicy::default();
        let c = |s: &str| Claims::from_json(&parse_strict(s.as_bytes(), 8).unwrap(), &l, &pol);
        assert!(matches!(
            c(r#"{"dest":{"tn":["1"]},"orig":{"tn":"2"}}"#),
            Err(ClaimsError::Missing { claim: "iat" })
        ));
        assert!(matches!(
            c(r#"{"iat":1,"orig":{"tn":"2"}}"#),
            Err(ClaimsError::Missing { claim: "dest" })
        ));
        assert!(matches!(
            c(r#"{"iat":1,"dest":{"tn":["1"]}}"#),
            Err(ClaimsError::Missing { claim: "orig" })
        ));
        assert!(matches!(
            c(r#"{"iat":1.5,"dest":{"tn":["1"]},"orig":{"tn":"2"}}"#),
            Err(ClaimsError::WrongType { claim: "iat", .. })
        ));
        assert!(matches!(
            c(r#"{"iat":-1,"dest":{"tn":["1"]},"orig":{"tn":"2"}}"#),
            Err(ClaimsError::WrongType { claim: "iat", .. })
        ));
        assert!(matches!(
            c(r#"{"iat":1,"dest":{"tn":"1"},"orig":{"tn":"2"}}"#),
            Err(ClaimsError::WrongType {
                claim: "dest.tn",
                ..
            })
        ));
        assert!(matches!(
            c(r#"{"iat":1,"dest":{"tn":[1]},"orig":{"tn":"2"}}"#),
            Err(ClaimsError::WrongType { .. })
        ));
        assert!(matches!(
            c(r#"{"iat":1,"dest":{},"orig":{"tn":"2"}}"#),
            Err(ClaimsError::DestEmpty)
        ));
        assert!(matches!(
            c(r#"{"iat":1,"dest":{"tn":["1"]},"orig":{"tn":"2","uri":"x"}}"#),
            Err(ClaimsError::OrigNotSingle { count: 2 })
        ));
        assert!(matches!(
            c(r#"{"iat":1,"dest":{"tn":["1"]},"orig":{"tn":2}}"#),
            Err(ClaimsError::WrongType { .. })
        ));
        assert!(matches!(
            c(r#"{"iat":1,"dest":{"xx":["1"]},"orig":{"tn":"2"}}"#),
            Err(ClaimsError::UnknownIdentityType { .. })
        ));
        assert!(matches!(
            c(r#"{"iat":1,"dest":{"tn":["1"]},"orig":{"tn":"2"},"attest":"D"}"#),
            Err(ClaimsError::BadAttest { .. })
        ));
        assert!(matches!(
            c(r#"{"iat":1,"dest":{"tn":["1"]},"orig":{"tn":"2"},"attest":1}"#),
            Err(ClaimsError::WrongType {
                claim: "attest",
                ..
            })
        ));
        // The message says what is wrong with it ("found a string" did not).
        let e = c(r#"{"iat":1,"dest":{"tn":["1"]},"orig":{"tn":"2"},"origid":""}"#).unwrap_err();
        assert!(
            matches!(
                e,
                ClaimsError::WrongType {
                    claim: "origid",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().ends_with("found an empty string"), "{e}");
        assert!(matches!(
            c(r#"{"iat":1,"dest":{"tn":["1"]},"orig":{"tn":"2"},"é":1}"#),
            Err(ClaimsError::NonAsciiName { .. })
        ));
        let many: Vec<String> = (0..11).map(|i| format!("\"{i}\"")).collect();
        assert!(matches!(
            c(&format!(
                r#"{{"iat":1,"dest":{{"tn":[{}]}},"orig":{{"tn":"2"}}}}"#,
                many.join(",")
            )),
            Err(ClaimsError::TooManyDest { count: 11, .. })
        ));
    }
}
