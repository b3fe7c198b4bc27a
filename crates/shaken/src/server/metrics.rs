//! Prometheus counters kept with atomics (no registry, no locks on the hot
//! path; the text format is rendered on demand by `GET /metrics`).

use crate::fetch::CacheStats;
use crate::passport::Attestation;
use crate::report::Verstat;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Which route a request hit (the `endpoint` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Endpoint {
    /// `POST /stir/v1/signing`.
    Signing,
    /// `POST /stir/v1/verification`.
    Verification,
    /// `GET /health`.
    Health,
    /// `GET /metrics`.
    Metrics,
    /// Anything else (404s).
    Other,
    /// `GET /health/ready`.
    Ready,
}

const ENDPOINTS: [Endpoint; 6] = [
    Endpoint::Signing,
    Endpoint::Verification,
    Endpoint::Health,
    Endpoint::Metrics,
    Endpoint::Other,
    Endpoint::Ready,
];

impl Endpoint {
    /// Classify a request path.
    pub fn from_path(path: &str) -> Endpoint {
        match path {
            super::SIGNING_PATH => Endpoint::Signing,
            super::VERIFICATION_PATH => Endpoint::Verification,
            "/health" => Endpoint::Health,
            "/metrics" => Endpoint::Metrics,
            super::READY_PATH => Endpoint::Ready,
            _ => Endpoint::Other,
        }
    }
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Signing => "signing",
            Endpoint::Verification => "verification",
            Endpoint::Health => "health",
            Endpoint::Metrics => "metrics",
            Endpoint::Other => "other",
            Endpoint::Ready => "ready",
        }
    }
    fn index(self) -> usize {
        match self {
            Endpoint::Signing => 0,
            Endpoint::Verification => 1,
            Endpoint::Health => 2,
            Endpoint::Metrics => 3,
            Endpoint::Other => 4,
            Endpoint::Ready => 5,
        }
    }
}

/// HTTP statuses counted separately; anything else is counted as `other`.
const STATUSES: [u16; 13] = [
    200, 400, 401, 403, 404, 405, 406, 411, 413, 415, 500, 503, 0,
];
/// Latency histogram upper bounds, seconds.
const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
/// SIP reason codes counted in verification responses (0 = other).
const REASONS: [u16; 6] = [403, 428, 436, 437, 438, 0];
const VERSTATS: [Verstat; 3] = [Verstat::Passed, Verstat::Failed, Verstat::NoValidation];
const ATTESTATIONS: [Attestation; 3] = [Attestation::A, Attestation::B, Attestation::C];
/// Most distinct reason ids kept as labels. The ids are `&'static str` from
/// the library's diagnostic catalogue (never from input), so the set is
/// fixed; the cap only guards against a future catalogue explosion.
const MAX_REASON_LABELS: usize = 128;

fn attest_index(a: Attestation) -> usize {
    ATTESTATIONS.iter().position(|&x| x == a).unwrap_or(0)
}

/// Why a client was refused before any handler ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The peer address is outside `--allow-from` (connection closed).
    AllowFrom,
    /// The TLS handshake failed (no client certificate, one from another
    /// CA, not TLS at all, too slow).
    TlsHandshake,
    /// No `Authorization: Bearer` on a route that needs an API key (401).
    KeyMissing,
    /// A key that is not in `--api-keys` (401).
    KeyInvalid,
}

const REFUSALS: [Refusal; 4] = [
    Refusal::AllowFrom,
    Refusal::TlsHandshake,
    Refusal::KeyMissing,
    Refusal::KeyInvalid,
];

impl Refusal {
    /// The `reason` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::AllowFrom => "allow-from",
            Refusal::TlsHandshake => "tls-handshake",
            Refusal::KeyMissing => "api-key-missing",
            Refusal::KeyInvalid => "api-key-invalid",
        }
    }
    fn index(self) -> usize {
        REFUSALS.iter().position(|&r| r == self).unwrap_or(0)
    }
}

