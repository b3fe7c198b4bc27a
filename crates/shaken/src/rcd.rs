//! Rich Call Data: the caller's name, logo, jCard and call reason (RFC 9795,
//! RFC 9796, ATIS-1000094), pure and sans-I/O.
//!
//! - [`RcdClaims::from_claims`] reads the `rcd`, `crn`, `rcdi` and `iss`
//!   claims of a PASSporT and checks the construction rules of RFC 9795 §5
//!   (`rcd` an object, `nam` present and a string, `jcd` and `jcl` never
//!   both, `rcdi` only with `rcd`, a `ppt=rcd` PASSporT carries `rcd` or
//!   `crn`). A broken rule fails the PASSporT (438 `rcd-invalid`, the detail
//!   names the member).
//! - Both carriages read the same: `rcd` claims inside the `shaken` PASSporT
//!   (ATIS-1000094 style, RFC 9795 §13) or a separate `ppt=rcd` PASSporT in
//!   its own Identity header.
//! - `rcdi` (RFC 9795 §6): keys are JSON pointers into `rcd` (`/jcl/...`
//!   points into the fetched jCard); values are `sha256-`, `sha384-` or
//!   `sha512-` and the standard base64 of the digest, emitted unpadded and
//!   accepted padded or not. An inline value is hashed over its RFC 8225 §9
//!   serialisation (a string with its quotes); referenced content (`icn`,
//!   `jcl`, the URIs inside a jCard) over the bytes of the HTTP body.
//! - Referenced content is never fetched here: the caller asks
//!   [`RcdClaims::wanted`] which URLs the digests need, fetches them (the
//!   guarded fetcher of `x5u`, only when asked to), and passes the bodies in
//!   an [`RcdContent`]. Content that is absent or failed to arrive is
//!   `unverified`; a digest that differs is `mismatch`. Either makes the RCD
//!   untrusted ([`RcdReport::verified`] false) without failing the caller-ID
//!   verdict (RFC 9795 §8.2).
//! - [`RcdReport`] is the `rcd` object of the JSON report; with a SIP request
//!   it also compares `nam` with the From (or P-Asserted-Identity) display
//!   name and gives the RFC 9796 `Call-Info` lines a terminating SBC would
//!   pass to the phone.

use crate::json::{canonical, parse_strict};
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Digest as _;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// The `ppt` value of a separate Rich Call Data PASSporT (RFC 9795 §8).
pub const PPT_RCD: &str = "rcd";

/// At most this many `rcdi` entries are read (each may cost a fetch). RFC 9795
/// sets no bound; a jCard with a photo and a few logos needs well under 16.
pub const MAX_RCDI_ENTRIES: usize = 32;

/// At most this many referenced resources are fetched for one PASSporT's
/// digests (each fetch is bounded by the x5u timeouts).
pub const MAX_RCD_FETCHES: usize = 8;

/// The `Accept` header of a Rich Call Data fetch: an image (`icn`, a jCard
/// photo or logo) or a jCard (`application/json`, RFC 9795 §5.1.5).
pub const RCD_ACCEPT: &str = "image/*, application/json;q=0.9, */*;q=0.1";

/// At most this many bytes of one `rcd` member's text (`nam`, `crn`...):
/// RFC 9796 §6 says a call reason SHOULD be at most 64 characters; a name
/// on a phone screen is shorter still. 1024 leaves room for any script.
pub const MAX_RCD_TEXT: usize = 1024;

/// Standard base64 that accepts the padding present or absent (RFC 9795 §6
/// is silent on padding; every RFC example is unpadded).
const STANDARD_ANY_PAD: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A hash algorithm of an `rcdi` digest (RFC 9795 §6: these three MUST be
/// supported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum DigestAlg {
    /// SHA-256 (`sha256`).
    #[default]
    Sha256,
    /// SHA-384 (`sha384`).
    Sha384,
    /// SHA-512 (`sha512`).
    Sha512,
}

impl DigestAlg {
    /// The identifier of the digest string (`sha256`...).
    pub fn as_str(self) -> &'static str {
        match self {
            DigestAlg::Sha256 => "sha256",
            DigestAlg::Sha384 => "sha384",
            DigestAlg::Sha512 => "sha512",
        }
    }
    fn len(self) -> usize {
        match self {
            DigestAlg::Sha256 => 32,
            DigestAlg::Sha384 => 48,
            DigestAlg::Sha512 => 64,
        }
    }
    fn hash(self, bytes: &[u8]) -> Vec<u8> {
        match self {
            DigestAlg::Sha256 => sha2::Sha256::digest(bytes).to_vec(),
            DigestAlg::Sha384 => sha2::Sha384::digest(bytes).to_vec(),
            DigestAlg::Sha512 => sha2::Sha512::digest(bytes).to_vec(),
        }
    }
}

impl FromStr for DigestAlg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sha256" => Ok(DigestAlg::Sha256),
            "sha384" => Ok(DigestAlg::Sha384),
            "sha512" => Ok(DigestAlg::Sha512),
            other => Err(format!(
                "unknown digest algorithm {other:?} (expected sha256, sha384 or sha512)"
            )),
        }
    }
}

/// One `rcdi` value: `<alg>-<base64 digest>` (RFC 9795 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RcdDigest {
    /// The algorithm.
    pub alg: DigestAlg,
    /// The digest bytes.
    pub bytes: Vec<u8>,
}

impl RcdDigest {
    /// The digest of `content` with `alg`.
    pub fn of(alg: DigestAlg, content: &[u8]) -> Self {
        RcdDigest {
            alg,
            bytes: alg.hash(content),
        }
    }
    /// Whether `content` has this digest.
    pub fn matches(&self, content: &[u8]) -> bool {
        self.alg.hash(content) == self.bytes
    }
    /// Whether a fetched body has this digest (computed once per body).
    pub fn matches_body(&self, body: &RcdBody) -> bool {
        body.digest(self.alg) == self.bytes.as_slice()
    }
}

impl fmt::Display for RcdDigest {
    /// Unpadded standard base64, as every RFC 9795 example.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}",
            self.alg.as_str(),
            STANDARD_NO_PAD.encode(&self.bytes)
        )
    }
}

impl FromStr for RcdDigest {
    type Err = String;
    /// Standard base64, padded or not; the url-safe alphabet is refused.
    fn from_str(s: &str) -> Result<Self, String> {
        let (alg, b64) = s
            .split_once('-')
            .ok_or_else(|| "expected <alg>-<base64>, e.g. sha256-...".to_owned())?;
        let alg: DigestAlg = alg.parse()?;
        let bytes = STANDARD_ANY_PAD
            .decode(b64)
            .map_err(|e| format!("the digest is not standard base64: {e}"))?;
        if bytes.len() != alg.len() {
            return Err(format!(
                "a {} digest has {} bytes; this one has {}",
                alg.as_str(),
                alg.len(),
                bytes.len()
            ));
        }
        Ok(RcdDigest { alg, bytes })
    }
}

