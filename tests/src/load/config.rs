//! Command-line arguments of `accord-load` and the limits they are held to.

use anyhow::{Result, bail};
use clap::Parser;
use std::path::PathBuf;

/// Most participants one run may create (rooms × participants, or subscribers + 1).
pub const MAX_PARTICIPANTS: usize = 200;
/// Longest measured window, seconds.
pub const MAX_DURATION: u64 = 300;
/// Longest warm-up, seconds.
pub const MAX_WARMUP: u64 = 60;
/// Most nodes one run drives: the machine has room for two beside the tool.
pub const MAX_NODES: usize = 2;
/// The server refuses rooms larger than this (`signaling.max_participants` is 2–100).
const MAX_ROOM: usize = 100;

/// Load generator for Accord: real WebRTC participants on loopback, synthetic stamped media,
/// and a report of forwarding rate, loss, latency, join time, CPU and memory.
#[derive(Debug, Clone, Parser)]
#[command(name = "accord-load", version)]
pub struct Args {
    /// Rooms, each with --participants who all publish and subscribe to each other.
    #[arg(long, requires = "participants", conflicts_with_all = ["publishers", "subscribers"])]
    pub rooms: Option<usize>,
    /// Participants per room (with --rooms).
    #[arg(long, requires = "rooms")]
    pub participants: Option<usize>,
    /// Fan-out: publishers in the one room (only 1 is supported).
    #[arg(long, requires = "subscribers")]
    pub publishers: Option<usize>,
    /// Fan-out: subscribe-only participants in the publisher's room.
    #[arg(long, requires = "publishers")]
    pub subscribers: Option<usize>,
    /// Measured window in seconds (1–300).
    #[arg(long, default_value_t = 20)]
    pub duration: u64,
    /// Seconds of media after everyone joined and before measuring (0–60).
    #[arg(long, default_value_t = 5)]
    pub warmup: u64,
    /// Milliseconds between two joins.
    #[arg(long, default_value_t = 100)]
    pub join_interval_ms: u64,
    /// The `accord` binary to start (default: target/release/accord if built, else debug).
    #[arg(long, conflicts_with = "url")]
    pub server_bin: Option<PathBuf>,
    /// Nodes to start: 1, or 2 on 127.0.0.2 and 127.0.0.3 (HTTP and media) sharing a fresh
    /// PostgreSQL database (`ACCORD_TEST_POSTGRES_URL`, default the local `test` server) and
    /// Redis (--redis-url) under a fresh key prefix.
    #[arg(long, default_value_t = 1, conflicts_with = "url")]
    pub nodes: usize,
    /// Redis for two nodes the tool starts.
    #[arg(
        long,
        env = "ACCORD_TEST_REDIS_URL",
        default_value = "redis://127.0.0.1:6379"
    )]
    pub redis_url: String,
    /// How clients are spread over the nodes: `participants` alternates within each room
    /// (placement decides where the room lives; the others are relayed to it), `rooms` sends
    /// all of a room's clients through one node, rooms alternating.
    #[arg(long, value_enum, default_value_t = Spread::Participants)]
    pub spread: Spread,
    /// Use running servers instead, e.g. http://127.0.0.1:8080 (loopback only); give it
    /// twice for two nodes of one cluster (tokens are minted on the first).
    #[arg(long, requires = "api_key")]
    pub url: Vec<String>,
    /// API key of the running servers (to mint join tokens).
    #[arg(long, env = "ACCORD_LOAD_API_KEY")]
    pub api_key: Option<String>,
    /// Pid of each running server, in the order of --url, for CPU and memory figures.
    #[arg(long, requires = "url")]
    pub server_pid: Vec<u32>,
    /// Video keyframe every N frames (publishers ignore PLIs).
    #[arg(long, default_value_t = 30)]
    pub keyframe_interval: u32,
    /// Skip the direct client→client baseline.
    #[arg(long)]
    pub no_baseline: bool,
    /// Record the first room: it becomes a case session whose mediator records it (needs a
    /// server the tool starts itself, fresh for the staff API's first-run setup; rooms only;
    /// one node).
    #[arg(long, conflicts_with_all = ["url", "publishers"])]
    pub record: bool,
    /// After the window, measure the machine's floor in the same minutes: a bare
    /// `recvmmsg`/`sendmmsg` forwarder at the scenario's receive rate and fan-out (see
    /// `load::floor`), and report the server's CPU per forwarded packet against it.
    #[arg(long)]
    pub floor: bool,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// How clients are spread over the nodes of a run with several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Spread {
    /// Participant `p` of room `r` goes through node `(r + p) mod nodes`.
    Participants,
    /// Every participant of room `r` goes through node `r mod nodes`.
    Rooms,
}

impl Spread {
    /// The node (an index below `nodes`) the `p`th participant of room `r` connects to.
    pub fn node(self, room: usize, participant: usize, nodes: usize) -> usize {
        match self {
            Spread::Participants => (room + participant) % nodes.max(1),
            Spread::Rooms => room % nodes.max(1),
        }
    }
}

/// What to run, after validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// `rooms` rooms of `participants`, everyone publishing and subscribing.
    Rooms {
        /// Rooms.
        rooms: usize,
        /// Participants per room.
        participants: usize,
    },
    /// One publisher and `subscribers` receivers in one room.
    FanOut {
        /// Subscribe-only participants.
        subscribers: usize,
    },
}

impl Scenario {
    /// Every participant of the run.
    pub fn participants(self) -> usize {
        match self {
            Scenario::Rooms {
                rooms,
                participants,
            } => rooms * participants,
            Scenario::FanOut { subscribers } => subscribers + 1,
        }
    }

