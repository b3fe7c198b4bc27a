//! `shaken verify --pcap FILE`: verify every INVITE in a capture, at the
//! capture's timestamps, with the full SIP procedure.

use super::args::{OutFormat, VerifyArgs};
use super::clock::rfc3339;
use super::render::{finish_verify, progress};
use super::setup::build_setup;
use anyhow::{Context, Result};
use serde::Serialize;
use shaken::capture::{CaptureLimits, CaptureReader, SipMessage, Transport};
use shaken::sip::SipRequest;
use shaken::sip_verify::{self, SipReport};
use shaken::summary::Summary;
use shaken::tn::TelephoneNumber;
use std::collections::HashMap;
use std::io::Write;
use std::time::Instant;

/// Retransmissions of an INVITE (same Call-ID and CSeq) seen within this many
/// seconds are one call (RFC 3261 Timer B is 32 s).
const RETRANSMIT_WINDOW: i64 = 64;
/// Most (Call-ID, CSeq) pairs remembered for that.
const MAX_REMEMBERED: usize = 100_000;

/// One JSON line of `verify --pcap --format json`.
#[derive(Serialize)]
struct CallLine<'a> {
    /// Capture time of the packet that completed the INVITE, RFC 3339.
    time: String,
    /// Packet number (1-based, as Wireshark counts).
    packet: u64,
    src: String,
    dst: String,
    transport: Transport,
    #[serde(flatten)]
    report: &'a SipReport,
}

/// One JSON line for an INVITE that could not be parsed.
#[derive(Serialize)]
struct BadLine<'a> {
    time: String,
    packet: u64,
    src: String,
    dst: String,
    transport: Transport,
    verstat: &'static str,
    error: BadError<'a>,
}

#[derive(Serialize)]
struct BadError<'a> {
    packet: u64,
    message: &'a str,
}

