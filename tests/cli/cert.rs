//! Certificate trust end to end: openssl-made certificates (tests/data/cert/
//! openssl, made by make.sh there), x5u fetching from a loopback server this
//! test starts, fetch failures, CRLs (file, URL, --fetch-crl, hard/soft
//! policy), `shaken cert inspect` and `shaken cert verify`, and the x5u cache
//! (a thousand verifications, one fetch).
//!
//! Every server listens on 127.0.0.1:0; nothing leaves loopback. The clock is
//! pinned with --now / CallContext::at.

use crate::support::http::{closed_port, Reply, Server};
use crate::support::{bin, test_data};
use serde_json::Value;
use shaken::cert::TrustAnchors;
use shaken::crypto::KeySigner;
use shaken::fetch::FetchOptions;
use shaken::identity::IdentityHeader;
use shaken::online::{chain_cache, OnlineVerifier};
use shaken::passport::{self, Attestation, Claims, Header};
use shaken::pki::{LabPki, LabPkiOptions, LeafOptions};
use shaken::verify::{parse_identity_or_token, CallContext, Verifier};
use shaken::Limits;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// 2030-01-01T00:00:00Z: inside the openssl certificates' 100-year validity.
const NOW: i64 = 1_893_456_000;
const ORIGID: &str = "123e4567-e89b-12d3-a456-426614174000";

