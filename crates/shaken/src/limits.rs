//! Every bound on untrusted input, in one place.
//!
//! Each field documents its default and where the number comes from. Pass a
//! `Limits` to the parsers and the fetcher; `Limits::default()` is what the CLI
//! and the server use unless told otherwise.

use std::time::Duration;

/// Bounds on sizes, counts and times applied to untrusted input.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Longest accepted `Identity` header value, in bytes. Default 8192
    /// (specs §7 "Limits": Identity header ≤ 8 KB).
    pub max_identity_header_len: usize,
    /// Longest accepted base64url segment of a token, in characters. Default
    /// 4096 (specs §7: one token segment ≤ 4 KB).
    pub max_token_segment_len: usize,
    /// Deepest accepted JSON nesting in a PASSporT header or payload. Default 8
    /// (specs §7).
    pub max_json_depth: usize,
    /// Most entries accepted in `dest.tn` or `dest.uri`. Default 10 (specs §7).
    pub max_dest_entries: usize,
    /// Largest HTTP body accepted from an x5u or CRL server. Default 64 KiB
    /// (specs §7: cert chain fetched ≤ 64 KB).
    pub max_fetch_body: usize,
    /// Largest CRL body accepted. Default 1 MiB (the STI-PA CRL is small, but
    /// a CRL grows with revocations; 1 MiB holds ~30,000 entries).
    pub max_crl_body: usize,
    /// Largest STI-PA trust list accepted (the JWS, or the API answer that
    /// wraps it), in bytes. Default 2 MiB: the US list holds a few dozen
    /// roots of ~1 KiB each (specs §9.3); 2 MiB leaves room for growth while
    /// bounding what a hostile server can make us hold.
    pub max_trust_list: usize,
    /// Most certificates accepted in one chain. Default 5 (specs §7).
    pub max_chain_len: usize,
    /// Largest single certificate, in DER bytes. Default 16 KiB (real STI
    /// certificates are under 1 KiB).
    pub max_cert_len: usize,
    /// TCP+TLS connect timeout for x5u/CRL fetches. Default 2 s (specs §7:
    /// time out at 2–5 s; ATIS E8 maps a timeout to 436).
    pub connect_timeout: Duration,
    /// Total timeout for one x5u/CRL fetch, connect included. Default 5 s.
    pub fetch_timeout: Duration,
    /// Cache lifetime used when the certificate server sends no usable
    /// `Cache-Control: max-age`. Default 1 h.
    pub cache_default_ttl: Duration,
    /// Shortest cache lifetime, whatever the server says (protects the
    /// certificate server and us from `max-age=0`). Default 60 s.
    pub cache_min_ttl: Duration,
    /// Longest cache lifetime, whatever the server says. Default 24 h (ATIS
    /// expects STI-CRs to send at least 24 h; we never keep longer).
    pub cache_max_ttl: Duration,
    /// How long a failed fetch is remembered, so a dead x5u is not hammered.
    /// Default 30 s.
    pub negative_cache_ttl: Duration,
    /// Most entries kept in the in-memory certificate cache. Default 10,000.
    pub cache_max_entries: usize,
    /// Shortest background-refresh window of a cached x5u chain: a chain
    /// fetched for a lifetime `L` is refetched in the background by the
    /// first call that uses it in its last `max(L / 10, this)` (but never
    /// before half of `L`), while calls keep being answered from it.
    /// Default 10 s: twice `fetch_timeout`, so that a slow refresh still
    /// lands before the entry expires (issue 21).
    pub cache_refresh_min: Duration,
    /// Largest SIP message accepted, in bytes. Default 64 KiB (UDP SIP is
    /// under 64 KiB by construction; RFC 3261 §18.1.1).
    pub max_sip_message: usize,
    /// Most header lines accepted in one SIP message. Default 256.
    pub max_sip_headers: usize,
    /// Most Identity headers (PASSporTs) accepted in one SIP message.
    /// Default 8 (RFC 9410 allows several; real calls carry 1–3).
    pub max_identity_headers: usize,
    /// Largest line accepted in `--batch` JSON Lines input. Default 16 KiB.
    pub max_batch_line: usize,
    /// Most TCP flows followed at once when reading a capture; the least
    /// recently active is dropped when a new one starts. Default 10,000.
    pub capture_max_flows: usize,
    /// Most IP fragment sets held while waiting for the rest of their packet.
    /// Default 1,000.
    pub capture_max_fragment_sets: usize,
    /// A capture's fragment set or TCP flow idle for longer than this
    /// (capture time) is dropped. Default 120 s.
    pub capture_idle: Duration,
    /// Most `div` PASSporTs (RFC 8946) accepted in one call, and the deepest
    /// `div-o` nesting. Default 5 (the French rules: a shaken PASSporT and up
    /// to 5 `div` ones; issue 15).
    pub max_div: usize,
    /// Largest body accepted for Rich Call Data content (an `icn` logo, a
    /// `jcl` jCard, a photo in a jCard). Default 512 KiB: RFC 9795 sets no
    /// bound (§16 asks for one); a 256x256 logo is tens of KiB.
    pub max_rcd_body: usize,
    /// Most outbound fetches (x5u, CRL, Rich Call Data content) in flight at
    /// once, per verifier: the x5u cache, the CRL fetcher and the RCD cache
    /// of one verifier share one pool of this many permits (every clone of
    /// one `fetch::FetchOptions` does). A fetch that
    /// finds them all taken waits for one inside its own `fetch_timeout`
    /// (the call never waits longer than it did without the cap) and fails
    /// `fetch-busy`, with nothing sent, if none comes free in time.
    /// Default 64: a busy node starting cold fetches a few hundred signers'
    /// chains within seconds; at ~100 ms a fetch, 64 at once is ~640
    /// fetches a second, so a cold start is not slowed, while a stranger
    /// naming slow x5u URLs (up to 5 s each) can hold 64 outbound
    /// connections, not one per admitted request (1,024 on the service).
    pub max_concurrent_fetches: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_identity_header_len: 8 * 1024,
            max_token_segment_len: 4 * 1024,
            max_json_depth: 8,
            max_dest_entries: 10,
            max_fetch_body: 64 * 1024,
            max_crl_body: 1024 * 1024,
            max_trust_list: 2 * 1024 * 1024,
            max_chain_len: 5,
            max_cert_len: 16 * 1024,
            connect_timeout: Duration::from_secs(2),
            fetch_timeout: Duration::from_secs(5),
            cache_default_ttl: Duration::from_secs(3600),
            cache_min_ttl: Duration::from_secs(60),
            cache_max_ttl: Duration::from_secs(24 * 3600),
            negative_cache_ttl: Duration::from_secs(30),
            cache_max_entries: 10_000,
            cache_refresh_min: Duration::from_secs(10),
            max_sip_message: 64 * 1024,
            max_sip_headers: 256,
            max_identity_headers: 8,
            max_batch_line: 16 * 1024,
            capture_max_flows: 10_000,
            capture_max_fragment_sets: 1_000,
            capture_idle: Duration::from_secs(120),
            max_div: crate::div::DEFAULT_MAX_DIV,
            max_rcd_body: 512 * 1024,
            max_concurrent_fetches: 64,
        }
    }
}
