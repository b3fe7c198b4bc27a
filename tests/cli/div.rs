//! Diverted calls (RFC 8946, issue 15) through the real binary: `sign --div`,
//! `sign --sip --divert`, `verify --sip` with several Identity headers (two
//! carriers' certificates fetched from a loopback server), `verify VALUE`
//! with a `div-o`, and the usage errors. The clock is pinned to the SIP
//! templates' Date (1471375418).

use crate::support::http::{Reply, Server};
use crate::support::{run_with_stdin, shaken, test_data, LabDir};
use shaken::div::DivVerdict;
use shaken::sip_verify::SipReport;
use std::process::Output;

const NOW: &str = "1471375418";
const LAB: &[&str] = &["--allow-http-x5u", "--allow-private-x5u"];

fn sip_pki(f: &str) -> String {
    test_data(&format!("sip/pki/{f}"))
        .to_string_lossy()
        .into_owned()
}

fn template() -> String {
    test_data("sip/invite-tel.txt")
        .to_string_lossy()
        .into_owned()
}

/// Two carriers: A (the committed SIP lab PKI) signs the call, B (a fresh lab
/// PKI with its own root) retargets it; both chains on a loopback server.
struct Carriers {
    b: LabDir,
    _server: Server,
    x5u_a: String,
    x5u_b: String,
}

fn carriers() -> Carriers {
    let b = LabDir::new(NOW.parse().unwrap());
    let server = Server::start();
    let pem = |p: &str| Reply::Ok(std::fs::read(p).unwrap());
    let x5u_a = server.route("/a.pem", pem(&sip_pki("sp-chain.pem")));
    let x5u_b = server.route("/b.pem", pem(&b.path("chain.pem")));
    Carriers {
        b,
        _server: server,
        x5u_a,
        x5u_b,
    }
}

fn ok(o: &Output) -> Vec<u8> {
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout.clone()
}

impl Carriers {
    fn signed(&self) -> Vec<u8> {
        ok(&shaken(&[
            "sign",
            "--sip",
            &template(),
            "--key",
            &sip_pki("sp.key.pem"),
            "--x5u",
            &self.x5u_a,
            "--attest",
            "A",
            "--iat",
            NOW,
            "--origid",
            "8f1c6a52-3b4e-4d7a-9c2e-5a1b0d3e7f60",
            "--deterministic",
        ]))
    }
    /// `sign --sip - --divert` with carrier B's key.
    fn divert(&self, msg: &[u8], hi: Option<&str>) -> Vec<u8> {
        let key = self.b.path("key.pem");
        let mut args = vec![
            "sign",
            "--sip",
            "-",
            "--divert",
            "--key",
            &key,
            "--x5u",
            &self.x5u_b,
            "--deterministic",
        ];
        if let Some(hi) = hi {
            args.extend(["--hi", hi]);
        }
        ok(&run_with_stdin(&args, Some(msg)))
    }
    fn verify(&self, msg: &[u8], format: &str) -> Output {
        let root_a = sip_pki("root.pem");
        let root_b = self.b.path("root.pem");
        let mut args = vec![
            "verify",
            "--sip",
            "-",
            "--trust-anchors",
            &root_a,
            "--trust-anchors",
            &root_b,
            "--now",
            NOW,
            "--format",
            format,
        ];
        args.extend(LAB);
        run_with_stdin(&args, Some(msg))
    }
    fn report(&self, msg: &[u8]) -> (i32, SipReport) {
        let o = self.verify(msg, "json");
        let r = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)));
        (o.status.code().unwrap(), r)
    }
}

/// The Request-URI user part set to `tn`.
fn retarget(msg: &[u8], tn: &str) -> Vec<u8> {
    let text = String::from_utf8(msg.to_vec()).unwrap();
    let (line, rest) = text.split_once("\r\n").unwrap();
    let host = line.split_once('@').unwrap().1;
    format!("INVITE sip:{tn}@{host}\r\n{rest}").into_bytes()
}

