//! The ATIS-1000082 request model: signing and verification requests and
//! answers, with one normalisation policy for every surface.
//!
//! The REST service (`/stir/v1/signing`, `/stir/v1/verification`), the JSON
//! Lines of `shaken sign --batch` / `verify --batch`, the CLI's one-call
//! `sign`, and the C ABI's `shaken_sign` all build their requests here, so
//! the same request gets the same answer everywhere:
//!
//! | input | rule |
//! |---|---|
//! | `origid` braced, `urn:uuid:`, upper case, or 32 hex digits | accepted; the canonical lower-case hyphenated form is signed ([`OrigId`]) |
//! | no `origid` | a random v4 UUID is drawn |
//! | `attest` `"a"`, `"b"`, `"c"` | accepted as A, B, C (RFC 8588 values are upper case; the signed claim is) |
//! | `to.tn` / `dest.tn` a single string | accepted as a list of one (ATIS says array) |
//! | `to.tn` / `dest.tn` empty, or more than [`Limits::max_dest_entries`] | request error |
//! | `from.tn` / `orig.tn` not a telephone number (`"anonymous"`) | request error |
//! | `time` / `iat` negative or not an integer | request error |
//! | `identity` with a pasted `Identity:` prefix or folded lines | accepted ([`crate::identity::unpaste`]) |
//! | `identity` absent | an unsigned call: verified as `No-TN-Validation`, 428 `no-identity` |
//! | `identity` empty | request error |
//! | a member `null` | as if absent |
//!
//! Pure parsing (no I/O): bytes in, a typed request or a [`RequestError`]
//! that names the member out. The fast path deserialises straight into typed
//! structs (no `serde_json::Value`); only a request that fails it is read a
//! second time, member by member, to say which member was wrong.
//!
//! ```
//! use shaken::atis::VerifyRequest;
//! use shaken::tn::TnPolicy;
//! let line = br#"{"from":{"tn":"12155550121"},"to":{"tn":["12125550143"]},"time":1700000000,"identity":"a.b.c;info=<https://x/y.pem>"}"#;
//! let req = VerifyRequest::parse(line, &TnPolicy::default()).unwrap();
//! assert_eq!(req.orig.as_str(), "12155550121");
//! let ctx = req.context(None);
//! assert_eq!(ctx.now, 1_700_000_000);
//! ```

use crate::limits::Limits;
use crate::passport::{Attestation, Claims};
use crate::tn::{TelephoneNumber, TnError, TnPolicy};
use crate::verify::{CallContext, PartyId};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::borrow::Cow;

/// Why a request could not be used. The text names the member.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// Not JSON, or not a JSON object.
    #[error("not a JSON {kind} request: {detail}")]
    NotJson {
        /// `verification` or `signing`.
        kind: &'static str,
        /// The JSON parser's message, with line and column.
        detail: String,
    },
    /// A required member is absent (or `null`).
    #[error("missing {0}")]
    Missing(&'static str),
    /// A member of the wrong JSON type.
    #[error("\"{field}\" {expected}")]
    WrongType {
        /// The member's path (`from.tn`, `time`...).
        field: &'static str,
        /// What it must be, e.g. `must be a string`.
        expected: &'static str,
    },
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
    /// A destination list longer than the limit.
    #[error("\"{field}\" holds {count} numbers; at most {max} are accepted")]
    TooMany {
        /// `to.tn` or `dest.tn`.
        field: &'static str,
        /// How many were sent.
        count: usize,
        /// [`Limits::max_dest_entries`].
        max: usize,
    },
    /// `iat` before 1970.
    #[error("\"iat\" {0} is negative")]
    NegativeIat(i64),
    /// `time` before 1970.
    #[error("\"time\" {0} is negative")]
    NegativeTime(i64),
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
    /// An empty `identity`.
    #[error("\"identity\" is empty")]
    EmptyIdentity,
    /// The Rich Call Data of a signing request (the `rcd`, `crn`, `rcdi`
    /// extension members) would not pass a verifier (RFC 9795 §5).
    #[error("Rich Call Data: {0}")]
    Rcd(crate::rcd::RcdError),
}

impl RequestError {
    /// The member the error is about (`from.tn`, `attest`...), when there is
    /// one: the REST service names it in SVC4001/SVC4005.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            RequestError::NotJson { .. } => None,
            RequestError::Missing(what) => Some(member_of(what)),
            RequestError::WrongType { field, .. }
            | RequestError::BadTn { field, .. }
            | RequestError::TooMany { field, .. } => Some(field),
            RequestError::Empty(field) => Some(field),
            RequestError::NegativeIat(_) => Some("iat"),
            RequestError::NegativeTime(_) => Some("time"),
            RequestError::BadOrigid { .. } => Some("origid"),
            RequestError::BadAttest(_) => Some("attest"),
            RequestError::EmptyIdentity => Some("identity"),
            RequestError::Rcd(_) => Some("rcd"),
        }
    }

    /// A stable id for the kind of error (scripts and metrics).
    pub fn id(&self) -> &'static str {
        match self {
            RequestError::NotJson { .. } => "request-not-json",
            RequestError::Missing(_) => "request-member-missing",
            RequestError::WrongType { .. } => "request-member-wrong-type",
            RequestError::BadTn { .. } => "request-tn-invalid",
            RequestError::Empty(_) => "request-tn-list-empty",
            RequestError::TooMany { .. } => "request-tn-list-too-long",
            RequestError::NegativeIat(_) => "request-iat-negative",
            RequestError::NegativeTime(_) => "request-time-negative",
            RequestError::BadOrigid { .. } => "request-origid-invalid",
            RequestError::BadAttest(_) => "request-attest-invalid",
            RequestError::EmptyIdentity => "request-identity-empty",
            RequestError::Rcd(_) => "request-rcd-invalid",
        }
    }
}

