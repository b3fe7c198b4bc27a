//! The `shaken serve --config FILE` TOML file: the same settings as the
//! flags, keys spelled as the long flag names (`trust-anchors`,
//! `max-concurrent`...). Unknown keys are an error, so a typo never silently
//! turns a setting off. See `docs/serve.example.toml`.

use serde::Deserialize;
use std::path::PathBuf;

/// Why a configuration file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading the configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for these settings.
    #[error("configuration file {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What and where (line, column, key).
        source: Box<toml::de::Error>,
    },
}

/// Settings read from the TOML file. Every key is optional; flags given on
/// the command line override the file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
#[non_exhaustive]
pub struct FileConfig {
    /// `listen = "0.0.0.0:8080"`.
    pub listen: Option<String>,
    /// Signing key (PEM); enables `/stir/v1/signing`.
    pub key: Option<PathBuf>,
    /// x5u URL put into signed PASSporTs.
    pub x5u: Option<String>,
    /// Fixed certificate chain used instead of fetching x5u.
    pub cert: Option<PathBuf>,
    /// Trusted roots: PEM files or directories.
    #[serde(default)]
    pub trust_anchors: Vec<PathBuf>,
    /// Freshness window, seconds (iat and the request `time`).
    pub max_age: Option<u32>,
    /// Replay detection (default true).
    pub replay: Option<bool>,
    /// Share replay detection with the other processes of this host through
    /// this directory (tmpfs).
    pub replay_dir: Option<PathBuf>,
    /// Most requests handled at once.
    pub max_concurrent: Option<usize>,
    /// Worker threads of the service (1 to 1024; read at start only).
    pub threads: Option<u16>,
    /// Per-request timeout, milliseconds.
    pub request_timeout_ms: Option<u64>,
    /// Time a client may take to send its headers, milliseconds.
    pub header_read_timeout_ms: Option<u64>,
    /// Largest request body, bytes.
    pub max_body: Option<usize>,
    /// `text` or `json`.
    pub log_format: Option<String>,
    /// `nanp` or `none`.
    pub tn_national: Option<String>,
    /// CRL files.
    #[serde(default)]
    pub crl: Vec<String>,
    /// Fetch the CRL distribution points of the certificates.
    pub fetch_crl: Option<bool>,
    /// Fetch the content Rich Call Data references to check its digests.
    pub fetch_rcd: Option<bool>,
    /// Most div PASSporTs accepted in one diverted call (default 5).
    pub max_div: Option<usize>,
    /// `hard` or `soft`.
    pub crl_policy: Option<String>,
    /// Allow http:// x5u URLs (labs).
    pub allow_http_x5u: Option<bool>,
    /// Allow private/loopback x5u hosts (labs).
    pub allow_private_x5u: Option<bool>,
    /// Allow x5u/CRL URLs on a non-standard port.
    pub allow_any_port_x5u: Option<bool>,
    /// Extra TLS roots for certificate servers.
    #[serde(default)]
    pub tls_ca: Vec<PathBuf>,
    /// On-disk certificate cache.
    pub cache_dir: Option<PathBuf>,
    /// x5u connect timeout, milliseconds.
    pub connect_timeout_ms: Option<u64>,
    /// x5u total fetch timeout, milliseconds.
    pub fetch_timeout_ms: Option<u64>,
    /// Most x5u/CRL/Rich Call Data fetches in flight at once (default 64;
    /// at least 1).
    pub max_fetches: Option<usize>,
    /// API key file (`Authorization: Bearer KEY` on signing and verification).
    pub api_keys: Option<PathBuf>,
    /// `/metrics` needs an API key too.
    pub metrics_auth: Option<bool>,
    /// Serve the page for people on `/` (`ui = true`).
    pub ui: Option<bool>,
    /// HTTPS certificate chain (PEM).
    pub tls_cert: Option<PathBuf>,
    /// HTTPS private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// Mutual TLS: the CA client certificates must chain to.
    pub client_ca: Option<PathBuf>,
    /// Networks allowed to connect (CIDR).
    #[serde(default)]
    pub allow_from: Vec<String>,
    /// Sign on a non-loopback address without client authentication.
    pub allow_unauthenticated_signing: Option<bool>,
    /// Reload every this many seconds (as on SIGHUP).
    pub reload_interval: Option<u64>,
    /// Fetch, verify and install the STI-PA trust list from this URL.
    pub trust_list_url: Option<String>,
    /// The pinned STI-PA roots for the trust list.
    #[serde(default)]
    pub stipa_root: Vec<PathBuf>,
    /// Seconds between trust-list refreshes.
    pub trust_list_interval: Option<u64>,
    /// Redis URL shared by a fleet of verifiers (`redis://`, `rediss://`).
    pub redis: Option<String>,
    /// File holding the Redis password.
    pub redis_password_file: Option<PathBuf>,
    /// Prefix of every Redis key.
    pub redis_prefix: Option<String>,
    /// Bound on every Redis call, milliseconds.
    pub redis_timeout_ms: Option<u64>,
    /// `open` or `closed`.
    pub redis_failure: Option<String>,
}

