//! The lab the SIP unit tests share: a lab PKI, the INVITE templates of
//! `tests/data/sip/`, and helpers that sign and verify them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::{sign_request, verify_request, SipReport, SipRequest};
use crate::cert::{parse_chain, Certificate, TrustAnchors};
use crate::crypto::KeySigner;
use crate::passport::Attestation;
use crate::pki::{LabPki, LabPkiOptions};
use crate::report::Report;
use crate::tn::TnPolicy;
use crate::verify::Verifier;
use crate::Limits;
use std::sync::Arc;

pub(crate) const NOW: i64 = 1_471_375_418;
pub(crate) const X5U: &str = "https://cert.example.org/sp.pem";
pub(crate) const ORIGID: &str = "123e4567-e89b-12d3-a456-426655440000";
pub(crate) const TEL: &[u8] = include_bytes!("../../../../tests/data/sip/invite-tel.txt");
pub(crate) const PAI2: &[u8] = include_bytes!("../../../../tests/data/sip/invite-pai-two.txt");
pub(crate) const NO_DATE: &[u8] = include_bytes!("../../../../tests/data/sip/invite-no-date.txt");
pub(crate) const COMPACT: &[u8] = include_bytes!("../../../../tests/data/sip/invite-compact.txt");
pub(crate) const FOLDED: &[u8] = include_bytes!("../../../../tests/data/sip/invite-folded.txt");
pub(crate) const USERPHONE: &[u8] =
    include_bytes!("../../../../tests/data/sip/invite-sip-userphone.txt");
pub(crate) const LF: &[u8] = include_bytes!("../../../../tests/data/sip/invite-lf.txt");

pub(crate) struct Lab {
    pub(crate) pki: LabPki,
    pub(crate) chain: Arc<Vec<Certificate>>,
}

pub(crate) fn lab() -> Lab {
    let pki = LabPki::generate(&LabPkiOptions::new(NOW - 86_400, NOW + 86_400)).unwrap();
    let chain = parse_chain(pki.leaf_chain_pem().as_bytes(), &Limits::default()).unwrap();
    Lab {
        pki,
        chain: Arc::new(chain),
    }
}

impl Lab {
    pub(crate) fn verifier(&self) -> Verifier {
        let mut anchors = TrustAnchors::new();
        anchors.add_pem(self.pki.root.cert_pem.as_bytes()).unwrap();
        Verifier::new(anchors)
    }
    pub(crate) fn signer(&self) -> KeySigner {
        KeySigner::from_pem(&self.pki.leaf.key_pem).unwrap()
    }
    pub(crate) fn sign(&self, msg: &[u8]) -> SipRequest {
        let req = parse(msg);
        let out = sign_request(
            &req,
            &self.signer(),
            X5U,
            Attestation::A,
            NOW,
            ORIGID,
            &TnPolicy::default(),
        )
        .unwrap();
        parse(&out)
    }
    pub(crate) fn verify(&self, v: &Verifier, req: &SipRequest, now: i64) -> SipReport {
        let chain = self.chain.clone();
        verify_request(v, req, now, |url| {
            assert_eq!(url, X5U);
            Ok(chain.clone())
        })
    }
}

pub(crate) fn parse(b: &[u8]) -> SipRequest {
    SipRequest::parse(b, &Limits::default()).unwrap()
}

pub(crate) fn reason_id(r: &Report) -> Option<&str> {
    r.reason.as_ref().map(|r| r.id.as_str())
}

/// Replace one header of a message (all instances) with `line`.
pub(crate) fn replace(req: &SipRequest, name: &str, line: &str) -> SipRequest {
    let without = parse(&req.without_header(name));
    parse(&without.with_headers_added(&[line.to_owned()]))
}
