//! The STI-VS verification procedure (RFC 8224 §6.2, ATIS-1000074 §5.3.1),
//! pure and sans-I/O.
//!
//! Verification runs in two stages so that the caller owns all I/O:
//! 1. [`Verifier::prepare`] does every check that needs no certificate, in
//!    the order of specs §5.1 (cheap checks first, so a token that cannot pass
//!    never makes us fetch its `x5u`), and returns a [`Pending`] naming the
//!    certificate URL.
//! 2. The caller gets the chain (a local file, the cache, or a fetch) and calls
//!    [`Verifier::complete`], which validates the chain at the verification
//!    time, checks TNAuthList and the signature.
//!
//! Every failure is a [`VerifyError`] with a stable id, a SIP code and a
//! verstat; [`report()`] turns the result into a [`Report`](crate::report::Report).
//!
//! Where each part lives:
//! - `procedure.rs`: the [`Verifier`] and the checks in ATIS-1000074 order
//!   (E1..E19), top-down, one comment per step;
//! - `error.rs`: the failure catalogue ([`VerifyError`]: reason id, SIP code,
//!   verstat) and [`Failure`];
//! - `context.rs`: what the call and the local policy tell the verifier
//!   ([`CallContext`], [`PartyId`], [`VerifyPolicy`], [`CrlFailure`]);
//! - `diversion.rs`: stage 1 for `div`/`div-o` PASSporTs
//!   ([`Verifier::prepare_div`], RFC 8946) and [`nested_opt`];
//! - `memo.rs`: the memo of chains that validated;
//! - `report.rs`: [`report()`], the result as a [`Report`](crate::report::Report).

mod context;
mod diversion;
mod error;
mod memo;
mod procedure;
#[cfg(test)]
mod rcd_tests;
mod report;
#[cfg(test)]
mod test_lab;

pub use context::{CallContext, CrlFailure, PartyId, VerifyPolicy};
pub use diversion::nested_opt;
pub use error::{Failure, VerifyError};
pub use procedure::{parse_identity_or_token, Pending, SignatureStep, VerifiedPassport, Verifier};
pub use report::{into_report, rcd_report_of, report, report_with_content};

/// Warning id (at the start of the warning text) when the call's calling
/// number was not given, so `orig` was not compared.
pub const ORIG_NOT_COMPARED: &str = "orig-not-compared";
/// Warning id when the call's called number was not given, so `dest` was
/// not compared.
pub const DEST_NOT_COMPARED: &str = "dest-not-compared";
