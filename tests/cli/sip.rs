//! `shaken sign --sip` and `shaken verify --sip` on real INVITEs (issue 4),
//! through the real binary, plus replay/fork through the library with a
//! shared store. The clock is pinned to the templates' Date (1471375418).
//!
//! Golden reports: `tests/data/sip/golden/*.json`; refresh them with
//! `SHAKEN_UPDATE_GOLDEN=1 cargo test --test cli sip::` after an intended change.

use crate::support::{bin, run_with_stdin, test_data};
use shaken::cert::{parse_chain, TrustAnchors};
use shaken::sip::SipRequest;
use shaken::sip_verify::{verify_request, SipReport};
use shaken::verify::Verifier;
use shaken::Limits;
use shaken::Verstat;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::Arc;

const NOW: &str = "1471375418";
const X5U: &str = "https://cert.example.org/sp-chain.pem";
const ORIGID: &str = "8f1c6a52-3b4e-4d7a-9c2e-5a1b0d3e7f60";
const TEMPLATES: &[&str] = &[
    "invite-tel.txt",
    "invite-sip-userphone.txt",
    "invite-compact.txt",
    "invite-folded.txt",
    "invite-pai-two.txt",
    "invite-no-date.txt",
    "invite-lf.txt",
];

fn data(f: &str) -> PathBuf {
    test_data("sip").join(f)
}

fn path(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Where the lab certificates are: the committed PKI or a fresh one.
struct Pki {
    root: String,
    chain: String,
    key: String,
}

fn committed() -> Pki {
    Pki {
        root: path(&data("pki/root.pem")),
        chain: path(&data("pki/sp-chain.pem")),
        key: path(&data("pki/sp.key.pem")),
    }
}

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    run_with_stdin(args, stdin)
}

fn sign_args<'a>(pki: &'a Pki, sip: &'a str) -> Vec<&'a str> {
    vec![
        "sign",
        "--sip",
        sip,
        "--key",
        &pki.key,
        "--x5u",
        X5U,
        "--attest",
        "A",
        "--iat",
        NOW,
        "--origid",
        ORIGID,
        "--deterministic",
    ]
}

