//! The C ABI of the `shaken` STIR/SHAKEN toolkit: `libshaken.so`,
//! `libshaken.a` and `include/shaken.h` (generated from this crate by
//! cbindgen).
//!
//! Rules every function follows:
//! - it returns a status (`SHAKEN_OK` or a `SHAKEN_ERR_*` code) and, on
//!   error, stores a sentence in the calling thread's last-error slot
//!   ([`shaken_last_error`]); a verification that ran and did not pass is
//!   `SHAKEN_OK` with a result that says why;
//! - inputs are UTF-8 byte strings given as pointer + length (no NUL
//!   needed, as in Kamailio's `str`); outputs are NUL-terminated UTF-8;
//! - NULL pointers, absurd lengths and invalid UTF-8 are errors, never
//!   crashes; no panic crosses the boundary (it becomes `SHAKEN_ERR_PANIC`);
//! - every object the library allocates has its `_free` function, which
//!   accepts NULL.
//!
//! The verification and signing logic is the `shaken` library's: this crate
//! only converts arguments and results.

#![allow(non_camel_case_types)]

mod error;
mod result;
mod signer;
mod verifier;

pub use error::*;
pub use result::*;
pub use signer::*;
pub use verifier::*;

use std::os::raw::c_char;

/// The ABI version: raised on every incompatible change of this header.
/// Compare [`shaken_abi_version`] with it at start-up.
pub const SHAKEN_ABI_VERSION: u32 = 1;

/// A UTF-8 string given as pointer and length (not NUL-terminated), the
/// shape of Kamailio's and OpenSIPS's `str`. `ptr` may be NULL only when
/// `len` is 0.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct shaken_str {
    /// The first byte.
    pub ptr: *const c_char,
    /// The number of bytes.
    pub len: usize,
}

const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The library version, e.g. `"0.1.0"` (static, never freed).
#[no_mangle]
pub extern "C" fn shaken_version() -> *const c_char {
    VERSION.as_ptr().cast()
}

/// The ABI version the library was built with ([`SHAKEN_ABI_VERSION`]).
#[no_mangle]
pub extern "C" fn shaken_abi_version() -> u32 {
    SHAKEN_ABI_VERSION
}

#[cfg(test)]
mod surfaces;
#[cfg(test)]
mod tests;
