//! STI certificate chain validation: RFC 5280 path building by webpki, then
//! the SHAKEN profile checks (specs §5.2, §7 "Certificate checks").
//!
//! The verification time is an argument; nothing here reads a clock.
//! Intermediates come only from the chain handed in and never become anchors.
//! Every [`ChainError`] maps to SIP 437 Unsupported Credential.
//! Revocation (which CRLs apply to the path and what they say) is checked in
//! [`revocation`](super::revocation), once the path is built.

use super::revocation::check_revocation;
pub use super::revocation::crl_distribution_points;
use super::{fmt_time, Certificate, Crl, TnAuthList, TrustAnchors};
use rustls_pki_types::{CertificateDer, SignatureVerificationAlgorithm, UnixTime};
use std::time::Duration;

/// The SHAKEN certificate policy OIDs accepted on verify (US SHAKEN CP
/// v1.1 to v1.4; specs §5.2).
pub const SHAKEN_POLICY_OIDS: [&str; 4] = [
    "2.16.840.1.114569.1.1.1",
    "2.16.840.1.114569.1.1.2",
    "2.16.840.1.114569.1.1.3",
    "2.16.840.1.114569.1.1.4",
];

/// Policy OIDs of superseded CP versions: accepted with a warning.
const OLD_POLICY_OIDS: [&str; 2] = ["2.16.840.1.114569.1.1.1", "2.16.840.1.114569.1.1.2"];

/// `id-kp-serverAuth` in DER content form. Passed as "required if present":
/// SHAKEN certificates carry no EKU, so none is required.
const EKU_SERVER_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];

use crate::crypto::webpki_algs;

/// The signature algorithms accepted on certificates and CRLs (ATIS-1000080:
/// ECDSA P-256/SHA-256; CP v1.4 also lets CAs use P-384/SHA-384).
///
/// RSA is accepted for the signatures of CA certificates: some roots on the
/// STI-PA trust list are RSA, and a chain the STI-PA trusts must verify. The
/// signer's own key stays P-256 (a PASSporT is ES256 only; the profile
/// check refuses any other end-entity key).
static SIG_ALGS: &[&dyn SignatureVerificationAlgorithm] = &[
    webpki_algs::ECDSA_P256_SHA256,
    webpki_algs::ECDSA_P384_SHA384,
    webpki_algs::ECDSA_P256_SHA384,
    webpki_algs::ECDSA_P384_SHA256,
    webpki_algs::RSA_PKCS1_2048_8192_SHA256,
    webpki_algs::RSA_PKCS1_2048_8192_SHA384,
    webpki_algs::RSA_PKCS1_2048_8192_SHA512,
    webpki_algs::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
    webpki_algs::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
    webpki_algs::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
];

/// What the chain must satisfy beyond RFC 5280.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ChainPolicy {
    /// Require a TNAuthList in the end-entity certificate. Default true.
    pub require_tn_auth_list: bool,
    /// Require a CRL that covers the end-entity certificate. Default false:
    /// with no CRL for a certificate its revocation status is unknown and
    /// that is allowed. CRLs that are given are always applied to the whole
    /// chain (signature, issuer and `nextUpdate` checked).
    pub crl_required: bool,
}

impl Default for ChainPolicy {
    fn default() -> Self {
        ChainPolicy {
            require_tn_auth_list: true,
            crl_required: false,
        }
    }
}

/// A chain that passed [`validate_chain`]: the facts the verifier needs.
#[derive(Debug, Clone)]
pub struct ValidatedChain {
    /// Subject of the end-entity certificate.
    pub(crate) leaf_subject: String,
    /// The end-entity key (a 65-byte uncompressed P-256 point), parsed once
    /// for every PASSporT this chain verifies.
    pub(crate) leaf_public_key: crate::crypto::PublicKey,
    /// The first SPC of the TNAuthList (the "signer").
    pub(crate) spc: Option<String>,
    /// The TNAuthList (empty when absent and not required).
    pub(crate) tn_auth_list: TnAuthList,
    /// Subject of the trust anchor the path ends at.
    pub(crate) anchor_subject: String,
    /// Latest `notBefore` on the path (anchor included), unix seconds.
    pub(crate) valid_from: i64,
    /// Earliest `notAfter` on the path (anchor included), unix seconds.
    pub(crate) valid_until: i64,
    /// Accepted deviations, e.g. an old CP OID.
    pub(crate) warnings: Vec<String>,
    /// The end-entity's JWT claim constraints (RFC 8226 / RFC 9118), enforced
    /// on every PASSporT it signs.
    pub(crate) claim_constraints: Vec<crate::cert::claim_constraints::ClaimConstraints>,
}

impl ValidatedChain {
    /// Subject of the end-entity certificate.
    pub fn leaf_subject(&self) -> &str {
        &self.leaf_subject
    }
    /// The end-entity key: a 65-byte uncompressed P-256 point.
    pub fn leaf_public_key(&self) -> &[u8] {
        self.leaf_public_key.point()
    }
    /// The end-entity key, parsed (what verification uses).
    pub fn leaf_key(&self) -> &crate::crypto::PublicKey {
        &self.leaf_public_key
    }
    /// The first SPC of the TNAuthList (the "signer").
    pub fn spc(&self) -> Option<&str> {
        self.spc.as_deref()
    }
    /// The TNAuthList (empty when absent and not required).
    pub fn tn_auth_list(&self) -> &TnAuthList {
        &self.tn_auth_list
    }
    /// Subject of the trust anchor the path ends at.
    pub fn anchor_subject(&self) -> &str {
        &self.anchor_subject
    }
    /// Latest `notBefore` on the path (anchor included), unix seconds.
    pub fn valid_from(&self) -> i64 {
        self.valid_from
    }
    /// Earliest `notAfter` on the path (anchor included), unix seconds.
    pub fn valid_until(&self) -> i64 {
        self.valid_until
    }
    /// Accepted deviations, e.g. an old CP OID.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
    /// The end-entity's JWT claim constraints (RFC 8226 / RFC 9118).
    pub fn claim_constraints(&self) -> &[crate::cert::claim_constraints::ClaimConstraints] {
        &self.claim_constraints
    }
}

