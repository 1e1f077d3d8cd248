//! Templates an agreement starts from: a built-in one for every category and locale
//! ([`builtin`]), which an organisation may replace with its own (stored by the store, checked
//! by [`validate`]); [`fill`] puts the case's names and facts into the placeholders.

mod en;
mod zh;

use serde::{Deserialize, Serialize};

use super::document::ClauseKind;
use crate::error::Result;
use crate::ids::OrganisationId;
use crate::store::model::Category;
use crate::validate::Problems;

/// The locales an agreement can be written in.
pub const LOCALES: &[&str] = &["zh-CN", "en"];
/// Longest template name and title, in characters.
pub const MAX_NAME_CHARS: usize = 60;
/// Longest template title, in characters.
pub const MAX_TITLE_CHARS: usize = 60;
/// Most clauses in a template.
pub const MAX_TEMPLATE_CLAUSES: usize = 60;
/// Longest clause text in a template, in characters.
pub const MAX_CLAUSE_CHARS: usize = 4000;
/// What a template may write between `{{` and `}}`.
pub const PLACEHOLDERS: &[&str] = &[
    "applicant",
    "respondent",
    "facts",
    "claims",
    "organisation",
    "mediator",
    "date",
];

/// A template: built in (`id` `builtin:<category>:<locale>`, no organisation) or an
/// organisation's own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    /// `builtin:<category>:<locale>` or the stored template's id.
    pub id: String,
    /// Whose template it is; `None` for a built-in one.
    pub organisation_id: Option<OrganisationId>,
    /// The dispute category it is written for.
    pub category: Category,
    /// `zh-CN` or `en`.
    pub locale: String,
    /// What staff pick it by.
    pub name: String,
    /// The agreement's title.
    pub title: String,
    /// The clauses, in order, with placeholders.
    pub clauses: Vec<TemplateClause>,
    /// Unix milliseconds of the last save; `None` for a built-in one.
    pub updated_at: Option<i64>,
}

/// One clause of a template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateClause {
    /// What the clause is for.
    pub kind: ClauseKind,
    /// Its text, with placeholders such as `{{applicant}}`.
    pub text: String,
}

/// A template as an administrator sends it (`PUT …/agreement-templates/{category}/{locale}`).
/// Every field is optional here so that a missing one is reported by name, with the others.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct TemplateInput {
    /// 1–60 characters.
    #[serde(default)]
    pub name: Option<String>,
    /// 1–60 characters.
    #[serde(default)]
    pub title: Option<String>,
    /// 1–60 clauses.
    #[serde(default)]
    pub clauses: Option<Vec<TemplateClauseInput>>,
}

/// One clause as sent.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct TemplateClauseInput {
    /// `facts`, `term`, `breach` or `closing`.
    #[serde(default)]
    pub kind: Option<String>,
    /// 1–4000 characters, placeholders from [`PLACEHOLDERS`] only.
    #[serde(default)]
    pub text: Option<String>,
}

/// What [`validate`] accepts: trimmed and typed, ready to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateContent {
    /// The template's name.
    pub name: String,
    /// The agreement's title.
    pub title: String,
    /// The clauses, in order.
    pub clauses: Vec<TemplateClause>,
}

/// What a case gives a template at an agreement's creation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaseFacts {
    /// The applicant side's names, as the agreement should name them.
    pub applicant: String,
    /// The respondent side's names.
    pub respondent: String,
    /// What happened (the case's facts).
    pub facts: String,
    /// What the applicant asks for (the case's claims).
    pub claims: String,
    /// The mediating organisation's name.
    pub organisation: String,
    /// The case's mediator's name.
    pub mediator: String,
    /// The date of creation, as the locale writes it (`2026年12月6日`, `6 December 2026`).
    pub date: String,
}

/// The built-in template for `category` in `locale` (`zh-CN`, or anything else for `en`).
pub fn builtin(category: Category, locale: &str) -> Template {
    let (locale, content) = if locale == "zh-CN" {
        ("zh-CN", zh::template(category))
    } else {
        ("en", en::template(category))
    };
    Template {
        id: builtin_id(category, locale),
        organisation_id: None,
        category,
        locale: locale.to_owned(),
        name: content.name,
        title: content.title,
        clauses: content.clauses,
        updated_at: None,
    }
}

/// `builtin:<category>:<locale>`.
pub fn builtin_id(category: Category, locale: &str) -> String {
    format!("builtin:{}:{locale}", category.as_str())
}

/// Reads a built-in id back; `None` for anything that is not one.
pub fn parse_builtin_id(id: &str) -> Option<(Category, &'static str)> {
    let rest = id.strip_prefix("builtin:")?;
    let (category, locale) = rest.split_once(':')?;
    let category = Category::ALL
        .iter()
        .copied()
        .find(|c| c.as_str() == category)?;
    let locale = LOCALES.iter().copied().find(|l| *l == locale)?;
    Some((category, locale))
}

