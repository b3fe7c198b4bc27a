//! The verification result handle and its accessors.
//!
//! Every string accessor returns a NUL-terminated UTF-8 string owned by the
//! result (valid until [`shaken_result_free`]), or NULL when the value is
//! absent or the result pointer is NULL. A result is read-only: several
//! threads may read the same one.

use std::ffi::{CStr, CString};
use std::os::raw::c_char;
use std::ptr;
use std::sync::OnceLock;

use shaken_lib::sip_verify::SipReport;
use shaken_lib::{Report, Verstat};

use crate::error::{c_string, ffi_call};

/// The outcome of one verification. Freed with [`shaken_result_free`].
pub struct shaken_result {
    passed: bool,
    verstat: &'static CStr,
    attest: Option<&'static CStr>,
    sip_code: u16,
    reason_text: Option<CString>,
    reason_detail: Option<CString>,
    reason_id: Option<CString>,
    reason_header: Option<CString>,
    verstat_param: CString,
    orig: Option<CString>,
    origid: Option<CString>,
    spc: Option<CString>,
    x5u: Option<CString>,
    iat: i64,
    div: Option<DivC>,
    rcd_name: Option<CString>,
    rcd_verified: bool,
    rcd_call_reason: Option<CString>,
    source: Source,
    json: OnceLock<CString>,
}

/// The div chain (RFC 8946) as C strings.
struct DivC {
    verdict: &'static CStr,
    reason_id: Option<CString>,
    reason_detail: Option<CString>,
    hops: Vec<HopC>,
}

struct HopC {
    from: Option<CString>,
    to: Option<CString>,
    spc: Option<CString>,
    hi: Option<CString>,
    reason_id: Option<CString>,
}

fn div_c(d: &shaken_lib::div::Diversion) -> DivC {
    use shaken_lib::div::DivVerdict;
    DivC {
        verdict: match d.verdict {
            DivVerdict::Valid => c"valid",
            DivVerdict::Invalid => c"invalid",
            _ => c"incomplete",
        },
        reason_id: opt(d.reason.as_ref().map(|r| r.id.as_str())),
        reason_detail: opt(d.reason.as_ref().map(|r| r.detail.as_str())),
        hops: d
            .hops
            .iter()
            .map(|h| HopC {
                from: opt(h.from.as_deref()),
                to: opt(h.to.as_deref()),
                spc: opt(h.signer.as_ref().and_then(|s| s.spc.as_deref())),
                hi: opt(h.hi.as_deref()),
                reason_id: opt(h.reason.as_ref().map(|r| r.id.as_str())),
            })
            .collect(),
    }
}

enum Source {
    Identity(Box<Report>),
    Sip(Box<SipReport>),
}

fn verstat_c(v: Verstat) -> &'static CStr {
    match v {
        Verstat::Passed => c"TN-Validation-Passed",
        Verstat::Failed => c"TN-Validation-Failed",
        _ => c"No-TN-Validation",
    }
}

fn opt(s: Option<&str>) -> Option<CString> {
    s.map(c_string)
}

impl shaken_result {
    fn new(source: Source, verstat_param: String, reason_header: Option<String>) -> Self {
        let r = match &source {
            Source::Identity(r) => r,
            Source::Sip(s) => &s.overall,
        };
        shaken_result {
            passed: r.passed(),
            verstat: verstat_c(r.verstat),
            attest: r.attest.map(|a| match a.as_str() {
                "A" => c"A",
                "B" => c"B",
                _ => c"C",
            }),
            sip_code: r.reason.as_ref().map_or(0, |x| x.code),
            reason_text: opt(r.reason.as_ref().map(|x| x.text.as_str())),
            reason_detail: opt(r.reason.as_ref().map(|x| x.detail.as_str())),
            reason_id: opt(r.reason.as_ref().map(|x| x.id.as_str())),
            reason_header: reason_header.as_deref().map(c_string),
            verstat_param: c_string(&verstat_param),
            orig: opt(r.orig.as_deref()),
            origid: opt(r.origid.as_deref()),
            spc: opt(r.signer.as_ref().and_then(|s| s.spc.as_deref())),
            x5u: opt(r.x5u.as_deref()),
            iat: r.iat.unwrap_or(0),
            div: match &source {
                Source::Sip(s) => s.diversion.as_ref().map(div_c),
                Source::Identity(_) => None,
            },
            rcd_name: opt(r.rcd.as_ref().and_then(|x| x.nam.as_deref())),
            rcd_verified: r.rcd.as_ref().is_some_and(|x| x.verified),
            rcd_call_reason: opt(r.rcd.as_ref().and_then(|x| x.crn.as_deref())),
            source,
            json: OnceLock::new(),
        }
    }

