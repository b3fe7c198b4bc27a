//! `shaken verify --sip` and `shaken sign --sip`.

use super::args::{OutFormat, SignArgs, VerifyArgs};
use super::clock::now;
use super::hints;
use super::input::{read_bounded, read_input, Bounded};
use super::render::text;
use super::setup::{build_setup, check_x5u, load_signer};
use super::{EXIT_FAIL, EXIT_OK};
use anyhow::{Context, Result};
use shaken::passport::Attestation;
use shaken::sip::SipRequest;
use shaken::sip_verify::{self, SipReport};
use shaken::tn::TnPolicy;
use std::io::Write;

fn source_name(path: &str) -> &str {
    if path == "-" {
        "standard input"
    } else {
        path
    }
}

/// `shaken verify --sip FILE|-`: verify the SIP request at `path`.
pub fn verify(path: String, a: VerifyArgs) -> Result<i32> {
    let setup = build_setup(&a, false)?;
    // The message comes from a stranger: a malformed or oversized one is a
    // verification that did not pass (exit 1), not a usage error.
    let max = setup.limits.max_sip_message;
    let parsed = match read_bounded(&path, max)? {
        Bounded::Fits(bytes) => SipRequest::parse(&bytes, &setup.limits),
        Bounded::TooLong(len) => Err(shaken::sip::SipError::TooLarge { len, max }),
    };
    let req = match parsed {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "error: {}: not a SIP request this tool can read: {e}",
                source_name(&path)
            );
            // Scripts asking for JSON still get one report on stdout.
            if matches!(a.format, OutFormat::Json) {
                let report = sip_verify::malformed_request_report(&e);
                writeln!(
                    std::io::stdout().lock(),
                    "{}",
                    serde_json::to_string(&report)?
                )?;
            }
            return Ok(EXIT_FAIL);
        }
    };
    note_prefix(&req, &path);
    // Both stages through the shared setup: --cert, or the x5u cache (and,
    // with --fetch-crl, the chain's CRL distribution points); div PASSporTs
    // each get their own chain.
    let mut report = sip_verify::verify_request_kinds(
        &setup.verifier,
        &req,
        setup.now.unwrap_or_else(now),
        |identity, ctx, div| setup.verify_passport(identity, ctx, div),
    );
    if a.verstat_attest {
        report.sip.verstat_param =
            format!(";verstat={}", report.overall.verstat_with_attestation());
    }
    let mut out = std::io::stdout().lock();
    match a.format {
        OutFormat::Json => writeln!(out, "{}", serde_json::to_string(&report)?)?,
        OutFormat::Text => out.write_all(sip_text(&report).as_bytes())?,
    }
    hints::print_for_report(&report.overall);
    hints::print_for_rcd(&report.overall, a.fetch_rcd);
    Ok(if report.passed() { EXIT_OK } else { EXIT_FAIL })
}

/// Say on stderr that a log prefix line before the request line was skipped.
fn note_prefix(req: &SipRequest, path: &str) {
    if let Some(line) = req.skipped_prefix() {
        eprintln!(
            "note: {}: skipped the log prefix line {line:?} before the request line",
            source_name(path)
        );
    }
}

/// The SIP report for people: the call's verdict, one line per PASSporT,
/// then what to signal downstream.
fn sip_text(r: &SipReport) -> String {
    let mut s = text(&r.overall);
    s.push_str(&format!(
        "Identity headers: {}{}\n",
        r.passports.len(),
        match (&r.from, &r.to) {
            (Some(f), Some(t)) => format!(" (From {f}, To {t})"),
            _ => String::new(),
        }
    ));
    for p in &r.passports {
        let ppt = p.ppt.as_deref().unwrap_or("(none)");
        let rcd = p.ppt.as_deref() == Some(shaken::rcd::PPT_RCD);
        let verdict = if rcd {
            // Checked like any PASSporT; it carries the caller's name, not
            // the call's verdict.
            let v = match &p.report.reason {
                None => p.report.verstat.to_string(),
                Some(reason) => format!(
                    "{} {} ({}): {}",
                    reason.code, reason.text, reason.id, reason.detail
                ),
            };
            format!("{v} (Rich Call Data; not part of the verdict)")
        } else if !p.supported {
            "unsupported, not checked".to_owned()
        } else {
            match &p.report.reason {
                None => p.report.verstat.to_string(),
                Some(reason) => format!(
                    "{} {} {} ({}): {}",
                    p.report.verstat, reason.code, reason.text, reason.id, reason.detail
                ),
            }
        };
        s.push_str(&format!("  [{}] ppt={ppt:<8} {verdict}\n", p.index));
    }
    if let Some(d) = &r.diversion {
        s.push_str(&super::render::diversion_text(d));
    }
    s.push_str("Signal downstream:\n");
    s.push_str(&format!(
        "  verstat param  {} (add to the P-Asserted-Identity/From URI user part)\n",
        r.sip.verstat_param
    ));
    if let Some(h) = &r.sip.reason_header {
        s.push_str(&format!("  reason header  {h}\n"));
    }
    s
}

/// `shaken sign --sip FILE|- --divert`: the request was retargeted to its
/// Request-URI; add the div PASSporTs (RFC 8946 §4.1).
pub fn divert(path: String, a: SignArgs) -> Result<i32> {
    check_x5u(&a.x5u)?;
    let limits = shaken::Limits::default();
    let bytes = read_input(&path, limits.max_sip_message)?;
    let req = SipRequest::parse(&bytes, &limits)
        .with_context(|| format!("{}: not a SIP request", source_name(&path)))?;
    note_prefix(&req, &path);
    let signer = load_signer(&a.key, a.deterministic)?;
    let policy = TnPolicy {
        national: a.tn.tn_national,
    };
    let out = shaken::div::divert_request(
        &req,
        signer.as_ref(),
        &a.x5u,
        a.hi.as_deref(),
        &limits,
        &policy,
    )
    .with_context(|| format!("diverting {}", source_name(&path)))?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&out)?;
    stdout.flush()?;
    Ok(EXIT_OK)
}

/// `shaken sign --sip FILE|- --attest A|B|C`: sign the SIP request at `path`.
pub fn sign(path: String, attest: Attestation, a: SignArgs) -> Result<i32> {
    check_x5u(&a.x5u)?;
    let limits = shaken::Limits::default();
    let bytes = read_input(&path, limits.max_sip_message)?;
    let req = SipRequest::parse(&bytes, &limits)
        .with_context(|| format!("{}: not a SIP request", source_name(&path)))?;
    note_prefix(&req, &path);
    let origid = match &a.origid {
        Some(o) => {
            uuid::Uuid::parse_str(o).with_context(|| format!("--origid {o:?} is not a UUID"))?;
            o.to_ascii_lowercase()
        }
        None => uuid::Uuid::new_v4().to_string(),
    };
    let iat = a.iat.unwrap_or_else(now);
    let signer = load_signer(&a.key, a.deterministic)?;
    let policy = TnPolicy {
        national: a.tn.tn_national,
    };
    let rcd = super::setup::rcd_signing(&a.rcd, &policy)?;
    let out = shaken::sip::sign_request_with_rcd(
        &req,
        signer.as_ref(),
        &a.x5u,
        attest,
        iat,
        &origid,
        &policy,
        rcd.as_ref(),
    )
    .with_context(|| format!("signing {}", source_name(&path)))?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&out)?;
    stdout.flush()?;
    Ok(EXIT_OK)
}
