//! Networks to places: longest-prefix match over a hash per prefix length, so a lookup costs at
//! most one hash probe per distinct prefix length in the table.

use std::collections::HashMap;
use std::net::IpAddr;

/// A network written as `a.b.c.d/n`, `x::/n` or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    v6: bool,
    prefix: u8,
    bits: u128,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| format!("{addr:?} is not an IP address"))?;
        let (v6, bits, max) = split(ip);
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("prefix {p:?} is not a number in 0..={max}"))?,
        };
        Ok(Cidr {
            v6,
            prefix,
            bits: mask(bits, prefix, max),
        })
    }
}

fn split(ip: IpAddr) -> (bool, u128, u8) {
    match ip {
        IpAddr::V4(a) => (false, u128::from(u32::from(a)), 32),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => (false, u128::from(u32::from(v4)), 32),
            None => (true, u128::from(a), 128),
        },
    }
}

fn mask(bits: u128, prefix: u8, max: u8) -> u128 {
    if prefix == 0 {
        return 0;
    }
    let shift = u32::from(max - prefix);
    (bits >> shift) << shift
}

/// Maps networks to values of type `T`; the most specific network wins.
#[derive(Debug, Clone)]
pub struct NetTable<T> {
    entries: HashMap<Cidr, T>,
    /// Distinct (v6, prefix) pairs present, longest first.
    prefixes: Vec<(bool, u8)>,
}

impl<T> Default for NetTable<T> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            prefixes: Vec::new(),
        }
    }
}

impl<T> NetTable<T> {
    /// Adds a network; returns false when the same network was already present.
    pub fn insert(&mut self, cidr: Cidr, value: T) -> bool {
        if self.entries.contains_key(&cidr) {
            return false;
        }
        self.entries.insert(cidr, value);
        if !self.prefixes.contains(&(cidr.v6, cidr.prefix)) {
            self.prefixes.push((cidr.v6, cidr.prefix));
            self.prefixes.sort_by_key(|p| std::cmp::Reverse(p.1));
        }
        true
    }

    pub fn lookup(&self, ip: IpAddr) -> Option<&T> {
        let (v6, bits, max) = split(ip);
        self.prefixes
            .iter()
            .filter(|(pv6, _)| *pv6 == v6)
            .find_map(|&(_, prefix)| {
                self.entries.get(&Cidr {
                    v6,
                    prefix,
                    bits: mask(bits, prefix, max),
                })
            })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_specific_network_wins_and_v4_mapped_v6_matches_v4() {
        let mut t = NetTable::default();
        assert!(t.insert(Cidr::parse("10.0.0.0/8").unwrap(), "corp"));
        assert!(t.insert(Cidr::parse("10.1.0.0/16").unwrap(), "paris"));
        assert!(t.insert(Cidr::parse("2001:db8::/32").unwrap(), "v6"));
        assert!(!t.insert(Cidr::parse("10.1.9.9/16").unwrap(), "dup"));
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(t.lookup(ip("10.1.2.3")), Some(&"paris"));
        assert_eq!(t.lookup(ip("10.2.2.3")), Some(&"corp"));
        assert_eq!(t.lookup(ip("::ffff:10.1.0.1")), Some(&"paris"));
        assert_eq!(t.lookup(ip("2001:db8:1::1")), Some(&"v6"));
        assert_eq!(t.lookup(ip("192.0.2.1")), None);
    }

    #[test]
    fn bad_networks_are_refused_with_the_reason() {
        assert!(Cidr::parse("10.0.0.0/33").unwrap_err().contains("0..=32"));
        assert!(Cidr::parse("ten/8").unwrap_err().contains("not an IP"));
        assert_eq!(
            Cidr::parse("0.0.0.0/0").unwrap(),
            Cidr::parse("1.2.3.4/0").unwrap()
        );
    }
}
