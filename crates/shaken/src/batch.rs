//! One line of a batch: the ATIS-1000082 verification and signing requests
//! that `shaken verify --batch` and `shaken sign --batch` read as JSON Lines.
//!
//! Pure parsing (no I/O): a line of bytes in, a typed request or a
//! [`RequestError`] that says which field was wrong out. The streaming, the
//! threads and the output format live in the CLI; a SIP stack or a queue
//! consumer that receives the same requests can call these directly.
//!
//! ```
//! use shaken::batch::VerifyRequest;
//! use shaken::tn::TnPolicy;
//! let line = br#"{"from":{"tn":"12155550121"},"to":{"tn":["12125550143"]},"time":1700000000,"identity":"a.b.c;info=<https://x/y.pem>"}"#;
//! let req = VerifyRequest::parse(line, &TnPolicy::default()).unwrap();
//! assert_eq!(req.orig.as_str(), "12155550121");
//! let ctx = req.context(None);
//! assert_eq!(ctx.now, 1_700_000_000);
//! ```

use crate::passport::{Attestation, Claims};
use crate::tn::{TelephoneNumber, TnError, TnPolicy};
use crate::verify::{CallContext, PartyId};
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;

/// Why a request line could not be used. The text names the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// Not JSON, or JSON of the wrong shape (serde's message says where).
    #[error("not a JSON {kind} request: {detail}")]
    NotJson {
        /// `verification` or `signing`.
        kind: &'static str,
        /// The JSON parser's message, with line and column.
        detail: String,
    },
    /// A required member is absent.
    #[error("missing {0}")]
    Missing(&'static str),
    /// A telephone-number member that does not canonicalise.
    #[error("\"{field}\" {value:?} is not a telephone number: {source}")]
    BadTn {
        /// `from.tn`, `to.tn`, `orig.tn` or `dest.tn`.
        field: &'static str,
        /// The value as sent.
        value: String,
        /// Why it is not a number.
        source: TnError,
    },
    /// A destination list with no entry.
    #[error("\"{0}\" is empty")]
    Empty(&'static str),
    /// `iat` before 1970.
    #[error("\"iat\" {0} is negative")]
    NegativeIat(i64),
    /// `origid` that is not a UUID.
    #[error("\"origid\" {value:?} is not a UUID: {reason}")]
    BadOrigid {
        /// The value as sent.
        value: String,
        /// The UUID parser's message.
        reason: String,
    },
    /// `attest` other than A, B or C.
    #[error("\"attest\": {0}")]
    BadAttest(String),
}

/// A JSON string that borrows from the line when it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// `{"tn": "..."}`.
#[derive(Deserialize)]
struct OneTn<'a> {
    #[serde(borrow)]
    tn: Option<Text<'a>>,
}

/// `{"tn": ["...", ...]}`.
#[derive(Deserialize)]
struct ManyTn<'a> {
    #[serde(borrow)]
    tn: Option<Vec<Text<'a>>>,
}

/// The wire shape of a verification request, bare or wrapped.
#[derive(Deserialize)]
struct RawVerify<'a> {
    #[serde(borrow, rename = "verificationRequest")]
    wrapped: Option<Box<RawVerify<'a>>>,
    #[serde(borrow)]
    from: Option<OneTn<'a>>,
    #[serde(borrow)]
    to: Option<ManyTn<'a>>,
    time: Option<i64>,
    #[serde(borrow)]
    identity: Option<Text<'a>>,
}

/// The wire shape of a signing request, bare or wrapped.
#[derive(Deserialize)]
struct RawSign<'a> {
    #[serde(borrow, rename = "signingRequest")]
    wrapped: Option<Box<RawSign<'a>>>,
    #[serde(borrow)]
    attest: Option<Text<'a>>,
    #[serde(borrow)]
    dest: Option<ManyTn<'a>>,
    iat: Option<i64>,
    #[serde(borrow)]
    orig: Option<OneTn<'a>>,
    #[serde(borrow)]
    origid: Option<Text<'a>>,
}

