//! The JWS compact serialisation of a PASSporT (RFC 8225 §6-§7, RFC 7515):
//! `BASE64URL(header).BASE64URL(payload).BASE64URL(signature)`, decoded
//! strictly, the ES256 signature checked over the received bytes, and the
//! compact form (`..signature`) that SHAKEN forbids.

use super::{Claims, ClaimsError, ClaimsPolicy, Header, HeaderError};
use crate::crypto::{RawSignature, ES256_SIG_LEN};
use crate::json::{canonical, check_strict, parse_borrowed, parse_strict, Node};
use crate::{b64, Limits};
use serde_json::Value;
use std::sync::OnceLock;

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

/// A token that does not decode fails verification with 438 (`token-malformed`).
impl crate::diagnostic::Diagnostic for PassportError {
    fn id(&self) -> &'static str {
        match self {
            PassportError::TooLong { .. } => "token-too-long",
            PassportError::Segments { .. } => "token-segments",
            PassportError::Base64 { .. } => "token-base64",
            PassportError::Json { .. } => "token-json",
            PassportError::SignatureLength { .. } => "token-signature-length",
        }
    }
    fn sip_code(&self) -> Option<u16> {
        Some(438)
    }
    fn verstat(&self) -> Option<crate::report::Verstat> {
        Some(crate::report::Verstat::NoValidation)
    }
}

/// A decoded full-form PASSporT whose signature has not been checked.
#[derive(Clone)]
pub struct UnverifiedPassport {
    signing_input: String,
    header: Received,
    payload: Received,
    signature: RawSignature,
}

/// The fields as before (`header_json` and `payload_json` as `Value`s), however
/// they are stored.
impl std::fmt::Debug for UnverifiedPassport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnverifiedPassport")
            .field("signing_input", &self.signing_input)
            .field("header_json", self.header_json())
            .field("payload_json", self.payload_json())
            .field("signature", &self.signature)
            .finish()
    }
}

/// A decoded header or payload that passed the strict JSON rules: the
/// bytes, read into a borrowed [`Node`] whenever a typed view is asked for,
/// and into a `Value` only the first time one is (verification itself never
/// asks).
#[derive(Clone)]
struct Received {
    bytes: Vec<u8>,
    max_depth: usize,
    value: OnceLock<Value>,
}

impl Received {
    /// The borrowed tree. The bytes passed the same rules when decoded, so
    /// the `Null` (which no reader accepts) is never returned.
    fn node(&self) -> Node<'_> {
        parse_borrowed(&self.bytes, self.max_depth).unwrap_or(Node::Null)
    }

    /// The `Value`, built on the first call (the same caveat for `Null`).
    fn value(&self) -> &Value {
        self.value
            .get_or_init(|| parse_strict(&self.bytes, self.max_depth).unwrap_or(Value::Null))
    }
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
    // The common case without a heap copy: 86 characters, 64 bytes.
    let mut buf = [0u8; ES256_SIG_LEN + 2];
    if seg.len() == 86 && b64::decode_into(seg, &mut buf) == Some(ES256_SIG_LEN) {
        if let Some(sig) = buf.first_chunk::<ES256_SIG_LEN>() {
            return Ok(*sig);
        }
    }
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

/// A token decoded by [`Token::decode`], its header and claims read in the
/// same pass over the JSON.
#[derive(Debug)]
// Returned once per token and taken apart at once: boxing would only add an
// allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Decoded {
    /// `header.payload.signature`.
    Full {
        /// The token.
        passport: UnverifiedPassport,
        /// What [`UnverifiedPassport::header`] returns.
        header: Result<Header, HeaderError>,
        /// What [`super::dangerous::claims`] returns.
        claims: Result<Claims, ClaimsError>,
    },
    /// `..signature` (its signature is in what [`Token::parse`] returns).
    Compact,
}

/// What [`split`] gives: the full form with what was read from the header
/// and the payload, or the compact form.
enum Split<H, P> {
    Full(UnverifiedPassport, H, P),
    Compact(RawSignature),
}

/// Decode one JSON segment and read it with `read` (which applies the
/// strict rules: [`check_strict`] or [`parse_borrowed`]).
fn decode_json<T>(
    part: &'static str,
    seg: &str,
    max_depth: usize,
    read: impl FnOnce(&[u8]) -> Result<T, crate::json::JsonError>,
) -> Result<(Received, T), PassportError> {
    let bytes = b64::decode(seg).map_err(|source| PassportError::Base64 { part, source })?;
    let read = read(&bytes).map_err(|e| PassportError::Json {
        part,
        reason: e.to_string(),
    })?;
    Ok((
        Received {
            bytes,
            max_depth,
            value: OnceLock::new(),
        },
        read,
    ))
}

/// The decoding both [`Token::parse`] and [`Token::decode`] do, in this
/// order: lengths, segments, header, payload, signature.
fn split<H, P>(
    token: &str,
    limits: &Limits,
    header: impl FnOnce(&[u8]) -> Result<H, crate::json::JsonError>,
    payload: impl FnOnce(&[u8]) -> Result<P, crate::json::JsonError>,
) -> Result<Split<H, P>, PassportError> {
    if token.len() > limits.max_identity_header_len {
        return Err(PassportError::TooLong {
            what: "PASSporT",
            len: token.len(),
            max: limits.max_identity_header_len,
        });
    }
    let mut parts = token.splitn(4, '.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
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
        return Ok(Split::Compact(decode_signature(s)?));
    }
    let (header_bytes, header) = decode_json("header", h, limits.max_json_depth, header)?;
    let (payload_bytes, payload) = decode_json("payload", p, limits.max_json_depth, payload)?;
    let signature = decode_signature(s)?;
    // `h.p` is the token's own prefix: one copy, no formatting.
    let signing_input = token
        .get(..h.len() + 1 + p.len())
        .unwrap_or_default()
        .to_owned();
    Ok(Split::Full(
        UnverifiedPassport {
            signing_input,
            header: header_bytes,
            payload: payload_bytes,
            signature,
        },
        header,
        payload,
    ))
}

