//! The STI-PA trust list (the US STI-CA list, specs §9.3): parsed and
//! verified from bytes and a clock. Installing it is the `trust_dir` module
//! (feature `fs`); fetching it and its signer is the caller's (`fetch`).
//!
//! The list is an ES256 JWS whose payload is
//! `{"version", "sequence", "exp", "trustList": [PEM, ...]}` and whose header
//! `x5u` names the list-signing certificate. The STI-PA API wraps it as
//! `{"status", "message", "caList": JWS}`; both forms are accepted.
//!
//! A list is accepted only when every rule holds, in this order (each
//! refusal is one [`TrustError`] variant with a stable id):
//! 1. the bytes are within [`Limits::max_trust_list`], the JWS decodes
//!    strictly, `alg` is `ES256`;
//! 2. the signature verifies with the signer certificate (the first of the
//!    chain fetched from `x5u` or given);
//! 3. that certificate chains to one of the pinned STI-PA roots at `now`
//!    (vermouth's rule; the roots are repeatable for a root rollover);
//! 4. `exp` is after `now`;
//! 5. `sequence` is not lower than the installed one (no rollback);
//! 6. every entry is one parseable CA certificate (RSA roots included).

use crate::cert::{
    parse_chain, validate_chain, CertError, Certificate, ChainError, ChainPolicy, TrustAnchors,
};
use crate::passport::{Header, HeaderError, PassportError, UnverifiedPassport, ALG_ES256};
use crate::Limits;
use serde_json::Value;
use sha2::Digest as _;

