//! The STI-VS verification procedure (RFC 8224 §6.2, ATIS-1000074 §5.3.1),
//! pure and sans-I/O.
//!
//! Verification runs in two stages so that the caller owns all I/O:
//! 1. [`Verifier::prepare`] does every check that needs no certificate, in
//!    the order of specs §5.1 (cheap checks first, so a token that cannot pass
//!    never makes us fetch its `x5u`), and returns a [`Pending`] naming the
//!    certificate URL.
//! 2. The caller gets the chain (a local file, the cache, or a fetch) and calls
//!    [`Verifier::complete`], which validates the chain at the verification
//!    time, checks TNAuthList and the signature.
//!
//! Every failure is a [`VerifyError`] with a stable id, a SIP code and a
//! verstat; [`Verifier::report`] turns the result into a [`Report`].

use crate::cert::{
    validate_chain, Certificate, ChainError, ChainPolicy, Crl, TnAuthorization, TrustAnchors,
    ValidatedChain,
};
use crate::identity::{IdentityError, IdentityHeader};
use crate::passport::{
    Attestation, Claims, ClaimsError, ClaimsPolicy, Header, HeaderError, Orig, PassportError,
    Token, UnverifiedPassport, ALG_ES256, PPT_SHAKEN, TYP_PASSPORT,
};
use crate::report::{reason_phrase, Reason, Report, SignerInfo, Verstat};
use crate::tn::{TelephoneNumber, TnError, TnPolicy};
use crate::Limits;
use std::collections::HashMap;
use std::sync::Arc;

/// A party of the call as the terminating side sees it (from SIP or the API).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PartyId {
    /// A canonical telephone number.
    Tn(TelephoneNumber),
    /// A URI that is not a telephone number.
    Uri(String),
}

impl PartyId {
    /// Classify a SIP URI, tel URI or raw number.
    pub fn from_uri(uri: &str, policy: &TnPolicy) -> PartyId {
        match TelephoneNumber::parse(uri, policy) {
            Ok(tn) => PartyId::Tn(tn),
            Err(_) => PartyId::Uri(uri.to_owned()),
        }
    }
    fn describe(&self) -> String {
        match self {
            PartyId::Tn(t) => t.to_string(),
            PartyId::Uri(u) => u.clone(),
        }
    }
}

/// What the verifier knows about the call, besides the Identity header.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    /// The verification time (Unix seconds). Always passed in: the core never
    /// reads the clock.
    pub now: i64,
    /// Candidate originating identities: every P-Asserted-Identity value if
    /// present, otherwise From. Empty: `orig` is not compared.
    pub orig: Vec<PartyId>,
    /// Destination identities (the To header). Empty: `dest` is not compared.
    /// Each must appear in the PASSporT's `dest`.
    pub dest: Vec<PartyId>,
    /// The SIP `Date` header, if any (Unix seconds).
    pub date: Option<i64>,
    /// The SIP Call-ID, if known: a PASSporT seen again with the same Call-ID
    /// is a forked INVITE, not a replay.
    pub call_id: Option<String>,
}

impl CallContext {
    /// A context with only a clock.
    pub fn at(now: i64) -> Self {
        CallContext {
            now,
            ..Default::default()
        }
    }
}

/// Local verification policy.
#[derive(Debug, Clone)]
pub struct VerifyPolicy {
    /// Oldest acceptable `iat`, seconds before `now` (default 60, RFC 8224 §6.2 step 4).
    pub max_age: i64,
    /// Furthest acceptable `iat` in the future, seconds after `now` (default 60).
    pub max_future: i64,
    /// How claims are read (string `iat` leniency).
    pub claims: ClaimsPolicy,
    /// TN canonicalisation (NANP 1-prefix rule).
    pub tn: TnPolicy,
    /// Certificate chain rules.
    pub chain: ChainPolicy,
    /// Require `x5u` in the header to equal `info` (ATIS E10). Default true.
    pub require_x5u_equals_info: bool,
}

impl Default for VerifyPolicy {
    fn default() -> Self {
        VerifyPolicy {
            max_age: 60,
            max_future: 60,
            claims: ClaimsPolicy::default(),
            tn: TnPolicy::default(),
            chain: ChainPolicy::default(),
            require_x5u_equals_info: true,
        }
    }
}