/// `"from": {"tn": ...}` (a `Missing` text) -> `from.tn`.
fn member_of(missing: &'static str) -> &'static str {
    match missing {
        MISSING_FROM => "from",
        MISSING_TO => "to",
        MISSING_FROM_TN => "from.tn",
        MISSING_TO_TN => "to.tn",
        MISSING_ORIG_TN => "orig.tn",
        MISSING_DEST_TN => "dest.tn",
        MISSING_TIME => "time",
        MISSING_IDENTITY => "identity",
        MISSING_ATTEST => "attest",
        MISSING_ORIG => "orig",
        MISSING_DEST => "dest",
        MISSING_IAT => "iat",
        MISSING_VERIFY_WRAPPER => "verificationRequest",
        MISSING_SIGN_WRAPPER => "signingRequest",
        other => other,
    }
}

const MISSING_FROM: &str = "\"from\": {\"tn\": ...}";
const MISSING_TO: &str = "\"to\": {\"tn\": [...]}";
const MISSING_FROM_TN: &str = "\"from.tn\"";
const MISSING_TO_TN: &str = "\"to.tn\"";
const MISSING_ORIG_TN: &str = "\"orig.tn\"";
const MISSING_DEST_TN: &str = "\"dest.tn\"";
const MISSING_TIME: &str = "\"time\" (Unix seconds)";
const MISSING_IDENTITY: &str = "\"identity\" (the Identity header value)";
const MISSING_ATTEST: &str = "\"attest\" (A, B or C)";
const MISSING_ORIG: &str = "\"orig\": {\"tn\": ...}";
const MISSING_DEST: &str = "\"dest\": {\"tn\": [...]}";
const MISSING_IAT: &str = "\"iat\" (Unix seconds)";
const MISSING_VERIFY_WRAPPER: &str = "\"verificationRequest\"";
const MISSING_SIGN_WRAPPER: &str = "\"signingRequest\"";

/// How requests are read: the TN policy, the list bound, and whether the
/// ATIS wrapper object (`verificationRequest` / `signingRequest`) is
/// required (the REST service) or optional (JSON Lines).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestPolicy {
    /// Telephone-number canonicalisation.
    pub tn: TnPolicy,
    /// Most numbers in `to.tn` / `dest.tn`.
    pub max_dest_entries: usize,
    /// Refuse a request that is not inside its wrapper object.
    pub require_wrapper: bool,
    /// Read a line of `shaken sign --batch` output as a verification
    /// request: without `from`/`to`/`time`, its `orig`/`dest`/`iat` stand
    /// for them (JSON Lines only; the REST service keeps ATIS's names).
    pub signed_lines: bool,
}

impl Default for RequestPolicy {
    fn default() -> Self {
        RequestPolicy {
            tn: TnPolicy::default(),
            max_dest_entries: Limits::default().max_dest_entries,
            require_wrapper: false,
            signed_lines: false,
        }
    }
}

impl RequestPolicy {
    /// The default rules with this TN policy.
    pub fn with_tn(tn: TnPolicy) -> Self {
        RequestPolicy {
            tn,
            ..RequestPolicy::default()
        }
    }
}

/// An `origid` (ATIS-1000074 §5.2.4: a UUID), canonical: lower-case,
/// hyphenated. Parsing accepts the forms people paste (braced, `urn:uuid:`,
/// upper case, 32 hex digits without hyphens).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrigId(String);

impl OrigId {
    /// A fresh random (v4) origid.
    pub fn random() -> Self {
        OrigId(uuid::Uuid::new_v4().hyphenated().to_string())
    }
    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for OrigId {
    type Err = RequestError;
    fn from_str(s: &str) -> Result<Self, RequestError> {
        uuid::Uuid::parse_str(s.trim())
            .map(|u| OrigId(u.hyphenated().to_string()))
            .map_err(|e| RequestError::BadOrigid {
                value: s.chars().take(64).collect(),
                reason: e.to_string(),
            })
    }
}

impl std::fmt::Display for OrigId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
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

/// `"tn": "..."` or `"tn": ["...", ...]`.
struct TnList<'a>(Vec<Text<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for TnList<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = TnList<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a telephone number or an array of them")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<TnList<'de>, E> {
                Ok(TnList(vec![Text(Cow::Borrowed(v))]))
            }
            fn visit_str<E>(self, v: &str) -> Result<TnList<'de>, E> {
                Ok(TnList(vec![Text(Cow::Owned(v.to_owned()))]))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<TnList<'de>, A::Error> {
                let mut out = Vec::new();
                while let Some(t) = seq.next_element::<Text<'de>>()? {
                    out.push(t);
                }
                Ok(TnList(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// `{"tn": "..."}`.
#[derive(Deserialize)]
struct OneTn<'a> {
    #[serde(borrow)]
    tn: Option<Text<'a>>,
}

/// `{"tn": ["...", ...]}` (or one string).
#[derive(Deserialize)]
struct ManyTn<'a> {
    #[serde(borrow)]
    tn: Option<TnList<'a>>,
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
    /// Who sent the call (a batch line's own member, beyond ATIS-1000082).
    #[serde(borrow)]
    peer: Option<Text<'a>>,
    /// A signed line's members (`signed_lines`).
    #[serde(borrow)]
    orig: Option<OneTn<'a>>,
    #[serde(borrow)]
    dest: Option<ManyTn<'a>>,
    iat: Option<i64>,
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
    /// Extension (issue 16): Rich Call Data to sign, as RFC 9795 claims.
    #[serde(default)]
    rcd: Option<Value>,
    #[serde(default)]
    crn: Option<Value>,
    #[serde(default)]
    rcdi: Option<Value>,
    #[serde(default, rename = "rcdSeparate")]
    rcd_separate: Option<bool>,
}

