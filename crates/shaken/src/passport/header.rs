//! The protected JOSE header of a PASSporT (RFC 8225 §4): `alg`, `typ`,
//! `ppt`, `x5u`; key-carrying parameters are refused (RFC 8725 §3.1).

use super::{ALG_ES256, PPT_SHAKEN, TYP_PASSPORT};
use crate::json::JsonRead;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The protected JOSE header.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// `alg`.
    pub alg: String,
    /// `typ` (SHAKEN requires `passport`).
    pub typ: Option<String>,
    /// `ppt` extension type.
    pub ppt: Option<String>,
    /// `x5u` certificate URL.
    pub x5u: Option<String>,
    /// Any other parameter, kept as received.
    pub extra: BTreeMap<String, Value>,
}

impl Header {
    /// The canonical SHAKEN header for `x5u`.
    pub fn shaken(x5u: impl Into<String>) -> Self {
        Header {
            alg: ALG_ES256.into(),
            typ: Some(TYP_PASSPORT.into()),
            ppt: Some(PPT_SHAKEN.into()),
            x5u: Some(x5u.into()),
            extra: BTreeMap::new(),
        }
    }

    /// Read a header from parsed JSON. Rejects header keys that carry a key
    /// or a critical-extension list: the key must come from `x5u` only
    /// (RFC 8725 §3.1, specs §7).
    pub fn from_json(v: &Value) -> Result<Self, HeaderError> {
        Header::read(v)
    }

    /// [`Header::from_json`] over any parsed form: the received header is
    /// read from a [`crate::json::Node`] borrowing the decoded bytes, with
    /// exactly these rules.
    pub(crate) fn read<'a, J: JsonRead<'a>>(v: J) -> Result<Self, HeaderError> {
        let members = v.members().ok_or(HeaderError::NotObject)?;
        for forbidden in ["jwk", "kid", "x5c", "jku", "crit", "x5t", "x5t#S256"] {
            if v.member(forbidden).is_some() {
                return Err(HeaderError::Forbidden { param: forbidden });
            }
        }
        let str_field = |name: &'static str| -> Result<Option<String>, HeaderError> {
            match v.member(name) {
                None => Ok(None),
                Some(p) => match p.text() {
                    Some(s) => Ok(Some(s.to_owned())),
                    None => Err(HeaderError::WrongType { param: name }),
                },
            }
        };
        let alg = str_field("alg")?.ok_or(HeaderError::Missing { param: "alg" })?;
        let typ = str_field("typ")?;
        let ppt = str_field("ppt")?;
        let x5u = str_field("x5u")?;
        let extra = members
            .filter(|(k, _)| !matches!(*k, "alg" | "typ" | "ppt" | "x5u"))
            .map(|(k, v)| (k.to_owned(), v.to_value()))
            .collect();
        Ok(Header {
            alg,
            typ,
            ppt,
            x5u,
            extra,
        })
    }

    /// The header as a JSON object.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("alg".into(), Value::String(self.alg.clone()));
        if let Some(t) = &self.typ {
            m.insert("typ".into(), Value::String(t.clone()));
        }
        if let Some(p) = &self.ppt {
            m.insert("ppt".into(), Value::String(p.clone()));
        }
        if let Some(x) = &self.x5u {
            m.insert("x5u".into(), Value::String(x.clone()));
        }
        for (k, v) in &self.extra {
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m)
    }
}

/// Why a JOSE header is unacceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// Not a JSON object.
    #[error("PASSporT header is not a JSON object")]
    NotObject,
    /// A required parameter is missing.
    #[error("PASSporT header has no {param:?} parameter")]
    Missing {
        /// The parameter.
        param: &'static str,
    },
    /// A parameter has the wrong JSON type.
    #[error("PASSporT header parameter {param:?} must be a string")]
    WrongType {
        /// The parameter.
        param: &'static str,
    },
    /// A parameter that must never be honoured.
    #[error("PASSporT header carries {param:?}; keys and critical extensions in the header are refused (the key must come from the x5u certificate, RFC 8725 §3.1)")]
    Forbidden {
        /// The parameter.
        param: &'static str,
    },
}

/// The SIP codes are those verification answers with (specs §5.1): a
/// missing parameter is 436 (E9), a key in the header 437, the rest 438.
impl crate::diagnostic::Diagnostic for HeaderError {
    fn id(&self) -> &'static str {
        match self {
            HeaderError::NotObject => "header-not-object",
            HeaderError::Missing { .. } => "header-param-required",
            HeaderError::WrongType { .. } => "header-param-wrong-type",
            HeaderError::Forbidden { .. } => "header-param-forbidden",
        }
    }
    fn sip_code(&self) -> Option<u16> {
        Some(match self {
            HeaderError::Missing { .. } => 436,
            HeaderError::Forbidden { .. } => 437,
            HeaderError::NotObject | HeaderError::WrongType { .. } => 438,
        })
    }
    fn verstat(&self) -> Option<crate::report::Verstat> {
        Some(crate::report::Verstat::NoValidation)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::json::parse_strict;

    #[test]
    fn rejects_header_keys() {
        for p in ["jwk", "kid", "x5c", "crit", "jku"] {
            let v = parse_strict(format!(r#"{{"alg":"ES256","{p}":"x"}}"#).as_bytes(), 8).unwrap();
            assert!(
                matches!(Header::from_json(&v), Err(HeaderError::Forbidden { .. })),
                "{p}"
            );
        }
        let v = parse_strict(br#"{"typ":"passport"}"#, 8).unwrap();
        assert_eq!(
            Header::from_json(&v),
            Err(HeaderError::Missing { param: "alg" })
        );
        let v = parse_strict(br#"{"alg":1}"#, 8).unwrap();
        assert_eq!(
            Header::from_json(&v),
            Err(HeaderError::WrongType { param: "alg" })
        );
    }
}