/// Why a chain was rejected. Each means SIP 437 Unsupported Credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// No trust anchor is configured.
    #[error("no trust anchors configured: no certificate can be trusted until a trust-anchor bundle (the STI-PA roots) is given")]
    NoTrustAnchors,
    /// The chain holds no certificate.
    #[error("the certificate chain is empty")]
    Empty,
    /// No path from the certificate to a configured trust anchor.
    #[error("certificate '{subject}' is not trusted: {detail}")]
    Untrusted {
        /// The certificate that could not be chained.
        subject: String,
        /// Its issuer.
        issuer: String,
        /// Why.
        detail: String,
    },
    /// A signature algorithm other than ECDSA P-256/P-384 with SHA-256/384.
    #[error("certificate '{subject}' uses an unsupported signature algorithm ({detail}); STI certificates use ecdsa-with-SHA256")]
    UnsupportedAlgorithm {
        /// The certificate.
        subject: String,
        /// What webpki reported.
        detail: String,
    },
    /// A certificate on the path expired before the verification time.
    #[error("certificate '{subject}' expired at {} (verification time {})", fmt_time(*.not_after), fmt_time(*.now))]
    Expired {
        /// The certificate.
        subject: String,
        /// Its `notAfter`.
        not_after: i64,
        /// The verification time.
        now: i64,
    },
    /// A certificate on the path is not valid yet.
    #[error("certificate '{subject}' is not valid before {} (verification time {})", fmt_time(*.not_before), fmt_time(*.now))]
    NotYetValid {
        /// The certificate.
        subject: String,
        /// Its `notBefore`.
        not_before: i64,
        /// The verification time.
        now: i64,
    },
    /// A certificate on the path is listed in a CRL.
    #[error(
        "certificate '{subject}' (serial {serial}) is revoked (listed in a CRL that covers it)"
    )]
    Revoked {
        /// The certificate.
        subject: String,
        /// Its serial, lowercase hex.
        serial: String,
    },
    /// `crl_required` and no CRL covers the certificate.
    #[error("certificate '{subject}' has unknown revocation status: no CRL from its issuer '{issuer}' was supplied and the policy requires one")]
    RevocationUnknown {
        /// The certificate.
        subject: String,
        /// Its issuer.
        issuer: String,
    },
    /// A CRL's `nextUpdate` is before the verification time.
    #[error("the CRL used for certificate '{subject}' expired at {} (verification time {}); fetch a fresh CRL", fmt_time(*.next_update), fmt_time(*.now))]
    CrlExpired {
        /// The certificate being checked.
        subject: String,
        /// The CRL's `nextUpdate`.
        next_update: i64,
        /// The verification time.
        now: i64,
    },
    /// A CRL is unusable (bad signature, issuer without cRLSign, indirect…).
    #[error("the CRL for certificate '{subject}' is unusable: {detail}")]
    CrlInvalid {
        /// The certificate being checked.
        subject: String,
        /// What was wrong.
        detail: String,
    },
    /// A CRL could not be fetched or parsed and the policy is hard
    /// (`--crl-policy hard`).
    #[error("the CRL {url} for certificate '{subject}' could not be obtained ({detail}); the CRL policy is hard")]
    CrlUnavailable {
        /// The certificate being checked (the end-entity).
        subject: String,
        /// The CRL URL (or file).
        url: String,
        /// Why it could not be obtained.
        detail: String,
    },
    /// The end-entity key is not id-ecPublicKey on P-256.
    #[error("certificate '{subject}' has a {found} key; an STI end-entity key must be id-ecPublicKey on P-256")]
    BadLeafKey {
        /// The end-entity certificate.
        subject: String,
        /// The key found.
        found: String,
    },
    /// The end-entity KeyUsage breaks the profile.
    #[error("certificate '{subject}' has a bad keyUsage: {problem}; an STI end-entity must have keyUsage digitalSignature only")]
    LeafKeyUsage {
        /// The end-entity certificate.
        subject: String,
        /// What is wrong.
        problem: &'static str,
    },
    /// The end-entity certificate is a CA.
    #[error("certificate '{subject}' is a CA certificate (basicConstraints CA:TRUE) used as the end-entity")]
    LeafIsCa {
        /// The end-entity certificate.
        subject: String,
    },
    /// An issuing certificate on the path is not a CA.
    #[error("certificate '{subject}' issued another certificate but is not a CA (basicConstraints CA:TRUE missing)")]
    NotCa {
        /// The non-CA issuer.
        subject: String,
    },
    /// A pathLenConstraint is exceeded.
    #[error("the path through certificate '{subject}' is longer than a pathLenConstraint allows")]
    PathLen {
        /// The end-entity certificate.
        subject: String,
    },
    /// A certificate on the path has an unknown critical extension.
    #[error("a certificate on the path of '{subject}' has an unsupported critical extension")]
    CriticalExtension {
        /// The end-entity certificate.
        subject: String,
    },
    /// The end-entity has an EKU that excludes the usage.
    #[error("certificate '{subject}' has an extendedKeyUsage that excludes this use (STI certificates carry no EKU)")]
    ExtendedKeyUsage {
        /// The end-entity certificate.
        subject: String,
    },
    /// The end-entity has no TNAuthList.
    #[error("certificate '{subject}' has no TNAuthList extension (1.3.6.1.5.5.7.1.26); STI end-entity certificates must carry one")]
    MissingTnAuthList {
        /// The end-entity certificate.
        subject: String,
    },
    /// The end-entity TNAuthList is malformed.
    #[error("certificate '{subject}' has a malformed TNAuthList: {reason}")]
    BadTnAuthList {
        /// The end-entity certificate.
        subject: String,
        /// Why.
        reason: String,
    },
    /// The end-entity JWT claim constraints are malformed.
    #[error("certificate '{subject}' has malformed JWT claim constraints: {reason}")]
    BadClaimConstraints {
        /// The end-entity certificate.
        subject: String,
        /// Why.
        reason: String,
    },
    /// A certificate policy OID other than the SHAKEN CP OIDs.
    #[error("certificate '{subject}' carries certificate policy {oid}, which is not a SHAKEN CP OID (2.16.840.1.114569.1.1.1 to .4)")]
    PolicyNotAllowed {
        /// The certificate.
        subject: String,
        /// The OID found.
        oid: String,
    },
    /// Path building ran out of budget (too many candidates or signatures).
    #[error("validating certificate '{subject}' exceeded the path-building budget: {detail}")]
    TooComplex {
        /// The end-entity certificate.
        subject: String,
        /// What webpki reported.
        detail: String,
    },
    /// A certificate on the path is malformed for webpki.
    #[error("a certificate on the path of '{subject}' is malformed: {detail}")]
    Malformed {
        /// The end-entity certificate.
        subject: String,
        /// What webpki reported.
        detail: String,
    },
    /// Any other webpki rejection.
    #[error("certificate '{subject}' was rejected by path validation: {detail}")]
    Rejected {
        /// The end-entity certificate.
        subject: String,
        /// What webpki reported.
        detail: String,
    },
}

