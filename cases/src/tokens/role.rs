//! The participant role: carried in join tokens and shown to others in frames.

use serde::{Deserialize, Serialize};

/// What someone does in a room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Hosts the session.
    Mediator,
    /// An applicant, respondent or their representative.
    Party,
    /// Watches; never publishes.
    Observer,
    /// Anyone else (tools, WHIP publishers, tests).
    Guest,
}

impl Role {
    /// As serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Mediator => "mediator",
            Role::Party => "party",
            Role::Observer => "observer",
            Role::Guest => "guest",
        }
    }
}
