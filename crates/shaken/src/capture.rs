//! SIP INVITEs out of packet captures (pcap and pcapng).
//!
//! [`CaptureReader`] reads a capture from any `Read` (no files, no clock) and
//! yields every SIP INVITE it finds, with the capture timestamp and packet
//! number of the packet that completed it:
//!
//! - link layers: Ethernet (with VLANs), Linux cooked (SLL), raw IPv4/IPv6,
//!   BSD loopback;
//! - IPv4 and IPv6, fragments reassembled (SIP over UDP with an Identity
//!   header is often larger than one Ethernet frame);
//! - UDP: one message per datagram;
//! - TCP: per-flow reassembly ordered by sequence number, messages framed by
//!   the empty line and `Content-Length`.
//!
//! [`hep`] decodes HEP v3 (Homer) packets, which SBCs send to a collector
//! with a copy of each SIP message, into the same [`SipMessage`]s.
//!
//! Every buffer is bounded ([`CaptureLimits`]): a flow whose buffered data
//! exceeds the limit is reset, the number of flows and of IP fragment sets in
//! progress is capped, and what had to be dropped is counted in
//! [`CaptureStats`].

use etherparse::defrag::IpDefragPool;
use etherparse::{NetSlice, SlicedPacket, TcpSlice, TransportSlice, UdpSlice};
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::{Block, PcapNgReader};
use pcap_file::DataLink;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Why a capture could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// The underlying reader failed.
    #[error("reading the capture: {0}")]
    Io(#[from] std::io::Error),
    /// The file starts with neither a pcap nor a pcapng magic number.
    #[error("not a pcap or pcapng capture (first bytes {magic:02x?})")]
    UnknownFormat {
        /// The first bytes of the file.
        magic: Vec<u8>,
    },
    /// The capture is malformed (or truncated) at this packet or block.
    #[error("malformed capture after packet {packet}: {source}")]
    Format {
        /// The number of packets read before the problem.
        packet: u64,
        /// What the pcap reader said.
        source: pcap_file::PcapError,
    },
    /// A HEP packet (Homer) that cannot be read.
    #[error("HEP packet {packet}: {detail}")]
    Hep {
        /// The number of the packet (1-based, as received).
        packet: u64,
        /// What was wrong.
        detail: String,
    },
}

/// Reading a capture: no SIP code, no verstat.
impl crate::diagnostic::Diagnostic for CaptureError {
    fn id(&self) -> &'static str {
        match self {
            CaptureError::Io(_) => "capture-io",
            CaptureError::UnknownFormat { .. } => "capture-unknown-format",
            CaptureError::Format { .. } => "capture-format",
            CaptureError::Hep { .. } => "capture-hep",
        }
    }
    fn sip_code(&self) -> Option<u16> {
        None
    }
    fn verstat(&self) -> Option<crate::report::Verstat> {
        None
    }
}

/// Bounds on what the reader keeps in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureLimits {
    /// Largest SIP message, and largest data buffered per TCP flow (in order
    /// and out of order, each). Default 64 KiB (`Limits::max_sip_message`).
    pub max_message: usize,
    /// Most TCP flows followed at once; the least recently active is dropped
    /// when a new one starts. Default 10,000.
    pub max_flows: usize,
    /// Most IP fragments held while waiting for the rest of their packet;
    /// past it every incomplete packet is dropped. Default 1,000.
    pub max_fragment_sets: usize,
    /// A fragment set or a TCP flow idle for longer than this is dropped.
    /// Default 120 s (capture time).
    pub idle: Duration,
}

impl Default for CaptureLimits {
    fn default() -> Self {
        CaptureLimits::from(&crate::Limits::default())
    }
}

impl From<&crate::Limits> for CaptureLimits {
    /// The capture bounds held in [`crate::Limits`].
    fn from(l: &crate::Limits) -> Self {
        CaptureLimits {
            max_message: l.max_sip_message,
            max_flows: l.capture_max_flows,
            max_fragment_sets: l.capture_max_fragment_sets,
            idle: l.capture_idle,
        }
    }
}

/// The transport a message came over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP (reassembled).
    Tcp,
}

/// A SIP INVITE found in a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipMessage {
    /// 1-based number of the packet that completed the message (as
    /// Wireshark numbers them).
    pub packet: u64,
    /// Capture timestamp of that packet, since the Unix epoch.
    pub time: Duration,
    /// Source address.
    pub src: SocketAddr,
    /// Destination address.
    pub dst: SocketAddr,
    /// UDP or TCP.
    pub transport: Transport,
    /// The whole message, start line to end of body.
    pub bytes: Vec<u8>,
}

/// What the reader saw and what it had to skip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Packets read.
    pub packets: u64,
    /// Packets of a link type the reader does not decode.
    pub unsupported_link: u64,
    /// Packets whose headers could not be decoded (truncated, corrupt).
    pub undecodable: u64,
    /// IP fragments seen.
    pub fragments: u64,
    /// SIP messages framed (INVITEs or not).
    pub sip_messages: u64,
    /// INVITEs returned.
    pub invites: u64,
    /// Bytes of TCP data dropped (gaps, overflows, evicted flows).
    pub tcp_bytes_dropped: u64,
}

type FlowKey = (SocketAddr, SocketAddr);

#[derive(Default)]
struct Flow {
    next_seq: Option<u32>,
    buf: Vec<u8>,
    pending: BTreeMap<u32, Vec<u8>>,
    pending_bytes: usize,
    last_seen: Duration,
}

