//! Signing: `shaken_signer_new`, `shaken_sign`, `shaken_sign_div`,
//! `shaken_signer_free`.

use std::os::raw::c_char;

use shaken_lib::atis::RequestPolicy;
use shaken_lib::config::ConfigError;
use shaken_lib::{SignRequest, StiAs};

use crate::error::{check_out, ffi_call, opt_text, text, text_list, ApiError};
use crate::shaken_str;

/// A signing key and its certificate URL (`x5u`). Created once, shared by
/// any number of threads; freed with [`shaken_signer_free`].
pub struct shaken_signer {
    signer: StiAs,
    /// The Rich Call Data of [`shaken_signer_set_rcd`], kept to change its
    /// carriage ([`shaken_signer_set_rcd_separate`]).
    rcd: Option<shaken_lib::rcd::RcdSigning>,
}

/// Seconds since the Unix epoch on the system clock.
pub(crate) fn wall_clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Create a signer from a P-256 private key in PEM (PKCS#8 or SEC1) and the
/// https URL where its certificate chain is published (`x5u`, also the
/// Identity `info` parameter; http is accepted for labs).
///
/// On success `*out` receives the signer; on error it is set to NULL.
///
/// # Safety
/// `key_pem` must point to `key_pem_len` readable bytes, `x5u` to
/// `x5u_len` bytes, and `out` must be a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn shaken_signer_new(
    key_pem: *const c_char,
    key_pem_len: usize,
    x5u: *const c_char,
    x5u_len: usize,
    out: *mut *mut shaken_signer,
) -> i32 {
    ffi_call("shaken_signer_new", || {
        // SAFETY: `out` comes from the caller, who promises it is writable.
        unsafe { check_out(out, "out") }?;
        // SAFETY: pointer/length pairs from the caller.
        let (pem, x5u) = unsafe {
            (
                text(key_pem, key_pem_len, "key_pem")?,
                text(x5u, x5u_len, "x5u")?,
            )
        };
        let signer = StiAs::from_pem(pem, x5u, false).map_err(|e| match e {
            ConfigError::Key { source, .. } => ApiError::Key(source),
            other => ApiError::Invalid {
                arg: "x5u",
                detail: other.to_string(),
            },
        })?;
        let signer = Box::new(shaken_signer { signer, rcd: None });
        // SAFETY: `out` was checked non-NULL and writable above.
        unsafe { out.write(Box::into_raw(signer)) };
        Ok(())
    })
}

/// Sign Rich Call Data (RFC 9795) into every call this signer signs: the
/// caller's name `nam` (may be empty: `""`) and, when `crn` is not NULL,
/// the call reason, as claims inside the SHAKEN PASSporT (ATIS-1000094
/// style; [`shaken_signer_set_rcd_separate`] puts them in a separate
/// `ppt=rcd` PASSporT instead). Call it after [`shaken_signer_new`] and
/// before the signer is shared between threads. A name or reason with a
/// control character is refused (`SHAKEN_ERR_INVALID_ARGUMENT`).
///
/// # Safety
/// `signer` from [`shaken_signer_new`], not in use by another thread; each
/// pointer/length pair must describe readable bytes (`crn` may be NULL).
#[no_mangle]
pub unsafe extern "C" fn shaken_signer_set_rcd(
    signer: *mut shaken_signer,
    nam: *const c_char,
    nam_len: usize,
    crn: *const c_char,
    crn_len: usize,
) -> i32 {
    ffi_call("shaken_signer_set_rcd", || {
        // SAFETY: a pointer from shaken_signer_new, not shared yet.
        let signer = unsafe { signer.as_mut() }.ok_or(ApiError::Null { arg: "signer" })?;
        // SAFETY: pointer/length pairs from the caller.
        let (nam, crn) = unsafe { (text(nam, nam_len, "nam")?, opt_text(crn, crn_len, "crn")?) };
        let rcd = shaken_lib::rcd::RcdSigning {
            claims: shaken_lib::rcd::RcdClaims::new(
                Some(shaken_lib::rcd::Rcd::named(nam)),
                crn.map(str::to_owned),
            ),
            separate: false,
        };
        signer.signer =
            signer
                .signer
                .clone()
                .with_rcd(rcd.clone())
                .map_err(|e| ApiError::Invalid {
                    arg: "nam",
                    detail: e.to_string(),
                })?;
        signer.rcd = Some(rcd);
        Ok(())
    })
}

