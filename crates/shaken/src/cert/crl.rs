//! Certificate revocation lists: the STI-PA CRL (an INDIRECT CRL, signed by
//! the STI-PA and named by the cRLIssuer of the certificates' CRL
//! distribution point) and direct CRLs of a lab CA.
//!
//! A CRL is parsed once at load with x509-parser; what the revocation check
//! needs (issuer name, dates, revoked serials, the signed bytes, scope) is
//! kept as owned values. The check itself ([`crate::cert::validate_chain`])
//! finds the CRLs that apply to each certificate of the validated path,
//! verifies their signature with a key from the path or the trust anchors
//! (ring), checks `nextUpdate` and looks the serial up. webpki is not used
//! for CRLs: it supports direct CRLs only.

use super::{looks_like_pem, pem_blocks, serial_to_hex, CertError};
use crate::Limits;
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;
use x509_parser::x509::X509Name;

/// OID of the `deltaCRLIndicator` CRL extension.
const OID_DELTA_CRL: &str = "2.5.29.27";
/// OID of the `issuingDistributionPoint` CRL extension.
const OID_IDP: &str = "2.5.29.28";
/// OID of the `certificateIssuer` CRL entry extension.
const OID_CERTIFICATE_ISSUER: &str = "2.5.29.29";
/// CRL extensions understood here (AKI, CRL number, delta, IDP, freshest).
const KNOWN_CRL_EXTENSIONS: [&str; 5] = [
    "2.5.29.35",
    "2.5.29.20",
    OID_DELTA_CRL,
    OID_IDP,
    "2.5.29.46",
];

/// A distinguished name in comparable form: per RDN, the sorted
/// `(attribute OID, value)` pairs, values trimmed, inner whitespace collapsed
/// and lower-cased (RFC 5280 §7.1 name matching, simplified: string types
/// are not compared, so a PrintableString and a UTF8String with the same
/// text match).
pub(crate) type NameKey = Vec<Vec<(String, String)>>;

/// The comparable form of a name (see [`NameKey`]).
pub(crate) fn name_key(name: &X509Name<'_>) -> NameKey {
    name.iter_rdn()
        .map(|rdn| {
            let mut attrs: Vec<(String, String)> = rdn
                .iter()
                .map(|a| {
                    let value = match a.as_str() {
                        Ok(s) => s
                            .split_whitespace()
                            .collect::<Vec<_>>()
                            .join(" ")
                            .to_lowercase(),
                        Err(_) => format!("#{}", super::to_hex(a.as_slice())),
                    };
                    (a.attr_type().to_id_string(), value)
                })
                .collect();
            attrs.sort();
            attrs
        })
        .collect()
}

/// One revoked certificate of a CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RevokedEntry {
    serial_hex: String,
    /// The issuer of the revoked certificate when the CRL says so (the
    /// `certificateIssuer` entry extension of an indirect CRL, carried
    /// forward to the next entries as RFC 5280 §5.3.3 requires).
    cert_issuer: Option<NameKey>,
}

/// The scope an `issuingDistributionPoint` gives a CRL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrlScope {
    /// `onlyContainsUserCerts`: end-entity certificates only.
    pub only_user_certs: bool,
    /// `onlyContainsCACerts`: CA certificates only.
    pub only_ca_certs: bool,
    /// `indirectCRL`: the CRL may list certificates of other issuers.
    pub indirect: bool,
    /// `onlySomeReasons` present: the CRL is partitioned by reason.
    pub partitioned: bool,
    /// The URIs of the IDP's full name.
    pub uris: Vec<String>,
}

/// A parsed CRL. Its signature, freshness and applicability are checked per
/// certificate during [`crate::cert::validate_chain`], not here.
///
/// Cheap to clone: the parsed CRL is shared (a CRL of 20,000 entries is
/// handed to every verification that needs it; a deep copy per call cost
/// 30 times the verification itself).
#[derive(Debug, Clone)]
pub struct Crl(std::sync::Arc<CrlData>);

#[derive(Debug)]
struct CrlData {
    der: Vec<u8>,
    issuer: String,
    issuer_key: NameKey,
    this_update: i64,
    next_update: Option<i64>,
    revoked: Vec<RevokedEntry>,
    tbs: Vec<u8>,
    signature_oid: String,
    signature: Vec<u8>,
    scope: CrlScope,
    unsupported: Option<String>,
}

