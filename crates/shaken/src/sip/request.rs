//! A small SIP request reader and editor (RFC 3261 §7, §20, §25).
//!
//! Pure core: bytes in, values out. [`SipRequest::parse`] reads the request
//! line and the header section once, and keeps the original bytes so that
//! [`SipRequest::with_headers_added`] and [`SipRequest::without_header`] can
//! edit a copy without re-serialising anything else (the body, the header
//! order, the spelling of the other headers and the line ends are kept byte
//! for byte).
//!
//! What is accepted (strict on structure, tolerant on layout):
//! - request line `METHOD SP Request-URI SP SIP/2.0` (runs of spaces or tabs
//!   between the three parts are tolerated; a status line is rejected with
//!   [`SipError::Response`]);
//! - CRLF or bare LF line ends, mixed; blank lines before the request line;
//! - one log prefix line before the request line, as SBC logs and ngrep
//!   write (`U 192.0.2.1:5060 -> 192.0.2.2:5060`, `2026-01-01 12:00:00 RECV
//!   from ...`): only the first non-blank line, only when it is clearly not
//!   SIP (it names no `SIP/` version) and the next non-blank line is a valid
//!   request line. It is reported by [`SipRequest::skipped_prefix`] and is
//!   not part of the request (edits and line numbers start after it);
//! - header folding (a line starting with SP or HTAB continues the previous
//!   header; the pieces are joined with one space);
//! - `Name : value` spacing; header names are RFC 3261 tokens;
//! - the header section ends at the first empty line; the body after it is
//!   not interpreted. A message without that empty line (headers only, as
//!   people paste them) is accepted.
//!
//! What is rejected: messages over [`Limits::max_sip_message`] bytes, more than
//! [`Limits::max_sip_headers`] header lines, more than
//! [`Limits::max_identity_headers`] Identity values, a header section that is
//! not UTF-8, control characters (other than HTAB) in a header line, header
//! lines without a colon, and names that are not tokens. Every error names the
//! line (1-based, counting every line of the input) and, where there is one,
//! the header.
//!
//! Header names are matched case-insensitively, and the compact forms of
//! RFC 3261 §7.3.3 and later RFCs (`f`, `t`, `i`, `m`, `v`, `l`, `c`, `k`, `s`,
//! `e`, `y` (RFC 8224 §4), `o`, `r`, `u`, `x`, `b`, `a`, `j`, `d`) are the same
//! header as their long forms.

use std::time::UNIX_EPOCH;

use super::name_addr::{excerpt, has_scheme, is_token, trim_lws};
use super::{NameAddr, NameAddrError};
use crate::Limits;

/// Why a SIP message, or a name-addr inside it, was rejected.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum SipError {
    /// The input is larger than [`Limits::max_sip_message`].
    #[error("SIP message is {len} bytes, more than the limit of {max} bytes")]
    TooLarge {
        /// Size of the input in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The input holds no request line (it is empty or only blank lines).
    #[error("SIP message is empty: no request line found")]
    Empty,
    /// The first line is a status line (`SIP/2.0 200 OK`).
    #[error("line {line}: this is a SIP response, not a request (status line {status:?})")]
    Response {
        /// Line number of the status line.
        line: usize,
        /// The status line, cut to 80 characters.
        status: String,
    },
    /// The request line does not have the form `METHOD SP Request-URI SP SIP/2.0`.
    #[error("line {line}: malformed request line {text:?}: {reason}")]
    BadRequestLine {
        /// Line number of the request line.
        line: usize,
        /// The request line, cut to 80 characters.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The request line names a SIP version other than 2.0.
    #[error("line {line}: unsupported SIP version {version:?} (only SIP/2.0 is supported)")]
    UnsupportedVersion {
        /// Line number of the request line.
        line: usize,
        /// The version as written, cut to 80 characters.
        version: String,
    },
    /// A line of the request line or header section is not valid UTF-8.
    #[error("line {line}: the header section is not valid UTF-8")]
    NotUtf8 {
        /// Line number of the offending line.
        line: usize,
    },
    /// A control character (other than HTAB) appears in the request line or
    /// a header line (a lone CR, NUL, ...).
    #[error("line {line}: control character 0x{byte:02x} in the header section")]
    ControlChar {
        /// Line number.
        line: usize,
        /// The offending byte.
        byte: u8,
    },
    /// A header line has no `:`.
    #[error("line {line}: header line has no ':' ({text:?})")]
    MissingColon {
        /// Line number.
        line: usize,
        /// The line, cut to 80 characters.
        text: String,
    },
    /// A header name is empty or not an RFC 3261 token.
    #[error("line {line}: header name {name:?} is not a valid token")]
    BadHeaderName {
        /// Line number.
        line: usize,
        /// The name as written, cut to 80 characters.
        name: String,
    },
    /// A folded continuation line (starting with SP or HTAB) comes right after
    /// the request line, with no header to continue.
    #[error(
        "line {line}: continuation line (starts with a space or tab) but no header precedes it"
    )]
    OrphanContinuation {
        /// Line number.
        line: usize,
    },
    /// More header lines than [`Limits::max_sip_headers`].
    #[error("line {line}: more than {max} header lines")]
    TooManyHeaders {
        /// Line number of the first line over the limit.
        line: usize,
        /// The limit.
        max: usize,
    },
    /// More Identity values than [`Limits::max_identity_headers`].
    #[error("{count} Identity header values, more than the limit of {max}")]
    TooManyIdentityHeaders {
        /// How many Identity values the message holds.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A header that must be present exactly once is missing.
    #[error("missing {name} header")]
    MissingHeader {
        /// Header name (long form).
        name: &'static str,
    },
    /// A header that must be present at most once appears several times.
    #[error("{name} header appears more than once (lines {first_line} and {second_line})")]
    DuplicateHeader {
        /// Header name (long form).
        name: &'static str,
        /// Line of the first instance.
        first_line: usize,
        /// Line of the second instance.
        second_line: usize,
    },
    /// A From, To or P-Asserted-Identity value is not a valid name-addr or
    /// addr-spec.
    #[error("line {line}: malformed {header} value {value:?}: {source}")]
    BadNameAddr {
        /// Header name (long form).
        header: &'static str,
        /// Line where the header starts.
        line: usize,
        /// The value, cut to 80 characters.
        value: String,
        /// What is wrong with it.
        #[source]
        source: NameAddrError,
    },
    /// The Date header is not an RFC 1123 date in the form SIP requires
    /// (RFC 3261 §20.17: `Tue, 16 Aug 2016 19:23:38 GMT`).
    #[error("line {line}: Date {value:?} is not an RFC 1123 date like \"Tue, 16 Aug 2016 19:23:38 GMT\"")]
    BadDate {
        /// Line of the Date header.
        line: usize,
        /// The value, cut to 80 characters.
        value: String,
    },
}

