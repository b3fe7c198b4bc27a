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
//! RFC does not define): stirshaken-ruby and the libstirshaken fork send a
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
                detail: "a div-o PASSporT must carry the previous PASSporT in \"opt\" (RFC 8946 §5)"
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
        let id = match (obj.get("tn"), obj.get("uri")) {
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
            _ => {
                return Err(invalid(
                    "its \"tn\" or \"uri\" must be a non-empty string (one identity, not a list)"
                        .into(),
                ))
            }
        };
        let hi = match obj.get("hi") {
            None => None,
            Some(Value::String(s)) if !s.is_empty() && s.len() <= 64 => Some(s.clone()),
            Some(_) => {
                return Err(invalid(
                    "\"hi\" must be a History-Info index string such as \"1.2.1\" (RFC 8946 §8)"
                        .into(),
                ))
            }
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
        if hi.is_empty() || hi.len() > 64 || !hi.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        {
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
    #[error("the incoming PASSporT has ppt {ppt:?}; a div PASSporT follows a shaken, div or div-o one")]
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
#[derive(Debug, Clone)]
pub struct ChainEntry {
    /// Identity header position (for a nested `opt`, the outer one's).
    pub index: usize,
    /// The claims as decoded (verified when `report` passed).
    pub claims: Option<Claims>,
    /// The PASSporT's own report.
    pub report: Report,
}

impl ChainEntry {
    /// An entry from a verification result.
    pub fn new(
        index: usize,
        result: &Result<crate::verify::VerifiedPassport, Box<crate::verify::Failure>>,
    ) -> Self {
        let claims = match result {
            Ok(v) => Some(v.claims().clone()),
            Err(f) => f.claims.clone(),
        };
        ChainEntry {
            index,
            claims,
            report: crate::verify::report(result),
        }
    }

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

fn div_id(entry: &ChainEntry) -> Option<Orig> {
    let claims = entry.claims.as_ref()?;
    let v = claims.extra.get("div")?;
    DivClaim::from_json(v).ok().map(|(d, _)| d.id)
}

fn div_hi(entry: &ChainEntry) -> Option<String> {
    let claims = entry.claims.as_ref()?;
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
    let all: Vec<&str> = dest.tn.iter().chain(&dest.uri).map(String::as_str).collect();
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
    entries: &[ChainEntry],
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
    let origins: Vec<&ChainEntry> = entries
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
            unlinked_hops(entries, &divs, &[]),
            LinkError::NoOrigin { detail },
        );
    };
    let Some(origin_claims) = origin.claims.as_ref() else {
        return done(
            DivVerdict::Incomplete,
            vec![],
            LinkError::NoOrigin {
                detail: String::new(),
            },
        );
    };
    // Link forward from the shaken PASSporT.
    let mut used = vec![false; entries.len()];
    let mut chain: Vec<usize> = Vec::new();
    let mut dest = &origin_claims.dest;
    loop {
        let candidates: Vec<usize> = divs
            .iter()
            .copied()
            .filter(|&i| !used.get(i).copied().unwrap_or(true))
            .filter(|&i| {
                entries
                    .get(i)
                    .and_then(div_id)
                    .is_some_and(|id| dest_holds(dest, &id, policy.tn))
            })
            .collect();
        let pick = candidates
            .iter()
            .copied()
            .find(|&i| entries.get(i).is_some_and(|e| e.report.passed()))
            .or_else(|| candidates.first().copied());
        let Some(i) = pick else { break };
        let Some(next) = entries.get(i).and_then(|e| e.claims.as_ref()) else {
            break;
        };
        if let Some(u) = used.get_mut(i) {
            *u = true;
        }
        chain.push(i);
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
            match e.claims.as_ref() {
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
    let linked_dests = std::iter::once(&origin_claims.dest)
        .chain(
            chain
                .iter()
                .filter_map(|&i| entries.get(i).and_then(|e| e.claims.as_ref()))
                .map(|c| &c.dest),
        )
        .map(dest_text)
        .collect::<Vec<_>>()
        .join("; ");
    for &i in &divs {
        if used.get(i).copied().unwrap_or(true) {
            continue;
        }
        let Some(e) = entries.get(i) else { continue };
        let mut hop = hop_of(e, None, target, policy.tn);
        let err = LinkError::Unlinked {
            index: e.index,
            from: hop.from.clone().unwrap_or_else(|| "(unreadable)".into()),
            dests: linked_dests.clone(),
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

fn unlinked_hops(entries: &[ChainEntry], divs: &[usize], _: &[usize]) -> Vec<Hop> {
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
    e: &ChainEntry,
    next_from: Option<&str>,
    target: Option<&PartyId>,
    policy: &TnPolicy,
) -> Hop {
    let from = div_id(e).map(|id| id.as_str().to_owned());
    let to = e.claims.as_ref().and_then(|c| {
        let pick = |want: &dyn Fn(&str) -> bool| c.dest.tn.iter().find(|d| want(d)).cloned();
        let by_next = next_from.and_then(|n| {
            let n = claim_tn(n, policy)?;
            pick(&|d: &str| claim_tn(d, policy).is_some_and(|d| same_tn(&d, &n)))
        });
        let by_target = match target {
            Some(PartyId::Tn(t)) => pick(&|d: &str| claim_tn(d, policy).is_some_and(|d| d.matches(t))),
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
