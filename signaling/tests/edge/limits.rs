//! Fixed-window rate limits, the bound on their tables, and whose address counts behind a
//! reverse proxy.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use accord_signaling::Error;
use accord_signaling::limits::{ClientAddress, Limiter, MAX_KEYS};
use axum::http::HeaderMap;

#[test]
fn a_window_refuses_past_its_limit_and_opens_again_when_it_ends() {
    let limiter = Limiter::new(3, Duration::from_secs(60));
    let start = Instant::now();
    for _ in 0..3 {
        assert!(limiter.hit("a", start).is_ok());
    }
    match limiter.hit("a", start + Duration::from_secs(20)) {
        Err(Error::TooManyRequests {
            retry_after_seconds,
        }) => assert_eq!(retry_after_seconds, 40),
        other => panic!("expected 429, got {other:?}"),
    }
    assert!(limiter.check("a", start + Duration::from_secs(59)).is_err());
    // Another key is not affected.
    assert!(limiter.hit("b", start).is_ok());
    assert!(limiter.check("a", start + Duration::from_secs(60)).is_ok());
    assert!(limiter.hit("a", start + Duration::from_secs(60)).is_ok());
}

#[test]
fn the_table_stays_bounded() {
    let limiter = Limiter::new(1, Duration::from_secs(60));
    let start = Instant::now();
    for i in 0..MAX_KEYS + 10 {
        let at = start + Duration::from_millis(i as u64);
        let _ = limiter.hit(&format!("k{i}"), at);
    }
    assert!(limiter.len() <= MAX_KEYS, "{}", limiter.len());
}

fn forwarded(values: &[&str]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for value in values {
        headers.append(
            "x-forwarded-for",
            value.parse().expect("a valid header value"),
        );
    }
    headers
}

#[test]
fn forwarded_for_counts_only_when_trusted_and_then_its_last_hop() {
    let peer: Option<IpAddr> = Some([10, 0, 0, 1].into());
    let claimed = forwarded(&["203.0.113.9, 198.51.100.7", "192.0.2.4"]);
    // Not trusted: whatever the client wrote is ignored.
    assert_eq!(
        ClientAddress::of(&claimed, peer, false),
        ClientAddress(peer)
    );
    // Trusted: the hop the proxy added, the last one, not what the client put first.
    assert_eq!(
        ClientAddress::of(&claimed, peer, true),
        ClientAddress(Some([192, 0, 2, 4].into()))
    );
    // Trusted but absent or unreadable: the peer.
    assert_eq!(
        ClientAddress::of(&HeaderMap::new(), peer, true),
        ClientAddress(peer)
    );
    assert_eq!(
        ClientAddress::of(&forwarded(&["not an address"]), peer, true),
        ClientAddress(peer)
    );
    // An unreadable last hop does not hand the choice to an earlier, client-written one.
    assert_eq!(
        ClientAddress::of(&forwarded(&["203.0.113.9, unknown"]), peer, true),
        ClientAddress(peer)
    );
    assert_eq!(ClientAddress(None).key(), "unknown");
}
