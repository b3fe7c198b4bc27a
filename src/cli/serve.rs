//! `shaken serve`: the ATIS-1000082 signing and verification service.
//!
//! The shell reads the flags and the optional TOML file (flags win), sets up
//! logging, refuses an exposed signing service without client
//! authentication (before binding), loads the [`Services`] (verifier,
//! signer checked against its certificate, API keys, TLS), builds a
//! [`ServerConfig`] and runs [`shaken::server::Server`] until SIGTERM or
//! Ctrl-C. It prints `listening on ADDR` on stderr once the socket is bound
//! (port 0 picks a free port). SIGHUP and `--reload-interval` load the
//! services again and swap them in; a failed reload keeps the running ones.

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
    use shaken::server::{
        AllowFrom, ApiKeys, AppState, FileConfig, Server, ServerClock, ServerConfig, Services,
        TlsFiles,
    };
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
    /// A signing or TLS certificate closer than this to its end is warned
    /// about at start and on every reload.
    const EXPIRY_WARNING_SECONDS: i64 = 30 * 86_400;
    /// How often an installed trust directory (`shaken trust update`) is
    /// checked for a new version.
    const TRUST_DIR_WATCH_SECS: u64 = 5;
    /// Default seconds between trust-list refreshes (the STI-PA list is
    /// valid for about a day; an hour leaves many tries before `exp`).
    const DEFAULT_TRUST_LIST_INTERVAL: u64 = 3600;
    /// Most worker threads (`--threads`, `threads`).
    const MAX_THREADS: u16 = 1024;
    /// Shortest `--reload-interval`.
    const MIN_RELOAD_INTERVAL: u64 = 1;

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
        threads: Option<usize>,
        request_timeout_ms: Option<u64>,
        header_read_timeout_ms: Option<u64>,
        max_body: Option<usize>,
        tn_national: NationalRule,
        crl: CrlArgs,
        fetch: FetchArgs,
        now: Option<i64>,
        api_keys: Option<PathBuf>,
        metrics_auth: bool,
        ui: bool,
        tls_cert: Option<PathBuf>,
        tls_key: Option<PathBuf>,
        client_ca: Option<PathBuf>,
        allow_from: Vec<String>,
        allow_unauthenticated_signing: bool,
        reload_interval: Option<u64>,
        trust_list_url: Option<String>,
        stipa_root: Vec<PathBuf>,
        trust_list_interval: u64,
        redis: RedisArgs,
        fetch_rcd: bool,
        max_div: Option<usize>,
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
            max_fetches: a.fetch.max_fetches.or(f.max_fetches),
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
            threads: match a.threads.or(f.threads) {
                Some(n) if !(1..=MAX_THREADS).contains(&n) => {
                    bail!("config threads = {n}: expected 1 to {MAX_THREADS}")
                }
                n => n.map(usize::from),
            },
            request_timeout_ms: a.request_timeout_ms.or(f.request_timeout_ms),
            header_read_timeout_ms: a.header_read_timeout_ms.or(f.header_read_timeout_ms),
            max_body: a.max_body.or(f.max_body),
            tn_national,
            crl,
            fetch,
            now: a.now,
            api_keys: a.api_keys.or(f.api_keys),
            metrics_auth: a.metrics_auth || f.metrics_auth.unwrap_or(false),
            ui: a.ui || f.ui.unwrap_or(false),
            tls_cert: a.tls_cert.or(f.tls_cert),
            tls_key: a.tls_key.or(f.tls_key),
            client_ca: a.client_ca.or(f.client_ca),
            allow_from: if a.allow_from.is_empty() {
                f.allow_from
            } else {
                a.allow_from
            },
            allow_unauthenticated_signing: a.allow_unauthenticated_signing
                || f.allow_unauthenticated_signing.unwrap_or(false),
            reload_interval: a.reload_interval.or(f.reload_interval),
            trust_list_url: a.trust_list_url.or(f.trust_list_url),
            stipa_root: if a.stipa_root.is_empty() {
                f.stipa_root
            } else {
                a.stipa_root
            },
            trust_list_interval: a
                .trust_list_interval
                .or(f.trust_list_interval)
                .unwrap_or(DEFAULT_TRUST_LIST_INTERVAL),
            redis,
            fetch_rcd: a.fetch_rcd || f.fetch_rcd.unwrap_or(false),
            max_div: a.max_div.or(f.max_div),
        })
    }

    /// Whether `listen` can only be reached from this host. A name other
    /// than `localhost` counts as exposed (it may resolve to anything).
    fn is_loopback(listen: &str) -> bool {
        if let Ok(a) = listen.parse::<std::net::SocketAddr>() {
            return a.ip().is_loopback();
        }
        let host = listen.rsplit_once(':').map_or(listen, |(h, _)| h);
        host.eq_ignore_ascii_case("localhost")
    }

    /// The checks made before anything is read or bound: combinations of
    /// flags that cannot work, and a signing service reachable from the
    /// network that authenticates nobody.
    fn check_settings(s: &Settings) -> Result<()> {
        match (&s.tls_cert, &s.tls_key) {
            (Some(_), None) => bail!("--tls-cert needs --tls-key (its private key)"),
            (None, Some(_)) => bail!("--tls-key needs --tls-cert (the certificate chain)"),
            _ => {}
        }
        if s.client_ca.is_some() && s.tls_cert.is_none() {
            bail!("--client-ca (mutual TLS) needs --tls-cert and --tls-key (HTTPS)");
        }
        if s.metrics_auth && s.api_keys.is_none() {
            bail!("--metrics-auth needs --api-keys (the keys /metrics then asks for)");
        }
        if let Some(url) = &s.trust_list_url {
            if s.stipa_root.is_empty() {
                bail!("--trust-list-url needs --stipa-root PEM (the pinned STI-PA root the list must chain to)");
            }
            if s.trust_anchors.len() != 1 {
                bail!(
                    "--trust-list-url {url} installs into one directory: give exactly one --trust-anchors DIR"
                );
            }
            if s.trust_list_interval < MIN_RELOAD_INTERVAL {
                bail!("--trust-list-interval must be at least {MIN_RELOAD_INTERVAL} second");
            }
        } else if !s.stipa_root.is_empty() {
            bail!("--stipa-root pins the trust list's signer: use it with --trust-list-url");
        }
        if s.reload_interval.is_some_and(|n| n < MIN_RELOAD_INTERVAL) {
            bail!("--reload-interval must be at least {MIN_RELOAD_INTERVAL} second");
        }
        let authenticated = s.api_keys.is_some() || s.client_ca.is_some();
        if s.key.is_some()
            && !authenticated
            && !s.allow_unauthenticated_signing
            && !is_loopback(&s.listen)
        {
            bail!(
                "refusing to start: --listen {} is not a loopback address and --key enables signing, \
                 but no client authentication is configured, so anyone who reaches the port could get \
                 PASSporTs signed with your STI certificate. Configure --api-keys FILE and/or \
                 --client-ca FILE (mutual TLS, with --tls-cert/--tls-key), listen on 127.0.0.1, or \
                 accept the risk with --allow-unauthenticated-signing (--allow-from CIDR narrows who \
                 can connect but authenticates no one)",
                s.listen
            );
        }
        if s.api_keys.is_some() && s.tls_cert.is_none() && !is_loopback(&s.listen) {
            tracing::warn!("--api-keys over plain HTTP on {}: keys travel in clear text; add --tls-cert/--tls-key", s.listen);
        }
        Ok(())
    }

    /// Most bytes of log lines a runtime worker keeps before writing them
    /// when stderr is a pipe (or a terminal, or anything else not below):
    /// the pipe atomicity bound (PIPE_BUF), so one write never interleaves
    /// with another process's or thread's writes on a pipe to journald.
    const LOG_BATCH: usize = 4096;

    /// The same bound when stderr is a regular file or a socket, where a
    /// write is not split by PIPE_BUF: a write to a file costs the same few
    /// microseconds (the inode's times, the journal) for 4 KiB as for 64, so
    /// sixteen times fewer of them under load (BENCHMARKS.md, issue 21).
    const LOG_BATCH_FILE: usize = 64 * 1024;

    /// [`LOG_BATCH`] or [`LOG_BATCH_FILE`], by what stderr is (looked at once).
    fn log_batch() -> usize {
        static BATCH: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        *BATCH.get_or_init(|| {
            use std::os::fd::AsFd;
            use std::os::unix::fs::FileTypeExt;
            let kind = std::io::stderr()
                .as_fd()
                .try_clone_to_owned()
                .map(std::fs::File::from)
                .and_then(|f| f.metadata())
                .map(|m| m.file_type());
            match kind {
                Ok(t) if t.is_file() || t.is_socket() => LOG_BATCH_FILE,
                _ => LOG_BATCH,
            }
        })
    }

    std::thread_local! {
        /// The log lines of this thread not yet written; `None` on threads
        /// that write each line at once.
        static LOG_BUFFER: std::cell::RefCell<Option<Vec<u8>>> =
            const { std::cell::RefCell::new(None) };
    }

    /// The log's writer (stderr). On the runtime's worker threads the lines
    /// wait in a per-thread buffer and go out in one write when the worker
    /// is about to go idle ([`log_worker_parks`]), when the next line would
    /// take the buffer past [`log_batch`], or when the thread stops: under
    /// load one write carries a dozen request lines on a pipe, or nearly two
    /// hundred to a file, instead of one each (a
    /// write to a file costs about as much CPU as an HTTP request's own
    /// parsing), and an idle server still writes each line as it happens.
    /// Every other thread (start-up, the accept loop, reloads) writes at once.
    struct LogWriter;

    fn write_stderr(bytes: &[u8]) {
        use std::io::Write;
        // Nothing better to do with a failed log write than go on serving.
        let _ = std::io::stderr().write_all(bytes);
    }

    impl std::io::Write for LogWriter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let kept = LOG_BUFFER
                .try_with(|b| {
                    let Ok(mut b) = b.try_borrow_mut() else {
                        return false;
                    };
                    let Some(pending) = b.as_mut() else {
                        return false;
                    };
                    let batch = log_batch();
                    if pending.len() + buf.len() > batch {
                        write_stderr(pending);
                        pending.clear();
                    }
                    if buf.len() > batch {
                        return false;
                    }
                    pending.extend_from_slice(buf);
                    true
                })
                .unwrap_or(false);
            if !kept {
                write_stderr(buf);
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A runtime worker is about to go idle: write its lines (and from now
    /// on, keep them until the next time).
    fn log_worker_parks() {
        let _ = LOG_BUFFER.try_with(|b| {
            if let Ok(mut b) = b.try_borrow_mut() {
                match b.as_mut() {
                    Some(pending) if !pending.is_empty() => {
                        write_stderr(pending);
                        pending.clear();
                    }
                    Some(_) => {}
                    None => *b = Some(Vec::with_capacity(log_batch())),
                }
            }
        });
    }

    /// A runtime thread stops: write what it kept.
    fn log_thread_stops() {
        let _ = LOG_BUFFER.try_with(|b| {
            if let Ok(mut b) = b.try_borrow_mut() {
                if let Some(pending) = b.take() {
                    write_stderr(&pending);
                }
            }
        });
    }

    fn init_logging(format: OutFormat) {
        use tracing_subscriber::EnvFilter;
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(|| LogWriter)
            .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none());
        // A subscriber may already be set (tests embedding the CLI): keep it.
        let _ = match format {
            OutFormat::Json => builder.json().try_init(),
            OutFormat::Text => builder
                .event_format(TextFormat::new(tracing_subscriber::fmt::time::SystemTime))
                .try_init(),
        };
    }

    /// The text log: tracing-subscriber's `Full` format, byte for byte,
    /// with the service's request line (one per request) written by
    /// [`RequestLine`] instead of the generic field formatting. That one
    /// paints every field name and `=` through `nu_ansi_term` even with
    /// colours off and goes through `core::fmt` for each quote: callgrind
    /// put about 20,000 instructions per request in the line (2.4 % of a
    /// verification request). Anything else (other events, spans, colours
    /// on a terminal) is the stock format's.
    pub(super) struct TextFormat<T> {
        full: tracing_subscriber::fmt::format::Format<tracing_subscriber::fmt::format::Full, T>,
        timer: T,
    }

    impl<T: tracing_subscriber::fmt::time::FormatTime + Clone> TextFormat<T> {
        pub(super) fn new(timer: T) -> Self {
            TextFormat {
                full: tracing_subscriber::fmt::format::Format::default().with_timer(timer.clone()),
                timer,
            }
        }
    }

    /// The target of the service's request line.
    const REQUEST_TARGET: &str = "shaken::server";

    impl<S, N, T> tracing_subscriber::fmt::FormatEvent<S, N> for TextFormat<T>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
        N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
        T: tracing_subscriber::fmt::time::FormatTime,
    {
        fn format_event(
            &self,
            ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
            mut writer: tracing_subscriber::fmt::format::Writer<'_>,
            event: &tracing::Event<'_>,
        ) -> std::fmt::Result {
            let meta = event.metadata();
            let ours = !writer.has_ansi_escapes()
                && *meta.level() == tracing::Level::INFO
                && meta.target() == REQUEST_TARGET
                && meta.fields().field("latency_us").is_some()
                && ctx.lookup_current().is_none();
            if !ours {
                return self.full.format_event(ctx, writer, event);
            }
            // Format<Full>: the time and a space, the level padded to 5
            // and a space, `target: `, the fields, a newline.
            if self.timer.format_time(&mut writer).is_err() {
                writer.write_str("<unknown time>")?;
            }
            writer.write_str("  INFO ")?;
            writer.write_str(REQUEST_TARGET)?;
            writer.write_str(": ")?;
            let mut line = RequestLine {
                writer: &mut writer,
                first: true,
                result: Ok(()),
            };
            event.record(&mut line);
            line.result?;
            writer.write_char('\n')
        }
    }

    /// The fields of an event as tracing-subscriber's `DefaultVisitor`
    /// writes them without colours: `message` bare, then ` name=value`
    /// with strings in their `Debug` form (quoted, escaped) and numbers in
    /// decimal; quotes and digits are written directly.
    struct RequestLine<'a, 'w> {
        writer: &'a mut tracing_subscriber::fmt::format::Writer<'w>,
        first: bool,
        result: std::fmt::Result,
    }

    impl RequestLine<'_, '_> {
        /// The separating space and `name=` (or nothing for `message`).
        fn name(&mut self, field: &tracing::field::Field) -> std::fmt::Result {
            if self.first {
                self.first = false;
            } else {
                self.writer.write_char(' ')?;
            }
            match field.name() {
                "message" => Ok(()),
                name => {
                    self.writer
                        .write_str(name.strip_prefix("r#").unwrap_or(name))?;
                    self.writer.write_char('=')
                }
            }
        }
    }

    impl tracing::field::Visit for RequestLine<'_, '_> {
        fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
            if self.result.is_err() {
                return;
            }
            if field.name() == "message" {
                return self.record_debug(field, &format_args!("{value}"));
            }
            self.result = self.name(field).and_then(|()| {
                // `Debug` of a str leaves printable ASCII other than `"`
                // and `\` as it is.
                if value
                    .bytes()
                    .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
                {
                    self.writer.write_char('"')?;
                    self.writer.write_str(value)?;
                    self.writer.write_char('"')
                } else {
                    write!(self.writer, "{value:?}")
                }
            });
        }
        fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
            if self.result.is_err() {
                return;
            }
            self.result = self
                .name(field)
                .and_then(|()| write!(self.writer, "{value}"));
        }
        fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
            if self.result.is_err() {
                return;
            }
            self.result = self
                .name(field)
                .and_then(|()| write!(self.writer, "{value}"));
        }
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
            use std::fmt::Write;
            if self.result.is_err() {
                return;
            }
            self.result = self.name(field).and_then(|()| {
                if field.name() == "message" && self.writer.sanitizes_ansi_escapes() {
                    write!(Sanitized(self.writer), "{value:?}")
                } else {
                    write!(self.writer, "{value:?}")
                }
            });
        }
    }

    /// What tracing-subscriber does to an event's message when it
    /// sanitizes: the control characters a terminal could act on, escaped.
    struct Sanitized<'a, 'w>(&'a mut tracing_subscriber::fmt::format::Writer<'w>);

    impl std::fmt::Write for Sanitized<'_, '_> {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            for ch in s.chars() {
                match ch {
                    '\x1b' => self.0.write_str("\\x1b")?,
                    '\x07' => self.0.write_str("\\x07")?,
                    '\x08' => self.0.write_str("\\x08")?,
                    '\x0c' => self.0.write_str("\\x0c")?,
                    '\x7f' => self.0.write_str("\\x7f")?,
                    '\u{80}'..='\u{9f}' => write!(self.0, "\\u{{{:x}}}", ch as u32)?,
                    _ => self.0.write_char(ch)?,
                }
            }
            Ok(())
        }
    }

    /// The verifier settings of the merged flags and file: the same
    /// library configuration `shaken verify` builds.
    fn verifier_config(s: &Settings) -> VerifierConfig {
        let mut c = VerifierConfig::default();
        c.trust_anchors = anchor_sources(&s.trust_anchors);
        c.cert = s.cert.clone().map(Source::Path);
        c.max_age = s.max_age;
        c.tn_national = s.tn_national;
        c.replay = ReplayMode::from_settings(s.replay, s.replay_dir.as_deref());
        apply_crl_args(&mut c, &s.crl);
        apply_fetch_args(&mut c, &s.fetch);
        apply_redis_args(&mut c, &s.redis);
        c.fetch_rcd = s.fetch_rcd;
        if let Some(n) = s.max_div {
            c.limits.max_div = n;
        }
        c
    }

    /// The `notAfter` of the first certificate of a PEM file, when it parses.
    fn first_not_after(pem: &[u8]) -> Option<i64> {
        shaken::cert::parse_chain(pem, &shaken::Limits::default())
            .ok()
            .and_then(|c| c.first().map(|c| c.not_after()))
    }

    fn warn_expiry(what: &str, not_after: i64, now: i64) {
        let left = not_after.saturating_sub(now);
        if left < 0 {
            tracing::warn!("{what} expired {} days ago", -left / 86_400);
        } else if left < EXPIRY_WARNING_SECONDS {
            tracing::warn!("{what} expires in {} days", left / 86_400);
        }
    }

    /// The signing certificate: the leaf of `--cert`, or of the chain at
    /// `x5u` fetched once through the library's guarded fetcher (https, SSRF
    /// guard, size and time limits, as for verification).
    async fn signing_certificate(
        s: &Settings,
        vc: &VerifierConfig,
        x5u: &str,
    ) -> Result<shaken::cert::Certificate> {
        let chain = match &s.cert {
            Some(path) => shaken::load::chain(&Source::Path(path.clone()), &vc.limits)
                .map_err(config_error)?,
            None => {
                let opts = shaken::sti::fetch_options(vc).map_err(config_error)?;
                let fetcher = shaken::fetch::HttpFetcher::new(&opts)
                    .map_err(|e| anyhow::anyhow!("setting up the x5u fetcher: {e}"))?;
                let body = fetcher
                    .get(x5u, shaken::fetch::X5U_ACCEPT, vc.limits.max_fetch_body)
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "fetching the signing certificate at --x5u {x5u} (to check it matches --key): {e}; \
                             give it with --cert FILE if this host cannot reach it"
                        )
                    })?;
                shaken::cert::parse_chain(&body.body, &vc.limits)
                    .map_err(|e| anyhow::anyhow!("the certificate at --x5u {x5u}: {e}"))?
            }
        };
        chain
            .into_iter()
            .next()
            .ok_or_else(|| anyhow::anyhow!("no certificate at --x5u {x5u}"))
    }

    /// Load everything a reload replaces. `previous`: the services in use
    /// (their replay store and x5u cache are kept).
    async fn load_services(s: &Settings, previous: Option<&Services>) -> Result<Services> {
        let vc = verifier_config(s);
        let vs = match previous {
            Some(p) => p.vs.rebuild(&vc),
            None => StiVs::from_config(&vc),
        }
        .map_err(config_error)?;
        let now = s.now.unwrap_or_else(|| ServerClock::System.now());
        let mut services = Services::new(Arc::new(vs));
        match (&s.key, &s.x5u) {
            (Some(key), Some(x5u)) => {
                let mut sc = SignerConfig::new(key.as_path(), x5u.clone());
                sc.tn_national = s.tn_national;
                let signer = StiAs::from_config(&sc).map_err(config_error)?;
                let cert = signing_certificate(s, &vc, x5u).await?;
                let from = match &s.cert {
                    Some(p) => format!("--cert {}", p.display()),
                    None => format!("--x5u {x5u}"),
                };
                match (signer.public_key(), cert.public_key_point()) {
                    (Some(k), Some(c)) if k.as_slice() == c => {}
                    _ => bail!(
                        "the signing key --key {} does not match the certificate of {from} ({}): \
                         verifiers would fail every PASSporT with 438; install the key and certificate \
                         that belong together",
                        key.display(),
                        cert.subject()
                    ),
                }
                warn_expiry(
                    &format!("the signing certificate ({from}, {})", cert.subject()),
                    cert.not_after(),
                    now,
                );
                services = services.with_signing(signer, Some(cert.not_after()));
            }
            (Some(_), None) => {
                bail!("--key needs --x5u (the certificate URL put into signed PASSporTs)")
            }
            (None, Some(_)) => bail!("--x5u needs --key (the signing key)"),
            (None, None) => {}
        }
        if let Some(path) = &s.api_keys {
            let keys = ApiKeys::load(path)?;
            services = services.with_api_keys(Arc::new(keys));
        }
        if let (Some(cert), Some(key)) = (&s.tls_cert, &s.tls_key) {
            let files = TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: s.client_ca.clone(),
            };
            let tls = files.load()?;
            let not_after = std::fs::read(cert).ok().and_then(|b| first_not_after(&b));
            if let Some(t) = not_after {
                warn_expiry(
                    &format!("the TLS certificate --tls-cert {}", cert.display()),
                    t,
                    now,
                );
            }
            services = services.with_tls(tls, not_after);
        }
        Ok(services)
    }

    fn build_config(s: &Settings, services: Services) -> Result<ServerConfig> {
        if services.vs.verifier().anchors().is_empty() {
            tracing::warn!("no trust anchors (--trust-anchors or $SHAKEN_TRUST_ANCHORS): every verification will fail with 437");
        }
        let mut config = ServerConfig::new(s.listen.clone(), services.vs.clone());
        if let Some(signing) = services.signing.clone() {
            config = config.with_signing(signing);
            if let Some(t) = services.signing_cert_not_after {
                config = config.with_signing_cert_not_after(t);
            }
        } else {
            tracing::info!("no --key: signing is off (/stir/v1/signing answers 404 SVC4003)");
        }
        if let Some(keys) = services.api_keys.clone() {
            config = config.with_api_keys(keys);
        }
        if let Some(tls) = services.tls.clone() {
            config = config.with_tls(tls, services.tls_not_after);
        }
        let allow = AllowFrom::parse(&s.allow_from)?;
        config = config
            .with_allow_from(allow)
            .with_metrics_auth(s.metrics_auth)
            .with_ui(s.ui);
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

    /// The settings a reload uses: the flags as given at start, merged with
    /// the configuration file as it is now (so a new `x5u`, key path or
    /// anchors directory in the file takes effect), checked like at start.
    fn reread(args: &ServeArgs) -> Result<Settings> {
        let file = match &args.config {
            Some(p) => FileConfig::load(p)?,
            None => FileConfig::default(),
        };
        let settings = merge(args.clone(), file)?;
        check_settings(&settings)?;
        Ok(settings)
    }

    /// One reload: read the configuration file again, load the services and
    /// swap them in, or keep the running ones and say why.
    async fn reload(args: &ServeArgs, state: &AppState, trigger: &str) {
        let settings = match reread(args) {
            Ok(s) => s,
            Err(e) => {
                state.reload_failed();
                tracing::error!(trigger, "reload failed, keeping the running state: {e:#}");
                return;
            }
        };
        let workers = tokio::runtime::Handle::current().metrics().num_workers();
        if let Some(n) = settings.threads.filter(|n| *n != workers) {
            tracing::warn!(
                trigger,
                "threads = {n} takes effect at the next start; running with {workers} worker threads"
            );
        }
        let current = state.services();
        match load_services(&settings, Some(&current)).await {
            Ok(next) => {
                let anchors = next.vs.verifier().anchors().len();
                let keys = next.api_keys.as_ref().map(|k| k.len());
                match state.reload(next) {
                    Ok(()) => tracing::info!(
                        trigger,
                        anchors,
                        api_keys = keys.unwrap_or(0),
                        "reloaded: trust anchors, CRLs, signing key and certificate, TLS and API keys swapped in"
                    ),
                    Err(e) => tracing::error!(trigger, "reload failed, keeping the running state: {e}"),
                }
            }
            Err(e) => {
                state.reload_failed();
                tracing::error!(trigger, "reload failed, keeping the running state: {e:#}");
            }
        }
    }

    /// Reload on SIGHUP and every `interval`, until the process ends.
    async fn reload_loop(args: ServeArgs, settings: Settings, state: AppState, mut hup: Hangup) {
        let mut tick = settings.reload_interval.map(|n| {
            let period = Duration::from_secs(n.max(MIN_RELOAD_INTERVAL));
            let mut t = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            t
        });
        // A directory `shaken trust update` installs (a link swapped to a new
        // version) is watched: a new version triggers a reload (issue 17).
        let generations = |paths: &[PathBuf]| -> Vec<Option<String>> {
            paths
                .iter()
                .map(|p| shaken::trust_dir::generation(p))
                .collect()
        };
        let mut seen = generations(&settings.trust_anchors);
        let mut watch = tokio::time::interval(Duration::from_secs(TRUST_DIR_WATCH_SECS));
        watch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let trigger = tokio::select! {
                () = hup.recv() => "SIGHUP",
                _ = async {
                    match &mut tick {
                        Some(t) => t.tick().await,
                        None => std::future::pending().await,
                    }
                } => "reload-interval",
                _ = watch.tick() => {
                    let now = generations(&settings.trust_anchors);
                    if now == seen {
                        continue;
                    }
                    "trust-dir-changed"
                }
            };
            reload(&args, &state, trigger).await;
            seen = generations(&settings.trust_anchors);
        }
    }

    /// SIGHUP, registered before the socket is bound (its default action
    /// would end the process).
    struct Hangup {
        #[cfg(unix)]
        signal: Option<tokio::signal::unix::Signal>,
    }

    impl Hangup {
        fn register() -> Hangup {
            #[cfg(unix)]
            {
                let signal =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
                if signal.is_none() {
                    tracing::warn!("SIGHUP handler not installed: reload with --reload-interval");
                }
                Hangup { signal }
            }
            #[cfg(not(unix))]
            Hangup {}
        }
        async fn recv(&mut self) {
            #[cfg(unix)]
            if let Some(s) = &mut self.signal {
                if s.recv().await.is_some() {
                    return;
                }
            }
            std::future::pending::<()>().await
        }
    }

    /// `--trust-list-url`: what a refresh needs, built once at start.
    struct TrustRefresher {
        url: String,
        dir: PathBuf,
        roots: shaken::cert::TrustAnchors,
        fetch: shaken::fetch::FetchOptions,
        limits: shaken::Limits,
        fixed_now: Option<i64>,
        interval: u64,
    }

    impl TrustRefresher {
        fn new(s: &Settings) -> Result<Option<TrustRefresher>> {
            let (Some(url), [dir]) = (&s.trust_list_url, s.trust_anchors.as_slice()) else {
                return Ok(None);
            };
            let sources: Vec<Source> = s.stipa_root.iter().cloned().map(Source::Path).collect();
            let roots = shaken::load::trust_anchors(&sources)
                .map_err(|e| anyhow::Error::new(e).context("--stipa-root"))?;
            let mut vc = VerifierConfig::default();
            apply_fetch_args(&mut vc, &s.fetch);
            let fetch = shaken::sti::fetch_options(&vc).map_err(config_error)?;
            Ok(Some(TrustRefresher {
                url: url.clone(),
                dir: dir.clone(),
                roots,
                fetch,
                limits: vc.limits.clone(),
                fixed_now: s.now,
                interval: s.trust_list_interval,
            }))
        }

        fn now(&self) -> i64 {
            self.fixed_now.unwrap_or_else(crate::cli::clock::now)
        }

        /// One refresh: fetch, verify and install; logged. `true` when the
        /// installed list is the fetched one (new or unchanged).
        async fn refresh(&self) -> bool {
            let updater = shaken::trust_dir::Updater {
                roots: &self.roots,
                signer: None,
                fetch: &self.fetch,
                limits: &self.limits,
            };
            let now = self.now();
            let ok = match updater.refresh(&self.dir, &self.url, now).await {
                Ok(shaken::trust_dir::Refreshed::Installed { state, diff }) => {
                    tracing::info!(
                        url = %self.url,
                        sequence = state.sequence,
                        added = diff.added.len(),
                        removed = diff.removed.len(),
                        "trust list installed"
                    );
                    true
                }
                Ok(other) => {
                    tracing::debug!(url = %self.url, sequence = other.state().sequence, "trust list unchanged");
                    true
                }
                Err(e) => {
                    tracing::error!(url = %self.url, "trust list refresh failed, keeping the installed list: {e}");
                    false
                }
            };
            self.warn_if_expired(now);
            ok
        }

        /// A list past its `exp` keeps serving its roots (never an empty
        /// store), loudly.
        fn warn_if_expired(&self, now: i64) {
            if let Ok(Some(st)) = shaken::trust_dir::read_state(&self.dir) {
                if st.exp < now {
                    tracing::warn!(
                        dir = %self.dir.display(),
                        exp = st.exp,
                        "the installed STI-PA trust list is past its exp: its roots stay in use, but the list must be refreshed"
                    );
                }
            }
        }
    }

    /// Refresh the trust list every interval; the directory watch of the
    /// reload loop then swaps the new roots in.
    async fn trust_list_loop(t: TrustRefresher, state: AppState) {
        let period = Duration::from_secs(t.interval.max(MIN_RELOAD_INTERVAL));
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let ok = t.refresh().await;
            state.metrics().trust_refreshed(ok);
        }
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
        let args = a.clone();
        let settings = merge(a, file)?;
        // Before anything is read or bound: no socket is ever opened for a
        // configuration that would sign for strangers.
        check_settings(&settings)?;
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        if let Some(n) = settings.threads {
            builder.worker_threads(n);
        }
        let rt = builder
            .enable_all()
            .on_thread_park(log_worker_parks)
            .on_thread_stop(log_thread_stops)
            .build()
            .context("starting the async runtime")?;
        rt.block_on(async move {
            let hup = Hangup::register();
            // The trust list first, so that the verifier starts with it.
            let trust = TrustRefresher::new(&settings)?;
            let first = match &trust {
                Some(t) => {
                    let ok = t.refresh().await;
                    if !ok && shaken::trust_dir::read_state(&t.dir).ok().flatten().is_none() {
                        bail!(
                            "--trust-list-url {}: the first refresh failed and {} holds no installed list, so nothing could be trusted",
                            t.url,
                            t.dir.display()
                        );
                    }
                    Some(ok)
                }
                None => None,
            };
            // Built inside the runtime: the fetcher's client may spawn tasks.
            let services = load_services(&settings, None).await?;
            let mut config = build_config(&settings, services)?;
            if let Some(t) = &trust {
                config = config.with_trust_list_dir(t.dir.clone());
            }
            let https = config.tls.is_some();
            let server = Server::bind(config).await?;
            let addr = server.local_addr();
            eprintln!("listening on {addr}");
            let workers = tokio::runtime::Handle::current().metrics().num_workers();
            tracing::info!(%addr, https, workers, "shaken serve: ATIS-1000082 API on /stir/v1/signing and /stir/v1/verification");
            if settings.ui {
                let scheme = if https { "https" } else { "http" };
                tracing::info!(%addr, "the page for people (--ui) is on {scheme}://{addr}/");
            }
            if let Some(ok) = first {
                server.state().metrics().trust_refreshed(ok);
            }
            if let Some(t) = trust {
                tokio::spawn(trust_list_loop(t, server.state().clone()));
            }
            tokio::spawn(reload_loop(args, settings, server.state().clone(), hup));
            server.run(shutdown_signal()).await?;
            tracing::info!("stopped");
            Ok::<_, anyhow::Error>(())
        })?;
        Ok(EXIT_OK)
    }

    #[cfg(test)]
    mod tests {
        #![allow(clippy::unwrap_used, clippy::expect_used)]
        use super::TextFormat;
        use std::sync::{Arc, Mutex};
        use tracing_subscriber::fmt::format::Writer;
        use tracing_subscriber::fmt::time::FormatTime;

        #[derive(Clone)]
        struct Fixed;
        impl FormatTime for Fixed {
            fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
                w.write_str("2026-12-01T21:35:22.123456Z")
            }
        }

        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        impl Buf {
            fn text(&self) -> String {
                String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
            }
        }

        /// The service's request line, with the field names and types of
        /// `shaken::server`'s (`observed` in crates/shaken/src/server/mod.rs).
        #[allow(clippy::too_many_arguments)]
        fn request_line(
            peer: &str,
            request_id: &str,
            path: &str,
            status: u16,
            origid: &str,
            verstat: &str,
            reason: u16,
            auth: &str,
        ) {
            let path: std::borrow::Cow<'static, str> = path.to_owned().into();
            tracing::info!(
                target: "shaken::server",
                peer = %peer,
                request_id,
                method = %"POST",
                path = %path,
                status,
                latency_us = 1234u64,
                origid,
                attest = "A",
                verstat,
                reasoncode = reason,
                reason = "-",
                message_id = "-",
                auth,
                "request"
            );
        }

        fn events() {
            request_line(
                "127.0.0.1:46712",
                "abc",
                "/stir/v1/verification",
                200,
                "de305d54-75b4-431b-adb2-eb6b9e546014",
                "TN-Validation-Passed",
                0,
                "-",
            );
            // Quotes, backslashes, spaces, non-ASCII and control characters
            // in the strings, the Debug escapes of each.
            request_line(
                "-",
                "a\"b\\c d'e",
                "/x y/\u{e9}",
                401,
                "\u{e9}t\u{e9}\n\t\u{1b}[31m",
                "-",
                65535,
                "api-key-missing",
            );
            tracing::info!(target: "shaken::server", latency_us = 7u64, r#type = "x", "re\u{1b}quest \u{85}\u{7f}");
            tracing::info!(target: "shaken::server", "shutting down: finishing requests in flight");
            tracing::warn!(target: "shaken::server", peer = %"1.2.3.4:5", refused = 3u64, "peer outside --allow-from");
            tracing::info!(addr = %"127.0.0.1:8080", https = false, "shaken serve");
            let span = tracing::info_span!("outer", n = 1);
            let _in = span.enter();
            request_line("-", "in-a-span", "/", 404, "-", "-", 0, "-");
        }

        /// The text format writes the same bytes as tracing-subscriber's
        /// own `Full` format, for the request line and everything else.
        #[test]
        fn text_format_is_the_stock_format_byte_for_byte() {
            let stock = Buf::default();
            let ours = Buf::default();
            let (s, o) = (stock.clone(), ours.clone());
            let a = tracing_subscriber::fmt()
                .with_ansi(false)
                .with_timer(Fixed)
                .with_writer(move || s.clone())
                .finish();
            let b = tracing_subscriber::fmt()
                .with_ansi(false)
                .event_format(TextFormat::new(Fixed))
                .with_writer(move || o.clone())
                .finish();
            tracing::subscriber::with_default(a, events);
            tracing::subscriber::with_default(b, events);
            let (stock, ours) = (stock.text(), ours.text());
            assert_eq!(stock.lines().count(), 7, "{stock}");
            assert!(stock.contains("request_id=\"abc\""), "{stock}");
            assert_eq!(ours, stock);
        }
    }
}
