//! JWT Claim Constraints in STI certificates: RFC 8226 §8
//! (`id-pe-JWTClaimConstraints`, 1.3.6.1.5.5.7.1.27) and RFC 9118
//! (`id-pe-eJWTClaimConstraints`, 1.3.6.1.5.5.7.1.33).
//!
//! ```text
//! JWTClaimConstraints ::= SEQUENCE {
//!   mustInclude     [0] JWTClaimNames OPTIONAL,
//!   permittedValues [1] JWTClaimPermittedValuesList OPTIONAL }
//! EnhancedJWTClaimConstraints ::= SEQUENCE {
//!   mustInclude     [0] JWTClaimNames OPTIONAL,
//!   permittedValues [1] JWTClaimValuesList OPTIONAL,
//!   mustExclude     [2] JWTClaimNames OPTIONAL }
//! JWTClaimNames ::= SEQUENCE SIZE (1..MAX) OF JWTClaimName      -- IA5String
//! JWTClaimPermittedValues ::= SEQUENCE { claim JWTClaimName,
//!                                        permitted SEQUENCE SIZE (1..MAX) OF UTF8String }
//! ```
//!
//! Both modules use EXPLICIT tags (specs §4.3, §4.4). A certificate that
//! carries constraints limits what its key may sign: a delegate certificate
//! allowed only `"attest": "C"`, or one that must not carry `rcd`. The
//! verifier enforces every constraint of the end-entity certificate against
//! the PASSporT's claims.

use der::asn1::Ia5String;
use der::{Decode, Encode, Sequence};
use serde_json::Value;

/// The OID of JWTClaimConstraints (RFC 8226, `id-pe 27`).
pub const OID_JWT_CLAIM_CONSTRAINTS: &str = "1.3.6.1.5.5.7.1.27";
/// The OID of EnhancedJWTClaimConstraints (RFC 9118, `id-pe 33`).
pub const OID_ENHANCED_JWT_CLAIM_CONSTRAINTS: &str = "1.3.6.1.5.5.7.1.33";

/// Constraints on the claims a certificate's key may sign.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClaimConstraints {
    /// Claims that must be present (besides `iat`, `orig`, `dest`).
    pub must_include: Vec<String>,
    /// For each listed claim: if present, its value must be one of these.
    pub permitted_values: Vec<(String, Vec<String>)>,
    /// Claims that must not be present (RFC 9118 only).
    pub must_exclude: Vec<String>,
}

/// Why a constraints extension could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimConstraintsError {
    /// Not DER of the expected structure.
    #[error("malformed JWT claim constraints: {reason}")]
    Der {
        /// The decoder's message.
        reason: String,
    },
    /// Neither constraint is present (the ASN.1 requires at least one).
    #[error("JWT claim constraints hold no constraint")]
    Empty,
    /// An empty list where SIZE (1..MAX) is required.
    #[error("JWT claim constraints hold an empty {what} list")]
    EmptyList {
        /// Which list.
        what: &'static str,
    },
}

/// Reported inside `cert-bad-claim-constraints` (437) during verification; no
/// SIP code of its own.
impl crate::diagnostic::Diagnostic for ClaimConstraintsError {
    fn id(&self) -> &'static str {
        match self {
            ClaimConstraintsError::Der { .. } => "claim-constraints-der",
            ClaimConstraintsError::Empty => "claim-constraints-empty",
            ClaimConstraintsError::EmptyList { .. } => "claim-constraints-empty-list",
        }
    }
    fn sip_code(&self) -> Option<u16> {
        None
    }
    fn verstat(&self) -> Option<crate::report::Verstat> {
        None
    }
}

/// A claim constraint the PASSporT breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimViolation {
    /// A required claim is absent.
    #[error("the certificate requires claim {claim:?}, which the PASSporT lacks")]
    Missing {
        /// The claim.
        claim: String,
    },
    /// A claim holds a value the certificate does not permit.
    #[error("the certificate permits claim {claim:?} only with the values [{permitted}]; the PASSporT has {found}")]
    NotPermitted {
        /// The claim.
        claim: String,
        /// The value found (JSON).
        found: String,
        /// The permitted values.
        permitted: String,
    },
    /// A forbidden claim is present.
    #[error("the certificate forbids claim {claim:?}, which the PASSporT carries")]
    Excluded {
        /// The claim.
        claim: String,
    },
}