    pub(crate) fn from_report(r: Report) -> Self {
        let param = format!(";verstat={}", r.verstat);
        let header = r.reason_header();
        shaken_result::new(Source::Identity(Box::new(r)), param, header)
    }

    pub(crate) fn from_sip(r: SipReport) -> Self {
        let param = r.sip.verstat_param.clone();
        let header = r.sip.reason_header.clone();
        shaken_result::new(Source::Sip(Box::new(r)), param, header)
    }
}

/// Free a result (NULL is ignored).
///
/// # Safety
/// `result` must be NULL or from a verify function, not yet freed.
#[no_mangle]
pub unsafe extern "C" fn shaken_result_free(result: *mut shaken_result) {
    if result.is_null() {
        return;
    }
    let _ = ffi_call("shaken_result_free", || {
        // SAFETY: from Box::into_raw in a verify function, freed once.
        drop(unsafe { Box::from_raw(result) });
        Ok(())
    });
}

/// # Safety
/// `r` must be NULL or a live result.
unsafe fn get<'a>(r: *const shaken_result) -> Option<&'a shaken_result> {
    // SAFETY: forwarded from the caller.
    unsafe { r.as_ref() }
}

fn ptr_of(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(ptr::null(), |c| c.as_ptr())
}

/// 1 when the verstat is `TN-Validation-Passed`, else 0 (also for NULL).
///
/// # Safety
/// `result` must be NULL or a live result.
#[no_mangle]
pub unsafe extern "C" fn shaken_result_passed(result: *const shaken_result) -> i32 {
    // SAFETY: forwarded from the caller.
    i32::from(unsafe { get(result) }.is_some_and(|r| r.passed))
}

/// The verstat: `TN-Validation-Passed`, `TN-Validation-Failed` or
/// `No-TN-Validation` (3GPP TS 24.229).
///
/// # Safety
/// `result` must be NULL or a live result.
#[no_mangle]
pub unsafe extern "C" fn shaken_result_verstat(result: *const shaken_result) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { get(result) }.map_or(ptr::null(), |r| r.verstat.as_ptr())
}

/// The `;verstat=...` URI parameter to add to P-Asserted-Identity/From.
///
/// # Safety
/// `result` must be NULL or a live result.
#[no_mangle]
pub unsafe extern "C" fn shaken_result_verstat_param(
    result: *const shaken_result,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { get(result) }.map_or(ptr::null(), |r| r.verstat_param.as_ptr())
}

/// The attestation claimed: `"A"`, `"B"`, `"C"`, or NULL. (Claimed by the
/// PASSporT: trust it only when the result passed.)
///
/// # Safety
/// `result` must be NULL or a live result.
#[no_mangle]
pub unsafe extern "C" fn shaken_result_attest(result: *const shaken_result) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { get(result) }
        .and_then(|r| r.attest)
        .map_or(ptr::null(), CStr::as_ptr)
}

/// The SIP response code for a failure (403, 428, 436, 437 or 438), 0 when
/// the result passed.
///
/// # Safety
/// `result` must be NULL or a live result.
#[no_mangle]
pub unsafe extern "C" fn shaken_result_sip_code(result: *const shaken_result) -> i32 {
    // SAFETY: forwarded from the caller.
    unsafe { get(result) }.map_or(0, |r| i32::from(r.sip_code))
}

/// The RFC reason phrase of the failure (e.g. `Invalid Identity Header`),
/// or NULL when passed.
///
/// # Safety
/// `result` must be NULL or a live result.
#[no_mangle]
pub unsafe extern "C" fn shaken_result_reason_text(result: *const shaken_result) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { get(result) }.map_or(ptr::null(), |r| ptr_of(&r.reason_text))
}

/// What exactly was wrong, one sentence for logs, or NULL when passed.
///
/// # Safety
/// `result` must be NULL or a live result.
#[no_mangle]
pub unsafe extern "C" fn shaken_result_reason_detail(
    result: *const shaken_result,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { get(result) }.map_or(ptr::null(), |r| ptr_of(&r.reason_detail))
}

