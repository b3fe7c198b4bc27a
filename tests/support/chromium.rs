//! Headless Chromium (Debian's `chromium`) for the browser tests
//! (`tests/browser`): the HTML report and the `serve --ui` page. When it is
//! not installed the tests are skipped with a loud message, unless
//! `SHAKEN_REQUIRE_CHROMIUM` is set (`.ci/run` sets it and installs the
//! package): then they fail.
//!
//! Chromium starts with the flags this machine needs (no sandbox as root,
//! no GPU, no background networking, a fresh profile directory) and only
//! ever loads `file://` pages or pages on a loopback server the test started.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The variable that turns a missing `chromium` into a failure.
pub const REQUIRE: &str = "SHAKEN_REQUIRE_CHROMIUM";

/// The browser binary, or `None` (after a loud message) when it is absent
/// and not required.
pub fn find() -> Option<PathBuf> {
    for c in ["chromium", "chromium-browser", "google-chrome"] {
        if Command::new(c)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            return Some(PathBuf::from(c));
        }
    }
    if std::env::var_os(REQUIRE).is_some() {
        panic!("chromium is not installed and {REQUIRE} is set (apt-get install chromium)");
    }
    eprintln!(
        "\n!!!!! SKIPPED: chromium is not installed; the browser tests did not run \
         (apt-get install chromium, or set {REQUIRE}=1 to make this a failure) !!!!!\n"
    );
    None
}

fn base(bin: &Path, profile: &Path) -> Command {
    let mut c = Command::new(bin);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .stdin(Stdio::null());
    c
}

fn run(mut c: Command, what: &str) -> std::process::Output {
    // Bounded: a browser that hangs fails the test instead of stalling CI.
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start chromium for {what}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().expect("wait chromium").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish {what} within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("chromium output")
}

/// The DOM of `url` after its scripts ran (`--dump-dom`), with
/// `budget_ms` of virtual time for timers and fetches to settle.
pub fn dump_dom(bin: &Path, url: &str, budget_ms: u32) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let mut c = base(bin, profile.path());
    c.arg(format!("--virtual-time-budget={budget_ms}"))
        .arg("--dump-dom")
        .arg(url);
    let out = run(c, url);
    assert!(
        out.status.success(),
        "chromium --dump-dom {url} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A PNG screenshot of `url` (`width` x `height`) written to `png`.
pub fn screenshot(bin: &Path, url: &str, png: &Path, width: u32, height: u32, budget_ms: u32) {
    let profile = tempfile::tempdir().expect("profile dir");
    let mut c = base(bin, profile.path());
    c.arg(format!("--virtual-time-budget={budget_ms}"))
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("--screenshot={}", png.display()))
        .arg(url);
    let out = run(c, url);
    assert!(
        out.status.success() && png.exists(),
        "chromium --screenshot {url} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
