//! `shaken serve`: the ATIS-1000082 signing and verification service.
//!
//! The shell reads the flags and the optional TOML file (flags win), sets up
//! logging, builds a [`ServerConfig`] and runs [`shaken::server::Server`]
//! until SIGTERM or Ctrl-C. It prints `listening on ADDR` on stderr once the
//! socket is bound (port 0 picks a free port).

pub use imp::run;

mod imp {
    use crate::cli::args::RedisArgs;
    use crate::cli::args::{CrlArgs, CrlPolicyArg, FetchArgs, OutFormat, ServeArgs};
    use crate::cli::setup::{anchor_sources, apply_crl_args, apply_fetch_args, config_error};
    use crate::cli::setup::{apply_redis_args, merge_redis_args};
    use crate::cli::EXIT_OK;
    use anyhow::{bail, Context, Result};
    use clap::ValueEnum;
    use shaken::config::{ReplayMode, Source};
    use shaken::server::{FileConfig, Server, ServerClock, ServerConfig};
    use shaken::tn::NationalRule;
    use shaken::{SignerConfig, StiAs, StiVs, VerifierConfig};
    use std::io::IsTerminal;
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::time::Duration;

    /// Default listen address: loopback only, so an unconfigured server is not
    /// exposed by accident.
    const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
    /// Default freshness window, seconds (RFC 8224 §6.2 step 4).
    const DEFAULT_MAX_AGE: u32 = 60;
    /// Defaults of the flags declared with `default_value` (a flag left at its
    /// default does not override the file).
    const DEFAULT_CONNECT_MS: u64 = 2000;
    const DEFAULT_FETCH_MS: u64 = 5000;

    /// The flags and the file merged.
    struct Settings {
        listen: String,
        key: Option<PathBuf>,
        x5u: Option<String>,
        cert: Option<PathBuf>,
        trust_anchors: Vec<PathBuf>,
        max_age: u32,
        replay: bool,
        replay_dir: Option<PathBuf>,
        max_concurrent: Option<usize>,
        request_timeout_ms: Option<u64>,
        header_read_timeout_ms: Option<u64>,
        max_body: Option<usize>,
        tn_national: NationalRule,
        crl: CrlArgs,
        fetch: FetchArgs,
        now: Option<i64>,
        redis: RedisArgs,
    }

    fn parse_log_format(s: &str) -> Result<OutFormat> {
        OutFormat::from_str(s, true)
            .map_err(|_| anyhow::anyhow!("log-format {s:?}: expected text or json"))
    }

    fn merge(a: ServeArgs, f: FileConfig) -> Result<Settings> {
        let redis = merge_redis_args(&a.redis, &f)?;
        let tn_national = if a.tn.tn_national != NationalRule::default() {
            a.tn.tn_national
        } else {
            match &f.tn_national {
                Some(s) => s
                    .parse()
                    .map_err(|e: String| anyhow::anyhow!("config tn-national: {e}"))?,
                None => NationalRule::default(),
            }
        };
        let crl_policy = if a.crl.crl_policy != CrlPolicyArg::default() {
            a.crl.crl_policy
        } else {
            match &f.crl_policy {
                Some(s) => CrlPolicyArg::from_str(s, true).map_err(|_| {
                    anyhow::anyhow!("config crl-policy {s:?}: expected hard or soft")
                })?,
                None => CrlPolicyArg::default(),
            }
        };
        let pick_ms = |flag: u64, default: u64, file: Option<u64>| {
            if flag != default {
                flag
            } else {
                file.unwrap_or(default)
            }
        };
        let crl = CrlArgs {
            crl: if a.crl.crl.is_empty() {
                f.crl.clone()
            } else {
                a.crl.crl.clone()
            },
            fetch_crl: a.crl.fetch_crl || f.fetch_crl.unwrap_or(false),
            crl_policy,
        };
        let fetch = FetchArgs {
            allow_http_x5u: a.fetch.allow_http_x5u || f.allow_http_x5u.unwrap_or(false),
            allow_private_x5u: a.fetch.allow_private_x5u || f.allow_private_x5u.unwrap_or(false),
            allow_any_port_x5u: a.fetch.allow_any_port_x5u || f.allow_any_port_x5u.unwrap_or(false),
            tls_ca: if a.fetch.tls_ca.is_empty() {
                f.tls_ca.clone()
            } else {
                a.fetch.tls_ca.clone()
            },
            cache_dir: a.fetch.cache_dir.clone().or(f.cache_dir.clone()),
            connect_timeout_ms: pick_ms(
                a.fetch.connect_timeout_ms,
                DEFAULT_CONNECT_MS,
                f.connect_timeout_ms,
            ),
            fetch_timeout_ms: pick_ms(
                a.fetch.fetch_timeout_ms,
                DEFAULT_FETCH_MS,
                f.fetch_timeout_ms,
            ),
        };
        Ok(Settings {
            listen: a
                .listen
                .or(f.listen)
                .unwrap_or_else(|| DEFAULT_LISTEN.to_owned()),
            key: a.key.or(f.key),
            x5u: a.x5u.or(f.x5u),
            cert: a.cert.or(f.cert),
            trust_anchors: if a.trust_anchors.is_empty() {
                f.trust_anchors
            } else {
                a.trust_anchors
            },
            max_age: a.max_age.or(f.max_age).unwrap_or(DEFAULT_MAX_AGE),
            replay: !a.no_replay && f.replay.unwrap_or(true),
            replay_dir: a.replay_dir.or(f.replay_dir),
            max_concurrent: a.max_concurrent.or(f.max_concurrent),
            request_timeout_ms: a.request_timeout_ms.or(f.request_timeout_ms),
            header_read_timeout_ms: a.header_read_timeout_ms.or(f.header_read_timeout_ms),
            max_body: a.max_body.or(f.max_body),
            tn_national,
            crl,
            fetch,
            now: a.now,
            redis,
        })
    }

