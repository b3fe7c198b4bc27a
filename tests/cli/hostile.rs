//! Hostile input, end to end (issue 8, part 3).
//!
//! Each class of input a stranger can send is driven through the real
//! binary (`shaken verify ... --format json`) where the command line can
//! express it, so both the exit status and the JSON `reason` are checked:
//! 1 and a named reason when verification ran and failed, 2 and a named
//! cause on stderr when the input was refused as a usage/input error. Where
//! the binary cannot carry the input (a 1 MiB argument, a raised limit), the
//! library is called directly. Nothing may panic, hang (every child runs
//! under a 20 s guard) or be accepted.
//!
//! Tokens are signed with the lab SP key (`certs/sp.key.pem`) over the exact
//! bytes under test, so the check that refuses them is the one each row
//! targets, not the signature. `docs/hostile.md` is the table of classes.

use crate::support::http::{Reply, Server};
use crate::support::{
    bin, certs, crafted, header, header_with, identity, payload_iat, token, DEST, ORIG, ORIGID, X5U,
};
use serde_json::Value;
use shaken::b64;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

const NOW: i64 = 1_800_000_000;
/// Upper bound on one child's run: a guard against hangs, not a speed test.
const HANG_GUARD: Duration = Duration::from_secs(20);

// ------------------------------------------------------------- harness

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

/// Run the binary with a hang guard; `stdin` is fed from a thread.
fn run(args: &[OsString], stdin: Option<Vec<u8>>) -> Out {
    let start = Instant::now();
    let mut child = bin()
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(data) = stdin {
        let mut si = child.stdin.take().unwrap();
        std::thread::spawn(move || {
            // The child may stop reading early (size cap): a broken pipe is fine.
            let _ = si.write_all(&data);
        });
    }
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let ho = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let he = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > HANG_GUARD {
            let _ = child.kill();
            let _ = child.wait();
            panic!("shaken {args:?} still running after {HANG_GUARD:?}: hang");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let out = Out {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&ho.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&he.join().unwrap()).into_owned(),
        elapsed: start.elapsed(),
    };
    assert!(
        !out.stderr.contains("panicked"),
        "shaken panicked on {args:?}:\n{}",
        out.stderr
    );
    out
}

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

/// `shaken verify VALUE --cert lab chain --trust-anchors lab --now NOW --format json EXTRA`.
fn verify_args(value: &str, extra: &[&str]) -> Vec<OsString> {
    let now = NOW.to_string();
    let (cert, anchors) = (certs("sp-chain.pem"), certs("anchors.pem"));
    let mut a = os(&[
        "verify",
        value,
        "--cert",
        &cert,
        "--trust-anchors",
        &anchors,
        "--now",
        &now,
        "--format",
        "json",
    ]);
    a.extend(extra.iter().map(OsString::from));
    a
}

/// `verify VALUE --cert CERT` with the lab anchors and the pinned clock, JSON out.
fn verify_cert_args(value: &str, cert: &str) -> Vec<OsString> {
    let mut a = verify_args(value, &[]);
    if let Some(c) = a.get_mut(3) {
        *c = OsString::from(cert);
    }
    a
}

/// The JSON report of a run that exited 1, or a panic with its output.
fn report(o: &Out) -> Value {
    serde_json::from_str(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}), exit {}:\n{}\n{}",
            o.code, o.stdout, o.stderr
        )
    })
}

/// What a row expects.
enum Expect {
    /// Exit 1; `reason.id` equals the id; `reason.detail` contains the text.
    Fail(&'static str, &'static str),
    /// Exit 2; stderr contains the text.
    Usage(&'static str),
    /// Exit 0 (a control row: the same input, made valid).
    Pass,
}

/// Check one run against its expectation; returns a description of the
/// mismatch, if any (rows are collected so one run reports every class).
fn check(class: &str, o: &Out, want: &Expect) -> Option<String> {
    let bad = |why: String| {
        Some(format!(
            "[{class}] {why}\n  stdout: {}\n  stderr: {}",
            o.stdout.trim(),
            o.stderr.trim()
        ))
    };
    match want {
        Expect::Pass => {
            if o.code != 0 {
                return bad(format!("exit {} (want 0)", o.code));
            }
            None
        }
        Expect::Usage(text) => {
            if o.code != 2 {
                return bad(format!("exit {} (want 2)", o.code));
            }
            if !o.stderr.contains(text) {
                return bad(format!("stderr does not name {text:?}"));
            }
            None
        }
        Expect::Fail(id, text) => {
            if o.code != 1 {
                return bad(format!("exit {} (want 1)", o.code));
            }
            let r: Value = match serde_json::from_str(&o.stdout) {
                Ok(v) => v,
                Err(e) => return bad(format!("stdout is not a JSON report: {e}")),
            };
            let got_id = r["reason"]["id"].as_str().unwrap_or("");
            let detail = r["reason"]["detail"].as_str().unwrap_or("");
            if got_id != *id {
                return bad(format!("reason.id {got_id:?} (want {id:?})"));
            }
            if !detail.contains(text) {
                return bad(format!(
                    "reason.detail {detail:?} does not contain {text:?}"
                ));
            }
            if r["verstat"] == "TN-Validation-Passed" {
                return bad("verstat says passed".into());
            }
            None
        }
    }
}

/// One row: class, arguments, stdin, expectation.
type Row<'a> = (&'a str, Vec<OsString>, Option<Vec<u8>>, Expect);

fn run_table(rows: Vec<Row<'_>>) {
    let mut failures = Vec::new();
    for (class, args, stdin, want) in rows {
        let o = run(&args, stdin);
        if std::env::var_os("HOSTILE_SHOW").is_some() {
            // `HOSTILE_SHOW=1 cargo test --test cli hostile:: -- --nocapture`: the table of docs/hostile.md.
            let r: Value = serde_json::from_str(&o.stdout).unwrap_or(Value::Null);
            let said = match &r["reason"] {
                Value::Null => o.stderr.trim().to_owned(),
                reason => format!("{} {}: {}", reason["code"], reason["id"], reason["detail"]),
            };
            eprintln!("| {class} | {} | {said} |", o.code);
        }
        if let Some(f) = check(class, &o, &want) {
            failures.push(f);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

// ------------------------------------------------------------- tokens

/// A token with the given signature bytes instead of a real one.
fn token_with_sig(header: &[u8], payload: &[u8], sig: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64::encode(header),
        b64::encode(payload),
        b64::encode(sig)
    )
}

fn payload() -> String {
    payload_iat(&NOW.to_string())
}

/// One table row verifying `value` with the lab chain.
fn row<'a>(class: &'a str, value: &str, extra: &[&str], want: Expect) -> Row<'a> {
    (class, verify_args(value, extra), None, want)
}

