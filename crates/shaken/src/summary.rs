//! Counting many verification results, and showing them.
//!
//! [`Summary`] counts calls ([`Call`]: a [`Report`] and what the input said
//! about the call: line, Call-ID, time, peer, numbers) by outcome (passed,
//! failed, unsigned, malformed), verstat, attestation (passed and failed
//! apart), failure reason, signer, peer, minute and failing calling number.
//! A call is counted under the signer whose certificate verified its
//! signature even when another check failed (attribution,
//! [`SignerInfo::signature_verified`]). Memory is bounded: every tally keeps
//! at most [`MAX_KEYS`] distinct keys, signers, peers and numbers at most
//! [`MAX_ENTITIES`], minutes at most [`MAX_MINUTES`], and the rest is
//! counted as "other", so a stream of millions of distinct numbers cannot
//! grow it without end. Summaries built on different threads are
//! [`merge`](Summary::merge)d; [`Summary::to_json`] is `--summary-json`.
//!
//! [`Summary::text`] is the end-of-run summary for a terminal, and
//! [`render_html`] a single self-contained HTML page (inline CSS and SVG, no
//! script, no external resource) in which every string that came from the
//! input is escaped.
//!
//! Pure: no clock, no files. The caller passes the elapsed time and the
//! page's labels.

use crate::report::{Report, SignerInfo, Verstat};
use crate::sip::PassportResult;
use std::collections::{BTreeMap, HashMap};
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

/// Reason id of an unsigned call (no Identity header / no `identity`).
pub const REASON_UNSIGNED: &str = "no-identity";

/// Reason ids of calls signed with a certificate that was revoked, expired
/// or not valid at the signing time: listed on their own in the report.
pub const BAD_CERTIFICATE_REASONS: [&str; 4] = [
    "cert-revoked",
    "cert-expired",
    "cert-not-yet-valid",
    "iat-outside-cert-validity",
];

/// Most signers, peers and calling numbers itemised in a summary (the rest
/// are counted as "other").
pub const MAX_ENTITIES: usize = 1_000;
/// Most minutes kept in [`Summary::by_minute`] (a week); older minutes are
/// dropped first and counted in [`Summary::minutes_dropped`].
pub const MAX_MINUTES: usize = 7 * 24 * 60;
/// Most calls kept in each list of notable calls (re-signed calls, calls
/// signed with a bad certificate).
pub const MAX_NOTABLE: usize = 100;
/// Most Call-IDs kept per calling number.
pub const MAX_CALL_IDS: usize = 3;

/// What became of one call, for the counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// `TN-Validation-Passed`.
    Passed,
    /// Signed, but did not pass.
    Failed,
    /// No Identity at all (`No-TN-Validation`, 428 `no-identity`).
    Unsigned,
    /// Not a readable request or message.
    Malformed,
}

impl Outcome {
    /// The outcome of a report (never [`Outcome::Malformed`]).
    pub fn of(report: &Report) -> Outcome {
        if report.passed() {
            Outcome::Passed
        } else if report
            .reason
            .as_ref()
            .is_some_and(|r| r.id == REASON_UNSIGNED)
        {
            Outcome::Unsigned
        } else {
            Outcome::Failed
        }
    }

    /// `passed`, `failed`, `unsigned` or `malformed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Unsigned => "unsigned",
            Outcome::Malformed => "malformed",
        }
    }
}

/// One call as the summaries and exports see it: the report and what the
/// surrounding input said about the call.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Call<'a> {
    /// The batch line number or the capture packet number (1-based).
    pub line: u64,
    /// The SIP Call-ID, when the input has one.
    pub call_id: Option<&'a str>,
    /// When the call happened (Unix seconds): the request `time`, the
    /// capture timestamp.
    pub time: Option<i64>,
    /// Who sent it: the `peer` member of a batch line, the source address
    /// of a captured packet.
    pub peer: Option<&'a str>,
    /// The calling number as the call says it (request `from.tn`, SIP
    /// P-Asserted-Identity or From); the PASSporT's `orig` when `None`.
    pub orig: Option<&'a str>,
    /// The called number as the call says it; the PASSporT's first `dest`
    /// when `None`.
    pub dest: Option<&'a str>,
    /// The call's verdict.
    pub report: &'a Report,
    /// Every PASSporT of the call (SIP: one per Identity value; empty
    /// otherwise), to find calls re-signed by several signers.
    pub passports: &'a [PassportResult],
}

impl<'a> Call<'a> {
    /// A call with only its report known.
    pub fn new(report: &'a Report) -> Self {
        Call {
            line: 0,
            call_id: None,
            time: None,
            peer: None,
            orig: None,
            dest: None,
            report,
            passports: &[],
        }
    }

    /// The calling number: the call's, else the PASSporT's `orig`.
    pub fn calling(&self) -> Option<&'a str> {
        self.orig.or(self.report.orig.as_deref())
    }

    /// The called number: the call's, else the PASSporT's first `dest`.
    pub fn called(&self) -> Option<&'a str> {
        self.dest
            .or_else(|| self.report.dest.first().map(String::as_str))
    }

    /// The outcome of the call.
    pub fn outcome(&self) -> Outcome {
        Outcome::of(self.report)
    }

    /// The signer the call is attributed to: the certificate whose key
    /// verified the signature (also when another check failed).
    pub fn signer(&self) -> Option<&'a SignerInfo> {
        self.report.signer.as_ref().filter(|s| s.signature_verified)
    }

    /// The distinct signers (SPC, else subject) of the call's `shaken`
    /// PASSporTs whose signature verified, in order.
    pub fn shaken_signers(&self) -> Vec<&'a str> {
        let mut v: Vec<&str> = Vec::new();
        for p in self.passports {
            if p.ppt.as_deref() != Some(crate::passport::PPT_SHAKEN) {
                continue;
            }
            if let Some(s) = p.report.signer.as_ref().filter(|s| s.signature_verified) {
                let k = s.spc.as_deref().unwrap_or(&s.subject);
                if !v.contains(&k) {
                    v.push(k);
                }
            }
        }
        v
    }

    /// Whether the call belongs in a traceback export: it was signed but
    /// did not pass (spoofed numbers, stale or replayed PASSporTs, bad
    /// certificates), or several signers put a `shaken` PASSporT on it.
    pub fn suspicious(&self) -> bool {
        self.outcome() == Outcome::Failed || self.shaken_signers().len() > 1
    }
}

/// Counts by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Calls that passed.
    pub passed: u64,
    /// Calls that were signed but did not pass.
    pub failed: u64,
    /// Calls without an Identity.
    pub unsigned: u64,
    /// Inputs that could not be read.
    pub malformed: u64,
}

impl Counts {
    fn add(&mut self, o: Outcome) {
        let c = match o {
            Outcome::Passed => &mut self.passed,
            Outcome::Failed => &mut self.failed,
            Outcome::Unsigned => &mut self.unsigned,
            Outcome::Malformed => &mut self.malformed,
        };
        *c = c.saturating_add(1);
    }
    fn merge(&mut self, o: &Counts) {
        self.passed = self.passed.saturating_add(o.passed);
        self.failed = self.failed.saturating_add(o.failed);
        self.unsigned = self.unsigned.saturating_add(o.unsigned);
        self.malformed = self.malformed.saturating_add(o.malformed);
    }
    /// All calls counted.
    pub fn total(&self) -> u64 {
        self.passed
            .saturating_add(self.failed)
            .saturating_add(self.unsigned)
            .saturating_add(self.malformed)
    }
    /// Calls that did not pass (failed, unsigned, malformed).
    pub fn not_passed(&self) -> u64 {
        self.total().saturating_sub(self.passed)
    }
    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "total": self.total(),
            "passed": self.passed,
            "failed": self.failed,
            "unsigned": self.unsigned,
            "malformed": self.malformed,
        })
    }
}

