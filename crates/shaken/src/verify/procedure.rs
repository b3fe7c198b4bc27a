//! The verification procedure: [`Verifier::prepare`] (stage 1, no
//! certificate needed) and [`Verifier::complete`] (stage 2, the chain, the
//! TNAuthList, the signature, replay).
//!
//! The checks run in the order of specs §5.1, which follows the ATIS-1000082
//! error cases E1..E19 (ARCHITECTURE.md "Verification order"); read
//! `prepare_inner` and then `stage2` top-down, one comment per step:
//!
//! | step | check | error case | SIP |
//! |---|---|---|---|
//! | 1 | Identity header parsed (`parse_identity_or_token`), token decodes ([`Token::parse`]) | - | 438 |
//! | 2 | not the compact form | E4 | 438 |
//! | 3 | `ppt` is `shaken` or `rcd` (header and Identity parameter) | E5/E13 | 438 |
//! | 4 | `info` present and a fetchable URL | E6/E7 | 436 |
//! | 6 | header has `typ` and `x5u` (and `alg`) | E9 | 436 |
//! | 7 | `x5u` equals `info` | E10 | 436 |
//! | 8 | `typ` is `passport` | E11 | 437 |
//! | 9 | `alg` is ES256 | E12 | 437 |
//! | 10 | claims present and typed, SHAKEN claims, `attest` in A/B/C | E14/E19 | 438 |
//! | 10b | Rich Call Data follows RFC 9795 §5 (`rcd-invalid`) | - | 438 |
//! | 11 | `orig`/`dest` match the call | E16 | 438 |
//! | 14 | `iat` fresh, SIP `Date` close to `iat` | E15 | 403 |
//! | 5 | *the caller obtains the certificate* (between the stages) | E8 | 436 |
//! | 12 | chain valid at `now`, not revoked | E17 | 437 |
//! | 12a | `iat` inside the certificate validity | - | 403 |
//! | 12b | TNAuthList covers `orig` | - | 438 |
//! | 13 | signature over the received bytes | E18 | 438 |
//! | 13a | JWT claim constraints of the certificate | - | 438 |
//! | 13b | replay | - | 438 |
//!
//! Step 14 (freshness) runs in stage 1 so that a stale token never costs a
//! fetch; the numbers are those of specs §5.1.

use super::context::{CallContext, CrlFailure, PartyId, VerifyPolicy};
use super::error::{Failure, VerifyError};
use super::memo::{crl_fingerprints, ChainMemo};
use super::{DEST_NOT_COMPARED, ORIG_NOT_COMPARED};
use crate::cert::{
    validate_chain, Certificate, ChainError, Crl, TnAuthorization, TrustAnchors, ValidatedChain,
};
use crate::identity::IdentityHeader;
use crate::passport::{
    Attestation, Claims, ClaimsError, Header, HeaderError, Orig, Token, UnverifiedPassport,
    ALG_ES256, PPT_SHAKEN, TYP_PASSPORT,
};
use crate::report::SignerInfo;
use crate::tn::TelephoneNumber;
use crate::Limits;
use std::sync::Arc;

/// What stage 1 learned: the decoded PASSporT and where its certificate is.
#[derive(Debug, Clone)]
pub struct Pending {
    pub(super) passport: UnverifiedPassport,
    pub(super) header: Header,
    pub(super) claims: Claims,
    /// The certificate URL (`x5u` == `info`).
    pub x5u: String,
    /// Warnings so far.
    pub warnings: Vec<String>,
    pub(super) call_id: Option<String>,
    /// The calling number as the call reads the `orig` claim (for a div
    /// PASSporT, its `div` number: what the TNAuthList must cover).
    pub(super) orig_tn: TelephoneNumber,
    /// The Rich Call Data claims (RFC 9795), read in step 10b.
    pub(super) rcd: Option<crate::rcd::RcdClaims>,
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

impl Pending {
    /// The failure of this PASSporT with `error`, after stage 2 added
    /// `more` warnings to its own.
    fn into_failure(
        self,
        error: VerifyError,
        signer: Option<SignerInfo>,
        more: Vec<String>,
    ) -> Failure {
        let Pending {
            header,
            claims,
            x5u,
            mut warnings,
            ..
        } = self;
        warnings.extend(more);
        Failure {
            error,
            ppt: header.ppt.clone(),
            claims: Some(claims),
            header: Some(header),
            x5u: Some(x5u),
            signer,
            warnings,
        }
    }
}

/// A PASSporT in the middle of stage 2: its chain validated and its
/// TNAuthList covers the call, and the signature is what is left
/// ([`Verifier::complete_until_signature`], then
/// [`Verifier::complete_signature`]).
pub struct SignatureStep {
    pending: Pending,
    validated: Arc<ValidatedChain>,
    /// SHA-256 of the signing input, for the signature and the replay store.
    digest: crate::crypto::Prehashed,
    /// The warnings of stage 2 so far.
    warnings: Vec<String>,
    /// The signature's verdict, once checked.
    verified: Option<bool>,
}

impl SignatureStep {
    /// Step 13 (E18): whether the signature verifies over the received
    /// bytes with the certificate's key. Checked once; a second call
    /// returns the first answer.
    pub fn check_signature(&mut self) -> bool {
        *self.verified.get_or_insert_with(|| {
            let input = self.pending.passport.signing_input().as_bytes();
            self.validated
                .leaf_public_key
                .verify_prehashed(input, &self.digest, self.pending.passport.signature())
                .is_ok()
        })
    }
}

impl std::fmt::Debug for SignatureStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureStep")
            .field("x5u", &self.pending.x5u)
            .field("verified", &self.verified)
            .finish_non_exhaustive()
    }
}