    fn init_logging(format: OutFormat) {
        use tracing_subscriber::EnvFilter;
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none());
        // A subscriber may already be set (tests embedding the CLI): keep it.
        let _ = match format {
            OutFormat::Json => builder.json().try_init(),
            OutFormat::Text => builder.try_init(),
        };
    }

    /// The verifier settings of the merged flags and file: the same
    /// library configuration `shaken verify` builds.
    fn verifier_config(s: &Settings) -> VerifierConfig {
        let mut c = VerifierConfig::default();
        c.trust_anchors = anchor_sources(&s.trust_anchors);
        c.cert = s.cert.clone().map(Source::Path);
        c.max_age = s.max_age;
        c.tn_national = s.tn_national;
        c.replay = match (&s.replay_dir, s.replay) {
            (_, false) => ReplayMode::Off,
            (Some(d), true) => ReplayMode::Dir(d.clone()),
            (None, true) => ReplayMode::Memory,
        };
        apply_crl_args(&mut c, &s.crl);
        apply_fetch_args(&mut c, &s.fetch);
        apply_redis_args(&mut c, &s.redis);
        c
    }

    fn build_config(s: Settings) -> Result<ServerConfig> {
        let vc = verifier_config(&s);
        let vs = StiVs::from_config(&vc).map_err(config_error)?;
        if vs.verifier().anchors().is_empty() {
            tracing::warn!("no trust anchors (--trust-anchors or $SHAKEN_TRUST_ANCHORS): every verification will fail with 437");
        }
        let mut config = ServerConfig::new(s.listen, Arc::new(vs));
        match (&s.key, &s.x5u) {
            (Some(key), Some(x5u)) => {
                let mut sc = SignerConfig::new(key.as_path(), x5u.clone());
                sc.tn_national = s.tn_national;
                config = config.with_signing(StiAs::from_config(&sc).map_err(config_error)?);
            }
            (Some(_), None) => {
                bail!("--key needs --x5u (the certificate URL put into signed PASSporTs)")
            }
            (None, Some(_)) => bail!("--x5u needs --key (the signing key)"),
            (None, None) => {
                tracing::info!("no --key: signing is off (/stir/v1/signing answers 404 SVC4003)")
            }
        }
        if let Some(n) = s.max_concurrent {
            if n == 0 {
                bail!("--max-concurrent must be at least 1");
            }
            config = config.with_max_concurrent(n);
        }
        if let Some(ms) = s.request_timeout_ms {
            if ms == 0 {
                bail!("--request-timeout-ms must be at least 1");
            }
            config = config.with_request_timeout(Duration::from_millis(ms));
        }
        if let Some(ms) = s.header_read_timeout_ms {
            if ms == 0 {
                bail!("--header-read-timeout-ms must be at least 1");
            }
            config = config.with_header_read_timeout(Duration::from_millis(ms));
        }
        if let Some(b) = s.max_body {
            if b == 0 {
                bail!("--max-body must be at least 1");
            }
            config = config.with_max_body(b);
        }
        if let Some(t) = s.now {
            config = config.with_clock(ServerClock::Fixed(t));
        }
        Ok(config)
    }

    /// Completes on SIGTERM or Ctrl-C (SIGINT).
    async fn shutdown_signal() {
        let ctrl_c = async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        #[cfg(unix)]
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            () = ctrl_c => tracing::info!("Ctrl-C: shutting down"),
            () = term => tracing::info!("SIGTERM: shutting down"),
        }
    }

    pub fn run(a: ServeArgs) -> Result<i32> {
        let file = match &a.config {
            Some(p) => FileConfig::load(p)?,
            None => FileConfig::default(),
        };
        let log_format = match (a.log_format, &file.log_format) {
            (Some(f), _) => f,
            (None, Some(s)) => parse_log_format(s)?,
            (None, None) => OutFormat::Text,
        };
        init_logging(log_format);
        let settings = merge(a, file)?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        rt.block_on(async move {
            // Built inside the runtime: the fetcher's client may spawn tasks.
            let config = build_config(settings)?;
            let server = Server::bind(config).await?;
            let addr = server.local_addr();
            eprintln!("listening on {addr}");
            tracing::info!(%addr, "shaken serve: ATIS-1000082 API on /stir/v1/signing and /stir/v1/verification");
            server.run(shutdown_signal()).await?;
            tracing::info!("stopped");
            Ok::<_, anyhow::Error>(())
        })?;
        Ok(EXIT_OK)
    }
}
