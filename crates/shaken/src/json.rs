//! Strict JSON for PASSporT headers and payloads.
//!
//! `serde_json` keeps the last of duplicate member names; JOSE parsers that
//! keep the first one disagree with it, which is a classic parser-differential
//! attack (`{"alg":"ES256","alg":"none"}`). This module rejects duplicate
//! names (compared after escape decoding, so `"al\u0067"` duplicates
//! `"alg"`), bounds nesting depth and rejects trailing data, with one set of
//! rules for three results: a [`serde_json::Value`] ([`parse_strict`]), a
//! borrowed tree for the typed readers of a PASSporT's header and claims
//! (what verification uses: no `Value` is built per call), or only the
//! verdict. The crate's `JsonRead` lets the readers take either tree.
//! Canonical output (RFC 8225 §9) is produced by [`canonical`].

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use std::marker::PhantomData;

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

/// What one strict pass builds: a [`Value`], a borrowed [`Node`], or
/// nothing ([`Valid`]). The rules (depth, duplicates, finite numbers) live in
/// [`Strict`] once; a builder only stores.
trait Build<'de>: Sized {
    type Array;
    type Object;
    fn null() -> Self;
    fn bool(v: bool) -> Self;
    fn number(n: Number) -> Self;
    /// A string that had to be unescaped (it lives in the parser's scratch).
    fn str(s: &str) -> Self;
    /// A string exactly as it stands in the input.
    fn borrowed_str(s: &'de str) -> Self {
        Self::str(s)
    }
    fn new_array() -> Self::Array;
    fn push(array: &mut Self::Array, v: Self);
    fn array(array: Self::Array) -> Self;
    fn new_object() -> Self::Object;
    /// Add a member; a name already there is given back.
    fn insert(object: &mut Self::Object, name: Cow<'de, str>, v: Self)
        -> Result<(), Cow<'de, str>>;
    fn object(object: Self::Object) -> Self;
}

impl<'de> Build<'de> for Value {
    type Array = Vec<Value>;
    type Object = Map<String, Value>;
    fn null() -> Self {
        Value::Null
    }
    fn bool(v: bool) -> Self {
        Value::Bool(v)
    }
    fn number(n: Number) -> Self {
        Value::Number(n)
    }
    fn str(s: &str) -> Self {
        Value::String(s.to_owned())
    }
    fn new_array() -> Vec<Value> {
        Vec::new()
    }
    fn push(array: &mut Vec<Value>, v: Self) {
        array.push(v);
    }
    fn array(array: Vec<Value>) -> Self {
        Value::Array(array)
    }
    fn new_object() -> Map<String, Value> {
        Map::new()
    }
    fn insert(
        object: &mut Map<String, Value>,
        name: Cow<'de, str>,
        v: Self,
    ) -> Result<(), Cow<'de, str>> {
        if object.contains_key(name.as_ref()) {
            return Err(name);
        }
        object.insert(name.into_owned(), v);
        Ok(())
    }
    fn object(object: Map<String, Value>) -> Self {
        Value::Object(object)
    }
}

/// A JSON value borrowing its strings from the text it was parsed from
/// (only strings with escapes are copied). Objects hold their members sorted
/// by name, in the byte order serde_json's map iterates in, so a reader
/// meets the members of a `Node` and of a [`Value`] in the same order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Node<'a>>),
    Object(Vec<(Cow<'a, str>, Node<'a>)>),
}

/// Finds repeated member names: by a scan of the names so far while an
/// object is small (a PASSporT's hold a handful), through a set once it is
/// not, so a large object (a trust list's) costs O(n log n), not O(n²).
#[derive(Default)]
struct Index<'de>(Option<BTreeSet<Cow<'de, str>>>);

impl<'de> Index<'de> {
    /// Past this many names, the set.
    const SCAN: usize = 16;