/// Turns packets into SIP INVITEs. Use it directly to feed packets from
/// elsewhere; [`CaptureReader`] drives it from a capture file.
pub struct Extractor {
    limits: CaptureLimits,
    flows: HashMap<FlowKey, Flow>,
    defrag: IpDefragPool<Duration, ()>,
    fragment_sets: usize,
    stats: CaptureStats,
}

impl std::fmt::Debug for Extractor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extractor")
            .field("flows", &self.flows.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// Whether a line is a SIP start line (request or response).
fn is_start_line(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.starts_with(b"SIP/2.0 ") || (line.ends_with(b" SIP/2.0") && line.contains(&b' '))
}

fn is_invite(msg: &[u8]) -> bool {
    msg.starts_with(b"INVITE ")
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// End of the header block: index just after the empty line.
fn header_end(buf: &[u8]) -> Option<usize> {
    let crlf = find(buf, b"\r\n\r\n").map(|i| i + 4);
    let lf = find(buf, b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The Content-Length (or compact `l`) value of a header block; 0 if absent.
fn content_length(headers: &[u8]) -> Option<usize> {
    for line in headers.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = line.get(..colon).unwrap_or_default().trim_ascii();
        if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
            let value = line.get(colon + 1..).unwrap_or_default().trim_ascii();
            return std::str::from_utf8(value).ok()?.parse().ok();
        }
    }
    Some(0)
}

enum Framed {
    /// A whole message of this many bytes is at the start of the buffer.
    Message(usize),
    /// More data is needed.
    Incomplete,
    /// The buffer does not start with a usable message: drop this many bytes.
    Skip(usize),
}

/// Frame the next message at the start of a stream buffer.
fn frame(buf: &[u8], max: usize) -> Framed {
    // Keep-alive CRLFs between messages (RFC 5626).
    let lead = buf
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .count();
    if lead > 0 {
        return Framed::Skip(lead);
    }
    let first_line_end = buf.iter().position(|&b| b == b'\n');
    match first_line_end {
        None if buf.len() > max => return Framed::Skip(buf.len()),
        None => return Framed::Incomplete,
        Some(i) => {
            if !is_start_line(buf.get(..i).unwrap_or_default()) {
                // Joined mid-stream: resynchronise on the next start line.
                let mut at = i + 1;
                while let Some(rest) = buf.get(at..) {
                    match rest.iter().position(|&b| b == b'\n') {
                        Some(j) if is_start_line(rest.get(..j).unwrap_or_default()) => {
                            return Framed::Skip(at)
                        }
                        Some(j) => at += j + 1,
                        None => break,
                    }
                }
                return Framed::Skip(at.min(buf.len()));
            }
        }
    }
    let Some(end) = header_end(buf) else {
        return if buf.len() > max {
            Framed::Skip(buf.len())
        } else {
            Framed::Incomplete
        };
    };
    let Some(body) = content_length(buf.get(..end).unwrap_or_default()) else {
        // Unreadable Content-Length on a stream: the rest cannot be framed.
        return Framed::Skip(end);
    };
    let total = end.saturating_add(body);
    if total > max {
        return Framed::Skip(end);
    }
    if buf.len() < total {
        Framed::Incomplete
    } else {
        Framed::Message(total)
    }
}

impl Extractor {
    /// A new extractor.
    pub fn new(limits: CaptureLimits) -> Self {
        Extractor {
            limits,
            flows: HashMap::new(),
            defrag: IpDefragPool::new(),
            fragment_sets: 0,
            stats: CaptureStats::default(),
        }
    }

    /// What was seen so far.
    pub fn stats(&self) -> &CaptureStats {
        &self.stats
    }

    /// Decode one captured frame and append the INVITEs it completes to `out`.
    pub fn push(
        &mut self,
        packet: u64,
        time: Duration,
        link: DataLink,
        data: &[u8],
        out: &mut Vec<SipMessage>,
    ) {
        self.stats.packets += 1;
        let sliced = match link {
            DataLink::ETHERNET => SlicedPacket::from_ethernet(data),
            DataLink::LINUX_SLL => SlicedPacket::from_linux_sll(data),
            DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => SlicedPacket::from_ip(data),
            DataLink::NULL | DataLink::LOOP => {
                SlicedPacket::from_ip(data.get(4..).unwrap_or_default())
            }
            _ => {
                self.stats.unsupported_link += 1;
                return;
            }
        };
        let Ok(sliced) = sliced else {
            self.stats.undecodable += 1;
            return;
        };
        let Some(net) = &sliced.net else {
            return;
        };
        let (src_ip, dst_ip): (IpAddr, IpAddr) = match net {
            NetSlice::Ipv4(v4) => (
                v4.header().source_addr().into(),
                v4.header().destination_addr().into(),
            ),
            NetSlice::Ipv6(v6) => (
                v6.header().source_addr().into(),
                v6.header().destination_addr().into(),
            ),
        };
        if sliced.is_ip_payload_fragmented() {
            self.stats.fragments += 1;
            self.fragment(packet, time, &sliced, src_ip, dst_ip, out);
            return;
        }
        match &sliced.transport {
            Some(TransportSlice::Udp(u)) => self.udp(packet, time, u, src_ip, dst_ip, out),
            Some(TransportSlice::Tcp(t)) => self.tcp(packet, time, t, src_ip, dst_ip, out),
            _ => {}
        }
    }

    fn fragment(
        &mut self,
        packet: u64,
        time: Duration,
        sliced: &SlicedPacket,
        src_ip: IpAddr,
        dst_ip: IpAddr,
        out: &mut Vec<SipMessage>,
    ) {
        if self.fragment_sets >= self.limits.max_fragment_sets {
            // Too many fragments wait for their siblings: start over rather
            // than grow (normal traffic completes its sets at once).
            self.defrag = IpDefragPool::new();
            self.fragment_sets = 0;
        }
        match self.defrag.process_sliced_packet(sliced, time, ()) {
            Ok(Some(whole)) => {
                self.fragment_sets = self.fragment_sets.saturating_sub(1);
                let number = u8::from(whole.ip_number);
                if number == 17 {
                    if let Ok(u) = UdpSlice::from_slice(&whole.payload) {
                        self.udp(packet, time, &u, src_ip, dst_ip, out);
                    } else {
                        self.stats.undecodable += 1;
                    }
                } else if number == 6 {
                    if let Ok(t) = TcpSlice::from_slice(&whole.payload) {
                        self.tcp(packet, time, &t, src_ip, dst_ip, out);
                    } else {
                        self.stats.undecodable += 1;
                    }
                }
                self.defrag.return_buf(whole);
            }
            Ok(None) => self.fragment_sets += 1,
            Err(_) => self.stats.undecodable += 1,
        }
    }

    fn udp(
        &mut self,
        packet: u64,
        time: Duration,
        u: &UdpSlice,
        src_ip: IpAddr,
        dst_ip: IpAddr,
        out: &mut Vec<SipMessage>,
    ) {
        let payload = u.payload();
        let first = payload.split(|&b| b == b'\n').next().unwrap_or_default();
        if !is_start_line(first) {
            return;
        }
        self.stats.sip_messages += 1;
        if is_invite(payload) && payload.len() <= self.limits.max_message {
            self.stats.invites += 1;
            out.push(SipMessage {
                packet,
                time,
                src: SocketAddr::new(src_ip, u.source_port()),
                dst: SocketAddr::new(dst_ip, u.destination_port()),
                transport: Transport::Udp,
                bytes: payload.to_vec(),
            });
        }
    }

    fn tcp(
        &mut self,
        packet: u64,
        time: Duration,
        t: &TcpSlice,
        src_ip: IpAddr,
        dst_ip: IpAddr,
        out: &mut Vec<SipMessage>,
    ) {
        let src = SocketAddr::new(src_ip, t.source_port());
        let dst = SocketAddr::new(dst_ip, t.destination_port());
        let key = (src, dst);
        let payload = t.payload();
        if t.rst() {
            if let Some(f) = self.flows.remove(&key) {
                self.stats.tcp_bytes_dropped += (f.buf.len() + f.pending_bytes) as u64;
            }
            return;
        }
        if payload.is_empty() && !t.syn() && !t.fin() {
            return;
        }
        if !self.flows.contains_key(&key) {
            if payload.is_empty() && !t.syn() {
                return;
            }
            self.make_room(time);
        }
        let max = self.limits.max_message;
        let flow = self.flows.entry(key).or_default();
        flow.last_seen = time;
        let mut seq = t.sequence_number();
        if t.syn() {
            seq = seq.wrapping_add(1);
            flow.next_seq = Some(seq);
            flow.buf.clear();
            flow.pending.clear();
            flow.pending_bytes = 0;
        }
        let next = *flow.next_seq.get_or_insert(seq);
        let offset = seq.wrapping_sub(next) as i32;
        let mut dropped = 0u64;
        if offset <= 0 {
            // In order, or overlapping data already taken (retransmission).
            let skip = offset.unsigned_abs() as usize;
            if let Some(fresh) = payload.get(skip..) {
                flow.buf.extend_from_slice(fresh);
                flow.next_seq = Some(next.wrapping_add(fresh.len() as u32));
            }
            // Drain segments that now fit.
            while let Some((&pseq, _)) = flow.pending.iter().next() {
                let cur = flow.next_seq.unwrap_or(pseq);
                let off = pseq.wrapping_sub(cur) as i32;
                if off > 0 {
                    break;
                }
                if let Some(data) = flow.pending.remove(&pseq) {
                    flow.pending_bytes -= data.len();
                    if let Some(fresh) = data.get(off.unsigned_abs() as usize..) {
                        flow.buf.extend_from_slice(fresh);
                        flow.next_seq = Some(cur.wrapping_add(fresh.len() as u32));
                    }
                }
            }
        } else if !payload.is_empty() {
            // A segment from the future: hold it, bounded.
            if flow.pending_bytes + payload.len() > max {
                // The gap will not fill: give up on what we hold and resync
                // at this segment.
                dropped += (flow.buf.len() + flow.pending_bytes) as u64;
                flow.buf.clear();
                flow.pending.clear();
                flow.pending_bytes = 0;
                flow.buf.extend_from_slice(payload);
                flow.next_seq = Some(seq.wrapping_add(payload.len() as u32));
            } else {
                flow.pending_bytes += payload.len();
                flow.pending.insert(seq, payload.to_vec());
            }
        }
        // Frame whole messages.
        let mut consumed = 0usize;
        loop {
            let rest = flow.buf.get(consumed..).unwrap_or_default();
            if rest.is_empty() {
                break;
            }
            match frame(rest, max) {
                Framed::Incomplete => break,
                Framed::Skip(n) => {
                    if rest.iter().take(n).any(|b| !matches!(b, b'\r' | b'\n')) {
                        dropped += n as u64;
                    }
                    consumed += n.max(1);
                }
                Framed::Message(n) => {
                    self.stats.sip_messages += 1;
                    let msg = rest.get(..n).unwrap_or_default();
                    if is_invite(msg) {
                        self.stats.invites += 1;
                        out.push(SipMessage {
                            packet,
                            time,
                            src,
                            dst,
                            transport: Transport::Tcp,
                            bytes: msg.to_vec(),
                        });
                    }
                    consumed += n;
                }
            }
        }
        flow.buf.drain(..consumed.min(flow.buf.len()));
        if flow.buf.len() > max {
            dropped += flow.buf.len() as u64;
            flow.buf.clear();
        }
        self.stats.tcp_bytes_dropped += dropped;
        if t.fin() {
            if let Some(f) = self.flows.remove(&key) {
                self.stats.tcp_bytes_dropped += (f.buf.len() + f.pending_bytes) as u64;
            }
        }
    }

    /// Make room for one more flow: drop idle flows, then the least recently
    /// active one.
    fn make_room(&mut self, now: Duration) {
        if self.flows.len() < self.limits.max_flows {
            return;
        }
        let idle = self.limits.idle;
        let mut dropped = 0u64;
        self.flows.retain(|_, f| {
            let keep = now.saturating_sub(f.last_seen) <= idle;
            if !keep {
                dropped += (f.buf.len() + f.pending_bytes) as u64;
            }
            keep
        });
        if self.flows.len() >= self.limits.max_flows {
            if let Some(k) = self
                .flows
                .iter()
                .min_by_key(|(_, f)| f.last_seen)
                .map(|(k, _)| *k)
            {
                if let Some(f) = self.flows.remove(&k) {
                    dropped += (f.buf.len() + f.pending_bytes) as u64;
                }
            }
        }
        self.stats.tcp_bytes_dropped += dropped;
    }
}

enum Format<R: Read> {
    Pcap(PcapReader<R>),
    PcapNg(PcapNgReader<R>),
}

/// Reads a pcap or pcapng capture and yields its SIP INVITEs in capture
/// order. A malformed or truncated capture ends the iteration with one
/// [`CaptureError::Format`] item (what came before it is kept).
pub struct CaptureReader<R: Read> {
    format: Format<R>,
    extractor: Extractor,
    queue: VecDeque<SipMessage>,
    scratch: Vec<SipMessage>,
    /// Per pcapng interface: link type and timestamp units per second.
    interfaces: Vec<(DataLink, u64)>,
    packet: u64,
    done: bool,
}

impl<R: Read> std::fmt::Debug for CaptureReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureReader")
            .field("packet", &self.packet)
            .field("extractor", &self.extractor)
            .finish_non_exhaustive()
    }
}

