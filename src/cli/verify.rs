//! `shaken verify` and `shaken decode`.

use super::args::{CrlArgs, CrlPolicyArg, DecodeArgs, FetchArgs, OutFormat, VerifyArgs};
use super::common::{identity_input, identity_value, load_anchors, now, rfc3339, IdentityInput};
use super::{EXIT_FAIL, EXIT_OK};
use anyhow::{Context, Result};
use shaken::cert::parse_chain;
use shaken::cert::{Certificate, ChainPolicy, Crl};
use shaken::fetch::FetchOptions;
use shaken::online::{chain_cache, OnlineVerifier};
use shaken::passport::{dangerous, ClaimsPolicy, Token};
use shaken::report::Report;
use shaken::tn::{TelephoneNumber, TnPolicy};
use shaken::verify::{self, CallContext, PartyId, Verifier, VerifyError, VerifyPolicy};
use shaken::verify::{Failure, VerifiedPassport};
use shaken::Limits;
use std::io::Write;
use std::sync::Arc;

/// Everything a verification mode needs, built once from the flags.
pub struct VerifySetup {
    /// The core verifier (anchors, CRLs, policy, limits, replay store).
    pub verifier: Arc<Verifier>,
    /// The `--cert` chain, used instead of fetching x5u.
    pub chain: Option<Arc<Vec<Certificate>>>,
    /// The x5u cache (None with `--cert`).
    pub online: Option<OnlineVerifier>,
    /// Limits.
    pub limits: Limits,
    /// TN canonicalisation.
    pub tn_policy: TnPolicy,
    /// `--now`, if given (else each call uses the wall clock or its own time).
    pub now: Option<i64>,
}

impl VerifySetup {
    /// Verify one Identity header value (sync; fetches on a cache miss).
    pub fn verify_value(
        &self,
        value: &str,
        ctx: &CallContext,
        rt: &tokio::runtime::Runtime,
    ) -> Result<VerifiedPassport, Box<Failure>> {
        let identity = verify::parse_identity_or_token(value, &self.limits)
            .map_err(|e| Box::new(failure(e)))?;
        self.verify_identity(&identity, ctx, rt)
    }

    /// Verify one parsed Identity header (sync; fetches on a cache miss).
    pub fn verify_identity(
        &self,
        identity: &shaken::identity::IdentityHeader,
        ctx: &CallContext,
        rt: &tokio::runtime::Runtime,
    ) -> Result<VerifiedPassport, Box<Failure>> {
        match (&self.chain, &self.online) {
            (Some(chain), _) => self.verifier.verify_with_chain(identity, ctx, chain),
            (None, Some(online)) => match online.verify_cached(identity, ctx) {
                Some(r) => r,
                None => rt.block_on(online.verify(identity, ctx)),
            },
            (None, None) => Err(Box::new(failure(VerifyError::CertUnavailable {
                detail: "no certificate source configured".into(),
                cause: "no-cert",
            }))),
        }
    }
}

/// Load CRL files named by `--crl` (URLs are fetched by `build_setup`).
pub fn load_crl_files(c: &CrlArgs, limits: &Limits) -> Result<Vec<Crl>> {
    let mut out = Vec::new();
    for src in &c.crl {
        if src.starts_with("http://") || src.starts_with("https://") {
            continue;
        }
        let bytes = std::fs::read(src).with_context(|| format!("reading --crl {src}"))?;
        out.push(Crl::from_pem_or_der(&bytes, limits).with_context(|| format!("--crl {src}"))?);
    }
    Ok(out)
}

