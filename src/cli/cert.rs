//! `shaken cert inspect` and `shaken cert verify`.

use super::args::{
    CertInspectArgs, CertLintArgs, CertVerifyArgs, CrlArgs, CrlPolicyArg, FetchArgs, OutFormat,
};
use super::clock::{now, rfc3339};
use super::input::read_input;
use super::setup::{apply_fetch_args, config_error, load_anchors, runtime};
use shaken::config::{CrlSpec, VerifierConfig};
use shaken::fetch::FetchOptions;

/// The x5u fetch rules of the flags (the library's, as for `verify`).
fn fetch_options(f: &FetchArgs, limits: &Limits) -> Result<FetchOptions> {
    let mut c = VerifierConfig::default();
    c.limits = limits.clone();
    apply_fetch_args(&mut c, f);
    shaken::sti::fetch_options(&c).map_err(config_error)
}

/// The CRL files of `--crl` (URLs are fetched by the caller).
fn load_crl_files(c: &CrlArgs, limits: &Limits) -> Result<Vec<Crl>> {
    let mut out = Vec::new();
    for spec in c.crl.iter().map(|s| CrlSpec::parse(s)) {
        if let CrlSpec::Load(src) = spec {
            out.push(shaken::load::crl(&src, limits).map_err(config_error)?);
        }
    }
    Ok(out)
}
use super::{EXIT_FAIL, EXIT_OK};
use anyhow::{Context, Result};
use serde_json::{json, Value};
use shaken::cert::lint::{lint_chain_at, role_of, Finding, Severity, Validity};
use shaken::cert::{
    crl_distribution_points, oid_name, oid_with_name, parse_chain, validate_chain, Certificate,
    ChainError, ChainPolicy, Crl, TnEntry,
};
use shaken::online::{chain_cache, crl_urls, CrlFetcher};
use shaken::verify::CrlFailure;
use shaken::Limits;
use std::io::Write;
use std::sync::Arc;
use x509_parser::extensions::ParsedExtension;

/// Most bytes read from a file or stdin for a chain.
const MAX_CHAIN_INPUT: usize = 1 << 20;

fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

/// Reads a chain from a file, stdin (`-`) or a URL (fetched with the x5u
/// rules).
fn load_chain(source: &str, fetch: &FetchArgs, limits: &Limits) -> Result<Vec<Certificate>> {
    if is_url(source) {
        let cache = chain_cache(fetch_options(fetch, limits)?)?;
        let chain = runtime()?
            .block_on(cache.get(source))
            .with_context(|| format!("fetching {source}"))?;
        return Ok((*chain).clone());
    }
    let bytes = read_input(source, MAX_CHAIN_INPUT)?;
    parse_chain(&bytes, limits).with_context(|| format!("reading the certificate chain {source}"))
}

/// `(SKI, AKI keyIdentifier)` as lowercase hex.
fn key_ids(cert: &Certificate) -> (Option<String>, Option<String>) {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let Ok((_, x)) = x509_parser::parse_x509_certificate(cert.der()) else {
        return (None, None);
    };
    let mut ski = None;
    let mut aki = None;
    for ext in x.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => ski = Some(hex(k.0)),
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                aki = a.key_identifier.as_ref().map(|k| hex(k.0))
            }
            _ => {}
        }
    }
    (ski, aki)
}

fn tn_entry_json(e: &TnEntry) -> Value {
    match e {
        TnEntry::Spc(s) => json!({"spc": s}),
        TnEntry::One(t) => json!({"tn": t}),
        TnEntry::Range { start, count } => json!({"range": {"start": start, "count": count}}),
        #[allow(unreachable_patterns)]
        _ => json!({"unknown": format!("{e:?}")}),
    }
}

fn tn_entry_text(e: &TnEntry) -> String {
    match e {
        TnEntry::Spc(s) => format!("SPC {s}"),
        TnEntry::One(t) => format!("TN {t}"),
        TnEntry::Range { start, count } => format!("range {start} (+{count})"),
        #[allow(unreachable_patterns)]
        _ => format!("{e:?}"),
    }
}