/// A PASSporT whose signature, certificate and claims all checked out.
#[derive(Debug, Clone)]
pub struct VerifiedPassport {
    /// The header.
    pub(crate) header: Header,
    /// The claims, now trusted.
    pub(crate) claims: Claims,
    /// The validated chain (signer subject, SPC, TNAuthList).
    pub(crate) chain: Arc<ValidatedChain>,
    /// The certificate URL.
    pub x5u: String,
    /// `header.payload` as received (the replay key; never the signature).
    pub(crate) signing_input: String,
    /// The raw `r || s` (a replay store asked after the fact keys by it too).
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    pub(crate) signature: crate::crypto::RawSignature,
    /// Warnings.
    pub(crate) warnings: Vec<String>,
    /// The Rich Call Data claims (RFC 9795), now trusted.
    pub(crate) rcd: Option<crate::rcd::RcdClaims>,
    /// The content fetched for their digests (empty: nothing fetched).
    pub(crate) rcd_content: crate::rcd::RcdContent,
}

impl VerifiedPassport {
    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }
    /// The claims, now trusted.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }
    /// The validated chain (signer subject, SPC, TNAuthList).
    pub fn chain(&self) -> &Arc<ValidatedChain> {
        &self.chain
    }
    /// The certificate URL.
    pub fn x5u(&self) -> &str {
        &self.x5u
    }
    /// `header.payload` as received (the replay key; never the signature).
    pub fn signing_input(&self) -> &str {
        &self.signing_input
    }
    /// Things worth knowing that did not fail the call.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
    /// The Rich Call Data claims (RFC 9795), if any: signed, well formed and
    /// inside the certificate's claim constraints. Their digests are checked
    /// by [`crate::verify::report_with_content`].
    pub fn rcd(&self) -> Option<&crate::rcd::RcdClaims> {
        self.rcd.as_ref()
    }
    /// Attach the content fetched for the `rcdi` digests (the caller's I/O,
    /// e.g. `StiVs` with `fetch_rcd`): [`crate::verify::report()`] then
    /// checks them.
    pub fn with_rcd_content(mut self, content: crate::rcd::RcdContent) -> Self {
        self.rcd_content = content;
        self
    }
}

