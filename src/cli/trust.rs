//! `shaken trust update`, `trust show` and `trust update-crl`: keep the
//! STI-PA trust list and CRL current (issue 17, docs/trust.md). The rules
//! are the library's (`shaken::trust`); installing is `shaken::trust_dir`.

use super::args::{FetchArgs, OutFormat, TrustCrlArgs, TrustShowArgs, TrustUpdateArgs};
use super::clock::{now, rfc3339};
use super::input::read_input;
use super::setup::{apply_fetch_args, config_error, runtime};
use super::{EXIT_FAIL, EXIT_OK};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use shaken::cert::{parse_chain, Certificate, Crl, TrustAnchors};
use shaken::config::{Source, VerifierConfig};
use shaken::fetch::{FetchOptions, HttpFetcher};
use shaken::trust::{RootDiff, TrustError};
use shaken::trust_dir::{self, TrustState};
use shaken::trust_dir::{RefreshError, Refreshed, Updater};
use shaken::{Diagnostic, Limits};
use std::path::{Path, PathBuf};

/// What the list URL and the STI-PA API are asked for.
use shaken::trust_dir::LIST_ACCEPT;
/// Most bytes of a login answer.
const MAX_LOGIN_ANSWER: usize = 64 * 1024;
/// Most bytes of a password file.
const MAX_PASSWORD: usize = 4096;

fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

fn fetch_options(f: &FetchArgs, limits: &Limits) -> Result<FetchOptions> {
    let mut c = VerifierConfig::default();
    c.limits = limits.clone();
    apply_fetch_args(&mut c, f);
    shaken::sti::fetch_options(&c).map_err(config_error)
}

/// The pinned STI-PA roots of `--stipa-root`.
fn pinned_roots(paths: &[PathBuf]) -> Result<TrustAnchors> {
    let sources: Vec<Source> = paths.iter().cloned().map(Source::Path).collect();
    shaken::load::trust_anchors(&sources).map_err(|e| anyhow::Error::new(e).context("--stipa-root"))
}

fn read_chain(path: &Path, limits: &Limits) -> Result<Vec<Certificate>> {
    let bytes = read_input(&path.display().to_string(), 1 << 20)?;
    parse_chain(&bytes, limits)
        .with_context(|| format!("reading the certificate {}", path.display()))
}

/// A refusal: the reason on stderr (or the JSON object on stdout), exit 1.
fn refused(format: OutFormat, e: &TrustError, dir: &Path) -> i32 {
    match format {
        OutFormat::Json => println!(
            "{}",
            json!({
                "result": "refused",
                "dir": dir.display().to_string(),
                "id": Diagnostic::id(e),
                "reason": e.to_string(),
            })
        ),
        OutFormat::Text => {
            eprintln!("refused [{}]: {e}", Diagnostic::id(e));
            eprintln!("{}: left as it was", dir.display());
        }
    }
    EXIT_FAIL
}

/// The list from the STI-PA API: log in, then fetch `ca-list`.
async fn from_api(
    http: &HttpFetcher,
    base: &str,
    user: &str,
    password: &str,
    max: usize,
) -> Result<Vec<u8>> {
    let base = base.trim_end_matches('/');
    let login = format!("{base}/auth/login");
    let body = json!({ "userId": user, "password": password }).to_string();
    let answer = http
        .post_json(&login, body.into_bytes(), MAX_LOGIN_ANSWER)
        .await
        .with_context(|| format!("logging in to {login}"))?;
    let v: Value = serde_json::from_slice(&answer.body)
        .with_context(|| format!("{login}: the answer is not JSON"))?;
    let Some(token) = v.get("accessToken").and_then(Value::as_str) else {
        let status = v.get("status").and_then(Value::as_str).unwrap_or("?");
        let message = v.get("message").and_then(Value::as_str).unwrap_or("");
        bail!("{login}: no accessToken in the answer (status {status:?} {message})");
    };
    let list = format!("{base}/ca-list");
    let got = http
        .get_authorized(&list, "application/jose+json", token, max)
        .await
        .with_context(|| format!("fetching {list}"))?;
    Ok(got.body)
}

fn roots_json(list: &[(String, String)]) -> Value {
    list.iter()
        .map(|(s, f)| json!({"subject": s, "fingerprint": f}))
        .collect()
}

