//! Diverted calls (RFC 8946; SHAKEN profile ATIS-1000085): the `div` and
//! `div-o` PASSporTs and the chain a verifier builds from them. Pure core.
//!
//! RFC 8946 §3: a carrier that retargets a call cannot change the original
//! PASSporT; it adds a `div` PASSporT (header `ppt: "div"`) whose claims are
//! **only** `orig` (copied), `iat` (retained), `dest` (the new target) and
//! `div` (the identity the call was diverted from, one value of the previous
//! `dest`, optionally with the History-Info index `hi`). The signer's
//! credential must cover the `div` identity, not `orig`. `div-o` (§5) adds
//! `opt`: the previous PASSporT itself, full form, for out-of-band use.
//!
//! What lives here:
//! - [`DivClaim`]: the `div` claim read strictly ([`DivError`] names what is
//!   wrong); [`div_claims`] builds the claims a retargeting signer signs;
//! - [`check_chain`]: RFC 8946 §4.2 over the per-PASSporT results — link
//!   every `div` to an earlier PASSporT whose `dest` holds its `div` value,
//!   down to the `shaken` one; same `orig` throughout; every PASSporT valid
//!   (signature, certificate, freshness: checked one by one by the
//!   verifier); the outermost `dest` holds the call's target (the
//!   Request-URI). The result is a [`Diversion`] with one [`Hop`] per `div`
//!   and, for a broken chain, the first broken link ([`LinkError`]).
//!
//! The per-PASSporT checks of a `div` are stage 1 of the verifier
//! (`verify/diversion.rs`, [`crate::verify::Verifier::prepare_div`]); the
//! chain, the certificate and the signature are those of every PASSporT.
//!
//! Interoperability (what other implementations put into `div`, which the
//! RFC does not define; as issue 15 reports it, not checked against their
//! code here): stirshaken-ruby and the libstirshaken fork send a
//! `hi` member (RFC 8946 §8 defines it: the History-Info index, kept and
//! reported) and a `reason` member (a Diversion-header reason such as
//! `"unconditional"`; RFC 8946 §9 leaves reasons to future work). Unknown
//! members of the `div` object are kept and reported as a warning, never
//! used for a decision. Claims beside `orig`, `dest`, `iat`, `div` (and
//! `opt` for `div-o`) are refused: §3 says no other claim is copied, so an
//! `attest` in a `div` means the signer copied the shaken claims wholesale.

use crate::passport::{Claims, Dest, Orig};
use crate::report::{reason_phrase, Reason, Report, SignerInfo};
use crate::tn::{ClaimTn, TelephoneNumber, TnPolicy};
use crate::verify::PartyId;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The `ppt` of a `div` PASSporT (RFC 8946 §3).
pub const PPT_DIV: &str = "div";
/// The `ppt` of a `div-o` PASSporT (RFC 8946 §5).
pub const PPT_DIV_O: &str = "div-o";
/// Most `div` PASSporTs in one call by default: the French rules allow a
/// shaken PASSporT and up to 5 `div` ones (issue 15); `Limits::max_div`.
pub const DEFAULT_MAX_DIV: usize = 5;

/// Whether `ppt` names a diversion PASSporT (`div` or `div-o`).
pub fn is_div_ppt(ppt: Option<&str>) -> bool {
    matches!(ppt, Some(PPT_DIV | PPT_DIV_O))
}

/// The `div` claim (RFC 8946 §3): the identity the call was diverted from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DivClaim {
    /// `{"tn": ...}` or `{"uri": ...}`.
    pub id: Orig,
    /// The History-Info index (`"hi"`, RFC 8946 §8), e.g. `"1.2.1"`.
    pub hi: Option<String>,
    /// Members the RFC does not define (e.g. `reason`), kept as received.
    pub extra: BTreeMap<String, Value>,
}

impl DivClaim {
    /// A `div` claim for a telephone number.
    pub fn tn(tn: impl Into<String>) -> Self {
        DivClaim {
            id: Orig::Tn(tn.into()),
            hi: None,
            extra: BTreeMap::new(),
        }
    }

    /// Read the `div` claim of a `div`/`div-o` PASSporT and check that no
    /// other claim is there (`ppt` decides whether `opt` is required). Returns
    /// the claim, the `opt` value of a `div-o`, and warnings.
    pub fn from_claims(
        claims: &Claims,
        ppt: &str,
    ) -> Result<(DivClaim, Option<String>, Vec<String>), DivError> {
        if claims.attest.is_some() {
            return Err(DivError::ForbiddenClaim {
                claim: "attest".into(),
            });
        }
        if claims.origid.is_some() {
            return Err(DivError::ForbiddenClaim {
                claim: "origid".into(),
            });
        }
        let mut opt = None;
        for (name, value) in &claims.extra {
            match name.as_str() {
                "div" => {}
                "opt" if ppt == PPT_DIV_O => match value {
                    Value::String(s) if !s.is_empty() => opt = Some(s.clone()),
                    _ => {
                        return Err(DivError::OptInvalid {
                            detail: "it must be the previous PASSporT as a JWS string".into(),
                        })
                    }
                },
                other => {
                    return Err(DivError::ForbiddenClaim {
                        claim: other.to_owned(),
                    })
                }
            }
        }
        if ppt == PPT_DIV_O && opt.is_none() {
            return Err(DivError::OptInvalid {
                detail:
                    "a div-o PASSporT must carry the previous PASSporT in \"opt\" (RFC 8946 §5)"
                        .into(),
            });
        }
        let value = claims.extra.get("div").ok_or(DivError::Missing)?;
        let (div, warnings) = Self::from_json(value)?;
        Ok((div, opt, warnings))
    }

    /// Read the `div` object.
    pub fn from_json(value: &Value) -> Result<(DivClaim, Vec<String>), DivError> {
        let invalid = |detail: String| DivError::Invalid { detail };
        let Value::Object(obj) = value else {
            return Err(invalid(
                "it must be an object {\"tn\": ...} or {\"uri\": ...}".into(),
            ));
        };
        let id =
            match (obj.get("tn"), obj.get("uri")) {
                (Some(Value::String(t)), None) if !t.is_empty() => Orig::Tn(t.clone()),
                (None, Some(Value::String(u))) if !u.is_empty() => Orig::Uri(u.clone()),
                (Some(_), Some(_)) => {
                    return Err(invalid(
                        "it holds both \"tn\" and \"uri\"; it must hold one identity".into(),
                    ))
                }
                (None, None) => {
                    return Err(invalid(
                        "it holds neither \"tn\" nor \"uri\" (RFC 8946 §3)".into(),
                    ))
                }
                _ => return Err(invalid(
                    "its \"tn\" or \"uri\" must be a non-empty string (one identity, not a list)"
                        .into(),
                )),
            };
        let hi =
            match obj.get("hi") {
                None => None,
                Some(Value::String(s)) if !s.is_empty() && s.len() <= 64 => Some(s.clone()),
                Some(_) => return Err(invalid(
                    "\"hi\" must be a History-Info index string such as \"1.2.1\" (RFC 8946 §8)"
                        .into(),
                )),
            };
        let mut extra = BTreeMap::new();
        let mut warnings = Vec::new();
        for (k, v) in obj {
            if matches!(k.as_str(), "tn" | "uri" | "hi") {
                continue;
            }
            warnings.push(format!(
                "div-member-unknown: the div claim has a member {k:?} that RFC 8946 does not define; it was ignored"
            ));
            extra.insert(k.clone(), v.clone());
        }
        Ok((DivClaim { id, hi, extra }, warnings))
    }

    /// The claim as JSON (`hi` and extra members included).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        match &self.id {
            Orig::Tn(t) => m.insert("tn".into(), Value::String(t.clone())),
            Orig::Uri(u) => m.insert("uri".into(), Value::String(u.clone())),
        };
        if let Some(hi) = &self.hi {
            m.insert("hi".into(), Value::String(hi.clone()));
        }
        for (k, v) in &self.extra {
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m)
    }
}

/// The claims of a `div` PASSporT for a call that arrived with `previous`
/// (a shaken or div PASSporT's claims) and is retargeted to `new_dest`
/// (RFC 8946 §3): `orig` and `iat` copied, `div` the previous destination
/// `from` (which must be one of `previous.dest`), `dest` the new target, and
/// no other claim. Refused when the new target is already a destination of
/// `previous` (§3: a div is added only when the canonical `dest` changes).
pub fn div_claims(
    previous: &Claims,
    from: &str,
    new_dest: &TelephoneNumber,
    hi: Option<&str>,
    policy: &TnPolicy,
) -> Result<Claims, DivSignError> {
    let held: Vec<ClaimTn> = previous
        .dest
        .tn
        .iter()
        .filter_map(|t| TelephoneNumber::parse_claim(t, policy).ok())
        .collect();
    if held.iter().any(|d| d.matches(new_dest)) {
        return Err(DivSignError::DestUnchanged {
            dest: new_dest.to_string(),
        });
    }
    if !previous.dest.tn.iter().any(|t| t == from) {
        return Err(DivSignError::NoDest);
    }
    let mut extra = BTreeMap::new();
    let mut div = DivClaim::tn(from);
    if let Some(hi) = hi {
        if hi.is_empty() || hi.len() > 64 || !hi.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Err(DivSignError::HiInvalid { hi: hi.to_owned() });
        }
        div.hi = Some(hi.to_owned());
    }
    extra.insert("div".to_owned(), div.to_json());
    Ok(Claims {
        iat: previous.iat,
        orig: previous.orig.clone(),
        dest: Dest {
            tn: vec![new_dest.to_string()],
            uri: vec![],
        },
        attest: None,
        origid: None,
        extra,
        iat_was_string: false,
    })
}

/// Why a `div` PASSporT's own claims are unacceptable (stage 1 of its
/// verification; each maps to 438 like any claim error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DivError {
    /// No `div` claim.
    #[error("the div PASSporT has no \"div\" claim (RFC 8946 §3: the identity the call was diverted from)")]
    Missing,
    /// The `div` claim is not one identity.
    #[error("claim \"div\" is invalid: {detail}")]
    Invalid {
        /// What is wrong.
        detail: String,
    },
    /// A claim RFC 8946 does not allow in a div PASSporT.
    #[error("claim {claim:?} is not allowed in a div PASSporT (RFC 8946 §3: only orig, dest, iat and div; opt for div-o)")]
    ForbiddenClaim {
        /// The claim.
        claim: String,
    },
    /// `opt` is missing from a `div-o`, or is not a PASSporT.
    #[error("claim \"opt\" is invalid: {detail}")]
    OptInvalid {
        /// What is wrong.
        detail: String,
    },
    /// `div-o` PASSporTs nested deeper than the limit.
    #[error("div-o PASSporTs are nested {depth} deep in \"opt\"; at most {max} are accepted")]
    TooDeep {
        /// How deep.
        depth: usize,
        /// The limit.
        max: usize,
    },
}