impl Token {
    /// Split and decode a token (full or compact form).
    pub fn parse(token: &str, limits: &Limits) -> Result<Token, PassportError> {
        let check = |bytes: &[u8]| check_strict(bytes, limits.max_json_depth);
        Ok(match split(token, limits, check, check)? {
            Split::Full(passport, (), ()) => Token::Full(passport),
            Split::Compact(signature) => Token::Compact { signature },
        })
    }

    /// [`Token::parse`], then [`UnverifiedPassport::header`] and
    /// [`super::dangerous::claims`], with the same results, but each JSON
    /// text parsed once: the tree that passes the strict rules is the one
    /// the header and the claims are read from (verification's path).
    pub(crate) fn decode(
        token: &str,
        limits: &Limits,
        policy: &ClaimsPolicy,
    ) -> Result<Decoded, PassportError> {
        let depth = limits.max_json_depth;
        let header = |bytes: &[u8]| parse_borrowed(bytes, depth).map(|n| Header::read(&n));
        let claims =
            |bytes: &[u8]| parse_borrowed(bytes, depth).map(|n| Claims::read(&n, limits, policy));
        Ok(match split(token, limits, header, claims)? {
            Split::Full(passport, header, claims) => Decoded::Full {
                passport,
                header,
                claims,
            },
            Split::Compact(_) => Decoded::Compact,
        })
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
        Header::read(&self.header.node())
    }

    /// The received header JSON (built on the first call).
    pub fn header_json(&self) -> &Value {
        self.header.value()
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

    /// Check the ES256 signature with a parsed public key (a cached chain's).
    pub fn verify_signature_with(
        &self,
        key: &crate::crypto::PublicKey,
    ) -> Result<(), crate::crypto::SignatureError> {
        key.verify(self.signing_input.as_bytes(), &self.signature)
    }

    /// The received payload JSON (built on the first call).
    pub(crate) fn payload_json(&self) -> &Value {
        self.payload.value()
    }

    /// The typed claims, read from the decoded bytes (no `Value`).
    pub(crate) fn claims(
        &self,
        limits: &Limits,
        policy: &ClaimsPolicy,
    ) -> Result<Claims, ClaimsError> {
        Claims::read(&self.payload.node(), limits, policy)
    }
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
    use crate::crypto::{DeterministicSigner, Signer};
    use crate::passport::dangerous;
    use crate::passport::vectors::*;
    use crate::passport::ClaimsPolicy;

    #[test]
    fn t2_serialisation_is_byte_exact() {
        let h = b64::encode(canonical(&baseline_header().to_json()).as_bytes());
        let p = b64::encode(canonical(&baseline_claims().to_json()).as_bytes());
        let (expected_input, _) = T2.rsplit_once('.').unwrap();
        assert_eq!(format!("{h}.{p}"), expected_input);
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

    /// Verification reads the header and the claims without building a
    /// `Value`; `header_json`/`payload_json` build theirs on the first call,
    /// from the bytes as received; `Debug` still shows them.
    #[test]
    fn values_are_built_only_when_asked_for() {
        fn shareable<T: Clone + std::fmt::Debug + Send + Sync>() {}
        shareable::<UnverifiedPassport>();
        shareable::<Token>();
        let header = r#"{"alg":"ES256","x5u":"https:\/\/x\u002fy","zz":1,"aa":[2]}"#;
        let payload =
            r#"{"orig":{"tn":"1"},"iat":1,"dest":{"tn":["2"]},"r\u0063d":{"nam":"\u00e9"}}"#;
        let p = UnverifiedPassport::parse(&tok(header, payload), &limits()).unwrap();
        let h = p.header().unwrap();
        let c = dangerous::claims(&p, &limits(), &ClaimsPolicy::default()).unwrap();
        assert_eq!(h.x5u.as_deref(), Some("https://x/y"));
        assert_eq!(c.extra["rcd"]["nam"], "é");
        assert!(p.header.value.get().is_none() && p.payload.value.get().is_none());
        let copy = p.clone();
        assert_eq!(
            p.header_json(),
            &parse_strict(header.as_bytes(), 8).unwrap()
        );
        assert!(p.header.value.get().is_some() && p.payload.value.get().is_none());
        assert_eq!(
            dangerous::payload_json(&p),
            &parse_strict(payload.as_bytes(), 8).unwrap()
        );
        assert_eq!(copy.header_json(), p.header_json());
        assert_eq!(copy.payload_json(), p.payload_json());
        assert_eq!(Header::from_json(p.header_json()), Ok(h));
        let debug = format!("{p:?}");
        assert!(
            debug.starts_with("UnverifiedPassport { signing_input: \"eyJ"),
            "{debug}"
        );
        assert!(
            debug.contains(
                r#"header_json: Object {"aa": Array [Number(2)], "alg": String("ES256")"#
            ),
            "{debug}"
        );
        assert!(debug.contains(r#"payload_json: Object {"dest""#), "{debug}");
        assert!(debug.contains("signature: [1, 1,"), "{debug}");
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
}
