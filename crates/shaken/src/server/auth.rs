//! Client authentication and admission: API keys (`Authorization: Bearer`),
//! the `--allow-from` networks, and the TLS server configuration (HTTPS and
//! mutual TLS) built from PEM files.
//!
//! Nothing here is hand-rolled: keys are compared as SHA-256 digests with
//! `subtle`'s constant-time equality, networks are parsed by `ipnet`, TLS is
//! rustls (ring provider) with webpki's client-certificate verifier.

use ipnet::IpNet;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Largest API key file read, bytes (a few thousand keys).
pub const MAX_KEY_FILE: u64 = 1024 * 1024;
/// Most keys in one file.
pub const MAX_KEYS: usize = 10_000;
/// Shortest plain key accepted: 16 characters (a guessable key is no key).
pub const MIN_KEY_LEN: usize = 16;
/// Longest `Authorization` value looked at, bytes.
pub const MAX_AUTHORIZATION: usize = 1024;
/// Largest PEM file read for TLS (certificate chain, key, client CA).
pub const MAX_PEM_FILE: u64 = 1024 * 1024;

/// Why an API key file or a TLS file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// A file could not be read.
    #[error("reading {what} {path}: {source}")]
    Read {
        /// Which setting (`--api-keys`, `--tls-cert`...).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is larger than its cap.
    #[error("{what} {path} is larger than {limit} bytes")]
    TooLarge {
        /// Which setting.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The cap.
        limit: u64,
    },
    /// A line of the API key file is not a key.
    #[error("--api-keys {path} line {line}: {reason}")]
    KeyLine {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong (the key itself is never repeated).
        reason: &'static str,
    },
    /// The API key file holds no key (a truncated write would otherwise lock
    /// every client out, or look like authentication while being none).
    #[error("--api-keys {path} holds no key")]
    NoKeys {
        /// The file.
        path: PathBuf,
    },
    /// A TLS file is unusable.
    #[error("{what} {path}: {reason}")]
    Tls {
        /// Which setting.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// The API keys clients may present, kept as SHA-256 digests only.
pub struct ApiKeys {
    digests: Vec<[u8; 32]>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeys")
            .field("keys", &self.digests.len())
            .finish()
    }
}

fn read_capped(path: &Path, what: &'static str, limit: u64) -> Result<Vec<u8>, AuthError> {
    use std::io::Read;
    let read = |source| AuthError::Read {
        what,
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read)?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).map_err(read)?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limit {
        return Err(AuthError::TooLarge {
            what,
            path: path.to_owned(),
            limit,
        });
    }
    Ok(bytes)
}

impl ApiKeys {
    /// Read an API key file: one key per line; `#` starts a comment (so a
    /// key cannot contain `#`); blank lines are skipped; `sha256:HEX` (64 hex
    /// digits) holds the SHA-256 of a key instead of the key. Plain keys are
    /// printable ASCII without spaces, at least [`MIN_KEY_LEN`] long.
    pub fn load(path: &Path) -> Result<Self, AuthError> {
        let bytes = read_capped(path, "--api-keys", MAX_KEY_FILE)?;
        let text = String::from_utf8(bytes).map_err(|_| AuthError::KeyLine {
            path: path.to_owned(),
            line: 0,
            reason: "the file is not UTF-8",
        })?;
        Self::parse(&text, path)
    }

    /// Parse the text of a key file (`path` names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Self, AuthError> {
        let mut digests = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let bad = |reason| AuthError::KeyLine {
                path: path.to_owned(),
                line: i + 1,
                reason,
            };
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            if digests.len() >= MAX_KEYS {
                return Err(bad("more keys than the 10000 allowed"));
            }
            let digest = match line.strip_prefix("sha256:") {
                Some(hex) => parse_hex32(hex.trim())
                    .ok_or_else(|| bad("sha256: must be followed by 64 hex digits"))?,
                None => {
                    if line.len() < MIN_KEY_LEN {
                        return Err(bad("a key must be at least 16 characters long"));
                    }
                    if !line.bytes().all(|b| b.is_ascii_graphic()) {
                        return Err(bad("a key is printable ASCII without spaces"));
                    }
                    sha256(line.as_bytes())
                }
            };
            digests.push(digest);
        }
        if digests.is_empty() {
            return Err(AuthError::NoKeys {
                path: path.to_owned(),
            });
        }
        Ok(ApiKeys { digests })
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.digests.len()
    }

    /// Never true for a loaded file (an empty one is refused).
    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// Whether `presented` is one of the keys. The key is hashed and the
    /// digest compared with every stored digest in constant time (no early
    /// exit), so the answer time says nothing about how close a guess was.
    pub fn check(&self, presented: &[u8]) -> bool {
        let d = sha256(presented);
        let mut found = subtle::Choice::from(0u8);
        for k in &self.digests {
            found |= k.ct_eq(&d);
        }
        bool::from(found)
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn parse_hex32(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        let pair = hex.get(2 * i..2 * i + 2)?;
        *o = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

/// What a request's `Authorization` header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented<'a> {
    /// No `Authorization` header.
    Missing,
    /// Not `Bearer TOKEN` (another scheme, not text, too long, several).
    Malformed,
    /// `Bearer TOKEN`.
    Bearer(&'a [u8]),
}

/// Read `Authorization: Bearer TOKEN` (RFC 6750 §2.1; the scheme is
/// case-insensitive).
pub fn bearer(headers: &http::HeaderMap) -> Presented<'_> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let Some(v) = values.next() else {
        return Presented::Missing;
    };
    if values.next().is_some() || v.len() > MAX_AUTHORIZATION {
        return Presented::Malformed;
    }
    let bytes = v.as_bytes();
    let Some(space) = bytes.iter().position(|&b| b == b' ') else {
        return Presented::Malformed;
    };
    let (scheme, rest) = bytes.split_at(space);
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return Presented::Malformed;
    }
    let token = rest.trim_ascii();
    if token.is_empty() {
        return Presented::Malformed;
    }
    Presented::Bearer(token)
}

