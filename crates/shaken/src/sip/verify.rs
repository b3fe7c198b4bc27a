//! Verification of whole SIP requests (RFC 8224, RFC 9410,
//! ATIS-1000074 §5.3.1), pure and sans-I/O; signing is `sign.rs`.
//!
//! What comes from where:
//! - `orig` candidates: every `P-Asserted-Identity` value (a tel and a sip
//!   PAI may both be present; any match is enough), else `From`;
//! - `dest`: the `To` header (never the Request-URI);
//! - the `Date` header, checked against `iat` (403 when they differ by more
//!   than the freshness window);
//! - the `Call-ID`, so that a forked INVITE (same Identity, same Call-ID) is
//!   not taken for a replay.
//!
//! Every Identity header is verified and reported on its own
//! ([`PassportResult`]); the call's verdict comes from the `shaken`
//! PASSporT(s) only, so a valid `div` or `rcd` PASSporT never hides a broken
//! `shaken` one. PASSporTs of a type this verifier does not handle are
//! reported as unsupported and do not fail the call.
//!
//! The certificate chain for an `x5u` comes from the caller (`chain_for`): a
//! local file, a cache or a fetch. The clock is passed in.

use std::sync::Arc;

use super::{SipError, SipRequest};
use crate::cert::Certificate;
use crate::div::{check_chain, is_div_ppt, ChainEntry, Diversion};
use crate::identity::IdentityHeader;
use crate::passport::{SignError, PPT_SHAKEN};
use crate::report::{reason_phrase, Reason, Report, Verstat};
use crate::tn::{TnError, TnPolicy};
use crate::verify::{
    self, CallContext, Failure, PartyId, Pending, VerifiedPassport, Verifier, VerifyError,
};

/// Why the call context could not be derived, or a request could not be signed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SipVerifyError {
    /// A header the procedure needs (From, To, P-Asserted-Identity, Date) is
    /// missing, repeated or malformed.
    #[error("SIP {header} header: {source}")]
    Header {
        /// The header (long form).
        header: &'static str,
        /// What the SIP reader found.
        #[source]
        source: SipError,
    },
    /// The identity to sign for is not a telephone number (SHAKEN signs only
    /// `tn` identities).
    #[error("cannot sign: {header} {uri:?} is not a telephone number ({source}); SHAKEN signs only telephone numbers")]
    NotTn {
        /// Where the identity came from (`P-Asserted-Identity`, `From` or `To`).
        header: &'static str,
        /// The URI.
        uri: String,
        /// Why it is not a number.
        #[source]
        source: TnError,
    },
    /// The request's `Date` is too far from the `iat` to sign with
    /// (RFC 8224 §6.1: the AS must not sign when Date is off).
    #[error("cannot sign: the Date header ({date}) differs from iat ({iat}) by {diff} s; at most {max} s are allowed (pass an iat close to the Date, or fix the Date)")]
    DateOff {
        /// The Date header (Unix seconds).
        date: i64,
        /// The iat to sign.
        iat: i64,
        /// |date - iat|.
        diff: i64,
        /// [`SIGN_DATE_WINDOW`](super::SIGN_DATE_WINDOW).
        max: i64,
    },
    /// `iat` is negative.
    #[error("cannot sign: iat {iat} is negative")]
    NegativeIat {
        /// The value.
        iat: i64,
    },
    /// The signer failed.
    #[error("signing failed: {0}")]
    Sign(#[from] SignError),
}

/// The id and SIP code are [`SipVerifyError::id`] and
/// [`SipVerifyError::sip_code`]; a call whose context cannot be read is
/// `No-TN-Validation`.
impl crate::diagnostic::Diagnostic for SipVerifyError {
    fn id(&self) -> &'static str {
        SipVerifyError::id(self)
    }
    fn sip_code(&self) -> Option<u16> {
        Some(SipVerifyError::sip_code(self))
    }
    fn verstat(&self) -> Option<Verstat> {
        Some(Verstat::NoValidation)
    }
}

impl SipVerifyError {
    /// Stable kebab-case identifier (used as the reason id when the call
    /// context cannot be derived).
    pub fn id(&self) -> &'static str {
        match self {
            SipVerifyError::Header { header: "Date", .. } => "sip-date-invalid",
            SipVerifyError::Header { header: "To", .. } => "sip-to-invalid",
            SipVerifyError::Header {
                header: "P-Asserted-Identity",
                ..
            } => "sip-pai-invalid",
            SipVerifyError::Header { .. } => "sip-from-invalid",
            SipVerifyError::NotTn { .. } => "sip-not-tn",
            SipVerifyError::DateOff { .. } => "sip-date-off",
            SipVerifyError::NegativeIat { .. } => "iat-negative",
            SipVerifyError::Sign(_) => "sign-failed",
        }
    }

    /// The SIP code to answer with when verification cannot start because of
    /// this error: 403 for an unreadable Date (freshness cannot be checked),
    /// 438 otherwise (the identity the PASSporT must match is unreadable).
    pub fn sip_code(&self) -> u16 {
        match self {
            SipVerifyError::Header { header: "Date", .. } | SipVerifyError::DateOff { .. } => 403,
            SipVerifyError::Header { .. }
            | SipVerifyError::NotTn { .. }
            | SipVerifyError::NegativeIat { .. }
            | SipVerifyError::Sign(_) => 438,
        }
    }

    fn reason(&self) -> Reason {
        let code = self.sip_code();
        Reason {
            code,
            text: reason_phrase(code).to_owned(),
            detail: self.to_string(),
            id: self.id().to_owned(),
        }
    }
}