// P-256 group order n.
const N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

// ------------------------------------------------------------- tests

#[test]
fn control_the_crafted_baseline_passes() {
    // Every row below changes one thing in this token, which passes.
    let o = run(
        &verify_args(
            &crafted(&header(), &payload()),
            &["--orig", ORIG, "--dest", DEST],
        ),
        None,
    );
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    assert_eq!(report(&o)["verstat"], "TN-Validation-Passed");
}

#[test]
fn empty_whitespace_and_oversized_input() {
    let good = crafted(&header(), &payload());
    // 100 KiB fits in one argv string (Linux caps one at 128 KiB); 1 MiB goes through stdin.
    let big_arg = format!("{good};x={}", "a".repeat(100 * 1024));
    let mut rows = vec![
        row(
            "empty argument",
            "",
            &[],
            Expect::Usage("no Identity header value given"),
        ),
        row(
            "whitespace argument",
            " \t \r\n ",
            &[],
            Expect::Usage("no Identity header value given"),
        ),
        row(
            "Identity: prefix and nothing else",
            "Identity:   ",
            &[],
            Expect::Usage("no Identity header value given"),
        ),
        row(
            "100 KiB header",
            &big_arg,
            &[],
            Expect::Fail("identity-malformed", "the limit is 8192"),
        ),
        row(
            "whitespace inside the token",
            "eyJh bGc.x.y",
            &[],
            Expect::Fail("identity-malformed", "contains ' '"),
        ),
    ];
    rows.push((
        "empty stdin",
        verify_args("-", &[]),
        Some(Vec::new()),
        Expect::Usage("no Identity header value given"),
    ));
    rows.push((
        "whitespace stdin",
        verify_args("-", &[]),
        Some(b" \n\t\r\n".to_vec()),
        Expect::Usage("no Identity header value given"),
    ));
    let mut mib = good.clone().into_bytes();
    mib.extend(std::iter::repeat_n(b'A', 1024 * 1024));
    rows.push((
        "1 MiB header on stdin",
        verify_args("-", &[]),
        Some(mib),
        Expect::Fail("identity-malformed", "bytes; the limit is 8192"),
    ));
    run_table(rows);
}

#[test]
fn one_mebibyte_header_is_refused_by_the_library_before_parsing() {
    let limits = shaken::Limits::default();
    let good = crafted(&header(), &payload());
    let value = format!("{good};x={}", "a".repeat(1024 * 1024));
    let e = shaken::identity::IdentityHeader::parse(&value, &limits).unwrap_err();
    assert!(e.to_string().contains("the limit is 8192"), "{e}");
    let e = shaken::verify::parse_identity_or_token(&value, &limits).unwrap_err();
    assert_eq!(e.id(), "identity-malformed");
    // A bare 1 MiB token.
    let tok = format!(
        "{}.{}.{}",
        "A".repeat(1 << 20),
        "A".repeat(8),
        "A".repeat(8)
    );
    let e = shaken::passport::Token::parse(&tok, &limits).unwrap_err();
    assert!(e.to_string().contains("the limit is 8192"), "{e}");
}

#[test]
fn ten_thousand_identity_parameters() {
    let good = crafted(&header(), &payload());
    let many: String = (0..10_000).map(|i| format!(";p{i}=1")).collect();
    let dup: String = ";info=<https://x.example/a>".repeat(10_000);
    run_table(vec![
        row(
            "10,000 distinct parameters",
            &format!("{good}{many}"),
            &[],
            Expect::Fail("identity-malformed", "the limit is 8192"),
        ),
        row(
            "10,000 info parameters",
            &format!("{good}{}", &dup[..dup.len().min(100_000)]),
            &[],
            Expect::Fail("identity-malformed", "the limit is 8192"),
        ),
        // Under the size limit, a repeated parameter is named.
        row(
            "repeated info under the size limit",
            &format!("{good};info=<{X5U}>"),
            &[],
            Expect::Fail("identity-malformed", "\"info\" appears more than once"),
        ),
        row(
            "unknown parameters under the limit are ignored",
            &format!(
                "{good}{}",
                (0..200).map(|i| format!(";p{i}=1")).collect::<String>()
            ),
            &[],
            Expect::Pass,
        ),
    ]);
    // With the size limit lifted, the parser still answers promptly and
    // names the first duplicate (no quadratic blow-up matters: it stops at 2).
    let mut limits = shaken::Limits::default();
    limits.max_identity_header_len = usize::MAX;
    let start = Instant::now();
    let e = shaken::identity::IdentityHeader::parse(&format!("{good}{dup}"), &limits).unwrap_err();
    assert!(
        e.to_string().contains("\"info\" appears more than once"),
        "{e}"
    );
    let h = shaken::identity::IdentityHeader::parse(&format!("{good}{many}"), &limits).unwrap();
    assert_eq!(h.params.len(), 10_000);
    assert!(start.elapsed() < HANG_GUARD);
}