/// The calls attributed to one signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerStats {
    /// The SPC from the certificate's TNAuthList, if any.
    pub spc: Option<String>,
    /// The certificate subject.
    pub subject: String,
    /// Whether the certificate chained to a trust anchor (on the last call
    /// counted).
    pub trusted: bool,
    /// Calls that passed.
    pub passed: u64,
    /// Calls that did not pass.
    pub failed: u64,
    /// The calls that did not pass, by reason id.
    pub by_reason: Tally,
    /// All the signer's calls, by attestation.
    pub by_attest: Tally,
}

/// A bounded map from a key to a value, the rest counted as `other`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounded<V> {
    map: HashMap<String, V>,
    other: u64,
    max: usize,
}

impl<V> Default for Bounded<V> {
    fn default() -> Self {
        Bounded {
            map: HashMap::new(),
            other: 0,
            max: MAX_ENTITIES,
        }
    }
}

impl<V> Bounded<V> {
    /// The entry for `key`, made with `new` when there is room; `None` (and
    /// counted as other) when the bound is reached.
    fn entry(&mut self, key: &str, new: impl FnOnce() -> V) -> Option<&mut V> {
        if !self.map.contains_key(key) {
            if self.map.len() >= self.max {
                self.other = self.other.saturating_add(1);
                return None;
            }
            self.map.insert(key.to_owned(), new());
        }
        self.map.get_mut(key)
    }
    /// The entry for `key`.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.map.get(key)
    }
    /// Calls not itemised because the bound was reached.
    pub fn other(&self) -> u64 {
        self.other
    }
    /// Number of keys kept.
    pub fn len(&self) -> usize {
        self.map.len()
    }
    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    /// The entries, largest first by `weight`, ties in key order, at most `n`.
    pub fn top(&self, n: usize, weight: impl Fn(&V) -> u64) -> Vec<(&str, &V)> {
        let mut v: Vec<(&str, &V)> = self.map.iter().map(|(k, v)| (k.as_str(), v)).collect();
        v.sort_by(|a, b| weight(b.1).cmp(&weight(a.1)).then_with(|| a.0.cmp(b.0)));
        v.truncate(n);
        v
    }
    fn merge_with(&mut self, o: &Bounded<V>, mut f: impl FnMut(&mut V, &V), new: impl Fn(&V) -> V) {
        for (k, v) in &o.map {
            if let Some(mine) = self.map.get_mut(k) {
                f(mine, v);
            } else if self.map.len() < self.max {
                self.map.insert(k.clone(), new(v));
            } else {
                self.other = self.other.saturating_add(1);
            }
        }
        self.other = self.other.saturating_add(o.other);
    }
}

/// A calling number of signed calls that did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoofedNumber {
    /// Calls.
    pub calls: u64,
    /// By reason id.
    pub reasons: Tally,
    /// By the signer they are attributed to (SPC, else subject; `unknown`
    /// when the signature did not verify).
    pub signers: Tally,
    /// The first Call-IDs (or line numbers), at most [`MAX_CALL_IDS`].
    pub call_ids: Vec<String>,
    first_line: u64,
}

/// A call worth listing on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotableCall {
    /// Line or packet number.
    pub line: u64,
    /// The Call-ID, when known.
    pub call_id: Option<String>,
    /// When (Unix seconds).
    pub time: Option<i64>,
    /// The calling number.
    pub orig: Option<String>,
    /// The signers (SPC, else subject).
    pub signers: Vec<String>,
    /// The reason id, when it did not pass.
    pub reason: Option<String>,
}

fn push_notable(list: &mut Vec<NotableCall>, count: &mut u64, n: NotableCall) {
    *count = count.saturating_add(1);
    if list.len() < MAX_NOTABLE {
        list.push(n);
    }
}

