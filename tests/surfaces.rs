//! One table of requests (tests/data/surfaces/table.json) through three of
//! the four surfaces: the CLI's one call, `--batch` and the REST service
//! (`shaken serve` on loopback). `capi/src/surfaces.rs` runs the same table
//! through the C ABI. Every surface must give each row the outcome the table
//! states, so all four give the same answer to the same request.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{json, Value};
use shaken::crypto::DeterministicSigner;
use shaken::identity::IdentityHeader;
use shaken::passport::{self, Attestation, Claims, Header};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Stdio};
use support::{bin, certs, run_with_stdin, test_data};

fn table() -> Value {
    serde_json::from_str(&std::fs::read_to_string(test_data("surfaces/table.json")).unwrap())
        .unwrap()
}

fn now(t: &Value) -> i64 {
    t["now"].as_i64().unwrap()
}

/// The Identity value of a verification row: signed here (RFC 6979 with
/// the lab key, so every surface and every run sees the same bytes).
fn identity(t: &Value, row: usize, case: &Value) -> String {
    if let Some(v) = case["identity"].as_str() {
        return v.to_owned();
    }
    let x5u = t["x5u"].as_str().unwrap();
    let key = std::fs::read_to_string(certs("sp.key.pem")).unwrap();
    let signer = DeterministicSigner::from_pem(&key).unwrap();
    let c = &case["claims"];
    let claims = |origid: String| {
        Claims::shaken(
            c["attest"]
                .as_str()
                .unwrap()
                .parse::<Attestation>()
                .unwrap(),
            c["orig"].as_str().unwrap(),
            c["dest"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_str().unwrap().to_owned())
                .collect(),
            now(t) + c["iat_offset"].as_i64().unwrap_or(0),
            origid,
        )
    };
    // Extension claims (Rich Call Data rows, issue 16).
    let claims = |origid: String| {
        let mut cl = claims(origid);
        if let Some(Value::Object(m)) = c.get("extra") {
            cl.extra.extend(m.clone());
        }
        cl
    };
    let header = Header::shaken(x5u);
    let mut token = passport::sign(
        &header,
        &claims(format!("de305d54-75b4-431b-adb2-{row:012x}")),
        &signer,
    )
    .unwrap();
    if case["tamper"] == "signature" {
        // The signature of another PASSporT: well-formed, but not this one's.
        let other = passport::sign(
            &header,
            &claims(format!("de305d54-75b4-431b-adb2-{:012x}", row + 1000)),
            &signer,
        )
        .unwrap();
        let (body, _) = token.rsplit_once('.').unwrap();
        let (_, sig) = other.rsplit_once('.').unwrap();
        token = format!("{body}.{sig}");
    }
    let value = IdentityHeader::shaken(token, x5u).to_string();
    format!("{}{value}", case["identity_prefix"].as_str().unwrap_or(""))
}

/// A diverted row's `div` PASSporT (RFC 8946): the row's shaken identity
/// retargeted to `divert_to`, signed with the same lab key; and the
/// Request-URI (`request_uri`, default `divert_to`). `None` for other rows.
fn diverted(t: &Value, case: &Value, shaken_id: &str) -> Option<(String, String)> {
    let to = case["divert_to"].as_str()?;
    let key = std::fs::read_to_string(certs("sp.key.pem")).unwrap();
    let signer = DeterministicSigner::from_pem(&key).unwrap();
    let (previous, _) =
        shaken::div::incoming_claims(shaken_id, &shaken::Limits::default()).unwrap();
    let div = shaken::div::sign_div(
        &previous,
        to,
        None,
        &signer,
        t["x5u"].as_str().unwrap(),
        &shaken::tn::TnPolicy::default(),
    )
    .unwrap();
    let ruri = case["request_uri"].as_str().unwrap_or(to).to_owned();
    Some((div.identity, ruri))
}

/// `to` as a list of strings (a single string is a list of one).
fn to_list(case: &Value) -> Vec<String> {
    match &case["to"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_owned()).collect(),
        other => panic!("to: {other}"),
    }
}

