//! Counting many verification results, and showing them.
//!
//! [`Summary`] counts [`Report`]s by verstat, attestation, failure reason,
//! signer (SPC) and failing calling number. Memory is bounded: every tally
//! keeps at most [`MAX_KEYS`] distinct keys and counts the rest as "other",
//! so a stream of millions of distinct numbers cannot grow it without end.
//! Summaries built on different threads are [`merge`](Summary::merge)d.
//!
//! [`Summary::text`] is the end-of-run summary for a terminal, and
//! [`render_html`] a single self-contained HTML page (inline CSS and SVG, no
//! script, no external resource) in which every string that came from the
//! input is escaped.
//!
//! Pure: no clock, no files. The caller passes the elapsed time and the
//! page's labels.

use crate::report::{Report, Verstat};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

/// Most distinct keys one [`Tally`] keeps (more are counted in
/// [`Tally::other`]).
pub const MAX_KEYS: usize = 10_000;

/// Summary key for a request line or message that could not be read at all.
pub const REASON_REQUEST_INVALID: &str = "request-invalid";

/// Attestation key for results without an attestation.
pub const NO_ATTESTATION: &str = "none";

/// A bounded counter over string keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    counts: HashMap<String, u64>,
    other: u64,
    max_keys: usize,
}

impl Default for Tally {
    fn default() -> Self {
        Tally::new(MAX_KEYS)
    }
}

impl Tally {
    /// A tally keeping at most `max_keys` distinct keys.
    pub fn new(max_keys: usize) -> Self {
        Tally {
            counts: HashMap::new(),
            other: 0,
            max_keys,
        }
    }

    /// Count `n` more for `key` (allocates only for a key not seen yet).
    pub fn add(&mut self, key: &str, n: u64) {
        if let Some(c) = self.counts.get_mut(key) {
            *c = c.saturating_add(n);
        } else if self.counts.len() < self.max_keys {
            self.counts.insert(key.to_owned(), n);
        } else {
            self.other = self.other.saturating_add(n);
        }
    }

    /// The count for `key` (0 if never seen or counted as other).
    pub fn get(&self, key: &str) -> u64 {
        self.counts.get(key).copied().unwrap_or(0)
    }

    /// What was counted after the key limit was reached.
    pub fn other(&self) -> u64 {
        self.other
    }

    /// The sum of all counts, other included.
    pub fn total(&self) -> u64 {
        self.counts
            .values()
            .fold(self.other, |a, b| a.saturating_add(*b))
    }

    /// Number of distinct keys kept.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty() && self.other == 0
    }

    /// The `n` largest counts, largest first; ties in key order.
    pub fn top(&self, n: usize) -> Vec<(&str, u64)> {
        let mut v: Vec<(&str, u64)> = self.counts.iter().map(|(k, c)| (k.as_str(), *c)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        v.truncate(n);
        v
    }

    /// Add every count of `other` to this tally.
    pub fn merge(&mut self, other: &Tally) {
        for (k, c) in &other.counts {
            self.add(k, *c);
        }
        self.other = self.other.saturating_add(other.other);
    }
}

/// Counts over many verification results.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Results recorded (malformed inputs included).
    pub total: u64,
    /// Results with verstat `TN-Validation-Passed`.
    pub passed: u64,
    /// Inputs that could not be read as a request at all.
    pub malformed: u64,
    /// Results by verstat token (`TN-Validation-Passed`...).
    pub by_verstat: Tally,
    /// Results by attestation (`A`, `B`, `C` or [`NO_ATTESTATION`]).
    pub by_attestation: Tally,
    /// Results that did not pass, by reason id (`signature-invalid`...,
    /// [`REASON_REQUEST_INVALID`] for malformed input).
    pub by_reason: Tally,
    /// Results with a known signer certificate, by SPC (`(no SPC)` when the
    /// certificate carries none).
    pub by_spc: Tally,
    /// Of [`by_spc`](Self::by_spc), those that did not pass.
    pub by_spc_failed: Tally,
    /// Calling numbers of the calls that did not pass.
    pub failed_callers: Tally,
    /// Caller names (Rich Call Data `nam`) whose RCD verified.
    pub rcd_verified: Tally,
    /// Caller names whose RCD did not verify (the PASSporT failed, a digest
    /// did not match or could not be checked).
    pub rcd_unverified: Tally,
}

impl Summary {
    /// An empty summary.
    pub fn new() -> Self {
        Summary::default()
    }

