//! A party's consent before their first session: to mediation online, and to its recording.

use serde::Deserialize;

use crate::error::{Error, FieldError, Result};

/// What a party agrees to on the consent page; both are required.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentForm {
    online_mediation: bool,
    recording: bool,
}

impl ConsentForm {
    /// Refuses, naming each, what the party did not agree to.
    pub fn validate(&self) -> Result<()> {
        let mut problems = Vec::new();
        if !self.online_mediation {
            problems.push(FieldError::new(
                "online_mediation",
                "online mediation needs your agreement",
            ));
        }
        if !self.recording {
            problems.push(FieldError::new(
                "recording",
                "the session is recorded; it needs your agreement",
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(problems))
        }
    }
}
