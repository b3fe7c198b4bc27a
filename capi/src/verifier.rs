//! Verification: options, the verifier handle, `shaken_verify_identity` and
//! `shaken_verify_sip`.

use std::os::raw::c_char;

use shaken_lib::cert::{parse_chain, Crl, TrustAnchors};
use shaken_lib::config::{ConfigError, CrlPolicy, CrlSpec, ReplayMode, Source};
use shaken_lib::sip::SipRequest;
use shaken_lib::verify::{self, CallContext};
use shaken_lib::{StiVs, VerifierConfig};

use crate::error::{bytes, check_out, ffi_call, opt_text, text, text_list, ApiError};
use crate::result::shaken_result;
use crate::shaken_str;
use crate::signer::wall_clock;

/// Verifier settings, filled with the setters below and read by
/// [`shaken_verifier_new`]; freed with [`shaken_verifier_options_free`]
/// (it may be freed as soon as the verifier is created).
///
/// Defaults are those of `shaken verify`: no trust anchor (nothing is
/// trusted until one is added), x5u fetched over https only with the SSRF
/// guard, connect timeout 2000 ms, total 5000 ms, `iat` at most 60 s old or
/// ahead, replay detection ON.
pub struct shaken_verifier_options {
    /// The library's configuration, filled by the setters (certificates,
    /// CRLs and TLS roots inline, checked when they are added).
    config: VerifierConfig,
    replay: bool,
    replay_dir: Option<std::path::PathBuf>,
}

impl Default for shaken_verifier_options {
    fn default() -> Self {
        shaken_verifier_options {
            config: VerifierConfig::default(),
            replay: true,
            replay_dir: None,
        }
    }
}

/// Create verifier options with the defaults. Returns NULL only if memory
/// ran out (or on an internal error; see [`crate::shaken_last_error`]).
#[no_mangle]
pub extern "C" fn shaken_verifier_options_new() -> *mut shaken_verifier_options {
    let mut out = std::ptr::null_mut();
    let _ = ffi_call("shaken_verifier_options_new", || {
        out = Box::into_raw(Box::new(shaken_verifier_options::default()));
        Ok(())
    });
    out
}

/// Free verifier options (NULL is ignored).
///
/// # Safety
/// `options` must be NULL or from [`shaken_verifier_options_new`], not yet freed.
#[no_mangle]
pub unsafe extern "C" fn shaken_verifier_options_free(options: *mut shaken_verifier_options) {
    if options.is_null() {
        return;
    }
    let _ = ffi_call("shaken_verifier_options_free", || {
        // SAFETY: from Box::into_raw in shaken_verifier_options_new, freed once.
        drop(unsafe { Box::from_raw(options) });
        Ok(())
    });
}

/// Apply `f` to the options behind `options`.
///
/// # Safety
/// `options` must be NULL or a live pointer from
/// [`shaken_verifier_options_new`] not used by another thread meanwhile.
unsafe fn with_options(
    function: &'static str,
    options: *mut shaken_verifier_options,
    f: impl FnOnce(&mut shaken_verifier_options) -> Result<(), ApiError>,
) -> i32 {
    ffi_call(function, || {
        // SAFETY: the caller promises a live, exclusively used pointer.
        let o = unsafe { options.as_mut() }.ok_or(ApiError::Null { arg: "options" })?;
        f(o)
    })
}

/// Add trust anchors (STI-PA roots): one or more PEM certificates. Without
/// any, no certificate is trusted (every signed call fails with 437).
///
/// # Safety
/// `options` from [`shaken_verifier_options_new`]; `pem` points to `pem_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn shaken_verifier_options_add_trust_anchors(
    options: *mut shaken_verifier_options,
    pem: *const c_char,
    pem_len: usize,
) -> i32 {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_options("shaken_verifier_options_add_trust_anchors", options, |o| {
            let pem = bytes(pem, pem_len, "pem")?;
            TrustAnchors::new()
                .add_pem(pem)
                .map_err(|source| ApiError::Certificate {
                    what: "trust anchors",
                    source,
                })?;
            o.config.trust_anchors.push(Source::Inline(pem.to_vec()));
            Ok(())
        })
    }
}

