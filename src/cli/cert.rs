//! `shaken cert inspect` and `shaken cert verify`.

use super::args::{CertInspectArgs, CertVerifyArgs};
use anyhow::{bail, Result};

pub fn inspect(_a: CertInspectArgs) -> Result<i32> {
    bail!("`shaken cert inspect` is not implemented yet")
}

pub fn verify(_a: CertVerifyArgs) -> Result<i32> {
    bail!("`shaken cert verify` is not implemented yet")
}
