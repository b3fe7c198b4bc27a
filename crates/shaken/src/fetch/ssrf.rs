//! SSRF guard: which addresses an x5u/CRL fetch may connect to.
//!
//! [`blocked_range`] is a pure classification of one address. [`GuardedResolver`]
//! plugs it into reqwest's DNS step, so the check applies to the addresses the
//! connection is actually made to (no time-of-check/time-of-use gap). IP
//! literals in URLs never reach the resolver and are checked before any
//! connection by the fetcher.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::FetchError;

/// Returns the name of the non-public range `ip` is in, or `None` when the
/// address is public (globally routable unicast) and may be fetched from.
///
/// Blocked (specs §7 "x5u SSRF"): loopback, RFC 1918, link-local (including
/// the 169.254.169.254 cloud metadata address), CGNAT 100.64/10, "this
/// network" 0/8, IETF protocol assignments 192.0.0/24, documentation and
/// benchmark ranges, multicast, reserved 240/4, broadcast; for IPv6:
/// unspecified, loopback, IPv4-mapped and IPv4-compatible addresses, NAT64
/// and 6to4 addresses embedding a blocked IPv4 address, Teredo, discard-only,
/// unique-local fc00::/7, link-local fe80::/10, site-local fec0::/10,
/// documentation 2001:db8::/32, multicast ff00::/8.
pub fn blocked_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => blocked_v4(v4),
        IpAddr::V6(v6) => blocked_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

fn blocked_v4(ip: Ipv4Addr) -> Option<&'static str> {
    const RANGES: &[([u8; 4], u32, &str)] = &[
        ([0, 0, 0, 0], 8, "unspecified (\"this network\")"),
        ([10, 0, 0, 0], 8, "private (RFC 1918)"),
        ([100, 64, 0, 0], 10, "shared CGNAT (RFC 6598)"),
        ([127, 0, 0, 0], 8, "loopback"),
        ([169, 254, 0, 0], 16, "link-local (incl. cloud metadata)"),
        ([172, 16, 0, 0], 12, "private (RFC 1918)"),
        ([192, 0, 0, 0], 24, "IETF protocol assignment"),
        ([192, 0, 2, 0], 24, "documentation"),
        ([192, 88, 99, 0], 24, "6to4 relay anycast"),
        ([192, 168, 0, 0], 16, "private (RFC 1918)"),
        ([198, 18, 0, 0], 15, "benchmarking"),
        ([198, 51, 100, 0], 24, "documentation"),
        ([203, 0, 113, 0], 24, "documentation"),
        ([224, 0, 0, 0], 4, "multicast"),
        ([255, 255, 255, 255], 32, "broadcast"),
        ([240, 0, 0, 0], 4, "reserved"),
    ];
    RANGES
        .iter()
        .find(|(net, prefix, _)| in_v4(ip, *net, *prefix))
        .map(|(_, _, name)| *name)
}

fn in_v6(ip: Ipv6Addr, net: Ipv6Addr, prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    };
    (u128::from(ip) & mask) == (u128::from(net) & mask)
}

fn blocked_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    let bits = u128::from(ip);
    // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (deprecated compatible): whatever
    // the IPv4 address, a real STI-CR never publishes such an AAAA record, and
    // some stacks connect to the embedded IPv4 address.
    if bits >> 32 == 0xffff {
        return Some("IPv4-mapped IPv6");
    }
    if bits >> 32 == 0 {
        return Some("IPv4-compatible IPv6");
    }
    let net = |s: [u16; 8]| Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]);
    // NAT64 well-known prefix 64:ff9b::/96 embeds an IPv4 address in the last 32 bits.
    if in_v6(ip, net([0x64, 0xff9b, 0, 0, 0, 0, 0, 0]), 96) {
        let v4 = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
        return blocked_v4(v4).map(|_| "NAT64 of a non-public IPv4");
    }
    // 6to4 2002::/16 embeds an IPv4 address in bits 16..48.
    if in_v6(ip, net([0x2002, 0, 0, 0, 0, 0, 0, 0]), 16) {
        let v4 = Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32);
        return blocked_v4(v4).map(|_| "6to4 of a non-public IPv4");
    }
    const RANGES: &[([u16; 8], u32, &str)] = &[
        ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, "local-use NAT64"),
        ([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "discard-only"),
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, "Teredo"),
        ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "documentation"),
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "unique-local"),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "link-local"),
        ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "site-local"),
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "multicast"),
    ];
    RANGES
        .iter()
        .find(|(n, prefix, _)| in_v6(ip, net(*n), *prefix))
        .map(|(_, _, name)| *name)
}

/// Checks an IP literal host before any connection.
pub(crate) fn check_literal(host: &str, ip: IpAddr) -> Result<(), FetchError> {
    match blocked_range(ip) {
        Some(range) => Err(FetchError::PrivateAddress {
            host: host.to_string(),
            addr: ip,
            range,
        }),
        None => Ok(()),
    }
}

/// Keeps the public addresses of a resolution; errors when none is left.
pub(crate) fn filter_resolved(
    host: &str,
    addrs: impl IntoIterator<Item = SocketAddr>,
) -> Result<Vec<SocketAddr>, FetchError> {
    let mut kept = Vec::new();
    let mut first_refused = None;
    for a in addrs {
        match blocked_range(a.ip()) {
            None => kept.push(a),
            Some(range) => {
                if first_refused.is_none() {
                    first_refused = Some((a.ip(), range));
                }
            }
        }
    }
    if kept.is_empty() {
        return Err(match first_refused {
            Some((addr, range)) => FetchError::PrivateAddress {
                host: host.to_string(),
                addr,
                range,
            },
            None => FetchError::Dns {
                host: host.to_string(),
                reason: "no address found".to_string(),
            },
        });
    }
    if let Some((addr, range)) = first_refused {
        tracing::warn!(%host, %addr, range, "dropped non-public addresses from the DNS answer");
    }
    Ok(kept)
}