#[test]
fn deeply_nested_json() {
    let deep = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
    let deep_obj = |n: usize| format!("{}1{}", r#"{"a":"#.repeat(n), "}".repeat(n));
    let p = |extra: &str| {
        format!(
            r#"{{"attest":"A","dest":{{"tn":["{DEST}"]}},"iat":{NOW},"orig":{{"tn":"{ORIG}"}},"origid":"{ORIGID}","x":{extra}}}"#
        )
    };
    run_table(vec![
        row(
            "payload nested 9 deep (limit 8)",
            &crafted(&header(), &p(&deep(8))),
            &[],
            Expect::Fail("token-malformed", "nested deeper than 8 levels"),
        ),
        row(
            "payload nested 1,400 deep",
            &crafted(&header(), &p(&deep(1400))),
            &[],
            Expect::Fail("token-malformed", "nested deeper than 8 levels"),
        ),
        row(
            "payload objects nested 400 deep",
            &crafted(&header(), &p(&deep_obj(400))),
            &[],
            Expect::Fail("token-malformed", "nested deeper than 8 levels"),
        ),
        row(
            "header nested 1,500 deep",
            &crafted(&deep(1500), &payload()),
            &[],
            Expect::Fail("token-malformed", "nested deeper than 8 levels"),
        ),
        row(
            "payload nested 30,000 deep",
            &crafted(&header(), &p(&deep(30_000))),
            &[],
            Expect::Fail("identity-malformed", "the limit is 8192"),
        ),
        row(
            "nested 7 deep is fine",
            &crafted(&header(), &p(&deep(6))),
            &[],
            Expect::Pass,
        ),
    ]);
}

#[test]
fn hostile_iat_values() {
    let c = |iat: &str| crafted(&header(), &payload_iat(iat));
    run_table(vec![
        row(
            "iat 10^30",
            &c("1000000000000000000000000000000"),
            &[],
            Expect::Fail("claims-invalid", "non-negative integer"),
        ),
        row(
            "iat 1e400",
            &c("1e400"),
            &[],
            Expect::Fail("token-malformed", "number out of range"),
        ),
        row(
            "iat u64::MAX",
            &c("18446744073709551615"),
            &[],
            Expect::Fail("claims-invalid", "non-negative integer"),
        ),
        row(
            "iat i64::MAX",
            &c("9223372036854775807"),
            &[],
            Expect::Fail("iat-future", "dated in the future"),
        ),
        row(
            "iat negative",
            &c("-1"),
            &[],
            Expect::Fail("claims-invalid", "found -1"),
        ),
        row(
            "iat i64::MIN",
            &c("-9223372036854775808"),
            &[],
            Expect::Fail("claims-invalid", "non-negative integer"),
        ),
        row(
            "iat float",
            &c("1800000000.5"),
            &[],
            Expect::Fail("claims-invalid", "found 1800000000.5"),
        ),
        row(
            "iat float with zero fraction",
            &c("1800000000.0"),
            &[],
            Expect::Fail("claims-invalid", "non-negative integer"),
        ),
        row(
            "iat exponent",
            &c("1.8e9"),
            &[],
            Expect::Fail("claims-invalid", "non-negative integer"),
        ),
        row(
            "iat string",
            &c("\"1800000000\""),
            &[],
            Expect::Fail("claims-invalid", "RFC 8225 §5.1.1 requires a JSON number"),
        ),
        row(
            "iat string, lenient",
            &c("\"1800000000\""),
            &["--lenient-iat"],
            Expect::Pass,
        ),
        row(
            "iat negative string, lenient",
            &c("\"-1\""),
            &["--lenient-iat"],
            Expect::Fail("claims-invalid", "\"-1\""),
        ),
        row(
            "iat signed string, lenient",
            &c("\"+1800000000\""),
            &["--lenient-iat"],
            Expect::Fail("claims-invalid", "\"+1800000000\""),
        ),
        row(
            "iat huge string, lenient",
            &c("\"99999999999999999999999\""),
            &["--lenient-iat"],
            Expect::Fail("claims-invalid", "non-negative integer"),
        ),
        row(
            "iat null",
            &c("null"),
            &[],
            Expect::Fail("claims-invalid", "found null"),
        ),
        row(
            "iat 0 (1970)",
            &c("0"),
            &[],
            Expect::Fail("iat-stale", "stale"),
        ),
    ]);
}

#[test]
fn non_utf8_bytes() {
    let mut rows = Vec::new();
    // In the decoded header or payload: the token is not JSON.
    let bad_payload = payload().replace(ORIGID, "\u{1}").into_bytes();
    let mut with_ff = bad_payload.clone();
    let pos = with_ff.iter().position(|b| *b == 1).unwrap();
    with_ff[pos] = 0xff;
    rows.push(row(
        "0xFF in a payload string",
        &identity(&token(header().as_bytes(), &with_ff)),
        &[],
        Expect::Fail("token-malformed", "PASSporT payload is not valid JSON"),
    ));
    let mut h = header().into_bytes();
    h.splice(2..2, [0xc3, 0x28]);
    rows.push(row(
        "invalid UTF-8 sequence in the header",
        &identity(&token(&h, payload().as_bytes())),
        &[],
        Expect::Fail("token-malformed", "PASSporT header is not valid JSON"),
    ));
    rows.push(row(
        "control character in a payload string",
        &identity(&token(header().as_bytes(), &bad_payload)),
        &[],
        Expect::Fail("token-malformed", "control character"),
    ));
    run_table(rows);
    // In a command-line argument: the shell handed over non-text, a usage error.
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        let mut args = verify_args("x", &[]);
        args[1] = OsString::from_vec(b"eyJ\xff\xfe.x.y".to_vec());
        let o = run(&args, None);
        assert_eq!(o.code, 2, "{}", o.stderr);
        assert!(o.stderr.contains("UTF-8"), "{}", o.stderr);
    }
    let o = run(
        &verify_args("-", &[]),
        Some(b"eyJ\xff\xfe.x.y;info=<https://a.example/x>".to_vec()),
    );
    // On stdin it is a header value from a stranger: a failed verification
    // that names the first bad byte (exit 1), like any malformed header.
    assert_eq!(
        check(
            "non-UTF-8 on stdin",
            &o,
            &Expect::Fail("identity-malformed", "not UTF-8: invalid byte at offset 3")
        ),
        None
    );
    // Non-ASCII (valid UTF-8) in the token: named with its offset.
    let o = run(&verify_args("eyJé.x.y", &[]), None);
    assert_eq!(
        check(
            "é in the token",
            &o,
            &Expect::Fail("identity-malformed", "contains 'é' at offset 3")
        ),
        None
    );
}