/// Why a PASSporT failed verification. Each variant has a stable
/// [`id`](VerifyError::id), a SIP [`code`](VerifyError::sip_code) and a
/// [`verstat`](VerifyError::verstat).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The call carries no Identity header.
    #[error("no Identity header: the call is unsigned")]
    NoIdentity,
    /// The Identity header value could not be read.
    #[error("Identity header: {0}")]
    IdentityMalformed(#[from] IdentityError),
    /// The token is not a decodable PASSporT.
    #[error("{0}")]
    TokenMalformed(#[from] PassportError),
    /// Compact form where SHAKEN requires the full form (ATIS E4).
    #[error("the PASSporT is in compact form (..signature); SHAKEN requires the full form")]
    CompactForm,
    /// `ppt` is not `shaken` (ATIS E5/E13).
    #[error("PASSporT type (ppt) is {found}; this verifier supports \"shaken\"")]
    UnsupportedPpt {
        /// What was found (quoted, or "absent").
        found: String,
    },
    /// `ppt` in the Identity parameters disagrees with the header.
    #[error("Identity parameter ppt={param:?} disagrees with the PASSporT header ppt={header:?}")]
    PptMismatch {
        /// The Identity parameter.
        param: String,
        /// The header value.
        header: String,
    },
    /// No `info` parameter (ATIS E6).
    #[error("the Identity header has no info parameter (the certificate URL)")]
    InfoMissing,
    /// `info` is not a usable URL (ATIS E7).
    #[error("info {info:?} is not a valid certificate URL: {reason}")]
    InfoInvalid {
        /// The value.
        info: String,
        /// Why.
        reason: String,
    },
    /// A required header parameter is missing (ATIS E9).
    #[error("PASSporT header has no {param:?} parameter")]
    HeaderParamMissing {
        /// The parameter.
        param: &'static str,
    },
    /// The header is malformed or carries a forbidden key parameter.
    #[error("{0}")]
    HeaderInvalid(HeaderError),
    /// `x5u` differs from `info` (ATIS E10).
    #[error("PASSporT x5u {x5u:?} differs from the Identity info {info:?}")]
    X5uMismatch {
        /// Header `x5u`.
        x5u: String,
        /// Identity `info`.
        info: String,
    },
    /// `typ` is not `passport` (ATIS E11).
    #[error("PASSporT typ is {typ:?}; it must be \"passport\"")]
    TypInvalid {
        /// The value.
        typ: String,
    },
    /// `alg` is not ES256 (ATIS E12).
    #[error("algorithm {alg:?} is not allowed; SHAKEN accepts only ES256 (where: {location})")]
    AlgUnsupported {
        /// The value.
        alg: String,
        /// `PASSporT header` or `Identity alg parameter`.
        location: &'static str,
    },
    /// Claims missing or corrupt (ATIS E14).
    #[error("{0}")]
    ClaimsInvalid(ClaimsError),
    /// A SHAKEN claim is missing (ATIS E14).
    #[error("required SHAKEN claim {claim:?} is missing (RFC 8588)")]
    ShakenClaimMissing {
        /// The claim.
        claim: &'static str,
    },
    /// `attest` is invalid (ATIS E19).
    #[error("claim \"attest\" is {value:?}; it must be \"A\", \"B\" or \"C\"")]
    AttestInvalid {
        /// The value.
        value: String,
    },
    /// `orig` or `dest` is not a telephone number, as SHAKEN requires.
    #[error("claim {claim:?} must be a telephone number (tn) in SHAKEN; found {found:?}")]
    NotTn {
        /// `orig` or `dest`.
        claim: &'static str,
        /// What was found.
        found: String,
    },
    /// A `tn` claim is not a valid telephone number.
    #[error("claim {claim:?}: {source}")]
    TnInvalid {
        /// `orig.tn` or `dest.tn`.
        claim: &'static str,
        /// Why.
        source: TnError,
    },
    /// `orig` differs from the calling number (ATIS E16).
    #[error("PASSporT orig {passport} does not match the calling number {expected}")]
    OrigMismatch {
        /// What the PASSporT says.
        passport: String,
        /// What the call says (all candidates).
        expected: String,
    },
    /// `dest` does not hold the called number (ATIS E16).
    #[error("PASSporT dest [{passport}] does not include the called number {expected}")]
    DestMismatch {
        /// What the PASSporT says.
        passport: String,
        /// What the call says.
        expected: String,
    },
    /// `iat` too old (ATIS E15).
    #[error("PASSporT is stale: iat {iat} is {age} s before the verification time {now}; at most {max} s are allowed")]
    Stale {
        /// Claimed iat.
        iat: i64,
        /// Verification time.
        now: i64,
        /// now - iat.
        age: i64,
        /// Window.
        max: i64,
    },
    /// `iat` in the future.
    #[error("PASSporT is dated in the future: iat {iat} is {ahead} s after the verification time {now}; at most {max} s are allowed")]
    Future {
        /// Claimed iat.
        iat: i64,
        /// Verification time.
        now: i64,
        /// iat - now.
        ahead: i64,
        /// Window.
        max: i64,
    },
    /// The SIP Date header and `iat` disagree.
    #[error("SIP Date ({date}) and PASSporT iat ({iat}) differ by {diff} s; at most {max} s are allowed")]
    DateMismatch {
        /// Date header.
        date: i64,
        /// iat.
        iat: i64,
        /// |date - iat|.
        diff: i64,
        /// Window.
        max: i64,
    },
    /// The certificate could not be obtained (ATIS E8).
    #[error("{detail}")]
    CertUnavailable {
        /// What went wrong (names the URL and the cause).
        detail: String,
        /// Stable id of the cause (e.g. `fetch-timeout`).
        cause: &'static str,
    },
    /// The certificate is not usable or not trusted (ATIS E17).
    #[error("{0}")]
    Chain(ChainError),
    /// The token was signed outside the validity of its certificate.
    #[error("PASSporT iat {iat} is outside the validity of certificate '{subject}' ({not_before} to {not_after})")]
    SignedOutsideValidity {
        /// iat.
        iat: i64,
        /// Subject.
        subject: String,
        /// notBefore.
        not_before: i64,
        /// notAfter.
        not_after: i64,
    },
    /// The certificate does not cover the calling number.
    #[error(
        "orig {tn} is not among the numbers that certificate '{subject}' may sign for (TNAuthList)"
    )]
    TnNotAuthorized {
        /// The TN.
        tn: String,
        /// Subject.
        subject: String,
    },
    /// The PASSporT breaks a JWT claim constraint of its certificate
    /// (RFC 8226 §8, RFC 9118).
    #[error("certificate '{subject}' does not allow this PASSporT: {detail}")]
    ClaimConstraint {
        /// Subject.
        subject: String,
        /// Which constraint and how.
        detail: String,
    },
    /// The signature does not verify (ATIS E18).
    #[error("the ES256 signature does not verify with the public key of certificate '{subject}': the token was altered or signed with another key")]
    SignatureInvalid {
        /// Subject.
        subject: String,
    },
    /// The same PASSporT was already accepted for another call.
    #[error("replayed PASSporT: this identity was already verified {age} s ago for another call (with {first_call_id})")]
    Replay {
        /// Seconds since first seen.
        age: i64,
        /// How the first call is identified ("a different Call-ID"...).
        first_call_id: String,
    },
}

impl VerifyError {
    /// Stable kebab-case identifier.
    pub fn id(&self) -> &'static str {
        match self {
            VerifyError::NoIdentity => "no-identity",
            VerifyError::IdentityMalformed(_) => "identity-malformed",
            VerifyError::TokenMalformed(_) => "token-malformed",
            VerifyError::CompactForm => "compact-form",
            VerifyError::UnsupportedPpt { .. } => "ppt-unsupported",
            VerifyError::PptMismatch { .. } => "ppt-mismatch",
            VerifyError::InfoMissing => "info-missing",
            VerifyError::InfoInvalid { .. } => "info-invalid",
            VerifyError::HeaderParamMissing { .. } => "header-param-missing",
            VerifyError::HeaderInvalid(HeaderError::Forbidden { .. }) => "header-key-forbidden",
            VerifyError::HeaderInvalid(_) => "header-invalid",
            VerifyError::X5uMismatch { .. } => "x5u-info-mismatch",
            VerifyError::TypInvalid { .. } => "typ-invalid",
            VerifyError::AlgUnsupported { .. } => "alg-unsupported",
            VerifyError::ClaimsInvalid(_) => "claims-invalid",
            VerifyError::ShakenClaimMissing { .. } => "claim-missing",
            VerifyError::AttestInvalid { .. } => "attest-invalid",
            VerifyError::NotTn { .. } => "claim-not-tn",
            VerifyError::TnInvalid { .. } => "tn-invalid",
            VerifyError::OrigMismatch { .. } => "orig-mismatch",
            VerifyError::DestMismatch { .. } => "dest-mismatch",
            VerifyError::Stale { .. } => "iat-stale",
            VerifyError::Future { .. } => "iat-future",
            VerifyError::DateMismatch { .. } => "date-mismatch",
            VerifyError::CertUnavailable { .. } => "cert-unavailable",
            VerifyError::Chain(_) => "cert-untrusted",
            VerifyError::SignedOutsideValidity { .. } => "iat-outside-cert-validity",
            VerifyError::TnNotAuthorized { .. } => "tn-not-authorized",
            VerifyError::ClaimConstraint { .. } => "claim-constraint-violated",
            VerifyError::SignatureInvalid { .. } => "signature-invalid",
            VerifyError::Replay { .. } => "replay",
        }
    }

    /// The SIP response code (RFC 8224 §6.2.2, ATIS-1000074; specs §5.1).
    pub fn sip_code(&self) -> u16 {
        match self {
            VerifyError::NoIdentity => 428,
            VerifyError::Stale { .. }
            | VerifyError::Future { .. }
            | VerifyError::DateMismatch { .. }
            | VerifyError::SignedOutsideValidity { .. } => 403,
            VerifyError::InfoMissing
            | VerifyError::InfoInvalid { .. }
            | VerifyError::HeaderParamMissing { .. }
            | VerifyError::X5uMismatch { .. }
            | VerifyError::CertUnavailable { .. } => 436,
            VerifyError::TypInvalid { .. }
            | VerifyError::AlgUnsupported { .. }
            | VerifyError::HeaderInvalid(HeaderError::Forbidden { .. })
            | VerifyError::Chain(_) => 437,
            VerifyError::HeaderInvalid(HeaderError::Missing { .. }) => 436,
            _ => 438,
        }
    }

    /// The verstat: failures of the cryptographic checks (certificate, TN
    /// authorisation, signature, replay of a verified token) are
    /// `TN-Validation-Failed`; everything found before is `No-TN-Validation`.
    pub fn verstat(&self) -> Verstat {
        match self {
            VerifyError::Chain(_)
            | VerifyError::TnNotAuthorized { .. }
            | VerifyError::ClaimConstraint { .. }
            | VerifyError::SignatureInvalid { .. }
            | VerifyError::Replay { .. } => Verstat::Failed,
            _ => Verstat::NoValidation,
        }
    }

    /// Stable id, refined by the certificate rule or the fetch cause where
    /// there is one (e.g. `cert-expired`, `fetch-timeout`).
    pub fn full_id(&self) -> String {
        match self {
            VerifyError::Chain(c) => c.code().to_owned(),
            VerifyError::CertUnavailable { cause, .. } => (*cause).to_owned(),
            other => other.id().to_owned(),
        }
    }

    /// The [`Reason`] of a report.
    pub fn reason(&self) -> Reason {
        let code = self.sip_code();
        Reason {
            code,
            text: reason_phrase(code).to_owned(),
            detail: self.to_string(),
            id: self.full_id(),
        }
    }
}

