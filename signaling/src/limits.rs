//! Rate limits on the endpoints anyone can reach: sign-in (password guessing) and online
//! intake (flooding a centre with applications); and on what one participant does in a room
//! (chat, hands, pauses, evidence), with caps on the evidence of one session (counted by
//! the case domain's [`EvidenceTally`]).
//!
//! Fixed windows per key, in memory: each node limits on its own, which bounds guessing to
//! the limit times the number of nodes; that is acceptable for a handful of nodes. Memory is
//! bounded: expired windows are dropped when the table fills, and a full table of live
//! windows forgets the oldest half rather than growing.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use accord_cases::evidence_tally::EvidenceTally;

use crate::AppState;
use crate::error::{Error, Result};

/// Keys a limiter holds before it sweeps expired windows; it never holds more.
pub const MAX_KEYS: usize = 100_000;

/// One limit: at most `limit` hits per key per `window`.
#[derive(Debug)]
pub struct Limiter {
    limit: u32,
    window: Duration,
    windows: Mutex<HashMap<String, Window>>,
}

#[derive(Clone, Copy, Debug)]
struct Window {
    started: Instant,
    hits: u32,
}

impl Limiter {
    /// A limiter allowing `limit` hits per key in each `window`.
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a hit for `key` at `now`, or says how long until its window opens again.
    pub fn take(&self, key: &str, now: Instant) -> std::result::Result<(), Duration> {
        match self.hit(key, now) {
            Ok(()) => Ok(()),
            Err(_) => {
                let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
                let left = windows.get(key).map_or(self.window, |w| {
                    self.window.saturating_sub(now.duration_since(w.started))
                });
                Err(left.max(Duration::from_millis(1)))
            }
        }
    }

    /// Refuses with 429 if `key` has used up its window at `now`; does not count a hit.
    pub fn check(&self, key: &str, now: Instant) -> Result<()> {
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        match windows.get(key) {
            Some(w) if now.duration_since(w.started) < self.window && w.hits >= self.limit => {
                Err(self.refusal(w, now))
            }
            _ => Ok(()),
        }
    }

    /// Counts a hit for `key` at `now`, refusing with 429 if the window was already used up.
    pub fn hit(&self, key: &str, now: Instant) -> Result<()> {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() >= MAX_KEYS && !windows.contains_key(key) {
            let window = self.window;
            windows.retain(|_, w| now.duration_since(w.started) < window);
            if windows.len() >= MAX_KEYS {
                let mut starts: Vec<Instant> = windows.values().map(|w| w.started).collect();
                starts.sort_unstable();
                let median = starts[starts.len() / 2];
                windows.retain(|_, w| w.started > median);
            }
        }
        let entry = windows.entry(key.to_owned()).or_insert(Window {
            started: now,
            hits: 0,
        });
        if now.duration_since(entry.started) >= self.window {
            *entry = Window {
                started: now,
                hits: 0,
            };
        }
        if entry.hits >= self.limit {
            return Err(self.refusal(entry, now));
        }
        entry.hits += 1;
        Ok(())
    }

    fn refusal(&self, window: &Window, now: Instant) -> Error {
        let left = self
            .window
            .saturating_sub(now.duration_since(window.started));
        Error::TooManyRequests {
            retry_after_seconds: left.as_secs().max(1),
        }
    }