fn ossl(name: &str) -> PathBuf {
    test_data("cert/openssl").join(name)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

/// An Identity header signed with `key_pem` at NOW, pointing at `x5u`.
fn identity(key_pem: &str, x5u: &str) -> String {
    let signer = KeySigner::from_pem(key_pem).unwrap();
    let claims = Claims::shaken(
        Attestation::A,
        "12155551212",
        vec!["12155550100".to_owned()],
        NOW,
        ORIGID,
    );
    let token = passport::sign(&Header::shaken(x5u), &claims, &signer).unwrap();
    IdentityHeader::shaken(token, x5u).to_string()
}

// ------------------------------------------------------------ running verify

struct Run {
    code: i32,
    json: Value,
    stderr: String,
}

fn run(args: &[&str]) -> Run {
    let out = bin().args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    Run {
        code: out.status.code().unwrap_or(-1),
        json: serde_json::from_str(stdout.trim()).unwrap_or(Value::Null),
        stderr: String::from_utf8_lossy(&out.stderr).to_string() + &stdout,
    }
}

/// `shaken verify IDENTITY --trust-anchors root.pem --now NOW --format json` plus `extra`.
fn verify(identity: &str, extra: &[&str]) -> Run {
    let root = ossl("root.pem");
    let now = NOW.to_string();
    let mut args = vec![
        "verify",
        identity,
        "--trust-anchors",
        root.to_str().unwrap(),
        "--now",
        &now,
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    run(&args)
}

fn reason(r: &Run) -> (u64, String) {
    let reason = &r.json["reason"];
    (
        reason["code"].as_u64().unwrap_or(0),
        reason["id"].as_str().unwrap_or("").to_owned(),
    )
}

fn assert_passed(r: &Run) {
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json["verstat"], "TN-Validation-Passed", "{}", r.stderr);
}

fn assert_failed(r: &Run, code: u64, id: &str) {
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(reason(r), (code, id.to_owned()), "{}", r.stderr);
}

const LAB: &[&str] = &["--allow-http-x5u", "--allow-private-x5u"];

// ------------------------------------------------------------ openssl certificates

/// (chain file, key file, expected reason id or None for pass, extra flags).
const CASES: &[(&str, &str, Option<&str>)] = &[
    ("good", "good", None),
    ("expired", "expired", Some("cert-expired")),
    ("untrusted", "untrusted", Some("cert-untrusted")),
    ("no-tnal", "no-tnal", Some("cert-missing-tnauthlist")),
    ("bad-ku", "bad-ku", Some("cert-leaf-key-usage")),
    ("revoked", "revoked", Some("cert-revoked")),
];

#[test]
fn openssl_certificates_with_cert_flag() {
    let crl = ossl("crl.pem");
    for (chain, key, want) in CASES {
        let chain_path = ossl(&format!("{chain}-chain.pem"));
        let id = identity(
            &read(&ossl(&format!("{key}.key.pem"))),
            "https://cr.example/sp.pem",
        );
        let r = verify(
            &id,
            &[
                "--cert",
                chain_path.to_str().unwrap(),
                "--crl",
                crl.to_str().unwrap(),
            ],
        );
        match want {
            None => assert_passed(&r),
            Some(w) => {
                assert_failed(&r, 437, w);
                assert_eq!(r.json["verstat"], "TN-Validation-Failed");
            }
        }
    }
}

#[test]
fn openssl_certificates_over_x5u() {
    let server = Server::start();
    let crl = ossl("crl.pem");
    for (chain, key, want) in CASES {
        let url = server.route(
            &format!("/{chain}.pem"),
            Reply::Ok(std::fs::read(ossl(&format!("{chain}-chain.pem"))).unwrap()),
        );
        let id = identity(&read(&ossl(&format!("{key}.key.pem"))), &url);
        let mut extra = LAB.to_vec();
        extra.extend(["--crl", crl.to_str().unwrap()]);
        let r = verify(&id, &extra);
        match want {
            None => assert_passed(&r),
            Some(w) => assert_failed(&r, 437, w),
        }
        assert_eq!(server.hits(&format!("/{chain}.pem")), 1);
    }
}

#[test]
fn x5u_needs_the_lab_flags() {
    // Without --allow-http-x5u / --allow-private-x5u the loopback server is
    // never contacted.
    let server = Server::start();
    let url = server.route(
        "/good.pem",
        Reply::Ok(std::fs::read(ossl("good-chain.pem")).unwrap()),
    );
    let id = identity(&read(&ossl("good.key.pem")), &url);
    let r = verify(&id, &[]);
    assert_failed(&r, 436, "fetch-scheme-not-allowed");
    let r = verify(&id, &["--allow-http-x5u"]);
    assert_failed(&r, 436, "fetch-private-address");
    assert_eq!(server.total(), 0);
}

// ------------------------------------------------------------ fetch failures

#[test]
fn fetch_failures_give_436() {
    let server = Server::start();
    let key = read(&ossl("good.key.pem"));
    let cases: Vec<(String, &str)> = vec![
        (server.url("/missing.pem"), "fetch-http-status"),
        (
            server.route(
                "/garbage.pem",
                Reply::Ok(b"this is not a certificate".to_vec()),
            ),
            "fetch-parse",
        ),
        (
            server.route("/huge.pem", Reply::Ok(vec![b'A'; 70 * 1024])),
            "fetch-too-large",
        ),
        (server.route("/hang.pem", Reply::Hang), "fetch-timeout"),
        (
            format!("http://127.0.0.1:{}/x.pem", closed_port()),
            "fetch-connect",
        ),
    ];
    for (url, want) in cases {
        let id = identity(&key, &url);
        let mut extra = LAB.to_vec();
        extra.extend(["--fetch-timeout-ms", "300"]);
        let r = verify(&id, &extra);
        assert_failed(&r, 436, want);
        let detail = r.json["reason"]["detail"].as_str().unwrap_or("");
        assert!(detail.contains(&url), "{detail}");
        assert_eq!(r.json["verstat"], "No-TN-Validation");
    }
}

// ------------------------------------------------------------ CRLs

#[test]
fn crl_by_url_revokes() {
    let server = Server::start();
    let crl_url = server.route(
        "/crl.pem",
        Reply::Ok(std::fs::read(ossl("crl.pem")).unwrap()),
    );
    let id = identity(&read(&ossl("revoked.key.pem")), "https://cr.example/x.pem");
    let chain = ossl("revoked-chain.pem");
    let mut extra = LAB.to_vec();
    extra.extend(["--cert", chain.to_str().unwrap(), "--crl", &crl_url]);
    assert_failed(&verify(&id, &extra), 437, "cert-revoked");
    assert_eq!(server.hits("/crl.pem"), 1);
    // The good certificate passes with the same CRL, under the hard policy too.
    let id = identity(&read(&ossl("good.key.pem")), "https://cr.example/x.pem");
    let chain = ossl("good-chain.pem");
    let mut extra = LAB.to_vec();
    extra.extend([
        "--cert",
        chain.to_str().unwrap(),
        "--crl",
        &crl_url,
        "--crl-policy",
        "hard",
    ]);
    assert_passed(&verify(&id, &extra));
}

/// A CRL whose issuingDistributionPoint names another URL than the one it was
/// fetched from is refused (hard policy: 437 crl-unavailable naming why).
#[test]
fn crl_from_the_wrong_distribution_point_is_refused() {
    let server = Server::start();
    let pki = lab_pki(&server.url("/right.pem"));
    // The lab STI-PA CRL signer as an rcgen issuer: its key, and its name
    // written as src/pki.rs writes it (CN, O, C as PrintableString).
    let key = rcgen::KeyPair::from_pem(&pki.crl_signer.key_pem).unwrap();
    let mut params = rcgen::CertificateParams::default();
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, shaken::pki::LAB_CRL_SIGNER_CN);
    dn.push(rcgen::DnType::OrganizationName, "Shaken Lab");
    dn.push(
        rcgen::DnType::CountryName,
        rcgen::DnValue::PrintableString(rcgen::PrintableString::try_from("US").unwrap()),
    );
    params.distinguished_name = dn;
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    params.key_usages = vec![rcgen::KeyUsagePurpose::CrlSign];
    let signer = params.self_signed(&key).unwrap();
    let crl_for = |idp: &str| {
        let t = |s: i64| time::OffsetDateTime::from_unix_timestamp(s).unwrap();
        rcgen::CertificateRevocationListParams {
            this_update: t(NOW - 60),
            next_update: t(NOW + 3600),
            crl_number: rcgen::SerialNumber::from(1u64),
            issuing_distribution_point: Some(rcgen::CrlIssuingDistributionPoint {
                distribution_point: rcgen::CrlDistributionPoint {
                    uris: vec![idp.to_owned()],
                },
                scope: None,
            }),
            revoked_certs: vec![],
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        }
        .signed_by(&signer, &key)
        .unwrap()
        .pem()
        .unwrap()
    };
    let wrong = server.route(
        "/wrong.pem",
        Reply::Ok(crl_for(&server.url("/right.pem")).into_bytes()),
    );
    let dir = tempfile::tempdir().unwrap();
    let anchors = dir.path().join("anchors.pem");
    std::fs::write(&anchors, pki.anchors_pem()).unwrap();
    let chain = dir.path().join("chain.pem");
    std::fs::write(&chain, pki.leaf_chain_pem()).unwrap();
    let id = identity(&pki.leaf.key_pem, "https://cr.example/x.pem");
    let now = NOW.to_string();
    let mut args = vec![
        "verify",
        &id,
        "--trust-anchors",
        anchors.to_str().unwrap(),
        "--cert",
        chain.to_str().unwrap(),
        "--now",
        &now,
        "--format",
        "json",
        "--crl",
        &wrong,
        "--crl-policy",
        "hard",
    ];
    args.extend_from_slice(LAB);
    let r = run(&args);
    assert_failed(&r, 437, "crl-unavailable");
    assert!(
        r.json["reason"]["detail"]
            .as_str()
            .unwrap()
            .contains("issuingDistributionPoint"),
        "{}",
        r.stderr
    );
    // Served at the URL it names, the same kind of CRL is accepted.
    let right = server.route(
        "/right.pem",
        Reply::Ok(crl_for(&server.url("/right.pem")).into_bytes()),
    );
    let last = args.len() - LAB.len() - 3;
    args[last] = &right;
    assert_passed(&run(&args));
}

