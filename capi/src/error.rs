//! Status codes, the per-thread last error, and the argument checks shared
//! by every function.

use std::cell::RefCell;
use std::ffi::CString;
use std::os::raw::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::shaken_str;

/// Success.
pub const SHAKEN_OK: i32 = 0;
/// A required pointer was NULL (or a pointer was NULL with a non-zero length).
pub const SHAKEN_ERR_NULL: i32 = 1;
/// A length, count or value is out of range, or a string is not UTF-8.
pub const SHAKEN_ERR_INVALID_ARGUMENT: i32 = 2;
/// The output buffer is too small; the needed length was stored.
pub const SHAKEN_ERR_BUFFER_TOO_SMALL: i32 = 3;
/// The private key could not be read (not a PKCS#8/SEC1 P-256 PEM key).
pub const SHAKEN_ERR_KEY: i32 = 4;
/// A certificate, chain or CRL could not be read.
pub const SHAKEN_ERR_CERTIFICATE: i32 = 5;
/// Signing failed.
pub const SHAKEN_ERR_SIGN: i32 = 6;
/// The SIP message is not a request this library can read.
pub const SHAKEN_ERR_SIP: i32 = 7;
/// The runtime that performs fetches could not be started.
pub const SHAKEN_ERR_RUNTIME: i32 = 8;
/// An internal error (a bug): the call was abandoned, nothing was changed.
pub const SHAKEN_ERR_PANIC: i32 = 9;

/// Why a call failed (the text goes to [`shaken_last_error`]).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("{arg} is NULL")]
    Null { arg: &'static str },
    #[error("{arg}: length {len} is larger than {max} bytes (a negative length cast to size_t?)")]
    Length {
        arg: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{arg}: count {count} is larger than {max}")]
    Count {
        arg: &'static str,
        count: usize,
        max: usize,
    },
    #[error("{arg} is not valid UTF-8: {source}")]
    Utf8 {
        arg: &'static str,
        #[source]
        source: std::str::Utf8Error,
    },
    #[error("{arg}: {detail}")]
    Invalid { arg: &'static str, detail: String },
    #[error("the buffer holds {cap} bytes; {needed} are needed (value plus NUL)")]
    BufferTooSmall { needed: usize, cap: usize },
    #[error("private key: {0}")]
    Key(#[source] shaken_lib::crypto::KeyError),
    #[error("{what}: {source}")]
    Certificate {
        what: &'static str,
        #[source]
        source: shaken_lib::cert::CertError,
    },
    #[error("certificate fetcher: {0}")]
    Fetch(String),
    #[error("signing failed: {0}")]
    Sign(#[source] shaken_lib::passport::SignError),
    #[error("not a SIP request this library can read: {0}")]
    Sip(#[source] shaken_lib::sip::SipError),
    #[error(
        "internal error in {function}: {message}; nothing was changed (please report this bug)"
    )]
    Panic {
        function: &'static str,
        message: String,
    },
}

impl ApiError {
    pub(crate) fn status(&self) -> i32 {
        match self {
            ApiError::Null { .. } => SHAKEN_ERR_NULL,
            ApiError::Length { .. }
            | ApiError::Count { .. }
            | ApiError::Utf8 { .. }
            | ApiError::Invalid { .. } => SHAKEN_ERR_INVALID_ARGUMENT,
            ApiError::BufferTooSmall { .. } => SHAKEN_ERR_BUFFER_TOO_SMALL,
            ApiError::Key(_) => SHAKEN_ERR_KEY,
            ApiError::Certificate { .. } | ApiError::Fetch(_) => SHAKEN_ERR_CERTIFICATE,
            ApiError::Sign(_) => SHAKEN_ERR_SIGN,
            ApiError::Sip(_) => SHAKEN_ERR_SIP,
            ApiError::Panic { .. } => SHAKEN_ERR_PANIC,
        }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// A `CString` from text that may hold NUL bytes (they come from strangers:
/// a JSON `"\u0000"` in a claim): each NUL becomes U+FFFD.
pub(crate) fn c_string(s: &str) -> CString {
    match CString::new(s) {
        Ok(c) => c,
        Err(_) => CString::new(s.replace('\0', "\u{FFFD}")).unwrap_or_default(),
    }
}

fn set_last_error(text: &str) {
    let c = c_string(text);
    // try_with: during thread teardown the slot may be gone; the status
    // code still tells the caller what happened.
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = c;
        }
    });
}

/// The sentence describing the last error on the calling thread (empty if
/// none yet). The pointer stays valid until the next failing call on this
/// thread; copy it to keep it. Never NULL, never freed by the caller.
#[no_mangle]
pub extern "C" fn shaken_last_error() -> *const c_char {
    static EMPTY: &[u8] = b"\0";
    LAST_ERROR
        .try_with(|slot| match slot.try_borrow() {
            Ok(s) => s.as_ptr(),
            Err(_) => EMPTY.as_ptr().cast(),
        })
        .unwrap_or(EMPTY.as_ptr().cast())
}

/// A short static description of a status code (never NULL, never freed).
#[no_mangle]
pub extern "C" fn shaken_status_str(status: i32) -> *const c_char {
    let s: &'static [u8] = match status {
        SHAKEN_OK => b"ok\0",
        SHAKEN_ERR_NULL => b"a required pointer is NULL\0",
        SHAKEN_ERR_INVALID_ARGUMENT => b"invalid argument (length, count, value or UTF-8)\0",
        SHAKEN_ERR_BUFFER_TOO_SMALL => b"output buffer too small\0",
        SHAKEN_ERR_KEY => b"unreadable private key\0",
        SHAKEN_ERR_CERTIFICATE => b"unreadable certificate, chain or CRL\0",
        SHAKEN_ERR_SIGN => b"signing failed\0",
        SHAKEN_ERR_SIP => b"unreadable SIP request\0",
        SHAKEN_ERR_RUNTIME => b"fetch runtime could not start\0",
        SHAKEN_ERR_PANIC => b"internal error\0",
        _ => b"unknown status code\0",
    };
    s.as_ptr().cast()
}

/// Run one API call: errors go to the last-error slot and become a status,
/// a panic becomes `SHAKEN_ERR_PANIC` instead of unwinding into C.
pub(crate) fn ffi_call(function: &'static str, f: impl FnOnce() -> Result<(), ApiError>) -> i32 {
    let outcome = catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        Err(ApiError::Panic { function, message })
    });
    match outcome {
        Ok(()) => SHAKEN_OK,
        Err(e) => {
            set_last_error(&e.to_string());
            e.status()
        }
    }
}