/// Carry the Rich Call Data of [`shaken_signer_set_rcd`] in a separate
/// `ppt=rcd` PASSporT (RFC 9795 §8, a second `Identity` header: `on` != 0)
/// or inside the SHAKEN one (`on` == 0, the default). With it on, sign with
/// [`shaken_sign_rcd`], which also writes the second header's value.
/// `SHAKEN_ERR_INVALID_ARGUMENT` when no RCD was set.
///
/// # Safety
/// `signer` from [`shaken_signer_new`], not in use by another thread.
#[no_mangle]
pub unsafe extern "C" fn shaken_signer_set_rcd_separate(
    signer: *mut shaken_signer,
    on: i32,
) -> i32 {
    ffi_call("shaken_signer_set_rcd_separate", || {
        // SAFETY: a pointer from shaken_signer_new, not shared yet.
        let signer = unsafe { signer.as_mut() }.ok_or(ApiError::Null { arg: "signer" })?;
        let Some(mut rcd) = signer.rcd.clone() else {
            return Err(ApiError::Invalid {
                arg: "signer",
                detail: "no Rich Call Data to carry: call shaken_signer_set_rcd first".into(),
            });
        };
        rcd.separate = on != 0;
        signer.signer =
            signer
                .signer
                .clone()
                .with_rcd(rcd.clone())
                .map_err(|e| ApiError::Invalid {
                    arg: "signer",
                    detail: e.to_string(),
                })?;
        signer.rcd = Some(rcd);
        Ok(())
    })
}

/// Free a signer (NULL is ignored). No call may be using it.
///
/// # Safety
/// `signer` must be NULL or a pointer from [`shaken_signer_new`] not yet freed.
#[no_mangle]
pub unsafe extern "C" fn shaken_signer_free(signer: *mut shaken_signer) {
    if signer.is_null() {
        return;
    }
    let _ = ffi_call("shaken_signer_free", || {
        // SAFETY: from shaken_signer_new (Box::into_raw), freed only once.
        drop(unsafe { Box::from_raw(signer) });
        Ok(())
    });
}

/// Sign a call: build the SHAKEN PASSporT (RFC 8588) and write the
/// `Identity` header value (`token;info=<x5u>;alg=ES256;ppt=shaken`, no
/// `Identity:` prefix) as a NUL-terminated string into `out`.
///
/// - `orig`: the calling number (canonicalised as `shaken sign` does:
///   `+1 (215) 555-0121`, `tel:` and `sip:...;user=phone` URIs accepted);
/// - `dest`/`dest_count`: the called numbers (at least one);
/// - `attest`: `'A'`, `'B'` or `'C'`;
/// - `origid`/`origid_len`: a UUID, or NULL/0 for a new random UUID v4;
/// - `iat`: the signing time (Unix seconds), or 0 for now.
///
/// `*out_len` receives the length of the value without its NUL, also when
/// the buffer is too small (`SHAKEN_ERR_BUFFER_TOO_SMALL`: call again with
/// `*out_len + 1` bytes; the retry signs anew, with a new `origid` if none
/// was given). 1024 bytes are enough for a few destinations.
///
/// # Safety
/// `signer` must come from [`shaken_signer_new`]; each pointer/length pair
/// must describe readable bytes; `dest` must point to `dest_count`
/// elements; `out` must hold `out_cap` writable bytes; `out_len` must be a
/// writable pointer.
#[no_mangle]
pub unsafe extern "C" fn shaken_sign(
    signer: *const shaken_signer,
    orig: *const c_char,
    orig_len: usize,
    dest: *const shaken_str,
    dest_count: usize,
    attest: c_char,
    origid: *const c_char,
    origid_len: usize,
    iat: i64,
    out: *mut c_char,
    out_cap: usize,
    out_len: *mut usize,
) -> i32 {
    ffi_call("shaken_sign", || {
        if out_len.is_null() {
            return Err(ApiError::Null { arg: "out_len" });
        }
        // SAFETY: non-NULL and writable as the caller promised.
        unsafe { out_len.write(0) };
        // SAFETY: a pointer from shaken_signer_new, alive for the call.
        let signer = unsafe { signer.as_ref() }.ok_or(ApiError::Null { arg: "signer" })?;
        // SAFETY: pointer/length pairs and the array from the caller.
        let (orig, dest, origid) = unsafe {
            (
                text(orig, orig_len, "orig")?,
                text_list(dest, dest_count, "dest")?,
                opt_text(origid, origid_len, "origid")?,
            )
        };
        let signed = sign_value(signer, orig, &dest, attest, origid, iat)?;
        // SAFETY: the caller's buffer, as promised.
        unsafe { write_out(&signed.identity, out, out_cap, out_len) }
    })
}

