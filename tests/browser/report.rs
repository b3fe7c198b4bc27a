//! The HTML report in headless Chromium (issue 20): a report of mixed calls
//! (passed, spoofed calling number, unsigned, tampered, several peers and
//! minutes) made by the real binary, then rendered: every chart is an
//! inline SVG that lays out with a non-zero size, the page loads nothing
//! from outside, and its screenshot is not blank.

use crate::support::chromium;
use crate::support::{bin, LabDir};
use serde_json::{json, Value};
use std::path::Path;

const NOW: i64 = 1_800_000_000;
const ORIG: &str = "12155550121";
const DEST: &str = "12125550143";
const X5U: &str = "https://cr.example.net/sp.pem";

/// Signed Identity values (attestation A, B, C) from `shaken sign --batch`.
fn identities(lab: &LabDir) -> Vec<String> {
    let input: String = ["A", "B", "C"]
        .iter()
        .map(|a| {
            format!(
                "{}\n",
                json!({"attest": a, "orig": {"tn": ORIG}, "dest": {"tn": [DEST]}, "iat": NOW})
            )
        })
        .collect();
    let path = lab.write("sign.jsonl", &input);
    let o = bin()
        .args([
            "sign",
            "--key",
            &lab.path("key.pem"),
            "--x5u",
            X5U,
            "--batch",
            &path,
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["identity"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// A report of 300 mixed calls, written by `verify --batch --report`.
fn make_report(lab: &LabDir) -> String {
    let ids = identities(lab);
    let mut lines = Vec::new();
    for i in 0..300usize {
        let id = &ids[i % 3];
        let peer = ["sbc-east", "sbc-west", "peer-c"][i % 3];
        let t = [NOW - 40, NOW, NOW + 50][i / 100];
        let mut v = json!({"from": {"tn": ORIG}, "to": {"tn": [DEST]}, "time": t, "identity": id, "peer": peer});
        match i % 7 {
            0 => {
                v.as_object_mut().unwrap().remove("identity");
            }
            1 => v["from"]["tn"] = json!("12025550199"),
            2 => {
                let mut parts: Vec<String> = id.splitn(3, '.').map(str::to_owned).collect();
                parts[2].replace_range(0..4, "AAAA");
                v["identity"] = json!(parts.join("."));
            }
            _ => {}
        }
        lines.push(v.to_string());
    }
    lines.push("{not json".into());
    let input = lab.write("calls.jsonl", &lines.join("\n"));
    let report = lab.path("report.html");
    let o = bin()
        .args([
            "verify",
            "--cert",
            &lab.path("chain.pem"),
            "--trust-anchors",
            &lab.path("root.pem"),
        ])
        .args([
            "--now",
            &NOW.to_string(),
            "--no-replay",
            "--batch",
            &input,
            "--report",
            &report,
        ])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    report
}

/// Measures every SVG after layout and writes the sizes into the page (a
/// test-only copy of the report; the report itself has no script).
const MEASURE: &str = r#"<script>
const out = [...document.querySelectorAll('svg')].map(s => {
  const r = s.getBoundingClientRect();
  const marks = [...s.querySelectorAll('rect')].filter(x => x.getBoundingClientRect().width > 0).length;
  return {cls: s.getAttribute('class'), w: r.width, h: r.height, marks};
});
const pre = document.createElement('pre');
pre.id = 'measure';
pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
</script></body>"#;

fn file_url(p: &str) -> String {
    format!("file://{}", Path::new(p).canonicalize().unwrap().display())
}

#[test]
fn report_charts_render_in_chromium() {
    let Some(chrome) = chromium::find() else {
        return;
    };
    let lab = LabDir::new(NOW);
    let report = make_report(&lab);
    let html = std::fs::read_to_string(&report).unwrap();
    // Self-contained: nothing to load, no script.
    // (The SVG namespace is a name, not a resource.)
    let stripped = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    for banned in [
        "<script", "<link", " src=", "http://", "https://", "@import", "url(",
    ] {
        assert!(!stripped.contains(banned), "the report contains {banned:?}");
    }
    for section in [
        "glance",
        "attestation",
        "time",
        "peers",
        "signers",
        "spoofed",
        "resigned",
        "badcert",
        "run",
    ] {
        assert!(
            html.contains(&format!("id=\"{section}\"")),
            "no {section} section"
        );
    }

    // The DOM after layout: every chart has a size and marks.
    let measured = lab.write("measured.html", &html.replace("</body>", MEASURE));
    let dom = chromium::dump_dom(&chrome, &file_url(&measured), 2000);
    let start = dom
        .find("<pre id=\"measure\">")
        .expect("the measuring script ran")
        + 18;
    let end = start + dom[start..].find("</pre>").unwrap();
    let svgs: Vec<Value> = serde_json::from_str(&dom[start..end].replace("&quot;", "\"")).unwrap();
    let classes: Vec<&str> = svgs
        .iter()
        .map(|s| s["cls"].as_str().unwrap_or(""))
        .collect();
    for want in ["share", "split", "timeline", "bars"] {
        assert!(classes.contains(&want), "no {want} chart in {classes:?}");
    }
    for s in &svgs {
        assert!(
            s["w"].as_f64().unwrap() > 50.0 && s["h"].as_f64().unwrap() > 10.0,
            "{s}"
        );
        assert!(
            s["marks"].as_u64().unwrap() > 0,
            "a chart without a visible bar: {s}"
        );
    }
    let timeline = svgs.iter().find(|s| s["cls"] == "timeline").unwrap();
    assert!(timeline["marks"].as_u64().unwrap() >= 3, "{timeline}");
    // The page as rendered names the attributed signer and the spoofed number.
    let plain = chromium::dump_dom(&chrome, &file_url(&report), 500);
    assert!(plain.contains("12025550199"));
    assert!(plain.contains("orig-mismatch"));
    assert!(plain.contains("sbc-west"));
    assert!(plain.contains("<td>made by</td><td>shaken "));

    // A screenshot that is not blank: far more detail than an empty page's.
    let png = Path::new(&lab.path("report.png")).to_owned();
    chromium::screenshot(&chrome, &file_url(&report), &png, 1100, 2400, 500);
    let blank = lab.write("blank.html", "<!DOCTYPE html><html><body></body></html>");
    let blank_png = Path::new(&lab.path("blank.png")).to_owned();
    chromium::screenshot(&chrome, &file_url(&blank), &blank_png, 1100, 2400, 500);
    let (shot, empty) = (
        std::fs::metadata(&png).unwrap().len(),
        std::fs::metadata(&blank_png).unwrap().len(),
    );
    assert!(
        shot > 10 * empty && shot > 30_000,
        "screenshot {shot} bytes, blank page {empty}"
    );
}
