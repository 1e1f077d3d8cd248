//! `/api/v1/cases…`: listing, registering and running cases.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::{Body, Problems, body, require_case_worker, sees_everything, shown, visible_case};
use crate::AppState;
use crate::error::{Error, Result};
use crate::intake::idempotency_key;
use crate::staff::StaffSession;
use accord_cases::store::model::{
    AuditEntry, Case, CaseFilter, CaseStatus, Category, Evidence, NewCase, NewParty, Organisation,
    Party, PartyKind, Risk, Session, Side, Staff, StaffRole,
};
use accord_cases::store::now_ms;
use accord_cases::validate::{is_id_number, is_landline, is_mobile, normalise_phone};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/cases", get(list).post(create))
        .route("/api/v1/cases/{id}", get(detail))
        .route("/api/v1/cases/{id}/status", post(change_status))
        .route("/api/v1/cases/{id}/assign", post(assign))
        .route("/api/v1/cases/{id}/parties", post(add_party))
        .route("/api/v1/cases/{id}/sessions", post(schedule))
        .route("/api/v1/cases/{id}/audit", get(audit))
}

const CATEGORIES: &str =
    "family, neighbours, labour, property, consumer, traffic, medical, contract, other";
const RISKS: &str = "red, yellow, blue";
const SIDES: &str = "applicant, respondent";
const KINDS: &str = "person, organisation, representative, interpreter, expert";

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    status: Option<String>,
    category: Option<String>,
    from: Option<String>,
    to: Option<String>,
    q: Option<String>,
    limit: Option<String>,
    after: Option<String>,
}

#[derive(Debug, Serialize)]
struct CaseList {
    items: Vec<Case>,
    next: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    session: StaffSession,
    query: std::result::Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<CaseList>> {
    let Query(query) = query.map_err(|e| Error::BadRequest(e.body_text()))?;
    let mut problems = Problems::default();
    let status = query
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|s| match CaseStatus::parse(s) {
            Ok(v) => Some(v),
            Err(_) => {
                problems.add("status", "not a case status");
                None
            }
        });
    let category = query
        .category
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|s| match Category::parse(s) {
            Ok(v) => Some(v),
            Err(_) => {
                problems.add("category", &format!("one of: {CATEGORIES}"));
                None
            }
        });
    let mut millis = |field: &'static str, value: Option<&str>| -> Option<i64> {
        let text = value.map(str::trim).filter(|s| !s.is_empty())?;
        match text.parse::<i64>() {
            Ok(ms) if ms >= 0 => Some(ms),
            _ => {
                problems.add(field, "Unix milliseconds");
                None
            }
        }
    };
    let created_from = millis("from", query.from.as_deref());
    let created_to = millis("to", query.to.as_deref());
    let limit = match query.limit.as_deref().map(str::trim) {
        None | Some("") => 20,
        Some(text) => match text.parse::<u32>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => {
                problems.add("limit", "1–100");
                20
            }
        },
    };
    problems.finish()?;
    let claims = &session.0;
    let mut filter = CaseFilter {
        status,
        category,
        created_from,
        created_to,
        search: query.q.filter(|q| !q.trim().is_empty()),
        limit,
        after: query.after.filter(|a| !a.is_empty()),
        ..CaseFilter::default()
    };
    match claims.role {
        StaffRole::Court => {
            let Some(court) = claims.court.clone() else {
                return Ok(Json(CaseList {
                    items: Vec::new(),
                    next: None,
                }));
            };
            filter.court = Some(court);
        }
        _ if sees_everything(&session) => {}
        _ => filter.organisation_id = claims.organisation_id.clone(),
    }
    let page = state.store().cases(&filter).await?;
    Ok(Json(CaseList {
        items: page.items,
        next: page.next,
    }))
}

/// A party as sent by a form.
#[derive(Debug, Default, Deserialize)]
struct PartyForm {
    side: Option<String>,
    kind: Option<String>,
    name: Option<String>,
    phone: Option<String>,
    id_number: Option<String>,
    represents: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct CaseForm {
    organisation_id: Option<String>,
    category: Option<String>,
    risk: Option<String>,
    title: Option<String>,
    facts: Option<String>,
    claims: Option<String>,
    region: Option<String>,
    #[serde(default)]
    parties: Vec<PartyForm>,
}

/// Checks one party form; `prefix` names its fields (`parties[1].`).
fn check_party(problems: &mut Problems, prefix: &str, form: PartyForm) -> Option<NewParty> {
    let field = |name: &str| format!("{prefix}{name}");
    let side = problems.choice(&field("side"), form.side.as_deref(), Side::parse, SIDES);
    let kind = problems.choice(
        &field("kind"),
        form.kind.as_deref(),
        PartyKind::parse,
        KINDS,
    );
    let name = problems.text(&field("name"), form.name.as_deref(), 50);
    let phone = form
        .phone
        .as_deref()
        .map(normalise_phone)
        .filter(|p| !p.is_empty());
    if let Some(phone) = &phone {
        if !is_mobile(phone) && !is_landline(phone) {
            problems.add(
                field("phone"),
                "a mobile number (11 digits) or a landline with area code",
            );
        }
    }
    let id_number = form
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
    let represents = form.represents.filter(|r| !r.trim().is_empty());
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
        represents,
        attorney_letter: None,
    })
}