    /// Whether `name` is among `held`, the names noted so far (all of them
    /// until the set is built; the set holds them from then on).
    // A `Cow`, not a `&str`: the set keeps a clone, which for a borrowed name
    // is free.
    #[allow(clippy::ptr_arg)]
    fn seen<'h>(
        &mut self,
        mut held: impl ExactSizeIterator<Item = &'h Cow<'de, str>>,
        name: &Cow<'de, str>,
    ) -> bool
    where
        'de: 'h,
    {
        match &mut self.0 {
            // Borrowed names (all but the escaped) are copied for free.
            Some(set) => !set.insert(name.clone()),
            None if held.len() < Self::SCAN => held.any(|n| n == name),
            None => {
                let mut set: BTreeSet<Cow<'de, str>> = held.cloned().collect();
                let seen = !set.insert(name.clone());
                self.0 = Some(set);
                seen
            }
        }
    }
}

/// A [`Node`] object being parsed: its members in order of arrival.
struct Members<'de> {
    list: Vec<(Cow<'de, str>, Node<'de>)>,
    index: Index<'de>,
}

impl<'de> Build<'de> for Node<'de> {
    type Array = Vec<Node<'de>>;
    type Object = Members<'de>;
    fn null() -> Self {
        Node::Null
    }
    fn bool(v: bool) -> Self {
        Node::Bool(v)
    }
    fn number(n: Number) -> Self {
        Node::Number(n)
    }
    fn str(s: &str) -> Self {
        Node::String(Cow::Owned(s.to_owned()))
    }
    fn borrowed_str(s: &'de str) -> Self {
        Node::String(Cow::Borrowed(s))
    }
    fn new_array() -> Vec<Node<'de>> {
        Vec::new()
    }
    fn push(array: &mut Vec<Node<'de>>, v: Self) {
        array.push(v);
    }
    fn array(array: Vec<Node<'de>>) -> Self {
        Node::Array(array)
    }
    fn new_object() -> Members<'de> {
        Members {
            // One allocation for each object of a SHAKEN PASSporT.
            list: Vec::with_capacity(8),
            index: Index::default(),
        }
    }
    fn insert(
        object: &mut Members<'de>,
        name: Cow<'de, str>,
        v: Self,
    ) -> Result<(), Cow<'de, str>> {
        if object.index.seen(object.list.iter().map(|(n, _)| n), &name) {
            return Err(name);
        }
        object.list.push((name, v));
        Ok(())
    }
    fn object(object: Members<'de>) -> Self {
        let mut list = object.list;
        // Names are unique: an unstable sort is exact and allocates nothing.
        list.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
        Node::Object(list)
    }
}

/// The result of a pass that only checks: nothing is kept but the member
/// names of the objects still open, on the stack while they are few.
struct Valid;

/// The names of an object being checked.
struct Names<'de> {
    names: [Cow<'de, str>; Index::SCAN],
    len: usize,
    index: Index<'de>,
}

impl<'de> Build<'de> for Valid {
    type Array = ();
    type Object = Names<'de>;
    fn null() -> Self {
        Valid
    }
    fn bool(_: bool) -> Self {
        Valid
    }
    fn number(_: Number) -> Self {
        Valid
    }
    fn str(_: &str) -> Self {
        Valid
    }
    fn new_array() {}
    fn push((): &mut (), _: Self) {}
    fn array((): ()) -> Self {
        Valid
    }
    fn new_object() -> Names<'de> {
        Names {
            names: Default::default(),
            len: 0,
            index: Index::default(),
        }
    }
    fn insert(object: &mut Names<'de>, name: Cow<'de, str>, _: Self) -> Result<(), Cow<'de, str>> {
        let held = object.names.get(..object.len).unwrap_or_default();
        if object.index.seen(held.iter(), &name) {
            return Err(name);
        }
        // Once the array is full, the set holds every name.
        if let Some(slot) = object.names.get_mut(object.len) {
            *slot = name;
            object.len += 1;
        }
        Ok(())
    }
    fn object(_: Names<'de>) -> Self {
        Valid
    }
}

/// The strict rules, whatever is built.
struct Strict<B> {
    depth: usize,
    max_depth: usize,
    build: PhantomData<fn() -> B>,
}

// Not derived: a derive would ask `B: Copy`.
impl<B> Clone for Strict<B> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<B> Copy for Strict<B> {}

