//! Every ```sh block of README.md and docs/*.md runs as written, in order,
//! with `shaken` on PATH, from a directory that holds the repository's
//! `certs/`, `examples/` and `tests/` (as a fresh clone does). A block whose
//! first line is `# needs: ...` needs something else (a running service, a
//! C compiler, jq) and says how; it is skipped, as are `cargo ...` lines.
//! Output shown in a document is a ```console block (not run) or a comment.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The runnable ```sh blocks of a Markdown text: (line number, script).
fn sh_blocks(markdown: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, Vec<&str>)> = None;
    for (i, line) in markdown.lines().enumerate() {
        match &mut current {
            None if line.trim_start().starts_with("```sh") => current = Some((i + 1, Vec::new())),
            None => {}
            Some((start, lines)) if line.trim_start().starts_with("```") => {
                let first = lines.iter().find(|l| !l.trim().is_empty());
                if !first.is_some_and(|l| l.trim_start().starts_with("# needs:")) {
                    out.push((*start, runnable(lines)));
                }
                current = None;
            }
            Some((_, lines)) => lines.push(line),
        }
    }
    assert!(current.is_none(), "an unclosed ``` block");
    out
}

/// Whether a command line runs `cargo` (after any `NAME=value` settings).
fn is_cargo(line: &str) -> bool {
    line.split_whitespace()
        .find(|w| !(w.contains('=') && w.chars().next().is_some_and(|c| c.is_ascii_uppercase())))
        == Some("cargo")
}

/// A block without its `cargo` commands (and their continuation lines).
fn runnable(lines: &[&str]) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for l in lines {
        let continued = l.trim_end().ends_with('\\');
        if skipping || is_cargo(l) {
            skipping = continued;
            continue;
        }
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// A fresh directory that looks like a clone: the committed inputs the
/// examples name, and nothing the examples wrote before.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for d in ["certs", "examples", "tests", "include", "docs"] {
        std::os::unix::fs::symlink(root.join(d), dir.path().join(d)).unwrap();
    }
    dir
}

fn run_document(rel: &str) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join(rel)).unwrap();
    let blocks = sh_blocks(&text);
    let mut script = String::from("set -euo pipefail\n");
    for (line, body) in &blocks {
        script.push_str(&format!("echo '>>> {rel}:{line}' >&2\n{body}"));
    }
    let dir = workdir();
    let shaken_dir: PathBuf = Path::new(env!("CARGO_BIN_EXE_shaken"))
        .parent()
        .unwrap()
        .to_owned();
    let path = format!(
        "{}:{}",
        shaken_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .env("PATH", path)
        .env_remove("SHAKEN_TRUST_ANCHORS")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A hang is a failure too.
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let failed_at = stderr
        .lines()
        .filter_map(|l| l.strip_prefix(">>> "))
        .next_back()
        .unwrap_or("(before the first block)")
        .to_owned();
    match status {
        Some(s) if s.success() => blocks.len(),
        Some(s) => panic!(
            "the ```sh block at {failed_at} failed ({s}):\n--- stderr\n{stderr}\n--- stdout\n{stdout}"
        ),
        None => panic!("the ```sh block at {failed_at} did not finish in 120 s:\n{stderr}"),
    }
}

#[test]
fn readme_examples_run_as_written() {
    assert!(run_document("README.md") >= 5);
}

#[test]
fn docs_examples_run_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut docs: Vec<String> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.ends_with(".md").then(|| format!("docs/{name}"))
        })
        .collect();
    docs.sort();
    assert!(!docs.is_empty());
    for d in docs {
        run_document(&d);
    }
}

#[test]
fn the_block_reader_skips_what_it_should() {
    let md = "text\n```sh\ncargo build \\\n  --release\nX_SHOW=1 cargo test\nshaken --version\n```\n```sh\n# needs: a running service\nshaken serve\n```\n```console\n$ shaken x\n```\n";
    let blocks = sh_blocks(md);
    assert_eq!(blocks, vec![(2, "shaken --version\n".to_owned())]);
}