    /// The largest room.
    pub fn room_size(self) -> usize {
        match self {
            Scenario::Rooms { participants, .. } => participants,
            Scenario::FanOut { subscribers } => subscribers + 1,
        }
    }

    /// In words, for the report.
    pub fn describe(self) -> String {
        match self {
            Scenario::Rooms {
                rooms,
                participants,
            } => format!(
                "{rooms} rooms × {participants} participants, all publishing audio + 3-layer \
                 simulcast and subscribing to each other"
            ),
            Scenario::FanOut { subscribers } => format!(
                "1 publisher (audio + 3-layer simulcast) → {subscribers} subscribers in one room"
            ),
        }
    }
}

impl Args {
    /// The nodes the run drives: the running servers given, else the ones to start.
    pub fn node_count(&self) -> usize {
        if self.url.is_empty() {
            self.nodes
        } else {
            self.url.len()
        }
    }

    /// Checks the bounds and picks the scenario.
    pub fn scenario(&self) -> Result<Scenario> {
        if !(1..=MAX_DURATION).contains(&self.duration) {
            bail!("--duration must be 1–{MAX_DURATION} seconds");
        }
        if self.warmup > MAX_WARMUP {
            bail!("--warmup must be at most {MAX_WARMUP} seconds");
        }
        if self.join_interval_ms > 5_000 {
            bail!("--join-interval-ms must be at most 5000");
        }
        if self.keyframe_interval == 0 || self.keyframe_interval > 3000 {
            bail!("--keyframe-interval must be 1–3000 frames");
        }
        if !(1..=MAX_NODES).contains(&self.node_count()) {
            bail!("--nodes (or --url given that many times) must be 1–{MAX_NODES}");
        }
        if !self.server_pid.is_empty() && self.server_pid.len() != self.url.len() {
            bail!("give --server-pid once for each --url, in the same order");
        }
        if self.record && self.node_count() > 1 {
            bail!("--record runs on one node");
        }
        let scenario = match (
            self.rooms,
            self.participants,
            self.publishers,
            self.subscribers,
        ) {
            (Some(rooms), Some(participants), None, None) => {
                if rooms == 0 || participants < 2 {
                    bail!("--rooms must be ≥ 1 and --participants ≥ 2");
                }
                Scenario::Rooms {
                    rooms,
                    participants,
                }
            }
            (None, None, Some(publishers), Some(subscribers)) => {
                if publishers != 1 {
                    bail!("fan-out supports exactly --publishers 1");
                }
                if subscribers == 0 {
                    bail!("--subscribers must be ≥ 1");
                }
                Scenario::FanOut { subscribers }
            }
            _ => bail!(
                "choose a scenario: --rooms R --participants P, or --publishers 1 --subscribers N"
            ),
        };
        let total = match scenario {
            Scenario::Rooms {
                rooms,
                participants,
            } => rooms.saturating_mul(participants),
            Scenario::FanOut { subscribers } => subscribers.saturating_add(1),
        };
        if total > MAX_PARTICIPANTS {
            bail!("{total} participants is over the limit of {MAX_PARTICIPANTS} per run");
        }
        if scenario.room_size() > MAX_ROOM {
            bail!(
                "a room of {} is over the server's limit of {MAX_ROOM}",
                scenario.room_size()
            );
        }
        Ok(scenario)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &str) -> Result<Scenario> {
        let args = Args::try_parse_from(std::iter::once("accord-load").chain(args.split(' ')))?;
        args.scenario()
    }

    #[test]
    fn spreads() {
        let nodes = |spread: Spread| -> Vec<usize> {
            (0..2)
                .flat_map(|r| (0..3).map(move |p| spread.node(r, p, 2)))
                .collect()
        };
        assert_eq!(nodes(Spread::Participants), [0, 1, 0, 1, 0, 1]);
        assert_eq!(nodes(Spread::Rooms), [0, 0, 0, 1, 1, 1]);
        assert_eq!(Spread::Participants.node(3, 4, 1), 0);
    }

    #[test]
    fn bounds() {
        assert_eq!(
            parse("--rooms 10 --participants 4").ok(),
            Some(Scenario::Rooms {
                rooms: 10,
                participants: 4
            })
        );
        assert_eq!(
            parse("--publishers 1 --subscribers 50").ok(),
            Some(Scenario::FanOut { subscribers: 50 })
        );
        assert!(parse("--rooms 21 --participants 10").is_err(), "210 > 200");
        assert!(
            parse("--publishers 1 --subscribers 100").is_err(),
            "room of 101"
        );
        assert!(parse("--publishers 2 --subscribers 5").is_err());
        assert!(parse("--rooms 2 --participants 2 --duration 301").is_err());
        assert!(parse("--rooms 2").is_err());
        assert!(parse("--rooms 2 --participants 2 --subscribers 3").is_err());
        assert!(parse("--url http://127.0.0.1:1 --rooms 1 --participants 2").is_err());
        assert!(parse("--rooms 10 --participants 4 --record").is_ok());
        assert!(parse("--rooms 10 --participants 4 --nodes 2").is_ok());
        assert!(parse("--rooms 10 --participants 4 --nodes 3").is_err());
        assert!(parse("--rooms 10 --participants 4 --nodes 2 --record").is_err());
        assert!(
            parse("--url http://127.0.0.2:1 --url http://127.0.0.3:1 --api-key k --rooms 2 --participants 2")
                .is_ok()
        );
        assert!(
            parse("--url http://127.0.0.2:1 --url http://127.0.0.3:1 --api-key k --server-pid 7 --rooms 2 --participants 2")
                .is_err(),
            "a pid for each node"
        );
        assert!(
            parse("--url http://127.0.0.1:1 --api-key k --record --rooms 1 --participants 2")
                .is_err(),
            "a running server has had its first-run setup"
        );
    }
}
