//! The court's inbox inside Accord: the requests sent to a court user's court, with the
//! court's own clocks (法释〔2011〕5号 第四、五条), and one request opened with its applicants,
//! its package's contents and index, and the case's recordings (watched through the review
//! page). Opening a `submitted` request marks it `received`: that starts the 3-day clock from
//! the day the court actually had it.
//!
//! Only court users, and only of the request's court: any other request is 404, so a court
//! learns nothing of what went elsewhere.

use std::collections::HashMap;

use accord_cases::ConfirmationRequestId;
use accord_cases::confirmation::clocks::clocks;
use accord_cases::confirmation::model::{ConfirmationRequest, InboxState, RequestStatus};
use accord_cases::confirmation::package::{IndexRow, Manifest};
use accord_cases::store::model::{Case, Organisation, StaffRole};
use axum::Json;
use axum::Router;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::routing::get;
use serde::{Deserialize, Serialize};

use super::view::DecisionView;
use crate::AppState;
use crate::error::{Error, Result};
use crate::staff::StaffSession;

/// The inbox routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/court/requests", get(list))
        .route("/api/v1/court/requests/{id}", get(open))
}

/// A signed-in court user, with their court.
#[derive(Clone, Debug)]
pub struct CourtUser {
    /// Their session.
    pub session: StaffSession,
    /// Their court, as requests name it.
    pub court: String,
}

impl FromRequestParts<AppState> for CourtUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let session = StaffSession::from_request_parts(parts, state).await?;
        session.require_role(&[StaffRole::Court])?;
        let court = session
            .court
            .clone()
            .filter(|c| !c.trim().is_empty())
            .ok_or(Error::Forbidden("your account names no court"))?;
        Ok(Self { session, court })
    }
}

const NO_REQUEST: Error = Error::NotFound("no such confirmation request");

impl CourtUser {
    /// The request `id` if it was sent to this user's court; 404 otherwise, and for one
    /// still being applied for (nothing was sent yet).
    pub async fn request(&self, state: &AppState, id: &str) -> Result<ConfirmationRequest> {
        let request = match state
            .store()
            .confirmation_request(&ConfirmationRequestId::from(id))
            .await
        {
            Ok(request) => request,
            Err(accord_cases::Error::NotFound(_)) => return Err(NO_REQUEST),
            Err(other) => return Err(other.into()),
        };
        if request.court.as_deref() != Some(self.court.as_str())
            || request.status == RequestStatus::Applying
        {
            return Err(NO_REQUEST);
        }
        Ok(request)
    }
}

/// One row of the inbox.
#[derive(Debug, Serialize)]
pub struct InboxItem {
    id: String,
    case_id: String,
    case_number: String,
    case_title: String,
    category: String,
    organisation: String,
    court: Option<String>,
    status: RequestStatus,
    submitted_at: Option<i64>,
    received_at: Option<i64>,
    accepted_at: Option<i64>,
    accept_due_at: Option<i64>,
    ruling_due_at: Option<i64>,
    extended: bool,
    overdue: bool,
    days_left: Option<i64>,
    court_case_number: Option<String>,
}

impl InboxItem {
    /// `request` of `case` from `organisation`, its clocks as of `now_ms`.
    pub fn of(
        request: &ConfirmationRequest,
        case: &Case,
        organisation: &Organisation,
        now_ms: i64,
    ) -> Self {
        let clocks = clocks(request, now_ms);
        Self {
            id: request.id.to_string(),
            case_id: case.id.to_string(),
            case_number: case.number.clone(),
            case_title: case.title.clone(),
            category: case.category.as_str().to_owned(),
            organisation: organisation.name.clone(),
            court: request.court.clone(),
            status: request.status,
            submitted_at: request.submitted_at,
            received_at: request.received_at,
            accepted_at: request.accepted_at,
            accept_due_at: clocks.accept_due_at,
            ruling_due_at: clocks.ruling_due_at,
            extended: request.extended_at.is_some(),
            overdue: clocks.overdue,
            days_left: clocks.days_left,
            court_case_number: request.court_case_number.clone(),
        }
    }
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    state: Option<String>,
}

#[derive(Debug, Serialize)]
struct Inbox {
    requests: Vec<InboxItem>,
}

/// `GET /api/v1/court/requests?state=open|decided|all` (open by default): the most urgent
/// first, as the store orders them.
async fn list(
    State(state): State<AppState>,
    user: CourtUser,
    Query(query): Query<ListQuery>,
) -> Result<Json<Inbox>> {
    super::hit(&super::limits(&state).views, &user.session.sub)?;
    let wanted = match query.state.as_deref() {
        None => InboxState::Open,
        Some(text) => {
            InboxState::parse(text).ok_or_else(|| Error::field("state", "open, decided or all"))?
        }
    };
    let now = state.now_ms();
    let requests = state
        .store()
        .confirmation_inbox(&user.court, wanted)
        .await?
        .iter()
        .map(|(request, case, organisation)| InboxItem::of(request, case, organisation, now))
        .collect();
    Ok(Json(Inbox { requests }))
}