/// Upper bound on any input length: far above every real input (the
/// library's own limits are much lower), low enough to catch a negative
/// length cast to `size_t`.
pub(crate) const MAX_INPUT_LEN: usize = 64 << 20;

/// Borrow `len` bytes at `ptr`. NULL is accepted only with `len == 0`
/// (an empty input).
///
/// # Safety
/// `ptr` must be NULL or point to `len` readable bytes that stay valid and
/// unchanged for `'a`.
pub(crate) unsafe fn bytes<'a>(
    ptr: *const c_char,
    len: usize,
    arg: &'static str,
) -> Result<&'a [u8], ApiError> {
    if len > MAX_INPUT_LEN {
        return Err(ApiError::Length {
            arg,
            len,
            max: MAX_INPUT_LEN,
        });
    }
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(ApiError::Null { arg })
        };
    }
    // SAFETY: non-NULL, len <= 64 MiB < isize::MAX, and the caller promises
    // `len` readable bytes valid for 'a.
    Ok(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) })
}

/// Borrow a UTF-8 string at `ptr`/`len` (see [`bytes`]).
///
/// # Safety
/// As [`bytes`].
pub(crate) unsafe fn text<'a>(
    ptr: *const c_char,
    len: usize,
    arg: &'static str,
) -> Result<&'a str, ApiError> {
    // SAFETY: forwarded from the caller.
    let b = unsafe { bytes(ptr, len, arg) }?;
    std::str::from_utf8(b).map_err(|source| ApiError::Utf8 { arg, source })
}

/// An optional string: NULL (any length 0) means absent.
///
/// # Safety
/// As [`bytes`].
pub(crate) unsafe fn opt_text<'a>(
    ptr: *const c_char,
    len: usize,
    arg: &'static str,
) -> Result<Option<&'a str>, ApiError> {
    if ptr.is_null() && len == 0 {
        return Ok(None);
    }
    // SAFETY: forwarded from the caller.
    unsafe { text(ptr, len, arg) }.map(Some)
}

/// Most strings in an array argument (a SIP request has one `To`; a
/// PASSporT rarely names more than a few destinations).
pub(crate) const MAX_LIST: usize = 1024;

/// Borrow an array of `count` strings.
///
/// # Safety
/// `list` must be NULL (then `count` must be 0) or point to `count`
/// `shaken_str`, each valid as for [`bytes`], for `'a`.
pub(crate) unsafe fn text_list<'a>(
    list: *const shaken_str,
    count: usize,
    arg: &'static str,
) -> Result<Vec<&'a str>, ApiError> {
    if count > MAX_LIST {
        return Err(ApiError::Count {
            arg,
            count,
            max: MAX_LIST,
        });
    }
    if list.is_null() {
        return if count == 0 {
            Ok(Vec::new())
        } else {
            Err(ApiError::Null { arg })
        };
    }
    // SAFETY: non-NULL, count <= 1024, and the caller promises `count`
    // elements valid for 'a.
    let items = unsafe { std::slice::from_raw_parts(list, count) };
    items
        .iter()
        // SAFETY: each element is valid as the caller promised.
        .map(|s| unsafe { text(s.ptr, s.len, arg) })
        .collect()
}

/// Write a handle to an out-parameter.
///
/// # Safety
/// `out` must be NULL or valid for one pointer write.
pub(crate) unsafe fn check_out<T>(out: *mut *mut T, arg: &'static str) -> Result<(), ApiError> {
    if out.is_null() {
        return Err(ApiError::Null { arg });
    }
    // SAFETY: non-NULL and writable as the caller promised; clearing it
    // first means an error never leaves a stale handle behind.
    unsafe { out.write(std::ptr::null_mut()) };
    Ok(())
}