/// The `rcd` claim (RFC 9795 §5.1): the members this library reads; any
/// other member is kept in the JSON ([`RcdClaims::rcd_json`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rcd {
    /// The caller's display name (`""` when there is none).
    pub nam: String,
    /// An alternate presentation number (canonical TN).
    pub apn: Option<String>,
    /// The URL of the caller's icon (or a `data:` URI).
    pub icn: Option<String>,
    /// An inline jCard (RFC 7095).
    pub jcd: Option<Value>,
    /// The URL of a jCard.
    pub jcl: Option<String>,
}

impl Rcd {
    /// An `rcd` with only a name.
    pub fn named(nam: impl Into<String>) -> Self {
        Rcd {
            nam: nam.into(),
            ..Rcd::default()
        }
    }

    /// The claim as JSON.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("nam".into(), Value::String(self.nam.clone()));
        if let Some(v) = &self.apn {
            m.insert("apn".into(), Value::String(v.clone()));
        }
        if let Some(v) = &self.icn {
            m.insert("icn".into(), Value::String(v.clone()));
        }
        if let Some(v) = &self.jcd {
            m.insert("jcd".into(), v.clone());
        }
        if let Some(v) = &self.jcl {
            m.insert("jcl".into(), Value::String(v.clone()));
        }
        Value::Object(m)
    }
}

/// The Rich Call Data claims of one PASSporT.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RcdClaims {
    /// The `rcd` claim.
    pub rcd: Option<Rcd>,
    /// The `rcd` claim as received (unknown members included): what the
    /// digests and the certificate's claim constraints see.
    pub rcd_json: Option<Value>,
    /// The call reason (`crn`, RFC 9795 §7).
    pub crn: Option<String>,
    /// The integrity digests (`rcdi`), by JSON pointer.
    pub rcdi: Option<BTreeMap<String, RcdDigest>>,
    /// The issuer of a third-party RCD PASSporT (RFC 9795 §10.1).
    pub iss: Option<String>,
}

/// Why the Rich Call Data claims break RFC 9795 §5 (the PASSporT fails: 438
/// `rcd-invalid`), or why digests could not be computed for signing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RcdError {
    /// `rcd` or `rcdi` is not a JSON object.
    #[error("claim {member:?} must be a JSON object (RFC 9795 §5.1, §6); found {found}")]
    NotObject {
        /// `rcd` or `rcdi`.
        member: &'static str,
        /// What it is.
        found: &'static str,
    },
    /// `rcd` has no `nam` (RFC 9795 §5.1.1: exactly once, `""` if none).
    #[error(
        "\"rcd\" has no member \"nam\" (RFC 9795 §5.1.1 requires it, \"\" when there is no name)"
    )]
    NamMissing,
    /// A member has the wrong type.
    #[error("{member:?} must be {expected}; found {found}")]
    WrongType {
        /// The member (`rcd.nam`, `crn`...).
        member: String,
        /// What it must be.
        expected: &'static str,
        /// What it is.
        found: &'static str,
    },
    /// A text member holds a control character or is too long: it would
    /// end up in SIP headers and on a screen.
    #[error("{member:?} {problem}")]
    BadText {
        /// The member.
        member: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// Both `jcd` and `jcl` (RFC 9795 §5.1.4, §5.1.5: mutually exclusive).
    #[error("\"rcd\" carries both \"jcd\" and \"jcl\"; RFC 9795 §5.1.4 allows one or the other")]
    JcdAndJcl,
    /// `rcdi` without `rcd` (RFC 9795 §6).
    #[error("claim \"rcdi\" is present without \"rcd\" (RFC 9795 §6)")]
    RcdiWithoutRcd,
    /// A `ppt=rcd` PASSporT with neither `rcd` nor `crn` (RFC 9795 §8).
    #[error("a ppt \"rcd\" PASSporT must carry \"rcd\" or \"crn\" (RFC 9795 §8); it has neither")]
    Empty,
    /// An `rcdi` key is not a JSON pointer into `rcd`.
    #[error("\"rcdi\" key {pointer:?} is not a JSON pointer into \"rcd\" (RFC 6901, RFC 9795 §6)")]
    BadPointer {
        /// The key.
        pointer: String,
    },
    /// An `rcdi` value is not a digest string.
    #[error("\"rcdi\" value for {pointer:?}: {reason}")]
    BadDigest {
        /// The key.
        pointer: String,
        /// Why.
        reason: String,
    },
    /// Too many `rcdi` entries.
    #[error("\"rcdi\" has {count} entries; at most {max} are read")]
    TooManyDigests {
        /// How many.
        count: usize,
        /// The bound.
        max: usize,
    },
    /// Signing: a digest needs content that could not be obtained.
    #[error("the digest for {pointer:?} needs the content of {url}, which could not be obtained: {detail}")]
    ContentUnavailable {
        /// The pointer.
        pointer: String,
        /// The URL.
        url: String,
        /// Why.
        detail: String,
    },
}

/// Construction errors fail the PASSporT with 438 (`No-TN-Validation`);
/// reported inside the verifier's `rcd-invalid`.
impl crate::diagnostic::Diagnostic for RcdError {
    fn id(&self) -> &'static str {
        match self {
            RcdError::NotObject { .. } => "rcd-not-object",
            RcdError::NamMissing => "rcd-nam-missing",
            RcdError::WrongType { .. } => "rcd-wrong-type",
            RcdError::BadText { .. } => "rcd-bad-text",
            RcdError::JcdAndJcl => "rcd-jcd-and-jcl",
            RcdError::RcdiWithoutRcd => "rcdi-without-rcd",
            RcdError::Empty => "rcd-empty",
            RcdError::BadPointer { .. } => "rcdi-bad-pointer",
            RcdError::BadDigest { .. } => "rcdi-bad-digest",
            RcdError::TooManyDigests { .. } => "rcdi-too-many",
            RcdError::ContentUnavailable { .. } => "rcd-content-unavailable",
        }
    }
    fn sip_code(&self) -> Option<u16> {
        match self {
            RcdError::ContentUnavailable { .. } => None,
            _ => Some(438),
        }
    }
    fn verstat(&self) -> Option<crate::report::Verstat> {
        match self {
            RcdError::ContentUnavailable { .. } => None,
            _ => Some(crate::report::Verstat::NoValidation),
        }
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

fn check_text(member: &'static str, s: &str) -> Result<(), RcdError> {
    if s.len() > MAX_RCD_TEXT {
        return Err(RcdError::BadText {
            member,
            problem: format!(
                "is {} bytes long; at most {MAX_RCD_TEXT} are accepted",
                s.len()
            ),
        });
    }
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return Err(RcdError::BadText {
            member,
            problem: format!(
                "holds the control character U+{:04X} (it would reach SIP headers and screens)",
                c as u32
            ),
        });
    }
    Ok(())
}

fn string_member(
    obj: &Map<String, Value>,
    key: &str,
    member: &'static str,
) -> Result<Option<String>, RcdError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => {
            check_text(member, s)?;
            Ok(Some(s.clone()))
        }
        Some(other) => Err(RcdError::WrongType {
            member: member.into(),
            expected: "a string",
            found: type_name(other),
        }),
    }
}

