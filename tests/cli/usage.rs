//! Issue 22, "a newcomer's first hour": errors that name the real problem
//! (item 4), no option silently ignored (item 5), the small things (item 7).

use crate::support::{certs, shaken, stdout, test_data, DEST, ORIG, X5U};
use serde_json::Value;
use std::process::Output;

const NOW: &str = "1800000000";

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn sign_with_key(key: &str) -> Output {
    shaken(&[
        "sign", "--key", key, "--x5u", X5U, "--orig", ORIG, "--dest", DEST, "--attest", "A",
    ])
}

/// Each wrong key says what it is and what is needed, once (item 4).
#[test]
fn sign_names_the_wrong_key() {
    let keys = |f: &str| {
        test_data(&format!("keys/{f}"))
            .to_string_lossy()
            .into_owned()
    };
    for (file, words) in [
        (
            keys("rsa.pkcs8.pem"),
            &["RSA", "rsaEncryption", "ECDSA P-256"][..],
        ),
        (keys("rsa.pkcs1.pem"), &["RSA", "PKCS#1"]),
        (keys("ed25519.pem"), &["Ed25519", "ECDSA P-256"]),
        (
            keys("p384.pkcs8.pem"),
            &["P-384", "secp384r1", "1.3.132.0.34"],
        ),
        (keys("p384.sec1.pem"), &["P-384", "SEC1"]),
        (keys("p521.pkcs8.pem"), &["P-521", "secp521r1"]),
        (
            keys("p256.encrypted.pem"),
            &["encrypted", "openssl pkey -in key.pem -out plain.pem"],
        ),
        (
            keys("p256.public.pem"),
            &["public key", "not a private key"],
        ),
        (certs("sp.pem"), &["certificate", "not a private key"]),
    ] {
        let o = sign_with_key(&file);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{file}: {e}");
        assert!(e.starts_with("error: --key: signing key "), "{file}: {e}");
        for w in words {
            assert!(e.contains(w), "{file}: {w:?} not in {e}");
        }
        assert!(
            !e.contains("1.2.840.10045.2.1"),
            "{file}: blames the EC OID: {e}"
        );
        assert!(!e.contains("unexpected PEM type label"), "{file}: {e}");
        // The cause is said once, not `X: X`.
        let line = e.lines().next().unwrap();
        let (_, tail) = line.split_once(": signing key ").unwrap();
        let (_, cause) = tail.split_once(": ").unwrap();
        assert_eq!(
            line.matches(cause).count(),
            1,
            "{file}: repeated cause: {line}"
        );
    }
    // The P-256 SEC1 key after an EC PARAMETERS block loads.
    let o = sign_with_key(&keys("p256.sec1-with-params.pem"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// `X: X` (an error whose text includes its source, printed with its cause
/// chain) is collapsed, and the message says what to do.
#[test]
fn a_missing_file_is_said_once_with_what_to_do() {
    let o = sign_with_key("/nonexistent/k.pem");
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        e.lines().next().unwrap(),
        "error: --key: signing key /nonexistent/k.pem: No such file or directory (os error 2)"
    );
    assert!(e.contains("hint: "), "{e}");
}

/// A flag the chosen mode does not use is a usage error naming both flags
/// (item 5); before, each was accepted and did nothing.
#[test]
fn conflicting_and_unused_flags_are_usage_errors() {
    let key = certs("sp.key.pem");
    let invite = test_data("sip/invite-no-date.txt")
        .to_string_lossy()
        .into_owned();
    let sign = |extra: &[&str]| {
        let mut a = vec!["sign", "--key", &key, "--x5u", X5U];
        a.extend_from_slice(extra);
        shaken(&a)
    };
    for (o, names) in [
        (
            sign(&["--sip", &invite, "--attest", "A", "--format", "json"]),
            ["--sip", "--format"],
        ),
        (
            sign(&["--batch", "-", "--format", "json"]),
            ["--batch", "--format"],
        ),
        (
            sign(&[
                "--orig", ORIG, "--dest", DEST, "--attest", "A", "--jobs", "2",
            ]),
            ["--jobs", "--batch"],
        ),
        (
            shaken(&["verify", "x", "--report", "r.html"]),
            ["--report", "--batch"],
        ),
        (
            shaken(&["verify", "x", "--replay", "--no-replay"]),
            ["--replay", "--no-replay"],
        ),
        (
            shaken(&["verify", "--sip", &invite, "--orig", ORIG]),
            ["--orig", "--sip"],
        ),
        (
            shaken(&["verify", "x", "--verstat-attest"]),
            ["--verstat-attest", "--sip"],
        ),
        (
            shaken(&["verify", "x", "--crl-policy", "hard"]),
            ["--crl-policy", "--crl"],
        ),
        (
            shaken(&[
                "cert",
                "verify",
                &certs("sp-chain.pem"),
                "--crl-policy",
                "hard",
            ]),
            ["--crl-policy", "--fetch-crl"],
        ),
        (
            shaken(&[
                "cert",
                "inspect",
                &certs("sp-chain.pem"),
                "--allow-http-x5u",
            ]),
            ["--allow-http-x5u", "not a URL"],
        ),
        (
            shaken(&[
                "cert",
                "lint",
                &certs("sp-chain.pem"),
                "--cache-dir",
                "/tmp/x",
            ]),
            ["--cache-dir", "not a URL"],
        ),
    ] {
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{e}");
        assert!(o.stdout.is_empty(), "{e}");
        for n in names {
            assert!(e.contains(n), "{n} not named: {e}");
        }
    }
    assert!(!std::path::Path::new("r.html").exists());
}

/// `decode --format text|json`: json (the default) keeps its bytes.
#[test]
fn decode_has_a_format() {
    let key = certs("sp.key.pem");
    let o = shaken(&[
        "sign",
        "--key",
        &key,
        "--x5u",
        X5U,
        "--orig",
        ORIG,
        "--dest",
        DEST,
        "--attest",
        "A",
        "--iat",
        "2027-01-15T08:00:00Z",
        "--deterministic",
    ]);
    let id = stdout(&o).trim().to_owned();
    let default = shaken(&["decode", &id]);
    let json = shaken(&["decode", &id, "--format", "json"]);
    assert_eq!(default.stdout, json.stdout);
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["claims"]["iat"], 1_800_000_000);
    let text = stdout(&shaken(&["decode", &id, "--format", "text"]));
    assert!(text.starts_with("UNVERIFIED"), "{text}");
    assert!(text.contains("iat_utc   2027-01-15T08:00:00Z"), "{text}");
}

/// `pki init`: keys 0600, `--not-before` as RFC 3339, `--format json`.
#[test]
fn pki_init_keys_are_private_and_validity_is_chosen() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("pki");
    let o = shaken(&[
        "pki",
        "init",
        d.to_str().unwrap(),
        "--not-before",
        "2025-01-01T00:00:00Z",
        "--days",
        "10",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["not_before"], "2025-01-01T00:00:00Z");
    assert_eq!(v["not_after"], "2025-01-11T00:00:00Z");
    let files = v["files"].as_array().unwrap();
    assert_eq!(files.len(), 11);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in files {
            let path = f["path"].as_str().unwrap();
            let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
            if f["private_key"] == true {
                assert_eq!(mode, 0o600, "{path}");
            } else {
                assert_eq!(mode & 0o600, 0o600, "{path}");
            }
        }
    }
    // The certificates start where asked: a 2025 verification passes the chain.
    let chain = d.join("sp-chain.pem");
    let root = d.join("root.pem");
    let check = |now: &str| {
        shaken(&[
            "cert",
            "verify",
            chain.to_str().unwrap(),
            "--trust-anchors",
            root.to_str().unwrap(),
            "--now",
            now,
        ])
        .status
        .code()
    };
    assert_eq!(check("2025-01-02T00:00:00Z"), Some(0));
    assert_eq!(check("1735603200"), Some(1)); // 2024-12-31: not yet valid
}

