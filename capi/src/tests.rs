//! The C ABI called as C would call it: argument errors, the pinned chain,
//! and the fetching path against a loopback HTTP server started here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::undocumented_unsafe_blocks)]

use super::*;
use std::ffi::CStr;
use std::io::{Read, Write};
use std::ptr::null;
use std::ptr::null_mut;

const NOW: i64 = 1_800_000_000;
const CERTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../certs");

fn file(name: &str) -> Vec<u8> {
    std::fs::read(format!("{CERTS}/{name}")).unwrap()
}

fn s(p: *const c_char) -> Option<String> {
    if p.is_null() {
        None
    } else {
        Some(unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned())
    }
}

fn last_error() -> String {
    s(shaken_last_error()).unwrap()
}

fn signer(x5u: &str) -> *mut shaken_signer {
    let key = file("sp.key.pem");
    let mut out = null_mut();
    let rc = unsafe {
        shaken_signer_new(
            key.as_ptr().cast(),
            key.len(),
            x5u.as_ptr().cast(),
            x5u.len(),
            &mut out,
        )
    };
    assert_eq!(rc, SHAKEN_OK, "{}", last_error());
    out
}

fn sign(signer: *const shaken_signer, orig: &str, dest: &str, iat: i64) -> String {
    let d = [shaken_str {
        ptr: dest.as_ptr().cast(),
        len: dest.len(),
    }];
    let mut buf = vec![0u8; 1024];
    let mut len = 0usize;
    let rc = unsafe {
        shaken_sign(
            signer,
            orig.as_ptr().cast(),
            orig.len(),
            d.as_ptr(),
            1,
            b'A' as c_char,
            null(),
            0,
            iat,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut len,
        )
    };
    assert_eq!(rc, SHAKEN_OK, "{}", last_error());
    buf.truncate(len);
    String::from_utf8(buf).unwrap()
}

/// Options with the lab root; `f` adds the rest.
fn verifier(f: impl FnOnce(*mut shaken_verifier_options)) -> *mut shaken_verifier {
    let o = shaken_verifier_options_new();
    let root = file("root.pem");
    unsafe {
        assert_eq!(
            shaken_verifier_options_add_trust_anchors(o, root.as_ptr().cast(), root.len()),
            SHAKEN_OK
        );
    }
    f(o);
    let mut v = null_mut();
    let rc = unsafe { shaken_verifier_new(o, &mut v) };
    assert_eq!(rc, SHAKEN_OK, "{}", last_error());
    unsafe { shaken_verifier_options_free(o) };
    v
}

fn pinned(o: *mut shaken_verifier_options) {
    let chain = file("sp-chain.pem");
    unsafe {
        assert_eq!(
            shaken_verifier_options_set_cert_chain(o, chain.as_ptr().cast(), chain.len()),
            SHAKEN_OK
        );
    }
}

struct Outcome {
    passed: bool,
    code: i32,
    id: Option<String>,
    detail: Option<String>,
    json: String,
}

fn verify(v: *const shaken_verifier, identity: &str, orig: &str, dest: &str) -> Outcome {
    verify_call(v, identity, orig, dest, None)
}

fn verify_call(
    v: *const shaken_verifier,
    identity: &str,
    orig: &str,
    dest: &str,
    call_id: Option<&str>,
) -> Outcome {
    let (call_ptr, call_len) = call_id.map_or((null(), 0), |c| (c.as_ptr().cast(), c.len()));
    let d = [shaken_str {
        ptr: dest.as_ptr().cast(),
        len: dest.len(),
    }];
    let mut r = null_mut();
    let rc = unsafe {
        shaken_verify_identity(
            v,
            identity.as_ptr().cast(),
            identity.len(),
            orig.as_ptr().cast(),
            orig.len(),
            d.as_ptr(),
            1,
            call_ptr,
            call_len,
            NOW,
            &mut r,
        )
    };
    assert_eq!(rc, SHAKEN_OK, "{}", last_error());
    let out = unsafe {
        Outcome {
            passed: shaken_result_passed(r) == 1,
            code: shaken_result_sip_code(r),
            id: s(shaken_result_reason_id(r)),
            detail: s(shaken_result_reason_detail(r)),
            json: s(shaken_result_json(r)).unwrap(),
        }
    };
    unsafe { shaken_result_free(r) };
    out
}

