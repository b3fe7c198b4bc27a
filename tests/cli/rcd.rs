//! Rich Call Data through the binary (issue 16): `sign --rcd-*`, `verify`
//! text and JSON (`rcd`), `--sip` with the separate `ppt=rcd` PASSporT, the
//! display-name comparison and the Call-Info lines; every malformed shape
//! a signer could send is refused by the verifier with `rcd-invalid`.

use crate::support::{
    certs, crafted, run_with_stdin, shaken, stdout, test_data, DEST, ORIG, ORIGID, X5U,
};
use shaken::Report;
use std::process::Output;

const NOW: &str = "1800000000";

fn golden(name: &str, output: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(test_data("golden"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!(name, output));
}

fn out(o: &Output) -> String {
    format!(
        "exit: {}\n{}",
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout)
    )
}

fn sign(extra: &[&str]) -> Output {
    let key = certs("sp.key.pem");
    let mut a = vec![
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
        NOW,
        "--origid",
        ORIGID,
        "--deterministic",
    ];
    a.extend_from_slice(extra);
    shaken(&a)
}

fn verify(extra: &[&str]) -> Output {
    let (chain, root) = (certs("sp-chain.pem"), certs("root.pem"));
    let mut a = vec![
        "verify",
        "--cert",
        &chain,
        "--trust-anchors",
        &root,
        "--now",
        NOW,
    ];
    a.extend_from_slice(extra);
    shaken(&a)
}

const BRAND: &[&str] = &[
    "--rcd-nam",
    "Acme Bank",
    "--crn",
    "Card fraud alert",
    "--rcd-icn",
    "https://cdn.example.com/acme.png",
];

#[test]
fn inline_rcd_signs_and_verifies() {
    let o = sign(BRAND);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    golden("rcd-sign-header", &out(&o));
    let id = stdout(&o).trim().to_owned();
    for format in ["text", "json"] {
        let o = verify(&[&id, "--orig", ORIG, "--dest", DEST, "--format", format]);
        golden(&format!("rcd-verify-{format}"), &out(&o));
        assert_eq!(o.status.code(), Some(0));
        if format == "json" {
            let r: Report = serde_json::from_slice(&o.stdout).unwrap();
            let rcd = r.rcd.unwrap();
            assert!(rcd.verified);
            assert_eq!(rcd.nam.as_deref(), Some("Acme Bank"));
            assert_eq!(rcd.crn.as_deref(), Some("Card fraud alert"));
        } else {
            assert!(stdout(&o).contains("caller name: Acme Bank (verified)"));
        }
    }
    // The JSON of sign carries the claims.
    let o = sign(&[BRAND, &["--format", "json"]].concat());
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["claims"]["rcd"]["nam"], "Acme Bank");
    assert_eq!(j["claims"]["crn"], "Card fraud alert");
    assert!(j.get("rcd_identity").is_none());
}

#[test]
fn separate_rcd_passport_is_a_second_identity_header() {
    let o = sign(&[BRAND, &["--rcd-separate"]].concat());
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    golden("rcd-sign-separate", &out(&o));
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].ends_with(";ppt=shaken"));
    assert!(lines[1].ends_with(";ppt=rcd"));
    // The separate PASSporT verifies alone (ppt rcd, no attest).
    let o = verify(&[lines[1], "--format", "json"]);
    let r: Report = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r.ppt.as_deref(), Some("rcd"));
    assert!(r.rcd.unwrap().verified);
    // The shaken one carries no rcd.
    let o = verify(&[lines[0], "--format", "json"]);
    let r: Report = serde_json::from_slice(&o.stdout).unwrap();
    assert!(r.rcd.is_none());
}