impl Crl {
    /// Parses a CRL given as PEM (`X509 CRL` block) or DER, within
    /// `limits.max_crl_body`.
    pub fn from_pem_or_der(bytes: &[u8], limits: &Limits) -> Result<Self, CertError> {
        const WHAT: &str = "CRL";
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(CertError::Empty { what: WHAT });
        }
        if bytes.len() > limits.max_crl_body {
            return Err(CertError::CrlTooLarge {
                len: bytes.len(),
                max: limits.max_crl_body,
            });
        }
        let der = if looks_like_pem(bytes) {
            let blocks = pem_blocks(bytes, WHAT, 16, limits.max_crl_body, |len, max| {
                CertError::CrlTooLarge { len, max }
            })?;
            blocks
                .into_iter()
                .find(|b| b.label == "X509 CRL")
                .map(|b| b.der)
                .ok_or(CertError::NoPemBlock {
                    what: WHAT,
                    label: "X509 CRL",
                })?
        } else {
            bytes.to_vec()
        };
        Self::from_der(der)
    }

    fn from_der(der: Vec<u8>) -> Result<Self, CertError> {
        let bad = |reason: String| CertError::BadCrl { reason };
        let (rest, crl) = x509_parser::revocation_list::CertificateRevocationList::from_der(&der)
            .map_err(|e| bad(e.to_string()))?;
        if !rest.is_empty() {
            return Err(CertError::TrailingData {
                what: "CRL",
                len: rest.len(),
            });
        }
        let tbs = tbs_bytes(&der).map_err(|e| bad(format!("cannot locate tbsCertList: {e}")))?;
        let issuer = crl.issuer().to_string();
        let issuer_key = name_key(crl.issuer());
        let this_update = crl.last_update().timestamp();
        let next_update = crl.next_update().map(|t| t.timestamp());

        let mut revoked = Vec::new();
        let mut current_issuer: Option<NameKey> = None;
        for r in crl.iter_revoked_certificates() {
            for ext in r.extensions() {
                if ext.oid.to_id_string() == OID_CERTIFICATE_ISSUER {
                    current_issuer = Some(
                        directory_name_in(ext.value)
                            .ok_or_else(|| bad(format!(
                                "the certificateIssuer entry extension of serial {} holds no directoryName",
                                serial_to_hex(r.raw_serial())
                            )))?,
                    );
                } else if ext.critical {
                    return Err(bad(format!(
                        "entry for serial {} has an unsupported critical extension {}",
                        serial_to_hex(r.raw_serial()),
                        ext.oid.to_id_string()
                    )));
                }
            }
            revoked.push(RevokedEntry {
                serial_hex: serial_to_hex(r.raw_serial()),
                cert_issuer: current_issuer.clone(),
            });
        }

        let mut scope = CrlScope::default();
        let mut unsupported = None;
        for ext in crl.extensions() {
            let oid = ext.oid.to_id_string();
            if oid == OID_DELTA_CRL {
                unsupported = Some(
                    "it is a delta CRL (deltaCRLIndicator); only complete CRLs are supported"
                        .to_owned(),
                );
            } else if oid == OID_IDP {
                match ext.parsed_extension() {
                    ParsedExtension::IssuingDistributionPoint(idp) => {
                        scope.only_user_certs = idp.only_contains_user_certs;
                        scope.only_ca_certs = idp.only_contains_ca_certs;
                        scope.indirect = idp.indirect_crl;
                        scope.partitioned = idp.only_some_reasons.is_some();
                        if let Some(DistributionPointName::FullName(names)) =
                            &idp.distribution_point
                        {
                            for n in names {
                                if let GeneralName::URI(u) = n {
                                    scope.uris.push((*u).to_owned());
                                }
                            }
                        }
                        if idp.only_contains_attribute_certs {
                            unsupported = Some("it only covers attribute certificates".to_owned());
                        }
                    }
                    _ => {
                        return Err(bad(
                            "the issuingDistributionPoint extension is malformed".to_owned()
                        ))
                    }
                }
            } else if ext.critical && !KNOWN_CRL_EXTENSIONS.contains(&oid.as_str()) {
                unsupported = Some(format!("it has an unsupported critical extension {oid}"));
            }
        }

        Ok(Crl(std::sync::Arc::new(CrlData {
            issuer,
            issuer_key,
            this_update,
            next_update,
            revoked,
            tbs,
            signature_oid: crl.signature_algorithm.algorithm.to_id_string(),
            signature: crl.signature_value.data.to_vec(),
            scope,
            unsupported,
            der,
        })))
    }

    /// The DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.0.der
    }
    /// The issuer DN (RFC 4514-style string).
    pub fn issuer(&self) -> &str {
        &self.0.issuer
    }
    /// `thisUpdate`, unix seconds.
    pub fn this_update(&self) -> i64 {
        self.0.this_update
    }
    /// `nextUpdate`, unix seconds, if present.
    pub fn next_update(&self) -> Option<i64> {
        self.0.next_update
    }
    /// How many certificates the CRL revokes.
    pub fn revoked_serials(&self) -> usize {
        self.0.revoked.len()
    }
    /// Whether the CRL lists this serial (lowercase hex as in
    /// [`crate::cert::Certificate::serial_hex`]), whatever the issuer.
    pub fn lists_serial(&self, serial_hex: &str) -> bool {
        self.0.revoked.iter().any(|s| s.serial_hex == serial_hex)
    }
    /// The issuingDistributionPoint scope (default: everything).
    pub fn scope(&self) -> &CrlScope {
        &self.0.scope
    }
    /// Why the CRL cannot be used at all (delta CRL, unknown critical
    /// extension), if so.
    pub fn unsupported(&self) -> Option<&str> {
        self.0.unsupported.as_deref()
    }

    pub(crate) fn issuer_key(&self) -> &NameKey {
        &self.0.issuer_key
    }

    /// Whether the CRL revokes a certificate with this serial issued by
    /// `cert_issuer`. Entries that name their certificate issuer
    /// (`certificateIssuer`) must name this one; entries that do not are
    /// matched by serial alone (STI serials carry ≥ 64 random bits).
    pub(crate) fn revokes(&self, serial_hex: &str, cert_issuer: &NameKey) -> bool {
        self.0.revoked.iter().any(|e| {
            e.serial_hex == serial_hex && e.cert_issuer.as_ref().is_none_or(|i| i == cert_issuer)
        })
    }

    /// Verifies the CRL signature with a subjectPublicKeyInfo (DER). `Err`
    /// says why it does not verify.
    pub(crate) fn verify_signature(&self, spki_der: &[u8]) -> Result<(), String> {
        use crate::crypto::backend::signature as sig;
        let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki_der)
            .map_err(|e| format!("the signer key does not parse: {e}"))?;
        let key_alg = spki.algorithm.algorithm.to_id_string();
        if key_alg != "1.2.840.10045.2.1" {
            return Err(format!("the signer key is {key_alg}, not an EC key"));
        }
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok())
            .map(|o| o.to_id_string())
            .unwrap_or_default();
        let alg: &'static dyn sig::VerificationAlgorithm =
            match (curve.as_str(), self.0.signature_oid.as_str()) {
                ("1.2.840.10045.3.1.7", "1.2.840.10045.4.3.2") => &sig::ECDSA_P256_SHA256_ASN1,
                ("1.2.840.10045.3.1.7", "1.2.840.10045.4.3.3") => &sig::ECDSA_P256_SHA384_ASN1,
                ("1.3.132.0.34", "1.2.840.10045.4.3.3") => &sig::ECDSA_P384_SHA384_ASN1,
                ("1.3.132.0.34", "1.2.840.10045.4.3.2") => &sig::ECDSA_P384_SHA256_ASN1,
                (c, s) => {
                    return Err(format!(
                        "unsupported CRL signature algorithm {s} with key curve {c} (ECDSA P-256/P-384 only)"
                    ))
                }
            };
        sig::UnparsedPublicKey::new(alg, spki.subject_public_key.data.as_ref())
            .verify(&self.0.tbs, &self.0.signature)
            .map_err(|_| "the signature does not verify with this key".to_owned())
    }
}