/// The members of a verification request, read but not yet checked.
#[derive(Default)]
struct VerifyFields<'a> {
    /// `None`: no `from`; `Some(None)`: `from` without `tn`.
    from: Option<Option<Cow<'a, str>>>,
    to: Option<Option<Vec<Cow<'a, str>>>>,
    time: Option<i64>,
    identity: Option<Cow<'a, str>>,
    peer: Option<Cow<'a, str>>,
}

/// The members of a signing request, read but not yet checked.
#[derive(Default)]
struct SignFields<'a> {
    attest: Option<Cow<'a, str>>,
    orig: Option<Option<Cow<'a, str>>>,
    dest: Option<Option<Vec<Cow<'a, str>>>>,
    iat: Option<i64>,
    origid: Option<Cow<'a, str>>,
    rcd: Option<Value>,
    rcd_separate: bool,
}

fn texts(l: TnList<'_>) -> Vec<Cow<'_, str>> {
    l.0.into_iter().map(|t| t.0).collect()
}

/// The slow path: walk the JSON value member by member, naming the member
/// whose type is wrong.
mod walk {
    use super::{RequestError, Value};
    use serde_json::Map;
    use std::borrow::Cow;

    pub(super) fn object<'v>(
        v: &'v Value,
        field: &'static str,
    ) -> Result<&'v Map<String, Value>, RequestError> {
        v.as_object().ok_or(RequestError::WrongType {
            field,
            expected: "must be a JSON object",
        })
    }

    /// A member, `None` when absent or null.
    pub(super) fn get<'v>(o: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
        o.get(key).filter(|v| !v.is_null())
    }

    pub(super) fn string(
        v: Option<&Value>,
        field: &'static str,
    ) -> Result<Option<Cow<'static, str>>, RequestError> {
        match v {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(Cow::Owned(s.clone()))),
            Some(_) => Err(RequestError::WrongType {
                field,
                expected: "must be a string",
            }),
        }
    }

    pub(super) fn time(
        v: Option<&Value>,
        field: &'static str,
    ) -> Result<Option<i64>, RequestError> {
        match v {
            None => Ok(None),
            Some(n) => n.as_i64().map(Some).ok_or(RequestError::WrongType {
                field,
                expected: "must be an integer (Unix seconds)",
            }),
        }
    }

    /// `{"tn": ...}` holding one string.
    pub(super) fn one_tn(
        v: Option<&Value>,
        outer: &'static str,
        field: &'static str,
    ) -> Result<Option<Cow<'static, str>>, RequestError> {
        match v {
            None => Ok(None),
            Some(v) => string(get(object(v, outer)?, "tn"), field),
        }
    }

    /// `{"tn": [...]}` (or one string).
    pub(super) fn many_tn(
        v: Option<&Value>,
        outer: &'static str,
        field: &'static str,
    ) -> Result<Option<Vec<Cow<'static, str>>>, RequestError> {
        let Some(v) = v else { return Ok(None) };
        let wrong = RequestError::WrongType {
            field,
            expected: "must be an array of telephone numbers",
        };
        match get(object(v, outer)?, "tn") {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(vec![Cow::Owned(s.clone())])),
            Some(Value::Array(a)) => a
                .iter()
                .map(|item| item.as_str().map(|s| Cow::Owned(s.to_owned())))
                .collect::<Option<Vec<_>>>()
                .map(Some)
                .ok_or(wrong),
            Some(_) => Err(wrong),
        }
    }

    /// The request object: inside its wrapper, or the top level.
    pub(super) fn inner<'v>(
        top: &'v Map<String, Value>,
        wrapper: &'static str,
        required: bool,
        missing: &'static str,
    ) -> Result<&'v Map<String, Value>, RequestError> {
        match get(top, wrapper) {
            Some(w) => object(w, wrapper),
            None if required => Err(RequestError::Missing(missing)),
            None => Ok(top),
        }
    }
}

fn not_json(kind: &'static str, detail: impl ToString) -> RequestError {
    RequestError::NotJson {
        kind,
        detail: detail.to_string(),
    }
}

