//! `shaken verify --batch` and `shaken sign --batch`.

use super::args::{SignArgs, VerifyArgs};
use anyhow::{bail, Result};

pub fn verify(_a: VerifyArgs) -> Result<i32> {
    bail!("`shaken verify --batch` is not implemented yet")
}

pub fn sign(_a: SignArgs) -> Result<i32> {
    bail!("`shaken sign --batch` is not implemented yet")
}