/// Whether a string in a digest's place references external content (its
/// digest is over the HTTP body): `https:` and `http:` URLs. `data:` URIs
/// are inline (RFC 9795 §8.3), as are `tel:`, `mailto:`... (specs §9.1 A.2).
fn is_fetchable(s: &str) -> bool {
    let lower = s.get(..8).map(str::to_ascii_lowercase).unwrap_or_default();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// The unescaped reference tokens of an RFC 6901 pointer (`""` is the
/// whole document, which is not a valid `rcdi` key).
fn pointer_tokens(pointer: &str) -> Option<Vec<String>> {
    let rest = pointer.strip_prefix('/')?;
    let mut out = Vec::new();
    for raw in rest.split('/') {
        let mut s = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c == '~' {
                match chars.next() {
                    Some('0') => s.push('~'),
                    Some('1') => s.push('/'),
                    _ => return None,
                }
            } else {
                s.push(c);
            }
        }
        out.push(s);
    }
    Some(out)
}

fn step<'a>(v: &'a Value, token: &str) -> Option<&'a Value> {
    match v {
        Value::Object(m) => m.get(token),
        Value::Array(a) => {
            // RFC 6901: decimal digits, no leading zero.
            if token.is_empty()
                || !token.bytes().all(|b| b.is_ascii_digit())
                || (token.len() > 1 && token.starts_with('0'))
            {
                return None;
            }
            a.get(token.parse::<usize>().ok()?)
        }
        _ => None,
    }
}

/// The body of a referenced resource (a logo, a jCard) exactly as fetched,
/// shared rather than copied (a clone is a reference count) and with each of
/// its digests computed once: a verifier that checks the same 200 KB logo on
/// every call hashes it once per cache lifetime, not once per call.
#[derive(Clone)]
pub struct RcdBody(std::sync::Arc<BodyInner>);

struct BodyInner {
    bytes: Vec<u8>,
    /// SHA-256, SHA-384, SHA-512, each computed on first use.
    digests: [std::sync::OnceLock<Vec<u8>>; 3],
}

impl RcdBody {
    /// A body of these bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        RcdBody(std::sync::Arc::new(BodyInner {
            bytes,
            digests: Default::default(),
        }))
    }
    /// The bytes as fetched.
    pub fn bytes(&self) -> &[u8] {
        &self.0.bytes
    }
    /// Its digest with `alg` (computed on the first call).
    pub fn digest(&self, alg: DigestAlg) -> &[u8] {
        let slot = match alg {
            DigestAlg::Sha256 => &self.0.digests[0],
            DigestAlg::Sha384 => &self.0.digests[1],
            DigestAlg::Sha512 => &self.0.digests[2],
        };
        slot.get_or_init(|| alg.hash(&self.0.bytes))
    }
}

impl std::ops::Deref for RcdBody {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.bytes()
    }
}

impl fmt::Debug for RcdBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RcdBody({} bytes)", self.0.bytes.len())
    }
}

impl PartialEq for RcdBody {
    fn eq(&self, other: &Self) -> bool {
        self.bytes() == other.bytes()
    }
}

impl Eq for RcdBody {}

/// The content of the URLs an RCD references, as the caller obtained it:
/// the HTTP body, or why it could not be had. Absent URLs were not fetched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RcdContent {
    bodies: BTreeMap<String, Result<RcdBody, String>>,
}

impl RcdContent {
    /// No content.
    pub fn new() -> Self {
        Self::default()
    }
    /// Record what fetching `url` gave.
    pub fn insert(&mut self, url: impl Into<String>, body: Result<Vec<u8>, String>) {
        self.bodies.insert(url.into(), body.map(RcdBody::new));
    }
    /// Record what fetching `url` gave, as a shared body (no copy; its
    /// digests are kept with it).
    pub fn insert_body(&mut self, url: impl Into<String>, body: Result<RcdBody, String>) {
        self.bodies.insert(url.into(), body);
    }
    /// What fetching `url` gave, if it was fetched.
    pub fn get(&self, url: &str) -> Option<&Result<RcdBody, String>> {
        self.bodies.get(url)
    }
    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.bodies.is_empty()
    }
}

/// What one digest's pointer resolves to.
enum Target {
    /// Inline JSON: hash its RFC 8225 §9 serialisation.
    Inline(String),
    /// Referenced content: hash the body of this URL.
    Url(String),
    /// The fetched jCard (`/jcl/...`) is not available, so the pointer cannot
    /// be followed: why.
    Unavailable(String),
    /// The pointer names nothing.
    Missing,
}

/// The result of one integrity check (RFC 9795 §8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Integrity {
    /// The digest matches.
    Verified,
    /// The digest does not match: the content is not the one signed.
    Mismatch,
    /// The content could not be checked (not fetched, fetch failed, the
    /// pointer names nothing).
    Unverified,
}

impl RcdClaims {
    /// Read the RCD claims of a PASSporT payload (`claims` is its JSON
    /// object, or the extension claims of [`crate::passport::Claims`]).
    /// `ppt_rcd`: the PASSporT is a `ppt=rcd` one. `None` when it has none
    /// of `rcd`, `crn`, `rcdi` (and is not `ppt=rcd`).
    pub fn from_claims(
        claims: &BTreeMap<String, Value>,
        ppt_rcd: bool,
    ) -> Result<Option<Self>, RcdError> {
        Self::read(|k| claims.get(k), ppt_rcd)
    }

    /// [`from_claims`](Self::from_claims) over the payload's JSON object.
    pub fn from_payload(payload: &Value, ppt_rcd: bool) -> Result<Option<Self>, RcdError> {
        Self::read(|k| payload.get(k), ppt_rcd)
    }