impl crate::diagnostic::Diagnostic for DivError {
    fn id(&self) -> &'static str {
        match self {
            DivError::Missing => "div-claim-missing",
            DivError::Invalid { .. } => "div-claim-invalid",
            DivError::ForbiddenClaim { .. } => "div-claim-forbidden",
            DivError::OptInvalid { .. } => "div-opt-invalid",
            DivError::TooDeep { .. } => "div-opt-too-deep",
        }
    }
    fn sip_code(&self) -> Option<u16> {
        Some(438)
    }
    fn verstat(&self) -> Option<crate::report::Verstat> {
        Some(crate::report::Verstat::NoValidation)
    }
}

/// Why a `div` PASSporT was not signed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DivSignError {
    /// The incoming Identity value could not be read.
    #[error("the incoming Identity value: {0}")]
    Incoming(String),
    /// The incoming PASSporT is neither shaken nor div.
    #[error(
        "the incoming PASSporT has ppt {ppt:?}; a div PASSporT follows a shaken, div or div-o one"
    )]
    IncomingPpt {
        /// What it has.
        ppt: String,
    },
    /// The incoming PASSporT has no telephone-number `dest` to divert from.
    #[error("the incoming PASSporT has no telephone-number dest to divert from")]
    NoDest,
    /// The new target is already a destination.
    #[error("the new target {dest} is already in the incoming PASSporT's dest; RFC 8946 §3 adds a div PASSporT only when the destination changes")]
    DestUnchanged {
        /// The target.
        dest: String,
    },
    /// The new target is not a telephone number.
    #[error("the new target {value:?} is not a telephone number: {source}")]
    DestInvalid {
        /// The value.
        value: String,
        /// Why.
        #[source]
        source: crate::tn::TnError,
    },
    /// The Request-URI (the new target) is not a telephone number.
    #[error("the Request-URI {uri:?} is not a telephone number; SHAKEN diverts to numbers only")]
    TargetNotTn {
        /// The URI.
        uri: String,
    },
    /// `hi` is not a History-Info index.
    #[error("hi {hi:?} is not a History-Info index (digits and dots, e.g. 1.2.1)")]
    HiInvalid {
        /// The value.
        hi: String,
    },
    /// The request has no Identity header to divert.
    #[error("the request has no Identity header: RFC 8946 §4.1 adds a div PASSporT only to a signed call")]
    Unsigned,
    /// No PASSporT of the request needs a div for this target.
    #[error("every PASSporT of the request already has {dest} as its destination (or is covered by a div for it): nothing to add")]
    NothingToDivert {
        /// The new target.
        dest: String,
    },
    /// The SIP request could not be read.
    #[error("{0}")]
    Sip(#[from] crate::sip::SipVerifyError),
    /// The signer failed.
    #[error("signing failed: {0}")]
    Sign(#[from] crate::passport::SignError),
}

impl crate::diagnostic::Diagnostic for DivSignError {
    fn id(&self) -> &'static str {
        match self {
            DivSignError::Incoming(_) => "div-sign-incoming-invalid",
            DivSignError::IncomingPpt { .. } => "div-sign-incoming-ppt",
            DivSignError::NoDest => "div-sign-no-dest",
            DivSignError::DestUnchanged { .. } => "div-sign-dest-unchanged",
            DivSignError::DestInvalid { .. } => "div-sign-dest-invalid",
            DivSignError::HiInvalid { .. } => "div-sign-hi-invalid",
            DivSignError::TargetNotTn { .. } => "div-sign-target-not-tn",
            DivSignError::Unsigned => "div-sign-unsigned",
            DivSignError::NothingToDivert { .. } => "div-sign-nothing-to-divert",
            DivSignError::Sip(_) => "div-sign-sip-invalid",
            DivSignError::Sign(_) => "div-sign-failed",
        }
    }
    fn sip_code(&self) -> Option<u16> {
        None
    }
    fn verstat(&self) -> Option<crate::report::Verstat> {
        None
    }
}

/// The header of a `div` PASSporT (RFC 8946 §3).
pub fn div_header(x5u: &str) -> crate::passport::Header {
    let mut h = crate::passport::Header::shaken(x5u);
    h.ppt = Some(PPT_DIV.into());
    h
}

/// A signed `div` PASSporT.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SignedDiv {
    /// The Identity header value (`token;info=<x5u>;alg=ES256;ppt=div`).
    pub identity: String,
    /// The PASSporT alone.
    pub token: String,
    /// The claims signed.
    pub claims: Claims,
}

/// Read the PASSporT a call arrived with (an Identity value, or a bare
/// token) for diverting it: its claims (unverified: the retargeting carrier
/// SHOULD have verified it, RFC 8946 §4.1) and its type.
pub fn incoming_claims(
    value: &str,
    limits: &crate::Limits,
) -> Result<(Claims, Option<String>), DivSignError> {
    let identity = crate::verify::parse_identity_or_token(value, limits)
        .map_err(|e| DivSignError::Incoming(e.to_string()))?;
    let passport = match crate::passport::Token::parse(&identity.token, limits) {
        Ok(crate::passport::Token::Full(p)) => p,
        Ok(crate::passport::Token::Compact { .. }) => {
            return Err(DivSignError::Incoming(
                "it is in compact form; a div needs the full PASSporT".into(),
            ))
        }
        Err(e) => return Err(DivSignError::Incoming(e.to_string())),
    };
    let header = passport
        .header()
        .map_err(|e| DivSignError::Incoming(e.to_string()))?;
    let ppt = header.ppt.clone().or(identity.ppt);
    match ppt.as_deref() {
        Some(crate::passport::PPT_SHAKEN | PPT_DIV | PPT_DIV_O) => {}
        other => {
            return Err(DivSignError::IncomingPpt {
                ppt: other.unwrap_or("(none)").to_owned(),
            })
        }
    }
    let claims = crate::passport::dangerous::claims(
        &passport,
        limits,
        &crate::passport::ClaimsPolicy::default(),
    )
    .map_err(|e| DivSignError::Incoming(e.to_string()))?;
    Ok((claims, ppt))
}

/// Sign a `div` PASSporT for a call that arrived with `previous` (its
/// claims) and is retargeted to `new_dest` (RFC 8946 §3, §4.1): `div` is the
/// first telephone-number `dest` of `previous` (the destination the
/// retargeting changed).
pub fn sign_div(
    previous: &Claims,
    new_dest: &str,
    hi: Option<&str>,
    signer: &dyn crate::crypto::Signer,
    x5u: &str,
    policy: &TnPolicy,
) -> Result<SignedDiv, DivSignError> {
    let target =
        TelephoneNumber::parse(new_dest, policy).map_err(|source| DivSignError::DestInvalid {
            value: new_dest.to_owned(),
            source,
        })?;
    let from = previous
        .dest
        .tn
        .first()
        .ok_or(DivSignError::NoDest)?
        .clone();
    let claims = div_claims(previous, &from, &target, hi, policy)?;
    let token = crate::passport::sign(&div_header(x5u), &claims, signer)?;
    let identity = crate::identity::IdentityHeader {
        token: token.clone(),
        info: Some(x5u.to_owned()),
        alg: Some(crate::passport::ALG_ES256.into()),
        ppt: Some(PPT_DIV.into()),
        params: vec![],
    }
    .to_string();
    Ok(SignedDiv {
        identity,
        token,
        claims,
    })
}

/// Retarget a signed SIP request (RFC 8946 §4.1): its Request-URI is the new
/// target. Every Identity header is kept; one `div` PASSporT is added per
/// PASSporT whose `dest` lacks the new target and that no `div` of the
/// request already diverts (so on a second retargeting only the last `div`
/// gets one). Returns the new message bytes.
pub fn divert_request(
    req: &crate::sip::SipRequest,
    signer: &dyn crate::crypto::Signer,
    x5u: &str,
    hi: Option<&str>,
    limits: &crate::Limits,
    policy: &TnPolicy,
) -> Result<Vec<u8>, DivSignError> {
    let uri = req.request_uri();
    let target = match PartyId::from_uri(uri, policy) {
        PartyId::Tn(t) => t,
        PartyId::Uri(u) => return Err(DivSignError::TargetNotTn { uri: u }),
    };
    let values = req.identity_headers();
    if values.is_empty() {
        return Err(DivSignError::Unsigned);
    }
    let mut incoming = Vec::with_capacity(values.len());
    for v in &values {
        incoming.push(incoming_claims(v, limits)?);
    }
    // The `div` values the request already carries: a PASSporT whose dest
    // holds one of them was diverted already.
    let diverted: Vec<Orig> = incoming
        .iter()
        .filter(|(_, ppt)| is_div_ppt(ppt.as_deref()))
        .filter_map(|(c, _)| c.extra.get("div"))
        .filter_map(|v| DivClaim::from_json(v).ok().map(|(d, _)| d.id))
        .collect();
    let mut lines = Vec::new();
    for (claims, _) in &incoming {
        if dest_holds_party(&claims.dest, &PartyId::Tn(target.clone()), policy) {
            continue;
        }
        if diverted.iter().any(|d| dest_holds(&claims.dest, d, policy)) {
            continue;
        }
        let signed = sign_div(claims, target.as_str(), hi, signer, x5u, policy)?;
        lines.push(format!("Identity: {}", signed.identity));
    }
    if lines.is_empty() {
        return Err(DivSignError::NothingToDivert {
            dest: target.to_string(),
        });
    }
    Ok(req.with_headers_added(&lines))
}

// ---------------------------------------------------------------------------
// Request extensions (`--batch` lines and the REST service)

/// A signing request for a `div` PASSporT: the extension of the
/// ATIS-1000082 signing request (`{"div":{"identity":..,"hi":..},
/// "dest":{"tn":[..]}}`, bare or inside `signingRequest`). `div.identity` is
/// the Identity value (or PASSporT) the call arrived with, `dest` the new
/// target (one number), `div.hi` the History-Info index (optional); `orig`,
/// `iat` come from the incoming PASSporT, and `attest`/`origid` are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DivSignRequest {
    /// The incoming Identity value.
    pub incoming: String,
    /// The new target.
    pub dest: String,
    /// The History-Info index.
    pub hi: Option<String>,
}