/// Add a CRL (PEM or DER) checked on every verification.
///
/// # Safety
/// As [`shaken_verifier_options_add_trust_anchors`].
#[no_mangle]
pub unsafe extern "C" fn shaken_verifier_options_add_crl(
    options: *mut shaken_verifier_options,
    crl: *const c_char,
    crl_len: usize,
) -> i32 {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_options("shaken_verifier_options_add_crl", options, |o| {
            let crl = bytes(crl, crl_len, "crl")?;
            Crl::from_pem_or_der(crl, &o.config.limits).map_err(|source| {
                ApiError::Certificate {
                    what: "CRL",
                    source,
                }
            })?;
            o.config
                .crl
                .push(CrlSpec::Load(Source::Inline(crl.to_vec())));
            Ok(())
        })
    }
}

/// Pin the signer's certificate chain (PEM, end-entity first), like
/// `shaken verify --cert`: it is used for every PASSporT and `x5u` is never
/// fetched. Replaces an earlier pinned chain.
///
/// # Safety
/// As [`shaken_verifier_options_add_trust_anchors`].
#[no_mangle]
pub unsafe extern "C" fn shaken_verifier_options_set_cert_chain(
    options: *mut shaken_verifier_options,
    pem: *const c_char,
    pem_len: usize,
) -> i32 {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_options("shaken_verifier_options_set_cert_chain", options, |o| {
            let pem = bytes(pem, pem_len, "pem")?;
            parse_chain(pem, &o.config.limits).map_err(|source| ApiError::Certificate {
                what: "certificate chain",
                source,
            })?;
            o.config.cert = Some(Source::Inline(pem.to_vec()));
            Ok(())
        })
    }
}

/// Add a PEM CA certificate trusted for the TLS connections of x5u and CRL
/// fetches (besides the built-in web roots).
///
/// # Safety
/// As [`shaken_verifier_options_add_trust_anchors`].
#[no_mangle]
pub unsafe extern "C" fn shaken_verifier_options_add_tls_root(
    options: *mut shaken_verifier_options,
    pem: *const c_char,
    pem_len: usize,
) -> i32 {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_options("shaken_verifier_options_add_tls_root", options, |o| {
            let pem = bytes(pem, pem_len, "pem")?;
            o.config.tls_ca.push(Source::Inline(pem.to_vec()));
            Ok(())
        })
    }
}

/// Keep fetched certificates in a directory as well as in memory (like
/// `shaken verify --cache-dir`). Pre-forking SIP servers (Kamailio, OpenSIPS)
/// run many worker processes, each with its own verifier: with one shared
/// directory a certificate fetched by one worker is read from disk by the
/// others instead of fetched again. Writes are atomic (a temporary file
/// renamed), so the workers can share it safely. The directory is created
/// if missing. A UTF-8 path; the default is memory only.
///
/// # Safety
/// `options` from [`shaken_verifier_options_new`]; `path` points to `path_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn shaken_verifier_options_set_cache_dir(
    options: *mut shaken_verifier_options,
    path: *const c_char,
    path_len: usize,
) -> i32 {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_options("shaken_verifier_options_set_cache_dir", options, |o| {
            let dir = text(path, path_len, "path")?;
            if dir.is_empty() || dir.contains('\0') {
                return Err(ApiError::Invalid {
                    arg: "path",
                    detail: "an empty path or one with a NUL byte is not a directory".into(),
                });
            }
            o.config.cache_dir = Some(std::path::PathBuf::from(dir));
            Ok(())
        })
    }
}

/// Share replay detection between processes through a directory (default:
/// each verifier keeps its own in memory). Pre-forking SIP servers run one
/// verifier per worker process; give them all the same directory, on tmpfs
/// (e.g. `/dev/shm/shaken-replay`), and a PASSporT replayed onto a call that
/// another worker handles is caught too. Created if missing; checked to be
/// writable by [`shaken_verifier_new`]. Ignored when replay detection is off.
///
/// # Safety
/// `options` from [`shaken_verifier_options_new`]; `path` points to `path_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn shaken_verifier_options_set_replay_dir(
    options: *mut shaken_verifier_options,
    path: *const c_char,
    path_len: usize,
) -> i32 {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_options("shaken_verifier_options_set_replay_dir", options, |o| {
            let dir = text(path, path_len, "path")?;
            if dir.is_empty() || dir.contains('\0') {
                return Err(ApiError::Invalid {
                    arg: "path",
                    detail: "an empty path or one with a NUL byte is not a directory".into(),
                });
            }
            o.replay_dir = Some(std::path::PathBuf::from(dir));
            Ok(())
        })
    }
}