pub(super) fn header_err(header: &'static str) -> impl FnOnce(SipError) -> SipVerifyError {
    move |source| SipVerifyError::Header { header, source }
}

/// Derive the call context: orig candidates = every P-Asserted-Identity value
/// (tel and sip), else From; dest = To; date = Date header; call_id; `now` as
/// given. Numbers are canonicalised with `tn` ([`PartyId::from_uri`]); a URI
/// that is not a number stays a [`PartyId::Uri`] (and then cannot match a
/// SHAKEN `tn` claim).
pub fn call_context(
    req: &SipRequest,
    now: i64,
    tn: &TnPolicy,
) -> Result<CallContext, SipVerifyError> {
    let pai = req
        .p_asserted_identities()
        .map_err(header_err("P-Asserted-Identity"))?;
    let from = req.from().map_err(header_err("From"))?;
    let to = req.to().map_err(header_err("To"))?;
    let date = req.date().map_err(header_err("Date"))?;
    let orig = if pai.is_empty() {
        vec![PartyId::from_uri(&from.uri, tn)]
    } else {
        pai.iter().map(|p| PartyId::from_uri(&p.uri, tn)).collect()
    };
    Ok(CallContext {
        now,
        orig,
        dest: vec![PartyId::from_uri(&to.uri, tn)],
        date,
        call_id: req.call_id().map(str::to_owned),
    })
}

/// The verification of one Identity header.
///
/// In JSON, `ppt` appears once (the report's `ppt`, which always equals
/// [`PassportResult::ppt`]): a JSON object never carries a key twice.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(from = "PassportResultJson")]
pub struct PassportResult {
    /// Position among the request's Identity values (0-based, in order,
    /// comma-separated values counted one by one).
    pub index: usize,
    /// The PASSporT type: the header `ppt`, else the Identity `ppt`
    /// parameter (the same as `report.ppt`).
    #[serde(skip)]
    pub ppt: Option<String>,
    /// Whether this verifier handles the type (`shaken`). Unsupported
    /// PASSporTs are reported but never fail the call.
    pub supported: bool,
    /// The verification report of this PASSporT.
    #[serde(flatten)]
    pub report: Report,
}

/// The JSON form of [`PassportResult`] (its `ppt` is the report's).
#[derive(serde::Deserialize)]
struct PassportResultJson {
    index: usize,
    supported: bool,
    #[serde(flatten)]
    report: Report,
}

impl From<PassportResultJson> for PassportResult {
    fn from(j: PassportResultJson) -> Self {
        PassportResult {
            index: j.index,
            ppt: j.report.ppt.clone(),
            supported: j.supported,
            report: j.report,
        }
    }
}

/// What to signal downstream for the call.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SipSignal {
    /// The URI parameter to add to P-Asserted-Identity/From, e.g.
    /// `;verstat=TN-Validation-Passed` (3GPP TS 24.229).
    pub verstat_param: String,
    /// For failures, the `Reason` header line to send in the next response
    /// (RFC 8224 §6.2.2, RFC 9410), e.g.
    /// `Reason: SIP ;cause=438 ;text="Invalid Identity Header"`.
    pub reason_header: Option<String>,
}

/// The verification of a whole SIP request.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SipReport {
    /// The call's verdict, from the `shaken` PASSporT (all the fields of
    /// `verify --format json`).
    #[serde(flatten)]
    pub overall: Report,
    /// One entry per Identity header value (RFC 9410), in order.
    pub passports: Vec<PassportResult>,
    /// What to signal downstream.
    pub sip: SipSignal,
    /// The Call-ID, if any.
    pub call_id: Option<String>,
    /// The From URI, if readable.
    pub from: Option<String>,
    /// The To URI, if readable.
    pub to: Option<String>,
    /// The `div` chain (RFC 8946 §4.2), when the call carries `div` or
    /// `div-o` PASSporTs; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diversion: Option<Diversion>,
}

impl SipReport {
    /// Whether the call's verdict is `TN-Validation-Passed`.
    pub fn passed(&self) -> bool {
        self.overall.passed()
    }
}

/// The report of a message that is not a SIP request this reader accepts
/// (`error` says why): nothing was verified, so the verdict is
/// `No-TN-Validation` with reason `sip-malformed` (400, what a SIP stack
/// answers to a request it cannot parse, RFC 3261 §21.4.1). No `Reason`
/// header: a message that cannot be parsed is not forwarded.
pub fn malformed_request_report(error: &dyn std::fmt::Display) -> SipReport {
    SipReport {
        overall: bare_report(
            Reason {
                code: 400,
                text: "Bad Request".into(),
                detail: format!("not a SIP request this tool can read: {error}"),
                id: "sip-malformed".into(),
            },
            None,
        ),
        passports: vec![],
        sip: SipSignal {
            verstat_param: format!(";verstat={}", Verstat::NoValidation),
            reason_header: None,
        },
        call_id: None,
        from: None,
        to: None,
        diversion: None,
    }
}

/// A report with only a verdict and a reason (nothing was decoded).
fn bare_report(reason: Reason, ppt: Option<String>) -> Report {
    Report {
        verstat: Verstat::NoValidation,
        attest: None,
        orig: None,
        dest: vec![],
        origid: None,
        iat: None,
        x5u: None,
        ppt,
        reason: Some(reason),
        signer: None,
        warnings: vec![],
        rcd: None,
    }
}