/// What the row expects on a surface that takes whole requests
/// (`requests`) or one on which a number may be left out (`calls`).
fn expected(case: &Value, requests: bool) -> &Value {
    let key = if requests {
        "expect_requests"
    } else {
        "expect_calls"
    };
    if case[key].is_object() {
        &case[key]
    } else {
        &case["expect"]
    }
}

/// A report in the table's terms.
fn outcome(report: &Value) -> Value {
    let mut o = json!({"verstat": report["verstat"]});
    if let Some(id) = report["reason"]["id"].as_str() {
        o["reason"] = id.into();
    }
    if report["verstat"] == "TN-Validation-Passed" {
        o["attest"] = report["attest"].clone();
    }
    if let Some(v) = report["diversion"]["verdict"].as_str() {
        o["diversion"] = v.into();
    }
    o["warnings"] = warning_ids(report);
    if report["rcd"].is_object() {
        let r = &report["rcd"];
        o["rcd"] = json!({"nam": r["nam"], "crn": r["crn"], "verified": r["verified"]});
    }
    o
}

/// The ids that start the report's warnings (`dest-not-compared: ...`).
fn warning_ids(report: &Value) -> Value {
    report["warnings"]
        .as_array()
        .map(|w| {
            w.iter()
                .filter_map(|x| x.as_str()?.split_once(':'))
                .map(|(id, _)| id)
                .filter(|id| id.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
                .map(Value::from)
                .collect()
        })
        .unwrap_or_default()
}

/// Compare only what the table states.
fn check(surface: &str, case: &Value, want: &Value, got: &Value) {
    for (k, v) in want.as_object().unwrap() {
        assert_eq!(
            &got[k], v,
            "{surface}, row {:?}: {k} differs\n  want {want}\n  got  {got}",
            case["name"]
        );
    }
}

/// Which request member a message names: `"from.tn"` and the like.
fn member_named(message: &str, members: &[&str]) -> Value {
    members
        .iter()
        .find(|m| message.contains(&format!("\"{m}\"")))
        .map_or(Value::Null, |m| Value::from(*m))
}

#[test]
fn verification_the_same_on_cli_batch_and_rest() {
    let t = table();
    let rows = t["verify"].as_array().unwrap();
    let (chain, anchors) = (certs("sp-chain.pem"), certs("anchors.pem"));
    let now_s = now(&t).to_string();
    let ids: Vec<String> = rows
        .iter()
        .enumerate()
        .map(|(i, c)| identity(&t, i, c))
        .collect();

    // The CLI, one call per row.
    for (case, id) in rows.iter().zip(&ids) {
        let mut args: Vec<String> = vec![
            "verify".into(),
            id.clone(),
            "--cert".into(),
            chain.clone(),
            "--trust-anchors".into(),
            anchors.clone(),
            "--now".into(),
            now_s.clone(),
            "--format".into(),
            "json".into(),
            "--orig".into(),
            case["from"].as_str().unwrap().into(),
        ];
        for d in to_list(case) {
            args.push("--dest".into());
            args.push(d);
        }
        let o = run_with_stdin(&args, None);
        let got = match o.status.code() {
            Some(0 | 1) => outcome(&serde_json::from_slice(&o.stdout).unwrap()),
            Some(2) => {
                let err = String::from_utf8_lossy(&o.stderr);
                let field = if err.contains("--orig") {
                    "from.tn"
                } else if err.contains("--dest") {
                    "to.tn"
                } else {
                    panic!(
                        "row {:?}: usage error naming no number: {err}",
                        case["name"]
                    )
                };
                json!({"request_error": field})
            }
            other => panic!("exit {other:?}"),
        };
        check("CLI", case, expected(case, false), &got);
    }

    // --batch: one line per row.
    let mut input = String::new();
    for (case, id) in rows.iter().zip(&ids) {
        let mut line = json!({"from": {"tn": case["from"]}, "to": {"tn": case["to"]},
                          "time": now(&t), "identity": id});
        if let Some((div, ruri)) = diverted(&t, case, id) {
            line["identities"] = json!([div]);
            line["requestUri"] = ruri.into();
        }
        input.push_str(&line.to_string());
        input.push('\n');
    }
    let o = run_with_stdin(
        &[
            "verify",
            "--batch",
            "-",
            "--cert",
            &chain,
            "--trust-anchors",
            &anchors,
            "--now",
            &now_s,
            "--no-replay",
        ],
        Some(input.as_bytes()),
    );
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), rows.len());
    for (case, line) in rows.iter().zip(&lines) {
        let got = match line["error"]["message"].as_str() {
            Some(m) => {
                json!({"request_error": member_named(m, &["from.tn", "to.tn", "time", "identity"])})
            }
            None => outcome(line),
        };
        check("--batch", case, expected(case, true), &got);
    }

    // The REST service.
    let srv = Serve::start(&[
        "--cert",
        &chain,
        "--trust-anchors",
        &anchors,
        "--now",
        &now_s,
        "--no-replay",
    ]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    shaken::crypto::install_tls_provider();
    let client = reqwest::Client::new();
    for (case, id) in rows.iter().zip(&ids) {
        let mut body = json!({"verificationRequest": {"from": {"tn": case["from"]},
            "to": {"tn": case["to"]}, "time": now(&t), "identity": id}});
        if let Some((div, ruri)) = diverted(&t, case, id) {
            body["verificationRequest"]["identities"] = json!([div]);
            body["verificationRequest"]["requestUri"] = ruri.into();
        }
        let (status, v) = rt.block_on(post(&client, srv.addr, "/stir/v1/verification", &body));
        let got = if status == 200 {
            let r = &v["verificationResponse"];
            outcome(&json!({"verstat": r["verstat"], "attest": r["attest"],
                            "reason": {"id": r["reasonid"]}, "diversion": r["diversion"],
                            "rcd": r["rcd"]}))
        } else {
            let exc = &v["requestError"]["serviceException"];
            assert_eq!(status, 400, "{v}");
            json!({"request_error": exc["variables"][0]})
        };
        check("REST", case, expected(case, true), &got);
    }
}

