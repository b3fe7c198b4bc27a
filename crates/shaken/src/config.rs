//! One configuration for every surface: what a verifier and a signer are
//! built from.
//!
//! [`VerifierConfig`] and [`SignerConfig`] are plain data (serde-loadable,
//! kebab-case keys as in `shaken serve --config`). The CLI flags, the TOML
//! file of `shaken serve`, the C ABI's option setters and the batch readers
//! all fill these same structs, and one `build` turns them into a verifier
//! (`StiVs`, feature `fetch`) or a signer ([`crate::StiAs`]), so
//! the same settings give the same answers on every surface.
//!
//! This module is pure: it reads no file. Sources that name a file are read
//! by the build (feature `fs`); sources given inline ([`Source::Inline`],
//! what the C ABI passes) need no file system at all.

use crate::atis::RequestPolicy;
use crate::cert::ChainPolicy;
use crate::limits::Limits;
use crate::passport::ClaimsPolicy;
use crate::tn::{NationalRule, TnPolicy};
use crate::verify::VerifyPolicy;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Where certificates, CRLs or a key come from: a file (or, for trust
/// anchors, a directory of `.pem`/`.crt`/`.cer` files), or bytes given in
/// place. In TOML a string is a path and `{ pem = "..." }` is inline.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// A file or directory.
    Path(PathBuf),
    /// PEM (or, for CRLs, DER) bytes.
    Inline(Vec<u8>),
}

impl Source {
    /// What to call the source in a message: its path, or `(inline)`.
    pub fn describe(&self) -> String {
        match self {
            Source::Path(p) => p.display().to_string(),
            Source::Inline(_) => "(inline)".into(),
        }
    }
}

impl From<PathBuf> for Source {
    fn from(p: PathBuf) -> Self {
        Source::Path(p)
    }
}

impl From<String> for Source {
    /// A path.
    fn from(p: String) -> Self {
        Source::Path(PathBuf::from(p))
    }
}

impl From<&str> for Source {
    /// A path.
    fn from(p: &str) -> Self {
        Source::Path(PathBuf::from(p))
    }
}

impl From<&std::path::Path> for Source {
    fn from(p: &std::path::Path) -> Self {
        Source::Path(p.to_owned())
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum SourceRepr {
    Path(PathBuf),
    Inline { pem: String },
}

impl Serialize for Source {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Source::Path(p) => SourceRepr::Path(p.clone()),
            Source::Inline(b) => SourceRepr::Inline {
                pem: String::from_utf8_lossy(b).into_owned(),
            },
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Source {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match SourceRepr::deserialize(d)? {
            SourceRepr::Path(p) => Source::Path(p),
            SourceRepr::Inline { pem } => Source::Inline(pem.into_bytes()),
        })
    }
}

/// One CRL setting: a URL fetched (and refetched before `nextUpdate`) while
/// verifying, or a file / bytes loaded once. A string is a URL when it
/// starts with `http://` or `https://`, else a file: this is decided here,
/// once, for every surface.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CrlSpec {
    /// Fetched with the x5u rules.
    Url(String),
    /// Loaded when the verifier is built.
    Load(Source),
}

impl CrlSpec {
    /// Classify a command-line or TOML value.
    pub fn parse(s: &str) -> CrlSpec {
        if s.starts_with("http://") || s.starts_with("https://") {
            CrlSpec::Url(s.to_owned())
        } else {
            CrlSpec::Load(Source::Path(PathBuf::from(s)))
        }
    }
}

impl Serialize for CrlSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            CrlSpec::Url(u) => s.serialize_str(u),
            CrlSpec::Load(src) => src.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for CrlSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match SourceRepr::deserialize(d)? {
            SourceRepr::Path(p) => CrlSpec::parse(&p.to_string_lossy()),
            SourceRepr::Inline { pem } => CrlSpec::Load(Source::Inline(pem.into_bytes())),
        })
    }
}

