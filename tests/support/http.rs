//! A tiny HTTP/1.1 server on 127.0.0.1 for the x5u and CRL tests: one thread
//! per connection, replies chosen by path, requests counted per path. Nothing
//! leaves loopback. (The fetch-layer tests have their own async server with
//! TLS in `tests/network/fetch.rs`.)

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the server answers.
#[derive(Clone)]
pub enum Reply {
    /// 200 with this body, `Content-Length` and `Cache-Control: max-age=86400`.
    Ok(Vec<u8>),
    /// 200 with this body and `Content-Type: application/x-pem-file`, no
    /// cache header; without `content_length` the body is close-delimited.
    Pem { body: Vec<u8>, content_length: bool },
    /// This status, empty body.
    Status(u16),
    /// Read the request and never answer (30 s, then close).
    Hang,
    /// Wait, then send the reply.
    Delayed(Duration, Box<Reply>),
    /// Send these bytes one at a time with this pause between them.
    Drip(Vec<u8>, Duration),
    /// The reply when the request carries this header line (e.g.
    /// `Authorization: tok`, compared case-insensitively), else 401.
    Requires(String, Box<Reply>),
}

type Routes = Arc<Mutex<HashMap<String, Reply>>>;

pub struct Server {
    pub port: u16,
    routes: Routes,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    total: Arc<AtomicUsize>,
}

impl Server {
    /// A server that answers 404 except on the paths given to [`Server::route`].
    pub fn start() -> Server {
        Server::with_fallback(Reply::Status(404))
    }

    /// A server that answers every path with `reply`.
    pub fn always(reply: Reply) -> Server {
        Server::with_fallback(reply)
    }

    fn with_fallback(fallback: Reply) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let routes: Routes = Arc::default();
        let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let total = Arc::new(AtomicUsize::new(0));
        let (r, h, t) = (routes.clone(), hits.clone(), total.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (r, h, t, f) = (r.clone(), h.clone(), t.clone(), fallback.clone());
                std::thread::spawn(move || serve(conn, &r, &h, &t, f));
            }
        });
        Server {
            port,
            routes,
            hits,
            total,
        }
    }

    /// Answer `path` with `reply`; returns its URL.
    pub fn route(&self, path: &str, reply: Reply) -> String {
        self.routes.lock().unwrap().insert(path.to_owned(), reply);
        self.url(path)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Requests seen for `path`.
    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    /// Requests seen in all.
    pub fn total(&self) -> usize {
        self.total.load(Ordering::SeqCst)
    }
}

fn serve(
    mut conn: TcpStream,
    routes: &Mutex<HashMap<String, Reply>>,
    hits: &Mutex<HashMap<String, usize>>,
    total: &AtomicUsize,
    fallback: Reply,
) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 64 * 1024 {
            return;
        }
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
    total.fetch_add(1, Ordering::SeqCst);
    *hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    let mut reply = routes
        .lock()
        .unwrap()
        .get(&path)
        .cloned()
        .unwrap_or(fallback);
    loop {
        let (head, body) = match reply {
            Reply::Delayed(d, r) => {
                std::thread::sleep(d);
                reply = *r;
                continue;
            }
            Reply::Requires(line, r) => {
                let wanted = line.to_ascii_lowercase();
                let found = text
                    .lines()
                    .any(|l| l.trim().to_ascii_lowercase() == wanted);
                reply = if found { *r } else { Reply::Status(401) };
                continue;
            }
            Reply::Hang => {
                std::thread::sleep(Duration::from_secs(30));
                return;
            }
            Reply::Drip(bytes, pause) => {
                for b in bytes {
                    if conn.write_all(&[b]).is_err() {
                        return; // the client gave up
                    }
                    std::thread::sleep(pause);
                }
                return;
            }
            Reply::Ok(body) => (
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/pem-certificate-chain\r\n\
                     Content-Length: {}\r\nCache-Control: max-age=86400\r\nConnection: close\r\n\r\n",
                    body.len()
                ),
                body,
            ),
            Reply::Pem {
                body,
                content_length,
            } => {
                let length = if content_length {
                    format!("Content-Length: {}\r\n", body.len())
                } else {
                    String::new()
                };
                (
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/x-pem-file\r\n{length}Connection: close\r\n\r\n"
                    ),
                    body,
                )
            }
            Reply::Status(status) => (
                format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nCache-Control: max-age=86400\r\nConnection: close\r\n\r\n"
                ),
                Vec::new(),
            ),
        };
        let _ = conn.write_all(head.as_bytes());
        let _ = conn.write_all(&body);
        return;
    }
}

/// A loopback port with nothing listening (connection refused).
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
