//! `shaken verify --pcap`: captures written by the test itself (pcap and
//! pcapng; UDP over IPv4 and IPv6, an INVITE split over TCP segments) with
//! signed, unsigned and tampered calls.

use crate::support::{certs, json_lines, shaken, LabDir};
use etherparse::{IpFragOffset, IpNumber, Ipv4Header, PacketBuilder, UdpHeader};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock;
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;
use serde_json::Value;
use shaken::capture::{CaptureLimits, CaptureReader};
use shaken::crypto::DeterministicSigner;
use shaken::identity::IdentityHeader;
use shaken::passport::{self, Attestation, Claims, Header};
use std::borrow::Cow;
use std::process::Output;
use std::time::Duration;

const T: i64 = 1_800_000_000;
const X5U: &str = "https://cr.example.net/sp.pem";
const ORIG: &str = "+12155550121";
const DEST: &str = "+12125550143";

/// The lab PKI in a temporary directory; signs with and verifies by the binary.
struct Lab(LabDir);

impl std::ops::Deref for Lab {
    type Target = LabDir;
    fn deref(&self) -> &LabDir {
        &self.0
    }
}

impl Lab {
    fn new() -> Lab {
        Lab(LabDir::new(T))
    }
    fn sign(&self, attest: &str, iat: i64) -> String {
        let o = shaken(&[
            "sign",
            "--key",
            &self.path("key.pem"),
            "--x5u",
            X5U,
            "--orig",
            ORIG,
            "--dest",
            DEST,
            "--attest",
            attest,
            "--iat",
            &iat.to_string(),
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap().trim().to_owned()
    }
    fn verify(&self, capture: &str, extra: &[&str]) -> Output {
        let mut args = vec![
            "verify".to_owned(),
            "--cert".into(),
            self.path("chain.pem"),
            "--trust-anchors".into(),
            self.path("root.pem"),
            "--pcap".into(),
            capture.to_owned(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        shaken(&args)
    }
}

fn invite(call_id: &str, from: &str, identity: Option<&str>) -> Vec<u8> {
    let mut m = format!(
        "INVITE sip:{DEST}@example.net SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-{call_id}\r\n\
         Max-Forwards: 70\r\n\
         From: {from};tag=1928301774\r\n\
         To: <sip:{DEST}@example.net>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 314159 INVITE\r\n\
         Contact: <sip:{ORIG}@192.0.2.1>\r\n"
    );
    if let Some(id) = identity {
        m.push_str(&format!("Identity: {id}\r\n"));
    }
    let body = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n";
    m.push_str(&format!(
        "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    m.into_bytes()
}

fn udp4(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2([1; 6], [2; 6])
        .ipv4([192, 0, 2, 1], [198, 51, 100, 2], 64)
        .udp(5060, 5060)
        .write(&mut out, payload)
        .unwrap();
    out
}

fn udp6(payload: &[u8]) -> Vec<u8> {
    let mut src = [0u8; 16];
    src[0] = 0x20;
    src[1] = 0x01;
    src[2] = 0x0d;
    src[3] = 0xb8;
    src[15] = 1;
    let mut dst = src;
    dst[15] = 2;
    let mut out = Vec::new();
    PacketBuilder::ethernet2([1; 6], [2; 6])
        .ipv6(src, dst, 64)
        .udp(5060, 5060)
        .write(&mut out, payload)
        .unwrap();
    out
}

fn tcp4(seq: u32, payload: &[u8], syn: bool) -> Vec<u8> {
    let mut b = PacketBuilder::ethernet2([1; 6], [2; 6])
        .ipv4([192, 0, 2, 7], [198, 51, 100, 2], 64)
        .tcp(40000, 5060, seq, 65535);
    if syn {
        b = b.syn();
    }
    let mut out = Vec::new();
    b.write(&mut out, payload).unwrap();
    out
}

/// The frames of the test capture, with their times.
fn frames(lab: &Lab) -> Vec<(i64, Vec<u8>)> {
    let signed_a = lab.sign("A", T);
    let signed_b = lab.sign("B", T + 1);
    // Tampered: the attestation is changed after signing.
    let c = lab.sign("C", T + 3);
    let mut parts: Vec<String> = c.splitn(3, '.').map(str::to_owned).collect();
    let claims = String::from_utf8(shaken::b64::decode(&parts[1]).unwrap()).unwrap();
    parts[1] = shaken::b64::encode(claims.replace("\"C\"", "\"A\"").as_bytes());
    let tampered = parts.join(".");
    let from_ok = format!("<sip:{ORIG}@example.com>");
    let a = invite("call-a@test", &from_ok, Some(&signed_a));
    let b = invite("call-b@test", &from_ok, Some(&signed_b));
    let (b1, rest) = b.split_at(200);
    let (b2, b3) = rest.split_at(300);
    let unsigned = invite(
        "call-u@test",
        "\"<script>alert(1)</script>\" <sip:alice&bob@evil.example>",
        None,
    );
    let evil = invite("call-x<script>@test", &from_ok, Some(&tampered));
    vec![
        (T, udp4(&a)),
        (T, udp4(b"\r\n\r\n")), // keep-alive, not SIP
        (T + 1, tcp4(999, b"", true)),
        (T + 1, tcp4(1000, b1, false)),
        (T + 1, tcp4(1000 + 200 + 300, b3, false)), // out of order
        (T + 2, tcp4(1000 + 200, b2, false)),
        (T + 2, udp4(&a)), // retransmission of call A: not a new call
        (T + 2, udp6(&unsigned)),
        (T + 3, udp4(&evil)),
    ]
}

fn write_pcap(path: &str, frames: &[(i64, Vec<u8>)]) {
    std::fs::write(path, pcap_bytes(DataLink::ETHERNET, frames)).unwrap();
}

fn write_pcapng(path: &str, frames: &[(i64, Vec<u8>)]) {
    std::fs::write(path, pcapng_bytes(DataLink::ETHERNET, frames)).unwrap();
}

/// A pcap file (microseconds, little-endian) of `frames` on `link`.
fn pcap_bytes(link: DataLink, frames: &[(i64, Vec<u8>)]) -> Vec<u8> {
    let header = PcapHeader {
        datalink: link,
        endianness: pcap_file::Endianness::Little,
        ..PcapHeader::default()
    };
    let mut w = PcapWriter::with_header(Vec::new(), header).unwrap();
    for (t, f) in frames {
        let ts = Duration::new(*t as u64, 250_000_000);
        w.write_packet(&PcapPacket::new(ts, f.len() as u32, f))
            .unwrap();
    }
    w.into_writer()
}

/// A pcapng file of `frames` on one interface of type `link`.
fn pcapng_bytes(link: DataLink, frames: &[(i64, Vec<u8>)]) -> Vec<u8> {
    let mut w = PcapNgWriter::new(Vec::new()).unwrap();
    w.write_pcapng_block(InterfaceDescriptionBlock {
        linktype: link,
        snaplen: 0,
        options: vec![],
    })
    .unwrap();
    for (t, f) in frames {
        // Default if_tsresol: microseconds. pcap-file writes the raw count.
        let micros = (*t as u64) * 1_000_000 + 250_000;
        w.write_pcapng_block(EnhancedPacketBlock {
            interface_id: 0,
            timestamp: Duration::from_nanos(micros),
            original_len: f.len() as u32,
            data: Cow::Borrowed(f),
            options: vec![],
        })
        .unwrap();
    }
    w.into_inner()
}

fn rows(o: &Output) -> Vec<Value> {
    json_lines(o)
}

fn check_rows(rows: &[Value]) {
    let ids: Vec<&str> = rows
        .iter()
        .map(|r| r["call_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![
            "call-a@test",
            "call-b@test",
            "call-u@test",
            "call-x<script>@test"
        ]
    );
    assert_eq!(rows[0]["verstat"], "TN-Validation-Passed", "{}", rows[0]);
    assert_eq!(rows[0]["attest"], "A");
    assert_eq!(rows[0]["transport"], "udp");
    assert_eq!(rows[0]["time"], "2027-01-15T08:00:00Z");
    assert_eq!(rows[0]["packet"], 1);
    assert_eq!(rows[1]["verstat"], "TN-Validation-Passed", "{}", rows[1]);
    assert_eq!(rows[1]["attest"], "B");
    assert_eq!(rows[1]["transport"], "tcp");
    assert_eq!(rows[1]["packet"], 6);
    assert_eq!(rows[2]["verstat"], "No-TN-Validation");
    assert_eq!(rows[2]["reason"]["code"], 428);
    assert!(rows[2]["src"]
        .as_str()
        .unwrap()
        .starts_with("[2001:db8::1]"));
    assert_eq!(rows[3]["verstat"], "TN-Validation-Failed", "{}", rows[3]);
    assert_eq!(rows[3]["reason"]["id"], "signature-invalid");
}

#[test]
fn pcap_with_signed_unsigned_and_tampered_calls() {
    let lab = Lab::new();
    let f = frames(&lab);
    let path = lab.path("calls.pcap");
    write_pcap(&path, &f);
    let report = lab.path("calls.html");
    let o = lab.verify(&path, &["--format", "json", "--report", &report]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    check_rows(&rows(&o));
    assert!(
        stderr.contains("4 calls, 2 passed, 2 not passed (1 unsigned, 0 malformed)"),
        "{stderr}"
    );
    assert!(stderr.contains("9 packets"), "{stderr}");

    // The HTML report: the numbers, and a stranger's <script> escaped.
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("<b class=\"\">4</b>calls · 100.0%"), "{html}");
    assert!(
        html.contains("<b class=\"\">1</b>unsigned · 25.0%"),
        "{html}"
    );
    assert!(html.contains("<td>TN-Validation-Passed</td><td>2</td><td>50.0%</td>"));
    assert!(html.contains("<td>TN-Validation-Failed</td><td>1</td><td>25.0%</td>"));
    assert!(html.contains("<td>No-TN-Validation</td><td>1</td><td>25.0%</td>"));
    assert!(html.contains("<td>no-identity</td><td>1</td>"), "{html}");
    assert!(
        html.contains("<td>signature-invalid</td><td>1</td>"),
        "{html}"
    );
    // The tampered call is not attributed (its signature did not verify),
    // so the signer has the two calls that passed.
    assert!(
        html.contains("<td>1234</td><td>CN=SHAKEN 1234, O=Shaken Lab, C=US</td><td>yes</td><td>2</td><td>0</td>"),
        "{html}"
    );
    assert!(
        html.contains(
            "<td>12155550121</td><td>1</td><td>signature-invalid (1)</td><td>unknown (1)</td>"
        ),
        "{html}"
    );
    assert!(!html.contains("<script"), "{html}");
}

#[test]
fn pcapng_gives_the_same_rows_and_text_table() {
    let lab = Lab::new();
    let f = frames(&lab);
    let path = lab.path("calls.pcapng");
    write_pcapng(&path, &f);
    let o = lab.verify(&path, &["--format", "json"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    check_rows(&rows(&o));

    let o = lab.verify(&path, &[]);
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "time\tcall-id\tfrom\tto\tattest\tverstat\treason");
    assert_eq!(lines.len(), 5, "{text}");
    assert_eq!(
        lines[1],
        format!("2027-01-15T08:00:00Z\tcall-a@test\tsip:{ORIG}@example.com\tsip:{DEST}@example.net\tA\tTN-Validation-Passed\t-")
    );
    assert!(
        lines[3].ends_with("\t-\tNo-TN-Validation\t428 no-identity"),
        "{text}"
    );
    assert!(
        lines[4].ends_with("\tA\tTN-Validation-Failed\t438 signature-invalid"),
        "{text}"
    );
}

#[test]
fn now_overrides_the_capture_time() {
    let lab = Lab::new();
    let f = frames(&lab);
    let path = lab.path("calls.pcap");
    write_pcap(&path, &f);
    let later = (T + 3600).to_string();
    let o = lab.verify(&path, &["--format", "json", "--now", &later]);
    let r = rows(&o);
    assert_eq!(r[0]["reason"]["id"], "iat-stale", "{}", r[0]);
}

#[test]
fn not_a_capture_is_exit_2() {
    let lab = Lab::new();
    let path = lab.path("x.pcap");
    std::fs::write(&path, b"this is not a capture").unwrap();
    let o = lab.verify(&path, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a pcap or pcapng"));
    let o = lab.verify(&lab.path("missing.pcap"), &[]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn truncated_capture_keeps_the_calls_before() {
    let lab = Lab::new();
    let f = frames(&lab);
    let path = lab.path("calls.pcap");
    write_pcap(&path, &f);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.truncate(bytes.len() - 50);
    std::fs::write(&path, &bytes).unwrap();
    let o = lab.verify(&path, &["--format", "json"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("warning"), "{stderr}");
    assert_eq!(rows(&o).len(), 3, "{stderr}");
}

// ------------------------------------------------------------- fuzz seeds

/// An INVITE signed with the committed lab key (`certs/sp.key.pem`) by the
/// library's deterministic signer: the same bytes on every run.
fn deterministic_invite(call_id: &str, attest: Attestation, iat: i64) -> Vec<u8> {
    let key = std::fs::read_to_string(certs("sp.key.pem")).unwrap();
    let signer = DeterministicSigner::from_pem(&key).unwrap();
    let claims = Claims::shaken(
        attest,
        ORIG.trim_start_matches('+'),
        vec![DEST.trim_start_matches('+').to_owned()],
        iat,
        "123e4567-e89b-12d3-a456-426614174000",
    );
    let token = passport::sign(&Header::shaken(X5U), &claims, &signer).unwrap();
    let identity = IdentityHeader::shaken(token, X5U).to_string();
    invite(
        call_id,
        &format!("<sip:{ORIG}@example.com>"),
        Some(&identity),
    )
}

/// Raw IPv4 (link type RAW) fragments of one UDP datagram, 256 bytes of IP
/// payload each.
fn ipv4_udp_fragments(payload: &[u8]) -> Vec<Vec<u8>> {
    let mut ip_payload = UdpHeader::without_ipv4_checksum(5060, 5060, payload.len())
        .unwrap()
        .to_bytes()
        .to_vec();
    ip_payload.extend_from_slice(payload);
    let chunks: Vec<&[u8]> = ip_payload.chunks(256).collect();
    let last = chunks.len() - 1;
    chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            let mut h = Ipv4Header::new(
                chunk.len() as u16,
                64,
                IpNumber::UDP,
                [192, 0, 2, 9],
                [198, 51, 100, 2],
            )
            .unwrap();
            h.identification = 0x5348;
            h.more_fragments = i != last;
            h.fragment_offset = IpFragOffset::try_new((i * 256 / 8) as u16).unwrap();
            h.header_checksum = h.calc_header_checksum();
            let mut out = h.to_bytes().to_vec();
            out.extend_from_slice(chunk);
            out
        })
        .collect()
}

/// The seeds of the `pcap` fuzz target: (file name, bytes, INVITEs in it).
fn fuzz_seeds() -> Vec<(&'static str, Vec<u8>, usize)> {
    let a = deterministic_invite("seed-a@test", Attestation::A, T);
    let b = deterministic_invite("seed-b@test", Attestation::B, T + 1);
    let (b1, rest) = b.split_at(200);
    let (b2, b3) = rest.split_at(300);
    let unsigned = invite("seed-u@test", &format!("<sip:{ORIG}@example.com>"), None);
    let fragments = ipv4_udp_fragments(&a);
    vec![
        (
            "udp-ipv4.pcap",
            pcap_bytes(
                DataLink::ETHERNET,
                &[(T, udp4(&a)), (T, udp4(b"\r\n\r\n")), (T + 2, udp4(&a))],
            ),
            2,
        ),
        (
            "tcp-out-of-order.pcapng",
            pcapng_bytes(
                DataLink::ETHERNET,
                &[
                    (T + 1, tcp4(999, b"", true)),
                    (T + 1, tcp4(1000, b1, false)),
                    (T + 1, tcp4(1000 + 200 + 300, b3, false)),
                    (T + 2, tcp4(1000 + 200, b2, false)),
                ],
            ),
            1,
        ),
        (
            "udp-ipv6-unsigned.pcapng",
            pcapng_bytes(DataLink::ETHERNET, &[(T + 2, udp6(&unsigned))]),
            1,
        ),
        (
            "raw-ipv4-fragments.pcap",
            pcap_bytes(
                DataLink::RAW,
                &fragments
                    .into_iter()
                    .map(|f| (T + 3, f))
                    .collect::<Vec<_>>(),
            ),
            1,
        ),
    ]
}

/// The committed seed corpus of the `pcap` fuzz target (fuzz/seeds/pcap) is
/// what [`fuzz_seeds`] makes, and the reader finds the INVITEs in each.
/// `SHAKEN_UPDATE_FUZZ_SEEDS=1` rewrites the files.
#[test]
fn fuzz_seeds_are_current_and_readable() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/pcap");
    let update = std::env::var_os("SHAKEN_UPDATE_FUZZ_SEEDS").is_some();
    for (name, bytes, want) in fuzz_seeds() {
        let reader = CaptureReader::new(bytes.as_slice(), CaptureLimits::default()).unwrap();
        let invites: Vec<_> = reader.map(|m| m.unwrap()).collect();
        assert_eq!(invites.len(), want, "{name}");
        let path = dir.join(name);
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        }
        let committed = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (SHAKEN_UPDATE_FUZZ_SEEDS=1 makes it)",
                path.display()
            )
        });
        assert!(
            committed == bytes,
            "{name} is stale: SHAKEN_UPDATE_FUZZ_SEEDS=1 rewrites it"
        );
    }
}

// ------------------------------------------------- examples/data/calls.pcapng

/// The README's sample capture (`examples/data/calls.pcapng`): four calls
/// on 2027-01-15 from 08:00:00Z (Unix 1800000000), signed with the committed
/// lab key by the deterministic signer, so the file is byte-stable: call A
/// (attestation A, UDP/IPv4), call B (B, split over TCP segments), an
/// unsigned call (UDP/IPv6), and a call whose signature is another
/// PASSporT's (UDP/IPv4).
fn example_capture() -> Vec<u8> {
    let from = format!("<sip:{ORIG}@example.com>");
    let a = deterministic_invite("call-a@example.com", Attestation::A, T);
    let b = deterministic_invite("call-b@example.com", Attestation::B, T + 1);
    let (b1, rest) = b.split_at(200);
    let (b2, b3) = rest.split_at(300);
    let unsigned = invite("call-u@example.com", &from, None);
    // A signature that belongs to another PASSporT: well-formed, not this one's.
    let good = String::from_utf8(deterministic_invite("x", Attestation::C, T + 3)).unwrap();
    let other = String::from_utf8(deterministic_invite("x", Attestation::A, T + 3)).unwrap();
    let sig = |m: &str| -> String {
        let id = m
            .lines()
            .find_map(|l| l.strip_prefix("Identity: "))
            .unwrap();
        let token = id.split(';').next().unwrap();
        token.rsplit('.').next().unwrap().to_owned()
    };
    let forged = good
        .replace(&sig(&good), &sig(&other))
        .replace("Call-ID: x", "Call-ID: call-x@example.com")
        .replace("z9hG4bK-x", "z9hG4bK-call-x");
    pcapng_bytes(
        DataLink::ETHERNET,
        &[
            (T, udp4(&a)),
            (T + 1, tcp4(999, b"", true)),
            (T + 1, tcp4(1000, b1, false)),
            (T + 1, tcp4(1000 + 200, b2, false)),
            (T + 1, tcp4(1000 + 200 + 300, b3, false)),
            (T + 2, udp6(&unsigned)),
            (T + 3, udp4(forged.as_bytes())),
        ],
    )
}

/// `examples/data/calls.pcapng` is what [`example_capture`] makes (and
/// reads back as four INVITEs). `SHAKEN_UPDATE_EXAMPLES=1` rewrites it.
#[test]
fn example_capture_is_current() {
    let bytes = example_capture();
    let reader = CaptureReader::new(bytes.as_slice(), CaptureLimits::default()).unwrap();
    let invites: Vec<_> = reader.map(|m| m.unwrap()).collect();
    assert_eq!(invites.len(), 4);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/calls.pcapng");
    if std::env::var_os("SHAKEN_UPDATE_EXAMPLES").is_some() {
        std::fs::write(&path, &bytes).unwrap();
    }
    let committed = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (SHAKEN_UPDATE_EXAMPLES=1 makes it)",
            path.display()
        )
    });
    assert!(
        committed == bytes,
        "{} is stale: SHAKEN_UPDATE_EXAMPLES=1 rewrites it",
        path.display()
    );
}

/// Diverted calls (RFC 8946) in a capture: the JSON rows carry the chain,
/// the text table says it in the last column, the HTML report counts the
/// chains and their hops.
#[test]
fn pcap_shows_diverted_calls_and_their_hops() {
    let lab = Lab::new();
    let shaken_id = lab.sign("A", T);
    let div = |incoming: &str, to: &str| {
        let o = shaken(&[
            "sign",
            "--div",
            incoming,
            "--dest",
            to,
            "--key",
            &lab.path("key.pem"),
            "--x5u",
            X5U,
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap().trim().to_owned()
    };
    let hop1 = div(&shaken_id, "+12125550199");
    let hop2 = div(&hop1, "+12125550177");
    let retargeted = |call_id: &str, ruri: &str, ids: &[&str]| {
        let plain = invite(call_id, &format!("<sip:{ORIG}@example.com>"), None);
        let text = String::from_utf8(plain).unwrap().replacen(
            &format!("INVITE sip:{DEST}@"),
            &format!("INVITE sip:{ruri}@"),
            1,
        );
        let extra: String = ids.iter().map(|i| format!("Identity: {i}\r\n")).collect();
        text.replacen("Content-Type:", &format!("{extra}Content-Type:"), 1)
            .into_bytes()
    };
    let frames = vec![
        (
            T,
            udp4(&retargeted(
                "div-ok@test",
                "+12125550177",
                &[&hop2, &shaken_id, &hop1],
            )),
        ),
        (
            T + 1,
            udp4(&retargeted(
                "div-broken@test",
                "+12125550177",
                &[&shaken_id, &hop2],
            )),
        ),
    ];
    let path = lab.path("div.pcap");
    write_pcap(&path, &frames);
    let report = lab.path("div.html");
    let o = lab.verify(
        &path,
        &["--format", "json", "--report", &report, "--no-replay"],
    );
    let rows = rows(&o);
    assert_eq!(rows.len(), 2, "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(rows[0]["verstat"], "TN-Validation-Passed", "{}", rows[0]);
    assert_eq!(rows[0]["diversion"]["verdict"], "valid");
    assert_eq!(rows[0]["diversion"]["hops"].as_array().unwrap().len(), 2);
    assert_eq!(rows[1]["reason"]["id"], "dest-mismatch", "{}", rows[1]);
    assert_eq!(rows[1]["diversion"]["reason"]["id"], "div-unlinked");
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains(">Diverted calls</h2>"), "{html}");
    assert!(html.contains("<td>valid</td><td>1</td>"), "{html}");
    assert!(html.contains("<td>invalid</td><td>1</td>"), "{html}");
    assert!(
        html.contains("<td>valid: 12125550143 -&gt; 12125550199 -&gt; 12125550177</td><td>1</td>"),
        "{html}"
    );
    let o = lab.verify(&path, &["--no-replay"]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("div=valid(2 hops)"), "{text}");
    assert!(text.contains("div=invalid(1 hops)"), "{text}");
}

/// Wait for one line on `r` (a child's stdout), bounded.
fn line_within(rx: &std::sync::mpsc::Receiver<String>, secs: u64) -> String {
    rx.recv_timeout(Duration::from_secs(secs))
        .unwrap_or_else(|_| panic!("no output line within {secs} s"))
}

fn spawn_lines(r: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for l in std::io::BufReader::new(r).lines() {
            let Ok(l) = l else { break };
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    rx
}

/// `tcpdump -w - | shaken verify --pcap -`: the capture comes on stdin, and
/// each row is written when its call completes, before the stream ends.
#[test]
fn pcap_from_stdin_streams_rows_as_calls_complete() {
    use std::io::Write;
    let lab = Lab::new();
    let f = frames(&lab);
    let first = pcap_bytes(DataLink::ETHERNET, &f[..1]);
    let all = pcap_bytes(DataLink::ETHERNET, &f);
    assert!(all.starts_with(&first));
    let csv = lab.path("calls.csv");
    let summary = lab.path("summary.json");
    let mut child = crate::support::bin()
        .args([
            "verify",
            "--cert",
            &lab.path("chain.pem"),
            "--trust-anchors",
            &lab.path("root.pem"),
        ])
        .args([
            "--pcap",
            "-",
            "--format",
            "json",
            "--csv",
            &csv,
            "--summary-json",
            &summary,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let rx = spawn_lines(child.stdout.take().unwrap());
    stdin.write_all(&first).unwrap();
    stdin.flush().unwrap();
    // The first call's row arrives while the stream is still open.
    let row: Value = serde_json::from_str(&line_within(&rx, 30)).unwrap();
    assert_eq!(row["call_id"], "call-a@test");
    assert_eq!(row["verstat"], "TN-Validation-Passed");
    // And the CSV row is already on disk.
    let early = std::fs::read_to_string(&csv).unwrap();
    assert!(early.contains("call-a@test"), "{early}");
    stdin.write_all(&all[first.len()..]).unwrap();
    drop(stdin);
    let mut rest = Vec::new();
    while let Ok(l) = rx.recv_timeout(Duration::from_secs(30)) {
        rest.push(serde_json::from_str::<Value>(&l).unwrap());
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut all_rows = vec![row];
    all_rows.extend(rest);
    check_rows(&all_rows);
    // The exports: one CSV row per call, the peers by source address.
    let csv = std::fs::read_to_string(&csv).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("line,call_id,time,peer,orig,dest,attest,verstat,reason_id,spc,x5u")
    );
    assert_eq!(lines.clone().count(), 4, "{csv}");
    assert!(csv.contains(",No-TN-Validation,no-identity,"), "{csv}");
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(s["total"], 4);
    assert_eq!(s["unsigned"], 1);
    let peers: Vec<&str> = s["peers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["peer"].as_str().unwrap())
        .collect();
    assert_eq!(peers, ["192.0.2.1", "192.0.2.7", "2001:db8::1"], "{s}");
    assert_eq!(s["signers"][0]["spc"], "1234");
    assert_eq!(s["signers"][0]["passed"], 2);
}

/// A listener that a failing assertion must not leave running.
struct KillOnDrop(Option<std::process::Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A HEP v3 packet (test encoder: the generic chunks an SBC sends).
fn hep3(sip: &[u8], src: [u8; 4], tcp: bool) -> Vec<u8> {
    fn chunk(t: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0];
        v.extend_from_slice(&t.to_be_bytes());
        v.extend_from_slice(&(6 + payload.len() as u16).to_be_bytes());
        v.extend_from_slice(payload);
        v
    }
    let mut c = Vec::new();
    c.extend(chunk(1, &[2]));
    c.extend(chunk(2, &[if tcp { 6 } else { 17 }]));
    c.extend(chunk(3, &src));
    c.extend(chunk(4, &[192, 0, 2, 100]));
    c.extend(chunk(7, &5060u16.to_be_bytes()));
    c.extend(chunk(8, &5060u16.to_be_bytes()));
    c.extend(chunk(9, &(T as u32).to_be_bytes()));
    c.extend(chunk(10, &0u32.to_be_bytes()));
    c.extend(chunk(11, &[1]));
    c.extend(chunk(12, &100u32.to_be_bytes()));
    c.extend(chunk(15, sip));
    let mut p = b"HEP3".to_vec();
    p.extend_from_slice(&(6 + c.len() as u16).to_be_bytes());
    p.extend(c);
    p
}

/// `verify --hep`: a collector on loopback gets INVITEs over UDP and TCP
/// (a packet split across writes, two packets in one write), refuses a
/// broken packet, and writes the same rows and exports as `--pcap`.
#[test]
fn hep_listener_verifies_mirrored_invites() {
    use std::io::Write;
    let lab = Lab::new();
    let from_ok = format!("<sip:{ORIG}@example.com>");
    let signed = lab.sign("A", T);
    let a = invite("hep-a@test", &from_ok, Some(&signed));
    let spoofed = invite(
        "hep-s@test",
        "<sip:+12025550199@example.com>",
        Some(&lab.sign("B", T)),
    );
    let unsigned = invite("hep-u@test", &from_ok, None);
    let csv = lab.path("hep.csv");
    let summary = lab.path("hep.json");
    let traceback = lab.path("traceback.csv");
    let mut guard = KillOnDrop(Some(
        crate::support::bin()
            .args([
                "verify",
                "--cert",
                &lab.path("chain.pem"),
                "--trust-anchors",
                &lab.path("root.pem"),
            ])
            .args([
                "--hep",
                "127.0.0.1:0",
                "--max-calls",
                "3",
                "--format",
                "json",
                "--now",
                &T.to_string(),
            ])
            .args([
                "--csv",
                &csv,
                "--summary-json",
                &summary,
                "--traceback",
                &traceback,
            ])
            .args(["--summary-every", "1"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    let child = guard.0.as_mut().unwrap();
    let err = spawn_lines(child.stderr.take().unwrap());
    let out = spawn_lines(child.stdout.take().unwrap());
    let banner = line_within(&err, 30);
    let addr = banner
        .split_whitespace()
        .last()
        .unwrap_or_else(|| panic!("{banner}"))
        .to_owned();
    assert!(
        banner.starts_with("hep: listening on udp 127.0.0.1:"),
        "{banner}"
    );
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.send_to(b"HEP3\x00\x03", &addr).unwrap(); // broken: refused, no row
    udp.send_to(&hep3(&a, [192, 0, 2, 9], false), &addr)
        .unwrap();
    let first: Value = serde_json::from_str(&line_within(&out, 30)).unwrap();
    assert_eq!(first["call_id"], "hep-a@test");
    assert_eq!(first["verstat"], "TN-Validation-Passed");
    // The periodic summary: --summary-json appears while it still listens.
    let mut periodic = None;
    for _ in 0..100 {
        if let Ok(text) = std::fs::read_to_string(&summary) {
            periodic = Some(serde_json::from_str::<Value>(&text).unwrap());
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let periodic = periodic.expect("no periodic --summary-json within 10 s");
    assert_eq!(periodic["total"], 1, "{periodic}");
    let mut tcp = std::net::TcpStream::connect(&addr).unwrap();
    let p = hep3(&spoofed, [192, 0, 2, 10], true);
    tcp.write_all(&p[..20]).unwrap();
    tcp.flush().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let mut two = p[20..].to_vec();
    two.extend(hep3(&unsigned, [192, 0, 2, 10], true));
    tcp.write_all(&two).unwrap();
    drop(tcp);
    let rows: Vec<Value> = (0..2)
        .map(|_| serde_json::from_str(&line_within(&out, 30)).unwrap())
        .collect();
    let o = guard.0.take().unwrap().wait_with_output().unwrap();
    // Every line up to the end of the stream (the reader thread may still
    // be behind the exit).
    let mut stderr: Vec<String> = Vec::new();
    while let Ok(l) = err.recv_timeout(Duration::from_secs(30)) {
        stderr.push(l);
    }
    let stderr = stderr.join("\n");
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("HEP packet 1: total length 3"), "{stderr}");
    assert!(
        stderr.contains("3 calls, 1 passed, 2 not passed (1 unsigned, 0 malformed)"),
        "{stderr}"
    );
    assert_eq!(rows[0]["call_id"], "hep-s@test");
    assert_eq!(rows[0]["reason"]["id"], "orig-mismatch");
    assert_eq!(rows[0]["transport"], "tcp");
    assert_eq!(rows[0]["signer"]["signature_verified"], true);
    assert_eq!(rows[1]["reason"]["id"], "no-identity");
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(s["total"], 3);
    assert_eq!(s["unsigned"], 1);
    assert_eq!(s["peers"][0]["peer"], "192.0.2.10");
    assert_eq!(s["signers"][0]["failed"], 1);
    let csv = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    // The traceback export has the spoofed call only, with its signer.
    let tb = std::fs::read_to_string(&traceback).unwrap();
    let tb: Vec<&str> = tb.lines().collect();
    assert_eq!(tb.len(), 2, "{tb:?}");
    assert!(tb[0].starts_with("time_utc,calling_number,called_number,call_id,"));
    assert!(
        tb[1].starts_with("2027-01-15T08:00:00Z,12025550199,12125550143,hep-s@test,B,"),
        "{}",
        tb[1]
    );
    assert!(
        tb[1].contains(",orig-mismatch,") && tb[1].contains(",1234,"),
        "{}",
        tb[1]
    );
}

#[test]
fn exports_need_many_calls_and_hep_an_address() {
    for (args, want) in [
        (
            &["verify", "x", "--csv", "c.csv"][..],
            "--csv writes the summary of many calls",
        ),
        (
            &["verify", "x", "--summary-json", "s.json"][..],
            "--summary-json writes",
        ),
        (
            &["verify", "x", "--traceback", "t.csv"][..],
            "--traceback writes",
        ),
        (
            // --html is another name of --report.
            &["verify", "x", "--html", "r.html"][..],
            "--report writes the summary of many calls",
        ),
        (
            &["verify", "--pcap", "c.pcap", "--max-calls", "3"][..],
            "--max-calls stops a --hep listener",
        ),
        (
            &["verify", "--hep", "127.0.0.1:0", "--summary-every", "0"][..],
            "--summary-every must be at least 1",
        ),
        (
            &["verify", "--hep", "localhost"][..],
            "--hep localhost: expected IP:PORT",
        ),
    ] {
        let o = shaken(args);
        let e = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
        assert!(e.contains(want), "{args:?}: {e}");
    }
}
