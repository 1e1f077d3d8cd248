//! # Judicial confirmation (司法确认) of an agreement in force, without the database
//!
//! The parties of a sealed agreement apply jointly, each on their own phone (a representative
//! with a power of attorney may apply for the party they act for), within 30 days of the day
//! it took effect ([`window`]), to a competent court Accord proposes and the mediator may
//! change ([`venue`]). Once every party applied, a 申请书 ([`application`]) and a package the
//! court receives and anyone can verify offline ([`package`]) are built, and the request
//! ([`model::ConfirmationRequest`]) goes to the court's inbox, and to its system when one is
//! configured (through a transactional outbox). The court accepts within 3 days and rules
//! within 15, extendable by 10 ([`clocks`]).
//!
//! A request moves `applying` → `submitted` → `received` → `accepted` → `confirmed` |
//! `rejected`, never back; the case follows (`confirmation_requested`, `confirmed`,
//! `rejected`). The store (`store/confirmation*.rs`) keeps every step in one transaction with
//! its audit entry; this module is the pure part: every function that depends on the time
//! takes `now_ms`, so tests move the clock instead of waiting.

pub mod application;
pub mod clocks;
pub mod model;
pub mod package;
pub mod venue;
pub mod window;

pub use clocks::{Clocks, clocks};
pub use model::{
    Applicant, ApplyOutcome, ConfirmationRequest, CourtDecision, InboxState, NewOutbox, OutboxItem,
    RequestStatus,
};
pub use venue::{CourtBasis, Proposal, propose};
pub use window::{WarningLevel, Window, window};