#[test]
fn pinned_chain_signs_and_verifies() {
    let sg = signer("https://cr.example.net/sp.pem");
    let v = verifier(pinned);
    let id = sign(sg, "+1 (215) 555-0121", "2125550143", NOW);
    let ok = verify(v, &id, "12155550121", "12125550143");
    assert!(ok.passed, "{:?}", ok.detail);
    assert_eq!(ok.code, 0);
    assert!(ok.json.contains("\"verstat\":\"TN-Validation-Passed\""));
    // Replay detection is on by default.
    let again = verify(v, &id, "12155550121", "12125550143");
    assert_eq!((again.code, again.id.as_deref()), (438, Some("replay")));
    unsafe {
        shaken_verifier_free(v);
        shaken_signer_free(sg);
    }
}

/// Issue 16: Rich Call Data signed with `shaken_signer_set_rcd`, read
/// back with the name, verified flag and call reason accessors.
#[test]
fn rich_call_data_through_the_c_abi() {
    let sg = signer("https://cr.example.net/sp.pem");
    let (nam, crn) = ("Acme Bank", "Card fraud alert");
    let rc = unsafe {
        shaken_signer_set_rcd(
            sg,
            nam.as_ptr().cast(),
            nam.len(),
            crn.as_ptr().cast(),
            crn.len(),
        )
    };
    assert_eq!(rc, SHAKEN_OK, "{}", last_error());
    let bad = "A\r\nX: 1";
    let rc = unsafe { shaken_signer_set_rcd(sg, bad.as_ptr().cast(), bad.len(), null(), 0) };
    assert_eq!(rc, SHAKEN_ERR_INVALID_ARGUMENT);
    assert!(
        last_error().contains("control character"),
        "{}",
        last_error()
    );
    let v = verifier(|o| {
        pinned(o);
        assert_eq!(
            unsafe { shaken_verifier_options_set_fetch_rcd(o, 1) },
            SHAKEN_OK
        );
    });
    let id = sign(sg, "+1 (215) 555-0121", "2125550143", NOW);
    let d = [shaken_str {
        ptr: "12125550143".as_ptr().cast(),
        len: 11,
    }];
    let mut r = null_mut();
    let rc = unsafe {
        shaken_verify_identity(
            v,
            id.as_ptr().cast(),
            id.len(),
            "12155550121".as_ptr().cast(),
            11,
            d.as_ptr(),
            1,
            null(),
            0,
            NOW,
            &mut r,
        )
    };
    assert_eq!(rc, SHAKEN_OK, "{}", last_error());
    unsafe {
        assert_eq!(s(shaken_result_rcd_name(r)).as_deref(), Some(nam));
        assert_eq!(shaken_result_rcd_verified(r), 1);
        assert_eq!(s(shaken_result_rcd_call_reason(r)).as_deref(), Some(crn));
        shaken_result_free(r);
        // Without RCD, and for NULL: NULL and 0.
        assert!(shaken_result_rcd_name(null()).is_null());
        assert_eq!(shaken_result_rcd_verified(null()), 0);
        shaken_verifier_free(v);
        shaken_signer_free(sg);
    }
}

#[test]
fn non_utf8_identity_is_a_malformed_header_not_an_api_error() {
    let v = verifier(pinned);
    let o = verify(v, "\u{FFFF}abc", "12155550121", "12125550143");
    assert_eq!(o.code, 438);
    let mut r = null_mut();
    let bad = [0xffu8, 0xfe, b'.', b'x'];
    let rc = unsafe {
        shaken_verify_identity(
            v,
            bad.as_ptr().cast(),
            bad.len(),
            null(),
            0,
            null(),
            0,
            null(),
            0,
            NOW,
            &mut r,
        )
    };
    assert_eq!(rc, SHAKEN_OK);
    assert_eq!(unsafe { shaken_result_sip_code(r) }, 438);
    unsafe {
        shaken_result_free(r);
        shaken_verifier_free(v);
    }
}

