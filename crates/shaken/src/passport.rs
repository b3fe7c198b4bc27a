//! PASSporT (RFC 8225) with the SHAKEN extension (RFC 8588).
//!
//! - [`Token::parse`] splits and strictly decodes a token: strict base64url,
//!   strict JSON (no duplicate names, bounded depth), a 64-byte raw signature.
//!   The result is an [`UnverifiedPassport`]: its claims are only reachable
//!   through [`dangerous`] until [`crate::verify`] returns a verified value.
//! - [`Header`] and [`Claims`] are the typed views; unknown header parameters
//!   and extension claims are kept, never dropped.
//! - [`sign`] builds a full-form token with the deterministic JSON of RFC 8225 §9.
//! - Verification always runs over the received bytes; JSON is never
//!   re-serialised to verify (only the compact form is rebuilt, see
//!   [`rebuild_compact`]).

use crate::crypto::{RawSignature, Signer, ES256_SIG_LEN};
use crate::json::{canonical, parse_strict};
use crate::{b64, Limits};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// The `ppt` value of SHAKEN PASSporTs (RFC 8588).
pub const PPT_SHAKEN: &str = "shaken";
/// The only algorithm SHAKEN allows.
pub const ALG_ES256: &str = "ES256";
/// The required `typ`.
pub const TYP_PASSPORT: &str = "passport";

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

/// The protected JOSE header.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// `alg`.
    pub alg: String,
    /// `typ` (SHAKEN requires `passport`).
    pub typ: Option<String>,
    /// `ppt` extension type.
    pub ppt: Option<String>,
    /// `x5u` certificate URL.
    pub x5u: Option<String>,
    /// Any other parameter, kept as received.
    pub extra: BTreeMap<String, Value>,
}

impl Header {
    /// The canonical SHAKEN header for `x5u`.
    pub fn shaken(x5u: impl Into<String>) -> Self {
        Header {
            alg: ALG_ES256.into(),
            typ: Some(TYP_PASSPORT.into()),
            ppt: Some(PPT_SHAKEN.into()),
            x5u: Some(x5u.into()),
            extra: BTreeMap::new(),
        }
    }

    /// Read a header from parsed JSON. Rejects header keys that carry a key
    /// or a critical-extension list: the key must come from `x5u` only
    /// (RFC 8725 §3.1, specs §7).
    pub fn from_json(v: &Value) -> Result<Self, HeaderError> {
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

    /// The header as a JSON object.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("alg".into(), Value::String(self.alg.clone()));
        if let Some(t) = &self.typ {
            m.insert("typ".into(), Value::String(t.clone()));
        }
        if let Some(p) = &self.ppt {
            m.insert("ppt".into(), Value::String(p.clone()));
        }
        if let Some(x) = &self.x5u {
            m.insert("x5u".into(), Value::String(x.clone()));
        }
        for (k, v) in &self.extra {
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m)
    }
}

/// How strictly claims are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClaimsPolicy {
    /// Accept `iat` as a decimal string (`"1443208345"`), as the RFC 8225 §7.1
    /// and the original RFC 8588 §6 examples do (erratum 6656 fixed it).
    /// Off by default: RFC 8225 §5.1.1 requires a JSON number.
    pub lenient_iat_string: bool,
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

/// Why a token could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PassportError {
    /// The token or a segment is longer than the limit.
    #[error("{what} is {len} characters long; the limit is {max}")]
    TooLong {
        /// Which part.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not three dot-separated segments.
    #[error("a PASSporT has 3 dot-separated parts (header.payload.signature); found {count}")]
    Segments {
        /// How many were found.
        count: usize,
    },
    /// A segment is not strict base64url.
    #[error("PASSporT {part} is not valid base64url: {source}")]
    Base64 {
        /// `header`, `payload` or `signature`.
        part: &'static str,
        /// The decoding error.
        source: b64::B64Error,
    },
    /// A segment is not strict JSON.
    #[error("PASSporT {part} is not valid JSON: {reason}")]
    Json {
        /// `header` or `payload`.
        part: &'static str,
        /// Where and why.
        reason: String,
    },
    /// The signature is not 64 raw bytes.
    #[error(
        "ES256 signature is {len} bytes; JWS requires 64 raw bytes r||s (RFC 7518 §3.4){hint}"
    )]
    SignatureLength {
        /// Decoded length.
        len: usize,
        /// Extra hint for DER.
        hint: &'static str,
    },
}