#[test]
fn two_carriers_two_hops_pass_and_show_their_hops() {
    let c = carriers();
    let signed = c.signed();
    let one = c.divert(&retarget(&signed, "+12125550199"), Some("1.1"));
    let (code, r) = c.report(&one);
    assert_eq!(code, 0, "{:?}", r.overall.reason);
    let d = r.diversion.clone().unwrap();
    assert_eq!(d.verdict, DivVerdict::Valid);
    assert_eq!(d.hops[0].hi.as_deref(), Some("1.1"));
    assert_eq!(
        d.hops[0].signer.as_ref().unwrap().subject,
        "CN=SHAKEN 1234, O=Shaken Lab, C=US"
    );
    // The second retargeting adds one div, for the last hop only.
    let two = c.divert(&retarget(&one, "+12125550177"), None);
    let (code, r) = c.report(&two);
    assert_eq!(code, 0);
    assert_eq!(r.passports.len(), 3);
    let d = r.diversion.unwrap();
    assert_eq!(d.verdict, DivVerdict::Valid);
    assert_eq!(d.hops.len(), 2);
    assert_eq!(d.hops[1].from.as_deref(), Some("12125550199"));
    assert_eq!(d.hops[1].to.as_deref(), Some("12125550177"));
    // The JSON spelling of issue 15.
    let j: serde_json::Value = serde_json::from_slice(&c.verify(&two, "json").stdout).unwrap();
    for k in ["verdict", "hops", "reason"] {
        assert!(j["diversion"].get(k).is_some(), "{k}");
    }
    for k in ["from", "to", "signer", "reason"] {
        assert!(j["diversion"]["hops"][0].get(k).is_some(), "{k}");
    }
    assert!(j["diversion"]["hops"][0]["signer"].get("spc").is_some());
    // Text: the hops, one line each.
    let text = String::from_utf8(c.verify(&two, "text").stdout).unwrap();
    assert!(
        text.contains("Diverted call: div chain valid (to 12125550177)"),
        "{text}"
    );
    assert!(
        text.contains("hop 1 [1] 12125550143 -> 12125550199"),
        "{text}"
    );
    assert!(
        text.contains("hop 2 [2] 12125550199 -> 12125550177"),
        "{text}"
    );
}

#[test]
fn a_broken_chain_fails_the_retargeted_call_naming_the_link() {
    let c = carriers();
    let signed = c.signed();
    let one = c.divert(&retarget(&signed, "+12125550199"), None);
    // Retargeted again, but nobody added a div for it.
    let (code, r) = c.report(&retarget(&one, "+12125550188"));
    assert_eq!(code, 1);
    let reason = r.overall.reason.unwrap();
    assert_eq!((reason.code, reason.id.as_str()), (438, "dest-mismatch"));
    let d = r.diversion.unwrap();
    assert_eq!(d.verdict, DivVerdict::Invalid);
    assert_eq!(d.reason.unwrap().id, "div-target-mismatch");
    // Without B's root, the div's certificate is untrusted: hop 1 is named.
    let o = run_with_stdin(
        &[
            &[
                "verify",
                "--sip",
                "-",
                "--trust-anchors",
                &sip_pki("root.pem"),
            ],
            LAB,
            &["--now", NOW, "--format", "json"],
        ]
        .concat(),
        Some(&one),
    );
    assert_eq!(o.status.code(), Some(1));
    let r: SipReport = serde_json::from_slice(&o.stdout).unwrap();
    let d = r.diversion.unwrap();
    assert_eq!(d.reason.as_ref().unwrap().id, "div-hop-invalid");
    assert!(d.reason.unwrap().detail.contains("hop 1"));
    assert_eq!(d.hops[0].reason.as_ref().unwrap().id, "cert-untrusted");
}

#[test]
fn sign_div_prints_the_div_identity() {
    let c = carriers();
    let signed = String::from_utf8(c.signed()).unwrap();
    let identity = signed
        .lines()
        .find_map(|l| l.strip_prefix("Identity: "))
        .unwrap()
        .to_owned();
    let key = c.b.path("key.pem");
    let args = |extra: &[&str]| {
        let mut a = vec![
            "sign",
            "--div",
            "-",
            "--dest",
            "2125550199",
            "--key",
            &key,
            "--x5u",
            &c.x5u_b,
        ];
        a.extend_from_slice(extra);
        a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()
    };
    let o = run_with_stdin(
        &args(&["--format", "json", "--hi", "2"]),
        Some(identity.as_bytes()),
    );
    let j: serde_json::Value = serde_json::from_slice(&ok(&o)).unwrap();
    assert_eq!(j["header"]["ppt"], "div");
    assert_eq!(
        j["claims"],
        serde_json::json!({"dest":{"tn":["12125550199"]},"div":{"hi":"2","tn":"12125550143"},"iat":1471375418,"orig":{"tn":"12155550121"}})
    );
    assert!(j["identity"].as_str().unwrap().ends_with(";ppt=div"));
    // The printed value, added to the retargeted INVITE, verifies.
    let div =
        String::from_utf8(ok(&run_with_stdin(&args(&[]), Some(identity.as_bytes())))).unwrap();
    let msg = retarget(signed.as_bytes(), "+12125550199");
    let text = String::from_utf8(msg).unwrap();
    let msg = text.replacen(
        "Identity: ",
        &format!("Identity: {}\r\nIdentity: ", div.trim()),
        1,
    );
    let (code, r) = c.report(msg.as_bytes());
    assert_eq!(code, 0, "{:?}", r.overall.reason);
    // The div first, then the shaken: any order.
    assert_eq!(r.passports[0].ppt.as_deref(), Some("div"));
    assert_eq!(r.diversion.unwrap().verdict, DivVerdict::Valid);
}

