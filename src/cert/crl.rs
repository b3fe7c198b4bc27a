//! Certificate revocation lists (the STI-PA CRL, or a lab CA's CRL).
//!
//! A CRL is parsed twice at load: by webpki (which later checks its signature,
//! issuer and `nextUpdate` during chain validation) and by x509-parser for the
//! facts shown to people (issuer, dates, revoked serials).

use super::{looks_like_pem, pem_blocks, serial_to_hex, CertError};
use crate::Limits;
use x509_parser::prelude::FromDer;

/// A parsed CRL. Its signature is checked against the issuing certificate
/// during [`crate::cert::validate_chain`], not here.
#[derive(Debug, Clone)]
pub struct Crl {
    der: Vec<u8>,
    owned: webpki::OwnedCertRevocationList,
    issuer: String,
    this_update: i64,
    next_update: Option<i64>,
    revoked: Vec<String>,
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
        let (rest, crl) = x509_parser::revocation_list::CertificateRevocationList::from_der(&der)
            .map_err(|e| CertError::BadCrl {
            reason: e.to_string(),
        })?;
        if !rest.is_empty() {
            return Err(CertError::TrailingData {
                what: "CRL",
                len: rest.len(),
            });
        }
        let issuer = crl.issuer().to_string();
        let this_update = crl.last_update().timestamp();
        let next_update = crl.next_update().map(|t| t.timestamp());
        let revoked = crl
            .iter_revoked_certificates()
            .map(|r| serial_to_hex(r.raw_serial()))
            .collect();
        let owned =
            webpki::OwnedCertRevocationList::from_der(&der).map_err(|e| CertError::BadCrl {
                reason: format!("rejected by webpki: {e}"),
            })?;
        Ok(Crl {
            der,
            owned,
            issuer,
            this_update,
            next_update,
            revoked,
        })
    }

    /// The DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }
    /// The issuer DN (RFC 4514-style string).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
    /// `thisUpdate`, unix seconds.
    pub fn this_update(&self) -> i64 {
        self.this_update
    }
    /// `nextUpdate`, unix seconds, if present.
    pub fn next_update(&self) -> Option<i64> {
        self.next_update
    }
    /// How many certificates the CRL revokes.
    pub fn revoked_serials(&self) -> usize {
        self.revoked.len()
    }
    /// Whether the CRL lists this serial (lowercase hex as in
    /// [`crate::cert::Certificate::serial_hex`]).
    pub fn lists_serial(&self, serial_hex: &str) -> bool {
        self.revoked.iter().any(|s| s == serial_hex)
    }
    pub(crate) fn webpki(&self) -> &webpki::OwnedCertRevocationList {
        &self.owned
    }
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
        assert_eq!(crl.issuer(), "CN=SHAKEN Lab STI-CA, O=Shaken Lab, C=US");
        assert_eq!(crl.revoked_serials(), 0);
        let pem = pki.issue_crl(&[5, 0x1234], T0, T0 + 3600).unwrap();
        let crl = Crl::from_pem_or_der(pem.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(crl.revoked_serials(), 2);
        assert!(crl.lists_serial("1234"));
        assert_eq!(crl.this_update(), T0);
        assert_eq!(crl.next_update(), Some(T0 + 3600));
        let der = crl.der().to_vec();
        let again = Crl::from_pem_or_der(&der, &Limits::default()).unwrap();
        assert_eq!(again.revoked_serials(), 2);
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