/// Why a JOSE header is unacceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// Not a JSON object.
    #[error("PASSporT header is not a JSON object")]
    NotObject,
    /// A required parameter is missing.
    #[error("PASSporT header has no {param:?} parameter")]
    Missing {
        /// The parameter.
        param: &'static str,
    },
    /// A parameter has the wrong JSON type.
    #[error("PASSporT header parameter {param:?} must be a string")]
    WrongType {
        /// The parameter.
        param: &'static str,
    },
    /// A parameter that must never be honoured.
    #[error("PASSporT header carries {param:?}; keys and critical extensions in the header are refused (the key must come from the x5u certificate, RFC 8725 §3.1)")]
    Forbidden {
        /// The parameter.
        param: &'static str,
    },
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

/// A decoded full-form PASSporT whose signature has not been checked.
#[derive(Debug, Clone)]
pub struct UnverifiedPassport {
    signing_input: String,
    header_json: Value,
    payload_json: Value,
    signature: RawSignature,
}

/// A token as received: full form, or compact form (`..signature`).
#[derive(Debug, Clone)]
pub enum Token {
    /// `header.payload.signature`.
    Full(UnverifiedPassport),
    /// `..signature`: header and claims must be rebuilt from signalling.
    Compact {
        /// The signature.
        signature: RawSignature,
    },
}

fn decode_signature(seg: &str) -> Result<RawSignature, PassportError> {
    let sig = b64::decode(seg).map_err(|source| PassportError::Base64 {
        part: "signature",
        source,
    })?;
    sig.as_slice()
        .try_into()
        .map_err(|_| PassportError::SignatureLength {
            len: sig.len(),
            hint: if sig.first() == Some(&0x30) && (68..=72).contains(&sig.len()) {
                "; this looks like a DER-encoded signature, which JWS does not allow"
            } else {
                ""
            },
        })
}

impl Token {
    /// Split and decode a token (full or compact form).
    pub fn parse(token: &str, limits: &Limits) -> Result<Token, PassportError> {
        if token.len() > limits.max_identity_header_len {
            return Err(PassportError::TooLong {
                what: "PASSporT",
                len: token.len(),
                max: limits.max_identity_header_len,
            });
        }
        let parts: Vec<&str> = token.splitn(4, '.').collect();
        let [h, p, s] = parts.as_slice() else {
            return Err(PassportError::Segments {
                count: token.split('.').count(),
            });
        };
        for (what, seg) in [
            ("PASSporT header", h),
            ("PASSporT payload", p),
            ("PASSporT signature", s),
        ] {
            if seg.len() > limits.max_token_segment_len {
                return Err(PassportError::TooLong {
                    what,
                    len: seg.len(),
                    max: limits.max_token_segment_len,
                });
            }
        }
        if h.is_empty() && p.is_empty() {
            return Ok(Token::Compact {
                signature: decode_signature(s)?,
            });
        }
        let decode_json = |part: &'static str, seg: &str| -> Result<Value, PassportError> {
            let bytes =
                b64::decode(seg).map_err(|source| PassportError::Base64 { part, source })?;
            parse_strict(&bytes, limits.max_json_depth).map_err(|e| PassportError::Json {
                part,
                reason: e.to_string(),
            })
        };
        let header_json = decode_json("header", h)?;
        let payload_json = decode_json("payload", p)?;
        let signature = decode_signature(s)?;
        let signing_input = format!("{h}.{p}");
        Ok(Token::Full(UnverifiedPassport {
            signing_input,
            header_json,
            payload_json,
            signature,
        }))
    }
}

impl UnverifiedPassport {
    /// Decode a full-form token; the compact form is an error here.
    pub fn parse(token: &str, limits: &Limits) -> Result<Self, PassportError> {
        match Token::parse(token, limits)? {
            Token::Full(p) => Ok(p),
            Token::Compact { .. } => Err(PassportError::Segments { count: 3 }),
        }
    }

