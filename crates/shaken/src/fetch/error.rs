//! The one error type of the fetch layer.

use std::net::IpAddr;

/// Why fetching an x5u certificate chain or a CRL failed.
///
/// Every variant maps to SIP 436 Bad Identity Info when the URL is an `x5u`
/// (ATIS-1000074 E8). `Display` names the URL (or host) and the cause; [`code`]
/// gives a stable kebab-case identifier for reports and JSON output.
///
/// The type is `Clone` so failures can be kept in the negative cache.
///
/// [`code`]: FetchError::code
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The URL does not parse, has no host, or carries credentials.
    #[error("{url}: invalid URL: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The scheme is not `https` (or `http` when plain HTTP is allowed).
    #[error("{url}: scheme {scheme:?} is not allowed (https only; a lab may allow plain http explicitly)")]
    SchemeNotAllowed {
        /// The URL as given.
        url: String,
        /// The scheme found.
        scheme: String,
    },
    /// The URL names a port other than the scheme's standard port.
    #[error("{url}: port {port} is not allowed (only the standard port of the scheme, unless other ports are allowed explicitly)")]
    PortNotAllowed {
        /// The URL as given.
        url: String,
        /// The port found.
        port: u16,
    },
    /// The host name did not resolve.
    #[error("{host}: DNS resolution failed: {reason}")]
    Dns {
        /// The host name looked up.
        host: String,
        /// The resolver's message.
        reason: String,
    },
    /// The host is, or resolves only to, a non-public address (SSRF guard).
    #[error(
        "{host} resolves to {addr}, a {range} address; refused by the SSRF guard (a lab may allow private addresses explicitly)"
    )]
    PrivateAddress {
        /// The host from the URL (a name or an IP literal).
        host: String,
        /// The refused address.
        addr: IpAddr,
        /// Which kind of range it is in, e.g. "loopback" (see [`crate::fetch::blocked_range`]).
        range: &'static str,
    },
    /// The TCP or TLS connection failed.
    #[error("{url}: connection failed: {reason}")]
    Connect {
        /// The URL fetched.
        url: String,
        /// The cause chain, rendered.
        reason: String,
    },
    /// The connection or the whole fetch took too long.
    #[error("{url}: timed out after {after_ms} ms")]
    Timeout {
        /// The URL fetched.
        url: String,
        /// The limit that was exceeded, in milliseconds.
        after_ms: u64,
    },
    /// The server answered with a status other than 2xx or 3xx.
    #[error("{url}: HTTP status {status}")]
    HttpStatus {
        /// The URL fetched.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The body is larger than allowed (by `Content-Length` or as read).
    #[error("{url}: body larger than the limit of {limit} bytes")]
    TooLarge {
        /// The URL fetched.
        url: String,
        /// The limit, in bytes.
        limit: usize,
    },
    /// The server answered with a redirect; redirects are never followed.
    #[error("{url}: redirect to {location:?} refused (redirects are not followed)")]
    Redirect {
        /// The URL fetched.
        url: String,
        /// The `Location` header, or empty when absent.
        location: String,
    },
    /// Reading the body failed part-way.
    #[error("{url}: reading the body failed: {reason}")]
    Body {
        /// The URL fetched.
        url: String,
        /// The cause chain, rendered.
        reason: String,
    },
    /// The body was fetched but the caller's parser rejected it.
    #[error("{url}: the body does not parse: {reason}")]
    Parse {
        /// The URL fetched.
        url: String,
        /// The parser's message.
        reason: String,
    },
    /// A PEM file given as an extra TLS root does not hold a usable certificate.
    #[error("extra TLS root #{index}: {reason}")]
    TlsRoot {
        /// Position of the PEM file in `FetchOptions::extra_tls_roots_pem`.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {reason}")]
    Client {
        /// The cause chain, rendered.
        reason: String,
    },
    /// Every fetch permit of this verifier stayed taken for the whole fetch
    /// timeout ([`Limits::max_concurrent_fetches`](crate::Limits) fetches
    /// were in flight): nothing was sent to the URL. Says nothing about the
    /// URL, so it is never cached (see [`FetchError::is_transient_local`]).
    #[error("{url}: not fetched: {max} fetches were already in flight (the most allowed at once) for the whole fetch timeout; nothing was sent")]
    Busy {
        /// The URL that was to be fetched.
        url: String,
        /// The cap on fetches in flight.
        max: usize,
    },
    /// A failure another verifier of the fleet met fetching this URL, read
    /// from the shared negative cache (feature `redis`): its code is the
    /// original failure's.
    #[error("{detail} (met by another verifier of the fleet, shared negative cache)")]
    Remembered {
        /// The URL fetched.
        url: String,
        /// The original failure's code (`fetch-timeout`...), or
        /// `fetch-remembered` when it is not one of ours.
        code: &'static str,
        /// The original failure's message.
        detail: String,
    },
}

/// Every code of [`FetchError`] but `fetch-remembered`.
const CODES: [&str; 15] = [
    "fetch-invalid-url",
    "fetch-scheme-not-allowed",
    "fetch-port-not-allowed",
    "fetch-dns",
    "fetch-private-address",
    "fetch-connect",
    "fetch-timeout",
    "fetch-http-status",
    "fetch-too-large",
    "fetch-redirect",
    "fetch-body",
    "fetch-parse",
    "fetch-tls-root",
    "fetch-client",
    "fetch-busy",
];

impl FetchError {
    /// Stable kebab-case code, unique per variant.
    pub fn code(&self) -> &'static str {
        match self {
            FetchError::InvalidUrl { .. } => "fetch-invalid-url",
            FetchError::SchemeNotAllowed { .. } => "fetch-scheme-not-allowed",
            FetchError::PortNotAllowed { .. } => "fetch-port-not-allowed",
            FetchError::Dns { .. } => "fetch-dns",
            FetchError::PrivateAddress { .. } => "fetch-private-address",
            FetchError::Connect { .. } => "fetch-connect",
            FetchError::Timeout { .. } => "fetch-timeout",
            FetchError::HttpStatus { .. } => "fetch-http-status",
            FetchError::TooLarge { .. } => "fetch-too-large",
            FetchError::Redirect { .. } => "fetch-redirect",
            FetchError::Body { .. } => "fetch-body",
            FetchError::Parse { .. } => "fetch-parse",
            FetchError::TlsRoot { .. } => "fetch-tls-root",
            FetchError::Client { .. } => "fetch-client",
            FetchError::Busy { .. } => "fetch-busy",
            FetchError::Remembered { code, .. } => code,
        }
    }

    /// Whether the failure is this verifier's own state at the moment (its
    /// fetches were all in flight: [`FetchError::Busy`]) and says nothing
    /// about the URL: such a failure is never kept in a negative cache nor
    /// shared with a fleet, so the next call fetches the URL.
    pub fn is_transient_local(&self) -> bool {
        matches!(self, FetchError::Busy { .. })
    }

    /// Whether the failure is this verifier's own guard refusing the URL
    /// (a private address, a scheme or a port its [`FetchOptions`](super::FetchOptions)
    /// do not allow): true of this node, not of the URL. It is kept in this
    /// node's negative cache but never shared with a fleet, whose other
    /// nodes may be configured otherwise (a lab node allows private
    /// addresses), and a shared failure of this kind is not taken.
    pub fn is_local_policy(&self) -> bool {
        match self {
            FetchError::PrivateAddress { .. }
            | FetchError::SchemeNotAllowed { .. }
            | FetchError::PortNotAllowed { .. } => true,
            FetchError::Remembered { code, .. } => is_local_policy_code(code),
            _ => false,
        }
    }

    /// A failure another node of the fleet stored for `url` (its code kept
    /// when it is one of ours, its detail bounded to 1,000 characters).
    pub(crate) fn remembered(url: &str, code: &str, detail: &str) -> FetchError {
        FetchError::Remembered {
            url: url.to_owned(),
            code: FetchError::known_code(code),
            detail: detail.chars().take(1000).collect(),
        }
    }

    /// The code a remembered failure keeps: one of ours, else
    /// `fetch-remembered` (the text came from a shared store).
    pub(crate) fn known_code(code: &str) -> &'static str {
        CODES
            .iter()
            .find(|c| **c == code)
            .copied()
            .unwrap_or("fetch-remembered")
    }

    /// The SIP response code this failure maps to when fetching an `x5u`:
    /// always 436 Bad Identity Info (ATIS-1000074 E8).
    pub fn sip_status(&self) -> u16 {
        436
    }
}

