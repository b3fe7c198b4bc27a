//! `shaken verify --batch` and `shaken sign --batch`: order, per-line errors,
//! exit status, the stderr summary and the HTML report.

use crate::support::{json_lines, run_with_stdin, LabDir, DEST, ORIG, X5U};
use serde_json::{json, Value};
use shaken::{Report, Verstat};
use std::path::Path;
use std::process::Output;

const NOW: i64 = 1_800_000_000;

/// The lab PKI in a temporary directory, with the batch arguments.
struct Lab(LabDir);

impl std::ops::Deref for Lab {
    type Target = LabDir;
    fn deref(&self) -> &LabDir {
        &self.0
    }
}

impl Lab {
    fn new() -> Lab {
        Lab(LabDir::new(NOW))
    }
    fn verify_args(&self) -> Vec<String> {
        vec![
            "verify".into(),
            "--cert".into(),
            self.path("chain.pem"),
            "--trust-anchors".into(),
            self.path("root.pem"),
            "--now".into(),
            NOW.to_string(),
        ]
    }
    fn sign_args(&self) -> Vec<String> {
        vec![
            "sign".into(),
            "--key".into(),
            self.path("key.pem"),
            "--x5u".into(),
            X5U.into(),
        ]
    }
}

fn run(args: &[String], stdin: Option<&[u8]>) -> Output {
    run_with_stdin(args, stdin)
}

fn sign_request(attest: &str, orig: &str, dest: &str, iat: i64) -> Value {
    json!({"attest": attest, "dest": {"tn": [dest]}, "iat": iat, "orig": {"tn": orig},
           "origid": "de305d54-75b4-431b-adb2-eb6b9e546014"})
}