    /// Keys currently held (for tests of the memory bound).
    pub fn len(&self) -> usize {
        self.windows.lock().map_or(0, |w| w.len())
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What one participant may do in a room, and how much evidence one session takes. The
/// defaults leave a person typing fast, or a client pausing as its tab hides and shows, well
/// inside; a script flooding the room is refused.
#[derive(Clone, Debug)]
pub struct RoomLimits {
    /// Chat messages per second, on average over two seconds (bursts of twice this).
    pub chat_per_second: u32,
    /// Chat messages per minute.
    pub chat_per_minute: u32,
    /// Raised or lowered hands per minute.
    pub hands_per_minute: u32,
    /// Pauses and resumes per minute.
    pub pauses_per_minute: u32,
    /// Evidence uploads per minute.
    pub evidence_per_minute: u32,
    /// Evidence files shared in one session.
    pub evidence_per_session: u32,
    /// Bytes of evidence shared in one session.
    pub evidence_bytes_per_session: u64,
}

impl Default for RoomLimits {
    fn default() -> Self {
        Self {
            chat_per_second: 5,
            chat_per_minute: 60,
            hands_per_minute: 20,
            pauses_per_minute: 30,
            evidence_per_minute: 10,
            evidence_per_session: 50,
            evidence_bytes_per_session: 200 * 1024 * 1024,
        }
    }
}

/// The limits of one node.
#[derive(Debug)]
pub struct Limits {
    /// Every login attempt, per client address.
    pub login_per_address: Limiter,
    /// Failed logins, per username and client address.
    pub login_failures: Limiter,
    /// Online applications, per client address.
    pub intake_per_address: Limiter,
    /// Chat bursts, per participant.
    pub chat_burst: Limiter,
    /// Chat per minute, per participant.
    pub chat_minute: Limiter,
    /// Hands, per participant.
    pub hands: Limiter,
    /// Pauses and resumes, per participant.
    pub pauses: Limiter,
    /// Recording starts, pauses, resumes and stops, per moderator: each one writes the
    /// session record and tells everyone.
    pub recording: Limiter,
    /// Evidence uploads, per participant.
    pub evidence_uploads: Limiter,
    /// Evidence shared per session.
    pub evidence: EvidenceTally,
    /// The agreement signing routes' limits.
    pub signing: crate::agreements::signing::SigningLimits,
    /// Draft updates in bursts, per seat: Yjs sends one per keystroke or so, batched by the
    /// client; a paste or an undo of many steps comes as a few more.
    pub draft_burst: Limiter,
    /// Draft updates per minute, per seat (twenty a second held for a minute).
    pub draft_minute: Limiter,
    /// "Typing" notices, per seat: the client sends one every few seconds while typing.
    pub draft_typing: Limiter,
    /// Comments on clauses, per seat or person: each is stored and shown to the mediators.
    pub draft_comments: Limiter,
    /// Drafting requests over HTTP (updates, private drafts, finalising), per staff member.
    pub draft_http: Limiter,
    /// The judicial confirmation routes' limits.
    pub confirmation: crate::confirmation::ConfirmationLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Self::new(&RoomLimits::default())
    }
}

impl Limits {
    /// A node's limits, with `room` for what participants do.
    pub fn new(room: &RoomLimits) -> Self {
        let minute = Duration::from_secs(60);
        Self {
            login_per_address: Limiter::new(30, minute),
            login_failures: Limiter::new(10, Duration::from_secs(15 * 60)),
            intake_per_address: Limiter::new(10, Duration::from_secs(10 * 60)),
            chat_burst: Limiter::new(
                room.chat_per_second.saturating_mul(2).max(1),
                Duration::from_secs(2),
            ),
            chat_minute: Limiter::new(room.chat_per_minute.max(1), minute),
            hands: Limiter::new(room.hands_per_minute.max(1), minute),
            pauses: Limiter::new(room.pauses_per_minute.max(1), minute),
            recording: Limiter::new(20, minute),
            evidence_uploads: Limiter::new(room.evidence_per_minute.max(1), minute),
            signing: Default::default(),
            evidence: EvidenceTally::new(
                room.evidence_per_session,
                room.evidence_bytes_per_session,
            ),
            draft_burst: Limiter::new(40, Duration::from_secs(2)),
            draft_minute: Limiter::new(1200, minute),
            draft_typing: Limiter::new(10, Duration::from_secs(5)),
            draft_comments: Limiter::new(5, Duration::from_secs(30)),
            draft_http: Limiter::new(1200, minute),
            confirmation: Default::default(),
        }
    }
}

/// The address a request came from: the peer of the TCP connection, or, behind a reverse
/// proxy the configuration trusts, the last address in `X-Forwarded-For` (the one the proxy
/// itself added; earlier ones are whatever the client claimed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddress(pub Option<IpAddr>);

impl ClientAddress {
    /// As a limiter key.
    pub fn key(&self) -> String {
        self.0
            .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
    }

    /// The client's address from a request's headers and its TCP `peer`: the last
    /// `X-Forwarded-For` hop when `trust_forwarded_for` is set and that hop is an address,
    /// otherwise the peer.
    pub fn of(headers: &HeaderMap, peer: Option<IpAddr>, trust_forwarded_for: bool) -> Self {
        if trust_forwarded_for {
            // Only the very last hop: if the proxy's own entry is unreadable, an earlier one
            // is the client's word, so the peer is used instead.
            let last_hop = headers
                .get_all("x-forwarded-for")
                .iter()
                .next_back()
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|hop| hop.trim().parse::<IpAddr>().ok());
            if last_hop.is_some() {
                return Self(last_hop);
            }
        }
        Self(peer)
    }
}

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip());
        Ok(Self::of(
            &parts.headers,
            peer,
            state.config().trust_forwarded_for,
        ))
    }
}
