//! Turning flags into library objects, shared by the modes: the
//! verification service and its configuration, the trust anchors, the
//! signer, the async runtime.

use super::args::{CrlArgs, CrlPolicyArg, FetchArgs, RedisArgs, RedisFailureArg, VerifyArgs};
use anyhow::{bail, Context, Result};
use shaken::cert::TrustAnchors;
use shaken::config::{ConfigError, CrlPolicy, CrlSpec, ReplayMode, Setting, Source};
use shaken::crypto::{DeterministicSigner, KeySigner, Signer};
use shaken::tn::TnPolicy;
use shaken::verify::{CallContext, Failure, VerifiedPassport, Verifier};
use shaken::Limits;
use shaken::{StiVs, VerifierConfig};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::sync::{Mutex, RwLock};

/// Environment variable naming default trust anchors (paths separated by ':').
pub const TRUST_ANCHORS_ENV: &str = "SHAKEN_TRUST_ANCHORS";

/// Everything a verification mode needs, built once from the flags: the
/// library's verification service and the pinned clock.
pub struct VerifySetup {
    /// The verification service (anchors, CRLs, chain source, replay),
    /// swapped when an installed trust directory changes (see `vs`).
    vs: RwLock<Arc<StiVs>>,
    /// What `vs` was built from (to build it again).
    config: VerifierConfig,
    /// The installed trust directories (`shaken trust update`) among the
    /// anchors, with the version last seen.
    watched: Mutex<Vec<(PathBuf, Option<String>)>>,
    /// When the directories were last looked at (Unix seconds).
    checked_at: AtomicI64,
    /// The core verifier.
    pub verifier: Arc<Verifier>,
    /// Limits.
    pub limits: Limits,
    /// TN canonicalisation.
    pub tn_policy: TnPolicy,
    /// `--now`, if given (else each call uses the wall clock or its own time).
    pub now: Option<i64>,
}

/// How often a long run looks whether an installed trust directory has a
/// new version (the same period as `serve`'s watch).
const TRUST_DIR_WATCH_SECS: i64 = 5;

impl VerifySetup {
    /// The service to verify with. A long run (`--batch`, `--pcap`) picks up
    /// a new version of an installed trust directory within a few seconds:
    /// the service is built again (keeping its replay store and x5u cache)
    /// and swapped in; a version that cannot be loaded keeps the running one.
    pub fn vs(&self) -> Arc<StiVs> {
        let wall = super::clock::now();
        let last = self.checked_at.load(Ordering::Relaxed);
        if wall.saturating_sub(last) >= TRUST_DIR_WATCH_SECS
            && self
                .checked_at
                .compare_exchange(last, wall, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.reload_if_changed();
        }
        match self.vs.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn reload_if_changed(&self) {
        let mut watched = match self.watched.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let mut changed = false;
        for (dir, seen) in watched.iter_mut() {
            let now = shaken::trust_dir::generation(dir);
            if now != *seen {
                *seen = now;
                changed = true;
            }
        }
        if !changed {
            return;
        }
        let current = match self.vs.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        };
        match current.rebuild(&self.config) {
            Ok(next) => {
                eprintln!("note: a new version of the installed trust anchors is in use from here on");
                match self.vs.write() {
                    Ok(mut g) => *g = Arc::new(next),
                    Err(p) => *p.into_inner() = Arc::new(next),
                }
            }
            Err(e) => eprintln!(
                "warning: the installed trust anchors changed but could not be loaded ({e}); keeping the ones in use"
            ),
        }
    }

    /// Verify one Identity header value (blocking; fetches on a cache miss).
    pub fn verify_value(
        &self,
        value: &str,
        ctx: &CallContext,
    ) -> Result<VerifiedPassport, Box<Failure>> {
        self.vs().verify_result_blocking(value, ctx)
    }

    /// Verify one PASSporT of a call, of either kind (`div`: a `div`/`div-o`
    /// PASSporT; blocking; fetches on a cache miss).
    pub fn verify_passport(
        &self,
        identity: &shaken::identity::IdentityHeader,
        ctx: &CallContext,
        div: bool,
    ) -> Result<VerifiedPassport, Box<Failure>> {
        self.vs().verify_passport_blocking(identity, ctx, div)
    }
}