fn print_result(format: OutFormat, result: &str, dir: &Path, state: &TrustState, diff: &RootDiff) {
    match format {
        OutFormat::Json => println!(
            "{}",
            json!({
                "result": result,
                "dir": dir.display().to_string(),
                "sequence": state.sequence,
                "exp": state.exp,
                "exp_rfc3339": rfc3339(state.exp),
                "signer": state.signer,
                "roots": state.roots.len(),
                "added": roots_json(&diff.added),
                "removed": roots_json(&diff.removed),
            })
        ),
        OutFormat::Text => {
            println!(
                "{result}: {} holds {} roots from trust list sequence {} (expires {}, signed by {})",
                dir.display(),
                state.roots.len(),
                state.sequence,
                rfc3339(state.exp),
                state.signer
            );
            for (s, f) in &diff.added {
                println!("+ {s}  SHA-256 {f}");
            }
            for (s, f) in &diff.removed {
                println!("- {s}  SHA-256 {f}");
            }
        }
    }
}

/// `shaken trust update`.
pub fn update(a: TrustUpdateArgs) -> Result<i32> {
    let limits = Limits::default();
    let now = a.now.unwrap_or_else(now);
    let roots = pinned_roots(&a.stipa_root)?;
    let opts = fetch_options(&a.fetch, &limits)?;
    let rt = runtime()?;
    let http = || HttpFetcher::new(&opts).context("building the HTTPS client");

    let (bytes, source) = if let Some(base) = &a.stipa_api {
        let (Some(user), Some(pw)) = (&a.user, &a.password_file) else {
            bail!("--stipa-api needs --user and --password-file");
        };
        let pw_bytes = read_input(&pw.display().to_string(), MAX_PASSWORD)?;
        let password = String::from_utf8(pw_bytes)
            .with_context(|| format!("--password-file {}: not text", pw.display()))?;
        let password = password.trim_end_matches(['\r', '\n']);
        let fetcher = http()?;
        let body = rt.block_on(from_api(
            &fetcher,
            base,
            user,
            password,
            limits.max_trust_list,
        ))?;
        (body, format!("{}/ca-list", base.trim_end_matches('/')))
    } else if let Some(list) = &a.list {
        if is_url(list) {
            let fetcher = http()?;
            let got = rt
                .block_on(fetcher.get(list, LIST_ACCEPT, limits.max_trust_list))
                .with_context(|| format!("fetching the trust list {list}"))?;
            (got.body, list.clone())
        } else {
            (read_input(list, limits.max_trust_list)?, list.clone())
        }
    } else {
        bail!("give the trust list with --list FILE|URL or --stipa-api URL");
    };

    let signer = match &a.signer_cert {
        Some(path) => Some(read_chain(path, &limits)?),
        None => None,
    };
    let updater = Updater {
        roots: &roots,
        signer: signer.as_deref(),
        fetch: &opts,
        limits: &limits,
    };
    match rt.block_on(updater.install(&a.out, &bytes, &source, now)) {
        Ok(Refreshed::Unchanged(state)) => {
            print_result(a.format, "unchanged", &a.out, &state, &RootDiff::default());
        }
        Ok(Refreshed::Installed { state, diff }) => {
            print_result(a.format, "installed", &a.out, &state, &diff);
        }
        Ok(other) => {
            print_result(
                a.format,
                "installed",
                &a.out,
                other.state(),
                &RootDiff::default(),
            );
        }
        Err(RefreshError::Refused(e)) => return Ok(refused(a.format, &e, &a.out)),
        Err(e) => return Err(anyhow::Error::new(e).context("--out")),
    }
    Ok(EXIT_OK)
}

