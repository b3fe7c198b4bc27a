//! Helpers shared by the integration-test binaries (`tests/cli`,
//! `tests/network`, `tests/library`): running the `shaken` binary, the
//! committed test data, a lab PKI in a temporary directory, crafted tokens
//! and a loopback HTTP server ([`http`]).
//!
//! Each binary uses a part of this module, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod chromium;
pub mod http;
pub mod redis_server;
pub mod tls;

use serde_json::Value;
use shaken::b64;
use shaken::crypto::{KeySigner, Signer};
use shaken::pki::{LabPki, LabPkiOptions};
use std::ffi::OsStr;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// The x5u the lab tokens name (never fetched: `--cert` gives the chain).
pub const X5U: &str = "https://cr.example.net/sp.pem";
/// The calling and called numbers of the crafted lab tokens.
pub const ORIG: &str = "12155550121";
pub const DEST: &str = "12125550143";
pub const ORIGID: &str = "123e4567-e89b-12d3-a456-426655440000";

// ------------------------------------------------------------- the binary

/// The `shaken` binary, with `SHAKEN_TRUST_ANCHORS` removed so the caller's
/// environment cannot change a result.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_shaken"));
    c.env_remove("SHAKEN_TRUST_ANCHORS");
    c
}

/// Run `shaken ARGS` with no stdin and collect its output.
pub fn shaken<S: AsRef<OsStr>>(args: &[S]) -> Output {
    bin().args(args).output().unwrap()
}

/// Run `shaken ARGS`, feeding `stdin` (if any) from a thread so a child that
/// writes before it has read everything cannot deadlock the test.
pub fn run_with_stdin<S: AsRef<OsStr>>(args: &[S], stdin: Option<&[u8]>) -> Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.unwrap_or_default().to_vec();
    let feeder = std::thread::spawn(move || {
        // The child may stop reading early: a broken pipe is fine.
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    out
}

/// Stdout as UTF-8.
pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// Stdout as JSON Lines.
pub fn json_lines(o: &Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

// ------------------------------------------------------------- test data

/// A file of the committed lab PKI in `certs/` (see certs/README.md).
pub fn certs(f: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("certs")
        .join(f)
        .to_string_lossy()
        .into_owned()
}

/// A path under `tests/data/`.
pub fn test_data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

/// A fresh lab PKI (valid from a day before `now` for a year) written to a
/// temporary directory as `root.pem`, `chain.pem` (leaf + CA) and `key.pem`.
pub struct LabDir {
    pub dir: tempfile::TempDir,
    pub pki: LabPki,
}

impl LabDir {
    pub fn new(now: i64) -> LabDir {
        let pki = LabPki::generate(&LabPkiOptions::new(now - 86_400, now + 86_400 * 365)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("root.pem"), &pki.root.cert_pem).unwrap();
        std::fs::write(dir.path().join("chain.pem"), pki.leaf_chain_pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), &pki.leaf.key_pem).unwrap();
        LabDir { dir, pki }
    }
    pub fn path(&self, f: &str) -> String {
        self.dir.path().join(f).to_string_lossy().into_owned()
    }
    /// Write `text` to `f` in the directory; returns its path.
    pub fn write(&self, f: &str, text: &str) -> String {
        std::fs::write(self.dir.path().join(f), text).unwrap();
        self.path(f)
    }
}

// ------------------------------------------------------------- crafted tokens

/// The committed lab SP key (`certs/sp.key.pem`).
pub fn lab_signer() -> KeySigner {
    KeySigner::from_pem(&std::fs::read_to_string(certs("sp.key.pem")).unwrap()).unwrap()
}

/// `b64(header).b64(payload).b64(sig)` with a valid lab signature over
/// exactly these bytes, whatever they are.
pub fn token(header: &[u8], payload: &[u8]) -> String {
    let input = format!("{}.{}", b64::encode(header), b64::encode(payload));
    let sig = lab_signer().sign_es256(input.as_bytes()).unwrap();
    format!("{input}.{}", b64::encode(&sig))
}

/// The Identity header value for `token` with the lab [`X5U`].
pub fn identity(token: &str) -> String {
    format!("{token};info=<{X5U}>;alg=ES256;ppt=shaken")
}

/// The PASSporT header JSON naming `x5u`.
pub fn header_with(x5u: &str) -> String {
    format!(r#"{{"alg":"ES256","ppt":"shaken","typ":"passport","x5u":"{x5u}"}}"#)
}

/// The PASSporT header JSON naming the lab [`X5U`].
pub fn header() -> String {
    header_with(X5U)
}

/// The SHAKEN claims JSON, `iat` written as given (raw JSON text).
pub fn payload_iat(iat: &str) -> String {
    format!(
        r#"{{"attest":"A","dest":{{"tn":["{DEST}"]}},"iat":{iat},"orig":{{"tn":"{ORIG}"}},"origid":"{ORIGID}"}}"#
    )
}

/// An Identity header value for header and payload given as JSON text,
/// signed by the lab key.
pub fn crafted(header: &str, payload: &str) -> String {
    identity(&token(header.as_bytes(), payload.as_bytes()))
}
