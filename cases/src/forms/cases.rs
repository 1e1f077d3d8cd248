//! A case with its parties, a party added later, a step in the case's life cycle, its
//! mediator, and the time of a session.

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::store::model::{
    CaseStatus, Category, NewCase, NewParty, Organisation, PartyKind, Risk, Side, StaffRole,
};
use crate::validate::{Problems, is_id_number, is_landline, is_mobile, normalise_phone};

/// The categories, as a problem names them.
pub const CATEGORIES: &str =
    "family, neighbours, labour, property, consumer, traffic, medical, contract, other";
const RISKS: &str = "red, yellow, blue";
const SIDES: &str = "applicant, respondent";
const KINDS: &str = "person, organisation, representative, interpreter, expert";
/// More parties than this in one new case is not a dispute people mediate.
const MAX_PARTIES: usize = 20;

/// A party as sent by a form.
#[derive(Debug, Default, Deserialize)]
pub struct PartyForm {
    side: Option<String>,
    kind: Option<String>,
    name: Option<String>,
    phone: Option<String>,
    id_number: Option<String>,
    represents: Option<String>,
}

/// A new case with its first parties, as staff register it.
#[derive(Debug, Default, Deserialize)]
pub struct CaseForm {
    /// The organisation that takes it; only a system-wide administrator chooses, everyone
    /// else registers cases of their own organisation.
    pub organisation_id: Option<String>,
    category: Option<String>,
    risk: Option<String>,
    title: Option<String>,
    facts: Option<String>,
    claims: Option<String>,
    region: Option<String>,
    #[serde(default)]
    parties: Vec<PartyForm>,
}

impl CaseForm {
    /// The case for `organisation` (its region unless the form names one), accepted at once
    /// since staff register it, and its parties: at least one applicant and one respondent,
    /// people or organisations (representatives are added once the case exists).
    pub fn validate(self, organisation: &Organisation) -> Result<(NewCase, Vec<NewParty>)> {
        let mut problems = Problems::default();
        let category = problems.choice(
            "category",
            self.category.as_deref(),
            Category::parse,
            CATEGORIES,
        );
        let risk = match self.risk.as_deref().map(str::trim) {
            None | Some("") => Some(Risk::Blue),
            Some(_) => problems.choice("risk", self.risk.as_deref(), Risk::parse, RISKS),
        };
        let title = problems.text("title", self.title.as_deref(), 60);
        let facts = problems.text("facts", self.facts.as_deref(), 5000);
        let claims = problems.text("claims", self.claims.as_deref(), 2000);
        let region = problems
            .optional_text("region", self.region.as_deref(), 60)
            .unwrap_or_else(|| organisation.region.clone());
        if self.parties.len() > MAX_PARTIES {
            problems.add("parties", "at most 20 parties");
        }
        let mut parties = Vec::new();
        for (i, party) in self.parties.into_iter().enumerate() {
            let prefix = format!("parties[{i}].");
            if let Some(kind) = party.kind.as_deref()
                && !matches!(kind.trim(), "person" | "organisation" | "")
            {
                problems.add(
                    format!("{prefix}kind"),
                    "person or organisation: add representatives once the case exists",
                );
                continue;
            }
            if let Some(p) = party.check(&mut problems, &prefix) {
                parties.push(p);
            }
        }
        for side in [Side::Applicant, Side::Respondent] {
            if !parties.iter().any(|p| p.side == side)
                && problems.0.iter().all(|p| !p.field.starts_with("parties["))
            {
                problems.add("parties", "at least one applicant and one respondent");
                break;
            }
        }
        problems.finish()?;
        let (Some(category), Some(risk)) = (category, risk) else {
            return Err(Error::Internal("validated fields missing".into()));
        };
        let case = NewCase {
            organisation_id: organisation.id.clone(),
            category,
            region,
            risk,
            title,
            facts,
            claims,
            status: CaseStatus::Accepted,
            tracking_code: None,
        };
        Ok((case, parties))
    }
}

impl PartyForm {
    /// The party, or every problem with the form.
    pub fn validate(self) -> Result<NewParty> {
        let mut problems = Problems::default();
        let party = self.check(&mut problems, "");
        problems.finish()?;
        party.ok_or_else(|| Error::Internal("validated party missing".into()))
    }

