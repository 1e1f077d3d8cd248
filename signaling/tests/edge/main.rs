//! The edge's tests through its public API: the bearer header, rooms and what each side is shown, rate limits
//! and the client's address, the embedded web client, the API description, WHIP's trickle
//! fragments, staff tokens against the store, the S3 blob store against a real server, and
//! the cluster handle against the local Redis.
//! One binary, so the crate links once.

// The store suites' scratch databases and their `both_databases!` macro, shared with
// `accord-cases`; declared first so the macro is in scope in the modules below.
#[path = "../../../cases/tests/common/mod.rs"]
#[macro_use]
mod common;

mod api;

mod agreements_drafting;
mod agreements_signing;
mod auth;
mod blobs_s3;
mod cluster;
mod confirmation;
mod court_inbox;
mod drain;
mod evidence_share;
mod limits;
mod openapi;
mod placement_spread;
mod recording_recovery;
mod rooms;
mod staff_tokens;
mod web;
mod whip;
