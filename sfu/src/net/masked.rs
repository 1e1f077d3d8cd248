//! Client addresses as a log line may carry them. An IP address locates a person (an
//! operator can name the subscriber behind it), and the logs of a mediation service are read
//! by more people than its case files, so a log shows only the network a client came from:
//! the first three octets of an IPv4 address (its /24, `203.0.113.x`), the first three groups
//! of an IPv6 one (its /48, `2001:db8:85a3:x:x:x:x:x`). An IPv4 address that reaches us
//! mapped into IPv6 (`::ffff:203.0.113.7`, from a dual-stack socket) is shown as the IPv4
//! address it is, so it is masked the same way.
//!
//! The port stays: it is not personal (it names a socket, not a person) and it is what ties
//! the lines of one connection together when reading a log. Loopback and private addresses are
//! masked like any other: an exception would be a rule that a test on loopback cannot check.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// An address shown masked by `Display` and `Debug` alike, so `%` and `?` in a `tracing`
/// call are both safe: `tracing::debug!(from = %Masked(addr), "…")`.
#[derive(Clone, Copy)]
pub(crate) struct Masked<A>(pub A);

fn v4(ip: Ipv4Addr, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let [a, b, c, _] = ip.octets();
    write!(f, "{a}.{b}.{c}.x")
}

fn v6(ip: Ipv6Addr, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let [a, b, c, ..] = ip.segments();
    write!(f, "{a:x}:{b:x}:{c:x}:x:x:x:x:x")
}

impl fmt::Display for Masked<IpAddr> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(ip) => v4(ip, f),
            IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
                Some(ip) => v4(ip, f),
                None => v6(ip, f),
            },
        }
    }
}

impl fmt::Display for Masked<SocketAddr> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ip = match self.0.ip() {
            IpAddr::V6(ip) => ip.to_ipv4_mapped().map_or(IpAddr::V6(ip), IpAddr::V4),
            ip => ip,
        };
        match ip {
            IpAddr::V4(_) => write!(f, "{}:{}", Masked(ip), self.0.port()),
            IpAddr::V6(_) => write!(f, "[{}]:{}", Masked(ip), self.0.port()),
        }
    }
}

impl<A> fmt::Debug for Masked<A>
where
    Self: fmt::Display,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown<A>(addr: A) -> (String, String)
    where
        Masked<A>: fmt::Display + fmt::Debug,
        A: Copy,
    {
        (format!("{}", Masked(addr)), format!("{:?}", Masked(addr)))
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("a test address")
    }

    fn socket(s: &str) -> SocketAddr {
        s.parse().expect("a test socket address")
    }

    #[test]
    fn ipv4_keeps_its_24() {
        let (display, debug) = shown(ip("203.0.113.7"));
        assert_eq!(display, "203.0.113.x");
        assert_eq!(debug, display);
        assert_eq!(shown(ip("127.0.0.1")).0, "127.0.0.x");
    }

    #[test]
    fn ipv6_keeps_its_48() {
        let (display, debug) = shown(ip("2001:db8:85a3:1234:8a2e:370:7334:1"));
        assert_eq!(display, "2001:db8:85a3:x:x:x:x:x");
        assert_eq!(debug, display);
        assert_eq!(shown(ip("::1")).0, "0:0:0:x:x:x:x:x");
    }

    #[test]
    fn ipv4_mapped_into_ipv6_is_masked_as_ipv4() {
        assert_eq!(shown(ip("::ffff:203.0.113.7")).0, "203.0.113.x");
        assert_eq!(
            shown(socket("[::ffff:203.0.113.7]:5000")).0,
            "203.0.113.x:5000"
        );
    }

    #[test]
    fn socket_addresses_keep_their_port() {
        let (display, debug) = shown(socket("198.51.100.23:54321"));
        assert_eq!(display, "198.51.100.x:54321");
        assert_eq!(debug, display);
        assert_eq!(
            shown(socket("[2001:db8:85a3::8a2e:370:7334]:443")).0,
            "[2001:db8:85a3:x:x:x:x:x]:443"
        );
    }

    #[test]
    fn nothing_after_the_kept_prefix_survives() {
        for (addr, hidden) in [
            ("203.0.113.77:9", "77"),
            ("[2001:db8:85a3:4444:5555:6666:7777:8888]:9", "4444"),
        ] {
            let (display, debug) = shown(socket(addr));
            for text in [display, debug] {
                assert!(!text.contains(hidden), "{text} shows {hidden} of {addr}");
                assert!(!text.contains(addr), "{text} shows {addr}");
            }
        }
    }
}