/// Checks a template an administrator sends, naming every wrong field at once
/// (`name`, `title`, `clauses`, `clauses[2].kind`, `clauses[2].text`).
pub fn validate(input: &TemplateInput) -> Result<TemplateContent> {
    let mut problems = Problems::default();
    let name = problems.text("name", input.name.as_deref(), MAX_NAME_CHARS);
    let title = problems.text("title", input.title.as_deref(), MAX_TITLE_CHARS);
    check_placeholders(&mut problems, "title", &title);
    let mut clauses = Vec::new();
    match input.clauses.as_deref() {
        None | Some([]) => problems.add("clauses", "at least one clause"),
        Some(list) if list.len() > MAX_TEMPLATE_CLAUSES => problems.add(
            "clauses",
            &format!("at most {MAX_TEMPLATE_CLAUSES} clauses"),
        ),
        Some(list) => {
            for (i, clause) in list.iter().enumerate() {
                let kind = problems.choice(
                    &format!("clauses[{i}].kind"),
                    clause.kind.as_deref(),
                    ClauseKind::parse,
                    "facts, term, breach, closing",
                );
                let field = format!("clauses[{i}].text");
                let text = problems.text(&field, clause.text.as_deref(), MAX_CLAUSE_CHARS);
                check_placeholders(&mut problems, &field, &text);
                if let Some(kind) = kind {
                    clauses.push(TemplateClause { kind, text });
                }
            }
        }
    }
    problems.finish()?;
    Ok(TemplateContent {
        name,
        title,
        clauses,
    })
}

/// A `{{…}}` that [`fill`] would not replace would reach the agreement verbatim.
fn check_placeholders(problems: &mut Problems, field: &str, text: &str) {
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            problems.add(field.to_owned(), "has `{{` without `}}`");
            return;
        };
        let name = &after[..end];
        if !PLACEHOLDERS.contains(&name) {
            problems.add(
                field.to_owned(),
                &format!(
                    "unknown placeholder; one of: {}",
                    PLACEHOLDERS
                        .iter()
                        .map(|p| format!("{{{{{p}}}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            return;
        }
        rest = &after[end + 2..];
    }
}

/// The title and clauses of a new agreement: the template with every placeholder replaced
/// by the case's value. An empty value leaves a blank (`＿＿`) to fill in while drafting.
pub fn fill(template: &Template, facts: &CaseFacts) -> (String, Vec<(ClauseKind, String)>) {
    let values: [(&str, &str); 7] = [
        ("applicant", &facts.applicant),
        ("respondent", &facts.respondent),
        ("facts", &facts.facts),
        ("claims", &facts.claims),
        ("organisation", &facts.organisation),
        ("mediator", &facts.mediator),
        ("date", &facts.date),
    ];
    let replace = |text: &str| {
        // One pass, so a value that itself contains `{{…}}` (a party's words) stays as typed.
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let found = after.find("}}").and_then(|end| {
                let name = &after[..end];
                values
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| (end, value.trim()))
            });
            match found {
                Some((end, value)) => {
                    out.push_str(if value.is_empty() { "＿＿" } else { value });
                    rest = &after[end + 2..];
                }
                None => {
                    out.push_str("{{");
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    };
    let title = replace(&template.title);
    let clauses = template
        .clauses
        .iter()
        .map(|c| (c.kind, replace(&c.text)))
        .collect();
    (title, clauses)
}

/// Builds a built-in template's content from its parts; the locale files list only text.
fn content(
    name: &str,
    title: &str,
    facts: &str,
    terms: &[&str],
    breach: &str,
    closing: &[&str],
) -> TemplateContent {
    let mut clauses = vec![TemplateClause {
        kind: ClauseKind::Facts,
        text: facts.to_owned(),
    }];
    clauses.extend(terms.iter().map(|t| TemplateClause {
        kind: ClauseKind::Term,
        text: (*t).to_owned(),
    }));
    clauses.push(TemplateClause {
        kind: ClauseKind::Breach,
        text: breach.to_owned(),
    });
    clauses.extend(closing.iter().map(|t| TemplateClause {
        kind: ClauseKind::Closing,
        text: (*t).to_owned(),
    }));
    TemplateContent {
        name: name.to_owned(),
        title: title.to_owned(),
        clauses,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_passes_its_own_validation() {
        for category in Category::ALL {
            for locale in LOCALES {
                let t = builtin(*category, locale);
                assert_eq!(t.id, format!("builtin:{}:{locale}", category.as_str()));
                assert_eq!(parse_builtin_id(&t.id), Some((*category, *locale)));
                let input = TemplateInput {
                    name: Some(t.name.clone()),
                    title: Some(t.title.clone()),
                    clauses: Some(
                        t.clauses
                            .iter()
                            .map(|c| TemplateClauseInput {
                                kind: Some(c.kind.as_str().to_owned()),
                                text: Some(c.text.clone()),
                            })
                            .collect(),
                    ),
                };
                let checked = validate(&input).unwrap_or_else(|e| panic!("{}: {e:?}", t.id));
                assert_eq!(checked.clauses, t.clauses, "{}", t.id);
                let terms = t
                    .clauses
                    .iter()
                    .filter(|c| c.kind == ClauseKind::Term)
                    .count();
                assert!((2..=4).contains(&terms), "{}: {terms} terms", t.id);
                assert_eq!(t.clauses[0].kind, ClauseKind::Facts, "{}", t.id);
                assert!(t.clauses.iter().any(|c| c.kind == ClauseKind::Breach));
                assert!(t.clauses.iter().any(|c| c.kind == ClauseKind::Closing));
            }
        }
    }
}
