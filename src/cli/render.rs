//! Output shared by the modes: a verification report for people or as JSON,
//! the progress display of long runs, and the end of a verifying run
//! (hints, the HTML report, the exit status).

use super::args::OutFormat;
use super::clock::{now, rfc3339};
use super::hints;
use super::{EXIT_FAIL, EXIT_OK};
use anyhow::{Context, Result};
use shaken::summary::{self, HtmlMeta, Summary};
use shaken::Report;
use std::io::{IsTerminal, Write};
use std::time::Duration;

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
    if let Some(rcd) = &r.rcd {
        rcd_text(&mut s, rcd);
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

/// The Rich Call Data lines: `caller name: Acme Bank (verified)` or why
/// not, then what else the PASSporT says about the caller.
fn rcd_text(s: &mut String, rcd: &shaken::rcd::RcdReport) {
    s.push_str(&format!("  caller name: {}\n", rcd.summary()));
    let line = |s: &mut String, k: &str, v: &str| {
        s.push_str(&format!("    {k:<13}{v}\n"));
    };
    if let Some(v) = &rcd.crn {
        line(s, "call reason", v);
    }
    if let Some(v) = &rcd.apn {
        line(s, "shown number", v);
    }
    if let Some(v) = &rcd.icn {
        line(s, "logo", v);
    }
    if let Some(v) = &rcd.jcl {
        line(s, "jCard", v);
    }
    if rcd.jcd.is_some() {
        line(s, "jCard", "(inline)");
    }
    for (pointer, result) in &rcd.integrity {
        let word = serde_json::to_value(result)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        line(s, "digest", &format!("{pointer} {word}"));
    }
    if let Some(d) = &rcd.display_name {
        let verdict = if d.matches {
            "same as the signed name"
        } else {
            "DIFFERS from the signed name"
        };
        if d.name.is_empty() {
            line(s, "display name", &format!("{} has none", d.header));
        } else {
            line(
                s,
                "display name",
                &format!("{} {:?} ({verdict})", d.header, d.name),
            );
        }
    }
    for c in &rcd.call_info {
        line(s, "pass on", c);
    }
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

/// A progress display on stderr when it is a terminal; hidden otherwise.
pub fn progress(unit: &str) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    if let Ok(style) = indicatif::ProgressStyle::with_template(&format!(
        "{{spinner}} {{human_pos}} {unit}  {{per_sec}}  {{elapsed}}"
    )) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// The end of a verifying run: the HTML report if asked for, and the exit
/// status (0 when every call passed, else 1).
pub fn finish_verify(
    report: Option<&std::path::Path>,
    summary: &Summary,
    title: &str,
    source: &str,
    elapsed: std::time::Duration,
    unit: &str,
) -> Result<i32> {
    // Once per run, not per line: the reasons a flag can fix.
    for (id, _) in summary.by_reason.top(usize::MAX) {
        if let Some(h) = hints::for_id(id) {
            eprintln!("hint: {id}: {h}");
        }
    }
    write_report(
        report,
        summary,
        &HtmlMeta {
            title: title.into(),
            source: source.into(),
            generated: rfc3339(now()),
            elapsed,
            unit: unit.into(),
        },
    )?;
    Ok(if summary.all_passed() {
        EXIT_OK
    } else {
        EXIT_FAIL
    })
}

/// Write the HTML report, if asked.
pub fn write_report(path: Option<&std::path::Path>, s: &Summary, meta: &HtmlMeta) -> Result<()> {
    if let Some(p) = path {
        std::fs::write(p, summary::render_html(s, meta))
            .with_context(|| format!("writing --report {}", p.display()))?;
        eprintln!("report written to {}", p.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
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

/// An error and its causes on one line, `outer: cause: root`, each cause
/// said once: a library error whose text already ends with its source
/// (`signing key k.pem: No such file or directory`) is not followed by that
/// source again (ripgrep's `{err:#}`, without the echo).
pub fn error_chain(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let msg = cause.to_string();
        if msg.is_empty() || text.contains(&msg) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&msg);
    }
    text
}

#[cfg(test)]
mod chain_tests {
    #![allow(clippy::unwrap_used)]
    use super::error_chain;

    /// A library error in the thiserror style `#[error("...: {source}")]`.
    #[derive(Debug)]
    struct Outer {
        source: std::io::Error,
    }
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "signing key k.pem: {}", self.source)
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.source)
        }
    }

    #[test]
    fn a_cause_is_said_once() {
        let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        let e = anyhow::Error::new(Outer { source: io() }).context("--key");
        assert_eq!(
            error_chain(&e),
            "--key: signing key k.pem: No such file or directory"
        );
        // Causes that are not repeated stay, in order.
        let e = anyhow::Error::new(io())
            .context("reading x")
            .context("--cert");
        assert_eq!(
            error_chain(&e),
            "--cert: reading x: No such file or directory"
        );
    }
}