/// A message that does not read is answered 400 Bad Request (RFC 3261
/// §21.4.1) and nothing is verified (see `malformed_request_report`).
impl crate::diagnostic::Diagnostic for SipError {
    fn id(&self) -> &'static str {
        match self {
            SipError::TooLarge { .. } => "sip-too-large",
            SipError::Empty => "sip-empty",
            SipError::Response { .. } => "sip-response",
            SipError::BadRequestLine { .. } => "sip-bad-request-line",
            SipError::UnsupportedVersion { .. } => "sip-unsupported-version",
            SipError::NotUtf8 { .. } => "sip-not-utf8",
            SipError::ControlChar { .. } => "sip-control-char",
            SipError::MissingColon { .. } => "sip-missing-colon",
            SipError::BadHeaderName { .. } => "sip-bad-header-name",
            SipError::OrphanContinuation { .. } => "sip-orphan-continuation",
            SipError::TooManyHeaders { .. } => "sip-too-many-headers",
            SipError::TooManyIdentityHeaders { .. } => "sip-too-many-identity-headers",
            SipError::MissingHeader { .. } => "sip-missing-header",
            SipError::DuplicateHeader { .. } => "sip-duplicate-header",
            SipError::BadNameAddr { .. } => "sip-bad-name-addr",
            SipError::BadDate { .. } => "sip-bad-date",
        }
    }
    fn sip_code(&self) -> Option<u16> {
        Some(400)
    }
    fn verstat(&self) -> Option<crate::report::Verstat> {
        Some(crate::report::Verstat::NoValidation)
    }
}

/// A parsed SIP request: the original bytes plus the request line and the
/// headers, unfolded. Parse once with [`SipRequest::parse`], then query.
#[derive(Debug, Clone)]
pub struct SipRequest {
    raw: Vec<u8>,
    method: String,
    request_uri: String,
    headers: Vec<Header>,
    /// `"\r\n"` or `"\n"`: the line end of the request line.
    eol: &'static str,
    /// Byte offset just after the last header line (and its line end), where
    /// new headers go.
    headers_end: usize,
    /// Whether the last header line (or the request line when there are no
    /// headers) ends without a line end (the input stops there).
    last_line_unterminated: bool,
    /// Byte offset of the body (after the empty line), or the input length.
    body_start: usize,
    /// The log prefix line skipped before the request line, if any.
    skipped_prefix: Option<String>,
}

/// One logical header (folded lines joined).
#[derive(Debug, Clone)]
struct Header {
    /// Name as written.
    name: String,
    /// Lower-case long form of the name (compact forms expanded).
    key: String,
    /// Value with folding undone, trimmed of SP/HTAB.
    value: String,
    /// 1-based line number of the first line.
    line: usize,
    /// Byte range in the raw message, line ends of every physical line included.
    start: usize,
    end: usize,
}

/// Headers whose value is a comma-separated list (RFC 3261 §7.3.1 allows
/// splitting and joining them). Other headers, known or unknown, are returned
/// whole: Date, From, To, Call-ID, CSeq, Subject, the auth headers and any
/// extension header this list does not know.
const LIST_HEADERS: &[&str] = &[
    "accept",
    "accept-contact",
    "accept-encoding",
    "accept-language",
    "alert-info",
    "allow",
    "allow-events",
    "call-info",
    "contact",
    "content-encoding",
    "content-language",
    "diversion",
    "error-info",
    "history-info",
    "identity",
    "in-reply-to",
    "p-asserted-identity",
    "p-associated-uri",
    "p-preferred-identity",
    "path",
    "proxy-require",
    "reason",
    "record-route",
    "reject-contact",
    "request-disposition",
    "require",
    "route",
    "security-client",
    "security-server",
    "security-verify",
    "service-route",
    "supported",
    "unsupported",
    "via",
    "warning",
];

/// Compact header names (RFC 3261 §7.3.3 and the RFCs that added letters).
const COMPACT: &[(char, &str)] = &[
    ('a', "accept-contact"),      // RFC 3841
    ('b', "referred-by"),         // RFC 3892
    ('c', "content-type"),        // RFC 3261
    ('d', "request-disposition"), // RFC 3841
    ('e', "content-encoding"),    // RFC 3261
    ('f', "from"),                // RFC 3261
    ('i', "call-id"),             // RFC 3261
    ('j', "reject-contact"),      // RFC 3841
    ('k', "supported"),           // RFC 3261
    ('l', "content-length"),      // RFC 3261
    ('m', "contact"),             // RFC 3261
    ('o', "event"),               // RFC 6665
    ('r', "refer-to"),            // RFC 3515
    ('s', "subject"),             // RFC 3261
    ('t', "to"),                  // RFC 3261
    ('u', "allow-events"),        // RFC 6665
    ('v', "via"),                 // RFC 3261
    ('x', "session-expires"),     // RFC 4028
    ('y', "identity"),            // RFC 8224 §4
];

/// The lower-case long form of a header name (compact forms expanded).
pub fn canonical_header_name(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    let mut chars = lower.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        if let Some((_, long)) = COMPACT.iter().find(|(k, _)| *k == c) {
            return (*long).to_string();
        }
    }
    lower
}

/// One physical line: content (line end stripped), and byte offsets.
struct RawLine<'a> {
    content: &'a [u8],
    start: usize,
    /// Offset after the line end (or the input end).
    end: usize,
    /// The line end found: "\r\n", "\n" or "" (input ends).
    eol: &'static str,
}

/// Split into physical lines on LF, stripping one CR before the LF.
fn split_lines(bytes: &[u8]) -> Vec<RawLine<'_>> {
    let mut lines = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        let rest = bytes.get(start..).unwrap_or_default();
        match rest.iter().position(|&b| b == b'\n') {
            Some(pos) => {
                let line = rest.get(..pos).unwrap_or_default();
                let (content, eol) = match line.strip_suffix(b"\r") {
                    Some(c) => (c, "\r\n"),
                    None => (line, "\n"),
                };
                lines.push(RawLine {
                    content,
                    start,
                    end: start + pos + 1,
                    eol,
                });
                start += pos + 1;
            }
            None => {
                lines.push(RawLine {
                    content: rest,
                    start,
                    end: bytes.len(),
                    eol: "",
                });
                start = bytes.len();
            }
        }
    }
    lines
}

/// The line as UTF-8 with no control characters other than HTAB.
fn line_text<'a>(line: &RawLine<'a>, number: usize) -> Result<&'a str, SipError> {
    let text = std::str::from_utf8(line.content).map_err(|_| SipError::NotUtf8 { line: number })?;
    if let Some(b) = text
        .bytes()
        .find(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
    {
        return Err(SipError::ControlChar {
            line: number,
            byte: b,
        });
    }
    Ok(text)
}

impl SipRequest {
    /// Parse a SIP request. See the module documentation for what is
    /// accepted. The body is not interpreted (Content-Length is not checked).
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<SipRequest, SipError> {
        Self::parse_inner(bytes, limits, true)
    }