/// Values of the service state shown next to the counters (read when
/// `/metrics` is rendered).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Gauges {
    /// 1 when `/health/ready` answers 200.
    pub ready: bool,
    /// Seconds until the signing certificate expires (negative: expired),
    /// when signing is on.
    pub signing_cert_expiry: Option<i64>,
    /// Seconds until the TLS server certificate expires, with `--tls-cert`.
    pub tls_cert_expiry: Option<i64>,
    /// API keys loaded, with `--api-keys`.
    pub api_keys: Option<usize>,
    /// Unix time of the state in use (start or last successful reload).
    pub loaded_at: i64,
    /// The installed trust list (`--trust-list-url`): its sequence and the
    /// seconds until its `exp` (negative once passed).
    pub trust_list: Option<(u64, i64)>,
    /// The verifier's bound on outbound fetches (x5u, CRLs, Rich Call Data
    /// content), when it fetches at all.
    pub fetches: Option<crate::fetch::FetchStats>,
}
fn zeros<const N: usize>() -> [AtomicU64; N] {
    std::array::from_fn(|_| AtomicU64::new(0))
}

fn bump(a: Option<&AtomicU64>, by: u64) {
    if let Some(a) = a {
        a.fetch_add(by, Ordering::Relaxed);
    }
}

fn load(a: Option<&AtomicU64>) -> u64 {
    a.map_or(0, |a| a.load(Ordering::Relaxed))
}