    fn read<'a>(
        get: impl Fn(&str) -> Option<&'a Value>,
        ppt_rcd: bool,
    ) -> Result<Option<Self>, RcdError> {
        let (rcd_v, crn_v, rcdi_v) = (get("rcd"), get("crn"), get("rcdi"));
        if rcd_v.is_none() && crn_v.is_none() && rcdi_v.is_none() {
            return if ppt_rcd {
                Err(RcdError::Empty)
            } else {
                Ok(None)
            };
        }
        let rcd = match rcd_v {
            None => None,
            Some(Value::Object(o)) => {
                let nam = match o.get("nam") {
                    None => return Err(RcdError::NamMissing),
                    Some(Value::String(s)) => {
                        check_text("rcd.nam", s)?;
                        s.clone()
                    }
                    Some(other) => {
                        return Err(RcdError::WrongType {
                            member: "rcd.nam".into(),
                            expected: "a string",
                            found: type_name(other),
                        })
                    }
                };
                let apn = string_member(o, "apn", "rcd.apn")?;
                let icn = string_member(o, "icn", "rcd.icn")?;
                let jcl = string_member(o, "jcl", "rcd.jcl")?;
                let jcd = match o.get("jcd") {
                    None => None,
                    Some(v) => {
                        check_jcard(v, "rcd.jcd")?;
                        Some(v.clone())
                    }
                };
                if jcd.is_some() && jcl.is_some() {
                    return Err(RcdError::JcdAndJcl);
                }
                Some(Rcd {
                    nam,
                    apn,
                    icn,
                    jcd,
                    jcl,
                })
            }
            Some(other) => {
                return Err(RcdError::NotObject {
                    member: "rcd",
                    found: type_name(other),
                })
            }
        };
        let crn = match crn_v {
            None => None,
            Some(Value::String(s)) => {
                check_text("crn", s)?;
                Some(s.clone())
            }
            Some(other) => {
                return Err(RcdError::WrongType {
                    member: "crn".into(),
                    expected: "a string",
                    found: type_name(other),
                })
            }
        };
        let rcdi = match rcdi_v {
            None => None,
            Some(_) if rcd.is_none() => return Err(RcdError::RcdiWithoutRcd),
            Some(Value::Object(o)) => {
                if o.len() > MAX_RCDI_ENTRIES {
                    return Err(RcdError::TooManyDigests {
                        count: o.len(),
                        max: MAX_RCDI_ENTRIES,
                    });
                }
                let mut out = BTreeMap::new();
                for (k, v) in o {
                    if pointer_tokens(k).is_none() {
                        return Err(RcdError::BadPointer { pointer: k.clone() });
                    }
                    let Value::String(s) = v else {
                        return Err(RcdError::BadDigest {
                            pointer: k.clone(),
                            reason: format!("must be a string, found {}", type_name(v)),
                        });
                    };
                    let d = s.parse().map_err(|reason| RcdError::BadDigest {
                        pointer: k.clone(),
                        reason,
                    })?;
                    out.insert(k.clone(), d);
                }
                Some(out)
            }
            Some(other) => {
                return Err(RcdError::NotObject {
                    member: "rcdi",
                    found: type_name(other),
                })
            }
        };
        if ppt_rcd && rcd.is_none() && crn.is_none() {
            return Err(RcdError::Empty);
        }
        let iss = match get("iss") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                return Err(RcdError::WrongType {
                    member: "iss".into(),
                    expected: "a string",
                    found: type_name(other),
                })
            }
        };
        Ok(Some(RcdClaims {
            rcd,
            rcd_json: rcd_v.cloned(),
            crn,
            rcdi,
            iss,
        }))
    }

    /// RCD claims for signing: `rcd` (as given) and `crn`; no digests yet
    /// (see [`with_digests`](Self::with_digests)).
    pub fn new(rcd: Option<Rcd>, crn: Option<String>) -> Self {
        RcdClaims {
            rcd_json: rcd.as_ref().map(Rcd::to_json),
            rcd,
            crn,
            rcdi: None,
            iss: None,
        }
    }

    /// Check the claims as a verifier will (for signing: refuse to sign what
    /// no verifier accepts). `ppt_rcd`: for a separate PASSporT.
    pub fn validate(&self, ppt_rcd: bool) -> Result<(), RcdError> {
        let mut m = BTreeMap::new();
        self.insert_into(&mut m);
        Self::from_claims(&m, ppt_rcd).map(|_| ())
    }

    /// Put the claims into a PASSporT's extension claims.
    pub fn insert_into(&self, claims: &mut BTreeMap<String, Value>) {
        if let Some(r) = &self.rcd_json {
            claims.insert("rcd".into(), r.clone());
        }
        if let Some(c) = &self.crn {
            claims.insert("crn".into(), Value::String(c.clone()));
        }
        if let Some(d) = &self.rcdi {
            let m: Map<String, Value> = d
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.to_string())))
                .collect();
            claims.insert("rcdi".into(), Value::Object(m));
        }
        if let Some(i) = &self.iss {
            claims.insert("iss".into(), Value::String(i.clone()));
        }
    }

    /// Follow `pointer` into `rcd` (and, for `/jcl/...`, into the fetched
    /// jCard).
    fn resolve(&self, pointer: &str, content: &RcdContent) -> Target {
        let (Some(root), Some(tokens)) = (&self.rcd_json, pointer_tokens(pointer)) else {
            return Target::Missing;
        };
        let fetched;
        let (mut cur, rest) = match tokens.split_first() {
            // `/jcl/...` indexes into the fetched jCard (RFC 9795 §6.1.4).
            Some((first, rest)) if first == "jcl" && !rest.is_empty() => {
                let Some(Value::String(url)) = root.get("jcl") else {
                    return Target::Missing;
                };
                match content.get(url) {
                    None => return Target::Unavailable(format!("{url} was not fetched")),
                    Some(Err(e)) => return Target::Unavailable(format!("{url}: {e}")),
                    Some(Ok(body)) => match parse_strict(body, 32) {
                        Ok(v) => fetched = v,
                        Err(e) => return Target::Unavailable(format!("{url} is not a jCard: {e}")),
                    },
                }
                (&fetched, rest)
            }
            _ => (root, &tokens[..]),
        };
        for t in rest {
            match step(cur, t) {
                Some(v) => cur = v,
                None => return Target::Missing,
            }
        }
        let inline_only = matches!(pointer, "/nam" | "/apn");
        match cur {
            Value::String(s) if !inline_only && is_fetchable(s) => Target::Url(s.clone()),
            other => Target::Inline(canonical(other)),
        }
    }

    /// The URLs whose content the digests need and `content` does not hold
    /// yet. Call it, fetch, call it again: the second round names the URIs
    /// inside a fetched `jcl` jCard; there is never a third (URI-referenced
    /// content is not followed further, RFC 9795 §5.1.4).
    pub fn wanted(&self, content: &RcdContent) -> Vec<String> {
        let mut out = Vec::new();
        for pointer in self.rcdi.iter().flat_map(|d| d.keys()) {
            let url = match self.resolve(pointer, content) {
                Target::Url(u) => u,
                _ => continue,
            };
            if content.get(&url).is_none() && !out.contains(&url) {
                out.push(url);
            }
        }
        // `/jcl/...` needs the jCard itself first.
        if let Some(jcl) = self.rcd.as_ref().and_then(|r| r.jcl.as_ref()) {
            let needs = self
                .rcdi
                .iter()
                .flat_map(|d| d.keys())
                .any(|p| p.starts_with("/jcl/"));
            if needs && content.get(jcl).is_none() && !out.contains(jcl) {
                out.push(jcl.clone());
            }
        }
        out
    }

    /// Check every digest against the inline values and `content`, with the
    /// reason for each one that is not `verified`.
    pub fn check_integrity(
        &self,
        content: &RcdContent,
    ) -> BTreeMap<String, (Integrity, Option<String>)> {
        let mut out = BTreeMap::new();
        for (pointer, digest) in self.rcdi.iter().flatten() {
            let result = match self.resolve(pointer, content) {
                Target::Inline(s) => {
                    if digest.matches(s.as_bytes()) {
                        (Integrity::Verified, None)
                    } else {
                        (
                            Integrity::Mismatch,
                            Some(format!("{pointer}: the digest does not match the value signed")),
                        )
                    }
                }
                Target::Url(url) => match content.get(&url) {
                    None => (
                        Integrity::Unverified,
                        Some(format!("{pointer}: {url} was not fetched")),
                    ),
                    Some(Err(e)) => (
                        Integrity::Unverified,
                        Some(format!("{pointer}: {url} could not be fetched: {e}")),
                    ),
                    Some(Ok(body)) if digest.matches_body(body) => (Integrity::Verified, None),
                    Some(Ok(_)) => (
                        Integrity::Mismatch,
                        Some(format!(
                            "{pointer}: the content of {url} does not match its digest (it changed since signing)"
                        )),
                    ),
                },
                Target::Unavailable(why) => {
                    (Integrity::Unverified, Some(format!("{pointer}: {why}")))
                }
                Target::Missing => (
                    Integrity::Unverified,
                    Some(format!("{pointer}: the pointer names no member of \"rcd\"")),
                ),
            };
            out.insert(pointer.clone(), result);
        }
        out
    }

    /// The pointers a signer digests (RFC 9795 §6.1): `/nam`; `/icn` when it
    /// references content; `/jcd` and every fetchable URI inside it; `/jcl`
    /// and every fetchable URI inside the fetched jCard.
    pub fn digest_pointers(&self, content: &RcdContent) -> Vec<String> {
        let Some(rcd) = &self.rcd else {
            return vec![];
        };
        let mut out = vec!["/nam".to_owned()];
        if rcd.icn.as_deref().is_some_and(is_fetchable) {
            out.push("/icn".into());
        }
        let uris = |card: &Value, base: &str, out: &mut Vec<String>| {
            if let Some(props) = card.get(1).and_then(Value::as_array) {
                for (i, p) in props.iter().enumerate() {
                    if p.get(3).and_then(Value::as_str).is_some_and(is_fetchable) {
                        out.push(format!("{base}/1/{i}/3"));
                    }
                }
            }
        };
        if let Some(jcd) = &rcd.jcd {
            out.push("/jcd".into());
            uris(jcd, "/jcd", &mut out);
        }
        if let Some(jcl) = &rcd.jcl {
            out.push("/jcl".into());
            if let Some(Ok(body)) = content.get(jcl) {
                if let Ok(card) = parse_strict(body, 32) {
                    uris(&card, "/jcl", &mut out);
                }
            }
        }
        out
    }

    /// The URLs a signer must fetch to compute the digests (two rounds, as
    /// [`wanted`](Self::wanted)).
    pub fn signing_wanted(&self, content: &RcdContent) -> Vec<String> {
        let mut out = Vec::new();
        for p in self.digest_pointers(content) {
            if let Target::Url(u) = self.resolve(&p, content) {
                if content.get(&u).is_none() && !out.contains(&u) {
                    out.push(u);
                }
            }
        }
        out
    }

    /// Compute `rcdi` with `alg` over the inline values and `content`
    /// (replacing any digests already set).
    pub fn with_digests(mut self, alg: DigestAlg, content: &RcdContent) -> Result<Self, RcdError> {
        let mut out = BTreeMap::new();
        for pointer in self.digest_pointers(content) {
            let bytes = match self.resolve(&pointer, content) {
                Target::Inline(s) => s.into_bytes(),
                Target::Url(url) => match content.get(&url) {
                    Some(Ok(b)) => b.bytes().to_vec(),
                    Some(Err(e)) => {
                        return Err(RcdError::ContentUnavailable {
                            pointer,
                            url,
                            detail: e.clone(),
                        })
                    }
                    None => {
                        return Err(RcdError::ContentUnavailable {
                            pointer,
                            url,
                            detail: "it was not fetched".into(),
                        })
                    }
                },
                Target::Unavailable(detail) => {
                    return Err(RcdError::ContentUnavailable {
                        url: self
                            .rcd
                            .as_ref()
                            .and_then(|r| r.jcl.clone())
                            .unwrap_or_default(),
                        pointer,
                        detail,
                    })
                }
                Target::Missing => continue,
            };
            out.insert(pointer, RcdDigest::of(alg, &bytes));
        }
        self.rcdi = Some(out);
        Ok(self)
    }
}

