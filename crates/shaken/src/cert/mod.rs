//! STI certificates (RFC 8226, ATIS-1000080): parsing, chains, trust anchors,
//! CRLs and the TNAuthList extension.
//!
//! Pure and sans-I/O: callers hand in bytes and a verification time. Each
//! certificate is parsed once with `x509-parser` and the facts the verifier
//! needs are kept as owned values next to the DER.

pub mod chain;
pub mod claim_constraints;
pub mod crl;
pub mod lint;
pub mod revocation;
#[cfg(test)]
mod test_lab;
pub mod tn_auth_list;

pub use chain::*;
pub use crl::*;
pub use tn_auth_list::*;

use crate::Limits;
use rustls_pki_types::{CertificateDer, TrustAnchor};
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;

/// OID of `id-ecPublicKey`.
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
/// OID of the named curve `prime256v1` (P-256).
const OID_P256: &str = "1.2.840.10045.3.1.7";

/// Why a certificate, chain, trust-anchor bundle or CRL could not be parsed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// No bytes at all.
    #[error("{what} is empty")]
    Empty {
        /// What was being parsed ("certificate chain", "CRL", …).
        what: &'static str,
    },
    /// The input is neither PEM with a wanted block nor DER.
    #[error("{what} holds no PEM '{label}' block and is not DER")]
    NoPemBlock {
        /// What was being parsed.
        what: &'static str,
        /// The PEM label looked for.
        label: &'static str,
    },
    /// A PEM block is malformed (no END line, bad base64, unexpected label).
    #[error("PEM block {index} of the {what}: {reason}")]
    Pem {
        /// What was being parsed.
        what: &'static str,
        /// Zero-based block index.
        index: usize,
        /// What was wrong.
        reason: String,
    },
    /// More certificates than `Limits::max_chain_len`.
    #[error("certificate chain has more than {max} certificates (Limits::max_chain_len)")]
    TooManyCerts {
        /// The limit.
        max: usize,
    },
    /// A certificate larger than `Limits::max_cert_len`.
    #[error("certificate is {len} bytes, larger than the limit of {max} (Limits::max_cert_len)")]
    CertTooLarge {
        /// Its size (DER, or a lower bound from the PEM body).
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A CRL larger than `Limits::max_crl_body`.
    #[error("CRL is {len} bytes, larger than the limit of {max} (Limits::max_crl_body)")]
    CrlTooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The DER is not an X.509 certificate.
    #[error("not a valid X.509 certificate: {reason}")]
    X509 {
        /// What x509-parser reported.
        reason: String,
    },
    /// Bytes follow the certificate or CRL.
    #[error("{what} is followed by {len} trailing bytes")]
    TrailingData {
        /// What was parsed.
        what: &'static str,
        /// How many bytes follow it.
        len: usize,
    },
    /// An error in one certificate of a chain or bundle.
    #[error("certificate {index} of the {what}: {source}")]
    AtIndex {
        /// What was being parsed.
        what: &'static str,
        /// Zero-based position (0 is the end-entity in a chain).
        index: usize,
        /// The error.
        #[source]
        source: Box<CertError>,
    },
    /// webpki refused the certificate as a trust anchor.
    #[error("certificate '{subject}' cannot be used as a trust anchor: {reason}")]
    BadAnchor {
        /// The anchor's subject.
        subject: String,
        /// What webpki reported.
        reason: String,
    },
    /// The DER is not a valid CRL.
    #[error("not a valid X.509 CRL: {reason}")]
    BadCrl {
        /// What the parser reported.
        reason: String,
    },
}

/// Reading certificates, anchors and CRLs: local input, no SIP code of its own
/// (a fetched chain that does not parse is `fetch-parse`, 436).
impl crate::diagnostic::Diagnostic for CertError {
    fn id(&self) -> &'static str {
        match self {
            CertError::Empty { .. } => "input-empty",
            CertError::NoPemBlock { .. } => "input-no-pem-block",
            CertError::Pem { .. } => "input-bad-pem",
            CertError::TooManyCerts { .. } => "chain-too-long",
            CertError::CertTooLarge { .. } => "cert-too-large",
            CertError::CrlTooLarge { .. } => "crl-too-large",
            CertError::X509 { .. } => "cert-not-x509",
            CertError::TrailingData { .. } => "input-trailing-data",
            CertError::AtIndex { .. } => "chain-cert-invalid",
            CertError::BadAnchor { .. } => "anchor-invalid",
            CertError::BadCrl { .. } => "crl-not-x509",
        }
    }
    fn sip_code(&self) -> Option<u16> {
        None
    }
    fn verstat(&self) -> Option<crate::report::Verstat> {
        None
    }
}

