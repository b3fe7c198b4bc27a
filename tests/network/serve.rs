//! `shaken serve` end to end: the real binary on 127.0.0.1:0 (the test reads
//! `listening on ADDR` from its stderr), a lab PKI written to a tempdir, and
//! for the x5u cases a loopback certificate server started here. The server
//! clock is pinned with `--now`; no test depends on the wall clock.

use crate::support::http::{closed_port, Reply, Server};
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
        let mut child = bin()
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--now", &NOW.to_string()])
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

/// A fixed-chain server with signing on.
fn signing_server(lab: &Lab) -> Serve {
    Serve::start(&[
        "--cert",
        &lab.path("chain.pem"),
        "--key",
        &lab.path("key.pem"),
        "--x5u",
        X5U_FIXED,
        "--trust-anchors",
        &lab.path("root.pem"),
    ])
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
fn raw(addr: SocketAddr, request: &[u8]) -> Resp {
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

fn request(
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
    for field in ["from", "to", "time", "identity"] {
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
        "shaken_verification_failures_total{reasoncode=\"436\"} 1",
        "shaken_verifications_total{verstat=\"TN-Validation-Passed\"} 1",
    ] {
        assert!(m.body.contains(want), "missing {want}:\n{}", m.body);
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
