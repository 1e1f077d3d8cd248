//! # accord-cases: the case domain
//!
//! Everything Accord knows about a dispute, with no web framework and no media in it: the
//! model ([`store::model`]), the store on SQLite or PostgreSQL ([`store::Store`]), the
//! audit chain, consents and the session record (笔录), and the blob store that keeps
//! evidence files ([`blobs`]), the rules of who may see and do what ([`access`]) and
//! validation ([`validate`]), the agreement ([`agreements`]: drafting, signing, the seal and
//! the PDF) and judicial confirmation ([`confirmation`]: the 30-day window, the competent
//! court, the court's clocks, the 申请书, and the package with its offline verifier, which
//! need no database so `accord verify` runs anywhere). `accord-signaling` is the edge in
//! front of it: it parses requests, checks who is calling, calls the store and maps [`Error`]
//! to HTTP once.
//!
//! ## The life cycle of a case
//! A case is registered by staff or applied for online (自主申报, status `intake`), then
//! accepted (受理) or declined, assigned to an organisation and a mediator (分派), mediated in
//! one or more sessions (调解), and ends in an agreement (达成协议) that is signed, optionally
//! confirmed by a court (司法确认), followed up and closed, or in a failed mediation.
//! [`store::model::CaseStatus::next`] is the whole transition table; the store refuses
//! any other move with [`Error::Conflict`].
//!
//! ## Invariants the store keeps
//! - Every change is made in one transaction together with its audit entry: there is no
//!   change without an entry and no entry without its change.
//! - Case numbers are sequential per organisation and year (`2026-宝安-000001`).
//! - Phones and ID numbers are sealed (AES-256-GCM) under the PII key of
//!   [`store::StoreKeys`], which is kept outside the database.
//! - A request replayed with the same idempotency key returns what the first one made; the
//!   same key with a different body is [`Error::IdempotencyKeyReused`] and stores nothing.
//! - Times are Unix milliseconds and ids are a type prefix and 16 random characters, so
//!   both databases return the same values.
//!
//! ## Ids
//! Every record is named by its own id type ([`ids`]), so the compiler refuses a party id
//! where a case id is meant: [`CaseId`] (`CA_…`, a dispute), [`SessionId`] (`SE_…`, one
//! video session of a case), [`PartyId`] (`PT_…`, a party or someone acting for one; also
//! their identity in a room), [`StaffId`] (`ST_…`, a staff account; a mediator's identity in
//! a room), [`OrganisationId`] (`OR_…`), [`InviteId`] (`IN_…`, a join token's `inv`),
//! [`EvidenceId`] (`EV_…`), [`SessionEventId`] (`SV_…`, an entry of the session record),
//! [`ConsentId`] (`CO_…`), [`RecordingId`] (`RC_…`, a recording and its folder), the
//! agreement's [`AgreementId`], [`SignatureId`], [`CommentId`] and [`DraftId`], and
//! [`ConfirmationRequestId`] (`CR_…`, a request for judicial confirmation). They
//! are opaque strings: no code parses them; the prefix is for people reading logs and rows.
//! The store makes them ([`store::new_id`]: the prefix and 16 random characters); the edge
//! turns the text of a URL or token into one by naming the type (`CaseId::from(..)`). They
//! are stored as text and serialised as plain JSON strings, as before they had types, and
//! read as `&str` wherever text is wanted. A tracking code is not an id but a short code an
//! applicant types ([`store::looks_like_tracking_code`]); the media room's name and a join
//! token's `sub` are the edge's, and stay text.
//!
//! ## The audit chain
//! Entries are append-only. Each entry's hash covers its fields and the previous entry's
//! hash, starting from [`store::GENESIS`], so changing or removing an entry breaks every
//! hash after it; the newest (seq, hash) is kept with a MAC under the audit key, so cutting
//! entries off the end shows too. [`store::Store::verify_audit`] walks the chain and
//! reports every inconsistency ([`store::AuditReport`]).
//!
//! ## Who may see what
//! [`access`] holds the rules; the edge only proves who is calling and builds an
//! [`access::Viewer`] or an [`access::Seat`] from their token.
//! - Staff see the cases of their own organisation, a system-wide administrator all of
//!   them, court users the cases sent to their court ([`access::Viewer::may_see`]). A case
//!   someone may not see is answered as not found, so its existence does not leak
//!   ([`store::Store::visible_case`]).
//! - A party's phone is shown in full only to the case's own mediator, masked
//!   ([`store::mask_phone`]) to everyone else ([`access::Viewer::sees_phones_of`]).
//! - A join token admits while its invite is active, its session is not over and its
//!   bearer was not removed; a mediator's own seat while their account is enabled and the
//!   token was issued after their last password change ([`store::Store::admits`]).
//!
//! ## Validation
//! [`validate::Problems`] collects every wrong field of a form at once, so a person fixes
//! them in one go; the phone and resident ID checks are there too. [`forms`] holds the forms
//! people send (a case and its parties, an online application, an organisation, a staff
//! account, the case list's filters) and what makes each valid: plain serde structs that
//! become domain values or name every wrong field, so the edge only extracts, calls and
//! answers.
//!
//! ## Names of what happened, invites, passwords and files
//! [`store::model::AuditAction`] names every audit entry and
//! [`store::model::SessionEventKind`] every session-record entry; both are stored and sent
//! as the same text as before they were enums (the audit chain hashes that text), and
//! `docs/api/examples/` holds an example of each that the staff desk's tests read too.
//! [`invites`] says what an invite says (its SMS or WeChat text, the notification carrying
//! it, whether it still admits); [`notify`] is what a message is and the log channel (the
//! HTTP gateway's transport is the edge's, so this crate carries no HTTP client).
//! [`staff_password`] hashes and checks staff passwords; [`evidence_files`] tells an
//! evidence file's kind by its first bytes and cleans its name.
//!
//! ## The session record and a session's share of evidence
//! [`minutes::Minutes`] writes a case session's record (笔录) in order through one task, so
//! the room that records never waits for the database; the edge decides what an entry says.
//! [`evidence_tally::EvidenceTally`] counts the evidence each session has taken against its
//! caps, starting a session it has not counted yet from what its record holds.
//!
//! ## Tokens
//! [`tokens`] says what a credential grants and how it is signed: join tokens
//! ([`tokens::TokenKeys`] mints, signs and verifies [`tokens::JoinClaims`]; the participant
//! [`tokens::Role`] they carry is the one `accord-protocol` sends in frames) and staff access
//! and refresh tokens ([`tokens::staff`], signed with the store's rotating signing keys).
//! The edge only finds a token in a request and hands it here; whether a verified join
//! token still admits is [`store::Store::admits`].
//!
//! ## Errors
//! One `#[non_exhaustive]` enum, [`Error`], in the domain's terms (not found, conflict,
//! invalid fields, forbidden, …). It carries no HTTP status: `accord-signaling` maps it in
//! one `From` impl. Database failures other than a missing row or a duplicate are
//! [`Error::Database`], whose detail is logged and never sent.

pub mod access;
pub mod agreements;
pub mod blobs;
pub mod confirmation;
pub mod error;
pub mod evidence_files;
pub mod evidence_tally;
pub mod forms;
pub mod ids;
pub mod invites;
pub mod minutes;
pub mod notify;
pub mod staff_password;
pub mod store;
pub mod tokens;
pub mod validate;

pub use error::{Error, FieldError, Result};
pub use ids::{
    AgreementId, CaseId, CommentId, ConfirmationRequestId, ConsentId, DraftId, EvidenceId,
    IdentityProofId, InviteId, OrganisationId, PartyId, RecordingId, SessionEventId, SessionId,
    SignatureId, StaffId,
};

/// A random string of `len` letters and digits, for record ids and temporary file names.
pub fn random_token(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}