/// Whether this verifier handles the PASSporT: its declared type (the
/// header's `ppt` once decoded, before that the Identity parameter) is
/// `shaken`, `div`, `div-o` or absent. A `ppt` mismatch between the two
/// counts as a broken `shaken` PASSporT, so that it can never be waved
/// through as "unsupported".
fn is_supported(result: &Result<VerifiedPassport, Box<Failure>>) -> bool {
    match result {
        // A verified `ppt=rcd` PASSporT carries the caller's name, not the
        // call's verdict.
        Ok(v) => v.header().ppt.as_deref() != Some(crate::rcd::PPT_RCD),
        Err(f) => {
            let declared = match &f.header {
                Some(h) => h.ppt.as_deref(),
                None => f.ppt.as_deref(),
            };
            matches!(f.error, VerifyError::PptMismatch { .. })
                || declared.is_none_or(|p| p == PPT_SHAKEN || is_div_ppt(Some(p)))
        }
    }
}

/// Verify every Identity header of `req` at `now`. `chain_for(x5u)` returns
/// the chain for a URL (from `--cert`, the cache, or a fetch: the caller's
/// I/O); it is called only for PASSporTs that pass every check that needs
/// no certificate.
///
/// The overall verdict: no Identity header gives 428 `No-TN-Validation`; else
/// it is the report of the first `shaken` PASSporT that passes or, if none
/// passes, of the first `shaken` one. When no PASSporT is of a supported
/// type the call is treated as unsigned (428, `no-shaken-passport`).
/// `div` PASSporTs (RFC 8946) are checked as a chain ([`SipReport::diversion`]).
pub fn verify_request<F>(
    verifier: &Verifier,
    req: &SipRequest,
    now: i64,
    mut chain_for: F,
) -> SipReport
where
    F: FnMut(&str) -> Result<Arc<Vec<Certificate>>, VerifyError>,
{
    verify_request_staged(verifier, req, now, |pending, ctx| {
        match chain_for(&pending.x5u) {
            Ok(chain) => verifier.complete(pending, Ok(chain.as_slice()), ctx.now),
            Err(e) => verifier.complete(pending, Err(e), ctx.now),
        }
    })
}

/// [`verify_request`] with the whole per-PASSporT verification supplied by
/// the caller: `verify_identity(identity, ctx)` runs both stages however the
/// caller gets certificates and CRLs. `verifier` supplies the limits and the
/// TN policy used to read the SIP headers. The callback gets every PASSporT,
/// `div` ones included: a callback that verifies only shaken PASSporTs
/// ([`Verifier::prepare`]) leaves every div hop failed (`ppt-unsupported`);
/// use [`verify_request_staged`] to verify diverted calls.
pub fn verify_request_with<V>(
    verifier: &Verifier,
    req: &SipRequest,
    now: i64,
    mut verify_identity: V,
) -> SipReport
where
    V: FnMut(&IdentityHeader, &CallContext) -> Result<VerifiedPassport, Box<Failure>>,
{
    verify_core(verifier, req, now, &mut |identity, ctx, _| {
        verify_identity(identity, ctx)
    })
}

/// [`verify_request`] where the procedure runs stage 1 of each PASSporT
/// itself ([`Verifier::prepare`] for shaken ones, [`Verifier::prepare_div`]
/// for `div`/`div-o`, including the PASSporTs nested in `opt`) and the
/// caller completes it: `complete(pending, ctx)` gets the chain for
/// `pending.x5u` (a file, the cache, a fetch) and calls
/// [`Verifier::complete`]. The calls depend only on the request, so a caller
/// may run the procedure twice: once to learn what to fetch, once to answer.
pub fn verify_request_staged<C>(
    verifier: &Verifier,
    req: &SipRequest,
    now: i64,
    mut complete: C,
) -> SipReport
where
    C: FnMut(Pending, &CallContext) -> Result<VerifiedPassport, Box<Failure>>,
{
    verify_core(verifier, req, now, &mut |identity, ctx, div| {
        let pending = if div {
            verifier.prepare_div(identity, ctx)?
        } else {
            verifier.prepare(identity, ctx)?
        };
        complete(pending, ctx)
    })
}

/// [`verify_request`] with the whole per-PASSporT verification supplied by
/// the caller, told which kind each PASSporT is: `verify(identity, ctx,
/// div)` with `div` true for a `div`/`div-o` PASSporT (verify it with
/// [`Verifier::prepare_div`]; its `ctx` is the call's, and its `orig`/`dest`
/// are the chain's to compare) and false for the others (as
/// [`verify_request_with`]; in a diverted call their `ctx` has no `dest`:
/// the called numbers are compared after the chain). The calls depend only
/// on the request.
pub fn verify_request_kinds<V>(
    verifier: &Verifier,
    req: &SipRequest,
    now: i64,
    mut verify: V,
) -> SipReport
where
    V: FnMut(&IdentityHeader, &CallContext, bool) -> Result<VerifiedPassport, Box<Failure>>,
{
    verify_core(verifier, req, now, &mut verify)
}

/// The declared type of an Identity value: its `ppt` parameter, else the
/// header's (read without verifying).
fn declared_ppt(identity: &IdentityHeader, limits: &crate::Limits) -> Option<String> {
    if identity.ppt.is_some() {
        return identity.ppt.clone();
    }
    match crate::passport::Token::parse(&identity.token, limits) {
        Ok(crate::passport::Token::Full(p)) => p.header().ok().and_then(|h| h.ppt),
        _ => None,
    }
}

