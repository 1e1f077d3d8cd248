//! The forms people send, and what makes them valid: a case with its parties, a party added
//! later, a step in a case's life cycle, a session's time, the case list's filters, a
//! party's consent, an online application (自主申报), an organisation, a staff account,
//! the first administrator of a fresh server, an organisation's recording policy and a hold
//! on a recording.
//!
//! Each form is a plain serde struct with every member optional, so that a missing field is
//! a named problem rather than one parse error; validating it returns the domain's values
//! (a [`crate::store::model::NewCase`], a [`crate::store::model::CaseFilter`], …) or
//! [`crate::Error::Invalid`] naming every wrong field at once ([`crate::validate::Problems`]).
//! Nothing here reads the store or knows who is asking beyond a role: the edge checks the
//! caller, looks up what a form refers to (its organisation, its mediator) and answers.

pub mod case_list;
pub mod cases;
pub mod consent;
pub mod intake;
pub mod recordings;
pub mod staff;