/// The flags of a verification mode as the library's configuration.
/// `replay_default`: whether replay detection is on unless `--replay` /
/// `--no-replay` say otherwise.
pub fn verifier_config(a: &VerifyArgs, replay_default: bool) -> VerifierConfig {
    let replay = if a.no_replay {
        false
    } else {
        a.replay || a.replay_dir.is_some() || a.redis.redis.is_some() || replay_default
    };
    let mut c = VerifierConfig::default();
    c.trust_anchors = anchor_sources(&a.trust_anchors);
    c.cert = a.cert.clone().map(Source::Path);
    c.max_age = a.max_age;
    c.lenient_iat = a.lenient_iat;
    c.limits.max_div = a.max_div;
    c.tn_national = a.tn.tn_national;
    c.replay = ReplayMode::from_settings(replay, a.replay_dir.as_deref());
    apply_crl_args(&mut c, &a.crl);
    apply_fetch_args(&mut c, &a.fetch);
    apply_redis_args(&mut c, &a.redis);
    c.fetch_rcd = a.fetch_rcd;
    c
}

/// The Rich Call Data flags of `sign` as what to sign: `None` without
/// `--rcd-nam` or `--crn`. With `--rcdi`, the referenced content is fetched
/// now (the verifier's fetch rules and lab switches) and digested.
pub fn rcd_signing(
    a: &super::args::RcdSignArgs,
    tn: &TnPolicy,
) -> Result<Option<shaken::rcd::RcdSigning>> {
    use shaken::rcd::{DigestAlg, Rcd, RcdClaims, RcdContent, RcdSigning};
    if a.rcd_nam.is_none() && a.crn.is_none() {
        if a.rcd_separate {
            bail!("--rcd-separate: nothing to put in it (give --rcd-nam or --crn)");
        }
        return Ok(None);
    }
    let rcd = match &a.rcd_nam {
        None => None,
        Some(nam) => {
            let apn = match &a.rcd_apn {
                None => None,
                Some(t) => Some(
                    shaken::tn::TelephoneNumber::parse(t, tn)
                        .with_context(|| "--rcd-apn")?
                        .to_string(),
                ),
            };
            let jcd = match &a.rcd_jcd {
                None => None,
                Some(path) => {
                    let bytes = super::input::read_input(
                        &path.to_string_lossy(),
                        Limits::default().max_rcd_body,
                    )
                    .with_context(|| "--rcd-jcd")?;
                    Some(
                        shaken::parse_json_strict(&bytes, 16)
                            .with_context(|| format!("--rcd-jcd {}: not JSON", path.display()))?,
                    )
                }
            };
            Some(Rcd {
                nam: nam.clone(),
                apn,
                icn: a.rcd_icn.clone(),
                jcd,
                jcl: a.rcd_jcl.clone(),
            })
        }
    };
    let mut claims = RcdClaims::new(rcd, a.crn.clone());
    claims
        .validate(a.rcd_separate)
        .map_err(|e| anyhow::Error::new(e).context("--rcd-nam"))?;
    if a.rcdi {
        let mut config = VerifierConfig::default();
        apply_fetch_args(&mut config, &a.fetch);
        let fetch = shaken::sti::fetch_options(&config).map_err(config_error)?;
        let cache = shaken::sti::rcd_cache(&fetch).map_err(config_error)?;
        let rt = runtime()?;
        let mut content = RcdContent::new();
        for _round in 0..2 {
            let wanted = claims.signing_wanted(&content);
            if wanted.is_empty() {
                break;
            }
            for url in wanted {
                let body = rt
                    .block_on(cache.get(&url))
                    .map(|b| b.as_ref().clone())
                    .map_err(|e| e.to_string());
                content.insert_body(url, body);
            }
        }
        claims = claims
            .with_digests(DigestAlg::Sha256, &content)
            .map_err(|e| anyhow::Error::new(e).context("--rcdi"))?;
    }
    Ok(Some(RcdSigning {
        claims,
        separate: a.rcd_separate,
    }))
}