/// Why a request extension for diverted calls is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DivRequestError {
    /// A member is missing, of the wrong type, or not allowed.
    #[error("request member {member:?}: {detail}")]
    Member {
        /// The member (`div.identity`, `dest.tn`, `identities`...).
        member: &'static str,
        /// What is wrong.
        detail: String,
    },
}

impl crate::diagnostic::Diagnostic for DivRequestError {
    fn id(&self) -> &'static str {
        match self {
            DivRequestError::Member { .. } => "div-request-invalid",
        }
    }
    fn sip_code(&self) -> Option<u16> {
        None
    }
    fn verstat(&self) -> Option<crate::report::Verstat> {
        None
    }
}

fn member(member: &'static str, detail: impl Into<String>) -> DivRequestError {
    DivRequestError::Member {
        member,
        detail: detail.into(),
    }
}

/// The request object, unwrapped from `wrapper` when it is there.
fn request_object<'v>(v: &'v Value, wrapper: &str) -> Option<&'v serde_json::Map<String, Value>> {
    let o = v.as_object()?;
    match o.get(wrapper) {
        Some(Value::Object(inner)) => Some(inner),
        _ => Some(o),
    }
}

/// Whether the bytes may hold `"name"` (a cheap test before parsing).
/// Every request line of `verify --batch` and every REST request asks, so
/// it is a SIMD substring search (memchr) for the quoted name, with the
/// searcher for each name built once per process, not once per call (the
/// build was ~0.3 % of a signing pipeline).
fn mentions(json: &[u8], name: &str) -> bool {
    use memchr::memmem::Finder;
    use std::sync::LazyLock;
    static DIV: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"div\""));
    static IDENTITIES: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"identities\""));
    static REQUEST_URI: LazyLock<Finder<'static>> =
        LazyLock::new(|| Finder::new(b"\"requestUri\""));
    let finder = match name {
        "div" => &*DIV,
        "identities" => &*IDENTITIES,
        "requestUri" => &*REQUEST_URI,
        other => {
            let quoted = format!("\"{other}\"");
            return memchr::memmem::find(json, quoted.as_bytes()).is_some();
        }
    };
    finder.find(json).is_some()
}

impl DivSignRequest {
    /// The `div` signing request in `json`, `Ok(None)` when the request has
    /// no `div` member (an ordinary signing request).
    pub fn parse(json: &[u8], limits: &crate::Limits) -> Result<Option<Self>, DivRequestError> {
        if !mentions(json, "div") {
            return Ok(None);
        }
        let v = crate::json::parse_strict(json, limits.max_json_depth)
            .map_err(|e| member("div", format!("the request is not JSON: {e}")))?;
        let Some(o) = request_object(&v, "signingRequest") else {
            return Ok(None);
        };
        let Some(div) = o.get("div") else {
            return Ok(None);
        };
        for forbidden in ["attest", "origid", "orig", "iat"] {
            if o.contains_key(forbidden) {
                return Err(member(
                    "div",
                    format!("a div signing request takes orig and iat from div.identity and has no attest or origid (found {forbidden:?}; RFC 8946 §3)"),
                ));
            }
        }
        let Value::Object(div) = div else {
            return Err(member(
                "div",
                "must be an object {\"identity\": ..., \"hi\": ...}",
            ));
        };
        let incoming = match div.get("identity") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
            _ => {
                return Err(member(
                    "div.identity",
                    "must be the Identity value the call arrived with (a non-empty string)",
                ))
            }
        };
        if incoming.len() > limits.max_identity_header_len {
            return Err(member(
                "div.identity",
                format!(
                    "is {} bytes; at most {} are accepted",
                    incoming.len(),
                    limits.max_identity_header_len
                ),
            ));
        }
        let hi = match div.get("hi") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(member("div.hi", "must be a string such as \"1.2\"")),
        };
        let dest = match o.get("dest").and_then(|d| d.get("tn")) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(a)) if a.len() == 1 => match a.first() {
                Some(Value::String(s)) => s.clone(),
                _ => return Err(member("dest.tn", "must hold one number (a string)")),
            },
            _ => {
                return Err(member(
                    "dest.tn",
                    "must hold exactly one number: the new target of the retargeted call",
                ))
            }
        };
        Ok(Some(DivSignRequest { incoming, dest, hi }))
    }
}

/// The extension of a verification request for diverted calls (`--batch`
/// lines and the REST service): `identities`, the call's other Identity
/// values (`div` PASSporTs, in any order; `identity` stays the shaken one),
/// and `requestUri`, the target the chain must end at (a number or a
/// `sip:`/`tel:` URI; default the first `to.tn`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct VerifyExtension {
    /// The other Identity values.
    pub identities: Vec<String>,
    /// The Request-URI (the chain's target).
    pub request_uri: Option<String>,
}

impl VerifyExtension {
    /// The chain's target: `requestUri` as a number (or, when it is not one,
    /// as a URI); `None` when the request gives none.
    pub fn target(&self, tn: &TnPolicy) -> Option<PartyId> {
        let uri = self.request_uri.as_deref()?;
        Some(match TelephoneNumber::parse(uri, tn) {
            Ok(t) => PartyId::Tn(t),
            Err(_) => PartyId::from_uri(uri, tn),
        })
    }

    /// The extension in `json`, `Ok(None)` when it has neither member.
    pub fn parse(json: &[u8], limits: &crate::Limits) -> Result<Option<Self>, DivRequestError> {
        if !mentions(json, "identities") && !mentions(json, "requestUri") {
            return Ok(None);
        }
        let v = crate::json::parse_strict(json, limits.max_json_depth)
            .map_err(|e| member("identities", format!("the request is not JSON: {e}")))?;
        let Some(o) = request_object(&v, "verificationRequest") else {
            return Ok(None);
        };
        let mut ext = VerifyExtension::default();
        match o.get("identities") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                // The shaken `identity` plus these fit in one call's bound.
                let max = limits.max_identity_headers.saturating_sub(1);
                if items.len() > max {
                    return Err(member(
                        "identities",
                        format!("holds {} values; at most {max} are accepted", items.len()),
                    ));
                }
                for item in items {
                    match item {
                        Value::String(s)
                            if !s.trim().is_empty()
                                && s.len() <= limits.max_identity_header_len =>
                        {
                            ext.identities
                                .push(crate::identity::unpaste(s.trim()).into_owned());
                        }
                        _ => {
                            return Err(member(
                                "identities",
                                "every entry must be an Identity value (a non-empty string within the header bound)",
                            ))
                        }
                    }
                }
            }
            Some(_) => return Err(member("identities", "must be an array of Identity values")),
        }
        match o.get("requestUri") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if !s.trim().is_empty() => {
                ext.request_uri = Some(s.trim().to_owned());
            }
            Some(_) => {
                return Err(member(
                    "requestUri",
                    "must be the Request-URI (a number or a sip:/tel: URI)",
                ))
            }
        }
        Ok(Some(ext))
    }
}

// ---------------------------------------------------------------------------
// The chain (RFC 8946 §4.2)

/// The chain's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum DivVerdict {
    /// Every link holds and the chain ends at the call's target.
    Valid,
    /// A link is broken (named in the reason).
    Invalid,
    /// No chain can be built: there is no shaken PASSporT to start from.
    Incomplete,
}

impl DivVerdict {
    /// `valid`, `invalid` or `incomplete`.
    pub fn as_str(self) -> &'static str {
        match self {
            DivVerdict::Valid => "valid",
            DivVerdict::Invalid => "invalid",
            DivVerdict::Incomplete => "incomplete",
        }
    }
}

/// One `div` PASSporT of the chain: the call was retargeted `from` -> `to`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hop {
    /// Where the PASSporT is: the Identity header position, or for a PASSporT
    /// nested in a `div-o`'s `opt`, the position of the outer one.
    pub index: usize,
    /// `div` or `div-o`.
    pub ppt: Option<String>,
    /// The `div` value: the destination the call was diverted from.
    pub from: Option<String>,
    /// The new destination (`dest`; the value the next hop or the target
    /// matched, else the first).
    pub to: Option<String>,
    /// The History-Info index, if given.
    pub hi: Option<String>,
    /// Who signed the diversion (certificate subject and SPC).
    pub signer: Option<SignerInfo>,
    /// Why this link is broken; null when it holds.
    pub reason: Option<Reason>,
}

/// The `div` chain of a call (RFC 8946 §4.2).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Diversion {
    /// `valid`, `invalid` or `incomplete`.
    pub verdict: DivVerdict,
    /// The `div` PASSporTs, from the shaken one outwards; `div`s that link to
    /// nothing follow, in header order.
    pub hops: Vec<Hop>,
    /// The first broken link (or why no chain could be built); null when valid.
    pub reason: Option<Reason>,
    /// The call's target the chain must end at (the Request-URI), if known.
    pub target: Option<String>,
}

impl Diversion {
    /// Whether the chain is valid.
    pub fn is_valid(&self) -> bool {
        self.verdict == DivVerdict::Valid
    }
}

/// Why a chain is broken or incomplete: the stable ids of [`Diversion::reason`]
/// and [`Hop::reason`]. All map to 438 (the Identity headers do not form a
/// valid chain).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// No shaken PASSporT to start the chain from.
    #[error("no shaken PASSporT to start the div chain from{detail}")]
    NoOrigin {
        /// What was found instead.
        detail: String,
    },
    /// The shaken PASSporT the chain starts from did not pass.
    #[error("the shaken PASSporT (Identity header {index}) the div chain starts from did not pass: {id}")]
    OriginInvalid {
        /// Its position.
        index: usize,
        /// Its reason id.
        id: String,
    },
    /// More div PASSporTs than allowed.
    #[error("the call carries {count} div PASSporTs; at most {max} are accepted")]
    TooMany {
        /// How many.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A div PASSporT did not pass on its own.
    #[error("hop {hop} (Identity header {index}, {from} -> {to}) did not pass: {id} ({detail})")]
    HopInvalid {
        /// 1-based hop.
        hop: usize,
        /// Identity header position.
        index: usize,
        /// div value.
        from: String,
        /// dest.
        to: String,
        /// The hop's reason id.
        id: String,
        /// Its detail.
        detail: String,
    },
    /// A div PASSporT's `orig` differs from the shaken one's.
    #[error("hop {hop} (Identity header {index}) has orig {found}, but the shaken PASSporT has {expected}: RFC 8946 §4.2 requires the same orig throughout")]
    OrigMismatch {
        /// 1-based hop.
        hop: usize,
        /// Identity header position.
        index: usize,
        /// The hop's orig.
        found: String,
        /// The shaken orig.
        expected: String,
    },
    /// A div PASSporT whose `div` no earlier `dest` holds.
    #[error("the div PASSporT of Identity header {index} diverts from {from}, which no earlier PASSporT's dest holds (dests: {dests})")]
    Unlinked {
        /// Identity header position.
        index: usize,
        /// Its div value.
        from: String,
        /// The destinations the chain offers.
        dests: String,
    },
    /// The outermost `dest` is not the call's target.
    #[error("the div chain ends at {end}, but the call goes to {target} (the Request-URI)")]
    TargetMismatch {
        /// The outermost dest.
        end: String,
        /// The target.
        target: String,
    },
}

