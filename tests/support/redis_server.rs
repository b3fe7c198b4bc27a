//! A real `redis-server` for the fleet tests, started here on a free
//! loopback port (`--bind 127.0.0.1 --save '' --appendonly no`, no disk
//! state), killed when dropped. When `redis-server` is not installed the
//! tests are skipped with a loud message, unless `SHAKEN_REQUIRE_REDIS` is
//! set (`.ci/run` sets it and installs the package): then they fail.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The variable that turns a missing `redis-server` into a failure.
pub const REQUIRE: &str = "SHAKEN_REQUIRE_REDIS";

pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    extra: Vec<String>,
}

fn installed() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl RedisServer {
    /// A fresh server, or `None` (after a loud message) when `redis-server`
    /// is absent and not required.
    pub fn start() -> Option<RedisServer> {
        Self::start_with(&[])
    }

    /// With extra arguments (`--requirepass`, ...).
    pub fn start_with(extra: &[&str]) -> Option<RedisServer> {
        if !installed() {
            if std::env::var_os(REQUIRE).is_some() {
                panic!("redis-server is not installed and {REQUIRE} is set (apt-get install redis-server)");
            }
            eprintln!(
                "\n!!!!! SKIPPED: redis-server is not installed; the fleet tests did not run \
                 (apt-get install redis-server, or set {REQUIRE}=1 to make this a failure) !!!!!\n"
            );
            return None;
        }
        let mut s = RedisServer {
            child: None,
            port: free_port(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        s.restart();
        Some(s)
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kill the server (SIGKILL: no goodbye to the clients).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start it (again) on the same port, empty, and wait until it accepts.
    pub fn restart(&mut self) {
        self.kill();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--enable-debug-command", "yes", "--protected-mode", "no"])
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A client connection (with `password` when the server wants one).
    pub fn client(&self, password: Option<&str>) -> redis::Connection {
        let url = match password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{}", self.port),
            None => self.url(),
        };
        redis::Client::open(url)
            .unwrap()
            .get_connection_with_timeout(Duration::from_secs(5))
            .unwrap()
    }

    /// The keys under a prefix.
    pub fn keys(&self, pattern: &str) -> Vec<String> {
        redis::cmd("KEYS")
            .arg(pattern)
            .query(&mut self.client(None))
            .unwrap()
    }

    /// Make the server sleep for `secs` (it answers nobody meanwhile), from
    /// a thread of its own; returns at once.
    pub fn sleep_in_background(&self, secs: f64) -> std::thread::JoinHandle<()> {
        let mut c = self.client(None);
        std::thread::spawn(move || {
            let _: redis::RedisResult<()> =
                redis::cmd("DEBUG").arg("SLEEP").arg(secs).query(&mut c);
        })
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
