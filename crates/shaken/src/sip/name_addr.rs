//! Name-addr and addr-spec values (From, To, P-Asserted-Identity, ...;
//! RFC 3261 §20.10, §25.1) and the token and URI syntax they are made of.

use std::fmt;
use std::str::FromStr;

/// Why a name-addr / addr-spec (From, To, P-Asserted-Identity, ...) was rejected.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameAddrError {
    /// Nothing but whitespace.
    #[error("empty value")]
    Empty,
    /// A quoted display name has no closing `"`.
    #[error("display name has no closing '\"'")]
    UnterminatedQuote,
    /// A `<` has no matching `>`.
    #[error("'<' has no matching '>'")]
    UnterminatedAngle,
    /// A quoted display name is not followed by `<uri>`.
    #[error("quoted display name is not followed by <URI>")]
    MissingAngle,
    /// The display name holds characters a token display name may not hold.
    #[error("display name {0:?} is neither a quoted string nor tokens")]
    BadDisplayName(String),
    /// The URI has no `scheme:` prefix, or holds spaces or angle brackets.
    #[error("URI {0:?} is not a valid absolute URI (scheme ':' ...)")]
    BadUri(String),
    /// Text after the URI that is not `;param`.
    #[error("unexpected text {0:?} after the URI (expected ';param')")]
    TrailingText(String),
    /// A header parameter with an empty or non-token name, or a bad value.
    #[error("malformed header parameter {0:?}")]
    BadParam(String),
}

/// Reported inside a SIP header error (`sip-bad-name-addr`); no SIP code of its
/// own.
impl crate::diagnostic::Diagnostic for NameAddrError {
    fn id(&self) -> &'static str {
        match self {
            NameAddrError::Empty => "name-addr-empty",
            NameAddrError::UnterminatedQuote => "name-addr-unterminated-quote",
            NameAddrError::UnterminatedAngle => "name-addr-unterminated-angle",
            NameAddrError::MissingAngle => "name-addr-missing-angle",
            NameAddrError::BadDisplayName(_) => "name-addr-bad-display-name",
            NameAddrError::BadUri(_) => "name-addr-bad-uri",
            NameAddrError::TrailingText(_) => "name-addr-trailing-text",
            NameAddrError::BadParam(_) => "name-addr-bad-param",
        }
    }
    fn sip_code(&self) -> Option<u16> {
        None
    }
    fn verstat(&self) -> Option<crate::report::Verstat> {
        None
    }
}

/// RFC 3261 token characters.
pub(super) fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '-' | '.' | '!' | '%' | '*' | '_' | '+' | '`' | '\'' | '~'
        )
}

pub(super) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_token_char)
}

/// Cut a string to at most 80 characters for an error message.
pub(super) fn excerpt(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(MAX).collect();
        out.push('…');
        out
    }
}

pub(super) fn trim_lws(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\t')
}

/// `scheme ":" 1*char`, scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
pub(super) fn has_scheme(uri: &str) -> bool {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
}

/// A name-addr or addr-spec as found in From, To, P-Asserted-Identity and
/// similar headers (RFC 3261 §20.10, §25.1), with its header parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// The display name, unquoted and unescaped (`"Alice"` gives `Alice`);
    /// token display names keep their inner spacing. `None` when absent.
    pub display_name: Option<String>,
    /// The addr-spec inside `<>`, or the bare URI (up to the first `;`),
    /// exactly as written (URI parameters such as `;user=phone` stay here
    /// when the URI is in angle brackets).
    pub uri: String,
    /// Header parameters after the URI (e.g. `tag`), in order, names as
    /// written, quoted values unquoted. `None` for a parameter without `=`.
    pub params: Vec<(String, Option<String>)>,
}

impl NameAddr {
    /// The value of the header parameter `name` (case-insensitive):
    /// `None` when absent, `Some(None)` for a flag parameter without value.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }

    /// The `tag` parameter, if any.
    pub fn tag(&self) -> Option<&str> {
        self.param("tag").flatten()
    }
}

