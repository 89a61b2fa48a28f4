//! An entry of `http.trusted_proxies`: one address or a CIDR range, IPv4 or IPv6, matched in canonical form.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The addresses that share their first `prefix` bits with `network`; a single address is the range of its
/// full length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// `10.0.0.5`, `10.0.0.0/8`, `fd00::1`, `fd00::/8`. Bits set after the prefix are refused (`10.0.0.5/8` is
    /// more likely a typo than `10.0.0.0/8`). An IPv4-mapped IPv6 range of /96 or longer is kept as the IPv4
    /// range it is, since addresses are compared in canonical form.
    pub fn parse(entry: &str) -> Result<Self, String> {
        let (addr, prefix) = match entry.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (entry, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| format!("{entry:?} is not an IP address or a CIDR range"))?;
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= bits && p.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => return Err(format!("{entry:?} has a prefix length that is not a number from 0 to {bits}")),
            },
        };
        let network = masked(addr, prefix);
        if network != addr {
            return Err(format!("{entry:?} has bits set after its prefix (the range is {network}/{prefix})"));
        }
        Ok(match addr {
            IpAddr::V6(v6) if prefix >= 96 => match v6.to_ipv4_mapped() {
                Some(v4) => Self { network: IpAddr::V4(v4), prefix: prefix - 96 },
                None => Self { network, prefix },
            },
            _ => Self { network, prefix },
        })
    }

    /// Whether `ip`, in canonical form (an IPv4-mapped IPv6 address is its IPv4 address), is in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.network.is_ipv4() && masked(ip, self.prefix) == self.network
    }
}

/// `addr` with every bit after the first `prefix` cleared; `prefix` is at most the address's length.
fn masked(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        // A shift by the whole width (prefix 0) is no shift to `checked_shl`: every bit is cleared then.
        IpAddr::V4(a) => {
            Ipv4Addr::from(u32::from(a) & u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)).into()
        }
        IpAddr::V6(a) => {
            Ipv6Addr::from(u128::from(a) & u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)).into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn range(s: &str) -> IpRange {
        IpRange::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn a_single_address_matches_only_itself() {
        for (r, yes, no) in [
            ("10.0.0.5", "10.0.0.5", "10.0.0.6"),
            ("10.0.0.5/32", "::ffff:10.0.0.5", "10.0.0.4"),
            ("fd00::1", "fd00::1", "fd00::2"),
            ("fd00::1/128", "fd00::1", "fd00::1:1"),
        ] {
            assert!(range(r).contains(ip(yes)), "{r} {yes}");
            assert!(!range(r).contains(ip(no)), "{r} {no}");
        }
        assert_eq!(range("10.0.0.5"), range("10.0.0.5/32"));
    }

    #[test]
    fn a_cidr_range_matches_its_prefix() {
        let r = range("10.0.0.0/8");
        for inside in ["10.0.0.0", "10.244.3.17", "10.255.255.255", "::ffff:10.1.2.3"] {
            assert!(r.contains(ip(inside)), "{inside}");
        }
        for outside in ["11.0.0.0", "9.255.255.255", "::a00:1", "fd00::a00:1"] {
            assert!(!r.contains(ip(outside)), "{outside}");
        }
        let r = range("fd00::/8");
        assert!(r.contains(ip("fd12:3456::1")) && r.contains(ip("fdff:ffff::ffff")));
        assert!(!r.contains(ip("fe80::1")) && !r.contains(ip("10.0.0.1")));
        assert!(
            range("172.16.0.0/12").contains(ip("172.31.255.1")) && !range("172.16.0.0/12").contains(ip("172.32.0.1"))
        );
    }

    #[test]
    fn a_zero_prefix_matches_its_whole_family() {
        assert!(range("0.0.0.0/0").contains(ip("203.0.113.9")) && range("0.0.0.0/0").contains(ip("::ffff:1.2.3.4")));
        assert!(!range("0.0.0.0/0").contains(ip("2001:db8::1")));
        assert!(range("::/0").contains(ip("2001:db8::1")) && !range("::/0").contains(ip("203.0.113.9")));
    }

    #[test]
    fn ipv4_mapped_ranges_are_their_ipv4_range() {
        assert_eq!(range("::ffff:10.0.0.0/104"), range("10.0.0.0/8"));
        assert_eq!(range("::ffff:10.0.0.5"), range("10.0.0.5"));
        assert!(range("::ffff:10.0.0.0/104").contains(ip("10.9.8.7")));
    }

    #[test]
    fn bad_entries_are_refused_saying_why() {
        for (bad, why) in [
            ("10.0.0.0/33", "0 to 32"),
            ("fd00::/129", "0 to 128"),
            ("10.0.0.0/", "prefix length"),
            ("10.0.0.0/-1", "prefix length"),
            ("10.0.0.0/+8", "prefix length"),
            ("10.0.0.0/8/8", "prefix length"),
            ("10.0.0.0/ 8", "prefix length"),
            ("10.0.0.0/eight", "prefix length"),
            ("10.0.0.0/256", "prefix length"),
            ("10.0.0.5/8", "the range is 10.0.0.0/8"),
            ("fd00::1/8", "the range is fd00::/8"),
            ("10.0.0/8", "not an IP address"),
            ("/8", "not an IP address"),
            ("proxy.internal", "not an IP address"),
            ("", "not an IP address"),
        ] {
            let e = IpRange::parse(bad).unwrap_err();
            assert!(e.contains(why) && e.contains(&format!("{bad:?}")), "{bad}: {e}");
        }
    }
}