    /// Notes the form's problems, naming its fields with `prefix` (`parties[1].`); the
    /// party if its side and kind are known.
    fn check(self, problems: &mut Problems, prefix: &str) -> Option<NewParty> {
        let field = |name: &str| format!("{prefix}{name}");
        let side = problems.choice(&field("side"), self.side.as_deref(), Side::parse, SIDES);
        let kind = problems.choice(
            &field("kind"),
            self.kind.as_deref(),
            PartyKind::parse,
            KINDS,
        );
        let name = problems.text(&field("name"), self.name.as_deref(), 50);
        let phone = self
            .phone
            .as_deref()
            .map(normalise_phone)
            .filter(|p| !p.is_empty());
        if let Some(phone) = &phone
            && !is_mobile(phone)
            && !is_landline(phone)
        {
            problems.add(
                field("phone"),
                "a mobile number (11 digits) or a landline with area code",
            );
        }
        let id_number = self
            .id_number
            .as_deref()
            .map(|n| n.trim().to_uppercase())
            .filter(|n| !n.is_empty());
        if let Some(id) = &id_number {
            if kind == Some(PartyKind::Organisation) {
                problems.add(
                    field("id_number"),
                    "organisations have no resident ID number",
                );
            } else if !is_id_number(id) {
                problems.add(field("id_number"), "not a valid resident ID number");
            }
        }
        let represents = self.represents.filter(|r| !r.trim().is_empty());
        let helper = matches!(
            kind,
            Some(PartyKind::Representative | PartyKind::Interpreter | PartyKind::Expert)
        );
        if helper && represents.is_none() {
            problems.add(field("represents"), "required: the party they act for");
        }
        if !helper && represents.is_some() {
            problems.add(
                field("represents"),
                "only representatives, interpreters and experts act for a party",
            );
        }
        Some(NewParty {
            // A helper takes the side of the party they act for; the store sets it.
            side: side.or(helper.then_some(Side::Applicant))?,
            kind: kind?,
            name,
            phone,
            id_number,
            represents: represents.map(Into::into),
            attorney_letter: None,
        })
    }
}

/// A step in a case's life cycle.
#[derive(Debug, Deserialize)]
pub struct StatusForm {
    status: Option<String>,
}

impl StatusForm {
    /// The status to move to, if `role` takes that step ([`may_take_step`]); whether the
    /// case's current status leads there is the store's to say.
    pub fn validate(self, role: StaffRole) -> Result<CaseStatus> {
        let mut problems = Problems::default();
        let to = problems.choice(
            "status",
            self.status.as_deref(),
            CaseStatus::parse,
            "a case status",
        );
        problems.finish()?;
        let to = to.ok_or_else(|| Error::Internal("validated status missing".into()))?;
        if may_take_step(role, to) {
            Ok(to)
        } else {
            Err(Error::Forbidden("your role does not take this step"))
        }
    }
}

/// The steps of the life cycle from `from` that `role` may take.
pub fn allowed_steps(role: StaffRole, from: CaseStatus) -> Vec<CaseStatus> {
    from.next()
        .iter()
        .copied()
        .filter(|to| may_take_step(role, *to))
        .collect()
}

/// Courts decide on confirmation; case workers take every other step.
pub fn may_take_step(role: StaffRole, to: CaseStatus) -> bool {
    let court_step = matches!(to, CaseStatus::Confirmed | CaseStatus::Rejected);
    (role == StaffRole::Court) == court_step
}

/// The mediator a case is assigned to.
#[derive(Debug, Deserialize)]
pub struct AssignForm {
    mediator_id: Option<String>,
}

impl AssignForm {
    /// The mediator's id; whether they may take the case is for the edge to look up.
    pub fn validate(self) -> Result<String> {
        let mut problems = Problems::default();
        let mediator_id = problems.text("mediator_id", self.mediator_id.as_deref(), 64);
        problems.finish()?;
        Ok(mediator_id)
    }
}

/// When a session takes place.
#[derive(Debug, Deserialize)]
pub struct ScheduleForm {
    scheduled_at: Option<serde_json::Value>,
}

impl ScheduleForm {
    /// The time in Unix milliseconds, from a day before `now_ms` to a year after it: a
    /// session a day in the past is a typo, a year ahead is not something people plan.
    pub fn validate(self, now_ms: i64) -> Result<i64> {
        let earliest = now_ms - 24 * 3600 * 1000;
        let latest = now_ms + 366 * 24 * 3600 * 1000;
        self.scheduled_at
            .as_ref()
            .and_then(serde_json::Value::as_i64)
            .filter(|at| (earliest..=latest).contains(at))
            .ok_or_else(|| {
                Error::field(
                    "scheduled_at",
                    "Unix milliseconds, from a day ago to a year ahead",
                )
            })
    }
}