/// Read a quoted string starting at `s` (which starts with `"`). Returns the
/// unescaped content and the rest after the closing quote.
fn read_quoted(s: &str) -> Result<(String, &str), NameAddrError> {
    let mut out = String::new();
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        if escaped {
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            return Ok((out, s.get(i + 1..).unwrap_or_default()));
        } else {
            out.push(c);
        }
    }
    Err(NameAddrError::UnterminatedQuote)
}

fn check_uri(uri: &str) -> Result<(), NameAddrError> {
    if !has_scheme(uri) || uri.contains([' ', '\t', '<', '>', '"']) {
        return Err(NameAddrError::BadUri(excerpt(uri)));
    }
    Ok(())
}

/// Parse `*( SEMI generic-param )`; `s` is empty or starts with `;` (after
/// whitespace).
fn parse_params(s: &str) -> Result<Vec<(String, Option<String>)>, NameAddrError> {
    let mut params = Vec::new();
    let mut rest = trim_lws(s);
    while !rest.is_empty() {
        let Some(after) = rest.strip_prefix(';') else {
            return Err(NameAddrError::TrailingText(excerpt(rest)));
        };
        let after = trim_lws(after);
        let name_end = after
            .find(|c: char| !is_token_char(c))
            .unwrap_or(after.len());
        let (name, tail) = after.split_at(name_end);
        if name.is_empty() {
            return Err(NameAddrError::BadParam(excerpt(after)));
        }
        let tail = trim_lws(tail);
        if let Some(v) = tail.strip_prefix('=') {
            let v = trim_lws(v);
            if v.starts_with('"') {
                let (value, tail) = read_quoted(v)?;
                params.push((name.to_string(), Some(value)));
                rest = trim_lws(tail);
            } else {
                // token / host (IPv6 references in brackets included).
                let end = v
                    .find(|c: char| !(is_token_char(c) || matches!(c, ':' | '[' | ']')))
                    .unwrap_or(v.len());
                let (value, tail) = v.split_at(end);
                if value.is_empty() {
                    return Err(NameAddrError::BadParam(excerpt(after)));
                }
                params.push((name.to_string(), Some(value.to_string())));
                rest = trim_lws(tail);
            }
        } else {
            params.push((name.to_string(), None));
            rest = tail;
        }
    }
    Ok(params)
}

impl FromStr for NameAddr {
    type Err = NameAddrError;

    /// Parse `"Alice" <sip:+1...@x;user=phone>;tag=1`, `Alice <tel:+1...>`,
    /// `<tel:+1...>`, or a bare `sip:alice@example.com;tag=9` (RFC 3261 §20:
    /// in the bare form, parameters after `;` are header parameters).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = trim_lws(s);
        if s.is_empty() {
            return Err(NameAddrError::Empty);
        }
        // Quoted display name.
        let (display_name, rest) = if s.starts_with('"') {
            let (name, rest) = read_quoted(s)?;
            let rest = trim_lws(rest);
            if !rest.starts_with('<') {
                return Err(NameAddrError::MissingAngle);
            }
            (Some(name), rest)
        } else if let Some(lt) = s.find('<') {
            let name = trim_lws(s.get(..lt).unwrap_or_default());
            let rest = s.get(lt..).unwrap_or_default();
            if name.is_empty() {
                (None, rest)
            } else {
                // *(token LWS): tokens separated by whitespace.
                if !name
                    .split([' ', '\t'])
                    .filter(|t| !t.is_empty())
                    .all(is_token)
                {
                    return Err(NameAddrError::BadDisplayName(excerpt(name)));
                }
                (Some(name.to_string()), rest)
            }
        } else {
            // Bare addr-spec: the URI stops at the first ';'.
            let end = s.find(';').unwrap_or(s.len());
            let (uri, params) = s.split_at(end);
            let uri = trim_lws(uri);
            check_uri(uri)?;
            return Ok(NameAddr {
                display_name: None,
                uri: uri.to_string(),
                params: parse_params(params)?,
            });
        };
        // rest starts with '<'.
        let inner = rest.get(1..).unwrap_or_default();
        let gt = inner.find('>').ok_or(NameAddrError::UnterminatedAngle)?;
        let uri = trim_lws(inner.get(..gt).unwrap_or_default());
        check_uri(uri)?;
        let params = parse_params(inner.get(gt + 1..).unwrap_or_default())?;
        Ok(NameAddr {
            display_name,
            uri: uri.to_string(),
            params,
        })
    }
}

