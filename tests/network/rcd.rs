//! Rich Call Data content fetched from loopback servers (issue 16): `sign
//! --rcdi` digests what the URLs serve, `verify --fetch-rcd` checks it;
//! content that changes, is too big, redirects or times out leaves the RCD
//! unverified and the call's verdict alone. Fetching happens only when
//! asked, and never beyond one level.

use crate::support::http::{Reply, Server};
use crate::support::{certs, shaken, stdout, DEST, ORIG, ORIGID, X5U};
use std::time::Duration;

const NOW: &str = "1800000000";
const LAB: &[&str] = &["--allow-http-x5u", "--allow-private-x5u"];

fn sign(extra: &[&str]) -> std::process::Output {
    let key = certs("sp.key.pem");
    let mut a = vec![
        "sign",
        "--key",
        &key,
        "--x5u",
        X5U,
        "--orig",
        ORIG,
        "--dest",
        DEST,
        "--attest",
        "A",
        "--iat",
        NOW,
        "--origid",
        ORIGID,
        "--deterministic",
    ];
    a.extend_from_slice(extra);
    shaken(&a)
}

fn verify_json(id: &str, extra: &[&str]) -> serde_json::Value {
    let (chain, root) = (certs("sp-chain.pem"), certs("root.pem"));
    let mut a = vec![
        "verify",
        id,
        "--cert",
        &chain,
        "--trust-anchors",
        &root,
        "--now",
        NOW,
        "--orig",
        ORIG,
        "--dest",
        DEST,
        "--format",
        "json",
    ];
    a.extend_from_slice(extra);
    let o = shaken(&a);
    // The call's verdict never depends on the RCD content.
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn jcard(photo: &str, logo: &str) -> Vec<u8> {
    format!(
        r#"["vcard",[["version",{{}},"text","4.0"],["fn",{{}},"text","Acme Bank"],["photo",{{}},"uri","{photo}"],["logo",{{}},"uri","{logo}"]]]"#
    )
    .into_bytes()
}

#[test]
fn digests_over_fetched_content_verify_and_catch_a_change() {
    let srv = Server::start();
    let icn = srv.route("/acme.png", Reply::Ok(b"\x89PNG logo v1".to_vec()));
    let photo = srv.route("/photo.png", Reply::Ok(b"\x89PNG photo".to_vec()));
    let logo = srv.url("/logo.png");
    let jcl = srv.route("/acme.json", Reply::Ok(jcard(&photo, &logo)));
    // The logo in the jCard is served by nobody yet (404): signing with
    // digests refuses, naming the pointer.
    let o = sign(
        &[
            &[
                "--rcd-nam",
                "Acme Bank",
                "--rcd-icn",
                &icn,
                "--rcd-jcl",
                &jcl,
                "--rcdi",
            ],
            LAB,
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/jcl/1/3/3"));
    srv.route("/logo.png", Reply::Ok(b"\x89PNG small logo".to_vec()));
    let o = sign(
        &[
            &[
                "--rcd-nam",
                "Acme Bank",
                "--rcd-icn",
                &icn,
                "--rcd-jcl",
                &jcl,
                "--rcdi",
            ],
            LAB,
        ]
        .concat(),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let id_full = stdout(&o).trim().to_owned();
    let decoded = shaken(&["decode", &id_full]);
    let d: serde_json::Value = serde_json::from_slice(&decoded.stdout).unwrap();
    let rcdi = d["claims"]["rcdi"].as_object().unwrap();
    let keys: Vec<&str> = rcdi.keys().map(String::as_str).collect();
    assert_eq!(keys, ["/icn", "/jcl", "/jcl/1/2/3", "/jcl/1/3/3", "/nam"]);
    assert!(
        rcdi.values()
            .all(|v| v.as_str().unwrap().starts_with("sha256-")
                && !v.as_str().unwrap().ends_with('='))
    );

    // Not asked to fetch: nothing is fetched, the digests are unverified.
    let before = srv.total();
    let j = verify_json(&id_full, &[]);
    assert_eq!(srv.total(), before, "fetched without --fetch-rcd");
    assert_eq!(j["rcd"]["verified"], false);
    assert_eq!(j["rcd"]["integrity"]["/icn"], "unverified");
    assert_eq!(j["rcd"]["integrity"]["/nam"], "verified");

    // Asked: every digest checks out.
    let j = verify_json(&id_full, &[&["--fetch-rcd"], LAB].concat());
    assert_eq!(j["rcd"]["verified"], true, "{}", j["rcd"]);
    for k in &keys {
        assert_eq!(j["rcd"]["integrity"][k], "verified", "{k}");
    }
    assert_eq!(
        srv.hits("/acme.json"),
        3,
        "jCard: twice signing, once verifying"
    );

    // The logo changes after signing: that content is untrusted, the call is not.
    srv.route("/acme.png", Reply::Ok(b"\x89PNG logo v2".to_vec()));
    let j = verify_json(&id_full, &[&["--fetch-rcd"], LAB].concat());
    assert_eq!(j["verstat"], "TN-Validation-Passed");
    assert_eq!(j["rcd"]["verified"], false);
    assert_eq!(j["rcd"]["integrity"]["/icn"], "mismatch");
    assert_eq!(j["rcd"]["integrity"]["/jcl"], "verified");
    assert!(j["rcd"]["reason"]
        .as_str()
        .unwrap()
        .contains("changed since signing"));

    // https only by default: the same run without the lab switches fetches nothing.
    let before = srv.total();
    let j = verify_json(&id_full, &["--fetch-rcd"]);
    assert_eq!(srv.total(), before);
    assert_eq!(j["rcd"]["integrity"]["/icn"], "unverified");
}

/// Too big, a redirect, a timeout, a server error: unverified, with the
/// reason; the call still passes.
#[test]
fn content_that_cannot_be_had_is_unverified() {
    let srv = Server::start();
    let icn = srv.route("/logo.png", Reply::Ok(b"logo".to_vec()));
    let o = sign(
        &[
            &["--rcd-nam", "Acme Bank", "--rcd-icn", &icn, "--rcdi"],
            LAB,
        ]
        .concat(),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let id = stdout(&o).trim().to_owned();
    for (reply, words) in [
        (Reply::Ok(vec![b'x'; 600 * 1024]), "limit"),
        (Reply::Status(302), "redirect"),
        (Reply::Status(500), "500"),
        (Reply::Hang, "time"),
    ] {
        srv.route("/logo.png", reply);
        let j = verify_json(
            &id,
            &[&["--fetch-rcd", "--fetch-timeout-ms", "300"], LAB].concat(),
        );
        assert_eq!(j["verstat"], "TN-Validation-Passed");
        let rcd = &j["rcd"];
        assert_eq!(rcd["verified"], false, "{words}");
        assert_eq!(rcd["integrity"]["/icn"], "unverified", "{words}");
        let reason = rcd["reason"].as_str().unwrap().to_ascii_lowercase();
        assert!(reason.contains(words), "{words}: {reason}");
    }
    // Signing refuses content it cannot digest.
    srv.route(
        "/logo.png",
        Reply::Delayed(Duration::from_millis(10), Box::new(Reply::Status(302))),
    );
    let o = sign(
        &[
            &["--rcd-nam", "Acme Bank", "--rcd-icn", &icn, "--rcdi"],
            LAB,
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(2));
}