#[test]
fn crl_policy_hard_and_soft_with_unreachable_crl() {
    let id = identity(&read(&ossl("good.key.pem")), "https://cr.example/x.pem");
    let chain = ossl("good-chain.pem");
    let dead = format!("http://127.0.0.1:{}/crl.pem", closed_port());
    let base = |policy: &'static str| {
        let mut v: Vec<String> = LAB.iter().map(|s| s.to_string()).collect();
        v.extend([
            "--cert".into(),
            chain.to_str().unwrap().into(),
            "--crl".into(),
            dead.clone(),
            "--crl-policy".into(),
            policy.into(),
        ]);
        v
    };
    let hard = base("hard");
    let r = verify(&id, &hard.iter().map(String::as_str).collect::<Vec<_>>());
    assert_failed(&r, 437, "crl-unavailable");
    let detail = r.json["reason"]["detail"].as_str().unwrap();
    assert!(
        detail.contains(&dead) && detail.contains("fetch-connect"),
        "{detail}"
    );
    let soft = base("soft");
    let r = verify(&id, &soft.iter().map(String::as_str).collect::<Vec<_>>());
    assert_passed(&r);
    let warnings = r.json["warnings"].to_string();
    assert!(warnings.contains(&dead), "{warnings}");
}

/// A lab PKI whose CDP points at `crl_url`, its leaf revoked or not.
fn lab_pki(crl_url: &str) -> LabPki {
    let mut o = LabPkiOptions::new(NOW - 86_400, NOW + 365 * 86_400);
    o.crl_url = crl_url.to_owned();
    LabPki::generate(&o).unwrap()
}

