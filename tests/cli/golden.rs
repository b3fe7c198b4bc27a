//! Golden files for the text and JSON output of every command (issue 22
//! item 8), so a change of output is reviewed, not accidental.
//!
//! insta keeps one file per output under `tests/data/golden/` (`*.snap`:
//! a short header, then the bytes). On a difference the test fails with a
//! diff; `INSTA_UPDATE=always cargo test --test cli golden::` (or `cargo
//! insta review`) rewrites them for review in `git diff`. Inputs are
//! byte-stable: `--iat`/`--now` are pinned, signing uses `--deterministic`
//! (RFC 6979) with the committed lab key, origid is fixed, and paths of
//! temporary directories are replaced by `[DIR]`. The JSON is also
//! deserialised into the library's types where it has them (as ripgrep's
//! `tests/json.rs` does), so a golden file cannot drift from the schema.
//!
//! `--help` goldens stay in `tests/data/help/` (`cli::help_output_is_golden`).
//! Not here: `demo` (a fresh random PKI each run) and `serve` (a service,
//! see tests/network). `sign --batch` and `verify --pcap` run on the README's
//! sample inputs (`examples/data/`), with requests that carry an `origid`
//! so that deterministic signing makes them byte-stable.

use crate::support::{certs, run_with_stdin, shaken, test_data, DEST, ORIG, ORIGID, X5U};
use shaken::Report;
use std::process::Output;

const NOW: &str = "1800000000";

/// Compare `output` with the golden file `name` (`tests/data/golden/name.snap`).
fn golden(name: &str, output: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(test_data("golden"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!(name, output));
}

/// Stdout, with the exit status on a first line (a golden file holds both).
fn out(o: &Output) -> String {
    format!(
        "exit: {}\n{}",
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout)
    )
}

fn key() -> String {
    certs("sp.key.pem")
}

fn sign(format: &str) -> Output {
    shaken(&[
        "sign",
        "--key",
        &key(),
        "--x5u",
        X5U,
        "--orig",
        ORIG,
        "--dest",
        DEST,
        "--attest",
        "A",
        "--iat",
        NOW,
        "--origid",
        ORIGID,
        "--deterministic",
        "--format",
        format,
    ])
}

fn identity() -> String {
    String::from_utf8(sign("header").stdout)
        .unwrap()
        .trim()
        .to_owned()
}

fn verify_args(extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "verify",
        "--cert",
        &certs("sp-chain.pem"),
        "--trust-anchors",
        &certs("root.pem"),
        "--now",
        NOW,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

#[test]
fn sign_outputs() {
    for f in ["header", "token", "json"] {
        golden(&format!("sign-{f}"), &out(&sign(f)));
    }
    let json: serde_json::Value = serde_json::from_slice(&sign("json").stdout).unwrap();
    assert_eq!(json["identity"].as_str(), Some(identity().as_str()));
}

#[test]
fn verify_outputs() {
    let id = identity();
    for (name, extra) in [
        ("verify-pass", vec!["--orig", ORIG, "--dest", DEST]),
        ("verify-not-compared", vec![]),
        (
            "verify-wrong-orig",
            vec!["--orig", "12155550199", "--dest", DEST],
        ),
    ] {
        for format in ["text", "json"] {
            let mut args = verify_args(&[&id]);
            args.extend(extra.iter().map(|s| s.to_string()));
            args.extend(["--format".into(), format.into()]);
            let o = shaken(&args);
            golden(&format!("{name}-{format}"), &out(&o));
            if format == "json" {
                let _: Report = serde_json::from_slice(&o.stdout).unwrap();
            }
        }
    }
}

#[test]
fn verify_sip_and_batch_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let invite = test_data("sip/invite-no-date.txt");
    let o = shaken(&[
        "sign",
        "--sip",
        invite.to_str().unwrap(),
        "--key",
        &key(),
        "--x5u",
        X5U,
        "--attest",
        "B",
        "--iat",
        NOW,
        "--origid",
        ORIGID,
        "--deterministic",
    ]);
    golden("sign-sip", &out(&o));
    let signed = dir.path().join("signed.txt");
    std::fs::write(&signed, &o.stdout).unwrap();
    for format in ["text", "json"] {
        let o = shaken(&verify_args(&[
            "--sip",
            signed.to_str().unwrap(),
            "--format",
            format,
        ]));
        golden(&format!("verify-sip-{format}"), &out(&o));
    }
    let id = identity();
    let lines = [
        serde_json::json!({"from": {"tn": ORIG}, "to": {"tn": [DEST]}, "time": 1_800_000_000, "identity": id}),
        serde_json::json!({"from": {"tn": "12155550199"}, "to": {"tn": [DEST]}, "time": 1_800_000_000, "identity": id}),
        serde_json::json!({"identity": "not a token"}),
    ];
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let mut args = verify_args(&["--batch", "-", "--no-replay"]);
    args.extend(["--jobs".into(), "1".into()]);
    let o = run_with_stdin(&args, Some(input.as_bytes()));
    golden("verify-batch", &out(&o));
}