/// Every chain failure is 437 Unsupported Credential and `TN-Validation-Failed`
/// (ATIS E17); the id is [`ChainError::code`].
impl crate::diagnostic::Diagnostic for ChainError {
    fn id(&self) -> &'static str {
        self.code()
    }
    fn sip_code(&self) -> Option<u16> {
        Some(self.sip_status())
    }
    fn verstat(&self) -> Option<crate::report::Verstat> {
        Some(crate::report::Verstat::Failed)
    }
}

impl ChainError {
    /// A stable kebab-case code, unique per variant.
    pub fn code(&self) -> &'static str {
        match self {
            ChainError::NoTrustAnchors => "no-trust-anchors",
            ChainError::Empty => "chain-empty",
            ChainError::Untrusted { .. } => "cert-untrusted",
            ChainError::UnsupportedAlgorithm { .. } => "cert-unsupported-algorithm",
            ChainError::Expired { .. } => "cert-expired",
            ChainError::NotYetValid { .. } => "cert-not-yet-valid",
            ChainError::Revoked { .. } => "cert-revoked",
            ChainError::RevocationUnknown { .. } => "cert-revocation-unknown",
            ChainError::CrlExpired { .. } => "crl-expired",
            ChainError::CrlInvalid { .. } => "crl-invalid",
            ChainError::CrlUnavailable { .. } => "crl-unavailable",
            ChainError::BadLeafKey { .. } => "cert-bad-leaf-key",
            ChainError::LeafKeyUsage { .. } => "cert-leaf-key-usage",
            ChainError::LeafIsCa { .. } => "cert-leaf-is-ca",
            ChainError::NotCa { .. } => "cert-not-ca",
            ChainError::PathLen { .. } => "cert-path-len",
            ChainError::CriticalExtension { .. } => "cert-critical-extension",
            ChainError::ExtendedKeyUsage { .. } => "cert-extended-key-usage",
            ChainError::MissingTnAuthList { .. } => "cert-missing-tnauthlist",
            ChainError::BadTnAuthList { .. } => "cert-bad-tnauthlist",
            ChainError::BadClaimConstraints { .. } => "cert-bad-claim-constraints",
            ChainError::PolicyNotAllowed { .. } => "cert-policy-not-allowed",
            ChainError::TooComplex { .. } => "cert-path-too-complex",
            ChainError::Malformed { .. } => "cert-malformed",
            ChainError::Rejected { .. } => "cert-rejected",
        }
    }

    /// The SIP status for every chain failure: 437 Unsupported Credential.
    pub fn sip_status(&self) -> u16 {
        437
    }
}

fn unix(t: UnixTime) -> i64 {
    i64::try_from(t.as_secs()).unwrap_or(i64::MAX)
}

/// Maps a webpki error to a [`ChainError`] naming the certificate at fault.
fn map_webpki(
    e: webpki::Error,
    chain: &[Certificate],
    leaf: &Certificate,
    crls: &[Crl],
    now: i64,
) -> ChainError {
    use webpki::Error as E;
    let subject = leaf.subject().to_owned();
    let detail = e.to_string();
    match e {
        E::UnknownIssuer => {
            // Name the last certificate of the chain that has an issuer we
            // could not find: that is where the path breaks.
            let last = chain.last().unwrap_or(leaf);
            ChainError::Untrusted {
                subject,
                issuer: last.issuer().to_owned(),
                detail: format!(
                    "no path to a configured trust anchor: issuer '{}' of '{}' is neither in the chain nor a trust anchor",
                    last.issuer(),
                    last.subject()
                ),
            }
        }
        E::CertExpired { not_after, .. } => {
            let na = unix(not_after);
            let who = chain
                .iter()
                .find(|c| c.not_after() == na)
                .or_else(|| chain.iter().find(|c| c.not_after() < now))
                .unwrap_or(leaf);
            ChainError::Expired {
                subject: who.subject().to_owned(),
                not_after: na,
                now,
            }
        }
        E::CertNotValidYet { not_before, .. } => {
            let nb = unix(not_before);
            let who = chain
                .iter()
                .find(|c| c.not_before() == nb)
                .or_else(|| chain.iter().find(|c| c.not_before() > now))
                .unwrap_or(leaf);
            ChainError::NotYetValid {
                subject: who.subject().to_owned(),
                not_before: nb,
                now,
            }
        }
        E::CertRevoked => {
            let who = chain
                .iter()
                .find(|c| {
                    crls.iter()
                        .any(|crl| crl.issuer() == c.issuer() && crl.lists_serial(c.serial_hex()))
                })
                .unwrap_or(leaf);
            ChainError::Revoked {
                subject: who.subject().to_owned(),
                serial: who.serial_hex().to_owned(),
            }
        }
        E::UnknownRevocationStatus => ChainError::RevocationUnknown {
            subject,
            issuer: leaf.issuer().to_owned(),
        },
        E::CrlExpired { next_update, .. } => ChainError::CrlExpired {
            subject,
            next_update: unix(next_update),
            now,
        },
        E::InvalidCrlSignatureForPublicKey
        | E::IssuerNotCrlSigner
        | E::UnsupportedCrlSignatureAlgorithmContext(_)
        | E::UnsupportedIndirectCrl
        | E::UnsupportedCrlIssuingDistributionPoint
        | E::UnsupportedCrlVersion
        | E::UnsupportedDeltaCrl
        | E::UnsupportedRevocationReason
        | E::UnsupportedRevocationReasonsPartitioning
        | E::InvalidCrlNumber => ChainError::CrlInvalid { subject, detail },
        E::InvalidSignatureForPublicKey => ChainError::Untrusted {
            subject,
            issuer: leaf.issuer().to_owned(),
            detail: "a certificate on the path is not signed by the key of the certificate or trust anchor that carries its issuer's name (a different CA or root with the same name, or a forged signature)".to_owned(),
        },
        E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
        | E::SignatureAlgorithmMismatch => ChainError::UnsupportedAlgorithm { subject, detail },
        E::CaUsedAsEndEntity => ChainError::LeafIsCa { subject },
        E::EndEntityUsedAsCa => {
            let who = chain.iter().skip(1).find(|c| !c.is_ca()).unwrap_or(leaf);
            ChainError::NotCa {
                subject: who.subject().to_owned(),
            }
        }
        E::PathLenConstraintViolated => ChainError::PathLen { subject },
        E::UnsupportedCriticalExtension => ChainError::CriticalExtension { subject },
        E::RequiredEkuNotFoundContext(_) | E::EmptyEkuExtension => {
            ChainError::ExtendedKeyUsage { subject }
        }
        E::MaximumPathBuildCallsExceeded
        | E::MaximumSignatureChecksExceeded
        | E::MaximumPathDepthExceeded
        | E::MaximumNameConstraintComparisonsExceeded => ChainError::TooComplex { subject, detail },
        E::BadDer
        | E::BadDerTime
        | E::MalformedExtensions
        | E::ExtensionValueInvalid
        | E::InvalidCertValidity
        | E::InvalidSerialNumber
        | E::TrailingData(_)
        | E::UnsupportedCertVersion => ChainError::Malformed { subject, detail },
        _ => ChainError::Rejected { subject, detail },
    }
}

