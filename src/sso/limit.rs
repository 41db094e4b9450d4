//! A per-address budget for `GET /saml/login`: it is unsigned and stores a pending
//! AuthnRequest id for five minutes, so without a budget one client could fill the store as
//! fast as the connection caps let it. Counted per source address (an IPv6 client per /64, the
//! block one host usually holds) in fixed one-minute windows, on this node; the budget is
//! `[saml] sign_in_requests_per_minute`.

use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

/// The window, seconds.
const WINDOW: i64 = 60;

/// Most addresses counted at once; past it, stale windows are dropped, and a new address is
/// refused while every counted one is in the current window (fail closed).
pub const MAX_ADDRESSES: usize = 100_000;

/// Requests per address per window.
#[derive(Debug)]
pub struct PerAddress {
    max: u32,
    counts: Mutex<crate::FastMap<IpAddr, (i64, u32)>>,
}

/// The address a budget is kept for: IPv4 as it is, IPv6 by its /64.
fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

impl PerAddress {
    /// A budget of `max` requests per address per minute; `0` counts nothing (no limit).
    #[must_use]
    pub fn new(max: u32) -> Self {
        Self {
            max,
            counts: Mutex::new(crate::FastMap::default()),
        }
    }

    /// Counts a request from `ip` at `now` (Unix seconds); `false` when its budget is spent.
    pub fn allow(&self, ip: IpAddr, now: i64) -> bool {
        if self.max == 0 {
            return true;
        }
        let window = now.div_euclid(WINDOW);
        let key = bucket(ip);
        let mut m = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if m.len() >= MAX_ADDRESSES && !m.contains_key(&key) {
            m.retain(|_, (w, _)| *w == window);
            if m.len() >= MAX_ADDRESSES {
                return false;
            }
        }
        let e = m.entry(key).or_insert((window, 0));
        if e.0 != window {
            *e = (window, 0);
        }
        if e.1 >= self.max {
            return false;
        }
        e.1 += 1;
        true
    }

    /// Drops the counts of past windows (the server's purger, every minute).
    pub fn purge(&self, now: i64) {
        let window = now.div_euclid(WINDOW);
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, (w, _)| *w == window);
    }

    /// Addresses counted now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no address is counted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse()
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }

    #[test]
    fn a_budget_per_address_per_minute() {
        let l = PerAddress::new(3);
        let t = 1_700_000_080; // 40 s into a window (1_700_000_040 starts one)
        assert!((0..3).all(|_| l.allow(ip("192.0.2.1"), t)));
        assert!(!l.allow(ip("192.0.2.1"), t + 5), "spent");
        assert!(
            l.allow(ip("192.0.2.2"), t + 5),
            "another address has its own"
        );
        assert!(
            l.allow(ip("192.0.2.1"), t + 20),
            "the next window starts afresh"
        );
    }

    #[test]
    fn an_ipv6_host_is_counted_by_its_64_block() {
        let l = PerAddress::new(2);
        let t = 1_700_000_000;
        assert!(l.allow(ip("2001:db8:1:2::1"), t));
        assert!(l.allow(ip("2001:db8:1:2:ffff::9"), t));
        assert!(!l.allow(ip("2001:db8:1:2:aaaa::5"), t), "same /64");
        assert!(l.allow(ip("2001:db8:1:3::1"), t), "another /64");
        assert!(
            l.allow(ip("::ffff:192.0.2.7"), t),
            "a mapped IPv4 is that IPv4"
        );
        assert!(l.allow(ip("192.0.2.7"), t));
        assert!(!l.allow(ip("192.0.2.7"), t));
    }

    #[test]
    fn purge_keeps_only_the_current_window_and_zero_is_no_limit() {
        let l = PerAddress::new(1);
        assert!(l.allow(ip("192.0.2.1"), 0));
        assert!(l.allow(ip("192.0.2.2"), 61));
        l.purge(61);
        assert_eq!(l.len(), 1);
        let off = PerAddress::new(0);
        assert!((0..1000).all(|_| off.allow(ip("192.0.2.1"), 0)));
        assert!(off.is_empty());
    }
}