const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
const PCAP_MAGICS: [[u8; 4]; 4] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
];

/// Units per second of a pcapng `if_tsresol` value (default 10^6).
fn ts_units(resol: Option<u8>) -> u64 {
    match resol {
        None => 1_000_000,
        Some(r) if r & 0x80 != 0 => 1u64.checked_shl(u32::from(r & 0x7f)).unwrap_or(u64::MAX),
        Some(r) => 10u64.checked_pow(u32::from(r)).unwrap_or(u64::MAX),
    }
}

/// pcap-file 2 reads the raw pcapng timestamp as nanoseconds whatever the
/// interface's resolution; convert it with the real units.
fn pcapng_time(raw: Duration, units: u64) -> Duration {
    let ticks = raw.as_nanos();
    let units = u128::from(units.max(1));
    let secs = u64::try_from(ticks / units).unwrap_or(u64::MAX);
    let frac = ticks % units;
    let nanos = u32::try_from(frac * 1_000_000_000 / units).unwrap_or(0);
    Duration::new(secs, nanos)
}

impl<R: Read> CaptureReader<BufReader<R>> {
    /// Open a capture: pcap (any byte order, micro- or nanosecond) or pcapng.
    pub fn new(reader: R, limits: CaptureLimits) -> Result<Self, CaptureError> {
        let mut r = BufReader::with_capacity(64 * 1024, reader);
        let magic: Vec<u8> = r.fill_buf()?.iter().take(4).copied().collect();
        let format = if magic == PCAPNG_MAGIC {
            Format::PcapNg(
                PcapNgReader::new(r)
                    .map_err(|source| CaptureError::Format { packet: 0, source })?,
            )
        } else if PCAP_MAGICS.iter().any(|m| magic == m) {
            Format::Pcap(
                PcapReader::new(r).map_err(|source| CaptureError::Format { packet: 0, source })?,
            )
        } else {
            return Err(CaptureError::UnknownFormat { magic });
        };
        Ok(CaptureReader {
            format,
            extractor: Extractor::new(limits),
            queue: VecDeque::new(),
            scratch: Vec::new(),
            interfaces: Vec::new(),
            packet: 0,
            done: false,
        })
    }
}