/// Share replay detection, fetched certificate chains, the negative cache
/// and CRLs with the other verifiers of a fleet through Redis or Valkey
/// (`redis://[user:password@]host[:port][/db]`, `rediss://` for TLS).
/// `prefix` (NULL: `shaken:`) starts every key; `timeout_ms` bounds every
/// Redis call (0: 50 ms); `closed` is the failure policy: 0 (open) verifies
/// without cross-node replay detection when Redis does not answer, with a
/// warning, 1 (closed) fails such a call with `replay-unavailable` (SIP 500).
/// [`shaken_verifier_new`] refuses a bad URL or a wrong password; an
/// unreachable Redis is reconnected to in the background. Replaces a
/// replay directory.
///
/// # Safety
/// `options` from [`shaken_verifier_options_new`]; `url` points to `url_len`
/// bytes; `prefix` is NULL or points to `prefix_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn shaken_verifier_options_set_redis(
    options: *mut shaken_verifier_options,
    url: *const c_char,
    url_len: usize,
    prefix: *const c_char,
    prefix_len: usize,
    timeout_ms: u64,
    closed: i32,
) -> i32 {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_options("shaken_verifier_options_set_redis", options, |o| {
            let u = text(url, url_len, "url")?;
            let scheme = u.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
            if !matches!(scheme.as_deref(), Some("redis" | "rediss")) {
                return Err(ApiError::Invalid {
                    arg: "url",
                    detail: "expected a redis:// or rediss:// URL".into(),
                });
            }
            let p = if prefix.is_null() {
                None
            } else {
                Some(text(prefix, prefix_len, "prefix")?.to_owned())
            };
            o.config.redis = Some(u.to_owned());
            if let Some(p) = p {
                o.config.redis_prefix = p;
            }
            if timeout_ms > 0 {
                o.config.redis_timeout_ms = timeout_ms;
            }
            o.config.redis_failure = if closed != 0 {
                shaken_lib::config::RedisFailure::Closed
            } else {
                shaken_lib::config::RedisFailure::Open
            };
            o.replay_dir = None;
            Ok(())
        })
    }
}

/// Lab switch: fetch `http://` x5u URLs too (default 0: https only).
///
/// # Safety
/// `options` from [`shaken_verifier_options_new`].
#[no_mangle]
pub unsafe extern "C" fn shaken_verifier_options_set_allow_http_x5u(
    options: *mut shaken_verifier_options,
    allow: i32,
) -> i32 {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_options("shaken_verifier_options_set_allow_http_x5u", options, |o| {
            o.config.allow_http_x5u = allow != 0;
            Ok(())
        })
    }
}

/// Lab switch: allow x5u hosts on loopback/private addresses (and any
/// port); default 0 (the SSRF guard refuses them).
///
/// # Safety
/// `options` from [`shaken_verifier_options_new`].
#[no_mangle]
pub unsafe extern "C" fn shaken_verifier_options_set_allow_private_x5u(
    options: *mut shaken_verifier_options,
    allow: i32,
) -> i32 {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_options(
            "shaken_verifier_options_set_allow_private_x5u",
            options,
            |o| {
                o.config.allow_private_x5u = allow != 0;
                Ok(())
            },
        )
    }
}

/// Allow public x5u hosts on ports other than 443/80 (default 0).
///
/// # Safety
/// `options` from [`shaken_verifier_options_new`].
#[no_mangle]
pub unsafe extern "C" fn shaken_verifier_options_set_allow_any_port_x5u(
    options: *mut shaken_verifier_options,
    allow: i32,
) -> i32 {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_options(
            "shaken_verifier_options_set_allow_any_port_x5u",
            options,
            |o| {
                o.config.allow_any_port_x5u = allow != 0;
                Ok(())
            },
        )
    }
}