/// A PASSporT that breaks its certificate's constraints fails with 438,
/// `TN-Validation-Failed` (`claim-constraint-violated`).
impl crate::diagnostic::Diagnostic for ClaimViolation {
    fn id(&self) -> &'static str {
        match self {
            ClaimViolation::Missing { .. } => "claim-constraint-missing",
            ClaimViolation::NotPermitted { .. } => "claim-constraint-not-permitted",
            ClaimViolation::Excluded { .. } => "claim-constraint-excluded",
        }
    }
    fn sip_code(&self) -> Option<u16> {
        Some(438)
    }
    fn verstat(&self) -> Option<crate::report::Verstat> {
        Some(crate::report::Verstat::Failed)
    }
}

#[derive(Sequence)]
struct ValuesAsn {
    claim: Ia5String,
    values: Vec<String>,
}

#[derive(Sequence)]
struct ConstraintsAsn {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    must_include: Option<Vec<Ia5String>>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    permitted_values: Option<Vec<ValuesAsn>>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    must_exclude: Option<Vec<Ia5String>>,
}

fn der_err(e: der::Error) -> ClaimConstraintsError {
    ClaimConstraintsError::Der {
        reason: e.to_string(),
    }
}

impl ClaimConstraints {
    /// Decode the extension value. `enhanced` selects RFC 9118 (which adds
    /// `mustExclude` as `[2]`); the RFC 8226 form has no `[2]`.
    pub fn from_der(der: &[u8], enhanced: bool) -> Result<Self, ClaimConstraintsError> {
        let asn = ConstraintsAsn::from_der(der).map_err(der_err)?;
        if !enhanced && asn.must_exclude.is_some() {
            return Err(ClaimConstraintsError::Der {
                reason:
                    "mustExclude [2] is only defined for EnhancedJWTClaimConstraints (RFC 9118)"
                        .to_owned(),
            });
        }
        if asn.must_include.is_none()
            && asn.permitted_values.is_none()
            && asn.must_exclude.is_none()
        {
            return Err(ClaimConstraintsError::Empty);
        }
        let names =
            |v: Option<Vec<Ia5String>>, what| -> Result<Vec<String>, ClaimConstraintsError> {
                match v {
                    None => Ok(vec![]),
                    Some(v) if v.is_empty() => Err(ClaimConstraintsError::EmptyList { what }),
                    Some(v) => Ok(v.into_iter().map(|s| s.to_string()).collect()),
                }
            };
        let must_include = names(asn.must_include, "mustInclude")?;
        let must_exclude = names(asn.must_exclude, "mustExclude")?;
        let permitted_values = match asn.permitted_values {
            None => vec![],
            Some(v) if v.is_empty() => {
                return Err(ClaimConstraintsError::EmptyList {
                    what: "permittedValues",
                })
            }
            Some(v) => {
                let mut out = Vec::with_capacity(v.len());
                for pv in v {
                    if pv.values.is_empty() {
                        return Err(ClaimConstraintsError::EmptyList {
                            what: "permitted values of a claim",
                        });
                    }
                    out.push((pv.claim.to_string(), pv.values));
                }
                out
            }
        };
        Ok(ClaimConstraints {
            must_include,
            permitted_values,
            must_exclude,
        })
    }

    /// Encode as DER (RFC 9118 form when `must_exclude` is set).
    pub fn to_der(&self) -> Result<Vec<u8>, ClaimConstraintsError> {
        let ia5 = |v: &[String]| -> Result<Option<Vec<Ia5String>>, ClaimConstraintsError> {
            if v.is_empty() {
                return Ok(None);
            }
            v.iter()
                .map(|s| Ia5String::new(s).map_err(der_err))
                .collect::<Result<Vec<_>, _>>()
                .map(Some)
        };
        let permitted_values = if self.permitted_values.is_empty() {
            None
        } else {
            let mut v = Vec::new();
            for (claim, values) in &self.permitted_values {
                v.push(ValuesAsn {
                    claim: Ia5String::new(claim).map_err(der_err)?,
                    values: values.clone(),
                });
            }
            Some(v)
        };
        ConstraintsAsn {
            must_include: ia5(&self.must_include)?,
            permitted_values,
            must_exclude: ia5(&self.must_exclude)?,
        }
        .to_der()
        .map_err(der_err)
    }