impl<R: Read> CaptureReader<R> {
    /// What the reader saw so far.
    pub fn stats(&self) -> &CaptureStats {
        self.extractor.stats()
    }

    /// Read the next packet; `Ok(false)` at the end.
    fn step(&mut self) -> Result<bool, CaptureError> {
        let packet = self.packet;
        let err = |source| CaptureError::Format { packet, source };
        match &mut self.format {
            Format::Pcap(r) => {
                let link = r.header().datalink;
                match r.next_packet() {
                    None => Ok(false),
                    Some(Err(e)) => Err(err(e)),
                    Some(Ok(p)) => {
                        self.packet += 1;
                        self.extractor.push(
                            self.packet,
                            p.timestamp,
                            link,
                            &p.data,
                            &mut self.scratch,
                        );
                        Ok(true)
                    }
                }
            }
            Format::PcapNg(r) => match r.next_block() {
                None => Ok(false),
                Some(Err(e)) => Err(err(e)),
                Some(Ok(block)) => {
                    match block {
                        Block::SectionHeader(_) => self.interfaces.clear(),
                        Block::InterfaceDescription(idb) => {
                            let resol = idb.options.iter().find_map(|o| match o {
                                InterfaceDescriptionOption::IfTsResol(r) => Some(*r),
                                _ => None,
                            });
                            self.interfaces.push((idb.linktype, ts_units(resol)));
                        }
                        Block::EnhancedPacket(epb) => {
                            self.packet += 1;
                            let (link, units) = usize::try_from(epb.interface_id)
                                .ok()
                                .and_then(|i| self.interfaces.get(i))
                                .copied()
                                .unwrap_or((DataLink::ETHERNET, 1_000_000));
                            self.extractor.push(
                                self.packet,
                                pcapng_time(epb.timestamp, units),
                                link,
                                &epb.data,
                                &mut self.scratch,
                            );
                        }
                        Block::SimplePacket(spb) => {
                            self.packet += 1;
                            let link = self.interfaces.first().map_or(DataLink::ETHERNET, |i| i.0);
                            self.extractor.push(
                                self.packet,
                                Duration::ZERO,
                                link,
                                &spb.data,
                                &mut self.scratch,
                            );
                        }
                        Block::Packet(pb) => {
                            self.packet += 1;
                            let (link, units) = self
                                .interfaces
                                .get(usize::from(pb.interface_id))
                                .copied()
                                .unwrap_or((DataLink::ETHERNET, 1_000_000));
                            self.extractor.push(
                                self.packet,
                                pcapng_time(Duration::from_nanos(pb.timestamp), units),
                                link,
                                &pb.data,
                                &mut self.scratch,
                            );
                        }
                        _ => {}
                    }
                    Ok(true)
                }
            },
        }
    }
}

