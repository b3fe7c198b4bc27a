//! The lab the verifier's unit tests share: a lab PKI, a verifier trusting
//! it, a leaf chain and its key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::{CallContext, Pending, Verifier};
use crate::cert::{parse_chain, Certificate, TrustAnchors};
use crate::crypto::KeySigner;
use crate::identity::IdentityHeader;
use crate::passport::{sign, Attestation, Claims, Header};
use crate::pki::{LabPki, LabPkiOptions, LeafOptions};
use crate::Limits;

pub(super) const NOW: i64 = 1_800_000_000;
pub(super) const X5U: &str = "https://cr.example.net/sp.pem";

pub(super) struct Lab {
    pub(super) pki: LabPki,
    pub(super) verifier: Verifier,
    pub(super) chain: Vec<Certificate>,
    pub(super) leaf_key: String,
    pub(super) serial: u64,
}

pub(super) fn lab() -> Lab {
    let pki = LabPki::generate(&LabPkiOptions::new(NOW - 86_400, NOW + 86_400)).unwrap();
    let mut anchors = TrustAnchors::new();
    anchors.add_pem(pki.anchors_pem().as_bytes()).unwrap();
    let serial = 0x0123_4567_89ab_cdef;
    let mut lo = LeafOptions::new(NOW - 3600, NOW + 3600);
    lo.serial = Some(serial);
    let leaf = pki.issue_leaf(&lo).unwrap();
    let chain = parse_chain(
        format!("{}{}", leaf.cert_pem, pki.ca.cert_pem).as_bytes(),
        &Limits::default(),
    )
    .unwrap();
    Lab {
        verifier: Verifier::new(anchors),
        chain,
        leaf_key: leaf.key_pem,
        pki,
        serial,
    }
}

pub(super) fn pending(lab: &Lab, origid: &str) -> Pending {
    let signer = KeySigner::from_pem(&lab.leaf_key).unwrap();
    let claims = Claims::shaken(
        Attestation::A,
        "12155550121",
        vec!["12125550143".into()],
        NOW,
        origid,
    );
    let token = sign(&Header::shaken(X5U), &claims, &signer).unwrap();
    let identity = IdentityHeader::shaken(token, X5U);
    lab.verifier
        .prepare(&identity, &CallContext::at(NOW))
        .unwrap()
}