type VerifyOne<'a> =
    dyn FnMut(&IdentityHeader, &CallContext, bool) -> Result<VerifiedPassport, Box<Failure>> + 'a;

/// The verification of several Identity values of one call (a SIP
/// request's, a `--batch` request's, a REST request's): one report per
/// value, the caller-ID verdict, and the `div` chain.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct IdentitiesReport {
    /// The call's verdict, from a shaken PASSporT (a top-level one, else one
    /// nested in a `div-o`'s `opt`).
    #[serde(flatten)]
    pub overall: Report,
    /// One entry per Identity value, in order.
    pub passports: Vec<PassportResult>,
    /// The `div` chain (RFC 8946 §4.2), when there are `div`/`div-o`
    /// PASSporTs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diversion: Option<Diversion>,
}

/// Verify several Identity values of one call (any order) against `ctx`:
/// each PASSporT on its own (stage 1 here, `complete` for stage 2, as
/// [`verify_request_staged`]), then the `div` chain, which must end at
/// `target` (the Request-URI; `None`: the first of `ctx.dest`). A called
/// number (`ctx.dest`, `target`) that the shaken `dest` does not hold passes
/// only through a valid chain.
pub fn verify_identities_staged<C>(
    verifier: &Verifier,
    values: &[&str],
    ctx: &CallContext,
    target: Option<&PartyId>,
    mut complete: C,
) -> IdentitiesReport
where
    C: FnMut(Pending, &CallContext) -> Result<VerifiedPassport, Box<Failure>>,
{
    verify_identities_kinds(verifier, values, ctx, target, |identity, ctx, div| {
        let pending = if div {
            verifier.prepare_div(identity, ctx)?
        } else {
            verifier.prepare(identity, ctx)?
        };
        complete(pending, ctx)
    })
}

/// [`verify_identities_staged`] with the whole per-PASSporT verification
/// supplied by the caller, as [`verify_request_kinds`].
pub fn verify_identities_kinds<V>(
    verifier: &Verifier,
    values: &[&str],
    ctx: &CallContext,
    target: Option<&PartyId>,
    mut verify: V,
) -> IdentitiesReport
where
    V: FnMut(&IdentityHeader, &CallContext, bool) -> Result<VerifiedPassport, Box<Failure>>,
{
    let target = target.or_else(|| ctx.dest.first()).cloned();
    let (passports, nested, diversion) =
        verify_values(verifier, values, ctx, target.as_ref(), &mut verify);
    IdentitiesReport {
        overall: overall_verdict(&passports, &nested),
        passports,
        diversion,
    }
}

type Verified = (Vec<PassportResult>, Vec<PassportResult>, Option<Diversion>);

/// One PASSporT verified: where it was, whether it is nested in a div-o's
/// `opt`, the result and its report.
struct Done {
    index: usize,
    nested: bool,
    result: Result<VerifiedPassport, Box<Failure>>,
    report: Report,
}

fn claims_of(r: &Result<VerifiedPassport, Box<Failure>>) -> Option<&crate::passport::Claims> {
    match r {
        Ok(v) => Some(v.claims()),
        Err(f) => f.claims.as_ref(),
    }
}

/// Each value verified, the PASSporTs nested in `div-o`s (for the verdict
/// only), and the chain.
fn verify_values(
    verifier: &Verifier,
    values: &[&str],
    ctx: &CallContext,
    target: Option<&PartyId>,
    verify_one: &mut VerifyOne<'_>,
) -> Verified {
    let limits = verifier.limits();
    let parsed: Vec<Result<IdentityHeader, crate::identity::IdentityError>> = values
        .iter()
        .map(|v| IdentityHeader::parse(v, limits))
        .collect();
    let kinds: Vec<Option<String>> = parsed
        .iter()
        .map(|p| p.as_ref().ok().and_then(|h| declared_ppt(h, limits)))
        .collect();
    // A diverted call (RFC 8946 §4.2): the shaken PASSporT's dest is compared
    // with the called numbers after the chain is known, not before.
    let diverted = kinds.iter().any(|k| is_div_ppt(k.as_deref()));
    let shaken_ctx;
    let shaken_ctx = if diverted {
        shaken_ctx = CallContext {
            dest: vec![],
            ..ctx.clone()
        };
        &shaken_ctx
    } else {
        ctx
    };
    let mut done: Vec<Done> = Vec::with_capacity(values.len());
    for (index, parsed) in parsed.iter().enumerate() {
        let kind = kinds.get(index).and_then(|k| k.as_deref());
        let is_div = is_div_ppt(kind);
        let identity = match parsed {
            Ok(identity) => identity,
            Err(e) => {
                let result = Err(Box::new(Failure::from(VerifyError::IdentityMalformed(
                    e.clone(),
                ))));
                let report = verify::report(&result);
                done.push(Done {
                    index,
                    nested: false,
                    result,
                    report,
                });
                continue;
            }
        };
        let mut result = verify_one(identity, if is_div { ctx } else { shaken_ctx }, is_div);
        let mut nested = Vec::new();
        if kind == Some(crate::div::PPT_DIV_O) {
            // A div-o carries the previous PASSporT in `opt`: verify each
            // nested one as well.
            match verify::nested_opt(identity, limits, limits.max_div) {
                Ok(list) => {
                    for n in list {
                        let d = is_div_ppt(n.ppt.as_deref());
                        let r = verify_one(&n, if d { ctx } else { shaken_ctx }, d);
                        let report = verify::report(&r);
                        nested.push(Done {
                            index,
                            nested: true,
                            result: r,
                            report,
                        });
                    }
                }
                Err(e) => {
                    let mut f = match result {
                        Err(f) => f,
                        Ok(_) => Box::new(Failure::new(VerifyError::NoIdentity)),
                    };
                    f.error = VerifyError::Div(e);
                    result = Err(f);
                }
            }
        }
        let report = verify::report(&result);
        done.push(Done {
            index,
            nested: false,
            result,
            report,
        });
        done.extend(nested);
    }
    let diversion = if diverted {
        let policy = crate::div::ChainPolicy {
            tn: &verifier.policy().tn,
            max_div: limits.max_div,
        };
        let entries: Vec<ChainEntry<'_>> = done
            .iter()
            .map(|d| ChainEntry {
                index: d.index,
                claims: claims_of(&d.result),
                report: &d.report,
            })
            .collect();
        check_chain(&entries, target, &policy)
    } else {
        None
    };
    let mut passports = Vec::with_capacity(values.len());
    let mut nested_results = Vec::new();
    for d in &mut done {
        let shaken = d.report.ppt.as_deref() == Some(PPT_SHAKEN);
        if let (Some(div), true) = (&diversion, shaken) {
            let policy = crate::div::ChainPolicy {
                tn: &verifier.policy().tn,
                max_div: limits.max_div,
            };
            settle_called_numbers(
                &mut d.report,
                claims_of(&d.result),
                ctx,
                target,
                div,
                &policy,
            );
        }
        if d.nested && !shaken {
            continue;
        }
        let result = PassportResult {
            index: d.index,
            ppt: d.report.ppt.clone(),
            supported: is_supported(&d.result),
            report: std::mem::replace(&mut d.report, Report::unverified()),
        };
        if d.nested {
            nested_results.push(result);
        } else {
            passports.push(result);
        }
    }
    (passports, nested_results, diversion)
}

