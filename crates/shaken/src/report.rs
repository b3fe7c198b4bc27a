//! What a verification found, in the shape scripts and people read.
//!
//! [`Report`] is the JSON contract of `shaken verify --format json` (and of
//! each line of `--batch`): field names here are relied on by scripts; add
//! fields, never rename or remove them.

use crate::passport::Attestation;
use serde::Serialize;
use std::fmt;

/// The verification status to signal downstream (3GPP TS 24.229 `verstat`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[non_exhaustive]
pub enum Verstat {
    /// The signature, certificate and claims all checked out.
    #[serde(rename = "TN-Validation-Passed")]
    Passed,
    /// The cryptographic checks failed: bad signature, untrusted or revoked certificate.
    #[serde(rename = "TN-Validation-Failed")]
    Failed,
    /// No validation could be done: unsigned, malformed, stale or mismatched.
    #[serde(rename = "No-TN-Validation")]
    NoValidation,
}

impl Verstat {
    /// The standard token, e.g. `TN-Validation-Passed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verstat::Passed => "TN-Validation-Passed",
            Verstat::Failed => "TN-Validation-Failed",
            Verstat::NoValidation => "No-TN-Validation",
        }
    }
}

impl fmt::Display for Verstat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The RFC reason phrase of a STIR SIP response code.
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        403 => "Stale Date",
        428 => "Use Identity Header",
        436 => "Bad Identity Info",
        437 => "Unsupported Credential",
        438 => "Invalid Identity Header",
        500 => "Server Internal Error",
        _ => "Unknown",
    }
}

/// Why a PASSporT did not pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Reason {
    /// SIP response code: 403, 428, 436, 437 or 438.
    pub code: u16,
    /// The RFC reason phrase for `code`.
    pub text: String,
    /// What exactly was wrong.
    pub detail: String,
    /// Stable kebab-case identifier of the failure (e.g. `signature-invalid`).
    pub id: String,
}

/// Who signed, from the certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SignerInfo {
    /// Subject DN of the end-entity certificate.
    pub subject: String,
    /// Service Provider Code from TNAuthList, if present.
    pub spc: Option<String>,
    /// Whether the certificate chained to a trust anchor.
    pub trusted: bool,
    /// Whether this certificate's key verified the PASSporT's signature, so
    /// that its holder signed the PASSporT. True for a call that passed, and
    /// for a call that failed another check (orig or dest mismatch, stale,
    /// replay, revoked or untrusted certificate) but whose signer is still
    /// established: the call is *attributed* to this signer. False when only
    /// the certificate was examined (the signature did not verify, or was not
    /// checked).
    #[serde(default)]
    pub signature_verified: bool,
}

impl SignerInfo {
    /// Whether the call is attributed to this signer: its key verified the
    /// signature (see [`signature_verified`](Self::signature_verified)).
    pub fn attributed(&self) -> bool {
        self.signature_verified
    }
}

/// The result of verifying one PASSporT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Report {
    /// `TN-Validation-Passed`, `TN-Validation-Failed` or `No-TN-Validation`.
    pub verstat: Verstat,
    /// Attestation level claimed in the PASSporT (`"A"`/`"B"`/`"C"`), or null.
    pub attest: Option<Attestation>,
    /// The originating number (or URI) claimed in the PASSporT.
    pub orig: Option<String>,
    /// Destination numbers (and URIs) claimed in the PASSporT.
    pub dest: Vec<String>,
    /// The SHAKEN origination identifier.
    pub origid: Option<String>,
    /// Issued-at time claimed in the PASSporT (Unix seconds).
    pub iat: Option<i64>,
    /// Certificate URL from the PASSporT header (or `info`).
    pub x5u: Option<String>,
    /// PASSporT extension type (`shaken`, `div`, `rcd`...).
    pub ppt: Option<String>,
    /// Why it did not pass; null when it passed.
    pub reason: Option<Reason>,
    /// Certificate subject and SPC, when a certificate was examined.
    pub signer: Option<SignerInfo>,
    /// Things worth knowing that did not fail the call.
    pub warnings: Vec<String>,
    /// Rich Call Data (RFC 9795): the caller's name, logo and call reason,
    /// and whether they can be trusted; absent when the PASSporT carries
    /// none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rcd: Option<crate::rcd::RcdReport>,
}

impl Report {
    /// A `No-TN-Validation` report with nothing decoded: what is said for an
    /// input that was not a call at all (a malformed request line).
    pub fn unverified() -> Self {
        Report {
            verstat: Verstat::NoValidation,
            attest: None,
            orig: None,
            dest: vec![],
            origid: None,
            iat: None,
            x5u: None,
            ppt: None,
            reason: None,
            signer: None,
            warnings: vec![],
            rcd: None,
        }
    }

    /// Whether the PASSporT passed.
    pub fn passed(&self) -> bool {
        self.verstat == Verstat::Passed
    }

    /// The verstat with the attestation appended (`TN-Validation-Passed-A`), a
    /// common vendor extension; not an ATIS value.
    pub fn verstat_with_attestation(&self) -> String {
        match (self.verstat, self.attest) {
            (Verstat::Passed | Verstat::Failed, Some(a)) => format!("{}-{}", self.verstat, a),
            _ => self.verstat.to_string(),
        }
    }

    /// The SIP `Reason` header line for a failure (RFC 8224 §6.2.2, RFC 9410),
    /// e.g. `Reason: SIP ;cause=438 ;text="Invalid Identity Header"`.
    pub fn reason_header(&self) -> Option<String> {
        self.reason
            .as_ref()
            .map(|r| format!("Reason: SIP ;cause={} ;text=\"{}\"", r.code, r.text))
    }
}