/// A jCard is `["vcard", [[name, {params}, type, value...], ...]]` (RFC 7095).
fn check_jcard(v: &Value, member: &'static str) -> Result<(), RcdError> {
    let bad = |found: &'static str| RcdError::WrongType {
        member: member.into(),
        expected: "a jCard [\"vcard\", [[name, {params}, type, value], ...]] (RFC 7095)",
        found,
    };
    let Value::Array(a) = v else {
        return Err(bad(type_name(v)));
    };
    match (a.first(), a.get(1), a.len()) {
        (Some(Value::String(s)), Some(Value::Array(props)), 2) if s == "vcard" => {
            for p in props {
                match p.as_array() {
                    Some(p)
                        if p.len() >= 4
                            && p[0].is_string()
                            && p[1].is_object()
                            && p[2].is_string() => {}
                    _ => return Err(bad("a property that is not [name, {params}, type, value]")),
                }
            }
            Ok(())
        }
        _ => Err(bad("an array that does not start with \"vcard\"")),
    }
}

/// The display name of a SIP header compared with `nam` (RFC 9795 §12.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayName {
    /// Which header: `From` or `P-Asserted-Identity`.
    pub header: String,
    /// Its display name (`""` when it has none).
    pub name: String,
    /// Whether it equals `nam`.
    pub matches: bool,
}

/// The `rcd` object of a report: what the PASSporT says about the caller,
/// and whether it can be trusted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RcdReport {
    /// The caller's name (`rcd.nam`); null when the PASSporT carries only
    /// `crn`.
    pub nam: Option<String>,
    /// Alternate presentation number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apn: Option<String>,
    /// Icon URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icn: Option<String>,
    /// Inline jCard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jcd: Option<Value>,
    /// jCard URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jcl: Option<String>,
    /// Call reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crn: Option<String>,
    /// Third-party issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Which carriage: `shaken` (claims in the SHAKEN PASSporT) or `rcd`
    /// (a separate `ppt=rcd` PASSporT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carriage: Option<String>,
    /// True only when the signature, the construction rules, the
    /// certificate's claim constraints and every digest present check out.
    pub verified: bool,
    /// Each `rcdi` pointer: `verified`, `mismatch` or `unverified`.
    pub integrity: BTreeMap<String, Integrity>,
    /// Why `verified` is false; null when it is true.
    pub reason: Option<String>,
    /// With a SIP request: the From or P-Asserted-Identity display name
    /// compared with `nam`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<DisplayName>,
    /// With a SIP request: the RFC 9796 `Call-Info` header lines a
    /// terminating SBC would pass to the phone (only for a PASSporT that
    /// passed; content whose digest failed is left out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub call_info: Vec<String>,
    /// The `rcdi` values, for the `integrity` parameter of `Call-Info`.
    #[serde(skip)]
    digests: BTreeMap<String, String>,
}