/// One request as the court sees it.
#[derive(Debug, Serialize)]
pub struct CourtRequest {
    #[serde(flatten)]
    item: InboxItem,
    applicants: Vec<ApplicantRow>,
    agreement: AgreementRef,
    package: Option<PackageContents>,
    recordings: Vec<RecordingRow>,
    decision: Option<DecisionView>,
    extension_reason: Option<String>,
}

#[derive(Debug, Serialize)]
struct ApplicantRow {
    name: String,
    side: String,
    applied_at: i64,
    applied_by_name: String,
}

#[derive(Debug, Serialize)]
struct AgreementRef {
    id: String,
    version: i64,
    text_sha256: String,
    effective_at: Option<i64>,
}

#[derive(Debug, Serialize)]
struct PackageContents {
    sha256: String,
    size: i64,
    files: Vec<FileRow>,
    index: Vec<IndexRow>,
}

#[derive(Debug, Serialize)]
struct FileRow {
    path: String,
    sha256: String,
    size: u64,
    kind: String,
    title: String,
}

#[derive(Debug, Serialize)]
struct RecordingRow {
    id: String,
    session_id: String,
    started_at: i64,
    ended_at: Option<i64>,
    status: String,
}

/// `GET /api/v1/court/requests/{id}`: the request, its package's contents and the case's
/// recordings. The first open of a `submitted` request marks it `received`.
async fn open(
    State(state): State<AppState>,
    user: CourtUser,
    Path(id): Path<String>,
) -> Result<Json<CourtRequest>> {
    super::hit(&super::limits(&state).views, &user.session.sub)?;
    let mut request = user.request(&state, &id).await?;
    let now = state.now_ms();
    if request.status == RequestStatus::Submitted {
        request = state
            .store()
            .mark_confirmation_received(&user.session.actor(), &request.id, now)
            .await?;
        super::notices::status_changed(&state, &request);
    }
    let store = state.store();
    let case = store.case(&request.case_id).await?;
    let organisation = store.organisation(&case.organisation_id).await?;
    let parties: HashMap<String, (String, String)> = store
        .parties(&case.id)
        .await?
        .into_iter()
        .map(|p| (p.id.to_string(), (p.name, p.side.as_str().to_owned())))
        .collect();
    let applicants = store
        .confirmation_applicants(&request.id)
        .await?
        .into_iter()
        .map(|a| {
            let (name, side) = parties
                .get(a.party_id.as_str())
                .cloned()
                .unwrap_or_default();
            ApplicantRow {
                name,
                side,
                applied_at: a.applied_at,
                applied_by_name: a.applied_by_name,
            }
        })
        .collect();
    let effective_at = store
        .seal_of(&request.agreement_id)
        .await?
        .filter(|seal| seal.version == request.version)
        .map(|seal| seal.effective_at);
    let package = match (&request.package_sha256, request.package_size) {
        (Some(sha256), Some(size)) => {
            let manifest = super::court_files::manifest(&state, sha256).await?;
            Some(contents(sha256, size, manifest))
        }
        _ => None,
    };
    let recordings = store
        .recordings_of_case(&case.id)
        .await?
        .into_iter()
        .map(|r| RecordingRow {
            id: r.id.to_string(),
            session_id: r.session_id.to_string(),
            started_at: r.started_at,
            ended_at: r.ended_at,
            status: r.status.as_str().to_owned(),
        })
        .collect();
    Ok(Json(CourtRequest {
        item: InboxItem::of(&request, &case, &organisation, now),
        applicants,
        agreement: AgreementRef {
            id: request.agreement_id.to_string(),
            version: request.version,
            text_sha256: request.text_sha256.clone(),
            effective_at,
        },
        package,
        recordings,
        decision: DecisionView::of(&request),
        extension_reason: request.extension_reason.clone(),
    }))
}

fn contents(sha256: &str, size: i64, manifest: Manifest) -> PackageContents {
    PackageContents {
        sha256: sha256.to_owned(),
        size,
        files: manifest
            .files
            .into_iter()
            .map(|f| FileRow {
                title: file_title(&f.path, &f.kind),
                path: f.path,
                sha256: f.sha256,
                size: f.size,
                kind: f.kind,
            })
            .collect(),
        index: manifest.index,
    }
}

/// What a file of the package is, in the court's words: the material it belongs to and the
/// file's own name.
fn file_title(path: &str, kind: &str) -> String {
    let what = match kind {
        "application" => "司法确认申请书",
        "agreement" => "调解协议",
        "signature" => "当事人签名",
        "seal" => "调解组织印章",
        "party" => "当事人信息",
        "identity" => "身份证明",
        "attorney" => "授权委托书",
        "organisation" => "调解组织与调解员",
        "evidence" => "证据材料",
        "recording" => "调解录音录像",
        "record" => "调解笔录",
        "audit" => "操作记录",
        "index" => "材料目录",
        _ => "其他材料",
    };
    let name = path.rsplit('/').next().unwrap_or(path);
    format!("{what}：{name}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_file_is_titled_by_its_material_and_name() {
        assert_eq!(
            super::file_title("agreement/agreement.pdf", "agreement"),
            "调解协议：agreement.pdf"
        );
        assert_eq!(super::file_title("x", "unknown"), "其他材料：x");
    }
}