/// A CRL that could not be obtained (fetched or parsed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlFailure {
    /// The CRL URL or file.
    pub url: String,
    /// Why, e.g. the fetch error.
    pub detail: String,
}

/// What stage 1 learned: the decoded PASSporT and where its certificate is.
#[derive(Debug, Clone)]
pub struct Pending {
    passport: UnverifiedPassport,
    header: Header,
    claims: Claims,
    /// The certificate URL (`x5u` == `info`).
    pub x5u: String,
    /// Warnings so far.
    pub warnings: Vec<String>,
    call_id: Option<String>,
    /// The calling number as the call reads the `orig` claim.
    orig_tn: TelephoneNumber,
}

impl Pending {
    /// The claims, not yet verified.
    pub fn unverified_claims(&self) -> &Claims {
        &self.claims
    }
    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }
    /// The decoded token.
    pub fn passport(&self) -> &UnverifiedPassport {
        &self.passport
    }
}

/// A PASSporT whose signature, certificate and claims all checked out.
#[derive(Debug, Clone)]
pub struct VerifiedPassport {
    /// The header.
    pub header: Header,
    /// The claims, now trusted.
    pub claims: Claims,
    /// The validated chain (signer subject, SPC, TNAuthList).
    pub chain: Arc<ValidatedChain>,
    /// The certificate URL.
    pub x5u: String,
    /// `header.payload` as received (the replay key; never the signature).
    pub signing_input: String,
    /// Warnings.
    pub warnings: Vec<String>,
}

impl VerifiedPassport {
    /// The attestation level.
    pub fn attestation(&self) -> Option<Attestation> {
        self.claims.attest
    }
}

/// A failure, with whatever was learned before it (for the report).
#[derive(Debug, Clone)]
pub struct Failure {
    /// Why.
    pub error: VerifyError,
    /// Claims decoded before the failure (unverified), if any.
    pub claims: Option<Claims>,
    /// Header decoded before the failure, if any.
    pub header: Option<Header>,
    /// `info` / `x5u`.
    pub x5u: Option<String>,
    /// Certificate examined, if any.
    pub signer: Option<SignerInfo>,
    /// Warnings so far.
    pub warnings: Vec<String>,
    /// Identity `ppt` parameter.
    pub ppt: Option<String>,
}

impl Failure {
    /// A failure with nothing decoded yet (e.g. the Identity header itself
    /// did not parse).
    pub fn new(error: VerifyError) -> Self {
        Self::bare(error)
    }

    fn bare(error: VerifyError) -> Self {
        Failure {
            error,
            claims: None,
            header: None,
            x5u: None,
            signer: None,
            warnings: vec![],
            ppt: None,
        }
    }
}

impl From<VerifyError> for Failure {
    fn from(e: VerifyError) -> Self {
        Failure::bare(e)
    }
}

/// Memo of chains that validated, so a cached chain costs its ECDSA path
/// checks once, not on every call. Each use still re-checks the time: an
/// entry applies only while the verification time is inside every
/// certificate's validity and before the earliest `nextUpdate` of the
/// verifier's CRLs and the call's extra CRLs. Extra CRLs (fetched per call)
/// are part of the key, so a new CRL means a full validation. Calls with CRL
/// fetch failures bypass the memo.
#[derive(Debug, Default)]
struct ChainMemo {
    map: std::sync::RwLock<HashMap<u64, Vec<Arc<MemoEntry>>>>,
}

#[derive(Debug)]
struct MemoEntry {
    ders: Vec<Vec<u8>>,
    /// The per-call CRLs the validation used (length and signature tail of
    /// each): a different CRL set is a different entry.
    crls: Vec<CrlFingerprint>,
    validated: Arc<ValidatedChain>,
    usable_from: i64,
    usable_until: i64,
}

const CHAIN_MEMO_CAP: usize = 4096;

type CrlFingerprint = (usize, Vec<u8>);

/// A CRL is identified by its length and the tail of its signature: a CRL
/// with other content has another signature (and a forged one fails the
/// signature check on the full validation that a new fingerprint triggers).
fn crl_fingerprints(crls: &[Crl]) -> Vec<CrlFingerprint> {
    crls.iter()
        .map(|c| {
            let der = c.der();
            (
                der.len(),
                der.get(der.len().saturating_sub(32)..)
                    .unwrap_or(&[])
                    .to_vec(),
            )
        })
        .collect()
}

fn memo_key(chain: &[Certificate], crls: &[CrlFingerprint]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for c in chain {
        let der = c.der();
        der.len().hash(&mut h);
        // The tail of a certificate is its signature: effectively unique.
        der.get(der.len().saturating_sub(32)..).hash(&mut h);
    }
    crls.hash(&mut h);
    h.finish()
}

impl ChainMemo {
    fn get(
        &self,
        chain: &[Certificate],
        crls: &[CrlFingerprint],
        now: i64,
    ) -> Option<Arc<ValidatedChain>> {
        let key = memo_key(chain, crls);
        let map = self.map.read().ok()?;
        map.get(&key)?
            .iter()
            .find(|e| {
                e.ders.len() == chain.len()
                    && e.ders
                        .iter()
                        .zip(chain)
                        .all(|(d, c)| d.as_slice() == c.der())
                    && e.crls.as_slice() == crls
            })
            .filter(|e| e.usable_from <= now && now <= e.usable_until)
            .map(|e| e.validated.clone())
    }