/// The stable kebab-case id of the failure (e.g. `signature-invalid`,
/// `replay`, `orig-mismatch`), or NULL when passed.
///
/// # Safety
/// `result` must be NULL or a live result.
#[no_mangle]
pub unsafe extern "C" fn shaken_result_reason_id(result: *const shaken_result) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { get(result) }.map_or(ptr::null(), |r| ptr_of(&r.reason_id))
}

/// The `Reason` header line to send for a failure (RFC 8224 §6.2.2), e.g.
/// `Reason: SIP ;cause=438 ;text="Invalid Identity Header"`, or NULL.
///
/// # Safety
/// `result` must be NULL or a live result.
#[no_mangle]
pub unsafe extern "C" fn shaken_result_reason_header(
    result: *const shaken_result,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { get(result) }.map_or(ptr::null(), |r| ptr_of(&r.reason_header))
}

/// The Service Provider Code from the signer's certificate, or NULL.
///
/// # Safety
/// `result` must be NULL or a live result.
#[no_mangle]
pub unsafe extern "C" fn shaken_result_spc(result: *const shaken_result) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { get(result) }.map_or(ptr::null(), |r| ptr_of(&r.spc))
}

/// The PASSporT's `origid`, or NULL.
///
/// # Safety
/// `result` must be NULL or a live result.
#[no_mangle]
pub unsafe extern "C" fn shaken_result_origid(result: *const shaken_result) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { get(result) }.map_or(ptr::null(), |r| ptr_of(&r.origid))
}

/// The PASSporT's calling number (`orig`), or NULL.
///
/// # Safety
/// `result` must be NULL or a live result.
#[no_mangle]
pub unsafe extern "C" fn shaken_result_orig(result: *const shaken_result) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { get(result) }.map_or(ptr::null(), |r| ptr_of(&r.orig))
}

/// The certificate URL (`x5u`), or NULL.
///
/// # Safety
/// `result` must be NULL or a live result.
#[no_mangle]
pub unsafe extern "C" fn shaken_result_x5u(result: *const shaken_result) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { get(result) }.map_or(ptr::null(), |r| ptr_of(&r.x5u))
}

/// The PASSporT's `iat` (Unix seconds), or 0 when unknown.
///
/// # Safety
/// `result` must be NULL or a live result.
#[no_mangle]
pub unsafe extern "C" fn shaken_result_iat(result: *const shaken_result) -> i64 {
    // SAFETY: forwarded from the caller.
    unsafe { get(result) }.map_or(0, |r| r.iat)
}

/// The caller's name from Rich Call Data (RFC 9795 `rcd.nam`; `""` when
/// the PASSporT signs an empty name), or NULL when the call carries none.
/// Show it only when [`shaken_result_rcd_verified`] is 1.
///
/// # Safety
/// `result` must be NULL or a live result.
#[no_mangle]
pub unsafe extern "C" fn shaken_result_rcd_name(result: *const shaken_result) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { get(result) }.map_or(ptr::null(), |r| ptr_of(&r.rcd_name))
}

/// 1 when the Rich Call Data is verified: the PASSporT that carries it
/// passed (signature, construction rules, the certificate's claim
/// constraints) and every `rcdi` digest matched; else 0 (also without RCD,
/// and for NULL). The JSON (`rcd.reason`) says why not.
///
/// # Safety
/// `result` must be NULL or a live result.
#[no_mangle]
pub unsafe extern "C" fn shaken_result_rcd_verified(result: *const shaken_result) -> i32 {
    // SAFETY: forwarded from the caller.
    i32::from(unsafe { get(result) }.is_some_and(|r| r.rcd_verified))
}

/// The call reason (RFC 9795 `crn`), or NULL.
///
/// # Safety
/// `result` must be NULL or a live result.
#[no_mangle]
pub unsafe extern "C" fn shaken_result_rcd_call_reason(
    result: *const shaken_result,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { get(result) }.map_or(ptr::null(), |r| ptr_of(&r.rcd_call_reason))
}