impl<R: Read> Iterator for CaptureReader<R> {
    type Item = Result<SipMessage, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(m) = self.queue.pop_front() {
                return Some(Ok(m));
            }
            if self.done {
                return None;
            }
            match self.step() {
                Ok(true) => self.queue.extend(self.scratch.drain(..)),
                Ok(false) => self.done = true,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// HEP v3 (Homer Encapsulation Protocol): the copies of SIP messages an SBC
/// or proxy mirrors to a collector, over UDP (one packet per datagram) or
/// TCP (packets back to back). Decoding is the `hep` crate's; this module
/// checks first that the packet's framing (`HEP3`, total length, every
/// chunk's length and the size of each fixed-size generic chunk) holds, so
/// that the crate only ever sees a well-framed packet, and turns what it
/// decoded into a [`SipMessage`].
pub mod hep {
    use super::{CaptureError, SipMessage, Transport};
    use std::net::{IpAddr, SocketAddr};
    use std::time::Duration;

    /// The first four bytes of a HEP v3 packet.
    pub const MAGIC: &[u8; 4] = b"HEP3";
    /// HEP generic chunk type of the captured payload.
    const CHUNK_PAYLOAD: u16 = 15;
    /// HEP generic chunk type of a compressed payload (not supported).
    const CHUNK_COMPRESSED: u16 = 16;

    /// The payload size a fixed-size generic chunk type needs (HEP v3
    /// specification, generic chunk types).
    fn fixed_size(chunk_type: u16) -> usize {
        match chunk_type {
            1 | 2 | 11 | 23 | 24 => 1,
            7 | 8 | 13 | 18 | 22 | 32 | 33 => 2,
            3 | 4 | 9 | 10 | 12 | 35 => 4,
            20 | 21 => 8,
            5 | 6 => 16,
            _ => 0,
        }
    }

    fn be16(b: &[u8], at: usize) -> Option<usize> {
        let x = b.get(at..at + 2)?;
        Some(usize::from(u16::from_be_bytes([*x.first()?, *x.get(1)?])))
    }

    /// The length of the HEP v3 packet at the start of `buf`: `Ok(None)`
    /// when fewer than its first 6 bytes are there, an error when `buf`
    /// does not start with a HEP v3 header (a TCP stream that lost sync).
    pub fn packet_len(buf: &[u8], packet: u64) -> Result<Option<usize>, CaptureError> {
        if buf.len() < 6 {
            if !MAGIC.starts_with(buf) {
                return Err(error(packet, "not a HEP v3 packet (no HEP3 magic)"));
            }
            return Ok(None);
        }
        if buf.get(..4) != Some(&MAGIC[..]) {
            return Err(error(packet, "not a HEP v3 packet (no HEP3 magic)"));
        }
        let total = be16(buf, 4).unwrap_or(0);
        if total < 6 {
            return Err(error(
                packet,
                format!("total length {total} is shorter than the header"),
            ));
        }
        Ok(Some(total))
    }

    fn error(packet: u64, detail: impl Into<String>) -> CaptureError {
        CaptureError::Hep {
            packet,
            detail: detail.into(),
        }
    }

    /// Check the framing: the total length and every chunk inside it.
    /// Returns whether the packet has a non-empty payload chunk, and
    /// whether it has a compressed one.
    fn check(p: &[u8], packet: u64) -> Result<(bool, bool), CaptureError> {
        let total =
            packet_len(p, packet)?.ok_or_else(|| error(packet, "shorter than a HEP header"))?;
        if total != p.len() {
            return Err(error(
                packet,
                format!("total length {total} but {} bytes received", p.len()),
            ));
        }
        let (mut at, mut payload, mut compressed) = (6usize, false, false);
        while at < total {
            let (Some(chunk_type), Some(len)) = (be16(p, at + 2), be16(p, at + 4)) else {
                return Err(error(packet, format!("chunk at byte {at} is cut short")));
            };
            if len < 6 || at + len > total {
                return Err(error(
                    packet,
                    format!("chunk at byte {at} has length {len}, outside the packet"),
                ));
            }
            let chunk_type = u16::try_from(chunk_type).unwrap_or(u16::MAX);
            if len - 6 < fixed_size(chunk_type) {
                return Err(error(
                    packet,
                    format!(
                        "chunk type {chunk_type} at byte {at} has {} bytes, {} needed",
                        len - 6,
                        fixed_size(chunk_type)
                    ),
                ));
            }
            payload |= chunk_type == CHUNK_PAYLOAD && len > 6;
            compressed |= chunk_type == CHUNK_COMPRESSED && len > 6;
            at += len;
        }
        Ok((payload, compressed))
    }

    /// Decode one HEP v3 packet (`number`: its 1-based number, for
    /// errors) into the SIP INVITE it carries, like [`super::CaptureReader`].
    /// `Ok(None)` for a packet that carries no INVITE (another SIP message,
    /// a keep-alive, RTCP, another protocol). A SIP payload longer than
    /// `max_message` bytes is refused.
    pub fn decode(
        p: &[u8],
        number: u64,
        max_message: usize,
    ) -> Result<Option<SipMessage>, CaptureError> {
        let (has_payload, compressed) = check(p, number)?;
        if !has_payload {
            if compressed {
                return Err(error(number, "compressed payloads are not supported"));
            }
            return Ok(None);
        }
        // The framing holds, so the crate's indexing stays in bounds; a
        // panic would still be a bug of the crate, caught and refused.
        let chunk = std::panic::catch_unwind(|| ::hep::parse_packet(p))
            .map_err(|_| error(number, "the HEP decoder failed on this packet"))?
            .map_err(|()| {
                error(
                    number,
                    "the payload is not UTF-8 text (or has under 3 bytes)",
                )
            })?;
        if chunk.proto_type != ::hep::CapProtoType::Sip
            || !super::is_invite(chunk.packet_payload.as_bytes())
        {
            return Ok(None);
        }
        if chunk.packet_payload.len() > max_message {
            return Err(error(
                number,
                format!(
                    "payload of {} bytes is longer than the {max_message}-byte limit",
                    chunk.packet_payload.len()
                ),
            ));
        }
        let (src, dst): (IpAddr, IpAddr) = match chunk.ip_protocol_family {
            10 => (chunk.ipv6_src_address.into(), chunk.ipv6_dst_address.into()),
            _ => (chunk.ipv4_src_address.into(), chunk.ipv4_dst_address.into()),
        };
        let micros = chunk.timestamp_micro_seconds_offset.min(999_999);
        Ok(Some(SipMessage {
            packet: number,
            time: Duration::new(u64::from(chunk.timestamp_seconds), micros * 1000),
            src: SocketAddr::new(src, chunk.proto_src_port),
            dst: SocketAddr::new(dst, chunk.proto_dst_port),
            transport: if chunk.ip_protocol_id == 6 {
                Transport::Tcp
            } else {
                Transport::Udp
            },
            bytes: chunk.packet_payload.into_bytes(),
        }))
    }

    #[cfg(test)]
    mod tests {
        #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
        use super::*;

        fn chunk(t: u16, payload: &[u8]) -> Vec<u8> {
            let mut v = Vec::new();
            v.extend_from_slice(&0u16.to_be_bytes());
            v.extend_from_slice(&t.to_be_bytes());
            v.extend_from_slice(&u16::try_from(6 + payload.len()).unwrap().to_be_bytes());
            v.extend_from_slice(payload);
            v
        }

        /// A HEP v3 packet as an SBC sends it (test encoder).
        pub(crate) fn packet(sip: &[u8], proto: u8, extra: &[u8]) -> Vec<u8> {
            let mut c = Vec::new();
            c.extend(chunk(1, &[2]));
            c.extend(chunk(2, &[17]));
            c.extend(chunk(3, &[192, 0, 2, 9]));
            c.extend(chunk(4, &[192, 0, 2, 100]));
            c.extend(chunk(7, &5060u16.to_be_bytes()));
            c.extend(chunk(8, &5062u16.to_be_bytes()));
            c.extend(chunk(9, &1_800_000_000u32.to_be_bytes()));
            c.extend(chunk(10, &250_000u32.to_be_bytes()));
            c.extend(chunk(11, &[proto]));
            c.extend_from_slice(extra);
            c.extend(chunk(15, sip));
            let mut p = b"HEP3".to_vec();
            p.extend_from_slice(&u16::try_from(6 + c.len()).unwrap().to_be_bytes());
            p.extend(c);
            p
        }

        const INVITE: &[u8] = b"INVITE sip:+12125550143@example.net SIP/2.0\r\nCall-ID: h1\r\nContent-Length: 0\r\n\r\n";

        #[test]
        fn decodes_an_invite() {
            let p = packet(INVITE, 1, &[]);
            assert_eq!(packet_len(&p, 1).unwrap(), Some(p.len()));
            let m = decode(&p, 7, 65_536).unwrap().unwrap();
            assert_eq!(m.packet, 7);
            assert_eq!(m.bytes, INVITE);
            assert_eq!(m.src, "192.0.2.9:5060".parse().unwrap());
            assert_eq!(m.dst, "192.0.2.100:5062".parse().unwrap());
            assert_eq!(m.time, Duration::new(1_800_000_000, 250_000_000));
            assert_eq!(m.transport, Transport::Udp);
        }

        #[test]
        fn skips_what_is_not_an_invite() {
            let p = packet(b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", 1, &[]);
            assert_eq!(decode(&p, 1, 65_536).unwrap(), None);
            let rtcp = packet(INVITE, 5, &[]);
            assert_eq!(decode(&rtcp, 1, 65_536).unwrap(), None);
            let mut keepalive = b"HEP3".to_vec();
            keepalive.extend_from_slice(&6u16.to_be_bytes());
            assert_eq!(decode(&keepalive, 1, 65_536).unwrap(), None);
        }

        #[test]
        fn refuses_broken_framing_without_panicking() {
            let good = packet(INVITE, 1, &[]);
            let mut cases: Vec<(Vec<u8>, &str)> = vec![
                (b"HEP".to_vec(), "shorter"),
                (b"HEP2\x00\x06".to_vec(), "no HEP3 magic"),
                (b"HEP3\x00\x03".to_vec(), "shorter than the header"),
                (good[..good.len() - 1].to_vec(), "bytes received"),
            ];
            // A chunk length that runs past the packet.
            let mut long = good.clone();
            long[10..12].copy_from_slice(&60_000u16.to_be_bytes());
            cases.push((long, "outside the packet"));
            // A chunk length below its own header.
            let mut short = good.clone();
            short[10..12].copy_from_slice(&2u16.to_be_bytes());
            cases.push((short, "outside the packet"));
            // A fixed-size chunk (IPv4 source) with 1 byte.
            cases.push((packet(INVITE, 1, &chunk(3, &[1])), "chunk type 3"));
            cases.push((packet(INVITE, 1, &chunk(20, &[1, 2])), "chunk type 20"));
            // Not UTF-8, too long, compressed.
            cases.push((packet(b"INVITE \xff\xfe", 1, &[]), "not UTF-8"));
            for (p, want) in &cases {
                let e = decode(p, 3, 65_536).unwrap_err().to_string();
                assert!(
                    e.contains(want) && e.contains("HEP packet 3"),
                    "{e} (want {want})"
                );
            }
            let e = decode(&good, 1, 10).unwrap_err().to_string();
            assert!(e.contains("limit"), "{e}");
            let mut c = packet(b"", 1, &chunk(16, b"gz"));
            let e = decode(&c, 1, 65_536).unwrap_err().to_string();
            assert!(e.contains("compressed"), "{e}");
            c.truncate(3);
            assert_eq!(packet_len(&c, 1).unwrap(), None);
            assert!(packet_len(b"XY", 1).is_err());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use etherparse::PacketBuilder;

    const INVITE: &[u8] = b"INVITE sip:+12125550143@example.net SIP/2.0\r\nCall-ID: abc\r\nContent-Length: 4\r\n\r\nbody";

    fn tcp_packet(seq: u32, payload: &[u8], syn: bool) -> Vec<u8> {
        let mut b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(5060, 5060, seq, 65535);
        if syn {
            b = b.syn();
        }
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        out
    }

    fn run(ex: &mut Extractor, frames: &[Vec<u8>]) -> Vec<SipMessage> {
        let mut out = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            ex.push(
                i as u64 + 1,
                Duration::from_secs(100),
                DataLink::ETHERNET,
                f,
                &mut out,
            );
        }
        out
    }

    #[test]
    fn frames_messages() {
        assert!(matches!(frame(INVITE, 1000), Framed::Message(n) if n == INVITE.len()));
        assert!(matches!(frame(&INVITE[..20], 1000), Framed::Incomplete));
        assert!(matches!(
            frame(&INVITE[..INVITE.len() - 1], 1000),
            Framed::Incomplete
        ));
        assert!(matches!(frame(b"\r\n\r\nINVITE", 1000), Framed::Skip(4)));
        // Joined mid-stream: skip to the next start line.
        let mut mid = b"tail of a body\r\n".to_vec();
        mid.extend_from_slice(INVITE);
        assert!(matches!(frame(&mid, 1000), Framed::Skip(16)));
        // Too large.
        assert!(matches!(frame(INVITE, 10), Framed::Skip(_)));
        // Bad Content-Length.
        let bad = b"INVITE sip:a SIP/2.0\r\nContent-Length: x\r\n\r\n";
        assert!(matches!(frame(bad, 1000), Framed::Skip(n) if n == bad.len()));
        // Compact form, LF only.
        let lf = b"INVITE sip:a SIP/2.0\nl: 2\n\nab";
        assert!(matches!(frame(lf, 1000), Framed::Message(n) if n == lf.len()));
    }

    #[test]
    fn tcp_out_of_order_and_retransmission() {
        let mut ex = Extractor::new(CaptureLimits::default());
        let (a, b) = INVITE.split_at(30);
        let (b, c) = b.split_at(20);
        let frames = vec![
            tcp_packet(999, b"", true),
            tcp_packet(1000 + 30, b, false), // out of order
            tcp_packet(1000, a, false),
            tcp_packet(1000, a, false), // retransmission
            tcp_packet(1000 + 50, c, false),
        ];
        let out = run(&mut ex, &frames);
        assert_eq!(out.len(), 1, "{:?}", ex.stats());
        assert_eq!(out[0].bytes, INVITE);
        assert_eq!(out[0].packet, 5);
        assert_eq!(out[0].transport, Transport::Tcp);
    }

    #[test]
    fn tcp_two_messages_in_one_segment_and_responses_skipped() {
        let mut ex = Extractor::new(CaptureLimits::default());
        let mut data = b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec();
        data.extend_from_slice(INVITE);
        data.extend_from_slice(INVITE);
        let out = run(&mut ex, &[tcp_packet(1, &data, false)]);
        assert_eq!(out.len(), 2);
        assert_eq!(ex.stats().sip_messages, 3);
    }

    #[test]
    fn tcp_buffers_are_bounded() {
        let limits = CaptureLimits {
            max_message: 100,
            max_flows: 1,
            ..CaptureLimits::default()
        };
        let mut ex = Extractor::new(limits);
        // A start line that never ends its headers.
        let mut junk = b"INVITE sip:a SIP/2.0\r\n".to_vec();
        junk.extend(std::iter::repeat_n(b'a', 200));
        let out = run(&mut ex, &[tcp_packet(1, &junk, false)]);
        assert!(out.is_empty());
        assert!(ex.stats().tcp_bytes_dropped > 0);
        assert!(ex.flows.values().all(|f| f.buf.len() <= 100));
        // A far-future segment beyond the pending bound resyncs.
        let out = run(&mut ex, &[tcp_packet(100_000, &[b'x'; 150], false)]);
        assert!(out.is_empty());
        assert!(ex
            .flows
            .values()
            .all(|f| f.buf.len() <= 100 && f.pending_bytes <= 100));
        // A second flow evicts the first (max_flows = 1).
        let mut other = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 3], [10, 0, 0, 2], 64)
            .tcp(5061, 5060, 1, 65535)
            .write(&mut other, INVITE)
            .unwrap();
        let out = run(&mut ex, &[other]);
        assert_eq!(out.len(), 1);
        assert_eq!(ex.flows.len(), 1);
    }

    #[test]
    fn udp_ipv6_and_non_sip() {
        let mut ex = Extractor::new(CaptureLimits::default());
        let mut v6 = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv6([1; 16], [2; 16], 64)
            .udp(5060, 5060)
            .write(&mut v6, INVITE)
            .unwrap();
        let mut dns = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([1, 1, 1, 1], [2, 2, 2, 2], 64)
            .udp(53, 53)
            .write(&mut dns, b"\x00\x01binary")
            .unwrap();
        let out = run(&mut ex, &[v6, dns, vec![0u8; 5]]);
        assert_eq!(out.len(), 1);
        assert!(out[0].src.is_ipv6());
        assert_eq!(ex.stats().undecodable, 1);
    }

    #[test]
    fn udp_ipv4_fragments_are_reassembled() {
        use etherparse::{Ethernet2Header, IpNumber, Ipv4Header, UdpHeader};
        let mut msg = b"INVITE sip:a SIP/2.0\r\nContent-Length: 3000\r\n\r\n".to_vec();
        msg.extend(std::iter::repeat_n(b'b', 3000));
        let udp = UdpHeader::with_ipv4_checksum(
            5060,
            5060,
            &Ipv4Header::new(0, 64, IpNumber::UDP, [1, 1, 1, 1], [2, 2, 2, 2]).unwrap(),
            &msg,
        )
        .unwrap();
        let mut l4 = udp.to_bytes().to_vec();
        l4.extend_from_slice(&msg);
        let mut frames = Vec::new();
        for (i, part) in l4.chunks(1480).enumerate() {
            let mut ip = Ipv4Header::new(
                part.len() as u16,
                64,
                IpNumber::UDP,
                [1, 1, 1, 1],
                [2, 2, 2, 2],
            )
            .unwrap();
            ip.identification = 7;
            ip.more_fragments = (i + 1) * 1480 < l4.len();
            ip.fragment_offset = etherparse::IpFragOffset::try_new((i * 1480 / 8) as u16).unwrap();
            ip.header_checksum = ip.calc_header_checksum();
            let mut f = Vec::new();
            Ethernet2Header {
                source: [1; 6],
                destination: [2; 6],
                ether_type: etherparse::EtherType::IPV4,
            }
            .write(&mut f)
            .unwrap();
            ip.write(&mut f).unwrap();
            f.extend_from_slice(part);
            frames.push(f);
        }
        let mut ex = Extractor::new(CaptureLimits::default());
        let out = run(&mut ex, &frames);
        assert_eq!(out.len(), 1, "{:?}", ex.stats());
        assert_eq!(out[0].bytes, msg);
        assert_eq!(out[0].packet, 3);
        assert_eq!(ex.stats().fragments, 3);
    }

    #[test]
    fn timestamps_and_magic() {
        assert_eq!(ts_units(None), 1_000_000);
        assert_eq!(ts_units(Some(9)), 1_000_000_000);
        assert_eq!(ts_units(Some(0x80 | 10)), 1024);
        assert_eq!(
            pcapng_time(Duration::from_nanos(1_500_000), 1_000_000),
            Duration::from_millis(1500)
        );
        let e = CaptureReader::new(&b"hello world"[..], CaptureLimits::default()).unwrap_err();
        assert!(matches!(e, CaptureError::UnknownFormat { .. }));
        let e = CaptureReader::new(&b""[..], CaptureLimits::default()).unwrap_err();
        assert!(e.to_string().contains("not a pcap"));
    }
}