#[test]
fn verify_value_checks_a_div_o_chain() {
    // One carrier (the committed lab key) makes a div-o around its own
    // shaken PASSporT, through the library (the CLI signs div, not div-o).
    let key = std::fs::read_to_string(sip_pki("sp.key.pem")).unwrap();
    let signer = shaken::crypto::KeySigner::from_pem(&key).unwrap();
    let x5u = "https://cert.example.org/sp-chain.pem";
    let shaken_claims = shaken::passport::Claims::shaken(
        shaken::Attestation::A,
        "12155550121",
        vec!["12125550143".into()],
        1_471_375_418,
        "8f1c6a52-3b4e-4d7a-9c2e-5a1b0d3e7f60",
    );
    let inner = shaken::passport::sign(
        &shaken::passport::Header::shaken(x5u),
        &shaken_claims,
        &signer,
    )
    .unwrap();
    let p = shaken::tn::TnPolicy::default();
    let mut claims = shaken::div::div_claims(
        &shaken_claims,
        "12125550143",
        &shaken::tn::TelephoneNumber::parse("+12125550199", &p).unwrap(),
        None,
        &p,
    )
    .unwrap();
    claims.extra.insert("opt".into(), inner.into());
    let mut h = shaken::div::div_header(x5u);
    h.ppt = Some("div-o".into());
    let outer = shaken::passport::sign(&h, &claims, &signer).unwrap();
    let value = format!("{outer};info=<{x5u}>;ppt=div-o");
    let verify = |dest: &str| {
        shaken(&[
            "verify",
            &value,
            "--cert",
            &sip_pki("sp-chain.pem"),
            "--trust-anchors",
            &sip_pki("root.pem"),
            "--now",
            NOW,
            "--orig",
            "12155550121",
            "--dest",
            dest,
            "--format",
            "json",
        ])
    };
    let o = verify("12125550199");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["verstat"], "TN-Validation-Passed");
    assert_eq!(j["attest"], "A");
    assert_eq!(j["diversion"]["verdict"], "valid");
    assert_eq!(j["diversion"]["hops"][0]["ppt"], "div-o");
    // Another called number: the chain does not end there.
    let o = verify("12125550188");
    assert_eq!(o.status.code(), Some(1));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["reason"]["id"], "dest-mismatch");
    assert_eq!(j["diversion"]["reason"]["id"], "div-target-mismatch");
}