#[test]
fn base64_variants() {
    let tok = token(header().as_bytes(), payload().as_bytes());
    let parts: Vec<&str> = tok.split('.').collect();
    let (h, p, s) = (parts[0], parts[1], parts[2]);
    // Non-canonical trailing bits: the 64-byte signature is 86 characters,
    // the last one carrying 2 data bits and 4 zero bits; set one zero bit.
    let last = s.as_bytes()[s.len() - 1];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let idx = alphabet.iter().position(|c| *c == last).unwrap();
    let s_noncanon = format!("{}{}", &s[..s.len() - 1], alphabet[idx | 1] as char);
    // A header whose encoding needs '+' and '/' in the standard alphabet.
    let std_b64 = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD_NO_PAD.encode([0xfb, 0xff, 0xbf])
    };
    run_table(vec![
        row(
            "padding on the header",
            &identity(&format!("{h}==.{p}.{s}")),
            &[],
            Expect::Fail("identity-malformed", "contains '='"),
        ),
        row(
            "padding on the signature",
            &identity(&format!("{h}.{p}.{s}==")),
            &[],
            Expect::Fail("identity-malformed", "contains '='"),
        ),
        row(
            "'+' in the payload",
            &identity(&format!("{h}.+{p}.{s}")),
            &[],
            Expect::Fail("identity-malformed", "contains '+'"),
        ),
        row(
            "'/' in the signature",
            &identity(&format!("{h}.{p}./{s}")),
            &[],
            Expect::Fail("identity-malformed", "contains '/'"),
        ),
        row(
            "standard-alphabet header",
            &identity(&format!("{std_b64}.{p}.{s}")),
            &[],
            Expect::Fail("identity-malformed", "contains '+'"),
        ),
        row(
            "non-canonical trailing bits",
            &identity(&format!("{h}.{p}.{s_noncanon}")),
            &[],
            Expect::Fail("token-malformed", "non-canonical base64url"),
        ),
        row(
            "length 4n+1",
            &identity(&format!("{h}{}.{p}.{s}", "A".repeat((5 - h.len() % 4) % 4))),
            &[],
            Expect::Fail("token-malformed", "invalid base64url length"),
        ),
    ]);
    // The decoder itself (the Identity parser stops '=' '+' '/' earlier).
    assert!(b64::decode("eyJ9==")
        .unwrap_err()
        .to_string()
        .contains("'='"));
    assert!(b64::decode("ab+/").unwrap_err().to_string().contains("'+'"));
    assert_eq!(
        b64::decode(&s_noncanon).unwrap_err(),
        b64::B64Error::NonCanonical
    );
}

#[test]
fn signature_lengths_and_values() {
    let (h, p) = (header(), payload());
    let sig = |bytes: &[u8]| identity(&token_with_sig(h.as_bytes(), p.as_bytes(), bytes));
    let good = token(h.as_bytes(), p.as_bytes());
    let real = b64::decode(good.rsplit('.').next().unwrap()).unwrap();
    // A DER ECDSA signature of 72 bytes: both integers 33 bytes (high bit set).
    let mut der = vec![0x30, 0x46, 0x02, 0x21, 0x00];
    der.extend([0x80; 32]);
    der.extend([0x02, 0x21, 0x00]);
    der.extend([0x81; 32]);
    assert_eq!(der.len(), 72);
    let rs = |r: &[u8; 32], s: &[u8; 32]| {
        let mut v = r.to_vec();
        v.extend_from_slice(s);
        v
    };
    let r_real: [u8; 32] = real[..32].try_into().unwrap();
    let s_real: [u8; 32] = real[32..].try_into().unwrap();
    let mut n_plus_1 = N;
    n_plus_1[31] += 1;
    let max = [0xff; 32];
    let mut one = [0; 32];
    one[31] = 1;
    run_table(vec![
        row(
            "63-byte signature",
            &sig(&real[..63]),
            &[],
            Expect::Fail("token-malformed", "signature is 63 bytes"),
        ),
        row(
            "65-byte signature",
            &sig(&[&real[..], &[0]].concat()),
            &[],
            Expect::Fail("token-malformed", "signature is 65 bytes"),
        ),
        row(
            "72-byte DER signature",
            &sig(&der),
            &[],
            Expect::Fail("token-malformed", "looks like a DER-encoded signature"),
        ),
        row(
            "empty signature",
            &sig(&[]),
            &[],
            Expect::Fail("token-malformed", "signature is 0 bytes"),
        ),
        row(
            "r = 0",
            &sig(&rs(&[0; 32], &s_real)),
            &[],
            Expect::Fail("signature-invalid", "does not verify"),
        ),
        row(
            "s = 0",
            &sig(&rs(&r_real, &[0; 32])),
            &[],
            Expect::Fail("signature-invalid", "does not verify"),
        ),
        row(
            "r = s = 0",
            &sig(&[0; 64]),
            &[],
            Expect::Fail("signature-invalid", "does not verify"),
        ),
        row(
            "r = n",
            &sig(&rs(&N, &s_real)),
            &[],
            Expect::Fail("signature-invalid", "does not verify"),
        ),
        row(
            "s = n",
            &sig(&rs(&r_real, &N)),
            &[],
            Expect::Fail("signature-invalid", "does not verify"),
        ),
        row(
            "r = n + 1",
            &sig(&rs(&n_plus_1, &s_real)),
            &[],
            Expect::Fail("signature-invalid", "does not verify"),
        ),
        row(
            "s = 2^256 - 1",
            &sig(&rs(&r_real, &max)),
            &[],
            Expect::Fail("signature-invalid", "does not verify"),
        ),
        row(
            "r = s = 1",
            &sig(&rs(&one, &one)),
            &[],
            Expect::Fail("signature-invalid", "does not verify"),
        ),
        row(
            "the real signature (control)",
            &identity(&good),
            &[],
            Expect::Pass,
        ),
    ]);
}