/// Why a trust list was refused. Every variant names the rule it broke.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// The list (or the API answer) is larger than `Limits::max_trust_list`.
    #[error("the trust list is {len} bytes, larger than the limit of {max}")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The STI-PA API answer is not the expected JSON object.
    #[error("the STI-PA answer is not a trust list: {reason}")]
    Answer {
        /// What is wrong with it.
        reason: String,
    },
    /// The STI-PA API answered with a status other than `success`.
    #[error("the STI-PA answered status {status:?}: {message}")]
    ApiStatus {
        /// The `status` member.
        status: String,
        /// The `message` member (empty when absent).
        message: String,
    },
    /// The JWS does not decode.
    #[error("the trust list is not a JWS: {0}")]
    Jws(#[source] PassportError),
    /// The protected header is unusable.
    #[error("the trust list header: {0}")]
    Header(#[source] HeaderError),
    /// `alg` is not ES256.
    #[error("the trust list is signed with alg {alg:?}; only ES256 is accepted")]
    Alg {
        /// The `alg` found.
        alg: String,
    },
    /// No signer certificate was given and the header has no `x5u`.
    #[error("the trust list header has no x5u and no signer certificate was given")]
    NoSigner,
    /// The signer certificate has no P-256 key.
    #[error("the list signer '{subject}' has no P-256 key ({found})")]
    SignerKey {
        /// The signer's subject.
        subject: String,
        /// Its key.
        found: String,
    },
    /// The signature does not verify with the signer certificate.
    #[error("the trust list signature does not verify with the key of '{subject}'")]
    Signature {
        /// The signer's subject.
        subject: String,
    },
    /// The signer certificate does not chain to a pinned STI-PA root.
    #[error("the list signer does not chain to a pinned STI-PA root: {0}")]
    SignerUntrusted(#[source] ChainError),
    /// No STI-PA root is pinned.
    #[error("no STI-PA root is pinned to check the list signer against")]
    NoPinnedRoot,
    /// A payload member is missing or has the wrong type.
    #[error("the trust list payload member {member:?} {problem}")]
    Payload {
        /// The member.
        member: &'static str,
        /// What is wrong.
        problem: &'static str,
    },
    /// `exp` has passed.
    #[error("the trust list expired at {} (exp), not after the time {}", crate::cert::fmt_time(*.exp), crate::cert::fmt_time(*.now))]
    Expired {
        /// The list's `exp`.
        exp: i64,
        /// The verification time.
        now: i64,
    },
    /// `sequence` is lower than the installed list's (a rollback).
    #[error("the trust list has sequence {sequence}, lower than the installed {installed} (rollback refused)")]
    Rollback {
        /// The list's `sequence`.
        sequence: u64,
        /// The installed list's.
        installed: u64,
    },
    /// The list has no entry: installing it would trust nothing.
    #[error("the trust list holds no certificate")]
    Empty,
    /// An entry is not one parseable certificate.
    #[error("trust list entry {index} is not a certificate: {source}")]
    Entry {
        /// Zero-based entry index.
        index: usize,
        /// Why.
        #[source]
        source: CertError,
    },
    /// The CRL's issuer is not the subject of its signer certificate.
    #[error("the CRL is issued by '{crl_issuer}', not by the signer certificate '{signer}'")]
    CrlIssuer {
        /// The CRL's issuer.
        crl_issuer: String,
        /// The signer's subject.
        signer: String,
    },
    /// The CRL signer may not sign CRLs, or the signature does not verify.
    #[error("the CRL signature does not verify with '{signer}': {reason}")]
    CrlSignature {
        /// The signer's subject.
        signer: String,
        /// Why.
        reason: String,
    },
    /// The CRL is not current at the verification time.
    #[error("the CRL is not current: {reason}")]
    CrlStale {
        /// thisUpdate in the future, nextUpdate passed or absent.
        reason: String,
    },
    /// An entry is not a CA certificate.
    #[error("trust list entry {index} ('{subject}') is not a CA certificate")]
    NotCa {
        /// Zero-based entry index.
        index: usize,
        /// Its subject.
        subject: String,
    },
}

/// A refused list is not a call: no SIP code, no verstat.
impl crate::diagnostic::Diagnostic for TrustError {
    fn id(&self) -> &'static str {
        match self {
            TrustError::TooLarge { .. } => "trust-list-too-large",
            TrustError::Answer { .. } => "trust-list-answer",
            TrustError::ApiStatus { .. } => "trust-list-api-status",
            TrustError::Jws(_) => "trust-list-jws",
            TrustError::Header(_) => "trust-list-header",
            TrustError::Alg { .. } => "trust-list-alg",
            TrustError::NoSigner => "trust-list-no-signer",
            TrustError::SignerKey { .. } => "trust-list-signer-key",
            TrustError::Signature { .. } => "trust-list-signature",
            TrustError::SignerUntrusted(_) => "trust-list-signer-untrusted",
            TrustError::NoPinnedRoot => "trust-list-no-pinned-root",
            TrustError::Payload { .. } => "trust-list-payload",
            TrustError::Expired { .. } => "trust-list-expired",
            TrustError::Rollback { .. } => "trust-list-rollback",
            TrustError::Empty => "trust-list-empty",
            TrustError::Entry { .. } => "trust-list-entry",
            TrustError::NotCa { .. } => "trust-list-entry-not-ca",
            TrustError::CrlIssuer { .. } => "trust-crl-issuer",
            TrustError::CrlSignature { .. } => "trust-crl-signature",
            TrustError::CrlStale { .. } => "trust-crl-stale",
        }
    }
    fn sip_code(&self) -> Option<u16> {
        None
    }
    fn verstat(&self) -> Option<crate::report::Verstat> {
        None
    }
}

/// A trust list whose signature and contents have not been checked: what
/// is needed to find its signer (`x5u`).
#[derive(Debug, Clone)]
pub struct UnverifiedList {
    jws: UnverifiedPassport,
    x5u: Option<String>,
}

impl UnverifiedList {
    /// Reads the JWS, alone or inside the STI-PA API answer
    /// (`{"status","message","caList":JWS}`), and checks `alg`.
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Self, TrustError> {
        if bytes.len() > limits.max_trust_list {
            return Err(TrustError::TooLarge {
                len: bytes.len(),
                max: limits.max_trust_list,
            });
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|_| TrustError::Answer {
                reason: "it is not UTF-8 text".to_owned(),
            })?
            .trim();
        let jws = if text.starts_with('{') {
            unwrap_answer(text, limits)?
        } else {
            text.to_owned()
        };
        // The list is one large JWS: bound it by the list limit, not the
        // Identity header's.
        let mut l = limits.clone();
        l.max_identity_header_len = limits.max_trust_list;
        l.max_token_segment_len = limits.max_trust_list;
        let jws = UnverifiedPassport::parse(&jws, &l).map_err(TrustError::Jws)?;
        let header = Header::from_json(jws.header_json()).map_err(TrustError::Header)?;
        if header.alg != ALG_ES256 {
            return Err(TrustError::Alg { alg: header.alg });
        }
        Ok(UnverifiedList {
            x5u: header.x5u,
            jws,
        })
    }

    /// The `x5u` of the header: where the signer certificate is.
    pub fn x5u(&self) -> Option<&str> {
        self.x5u.as_deref()
    }

    /// Checks the rules of the module documentation at `now` and returns
    /// the list. `signer_chain`: the signer certificate first, then any
    /// intermediates (what `x5u` serves); `pinned_roots`: the STI-PA roots;
    /// `installed_sequence`: the sequence of the list installed now, if any.
    pub fn verify(
        &self,
        signer_chain: &[Certificate],
        pinned_roots: &TrustAnchors,
        installed_sequence: Option<u64>,
        now: i64,
        limits: &Limits,
    ) -> Result<TrustList, TrustError> {
        let signer = signer_chain.first().ok_or(TrustError::NoSigner)?;
        let Some(point) = signer.public_key_point() else {
            return Err(TrustError::SignerKey {
                subject: signer.subject().to_owned(),
                found: signer.key_description().to_owned(),
            });
        };
        self.jws
            .verify_signature(point)
            .map_err(|_| TrustError::Signature {
                subject: signer.subject().to_owned(),
            })?;
        if pinned_roots.is_empty() {
            return Err(TrustError::NoPinnedRoot);
        }
        let policy = ChainPolicy {
            require_tn_auth_list: false,
            ..ChainPolicy::default()
        };
        validate_chain(signer_chain, pinned_roots, &[], now, &policy)
            .map_err(TrustError::SignerUntrusted)?;

        let payload = self.jws.payload_json();
        let obj = payload.as_object().ok_or(TrustError::Payload {
            member: "payload",
            problem: "is not a JSON object",
        })?;
        let version = match obj.get("version") {
            None => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(_) => {
                return Err(TrustError::Payload {
                    member: "version",
                    problem: "is not a string",
                })
            }
        };
        let sequence = obj
            .get("sequence")
            .ok_or(TrustError::Payload {
                member: "sequence",
                problem: "is missing",
            })?
            .as_u64()
            .ok_or(TrustError::Payload {
                member: "sequence",
                problem: "is not a non-negative integer",
            })?;
        let exp = obj
            .get("exp")
            .ok_or(TrustError::Payload {
                member: "exp",
                problem: "is missing",
            })?
            .as_i64()
            .ok_or(TrustError::Payload {
                member: "exp",
                problem: "is not an integer (Unix seconds)",
            })?;
        let entries = obj
            .get("trustList")
            .ok_or(TrustError::Payload {
                member: "trustList",
                problem: "is missing",
            })?
            .as_array()
            .ok_or(TrustError::Payload {
                member: "trustList",
                problem: "is not an array",
            })?;
        if exp <= now {
            return Err(TrustError::Expired { exp, now });
        }
        if let Some(installed) = installed_sequence {
            if sequence < installed {
                return Err(TrustError::Rollback {
                    sequence,
                    installed,
                });
            }
        }
        if entries.is_empty() {
            return Err(TrustError::Empty);
        }
        let mut roots: Vec<Root> = Vec::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            let root = parse_entry(index, entry, limits)?;
            // The same root listed twice is one root.
            if !roots.iter().any(|r| r.fingerprint == root.fingerprint) {
                roots.push(root);
            }
        }
        Ok(TrustList {
            version,
            sequence,
            exp,
            signer: signer.subject().to_owned(),
            x5u: self.x5u.clone(),
            roots,
        })
    }
}

