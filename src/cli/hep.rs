//! `shaken verify --hep ADDR`: a HEP v3 (Homer) collector. SBCs and proxies
//! mirror each SIP message to it over UDP (one HEP packet per datagram) or
//! TCP (packets back to back); every INVITE is verified as `--pcap` does,
//! with a summary on stderr (and `--summary-json`, `--report` rewritten)
//! every `--summary-every` seconds, until interrupted or `--max-calls`.

use super::args::VerifyArgs;
use super::calls::Calls;
use super::render::{finish_verify, html_meta, write_report};
use super::setup::build_setup;
use anyhow::{anyhow, Context, Result};
use shaken::capture::{hep, SipMessage};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

/// Decoded messages waiting for the verifier (back-pressure beyond this:
/// UDP datagrams are dropped and counted, TCP readers wait).
const QUEUE: usize = 4096;
/// Most TCP connections at once.
const MAX_CONNECTIONS: usize = 64;
/// A TCP connection silent this long is closed.
const IDLE: Duration = Duration::from_secs(120);

/// What the listener tasks send to the verifier thread.
enum Event {
    Message(SipMessage),
    Problem(String),
    Stop,
}

/// Counters of the listener.
#[derive(Default)]
struct Stats {
    packets: AtomicU64,
    dropped: AtomicU64,
    refused: AtomicU64,
}

/// `shaken verify --hep ADDR`.
pub fn verify(addr: String, a: VerifyArgs) -> Result<i32> {
    let addr: SocketAddr = addr
        .parse()
        .with_context(|| format!("--hep {addr}: expected IP:PORT, e.g. 127.0.0.1:9060"))?;
    let setup = build_setup(&a, true)?;
    let max_message = shaken::capture::CaptureLimits::from(&setup.limits).max_message;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("shaken-hep")
        .enable_all()
        .build()
        .context("starting the HEP listener")?;
    let (tx, rx) = mpsc::sync_channel::<Event>(QUEUE);
    let stats = Arc::new(Stats::default());
    let (udp, tcp) = rt.block_on(bind(addr))?;
    eprintln!(
        "hep: listening on udp {} and tcp {}",
        udp.local_addr()?,
        tcp.local_addr()?
    );
    rt.spawn(udp_loop(udp, tx.clone(), stats.clone(), max_message));
    rt.spawn(tcp_loop(tcp, tx.clone(), stats.clone(), max_message));
    {
        let tx = tx.clone();
        rt.spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                let _ = tx.send(Event::Stop);
            }
        });
    }
    drop(tx);

    let started = Instant::now();
    let stdout = std::io::stdout();
    let mut calls = Calls::new(&setup, &a, std::io::BufWriter::new(stdout.lock()), true)?;
    let every = Duration::from_secs(a.summary_every);
    let mut next = Instant::now() + every;
    let mut n = 0u64;
    loop {
        if a.max_calls.is_some_and(|m| n >= m) {
            break;
        }
        let wait = next.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(Event::Message(m)) => {
                if calls.message(&m)? {
                    n += 1;
                }
            }
            Ok(Event::Problem(p)) => eprintln!("warning: --hep: {p}"),
            Ok(Event::Stop) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {}
        }
        if Instant::now() >= next {
            next = Instant::now() + every;
            periodic(&a, &calls, &stats, started.elapsed())?;
        }
    }
    calls.flush()?;
    rt.shutdown_timeout(Duration::from_secs(1));
    let elapsed = started.elapsed();
    eprint!("{}", calls.summary.text("calls", elapsed));
    eprintln!("{}", stats_line(&stats));
    let Calls {
        summary,
        mut exports,
        ..
    } = calls;
    finish_verify(
        &a,
        &mut exports,
        &summary,
        "shaken verify --hep",
        &format!("HEP on {addr}"),
        elapsed,
        "calls",
    )
}

fn stats_line(s: &Stats) -> String {
    format!(
        "hep: {} packets, {} refused, {} dropped (queue full)",
        s.packets.load(Ordering::Relaxed),
        s.refused.load(Ordering::Relaxed),
        s.dropped.load(Ordering::Relaxed)
    )
}