#[test]
fn duplicate_and_escaped_duplicate_keys() {
    let p = payload();
    run_table(vec![
        row(
            "duplicate alg in the header",
            &crafted(
                r#"{"alg":"ES256","alg":"none","ppt":"shaken","typ":"passport","x5u":"https://cr.example.net/sp.pem"}"#,
                &p,
            ),
            &[],
            Expect::Fail("token-malformed", "duplicate member name \"alg\""),
        ),
        row(
            "escaped duplicate alg (al\\u0067)",
            &crafted(
                r#"{"alg":"ES256","al\u0067":"none","ppt":"shaken","typ":"passport","x5u":"https://cr.example.net/sp.pem"}"#,
                &p,
            ),
            &[],
            Expect::Fail("token-malformed", "duplicate member name \"alg\""),
        ),
        row(
            "duplicate orig in the payload",
            &crafted(
                &header(),
                &p.replacen(
                    "{\"attest",
                    "{\"orig\":{\"tn\":\"12025550199\"},\"attest",
                    1,
                ),
            ),
            &[],
            Expect::Fail("token-malformed", "duplicate member name \"orig\""),
        ),
        row(
            "escaped duplicate iat (\\u0069at)",
            &crafted(
                &header(),
                &p.replacen("{\"attest", "{\"\\u0069at\":1,\"attest", 1),
            ),
            &[],
            Expect::Fail("token-malformed", "duplicate member name \"iat\""),
        ),
        row(
            "duplicate tn inside orig",
            &crafted(
                &header(),
                &p.replace(
                    r#""orig":{"tn":"12155550121"}"#,
                    r#""orig":{"tn":"12155550121","tn":"12025550199"}"#,
                ),
            ),
            &[],
            Expect::Fail("token-malformed", "duplicate member name \"tn\""),
        ),
    ]);
}