/// Renders an error and its `source()` chain as "a: b: c".
pub(crate) fn chain_to_string(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut src = err.source();
    while let Some(e) = src {
        let s = e.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        src = e.source();
    }
    out
}

/// [`FetchError::is_local_policy`] of a failure known by its code only (an
/// entry of the fleet's cache).
pub(crate) fn is_local_policy_code(code: &str) -> bool {
    matches!(
        code,
        "fetch-private-address" | "fetch-scheme-not-allowed" | "fetch-port-not-allowed"
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use std::collections::HashSet;

    fn all() -> Vec<FetchError> {
        let url = "https://cr.example/c.pem".to_string();
        vec![
            FetchError::InvalidUrl {
                url: url.clone(),
                reason: "r".into(),
            },
            FetchError::SchemeNotAllowed {
                url: url.clone(),
                scheme: "ftp".into(),
            },
            FetchError::PortNotAllowed {
                url: url.clone(),
                port: 8443,
            },
            FetchError::Dns {
                host: "cr.example".into(),
                reason: "r".into(),
            },
            FetchError::PrivateAddress {
                host: "cr.example".into(),
                addr: "10.0.0.5".parse().unwrap(),
                range: "private (RFC 1918)",
            },
            FetchError::Connect {
                url: url.clone(),
                reason: "r".into(),
            },
            FetchError::Timeout {
                url: url.clone(),
                after_ms: 2000,
            },
            FetchError::HttpStatus {
                url: url.clone(),
                status: 404,
            },
            FetchError::TooLarge {
                url: url.clone(),
                limit: 65536,
            },
            FetchError::Redirect {
                url: url.clone(),
                location: "https://x/".into(),
            },
            FetchError::Body {
                url: url.clone(),
                reason: "r".into(),
            },
            FetchError::Parse {
                url: url.clone(),
                reason: "r".into(),
            },
            FetchError::TlsRoot {
                index: 0,
                reason: "r".into(),
            },
            FetchError::Client { reason: "r".into() },
            FetchError::Busy {
                url: url.clone(),
                max: 64,
            },
            FetchError::Remembered {
                url: url.clone(),
                code: FetchError::known_code("not-ours"),
                detail: "https://cr.example/c.pem: HTTP status 404".into(),
            },
        ]
    }

    #[test]
    fn only_busy_is_transient_and_every_code_is_known() {
        for e in all() {
            assert_eq!(
                e.is_transient_local(),
                matches!(e, FetchError::Busy { .. }),
                "{e}"
            );
            if !matches!(e, FetchError::Remembered { .. }) {
                assert_eq!(FetchError::known_code(e.code()), e.code());
            }
        }
    }

    #[test]
    fn codes_are_unique_and_kebab_case() {
        let errs = all();
        let codes: HashSet<_> = errs.iter().map(|e| e.code()).collect();
        assert_eq!(codes.len(), errs.len());
        for c in codes {
            assert!(
                c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '-'),
                "{c}"
            );
        }
    }

    #[test]
    fn messages_name_the_url_and_cause() {
        for e in all() {
            assert_eq!(e.sip_status(), 436);
            let s = e.to_string();
            assert!(
                s.contains("cr.example")
                    || matches!(e, FetchError::TlsRoot { .. } | FetchError::Client { .. }),
                "{s}"
            );
        }
        let t = FetchError::Timeout {
            url: "https://cr.example/c.pem".into(),
            after_ms: 2000,
        };
        assert_eq!(
            t.to_string(),
            "https://cr.example/c.pem: timed out after 2000 ms"
        );
        let b = FetchError::Busy {
            url: "https://cr.example/c.pem".into(),
            max: 64,
        };
        assert_eq!(b.code(), "fetch-busy");
        assert_eq!(
            b.to_string(),
            "https://cr.example/c.pem: not fetched: 64 fetches were already in flight \
             (the most allowed at once) for the whole fetch timeout; nothing was sent"
        );
        let p = FetchError::PrivateAddress {
            host: "cr.example".into(),
            addr: "10.0.0.5".parse().unwrap(),
            range: "private (RFC 1918)",
        };
        assert!(p.to_string().contains("resolves to 10.0.0.5"));
        assert!(
            p.to_string().contains("refused by the SSRF guard") && !p.to_string().contains("--")
        );
        // The guard's refusal is this node's, by variant or by shared code;
        // a failure of the URL is not.
        assert!(p.is_local_policy() && is_local_policy_code(p.code()));
        assert!(FetchError::remembered("u", p.code(), "x").is_local_policy());
        assert!(!t.is_local_policy() && !is_local_policy_code(t.code()));
        assert!(!b.is_local_policy());
        assert!(!FetchError::remembered("u", "fetch-timeout", "x").is_local_policy());
        for code in ["fetch-scheme-not-allowed", "fetch-port-not-allowed"] {
            assert!(CODES.contains(&code) && is_local_policy_code(code));
        }
    }
}
