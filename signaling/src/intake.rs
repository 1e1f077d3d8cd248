//! The public intake API (一站式自主申报): residents apply for mediation from a phone, with
//! no account, and follow their case with a tracking code.
//!
//! - `POST /api/v1/intake`: multipart, a JSON field `application` and files `photos[]`,
//!   with an `Idempotency-Key` header so a phone on a weak network can send again safely.
//! - `GET /api/v1/intake/{tracking_code}`: status, case number and status history; no
//!   personal data, since whoever holds the code can read it.
//! - `GET /api/v1/regions`: the regions some organisation serves, for the form's picker.
//!
//! Field errors carry English messages; the web client shows its own text per field name.

use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::{Error, FieldError, Result};
use crate::evidence::{self, MAX_FILES, Received, drain, multipart_error};
use crate::limits::ClientAddress;
use accord_cases::store::model::{CaseStatus, Category, NewCase, NewParty, PartyKind, Risk, Side};
use accord_cases::store::{IntakeFile, NewIntake, StatusStep, looks_like_tracking_code};
use accord_cases::validate::{is_id_number, is_landline, is_mobile, normalise_phone};

/// The application's JSON is small; anything larger is not a form a person filled in.
const MAX_APPLICATION_BYTES: usize = 64 * 1024;

/// The intake routes, taking evidence files of up to `max_file_bytes` each.
pub fn router(max_file_bytes: u64) -> Router<AppState> {
    // Room for every file at its limit plus the form; each file is checked as it streams.
    let files = usize::try_from(max_file_bytes).unwrap_or(usize::MAX);
    let body_limit = files
        .saturating_mul(MAX_FILES)
        .saturating_add(2 * MAX_APPLICATION_BYTES);
    Router::new()
        .route(
            "/api/v1/intake",
            post(submit).layer(DefaultBodyLimit::max(body_limit)),
        )
        .route("/api/v1/intake/{tracking_code}", get(track))
        .route("/api/v1/regions", get(regions))
}

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
struct Valid {
    applicant: NewParty,
    respondent: NewParty,
    region: String,
    category: Category,
    facts: String,
    claims: String,
}

#[derive(Serialize)]
struct SubmitResponse {
    case_number: String,
    tracking_code: String,
    status: CaseStatus,
}

#[derive(Serialize)]
struct TrackResponse {
    case_number: String,
    status: CaseStatus,
    history: Vec<StatusStep>,
}

#[derive(Serialize)]
struct RegionsResponse {
    regions: Vec<String>,
}

async fn submit(
    State(state): State<AppState>,
    client: ClientAddress,
    headers: HeaderMap,
    multipart: std::result::Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<SubmitResponse>)> {
    state
        .limits()
        .intake_per_address
        .hit(&client.key(), std::time::Instant::now())?;
    let mut multipart = multipart
        .map_err(|_| Error::UnsupportedMediaType("send the application as multipart/form-data"))?;
    let mut application: Option<String> = None;
    let mut files: Vec<Received> = Vec::new();
    // The first refusal is kept while the rest of the body is read, so the client gets it
    // as an answer instead of a connection closed under its upload.
    let (key, mut refusal) = match idempotency_key(&headers) {
        Ok(key) => (key, None),
        Err(e) => (String::new(), Some(e)),
    };
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        if refusal.is_some() {
            drain(&mut field).await?;
            continue;
        }
        match name.as_str() {
            "application" => match read_text(&mut field).await {
                Ok(text) => application = Some(text),
                Err(e) => refusal = Some(e),
            },
            "photos[]" | "photos" if files.len() >= MAX_FILES => {
                drain(&mut field).await?;
                refusal = Some(Error::Invalid(vec![FieldError {
                    field: "photos".into(),
                    message: format!("at most {MAX_FILES} files"),
                }]));
            }
            "photos[]" | "photos" => {
                let max = state.config().max_evidence_bytes;
                match evidence::receive(&mut field, state.blobs(), max).await {
                    Ok(received) => files.push(received),
                    Err(e) => refusal = Some(e),
                }
            }
            _ => {
                drain(&mut field).await?;
                refusal = Some(Error::BadRequest(format!(
                    "unexpected field `{name}`: send `application` and `photos[]`"
                )));
            }
        }
    }
    if let Some(refusal) = refusal {
        return Err(refusal);
    }
    let valid = validate(application.as_deref())?;
    let Some(organisation) = state.store().organisation_for_region(&valid.region).await? else {
        return Err(Error::Invalid(vec![FieldError {
            field: "region".into(),
            message: "no mediation organisation serves this region".into(),
        }]));
    };
    // Only now are the uploads stored: a refused application leaves no blobs behind.
    let mut stored = Vec::with_capacity(files.len());
    for received in files {
        let blob = received.writer.finish().await?;
        stored.push(IntakeFile {
            sha256: blob.sha256,
            media_type: received.media_type.into(),
            size: i64::try_from(blob.size).unwrap_or(i64::MAX),
            file_name: received.file_name,
        });
    }
    let new = NewIntake {
        case: NewCase {
            organisation_id: organisation.id,
            category: valid.category,
            title: title_of(&valid.facts),
            region: valid.region,
            // Staff assess the risk when they look at the intake.
            risk: Risk::Blue,
            facts: valid.facts,
            claims: valid.claims,
            status: CaseStatus::Intake,
            tracking_code: None,
        },
        applicant: valid.applicant,
        respondent: valid.respondent,
        files: stored,
    };
    let submitted = state.store().submit_intake(new, &key).await?;
    let status = if submitted.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(SubmitResponse {
            case_number: submitted.case.number,
            tracking_code: submitted.case.tracking_code.unwrap_or_default(),
            status: submitted.case.status,
        }),
    ))
}

async fn track(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<TrackResponse>> {
    // People copy codes by hand: lower case, spaces and dashes are forgiven.
    let code: String = code
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if !looks_like_tracking_code(&code) {
        return Err(Error::NotFound("no case has this tracking code"));
    }
    let case = state.store().case_by_tracking_code(&code).await?;
    let history = state.store().status_history(&case.id).await?;
    Ok(Json(TrackResponse {
        case_number: case.number,
        status: case.status,
        history,
    }))
}

async fn regions(State(state): State<AppState>) -> Result<Json<RegionsResponse>> {
    Ok(Json(RegionsResponse {
        regions: state.store().regions().await?,
    }))
}

pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<String> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default();
    let printable = key.bytes().all(|b| b.is_ascii_graphic());
    if key.len() < 8 || key.len() > 128 || !printable {
        return Err(Error::BadRequest(
            "send an Idempotency-Key header: 8–128 printable characters, new for each application"
                .into(),
        ));
    }
    Ok(key.to_owned())
}

async fn read_text(field: &mut axum::extract::multipart::Field<'_>) -> Result<String> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if bytes.len() + chunk.len() > MAX_APPLICATION_BYTES {
            drain(field).await?;
            return Err(Error::PayloadTooLarge(format!(
                "the application may be at most {} KiB",
                MAX_APPLICATION_BYTES / 1024
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| invalid("application", "must be UTF-8 JSON"))
}

fn invalid(field: &'static str, message: &str) -> Error {
    Error::Invalid(vec![FieldError::new(field, message)])
}

/// Checks every field and reports all that are wrong at once.
fn validate(application: Option<&str>) -> Result<Valid> {
    let Some(text) = application else {
        return Err(invalid("application", "required"));
    };
    let form: Application = serde_json::from_str(text)
        .map_err(|e| invalid("application", &format!("not the expected JSON: {e}")))?;
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
fn title_of(facts: &str) -> String {
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