/// A diverted call (RFC 8946): `sign --div`, `sign --sip --divert`, and
/// `verify --sip` of the retargeted INVITE with its two PASSporTs.
#[test]
fn diverted_call_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let invite = test_data("sip/invite-no-date.txt");
    let key = key();
    let signer = |extra: &[&str]| {
        let mut a = vec!["sign", "--key", &key, "--x5u", X5U, "--deterministic"];
        a.extend_from_slice(extra);
        a.iter().map(|s| (*s).to_owned()).collect::<Vec<String>>()
    };
    let o = shaken(&signer(&[
        "--sip",
        invite.to_str().unwrap(),
        "--attest",
        "A",
        "--iat",
        NOW,
        "--origid",
        ORIGID,
    ]));
    let signed = String::from_utf8(o.stdout).unwrap();
    let incoming = signed
        .lines()
        .find_map(|l| l.strip_prefix("Identity: "))
        .unwrap()
        .trim()
        .to_owned();
    let o = shaken(&signer(&[
        "--div",
        &incoming,
        "--dest",
        "+12125550199",
        "--hi",
        "1.1",
    ]));
    golden("sign-div", &out(&o));
    let retargeted = signed.replacen("INVITE sip:+12125550143@", "INVITE sip:+12125550199@", 1);
    assert_ne!(retargeted, signed);
    let path = dir.path().join("retargeted.txt");
    std::fs::write(&path, &retargeted).unwrap();
    let o = shaken(&signer(&["--sip", path.to_str().unwrap(), "--divert"]));
    assert_eq!(o.status.code(), Some(0));
    let diverted = dir.path().join("diverted.txt");
    std::fs::write(&diverted, &o.stdout).unwrap();
    for format in ["text", "json"] {
        let o = shaken(&verify_args(&[
            "--sip",
            diverted.to_str().unwrap(),
            "--format",
            format,
        ]));
        if format == "json" {
            let r: shaken::sip_verify::SipReport = serde_json::from_slice(&o.stdout).unwrap();
            assert!(r.diversion.unwrap().is_valid());
        }
        golden(&format!("verify-sip-div-{format}"), &out(&o));
    }
}

#[test]
fn sign_batch_and_pcap_outputs() {
    let input = concat!(
        r#"{"attest":"A","orig":{"tn":"12155550121"},"dest":{"tn":["12125550143"]},"iat":1800000000,"origid":"de305d54-75b4-431b-adb2-eb6b9e546014"}"#,
        "\n",
        r#"{"signingRequest":{"attest":"b","orig":{"tn":"+1 215 555 0122"},"dest":{"tn":"2125550143"},"iat":1800000000,"origid":"{DE305D54-75B4-431B-ADB2-EB6B9E546015}"}}"#,
        "\n",
        r#"{"attest":"A","orig":{"tn":"anonymous"},"dest":{"tn":["12125550143"]},"iat":1800000000}"#,
        "\n",
    );
    let o = run_with_stdin(
        &[
            "sign",
            "--batch",
            "-",
            "--key",
            &key(),
            "--x5u",
            X5U,
            "--deterministic",
            "--jobs",
            "1",
        ],
        Some(input.as_bytes()),
    );
    golden("sign-batch", &out(&o));
    let capture = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/calls.pcapng");
    let chain = certs("sp-chain.pem");
    let anchors = certs("root.pem");
    for format in ["text", "json"] {
        let o = shaken(&[
            "verify",
            "--pcap",
            capture,
            "--cert",
            &chain,
            "--trust-anchors",
            &anchors,
            "--format",
            format,
        ]);
        golden(&format!("verify-pcap-{format}"), &out(&o));
    }
}

#[test]
fn decode_outputs() {
    let id = identity();
    for format in ["json", "text"] {
        golden(
            &format!("decode-{format}"),
            &out(&shaken(&["decode", &id, "--format", format])),
        );
    }
}

#[test]
fn cert_outputs() {
    let chain = certs("sp-chain.pem");
    let bad = test_data("cert/openssl/bad-ku-chain.pem")
        .to_string_lossy()
        .into_owned();
    let expired = test_data("cert/openssl/expired-chain.pem")
        .to_string_lossy()
        .into_owned();
    let rsa = test_data("keys/rsa.cert.pem")
        .to_string_lossy()
        .into_owned();
    for format in ["text", "json"] {
        for (name, file) in [("good", &chain), ("expired", &expired), ("rsa", &rsa)] {
            let o = shaken(&["cert", "inspect", file, "--now", NOW, "--format", format]);
            golden(&format!("cert-inspect-{name}-{format}"), &out(&o));
        }
        for (name, file) in [("good", &chain), ("bad-ku", &bad)] {
            let o = shaken(&["cert", "lint", file, "--now", NOW, "--format", format]);
            golden(
                &format!("cert-lint-{name}-{format}"),
                &out(&o).replace(file.as_str(), "[FILE]"),
            );
        }
        for (name, file) in [("good", &chain), ("expired", &expired)] {
            let o = shaken(&[
                "cert",
                "verify",
                file,
                "--trust-anchors",
                &certs("root.pem"),
                "--now",
                NOW,
                "--format",
                format,
            ]);
            golden(&format!("cert-verify-{name}-{format}"), &out(&o));
        }
    }
}

#[test]
fn pki_init_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("lab");
    let o = shaken(&[
        "pki",
        "init",
        d.to_str().unwrap(),
        "--not-before",
        "2027-01-01T00:00:00Z",
        "--days",
        "30",
        "--format",
        "json",
    ]);
    let text = out(&o).replace(d.to_str().unwrap(), "[DIR]");
    golden("pki-init-json", &text);
    let d2 = dir.path().join("lab2");
    let o = shaken(&["pki", "init", d2.to_str().unwrap(), "--not-before", NOW]);
    // Text goes to stderr (stdout stays empty).
    let text = format!("{}{}", out(&o), String::from_utf8_lossy(&o.stderr))
        .replace(d2.to_str().unwrap(), "[DIR]");
    golden("pki-init-text", &text);
}