fn cert_json(chain: &[Certificate], index: usize, cert: &Certificate, now: i64) -> Value {
    let (ski, aki) = key_ids(cert);
    let tnal = match (cert.tn_auth_list(), cert.tn_auth_list_error()) {
        (Some(l), _) => json!({
            "critical": cert.tn_auth_list_critical(),
            "entries": l.0.iter().map(tn_entry_json).collect::<Vec<_>>(),
        }),
        (None, Some(err)) => json!({"critical": cert.tn_auth_list_critical(), "error": err}),
        (None, None) => Value::Null,
    };
    json!({
        "index": index,
        "role": role_of(chain, index).as_str(),
        "subject": cert.subject(),
        "issuer": cert.issuer(),
        "serial": cert.serial_hex(),
        "not_before": rfc3339(cert.not_before()),
        "not_after": rfc3339(cert.not_after()),
        "validity": Validity::of(cert, now).as_str(),
        "key": cert.key_description(),
        "is_ca": cert.is_ca(),
        "ski": ski,
        "aki": aki,
        "tn_auth_list": tnal,
        "claim_constraints": cert.claim_constraints().iter().map(|c| json!({
            "must_include": c.must_include,
            "permitted_values": c.permitted_values.iter().map(|(k, v)| json!({"claim": k, "values": v})).collect::<Vec<_>>(),
            "must_exclude": c.must_exclude,
        })).collect::<Vec<_>>(),
        "claim_constraints_error": cert.claim_constraints_error(),
        "policies": cert.policy_oids(),
        "policy_names": cert.policy_oids().iter().map(|o| oid_name(o)).collect::<Vec<_>>(),
        "crl_distribution_points": crl_distribution_points(cert)
            .into_iter()
            .map(|(url, issuer)| json!({"url": url, "crl_issuer": issuer}))
            .collect::<Vec<_>>(),
    })
}

fn cert_text(chain: &[Certificate], index: usize, cert: &Certificate, now: i64) -> String {
    let mut s = String::new();
    let mut line = |k: &str, v: &str| s.push_str(&format!("  {k:<14}{v}\n"));
    let (ski, aki) = key_ids(cert);
    line("subject", cert.subject());
    line("issuer", cert.issuer());
    line("serial", cert.serial_hex());
    line(
        "validity",
        &format!(
            "{} to {}{}",
            rfc3339(cert.not_before()),
            rfc3339(cert.not_after()),
            match Validity::of(cert, now) {
                Validity::Expired => format!("  EXPIRED at {}", rfc3339(now)),
                Validity::NotYetValid => format!("  NOT YET VALID at {}", rfc3339(now)),
                _ => String::new(),
            }
        ),
    );
    line("key", cert.key_description());
    line("CA", if cert.is_ca() { "yes" } else { "no" });
    line("SKI", ski.as_deref().unwrap_or("(none)"));
    line("AKI", aki.as_deref().unwrap_or("(none)"));
    match (cert.tn_auth_list(), cert.tn_auth_list_error()) {
        (Some(l), _) => {
            let entries: Vec<String> = l.0.iter().map(tn_entry_text).collect();
            let crit = if cert.tn_auth_list_critical() {
                " (critical)"
            } else {
                ""
            };
            line("TNAuthList", &format!("{}{crit}", entries.join(", ")));
        }
        (None, Some(err)) => line("TNAuthList", &format!("MALFORMED: {err}")),
        (None, None) => line("TNAuthList", "(none)"),
    }
    for c in cert.claim_constraints() {
        let mut parts = Vec::new();
        if !c.must_include.is_empty() {
            parts.push(format!("must include {}", c.must_include.join(", ")));
        }
        for (claim, values) in &c.permitted_values {
            parts.push(format!("{claim} only {}", values.join("|")));
        }
        if !c.must_exclude.is_empty() {
            parts.push(format!("must exclude {}", c.must_exclude.join(", ")));
        }
        line("claim limits", &parts.join("; "));
    }
    if let Some(err) = cert.claim_constraints_error() {
        line("claim limits", &format!("MALFORMED: {err}"));
    }
    if cert.policy_oids().is_empty() {
        line("policies", "(none)");
    } else {
        let named: Vec<String> = cert
            .policy_oids()
            .iter()
            .map(|o| oid_with_name(o))
            .collect();
        line("policies", &named.join(", "));
    }
    let points = crl_distribution_points(cert);
    if points.is_empty() {
        line("CRL DP", "(none)");
    }
    for (url, issuer) in points {
        let issuer = issuer
            .map(|i| format!(" (cRLIssuer: {i})"))
            .unwrap_or_default();
        line("CRL DP", &format!("{url}{issuer}"));
    }
    format!(
        "certificate {index} ({}):\n{s}",
        role_of(chain, index).as_str()
    )
}