/// The service's counters. Share through the server state; every method
/// takes `&self`.
#[derive(Debug)]
pub struct Metrics {
    requests: [[AtomicU64; STATUSES.len()]; ENDPOINTS.len()],
    latency: [[AtomicU64; BUCKETS.len() + 1]; ENDPOINTS.len()],
    latency_sum_us: [AtomicU64; ENDPOINTS.len()],
    verstat: [AtomicU64; VERSTATS.len()],
    reason: [AtomicU64; REASONS.len()],
    /// Verification requests without an Identity (428): unsigned calls.
    unsigned: AtomicU64,
    signed: AtomicU64,
    in_flight: AtomicI64,
    passed_by_attest: [AtomicU64; ATTESTATIONS.len()],
    signed_by_attest: [AtomicU64; ATTESTATIONS.len()],
    reasons: Mutex<BTreeMap<&'static str, u64>>,
    refused: [AtomicU64; REFUSALS.len()],
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
    trust_refresh_ok: AtomicU64,
    trust_refresh_failed: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: std::array::from_fn(|_| zeros()),
            latency: std::array::from_fn(|_| zeros()),
            latency_sum_us: zeros(),
            verstat: zeros(),
            reason: zeros(),
            unsigned: AtomicU64::new(0),
            signed: AtomicU64::new(0),
            in_flight: AtomicI64::new(0),
            passed_by_attest: zeros(),
            signed_by_attest: zeros(),
            reasons: Mutex::new(BTreeMap::new()),
            refused: zeros(),
            reloads_ok: AtomicU64::new(0),
            reloads_failed: AtomicU64::new(0),
            trust_refresh_ok: AtomicU64::new(0),
            trust_refresh_failed: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    /// A request started (in-flight gauge up).
    pub fn enter(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    /// A request ended or was dropped (in-flight gauge down).
    pub fn leave(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// A request finished with `status` after `elapsed`.
    pub fn finished(&self, endpoint: Endpoint, status: u16, elapsed: Duration) {
        let e = endpoint.index();
        let s = STATUSES
            .iter()
            .position(|&x| x == status)
            .unwrap_or(STATUSES.len() - 1);
        bump(self.requests.get(e).and_then(|r| r.get(s)), 1);
        let secs = elapsed.as_secs_f64();
        let b = BUCKETS
            .iter()
            .position(|&le| secs <= le)
            .unwrap_or(BUCKETS.len());
        bump(self.latency.get(e).and_then(|r| r.get(b)), 1);
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        bump(self.latency_sum_us.get(e), us);
    }

    /// A verification response was sent.
    pub fn verification(&self, verstat: Verstat, reason_code: Option<u16>) {
        let v = VERSTATS.iter().position(|&x| x == verstat);
        bump(v.and_then(|i| self.verstat.get(i)), 1);
        if let Some(code) = reason_code {
            let r = REASONS
                .iter()
                .position(|&x| x == code)
                .unwrap_or(REASONS.len() - 1);
            bump(self.reason.get(r), 1);
            if code == 428 {
                self.unsigned.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// A PASSporT was signed.
    pub fn signed(&self) {
        self.signed.fetch_add(1, Ordering::Relaxed);
    }

    /// A PASSporT was signed with this attestation (also counts [`signed`](Self::signed)).
    pub fn signed_with(&self, attest: Attestation) {
        self.signed();
        bump(self.signed_by_attest.get(attest_index(attest)), 1);
    }

    /// A verification passed with this attestation.
    pub fn passed_with(&self, attest: Attestation) {
        bump(self.passed_by_attest.get(attest_index(attest)), 1);
    }

    /// A verification did not pass, for the reason with this catalogue id.
    pub fn reason(&self, id: &'static str) {
        let mut m = self.reasons.lock().unwrap_or_else(|e| e.into_inner());
        let id = if m.contains_key(id) || m.len() < MAX_REASON_LABELS {
            id
        } else {
            "other"
        };
        *m.entry(id).or_insert(0) += 1;
    }

    /// A client was refused.
    pub fn refused(&self, why: Refusal) {
        bump(self.refused.get(why.index()), 1);
    }

    /// Clients refused for `why` (tests, the load driver).
    pub fn refusals(&self, why: Refusal) -> u64 {
        load(self.refused.get(why.index()))
    }

    /// A reload finished: swapped in (`ok`) or kept the running state.
    pub fn reloaded(&self, ok: bool) {
        if ok {
            self.reloads_ok.fetch_add(1, Ordering::Relaxed);
        } else {
            self.reloads_failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Reloads so far: (succeeded, failed).
    pub fn reloads(&self) -> (u64, u64) {
        (
            self.reloads_ok.load(Ordering::Relaxed),
            self.reloads_failed.load(Ordering::Relaxed),
        )
    }

    /// A trust-list refresh (`--trust-list-url`) ended: installed or
    /// unchanged (`ok`), or failed (the last good list stays).
    pub fn trust_refreshed(&self, ok: bool) {
        let c = if ok {
            &self.trust_refresh_ok
        } else {
            &self.trust_refresh_failed
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// [`render`](Self::render) followed by the service's own series:
    /// attestation and reason labels, refusals, reloads, the trust list and
    /// `gauges`.
    pub fn render_service(&self, cache: Option<CacheStats>, gauges: &Gauges) -> String {
        let mut o = self.render(cache);
        let family = |o: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(o, "# HELP {name} {help}");
            let _ = writeln!(o, "# TYPE {name} {kind}");
        };
        family(
            &mut o,
            "shaken_verifications_passed_total",
            "counter",
            "Verifications that passed, by attestation.",
        );
        for (i, a) in ATTESTATIONS.iter().enumerate() {
            let _ = writeln!(
                o,
                "shaken_verifications_passed_total{{attest=\"{}\"}} {}",
                a.as_str(),
                load(self.passed_by_attest.get(i))
            );
        }
        family(
            &mut o,
            "shaken_verification_reasons_total",
            "counter",
            "Verifications that did not pass, by reason id (the diagnostic catalogue).",
        );
        {
            let m = self.reasons.lock().unwrap_or_else(|e| e.into_inner());
            for (id, n) in m.iter() {
                let _ = writeln!(
                    o,
                    "shaken_verification_reasons_total{{reason=\"{id}\"}} {n}"
                );
            }
        }
        family(
            &mut o,
            "shaken_signatures_by_attestation_total",
            "counter",
            "PASSporTs signed, by attestation.",
        );
        for (i, a) in ATTESTATIONS.iter().enumerate() {
            let _ = writeln!(
                o,
                "shaken_signatures_by_attestation_total{{attest=\"{}\"}} {}",
                a.as_str(),
                load(self.signed_by_attest.get(i))
            );
        }
        family(
            &mut o,
            "shaken_clients_refused_total",
            "counter",
            "Clients refused before any handler: allow-from, tls-handshake, api-key-missing, api-key-invalid.",
        );
        for r in REFUSALS {
            let _ = writeln!(
                o,
                "shaken_clients_refused_total{{reason=\"{}\"}} {}",
                r.as_str(),
                load(self.refused.get(r.index()))
            );
        }
        family(
            &mut o,
            "shaken_reloads_total",
            "counter",
            "Reloads (SIGHUP, --reload-interval): ok swapped the new state in, failed kept the running one.",
        );
        let (ok, failed) = self.reloads();
        let _ = writeln!(o, "shaken_reloads_total{{result=\"ok\"}} {ok}");
        let _ = writeln!(o, "shaken_reloads_total{{result=\"failed\"}} {failed}");
        family(
            &mut o,
            "shaken_ready",
            "gauge",
            "1 when /health/ready answers 200.",
        );
        let _ = writeln!(o, "shaken_ready {}", u8::from(gauges.ready));
        family(
            &mut o,
            "shaken_state_loaded_timestamp_seconds",
            "gauge",
            "Unix time the state in use was loaded (start or last successful reload).",
        );
        let _ = writeln!(
            o,
            "shaken_state_loaded_timestamp_seconds {}",
            gauges.loaded_at
        );
        let (ok, failed) = (
            self.trust_refresh_ok.load(Ordering::Relaxed),
            self.trust_refresh_failed.load(Ordering::Relaxed),
        );
        if let Some((sequence, expiry)) = gauges.trust_list {
            family(
                &mut o,
                "shaken_trust_list_sequence",
                "gauge",
                "Sequence of the installed STI-PA trust list.",
            );
            let _ = writeln!(o, "shaken_trust_list_sequence {sequence}");
            family(
                &mut o,
                "shaken_trust_list_expiry_seconds",
                "gauge",
                "Seconds until the installed trust list's exp; negative once passed (the last good roots stay in use).",
            );
            let _ = writeln!(o, "shaken_trust_list_expiry_seconds {expiry}");
        }
        if gauges.trust_list.is_some() || ok + failed > 0 {
            family(
                &mut o,
                "shaken_trust_list_refreshes_total",
                "counter",
                "Trust-list refreshes (--trust-list-url), by result; a failed one keeps the last good list.",
            );
            let _ = writeln!(o, "shaken_trust_list_refreshes_total{{result=\"ok\"}} {ok}");
            let _ = writeln!(
                o,
                "shaken_trust_list_refreshes_total{{result=\"failed\"}} {failed}"
            );
        }
        if let Some(s) = gauges.signing_cert_expiry {
            family(
                &mut o,
                "shaken_signing_certificate_expiry_seconds",
                "gauge",
                "Seconds until the signing certificate (x5u or --cert) expires; negative once expired.",
            );
            let _ = writeln!(o, "shaken_signing_certificate_expiry_seconds {s}");
        }
        if let Some(s) = gauges.tls_cert_expiry {
            family(
                &mut o,
                "shaken_tls_certificate_expiry_seconds",
                "gauge",
                "Seconds until the TLS server certificate (--tls-cert) expires.",
            );
            let _ = writeln!(o, "shaken_tls_certificate_expiry_seconds {s}");
        }
        if let Some(n) = gauges.api_keys {
            family(&mut o, "shaken_api_keys", "gauge", "API keys loaded.");
            let _ = writeln!(o, "shaken_api_keys {n}");
        }
        if let Some(f) = gauges.fetches {
            family(
                &mut o,
                "shaken_fetches_in_flight",
                "gauge",
                "Outbound fetches (x5u, CRL, Rich Call Data content) holding a slot now.",
            );
            let _ = writeln!(o, "shaken_fetches_in_flight {}", f.in_flight);
            family(
                &mut o,
                "shaken_fetches_max",
                "gauge",
                "The cap on outbound fetches in flight at once (--max-fetches).",
            );
            let _ = writeln!(o, "shaken_fetches_max {}", f.max);
            family(
                &mut o,
                "shaken_fetch_busy_total",
                "counter",
                "Fetches that failed fetch-busy: no slot came free within the fetch timeout, nothing was sent.",
            );
            let _ = writeln!(o, "shaken_fetch_busy_total {}", f.busy);
        }
        o
    }

    /// Requests counted for `endpoint` with `status` (tests, the load driver).
    pub fn requests(&self, endpoint: Endpoint, status: u16) -> u64 {
        let s = STATUSES.iter().position(|&x| x == status);
        load(s.and_then(|s| self.requests.get(endpoint.index()).and_then(|r| r.get(s))))
    }

    /// The Prometheus text exposition (format 0.0.4). `cache` is the x5u
    /// cache's counters when the server fetches certificates.
    pub fn render(&self, cache: Option<CacheStats>) -> String {
        let mut o = String::with_capacity(4096);
        let _ = writeln!(
            o,
            "# HELP shaken_http_requests_total HTTP requests by endpoint and status."
        );
        let _ = writeln!(o, "# TYPE shaken_http_requests_total counter");
        for ep in ENDPOINTS {
            for (si, status) in STATUSES.iter().enumerate() {
                let n = load(self.requests.get(ep.index()).and_then(|r| r.get(si)));
                if n == 0 {
                    continue;
                }
                let status = if *status == 0 {
                    "other".to_owned()
                } else {
                    status.to_string()
                };
                let _ = writeln!(
                    o,
                    "shaken_http_requests_total{{endpoint=\"{}\",status=\"{status}\"}} {n}",
                    ep.as_str()
                );
            }
        }
        let _ = writeln!(
            o,
            "# HELP shaken_http_request_duration_seconds Time from request to response, by endpoint."
        );
        let _ = writeln!(o, "# TYPE shaken_http_request_duration_seconds histogram");
        for ep in ENDPOINTS {
            let row = self.latency.get(ep.index());
            let mut cumulative = 0u64;
            for (bi, le) in BUCKETS.iter().enumerate() {
                cumulative += load(row.and_then(|r| r.get(bi)));
                let _ = writeln!(
                    o,
                    "shaken_http_request_duration_seconds_bucket{{endpoint=\"{}\",le=\"{le}\"}} {cumulative}",
                    ep.as_str()
                );
            }
            cumulative += load(row.and_then(|r| r.get(BUCKETS.len())));
            let sum_us = load(self.latency_sum_us.get(ep.index()));
            let _ = writeln!(
                o,
                "shaken_http_request_duration_seconds_bucket{{endpoint=\"{ep}\",le=\"+Inf\"}} {cumulative}\n\
                 shaken_http_request_duration_seconds_sum{{endpoint=\"{ep}\"}} {:.6}\n\
                 shaken_http_request_duration_seconds_count{{endpoint=\"{ep}\"}} {cumulative}",
                sum_us as f64 / 1e6,
                ep = ep.as_str()
            );
        }
        let _ = writeln!(
            o,
            "# HELP shaken_verifications_total Verification responses by verstat."
        );
        let _ = writeln!(o, "# TYPE shaken_verifications_total counter");
        for (i, v) in VERSTATS.iter().enumerate() {
            let _ = writeln!(
                o,
                "shaken_verifications_total{{verstat=\"{}\"}} {}",
                v.as_str(),
                load(self.verstat.get(i))
            );
        }
        let _ = writeln!(
            o,
            "# HELP shaken_verification_failures_total Verification responses by SIP reason code."
        );
        let _ = writeln!(o, "# TYPE shaken_verification_failures_total counter");
        for (i, code) in REASONS.iter().enumerate() {
            let code = if *code == 0 {
                "other".to_owned()
            } else {
                code.to_string()
            };
            let _ = writeln!(
                o,
                "shaken_verification_failures_total{{reasoncode=\"{code}\"}} {}",
                load(self.reason.get(i))
            );
        }
        let _ = writeln!(
            o,
            "# HELP shaken_verifications_unsigned_total Verification requests without an Identity (unsigned calls, 428)."
        );
        let _ = writeln!(o, "# TYPE shaken_verifications_unsigned_total counter");
        let _ = writeln!(
            o,
            "shaken_verifications_unsigned_total {}",
            self.unsigned.load(Ordering::Relaxed)
        );
        let _ = writeln!(o, "# HELP shaken_signatures_total PASSporTs signed.");
        let _ = writeln!(o, "# TYPE shaken_signatures_total counter");
        let _ = writeln!(
            o,
            "shaken_signatures_total {}",
            self.signed.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            o,
            "# HELP shaken_http_requests_in_flight Requests being handled."
        );
        let _ = writeln!(o, "# TYPE shaken_http_requests_in_flight gauge");
        let _ = writeln!(
            o,
            "shaken_http_requests_in_flight {}",
            self.in_flight.load(Ordering::Relaxed)
        );
        if let Some(c) = cache {
            let rows: [(&str, &str, u64); 9] = [
                (
                    "hits",
                    "Lookups answered from a fresh cached chain.",
                    c.hits,
                ),
                ("misses", "Lookups that found no fresh entry.", c.misses),
                (
                    "fetches",
                    "HTTP fetches of x5u URLs (not those that found every fetch slot taken: shaken_fetch_busy_total).",
                    c.fetches,
                ),
                (
                    "fetch_failures",
                    "x5u fetches that failed (network, HTTP status or parse; not the fetch cap's busy ones).",
                    c.fetch_failures,
                ),
                (
                    "negative_hits",
                    "Lookups answered from the negative cache.",
                    c.negative_hits,
                ),
                (
                    "coalesced",
                    "Lookups that joined a fetch already in flight.",
                    c.coalesced,
                ),
                (
                    "disk_hits",
                    "Entries loaded from the on-disk cache.",
                    c.disk_hits,
                ),
                (
                    "refreshes",
                    "Background refreshes of cached chains near their expiry.",
                    c.refreshes,
                ),
                (
                    "refresh_failures",
                    "Background refreshes that failed (the entry is kept until it expires).",
                    c.refresh_failures,
                ),
            ];
            for (name, help, n) in rows {
                let _ = writeln!(o, "# HELP shaken_x5u_cache_{name}_total {help}");
                let _ = writeln!(o, "# TYPE shaken_x5u_cache_{name}_total counter");
                let _ = writeln!(o, "shaken_x5u_cache_{name}_total {n}");
            }
            let _ = writeln!(
                o,
                "# HELP shaken_x5u_cache_promotions_total Cached chains moved from probation to the protected tier (validated to a trust anchor and verified a signature)."
            );
            let _ = writeln!(o, "# TYPE shaken_x5u_cache_promotions_total counter");
            let _ = writeln!(o, "shaken_x5u_cache_promotions_total {}", c.promotions);
            for (name, kind, help, probation, protected) in [
                (
                    "evictions_total",
                    "counter",
                    "Entries evicted from the full x5u cache, by tier (protected ones only when no probation entry was left).",
                    c.probation_evictions,
                    c.protected_evictions,
                ),
                (
                    "entries",
                    "gauge",
                    "Entries held by the x5u cache, by tier.",
                    c.probation_entries,
                    c.protected_entries,
                ),
            ] {
                let _ = writeln!(o, "# HELP shaken_x5u_cache_{name} {help}");
                let _ = writeln!(o, "# TYPE shaken_x5u_cache_{name} {kind}");
                for (tier, n) in [("probation", probation), ("protected", protected)] {
                    let _ = writeln!(o, "shaken_x5u_cache_{name}{{tier=\"{tier}\"}} {n}");
                }
            }
        }
        o
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn counts_and_renders() {
        let m = Metrics::default();
        m.enter();
        m.finished(Endpoint::Verification, 200, Duration::from_micros(300));
        m.enter();
        m.finished(Endpoint::Other, 404, Duration::from_secs(10));
        m.enter();
        m.finished(Endpoint::Signing, 418, Duration::from_millis(1));
        m.verification(Verstat::Passed, None);
        m.verification(Verstat::NoValidation, Some(436));
        m.verification(Verstat::Failed, Some(999));
        m.signed();
        for _ in 0..3 {
            m.leave();
        }
        assert_eq!(m.requests(Endpoint::Verification, 200), 1);
        assert_eq!(m.requests(Endpoint::Other, 404), 1);
        let text = m.render(Some(CacheStats {
            hits: 7,
            promotions: 3,
            probation_evictions: 11,
            protected_evictions: 2,
            probation_entries: 5,
            protected_entries: 4,
            ..CacheStats::default()
        }));
        for want in [
            "shaken_http_requests_total{endpoint=\"verification\",status=\"200\"} 1",
            "shaken_http_requests_total{endpoint=\"other\",status=\"404\"} 1",
            "shaken_http_requests_total{endpoint=\"signing\",status=\"other\"} 1",
            "shaken_http_request_duration_seconds_bucket{endpoint=\"verification\",le=\"0.0005\"} 1",
            "shaken_http_request_duration_seconds_bucket{endpoint=\"verification\",le=\"0.00025\"} 0",
            "shaken_http_request_duration_seconds_bucket{endpoint=\"other\",le=\"5\"} 0",
            "shaken_http_request_duration_seconds_bucket{endpoint=\"other\",le=\"+Inf\"} 1",
            "shaken_http_request_duration_seconds_count{endpoint=\"verification\"} 1",
            "shaken_verifications_total{verstat=\"TN-Validation-Passed\"} 1",
            "shaken_verifications_total{verstat=\"No-TN-Validation\"} 1",
            "shaken_verification_failures_total{reasoncode=\"436\"} 1",
            "shaken_verification_failures_total{reasoncode=\"other\"} 1",
            "shaken_signatures_total 1",
            "shaken_http_requests_in_flight 0",
            "shaken_x5u_cache_hits_total 7",
            "shaken_x5u_cache_promotions_total 3",
            "shaken_x5u_cache_evictions_total{tier=\"probation\"} 11",
            "shaken_x5u_cache_evictions_total{tier=\"protected\"} 2",
            "shaken_x5u_cache_entries{tier=\"probation\"} 5",
            "shaken_x5u_cache_entries{tier=\"protected\"} 4",
        ] {
            assert!(text.contains(want), "missing {want} in\n{text}");
        }
        assert!(!m.render(None).contains("x5u_cache"));
    }

    #[test]
    fn fetch_gauges_render_only_for_a_verifier_that_fetches() {
        let m = Metrics::default();
        let none = m.render_service(None, &Gauges::default());
        assert!(!none.contains("shaken_fetch"), "{none}");
        let gauges = Gauges {
            fetches: Some(crate::fetch::FetchStats {
                max: 64,
                in_flight: 3,
                busy: 7,
            }),
            ..Gauges::default()
        };
        let text = m.render_service(None, &gauges);
        for line in [
            "# TYPE shaken_fetches_in_flight gauge",
            "shaken_fetches_in_flight 3",
            "shaken_fetches_max 64",
            "# TYPE shaken_fetch_busy_total counter",
            "shaken_fetch_busy_total 7",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in {text}");
        }
    }

    #[test]
    fn endpoints_from_paths() {
        assert_eq!(Endpoint::from_path("/stir/v1/signing"), Endpoint::Signing);
        assert_eq!(
            Endpoint::from_path("/stir/v1/verification"),
            Endpoint::Verification
        );
        assert_eq!(Endpoint::from_path("/health"), Endpoint::Health);
        assert_eq!(Endpoint::from_path("/metrics"), Endpoint::Metrics);
        assert_eq!(Endpoint::from_path("/stir/v1/signing/x"), Endpoint::Other);
    }
}
