//! Rate limits of the signing routes. The store already refuses a second one-time code for
//! the same signer within a minute and locks a code after five wrong tries; these limits stop
//! a client from repeating everything else (and from sending codes to one phone through
//! several signers) faster than a person could.
//!
//! They are one node's, held with the others in [`crate::limits::Limits`]; what they are is
//! said here, beside the routes they guard.

use std::time::{Duration, Instant};

use crate::AppState;
use crate::error::Result;
use crate::limits::Limiter;

/// The limits of the signing routes.
#[derive(Debug)]
pub struct SigningLimits {
    /// One-time codes sent to one phone, whichever signer asked.
    pub otp_per_phone: Limiter,
    /// One-time codes asked for by one client address.
    pub otp_per_address: Limiter,
    /// Identity checks (code entries, key registrations) per signer.
    pub identity: Limiter,
    /// Challenges, signatures and declines per signer.
    pub signing: Limiter,
    /// A mediator's attestations, free-will answers and seals.
    pub mediator: Limiter,
    /// PDF downloads per caller.
    pub pdf: Limiter,
    /// Public verification lookups per client address.
    pub public_per_address: Limiter,
    /// Seal-key rotations per administrator.
    pub rotations: Limiter,
}

impl Default for SigningLimits {
    fn default() -> Self {
        let minute = Duration::from_secs(60);
        Self {
            otp_per_phone: Limiter::new(3, Duration::from_secs(10 * 60)),
            otp_per_address: Limiter::new(10, Duration::from_secs(10 * 60)),
            identity: Limiter::new(10, minute),
            signing: Limiter::new(20, minute),
            mediator: Limiter::new(60, minute),
            pdf: Limiter::new(30, minute),
            public_per_address: Limiter::new(60, minute),
            rotations: Limiter::new(5, Duration::from_secs(60 * 60)),
        }
    }
}

/// This node's signing limits.
pub fn limits(state: &AppState) -> &SigningLimits {
    &state.limits().signing
}

/// Counts a hit of `key` on `limiter`, refusing with 429 once its window is used up.
pub fn hit(limiter: &Limiter, key: &str) -> Result<()> {
    limiter.hit(key, Instant::now())
}
