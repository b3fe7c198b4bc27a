//! Interoperability with `secsipidx` (Debian package `secsipidx`, the Go
//! STIR/SHAKEN implementation behind Kamailio's `secsipid` module).
//!
//! Both tools use the certificates made by the openssl CLI in
//! tests/data/cert/openssl (see make.sh there): `good.key.pem` signs,
//! `good-chain.pem` (leaf + STI-CA) carries the key and `root.pem` is the
//! trust anchor. Nothing leaves the machine: `--cert` / `-p` name the chain
//! file, no x5u is fetched.
//!
//! These tests need the `secsipidx` binary, so they are `#[ignore]`d and run
//! by `.ci/interop.sh` (which installs it with apt-get):
//!
//! ```sh
//! cargo test --locked --test interop -- --ignored
//! ```
//!
//! Run with `--ignored` and without `secsipidx` on PATH they FAIL and say how
//! to install it, unless SHAKEN_SKIP_INTEROP=1 is set.
//!
//! Clock: secsipidx checks `iat` against the wall clock (`now <= iat +
//! expire`), so tokens that secsipidx verifies are signed with the current
//! time, and secsipidx runs with `-expire 60`. When shaken verifies, `--now`
//! is pinned to the token's own `iat`. The probe table behind docs/interop.md
//! is printed by `behaviour_probes` (run it with `--nocapture`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};
use support::{bin, test_data};

const X5U: &str = "https://cr.example.net/good.pem";
const ORIG: &str = "12155550121";
const DEST: &str = "12125550143";
const ORIGID: &str = "123e4567-e89b-12d3-a456-426614174000";
const HEADER_JSON: &str =
    r#"{"alg":"ES256","ppt":"shaken","typ":"passport","x5u":"https://cr.example.net/good.pem"}"#;

fn data(file: &str) -> String {
    test_data("cert/openssl")
        .join(file)
        .to_string_lossy()
        .into_owned()
}

fn params() -> String {
    format!(";info=<{X5U}>;alg=ES256;ppt=shaken")
}

/// `true` when the tests may run; `false` (skip) only with
/// SHAKEN_SKIP_INTEROP=1; panics with install instructions otherwise.
fn secsipidx_available() -> bool {
    if Command::new("secsipidx").arg("-version").output().is_ok() {
        return true;
    }
    if std::env::var("SHAKEN_SKIP_INTEROP").as_deref() == Ok("1") {
        eprintln!("secsipidx not found; interop test skipped (SHAKEN_SKIP_INTEROP=1)");
        return false;
    }
    panic!(
        "the interop tests need the `secsipidx` binary on PATH and it was not found.\n\
         Install it with `sudo apt-get install -y secsipidx` (Debian bookworm or later, \
         Ubuntu 22.04+), or run .ci/interop.sh which does that for you.\n\
         Set SHAKEN_SKIP_INTEROP=1 to skip these tests instead."
    );
}

fn wall_clock() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

// ---------------------------------------------------------------- secsipidx

/// `secsipidx -S`: a full Identity header, `iat` = the wall clock.
fn sx_sign_full(attest: &str) -> String {
    let out = Command::new("secsipidx")
        .args(["-S", "-k", &data("good.key.pem"), "-x5u", X5U])
        .args(["-o", ORIG, "-d", DEST, "-a", attest, "-orig-id", ORIGID])
        .output()
        .unwrap();
    assert!(out.status.success(), "secsipidx -S failed: {out:?}");
    let header = stdout(&out);
    assert!(header.ends_with(";info=<https://cr.example.net/good.pem>;alg=ES256;ppt=shaken"));
    header
}

/// `secsipidx -s -header H -payload P`: signs the JSON text as given (no
/// re-serialisation), so probes can carry anything. Returns the bare token.
fn sx_sign_raw(header_json: &str, payload_json: &str) -> String {
    let out = Command::new("secsipidx")
        .args(["-s", "-k", &data("good.key.pem")])
        .args(["-header", header_json, "-payload", payload_json])
        .output()
        .unwrap();
    assert!(out.status.success(), "secsipidx -s failed: {out:?}");
    let token = stdout(&out);
    assert_eq!(token.split('.').count(), 3, "secsipidx -s output: {token}");
    token
}