/// An ATIS-1000082 verification request (`{"from":{"tn":..},"to":{"tn":[..]},
/// "time":..,"identity":..}`, bare or inside `verificationRequest`), with its
/// numbers canonicalised. Borrows the Identity value from the line when it
/// has no JSON escapes.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifyRequest<'a> {
    /// The calling number (`from.tn`).
    pub orig: TelephoneNumber,
    /// The called numbers (`to.tn`), at least one.
    pub dest: Vec<TelephoneNumber>,
    /// The request time, Unix seconds.
    pub time: i64,
    /// The Identity header value, trimmed.
    pub identity: Cow<'a, str>,
}

/// A request that failed, with the calling number when it was readable (so
/// that a summary can still count it against the caller).
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// What was wrong.
    pub error: RequestError,
    /// `from.tn` as canonicalised (or as sent when it did not canonicalise).
    pub calling: Option<String>,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for Rejected {}

impl<'a> VerifyRequest<'a> {
    /// Parse one line (without its newline).
    pub fn parse(line: &'a [u8], policy: &TnPolicy) -> Result<Self, Rejected> {
        let bare = |error| Rejected {
            error,
            calling: None,
        };
        let mut req: RawVerify = serde_json::from_slice(line).map_err(|e| {
            bare(RequestError::NotJson {
                kind: "verification",
                detail: e.to_string(),
            })
        })?;
        if let Some(inner) = req.wrapped.take() {
            req = *inner;
        }
        let from = req
            .from
            .and_then(|f| f.tn)
            .ok_or_else(|| bare(RequestError::Missing("\"from\": {\"tn\": ...}")))?;
        let orig = TelephoneNumber::parse(&from.0, policy).map_err(|source| Rejected {
            error: RequestError::BadTn {
                field: "from.tn",
                value: from.0.to_string(),
                source,
            },
            calling: Some(from.0.to_string()),
        })?;
        let with = |error| Rejected {
            error,
            calling: Some(orig.to_string()),
        };
        let to = req
            .to
            .and_then(|t| t.tn)
            .ok_or_else(|| with(RequestError::Missing("\"to\": {\"tn\": [...]}")))?;
        if to.is_empty() {
            return Err(with(RequestError::Empty("to.tn")));
        }
        let mut dest = Vec::with_capacity(to.len());
        for t in &to {
            let tn = TelephoneNumber::parse(&t.0, policy).map_err(|source| {
                with(RequestError::BadTn {
                    field: "to.tn",
                    value: t.0.to_string(),
                    source,
                })
            })?;
            dest.push(tn);
        }
        let time = req
            .time
            .ok_or_else(|| with(RequestError::Missing("\"time\" (Unix seconds)")))?;
        let identity = req.identity.ok_or_else(|| {
            with(RequestError::Missing(
                "\"identity\" (the Identity header value)",
            ))
        })?;
        let identity = match identity.0 {
            Cow::Borrowed(s) => Cow::Borrowed(s.trim()),
            Cow::Owned(s) => Cow::Owned(s.trim().to_owned()),
        };
        Ok(VerifyRequest {
            orig,
            dest,
            time,
            identity,
        })
    }

    /// The call to verify against. With `pinned_now` (a fixed clock, as with
    /// `--now`), the request time is checked like a SIP `Date`; without it,
    /// the request time is the verification time.
    pub fn context(&self, pinned_now: Option<i64>) -> CallContext {
        CallContext {
            now: pinned_now.unwrap_or(self.time),
            orig: vec![PartyId::Tn(self.orig.clone())],
            dest: self.dest.iter().cloned().map(PartyId::Tn).collect(),
            date: pinned_now.map(|_| self.time),
            call_id: None,
        }
    }
}

