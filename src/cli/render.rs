//! Output shared by the modes: a verification report for people or as JSON,
//! the progress display of long runs, and the end of a verifying run
//! (hints, the HTML report, the exit status).

use super::args::{OutFormat, VerifyArgs};
use super::clock::{now, rfc3339};
use super::hints;
use super::{EXIT_FAIL, EXIT_OK};
use anyhow::{Context, Result};
use shaken::summary::{self, Call, CsvRow, HtmlMeta, Summary, TracebackRow};
use shaken::Report;
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
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
        // A call that failed another check but whose signature verifies
        // with this certificate: its holder signed it (attribution).
        let attributed = if !r.passed() && signer.signature_verified {
            "; the signature verifies: this is who signed it"
        } else {
            ""
        };
        line(
            &mut s,
            "signed by",
            &format!("{}{spc}{trust}{attributed}", signer.subject),
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

/// The files a long verifying run writes besides stdout: `--csv` (one row
/// per call), `--traceback` (the suspicious calls) and `--summary-json`.
#[derive(Default)]
pub struct Exports {
    csv: Option<(PathBuf, BufWriter<File>)>,
    traceback: Option<(PathBuf, BufWriter<File>)>,
    summary_json: Option<PathBuf>,
}

/// The header of `--csv` (the columns of `shaken::summary::CsvRow`).
pub const CSV_HEADER: &str = "line,call_id,time,peer,orig,dest,attest,verstat,reason_id,spc,x5u\n";
/// The header of `--traceback` (the columns of `shaken::summary::TracebackRow`).
pub const TRACEBACK_HEADER: &str = "time_utc,calling_number,called_number,call_id,attest,origid,verstat,reason_id,reason,signer_spc,signer_subject,signer_trusted,resigned_by,x5u,peer,line\n";

/// Append one CSV record (RFC 4180 quoting by the csv crate, no header).
pub fn push_csv<T: serde::Serialize>(out: &mut Vec<u8>, row: &T) {
    let mark = out.len();
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .buffer_capacity(1024)
        .from_writer(&mut *out);
    let ok = w.serialize(row).is_ok() && w.flush().is_ok();
    drop(w);
    if !ok {
        out.truncate(mark);
    }
}

fn create(path: &Path, flag: &str, header: &str) -> Result<(PathBuf, BufWriter<File>)> {
    let f = File::create(path).with_context(|| format!("creating {flag} {}", path.display()))?;
    let mut w = BufWriter::with_capacity(64 * 1024, f);
    w.write_all(header.as_bytes())
        .with_context(|| format!("writing {flag} {}", path.display()))?;
    Ok((path.to_owned(), w))
}

impl Exports {
    /// Create the files the flags name (each with its header).
    pub fn open(a: &VerifyArgs) -> Result<Exports> {
        Ok(Exports {
            csv: a
                .csv
                .as_deref()
                .map(|p| create(p, "--csv", CSV_HEADER))
                .transpose()?,
            traceback: a
                .traceback
                .as_deref()
                .map(|p| create(p, "--traceback", TRACEBACK_HEADER))
                .transpose()?,
            summary_json: a.summary_json.clone(),
        })
    }

    /// Whether `--csv` is on.
    pub fn csv(&self) -> bool {
        self.csv.is_some()
    }

    /// Whether `--traceback` is on.
    pub fn traceback(&self) -> bool {
        self.traceback.is_some()
    }

    /// Rows already serialised (the batch workers make them in order).
    pub fn write_rows(&mut self, csv: &[u8], traceback: &[u8]) -> Result<()> {
        if let Some((p, w)) = &mut self.csv {
            w.write_all(csv)
                .with_context(|| format!("writing --csv {}", p.display()))?;
        }
        if let Some((p, w)) = &mut self.traceback {
            w.write_all(traceback)
                .with_context(|| format!("writing --traceback {}", p.display()))?;
        }
        Ok(())
    }

    /// The rows of one call.
    pub fn call(&mut self, call: &Call<'_>) -> Result<()> {
        let (mut c, mut t) = (Vec::new(), Vec::new());
        self.rows(call, &mut c, &mut t);
        self.write_rows(&c, &t)
    }

    /// Serialise the rows of one call into `csv` and `traceback`.
    pub fn rows(&self, call: &Call<'_>, csv: &mut Vec<u8>, traceback: &mut Vec<u8>) {
        rows(self.csv(), self.traceback(), call, csv, traceback);
    }

    /// Flush the row files (a live run does it after every call).
    pub fn flush(&mut self) -> Result<()> {
        for (flag, f) in [
            ("--csv", &mut self.csv),
            ("--traceback", &mut self.traceback),
        ] {
            if let Some((p, w)) = f {
                w.flush()
                    .with_context(|| format!("writing {flag} {}", p.display()))?;
            }
        }
        Ok(())
    }

    /// Write `--summary-json` (a new file renamed over the old one, so a
    /// reader never sees half of it: a live run rewrites it periodically).
    pub fn summary(&self, s: &Summary) -> Result<()> {
        let Some(p) = &self.summary_json else {
            return Ok(());
        };
        let mut tmp = p.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let mut text = serde_json::to_string_pretty(&s.to_json(SUMMARY_TOP))?;
        text.push('\n');
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, p))
            .with_context(|| format!("writing --summary-json {}", p.display()))
    }
}

