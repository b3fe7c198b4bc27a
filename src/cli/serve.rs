//! `shaken serve`.

use super::args::ServeArgs;
use anyhow::{bail, Result};

pub fn run(_a: ServeArgs) -> Result<i32> {
    bail!("`shaken serve` is not implemented yet")
}
