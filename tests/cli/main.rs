//! The `shaken` command and its modes, driven through the real binary: one
//! test binary (ripgrep's `tests/tests.rs`), so it links once.
//!
//! `cargo test --test cli hostile::` runs one area; the modules keep the test
//! names they had as separate binaries.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

mod batch;
mod cert;
mod cli;
mod div;
mod docs;
mod golden;
mod hostile;
mod pcap;
mod rcd;
mod sip;
mod trust;
mod usage;