/// The summary so far: stderr, `--summary-json`, `--report`.
fn periodic<W: std::io::Write>(
    a: &VerifyArgs,
    calls: &Calls<'_, W>,
    stats: &Stats,
    elapsed: Duration,
) -> Result<()> {
    eprint!("{}", calls.summary.text("calls", elapsed));
    eprintln!("{}", stats_line(stats));
    calls.exports.summary(&calls.summary)?;
    write_report(
        a.report.as_deref(),
        &calls.summary,
        &html_meta(a, "shaken verify --hep", "HEP listener", elapsed, "calls"),
    )
}

/// UDP and TCP on the same address (the same port when ADDR's is 0).
async fn bind(addr: SocketAddr) -> Result<(tokio::net::UdpSocket, tokio::net::TcpListener)> {
    let udp = tokio::net::UdpSocket::bind(addr)
        .await
        .with_context(|| format!("--hep {addr}: binding UDP"))?;
    let tcp = tokio::net::TcpListener::bind(udp.local_addr()?)
        .await
        .with_context(|| format!("--hep {addr}: binding TCP"))?;
    Ok((udp, tcp))
}

fn deliver(
    tx: &SyncSender<Event>,
    stats: &Stats,
    r: Result<Option<SipMessage>, shaken::capture::CaptureError>,
) {
    match r {
        Ok(Some(m)) => {
            if tx.try_send(Event::Message(m)).is_err() {
                stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(None) => {}
        Err(e) => {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            let _ = tx.try_send(Event::Problem(e.to_string()));
        }
    }
}

async fn udp_loop(
    sock: tokio::net::UdpSocket,
    tx: SyncSender<Event>,
    stats: Arc<Stats>,
    max_message: usize,
) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok((len, _from)) = sock.recv_from(&mut buf).await else {
            // A socket error (none is expected on an unconnected UDP
            // socket) must not spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let number = stats.packets.fetch_add(1, Ordering::Relaxed) + 1;
        let packet = buf.get(..len).unwrap_or_default();
        deliver(&tx, &stats, hep::decode(packet, number, max_message));
    }
}

async fn tcp_loop(
    listener: tokio::net::TcpListener,
    tx: SyncSender<Event>,
    stats: Arc<Stats>,
    max_message: usize,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok((conn, peer)) = listener.accept().await else {
            // Out of file descriptors, say: wait rather than spin.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            let _ = tx.try_send(Event::Problem(format!(
                "{peer}: more than {MAX_CONNECTIONS} TCP connections; refused"
            )));
            continue;
        };
        let (tx, stats) = (tx.clone(), stats.clone());
        tokio::spawn(async move {
            if let Err(e) = tcp_conn(conn, &tx, &stats, max_message).await {
                let _ = tx.try_send(Event::Problem(format!("{peer}: {e}")));
            }
            drop(permit);
        });
    }
}

/// One TCP connection: HEP packets back to back, each framed by its own
/// length; a stream that loses the framing is closed.
async fn tcp_conn(
    mut conn: tokio::net::TcpStream,
    tx: &SyncSender<Event>,
    stats: &Stats,
    max_message: usize,
) -> Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(70_000);
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let n = match tokio::time::timeout(IDLE, conn.read(&mut chunk)).await {
            Err(_) => return Err(anyhow!("idle for {} s; closed", IDLE.as_secs())),
            Ok(r) => r.context("reading")?,
        };
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        loop {
            let number = stats.packets.load(Ordering::Relaxed) + 1;
            let Some(len) = hep::packet_len(&buf, number).map_err(|e| anyhow!("{e}; closed"))?
            else {
                break;
            };
            if buf.len() < len {
                break;
            }
            let number = stats.packets.fetch_add(1, Ordering::Relaxed) + 1;
            let r = hep::decode(buf.get(..len).unwrap_or_default(), number, max_message);
            buf.drain(..len);
            // A TCP sender waits for the verifier rather than losing calls.
            match r {
                Ok(Some(m)) => {
                    let tx = tx.clone();
                    let sent = tokio::task::spawn_blocking(move || tx.send(Event::Message(m)))
                        .await
                        .map(|r| r.is_ok())
                        .unwrap_or(false);
                    if !sent {
                        return Ok(());
                    }
                }
                other => deliver(tx, stats, other),
            }
        }
    }
}
