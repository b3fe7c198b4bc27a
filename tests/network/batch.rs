//! `shaken verify --batch` fetching `x5u` from a loopback server. The batch
//! verifies a chunk of lines in stages (every line up to its signature, the
//! signatures together, then each line's end in input order); a line whose
//! certificate is not cached yet is verified whole in its turn. These tests
//! hold the verdicts to those of line by line: one fetch per URL, replay
//! settled in input order within a chunk, and across chunks with one job.

use crate::serve::{verification_request, Lab, NOW};
use crate::support::bin;
use crate::support::http::{Reply, Server};
use serde_json::Value;

fn origid(n: u32) -> String {
    format!("de305d54-75b4-431b-adb2-{n:012}")
}

/// The token with a character inside its signature changed (not the
/// last one, whose trailing bits must stay zero): still canonical
/// base64url, no longer the signer's signature.
fn forged(identity: &str) -> String {
    let (token, params) = identity.split_once(';').unwrap();
    let mut t = token.as_bytes().to_vec();
    let at = t.len() - 10;
    t[at] = if t[at] == b'A' { b'B' } else { b'A' };
    format!("{};{params}", String::from_utf8(t).unwrap())
}

fn run_batch(lab: &Lab, lines: &[String], jobs: &str) -> (Vec<Value>, String) {
    let path = lab.write("calls.jsonl", &(lines.join("\n") + "\n"));
    let out = bin()
        .args(["verify", "--batch", &path, "--jobs", jobs])
        .args(["--trust-anchors", &lab.path("root.pem")])
        .args(["--allow-http-x5u", "--allow-private-x5u"])
        .args(["--now", &NOW.to_string()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (lines, stderr)
}

#[test]
fn a_fetching_batch_fetches_once_per_url_and_settles_replay_in_input_order() {
    let lab = Lab::new();
    let chain = lab.pki.leaf_chain_pem().into_bytes();
    let srv = Server::start();
    let sp = srv.route("/sp.pem", Reply::Ok(chain.clone()));
    let other = srv.route("/other.pem", Reply::Ok(chain));
    let gone = srv.url("/gone.pem");
    let request = |id: &str, time: i64| verification_request(id, time).to_string();
    // 300 calls by one signer: the first chunk (256 lines) meets the
    // certificate uncached, the second finds it cached.
    let ids: Vec<String> = (0..300)
        .map(|n| lab.identity(&sp, NOW, &origid(n)))
        .collect();
    let mut lines: Vec<String> = ids.iter().map(|id| request(id, NOW)).collect();
    let other_id = lab.identity(&other, NOW, &origid(900));
    lines.extend([
        request(&ids[0], NOW + 1),          // 301: line 1's PASSporT, another call
        request(&ids[1], NOW),              // 302: line 2 again, the same call
        request(&forged(&ids[4]), NOW + 2), // 303: a forged signature
        request(&other_id, NOW),            // 304: another URL, not cached
        request(&other_id, NOW + 3),        // 305: line 304's, another call
        request(&lab.identity(&gone, NOW, &origid(901)), NOW), // 306: 404
        request(&ids[10], NOW + 4),         // 307: line 11's, another call
    ]);
    // And a replay inside the first chunk, of a line also not yet cached
    // when the chunk was staged.
    lines[200] = request(&ids[100], NOW + 5);
    // And one inside the second chunk, both lines staged to the signature.
    lines[289] = request(&ids[270], NOW + 6);
    for jobs in ["1", "2"] {
        let (out, stderr) = run_batch(&lab, &lines, jobs);
        assert_eq!(out.len(), 307, "--jobs {jobs}: {stderr}");
        let id = |i: usize| {
            out[i - 1]["reason"]["id"]
                .as_str()
                .unwrap_or("-")
                .to_owned()
        };
        // Lines 1 and 11 have their replays (301, 307) in the second chunk:
        // with one job they are settled in input order; two jobs verify
        // the two chunks at once, and then exactly one of each pair is the
        // replay, whichever was recorded first.
        let across = [(1, 301), (11, 307)];
        for (first, copy) in across {
            let replays = [id(first), id(copy)]
                .iter()
                .filter(|r| *r == "replay")
                .count();
            assert_eq!(
                replays,
                1,
                "--jobs {jobs}: {} / {}",
                out[first - 1],
                out[copy - 1]
            );
            if jobs == "1" {
                assert_eq!(id(copy), "replay", "--jobs 1: {}", out[copy - 1]);
            }
        }
        for (i, line) in out.iter().enumerate().take(300) {
            if [200, 289, 0, 10].contains(&i) {
                continue;
            }
            assert_eq!(
                line["verstat"],
                "TN-Validation-Passed",
                "--jobs {jobs} line {}: {line}",
                i + 1
            );
        }
        assert_eq!(id(201), "replay", "--jobs {jobs}: {}", out[200]);
        assert_eq!(id(290), "replay", "--jobs {jobs}: {}", out[289]);
        assert_eq!(
            out[301]["verstat"], "TN-Validation-Passed",
            "--jobs {jobs}: {}",
            out[301]
        );
        assert_eq!(id(303), "signature-invalid", "--jobs {jobs}: {}", out[302]);
        assert_eq!(
            out[303]["verstat"], "TN-Validation-Passed",
            "--jobs {jobs}: {}",
            out[303]
        );
        assert_eq!(id(305), "replay", "--jobs {jobs}: {}", out[304]);
        assert_eq!(id(306), "fetch-http-status", "--jobs {jobs}: {}", out[305]);
        for (i, line) in out.iter().enumerate() {
            assert_eq!(line["line"], i + 1, "{line}");
        }
    }
    // One fetch per URL and run (each run has its own cache), the missing
    // one tried once a run too.
    assert_eq!((srv.hits("/sp.pem"), srv.hits("/other.pem")), (2, 2));
}
