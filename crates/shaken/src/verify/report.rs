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

/// [`report()`], taking the result: its strings move into the report
/// instead of being copied (what a caller that only wants the report, as
/// `verify --batch` does for every line, should use). The same report.
pub fn into_report(result: Result<VerifiedPassport, Box<Failure>>) -> Report {
    let rcd = rcd_report(&result, &RcdContent::new());
    let dest = |d: crate::passport::Dest| {
        let mut all = d.tn;
        all.extend(d.uri);
        all
    };
    let orig = |o: crate::passport::Orig| match o {
        crate::passport::Orig::Tn(s) | crate::passport::Orig::Uri(s) => s,
    };
    match result {
        Ok(v) => Report {
            verstat: Verstat::Passed,
            attest: v.claims.attest,
            orig: Some(orig(v.claims.orig)),
            dest: dest(v.claims.dest),
            origid: v.claims.origid,
            iat: Some(v.claims.iat),
            x5u: Some(v.x5u),
            ppt: v.header.ppt,
            reason: None,
            signer: Some(SignerInfo {
                subject: v.chain.leaf_subject.clone(),
                spc: v.chain.spc.clone(),
                trusted: true,
                signature_verified: true,
            }),
            warnings: v.warnings,
            rcd,
        },
        Err(f) => {
            let f = *f;
            let verstat = f.error.verstat();
            let reason = Some(f.error.reason());
            let (attest, orig, dest, origid, iat) = match f.claims {
                Some(c) => (
                    c.attest,
                    Some(orig(c.orig)),
                    dest(c.dest),
                    c.origid,
                    Some(c.iat),
                ),
                None => (None, None, Vec::new(), None, None),
            };
            Report {
                verstat,
                attest,
                orig,
                dest,
                origid,
                iat,
                x5u: f.x5u,
                ppt: f.header.and_then(|h| h.ppt).or(f.ppt),
                reason,
                signer: f.signer,
                warnings: f.warnings,
                rcd,
            }
        }
    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::super::test_lab::{lab, NOW, X5U};
    use super::super::{CallContext, PartyId};
    use super::*;
    use crate::crypto::KeySigner;
    use crate::identity::IdentityHeader;
    use crate::passport::{sign, Attestation, Claims, Header};
    use crate::tn::{TelephoneNumber, TnPolicy};

    /// `into_report` moves what `report` copies: the same report, for a
    /// pass and for failures at each stage (with and without claims, with a
    /// signer, with warnings, with Rich Call Data).
    #[test]
    fn into_report_is_report() {
        let lab = lab();
        let signer = KeySigner::from_pem(&lab.leaf_key).unwrap();
        let mut claims = Claims::shaken(
            Attestation::B,
            "12155550121",
            vec!["12125550143".into(), "12125550144".into()],
            NOW,
            "not-a-uuid",
        );
        let token = sign(&Header::shaken(X5U), &claims, &signer).unwrap();
        claims
            .extra
            .insert("rcd".into(), serde_json::json!({"nam": "Alice"}));
        let rcd_token = sign(&Header::shaken(X5U), &claims, &signer).unwrap();
        let mut late = claims.clone();
        late.iat = NOW + 7200;
        let late_token = sign(&Header::shaken(X5U), &late, &signer).unwrap();
        let tn = |s: &str| PartyId::Tn(TelephoneNumber::parse(s, &TnPolicy::default()).unwrap());
        let mut call = CallContext::at(NOW);
        call.orig = vec![tn("12155550121")];
        call.dest = vec![tn("12125550143")];
        let mut wrong_orig = call.clone();
        wrong_orig.orig = vec![tn("12155550199")];
        let cases = [
            (
                IdentityHeader::shaken(token.clone(), X5U),
                call.clone(),
                NOW,
            ),
            (IdentityHeader::shaken(rcd_token, X5U), call.clone(), NOW),
            (
                IdentityHeader::shaken(token.clone(), X5U),
                CallContext::at(NOW),
                NOW,
            ),
            (IdentityHeader::shaken(token.clone(), X5U), wrong_orig, NOW),
            // Signed and checked after the certificate expired: a failure
            // with a signer (and Rich Call Data, unverified).
            (
                IdentityHeader::shaken(late_token, X5U),
                call.clone(),
                NOW + 7200,
            ),
            (IdentityHeader::shaken("a.b.c", X5U), call.clone(), NOW),
        ];
        let mut kinds = Vec::new();
        for (identity, ctx, now) in cases {
            let mut ctx = ctx;
            ctx.now = now;
            let run = || lab.verifier.verify_with_chain(&identity, &ctx, &lab.chain);
            let expected = report(&run());
            kinds.push((
                expected.verstat,
                expected.signer.is_some(),
                expected.rcd.is_some(),
            ));
            let got = into_report(run());
            assert_eq!(
                serde_json::to_value(&got).unwrap(),
                serde_json::to_value(&expected).unwrap()
            );
        }
        // The table covers what it says it does.
        assert!(kinds.iter().any(|k| k.0 == Verstat::Passed && k.2));
        assert!(kinds.iter().any(|k| k.0 != Verstat::Passed && k.1));
        assert!(kinds.iter().any(|k| k.0 != Verstat::Passed && !k.1));
    }
}