impl fmt::Display for NameAddr {
    /// The name-addr form: `"Alice" <sip:...>;tag=1` (display name quoted
    /// and escaped; parameter values quoted unless they are tokens).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = &self.display_name {
            write!(f, "\"{}\" ", escape_quoted(name))?;
        }
        write!(f, "<{}>", self.uri)?;
        for (k, v) in &self.params {
            match v {
                None => write!(f, ";{k}")?,
                Some(v) if is_token(v) => write!(f, ";{k}={v}")?,
                Some(v) => write!(f, ";{k}=\"{}\"", escape_quoted(v))?,
            }
        }
        Ok(())
    }
}

fn escape_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn name_addr_variants() {
        let n: NameAddr = "\"Alice \\\"A\\\"\" <sip:+1-215-555-0121@x.example;user=phone>;tag=1"
            .parse()
            .unwrap();
        assert_eq!(n.display_name.as_deref(), Some("Alice \"A\""));
        assert_eq!(n.uri, "sip:+1-215-555-0121@x.example;user=phone");
        assert_eq!(n.params, vec![("tag".to_string(), Some("1".to_string()))]);

        let n: NameAddr = "<tel:+12155550121>".parse().unwrap();
        assert_eq!(
            n,
            NameAddr {
                display_name: None,
                uri: "tel:+12155550121".into(),
                params: vec![]
            }
        );

        let n: NameAddr = "sip:alice@example.com;tag=9;lr".parse().unwrap();
        assert_eq!(n.uri, "sip:alice@example.com");
        assert_eq!(n.tag(), Some("9"));
        assert_eq!(n.param("LR"), Some(None));
        assert_eq!(n.param("x"), None);

        let n: NameAddr = "Alice  Smith<sip:a@x> ; tag = abc ; q=\"x;y\""
            .parse()
            .unwrap();
        assert_eq!(n.display_name.as_deref(), Some("Alice  Smith"));
        assert_eq!(n.tag(), Some("abc"));
        assert_eq!(n.param("q"), Some(Some("x;y")));

        let n: NameAddr = "\"\" < sip:a@x >;received=[2001:db8::1]".parse().unwrap();
        assert_eq!(n.display_name.as_deref(), Some(""));
        assert_eq!(n.uri, "sip:a@x");
        assert_eq!(n.param("received"), Some(Some("[2001:db8::1]")));

        // Display round trip.
        let src = "\"A \\\"B\\\"\" <sip:a@x;user=phone>;tag=1;lr;q=\"a b\"";
        let n: NameAddr = src.parse().unwrap();
        assert_eq!(n.to_string(), src);
        assert_eq!(n.to_string().parse::<NameAddr>().unwrap(), n);
    }

    #[test]
    fn name_addr_rejections() {
        for (s, want) in [
            ("", NameAddrError::Empty),
            ("   ", NameAddrError::Empty),
            ("\"Alice <sip:a@x>", NameAddrError::UnterminatedQuote),
            ("\"Alice\" sip:a@x", NameAddrError::MissingAngle),
            ("<sip:a@x", NameAddrError::UnterminatedAngle),
            (
                "Al@ice <sip:a@x>",
                NameAddrError::BadDisplayName("Al@ice".into()),
            ),
            ("<alice>", NameAddrError::BadUri("alice".into())),
            ("<>", NameAddrError::BadUri(String::new())),
            ("<sip:a b@x>", NameAddrError::BadUri("sip:a b@x".into())),
            ("1sip:a@x", NameAddrError::BadUri("1sip:a@x".into())),
            ("<sip:a@x> junk", NameAddrError::TrailingText("junk".into())),
            (
                "<sip:a@x>, <sip:b@x>",
                NameAddrError::TrailingText(", <sip:b@x>".into()),
            ),
            ("<sip:a@x>;=1", NameAddrError::BadParam("=1".into())),
            ("<sip:a@x>;tag=", NameAddrError::BadParam("tag=".into())),
            ("<sip:a@x>;tag=\"open", NameAddrError::UnterminatedQuote),
        ] {
            assert_eq!(s.parse::<NameAddr>().unwrap_err(), want, "{s:?}");
        }
    }
}
