//! `shaken verify --pcap`.

use super::args::VerifyArgs;
use anyhow::{bail, Result};

pub fn verify(_a: VerifyArgs) -> Result<i32> {
    bail!("`shaken verify --pcap` is not implemented yet")
}