/// DER of a CRLDistributionPoints extension value with one DistributionPoint:
/// `uri` as its full name and, when given, `crl_issuer` (the DER of a Name,
/// e.g. the STI-PA CRL issuer DN) as its cRLIssuer, the form ATIS-1000080
/// v004+ requires. For lab PKIs and tests (rcgen cannot write cRLIssuer).
pub fn cdp_extension_der(uri: &str, crl_issuer: Option<&[u8]>) -> Vec<u8> {
    let uri_gn = tlv(0x86, uri.as_bytes());
    let full_name = tlv(0xa0, &uri_gn);
    let mut dp = tlv(0xa0, &full_name);
    if let Some(name) = crl_issuer {
        dp.extend(tlv(0xa2, &tlv(0xa4, name)));
    }
    tlv(0x30, &tlv(0x30, &dp))
}

/// One DER TLV with a definite length.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let significant = bytes.get(skip..).unwrap_or_default();
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(content);
    out
}

/// The full TLV of the first element (tbsCertList) of the outer SEQUENCE.
fn tbs_bytes(der: &[u8]) -> Result<Vec<u8>, der::Error> {
    use der::{Decode, Encode};
    let outer = der::asn1::AnyRef::from_der(der)?;
    let mut reader = der::SliceReader::new(outer.value())?;
    let tbs = <der::asn1::AnyRef<'_> as der::Decode>::decode(&mut reader)?;
    tbs.to_der()
}