impl<'a> VerifyFields<'a> {
    fn read(
        line: &'a [u8],
        require_wrapper: bool,
        signed_lines: bool,
    ) -> Result<Self, RequestError> {
        match crate::json::from_bytes::<RawVerify<'a>>(line) {
            Ok(mut raw) => {
                let outer_peer = raw.peer.take();
                match raw.wrapped.take() {
                    Some(inner) => raw = *inner,
                    None if require_wrapper => {
                        return Err(RequestError::Missing(MISSING_VERIFY_WRAPPER))
                    }
                    None => {}
                }
                if raw.peer.is_none() {
                    raw.peer = outer_peer;
                }
                if signed_lines {
                    // A line of `sign --batch` output: its own names.
                    if raw.from.is_none() {
                        raw.from = raw.orig.take();
                    }
                    if raw.to.is_none() {
                        raw.to = raw.dest.take();
                    }
                    if raw.time.is_none() {
                        raw.time = raw.iat.take();
                    }
                }
                Ok(VerifyFields {
                    from: raw.from.map(|f| f.tn.map(|t| t.0)),
                    to: raw.to.map(|t| t.tn.map(texts)),
                    time: raw.time,
                    identity: raw.identity.map(|t| t.0),
                    peer: raw.peer.map(|t| t.0),
                })
            }
            Err(fast) => Self::read_slowly(line, require_wrapper, fast),
        }
    }

    fn read_slowly(
        line: &[u8],
        require_wrapper: bool,
        fast: serde_json::Error,
    ) -> Result<Self, RequestError> {
        const KIND: &str = "verification";
        let v: Value = serde_json::from_slice(line).map_err(|e| not_json(KIND, e))?;
        let top = v
            .as_object()
            .ok_or_else(|| not_json(KIND, "the request must be a JSON object"))?;
        let o = walk::inner(
            top,
            "verificationRequest",
            require_wrapper,
            MISSING_VERIFY_WRAPPER,
        )?;
        walk::one_tn(walk::get(o, "from"), "from", "from.tn")?;
        walk::many_tn(walk::get(o, "to"), "to", "to.tn")?;
        walk::time(walk::get(o, "time"), "time")?;
        walk::string(walk::get(o, "identity"), "identity")?;
        // Every member reads on its own, yet the typed pass failed (a
        // duplicate wrapper, a nested wrapper of the wrong type...): say
        // what the JSON parser said.
        Err(not_json(KIND, fast))
    }
}

impl<'a> SignFields<'a> {
    fn read(line: &'a [u8], require_wrapper: bool) -> Result<Self, RequestError> {
        match crate::json::from_bytes::<RawSign<'a>>(line) {
            Ok(mut raw) => {
                match raw.wrapped.take() {
                    Some(inner) => raw = *inner,
                    None if require_wrapper => {
                        return Err(RequestError::Missing(MISSING_SIGN_WRAPPER))
                    }
                    None => {}
                }
                let mut rcd = serde_json::Map::new();
                for (k, v) in [("rcd", raw.rcd), ("crn", raw.crn), ("rcdi", raw.rcdi)] {
                    if let Some(v) = v {
                        rcd.insert(k.to_owned(), v);
                    }
                }
                Ok(SignFields {
                    attest: raw.attest.map(|t| t.0),
                    orig: raw.orig.map(|o| o.tn.map(|t| t.0)),
                    dest: raw.dest.map(|d| d.tn.map(texts)),
                    iat: raw.iat,
                    origid: raw.origid.map(|t| t.0),
                    rcd: (!rcd.is_empty()).then_some(Value::Object(rcd)),
                    rcd_separate: raw.rcd_separate.unwrap_or(false),
                })
            }
            Err(fast) => Self::read_slowly(line, require_wrapper, fast),
        }
    }

    fn read_slowly(
        line: &[u8],
        require_wrapper: bool,
        fast: serde_json::Error,
    ) -> Result<Self, RequestError> {
        const KIND: &str = "signing";
        let v: Value = serde_json::from_slice(line).map_err(|e| not_json(KIND, e))?;
        let top = v
            .as_object()
            .ok_or_else(|| not_json(KIND, "the request must be a JSON object"))?;
        let o = walk::inner(top, "signingRequest", require_wrapper, MISSING_SIGN_WRAPPER)?;
        walk::string(walk::get(o, "attest"), "attest")?;
        walk::one_tn(walk::get(o, "orig"), "orig", "orig.tn")?;
        walk::many_tn(walk::get(o, "dest"), "dest", "dest.tn")?;
        walk::time(walk::get(o, "iat"), "iat")?;
        walk::string(walk::get(o, "origid"), "origid")?;
        Err(not_json(KIND, fast))
    }
}

