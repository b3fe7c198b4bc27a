//! The library as a caller sees it: property tests (`properties::`) and the
//! published test vectors (`vectors::`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

mod properties;
mod vectors;
