//! An online application (一站式自主申报) as a resident's phone sends it: who they are, the
//! other side, where and what happened, what they ask for. Field problems carry English
//! messages; the web client shows its own text per field name.

use serde::Deserialize;

use crate::error::{Error, FieldError, Result};
use crate::store::model::{
    CaseStatus, Category, NewCase, NewParty, Organisation, PartyKind, Risk, Side,
};
use crate::store::{IntakeFile, NewIntake};
use crate::validate::{is_id_number, is_landline, is_mobile, normalise_phone};

/// The `application` field as sent; every member optional so that missing ones become
/// field errors rather than one parse error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Application {
    applicant: Option<Applicant>,
    respondent: Option<Respondent>,
    region: Option<String>,
    category: Option<String>,
    facts: Option<String>,
    claims: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Applicant {
    name: Option<String>,
    phone: Option<String>,
    id_number: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Respondent {
    name: Option<String>,
    phone: Option<String>,
    kind: Option<String>,
}

/// An application that passed validation.
#[derive(Debug)]
pub struct Valid {
    /// The resident applying.
    pub applicant: NewParty,
    /// The other side.
    pub respondent: NewParty,
    /// Where the dispute is; it decides which organisation takes it.
    pub region: String,
    /// What it is about.
    pub category: Category,
    /// What happened.
    pub facts: String,
    /// What the applicant asks for.
    pub claims: String,
}

impl Valid {
    /// The case it asks for at `organisation`, awaiting acceptance, with its uploaded files.
    pub fn into_intake(self, organisation: &Organisation, files: Vec<IntakeFile>) -> NewIntake {
        NewIntake {
            case: NewCase {
                organisation_id: organisation.id.clone(),
                category: self.category,
                title: title_of(&self.facts),
                region: self.region,
                // Staff assess the risk when they look at the intake.
                risk: Risk::Blue,
                facts: self.facts,
                claims: self.claims,
                status: CaseStatus::Intake,
                tracking_code: None,
            },
            applicant: self.applicant,
            respondent: self.respondent,
            files,
        }
    }
}

/// The `application` field's JSON (`None` when it was not sent) as a valid application, or
/// every wrong field at once.
pub fn validate(application: Option<&str>) -> Result<Valid> {
    let Some(text) = application else {
        return Err(Error::field("application", "required"));
    };
    let form: Application = serde_json::from_str(text)
        .map_err(|e| Error::field("application", format!("not the expected JSON: {e}")))?;
    let mut errors = Vec::new();
    let mut check = |field: &'static str, problem: Option<&str>| {
        if let Some(message) = problem {
            errors.push(FieldError::new(field, message));
        }
    };
    let applicant = form.applicant.unwrap_or_default();
    let respondent = form.respondent.unwrap_or_default();
    let applicant_name = trimmed(applicant.name);
    check("applicant.name", text_problem(&applicant_name, 50));
    let applicant_phone = applicant.phone.map(|p| normalise_phone(&p));
    check(
        "applicant.phone",
        match &applicant_phone {
            None => Some("required"),
            Some(p) if !is_mobile(p) => Some("must be a mainland mobile number (11 digits)"),
            Some(_) => None,
        },
    );
    let id_number = trimmed(applicant.id_number)
        .filter(|n| !n.is_empty())
        .map(|n| n.to_ascii_uppercase());
    check(
        "applicant.id_number",
        id_number
            .as_deref()
            .filter(|n| !is_id_number(n))
            .map(|_| "must be an 18-character resident ID number"),
    );
    let respondent_name = trimmed(respondent.name);
    check("respondent.name", text_problem(&respondent_name, 100));
    let respondent_phone = respondent
        .phone
        .map(|p| normalise_phone(&p))
        .filter(|p| !p.is_empty());
    check(
        "respondent.phone",
        respondent_phone
            .as_deref()
            .filter(|p| !is_mobile(p) && !is_landline(p))
            .map(|_| "must be a mobile or landline number"),
    );
    let kind = match respondent.kind.as_deref() {
        Some("person") => Some(PartyKind::Person),
        Some("organisation") => Some(PartyKind::Organisation),
        _ => None,
    };
    check(
        "respondent.kind",
        kind.is_none().then_some("must be person or organisation"),
    );
    let region = trimmed(form.region);
    check("region", text_problem(&region, 100));
    let category = form
        .category
        .as_deref()
        .and_then(|c| Category::ALL.iter().copied().find(|k| k.as_str() == c));
    check(
        "category",
        category
            .is_none()
            .then_some("must be one of the categories"),
    );
    let facts = trimmed(form.facts);
    check("facts", text_problem(&facts, 5000));
    let claims = trimmed(form.claims);
    check("claims", text_problem(&claims, 2000));
    match (
        applicant_name,
        applicant_phone,
        respondent_name,
        kind,
        region,
        category,
        facts,
        claims,
    ) {
        (
            Some(applicant_name),
            Some(applicant_phone),
            Some(respondent_name),
            Some(kind),
            Some(region),
            Some(category),
            Some(facts),
            Some(claims),
        ) if errors.is_empty() => Ok(Valid {
            applicant: NewParty {
                side: Side::Applicant,
                kind: PartyKind::Person,
                name: applicant_name,
                phone: Some(applicant_phone),
                id_number,
                represents: None,
                attorney_letter: None,
            },
            respondent: NewParty {
                side: Side::Respondent,
                kind,
                name: respondent_name,
                phone: respondent_phone,
                id_number: None,
                represents: None,
                attorney_letter: None,
            },
            region,
            category,
            facts,
            claims,
        }),
        _ => Err(Error::Invalid(errors)),
    }
}