/// What happens when a configured CRL cannot be had (RFC 5280 leaves it to
/// local policy; ATIS-1000080 expects CRL checking).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum CrlPolicy {
    /// The call fails (437) when a CRL is configured but unavailable, or
    /// does not cover the certificate.
    Hard,
    /// Verification goes on without it, with a warning (the default of
    /// every surface).
    #[default]
    Soft,
}

impl std::str::FromStr for CrlPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "hard" => Ok(CrlPolicy::Hard),
            "soft" => Ok(CrlPolicy::Soft),
            _ => Err(format!("{s:?}: expected hard or soft")),
        }
    }
}

/// Replay detection (RFC 8224 §6.2: a verified PASSporT seen again for
/// another call within the freshness window is refused, 438 `replay`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ReplayMode {
    /// No replay detection.
    Off,
    /// In this process's memory.
    #[default]
    Memory,
    /// Shared by the processes of one host through this directory (tmpfs);
    /// needs the feature `replay-dir`.
    Dir(PathBuf),
}

/// What a verifier does when Redis (`redis`) cannot answer within its
/// timeout: the replay status of the call is then unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RedisFailure {
    /// Verify without cross-node replay detection: the call passes (if it
    /// otherwise verifies) with a warning, and the event is counted.
    #[default]
    Open,
    /// A call whose replay status cannot be checked does not pass
    /// (`replay-unavailable`, SIP 500; REST 500 POL5000).
    Closed,
}

impl std::str::FromStr for RedisFailure {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "open" => Ok(RedisFailure::Open),
            "closed" => Ok(RedisFailure::Closed),
            _ => Err(format!("{s:?}: expected open or closed")),
        }
    }
}

impl RedisFailure {
    /// `open` or `closed`.
    pub fn as_str(self) -> &'static str {
        match self {
            RedisFailure::Open => "open",
            RedisFailure::Closed => "closed",
        }
    }
}

impl ReplayMode {
    /// The mode the surfaces' settings stand for: off unless `on`, shared
    /// through `dir` when one is given, else in memory. The one place the
    /// CLI, the service and the C ABI turn their two settings into a mode.
    pub fn from_settings(on: bool, dir: Option<&std::path::Path>) -> Self {
        match (dir, on) {
            (_, false) => ReplayMode::Off,
            (Some(d), true) => ReplayMode::Dir(d.to_owned()),
            (None, true) => ReplayMode::Memory,
        }
    }
}

