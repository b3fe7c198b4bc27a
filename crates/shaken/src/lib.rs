//! # shaken — STIR/SHAKEN for Rust
//!
//! Layers (see `ARCHITECTURE.md`):
//! - **core** (pure, sans-I/O): [`tn`], [`passport`], [`identity`], [`cert`],
//!   [`sip`], [`verify`], [`report`], [`limits`]. Bytes and a clock in, values out.
//! - **edge**: [`fetch`] (x5u/CRL over HTTPS and the certificate cache, feature
//!   `fetch`) and `server` (ATIS-1000082 REST, feature `server`).
//! - **shell**: the `shaken` binary.
#![forbid(unsafe_code)]

pub mod b64;
pub mod batch;
pub mod cert;
pub mod crypto;
pub mod diagnostic;
pub mod identity;
pub mod json;
pub mod limits;
pub mod passport;
#[cfg(any(test, feature = "pki"))]
pub mod pki;
pub mod replay;
#[cfg(feature = "replay-dir")]
pub mod replay_dir;
pub mod report;
pub mod sip;
pub mod sip_verify;
pub mod summary;
pub mod tn;
pub mod verify;

#[cfg(feature = "fetch")]
pub mod fetch;
#[cfg(feature = "fetch")]
pub mod online;
#[cfg(feature = "server")]
pub mod server;

#[cfg(feature = "capture")]
pub mod capture;

pub use diagnostic::Diagnostic;
pub use limits::Limits;

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