/// Sign a template (or '-' with `stdin`) and return the signed message.
fn sign(pki: &Pki, sip: &str, stdin: Option<&[u8]>) -> Vec<u8> {
    let o = run(&sign_args(pki, sip), stdin);
    assert_eq!(
        o.status.code(),
        Some(0),
        "sign {sip}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

/// Verify a message on stdin; returns (exit code, stdout).
fn verify_fmt(pki: &Pki, msg: &[u8], format: &str) -> (i32, String) {
    let o = run(
        &[
            "verify",
            "--sip",
            "-",
            "--cert",
            &pki.chain,
            "--trust-anchors",
            &pki.root,
            "--now",
            NOW,
            "--format",
            format,
        ],
        Some(msg),
    );
    (
        o.status.code().unwrap(),
        String::from_utf8(o.stdout).unwrap(),
    )
}

/// Verify with JSON output, parsed into the library's typed report.
fn verify(pki: &Pki, msg: &[u8]) -> (i32, SipReport) {
    let (code, out) = verify_fmt(pki, msg, "json");
    let report: SipReport =
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    (code, report)
}

fn reason(r: &shaken::Report) -> Option<(u16, &str)> {
    r.reason.as_ref().map(|r| (r.code, r.id.as_str()))
}

/// Replace the first line starting with `prefix` (case-insensitive) by `line`.
fn replace_line(msg: &[u8], prefix: &str, line: &str) -> Vec<u8> {
    let text = String::from_utf8(msg.to_vec()).unwrap();
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut done = false;
    let lines: Vec<String> = text
        .split(eol)
        .map(|l| {
            if !done
                && l.to_ascii_lowercase()
                    .starts_with(&prefix.to_ascii_lowercase())
            {
                done = true;
                line.to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect();
    assert!(done, "no line starting with {prefix}");
    lines.join(eol).into_bytes()
}

fn identity_value(msg: &[u8]) -> String {
    let req = SipRequest::parse(msg, &Limits::default()).unwrap();
    req.identity_headers()[0].to_owned()
}

#[test]
fn sign_then_verify_every_template() {
    let pki = committed();
    for t in TEMPLATES {
        let signed = sign(&pki, &path(&data(t)), None);
        let (code, r) = verify(&pki, &signed);
        assert_eq!(code, 0, "{t}: {:?}", r.overall.reason);
        assert_eq!(r.overall.verstat, Verstat::Passed, "{t}");
        assert_eq!(r.overall.orig.as_deref(), Some("12155550121"), "{t}");
        assert_eq!(r.overall.dest, ["12125550143"], "{t}");
        assert_eq!(r.sip.verstat_param, ";verstat=TN-Validation-Passed");
        assert_eq!(r.sip.reason_header, None);
        assert_eq!(r.passports.len(), 1);
        // Body and Content-Length are untouched.
        let before = SipRequest::parse(&std::fs::read(data(t)).unwrap(), &Limits::default())
            .unwrap()
            .body()
            .to_vec();
        let after = SipRequest::parse(&signed, &Limits::default()).unwrap();
        assert_eq!(after.body(), &before[..], "{t}");
    }
}

/// `shaken sign --sip f | shaken verify --sip -`, a real OS pipe.
#[test]
fn pipeline_sign_into_verify() {
    let pki = committed();
    let tpl = path(&data("invite-tel.txt"));
    let mut signer = bin()
        .args(sign_args(&pki, &tpl))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let verifier = bin()
        .args([
            "verify",
            "--sip",
            "-",
            "--cert",
            &pki.chain,
            "--trust-anchors",
            &pki.root,
            "--now",
            NOW,
        ])
        .env_remove("SHAKEN_TRUST_ANCHORS")
        .stdin(Stdio::from(signer.stdout.take().unwrap()))
        .output()
        .unwrap();
    assert!(signer.wait().unwrap().success());
    let out = String::from_utf8(verifier.stdout).unwrap();
    assert_eq!(verifier.status.code(), Some(0), "{out}");
    assert!(out.starts_with("PASSED"), "{out}");
    assert!(out.contains("[0] ppt=shaken"), "{out}");
    assert!(out.contains(";verstat=TN-Validation-Passed"), "{out}");
}

#[test]
fn sign_reads_stdin() {
    let pki = committed();
    let tpl = std::fs::read(data("invite-tel.txt")).unwrap();
    let from_stdin = sign(&pki, "-", Some(&tpl));
    let from_file = sign(&pki, &path(&data("invite-tel.txt")), None);
    assert_eq!(from_stdin, from_file);
}

/// The committed signed message is what the committed key and template give
/// today (deterministic signing): the data files are current.
#[test]
fn committed_signed_message_is_reproducible() {
    let pki = committed();
    let signed = sign(&pki, &path(&data("invite-tel.txt")), None);
    assert_eq!(signed, std::fs::read(data("signed-tel.txt")).unwrap());
}

#[test]
fn sign_adds_date_when_missing_and_it_verifies() {
    let pki = committed();
    let signed = sign(&pki, &path(&data("invite-no-date.txt")), None);
    let req = SipRequest::parse(&signed, &Limits::default()).unwrap();
    assert_eq!(
        req.header_instances("Date"),
        ["Tue, 16 Aug 2016 19:23:38 GMT"]
    );
    let (code, _) = verify(&pki, &signed);
    assert_eq!(code, 0);
    // And a signed message whose Date is then removed still passes (Date is optional).
    let no_date = SipRequest::parse(&signed, &Limits::default())
        .unwrap()
        .without_header("date");
    let (code, r) = verify(&pki, &no_date);
    assert_eq!(code, 0, "{:?}", r.overall.reason);
}

#[test]
fn sign_refuses_a_date_far_from_iat() {
    let pki = committed();
    let tpl = path(&data("invite-tel.txt"));
    let mut args = sign_args(&pki, &tpl);
    let pos = args.iter().position(|a| *a == NOW).unwrap();
    args[pos] = "1471375600";
    let o = run(&args, None);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("Date") && err.contains("182 s"), "{err}");
}

#[test]
fn changed_from_number_is_438() {
    let pki = committed();
    let signed = std::fs::read(data("signed-tel.txt")).unwrap();
    let forged = replace_line(
        &signed,
        "From:",
        "From: \"Alice\" <tel:+12155550199>;tag=1928301774",
    );
    let (code, r) = verify(&pki, &forged);
    assert_eq!(code, 1);
    assert_eq!(reason(&r.overall), Some((438, "orig-mismatch")));
    assert_eq!(
        r.sip.reason_header.as_deref(),
        Some("Reason: SIP ;cause=438 ;text=\"Invalid Identity Header\"")
    );
    // Text output says the same.
    let (code, text) = verify_fmt(&pki, &forged, "text");
    assert_eq!(code, 1);
    assert!(text.starts_with("NOT VERIFIED"), "{text}");
    assert!(
        text.contains("438 Invalid Identity Header (orig-mismatch)"),
        "{text}"
    );
    assert!(text.contains("Reason: SIP ;cause=438"), "{text}");
}

#[test]
fn changed_to_number_is_438() {
    let pki = committed();
    let signed = std::fs::read(data("signed-tel.txt")).unwrap();
    let forged = replace_line(&signed, "To:", "To: <tel:+12125550199>");
    let (code, r) = verify(&pki, &forged);
    assert_eq!(code, 1);
    assert_eq!(reason(&r.overall), Some((438, "dest-mismatch")));
}

#[test]
fn date_two_minutes_off_is_403() {
    let pki = committed();
    let (code, r) = verify(&pki, &std::fs::read(data("signed-date-off.txt")).unwrap());
    assert_eq!(code, 1);
    assert_eq!(reason(&r.overall), Some((403, "date-mismatch")));
    assert_eq!(r.overall.verstat, Verstat::NoValidation);
    // A minute off is inside the window.
    let signed = std::fs::read(data("signed-tel.txt")).unwrap();
    let near = replace_line(&signed, "Date:", "Date: Tue, 16 Aug 2016 19:24:38 GMT");
    assert_eq!(verify(&pki, &near).0, 0);
}

/// Visual separators and `user=phone` in sip URIs, PAI written with them too.
#[test]
fn sip_uris_with_separators_match() {
    let pki = committed();
    let signed = sign(&pki, &path(&data("invite-tel.txt")), None);
    let m = replace_line(
        &signed,
        "From:",
        "From: <sip:+1-215-555-0121@atlanta.example.com;user=phone>;tag=1",
    );
    let m = replace_line(
        &m,
        "To:",
        "To: <sip:+1.212.555.0143@biloxi.example.com;user=phone>",
    );
    let (code, r) = verify(&pki, &m);
    assert_eq!(code, 0, "{:?}", r.overall.reason);
    assert_eq!(
        r.from.as_deref(),
        Some("sip:+1-215-555-0121@atlanta.example.com;user=phone")
    );
}

/// Compact names: `y:` for Identity (folded over two lines), `f:`, `t:`, `i:`.
#[test]
fn compact_and_folded_identity() {
    let pki = committed();
    let msg = std::fs::read(data("signed-compact-y.txt")).unwrap();
    let text = String::from_utf8(msg.clone()).unwrap();
    assert!(text.contains("\r\ny: ") && text.contains("\r\n   ;info="));
    let (code, r) = verify(&pki, &msg);
    assert_eq!(code, 0, "{:?}", r.overall.reason);
    assert!(r.call_id.is_some());
    // The folded template (From over three lines) signs and verifies too.
    let folded = sign(&pki, &path(&data("invite-folded.txt")), None);
    assert_eq!(verify(&pki, &folded).0, 0);
}

/// PAI with a tel and a sip value: orig may match either; From is then ignored.
#[test]
fn pai_two_values_either_matches() {
    let pki = committed();
    let signed = sign(&pki, &path(&data("invite-pai-two.txt")), None);
    let (code, r) = verify(&pki, &signed);
    assert_eq!(code, 0, "{:?}", r.overall.reason);
    // Only the second (sip) value carries the signed number.
    let m = replace_line(
        &signed,
        "P-Asserted-Identity:",
        "P-Asserted-Identity: <tel:+12155550100>, \"Alice\" <sip:+12155550121@atlanta.example.com;user=phone>",
    );
    assert_eq!(verify(&pki, &m).0, 0);
    // Only the first (tel) value does.
    let m = replace_line(
        &signed,
        "P-Asserted-Identity:",
        "P-Asserted-Identity: <tel:+12155550121>, <sip:+12155550100@atlanta.example.com;user=phone>",
    );
    assert_eq!(verify(&pki, &m).0, 0);
    // Neither: 438, even though nothing else changed.
    let m = replace_line(
        &signed,
        "P-Asserted-Identity:",
        "P-Asserted-Identity: <tel:+12155550100>, <sip:+12155550101@atlanta.example.com;user=phone>",
    );
    let (code, r) = verify(&pki, &m);
    assert_eq!(code, 1);
    assert_eq!(reason(&r.overall), Some((438, "orig-mismatch")));
}

#[test]
fn two_shaken_one_tampered() {
    let pki = committed();
    let msg = std::fs::read(data("signed-two-shaken.txt")).unwrap();
    let (code, r) = verify(&pki, &msg);
    assert_eq!(code, 0);
    assert_eq!(r.passports.len(), 2);
    assert!(r.passports[0].report.passed());
    assert_eq!(
        reason(&r.passports[1].report),
        Some((438, "signature-invalid"))
    );
    assert_eq!(r.passports[1].report.verstat, Verstat::Failed);
    assert!(r.passports.iter().all(|p| p.supported));
    // Only the tampered one left: the call fails.
    let good = identity_value(&std::fs::read(data("signed-tel.txt")).unwrap());
    let text = String::from_utf8(msg).unwrap();
    let only_bad = text.replacen(&format!("Identity: {good}\r\n"), "", 1);
    assert_ne!(only_bad, text);
    let (code, r) = verify(&pki, only_bad.as_bytes());
    assert_eq!(code, 1);
    assert_eq!(r.overall.verstat, Verstat::Failed);
    assert_eq!(r.sip.verstat_param, ";verstat=TN-Validation-Failed");
}

/// A `div` PASSporT that is a shaken one relabelled (it still has `attest`
/// and no `div` claim): the div is checked (RFC 8946) and fails on its own,
/// the chain is invalid, and the valid `shaken` still decides because the
/// call was not retargeted (Request-URI and To are in its dest). A valid
/// extra never hides a broken shaken.
#[test]
fn broken_div_passport_does_not_decide_an_undiverted_call() {
    let pki = committed();
    let msg = std::fs::read(data("signed-div.txt")).unwrap();
    let (code, r) = verify(&pki, &msg);
    assert_eq!(code, 0);
    assert_eq!(r.passports.len(), 2);
    assert!(r.passports[0].supported && r.passports[0].report.passed());
    assert_eq!(r.passports[1].ppt.as_deref(), Some("div"));
    assert_eq!(
        reason(&r.passports[1].report),
        Some((438, "div-claim-forbidden"))
    );
    let d = r.diversion.as_ref().unwrap();
    assert_eq!(d.verdict, shaken::div::DivVerdict::Invalid);
    assert_eq!(d.reason.as_ref().unwrap().id, "div-hop-invalid");
    // Break the shaken one: the call fails although the div is there.
    let good = identity_value(&msg);
    let broken = String::from_utf8(msg)
        .unwrap()
        .replacen(&good, &tamper(&good), 1);
    let (code, r) = verify(&pki, broken.as_bytes());
    assert_eq!(code, 1);
    assert!(r.passports[0].supported);
    assert_eq!(reason(&r.overall), Some((438, "signature-invalid")));
}

/// Flip one character of the signature (base64url stays canonical).
fn tamper(identity: &str) -> String {
    let (token, rest) = identity.split_once(';').unwrap();
    let (hp, sig) = token.rsplit_once('.').unwrap();
    let mut sig = sig.as_bytes().to_vec();
    sig[5] = if sig[5] == b'A' { b'B' } else { b'A' };
    format!("{hp}.{};{rest}", String::from_utf8(sig).unwrap())
}

#[test]
fn unsigned_is_428() {
    let pki = committed();
    let (code, r) = verify(&pki, &std::fs::read(data("invite-tel.txt")).unwrap());
    assert_eq!(code, 1);
    assert_eq!(reason(&r.overall), Some((428, "no-identity")));
    assert_eq!(r.sip.verstat_param, ";verstat=No-TN-Validation");
    assert_eq!(
        r.sip.reason_header.as_deref(),
        Some("Reason: SIP ;cause=428 ;text=\"Use Identity Header\"")
    );
    assert!(r.passports.is_empty());
}

#[test]
fn malformed_sip_is_exit_1_unreadable_file_is_exit_2() {
    let pki = committed();
    let o = run(
        &[
            "verify",
            "--sip",
            "-",
            "--cert",
            &pki.chain,
            "--trust-anchors",
            &pki.root,
            "--now",
            NOW,
        ],
        Some(b"SIP/2.0 200 OK\r\n\r\n"),
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("not a SIP request") && err.contains("response"),
        "{err}"
    );
    assert!(o.stdout.is_empty(), "text format prints nothing on stdout");
    // With --format json, scripts still get one report on stdout.
    let o = run(
        &[
            "verify",
            "--sip",
            "-",
            "--cert",
            &pki.chain,
            "--trust-anchors",
            &pki.root,
            "--now",
            NOW,
            "--format",
            "json",
        ],
        Some(b"garbage\r\n\r\n"),
    );
    assert_eq!(o.status.code(), Some(1));
    let r: SipReport = serde_json::from_slice(&o.stdout).unwrap();
    let reason = r.overall.reason.as_ref().unwrap();
    assert_eq!((reason.code, reason.id.as_str()), (400, "sip-malformed"));
    assert!(
        reason.detail.contains("malformed request line"),
        "{}",
        reason.detail
    );
    assert_eq!(r.sip.verstat_param, ";verstat=No-TN-Validation");
    assert!(r.sip.reason_header.is_none() && r.passports.is_empty());
    let o = run(
        &[
            "verify",
            "--sip",
            "/nonexistent/invite.txt",
            "--cert",
            &pki.chain,
            "--trust-anchors",
            &pki.root,
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/invite.txt"));
}

#[test]
fn sign_rejects_non_tn_from() {
    let pki = committed();
    let tpl = std::fs::read(data("invite-tel.txt")).unwrap();
    let m = replace_line(&tpl, "From:", "From: <sip:alice@atlanta.example.com>;tag=1");
    let o = run(&sign_args(&pki, "-"), Some(&m));
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("not a telephone number"), "{err}");
}

fn library_verifier(pki: &Pki) -> (Verifier, Arc<Vec<shaken::cert::Certificate>>) {
    let mut anchors = TrustAnchors::new();
    anchors.add_pem(&std::fs::read(&pki.root).unwrap()).unwrap();
    let chain = parse_chain(&std::fs::read(&pki.chain).unwrap(), &Limits::default()).unwrap();
    (Verifier::new(anchors), Arc::new(chain))
}

/// Replay: the same Identity with another Call-ID is refused (438 replay);
/// a forked INVITE (same Call-ID) is not a replay. One shared store.
#[test]
fn replay_and_forked_invite_with_shared_store() {
    let pki = committed();
    let (verifier, chain) = library_verifier(&pki);
    let store = Arc::new(verifier.default_replay_store());
    let verifier = verifier.with_replay(store);
    let now: i64 = NOW.parse().unwrap();
    let signed = std::fs::read(data("signed-tel.txt")).unwrap();
    let check = |msg: &[u8], at: i64| {
        let req = SipRequest::parse(msg, &Limits::default()).unwrap();
        verify_request(&verifier, &req, at, |_| Ok(chain.clone()))
    };
    assert!(check(&signed, now).passed());
    // Forked: same message (same Call-ID) reaches us again on another branch.
    let forked = replace_line(
        &signed,
        "Via:",
        "Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bKfork2",
    );
    assert!(check(&forked, now + 1).passed());
    // Replayed: the captured Identity in a new call (new Call-ID).
    let replayed = replace_line(
        &signed,
        "Call-ID:",
        "Call-ID: f81d4fae7dec11d0@evil.example.net",
    );
    let r = check(&replayed, now + 3);
    assert!(!r.passed());
    assert_eq!(reason(&r.overall), Some((438, "replay")));
    assert_eq!(r.overall.verstat, Verstat::Failed);
    assert!(r
        .overall
        .reason
        .as_ref()
        .unwrap()
        .detail
        .contains("already verified 3 s ago for another call (with a different Call-ID)"));
}

/// A lab PKI made now (not the committed one), written to a tempdir.
#[test]
fn fresh_lab_pki_in_tempdir() {
    let now: i64 = NOW.parse().unwrap();
    let lab =
        shaken::pki::LabPki::generate(&shaken::pki::LabPkiOptions::new(now - 86_400, now + 86_400))
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, body: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        path(&p)
    };
    let pki = Pki {
        root: write("root.pem", &lab.root.cert_pem),
        chain: write("sp-chain.pem", &lab.leaf_chain_pem()),
        key: write("sp.key.pem", &lab.leaf.key_pem),
    };
    for t in TEMPLATES {
        let signed = sign(&pki, &path(&data(t)), None);
        assert_eq!(verify(&pki, &signed).0, 0, "{t}");
        // The committed root does not trust this PKI's signer.
        let other = Pki {
            root: committed().root,
            chain: pki.chain.clone(),
            key: pki.key.clone(),
        };
        let (code, r) = verify(&other, &signed);
        assert_eq!(code, 1);
        assert_eq!(r.overall.reason.as_ref().map(|r| r.code), Some(437));
    }
}

/// Golden JSON reports: compared structurally, and read into typed structs.
#[test]
fn golden_reports() {
    let pki = committed();
    let update = std::env::var_os("SHAKEN_UPDATE_GOLDEN").is_some();
    for (msg, expect_code) in [
        ("signed-tel", 0),
        ("signed-two-shaken", 0),
        ("signed-div", 0),
        ("signed-date-off", 1),
    ] {
        let input = std::fs::read(data(&format!("{msg}.txt"))).unwrap();
        let (code, out) = verify_fmt(&pki, &input, "json");
        assert_eq!(code, expect_code, "{msg}");
        let got: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        let golden = data(&format!("golden/{msg}.json"));
        if update {
            std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
            let mut text = serde_json::to_string_pretty(&got).unwrap();
            text.push('\n');
            std::fs::write(&golden, text).unwrap();
        }
        let want: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&golden).unwrap()).unwrap();
        assert_eq!(got, want, "{msg}: report differs from {}", golden.display());
        // Typed: the golden file is a SipReport.
        let typed: SipReport = serde_json::from_value(want).unwrap();
        assert_eq!(typed.passed(), expect_code == 0);
        assert_eq!(typed.passports.first().map(|p| p.index), Some(0));
    }
}