#[test]
fn div_usage_errors_are_exit_2() {
    let key = sip_pki("sp.key.pem");
    let x5u = "https://cert.example.org/sp-chain.pem";
    let signed = std::fs::read_to_string(test_data("sip/signed-tel.txt")).unwrap();
    let identity = signed
        .lines()
        .find_map(|l| l.strip_prefix("Identity: "))
        .unwrap()
        .trim()
        .to_owned();
    let tel = template();
    let base = ["--key", key.as_str(), "--x5u", x5u];
    for (args, want) in [
        (vec!["sign", "--div", &identity], "--dest"),
        (
            vec!["sign", "--div", &identity, "--dest", "1", "--dest", "2"],
            "exactly one --dest",
        ),
        (
            vec!["sign", "--div", &identity, "--dest", "12125550143"],
            "already in the incoming PASSporT's dest",
        ),
        (
            vec![
                "sign",
                "--div",
                &identity,
                "--dest",
                "12125550199",
                "--hi",
                "x",
            ],
            "History-Info index",
        ),
        (
            vec!["sign", "--div", "not-a-token", "--dest", "12125550199"],
            "--div",
        ),
        (
            vec![
                "sign",
                "--div",
                &identity,
                "--dest",
                "2125550199",
                "--attest",
                "A",
            ],
            "cannot be used with",
        ),
        (
            vec![
                "sign", "--orig", "1", "--dest", "2", "--attest", "A", "--hi", "1",
            ],
            "--hi",
        ),
        (
            vec!["sign", "--divert", "--orig", "1", "--dest", "2"],
            "--sip",
        ),
        (
            vec!["sign", "--sip", &tel, "--divert"],
            "no Identity header",
        ),
    ] {
        let all: Vec<&str> = args.iter().copied().chain(base).collect();
        let o = shaken(&all);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

/// `--batch`: a `div` member in a signing request, `identities` and
/// `requestUri` in a verification request; malformed extensions are line
/// errors naming the member.
#[test]
fn batch_signs_div_requests_and_verifies_diverted_calls() {
    let key = sip_pki("sp.key.pem");
    let x5u = "https://cert.example.org/sp-chain.pem";
    let signed = std::fs::read_to_string(test_data("sip/signed-tel.txt")).unwrap();
    let identity = signed
        .lines()
        .find_map(|l| l.strip_prefix("Identity: "))
        .unwrap()
        .trim()
        .to_owned();
    let requests = [
        serde_json::json!({"div": {"identity": identity, "hi": "1.1"}, "dest": {"tn": ["12125550199"]}}),
        serde_json::json!({"div": {"identity": identity}, "dest": {"tn": ["12125550143"]}}),
        serde_json::json!({"div": {"identity": identity}, "dest": {"tn": ["12125550199"]}, "attest": "A"}),
        serde_json::json!({"div": "x", "dest": {"tn": ["12125550199"]}}),
        serde_json::json!({"div": {"identity": identity}, "dest": {"tn": ["1", "2"]}}),
    ];
    let input: String = requests.iter().map(|r| format!("{r}\n")).collect();
    let o = run_with_stdin(
        &[
            "sign", "--batch", "-", "--key", &key, "--x5u", x5u, "--jobs", "1",
        ],
        Some(input.as_bytes()),
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    let div = lines[0]["identity"].as_str().unwrap().to_owned();
    assert!(div.ends_with(";ppt=div"), "{div}");
    assert_eq!(
        lines[0]["div"],
        serde_json::json!({"hi": "1.1", "tn": "12125550143"})
    );
    assert_eq!(lines[0]["orig"]["tn"], "12155550121");
    for (n, want) in [
        (1, "already in the incoming PASSporT's dest"),
        (2, "\"attest\""),
        (3, "must be an object"),
        (4, "exactly one number"),
    ] {
        let e = lines[n]["error"].as_str().unwrap_or_default();
        assert!(e.contains(want), "line {}: {e}", n + 1);
    }
    // Verification: the shaken identity with the div in `identities`.
    let base = |to: &str| {
        serde_json::json!({"from": {"tn": "12155550121"}, "to": {"tn": [to]},
                           "time": 1_471_375_418, "identity": identity})
    };
    let mut ok = base("12125550143");
    ok["identities"] = serde_json::json!([div]);
    ok["requestUri"] = "sip:+12125550199@example.net;user=phone".into();
    let mut to_new = base("12125550199");
    to_new["identities"] = serde_json::json!([div]);
    let mut elsewhere = base("12125550188");
    elsewhere["identities"] = serde_json::json!([div]);
    let mut bad = base("12125550143");
    bad["identities"] = "x".into();
    let mut bad_uri = base("12125550143");
    bad_uri["requestUri"] = 5.into();
    let input: String = [ok, to_new, elsewhere, bad, bad_uri]
        .iter()
        .map(|r| format!("{r}\n"))
        .collect();
    let o = run_with_stdin(
        &[
            "verify",
            "--batch",
            "-",
            "--cert",
            &sip_pki("sp-chain.pem"),
            "--trust-anchors",
            &sip_pki("root.pem"),
            "--now",
            NOW,
            "--no-replay",
            "--jobs",
            "1",
        ],
        Some(input.as_bytes()),
    );
    let rows: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[0]["verstat"], "TN-Validation-Passed", "{}", rows[0]);
    assert_eq!(rows[0]["diversion"]["verdict"], "valid");
    assert_eq!(rows[0]["diversion"]["hops"][0]["hi"], "1.1");
    assert_eq!(rows[1]["verstat"], "TN-Validation-Passed", "{}", rows[1]);
    assert_eq!(rows[1]["diversion"]["target"], "12125550199");
    assert_eq!(rows[2]["reason"]["id"], "dest-mismatch", "{}", rows[2]);
    assert_eq!(rows[2]["diversion"]["reason"]["id"], "div-target-mismatch");
    assert!(rows[3]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("\"identities\""));
    assert!(rows[4]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("\"requestUri\""));
}
