//! The network pieces against loopback servers the tests start: the fetch
//! layer (`fetch::`) and `shaken serve` (`serve::`) and its page's API (`ui::`), a fleet of them sharing a Redis the tests
//! start (`fleet::`). Nothing leaves
//! 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

mod batch;
mod fetch;
mod fetch_cap;
mod fleet;
mod rcd;
mod serve;
mod ui;
