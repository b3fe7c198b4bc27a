//! The four-surface table (tests/data/surfaces/table.json) through the C
//! ABI: the same rows `tests/surfaces.rs` runs through the CLI, `--batch`
//! and the REST service, with the same expected outcomes. Rows marked
//! `expect_calls` are those where a C caller leaves a number out.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::undocumented_unsafe_blocks)]

use super::*;
use serde_json::{json, Value};
use shaken_lib::crypto::DeterministicSigner;
use shaken_lib::identity::IdentityHeader;
use shaken_lib::passport::{self, Attestation, Claims, Header};
use std::ffi::CStr;
use std::ptr::{null, null_mut};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(format!("{ROOT}/{rel}")).unwrap()
}

fn table() -> Value {
    serde_json::from_slice(&read("tests/data/surfaces/table.json")).unwrap()
}

fn last_error() -> String {
    unsafe { CStr::from_ptr(shaken_last_error()) }
        .to_string_lossy()
        .into_owned()
}

fn strs(v: &[String]) -> Vec<shaken_str> {
    v.iter()
        .map(|s| shaken_str {
            ptr: s.as_ptr().cast(),
            len: s.len(),
        })
        .collect()
}

/// The same signing as tests/surfaces.rs (RFC 6979, the lab key).
fn identity(t: &Value, row: usize, case: &Value) -> String {
    if let Some(v) = case["identity"].as_str() {
        return v.to_owned();
    }
    let x5u = t["x5u"].as_str().unwrap();
    let key = String::from_utf8(read("certs/sp.key.pem")).unwrap();
    let signer = DeterministicSigner::from_pem(&key).unwrap();
    let c = &case["claims"];
    let now = t["now"].as_i64().unwrap();
    let claims = |origid: String| {
        Claims::shaken(
            c["attest"]
                .as_str()
                .unwrap()
                .parse::<Attestation>()
                .unwrap(),
            c["orig"].as_str().unwrap(),
            c["dest"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_str().unwrap().to_owned())
                .collect(),
            now + c["iat_offset"].as_i64().unwrap_or(0),
            origid,
        )
    };
    // Extension claims (Rich Call Data rows, issue 16).
    let claims = |origid: String| {
        let mut cl = claims(origid);
        if let Some(Value::Object(m)) = c.get("extra") {
            cl.extra.extend(m.clone());
        }
        cl
    };
    let header = Header::shaken(x5u);
    let mut token = passport::sign(
        &header,
        &claims(format!("de305d54-75b4-431b-adb2-{row:012x}")),
        &signer,
    )
    .unwrap();
    if case["tamper"] == "signature" {
        let other = passport::sign(
            &header,
            &claims(format!("de305d54-75b4-431b-adb2-{:012x}", row + 1000)),
            &signer,
        )
        .unwrap();
        let (body, _) = token.rsplit_once('.').unwrap();
        let (_, sig) = other.rsplit_once('.').unwrap();
        token = format!("{body}.{sig}");
    }
    let value = IdentityHeader::shaken(token, x5u).to_string();
    format!("{}{value}", case["identity_prefix"].as_str().unwrap_or(""))
}

fn expected(case: &Value) -> &Value {
    if case["expect_calls"].is_object() {
        &case["expect_calls"]
    } else {
        &case["expect"]
    }
}

fn check(case: &Value, want: &Value, got: &Value) {
    for (k, v) in want.as_object().unwrap() {
        assert_eq!(
            &got[k], v,
            "C ABI, row {:?}: {k} differs\n  want {want}\n  got  {got}",
            case["name"]
        );
    }
}

/// An argument error in the table's terms: which request member it is.
fn request_error(rc: i32, calling: &str, called: &str) -> Value {
    assert_eq!(rc, SHAKEN_ERR_INVALID_ARGUMENT, "{}", last_error());
    let e = last_error();
    let member = if e.starts_with("orig:") {
        calling
    } else if e.starts_with("dest:") {
        called
    } else if e.starts_with("origid:") {
        "origid"
    } else if e.starts_with("attest:") {
        "attest"
    } else {
        panic!("an argument error naming no request member: {e}")
    };
    json!({"request_error": member})
}