/// The key-usage bits that matter for STI certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyUsageBits {
    /// `digitalSignature` (the only one an STI end-entity may carry).
    pub digital_signature: bool,
    /// `keyCertSign` (CAs only).
    pub key_cert_sign: bool,
    /// `cRLSign`.
    pub crl_sign: bool,
    /// Whether the extension is marked critical.
    pub critical: bool,
}

/// A parsed X.509 certificate: the DER plus the facts extracted from it once.
#[derive(Debug, Clone)]
pub struct Certificate {
    der: Vec<u8>,
    subject: String,
    issuer: String,
    serial_hex: String,
    not_before: i64,
    not_after: i64,
    key_description: String,
    public_key_point: Option<Vec<u8>>,
    tn_auth_list: Option<TnAuthList>,
    tn_auth_list_error: Option<String>,
    tn_auth_list_critical: bool,
    claim_constraints: Vec<claim_constraints::ClaimConstraints>,
    claim_constraints_error: Option<String>,
    is_ca: bool,
    key_usage: Option<KeyUsageBits>,
    policy_oids: Vec<String>,
    crl_distribution_points: Vec<String>,
}

fn to_hex(bytes: &[u8]) -> String {
    crate::hex(bytes)
}

/// Lowercase hex of a DER INTEGER's content octets, leading zero bytes
/// removed (at least one byte kept).
pub(crate) fn serial_to_hex(raw: &[u8]) -> String {
    let mut raw = raw;
    while raw.len() > 1 && raw.first() == Some(&0) {
        raw = raw.get(1..).unwrap_or_default();
    }
    to_hex(raw)
}

/// Formats unix seconds as RFC 3339 UTC (`2026-01-01T00:00:00Z`), for
/// messages. Falls back to the raw number outside the representable range.
pub(crate) fn fmt_time(t: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(t) {
        Ok(dt) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            dt.year(),
            u8::from(dt.month()),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second()
        ),
        Err(_) => format!("@{t}"),
    }
}

impl Certificate {
    /// Parses one DER certificate. Fails on anything that is not a single
    /// well-formed X.509 certificate within `limits.max_cert_len`. A malformed
    /// TNAuthList does not fail parsing: see [`Certificate::tn_auth_list_error`].
    pub fn from_der(der: Vec<u8>, limits: &Limits) -> Result<Self, CertError> {
        if der.is_empty() {
            return Err(CertError::Empty {
                what: "certificate",
            });
        }
        if der.len() > limits.max_cert_len {
            return Err(CertError::CertTooLarge {
                len: der.len(),
                max: limits.max_cert_len,
            });
        }
        let (rest, cert) =
            x509_parser::certificate::X509Certificate::from_der(&der).map_err(|e| {
                CertError::X509 {
                    reason: e.to_string(),
                }
            })?;
        if !rest.is_empty() {
            return Err(CertError::TrailingData {
                what: "certificate",
                len: rest.len(),
            });
        }
        let subject = cert.subject().to_string();
        let issuer = cert.issuer().to_string();
        let serial_hex = serial_to_hex(cert.raw_serial());
        let not_before = cert.validity().not_before.timestamp();
        let not_after = cert.validity().not_after.timestamp();

        let spki = cert.public_key();
        let alg = spki.algorithm.algorithm.to_id_string();
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok())
            .map(|o| o.to_id_string());
        let point = spki.subject_public_key.data.as_ref();
        let public_key_point = (alg == OID_EC_PUBLIC_KEY
            && curve.as_deref() == Some(OID_P256)
            && point.len() == 65
            && point.first() == Some(&0x04))
        .then(|| point.to_vec());
        let key_description = match (alg.as_str(), curve.as_deref()) {
            (OID_EC_PUBLIC_KEY, Some(OID_P256)) if public_key_point.is_some() => {
                "id-ecPublicKey P-256".to_owned()
            }
            (OID_EC_PUBLIC_KEY, Some(OID_P256)) => {
                format!(
                    "id-ecPublicKey P-256 with a {}-byte point that is not uncompressed SEC1",
                    point.len()
                )
            }
            (OID_EC_PUBLIC_KEY, Some(c)) => format!("id-ecPublicKey on curve {}", oid_with_name(c)),
            (OID_EC_PUBLIC_KEY, None) => "id-ecPublicKey without a named curve".to_owned(),
            (a, _) => format!("key algorithm {}", oid_with_name(a)),
        };