/// Sign a `div` PASSporT (RFC 8946) for a call that arrived with
/// `incoming` (its Identity header value or bare PASSporT, shaken or div)
/// and is retargeted to `dest`: `orig` and `iat` are copied from it, `div`
/// is its destination, `dest` the new target, `hi`/`hi_len` the optional
/// History-Info index (NULL/0: none), and no other claim. Writes the
/// Identity value (`token;info=<x5u>;alg=ES256;ppt=div`) into `out` as
/// [`shaken_sign`] does (same buffer rules; the result is deterministic
/// only with a deterministic key, so a retry signs anew).
///
/// `SHAKEN_ERR_INVALID_ARGUMENT` when `incoming` is not a PASSporT, `dest`
/// is not a number or is already a destination of `incoming` (RFC 8946 §3),
/// or `hi` is not an index; the message says which.
///
/// # Safety
/// As [`shaken_sign`]: `signer` from [`shaken_signer_new`], readable
/// pointer/length pairs, `out` with `out_cap` writable bytes, `out_len`
/// writable.
#[no_mangle]
pub unsafe extern "C" fn shaken_sign_div(
    signer: *const shaken_signer,
    incoming: *const c_char,
    incoming_len: usize,
    dest: *const c_char,
    dest_len: usize,
    hi: *const c_char,
    hi_len: usize,
    out: *mut c_char,
    out_cap: usize,
    out_len: *mut usize,
) -> i32 {
    ffi_call("shaken_sign_div", || {
        if out_len.is_null() {
            return Err(ApiError::Null { arg: "out_len" });
        }
        // SAFETY: non-NULL and writable as the caller promised.
        unsafe { out_len.write(0) };
        // SAFETY: a pointer from shaken_signer_new, alive for the call.
        let signer = unsafe { signer.as_ref() }.ok_or(ApiError::Null { arg: "signer" })?;
        // SAFETY: pointer/length pairs from the caller.
        let (incoming, dest, hi) = unsafe {
            (
                text(incoming, incoming_len, "incoming")?,
                text(dest, dest_len, "dest")?,
                opt_text(hi, hi_len, "hi")?,
            )
        };
        let signed = signer.signer.sign_div(incoming, dest, hi).map_err(|e| {
            use shaken_lib::div::DivSignError as E;
            match e {
                E::Sign(s) => ApiError::Sign(s),
                E::DestInvalid { .. } | E::DestUnchanged { .. } => ApiError::Invalid {
                    arg: "dest",
                    detail: e.to_string(),
                },
                E::HiInvalid { .. } => ApiError::Invalid {
                    arg: "hi",
                    detail: e.to_string(),
                },
                other => ApiError::Invalid {
                    arg: "incoming",
                    detail: other.to_string(),
                },
            }
        })?;
        // SAFETY: the caller's buffer, as promised (out_len checked non-NULL).
        unsafe { write_out(&signed.identity, out, out_cap, out_len) }
    })
}