/// Fetch timeouts in milliseconds: TCP/TLS connect, and the whole request
/// (defaults 2000 and 5000). Each must be 1..=60000.
///
/// # Safety
/// `options` from [`shaken_verifier_options_new`].
#[no_mangle]
pub unsafe extern "C" fn shaken_verifier_options_set_timeouts(
    options: *mut shaken_verifier_options,
    connect_ms: u32,
    total_ms: u32,
) -> i32 {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_options("shaken_verifier_options_set_timeouts", options, |o| {
            for (arg, v) in [("connect_ms", connect_ms), ("total_ms", total_ms)] {
                if !(1..=60_000).contains(&v) {
                    return Err(ApiError::Invalid {
                        arg,
                        detail: format!("{v} ms is outside 1..=60000"),
                    });
                }
            }
            o.config.connect_timeout_ms = u64::from(connect_ms);
            o.config.fetch_timeout_ms = u64::from(total_ms);
            Ok(())
        })
    }
}

/// Most x5u, CRL and Rich Call Data fetches in flight at once for this
/// verifier (default 64, like `--max-fetches`; 1..=65536). A fetch that
/// gets no slot within the total timeout fails `fetch-busy` (436), with
/// nothing sent and nothing cached.
///
/// # Safety
/// `options` from [`shaken_verifier_options_new`].
#[no_mangle]
pub unsafe extern "C" fn shaken_verifier_options_set_max_fetches(
    options: *mut shaken_verifier_options,
    max: u32,
) -> i32 {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_options("shaken_verifier_options_set_max_fetches", options, |o| {
            if !(1..=65_536).contains(&max) {
                return Err(ApiError::Invalid {
                    arg: "max",
                    detail: format!("{max} is outside 1..=65536"),
                });
            }
            o.config.max_fetches = max as usize;
            Ok(())
        })
    }
}

/// Freshness window: `iat` may be at most `seconds` in the past or the
/// future (default 60, RFC 8224 §6.2; 1..=86400).
///
/// # Safety
/// `options` from [`shaken_verifier_options_new`].
#[no_mangle]
pub unsafe extern "C" fn shaken_verifier_options_set_max_age(
    options: *mut shaken_verifier_options,
    seconds: u32,
) -> i32 {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_options("shaken_verifier_options_set_max_age", options, |o| {
            if !(1..=86_400).contains(&seconds) {
                return Err(ApiError::Invalid {
                    arg: "seconds",
                    detail: format!("{seconds} is outside 1..=86400"),
                });
            }
            o.config.max_age = seconds;
            Ok(())
        })
    }
}

/// Replay detection (default 1): a PASSporT seen again for another call
/// fails with 438 `replay` (the same Call-ID is a fork, not a replay).
///
/// # Safety
/// `options` from [`shaken_verifier_options_new`].
#[no_mangle]
pub unsafe extern "C" fn shaken_verifier_options_set_replay(
    options: *mut shaken_verifier_options,
    on: i32,
) -> i32 {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_options("shaken_verifier_options_set_replay", options, |o| {
            o.replay = on != 0;
            Ok(())
        })
    }
}

/// Fetch the CRLs named by each fetched chain's distribution points
/// (`--fetch-crl`); `hard` nonzero makes an unreachable CRL fail the call
/// (437) instead of adding a warning. Default off.
///
/// # Safety
/// `options` from [`shaken_verifier_options_new`].
#[no_mangle]
pub unsafe extern "C" fn shaken_verifier_options_set_fetch_crl(
    options: *mut shaken_verifier_options,
    on: i32,
    hard: i32,
) -> i32 {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_options("shaken_verifier_options_set_fetch_crl", options, |o| {
            o.config.fetch_crl = on != 0;
            o.config.crl_policy = if hard != 0 {
                CrlPolicy::Hard
            } else {
                CrlPolicy::Soft
            };
            Ok(())
        })
    }
}