#[test]
fn sip_reports_the_call_info_and_the_display_name() {
    let dir = tempfile::tempdir().unwrap();
    // From "Acme Bank": the signed name and the display name agree.
    let invite = test_data("sip/invite-rcd.txt");
    let key = certs("sp.key.pem");
    for (name, separate) in [("inline", false), ("separate", true)] {
        let mut a = vec![
            "sign",
            "--sip",
            invite.to_str().unwrap(),
            "--key",
            &key,
            "--x5u",
            X5U,
            "--attest",
            "A",
            "--iat",
            NOW,
            "--origid",
            ORIGID,
            "--deterministic",
        ];
        a.extend_from_slice(BRAND);
        if separate {
            a.push("--rcd-separate");
        }
        let o = shaken(&a);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let signed = dir.path().join(format!("{name}.txt"));
        std::fs::write(&signed, &o.stdout).unwrap();
        let idents = stdout(&o).matches("\nIdentity: ").count();
        assert_eq!(idents, 1 + usize::from(separate), "{name}");
        for format in ["text", "json"] {
            let (chain, root) = (certs("sp-chain.pem"), certs("root.pem"));
            let o = shaken(&[
                "verify",
                "--sip",
                signed.to_str().unwrap(),
                "--cert",
                &chain,
                "--trust-anchors",
                &root,
                "--now",
                "1800000002",
                "--format",
                format,
            ]);
            assert_eq!(o.status.code(), Some(0), "{name} {format}: {}", stdout(&o));
            golden(&format!("rcd-verify-sip-{name}-{format}"), &out(&o));
            if format == "json" {
                let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
                let rcd = &j["rcd"];
                assert_eq!(rcd["verified"], true, "{rcd}");
                assert_eq!(rcd["display_name"]["name"], "Acme Bank");
                assert_eq!(rcd["display_name"]["matches"], true);
                let lines: Vec<&str> = rcd["call_info"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l.as_str().unwrap())
                    .collect();
                assert_eq!(
                    lines,
                    [
                        "Call-Info: <https://cdn.example.com/acme.png>;purpose=icon;verified=\"true\"",
                        "Call-Info: <data:>;purpose=jcard;call-reason=\"Card fraud alert\";verified=\"true\"",
                    ]
                );
            }
        }
    }
}