impl VerifiedPassport {
    /// The attestation level.
    pub fn attestation(&self) -> Option<Attestation> {
        self.claims.attest
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
pub(super) fn check_url(info: &str) -> Result<(), VerifyError> {
    // Calls from one signer name the same URL: the last one this thread
    // accepted is accepted again without parsing it (a URI parse and three
    // allocations a call). Only a pass is remembered, so every error is
    // still the parser's.
    thread_local! {
        static LAST_GOOD: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    if LAST_GOOD.with_borrow(|last| !last.is_empty() && last == info) {
        return Ok(());
    }
    check_url_parsed(info)?;
    if info.len() <= 1024 {
        LAST_GOOD.with_borrow_mut(|last| {
            last.clear();
            last.push_str(info);
        });
    }
    Ok(())
}

fn check_url_parsed(info: &str) -> Result<(), VerifyError> {
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
    /// `replay_dir::DirReplayStore` shared by the worker processes
    /// of one host.
    pub fn with_replay_guard(
        mut self,
        guard: std::sync::Arc<dyn crate::replay::ReplayGuard>,
    ) -> Self {
        self.replay = Some(guard);
        self
    }
    /// This verifier without replay detection (anchors, CRLs, policy,
    /// limits and the chain memo shared): for looking at a PASSporT
    /// without recording it as a call, as an inspection page does.
    pub fn without_replay(&self) -> Verifier {
        Verifier {
            replay: None,
            ..self.clone()
        }
    }
    /// The replay guard, when replay detection is on (a service that
    /// rebuilds its verifier keeps the same one, so a reload forgets no
    /// PASSporT).
    pub fn replay_guard(&self) -> Option<&std::sync::Arc<dyn crate::replay::ReplayGuard>> {
        self.replay.as_ref()
    }
    /// A replay store sized for this verifier's freshness window.
    pub fn default_replay_store(&self) -> crate::replay::ReplayStore {
        crate::replay::ReplayStore::new(
            self.policy.max_age + self.policy.max_future,
            crate::replay::DEFAULT_CAPACITY,
        )
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
}

/// How far stage 2 got with the signer: the chain was there (and perhaps
/// validated), and perhaps its key verified the signature. Made into a
/// [`SignerInfo`] only for a failure's report (a verification that passes
/// copies no subject or SPC for it).
struct SignerSeen {
    validated: Option<Arc<ValidatedChain>>,
    signature_verified: bool,
}

impl SignerSeen {
    fn info(self, leaf: Option<&Certificate>) -> Option<SignerInfo> {
        Some(match self.validated {
            Some(v) => SignerInfo {
                subject: v.leaf_subject.clone(),
                spc: v.spc.clone(),
                trusted: true,
                signature_verified: self.signature_verified,
            },
            None => {
                let leaf = leaf?;
                SignerInfo {
                    subject: leaf.subject().to_owned(),
                    spc: leaf.tn_auth_list().and_then(|t| t.spc()).map(str::to_owned),
                    trusted: false,
                    signature_verified: self.signature_verified,
                }
            }
        })
    }
}

/// The procedure, top-down: stage 1, stage 2, then their helpers.
impl Verifier {
    /// Stage 1: everything that needs no certificate.
    pub fn prepare(
        &self,
        identity: &IdentityHeader,
        ctx: &CallContext,
    ) -> Result<Pending, Box<Failure>> {
        self.prepare_inner(identity, ctx)
            .map_err(|e| Box::new(self.failure_for(identity, e)))
    }

    /// Stage 1, in order: steps 1-4, 6-11 and 14 (module docs).
    fn prepare_inner(
        &self,
        identity: &IdentityHeader,
        ctx: &CallContext,
    ) -> Result<Pending, VerifyError> {
        let fail = ();
        let err = |_: (), e: VerifyError| e;
        // Step 1: the token decodes (strict base64url, strict JSON,
        // 64-byte signature); the Identity header itself was parsed by the caller.
        // Step 2 (E4): not the compact form.
        // The header and the claims are read in the same pass (each JSON
        // text parsed once); they are checked in the steps below.
        let (passport, header, claims) =
            match Token::decode(&identity.token, &self.limits, &self.policy.claims) {
                Ok(crate::passport::Decoded::Full {
                    passport,
                    header,
                    claims,
                }) => (passport, header, claims),
                Ok(crate::passport::Decoded::Compact) => {
                    return Err(err(fail, VerifyError::CompactForm))
                }
                Err(e) => return Err(err(fail, VerifyError::TokenMalformed(e))),
            };
        // Step 2b: the header is a typed JOSE header; forbidden key parameters
        // (jwk, kid, x5c, crit...) are refused here (RFC 8725 §3.1, specs §7).
        let header = match header {
            Ok(h) => h,
            Err(HeaderError::Missing { param }) => {
                return Err(err(fail, VerifyError::HeaderParamMissing { param }))
            }
            Err(e) => return Err(err(fail, VerifyError::HeaderInvalid(e))),
        };
        // The claims were decoded (unverified) with the header, so a failure
        // report can show them.
        // Step 3 (E5/E13): ppt is "shaken", in the header and the Identity parameter.
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
            (_, Some(h)) if h != PPT_SHAKEN && h != crate::rcd::PPT_RCD => {
                return Err(err(
                    fail,
                    VerifyError::UnsupportedPpt {
                        found: format!("{h:?}"),
                    },
                ))
            }
            _ => {}
        }
        // Step 4 (E6/E7): info is present and a fetchable URL.
        // (Step 5, E8, obtaining the certificate, is the caller's: between the stages.)
        let Some(info) = identity.info.as_deref() else {
            return Err(err(fail, VerifyError::InfoMissing));
        };
        if let Err(e) = check_url(info) {
            return Err(err(fail, e));
        }
        // Step 6 (E9): the header has typ and x5u (alg was required by the decoder).
        if header.typ.is_none() {
            return Err(err(fail, VerifyError::HeaderParamMissing { param: "typ" }));
        }
        let Some(x5u) = header.x5u.clone() else {
            return Err(err(fail, VerifyError::HeaderParamMissing { param: "x5u" }));
        };
        // Step 7 (E10): x5u equals info.
        if self.policy.require_x5u_equals_info && x5u != info {
            return Err(err(
                fail,
                VerifyError::X5uMismatch {
                    x5u,
                    info: info.to_owned(),
                },
            ));
        }
        // Step 8 (E11): typ is "passport".
        if header.typ.as_deref() != Some(TYP_PASSPORT) {
            let typ = header.typ.clone().unwrap_or_default();
            return Err(err(fail, VerifyError::TypInvalid { typ }));
        }
        // Step 9 (E12): alg is ES256, in the header and in the Identity parameter.
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
        // Step 10 (E14, E19): the claims are present and typed, the SHAKEN
        // claims are present, attest is A, B or C, orig and dest are tn.
        let claims = match claims {
            Ok(c) => c,
            Err(ClaimsError::BadAttest { value }) => {
                return Err(err(fail, VerifyError::AttestInvalid { value }))
            }
            Err(e) => return Err(err(fail, VerifyError::ClaimsInvalid(e))),
        };
        let mut warnings = Vec::new();
        // A separate Rich Call Data PASSporT (RFC 9795 §8) has no SHAKEN claims.
        let ppt_rcd = header.ppt.as_deref() == Some(crate::rcd::PPT_RCD);
        if claims.attest.is_none() && !ppt_rcd {
            return Err(err(
                fail,
                VerifyError::ShakenClaimMissing { claim: "attest" },
            ));
        }
        match &claims.origid {
            None if ppt_rcd => {}
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
        // Step 10b: the Rich Call Data claims follow RFC 9795 §5 (438
        // rcd-invalid, naming the member).
        let rcd = match crate::rcd::RcdClaims::from_claims(&claims.extra, ppt_rcd) {
            Ok(r) => r,
            Err(e) => return Err(err(fail, VerifyError::RcdInvalid(e))),
        };
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
        // Step 11 (E16): orig and dest match the call.
        // A claim's digits are E.164, but a 10-digit claim may be a national
        // NANP number: the call's numbers decide which reading the signer meant.
        let matched = ctx.orig.iter().find_map(|p| match p {
            PartyId::Tn(t) if orig_claim.matches(t) => Some(t.clone()),
            _ => None,
        });
        let orig_matched = matched.is_some();
        let orig_tn = matched.unwrap_or_else(|| orig_claim.preferred().clone());
        if !ctx.orig.is_empty() && !orig_matched {
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
        // A check the caller skipped is said, not hidden: without the call's
        // numbers a PASSporT lifted from another call would pass.
        if ctx.orig.is_empty() {
            warnings.push(format!(
                "{ORIG_NOT_COMPARED}: no calling number was given, so the PASSporT's orig was not compared with the call"
            ));
        }
        if ctx.dest.is_empty() {
            warnings.push(format!(
                "{DEST_NOT_COMPARED}: no called number was given, so the PASSporT's dest was not compared with the call"
            ));
        }
        // Step 14 (E15): iat is fresh, and the SIP Date is close to iat. Run in
        // stage 1 so that a stale token never costs a fetch.
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
            rcd,
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
        let step = self.complete_until_signature(pending, chain, now, extra_crls, crl_failures)?;
        self.complete_signature(step, now)
    }

    /// Stage 2 up to the signature (steps 5-12b): the chain validated at
    /// `now`, the token signed inside its validity, the TNAuthList covers
    /// the calling number. [`complete_signature`](Self::complete_signature)
    /// does the rest; between the two, [`SignatureStep::check_signature`]
    /// may be called for many calls back to back (`verify --batch` does,
    /// per chunk of lines, so that the ES256 work keeps the CPU's caches and
    /// branch predictors to itself). The verdict is the same either way:
    /// [`complete_with_crls`](Self::complete_with_crls) is these two calls.
    pub fn complete_until_signature(
        &self,
        pending: Pending,
        chain: Result<&[Certificate], VerifyError>,
        now: i64,
        extra_crls: &[Crl],
        crl_failures: &[CrlFailure],
    ) -> Result<SignatureStep, Box<Failure>> {
        let mut warnings = Vec::new();
        let mut signer = None;
        let leaf: Option<&Certificate> = chain.as_ref().ok().copied().and_then(|c| c.first());
        match self.stage2_chain(
            &pending,
            chain,
            now,
            extra_crls,
            crl_failures,
            &mut warnings,
            &mut signer,
        ) {
            Ok(validated) => {
                let digest =
                    crate::crypto::Prehashed::of(pending.passport.signing_input().as_bytes());
                Ok(SignatureStep {
                    pending,
                    validated,
                    digest,
                    warnings,
                    verified: None,
                })
            }
            Err(error) => {
                // Attribution: a call that failed after its certificate was
                // examined (untrusted or revoked chain, signed outside the
                // validity, TN not authorised) still names its signer when the
                // certificate's key verifies the signature.
                let signer = signer.and_then(|mut s: SignerSeen| {
                    s.signature_verified = leaf
                        .and_then(Certificate::public_key_point)
                        .is_some_and(|k| pending.passport.verify_signature(k).is_ok());
                    s.info(leaf)
                });
                Err(Box::new(pending.into_failure(error, signer, warnings)))
            }
        }
    }

    /// The end of stage 2 (steps 13-13b): the signature (unless
    /// [`SignatureStep::check_signature`] already checked it), the claim
    /// constraints of the certificate, replay.
    pub fn complete_signature(
        &self,
        mut step: SignatureStep,
        now: i64,
    ) -> Result<VerifiedPassport, Box<Failure>> {
        // A replay store that answers over the network (Redis) is asked
        // first, so that its answer arrives while the signature is checked.
        let in_flight = self.replay.as_ref().and_then(|store| {
            store.begin(
                step.pending.passport.signing_input(),
                step.pending.passport.signature(),
                step.pending.call_id.as_deref(),
                now,
            )
        });
        let verified = step.check_signature();
        let SignatureStep {
            pending,
            validated,
            digest,
            mut warnings,
            ..
        } = step;
        let fail = |pending: Pending, error, warnings, signature_verified| {
            let signer = SignerSeen {
                validated: Some(Arc::clone(&validated)),
                signature_verified,
            };
            Err(Box::new(pending.into_failure(
                error,
                signer.info(None),
                warnings,
            )))
        };
        // Step 13 (E18): the signature verifies, over the received bytes.
        if !verified {
            let subject = validated.leaf_subject.clone();
            return fail(
                pending,
                VerifyError::SignatureInvalid { subject },
                warnings,
                false,
            );
        }
        // Step 13a: the JWT claim constraints of the end-entity certificate
        // (RFC 8226 §8, RFC 9118), on the claims as received (now known to be
        // the signer's).
        for c in &validated.claim_constraints {
            if let Err(v) = c.check(crate::passport::dangerous::payload_json(&pending.passport)) {
                let error = VerifyError::ClaimConstraint {
                    subject: validated.leaf_subject.clone(),
                    detail: v.to_string(),
                };
                return fail(pending, error, warnings, true);
            }
        }
        // Step 13b: not a replay (only a PASSporT that verified is recorded).
        if let Some(store) = &self.replay {
            use crate::replay::ReplayCheck;
            let check = match in_flight {
                Some(f) => f.finish(),
                None => store.check_prehashed(
                    pending.passport.signing_input(),
                    digest.bytes(),
                    pending.call_id.as_deref(),
                    now,
                ),
            };
            let error = match check {
                ReplayCheck::Fresh => None,
                ReplayCheck::Replayed(r) => Some(VerifyError::Replay {
                    age: r.age,
                    first_call_id: r.first_call_id,
                }),
                ReplayCheck::Unchecked { warning } => {
                    warnings.push(warning);
                    None
                }
                ReplayCheck::Unavailable { detail } => {
                    Some(VerifyError::ReplayUnavailable { detail })
                }
            };
            if let Some(error) = error {
                return fail(pending, error, warnings, true);
            }
        }
        let Pending {
            passport,
            header,
            claims,
            x5u,
            warnings: mut all,
            call_id: _,
            orig_tn: _,
            rcd,
        } = pending;
        all.extend(warnings);
        let signing_input = passport.signing_input().to_owned();
        Ok(VerifiedPassport {
            header,
            claims,
            chain: validated,
            x5u,
            signing_input,
            signature: *passport.signature(),
            warnings: all,
            rcd,
            rcd_content: crate::rcd::RcdContent::new(),
        })
    }

    /// Stage 2 up to the signature, in order: the result of step 5, then
    /// steps 12-12b.
    #[allow(clippy::too_many_arguments)]
    fn stage2_chain(
        &self,
        pending: &Pending,
        chain: Result<&[Certificate], VerifyError>,
        now: i64,
        extra_crls: &[Crl],
        crl_failures: &[CrlFailure],
        warnings: &mut Vec<String>,
        signer: &mut Option<SignerSeen>,
    ) -> Result<Arc<ValidatedChain>, VerifyError> {
        // Step 5 (E8): the certificate the caller obtained, or why it could not be.
        let chain = chain?;
        let claims = &pending.claims;
        if !chain.is_empty() {
            *signer = Some(SignerSeen {
                validated: None,
                signature_verified: false,
            });
        }
        // Step 12 (E17): the chain leads to a trust anchor at `now` and is not
        // revoked (CRLs of the verifier and of this call).
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
        // The validation depends on the CRLs this call has and on whether
        // it was relaxed, both part of the memo's key; the missing CRLs are
        // reported below, per call.
        let relaxed = hard && !missing.is_empty();
        let validated = self
            .validated_chain(chain, crls, extra_crls, relaxed, now, chain_policy)
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
                    "CRL {} could not be obtained ({}); revocation was not checked against it (soft CRL policy)",
                    m.url, m.detail
                ));
            }
        }
        *signer = Some(SignerSeen {
            validated: Some(Arc::clone(&validated)),
            signature_verified: false,
        });
        warnings.extend(validated.warnings.iter().cloned());
        // Step 12a: the token was signed while the certificate was valid.
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
        // Step 12b: the TNAuthList covers orig (delegate certificates list the
        // numbers they cover).
        if let Orig::Tn(_) = &claims.orig {
            let canonical = pending.orig_tn.as_str();
            if validated.tn_auth_list.authorizes(canonical) == TnAuthorization::NotListed {
                return Err(VerifyError::TnNotAuthorized {
                    tn: canonical.to_owned(),
                    subject: validated.leaf_subject.clone(),
                });
            }
        }
        Ok(validated)
    }

    /// Step 13b for a PASSporT verified by a verifier without a replay
    /// guard ([`Verifier::without_replay`]) whose caller then asked the guard
    /// itself, asynchronously ([`crate::ReplayGuard::check_async`]): the same
    /// verdicts as the inline step.
    pub fn settle_replay(
        &self,
        verified: VerifiedPassport,
        check: crate::replay::ReplayCheck,
    ) -> Result<VerifiedPassport, Box<Failure>> {
        use crate::replay::ReplayCheck;
        let error = match check {
            ReplayCheck::Fresh => return Ok(verified),
            ReplayCheck::Unchecked { warning } => {
                let mut v = verified;
                v.warnings.push(warning);
                return Ok(v);
            }
            ReplayCheck::Replayed(r) => VerifyError::Replay {
                age: r.age,
                first_call_id: r.first_call_id,
            },
            ReplayCheck::Unavailable { detail } => VerifyError::ReplayUnavailable { detail },
        };
        let VerifiedPassport {
            header,
            claims,
            chain,
            x5u,
            warnings,
            ..
        } = verified;
        Err(Box::new(Failure {
            error,
            ppt: header.ppt.clone(),
            claims: Some(claims),
            header: Some(header),
            x5u: Some(x5u),
            // A replay of a PASSporT whose signature verified: attributed.
            signer: Some(SignerInfo {
                subject: chain.leaf_subject.clone(),
                spc: chain.spc.clone(),
                trusted: true,
                signature_verified: true,
            }),
            warnings,
        }))
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

    /// Attribution of a call that failed before its certificate was needed
    /// (orig or dest mismatch, stale, dated in the future, SIP Date mismatch:
    /// [`Failure::needs_attribution`]): when the end-entity certificate of
    /// `chain` verifies the PASSporT's signature, fill `failure.signer` with
    /// it (`signature_verified`, and `trusted` when the chain leads to a trust
    /// anchor at `now`). The verdict is not changed. Returns whether the
    /// signer was established.
    pub fn attribute(
        &self,
        identity: &IdentityHeader,
        failure: &mut Failure,
        chain: &[Certificate],
        now: i64,
    ) -> bool {
        if !failure.needs_attribution() {
            return false;
        }
        let Some(leaf) = chain.first() else {
            return false;
        };
        let Ok(Token::Full(passport)) = Token::parse(&identity.token, &self.limits) else {
            return false;
        };
        let verified = leaf
            .public_key_point()
            .is_some_and(|k| passport.verify_signature(k).is_ok());
        if !verified {
            return false;
        }
        let trusted = self
            .validated_chain(chain, &self.crls, &[], false, now, &self.policy.chain)
            .ok();
        failure.signer = Some(match trusted {
            Some(v) => SignerInfo {
                subject: v.leaf_subject.clone(),
                spc: v.spc.clone(),
                trusted: true,
                signature_verified: true,
            },
            None => SignerInfo {
                subject: leaf.subject().to_owned(),
                spc: leaf.tn_auth_list().and_then(|t| t.spc()).map(str::to_owned),
                trusted: false,
                signature_verified: true,
            },
        });
        true
    }

    /// Parse an Identity header value (or a bare full-form token, whose `x5u`
    /// then stands for `info`).
    pub fn parse_identity(&self, value: &str) -> Result<IdentityHeader, Box<Failure>> {
        parse_identity_or_token(value, &self.limits).map_err(|e| Box::new(Failure::bare(e)))
    }

    /// What a failure report shows: the header and claims as far as they
    /// decode (unverified). Built only on the failure path, so a passing call
    /// never copies them.
    pub(super) fn failure_for(&self, identity: &IdentityHeader, error: VerifyError) -> Failure {
        let mut fail = Failure::bare(error);
        fail.ppt = identity.ppt.clone();
        if let Ok(Token::Full(p)) = Token::parse(&identity.token, &self.limits) {
            if let Ok(h) = p.header() {
                fail.x5u = identity.info.clone().or_else(|| h.x5u.clone());
                fail.header = Some(h);
                fail.claims =
                    crate::passport::dangerous::claims(&p, &self.limits, &self.policy.claims).ok();
            }
        }
        fail
    }

    /// Chain validations answered from the memo so far.
    #[cfg(test)]
    pub(super) fn memo_hits(&self) -> u64 {
        self.memo.hits()
    }

    /// Use this memo of validated chains (tests: a small one).
    #[cfg(test)]
    pub(super) fn with_memo(mut self, memo: super::memo::ChainMemo) -> Self {
        self.memo = Arc::new(memo);
        self
    }

    /// The chain for this verification: from the memo when this exact chain
    /// already validated and `now` is inside its validity (and before the next
    /// CRL update), else a full validation.
    #[allow(clippy::too_many_arguments)]
    fn validated_chain(
        &self,
        chain: &[Certificate],
        crls: &[Crl],
        extra_crls: &[Crl],
        relaxed: bool,
        now: i64,
        policy: &crate::cert::ChainPolicy,
    ) -> Result<Arc<ValidatedChain>, ChainError> {
        let fingerprints = crl_fingerprints(extra_crls);
        if let Some(v) = self.memo.get(chain, &fingerprints, relaxed, now) {
            return Ok(v);
        }
        let v = Arc::new(validate_chain(chain, &self.anchors, crls, now, policy)?);
        self.memo.put(chain, fingerprints, relaxed, v.clone(), crls);
        Ok(v)
    }

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
}

/// Parse an Identity header value, or a bare full-form token whose `x5u` then
/// stands for `info`.
pub fn parse_identity_or_token(
    value: &str,
    limits: &Limits,
) -> Result<IdentityHeader, VerifyError> {
    let value = &*crate::identity::unpaste(value);
    // No Identity value at all: an unsigned call (428 no-identity), not a
    // malformed one.
    if value.trim().is_empty() {
        return Err(VerifyError::NoIdentity);
    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::cert::parse_chain;
    use crate::crypto::KeySigner;
    use crate::passport::sign;
    use crate::pki::LeafOptions;
    use crate::report::Verstat;
    use crate::tn::TnPolicy;
    use crate::verify::test_lab::{lab, Lab, NOW, X5U};

    fn lab_identity(lab: &Lab, orig: &str) -> IdentityHeader {
        let signer = KeySigner::from_pem(&lab.leaf_key).unwrap();
        let claims = Claims::shaken(
            Attestation::A,
            orig,
            vec!["12125550143".into()],
            NOW,
            "123e4567-e89b-12d3-a456-426614174000",
        );
        IdentityHeader::shaken(sign(&Header::shaken(X5U), &claims, &signer).unwrap(), X5U)
    }

    fn call(orig: &str, now: i64) -> CallContext {
        let policy = TnPolicy::default();
        CallContext {
            now,
            orig: vec![PartyId::from_uri(orig, &policy)],
            dest: vec![PartyId::from_uri("12125550143", &policy)],
            date: None,
            call_id: None,
        }
    }

    /// The staged form of stage 2 (`complete_until_signature`, the
    /// signatures checked together, then `complete_signature` in call order)
    /// gives the verdicts of `complete`: a forged signature fails unattributed,
    /// and of two calls carrying one PASSporT, both staged before either
    /// finished, the one finished second is the replay.
    #[test]
    fn signatures_checked_together_give_the_verdicts_of_one_by_one() {
        let lab = lab();
        let store = Arc::new(lab.verifier.default_replay_store());
        let verifier = lab.verifier.without_replay().with_replay(store);
        let id = lab_identity(&lab, "12155550121");
        let forged = forged_header(&id);
        let stage = |id: &IdentityHeader, time: i64| {
            let mut ctx = call("12155550121", NOW);
            ctx.call_id = Some(format!("call-{time}"));
            let pending = verifier.prepare(id, &ctx).unwrap();
            verifier
                .complete_until_signature(pending, Ok(&lab.chain), NOW, &[], &[])
                .unwrap()
        };
        let mut steps = vec![stage(&id, 1), stage(&forged, 2), stage(&id, 3)];
        let verdicts: Vec<bool> = steps
            .iter_mut()
            .map(SignatureStep::check_signature)
            .collect();
        assert_eq!(verdicts, [true, false, true]);
        // Checked once: asking again gives the same answer.
        assert!(steps[0].check_signature());
        let mut results = steps
            .into_iter()
            .map(|s| verifier.complete_signature(s, NOW))
            .collect::<Vec<_>>()
            .into_iter();
        let first = results.next().unwrap().unwrap();
        assert!(matches!(first.claims().orig, Orig::Tn(_)), "{first:?}");
        let forged = results.next().unwrap().unwrap_err();
        assert_eq!(forged.error.id(), "signature-invalid");
        assert!(!forged.signer.unwrap().signature_verified);
        let again = results.next().unwrap().unwrap_err();
        assert_eq!(again.error.id(), "replay");
        assert!(again.signer.unwrap().signature_verified);
        // And one by one, with a fresh store, the same three verdicts.
        let store = Arc::new(lab.verifier.default_replay_store());
        let verifier = lab.verifier.without_replay().with_replay(store);
        let ids: Vec<String> = [(&id, 1), (&forged_header(&id), 2), (&id, 3)]
            .iter()
            .map(|(id, time)| {
                let mut ctx = call("12155550121", NOW);
                ctx.call_id = Some(format!("call-{time}"));
                match verifier.verify_with_chain(id, &ctx, &lab.chain) {
                    Ok(_) => "pass".to_owned(),
                    Err(f) => f.error.id().to_owned(),
                }
            })
            .collect();
        assert_eq!(ids, ["pass", "signature-invalid", "replay"]);
    }

    fn forged_header(id: &IdentityHeader) -> IdentityHeader {
        let mut parts: Vec<String> = id.token.split('.').map(str::to_owned).collect();
        parts[2] = crate::b64::encode(&[7u8; 64]);
        IdentityHeader::shaken(parts.join("."), X5U)
    }

    /// Issue 20: a spoofed calling number (or a stale PASSporT) with a
    /// valid signature still names its signer, marked as attributed; a
    /// broken signature names nobody.
    #[test]
    fn stage_one_failures_are_attributed_to_the_signer() {
        let lab = lab();
        let id = lab_identity(&lab, "12155550121");
        for (ctx, reason) in [
            (call("12025550199", NOW), "orig-mismatch"),
            (call("12155550121", NOW + 3000), "iat-stale"),
        ] {
            let mut f = lab
                .verifier
                .verify_with_chain(&id, &ctx, &lab.chain)
                .unwrap_err();
            assert_eq!(f.error.id(), reason);
            assert!(f.signer.is_none(), "stage 1 examined no certificate");
            assert!(f.needs_attribution());
            assert!(lab.verifier.attribute(&id, &mut f, &lab.chain, ctx.now));
            let s = f.signer.clone().unwrap();
            assert!(s.signature_verified && s.attributed());
            assert!(
                s.trusted,
                "{reason}: the lab chain is trusted at {}",
                ctx.now
            );
            assert!(s.subject.contains("SHAKEN"), "{s:?}");
            let r = crate::verify::report(&Err(f));
            assert_eq!(r.reason.unwrap().id, reason);
            assert!(r.signer.unwrap().signature_verified);
        }
        // A broken signature: not attributed.
        let mut parts: Vec<String> = id.token.split('.').map(str::to_owned).collect();
        parts[2] = crate::b64::encode(&[7u8; 64]);
        let forged = IdentityHeader::shaken(parts.join("."), X5U);
        let ctx = call("12025550199", NOW);
        let mut f = lab
            .verifier
            .verify_with_chain(&forged, &ctx, &lab.chain)
            .unwrap_err();
        assert!(!lab.verifier.attribute(&forged, &mut f, &lab.chain, NOW));
        assert!(f.signer.is_none());
        // Not for failures that do not decode.
        let mut f = Failure::new(VerifyError::NoIdentity);
        assert!(!f.needs_attribution());
        assert!(!lab.verifier.attribute(&id, &mut f, &lab.chain, NOW));
    }

    /// A call whose chain fails (here: no trust anchor) but whose signature
    /// verifies with the certificate is attributed, untrusted; a tampered
    /// payload is not.
    #[test]
    fn certificate_failures_say_whether_the_signature_verified() {
        let lab = lab();
        let untrusting = Verifier::new(TrustAnchors::new());
        let id = lab_identity(&lab, "12155550121");
        let f = untrusting
            .verify_with_chain(&id, &call("12155550121", NOW), &lab.chain)
            .unwrap_err();
        let s = f.signer.unwrap();
        assert!(s.signature_verified && !s.trusted, "{s:?}");
        let mut parts: Vec<String> = id.token.split('.').map(str::to_owned).collect();
        parts[2] = crate::b64::encode(&[7u8; 64]);
        let forged = IdentityHeader::shaken(parts.join("."), X5U);
        let f = lab
            .verifier
            .verify_with_chain(&forged, &call("12155550121", NOW), &lab.chain)
            .unwrap_err();
        assert_eq!(f.error.id(), "signature-invalid");
        assert!(!f.signer.unwrap().signature_verified);
    }

    #[test]
    fn an_empty_identity_is_an_unsigned_call() {
        for v in ["", "  ", "Identity: "] {
            let e = parse_identity_or_token(v, &Limits::default()).unwrap_err();
            assert_eq!(e.id(), "no-identity", "{v:?}");
            assert_eq!(e.sip_code(), 428);
        }
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

    #[test]
    fn a_skipped_comparison_is_a_warning() {
        let lab = lab();
        let signer = KeySigner::from_pem(&lab.leaf_key).unwrap();
        let claims = Claims::shaken(
            Attestation::A,
            "12155550121",
            vec!["12125550143".into()],
            NOW,
            "123e4567-e89b-12d3-a456-426614174000",
        );
        let token = sign(&Header::shaken(X5U), &claims, &signer).unwrap();
        let identity = IdentityHeader::shaken(token, X5U);
        let ids = |ctx: &CallContext| -> Vec<String> {
            lab.verifier
                .verify_with_chain(&identity, ctx, &lab.chain)
                .unwrap()
                .warnings
                .iter()
                .filter_map(|w| w.split_once(':').map(|(id, _)| id.to_owned()))
                .collect()
        };
        assert_eq!(
            ids(&CallContext::at(NOW)),
            [ORIG_NOT_COMPARED, DEST_NOT_COMPARED]
        );
        let both = CallContext::for_call(NOW, "12155550121", &["12125550143"]).unwrap();
        assert!(ids(&both).is_empty());
        let mut no_dest = both.clone();
        no_dest.dest.clear();
        assert_eq!(ids(&no_dest), [DEST_NOT_COMPARED]);
    }

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
}