/// The peers allowed to connect (`--allow-from`, repeatable). Empty: any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowFrom {
    nets: Vec<IpNet>,
}

/// A `--allow-from` value that is not a network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--allow-from {value:?}: expected a network such as 10.0.0.0/8, 192.0.2.7/32, 2001:db8::/32 or a single address")]
pub struct AllowFromError {
    /// The value.
    pub value: String,
}

impl AllowFrom {
    /// Parse CIDR networks; a bare address means just that host.
    pub fn parse<S: AsRef<str>>(values: &[S]) -> Result<Self, AllowFromError> {
        let mut nets = Vec::new();
        for v in values {
            let v = v.as_ref().trim();
            let net = match v.parse::<IpNet>() {
                Ok(n) => n.trunc(),
                Err(_) => match v.parse::<IpAddr>() {
                    Ok(ip) => IpNet::from(ip),
                    Err(_) => {
                        return Err(AllowFromError {
                            value: v.chars().take(64).collect(),
                        })
                    }
                },
            };
            nets.push(net);
        }
        Ok(AllowFrom { nets })
    }

    /// Whether a list was given.
    pub fn is_restricted(&self) -> bool {
        !self.nets.is_empty()
    }

    /// The networks.
    pub fn networks(&self) -> &[IpNet] {
        &self.nets
    }

    /// Whether `peer` may connect (an IPv4-mapped IPv6 peer is matched as
    /// its IPv4 address).
    pub fn allows(&self, peer: IpAddr) -> bool {
        if self.nets.is_empty() {
            return true;
        }
        let peer = match peer {
            IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map(IpAddr::V4)
                .unwrap_or(IpAddr::V6(v6)),
            v4 => v4,
        };
        self.nets.iter().any(|n| n.contains(&peer))
    }
}

/// The TLS settings of the service: certificate chain and key (PEM), and
/// for mutual TLS the CA whose certificates clients must present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// `--tls-cert`: the server's chain, end entity first.
    pub cert: PathBuf,
    /// `--tls-key`: its private key (PKCS#8, SEC1 or PKCS#1 PEM).
    pub key: PathBuf,
    /// `--client-ca`: clients must present a certificate chained to one of
    /// these roots (mutual TLS); `None`: no client certificate is asked for.
    pub client_ca: Option<PathBuf>,
}