    /// The log prefix line (an SBC or ngrep header line) skipped before the
    /// request line, cut to 80 characters; `None` when the input starts with
    /// the request line.
    pub fn skipped_prefix(&self) -> Option<&str> {
        self.skipped_prefix.as_deref()
    }

    fn parse_inner(
        bytes: &[u8],
        limits: &Limits,
        allow_prefix: bool,
    ) -> Result<SipRequest, SipError> {
        if bytes.len() > limits.max_sip_message {
            return Err(SipError::TooLarge {
                len: bytes.len(),
                max: limits.max_sip_message,
            });
        }
        let lines = split_lines(bytes);
        let mut iter = lines.iter().enumerate().map(|(i, l)| (i + 1, l));

        // Request line, after any blank lines (RFC 3261 §7.5).
        let (req_no, req_line) = loop {
            match iter.next() {
                None => return Err(SipError::Empty),
                Some((_, l)) if l.content.is_empty() => continue,
                Some(found) => break found,
            }
        };
        let req_text = line_text(req_line, req_no)?;
        let (method, request_uri) = match parse_request_line(req_text, req_no) {
            Ok(parts) => parts,
            // A log prefix line: clearly not SIP (no `SIP/` version), and a
            // request follows. Only this one line is skipped.
            Err(e @ SipError::BadRequestLine { .. })
                if allow_prefix && !req_text.to_ascii_uppercase().contains("SIP/") =>
            {
                let rest = bytes.get(req_line.end..).unwrap_or_default();
                return match Self::parse_inner(rest, limits, false) {
                    Ok(mut request) => {
                        request.skipped_prefix = Some(excerpt(req_text));
                        Ok(request)
                    }
                    Err(SipError::BadRequestLine { .. } | SipError::Empty) => Err(e),
                    Err(other) => Err(other),
                };
            }
            Err(e) => return Err(e),
        };
        let eol = if req_line.eol == "\n" { "\n" } else { "\r\n" };

        let mut headers: Vec<Header> = Vec::new();
        let mut header_lines = 0usize;
        let mut headers_end = req_line.end;
        let mut last_unterminated = req_line.eol.is_empty();
        let mut body_start = bytes.len();
        for (no, line) in iter {
            if line.content.is_empty() {
                body_start = line.end;
                break;
            }
            header_lines += 1;
            if header_lines > limits.max_sip_headers {
                return Err(SipError::TooManyHeaders {
                    line: no,
                    max: limits.max_sip_headers,
                });
            }
            let text = line_text(line, no)?;
            headers_end = line.end;
            last_unterminated = line.eol.is_empty();
            if text.starts_with([' ', '\t']) {
                let prev = headers
                    .last_mut()
                    .ok_or(SipError::OrphanContinuation { line: no })?;
                let piece = trim_lws(text);
                if !piece.is_empty() {
                    if !prev.value.is_empty() {
                        prev.value.push(' ');
                    }
                    prev.value.push_str(piece);
                }
                prev.end = line.end;
                continue;
            }
            let (name, value) = text.split_once(':').ok_or_else(|| SipError::MissingColon {
                line: no,
                text: excerpt(text),
            })?;
            let name = trim_lws(name);
            if !is_token(name) {
                return Err(SipError::BadHeaderName {
                    line: no,
                    name: excerpt(name),
                });
            }
            headers.push(Header {
                name: name.to_string(),
                key: canonical_header_name(name),
                value: trim_lws(value).to_string(),
                line: no,
                start: line.start,
                end: line.end,
            });
        }

        let request = SipRequest {
            raw: bytes.to_vec(),
            method,
            request_uri,
            headers,
            eol,
            headers_end,
            last_line_unterminated: last_unterminated,
            body_start,
            skipped_prefix: None,
        };
        let identities = request.identity_headers().len();
        if identities > limits.max_identity_headers {
            return Err(SipError::TooManyIdentityHeaders {
                count: identities,
                max: limits.max_identity_headers,
            });
        }
        Ok(request)
    }

    /// The method, e.g. `INVITE` (case as written; methods are case-sensitive).
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The Request-URI as written.
    pub fn request_uri(&self) -> &str {
        &self.request_uri
    }

