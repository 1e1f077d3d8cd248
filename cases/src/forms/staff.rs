//! The forms of the people who run the service: an organisation, a staff account, and the
//! first administrator of a fresh server.

use serde::Deserialize;

use crate::error::{Error, FieldError, Result};
use crate::staff_password::check_new_password;
use crate::store::model::{Channel, NewOrganisation, NewStaff, StaffRole};
use crate::validate::Problems;

/// A new mediation organisation.
#[derive(Debug, Deserialize)]
pub struct OrganisationForm {
    name: Option<String>,
    short_name: Option<String>,
    region: Option<String>,
    channel: Option<String>,
    court: Option<String>,
}

impl OrganisationForm {
    /// The organisation, or every problem with the form.
    pub fn validate(self) -> Result<NewOrganisation> {
        let mut problems = Problems::default();
        let name = problems.text("name", self.name.as_deref(), 80);
        let short_name = problems.text("short_name", self.short_name.as_deref(), 8);
        if short_name.contains('-') {
            problems.add("short_name", "no hyphens: it is part of case numbers");
        }
        let region = problems.text("region", self.region.as_deref(), 60);
        let channel = problems.choice(
            "channel",
            self.channel.as_deref(),
            Channel::parse,
            "peoples, administrative, court_annexed",
        );
        let court = problems.optional_text("court", self.court.as_deref(), 80);
        problems.finish()?;
        let channel = channel.ok_or_else(|| Error::Internal("validated channel missing".into()))?;
        Ok(NewOrganisation {
            name,
            short_name,
            region,
            channel,
            court,
        })
    }
}

/// A new staff account, as an administrator fills it in.
#[derive(Debug, Deserialize)]
pub struct StaffForm {
    username: Option<String>,
    display_name: Option<String>,
    password: Option<String>,
    role: Option<String>,
    organisation_id: Option<String>,
    court: Option<String>,
}

/// A staff account that passed validation; its password is still to be hashed.
#[derive(Debug)]
pub struct NewAccount {
    /// The sign-in name, trimmed.
    pub username: String,
    /// The name others see.
    pub display_name: String,
    /// In clear, only until it is hashed.
    pub password: String,
    /// What they do.
    pub role: StaffRole,
    /// Where they work: required of mediators, never set for court users.
    pub organisation_id: Option<String>,
    /// For court users: their court.
    pub court: Option<String>,
}

impl StaffForm {
    /// The account, or every problem with the form. Whether the caller may create it, and
    /// whether its organisation exists, is for the edge to check.
    pub fn validate(self) -> Result<NewAccount> {
        let mut problems = Problems::default();
        let username = self
            .username
            .as_deref()
            .map(str::trim)
            .unwrap_or_default()
            .to_owned();
        problems.0.extend(check_username(&username));
        let display_name = problems.text("display_name", self.display_name.as_deref(), 64);
        let password = self.password.unwrap_or_default();
        problems
            .0
            .extend(check_new_password("password", &password, &username));
        let role = problems.choice(
            "role",
            self.role.as_deref(),
            StaffRole::parse,
            "administrator, mediator, court",
        );
        let organisation_id = self.organisation_id.filter(|o| !o.trim().is_empty());
        let court = problems.optional_text("court", self.court.as_deref(), 80);
        match role {
            Some(StaffRole::Mediator) if organisation_id.is_none() => {
                problems.add(
                    "organisation_id",
                    "required: a mediator belongs to an organisation",
                );
            }
            Some(StaffRole::Court) if court.is_none() => {
                problems.add("court", "required: the court whose requests they see");
            }
            Some(StaffRole::Court) if organisation_id.is_some() => {
                problems.add(
                    "organisation_id",
                    "court users belong to a court, not an organisation",
                );
            }
            _ => {}
        }
        problems.finish()?;
        let role = role.ok_or_else(|| Error::Internal("validated role missing".into()))?;
        Ok(NewAccount {
            username,
            display_name,
            password,
            role,
            organisation_id,
            // Only court users have a court.
            court: court.filter(|_| role == StaffRole::Court),
        })
    }
}

impl NewAccount {
    /// The account to store, with the hash of its password.
    pub fn into_new_staff(self, password_hash: String) -> NewStaff {
        NewStaff {
            organisation_id: self.organisation_id.map(Into::into),
            username: self.username,
            display_name: self.display_name,
            role: self.role,
            court: self.court,
            password_hash,
        }
    }
}

/// The first administrator's sign-in name and display name, trimmed, if they and the
/// password are acceptable.
pub fn first_administrator(
    username: &str,
    display_name: &str,
    password: &str,
) -> Result<(String, String)> {
    let username = username.trim().to_owned();
    let display_name = display_name.trim().to_owned();
    let mut errors: Vec<FieldError> = check_username(&username).into_iter().collect();
    if display_name.is_empty() || display_name.chars().count() > 64 {
        errors.push(FieldError::new("display_name", "1–64 characters"));
    }
    errors.extend(check_new_password("password", password, &username));
    if errors.is_empty() {
        Ok((username, display_name))
    } else {
        Err(Error::Invalid(errors))
    }
}

/// The problem with a sign-in name, if any: 1–64 letters, digits or `- _ . @`.
pub fn check_username(username: &str) -> Option<FieldError> {
    let ok_chars = username
        .chars()
        .all(|c| c.is_alphanumeric() || "-_.@".contains(c));
    (username.is_empty() || username.chars().count() > 64 || !ok_chars)
        .then(|| FieldError::new("username", "1–64 letters, digits or - _ . @"))
}
