//! # shaken — STIR/SHAKEN for Rust
//!
//! Sign and verify the PASSporTs of the SIP `Identity` header (RFC 8225,
//! RFC 8588, RFC 8224) and check STI certificates (RFC 8226, ATIS-1000080).
//! The core does not take care of network I/O: it is pure functions over
//! bytes and a clock the caller passes in. Fetching, the REST service,
//! pcap reading and the lab PKI are features (see `ARCHITECTURE.md`).
//!
//! Start with the two services, built once from plain configuration:
//! - [`StiAs`] signs calls ([`SignRequest`], [`SignerConfig`]);
//! - `StiVs` (feature `fetch`) verifies an `Identity` value, an
//!   ATIS-1000082 request or a whole SIP message, async, blocking or from
//!   the cache only ([`VerifierConfig`], [`CallContext`], [`Report`]).
//!
//! The layers under them stay public for stacks that bring their own I/O:
//! [`verify::Verifier`] (`prepare`, fetch the chain yourself, `complete`),
//! [`passport`], [`identity`], [`cert`], [`sip`], [`tn`]. Every failure
//! implements [`Diagnostic`] (stable id, SIP code, verstat, sentence).
#![forbid(unsafe_code)]

pub mod atis;
pub mod b64;
pub mod batch;
pub mod cert;
pub mod config;
pub mod crypto;
mod diagnostic;
pub mod div;
pub mod identity;
mod json;
mod limits;
// Edge (feature `fs`): reads the files a configuration names (trust
// anchors, chains, CRLs, keys); the library's only other file access is the
// disk cache in `fetch` and `replay_dir`.
#[cfg(feature = "fs")]
#[allow(clippy::disallowed_methods)]
pub mod load;
pub mod passport;
#[cfg(any(test, feature = "pki"))]
pub mod pki;
pub mod rcd;
mod replay;
// Edge: the replay store shared through a directory (files, renames, hard
// links). `clippy.toml` bans file I/O in the core; this module is where it is
// meant to happen.
#[cfg(feature = "replay-dir")]
#[allow(clippy::disallowed_methods)]
pub mod replay_dir;
mod report;
pub mod sip;
pub mod sip_verify;
pub mod sti;
pub mod summary;
pub mod tn;
pub mod trust;
// Edge (feature `fs`): installs a verified trust list into a directory
// (write a new version, then swap a symlink) and reads it back.
#[cfg(feature = "fs")]
#[allow(clippy::disallowed_methods)]
pub mod trust_dir;
pub mod verify;

// The edges: where the network, files and the clock enter (ARCHITECTURE.md).
// `clippy.toml` bans those methods in the core; each edge allows them here.
//
// Edge: x5u/CRL over HTTPS, the on-disk certificate cache, and the cache
// clocks (`SystemClock` reads the wall clock and `Instant`).
#[cfg(feature = "fetch")]
#[allow(clippy::disallowed_methods)]
pub mod fetch;
// Edge: the blocking and async verifiers that fetch; they read the wall clock
// when the caller gives no time, and time the fetches.
#[cfg(feature = "fetch")]
#[allow(clippy::disallowed_methods)]
pub mod online;
// Edge: the ATIS-1000082 REST service (sockets, its config file, the wall
// clock for requests without a time, request timing).
#[cfg(feature = "server")]
#[allow(clippy::disallowed_methods)]
pub mod server;

// Edge: replay detection and the certificate caches shared by a fleet of
// verifiers through Redis (network; the password file; call timing).
#[cfg(feature = "redis")]
#[allow(clippy::disallowed_methods)]
pub mod fleet;

#[cfg(feature = "capture")]
pub mod capture;

pub use atis::{OrigId, RequestError, SignRequest, VerifyRequest};
pub use config::{SignerConfig, VerifierConfig};
pub use diagnostic::Diagnostic;
pub use json::{canonical as canonical_json, parse_strict as parse_json_strict, JsonError};
pub use limits::Limits;
pub use passport::Attestation;
pub use replay::{ReplayCheck, ReplayFuture, ReplayGuard, ReplayInFlight, ReplayStore, Replayed};
pub use report::{reason_phrase, Reason, Report, SignerInfo, Verstat};
#[cfg(feature = "fetch")]
pub use sti::StiVs;
pub use sti::{Signed, StiAs};
pub use verify::{CallContext, PartyId};

/// Lower-case hex of `bytes`: the one encoder for the digests the library
/// names things by (replay keys, cache file names, the ATIS call key,
/// certificate serials), without a `format!` per byte (replay and call keys
/// are on every call's path).
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    hex_into(bytes, &mut out);
    out
}

/// [`hex`], appended to `out`.
pub(crate) fn hex_into(bytes: &[u8], out: &mut String) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
}

/// The README's Rust examples, compiled and run as doctests (they use the
/// fetching verifier).
#[cfg(all(doctest, feature = "fetch"))]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

#[cfg(test)]
mod architecture {
    /// ARCHITECTURE.md names every module of the library: a module added
    /// without a line on the map fails here.
    #[test]
    fn every_module_is_on_the_map() {
        let map = include_str!("../../../ARCHITECTURE.md");
        let lib = include_str!("lib.rs");
        let mut seen = 0;
        for line in lib.lines() {
            let line = line.trim();
            let Some(name) = line
                .strip_prefix("pub mod ")
                .or_else(|| line.strip_prefix("mod "))
                .and_then(|r| r.strip_suffix(';'))
            else {
                continue;
            };
            seen += 1;
            assert!(
                map.contains(&format!("`{name}`")),
                "ARCHITECTURE.md does not name the module `{name}`"
            );
        }
        assert!(seen > 20, "found only {seen} modules in lib.rs");
    }
}