#[derive(Debug, Serialize)]
struct CaseDetail {
    case: Case,
    parties: Vec<Party>,
    sessions: Vec<Session>,
    evidence: Vec<Evidence>,
    next_statuses: Vec<CaseStatus>,
    mediator: Option<crate::staff::StaffView>,
    organisation: Organisation,
}

async fn detail_of(state: &AppState, session: &StaffSession, case: Case) -> Result<CaseDetail> {
    let store = state.store();
    let mediator = match &case.mediator_id {
        Some(id) => Some(store.staff(id).await?.into()),
        None => None,
    };
    let parties = store.parties(&case.id).await?;
    Ok(CaseDetail {
        parties: parties
            .into_iter()
            .map(|p| shown(session, &case, p))
            .collect(),
        sessions: store.sessions(&case.id).await?,
        evidence: store.evidence(&case.id).await?,
        next_statuses: allowed_steps(session, case.status),
        organisation: store.organisation(&case.organisation_id).await?,
        mediator,
        case,
    })
}

/// The steps of the life cycle this bearer may take: courts decide on confirmation,
/// case workers take every other step.
fn allowed_steps(session: &StaffSession, from: CaseStatus) -> Vec<CaseStatus> {
    from.next()
        .iter()
        .copied()
        .filter(|to| may_take_step(session, *to))
        .collect()
}

fn may_take_step(session: &StaffSession, to: CaseStatus) -> bool {
    let court_step = matches!(to, CaseStatus::Confirmed | CaseStatus::Rejected);
    (session.0.role == StaffRole::Court) == court_step
}