#[test]
fn verification_the_same_through_the_c_abi() {
    let t = table();
    let now = t["now"].as_i64().unwrap();
    let o = shaken_verifier_options_new();
    let (anchors, chain) = (read("certs/anchors.pem"), read("certs/sp-chain.pem"));
    unsafe {
        assert_eq!(
            shaken_verifier_options_add_trust_anchors(o, anchors.as_ptr().cast(), anchors.len()),
            SHAKEN_OK
        );
        assert_eq!(
            shaken_verifier_options_set_cert_chain(o, chain.as_ptr().cast(), chain.len()),
            SHAKEN_OK
        );
        assert_eq!(shaken_verifier_options_set_replay(o, 0), SHAKEN_OK);
    }
    let mut v = null_mut();
    assert_eq!(
        unsafe { shaken_verifier_new(o, &mut v) },
        SHAKEN_OK,
        "{}",
        last_error()
    );
    unsafe { shaken_verifier_options_free(o) };
    for (row, case) in t["verify"].as_array().unwrap().iter().enumerate() {
        let id = identity(&t, row, case);
        let from = case["from"].as_str().unwrap();
        let to: Vec<String> = match &case["to"] {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_owned()).collect(),
            other => panic!("{other}"),
        };
        let dest = strs(&to);
        let mut r = null_mut();
        let rc = unsafe {
            shaken_verify_identity(
                v,
                id.as_ptr().cast(),
                id.len(),
                from.as_ptr().cast(),
                from.len(),
                dest.as_ptr(),
                dest.len(),
                null(),
                0,
                now,
                &mut r,
            )
        };
        let got = if rc == SHAKEN_OK {
            let j: Value = serde_json::from_str(
                &unsafe { CStr::from_ptr(shaken_result_json(r)) }.to_string_lossy(),
            )
            .unwrap();
            // Rich Call Data through the accessors, not the JSON.
            let rcd = unsafe {
                let name = shaken_result_rcd_name(r);
                (!name.is_null()).then(|| {
                    let text = |p: *const std::os::raw::c_char| {
                        (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned())
                    };
                    json!({"nam": text(name), "crn": text(shaken_result_rcd_call_reason(r)),
                           "verified": shaken_result_rcd_verified(r) == 1})
                })
            };
            unsafe { shaken_result_free(r) };
            let mut o = json!({"verstat": j["verstat"]});
            if let Some(id) = j["reason"]["id"].as_str() {
                o["reason"] = id.into();
            }
            if j["verstat"] == "TN-Validation-Passed" {
                o["attest"] = j["attest"].clone();
            }
            // The ids that start the warnings (`dest-not-compared: ...`).
            o["warnings"] = j["warnings"]
                .as_array()
                .map(|w| {
                    w.iter()
                        .filter_map(|x| x.as_str()?.split_once(':'))
                        .map(|(id, _)| id)
                        .filter(|id| id.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
                        .map(Value::from)
                        .collect()
                })
                .unwrap_or_default();
            if let Some(rcd) = rcd {
                o["rcd"] = rcd;
            }
            o
        } else {
            request_error(rc, "from.tn", "to.tn")
        };
        check(case, expected(case), &got);
    }
    unsafe { shaken_verifier_free(v) };
}

#[test]
fn signing_the_same_through_the_c_abi() {
    let t = table();
    let now = t["now"].as_i64().unwrap();
    let key = read("certs/sp.key.pem");
    let x5u = t["x5u"].as_str().unwrap();
    let mut s = null_mut();
    let rc = unsafe {
        shaken_signer_new(
            key.as_ptr().cast(),
            key.len(),
            x5u.as_ptr().cast(),
            x5u.len(),
            &mut s,
        )
    };
    assert_eq!(rc, SHAKEN_OK, "{}", last_error());
    for case in t["sign"].as_array().unwrap() {
        let orig = case["orig"].as_str().unwrap();
        let dest: Vec<String> = case["dest"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap().to_owned())
            .collect();
        let d = strs(&dest);
        let attest = case["attest"].as_str().unwrap().as_bytes()[0];
        let origid = case["origid"].as_str();
        let (op, ol) = origid.map_or((null(), 0), |o| (o.as_ptr().cast(), o.len()));
        let mut buf = vec![0u8; 2048];
        let mut len = 0usize;
        let rc = unsafe {
            shaken_sign(
                s,
                orig.as_ptr().cast(),
                orig.len(),
                d.as_ptr(),
                d.len(),
                attest as c_char,
                op,
                ol,
                now,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut len,
            )
        };
        let want = &case["expect"];
        if rc != SHAKEN_OK {
            check(case, want, &request_error(rc, "orig.tn", "dest.tn"));
            continue;
        }
        buf.truncate(len);
        let identity = String::from_utf8(buf).unwrap();
        let payload = identity.split(['.', ';']).nth(1).unwrap();
        let c: Value = serde_json::from_slice(&shaken_lib::b64::decode(payload).unwrap()).unwrap();
        let got = json!({"attest": c["attest"], "orig": c["orig"]["tn"],
                         "dest": c["dest"]["tn"], "origid": c["origid"]});
        if want["origid"] == "random" {
            let o = got["origid"].as_str().unwrap();
            let u = uuid::Uuid::parse_str(o).unwrap();
            assert_eq!(
                (u.hyphenated().to_string().as_str(), u.get_version_num()),
                (o, 4)
            );
            let mut w = want.clone();
            w.as_object_mut().unwrap().remove("origid");
            check(case, &w, &got);
        } else {
            check(case, want, &got);
        }
    }
    unsafe { shaken_signer_free(s) };
}