#[test]
fn header_algorithms_and_key_parameters() {
    let p = payload();
    let h = |extra: &str| {
        format!(r#"{{"alg":"ES256","ppt":"shaken","typ":"passport","x5u":"{X5U}"{extra}}}"#)
    };
    let alg = |a: &str| format!(r#"{{"alg":"{a}","ppt":"shaken","typ":"passport","x5u":"{X5U}"}}"#);
    let tok = token(header().as_bytes(), p.as_bytes());
    run_table(vec![
        row(
            "alg none",
            &crafted(&alg("none"), &p),
            &[],
            Expect::Fail("alg-unsupported", "algorithm \"none\" is not allowed"),
        ),
        row(
            "alg HS256",
            &crafted(&alg("HS256"), &p),
            &[],
            Expect::Fail("alg-unsupported", "algorithm \"HS256\""),
        ),
        row(
            "alg RS256",
            &crafted(&alg("RS256"), &p),
            &[],
            Expect::Fail("alg-unsupported", "algorithm \"RS256\""),
        ),
        row(
            "alg ES384",
            &crafted(&alg("ES384"), &p),
            &[],
            Expect::Fail("alg-unsupported", "algorithm \"ES384\""),
        ),
        row(
            "alg es256 (case)",
            &crafted(&alg("es256"), &p),
            &[],
            Expect::Fail("alg-unsupported", "algorithm \"es256\""),
        ),
        row(
            "alg missing",
            &crafted(
                r#"{"ppt":"shaken","typ":"passport","x5u":"https://cr.example.net/sp.pem"}"#,
                &p,
            ),
            &[],
            Expect::Fail("header-param-missing", "no \"alg\""),
        ),
        row(
            "alg a number",
            &crafted(
                r#"{"alg":256,"ppt":"shaken","typ":"passport","x5u":"https://cr.example.net/sp.pem"}"#,
                &p,
            ),
            &[],
            Expect::Fail("header-invalid", "\"alg\" must be a string"),
        ),
        row(
            "Identity alg=none",
            &format!("{tok};info=<{X5U}>;alg=none;ppt=shaken"),
            &[],
            Expect::Fail("alg-unsupported", "Identity alg parameter"),
        ),
        row(
            "crit in the header",
            &crafted(&h(r#","crit":["ppt"]"#), &p),
            &[],
            Expect::Fail("header-key-forbidden", "\"crit\""),
        ),
        row(
            "jwk in the header",
            &crafted(
                &h(r#","jwk":{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}"#),
                &p,
            ),
            &[],
            Expect::Fail("header-key-forbidden", "\"jwk\""),
        ),
        row(
            "kid in the header",
            &crafted(&h(r#","kid":"key-1""#), &p),
            &[],
            Expect::Fail("header-key-forbidden", "\"kid\""),
        ),
        row(
            "x5c in the header",
            &crafted(&h(r#","x5c":["MIIB"]"#), &p),
            &[],
            Expect::Fail("header-key-forbidden", "\"x5c\""),
        ),
        row(
            "jku in the header",
            &crafted(&h(r#","jku":"https://evil.example/k""#), &p),
            &[],
            Expect::Fail("header-key-forbidden", "\"jku\""),
        ),
        row(
            "typ JWT",
            &crafted(&header().replace("passport", "JWT"), &p),
            &[],
            Expect::Fail("typ-invalid", "typ is \"JWT\""),
        ),
        row(
            "typ missing",
            &crafted(
                &format!(r#"{{"alg":"ES256","ppt":"shaken","x5u":"{X5U}"}}"#),
                &p,
            ),
            &[],
            Expect::Fail("header-param-missing", "no \"typ\""),
        ),
        row(
            "header not an object",
            &crafted("[1]", &p),
            &[],
            Expect::Fail("header-invalid", "not a JSON object"),
        ),
    ]);
}

#[test]
fn identity_parameters_against_the_header() {
    let tok = token(header().as_bytes(), payload().as_bytes());
    let other = "https://cr.example.net/other.pem";
    run_table(vec![
        row(
            "ppt mismatch (header shaken, parameter div)",
            &format!("{tok};info=<{X5U}>;alg=ES256;ppt=div"),
            &[],
            Expect::Fail("ppt-mismatch", "ppt=\"div\" disagrees"),
        ),
        row(
            "ppt missing from the header",
            &crafted(
                &format!(r#"{{"alg":"ES256","typ":"passport","x5u":"{X5U}"}}"#),
                &payload(),
            ),
            &[],
            Expect::Fail("ppt-unsupported", "absent from the header"),
        ),
        row(
            "ppt div in both",
            &identity(&token(
                header().replace("shaken", "div").as_bytes(),
                payload().as_bytes(),
            ))
            .replace("ppt=shaken", "ppt=div"),
            &[],
            Expect::Fail("ppt-unsupported", "\"div\""),
        ),
        row(
            "x5u differs from info",
            &format!("{tok};info=<{other}>;alg=ES256;ppt=shaken"),
            &[],
            Expect::Fail("x5u-info-mismatch", other),
        ),
        row(
            "info missing",
            &format!("{tok};alg=ES256;ppt=shaken"),
            &[],
            Expect::Fail("info-missing", "no info parameter"),
        ),
        row(
            "info not a URL",
            &format!("{tok};info=<not a url>;alg=ES256;ppt=shaken"),
            &[],
            Expect::Fail("info-invalid", "not a valid certificate URL"),
        ),
        row(
            "info file: URL",
            &format!("{tok};info=<file:///etc/passwd>;alg=ES256;ppt=shaken"),
            &[],
            Expect::Fail("info-invalid", "cannot be fetched"),
        ),
    ]);
}

#[test]
fn hostile_claims() {
    let h = header();
    let p = payload();
    let arabic = "\u{661}\u{662}\u{661}\u{665}\u{665}\u{665}\u{665}\u{660}\u{661}\u{662}\u{661}";
    let fullwidth =
        "\u{ff11}\u{ff12}\u{ff11}\u{ff15}\u{ff15}\u{ff15}\u{ff15}\u{ff10}\u{ff11}\u{ff12}\u{ff11}";
    run_table(vec![
        row(
            "attest D",
            &crafted(&h, &p.replace("\"A\"", "\"D\"")),
            &[],
            Expect::Fail("attest-invalid", "\"D\""),
        ),
        row(
            "attest lowercase a",
            &crafted(&h, &p.replace("\"A\"", "\"a\"")),
            &[],
            Expect::Fail("attest-invalid", "\"a\""),
        ),
        row(
            "attest a number",
            &crafted(&h, &p.replace("\"A\"", "1")),
            &[],
            Expect::Fail("claims-invalid", "\"attest\" must be"),
        ),
        row(
            "attest missing",
            &crafted(&h, &p.replace("\"attest\":\"A\",", "")),
            &[],
            Expect::Fail("claim-missing", "\"attest\""),
        ),
        row(
            "origid missing",
            &crafted(&h, &p.replace(&format!(",\"origid\":\"{ORIGID}\""), "")),
            &[],
            Expect::Fail("claim-missing", "\"origid\""),
        ),
        row(
            "origid empty",
            &crafted(&h, &p.replace(ORIGID, "")),
            &[],
            Expect::Fail("claims-invalid", "found an empty string"),
        ),
        row(
            "dest a string",
            &crafted(
                &h,
                &p.replace(&format!("{{\"tn\":[\"{DEST}\"]}}"), &format!("\"{DEST}\"")),
            ),
            &[],
            Expect::Fail("claims-invalid", "\"dest\" must be an object"),
        ),
        row(
            "dest.tn a string",
            &crafted(
                &h,
                &p.replace(&format!("[\"{DEST}\"]"), &format!("\"{DEST}\"")),
            ),
            &[],
            Expect::Fail("claims-invalid", "\"dest.tn\" must be an array of strings"),
        ),
        row(
            "dest with 11 numbers",
            &crafted(
                &h,
                &p.replace(
                    &format!("[\"{DEST}\"]"),
                    &format!("[{}]", vec![format!("\"{DEST}\""); 11].join(",")),
                ),
            ),
            &[],
            Expect::Fail("claims-invalid", "holds 11 entries; the limit is 10"),
        ),
        row(
            "dest empty",
            &crafted(&h, &p.replace(&format!("{{\"tn\":[\"{DEST}\"]}}"), "{}")),
            &[],
            Expect::Fail("claims-invalid", "\"dest\" holds no identity"),
        ),
        row(
            "orig with both tn and uri",
            &crafted(
                &h,
                &p.replace(
                    &format!("{{\"tn\":\"{ORIG}\"}}"),
                    &format!("{{\"tn\":\"{ORIG}\",\"uri\":\"sip:a@b.example\"}}"),
                ),
            ),
            &[],
            Expect::Fail("claims-invalid", "exactly one of \"tn\" or \"uri\""),
        ),
        row(
            "orig uri only",
            &crafted(
                &h,
                &p.replace(
                    &format!("{{\"tn\":\"{ORIG}\"}}"),
                    "{\"uri\":\"sip:a@b.example\"}",
                ),
            ),
            &[],
            Expect::Fail("claim-not-tn", "must be a telephone number"),
        ),
        row(
            "orig.tn with Arabic-Indic digits",
            &crafted(&h, &p.replace(ORIG, arabic)),
            &[],
            Expect::Fail("tn-invalid", "non-ASCII digit '١' (U+0661)"),
        ),
        row(
            "dest.tn with fullwidth digits",
            &crafted(&h, &p.replace(DEST, fullwidth)),
            &[],
            Expect::Fail("tn-invalid", "non-ASCII digit '１' (U+FF11)"),
        ),
        row(
            "orig.tn 16 digits",
            &crafted(&h, &p.replace(ORIG, "1215555012112345")),
            &[],
            Expect::Fail("tn-invalid", "at most 15"),
        ),
        row(
            "payload not an object",
            &crafted(&h, "\"x\""),
            &[],
            Expect::Fail("claims-invalid", "not a JSON object"),
        ),
        row(
            "non-ASCII claim name",
            &crafted(&h, &p.replacen("{", "{\"é\":1,", 1)),
            &[],
            Expect::Fail("claims-invalid", "not US-ASCII"),
        ),
    ]);
    // The expected numbers on the command line with Unicode digits: refused as usage.
    let tok = crafted(&h, &p);
    let o = run(&verify_args(&tok, &["--orig", arabic]), None);
    assert_eq!(
        check(
            "--orig with Unicode digits",
            &o,
            &Expect::Usage("non-ASCII digit")
        ),
        None
    );
}

// ------------------------------------------------------------- certificates

/// A real 100-certificate chain (root, 98 intermediates, leaf), PEM, leaf first.
fn chain_of(n: usize) -> String {
    let mut pems = Vec::new();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "hostile 0");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let mut issuer = params.self_signed(&key).unwrap();
    let mut issuer_key = key;
    pems.push(issuer.pem());
    for i in 1..n {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("hostile {i}"));
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let cert = params.signed_by(&key, &issuer, &issuer_key).unwrap();
        pems.push(cert.pem());
        issuer = cert;
        issuer_key = key;
    }
    pems.reverse();
    pems.concat()
}

/// A certificate carrying one 1 MiB private extension.
fn cert_with_huge_extension() -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "hostile huge");
    // OCTET STRING content: the extension value is opaque to us.
    let mut content = vec![0x04, 0x83, 0x10, 0x00, 0x00];
    content.extend(std::iter::repeat_n(0x41, 0x10_0000));
    params
        .custom_extensions
        .push(rcgen::CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 4, 1, 99999, 1],
            content,
        ));
    params.self_signed(&key).unwrap().pem()
}

fn write_tmp(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

/// An HTTP server on loopback answering every request with `body`.
fn serve_static(body: String) -> u16 {
    serve_body(body, true)
}

/// Like [`serve_static`]; without `content_length` the body is close-delimited.
fn serve_body(body: String, content_length: bool) -> u16 {
    Server::always(Reply::Pem {
        body: body.into_bytes(),
        content_length,
    })
    .port
}

/// An HTTP server on loopback that sends its answer one byte a second.
fn serve_drip() -> u16 {
    let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n-----BEGIN CERTIFICATE-----";
    Server::always(Reply::Drip(reply.to_vec(), Duration::from_secs(1))).port
}

/// Verify a token whose x5u/info is `url`, fetching it (lab switches on).
fn verify_fetch_args(url: &str, extra: &[&str]) -> Vec<OsString> {
    let value =
        identity(&token(header_with(url).as_bytes(), payload().as_bytes())).replace(X5U, url);
    let now = NOW.to_string();
    let anchors = certs("anchors.pem");
    let mut a = os(&[
        "verify",
        &value,
        "--trust-anchors",
        &anchors,
        "--now",
        &now,
        "--format",
        "json",
        "--allow-http-x5u",
        "--allow-private-x5u",
        "--allow-any-port-x5u",
    ]);
    a.extend(extra.iter().map(OsString::from));
    a
}

#[test]
fn chain_of_one_hundred_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let pem = chain_of(100);
    assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 100);
    let path = write_tmp(&dir, "chain100.pem", &pem);
    // As --cert: a local file the verifier refuses to load (input error, 2).
    let tok = crafted(&header(), &payload());
    let o = run(&verify_cert_args(&tok, &path), None);
    assert_eq!(
        check(
            "100-certificate --cert",
            &o,
            &Expect::Usage("more than 5 certificates (Limits::max_chain_len)")
        ),
        None
    );
    // The library says the same.
    let e = shaken::cert::parse_chain(pem.as_bytes(), &shaken::Limits::default()).unwrap_err();
    assert!(e.to_string().contains("Limits::max_chain_len"), "{e}");
    // Served at x5u: a verification failure (1), 436, naming the limit.
    assert!(pem.len() < 60 * 1024, "{} bytes", pem.len());
    let port = serve_static(pem);
    let url = format!("http://127.0.0.1:{port}/chain100.pem");
    let o = run(&verify_fetch_args(&url, &[]), None);
    let r = report(&o);
    assert_eq!(o.code, 1, "{}", o.stdout);
    assert_eq!(r["reason"]["code"], 436, "{}", o.stdout);
    let id = r["reason"]["id"].as_str().unwrap();
    let detail = r["reason"]["detail"].as_str().unwrap();
    // The chain fits under the 64 KiB body cap, so the chain-length limit is what refuses it.
    assert_eq!(id, "fetch-parse", "{detail}");
    assert!(detail.contains("Limits::max_chain_len"), "{detail}");
}

#[test]
fn certificate_with_a_one_mebibyte_extension() {
    let dir = tempfile::tempdir().unwrap();
    let pem = cert_with_huge_extension();
    assert!(pem.len() > 1024 * 1024);
    let path = write_tmp(&dir, "huge.pem", &pem);
    let tok = crafted(&header(), &payload());
    let o = run(&verify_cert_args(&tok, &path), None);
    assert_eq!(
        check(
            "1 MiB extension --cert",
            &o,
            &Expect::Usage("larger than the limit of 16384 (Limits::max_cert_len)")
        ),
        None
    );
    let e = shaken::cert::parse_chain(pem.as_bytes(), &shaken::Limits::default()).unwrap_err();
    assert!(e.to_string().contains("Limits::max_cert_len"), "{e}");
    // As DER, too.
    let der = {
        use base64::Engine;
        let b: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD.decode(b).unwrap()
    };
    let e = shaken::cert::parse_chain(&der, &shaken::Limits::default()).unwrap_err();
    assert!(e.to_string().contains("Limits::max_cert_len"), "{e}");
    // Served at x5u: the body cap stops the download.
    let port = serve_static(pem.clone());
    let url = format!("http://127.0.0.1:{port}/huge.pem");
    let o = run(&verify_fetch_args(&url, &[]), None);
    assert_eq!(
        check(
            "1 MiB extension at x5u",
            &o,
            &Expect::Fail("fetch-too-large", "65536")
        ),
        None
    );
    // Without Content-Length the cap applies while reading.
    let port = serve_body(pem, false);
    let url = format!("http://127.0.0.1:{port}/huge.pem");
    let o = run(&verify_fetch_args(&url, &[]), None);
    assert_eq!(
        check(
            "1 MiB extension at x5u",
            &o,
            &Expect::Fail("fetch-too-large", "65536")
        ),
        None
    );
}

#[test]
fn x5u_server_that_drips_one_byte_a_second() {
    let port = serve_drip();
    let url = format!("http://127.0.0.1:{port}/drip.pem");
    let o = run(
        &verify_fetch_args(
            &url,
            &["--fetch-timeout-ms", "1500", "--connect-timeout-ms", "1000"],
        ),
        None,
    );
    assert_eq!(
        check(
            "drip server",
            &o,
            &Expect::Fail("fetch-timeout", "127.0.0.1")
        ),
        None
    );
    let r = report(&o);
    assert_eq!(r["reason"]["code"], 436);
    let detail = r["reason"]["detail"].as_str().unwrap();
    assert!(detail.contains(&url), "{detail}");
    eprintln!("drip server: {detail} (after {:?})", o.elapsed);
}

// ------------------------------------------------------------- batch

/// Batch lines carry the verification time (`time`) and everything else from
/// the input: extremes there must fail line by line, never stop the run.
#[test]
fn batch_lines_with_hostile_fields() {
    let tok = crafted(&header(), &payload());
    let req = |time: &str| {
        format!(
            r#"{{"from":{{"tn":"{ORIG}"}},"to":{{"tn":["{DEST}"]}},"time":{time},"identity":"{tok}"}}"#
        )
    };
    let mut input = Vec::new();
    for t in ["-9223372036854775808", "9223372036854775807", "-1", "0"] {
        input.extend_from_slice(req(t).as_bytes());
        input.push(b'\n');
    }
    input.extend_from_slice(b"not json\n");
    input.extend_from_slice(
        format!("{}1{}\n", r#"{"a":"#.repeat(5000), "}".repeat(5000)).as_bytes(),
    );
    input.extend_from_slice(
        format!("{{\"time\":1,\"identity\":\"{}\"}}\n", "A".repeat(1 << 20)).as_bytes(),
    );
    input.extend_from_slice(b"{\"time\":1800000000,\"identity\":\"\xff\xfe\"}\n");
    let want: [(&str, &str); 8] = [
        // A negative request time is a request error on every surface
        // (the REST service answers SVC4005 for it).
        ("", "\"time\" -9223372036854775808 is negative"),
        ("iat-stale", "verification time 9223372036854775807"),
        ("", "\"time\" -1 is negative"),
        ("iat-future", "verification time 0"),
        ("", "not a JSON verification request"),
        ("", "Limits.max_batch_line"),
        ("", "Limits.max_batch_line"),
        ("", "invalid unicode code point"),
    ];
    let (cert, anchors) = (certs("sp-chain.pem"), certs("anchors.pem"));
    let o = run(
        &os(&[
            "verify",
            "--batch",
            "-",
            "--cert",
            &cert,
            "--trust-anchors",
            &anchors,
            "--jobs",
            "2",
        ]),
        Some(input),
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    let lines: Vec<Value> = o
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), want.len(), "{}", o.stdout);
    for (i, (line, (id, text))) in lines.iter().zip(want).enumerate() {
        assert_eq!(line["line"], i + 1);
        assert_ne!(line["verstat"], "TN-Validation-Passed");
        let said = if id.is_empty() {
            line["error"]["message"].as_str().unwrap_or("")
        } else {
            assert_eq!(line["reason"]["id"], id, "line {}: {line}", i + 1);
            line["reason"]["detail"].as_str().unwrap_or("")
        };
        assert!(
            said.contains(text),
            "line {}: {said:?} lacks {text:?}",
            i + 1
        );
    }
}

// ------------------------------------------------------------- SIP

/// Whole INVITEs (`verify --sip`): a message that cannot be read is a call
/// that did not pass (1, cause on stderr); one past the read cap is refused
/// before it is read (2); a readable one gets a JSON report.
#[test]
fn sip_messages_with_hostile_content() {
    let tok = token(header().as_bytes(), payload().as_bytes());
    let base = format!(
        "INVITE sip:{DEST}@b.example SIP/2.0\r\nVia: SIP/2.0/UDP a.example;branch=z9hG4bK1\r\nFrom: <sip:{ORIG}@a.example>;tag=1\r\nTo: <sip:{DEST}@b.example>\r\nCall-ID: x@y\r\nCSeq: 1 INVITE\r\n"
    );
    let many_headers: String = (0..300).map(|i| format!("X-H{i}: v\r\n")).collect();
    let huge_headers: String = (0..10_000).map(|i| format!("X-H{i}: v\r\n")).collect();
    let cases: Vec<(&str, Vec<u8>, Expect)> = vec![
        (
            "control: a signed INVITE",
            format!("{base}Identity: {}\r\n\r\n", identity(&tok)).into_bytes(),
            Expect::Pass,
        ),
        ("empty message", Vec::new(), Expect::Usage("")),
        (
            "20 Identity headers",
            format!(
                "{base}{}\r\n",
                format!("Identity: {}\r\n", identity(&tok)).repeat(20)
            )
            .into_bytes(),
            Expect::Usage(""),
        ),
        (
            "300 header lines",
            format!("{base}{many_headers}Identity: {}\r\n\r\n", identity(&tok)).into_bytes(),
            Expect::Usage(""),
        ),
        (
            "10,000 header lines (> 64 KiB)",
            format!("{base}{huge_headers}Identity: {}\r\n\r\n", identity(&tok)).into_bytes(),
            Expect::Fail(
                "sip-malformed",
                "119537 bytes, more than the limit of 65536 bytes",
            ),
        ),
        (
            "non-UTF-8 header",
            [
                base.as_bytes(),
                b"Identity: \xff\xfe",
                identity(&tok).as_bytes(),
                b"\r\n\r\n",
            ]
            .concat(),
            Expect::Usage(""),
        ),
        (
            "Date of 5,000 digits",
            format!(
                "{base}Identity: {}\r\nDate: {}\r\n\r\n",
                identity(&tok),
                "9".repeat(5000)
            )
            .into_bytes(),
            Expect::Fail("sip-date-invalid", "is not an RFC 1123 date"),
        ),
        (
            "Date in 1970",
            format!(
                "{base}Identity: {}\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\n",
                identity(&tok)
            )
            .into_bytes(),
            Expect::Fail("date-mismatch", "differ by 1800000000 s"),
        ),
    ];
    let (cert, anchors, now) = (certs("sp-chain.pem"), certs("anchors.pem"), NOW.to_string());
    let mut failures = Vec::new();
    for (class, msg, want) in cases {
        let o = run(
            &os(&[
                "verify",
                "--sip",
                "-",
                "--cert",
                &cert,
                "--trust-anchors",
                &anchors,
                "--now",
                &now,
                "--format",
                "json",
            ]),
            Some(msg),
        );
        // Unreadable messages: exit 1, a JSON report with reason `sip-malformed`
        // (400) on stdout and the cause on stderr too; never 2.
        let want = match (class, want) {
            ("empty message", _) => Expect::Fail("sip-malformed", "SIP message is empty"),
            ("20 Identity headers", _) => Expect::Fail("sip-malformed", "more than the limit of 8"),
            ("300 header lines", _) => Expect::Fail("sip-malformed", "256"),
            ("non-UTF-8 header", _) => Expect::Fail("sip-malformed", "not valid UTF-8"),
            (_, w) => w,
        };
        if let Expect::Fail("sip-malformed", text) = &want {
            if !o.stderr.contains(text) {
                failures.push(format!("[{class}] stderr {:?} lacks {text:?}", o.stderr));
            }
        }
        failures.extend(check(class, &o, &want));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