/// Canonicalise a list of numbers: not empty, at most `max`, each a number.
fn tn_list(
    items: &[Cow<'_, str>],
    field: &'static str,
    policy: &RequestPolicy,
) -> Result<Vec<TelephoneNumber>, RequestError> {
    if items.is_empty() {
        return Err(RequestError::Empty(field));
    }
    if items.len() > policy.max_dest_entries {
        return Err(RequestError::TooMany {
            field,
            count: items.len(),
            max: policy.max_dest_entries,
        });
    }
    items
        .iter()
        .map(|t| {
            TelephoneNumber::parse(t, &policy.tn).map_err(|source| RequestError::BadTn {
                field,
                value: t.chars().take(64).collect(),
                source,
            })
        })
        .collect()
}

/// An ATIS-1000082 verification request (`{"from":{"tn":..},"to":{"tn":[..]},
/// "time":..,"identity":..}`, bare or inside `verificationRequest`), with its
/// numbers canonicalised. Borrows the Identity value from the line when it
/// has no JSON escapes.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct VerifyRequest<'a> {
    /// The calling number (`from.tn`).
    pub orig: TelephoneNumber,
    /// The called numbers (`to.tn`), at least one.
    pub dest: Vec<TelephoneNumber>,
    /// The request time, Unix seconds.
    pub time: i64,
    /// The Identity header value, trimmed (a pasted header name removed).
    /// Empty when the request has no `identity` member: an unsigned call,
    /// which verifies as `No-TN-Validation`, 428 `no-identity`
    /// ([`is_unsigned`](Self::is_unsigned)).
    pub identity: Cow<'a, str>,
    /// The `peer` member, when the line has one: who sent the call (a
    /// batch's own member, not ATIS-1000082; the summaries count by it).
    pub peer: Option<Cow<'a, str>>,
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
    /// Parse one JSON Lines request (without its newline), wrapper
    /// optional; a line of `shaken sign --batch` output is read too (its
    /// `orig`/`dest`/`iat` stand for `from`/`to`/`time`).
    pub fn parse(line: &'a [u8], policy: &TnPolicy) -> Result<Self, Rejected> {
        let mut p = RequestPolicy::with_tn(*policy);
        p.signed_lines = true;
        Self::parse_with(line, &p)
    }

    /// Parse a request under `policy`.
    pub fn parse_with(line: &'a [u8], policy: &RequestPolicy) -> Result<Self, Rejected> {
        let bare = |error| Rejected {
            error,
            calling: None,
        };
        let f =
            VerifyFields::read(line, policy.require_wrapper, policy.signed_lines).map_err(bare)?;
        let from = f
            .from
            .ok_or_else(|| bare(RequestError::Missing(MISSING_FROM)))?
            .ok_or_else(|| bare(RequestError::Missing(MISSING_FROM_TN)))?;
        let orig = TelephoneNumber::parse(&from, &policy.tn).map_err(|source| Rejected {
            error: RequestError::BadTn {
                field: "from.tn",
                value: from.chars().take(64).collect(),
                source,
            },
            calling: Some(from.to_string()),
        })?;
        let with = |error| Rejected {
            error,
            calling: Some(orig.to_string()),
        };
        let to =
            f.to.ok_or_else(|| with(RequestError::Missing(MISSING_TO)))?
                .ok_or_else(|| with(RequestError::Missing(MISSING_TO_TN)))?;
        let dest = tn_list(&to, "to.tn", policy).map_err(with)?;
        let time = f
            .time
            .ok_or_else(|| with(RequestError::Missing(MISSING_TIME)))?;
        if time < 0 {
            return Err(with(RequestError::NegativeTime(time)));
        }
        // No `identity` member: an unsigned call, verified as such (428
        // no-identity), not a request error.
        let absent = f.identity.is_none();
        let identity = match f.identity {
            None => Cow::Borrowed(""),
            Some(Cow::Borrowed(s)) => crate::identity::unpaste(s),
            Some(Cow::Owned(s)) => Cow::Owned(crate::identity::unpaste(&s).into_owned()),
        };
        if identity.is_empty() && !absent {
            return Err(with(RequestError::EmptyIdentity));
        }
        Ok(VerifyRequest {
            orig,
            dest,
            time,
            identity,
            peer: f.peer,
        })
    }

    /// Whether the request carries no Identity value (an unsigned call).
    pub fn is_unsigned(&self) -> bool {
        self.identity.is_empty()
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
            call_id: Some(self.call_key()),
        }
    }

    /// The call this request stands for, as a Call-ID: a hex SHA-256 of the
    /// canonical `from`, `to` and `time`. An ATIS-1000082 request carries no
    /// Call-ID, so a client that retries a verification (same identity, from,
    /// to and time) asks about the same call, and the replay store treats the
    /// retry as a fork (the same answer as the first time); the same PASSporT
    /// for another call (another time or other numbers) is still a replay.
    pub fn call_key(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(b"shaken-atis-call\0");
        h.update(self.orig.as_str().as_bytes());
        for d in &self.dest {
            h.update(b"\0");
            h.update(d.as_str().as_bytes());
        }
        h.update(b"\0");
        h.update(itoa::Buffer::new().format(self.time).as_bytes());
        let digest = h.finalize();
        let mut key = String::with_capacity(5 + 40);
        key.push_str("atis-");
        crate::hex_into(digest.get(..20).unwrap_or_default(), &mut key);
        key
    }
}

/// An ATIS-1000082 signing request (`{"attest":..,"orig":{"tn":..},
/// "dest":{"tn":[..]},"iat":..,"origid":..}`, bare or inside
/// `signingRequest`), turned into the SHAKEN claims to sign.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SignRequest {
    /// The attestation asked for.
    pub attest: Attestation,
    /// The origid signed (canonical; drawn at random when the request had none).
    pub origid: OrigId,
    /// The claims, numbers canonicalised.
    pub claims: Claims,
    /// Rich Call Data to sign with the call (extension members `rcd`,
    /// `crn`, `rcdi`, `rcdSeparate`; RFC 9795), checked as a verifier will.
    pub rcd: Option<crate::rcd::RcdSigning>,
}

impl SignRequest {
    /// Parse one JSON Lines request (without its newline), wrapper optional.
    pub fn parse(line: &[u8], policy: &TnPolicy) -> Result<Self, RequestError> {
        Self::parse_with(line, &RequestPolicy::with_tn(*policy))
    }

    /// Parse a request under `policy`.
    pub fn parse_with(line: &[u8], policy: &RequestPolicy) -> Result<Self, RequestError> {
        let f = SignFields::read(line, policy.require_wrapper)?;
        let attest = f.attest.ok_or(RequestError::Missing(MISSING_ATTEST))?;
        let orig = f
            .orig
            .ok_or(RequestError::Missing(MISSING_ORIG))?
            .ok_or(RequestError::Missing(MISSING_ORIG_TN))?;
        let dest = f
            .dest
            .ok_or(RequestError::Missing(MISSING_DEST))?
            .ok_or(RequestError::Missing(MISSING_DEST_TN))?;
        let iat = f.iat.ok_or(RequestError::Missing(MISSING_IAT))?;
        let mut req = Self::build(&attest, &orig, &dest, iat, f.origid.as_deref(), policy)?;
        if let Some(v) = &f.rcd {
            let claims = crate::rcd::RcdClaims::from_payload(v, f.rcd_separate)
                .map_err(RequestError::Rcd)?
                .unwrap_or_default();
            req.rcd = Some(crate::rcd::RcdSigning {
                claims,
                separate: f.rcd_separate,
            });
        }
        Ok(req)
    }