/// `--redis` and its companions (the library's defaults where not given).
pub fn apply_redis_args(c: &mut VerifierConfig, r: &RedisArgs) {
    c.redis = r.redis.clone();
    c.redis_password_file = r.redis_password_file.clone();
    if let Some(p) = &r.redis_prefix {
        c.redis_prefix = p.clone();
    }
    if let Some(ms) = r.redis_timeout_ms {
        c.redis_timeout_ms = ms;
    }
    if let Some(f) = r.redis_failure {
        c.redis_failure = match f {
            RedisFailureArg::Open => shaken::config::RedisFailure::Open,
            RedisFailureArg::Closed => shaken::config::RedisFailure::Closed,
        };
    }
}

/// The Redis flags over the TOML keys of the same names (`shaken serve`).
pub fn merge_redis_args(a: &RedisArgs, f: &shaken::server::FileConfig) -> Result<RedisArgs> {
    let failure = match (a.redis_failure, &f.redis_failure) {
        (Some(x), _) => Some(x),
        (None, None) => None,
        (None, Some(s)) => Some(match s.to_ascii_lowercase().as_str() {
            "open" => RedisFailureArg::Open,
            "closed" => RedisFailureArg::Closed,
            _ => bail!("config redis-failure {s:?}: expected open or closed"),
        }),
    };
    Ok(RedisArgs {
        redis: a.redis.clone().or(f.redis.clone()),
        redis_password_file: a
            .redis_password_file
            .clone()
            .or(f.redis_password_file.clone()),
        redis_prefix: a.redis_prefix.clone().or(f.redis_prefix.clone()),
        redis_timeout_ms: a.redis_timeout_ms.or(f.redis_timeout_ms),
        redis_failure: failure,
    })
}

/// `--crl`, `--fetch-crl`, `--crl-policy`.
pub fn apply_crl_args(c: &mut VerifierConfig, a: &CrlArgs) {
    c.crl = a.crl.iter().map(|s| CrlSpec::parse(s)).collect();
    c.fetch_crl = a.fetch_crl;
    c.crl_policy = match a.crl_policy {
        CrlPolicyArg::Hard => CrlPolicy::Hard,
        CrlPolicyArg::Soft => CrlPolicy::Soft,
    };
}

/// The x5u fetch flags.
pub fn apply_fetch_args(c: &mut VerifierConfig, f: &FetchArgs) {
    c.allow_http_x5u = f.allow_http_x5u;
    c.allow_private_x5u = f.allow_private_x5u;
    c.allow_any_port_x5u = f.allow_any_port_x5u;
    c.tls_ca = f.tls_ca.iter().cloned().map(Source::Path).collect();
    c.cache_dir = f.cache_dir.clone();
    c.connect_timeout_ms = f.connect_timeout_ms;
    c.fetch_timeout_ms = f.fetch_timeout_ms;
    if let Some(n) = f.max_fetches {
        c.max_fetches = n;
    }
}

/// `--trust-anchors`, else `$SHAKEN_TRUST_ANCHORS` (a path list).
pub fn anchor_sources(paths: &[std::path::PathBuf]) -> Vec<Source> {
    let mut list: Vec<std::path::PathBuf> = paths.to_vec();
    if list.is_empty() {
        if let Some(env) = std::env::var_os(TRUST_ANCHORS_ENV) {
            list.extend(std::env::split_paths(&env).filter(|p| !p.as_os_str().is_empty()));
        }
    }
    list.into_iter().map(Source::Path).collect()
}

/// A configuration error with the flag that holds the setting.
pub fn config_error(e: ConfigError) -> anyhow::Error {
    let flag = match e.setting() {
        Setting::Fetcher => "--tls-ca".to_owned(),
        Setting::Rcd => "--rcd-nam".to_owned(),
        s => format!("--{}", s.key()),
    };
    anyhow::Error::new(e).context(flag)
}