/// Runs webpki path building (no revocation: CRLs are checked afterwards by
/// [`check_revocation`], which also handles indirect CRLs).
fn run_webpki<'a>(
    leaf: &'a webpki::EndEntityCert<'a>,
    anchors: &'a [rustls_pki_types::TrustAnchor<'static>],
    intermediates: &'a [CertificateDer<'a>],
    time: UnixTime,
) -> Result<webpki::VerifiedPath<'a>, webpki::Error> {
    leaf.verify_for_usage(
        SIG_ALGS,
        anchors,
        intermediates,
        time,
        webpki::KeyUsage::required_if_present(EKU_SERVER_AUTH),
        None,
        None,
    )
}

/// Validates only the path of `chain` (signer first) to `anchors` at `now`:
/// signatures, validity, CA constraints, and the anchor's own validity; no
/// SHAKEN end-entity profile and no CRLs. For certificates that sign
/// something other than PASSporTs, such as the STI-PA trust-list and CRL
/// signers (`crate::trust`).
pub fn validate_path(
    chain: &[Certificate],
    anchors: &TrustAnchors,
    now: i64,
) -> Result<(), ChainError> {
    if anchors.is_empty() {
        return Err(ChainError::NoTrustAnchors);
    }
    let Some(leaf) = chain.first() else {
        return Err(ChainError::Empty);
    };
    let leaf_der = CertificateDer::from(leaf.der());
    let ee = webpki::EndEntityCert::try_from(&leaf_der).map_err(|e| ChainError::Malformed {
        subject: leaf.subject().to_owned(),
        detail: e.to_string(),
    })?;
    let intermediates: Vec<CertificateDer<'_>> = chain
        .iter()
        .skip(1)
        .map(|c| CertificateDer::from(c.der()))
        .collect();
    let tas: Vec<rustls_pki_types::TrustAnchor<'static>> =
        anchors.anchors().iter().map(|a| a.ta.clone()).collect();
    let time = UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(now).unwrap_or(0)));
    let path = run_webpki(&ee, &tas, &intermediates, time)
        .map_err(|e| map_webpki(e, chain, leaf, &[], now))?;
    let ta = path.anchor();
    if let Some(a) = anchors.anchors().iter().find(|a| {
        a.ta.subject.as_ref() == ta.subject.as_ref()
            && a.ta.subject_public_key_info.as_ref() == ta.subject_public_key_info.as_ref()
    }) {
        let a = &a.cert;
        if now > a.not_after() {
            return Err(ChainError::Expired {
                subject: a.subject().to_owned(),
                not_after: a.not_after(),
                now,
            });
        }
        if now < a.not_before() {
            return Err(ChainError::NotYetValid {
                subject: a.subject().to_owned(),
                not_before: a.not_before(),
                now,
            });
        }
    }
    Ok(())
}

