//! The library as a caller sees it: property tests (`properties::`), the
//! published test vectors (`vectors::`) and the UI's replay-free checks
//! (`own_replay::`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

mod own_replay;
mod properties;
mod vectors;