        let mut tn_auth_list = None;
        let mut tn_auth_list_error = None;
        let mut tn_auth_list_critical = false;
        let mut constraints = Vec::new();
        let mut constraints_error = None;
        let mut is_ca = false;
        let mut key_usage = None;
        let mut policy_oids = Vec::new();
        let mut crl_distribution_points = Vec::new();
        for ext in cert.extensions() {
            let oid = ext.oid.to_id_string();
            if oid == OID_TN_AUTH_LIST {
                tn_auth_list_critical = ext.critical;
                if tn_auth_list.is_some() || tn_auth_list_error.is_some() {
                    tn_auth_list = None;
                    tn_auth_list_error =
                        Some("the TNAuthList extension appears more than once".to_owned());
                    continue;
                }
                match TnAuthList::from_der(ext.value) {
                    Ok(l) => tn_auth_list = Some(l),
                    Err(e) => tn_auth_list_error = Some(e.to_string()),
                }
                continue;
            }
            let enhanced = oid == claim_constraints::OID_ENHANCED_JWT_CLAIM_CONSTRAINTS;
            if enhanced || oid == claim_constraints::OID_JWT_CLAIM_CONSTRAINTS {
                match claim_constraints::ClaimConstraints::from_der(ext.value, enhanced) {
                    Ok(c) => constraints.push(c),
                    Err(e) => constraints_error = Some(format!("{oid}: {e}")),
                }
                continue;
            }
            match ext.parsed_extension() {
                ParsedExtension::BasicConstraints(bc) => is_ca = bc.ca,
                ParsedExtension::KeyUsage(ku) => {
                    key_usage = Some(KeyUsageBits {
                        digital_signature: ku.digital_signature(),
                        key_cert_sign: ku.key_cert_sign(),
                        crl_sign: ku.crl_sign(),
                        critical: ext.critical,
                    })
                }
                ParsedExtension::CertificatePolicies(policies) => {
                    policy_oids.extend(policies.iter().map(|p| p.policy_id.to_id_string()));
                }
                ParsedExtension::CRLDistributionPoints(points) => {
                    for point in &points.points {
                        if let Some(DistributionPointName::FullName(names)) =
                            &point.distribution_point
                        {
                            for name in names {
                                if let GeneralName::URI(uri) = name {
                                    crl_distribution_points.push((*uri).to_owned());
                                }
                            }
                        }
                    }
                }
                _ => {}
            }
        }