    /// The line end of the request line, which edits reuse: `"\r\n"` or `"\n"`.
    pub fn line_ending(&self) -> &'static str {
        self.eol
    }

    /// The body: the bytes after the empty line that ends the header section
    /// (empty when there is none). Not interpreted.
    pub fn body(&self) -> &[u8] {
        self.raw.get(self.body_start..).unwrap_or_default()
    }

    /// Every header as `(name as written, unfolded value)`, in order.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers
            .iter()
            .map(|h| (h.name.as_str(), h.value.as_str()))
    }

    fn instances<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a Header> {
        let key = canonical_header_name(name);
        self.headers.iter().filter(move |h| h.key == key)
    }

    /// Every instance of a header, whole (not split at commas), unfolded and
    /// trimmed, in order. Compact forms and case are equivalent.
    pub fn header_instances(&self, name: &str) -> Vec<&str> {
        self.instances(name).map(|h| h.value.as_str()).collect()
    }

    /// All values of a header, in order: every instance and, for headers that
    /// are comma-separated lists (Via, Contact, Route, Identity,
    /// P-Asserted-Identity, Supported, ...), each element, split outside
    /// "quoted strings" and `<angle brackets>`. Headers that are not lists
    /// (Date, From, To, Call-ID, CSeq, Subject, auth headers, unknown
    /// extension headers) give one value per instance. Elements are trimmed;
    /// empty elements (`a,,b`) are skipped. Name lookup is case-insensitive
    /// and compact forms are equivalent (`y` = Identity, `f` = From, ...).
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        let key = canonical_header_name(name);
        let is_list = LIST_HEADERS.contains(&key.as_str());
        let mut out = Vec::new();
        for h in self.headers.iter().filter(|h| h.key == key) {
            if is_list {
                out.extend(split_list(&h.value));
            } else {
                out.push(h.value.as_str());
            }
        }
        out
    }

    /// The Identity header values (RFC 8224), one per PASSporT, trimmed, in
    /// order; compact `y:` included.
    pub fn identity_headers(&self) -> Vec<&str> {
        self.header_values("identity")
    }

    /// The single header `name`: `Ok(None)` when absent, an error when it
    /// appears more than once.
    fn single(&self, name: &'static str) -> Result<Option<&Header>, SipError> {
        let mut it = self.instances(name);
        let first = it.next();
        if let (Some(a), Some(b)) = (first, it.next()) {
            return Err(SipError::DuplicateHeader {
                name,
                first_line: a.line,
                second_line: b.line,
            });
        }
        Ok(first)
    }

    fn name_addr_header(&self, name: &'static str) -> Result<NameAddr, SipError> {
        let h = self.single(name)?.ok_or(SipError::MissingHeader { name })?;
        parse_name_addr_in(name, h.line, &h.value)
    }

    /// The From header (`f:` included). Exactly one is required.
    pub fn from(&self) -> Result<NameAddr, SipError> {
        self.name_addr_header("From")
    }

    /// The To header (`t:` included). Exactly one is required.
    pub fn to(&self) -> Result<NameAddr, SipError> {
        self.name_addr_header("To")
    }

    /// Every P-Asserted-Identity value (RFC 3325), in order, across every
    /// instance and comma list (a tel and a sip PAI may both be present).
    /// Empty when there is none; an error if any value is malformed.
    pub fn p_asserted_identities(&self) -> Result<Vec<NameAddr>, SipError> {
        let mut out = Vec::new();
        for h in self.instances("p-asserted-identity") {
            for v in split_list(&h.value) {
                out.push(parse_name_addr_in("P-Asserted-Identity", h.line, v)?);
            }
        }
        Ok(out)
    }

    /// The Call-ID (`i:` included), or `None`. The first one if repeated.
    pub fn call_id(&self) -> Option<&str> {
        self.instances("call-id").next().map(|h| h.value.as_str())
    }

    /// The Date header as Unix seconds, or `None` when there is none. The
    /// value must be an RFC 1123 date in the exact SIP-date form (RFC 3261
    /// §20.17, e.g. `Tue, 16 Aug 2016 19:23:38 GMT`, weekday consistent);
    /// the obsolete RFC 850 and asctime forms are rejected. Two Date headers
    /// are an error.
    pub fn date(&self) -> Result<Option<i64>, SipError> {
        let Some(h) = self.single("Date")? else {
            return Ok(None);
        };
        let bad = || SipError::BadDate {
            line: h.line,
            value: excerpt(&h.value),
        };
        let time = httpdate::parse_http_date(&h.value).map_err(|_| bad())?;
        // httpdate also accepts RFC 850 and asctime dates; SIP does not.
        if httpdate::fmt_http_date(time) != h.value {
            return Err(bad());
        }
        let secs = time
            .duration_since(UNIX_EPOCH)
            .map_err(|_| bad())?
            .as_secs();
        i64::try_from(secs).map(Some).map_err(|_| bad())
    }

    /// The message as received.
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw
    }

    /// A copy of the message with `lines` ("Name: value", no line end)
    /// inserted at the end of the header section (after the last header,
    /// before the empty line), each ended with the message's own line end
    /// (that of the request line). Everything else, body and Content-Length
    /// included, is copied unchanged. The lines are not validated.
    pub fn with_headers_added(&self, lines: &[String]) -> Vec<u8> {
        let split = self.headers_end.min(self.raw.len());
        let (head, tail) = self.raw.split_at(split);
        let added: usize = lines.iter().map(|l| l.len() + self.eol.len()).sum();
        let mut out = Vec::with_capacity(self.raw.len() + added + self.eol.len());
        out.extend_from_slice(head);
        if self.last_line_unterminated && !lines.is_empty() {
            out.extend_from_slice(self.eol.as_bytes());
        }
        for line in lines {
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(self.eol.as_bytes());
        }
        out.extend_from_slice(tail);
        out
    }

    /// A copy of the message with every header named `name` (any case,
    /// compact form included, folded continuation lines included) removed.
    /// Everything else is copied unchanged.
    pub fn without_header(&self, name: &str) -> Vec<u8> {
        let key = canonical_header_name(name);
        let mut out = Vec::with_capacity(self.raw.len());
        let mut pos = 0;
        for h in self.headers.iter().filter(|h| h.key == key) {
            out.extend_from_slice(self.raw.get(pos..h.start).unwrap_or_default());
            pos = h.end;
        }
        out.extend_from_slice(self.raw.get(pos..).unwrap_or_default());
        out
    }
}

fn parse_request_line(text: &str, line: usize) -> Result<(String, String), SipError> {
    let bad = |reason| SipError::BadRequestLine {
        line,
        text: excerpt(text),
        reason,
    };
    if text
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("SIP/"))
    {
        return Err(SipError::Response {
            line,
            status: excerpt(text),
        });
    }
    let mut parts = text.split([' ', '\t']).filter(|p| !p.is_empty());
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("expected three parts: METHOD Request-URI SIP/2.0"));
    };
    if text.starts_with([' ', '\t']) {
        return Err(bad("starts with a space"));
    }
    if !is_token(method) {
        return Err(bad("the method is not a token"));
    }
    if !version.eq_ignore_ascii_case("SIP/2.0") {
        return Err(SipError::UnsupportedVersion {
            line,
            version: excerpt(version),
        });
    }
    if !has_scheme(uri) {
        return Err(bad("the Request-URI has no scheme (e.g. sip:, tel:)"));
    }
    Ok((method.to_string(), uri.to_string()))
}