/// The rows of one call, into buffers (`csv` / `traceback` say which).
pub fn rows(csv: bool, traceback: bool, call: &Call<'_>, c: &mut Vec<u8>, t: &mut Vec<u8>) {
    if csv {
        push_csv(c, &CsvRow::of(call));
    }
    if traceback && call.suspicious() {
        push_csv(t, &TracebackRow::of(call));
    }
}

/// Signers, peers and numbers listed in `--summary-json`.
pub const SUMMARY_TOP: usize = 100;

/// The settings of a verifying run, for the HTML report.
pub fn settings(a: &VerifyArgs) -> Vec<(String, String)> {
    let mut v = Vec::new();
    let paths = |p: &[PathBuf]| {
        p.iter()
            .map(|x| x.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    v.push((
        "certificates".to_owned(),
        match &a.cert {
            Some(c) => format!("--cert {}", c.display()),
            None => "x5u fetched".to_owned(),
        },
    ));
    v.push((
        "--trust-anchors".to_owned(),
        if a.trust_anchors.is_empty() {
            std::env::var(super::setup::TRUST_ANCHORS_ENV)
                .map(|e| format!("${} = {e}", super::setup::TRUST_ANCHORS_ENV))
                .unwrap_or_else(|_| "(none)".into())
        } else {
            paths(&a.trust_anchors)
        },
    ));
    v.push((
        "--now".to_owned(),
        a.now
            .map(rfc3339)
            .unwrap_or_else(|| "each call's own time".into()),
    ));
    v.push(("--max-age".to_owned(), format!("{} s", a.max_age)));
    v.push((
        "replay detection".to_owned(),
        if a.no_replay {
            "off".into()
        } else if let Some(d) = &a.replay_dir {
            format!("--replay-dir {}", d.display())
        } else {
            "on (memory)".into()
        },
    ));
    if !a.crl.crl.is_empty() || a.crl.fetch_crl {
        v.push((
            "CRLs".to_owned(),
            format!(
                "{}{}",
                a.crl.crl.join(", "),
                if a.crl.fetch_crl {
                    " + distribution points"
                } else {
                    ""
                }
            ),
        ));
    }
    v.push((
        "--tn-national".to_owned(),
        format!("{:?}", a.tn.tn_national),
    ));
    v
}

/// The end of a verifying run: `--summary-json`, the HTML report if asked
/// for, and the exit status (0 when every call passed, else 1).
#[allow(clippy::too_many_arguments)]
pub fn finish_verify(
    a: &VerifyArgs,
    exports: &mut Exports,
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
    exports.flush()?;
    exports.summary(summary)?;
    write_report(
        a.report.as_deref(),
        summary,
        &html_meta(a, title, source, elapsed, unit),
    )?;
    Ok(if summary.all_passed() {
        EXIT_OK
    } else {
        EXIT_FAIL
    })
}

/// The labels of the HTML page of a run.
pub fn html_meta(
    a: &VerifyArgs,
    title: &str,
    source: &str,
    elapsed: std::time::Duration,
    unit: &str,
) -> HtmlMeta {
    HtmlMeta {
        title: title.into(),
        source: source.into(),
        generated: rfc3339(now()),
        elapsed,
        unit: unit.into(),
        version: format!("shaken {}", env!("CARGO_PKG_VERSION")),
        settings: settings(a),
    }
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

/// The div chain for people: the verdict, then one line per hop.
pub fn diversion_text(d: &shaken::div::Diversion) -> String {
    let mut s = format!(
        "Diverted call: div chain {}{}\n",
        d.verdict.as_str(),
        d.target
            .as_deref()
            .map(|t| format!(" (to {t})"))
            .unwrap_or_default()
    );
    if let Some(r) = &d.reason {
        s.push_str(&format!(
            "  reason         {} ({}): {}\n",
            r.code, r.id, r.detail
        ));
    }
    for (n, h) in d.hops.iter().enumerate() {
        let signer = h
            .signer
            .as_ref()
            .map(|x| match &x.spc {
                Some(spc) => format!("SPC {spc}"),
                None => x.subject.clone(),
            })
            .unwrap_or_else(|| "signer unknown".into());
        let verdict = match &h.reason {
            None => "ok".to_owned(),
            Some(r) => format!("broken: {} ({})", r.id, r.detail),
        };
        s.push_str(&format!(
            "  hop {} [{}] {} -> {}  {}{}  {}\n",
            n + 1,
            h.index,
            h.from.as_deref().unwrap_or("?"),
            h.to.as_deref().unwrap_or("?"),
            signer,
            h.hi.as_deref()
                .map(|hi| format!(", hi {hi}"))
                .unwrap_or_default(),
            verdict
        ));
    }
    s
}