        Ok(Certificate {
            der,
            subject,
            issuer,
            serial_hex,
            not_before,
            not_after,
            key_description,
            public_key_point,
            tn_auth_list,
            tn_auth_list_error,
            tn_auth_list_critical,
            claim_constraints: constraints,
            claim_constraints_error: constraints_error,
            is_ca,
            key_usage,
            policy_oids,
            crl_distribution_points,
        })
    }

    /// The DER bytes as received.
    pub fn der(&self) -> &[u8] {
        &self.der
    }
    /// The subject DN as an RFC 4514-style string, e.g. `CN=SHAKEN 1234, O=Shaken Lab, C=US`.
    pub fn subject(&self) -> &str {
        &self.subject
    }
    /// The issuer DN, same format as [`Certificate::subject`].
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
    /// The serial number, lowercase hex without colons or leading zero bytes.
    pub fn serial_hex(&self) -> &str {
        &self.serial_hex
    }
    /// `notBefore`, unix seconds.
    pub fn not_before(&self) -> i64 {
        self.not_before
    }
    /// `notAfter`, unix seconds.
    pub fn not_after(&self) -> i64 {
        self.not_after
    }
    /// The 65-byte uncompressed SEC1 point when the key is `id-ecPublicKey`
    /// on P-256, else `None`.
    pub fn public_key_point(&self) -> Option<&[u8]> {
        self.public_key_point.as_deref()
    }
    /// A short description of the key type, e.g. `id-ecPublicKey P-256`.
    pub fn key_description(&self) -> &str {
        &self.key_description
    }
    /// The TNAuthList, when present and well-formed.
    pub fn tn_auth_list(&self) -> Option<&TnAuthList> {
        self.tn_auth_list.as_ref()
    }
    /// `Some(why)` when the TNAuthList extension is present but malformed
    /// (or present twice).
    pub fn tn_auth_list_error(&self) -> Option<&str> {
        self.tn_auth_list_error.as_deref()
    }
    /// Whether the TNAuthList extension (if any) is marked critical.
    pub fn tn_auth_list_critical(&self) -> bool {
        self.tn_auth_list_critical
    }
    /// JWT claim constraints (RFC 8226 and RFC 9118 extensions), if any.
    pub fn claim_constraints(&self) -> &[claim_constraints::ClaimConstraints] {
        &self.claim_constraints
    }
    /// Why a claim-constraints extension is malformed, if one is.
    pub fn claim_constraints_error(&self) -> Option<&str> {
        self.claim_constraints_error.as_deref()
    }
    /// BasicConstraints `cA` (false when the extension is absent).
    pub fn is_ca(&self) -> bool {
        self.is_ca
    }
    /// The KeyUsage bits, `None` when the extension is absent.
    pub fn key_usage(&self) -> Option<KeyUsageBits> {
        self.key_usage
    }
    /// The certificate policy OIDs (dotted), in order.
    pub fn policy_oids(&self) -> &[String] {
        &self.policy_oids
    }
    /// The URIs of the CRL distribution points' full names.
    pub fn crl_distribution_points(&self) -> &[String] {
        &self.crl_distribution_points
    }
}

/// One PEM block found by [`pem_blocks`].
pub(crate) struct PemBlock {
    pub(crate) label: String,
    pub(crate) der: Vec<u8>,
}

/// Whether the bytes look like PEM (a `-----BEGIN ` line somewhere).
pub(crate) fn looks_like_pem(bytes: &[u8]) -> bool {
    bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

/// Scans `bytes` for PEM blocks, tolerating text around them. Stops with an
/// error on a block without an END line or with bad base64. `max_blocks`
/// bounds the work: scanning stops with `TooManyCerts` once more blocks than
/// that are seen. `max_der` bounds each block's decoded size.
pub(crate) fn pem_blocks(
    bytes: &[u8],
    what: &'static str,
    max_blocks: usize,
    max_der: usize,
    too_large: impl Fn(usize, usize) -> CertError,
) -> Result<Vec<PemBlock>, CertError> {
    use base64::Engine;
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    let mut rest: &str = &text;
    let mut index = 0;
    while let Some(pos) = rest.find("-----BEGIN ") {
        let after = rest.get(pos + 11..).unwrap_or_default();
        let Some(label_end) = after.find("-----") else {
            return Err(CertError::Pem {
                what,
                index,
                reason: "BEGIN line is not terminated by '-----'".to_owned(),
            });
        };
        let label = after.get(..label_end).unwrap_or_default().to_owned();
        let body_start = after.get(label_end + 5..).unwrap_or_default();
        let end_marker = format!("-----END {label}-----");
        let Some(end) = body_start.find(&end_marker) else {
            return Err(CertError::Pem {
                what,
                index,
                reason: format!("no '{end_marker}' line"),
            });
        };
        if out.len() >= max_blocks {
            return Err(CertError::TooManyCerts { max: max_blocks });
        }
        let body = body_start.get(..end).unwrap_or_default();
        let b64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        // 4 base64 chars carry 3 bytes: reject before decoding.
        let approx = b64.len() / 4 * 3;
        if approx > max_der.saturating_add(3) {
            return Err(too_large(approx, max_der));
        }
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .map_err(|e| CertError::Pem {
                what,
                index,
                reason: format!("bad base64 in '{label}' block: {e}"),
            })?;
        if der.len() > max_der {
            return Err(too_large(der.len(), max_der));
        }
        out.push(PemBlock { label, der });
        index += 1;
        rest = body_start.get(end + end_marker.len()..).unwrap_or_default();
    }
    Ok(out)
}

/// A dotted OID with its name where one is known: `extendedKeyUsage
/// (2.5.29.37)`, else the OID alone.
pub fn oid_with_name(dotted: &str) -> String {
    match oid_name(dotted) {
        Some(name) => format!("{name} ({dotted})"),
        None => dotted.to_owned(),
    }
}

/// The registered short name of a dotted OID (`2.5.29.37` ->
/// `extendedKeyUsage`, `1.3.132.0.34` -> `secp384r1`), from x509-parser's
/// `oid-registry`, plus the SHAKEN OIDs it does not know. `None` when no
/// registry has it.
pub fn oid_name(dotted: &str) -> Option<&'static str> {
    match dotted {
        OID_TN_AUTH_LIST => return Some("TNAuthList"),
        claim_constraints::OID_JWT_CLAIM_CONSTRAINTS => return Some("JWTClaimConstraints"),
        claim_constraints::OID_ENHANCED_JWT_CLAIM_CONSTRAINTS => {
            return Some("EnhancedJWTClaimConstraints")
        }
        o if SHAKEN_POLICY_OIDS.contains(&o) => return Some("SHAKEN certificate policy"),
        "1.3.6.1.5.5.7.3.20" => return Some("id-kp-jwt-stir-shaken"),
        _ => {}
    }
    let oid: x509_parser::oid_registry::Oid<'static> = dotted.parse().ok()?;
    x509_parser::objects::oid_registry()
        .get(&oid)
        .map(|entry| entry.sn())
}