/// A verifier's settings. `Default` is what `shaken verify` and `shaken
/// serve` use when nothing is said, except for the trust anchors: none (so
/// nothing is trusted until some are given).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
#[non_exhaustive]
pub struct VerifierConfig {
    /// The STI-PA's trusted roots: PEM files, directories of them, or inline.
    pub trust_anchors: Vec<Source>,
    /// A pinned signer chain (PEM, end-entity first) used instead of
    /// fetching `x5u` (labs, tests, a SIP stack that brings its own).
    pub cert: Option<Source>,
    /// CRLs: URLs (fetched while verifying) and files (loaded once).
    pub crl: Vec<CrlSpec>,
    /// Fetch the CRL distribution points named in each chain.
    pub fetch_crl: bool,
    /// Hard or soft CRL failures.
    pub crl_policy: CrlPolicy,
    /// Freshness window, seconds: `iat` at most this old or this far ahead.
    pub max_age: u32,
    /// Accept an `iat` sent as a JSON string (some signers do), with a warning.
    pub lenient_iat: bool,
    /// How 10-digit national numbers are read (`nanp` or `none`).
    #[serde(with = "national_rule")]
    pub tn_national: NationalRule,
    /// Replay detection.
    pub replay: ReplayMode,
    /// Allow `http://` x5u and CRL URLs (labs only).
    pub allow_http_x5u: bool,
    /// Allow x5u and CRL hosts on private, loopback or link-local addresses
    /// (labs only: this turns the SSRF guard off).
    pub allow_private_x5u: bool,
    /// Allow x5u and CRL URLs on a non-standard port.
    pub allow_any_port_x5u: bool,
    /// Extra TLS roots for the certificate servers (PEM).
    pub tls_ca: Vec<Source>,
    /// On-disk certificate cache shared by the processes of a host.
    pub cache_dir: Option<PathBuf>,
    /// x5u / CRL connect timeout, milliseconds.
    pub connect_timeout_ms: u64,
    /// x5u / CRL total fetch timeout, milliseconds.
    pub fetch_timeout_ms: u64,
    /// Most outbound fetches (x5u, CRL, Rich Call Data content) in flight at
    /// once; replaces [`Limits::max_concurrent_fetches`] (its documentation
    /// gives the reasons for the default, 64), as `fetch_timeout_ms` replaces
    /// `Limits::fetch_timeout`. At least 1. TOML `max-fetches`.
    pub max_fetches: usize,
    /// A fleet of verifiers sharing replay detection, fetched chains, the
    /// negative cache and CRLs through Redis (or Valkey): `redis://` or
    /// `rediss://` (TLS) URL, with an optional `user:password@`. Replaces the
    /// in-memory replay store (not `off`; a replay directory and Redis
    /// exclude each other). Needs the feature `redis`.
    pub redis: Option<String>,
    /// A file holding the Redis password (one line), instead of the URL's.
    pub redis_password_file: Option<PathBuf>,
    /// The prefix of every Redis key (several deployments on one Redis).
    pub redis_prefix: String,
    /// The bound on every Redis call, milliseconds (default 50).
    pub redis_timeout_ms: u64,
    /// What happens to a call when Redis cannot answer in time.
    pub redis_failure: RedisFailure,
    /// Fetch the content Rich Call Data references (`icn`, `jcl`, URIs in a
    /// jCard) to check its `rcdi` digests (RFC 9795 §8.2), through the same
    /// guarded fetcher as `x5u`, never recursively. Off: such digests are
    /// `unverified`. TOML `fetch-rcd`.
    pub fetch_rcd: bool,
    /// Every bound on untrusted input (not in TOML: the defaults are the
    /// documented ones; Rust callers may tighten them).
    #[serde(skip)]
    pub limits: Limits,
}

/// Default freshness window, seconds (RFC 8224 §6.2 step 4: "60 seconds").
pub const DEFAULT_MAX_AGE: u32 = 60;
/// Default x5u connect timeout, milliseconds.
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 2000;
/// Default x5u total fetch timeout, milliseconds.
pub const DEFAULT_FETCH_TIMEOUT_MS: u64 = 5000;
/// Default cap on fetches in flight at once (see
/// [`Limits::max_concurrent_fetches`]).
pub const DEFAULT_MAX_FETCHES: usize = 64;
/// Default bound on one Redis call, milliseconds: a loopback or same-rack
/// round trip is well under 1 ms, so 50 ms means Redis is in trouble, and a
/// call never waits longer than that for it (issue 18).
pub const DEFAULT_REDIS_TIMEOUT_MS: u64 = 50;
/// Default prefix of the Redis keys.
pub const DEFAULT_REDIS_PREFIX: &str = "shaken:";

impl Default for VerifierConfig {
    fn default() -> Self {
        VerifierConfig {
            trust_anchors: Vec::new(),
            cert: None,
            crl: Vec::new(),
            fetch_crl: false,
            crl_policy: CrlPolicy::Soft,
            max_age: DEFAULT_MAX_AGE,
            lenient_iat: false,
            tn_national: NationalRule::default(),
            replay: ReplayMode::Memory,
            allow_http_x5u: false,
            allow_private_x5u: false,
            allow_any_port_x5u: false,
            tls_ca: Vec::new(),
            cache_dir: None,
            connect_timeout_ms: DEFAULT_CONNECT_TIMEOUT_MS,
            fetch_timeout_ms: DEFAULT_FETCH_TIMEOUT_MS,
            max_fetches: DEFAULT_MAX_FETCHES,
            redis: None,
            redis_password_file: None,
            redis_prefix: DEFAULT_REDIS_PREFIX.to_owned(),
            redis_timeout_ms: DEFAULT_REDIS_TIMEOUT_MS,
            redis_failure: RedisFailure::Open,
            fetch_rcd: false,
            limits: Limits::default(),
        }
    }
}

