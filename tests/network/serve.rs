//! `shaken serve` end to end: the real binary on 127.0.0.1:0 (the test reads
//! `listening on ADDR` from its stderr), a lab PKI written to a tempdir, and
//! for the x5u cases a loopback certificate server started here. The server
//! clock is pinned with `--now`; no test depends on the wall clock.

use crate::support::http::{closed_port, Reply, Server};
use crate::support::tls::{self, Issued, TestCa};
use crate::support::{bin, LabDir};
use serde_json::{json, Value};
use shaken::crypto::KeySigner;
use shaken::identity::IdentityHeader;
use shaken::passport::{self, Attestation, Claims, Header};
use shaken::pki::{LabPki, LabPkiOptions, LeafOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub(crate) const NOW: i64 = 1_700_000_000;
pub(crate) const ORIG: &str = "12155550121";
pub(crate) const DEST: &str = "12155550131";
const ORIGID: &str = "de305d54-75b4-431b-adb2-eb6b9e546014";
const X5U_FIXED: &str = "https://cr.example.net/sp-1234.pem";

// ------------------------------------------------------------------ fixtures

/// The lab PKI in a temporary directory (`root.pem`, `chain.pem`, `key.pem`).
pub(crate) struct Lab(LabDir);

impl std::ops::Deref for Lab {
    type Target = LabDir;
    fn deref(&self) -> &LabDir {
        &self.0
    }
}

impl Lab {
    pub(crate) fn new() -> Lab {
        Lab(LabDir::new(NOW))
    }
    /// An Identity header signed here with the lab key.
    pub(crate) fn identity(&self, x5u: &str, iat: i64, origid: &str) -> String {
        let signer = KeySigner::from_pem(&self.pki.leaf.key_pem).unwrap();
        let claims = Claims::shaken(Attestation::A, ORIG, vec![DEST.into()], iat, origid);
        let token = passport::sign(&Header::shaken(x5u), &claims, &signer).unwrap();
        IdentityHeader::shaken(token, x5u).to_string()
    }
}

pub(crate) struct Serve {
    child: Child,
    pub(crate) addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Serve {
    pub(crate) fn start(args: &[&str]) -> Serve {
        Serve::start_at(NOW, args)
    }

    /// [`start`](Self::start) with the server clock pinned at `now`.
    pub(crate) fn start_at(now: i64, args: &[&str]) -> Serve {
        let mut child = bin()
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--now", &now.to_string()])
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut addr = None;
        for line in lines.by_ref() {
            let line = line.unwrap();
            log.lock().unwrap().push(line.clone());
            if let Some(a) = line.strip_prefix("listening on ") {
                addr = Some(a.trim().parse().unwrap());
                break;
            }
        }
        let Some(addr) = addr else {
            let status = child.wait().unwrap();
            panic!("server did not start ({status}): {:?}", log.lock().unwrap());
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Serve { child, addr, log }
    }

    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The flags of a fixed-chain server with signing on.
fn signing_args(lab: &Lab) -> Vec<String> {
    vec![
        "--cert".into(),
        lab.path("chain.pem"),
        "--key".into(),
        lab.path("key.pem"),
        "--x5u".into(),
        X5U_FIXED.into(),
        "--trust-anchors".into(),
        lab.path("root.pem"),
    ]
}

/// A fixed-chain server with signing on.
fn signing_server(lab: &Lab) -> Serve {
    let args = signing_args(lab);
    Serve::start(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// A server that fetches x5u over plain HTTP on loopback, without signing.
fn online_server(lab: &Lab) -> Serve {
    Serve::start(&[
        "--trust-anchors",
        &lab.path("root.pem"),
        "--allow-http-x5u",
        "--allow-private-x5u",
        "--connect-timeout-ms",
        "1000",
        "--fetch-timeout-ms",
        "3000",
    ])
}

/// A certificate server on 127.0.0.1 answering every GET with `body` after
/// `delay`. Returns the URL of `/sp.pem`.
fn cert_server(body: String, delay: Duration) -> String {
    Server::always(Reply::Delayed(
        delay,
        Box::new(Reply::Ok(body.into_bytes())),
    ))
    .url("/sp.pem")
}

/// A URL on 127.0.0.1 where nothing listens.
fn dead_url() -> String {
    format!("http://127.0.0.1:{}/sp.pem", closed_port())
}

// ------------------------------------------------------------------ client

pub(crate) struct Resp {
    pub(crate) status: u16,
    pub(crate) headers: String,
    pub(crate) body: String,
}

impl Resp {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

/// Send raw bytes, read the whole response (the request says
/// `Connection: close`).
pub(crate) fn raw(addr: SocketAddr, request: &[u8]) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let headers = head.to_ascii_lowercase();
    let body = if headers.contains("transfer-encoding: chunked") {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Resp {
        status,
        headers,
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = s.split_once("\r\n").unwrap();
        let n = usize::from_str_radix(size.trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
}

pub(crate) fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Resp {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str("\r\n");
    r.push_str(body);
    raw(addr, r.as_bytes())
}

pub(crate) fn post(addr: SocketAddr, path: &str, body: &str) -> Resp {
    let len = body.len().to_string();
    request(
        addr,
        "POST",
        path,
        &[
            ("Content-Type", "application/json"),
            ("Content-Length", &len),
        ],
        body,
    )
}

pub(crate) fn get(addr: SocketAddr, path: &str) -> Resp {
    request(addr, "GET", path, &[], "")
}

fn signing_request() -> Value {
    json!({"signingRequest": {
        "attest": "A",
        "dest": {"tn": [DEST]},
        "iat": NOW,
        "orig": {"tn": ORIG},
        "origid": ORIGID,
    }})
}

pub(crate) fn verification_request(identity: &str, time: i64) -> Value {
    json!({"verificationRequest": {
        "from": {"tn": ORIG},
        "to": {"tn": [DEST]},
        "time": time,
        "identity": identity,
    }})
}

fn verify(addr: SocketAddr, identity: &str, time: i64) -> Value {
    let r = post(
        addr,
        "/stir/v1/verification",
        &verification_request(identity, time).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["verificationResponse"].clone()
}

/// Check a requestError body.
fn assert_error(r: &Resp, status: u16, kind: &str, id: &str, text: &str, vars: &[&str]) {
    assert_eq!(r.status, status, "{id}: {}", r.body);
    assert!(
        r.headers.contains("content-type: application/json"),
        "{id}: {}",
        r.headers
    );
    let v = r.json();
    let exc = &v["requestError"][kind];
    assert_eq!(exc["messageId"], id, "{}", r.body);
    assert_eq!(exc["text"], text, "{}", r.body);
    let want: Vec<Value> = vars.iter().map(|s| Value::from(*s)).collect();
    assert_eq!(exc["variables"], Value::Array(want), "{}", r.body);
}

// ------------------------------------------------------------------ tests

#[test]
fn sign_then_verify_round_trip() {
    let lab = Lab::new();
    let srv = signing_server(&lab);
    let r = post(srv.addr, "/stir/v1/signing", &signing_request().to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    let identity = r.json()["signingResponse"]["identity"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        identity.ends_with(&format!(";info=<{X5U_FIXED}>;alg=ES256;ppt=shaken")),
        "{identity}"
    );
    let v = verify(srv.addr, &identity, NOW + 2);
    assert_eq!(v, json!({"verstat": "TN-Validation-Passed", "attest": "A"}));

    // The same PASSporT again is a replay (per-instance store, on by default).
    let again = verify(srv.addr, &identity, NOW + 3);
    assert_eq!(again["verstat"], "TN-Validation-Failed");
    assert_eq!(again["reasoncode"], 438);
    assert!(again["reasondesc"].as_str().unwrap().contains("replayed"));

    // National-format numbers are canonicalised (NANP).
    let mut req = signing_request();
    req["signingRequest"]["orig"]["tn"] = "+1 (215) 555-0121".into();
    req["signingRequest"]["dest"]["tn"] = json!(["2155550131"]);
    req["signingRequest"]["origid"] = "DE305D54-75B4-431B-ADB2-EB6B9E546015".into();
    let r = post(srv.addr, "/stir/v1/signing", &req.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    let id2 = r.json()["signingResponse"]["identity"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        verify(srv.addr, &id2, NOW)["verstat"],
        "TN-Validation-Passed"
    );

    // The request log names the outcome but never the token.
    std::thread::sleep(Duration::from_millis(200));
    let log = srv.log();
    assert!(log.contains("TN-Validation-Passed"), "{log}");
    let token = identity.split(';').next().unwrap();
    assert!(!log.contains(token), "token logged: {log}");
}

#[test]
fn every_request_error_body() {
    let lab = Lab::new();
    let srv = signing_server(&lab);
    let a = srv.addr;
    let svc = "serviceException";
    let pol = "policyException";

    // SVC4000: no body.
    let r = request(
        a,
        "POST",
        "/stir/v1/verification",
        &[
            ("Content-Type", "application/json"),
            ("Content-Length", "0"),
        ],
        "",
    );
    assert_error(&r, 400, svc, "SVC4000", "Missing request body", &[]);
    let r = request(a, "POST", "/stir/v1/signing", &[], "");
    assert_error(&r, 400, svc, "SVC4000", "Missing request body", &[]);

    // SVC4001: a mandatory parameter is missing, at every level.
    let mut req = signing_request();
    req["signingRequest"]
        .as_object_mut()
        .unwrap()
        .remove("attest");
    let r = post(a, "/stir/v1/signing", &req.to_string());
    assert_error(
        &r,
        400,
        svc,
        "SVC4001",
        "Missing mandatory parameter 'attest'",
        &["attest"],
    );
    let mut req = signing_request();
    req["signingRequest"]["dest"] = json!({});
    let r = post(a, "/stir/v1/signing", &req.to_string());
    assert_error(
        &r,
        400,
        svc,
        "SVC4001",
        "Missing mandatory parameter 'dest.tn'",
        &["dest.tn"],
    );
    let r = post(a, "/stir/v1/signing", "{}");
    assert_error(
        &r,
        400,
        svc,
        "SVC4001",
        "Missing mandatory parameter 'signingRequest'",
        &["signingRequest"],
    );
    for field in ["from", "to", "time"] {
        let mut req = verification_request("x", NOW);
        req["verificationRequest"]
            .as_object_mut()
            .unwrap()
            .remove(field);
        let r = post(a, "/stir/v1/verification", &req.to_string());
        let text = format!("Missing mandatory parameter '{field}'");
        assert_error(&r, 400, svc, "SVC4001", &text, &[field]);
    }

    // SVC4002: JSON not acceptable.
    let body = signing_request().to_string();
    let len = body.len().to_string();
    let r = request(
        a,
        "POST",
        "/stir/v1/signing",
        &[
            ("Content-Type", "application/json"),
            ("Content-Length", &len),
            ("Accept", "text/html"),
        ],
        &body,
    );
    assert_error(
        &r,
        406,
        svc,
        "SVC4002",
        "Requested response body type 'text/html' is not supported",
        &["text/html"],
    );

    // SVC4003: unknown path.
    let r = get(a, "/stir/v2/signing");
    assert_error(
        &r,
        404,
        svc,
        "SVC4003",
        "Requested resource was not found",
        &[],
    );

    // SVC4004: not JSON.
    let r = request(
        a,
        "POST",
        "/stir/v1/signing",
        &[("Content-Type", "text/plain"), ("Content-Length", &len)],
        &body,
    );
    assert_error(
        &r,
        415,
        svc,
        "SVC4004",
        "Unsupported request body type, expected 'application/json'",
        &["application/json"],
    );

    // SVC4005: invalid values.
    let cases: Vec<(&str, Value, &str)> = vec![
        ("/attest", json!("D"), "attest"),
        ("/orig/tn", json!("call me"), "orig.tn"),
        ("/dest/tn", json!([]), "dest.tn"),
        ("/dest/tn", json!(["12155550131", "x"]), "dest.tn"),
        ("/origid", json!("not-a-uuid"), "origid"),
        ("/iat", json!("1700000000"), "iat"),
        ("/iat", json!(-5), "iat"),
        ("/orig", json!("12155550121"), "orig"),
    ];
    for (pointer, value, name) in cases {
        let mut req = signing_request();
        *req["signingRequest"].pointer_mut(pointer).unwrap() = value.clone();
        let r = post(a, "/stir/v1/signing", &req.to_string());
        let v = r.json();
        let exc = &v["requestError"][svc];
        assert_eq!(r.status, 400, "{name}={value}: {}", r.body);
        assert_eq!(exc["messageId"], "SVC4005", "{}", r.body);
        assert_eq!(exc["variables"][0], name, "{}", r.body);
        let reason = exc["variables"][1].as_str().unwrap();
        assert_eq!(
            exc["text"],
            format!("Invalid '{name}' parameter value: {reason}")
        );
    }
    let mut req = verification_request("x", NOW);
    req["verificationRequest"]["from"]["tn"] = "abc".into();
    let r = post(a, "/stir/v1/verification", &req.to_string());
    assert_eq!(r.json()["requestError"][svc]["variables"][0], "from.tn");
    let mut req = verification_request(" ", NOW);
    req["verificationRequest"]["time"] = json!(1.5);
    let r = post(a, "/stir/v1/verification", &req.to_string());
    assert_eq!(r.json()["requestError"][svc]["variables"][0], "time");

    // SVC4006: not parsable.
    let r = post(a, "/stir/v1/signing", "{\"signingRequest\": ");
    assert_eq!(r.status, 400);
    let exc = &r.json()["requestError"][svc];
    assert_eq!(exc["messageId"], "SVC4006");
    let why = exc["variables"][0].as_str().unwrap();
    assert_eq!(
        exc["text"],
        format!("Failed to parse received message body: {why}")
    );
    let r = post(a, "/stir/v1/signing", "[1,2]");
    assert_eq!(r.json()["requestError"][svc]["messageId"], "SVC4006");

    // SVC4007: chunked body, no Content-Length.
    let chunk = format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len());
    let r = request(
        a,
        "POST",
        "/stir/v1/signing",
        &[
            ("Content-Type", "application/json"),
            ("Transfer-Encoding", "chunked"),
        ],
        &chunk,
    );
    assert_error(
        &r,
        411,
        svc,
        "SVC4007",
        "Missing mandatory Content-Length header",
        &[],
    );

    // POL4050: wrong method.
    for (method, path) in [
        ("GET", "/stir/v1/signing"),
        ("PUT", "/stir/v1/verification"),
        ("DELETE", "/stir/v1/verification"),
        ("POST", "/health"),
    ] {
        let r = request(a, method, path, &[("Content-Length", "0")], "");
        assert_error(&r, 405, pol, "POL4050", "Method not allowed", &[]);
    }

    // 413: body over the 16 KiB cap (SVC4005 on 'body').
    let mut req = verification_request(&"a".repeat(20_000), NOW);
    req["verificationRequest"]["identity"] = "a".repeat(20_000).into();
    let r = post(a, "/stir/v1/verification", &req.to_string());
    assert_error(
        &r,
        413,
        svc,
        "SVC4005",
        "Invalid 'body' parameter value: request body is larger than 16384 bytes",
        &["body", "request body is larger than 16384 bytes"],
    );
}

#[test]
fn stale_request_time_is_403_in_a_200() {
    let lab = Lab::new();
    let srv = signing_server(&lab);
    let id = lab.identity(X5U_FIXED, NOW, ORIGID);
    for time in [NOW - 61, NOW + 120] {
        let v = verify(srv.addr, &id, time);
        assert_eq!(v["verstat"], "No-TN-Validation");
        assert_eq!(v["reasoncode"], 403);
        assert_eq!(v["reasontext"], "Stale Date");
        assert!(v["reasondesc"].as_str().unwrap().contains("server clock"));
    }
    // A stale iat with a fresh request time is E15, also 403.
    let old = lab.identity(X5U_FIXED, NOW - 600, ORIGID);
    let v = verify(srv.addr, &old, NOW);
    assert_eq!(v["reasoncode"], 403);
    assert_eq!(v["verstat"], "No-TN-Validation");
}

#[test]
fn tampered_and_mismatched_identities_are_438() {
    let lab = Lab::new();
    let srv = signing_server(&lab);
    let id = lab.identity(X5U_FIXED, NOW, ORIGID);
    // Same header and signature, payload changed to attest "B".
    let token = id.split(';').next().unwrap();
    let mut parts = token.split('.');
    let (h, p, s) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let payload = String::from_utf8(shaken::b64::decode(p).unwrap()).unwrap();
    let forged = payload.replace("\"attest\":\"A\"", "\"attest\":\"B\"");
    assert_ne!(forged, payload);
    let tampered = id.replacen(
        token,
        &format!("{h}.{}.{s}", shaken::b64::encode(forged.as_bytes())),
        1,
    );
    let v = verify(srv.addr, &tampered, NOW);
    assert_eq!(v["verstat"], "TN-Validation-Failed", "{v}");
    assert_eq!(v["reasoncode"], 438);
    assert_eq!(v["reasontext"], "Invalid Identity Header");

    // Orig mismatch (E16) and garbage (unparsable header) are 438 too.
    let mut req = verification_request(&id, NOW);
    req["verificationRequest"]["from"]["tn"] = "12155550199".into();
    let r = post(srv.addr, "/stir/v1/verification", &req.to_string());
    let v = &r.json()["verificationResponse"];
    assert_eq!(v["reasoncode"], 438);
    assert_eq!(v["verstat"], "No-TN-Validation");
    let v = verify(srv.addr, "not an identity header", NOW);
    assert_eq!(v["reasoncode"], 438);
    assert_eq!(v["verstat"], "No-TN-Validation");
    // Issue 20: a request without identity is an unsigned call (428), not
    // a request error, and is counted as unsigned.
    let mut req = verification_request("x", NOW);
    req["verificationRequest"]
        .as_object_mut()
        .unwrap()
        .remove("identity");
    let r = post(srv.addr, "/stir/v1/verification", &req.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    let v = &r.json()["verificationResponse"];
    assert_eq!(v["reasoncode"], 428, "{v}");
    assert_eq!(v["reasonid"], "no-identity", "{v}");
    assert_eq!(v["verstat"], "No-TN-Validation");
    let m = get(srv.addr, "/metrics");
    assert!(
        m.body.contains("shaken_verifications_unsigned_total 1"),
        "{}",
        m.body
    );
    // An empty identity stays a request error.
    let r = post(
        srv.addr,
        "/stir/v1/verification",
        &verification_request(" ", NOW).to_string(),
    );
    assert_eq!(r.status, 400, "{}", r.body);
}

#[test]
fn online_x5u_passes_and_down_x5u_is_436() {
    let lab = Lab::new();
    let srv = online_server(&lab);
    let url = cert_server(lab.pki.leaf_chain_pem(), Duration::ZERO);
    let id = lab.identity(&url, NOW, ORIGID);
    let v = verify(srv.addr, &id, NOW);
    assert_eq!(v["verstat"], "TN-Validation-Passed", "{v}");

    let down = dead_url();
    let id = lab.identity(&down, NOW, "de305d54-75b4-431b-adb2-eb6b9e546099");
    let v = verify(srv.addr, &id, NOW);
    assert_eq!(v["verstat"], "No-TN-Validation", "{v}");
    assert_eq!(v["reasoncode"], 436);
    assert_eq!(v["reasontext"], "Bad Identity Info");
    assert!(
        v["reasondesc"].as_str().unwrap().contains("127.0.0.1"),
        "{v}"
    );

    // No key: signing is not offered.
    let r = post(srv.addr, "/stir/v1/signing", &signing_request().to_string());
    assert_error(
        &r,
        404,
        "serviceException",
        "SVC4003",
        "Requested resource was not found",
        &[],
    );

    let m = get(srv.addr, "/metrics");
    assert_eq!(m.status, 200);
    assert!(
        m.headers.contains("content-type: text/plain"),
        "{}",
        m.headers
    );
    for want in [
        "shaken_x5u_cache_fetches_total 2",
        "shaken_x5u_cache_fetch_failures_total 1",
        // Nothing was near its expiry: no background refresh yet.
        "shaken_x5u_cache_refreshes_total 0",
        "shaken_x5u_cache_refresh_failures_total 0",
        "shaken_verification_failures_total{reasoncode=\"436\"} 1",
        "shaken_verifications_total{verstat=\"TN-Validation-Passed\"} 1",
    ] {
        assert!(m.body.contains(want), "missing {want}:\n{}", m.body);
    }
    // The fetch cap (--max-fetches, default 64): both fetches are over.
    for want in [
        "# TYPE shaken_fetches_in_flight gauge",
        "shaken_fetches_in_flight 0",
        "shaken_fetches_max 64",
        "shaken_fetch_busy_total 0",
    ] {
        assert!(
            m.body.lines().any(|l| l == want),
            "missing {want}:\n{}",
            m.body
        );
    }
}

#[test]
fn health_and_metrics() {
    let lab = Lab::new();
    let srv = signing_server(&lab);
    let h = get(srv.addr, "/health");
    assert_eq!(h.status, 200);
    assert_eq!(h.json(), json!({"status": "ok"}));
    let r = post(srv.addr, "/stir/v1/signing", &signing_request().to_string());
    assert_eq!(r.status, 200);
    let _ = get(srv.addr, "/nowhere");
    let m = get(srv.addr, "/metrics");
    assert_eq!(m.status, 200);
    for want in [
        "# TYPE shaken_http_requests_total counter",
        "shaken_http_requests_total{endpoint=\"signing\",status=\"200\"} 1",
        "shaken_http_requests_total{endpoint=\"health\",status=\"200\"} 1",
        "shaken_http_requests_total{endpoint=\"other\",status=\"404\"} 1",
        "# TYPE shaken_http_request_duration_seconds histogram",
        "shaken_http_request_duration_seconds_count{endpoint=\"signing\"} 1",
        "shaken_signatures_total 1",
        "shaken_http_requests_in_flight 1",
    ] {
        assert!(m.body.contains(want), "missing {want}:\n{}", m.body);
    }
}

#[test]
fn config_file_with_flags_overriding() {
    let lab = Lab::new();
    let file = lab.dir.path().join("serve.toml");
    std::fs::write(
        &file,
        format!(
            "listen = \"127.0.0.1:1\"\ncert = {:?}\ntrust-anchors = [{:?}]\nkey = {:?}\nx5u = {X5U_FIXED:?}\nmax-body = 100\n",
            lab.path("chain.pem"),
            lab.path("root.pem"),
            lab.path("key.pem"),
        ),
    )
    .unwrap();
    // --listen (from Serve::start) overrides the file's port 1.
    let srv = Serve::start(&["--config", &file.display().to_string()]);
    let r = post(srv.addr, "/stir/v1/signing", &signing_request().to_string());
    assert_eq!(r.status, 413, "max-body from the file: {}", r.body);
    drop(srv);
    let srv = Serve::start(&[
        "--config",
        &file.display().to_string(),
        "--max-body",
        "4096",
    ]);
    let r = post(srv.addr, "/stir/v1/signing", &signing_request().to_string());
    assert_eq!(r.status, 200, "{}", r.body);

    let bad = lab.dir.path().join("bad.toml");
    std::fs::write(&bad, "max-concurent = 5\n").unwrap();
    let out = bin()
        .args(["serve", "--config", &bad.display().to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("max-concurent"), "{err}");
}

/// `--threads N` (or `threads` in the file) sets the worker count, said in
/// the start-up log line; out of range is a usage error before anything binds.
#[test]
fn threads_from_the_flag_or_the_file() {
    let lab = Lab::new();
    let srv = Serve::start(&[
        "--cert",
        &lab.path("chain.pem"),
        "--trust-anchors",
        &lab.path("root.pem"),
        "--threads",
        "3",
    ]);
    let id = lab.identity(X5U_FIXED, NOW, ORIGID);
    let v = verify(srv.addr, &id, NOW);
    assert_eq!(v["verstat"], "TN-Validation-Passed", "{v}");
    srv.wait_log("workers=3", 1);
    drop(srv);
    let file = lab.dir.path().join("threads.toml");
    std::fs::write(&file, "threads = 2\n").unwrap();
    let srv = Serve::start(&[
        "--cert",
        &lab.path("chain.pem"),
        "--config",
        &file.display().to_string(),
    ]);
    srv.wait_log("workers=2", 1);
    // The flag overrides the file.
    drop(srv);
    let srv = Serve::start(&[
        "--cert",
        &lab.path("chain.pem"),
        "--config",
        &file.display().to_string(),
        "--threads",
        "1",
    ]);
    srv.wait_log("workers=1", 1);
    drop(srv);

    for (args, file_text, want) in [
        (vec!["--threads", "0"], None, "0 is not in 1..=1024"),
        (vec!["--threads", "1025"], None, "1025 is not in 1..=1024"),
        (vec!["--threads", "many"], None, "invalid digit"),
        (
            vec![],
            Some("threads = 0\n"),
            "threads = 0: expected 1 to 1024",
        ),
        (
            vec![],
            Some("threads = 5000\n"),
            "threads = 5000: expected 1 to 1024",
        ),
        (vec![], Some("threads = -1\n"), "threads"),
    ] {
        let mut cmd = bin();
        cmd.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--cert",
            &lab.path("chain.pem"),
        ])
        .args(&args);
        if let Some(text) = file_text {
            std::fs::write(&file, text).unwrap();
            cmd.args(["--config", &file.display().to_string()]);
        }
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?} {file_text:?}: {err}");
        assert!(err.contains(want), "{args:?} {file_text:?}: {err}");
        assert!(!err.contains("listening on"), "{err}");
    }
}

#[test]
fn sigterm_finishes_the_request_in_flight_then_exits_0() {
    let lab = Lab::new();
    let mut srv = online_server(&lab);
    // The certificate server takes 1.5 s: the verification is in flight
    // when SIGTERM arrives.
    let url = cert_server(lab.pki.leaf_chain_pem(), Duration::from_millis(1500));
    let id = lab.identity(&url, NOW, ORIGID);
    let addr = srv.addr;
    let inflight = std::thread::spawn(move || verify(addr, &id, NOW));
    std::thread::sleep(Duration::from_millis(500));
    let pid = srv.child.id().to_string();
    let st = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(st.success());
    let v = inflight.join().unwrap();
    assert_eq!(v["verstat"], "TN-Validation-Passed", "{v}");
    let status = srv.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{}", srv.log());
    // No new connections after shutdown.
    assert!(TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err());
}

#[test]
fn bad_startup_settings_exit_2() {
    let lab = Lab::new();
    for args in [
        vec!["--key", &lab.path("key.pem") as &str],
        vec!["--x5u", X5U_FIXED],
        vec!["--listen", "256.0.0.1:99999"],
    ] {
        let out = bin()
            .arg("serve")
            .args(&args)
            .args(["--cert", &lab.path("chain.pem")])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("error:"));
    }
}

/// A port in use: exit 2, the OS's reason said once (it used to be printed
/// twice, by the error and again by its cause).
#[test]
fn busy_port_is_said_once() {
    let lab = Lab::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = bin()
        .args(["serve", "--listen", &addr, "--cert", &lab.path("chain.pem")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
    assert_eq!(err.matches("in use").count(), 1, "{err}");
}

/// `--crl URL` and `--fetch-crl` are fetched while serving (through the
/// x5u HTTP rules and a cache bounded by the CRL's nextUpdate): a revoked
/// certificate is 437 TN-Validation-Failed in a 200 body; with the CRL
/// unreachable, the hard policy fails (437) and the soft one passes.
#[test]
fn crls_are_fetched_while_serving() {
    let pki = LabPki::generate(&LabPkiOptions::new(NOW - 86_400, NOW + 365 * 86_400)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = |f: &str| dir.path().join(f).display().to_string();
    std::fs::write(p("anchors.pem"), pki.anchors_pem()).unwrap();
    let mut lo = LeafOptions::new(NOW - 86_400, NOW + 86_400);
    lo.serial = Some(0x00c0_ffee_00c0_ffee);
    let revoked = pki.issue_leaf(&lo).unwrap();
    std::fs::write(
        p("revoked-chain.pem"),
        format!("{}{}", revoked.cert_pem, pki.ca.cert_pem),
    )
    .unwrap();
    std::fs::write(p("good-chain.pem"), pki.leaf_chain_pem()).unwrap();
    let crl_body = pki
        .issue_crl(&[0x00c0_ffee_00c0_ffee], NOW - 60, NOW + 3600)
        .unwrap();
    let crl_url = cert_server(crl_body, Duration::ZERO).replace("/sp.pem", "/crl.pem");
    let identity = |key_pem: &str| {
        let signer = KeySigner::from_pem(key_pem).unwrap();
        let claims = Claims::shaken(Attestation::A, ORIG, vec![DEST.into()], NOW, ORIGID);
        let token = passport::sign(&Header::shaken(X5U_FIXED), &claims, &signer).unwrap();
        IdentityHeader::shaken(token, X5U_FIXED).to_string()
    };
    let lab = [
        "--allow-http-x5u",
        "--allow-private-x5u",
        "--no-replay",
        "--trust-anchors",
    ];
    let start = |chain: &str, extra: &[&str]| {
        let mut args: Vec<String> = lab.iter().map(|s| s.to_string()).collect();
        args.push(p("anchors.pem"));
        args.extend(["--cert".to_string(), p(chain)]);
        args.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        Serve::start(&refs)
    };
    // --crl URL: revoked and good leaves.
    let srv = start("revoked-chain.pem", &["--crl", &crl_url]);
    let v = verify(srv.addr, &identity(&revoked.key_pem), NOW);
    assert_eq!(v["verstat"], "TN-Validation-Failed", "{v}");
    assert_eq!(v["reasoncode"], 437, "{v}");
    assert!(v["reasondesc"].as_str().unwrap().contains("revoked"), "{v}");
    let srv = start("good-chain.pem", &["--crl", &crl_url]);
    let v = verify(srv.addr, &identity(&pki.leaf.key_pem), NOW);
    assert_eq!(v["verstat"], "TN-Validation-Passed", "{v}");
    // Unreachable CRL: hard fails, soft passes.
    let dead = dead_url();
    let srv = start("good-chain.pem", &["--crl", &dead, "--crl-policy", "hard"]);
    let v = verify(srv.addr, &identity(&pki.leaf.key_pem), NOW);
    assert_eq!(v["reasoncode"], 437, "{v}");
    assert!(
        v["reasondesc"].as_str().unwrap().contains("127.0.0.1"),
        "{v}"
    );
    let srv = start("good-chain.pem", &["--crl", &dead]);
    let v = verify(srv.addr, &identity(&pki.leaf.key_pem), NOW);
    assert_eq!(v["verstat"], "TN-Validation-Passed", "{v}");
}

/// A client that never finishes its headers is disconnected after the
/// header-read timeout instead of holding the connection forever.
#[test]
fn slow_headers_are_cut_off() {
    let lab = Lab::new();
    let srv = Serve::start(&[
        "--cert",
        &lab.path("chain.pem"),
        "--trust-anchors",
        &lab.path("root.pem"),
        "--header-read-timeout-ms",
        "300",
    ]);
    let mut conn = std::net::TcpStream::connect(srv.addr).unwrap();
    conn.write_all(b"POST /stir/v1/verification HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    // The server closes the connection (EOF, or a reset): read_to_end returns.
    let closed = match conn.read_to_end(&mut buf) {
        Ok(_) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    };
    assert!(
        closed,
        "connection still open after {:?}",
        started.elapsed()
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    // The service still answers.
    assert_eq!(get(srv.addr, "/health").status, 200);
}

// ------------------------------------------------------------------ issue 14: who may use the service

const KEY_A: &str = "sbc-east-0123456789abcdef";
const KEY_B: &str = "sbc-west-fedcba9876543210";

impl Serve {
    fn hup(&self) {
        let st = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// Wait (bounded, not timed) until `/metrics` (read with `key`) shows
    /// `want`.
    fn wait_metric(&self, key: Option<&str>, want: &str) {
        for _ in 0..200 {
            let m = get_with(self.addr, "/metrics", key);
            if m.body.contains(want) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("metrics never showed {want}; log:\n{}", self.log());
    }
}

impl Serve {
    /// Wait (bounded) until the log holds `want` `n` times.
    fn wait_log(&self, want: &str, n: usize) {
        for _ in 0..200 {
            if self.log().matches(want).count() >= n {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the log never showed {want} {n} times:\n{}", self.log());
    }
}

fn get_with(addr: SocketAddr, path: &str, key: Option<&str>) -> Resp {
    let auth = key.map(|k| format!("Bearer {k}"));
    let mut headers = vec![];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    request(addr, "GET", path, &headers, "")
}

fn post_with(addr: SocketAddr, path: &str, body: &str, extra: &[(&str, &str)]) -> Resp {
    let len = body.len().to_string();
    let mut headers = vec![
        ("Content-Type", "application/json"),
        ("Content-Length", len.as_str()),
    ];
    headers.extend_from_slice(extra);
    request(addr, "POST", path, &headers, body)
}

fn sign_with(addr: SocketAddr, key: Option<&str>) -> Resp {
    let auth = key.map(|k| format!("Bearer {k}"));
    let extra: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    post_with(
        addr,
        "/stir/v1/signing",
        &signing_request().to_string(),
        &extra,
    )
}

fn keyed_server(lab: &Lab, keys: &str, extra: &[&str]) -> Serve {
    let mut args = vec![
        "--cert".to_owned(),
        lab.path("chain.pem"),
        "--key".to_owned(),
        lab.path("key.pem"),
        "--x5u".to_owned(),
        X5U_FIXED.to_owned(),
        "--trust-anchors".to_owned(),
        lab.path("root.pem"),
        "--api-keys".to_owned(),
        keys.to_owned(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Serve::start(&args)
}

fn assert_401(r: &Resp, presented: bool) {
    assert_error(
        r,
        401,
        "policyException",
        "POL4001",
        "Unauthorized: a valid API key is required (Authorization: Bearer KEY)",
        &[],
    );
    assert!(
        r.headers
            .contains("www-authenticate: bearer realm=\"shaken\""),
        "{}",
        r.headers
    );
    assert_eq!(
        r.headers.contains("error=\"invalid_token\""),
        presented,
        "{}",
        r.headers
    );
}

#[test]
fn api_keys_missing_wrong_and_right() {
    let lab = Lab::new();
    let digest_b: String = <sha2::Sha256 as sha2::Digest>::digest(KEY_B.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let keys = lab.write(
        "keys.txt",
        &format!("# SBCs\n{KEY_A}  # east\nsha256:{digest_b}\n"),
    );
    let srv = keyed_server(&lab, &keys, &[]);
    // Missing, wrong, another scheme: 401 on both API endpoints.
    assert_401(&sign_with(srv.addr, None), false);
    assert_401(
        &sign_with(srv.addr, Some("sbc-east-0123456789abcdeX")),
        true,
    );
    assert_401(
        &post_with(
            srv.addr,
            "/stir/v1/signing",
            &signing_request().to_string(),
            &[("Authorization", &format!("Basic {KEY_A}"))],
        ),
        true,
    );
    let v = post_with(
        srv.addr,
        "/stir/v1/verification",
        &verification_request("x", NOW).to_string(),
        &[],
    );
    assert_401(&v, false);
    // The plain key and the hashed one both work.
    let r = sign_with(srv.addr, Some(KEY_A));
    assert_eq!(r.status, 200, "{}", r.body);
    let identity = r.json()["signingResponse"]["identity"]
        .as_str()
        .unwrap()
        .to_owned();
    let auth = format!("Bearer {KEY_B}");
    let v = post_with(
        srv.addr,
        "/stir/v1/verification",
        &verification_request(&identity, NOW).to_string(),
        &[("Authorization", &auth)],
    );
    assert_eq!(v.status, 200, "{}", v.body);
    assert_eq!(
        v.json()["verificationResponse"]["verstat"],
        "TN-Validation-Passed"
    );
    // Health, readiness and (without --metrics-auth) metrics stay open.
    assert_eq!(get(srv.addr, "/health").status, 200);
    let ready = get(srv.addr, "/health/ready");
    assert_eq!(ready.status, 200, "{}", ready.body);
    let m = get(srv.addr, "/metrics");
    assert_eq!(m.status, 200);
    for want in [
        "shaken_clients_refused_total{reason=\"api-key-missing\"} 2",
        "shaken_clients_refused_total{reason=\"api-key-invalid\"} 2",
        "shaken_http_requests_total{endpoint=\"signing\",status=\"401\"} 3",
        "shaken_api_keys 2",
        "shaken_signatures_by_attestation_total{attest=\"A\"} 1",
        "shaken_verifications_passed_total{attest=\"A\"} 1",
        "shaken_ready 1",
    ] {
        assert!(m.body.contains(want), "missing {want}:\n{}", m.body);
    }
    // Neither key is ever logged.
    std::thread::sleep(Duration::from_millis(200));
    let log = srv.log();
    assert!(!log.contains(KEY_A) && !log.contains(KEY_B), "{log}");
    assert!(log.contains("auth=\"api-key-missing\""), "{log}");
}

/// Status and `messageId` of a requestError answer.
fn assert_refused(r: &Resp, status: u16, id: &str) {
    assert_eq!(r.status, status, "{id}: {}", r.body);
    let v = r.json();
    let exc = v["requestError"]
        .as_object()
        .and_then(|o| o.values().next())
        .unwrap_or_else(|| panic!("{id}: not a requestError: {}", r.body));
    assert_eq!(exc["messageId"], id, "{}", r.body);
}

/// POST on the two API paths goes straight to its handler, before axum's
/// Router (issue 21, the service per core); everything else goes through
/// the Router. Both must answer alike: the key check first, the body cap,
/// other methods and paths, the headers, the metrics and the log line.
#[test]
fn the_fast_path_keeps_keys_body_cap_methods_headers_and_log() {
    const VER: &str = "/stir/v1/verification";
    let lab = Lab::new();
    let keys = lab.write("keys.txt", &format!("{KEY_A}\n"));
    let srv = keyed_server(&lab, &keys, &["--max-body", "2000"]);
    let auth = format!("Bearer {KEY_A}");
    let key = ("Authorization", auth.as_str());
    let body = verification_request("x", NOW).to_string();
    // No key, a wrong key: 401, before anything else is looked at.
    let r = post_with(srv.addr, VER, &body, &[("X-Request-ID", "fast-no-key")]);
    assert_401(&r, false);
    assert!(
        r.headers.contains("x-request-id: fast-no-key"),
        "{}",
        r.headers
    );
    assert_401(
        &post_with(
            srv.addr,
            VER,
            &body,
            &[("Authorization", "Bearer sbc-east-0123456789abcdeX")],
        ),
        true,
    );
    let big = json!({"verificationRequest": {"identity": "x".repeat(3000)}}).to_string();
    assert_401(&post_with(srv.addr, VER, &big, &[]), false);
    // With the key: the body cap (413 from Content-Length, before the body
    // is read), a chunked body (411), the wrong media type (415).
    let r = post_with(srv.addr, VER, &big, &[key]);
    assert_error(
        &r,
        413,
        "serviceException",
        "SVC4005",
        "Invalid 'body' parameter value: request body is larger than 2000 bytes",
        &["body", "request body is larger than 2000 bytes"],
    );
    let r = request(
        srv.addr,
        "POST",
        VER,
        &[
            key,
            ("Content-Type", "application/json"),
            ("Transfer-Encoding", "chunked"),
        ],
        &format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len()),
    );
    assert_refused(&r, 411, "SVC4007");
    let len = body.len().to_string();
    let r = request(
        srv.addr,
        "POST",
        VER,
        &[
            key,
            ("Content-Type", "text/plain"),
            ("Content-Length", &len),
        ],
        &body,
    );
    assert_refused(&r, 415, "SVC4004");
    // A query string is the same path; a trailing slash or a doubled slash
    // is another one (404), as on the Router.
    assert_refused(
        &post_with(srv.addr, &format!("{VER}?x=1"), "{}", &[key]),
        400,
        "SVC4001",
    );
    assert_refused(
        &post_with(srv.addr, &format!("{VER}/"), "{}", &[key]),
        404,
        "SVC4003",
    );
    assert_refused(
        &post_with(srv.addr, &format!("/{VER}"), "{}", &[key]),
        404,
        "SVC4003",
    );
    // Other methods (methods are case-sensitive: `post` is not POST): 405
    // with `Allow: POST` with the key, 401 without.
    for method in ["GET", "PUT", "post"] {
        let r = request(srv.addr, method, VER, &[key], "");
        assert_refused(&r, 405, "POL4050");
        assert!(r.headers.contains("allow: post"), "{method}: {}", r.headers);
        assert_401(&request(srv.addr, method, VER, &[], ""), false);
    }
    // A pass, with the Router's headers in the Router's order.
    let signed = sign_with(srv.addr, Some(KEY_A));
    assert_eq!(signed.status, 200, "{}", signed.body);
    let identity = signed.json()["signingResponse"]["identity"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = post_with(
        srv.addr,
        VER,
        &verification_request(&identity, NOW).to_string(),
        &[key, ("X-Request-ID", "fast-pass")],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["verificationResponse"]["verstat"],
        "TN-Validation-Passed"
    );
    let names: Vec<&str> = r
        .headers
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':').map(|(n, _)| n))
        .filter(|n| *n != "date" && *n != "connection")
        .collect();
    assert_eq!(
        names,
        ["content-type", "x-request-id", "content-length"],
        "{}",
        r.headers
    );
    assert!(
        r.headers.contains("content-type: application/json"),
        "{}",
        r.headers
    );
    assert!(
        r.headers
            .contains(&format!("content-length: {}", r.body.len())),
        "{}",
        r.headers
    );
    // Counted as the Router counted them.
    let m = get(srv.addr, "/metrics");
    for want in [
        "shaken_http_requests_total{endpoint=\"verification\",status=\"401\"} 6",
        "shaken_http_requests_total{endpoint=\"verification\",status=\"405\"} 3",
        "shaken_http_requests_total{endpoint=\"verification\",status=\"413\"} 1",
        "shaken_http_requests_total{endpoint=\"verification\",status=\"200\"} 1",
        "shaken_clients_refused_total{reason=\"api-key-missing\"} 5",
        "shaken_clients_refused_total{reason=\"api-key-invalid\"} 1",
        "shaken_verifications_passed_total{attest=\"A\"} 1",
    ] {
        assert!(m.body.contains(want), "missing {want}:\n{}", m.body);
    }
    // And logged with every field.
    srv.wait_log("request_id=\"fast-pass\"", 1);
    let log = srv.log();
    let line = |id: &str| {
        log.lines()
            .find(|l| l.contains(&format!("request_id=\"{id}\"")))
            .unwrap_or_else(|| panic!("{id}: {log}"))
            .to_owned()
    };
    let refused = line("fast-no-key");
    for want in [
        " INFO shaken::server: request peer=127.0.0.1:",
        " method=POST path=/stir/v1/verification status=401 latency_us=",
        " origid=\"-\" attest=\"-\" verstat=\"-\" reasoncode=0 reason=\"-\" message_id=\"POL4001\" auth=\"api-key-missing\"",
    ] {
        assert!(refused.contains(want), "{want}: {refused}");
    }
    let passed = line("fast-pass");
    assert!(
        passed.ends_with(&format!(
            " origid=\"{ORIGID}\" attest=\"A\" verstat=\"TN-Validation-Passed\" reasoncode=0 reason=\"-\" message_id=\"-\" auth=\"-\""
        )),
        "{passed}"
    );
}

#[test]
fn metrics_auth_puts_metrics_behind_the_keys() {
    let lab = Lab::new();
    let keys = lab.write("keys.txt", &format!("{KEY_A}\n"));
    let srv = keyed_server(&lab, &keys, &["--metrics-auth"]);
    assert_401(&get(srv.addr, "/metrics"), false);
    let m = get_with(srv.addr, "/metrics", Some(KEY_A));
    assert_eq!(m.status, 200);
    assert!(m.body.contains("shaken_reloads_total"), "{}", m.body);
    assert_eq!(get(srv.addr, "/health").status, 200);
    assert_eq!(get(srv.addr, "/health/ready").status, 200);
}

#[test]
fn a_removed_key_is_refused_after_sighup_and_a_broken_file_keeps_the_running_keys() {
    let lab = Lab::new();
    let keys = lab.write("keys.txt", &format!("{KEY_A}\n{KEY_B}\n"));
    let srv = keyed_server(&lab, &keys, &[]);
    assert_eq!(sign_with(srv.addr, Some(KEY_A)).status, 200);
    // Rotate: KEY_A removed.
    lab.write("keys.txt", &format!("# east retired\n{KEY_B}\n"));
    srv.hup();
    srv.wait_metric(None, "shaken_reloads_total{result=\"ok\"} 1");
    assert_401(&sign_with(srv.addr, Some(KEY_A)), true);
    assert_eq!(sign_with(srv.addr, Some(KEY_B)).status, 200);
    // A broken file: the reload fails, is counted and logged, and the
    // running keys stay.
    lab.write("keys.txt", "sha256:not-hex\n");
    srv.hup();
    srv.wait_metric(None, "shaken_reloads_total{result=\"failed\"} 1");
    assert_eq!(sign_with(srv.addr, Some(KEY_B)).status, 200);
    assert_401(&sign_with(srv.addr, Some(KEY_A)), true);
    let log = srv.log();
    assert!(
        log.contains("reload failed, keeping the running state") && log.contains("line 1"),
        "{log}"
    );
    assert_eq!(get(srv.addr, "/health/ready").status, 200);
}

#[test]
fn a_reload_with_a_broken_trust_anchor_file_keeps_serving() {
    let lab = Lab::new();
    let anchors = lab.write("anchors.pem", &lab.pki.root.cert_pem);
    let srv = Serve::start(&[
        "--cert",
        &lab.path("chain.pem"),
        "--trust-anchors",
        &anchors,
        "--reload-interval",
        "1",
    ]);
    let id = lab.identity(X5U_FIXED, NOW, ORIGID);
    std::fs::write(&anchors, "-----BEGIN CERTIFICATE-----\nnot base64\n").unwrap();
    srv.wait_metric(None, "shaken_reloads_total{result=\"failed\"} 1");
    let v = verify(srv.addr, &id, NOW);
    assert_eq!(v["verstat"], "TN-Validation-Passed", "{v}");
    // Fixed again: the next tick swaps a good state in.
    std::fs::write(&anchors, &lab.pki.root.cert_pem).unwrap();
    srv.wait_metric(None, "shaken_reloads_total{result=\"ok\"}");
    let log = srv.log();
    assert!(log.contains("trigger=\"reload-interval\""), "{log}");
}

#[test]
fn allow_from_closes_connections_from_other_peers() {
    let lab = Lab::new();
    let srv = Serve::start(&[
        "--cert",
        &lab.path("chain.pem"),
        "--trust-anchors",
        &lab.path("root.pem"),
        "--allow-from",
        "10.0.0.0/8",
    ]);
    // We connect from 127.0.0.1, outside 10/8: closed without an answer,
    // even for /health.
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
    drop(srv);
    // Loopback allowed: served.
    let srv = Serve::start(&[
        "--cert",
        &lab.path("chain.pem"),
        "--trust-anchors",
        &lab.path("root.pem"),
        "--allow-from",
        "10.0.0.0/8",
        "--allow-from",
        "127.0.0.0/8",
    ]);
    assert_eq!(get(srv.addr, "/health").status, 200);
    // A value that is no network: exit 2.
    let out = bin()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--allow-from",
            "10.0.0.0/33",
        ])
        .args(["--cert", &lab.path("chain.pem")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-from"));
}

/// A signing service on a non-loopback address with no client
/// authentication never opens its socket: exit 2 before binding, with the
/// options that fix it named.
#[test]
fn exposed_signing_without_authentication_is_refused_before_binding() {
    let lab = Lab::new();
    for listen in ["0.0.0.0:0", "[::]:0", "shaken.example.net:8080"] {
        let out = bin()
            .args(["serve", "--listen", listen])
            .args(["--key", &lab.path("key.pem"), "--x5u", X5U_FIXED])
            .args(["--cert", &lab.path("chain.pem")])
            .args(["--trust-anchors", &lab.path("root.pem")])
            .env("RUST_LOG", "info")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{listen}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("listening on"), "{err}");
        for named in [
            "--api-keys",
            "--client-ca",
            "--allow-unauthenticated-signing",
            listen,
        ] {
            assert!(err.contains(named), "{named} not in {err}");
        }
    }
    // The same in the TOML file.
    let file = lab.write(
        "serve.toml",
        &format!(
            "listen = \"0.0.0.0:0\"\nkey = {:?}\nx5u = {X5U_FIXED:?}\ncert = {:?}\n",
            lab.path("key.pem"),
            lab.path("chain.pem")
        ),
    );
    let out = bin().args(["serve", "--config", &file]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--api-keys") && !err.contains("listening on"),
        "{err}"
    );
}

#[test]
fn a_signing_key_that_does_not_match_its_certificate_fails_the_start() {
    let lab = Lab::new();
    let other = Lab::new();
    let out = bin()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(["--key", &other.path("key.pem"), "--x5u", X5U_FIXED])
        .args(["--cert", &lab.path("chain.pem")])
        .args(["--trust-anchors", &lab.path("root.pem")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("does not match the certificate") && !err.contains("listening on"),
        "{err}"
    );
    // Without --cert the certificate is fetched from x5u once (here from a
    // loopback server, lab switches on).
    let url = cert_server(lab.pki.leaf_chain_pem(), Duration::ZERO);
    let out = bin()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(["--key", &other.path("key.pem"), "--x5u", &url])
        .args(["--allow-http-x5u", "--allow-private-x5u"])
        .args(["--trust-anchors", &lab.path("root.pem")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("does not match the certificate of --x5u"),
        "{err}"
    );
    // The right key with the fetched certificate starts, and the
    // certificate's remaining validity is a metric.
    let srv = Serve::start(&[
        "--key",
        &lab.path("key.pem"),
        "--x5u",
        &url,
        "--allow-http-x5u",
        "--allow-private-x5u",
        "--trust-anchors",
        &lab.path("root.pem"),
    ]);
    let m = get(srv.addr, "/metrics");
    let left = 365 * 86_400; // LabDir: valid until NOW + 365 days
    assert!(
        m.body
            .contains(&format!("shaken_signing_certificate_expiry_seconds {left}")),
        "{}",
        m.body
    );
}

#[test]
fn readiness_needs_trust_anchors_and_warns_of_a_certificate_near_its_end() {
    let lab = Lab::new();
    let srv = Serve::start(&["--cert", &lab.path("chain.pem")]);
    let r = get(srv.addr, "/health/ready");
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.json()["status"], "not-ready");
    assert!(r.body.contains("no trust anchors"), "{}", r.body);
    assert_eq!(get(srv.addr, "/health").status, 200, "liveness stays 200");
    drop(srv);
    // A signing certificate with 10 days left: a warning at start.
    let pki = LabPki::generate(&LabPkiOptions::new(NOW - 86_400, NOW + 10 * 86_400)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = |f: &str| dir.path().join(f).display().to_string();
    std::fs::write(p("chain.pem"), pki.leaf_chain_pem()).unwrap();
    std::fs::write(p("key.pem"), &pki.leaf.key_pem).unwrap();
    std::fs::write(p("root.pem"), &pki.root.cert_pem).unwrap();
    let srv = Serve::start(&[
        "--cert",
        &p("chain.pem"),
        "--key",
        &p("key.pem"),
        "--x5u",
        X5U_FIXED,
        "--trust-anchors",
        &p("root.pem"),
    ]);
    assert_eq!(get(srv.addr, "/health/ready").status, 200);
    assert!(
        srv.log().contains("expires in 9 days") || srv.log().contains("expires in 10 days"),
        "{}",
        srv.log()
    );
}

#[test]
fn a_retried_verification_gets_the_same_answer_and_another_call_is_a_replay() {
    let lab = Lab::new();
    let srv = signing_server(&lab);
    let id = lab.identity(X5U_FIXED, NOW, ORIGID);
    let first = verify(srv.addr, &id, NOW);
    assert_eq!(
        first,
        json!({"verstat": "TN-Validation-Passed", "attest": "A"})
    );
    // The SBC timed out and retried: same identity, from, to, time.
    assert_eq!(verify(srv.addr, &id, NOW), first);
    // The same PASSporT for another call (another time): a replay.
    let other = verify(srv.addr, &id, NOW + 1);
    assert_eq!(other["reasonid"], "replay", "{other}");
    let m = get(srv.addr, "/metrics");
    assert!(
        m.body
            .contains("shaken_verification_reasons_total{reason=\"replay\"} 1"),
        "{}",
        m.body
    );
}

#[test]
fn request_ids_are_echoed_or_made_and_logged_with_the_peer() {
    let lab = Lab::new();
    let srv = signing_server(&lab);
    let r = post_with(
        srv.addr,
        "/stir/v1/signing",
        &signing_request().to_string(),
        &[("X-Request-ID", "sbc-7-call-42")],
    );
    assert_eq!(r.status, 200);
    assert!(
        r.headers.contains("x-request-id: sbc-7-call-42"),
        "{}",
        r.headers
    );
    let r = get(srv.addr, "/health");
    let made = r
        .headers
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .unwrap()
        .to_owned();
    assert_eq!(made.len(), 36, "a UUID: {made}");
    std::thread::sleep(Duration::from_millis(200));
    let log = srv.log();
    let line = log
        .lines()
        .find(|l| l.contains("request_id=\"sbc-7-call-42\""))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(line.contains("peer=127.0.0.1:"), "{line}");
    assert!(line.contains(&format!("origid=\"{ORIGID}\"")), "{line}");
    assert!(line.contains("attest=\"A\""), "{line}");
}

// ------------------------------------------------------------------ HTTPS and mutual TLS

struct TlsLab {
    ca: TestCa,
    cert: String,
    key: String,
    client_ca: String,
    client: Issued,
    stranger: Issued,
}

fn tls_lab(lab: &Lab) -> TlsLab {
    let ca = TestCa::new("shaken test server CA");
    let server = ca.server();
    let clients = TestCa::new("shaken test client CA");
    let other = TestCa::new("some other CA");
    TlsLab {
        cert: lab.write("tls-cert.pem", &server.cert_pem),
        key: lab.write("tls-key.pem", &server.key_pem),
        client_ca: lab.write("client-ca.pem", &clients.cert_pem),
        client: clients.client("sbc-east"),
        stranger: other.client("sbc-east"),
        ca,
    }
}

fn tls_post(
    addr: SocketAddr,
    config: Arc<tokio_rustls::rustls::ClientConfig>,
    path: &str,
    body: &str,
) -> std::io::Result<Resp> {
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let out = tls::exchange(addr, config, req.as_bytes())?;
    let text = String::from_utf8(out).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    Ok(Resp {
        status: head.split(' ').nth(1).unwrap().parse().unwrap(),
        headers: head.to_ascii_lowercase(),
        body: body.to_owned(),
    })
}

#[test]
fn https_serves_and_plain_http_gets_nothing() {
    let lab = Lab::new();
    let t = tls_lab(&lab);
    let srv = Serve::start(&[
        "--cert",
        &lab.path("chain.pem"),
        "--trust-anchors",
        &lab.path("root.pem"),
        "--tls-cert",
        &t.cert,
        "--tls-key",
        &t.key,
    ]);
    let id = lab.identity(X5U_FIXED, NOW, ORIGID);
    let r = tls_post(
        srv.addr,
        tls::client_config(&t.ca, None),
        "/stir/v1/verification",
        &verification_request(&id, NOW).to_string(),
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("TN-Validation-Passed"), "{}", r.body);
    // Plain HTTP to the TLS port: no HTTP answer.
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let _ = s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    assert!(!String::from_utf8_lossy(&out).contains("HTTP/1.1 200"));
    let m = tls_post(srv.addr, tls::client_config(&t.ca, None), "/metrics", "");
    // GET only; a POST to /metrics is 405, which proves TLS carried it.
    assert_eq!(m.unwrap().status, 405);
}

#[test]
fn mutual_tls_refuses_clients_without_a_certificate_from_the_client_ca() {
    let lab = Lab::new();
    let t = tls_lab(&lab);
    let srv = Serve::start(&[
        "--cert",
        &lab.path("chain.pem"),
        "--key",
        &lab.path("key.pem"),
        "--x5u",
        X5U_FIXED,
        "--trust-anchors",
        &lab.path("root.pem"),
        "--tls-cert",
        &t.cert,
        "--tls-key",
        &t.key,
        "--client-ca",
        &t.client_ca,
    ]);
    let body = signing_request().to_string();
    // No client certificate: no service.
    let none = tls_post(
        srv.addr,
        tls::client_config(&t.ca, None),
        "/stir/v1/signing",
        &body,
    );
    assert!(none.is_err(), "served without a client certificate");
    // A certificate from another CA (same name): no service.
    let stranger = tls_post(
        srv.addr,
        tls::client_config(&t.ca, Some(&t.stranger)),
        "/stir/v1/signing",
        &body,
    );
    assert!(stranger.is_err(), "served a certificate from another CA");
    // The client CA's certificate: signed.
    let r = tls_post(
        srv.addr,
        tls::client_config(&t.ca, Some(&t.client)),
        "/stir/v1/signing",
        &body,
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("signingResponse"));
    let m = tls_post(
        srv.addr,
        tls::client_config(&t.ca, Some(&t.client)),
        "/metrics",
        "",
    )
    .unwrap();
    assert_eq!(m.status, 405);
    std::thread::sleep(Duration::from_millis(200));
    assert!(srv.log().contains("TLS handshake refused"), "{}", srv.log());
}

#[test]
fn a_new_tls_certificate_is_served_after_sighup() {
    let lab = Lab::new();
    let t = tls_lab(&lab);
    let srv = Serve::start(&[
        "--cert",
        &lab.path("chain.pem"),
        "--trust-anchors",
        &lab.path("root.pem"),
        "--tls-cert",
        &t.cert,
        "--tls-key",
        &t.key,
    ]);
    let body = verification_request(&lab.identity(X5U_FIXED, NOW, ORIGID), NOW).to_string();
    assert!(tls_post(
        srv.addr,
        tls::client_config(&t.ca, None),
        "/stir/v1/verification",
        &body
    )
    .is_ok());
    // A certificate from a new CA: clients that trust only the new CA
    // connect after the reload.
    let new_ca = TestCa::new("renewed server CA");
    let renewed = new_ca.server();
    // A key that does not go with the certificate: the reload fails, the
    // old certificate stays.
    lab.write("tls-cert.pem", &renewed.cert_pem);
    srv.hup();
    srv.wait_log("reload failed, keeping the running state", 1);
    assert!(tls_post(
        srv.addr,
        tls::client_config(&t.ca, None),
        "/stir/v1/verification",
        &body
    )
    .is_ok());
    lab.write("tls-key.pem", &renewed.key_pem);
    srv.hup();
    srv.wait_log("reloaded:", 1);
    let r = tls_post(
        srv.addr,
        tls::client_config(&new_ca, None),
        "/stir/v1/verification",
        &body,
    );
    assert_eq!(r.unwrap().status, 200);
    assert!(tls_post(
        srv.addr,
        tls::client_config(&t.ca, None),
        "/stir/v1/verification",
        &body
    )
    .is_err());
}

/// A reload reads the configuration file again: a new `x5u` there is what
/// the next signature names; a file that no longer parses keeps the running
/// state (counted and logged).
#[test]
fn a_reload_reads_the_configuration_file_again() {
    let lab = Lab::new();
    let toml = |x5u: &str| {
        format!(
            "cert = {:?}\nkey = {:?}\nx5u = {x5u:?}\ntrust-anchors = [{:?}]\n",
            lab.path("chain.pem"),
            lab.path("key.pem"),
            lab.path("root.pem")
        )
    };
    let file = lab.write("serve.toml", &toml(X5U_FIXED));
    let srv = Serve::start(&["--config", &file]);
    let signed = |srv: &Serve| {
        let r = sign_with(srv.addr, None);
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["signingResponse"]["identity"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(signed(&srv).contains(&format!("info=<{X5U_FIXED}>")));
    let moved = "https://cr.example.net/sp-1234-2027.pem";
    lab.write("serve.toml", &toml(moved));
    srv.hup();
    srv.wait_metric(None, "shaken_reloads_total{result=\"ok\"} 1");
    assert!(signed(&srv).contains(&format!("info=<{moved}>")));
    lab.write("serve.toml", "x5u = \n");
    srv.hup();
    srv.wait_metric(None, "shaken_reloads_total{result=\"failed\"} 1");
    assert!(signed(&srv).contains(&format!("info=<{moved}>")));
    assert!(
        srv.log()
            .contains("reload failed, keeping the running state"),
        "{}",
        srv.log()
    );
}

/// Diverted calls (RFC 8946, issue 15): the signing request's `div` member
/// signs a div PASSporT; a verification request's `identities` carries it
/// and `requestUri` is where the chain must end (docs/server.md).
#[test]
fn diverted_call_extension_signs_and_verifies_a_div_chain() {
    let lab = Lab::new();
    let srv = signing_server(&lab);
    let sign = |body: Value| post(srv.addr, "/stir/v1/signing", &body.to_string());
    let shaken_identity = |origid: &str| {
        let mut req = signing_request();
        req["signingRequest"]["origid"] = origid.into();
        let r = sign(req);
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["signingResponse"]["identity"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let div_for = |incoming: &str| {
        let r = sign(json!({"signingRequest": {
            "div": {"identity": incoming, "hi": "1.1"},
            "dest": {"tn": ["12155550199"]},
        }}));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["signingResponse"]["identity"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let first = shaken_identity(ORIGID);
    let div = div_for(&first);
    assert!(div.ends_with(";ppt=div"), "{div}");
    let verify_div = |identity: &str, div: &str, ruri: &str| {
        let mut req = verification_request(identity, NOW);
        req["verificationRequest"]["identities"] = json!([div]);
        req["verificationRequest"]["requestUri"] = ruri.into();
        let r = post(srv.addr, "/stir/v1/verification", &req.to_string());
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["verificationResponse"].clone()
    };
    let v = verify_div(&first, &div, "sip:+12155550199@example.net;user=phone");
    assert_eq!(v["verstat"], "TN-Validation-Passed", "{v}");
    assert_eq!(v["diversion"]["verdict"], "valid", "{v}");
    assert_eq!(v["diversion"]["hops"][0]["from"], DEST);
    assert_eq!(v["diversion"]["hops"][0]["hi"], "1.1");
    assert_eq!(v["diversion"]["hops"][0]["signer"]["spc"], "1234");
    // Another call, retargeted elsewhere: the chain does not end there.
    let second = shaken_identity("de305d54-75b4-431b-adb2-eb6b9e546099");
    let div2 = div_for(&second);
    let v = verify_div(&second, &div2, "12155550188");
    assert_eq!(v["reasonid"], "dest-mismatch", "{v}");
    assert_eq!(v["diversion"]["reason"]["id"], "div-target-mismatch", "{v}");
    // Malformed extensions are request errors naming the member.
    let r = sign(json!({"signingRequest": {
        "div": {"identity": first}, "dest": {"tn": [DEST]},
    }}));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("dest.tn"), "{}", r.body);
    let mut req = verification_request(&first, NOW);
    req["verificationRequest"]["identities"] = "x".into();
    let r = post(srv.addr, "/stir/v1/verification", &req.to_string());
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("identities"), "{}", r.body);
}

/// Issue 16: the documented extension of `signingRequest` (`rcd`, `crn`,
/// `rcdi`, `rcdSeparate`) and of `verificationResponse` (`rcd`).
#[test]
fn rich_call_data_extension() {
    let lab = Lab::new();
    let srv = signing_server(&lab);
    let mut req = signing_request();
    req["signingRequest"]["rcd"] = json!({"nam": "Acme Bank"});
    req["signingRequest"]["crn"] = "Card fraud alert".into();
    let r = post(srv.addr, "/stir/v1/signing", &req.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    let identity = r.json()["signingResponse"]["identity"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(r.json()["signingResponse"].get("rcdIdentity").is_none());
    let v = verify(srv.addr, &identity, NOW + 1);
    assert_eq!(v["verstat"], "TN-Validation-Passed", "{v}");
    assert_eq!(v["rcd"]["nam"], "Acme Bank");
    assert_eq!(v["rcd"]["crn"], "Card fraud alert");
    assert_eq!(v["rcd"]["verified"], true);

    // A separate ppt=rcd PASSporT comes back as rcdIdentity.
    req["signingRequest"]["rcdSeparate"] = true.into();
    req["signingRequest"]["origid"] = "DE305D54-75B4-431B-ADB2-EB6B9E546016".into();
    let r = post(srv.addr, "/stir/v1/signing", &req.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    let rcd_id = r.json()["signingResponse"]["rcdIdentity"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(rcd_id.ends_with(";ppt=rcd"), "{rcd_id}");
    let shaken_id = r.json()["signingResponse"]["identity"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(verify(srv.addr, &shaken_id, NOW + 1).get("rcd").is_none());

    // A malformed rcd is an invalid parameter (SVC4005) naming rcd.
    let mut bad = signing_request();
    bad["signingRequest"]["rcd"] = json!({"icn": "https://x.example/a.png"});
    let r = post(srv.addr, "/stir/v1/signing", &bad.to_string());
    assert_eq!(r.status, 400, "{}", r.body);
    let exc = &r.json()["requestError"]["serviceException"];
    assert_eq!(exc["messageId"], "SVC4005", "{}", r.body);
    assert_eq!(exc["variables"][0], "rcd", "{}", r.body);
    assert!(
        exc["variables"][1].as_str().unwrap().contains("\"nam\""),
        "{}",
        r.body
    );
}

/// Issue 16: TOML `fetch-rcd = true`: the service fetches the logo an
/// `rcdi` digest covers (a loopback server, with the lab switches) and says
/// whether it still matches; the verdict never moves.
#[test]
fn fetch_rcd_from_the_config_file() {
    use shaken::rcd::{DigestAlg, Rcd, RcdClaims, RcdContent};
    let lab = Lab::new();
    let logos = Server::start();
    let icn = logos.route("/acme.png", Reply::Ok(b"\x89PNG acme".to_vec()));
    let mut content = RcdContent::new();
    content.insert(icn.clone(), Ok(b"\x89PNG acme".to_vec()));
    let claims = RcdClaims::new(
        Some(Rcd {
            icn: Some(icn.clone()),
            ..Rcd::named("Acme Bank")
        }),
        None,
    )
    .with_digests(DigestAlg::Sha256, &content)
    .unwrap();
    let mut extra = std::collections::BTreeMap::new();
    claims.insert_into(&mut extra);
    let signer = signing_server(&lab);
    let mut req = signing_request();
    for (k, v) in &extra {
        req["signingRequest"][k] = v.clone();
    }
    let r = post(signer.addr, "/stir/v1/signing", &req.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    let identity = r.json()["signingResponse"]["identity"]
        .as_str()
        .unwrap()
        .to_owned();
    drop(signer);
    let file = lab.dir.path().join("rcd.toml");
    std::fs::write(
        &file,
        format!(
            "cert = {:?}\ntrust-anchors = [{:?}]\nfetch-rcd = true\nallow-http-x5u = true\nallow-private-x5u = true\nreplay = false\n",
            lab.path("chain.pem"),
            lab.path("root.pem"),
        ),
    )
    .unwrap();
    let srv = Serve::start(&["--config", &file.display().to_string()]);
    let v = verify(srv.addr, &identity, NOW + 1);
    assert_eq!(v["verstat"], "TN-Validation-Passed", "{v}");
    assert_eq!(v["rcd"]["integrity"]["/icn"], "verified", "{v}");
    assert_eq!(v["rcd"]["verified"], true);
    assert_eq!(logos.hits("/acme.png"), 1);
    drop(srv);
    // The logo changed since signing (a new service: a fresh cache).
    logos.route("/acme.png", Reply::Ok(b"GIF89a other".to_vec()));
    let srv = Serve::start(&["--config", &file.display().to_string()]);
    let v = verify(srv.addr, &identity, NOW + 1);
    assert_eq!(v["verstat"], "TN-Validation-Passed", "{v}");
    assert_eq!(v["rcd"]["integrity"]["/icn"], "mismatch", "{v}");
    assert_eq!(v["rcd"]["verified"], false);
    drop(srv);
    // A logo server that never answers: the answer comes within the request
    // budget, the call passes, the logo is unverified.
    logos.route("/acme.png", Reply::Hang);
    let srv = Serve::start(&[
        "--config",
        &file.display().to_string(),
        "--request-timeout-ms",
        "1000",
    ]);
    let started = std::time::Instant::now();
    let v = verify(srv.addr, &identity, NOW + 1);
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(v["verstat"], "TN-Validation-Passed", "{v}");
    assert_eq!(v["rcd"]["integrity"]["/icn"], "unverified", "{v}");
}

/// `--max-div` (TOML `max-div`) bounds the div PASSporTs of one call on the
/// service too: with `--max-div 0` the one-hop call of the extension fails
/// its chain as `div-too-many` (and the called number, not in the shaken
/// `dest`, is then a mismatch).
#[test]
fn max_div_bounds_the_diverted_calls_of_the_service() {
    let lab = Lab::new();
    let signer = signing_server(&lab);
    let strict = Serve::start(&[
        "--cert",
        &lab.path("chain.pem"),
        "--trust-anchors",
        &lab.path("root.pem"),
        "--max-div",
        "0",
    ]);
    let mut req = signing_request();
    req["signingRequest"]["origid"] = ORIGID.into();
    let r = post(signer.addr, "/stir/v1/signing", &req.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    let first = r.json()["signingResponse"]["identity"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = post(
        signer.addr,
        "/stir/v1/signing",
        &json!({"signingRequest": {"div": {"identity": first}, "dest": {"tn": ["12155550199"]}}})
            .to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let div = r.json()["signingResponse"]["identity"]
        .as_str()
        .unwrap()
        .to_owned();
    let ask = |srv: &Serve| {
        let mut req = verification_request(&first, NOW);
        req["verificationRequest"]["identities"] = json!([div]);
        req["verificationRequest"]["requestUri"] = "sip:+12155550199@example.net;user=phone".into();
        let r = post(srv.addr, "/stir/v1/verification", &req.to_string());
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["verificationResponse"].clone()
    };
    let v = ask(&signer);
    assert_eq!(v["diversion"]["verdict"], "valid", "{v}");
    let v = ask(&strict);
    assert_eq!(v["diversion"]["reason"]["id"], "div-too-many", "{v}");
    assert_eq!(v["reasonid"], "dest-mismatch", "{v}");
}

/// `--max-fetches` and the TOML key `max-fetches` reach the service's one
/// pool of fetch slots (`shaken_fetches_max`); the flag overrides the file.
#[test]
fn max_fetches_flag_and_key_reach_the_service() {
    let lab = Lab::new();
    let root = lab.path("root.pem");
    let metric = |srv: &Serve| {
        let m = get(srv.addr, "/metrics");
        m.body
            .lines()
            .find(|l| l.starts_with("shaken_fetches_max "))
            .map(str::to_owned)
    };
    let srv = Serve::start(&["--trust-anchors", &root, "--max-fetches", "3"]);
    assert_eq!(metric(&srv).as_deref(), Some("shaken_fetches_max 3"));
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("serve.toml");
    std::fs::write(&toml, "max-fetches = 5\n").unwrap();
    let toml = toml.to_str().unwrap();
    let srv = Serve::start(&["--trust-anchors", &root, "--config", toml]);
    assert_eq!(metric(&srv).as_deref(), Some("shaken_fetches_max 5"));
    let srv = Serve::start(&[
        "--trust-anchors",
        &root,
        "--config",
        toml,
        "--max-fetches",
        "2",
    ]);
    assert_eq!(metric(&srv).as_deref(), Some("shaken_fetches_max 2"));
    // A pinned chain fetches nothing: no fetch gauges.
    let chain = lab.path("chain.pem");
    let srv = Serve::start(&["--trust-anchors", &root, "--cert", &chain]);
    assert_eq!(metric(&srv), None);
}

/// With stderr a regular file, a busy worker keeps its request lines in a
/// bigger batch (64 KiB, not the pipe's 4 KiB) and still writes every line
/// whole, none twice, once it goes idle; stopped by SIGTERM, it leaves the
/// file ending in a whole line.
#[test]
fn a_log_file_gets_every_request_line_whole_and_once() {
    let lab = Lab::new();
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("serve.log");
    let log_file = std::fs::File::create(&log_path).unwrap();
    let mut child = bin()
        .arg("serve")
        .args(["--listen", "127.0.0.1:0", "--now", &NOW.to_string()])
        .args(signing_args(&lab))
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log_file))
        .spawn()
        .unwrap();
    let read_log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let mut addr: Option<SocketAddr> = None;
    for _ in 0..200 {
        addr = read_log()
            .lines()
            .find_map(|l| l.strip_prefix("listening on "))
            .map(|a| a.trim().parse().unwrap());
        if addr.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let Some(addr) = addr else {
        let _ = child.kill();
        panic!("server did not start: {}", read_log());
    };
    // Eight clients at once keep the worker busy, so its lines pile up past
    // one pipe-sized batch before it goes idle.
    const CLIENTS: usize = 8;
    const EACH: usize = 60;
    let threads: Vec<_> = (0..CLIENTS)
        .map(|c| {
            std::thread::spawn(move || {
                for i in 0..EACH {
                    let mut req = signing_request();
                    req["signingRequest"]["origid"] =
                        format!("00000000-0000-4000-8000-{:06x}{:06x}", c, i).into();
                    let r = post(addr, "/stir/v1/signing", &req.to_string());
                    assert_eq!(r.status, 200, "{}", r.body);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let request_lines = |log: &str| -> Vec<String> {
        log.lines()
            .filter(|l| l.contains(" shaken::server: request "))
            .map(str::to_owned)
            .collect()
    };
    let mut lines = Vec::new();
    for _ in 0..200 {
        lines = request_lines(&read_log());
        if lines.len() >= CLIENTS * EACH {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(lines.len(), CLIENTS * EACH, "{}", read_log());
    let mut origids = std::collections::BTreeSet::new();
    for l in &lines {
        assert!(
            l.starts_with("20") && l.ends_with(" auth=\"-\"") && l.contains(" status=200 "),
            "not a whole request line: {l:?}"
        );
        let origid = l
            .split(" origid=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert!(origids.insert(origid.to_owned()), "written twice: {l}");
    }
    // Nothing is lost or cut when it stops: one more request, then SIGTERM
    // right after its answer.
    let mut req = signing_request();
    req["signingRequest"]["origid"] = "00000000-0000-4000-8000-ffffffffffff".into();
    assert_eq!(post(addr, "/stir/v1/signing", &req.to_string()).status, 200);
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}: {}", read_log());
    let log = read_log();
    assert_eq!(request_lines(&log).len(), CLIENTS * EACH + 1, "{log}");
    assert!(log.contains("ffffffffffff"), "{log}");
    assert!(log.ends_with('\n'), "{log}");
}