/// How secsipidx is asked to check the certificate.
#[derive(Clone, Copy)]
enum SxCert {
    /// `-cert-verify 0` (its default): the key from the file, nothing else.
    KeyOnly,
    /// `-cert-verify 5`: validity period + chain to `-ca-file root.pem`.
    Chain,
    /// `-cert-verify 21`: as Chain, plus the serial looked up in crl.pem.
    ChainCrl,
}

/// `secsipidx -c`: (passed, what it printed).
fn sx_check(identity: &str, chain: &str, mode: SxCert) -> (bool, String) {
    let mut cmd = Command::new("secsipidx");
    cmd.args([
        "-c",
        "-identity",
        identity,
        "-p",
        &data(chain),
        "-expire",
        "60",
    ]);
    match mode {
        SxCert::KeyOnly => {}
        SxCert::Chain => {
            cmd.args(["-cert-verify", "5", "-ca-file", &data("root.pem")]);
        }
        SxCert::ChainCrl => {
            cmd.args(["-cert-verify", "21", "-ca-file", &data("root.pem")]);
            cmd.args(["-crl-file", &data("crl.pem")]);
        }
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{} {}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr).trim()
    )
    .trim()
    .replace('\n', " ");
    let passed = out.status.success() && stdout(&out).lines().any(|l| l.trim() == "ok");
    (passed, text)
}

// ---------------------------------------------------------------- shaken

fn shaken_sign(key: &str, attest: &str, iat: u64) -> String {
    let out = bin()
        .args(["sign", "--key", &data(key), "--x5u", X5U])
        .args(["--orig", ORIG, "--dest", DEST, "--attest", attest])
        .args(["--origid", ORIGID, "--iat", &iat.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "shaken sign failed: {out:?}");
    stdout(&out)
}

/// `shaken verify --format json` with the openssl chain and root, `--now`
/// pinned: (exit code, report).
fn shaken_verify(identity: &str, chain: &str, now: u64, extra: &[&str]) -> (i32, Value) {
    let out = bin()
        .args(["verify", identity, "--format", "json"])
        .args(["--cert", &data(chain), "--trust-anchors", &data("root.pem")])
        .args(["--now", &now.to_string(), "--orig", ORIG, "--dest", DEST])
        .args(extra)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("shaken verify printed no JSON ({e}): {out:?}");
    });
    (out.status.code().unwrap_or(-1), report)
}

fn reason_id(report: &Value) -> String {
    report["reason"]["id"].as_str().unwrap_or("").to_string()
}

fn verstat(report: &Value) -> &str {
    report["verstat"].as_str().unwrap_or("")
}

// ---------------------------------------------------------------- token surgery

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).unwrap()
}

/// Splits `token;params` into (header, payload, signature, ";params").
fn split(identity: &str) -> (String, String, String, String) {
    let (token, rest) = match identity.find(';') {
        Some(i) => (&identity[..i], &identity[i..]),
        None => (identity, ""),
    };
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "not a full-form token: {token}");
    (
        parts[0].to_string(),
        parts[1].to_string(),
        parts[2].to_string(),
        rest.to_string(),
    )
}

fn payload_of(identity: &str) -> Value {
    serde_json::from_slice(&unb64(&split(identity).1)).unwrap()
}

fn iat_of(identity: &str) -> u64 {
    payload_of(identity)["iat"].as_u64().unwrap()
}

/// Replaces the claims, keeps the header and the signature.
fn with_claims(identity: &str, claims: &Value) -> String {
    let (h, _, s, rest) = split(identity);
    format!(
        "{h}.{}.{s}{rest}",
        b64(serde_json::to_string(claims).unwrap().as_bytes())
    )
}

/// Flips one bit in the middle of the signature.
fn with_flipped_signature(identity: &str) -> String {
    let (h, p, s, rest) = split(identity);
    let mut sig = unb64(&s);
    assert_eq!(sig.len(), 64);
    sig[20] ^= 0x01;
    format!("{h}.{p}.{}{rest}", b64(&sig))
}