fn trimmed(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_owned())
}

fn text_problem(text: &Option<String>, max_chars: usize) -> Option<&'static str> {
    match text {
        None => Some("required"),
        Some(t) if t.is_empty() => Some("required"),
        Some(t) if t.chars().count() > max_chars => Some("too long"),
        Some(_) => None,
    }
}

/// The case's one-line title: the start of the facts' first line.
pub fn title_of(facts: &str) -> String {
    let first = facts.lines().next().unwrap_or_default().trim();
    let mut title: String = first.chars().take(30).collect();
    if first.chars().count() > 30 {
        title.push('…');
    }
    title
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"{
        "applicant": {"name": "张三", "phone": "+86 138-0013-8000", "id_number": "11010519491231002x"},
        "respondent": {"name": "某物业公司", "kind": "organisation"},
        "region": "新安街道", "category": "property",
        "facts": "楼上漏水三个月。\n多次联系无果。", "claims": "维修并赔偿。"
    }"#;

    fn fields_of(result: Result<Valid>) -> Vec<String> {
        match result {
            Err(Error::Invalid(errors)) => errors.iter().map(|e| e.field.to_string()).collect(),
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn a_complete_application_is_normalised() -> Result<()> {
        let valid = validate(Some(VALID))?;
        assert_eq!(valid.applicant.phone.as_deref(), Some("13800138000"));
        assert_eq!(
            valid.applicant.id_number.as_deref(),
            Some("11010519491231002X")
        );
        assert_eq!(valid.respondent.kind, PartyKind::Organisation);
        assert_eq!(valid.category, Category::Property);
        assert_eq!(title_of(&valid.facts), "楼上漏水三个月。");
        Ok(())
    }

    #[test]
    fn every_missing_field_is_named() {
        let fields = fields_of(validate(Some("{}")));
        assert_eq!(
            fields,
            [
                "applicant.name",
                "applicant.phone",
                "respondent.name",
                "respondent.kind",
                "region",
                "category",
                "facts",
                "claims"
            ]
        );
        assert_eq!(fields_of(validate(None)), ["application"]);
        assert_eq!(fields_of(validate(Some("[1]"))), ["application"]);
    }

    #[test]
    fn wrong_phone_id_number_and_category_are_refused() {
        let text = VALID
            .replace("+86 138-0013-8000", "12345")
            .replace("11010519491231002x", "110105194912310021")
            .replace("property", "weather");
        assert_eq!(
            fields_of(validate(Some(&text))),
            ["applicant.phone", "applicant.id_number", "category"]
        );
    }
}
