//! The forms about recordings: an organisation's recording policy, and a hold on a
//! recording.

use serde::Deserialize;
use serde_json::Value;

use crate::error::Result;
use crate::store::model::RecordingPolicy;
use crate::validate::Problems;

/// The fewest days a recording may be kept. A party has 30 days after an agreement takes
/// effect to ask a court to confirm it, and a case takes weeks to reach an agreement: a
/// shorter retention could delete the recordings a court is about to ask for.
pub const MIN_RETENTION_DAYS: i64 = 90;

/// The most days a retention may name (a hundred years); for longer, keep them (`null`).
pub const MAX_RETENTION_DAYS: i64 = 36_500;

/// A change to an organisation's recording policy. A field left out keeps its value;
/// `recording_retention_days: null` keeps recordings until they are deleted by hand.
#[derive(Debug, Default, Deserialize)]
pub struct RecordingPolicyForm {
    // Values, not typed fields, so a wrong type is a named problem and not a parse error.
    #[serde(default)]
    record_private_rooms: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    recording_retention_days: Option<Value>,
}

/// Tells a field sent as `null` (`Some(Value::Null)`) from one left out (`None`).
fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

impl RecordingPolicyForm {
    /// The policy `current` becomes, or every problem with the form.
    pub fn validate(self, current: RecordingPolicy) -> Result<RecordingPolicy> {
        let mut problems = Problems::default();
        let mut policy = current;
        match self.record_private_rooms {
            None => {}
            Some(Value::Bool(record)) => policy.record_private_rooms = record,
            Some(_) => problems.add("record_private_rooms", "true or false"),
        }
        match self.recording_retention_days {
            None => {}
            Some(Value::Null) => policy.recording_retention_days = None,
            Some(days) => match days.as_i64().map(u32::try_from) {
                Some(Ok(days))
                    if (MIN_RETENTION_DAYS..=MAX_RETENTION_DAYS).contains(&i64::from(days)) =>
                {
                    policy.recording_retention_days = Some(days);
                }
                _ => problems.add(
                    "recording_retention_days",
                    &format!(
                        "whole days from {MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS}, \
                         or null to keep recordings"
                    ),
                ),
            },
        }
        problems.finish()?;
        Ok(policy)
    }
}

/// A hold put on a recording, or lifted.
#[derive(Debug, Default, Deserialize)]
pub struct HoldForm {
    #[serde(default)]
    hold: Option<Value>,
    #[serde(default)]
    reason: Option<String>,
}

/// A hold that passed validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hold {
    /// Whether the recording is to be held.
    pub hold: bool,
    /// Why it is held (required to hold), or why the hold is lifted (optional).
    pub reason: Option<String>,
}

impl HoldForm {
    /// The hold, or every problem with the form: holding needs a reason, which the audit
    /// trail keeps.
    pub fn validate(self) -> Result<Hold> {
        let mut problems = Problems::default();
        let hold = match self.hold {
            Some(Value::Bool(hold)) => hold,
            None => {
                problems.add("hold", "required");
                false
            }
            Some(_) => {
                problems.add("hold", "true or false");
                false
            }
        };
        let reason = if hold {
            Some(problems.text("reason", self.reason.as_deref(), 200))
        } else {
            problems.optional_text("reason", self.reason.as_deref(), 200)
        };
        problems.finish()?;
        Ok(Hold { hold, reason })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    fn form<T: serde::de::DeserializeOwned>(json: &str) -> T {
        serde_json::from_str(json).expect("a form")
    }

    const NOW: RecordingPolicy = RecordingPolicy {
        record_private_rooms: false,
        recording_retention_days: Some(3650),
    };

    fn fields(error: Error) -> Vec<String> {
        match error {
            Error::Invalid(problems) => problems.into_iter().map(|p| p.field.into()).collect(),
            other => panic!("expected invalid fields, got {other:?}"),
        }
    }

    #[test]
    fn a_policy_change_keeps_what_it_leaves_out_and_null_means_keep() {
        let policy = form::<RecordingPolicyForm>(r#"{"record_private_rooms": true}"#)
            .validate(NOW)
            .expect("valid");
        assert!(policy.record_private_rooms);
        assert_eq!(policy.recording_retention_days, Some(3650));
        let policy = form::<RecordingPolicyForm>(r#"{"recording_retention_days": null}"#)
            .validate(NOW)
            .expect("valid");
        assert_eq!(policy.recording_retention_days, None);
        let policy = form::<RecordingPolicyForm>(r#"{"recording_retention_days": 365}"#)
            .validate(NOW)
            .expect("valid");
        assert_eq!(policy.recording_retention_days, Some(365));
    }

    #[test]
    fn a_policy_change_names_each_wrong_field() {
        let error = form::<RecordingPolicyForm>(
            r#"{"record_private_rooms": "yes", "recording_retention_days": 7}"#,
        )
        .validate(NOW)
        .expect_err("invalid");
        assert_eq!(
            fields(error),
            ["record_private_rooms", "recording_retention_days"]
        );
        for days in ["-1", "1.5", "\"90\"", "4294967396"] {
            let json = format!(r#"{{"recording_retention_days": {days}}}"#);
            assert!(
                form::<RecordingPolicyForm>(&json).validate(NOW).is_err(),
                "{days} days"
            );
        }
    }

    #[test]
    fn holding_needs_a_reason_and_lifting_does_not() {
        let error = form::<HoldForm>(r#"{"hold": true, "reason": "  "}"#)
            .validate()
            .expect_err("invalid");
        assert_eq!(fields(error), ["reason"]);
        let hold = form::<HoldForm>(r#"{"hold": true, "reason": "已起诉"}"#)
            .validate()
            .expect("valid");
        assert_eq!(hold.reason.as_deref(), Some("已起诉"));
        let lifted = form::<HoldForm>(r#"{"hold": false}"#)
            .validate()
            .expect("valid");
        assert_eq!(
            lifted,
            Hold {
                hold: false,
                reason: None
            }
        );
        assert_eq!(
            fields(form::<HoldForm>("{}").validate().expect_err("invalid")),
            ["hold"]
        );
    }
}