fn verify_core(
    verifier: &Verifier,
    req: &SipRequest,
    now: i64,
    verify_one: &mut VerifyOne<'_>,
) -> SipReport {
    let limits = verifier.limits();
    let values = req.identity_headers();
    let ctx = call_context(req, now, &verifier.policy().tn);
    let (passports, nested, diversion) = match &ctx {
        Ok(ctx) => {
            let target = PartyId::from_uri(req.request_uri(), &verifier.policy().tn);
            verify_values(verifier, &values, ctx, Some(&target), verify_one)
        }
        Err(e) => {
            // The identities to compare with are unreadable: every PASSporT
            // fails with that reason.
            let passports = values
                .iter()
                .enumerate()
                .map(|(index, value)| {
                    let ppt = IdentityHeader::parse(value, limits)
                        .ok()
                        .and_then(|h| h.ppt);
                    let supported = ppt
                        .as_deref()
                        .is_none_or(|p| p == PPT_SHAKEN || is_div_ppt(Some(p)));
                    PassportResult {
                        index,
                        ppt: ppt.clone(),
                        supported,
                        report: bare_report(e.reason(), ppt),
                    }
                })
                .collect();
            (passports, vec![], None)
        }
    };
    let mut overall = overall_verdict(&passports, &nested);
    rcd_for_call(&mut overall, &passports, req);
    let sip = SipSignal {
        verstat_param: format!(";verstat={}", overall.verstat),
        reason_header: overall.reason_header(),
    };
    SipReport {
        overall,
        passports,
        sip,
        call_id: req.call_id().map(str::to_owned),
        from: req.from().ok().map(|n| n.uri),
        to: req.to().ok().map(|n| n.uri),
        diversion,
    }
}

/// In a diverted call the shaken PASSporTs were verified without comparing
/// `dest`: compare it now with the called numbers (To, and the Request-URI
/// when it is a number). A called number the shaken `dest` does not hold
/// passes only through a valid chain ending at the Request-URI; otherwise
/// the PASSporT fails `dest-mismatch` (438) as it would without a div.
fn settle_called_numbers(
    report: &mut Report,
    claims: Option<&crate::passport::Claims>,
    ctx: &CallContext,
    target: Option<&PartyId>,
    diversion: &Diversion,
    policy: &crate::div::ChainPolicy<'_>,
) {
    let mut called: Vec<&PartyId> = ctx.dest.iter().collect();
    if let Some(t @ PartyId::Tn(_)) = target {
        called.push(t);
    }
    report
        .warnings
        .retain(|w| !w.starts_with(verify::DEST_NOT_COMPARED));
    if !report.passed() {
        return;
    }
    let Some(claims) = claims else {
        return;
    };
    {
        let missing: Vec<&PartyId> = called
            .iter()
            .copied()
            .filter(|c| !crate::div::dest_holds_party(&claims.dest, c, policy.tn))
            .collect();
        let Some(first) = missing.first() else {
            return;
        };
        let describe = |c: &PartyId| match c {
            PartyId::Tn(t) => t.to_string(),
            PartyId::Uri(u) => u.clone(),
        };
        if diversion.is_valid() {
            report.warnings.push(format!(
                "dest-through-div: the called number {} is not in this PASSporT's dest; it passed through the valid div chain ({} hop{})",
                describe(first),
                diversion.hops.len(),
                if diversion.hops.len() == 1 { "" } else { "s" }
            ));
        } else {
            let error = VerifyError::DestMismatch {
                passport: report.dest.join(", "),
                expected: describe(first),
            };
            let mut reason = error.reason();
            let why = diversion
                .reason
                .as_ref()
                .map_or_else(String::new, |r| format!(": {} ({})", r.id, r.detail));
            reason.detail = format!(
                "{}; no valid div chain ends at the Request-URI (div chain {}{why})",
                reason.detail,
                diversion.verdict.as_str()
            );
            report.verstat = error.verstat();
            report.reason = Some(reason);
        }
    }
}