    /// Record one result. `calling` is the call's calling number as the
    /// caller saw it (request `from`, SIP From/PAI); when `None` the
    /// PASSporT's `orig` is used.
    pub fn record(&mut self, report: &Report, calling: Option<&str>) {
        self.total = self.total.saturating_add(1);
        let passed = report.passed();
        if passed {
            self.passed = self.passed.saturating_add(1);
        }
        self.by_verstat.add(report.verstat.as_str(), 1);
        self.by_attestation
            .add(report.attest.map_or(NO_ATTESTATION, |a| a.as_str()), 1);
        if let Some(r) = &report.reason {
            self.by_reason.add(&r.id, 1);
        }
        if let Some(s) = &report.signer {
            let spc = s.spc.as_deref().unwrap_or("(no SPC)");
            self.by_spc.add(spc, 1);
            if !passed {
                self.by_spc_failed.add(spc, 1);
            }
        }
        if !passed {
            if let Some(n) = calling.or(report.orig.as_deref()) {
                self.failed_callers.add(n, 1);
            }
        }
        if let Some(rcd) = &report.rcd {
            let name = rcd.nam.as_deref().unwrap_or("(call reason only)");
            if rcd.verified {
                self.rcd_verified.add(name, 1);
            } else {
                self.rcd_unverified.add(name, 1);
            }
        }
    }

    /// Record an input that could not be read as a request (counted as
    /// `No-TN-Validation`, reason [`REASON_REQUEST_INVALID`]).
    pub fn record_malformed(&mut self, calling: Option<&str>) {
        self.total = self.total.saturating_add(1);
        self.malformed = self.malformed.saturating_add(1);
        self.by_verstat.add(Verstat::NoValidation.as_str(), 1);
        self.by_attestation.add(NO_ATTESTATION, 1);
        self.by_reason.add(REASON_REQUEST_INVALID, 1);
        if let Some(n) = calling {
            self.failed_callers.add(n, 1);
        }
    }

    /// Add another summary (from another thread) to this one.
    pub fn merge(&mut self, o: &Summary) {
        self.total = self.total.saturating_add(o.total);
        self.passed = self.passed.saturating_add(o.passed);
        self.malformed = self.malformed.saturating_add(o.malformed);
        self.by_verstat.merge(&o.by_verstat);
        self.by_attestation.merge(&o.by_attestation);
        self.by_reason.merge(&o.by_reason);
        self.by_spc.merge(&o.by_spc);
        self.by_spc_failed.merge(&o.by_spc_failed);
        self.failed_callers.merge(&o.failed_callers);
        self.rcd_verified.merge(&o.rcd_verified);
        self.rcd_unverified.merge(&o.rcd_unverified);
    }

    /// Results that did not pass.
    pub fn not_passed(&self) -> u64 {
        self.total.saturating_sub(self.passed)
    }

    /// Whether every result passed (true for an empty run).
    pub fn all_passed(&self) -> bool {
        self.passed == self.total
    }

    /// The end-of-run summary for people (stderr). `what` names the unit
    /// ("lines", "calls").
    pub fn text(&self, what: &str, elapsed: Duration) -> String {
        let mut s = String::new();
        let secs = elapsed.as_secs_f64();
        let rate = rate(self.total, elapsed);
        let _ = writeln!(
            s,
            "summary: {} {what}, {} passed, {} not passed ({} malformed) in {secs:.2} s ({rate:.0} {what}/s)",
            self.total,
            self.passed,
            self.not_passed(),
            self.malformed
        );
        let _ = writeln!(s, "  verstat:");
        for (k, c) in verstat_rows(self) {
            let _ = writeln!(s, "    {k:<22}{c:>10}  {}", pct(c, self.total));
        }
        let _ = writeln!(s, "  attestation:");
        for (k, c) in attestation_rows(self) {
            let _ = writeln!(s, "    {k:<22}{c:>10}  {}", pct(c, self.total));
        }
        if !self.by_reason.is_empty() {
            let _ = writeln!(s, "  reasons (not passed):");
            for (k, c) in self.by_reason.top(usize::MAX) {
                let _ = writeln!(s, "    {k:<30}{c:>10}");
            }
        }
        s
    }
}

/// Lines (or calls) per second.
pub fn rate(n: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        n as f64 / secs
    } else {
        0.0
    }
}