/// The first directoryName of a DER `GeneralNames` (SEQUENCE OF GeneralName).
pub(crate) fn directory_name_in(general_names_der: &[u8]) -> Option<NameKey> {
    use der::Decode;
    let seq = der::asn1::AnyRef::from_der(general_names_der).ok()?;
    let mut rest = seq.value();
    while !rest.is_empty() {
        let (r, gn) = GeneralName::from_der(rest).ok()?;
        if let GeneralName::DirectoryName(n) = gn {
            return Some(name_key(&n));
        }
        rest = r;
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::pki::{LabPki, LabPkiOptions};

    const T0: i64 = 1_767_225_600;

    #[test]
    fn parses_pem_and_der() {
        let pki = LabPki::generate(&LabPkiOptions::new(T0, T0 + 86400 * 30)).unwrap();
        let crl = Crl::from_pem_or_der(pki.crl.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(crl.issuer(), "CN=SHAKEN Lab STI-PA CRL, O=Shaken Lab, C=US");
        assert_eq!(crl.revoked_serials(), 0);
        assert!(crl.unsupported().is_none());
        let pem = pki.issue_crl(&[5, 0x1234], T0, T0 + 3600).unwrap();
        let crl = Crl::from_pem_or_der(pem.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(crl.revoked_serials(), 2);
        assert!(crl.lists_serial("1234"));
        assert!(crl.revokes("1234", &NameKey::new()));
        assert!(!crl.revokes("1235", &NameKey::new()));
        assert_eq!(crl.this_update(), T0);
        assert_eq!(crl.next_update(), Some(T0 + 3600));
        let der = crl.der().to_vec();
        let again = Crl::from_pem_or_der(&der, &Limits::default()).unwrap();
        assert_eq!(again.revoked_serials(), 2);
    }

    /// Every verification that checks revocation gets the fetched CRLs: a
    /// clone must share the parsed CRL, not copy its entries.
    #[test]
    fn a_clone_shares_the_parsed_crl() {
        let pki = LabPki::generate(&LabPkiOptions::new(T0, T0 + 86400 * 30)).unwrap();
        let pem = pki.issue_crl(&[1, 2, 3], T0, T0 + 3600).unwrap();
        let crl = Crl::from_pem_or_der(pem.as_bytes(), &Limits::default()).unwrap();
        let copy = crl.clone();
        assert_eq!(copy.revoked_serials(), 3);
        assert!(std::ptr::eq(copy.der().as_ptr(), crl.der().as_ptr()));
        assert!(std::sync::Arc::ptr_eq(&copy.0, &crl.0));
    }

    #[test]
    fn signature_verifies_with_the_issuer_key_only() {
        let pki = LabPki::generate(&LabPkiOptions::new(T0, T0 + 86400 * 30)).unwrap();
        let crl = Crl::from_pem_or_der(pki.crl.as_bytes(), &Limits::default()).unwrap();
        let spki = |der: &[u8]| {
            let (_, c) = x509_parser::parse_x509_certificate(der).unwrap();
            c.tbs_certificate.subject_pki.raw.to_vec()
        };
        crl.verify_signature(&spki(&pki.crl_signer.cert_der))
            .unwrap();
        let err = crl.verify_signature(&spki(&pki.ca.cert_der)).unwrap_err();
        assert!(err.contains("does not verify"), "{err}");
        assert!(crl.verify_signature(b"junk").is_err());
    }

    #[test]
    fn name_key_ignores_case_and_spacing() {
        let pki = LabPki::generate(&LabPkiOptions::new(T0, T0 + 10)).unwrap();
        let (_, a) = x509_parser::parse_x509_certificate(&pki.ca.cert_der).unwrap();
        let k = name_key(a.subject());
        assert_eq!(k.len(), 3);
        assert_eq!(
            k[0],
            vec![("2.5.4.3".to_owned(), "shaken lab sti-ca".to_owned())]
        );
    }

    #[test]
    fn rejects_bad_input() {
        let l = Limits::default();
        assert!(matches!(
            Crl::from_pem_or_der(b"", &l).unwrap_err(),
            CertError::Empty { .. }
        ));
        assert!(matches!(
            Crl::from_pem_or_der(b"garbage", &l).unwrap_err(),
            CertError::BadCrl { .. }
        ));
        let pem = "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            Crl::from_pem_or_der(pem.as_bytes(), &l).unwrap_err(),
            CertError::NoPemBlock { .. }
        ));
        let small = Limits {
            max_crl_body: 10,
            ..Limits::default()
        };
        assert!(matches!(
            Crl::from_pem_or_der(&[0u8; 11], &small).unwrap_err(),
            CertError::CrlTooLarge { .. }
        ));
    }
}