/// The call's Rich Call Data: the `rcd` claims of the chosen `shaken`
/// PASSporT, else those of a separate `ppt=rcd` PASSporT (the first that
/// passed, else the first); then `nam` compared with the From display name
/// (or, when From has none, the P-Asserted-Identity one; RFC 9795 §12.2)
/// and the RFC 9796 `Call-Info` lines to pass on.
fn rcd_for_call(overall: &mut Report, passports: &[PassportResult], req: &SipRequest) {
    if overall.rcd.is_none() {
        let separate: Vec<&PassportResult> = passports
            .iter()
            .filter(|p| p.ppt.as_deref() == Some(crate::rcd::PPT_RCD) && p.report.rcd.is_some())
            .collect();
        let chosen = separate
            .iter()
            .find(|p| p.report.passed())
            .or_else(|| separate.first());
        if let Some(p) = chosen {
            overall.rcd = p.report.rcd.clone();
            let call_passed = overall.verstat == Verstat::Passed;
            let call_reason = overall.reason.as_ref().map(|r| r.id.clone());
            if let Some(rcd) = overall.rcd.as_mut() {
                // A name is never vouched for on a call whose caller ID
                // did not pass, whatever its own PASSporT says.
                if !call_passed {
                    rcd.untrust(format!(
                        "the call's shaken PASSporT did not pass ({})",
                        call_reason.as_deref().unwrap_or("no-shaken-passport")
                    ));
                }
                rcd.fill_call_info(p.report.passed() && call_passed);
            }
        }
    } else if let Some(rcd) = overall.rcd.as_mut() {
        rcd.fill_call_info(overall.verstat == Verstat::Passed);
    }
    let Some(rcd) = overall.rcd.as_mut() else {
        return;
    };
    let from = req.from().ok().and_then(|n| n.display_name);
    let pai = req
        .p_asserted_identities()
        .ok()
        .and_then(|v| v.into_iter().find_map(|n| n.display_name));
    match (from, pai) {
        (None, Some(p)) => rcd.compare_display_name("P-Asserted-Identity", Some(&p)),
        (f, _) => rcd.compare_display_name("From", f.as_deref()),
    }
}