/// Build the verifier and certificate source from the flags.
/// `replay_default`: whether replay detection is on unless `--replay`/`--no-replay` say otherwise.
pub fn build_setup(a: &VerifyArgs, replay_default: bool) -> Result<VerifySetup> {
    let limits = Limits::default();
    let tn_policy = TnPolicy {
        national: a.tn.tn_national,
    };
    let anchors = load_anchors(&a.trust_anchors)?;
    let policy = VerifyPolicy {
        max_age: i64::from(a.max_age),
        max_future: i64::from(a.max_age),
        claims: ClaimsPolicy {
            lenient_iat_string: a.lenient_iat,
        },
        tn: tn_policy,
        chain: ChainPolicy {
            crl_required: a.crl.crl_policy == CrlPolicyArg::Hard
                && (!a.crl.crl.is_empty() || a.crl.fetch_crl),
            ..ChainPolicy::default()
        },
        ..VerifyPolicy::default()
    };
    // The --cert chain first: its CRL distribution points are known now.
    let cert_chain = match &a.cert {
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("reading --cert {}", path.display()))?;
            Some(
                parse_chain(&bytes, &limits)
                    .with_context(|| format!("--cert {}", path.display()))?,
            )
        }
        None => None,
    };
    let mut crls = load_crl_files(&a.crl, &limits)?;
    // CRL URLs: `--crl URL`, and with `--fetch-crl --cert` the chain's CRL
    // distribution points, fetched once here with the x5u rules. With x5u
    // fetching, the distribution points are fetched per chain by the online
    // verifier.
    let mut crl_urls: Vec<String> = a
        .crl
        .crl
        .iter()
        .filter(|s| s.starts_with("http://") || s.starts_with("https://"))
        .cloned()
        .collect();
    if a.crl.fetch_crl {
        if let Some(chain) = &cert_chain {
            for u in shaken::online::crl_urls(chain) {
                if !crl_urls.contains(&u) {
                    crl_urls.push(u);
                }
            }
        }
    }
    let crl_fetcher = if crl_urls.is_empty() && !a.crl.fetch_crl {
        None
    } else {
        Some(Arc::new(shaken::online::CrlFetcher::new(fetch_options(
            &a.fetch, &limits,
        )?)?))
    };
    let mut crl_failures = Vec::new();
    if let (Some(fetcher), false) = (&crl_fetcher, crl_urls.is_empty()) {
        let (fetched, failed) = runtime()?.block_on(fetcher.fetch_all(&crl_urls));
        crls.extend(fetched);
        crl_failures = failed;
    }
    let mut verifier = Verifier::new(anchors)
        .with_policy(policy)
        .with_limits(limits.clone())
        .with_crls(crls)
        .with_crl_failures(crl_failures);
    let replay = if a.no_replay {
        false
    } else {
        a.replay || a.replay_dir.is_some() || replay_default
    };
    if replay {
        verifier = with_replay_store(verifier, a.replay_dir.as_deref())?;
    }
    let verifier = Arc::new(verifier);
    let (chain, online) = match cert_chain {
        Some(chain) => (Some(Arc::new(chain)), None),
        None => {
            let cache = chain_cache(fetch_options(&a.fetch, &limits)?)?;
            let mut online = OnlineVerifier::new(verifier.clone(), Arc::new(cache));
            if let (Some(fetcher), true) = (crl_fetcher, a.crl.fetch_crl) {
                online = online.with_crl_fetcher(fetcher);
            }
            (None, Some(online))
        }
    };
    Ok(VerifySetup {
        verifier,
        chain,
        online,
        limits,
        tn_policy,
        now: a.now,
    })
}

pub fn run(a: VerifyArgs) -> Result<i32> {
    if a.sip.is_some() {
        return super::sip::verify(a);
    }
    if a.batch.is_some() {
        return super::batch::verify(a);
    }
    if a.pcap.is_some() {
        return super::pcap::verify(a);
    }
    let setup = build_setup(&a, false)?;
    let value = identity_input(a.value.as_deref(), setup.limits.max_identity_header_len)?;
    let mut ctx = CallContext::at(setup.now.unwrap_or_else(now));
    if let Some(o) = &a.orig {
        ctx.orig.push(PartyId::Tn(
            TelephoneNumber::parse(o, &setup.tn_policy).with_context(|| "--orig")?,
        ));
    }
    for d in &a.dest {
        ctx.dest.push(PartyId::Tn(
            TelephoneNumber::parse(d, &setup.tn_policy).with_context(|| "--dest")?,
        ));
    }
    let rt = runtime()?;
    let result = match value {
        IdentityInput::Value(v) => setup.verify_value(&v, &ctx, &rt),
        IdentityInput::Refused(e) => Err(Box::new(Failure::new(VerifyError::IdentityMalformed(e)))),
    };
    let report = verify::report(&result);
    render(&report, a.format)?;
    Ok(if report.passed() { EXIT_OK } else { EXIT_FAIL })
}