/// Sign `requests` with `sign --batch` (stdin) and return the output lines.
fn sign_batch(lab: &Lab, requests: &[Value], extra: &[&str]) -> (Output, Vec<Value>) {
    let mut input = String::new();
    for r in requests {
        input.push_str(&r.to_string());
        input.push('\n');
    }
    let mut args = lab.sign_args();
    args.extend(["--batch".to_owned(), "-".to_owned()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let o = run(&args, Some(input.as_bytes()));
    let lines = json_lines(&o);
    (o, lines)
}

fn identity(lab: &Lab, attest: &str, iat: i64) -> String {
    let (o, lines) = sign_batch(lab, &[sign_request(attest, ORIG, DEST, iat)], &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    lines[0]["identity"].as_str().unwrap().to_owned()
}

fn verify_request(from: &str, to: &str, time: i64, identity: &str) -> Value {
    json!({"from": {"tn": from}, "to": {"tn": [to]}, "time": time, "identity": identity})
}

fn verify_batch(lab: &Lab, input: &str, extra: &[&str]) -> (Output, Vec<Value>) {
    let path = lab.write("in.jsonl", input);
    let mut args = lab.verify_args();
    args.extend(["--batch".to_owned(), path]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let o = run(&args, None);
    let lines = json_lines(&o);
    (o, lines)
}

#[test]
fn a_retried_line_gets_the_same_answer_and_another_call_is_a_replay() {
    let lab = Lab::new();
    let id = identity(&lab, "A", NOW);
    let line = verify_request(ORIG, DEST, NOW, &id).to_string();
    let other_call = verify_request(ORIG, DEST, NOW + 2, &id).to_string();
    let input = [line.clone(), line, other_call].join("\n");
    let (_, lines) = verify_batch(&lab, &input, &["--jobs", "1"]);
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["verstat"], "TN-Validation-Passed", "{}", lines[0]);
    assert_eq!(lines[1]["verstat"], "TN-Validation-Passed", "{}", lines[1]);
    assert_eq!(lines[2]["reason"]["id"], "replay", "{}", lines[2]);
}

#[test]
fn mixed_good_and_bad_lines_keep_order_and_report_each() {
    let lab = Lab::new();
    let id_a = identity(&lab, "A", NOW);
    let id_b = identity(&lab, "B", NOW - 10);
    let id_c = identity(&lab, "C", NOW - 5);
    // Tamper with the payload of C: the signature no longer verifies.
    let mut parts: Vec<String> = id_c.splitn(3, '.').map(str::to_owned).collect();
    let claims = String::from_utf8(shaken::b64::decode(&parts[1]).unwrap()).unwrap();
    parts[1] = shaken::b64::encode(claims.replace("\"C\"", "\"A\"").as_bytes());
    let tampered = parts.join(".");
    let long = format!(
        "{{\"from\":{{\"tn\":\"{ORIG}\"}},\"identity\":\"{}\"}}",
        "x".repeat(17 * 1024)
    );
    let input = [
        verify_request(ORIG, DEST, NOW, &id_a).to_string(), // 1 pass
        "{not json".to_owned(),                             // 2 error
        json!({"verificationRequest": verify_request(ORIG, DEST, NOW, &id_b)}).to_string(), // 3 pass (wrapper)
        String::new(), // 4 blank: no output
        json!({"from": {"tn": ORIG}, "to": {"tn": [DEST]}, "time": NOW}).to_string(), // 5 missing identity
        verify_request(ORIG, DEST, NOW, &tampered).to_string(), // 6 signature-invalid
        long,                                                   // 7 too long
        verify_request(ORIG, "12125559999", NOW, &id_a).to_string(), // 8 dest mismatch
        verify_request(ORIG, DEST, NOW - 1, &id_a).to_string(), // 9 replay of line 1 (another call: another time)
        json!({"from": {"tn": "not a number"}, "to": {"tn": [DEST]}, "time": NOW, "identity": id_a}).to_string(), // 10 bad tn
    ]
    .join("\n");
    let (o, lines) = verify_batch(&lab, &input, &["--jobs", "2"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    let numbers: Vec<u64> = lines.iter().map(|l| l["line"].as_u64().unwrap()).collect();
    assert_eq!(numbers, vec![1, 2, 3, 5, 6, 7, 8, 9, 10]);

    // Every line deserialises as the `verify --format json` Report.
    let reports: Vec<Report> = lines
        .iter()
        .map(|l| serde_json::from_value(l.clone()).unwrap())
        .collect();
    assert_eq!(reports[0].verstat, Verstat::Passed);
    assert_eq!(reports[0].attest.unwrap().as_str(), "A");
    assert_eq!(reports[2].verstat, Verstat::Passed);
    assert_eq!(reports[2].attest.unwrap().as_str(), "B");
    assert_eq!(
        reports[4].reason.as_ref().unwrap().id,
        "signature-invalid",
        "{:?}",
        lines[4]
    );
    assert_eq!(reports[4].verstat, Verstat::Failed);
    assert_eq!(reports[6].reason.as_ref().unwrap().id, "dest-mismatch");
    assert_eq!(reports[7].reason.as_ref().unwrap().id, "replay");
    // Issue 20: a line without identity is an unsigned call, not an error;
    // failures after the signature decoded name the signer (attributed).
    assert!(lines[3].get("error").is_none(), "{}", lines[3]);
    assert_eq!(reports[3].verstat, Verstat::NoValidation);
    let r = reports[3].reason.as_ref().unwrap();
    assert_eq!((r.code, r.id.as_str()), (428, "no-identity"));
    for i in [6, 7] {
        let s = reports[i]
            .signer
            .as_ref()
            .unwrap_or_else(|| panic!("{}", lines[i]));
        assert!(s.signature_verified && s.trusted, "{}", lines[i]);
    }
    assert!(!reports[4].signer.as_ref().unwrap().signature_verified);
    for (i, msg) in [
        (1, "not a JSON verification request"),
        (5, "longer than the 16384-byte limit"),
        (8, "\"from.tn\""),
    ] {
        let l = &lines[i];
        assert_eq!(l["verstat"], "No-TN-Validation", "{l}");
        assert_eq!(l["error"]["line"], l["line"], "{l}");
        let m = l["error"]["message"].as_str().unwrap();
        assert!(m.contains(msg), "{m}");
    }
    assert!(lines[0].get("error").is_none());

    // The summary on stderr.
    assert!(
        stderr.contains("9 lines, 2 passed, 7 not passed (1 unsigned, 3 malformed)"),
        "{stderr}"
    );
    let row = |k: &str| {
        stderr
            .lines()
            .find(|l| l.trim_start().starts_with(k))
            .unwrap_or_else(|| panic!("no {k} in {stderr}"))
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    assert_eq!(row("TN-Validation-Passed"), 2);
    assert_eq!(row("TN-Validation-Failed"), 2);
    assert_eq!(row("No-TN-Validation"), 5);
    assert_eq!(row("request-invalid"), 3);
    assert_eq!(row("no-identity"), 1);
    assert_eq!(row("signature-invalid"), 1);
    assert_eq!(row("replay"), 1);
    assert_eq!(row("dest-mismatch"), 1);
    assert!(stderr.contains("lines/s"), "{stderr}");
    // Not a terminal: no progress bar escape codes.
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
}

#[test]
fn all_passed_exits_zero_and_stdin_works() {
    let lab = Lab::new();
    let id = identity(&lab, "A", NOW);
    let input = format!("{}\n", verify_request(ORIG, DEST, NOW, &id));
    let mut args = lab.verify_args();
    args.extend(["--batch".to_owned(), "-".to_owned()]);
    let o = run(&args, Some(input.as_bytes()));
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(json_lines(&o)[0]["verstat"], "TN-Validation-Passed");
}

#[test]
fn time_of_the_line_is_the_verification_time_without_now() {
    let lab = Lab::new();
    let t = NOW - 1000;
    let id = identity(&lab, "A", t);
    let input = [
        verify_request(ORIG, DEST, t, &id).to_string(),
        verify_request(ORIG, DEST, t + 500, &id).to_string(),
    ]
    .join("\n");
    let path = lab.write("t.jsonl", &input);
    let args: Vec<String> = [
        "verify",
        "--cert",
        &lab.path("chain.pem"),
        "--trust-anchors",
        &lab.path("root.pem"),
        "--no-replay",
        "--batch",
        &path,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let o = run(&args, None);
    let lines = json_lines(&o);
    assert_eq!(lines[0]["verstat"], "TN-Validation-Passed", "{}", lines[0]);
    assert_eq!(lines[1]["reason"]["id"], "iat-stale", "{}", lines[1]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn missing_input_file_is_exit_2() {
    let lab = Lab::new();
    let mut args = lab.verify_args();
    args.extend(["--batch".to_owned(), lab.path("nope.jsonl")]);
    let o = run(&args, None);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope.jsonl"));
    let o = run(
        &[
            lab.verify_args(),
            vec!["--batch".into(), "-".into(), "--jobs".into(), "0".into()],
        ]
        .concat(),
        None,
    );
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn sign_batch_round_trip() {
    let lab = Lab::new();
    let requests = vec![
        sign_request("A", ORIG, DEST, NOW),
        json!({"signingRequest": sign_request("B", "+1 (215) 555-0122", "212-555-0143", NOW)}),
        json!({"attest": "D", "dest": {"tn": [DEST]}, "iat": NOW, "orig": {"tn": ORIG}}),
        json!({"attest": "C", "dest": {"tn": [DEST]}, "iat": NOW, "orig": {"tn": ORIG}}),
        json!({"attest": "A", "iat": NOW, "orig": {"tn": ORIG}}),
    ];
    let (o, lines) = sign_batch(&lab, &requests, &["--jobs", "2"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert_eq!(lines.len(), 5);
    assert!(lines[0]["identity"]
        .as_str()
        .unwrap()
        .ends_with(";info=<https://cr.example.net/sp.pem>;alg=ES256;ppt=shaken"));
    assert_eq!(lines[2]["line"], 3);
    assert!(
        lines[2]["error"].as_str().unwrap().contains("attest"),
        "{}",
        lines[2]
    );
    assert_eq!(lines[4]["line"], 5);
    assert!(
        lines[4]["error"].as_str().unwrap().contains("dest"),
        "{}",
        lines[4]
    );
    assert!(
        stderr.contains("5 lines, 3 signed (A 1, B 1, C 1), 2 failed"),
        "{stderr}"
    );

    // sign --batch | verify --batch
    let froms = [ORIG, "12155550122", ORIG];
    let mut input = String::new();
    for (l, from) in [&lines[0], &lines[1], &lines[3]].iter().zip(froms) {
        input.push_str(
            &verify_request(from, DEST, NOW, l["identity"].as_str().unwrap()).to_string(),
        );
        input.push('\n');
    }
    let (o, out) = verify_batch(&lab, &input, &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let attests: Vec<&str> = out.iter().map(|l| l["attest"].as_str().unwrap()).collect();
    assert_eq!(attests, vec!["A", "B", "C"]);
    assert!(out.iter().all(|l| l["signer"]["spc"] == "1234"));
}

#[test]
fn an_input_that_cannot_be_read_is_exit_2_naming_it() {
    // A directory opens but does not read (EISDIR): the read error, not a
    // hang and not an empty success, on one worker and on several.
    let lab = Lab::new();
    let dir = lab.path("");
    for jobs in ["1", "3"] {
        let mut args = lab.verify_args();
        args.extend(["--batch".into(), dir.clone(), "--jobs".into(), jobs.into()]);
        let o = run(&args, None);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "--jobs {jobs}: {stderr}");
        assert!(
            stderr.contains("reading --batch") && stderr.contains("directory"),
            "--jobs {jobs}: {stderr}"
        );
        assert!(o.stdout.is_empty(), "--jobs {jobs}");
    }
}

#[test]
fn a_reader_that_stops_early_ends_the_batch_quietly() {
    // `shaken sign --batch big | head -1`: once stdout is closed every
    // worker stops (none waits for a chunk that will never be written) and
    // the broken pipe is not reported as an error.
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let lab = Lab::new();
    let mut input = String::new();
    for _ in 0..20_000 {
        input.push_str(&sign_request("A", ORIG, DEST, NOW).to_string());
        input.push('\n');
    }
    let path = lab.write("sign.jsonl", &input);
    for jobs in ["1", "2"] {
        let mut args = lab.sign_args();
        args.extend(["--batch".into(), path.clone(), "--jobs".into(), jobs.into()]);
        let mut child = crate::support::bin()
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        // The reader is dropped here: stdout is closed after one line.
        assert!(first.contains("\"identity\""), "--jobs {jobs}: {first}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                child.kill().unwrap();
                panic!("--jobs {jobs}: still running two minutes after stdout was closed");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let o = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "--jobs {jobs}: {stderr}");
        assert!(!stderr.contains("error"), "--jobs {jobs}: {stderr}");
    }
}

#[test]
fn twenty_thousand_lines_on_two_jobs_stay_in_order() {
    let lab = Lab::new();
    let n = 20_000usize;
    let mut input = String::with_capacity(n * 120);
    for i in 0..n {
        let orig = format!("1215555{:04}", i % 10_000);
        input.push_str(&sign_request("A", &orig, DEST, NOW).to_string());
        input.push('\n');
    }
    let path = lab.write("sign.jsonl", &input);
    let mut args = lab.sign_args();
    args.extend(["--batch".into(), path, "--jobs".into(), "2".into()]);
    let o = run(&args, None);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let signed = json_lines(&o);
    assert_eq!(signed.len(), n);
    let mut vin = String::with_capacity(n * 700);
    for (i, l) in signed.iter().enumerate() {
        let orig = format!("1215555{:04}", i % 10_000);
        vin.push_str(
            &verify_request(&orig, DEST, NOW, l["identity"].as_str().unwrap()).to_string(),
        );
        vin.push('\n');
    }
    let (o, out) = verify_batch(&lab, &vin, &["--jobs", "2", "--no-replay"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert_eq!(out.len(), n);
    for (i, l) in out.iter().enumerate() {
        assert_eq!(l["line"].as_u64().unwrap(), i as u64 + 1);
        assert_eq!(l["verstat"], "TN-Validation-Passed", "{l}");
        assert_eq!(l["orig"], format!("1215555{:04}", i % 10_000));
    }
    assert!(stderr.contains("20000 lines, 20000 passed"), "{stderr}");
}

#[test]
fn html_report_has_the_numbers() {
    let lab = Lab::new();
    let id = identity(&lab, "B", NOW);
    let input = [
        verify_request(ORIG, DEST, NOW, &id).to_string(),
        verify_request("12155550199", DEST, NOW, &id).to_string(),
        "[]".to_owned(),
    ]
    .join("\n");
    let report = lab.path("r.html");
    let (o, _) = verify_batch(&lab, &input, &["--no-replay", "--report", &report]);
    assert_eq!(o.status.code(), Some(1));
    let html = std::fs::read_to_string(Path::new(&report)).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<b class=\"\">3</b>lines · 100.0%"), "{html}");
    assert!(
        html.contains("<b class=\"ok\">1</b>passed · 33.3%"),
        "{html}"
    );
    assert!(
        html.contains("<b class=\"bad\">1</b>failed (signed) · 33.3%"),
        "{html}"
    );
    // Attestation B: one call passed, one did not.
    assert!(
        html.contains("<td>B</td><td>1</td><td>1</td><td>66.7%</td>"),
        "{html}"
    );
    assert!(html.contains("<td>orig-mismatch</td><td>1</td>"), "{html}");
    assert!(
        html.contains("<td>request-invalid</td><td>1</td>"),
        "{html}"
    );
    // The spoofed call (orig-mismatch) is attributed to its signer.
    assert!(
        html.contains("<td>1234</td><td>CN=SHAKEN 1234, O=Shaken Lab, C=US</td><td>yes</td><td>1</td><td>1</td><td>orig-mismatch (1)</td>"),
        "{html}"
    );
    assert!(
        html.contains("<td>12155550199</td><td>1</td><td>orig-mismatch (1)</td><td>1234 (1)</td><td>line 2</td>"),
        "{html}"
    );
    // The version and settings that made it.
    assert!(html.contains("<td>made by</td><td>shaken "), "{html}");
    assert!(
        html.contains("<td>replay detection</td><td>off</td>"),
        "{html}"
    );
    assert!(!html.contains("<script"));
}

/// `sign --batch` lines carry the request back (`line`, `attest`, `orig`,
/// `dest`, `iat`, `origid`), so they verify as they are:
/// `shaken sign --batch r.jsonl | shaken verify --batch -`.
#[test]
fn signed_lines_verify_as_they_are() {
    let lab = Lab::new();
    let requests = [
        sign_request("A", ORIG, DEST, NOW),
        json!({"attest": "b", "orig": {"tn": "+1 215 555 0122"}, "dest": {"tn": "2125550143"}, "iat": NOW + 5}),
        json!({"attest": "A", "orig": {"tn": "anonymous"}, "dest": {"tn": [DEST]}, "iat": NOW}),
    ];
    let (o, signed) = sign_batch(&lab, &requests, &[]);
    assert_eq!(o.status.code(), Some(1), "one request is bad");
    assert_eq!(signed.len(), 3);
    assert_eq!(signed[0]["line"], 1);
    assert_eq!(signed[0]["attest"], "A");
    assert_eq!(signed[0]["orig"]["tn"], "12155550121");
    assert_eq!(signed[0]["dest"]["tn"], json!(["12125550143"]));
    assert_eq!(signed[0]["iat"], NOW);
    assert_eq!(signed[0]["origid"], "de305d54-75b4-431b-adb2-eb6b9e546014");
    assert_eq!(signed[1]["attest"], "B");
    assert_eq!(signed[1]["orig"]["tn"], "12155550122");
    assert!(signed[1]["origid"].as_str().unwrap().len() == 36);
    assert!(signed[2]["error"].as_str().unwrap().contains("orig.tn"));
    // Piped into verify --batch: the two signed lines pass, the error line
    // is a request error there too.
    let mut args = lab.verify_args();
    args.extend([
        "--batch".to_owned(),
        "-".to_owned(),
        "--now".to_owned(),
        (NOW + 5).to_string(),
    ]);
    let o = run(&args, Some(&o.stdout));
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 3, "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(lines[0]["verstat"], "TN-Validation-Passed", "{}", lines[0]);
    assert_eq!(lines[1]["verstat"], "TN-Validation-Passed", "{}", lines[1]);
    assert!(lines[2]["error"].is_object(), "{}", lines[2]);
}

/// `examples/data/verify.jsonl`, the README's verification batch: three
/// calls at 2027-01-15T08:00:00Z (Unix 1800000000) signed with the
/// committed lab key by the deterministic signer (byte-stable): one that
/// passes, one whose calling number was changed (spoofed), one whose
/// PASSporT was altered after signing. `SHAKEN_UPDATE_EXAMPLES=1` rewrites it.
#[test]
fn example_verify_batch_is_current() {
    use shaken::crypto::DeterministicSigner;
    use shaken::identity::IdentityHeader;
    use shaken::passport::{self, Attestation, Claims, Header};
    let key = std::fs::read_to_string(crate::support::certs("sp.key.pem")).unwrap();
    let signer = DeterministicSigner::from_pem(&key).unwrap();
    let sign = |attest, origid: &str| {
        let claims = Claims::shaken(attest, ORIG, vec![DEST.into()], NOW, origid);
        let token = passport::sign(&Header::shaken(X5U), &claims, &signer).unwrap();
        IdentityHeader::shaken(token, X5U).to_string()
    };
    let good = sign(Attestation::A, "de305d54-75b4-431b-adb2-eb6b9e546014");
    let spoofed = sign(Attestation::A, "de305d54-75b4-431b-adb2-eb6b9e546015");
    // Altered after signing: attestation C in the token, A claimed.
    let c = sign(Attestation::C, "de305d54-75b4-431b-adb2-eb6b9e546016");
    let mut parts: Vec<String> = c.splitn(3, '.').map(str::to_owned).collect();
    let claims = String::from_utf8(shaken::b64::decode(&parts[1]).unwrap()).unwrap();
    parts[1] = shaken::b64::encode(claims.replace("\"C\"", "\"A\"").as_bytes());
    let altered = parts.join(".");
    let mut text = String::new();
    for (from, identity) in [(ORIG, &good), ("12155550199", &spoofed), (ORIG, &altered)] {
        text.push_str(&verify_request(from, DEST, NOW, identity).to_string());
        text.push('\n');
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/verify.jsonl");
    if std::env::var_os("SHAKEN_UPDATE_EXAMPLES").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (SHAKEN_UPDATE_EXAMPLES=1 makes it)",
            path.display()
        )
    });
    assert_eq!(
        committed,
        text,
        "{} is stale: SHAKEN_UPDATE_EXAMPLES=1 rewrites it",
        path.display()
    );
}

/// Issue 20: `--summary-json`, `--csv` and `--traceback` over a batch that
/// spans many chunks and two workers: rows in input order, counts by
/// signer (spoofed calls attributed), peer and minute, unsigned counted.
#[test]
fn summary_json_csv_and_traceback_exports() {
    let lab = Lab::new();
    // The lab pins --now: line times within --max-age of it, over three minutes.
    let id = identity(&lab, "A", NOW);
    let mut lines = Vec::new();
    for i in 0..600u32 {
        let peer = ["sbc-east", "sbc-west"][(i % 2) as usize];
        let t = [NOW - 30, NOW, NOW + 60][(i / 200) as usize];
        let id = &id;
        let mut v = match i % 6 {
            0 => json!({"from": {"tn": ORIG}, "to": {"tn": [DEST]}, "time": t}), // unsigned
            1 => verify_request("12025550199", DEST, t, id), // spoofed number, valid signature
            _ => verify_request(ORIG, DEST, t, id),
        };
        v["peer"] = json!(peer);
        lines.push(v.to_string());
    }
    lines.push("{broken".to_owned());
    let (summary, csv, tb) = (lab.path("s.json"), lab.path("c.csv"), lab.path("t.csv"));
    let (o, out) = verify_batch(
        &lab,
        &lines.join("\n"),
        &[
            "--no-replay",
            "--jobs",
            "2",
            "--summary-json",
            &summary,
            "--csv",
            &csv,
            "--traceback",
            &tb,
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(out.len(), 601);
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(s["total"], 601);
    assert_eq!(s["unsigned"], 100);
    assert_eq!(s["malformed"], 1);
    assert_eq!(s["passed"], 400);
    assert_eq!(s["failed"], 100);
    assert_eq!(s["by_verstat"]["TN-Validation-Passed"], 400);
    assert_eq!(s["by_reason"]["no-identity"], 100);
    assert_eq!(s["by_reason"]["orig-mismatch"], 100);
    assert_eq!(s["by_attest"]["A"]["passed"], 400);
    assert_eq!(s["by_attest"]["A"]["failed"], 100);
    assert_eq!(s["by_attest"]["none"]["failed"], 101);
    let signer = &s["signers"][0];
    assert_eq!(signer["spc"], "1234");
    assert_eq!(signer["subject"], "CN=SHAKEN 1234, O=Shaken Lab, C=US");
    assert_eq!(signer["passed"], 400);
    assert_eq!(signer["failed"], 100);
    assert_eq!(signer["by_reason"]["orig-mismatch"], 100);
    assert_eq!(signer["by_attest"]["A"], 500);
    let peers = s["peers"].as_array().unwrap();
    assert_eq!(peers.len(), 2, "{s}");
    assert_eq!(peers[0]["total"], 300);
    assert_eq!(
        peers[0]["unsigned"].as_u64().unwrap() + peers[1]["unsigned"].as_u64().unwrap(),
        100
    );
    let minutes = s["by_minute"].as_array().unwrap();
    assert_eq!(minutes.len(), 3, "{s}");
    assert_eq!(minutes[0]["minute"], "2027-01-15T07:59:00Z");
    assert_eq!(minutes[0]["total"], 200);
    assert_eq!(s["spoofed"][0]["orig"], "12025550199");
    assert_eq!(s["spoofed"][0]["signers"]["1234"], 100);

    // One CSV row per line, in input order, with the documented columns.
    let csv = std::fs::read_to_string(&csv).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(
        rows[0],
        "line,call_id,time,peer,orig,dest,attest,verstat,reason_id,spc,x5u"
    );
    assert_eq!(rows.len(), 602);
    for (i, r) in rows[1..].iter().enumerate() {
        assert!(r.starts_with(&format!("{},", i + 1)), "{r}");
    }
    assert_eq!(
        rows[1],
        format!("1,,2027-01-15T07:59:30Z,sbc-east,{ORIG},{DEST},,No-TN-Validation,no-identity,,")
    );
    assert_eq!(
        rows[2],
        format!("2,,2027-01-15T07:59:30Z,sbc-west,12025550199,{DEST},A,No-TN-Validation,orig-mismatch,1234,https://cr.example.net/sp.pem")
    );
    assert!(
        rows[601].starts_with("601,,,,,,,No-TN-Validation,request-invalid,"),
        "{}",
        rows[601]
    );
    // The traceback export: the 100 spoofed calls, attributed.
    let tb = std::fs::read_to_string(&tb).unwrap();
    let tb: Vec<&str> = tb.lines().collect();
    assert_eq!(tb.len(), 101);
    assert!(
        tb[1].starts_with(&format!("2027-01-15T07:59:30Z,12025550199,{DEST},,A,")),
        "{}",
        tb[1]
    );
    assert!(
        tb[1].ends_with(",https://cr.example.net/sp.pem,sbc-west,2"),
        "{}",
        tb[1]
    );
}
