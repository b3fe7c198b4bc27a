//! The `serve --ui` page in headless Chromium (issue 20): a `shaken serve
//! --ui` started here on 127.0.0.1 with the committed lab certificates,
//! pages opened through `#identity=` links (`--dump-dom` after the page's
//! script ran and its call to the service came back), and a screenshot.

use crate::support::{bin, certs, chromium, crafted, header};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

/// The time the sample inputs were signed (examples/data/README.md).
const SIGNED_AT: i64 = 1_800_000_000;
/// Virtual time for the page's script and its fetch to finish.
const BUDGET_MS: u32 = 5_000;

struct Serve {
    child: Child,
    addr: SocketAddr,
}

impl Serve {
    fn start(extra: &[&str]) -> Serve {
        let mut child = bin()
            .args(["serve", "--ui", "--listen", "127.0.0.1:0"])
            .args(["--now", &SIGNED_AT.to_string()])
            .args(["--cert", &certs("sp-chain.pem")])
            .args(["--trust-anchors", &certs("root.pem")])
            .args(extra)
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
                _ => panic!("shaken serve --ui did not start: {seen:?}"),
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
        Serve { child, addr }
    }

    fn url(&self, fragment: &str) -> String {
        format!("http://{}/{fragment}", self.addr)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `#identity=VALUE`, percent-encoded as a ticket system would.
fn link(value: &str) -> String {
    let mut s = String::from("#identity=");
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            s.push(char::from(b));
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// The identities of examples/data/verify.jsonl: a pass, a spoofed calling
/// number, a token altered after signing.
fn sample(n: usize) -> String {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/data/verify.jsonl"),
    )
    .unwrap();
    let line: serde_json::Value = serde_json::from_str(text.lines().nth(n).unwrap()).unwrap();
    line["identity"].as_str().unwrap().to_owned()
}

/// The text of the page's result area (after `id="status"`), tags removed.
fn shown(dom: &str) -> String {
    let from = dom
        .find("id=\"status\"")
        .unwrap_or_else(|| panic!("not the page: {dom}"));
    let mut out = String::new();
    let mut in_tag = false;
    for c in dom[from..].chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn assert_shows(text: &str, want: &[&str]) {
    for w in want {
        assert!(text.contains(w), "the page does not show {w:?}:\n{text}");
    }
}

#[test]
fn a_ticket_link_shows_the_verdict_the_claims_and_the_chain() {
    let Some(chrome) = chromium::find() else {
        return;
    };
    let srv = Serve::start(&[]);
    let dom = chromium::dump_dom(&chrome, &srv.url(&link(&sample(0))), BUDGET_MS);
    let text = shown(&dom);
    assert_shows(
        &text,
        &[
            "Passed TN-Validation-Passed",
            "Attestation A, full attestation",
            "Signer: CN=SHAKEN 1234, O=Shaken Lab, C=US (SPC 1234)",
            "Checked at 2027-01-15T08:00:00Z",
            // The decoded PASSporT: header and claims.
            "x5u https://cr.example.net/sp.pem",
            "12155550121",
            "12125550143",
            "iat (UTC) 2027-01-15T08:00:00Z",
            "origid de305d54-75b4-431b-adb2-eb6b9e546014",
            // The chain and its lint.
            "[0] end-entity: CN=SHAKEN 1234",
            "[1] intermediate: CN=SHAKEN Lab STI-CA",
            "TNAuthList SPC 1234",
            "Lint (ATIS-1000080): no findings.",
        ],
    );
    // The form was filled from the link, and the page links to its verdict.
    assert!(dom.contains("id=\"permalink\""), "{dom}");
    assert!(dom.contains(&link(&sample(0))), "no link back to the check");
    assert!(!text.contains("Reason:"), "{text}");
    assert_shows(&text, &["Give the calling and called numbers above"]);
    // Every member of today's report has its place on the page.
    assert!(!text.contains("More from the verifier"), "{text}");
}

#[test]
fn a_failure_shows_its_reason_and_what_to_do() {
    let Some(chrome) = chromium::find() else {
        return;
    };
    let srv = Serve::start(&[]);
    let text = shown(&chromium::dump_dom(
        &chrome,
        &srv.url(&link(&sample(2))),
        BUDGET_MS,
    ));
    assert_shows(
        &text,
        &[
            "Failed TN-Validation-Failed",
            "Reason: 438 Invalid Identity Header signature-invalid",
            "Claimed (not verified) attestation A",
            "Certificate examined: CN=SHAKEN 1234",
            "What to do: The signature does not match",
            "[0] end-entity: CN=SHAKEN 1234",
        ],
    );
    // A spoofed calling number shows once the link carries the call's numbers.
    let spoofed = format!("{}&orig=12155550199&dest=12125550143", link(&sample(1)));
    let dom = chromium::dump_dom(&chrome, &srv.url(&spoofed), BUDGET_MS);
    assert_shows(
        &shown(&dom),
        &[
            "No validation No-TN-Validation",
            "orig-mismatch",
            "What to do: The calling number in the call is not the one that was signed",
        ],
    );
    assert!(
        dom.contains("&amp;orig=12155550199&amp;dest=12125550143"),
        "the link drops the numbers"
    );
    // The ATIS-1000082 request the page offers to send is one the service
    // answers with the same verdict.
    let atis = atis_request(&dom);
    assert_eq!(atis["verificationRequest"]["from"]["tn"], "12155550199");
    assert_eq!(atis["verificationRequest"]["time"], SIGNED_AT);
    let answer = post_json(srv.addr, "/stir/v1/verification", &atis.to_string());
    assert_eq!(
        answer["verificationResponse"]["reasonid"], "orig-mismatch",
        "{answer}"
    );
    // Not an Identity value at all: the verdict, why, and no chain.
    let text = shown(&chromium::dump_dom(
        &chrome,
        &srv.url(&link("this is no PASSporT")),
        BUDGET_MS,
    ));
    assert_shows(
        &text,
        &[
            "No validation No-TN-Validation",
            "identity-malformed",
            "Cannot decode:",
            "What to do:",
            "No certificate was obtained",
        ],
    );
}

#[test]
fn bad_links_and_refusals_are_said_on_the_page() {
    let Some(chrome) = chromium::find() else {
        return;
    };
    let srv = Serve::start(&[]);
    let text = shown(&chromium::dump_dom(
        &chrome,
        &srv.url("#identity=%E0%A4%A"),
        BUDGET_MS,
    ));
    assert_shows(&text, &["is not valid percent-encoding"]);
    let text = shown(&chromium::dump_dom(
        &chrome,
        &srv.url("#value=x"),
        BUDGET_MS,
    ));
    assert_shows(&text, &["is not #identity=VALUE"]);
    // The service wants a key the page has not got: said, with what to do.
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.txt");
    std::fs::write(&keys, "browser-test-key-0123456789\n").unwrap();
    let keyed = Serve::start(&["--api-keys", keys.to_str().unwrap()]);
    let text = shown(&chromium::dump_dom(
        &chrome,
        &keyed.url(&link(&sample(0))),
        BUDGET_MS,
    ));
    assert_shows(&text, &["This service needs an API key (POL4001)"]);
    assert!(!text.contains("TN-Validation-Passed"), "{text}");
}

#[test]
fn unknown_claims_are_shown_and_markup_in_them_stays_text() {
    let Some(chrome) = chromium::find() else {
        return;
    };
    let srv = Serve::start(&[]);
    let payload = format!(
        r#"{{"attest":"A","dest":{{"tn":["12125550143"]}},"iat":{SIGNED_AT},"orig":{{"tn":"12155550121"}},"origid":"123e4567-e89b-12d3-a456-426655440000","nickname":"<img id=pwned src=x onerror=alert(1)>"}}"#
    );
    let value = crafted(&header(), &payload);
    let dom = chromium::dump_dom(&chrome, &srv.url(&link(&value)), BUDGET_MS);
    let text = shown(&dom);
    assert_shows(&text, &["nickname", "TN-Validation"]);
    // The claim is on the page as text: escaped in the DOM, no element made.
    assert!(
        dom.contains("&lt;img id=pwned src=x onerror=alert(1)&gt;"),
        "{dom}"
    );
    assert!(
        !dom.contains("<img id=\"pwned\""),
        "markup from a claim became an element"
    );
}

/// The JSON of the page's `<pre id="atis-request">`.
fn atis_request(dom: &str) -> serde_json::Value {
    let start = dom
        .find("id=\"atis-request\">")
        .unwrap_or_else(|| panic!("no ATIS request on the page: {dom}"));
    let rest = &dom[start + "id=\"atis-request\">".len()..];
    let text = &rest[..rest.find("</pre>").unwrap()];
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// POST a JSON body to the service (HTTP/1.1, `Connection: close`).
fn post_json(addr: SocketAddr, path: &str, body: &str) -> serde_json::Value {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (_, body) = out.split_once("\r\n\r\n").unwrap();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// The summed length of a PNG's IDAT chunks and its (width, height): how
/// much picture there is, without a PNG decoder.
fn png_stats(png: &Path) -> (usize, u32, u32) {
    let bytes = std::fs::read(png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let mut at = 8;
    let (mut idat, mut w, mut h) = (0, 0, 0);
    while at + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let kind = &bytes[at + 4..at + 8];
        let data = &bytes[at + 8..(at + 8 + len).min(bytes.len())];
        if kind == b"IHDR" {
            w = u32::from_be_bytes(data[0..4].try_into().unwrap());
            h = u32::from_be_bytes(data[4..8].try_into().unwrap());
        } else if kind == b"IDAT" {
            idat += len;
        }
        at += 12 + len;
    }
    (idat, w, h)
}

#[test]
fn the_verdict_page_renders_something_to_see() {
    let Some(chrome) = chromium::find() else {
        return;
    };
    let srv = Serve::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("verdict.png");
    let blank = dir.path().join("blank.png");
    chromium::screenshot(
        &chrome,
        &srv.url(&link(&sample(1))),
        &page,
        1100,
        1400,
        BUDGET_MS,
    );
    chromium::screenshot(&chrome, "about:blank", &blank, 1100, 1400, 500);
    let (page_bytes, w, h) = png_stats(&page);
    let (blank_bytes, _, _) = png_stats(&blank);
    assert_eq!((w, h), (1100, 1400));
    // A page of text, tables and coloured boxes compresses far worse than
    // an empty one.
    assert!(
        page_bytes > 10 * blank_bytes.max(1) && page_bytes > 20_000,
        "the screenshot looks blank: {page_bytes} bytes of image data, an empty page has {blank_bytes}"
    );
}
