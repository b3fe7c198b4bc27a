//! Verifying captured SIP messages one by one, as they complete: shared by
//! `verify --pcap` (a file or a stream on stdin) and `verify --hep` (a HEP
//! listener). Each INVITE is verified with the full SIP procedure at its
//! capture time; retransmissions are one call; every call makes one output
//! row (text or JSON Lines), counts in the summary, and writes its `--csv`
//! and `--traceback` rows.

use super::args::{OutFormat, VerifyArgs};
use super::clock::rfc3339;
use super::render::Exports;
use super::setup::VerifySetup;
use anyhow::Result;
use serde::Serialize;
use shaken::capture::{SipMessage, Transport};
use shaken::sip::SipRequest;
use shaken::sip_verify::{self, SipReport};
use shaken::summary::{Call, CsvRow, Summary};
use shaken::tn::TelephoneNumber;
use shaken::Report;
use std::collections::HashMap;
use std::io::Write;

/// Retransmissions of an INVITE (same Call-ID and CSeq) seen within this many
/// seconds are one call (RFC 3261 Timer B is 32 s).
const RETRANSMIT_WINDOW: i64 = 64;
/// Most (Call-ID, CSeq) pairs remembered for that.
const MAX_REMEMBERED: usize = 100_000;

/// One JSON line of `--format json`.
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
pub fn cell(s: &str) -> String {
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
    Some(number(&uri, tn))
}

/// A URI's number when it has one, else the URI.
fn number(uri: &str, tn: &shaken::tn::TnPolicy) -> String {
    TelephoneNumber::parse(uri, tn)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| uri.to_owned())
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

/// The calls of one run: the verifier, the output, the summary and the
/// export files.
pub struct Calls<'a, W: Write> {
    setup: &'a VerifySetup,
    format: OutFormat,
    out: W,
    /// Flush the output and the rows after every call (a live input).
    live: bool,
    seen: Seen,
    /// The counts so far.
    pub summary: Summary,
    /// `--csv`, `--traceback`, `--summary-json`.
    pub exports: Exports,
}

impl<'a, W: Write> Calls<'a, W> {
    /// Start a run; the text header is written at once.
    pub fn new(setup: &'a VerifySetup, a: &VerifyArgs, mut out: W, live: bool) -> Result<Self> {
        if a.format == OutFormat::Text {
            writeln!(out, "time\tcall-id\tfrom\tto\tattest\tverstat\treason")?;
            if live {
                out.flush()?;
            }
        }
        Ok(Calls {
            setup,
            format: a.format,
            out,
            live,
            seen: Seen::default(),
            summary: Summary::new(),
            exports: Exports::open(a)?,
        })
    }

    /// Verify one SIP message (an INVITE: the capture readers yield no
    /// other). Returns whether it was a call (not a retransmission).
    pub fn message(&mut self, msg: &SipMessage) -> Result<bool> {
        let t = i64::try_from(msg.time.as_secs()).unwrap_or(i64::MAX);
        let now = self.setup.now.unwrap_or(t);
        let time = rfc3339(t);
        let peer = msg.src.ip().to_string();
        let req = match SipRequest::parse(&msg.bytes, &self.setup.limits) {
            Ok(r) => r,
            Err(e) => {
                self.bad(msg, t, &time, &peer, &format!("unreadable INVITE: {e}"))?;
                return Ok(true);
            }
        };
        if let Some(call_id) = req.call_id() {
            let cseq = req.header_values("CSeq").first().copied().unwrap_or("");
            if self.seen.repeat(format!("{call_id}\u{0}{cseq}"), t) {
                return Ok(false);
            }
        }
        let setup = self.setup;
        // Every PASSporT of its kind (div PASSporTs: RFC 8946).
        let report =
            sip_verify::verify_request_kinds(&setup.verifier, &req, now, |identity, ctx, div| {
                setup.verify_passport(identity, ctx, div)
            });
        let orig = calling(&req, &report, &setup.tn_policy);
        let dest = report.to.as_deref().map(|u| number(u, &setup.tn_policy));
        let mut call = Call::new(&report.overall);
        call.line = msg.packet;
        call.call_id = report.call_id.as_deref();
        call.time = Some(t);
        call.peer = Some(&peer);
        call.orig = orig.as_deref();
        call.dest = dest.as_deref();
        call.passports = &report.passports;
        self.summary.record_call(&call);
        self.summary.record_diversion(report.diversion.as_ref());
        self.exports.call(&call)?;
        match self.format {
            OutFormat::Json => {
                serde_json::to_writer(
                    &mut self.out,
                    &CallLine {
                        time,
                        packet: msg.packet,
                        src: msg.src.to_string(),
                        dst: msg.dst.to_string(),
                        transport: msg.transport,
                        report: &report,
                    },
                )?;
                writeln!(self.out)?;
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
                    self.out,
                    "{time}\t{}\t{}\t{}\t{}\t{}\t{reason}",
                    cell(report.call_id.as_deref().unwrap_or("-")),
                    cell(report.from.as_deref().unwrap_or("-")),
                    cell(report.to.as_deref().unwrap_or("-")),
                    r.attest.map_or("-", |x| x.as_str()),
                    r.verstat,
                )?;
            }
        }
        self.flush_if_live()?;
        Ok(true)
    }

    /// An INVITE that could not be parsed: a row with the reason.
    fn bad(
        &mut self,
        msg: &SipMessage,
        t: i64,
        time: &str,
        peer: &str,
        message: &str,
    ) -> Result<()> {
        self.summary
            .record_malformed_call(msg.packet, Some(t), Some(peer), None);
        if self.exports.csv() {
            let report = Report::unverified();
            let mut call = Call::new(&report);
            call.line = msg.packet;
            call.time = Some(t);
            call.peer = Some(peer);
            let mut row = Vec::new();
            super::render::push_csv(&mut row, &CsvRow::malformed(&call));
            self.exports.write_rows(&row, &[])?;
        }
        match self.format {
            OutFormat::Json => {
                serde_json::to_writer(
                    &mut self.out,
                    &BadLine {
                        time: time.to_owned(),
                        packet: msg.packet,
                        src: msg.src.to_string(),
                        dst: msg.dst.to_string(),
                        transport: msg.transport,
                        verstat: "No-TN-Validation",
                        error: BadError {
                            packet: msg.packet,
                            message,
                        },
                    },
                )?;
                writeln!(self.out)?;
            }
            OutFormat::Text => writeln!(
                self.out,
                "{time}\t-\t-\t-\t-\tNo-TN-Validation\t{}",
                cell(&format!("packet {}: {message}", msg.packet))
            )?,
        }
        self.flush_if_live()
    }

    fn flush_if_live(&mut self) -> Result<()> {
        if self.live {
            // The exports first: a reader that sees the row on stdout then
            // finds its CSV and traceback rows on disk already.
            self.exports.flush()?;
            self.out.flush()?;
        }
        Ok(())
    }

    /// Flush the output at the end of the run.
    pub fn flush(&mut self) -> Result<()> {
        self.out.flush()?;
        self.exports.flush()
    }
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
