//! `shaken verify --sip` and `shaken sign --sip`.

use super::args::{SignArgs, VerifyArgs};
use anyhow::{bail, Result};

pub fn verify(_a: VerifyArgs) -> Result<i32> {
    bail!("`shaken verify --sip` is not implemented yet")
}

pub fn sign(_a: SignArgs) -> Result<i32> {
    bail!("`shaken sign --sip` is not implemented yet")
}
