//! # shaken — STIR/SHAKEN for Rust
//!
//! Layers (see `ARCHITECTURE.md`):
//! - **core** (pure, sans-I/O): [`tn`], [`passport`], [`identity`], [`cert`],
//!   [`sip`], [`verify`], [`report`], [`limits`]. Bytes and a clock in, values out.
//! - **edge**: [`fetch`] (x5u/CRL over HTTPS and the certificate cache, feature
//!   `fetch`) and `server` (ATIS-1000082 REST, feature `server`).
//! - **shell**: the `shaken` binary.
#![forbid(unsafe_code)]

pub mod atis;
pub mod b64;
pub mod batch;
pub mod cert;
pub mod config;
pub mod crypto;
pub mod diagnostic;
pub mod identity;
pub mod json;
pub mod limits;
// Edge (feature `fs`): reads the files a configuration names (trust
// anchors, chains, CRLs, keys); the library's only other file access is the
// disk cache in `fetch` and `replay_dir`.
#[cfg(feature = "fs")]
#[allow(clippy::disallowed_methods)]
pub mod load;
pub mod passport;
#[cfg(any(test, feature = "pki"))]
pub mod pki;
pub mod replay;
// Edge: the replay store shared through a directory (files, renames, hard
// links). `clippy.toml` bans file I/O in the core; this module is where it is
// meant to happen.
#[cfg(feature = "replay-dir")]
#[allow(clippy::disallowed_methods)]
pub mod replay_dir;
pub mod report;
pub mod sip;
pub mod sip_verify;
pub mod sti;
pub mod summary;
pub mod tn;
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

#[cfg(feature = "capture")]
pub mod capture;

pub use atis::{OrigId, RequestError, SignRequest, VerifyRequest};
pub use config::{SignerConfig, VerifierConfig};
pub use diagnostic::Diagnostic;
pub use limits::Limits;
pub use passport::Attestation;
pub use report::{Report, Verstat};
#[cfg(feature = "fetch")]
pub use sti::StiVs;
pub use sti::{Signed, StiAs};
pub use verify::{CallContext, PartyId};

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
