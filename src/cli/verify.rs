//! `shaken verify` and `shaken decode`.

use super::args::{DecodeArgs, OutFormat, VerifyArgs};
use super::clock::{now, rfc3339};
use super::input::{identity_input, identity_value, IdentityInput};
use super::setup::build_setup;
use super::{EXIT_FAIL, EXIT_OK};
use anyhow::{Context, Result};
use shaken::passport::ClaimsPolicy;
use shaken::passport::{dangerous, Token};
use shaken::report::Report;
use shaken::tn::TelephoneNumber;
use shaken::verify::{self, CallContext, Failure, PartyId, VerifyError};
use shaken::Limits;
use std::io::Write;

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
    fn headline_colour() {
        assert_eq!(
            colour_headline("PASSED\n  x\n", true),
            "\x1b[1;32mPASSED\x1b[0m\n  x\n"
        );
        assert_eq!(colour_headline("NOT", false), "\x1b[1;31mNOT\x1b[0m");
    }
}