#[test]
fn fetch_crl_follows_the_distribution_point() {
    let server = Server::start();
    let crl_url = server.url("/lab-crl.pem");
    let pki = lab_pki(&crl_url);
    let mut lo = LeafOptions::new(NOW - 86_400, NOW + 86_400);
    lo.serial = Some(0x1122_3344_5566_7788);
    let revoked = pki.issue_leaf(&lo).unwrap();
    server.route(
        "/lab-crl.pem",
        Reply::Ok(
            pki.issue_crl(&[0x1122_3344_5566_7788], NOW - 60, NOW + 86_400)
                .unwrap()
                .into_bytes(),
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    // The root and the lab STI-PA CRL signer, which signs the indirect CRL.
    let root = dir.path().join("anchors.pem");
    std::fs::write(&root, pki.anchors_pem()).unwrap();
    let now = NOW.to_string();
    let check = |leaf: &shaken::pki::Issued, path: &str| {
        let x5u = server.route(
            path,
            Reply::Ok(format!("{}{}", leaf.cert_pem, pki.ca.cert_pem).into_bytes()),
        );
        let id = identity(&leaf.key_pem, &x5u);
        let mut args = vec![
            "verify",
            &id,
            "--trust-anchors",
            root.to_str().unwrap(),
            "--now",
            &now,
            "--format",
            "json",
            "--fetch-crl",
        ];
        args.extend_from_slice(LAB);
        run(&args)
    };
    assert_failed(&check(&revoked, "/revoked.pem"), 437, "cert-revoked");
    assert_passed(&check(&pki.leaf, "/good.pem"));
    // Two verifications, two processes: one CRL fetch each.
    assert_eq!(server.hits("/lab-crl.pem"), 2);
}

/// With no trust anchor configured nothing can pass: 437, and the
/// stranger's x5u is not even fetched. The library's detail is neutral (no
/// flag names); the CLI's text output says which flag to pass.
#[test]
fn no_anchor_no_fetch() {
    let server = Server::start();
    let x5u = server.route(
        "/sp.pem",
        Reply::Ok(std::fs::read(ossl("good-chain.pem")).unwrap()),
    );
    let id = identity(&read(&ossl("good.key.pem")), &x5u);
    let now = NOW.to_string();
    let mut args = vec!["verify", &id, "--now", &now, "--format", "json"];
    args.extend_from_slice(LAB);
    let r = run(&args);
    assert_failed(&r, 437, "no-trust-anchors");
    assert!(
        r.json["reason"]["detail"]
            .as_str()
            .unwrap()
            .contains("no trust anchors configured"),
        "{}",
        r.stderr
    );
    // The text output names the flag (the CLI's advice for 437).
    let mut args = vec!["verify", &id, "--now", &now];
    args.extend_from_slice(LAB);
    let r = run(&args);
    assert!(r.stderr.contains("--trust-anchors"), "{}", r.stderr);
    assert_eq!(server.hits("/sp.pem"), 0);
}

/// The distribution points of a chain that leads to no trust anchor are a
/// stranger's URLs: `--fetch-crl` fetches nothing for it.
#[test]
fn fetch_crl_never_follows_an_untrusted_chain() {
    let server = Server::start();
    let crl_url = server.url("/stranger-crl.pem");
    let stranger = lab_pki(&crl_url);
    server.route(
        "/stranger-crl.pem",
        Reply::Ok(
            stranger
                .issue_crl(&[], NOW - 60, NOW + 86_400)
                .unwrap()
                .into_bytes(),
        ),
    );
    let x5u = server.route(
        "/stranger.pem",
        Reply::Ok(stranger.leaf_chain_pem().into_bytes()),
    );
    let ours = lab_pki("http://127.0.0.1:9/crl.pem");
    let dir = tempfile::tempdir().unwrap();
    let anchors = dir.path().join("anchors.pem");
    std::fs::write(&anchors, ours.anchors_pem()).unwrap();
    let id = identity(&stranger.leaf.key_pem, &x5u);
    let now = NOW.to_string();
    let mut args = vec![
        "verify",
        &id,
        "--trust-anchors",
        anchors.to_str().unwrap(),
        "--now",
        &now,
        "--format",
        "json",
        "--fetch-crl",
    ];
    args.extend_from_slice(LAB);
    assert_failed(&run(&args), 437, "cert-untrusted");
    assert_eq!(server.hits("/stranger.pem"), 1);
    assert_eq!(server.hits("/stranger-crl.pem"), 0);
}

/// `--fetch-crl` also applies to `verify --sip` (and `--pcap`, which shares
/// the path): the chain comes from x5u, the CRL from its distribution point.
#[test]
fn fetch_crl_applies_to_sip_messages() {
    let server = Server::start();
    let crl_url = server.url("/sip-crl.pem");
    let pki = lab_pki(&crl_url);
    let mut lo = LeafOptions::new(NOW - 86_400, NOW + 86_400);
    lo.serial = Some(0x0bad_cafe_0bad_cafe);
    let revoked = pki.issue_leaf(&lo).unwrap();
    server.route(
        "/sip-crl.pem",
        Reply::Ok(
            pki.issue_crl(&[0x0bad_cafe_0bad_cafe], NOW - 60, NOW + 86_400)
                .unwrap()
                .into_bytes(),
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let anchors = dir.path().join("anchors.pem");
    std::fs::write(&anchors, pki.anchors_pem()).unwrap();
    let invite = "INVITE sip:+12125550143@example.net SIP/2.0\r\n\
        Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\n\
        From: <tel:+12155550121>;tag=1\r\n\
        To: <tel:+12125550143>\r\n\
        Call-ID: crl-test@127.0.0.1\r\n\
        CSeq: 1 INVITE\r\n\
        Content-Length: 0\r\n\r\n";
    let req =
        shaken::sip::SipRequest::parse(invite.as_bytes(), &shaken::Limits::default()).unwrap();
    let now = NOW.to_string();
    let check = |leaf: &shaken::pki::Issued, path: &str| {
        let x5u = server.route(
            path,
            Reply::Ok(format!("{}{}", leaf.cert_pem, pki.ca.cert_pem).into_bytes()),
        );
        let signer = shaken::crypto::KeySigner::from_pem(&leaf.key_pem).unwrap();
        let signed = shaken::sip_verify::sign_request(
            &req,
            &signer,
            &x5u,
            shaken::passport::Attestation::A,
            NOW,
            "123e4567-e89b-12d3-a456-426655440000",
            &shaken::tn::TnPolicy::default(),
        )
        .unwrap();
        let file = dir
            .path()
            .join(format!("{}.sip", path.trim_start_matches('/')));
        std::fs::write(&file, signed).unwrap();
        let mut args = vec![
            "verify",
            "--sip",
            file.to_str().unwrap(),
            "--trust-anchors",
            anchors.to_str().unwrap(),
            "--now",
            &now,
            "--format",
            "json",
            "--fetch-crl",
        ];
        args.extend_from_slice(LAB);
        run(&args)
    };
    assert_failed(&check(&revoked, "/sip-revoked.pem"), 437, "cert-revoked");
    assert_passed(&check(&pki.leaf, "/sip-good.pem"));
    assert_eq!(server.hits("/sip-crl.pem"), 2);
}

// ------------------------------------------------------------ the x5u cache

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_verifications_fetch_once() {
    let server = Server::start();
    let url = server.route(
        "/good.pem",
        Reply::Ok(std::fs::read(ossl("good-chain.pem")).unwrap()),
    );
    let mut anchors = TrustAnchors::new();
    anchors.add_pem(read(&ossl("root.pem")).as_bytes()).unwrap();
    let verifier = Arc::new(Verifier::new(anchors));
    let cache = chain_cache(FetchOptions {
        allow_http: true,
        allow_private: true,
        ..FetchOptions::default()
    })
    .unwrap();
    let online = OnlineVerifier::new(verifier, Arc::new(cache));
    let value = identity(&read(&ossl("good.key.pem")), &url);
    let id = parse_identity_or_token(&value, &Limits::default()).unwrap();
    let ctx = CallContext::at(NOW);
    for _ in 0..1000 {
        let v = online.verify(&id, &ctx).await.unwrap();
        assert_eq!(v.chain().spc(), Some("7E57"));
    }
    assert_eq!(server.hits("/good.pem"), 1);
    assert_eq!(online.cache().stats().fetches, 1);
}

// ------------------------------------------------------------ shaken cert

#[test]
fn cert_inspect_decodes_the_openssl_tnauthlist() {
    let chain = ossl("good-chain.pem");
    let r = run(&["cert", "inspect", chain.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("TNAuthList    SPC 7E57"), "{}", r.stderr);
    assert!(r.stderr.contains("ATIS-1000080 v005 lint"), "{}", r.stderr);
    let r = run(&[
        "cert",
        "inspect",
        chain.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let certs = r.json["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 2);
    assert_eq!(certs[0]["role"], "end-entity");
    assert_eq!(certs[0]["tn_auth_list"]["entries"][0]["spc"], "7E57");
    assert_eq!(certs[0]["policies"][0], "2.16.840.1.114569.1.1.4");
    assert_eq!(
        certs[0]["crl_distribution_points"][0]["url"],
        "http://127.0.0.1/crl.pem"
    );
    assert_eq!(certs[1]["role"], "intermediate");
    assert_eq!(certs[1]["tn_auth_list"], Value::Null);
    let lint = r.json["lint"].as_array().unwrap();
    // openssl's CDP has no cRLIssuer (v004+), and the CAs carry cRLSign.
    assert!(lint
        .iter()
        .any(|f| f["code"] == "e_cdp_no_crl_issuer" && f["cert"] == 0 && f["severity"] == "error"));
    for f in lint {
        assert!(f["code"].is_string() && f["message"].is_string() && f["cert"].is_u64());
    }
}

#[test]
fn cert_inspect_lints_and_reads_stdin_and_urls() {
    let no_tnal = std::fs::read(ossl("no-tnal.pem")).unwrap();
    let mut child = bin()
        .args(["cert", "inspect", "-", "--format", "json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&no_tnal).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["lint"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["code"] == "e_ee_tnauthlist_missing"));

    let server = Server::start();
    let url = server.route(
        "/good.pem",
        Reply::Ok(std::fs::read(ossl("good-chain.pem")).unwrap()),
    );
    let mut args = vec!["cert", "inspect", url.as_str(), "--format", "json"];
    args.extend_from_slice(LAB);
    let r = run(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.json["certificates"][0]["tn_auth_list"]["entries"][0]["spc"],
        "7E57"
    );
    // Without the lab flags the URL is refused: unreadable input, exit 2.
    let r = run(&["cert", "inspect", url.as_str()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    // Garbage and missing files are unreadable too.
    let r = run(&["cert", "inspect", ossl("openssl.cnf").to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = run(&["cert", "inspect", "/nonexistent/chain.pem"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn cert_verify_says_why() {
    let root = ossl("root.pem");
    let crl = ossl("crl.pem");
    let now = NOW.to_string();
    let cv = |chain: &str, extra: &[&str]| {
        let chain = ossl(&format!("{chain}-chain.pem"));
        let mut args = vec![
            "cert",
            "verify",
            chain.to_str().unwrap(),
            "--trust-anchors",
            root.to_str().unwrap(),
            "--now",
            &now,
            "--crl",
            crl.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let owned: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        run(&owned.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let r = cv("good", &["--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json["valid"], true);
    assert_eq!(r.json["spc"], "7E57");
    for (chain, code) in [
        ("expired", "cert-expired"),
        ("untrusted", "cert-untrusted"),
        ("no-tnal", "cert-missing-tnauthlist"),
        ("bad-ku", "cert-leaf-key-usage"),
        ("revoked", "cert-revoked"),
    ] {
        let r = cv(chain, &["--format", "json"]);
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert_eq!(r.json["valid"], false);
        assert_eq!(r.json["code"], code);
        assert_eq!(r.json["sip_code"], 437);
        assert!(r.json["detail"].as_str().unwrap().contains("SHAKEN 7E57"));
    }
    let r = cv("revoked", &[]);
    assert!(
        r.stderr.contains("INVALID") && r.stderr.contains("cert-revoked"),
        "{}",
        r.stderr
    );
    // Usage errors: exit 2.
    let r = run(&["cert", "verify", "/nonexistent/chain.pem", "--now", &now]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = run(&["cert", "verify"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}
