//! The result of a verification as a [`Report`]: the JSON/text contract of
//! every surface (`verstat`, `reason`, `signer`...).

use super::error::Failure;
use super::procedure::VerifiedPassport;
use crate::rcd::{RcdClaims, RcdContent, RcdReport};
use crate::report::{Report, SignerInfo, Verstat};

/// Build the report of a verification. Referenced Rich Call Data content
/// is taken as not fetched (its digests are `unverified`); see
/// [`report_with_content`].
pub fn report(result: &Result<VerifiedPassport, Box<Failure>>) -> Report {
    report_with_content(result, &RcdContent::new())
}

/// [`report()`], with the content fetched for the `rcdi` digests (RFC 9795
/// §8.2): the `rcd` object says which digests matched.
pub fn report_with_content(
    result: &Result<VerifiedPassport, Box<Failure>>,
    content: &RcdContent,
) -> Report {
    let mut r = base_report(result);
    r.rcd = rcd_report(result, content);
    r
}

/// The `rcd` object: the claims of a PASSporT that verified are trusted
/// as far as their digests go; those of one that failed are shown,
/// unverified, with the reason.
fn rcd_report(
    result: &Result<VerifiedPassport, Box<Failure>>,
    content: &RcdContent,
) -> Option<RcdReport> {
    let carriage = |ppt: Option<&str>| {
        if ppt == Some(crate::rcd::PPT_RCD) {
            crate::rcd::PPT_RCD
        } else {
            crate::passport::PPT_SHAKEN
        }
    };
    match result {
        Ok(v) => {
            let c = v.rcd.as_ref()?;
            let content = if content.is_empty() {
                &v.rcd_content
            } else {
                content
            };
            Some(RcdReport::new(
                c,
                Ok(()),
                content,
                carriage(v.header.ppt.as_deref()),
            ))
        }
        Err(f) => {
            let claims = f.claims.as_ref()?;
            let ppt = f.header.as_ref().and_then(|h| h.ppt.as_deref());
            let c = RcdClaims::from_claims(&claims.extra, false).ok()??;
            Some(RcdReport::new(
                &c,
                Err(format!(
                    "the PASSporT did not pass ({}), so none of its claims can be used (RFC 9795 §8.1)",
                    f.error.full_id()
                )),
                content,
                carriage(ppt),
            ))
        }
    }
}

/// The `rcd` object alone (what the REST service adds to its answer),
/// with the content attached to a verified PASSporT.
pub fn rcd_report_of(result: &Result<VerifiedPassport, Box<Failure>>) -> Option<RcdReport> {
    rcd_report(result, &RcdContent::new())
}

fn base_report(result: &Result<VerifiedPassport, Box<Failure>>) -> Report {
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
            rcd: None,
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
            rcd: None,
        },
    }
}