impl VerifierConfig {
    /// The defaults with these trust anchors (a PEM file or a directory).
    pub fn new(trust_anchors: impl Into<Source>) -> Self {
        let mut c = VerifierConfig::default();
        c.trust_anchors.push(trust_anchors.into());
        c
    }

    /// Telephone-number canonicalisation.
    pub fn tn_policy(&self) -> TnPolicy {
        TnPolicy {
            national: self.tn_national,
        }
    }

    /// Whether any CRL is configured (files, URLs or distribution points).
    pub fn has_crls(&self) -> bool {
        !self.crl.is_empty() || self.fetch_crl
    }

    /// The verification policy these settings stand for. A CRL is required
    /// for the end-entity certificate exactly when CRLs are configured and
    /// the policy is hard: the one place this rule is written.
    pub fn policy(&self) -> VerifyPolicy {
        let max_age = i64::from(self.max_age);
        VerifyPolicy {
            max_age,
            max_future: max_age,
            claims: ClaimsPolicy {
                lenient_iat_string: self.lenient_iat,
            },
            tn: self.tn_policy(),
            chain: ChainPolicy {
                crl_required: self.crl_policy == CrlPolicy::Hard && self.has_crls(),
                ..ChainPolicy::default()
            },
            ..VerifyPolicy::default()
        }
    }

    /// How ATIS-1000082 verification requests are read under these settings.
    pub fn request_policy(&self) -> RequestPolicy {
        RequestPolicy {
            tn: self.tn_policy(),
            max_dest_entries: self.limits.max_dest_entries,
            require_wrapper: false,
            signed_lines: false,
        }
    }

    /// The CRL URLs to fetch while verifying.
    pub fn crl_urls(&self) -> Vec<String> {
        self.crl
            .iter()
            .filter_map(|c| match c {
                CrlSpec::Url(u) => Some(u.clone()),
                CrlSpec::Load(_) => None,
            })
            .collect()
    }

    /// How long a PASSporT stays a replay candidate: the whole freshness
    /// window, past plus future.
    pub fn replay_ttl(&self) -> i64 {
        let p = self.policy();
        p.max_age.saturating_add(p.max_future)
    }
}

/// A signer's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
#[non_exhaustive]
pub struct SignerConfig {
    /// The STI certificate's private key (P-256, PEM: PKCS#8 or SEC1).
    pub key: Source,
    /// The certificate URL put into every PASSporT (`x5u` and `info`).
    pub x5u: String,
    /// Deterministic ECDSA (RFC 6979): the same claims give the same
    /// signature (tests, golden files). Default: randomised.
    #[serde(default)]
    pub deterministic: bool,
    /// How 10-digit national numbers are read (`nanp` or `none`).
    #[serde(default, with = "national_rule")]
    pub tn_national: NationalRule,
    /// Rich Call Data signed into every call (RFC 9795): a signer dedicated
    /// to one enterprise. TOML table `[rcd]` with `nam`, `apn`, `icn`, `jcl`,
    /// `crn`, `separate`.
    #[serde(default)]
    pub rcd: Option<crate::rcd::RcdConfig>,
}

impl SignerConfig {
    /// A signer config with the key from `key` and this `x5u`.
    pub fn new(key: impl Into<Source>, x5u: impl Into<String>) -> Self {
        SignerConfig {
            key: key.into(),
            x5u: x5u.into(),
            deterministic: false,
            tn_national: NationalRule::default(),
            rcd: None,
        }
    }

