//! Rate limits on the endpoints anyone can reach: sign-in (password guessing) and online
//! intake (flooding a centre with applications); and on what one participant does in a room
//! (chat, hands, pauses, evidence), with caps on the evidence of one session (counted by
//! the case domain's [`EvidenceTally`]).
//!
//! Fixed windows per key, in memory. Memory is bounded: expired windows are dropped when the
//! table fills, and a full table of live windows forgets the oldest half rather than growing.
//!
//! **Across nodes.** With a cluster ([`crate::cluster`], Redis), the limits anyone can reach
//! from outside (sign-in, intake, OTPs, the public check, court callbacks: see
//! [`Limits::share`]) count every node's hits. The decision stays synchronous and local (it
//! sits on request paths): each node counts its own hits, a background flush every
//! [`crate::cluster::redis::LIMIT_FLUSH`] (200 ms) adds them to
//! `<prefix>:rl:<limiter>:<key hash>:<window>` with INCRBY and reads the total back, and
//! a hit is refused when the total last read plus this node's hits since reach the limit.
//! Shared windows are aligned to the wall clock (window number = Unix ms / window), so all
//! nodes count the same window. Over-admission is bounded by what the other nodes admit
//! within one flush interval each (their hits not yet pushed, or pushed after this node
//! last read): for sign-in at 30 a minute that is a handful of attempts, not a multiple of
//! the limit. If Redis is unreachable the flush fails (logged) and each node limits on its
//! own again. Per-seat limits (chat, hands, drafting) stay local: a seat lives on one node.
//! A session's evidence share is exact across nodes rather than reconciled: its caps hold
//! for the whole session, so one atomic count in Redis decides each upload
//! ([`crate::evidence::session_share`]).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
    /// Set when the limit counts every node's hits ([`Limiter::share`]).
    shared: OnceLock<Shared>,
}

/// A limit counted across nodes: the totals last read back and the hits not yet pushed.
#[derive(Debug)]
struct Shared {
    name: &'static str,
    tallies: Mutex<HashMap<String, Tally>>,
}

/// One key's count in one aligned window.
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    window: u64,
    /// Every node's hits as last read back from Redis (this node's pushed ones included).
    total: u64,
    /// This node's hits not yet pushed.
    pending: u32,
}

/// Hits to add to a shared count: the limiter, the key, the window and how many.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingHits {
    /// The key (a client address, a phone number…); hashed before it leaves the process.
    pub key: String,
    /// The aligned window number (Unix ms / window).
    pub window: u64,
    /// Hits since the last push.
    pub hits: u32,
}