impl crate::diagnostic::Diagnostic for LinkError {
    fn id(&self) -> &'static str {
        match self {
            LinkError::NoOrigin { .. } => "div-no-origin",
            LinkError::OriginInvalid { .. } => "div-origin-invalid",
            LinkError::TooMany { .. } => "div-too-many",
            LinkError::HopInvalid { .. } => "div-hop-invalid",
            LinkError::OrigMismatch { .. } => "div-orig-mismatch",
            LinkError::Unlinked { .. } => "div-unlinked",
            LinkError::TargetMismatch { .. } => "div-target-mismatch",
        }
    }
    fn sip_code(&self) -> Option<u16> {
        Some(438)
    }
    fn verstat(&self) -> Option<crate::report::Verstat> {
        Some(crate::report::Verstat::NoValidation)
    }
}

impl LinkError {
    /// The [`Reason`] of a diversion or a hop.
    pub fn reason(&self) -> Reason {
        use crate::diagnostic::Diagnostic;
        Reason {
            code: 438,
            text: reason_phrase(438).to_owned(),
            detail: self.to_string(),
            id: self.id().to_owned(),
        }
    }
}

/// One verified (or failed) PASSporT, as the chain check sees it.
#[derive(Debug, Clone, Copy)]
pub struct ChainEntry<'a> {
    /// Identity header position (for a nested `opt`, the outer one's).
    pub index: usize,
    /// The claims as decoded (verified when `report` passed).
    pub claims: Option<&'a Claims>,
    /// The PASSporT's own report.
    pub report: &'a Report,
}

impl ChainEntry<'_> {
    fn is_div(&self) -> bool {
        is_div_ppt(self.report.ppt.as_deref())
    }
}

/// What the chain check needs to know of the verifier.
#[derive(Debug, Clone)]
pub struct ChainPolicy<'a> {
    /// How numbers are read.
    pub tn: &'a TnPolicy,
    /// Most `div` PASSporTs accepted.
    pub max_div: usize,
}

fn claim_tn(t: &str, policy: &TnPolicy) -> Option<ClaimTn> {
    TelephoneNumber::parse_claim(t, policy).ok()
}

fn same_tn(a: &ClaimTn, b: &ClaimTn) -> bool {
    a.matches(&b.global) || b.national.as_ref().is_some_and(|n| a.matches(n))
}

fn div_id(entry: &ChainEntry<'_>) -> Option<Orig> {
    let claims = entry.claims?;
    let v = claims.extra.get("div")?;
    DivClaim::from_json(v).ok().map(|(d, _)| d.id)
}

fn div_hi(entry: &ChainEntry<'_>) -> Option<String> {
    let claims = entry.claims?;
    DivClaim::from_json(claims.extra.get("div")?)
        .ok()
        .and_then(|(d, _)| d.hi)
}

/// Whether `dest` holds the identity `id` (numbers compared canonically,
/// URIs exactly).
fn dest_holds(dest: &Dest, id: &Orig, policy: &TnPolicy) -> bool {
    match id {
        Orig::Tn(t) => {
            let Some(want) = claim_tn(t, policy) else {
                return false;
            };
            dest.tn
                .iter()
                .filter_map(|d| claim_tn(d, policy))
                .any(|d| same_tn(&d, &want))
        }
        Orig::Uri(u) => dest.uri.iter().any(|d| d == u),
    }
}

/// Whether `dest` holds the call's party.
pub(crate) fn dest_holds_party(dest: &Dest, party: &PartyId, policy: &TnPolicy) -> bool {
    match party {
        PartyId::Tn(t) => dest
            .tn
            .iter()
            .filter_map(|d| claim_tn(d, policy))
            .any(|d| d.matches(t)),
        PartyId::Uri(u) => dest.uri.iter().any(|d| d == u),
    }
}

fn same_orig(a: &Orig, b: &Orig, policy: &TnPolicy) -> bool {
    match (a, b) {
        (Orig::Tn(x), Orig::Tn(y)) => match (claim_tn(x, policy), claim_tn(y, policy)) {
            (Some(x), Some(y)) => same_tn(&x, &y),
            _ => x == y,
        },
        (Orig::Uri(x), Orig::Uri(y)) => x == y,
        _ => false,
    }
}

fn dest_text(dest: &Dest) -> String {
    let all: Vec<&str> = dest
        .tn
        .iter()
        .chain(&dest.uri)
        .map(String::as_str)
        .collect();
    if all.is_empty() {
        "none".into()
    } else {
        all.join(", ")
    }
}