/// `shaken trust show DIR`: exit 0 while the list is current, 1 once it has
/// passed `exp` (the roots stay installed), 2 when nothing is installed.
pub fn show(a: TrustShowArgs) -> Result<i32> {
    let now = a.now.unwrap_or_else(now);
    let Some(state) = trust_dir::read_state(&a.dir)? else {
        bail!(
            "{}: no trust list is installed there (run shaken trust update)",
            a.dir.display()
        );
    };
    let left = state.exp - now;
    let crl = a.dir.join(trust_dir::CRL_FILE);
    let crl_info = std::fs::read(&crl)
        .ok()
        .and_then(|b| Crl::from_pem_or_der(&b, &Limits::default()).ok());
    match a.format {
        OutFormat::Json => {
            let roots: Vec<Value> = state
                .roots
                .iter()
                .map(|r| {
                    json!({"file": r.file, "subject": r.subject, "fingerprint": r.fingerprint,
                           "not_after": rfc3339(r.not_after)})
                })
                .collect();
            println!(
                "{}",
                json!({
                    "dir": a.dir.display().to_string(),
                    "version": state.version,
                    "sequence": state.sequence,
                    "exp": state.exp,
                    "exp_rfc3339": rfc3339(state.exp),
                    "seconds_to_exp": left,
                    "expired": left <= 0,
                    "signer": state.signer,
                    "x5u": state.x5u,
                    "source": state.source,
                    "fetched_at": rfc3339(state.fetched_at),
                    "roots": roots,
                    "crl": crl_info.as_ref().map(|c| json!({
                        "file": crl.display().to_string(),
                        "issuer": c.issuer(),
                        "next_update": c.next_update().map(rfc3339),
                        "revoked": c.revoked_serials(),
                    })),
                })
            );
        }
        OutFormat::Text => {
            println!("{}", a.dir.display());
            println!(
                "  sequence {} (version {:?}), signed by {}",
                state.sequence, state.version, state.signer
            );
            println!(
                "  fetched {} from {}",
                rfc3339(state.fetched_at),
                state.source
            );
            if left > 0 {
                println!("  expires {} (in {}s)", rfc3339(state.exp), left);
            } else {
                println!(
                    "  EXPIRED {} ({}s ago): the roots are still installed; fetch a new list",
                    rfc3339(state.exp),
                    -left
                );
            }
            if let Some(c) = &crl_info {
                println!(
                    "  CRL {} from {}, {} revoked, next update {}",
                    crl.display(),
                    c.issuer(),
                    c.revoked_serials(),
                    c.next_update().map(rfc3339).unwrap_or_else(|| "-".into())
                );
            }
            println!("  {} roots:", state.roots.len());
            for r in &state.roots {
                println!("    {}  {}  SHA-256 {}", r.file, r.subject, r.fingerprint);
            }
        }
    }
    Ok(if left > 0 { EXIT_OK } else { EXIT_FAIL })
}

/// `shaken trust update-crl`.
pub fn update_crl(a: TrustCrlArgs) -> Result<i32> {
    let limits = Limits::default();
    let now = a.now.unwrap_or_else(now);
    let roots = pinned_roots(&a.stipa_root)?;
    let opts = fetch_options(&a.fetch, &limits)?;
    let rt = runtime()?;
    let bytes = if is_url(&a.source) {
        let http = HttpFetcher::new(&opts).context("building the HTTPS client")?;
        rt.block_on(http.get(&a.source, "application/pkix-crl", limits.max_crl_body))
            .with_context(|| format!("fetching the CRL {}", a.source))?
            .body
    } else {
        read_input(&a.source, limits.max_crl_body)?
    };
    let crl = Crl::from_pem_or_der(&bytes, &limits)
        .with_context(|| format!("reading the CRL {}", a.source))?;
    let chain = match (&a.signer_cert, shaken::trust::crl_signer_url(&crl)) {
        (Some(path), _) => read_chain(path, &limits)?,
        (None, Some(url)) => {
            let cache = shaken::online::chain_cache(opts.clone())?;
            let chain = rt
                .block_on(cache.get(&url))
                .with_context(|| format!("fetching the CRL signer certificate {url}"))?;
            (*chain).clone()
        }
        (None, None) => {
            let e = TrustError::NoSigner;
            return Ok(refused(a.format, &e, &a.out));
        }
    };
    if let Err(e) = shaken::trust::verify_crl(&crl, &chain, &roots, now) {
        return Ok(refused(a.format, &e, &a.out));
    }
    let signer_pem: String = chain
        .iter()
        .map(|c| shaken::trust::to_pem(c.der()))
        .collect();
    trust_dir::install_crl(
        &a.out,
        shaken::trust::crl_to_pem(crl.der()).as_bytes(),
        signer_pem.as_bytes(),
    )
    .context("--out")?;
    let file = a.out.join(trust_dir::CRL_FILE);
    match a.format {
        OutFormat::Json => println!(
            "{}",
            json!({
                "result": "installed",
                "file": file.display().to_string(),
                "issuer": crl.issuer(),
                "revoked": crl.revoked_serials(),
                "next_update": crl.next_update().map(rfc3339),
            })
        ),
        OutFormat::Text => println!(
            "installed: {} from {} ({} revoked, next update {}); verify with --trust-anchors {} --crl {}",
            file.display(),
            crl.issuer(),
            crl.revoked_serials(),
            crl.next_update().map(rfc3339).unwrap_or_else(|| "-".into()),
            a.out.display(),
            file.display()
        ),
    }
    Ok(EXIT_OK)
}