/// Validates an STI certificate chain (end-entity first) at time `now`
/// (unix seconds) against `anchors`, applying `crls` (direct CRLs of the
/// issuing CAs and indirect CRLs such as the STI-PA CRL), then checks the
/// SHAKEN end-entity profile.
pub fn validate_chain(
    chain: &[Certificate],
    anchors: &TrustAnchors,
    crls: &[Crl],
    now: i64,
    policy: &ChainPolicy,
) -> Result<ValidatedChain, ChainError> {
    if anchors.is_empty() {
        return Err(ChainError::NoTrustAnchors);
    }
    let Some(leaf) = chain.first() else {
        return Err(ChainError::Empty);
    };
    let subject = leaf.subject().to_owned();

    // A CA first and an end-entity later: the STI-CR served the chain in
    // the wrong order. Say so instead of "CA used as end-entity".
    if leaf.is_ca() && chain.iter().skip(1).any(|c| !c.is_ca()) {
        return Err(ChainError::Untrusted {
            subject,
            issuer: leaf.issuer().to_owned(),
            detail: "the chain is out of order: the end-entity certificate must come first"
                .to_owned(),
        });
    }

    let leaf_der = CertificateDer::from(leaf.der());
    let ee = webpki::EndEntityCert::try_from(&leaf_der).map_err(|e| ChainError::Malformed {
        subject: subject.clone(),
        detail: e.to_string(),
    })?;
    let intermediates: Vec<CertificateDer<'_>> = chain
        .iter()
        .skip(1)
        .map(|c| CertificateDer::from(c.der()))
        .collect();
    let tas: Vec<rustls_pki_types::TrustAnchor<'static>> =
        anchors.anchors().iter().map(|a| a.ta.clone()).collect();
    let time = UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(now).unwrap_or(0)));

    let path = run_webpki(&ee, &tas, &intermediates, time)
        .map_err(|e| map_webpki(e, chain, leaf, crls, now))?;

    // The anchor the path ends at, and the intermediates it used.
    let ta = path.anchor();
    let anchor = anchors
        .anchors()
        .iter()
        .find(|a| {
            a.ta.subject.as_ref() == ta.subject.as_ref()
                && a.ta.subject_public_key_info.as_ref() == ta.subject_public_key_info.as_ref()
        })
        .map(|a| &a.cert);
    let used: Vec<&Certificate> = path
        .intermediate_certificates()
        .filter_map(|ic| {
            let der = ic.der();
            chain.iter().skip(1).find(|c| c.der() == der.as_ref())
        })
        .collect();

    // webpki does not check an anchor's own extensions. An anchor whose
    // keyUsage lacks keyCertSign (e.g. an STI-PA CRL signer configured as an
    // anchor so CRLs can be checked) must never issue certificates.
    if let Some(a) = anchor {
        if a.key_usage().is_some_and(|ku| !ku.key_cert_sign) {
            return Err(ChainError::NotCa {
                subject: a.subject().to_owned(),
            });
        }
    }

    // webpki does not check anchor validity; an expired STI-PA root must fail.
    if let Some(a) = anchor {
        if now > a.not_after() {
            return Err(ChainError::Expired {
                subject: a.subject().to_owned(),
                not_after: a.not_after(),
                now,
            });
        }
        if now < a.not_before() {
            return Err(ChainError::NotYetValid {
                subject: a.subject().to_owned(),
                not_before: a.not_before(),
                now,
            });
        }
    }

    // Revocation, on the validated path only.
    let path_certs: Vec<&Certificate> = std::iter::once(leaf).chain(used.iter().copied()).collect();
    let leaf_covered = check_revocation(&path_certs, anchors, crls, now)?;
    if policy.crl_required && !leaf_covered {
        return Err(ChainError::RevocationUnknown {
            subject,
            issuer: leaf.issuer().to_owned(),
        });
    }

    let mut warnings = Vec::new();

    // SHAKEN end-entity profile.
    let Some(point) = leaf.public_key_point() else {
        return Err(ChainError::BadLeafKey {
            subject,
            found: leaf.key_description().to_owned(),
        });
    };
    // Parsed (and checked on the curve) once, for every call the chain verifies.
    let Ok(leaf_key) = crate::crypto::PublicKey::from_point(point) else {
        return Err(ChainError::BadLeafKey {
            subject,
            found: "a P-256 key whose point is not on the curve".to_owned(),
        });
    };
    match leaf.key_usage() {
        None => {
            return Err(ChainError::LeafKeyUsage {
                subject,
                problem: "the keyUsage extension is absent",
            })
        }
        Some(ku) if ku.key_cert_sign => {
            return Err(ChainError::LeafKeyUsage {
                subject,
                problem: "keyCertSign is set on an end-entity certificate",
            })
        }
        Some(ku) if !ku.digital_signature => {
            return Err(ChainError::LeafKeyUsage {
                subject,
                problem: "digitalSignature is not set",
            })
        }
        Some(ku) => {
            if !ku.critical {
                warnings.push(format!(
                    "certificate '{subject}': keyUsage is not marked critical (ATIS-1000080 requires critical)"
                ));
            }
        }
    }
    if let Some(reason) = leaf.claim_constraints_error() {
        return Err(ChainError::BadClaimConstraints {
            subject,
            reason: reason.to_owned(),
        });
    }
    if let Some(reason) = leaf.tn_auth_list_error() {
        return Err(ChainError::BadTnAuthList {
            subject,
            reason: reason.to_owned(),
        });
    }
    let tn_auth_list = match leaf.tn_auth_list() {
        Some(l) => l.clone(),
        None if policy.require_tn_auth_list => {
            return Err(ChainError::MissingTnAuthList { subject })
        }
        None => TnAuthList::default(),
    };
    if leaf.tn_auth_list_critical() {
        warnings.push(format!(
            "certificate '{subject}': the TNAuthList extension is marked critical (RFC 8226 and ATIS-1000080: not critical)"
        ));
    }
    let spc = tn_auth_list.spc().map(str::to_owned);
    if let Some(s) = &spc {
        if !s
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        {
            warnings.push(format!(
                "certificate '{subject}': SPC {s:?} has characters outside [0-9A-Z] (ATIS-1000080 v005)"
            ));
        }
    }

    // Certificate policies on the chain's certificates (not the anchor).
    for cert in std::iter::once(leaf).chain(used.iter().copied()) {
        for oid in cert.policy_oids() {
            if !SHAKEN_POLICY_OIDS.contains(&oid.as_str()) {
                return Err(ChainError::PolicyNotAllowed {
                    subject: cert.subject().to_owned(),
                    oid: oid.clone(),
                });
            }
            if OLD_POLICY_OIDS.contains(&oid.as_str()) {
                warnings.push(format!(
                    "certificate '{}': policy {oid} is a superseded SHAKEN CP OID (current: 2.16.840.1.114569.1.1.4)",
                    cert.subject()
                ));
            }
        }
        if cert.policy_oids().len() > 1 {
            warnings.push(format!(
                "certificate '{}': {} certificate policies; ATIS-1000080 requires exactly one",
                cert.subject(),
                cert.policy_oids().len()
            ));
        }
    }

    let path_certs = std::iter::once(leaf)
        .chain(used.iter().copied())
        .chain(anchor);
    let (mut valid_from, mut valid_until) = (i64::MIN, i64::MAX);
    for c in path_certs {
        valid_from = valid_from.max(c.not_before());
        valid_until = valid_until.min(c.not_after());
    }

    Ok(ValidatedChain {
        leaf_subject: subject,
        leaf_public_key: leaf_key,
        spc,
        tn_auth_list,
        anchor_subject: anchor.map(|a| a.subject().to_owned()).unwrap_or_default(),
        valid_from,
        valid_until,
        warnings,
        claim_constraints: leaf.claim_constraints().to_vec(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::cert::test_lab::*;
    use crate::cert::{parse_chain, TnEntry};
    use crate::pki::LabPki;
    use crate::Limits;
    use std::collections::HashSet;

    #[test]
    fn lab_chain_validates() {
        let pki = lab();
        let chain = parse_chain(pki.leaf_chain_pem().as_bytes(), &Limits::default()).unwrap();
        let v = validate_chain(&chain, &anchors(&pki), &[], NOW, &ChainPolicy::default()).unwrap();
        assert_eq!(v.leaf_subject, "CN=SHAKEN 1234, O=Shaken Lab, C=US");
        assert_eq!(v.spc.as_deref(), Some("1234"));
        assert_eq!(v.anchor_subject, "CN=SHAKEN Lab ROOT, O=Shaken Lab, C=US");
        assert_eq!(v.leaf_public_key().len(), 65);
        assert_eq!(v.valid_from, T0);
        assert_eq!(v.valid_until, T0 + 365 * DAY);
        assert!(v.warnings.is_empty(), "{:?}", v.warnings);
        // The lab CRL (empty) applies cleanly, also when required.
        let c = Crl::from_pem_or_der(pki.crl.as_bytes(), &Limits::default()).unwrap();
        let strict = ChainPolicy {
            crl_required: true,
            ..ChainPolicy::default()
        };
        validate_chain(&chain, &anchors(&pki), &[c], NOW, &strict).unwrap();
    }

    /// A chain under an RSA root (as some STI-PA-listed roots are):
    /// the intermediate's sha256WithRSAEncryption signature verifies; the
    /// same chain against another root does not.
    #[test]
    fn chain_under_an_rsa_root_validates() {
        let mut o = crate::pki::LabPkiOptions::new(T0, T0 + 365 * DAY);
        o.root_key_pem = Some(include_str!("../../../../tests/data/keys/rsa.pkcs8.pem").to_owned());
        let pki = LabPki::generate(&o).unwrap();
        let root = x509_parser::parse_x509_certificate(&pki.root.cert_der)
            .unwrap()
            .1;
        assert_eq!(
            root.signature_algorithm.algorithm.to_id_string(),
            "1.2.840.113549.1.1.11",
            "the root is RSA (sha256WithRSAEncryption)"
        );
        let chain = parse_chain(pki.leaf_chain_pem().as_bytes(), &Limits::default()).unwrap();
        let v = validate_chain(&chain, &anchors(&pki), &[], NOW, &ChainPolicy::default()).unwrap();
        assert_eq!(v.anchor_subject, "CN=SHAKEN Lab ROOT, O=Shaken Lab, C=US");
        assert_eq!(v.leaf_public_key().len(), 65);
        let other = lab();
        assert!(
            validate_chain(&chain, &anchors(&other), &[], NOW, &ChainPolicy::default()).is_err()
        );
    }

    #[test]
    fn validity_is_intersection() {
        let pki = lab();
        let mut o = leaf_opts();
        o.not_before = T0 + DAY;
        let leaf = pki.issue_leaf(&o).unwrap();
        let v = validate_chain(
            &chain_of(&pki, &leaf.cert_pem),
            &anchors(&pki),
            &[],
            NOW,
            &ChainPolicy::default(),
        )
        .unwrap();
        assert_eq!(v.valid_from, T0 + DAY);
        assert_eq!(v.valid_until, T0 + 30 * DAY);
    }

    #[test]
    fn expired_leaf() {
        let pki = lab();
        let leaf = pki.issue_leaf(&leaf_opts()).unwrap();
        let now = T0 + 31 * DAY;
        let err = validate_chain(
            &chain_of(&pki, &leaf.cert_pem),
            &anchors(&pki),
            &[],
            now,
            &ChainPolicy::default(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            ChainError::Expired {
                subject: "CN=SHAKEN 1234, O=Shaken Lab, C=US".into(),
                not_after: T0 + 30 * DAY,
                now
            }
        );
        assert_eq!(err.code(), "cert-expired");
        let msg = err.to_string();
        assert!(msg.contains("CN=SHAKEN 1234"), "{msg}");
        assert!(msg.contains("expired at 2026-01-31T00:00:00Z"), "{msg}");
        assert!(
            msg.contains("verification time 2026-02-01T00:00:00Z"),
            "{msg}"
        );
    }

    #[test]
    fn expired_intermediate_is_named() {
        let pki = lab();
        let now = T0 + 400 * DAY;
        let mut o = leaf_opts();
        o.not_after = T0 + 500 * DAY;
        let leaf = pki.issue_leaf(&o).unwrap();
        let err = validate_chain(
            &chain_of(&pki, &leaf.cert_pem),
            &anchors(&pki),
            &[],
            now,
            &ChainPolicy::default(),
        )
        .unwrap_err();
        match err {
            ChainError::Expired { subject, .. } => {
                assert!(
                    subject.contains("STI-CA") || subject.contains("ROOT"),
                    "{subject}"
                )
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn not_yet_valid_leaf() {
        let pki = lab();
        let mut o = leaf_opts();
        o.not_before = NOW + DAY;
        let leaf = pki.issue_leaf(&o).unwrap();
        let err = validate_chain(
            &chain_of(&pki, &leaf.cert_pem),
            &anchors(&pki),
            &[],
            NOW,
            &ChainPolicy::default(),
        )
        .unwrap_err();
        assert!(
            matches!(&err, ChainError::NotYetValid { not_before, .. } if *not_before == NOW + DAY),
            "{err:?}"
        );
        assert_eq!(err.code(), "cert-not-yet-valid");
        assert!(err.to_string().contains("CN=SHAKEN 1234"));
    }

    #[test]
    fn untrusted_other_root() {
        let pki = lab();
        let other = lab();
        let chain = parse_chain(pki.leaf_chain_pem().as_bytes(), &Limits::default()).unwrap();
        let err = validate_chain(&chain, &anchors(&other), &[], NOW, &ChainPolicy::default())
            .unwrap_err();
        assert_eq!(err.code(), "cert-untrusted", "{err}");
        assert!(err.to_string().contains("CN=SHAKEN 1234"), "{err}");
    }

    #[test]
    fn intermediate_never_becomes_anchor() {
        // Only the intermediate is trusted by the caller, but the chain
        // carries a different CA with the same name: must not validate.
        let pki = lab();
        let other = lab();
        let chain = parse_chain(
            format!("{}{}", pki.leaf.cert_pem, other.ca.cert_pem).as_bytes(),
            &Limits::default(),
        )
        .unwrap();
        let err =
            validate_chain(&chain, &anchors(&pki), &[], NOW, &ChainPolicy::default()).unwrap_err();
        assert!(matches!(err, ChainError::Untrusted { .. }), "{err:?}");
    }

    #[test]
    fn no_anchors() {
        let pki = lab();
        let chain = parse_chain(pki.leaf_chain_pem().as_bytes(), &Limits::default()).unwrap();
        let err = validate_chain(
            &chain,
            &TrustAnchors::new(),
            &[],
            NOW,
            &ChainPolicy::default(),
        )
        .unwrap_err();
        assert_eq!(err, ChainError::NoTrustAnchors);
        // Neutral words: each surface adds its own hint (the CLI names
        // --trust-anchors and SHAKEN_TRUST_ANCHORS).
        assert!(err.to_string().contains("no trust anchors configured"));
        assert!(err.to_string().contains("trust-anchor bundle"));
        assert!(!err.to_string().contains("--"), "{err}");
    }

    #[test]
    fn empty_chain() {
        let pki = lab();
        let err =
            validate_chain(&[], &anchors(&pki), &[], NOW, &ChainPolicy::default()).unwrap_err();
        assert_eq!(err, ChainError::Empty);
    }

    #[test]
    fn leaf_without_digital_signature() {
        let pki = lab();
        let mut o = leaf_opts();
        o.digital_signature = false;
        let leaf = pki.issue_leaf(&o).unwrap();
        let err = validate_chain(
            &chain_of(&pki, &leaf.cert_pem),
            &anchors(&pki),
            &[],
            NOW,
            &ChainPolicy::default(),
        )
        .unwrap_err();
        assert_eq!(err.code(), "cert-leaf-key-usage", "{err}");
        assert!(err.to_string().contains("keyCertSign"), "{err}");
    }

    #[test]
    fn leaf_without_tn_auth_list() {
        let pki = lab();
        let mut o = leaf_opts();
        o.tn_auth_list = false;
        let leaf = pki.issue_leaf(&o).unwrap();
        let chain = chain_of(&pki, &leaf.cert_pem);
        let err =
            validate_chain(&chain, &anchors(&pki), &[], NOW, &ChainPolicy::default()).unwrap_err();
        assert_eq!(
            err,
            ChainError::MissingTnAuthList {
                subject: "CN=SHAKEN 1234, O=Shaken Lab, C=US".into()
            }
        );
        let lax = ChainPolicy {
            require_tn_auth_list: false,
            ..ChainPolicy::default()
        };
        let v = validate_chain(&chain, &anchors(&pki), &[], NOW, &lax).unwrap();
        assert!(v.tn_auth_list.0.is_empty());
        assert_eq!(v.spc, None);
    }

    #[test]
    fn leaf_with_tn_entries() {
        let pki = lab();
        let mut o = leaf_opts();
        o.spc = Some("555A".into());
        o.tns = vec![TnEntry::One("12155551212".into())];
        let leaf = pki.issue_leaf(&o).unwrap();
        let v = validate_chain(
            &chain_of(&pki, &leaf.cert_pem),
            &anchors(&pki),
            &[],
            NOW,
            &ChainPolicy::default(),
        )
        .unwrap();
        assert_eq!(v.spc.as_deref(), Some("555A"));
        assert_eq!(v.leaf_subject, "CN=SHAKEN 555A, O=Shaken Lab, C=US");
        assert_eq!(
            v.tn_auth_list.authorizes("12155551212"),
            crate::cert::TnAuthorization::Listed
        );
    }

    #[test]
    fn missing_intermediate_is_untrusted() {
        let pki = lab();
        let chain = parse_chain(pki.leaf.cert_pem.as_bytes(), &Limits::default()).unwrap();
        let err =
            validate_chain(&chain, &anchors(&pki), &[], NOW, &ChainPolicy::default()).unwrap_err();
        assert_eq!(err.code(), "cert-untrusted", "{err}");
        assert!(err.to_string().contains("SHAKEN Lab STI-CA"), "{err}");
    }

    #[test]
    fn wrong_order_is_untrusted() {
        let pki = lab();
        let body = format!("{}{}", pki.ca.cert_pem, pki.leaf.cert_pem);
        let chain = parse_chain(body.as_bytes(), &Limits::default()).unwrap();
        let err =
            validate_chain(&chain, &anchors(&pki), &[], NOW, &ChainPolicy::default()).unwrap_err();
        assert_eq!(err.code(), "cert-untrusted", "{err}");
        assert!(err.to_string().contains("out of order"), "{err}");
    }

    fn validate_custom(
        pki: &LabPki,
        tweak: impl FnOnce(&mut rcgen::CertificateParams),
        key: Option<rcgen::KeyPair>,
    ) -> Result<ValidatedChain, ChainError> {
        let (mut params, p256_key) = pki.leaf_params(&leaf_opts()).unwrap();
        // The SKI stays that of the P-256 key when another key is passed:
        // webpki does not look at it, and these tests target other checks.
        tweak(&mut params);
        let key = key.unwrap_or(p256_key);
        let leaf = pki.issue_custom(params, &key).unwrap();
        validate_chain(
            &chain_of(pki, &leaf.cert_pem),
            &anchors(pki),
            &[],
            NOW,
            &ChainPolicy::default(),
        )
    }

    #[test]
    fn leaf_with_p384_key() {
        let pki = lab();
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let err = validate_custom(&pki, |_| {}, Some(key)).unwrap_err();
        assert_eq!(err.code(), "cert-bad-leaf-key", "{err}");
        assert!(err.to_string().contains("1.3.132.0.34"), "{err}");
    }

    #[test]
    fn leaf_without_key_usage() {
        let pki = lab();
        let err = validate_custom(&pki, |p| p.key_usages.clear(), None).unwrap_err();
        assert_eq!(
            err,
            ChainError::LeafKeyUsage {
                subject: "CN=SHAKEN 1234, O=Shaken Lab, C=US".into(),
                problem: "the keyUsage extension is absent"
            }
        );
    }

    #[test]
    fn leaf_that_is_a_ca() {
        let pki = lab();
        let err = validate_custom(
            &pki,
            |p| p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained),
            None,
        )
        .unwrap_err();
        assert!(
            matches!(err.code(), "cert-leaf-is-ca" | "cert-path-len"),
            "{err}"
        );
    }

    #[test]
    fn leaf_with_foreign_policy() {
        let pki = lab();
        let err = validate_custom(
            &pki,
            |p| p.custom_extensions[0] = crate::pki::policies_extension("2.5.29.32.0").unwrap(),
            None,
        )
        .unwrap_err();
        assert_eq!(
            err,
            ChainError::PolicyNotAllowed {
                subject: "CN=SHAKEN 1234, O=Shaken Lab, C=US".into(),
                oid: "2.5.29.32.0".into()
            }
        );
    }

    #[test]
    fn leaf_with_old_policy_warns() {
        let pki = lab();
        let v = validate_custom(
            &pki,
            |p| {
                p.custom_extensions[0] =
                    crate::pki::policies_extension("2.16.840.1.114569.1.1.1").unwrap()
            },
            None,
        )
        .unwrap();
        assert_eq!(v.warnings.len(), 1, "{:?}", v.warnings);
        assert!(v.warnings[0].contains("2.16.840.1.114569.1.1.1"));
    }

    #[test]
    fn leaf_with_implicit_tag_tn_auth_list() {
        let pki = lab();
        let err = validate_custom(
            &pki,
            |p| {
                p.custom_extensions[1] = rcgen::CustomExtension::from_oid_content(
                    &[1, 3, 6, 1, 5, 5, 7, 1, 26],
                    vec![0x30, 0x06, 0x80, 0x04, b'1', b'2', b'3', b'4'],
                )
            },
            None,
        )
        .unwrap_err();
        assert_eq!(err.code(), "cert-bad-tnauthlist");
        assert!(err.to_string().contains("IMPLICIT"), "{err}");
    }

    #[test]
    fn leaf_with_lowercase_spc_warns() {
        let pki = lab();
        let mut o = leaf_opts();
        o.spc = Some("bogus".into());
        let leaf = pki.issue_leaf(&o).unwrap();
        let v = validate_chain(
            &chain_of(&pki, &leaf.cert_pem),
            &anchors(&pki),
            &[],
            NOW,
            &ChainPolicy::default(),
        )
        .unwrap();
        assert_eq!(v.warnings.len(), 1, "{:?}", v.warnings);
        assert!(v.warnings[0].contains("[0-9A-Z]"));
    }

    #[test]
    fn expired_anchor() {
        // Root valid for 1 year, leaf and CA issued by hand beyond that are
        // impossible with LabPki; instead verify at a time after the whole
        // PKI expired: some certificate on the path is named.
        let pki = lab();
        let chain = parse_chain(pki.leaf_chain_pem().as_bytes(), &Limits::default()).unwrap();
        let now = T0 + 366 * DAY;
        let err =
            validate_chain(&chain, &anchors(&pki), &[], now, &ChainPolicy::default()).unwrap_err();
        assert_eq!(err.code(), "cert-expired");
        assert!(err.to_string().contains("SHAKEN"), "{err}");
    }

    #[test]
    fn crl_signer_anchor_cannot_issue_certificates() {
        // A self-signed anchor with keyUsage cRLSign only, and a leaf it signed.
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut p = rcgen::CertificateParams::default();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, "STI-PA CRL");
        p.distinguished_name = dn;
        p.not_before = time::OffsetDateTime::from_unix_timestamp(T0).unwrap();
        p.not_after = time::OffsetDateTime::from_unix_timestamp(T0 + 365 * DAY).unwrap();
        p.key_usages = vec![rcgen::KeyUsagePurpose::CrlSign];
        p.is_ca = rcgen::IsCa::ExplicitNoCa; // rcgen writes extensions only then
        let signer = p.self_signed(&key).unwrap();
        let pki = lab();
        let (leaf_params, leaf_key) = pki.leaf_params(&leaf_opts()).unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &signer, &key).unwrap();
        let chain = vec![Certificate::from_der(leaf.der().to_vec(), &Limits::default()).unwrap()];
        let mut anchors = TrustAnchors::new();
        anchors.add_der(signer.der()).unwrap();
        let err =
            validate_chain(&chain, &anchors, &[], T0 + DAY, &ChainPolicy::default()).unwrap_err();
        assert_eq!(err.code(), "cert-not-ca", "{err}");
        assert!(err.to_string().contains("STI-PA CRL"), "{err}");
    }

    #[test]
    fn error_codes_are_unique_and_messages_name_something() {
        let s = || "CN=x".to_owned();
        let all = vec![
            ChainError::NoTrustAnchors,
            ChainError::Empty,
            ChainError::BadClaimConstraints {
                subject: s(),
                reason: s(),
            },
            ChainError::Untrusted {
                subject: s(),
                issuer: s(),
                detail: s(),
            },
            ChainError::UnsupportedAlgorithm {
                subject: s(),
                detail: s(),
            },
            ChainError::Expired {
                subject: s(),
                not_after: 0,
                now: 1,
            },
            ChainError::NotYetValid {
                subject: s(),
                not_before: 1,
                now: 0,
            },
            ChainError::Revoked {
                subject: s(),
                serial: s(),
            },
            ChainError::RevocationUnknown {
                subject: s(),
                issuer: s(),
            },
            ChainError::CrlExpired {
                subject: s(),
                next_update: 0,
                now: 1,
            },
            ChainError::CrlInvalid {
                subject: s(),
                detail: s(),
            },
            ChainError::CrlUnavailable {
                subject: s(),
                url: s(),
                detail: s(),
            },
            ChainError::BadLeafKey {
                subject: s(),
                found: s(),
            },
            ChainError::LeafKeyUsage {
                subject: s(),
                problem: "p",
            },
            ChainError::LeafIsCa { subject: s() },
            ChainError::NotCa { subject: s() },
            ChainError::PathLen { subject: s() },
            ChainError::CriticalExtension { subject: s() },
            ChainError::ExtendedKeyUsage { subject: s() },
            ChainError::MissingTnAuthList { subject: s() },
            ChainError::BadTnAuthList {
                subject: s(),
                reason: s(),
            },
            ChainError::PolicyNotAllowed {
                subject: s(),
                oid: s(),
            },
            ChainError::TooComplex {
                subject: s(),
                detail: s(),
            },
            ChainError::Malformed {
                subject: s(),
                detail: s(),
            },
            ChainError::Rejected {
                subject: s(),
                detail: s(),
            },
        ];
        let mut seen = HashSet::new();
        for e in &all {
            let code = e.code();
            assert!(seen.insert(code), "duplicate code {code}");
            assert!(code.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'));
            assert_eq!(e.sip_status(), 437);
            let msg = e.to_string();
            assert!(
                msg.contains("CN=x") || matches!(e, ChainError::NoTrustAnchors | ChainError::Empty),
                "{msg}"
            );
        }
        assert_eq!(seen.len(), 25);
    }
}