fn merge_notable(list: &mut Vec<NotableCall>, o: &[NotableCall]) {
    list.extend(o.iter().cloned());
    list.sort_by_key(|n| n.line);
    list.truncate(MAX_NOTABLE);
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
    /// Unsigned calls (no Identity): `No-TN-Validation`, 428 `no-identity`.
    pub unsigned: u64,
    /// Results by verstat token (`TN-Validation-Passed`...).
    pub by_verstat: Tally,
    /// Results by attestation (`A`, `B`, `C` or [`NO_ATTESTATION`]).
    pub by_attestation: Tally,
    /// Of [`by_attestation`](Self::by_attestation), the calls that passed.
    pub by_attest_passed: Tally,
    /// Of [`by_attestation`](Self::by_attestation), the calls that did not pass.
    pub by_attest_failed: Tally,
    /// Results that did not pass, by reason id (`signature-invalid`...,
    /// [`REASON_REQUEST_INVALID`] for malformed input).
    pub by_reason: Tally,
    /// Calls attributed to a signer (its key verified the signature), by
    /// SPC (`(no SPC)` when the certificate carries none).
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
    /// Calls attributed to each signer, keyed by SPC and subject.
    pub signers: Bounded<SignerStats>,
    /// Calls by peer (batch `peer`, capture source address).
    pub peers: Bounded<Counts>,
    /// Calls by minute (Unix seconds of the minute's start).
    pub by_minute: BTreeMap<i64, Counts>,
    /// Calls not in [`by_minute`](Self::by_minute) because older minutes
    /// were dropped to keep it bounded.
    pub minutes_dropped: u64,
    /// The calling numbers of signed calls that did not pass.
    pub spoofed: Bounded<SpoofedNumber>,
    /// Calls with `shaken` PASSporTs from several signers.
    pub resigned: Vec<NotableCall>,
    /// How many calls were re-signed (all of them, listed or not).
    pub resigned_count: u64,
    /// Calls that failed for a certificate that was revoked, expired or not
    /// valid when signing ([`BAD_CERTIFICATE_REASONS`]).
    pub bad_certificate: Vec<NotableCall>,
    /// How many calls failed so (all of them).
    pub bad_certificate_count: u64,
    /// Diverted calls (RFC 8946), by div chain verdict (`valid`...).
    pub diverted: Tally,
    /// Diverted calls by path (`12125550143 -> 12125550199 -> ...`) and
    /// verdict, or by first broken link (`invalid: div-unlinked`).
    pub div_paths: Tally,
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
        let mut call = Call::new(report);
        call.orig = calling;
        self.record_call(&call);
    }

    /// Record one call with what the input said about it.
    pub fn record_call(&mut self, call: &Call<'_>) {
        let report = call.report;
        let outcome = call.outcome();
        self.total = self.total.saturating_add(1);
        let passed = outcome == Outcome::Passed;
        if passed {
            self.passed = self.passed.saturating_add(1);
        }
        if outcome == Outcome::Unsigned {
            self.unsigned = self.unsigned.saturating_add(1);
        }
        self.by_verstat.add(report.verstat.as_str(), 1);
        let attest = report.attest.map_or(NO_ATTESTATION, |a| a.as_str());
        self.by_attestation.add(attest, 1);
        if passed {
            self.by_attest_passed.add(attest, 1);
        } else {
            self.by_attest_failed.add(attest, 1);
        }
        if let Some(r) = &report.reason {
            self.by_reason.add(&r.id, 1);
        }
        if let Some(s) = call.signer() {
            let spc = s.spc.as_deref().unwrap_or("(no SPC)");
            self.by_spc.add(spc, 1);
            if !passed {
                self.by_spc_failed.add(spc, 1);
            }
            // `SPC NUL subject`, without the formatting machinery (a call's
            // share of the batch: issue 21).
            let mut key = String::with_capacity(spc.len() + 1 + s.subject.len());
            key.push_str(spc);
            key.push('\u{0}');
            key.push_str(&s.subject);
            if let Some(e) = self.signers.entry(&key, || SignerStats {
                spc: s.spc.clone(),
                subject: s.subject.clone(),
                trusted: s.trusted,
                passed: 0,
                failed: 0,
                by_reason: Tally::new(64),
                by_attest: Tally::new(8),
            }) {
                e.trusted = s.trusted;
                if passed {
                    e.passed = e.passed.saturating_add(1);
                } else {
                    e.failed = e.failed.saturating_add(1);
                    if let Some(r) = &report.reason {
                        e.by_reason.add(&r.id, 1);
                    }
                }
                e.by_attest.add(attest, 1);
            }
        }
        if !passed {
            if let Some(n) = call.calling() {
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
        self.count_call(call, outcome);
        if outcome == Outcome::Failed {
            let number = call.calling().unwrap_or("(no number)");
            if let Some(e) = self.spoofed.entry(number, || SpoofedNumber {
                calls: 0,
                reasons: Tally::new(8),
                signers: Tally::new(8),
                call_ids: Vec::new(),
                first_line: call.line,
            }) {
                e.calls = e.calls.saturating_add(1);
                if let Some(r) = &report.reason {
                    e.reasons.add(&r.id, 1);
                }
                let signer = call
                    .signer()
                    .map_or("unknown", |s| s.spc.as_deref().unwrap_or(&s.subject));
                e.signers.add(signer, 1);
                if e.call_ids.len() < MAX_CALL_IDS {
                    e.call_ids.push(
                        call.call_id
                            .map_or_else(|| format!("line {}", call.line), str::to_owned),
                    );
                }
                e.first_line = e.first_line.min(call.line);
            }
            let reason = report.reason.as_ref().map(|r| r.id.as_str());
            if reason.is_some_and(|r| BAD_CERTIFICATE_REASONS.contains(&r)) {
                push_notable(
                    &mut self.bad_certificate,
                    &mut self.bad_certificate_count,
                    notable(call, call.signer().map(signer_key).into_iter().collect()),
                );
            }
        }
        let signers = call.shaken_signers();
        if signers.len() > 1 {
            push_notable(
                &mut self.resigned,
                &mut self.resigned_count,
                notable(call, signers.into_iter().map(str::to_owned).collect()),
            );
        }
    }

    /// The peer and minute counts.
    fn count_call(&mut self, call: &Call<'_>, outcome: Outcome) {
        if let Some(p) = call.peer {
            if let Some(c) = self.peers.entry(p, Counts::default) {
                c.add(outcome);
            }
        }
        if let Some(t) = call.time {
            let minute = t.div_euclid(60).saturating_mul(60);
            let oldest = self.by_minute.keys().next().copied();
            if self.by_minute.len() >= MAX_MINUTES && !self.by_minute.contains_key(&minute) {
                match oldest {
                    Some(o) if o < minute => {
                        if let Some(c) = self.by_minute.remove(&o) {
                            self.minutes_dropped = self.minutes_dropped.saturating_add(c.total());
                        }
                    }
                    _ => {
                        self.minutes_dropped = self.minutes_dropped.saturating_add(1);
                        return;
                    }
                }
            }
            self.by_minute.entry(minute).or_default().add(outcome);
        }
    }

    /// Record an input that could not be read as a request (counted as
    /// `No-TN-Validation`, reason [`REASON_REQUEST_INVALID`]).
    pub fn record_malformed(&mut self, calling: Option<&str>) {
        self.record_malformed_call(0, None, None, calling);
    }

    /// [`record_malformed`](Self::record_malformed), with the line, time and
    /// peer of the input.
    pub fn record_malformed_call(
        &mut self,
        line: u64,
        time: Option<i64>,
        peer: Option<&str>,
        calling: Option<&str>,
    ) {
        self.total = self.total.saturating_add(1);
        self.malformed = self.malformed.saturating_add(1);
        self.by_verstat.add(Verstat::NoValidation.as_str(), 1);
        self.by_attestation.add(NO_ATTESTATION, 1);
        self.by_attest_failed.add(NO_ATTESTATION, 1);
        self.by_reason.add(REASON_REQUEST_INVALID, 1);
        if let Some(n) = calling {
            self.failed_callers.add(n, 1);
        }
        let report = Report::unverified();
        let mut call = Call::new(&report);
        call.line = line;
        call.time = time;
        call.peer = peer;
        self.count_call(&call, Outcome::Malformed);
    }

    /// Add another summary (from another thread) to this one.
    pub fn merge(&mut self, o: &Summary) {
        self.total = self.total.saturating_add(o.total);
        self.passed = self.passed.saturating_add(o.passed);
        self.malformed = self.malformed.saturating_add(o.malformed);
        self.unsigned = self.unsigned.saturating_add(o.unsigned);
        self.by_verstat.merge(&o.by_verstat);
        self.by_attestation.merge(&o.by_attestation);
        self.by_attest_passed.merge(&o.by_attest_passed);
        self.by_attest_failed.merge(&o.by_attest_failed);
        self.by_reason.merge(&o.by_reason);
        self.by_spc.merge(&o.by_spc);
        self.by_spc_failed.merge(&o.by_spc_failed);
        self.failed_callers.merge(&o.failed_callers);
        self.rcd_verified.merge(&o.rcd_verified);
        self.rcd_unverified.merge(&o.rcd_unverified);
        self.signers.merge_with(
            &o.signers,
            |a, b| {
                a.passed = a.passed.saturating_add(b.passed);
                a.failed = a.failed.saturating_add(b.failed);
                a.by_reason.merge(&b.by_reason);
                a.by_attest.merge(&b.by_attest);
                a.trusted = a.trusted && b.trusted;
            },
            Clone::clone,
        );
        self.peers.merge_with(&o.peers, |a, b| a.merge(b), |b| *b);
        for (m, c) in &o.by_minute {
            self.by_minute.entry(*m).or_default().merge(c);
        }
        self.minutes_dropped = self.minutes_dropped.saturating_add(o.minutes_dropped);
        while self.by_minute.len() > MAX_MINUTES {
            if let Some((_, c)) = self.by_minute.pop_first() {
                self.minutes_dropped = self.minutes_dropped.saturating_add(c.total());
            }
        }
        self.spoofed.merge_with(
            &o.spoofed,
            |a, b| {
                a.calls = a.calls.saturating_add(b.calls);
                a.reasons.merge(&b.reasons);
                a.signers.merge(&b.signers);
                if b.first_line < a.first_line {
                    let mut ids = b.call_ids.clone();
                    ids.extend(a.call_ids.iter().cloned());
                    a.call_ids = ids;
                } else {
                    a.call_ids.extend(b.call_ids.iter().cloned());
                }
                a.call_ids.truncate(MAX_CALL_IDS);
                a.first_line = a.first_line.min(b.first_line);
            },
            Clone::clone,
        );
        merge_notable(&mut self.resigned, &o.resigned);
        self.resigned_count = self.resigned_count.saturating_add(o.resigned_count);
        merge_notable(&mut self.bad_certificate, &o.bad_certificate);
        self.bad_certificate_count = self
            .bad_certificate_count
            .saturating_add(o.bad_certificate_count);
        self.diverted.merge(&o.diverted);
        self.div_paths.merge(&o.div_paths);
    }

    /// Record the div chain of a call (nothing for a call without one).
    pub fn record_diversion(&mut self, d: Option<&crate::div::Diversion>) {
        let Some(d) = d else { return };
        self.diverted.add(d.verdict.as_str(), 1);
        let mut path = String::new();
        for (n, h) in d.hops.iter().enumerate() {
            if n == 0 {
                path.push_str(h.from.as_deref().unwrap_or("?"));
            }
            path.push_str(" -> ");
            path.push_str(h.to.as_deref().unwrap_or("?"));
        }
        let key = match &d.reason {
            None => format!("valid: {path}"),
            Some(r) => format!("{}: {} ({path})", d.verdict.as_str(), r.id),
        };
        self.div_paths.add(&key, 1);
    }

    /// Results that did not pass.
    pub fn not_passed(&self) -> u64 {
        self.total.saturating_sub(self.passed)
    }

    /// Signed calls that did not pass (neither unsigned nor malformed).
    pub fn failed(&self) -> u64 {
        self.not_passed()
            .saturating_sub(self.unsigned)
            .saturating_sub(self.malformed)
    }

    /// Whether every result passed (true for an empty run).
    pub fn all_passed(&self) -> bool {
        self.passed == self.total
    }

    /// The summary as the JSON of `--summary-json`: `total`, `unsigned`,
    /// `by_verstat`, `by_reason`, `by_attest` (passed / failed), `signers`,
    /// `peers`, `by_minute`, and more. Tables are bounded: at most `top`
    /// signers, peers and calling numbers, the rest in `*_other`.
    pub fn to_json(&self, top: usize) -> serde_json::Value {
        use serde_json::{json, Map, Value};
        let tally = |t: &Tally| -> Value {
            let mut m = Map::new();
            for (k, c) in t.top(usize::MAX) {
                m.insert(k.to_owned(), c.into());
            }
            Value::Object(m)
        };
        let mut by_attest = Map::new();
        for k in ["A", "B", "C", NO_ATTESTATION] {
            by_attest.insert(
                k.to_owned(),
                json!({"passed": self.by_attest_passed.get(k), "failed": self.by_attest_failed.get(k)}),
            );
        }
        let signers: Vec<Value> = self
            .signers
            .top(top, |s| s.passed.saturating_add(s.failed))
            .into_iter()
            .map(|(_, s)| {
                json!({
                    "spc": s.spc,
                    "subject": s.subject,
                    "trusted": s.trusted,
                    "passed": s.passed,
                    "failed": s.failed,
                    "by_reason": tally(&s.by_reason),
                    "by_attest": tally(&s.by_attest),
                })
            })
            .collect();
        let peers: Vec<Value> = self
            .peers
            .top(top, Counts::total)
            .into_iter()
            .map(|(k, c)| {
                let mut v = c.json();
                if let Value::Object(m) = &mut v {
                    m.insert("peer".into(), k.into());
                }
                v
            })
            .collect();
        let minutes: Vec<Value> = self
            .by_minute
            .iter()
            .map(|(m, c)| {
                let mut v = c.json();
                if let Value::Object(o) = &mut v {
                    o.insert("minute".into(), rfc3339(*m).into());
                    o.insert("unix".into(), (*m).into());
                }
                v
            })
            .collect();
        let spoofed: Vec<Value> = self
            .spoofed
            .top(top, |s| s.calls)
            .into_iter()
            .map(|(k, s)| {
                json!({
                    "orig": k,
                    "calls": s.calls,
                    "by_reason": tally(&s.reasons),
                    "signers": tally(&s.signers),
                    "call_ids": s.call_ids,
                })
            })
            .collect();
        let notable = |l: &[NotableCall]| -> Vec<Value> {
            l.iter()
                .map(|n| {
                    json!({
                        "line": n.line,
                        "call_id": n.call_id,
                        "time": n.time.map(rfc3339),
                        "orig": n.orig,
                        "signers": n.signers,
                        "reason_id": n.reason,
                    })
                })
                .collect()
        };
        json!({
            "total": self.total,
            "passed": self.passed,
            "failed": self.failed(),
            "unsigned": self.unsigned,
            "malformed": self.malformed,
            "by_verstat": tally(&self.by_verstat),
            "by_reason": tally(&self.by_reason),
            "by_attest": by_attest,
            "signers": signers,
            "signers_other": self.signers.other(),
            "peers": peers,
            "peers_other": self.peers.other(),
            "by_minute": minutes,
            "minutes_dropped": self.minutes_dropped,
            "spoofed": spoofed,
            "spoofed_other": self.spoofed.other(),
            "resigned": notable(&self.resigned),
            "resigned_count": self.resigned_count,
            "bad_certificate": notable(&self.bad_certificate),
            "bad_certificate_count": self.bad_certificate_count,
        })
    }

    /// The end-of-run summary for people (stderr). `what` names the unit
    /// ("lines", "calls").
    pub fn text(&self, what: &str, elapsed: Duration) -> String {
        let mut s = String::new();
        let secs = elapsed.as_secs_f64();
        let rate = rate(self.total, elapsed);
        let _ = writeln!(
            s,
            "summary: {} {what}, {} passed, {} not passed ({} unsigned, {} malformed) in {secs:.2} s ({rate:.0} {what}/s)",
            self.total,
            self.passed,
            self.not_passed(),
            self.unsigned,
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

/// One row of `--csv`: one call, in input order. The columns, in order:
/// `line`, `call_id`, `time`, `peer`, `orig`, `dest`, `attest`, `verstat`,
/// `reason_id`, `spc`, `x5u` (an empty cell when unknown).
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct CsvRow<'a> {
    /// Batch line or capture packet number.
    pub line: u64,
    /// SIP Call-ID.
    pub call_id: Option<&'a str>,
    /// RFC 3339 UTC.
    pub time: Option<String>,
    /// Batch `peer`, capture source address.
    pub peer: Option<&'a str>,
    /// The calling number (the call's, else the PASSporT's).
    pub orig: Option<&'a str>,
    /// The called number (the call's, else the PASSporT's first).
    pub dest: Option<&'a str>,
    /// Attestation.
    pub attest: Option<&'static str>,
    /// Verstat.
    pub verstat: &'static str,
    /// Reason id when it did not pass.
    pub reason_id: Option<&'a str>,
    /// SPC of the signer the call is attributed to.
    pub spc: Option<&'a str>,
    /// Certificate URL.
    pub x5u: Option<&'a str>,
}

impl<'a> CsvRow<'a> {
    /// The row of an input that could not be read (`reason_id`
    /// [`REASON_REQUEST_INVALID`]); `call` says where it was.
    pub fn malformed(call: &Call<'a>) -> Self {
        let mut r = CsvRow::of(call);
        r.reason_id = Some(REASON_REQUEST_INVALID);
        r
    }

    /// The row of a call.
    pub fn of(call: &Call<'a>) -> Self {
        let r = call.report;
        CsvRow {
            line: call.line,
            call_id: call.call_id,
            time: call.time.map(rfc3339),
            peer: call.peer,
            orig: call.calling(),
            dest: call.called(),
            attest: r.attest.map(|a| a.as_str()),
            verstat: r.verstat.as_str(),
            reason_id: r.reason.as_ref().map(|x| x.id.as_str()),
            spc: call.signer().and_then(|s| s.spc.as_deref()),
            x5u: r.x5u.as_deref(),
        }
    }
}

/// One row of the traceback export (`--traceback`): a suspicious call
/// ([`Call::suspicious`]) with what an industry traceback request asks for
/// (date and time in UTC, calling and called numbers) and what this
/// verifier learned (attestation, origid, verdict and reason, the signer
/// the call is attributed to, the certificate URL, the peer it came from).
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct TracebackRow<'a> {
    /// When the call happened, RFC 3339 UTC.
    pub time_utc: Option<String>,
    /// The calling number as the call showed it.
    pub calling_number: Option<&'a str>,
    /// The called number.
    pub called_number: Option<&'a str>,
    /// SIP Call-ID.
    pub call_id: Option<&'a str>,
    /// Attestation claimed.
    pub attest: Option<&'static str>,
    /// SHAKEN origination identifier.
    pub origid: Option<&'a str>,
    /// Verstat.
    pub verstat: &'static str,
    /// Reason id.
    pub reason_id: Option<&'a str>,
    /// The reason in words.
    pub reason: Option<&'a str>,
    /// SPC of the signer (the certificate that verified the signature).
    pub signer_spc: Option<&'a str>,
    /// Subject of that certificate.
    pub signer_subject: Option<&'a str>,
    /// Whether that certificate chained to a trust anchor.
    pub signer_trusted: Option<bool>,
    /// Several signers put a `shaken` PASSporT on the call (their SPCs,
    /// separated by spaces), else empty.
    pub resigned_by: String,
    /// Certificate URL.
    pub x5u: Option<&'a str>,
    /// Batch `peer`, capture source address.
    pub peer: Option<&'a str>,
    /// Batch line or capture packet number.
    pub line: u64,
}

impl<'a> TracebackRow<'a> {
    /// The row of a call (whether it is suspicious is the caller's test).
    pub fn of(call: &Call<'a>) -> Self {
        let r = call.report;
        let signer = call.signer();
        let signers = call.shaken_signers();
        TracebackRow {
            time_utc: call.time.map(rfc3339),
            calling_number: call.calling(),
            called_number: call.called(),
            call_id: call.call_id,
            attest: r.attest.map(|a| a.as_str()),
            origid: r.origid.as_deref(),
            verstat: r.verstat.as_str(),
            reason_id: r.reason.as_ref().map(|x| x.id.as_str()),
            reason: r.reason.as_ref().map(|x| x.detail.as_str()),
            signer_spc: signer.and_then(|s| s.spc.as_deref()),
            signer_subject: signer.map(|s| s.subject.as_str()),
            signer_trusted: signer.map(|s| s.trusted),
            resigned_by: if signers.len() > 1 {
                signers.join(" ")
            } else {
                String::new()
            },
            x5u: r.x5u.as_deref(),
            peer: call.peer,
            line: call.line,
        }
    }
}

fn signer_key(s: &SignerInfo) -> String {
    s.spc.clone().unwrap_or_else(|| s.subject.clone())
}

fn notable(call: &Call<'_>, signers: Vec<String>) -> NotableCall {
    NotableCall {
        line: call.line,
        call_id: call.call_id.map(str::to_owned),
        time: call.time,
        orig: call.calling().map(str::to_owned),
        signers,
        reason: call.report.reason.as_ref().map(|r| r.id.clone()),
    }
}

/// Unix seconds as RFC 3339 UTC (`2027-01-15T08:00:00Z`); the number itself
/// when out of range.
pub fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
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
    /// The program and version that made the page (`shaken 0.9.0`).
    pub version: String,
    /// The settings of the run, as (name, value) pairs.
    pub settings: Vec<(String, String)>,
}

/// Split bars: one row per key, passed (green) then not passed (red).
fn split_bars_svg(rows: &[(String, u64, u64)]) -> String {
    let max = rows
        .iter()
        .map(|r| r.1.saturating_add(r.2))
        .max()
        .unwrap_or(0);
    let label_w = 260.0_f64;
    let bar_w = 300.0_f64;
    let h = 22 * rows.len().max(1);
    let mut s = format!(
        "<svg class=\"split\" role=\"img\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" xmlns=\"http://www.w3.org/2000/svg\">",
        w = label_w + bar_w + 120.0,
    );
    for (i, (label, ok, bad)) in rows.iter().enumerate() {
        let y = 22 * i;
        let scale = |n: u64| {
            if max == 0 {
                0.0
            } else {
                bar_w * (n as f64) / (max as f64)
            }
        };
        let (wo, wb) = (scale(*ok), scale(*bad));
        let shown: String = label.chars().take(40).collect();
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{label_w}\" y=\"{}\" width=\"{wo:.2}\" height=\"16\" fill=\"{COLOR_PASSED}\"><title>{}: {ok} passed</title></rect>\
             <rect x=\"{:.2}\" y=\"{}\" width=\"{wb:.2}\" height=\"16\" fill=\"{COLOR_FAILED}\"><title>{}: {bad} not passed</title></rect>\
             <text x=\"{:.2}\" y=\"{}\">{ok} / {bad}</text>",
            label_w - 6.0,
            y + 14,
            escape_html(&shown),
            y + 2,
            escape_html(label),
            label_w + wo,
            y + 2,
            escape_html(label),
            label_w + wo + wb + 6.0,
            y + 14,
        );
    }
    s.push_str("</svg>");
    s
}