#[test]
fn signing_the_same_on_cli_batch_and_rest() {
    let t = table();
    let rows = t["sign"].as_array().unwrap();
    let x5u = t["x5u"].as_str().unwrap();
    let key = certs("sp.key.pem");
    let now_s = now(&t).to_string();

    // The CLI, one call per row.
    for case in rows {
        let mut args: Vec<String> = vec![
            "sign".into(),
            "--key".into(),
            key.clone(),
            "--x5u".into(),
            x5u.into(),
            "--iat".into(),
            now_s.clone(),
            "--orig".into(),
            case["orig"].as_str().unwrap().into(),
            "--attest".into(),
            case["attest"].as_str().unwrap().into(),
        ];
        for d in case["dest"].as_array().unwrap() {
            args.push("--dest".into());
            args.push(d.as_str().unwrap().into());
        }
        if let Some(o) = case["origid"].as_str() {
            args.push("--origid".into());
            args.push(o.into());
        }
        let o = run_with_stdin(&args, None);
        let got = match o.status.code() {
            Some(0) => signed_claims(String::from_utf8(o.stdout).unwrap().trim()),
            Some(2) => {
                let err = String::from_utf8_lossy(&o.stderr);
                // The flag the message names first (clap's usage line aside).
                let said = err.split("Usage:").next().unwrap_or_default();
                let flag = ["--origid", "--orig", "--dest", "--attest"]
                    .into_iter()
                    .filter_map(|f| {
                        said.match_indices(f)
                            .find(|(i, _)| !said[i + f.len()..].starts_with("id"))
                            .map(|(i, _)| (i, f))
                    })
                    .min()
                    .map(|(_, f)| f)
                    .unwrap_or_else(|| panic!("row {:?}: {err}", case["name"]));
                let field = match flag {
                    "--orig" => "orig.tn",
                    "--dest" => "dest.tn",
                    f => &f[2..],
                };
                json!({"request_error": field})
            }
            other => panic!("exit {other:?}: {}", String::from_utf8_lossy(&o.stderr)),
        };
        check_signed("CLI", case, &got);
    }

    // --batch.
    let mut input = String::new();
    for case in rows {
        input.push_str(&request_json(case, now(&t)).to_string());
        input.push('\n');
    }
    let o = run_with_stdin(
        &["sign", "--batch", "-", "--key", &key, "--x5u", x5u],
        Some(input.as_bytes()),
    );
    let lines: Vec<Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        rows.len(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for (case, line) in rows.iter().zip(&lines) {
        let got = match line["identity"].as_str() {
            Some(id) => signed_claims(id),
            None => {
                let m = line["error"].as_str().unwrap_or_default();
                json!({"request_error": member_named(m, &["orig.tn", "dest.tn", "attest", "origid", "iat"])})
            }
        };
        check_signed("--batch", case, &got);
    }

    // The REST service.
    // `--cert`: the certificate the key is checked against at start (x5u
    // names a host that does not exist; nothing leaves loopback).
    let srv = Serve::start(&[
        "--key",
        &key,
        "--x5u",
        x5u,
        "--cert",
        &certs("sp-chain.pem"),
        "--trust-anchors",
        &certs("anchors.pem"),
        "--now",
        &now_s,
    ]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    shaken::crypto::install_tls_provider();
    let client = reqwest::Client::new();
    for case in rows {
        let body = json!({"signingRequest": request_json(case, now(&t))});
        let (status, v) = rt.block_on(post(&client, srv.addr, "/stir/v1/signing", &body));
        let got = if status == 200 {
            signed_claims(v["signingResponse"]["identity"].as_str().unwrap())
        } else {
            assert_eq!(status, 400, "{v}");
            json!({"request_error": v["requestError"]["serviceException"]["variables"][0]})
        };
        check_signed("REST", case, &got);
    }
}

/// A signing row as an ATIS-1000082 signing request.
fn request_json(case: &Value, iat: i64) -> Value {
    let mut r = json!({"attest": case["attest"], "orig": {"tn": case["orig"]},
                       "dest": {"tn": case["dest"]}, "iat": iat});
    if let Some(o) = case["origid"].as_str() {
        r["origid"] = o.into();
    }
    r
}

/// The claims of a signed Identity value (or of `sign --format header` output).
fn signed_claims(identity: &str) -> Value {
    let token = identity.split(';').next().unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let bytes = shaken::b64::decode(payload).unwrap();
    let c: Value = serde_json::from_slice(&bytes).unwrap();
    json!({"attest": c["attest"], "orig": c["orig"]["tn"], "dest": c["dest"]["tn"], "origid": c["origid"]})
}

fn check_signed(surface: &str, case: &Value, got: &Value) {
    let want = &case["expect"];
    if want["origid"] == "random" {
        let o = got["origid"].as_str().unwrap_or_default();
        let u = uuid::Uuid::parse_str(o).unwrap();
        assert_eq!(u.hyphenated().to_string(), o, "{surface}: not canonical");
        assert_eq!(u.get_version_num(), 4, "{surface}: {o}");
        let mut want = want.clone();
        want.as_object_mut().unwrap().remove("origid");
        check(surface, case, &want, got);
    } else {
        check(surface, case, want, got);
    }
}

async fn post(
    client: &reqwest::Client,
    addr: SocketAddr,
    path: &str,
    body: &Value,
) -> (u16, Value) {
    let r = client
        .post(format!("http://{addr}{path}"))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap())
}

/// `shaken serve` on a free loopback port.
struct Serve {
    child: Child,
    addr: SocketAddr,
}

impl Serve {
    fn start(args: &[&str]) -> Serve {
        let mut child = bin()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut seen = Vec::new();
        let addr = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(a) = line.strip_prefix("listening on ") {
                        break a.trim().parse().unwrap();
                    }
                    seen.push(line);
                }
                _ => panic!("the server did not start: {seen:?}"),
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
        Serve { child, addr }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
