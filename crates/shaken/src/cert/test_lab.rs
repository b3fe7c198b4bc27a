//! The lab the certificate unit tests share: a lab PKI at a fixed time, its
//! anchors, chains and CRLs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::cert::{parse_chain, Certificate, Crl, TrustAnchors};
use crate::pki::{LabPki, LabPkiOptions, LeafOptions};
use crate::Limits;

pub(crate) const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
pub(crate) const DAY: i64 = 86_400;
pub(crate) const NOW: i64 = T0 + 10 * DAY;

pub(crate) fn lab() -> LabPki {
    LabPki::generate(&LabPkiOptions::new(T0, T0 + 365 * DAY)).unwrap()
}

/// The root and the lab CRL signer (which signs the lab's indirect CRLs).
pub(crate) fn anchors(pki: &LabPki) -> TrustAnchors {
    let mut a = TrustAnchors::new();
    a.add_pem(pki.anchors_pem().as_bytes()).unwrap();
    a
}

pub(crate) fn chain_of(pki: &LabPki, leaf_pem: &str) -> Vec<Certificate> {
    let body = format!("{leaf_pem}{}", pki.ca.cert_pem);
    parse_chain(body.as_bytes(), &Limits::default()).unwrap()
}

pub(crate) fn leaf_opts() -> LeafOptions {
    LeafOptions::new(T0, T0 + 30 * DAY)
}

pub(crate) fn crl(pki: &LabPki, revoked: &[u64], this: i64, next: i64) -> Crl {
    let pem = pki.issue_crl(revoked, this, next).unwrap();
    Crl::from_pem_or_der(pem.as_bytes(), &Limits::default()).unwrap()
}