/// Split a comma-separated header value outside quoted strings (with `\`
/// escapes) and angle brackets. Elements are trimmed; empty ones dropped.
pub fn split_list(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut in_quote = false;
    let mut escaped = false;
    let mut in_angle = false;
    let mut start = 0;
    for (i, c) in value.char_indices() {
        if in_quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quote = false;
            }
            continue;
        }
        match c {
            '"' if !in_angle => in_quote = true,
            '<' => in_angle = true,
            '>' => in_angle = false,
            ',' if !in_angle => {
                out.push(value.get(start..i).unwrap_or_default());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(value.get(start..).unwrap_or_default());
    out.into_iter()
        .map(trim_lws)
        .filter(|s| !s.is_empty())
        .collect()
}

fn parse_name_addr_in(
    header: &'static str,
    line: usize,
    value: &str,
) -> Result<NameAddr, SipError> {
    value
        .parse::<NameAddr>()
        .map_err(|source| SipError::BadNameAddr {
            header,
            line,
            value: excerpt(value),
            source,
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const INVITE: &str = "INVITE sip:+12125550143@example.net;user=phone SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: <tel:+12125550143>\r\n\
From: \"Alice\" <tel:+12155550121>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Date: Tue, 16 Aug 2016 19:23:38 GMT\r\n\
Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 10\r\n\
\r\n\
v=0\r\no=x\r\n";

    fn parse(s: &str) -> Result<SipRequest, SipError> {
        SipRequest::parse(s.as_bytes(), &Limits::default())
    }

    #[test]
    fn basic_invite() {
        let r = parse(INVITE).unwrap();
        assert_eq!(r.method(), "INVITE");
        assert_eq!(r.request_uri(), "sip:+12125550143@example.net;user=phone");
        assert_eq!(r.line_ending(), "\r\n");
        assert_eq!(r.body(), b"v=0\r\no=x\r\n");
        assert_eq!(r.call_id(), Some("a84b4c76e66710@pc33.atlanta.example.com"));
        assert_eq!(r.date().unwrap(), Some(1_471_375_418));
        let from = r.from().unwrap();
        assert_eq!(from.display_name.as_deref(), Some("Alice"));
        assert_eq!(from.uri, "tel:+12155550121");
        assert_eq!(from.tag(), Some("1928301774"));
        assert_eq!(r.to().unwrap().uri, "tel:+12125550143");
        assert!(r.identity_headers().is_empty());
        assert!(r.p_asserted_identities().unwrap().is_empty());
        assert_eq!(r.header_values("max-forwards"), vec!["70"]);
        assert_eq!(r.as_bytes(), INVITE.as_bytes());
    }

    #[test]
    fn comma_lists_respect_quotes_and_angles() {
        let msg = "INVITE sip:b@x SIP/2.0\n\
Contact: \"Doe, John\" <sip:j@x;a=1,2>;q=0.5, <sip:k@y>\n\
Contact: sip:l@z\n\
Identity: a.b.c;info=<https://x/c,1.pem>;alg=ES256;ppt=shaken, d.e.f;info=<https://y>\n\
Warning: 399 x \"a, \\\"b, c\"\n\
Date: Tue, 16 Aug 2016 19:23:38 GMT\n\
X-Custom: a, b\n\
Via: SIP/2.0/UDP a;branch=1 , ,SIP/2.0/TCP b;branch=2,\n\n";
        let r = parse(msg).unwrap();
        assert_eq!(
            r.header_values("m"),
            vec![
                "\"Doe, John\" <sip:j@x;a=1,2>;q=0.5",
                "<sip:k@y>",
                "sip:l@z"
            ]
        );
        assert_eq!(
            r.identity_headers(),
            vec![
                "a.b.c;info=<https://x/c,1.pem>;alg=ES256;ppt=shaken",
                "d.e.f;info=<https://y>"
            ]
        );
        assert_eq!(r.header_values("warning"), vec!["399 x \"a, \\\"b, c\""]);
        assert_eq!(
            r.header_values("DATE"),
            vec!["Tue, 16 Aug 2016 19:23:38 GMT"]
        );
        assert_eq!(r.header_values("x-custom"), vec!["a, b"]);
        assert_eq!(
            r.header_values("v"),
            vec!["SIP/2.0/UDP a;branch=1", "SIP/2.0/TCP b;branch=2"]
        );
        assert_eq!(r.header_instances("contact").len(), 2);
    }

    #[test]
    fn multiple_instances_in_order() {
        let msg = "INVITE sip:b@x SIP/2.0\r\nIdentity: one;info=<https://a>\r\ny: two;info=<https://b>\r\nIDENTITY : three;info=<https://c>\r\n\r\n";
        let r = parse(msg).unwrap();
        assert_eq!(
            r.identity_headers(),
            vec![
                "one;info=<https://a>",
                "two;info=<https://b>",
                "three;info=<https://c>"
            ]
        );
    }

    #[test]
    fn compact_names() {
        let msg = "INVITE sip:b@x SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\nf: <sip:a@x>;tag=1\r\nt: Bob <sip:b@x>\r\ni: abc@h\r\nm: <sip:a@h>\r\nk: timer\r\nl: 0\r\nc: application/sdp\r\n\r\n";
        let r = parse(msg).unwrap();
        assert_eq!(r.from().unwrap().uri, "sip:a@x");
        let to = r.to().unwrap();
        assert_eq!(to.display_name.as_deref(), Some("Bob"));
        assert_eq!(r.call_id(), Some("abc@h"));
        assert_eq!(r.header_values("Contact"), vec!["<sip:a@h>"]);
        assert_eq!(r.header_values("Supported"), vec!["timer"]);
        assert_eq!(r.header_values("content-length"), vec!["0"]);
        assert_eq!(r.header_values("Content-Type"), vec!["application/sdp"]);
        assert_eq!(r.header_values("Via").len(), 1);
        assert_eq!(r.header_values("F").len(), 1);
        assert_eq!(canonical_header_name("Y"), "identity");
        assert_eq!(canonical_header_name("x"), "session-expires");
    }

    #[test]
    fn folding_is_joined_with_one_space() {
        let msg = "INVITE sip:b@x SIP/2.0\r\nFrom: \"Alice\"\r\n   <tel:+12155550121>\r\n\t;tag=9\r\nTo: <tel:+12125550143>\r\n\r\n";
        let r = parse(msg).unwrap();
        assert_eq!(
            r.header_values("from"),
            vec!["\"Alice\" <tel:+12155550121> ;tag=9"]
        );
        let from = r.from().unwrap();
        assert_eq!(from.uri, "tel:+12155550121");
        assert_eq!(from.tag(), Some("9"));
        // Removing a folded header removes all of its lines.
        let out = r.without_header("f");
        assert_eq!(
            out,
            b"INVITE sip:b@x SIP/2.0\r\nTo: <tel:+12125550143>\r\n\r\n"
        );
    }

    #[test]
    fn orphan_continuation_rejected() {
        let err = parse("INVITE sip:b@x SIP/2.0\r\n folded\r\n\r\n").unwrap_err();
        assert!(
            matches!(err, SipError::OrphanContinuation { line: 2 }),
            "{err}"
        );
    }

    #[test]
    fn lf_and_mixed_line_ends_and_leading_blank_lines() {
        let lf = INVITE.replace("\r\n", "\n");
        let r = parse(&lf).unwrap();
        assert_eq!(r.line_ending(), "\n");
        assert_eq!(r.body(), b"v=0\no=x\n");
        assert_eq!(r.date().unwrap(), Some(1_471_375_418));

        let mixed = "\r\n\nINVITE sip:b@x SIP/2.0\nFrom: <sip:a@x>\r\nTo: <sip:b@x>\n\r\nbody";
        let r = parse(mixed).unwrap();
        assert_eq!(r.line_ending(), "\n");
        assert_eq!(r.to().unwrap().uri, "sip:b@x");
        assert_eq!(r.body(), b"body");
    }

    #[test]
    fn headers_only_without_blank_line() {
        let r = parse("INVITE sip:b@x SIP/2.0\r\nFrom: <sip:a@x>\r\nTo: <sip:b@x>").unwrap();
        assert_eq!(r.to().unwrap().uri, "sip:b@x");
        assert!(r.body().is_empty());
        let out = r.with_headers_added(&["Identity: t;info=<https://x>".to_string()]);
        assert_eq!(
            out,
            b"INVITE sip:b@x SIP/2.0\r\nFrom: <sip:a@x>\r\nTo: <sip:b@x>\r\nIdentity: t;info=<https://x>\r\n"
        );
        let r = parse("INVITE sip:b@x SIP/2.0").unwrap();
        assert_eq!(r.headers().count(), 0);
        assert_eq!(
            r.with_headers_added(&["A: b".to_string()]),
            b"INVITE sip:b@x SIP/2.0\r\nA: b\r\n"
        );
    }

    #[test]
    fn missing_and_duplicate_from() {
        let err = parse("INVITE sip:b@x SIP/2.0\r\nTo: <sip:b@x>\r\n\r\n")
            .unwrap()
            .from()
            .unwrap_err();
        assert!(
            matches!(err, SipError::MissingHeader { name: "From" }),
            "{err}"
        );
        assert_eq!(err.to_string(), "missing From header");

        let r = parse(
            "INVITE sip:b@x SIP/2.0\r\nFrom: <sip:a@x>\r\nTo: <sip:b@x>\r\nf: <sip:c@x>\r\n\r\n",
        )
        .unwrap();
        let err = r.from().unwrap_err();
        assert!(
            matches!(
                err,
                SipError::DuplicateHeader {
                    name: "From",
                    first_line: 2,
                    second_line: 4
                }
            ),
            "{err}"
        );
        let err = parse("INVITE sip:b@x SIP/2.0\r\nFrom: <sip:a@x>\r\n\r\n")
            .unwrap()
            .to()
            .unwrap_err();
        assert!(matches!(err, SipError::MissingHeader { name: "To" }));
    }

    #[test]
    fn malformed_from_names_line_and_header() {
        let r = parse("INVITE sip:b@x SIP/2.0\r\nTo: <sip:b@x>\r\nFrom: <sip:a@x\r\n\r\n").unwrap();
        let err = r.from().unwrap_err();
        assert!(
            matches!(
                err,
                SipError::BadNameAddr {
                    header: "From",
                    line: 3,
                    source: NameAddrError::UnterminatedAngle,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("line 3"));
    }

    #[test]
    fn response_rejected() {
        let err = parse("SIP/2.0 200 OK\r\nVia: x\r\n\r\n").unwrap_err();
        assert!(matches!(err, SipError::Response { line: 1, .. }), "{err}");
        assert!(err
            .to_string()
            .contains("this is a SIP response, not a request"));
    }

    /// One log prefix line (ngrep, SBC logs) before the request line is
    /// skipped and reported; anything less clear is still an error.
    #[test]
    fn a_log_prefix_line_is_skipped() {
        let msg = "INVITE sip:b@x SIP/2.0\r\nFrom: <sip:+12155550121@x>\r\n\r\n";
        for prefix in [
            "U 192.0.2.1:5060 -> 192.0.2.2:5060 #17\n",
            "2026-01-01 12:00:00.123 RECV from udp:192.0.2.1:5060 (812 bytes):\r\n",
            "\r\n#\n",
        ] {
            let r = parse(&format!("{prefix}{msg}")).unwrap();
            assert_eq!(r.method(), "INVITE", "{prefix:?}");
            assert!(r.skipped_prefix().is_some(), "{prefix:?}");
            assert_eq!(r.header_values("From").len(), 1);
            // Edits start after the prefix: it is not part of the request.
            let edited = r.with_headers_added(&["Date: x".to_owned()]);
            assert!(edited.starts_with(b"INVITE "), "{prefix:?}");
        }
        assert_eq!(parse(msg).unwrap().skipped_prefix(), None);
        for bad in [
            // Two prefix lines.
            format!("log one\nlog two\n{msg}"),
            // A line naming a SIP version is not a log prefix.
            format!("SIP/2.0 INVITE\n{msg}"),
            // A prefix with no request after it.
            "U 192.0.2.1:5060 -> 192.0.2.2:5060\nFrom: <sip:a@x>\n".to_owned(),
        ] {
            assert!(parse(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bad_request_lines() {
        for (text, what) in [
            ("INVITE sip:b@x\r\n", "parts"),
            ("INVITE sip:b@x SIP/2.0 extra\r\n", "parts"),
            ("INV<ITE sip:b@x SIP/2.0\r\n", "token"),
            ("INVITE nouri SIP/2.0\r\n", "scheme"),
            (" INVITE sip:b@x SIP/2.0\r\n", "space"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(
                matches!(err, SipError::BadRequestLine { line: 1, .. }),
                "{text:?} ({what}): {err}"
            );
        }
        let err = parse("INVITE sip:b@x SIP/3.0\r\n").unwrap_err();
        assert!(matches!(err, SipError::UnsupportedVersion { .. }), "{err}");
        // Tolerated: extra spaces, lower-case version.
        let r = parse("INVITE  sip:b@x\tsip/2.0\r\n").unwrap();
        assert_eq!(r.request_uri(), "sip:b@x");
        assert!(matches!(parse("").unwrap_err(), SipError::Empty));
        assert!(matches!(parse("\r\n\r\n\n").unwrap_err(), SipError::Empty));
    }

    #[test]
    fn bad_header_lines() {
        let err = parse("INVITE sip:b@x SIP/2.0\r\nFrom alice\r\n\r\n").unwrap_err();
        assert!(
            matches!(err, SipError::MissingColon { line: 2, .. }),
            "{err}"
        );
        let err = parse("INVITE sip:b@x SIP/2.0\r\nTo: x\r\nBad Name: x\r\n\r\n").unwrap_err();
        assert!(
            matches!(err, SipError::BadHeaderName { line: 3, .. }),
            "{err}"
        );
        let err = parse("INVITE sip:b@x SIP/2.0\r\n: x\r\n\r\n").unwrap_err();
        assert!(
            matches!(err, SipError::BadHeaderName { line: 2, .. }),
            "{err}"
        );
        let err = parse("INVITE sip:b@x SIP/2.0\r\nTo: a\rb\r\n\r\n").unwrap_err();
        assert!(
            matches!(
                err,
                SipError::ControlChar {
                    line: 2,
                    byte: b'\r'
                }
            ),
            "{err}"
        );
        let err = parse("INVITE sip:b@x SIP/2.0\r\nTo: a\0\r\n\r\n").unwrap_err();
        assert!(
            matches!(err, SipError::ControlChar { line: 2, byte: 0 }),
            "{err}"
        );
        // `Name : value` spacing is fine.
        let r = parse("INVITE sip:b@x SIP/2.0\r\nTo\t :  <sip:b@x>  \r\n\r\n").unwrap();
        assert_eq!(r.header_values("to"), vec!["<sip:b@x>"]);
    }

    #[test]
    fn non_utf8_header_section_names_line() {
        let mut msg = b"INVITE sip:b@x SIP/2.0\r\nTo: <sip:b@x>\r\nFrom: \xff\xfe\r\n\r\n".to_vec();
        let err = SipRequest::parse(&msg, &Limits::default()).unwrap_err();
        assert!(matches!(err, SipError::NotUtf8 { line: 3 }), "{err}");
        // A non-UTF-8 body is fine.
        msg = b"INVITE sip:b@x SIP/2.0\r\nTo: <sip:b@x>\r\n\r\n\xff\xfe\x00".to_vec();
        let r = SipRequest::parse(&msg, &Limits::default()).unwrap();
        assert_eq!(r.body(), b"\xff\xfe\x00");
        let err = SipRequest::parse(b"INVITE sip:\xff SIP/2.0", &Limits::default()).unwrap_err();
        assert!(matches!(err, SipError::NotUtf8 { line: 1 }), "{err}");
    }

    #[test]
    fn oversize_rejected() {
        let limits = Limits {
            max_sip_message: 100,
            ..Limits::default()
        };
        let err = SipRequest::parse(INVITE.as_bytes(), &limits).unwrap_err();
        assert!(
            matches!(err, SipError::TooLarge { max: 100, len } if len == INVITE.len()),
            "{err}"
        );
        let exact = Limits {
            max_sip_message: INVITE.len(),
            ..Limits::default()
        };
        assert!(SipRequest::parse(INVITE.as_bytes(), &exact).is_ok());
    }

    #[test]
    fn too_many_headers_rejected() {
        let limits = Limits {
            max_sip_headers: 3,
            ..Limits::default()
        };
        let ok = "INVITE sip:b@x SIP/2.0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        assert!(SipRequest::parse(ok.as_bytes(), &limits).is_ok());
        let bad = "INVITE sip:b@x SIP/2.0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n";
        let err = SipRequest::parse(bad.as_bytes(), &limits).unwrap_err();
        assert!(
            matches!(err, SipError::TooManyHeaders { line: 5, max: 3 }),
            "{err}"
        );
        // Folded lines count.
        let folded = "INVITE sip:b@x SIP/2.0\r\nA: 1\r\n 1\r\n 1\r\n 1\r\n\r\n";
        assert!(SipRequest::parse(folded.as_bytes(), &limits).is_err());
    }

    #[test]
    fn too_many_identity_headers_rejected() {
        let limits = Limits {
            max_identity_headers: 2,
            ..Limits::default()
        };
        let two = "INVITE sip:b@x SIP/2.0\r\nIdentity: a, b\r\n\r\n";
        assert!(SipRequest::parse(two.as_bytes(), &limits).is_ok());
        let three = "INVITE sip:b@x SIP/2.0\r\nIdentity: a, b\r\ny: c\r\n\r\n";
        let err = SipRequest::parse(three.as_bytes(), &limits).unwrap_err();
        assert!(
            matches!(err, SipError::TooManyIdentityHeaders { count: 3, max: 2 }),
            "{err}"
        );
    }

    #[test]
    fn date_parsing() {
        let with =
            |d: &str| parse(&format!("INVITE sip:b@x SIP/2.0\r\nDate: {d}\r\n\r\n")).unwrap();
        assert_eq!(
            with("Tue, 16 Aug 2016 19:23:38 GMT").date().unwrap(),
            Some(1_471_375_418)
        );
        assert_eq!(
            with("Thu, 01 Jan 1970 00:00:00 GMT").date().unwrap(),
            Some(0)
        );
        for bad in [
            "yesterday",
            "Mon, 16 Aug 2016 19:23:38 GMT",   // wrong weekday
            "Tue, 16 Aug 2016 19:23:38 UTC",   // not GMT
            "Tue, 16 Aug 2016 25:23:38 GMT",   // hour
            "Tuesday, 16-Aug-16 19:23:38 GMT", // RFC 850
            "Tue Aug 16 19:23:38 2016",        // asctime
            "Tue, 16 Aug 2016 19:23:38 GMT x",
            "",
        ] {
            let err = with(bad).date().unwrap_err();
            assert!(
                matches!(err, SipError::BadDate { line: 2, .. }),
                "{bad:?}: {err}"
            );
        }
        assert_eq!(
            parse("INVITE sip:b@x SIP/2.0\r\nTo: <sip:b@x>\r\n")
                .unwrap()
                .date()
                .unwrap(),
            None
        );
        let two = parse("INVITE sip:b@x SIP/2.0\r\nDate: Tue, 16 Aug 2016 19:23:38 GMT\r\nDate: Tue, 16 Aug 2016 19:23:38 GMT\r\n").unwrap();
        assert!(matches!(
            two.date().unwrap_err(),
            SipError::DuplicateHeader { name: "Date", .. }
        ));
    }

    #[test]
    fn with_headers_added_keeps_body_and_line_end() {
        let r = parse(INVITE).unwrap();
        let lines = vec![
            "Identity: a.b.c;info=<https://cr.example/c.pem>;alg=ES256;ppt=shaken".to_string(),
            "X-Two: 2".to_string(),
        ];
        let out = r.with_headers_added(&lines);
        let expected = INVITE.replace(
            "Content-Length: 10\r\n\r\n",
            "Content-Length: 10\r\nIdentity: a.b.c;info=<https://cr.example/c.pem>;alg=ES256;ppt=shaken\r\nX-Two: 2\r\n\r\n",
        );
        assert_eq!(String::from_utf8(out.clone()).unwrap(), expected);
        let again = SipRequest::parse(&out, &Limits::default()).unwrap();
        assert_eq!(again.body(), r.body());
        assert_eq!(again.identity_headers().len(), 1);
        // Removing what was added gives the original back.
        let back = SipRequest::parse(&out, &Limits::default()).unwrap();
        let back = SipRequest::parse(&back.without_header("identity"), &Limits::default()).unwrap();
        assert_eq!(back.without_header("x-two"), INVITE.as_bytes());

        let lf = INVITE.replace("\r\n", "\n");
        let r = parse(&lf).unwrap();
        let out = r.with_headers_added(&lines);
        assert!(!out.contains(&b'\r'));
        assert!(out.ends_with(b"X-Two: 2\n\nv=0\no=x\n"));
        assert_eq!(r.with_headers_added(&[]), lf.as_bytes());
    }

    #[test]
    fn without_header_removes_every_instance() {
        let msg = "INVITE sip:b@x SIP/2.0\r\nIdentity: a\r\nTo: <sip:b@x>\r\ny: b\r\n\r\nIdentity: body\r\n";
        let r = parse(msg).unwrap();
        let out = r.without_header("IDENTITY");
        assert_eq!(
            out,
            b"INVITE sip:b@x SIP/2.0\r\nTo: <sip:b@x>\r\n\r\nIdentity: body\r\n"
        );
        assert_eq!(r.without_header("absent"), msg.as_bytes());
    }

    #[test]
    fn pai_two_values() {
        let msg = "INVITE sip:b@x SIP/2.0\r\nP-Asserted-Identity: <tel:+12155550121>, \"Alice, A\" <sip:+12155550121@x.example;user=phone>\r\nP-Asserted-Identity: sip:c@y\r\n\r\n";
        let pai = parse(msg).unwrap().p_asserted_identities().unwrap();
        assert_eq!(pai.len(), 3);
        assert_eq!(pai[0].uri, "tel:+12155550121");
        assert_eq!(pai[1].display_name.as_deref(), Some("Alice, A"));
        assert_eq!(pai[1].uri, "sip:+12155550121@x.example;user=phone");
        assert_eq!(pai[2].uri, "sip:c@y");
        let bad = "INVITE sip:b@x SIP/2.0\r\nP-Asserted-Identity: <tel:+1>, <nope>\r\n\r\n";
        let err = parse(bad).unwrap().p_asserted_identities().unwrap_err();
        assert!(
            matches!(
                err,
                SipError::BadNameAddr {
                    header: "P-Asserted-Identity",
                    line: 2,
                    ..
                }
            ),
            "{err}"
        );
    }

    /// Deterministic xorshift PRNG so the mutation test needs no crate.
    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
    }

    fn exercise(bytes: &[u8], limits: &Limits) {
        if let Ok(r) = SipRequest::parse(bytes, limits) {
            let _ = (r.method(), r.request_uri(), r.body(), r.call_id());
            let _ = r.from();
            let _ = r.to();
            let _ = r.p_asserted_identities();
            let _ = r.date();
            for name in ["via", "contact", "identity", "x-custom", "f"] {
                let _ = r.header_values(name);
            }
            let _ = r.identity_headers();
            let added = r.with_headers_added(&["Identity: z;info=<https://x>".to_string()]);
            let _ = SipRequest::parse(&added, limits);
            let _ = r.without_header("via");
            for (_, v) in r.headers() {
                let _ = v.parse::<NameAddr>();
                let _ = split_list(v);
            }
        }
    }

    #[test]
    fn no_panic_on_prefixes_and_mutations() {
        let limits = Limits::default();
        let sample = format!(
            "{}P-Asserted-Identity: \"A, \\\"q\" <tel:+12155550121>, <sip:x@y;user=phone>\r\n folded\r\nIdentity: a.b.c;info=<https://x>;ppt=\"shaken\"\r\n",
            INVITE.replace("\r\n\r\n", "\r\n")
        );
        let bytes = sample.as_bytes();
        for end in 0..=bytes.len() {
            exercise(bytes.get(..end).unwrap(), &limits);
        }
        let interesting = b"\r\n\t \"<>,;:=\\\xff\x00\xc3y";
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        for _ in 0..3000 {
            let mut m = bytes.to_vec();
            for _ in 0..(1 + rng.next() % 4) {
                let pos = (rng.next() as usize) % m.len();
                let r = rng.next();
                let byte = if r & 1 == 0 {
                    interesting[(r as usize / 2) % interesting.len()]
                } else {
                    (r >> 8) as u8
                };
                match r % 3 {
                    0 => m[pos] = byte,
                    1 => m.insert(pos, byte),
                    _ => {
                        m.remove(pos);
                    }
                }
                if m.is_empty() {
                    m.push(b'I');
                }
            }
            exercise(&m, &limits);
        }
    }

    const DATA: &[(&str, &[u8])] = &[
        (
            "invite-tel.txt",
            include_bytes!("../../../../tests/data/sip/invite-tel.txt"),
        ),
        (
            "invite-sip-userphone.txt",
            include_bytes!("../../../../tests/data/sip/invite-sip-userphone.txt"),
        ),
        (
            "invite-compact.txt",
            include_bytes!("../../../../tests/data/sip/invite-compact.txt"),
        ),
        (
            "invite-folded.txt",
            include_bytes!("../../../../tests/data/sip/invite-folded.txt"),
        ),
        (
            "invite-pai-two.txt",
            include_bytes!("../../../../tests/data/sip/invite-pai-two.txt"),
        ),
        (
            "invite-no-date.txt",
            include_bytes!("../../../../tests/data/sip/invite-no-date.txt"),
        ),
        (
            "invite-lf.txt",
            include_bytes!("../../../../tests/data/sip/invite-lf.txt"),
        ),
    ];

    fn data(name: &str) -> SipRequest {
        let (_, bytes) = DATA.iter().find(|(n, _)| *n == name).unwrap();
        SipRequest::parse(bytes, &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    #[test]
    fn test_data_files() {
        for (name, bytes) in DATA {
            let r = data(name);
            assert_eq!(r.method(), "INVITE", "{name}");
            r.from().unwrap_or_else(|e| panic!("{name}: {e}"));
            r.to().unwrap_or_else(|e| panic!("{name}: {e}"));
            r.p_asserted_identities().unwrap();
            assert!(
                r.identity_headers().is_empty(),
                "{name}: templates are unsigned"
            );
            let cl: usize = r.header_values("content-length")[0].parse().unwrap();
            assert_eq!(cl, r.body().len(), "{name}: Content-Length");
            assert!(r.body().starts_with(b"v=0"), "{name}");
            assert_eq!(r.header_values("content-type"), vec!["application/sdp"]);
            let crlf = *name != "invite-lf.txt";
            assert_eq!(r.line_ending(), if crlf { "\r\n" } else { "\n" }, "{name}");
            assert_eq!(bytes.windows(2).any(|w| w == b"\r\n"), crlf, "{name}");
            let want_date = if *name == "invite-no-date.txt" {
                None
            } else {
                Some(1_471_375_418)
            };
            assert_eq!(r.date().unwrap(), want_date, "{name}");
            // Signing round trip: add, remove, same bytes.
            let added = r.with_headers_added(&["Identity: a.b.c;info=<https://x>".into()]);
            let again = SipRequest::parse(&added, &Limits::default()).unwrap();
            assert_eq!(again.body(), r.body(), "{name}");
            assert_eq!(again.identity_headers().len(), 1, "{name}");
            assert_eq!(again.without_header("y"), *bytes, "{name}");
        }

        let r = data("invite-tel.txt");
        assert_eq!(r.from().unwrap().uri, "tel:+12155550121");
        assert_eq!(r.to().unwrap().uri, "tel:+12125550143");

        let r = data("invite-sip-userphone.txt");
        assert_eq!(
            r.from().unwrap().uri,
            "sip:+1-215-555-0121@atlanta.example.com;user=phone"
        );
        assert_eq!(
            r.to().unwrap().uri,
            "sip:+1-212-555-0143@bigbox3.site3.example.net;user=phone"
        );
        assert_eq!(r.header_values("allow").len(), 6);

        let r = data("invite-compact.txt");
        assert_eq!(r.from().unwrap().uri, "tel:+12155550121");
        assert_eq!(r.to().unwrap().uri, "tel:+12125550143");
        assert_eq!(
            r.call_id(),
            Some("3848276298220188511@pc33.atlanta.example.com")
        );
        assert_eq!(r.header_values("supported"), vec!["timer", "100rel"]);

        let r = data("invite-folded.txt");
        let from = r.from().unwrap();
        assert_eq!(from.display_name.as_deref(), Some("Alice"));
        assert_eq!(from.uri, "sip:+12155550121@atlanta.example.com;user=phone");
        assert_eq!(from.tag(), Some("1928301774"));

        let r = data("invite-pai-two.txt");
        let pai = r.p_asserted_identities().unwrap();
        assert_eq!(pai.len(), 2);
        assert_eq!(pai[0].uri, "tel:+12155550121");
        assert_eq!(
            pai[1].uri,
            "sip:+12155550121@atlanta.example.com;user=phone"
        );
        assert_eq!(r.from().unwrap().uri, "sip:anonymous@anonymous.invalid");

        let r = data("invite-lf.txt");
        let out = r.with_headers_added(&["Identity: a.b.c;info=<https://x>".into()]);
        assert!(!out.contains(&b'\r'));
    }
}