/// The whole result as one JSON object: the shape of `shaken verify
/// --format json` (or of `verify --sip --format json` for
/// [`crate::shaken_verify_sip`]). Built on first use; NULL only for a NULL
/// result.
///
/// # Safety
/// `result` must be NULL or a live result.
#[no_mangle]
pub unsafe extern "C" fn shaken_result_json(result: *const shaken_result) -> *const c_char {
    // SAFETY: forwarded from the caller.
    let Some(r) = (unsafe { get(result) }) else {
        return ptr::null();
    };
    r.json
        .get_or_init(|| {
            let json = match &r.source {
                Source::Identity(rep) => serde_json::to_string(rep),
                Source::Sip(rep) => serde_json::to_string(rep),
            };
            c_string(&json.unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")))
        })
        .as_ptr()
}

/// The `div` chain of a diverted call (RFC 8946; [`crate::shaken_verify_sip`]):
/// `"valid"`, `"invalid"` or `"incomplete"`; NULL when the call carries no
/// `div` PASSporT (or for a NULL result). The caller-ID verdict stays
/// [`shaken_result_verstat`]'s.
///
/// # Safety
/// `result` must be NULL or a live result.
#[no_mangle]
pub unsafe extern "C" fn shaken_result_div_verdict(result: *const shaken_result) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { get(result) }
        .and_then(|r| r.div.as_ref())
        .map_or(ptr::null(), |d| d.verdict.as_ptr())
}

/// The stable id of the chain's first broken link (`div-unlinked`,
/// `div-hop-invalid`, `div-target-mismatch`...); NULL when the chain is
/// valid or absent.
///
/// # Safety
/// `result` must be NULL or a live result.
#[no_mangle]
pub unsafe extern "C" fn shaken_result_div_reason_id(
    result: *const shaken_result,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { get(result) }
        .and_then(|r| r.div.as_ref())
        .map_or(ptr::null(), |d| ptr_of(&d.reason_id))
}

/// What is wrong with the chain, in words; NULL when valid or absent.
///
/// # Safety
/// `result` must be NULL or a live result.
#[no_mangle]
pub unsafe extern "C" fn shaken_result_div_reason_detail(
    result: *const shaken_result,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { get(result) }
        .and_then(|r| r.div.as_ref())
        .map_or(ptr::null(), |d| ptr_of(&d.reason_detail))
}

/// How many `div` hops the chain has (0 when absent or NULL).
///
/// # Safety
/// `result` must be NULL or a live result.
#[no_mangle]
pub unsafe extern "C" fn shaken_result_div_hop_count(result: *const shaken_result) -> usize {
    // SAFETY: forwarded from the caller.
    unsafe { get(result) }
        .and_then(|r| r.div.as_ref())
        .map_or(0, |d| d.hops.len())
}

/// One part of hop `index` (0-based, from the shaken PASSporT outwards).
///
/// # Safety
/// `result` must be NULL or a live result.
unsafe fn hop_part(
    result: *const shaken_result,
    index: usize,
    part: fn(&HopC) -> &Option<CString>,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { get(result) }
        .and_then(|r| r.div.as_ref())
        .and_then(|d| d.hops.get(index))
        .map_or(ptr::null(), |h| ptr_of(part(h)))
}

/// Hop `index`: the number the call was diverted from (`div`); NULL when
/// out of range or unreadable.
///
/// # Safety
/// `result` must be NULL or a live result.
#[no_mangle]
pub unsafe extern "C" fn shaken_result_div_hop_from(
    result: *const shaken_result,
    index: usize,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { hop_part(result, index, |h| &h.from) }
}

/// Hop `index`: the new destination.
///
/// # Safety
/// `result` must be NULL or a live result.
#[no_mangle]
pub unsafe extern "C" fn shaken_result_div_hop_to(
    result: *const shaken_result,
    index: usize,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { hop_part(result, index, |h| &h.to) }
}

/// Hop `index`: the SPC of the carrier that signed the diversion.
///
/// # Safety
/// `result` must be NULL or a live result.
#[no_mangle]
pub unsafe extern "C" fn shaken_result_div_hop_spc(
    result: *const shaken_result,
    index: usize,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { hop_part(result, index, |h| &h.spc) }
}

/// Hop `index`: the History-Info index (`div.hi`), if given.
///
/// # Safety
/// `result` must be NULL or a live result.
#[no_mangle]
pub unsafe extern "C" fn shaken_result_div_hop_hi(
    result: *const shaken_result,
    index: usize,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { hop_part(result, index, |h| &h.hi) }
}

/// Hop `index`: why this link is broken (a stable id); NULL when it holds.
///
/// # Safety
/// `result` must be NULL or a live result.
#[no_mangle]
pub unsafe extern "C" fn shaken_result_div_hop_reason_id(
    result: *const shaken_result,
    index: usize,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { hop_part(result, index, |h| &h.reason_id) }
}
