//! The Agreement JSON (docs/api.md, "Agreements"): what GET answers and every change returns,
//! drafting's part from the store and signing's from [`super::signing::signing_view`], so the
//! two never disagree.

use accord_cases::agreements::model::{Agreement, AgreementVersion};
use accord_cases::store::model::{Case, Side};
use serde::Serialize;

use super::signing::{SigningView, signing_view};
use crate::AppState;
use crate::error::Result;

/// An agreement as the API shows it.
#[derive(Debug, Serialize)]
pub struct AgreementView {
    /// `AG_…`.
    pub id: String,
    /// `CA_…`.
    pub case_id: String,
    /// `zh-CN` or `en`.
    pub locale: String,
    /// `drafting`, `final` or `in_force`.
    pub status: &'static str,
    /// The version being drafted, or the final / in-force one.
    pub version: i64,
    /// The current final (or in-force) version's text and hash.
    #[serde(rename = "final")]
    pub final_version: Option<FinalView>,
    /// When it came into force (sealed), Unix milliseconds.
    pub effective_at: Option<i64>,
    /// Whether it may be signed electronically, who signs, the seal and the PDF.
    #[serde(flatten)]
    pub signing: SigningView,
    /// The private drafts (mediators: all; a party: those shown to their side).
    pub private_drafts: Vec<PrivateDraftView>,
    /// Unix milliseconds.
    pub updated_at: i64,
}

/// The final version of an agreement.
#[derive(Debug, Serialize)]
pub struct FinalView {
    /// Its number.
    pub version: i64,
    /// The canonical text that is signed.
    pub text: String,
    /// SHA-256 of the text, lowercase hex.
    pub text_sha256: String,
    /// Unix milliseconds.
    pub finalised_at: i64,
    /// Who finalised it.
    pub finalised_by_name: String,
}

impl From<AgreementVersion> for FinalView {
    fn from(v: AgreementVersion) -> Self {
        Self {
            version: v.version,
            text: v.text,
            text_sha256: v.text_sha256,
            finalised_at: v.finalised_at,
            finalised_by_name: v.finalised_by_name,
        }
    }
}

/// A private draft in the Agreement JSON.
#[derive(Debug, Serialize)]
pub struct PrivateDraftView {
    /// `PD_…`.
    pub doc: String,
    /// The side it is shown to, if any.
    pub shown_to: Option<Side>,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// Whose view it is: a mediator sees every private draft, a party those shown to their side.
#[derive(Clone, Copy, Debug)]
pub enum Audience {
    /// Staff who see the case.
    Staff,
    /// A party (or someone acting for one) of this side.
    Side(Option<Side>),
}

/// `agreement` as the API shows it to staff.
pub async fn agreement_view(
    state: &AppState,
    agreement: &Agreement,
    case: &Case,
) -> Result<AgreementView> {
    agreement_view_for(state, agreement, case, Audience::Staff).await
}

/// `agreement` as the API shows it to `audience`.
pub async fn agreement_view_for(
    state: &AppState,
    agreement: &Agreement,
    _case: &Case,
    audience: Audience,
) -> Result<AgreementView> {
    let store = state.store();
    let final_version = store.current_final(&agreement.id).await?;
    let signing = signing_view(state, agreement).await?;
    let effective_at = signing.seal.as_ref().map(|s| s.sealed_at);
    let private_drafts = store
        .draft_docs(&agreement.id)
        .await?
        .into_iter()
        .filter(|d| d.doc != accord_cases::agreements::model::MAIN_DOC)
        .filter(|d| match audience {
            Audience::Staff => true,
            Audience::Side(side) => side.is_some() && d.shown_to == side,
        })
        .map(|d| PrivateDraftView {
            doc: d.doc,
            shown_to: d.shown_to,
            created_at: d.created_at,
        })
        .collect();
    Ok(AgreementView {
        id: agreement.id.to_string(),
        case_id: agreement.case_id.to_string(),
        locale: agreement.locale.clone(),
        status: agreement.status.as_str(),
        version: agreement.version,
        final_version: final_version.map(FinalView::from),
        effective_at,
        signing,
        private_drafts,
        updated_at: agreement.updated_at,
    })
}