/// A reqwest resolver that resolves with the system resolver and, when the
/// guard is on, drops non-public addresses (errors with
/// [`FetchError::PrivateAddress`] when none is left).
#[derive(Debug, Clone, Copy)]
pub(crate) struct GuardedResolver {
    /// `true`: refuse non-public addresses.
    pub(crate) guard: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.guard;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let resolved = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| FetchError::Dns {
                    host: host.clone(),
                    reason: e.to_string(),
                })?;
            let addrs: Vec<SocketAddr> = if guard {
                filter_resolved(&host, resolved)?
            } else {
                resolved.collect()
            };
            let out: Addrs = Box::new(addrs.into_iter());
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn b(s: &str) -> Option<&'static str> {
        blocked_range(s.parse().unwrap())
    }

    #[test]
    fn ipv4_blocked_ranges() {
        for (ip, want) in [
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("10.0.0.5", "RFC 1918"),
            ("10.255.255.255", "RFC 1918"),
            ("172.16.0.1", "RFC 1918"),
            ("172.31.255.254", "RFC 1918"),
            ("192.168.1.1", "RFC 1918"),
            ("100.64.0.1", "CGNAT"),
            ("100.127.255.255", "CGNAT"),
            ("127.0.0.1", "loopback"),
            ("127.1.2.3", "loopback"),
            ("169.254.169.254", "link-local"),
            ("169.254.0.1", "link-local"),
            ("192.0.0.8", "IETF"),
            ("192.0.2.1", "documentation"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.9", "documentation"),
            ("198.18.0.1", "benchmarking"),
            ("198.19.255.255", "benchmarking"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("240.0.0.1", "reserved"),
            ("255.255.255.255", "broadcast"),
        ] {
            let got = b(ip).unwrap_or_else(|| panic!("{ip} should be blocked"));
            assert!(got.contains(want), "{ip}: {got} does not mention {want}");
        }
    }

    #[test]
    fn ipv4_public_allowed() {
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "172.15.255.255",
            "172.32.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "192.169.0.1",
            "93.184.216.34",
            "223.255.255.255",
            "11.0.0.0",
            "169.253.255.255",
        ] {
            assert_eq!(b(ip), None, "{ip}");
        }
    }

    #[test]
    fn ipv6_blocked_ranges() {
        for (ip, want) in [
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("::ffff:127.0.0.1", "IPv4-mapped"),
            ("::ffff:10.0.0.5", "IPv4-mapped"),
            ("::ffff:8.8.8.8", "IPv4-mapped"),
            ("::127.0.0.1", "IPv4-compatible"),
            ("64:ff9b::a9fe:a9fe", "NAT64"),
            ("64:ff9b:1::1", "NAT64"),
            ("2002:7f00:1::1", "6to4"),
            ("2002:a00:5::1", "6to4"),
            ("2001::1", "Teredo"),
            ("2001:db8::1", "documentation"),
            ("100::1", "discard"),
            ("fc00::1", "unique-local"),
            ("fd12:3456::1", "unique-local"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("fec0::1", "site-local"),
            ("ff02::1", "multicast"),
            ("ff05::2", "multicast"),
        ] {
            let got = b(ip).unwrap_or_else(|| panic!("{ip} should be blocked"));
            assert!(got.contains(want), "{ip}: {got} does not mention {want}");
        }
    }

    #[test]
    fn ipv6_public_allowed() {
        for ip in [
            "2606:4700:4700::1111",
            "2a00:1450:4007:80c::200e",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2001:4860:4860::8888",
        ] {
            assert_eq!(b(ip), None, "{ip}");
        }
    }

    #[test]
    fn literal_check_names_host_and_range() {
        let e =
            check_literal("[::ffff:127.0.0.1]", "::ffff:127.0.0.1".parse().unwrap()).unwrap_err();
        assert_eq!(e.code(), "fetch-private-address");
        assert!(check_literal("8.8.8.8", "8.8.8.8".parse().unwrap()).is_ok());
    }

    #[test]
    fn filter_keeps_public_and_refuses_all_private() {
        let a: SocketAddr = "8.8.8.8:0".parse().unwrap();
        let p: SocketAddr = "10.0.0.5:0".parse().unwrap();
        assert_eq!(filter_resolved("h", [p, a]).unwrap(), vec![a]);
        match filter_resolved("h", [p]).unwrap_err() {
            FetchError::PrivateAddress { host, addr, .. } => {
                assert_eq!(host, "h");
                assert_eq!(addr, p.ip());
            }
            e => panic!("{e}"),
        }
        assert_eq!(filter_resolved("h", []).unwrap_err().code(), "fetch-dns");
    }

    #[tokio::test]
    async fn resolver_refuses_localhost() {
        let r = GuardedResolver { guard: true };
        let name: Name = "localhost".parse().unwrap();
        let err = match r.resolve(name).await {
            Ok(_) => panic!("localhost must be refused"),
            Err(e) => e,
        };
        let fe = err.downcast_ref::<FetchError>().unwrap();
        assert_eq!(fe.code(), "fetch-private-address");
        let open = GuardedResolver { guard: false };
        let addrs: Vec<_> = open
            .resolve("localhost".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()));
    }
}