async fn create(
    State(state): State<AppState>,
    session: StaffSession,
    headers: HeaderMap,
    form: Body<CaseForm>,
) -> Result<(StatusCode, Json<CaseDetail>)> {
    require_case_worker(&session)?;
    let key = match headers.get("idempotency-key") {
        Some(_) => Some(idempotency_key(&headers)?),
        None => None,
    };
    let form = body(form)?;
    let organisation_id = match (&session.0.organisation_id, form.organisation_id) {
        (Some(own), _) => own.clone(),
        (None, Some(chosen)) if sees_everything(&session) => chosen,
        (None, _) => {
            return Err(Error::field(
                "organisation_id",
                "required: the organisation that takes the case",
            ));
        }
    };
    let organisation = match state
        .store()
        .organisation(&organisation_id)
        .await
        .map_err(Error::from)
    {
        Ok(org) => org,
        Err(Error::NotFound(_)) => {
            return Err(Error::field("organisation_id", "no such organisation"));
        }
        Err(other) => return Err(other),
    };
    let mut problems = Problems::default();
    let category = problems.choice(
        "category",
        form.category.as_deref(),
        Category::parse,
        CATEGORIES,
    );
    let risk = match form.risk.as_deref().map(str::trim) {
        None | Some("") => Some(Risk::Blue),
        Some(_) => problems.choice("risk", form.risk.as_deref(), Risk::parse, RISKS),
    };
    let title = problems.text("title", form.title.as_deref(), 60);
    let facts = problems.text("facts", form.facts.as_deref(), 5000);
    let claims = problems.text("claims", form.claims.as_deref(), 2000);
    let region = problems
        .optional_text("region", form.region.as_deref(), 60)
        .unwrap_or_else(|| organisation.region.clone());
    if form.parties.len() > 20 {
        problems.add("parties", "at most 20 parties");
    }
    let mut parties = Vec::new();
    for (i, party) in form.parties.into_iter().enumerate() {
        let prefix = format!("parties[{i}].");
        if let Some(kind) = party.kind.as_deref() {
            if !matches!(kind.trim(), "person" | "organisation" | "") {
                problems.add(
                    format!("{prefix}kind"),
                    "person or organisation: add representatives once the case exists",
                );
                continue;
            }
        }
        if let Some(p) = check_party(&mut problems, &prefix, party) {
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
    let new = NewCase {
        organisation_id: organisation.id,
        category,
        region,
        risk,
        title,
        facts,
        claims,
        status: CaseStatus::Accepted,
        tracking_code: None,
    };
    let (mut case, created) = state
        .store()
        .register_case(&session.actor(), new, parties, key.as_deref())
        .await?;
    // A mediator who enters a case takes it on: it is theirs, with the assignment in the audit
    // trail like any other, rather than a case that says "未分派" to its own mediator.
    if created && session.0.role == StaffRole::Mediator {
        case = state
            .store()
            .assign_case(&session.actor(), &case.id, &session.0.sub)
            .await?;
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(detail_of(&state, &session, case).await?)))
}

async fn detail(
    State(state): State<AppState>,
    session: StaffSession,
    Path(id): Path<String>,
) -> Result<Json<CaseDetail>> {
    let case = visible_case(&state, &session, &id).await?;
    Ok(Json(detail_of(&state, &session, case).await?))
}

#[derive(Debug, Deserialize)]
struct StatusForm {
    status: Option<String>,
}

async fn change_status(
    State(state): State<AppState>,
    session: StaffSession,
    Path(id): Path<String>,
    form: Body<StatusForm>,
) -> Result<Json<Case>> {
    let case = visible_case(&state, &session, &id).await?;
    let form = body(form)?;
    let mut problems = Problems::default();
    let to = problems.choice(
        "status",
        form.status.as_deref(),
        CaseStatus::parse,
        "a case status",
    );
    problems.finish()?;
    let Some(to) = to else {
        return Err(Error::Internal("validated status missing".into()));
    };
    if !may_take_step(&session, to) {
        return Err(Error::Forbidden("your role does not take this step"));
    }
    Ok(Json(
        state
            .store()
            .transition_case(&session.actor(), &case.id, to)
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
struct AssignForm {
    mediator_id: Option<String>,
}

async fn assign(
    State(state): State<AppState>,
    session: StaffSession,
    Path(id): Path<String>,
    form: Body<AssignForm>,
) -> Result<Json<Case>> {
    require_case_worker(&session)?;
    let case = visible_case(&state, &session, &id).await?;
    let form = body(form)?;
    let mut problems = Problems::default();
    let mediator_id = problems.text("mediator_id", form.mediator_id.as_deref(), 64);
    problems.finish()?;
    let usable = |staff: &Staff| {
        staff.role == StaffRole::Mediator
            && staff.disabled_at.is_none()
            && staff.organisation_id.as_deref() == Some(case.organisation_id.as_str())
    };
    match state.store().staff(&mediator_id).await.map_err(Error::from) {
        Ok(staff) if usable(&staff) => {}
        Ok(_) | Err(Error::NotFound(_)) => {
            return Err(Error::field(
                "mediator_id",
                "not an active mediator of the case's organisation",
            ));
        }
        Err(other) => return Err(other),
    }
    Ok(Json(
        state
            .store()
            .assign_case(&session.actor(), &case.id, &mediator_id)
            .await?,
    ))
}

async fn add_party(
    State(state): State<AppState>,
    session: StaffSession,
    Path(id): Path<String>,
    form: Body<PartyForm>,
) -> Result<(StatusCode, Json<Party>)> {
    require_case_worker(&session)?;
    let case = visible_case(&state, &session, &id).await?;
    let form = body(form)?;
    let mut problems = Problems::default();
    let party = check_party(&mut problems, "", form);
    problems.finish()?;
    let Some(party) = party else {
        return Err(Error::Internal("validated party missing".into()));
    };
    let added = match state
        .store()
        .add_party(&session.actor(), &case.id, party)
        .await
        .map_err(Error::from)
    {
        Err(Error::NotFound(_)) => Err(Error::field("represents", "not a party of this case")),
        other => other,
    }?;
    Ok((StatusCode::CREATED, Json(shown(&session, &case, added))))
}

#[derive(Debug, Deserialize)]
struct ScheduleForm {
    scheduled_at: Option<serde_json::Value>,
}

async fn schedule(
    State(state): State<AppState>,
    session: StaffSession,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: Body<ScheduleForm>,
) -> Result<(StatusCode, Json<Session>)> {
    require_case_worker(&session)?;
    let case = visible_case(&state, &session, &id).await?;
    let key = match headers.get("idempotency-key") {
        Some(_) => Some(idempotency_key(&headers)?),
        None => None,
    };
    let form = body(form)?;
    let at = form
        .scheduled_at
        .as_ref()
        .and_then(serde_json::Value::as_i64);
    // A session a day in the past is a typo; a year ahead is not something people plan.
    let earliest = now_ms() - 24 * 3600 * 1000;
    let latest = now_ms() + 366 * 24 * 3600 * 1000;
    let Some(at) = at.filter(|at| (earliest..=latest).contains(at)) else {
        return Err(Error::field(
            "scheduled_at",
            "Unix milliseconds, from a day ago to a year ahead",
        ));
    };
    let (session_record, created) = state
        .store()
        .schedule_session_once(&session.actor(), &case.id, at, key.as_deref())
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(session_record)))
}

#[derive(Debug, Serialize)]
struct AuditList {
    items: Vec<AuditEntry>,
}

async fn audit(
    State(state): State<AppState>,
    session: StaffSession,
    Path(id): Path<String>,
) -> Result<Json<AuditList>> {
    let case = visible_case(&state, &session, &id).await?;
    let items = state.store().audit_of(&format!("case:{}", case.id)).await?;
    Ok(Json(AuditList { items }))
}
