//! Agreement templates: a built-in one for every category and locale
//! (`agreements::templates::builtin`), which an organisation's administrators may replace
//! with their own. Resetting deletes the organisation's row, and the built-in one applies
//! again. Both are audited on the organisation's trail.

use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::model::{Actor, Category};
use super::vocabulary::AuditAction;
use super::{Store, now_ms};
use crate::agreements::model::is_locale;
use crate::agreements::templates::{
    LOCALES, Template, TemplateClause, TemplateInput, builtin, parse_builtin_id, validate,
};
use crate::error::{Error, Result};
use crate::ids::OrganisationId;

const TEMPLATE_COLUMNS: &str =
    "organisation_id, category, locale, name, title, clauses_json, updated_at";

impl Store {
    /// The templates `organisation` drafts from, optionally of one category and locale: its
    /// own first, then the built-in ones it has not replaced.
    pub async fn templates(
        &self,
        organisation: &OrganisationId,
        category: Option<Category>,
        locale: Option<&str>,
    ) -> Result<Vec<Template>> {
        if let Some(locale) = locale {
            check_locale(locale)?;
        }
        let rows = sqlx::query(&format!(
            "SELECT {TEMPLATE_COLUMNS} FROM agreement_templates WHERE organisation_id = $1 \
             ORDER BY category, locale"
        ))
        .bind(organisation)
        .fetch_all(&self.pool)
        .await?;
        let wanted = |c: Category, l: &str| {
            category.is_none_or(|want| want == c) && locale.is_none_or(|want| want == l)
        };
        let mut own = Vec::new();
        for row in &rows {
            let template = template_from_row(row)?;
            if wanted(template.category, &template.locale) {
                own.push(template);
            }
        }
        let mut list = own.clone();
        for c in Category::ALL.iter().copied() {
            for l in LOCALES.iter().copied() {
                let replaced = own.iter().any(|t| t.category == c && t.locale == l);
                if wanted(c, l) && !replaced {
                    list.push(builtin(c, l));
                }
            }
        }
        Ok(list)
    }

    /// The template named `id`: a built-in one (`builtin:<category>:<locale>`) or one of
    /// `organisation`'s own (`<organisation>:<category>:<locale>`).
    pub async fn template(&self, organisation: &OrganisationId, id: &str) -> Result<Template> {
        const MISSING: Error = Error::NotFound("no such template");
        if let Some((category, locale)) = parse_builtin_id(id) {
            return Ok(builtin(category, locale));
        }
        let mut parts = id.rsplitn(3, ':');
        let (Some(locale), Some(category), Some(owner)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(MISSING);
        };
        let Some(category) = Category::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == category)
        else {
            return Err(MISSING);
        };
        if owner != organisation.as_str() || !is_locale(locale) {
            return Err(MISSING);
        }
        self.own_template(organisation, category, locale)
            .await?
            .ok_or(MISSING)
    }

    /// The template `organisation` drafts `category` in `locale` from: its own, or the
    /// built-in one.
    pub async fn template_for(
        &self,
        organisation: &OrganisationId,
        category: Category,
        locale: &str,
    ) -> Result<Template> {
        check_locale(locale)?;
        Ok(self
            .own_template(organisation, category, locale)
            .await?
            .unwrap_or_else(|| builtin(category, locale)))
    }

    /// Replaces the built-in template of `category` and `locale` with `organisation`'s own,
    /// or replaces its own again.
    pub async fn save_template(
        &self,
        organisation: &OrganisationId,
        category: Category,
        locale: &str,
        input: &TemplateInput,
        by: &Actor,
    ) -> Result<Template> {
        check_locale(locale)?;
        let content = validate(input)?;
        self.organisation(organisation).await?;
        let clauses = serde_json::to_string(&content.clauses)
            .map_err(|e| Error::Internal(format!("a template's clauses: {e}")))?;
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO agreement_templates (organisation_id, category, locale, name, title, \
             clauses_json, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (organisation_id, category, locale) DO UPDATE SET \
             name = excluded.name, title = excluded.title, clauses_json = excluded.clauses_json, \
             updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        )
        .bind(organisation)
        .bind(category.as_str())
        .bind(locale)
        .bind(&content.name)
        .bind(&content.title)
        .bind(&clauses)
        .bind(now_ms())
        .bind(by.label())
        .execute(&mut *tx)
        .await?;
        self.audit(
            &mut tx,
            by,
            AuditAction::AgreementTemplateSaved,
            &format!("organisation:{organisation}"),
            json!({"category": category, "locale": locale, "reset": false,
                   "clauses": content.clauses.len()}),
        )
        .await?;
        tx.commit().await?;
        self.own_template(organisation, category, locale)
            .await?
            .ok_or_else(|| Error::Internal("a saved template is missing".into()))
    }

    /// Drops `organisation`'s own template of `category` and `locale`: the built-in one
    /// applies again, and is returned. Resetting one that was never replaced changes nothing
    /// and is not audited.
    pub async fn reset_template(
        &self,
        organisation: &OrganisationId,
        category: Category,
        locale: &str,
        by: &Actor,
    ) -> Result<Template> {
        check_locale(locale)?;
        self.organisation(organisation).await?;
        let mut tx = self.begin().await?;
        let removed = sqlx::query(
            "DELETE FROM agreement_templates \
             WHERE organisation_id = $1 AND category = $2 AND locale = $3",
        )
        .bind(organisation)
        .bind(category.as_str())
        .bind(locale)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if removed > 0 {
            self.audit(
                &mut tx,
                by,
                AuditAction::AgreementTemplateSaved,
                &format!("organisation:{organisation}"),
                json!({"category": category, "locale": locale, "reset": true}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(builtin(category, locale))
    }

    async fn own_template(
        &self,
        organisation: &OrganisationId,
        category: Category,
        locale: &str,
    ) -> Result<Option<Template>> {
        let row = sqlx::query(&format!(
            "SELECT {TEMPLATE_COLUMNS} FROM agreement_templates \
             WHERE organisation_id = $1 AND category = $2 AND locale = $3"
        ))
        .bind(organisation)
        .bind(category.as_str())
        .bind(locale)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(template_from_row).transpose()
    }
}

fn check_locale(locale: &str) -> Result<()> {
    if is_locale(locale) {
        Ok(())
    } else {
        Err(Error::field("locale", "the locale must be zh-CN or en"))
    }
}

fn template_from_row(row: &AnyRow) -> Result<Template> {
    let organisation_id: OrganisationId = row.try_get(0)?;
    let category = Category::parse(&row.try_get::<String, _>(1)?)?;
    let locale: String = row.try_get(2)?;
    let clauses: Vec<TemplateClause> = serde_json::from_str(&row.try_get::<String, _>(5)?)
        .map_err(|e| Error::Internal(format!("a stored template's clauses do not parse: {e}")))?;
    Ok(Template {
        id: format!("{organisation_id}:{}:{locale}", category.as_str()),
        organisation_id: Some(organisation_id),
        category,
        locale,
        name: row.try_get(3)?,
        title: row.try_get(4)?,
        clauses,
        updated_at: Some(row.try_get(6)?),
    })
}
