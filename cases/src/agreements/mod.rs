//! # The agreement (调解协议书)
//!
//! Drafted live as a shared document ([`document`], Yjs in the browser and `yrs` here) from
//! a template for the case's category ([`templates`]); frozen into a version whose canonical
//! text is hashed; signed on each signer's own phone with a key that never leaves it
//! ([`signing`]); sealed with the organisation's key, which puts it in force; printed as a
//! PDF every party receives byte for byte the same ([`pdf`]). [`rules`] names every rule a
//! request can break.

pub mod document;
pub mod model;
pub mod pdf;
pub mod rules;
pub mod signing;
pub mod templates;

pub use rules::{Rule, RuleKind};
