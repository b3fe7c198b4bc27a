//! The `shaken` binary: sign, verify, decode, pki, demo — the issue-2 contract.

use crate::support::{bin, certs, crafted, header, payload_iat, shaken, stdout, DEST, ORIG, X5U};
use serde_json::Value;
use shaken::b64;
use shaken::{Report, Verstat};
use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;

const NOW: i64 = 1_800_000_000;

fn sign_cli(extra: &[&str]) -> String {
    let key = certs("sp.key.pem");
    let iat = NOW.to_string();
    let mut args = vec![
        "sign",
        "--key",
        &key,
        "--x5u",
        X5U,
        "--orig",
        "+1 (215) 555-0121",
        "--dest",
        "212-555-0143",
        "--attest",
        "A",
        "--iat",
        &iat,
    ];
    args.extend_from_slice(extra);
    let o = shaken(&args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    stdout(&o).trim().to_owned()
}

fn verify_json(identity: &str, extra: &[&str]) -> (i32, Report) {
    let cert = certs("sp-chain.pem");
    let root = certs("root.pem");
    let now = NOW.to_string();
    let mut args = vec![
        "verify",
        identity,
        "--cert",
        &cert,
        "--trust-anchors",
        &root,
        "--now",
        &now,
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let o = shaken(&args);
    let code = o.status.code().unwrap();
    let report: Report = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            stdout(&o),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (code, report)
}

fn reason_id(r: &Report) -> (u16, String) {
    let reason = r.reason.as_ref().expect("a reason");
    (reason.code, reason.id.clone())
}

#[test]
fn signed_header_verifies() {
    let identity = sign_cli(&[]);
    assert!(identity.ends_with(";info=<https://cr.example.net/sp.pem>;alg=ES256;ppt=shaken"));
    let (code, r) = verify_json(&identity, &["--orig", ORIG, "--dest", DEST]);
    assert_eq!(code, 0, "{r:?}");
    assert_eq!(r.verstat, Verstat::Passed);
    assert_eq!(r.attest.map(|a| a.as_str()), Some("A"));
    assert_eq!(r.orig.as_deref(), Some(ORIG));
    assert_eq!(r.dest, vec![DEST.to_string()]);
    assert_eq!(r.iat, Some(NOW));
    assert!(r.reason.is_none());
    let signer = r.signer.unwrap();
    assert_eq!(signer.spc.as_deref(), Some("1234"));
    assert!(signer.subject.contains("CN=SHAKEN 1234"));
    assert!(uuid::Uuid::parse_str(r.origid.as_deref().unwrap()).is_ok());
}

#[test]
fn text_output_speaks_plainly() {
    let identity = sign_cli(&["--attest", "B"]);
    let now = NOW.to_string();
    let (cert, root) = (certs("sp-chain.pem"), certs("root.pem"));
    let o = shaken(&[
        "verify",
        &identity,
        "--cert",
        &cert,
        "--trust-anchors",
        &root,
        "--now",
        &now,
    ]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    assert!(text.starts_with("PASSED"), "{text}");
    assert!(
        text.contains("not verified their right to use this number"),
        "{text}"
    );
}

#[test]
fn orig_changed_in_token_fails_438() {
    let identity = sign_cli(&[]);
    let (token, params) = identity.split_once(';').unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let payload = String::from_utf8(b64::decode(parts[1]).unwrap()).unwrap();
    let forged = payload.replace(ORIG, "12025550199");
    let tampered = format!(
        "{}.{}.{};{params}",
        parts[0],
        b64::encode(forged.as_bytes()),
        parts[2]
    );
    let (code, r) = verify_json(&tampered, &[]);
    assert_eq!(code, 1);
    assert_eq!(reason_id(&r), (438, "signature-invalid".into()));
    assert_eq!(r.verstat, Verstat::Failed);
}

#[test]
fn orig_flag_naming_another_number_fails_438() {
    let identity = sign_cli(&[]);
    let (code, r) = verify_json(&identity, &["--orig", "+1 202 555 0199"]);
    assert_eq!(code, 1);
    assert_eq!(reason_id(&r), (438, "orig-mismatch".into()));
    assert_eq!(r.reason.unwrap().text, "Invalid Identity Header");
    let (code, r) = verify_json(&identity, &["--dest", "12025550199"]);
    assert_eq!(code, 1);
    assert_eq!(reason_id(&r), (438, "dest-mismatch".into()));
}

#[test]
fn alg_none_and_hs256_give_437() {
    for alg in ["none", "HS256", "RS256", "ES384"] {
        let header = header().replace("ES256", alg);
        let (code, r) = verify_json(&crafted(&header, &payload_iat(&NOW.to_string())), &[]);
        assert_eq!(code, 1);
        assert_eq!(reason_id(&r), (437, "alg-unsupported".into()), "{alg}");
        assert_eq!(r.reason.unwrap().text, "Unsupported Credential");
    }
}

#[test]
fn stale_and_future_iat_give_403() {
    let old = sign_cli(&["--iat", &(NOW - 61).to_string()]);
    let (code, r) = verify_json(&old, &[]);
    assert_eq!(code, 1);
    assert_eq!(reason_id(&r), (403, "iat-stale".into()));
    assert_eq!(r.reason.as_ref().unwrap().text, "Stale Date");
    // within a wider window it passes
    assert_eq!(verify_json(&old, &["--max-age", "120"]).0, 0);
    let future = sign_cli(&["--iat", &(NOW + 61).to_string()]);
    assert_eq!(
        reason_id(&verify_json(&future, &[]).1),
        (403, "iat-future".into())
    );
}

#[test]
fn string_iat_rejected_unless_lenient() {
    let identity = crafted(&header(), &payload_iat(&format!("\"{NOW}\"")));
    let (code, r) = verify_json(&identity, &[]);
    assert_eq!(code, 1);
    assert_eq!(reason_id(&r), (438, "claims-invalid".into()));
    let (code, r) = verify_json(&identity, &["--lenient-iat"]);
    assert_eq!(code, 0, "{r:?}");
    assert!(!r.warnings.is_empty());
}

#[test]
fn no_trust_anchor_gives_437_with_instructions() {
    let identity = sign_cli(&[]);
    let now = NOW.to_string();
    let cert = certs("sp-chain.pem");
    let o = shaken(&[
        "verify", &identity, "--cert", &cert, "--now", &now, "--format", "json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let r: Report = serde_json::from_slice(&o.stdout).unwrap();
    let reason = r.reason.unwrap();
    assert_eq!(reason.code, 437);
    // The library's detail is neutral; the CLI's text output gives the flag.
    assert!(
        reason.detail.contains("no trust anchors configured"),
        "{}",
        reason.detail
    );
    let o = shaken(&["verify", &identity, "--cert", &cert, "--now", &now]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("--trust-anchors"), "{}", stdout(&o));
    // The environment variable supplies anchors.
    let o = bin()
        .args(["verify", &identity, "--cert", &cert, "--now", &now])
        .env("SHAKEN_TRUST_ANCHORS", certs("root.pem"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn certificate_expired_at_verification_time() {
    let late = 5_000_000_000i64; // 2128: after the lab certificates expire
    let identity = sign_cli(&["--iat", &late.to_string()]);
    let (cert, root) = (certs("sp-chain.pem"), certs("root.pem"));
    let now = late.to_string();
    let o = shaken(&[
        "verify",
        &identity,
        "--cert",
        &cert,
        "--trust-anchors",
        &root,
        "--now",
        &now,
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let r: Report = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(reason_id(&r), (437, "cert-expired".into()));
    assert_eq!(r.verstat, Verstat::Failed);
}

#[test]
fn untrusted_root_gives_437() {
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other");
    let o = shaken(&["pki", "init", other.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let identity = sign_cli(&[]);
    let (code, r) = verify_json(
        &identity,
        &["--trust-anchors", other.join("root.pem").to_str().unwrap()],
    );
    // --trust-anchors given twice: both roots are anchors, so pass; with only the other root, fail.
    assert_eq!(code, 0, "{r:?}");
    let now = NOW.to_string();
    let cert = certs("sp-chain.pem");
    let o = shaken(&[
        "verify",
        &identity,
        "--cert",
        &cert,
        "--trust-anchors",
        other.join("root.pem").to_str().unwrap(),
        "--now",
        &now,
        "--format",
        "json",
    ]);
    let r: Report = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(reason_id(&r), (437, "cert-untrusted".into()));
    // a trust-anchor directory works too
    let o = shaken(&[
        "verify",
        &identity,
        "--cert",
        &cert,
        "--trust-anchors",
        other.to_str().unwrap(),
        "--now",
        &now,
    ]);
    // The directory holds keys: they are skipped with a note (issue 22
    // item 6), and the certificates that are not roots are warned about;
    // the verification runs (and fails: another PKI).
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("note: --trust-anchors")
            && err.contains("sp.key.pem: holds no certificate; skipped"),
        "{err}"
    );
    assert!(
        err.contains("warning: --trust-anchors")
            && err.contains("ca.pem")
            && err.contains("not self-signed"),
        "{err}"
    );
}

#[test]
fn rejected_inputs_each_have_a_reason() {
    let good = payload_iat(&NOW.to_string());
    let cases: Vec<(String, u16, &str)> = vec![
        // compact form
        (
            format!("..{};info=<{X5U}>;ppt=shaken", b64::encode(&[7u8; 64])),
            438,
            "compact-form",
        ),
        // x5u != info
        (
            crafted(&header(), &good).replace(
                "info=<https://cr.example.net/sp.pem>",
                "info=<https://other.example/x.pem>",
            ),
            436,
            "x5u-info-mismatch",
        ),
        // info missing
        (
            crafted(&header(), &good).replace(";info=<https://cr.example.net/sp.pem>", ""),
            436,
            "info-missing",
        ),
        // info not a URL
        (
            crafted(&header(), &good).replace("https://cr.example.net/sp.pem>", "not a url>"),
            436,
            "info-invalid",
        ),
        // typ wrong
        (
            crafted(&header().replace("\"passport\"", "\"JWT\""), &good),
            437,
            "typ-invalid",
        ),
        // typ missing
        (
            crafted(&header().replace(",\"typ\":\"passport\"", ""), &good),
            436,
            "header-param-missing",
        ),
        // key in the header
        (
            crafted(&header().replace("{", r#"{"jwk":{"kty":"EC"},"#), &good),
            437,
            "header-key-forbidden",
        ),
        // ppt not shaken
        (
            crafted(&header().replace("shaken", "div"), &good).replace("ppt=shaken", "ppt=div"),
            438,
            "ppt-unsupported",
        ),
        // duplicate member names (escaped)
        (
            crafted(&header().replace("{", r#"{"al\u0067":"none","#), &good),
            438,
            "token-malformed",
        ),
        // attest invalid
        (
            crafted(&header(), &good.replace("\"A\"", "\"D\"")),
            438,
            "attest-invalid",
        ),
        // origid missing
        (
            crafted(
                &header(),
                &good.replace(",\"origid\":\"123e4567-e89b-12d3-a456-426655440000\"", ""),
            ),
            438,
            "claim-missing",
        ),
        // orig as uri
        (
            crafted(
                &header(),
                &good.replace(r#"{"tn":"12155550121"}"#, r#"{"uri":"sip:a@b"}"#),
            ),
            438,
            "claim-not-tn",
        ),
        // dest not an array
        (
            crafted(
                &header(),
                &good.replace(r#"["12125550143"]"#, r#""12125550143""#),
            ),
            438,
            "claims-invalid",
        ),
        // non-ASCII digits in orig
        (
            crafted(&header(), &good.replace("12155550121", "١٢١٥٥٥٥٠١٢١")),
            438,
            "tn-invalid",
        ),
        // garbage token
        (
            "abc;info=<https://cr.example.net/sp.pem>".into(),
            438,
            "token-malformed",
        ),
    ];
    for (identity, code, id) in cases {
        let (exit, r) = verify_json(&identity, &[]);
        assert_eq!(exit, 1, "{id}");
        assert_eq!(reason_id(&r), (code, id.to_string()), "{identity}");
        assert_eq!(r.verstat, Verstat::NoValidation, "{id}");
    }
}

#[test]
fn der_signature_is_rejected() {
    let identity = sign_cli(&[]);
    let (token, params) = identity.split_once(';').unwrap();
    let (input, _) = token.rsplit_once('.').unwrap();
    let mut der = vec![0x30, 0x44, 0x02, 0x20];
    der.extend([1u8; 32]);
    der.extend([0x02, 0x20]);
    der.extend([2u8; 32]);
    let (_, r) = verify_json(&format!("{input}.{};{params}", b64::encode(&der)), &[]);
    assert_eq!(reason_id(&r), (438, "token-malformed".into()));
    assert!(r.reason.unwrap().detail.contains("DER"));
}

#[test]
fn bare_token_and_stdin() {
    let token = sign_cli(&["--format", "token"]);
    assert!(!token.contains(';'));
    let (code, r) = verify_json(&token, &[]);
    assert_eq!(code, 0, "{r:?}");
    assert_eq!(r.x5u.as_deref(), Some(X5U));
    // stdin, with a pasted header name
    let identity = sign_cli(&[]);
    let now = NOW.to_string();
    let (cert, root) = (certs("sp-chain.pem"), certs("root.pem"));
    let mut child = bin()
        .args([
            "verify",
            "-",
            "--cert",
            &cert,
            "--trust-anchors",
            &root,
            "--now",
            &now,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "Identity: {identity}").unwrap();
    assert_eq!(child.wait_with_output().unwrap().status.code(), Some(0));
}

#[test]
fn sign_json_format_and_deterministic() {
    let a = sign_cli(&[
        "--format",
        "json",
        "--deterministic",
        "--origid",
        "123e4567-e89b-12d3-a456-426655440000",
    ]);
    let b = sign_cli(&[
        "--format",
        "json",
        "--deterministic",
        "--origid",
        "123e4567-e89b-12d3-a456-426655440000",
    ]);
    assert_eq!(a, b, "RFC 6979 signing is deterministic");
    let v: serde_json::Value = serde_json::from_str(&a).unwrap();
    assert_eq!(v["claims"]["orig"]["tn"], ORIG);
    assert_eq!(v["claims"]["dest"]["tn"][0], DEST);
    assert_eq!(v["header"]["ppt"], "shaken");
    assert!(v["identity"]
        .as_str()
        .unwrap()
        .starts_with(v["token"].as_str().unwrap()));
}

#[test]
fn decode_labels_output_unverified() {
    let identity = sign_cli(&[]);
    let o = shaken(&["decode", &identity]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verified"], false);
    assert_eq!(v["claims"]["orig"]["tn"], ORIG);
    assert_eq!(v["identity"]["info"], X5U);
    assert_eq!(v["form"], "full");
}

/// The library's message is neutral; the CLI adds the flag that helps.
#[test]
fn decode_of_several_identity_values_hints_at_sip() {
    let identity = sign_cli(&[]);
    let two = format!("{identity}, {identity}");
    let o = shaken(&["decode", &two]);
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains(
            "2 comma-separated Identity values; pass one at a time, or pass the whole SIP message"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: pass the whole message with --sip FILE"),
        "{stderr}"
    );
}

#[test]
fn usage_and_environment_errors_exit_2() {
    assert_eq!(shaken(&["verify", "--no-such-flag"]).status.code(), Some(2));
    let identity = sign_cli(&[]);
    let o = shaken(&["verify", &identity, "--cert", "/nonexistent/chain.pem"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/chain.pem"));
    let o = shaken(&[
        "sign",
        "--key",
        "/nonexistent.pem",
        "--x5u",
        X5U,
        "--orig",
        ORIG,
        "--dest",
        DEST,
        "--attest",
        "A",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let key = certs("sp.key.pem");
    let o = shaken(&[
        "sign", "--key", &key, "--x5u", X5U, "--orig", "12ab", "--dest", DEST, "--attest", "A",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("invalid character"));
    let o = shaken(&[
        "sign", "--key", &key, "--x5u", X5U, "--orig", ORIG, "--dest", DEST, "--attest", "D",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn pki_init_output_signs_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("lab");
    let o = shaken(&["pki", "init", d.to_str().unwrap(), "--spc", "707H"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // refuses to overwrite
    assert_eq!(
        shaken(&["pki", "init", d.to_str().unwrap()]).status.code(),
        Some(2)
    );
    let p = |f: &str| d.join(f).to_string_lossy().into_owned();
    let o = shaken(&[
        "sign",
        "--key",
        &p("sp.key.pem"),
        "--x5u",
        X5U,
        "--orig",
        ORIG,
        "--dest",
        DEST,
        "--attest",
        "C",
    ]);
    let identity = stdout(&o).trim().to_owned();
    let o = shaken(&[
        "verify",
        &identity,
        "--cert",
        &p("sp-chain.pem"),
        "--trust-anchors",
        &p("root.pem"),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let r: Report = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r.signer.unwrap().spc.as_deref(), Some("707H"));
    // The CRL is indirect, signed by the lab STI-PA CRL signer: anchors.pem
    // (root + signer) checks it; root.pem alone cannot.
    let with_crl = |anchors: &str| {
        let o = shaken(&[
            "verify",
            &identity,
            "--cert",
            &p("sp-chain.pem"),
            "--trust-anchors",
            anchors,
            "--crl",
            &p("crl.pem"),
            "--crl-policy",
            "hard",
            "--format",
            "json",
        ]);
        let r: Report = serde_json::from_slice(&o.stdout).unwrap();
        (o.status.code(), r)
    };
    let (code, r) = with_crl(&p("anchors.pem"));
    assert_eq!(code, Some(0), "{r:?}");
    let (code, r) = with_crl(&p("root.pem"));
    assert_eq!(code, Some(1));
    assert_eq!(reason_id(&r), (437, "crl-invalid".into()));
    // The fresh chain lints clean.
    assert_eq!(lint_errors(&p("sp-chain.pem"), None), Vec::<String>::new());
}

/// The `error` findings of `shaken cert inspect FILE --format json` (FILE
/// `-` reads `stdin`).
fn lint_errors(file: &str, stdin: Option<&[u8]>) -> Vec<String> {
    let mut child = bin()
        .args(["cert", "inspect", file, "--format", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.unwrap_or_default())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["lint"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] != "warning")
        .map(|f| f.to_string())
        .collect()
}

#[test]
fn committed_lab_pki_lints_clean() {
    let none = Vec::<String>::new();
    assert_eq!(lint_errors(&certs("sp-chain.pem"), None), none);
    assert_eq!(lint_errors(&certs("root.pem"), None), none);
    // The whole path, root appended.
    let full = format!(
        "{}{}",
        std::fs::read_to_string(certs("sp-chain.pem")).unwrap(),
        std::fs::read_to_string(certs("root.pem")).unwrap()
    );
    assert_eq!(lint_errors("-", Some(full.as_bytes())), none);
}

#[test]
fn demo_runs_offline() {
    let o = shaken(&["demo", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 9);
    assert!(lines.iter().all(|l| l["as_expected"] == true));
    let passed = lines
        .iter()
        .filter(|l| l["report"]["verstat"] == "TN-Validation-Passed")
        .count();
    assert_eq!(passed, 3);
}

/// `--help` is read by people and scraped by scripts: golden files, refreshed
/// with `SHAKEN_UPDATE_GOLDEN=1 cargo test --test cli help_`.
#[test]
fn help_output_is_golden() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/help");
    for (name, args) in [
        ("shaken.txt", vec!["--help"]),
        ("sign.txt", vec!["sign", "--help"]),
        ("verify.txt", vec!["verify", "--help"]),
        ("decode.txt", vec!["decode", "--help"]),
        ("serve.txt", vec!["serve", "--help"]),
        ("cert-inspect.txt", vec!["cert", "inspect", "--help"]),
        ("cert-lint.txt", vec!["cert", "lint", "--help"]),
        ("cert-verify.txt", vec!["cert", "verify", "--help"]),
        ("pki-init.txt", vec!["pki", "init", "--help"]),
    ] {
        let o = bin().args(&args).env("COLUMNS", "100").output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{name}");
        let got = stdout(&o);
        let path = dir.join(name);
        if std::env::var_os("SHAKEN_UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("{}: {e} (run with SHAKEN_UPDATE_GOLDEN=1)", path.display())
        });
        assert_eq!(
            got, want,
            "{name} changed; if intended, rerun with SHAKEN_UPDATE_GOLDEN=1"
        );
    }
}

#[test]
fn sip_verstat_with_attestation_suffix_is_opt_in() {
    let dir = tempfile::tempdir().unwrap();
    let invite =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/sip/invite-no-date.txt");
    let key = certs("sp.key.pem");
    let now = NOW.to_string();
    let o = shaken(&[
        "sign",
        "--sip",
        invite.to_str().unwrap(),
        "--key",
        &key,
        "--x5u",
        X5U,
        "--attest",
        "B",
        "--iat",
        &now,
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let signed = dir.path().join("signed.txt");
    std::fs::write(&signed, &o.stdout).unwrap();
    let (cert, root) = (certs("sp-chain.pem"), certs("root.pem"));
    let run = |extra: &[&str]| {
        let mut args = vec![
            "verify",
            "--sip",
            signed.to_str().unwrap(),
            "--cert",
            &cert,
            "--trust-anchors",
            &root,
            "--now",
            &now,
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        let o = shaken(&args);
        assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let plain = run(&[]);
    assert_eq!(
        plain["sip"]["verstat_param"],
        ";verstat=TN-Validation-Passed"
    );
    let suffixed = run(&["--verstat-attest"]);
    assert_eq!(
        suffixed["sip"]["verstat_param"],
        ";verstat=TN-Validation-Passed-B"
    );
    assert_eq!(suffixed["verstat"], "TN-Validation-Passed");
}

/// `--replay-dir`: two separate processes share replay detection through a
/// directory (as the workers of a pre-forked server would); without it each
/// process has its own store and the second use of a token passes.
#[test]
fn replay_dir_is_shared_between_processes() {
    let dir = tempfile::tempdir().unwrap();
    let replay_dir = dir.path().join("replay");
    let rd = replay_dir.to_str().unwrap();
    let id = sign_cli(&[]);
    let (code, r) = verify_json(&id, &["--replay-dir", rd]);
    assert_eq!(code, 0, "{:?}", r.reason);
    let (code, r) = verify_json(&id, &["--replay-dir", rd]);
    assert_eq!(code, 1);
    let reason = r.reason.unwrap();
    assert_eq!(
        (reason.code, reason.id.as_str()),
        (438, "replay"),
        "{}",
        reason.detail
    );
    // Without the shared directory another process does not know the token.
    assert_eq!(verify_json(&id, &["--replay"]).0, 0);
    // A path that cannot be a directory is a usage error naming the flag.
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let o = shaken(&[
        "verify",
        &id,
        "--cert",
        &certs("sp-chain.pem"),
        "--trust-anchors",
        &certs("root.pem"),
        "--replay-dir",
        file.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--replay-dir"));
}

/// A refused x5u: the report's detail is the library's neutral sentence,
/// and the flag that would allow it is a hint on stderr (never in JSON).
#[test]
fn ssrf_refusal_names_the_flag_only_as_a_hint() {
    let key = certs("sp.key.pem");
    let iat = NOW.to_string();
    let x5u = "https://127.0.0.1/sp.pem";
    let o = shaken(&[
        "sign", "--key", &key, "--x5u", x5u, "--orig", ORIG, "--dest", DEST, "--attest", "A",
        "--iat", &iat,
    ]);
    let identity = stdout(&o).trim().to_owned();
    let o = shaken(&[
        "verify",
        &identity,
        "--trust-anchors",
        &certs("anchors.pem"),
        "--now",
        &iat,
        "--orig",
        ORIG,
        "--dest",
        DEST,
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["reason"]["id"], "fetch-private-address", "{r}");
    let detail = r["reason"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("SSRF guard") && !detail.contains("--"),
        "{detail}"
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("hint: --allow-private-x5u"), "{err}");
}