/// Replay detection in memory, or shared through `dir` with the other
/// processes of the host (`--replay-dir`).
pub fn with_replay_store(verifier: Verifier, dir: Option<&std::path::Path>) -> Result<Verifier> {
    Ok(match dir {
        None => {
            let store = Arc::new(verifier.default_replay_store());
            verifier.with_replay(store)
        }
        Some(dir) => {
            let p = verifier.policy();
            let store = shaken::replay_dir::DirReplayStore::open(dir, p.max_age + p.max_future)
                .context("--replay-dir")?;
            verifier.with_replay_guard(Arc::new(store))
        }
    })
}

/// A small runtime for one-shot network work.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Fetch options from the command line.
pub fn fetch_options(f: &FetchArgs, limits: &Limits) -> Result<FetchOptions> {
    let mut limits = limits.clone();
    limits.connect_timeout = std::time::Duration::from_millis(f.connect_timeout_ms);
    limits.fetch_timeout = std::time::Duration::from_millis(f.fetch_timeout_ms);
    let mut extra = Vec::new();
    for p in &f.tls_ca {
        extra.push(std::fs::read(p).with_context(|| format!("reading --tls-ca {}", p.display()))?);
    }
    Ok(FetchOptions {
        allow_http: f.allow_http_x5u,
        allow_private: f.allow_private_x5u,
        allow_any_port: f.allow_any_port_x5u,
        extra_tls_roots_pem: extra,
        limits,
        cache_dir: f.cache_dir.clone(),
        ..FetchOptions::default()
    })
}

/// A failure with nothing decoded yet.
pub fn failure(e: VerifyError) -> verify::Failure {
    verify::Failure::new(e)
}

/// Print a report as text or JSON.
pub fn render(report: &Report, format: OutFormat) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        OutFormat::Json => writeln!(out, "{}", serde_json::to_string(report)?)?,
        OutFormat::Text => {
            let mut t = text(report);
            if use_colour() {
                t = colour_headline(&t, report.passed());
            }
            out.write_all(t.as_bytes())?
        }
    }
    Ok(())
}

/// Colour only on a terminal, and never when `NO_COLOR` is set (no-color.org).
pub fn use_colour() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::IsTerminal::is_terminal(&std::io::stdout())
}

/// The first line in bold green (passed) or bold red (not verified).
pub fn colour_headline(text: &str, passed: bool) -> String {
    let code = if passed { "1;32" } else { "1;31" };
    match text.split_once('\n') {
        Some((head, rest)) => format!("\x1b[{code}m{head}\x1b[0m\n{rest}"),
        None => format!("\x1b[{code}m{text}\x1b[0m"),
    }
}

