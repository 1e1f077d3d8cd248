//! Download tickets: a `<video>` or `<audio>` element cannot send a bearer header, so the
//! review page gets short-lived tickets in its file URLs instead. A ticket names one recording
//! and one staff member, expires after [`TICKET_TTL`], and is MACed with a key derived from
//! the server's token secret, so any node of the deployment accepts it.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long a ticket opens files. The review page fetches fresh ones before this.
pub const TICKET_TTL: Duration = Duration::from_secs(30 * 60);

/// Issues and checks tickets.
#[derive(Clone)]
pub struct Tickets {
    key: [u8; 32],
}

impl std::fmt::Debug for Tickets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tickets(…)")
    }
}

/// What a valid ticket says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ticket {
    /// The recording it opens.
    pub recording_id: String,
    /// Who it was issued to.
    pub staff_id: String,
    /// Unix ms it expires at.
    pub expires_at: i64,
}

impl Tickets {
    /// Tickets MACed with a key derived from `secret`.
    pub fn new(secret: &[u8]) -> Self {
        let mut mac = keyed(secret);
        mac.update(b"accord recording download tickets v1");
        let mut key = [0u8; 32];
        key.copy_from_slice(&mac.finalize().into_bytes());
        Self { key }
    }

    fn mac(&self) -> Hmac<Sha256> {
        keyed(&self.key)
    }

    /// A ticket for `staff_id` to open `recording_id`'s files until `now + TICKET_TTL`.
    pub fn issue(&self, recording_id: &str, staff_id: &str, now_ms: i64) -> (String, i64) {
        let expires_at = now_ms + i64::try_from(TICKET_TTL.as_millis()).unwrap_or(i64::MAX / 2);
        let body = format!("{recording_id}|{staff_id}|{expires_at}");
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        let tag = mac.finalize().into_bytes();
        (
            format!("{}.{}", B64.encode(body.as_bytes()), B64.encode(tag)),
            expires_at,
        )
    }

    /// The ticket's content if it is ours, unexpired, and for `recording_id`.
    pub fn check(&self, ticket: &str, recording_id: &str, now_ms: i64) -> Option<Ticket> {
        let (body, tag) = ticket.split_once('.')?;
        let body = B64.decode(body).ok()?;
        let tag = B64.decode(tag).ok()?;
        let mut mac = self.mac();
        mac.update(&body);
        mac.verify_slice(&tag).ok()?;
        let body = String::from_utf8(body).ok()?;
        let mut parts = body.split('|');
        let (id, staff, expires) = (parts.next()?, parts.next()?, parts.next()?);
        let expires_at: i64 = expires.parse().ok()?;
        if parts.next().is_some() || id != recording_id || expires_at < now_ms {
            return None;
        }
        Some(Ticket {
            recording_id: id.to_owned(),
            staff_id: staff.to_owned(),
            expires_at,
        })
    }
}

fn keyed(key: &[u8]) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_opens_its_recording_until_it_expires() {
        let tickets = Tickets::new(b"secret");
        let (ticket, expires) = tickets.issue("RC_1", "ST_1", 1_000);
        assert!(tickets.check(&ticket, "RC_1", 1_000).is_some());
        assert!(tickets.check(&ticket, "RC_1", expires + 1).is_none());
        assert!(tickets.check(&ticket, "RC_2", 1_000).is_none());
        assert!(
            Tickets::new(b"other")
                .check(&ticket, "RC_1", 1_000)
                .is_none()
        );
        let forged = ticket.replace('.', ".x");
        assert!(tickets.check(&forged, "RC_1", 1_000).is_none());
    }
}