    /// The typed header. Headers carry no claims, so reading them is safe;
    /// nothing in them is trusted until the signature is verified.
    pub fn header(&self) -> Result<Header, HeaderError> {
        Header::from_json(&self.header_json)
    }

    /// The received header JSON.
    pub fn header_json(&self) -> &Value {
        &self.header_json
    }

    /// The bytes that were signed: `BASE64URL(header) '.' BASE64URL(payload)`
    /// exactly as received.
    pub fn signing_input(&self) -> &str {
        &self.signing_input
    }

    /// The raw signature.
    pub fn signature(&self) -> &RawSignature {
        &self.signature
    }

    /// Check the ES256 signature with an uncompressed P-256 public point.
    pub fn verify_signature(
        &self,
        public_point: &[u8],
    ) -> Result<(), crate::crypto::SignatureError> {
        crate::crypto::verify_es256(public_point, self.signing_input.as_bytes(), &self.signature)
    }

    pub(crate) fn payload_json(&self) -> &Value {
        &self.payload_json
    }
}

/// Reading claims before the signature is checked. Use for display and
/// diagnosis only (`shaken decode`); never for a decision.
pub mod dangerous {
    use super::*;

    /// The payload JSON as received, unverified.
    pub fn payload_json(p: &UnverifiedPassport) -> &Value {
        p.payload_json()
    }

    /// The typed claims, unverified.
    pub fn claims(
        p: &UnverifiedPassport,
        limits: &Limits,
        policy: &ClaimsPolicy,
    ) -> Result<Claims, ClaimsError> {
        Claims::from_json(p.payload_json(), limits, policy)
    }
}

/// Why signing failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The key or signer failed.
    #[error(transparent)]
    Key(#[from] crate::crypto::KeyError),
    /// The header is not one we sign.
    #[error("refusing to sign with alg {0:?}: only ES256 is supported")]
    Alg(String),
}

/// A header already encoded as its token segment
/// (`BASE64URL(canonical JSON)`): a signer that uses one header for every
/// call (one key, one x5u) encodes it once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedHeader(String);