    fn put(
        &self,
        chain: &[Certificate],
        fingerprints: Vec<CrlFingerprint>,
        validated: Arc<ValidatedChain>,
        crls: &[Crl],
    ) {
        let usable_until = crls
            .iter()
            .filter_map(Crl::next_update)
            .fold(validated.valid_until, i64::min);
        let key = memo_key(chain, &fingerprints);
        let entry = Arc::new(MemoEntry {
            ders: chain.iter().map(|c| c.der().to_vec()).collect(),
            crls: fingerprints,
            usable_from: validated.valid_from,
            usable_until,
            validated,
        });
        if let Ok(mut map) = self.map.write() {
            if map.len() >= CHAIN_MEMO_CAP {
                map.clear();
            }
            let slot = map.entry(key).or_default();
            slot.retain(|e| e.ders != entry.ders || e.crls != entry.crls);
            slot.push(entry);
        }
    }
}

/// The verifier: trust anchors, CRLs, policy and limits. Cheap to share
/// between threads (`Arc<Verifier>`).
#[derive(Clone)]
pub struct Verifier {
    anchors: TrustAnchors,
    crls: Vec<Crl>,
    crl_failures: Vec<CrlFailure>,
    policy: VerifyPolicy,
    limits: Limits,
    replay: Option<std::sync::Arc<dyn crate::replay::ReplayGuard>>,
    memo: Arc<ChainMemo>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("anchors", &self.anchors.len())
            .field("crls", &self.crls.len())
            .field("policy", &self.policy)
            .finish()
    }
}

/// `info` must be an absolute http(s) URL with a host (RFC 8224 §4.1: the
/// fetcher refuses the rest anyway; saying so here names the real problem).
/// Parsed with `http::Uri` (RFC 3986), so the core does not need the WHATWG
/// `url` crate; the fetcher parses the same string again before any request.
fn check_url(info: &str) -> Result<(), VerifyError> {
    let invalid = |reason: String| VerifyError::InfoInvalid {
        info: info.to_owned(),
        reason,
    };
    // The scheme first (RFC 3986 §3.1), so that `file:`, `data:` or `ldap:`
    // say that they cannot be fetched rather than that they are not URLs.
    let scheme = info
        .split_once(':')
        .map(|(s, _)| s)
        .filter(|s| {
            s.starts_with(|c: char| c.is_ascii_alphabetic())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        })
        .ok_or_else(|| invalid("relative URL without scheme".into()))?;
    if !(scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http")) {
        return Err(invalid(format!(
            "scheme {scheme:?} cannot be fetched (expected https)"
        )));
    }
    let parsed: http::Uri = info
        .parse()
        .map_err(|e: http::uri::InvalidUri| invalid(format!("not a URL: {e}")))?;
    if parsed.host().is_none_or(str::is_empty) {
        return Err(invalid("no host".into()));
    }
    Ok(())
}