/// Text cell: no control characters (tabs and escapes from a stranger's
/// header must not reshape the table or the terminal).
fn cell(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The calling number for the summary: PAI if present, else From;
/// canonical when it is a number.
fn calling(req: &SipRequest, report: &SipReport, tn: &shaken::tn::TnPolicy) -> Option<String> {
    let uri = req
        .p_asserted_identities()
        .ok()
        .and_then(|p| p.into_iter().next().map(|n| n.uri))
        .or_else(|| report.from.clone())?;
    Some(
        TelephoneNumber::parse(&uri, tn)
            .map(|t| t.to_string())
            .unwrap_or(uri),
    )
}

/// Remembers recent (Call-ID, CSeq) pairs, bounded.
#[derive(Default)]
struct Seen {
    map: HashMap<String, i64>,
}

impl Seen {
    /// Whether this INVITE is a retransmission of one already seen.
    fn repeat(&mut self, key: String, t: i64) -> bool {
        if let Some(first) = self.map.get(&key) {
            if t.saturating_sub(*first).abs() <= RETRANSMIT_WINDOW {
                return true;
            }
        }
        if self.map.len() >= MAX_REMEMBERED {
            self.map
                .retain(|_, v| t.saturating_sub(*v).abs() <= RETRANSMIT_WINDOW);
            if self.map.len() >= MAX_REMEMBERED {
                self.map.clear();
            }
        }
        self.map.insert(key, t);
        false
    }
}

/// `shaken verify --pcap FILE`: verify every INVITE of the capture at `path`.
pub fn verify(path: String, a: VerifyArgs) -> Result<i32> {
    let setup = build_setup(&a, true)?;
    let file = std::fs::File::open(&path).with_context(|| format!("opening --pcap {path}"))?;
    let limits = CaptureLimits::from(&setup.limits);
    let mut reader = CaptureReader::new(file, limits).with_context(|| format!("--pcap {path}"))?;
    let started = Instant::now();
    let bar = progress("calls");
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if a.format == OutFormat::Text {
        writeln!(out, "time\tcall-id\tfrom\tto\tattest\tverstat\treason")?;
    }
    let mut summary = Summary::new();
    let mut seen = Seen::default();
    let mut capture_error = None;
    for item in reader.by_ref() {
        let msg: SipMessage = match item {
            Ok(m) => m,
            Err(e) => {
                capture_error = Some(e);
                break;
            }
        };
        let t = i64::try_from(msg.time.as_secs()).unwrap_or(i64::MAX);
        let now = setup.now.unwrap_or(t);
        let time = rfc3339(t);
        let req = match SipRequest::parse(&msg.bytes, &setup.limits) {
            Ok(r) => r,
            Err(e) => {
                summary.record_malformed(None);
                bar.inc(1);
                let message = format!("unreadable INVITE: {e}");
                match a.format {
                    OutFormat::Json => {
                        serde_json::to_writer(
                            &mut out,
                            &BadLine {
                                time,
                                packet: msg.packet,
                                src: msg.src.to_string(),
                                dst: msg.dst.to_string(),
                                transport: msg.transport,
                                verstat: "No-TN-Validation",
                                error: BadError {
                                    packet: msg.packet,
                                    message: &message,
                                },
                            },
                        )?;
                        writeln!(out)?;
                    }
                    OutFormat::Text => writeln!(
                        out,
                        "{time}\t-\t-\t-\t-\tNo-TN-Validation\t{}",
                        cell(&format!("packet {}: {message}", msg.packet))
                    )?,
                }
                continue;
            }
        };
        if let Some(call_id) = req.call_id() {
            let cseq = req.header_values("CSeq").first().copied().unwrap_or("");
            if seen.repeat(format!("{call_id}\u{0}{cseq}"), t) {
                continue;
            }
        }
        // Stage 1 by the procedure (div PASSporTs included), stage 2 here.
        let report = sip_verify::verify_request_staged(&setup.verifier, &req, now, |p, ctx| {
            setup.complete(p, ctx)
        });
        summary.record(
            &report.overall,
            calling(&req, &report, &setup.tn_policy).as_deref(),
        );
        summary.record_diversion(report.diversion.as_ref());
        bar.inc(1);
        match a.format {
            OutFormat::Json => {
                serde_json::to_writer(
                    &mut out,
                    &CallLine {
                        time,
                        packet: msg.packet,
                        src: msg.src.to_string(),
                        dst: msg.dst.to_string(),
                        transport: msg.transport,
                        report: &report,
                    },
                )?;
                writeln!(out)?;
            }
            OutFormat::Text => {
                let r = &report.overall;
                let mut reason = r
                    .reason
                    .as_ref()
                    .map(|x| format!("{} {}", x.code, x.id))
                    .unwrap_or_else(|| "-".into());
                // A diverted call (RFC 8946): its chain, in the last column.
                if let Some(d) = &report.diversion {
                    reason.push_str(&format!(
                        " div={}({} hops)",
                        d.verdict.as_str(),
                        d.hops.len()
                    ));
                }
                writeln!(
                    out,
                    "{time}\t{}\t{}\t{}\t{}\t{}\t{reason}",
                    cell(report.call_id.as_deref().unwrap_or("-")),
                    cell(report.from.as_deref().unwrap_or("-")),
                    cell(report.to.as_deref().unwrap_or("-")),
                    r.attest.map_or("-", |x| x.as_str()),
                    r.verstat,
                )?;
            }
        }
    }
    out.flush()?;
    bar.finish_and_clear();
    let elapsed = started.elapsed();
    let stats = reader.stats();
    eprint!("{}", summary.text("calls", elapsed));
    eprintln!(
        "capture: {} packets, {} SIP messages, {} INVITEs; skipped {} undecodable and {} of other link types; {} TCP bytes dropped",
        stats.packets,
        stats.sip_messages,
        stats.invites,
        stats.undecodable,
        stats.unsupported_link,
        stats.tcp_bytes_dropped
    );
    if let Some(e) = &capture_error {
        eprintln!("warning: --pcap {path}: {e}; the calls before it are shown");
    }
    finish_verify(
        a.report.as_deref(),
        &summary,
        "shaken verify --pcap",
        &path,
        elapsed,
        "calls",
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn cells_have_no_control_characters() {
        assert_eq!(cell("a\tb\x1b[31m\n"), "a?b?[31m?");
    }

    #[test]
    fn retransmissions_are_one_call() {
        let mut s = Seen::default();
        assert!(!s.repeat("c\u{0}1 INVITE".into(), 100));
        assert!(s.repeat("c\u{0}1 INVITE".into(), 104));
        assert!(!s.repeat("c\u{0}2 INVITE".into(), 104));
        assert!(!s.repeat("c\u{0}1 INVITE".into(), 1000));
    }
}