#[test]
fn null_pointers_and_bad_lengths_are_errors() {
    let v = verifier(pinned);
    let mut r = null_mut();
    let x = "x";
    unsafe {
        // NULL out, NULL verifier, NULL identity, NULL with a length.
        let rc = shaken_verify_identity(
            v,
            x.as_ptr().cast(),
            1,
            null(),
            0,
            null(),
            0,
            null(),
            0,
            NOW,
            null_mut(),
        );
        assert_eq!(rc, SHAKEN_ERR_NULL);
        assert!(last_error().contains("out is NULL"));
        let rc = shaken_verify_identity(
            null(),
            x.as_ptr().cast(),
            1,
            null(),
            0,
            null(),
            0,
            null(),
            0,
            NOW,
            &mut r,
        );
        assert_eq!(rc, SHAKEN_ERR_NULL);
        assert!(r.is_null());
        let rc = shaken_verify_identity(v, null(), 0, null(), 0, null(), 0, null(), 0, NOW, &mut r);
        assert_eq!(rc, SHAKEN_ERR_NULL);
        let rc = shaken_verify_identity(
            v,
            x.as_ptr().cast(),
            1,
            null(),
            5,
            null(),
            0,
            null(),
            0,
            NOW,
            &mut r,
        );
        assert_eq!(rc, SHAKEN_ERR_NULL);
        assert!(last_error().contains("orig"));
        // A negative int cast to size_t.
        let rc = shaken_verify_identity(
            v,
            x.as_ptr().cast(),
            usize::MAX,
            null(),
            0,
            null(),
            0,
            null(),
            0,
            NOW,
            &mut r,
        );
        assert_eq!(rc, SHAKEN_ERR_INVALID_ARGUMENT);
        assert!(last_error().contains("negative length"));
        let rc = shaken_verify_identity(
            v,
            x.as_ptr().cast(),
            1,
            null(),
            0,
            null(),
            100_000,
            null(),
            0,
            NOW,
            &mut r,
        );
        assert_eq!(rc, SHAKEN_ERR_INVALID_ARGUMENT);
        // Invalid UTF-8 in orig.
        let bad = [0xffu8];
        let rc = shaken_verify_identity(
            v,
            x.as_ptr().cast(),
            1,
            bad.as_ptr().cast(),
            1,
            null(),
            0,
            null(),
            0,
            NOW,
            &mut r,
        );
        assert_eq!(rc, SHAKEN_ERR_INVALID_ARGUMENT);
        assert!(last_error().contains("UTF-8"));
        assert_eq!(
            shaken_verify_sip(v, null(), 0, NOW, &mut r),
            SHAKEN_ERR_NULL
        );
        let junk = b"not sip";
        assert_eq!(
            shaken_verify_sip(v, junk.as_ptr().cast(), junk.len(), NOW, &mut r),
            SHAKEN_ERR_SIP
        );
        assert!(r.is_null());
        // NULL handles are accepted by the free functions and getters.
        shaken_result_free(null_mut());
        shaken_verifier_free(null_mut());
        shaken_signer_free(null_mut());
        shaken_verifier_options_free(null_mut());
        assert!(shaken_result_verstat(null()).is_null());
        assert_eq!(shaken_result_passed(null()), 0);
        assert_eq!(
            shaken_verifier_new(null(), &mut null_mut()),
            SHAKEN_ERR_NULL
        );
        assert_eq!(
            shaken_verifier_options_set_max_age(null_mut(), 60),
            SHAKEN_ERR_NULL
        );
        shaken_verifier_free(v);
    }
}

