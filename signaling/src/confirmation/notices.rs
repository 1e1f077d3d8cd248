//! Telling people a request's status changed: each party with a phone gets a
//! `confirmation_status` message (no link, no token: they open the case page they already
//! have), and the case's live sessions are told to fetch the agreement again so case pages
//! and phones refresh.

use std::collections::BTreeMap;

use crate::AppState;
use crate::error::Result;
use accord_cases::confirmation::model::{ConfirmationRequest, RequestStatus};
use accord_cases::notify::Notification;
use accord_cases::store::model::PartyKind;

/// The status as the message says it.
fn status_words(status: RequestStatus) -> &'static str {
    match status {
        RequestStatus::Applying => "正在申请",
        RequestStatus::Submitted => "已提交法院",
        RequestStatus::Received => "已由法院接收",
        RequestStatus::Accepted => "已由法院受理",
        RequestStatus::Confirmed => "经法院裁定确认有效",
        RequestStatus::Rejected => "被法院裁定驳回",
    }
}

/// Tells the parties and the live sessions that `request`'s status changed. Returns at once:
/// messages go out in the background, so a court's decision does not wait for an SMS
/// gateway; a failed message is logged by what it was, never by what it said.
pub fn status_changed(state: &AppState, request: &ConfirmationRequest) {
    crate::agreements::announce(state, &request.case_id);
    let state = state.clone();
    let request = request.clone();
    tokio::spawn(async move {
        if let Err(e) = notify_parties(&state, &request).await {
            tracing::error!(request = %request.id, error = %e, "cannot tell the parties a confirmation status");
        }
    });
}

async fn notify_parties(state: &AppState, request: &ConfirmationRequest) -> Result<()> {
    let store = state.store();
    let case = store.case(&request.case_id).await?;
    let organisation = store.organisation(&case.organisation_id).await?;
    let court = request.court.clone().unwrap_or_default();
    let words = status_words(request.status);
    for party in store.parties(&case.id).await? {
        // The parties and those who act for them; interpreters and experts are not told.
        let told = matches!(
            party.kind,
            PartyKind::Person | PartyKind::Organisation | PartyKind::Representative
        );
        let Some(phone) = party.phone.clone().filter(|_| told) else {
            continue;
        };
        let mut text = format!(
            "【{org}】{name}您好：案件{number}的司法确认申请{words}",
            org = organisation.name,
            name = party.name,
            number = case.number,
        );
        if !court.is_empty() {
            text.push_str(&format!("（{court}）"));
        }
        text.push_str("。详情请查看案件页面。");
        let notification = Notification {
            template: "confirmation_status",
            to: phone,
            params: BTreeMap::from([
                ("case_number", case.number.clone()),
                ("status", request.status.as_str().to_owned()),
                ("court", court.clone()),
            ]),
            text,
            invite_id: None,
        };
        if let Err(e) = state.notifier().send(&notification).await {
            tracing::warn!(request = %request.id, party = %party.id, error = %e, "a confirmation status message did not go out");
        }
    }
    Ok(())
}
