//! Stage 1 for `div` and `div-o` PASSporTs (RFC 8946 §3, §5): the same
//! header checks as a shaken PASSporT (full form, `typ`, `alg`, `x5u` ==
//! `info`), then the div claims ([`crate::div::DivClaim`]: only `orig`,
//! `dest`, `iat`, `div`, and `opt` for `div-o`), telephone numbers, and
//! freshness. Stage 2 is the shaken one ([`Verifier::complete`]): chain,
//! `iat` inside the certificate validity, the TNAuthList must cover the
//! **`div`** identity (RFC 8946 §3: the retargeting carrier's authority is
//! over the number it diverted from, not over `orig`), the signature,
//! replay.
//!
//! `orig` and `dest` are not compared with the call here: the chain check
//! ([`crate::div::check_chain`]) compares `orig` with the shaken PASSporT and
//! the outermost `dest` with the Request-URI. A `div` PASSporT is never a
//! caller-ID verdict on its own: only the SIP procedure and the chain use it.

use super::context::CallContext;
use super::error::{Failure, VerifyError};
use super::procedure::{check_url, Pending, Verifier};
use crate::div::{is_div_ppt, DivClaim, DivError, PPT_DIV_O};
use crate::identity::IdentityHeader;
use crate::passport::{HeaderError, Orig, Token, ALG_ES256, TYP_PASSPORT};
use crate::tn::TelephoneNumber;

impl Verifier {
    /// Stage 1 of a `div` or `div-o` PASSporT (module docs). Its
    /// [`Pending`] is completed with [`Verifier::complete`] like any other.
    pub fn prepare_div(
        &self,
        identity: &IdentityHeader,
        ctx: &CallContext,
    ) -> Result<Pending, Box<Failure>> {
        self.prepare_div_inner(identity, ctx)
            .map_err(|e| Box::new(self.failure_for(identity, e)))
    }