#[test]
fn option_and_signer_errors_say_what_was_wrong() {
    let o = shaken_verifier_options_new();
    let junk = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    unsafe {
        assert_eq!(
            shaken_verifier_options_set_cert_chain(o, junk.as_ptr().cast(), junk.len()),
            SHAKEN_ERR_CERTIFICATE
        );
        assert!(last_error().starts_with("certificate chain"));
        assert_eq!(
            shaken_verifier_options_add_crl(o, junk.as_ptr().cast(), junk.len()),
            SHAKEN_ERR_CERTIFICATE
        );
        assert_eq!(
            shaken_verifier_options_set_max_age(o, 0),
            SHAKEN_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            shaken_verifier_options_set_timeouts(o, 0, 10),
            SHAKEN_ERR_INVALID_ARGUMENT
        );
        assert!(last_error().contains("connect_ms"));
        assert_eq!(
            shaken_verifier_options_set_max_fetches(o, 0),
            SHAKEN_ERR_INVALID_ARGUMENT
        );
        assert!(
            last_error().contains("outside 1..=65536"),
            "{}",
            last_error()
        );
        assert_eq!(
            shaken_verifier_options_set_max_fetches(o, 70_000),
            SHAKEN_ERR_INVALID_ARGUMENT
        );
        shaken_verifier_options_free(o);

        let key = file("sp.key.pem");
        let mut sg = null_mut();
        let ftp = "ftp://x/y";
        assert_eq!(
            shaken_signer_new(
                key.as_ptr().cast(),
                key.len(),
                ftp.as_ptr().cast(),
                ftp.len(),
                &mut sg
            ),
            SHAKEN_ERR_INVALID_ARGUMENT
        );
        let x5u = "https://cr.example.net/sp.pem";
        assert_eq!(
            shaken_signer_new(
                junk.as_ptr().cast(),
                junk.len(),
                x5u.as_ptr().cast(),
                x5u.len(),
                &mut sg
            ),
            SHAKEN_ERR_KEY
        );
        assert!(sg.is_null());
    }
    let sg = signer("https://cr.example.net/sp.pem");
    let (orig, dest) = ("12155550121", "12125550143");
    let d = [shaken_str {
        ptr: dest.as_ptr().cast(),
        len: dest.len(),
    }];
    let mut len = 0usize;
    let mut small = [0 as c_char; 8];
    unsafe {
        // Too small: the needed length comes back.
        let rc = shaken_sign(
            sg,
            orig.as_ptr().cast(),
            orig.len(),
            d.as_ptr(),
            1,
            b'B' as c_char,
            null(),
            0,
            NOW,
            small.as_mut_ptr(),
            small.len(),
            &mut len,
        );
        assert_eq!(rc, SHAKEN_ERR_BUFFER_TOO_SMALL);
        assert!(len > 300, "{len}");
        // A size query with no buffer.
        let rc = shaken_sign(
            sg,
            orig.as_ptr().cast(),
            orig.len(),
            d.as_ptr(),
            1,
            b'B' as c_char,
            null(),
            0,
            NOW,
            null_mut(),
            0,
            &mut len,
        );
        assert_eq!(rc, SHAKEN_ERR_BUFFER_TOO_SMALL);
        for (attest, origid, dest_count, iat, what) in [
            (b'D', "", 1, NOW, "attest"),
            (b'A', "not-a-uuid", 1, NOW, "origid"),
            (b'A', "", 0, NOW, "dest"),
            (b'A', "", 1, -5, "iat"),
        ] {
            let mut buf = [0 as c_char; 1024];
            let rc = shaken_sign(
                sg,
                orig.as_ptr().cast(),
                orig.len(),
                d.as_ptr(),
                dest_count,
                attest as c_char,
                if origid.is_empty() {
                    null()
                } else {
                    origid.as_ptr().cast()
                },
                origid.len(),
                iat,
                buf.as_mut_ptr(),
                buf.len(),
                &mut len,
            );
            assert_eq!(rc, SHAKEN_ERR_INVALID_ARGUMENT, "{what}");
            assert!(last_error().starts_with(what), "{}", last_error());
        }
        shaken_signer_free(sg);
    }
    assert_eq!(
        s(shaken_version()).as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(shaken_abi_version(), SHAKEN_ABI_VERSION);
    assert!(s(shaken_status_str(12345)).is_some());
}

#[test]
fn panics_become_an_error_code() {
    let rc = error::ffi_call("test", || panic!("boom"));
    assert_eq!(rc, SHAKEN_ERR_PANIC);
    assert!(last_error().contains("boom"));
}

/// A loopback HTTP server that answers every request with `body`; returns
/// its port and how many requests it served.
fn serve(body: Vec<u8>) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut req = [0u8; 4096];
            let _ = stream.read(&mut req);
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/pem-certificate-chain\r\nCache-Control: max-age=3600\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    (port, hits)
}

fn lab_fetching(o: *mut shaken_verifier_options) {
    unsafe {
        assert_eq!(shaken_verifier_options_set_allow_http_x5u(o, 1), SHAKEN_OK);
        assert_eq!(
            shaken_verifier_options_set_allow_private_x5u(o, 1),
            SHAKEN_OK
        );
        assert_eq!(
            shaken_verifier_options_set_timeouts(o, 500, 2000),
            SHAKEN_OK
        );
        assert_eq!(shaken_verifier_options_set_max_fetches(o, 4), SHAKEN_OK);
        assert_eq!(shaken_verifier_options_set_replay(o, 0), SHAKEN_OK);
    }
}

#[test]
fn fetches_x5u_once_blocking_and_from_inside_a_tokio_runtime() {
    let (port, hits) = serve(file("sp-chain.pem"));
    let x5u = format!("http://127.0.0.1:{port}/sp.pem");
    let sg = signer(&x5u);
    let v = verifier(lab_fetching);
    let id = sign(sg, "12155550121", "12125550143", NOW);
    // From a plain thread, twice: the second comes from the cache.
    let first = verify(v, &id, "12155550121", "12125550143");
    assert!(first.passed, "{:?}", first.detail);
    assert!(verify(v, &id, "12155550121", "12125550143").passed);
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    // From inside a tokio runtime (a host that uses one): no panic.
    let (port2, _) = serve(file("sp-chain.pem"));
    let sg2 = signer(&format!("http://127.0.0.1:{port2}/sp.pem"));
    let id2 = sign(sg2, "12155550121", "12125550143", NOW);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let v_addr = v as usize;
    let inside = rt.block_on(async move {
        verify(
            v_addr as *const shaken_verifier,
            &id2,
            "12155550121",
            "12125550143",
        )
    });
    assert!(inside.passed, "{:?}", inside.detail);
    unsafe {
        shaken_verifier_free(v);
        shaken_signer_free(sg);
        shaken_signer_free(sg2);
    }
}