    /// A request from its parts, under the same rules as a parsed one: what
    /// the CLI's `sign --orig --dest --attest` and the C ABI's `shaken_sign`
    /// use. `origid` `None` draws a random one.
    pub fn new(
        attest: &str,
        orig: &str,
        dest: &[&str],
        iat: i64,
        origid: Option<&str>,
        policy: &RequestPolicy,
    ) -> Result<Self, RequestError> {
        let dest: Vec<Cow<'_, str>> = dest.iter().map(|d| Cow::Borrowed(*d)).collect();
        Self::build(attest, orig, &dest, iat, origid, policy)
    }

    fn build(
        attest: &str,
        orig: &str,
        dest: &[Cow<'_, str>],
        iat: i64,
        origid: Option<&str>,
        policy: &RequestPolicy,
    ) -> Result<Self, RequestError> {
        let attest: Attestation = attest.parse().map_err(RequestError::BadAttest)?;
        let orig =
            TelephoneNumber::parse(orig, &policy.tn).map_err(|source| RequestError::BadTn {
                field: "orig.tn",
                value: orig.chars().take(64).collect(),
                source,
            })?;
        let dest = tn_list(dest, "dest.tn", policy)?;
        if iat < 0 {
            return Err(RequestError::NegativeIat(iat));
        }
        let origid = match origid {
            Some(o) => o.parse::<OrigId>()?,
            None => OrigId::random(),
        };
        Ok(SignRequest {
            attest,
            claims: Claims::shaken(
                attest,
                orig.to_string(),
                dest.iter().map(ToString::to_string).collect(),
                iat,
                origid.as_str(),
            ),
            origid,
            rcd: None,
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

    fn wrapped() -> RequestPolicy {
        RequestPolicy {
            require_wrapper: true,
            ..RequestPolicy::default()
        }
    }

    #[test]
    fn call_key_names_the_call_not_the_spelling() {
        let key = |line: &[u8]| VerifyRequest::parse(line, &p()).unwrap().call_key();
        let a = key(br#"{"from":{"tn":"+1 215 555 0121"},"to":{"tn":["2125550143"]},"time":5,"identity":"x"}"#);
        // A retry: the same call, numbers written another way, other token.
        let retry = key(
            br#"{"from":{"tn":"12155550121"},"to":{"tn":"12125550143"},"time":5,"identity":"y"}"#,
        );
        assert_eq!(a, retry);
        // Pinned (computed independently, with Python's hashlib): nodes of
        // one fleet share replay records keyed by it across versions.
        assert_eq!(a, "atis-abbceea199671c2a7c47f3d3ebc10b5a5f701923");
        // Another call: other time, other numbers.
        for other in [
            &br#"{"from":{"tn":"12155550121"},"to":{"tn":["12125550143"]},"time":6,"identity":"x"}"#[..],
            br#"{"from":{"tn":"12155550122"},"to":{"tn":["12125550143"]},"time":5,"identity":"x"}"#,
            br#"{"from":{"tn":"12155550121"},"to":{"tn":["12125550143","12125550144"]},"time":5,"identity":"x"}"#,
        ] {
            assert_ne!(key(other), a);
        }
        let r = VerifyRequest::parse(
            br#"{"from":{"tn":"12155550121"},"to":{"tn":["12125550143"]},"time":5,"identity":"x"}"#,
            &p(),
        )
        .unwrap();
        assert_eq!(r.context(None).call_id, Some(a));
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
    fn liberal_in_what_is_accepted() {
        // A single string for to.tn, a pasted header name, null as absent.
        let line = br#"{"from":{"tn":"12155550121"},"to":{"tn":"12125550143"},"time":5,"identity":"Identity: a.b.c;info=<u>","extra":null}"#;
        let r = VerifyRequest::parse(line, &p()).unwrap();
        assert_eq!(r.dest[0].as_str(), "12125550143");
        assert_eq!(r.identity, "a.b.c;info=<u>");
        // No identity (absent or null): an unsigned call, not a request error.
        for line in [
            &br#"{"from":{"tn":"12155550121"},"to":{"tn":["12125550143"]},"time":5,"identity":null}"#[..],
            br#"{"from":{"tn":"12155550121"},"to":{"tn":["12125550143"]},"time":5,"peer":"sbc-1"}"#,
        ] {
            let r = VerifyRequest::parse(line, &p()).unwrap();
            assert!(r.is_unsigned());
            assert_eq!(r.orig.as_str(), "12155550121");
        }
        let line = br#"{"verificationRequest":{"from":{"tn":"12155550121"},"to":{"tn":["12125550143"]},"time":5,"identity":"x"},"peer":"sbc-2"}"#;
        let r = VerifyRequest::parse(line, &p()).unwrap();
        assert!(!r.is_unsigned());
        assert_eq!(r.peer.as_deref(), Some("sbc-2"));
    }

    #[test]
    fn signed_lines_are_verification_requests_in_json_lines_only() {
        let line = br#"{"identity":"a.b.c;info=<u>","line":1,"attest":"A","orig":{"tn":"12155550121"},"dest":{"tn":["12125550143"]},"iat":1800000000,"origid":"x"}"#;
        let r = VerifyRequest::parse(line, &p()).unwrap();
        assert_eq!(
            (r.orig.as_str(), r.dest[0].as_str(), r.time),
            ("12155550121", "12125550143", 1_800_000_000)
        );
        // The REST service keeps ATIS's names.
        let e = VerifyRequest::parse_with(line, &RequestPolicy::default()).unwrap_err();
        assert_eq!(e.error.field(), Some("from"));
        // from/to/time win over orig/dest/iat.
        let both = br#"{"identity":"x","from":{"tn":"12155550199"},"orig":{"tn":"12155550121"},"to":{"tn":"12125550143"},"time":5,"iat":9}"#;
        let r = VerifyRequest::parse(both, &p()).unwrap();
        assert_eq!((r.orig.as_str(), r.time), ("12155550199", 5));
    }

    #[test]
    fn wrapper_required_when_asked() {
        let bare =
            br#"{"from":{"tn":"12155550121"},"to":{"tn":["12125550143"]},"time":5,"identity":"x"}"#;
        let e = VerifyRequest::parse_with(bare, &wrapped()).unwrap_err();
        assert_eq!(e.error, RequestError::Missing(MISSING_VERIFY_WRAPPER));
        assert_eq!(e.error.field(), Some("verificationRequest"));
        let e = SignRequest::parse_with(br#"{"attest":"A"}"#, &wrapped()).unwrap_err();
        assert_eq!(e.field(), Some("signingRequest"));
        let e = SignRequest::parse_with(br#"{"signingRequest":5}"#, &wrapped()).unwrap_err();
        assert_eq!(
            e,
            RequestError::WrongType {
                field: "signingRequest",
                expected: "must be a JSON object"
            }
        );
    }

    /// A request line, the text its error contains, the calling number
    /// kept for summaries, and the member named.
    type Case<'a> = (&'a [u8], &'a str, Option<&'a str>, Option<&'a str>);

    #[test]
    fn verify_request_errors_name_the_field() {
        let cases: &[Case] = &[
            (b"", "not a JSON verification request", None, None),
            (b"[1]", "not a JSON verification request", None, None),
            (br#"{"to":{"tn":["1"]}}"#, "missing \"from\"", None, Some("from")),
            (br#"{"from":{},"to":{"tn":["1"]}}"#, "missing \"from.tn\"", None, Some("from.tn")),
            (br#"{"from":{"tn":"abc"}}"#, "\"from.tn\" \"abc\"", Some("abc"), Some("from.tn")),
            (br#"{"from":{"tn":"anonymous"},"to":{"tn":["12125550143"]},"time":1,"identity":"x"}"#, "\"from.tn\" \"anonymous\"", Some("anonymous"), Some("from.tn")),
            (br#"{"from":{"tn":"12155550121"}}"#, "missing \"to\"", Some("12155550121"), Some("to")),
            (br#"{"from":{"tn":"12155550121"},"to":{"tn":null}}"#, "missing \"to.tn\"", Some("12155550121"), Some("to.tn")),
            (br#"{"from":{"tn":"12155550121"},"to":{"tn":[]}}"#, "\"to.tn\" is empty", Some("12155550121"), Some("to.tn")),
            (br#"{"from":{"tn":"12155550121"},"to":{"tn":["x"]}}"#, "\"to.tn\" \"x\"", Some("12155550121"), Some("to.tn")),
            (br#"{"from":{"tn":"12155550121"},"to":{"tn":["1","2","3","4","5","6","7","8","9","10","11"]}}"#, "\"to.tn\" holds 11 numbers", Some("12155550121"), Some("to.tn")),
            (br#"{"from":{"tn":"12155550121"},"to":{"tn":["12125550143"]}}"#, "missing \"time\"", Some("12155550121"), Some("time")),
            (br#"{"from":{"tn":"12155550121"},"to":{"tn":["12125550143"]},"time":-1,"identity":"x"}"#, "\"time\" -1 is negative", Some("12155550121"), Some("time")),
            (br#"{"from":{"tn":"12155550121"},"to":{"tn":["12125550143"]},"time":1,"identity":" Identity: "}"#, "\"identity\" is empty", Some("12155550121"), Some("identity")),
            // The wrong JSON type names the member (the slow path).
            (br#"{"from":{"tn":"12155550121"},"to":{"tn":["12125550143"]},"time":"1","identity":"x"}"#, "\"time\" must be an integer", None, Some("time")),
            (br#"{"from":{"tn":"12155550121"},"to":{"tn":["12125550143"]},"time":1.5,"identity":"x"}"#, "\"time\" must be an integer", None, Some("time")),
            (br#"{"from":"12155550121"}"#, "\"from\" must be a JSON object", None, Some("from")),
            (br#"{"from":{"tn":5}}"#, "\"from.tn\" must be a string", None, Some("from.tn")),
            (br#"{"from":{"tn":"1"},"to":{"tn":[5]}}"#, "\"to.tn\" must be an array", None, Some("to.tn")),
            (br#"{"from":{"tn":"1"},"to":{"tn":"1"},"time":1,"identity":["x"]}"#, "\"identity\" must be a string", None, Some("identity")),
        ];
        for (line, want, calling, field) in cases {
            let e = VerifyRequest::parse(line, &p()).unwrap_err();
            assert!(
                e.to_string().contains(want),
                "{:?}: {e}",
                String::from_utf8_lossy(line)
            );
            assert_eq!(e.calling.as_deref(), *calling, "{e}");
            assert_eq!(e.error.field(), *field, "{e}");
        }
    }

    #[test]
    fn origid_forms() {
        let canonical = "de305d54-75b4-431b-adb2-eb6b9e546014";
        for form in [
            "DE305D54-75B4-431B-ADB2-EB6B9E546014",
            "{DE305D54-75B4-431B-ADB2-EB6B9E546014}",
            "urn:uuid:de305d54-75b4-431b-adb2-eb6b9e546014",
            "de305d5475b4431badb2eb6b9e546014",
            canonical,
        ] {
            assert_eq!(
                form.parse::<OrigId>().unwrap().as_str(),
                canonical,
                "{form}"
            );
        }
        for bad in [
            "",
            "nope",
            "de305d54-75b4-431b-adb2",
            "{de305d54-75b4-431b-adb2-eb6b9e546014",
        ] {
            let e = bad.parse::<OrigId>().unwrap_err();
            assert_eq!(e.id(), "request-origid-invalid", "{bad}");
        }
        let a = OrigId::random();
        assert_ne!(a, OrigId::random());
        assert_eq!(a.as_str().parse::<OrigId>().unwrap(), a);
    }

    #[test]
    fn sign_request_parses_and_rejects() {
        let r = SignRequest::parse(
            br#"{"signingRequest":{"attest":"b","orig":{"tn":"12155550121"},"dest":{"tn":"2125550143"},"iat":9,"origid":"{123E4567-E89B-12D3-A456-426614174000}"}}"#,
            &p(),
        )
        .unwrap();
        assert_eq!(r.attest, Attestation::B);
        assert_eq!(r.claims.iat, 9);
        assert_eq!(r.claims.dest.tn, vec!["12125550143".to_string()]);
        assert_eq!(
            r.claims.origid.as_deref(),
            Some("123e4567-e89b-12d3-a456-426614174000")
        );
        assert_eq!(r.origid.as_str(), "123e4567-e89b-12d3-a456-426614174000");
        // No origid: a fresh one.
        let r = SignRequest::parse(
            br#"{"attest":"A","orig":{"tn":"12155550121"},"dest":{"tn":["12125550143"]},"iat":1}"#,
            &p(),
        )
        .unwrap();
        assert_eq!(r.claims.origid.as_deref(), Some(r.origid.as_str()));
        let cases: &[(&[u8], &str, Option<&str>)] = &[
            (b"{", "not a JSON signing request", None),
            (br#"{}"#, "missing \"attest\"", Some("attest")),
            (br#"{"attest":"D","orig":{"tn":"12155550121"},"dest":{"tn":["12125550143"]},"iat":1}"#, "\"attest\": invalid attestation \"D\"", Some("attest")),
            (br#"{"attest":"A"}"#, "missing \"orig\"", Some("orig")),
            (br#"{"attest":"A","orig":{}}"#, "missing \"orig.tn\"", Some("orig.tn")),
            (br#"{"attest":"A","orig":{"tn":"x"},"dest":{"tn":["12125550143"]},"iat":1}"#, "\"orig.tn\" \"x\"", Some("orig.tn")),
            (br#"{"attest":"A","orig":{"tn":"12155550121"}}"#, "missing \"dest\"", Some("dest")),
            (br#"{"attest":"A","orig":{"tn":"12155550121"},"dest":{}}"#, "missing \"dest.tn\"", Some("dest.tn")),
            (br#"{"attest":"A","orig":{"tn":"12155550121"},"dest":{"tn":[]},"iat":1}"#, "\"dest.tn\" is empty", Some("dest.tn")),
            (br#"{"attest":"A","orig":{"tn":"12155550121"},"dest":{"tn":["y"]},"iat":1}"#, "\"dest.tn\" \"y\"", Some("dest.tn")),
            (br#"{"attest":"A","orig":{"tn":"12155550121"},"dest":{"tn":["12125550143"]}}"#, "missing \"iat\"", Some("iat")),
            (br#"{"attest":"A","orig":{"tn":"12155550121"},"dest":{"tn":["12125550143"]},"iat":-1}"#, "\"iat\" -1 is negative", Some("iat")),
            (br#"{"attest":"A","orig":{"tn":"12155550121"},"dest":{"tn":["12125550143"]},"iat":1,"origid":"nope"}"#, "\"origid\" \"nope\" is not a UUID", Some("origid")),
            (br#"{"attest":5}"#, "\"attest\" must be a string", Some("attest")),
            (br#"{"attest":"A","orig":{"tn":"12155550121"},"dest":{"tn":["12125550143"]},"iat":"1"}"#, "\"iat\" must be an integer", Some("iat")),
        ];
        for (line, want, field) in cases {
            let e = SignRequest::parse(line, &p()).unwrap_err();
            assert!(
                e.to_string().contains(want),
                "{:?}: {e}",
                String::from_utf8_lossy(line)
            );
            assert_eq!(e.field(), *field, "{e}");
        }
    }

    #[test]
    fn sign_request_new_follows_the_same_rules() {
        let policy = RequestPolicy::default();
        let r = SignRequest::new(
            "a",
            "+1 215 555 0121",
            &["2125550143"],
            5,
            Some("URN:UUID:123E4567-E89B-12D3-A456-426614174000"),
            &policy,
        )
        .unwrap();
        assert_eq!(r.claims.orig.as_str(), "12155550121");
        assert_eq!(r.origid.as_str(), "123e4567-e89b-12d3-a456-426614174000");
        assert_eq!(
            SignRequest::new("A", "12155550121", &[], 5, None, &policy).unwrap_err(),
            RequestError::Empty("dest.tn")
        );
        assert_eq!(
            SignRequest::new("A", "anonymous", &["12125550143"], 5, None, &policy)
                .unwrap_err()
                .field(),
            Some("orig.tn")
        );
        assert_eq!(
            SignRequest::new("A", "12155550121", &["12125550143"], -5, None, &policy).unwrap_err(),
            RequestError::NegativeIat(-5)
        );
    }
}