impl Verifier {
    /// A verifier trusting `anchors`.
    pub fn new(anchors: TrustAnchors) -> Self {
        Verifier {
            anchors,
            crls: vec![],
            crl_failures: vec![],
            policy: VerifyPolicy::default(),
            limits: Limits::default(),
            replay: None,
            memo: Arc::default(),
        }
    }
    /// Detect replays with this store (shared between threads). Only
    /// PASSporTs that verified are recorded.
    pub fn with_replay(mut self, store: std::sync::Arc<crate::replay::ReplayStore>) -> Self {
        self.replay = Some(store);
        self
    }
    /// Detect replays with any [`crate::replay::ReplayGuard`], e.g. a
    /// [`crate::replay_dir::DirReplayStore`] shared by the worker processes
    /// of one host.
    pub fn with_replay_guard(
        mut self,
        guard: std::sync::Arc<dyn crate::replay::ReplayGuard>,
    ) -> Self {
        self.replay = Some(guard);
        self
    }
    /// A replay store sized for this verifier's freshness window.
    pub fn default_replay_store(&self) -> crate::replay::ReplayStore {
        crate::replay::ReplayStore::new(self.policy.max_age + self.policy.max_future, 1_000_000)
    }
    /// Use this policy.
    pub fn with_policy(mut self, policy: VerifyPolicy) -> Self {
        self.policy = policy;
        self.memo = Arc::default();
        self
    }
    /// Use these limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self.memo = Arc::default();
        self
    }
    /// Check revocation against these CRLs.
    pub fn with_crls(mut self, crls: Vec<Crl>) -> Self {
        self.crls = crls;
        self.memo = Arc::default();
        self
    }
    /// CRLs that could not be obtained when the verifier was set up (e.g. a
    /// `--crl URL` that did not answer). Under a hard CRL policy
    /// (`policy.chain.crl_required`) every verification whose chain is
    /// otherwise valid fails with `crl-unavailable` (437); under a soft one
    /// each report carries a warning.
    pub fn with_crl_failures(mut self, failures: Vec<CrlFailure>) -> Self {
        self.crl_failures = failures;
        self.memo = Arc::default();
        self
    }
    /// The policy.
    pub fn policy(&self) -> &VerifyPolicy {
        &self.policy
    }
    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
    /// The trust anchors.
    pub fn anchors(&self) -> &TrustAnchors {
        &self.anchors
    }
    /// The CRLs.
    pub fn crls(&self) -> &[Crl] {
        &self.crls
    }

    /// Stage 1: everything that needs no certificate.
    pub fn prepare(
        &self,
        identity: &IdentityHeader,
        ctx: &CallContext,
    ) -> Result<Pending, Box<Failure>> {
        self.prepare_inner(identity, ctx)
            .map_err(|e| Box::new(self.failure_for(identity, e)))
    }

    /// What a failure report shows: the header and claims as far as they
    /// decode (unverified). Built only on the failure path, so a passing call
    /// never copies them.
    fn failure_for(&self, identity: &IdentityHeader, error: VerifyError) -> Failure {
        let mut fail = Failure::bare(error);
        fail.ppt = identity.ppt.clone();
        if let Ok(Token::Full(p)) = Token::parse(&identity.token, &self.limits) {
            if let Ok(h) = p.header() {
                fail.x5u = identity.info.clone().or_else(|| h.x5u.clone());
                fail.header = Some(h);
                fail.claims = Claims::from_json(
                    crate::passport::dangerous::payload_json(&p),
                    &self.limits,
                    &self.policy.claims,
                )
                .ok();
            }
        }
        fail
    }

    fn prepare_inner(
        &self,
        identity: &IdentityHeader,
        ctx: &CallContext,
    ) -> Result<Pending, VerifyError> {
        let fail = ();
        let err = |_: (), e: VerifyError| e;
        // 1-2: token, compact form.
        let passport = match Token::parse(&identity.token, &self.limits) {
            Ok(Token::Full(p)) => p,
            Ok(Token::Compact { .. }) => return Err(err(fail, VerifyError::CompactForm)),
            Err(e) => return Err(err(fail, VerifyError::TokenMalformed(e))),
        };
        // Header (typed; forbidden key parameters are refused here).
        let header = match passport.header() {
            Ok(h) => h,
            Err(HeaderError::Missing { param }) => {
                return Err(err(fail, VerifyError::HeaderParamMissing { param }))
            }
            Err(e) => return Err(err(fail, VerifyError::HeaderInvalid(e))),
        };
        // Decode the claims now (unverified) so a failure report can show them.
        let claims = Claims::from_json(
            crate::passport::dangerous::payload_json(&passport),
            &self.limits,
            &self.policy.claims,
        );
        // 3: ppt (E5/E13).
        match (&identity.ppt, &header.ppt) {
            (_, None) => {
                return Err(err(
                    fail,
                    VerifyError::UnsupportedPpt {
                        found: "absent from the header".into(),
                    },
                ))
            }
            (Some(p), Some(h)) if p != h => {
                return Err(err(
                    fail,
                    VerifyError::PptMismatch {
                        param: p.clone(),
                        header: h.clone(),
                    },
                ))
            }
            (_, Some(h)) if h != PPT_SHAKEN => {
                return Err(err(
                    fail,
                    VerifyError::UnsupportedPpt {
                        found: format!("{h:?}"),
                    },
                ))
            }
            _ => {}
        }
        // 4: info present and valid (E6/E7).
        let Some(info) = identity.info.clone() else {
            return Err(err(fail, VerifyError::InfoMissing));
        };
        if let Err(e) = check_url(&info) {
            return Err(err(fail, e));
        }
        // 6: header params (E9).
        if header.typ.is_none() {
            return Err(err(fail, VerifyError::HeaderParamMissing { param: "typ" }));
        }
        let Some(x5u) = header.x5u.clone() else {
            return Err(err(fail, VerifyError::HeaderParamMissing { param: "x5u" }));
        };
        // 7: x5u == info (E10).
        if self.policy.require_x5u_equals_info && x5u != info {
            return Err(err(fail, VerifyError::X5uMismatch { x5u, info }));
        }
        // 8: typ (E11).
        if header.typ.as_deref() != Some(TYP_PASSPORT) {
            let typ = header.typ.clone().unwrap_or_default();
            return Err(err(fail, VerifyError::TypInvalid { typ }));
        }
        // 9: alg (E12), in the header and in the Identity parameter.
        if header.alg != ALG_ES256 {
            let alg = header.alg.clone();
            return Err(err(
                fail,
                VerifyError::AlgUnsupported {
                    alg,
                    location: "PASSporT header",
                },
            ));
        }
        if identity.alg_or_default() != ALG_ES256 {
            let alg = identity.alg_or_default().to_owned();
            return Err(err(
                fail,
                VerifyError::AlgUnsupported {
                    alg,
                    location: "Identity alg parameter",
                },
            ));
        }
        // 10: claims (E14), SHAKEN claims, attest (E19).
        let claims = match claims {
            Ok(c) => c,
            Err(ClaimsError::BadAttest { value }) => {
                return Err(err(fail, VerifyError::AttestInvalid { value }))
            }
            Err(e) => return Err(err(fail, VerifyError::ClaimsInvalid(e))),
        };
        let mut warnings = Vec::new();
        if claims.attest.is_none() {
            return Err(err(
                fail,
                VerifyError::ShakenClaimMissing { claim: "attest" },
            ));
        }
        match &claims.origid {
            None => {
                return Err(err(
                    fail,
                    VerifyError::ShakenClaimMissing { claim: "origid" },
                ))
            }
            Some(o) if uuid::Uuid::parse_str(o).is_err() => warnings.push(format!(
                "origid {o:?} is not a UUID (RFC 8588 recommends one; traceback may be harder)"
            )),
            Some(_) => {}
        }
        if claims.iat_was_string {
            warnings.push("iat was a JSON string; accepted under the lenient iat policy".into());
        }
        let orig_claim = match &claims.orig {
            Orig::Tn(t) => match TelephoneNumber::parse_claim(t, &self.policy.tn) {
                Ok(tn) => tn,
                Err(source) => {
                    return Err(err(
                        fail,
                        VerifyError::TnInvalid {
                            claim: "orig.tn",
                            source,
                        },
                    ))
                }
            },
            Orig::Uri(u) => {
                let found = u.clone();
                return Err(err(
                    fail,
                    VerifyError::NotTn {
                        claim: "orig",
                        found,
                    },
                ));
            }
        };
        if claims.dest.tn.is_empty() {
            let found = claims.dest.uri.join(", ");
            return Err(err(
                fail,
                VerifyError::NotTn {
                    claim: "dest",
                    found,
                },
            ));
        }
        let mut dest_tns = Vec::with_capacity(claims.dest.tn.len());
        for t in &claims.dest.tn {
            match TelephoneNumber::parse_claim(t, &self.policy.tn) {
                Ok(tn) => dest_tns.push(tn),
                Err(source) => {
                    return Err(err(
                        fail,
                        VerifyError::TnInvalid {
                            claim: "dest.tn",
                            source,
                        },
                    ))
                }
            }
        }
        // 11: orig/dest against the call (E16).
        // A claim's digits are E.164, but a 10-digit claim may be a national
        // NANP number: the call's numbers decide which reading the signer meant.
        let matched = ctx.orig.iter().find_map(|p| match p {
            PartyId::Tn(t) if orig_claim.matches(t) => Some(t.clone()),
            _ => None,
        });
        let orig_tn = matched
            .clone()
            .unwrap_or_else(|| orig_claim.preferred().clone());
        if !ctx.orig.is_empty() && matched.is_none() {
            let expected = ctx
                .orig
                .iter()
                .map(PartyId::describe)
                .collect::<Vec<_>>()
                .join(" or ");
            return Err(err(
                fail,
                VerifyError::OrigMismatch {
                    passport: orig_tn.to_string(),
                    expected,
                },
            ));
        }
        for want in &ctx.dest {
            let ok = matches!(want, PartyId::Tn(t) if dest_tns.iter().any(|d| d.matches(t)));
            if !ok {
                let passport = dest_tns
                    .iter()
                    .map(|t| t.preferred().to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(err(
                    fail,
                    VerifyError::DestMismatch {
                        passport,
                        expected: want.describe(),
                    },
                ));
            }
        }
        // 14: freshness (E15) and Date.
        let age = ctx.now.saturating_sub(claims.iat);
        if age > self.policy.max_age {
            return Err(err(
                fail,
                VerifyError::Stale {
                    iat: claims.iat,
                    now: ctx.now,
                    age,
                    max: self.policy.max_age,
                },
            ));
        }
        // Saturating: the verification time can come from input (a batch
        // line's "time"), and -i64::MIN overflows.
        let ahead = age.saturating_neg();
        if ahead > self.policy.max_future {
            return Err(err(
                fail,
                VerifyError::Future {
                    iat: claims.iat,
                    now: ctx.now,
                    ahead,
                    max: self.policy.max_future,
                },
            ));
        }
        if let Some(date) = ctx.date {
            let diff = date.saturating_sub(claims.iat).saturating_abs();
            if diff > self.policy.max_age {
                return Err(err(
                    fail,
                    VerifyError::DateMismatch {
                        date,
                        iat: claims.iat,
                        diff,
                        max: self.policy.max_age,
                    },
                ));
            }
        }
        Ok(Pending {
            passport,
            header,
            claims,
            x5u,
            warnings,
            call_id: ctx.call_id.clone(),
            orig_tn,
        })
    }

    /// Stage 2: validate the chain at `now`, check TNAuthList and the signature.
    /// `chain` is the certificate chain for `pending.x5u` (end entity first),
    /// or the reason it could not be obtained.
    pub fn complete(
        &self,
        pending: Pending,
        chain: Result<&[Certificate], VerifyError>,
        now: i64,
    ) -> Result<VerifiedPassport, Box<Failure>> {
        self.complete_with_crls(pending, chain, now, &[], &[])
    }

    /// Stage 2 with CRLs obtained for this verification (e.g. fetched from
    /// the certificates' CRL distribution points) in addition to the
    /// verifier's own, and the CRLs that could not be obtained. A missing
    /// CRL fails the verification (437 `crl-unavailable`, naming the URL and
    /// the cause) when `policy.chain.crl_required` (hard policy), and is a
    /// warning otherwise (soft policy).
    pub fn complete_with_crls(
        &self,
        pending: Pending,
        chain: Result<&[Certificate], VerifyError>,
        now: i64,
        extra_crls: &[Crl],
        crl_failures: &[CrlFailure],
    ) -> Result<VerifiedPassport, Box<Failure>> {
        let mut warnings = Vec::new();
        let mut signer = None;
        match self.stage2(
            &pending,
            chain,
            now,
            extra_crls,
            crl_failures,
            &mut warnings,
            &mut signer,
        ) {
            Ok(validated) => {
                let Pending {
                    passport,
                    header,
                    claims,
                    x5u,
                    warnings: mut all,
                    call_id: _,
                    orig_tn: _,
                } = pending;
                all.extend(warnings);
                let signing_input = passport.signing_input().to_owned();
                Ok(VerifiedPassport {
                    header,
                    claims,
                    chain: validated,
                    x5u,
                    signing_input,
                    warnings: all,
                })
            }
            Err(error) => {
                let Pending {
                    header,
                    claims,
                    x5u,
                    warnings: mut all,
                    ..
                } = pending;
                all.extend(warnings);
                Err(Box::new(Failure {
                    error,
                    ppt: header.ppt.clone(),
                    claims: Some(claims),
                    header: Some(header),
                    x5u: Some(x5u),
                    signer,
                    warnings: all,
                }))
            }
        }
    }

    /// The chain for this verification: from the memo when this exact chain
    /// already validated and `now` is inside its validity (and before the next
    /// CRL update), else a full validation.
    /// Whether `chain` leads to a trust anchor at `now` with the verifier's
    /// own CRLs, not requiring revocation coverage. For deciding whether a
    /// chain's CRL distribution points are worth fetching: a chain that does
    /// not validate names URLs chosen by a stranger. Not memoised (its policy
    /// differs from the verification's); call it only before a CRL fetch.
    pub fn chain_is_trusted(&self, chain: &[Certificate], now: i64) -> bool {
        let policy = crate::cert::ChainPolicy {
            crl_required: false,
            ..self.policy.chain.clone()
        };
        validate_chain(chain, &self.anchors, &self.crls, now, &policy).is_ok()
    }

    #[allow(clippy::too_many_arguments)]
    fn validated_chain(
        &self,
        chain: &[Certificate],
        crls: &[Crl],
        extra_crls: &[Crl],
        bypass: bool,
        now: i64,
        policy: &crate::cert::ChainPolicy,
    ) -> Result<Arc<ValidatedChain>, ChainError> {
        if bypass {
            return Ok(Arc::new(validate_chain(
                chain,
                &self.anchors,
                crls,
                now,
                policy,
            )?));
        }
        let fingerprints = crl_fingerprints(extra_crls);
        if let Some(v) = self.memo.get(chain, &fingerprints, now) {
            return Ok(v);
        }
        let v = Arc::new(validate_chain(chain, &self.anchors, crls, now, policy)?);
        self.memo.put(chain, fingerprints, v.clone(), crls);
        Ok(v)
    }

    #[allow(clippy::too_many_arguments)]
    fn stage2(
        &self,
        pending: &Pending,
        chain: Result<&[Certificate], VerifyError>,
        now: i64,
        extra_crls: &[Crl],
        crl_failures: &[CrlFailure],
        warnings: &mut Vec<String>,
        signer: &mut Option<SignerInfo>,
    ) -> Result<Arc<ValidatedChain>, VerifyError> {
        let chain = chain?;
        let claims = &pending.claims;
        if let Some(leaf) = chain.first() {
            *signer = Some(SignerInfo {
                subject: leaf.subject().to_owned(),
                spc: leaf.tn_auth_list().and_then(|t| t.spc()).map(str::to_owned),
                trusted: false,
            });
        }
        // 12: chain (E17).
        let all_crls: Vec<Crl>;
        let crls: &[Crl] = if extra_crls.is_empty() {
            &self.crls
        } else {
            all_crls = self.crls.iter().chain(extra_crls).cloned().collect();
            &all_crls
        };
        let missing: Vec<&CrlFailure> = self.crl_failures.iter().chain(crl_failures).collect();
        let hard = self.policy.chain.crl_required;
        // With a CRL missing under the hard policy, validate without
        // requiring coverage, then report the missing CRL by name.
        let relaxed;
        let chain_policy = if hard && !missing.is_empty() {
            relaxed = crate::cert::ChainPolicy {
                crl_required: false,
                ..self.policy.chain.clone()
            };
            &relaxed
        } else {
            &self.policy.chain
        };
        // CRLs that could not be fetched this time make the result
        // call-specific: no memo then.
        let bypass = !crl_failures.is_empty();
        let validated = self
            .validated_chain(chain, crls, extra_crls, bypass, now, chain_policy)
            .map_err(VerifyError::Chain)?;
        if let Some(first) = missing.first() {
            if hard {
                return Err(VerifyError::Chain(ChainError::CrlUnavailable {
                    subject: validated.leaf_subject.clone(),
                    url: first.url.clone(),
                    detail: first.detail.clone(),
                }));
            }
            for m in &missing {
                warnings.push(format!(
                    "CRL {} could not be obtained ({}); revocation was not checked against it (--crl-policy soft)",
                    m.url, m.detail
                ));
            }
        }
        *signer = Some(SignerInfo {
            subject: validated.leaf_subject.clone(),
            spc: validated.spc.clone(),
            trusted: true,
        });
        warnings.extend(validated.warnings.iter().cloned());
        // The token must have been signed while the certificate was valid.
        if let Some(leaf) = chain.first() {
            if claims.iat < leaf.not_before() || claims.iat > leaf.not_after() {
                return Err(VerifyError::SignedOutsideValidity {
                    iat: claims.iat,
                    subject: leaf.subject().to_owned(),
                    not_before: leaf.not_before(),
                    not_after: leaf.not_after(),
                });
            }
        }
        // TNAuthList: delegate certificates list the numbers they cover.
        if let Orig::Tn(_) = &claims.orig {
            let canonical = pending.orig_tn.to_string();
            if validated.tn_auth_list.authorizes(&canonical) == TnAuthorization::NotListed {
                return Err(VerifyError::TnNotAuthorized {
                    tn: canonical,
                    subject: validated.leaf_subject.clone(),
                });
            }
        }
        // 13: signature (E18), over the received bytes.
        if pending
            .passport
            .verify_signature(&validated.leaf_public_key)
            .is_err()
        {
            return Err(VerifyError::SignatureInvalid {
                subject: validated.leaf_subject.clone(),
            });
        }
        // JWT claim constraints of the end-entity certificate, on the claims
        // as received (now known to be the signer's).
        for c in &validated.claim_constraints {
            if let Err(v) = c.check(crate::passport::dangerous::payload_json(&pending.passport)) {
                return Err(VerifyError::ClaimConstraint {
                    subject: validated.leaf_subject.clone(),
                    detail: v.to_string(),
                });
            }
        }
        if let Some(store) = &self.replay {
            if let Err(r) = store.check_and_record(
                pending.passport.signing_input(),
                pending.call_id.as_deref(),
                now,
            ) {
                return Err(VerifyError::Replay {
                    age: r.age,
                    first_call_id: r.first_call_id,
                });
            }
        }
        Ok(validated)
    }

    /// Both stages with a chain the caller already holds (`--cert`).
    pub fn verify_with_chain(
        &self,
        identity: &IdentityHeader,
        ctx: &CallContext,
        chain: &[Certificate],
    ) -> Result<VerifiedPassport, Box<Failure>> {
        let pending = self.prepare(identity, ctx)?;
        self.complete(pending, Ok(chain), ctx.now)
    }

    /// Parse an Identity header value (or a bare full-form token, whose `x5u`
    /// then stands for `info`).
    pub fn parse_identity(&self, value: &str) -> Result<IdentityHeader, Box<Failure>> {
        parse_identity_or_token(value, &self.limits).map_err(|e| Box::new(Failure::bare(e)))
    }
}