/// The JWS inside an STI-PA API answer.
fn unwrap_answer(text: &str, limits: &Limits) -> Result<String, TrustError> {
    let answer = |reason: String| TrustError::Answer { reason };
    let v = crate::json::parse_strict(text.as_bytes(), limits.max_json_depth)
        .map_err(|e| answer(format!("it is not JSON: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| answer("it is not a JSON object".to_owned()))?;
    if let Some(status) = obj.get("status") {
        let status = status.as_str().unwrap_or_default();
        if !status.eq_ignore_ascii_case("success") {
            return Err(TrustError::ApiStatus {
                status: status.to_owned(),
                message: obj
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            });
        }
    }
    match obj.get("caList") {
        Some(Value::String(s)) => Ok(s.trim().to_owned()),
        Some(_) => Err(answer("its caList is not a string".to_owned())),
        None => Err(answer("it has no caList member".to_owned())),
    }
}

fn parse_entry(index: usize, entry: &Value, limits: &Limits) -> Result<Root, TrustError> {
    let bad = |source| TrustError::Entry { index, source };
    let Value::String(pem) = entry else {
        return Err(bad(CertError::NoPemBlock {
            what: "trust list entry",
            label: "CERTIFICATE",
        }));
    };
    let chain = parse_chain(pem.as_bytes(), limits).map_err(bad)?;
    let [cert] = <[Certificate; 1]>::try_from(chain).map_err(|c| {
        bad(CertError::Pem {
            what: "trust list entry",
            index: c.len().min(1),
            reason: format!("holds {} certificates; an entry is one root", c.len()),
        })
    })?;
    if !cert.is_ca() {
        return Err(TrustError::NotCa {
            index,
            subject: cert.subject().to_owned(),
        });
    }
    // webpki must accept it as an anchor (RSA roots included).
    TrustAnchors::new().add_der(cert.der()).map_err(bad)?;
    Root::new(cert).map_err(bad)
}

/// One root of a verified list.
#[derive(Debug, Clone)]
pub struct Root {
    cert: Certificate,
    subject_hash: u32,
    fingerprint: String,
}

impl Root {
    /// A root from a parsed certificate (computes its hash and fingerprint).
    pub fn new(cert: Certificate) -> Result<Self, CertError> {
        let subject_hash = subject_hash(cert.der())?;
        let fingerprint = sha256_fingerprint(cert.der());
        Ok(Root {
            cert,
            subject_hash,
            fingerprint,
        })
    }
    /// The certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }
    /// The OpenSSL subject hash (`openssl x509 -hash`).
    pub fn subject_hash(&self) -> u32 {
        self.subject_hash
    }
    /// SHA-256 of the DER, uppercase hex pairs joined by `:`.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
    /// The certificate as PEM.
    pub fn pem(&self) -> String {
        to_pem(self.cert.der())
    }
}

/// A verified trust list.
#[derive(Debug, Clone)]
pub struct TrustList {
    /// `version` (empty when absent).
    pub version: String,
    /// `sequence`.
    pub sequence: u64,
    /// `exp`, Unix seconds.
    pub exp: i64,
    /// Subject of the certificate that signed it.
    pub signer: String,
    /// The header's `x5u`, when it had one.
    pub x5u: Option<String>,
    /// The roots, duplicates removed, in list order.
    pub roots: Vec<Root>,
}

/// SHA-256 of `der` as `AB:CD:...` (the form `openssl x509 -fingerprint
/// -sha256` prints and specs §9.3 quotes).
pub fn sha256_fingerprint(der: &[u8]) -> String {
    let d = sha2::Sha256::digest(der);
    d.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// PEM (`CERTIFICATE`, 64-column base64) of a DER certificate.
pub fn to_pem(der: &[u8]) -> String {
    pem_block("CERTIFICATE", der)
}

fn pem_block(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::with_capacity(b.len() + b.len() / 64 + 60);
    out.push_str(&format!("-----BEGIN {label}-----\n"));
    for line in b.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The OpenSSL subject hash of a DER certificate (`X509_NAME_hash`, what
/// `openssl x509 -hash` prints and what `c_rehash` names files by): the
/// first four bytes, little-endian, of the SHA-1 of the canonical encoding
/// of the subject. The canonical encoding (OpenSSL `x509_name_canon`) is the
/// concatenated DER of the name's RDN SETs (no outer SEQUENCE), each string
/// value turned into a UTF8String that is lower-cased (ASCII), stripped of
/// leading and trailing white space, with inner runs of white space
/// collapsed to one space; values that are not strings are kept as they are.
pub fn subject_hash(cert_der: &[u8]) -> Result<u32, CertError> {
    let (_, x) = x509_parser::parse_x509_certificate(cert_der).map_err(|e| CertError::X509 {
        reason: e.to_string(),
    })?;
    let canon = canonical_name(x.subject()).map_err(|reason| CertError::X509 { reason })?;
    let d = crate::crypto::sha1(&canon);
    Ok(u32::from_le_bytes([d[0], d[1], d[2], d[3]]))
}

/// One attribute of the canonical name.
#[derive(der::Sequence)]
struct CanonAttr<'a> {
    oid: der::asn1::ObjectIdentifier,
    value: der::asn1::AnyRef<'a>,
}

fn canonical_name(name: &x509_parser::x509::X509Name<'_>) -> Result<Vec<u8>, String> {
    use der::{Decode as _, Encode as _};
    let derr = |e: der::Error| format!("canonical subject encoding: {e}");
    let mut out = Vec::new();
    for rdn in name.iter_rdn() {
        let mut attrs = Vec::new();
        for a in rdn.iter() {
            let oid = der::asn1::ObjectIdentifier::from_bytes(a.attr_type().as_bytes())
                .map_err(|e| format!("attribute type: {e}"))?;
            let value = a.attr_value();
            let canon = canonical_string(value.tag().0, value.data);
            let encoded = match &canon {
                Some(text) => {
                    let v = der::asn1::Utf8StringRef::new(text).map_err(derr)?;
                    CanonAttr {
                        oid,
                        value: der::asn1::AnyRef::from(v),
                    }
                    .to_der()
                    .map_err(derr)?
                }
                None => {
                    let tag = der::Tag::try_from(u8::try_from(value.tag().0).unwrap_or(0))
                        .map_err(derr)?;
                    let v = der::asn1::AnyRef::new(tag, value.data).map_err(derr)?;
                    CanonAttr { oid, value: v }.to_der().map_err(derr)?
                }
            };
            attrs.push(der::asn1::Any::from_der(&encoded).map_err(derr)?);
        }
        // A SET OF in DER order (x509_name_canon re-encodes each RDN).
        let set = der::asn1::SetOfVec::try_from(attrs).map_err(derr)?;
        out.extend(set.to_der().map_err(derr)?);
    }
    Ok(out)
}

/// The canonical text of a string value (`asn1_string_canon`), or `None`
/// when the value is not one of the string types OpenSSL canonicalises.
fn canonical_string(tag: u32, data: &[u8]) -> Option<String> {
    let text: String = match tag {
        // UTF8String, PrintableString, IA5String, VisibleString.
        12 | 19 | 22 | 26 => String::from_utf8_lossy(data).into_owned(),
        // T61String: OpenSSL reads it as Latin-1.
        20 => data.iter().map(|&b| char::from(b)).collect(),
        // BMPString: UTF-16BE.
        30 => {
            let units: Vec<u16> = data
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        // UniversalString: UCS-4BE.
        28 => data
            .chunks(4)
            .map(|c| {
                let mut b = [0u8; 4];
                for (d, s) in b.iter_mut().zip(c) {
                    *d = *s;
                }
                char::from_u32(u32::from_be_bytes(b)).unwrap_or('\u{fffd}')
            })
            .collect(),
        _ => return None,
    };
    // OpenSSL's white space: space, \t \n \v \f \r.
    let is_space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r');
    let trimmed = text.trim_matches(is_space);
    let mut out = String::with_capacity(trimmed.len());
    let mut in_space = false;
    for c in trimmed.chars() {
        if is_space(c) {
            if !in_space {
                out.push(' ');
            }
            in_space = true;
        } else {
            in_space = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    Some(out)
}

/// The URL of the CRL signer's certificate: the `caIssuers` access of the
/// CRL's own authorityInfoAccess extension (as the STI-PA CRL carries).
pub fn crl_signer_url(crl: &crate::cert::Crl) -> Option<String> {
    use x509_parser::extensions::{GeneralName, ParsedExtension};
    use x509_parser::prelude::FromDer as _;
    let (_, c) =
        x509_parser::revocation_list::CertificateRevocationList::from_der(crl.der()).ok()?;
    for ext in c.extensions() {
        if let ParsedExtension::AuthorityInfoAccess(aia) = ext.parsed_extension() {
            for d in &aia.accessdescs {
                if d.access_method.to_id_string() == "1.3.6.1.5.5.7.48.2" {
                    if let GeneralName::URI(u) = &d.access_location {
                        return Some((*u).to_owned());
                    }
                }
            }
        }
    }
    None
}

/// Verifies the STI-PA CRL (specs §9.3 C.4, vermouth's rule) at `now`: its
/// issuer is the subject of `signer_chain[0]`, its signature verifies with
/// that certificate's key (which may sign CRLs), that certificate is one of
/// the pinned roots or chains to one, and the CRL is current.
pub fn verify_crl(
    crl: &crate::cert::Crl,
    signer_chain: &[Certificate],
    pinned_roots: &TrustAnchors,
    now: i64,
) -> Result<(), TrustError> {
    let signer = signer_chain.first().ok_or(TrustError::NoSigner)?;
    let (_, x) = x509_parser::parse_x509_certificate(signer.der()).map_err(|e| {
        TrustError::CrlSignature {
            signer: signer.subject().to_owned(),
            reason: e.to_string(),
        }
    })?;
    if crate::cert::crl::name_key(x.subject()) != *crl.issuer_key() {
        return Err(TrustError::CrlIssuer {
            crl_issuer: crl.issuer().to_owned(),
            signer: signer.subject().to_owned(),
        });
    }
    let sig_err = |reason: String| TrustError::CrlSignature {
        signer: signer.subject().to_owned(),
        reason,
    };
    if signer.key_usage().is_some_and(|ku| !ku.crl_sign) {
        return Err(sig_err("its keyUsage has no cRLSign".to_owned()));
    }
    crl.verify_signature(x.tbs_certificate.subject_pki.raw)
        .map_err(sig_err)?;
    if pinned_roots.is_empty() {
        return Err(TrustError::NoPinnedRoot);
    }
    let pinned = pinned_roots.certificates().any(|r| r.der() == signer.der());
    if !pinned {
        crate::cert::validate_path(signer_chain, pinned_roots, now)
            .map_err(TrustError::SignerUntrusted)?;
    }
    if crl.this_update() > now {
        return Err(TrustError::CrlStale {
            reason: format!(
                "thisUpdate {} is after {}",
                crate::cert::fmt_time(crl.this_update()),
                crate::cert::fmt_time(now)
            ),
        });
    }
    match crl.next_update() {
        Some(n) if n > now => Ok(()),
        Some(n) => Err(TrustError::CrlStale {
            reason: format!("nextUpdate {} has passed", crate::cert::fmt_time(n)),
        }),
        None => Err(TrustError::CrlStale {
            reason: "it has no nextUpdate".to_owned(),
        }),
    }
}

/// PEM (`X509 CRL`) of a DER CRL.
pub fn crl_to_pem(der: &[u8]) -> String {
    pem_block("X509 CRL", der)
}

/// What changed between two sets of roots, by fingerprint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RootDiff {
    /// `(subject, fingerprint)` of the roots the new list adds.
    pub added: Vec<(String, String)>,
    /// `(subject, fingerprint)` of the roots it removes.
    pub removed: Vec<(String, String)>,
}

impl RootDiff {
    /// Compares `old` and `new`, each a list of `(subject, fingerprint)`.
    pub fn between(old: &[(String, String)], new: &[(String, String)]) -> Self {
        let has = |list: &[(String, String)], fp: &str| list.iter().any(|(_, f)| f == fp);
        RootDiff {
            added: new.iter().filter(|(_, f)| !has(old, f)).cloned().collect(),
            removed: old.iter().filter(|(_, f)| !has(new, f)).cloned().collect(),
        }
    }
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// Test helpers: a stand-in STI-PA (its root, list signer and lists), for
/// the unit tests here and in `trust_dir`.
#[cfg(test)]
pub(crate) mod stand_in {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use crate::crypto::{KeySigner, Signer};
    use crate::pki::{Issued, LabPki, LabPkiOptions, LeafOptions};

    pub(crate) const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

    pub(crate) struct StiPa {
        pub(crate) pki: LabPki,
        pub(crate) signer: Issued,
    }

    impl StiPa {
        pub(crate) fn new() -> Self {
            let pki =
                LabPki::generate(&LabPkiOptions::new(T0 - 86_400, T0 + 365 * 86_400)).unwrap();
            let mut o = LeafOptions::new(T0 - 86_400, T0 + 365 * 86_400);
            o.tn_auth_list = false;
            let signer = pki.issue_leaf(&o).unwrap();
            StiPa { pki, signer }
        }
        /// What x5u serves: the signer then the intermediate.
        pub(crate) fn signer_chain_pem(&self) -> String {
            format!("{}{}", self.signer.cert_pem, self.pki.ca.cert_pem)
        }
        pub(crate) fn sign(&self, header: &str, payload: &str) -> String {
            let key = KeySigner::from_pem(&self.signer.key_pem).unwrap();
            let h = crate::b64::encode(header.as_bytes());
            let p = crate::b64::encode(payload.as_bytes());
            let input = format!("{h}.{p}");
            let sig = key.sign_es256(input.as_bytes()).unwrap();
            format!("{input}.{}", crate::b64::encode(&sig))
        }
        pub(crate) fn list(&self, sequence: u64, exp: i64, roots: &[&str]) -> String {
            let payload = serde_json::json!({
                "version": "1.0", "sequence": sequence, "exp": exp, "trustList": roots,
            });
            self.sign(
                r#"{"alg":"ES256","typ":"JWT","x5u":"https://sti-pa.example/list-signer.crt"}"#,
                &payload.to_string(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::stand_in::{StiPa, T0};
    use super::*;
    use crate::diagnostic::Diagnostic;
    use crate::pki::{LabPki, LabPkiOptions};

    const RSA_ROOT: &str = include_str!("../../../tests/data/cert/rsa-root.pem");

    struct Case {
        pa: StiPa,
        cas: LabPki,
        roots: TrustAnchors,
        chain: Vec<Certificate>,
    }

    fn case() -> Case {
        let pa = StiPa::new();
        let cas = LabPki::generate(&LabPkiOptions::new(T0 - 86_400, T0 + 365 * 86_400)).unwrap();
        let mut roots = TrustAnchors::new();
        roots.add_pem(pa.pki.root.cert_pem.as_bytes()).unwrap();
        let chain = parse_chain(pa.signer_chain_pem().as_bytes(), &Limits::default()).unwrap();
        Case {
            pa,
            cas,
            roots,
            chain,
        }
    }

    fn check(c: &Case, list: &str, installed: Option<u64>) -> Result<TrustList, TrustError> {
        let l = Limits::default();
        UnverifiedList::parse(list.as_bytes(), &l)?.verify(&c.chain, &c.roots, installed, T0, &l)
    }

    fn id(r: Result<TrustList, TrustError>) -> &'static str {
        match r {
            Ok(_) => "ok",
            Err(e) => Diagnostic::id(&e),
        }
    }

    #[test]
    fn a_good_list_verifies_alone_and_wrapped() {
        let c = case();
        let jws = c.pa.list(7, T0 + 86_400, &[&c.cas.root.cert_pem, RSA_ROOT]);
        let list = check(&c, &jws, Some(7)).unwrap();
        assert_eq!(
            (list.sequence, list.exp, list.roots.len()),
            (7, T0 + 86_400, 2)
        );
        assert_eq!(list.version, "1.0");
        assert!(list.signer.contains("SHAKEN"));
        assert_eq!(
            list.x5u.as_deref(),
            Some("https://sti-pa.example/list-signer.crt")
        );
        let wrapped =
            serde_json::json!({"status":"success","message":"ok","caList":jws}).to_string();
        assert_eq!(check(&c, &wrapped, None).unwrap().roots.len(), 2);
        // The RSA root's hash is openssl's (`openssl x509 -hash`: the CN's
        // double space collapses, case folds).
        assert_eq!(list.roots[1].subject_hash(), 0xd97fd9bd);
    }

    #[test]
    fn every_rule_refuses_with_its_id() {
        let c = case();
        let good = || c.pa.list(5, T0 + 3600, &[&c.cas.root.cert_pem]);
        assert_eq!(id(check(&c, &good(), Some(6))), "trust-list-rollback");
        assert_eq!(
            id(check(&c, &c.pa.list(5, T0, &[&c.cas.root.cert_pem]), None)),
            "trust-list-expired"
        );
        let hs = c.pa.sign(r#"{"alg":"HS256"}"#, "{}");
        assert_eq!(id(check(&c, &hs, None)), "trust-list-alg");
        assert_eq!(id(check(&c, "a.b", None)), "trust-list-jws");
        assert_eq!(
            id(check(&c, r#"{"status":"failure","message":"no"}"#, None)),
            "trust-list-api-status"
        );
        assert_eq!(
            id(check(&c, r#"{"status":"success"}"#, None)),
            "trust-list-answer"
        );
        assert_eq!(
            id(check(&c, &c.pa.list(5, T0 + 9, &[]), None)),
            "trust-list-empty"
        );
        assert_eq!(
            id(check(&c, &c.pa.list(5, T0 + 9, &["junk"]), None)),
            "trust-list-entry"
        );
        assert_eq!(
            id(check(
                &c,
                &c.pa.list(5, T0 + 9, &[&c.cas.leaf.cert_pem]),
                None
            )),
            "trust-list-entry-not-ca"
        );
        let no_seq =
            c.pa.sign(r#"{"alg":"ES256"}"#, r#"{"exp":1,"trustList":[]}"#);
        assert_eq!(id(check(&c, &no_seq, None)), "trust-list-payload");
        // A byte of the payload changed: the signature fails.
        let mut parts: Vec<String> = good().split('.').map(str::to_owned).collect();
        let payload = c.pa.list(99, T0 + 3600, &[&c.cas.root.cert_pem]);
        parts[1] = payload.split('.').nth(1).unwrap().to_owned();
        assert_eq!(
            id(check(&c, &parts.join("."), None)),
            "trust-list-signature"
        );
        // A signer that chains to another root.
        let other = StiPa::new();
        let l = Limits::default();
        let chain = parse_chain(other.signer_chain_pem().as_bytes(), &l).unwrap();
        let r = UnverifiedList::parse(
            other.list(1, T0 + 9, &[&c.cas.root.cert_pem]).as_bytes(),
            &l,
        )
        .unwrap()
        .verify(&chain, &c.roots, None, T0, &l);
        assert_eq!(id(r), "trust-list-signer-untrusted");
        let r = UnverifiedList::parse(good().as_bytes(), &l)
            .unwrap()
            .verify(&c.chain, &TrustAnchors::new(), None, T0, &l);
        assert_eq!(id(r), "trust-list-no-pinned-root");
        let r = UnverifiedList::parse(good().as_bytes(), &l)
            .unwrap()
            .verify(&[], &c.roots, None, T0, &l);
        assert_eq!(id(r), "trust-list-no-signer");
        let small = Limits {
            max_trust_list: 10,
            ..Limits::default()
        };
        assert_eq!(
            Diagnostic::id(&UnverifiedList::parse(good().as_bytes(), &small).unwrap_err()),
            "trust-list-too-large"
        );
        // The signer itself at a time outside its validity.
        let r = UnverifiedList::parse(good().as_bytes(), &l)
            .unwrap()
            .verify(&c.chain, &c.roots, None, T0 + 400 * 86_400, &l);
        assert_eq!(id(r), "trust-list-signer-untrusted");
    }

    #[test]
    fn subject_hash_matches_openssl_when_installed() {
        let c = case();
        let dir = tempfile::tempdir().unwrap();
        for (name, pem) in [
            ("lab", c.cas.root.cert_pem.as_str()),
            ("rsa", RSA_ROOT),
            ("signer", c.pa.signer.cert_pem.as_str()),
        ] {
            let path = dir.path().join(format!("{name}.pem"));
            #[allow(clippy::disallowed_methods)]
            std::fs::write(&path, pem).unwrap();
            let Ok(out) = std::process::Command::new("openssl")
                .args(["x509", "-noout", "-hash", "-in"])
                .arg(&path)
                .output()
            else {
                return; // no openssl here: the committed RSA value above stands
            };
            let theirs = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            let chain = parse_chain(pem.as_bytes(), &Limits::default()).unwrap();
            let ours = format!("{:08x}", subject_hash(chain[0].der()).unwrap());
            assert_eq!(ours, theirs, "{name}");
        }
    }

    #[test]
    fn canonical_strings() {
        assert_eq!(
            canonical_string(19, b"  Foo \t BAR  ").as_deref(),
            Some("foo bar")
        );
        assert_eq!(
            canonical_string(30, &[0, b'A', 0, b'b']).as_deref(),
            Some("ab")
        );
        assert_eq!(canonical_string(4, b"x"), None);
    }

    #[test]
    fn diff_by_fingerprint() {
        let a = |s: &str| (s.to_owned(), format!("fp-{s}"));
        let d = RootDiff::between(&[a("x"), a("y")], &[a("y"), a("z")]);
        assert_eq!(d.added, [a("z")]);
        assert_eq!(d.removed, [a("x")]);
        assert!(RootDiff::between(&[a("x")], &[a("x")]).is_empty());
    }
}