/// Build and check the chain (RFC 8946 §4.2) over the PASSporTs of one call,
/// each already verified on its own. `target` is the call's target (the
/// Request-URI), `None` when the caller has none to compare with. Returns
/// `None` when there is no `div`/`div-o` PASSporT.
///
/// The checks, in order, the first broken one named: at most
/// `policy.max_div` div PASSporTs; a shaken PASSporT to start from (else
/// `incomplete`) that passed; each div linked to the previous `dest` (its
/// `div` value in that `dest`), passed on its own (signature, certificate
/// covering its `div` identity, freshness) and with the shaken `orig`; no
/// div left unlinked; the outermost `dest` holds the target.
pub fn check_chain(
    entries: &[ChainEntry<'_>],
    target: Option<&PartyId>,
    policy: &ChainPolicy<'_>,
) -> Option<Diversion> {
    let divs: Vec<usize> = (0..entries.len())
        .filter(|&i| entries.get(i).is_some_and(ChainEntry::is_div))
        .collect();
    if divs.is_empty() {
        return None;
    }
    let target_text = target.map(|t| match t {
        PartyId::Tn(t) => t.to_string(),
        PartyId::Uri(u) => u.clone(),
    });
    let done = |verdict, hops, err: LinkError| {
        Some(Diversion {
            verdict,
            hops,
            reason: Some(err.reason()),
            target: target_text.clone(),
        })
    };
    if divs.len() > policy.max_div {
        return done(
            DivVerdict::Invalid,
            vec![],
            LinkError::TooMany {
                count: divs.len(),
                max: policy.max_div,
            },
        );
    }
    // The innermost PASSporT: a shaken one with readable claims, the first
    // that passed if any (RFC 8946 §4.2: an unsupported innermost ppt means
    // the chain is ignored).
    let origins: Vec<&ChainEntry<'_>> = entries
        .iter()
        .filter(|e| e.report.ppt.as_deref() == Some(crate::passport::PPT_SHAKEN))
        .filter(|e| e.claims.is_some())
        .collect();
    let Some(origin) = origins
        .iter()
        .find(|e| e.report.passed())
        .or_else(|| origins.first())
        .copied()
    else {
        let others: Vec<String> = entries
            .iter()
            .filter(|e| !e.is_div())
            .map(|e| format!("{:?}", e.report.ppt.as_deref().unwrap_or("(none)")))
            .collect();
        let detail = if others.is_empty() {
            String::new()
        } else {
            format!(" (the other PASSporTs have ppt {})", others.join(", "))
        };
        return done(
            DivVerdict::Incomplete,
            unlinked_hops(entries, &divs),
            LinkError::NoOrigin { detail },
        );
    };
    let Some(origin_claims) = origin.claims else {
        return done(
            DivVerdict::Incomplete,
            vec![],
            LinkError::NoOrigin {
                detail: String::new(),
            },
        );
    };
    // Link forward from the shaken PASSporT. Every number is read once.
    let div_ids: Vec<Option<Orig>> = entries.iter().map(div_id).collect();
    let div_tns: Vec<Option<ClaimTn>> = div_ids
        .iter()
        .map(|d| match d {
            Some(Orig::Tn(t)) => claim_tn(t, policy.tn),
            _ => None,
        })
        .collect();
    let dest_tns: Vec<Vec<ClaimTn>> = entries
        .iter()
        .map(|e| {
            e.claims.map_or_else(Vec::new, |c| {
                c.dest
                    .tn
                    .iter()
                    .filter_map(|t| claim_tn(t, policy.tn))
                    .collect()
            })
        })
        .collect();
    // Whether entry `cur`'s dest holds div `i`'s `div` value.
    let holds = |cur: usize, i: usize| -> bool {
        match div_ids.get(i) {
            Some(Some(Orig::Tn(_))) => match (div_tns.get(i), dest_tns.get(cur)) {
                (Some(Some(want)), Some(dests)) => dests.iter().any(|d| same_tn(d, want)),
                _ => false,
            },
            Some(Some(Orig::Uri(u))) => entries
                .get(cur)
                .and_then(|e| e.claims)
                .is_some_and(|c| c.dest.uri.iter().any(|d| d == u)),
            _ => false,
        }
    };
    let mut cur = entries
        .iter()
        .position(|e| std::ptr::eq(e, origin))
        .unwrap_or_default();
    let mut used = vec![false; entries.len()];
    let mut chain: Vec<usize> = Vec::new();
    let mut dest = &origin_claims.dest;
    loop {
        let mut pick = None;
        for &i in &divs {
            if used.get(i).copied().unwrap_or(true) || !holds(cur, i) {
                continue;
            }
            let passed = entries.get(i).is_some_and(|e| e.report.passed());
            if passed {
                pick = Some(i);
                break;
            }
            if pick.is_none() {
                pick = Some(i);
            }
        }
        let Some(i) = pick else { break };
        let Some(next) = entries.get(i).and_then(|e| e.claims) else {
            break;
        };
        if let Some(u) = used.get_mut(i) {
            *u = true;
        }
        chain.push(i);
        cur = i;
        dest = &next.dest;
    }
    let mut hops: Vec<Hop> = Vec::with_capacity(divs.len());
    let mut first: Option<LinkError> = None;
    if !origin.report.passed() {
        first = Some(LinkError::OriginInvalid {
            index: origin.index,
            id: origin
                .report
                .reason
                .as_ref()
                .map(|r| r.id.clone())
                .unwrap_or_default(),
        });
    }
    for (n, &i) in chain.iter().enumerate() {
        let Some(e) = entries.get(i) else { continue };
        let next_from = chain
            .get(n + 1)
            .and_then(|&j| entries.get(j))
            .and_then(div_id)
            .map(|id| id.as_str().to_owned());
        let mut hop = hop_of(e, next_from.as_deref(), target, policy.tn);
        let hop_no = n + 1;
        let broken = if let Some(r) = &e.report.reason {
            Some(LinkError::HopInvalid {
                hop: hop_no,
                index: e.index,
                from: hop.from.clone().unwrap_or_default(),
                to: hop.to.clone().unwrap_or_default(),
                id: r.id.clone(),
                detail: r.detail.clone(),
            })
        } else {
            match e.claims {
                Some(c) if !same_orig(&c.orig, &origin_claims.orig, policy.tn) => {
                    Some(LinkError::OrigMismatch {
                        hop: hop_no,
                        index: e.index,
                        found: c.orig.as_str().to_owned(),
                        expected: origin_claims.orig.as_str().to_owned(),
                    })
                }
                _ => None,
            }
        };
        if let Some(b) = broken {
            // The hop's own failure stays its reason; an orig mismatch is
            // the chain's.
            if hop.reason.is_none() {
                hop.reason = Some(b.reason());
            }
            if first.is_none() {
                first = Some(b);
            }
        }
        hops.push(hop);
    }
    // Divs that link to nothing.
    let linked_dests = || {
        std::iter::once(&origin_claims.dest)
            .chain(
                chain
                    .iter()
                    .filter_map(|&i| entries.get(i).and_then(|e| e.claims))
                    .map(|c| &c.dest),
            )
            .map(dest_text)
            .collect::<Vec<_>>()
            .join("; ")
    };
    for &i in &divs {
        if used.get(i).copied().unwrap_or(true) {
            continue;
        }
        let Some(e) = entries.get(i) else { continue };
        let mut hop = hop_of(e, None, target, policy.tn);
        // A div that failed on its own is named for its failure (its `div`
        // may not even be readable); one that passed but links to nothing
        // is unlinked.
        let err = match &e.report.reason {
            Some(r) => LinkError::HopInvalid {
                hop: hops.len() + 1,
                index: e.index,
                from: hop.from.clone().unwrap_or_else(|| "?".into()),
                to: hop.to.clone().unwrap_or_else(|| "?".into()),
                id: r.id.clone(),
                detail: r.detail.clone(),
            },
            None => LinkError::Unlinked {
                index: e.index,
                from: hop.from.clone().unwrap_or_else(|| "(unreadable)".into()),
                dests: linked_dests(),
            },
        };
        hop.reason = Some(match &e.report.reason {
            Some(r) => r.clone(),
            None => err.reason(),
        });
        if first.is_none() {
            first = Some(err);
        }
        hops.push(hop);
    }
    // The outermost dest holds the call's target.
    if first.is_none() {
        if let Some(t) = target {
            if !dest_holds_party(dest, t, policy.tn) {
                let err = LinkError::TargetMismatch {
                    end: dest_text(dest),
                    target: target_text.clone().unwrap_or_default(),
                };
                if let Some(last) = hops.last_mut() {
                    last.reason = Some(err.reason());
                }
                first = Some(err);
            }
        }
    }
    match first {
        Some(err) => done(DivVerdict::Invalid, hops, err),
        None => Some(Diversion {
            verdict: DivVerdict::Valid,
            hops,
            reason: None,
            target: target_text,
        }),
    }
}

fn unlinked_hops(entries: &[ChainEntry<'_>], divs: &[usize]) -> Vec<Hop> {
    divs.iter()
        .filter_map(|&i| entries.get(i))
        .map(|e| {
            let mut h = hop_of(e, None, None, &TnPolicy::default());
            if h.reason.is_none() {
                h.reason = e.report.reason.clone();
            }
            h
        })
        .collect()
}

fn hop_of(
    e: &ChainEntry<'_>,
    next_from: Option<&str>,
    target: Option<&PartyId>,
    policy: &TnPolicy,
) -> Hop {
    let from = div_id(e).map(|id| id.as_str().to_owned());
    let to = e.claims.and_then(|c| {
        let pick = |want: &dyn Fn(&str) -> bool| c.dest.tn.iter().find(|d| want(d)).cloned();
        let by_next = next_from.and_then(|n| {
            let n = claim_tn(n, policy)?;
            pick(&|d: &str| claim_tn(d, policy).is_some_and(|d| same_tn(&d, &n)))
        });
        let by_target = match target {
            Some(PartyId::Tn(t)) => {
                pick(&|d: &str| claim_tn(d, policy).is_some_and(|d| d.matches(t)))
            }
            _ => None,
        };
        by_next
            .or(by_target)
            .or_else(|| c.dest.tn.first().cloned())
            .or_else(|| c.dest.uri.first().cloned())
    });
    Hop {
        index: e.index,
        ppt: e.report.ppt.clone(),
        from,
        to,
        hi: div_hi(e),
        signer: e.report.signer.clone(),
        reason: e.report.reason.clone(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::cert::{parse_chain, Certificate, TnEntry, TrustAnchors};
    use crate::crypto::KeySigner;
    use crate::identity::IdentityHeader;
    use crate::passport::{Attestation, Header, Token};
    use crate::pki::{LabPki, LabPkiOptions, LeafOptions};
    use crate::report::Verstat;
    use crate::sip::{sign_request, verify_request, SipReport, SipRequest};
    use crate::verify::{Verifier, VerifyPolicy};
    use crate::Limits;
    use std::sync::Arc;

    #[test]
    fn mentions_finds_quoted_names_only() {
        assert!(mentions(
            br#"{"verificationRequest":{"identities":[]}}"#,
            "identities"
        ));
        assert!(mentions(br#"{"div":1}"#, "div"));
        assert!(mentions(br#""div""#, "div"));
        // Not quoted on both sides, or only a prefix or suffix of a name.
        assert!(!mentions(br#"{"divx":1,"xdiv":2}"#, "div"));
        assert!(!mentions(br#"{"a":"div"#, "div"));
        assert!(!mentions(br#"div"#, "div"));
        assert!(!mentions(b"", "div"));
        assert!(!mentions(br#"""#, "div"));
        // Not UTF-8: the same answers from the byte scan.
        assert!(mentions(b"\xff{\"div\":1}", "div"));
        assert!(!mentions(b"\xff{\"divx\":1}", "div"));
        // Each of the prebuilt searchers, and any other name.
        assert!(mentions(br#"{"requestUri":"sip:x"}"#, "requestUri"));
        assert!(!mentions(
            br#"{"requestUris":1,"identity":2}"#,
            "requestUri"
        ));
        assert!(!mentions(br#"{"identity":"a.b.c"}"#, "identities"));
        assert!(mentions(br#"{"other":1}"#, "other"));
        assert!(!mentions(br#"{"others":1}"#, "other"));
    }

    const NOW: i64 = 1_471_375_418;
    const X5U_A: &str = "https://cert.carrier-a.example/a.pem";
    const X5U_B: &str = "https://cert.carrier-b.example/b.pem";
    const ORIGID: &str = "123e4567-e89b-12d3-a456-426655440000";
    const TEL: &[u8] = include_bytes!("../../../tests/data/sip/invite-tel.txt");

    // RFC 8946 Appendix A and the §3/§5 examples (specs §9.2 B.4).
    const RFC_KEY: &str = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIFKCsFZ4Wsw3ZpBxgc4Z0sOjaXDdMk07Ny1fKg6OntAkoAoGCCqGSM49\nAwEHoUQDQgAEmzGM1VsO+3IqbMF54rQMaYKQftO4hUYm9wv5wutLgEd9FsiTy3+4\n+Wa2O7pffOXPC0QzO+yD8hGEXGP/2mZo6w==\n-----END EC PRIVATE KEY-----\n";
    const RFC_PUB: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEmzGM1VsO+3IqbMF54rQMaYKQftO4\nhUYm9wv5wutLgEd9FsiTy3+4+Wa2O7pffOXPC0QzO+yD8hGEXGP/2mZo6w==\n-----END PUBLIC KEY-----\n";
    const RFC_DIV: &str = "eyJhbGciOiJFUzI1NiIsInBwdCI6ImRpdiIsInR5cCI6InBhc3Nwb3J0IiwieDV1IjoiaHR0cHM6Ly93d3cuZXhhbXBsZS5jb20vY2VydC5jZXIifQ.eyJkZXN0Ijp7InRuIjpbIjEyMTU1NTUxMjE0Il19LCJkaXYiOnsidG4iOiIxMjE1NTU1NTEyMTMifSwiaWF0IjoxNDQzMjA4MzQ1LCJvcmlnIjp7InRuIjoiMTIxNTU1NTEyMTIifX0.xBHWipDEEJ8a6TsdX6xUXAnblsFiGUiAxwLiv0HLC9IICj6eG9jQd6WzeSSjHRBwxmChHhVIiMTSqIlk3yCNkg";
    const RFC_ORIG: &str = "eyJhbGciOiJFUzI1NiIsInR5cCI6InBhc3Nwb3J0IiwieDV1IjoiaHR0cHM6Ly93d3cuZXhhbXBsZS5jb20vY2VydC5jZXIifQ.eyJkZXN0Ijp7InRuIjpbIjEyMTU1NTUxMjEzIl19LCJpYXQiOjE0NDMyMDgzNDUsIm9yaWciOnsidG4iOiIxMjE1NTU1MTIxMiJ9fQ.1bEzkzcNbKvgz4QoMx0_DJ2T8qFMDC1sPqHPXl1WvbauzRJRvYlZqQ0qgGTlS8tJ_wXjVe07Z3wvDrdApHhhYw";
    const RFC_DIV_O: &str = "eyJhbGciOiJFUzI1NiIsInBwdCI6ImRpdi1vIiwidHlwIjoicGFzc3BvcnQiLCJ4NXUiOiJodHRwczovL3d3dy5leGFtcGxlLmNvbS9jZXJ0LmNlciJ9.eyJkZXN0Ijp7InRuIjoiMTIxNTU1NTEyMTQifSwiZGl2Ijp7InRuIjoiMTIxNTU1NTUxMjEzIn0sImlhdCI6MTQ0MzIwODM0NSwib3B0IjoiZXlKaGJHY2lPaUpGVXpJMU5pSXNJblI1Y0NJNkluQmhjM053YjNKMElpd2llRFYxSWpvaWFIUjBjSE02THk5M2QzY3VaWGhoYlhCc1pTNWpiMjB2WTJWeWRDNWpaWElpZlEuZXlKa1pYTjBJanA3SW5SdUlqcGJJakV5TVRVMU5UVXhNakV6SWwxOUxDSnBZWFFpT2pFME5ETXlNRGd6TkRVc0ltOXlhV2NpT25zaWRHNGlPaUl4TWpFMU5UVTFNVEl4TWlKOWZRLjFiRXpremNOYkt2Z3o0UW9NeDBfREoyVDhxRk1EQzFzUHFIUFhsMVd2YmF1elJKUnZZbFpxUTBxZ0dUbFM4dEpfd1hqVmUwN1ozd3ZEcmRBcEhoaFl3Iiwib3JpZyI6eyJ0biI6IjEyMTU1NTUxMjEyIn19.CHeA9wRnthl7paMe6rP0TARpmFCXjmi_vF_HRz2O_oulB_R-G9xZNiLVvmvHv4gk6LILaDV2y2VtHTLIEgmHig";

    fn full(token: &str) -> crate::passport::UnverifiedPassport {
        match Token::parse(token, &Limits::default()).unwrap() {
            Token::Full(p) => p,
            Token::Compact { .. } => panic!("compact"),
        }
    }

    fn claims_of(token: &str) -> Claims {
        crate::passport::dangerous::claims(
            &full(token),
            &Limits::default(),
            &crate::passport::ClaimsPolicy::default(),
        )
        .unwrap()
    }

    fn passed(ppt: &str) -> Report {
        let mut r = Report::unverified();
        r.verstat = Verstat::Passed;
        r.ppt = Some(ppt.into());
        r
    }

    fn policy() -> ChainPolicy<'static> {
        static TN: std::sync::OnceLock<TnPolicy> = std::sync::OnceLock::new();
        ChainPolicy {
            tn: TN.get_or_init(TnPolicy::default),
            max_div: DEFAULT_MAX_DIV,
        }
    }

    /// The RFC's own div example: its signature verifies with the Appendix A
    /// key, its claims read, and its `div.tn` (121555551213, one 5 too
    /// many) is not the original `dest` (12155551213): a strict chain check
    /// rejects the pair, naming the div as unlinked.
    #[test]
    fn rfc_vector_div_tn_has_a_digit_too_many() {
        let key = crate::crypto::public_point_from_pem(RFC_PUB).unwrap();
        full(RFC_DIV).verify_signature(&key).unwrap();
        full(RFC_ORIG).verify_signature(&key).unwrap();
        let div = claims_of(RFC_DIV);
        let (d, opt, warnings) = DivClaim::from_claims(&div, PPT_DIV).unwrap();
        assert_eq!(d.id, Orig::Tn("121555551213".into()));
        assert!(opt.is_none() && warnings.is_empty());
        let (orig, shaken_report, div_report) =
            (claims_of(RFC_ORIG), passed("shaken"), passed("div"));
        let entries = [
            ChainEntry {
                index: 0,
                claims: Some(&orig),
                report: &shaken_report,
            },
            ChainEntry {
                index: 1,
                claims: Some(&div),
                report: &div_report,
            },
        ];
        let target = PartyId::from_uri("tel:+12155551214", &TnPolicy::default());
        let d = check_chain(&entries, Some(&target), &policy()).unwrap();
        assert_eq!(d.verdict, DivVerdict::Invalid);
        let reason = d.reason.unwrap();
        assert_eq!(reason.id, "div-unlinked");
        assert!(reason.detail.contains("121555551213"), "{}", reason.detail);
        assert_eq!(d.hops.len(), 1);
        assert_eq!(d.hops[0].from.as_deref(), Some("121555551213"));
        assert_eq!(d.hops[0].reason.as_ref().unwrap().id, "div-unlinked");

        // The same div re-signed with the Appendix A key and the digit
        // removed links, and the chain is valid.
        let signer = KeySigner::from_pem(RFC_KEY).unwrap();
        let fixed = sign_div(
            &claims_of(RFC_ORIG),
            "+12155551214",
            None,
            &signer,
            "https://www.example.com/cert.cer",
            &TnPolicy::default(),
        )
        .unwrap();
        full(&fixed.token).verify_signature(&key).unwrap();
        let mut entries = entries;
        entries[1].claims = Some(&fixed.claims);
        let d = check_chain(&entries, Some(&target), &policy()).unwrap();
        assert_eq!(d.verdict, DivVerdict::Valid, "{:?}", d.reason);
        assert_eq!(d.hops[0].from.as_deref(), Some("12155551213"));
        assert_eq!(d.hops[0].to.as_deref(), Some("12155551214"));
    }

    /// The RFC's div-o: its signature verifies, `opt` holds the original,
    /// and its `dest.tn` is a string, which strict claims refuse.
    #[test]
    fn rfc_vector_div_o() {
        let key = crate::crypto::public_point_from_pem(RFC_PUB).unwrap();
        let p = full(RFC_DIV_O);
        p.verify_signature(&key).unwrap();
        let e = crate::passport::dangerous::claims(
            &p,
            &Limits::default(),
            &crate::passport::ClaimsPolicy::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("dest.tn"), "{e}");
        let id = IdentityHeader {
            token: RFC_DIV_O.into(),
            info: Some("https://www.example.com/cert.cer".into()),
            alg: None,
            ppt: Some(PPT_DIV_O.into()),
            params: vec![],
        };
        let nested = crate::verify::nested_opt(&id, &Limits::default(), 5).unwrap();
        assert_eq!(nested.len(), 1);
        assert_eq!(nested[0].token, RFC_ORIG);
        assert_eq!(nested[0].ppt, None);
        assert_eq!(
            nested[0].info.as_deref(),
            Some("https://www.example.com/cert.cer")
        );
        assert!(matches!(
            crate::verify::nested_opt(&id, &Limits::default(), 0),
            Err(DivError::TooDeep { .. })
        ));
    }

    #[test]
    fn div_claim_is_read_strictly() {
        let read = |v: &str| DivClaim::from_json(&serde_json::from_str(v).unwrap());
        assert!(read(r#"{"tn":"12125550143","hi":"1.2.1"}"#).is_ok());
        let (d, w) = read(r#"{"tn":"12125550143","reason":"unconditional"}"#).unwrap();
        assert!(d.extra.contains_key("reason"));
        assert!(w[0].starts_with("div-member-unknown"), "{w:?}");
        for bad in [
            r#""12125550143""#,
            r#"{}"#,
            r#"{"tn":["12125550143"]}"#,
            r#"{"tn":"1","uri":"sip:a@b"}"#,
            r#"{"tn":""}"#,
            r#"{"tn":"1","hi":1}"#,
        ] {
            assert!(
                matches!(read(bad), Err(DivError::Invalid { .. })),
                "{bad} was accepted"
            );
        }
        let mut c = Claims::shaken(Attestation::A, "1", vec!["2".into()], 1, ORIGID);
        c.extra.insert("div".into(), serde_json::json!({"tn": "2"}));
        assert!(matches!(
            DivClaim::from_claims(&c, PPT_DIV),
            Err(DivError::ForbiddenClaim { .. })
        ));
        c.attest = None;
        c.origid = None;
        assert!(DivClaim::from_claims(&c, PPT_DIV).is_ok());
        assert!(matches!(
            DivClaim::from_claims(&c, PPT_DIV_O),
            Err(DivError::OptInvalid { .. })
        ));
        c.extra.insert("rcd".into(), serde_json::json!({}));
        assert!(matches!(
            DivClaim::from_claims(&c, PPT_DIV),
            Err(DivError::ForbiddenClaim { claim }) if claim == "rcd"
        ));
        c.extra.remove("rcd");
        c.extra.remove("div");
        assert!(matches!(
            DivClaim::from_claims(&c, PPT_DIV),
            Err(DivError::Missing)
        ));
    }

    #[test]
    fn signing_refuses_what_rfc_8946_forbids() {
        let p = TnPolicy::default();
        let c = Claims::shaken(
            Attestation::A,
            "12155550121",
            vec!["12125550143".into()],
            NOW,
            ORIGID,
        );
        let t = |s: &str| TelephoneNumber::parse(s, &p).unwrap();
        assert!(matches!(
            div_claims(&c, "12125550143", &t("+12125550143"), None, &p),
            Err(DivSignError::DestUnchanged { .. })
        ));
        assert!(matches!(
            div_claims(&c, "12125550143", &t("+12125550199"), Some("1;2"), &p),
            Err(DivSignError::HiInvalid { .. })
        ));
        let d = div_claims(&c, "12125550143", &t("+12125550199"), Some("1.2"), &p).unwrap();
        assert_eq!(
            crate::json::canonical(&d.to_json()),
            r#"{"dest":{"tn":["12125550199"]},"div":{"hi":"1.2","tn":"12125550143"},"iat":1471375418,"orig":{"tn":"12155550121"}}"#
        );
    }

    // ---- two carriers, whole SIP requests ----

    struct Carriers {
        verifier: Verifier,
        a: KeySigner,
        b: KeySigner,
        chain_a: Arc<Vec<Certificate>>,
        chain_b: Arc<Vec<Certificate>>,
        /// Carrier C: its certificate covers one number only (12125550100).
        c: KeySigner,
        chain_c: Arc<Vec<Certificate>>,
    }

    const X5U_C: &str = "https://cert.carrier-c.example/c.pem";

    fn carriers() -> Carriers {
        let pki = LabPki::generate(&LabPkiOptions::new(NOW - 86_400, NOW + 86_400)).unwrap();
        let mut anchors = TrustAnchors::new();
        anchors.add_pem(pki.root.cert_pem.as_bytes()).unwrap();
        let l = Limits::default();
        let chain = |leaf: &str| {
            Arc::new(parse_chain(format!("{leaf}{}", pki.ca.cert_pem).as_bytes(), &l).unwrap())
        };
        let mut ob = LeafOptions::new(NOW - 3600, NOW + 3600);
        ob.spc = Some("5678".into());
        let b = pki.issue_leaf(&ob).unwrap();
        let mut oc = LeafOptions::new(NOW - 3600, NOW + 3600);
        oc.spc = Some("9012".into());
        oc.tns = vec![TnEntry::One("12125550100".into())];
        let c = pki.issue_leaf(&oc).unwrap();
        Carriers {
            verifier: Verifier::new(anchors),
            a: KeySigner::from_pem(&pki.leaf.key_pem).unwrap(),
            chain_a: chain(&pki.leaf.cert_pem),
            b: KeySigner::from_pem(&b.key_pem).unwrap(),
            chain_b: chain(&b.cert_pem),
            c: KeySigner::from_pem(&c.key_pem).unwrap(),
            chain_c: chain(&c.cert_pem),
        }
    }

    fn parse(b: &[u8]) -> SipRequest {
        SipRequest::parse(b, &Limits::default()).unwrap()
    }

    /// The message with its Request-URI user part set to `tn`.
    fn retarget(req: &SipRequest, tn: &str) -> SipRequest {
        let text = String::from_utf8(req.as_bytes().to_vec()).unwrap();
        let (line, rest) = text.split_once("\r\n").unwrap();
        let host = line.split_once('@').unwrap().1;
        parse(format!("INVITE sip:{tn}@{host}\r\n{rest}").as_bytes())
    }

    impl Carriers {
        fn signed(&self) -> SipRequest {
            let out = sign_request(
                &parse(TEL),
                &self.a,
                X5U_A,
                Attestation::A,
                NOW,
                ORIGID,
                &TnPolicy::default(),
            )
            .unwrap();
            parse(&out)
        }
        fn divert(&self, req: &SipRequest, to: &str, by: &KeySigner, x5u: &str) -> SipRequest {
            let req = retarget(req, to);
            parse(
                &divert_request(
                    &req,
                    by,
                    x5u,
                    None,
                    &Limits::default(),
                    &TnPolicy::default(),
                )
                .unwrap(),
            )
        }
        fn verify(&self, req: &SipRequest) -> SipReport {
            self.verify_with(&self.verifier, req)
        }
        fn verify_with(&self, v: &Verifier, req: &SipRequest) -> SipReport {
            verify_request(v, req, NOW, |url| match url {
                X5U_A => Ok(self.chain_a.clone()),
                X5U_B => Ok(self.chain_b.clone()),
                X5U_C => Ok(self.chain_c.clone()),
                other => panic!("unexpected x5u {other}"),
            })
        }
    }

    fn with_identities(req: &SipRequest, values: &[String]) -> SipRequest {
        let bare = parse(&req.without_header("identity"));
        let lines: Vec<String> = values.iter().map(|v| format!("Identity: {v}")).collect();
        parse(&bare.with_headers_added(&lines))
    }

    fn div_reason(r: &SipReport) -> String {
        r.diversion
            .as_ref()
            .and_then(|d| d.reason.as_ref())
            .map(|r| r.id.clone())
            .unwrap_or_default()
    }

    #[test]
    fn one_hop_by_another_carrier_is_valid() {
        let c = carriers();
        let signed = c.signed();
        let plain = c.verify(&signed);
        assert!(plain.passed());
        assert!(plain.diversion.is_none());
        let diverted = c.divert(&signed, "+12125550199", &c.b, X5U_B);
        assert_eq!(diverted.identity_headers().len(), 2);
        let r = c.verify(&diverted);
        assert!(r.passed(), "{:?}", r.overall.reason);
        let d = r.diversion.clone().unwrap();
        assert_eq!(d.verdict, DivVerdict::Valid, "{:?}", d.reason);
        assert_eq!(d.hops.len(), 1);
        assert_eq!(d.hops[0].from.as_deref(), Some("12125550143"));
        assert_eq!(d.hops[0].to.as_deref(), Some("12125550199"));
        assert_eq!(
            d.hops[0].signer.as_ref().unwrap().spc.as_deref(),
            Some("5678")
        );
        assert_eq!(d.target.as_deref(), Some("12125550199"));
        // The div PASSporT passed on its own and does not decide the call.
        assert!(r.passports[1].report.passed());
        assert_eq!(r.overall.attest, Some(Attestation::A));
        assert_eq!(r.overall.ppt.as_deref(), Some("shaken"));
        // The To header was left as it was: no dest warning, no mismatch.
        assert!(!r
            .overall
            .warnings
            .iter()
            .any(|w| w.starts_with(crate::verify::DEST_NOT_COMPARED)));
        // JSON: the diversion object as issue 15 spells it.
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["diversion"]["verdict"], "valid");
        assert_eq!(j["diversion"]["hops"][0]["from"], "12125550143");
        assert_eq!(j["diversion"]["hops"][0]["signer"]["spc"], "5678");
        assert!(j["diversion"]["reason"].is_null());
        assert!(serde_json::to_value(&plain)
            .unwrap()
            .get("diversion")
            .is_none());
    }

    #[test]
    fn two_hops_in_any_order_and_a_changed_to() {
        let c = carriers();
        let one = c.divert(&c.signed(), "+12125550199", &c.b, X5U_B);
        let two = c.divert(&one, "+12125550177", &c.a, X5U_A);
        // Only the last div got a new one.
        assert_eq!(two.identity_headers().len(), 3);
        let r = c.verify(&two);
        let d = r.diversion.clone().unwrap();
        assert_eq!(d.verdict, DivVerdict::Valid, "{:?}", d.reason);
        let path: Vec<_> = d
            .hops
            .iter()
            .map(|h| (h.from.clone().unwrap(), h.to.clone().unwrap()))
            .collect();
        assert_eq!(
            path,
            [
                ("12125550143".to_owned(), "12125550199".to_owned()),
                ("12125550199".to_owned(), "12125550177".to_owned())
            ]
        );
        // Any header order.
        let mut values: Vec<String> = two
            .identity_headers()
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        values.reverse();
        let reversed = with_identities(&two, &values);
        let r = c.verify(&reversed);
        assert!(r.passed());
        assert_eq!(r.diversion.as_ref().unwrap().verdict, DivVerdict::Valid);
        assert_eq!(r.diversion.as_ref().unwrap().hops[0].index, 1);
        // The To header rewritten to the new target: the shaken dest does not
        // hold it, and the valid chain carries the call.
        let to = parse(&two.without_header("to"));
        let to = parse(&to.with_headers_added(&["To: <tel:+12125550177>".to_owned()]));
        let r = c.verify(&to);
        assert!(r.passed(), "{:?}", r.overall.reason);
        assert!(r
            .overall
            .warnings
            .iter()
            .any(|w| w.starts_with("dest-through-div")));
        // Without the last div the chain ends at 12125550199: the same call
        // fails dest-mismatch, naming the chain.
        let values: Vec<String> = to.identity_headers()[..2]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let r = c.verify(&with_identities(&to, &values));
        assert!(!r.passed());
        let reason = r.overall.reason.clone().unwrap();
        assert_eq!((reason.id.as_str(), reason.code), ("dest-mismatch", 438));
        assert!(
            reason.detail.contains("div-target-mismatch"),
            "{}",
            reason.detail
        );
        assert_eq!(div_reason(&r), "div-target-mismatch");
    }

    /// A div PASSporT signed by `by` with these claims.
    fn div_value(claims: &Claims, by: &KeySigner, x5u: &str) -> String {
        let token = crate::passport::sign(&div_header(x5u), claims, by).unwrap();
        format!("{token};info=<{x5u}>;alg=ES256;ppt=div")
    }

    fn shaken_claims() -> Claims {
        Claims::shaken(
            Attestation::A,
            "12155550121",
            vec!["12125550143".into()],
            NOW,
            ORIGID,
        )
    }

    fn hop_claims(from: &str, to: &str) -> Claims {
        let p = TnPolicy::default();
        let mut prev = shaken_claims();
        prev.dest.tn = vec![from.into()];
        div_claims(
            &prev,
            from,
            &TelephoneNumber::parse(to, &p).unwrap(),
            None,
            &p,
        )
        .unwrap()
    }

    /// Every kind of broken link, each named.
    #[test]
    fn every_broken_link_is_named() {
        let c = carriers();
        let signed = c.signed();
        let shaken = signed.identity_headers()[0].to_owned();
        let to_199 = retarget(&signed, "+12125550199");
        let check = |values: Vec<String>, req: &SipRequest, want: &str, hop_want: Option<&str>| {
            let r = c.verify(&with_identities(req, &values));
            let d = r.diversion.clone().unwrap();
            assert_ne!(d.verdict, DivVerdict::Valid, "{want}");
            assert_eq!(div_reason(&r), want, "{:?}", d.reason);
            if let Some(h) = hop_want {
                assert!(
                    d.hops
                        .iter()
                        .any(|x| x.reason.as_ref().is_some_and(|r| r.id == h)),
                    "{want}: no hop with {h}: {:?}",
                    d.hops
                );
            }
            // The Request-URI is not in the shaken dest: only a valid chain
            // could carry the call, so it fails as a changed dest would.
            assert!(!r.passed(), "{want}");
            assert_eq!(
                r.overall.reason.as_ref().map(|r| r.id.as_str()),
                Some("dest-mismatch"),
                "{want}"
            );
            r
        };
        // Unlinked: the div diverts from a number the shaken dest lacks.
        check(
            vec![
                shaken.clone(),
                div_value(&hop_claims("12125550111", "+12125550199"), &c.b, X5U_B),
            ],
            &to_199,
            "div-unlinked",
            Some("div-unlinked"),
        );
        // A hop whose signature does not verify.
        let good = div_value(&hop_claims("12125550143", "+12125550199"), &c.b, X5U_B);
        let (tok, params) = good.split_once(';').unwrap();
        let (hp, sig) = tok.rsplit_once('.').unwrap();
        let flipped = if sig.starts_with('A') { "B" } else { "A" };
        let bad = format!("{hp}.{flipped}{};{params}", &sig[1..]);
        check(
            vec![shaken.clone(), bad],
            &to_199,
            "div-hop-invalid",
            Some("signature-invalid"),
        );
        // A hop with another orig.
        let mut other = hop_claims("12125550143", "+12125550199");
        other.orig = Orig::Tn("12155550999".into());
        check(
            vec![shaken.clone(), div_value(&other, &c.b, X5U_B)],
            &to_199,
            "div-orig-mismatch",
            Some("div-orig-mismatch"),
        );
        // The chain ends elsewhere than the Request-URI.
        check(
            vec![shaken.clone(), good.clone()],
            &retarget(&signed, "+12125550188"),
            "div-target-mismatch",
            Some("div-target-mismatch"),
        );
        // A stale div.
        let mut stale = hop_claims("12125550143", "+12125550199");
        stale.iat = NOW - 3600;
        check(
            vec![shaken.clone(), div_value(&stale, &c.b, X5U_B)],
            &to_199,
            "div-hop-invalid",
            Some("iat-stale"),
        );
        // A div that copied attest and origid.
        let mut copied = hop_claims("12125550143", "+12125550199");
        copied.attest = Some(Attestation::A);
        copied.origid = Some(ORIGID.into());
        check(
            vec![shaken.clone(), div_value(&copied, &c.b, X5U_B)],
            &to_199,
            "div-hop-invalid",
            Some("div-claim-forbidden"),
        );
        // A div signed with a certificate that does not cover the div number.
        check(
            vec![
                shaken.clone(),
                div_value(&hop_claims("12125550143", "+12125550199"), &c.c, X5U_C),
            ],
            &to_199,
            "div-hop-invalid",
            Some("tn-not-authorized"),
        );
        // Six divs: over the limit of five.
        let mut six = vec![shaken.clone()];
        let mut from = "12125550143".to_owned();
        for i in 0..6 {
            let to = format!("+1212555017{i}");
            six.push(div_value(&hop_claims(&from, &to), &c.b, X5U_B));
            from = to.trim_start_matches('+').to_owned();
        }
        check(
            six.clone(),
            &retarget(&signed, "+12125550175"),
            "div-too-many",
            None,
        );
        // ... and five are fine.
        let r = c.verify(&with_identities(
            &retarget(&signed, "+12125550174"),
            &six[..6],
        ));
        assert_eq!(r.diversion.unwrap().verdict, DivVerdict::Valid);
        // A configurable limit.
        let l = Limits {
            max_div: 1,
            ..Limits::default()
        };
        let v = c.verifier.clone().with_limits(l);
        let r = c.verify_with(
            &v,
            &with_identities(&retarget(&signed, "+12125550171"), &six[..3]),
        );
        assert_eq!(div_reason(&r), "div-too-many");
        // The shaken PASSporT broken: the chain has no valid origin, and
        // the call fails on it.
        let (tok, params) = shaken.split_once(';').unwrap();
        let (hp, sig) = tok.rsplit_once('.').unwrap();
        let flipped = if sig.starts_with('A') { "B" } else { "A" };
        let broken = format!("{hp}.{flipped}{};{params}", &sig[1..]);
        let r = c.verify(&with_identities(&to_199, &[broken, good.clone()]));
        assert!(!r.passed());
        assert_eq!(div_reason(&r), "div-origin-invalid");
        // Only a div: incomplete, and the call is unsigned for SHAKEN.
        let r = c.verify(&with_identities(&to_199, std::slice::from_ref(&good)));
        let d = r.diversion.clone().unwrap();
        assert_eq!(d.verdict, DivVerdict::Incomplete);
        assert_eq!(div_reason(&r), "div-no-origin");
        assert_eq!(
            r.overall.reason.as_ref().map(|r| r.id.as_str()),
            Some("no-shaken-passport")
        );
    }

    /// A call whose To was changed to the new target fails dest-mismatch
    /// unless the chain is valid: a broken chain never carries it.
    #[test]
    fn a_broken_chain_never_carries_a_changed_to() {
        let c = carriers();
        let signed = c.signed();
        let shaken = signed.identity_headers()[0].to_owned();
        let req = retarget(&signed, "+12125550199");
        let req = parse(&req.without_header("to"));
        let req = parse(&req.with_headers_added(&["To: <tel:+12125550199>".to_owned()]));
        let good = div_value(&hop_claims("12125550143", "+12125550199"), &c.b, X5U_B);
        assert!(c
            .verify(&with_identities(&req, &[shaken.clone(), good]))
            .passed());
        let unlinked = div_value(&hop_claims("12125550111", "+12125550199"), &c.b, X5U_B);
        let r = c.verify(&with_identities(&req, &[shaken, unlinked]));
        assert!(!r.passed());
        assert_eq!(
            r.overall.reason.as_ref().map(|r| r.id.as_str()),
            Some("dest-mismatch")
        );
    }

    /// `div-o`: the previous PASSporT nested in `opt` is verified as well.
    #[test]
    fn div_o_nests_the_previous_passport() {
        let c = carriers();
        let signed = c.signed();
        let shaken_value = signed.identity_headers()[0].to_owned();
        let shaken_token = shaken_value.split_once(';').unwrap().0.to_owned();
        let mut claims = hop_claims("12125550143", "+12125550199");
        claims
            .extra
            .insert("opt".into(), Value::String(shaken_token.clone()));
        let mut h = div_header(X5U_B);
        h.ppt = Some(PPT_DIV_O.into());
        let token = crate::passport::sign(&h, &claims, &c.b).unwrap();
        let value = format!("{token};info=<{X5U_B}>;alg=ES256;ppt=div-o");
        let req = with_identities(&retarget(&signed, "+12125550199"), &[value]);
        let r = c.verify(&req);
        let d = r.diversion.clone().unwrap();
        assert_eq!(d.verdict, DivVerdict::Valid, "{:?}", d.reason);
        assert_eq!(d.hops[0].ppt.as_deref(), Some("div-o"));
        // The shaken PASSporT nested in opt gives the caller-ID verdict.
        assert!(r.passed(), "{:?}", r.overall.reason);
        assert_eq!(r.overall.attest, Some(Attestation::A));
        // A div-o without opt is refused.
        claims.extra.remove("opt");
        let token = crate::passport::sign(&h, &claims, &c.b).unwrap();
        let value = format!("{token};info=<{X5U_B}>;alg=ES256;ppt=div-o");
        let r = c.verify(&with_identities(
            &retarget(&signed, "+12125550199"),
            &[shaken_value, value],
        ));
        assert_eq!(div_reason(&r), "div-hop-invalid");
        assert!(r.diversion.unwrap().hops[0]
            .reason
            .as_ref()
            .is_some_and(|r| r.id == "div-opt-invalid"));
    }

    #[test]
    fn divert_request_needs_a_signed_call_and_a_new_target() {
        let c = carriers();
        let l = Limits::default();
        let p = TnPolicy::default();
        assert!(matches!(
            divert_request(&parse(TEL), &c.b, X5U_B, None, &l, &p),
            Err(DivSignError::Unsigned)
        ));
        assert!(matches!(
            divert_request(&c.signed(), &c.b, X5U_B, None, &l, &p),
            Err(DivSignError::NothingToDivert { .. })
        ));
        let text = String::from_utf8(c.signed().as_bytes().to_vec()).unwrap();
        let alice = text.replacen("INVITE sip:+12125550143@", "INVITE sip:alice@", 1);
        assert!(matches!(
            divert_request(&parse(alice.as_bytes()), &c.b, X5U_B, None, &l, &p),
            Err(DivSignError::TargetNotTn { .. })
        ));
        let _ = VerifyPolicy::default();
        let _: Option<Header> = None;
    }

    #[test]
    fn request_extensions_are_read_strictly() {
        let l = Limits::default();
        let sign = |j: &str| DivSignRequest::parse(j.as_bytes(), &l);
        assert_eq!(sign(r#"{"attest":"A","dest":{"tn":["1"]}}"#), Ok(None));
        let r = sign(r#"{"signingRequest":{"div":{"identity":" x.y.z ","hi":"1"},"dest":{"tn":"12125550199"}}}"#)
            .unwrap()
            .unwrap();
        assert_eq!(
            (r.incoming.as_str(), r.dest.as_str(), r.hi.as_deref()),
            ("x.y.z", "12125550199", Some("1"))
        );
        for (bad, member) in [
            (
                r#"{"div":{"identity":"x"},"dest":{"tn":["1"]},"origid":"u"}"#,
                "div",
            ),
            (r#"{"div":[],"dest":{"tn":["1"]}}"#, "div"),
            (
                r#"{"div":{"identity":""},"dest":{"tn":["1"]}}"#,
                "div.identity",
            ),
            (
                r#"{"div":{"identity":"x","hi":2},"dest":{"tn":["1"]}}"#,
                "div.hi",
            ),
            (r#"{"div":{"identity":"x"}}"#, "dest.tn"),
            (r#"{"div":{"identity":"x"},"dest":{"tn":[1]}}"#, "dest.tn"),
            (
                r#"{"div":{"identity":"x"},"div":{"identity":"y"},"dest":{"tn":["1"]}}"#,
                "div",
            ),
        ] {
            match sign(bad) {
                Err(DivRequestError::Member { member: m, .. }) => assert_eq!(m, member, "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        let long = format!(
            r#"{{"div":{{"identity":"{}"}},"dest":{{"tn":["1"]}}}}"#,
            "a".repeat(9000)
        );
        assert!(sign(&long).is_err());

        let verify = |j: &str| VerifyExtension::parse(j.as_bytes(), &l);
        assert_eq!(verify(r#"{"identity":"x"}"#), Ok(None));
        let e = verify(r#"{"verificationRequest":{"identities":["Identity: a.b.c"],"requestUri":"tel:+12125550199"}}"#)
            .unwrap()
            .unwrap();
        assert_eq!(e.identities, ["a.b.c"]);
        assert!(
            matches!(e.target(&TnPolicy::default()), Some(PartyId::Tn(t)) if t.as_str() == "12125550199")
        );
        let many: Vec<String> = (0..8).map(|i| format!("\"v{i}\"")).collect();
        for bad in [
            r#"{"identities":"x"}"#.to_owned(),
            r#"{"identities":[1]}"#.to_owned(),
            r#"{"identities":[""]}"#.to_owned(),
            r#"{"requestUri":5}"#.to_owned(),
            format!(r#"{{"identities":[{}]}}"#, many.join(",")),
        ] {
            assert!(verify(&bad).is_err(), "{bad}");
        }
    }

    /// Interop: a `div` with the `hi` and `reason` members that
    /// stirshaken-ruby and the libstirshaken fork reportedly send verifies; `reason` is
    /// reported as a warning and changes nothing.
    #[test]
    fn interop_hi_and_reason_members_verify_with_a_warning() {
        let c = carriers();
        let signed = c.signed();
        let shaken = signed.identity_headers()[0].to_owned();
        let mut claims = hop_claims("12125550143", "+12125550199");
        claims.extra.insert(
            "div".into(),
            serde_json::json!({"tn": "12125550143", "hi": "1.2", "reason": "unconditional"}),
        );
        let div = div_value(&claims, &c.b, X5U_B);
        let r = c.verify(&with_identities(
            &retarget(&signed, "+12125550199"),
            &[shaken, div],
        ));
        assert!(r.passed(), "{:?}", r.overall.reason);
        let d = r.diversion.unwrap();
        assert_eq!(d.verdict, DivVerdict::Valid);
        assert_eq!(d.hops[0].hi.as_deref(), Some("1.2"));
        assert!(r.passports[1]
            .report
            .warnings
            .iter()
            .any(|w| w.starts_with("div-member-unknown") && w.contains("reason")));
    }
}