/// Every malformed shape, signed by the lab key, fails with 438
/// `rcd-invalid` and a detail naming the member.
#[test]
fn malformed_rcd_is_refused_with_rcd_invalid() {
    for (claims, member) in [
        (r#""rcd":{"crn":"x"}"#, "\"nam\""),
        (
            r#""rcd":{"nam":"a","jcd":["vcard",[]],"jcl":"https://x.example/j.json"}"#,
            "\"jcl\"",
        ),
        (r#""rcd":"Acme""#, "\"rcd\""),
        (r#""rcd":["Acme"]"#, "\"rcd\""),
        (
            r#""rcdi":{"/nam":"sha256-sM275lTgzCte+LHOKHtU4SxG8shlOo6OS4ot8IJQImY"}"#,
            "\"rcdi\"",
        ),
        (
            r#""rcd":{"nam":"a"},"rcdi":{"/nam":"sha256-not base64"}"#,
            "\"/nam\"",
        ),
        (r#""rcd":{"nam":7}"#, "rcd.nam"),
        (r#""crn":["x"]"#, "crn"),
    ] {
        let payload = format!(
            r#"{{"attest":"A","dest":{{"tn":["{DEST}"]}},"iat":{NOW},"orig":{{"tn":"{ORIG}"}},"origid":"{ORIGID}",{claims}}}"#
        );
        let header = crate::support::header();
        let o = verify(&[&crafted(&header, &payload), "--format", "json"]);
        assert_eq!(o.status.code(), Some(1), "{claims}");
        let r: Report = serde_json::from_slice(&o.stdout).unwrap();
        let reason = r.reason.unwrap();
        assert_eq!(
            (reason.id.as_str(), reason.code),
            ("rcd-invalid", 438),
            "{claims}"
        );
        assert!(
            reason.detail.contains(member),
            "{claims}: {}",
            reason.detail
        );
    }
}

#[test]
fn rcd_flags_are_checked() {
    // --rcd-separate with nothing to carry; --rcd-jcl with --rcd-jcd; an
    // apn or a logo without a name; a name with a line break.
    let jcd = test_data("vectors/rcd/jcd-quartermaster.json");
    for args in [
        vec!["--rcd-separate"],
        vec![
            "--rcd-nam",
            "A",
            "--rcd-jcl",
            "https://x.example/j",
            "--rcd-jcd",
            jcd.to_str().unwrap(),
        ],
        vec!["--rcd-apn", "12155550100"],
        vec!["--rcd-icn", "https://x.example/a.png"],
        vec!["--rcd-nam", "A\r\nX-Evil: 1"],
        vec!["--rcd-nam", "A", "--rcd-apn", "not a number"],
    ] {
        let o = sign(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stdout(&o));
        assert!(!String::from_utf8_lossy(&o.stderr).is_empty());
    }
    // An inline jCard from a file, signed with digests of the name and
    // the card: its three URIs are referenced content that cannot be
    // fetched here (example.com is not on loopback), so --rcdi refuses.
    let o = sign(&[
        "--rcd-nam",
        "Q Branch",
        "--rcd-jcd",
        jcd.to_str().unwrap(),
        "--rcdi",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("/jcd/1/3/3"), "{err}");
    // Without --rcdi it signs, and the jCard is in the report.
    let o = sign(&["--rcd-nam", "Q Branch", "--rcd-jcd", jcd.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = verify(&[stdout(&o).trim(), "--format", "json"]);
    let r: Report = serde_json::from_slice(&o.stdout).unwrap();
    let rcd = r.rcd.unwrap();
    assert_eq!(rcd.jcd.unwrap()[1][1][3], "Q Branch");
}

/// `--batch` lines get the rcd object too.
#[test]
fn batch_lines_carry_rcd() {
    let o = sign(BRAND);
    let id = stdout(&o).trim().to_owned();
    let line = serde_json::json!({"from": {"tn": ORIG}, "to": {"tn": [DEST]}, "time": 1_800_000_000, "identity": id});
    let (chain, root) = (certs("sp-chain.pem"), certs("root.pem"));
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    let o = run_with_stdin(
        &[
            "verify",
            "--batch",
            "-",
            "--cert",
            &chain,
            "--trust-anchors",
            &root,
            "--now",
            NOW,
            "--no-replay",
            "--jobs",
            "1",
            "--report",
            html.to_str().unwrap(),
        ],
        Some(format!("{line}\n").as_bytes()),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let j: serde_json::Value = serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap();
    assert_eq!(j["rcd"]["nam"], "Acme Bank", "{j}");
    assert_eq!(j["rcd"]["verified"], true);
    // The HTML report lists the calls with a name, verified or not.
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("<h2>Caller names (Rich Call Data)</h2>"),
        "{page}"
    );
    assert!(page.contains("<td>Acme Bank</td>"), "{page}");
}

/// `sign --batch`: a line's own `rcd`/`crn`/`rcdSeparate` (the REST
/// extension), else the flags; a malformed one is an error line.
#[test]
fn sign_batch_with_rcd() {
    let key = certs("sp.key.pem");
    let input = concat!(
        r#"{"attest":"A","orig":{"tn":"12155550121"},"dest":{"tn":["12125550143"]},"iat":1800000000,"origid":"de305d54-75b4-431b-adb2-eb6b9e546014","rcd":{"nam":"Line Bank"},"crn":"Fraud"}"#,
        "\n",
        r#"{"attest":"A","orig":{"tn":"12155550121"},"dest":{"tn":["12125550143"]},"iat":1800000000,"origid":"de305d54-75b4-431b-adb2-eb6b9e546015"}"#,
        "\n",
        r#"{"attest":"A","orig":{"tn":"12155550121"},"dest":{"tn":["12125550143"]},"iat":1800000000,"origid":"de305d54-75b4-431b-adb2-eb6b9e546016","rcd":{"nam":"Sep Bank"},"rcdSeparate":true}"#,
        "\n",
        r#"{"attest":"A","orig":{"tn":"12155550121"},"dest":{"tn":["12125550143"]},"iat":1800000000,"rcd":{"apn":"1"}}"#,
        "\n",
    );
    let o = run_with_stdin(
        &[
            "sign",
            "--batch",
            "-",
            "--key",
            &key,
            "--x5u",
            X5U,
            "--deterministic",
            "--jobs",
            "1",
            "--rcd-nam",
            "Flag Bank",
        ],
        Some(input.as_bytes()),
    );
    assert_eq!(o.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let name = |id: &str| {
        let o = verify(&[id, "--format", "json"]);
        let r: Report = serde_json::from_slice(&o.stdout).unwrap();
        r.rcd.and_then(|r| r.nam)
    };
    assert_eq!(
        name(lines[0]["identity"].as_str().unwrap()).as_deref(),
        Some("Line Bank")
    );
    assert_eq!(
        name(lines[1]["identity"].as_str().unwrap()).as_deref(),
        Some("Flag Bank")
    );
    assert_eq!(name(lines[2]["identity"].as_str().unwrap()), None);
    assert_eq!(
        name(lines[2]["rcd_identity"].as_str().unwrap()).as_deref(),
        Some("Sep Bank")
    );
    assert!(
        lines[3]["error"].as_str().unwrap().contains("\"nam\""),
        "{}",
        lines[3]
    );
}

/// Certificates that constrain Rich Call Data (RFC 9795 §6.2, §7.1, §16.1),
/// made by openssl (tests/data/cert/openssl-rcd) and by `pki init
/// --claim-*`: the permitted name passes, another name, a missing name or a
/// forbidden one fails with 438 `claim-constraint-violated`.
#[test]
fn claim_constraints_from_openssl_and_pki_init() {
    let dir = tempfile::tempdir().unwrap();
    let lab = dir.path().join("lab");
    let o = shaken(&[
        "pki",
        "init",
        lab.to_str().unwrap(),
        "--not-before",
        "1799990000",
        "--claim-must-include",
        "rcd",
        "--claim-permitted",
        r#"rcd={"nam":"Acme Bank"}"#,
        "--claim-permitted",
        "crn=Card fraud alert",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let lab_file = |f: &str| lab.join(f).to_string_lossy().into_owned();
    let ossl = |f: &str| {
        test_data(&format!("cert/openssl-rcd/{f}"))
            .to_string_lossy()
            .into_owned()
    };
    let sources = [
        (
            "pki init",
            lab_file("sp.key.pem"),
            lab_file("sp-chain.pem"),
            lab_file("root.pem"),
        ),
        (
            "openssl",
            ossl("rcd-name.key.pem"),
            ossl("rcd-name-chain.pem"),
            ossl("root.pem"),
        ),
    ];
    for (what, key, chain, root) in &sources {
        let run = |rcd: &[&str]| {
            let mut a = vec![
                "sign", "--key", key, "--x5u", X5U, "--orig", ORIG, "--dest", DEST, "--attest",
                "A", "--iat", NOW,
            ];
            a.extend_from_slice(rcd);
            let o = shaken(&a);
            assert_eq!(
                o.status.code(),
                Some(0),
                "{what}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let id = stdout(&o).trim().to_owned();
            let o = shaken(&[
                "verify",
                &id,
                "--cert",
                chain,
                "--trust-anchors",
                root,
                "--now",
                NOW,
                "--format",
                "json",
            ]);
            serde_json::from_slice::<Report>(&o.stdout).unwrap()
        };
        let ok = run(&["--rcd-nam", "Acme Bank", "--crn", "Card fraud alert"]);
        assert_eq!(ok.reason, None, "{what}");
        assert!(ok.rcd.unwrap().verified, "{what}");
        for rcd in [
            &["--rcd-nam", "Evil Bank", "--crn", "Card fraud alert"][..],
            &["--rcd-nam", "Acme Bank", "--crn", "You won a prize"][..],
            &[][..],
        ] {
            let r = run(rcd);
            let reason = r.reason.unwrap_or_else(|| panic!("{what} {rcd:?} passed"));
            assert_eq!(
                (reason.id.as_str(), reason.code),
                ("claim-constraint-violated", 438),
                "{what} {rcd:?}"
            );
        }
    }
    // The gateway delegate made by openssl must never carry a name.
    let key = ossl("no-rcd.key.pem");
    let (chain, root) = (ossl("no-rcd-chain.pem"), ossl("root.pem"));
    for (rcd, passes) in [
        (&[][..], true),
        (&["--rcd-nam", "Acme Bank"][..], false),
        (&["--crn", "x"][..], false),
    ] {
        let mut a = vec![
            "sign", "--key", &key, "--x5u", X5U, "--orig", ORIG, "--dest", DEST, "--attest", "C",
            "--iat", NOW,
        ];
        a.extend_from_slice(rcd);
        let id = stdout(&shaken(&a)).trim().to_owned();
        let o = shaken(&[
            "verify",
            &id,
            "--cert",
            &chain,
            "--trust-anchors",
            &root,
            "--now",
            NOW,
            "--format",
            "json",
        ]);
        let r: Report = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(r.reason.is_none(), passes, "{rcd:?}: {:?}", r.reason);
        if !passes {
            assert_eq!(r.reason.unwrap().id, "claim-constraint-violated");
        }
    }
    // A malformed --claim-permitted is a usage error.
    let o = shaken(&[
        "pki",
        "init",
        dir.path().join("x").to_str().unwrap(),
        "--claim-permitted",
        "rcd",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

/// A digest over a logo that was not fetched: the call passes, the RCD is
/// not verified, the JSON says which pointer and why, and stderr names the
/// flag that fetches it.
#[test]
fn unfetched_content_is_unverified_with_a_hint() {
    let payload = format!(
        r#"{{"attest":"A","dest":{{"tn":["{DEST}"]}},"iat":{NOW},"orig":{{"tn":"{ORIG}"}},"origid":"{ORIGID}","rcd":{{"nam":"Acme Bank","icn":"https://cdn.example.com/acme.png"}},"rcdi":{{"/icn":"sha256-sM275lTgzCte+LHOKHtU4SxG8shlOo6OS4ot8IJQImY="}}}}"#
    );
    let id = crafted(&crate::support::header(), &payload);
    let o = verify(&[&id, "--orig", ORIG, "--dest", DEST, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0));
    let r: Report = serde_json::from_slice(&o.stdout).unwrap();
    let rcd = r.rcd.unwrap();
    assert!(!rcd.verified);
    assert_eq!(rcd.integrity["/icn"], shaken::rcd::Integrity::Unverified);
    assert!(rcd.reason.unwrap().contains("/icn"));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--fetch-rcd"));
    let o = verify(&[&id, "--orig", ORIG, "--dest", DEST]);
    assert!(
        stdout(&o).contains("caller name: Acme Bank (not verified: /icn: "),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("digest       /icn unverified"),
        "{}",
        stdout(&o)
    );
}
