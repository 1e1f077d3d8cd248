//! `POST /api/v1/agreements/{id}/confirmation/links`: the mediator sends each party a case
//! link, so they can apply for confirmation from their phone after the session ended.
//!
//! A case link is a join token that names the case and the party and nothing else: no
//! session, no invite, no room, no media grants. Only this server signs tokens with a case
//! (tokens minted with the API key never carry one), and only the confirmation routes accept
//! one without a session ([`super::Caller`]). It lives until 60 days after the window closes,
//! so a party can still read the court's decision on it.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::Serialize;

use super::{LinkCaller, hit, limits};
use crate::AppState;
use crate::error::{Error, Result};
use accord_cases::PartyId;
use accord_cases::agreements::Rule;
use accord_cases::agreements::model::AgreementStatus;
use accord_cases::confirmation::window;
use accord_cases::notify::Notification;
use accord_cases::store::model::{Case, Organisation, Party, PartyKind};
use accord_cases::store::{china_time, mask_phone};
use accord_cases::tokens::{JoinClaims, Role};

/// How long a case link outlives the application window.
const AFTER_WINDOW_MS: i64 = 60 * 24 * 3600 * 1000;

pub(super) fn router() -> Router<AppState> {
    Router::new().route(
        "/api/v1/agreements/{id}/confirmation/links",
        post(send_links),
    )
}

#[derive(Debug, Serialize)]
struct Links {
    links: Vec<LinkView>,
}

#[derive(Debug, Serialize)]
struct LinkView {
    party_id: PartyId,
    name: String,
    phone_masked: Option<String>,
    link: String,
    text: String,
    sent: bool,
    send_error: Option<String>,
}

/// Where case links point: the configured public address, never a request's `Host`.
fn base_url(state: &AppState) -> String {
    state
        .config()
        .public_url
        .clone()
        .unwrap_or_else(|| "http://localhost:8080".to_owned())
}

/// The case link of `party`, valid until `expires_at_ms`.
pub fn case_link(
    state: &AppState,
    case: &Case,
    party: &Party,
    expires_at_ms: i64,
) -> Result<String> {
    let now = u64::try_from(accord_cases::store::now_ms() / 1000).unwrap_or_default();
    let token = state.keys().sign(&JoinClaims {
        sub: party.id.to_string(),
        name: party.name.clone(),
        room: String::new(),
        role: Role::Party,
        can_publish: false,
        can_subscribe: false,
        hidden: false,
        case: Some(case.id.to_string()),
        session: None,
        inv: None,
        aud: String::new(),
        iat: now,
        // Phone clocks run a little behind.
        nbf: now.saturating_sub(300),
        exp: u64::try_from(expires_at_ms / 1000).unwrap_or_default(),
    })?;
    // The token rides in the fragment: it never reaches server logs, proxies or Referer.
    Ok(format!("{}/case#token={token}", base_url(state)))
}

/// The message that carries a case link.
fn message(
    organisation: &Organisation,
    case: &Case,
    party: &Party,
    deadline_at: i64,
    link: &str,
) -> (String, BTreeMap<&'static str, String>) {
    // The deadline is 24:00 of the last day; people read it as that day.
    let last_day = china_time(deadline_at - 1);
    let deadline = format!("{}年{}月{}日", last_day.year, last_day.month, last_day.day);
    let text = format!(
        "【{org}】{name}您好：案件{number}的调解协议已生效。如需申请司法确认，请在{deadline}前打开以下链接提交申请：{link}",
        org = organisation.name,
        name = party.name,
        number = case.number,
    );
    let params = BTreeMap::from([
        ("name", party.name.clone()),
        ("organisation", organisation.name.clone()),
        ("case_number", case.number.clone()),
        ("deadline", deadline),
        ("link", link.to_owned()),
    ]);
    (text, params)
}

/// The people who get a link: the parties who must apply, and their representatives who
/// hold a power of attorney.
fn recipients(required: &[Party], all: &[Party]) -> Vec<Party> {
    let mut people: Vec<Party> = required.to_vec();
    for party in all {
        let represents_one = party
            .represents
            .as_ref()
            .is_some_and(|r| required.iter().any(|p| &p.id == r));
        if party.kind == PartyKind::Representative
            && party.attorney_letter.is_some()
            && represents_one
        {
            people.push(party.clone());
        }
    }
    people
}

async fn send_links(
    State(state): State<AppState>,
    Path(id): Path<String>,
    LinkCaller(caller): LinkCaller,
) -> Result<Json<Links>> {
    let (agreement, case) = caller.agreement(&state, &id).await?;
    caller.mediator_of(&case)?;
    if agreement.status != AgreementStatus::InForce {
        return Err(Error::Rule(Rule::NotInForce));
    }
    hit(&limits(&state).links, case.id.as_str())?;
    let store = state.store();
    let Some(seal) = store.seal_of(&agreement.id).await? else {
        return Err(Error::Rule(Rule::NotInForce));
    };
    let deadline_at = window::window(seal.effective_at, state.now_ms()).deadline_at;
    let organisation = store.organisation(&case.organisation_id).await?;
    let required = store.required_applicants(&agreement.id).await?;
    let all = store.parties(&case.id).await?;
    let notifier = state.notifier();
    let mut links = Vec::new();
    for party in recipients(&required, &all) {
        let link = case_link(&state, &case, &party, deadline_at + AFTER_WINDOW_MS)?;
        let (text, params) = message(&organisation, &case, &party, deadline_at, &link);
        let (sent, send_error) = match &party.phone {
            Some(phone) => {
                let notification = Notification {
                    template: "confirmation_link",
                    to: phone.clone(),
                    params,
                    text: text.clone(),
                    invite_id: None,
                };
                match notifier.send(&notification).await {
                    Ok(()) => (true, None),
                    Err(e) => (false, Some(e.to_string())),
                }
            }
            None => (
                false,
                Some("no phone number is on record; copy the message instead".to_owned()),
            ),
        };
        links.push(LinkView {
            party_id: party.id.clone(),
            name: party.name.clone(),
            phone_masked: party.phone.as_deref().map(mask_phone),
            link,
            text,
            sent,
            send_error,
        });
    }
    Ok(Json(Links { links }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use accord_cases::CaseId;
    use accord_cases::store::model::Side;

    fn party(id: &str, kind: PartyKind, represents: Option<&str>, letter: bool) -> Party {
        Party {
            id: PartyId::from(id),
            case_id: CaseId::from("CA_1"),
            side: Side::Respondent,
            kind,
            name: id.to_owned(),
            phone: None,
            id_number_masked: None,
            represents: represents.map(PartyId::from),
            attorney_letter: letter.then(|| "ab".repeat(32)),
            created_at: 0,
        }
    }

    #[test]
    fn links_go_to_the_applicants_and_representatives_with_a_power_of_attorney() {
        let zhang = party("PT_zhang", PartyKind::Person, None, false);
        let li = party("PT_li", PartyKind::Person, None, false);
        let with_letter = party("PT_qian", PartyKind::Representative, Some("PT_li"), true);
        let without = party("PT_zhao", PartyKind::Representative, Some("PT_li"), false);
        let interpreter = party("PT_sun", PartyKind::Interpreter, Some("PT_li"), true);
        let required = vec![zhang.clone(), li.clone()];
        let all = vec![zhang, li, with_letter, without, interpreter];
        let ids: Vec<String> = recipients(&required, &all)
            .into_iter()
            .map(|p| p.id.to_string())
            .collect();
        assert_eq!(ids, ["PT_zhang", "PT_li", "PT_qian"]);
    }
}