impl<B> Strict<B> {
    fn new(max_depth: usize) -> Self {
        Strict {
            depth: 0,
            max_depth,
            build: PhantomData,
        }
    }

    /// One level down, or the depth error.
    fn nested<E: de::Error>(&self) -> Result<Self, E> {
        let depth = self.depth + 1;
        if depth > self.max_depth {
            return Err(E::custom(format!(
                "JSON nested deeper than {} levels",
                self.max_depth
            )));
        }
        Ok(Strict {
            depth,
            max_depth: self.max_depth,
            build: PhantomData,
        })
    }
}

impl<'de, B: Build<'de>> DeserializeSeed<'de> for Strict<B> {
    type Value = B;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<B, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, B: Build<'de>> Visitor<'de> for Strict<B> {
    type Value = B;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<B, E> {
        Ok(B::bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<B, E> {
        Ok(B::number(Number::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<B, E> {
        Ok(B::number(Number::from(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<B, E> {
        Number::from_f64(v)
            .map(B::number)
            .ok_or_else(|| E::custom("non-finite number"))
    }
    fn visit_str<E>(self, v: &str) -> Result<B, E> {
        Ok(B::str(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<B, E> {
        Ok(B::borrowed_str(v))
    }
    fn visit_unit<E>(self) -> Result<B, E> {
        Ok(B::null())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<B, A::Error> {
        let inner = self.nested()?;
        let mut out = B::new_array();
        while let Some(v) = seq.next_element_seed(inner)? {
            B::push(&mut out, v);
        }
        Ok(B::array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<B, A::Error> {
        let inner = self.nested()?;
        let mut out = B::new_object();
        while let Some(name) = map.next_key_seed(Name)? {
            // The value is read first, as serde_json's map would: an error
            // inside it is reported before a duplicate name.
            let value = map.next_value_seed(inner)?;
            B::insert(&mut out, name, value).map_err(|name| {
                de::Error::custom(format!(
                    "duplicate member name {name:?} (RFC 8225 §9 forbids duplicates)"
                ))
            })?;
        }
        Ok(B::object(out))
    }
}

/// A member name, borrowed from the input unless it had escapes.
struct Name;

impl<'de> DeserializeSeed<'de> for Name {
    type Value = Cow<'de, str>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Name {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_string<E>(self, v: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v))
    }
}

fn strict<'de, B: Build<'de>>(bytes: &'de [u8], max_depth: usize) -> Result<B, JsonError> {
    fn run<'de, R: serde_json::de::Read<'de>, B: Build<'de>>(
        mut de: serde_json::Deserializer<R>,
        max_depth: usize,
    ) -> Result<B, JsonError> {
        let value = Strict::<B>::new(max_depth)
            .deserialize(&mut de)
            .map_err(|e| JsonError::Invalid(e.to_string()))?;
        de.end().map_err(|e| JsonError::Invalid(e.to_string()))?;
        Ok(value)
    }
    // See `from_bytes`: one UTF-8 check of the whole text, not one a string.
    match std::str::from_utf8(bytes) {
        Ok(text) => run(serde_json::Deserializer::from_str(text), max_depth),
        Err(_) => run(serde_json::Deserializer::from_slice(bytes), max_depth),
    }
}

/// `serde_json::from_slice`, with the text checked as UTF-8 once instead of
/// string by string (`from_slice` checks each of the ~40 strings of a
/// request line on its own, 3,000 instructions a line): valid UTF-8 is read
/// as `&str`, where serde_json checks nothing again; invalid UTF-8 takes
/// `from_slice`, whose error names where it is. Same value, same errors.
pub(crate) fn from_bytes<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8]) -> serde_json::Result<T> {
    match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(bytes),
    }
}

/// Parse `bytes` as one JSON value: UTF-8, no duplicate member names, at most
/// `max_depth` levels of arrays/objects, nothing after the value but whitespace.
pub fn parse_strict(bytes: &[u8], max_depth: usize) -> Result<Value, JsonError> {
    strict::<Value>(bytes, max_depth)
}

/// [`parse_strict`]'s verdict, without building anything.
pub(crate) fn check_strict(bytes: &[u8], max_depth: usize) -> Result<(), JsonError> {
    strict::<Valid>(bytes, max_depth).map(|Valid| ())
}

/// [`parse_strict`] into a [`Node`] that borrows from `bytes`.
pub(crate) fn parse_borrowed(bytes: &[u8], max_depth: usize) -> Result<Node<'_>, JsonError> {
    strict::<Node<'_>>(bytes, max_depth)
}

/// The JSON types, as messages name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

impl Kind {
    /// `"null"`, `"a boolean"`, `"a number"`...
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "a boolean",
            Kind::Number => "a number",
            Kind::String => "a string",
            Kind::Array => "an array",
            Kind::Object => "an object",
        }
    }
}

/// Read access to a parsed JSON value, a [`Value`] or a [`Node`], so the
/// typed readers (the PASSporT header and claims) are written once.
pub(crate) trait JsonRead<'a>: Copy {
    /// An object's members, in byte order of their names.
    type Members: ExactSizeIterator<Item = (&'a str, Self)> + Clone;
    /// An array's items.
    type Items: ExactSizeIterator<Item = Self>;
    fn kind(self) -> Kind;
    fn text(self) -> Option<&'a str>;
    fn number(self) -> Option<&'a Number>;
    fn items(self) -> Option<Self::Items>;
    fn members(self) -> Option<Self::Members>;
    /// The member `name` of an object (`None` for anything else).
    fn member(self, name: &str) -> Option<Self>;
    /// An owned copy (for what is kept as received).
    fn to_value(self) -> Value;
}

fn value_member<'a>((k, v): (&'a String, &'a Value)) -> (&'a str, &'a Value) {
    (k.as_str(), v)
}

impl<'a> JsonRead<'a> for &'a Value {
    type Members = std::iter::Map<
        serde_json::map::Iter<'a>,
        fn((&'a String, &'a Value)) -> (&'a str, &'a Value),
    >;
    type Items = std::slice::Iter<'a, Value>;
    fn kind(self) -> Kind {
        match self {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Number(_) => Kind::Number,
            Value::String(_) => Kind::String,
            Value::Array(_) => Kind::Array,
            Value::Object(_) => Kind::Object,
        }
    }
    fn text(self) -> Option<&'a str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
    fn number(self) -> Option<&'a Number> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }
    fn items(self) -> Option<Self::Items> {
        match self {
            Value::Array(items) => Some(items.iter()),
            _ => None,
        }
    }
    fn members(self) -> Option<Self::Members> {
        match self {
            Value::Object(map) => Some(map.iter().map(value_member as _)),
            _ => None,
        }
    }
    fn member(self, name: &str) -> Option<Self> {
        match self {
            Value::Object(map) => map.get(name),
            _ => None,
        }
    }
    fn to_value(self) -> Value {
        self.clone()
    }
}

type NodeMember<'b> = (Cow<'b, str>, Node<'b>);

fn node_member<'a, 'b>((k, v): &'a NodeMember<'b>) -> (&'a str, &'a Node<'b>) {
    (k.as_ref(), v)
}

impl<'a, 'b: 'a> JsonRead<'a> for &'a Node<'b> {
    type Members = std::iter::Map<
        std::slice::Iter<'a, NodeMember<'b>>,
        fn(&'a NodeMember<'b>) -> (&'a str, &'a Node<'b>),
    >;
    type Items = std::slice::Iter<'a, Node<'b>>;
    fn kind(self) -> Kind {
        match self {
            Node::Null => Kind::Null,
            Node::Bool(_) => Kind::Bool,
            Node::Number(_) => Kind::Number,
            Node::String(_) => Kind::String,
            Node::Array(_) => Kind::Array,
            Node::Object(_) => Kind::Object,
        }
    }
    fn text(self) -> Option<&'a str> {
        match self {
            Node::String(s) => Some(s),
            _ => None,
        }
    }
    fn number(self) -> Option<&'a Number> {
        match self {
            Node::Number(n) => Some(n),
            _ => None,
        }
    }
    fn items(self) -> Option<Self::Items> {
        match self {
            Node::Array(items) => Some(items.iter()),
            _ => None,
        }
    }
    fn members(self) -> Option<Self::Members> {
        match self {
            Node::Object(list) => Some(list.iter().map(node_member as _)),
            _ => None,
        }
    }
    fn member(self, name: &str) -> Option<Self> {
        let Node::Object(list) = self else {
            return None;
        };
        let i = list.binary_search_by(|(k, _)| k.as_ref().cmp(name)).ok()?;
        list.get(i).map(|(_, v)| v)
    }
    fn to_value(self) -> Value {
        match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Number(n) => Value::Number(n.clone()),
            Node::String(s) => Value::String(s.as_ref().to_owned()),
            Node::Array(items) => Value::Array(items.iter().map(JsonRead::to_value).collect()),
            Node::Object(list) => Value::Object(
                list.iter()
                    .map(|(k, v)| (k.as_ref().to_owned(), v.to_value()))
                    .collect(),
            ),
        }
    }
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

    mod old {
        //! `parse_strict` before this module had three passes: the reference.
        use super::super::JsonError;
        use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
        use serde_json::{Map, Value};
        use std::fmt;

        struct OldStrict {
            depth: usize,
            max_depth: usize,
        }

        impl<'de> DeserializeSeed<'de> for OldStrict {
            type Value = Value;
            fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
                d.deserialize_any(self)
            }
        }

        impl<'de> Visitor<'de> for OldStrict {
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
                while let Some(v) = seq.next_element_seed(OldStrict {
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
                    let value = map.next_value_seed(OldStrict {
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

        /// The old `parse_strict`, verbatim: every pass must match it,
        /// message for message.
        pub(super) fn old_parse_strict(bytes: &[u8], max_depth: usize) -> Result<Value, JsonError> {
            let mut de = serde_json::Deserializer::from_slice(bytes);
            let value = OldStrict {
                depth: 0,
                max_depth,
            }
            .deserialize(&mut de)
            .map_err(|e| JsonError::Invalid(e.to_string()))?;
            de.end().map_err(|e| JsonError::Invalid(e.to_string()))?;
            Ok(value)
        }
    }

    /// The three passes (checking only, borrowed tree, `Value`) give the
    /// same verdict and the same message, byte for byte, on every input;
    /// the tree holds what the `Value` holds.
    #[test]
    fn the_passes_agree() {
        let mut wide_dup = String::from("{");
        for i in 0..40 {
            wide_dup.push_str(&format!("\"k{i}\":{i},"));
        }
        let wide_ok = format!("{}\"last\":true}}", wide_dup);
        // A duplicate past the scan limit, before and after the set is built.
        let wide_dup_late = format!("{}\"k3\":0}}", wide_dup);
        let mut wide_dup_edge = String::from("{");
        for i in 0..16 {
            wide_dup_edge.push_str(&format!("\"k{i}\":{i},"));
        }
        wide_dup_edge.push_str("\"k0\":0}");
        let cases: Vec<Vec<u8>> = [
            r#"{"alg":"ES256","alg":"none"}"#,
            r#"{"alg":"ES256","al\u0067":"none"}"#,
            r#"{"al\u0067":"ES256","alg":"none"}"#,
            r#"{"orig":{"tn":"1","tn":"2"}}"#,
            r#"{"a":[{"x":1},{"x":1,"x":2}]}"#,
            // An error inside the value comes before the duplicate name.
            r#"{"a":1,"a":[[[[[[[[[1]]]]]]]]]}"#,
            r#"{"a":1,"a":{"b":1,"b":2}}"#,
            r#"{"a":1,"a":2,"b":1,"b":2}"#,
            "[[[[[[[[1]]]]]]]]",
            "[[[[[[[[[1]]]]]]]]]",
            r#"{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":1}}}}}}}}"#,
            r#"{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{}}}}}}}}}"#,
            r#"{"a":1} x"#,
            r#"{"a":1}{"a":1}"#,
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            r#"{1:1}"#,
            r#"{"a":01}"#,
            r#"{"a":1e999}"#,
            r#"{"a":"\x"}"#,
            "{\"a\":\"\u{1}\"}",
            "",
            "  ",
            r#"{"a":"\ud800"}"#,
            r#"{"a":"\u00e9\"\\\/\b\f\n\r\t","\u00e9":[1,-2,2.5,1e3,18446744073709551615,-9223372036854775808,true,false,null,{}]}"#,
            r#"{"b":1,"a":2,"":3,"\u0000":4,"é":5,"z":6}"#,
            " {\"a\" : [ 1 , 2 ] } \n",
            r#""x""#,
            "1",
            "null",
            wide_ok.as_str(),
            wide_dup_late.as_str(),
            wide_dup_edge.as_str(),
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .chain([b"\"\xff\"".to_vec(), b"{\"a\":\"\xc3\"}".to_vec()])
        .collect();
        let mut rejected = 0;
        for bytes in &cases {
            let value = parse_strict(bytes, 8);
            let node = parse_borrowed(bytes, 8);
            let checked = check_strict(bytes, 8);
            let text = String::from_utf8_lossy(bytes);
            assert_eq!(value, old::old_parse_strict(bytes, 8), "{text}");
            match &value {
                Ok(v) => {
                    assert_eq!(checked, Ok(()), "{text}");
                    let node = node.unwrap();
                    assert_eq!(&(&node).to_value(), v, "{text}");
                }
                Err(e) => {
                    rejected += 1;
                    assert_eq!(checked.as_ref(), Err(e), "{text}");
                    assert_eq!(node.as_ref().err(), Some(e), "{text}");
                }
            }
        }
        assert_eq!(rejected, 26);
        let e = parse_borrowed(wide_dup_late.as_bytes(), 8).unwrap_err();
        assert!(
            e.to_string().contains("duplicate member name \"k3\""),
            "{e}"
        );
        let e = parse_borrowed(wide_dup_edge.as_bytes(), 8).unwrap_err();
        assert!(
            e.to_string().contains("duplicate member name \"k0\""),
            "{e}"
        );
        let e = check_strict(br#"{"a":1,"a":[[[[[[[[[1]]]]]]]]]}"#, 8).unwrap_err();
        assert!(e.to_string().contains("deeper"), "{e}");
    }

    /// A `Node` borrows what it can, sorts members like serde_json's map,
    /// and reads like the `Value` it stands for.
    #[test]
    fn node_borrows_and_reads_like_a_value() {
        let bytes = br#"{"z":"plain","a\u0062":"esc\u0061ped","m":[1,"x"]}"#;
        let node = parse_borrowed(bytes, 8).unwrap();
        let value = parse_strict(bytes, 8).unwrap();
        let Node::Object(members) = &node else {
            panic!("{node:?}")
        };
        let names: Vec<&str> = members.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(names, ["ab", "m", "z"]);
        assert!(matches!(&members[0].0, Cow::Owned(_)));
        assert!(matches!(&members[0].1, Node::String(Cow::Owned(s)) if s == "escaped"));
        assert!(matches!(&members[2].0, Cow::Borrowed("z")));
        assert!(matches!(
            &members[2].1,
            Node::String(Cow::Borrowed("plain"))
        ));
        let (n, v) = (&node, &value);
        let node_names: Vec<&str> = n.members().unwrap().map(|(k, _)| k).collect();
        let value_names: Vec<&str> = v.members().unwrap().map(|(k, _)| k).collect();
        assert_eq!(node_names, value_names);
        for name in ["ab", "m", "z", "a", "zz", ""] {
            assert_eq!(
                n.member(name).map(JsonRead::to_value),
                v.member(name).map(JsonRead::to_value),
                "{name}"
            );
        }
        let items = n.member("m").unwrap().items().unwrap();
        assert_eq!(items.len(), 2);
        let kinds: Vec<Kind> = items.map(JsonRead::kind).collect();
        assert_eq!(kinds, [Kind::Number, Kind::String]);
        assert_eq!(n.member("z").unwrap().text(), Some("plain"));
        assert_eq!(n.member("z").unwrap().number(), None);
        assert!(n.member("m").unwrap().member("x").is_none());
        assert!(n.text().is_none() && n.items().is_none());
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
