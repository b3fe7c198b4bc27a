//! Strict JSON for PASSporT headers and payloads.
//!
//! `serde_json` keeps the last of duplicate member names; JOSE parsers that
//! keep the first one disagree with it, which is a classic parser-differential
//! attack (`{"alg":"ES256","alg":"none"}`). This module parses into a
//! [`serde_json::Value`] but rejects duplicate names (compared after escape
//! decoding, so `"al\u0067"` duplicates `"alg"`), bounds nesting depth and
//! rejects trailing data. Canonical output (RFC 8225 §9) is produced by
//! [`canonical`].

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// Why a JSON text was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    /// Not valid JSON (or a rule below was broken); the message says where.
    #[error("{0}")]
    Invalid(String),
}

/// A building block: its SIP code is that of the token it was in.
impl crate::diagnostic::Diagnostic for JsonError {
    fn id(&self) -> &'static str {
        match self {
            JsonError::Invalid(_) => "json-invalid",
        }
    }
    fn sip_code(&self) -> Option<u16> {
        None
    }
    fn verstat(&self) -> Option<crate::report::Verstat> {
        None
    }
}

struct Strict {
    depth: usize,
    max_depth: usize,
}

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let depth = self.depth + 1;
        if depth > self.max_depth {
            return Err(de::Error::custom(format!(
                "JSON nested deeper than {} levels",
                self.max_depth
            )));
        }
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Strict {
            depth,
            max_depth: self.max_depth,
        })? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let depth = self.depth + 1;
        if depth > self.max_depth {
            return Err(de::Error::custom(format!(
                "JSON nested deeper than {} levels",
                self.max_depth
            )));
        }
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(Strict {
                depth,
                max_depth: self.max_depth,
            })?;
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "duplicate member name {key:?} (RFC 8225 §9 forbids duplicates)"
                )));
            }
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// Parse `bytes` as one JSON value: UTF-8, no duplicate member names, at most
/// `max_depth` levels of arrays/objects, nothing after the value but whitespace.
pub fn parse_strict(bytes: &[u8], max_depth: usize) -> Result<Value, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Strict {
        depth: 0,
        max_depth,
    }
    .deserialize(&mut de)
    .map_err(|e| JsonError::Invalid(e.to_string()))?;
    de.end().map_err(|e| JsonError::Invalid(e.to_string()))?;
    Ok(value)
}

/// Serialize `value` in the deterministic form of RFC 8225 §9: members sorted
/// by code point, no whitespace, lowercase literals, RFC 8259 minimal string
/// escaping (`/` and non-ASCII are not escaped).
pub fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

pub(crate) fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            // serde_json's Map is a BTreeMap (no `preserve_order` feature): keys
            // iterate in byte order, which equals code-point order for UTF-8.
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        Value::String(s) => write_string(s, out),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Null => out.push_str("null"),
    }
}

pub(crate) fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn rejects_duplicates() {
        let e = parse_strict(br#"{"alg":"ES256","alg":"none"}"#, 8).unwrap_err();
        assert!(
            e.to_string().contains("duplicate member name \"alg\""),
            "{e}"
        );
    }

    #[test]
    fn rejects_escaped_duplicates() {
        let e = parse_strict(br#"{"alg":"ES256","al\u0067":"none"}"#, 8).unwrap_err();
        assert!(e.to_string().contains("duplicate"), "{e}");
    }

    #[test]
    fn rejects_nested_duplicates() {
        assert!(parse_strict(br#"{"orig":{"tn":"1","tn":"2"}}"#, 8).is_err());
    }

    #[test]
    fn rejects_depth() {
        assert!(parse_strict(b"[[[1]]]", 3).is_ok());
        let e = parse_strict(b"[[[[1]]]]", 3).unwrap_err();
        assert!(e.to_string().contains("deeper"), "{e}");
    }

    #[test]
    fn rejects_trailing_data() {
        assert!(parse_strict(br#"{"a":1} x"#, 8).is_err());
        assert!(parse_strict(br#"{"a":1}{"a":1}"#, 8).is_err());
    }

    #[test]
    fn rejects_invalid_utf8() {
        assert!(parse_strict(b"\"\xff\"", 8).is_err());
    }

    #[test]
    fn canonical_sorts_and_strips() {
        let v = parse_strict(
            br#"{ "orig" : {"tn":"12155551212"}, "iat":1443208345, "dest":{"uri":["sip:alice@example.com"]} }"#,
            8,
        )
        .unwrap();
        assert_eq!(
            canonical(&v),
            r#"{"dest":{"uri":["sip:alice@example.com"]},"iat":1443208345,"orig":{"tn":"12155551212"}}"#
        );
    }

    #[test]
    fn canonical_escaping_is_minimal() {
        let v = Value::String("a/b\"c\\d\u{1}é".into());
        assert_eq!(canonical(&v), "\"a/b\\\"c\\\\d\\u0001é\"");
    }
}