fn finding_json(f: &Finding) -> Value {
    json!({
        "code": f.code,
        "severity": f.severity,
        "cert": f.cert,
        "role": f.role.as_str(),
        "message": f.message,
    })
}

/// The lint block of `cert inspect` and `cert lint`: a count line, then one
/// line per finding.
fn lint_text(findings: &[Finding]) -> String {
    let errors = error_count(findings);
    let mut s = format!(
        "ATIS-1000080 v005 lint: {errors} error(s), {} warning(s)\n",
        findings.len() - errors
    );
    for f in findings {
        let sev = match f.severity {
            Severity::Error => "error",
            _ => "warning",
        };
        s.push_str(&format!(
            "  {sev:<8}{:<36}cert {} ({}): {}\n",
            f.code,
            f.cert,
            f.role.as_str(),
            f.message
        ));
    }
    s
}

fn error_count(findings: &[Finding]) -> usize {
    findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count()
}

/// `shaken cert inspect FILE|URL|-`: always exit 0 (`cert lint` gates).
pub fn inspect(a: CertInspectArgs) -> Result<i32> {
    let limits = Limits::default();
    let chain = load_chain(&a.source, &a.fetch, &limits)?;
    let at = a.now.unwrap_or_else(now);
    let findings = lint_chain_at(&chain, at);
    let mut out = std::io::stdout().lock();
    match a.format {
        OutFormat::Json => {
            let v = json!({
                "now": rfc3339(at),
                "certificates": chain.iter().enumerate().map(|(i, c)| cert_json(&chain, i, c, at)).collect::<Vec<_>>(),
                "lint": findings.iter().map(finding_json).collect::<Vec<_>>(),
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        OutFormat::Text => {
            for (i, c) in chain.iter().enumerate() {
                out.write_all(cert_text(&chain, i, c, at).as_bytes())?;
                writeln!(out)?;
            }
            out.write_all(lint_text(&findings).as_bytes())?;
        }
    }
    Ok(EXIT_OK)
}

/// `shaken cert lint FILE|URL|-`: exit 1 on any error-level finding.
pub fn lint(a: CertLintArgs) -> Result<i32> {
    let limits = Limits::default();
    let chain = load_chain(&a.source, &a.fetch, &limits)?;
    let at = a.now.unwrap_or_else(now);
    let findings = lint_chain_at(&chain, at);
    let errors = error_count(&findings);
    let mut out = std::io::stdout().lock();
    match a.format {
        OutFormat::Json => writeln!(
            out,
            "{}",
            json!({
                "source": a.source,
                "now": rfc3339(at),
                "certificates": chain.len(),
                "passed": errors == 0,
                "errors": errors,
                "warnings": findings.len() - errors,
                "findings": findings.iter().map(finding_json).collect::<Vec<_>>(),
            })
        )?,
        OutFormat::Text => {
            out.write_all(lint_text(&findings).as_bytes())?;
            if errors == 0 {
                writeln!(
                    out,
                    "PASSED: no error-level finding in {} certificate(s).",
                    chain.len()
                )?;
            } else {
                writeln!(
                    out,
                    "FAILED: {errors} error-level finding(s); the codes are explained in docs/certificates.md."
                )?;
            }
        }
    }
    Ok(if errors == 0 { EXIT_OK } else { EXIT_FAIL })
}

/// The CRLs named by `--crl` (files and URLs) and, with `--fetch-crl`, the
/// distribution points of `chain`; plus the ones that could not be fetched.
fn gather_crls(
    c: &CrlArgs,
    fetch: &FetchArgs,
    chain: &[Certificate],
    limits: &Limits,
) -> Result<(Vec<Crl>, Vec<CrlFailure>)> {
    let mut crls = load_crl_files(c, limits)?;
    let mut urls: Vec<String> = c.crl.iter().filter(|s| is_url(s)).cloned().collect();
    if c.fetch_crl {
        for u in crl_urls(chain) {
            if !urls.contains(&u) {
                urls.push(u);
            }
        }
    }
    if urls.is_empty() {
        return Ok((crls, Vec::new()));
    }
    let fetcher = Arc::new(CrlFetcher::new(fetch_options(fetch, limits)?)?);
    let (fetched, failed) = runtime()?.block_on(fetcher.fetch_all(&urls));
    crls.extend(fetched);
    Ok((crls, failed))
}

/// `shaken cert verify CHAIN`.
pub fn verify(a: CertVerifyArgs) -> Result<i32> {
    let limits = Limits::default();
    let chain = load_chain(&a.chain, &a.fetch, &limits)?;
    let anchors = load_anchors(&a.trust_anchors)?;
    let at = a.now.unwrap_or_else(now);
    let (crls, failures) = gather_crls(&a.crl, &a.fetch, &chain, &limits)?;
    let hard = a.crl.crl_policy == CrlPolicyArg::Hard;
    let mut policy = ChainPolicy::default();
    policy.crl_required = hard && (!a.crl.crl.is_empty() || a.crl.fetch_crl) && failures.is_empty();
    let mut result = validate_chain(&chain, &anchors, &crls, at, &policy);
    let mut warnings: Vec<String> = Vec::new();
    if let (Ok(v), Some(first)) = (&result, failures.first()) {
        if hard {
            result = Err(ChainError::CrlUnavailable {
                subject: v.leaf_subject().to_owned(),
                url: first.url.clone(),
                detail: first.detail.clone(),
            });
        } else {
            for f in &failures {
                warnings.push(format!(
                    "CRL {} could not be obtained ({}); revocation was not checked against it (--crl-policy soft)",
                    f.url, f.detail
                ));
            }
        }
    }
    let mut out = std::io::stdout().lock();
    let code = match &result {
        Ok(v) => {
            warnings.extend(v.warnings().iter().cloned());
            match a.format {
                OutFormat::Json => writeln!(
                    out,
                    "{}",
                    json!({
                        "valid": true,
                        "leaf": v.leaf_subject(),
                        "spc": v.spc(),
                        "anchor": v.anchor_subject(),
                        "valid_from": rfc3339(v.valid_from()),
                        "valid_until": rfc3339(v.valid_until()),
                        "crls": crls.len(),
                        "warnings": warnings,
                    })
                )?,
                OutFormat::Text => {
                    writeln!(out, "VALID: the chain leads to a trusted STI root.")?;
                    writeln!(out, "  {:<14}{}", "certificate", v.leaf_subject())?;
                    if let Some(spc) = v.spc() {
                        writeln!(out, "  {:<14}{spc}", "SPC")?;
                    }
                    writeln!(out, "  {:<14}{}", "trust anchor", v.anchor_subject())?;
                    writeln!(
                        out,
                        "  {:<14}{} to {}",
                        "usable",
                        rfc3339(v.valid_from()),
                        rfc3339(v.valid_until())
                    )?;
                    writeln!(out, "  {:<14}{} CRL(s) applied", "revocation", crls.len())?;
                    for w in &warnings {
                        writeln!(out, "  {:<14}{w}", "warning")?;
                    }
                }
            }
            EXIT_OK
        }
        Err(e) => {
            match a.format {
                OutFormat::Json => writeln!(
                    out,
                    "{}",
                    json!({
                        "valid": false,
                        "code": e.code(),
                        "sip_code": e.sip_status(),
                        "detail": e.to_string(),
                        "warnings": warnings,
                    })
                )?,
                OutFormat::Text => {
                    writeln!(out, "INVALID: the chain cannot be trusted.")?;
                    writeln!(out, "  {:<14}{}", "reason", e.code())?;
                    writeln!(out, "  {:<14}{e}", "detail")?;
                    writeln!(
                        out,
                        "  {:<14}{} (a PASSporT signed with it gets 437 Unsupported Credential)",
                        "SIP",
                        e.sip_status()
                    )?;
                    for w in &warnings {
                        writeln!(out, "  {:<14}{w}", "warning")?;
                    }
                }
            }
            if let Some(h) = super::hints::for_id(e.code()) {
                eprintln!("hint: {h}");
            }
            EXIT_FAIL
        }
    };
    Ok(code)
}