impl TlsFiles {
    /// Read the files and build the rustls configuration (ring provider,
    /// TLS 1.2 and 1.3, HTTP/1.1 over ALPN). With a client CA, a client
    /// without a certificate chained to it fails the handshake.
    pub fn load(&self) -> Result<Arc<rustls::ServerConfig>, AuthError> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let tls = |what, path: &Path, reason: String| AuthError::Tls {
            what,
            path: path.to_owned(),
            reason,
        };
        let cert_pem = read_capped(&self.cert, "--tls-cert", MAX_PEM_FILE)?;
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<_, _>>()
            .map_err(|e| {
                tls(
                    "--tls-cert",
                    &self.cert,
                    format!("not PEM certificates: {e}"),
                )
            })?;
        if chain.is_empty() {
            return Err(tls(
                "--tls-cert",
                &self.cert,
                "no CERTIFICATE in the file".into(),
            ));
        }
        let key_pem = read_capped(&self.key, "--tls-key", MAX_PEM_FILE)?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
            tls(
                "--tls-key",
                &self.key,
                format!("no usable private key: {e}"),
            )
        })?;
        let provider = crate::crypto::tls_provider();
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| tls("--tls-cert", &self.cert, e.to_string()))?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let ca_pem = read_capped(ca, "--client-ca", MAX_PEM_FILE)?;
                let mut roots = rustls::RootCertStore::empty();
                for c in CertificateDer::pem_slice_iter(&ca_pem) {
                    let c = c.map_err(|e| {
                        tls("--client-ca", ca, format!("not PEM certificates: {e}"))
                    })?;
                    roots
                        .add(c)
                        .map_err(|e| tls("--client-ca", ca, format!("unusable CA: {e}")))?;
                }
                if roots.is_empty() {
                    return Err(tls("--client-ca", ca, "no CERTIFICATE in the file".into()));
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .map_err(|e| tls("--client-ca", ca, e.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder.with_single_cert(chain, key).map_err(|e| {
            tls(
                "--tls-key",
                &self.key,
                format!("does not go with --tls-cert: {e}"),
            )
        })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use http::HeaderValue;

    const K1: &str = "k1-0123456789abcdef";
    const K2: &str = "k2-fedcba9876543210";

    fn keys(text: &str) -> Result<ApiKeys, AuthError> {
        ApiKeys::parse(text, Path::new("keys.txt"))
    }

    #[test]
    fn plain_and_hashed_keys_with_comments() {
        let hex: String = sha256(K2.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let k = keys(&format!(
            "# SBC pool east\n{K1}   # east-1\n\n  sha256:{}\n",
            hex.to_uppercase()
        ))
        .unwrap();
        assert_eq!(k.len(), 2);
        assert!(k.check(K1.as_bytes()));
        assert!(k.check(K2.as_bytes()));
        assert!(!k.check(b"k1-0123456789abcdeX"));
        assert!(!k.check(hex.as_bytes()), "the digest is not the key");
        assert!(!k.check(b""));
    }

    #[test]
    fn bad_files_name_the_line_never_the_key() {
        for (text, line, want) in [
            ("short\n", 1, "at least 16"),
            ("# c\nsha256:abcd\n", 2, "64 hex"),
            (&format!("sha256:{}\n", "g".repeat(64)), 1, "64 hex"),
            ("abcdefgh ijklmnopqr\n", 1, "without spaces"),
        ] {
            let e = keys(text).unwrap_err();
            let s = e.to_string();
            assert!(
                s.contains(&format!("line {line}")) && s.contains(want),
                "{s}"
            );
            assert!(!s.contains("short") && !s.contains("ijklm"), "{s}");
        }
        assert!(matches!(
            keys("# nothing\n\n"),
            Err(AuthError::NoKeys { .. })
        ));
    }

    #[test]
    fn bearer_header() {
        let h = |v: &str| {
            let mut m = http::HeaderMap::new();
            m.insert(
                http::header::AUTHORIZATION,
                HeaderValue::from_str(v).unwrap(),
            );
            m
        };
        assert_eq!(bearer(&http::HeaderMap::new()), Presented::Missing);
        assert_eq!(bearer(&h("Bearer abc")), Presented::Bearer(b"abc"));
        assert_eq!(bearer(&h("bearer  abc ")), Presented::Bearer(b"abc"));
        assert_eq!(bearer(&h("Basic YWJj")), Presented::Malformed);
        assert_eq!(bearer(&h("Bearer")), Presented::Malformed);
        assert_eq!(bearer(&h("Bearer ")), Presented::Malformed);
        let mut two = h("Bearer a");
        two.append(
            http::header::AUTHORIZATION,
            HeaderValue::from_static("Bearer b"),
        );
        assert_eq!(bearer(&two), Presented::Malformed);
    }

    #[test]
    fn allow_from_networks() {
        let a = AllowFrom::parse(&["10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "172.16.5.9/12"])
            .unwrap();
        assert!(a.allows("10.1.2.3".parse().unwrap()));
        assert!(a.allows("192.0.2.7".parse().unwrap()));
        assert!(!a.allows("192.0.2.8".parse().unwrap()));
        assert!(
            a.allows("172.20.0.1".parse().unwrap()),
            "host bits are dropped"
        );
        assert!(a.allows("::ffff:10.9.9.9".parse().unwrap()), "v4-mapped");
        assert!(a.allows("2001:db8::1".parse().unwrap()));
        assert!(!a.allows("127.0.0.1".parse().unwrap()));
        assert!(AllowFrom::default().allows("127.0.0.1".parse().unwrap()));
        for bad in ["10.0.0.0/33", "ten", "10.0.0.0/8/8", ""] {
            assert!(AllowFrom::parse(&[bad]).is_err(), "{bad}");
        }
    }
}
