//! The catalogue of verification failures: every [`VerifyError`] has a
//! stable kebab-case id, the SIP response it maps to (RFC 8224 §6.2.2,
//! ATIS-1000074; specs §5.1) and a verstat. [`Failure`] carries the error
//! with whatever was decoded before it, for the report.

use crate::cert::ChainError;
use crate::diagnostic::Diagnostic;
use crate::identity::IdentityError;
use crate::passport::{Claims, ClaimsError, Header, HeaderError, PassportError};
use crate::report::{reason_phrase, Reason, SignerInfo, Verstat};
use crate::tn::TnError;

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
    /// The Rich Call Data claims break RFC 9795 §5 (`rcd` not an object, no
    /// `nam`, `jcd` with `jcl`, `rcdi` without `rcd`...): the detail names
    /// the member.
    #[error("Rich Call Data: {0}")]
    RcdInvalid(crate::rcd::RcdError),
    /// The replay status could not be checked (the shared replay store did
    /// not answer in time) and the failure policy is closed: the call does
    /// not pass. Our failure, not the signer's: SIP 500, `No-TN-Validation`.
    #[error("the replay status of this PASSporT could not be checked: {detail}")]
    ReplayUnavailable {
        /// What failed (the store, the timeout).
        detail: String,
    },
    /// A `div`/`div-o` PASSporT's own claims are unacceptable (RFC 8946 §3);
    /// the id is the [`DivError`](crate::div::DivError)'s.
    #[error("{0}")]
    Div(crate::div::DivError),
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
            VerifyError::HeaderInvalid(
                HeaderError::NotObject
                | HeaderError::Missing { .. }
                | HeaderError::WrongType { .. },
            ) => "header-invalid",
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
            VerifyError::ReplayUnavailable { .. } => "replay-unavailable",
            VerifyError::Div(e) => Diagnostic::id(e),
            VerifyError::RcdInvalid(_) => "rcd-invalid",
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
            VerifyError::IdentityMalformed(_)
            | VerifyError::TokenMalformed(_)
            | VerifyError::CompactForm
            | VerifyError::UnsupportedPpt { .. }
            | VerifyError::PptMismatch { .. }
            | VerifyError::HeaderInvalid(HeaderError::NotObject | HeaderError::WrongType { .. })
            | VerifyError::ClaimsInvalid(_)
            | VerifyError::ShakenClaimMissing { .. }
            | VerifyError::AttestInvalid { .. }
            | VerifyError::NotTn { .. }
            | VerifyError::TnInvalid { .. }
            | VerifyError::OrigMismatch { .. }
            | VerifyError::DestMismatch { .. }
            | VerifyError::TnNotAuthorized { .. }
            | VerifyError::ClaimConstraint { .. }
            | VerifyError::SignatureInvalid { .. }
            | VerifyError::Replay { .. }
            | VerifyError::Div(_) => 438,
            VerifyError::RcdInvalid(_) => 438,
            VerifyError::ReplayUnavailable { .. } => 500,
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
            VerifyError::NoIdentity
            | VerifyError::IdentityMalformed(_)
            | VerifyError::TokenMalformed(_)
            | VerifyError::CompactForm
            | VerifyError::UnsupportedPpt { .. }
            | VerifyError::PptMismatch { .. }
            | VerifyError::InfoMissing
            | VerifyError::InfoInvalid { .. }
            | VerifyError::HeaderParamMissing { .. }
            | VerifyError::HeaderInvalid(_)
            | VerifyError::X5uMismatch { .. }
            | VerifyError::TypInvalid { .. }
            | VerifyError::AlgUnsupported { .. }
            | VerifyError::ClaimsInvalid(_)
            | VerifyError::ShakenClaimMissing { .. }
            | VerifyError::AttestInvalid { .. }
            | VerifyError::NotTn { .. }
            | VerifyError::TnInvalid { .. }
            | VerifyError::OrigMismatch { .. }
            | VerifyError::DestMismatch { .. }
            | VerifyError::Stale { .. }
            | VerifyError::Future { .. }
            | VerifyError::DateMismatch { .. }
            | VerifyError::CertUnavailable { .. }
            | VerifyError::SignedOutsideValidity { .. }
            | VerifyError::ReplayUnavailable { .. }
            | VerifyError::Div(_) => Verstat::NoValidation,
            VerifyError::RcdInvalid(_) => Verstat::NoValidation,
        }
    }

    /// Stable id, refined by the certificate rule or the fetch cause where
    /// there is one (e.g. `cert-expired`, `fetch-timeout`): the id a report
    /// shows, and [`Diagnostic::id`].
    pub fn full_id(&self) -> String {
        Diagnostic::id(self).to_owned()
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

/// The id is the one a report shows ([`VerifyError::full_id`]): a chain
/// failure forwards its [`ChainError`] id and an unavailable certificate its
/// cause (a `fetch-*` id), so that the reason names the rule that failed.
impl Diagnostic for VerifyError {
    fn id(&self) -> &'static str {
        match self {
            VerifyError::Chain(c) => c.code(),
            VerifyError::CertUnavailable { cause, .. } => cause,
            VerifyError::Div(e) => Diagnostic::id(e),
            VerifyError::NoIdentity
            | VerifyError::IdentityMalformed(_)
            | VerifyError::TokenMalformed(_)
            | VerifyError::CompactForm
            | VerifyError::UnsupportedPpt { .. }
            | VerifyError::PptMismatch { .. }
            | VerifyError::InfoMissing
            | VerifyError::InfoInvalid { .. }
            | VerifyError::HeaderParamMissing { .. }
            | VerifyError::HeaderInvalid(_)
            | VerifyError::X5uMismatch { .. }
            | VerifyError::TypInvalid { .. }
            | VerifyError::AlgUnsupported { .. }
            | VerifyError::ClaimsInvalid(_)
            | VerifyError::ShakenClaimMissing { .. }
            | VerifyError::AttestInvalid { .. }
            | VerifyError::NotTn { .. }
            | VerifyError::TnInvalid { .. }
            | VerifyError::OrigMismatch { .. }
            | VerifyError::DestMismatch { .. }
            | VerifyError::Stale { .. }
            | VerifyError::Future { .. }
            | VerifyError::DateMismatch { .. }
            | VerifyError::SignedOutsideValidity { .. }
            | VerifyError::TnNotAuthorized { .. }
            | VerifyError::ClaimConstraint { .. }
            | VerifyError::SignatureInvalid { .. }
            | VerifyError::Replay { .. }
            | VerifyError::ReplayUnavailable { .. }
            | VerifyError::RcdInvalid(_) => VerifyError::id(self),
        }
    }
    fn sip_code(&self) -> Option<u16> {
        Some(VerifyError::sip_code(self))
    }
    fn verstat(&self) -> Option<Verstat> {
        Some(VerifyError::verstat(self))
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

    pub(super) fn bare(error: VerifyError) -> Self {
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

impl Failure {
    /// Whether this failure came after the PASSporT decoded but before its
    /// certificate was examined, for a reason that does not put the signer
    /// in doubt (orig or dest mismatch, stale, dated in the future, SIP
    /// Date mismatch): the call can still be attributed to whoever signed it
    /// ([`Verifier::attribute`](super::Verifier::attribute)).
    pub fn needs_attribution(&self) -> bool {
        self.signer.is_none()
            && self.claims.is_some()
            && self.x5u.is_some()
            && matches!(
                self.error,
                VerifyError::OrigMismatch { .. }
                    | VerifyError::DestMismatch { .. }
                    | VerifyError::Stale { .. }
                    | VerifyError::Future { .. }
                    | VerifyError::DateMismatch { .. }
            )
    }
}

impl From<VerifyError> for Failure {
    fn from(e: VerifyError) -> Self {
        Failure::bare(e)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

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
