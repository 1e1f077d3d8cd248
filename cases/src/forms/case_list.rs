//! The case list's query: filters by status, category and time of registration, a search
//! text and paging, narrowed to what the viewer may see.

use serde::Deserialize;

use super::cases::CATEGORIES;
use crate::access::Viewer;
use crate::error::Result;
use crate::store::model::{CaseFilter, CaseStatus, Category, StaffRole};
use crate::validate::Problems;

/// A page of this many cases unless the query asks for another size.
const DEFAULT_PAGE: u32 = 20;

/// `GET /api/v1/cases?status=&category=&from=&to=&q=&limit=&after=`, every member as sent.
#[derive(Debug, Default, Deserialize)]
pub struct CaseQuery {
    status: Option<String>,
    category: Option<String>,
    from: Option<String>,
    to: Option<String>,
    q: Option<String>,
    limit: Option<String>,
    after: Option<String>,
}

impl CaseQuery {
    /// The filter of the cases `viewer` asks for, within those they may see: a court's, an
    /// organisation's, or (a system-wide administrator) everyone's. `None` when they may see
    /// none at all (a court user of no court).
    pub fn filter_for(self, viewer: &Viewer<'_>) -> Result<Option<CaseFilter>> {
        let mut problems = Problems::default();
        let status =
            self.status.as_deref().filter(|s| !s.is_empty()).and_then(
                |s| match CaseStatus::parse(s) {
                    Ok(v) => Some(v),
                    Err(_) => {
                        problems.add("status", "not a case status");
                        None
                    }
                },
            );
        let category =
            self.category.as_deref().filter(|s| !s.is_empty()).and_then(
                |s| match Category::parse(s) {
                    Ok(v) => Some(v),
                    Err(_) => {
                        problems.add("category", &format!("one of: {CATEGORIES}"));
                        None
                    }
                },
            );
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
        let created_from = millis("from", self.from.as_deref());
        let created_to = millis("to", self.to.as_deref());
        let limit = match self.limit.as_deref().map(str::trim) {
            None | Some("") => DEFAULT_PAGE,
            Some(text) => match text.parse::<u32>() {
                Ok(n) if (1..=100).contains(&n) => n,
                _ => {
                    problems.add("limit", "1–100");
                    DEFAULT_PAGE
                }
            },
        };
        problems.finish()?;
        let mut filter = CaseFilter {
            status,
            category,
            created_from,
            created_to,
            search: self.q.filter(|q| !q.trim().is_empty()),
            limit,
            after: self.after.filter(|a| !a.is_empty()),
            ..CaseFilter::default()
        };
        match viewer.role {
            StaffRole::Court => match viewer.court {
                Some(court) => filter.court = Some(court.to_owned()),
                None => return Ok(None),
            },
            _ if viewer.sees_everything() => {}
            _ => filter.organisation_id = viewer.organisation_id.map(|o| o.to_owned()),
        }
        Ok(Some(filter))
    }
}