impl EncodedHeader {
    /// Encode `header` (ES256 only).
    pub fn new(header: &Header) -> Result<Self, SignError> {
        if header.alg != ALG_ES256 {
            return Err(SignError::Alg(header.alg.clone()));
        }
        Ok(EncodedHeader(b64::encode(
            canonical(&header.to_json()).as_bytes(),
        )))
    }
    /// The base64url segment.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// [`sign`] with a pre-encoded header: the same token, less work per call.
pub fn sign_encoded(
    header: &EncodedHeader,
    claims: &Claims,
    signer: &dyn Signer,
) -> Result<String, SignError> {
    let p = b64::encode(canonical(&claims.to_json()).as_bytes());
    let mut token = String::with_capacity(header.0.len() + p.len() + 90);
    token.push_str(&header.0);
    token.push('.');
    token.push_str(&p);
    let sig = signer.sign_es256(token.as_bytes())?;
    token.push('.');
    token.push_str(&b64::encode(&sig));
    Ok(token)
}

/// Sign `claims` under `header` and return the full-form token
/// `header.payload.signature`, with both JSON parts in the deterministic form
/// of RFC 8225 §9.
pub fn sign(header: &Header, claims: &Claims, signer: &dyn Signer) -> Result<String, SignError> {
    sign_encoded(&EncodedHeader::new(header)?, claims, signer)
}

/// Rebuild the full form of a compact-form token (RFC 8225 §7) from the
/// header and claims the receiver derived from signalling. The result can be
/// verified like any full-form token. SHAKEN forbids the compact form; this is
/// for generic STIR use.
pub fn rebuild_compact(header: &Header, claims: &Claims, signature: &RawSignature) -> String {
    let h = b64::encode(canonical(&header.to_json()).as_bytes());
    let p = b64::encode(canonical(&claims.to_json()).as_bytes());
    let mut s = String::with_capacity(h.len() + p.len() + 2 + 2 * ES256_SIG_LEN);
    s.push_str(&h);
    s.push('.');
    s.push_str(&p);
    s.push('.');
    s.push_str(&b64::encode(signature));
    s
}

/// Compact form (`..signature`) of a full-form token.
pub fn to_compact(token: &str) -> Option<String> {
    token.rsplit_once('.').map(|(_, sig)| format!("..{sig}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::crypto::DeterministicSigner;

    const A1_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgi7q2TZvN9VDFg8Vy
qCP06bETrR2v8MRvr89rn4i+UAahRANCAAQWfaj1HUETpoNCrOtp9KA8o0V79IuW
ARKt9C1cFPkyd3FBP4SeiNZxQhDrD0tdBHls3/wFe8++K2FrPyQF9vuh
-----END PRIVATE KEY-----
";
    /// RFC 8225 A.2 as printed (the key that verifies the §7.1 example).
    const A2_PUB: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE8HNbQd/TmvCKwPKHkMF9fScavGeH
78YTU8qLS8I5HLHSSmlATLcslQMhNC/OhlWBYC626nIlo7XeebYS7Sb37g==
-----END PUBLIC KEY-----
";
    const T2: &str = "eyJhbGciOiJFUzI1NiIsInR5cCI6InBhc3Nwb3J0IiwieDV1IjoiaHR0cHM6Ly9jZXJ0LmV4YW1wbGUub3JnL3Bhc3Nwb3J0LmNlciJ9.eyJkZXN0Ijp7InVyaSI6WyJzaXA6YWxpY2VAZXhhbXBsZS5jb20iXX0sImlhdCI6MTQ3MTM3NTQxOCwib3JpZyI6eyJ0biI6IjEyMTU1NTUxMjEyIn19.VLBCIVDCaeK6M4hLJb6SHQvacAQVvoiiEOWQ_iUkqk79UD81fHQ0E1b3_GluIkba7UWYRM47ZbNFdOJquE35cw";
    const T3: &str = "eyJhbGciOiJFUzI1NiIsInR5cCI6InBhc3Nwb3J0IiwieDV1IjoiaHR0cHM6Ly9jZXJ0LmV4YW1wbGUub3JnL3Bhc3Nwb3J0LmNlciJ9.eyJkZXN0Ijp7InVyaSI6WyJzaXA6YWxpY2VAZXhhbXBsZS5jb20iXX0sImlhdCI6IjE0NDMyMDgzNDUiLCJvcmlnIjp7InRuIjoiMTIxNTU1NTEyMTIifX0.rq3pjT1hoRwakEGjHCnWSwUnshd0-zJ6F1VOgFWSjHBr8Qjpjlk-cpFYpFYsojNCpTzO3QfPOlckGaS6hEck7w";
    const T5_BASELINE: &str = "eyJhbGciOiJFUzI1NiIsInR5cCI6InBhc3Nwb3J0IiwieDV1IjoiaHR0cHM6Ly9jZXJ0LmV4YW1wbGUub3JnL3Bhc3Nwb3J0LmNlciJ9.eyJkZXN0Ijp7InVyaSI6WyJzaXA6YWxpY2VAZXhhbXBsZS5jb20iXX0sImlhdCI6MTQ3MTM3NTQxOCwib3JpZyI6eyJ0biI6IjEyMTU1NTUxMjEyIn19.2c_SAul3BxIuvMR3G8VfbFwj6ZoOHBQF-qVaR-Mef0V2ipEhTe0ZYBaLrnhuSRVNwy1Tu-tr334XUBdnPYi3tA";
    const T5_SHAKEN: &str = "eyJhbGciOiJFUzI1NiIsInBwdCI6InNoYWtlbiIsInR5cCI6InBhc3Nwb3J0IiwieDV1IjoiaHR0cHM6Ly9jZXJ0LmV4YW1wbGUub3JnL3Bhc3Nwb3J0LmNlciJ9.eyJhdHRlc3QiOiJBIiwiZGVzdCI6eyJ0biI6WyIxMjE1NTU1MDEzMSJdfSwiaWF0IjoxNDQzMjA4MzQ1LCJvcmlnIjp7InRuIjoiMTIxNTU1NTAxMjEifSwib3JpZ2lkIjoiMTIzZTQ1NjctZTg5Yi0xMmQzLWE0NTYtNDI2NjU1NDQwMDAwIn0.PwimjV0wnsRsOCmtANjxRqn2_o1EhP-l8ixwLTIbyhMUF4qiJVy7mRUmup5JAeX8xy4hu4uZYeVmwVJtLuYnpw";
    const X5U: &str = "https://cert.example.org/passport.cer";

    fn limits() -> Limits {
        Limits::default()
    }

    fn baseline_header() -> Header {
        Header {
            alg: "ES256".into(),
            typ: Some("passport".into()),
            ppt: None,
            x5u: Some(X5U.into()),
            extra: BTreeMap::new(),
        }
    }

    fn baseline_claims() -> Claims {
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

    #[test]
    fn t2_serialisation_is_byte_exact() {
        let h = b64::encode(canonical(&baseline_header().to_json()).as_bytes());
        let p = b64::encode(canonical(&baseline_claims().to_json()).as_bytes());
        let (expected_input, _) = T2.rsplit_once('.').unwrap();
        assert_eq!(format!("{h}.{p}"), expected_input);
    }

    #[test]
    fn t5_deterministic_signatures_reproduce() {
        let signer = DeterministicSigner::from_pem(A1_KEY).unwrap();
        assert_eq!(
            sign(&baseline_header(), &baseline_claims(), &signer).unwrap(),
            T5_BASELINE
        );
        let claims = Claims::shaken(
            Attestation::A,
            "12155550121",
            vec!["12155550131".into()],
            1443208345,
            "123e4567-e89b-12d3-a456-426655440000",
        );
        assert_eq!(
            sign(&Header::shaken(X5U), &claims, &signer).unwrap(),
            T5_SHAKEN
        );
    }

    #[test]
    fn encoded_header_signs_the_same_token() {
        let signer = DeterministicSigner::from_pem(A1_KEY).unwrap();
        let h = EncodedHeader::new(&baseline_header()).unwrap();
        assert_eq!(
            sign_encoded(&h, &baseline_claims(), &signer).unwrap(),
            T5_BASELINE
        );
        let mut bad = baseline_header();
        bad.alg = "HS256".into();
        assert!(matches!(EncodedHeader::new(&bad), Err(SignError::Alg(_))));
    }

    #[test]
    fn t5_verifies_and_t2_does_not() {
        let signer = DeterministicSigner::from_pem(A1_KEY).unwrap();
        let point = signer.public_key().unwrap();
        for t in [T5_BASELINE, T5_SHAKEN] {
            UnverifiedPassport::parse(t, &limits())
                .unwrap()
                .verify_signature(&point)
                .unwrap();
        }
        // The RFC 8225 Appendix A signature verifies with neither published key (specs §8 b).
        let t2 = UnverifiedPassport::parse(T2, &limits()).unwrap();
        assert!(t2.verify_signature(&point).is_err());
        let a2 = crate::crypto::public_point_from_pem(A2_PUB).unwrap();
        assert!(t2.verify_signature(&a2).is_err());
    }

    #[test]
    fn t3_signature_verifies_but_string_iat_is_strictly_rejected() {
        let a2 = crate::crypto::public_point_from_pem(A2_PUB).unwrap();
        let t3 = UnverifiedPassport::parse(T3, &limits()).unwrap();
        t3.verify_signature(&a2).unwrap();
        let strict = dangerous::claims(&t3, &limits(), &ClaimsPolicy::default());
        assert!(
            matches!(strict, Err(ClaimsError::IatIsString { .. })),
            "{strict:?}"
        );
        let lenient = dangerous::claims(
            &t3,
            &limits(),
            &ClaimsPolicy {
                lenient_iat_string: true,
            },
        )
        .unwrap();
        assert_eq!(lenient.iat, 1443208345);
        assert!(lenient.iat_was_string);
    }

    #[test]
    fn t4_rfc7515_a3_high_s_verifies() {
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        let x = b64::decode("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU").unwrap();
        let y = b64::decode("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0").unwrap();
        let point = p256::EncodedPoint::from_affine_coordinates(
            x.as_slice().into(),
            y.as_slice().into(),
            false,
        );
        let key = p256::PublicKey::from_sec1_bytes(point.as_bytes()).unwrap();
        let point = key.to_encoded_point(false).as_bytes().to_vec();
        let input = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
        let sig: RawSignature = b64::decode("DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q")
            .unwrap()
            .try_into()
            .unwrap();
        crate::crypto::verify_es256(&point, input.as_bytes(), &sig).unwrap();
    }

    #[test]
    fn compact_form_parses_and_rebuilds() {
        let compact = to_compact(T5_SHAKEN).unwrap();
        let Token::Compact { signature } = Token::parse(&compact, &limits()).unwrap() else {
            panic!("expected compact form");
        };
        let full = UnverifiedPassport::parse(T5_SHAKEN, &limits()).unwrap();
        let header = full.header().unwrap();
        let claims = dangerous::claims(&full, &limits(), &ClaimsPolicy::default()).unwrap();
        assert_eq!(rebuild_compact(&header, &claims, &signature), T5_SHAKEN);
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

    fn tok(header: &str, payload: &str) -> String {
        format!(
            "{}.{}.{}",
            b64::encode(header.as_bytes()),
            b64::encode(payload.as_bytes()),
            b64::encode(&[1u8; 64])
        )
    }

    #[test]
    fn rejects_malformed_tokens() {
        let l = limits();
        assert!(matches!(
            Token::parse("a.b", &l),
            Err(PassportError::Segments { count: 2 })
        ));
        assert!(matches!(
            Token::parse("a.b.c.d", &l),
            Err(PassportError::Segments { count: 4 })
        ));
        let good = tok(r#"{"alg":"ES256"}"#, r#"{}"#);
        assert!(Token::parse(&good, &l).is_ok());
        // padding
        let padded = good.replacen('.', "=.", 1);
        assert!(matches!(
            Token::parse(&padded, &l),
            Err(PassportError::Base64 { part: "header", .. })
        ));
        // duplicate keys, escaped duplicates
        let dup = tok(r#"{"alg":"ES256","al\u0067":"none"}"#, "{}");
        assert!(matches!(
            Token::parse(&dup, &l),
            Err(PassportError::Json { part: "header", .. })
        ));
        // DER signature
        let mut der = vec![0x30, 0x44, 0x02, 0x20];
        der.extend([1u8; 66]);
        let t = format!(
            "{}.{}.{}",
            b64::encode(b"{}"),
            b64::encode(b"{}"),
            b64::encode(&der)
        );
        let e = Token::parse(&t, &l).unwrap_err();
        assert!(e.to_string().contains("DER"), "{e}");
        // oversize segment
        let big = tok(
            &format!(r#"{{"alg":"ES256","x":"{}"}}"#, "a".repeat(5000)),
            "{}",
        );
        assert!(matches!(
            Token::parse(&big, &l),
            Err(PassportError::TooLong { .. })
        ));
        // too deep
        let deep = tok(r#"{"alg":"ES256","x":[[[[[[[[[1]]]]]]]]]}"#, "{}");
        assert!(matches!(
            Token::parse(&deep, &l),
            Err(PassportError::Json { .. })
        ));
    }

    #[test]
    fn rejects_header_keys() {
        for p in ["jwk", "kid", "x5c", "crit", "jku"] {
            let v = parse_strict(format!(r#"{{"alg":"ES256","{p}":"x"}}"#).as_bytes(), 8).unwrap();
            assert!(
                matches!(Header::from_json(&v), Err(HeaderError::Forbidden { .. })),
                "{p}"
            );
        }
        let v = parse_strict(br#"{"typ":"passport"}"#, 8).unwrap();
        assert_eq!(
            Header::from_json(&v),
            Err(HeaderError::Missing { param: "alg" })
        );
        let v = parse_strict(br#"{"alg":1}"#, 8).unwrap();
        assert_eq!(
            Header::from_json(&v),
            Err(HeaderError::WrongType { param: "alg" })
        );
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