/// [`shaken_sign`] for a signer whose Rich Call Data goes in a separate
/// PASSporT ([`shaken_signer_set_rcd_separate`]): the SHAKEN `Identity`
/// value goes to `out` as with `shaken_sign`, the `ppt=rcd` one (the second
/// `Identity` header) to `rcd_out`, NUL-terminated; `*rcd_len` is 0 and
/// `rcd_out` an empty string when there is none (no RCD, or inline). Both
/// lengths are set also when a buffer is too small
/// (`SHAKEN_ERR_BUFFER_TOO_SMALL`; the retry signs anew).
///
/// # Safety
/// As [`shaken_sign`]; `rcd_out` must hold `rcd_cap` writable bytes and
/// `rcd_len` must be a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn shaken_sign_rcd(
    signer: *const shaken_signer,
    orig: *const c_char,
    orig_len: usize,
    dest: *const shaken_str,
    dest_count: usize,
    attest: c_char,
    origid: *const c_char,
    origid_len: usize,
    iat: i64,
    out: *mut c_char,
    out_cap: usize,
    out_len: *mut usize,
    rcd_out: *mut c_char,
    rcd_cap: usize,
    rcd_len: *mut usize,
) -> i32 {
    ffi_call("shaken_sign_rcd", || {
        if out_len.is_null() {
            return Err(ApiError::Null { arg: "out_len" });
        }
        if rcd_len.is_null() {
            return Err(ApiError::Null { arg: "rcd_len" });
        }
        // SAFETY: non-NULL and writable as the caller promised.
        unsafe {
            out_len.write(0);
            rcd_len.write(0);
        }
        // SAFETY: a pointer from shaken_signer_new, alive for the call.
        let signer = unsafe { signer.as_ref() }.ok_or(ApiError::Null { arg: "signer" })?;
        // SAFETY: pointer/length pairs and the array from the caller.
        let (orig, dest, origid) = unsafe {
            (
                text(orig, orig_len, "orig")?,
                text_list(dest, dest_count, "dest")?,
                opt_text(origid, origid_len, "origid")?,
            )
        };
        let signed = sign_value(signer, orig, &dest, attest, origid, iat)?;
        let second = signed.rcd_identity.as_deref().unwrap_or("");
        // Both lengths first, so one retry can size both buffers.
        // SAFETY: checked non-NULL above.
        unsafe {
            out_len.write(signed.identity.len());
            rcd_len.write(second.len());
        }
        // SAFETY: the caller's buffers, as promised.
        unsafe {
            write_out(&signed.identity, out, out_cap, out_len)?;
            write_out(second, rcd_out, rcd_cap, rcd_len)
        }
    })
}

/// Writes `value` and a NUL into `out` (`out_cap` bytes), its length into
/// `*out_len` (non-NULL), or says how many bytes it needs.
///
/// # Safety
/// `out` must hold `out_cap` writable bytes; `out_len` must be writable.
unsafe fn write_out(
    value: &str,
    out: *mut c_char,
    out_cap: usize,
    out_len: *mut usize,
) -> Result<(), ApiError> {
    let needed = value.len() + 1;
    // SAFETY: non-NULL, checked by the callers.
    unsafe { out_len.write(value.len()) };
    if out.is_null() && out_cap > 0 {
        return Err(ApiError::Null { arg: "out" });
    }
    if out_cap < needed {
        return Err(ApiError::BufferTooSmall {
            needed,
            cap: out_cap,
        });
    }
    // SAFETY: the caller promises `out_cap >= needed` writable bytes at
    // `out` (non-NULL since out_cap > 0); the value is ASCII without NUL.
    let buf = unsafe { bytes_mut(out, needed)? };
    let (body, nul) = buf.split_at_mut(value.len());
    body.copy_from_slice(value.as_bytes());
    if let Some(n) = nul.first_mut() {
        *n = 0;
    }
    Ok(())
}

/// # Safety
/// `ptr` must be non-NULL and point to `len` writable bytes.
unsafe fn bytes_mut<'a>(ptr: *mut c_char, len: usize) -> Result<&'a mut [u8], ApiError> {
    if ptr.is_null() {
        return Err(ApiError::Null { arg: "out" });
    }
    // SAFETY: forwarded from the caller.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr.cast::<u8>(), len) })
}

fn sign_value(
    signer: &shaken_signer,
    orig: &str,
    dest: &[&str],
    attest: c_char,
    origid: Option<&str>,
    iat: i64,
) -> Result<shaken_lib::Signed, ApiError> {
    let iat = match iat {
        0 => wall_clock(),
        i => i,
    };
    let attest = char::from(attest as u8).to_string();
    // The same rules as a REST or batch signing request.
    let request = SignRequest::new(&attest, orig, dest, iat, origid, &RequestPolicy::default())
        .map_err(|e| ApiError::Invalid {
            arg: match e.field() {
                Some("orig.tn") => "orig",
                Some("dest.tn") => "dest",
                Some("origid") => "origid",
                Some("iat") => "iat",
                _ => "attest",
            },
            detail: e.to_string(),
        })?;
    signer.signer.sign(&request).map_err(ApiError::Sign)
}
