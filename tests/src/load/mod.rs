//! `accord-load`: a bounded load generator for Accord, run against a server on loopback.
//!
//! Participants are real WebRTC peers on the async `webrtc` crate, built from the test
//! client's parts ([`crate::client`]): the same peer connection set-up and the same
//! perfect-negotiation signaling, but publishing synthetic media whose every RTP payload
//! carries its send time ([`synth`]) and handing received packets to a lean [`recorder`]
//! instead of the test client's per-payload hashing. That lets one process measure
//! publisher → SFU → subscriber latency on one clock, and compare it with the same stack
//! connected directly ([`baseline`]).
//!
//! Everything runs in one process on one machine, next to the server: the tool's own CPU use
//! is reported because it competes with the server for the same cores. With `--nodes 2` the
//! server is two nodes of one cluster on 127.0.0.2 and 127.0.0.3 ([`target`]); clients
//! spread over both, and the report adds each node's rooms, participants, forwarding and CPU,
//! and the placement's balance ([`nodes`]).

pub mod baseline;
pub mod client;
pub mod config;
pub mod floor;
pub mod histogram;
pub mod nodes;
pub mod pacer;
pub mod procfs;
pub mod recorded_room;
pub mod recorder;
pub mod report;
pub mod run;
pub mod synth;
pub mod target;

pub use config::{Args, Scenario};
pub use report::Report;
pub use run::run;

/// Sends this process's logs to stderr (stdout is for the report), at `RUST_LOG` or warnings.
///
/// Installed before anything else so the test harness's own subscriber (which writes to
/// stdout) never becomes the global one.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("warn,rtc_dtls::config=error,rtc_ice::agent=error")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
