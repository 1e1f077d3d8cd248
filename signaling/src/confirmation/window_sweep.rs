//! The 30-day window's warnings: 7 and 2 days before an agreement's application window
//! closes, each party who has not applied yet gets a `confirmation_window` message, once per
//! level. The store remembers who was warned (`confirmation_window_warnings`), so a restart,
//! a second node or a second sweep sends nothing twice; a message the gateway refused is
//! forgotten there and sent by the next sweep.

use std::collections::BTreeMap;

use crate::AppState;
use crate::error::Result;
use accord_cases::confirmation::window::{self, WarningLevel};
use accord_cases::notify::Notification;
use accord_cases::store::china_time;

/// Sweeps every agreement in its window at the configured interval, for as long as the
/// node runs.
pub async fn run(state: AppState) {
    let mut every = tokio::time::interval(state.config().confirmation.window_sweep);
    loop {
        every.tick().await;
        match sweep_window_warnings(&state, state.now_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(messages = n, "sent confirmation window warnings"),
            Err(e) => tracing::error!(error = %e, "cannot sweep the confirmation windows"),
        }
    }
}

fn level_words(level: WarningLevel) -> &'static str {
    match level {
        WarningLevel::SevenDays => "7天",
        WarningLevel::TwoDays => "2天",
    }
}

/// Sends the warnings due at `now_ms`; returns how many messages went out.
pub async fn sweep_window_warnings(state: &AppState, now_ms: i64) -> Result<u32> {
    let store = state.store();
    let mut sent = 0;
    for (agreement, effective_at) in store.agreements_in_window(now_ms).await? {
        let window = window::window(effective_at, now_ms);
        let Some(level) = window.warning.filter(|_| !window.closed) else {
            continue;
        };
        let case = store.case(&agreement.case_id).await?;
        let organisation = store.organisation(&case.organisation_id).await?;
        let applied = match store.confirmation_of_agreement(&agreement.id).await? {
            Some(request) => store.confirmation_applicants(&request.id).await?,
            None => Vec::new(),
        };
        let last_day = china_time(window.deadline_at - 1);
        let deadline = format!("{}年{}月{}日", last_day.year, last_day.month, last_day.day);
        for party in store.required_applicants(&agreement.id).await? {
            if applied.iter().any(|a| a.party_id == party.id) {
                continue;
            }
            let Some(phone) = party.phone.clone() else {
                continue;
            };
            // Marked before sending, so two nodes never send the same warning; unmarked when
            // the gateway fails, so the next sweep tries again.
            if !store
                .mark_window_warning(&agreement.id, &party.id, level, now_ms)
                .await?
            {
                continue;
            }
            let notification = Notification {
                template: "confirmation_window",
                to: phone,
                params: BTreeMap::from([
                    ("name", party.name.clone()),
                    ("case_number", case.number.clone()),
                    ("deadline", deadline.clone()),
                    ("days_left", window.days_left.to_string()),
                ]),
                text: format!(
                    "【{org}】{name}您好：案件{number}的调解协议申请司法确认的期限还剩{words}，将于{deadline}届满。如需申请，请尽快通过调解员发送的链接提交。",
                    org = organisation.name,
                    name = party.name,
                    number = case.number,
                    words = level_words(level),
                ),
                invite_id: None,
            };
            match state.notifier().send(&notification).await {
                Ok(()) => sent += 1,
                Err(e) => {
                    tracing::warn!(agreement = %agreement.id, party = %party.id, error = %e, "a confirmation window warning did not go out; the next sweep tries again");
                    store
                        .unmark_window_warning(&agreement.id, &party.id, level)
                        .await?;
                }
            }
        }
    }
    Ok(sent)
}