impl RcdReport {
    /// The report of `claims`. `passport`: `Ok` when the PASSporT that
    /// carries them verified, else the reason it did not. `content`: what
    /// was fetched for the digests.
    pub fn new(
        claims: &RcdClaims,
        passport: Result<(), String>,
        content: &RcdContent,
        carriage: &str,
    ) -> Self {
        let checks = claims.check_integrity(content);
        let reason = match passport {
            Err(why) => Some(why),
            Ok(()) => checks.values().find_map(|(_, why)| why.clone()),
        };
        let rcd = claims.rcd.as_ref();
        RcdReport {
            nam: rcd.map(|r| r.nam.clone()),
            apn: rcd.and_then(|r| r.apn.clone()),
            icn: rcd.and_then(|r| r.icn.clone()),
            jcd: rcd.and_then(|r| r.jcd.clone()),
            jcl: rcd.and_then(|r| r.jcl.clone()),
            crn: claims.crn.clone(),
            iss: claims.iss.clone(),
            carriage: Some(carriage.to_owned()),
            verified: reason.is_none(),
            integrity: checks.into_iter().map(|(k, (i, _))| (k, i)).collect(),
            reason,
            display_name: None,
            call_info: vec![],
            digests: claims
                .rcdi
                .iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect(),
        }
    }

    /// Mark the RCD untrusted for `reason` (e.g. the call it came with did
    /// not pass), keeping the first reason already given.
    pub fn untrust(&mut self, reason: String) {
        self.verified = false;
        if self.reason.is_none() {
            self.reason = Some(reason);
        }
    }

    /// One line for people: `Acme Bank (verified)` or why not.
    pub fn summary(&self) -> String {
        let name = match self.nam.as_deref() {
            Some("") => "(empty)".to_owned(),
            Some(n) => n.to_owned(),
            None => "(none)".to_owned(),
        };
        match &self.reason {
            None => format!("{name} (verified)"),
            Some(r) => format!("{name} (not verified: {r})"),
        }
    }

    /// Compare `nam` with a SIP display name (RFC 9795 §12.2: after the
    /// signature checks, `nam` is compared with the From display name, or a
    /// locally preferred one such as P-Asserted-Identity). A difference is
    /// reported, it does not unverify the RCD: the PASSporT's name is the one
    /// signed.
    pub fn compare_display_name(&mut self, header: &str, display: Option<&str>) {
        let Some(nam) = &self.nam else { return };
        let name = display.unwrap_or("").to_owned();
        self.display_name = Some(DisplayName {
            header: header.to_owned(),
            matches: &name == nam,
            name,
        });
    }

    /// Fill [`call_info`](Self::call_info) (RFC 9796 §5-§8) for a PASSporT
    /// that passed, with the digests of `claims`.
    pub fn fill_call_info(&mut self, passport_passed: bool) {
        self.call_info.clear();
        if !passport_passed {
            return;
        }
        let ok = |p: &str| {
            self.integrity
                .get(p)
                .is_none_or(|i| *i == Integrity::Verified)
        };
        let verified = if self.verified {
            ";verified=\"true\""
        } else {
            ""
        };
        let integrity = |p: &str| match self.digests.get(p) {
            Some(d) if self.verified => format!(";integrity=\"{d}\""),
            _ => String::new(),
        };
        let reason = match &self.crn {
            Some(c) if !c.is_empty() => format!(";call-reason=\"{}\"", quote(c)),
            _ => String::new(),
        };
        let mut lines = Vec::new();
        if let Some(icn) = self.icn.as_deref().filter(|_| ok("/icn")) {
            lines.push(format!(
                "Call-Info: <{icn}>;purpose=icon{verified}{}",
                integrity("/icn")
            ));
        }
        let mut reason_used = false;
        if let Some(jcl) = self.jcl.as_deref().filter(|_| ok("/jcl")) {
            lines.push(format!(
                "Call-Info: <{jcl}>;purpose=jcard{reason}{verified}{}",
                integrity("/jcl")
            ));
            reason_used = true;
        } else if let Some(jcd) = self.jcd.as_ref().filter(|_| ok("/jcd")) {
            let data = base64::engine::general_purpose::STANDARD.encode(canonical(jcd));
            lines.push(format!(
                "Call-Info: <data:application/json;base64,{data}>;purpose=jcard{reason}{verified}{}",
                integrity("/jcd")
            ));
            reason_used = true;
        }
        if !reason_used && (!reason.is_empty() || self.verified) {
            // RFC 9796 §6, §7: parameters without a URI use the null data
            // URI; `verified` there says the display name was verified.
            lines.push(format!(
                "Call-Info: <data:>;purpose=jcard{reason}{verified}"
            ));
        }
        self.call_info = lines;
    }
}

/// A SIP quoted-string body (RFC 3261 §25.1: `"` and `\` as quoted-pairs;
/// control characters were refused when the claim was read).
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Rich Call Data to sign: the claims, and where they go.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RcdSigning {
    /// `rcd`, `crn`, `rcdi`.
    pub claims: RcdClaims,
    /// A separate `ppt=rcd` PASSporT (its own Identity header) instead of
    /// claims in the `shaken` one.
    pub separate: bool,
}

/// The Rich Call Data of a signer's configuration (TOML `[rcd]`): put into
/// every call it signs. Digests of referenced content are not computed here
/// (no I/O): sign with [`RcdClaims::with_digests`] for that.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RcdConfig {
    /// The caller's name.
    pub nam: String,
    /// Alternate presentation number.
    #[serde(default)]
    pub apn: Option<String>,
    /// Icon URL.
    #[serde(default)]
    pub icn: Option<String>,
    /// jCard URL.
    #[serde(default)]
    pub jcl: Option<String>,
    /// Call reason.
    #[serde(default)]
    pub crn: Option<String>,
    /// Sign a separate `ppt=rcd` PASSporT.
    #[serde(default)]
    pub separate: bool,
}

impl RcdConfig {
    /// What to sign.
    pub fn signing(&self) -> RcdSigning {
        RcdSigning {
            claims: RcdClaims::new(
                Some(Rcd {
                    nam: self.nam.clone(),
                    apn: self.apn.clone(),
                    icn: self.icn.clone(),
                    jcd: None,
                    jcl: self.jcl.clone(),
                }),
                self.crn.clone(),
            ),
            separate: self.separate,
        }
    }
}

/// The header of a separate Rich Call Data PASSporT (`ppt` `rcd`).
pub fn rcd_header(x5u: &str) -> crate::passport::Header {
    let mut h = crate::passport::Header::shaken(x5u);
    h.ppt = Some(PPT_RCD.into());
    h
}