/// Parses a certificate chain as served by an STI-CR: a PEM chain (one or
/// more `CERTIFICATE` blocks, end-entity first, text around the blocks
/// tolerated) or a single DER certificate. Bounded by
/// `limits.max_chain_len` and `limits.max_cert_len`.
pub fn parse_chain(bytes: &[u8], limits: &Limits) -> Result<Vec<Certificate>, CertError> {
    const WHAT: &str = "certificate chain";
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(CertError::Empty { what: WHAT });
    }
    if !looks_like_pem(bytes) {
        // A single DER certificate (starts with a SEQUENCE tag).
        if bytes.first() != Some(&0x30) {
            return Err(CertError::NoPemBlock {
                what: WHAT,
                label: "CERTIFICATE",
            });
        }
        let cert =
            Certificate::from_der(bytes.to_vec(), limits).map_err(|e| CertError::AtIndex {
                what: WHAT,
                index: 0,
                source: Box::new(e),
            })?;
        return Ok(vec![cert]);
    }
    let blocks = pem_blocks(
        bytes,
        WHAT,
        limits.max_chain_len,
        limits.max_cert_len,
        |len, max| CertError::CertTooLarge { len, max },
    )?;
    let mut out = Vec::with_capacity(blocks.len());
    for (index, block) in blocks.into_iter().enumerate() {
        if block.label != "CERTIFICATE" {
            return Err(CertError::Pem {
                what: WHAT,
                index,
                reason: format!(
                    "unexpected '{}' block; a chain holds only CERTIFICATE blocks",
                    block.label
                ),
            });
        }
        let cert = Certificate::from_der(block.der, limits).map_err(|e| CertError::AtIndex {
            what: WHAT,
            index,
            source: Box::new(e),
        })?;
        out.push(cert);
    }
    if out.is_empty() {
        return Err(CertError::NoPemBlock {
            what: WHAT,
            label: "CERTIFICATE",
        });
    }
    Ok(out)
}

/// One configured trust anchor.
#[derive(Debug, Clone)]
pub(crate) struct Anchor {
    pub(crate) cert: Certificate,
    pub(crate) ta: TrustAnchor<'static>,
}

/// The configured trust anchors (the STI-PA trust list, or a lab root).
/// Intermediates never come from here; they come only from the chain.
#[derive(Debug, Clone, Default)]
pub struct TrustAnchors {
    anchors: Vec<Anchor>,
}