    /// How signing requests are read under these settings.
    pub fn request_policy(&self) -> RequestPolicy {
        RequestPolicy::with_tn(TnPolicy {
            national: self.tn_national,
        })
    }
}

/// Which setting an error is about. Each surface names it in its own
/// words: the CLI as a flag, the TOML file as a key, the C ABI as a setter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Setting {
    /// The trust anchors.
    TrustAnchors,
    /// The pinned certificate chain.
    Cert,
    /// A CRL.
    Crl,
    /// Extra TLS roots.
    TlsCa,
    /// The signing key.
    Key,
    /// The signer's certificate URL.
    X5u,
    /// The replay directory.
    ReplayDir,
    /// The certificate fetcher (its TLS set-up).
    Fetcher,
    /// The Redis URL.
    Redis,
    /// The Redis password file.
    RedisPasswordFile,
    /// The Rich Call Data a signer puts into every call.
    Rcd,
    /// The cap on fetches in flight at once.
    MaxFetches,
}

impl Setting {
    /// The setting's TOML key (also the long CLI flag without `--`).
    pub fn key(self) -> &'static str {
        match self {
            Setting::TrustAnchors => "trust-anchors",
            Setting::Cert => "cert",
            Setting::Crl => "crl",
            Setting::TlsCa => "tls-ca",
            Setting::Key => "key",
            Setting::X5u => "x5u",
            Setting::ReplayDir => "replay-dir",
            Setting::Fetcher => "tls-ca",
            Setting::Redis => "redis",
            Setting::RedisPasswordFile => "redis-password-file",
            Setting::Rcd => "rcd",
            Setting::MaxFetches => "max-fetches",
        }
    }

    fn words(self) -> &'static str {
        match self {
            Setting::TrustAnchors => "trust anchors",
            Setting::Cert => "certificate chain",
            Setting::Crl => "CRL",
            Setting::TlsCa => "TLS root",
            Setting::Key => "signing key",
            Setting::X5u => "x5u",
            Setting::ReplayDir => "replay directory",
            Setting::Fetcher => "certificate fetcher",
            Setting::Redis => "Redis",
            Setting::RedisPasswordFile => "Redis password file",
            Setting::Rcd => "Rich Call Data",
            Setting::MaxFetches => "cap on fetches in flight",
        }
    }
}

impl std::fmt::Display for Setting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.words())
    }
}

/// Why a configuration could not be turned into a verifier or a signer.
/// The text names the setting and the file; [`ConfigError::setting`] lets
/// each surface add its own hint (flag, TOML key, C setter).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A file or directory could not be read.
    #[error("{setting} {path}: {source}")]
    Read {
        /// Which setting.
        setting: Setting,
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file that should hold certificates holds none.
    #[error("{setting} {what}: no CERTIFICATE found")]
    NoCertificate {
        /// Which setting.
        setting: Setting,
        /// The path or `(inline)`.
        what: String,
    },
    /// Certificates or a CRL that do not parse.
    #[error("{setting} {what}: {source}")]
    Certificate {
        /// Which setting.
        setting: Setting,
        /// The path or `(inline)`.
        what: String,
        /// The parser's reason.
        source: crate::cert::CertError,
    },
    /// A signing key that cannot be used.
    #[error("signing key {what}: {source}")]
    Key {
        /// The path or `(inline)`.
        what: String,
        /// Why.
        source: crate::crypto::KeyError,
    },
    /// A file that is not UTF-8 text where text is needed (a PEM key).
    #[error("{setting} {what}: not UTF-8 text (PEM expected)")]
    NotText {
        /// Which setting.
        setting: Setting,
        /// The path or `(inline)`.
        what: String,
    },
    /// An `x5u` that no verifier would fetch.
    #[error("x5u {value:?}: {reason}")]
    X5u {
        /// The value given.
        value: String,
        /// Why.
        reason: String,
    },
    /// The replay directory cannot be used.
    #[error("replay directory: {0}")]
    ReplayDir(String),
    /// A setting that needs a feature this build lacks.
    #[error("{setting}: this build of the shaken library lacks the `{feature}` feature")]
    Unsupported {
        /// Which setting.
        setting: Setting,
        /// The Cargo feature.
        feature: &'static str,
    },
    /// The certificate fetcher could not be set up (TLS roots).
    #[error("certificate fetcher: {0}")]
    Fetcher(String),
    /// Redis cannot be used: a bad URL, a refused password, a password file
    /// that cannot be read (the URL shown never carries the password).
    #[error("{setting}: {detail}")]
    Redis {
        /// Which setting (the URL or the password file).
        setting: Setting,
        /// What is wrong, with the redacted URL.
        detail: String,
    },
    /// The signer's Rich Call Data would not pass a verifier (RFC 9795 §5).
    #[error("Rich Call Data: {0}")]
    Rcd(String),
    /// A number outside the range the setting takes.
    #[error("{setting} {value}: {reason}")]
    OutOfRange {
        /// Which setting.
        setting: Setting,
        /// The value given.
        value: u64,
        /// The range, and why.
        reason: &'static str,
    },
}