    /// Check a PASSporT payload (a JSON object) against every constraint.
    /// A string claim is compared as its text; any other value as its
    /// canonical JSON.
    pub fn check(&self, payload: &Value) -> Result<(), ClaimViolation> {
        let get = |name: &str| payload.get(name);
        for claim in &self.must_include {
            if get(claim).is_none() {
                return Err(ClaimViolation::Missing {
                    claim: claim.clone(),
                });
            }
        }
        for claim in &self.must_exclude {
            if get(claim).is_some() {
                return Err(ClaimViolation::Excluded {
                    claim: claim.clone(),
                });
            }
        }
        for (claim, permitted) in &self.permitted_values {
            let Some(v) = get(claim) else { continue };
            let text = match v {
                Value::String(s) => s.clone(),
                other => crate::json::canonical(other),
            };
            // An object value (`rcd`, `rcdi`) also matches a permitted
            // string that is the same JSON written another way (RFC 9795
            // §6.2 leaves the comparison to the RFC 8225 §9 form).
            let same_json = |p: &String| {
                !v.is_string()
                    && crate::json::parse_strict(p.as_bytes(), 16)
                        .is_ok_and(|pv| crate::json::canonical(&pv) == text)
            };
            if !permitted.contains(&text) && !permitted.iter().any(same_json) {
                return Err(ClaimViolation::NotPermitted {
                    claim: claim.clone(),
                    found: crate::json::canonical(v),
                    permitted: permitted.join(", "),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;

    /// RFC 8226 vector from specs §8 (b) T6: mustInclude ["foo"],
    /// permittedValues [foo: {foo1,foo2,foo3}, bar: {bar1,bar2}].
    const T6: &str =
        "MD2gBzAFFgNmb2+hMjAwMBkWA2ZvbzASDARmb28xDARmb28yDARmb28zMBMWA2JhcjAMDARiYXIxDARiYXIy";

    #[test]
    fn t6_vector_round_trips() {
        let der = STANDARD.decode(T6).unwrap();
        let c = ClaimConstraints::from_der(&der, false).unwrap();
        assert_eq!(c.must_include, vec!["foo"]);
        assert_eq!(
            c.permitted_values,
            vec![
                (
                    "foo".to_owned(),
                    vec!["foo1".to_owned(), "foo2".into(), "foo3".into()]
                ),
                ("bar".to_owned(), vec!["bar1".to_owned(), "bar2".into()]),
            ]
        );
        assert_eq!(c.to_der().unwrap(), der);
    }

    #[test]
    fn enhanced_with_must_exclude_round_trips() {
        let c = ClaimConstraints {
            must_include: vec![],
            permitted_values: vec![("attest".into(), vec!["C".into()])],
            must_exclude: vec!["rcd".into()],
        };
        let der = c.to_der().unwrap();
        assert_eq!(ClaimConstraints::from_der(&der, true).unwrap(), c);
        assert!(
            ClaimConstraints::from_der(&der, false).is_err(),
            "[2] is RFC 9118 only"
        );
    }

    #[test]
    fn rejects_malformed() {
        assert!(ClaimConstraints::from_der(&[0x30, 0x00], true).is_err());
        assert!(ClaimConstraints::from_der(b"garbage", true).is_err());
        // [0] with an empty SEQUENCE OF
        assert!(matches!(
            ClaimConstraints::from_der(&[0x30, 0x04, 0xa0, 0x02, 0x30, 0x00], false),
            Err(ClaimConstraintsError::EmptyList { .. })
        ));
        let der = STANDARD.decode(T6).unwrap();
        let mut trailing = der.clone();
        trailing.push(0);
        assert!(ClaimConstraints::from_der(&trailing, false).is_err());
    }

    #[test]
    fn check_each_rule() {
        let c = ClaimConstraints {
            must_include: vec!["origid".into()],
            permitted_values: vec![("attest".into(), vec!["C".into()])],
            must_exclude: vec!["rcd".into()],
        };
        let ok = serde_json::json!({"attest": "C", "origid": "x"});
        assert!(c.check(&ok).is_ok());
        let bad_attest = serde_json::json!({"attest": "A", "origid": "x"});
        assert!(matches!(
            c.check(&bad_attest),
            Err(ClaimViolation::NotPermitted { .. })
        ));
        let missing = serde_json::json!({"attest": "C"});
        assert!(matches!(
            c.check(&missing),
            Err(ClaimViolation::Missing { .. })
        ));
        let excluded = serde_json::json!({"attest": "C", "origid": "x", "rcd": {"nam": "Bob"}});
        assert!(matches!(
            c.check(&excluded),
            Err(ClaimViolation::Excluded { .. })
        ));
        // Non-string values compare as canonical JSON.
        let j = ClaimConstraints {
            permitted_values: vec![("rcd".into(), vec![r#"{"nam":"Bob"}"#.into()])],
            ..ClaimConstraints::default()
        };
        assert!(j.check(&serde_json::json!({"rcd": {"nam": "Bob"}})).is_ok());
        assert!(j
            .check(&serde_json::json!({"rcd": {"nam": "Eve"}}))
            .is_err());
    }
}