/// Most columns of the timeline; minutes are grouped to fit.
const TIMELINE_COLUMNS: i64 = 120;

/// Calls over time as stacked columns (passed, failed, unsigned and
/// malformed), minutes grouped so that at most [`TIMELINE_COLUMNS`] show.
fn timeline_svg(minutes: &BTreeMap<i64, Counts>) -> String {
    let (Some(first), Some(last)) = (
        minutes.keys().next().copied(),
        minutes.keys().next_back().copied(),
    ) else {
        return String::new();
    };
    let span = (last - first) / 60 + 1;
    let group = (span + TIMELINE_COLUMNS - 1) / TIMELINE_COLUMNS;
    let columns = usize::try_from((span + group - 1) / group)
        .unwrap_or(1)
        .max(1);
    let mut buckets = vec![Counts::default(); columns];
    for (m, c) in minutes {
        let i = usize::try_from((m - first) / 60 / group).unwrap_or(0);
        if let Some(b) = buckets.get_mut(i) {
            b.merge(c);
        }
    }
    let max = buckets.iter().map(Counts::total).max().unwrap_or(0).max(1);
    let (w, h, left, bottom) = (720.0_f64, 220.0_f64, 50.0_f64, 30.0_f64);
    let col_w = (w - left) / columns as f64;
    let mut s = format!(
        "<svg class=\"timeline\" role=\"img\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    let plot_h = h - bottom - 10.0;
    let _ = write!(
        s,
        "<line x1=\"{left}\" y1=\"{y}\" x2=\"{w}\" y2=\"{y}\" stroke=\"#888\"/><text x=\"{}\" y=\"14\" text-anchor=\"end\">{max}</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">0</text>",
        left - 4.0,
        left - 4.0,
        h - bottom,
        y = h - bottom
    );
    for (i, b) in buckets.iter().enumerate() {
        let x = left + col_w * i as f64;
        let mut y = h - bottom;
        let start = first + (i as i64) * group * 60;
        for (n, color, what) in [
            (b.passed, COLOR_PASSED, "passed"),
            (b.failed, COLOR_FAILED, "failed"),
            (b.unsigned, COLOR_NONE, "unsigned"),
            (b.malformed, PALETTE[1], "malformed"),
        ] {
            if n == 0 {
                continue;
            }
            let bh = plot_h * n as f64 / max as f64;
            y -= bh;
            let _ = write!(
                s,
                "<rect x=\"{x:.2}\" y=\"{y:.2}\" width=\"{:.2}\" height=\"{bh:.2}\" fill=\"{color}\"><title>{}: {n} {what}</title></rect>",
                (col_w - 1.0).max(1.0),
                rfc3339(start)
            );
        }
    }
    let _ = write!(
        s,
        "<text x=\"{left}\" y=\"{}\">{}</text><text x=\"{w}\" y=\"{}\" text-anchor=\"end\">{}</text>",
        h - 8.0,
        rfc3339(first),
        h - 8.0,
        rfc3339(last + 59),
    );
    s.push_str("</svg>");
    s
}

fn legend() -> String {
    let mut s = String::from("<p class=\"legend\">");
    for (c, what) in [
        (COLOR_PASSED, "passed"),
        (COLOR_FAILED, "failed (signed, not passed)"),
        (COLOR_NONE, "unsigned"),
        (PALETTE[1], "malformed input"),
    ] {
        let _ = write!(
            s,
            "<span class=\"key\" style=\"background:{c}\"></span>{} ",
            escape_html(what)
        );
    }
    s.push_str("</p>");
    s
}

fn tally_text(t: &Tally, n: usize) -> String {
    t.top(n)
        .iter()
        .map(|(k, c)| format!("{k} ({c})"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn notable_table(list: &[NotableCall]) -> String {
    table(
        &[
            "line",
            "time",
            "Call-ID",
            "calling number",
            "signers",
            "reason",
        ],
        &list
            .iter()
            .take(HTML_TOP)
            .map(|n| {
                vec![
                    n.line.to_string(),
                    n.time.map(rfc3339).unwrap_or_else(|| "-".into()),
                    n.call_id.clone().unwrap_or_else(|| "-".into()),
                    n.orig.clone().unwrap_or_else(|| "-".into()),
                    n.signers.join(", "),
                    n.reason.clone().unwrap_or_else(|| "-".into()),
                ]
            })
            .collect::<Vec<_>>(),
    )
}

/// Render the summary as one self-contained HTML page (inline CSS and SVG,
/// no script, no external resource): the unsigned / passed / failed shares,
/// attestation passed vs failed, failures over time, per peer, per signer
/// (spoofed calls attributed), the failing calling numbers with reason,
/// signer and Call-IDs, re-signed calls, calls signed with a revoked or
/// expired certificate, and the version, settings and input that made it.
/// Every input-derived string is escaped.
pub fn render_html(s: &Summary, meta: &HtmlMeta) -> String {
    let unit = if meta.unit.is_empty() {
        "results"
    } else {
        meta.unit.as_str()
    };
    let mut h = String::with_capacity(32 * 1024);
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    let _ = write!(h, "<title>{}</title>", escape_html(&meta.title));
    h.push_str(
        "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:64em;color:#222}\
         table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}\
         td.n,th.n{text-align:right}svg text{font-size:12px;font-family:system-ui,sans-serif}svg{display:block;margin:.5em 0}\
         .ok{color:#2e7d32}.bad{color:#c62828}h2{margin-top:1.5em;border-bottom:1px solid #ddd}\
         .key{display:inline-block;width:.9em;height:.9em;margin:0 .3em 0 .8em;vertical-align:middle}\
         .tiles{display:flex;gap:1em;flex-wrap:wrap}.tile{border:1px solid #ccc;border-radius:6px;padding:.6em 1em;min-width:9em}\
         .tile b{display:block;font-size:1.6em}</style>",
    );
    h.push_str("</head><body>");
    let _ = write!(h, "<h1>{}</h1>", escape_html(&meta.title));
    let _ = write!(
        h,
        "<p>Input: <code>{}</code> · generated {} · {:.2} s ({:.0} {}/s)</p>",
        escape_html(&meta.source),
        escape_html(&meta.generated),
        meta.elapsed.as_secs_f64(),
        rate(s.total, meta.elapsed),
        escape_html(unit)
    );

    // At a glance: the shares.
    h.push_str("<h2 id=\"glance\">At a glance</h2><div class=\"tiles\">");
    for (label, n, class) in [
        (unit.to_owned(), s.total, ""),
        ("passed".to_owned(), s.passed, "ok"),
        ("failed (signed)".to_owned(), s.failed(), "bad"),
        ("unsigned".to_owned(), s.unsigned, ""),
        ("malformed input".to_owned(), s.malformed, ""),
    ] {
        let _ = write!(
            h,
            "<div class=\"tile\"><b class=\"{class}\">{n}</b>{} · {}</div>",
            escape_html(&label),
            pct(n, s.total)
        );
    }
    h.push_str("</div>");
    let outcome_rows = [
        ("passed", s.passed, COLOR_PASSED),
        ("failed", s.failed(), COLOR_FAILED),
        ("unsigned", s.unsigned, COLOR_NONE),
        ("malformed", s.malformed, PALETTE[1]),
    ];
    h.push_str(&share_svg(&outcome_rows, s.total));

    h.push_str("<h2 id=\"attestation\">Attestation: passed vs not passed</h2>");
    let arows: Vec<(String, u64, u64)> = ["A", "B", "C", NO_ATTESTATION]
        .iter()
        .map(|k| {
            (
                (*k).to_owned(),
                s.by_attest_passed.get(k),
                s.by_attest_failed.get(k),
            )
        })
        .collect();
    h.push_str(&split_bars_svg(&arows));
    h.push_str(&table(
        &["attestation", "passed", "not passed", "share of all"],
        &arows
            .iter()
            .map(|(k, p, f)| {
                vec![
                    k.clone(),
                    p.to_string(),
                    f.to_string(),
                    pct(p.saturating_add(*f), s.total),
                ]
            })
            .collect::<Vec<_>>(),
    ));

    h.push_str("<h2 id=\"time\">Calls over time</h2>");
    if s.by_minute.is_empty() {
        h.push_str("<p>No call had a time.</p>");
    } else {
        h.push_str(&legend());
        h.push_str(&timeline_svg(&s.by_minute));
        if s.minutes_dropped > 0 {
            let _ = write!(
                h,
                "<p>{} calls of the oldest minutes are not shown (at most {MAX_MINUTES} minutes are kept).</p>",
                s.minutes_dropped
            );
        }
    }

    h.push_str("<h2 id=\"peers\">Per peer</h2>");
    let peers = s.peers.top(HTML_TOP, Counts::total);
    if peers.is_empty() {
        h.push_str("<p>The input names no peer.</p>");
    } else {
        let rows: Vec<(String, u64, u64)> = peers
            .iter()
            .map(|(k, c)| ((*k).to_owned(), c.passed, c.not_passed()))
            .collect();
        h.push_str(&split_bars_svg(&rows));
        h.push_str(&table(
            &["peer", "calls", "passed", "failed", "unsigned", "malformed"],
            &peers
                .iter()
                .map(|(k, c)| {
                    vec![
                        (*k).to_owned(),
                        c.total().to_string(),
                        c.passed.to_string(),
                        c.failed.to_string(),
                        c.unsigned.to_string(),
                        c.malformed.to_string(),
                    ]
                })
                .collect::<Vec<_>>(),
        ));
        if s.peers.other() > 0 {
            let _ = write!(
                h,
                "<p>{} calls from further peers are not itemised.</p>",
                s.peers.other()
            );
        }
    }

    h.push_str("<h2 id=\"signers\">Per signer</h2><p>Calls are attributed to the certificate whose key verified the signature, also when another check failed (a spoofed calling number, a stale or replayed PASSporT, a revoked certificate).</p>");
    let signers = s
        .signers
        .top(HTML_TOP, |x| x.passed.saturating_add(x.failed));
    if signers.is_empty() {
        h.push_str("<p>No signature verified.</p>");
    } else {
        let rows: Vec<(String, u64, u64)> = signers
            .iter()
            .map(|(_, x)| {
                (
                    x.spc.clone().unwrap_or_else(|| x.subject.clone()),
                    x.passed,
                    x.failed,
                )
            })
            .collect();
        h.push_str(&split_bars_svg(&rows));
        h.push_str(&table(
            &[
                "SPC",
                "subject",
                "trusted",
                "passed",
                "not passed",
                "reasons",
                "attestation",
            ],
            &signers
                .iter()
                .map(|(_, x)| {
                    vec![
                        x.spc.clone().unwrap_or_else(|| "(no SPC)".into()),
                        x.subject.clone(),
                        if x.trusted { "yes" } else { "no" }.into(),
                        x.passed.to_string(),
                        x.failed.to_string(),
                        tally_text(&x.by_reason, 5),
                        tally_text(&x.by_attest, 4),
                    ]
                })
                .collect::<Vec<_>>(),
        ));
    }

    h.push_str("<h2 id=\"spoofed\">Calling numbers of signed calls that did not pass</h2>");
    let spoofed = s.spoofed.top(HTML_TOP, |x| x.calls);
    if spoofed.is_empty() {
        h.push_str("<p class=\"ok\">None.</p>");
    } else {
        let bars: Vec<(&str, u64)> = spoofed.iter().map(|(k, x)| (*k, x.calls)).collect();
        h.push_str(&bars_svg(&bars, COLOR_FAILED));
        h.push_str(&table(
            &["calling number", "calls", "reasons", "signers", "Call-IDs"],
            &spoofed
                .iter()
                .map(|(k, x)| {
                    vec![
                        (*k).to_owned(),
                        x.calls.to_string(),
                        tally_text(&x.reasons, 3),
                        tally_text(&x.signers, 3),
                        x.call_ids.join(", "),
                    ]
                })
                .collect::<Vec<_>>(),
        ));
    }

    h.push_str("<h2 id=\"resigned\">Re-signed calls</h2><p>Calls carrying <code>shaken</code> PASSporTs from several signers.</p>");
    if s.resigned.is_empty() {
        h.push_str("<p class=\"ok\">None.</p>");
    } else {
        let _ = write!(h, "<p>{} calls.</p>", s.resigned_count);
        h.push_str(&notable_table(&s.resigned));
    }

    h.push_str("<h2 id=\"badcert\">Signed with a revoked or expired certificate</h2>");
    if s.bad_certificate.is_empty() {
        h.push_str("<p class=\"ok\">None.</p>");
    } else {
        let _ = write!(h, "<p>{} calls.</p>", s.bad_certificate_count);
        h.push_str(&notable_table(&s.bad_certificate));
    }

    h.push_str("<h2 id=\"reasons\">Failure reasons</h2>");
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

    h.push_str("<h2 id=\"verstat\">Verstat</h2>");
    h.push_str(&table(
        &["verstat", "count", "share"],
        &verstat_rows(s)
            .iter()
            .map(|(k, c)| vec![(*k).to_owned(), c.to_string(), pct(*c, s.total)])
            .collect::<Vec<_>>(),
    ));

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
    h.push_str(&diversion_html(s));
    h.push_str("<h2 id=\"run\">This report</h2>");
    let mut run = vec![
        vec![
            "made by".to_owned(),
            if meta.version.is_empty() {
                "shaken".to_owned()
            } else {
                meta.version.clone()
            },
        ],
        vec!["input".to_owned(), meta.source.clone()],
        vec!["generated".to_owned(), meta.generated.clone()],
    ];
    for (k, v) in &meta.settings {
        run.push(vec![k.clone(), v.clone()]);
    }
    h.push_str(&table(&["", ""], &run));
    h.push_str("<p><small>Self-contained: no script, no external resource.</small></p>");
    h.push_str("</body></html>\n");
    h
}

/// How many entries the "top" sections of the page show.
pub const HTML_TOP: usize = 20;

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

/// The "Diverted calls" section (RFC 8946): empty when no call was diverted.
fn diversion_html(s: &Summary) -> String {
    if s.diverted.is_empty() {
        return String::new();
    }
    let mut h = String::from("<h2 id=\"diverted\">Diverted calls</h2>");
    let rows: Vec<(&str, u64)> = ["valid", "invalid", "incomplete"]
        .iter()
        .map(|k| (*k, s.diverted.get(k)))
        .collect();
    h.push_str(&table(
        &["div chain", "calls"],
        &rows
            .iter()
            .map(|(k, c)| vec![(*k).to_owned(), c.to_string()])
            .collect::<Vec<_>>(),
    ));
    h.push_str(&table(
        &["hops (from the shaken dest to the last target)", "calls"],
        &s.div_paths
            .top(HTML_TOP)
            .iter()
            .map(|(k, c)| vec![(*k).to_owned(), c.to_string()])
            .collect::<Vec<_>>(),
    ));
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
                signature_verified: true,
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
            t.contains("4 lines, 1 passed, 3 not passed (1 unsigned, 1 malformed)"),
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
            signature_verified: true,
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
                version: "shaken <x>".into(),
                settings: vec![("--cert".into(), "<c>".into())],
            },
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<b>spc"), "{html}");
        assert!(!html.contains("<i>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("<td>TN-Validation-Passed</td><td>1</td><td>50.0%</td>"));
        assert!(
            html.contains("<td>C</td><td>0</td><td>1</td><td>50.0%</td>"),
            "{html}"
        );
        assert!(!html.contains("<x>"));
        assert!(html.contains("shaken &lt;x&gt;"));
        // Self-contained.
        assert!(!html.contains("<link"));
        assert!(!html.contains(" src=\""));
        assert!(html.contains("<svg"));
    }

    fn signed(verstat: Verstat, reason: Option<&str>, verified: bool) -> Report {
        let mut r = report(verstat, Some(Attestation::A), reason);
        if let Some(s) = r.signer.as_mut() {
            s.signature_verified = verified;
        }
        r
    }

    #[test]
    fn calls_count_by_outcome_signer_peer_and_minute() {
        let mut s = Summary::new();
        let pass = signed(Verstat::Passed, None, true);
        let spoofed = signed(Verstat::NoValidation, Some("orig-mismatch"), true);
        let forged = signed(Verstat::Failed, Some("signature-invalid"), false);
        let revoked = signed(Verstat::Failed, Some("cert-revoked"), true);
        let mut unsigned = report(Verstat::NoValidation, None, Some(REASON_UNSIGNED));
        unsigned.signer = None;
        for (i, (r, peer, t)) in [
            (&pass, "sbc-1", 120),
            (&spoofed, "sbc-1", 130),
            (&spoofed, "sbc-2", 185),
            (&forged, "sbc-2", 190),
            (&revoked, "sbc-2", 200),
            (&unsigned, "sbc-3", 250),
        ]
        .into_iter()
        .enumerate()
        {
            let mut c = Call::new(r);
            c.line = i as u64 + 1;
            c.peer = Some(peer);
            c.time = Some(t);
            c.call_id = Some("cid");
            if r.reason.as_ref().is_some_and(|x| x.id == "orig-mismatch") {
                c.orig = Some("12025550199");
            }
            s.record_call(&c);
        }
        s.record_malformed_call(7, Some(260), Some("sbc-3"), None);
        assert_eq!(
            (s.total, s.passed, s.unsigned, s.malformed, s.failed()),
            (7, 1, 1, 1, 4)
        );
        // Attribution: the spoofed and the revoked calls count for the
        // signer, the forged one does not.
        let signer = s.signers.get("1234\u{0}CN=SHAKEN 1234").unwrap();
        assert_eq!((signer.passed, signer.failed), (1, 3));
        assert_eq!(signer.by_reason.get("orig-mismatch"), 2);
        assert_eq!(signer.by_reason.get("signature-invalid"), 0);
        assert_eq!(s.by_attest_passed.get("A"), 1);
        assert_eq!(s.by_attest_failed.get("A"), 4);
        assert_eq!(s.peers.get("sbc-2").unwrap().failed, 3);
        assert_eq!(s.peers.get("sbc-3").unwrap().unsigned, 1);
        assert_eq!(s.peers.get("sbc-3").unwrap().malformed, 1);
        let minutes: Vec<(i64, u64)> = s.by_minute.iter().map(|(m, c)| (*m, c.total())).collect();
        assert_eq!(minutes, vec![(120, 2), (180, 3), (240, 2)]);
        let spoof = s.spoofed.get("12025550199").unwrap();
        assert_eq!(spoof.calls, 2);
        assert_eq!(spoof.signers.get("1234"), 2);
        assert_eq!(spoof.call_ids, vec!["cid", "cid"]);
        assert_eq!(s.bad_certificate_count, 1);
        assert_eq!(s.bad_certificate[0].line, 5);

        let j = s.to_json(10);
        for k in [
            "total",
            "unsigned",
            "by_verstat",
            "by_reason",
            "by_attest",
            "signers",
            "peers",
            "by_minute",
        ] {
            assert!(j.get(k).is_some(), "{k} missing in {j}");
        }
        assert_eq!(j["total"], 7);
        assert_eq!(j["unsigned"], 1);
        assert_eq!(j["by_attest"]["A"]["passed"], 1);
        assert_eq!(j["by_attest"]["A"]["failed"], 4);
        let sj = &j["signers"][0];
        for k in [
            "spc",
            "subject",
            "passed",
            "failed",
            "by_reason",
            "by_attest",
        ] {
            assert!(sj.get(k).is_some(), "{k} missing in {sj}");
        }
        assert_eq!(sj["spc"], "1234");
        assert_eq!(sj["failed"], 3);
        assert_eq!(j["peers"][0]["peer"], "sbc-2");
        assert_eq!(j["by_minute"][0]["minute"], "1970-01-01T00:02:00Z");

        // Merging two halves gives the same counts.
        let mut a = Summary::new();
        let mut b = Summary::new();
        for (i, r) in [&pass, &spoofed, &revoked, &unsigned]
            .into_iter()
            .enumerate()
        {
            let mut c = Call::new(r);
            c.line = i as u64;
            c.time = Some(60 * i as i64);
            c.peer = Some("p");
            if i % 2 == 0 {
                a.record_call(&c)
            } else {
                b.record_call(&c)
            }
        }
        a.merge(&b);
        assert_eq!(a.total, 4);
        assert_eq!(a.peers.get("p").unwrap().total(), 4);
        assert_eq!(a.by_minute.len(), 4);
        assert_eq!(a.signers.get("1234\u{0}CN=SHAKEN 1234").unwrap().failed, 2);

        let html = render_html(&s, &HtmlMeta::default());
        for id in [
            "glance",
            "attestation",
            "time",
            "peers",
            "signers",
            "spoofed",
            "resigned",
            "badcert",
            "run",
        ] {
            assert!(html.contains(&format!("id=\"{id}\"")), "{id}");
        }
        assert!(html.contains("class=\"timeline\""));
        assert!(html.contains("12025550199"));
    }

    #[test]
    fn tables_stay_bounded() {
        let mut s = Summary::new();
        let r = signed(Verstat::NoValidation, Some("orig-mismatch"), true);
        for i in 0..(MAX_ENTITIES as i64 + 50) {
            let n = format!("1202555{i:04}");
            let peer = format!("peer-{i}");
            let mut c = Call::new(&r);
            c.orig = Some(&n);
            c.peer = Some(&peer);
            c.time = Some(i * 60);
            s.record_call(&c);
        }
        assert_eq!(s.peers.len(), MAX_ENTITIES);
        assert_eq!(s.peers.other(), 50);
        assert_eq!(s.spoofed.len(), MAX_ENTITIES);
        assert_eq!(s.spoofed.other(), 50);
        // A week of minutes at most: the oldest go first.
        for i in 0..(MAX_MINUTES as i64 + 10) {
            let mut c = Call::new(&r);
            c.time = Some(10_000_000 + i * 60);
            s.record_call(&c);
        }
        assert_eq!(s.by_minute.len(), MAX_MINUTES);
        assert!(s.minutes_dropped >= 10);
        let last = (10_000_000 + (MAX_MINUTES as i64 + 9) * 60) / 60 * 60;
        assert_eq!(s.by_minute.keys().next_back(), Some(&last));
    }

    #[test]
    fn rows_have_the_documented_columns() {
        let r = signed(Verstat::NoValidation, Some("orig-mismatch"), true);
        let mut c = Call::new(&r);
        c.line = 3;
        c.time = Some(1_800_000_000);
        c.peer = Some("sbc-1");
        c.orig = Some("12025550199");
        let row = serde_json::to_value(CsvRow::of(&c)).unwrap();
        let keys: Vec<&str> = row
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut want = vec![
            "line",
            "call_id",
            "time",
            "peer",
            "orig",
            "dest",
            "attest",
            "verstat",
            "reason_id",
            "spc",
            "x5u",
        ];
        want.sort_unstable();
        assert_eq!(keys, want);
        assert_eq!(row["spc"], "1234");
        assert_eq!(row["time"], "2027-01-15T08:00:00Z");
        assert!(c.suspicious());
        let t = serde_json::to_value(TracebackRow::of(&c)).unwrap();
        assert_eq!(t["calling_number"], "12025550199");
        assert_eq!(t["signer_spc"], "1234");
        assert_eq!(t["reason_id"], "orig-mismatch");
        let pass = signed(Verstat::Passed, None, true);
        assert!(!Call::new(&pass).suspicious());
        let unsigned = report(Verstat::NoValidation, None, Some(REASON_UNSIGNED));
        assert!(!Call::new(&unsigned).suspicious());
    }

    #[test]
    fn resigned_calls_are_listed_and_suspicious() {
        let passport = |spc: &str, verified: bool| {
            let mut r = signed(Verstat::Passed, None, verified);
            if let Some(s) = r.signer.as_mut() {
                s.spc = Some(spc.into());
            }
            PassportResult {
                index: 0,
                ppt: Some("shaken".into()),
                supported: true,
                report: r,
            }
        };
        let overall = signed(Verstat::Passed, None, true);
        let two = [passport("1234", true), passport("5678", true)];
        let mut c = Call::new(&overall);
        c.line = 9;
        c.call_id = Some("twice@x");
        c.passports = &two;
        assert_eq!(c.shaken_signers(), ["1234", "5678"]);
        assert!(c.suspicious(), "passed, but re-signed by another carrier");
        let row = serde_json::to_value(TracebackRow::of(&c)).unwrap();
        assert_eq!(row["resigned_by"], "1234 5678");
        let mut s = Summary::new();
        s.record_call(&c);
        assert_eq!(s.resigned_count, 1);
        assert_eq!(s.resigned[0].signers, ["1234", "5678"]);
        assert_eq!(s.resigned[0].call_id.as_deref(), Some("twice@x"));
        // The same signer twice, or a second PASSporT whose signature did
        // not verify, is not a re-signed call.
        for other in [passport("1234", true), passport("5678", false)] {
            let pair = [passport("1234", true), other];
            let mut c = Call::new(&overall);
            c.passports = &pair;
            assert_eq!(c.shaken_signers(), ["1234"]);
            assert!(!c.suspicious());
        }
        let html = render_html(&s, &HtmlMeta::default());
        assert!(html.contains("<td>twice@x</td>"), "{html}");
    }
}