fn pct(n: u64, total: u64) -> String {
    if total == 0 {
        return "-".into();
    }
    format!("{:.1}%", n as f64 * 100.0 / total as f64)
}

const VERSTATS: [Verstat; 3] = [Verstat::Passed, Verstat::Failed, Verstat::NoValidation];

fn verstat_rows(s: &Summary) -> Vec<(&'static str, u64)> {
    VERSTATS
        .iter()
        .map(|v| (v.as_str(), s.by_verstat.get(v.as_str())))
        .collect()
}

fn attestation_rows(s: &Summary) -> Vec<(&'static str, u64)> {
    ["A", "B", "C", NO_ATTESTATION]
        .iter()
        .map(|k| (*k, s.by_attestation.get(k)))
        .collect()
}

/// Labels of the HTML page (all escaped when rendered).
#[derive(Debug, Clone, Default)]
pub struct HtmlMeta {
    /// Page title, e.g. "shaken verify --batch".
    pub title: String,
    /// What was read (file name).
    pub source: String,
    /// When the report was made, as text (the caller formats its clock).
    pub generated: String,
    /// How long the run took.
    pub elapsed: Duration,
    /// The unit counted ("lines", "calls").
    pub unit: String,
}

/// Escape text for HTML element content and quoted attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

const COLOR_PASSED: &str = "#2e7d32";
const COLOR_FAILED: &str = "#c62828";
const COLOR_NONE: &str = "#9e9e9e";
const PALETTE: [&str; 6] = [
    "#1565c0", "#ef6c00", "#6a1b9a", "#9e9e9e", "#00838f", "#ad1457",
];

fn verstat_color(v: &str) -> &'static str {
    match v {
        "TN-Validation-Passed" => COLOR_PASSED,
        "TN-Validation-Failed" => COLOR_FAILED,
        _ => COLOR_NONE,
    }
}

/// One 100 % stacked bar with a legend, as inline SVG.
fn share_svg(rows: &[(&str, u64, &str)], total: u64) -> String {
    let width = 600.0_f64;
    let mut s = format!(
        "<svg class=\"share\" role=\"img\" width=\"{width}\" height=\"{}\" viewBox=\"0 0 {width} {}\" xmlns=\"http://www.w3.org/2000/svg\">",
        40 + 20 * rows.len(),
        40 + 20 * rows.len()
    );
    let mut x = 0.0_f64;
    for (label, n, color) in rows {
        if total == 0 || *n == 0 {
            continue;
        }
        let w = width * (*n as f64) / (total as f64);
        let _ = write!(
            s,
            "<rect x=\"{x:.2}\" y=\"0\" width=\"{w:.2}\" height=\"28\" fill=\"{color}\"><title>{}: {n}</title></rect>",
            escape_html(label)
        );
        x += w;
    }
    for (i, (label, n, color)) in rows.iter().enumerate() {
        let y = 40 + 20 * i;
        let _ = write!(
            s,
            "<rect x=\"0\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{color}\"/><text x=\"18\" y=\"{}\">{} — {n} ({})</text>",
            y,
            y + 11,
            escape_html(label),
            pct(*n, total)
        );
    }
    s.push_str("</svg>");
    s
}

/// Horizontal bars, one per row, as inline SVG.
fn bars_svg(rows: &[(&str, u64)], color: &str) -> String {
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0);
    let label_w = 260.0_f64;
    let bar_w = 300.0_f64;
    let h = 22 * rows.len().max(1);
    let mut s = format!(
        "<svg class=\"bars\" role=\"img\" width=\"{}\" height=\"{h}\" viewBox=\"0 0 {} {h}\" xmlns=\"http://www.w3.org/2000/svg\">",
        label_w + bar_w + 90.0,
        label_w + bar_w + 90.0
    );
    for (i, (label, n)) in rows.iter().enumerate() {
        let y = 22 * i;
        let w = if max == 0 {
            0.0
        } else {
            bar_w * (*n as f64) / (max as f64)
        };
        let shown: String = label.chars().take(40).collect();
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text><rect x=\"{label_w}\" y=\"{}\" width=\"{w:.2}\" height=\"16\" fill=\"{color}\"><title>{}: {n}</title></rect><text x=\"{:.2}\" y=\"{}\">{n}</text>",
            label_w - 6.0,
            y + 14,
            escape_html(&shown),
            y + 2,
            escape_html(label),
            label_w + w + 6.0,
            y + 14,
        );
    }
    s.push_str("</svg>");
    s
}

fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = String::from("<table><thead><tr>");
    for h in head {
        let _ = write!(s, "<th>{}</th>", escape_html(h));
    }
    s.push_str("</tr></thead><tbody>");
    for r in rows {
        s.push_str("<tr>");
        for c in r {
            let _ = write!(s, "<td>{}</td>", escape_html(c));
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
    s
}

/// How many entries the "top" sections of the page show.
pub const HTML_TOP: usize = 20;

/// Render the summary as one self-contained HTML page: a summary table,
/// verstat and attestation shares, failure reasons, signers by SPC and the
/// calling numbers that failed most. Every input-derived string is escaped.
pub fn render_html(s: &Summary, meta: &HtmlMeta) -> String {
    let unit = if meta.unit.is_empty() {
        "results"
    } else {
        meta.unit.as_str()
    };
    let mut h = String::with_capacity(16 * 1024);
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    let _ = write!(h, "<title>{}</title>", escape_html(&meta.title));
    h.push_str(
        "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:60em;color:#222}\
         table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}\
         td.n,th.n{text-align:right}svg text{font-size:12px;font-family:system-ui,sans-serif}\
         .ok{color:#2e7d32}.bad{color:#c62828}h2{margin-top:1.5em;border-bottom:1px solid #ddd}</style>",
    );
    h.push_str("</head><body>");
    let _ = write!(h, "<h1>{}</h1>", escape_html(&meta.title));
    let _ = write!(
        h,
        "<p>Source: <code>{}</code> · generated {} · {:.2} s ({:.0} {}/s)</p>",
        escape_html(&meta.source),
        escape_html(&meta.generated),
        meta.elapsed.as_secs_f64(),
        rate(s.total, meta.elapsed),
        escape_html(unit)
    );

    h.push_str("<h2>Summary</h2>");
    let summary_rows = vec![
        vec![
            format!("total {unit}"),
            s.total.to_string(),
            pct(s.total, s.total),
        ],
        vec![
            "passed".into(),
            s.passed.to_string(),
            pct(s.passed, s.total),
        ],
        vec![
            "not passed".into(),
            s.not_passed().to_string(),
            pct(s.not_passed(), s.total),
        ],
        vec![
            "malformed input".into(),
            s.malformed.to_string(),
            pct(s.malformed, s.total),
        ],
    ];
    h.push_str(&table(&["", "count", "share"], &summary_rows));

    h.push_str("<h2>Verstat</h2>");
    let vrows: Vec<(&str, u64, &str)> = verstat_rows(s)
        .into_iter()
        .map(|(k, c)| (k, c, verstat_color(k)))
        .collect();
    h.push_str(&share_svg(&vrows, s.total));
    h.push_str(&table(
        &["verstat", "count", "share"],
        &vrows
            .iter()
            .map(|(k, c, _)| vec![(*k).to_owned(), c.to_string(), pct(*c, s.total)])
            .collect::<Vec<_>>(),
    ));

    h.push_str("<h2>Attestation</h2>");
    let arows: Vec<(&str, u64, &str)> = attestation_rows(s)
        .into_iter()
        .zip(PALETTE.iter())
        .map(|((k, c), color)| (k, c, *color))
        .collect();
    h.push_str(&share_svg(&arows, s.total));
    h.push_str(&table(
        &["attestation", "count", "share"],
        &arows
            .iter()
            .map(|(k, c, _)| vec![(*k).to_owned(), c.to_string(), pct(*c, s.total)])
            .collect::<Vec<_>>(),
    ));

    h.push_str("<h2>Failure reasons</h2>");
    let reasons = s.by_reason.top(HTML_TOP);
    if reasons.is_empty() {
        h.push_str("<p class=\"ok\">Every result passed.</p>");
    } else {
        h.push_str(&bars_svg(&reasons, COLOR_FAILED));
        h.push_str(&table(
            &["reason", "count"],
            &reasons
                .iter()
                .map(|(k, c)| vec![(*k).to_owned(), c.to_string()])
                .collect::<Vec<_>>(),
        ));
    }

    h.push_str("<h2>Signers by SPC</h2>");
    let spcs = s.by_spc.top(HTML_TOP);
    if spcs.is_empty() {
        h.push_str("<p>No signer certificate was examined.</p>");
    } else {
        h.push_str(&bars_svg(&spcs, PALETTE[0]));
        h.push_str(&table(
            &["SPC", "calls", "not passed"],
            &spcs
                .iter()
                .map(|(k, c)| {
                    vec![
                        (*k).to_owned(),
                        c.to_string(),
                        s.by_spc_failed.get(k).to_string(),
                    ]
                })
                .collect::<Vec<_>>(),
        ));
    }

    h.push_str("<h2>Calling numbers that failed most</h2>");
    let callers = s.failed_callers.top(HTML_TOP);
    if callers.is_empty() {
        h.push_str("<p class=\"ok\">None.</p>");
    } else {
        h.push_str(&bars_svg(&callers, COLOR_FAILED));
        h.push_str(&table(
            &["calling number", "not passed"],
            &callers
                .iter()
                .map(|(k, c)| vec![(*k).to_owned(), c.to_string()])
                .collect::<Vec<_>>(),
        ));
        if s.failed_callers.other() > 0 {
            let _ = write!(
                h,
                "<p>{} more not-passed calls came from numbers beyond the first {} distinct ones and are not itemised.</p>",
                s.failed_callers.other(),
                MAX_KEYS
            );
        }
    }
    // Rich Call Data (issue 16): only when some call carried a name.
    if !s.rcd_verified.is_empty() || !s.rcd_unverified.is_empty() {
        h.push_str("<h2>Caller names (Rich Call Data)</h2>");
        let mut names: Vec<&str> = s
            .rcd_verified
            .top(HTML_TOP)
            .into_iter()
            .chain(s.rcd_unverified.top(HTML_TOP))
            .map(|(k, _)| k)
            .collect();
        names.sort_unstable();
        names.dedup();
        h.push_str(&table(
            &["caller name", "verified", "not verified"],
            &names
                .iter()
                .map(|k| {
                    vec![
                        (*k).to_owned(),
                        s.rcd_verified.get(k).to_string(),
                        s.rcd_unverified.get(k).to_string(),
                    ]
                })
                .collect::<Vec<_>>(),
        ));
    }
    h.push_str(
        "<p><small>Made by shaken. Self-contained: no script, no external resource.</small></p>",
    );
    h.push_str("</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::passport::Attestation;
    use crate::report::{Reason, SignerInfo};

    fn report(verstat: Verstat, attest: Option<Attestation>, reason: Option<&str>) -> Report {
        Report {
            verstat,
            attest,
            orig: Some("12155551212".into()),
            dest: vec!["12355551212".into()],
            origid: None,
            iat: Some(1),
            x5u: None,
            ppt: Some("shaken".into()),
            reason: reason.map(|id| Reason {
                code: 438,
                text: "Invalid Identity Header".into(),
                detail: "x".into(),
                id: id.into(),
            }),
            signer: Some(SignerInfo {
                subject: "CN=SHAKEN 1234".into(),
                spc: Some("1234".into()),
                trusted: true,
            }),
            warnings: vec![],
            rcd: None,
        }
    }

    #[test]
    fn counts_and_merge() {
        let mut a = Summary::new();
        a.record(&report(Verstat::Passed, Some(Attestation::A), None), None);
        a.record(
            &report(
                Verstat::Failed,
                Some(Attestation::B),
                Some("signature-invalid"),
            ),
            Some("+1 999"),
        );
        let mut b = Summary::new();
        b.record_malformed(None);
        b.record(
            &report(Verstat::NoValidation, None, Some("no-identity")),
            None,
        );
        a.merge(&b);
        assert_eq!(a.total, 4);
        assert_eq!(a.passed, 1);
        assert_eq!(a.not_passed(), 3);
        assert_eq!(a.malformed, 1);
        assert!(!a.all_passed());
        assert_eq!(a.by_verstat.get("TN-Validation-Passed"), 1);
        assert_eq!(a.by_verstat.get("TN-Validation-Failed"), 1);
        assert_eq!(a.by_verstat.get("No-TN-Validation"), 2);
        assert_eq!(a.by_attestation.get("A"), 1);
        assert_eq!(a.by_attestation.get("B"), 1);
        assert_eq!(a.by_attestation.get(NO_ATTESTATION), 2);
        assert_eq!(a.by_reason.get("signature-invalid"), 1);
        assert_eq!(a.by_reason.get(REASON_REQUEST_INVALID), 1);
        assert_eq!(a.by_spc.get("1234"), 3);
        assert_eq!(a.by_spc_failed.get("1234"), 2);
        // The caller's number wins over the PASSporT's orig.
        assert_eq!(a.failed_callers.get("+1 999"), 1);
        assert_eq!(a.failed_callers.get("12155551212"), 1);
        let t = a.text("lines", Duration::from_secs(2));
        assert!(
            t.contains("4 lines, 1 passed, 3 not passed (1 malformed)"),
            "{t}"
        );
        assert!(t.contains("signature-invalid"), "{t}");
    }

    /// Calls with a caller name: counted verified or not, and listed in the
    /// HTML report only when there are some.
    #[test]
    fn caller_names_are_counted_and_listed() {
        let mut s = Summary::new();
        let plain = report(Verstat::Passed, Some(Attestation::A), None);
        s.record(&plain, None);
        assert!(!render_html(&s, &HtmlMeta::default()).contains("Caller names"));
        let claims = crate::rcd::RcdClaims::new(Some(crate::rcd::Rcd::named("Acme <Bank>")), None);
        let content = crate::rcd::RcdContent::new();
        let mut named = plain.clone();
        named.rcd = Some(crate::rcd::RcdReport::new(
            &claims,
            Ok(()),
            &content,
            "shaken",
        ));
        s.record(&named, None);
        let mut failed = report(
            Verstat::Failed,
            Some(Attestation::A),
            Some("signature-invalid"),
        );
        failed.rcd = Some(crate::rcd::RcdReport::new(
            &claims,
            Err("no".into()),
            &content,
            "shaken",
        ));
        s.record(&failed, None);
        assert_eq!(s.rcd_verified.get("Acme <Bank>"), 1);
        assert_eq!(s.rcd_unverified.get("Acme <Bank>"), 1);
        let html = render_html(&s, &HtmlMeta::default());
        assert!(
            html.contains("<h2>Caller names (Rich Call Data)</h2>"),
            "{html}"
        );
        assert!(html.contains("<td>Acme &lt;Bank&gt;</td>"), "{html}");
    }

    #[test]
    fn empty_run_passes() {
        let s = Summary::new();
        assert!(s.all_passed());
        assert_eq!(rate(0, Duration::ZERO), 0.0);
        let html = render_html(&s, &HtmlMeta::default());
        assert!(html.contains("Every result passed"));
    }

    #[test]
    fn tally_is_bounded() {
        let mut t = Tally::new(2);
        t.add("a", 1);
        t.add("b", 2);
        t.add("c", 5);
        t.add("a", 1);
        assert_eq!(t.len(), 2);
        assert_eq!(t.get("c"), 0);
        assert_eq!(t.other(), 5);
        assert_eq!(t.total(), 9);
        assert_eq!(t.top(1), vec![("a", 2)]);
        let mut u = Tally::new(2);
        u.merge(&t);
        assert_eq!(u.total(), 9);
    }

    #[test]
    fn top_ties_in_key_order() {
        let mut t = Tally::default();
        t.add("z", 1);
        t.add("a", 1);
        t.add("m", 3);
        assert_eq!(t.top(10), vec![("m", 3), ("a", 1), ("z", 1)]);
    }

    #[test]
    fn escaping() {
        assert_eq!(
            escape_html("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
        assert_eq!(escape_html("a\u{0}b"), "a\u{fffd}b");
    }

    #[test]
    fn html_escapes_input_and_shows_numbers() {
        let mut s = Summary::new();
        s.record(&report(Verstat::Passed, Some(Attestation::A), None), None);
        let mut evil = report(
            Verstat::NoValidation,
            Some(Attestation::C),
            Some("<img src=x onerror=alert(1)>"),
        );
        evil.signer = Some(SignerInfo {
            subject: "x".into(),
            spc: Some("<b>spc</b>".into()),
            trusted: false,
        });
        s.record(&evil, Some("<script>alert(1)</script>"));
        let html = render_html(
            &s,
            &HtmlMeta {
                title: "t <i>".into(),
                source: "\"><script>".into(),
                generated: "now".into(),
                elapsed: Duration::from_secs(1),
                unit: "calls".into(),
            },
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<b>spc"), "{html}");
        assert!(!html.contains("<i>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("<td>total calls</td><td>2</td><td>100.0%</td>"));
        assert!(html.contains("<td>TN-Validation-Passed</td><td>1</td><td>50.0%</td>"));
        assert!(html.contains("<td>C</td><td>1</td><td>50.0%</td>"));
        // Self-contained.
        assert!(!html.contains("<link"));
        assert!(!html.contains(" src=\""));
        assert!(html.contains("<svg"));
    }
}