/// Wall-clock milliseconds at `now`, from one fixed pairing of the two clocks, so callers
/// keep passing `Instant`s (tests move them) and nodes still agree on window numbers.
fn wall_ms(now: Instant) -> u64 {
    static BASE: OnceLock<(Instant, u64)> = OnceLock::new();
    let (base_instant, base_ms) = *BASE.get_or_init(|| {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        (Instant::now(), ms)
    });
    let offset = now.saturating_duration_since(base_instant);
    base_ms.saturating_add(u64::try_from(offset.as_millis()).unwrap_or(u64::MAX))
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
            shared: OnceLock::new(),
        }
    }

    /// Counts this limit across nodes under `name` (a Redis key part, unique per limiter)
    /// from now on. Only a clustered node calls it; a second call is ignored.
    pub fn share(&self, name: &'static str) {
        let _ = self.shared.set(Shared {
            name,
            tallies: Mutex::new(HashMap::new()),
        });
    }

    /// The name it is shared under, if it is.
    pub fn shared_name(&self) -> Option<&'static str> {
        self.shared.get().map(|s| s.name)
    }

    /// The window's length in ms (shared counts expire after it).
    pub fn window_ms(&self) -> u64 {
        u64::try_from(self.window.as_millis()).unwrap_or(u64::MAX)
    }

    /// The aligned window of `now` and the time left in it.
    fn aligned(&self, now: Instant) -> (u64, Duration) {
        let len = self.window_ms().max(1);
        let ms = wall_ms(now);
        (ms / len, Duration::from_millis(len - ms % len))
    }

    /// A shared limit's decision: `Err(time left)` if the key's window is used up; counts
    /// the hit when `count` is set and it is not.
    fn shared_hit(
        &self,
        shared: &Shared,
        key: &str,
        now: Instant,
        count: bool,
    ) -> std::result::Result<(), Duration> {
        let (window, left) = self.aligned(now);
        let mut tallies = shared.tallies.lock().unwrap_or_else(|e| e.into_inner());
        if tallies.len() >= MAX_KEYS && !tallies.contains_key(key) {
            // Past windows first; then keys with nothing left to push.
            tallies.retain(|_, t| t.window == window);
            if tallies.len() >= MAX_KEYS {
                tallies.retain(|_, t| t.pending > 0);
            }
            if tallies.len() >= MAX_KEYS {
                tallies.clear();
            }
        }
        let tally = tallies.entry(key.to_owned()).or_default();
        if tally.window != window {
            *tally = Tally {
                window,
                ..Tally::default()
            };
        }
        if tally.total + u64::from(tally.pending) >= u64::from(self.limit) {
            return Err(left.max(Duration::from_millis(1)));
        }
        if count {
            tally.pending += 1;
        }
        Ok(())
    }

    /// Takes the hits not yet pushed (a shared limit's flush); they count as part of the
    /// total until the pushed total is read back.
    pub fn take_pending(&self) -> Vec<PendingHits> {
        let Some(shared) = self.shared.get() else {
            return Vec::new();
        };
        let mut tallies = shared.tallies.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for (key, tally) in tallies.iter_mut().filter(|(_, t)| t.pending > 0) {
            out.push(PendingHits {
                key: key.clone(),
                window: tally.window,
                hits: tally.pending,
            });
            tally.total += u64::from(tally.pending);
            tally.pending = 0;
        }
        out
    }

    /// Records every node's total for `key` in `window`, as Redis answered a push.
    pub fn record_total(&self, key: &str, window: u64, total: u64) {
        let Some(shared) = self.shared.get() else {
            return;
        };
        let mut tallies = shared.tallies.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tally) = tallies.get_mut(key)
            && tally.window == window
        {
            tally.total = total;
        }
    }

    /// Counts a hit for `key` at `now`, or says how long until its window opens again.
    pub fn take(&self, key: &str, now: Instant) -> std::result::Result<(), Duration> {
        if let Some(shared) = self.shared.get() {
            return self.shared_hit(shared, key, now, true);
        }
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
        if let Some(shared) = self.shared.get() {
            return self.shared_hit(shared, key, now, false).map_err(too_many);
        }
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
        if let Some(shared) = self.shared.get() {
            return self.shared_hit(shared, key, now, true).map_err(too_many);
        }
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
        if let Some(shared) = self.shared.get() {
            return shared.tallies.lock().map_or(0, |t| t.len());
        }
        self.windows.lock().map_or(0, |w| w.len())
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn too_many(left: Duration) -> Error {
    Error::TooManyRequests {
        retry_after_seconds: left.as_secs().max(1),
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
    /// Evidence shared per session: its caps, and the count of a single node (asked through
    /// [`crate::evidence::session_share`], which counts in Redis on a node of several).
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

impl Limits {
    /// Counts the limits anyone can reach from outside across the cluster's nodes (see the
    /// module's doc): sign-in, intake, OTPs, the public check of a text, court callbacks.
    pub fn share(&self) {
        for (name, limiter) in self.shared_candidates() {
            limiter.share(name);
        }
    }

    /// The limits [`Limits::share`] shares, with their names.
    fn shared_candidates(&self) -> [(&'static str, &Limiter); 7] {
        [
            ("login_address", &self.login_per_address),
            ("login_failures", &self.login_failures),
            ("intake_address", &self.intake_per_address),
            ("otp_phone", &self.signing.otp_per_phone),
            ("otp_address", &self.signing.otp_per_address),
            ("public_address", &self.signing.public_per_address),
            ("callbacks", &self.confirmation.callbacks),
        ]
    }

    /// The limits counted across nodes (none until [`Limits::share`]).
    pub fn shared(&self) -> Vec<&Limiter> {
        self.shared_candidates()
            .into_iter()
            .map(|(_, l)| l)
            .filter(|l| l.shared_name().is_some())
            .collect()
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