/// The P-256 group order n, big-endian.
const P256_N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// (r, s) → (r, n − s): the other valid ECDSA signature of the same input.
fn with_malleated_signature(identity: &str) -> String {
    let (h, p, s, rest) = split(identity);
    let sig = unb64(&s);
    let mut out = sig[..32].to_vec();
    let mut neg = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(P256_N[i]) - i16::from(sig[32 + i]) - borrow;
        borrow = if d < 0 {
            d += 256;
            1
        } else {
            0
        };
        neg[i] = d as u8;
    }
    out.extend_from_slice(&neg);
    format!("{h}.{p}.{}{rest}", b64(&out))
}

// ---------------------------------------------------------------- (a) shaken → secsipidx

#[test]
#[ignore = "needs the secsipidx binary: run .ci/interop.sh"]
fn shaken_signs_secsipidx_verifies() {
    if !secsipidx_available() {
        return;
    }
    for attest in ["A", "B", "C"] {
        let identity = shaken_sign("good.key.pem", attest, wall_clock());
        for (chain, mode) in [
            ("good.pem", SxCert::KeyOnly),
            ("good-chain.pem", SxCert::KeyOnly),
            ("good-chain.pem", SxCert::Chain),
            ("good-chain.pem", SxCert::ChainCrl),
        ] {
            let (ok, text) = sx_check(&identity, chain, mode);
            assert!(
                ok,
                "secsipidx refused shaken's {attest} header ({chain}): {text}\n{identity}"
            );
        }
        // And shaken agrees with itself on the same header.
        let (code, report) = shaken_verify(&identity, "good-chain.pem", iat_of(&identity), &[]);
        assert_eq!(code, 0, "{report}");
    }
    // Deterministic (RFC 6979) signatures are ordinary ES256 signatures too.
    let out = bin()
        .args(["sign", "--key", &data("good.key.pem"), "--x5u", X5U])
        .args([
            "--orig",
            ORIG,
            "--dest",
            DEST,
            "--attest",
            "A",
            "--deterministic",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let (ok, text) = sx_check(&stdout(&out), "good-chain.pem", SxCert::Chain);
    assert!(ok, "{text}");
}

// ---------------------------------------------------------------- (b) secsipidx → shaken

#[test]
#[ignore = "needs the secsipidx binary: run .ci/interop.sh"]
fn secsipidx_signs_shaken_verifies() {
    if !secsipidx_available() {
        return;
    }
    for attest in ["A", "B", "C"] {
        let identity = sx_sign_full(attest);
        let iat = iat_of(&identity);
        let (code, report) = shaken_verify(&identity, "good-chain.pem", iat, &[]);
        assert_eq!(
            code, 0,
            "shaken refused secsipidx's header: {report}\n{identity}"
        );
        assert_eq!(verstat(&report), "TN-Validation-Passed");
        assert_eq!(report["attest"], attest);
        assert_eq!(report["orig"], ORIG);
        assert_eq!(report["dest"][0], DEST);
        assert_eq!(report["origid"], ORIGID);
        assert_eq!(report["x5u"], X5U);
        assert_eq!(report["signer"]["spc"], "7E57");
        assert_eq!(report["signer"]["trusted"], true);
        // The same header passes secsipidx itself (the round trip is closed).
        let (ok, text) = sx_check(&identity, "good-chain.pem", SxCert::Chain);
        assert!(ok, "{text}");
        // shaken's freshness window applies to secsipidx tokens as to its own.
        let (code, report) = shaken_verify(&identity, "good-chain.pem", iat + 61, &[]);
        assert_eq!(code, 1);
        assert_eq!(reason_id(&report), "iat-stale", "{report}");
        // And the orig/dest binding: a header for another call is refused.
        let (code, report) =
            shaken_verify(&identity, "good-chain.pem", iat, &["--orig", "12155550122"]);
        assert_eq!(code, 1);
        assert_eq!(reason_id(&report), "orig-mismatch", "{report}");
    }
    // secsipidx without -orig-id makes a random UUID; shaken accepts it.
    let out = Command::new("secsipidx")
        .args(["-S", "-k", &data("good.key.pem"), "-x5u", X5U])
        .args(["-o", ORIG, "-d", DEST, "-a", "A"])
        .output()
        .unwrap();
    let identity = stdout(&out);
    let (code, report) = shaken_verify(&identity, "good-chain.pem", iat_of(&identity), &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["warnings"], serde_json::json!([]), "{report}");
}

// ---------------------------------------------------------------- (c) tampering

#[test]
#[ignore = "needs the secsipidx binary: run .ci/interop.sh"]
fn tampered_tokens_rejected_by_both() {
    if !secsipidx_available() {
        return;
    }
    let signed = [
        ("shaken", shaken_sign("good.key.pem", "B", wall_clock())),
        ("secsipidx", sx_sign_full("B")),
    ];
    for (signer, identity) in &signed {
        let iat = iat_of(identity);
        let mut claims = payload_of(identity);
        claims["attest"] = "A".into();
        let upgraded = with_claims(identity, &claims);
        let mut claims = payload_of(identity);
        claims["orig"]["tn"] = "12155550199".into();
        let spoofed = with_claims(identity, &claims);
        let flipped = with_flipped_signature(identity);
        for (what, bad) in [
            ("attest B->A, signature kept", &upgraded),
            ("orig changed, signature kept", &spoofed),
            ("one signature bit flipped", &flipped),
        ] {
            for mode in [SxCert::KeyOnly, SxCert::Chain] {
                let (ok, text) = sx_check(bad, "good-chain.pem", mode);
                assert!(
                    !ok,
                    "secsipidx accepted a {signer} token with {what}: {text}"
                );
                assert!(text.contains("not-ok"), "{text}");
            }
            // shaken: pin --orig to what the tampered token claims, so the
            // signature check (not the orig binding) is what fails.
            let orig = payload_of(bad)["orig"]["tn"].as_str().unwrap().to_string();
            let (code, report) =
                shaken_verify(bad, "good-chain.pem", iat, &["--orig", orig.as_str()]);
            assert_eq!(code, 1, "shaken accepted a {signer} token with {what}");
            assert_eq!(reason_id(&report), "signature-invalid", "{report}");
            assert_eq!(report["reason"]["code"], 438);
        }
    }
}

// ---------------------------------------------------------------- certificates

#[test]
#[ignore = "needs the secsipidx binary: run .ci/interop.sh"]
fn certificate_checks() {
    if !secsipidx_available() {
        return;
    }
    // (certificate, secsipidx -cert-verify 21 passes?, shaken reason id or "" for pass)
    let cases = [
        ("good", true, ""),
        ("untrusted", false, "cert-untrusted"),
        ("revoked", false, "cert-revoked"),
        // secsipidx checks no SHAKEN certificate profile: both pass it.
        ("no-tnal", true, "cert-missing-tnauthlist"),
        ("bad-ku", true, "cert-leaf-key-usage"),
    ];
    let mut lines = Vec::new();
    for (name, sx_expected, shaken_expected) in cases {
        let identity = shaken_sign(&format!("{name}.key.pem"), "A", wall_clock());
        let chain = format!("{name}-chain.pem");
        let (sx_ok, text) = sx_check(&identity, &chain, SxCert::ChainCrl);
        let (_, report) = shaken_verify(
            &identity,
            &chain,
            iat_of(&identity),
            &["--crl", &data("crl.pem")],
        );
        let got = reason_id(&report);
        lines.push(format!(
            "{name}: secsipidx {sx_ok} ({text}); shaken {got:?}"
        ));
        assert_eq!(sx_ok, sx_expected, "secsipidx on {name}: {text}");
        if shaken_expected.is_empty() {
            assert_eq!(verstat(&report), "TN-Validation-Passed", "{report}");
        } else {
            assert!(
                got.starts_with(shaken_expected),
                "shaken on {name}: expected {shaken_expected}, got {report}"
            );
        }
        // Without -cert-verify secsipidx trusts whatever key it is given.
        assert!(sx_check(&identity, &chain, SxCert::KeyOnly).0, "{name}");
    }
    // The expired certificate (January 2020) against the wall clock.
    let identity = shaken_sign("expired.key.pem", "A", wall_clock());
    let (sx_ok, text) = sx_check(&identity, "expired-chain.pem", SxCert::Chain);
    assert!(!sx_ok, "{text}");
    let (code, report) = shaken_verify(&identity, "expired-chain.pem", iat_of(&identity), &[]);
    assert_eq!(code, 1);
    assert!(
        reason_id(&report).starts_with("cert-expired")
            || reason_id(&report).starts_with("iat-outside"),
        "{report}"
    );
    println!("{}", lines.join("\n"));
}

// ---------------------------------------------------------------- (d) probes

/// What a probe does to the signed token.
#[derive(Clone, Copy)]
enum Edit {
    None,
    /// Drop header and claims: `..signature` (RFC 8225 §7 compact form).
    Compact,
    /// Append `==` to the signature segment.
    PadSignature,
    /// (r, s) → (r, n − s).
    Malleate,
}

struct Probe {
    name: &'static str,
    header: String,
    claims: String,
    params: String,
    edit: Edit,
    shaken_passes: bool,
    secsipidx_passes: bool,
}

fn claims(attest: &str, dest: &str, iat: &str, orig: &str) -> String {
    format!(
        r#"{{"attest":"{attest}","dest":{{"tn":[{dest}]}},"iat":{iat},"orig":{{"tn":"{orig}"}},"origid":"{ORIGID}"}}"#
    )
}

fn probes(now: u64) -> Vec<Probe> {
    let n = now.to_string();
    let d = format!("\"{DEST}\"");
    let std_claims = claims("A", &d, &n, ORIG);
    let p = |name, header: &str, claims: &str, params: &str, edit, sh, sx| Probe {
        name,
        header: header.to_string(),
        claims: claims.to_string(),
        params: params.to_string(),
        edit,
        shaken_passes: sh,
        secsipidx_passes: sx,
    };
    let info = format!(";info=<{X5U}>");
    let all = params();
    vec![
        p(
            "baseline",
            HEADER_JSON,
            &std_claims,
            &all,
            Edit::None,
            true,
            true,
        ),
        p(
            "compact form ..sig",
            HEADER_JSON,
            &std_claims,
            &all,
            Edit::Compact,
            false,
            false,
        ),
        p(
            "bare token, no Identity parameters",
            HEADER_JSON,
            &std_claims,
            "",
            Edit::None,
            true,
            false,
        ),
        p(
            "ppt parameter missing",
            HEADER_JSON,
            &std_claims,
            &format!("{info};alg=ES256"),
            Edit::None,
            true,
            true,
        ),
        p(
            "alg parameter missing",
            HEADER_JSON,
            &std_claims,
            &format!("{info};ppt=shaken"),
            Edit::None,
            true,
            true,
        ),
        p(
            "ppt=\"shaken\" quoted",
            HEADER_JSON,
            &std_claims,
            &format!("{info};alg=ES256;ppt=\"shaken\""),
            Edit::None,
            true,
            true,
        ),
        p(
            "alg=es256 lowercase",
            HEADER_JSON,
            &std_claims,
            &format!("{info};alg=es256;ppt=shaken"),
            Edit::None,
            false,
            false,
        ),
        p(
            "INFO/ALG/PPT uppercase names",
            HEADER_JSON,
            &std_claims,
            &format!(";INFO=<{X5U}>;ALG=ES256;PPT=shaken"),
            Edit::None,
            true,
            false,
        ),
        p(
            "spaces around ;",
            HEADER_JSON,
            &std_claims,
            &format!(" ; info=<{X5U}> ; alg=ES256 ; ppt=shaken"),
            Edit::None,
            true,
            true,
        ),
        p(
            "info missing",
            HEADER_JSON,
            &std_claims,
            ";alg=ES256;ppt=shaken",
            Edit::None,
            false,
            false,
        ),
        p(
            "info differs from x5u",
            HEADER_JSON,
            &std_claims,
            ";info=<https://cr.example.net/other.pem>;alg=ES256;ppt=shaken",
            Edit::None,
            false,
            false,
        ),
        p(
            "attest C with origid",
            HEADER_JSON,
            &claims("C", &d, &n, ORIG),
            &all,
            Edit::None,
            true,
            true,
        ),
        p(
            "attest \"X\"",
            HEADER_JSON,
            &claims("X", &d, &n, ORIG),
            &all,
            Edit::None,
            false,
            true,
        ),
        p(
            "attest \"a\" lowercase",
            HEADER_JSON,
            &claims("a", &d, &n, ORIG),
            &all,
            Edit::None,
            false,
            true,
        ),
        p(
            "attest \"\\u0041\" escaped",
            HEADER_JSON,
            &claims("\\u0041", &d, &n, ORIG),
            &all,
            Edit::None,
            true,
            true,
        ),
        p(
            "two dest TNs",
            HEADER_JSON,
            &claims("A", &format!("{d},\"12125550199\""), &n, ORIG),
            &all,
            Edit::None,
            true,
            true,
        ),
        p(
            "'+' in orig and dest TNs",
            HEADER_JSON,
            &claims("A", &format!("\"+{DEST}\""), &n, &format!("+{ORIG}")),
            &all,
            Edit::None,
            true,
            true,
        ),
        p(
            "iat 30 s old",
            HEADER_JSON,
            &claims("A", &d, &(now - 30).to_string(), ORIG),
            &all,
            Edit::None,
            true,
            true,
        ),
        p(
            "iat 120 s old",
            HEADER_JSON,
            &claims("A", &d, &(now - 120).to_string(), ORIG),
            &all,
            Edit::None,
            false,
            false,
        ),
        p(
            "iat 120 s in the future",
            HEADER_JSON,
            &claims("A", &d, &(now + 120).to_string(), ORIG),
            &all,
            Edit::None,
            false,
            true,
        ),
        p(
            "iat one year in the future",
            HEADER_JSON,
            &claims("A", &d, &(now + 31_536_000).to_string(), ORIG),
            &all,
            Edit::None,
            false,
            true,
        ),
        p(
            "iat as a string",
            HEADER_JSON,
            &claims("A", &d, &format!("\"{n}\""), ORIG),
            &all,
            Edit::None,
            false,
            false,
        ),
        p(
            "iat as a float (NNN.0)",
            HEADER_JSON,
            &claims("A", &d, &format!("{n}.0"), ORIG),
            &all,
            Edit::None,
            false,
            false,
        ),
        p(
            "origid missing",
            HEADER_JSON,
            &format!(
                r#"{{"attest":"A","dest":{{"tn":[{d}]}},"iat":{n},"orig":{{"tn":"{ORIG}"}}}}"#
            ),
            &all,
            Edit::None,
            false,
            true,
        ),
        p(
            "orig missing",
            HEADER_JSON,
            &format!(r#"{{"attest":"A","dest":{{"tn":[{d}]}},"iat":{n},"origid":"{ORIGID}"}}"#),
            &all,
            Edit::None,
            false,
            true,
        ),
        p(
            "duplicate attest (\"C\" then \"A\")",
            HEADER_JSON,
            &format!(
                r#"{{"attest":"C","attest":"A","dest":{{"tn":[{d}]}},"iat":{n},"orig":{{"tn":"{ORIG}"}},"origid":"{ORIGID}"}}"#
            ),
            &all,
            Edit::None,
            false,
            true,
        ),
        p(
            "typ missing from header",
            r#"{"alg":"ES256","ppt":"shaken","x5u":"https://cr.example.net/good.pem"}"#,
            &std_claims,
            &all,
            Edit::None,
            false,
            true,
        ),
        p(
            "ppt missing from header",
            r#"{"alg":"ES256","typ":"passport","x5u":"https://cr.example.net/good.pem"}"#,
            &std_claims,
            &all,
            Edit::None,
            false,
            true,
        ),
        p(
            "x5u missing from header",
            r#"{"alg":"ES256","ppt":"shaken","typ":"passport"}"#,
            &std_claims,
            &all,
            Edit::None,
            false,
            true,
        ),
        p(
            "header ppt \"div\", parameter ppt=shaken",
            r#"{"alg":"ES256","ppt":"div","typ":"passport","x5u":"https://cr.example.net/good.pem"}"#,
            &std_claims,
            &all,
            Edit::None,
            false,
            false,
        ),
        p(
            "header alg \"none\"",
            r#"{"alg":"none","ppt":"shaken","typ":"passport","x5u":"https://cr.example.net/good.pem"}"#,
            &std_claims,
            &all,
            Edit::None,
            false,
            false,
        ),
        p(
            "signature with = padding",
            HEADER_JSON,
            &std_claims,
            &all,
            Edit::PadSignature,
            false,
            true,
        ),
        p(
            "high-S twin (r, n-s)",
            HEADER_JSON,
            &std_claims,
            &all,
            Edit::Malleate,
            true,
            true,
        ),
    ]
}

#[test]
#[ignore = "needs the secsipidx binary: run .ci/interop.sh"]
fn behaviour_probes() {
    if !secsipidx_available() {
        return;
    }
    let now = wall_clock();
    let mut table = vec![
        "| input | shaken | secsipidx |".to_string(),
        "|---|---|---|".to_string(),
    ];
    let mut wrong = Vec::new();
    for probe in probes(now) {
        let token = sx_sign_raw(&probe.header, &probe.claims);
        let signed = format!("{token}{}", probe.params);
        let identity = match probe.edit {
            Edit::None => signed,
            Edit::Compact => {
                let (_, _, s, rest) = split(&signed);
                format!("..{s}{rest}")
            }
            Edit::PadSignature => {
                let (h, p, s, rest) = split(&signed);
                format!("{h}.{p}.{s}=={rest}")
            }
            Edit::Malleate => with_malleated_signature(&signed),
        };
        let (code, report) = shaken_verify(&identity, "good-chain.pem", now, &[]);
        let (sx_ok, sx_text) = sx_check(&identity, "good-chain.pem", SxCert::Chain);
        let shaken_cell = if code == 0 {
            "passes".to_string()
        } else {
            format!(
                "{} `{}`",
                report["reason"]["code"],
                report["reason"]["id"].as_str().unwrap_or("?")
            )
        };
        let sx_cell = if sx_ok {
            "passes".to_string()
        } else {
            format!(
                "refused: {}",
                sx_text
                    .replace("error message: ", "")
                    .replace(" not-ok", "")
            )
        };
        table.push(format!("| {} | {shaken_cell} | {sx_cell} |", probe.name));
        if (code == 0) != probe.shaken_passes || sx_ok != probe.secsipidx_passes {
            wrong.push(format!(
                "{}: expected shaken {} / secsipidx {}, got shaken {shaken_cell} / secsipidx {sx_cell}\n  {identity}",
                probe.name, probe.shaken_passes, probe.secsipidx_passes
            ));
        }
    }
    println!("{}", table.join("\n"));
    assert!(
        wrong.is_empty(),
        "behaviour differs from docs/interop.md:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn malleation_helper_is_an_involution() {
    // Pure helper check, runs without secsipidx: applying (r, n-s) twice
    // gives the signature back.
    let sig: Vec<u8> = (1..=64).collect();
    let identity = format!("a.b.{};info=<x>", b64(&sig));
    let twice = with_malleated_signature(&with_malleated_signature(&identity));
    assert_eq!(twice, identity);
}

#[test]
fn bare_token_in_a_sip_message_needs_info() {
    // docs/interop.md: `shaken verify VALUE` takes a bare PASSporT (its x5u
    // stands for info), but inside a SIP message the RFC 8224 grammar
    // applies and an Identity header without info is 436. shaken only.
    let iat = 1_800_000_000u64;
    let out = bin()
        .args(["sign", "--key", &data("good.key.pem"), "--x5u", X5U])
        .args(["--orig", ORIG, "--dest", DEST, "--attest", "A"])
        .args(["--iat", &iat.to_string(), "--format", "token"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let token = stdout(&out);
    let (code, report) = shaken_verify(&token, "good-chain.pem", iat, &[]);
    assert_eq!(code, 0, "{report}");
    let invite = format!(
        "INVITE sip:{DEST}@example.net SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
         From: <sip:{ORIG}@example.com;user=phone>;tag=1\r\nTo: <sip:{DEST}@example.net;user=phone>\r\n\
         Call-ID: interop@192.0.2.1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nIdentity: {token}\r\n\
         Content-Length: 0\r\n\r\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("invite.txt");
    std::fs::write(&path, invite).unwrap();
    let out = bin()
        .args([
            "verify",
            "--sip",
            path.to_str().unwrap(),
            "--format",
            "json",
        ])
        .args([
            "--cert",
            &data("good-chain.pem"),
            "--trust-anchors",
            &data("root.pem"),
        ])
        .args(["--now", &iat.to_string()])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reason_id(&report), "info-missing", "{report}");
    assert_eq!(report["reason"]["code"], 436);
}
