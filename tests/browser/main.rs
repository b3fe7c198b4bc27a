//! Pages checked in headless Chromium (Debian's `chromium`; `.ci/run`
//! installs it and sets `SHAKEN_REQUIRE_CHROMIUM`): the HTML report of
//! `verify --batch/--pcap --html` (`report::`) and the `serve --ui` page
//! (`ui::`). Pages are files or loopback servers the tests start.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

mod report;
mod ui;