/// `--now` and `--iat` take RFC 3339 as well as Unix seconds: the same token.
#[test]
fn times_take_rfc3339_or_unix_seconds() {
    let key = certs("sp.key.pem");
    let sign = |iat: &str| {
        stdout(&shaken(&[
            "sign",
            "--key",
            &key,
            "--x5u",
            X5U,
            "--orig",
            ORIG,
            "--dest",
            DEST,
            "--attest",
            "A",
            "--iat",
            iat,
            "--deterministic",
            "--origid",
            crate::support::ORIGID,
        ]))
    };
    assert_eq!(sign(NOW), sign("2027-01-15T08:00:00Z"));
    let o = shaken(&["verify", "x", "--now", "tomorrow"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("RFC 3339"), "{}", stderr(&o));
}

/// `cert lint` gates CI (exit 1 on an error finding); `cert inspect` keeps
/// exit 0, flags expiry at `--now` and names OIDs (item 6).
#[test]
fn cert_lint_gates_and_inspect_flags_expiry_and_names_oids() {
    let openssl = |f: &str| {
        test_data(&format!("cert/openssl/{f}"))
            .to_string_lossy()
            .into_owned()
    };
    let good = certs("sp-chain.pem");
    let o = shaken(&["cert", "lint", &good, "--now", NOW]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("PASSED"));
    let bad = openssl("bad-ku-chain.pem");
    let o = shaken(&["cert", "lint", &bad, "--now", NOW, "--format", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["passed"], false);
    assert_eq!(v["errors"], 4);
    assert!(v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["code"] == "e_ee_key_usage"));
    assert_eq!(shaken(&["cert", "inspect", &bad]).status.code(), Some(0));

    // Expired at --now: flagged in the text, the JSON and by lint.
    let expired = openssl("expired-chain.pem");
    let o = shaken(&["cert", "inspect", &expired, "--now", "2027-01-01T00:00:00Z"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stdout(&o).contains("EXPIRED at 2027-01-01T00:00:00Z"),
        "{}",
        stdout(&o)
    );
    let o = shaken(&[
        "cert", "inspect", &expired, "--now", NOW, "--format", "json",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["certificates"][0]["validity"], "expired");
    assert!(v["lint"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["code"] == "e_expired"));
    let o = shaken(&[
        "cert",
        "inspect",
        &good,
        "--now",
        "2000-01-01T00:00:00Z",
        "--format",
        "json",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["certificates"][0]["validity"], "not-yet-valid");
    assert_eq!(
        shaken(&["cert", "lint", &expired, "--now", NOW])
            .status
            .code(),
        Some(1)
    );

    // OIDs with their names.
    let rsa = test_data("keys/rsa.cert.pem")
        .to_string_lossy()
        .into_owned();
    let text = stdout(&shaken(&["cert", "inspect", &rsa, "--now", NOW]));
    for named in [
        "rsaEncryption (1.2.840.113549.1.1.1)",
        "extendedKeyUsage (2.5.29.37)",
        "sha256WithRSAEncryption (1.2.840.113549.1.1.11)",
    ] {
        assert!(text.contains(named), "{named} not in {text}");
    }
    let p384 = test_data("keys/p384.cert.pem")
        .to_string_lossy()
        .into_owned();
    let text = stdout(&shaken(&["cert", "inspect", &p384, "--now", NOW]));
    assert!(text.contains("secp384r1 (1.3.132.0.34)"), "{text}");
    let text = stdout(&shaken(&["cert", "inspect", &good, "--now", NOW]));
    assert!(
        text.contains("SHAKEN certificate policy (2.16.840.1.114569.1.1.4)"),
        "{text}"
    );
}

/// A SIP message copied from an SBC log or ngrep, with its prefix line, is
/// signed and verified; the skip is said on stderr (item 7).
#[test]
fn a_sip_message_with_a_log_prefix_line_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let invite = std::fs::read_to_string(test_data("sip/invite-no-date.txt")).unwrap();
    let logged = dir.path().join("logged.txt");
    std::fs::write(
        &logged,
        format!("U 192.0.2.1:5060 -> 192.0.2.2:5060 #1\n{invite}"),
    )
    .unwrap();
    let key = certs("sp.key.pem");
    let o = shaken(&[
        "sign",
        "--sip",
        logged.to_str().unwrap(),
        "--key",
        &key,
        "--x5u",
        X5U,
        "--attest",
        "A",
        "--iat",
        NOW,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("skipped the log prefix line"),
        "{}",
        stderr(&o)
    );
    let signed = dir.path().join("signed.txt");
    std::fs::write(&signed, &o.stdout).unwrap();
    assert!(stdout(&o).starts_with("INVITE "), "{}", stdout(&o));
    let (cert, root) = (certs("sp-chain.pem"), certs("root.pem"));
    let o = shaken(&[
        "verify",
        "--sip",
        signed.to_str().unwrap(),
        "--cert",
        &cert,
        "--trust-anchors",
        &root,
        "--now",
        NOW,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

/// `--max-fetches` (the cap on x5u/CRL/RCD fetches in flight): 0 would
/// refuse every fetch, so it is refused with the flag named, on every command
/// that fetches, and the TOML key `max-fetches = 0` of `serve` likewise.
#[test]
fn max_fetches_zero_is_refused() {
    let root = certs("root.pem");
    for args in [
        &[
            "verify",
            "--max-fetches",
            "0",
            "x",
            "--trust-anchors",
            &root,
        ][..],
        &["serve", "--max-fetches", "0", "--trust-anchors", &root],
        &[
            "cert",
            "lint",
            "--max-fetches",
            "0",
            "https://cr.example/sp.pem",
        ],
        &[
            "verify",
            "--max-fetches",
            "many",
            "x",
            "--trust-anchors",
            &root,
        ],
    ] {
        let o = shaken(args);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
        assert!(e.contains("--max-fetches"), "{args:?}: {e}");
        assert!(e.contains("at least 1"), "{args:?}: {e}");
    }
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("serve.toml");
    std::fs::write(&toml, "listen = \"127.0.0.1:0\"\nmax-fetches = 0\n").unwrap();
    let o = shaken(&[
        "serve",
        "--config",
        toml.to_str().unwrap(),
        "--trust-anchors",
        &root,
    ]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("max-fetches") && e.contains("at least 1"), "{e}");
    // A valid cap is taken (the value verified offline: nothing fetched).
    let o = shaken(&[
        "verify",
        "--max-fetches",
        "1",
        "not-a-token",
        "--trust-anchors",
        &root,
    ]);
    assert!(!stderr(&o).contains("--max-fetches"), "{}", stderr(&o));
}