/// Parse an Identity header value, or a bare full-form token whose `x5u` then
/// stands for `info`.
pub fn parse_identity_or_token(
    value: &str,
    limits: &Limits,
) -> Result<IdentityHeader, VerifyError> {
    let value = &*crate::identity::unpaste(value);
    let mut h = IdentityHeader::parse_one(value, limits)?;
    if h.info.is_none() && !value.contains(';') {
        if let Ok(Token::Full(p)) = Token::parse(&h.token, limits) {
            if let Ok(header) = p.header() {
                h.info = header.x5u.clone();
                h.ppt = header.ppt.clone();
            }
        }
    }
    Ok(h)
}

/// Build the report of a verification.
pub fn report(result: &Result<VerifiedPassport, Box<Failure>>) -> Report {
    match result {
        Ok(v) => Report {
            verstat: Verstat::Passed,
            attest: v.claims.attest,
            orig: Some(v.claims.orig.as_str().to_owned()),
            dest: v
                .claims
                .dest
                .tn
                .iter()
                .chain(v.claims.dest.uri.iter())
                .cloned()
                .collect(),
            origid: v.claims.origid.clone(),
            iat: Some(v.claims.iat),
            x5u: Some(v.x5u.clone()),
            ppt: v.header.ppt.clone(),
            reason: None,
            signer: Some(SignerInfo {
                subject: v.chain.leaf_subject.clone(),
                spc: v.chain.spc.clone(),
                trusted: true,
            }),
            warnings: v.warnings.clone(),
        },
        Err(f) => Report {
            verstat: f.error.verstat(),
            attest: f.claims.as_ref().and_then(|c| c.attest),
            orig: f.claims.as_ref().map(|c| c.orig.as_str().to_owned()),
            dest: f
                .claims
                .as_ref()
                .map(|c| c.dest.tn.iter().chain(c.dest.uri.iter()).cloned().collect())
                .unwrap_or_default(),
            origid: f.claims.as_ref().and_then(|c| c.origid.clone()),
            iat: f.claims.as_ref().map(|c| c.iat),
            x5u: f.x5u.clone(),
            ppt: f
                .header
                .as_ref()
                .and_then(|h| h.ppt.clone())
                .or_else(|| f.ppt.clone()),
            reason: Some(f.error.reason()),
            signer: f.signer.clone(),
            warnings: f.warnings.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::cert::parse_chain;
    use crate::crypto::KeySigner;
    use crate::passport::{sign, Attestation, Claims, Header};
    use crate::pki::{LabPki, LabPkiOptions, LeafOptions};

    const NOW: i64 = 1_800_000_000;
    const X5U: &str = "https://cr.example.net/sp.pem";

    struct Lab {
        pki: LabPki,
        verifier: Verifier,
        chain: Vec<Certificate>,
        leaf_key: String,
        serial: u64,
    }

    fn lab() -> Lab {
        let pki = LabPki::generate(&LabPkiOptions::new(NOW - 86_400, NOW + 86_400)).unwrap();
        let mut anchors = TrustAnchors::new();
        anchors.add_pem(pki.anchors_pem().as_bytes()).unwrap();
        let serial = 0x0123_4567_89ab_cdef;
        let mut lo = LeafOptions::new(NOW - 3600, NOW + 3600);
        lo.serial = Some(serial);
        let leaf = pki.issue_leaf(&lo).unwrap();
        let chain = parse_chain(
            format!("{}{}", leaf.cert_pem, pki.ca.cert_pem).as_bytes(),
            &Limits::default(),
        )
        .unwrap();
        Lab {
            verifier: Verifier::new(anchors),
            chain,
            leaf_key: leaf.key_pem,
            pki,
            serial,
        }
    }

    fn pending(lab: &Lab, origid: &str) -> Pending {
        let signer = KeySigner::from_pem(&lab.leaf_key).unwrap();
        let claims = Claims::shaken(
            Attestation::A,
            "12155550121",
            vec!["12125550143".into()],
            NOW,
            origid,
        );
        let token = sign(&Header::shaken(X5U), &claims, &signer).unwrap();
        let identity = IdentityHeader::shaken(token, X5U);
        lab.verifier
            .prepare(&identity, &CallContext::at(NOW))
            .unwrap()
    }

    /// A 10-digit claim is E.164 (`5012221234` = Belize +501 222 1234) or a
    /// national NANP number (+1 501 222 1234, Arkansas): the call decides.
    /// Reading it only the NANP way failed every such foreign call.
    #[test]
    fn ten_digit_claims_match_either_reading_the_call_gives() {
        let lab = lab();
        let signer = KeySigner::from_pem(&lab.leaf_key).unwrap();
        let claims = Claims::shaken(
            Attestation::A,
            "5012221234",
            vec!["2125550143".into()],
            NOW,
            "123e4567-e89b-12d3-a456-426614174000",
        );
        let token = sign(&Header::shaken(X5U), &claims, &signer).unwrap();
        let identity = IdentityHeader::shaken(token, X5U);
        let policy = TnPolicy::default();
        let ctx = |orig: &str, dest: &str| CallContext {
            now: NOW,
            orig: vec![PartyId::from_uri(orig, &policy)],
            dest: vec![PartyId::from_uri(dest, &policy)],
            date: None,
            call_id: None,
        };
        for (orig, dest) in [
            ("+5012221234", "+12125550143"),
            ("+15012221234", "+12125550143"),
            ("5012221234", "2125550143"),
            ("+5012221234", "+2125550143"),
        ] {
            lab.verifier
                .verify_with_chain(&identity, &ctx(orig, dest), &lab.chain)
                .unwrap_or_else(|f| panic!("{orig} -> {dest}: {}", f.error));
        }
        let e = lab
            .verifier
            .verify_with_chain(&identity, &ctx("+12155550121", "+12125550143"), &lab.chain)
            .unwrap_err();
        assert!(
            matches!(e.error, VerifyError::OrigMismatch { .. }),
            "{}",
            e.error
        );
        let e = lab
            .verifier
            .verify_with_chain(&identity, &ctx("+5012221234", "+442125550143"), &lab.chain)
            .unwrap_err();
        assert!(
            matches!(e.error, VerifyError::DestMismatch { .. }),
            "{}",
            e.error
        );
    }

    fn crl(lab: &Lab, revoked: &[u64]) -> Crl {
        let pem = lab.pki.issue_crl(revoked, NOW - 60, NOW + 3600).unwrap();
        Crl::from_pem_or_der(pem.as_bytes(), &Limits::default()).unwrap()
    }

    #[test]
    fn memo_never_serves_a_pass_across_a_new_crl() {
        let lab = lab();
        let empty = crl(&lab, &[]);
        let revoking = crl(&lab, &[lab.serial]);
        // Twice with the empty CRL: the second call is a memo hit.
        for origid in ["a", "b"] {
            let p = pending(&lab, origid);
            lab.verifier
                .complete_with_crls(p, Ok(&lab.chain), NOW, std::slice::from_ref(&empty), &[])
                .unwrap();
        }
        // A new CRL that revokes the leaf: never the memoised pass.
        let p = pending(&lab, "c");
        let err = lab
            .verifier
            .complete_with_crls(p, Ok(&lab.chain), NOW, std::slice::from_ref(&revoking), &[])
            .unwrap_err();
        assert_eq!(err.error.full_id(), "cert-revoked", "{}", err.error);
        // And without CRLs the chain memo still applies on its own key.
        let p = pending(&lab, "d");
        lab.verifier.complete(p, Ok(&lab.chain), NOW).unwrap();
    }

    #[test]
    fn memo_rechecks_the_time() {
        let lab = lab();
        let p = pending(&lab, "a");
        lab.verifier.complete(p, Ok(&lab.chain), NOW).unwrap();
        // The leaf expires at NOW + 3600: a memoised chain must not outlive it.
        let p = pending(&lab, "b");
        let err = lab
            .verifier
            .complete(p, Ok(&lab.chain), NOW + 7200)
            .unwrap_err();
        assert_eq!(err.error.full_id(), "cert-expired", "{}", err.error);
    }

    /// A leaf restricted by JWT claim constraints (`oid` .27 or .33).
    fn constrained(lab: &Lab, oid: &[u64], der: Vec<u8>) -> (Vec<Certificate>, String) {
        let (mut params, key) = lab
            .pki
            .leaf_params(&LeafOptions::new(NOW - 3600, NOW + 3600))
            .unwrap();
        params
            .custom_extensions
            .push(rcgen::CustomExtension::from_oid_content(oid, der));
        let leaf = lab.pki.issue_custom(params, &key).unwrap();
        let chain = parse_chain(
            format!("{}{}", leaf.cert_pem, lab.pki.ca.cert_pem).as_bytes(),
            &Limits::default(),
        )
        .unwrap();
        (chain, leaf.key_pem)
    }

    fn verify_attest(
        lab: &Lab,
        chain: &[Certificate],
        key: &str,
        attest: Attestation,
    ) -> Result<VerifiedPassport, Box<Failure>> {
        let signer = KeySigner::from_pem(key).unwrap();
        let claims = Claims::shaken(attest, "12155550121", vec!["12125550143".into()], NOW, "o");
        let token = sign(&Header::shaken(X5U), &claims, &signer).unwrap();
        let identity = IdentityHeader::shaken(token, X5U);
        lab.verifier
            .verify_with_chain(&identity, &CallContext::at(NOW), chain)
    }

    #[test]
    fn claim_constraints_of_the_certificate_are_enforced() {
        use crate::cert::claim_constraints::ClaimConstraints;
        let lab = lab();
        // RFC 9118: a gateway-only delegate that must never carry rcd.
        let c = ClaimConstraints {
            must_include: vec![],
            permitted_values: vec![("attest".into(), vec!["C".into()])],
            must_exclude: vec!["rcd".into()],
        };
        let (chain, key) = constrained(&lab, &[1, 3, 6, 1, 5, 5, 7, 1, 33], c.to_der().unwrap());
        verify_attest(&lab, &chain, &key, Attestation::C).unwrap();
        let err = verify_attest(&lab, &chain, &key, Attestation::A).unwrap_err();
        assert_eq!(err.error.id(), "claim-constraint-violated", "{}", err.error);
        assert_eq!(err.error.sip_code(), 438);
        assert_eq!(err.error.verstat(), Verstat::Failed);
        assert!(
            err.error.to_string().contains("\"attest\""),
            "{}",
            err.error
        );
        // A malformed constraints extension makes the certificate unusable.
        let (chain, key) = constrained(&lab, &[1, 3, 6, 1, 5, 5, 7, 1, 27], vec![0x30, 0x00]);
        let err = verify_attest(&lab, &chain, &key, Attestation::C).unwrap_err();
        assert_eq!(
            err.error.full_id(),
            "cert-bad-claim-constraints",
            "{}",
            err.error
        );
    }

    /// A verification time from hostile input (a batch line's `"time":
    /// -9223372036854775808`) overflowed `-age`: a panic in debug builds, a
    /// skipped future check in release builds.
    #[test]
    fn extreme_verification_times_fail_without_overflow() {
        let lab = lab();
        let signer = KeySigner::from_pem(&lab.leaf_key).unwrap();
        let claims = Claims::shaken(
            Attestation::A,
            "12155550121",
            vec!["12125550143".into()],
            NOW,
            "123e4567-e89b-12d3-a456-426655440000",
        );
        let token = sign(&Header::shaken(X5U), &claims, &signer).unwrap();
        let identity = IdentityHeader::shaken(token, X5U);
        let e = lab
            .verifier
            .verify_with_chain(&identity, &CallContext::at(i64::MIN), &lab.chain)
            .unwrap_err();
        assert!(
            matches!(
                e.error,
                VerifyError::Future {
                    ahead: i64::MAX,
                    ..
                }
            ),
            "{}",
            e.error
        );
        let e = lab
            .verifier
            .verify_with_chain(&identity, &CallContext::at(i64::MAX), &lab.chain)
            .unwrap_err();
        assert!(matches!(e.error, VerifyError::Stale { .. }), "{}", e.error);
    }

    #[test]
    fn ids_are_unique() {
        let samples = [
            VerifyError::NoIdentity,
            VerifyError::CompactForm,
            VerifyError::InfoMissing,
            VerifyError::SignatureInvalid {
                subject: String::new(),
            },
            VerifyError::Replay {
                age: 0,
                first_call_id: String::new(),
            },
            VerifyError::Stale {
                iat: 0,
                now: 0,
                age: 0,
                max: 0,
            },
            VerifyError::Future {
                iat: 0,
                now: 0,
                ahead: 0,
                max: 0,
            },
            VerifyError::DateMismatch {
                date: 0,
                iat: 0,
                diff: 0,
                max: 0,
            },
            VerifyError::OrigMismatch {
                passport: String::new(),
                expected: String::new(),
            },
            VerifyError::DestMismatch {
                passport: String::new(),
                expected: String::new(),
            },
            VerifyError::AlgUnsupported {
                alg: String::new(),
                location: "",
            },
            VerifyError::TypInvalid { typ: String::new() },
            VerifyError::X5uMismatch {
                x5u: String::new(),
                info: String::new(),
            },
            VerifyError::TnNotAuthorized {
                tn: String::new(),
                subject: String::new(),
            },
        ];
        let mut seen = std::collections::HashSet::new();
        for e in &samples {
            assert!(seen.insert(e.id()), "duplicate id {}", e.id());
            assert!([403, 428, 436, 437, 438].contains(&e.sip_code()));
        }
    }
}