    fn prepare_div_inner(
        &self,
        identity: &IdentityHeader,
        ctx: &CallContext,
    ) -> Result<Pending, VerifyError> {
        // Full form only (RFC 8946 §3, §5).
        let passport = match Token::parse(&identity.token, self.limits()) {
            Ok(Token::Full(p)) => p,
            Ok(Token::Compact { .. }) => return Err(VerifyError::CompactForm),
            Err(e) => return Err(VerifyError::TokenMalformed(e)),
        };
        let header = match passport.header() {
            Ok(h) => h,
            Err(HeaderError::Missing { param }) => {
                return Err(VerifyError::HeaderParamMissing { param })
            }
            Err(e) => return Err(VerifyError::HeaderInvalid(e)),
        };
        // ppt is div or div-o, and the Identity parameter agrees.
        let ppt = match (&identity.ppt, &header.ppt) {
            (Some(p), Some(h)) if p != h => {
                return Err(VerifyError::PptMismatch {
                    param: p.clone(),
                    header: h.clone(),
                })
            }
            (_, Some(h)) if is_div_ppt(Some(h)) => h.clone(),
            (_, h) => {
                return Err(VerifyError::UnsupportedPpt {
                    found: h
                        .as_ref()
                        .map_or_else(|| "absent from the header".into(), |h| format!("{h:?}")),
                })
            }
        };
        let Some(info) = identity.info.clone() else {
            return Err(VerifyError::InfoMissing);
        };
        check_url(&info)?;
        if header.typ.is_none() {
            return Err(VerifyError::HeaderParamMissing { param: "typ" });
        }
        let Some(x5u) = header.x5u.clone() else {
            return Err(VerifyError::HeaderParamMissing { param: "x5u" });
        };
        if self.policy().require_x5u_equals_info && x5u != info {
            return Err(VerifyError::X5uMismatch { x5u, info });
        }
        if header.typ.as_deref() != Some(TYP_PASSPORT) {
            let typ = header.typ.clone().unwrap_or_default();
            return Err(VerifyError::TypInvalid { typ });
        }
        if header.alg != ALG_ES256 {
            return Err(VerifyError::AlgUnsupported {
                alg: header.alg.clone(),
                location: "PASSporT header",
            });
        }
        if identity.alg_or_default() != ALG_ES256 {
            return Err(VerifyError::AlgUnsupported {
                alg: identity.alg_or_default().to_owned(),
                location: "Identity alg parameter",
            });
        }
        let claims =
            crate::passport::dangerous::claims(&passport, self.limits(), &self.policy().claims)
                .map_err(VerifyError::ClaimsInvalid)?;
        let (div, _opt, mut warnings) =
            DivClaim::from_claims(&claims, &ppt).map_err(VerifyError::Div)?;
        if claims.iat_was_string {
            warnings.push("iat was a JSON string; accepted under the lenient iat policy".into());
        }
        // SHAKEN identities are numbers: orig, every dest, and the div value
        // (which the certificate must cover).
        match &claims.orig {
            Orig::Tn(t) => {
                TelephoneNumber::parse_claim(t, &self.policy().tn).map_err(|source| {
                    VerifyError::TnInvalid {
                        claim: "orig.tn",
                        source,
                    }
                })?;
            }
            Orig::Uri(u) => {
                return Err(VerifyError::NotTn {
                    claim: "orig",
                    found: u.clone(),
                })
            }
        }
        if claims.dest.tn.is_empty() {
            return Err(VerifyError::NotTn {
                claim: "dest",
                found: claims.dest.uri.join(", "),
            });
        }
        for t in &claims.dest.tn {
            TelephoneNumber::parse_claim(t, &self.policy().tn).map_err(|source| {
                VerifyError::TnInvalid {
                    claim: "dest.tn",
                    source,
                }
            })?;
        }
        let div_tn = match &div.id {
            Orig::Tn(t) => {
                TelephoneNumber::parse_claim(t, &self.policy().tn)
                    .map_err(|source| VerifyError::TnInvalid {
                        claim: "div.tn",
                        source,
                    })?
                    .global
            }
            Orig::Uri(u) => {
                return Err(VerifyError::NotTn {
                    claim: "div",
                    found: u.clone(),
                })
            }
        };
        // Freshness (RFC 8946 §4.2 step 4: the outermost div's iat MUST be
        // fresh; every div is held to the same window).
        let age = ctx.now.saturating_sub(claims.iat);
        if age > self.policy().max_age {
            return Err(VerifyError::Stale {
                iat: claims.iat,
                now: ctx.now,
                age,
                max: self.policy().max_age,
            });
        }
        let ahead = age.saturating_neg();
        if ahead > self.policy().max_future {
            return Err(VerifyError::Future {
                iat: claims.iat,
                now: ctx.now,
                ahead,
                max: self.policy().max_future,
            });
        }
        Ok(Pending {
            passport,
            header,
            claims,
            x5u,
            warnings,
            call_id: ctx.call_id.clone(),
            // Stage 2 checks the TNAuthList against this number: for a div
            // PASSporT, the identity it diverted from.
            orig_tn: div_tn,
            // A div PASSporT carries no Rich Call Data (RFC 8946 §3).
            rcd: None,
        })
    }
}

/// The PASSporTs nested in a `div-o`'s `opt` claim, outermost first, as
/// Identity values to verify (their `info` is their own header's `x5u`).
/// Read without verifying (the verifier checks each one); a `div-o` nested
/// deeper than `max` gives [`DivError::TooDeep`].
pub fn nested_opt(
    identity: &IdentityHeader,
    limits: &crate::Limits,
    max: usize,
) -> Result<Vec<IdentityHeader>, DivError> {
    let mut out = Vec::new();
    let mut token = identity.token.clone();
    loop {
        let Ok(Token::Full(p)) = Token::parse(&token, limits) else {
            return Ok(out);
        };
        let is_div_o = p
            .header()
            .ok()
            .is_some_and(|h| h.ppt.as_deref() == Some(PPT_DIV_O));
        if !is_div_o {
            return Ok(out);
        }
        let Some(opt) = crate::passport::dangerous::payload_json(&p)
            .get("opt")
            .and_then(|v| v.as_str())
        else {
            return Ok(out);
        };
        if out.len() >= max {
            return Err(DivError::TooDeep {
                depth: out.len() + 1,
                max,
            });
        }
        let inner = match Token::parse(opt, limits) {
            Ok(Token::Full(inner)) => inner,
            _ => {
                return Err(DivError::OptInvalid {
                    detail: "it is not a full-form PASSporT (RFC 8946 §5)".into(),
                })
            }
        };
        let h = inner.header().ok();
        out.push(IdentityHeader {
            token: opt.to_owned(),
            info: h.as_ref().and_then(|h| h.x5u.clone()),
            alg: Some(ALG_ES256.into()),
            ppt: h.and_then(|h| h.ppt),
            params: vec![],
        });
        token = opt.to_owned();
    }
}