/// Fetch the content Rich Call Data references (the `icn` logo, a `jcl`
/// jCard, the URIs inside a jCard) to check its `rcdi` digests (RFC 9795
/// §8.2), through the x5u fetcher's rules (https only unless allowed, SSRF
/// guard, no redirects, size cap, timeouts), never recursively (`--fetch-rcd`,
/// TOML `fetch-rcd`). Off (the default): such digests are `unverified` and
/// [`crate::shaken_result_rcd_verified`] is 0 for them.
///
/// # Safety
/// `options` from [`shaken_verifier_options_new`].
#[no_mangle]
pub unsafe extern "C" fn shaken_verifier_options_set_fetch_rcd(
    options: *mut shaken_verifier_options,
    on: i32,
) -> i32 {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_options("shaken_verifier_options_set_fetch_rcd", options, |o| {
            o.config.fetch_rcd = on != 0;
            Ok(())
        })
    }
}

/// A verifier: trust anchors, CRLs, the x5u certificate cache, the replay
/// store and a runtime for blocking fetches. Create it once (per process:
/// after `fork`), share it between all threads; free it with
/// [`shaken_verifier_free`] when no call uses it any more.
pub struct shaken_verifier {
    vs: StiVs,
}

const _: () = {
    const fn shared<T: Send + Sync>() {}
    shared::<shaken_verifier>();
    shared::<crate::signer::shaken_signer>();
};

/// Create a verifier from `options` (which the caller still owns and may
/// free afterwards). On error `*out` is NULL.
///
/// # Safety
/// `options` from [`shaken_verifier_options_new`]; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn shaken_verifier_new(
    options: *const shaken_verifier_options,
    out: *mut *mut shaken_verifier,
) -> i32 {
    ffi_call("shaken_verifier_new", || {
        // SAFETY: `out` comes from the caller, who promises it is writable.
        unsafe { check_out(out, "out") }?;
        // SAFETY: a live options pointer from the caller.
        let o = unsafe { options.as_ref() }.ok_or(ApiError::Null { arg: "options" })?;
        let v = Box::new(build(o)?);
        // SAFETY: checked non-NULL and writable above.
        unsafe { out.write(Box::into_raw(v)) };
        Ok(())
    })
}

/// The same assembly as `shaken verify` (src/cli/verify.rs `build_setup`).
fn build(o: &shaken_verifier_options) -> Result<shaken_verifier, ApiError> {
    let mut config = o.config.clone();
    config.replay = ReplayMode::from_settings(o.replay, o.replay_dir.as_deref());
    let vs = StiVs::from_config(&config).map_err(|e| match e {
        ConfigError::ReplayDir(detail) => ApiError::Invalid {
            arg: "replay_dir",
            detail,
        },
        ConfigError::Fetcher(detail) => ApiError::Fetch(detail),
        ConfigError::Redis { detail, .. } => ApiError::Invalid {
            arg: "redis",
            detail,
        },
        other => ApiError::Invalid {
            arg: "options",
            detail: other.to_string(),
        },
    })?;
    Ok(shaken_verifier { vs })
}

/// Free a verifier (NULL is ignored). No call may be using it. Stops its
/// fetch thread (waiting at most 1 s for a fetch in progress).
///
/// # Safety
/// `verifier` must be NULL or from [`shaken_verifier_new`], not yet freed.
#[no_mangle]
pub unsafe extern "C" fn shaken_verifier_free(verifier: *mut shaken_verifier) {
    if verifier.is_null() {
        return;
    }
    let _ = ffi_call("shaken_verifier_free", || {
        // SAFETY: from Box::into_raw in shaken_verifier_new, freed once.
        drop(unsafe { Box::from_raw(verifier) });
        Ok(())
    });
}

fn clock(now: i64) -> i64 {
    if now <= 0 {
        wall_clock()
    } else {
        now
    }
}

