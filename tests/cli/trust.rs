//! `shaken trust update|show|update-crl` against a stand-in STI-PA made
//! here (its own root, list signer and lists, from the lab PKI), with the
//! list, its x5u and the STI-PA API served by a loopback server this test
//! starts. The clock is pinned with --now.

use crate::support::bin;
use crate::support::http::{Reply, Server};
use serde_json::Value;
use shaken::b64;
use shaken::crypto::{KeySigner, Signer};
use shaken::identity::IdentityHeader;
use shaken::passport::{self, Attestation, Claims, Header};
use shaken::pki::{Issued, LabPki, LabPkiOptions, LeafOptions};
use std::path::{Path, PathBuf};

const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const X5U: &str = "https://cr.example.net/sp.pem";

struct StiPa {
    pki: LabPki,
    signer: Issued,
    dir: tempfile::TempDir,
}

impl StiPa {
    fn new() -> StiPa {
        let pki = LabPki::generate(&LabPkiOptions::new(NOW - 86_400, NOW + 365 * 86_400)).unwrap();
        let mut o = LeafOptions::new(NOW - 86_400, NOW + 365 * 86_400);
        o.tn_auth_list = false;
        let signer = pki.issue_leaf(&o).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let pa = StiPa { pki, signer, dir };
        pa.write("sti-pa-root.pem", &pa.pki.root.cert_pem);
        pa.write("signer.pem", &pa.signer_chain());
        pa
    }
    fn signer_chain(&self) -> String {
        format!("{}{}", self.signer.cert_pem, self.pki.ca.cert_pem)
    }
    fn path(&self, f: &str) -> PathBuf {
        self.dir.path().join(f)
    }
    fn write(&self, f: &str, text: &str) -> String {
        std::fs::write(self.path(f), text).unwrap();
        self.path(f).display().to_string()
    }
    fn list_with(&self, x5u: &str, seq: u64, exp: i64, roots: &[&str]) -> String {
        let header = format!(r#"{{"alg":"ES256","typ":"JWT","x5u":"{x5u}"}}"#);
        let payload =
            serde_json::json!({"version":"1.0","sequence":seq,"exp":exp,"trustList":roots});
        let input = format!(
            "{}.{}",
            b64::encode(header.as_bytes()),
            b64::encode(payload.to_string().as_bytes())
        );
        let key = KeySigner::from_pem(&self.signer.key_pem).unwrap();
        let sig = key.sign_es256(input.as_bytes()).unwrap();
        format!("{input}.{}", b64::encode(&sig))
    }
    fn list(&self, seq: u64, exp: i64, roots: &[&str]) -> String {
        self.list_with("https://sti-pa.example/signer.crt", seq, exp, roots)
    }
}

struct Out {
    code: i32,
    json: Value,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Out {
    let o = bin().args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    Out {
        code: o.status.code().unwrap_or(-1),
        json: serde_json::from_str(stdout.trim()).unwrap_or(Value::Null),
        stdout,
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn update(pa: &StiPa, list: &str, out: &Path, extra: &[&str]) -> Out {
    let root = pa.path("sti-pa-root.pem").display().to_string();
    let out = out.display().to_string();
    let now = NOW.to_string();
    let mut args = vec![
        "trust",
        "update",
        "--list",
        list,
        "--stipa-root",
        &root,
        "--out",
        &out,
        "--now",
        &now,
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    run(&args)
}

fn with_signer(pa: &StiPa) -> Vec<String> {
    vec![
        "--signer-cert".into(),
        pa.path("signer.pem").display().to_string(),
    ]
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// A call signed by the leaf of `sp`, verified with `--trust-anchors dir`.
fn verify_with(sp: &LabPki, dir: &Path, work: &StiPa) -> i32 {
    let signer = KeySigner::from_pem(&sp.leaf.key_pem).unwrap();
    let claims = Claims::shaken(
        Attestation::A,
        "12155551212",
        vec!["12155550100".to_owned()],
        NOW,
        "123e4567-e89b-12d3-a456-426614174000",
    );
    let token = passport::sign(&Header::shaken(X5U), &claims, &signer).unwrap();
    let identity = IdentityHeader::shaken(token, X5U).to_string();
    let chain = work.write("sp-chain.pem", &sp.leaf_chain_pem());
    let o = run(&[
        "verify",
        &identity,
        "--cert",
        &chain,
        "--trust-anchors",
        &dir.display().to_string(),
        "--now",
        &NOW.to_string(),
        "--format",
        "json",
    ]);
    o.code
}

#[test]
fn install_show_and_a_removed_root_stops_being_trusted() {
    let pa = StiPa::new();
    let a = LabPki::generate(&LabPkiOptions::new(NOW - 86_400, NOW + 86_400)).unwrap();
    let b = LabPki::generate(&LabPkiOptions::new(NOW - 86_400, NOW + 86_400)).unwrap();
    let rsa = std::fs::read_to_string(crate::support::test_data("cert/rsa-root.pem")).unwrap();
    let out = pa.path("sti-roots");
    let list = pa.write(
        "l1.jws",
        &pa.list(1, NOW + 86_400, &[&a.root.cert_pem, &b.root.cert_pem, &rsa]),
    );
    let o = update(&pa, &list, &out, &strs(&with_signer(&pa)));
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_eq!(o.json["result"], "installed");
    assert_eq!(o.json["added"].as_array().unwrap().len(), 3);
    assert!(
        out.join("d97fd9bd.0").exists(),
        "the RSA root by its openssl hash"
    );
    assert_eq!(verify_with(&a, &out, &pa), 0);
    assert_eq!(verify_with(&b, &out, &pa), 0);

    // The same list again: unchanged.
    let o = update(&pa, &list, &out, &strs(&with_signer(&pa)));
    assert_eq!((o.code, o.json["result"].as_str()), (0, Some("unchanged")));

    // Sequence 2 drops root b: b's calls stop passing.
    let list2 = pa.write(
        "l2.jws",
        &pa.list(2, NOW + 86_400, &[&a.root.cert_pem, &rsa]),
    );
    let o = update(&pa, &list2, &out, &strs(&with_signer(&pa)));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let removed = o.json["removed"].as_array().unwrap();
    assert_eq!(removed.len(), 1);
    assert!(removed[0]["fingerprint"].as_str().unwrap().contains(':'));
    assert_eq!(verify_with(&a, &out, &pa), 0);
    assert_eq!(verify_with(&b, &out, &pa), 1);

    // `trust show`: JSON, and text; exit 1 once past exp.
    let dir = out.display().to_string();
    let o = run(&[
        "trust",
        "show",
        &dir,
        "--now",
        &NOW.to_string(),
        "--format",
        "json",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.json["sequence"], 2);
    assert_eq!(o.json["seconds_to_exp"], 86_400);
    assert_eq!(o.json["roots"].as_array().unwrap().len(), 2);
    let later = (NOW + 2 * 86_400).to_string();
    let o = run(&["trust", "show", &dir, "--now", &later]);
    assert_eq!(o.code, 1);
    assert!(o.stdout.contains("EXPIRED"), "{}", o.stdout);

    // Rollback to sequence 1 is refused and the directory is untouched.
    let before = snapshot(&out);
    let o = update(&pa, &list, &out, &strs(&with_signer(&pa)));
    assert_eq!(o.code, 1);
    assert_eq!(o.json["id"], "trust-list-rollback", "{}", o.stdout);
    assert_eq!(snapshot(&out), before);
}

#[test]
fn refusals_name_the_rule_and_leave_the_directory_alone() {
    let pa = StiPa::new();
    let a = LabPki::generate(&LabPkiOptions::new(NOW - 86_400, NOW + 86_400)).unwrap();
    let out = pa.path("roots");
    let good = pa.write("good.jws", &pa.list(5, NOW + 3600, &[&a.root.cert_pem]));
    assert_eq!(update(&pa, &good, &out, &strs(&with_signer(&pa))).code, 0);
    let before = snapshot(&out);

    let other = StiPa::new();
    let cases: Vec<(String, &str)> = vec![
        (
            pa.list(6, NOW - 1, &[&a.root.cert_pem]),
            "trust-list-expired",
        ),
        (
            other.list(6, NOW + 60, &[&a.root.cert_pem]),
            "trust-list-signature",
        ),
        (
            pa.list(6, NOW + 60, &[&a.leaf.cert_pem]),
            "trust-list-entry-not-ca",
        ),
        (pa.list(6, NOW + 60, &["junk"]), "trust-list-entry"),
        ("e30.e30.AAAA".to_owned(), "trust-list-jws"),
    ];
    for (i, (list, id)) in cases.iter().enumerate() {
        let f = pa.write(&format!("bad{i}.jws"), list);
        let o = update(&pa, &f, &out, &strs(&with_signer(&pa)));
        assert_eq!(o.code, 1, "{id}: {}{}", o.stdout, o.stderr);
        assert_eq!(o.json["id"], *id, "{}", o.stdout);
        assert_eq!(snapshot(&out), before, "{id}");
    }
    // The other STI-PA's own signer does not chain to our pinned root.
    let f = pa.write("other.jws", &other.list(6, NOW + 60, &[&a.root.cert_pem]));
    other.write("signer.pem", &other.signer_chain());
    let o = update(&pa, &f, &out, &strs(&with_signer(&other)));
    assert_eq!(o.json["id"], "trust-list-signer-untrusted", "{}", o.stdout);
    // Text form: the reason on stderr.
    let root = pa.path("sti-pa-root.pem").display().to_string();
    let o = run(&[
        "trust",
        "update",
        "--list",
        &f,
        "--stipa-root",
        &root,
        "--out",
        &out.display().to_string(),
        "--signer-cert",
        &other.path("signer.pem").display().to_string(),
        "--now",
        &NOW.to_string(),
    ]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("pinned STI-PA root"), "{}", o.stderr);
    // A missing list file is an I/O error: 2.
    let o = update(&pa, "/nonexistent/list.jws", &out, &[]);
    assert_eq!(o.code, 2);
    assert_eq!(snapshot(&out), before);
}

#[test]
fn the_wrapped_list_and_its_x5u_come_from_loopback() {
    let pa = StiPa::new();
    let a = LabPki::generate(&LabPkiOptions::new(NOW - 86_400, NOW + 86_400)).unwrap();
    let server = Server::start();
    let x5u = server.route("/signer.crt", Reply::Ok(pa.signer_chain().into_bytes()));
    let jws = pa.list_with(&x5u, 3, NOW + 3600, &[&a.root.cert_pem]);
    let wrapped = serde_json::json!({"status":"success","message":"ok","caList":jws}).to_string();
    let url = server.route("/ca-list", Reply::Ok(wrapped.into_bytes()));
    let out = pa.path("roots");
    let flags = ["--allow-http-x5u", "--allow-private-x5u"];
    let o = update(&pa, &url, &out, &flags);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_eq!(server.hits("/signer.crt"), 1);
    assert_eq!(verify_with(&a, &out, &pa), 0);
    // Without the lab flags the guarded fetcher refuses loopback: exit 2.
    let o = update(&pa, &url, &pa.path("roots2"), &[]);
    assert_eq!(o.code, 2, "{}", o.stderr);
}

#[test]
fn the_stipa_api_flow_logs_in_then_fetches_the_list() {
    let pa = StiPa::new();
    let a = LabPki::generate(&LabPkiOptions::new(NOW - 86_400, NOW + 86_400)).unwrap();
    let server = Server::start();
    let x5u = server.route("/signer.crt", Reply::Ok(pa.signer_chain().into_bytes()));
    let jws = pa.list_with(&x5u, 9, NOW + 3600, &[&a.root.cert_pem]);
    let wrapped = serde_json::json!({"status":"success","message":"","caList":jws}).to_string();
    server.route(
        "/api/v1/auth/login",
        Reply::Ok(br#"{"status":"success","accessToken":"tok-123"}"#.to_vec()),
    );
    server.route(
        "/api/v1/ca-list",
        Reply::Requires(
            "Authorization: tok-123".into(),
            Box::new(Reply::Ok(wrapped.into_bytes())),
        ),
    );
    let pw = pa.write("pw", "secret\n");
    let root = pa.path("sti-pa-root.pem").display().to_string();
    let out = pa.path("roots").display().to_string();
    let o = run(&[
        "trust",
        "update",
        "--stipa-api",
        &server.url("/api/v1"),
        "--user",
        "u",
        "--password-file",
        &pw,
        "--stipa-root",
        &root,
        "--out",
        &out,
        "--now",
        &NOW.to_string(),
        "--format",
        "json",
        "--allow-http-x5u",
        "--allow-private-x5u",
    ]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_eq!(o.json["sequence"], 9);
    assert_eq!(server.hits("/api/v1/auth/login"), 1);
}

#[test]
fn update_crl_installs_the_verified_crl_beside_the_roots() {
    let pa = StiPa::new();
    let out = pa.path("roots");
    let list = pa.write("l.jws", &pa.list(1, NOW + 3600, &[&pa.pki.root.cert_pem]));
    assert_eq!(update(&pa, &list, &out, &strs(&with_signer(&pa))).code, 0);
    // The lab's CRL signer is self-signed: pinned here as the STI-PA root.
    let signer = pa.write("crl-signer.pem", &pa.pki.crl_signer.cert_pem);
    let crl = pa.write(
        "crl.pem",
        &pa.pki.issue_crl(&[], NOW - 60, NOW + 86_400).unwrap(),
    );
    let dir = out.display().to_string();
    let o = run(&[
        "trust",
        "update-crl",
        &crl,
        "--out",
        &dir,
        "--stipa-root",
        &signer,
        "--signer-cert",
        &signer,
        "--now",
        &NOW.to_string(),
        "--format",
        "json",
    ]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(out.join("crl.pem").exists() && out.join("crl-signer.pem").exists());
    // A CRL signed by someone else is refused.
    let other = StiPa::new();
    let bad = pa.write(
        "bad-crl.pem",
        &other.pki.issue_crl(&[], NOW - 60, NOW + 86_400).unwrap(),
    );
    let o = run(&[
        "trust",
        "update-crl",
        &bad,
        "--out",
        &dir,
        "--stipa-root",
        &signer,
        "--signer-cert",
        &signer,
        "--now",
        &NOW.to_string(),
        "--format",
        "json",
    ]);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert_eq!(o.json["id"], "trust-crl-signature");
    // verify picks the CRL up with --crl DIR/crl.pem.
    let chain = pa.write("sp.pem", &pa.pki.leaf_chain_pem());
    let o = run(&[
        "cert",
        "verify",
        &chain,
        "--trust-anchors",
        &dir,
        "--crl",
        &out.join("crl.pem").display().to_string(),
        "--now",
        &NOW.to_string(),
    ]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
}

/// `serve --trust-list-url`: the service installs the list at start, keeps
/// it current on its interval (a root removed by the STI-PA stops being
/// trusted without a restart), shows the list in its metrics, and keeps the
/// last good list when a refresh fails.
#[test]
fn serve_keeps_the_trust_list_current_by_itself() {
    use std::io::{BufRead, BufReader, Read, Write};
    let pa = StiPa::new();
    let a = LabPki::generate(&LabPkiOptions::new(NOW - 86_400, NOW + 86_400)).unwrap();
    let b = LabPki::generate(&LabPkiOptions::new(NOW - 86_400, NOW + 86_400)).unwrap();
    let server = Server::start();
    let x5u = server.route("/signer.crt", Reply::Ok(pa.signer_chain().into_bytes()));
    let list = |seq: u64, roots: &[&str]| pa.list_with(&x5u, seq, NOW + 86_400, roots).into_bytes();
    let url = server.route(
        "/ca-list",
        Reply::Ok(list(1, &[&a.root.cert_pem, &b.root.cert_pem])),
    );
    let dir = pa.path("sti-roots");
    let chain = pa.write("a-chain.pem", &a.leaf_chain_pem());
    let mut child = bin()
        .args(["serve", "--listen", "127.0.0.1:0", "--cert", &chain])
        .args(["--trust-anchors", &dir.display().to_string()])
        .args(["--trust-list-url", &url, "--trust-list-interval", "1"])
        .args([
            "--stipa-root",
            &pa.path("sti-pa-root.pem").display().to_string(),
        ])
        .args([
            "--allow-http-x5u",
            "--allow-private-x5u",
            "--now",
            &NOW.to_string(),
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr: std::net::SocketAddr = loop {
        let line = lines.next().expect("serve ended before listening").unwrap();
        if let Some(a) = line.strip_prefix("listening on ") {
            break a.trim().parse().unwrap();
        }
    };
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
    let http = |method: &str, path: &str, body: &str| -> String {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    };
    let verify = || {
        let signer = KeySigner::from_pem(&a.leaf.key_pem).unwrap();
        let claims = Claims::shaken(
            Attestation::A,
            "12155551212",
            vec!["12155550100".to_owned()],
            NOW,
            "123e4567-e89b-12d3-a456-426614174000",
        );
        let token = passport::sign(&Header::shaken(X5U), &claims, &signer).unwrap();
        let identity = IdentityHeader::shaken(token, X5U).to_string();
        let body = serde_json::json!({"verificationRequest": {"from": {"tn": "12155551212"},
            "to": {"tn": ["12155550100"]}, "time": NOW, "identity": identity}});
        http("POST", "/stir/v1/verification", &body.to_string())
    };
    let wait_metrics = |want: &str| {
        for _ in 0..300 {
            if http("GET", "/metrics", "").contains(want) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!(
            "metrics never showed {want}:\n{}",
            http("GET", "/metrics", "")
        );
    };
    assert!(verify().contains("TN-Validation-Passed"), "{}", verify());
    wait_metrics("shaken_trust_list_sequence 1");
    // The STI-PA drops root a: the service installs sequence 2 and reloads.
    server.route("/ca-list", Reply::Ok(list(2, &[&b.root.cert_pem])));
    wait_metrics("shaken_trust_list_sequence 2");
    let mut untrusted = false;
    for _ in 0..300 {
        if verify().contains("\"reasoncode\":437") {
            untrusted = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(untrusted, "root a still trusted: {}", verify());
    // A refresh that fails (the list server now answers 500) keeps the
    // installed list and is counted.
    server.route("/ca-list", Reply::Status(500));
    wait_metrics("shaken_trust_list_refreshes_total{result=\"failed\"} 1");
    wait_metrics("shaken_trust_list_sequence 2");
    let _ = child.kill();
    let _ = child.wait();
}

/// A long `verify --batch` run picks up a new version of an installed
/// trust directory: calls before the update pass, calls after it (root a
/// dropped by the STI-PA) do not, without a restart.
#[test]
fn a_long_batch_picks_up_a_new_trust_list() {
    use std::io::Write;
    let pa = StiPa::new();
    let a = LabPki::generate(&LabPkiOptions::new(NOW - 86_400, NOW + 86_400)).unwrap();
    let b = LabPki::generate(&LabPkiOptions::new(NOW - 86_400, NOW + 86_400)).unwrap();
    let dir = pa.path("sti-roots");
    let l1 = pa.write(
        "l1.jws",
        &pa.list(1, NOW + 86_400, &[&a.root.cert_pem, &b.root.cert_pem]),
    );
    assert_eq!(update(&pa, &l1, &dir, &strs(&with_signer(&pa))).code, 0);
    let chain = pa.write("a-chain.pem", &a.leaf_chain_pem());
    let signer = KeySigner::from_pem(&a.leaf.key_pem).unwrap();
    let line = |i: usize| {
        let claims = Claims::shaken(
            Attestation::A,
            "12155551212",
            vec!["12155550100".to_owned()],
            NOW,
            format!("123e4567-e89b-12d3-a456-{i:012}"),
        );
        let token = passport::sign(&Header::shaken(X5U), &claims, &signer).unwrap();
        let identity = IdentityHeader::shaken(token, X5U).to_string();
        format!(
            "{}\n",
            serde_json::json!({"from": {"tn": "12155551212"}, "to": {"tn": ["12155550100"]},
                               "time": NOW, "identity": identity})
        )
    };
    let mut child = bin()
        .args(["verify", "--batch", "-", "--jobs", "1", "--cert", &chain])
        .args([
            "--trust-anchors",
            &dir.display().to_string(),
            "--now",
            &NOW.to_string(),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    // More than one chunk (256 lines) goes through before the update.
    let mut first = String::new();
    for i in 0..300 {
        first.push_str(&line(i));
    }
    input.write_all(first.as_bytes()).unwrap();
    input.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_secs(1));
    let l2 = pa.write("l2.jws", &pa.list(2, NOW + 86_400, &[&b.root.cert_pem]));
    assert_eq!(update(&pa, &l2, &dir, &strs(&with_signer(&pa))).code, 0);
    // Past the watch period, the rest of the input.
    std::thread::sleep(std::time::Duration::from_secs(6));
    let mut rest = String::new();
    for i in 300..310 {
        rest.push_str(&line(i));
    }
    input.write_all(rest.as_bytes()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 310, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(lines[0]["verstat"], "TN-Validation-Passed", "{}", lines[0]);
    assert_eq!(lines[309]["reason"]["code"], 437, "{}", lines[309]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("a new version of the installed trust anchors"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The STI-PA CRL names its signer in its own authorityInfoAccess
/// (`caIssuers`): `trust update-crl` without `--signer-cert` fetches that
/// certificate (loopback here, with the lab switches), checks it chains to
/// the pinned root and installs; a signer served there that does not chain,
/// or a dead URL, leaves the directory without a CRL.
#[test]
fn update_crl_finds_its_signer_through_the_crls_aia() {
    let pa = StiPa::new();
    let server = Server::start();
    let signer_pem = pa.pki.crl_signer.cert_pem.clone();
    let url = server.route(
        "/crl-signer.pem",
        Reply::Pem {
            body: signer_pem.into_bytes(),
            content_length: true,
        },
    );
    // The lab's CRL signer is self-signed: pinned as the STI-PA root.
    let root = pa.write("crl-signer-root.pem", &pa.pki.crl_signer.cert_pem);
    let crl_pem = pa
        .pki
        .issue_crl_with_aia(&[7, 9], NOW - 60, NOW + 86_400, &url)
        .unwrap();
    // The library reads the URL back from the CRL.
    let parsed =
        shaken::cert::Crl::from_pem_or_der(crl_pem.as_bytes(), &shaken::Limits::default()).unwrap();
    assert_eq!(
        shaken::trust::crl_signer_url(&parsed).as_deref(),
        Some(url.as_str())
    );
    let crl = pa.write("aia-crl.pem", &crl_pem);
    let out = pa.path("crl-dir");
    let dir = out.display().to_string();
    let args = |crl: &str| {
        run(&[
            "trust",
            "update-crl",
            crl,
            "--out",
            &dir,
            "--stipa-root",
            &root,
            "--now",
            &NOW.to_string(),
            "--format",
            "json",
            "--allow-http-x5u",
            "--allow-private-x5u",
        ])
    };
    let o = args(&crl);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_eq!(o.json["revoked"], 2, "{}", o.stdout);
    assert_eq!(server.hits("/crl-signer.pem"), 1);
    assert_eq!(
        std::fs::read_to_string(out.join("crl-signer.pem")).unwrap(),
        pa.pki.crl_signer.cert_pem
    );

    // The AIA names another STI-PA's CRL signer (same subject, other key): refused.
    let other = StiPa::new();
    let wrong = server.route(
        "/other.pem",
        Reply::Pem {
            body: other.pki.crl_signer.cert_pem.clone().into_bytes(),
            content_length: true,
        },
    );
    let bad = pa.write(
        "aia-wrong.pem",
        &pa.pki
            .issue_crl_with_aia(&[], NOW - 60, NOW + 86_400, &wrong)
            .unwrap(),
    );
    let out2 = pa.path("crl-dir-2");
    let o = run(&[
        "trust",
        "update-crl",
        &bad,
        "--out",
        &out2.display().to_string(),
        "--stipa-root",
        &root,
        "--now",
        &NOW.to_string(),
        "--format",
        "json",
        "--allow-http-x5u",
        "--allow-private-x5u",
    ]);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert_eq!(o.json["id"], "trust-crl-signature", "{}", o.stdout);
    assert!(!out2.join("crl.pem").exists());

    // The AIA URL answers 404: an error naming the URL, nothing installed.
    let dead = server.url("/gone.pem");
    let gone = pa.write(
        "aia-gone.pem",
        &pa.pki
            .issue_crl_with_aia(&[], NOW - 60, NOW + 86_400, &dead)
            .unwrap(),
    );
    let o = run(&[
        "trust",
        "update-crl",
        &gone,
        "--out",
        &out2.display().to_string(),
        "--stipa-root",
        &root,
        "--now",
        &NOW.to_string(),
        "--allow-http-x5u",
        "--allow-private-x5u",
    ]);
    assert_eq!(o.code, 2, "{}{}", o.stdout, o.stderr);
    assert!(o.stderr.contains(&dead), "{}", o.stderr);
    assert!(!out2.join("crl.pem").exists());
}

/// Some roots on the STI-PA list are RSA: such a root installs from the
/// list, and a carrier's chain under it (ECDSA intermediate and signer, the
/// intermediate signed with sha256WithRSAEncryption) verifies against the
/// installed directory.
#[test]
fn an_rsa_root_from_the_list_installs_and_its_chains_verify() {
    let pa = StiPa::new();
    let mut o = LabPkiOptions::new(NOW - 86_400, NOW + 365 * 86_400);
    o.root_key_pem = Some(
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/keys/rsa.pkcs8.pem"),
        )
        .unwrap(),
    );
    let carrier = LabPki::generate(&o).unwrap();
    let list = pa.write(
        "rsa.jws",
        &pa.list(1, NOW + 3600, &[&carrier.root.cert_pem]),
    );
    let out = pa.path("rsa-roots");
    let u = update(&pa, &list, &out, &strs(&with_signer(&pa)));
    assert_eq!(u.code, 0, "{}{}", u.stdout, u.stderr);
    let chain = pa.write("rsa-chain.pem", &carrier.leaf_chain_pem());
    let v = run(&[
        "cert",
        "verify",
        &chain,
        "--trust-anchors",
        &out.display().to_string(),
        "--now",
        &NOW.to_string(),
    ]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    // A chain under an RSA root the list does not hold is not trusted.
    o.org = "Other Lab".into();
    let stranger = LabPki::generate(&o).unwrap();
    let other = pa.write("rsa-other.pem", &stranger.leaf_chain_pem());
    let v = run(&[
        "cert",
        "verify",
        &other,
        "--trust-anchors",
        &out.display().to_string(),
        "--now",
        &NOW.to_string(),
    ]);
    assert_ne!(v.code, 0, "{}{}", v.stdout, v.stderr);
}