impl ConfigError {
    /// The setting the error is about.
    pub fn setting(&self) -> Setting {
        match self {
            ConfigError::Read { setting, .. }
            | ConfigError::NoCertificate { setting, .. }
            | ConfigError::Certificate { setting, .. }
            | ConfigError::NotText { setting, .. }
            | ConfigError::Unsupported { setting, .. }
            | ConfigError::OutOfRange { setting, .. } => *setting,
            ConfigError::Key { .. } => Setting::Key,
            ConfigError::X5u { .. } => Setting::X5u,
            ConfigError::ReplayDir(_) => Setting::ReplayDir,
            ConfigError::Fetcher(_) => Setting::Fetcher,
            ConfigError::Redis { setting, .. } => *setting,
            ConfigError::Rcd(_) => Setting::Rcd,
        }
    }

    /// A stable id.
    pub fn id(&self) -> &'static str {
        match self {
            ConfigError::Read { .. } => "config-unreadable",
            ConfigError::NoCertificate { .. } => "config-no-certificate",
            ConfigError::Certificate { .. } => "config-certificate-invalid",
            ConfigError::Key { .. } => "config-key-invalid",
            ConfigError::NotText { .. } => "config-not-text",
            ConfigError::X5u { .. } => "config-x5u-invalid",
            ConfigError::ReplayDir(_) => "config-replay-dir",
            ConfigError::Unsupported { .. } => "config-unsupported",
            ConfigError::Fetcher(_) => "config-fetcher",
            ConfigError::Redis { .. } => "config-redis",
            ConfigError::Rcd(_) => "config-rcd",
            ConfigError::OutOfRange { .. } => "config-out-of-range",
        }
    }
}

/// Check that an `x5u` is one a verifier would fetch: an absolute `https`
/// (or, for labs, `http`) URL with a host.
pub fn check_x5u(x5u: &str) -> Result<(), ConfigError> {
    let bad = |reason: &str| ConfigError::X5u {
        value: x5u.chars().take(200).collect(),
        reason: reason.to_owned(),
    };
    let uri: http::Uri = x5u.parse().map_err(|_| bad("not a valid URL"))?;
    match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("https") || s.eq_ignore_ascii_case("http") => {}
        _ => return Err(bad("scheme must be https (or http for labs)")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("the URL has no host"));
    }
    Ok(())
}