impl TrustAnchors {
    /// No anchors.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds every `CERTIFICATE` block of a PEM bundle (other block types,
    /// e.g. a CRL, are skipped). Returns how many were added; an input with
    /// no certificate is an error.
    pub fn add_pem(&mut self, pem: &[u8]) -> Result<usize, CertError> {
        const WHAT: &str = "trust-anchor bundle";
        if pem.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(CertError::Empty { what: WHAT });
        }
        let limits = Limits::default();
        // Bundles can be large (a national trust list): bound by blocks of
        // the usual certificate size, not by the x5u chain limit.
        let blocks = pem_blocks(pem, WHAT, 10_000, limits.max_cert_len, |len, max| {
            CertError::CertTooLarge { len, max }
        })?;
        let mut added = Vec::new();
        for (index, block) in blocks.into_iter().enumerate() {
            if block.label != "CERTIFICATE" {
                continue;
            }
            let anchor = Self::make_anchor(block.der).map_err(|e| CertError::AtIndex {
                what: WHAT,
                index,
                source: Box::new(e),
            })?;
            added.push(anchor);
        }
        if added.is_empty() {
            return Err(CertError::NoPemBlock {
                what: WHAT,
                label: "CERTIFICATE",
            });
        }
        let n = added.len();
        self.anchors.extend(added);
        Ok(n)
    }

    /// Adds one DER certificate as an anchor.
    pub fn add_der(&mut self, der: &[u8]) -> Result<(), CertError> {
        let anchor = Self::make_anchor(der.to_vec())?;
        self.anchors.push(anchor);
        Ok(())
    }

    fn make_anchor(der: Vec<u8>) -> Result<Anchor, CertError> {
        let cert = Certificate::from_der(der, &Limits::default())?;
        let cder = CertificateDer::from(cert.der());
        let ta = webpki::anchor_from_trusted_cert(&cder)
            .map_err(|e| CertError::BadAnchor {
                subject: cert.subject().to_owned(),
                reason: e.to_string(),
            })?
            .to_owned();
        Ok(Anchor { cert, ta })
    }

    /// How many anchors are configured.
    pub fn len(&self) -> usize {
        self.anchors.len()
    }
    /// Whether no anchor is configured.
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }
    /// The anchors' certificates.
    pub fn certificates(&self) -> impl Iterator<Item = &Certificate> {
        self.anchors.iter().map(|a| &a.cert)
    }
    pub(crate) fn anchors(&self) -> &[Anchor] {
        &self.anchors
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::pki::{LabPki, LabPkiOptions};

    const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

    fn lab() -> LabPki {
        LabPki::generate(&LabPkiOptions::new(T0, T0 + 365 * 86400)).unwrap()
    }

    #[test]
    fn fmt_time_is_rfc3339() {
        assert_eq!(fmt_time(T0), "2026-01-01T00:00:00Z");
        assert_eq!(fmt_time(i64::MAX), format!("@{}", i64::MAX));
    }

    #[test]
    fn serial_hex_strips_leading_zeroes() {
        assert_eq!(serial_to_hex(&[0, 0xab, 0x01]), "ab01");
        assert_eq!(serial_to_hex(&[0]), "00");
    }

    #[test]
    fn parses_lab_leaf_fields() {
        let pki = lab();
        let chain = parse_chain(pki.leaf_chain_pem().as_bytes(), &Limits::default()).unwrap();
        assert_eq!(chain.len(), 2);
        let leaf = &chain[0];
        assert_eq!(leaf.subject(), "CN=SHAKEN 1234, O=Shaken Lab, C=US");
        assert_eq!(leaf.issuer(), "CN=SHAKEN Lab STI-CA, O=Shaken Lab, C=US");
        assert_eq!(leaf.not_before(), T0);
        assert_eq!(leaf.public_key_point().unwrap().len(), 65);
        assert_eq!(leaf.key_description(), "id-ecPublicKey P-256");
        assert_eq!(leaf.tn_auth_list().unwrap().spc(), Some("1234"));
        assert!(leaf.tn_auth_list_error().is_none());
        assert!(!leaf.is_ca());
        assert!(chain[1].is_ca());
        assert_eq!(leaf.policy_oids(), ["2.16.840.1.114569.1.1.4"]);
        assert_eq!(leaf.crl_distribution_points(), ["http://127.0.0.1/crl.pem"]);
        let ku = leaf.key_usage().unwrap();
        assert!(ku.digital_signature && !ku.key_cert_sign && ku.critical);
        assert!(leaf.serial_hex().len() >= 16, "{}", leaf.serial_hex());
        assert!(leaf
            .serial_hex()
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    }

    #[test]
    fn parse_chain_pem_with_text_around() {
        let pki = lab();
        let body = format!("leading text\n{}\ntrailing\n", pki.leaf_chain_pem());
        let chain = parse_chain(body.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(chain.len(), 2);
    }

    #[test]
    fn parse_chain_single_der() {
        let pki = lab();
        let chain = parse_chain(&pki.leaf.cert_der, &Limits::default()).unwrap();
        assert_eq!(chain.len(), 1);
        assert_eq!(chain[0].der(), pki.leaf.cert_der.as_slice());
    }

    #[test]
    fn parse_chain_rejects_der_with_trailing_bytes() {
        let pki = lab();
        let mut der = pki.leaf.cert_der.clone();
        der.push(0);
        let err = parse_chain(&der, &Limits::default()).unwrap_err();
        assert!(err.to_string().contains("trailing"), "{err}");
    }

    #[test]
    fn parse_chain_rejects_garbage() {
        let err = parse_chain(b"hello world", &Limits::default()).unwrap_err();
        assert!(matches!(err, CertError::NoPemBlock { .. }), "{err}");
        let err = parse_chain(&[0x30, 0x03, 1, 2, 3], &Limits::default()).unwrap_err();
        assert!(matches!(err, CertError::AtIndex { .. }), "{err}");
        let pem = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        let err = parse_chain(pem.as_bytes(), &Limits::default()).unwrap_err();
        assert!(matches!(err, CertError::Pem { .. }), "{err}");
        let pem = "-----BEGIN CERTIFICATE-----\nAAAA\n";
        let err = parse_chain(pem.as_bytes(), &Limits::default()).unwrap_err();
        assert!(matches!(err, CertError::Pem { .. }), "{err}");
        let pem = "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n";
        let err = parse_chain(pem.as_bytes(), &Limits::default()).unwrap_err();
        assert!(matches!(err, CertError::AtIndex { index: 0, .. }), "{err}");
    }

    #[test]
    fn parse_chain_rejects_other_pem_labels() {
        let pki = lab();
        let body = format!("{}{}", pki.leaf.cert_pem, pki.leaf.key_pem);
        let err = parse_chain(body.as_bytes(), &Limits::default()).unwrap_err();
        assert!(err.to_string().contains("PRIVATE KEY"), "{err}");
    }

    #[test]
    fn parse_chain_rejects_empty() {
        assert!(matches!(
            parse_chain(b"", &Limits::default()).unwrap_err(),
            CertError::Empty { .. }
        ));
        assert!(matches!(
            parse_chain(b" \n", &Limits::default()).unwrap_err(),
            CertError::Empty { .. }
        ));
    }

    #[test]
    fn parse_chain_rejects_too_many_certs() {
        let pki = lab();
        let body = pki.leaf.cert_pem.repeat(6);
        let err = parse_chain(body.as_bytes(), &Limits::default()).unwrap_err();
        assert!(matches!(err, CertError::TooManyCerts { max: 5 }), "{err}");
        let body = pki.leaf.cert_pem.repeat(5);
        assert_eq!(
            parse_chain(body.as_bytes(), &Limits::default())
                .unwrap()
                .len(),
            5
        );
    }

    #[test]
    fn parse_chain_rejects_too_large() {
        let pki = lab();
        let limits = Limits {
            max_cert_len: 100,
            ..Limits::default()
        };
        let err = parse_chain(pki.leaf_chain_pem().as_bytes(), &limits).unwrap_err();
        assert!(
            matches!(err, CertError::CertTooLarge { max: 100, .. }),
            "{err}"
        );
        let err = parse_chain(&pki.leaf.cert_der, &limits).unwrap_err();
        assert!(err.to_string().contains("max_cert_len"), "{err}");
    }

    #[test]
    fn trust_anchors_add_pem_and_der() {
        let pki = lab();
        let mut ta = TrustAnchors::new();
        assert!(ta.is_empty());
        assert_eq!(ta.add_pem(pki.root.cert_pem.as_bytes()).unwrap(), 1);
        ta.add_der(&pki.ca.cert_der).unwrap();
        assert_eq!(ta.len(), 2);
        // A CRL block is skipped; a bundle without certificates is an error.
        let err = ta.add_pem(pki.crl.as_bytes()).unwrap_err();
        assert!(matches!(err, CertError::NoPemBlock { .. }), "{err}");
        assert!(ta.add_pem(b"").is_err());
        assert!(ta.add_der(b"junk").is_err());
        assert_eq!(ta.len(), 2);
    }

    #[test]
    fn certificate_is_send_sync() {
        fn check<T: Send + Sync + Clone>() {}
        check::<Certificate>();
        check::<TrustAnchors>();
    }
}
