//! The result of a verification as a [`Report`]: the JSON/text contract of
//! every surface (`verstat`, `reason`, `signer`...).

use super::error::Failure;
use super::procedure::VerifiedPassport;
use crate::report::{Report, SignerInfo, Verstat};

/// Build the report of a verification.
pub fn report(result: &Result<VerifiedPassport, Box<Failure>>) -> Report {
    match result {
        Ok(v) => Report {
            verstat: Verstat::Passed,
            attest: v.claims.attest,
            orig: Some(v.claims.orig.as_str().to_owned()),
            dest: v
                .claims
                .dest
                .tn
                .iter()
                .chain(v.claims.dest.uri.iter())
                .cloned()
                .collect(),
            origid: v.claims.origid.clone(),
            iat: Some(v.claims.iat),
            x5u: Some(v.x5u.clone()),
            ppt: v.header.ppt.clone(),
            reason: None,
            signer: Some(SignerInfo {
                subject: v.chain.leaf_subject.clone(),
                spc: v.chain.spc.clone(),
                trusted: true,
                signature_verified: true,
            }),
            warnings: v.warnings.clone(),
        },
        Err(f) => Report {
            verstat: f.error.verstat(),
            attest: f.claims.as_ref().and_then(|c| c.attest),
            orig: f.claims.as_ref().map(|c| c.orig.as_str().to_owned()),
            dest: f
                .claims
                .as_ref()
                .map(|c| c.dest.tn.iter().chain(c.dest.uri.iter()).cloned().collect())
                .unwrap_or_default(),
            origid: f.claims.as_ref().and_then(|c| c.origid.clone()),
            iat: f.claims.as_ref().map(|c| c.iat),
            x5u: f.x5u.clone(),
            ppt: f
                .header
                .as_ref()
                .and_then(|h| h.ppt.clone())
                .or_else(|| f.ppt.clone()),
            reason: Some(f.error.reason()),
            signer: f.signer.clone(),
            warnings: f.warnings.clone(),
        },
    }
}