mod national_rule {
    use crate::tn::NationalRule;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(r: &NationalRule, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match r {
            NationalRule::Nanp => "nanp",
            NationalRule::None => "none",
        })
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NationalRule, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn crl_required_only_when_crls_are_configured_and_hard() {
        let mut c = VerifierConfig::default();
        assert_eq!(c.crl_policy, CrlPolicy::Soft);
        c.crl_policy = CrlPolicy::Hard;
        assert!(!c.policy().chain.crl_required);
        c.fetch_crl = true;
        assert!(c.policy().chain.crl_required);
        c.crl_policy = CrlPolicy::Soft;
        assert!(!c.policy().chain.crl_required);
        c.fetch_crl = false;
        c.crl_policy = CrlPolicy::Hard;
        c.crl = vec![CrlSpec::parse("ca.crl")];
        assert!(c.policy().chain.crl_required);
    }

    #[test]
    fn crl_values_are_urls_or_files() {
        assert_eq!(
            CrlSpec::parse("https://crl.example/x.crl"),
            CrlSpec::Url("https://crl.example/x.crl".into())
        );
        assert_eq!(
            CrlSpec::parse("http://crl.example/x.crl"),
            CrlSpec::Url("http://crl.example/x.crl".into())
        );
        assert_eq!(
            CrlSpec::parse("certs/crl.pem"),
            CrlSpec::Load(Source::Path("certs/crl.pem".into()))
        );
        // Not a URL scheme we fetch: a file name.
        assert_eq!(
            CrlSpec::parse("ftp://x"),
            CrlSpec::Load(Source::Path("ftp://x".into()))
        );
    }

    #[test]
    fn serde_keys_match_the_toml_file() {
        let c: VerifierConfig = serde_json::from_str(
            r#"{"trust-anchors":["certs", {"pem":"-----BEGIN CERTIFICATE-----"}],
                "crl":["https://x/c.crl","c.pem"],"max-age":30,"tn-national":"none",
                "replay":{"dir":"/dev/shm/r"},"crl-policy":"soft"}"#,
        )
        .unwrap();
        assert_eq!(c.trust_anchors[0], Source::Path("certs".into()));
        assert!(matches!(&c.trust_anchors[1], Source::Inline(b) if b.starts_with(b"-----BEGIN")));
        assert_eq!(c.crl_urls(), ["https://x/c.crl"]);
        assert_eq!(c.max_age, 30);
        assert_eq!(c.tn_national, NationalRule::None);
        assert_eq!(c.replay, ReplayMode::Dir("/dev/shm/r".into()));
        assert_eq!(c.crl_policy, CrlPolicy::Soft);
        assert_eq!(c.replay_ttl(), 60);
        let e = serde_json::from_str::<VerifierConfig>(r#"{"max-agee":3}"#).unwrap_err();
        assert!(e.to_string().contains("max-agee"), "{e}");
        let back: VerifierConfig =
            serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn replay_mode_from_the_surfaces_settings() {
        let d = std::path::Path::new("/dev/shm/r");
        assert_eq!(ReplayMode::from_settings(false, Some(d)), ReplayMode::Off);
        assert_eq!(
            ReplayMode::from_settings(true, Some(d)),
            ReplayMode::Dir(d.to_owned())
        );
        assert_eq!(ReplayMode::from_settings(true, None), ReplayMode::Memory);
    }

    #[test]
    fn x5u_check() {
        check_x5u("https://cr.example.net/sp.pem").unwrap();
        check_x5u("http://127.0.0.1:8080/sp.pem").unwrap();
        for bad in [
            "",
            "cr.example.net/sp.pem",
            "ftp://x/y",
            "https://",
            "file:///etc/passwd",
        ] {
            let e = check_x5u(bad).unwrap_err();
            assert_eq!(e.setting(), Setting::X5u, "{bad}");
            assert_eq!(e.id(), "config-x5u-invalid");
        }
    }

    #[test]
    fn errors_name_the_setting_not_a_flag() {
        let e = ConfigError::NoCertificate {
            setting: Setting::TrustAnchors,
            what: "certs/x.pem".into(),
        };
        assert_eq!(
            e.to_string(),
            "trust anchors certs/x.pem: no CERTIFICATE found"
        );
        assert!(!e.to_string().contains("--"));
        assert_eq!(e.setting().key(), "trust-anchors");
    }
}