impl FileConfig {
    /// Parse TOML text (`path` only names the file in errors).
    pub fn from_toml(text: &str, path: &std::path::Path) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(e),
        })
    }

    /// Read and parse a file.
    pub fn load(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text, path)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use std::path::Path;

    #[test]
    fn example_file_parses() {
        let text = include_str!("../../../../docs/serve.example.toml");
        let c = FileConfig::from_toml(text, Path::new("serve.example.toml")).unwrap();
        assert_eq!(c.listen.as_deref(), Some("0.0.0.0:8080"));
        assert_eq!(c.max_concurrent, Some(1024));
        assert!(!c.trust_anchors.is_empty());
        assert!(c.api_keys.is_some() && c.tls_cert.is_some() && c.tls_key.is_some());
        assert_eq!(c.allow_from.len(), 2);
        assert_eq!(c.reload_interval, Some(300));
        assert_eq!(c.ui, Some(false));
        // The commented-out keys are real keys too.
        let uncommented = text
            .replace("# replay-dir", "replay-dir")
            .replace("# client-ca", "client-ca")
            .replace("# threads", "threads");
        assert!(FileConfig::from_toml(&uncommented, Path::new("x"))
            .unwrap()
            .client_ca
            .is_some());
        let c = FileConfig::from_toml(&uncommented, Path::new("serve.example.toml")).unwrap();
        assert_eq!(
            c.replay_dir.as_deref(),
            Some(Path::new("/dev/shm/shaken-replay"))
        );
        assert_eq!(c.threads, Some(4));
    }

    #[test]
    fn redis_keys_are_the_flag_names() {
        let text = include_str!("../../../../docs/serve.example.toml");
        let c =
            FileConfig::from_toml(&text.replace("# redis", "redis"), Path::new("x.toml")).unwrap();
        assert_eq!(c.redis.as_deref(), Some("redis://redis.internal:6379/0"));
        assert_eq!(
            c.redis_password_file.as_deref(),
            Some(Path::new("/etc/shaken/redis.pw"))
        );
        assert_eq!(c.redis_prefix.as_deref(), Some("shaken:"));
        assert_eq!(c.redis_timeout_ms, Some(50));
        assert_eq!(c.redis_failure.as_deref(), Some("open"));
    }

    #[test]
    fn max_fetches_key() {
        let text = include_str!("../../../../docs/serve.example.toml");
        let c = FileConfig::from_toml(text, Path::new("x.toml")).unwrap();
        assert_eq!(c.max_fetches, Some(64));
        let c = FileConfig::from_toml("max-fetches = 8\n", Path::new("x.toml")).unwrap();
        assert_eq!(c.max_fetches, Some(8));
        let e = FileConfig::from_toml("max-fetches = -1\n", Path::new("x.toml")).unwrap_err();
        assert!(e.to_string().contains("max-fetches"), "{e}");
        let e = FileConfig::from_toml("max-fetches = \"8\"\n", Path::new("x.toml")).unwrap_err();
        assert!(e.to_string().contains("max-fetches"), "{e}");
    }

    #[test]
    fn empty_file_is_all_defaults() {
        let c = FileConfig::from_toml("", Path::new("x.toml")).unwrap();
        assert_eq!(c, FileConfig::default());
    }

    #[test]
    fn unknown_key_is_refused_with_its_name() {
        let e = FileConfig::from_toml("max-concurent = 3\n", Path::new("x.toml")).unwrap_err();
        let s = e.to_string();
        assert!(s.contains("x.toml") && s.contains("max-concurent"), "{s}");
    }

    #[test]
    fn wrong_type_is_refused() {
        let e = FileConfig::from_toml("max-age = \"sixty\"\n", Path::new("x.toml")).unwrap_err();
        assert!(e.to_string().contains("max-age"), "{e}");
    }

    #[test]
    fn missing_file_names_it() {
        let e = FileConfig::load(Path::new("/nonexistent/shaken.toml")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/shaken.toml"));
    }
}
