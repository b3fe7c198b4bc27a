//! `shaken verify` and `shaken decode`.

use super::args::{CrlArgs, CrlPolicyArg, DecodeArgs, FetchArgs, OutFormat, VerifyArgs};
use super::clock::{now, rfc3339};
use super::input::{identity_input, identity_value, IdentityInput};
use super::{EXIT_FAIL, EXIT_OK};
use anyhow::{Context, Result};
use shaken::config::{ConfigError, CrlPolicy, CrlSpec, ReplayMode, Setting, Source};
use shaken::passport::ClaimsPolicy;
use shaken::passport::{dangerous, Token};
use shaken::report::Report;
use shaken::tn::{TelephoneNumber, TnPolicy};
use shaken::verify::{self, CallContext, PartyId, Verifier, VerifyError};
use shaken::verify::{Failure, VerifiedPassport};
use shaken::Limits;
use shaken::{StiVs, VerifierConfig};
use std::io::Write;
use std::sync::Arc;

/// Everything a verification mode needs, built once from the flags: the
/// library's verification service and the pinned clock.
pub struct VerifySetup {
    /// The verification service (anchors, CRLs, chain source, replay).
    pub vs: Arc<StiVs>,
    /// The core verifier.
    pub verifier: Arc<Verifier>,
    /// Limits.
    pub limits: Limits,
    /// TN canonicalisation.
    pub tn_policy: TnPolicy,
    /// `--now`, if given (else each call uses the wall clock or its own time).
    pub now: Option<i64>,
}

impl VerifySetup {
    /// Verify one Identity header value (blocking; fetches on a cache miss).
    pub fn verify_value(
        &self,
        value: &str,
        ctx: &CallContext,
    ) -> Result<VerifiedPassport, Box<Failure>> {
        self.vs.verify_result_blocking(value, ctx)
    }

    /// Verify one parsed Identity header (blocking; fetches on a cache miss).
    pub fn verify_identity(
        &self,
        identity: &shaken::identity::IdentityHeader,
        ctx: &CallContext,
    ) -> Result<VerifiedPassport, Box<Failure>> {
        self.vs.verify_header_blocking(identity, ctx)
    }
}

/// The flags of a verification mode as the library's configuration.
/// `replay_default`: whether replay detection is on unless `--replay` /
/// `--no-replay` say otherwise.
pub fn verifier_config(a: &VerifyArgs, replay_default: bool) -> VerifierConfig {
    let replay = if a.no_replay {
        false
    } else {
        a.replay || a.replay_dir.is_some() || replay_default
    };
    let mut c = VerifierConfig::default();
    c.trust_anchors = anchor_sources(&a.trust_anchors);
    c.cert = a.cert.clone().map(Source::Path);
    c.max_age = a.max_age;
    c.lenient_iat = a.lenient_iat;
    c.tn_national = a.tn.tn_national;
    c.replay = match (&a.replay_dir, replay) {
        (_, false) => ReplayMode::Off,
        (Some(d), true) => ReplayMode::Dir(d.clone()),
        (None, true) => ReplayMode::Memory,
    };
    apply_crl_args(&mut c, &a.crl);
    apply_fetch_args(&mut c, &a.fetch);
    c
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
}

/// `--trust-anchors`, else `$SHAKEN_TRUST_ANCHORS` (a path list).
pub fn anchor_sources(paths: &[std::path::PathBuf]) -> Vec<Source> {
    let mut list: Vec<std::path::PathBuf> = paths.to_vec();
    if list.is_empty() {
        if let Some(env) = std::env::var_os(super::input::TRUST_ANCHORS_ENV) {
            list.extend(std::env::split_paths(&env).filter(|p| !p.as_os_str().is_empty()));
        }
    }
    list.into_iter().map(Source::Path).collect()
}

/// A configuration error with the flag that holds the setting.
pub fn config_error(e: ConfigError) -> anyhow::Error {
    let flag = match e.setting() {
        Setting::Fetcher => "--tls-ca".to_owned(),
        s => format!("--{}", s.key()),
    };
    anyhow::Error::new(e).context(flag)
}

/// Build the verification service from the flags.
pub fn build_setup(a: &VerifyArgs, replay_default: bool) -> Result<VerifySetup> {
    let config = verifier_config(a, replay_default);
    let vs = Arc::new(StiVs::from_config(&config).map_err(config_error)?);
    Ok(VerifySetup {
        verifier: vs.verifier().clone(),
        limits: config.limits.clone(),
        tn_policy: config.tn_policy(),
        now: a.now,
        vs,
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
    let result = match value {
        IdentityInput::Value(v) => setup.verify_value(&v, &ctx),
        IdentityInput::Refused(e) => Err(Box::new(Failure::new(VerifyError::IdentityMalformed(e)))),
    };
    let report = verify::report(&result);
    render(&report, a.format)?;
    Ok(if report.passed() { EXIT_OK } else { EXIT_FAIL })
}

/// A small runtime for one-shot network work.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
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
