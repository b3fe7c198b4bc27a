//! `shaken serve --ui`: the page's headers and its two endpoints, against
//! the real binary on 127.0.0.1 with the committed lab certificates
//! (`certs/`) and the README's sample inputs (`examples/data/`, signed at
//! 1800000000). The verdicts are compared with what `shaken verify` says
//! of the same input, run here.

use crate::serve::{get, post, raw, request, Resp, Serve};
use crate::support::{certs, shaken, stdout};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::PathBuf;

/// The time the sample inputs were signed.
const SIGNED_AT: i64 = 1_800_000_000;
const KEY: &str = "ui-test-key-0123456789abcdef";

fn example(f: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/data")
        .join(f)
}

fn ui_server(extra: &[&str]) -> Serve {
    let chain = certs("sp-chain.pem");
    let root = certs("root.pem");
    let mut args = vec!["--ui", "--cert", &chain, "--trust-anchors", &root];
    args.extend_from_slice(extra);
    Serve::start_at(SIGNED_AT, &args)
}

/// The sample verification requests: (identity, from, to).
fn samples() -> Vec<(String, String, String)> {
    std::fs::read_to_string(example("verify.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["identity"].as_str().unwrap().to_owned(),
                v["from"]["tn"].as_str().unwrap().to_owned(),
                v["to"]["tn"][0].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn inspect(addr: SocketAddr, body: &Value) -> Value {
    let r = post(addr, "/ui/v1/inspect", &body.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.headers.contains("x-content-type-options: nosniff"));
    r.json()
}

/// POST raw bytes to the capture endpoint.
fn post_capture(addr: SocketAddr, bytes: &[u8], extra: &[(&str, &str)]) -> Resp {
    let mut r = format!(
        "POST /ui/v1/capture HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/vnd.tcpdump.pcap\r\nContent-Length: {}\r\n",
        bytes.len()
    )
    .into_bytes();
    for (k, v) in extra {
        r.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    r.extend_from_slice(b"\r\n");
    r.extend_from_slice(bytes);
    raw(addr, &r)
}

fn lab_verify_args() -> Vec<String> {
    vec![
        "--format".into(),
        "json".into(),
        "--cert".into(),
        certs("sp-chain.pem"),
        "--trust-anchors".into(),
        certs("root.pem"),
        "--now".into(),
        SIGNED_AT.to_string(),
    ]
}

fn assert_request_error(r: &Resp, status: u16, id: &str, contains: &str) {
    assert_eq!(r.status, status, "{id}: {}", r.body);
    let v = r.json();
    let exc = v["requestError"]
        .get("serviceException")
        .or_else(|| v["requestError"].get("policyException"))
        .unwrap_or_else(|| panic!("not a requestError: {}", r.body));
    assert_eq!(exc["messageId"], id, "{}", r.body);
    let text = exc["text"].as_str().unwrap();
    assert!(text.contains(contains), "{id}: {text:?} lacks {contains:?}");
}

#[test]
fn the_page_is_off_by_default() {
    let chain = certs("sp-chain.pem");
    let root = certs("root.pem");
    let srv = Serve::start_at(SIGNED_AT, &["--cert", &chain, "--trust-anchors", &root]);
    assert_eq!(get(srv.addr, "/").status, 404);
    let r = post(srv.addr, "/ui/v1/inspect", r#"{"input":"x"}"#);
    assert_request_error(&r, 404, "SVC4003", "not found");
}

#[test]
fn the_page_is_self_contained_and_cannot_be_framed() {
    let srv = ui_server(&[]);
    let r = get(srv.addr, "/");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.headers.contains("content-type: text/html; charset=utf-8"));
    let csp = r
        .headers
        .lines()
        .find_map(|l| l.strip_prefix("content-security-policy: "))
        .unwrap_or_else(|| panic!("no CSP: {}", r.headers));
    for rule in [
        "default-src 'none'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(rule), "{rule} missing from {csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("http"),
        "{csp}"
    );
    for h in [
        "x-content-type-options: nosniff",
        "x-frame-options: deny",
        "referrer-policy: no-referrer",
        "cache-control: no-store",
    ] {
        assert!(r.headers.contains(h), "{h} missing: {}", r.headers);
    }
    // Nothing loaded from elsewhere: no URL, no external script or style.
    let body = r.body.to_ascii_lowercase();
    for needle in [
        "http://",
        "https://",
        "<script src",
        "<link",
        "@import",
        "url(",
    ] {
        assert!(!body.contains(needle), "the page holds {needle}");
    }
    assert!(body.contains("<script>") && body.contains("/ui/v1/inspect"));
    assert!(r.body.contains(env!("CARGO_PKG_VERSION")));
    // The page is GET only.
    assert_eq!(post(srv.addr, "/", "{}").status, 405);
}

#[test]
fn an_identity_gets_the_verdict_of_verify_with_the_decoded_passport_and_chain() {
    let srv = ui_server(&[]);
    let mut ids = Vec::new();
    for (identity, from, to) in samples() {
        // As pasted, and with the call's numbers (compared as verify --orig/--dest).
        for with_call in [false, true] {
            let mut body = json!({"input": format!("Identity: {identity}")});
            let mut args = lab_verify_args();
            if with_call {
                body["orig"] = from.clone().into();
                body["dest"] = json!([to.clone()]);
                args.extend(["--orig".into(), from.clone(), "--dest".into(), to.clone()]);
            }
            args.push(identity.clone());
            let mut cli_args = vec!["verify".to_owned()];
            cli_args.extend(args);
            let cli: Value = serde_json::from_str(&stdout(&shaken(&cli_args))).unwrap();
            let r = inspect(srv.addr, &body);
            assert_eq!(r["kind"], "identity");
            assert_eq!(r["verdict"], cli, "inspect and verify differ for {body}");
            assert_eq!(r["checked_at"], SIGNED_AT);
            let p = &r["passports"][0];
            assert_eq!(p["report"], cli);
            assert_eq!(p["form"], "full");
            assert_eq!(p["header"]["ppt"], "shaken");
            assert_eq!(p["identity"]["info"], "https://cr.example.net/sp.pem");
            assert_eq!(p["claims"]["iat"], SIGNED_AT);
            assert_eq!(p["iat_utc"], "2027-01-15T08:00:00Z");
            assert_eq!(p["chain_source"], "pinned");
            assert_eq!(p["chain"][0]["role"], "end-entity");
            assert_eq!(p["chain"][0]["tn_auth_list"], json!([{"spc": "1234"}]));
            assert_eq!(p["chain"][1]["role"], "intermediate");
            assert!(p["lint"].is_array());
            match cli["reason"]["id"].as_str() {
                None => assert!(r["hint"].is_null()),
                Some(id) => {
                    let hint = r["hint"]
                        .as_str()
                        .unwrap_or_else(|| panic!("no hint for {id}"));
                    assert!(!hint.contains("--"), "{hint}");
                }
            }
            ids.push(cli["reason"]["id"].clone());
        }
    }
    // The samples cover a pass and failures (a spoofed number, a tampered token).
    assert!(ids.contains(&Value::Null), "{ids:?}");
    assert!(ids.contains(&json!("orig-mismatch")), "{ids:?}");
    assert!(ids.contains(&json!("signature-invalid")), "{ids:?}");
}

#[test]
fn looking_at_a_passport_does_not_record_it_so_the_call_still_passes() {
    let srv = ui_server(&[]);
    let (identity, from, to) = samples().remove(0);
    for _ in 0..3 {
        let r = inspect(srv.addr, &json!({"input": identity}));
        assert_eq!(r["verdict"]["verstat"], "TN-Validation-Passed", "{r}");
    }
    // The service's own replay store never saw it: the real call passes...
    let atis = json!({"verificationRequest": {
        "from": {"tn": from}, "to": {"tn": [to]}, "time": SIGNED_AT, "identity": identity,
    }});
    let first = post(srv.addr, "/stir/v1/verification", &atis.to_string());
    assert_eq!(
        first.json()["verificationResponse"]["verstat"],
        "TN-Validation-Passed",
        "{}",
        first.body
    );
    // ... another call with it is a replay there, and the page still shows
    // the PASSporT's own verdict.
    let mut other = atis.clone();
    other["verificationRequest"]["time"] = (SIGNED_AT + 1).into();
    let again = post(srv.addr, "/stir/v1/verification", &other.to_string());
    assert_eq!(
        again.json()["verificationResponse"]["reasonid"],
        "replay",
        "{}",
        again.body
    );
    let r = inspect(srv.addr, &json!({"input": identity}));
    assert_eq!(r["verdict"]["verstat"], "TN-Validation-Passed", "{r}");
    // Each look is in the request log with its verdict; the verification
    // metrics count the two calls only.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let log = srv.log();
    let looks = log
        .lines()
        .filter(|l| l.contains("path=/ui/v1/inspect") && l.contains("TN-Validation-Passed"))
        .count();
    assert_eq!(looks, 4, "{log}");
    let metrics = get(srv.addr, "/metrics").body;
    let verifications: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("shaken_verifications_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(verifications, 2.0, "{metrics}");
}

#[test]
fn a_sip_request_gets_the_verdict_of_verify_sip() {
    let srv = ui_server(&[]);
    let dir = tempfile::tempdir().unwrap();
    let unsigned = example("invite.txt");
    let signed = shaken(&[
        "sign",
        "--sip",
        unsigned.to_str().unwrap(),
        "--attest",
        "B",
        "--key",
        &certs("sp.key.pem"),
        "--x5u",
        "https://cr.example.net/sp.pem",
        "--iat",
        &SIGNED_AT.to_string(),
        "--origid",
        "de305d54-75b4-431b-adb2-eb6b9e546014",
        "--deterministic",
    ]);
    assert!(signed.status.success(), "{signed:?}");
    let signed_path = dir.path().join("signed.txt");
    std::fs::write(&signed_path, &signed.stdout).unwrap();
    for (path, verstat) in [
        (signed_path, "TN-Validation-Passed"),
        (unsigned, "No-TN-Validation"),
    ] {
        let text = std::fs::read_to_string(&path).unwrap();
        let mut args = vec![
            "verify".to_owned(),
            "--sip".into(),
            path.display().to_string(),
        ];
        args.extend(lab_verify_args());
        let cli: Value = serde_json::from_str(&stdout(&shaken(&args))).unwrap();
        let r = inspect(srv.addr, &json!({"input": text}));
        assert_eq!(r["kind"], "sip", "{r}");
        assert_eq!(r["verdict"], cli);
        assert_eq!(r["verdict"]["verstat"], verstat);
        let n = cli["passports"].as_array().unwrap().len();
        assert_eq!(r["passports"].as_array().unwrap().len(), n);
        if n > 0 {
            assert_eq!(r["passports"][0]["claims"]["attest"], "B");
            assert_eq!(r["passports"][0]["report"]["verstat"], verstat);
            assert_eq!(r["passports"][0]["chain"][0]["role"], "end-entity");
        } else {
            assert_eq!(cli["reason"]["id"], "no-identity");
            assert!(r["hint"].as_str().unwrap().contains("unsigned"));
        }
    }
    // Not a SIP request: the verdict of verify --sip, and the error in words.
    let r = inspect(
        srv.addr,
        &json!({"input": "INVITE sip:x SIP/2.0\r\nbroken header line\r\n\r\n", "kind": "sip"}),
    );
    assert_eq!(r["verdict"]["reason"]["id"], "sip-malformed", "{r}");
    assert!(
        r["error"].as_str().unwrap().contains("not a SIP request"),
        "{r}"
    );
}

#[test]
fn a_capture_gets_the_verdicts_of_verify_pcap() {
    let srv = ui_server(&[]);
    let pcap = example("calls.pcapng");
    let mut args = vec![
        "verify".to_owned(),
        "--pcap".into(),
        pcap.display().to_string(),
    ];
    // verify --pcap checks each call at its capture time: no --now.
    args.extend(lab_verify_args().into_iter().take(6));
    let out = shaken(&args);
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{out:?}");
    // The server clock is pinned (--now), and a pinned clock wins over the
    // capture's times as --now does for verify --pcap; the sample capture
    // was made within seconds of it, so the verdicts are the same.
    let r = post_capture(srv.addr, &std::fs::read(&pcap).unwrap(), &[]);
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let calls = v["calls"].as_array().unwrap();
    assert_eq!(calls.len(), lines.len(), "{v}");
    for (call, line) in calls.iter().zip(&lines) {
        let mut line = line.clone();
        let o = line.as_object_mut().unwrap();
        for k in ["time", "packet", "src", "dst", "transport"] {
            let cli = o.remove(k).unwrap();
            if k != "time" {
                assert_eq!(call[k], cli, "{k}");
            }
        }
        assert_eq!(call["verdict"], line, "capture and verify --pcap differ");
    }
    assert_eq!(v["stats"]["invites"], 4);
    assert_eq!(v["truncated"], 0);
    assert!(v["capture_error"].is_null());
    let verstats: Vec<&Value> = calls.iter().map(|c| &c["verdict"]["verstat"]).collect();
    assert_eq!(
        verstats,
        [
            "TN-Validation-Passed",
            "TN-Validation-Passed",
            "No-TN-Validation",
            "TN-Validation-Failed"
        ]
    );
    // A capture cut short: the calls before the cut, and the error.
    let bytes = std::fs::read(&pcap).unwrap();
    let r = post_capture(srv.addr, &bytes[..bytes.len() - 40], &[]);
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert!(
        v["capture_error"]
            .as_str()
            .unwrap()
            .contains("malformed capture"),
        "{v}"
    );
    assert_eq!(v["calls"].as_array().unwrap().len(), 3, "{v}");
    assert_eq!(v["calls"][2]["verdict"], calls[2]["verdict"]);
}

#[test]
fn every_bad_input_gets_a_clear_error() {
    let srv = ui_server(&[]);
    let a = srv.addr;
    let cases: &[(&str, u16, &str, &str)] = &[
        ("{not json", 400, "SVC4006", "Failed to parse"),
        ("[1,2]", 400, "SVC4006", "not a JSON object"),
        ("{}", 400, "SVC4001", "'input'"),
        (r#"{"input": 5}"#, 400, "SVC4005", "must be a string"),
        (r#"{"input": "  "}"#, 400, "SVC4005", "is empty"),
        (
            r#"{"input": "x", "extra": 1}"#,
            400,
            "SVC4005",
            "unknown member",
        ),
        (
            r#"{"input": "x", "kind": "pcap"}"#,
            400,
            "SVC4005",
            "expected auto",
        ),
        (
            r#"{"input": "x", "orig": "not a number"}"#,
            400,
            "SVC4005",
            "'orig'",
        ),
        (
            r#"{"input": "x", "dest": "12125550143"}"#,
            400,
            "SVC4005",
            "array of strings",
        ),
        (
            r#"{"input": "x", "input": "y"}"#,
            400,
            "SVC4006",
            "duplicate",
        ),
        (
            r#"{"input": "INVITE sip:a@b SIP/2.0\r\n\r\n", "orig": "12155550121"}"#,
            400,
            "SVC4005",
            "read from the SIP request",
        ),
    ];
    for (body, status, id, text) in cases {
        let r = post(a, "/ui/v1/inspect", body);
        assert_request_error(&r, *status, id, text);
        assert!(r.headers.contains("x-content-type-options: nosniff"));
    }
    // An Identity value that is not one is a verdict, not a request error.
    let r = inspect(a, &json!({"input": "certainly not a PASSporT"}));
    assert_eq!(r["verdict"]["verstat"], "No-TN-Validation");
    assert!(r["passports"][0]["decode_error"].is_string(), "{r}");
    assert!(r["passports"][0]["chain"].is_null(), "{r}");
    assert!(r["hint"].is_string());
    // Too large, wrong type, chunked, wrong method.
    let big = json!({"input": "a".repeat(400_000)}).to_string();
    assert_request_error(
        &post(a, "/ui/v1/inspect", &big),
        413,
        "SVC4005",
        "larger than",
    );
    let r = request(
        a,
        "POST",
        "/ui/v1/inspect",
        &[("Content-Type", "text/plain"), ("Content-Length", "2")],
        "{}",
    );
    assert_request_error(&r, 415, "SVC4004", "expected 'application/json'");
    let r = request(
        a,
        "POST",
        "/ui/v1/capture",
        &[
            ("Content-Type", "application/octet-stream"),
            ("Transfer-Encoding", "chunked"),
        ],
        "5\r\nhello\r\n0\r\n\r\n",
    );
    assert_request_error(&r, 411, "SVC4007", "Content-Length");
    assert_request_error(
        &get(a, "/ui/v1/inspect"),
        405,
        "POL4050",
        "Method not allowed",
    );
    // Captures: not one, empty, too large (refused before it is read).
    let r = post_capture(a, b"GIF89a this is not a capture", &[]);
    assert_request_error(&r, 400, "SVC4005", "pcap");
    let r = request(
        a,
        "POST",
        "/ui/v1/capture",
        &[("Content-Type", "text/plain"), ("Content-Length", "5")],
        "hello",
    );
    assert_request_error(&r, 400, "SVC4005", "not a capture type");
    let r = post_capture(a, b"", &[]);
    assert_request_error(&r, 400, "SVC4000", "Missing request body");
    let r = request(
        a,
        "POST",
        "/ui/v1/capture",
        &[
            ("Content-Type", "application/octet-stream"),
            ("Content-Length", "9000000"),
        ],
        "",
    );
    assert_request_error(&r, 413, "SVC4005", "larger than 8388608 bytes");
}

#[test]
fn the_page_is_open_but_its_api_needs_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.txt");
    std::fs::write(&keys, format!("{KEY}\n")).unwrap();
    let srv = ui_server(&["--api-keys", keys.to_str().unwrap()]);
    assert_eq!(get(srv.addr, "/").status, 200);
    let (identity, _, _) = samples().remove(0);
    let body = json!({"input": identity}).to_string();
    let len = body.len().to_string();
    let call = |auth: Option<&str>| {
        let mut h = vec![
            ("Content-Type", "application/json"),
            ("Content-Length", len.as_str()),
        ];
        if let Some(a) = auth {
            h.push(("Authorization", a));
        }
        request(srv.addr, "POST", "/ui/v1/inspect", &h, &body)
    };
    assert_request_error(&call(None), 401, "POL4001", "API key");
    assert_request_error(&call(Some("Bearer wrong-key")), 401, "POL4001", "API key");
    let bearer = format!("Bearer {KEY}");
    let ok = call(Some(&bearer));
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json()["verdict"]["verstat"], "TN-Validation-Passed");
    let pcap = std::fs::read(example("calls.pcapng")).unwrap();
    assert_request_error(
        &post_capture(srv.addr, &pcap, &[]),
        401,
        "POL4001",
        "API key",
    );
    let r = post_capture(srv.addr, &pcap, &[("Authorization", &bearer)]);
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn the_toml_key_ui_turns_the_page_on() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("serve.toml");
    std::fs::write(
        &conf,
        format!(
            "ui = true\ncert = {:?}\ntrust-anchors = [{:?}]\n",
            certs("sp-chain.pem"),
            certs("root.pem")
        ),
    )
    .unwrap();
    let srv = Serve::start_at(SIGNED_AT, &["--config", conf.to_str().unwrap()]);
    let r = get(srv.addr, "/");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r
        .headers
        .contains("content-security-policy: default-src 'none'"));
    let (identity, _, _) = samples().remove(0);
    let v = inspect(srv.addr, &json!({"input": identity}));
    assert_eq!(v["verdict"]["verstat"], "TN-Validation-Passed");
}

#[test]
fn the_page_never_takes_the_sbcs_slots() {
    use crate::support::http::{Reply, Server};
    use std::time::Duration;
    // One ATIS slot, held by a verification waiting 3 s for a slow x5u.
    let chain = std::fs::read(certs("sp-chain.pem")).unwrap();
    let slow = Server::always(Reply::Delayed(
        Duration::from_secs(3),
        Box::new(Reply::Ok(chain)),
    ));
    let root = certs("root.pem");
    let srv = Serve::start_at(
        SIGNED_AT,
        &[
            "--ui",
            "--trust-anchors",
            &root,
            "--allow-http-x5u",
            "--allow-private-x5u",
            "--allow-any-port-x5u",
            "--max-concurrent",
            "1",
        ],
    );
    let addr = srv.addr;
    let x5u = slow.url("/sp.pem");
    // A PASSporT naming the slow server (the lab key signs it).
    let header = crate::support::header_with(&x5u);
    let payload = crate::support::payload_iat(&SIGNED_AT.to_string());
    let token = crate::support::token(header.as_bytes(), payload.as_bytes());
    let identity = format!("{token};info=<{x5u}>;alg=ES256;ppt=shaken");
    let atis = json!({"verificationRequest": {
        "from": {"tn": crate::support::ORIG}, "to": {"tn": [crate::support::DEST]},
        "time": SIGNED_AT, "identity": identity,
    }})
    .to_string();
    let held = std::thread::spawn(move || post(addr, "/stir/v1/verification", &atis));
    std::thread::sleep(Duration::from_millis(500));
    // The page's API answers at once meanwhile (a value that needs no fetch).
    let r = inspect(addr, &json!({"input": "not a PASSporT"}));
    assert_eq!(r["verdict"]["reason"]["id"], "identity-malformed", "{r}");
    assert!(!held.is_finished(), "the ATIS request was not in flight");
    let answer = held.join().unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
}
