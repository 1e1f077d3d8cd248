//! Agreement templates (staff list them; an organisation's administrator replaces a built-in
//! one with their own, or goes back to it) and starting a case's agreement from one, with the
//! case's names and facts filled in.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;

use super::caller::Caller;
use super::draft_routes::{staff_editor, view_for};
use super::view::AgreementView;
use crate::AppState;
use crate::error::{Error, Result};
use crate::staff::{Administrator, StaffSession};
use accord_cases::agreements::document::Draft;
use accord_cases::agreements::model::NewAgreement;
use accord_cases::agreements::templates::{CaseFacts, Template, TemplateInput, builtin, fill};
use accord_cases::store::model::{Case, Category, PartyKind, Side};
use accord_cases::store::now_ms;
use accord_cases::{CaseId, OrganisationId};

/// The template routes, and creating an agreement.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/agreement-templates", get(list))
        .route(
            "/api/v1/organisations/{id}/agreement-templates/{category}/{locale}",
            put(save).delete(reset),
        )
}

/// A category named in a path or a query.
fn category(text: &str) -> Result<Category> {
    Category::ALL
        .iter()
        .copied()
        .find(|c| c.as_str() == text)
        .ok_or_else(|| Error::field("category", "not a dispute category"))
}

#[derive(Deserialize)]
struct ListQuery {
    category: Option<String>,
    locale: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    session: StaffSession,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<Template>>> {
    let category = query.category.as_deref().map(category).transpose()?;
    let locale = query.locale.as_deref();
    match &session.organisation_id {
        Some(org) => Ok(Json(state.store().templates(org, category, locale).await?)),
        // Staff of no organisation (system administrators, court users) see the built-ins.
        None => {
            let locales: Vec<&str> = match locale {
                Some(l) if accord_cases::agreements::templates::LOCALES.contains(&l) => vec![l],
                Some(_) => return Err(Error::field("locale", "zh-CN or en")),
                None => accord_cases::agreements::templates::LOCALES.to_vec(),
            };
            let categories: Vec<Category> =
                category.map_or_else(|| Category::ALL.to_vec(), |c| vec![c]);
            Ok(Json(
                categories
                    .iter()
                    .flat_map(|c| locales.iter().map(move |l| builtin(*c, l)))
                    .collect(),
            ))
        }
    }
}

/// The organisation `id` if the administrator manages its templates.
fn managed(admin: &Administrator, id: &str) -> Result<OrganisationId> {
    let org = OrganisationId::from(id);
    if admin.0.viewer().may_manage_templates(&org) {
        Ok(org)
    } else {
        Err(Error::Forbidden(
            "only an administrator of this organisation changes its templates",
        ))
    }
}

async fn save(
    State(state): State<AppState>,
    admin: Administrator,
    Path((id, category_name, locale)): Path<(String, String, String)>,
    input: crate::error::JsonBody<TemplateInput>,
) -> Result<Json<Template>> {
    let input = crate::error::json_body(input)?;
    let org = managed(&admin, &id)?;
    let template = state
        .store()
        .save_template(
            &org,
            category(&category_name)?,
            &locale,
            &input,
            &admin.0.actor(),
        )
        .await?;
    Ok(Json(template))
}

async fn reset(
    State(state): State<AppState>,
    admin: Administrator,
    Path((id, category_name, locale)): Path<(String, String, String)>,
) -> Result<Json<Template>> {
    let org = managed(&admin, &id)?;
    let template = state
        .store()
        .reset_template(&org, category(&category_name)?, &locale, &admin.0.actor())
        .await?;
    Ok(Json(template))
}

#[derive(Deserialize)]
pub(crate) struct CreateBody {
    template_id: Option<String>,
    locale: Option<String>,
    personal_status: Option<bool>,
}

/// `POST /cases/{id}/agreement`: the case's mediator starts the agreement from a template.
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: crate::error::JsonBody<CreateBody>,
) -> Result<(StatusCode, Json<AgreementView>)> {
    let body = crate::error::json_body(body)?;
    let Caller::Staff(session) = &caller else {
        return Err(Error::Forbidden(
            "only a mediator of the case starts its agreement",
        ));
    };
    let case = state
        .store()
        .visible_case(&session.viewer(), &CaseId::from(id.as_str()))
        .await?;
    caller.mediator_of(&case)?;
    let editor = staff_editor(&state, session).await?;
    let store = state.store();
    let template = match &body.template_id {
        Some(template_id) => store.template(&case.organisation_id, template_id).await?,
        None => {
            let locale = body.locale.as_deref().unwrap_or("zh-CN");
            store
                .template_for(&case.organisation_id, case.category, locale)
                .await?
        }
    };
    if body.locale.as_ref().is_some_and(|l| l != &template.locale) {
        return Err(Error::field(
            "locale",
            "the template is written in another locale",
        ));
    }
    let facts = case_facts(&state, &case, &template.locale).await?;
    let (title, clauses) = fill(&template, &facts);
    let (_, initial_update) = Draft::new_from(&title, &clauses);
    let agreement = store
        .create_agreement(
            NewAgreement {
                case_id: case.id.clone(),
                locale: template.locale.clone(),
                template_id: Some(template.id.clone()),
                personal_status: body.personal_status,
                initial_update,
            },
            &editor,
        )
        .await?;
    super::announce_agreement(&state, &agreement);
    let view = view_for(&state, &caller, &agreement, &case).await?;
    Ok((StatusCode::CREATED, view))
}

/// What a template's placeholders are filled with.
async fn case_facts(state: &AppState, case: &Case, locale: &str) -> Result<CaseFacts> {
    let parties = state.store().parties(&case.id).await?;
    let zh = locale != "en";
    let names = |side: Side| {
        parties
            .iter()
            .filter(|p| {
                p.side == side && matches!(p.kind, PartyKind::Person | PartyKind::Organisation)
            })
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(if zh { "、" } else { ", " })
    };
    let organisation = state
        .store()
        .organisation(&case.organisation_id)
        .await?
        .name;
    let mediator = match &case.mediator_id {
        Some(id) => state.store().staff(id).await?.display_name,
        None => String::new(),
    };
    Ok(CaseFacts {
        applicant: names(Side::Applicant),
        respondent: names(Side::Respondent),
        facts: case.facts.clone(),
        claims: case.claims.clone(),
        organisation,
        mediator,
        date: date_text(now_ms(), zh),
    })
}

/// The calendar date of `ms` in China Standard Time (UTC+8, no daylight saving), where the
/// agreements are signed: `2026年12月6日` or `6 December 2026`.
fn date_text(ms: i64, zh: bool) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let days = (ms + 8 * 3_600_000).div_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    if zh {
        format!("{y}年{m}月{d}日")
    } else {
        let month = MONTHS
            .get((m as usize).saturating_sub(1))
            .copied()
            .unwrap_or("");
        format!("{d} {month} {y}")
    }
}

/// The proleptic Gregorian date of a count of days since 1970-01-01 (the well-known
/// era-based conversion: 400-year eras of 146097 days).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_as_people_read_them() {
        // 2026-12-06T10:00:00Z is the same day in Beijing; 20:00Z is the next.
        assert_eq!(date_text(1_796_551_200_000, true), "2026年12月6日");
        assert_eq!(date_text(1_796_551_200_000, false), "6 December 2026");
        assert_eq!(date_text(1_796_587_200_000, true), "2026年12月7日");
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