/// Build the verification service from the flags.
pub fn build_setup(a: &VerifyArgs, replay_default: bool) -> Result<VerifySetup> {
    let config = verifier_config(a, replay_default);
    // The notes only (the anchors are small; StiVs reads them again and
    // reports any error with its setting).
    if let Ok((_, notes)) = shaken::load::trust_anchors_with_notes(&config.trust_anchors) {
        print_anchor_notes(&notes);
    }
    let vs = Arc::new(StiVs::from_config(&config).map_err(config_error)?);
    let watched = config
        .trust_anchors
        .iter()
        .filter_map(|s| match s {
            Source::Path(p) => shaken::trust_dir::generation(p).map(|g| (p.clone(), Some(g))),
            _ => None,
        })
        .collect();
    Ok(VerifySetup {
        verifier: vs.verifier().clone(),
        limits: config.limits.clone(),
        tn_policy: config.tn_policy(),
        now: a.now,
        vs: RwLock::new(vs),
        watched: Mutex::new(watched),
        checked_at: AtomicI64::new(super::clock::now()),
        config,
    })
}

/// A small runtime for one-shot network work.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Load a signer from a PEM key file.
pub fn load_signer(path: &std::path::Path, deterministic: bool) -> Result<Box<dyn Signer>> {
    let pem =
        std::fs::read_to_string(path).with_context(|| format!("reading key {}", path.display()))?;
    Ok(if deterministic {
        Box::new(
            DeterministicSigner::from_pem(&pem)
                .with_context(|| format!("key {}", path.display()))?,
        )
    } else {
        Box::new(KeySigner::from_pem(&pem).with_context(|| format!("key {}", path.display()))?)
    })
}

/// Check that an x5u is a URL we would fetch.
pub fn check_x5u(x5u: &str) -> Result<()> {
    shaken::config::check_x5u(x5u).map_err(config_error)
}

/// Load trust anchors from the given paths or, if none, from
/// $SHAKEN_TRUST_ANCHORS (the library's loader, as `verify` uses). An empty
/// result is allowed: the verifier then reports 437 `no-trust-anchors`, and
/// the CLI adds the flag to pass (`hints`). The loader's notes (skipped
/// files, anchors that are not self-signed) go to stderr.
pub fn load_anchors(paths: &[PathBuf]) -> Result<TrustAnchors> {
    let (anchors, notes) =
        shaken::load::trust_anchors_with_notes(&anchor_sources(paths)).map_err(config_error)?;
    print_anchor_notes(&notes);
    Ok(anchors)
}

/// The trust-anchor notes on stderr: a skipped file is a note, an anchor
/// that is not self-signed a warning.
pub fn print_anchor_notes(notes: &[shaken::load::AnchorNote]) {
    for n in notes {
        match n {
            shaken::load::AnchorNote::Skipped { .. } => eprintln!("note: --trust-anchors {n}"),
            _ => eprintln!("warning: --trust-anchors {n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn fetch_flags_reach_the_fetcher() {
        let f = FetchArgs {
            allow_http_x5u: true,
            allow_private_x5u: false,
            allow_any_port_x5u: true,
            connect_timeout_ms: 1500,
            fetch_timeout_ms: 4000,
            max_fetches: Some(8),
            ..FetchArgs::default()
        };
        let mut c = VerifierConfig::default();
        apply_fetch_args(&mut c, &f);
        let o = shaken::sti::fetch_options(&c).unwrap();
        assert!(o.allow_http && !o.allow_private && o.allow_any_port);
        assert_eq!(
            o.limits.connect_timeout,
            std::time::Duration::from_millis(1500)
        );
        assert_eq!(
            o.limits.fetch_timeout,
            std::time::Duration::from_millis(4000)
        );
        assert_eq!(o.limits.max_concurrent_fetches, 8);
        // Without the flag: the library's default.
        let mut d = VerifierConfig::default();
        apply_fetch_args(&mut d, &FetchArgs::default());
        assert_eq!(
            shaken::sti::fetch_options(&d)
                .unwrap()
                .limits
                .max_concurrent_fetches,
            shaken::Limits::default().max_concurrent_fetches
        );
    }
}