/// Verify one `Identity` header value (without the `Identity:` prefix; a
/// bare full-form PASSporT is accepted too) for a call from `orig` to
/// `dest` at `now` (Unix seconds; 0 = the system clock).
///
/// - `orig`: the calling identity (a number or a `sip:`/`tel:` URI, e.g.
///   the P-Asserted-Identity), or NULL/0 to skip that comparison;
/// - `dest`/`dest_count`: the called identities, or NULL/0 to skip;
/// - `call_id`: the SIP Call-ID, or NULL/0: the same PASSporT seen again
///   with the same Call-ID is a forked INVITE, not a replay.
///
/// A verification that ran returns `SHAKEN_OK` whatever its verdict; read
/// it from `*out` and free that with [`crate::shaken_result_free`]. A value
/// that is not UTF-8 is a malformed header (438), not an API error.
///
/// # Safety
/// `verifier` from [`shaken_verifier_new`]; pointer/length pairs readable;
/// `dest` points to `dest_count` elements; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn shaken_verify_identity(
    verifier: *const shaken_verifier,
    identity: *const c_char,
    identity_len: usize,
    orig: *const c_char,
    orig_len: usize,
    dest: *const shaken_str,
    dest_count: usize,
    call_id: *const c_char,
    call_id_len: usize,
    now: i64,
    out: *mut *mut shaken_result,
) -> i32 {
    ffi_call("shaken_verify_identity", || {
        // SAFETY: `out` comes from the caller, who promises it is writable.
        unsafe { check_out(out, "out") }?;
        // SAFETY: a live verifier pointer from the caller.
        let v = unsafe { verifier.as_ref() }.ok_or(ApiError::Null { arg: "verifier" })?;
        // SAFETY: pointer/length pairs and the array from the caller.
        let (value, orig, dest, call_id) = unsafe {
            (
                bytes(identity, identity_len, "identity")?,
                opt_text(orig, orig_len, "orig")?,
                text_list(dest, dest_count, "dest")?,
                opt_text(call_id, call_id_len, "call_id")?,
            )
        };
        if identity.is_null() {
            return Err(ApiError::Null { arg: "identity" });
        }
        let tn = &v.vs.verifier().policy().tn;
        // A party that is neither a number nor a sip:/sips:/tel: URI is an
        // argument error, as a non-number `from.tn` is a request error on
        // the REST service and in batches.
        let party = |arg: &'static str, p: &str| {
            shaken_lib::sti::party(p, tn).map_err(|e| ApiError::Invalid {
                arg,
                detail: format!("{p:?} is neither a telephone number nor a sip:/tel: URI: {e}"),
            })
        };
        let ctx = CallContext {
            now: clock(now),
            orig: orig
                .map(|o| party("orig", o))
                .transpose()?
                .into_iter()
                .collect(),
            dest: dest
                .iter()
                .map(|d| party("dest", d))
                .collect::<Result<_, _>>()?,
            date: None,
            call_id: call_id.map(str::to_owned),
        };
        let value = String::from_utf8_lossy(value);
        let result = v.vs.verify_result_blocking(&value, &ctx);
        let r = Box::new(shaken_result::from_report(verify::into_report(result)));
        // SAFETY: checked non-NULL and writable above.
        unsafe { out.write(Box::into_raw(r)) };
        Ok(())
    })
}

/// Verify a whole SIP request (e.g. an INVITE as received, CRLF or LF):
/// every Identity header is checked (RFC 9410); `orig` comes from
/// P-Asserted-Identity (else From), `dest` from To, the Date header and the
/// Call-ID are used; `now` as in [`shaken_verify_identity`]. A request
/// without Identity gives 428 `No-TN-Validation`.
///
/// Returns `SHAKEN_ERR_SIP` when the bytes are not a SIP request at all.
///
/// # Safety
/// `verifier` from [`shaken_verifier_new`]; `msg` points to `msg_len`
/// bytes; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn shaken_verify_sip(
    verifier: *const shaken_verifier,
    msg: *const c_char,
    msg_len: usize,
    now: i64,
    out: *mut *mut shaken_result,
) -> i32 {
    ffi_call("shaken_verify_sip", || {
        // SAFETY: `out` comes from the caller, who promises it is writable.
        unsafe { check_out(out, "out") }?;
        // SAFETY: a live verifier pointer from the caller.
        let v = unsafe { verifier.as_ref() }.ok_or(ApiError::Null { arg: "verifier" })?;
        if msg.is_null() {
            return Err(ApiError::Null { arg: "msg" });
        }
        // SAFETY: pointer/length pair from the caller.
        let msg = unsafe { bytes(msg, msg_len, "msg") }?;
        let req = SipRequest::parse(msg, v.vs.verifier().limits()).map_err(ApiError::Sip)?;
        let report = v.vs.verify_sip_request_blocking(&req, clock(now));
        let r = Box::new(shaken_result::from_sip(report));
        // SAFETY: checked non-NULL and writable above.
        unsafe { out.write(Box::into_raw(r)) };
        Ok(())
    })
}