/// The report for people.
pub fn text(r: &Report) -> String {
    let mut s = String::new();
    let line = |s: &mut String, k: &str, v: &str| {
        s.push_str(&format!("  {k:<15}{v}\n"));
    };
    if r.passed() {
        s.push_str(
            "PASSED: the caller ID is signed by a trusted carrier and the signature checks out.\n",
        );
    } else {
        s.push_str("NOT VERIFIED: do not trust this caller ID.\n");
    }
    line(&mut s, "verstat", r.verstat.as_str());
    if let Some(reason) = &r.reason {
        line(
            &mut s,
            "reason",
            &format!("{} {}", reason.code, reason.text),
        );
        line(&mut s, "detail", &reason.detail);
    }
    if let Some(o) = &r.orig {
        line(&mut s, "calling number", o);
    }
    if !r.dest.is_empty() {
        line(&mut s, "called number", &r.dest.join(", "));
    }
    if let Some(a) = r.attest {
        line(&mut s, "attestation", &format!("{a} - {}", a.meaning()));
    }
    if let Some(signer) = &r.signer {
        let spc = signer
            .spc
            .as_deref()
            .map(|s| format!(" (SPC {s})"))
            .unwrap_or_default();
        let trust = if signer.trusted { "" } else { " [NOT trusted]" };
        line(
            &mut s,
            "signed by",
            &format!("{}{spc}{trust}", signer.subject),
        );
    }
    if let Some(iat) = r.iat {
        line(
            &mut s,
            "signed at",
            &format!("{} (iat {iat})", rfc3339(iat)),
        );
    }
    if let Some(origid) = &r.origid {
        line(&mut s, "origid", origid);
    }
    if let Some(x5u) = &r.x5u {
        line(&mut s, "certificate", x5u);
    }
    for w in &r.warnings {
        line(&mut s, "warning", w);
    }
    if !r.passed() {
        if let Some(reason) = &r.reason {
            line(&mut s, "what to do", advice(reason.code));
        }
    }
    s
}

fn advice(code: u16) -> &'static str {
    match code {
        403 => "the signature is too old or dated in the future: a replayed or badly clocked call; check both clocks (NTP) and treat the number as unverified",
        428 => "the call is unsigned: treat the number as unverified",
        436 => "the signer's certificate could not be fetched or the header points nowhere: treat the number as unverified and tell the originating carrier",
        437 => "the signer's certificate is not trusted (or not usable): treat the number as unverified; check --trust-anchors",
        438 => "the signed identity does not match the call or the signature is broken: the caller ID may be spoofed",
        _ => "treat the number as unverified",
    }
}

pub fn decode(a: DecodeArgs) -> Result<i32> {
    let limits = Limits::default();
    let value = identity_value(a.value.as_deref(), limits.max_identity_header_len * 2)?;
    let identity = verify::parse_identity_or_token(&value, &limits).context("decoding")?;
    let mut out = serde_json::json!({
        "verified": false,
        "warning": "UNVERIFIED: decoded only; nothing was checked",
        "identity": {
            "info": identity.info,
            "alg": identity.alg,
            "ppt": identity.ppt,
            "params": identity.params.iter().map(|(k, v)| serde_json::json!({"name": k, "value": v})).collect::<Vec<_>>(),
        },
    });
    match Token::parse(&identity.token, &limits).context("decoding the PASSporT")? {
        Token::Compact { signature } => {
            out["form"] = "compact".into();
            out["signature"] = shaken::b64::encode(&signature).into();
        }
        Token::Full(p) => {
            out["form"] = "full".into();
            out["header"] = p.header_json().clone();
            out["claims"] = dangerous::payload_json(&p).clone();
            out["signature"] = shaken::b64::encode(p.signature()).into();
            if let Ok(c) = dangerous::claims(
                &p,
                &limits,
                &ClaimsPolicy {
                    lenient_iat_string: true,
                },
            ) {
                out["iat_utc"] = rfc3339(c.iat).into();
            }
        }
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", serde_json::to_string_pretty(&out)?)?;
    Ok(EXIT_OK)
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
            ..FetchArgs::default()
        };
        let o = fetch_options(&f, &Limits::default()).unwrap();
        assert!(o.allow_http && !o.allow_private && o.allow_any_port);
        assert_eq!(
            o.limits.connect_timeout,
            std::time::Duration::from_millis(1500)
        );
        assert_eq!(
            o.limits.fetch_timeout,
            std::time::Duration::from_millis(4000)
        );
    }

    #[test]
    fn headline_colour() {
        assert_eq!(
            colour_headline("PASSED\n  x\n", true),
            "\x1b[1;32mPASSED\x1b[0m\n  x\n"
        );
        assert_eq!(colour_headline("NOT", false), "\x1b[1;31mNOT\x1b[0m");
    }
}