/// Two verifiers (two worker processes) sharing a cache directory: the
/// second reads the certificate from disk, the server sees one request.
#[test]
fn a_shared_cache_dir_saves_the_second_worker_a_fetch() {
    let (port, hits) = serve(file("sp-chain.pem"));
    let x5u = format!("http://127.0.0.1:{port}/sp.pem");
    let dir = std::env::temp_dir().join(format!("shaken-capi-cache-{}-{port}", std::process::id()));
    let dir_s = dir.to_str().unwrap().to_owned();
    let with_dir = |o: *mut shaken_verifier_options| {
        lab_fetching(o);
        let rc =
            unsafe { shaken_verifier_options_set_cache_dir(o, dir_s.as_ptr().cast(), dir_s.len()) };
        assert_eq!(rc, SHAKEN_OK, "{}", last_error());
    };
    let sg = signer(&x5u);
    let id = sign(sg, "12155550121", "12125550143", NOW);
    let first = verifier(with_dir);
    assert!(verify(first, &id, "12155550121", "12125550143").passed);
    let second = verifier(with_dir);
    let r = verify(second, &id, "12155550121", "12125550143");
    assert!(r.passed, "{:?}", r.detail);
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert!(std::fs::read_dir(&dir).unwrap().count() > 0);
    // An empty path is refused with a reason.
    let o = shaken_verifier_options_new();
    assert_eq!(
        unsafe { shaken_verifier_options_set_cache_dir(o, dir_s.as_ptr().cast(), 0) },
        SHAKEN_ERR_INVALID_ARGUMENT
    );
    assert!(last_error().contains("path"), "{}", last_error());
    unsafe {
        shaken_verifier_options_free(o);
        shaken_verifier_free(first);
        shaken_verifier_free(second);
        shaken_signer_free(sg);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two workers (two verifiers) sharing a replay directory: a PASSporT
/// replayed onto another call is caught by the other worker; the same call
/// forked to it passes; an unusable directory is refused at creation.
#[test]
fn a_shared_replay_dir_catches_replays_across_workers() {
    let dir = std::env::temp_dir().join(format!("shaken-capi-replay-{}", std::process::id()));
    let dir_s = dir.to_str().unwrap().to_owned();
    let with_dir = |o: *mut shaken_verifier_options| {
        pinned(o);
        let rc = unsafe {
            shaken_verifier_options_set_replay_dir(o, dir_s.as_ptr().cast(), dir_s.len())
        };
        assert_eq!(rc, SHAKEN_OK, "{}", last_error());
    };
    let (w1, w2) = (verifier(with_dir), verifier(with_dir));
    let sg = signer("https://cr.example.net/sp.pem");
    let id = sign(sg, "12155550121", "12125550143", NOW);
    let call = |v: *const shaken_verifier, call_id: &str| {
        verify_call(v, &id, "12155550121", "12125550143", Some(call_id))
    };
    assert!(call(w1, "call-1@a").passed);
    assert!(call(w2, "call-1@a").passed, "a fork of the same call");
    let replay = call(w2, "call-2@b");
    assert!(!replay.passed);
    assert_eq!(replay.id.as_deref(), Some("replay"), "{:?}", replay.detail);
    unsafe {
        shaken_verifier_free(w1);
        shaken_verifier_free(w2);
        shaken_signer_free(sg);
    }
    // A path that is a file cannot be a replay directory: refused at creation.
    let file = dir.join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let file_s = file.to_str().unwrap().to_owned();
    let o = shaken_verifier_options_new();
    unsafe {
        assert_eq!(
            shaken_verifier_options_set_replay_dir(o, file_s.as_ptr().cast(), file_s.len()),
            SHAKEN_OK
        );
        let mut v: *mut shaken_verifier = std::ptr::null_mut();
        assert_eq!(shaken_verifier_new(o, &mut v), SHAKEN_ERR_INVALID_ARGUMENT);
        assert!(v.is_null());
        assert!(last_error().contains("replay_dir"), "{}", last_error());
        shaken_verifier_options_free(o);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn default_options_refuse_http_and_a_dead_server_is_436() {
    // Defaults: https only.
    let sg = signer("http://127.0.0.1:9/sp.pem");
    let v = verifier(|_| {});
    let id = sign(sg, "12155550121", "12125550143", NOW);
    let o = verify(v, &id, "12155550121", "12125550143");
    assert_eq!(o.code, 436, "{:?}", o.detail);
    unsafe { shaken_verifier_free(v) };
    // Lab switches on, nothing listening: 436 within the timeout.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let sg2 = signer(&format!("http://127.0.0.1:{port}/sp.pem"));
    let v = verifier(lab_fetching);
    let id = sign(sg2, "12155550121", "12125550143", NOW);
    let o = verify(v, &id, "12155550121", "12125550143");
    assert_eq!(o.code, 436, "{:?}", o.detail);
    unsafe {
        shaken_verifier_free(v);
        shaken_signer_free(sg);
        shaken_signer_free(sg2);
    }
}

#[test]
fn sip_request_without_identity_is_428() {
    let v = verifier(pinned);
    let msg = b"INVITE sip:+12125550143@example.net SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <tel:+12155550121>;tag=1\r\nTo: <tel:+12125550143>\r\nCall-ID: 1@x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    let mut r = null_mut();
    unsafe {
        assert_eq!(
            shaken_verify_sip(v, msg.as_ptr().cast(), msg.len(), NOW, &mut r),
            SHAKEN_OK
        );
        assert_eq!(shaken_result_sip_code(r), 428);
        assert_eq!(
            s(shaken_result_reason_header(r)).as_deref(),
            Some("Reason: SIP ;cause=428 ;text=\"Use Identity Header\"")
        );
        assert!(s(shaken_result_json(r))
            .unwrap()
            .contains("\"passports\":[]"));
        shaken_result_free(r);
        shaken_verifier_free(v);
    }
}

fn sign_div(
    signer: *const shaken_signer,
    incoming: &str,
    dest: &str,
    hi: Option<&str>,
) -> (i32, String) {
    let (hp, hl) = hi.map_or((null(), 0), |h| (h.as_ptr().cast(), h.len()));
    let mut buf = vec![0u8; 2048];
    let mut len = 0usize;
    let rc = unsafe {
        shaken_sign_div(
            signer,
            incoming.as_ptr().cast(),
            incoming.len(),
            dest.as_ptr().cast(),
            dest.len(),
            hp,
            hl,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut len,
        )
    };
    buf.truncate(len);
    (rc, String::from_utf8(buf).unwrap())
}

/// A diverted call (RFC 8946) through the C ABI: `shaken_sign_div`, then
/// `shaken_verify_sip` of the retargeted INVITE and the chain accessors.
#[test]
fn sign_div_and_the_chain_accessors() {
    let x5u = "https://cr.example.net/sp.pem";
    let sg = signer(x5u);
    let v = verifier(pinned);
    let shaken = sign(sg, "12155550121", "12125550143", NOW);
    let (rc, div) = sign_div(sg, &shaken, "+12125550199", Some("1.2"));
    assert_eq!(rc, SHAKEN_OK, "{}", last_error());
    assert!(div.ends_with(";ppt=div"), "{div}");
    // A new target already in dest, a bad index, not a PASSporT.
    for (incoming, dest, hi, arg) in [
        (shaken.as_str(), "12125550143", None, "dest"),
        (shaken.as_str(), "12125550199", Some("a;b"), "hi"),
        ("junk", "12125550199", None, "incoming"),
    ] {
        let (rc, _) = sign_div(sg, incoming, dest, hi);
        assert_eq!(rc, SHAKEN_ERR_INVALID_ARGUMENT);
        assert!(last_error().starts_with(arg), "{}", last_error());
    }
    let (rc, _) = sign_div(null(), &shaken, "12125550199", None);
    assert_eq!(rc, SHAKEN_ERR_NULL);
    let msg = |ruri: &str| {
        format!(
            "INVITE sip:{ruri}@example.net SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <tel:+12155550121>;tag=1\r\nTo: <tel:+12125550143>\r\nCall-ID: 1@x\r\nCSeq: 1 INVITE\r\nIdentity: {div}\r\nIdentity: {shaken}\r\nContent-Length: 0\r\n\r\n"
        )
    };
    let run = |m: String| {
        let mut r = null_mut();
        let rc = unsafe { shaken_verify_sip(v, m.as_ptr().cast(), m.len(), NOW, &mut r) };
        assert_eq!(rc, SHAKEN_OK, "{}", last_error());
        r
    };
    unsafe {
        let r = run(msg("+12125550199"));
        assert_eq!(shaken_result_passed(r), 1, "{:?}", s(shaken_result_json(r)));
        assert_eq!(s(shaken_result_div_verdict(r)).as_deref(), Some("valid"));
        assert_eq!(shaken_result_div_reason_id(r), null());
        assert_eq!(shaken_result_div_hop_count(r), 1);
        assert_eq!(
            s(shaken_result_div_hop_from(r, 0)).as_deref(),
            Some("12125550143")
        );
        assert_eq!(
            s(shaken_result_div_hop_to(r, 0)).as_deref(),
            Some("12125550199")
        );
        assert_eq!(s(shaken_result_div_hop_spc(r, 0)).as_deref(), Some("1234"));
        assert_eq!(s(shaken_result_div_hop_hi(r, 0)).as_deref(), Some("1.2"));
        assert_eq!(shaken_result_div_hop_reason_id(r, 0), null());
        assert_eq!(shaken_result_div_hop_from(r, 1), null());
        assert!(s(shaken_result_json(r)).unwrap().contains("\"diversion\""));
        shaken_result_free(r);
        // Retargeted elsewhere: the chain does not end at the Request-URI.
        let r = run(msg("+12125550188"));
        assert_eq!(shaken_result_passed(r), 0);
        assert_eq!(
            s(shaken_result_reason_id(r)).as_deref(),
            Some("dest-mismatch")
        );
        assert_eq!(s(shaken_result_div_verdict(r)).as_deref(), Some("invalid"));
        assert_eq!(
            s(shaken_result_div_reason_id(r)).as_deref(),
            Some("div-target-mismatch")
        );
        assert!(s(shaken_result_div_reason_detail(r)).is_some());
        assert_eq!(
            s(shaken_result_div_hop_reason_id(r, 0)).as_deref(),
            Some("div-target-mismatch")
        );
        shaken_result_free(r);
        // No div: no chain; NULL results are safe.
        assert_eq!(shaken_result_div_verdict(null()), null());
        assert_eq!(shaken_result_div_hop_count(null()), 0);
        shaken_verifier_free(v);
        shaken_signer_free(sg);
    }
}

/// Two verifiers (two hosts) sharing a redis-server started here on a free
/// loopback port: a PASSporT replayed onto another call is caught by the
/// other one; the same call forked to it passes. Skipped loudly without
/// redis-server unless SHAKEN_REQUIRE_REDIS is set.
#[test]
fn a_shared_redis_catches_replays_across_hosts() {
    // A URL that is not redis:// is refused by the setter.
    let o = shaken_verifier_options_new();
    let bad = "http://127.0.0.1:6379";
    unsafe {
        let rc = shaken_verifier_options_set_redis(
            o,
            bad.as_ptr().cast(),
            bad.len(),
            std::ptr::null(),
            0,
            0,
            0,
        );
        assert_eq!(rc, SHAKEN_ERR_INVALID_ARGUMENT);
        shaken_verifier_options_free(o);
    }
    let installed = std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok();
    if !installed {
        assert!(
            std::env::var_os("SHAKEN_REQUIRE_REDIS").is_none(),
            "redis-server is not installed"
        );
        eprintln!(
            "\n!!!!! SKIPPED: redis-server is not installed; the C fleet test did not run !!!!!\n"
        );
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = std::process::Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "redis-server did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let url = format!("redis://127.0.0.1:{port}");
    let prefix = "capi-test:";
    let with_redis = |o: *mut shaken_verifier_options| {
        pinned(o);
        let rc = unsafe {
            shaken_verifier_options_set_redis(
                o,
                url.as_ptr().cast(),
                url.len(),
                prefix.as_ptr().cast(),
                prefix.len(),
                50,
                1,
            )
        };
        assert_eq!(rc, SHAKEN_OK, "{}", last_error());
    };
    let (h1, h2) = (verifier(with_redis), verifier(with_redis));
    let sg = signer("https://cr.example.net/sp.pem");
    let id = sign(sg, "12155550121", "12125550143", NOW);
    let call = |v: *const shaken_verifier, call_id: &str| {
        verify_call(v, &id, "12155550121", "12125550143", Some(call_id))
    };
    assert!(call(h1, "call-1@a").passed);
    assert!(call(h2, "call-1@a").passed, "a fork of the same call");
    let replay = call(h2, "call-2@b");
    assert!(!replay.passed);
    assert_eq!(replay.id.as_deref(), Some("replay"), "{:?}", replay.detail);
    // Redis gone, policy closed: the call does not pass.
    let _ = server.kill();
    let _ = server.wait();
    let id2 = sign(sg, "12155550121", "12125550143", NOW - 1);
    let r = verify_call(h1, &id2, "12155550121", "12125550143", Some("call-3@c"));
    assert!(!r.passed);
    assert_eq!(
        r.id.as_deref(),
        Some("replay-unavailable"),
        "{:?}",
        r.detail
    );
    unsafe {
        shaken_verifier_free(h1);
        shaken_verifier_free(h2);
        shaken_signer_free(sg);
    }
}

/// Issue 16: the separate `ppt=rcd` PASSporT from C
/// (`shaken_signer_set_rcd_separate`, `shaken_sign_rcd`): two values, the
/// SHAKEN one without the name and the second carrying it; the refusals.
#[test]
fn rich_call_data_in_a_separate_passport_through_the_c_abi() {
    let sg = signer("https://cr.example.net/sp.pem");
    // No RCD yet: nothing to carry separately.
    assert_eq!(
        unsafe { shaken_signer_set_rcd_separate(sg, 1) },
        SHAKEN_ERR_INVALID_ARGUMENT
    );
    assert!(
        last_error().contains("shaken_signer_set_rcd"),
        "{}",
        last_error()
    );
    let nam = "Acme Bank";
    assert_eq!(
        unsafe { shaken_signer_set_rcd(sg, nam.as_ptr().cast(), nam.len(), null(), 0) },
        SHAKEN_OK
    );
    assert_eq!(unsafe { shaken_signer_set_rcd_separate(sg, 1) }, SHAKEN_OK);
    let d = [shaken_str {
        ptr: "2125550143".as_ptr().cast(),
        len: 10,
    }];
    let sign2 = |cap: usize, rcd_cap: usize| {
        let mut buf = vec![0u8; cap];
        let mut rbuf = vec![0u8; rcd_cap];
        let (mut len, mut rlen) = (0usize, 0usize);
        let rc = unsafe {
            shaken_sign_rcd(
                sg,
                "2155550121".as_ptr().cast(),
                10,
                d.as_ptr(),
                1,
                b'A' as c_char,
                null(),
                0,
                NOW,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut len,
                rbuf.as_mut_ptr().cast(),
                rbuf.len(),
                &mut rlen,
            )
        };
        buf.truncate(len);
        rbuf.truncate(rlen);
        (
            rc,
            String::from_utf8(buf).unwrap(),
            String::from_utf8(rbuf).unwrap(),
            len,
            rlen,
        )
    };
    // A second buffer too small: both lengths said.
    let (rc, _, _, len, rlen) = sign2(2048, 4);
    assert_eq!(rc, SHAKEN_ERR_BUFFER_TOO_SMALL);
    assert!(len > 0 && rlen > 4, "{len} {rlen}");
    let (rc, shaken, rcd, _, _) = sign2(2048, 2048);
    assert_eq!(rc, SHAKEN_OK, "{}", last_error());
    assert!(shaken.ends_with("ppt=shaken"), "{shaken}");
    assert!(rcd.ends_with("ppt=rcd"), "{rcd}");
    let v = verifier(pinned);
    let name_of = |value: &str| {
        let dd = [shaken_str {
            ptr: "12125550143".as_ptr().cast(),
            len: 11,
        }];
        let mut r = null_mut();
        let rc = unsafe {
            shaken_verify_identity(
                v,
                value.as_ptr().cast(),
                value.len(),
                "12155550121".as_ptr().cast(),
                11,
                dd.as_ptr(),
                1,
                null(),
                0,
                NOW,
                &mut r,
            )
        };
        assert_eq!(rc, SHAKEN_OK, "{}", last_error());
        let name = unsafe { s(shaken_result_rcd_name(r)) };
        unsafe { shaken_result_free(r) };
        name
    };
    assert_eq!(
        name_of(&shaken),
        None,
        "the SHAKEN PASSporT carries no name"
    );
    assert_eq!(name_of(&rcd).as_deref(), Some(nam));
    // Back inline: shaken_sign_rcd writes an empty second value.
    assert_eq!(unsafe { shaken_signer_set_rcd_separate(sg, 0) }, SHAKEN_OK);
    let (rc, shaken, rcd, _, rlen) = sign2(2048, 8);
    assert_eq!(rc, SHAKEN_OK, "{}", last_error());
    assert_eq!((rcd.as_str(), rlen), ("", 0));
    assert_eq!(name_of(&shaken).as_deref(), Some(nam));
    unsafe {
        shaken_verifier_free(v);
        shaken_signer_free(sg);
    }
}