fn overall_verdict(passports: &[PassportResult], nested: &[PassportResult]) -> Report {
    if passports.is_empty() {
        return verify::report(&Err(Box::new(Failure::from(VerifyError::NoIdentity))));
    }
    // The caller-ID verdict is a shaken PASSporT's: a div never decides. A
    // shaken PASSporT nested in a div-o's opt counts after the top-level ones.
    let supported: Vec<&PassportResult> = passports
        .iter()
        .filter(|p| p.supported && !is_div_ppt(p.ppt.as_deref()))
        .chain(
            nested
                .iter()
                .filter(|p| p.ppt.as_deref() == Some(PPT_SHAKEN)),
        )
        .collect();
    let chosen = supported
        .iter()
        .find(|p| p.report.passed())
        .or_else(|| supported.first());
    let Some(chosen) = chosen else {
        let found = passports
            .iter()
            .map(|p| p.ppt.as_deref().unwrap_or("(none)"))
            .collect::<Vec<_>>()
            .join(", ");
        let reason = Reason {
            code: 428,
            text: reason_phrase(428).to_owned(),
            detail: format!(
                "none of the {} Identity headers carries a shaken PASSporT (ppt: {found}); the call is unsigned for SHAKEN",
                passports.len()
            ),
            id: "no-shaken-passport".to_owned(),
        };
        return bare_report(reason, None);
    };
    let mut overall = chosen.report.clone();
    for p in passports.iter().filter(|p| p.index != chosen.index) {
        let ppt = p.ppt.as_deref().unwrap_or("(none)");
        if !p.supported && p.ppt.as_deref() == Some(crate::rcd::PPT_RCD) {
            if let Some(r) = &p.report.reason {
                overall.warnings.push(format!(
                    "Identity header {} (ppt \"rcd\", the caller's name) did not pass: {} {} ({}); it does not affect the verdict",
                    p.index, r.code, r.text, r.id
                ));
            }
        } else if !p.supported {
            overall.warnings.push(format!(
                "Identity header {} has ppt {ppt:?}, which this verifier does not check; it does not affect the verdict",
                p.index
            ));
        } else if let Some(r) = &p.report.reason {
            overall.warnings.push(format!(
                "Identity header {} (ppt {ppt:?}) did not pass: {} {} ({})",
                p.index, r.code, r.text, r.id
            ));
        }
    }
    overall
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::passport::{self, Attestation, Claims, Header};
    use crate::replay::ReplayStore;
    use crate::sip::test_lab::*;

    #[test]
    fn call_context_sources() {
        let p = TnPolicy::default();
        let ctx = call_context(&parse(PAI2), NOW, &p).unwrap();
        assert_eq!(ctx.orig.len(), 2);
        assert!(ctx
            .orig
            .iter()
            .all(|o| matches!(o, PartyId::Tn(t) if t.as_str() == "12155550121")));
        let ctx = call_context(&parse(USERPHONE), NOW, &p).unwrap();
        assert!(matches!(&ctx.orig[..], [PartyId::Tn(t)] if t.as_str() == "12155550121"));
        assert!(matches!(&ctx.dest[..], [PartyId::Tn(t)] if t.as_str() == "12125550143"));
        assert_eq!(ctx.date, Some(NOW));
        assert!(ctx.call_id.is_some());
        assert_eq!(call_context(&parse(NO_DATE), NOW, &p).unwrap().date, None);
    }

    #[test]
    fn call_context_rejects_bad_headers() {
        let p = TnPolicy::default();
        let bad_date = replace(&parse(TEL), "date", "Date: yesterday");
        let e = call_context(&bad_date, NOW, &p).unwrap_err();
        assert_eq!((e.id(), e.sip_code()), ("sip-date-invalid", 403));
        let no_to = parse(&parse(TEL).without_header("to"));
        let e = call_context(&no_to, NOW, &p).unwrap_err();
        assert_eq!((e.id(), e.sip_code()), ("sip-to-invalid", 438));
        let bad_pai = replace(
            &parse(TEL),
            "p-asserted-identity",
            "P-Asserted-Identity: <tel:1",
        );
        let e = call_context(&bad_pai, NOW, &p).unwrap_err();
        assert_eq!(e.id(), "sip-pai-invalid");
        let bad_from = replace(&parse(TEL), "from", "From: \"x <tel:1>");
        assert_eq!(
            call_context(&bad_from, NOW, &p).unwrap_err().id(),
            "sip-from-invalid"
        );
    }

    #[test]
    fn bad_context_fails_every_passport() {
        let lab = lab();
        let signed = lab.sign(TEL);
        let req = replace(&signed, "date", "Date: not a date");
        let r = lab.verify(&lab.verifier(), &req, NOW);
        assert!(!r.passed());
        assert_eq!(reason_id(&r.overall), Some("sip-date-invalid"));
        assert_eq!(r.passports.len(), 1);
        assert_eq!(r.passports[0].ppt.as_deref(), Some("shaken"));
    }

    #[test]
    fn unsigned_is_428() {
        let lab = lab();
        let r = lab.verify(&lab.verifier(), &parse(TEL), NOW);
        assert_eq!(r.overall.verstat, Verstat::NoValidation);
        assert_eq!(reason_id(&r.overall), Some("no-identity"));
        assert_eq!(
            r.sip.reason_header.as_deref(),
            Some("Reason: SIP ;cause=428 ;text=\"Use Identity Header\"")
        );
        assert_eq!(r.sip.verstat_param, ";verstat=No-TN-Validation");
        assert!(r.passports.is_empty());
    }

    #[test]
    fn changed_from_is_438() {
        let lab = lab();
        let signed = lab.sign(TEL);
        let req = replace(&signed, "from", "From: <tel:+12155550199>;tag=1");
        let r = lab.verify(&lab.verifier(), &req, NOW);
        assert_eq!(reason_id(&r.overall), Some("orig-mismatch"));
        assert_eq!(r.overall.reason.as_ref().map(|r| r.code), Some(438));
    }

    #[test]
    fn changed_to_is_438() {
        let lab = lab();
        let signed = lab.sign(TEL);
        let req = replace(&signed, "to", "To: <tel:+12125550199>");
        let r = lab.verify(&lab.verifier(), &req, NOW);
        assert_eq!(reason_id(&r.overall), Some("dest-mismatch"));
    }

    #[test]
    fn pai_any_value_matches() {
        let lab = lab();
        let signed = lab.sign(PAI2);
        // Keep the signed TN only in the second value.
        let req = replace(
            &signed,
            "p-asserted-identity",
            "P-Asserted-Identity: <tel:+12155550100>, <sip:+1-215-555-0121@atlanta.example.com;user=phone>",
        );
        let r = lab.verify(&lab.verifier(), &req, NOW);
        assert!(r.passed(), "{:?}", r.overall.reason);
        // PAI present: From is not used even if it holds the number.
        let req = replace(
            &signed,
            "p-asserted-identity",
            "P-Asserted-Identity: <tel:+12155550100>",
        );
        let req = replace(&req, "from", "From: <tel:+12155550121>;tag=9");
        let r = lab.verify(&lab.verifier(), &req, NOW);
        assert_eq!(reason_id(&r.overall), Some("orig-mismatch"));
    }

    #[test]
    fn date_two_minutes_off_is_403() {
        let lab = lab();
        let signed = lab.sign(TEL);
        let req = replace(&signed, "date", "Date: Tue, 16 Aug 2016 19:25:38 GMT");
        let r = lab.verify(&lab.verifier(), &req, NOW);
        assert_eq!(reason_id(&r.overall), Some("date-mismatch"));
        assert_eq!(r.overall.reason.as_ref().map(|r| r.code), Some(403));
        assert_eq!(
            r.sip.reason_header.as_deref(),
            Some("Reason: SIP ;cause=403 ;text=\"Stale Date\"")
        );
    }

    /// A second shaken PASSporT for another caller (bad orig), and a tampered one.
    #[test]
    fn two_shaken_first_passing_wins() {
        let lab = lab();
        let signed = lab.sign(TEL);
        let good = signed.identity_headers()[0].to_owned();
        let tampered = tamper(&good);
        // Tampered first, good second: the good one decides.
        let req =
            parse(&parse(TEL).with_headers_added(&[
                format!("Identity: {tampered}"),
                format!("Identity: {good}"),
            ]));
        let r = lab.verify(&lab.verifier(), &req, NOW);
        assert!(r.passed());
        assert_eq!(r.passports.len(), 2);
        assert_eq!(reason_id(&r.passports[0].report), Some("signature-invalid"));
        assert!(r.passports[1].report.passed());
        assert!(r
            .overall
            .warnings
            .iter()
            .any(|w| w.contains("signature-invalid")));
        // Only the tampered one: fails, TN-Validation-Failed.
        let req = parse(&parse(TEL).with_headers_added(&[format!("Identity: {tampered}")]));
        let r = lab.verify(&lab.verifier(), &req, NOW);
        assert_eq!(r.overall.verstat, Verstat::Failed);
        assert_eq!(r.sip.verstat_param, ";verstat=TN-Validation-Failed");
    }

    /// Flip one signature character (keeping base64url canonical).
    fn tamper(identity: &str) -> String {
        let (token, rest) = identity.split_once(';').unwrap();
        let (hp, sig) = token.rsplit_once('.').unwrap();
        let mut sig: Vec<u8> = sig.bytes().collect();
        sig[5] = if sig[5] == b'A' { b'B' } else { b'A' };
        format!("{hp}.{};{rest}", String::from_utf8(sig).unwrap())
    }

    /// A PASSporT of a type this verifier does not check (`rph`) next to
    /// the shaken one: unsupported, never decisive.
    #[test]
    fn unsupported_ppt_does_not_decide() {
        let lab = lab();
        let signed = lab.sign(TEL);
        let good = signed.identity_headers()[0].to_owned();
        let mut h = Header::shaken(X5U);
        h.ppt = Some("rph".into());
        let claims = Claims::shaken(
            Attestation::A,
            "12155550121",
            vec!["12125550143".into()],
            NOW,
            ORIGID,
        );
        let div = passport::sign(&h, &claims, &lab.signer()).unwrap();
        let div = tamper(&format!("{div};info=<{X5U}>;ppt=rph"));
        // Comma list in one header, div first.
        let req = parse(&parse(TEL).with_headers_added(&[format!("Identity: {div}, {good}")]));
        let r = lab.verify(&lab.verifier(), &req, NOW);
        assert!(r.passed(), "{:?}", r.overall.reason);
        assert_eq!(r.passports.len(), 2);
        assert!(!r.passports[0].supported);
        assert_eq!(r.passports[0].ppt.as_deref(), Some("rph"));
        assert!(r.passports[1].supported);
        // Only the div: the call is unsigned for SHAKEN.
        let req = parse(&parse(TEL).with_headers_added(&[format!("Identity: {div}")]));
        let r = lab.verify(&lab.verifier(), &req, NOW);
        assert_eq!(reason_id(&r.overall), Some("no-shaken-passport"));
        assert_eq!(r.overall.reason.as_ref().map(|r| r.code), Some(428));
        // A valid div never hides a broken shaken.
        let req = parse(&parse(TEL).with_headers_added(&[
            format!("Identity: {}", tamper(&good)),
            format!("Identity: {div}"),
        ]));
        let r = lab.verify(&lab.verifier(), &req, NOW);
        assert!(!r.passed());
        assert_eq!(reason_id(&r.overall), Some("signature-invalid"));
    }

    #[test]
    fn malformed_identity_is_reported() {
        let lab = lab();
        let req = parse(&parse(TEL).with_headers_added(&["Identity: a.b.c;info=<".to_owned()]));
        let r = lab.verify(&lab.verifier(), &req, NOW);
        assert!(!r.passed());
        assert_eq!(reason_id(&r.overall), Some("identity-malformed"));
        assert!(r.passports[0].supported);
    }

    #[test]
    fn chain_error_is_436() {
        let lab = lab();
        let signed = lab.sign(TEL);
        let r = verify_request(&lab.verifier(), &signed, NOW, |_| {
            Err(VerifyError::CertUnavailable {
                detail: "x5u certificate could not be obtained: timeout".into(),
                cause: "fetch-timeout",
            })
        });
        assert_eq!(r.overall.reason.as_ref().map(|r| r.code), Some(436));
    }

    #[test]
    fn replay_and_fork() {
        let lab = lab();
        let store = Arc::new(ReplayStore::new(120, 1000));
        let v = lab.verifier().with_replay(store);
        let signed = lab.sign(TEL);
        assert!(lab.verify(&v, &signed, NOW).passed());
        // Forked INVITE: same Identity, same Call-ID.
        assert!(lab.verify(&v, &signed, NOW + 1).passed());
        // Replay: same Identity, another Call-ID.
        let replayed = replace(&signed, "call-id", "Call-ID: other@evil.example.net");
        let r = lab.verify(&v, &replayed, NOW + 2);
        assert_eq!(reason_id(&r.overall), Some("replay"));
        assert_eq!(r.overall.reason.as_ref().map(|r| r.code), Some(438));
    }

    #[test]
    fn report_json_shape() {
        let lab = lab();
        let r = lab.verify(&lab.verifier(), &lab.sign(TEL), NOW);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["verstat"], "TN-Validation-Passed");
        assert_eq!(v["passports"][0]["index"], 0);
        assert_eq!(v["passports"][0]["verstat"], "TN-Validation-Passed");
        assert_eq!(v["sip"]["verstat_param"], ";verstat=TN-Validation-Passed");
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(text.matches("\"ppt\"").count(), 2, "{text}");
        let back: SipReport = serde_json::from_str(&text).unwrap();
        assert!(back.passed());
        assert_eq!(back.passports[0].ppt.as_deref(), Some("shaken"));
    }
}