/// An ATIS-1000082 signing request (`{"attest":..,"orig":{"tn":..},
/// "dest":{"tn":[..]},"iat":..,"origid":..}`, bare or inside
/// `signingRequest`), turned into the SHAKEN claims to sign.
#[derive(Debug, Clone, PartialEq)]
pub struct SignRequest {
    /// The attestation asked for.
    pub attest: Attestation,
    /// The claims, numbers canonicalised, `origid` lower-case (a random v4
    /// UUID when the request has none).
    pub claims: Claims,
}

impl SignRequest {
    /// Parse one line (without its newline).
    pub fn parse(line: &[u8], policy: &TnPolicy) -> Result<Self, RequestError> {
        let mut req: RawSign = serde_json::from_slice(line).map_err(|e| RequestError::NotJson {
            kind: "signing",
            detail: e.to_string(),
        })?;
        if let Some(inner) = req.wrapped.take() {
            req = *inner;
        }
        let attest: Attestation = req
            .attest
            .ok_or(RequestError::Missing("\"attest\" (A, B or C)"))?
            .0
            .parse()
            .map_err(RequestError::BadAttest)?;
        let orig = req
            .orig
            .and_then(|o| o.tn)
            .ok_or(RequestError::Missing("\"orig\": {\"tn\": ...}"))?;
        let orig =
            TelephoneNumber::parse(&orig.0, policy).map_err(|source| RequestError::BadTn {
                field: "orig.tn",
                value: orig.0.to_string(),
                source,
            })?;
        let dest_in = req
            .dest
            .and_then(|d| d.tn)
            .ok_or(RequestError::Missing("\"dest\": {\"tn\": [...]}"))?;
        if dest_in.is_empty() {
            return Err(RequestError::Empty("dest.tn"));
        }
        let mut dest = Vec::with_capacity(dest_in.len());
        for d in &dest_in {
            dest.push(
                TelephoneNumber::parse(&d.0, policy)
                    .map_err(|source| RequestError::BadTn {
                        field: "dest.tn",
                        value: d.0.to_string(),
                        source,
                    })?
                    .to_string(),
            );
        }
        let iat = req
            .iat
            .ok_or(RequestError::Missing("\"iat\" (Unix seconds)"))?;
        if iat < 0 {
            return Err(RequestError::NegativeIat(iat));
        }
        let origid = match req.origid {
            Some(o) => {
                uuid::Uuid::parse_str(&o.0).map_err(|e| RequestError::BadOrigid {
                    value: o.0.to_string(),
                    reason: e.to_string(),
                })?;
                o.0.to_ascii_lowercase()
            }
            None => uuid::Uuid::new_v4().to_string(),
        };
        Ok(SignRequest {
            attest,
            claims: Claims::shaken(attest, orig.to_string(), dest, iat, origid),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn p() -> TnPolicy {
        TnPolicy::default()
    }

    #[test]
    fn verify_request_bare_and_wrapped() {
        let bare = br#"{"from":{"tn":"+1 215 555 0121"},"to":{"tn":["2125550143","12125550199"]},"time":5,"identity":"  tok;info=<u>  "}"#;
        let r = VerifyRequest::parse(bare, &p()).unwrap();
        assert_eq!(r.orig.as_str(), "12155550121");
        assert_eq!(r.dest.len(), 2);
        assert_eq!(r.identity, "tok;info=<u>");
        assert!(matches!(r.identity, Cow::Borrowed(_)));
        let wrapped = br#"{"verificationRequest":{"from":{"tn":"12155550121"},"to":{"tn":["12125550143"]},"time":7,"identity":"a\u0062c"}}"#;
        let r = VerifyRequest::parse(wrapped, &p()).unwrap();
        assert_eq!(r.identity, "abc");
        let escaped = br#"{"from":{"tn":"12155550121"},"to":{"tn":["12125550143"]},"time":5,"identity":"x\/y"}"#;
        assert_eq!(VerifyRequest::parse(escaped, &p()).unwrap().identity, "x/y");
        let ctx = r.context(Some(100));
        assert_eq!((ctx.now, ctx.date), (100, Some(7)));
        let ctx = r.context(None);
        assert_eq!((ctx.now, ctx.date), (7, None));
    }

    #[test]
    fn verify_request_errors_name_the_field() {
        let cases: &[(&[u8], &str, Option<&str>)] = &[
            (b"", "not a JSON verification request", None),
            (b"[1]", "not a JSON verification request", None),
            (br#"{"to":{"tn":["1"]}}"#, "missing \"from\"", None),
            (br#"{"from":{"tn":"abc"}}"#, "\"from.tn\" \"abc\"", Some("abc")),
            (br#"{"from":{"tn":"12155550121"}}"#, "missing \"to\"", Some("12155550121")),
            (br#"{"from":{"tn":"12155550121"},"to":{"tn":[]}}"#, "\"to.tn\" is empty", Some("12155550121")),
            (br#"{"from":{"tn":"12155550121"},"to":{"tn":["x"]}}"#, "\"to.tn\" \"x\"", Some("12155550121")),
            (br#"{"from":{"tn":"12155550121"},"to":{"tn":["12125550143"]}}"#, "missing \"time\"", Some("12155550121")),
            (br#"{"from":{"tn":"12155550121"},"to":{"tn":["12125550143"]},"time":1}"#, "missing \"identity\"", Some("12155550121")),
            (br#"{"from":{"tn":"12155550121"},"to":{"tn":["12125550143"]},"time":"1","identity":"x"}"#, "not a JSON verification request", None),
        ];
        for (line, want, calling) in cases {
            let e = VerifyRequest::parse(line, &p()).unwrap_err();
            assert!(
                e.to_string().contains(want),
                "{:?}: {e}",
                String::from_utf8_lossy(line)
            );
            assert_eq!(e.calling.as_deref(), *calling, "{e}");
        }
    }

    #[test]
    fn sign_request_parses_and_rejects() {
        let r = SignRequest::parse(
            br#"{"signingRequest":{"attest":"B","orig":{"tn":"12155550121"},"dest":{"tn":["2125550143"]},"iat":9,"origid":"123E4567-E89B-12D3-A456-426614174000"}}"#,
            &p(),
        )
        .unwrap();
        assert_eq!(r.attest, Attestation::B);
        assert_eq!(r.claims.iat, 9);
        assert_eq!(
            r.claims.origid.as_deref(),
            Some("123e4567-e89b-12d3-a456-426614174000")
        );
        let cases: &[(&[u8], &str)] = &[
            (b"{", "not a JSON signing request"),
            (br#"{}"#, "missing \"attest\""),
            (br#"{"attest":"D"}"#, "\"attest\": invalid attestation \"D\""),
            (br#"{"attest":"A"}"#, "missing \"orig\""),
            (br#"{"attest":"A","orig":{"tn":"x"}}"#, "\"orig.tn\" \"x\""),
            (br#"{"attest":"A","orig":{"tn":"12155550121"}}"#, "missing \"dest\""),
            (br#"{"attest":"A","orig":{"tn":"12155550121"},"dest":{"tn":[]}}"#, "\"dest.tn\" is empty"),
            (br#"{"attest":"A","orig":{"tn":"12155550121"},"dest":{"tn":["y"]}}"#, "\"dest.tn\" \"y\""),
            (br#"{"attest":"A","orig":{"tn":"12155550121"},"dest":{"tn":["12125550143"]}}"#, "missing \"iat\""),
            (br#"{"attest":"A","orig":{"tn":"12155550121"},"dest":{"tn":["12125550143"]},"iat":-1}"#, "\"iat\" -1 is negative"),
            (br#"{"attest":"A","orig":{"tn":"12155550121"},"dest":{"tn":["12125550143"]},"iat":1,"origid":"nope"}"#, "\"origid\" \"nope\" is not a UUID"),
        ];
        for (line, want) in cases {
            let e = SignRequest::parse(line, &p()).unwrap_err();
            assert!(
                e.to_string().contains(want),
                "{:?}: {e}",
                String::from_utf8_lossy(line)
            );
        }
    }
}