/// The claims of a separate `ppt=rcd` PASSporT for a call: the same `orig`,
/// `dest` and `iat` (RFC 9795 §10.2 checks them against the call), no
/// SHAKEN claims, and the RCD claims.
pub fn separate_claims(call: &crate::passport::Claims, rcd: &RcdClaims) -> crate::passport::Claims {
    let mut c = crate::passport::Claims {
        iat: call.iat,
        orig: call.orig.clone(),
        dest: call.dest.clone(),
        attest: None,
        origid: None,
        extra: BTreeMap::new(),
        iat_was_string: false,
    };
    rcd.insert_into(&mut c.extra);
    c
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn claims(json: &str, ppt_rcd: bool) -> Result<Option<RcdClaims>, RcdError> {
        RcdClaims::from_payload(&parse_strict(json.as_bytes(), 16).unwrap(), ppt_rcd)
    }

    const VECTORS: &str = include_str!("../../../tests/data/vectors/rcd/digests.txt");
    const NAM: &[u8] = include_bytes!("../../../tests/data/vectors/rcd/nam-q-branch.json");
    const JCL: &[u8] = include_bytes!("../../../tests/data/vectors/rcd/jcl-qbranch.json");
    const JCD: &[u8] = include_bytes!("../../../tests/data/vectors/rcd/jcd-quartermaster.json");
    const JCD_PRETTY: &str =
        include_str!("../../../tests/data/vectors/rcd/jcd-quartermaster.pretty.json");

    fn vector(file: &str) -> RcdDigest {
        VECTORS
            .lines()
            .filter(|l| !l.starts_with('#'))
            .find_map(|l| l.strip_prefix(file)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no vector for {file}"))
            .trim()
            .parse()
            .unwrap()
    }

    /// The vectors of RFC 9795 (specs §9.5), as data files.
    #[test]
    fn rfc_9795_digest_vectors() {
        for (file, bytes) in [
            ("nam-q-branch.json", NAM),
            ("jcl-qbranch.json", JCL),
            ("jcd-quartermaster.json", JCD),
        ] {
            let want = vector(file);
            assert_eq!(RcdDigest::of(want.alg, bytes), want, "{file}");
        }
    }

    /// The same digests, computed from the claims: `/nam` over the string
    /// with its quotes, `/jcd` over the RFC 8225 §9 serialisation of the
    /// pretty-printed jCard, `/jcl` over the body.
    #[test]
    fn digests_from_claims_match_the_rfc() {
        let c = claims(
            &format!(r#"{{"rcd":{{"nam":"Q Branch Spy Gadgets","jcd":{JCD_PRETTY}}}}}"#),
            false,
        )
        .unwrap()
        .unwrap();
        let c = c
            .with_digests(DigestAlg::Sha256, &RcdContent::new())
            .unwrap_err();
        // The photo and the two logos are referenced content: not fetched,
        // so signing with digests refuses, naming the first.
        assert!(
            matches!(&c, RcdError::ContentUnavailable { pointer, .. } if pointer == "/jcd/1/3/3"),
            "{c}"
        );
        let c = claims(
            &format!(r#"{{"rcd":{{"nam":"Q Branch Spy Gadgets","jcd":{JCD_PRETTY}}}}}"#),
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            c.digest_pointers(&RcdContent::new()),
            ["/nam", "/jcd", "/jcd/1/3/3", "/jcd/1/4/3", "/jcd/1/5/3"]
        );
        let mut images = RcdContent::new();
        for u in c.signing_wanted(&RcdContent::new()) {
            images.insert(u.clone(), Ok(u.into_bytes()));
        }
        let c = c.with_digests(DigestAlg::Sha256, &images).unwrap();
        let d = c.rcdi.as_ref().unwrap();
        assert_eq!(d["/nam"], vector("nam-q-branch.json"));
        assert_eq!(d["/jcd"], vector("jcd-quartermaster.json"));
        assert!(c
            .check_integrity(&images)
            .values()
            .all(|(i, _)| *i == Integrity::Verified));
        let c = claims(
            &format!(r#"{{"rcd":{{"nam":"Q","jcl":"https://example.com/qbranch.json"}},"rcdi":{{"/jcl":"{}"}}}}"#, vector("jcl-qbranch.json")),
            false,
        )
        .unwrap()
        .unwrap();
        let mut content = RcdContent::new();
        assert_eq!(c.wanted(&content), ["https://example.com/qbranch.json"]);
        content.insert("https://example.com/qbranch.json", Ok(JCL.to_vec()));
        assert!(c.wanted(&content).is_empty());
        assert_eq!(c.check_integrity(&content)["/jcl"].0, Integrity::Verified);
        let mut changed = RcdContent::new();
        let mut body = JCL.to_vec();
        body.push(b' ');
        changed.insert("https://example.com/qbranch.json", Ok(body));
        assert_eq!(c.check_integrity(&changed)["/jcl"].0, Integrity::Mismatch);
        let mut failed = RcdContent::new();
        failed.insert("https://example.com/qbranch.json", Err("timed out".into()));
        assert_eq!(c.check_integrity(&failed)["/jcl"].0, Integrity::Unverified);
        // A digest of a URI inside the fetched jCard: two rounds, never three.
        let c = claims(
            r#"{"rcd":{"nam":"Q","jcl":"https://example.com/qbranch.json"},"rcdi":{"/jcl/1/3/3":"sha256-sM275lTgzCte+LHOKHtU4SxG8shlOo6OS4ot8IJQImY"}}"#,
            false,
        )
        .unwrap()
        .unwrap();
        let mut content = RcdContent::new();
        assert_eq!(c.wanted(&content), ["https://example.com/qbranch.json"]);
        content.insert("https://example.com/qbranch.json", Ok(JCL.to_vec()));
        assert_eq!(
            c.wanted(&content),
            ["https://example.com/photos/q-256x256.png"]
        );
        content.insert(
            "https://example.com/photos/q-256x256.png",
            Ok(b"png".to_vec()),
        );
        assert!(c.wanted(&content).is_empty());
        assert_eq!(
            c.check_integrity(&content)["/jcl/1/3/3"].0,
            Integrity::Mismatch
        );
    }

    /// A fetched body is shared, and each digest of it computed once.
    #[test]
    fn a_body_is_shared_and_each_digest_computed_once() {
        let body = RcdBody::new(b"a logo".to_vec());
        let copy = body.clone();
        assert!(std::ptr::eq(copy.bytes().as_ptr(), body.bytes().as_ptr()));
        for alg in [DigestAlg::Sha256, DigestAlg::Sha384, DigestAlg::Sha512] {
            let first = body.digest(alg);
            assert_eq!(first, RcdDigest::of(alg, b"a logo").bytes.as_slice());
            assert!(
                std::ptr::eq(copy.digest(alg).as_ptr(), first.as_ptr()),
                "{alg:?}"
            );
            assert!(RcdDigest::of(alg, b"a logo").matches_body(&copy));
            assert!(!RcdDigest::of(alg, b"another logo").matches_body(&copy));
        }
    }

    #[test]
    fn digest_strings() {
        let d: RcdDigest = "sha256-sM275lTgzCte+LHOKHtU4SxG8shlOo6OS4ot8IJQImY="
            .parse()
            .unwrap();
        assert_eq!(
            d.to_string(),
            "sha256-sM275lTgzCte+LHOKHtU4SxG8shlOo6OS4ot8IJQImY"
        );
        for bad in [
            "sha256",
            "md5-sM275lTgzCte+LHOKHtU4SxG8shlOo6OS4ot8IJQImY",
            "sha256-sM275lTgzCte-LHOKHtU4SxG8shlOo6OS4ot8IJQImY",
            "sha256-sM275lTgzCte",
            "SHA256-sM275lTgzCte+LHOKHtU4SxG8shlOo6OS4ot8IJQImY",
            "sha384-sM275lTgzCte+LHOKHtU4SxG8shlOo6OS4ot8IJQImY",
        ] {
            assert!(bad.parse::<RcdDigest>().is_err(), "{bad}");
        }
        for alg in [DigestAlg::Sha256, DigestAlg::Sha384, DigestAlg::Sha512] {
            let d = RcdDigest::of(alg, b"x");
            assert_eq!(d.to_string().parse::<RcdDigest>().unwrap(), d);
            assert!(!d.to_string().ends_with('='));
        }
    }

    /// Every malformed shape fails with a detail naming the member.
    #[test]
    fn malformed_shapes_name_the_member() {
        use crate::diagnostic::Diagnostic;
        let cases: &[(&str, bool, &str, &str)] = &[
            (r#"{"rcd":"Bob"}"#, false, "rcd-not-object", "\"rcd\""),
            (r#"{"rcd":["Bob"]}"#, false, "rcd-not-object", "\"rcd\""),
            (r#"{"rcd":{}}"#, false, "rcd-nam-missing", "\"nam\""),
            (r#"{"rcd":{"nam":1}}"#, false, "rcd-wrong-type", "rcd.nam"),
            (
                r#"{"rcd":{"nam":"a","apn":1}}"#,
                false,
                "rcd-wrong-type",
                "rcd.apn",
            ),
            (
                r#"{"rcd":{"nam":"a","icn":{}}}"#,
                false,
                "rcd-wrong-type",
                "rcd.icn",
            ),
            (
                r#"{"rcd":{"nam":"a","jcd":"x"}}"#,
                false,
                "rcd-wrong-type",
                "rcd.jcd",
            ),
            (
                r#"{"rcd":{"nam":"a","jcd":["vcard",[["fn",{},"text"]]]}}"#,
                false,
                "rcd-wrong-type",
                "rcd.jcd",
            ),
            (
                r#"{"rcd":{"nam":"a","jcd":["vcard",[]],"jcl":"https://x/"}}"#,
                false,
                "rcd-jcd-and-jcl",
                "\"jcl\"",
            ),
            (
                r#"{"rcd":{"nam":"a\r\nX-Evil: 1"}}"#,
                false,
                "rcd-bad-text",
                "rcd.nam",
            ),
            (r#"{"crn":5}"#, false, "rcd-wrong-type", "crn"),
            (
                r#"{"rcdi":{"/nam":"sha256-sM275lTgzCte+LHOKHtU4SxG8shlOo6OS4ot8IJQImY"}}"#,
                false,
                "rcdi-without-rcd",
                "\"rcdi\"",
            ),
            (
                r#"{"rcd":{"nam":"a"},"rcdi":[]}"#,
                false,
                "rcd-not-object",
                "\"rcdi\"",
            ),
            (
                r#"{"rcd":{"nam":"a"},"rcdi":{"nam":"sha256-sM275lTgzCte+LHOKHtU4SxG8shlOo6OS4ot8IJQImY"}}"#,
                false,
                "rcdi-bad-pointer",
                "\"nam\"",
            ),
            (
                r#"{"rcd":{"nam":"a"},"rcdi":{"/nam":"sha1-x"}}"#,
                false,
                "rcdi-bad-digest",
                "\"/nam\"",
            ),
            (
                r#"{"rcd":{"nam":"a"},"rcdi":{"/nam":5}}"#,
                false,
                "rcdi-bad-digest",
                "\"/nam\"",
            ),
            (r#"{"iat":1}"#, true, "rcd-empty", "\"rcd\""),
            (
                r#"{"rcd":{"nam":"a"},"iss":1}"#,
                false,
                "rcd-wrong-type",
                "iss",
            ),
        ];
        for (json, ppt, id, names) in cases {
            let e = claims(json, *ppt).unwrap_err();
            assert_eq!(Diagnostic::id(&e), *id, "{json}: {e}");
            assert_eq!(Diagnostic::sip_code(&e), Some(438));
            assert!(e.to_string().contains(names), "{json}: {e}");
        }
        // Accepted: an empty name, an empty call reason, an empty rcdi (a
        // real-world quirk), unknown members, crn alone in ppt=rcd.
        for ok in [
            r#"{"rcd":{"nam":""}}"#,
            r#"{"rcd":{"nam":"a","xyz":1},"crn":"","rcdi":{}}"#,
            r#"{"crn":"For your ears only"}"#,
        ] {
            assert!(claims(ok, true).unwrap().is_some(), "{ok}");
        }
        assert_eq!(claims(r#"{"iat":1}"#, false).unwrap(), None);
    }

    #[test]
    fn report_and_call_info() {
        let c = claims(
            r#"{"rcd":{"nam":"Acme \"Bank\"","icn":"https://cdn.example/logo.png"},"crn":"Card fraud alert","rcdi":{"/icn":"sha256-sM275lTgzCte+LHOKHtU4SxG8shlOo6OS4ot8IJQImY","/nam":"sha256-sM275lTgzCte+LHOKHtU4SxG8shlOo6OS4ot8IJQImY"}}"#,
            false,
        )
        .unwrap()
        .unwrap();
        let r = RcdReport::new(&c, Ok(()), &RcdContent::new(), "shaken");
        assert!(!r.verified);
        assert_eq!(r.integrity["/icn"], Integrity::Unverified);
        assert_eq!(r.integrity["/nam"], Integrity::Mismatch);
        // Without digests the inline name is verified by the signature.
        let c = claims(
            r#"{"rcd":{"nam":"Acme \"Bank\"","icn":"https://cdn.example/logo.png"},"crn":"Card fraud alert"}"#,
            false,
        )
        .unwrap()
        .unwrap();
        let mut r = RcdReport::new(&c, Ok(()), &RcdContent::new(), "shaken");
        assert!(r.verified, "{r:?}");
        assert_eq!(r.summary(), "Acme \"Bank\" (verified)");
        r.fill_call_info(true);
        assert_eq!(
            r.call_info,
            [
                "Call-Info: <https://cdn.example/logo.png>;purpose=icon;verified=\"true\"",
                "Call-Info: <data:>;purpose=jcard;call-reason=\"Card fraud alert\";verified=\"true\"",
            ]
        );
        r.compare_display_name("From", Some("ACME"));
        assert!(!r.display_name.as_ref().unwrap().matches);
        let r = RcdReport::new(
            &c,
            Err("the PASSporT did not verify".into()),
            &RcdContent::new(),
            "shaken",
        );
        assert!(!r.verified);
        assert!(r
            .summary()
            .contains("not verified: the PASSporT did not verify"));
    }
}
