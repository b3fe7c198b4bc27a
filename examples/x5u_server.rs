//! A tiny loopback x5u server for benchmarks: serves one certificate chain
//! file over plain HTTP on 127.0.0.1 at every path, counts the requests, and
//! prints the count when it is stopped (SIGTERM or Ctrl-C).
//!
//! ```text
//! cargo run --release --example x5u_server -- certs/sp-chain.pem [PORT]
//! listening 127.0.0.1:40123
//! ...
//! requests: 1
//! ```
//!
//! PORT defaults to 0 (any free port); the first line of stdout names the
//! port taken. `bench/compare.sh` uses it to show that a cache miss costs one
//! fetch however many verifications wait for it. Lab use only: it serves the
//! file to anyone who can reach the loopback interface.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

fn main() {
    serve::main();
}

mod serve {
    use axum::http::header;
    use axum::response::IntoResponse;
    use std::io::Write;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    pub fn main() {
        let mut args = std::env::args().skip(1);
        let Some(path) = args.next() else {
            eprintln!("usage: x5u_server CHAIN.pem [PORT]");
            std::process::exit(2);
        };
        let port: u16 = match args.next().map(|p| p.parse()) {
            None => 0,
            Some(Ok(p)) => p,
            Some(Err(e)) => {
                eprintln!("x5u_server: PORT: {e}");
                std::process::exit(2);
            }
        };
        let body = match std::fs::read(&path) {
            Ok(b) => Arc::new(b),
            Err(e) => {
                eprintln!("x5u_server: reading {path}: {e}");
                std::process::exit(2);
            }
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let count = Arc::new(AtomicU64::new(0));
        rt.block_on(run(body, port, count.clone()));
        println!("requests: {}", count.load(Ordering::SeqCst));
    }

    async fn run(body: Arc<Vec<u8>>, port: u16, count: Arc<AtomicU64>) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        println!("listening {addr}");
        std::io::stdout().flush().unwrap();
        let app = axum::Router::new().fallback(move || {
            let body = body.clone();
            let count = count.clone();
            async move {
                count.fetch_add(1, Ordering::SeqCst);
                (
                    [(header::CONTENT_TYPE, "application/pem-certificate-chain")],
                    body.as_ref().clone(),
                )
                    .into_response()
            }
        });
        axum::serve(listener, app)
            .with_graceful_shutdown(stopped())
            .await
            .unwrap();
    }

    /// Resolves on SIGTERM or Ctrl-C.
    async fn stopped() {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
}
