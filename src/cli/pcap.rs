//! `shaken verify --pcap FILE|-`: verify every INVITE in a capture (a file,
//! or a capture stream on stdin such as `tcpdump -w -`), at the capture's
//! timestamps, with the full SIP procedure; rows come out as calls complete.

use super::args::VerifyArgs;
use super::calls::Calls;
use super::render::{finish_verify, progress};
use super::setup::build_setup;
use anyhow::{Context, Result};
use shaken::capture::{CaptureLimits, CaptureReader};
use std::io::Read;
use std::time::Instant;

/// `shaken verify --pcap FILE|-`: verify every INVITE of the capture at
/// `path` (`-`: standard input, each row written as its call completes).
pub fn verify(path: String, a: VerifyArgs) -> Result<i32> {
    let setup = build_setup(&a, true)?;
    let live = path == "-";
    let input: Box<dyn Read> = if live {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(&path).with_context(|| format!("opening --pcap {path}"))?)
    };
    let limits = CaptureLimits::from(&setup.limits);
    let mut reader = CaptureReader::new(input, limits).with_context(|| format!("--pcap {path}"))?;
    let started = Instant::now();
    let bar = progress("calls");
    let stdout = std::io::stdout();
    let mut calls = Calls::new(&setup, &a, std::io::BufWriter::new(stdout.lock()), live)?;
    let mut capture_error = None;
    for item in reader.by_ref() {
        match item {
            Ok(msg) => {
                if calls.message(&msg)? {
                    bar.inc(1);
                }
            }
            Err(e) => {
                capture_error = Some(e);
                break;
            }
        }
    }
    calls.flush()?;
    bar.finish_and_clear();
    let elapsed = started.elapsed();
    let stats = reader.stats();
    eprint!("{}", calls.summary.text("calls", elapsed));
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
    let source = if live {
        "standard input"
    } else {
        path.as_str()
    };
    let Calls {
        summary,
        mut exports,
        ..
    } = calls;
    finish_verify(
        &a,
        &mut exports,
        &summary,
        "shaken verify --pcap",
        source,
        elapsed,
        "calls",
    )
}
