#![no_main]
//! pcap / pcapng reading (shaken::capture, feature `capture`) as
//! `shaken verify --pcap` drives it: `CaptureReader` over the bytes, every
//! INVITE it yields parsed as a SIP request.
//!
//! Input: a capture file as is when it starts with a pcap or pcapng magic
//! number (the seeds in seeds/pcap are whole captures). Otherwise the first
//! byte picks a file header written by pcap-file (bit 0: pcap or pcapng; the
//! rest: the link type) and the remaining bytes follow it as packet records
//! or blocks, so the fuzzer need not find a magic number first.
//!
//! Odd-length inputs run with small limits (short messages, two flows, two
//! fragment sets) so the eviction and overflow paths are reached.
//!
//! Asserted: no panic; every message is an INVITE no longer than
//! `max_message` and names a packet the reader has read; a read error is
//! the last item; the statistics agree with what was yielded.
use libfuzzer_sys::fuzz_target;
use pcap_file::pcap::{PcapHeader, PcapWriter};
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock;
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;
use shaken::capture::{CaptureLimits, CaptureReader};
use shaken::sip::SipRequest;
use shaken::Limits;
use std::time::Duration;

/// The link types the extractor decodes, and one it does not.
const LINKS: [DataLink; 8] = [
    DataLink::ETHERNET,
    DataLink::LINUX_SLL,
    DataLink::RAW,
    DataLink::IPV4,
    DataLink::IPV6,
    DataLink::NULL,
    DataLink::LOOP,
    DataLink::USB_LINUX,
];

fn is_capture(data: &[u8]) -> bool {
    matches!(
        data.get(..4),
        Some([0x0a, 0x0d, 0x0d, 0x0a])
            | Some([0xd4, 0xc3, 0xb2, 0xa1])
            | Some([0xa1, 0xb2, 0xc3, 0xd4])
            | Some([0x4d, 0x3c, 0xb2, 0xa1])
            | Some([0xa1, 0xb2, 0x3c, 0x4d])
    )
}

/// A pcap or pcapng file header for `link`, followed by `rest`.
fn wrapped(pcapng: bool, link: DataLink, rest: &[u8]) -> Option<Vec<u8>> {
    let mut file = if pcapng {
        let mut w = PcapNgWriter::new(Vec::new()).ok()?;
        w.write_pcapng_block(InterfaceDescriptionBlock {
            linktype: link,
            snaplen: 0,
            options: vec![],
        })
        .ok()?;
        w.into_inner()
    } else {
        let header = PcapHeader {
            datalink: link,
            ..PcapHeader::default()
        };
        PcapWriter::with_header(Vec::new(), header).ok()?.into_writer()
    };
    file.extend_from_slice(rest);
    Some(file)
}

fuzz_target!(|data: &[u8]| {
    let file = if is_capture(data) {
        data.to_vec()
    } else {
        let Some((&mode, rest)) = data.split_first() else {
            return;
        };
        let link = LINKS[usize::from(mode >> 1) % LINKS.len()];
        let Some(f) = wrapped(mode & 1 == 1, link, rest) else {
            return;
        };
        f
    };
    let limits = if data.len() % 2 == 1 {
        CaptureLimits {
            max_message: 700,
            max_flows: 2,
            max_fragment_sets: 2,
            idle: Duration::from_secs(1),
        }
    } else {
        CaptureLimits::default()
    };
    let max = limits.max_message;
    let Ok(mut reader) = CaptureReader::new(file.as_slice(), limits) else {
        return;
    };
    let sip_limits = Limits::default();
    let mut invites = 0u64;
    let mut last_packet = 0u64;
    while let Some(item) = reader.next() {
        match item {
            Ok(m) => {
                invites += 1;
                assert!(m.bytes.len() <= max, "{} bytes > {max}", m.bytes.len());
                assert!(m.bytes.starts_with(b"INVITE "));
                assert!(m.packet >= 1 && m.packet <= reader.stats().packets);
                assert!(m.packet >= last_packet, "out of capture order");
                last_packet = m.packet;
                if let Ok(req) = SipRequest::parse(&m.bytes, &sip_limits) {
                    let _ = req.identity_headers();
                    let _ = req.from();
                }
            }
            Err(_) => {
                assert!(reader.next().is_none(), "items after a read error");
                break;
            }
        }
    }
    let stats = reader.stats();
    assert_eq!(stats.invites, invites);
    assert!(stats.invites <= stats.sip_messages);
});
