//! Comments on the agreement's clauses: anyone following the shared draft may ask for a
//! change to a clause; the mediators see them and mark them dealt with. Comments are not
//! audited: the session record (笔录) carries each one the edge delivers in a session.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, new_id, now_ms};
use crate::agreements::Rule;
use crate::agreements::model::{AgreementStatus, Comment, Editor};
use crate::error::{Error, Result};
use crate::ids::{AgreementId, CommentId};

/// The longest comment, in characters.
const MAX_COMMENT_CHARS: usize = 2000;

/// The longest clause id (the document's own limit).
const MAX_CLAUSE_ID_CHARS: usize = 32;

/// The most comments an agreement keeps, so a stream of them cannot grow it without bound.
const MAX_COMMENTS: i64 = 5000;

const COMMENT_COLUMNS: &str = "id, agreement_id, clause_id, author_identity, author_name, \
     author_role, text, at, resolved_at";

impl Store {
    /// Adds `author`'s comment on a clause. Refused once the agreement is in force: its text
    /// no longer changes.
    pub async fn add_comment(
        &self,
        agreement_id: &AgreementId,
        clause_id: &str,
        text: &str,
        author: &Editor,
    ) -> Result<Comment> {
        let text = text.trim();
        let mut problems = Vec::new();
        if text.is_empty() || text.chars().count() > MAX_COMMENT_CHARS {
            problems.push(crate::FieldError::new(
                "text",
                format!("a comment has 1 to {MAX_COMMENT_CHARS} characters"),
            ));
        }
        if clause_id.is_empty() || clause_id.chars().count() > MAX_CLAUSE_ID_CHARS {
            problems.push(crate::FieldError::new("clause_id", "no such clause"));
        }
        if !problems.is_empty() {
            return Err(Error::Invalid(problems));
        }
        let mut tx = self.begin().await?;
        let agreement = self.locked_agreement(&mut tx, agreement_id).await?;
        if agreement.status == AgreementStatus::InForce {
            return Err(Error::Rule(Rule::InForce));
        }
        let count: i64 =
            sqlx::query("SELECT COUNT(*) FROM agreement_comments WHERE agreement_id = $1")
                .bind(agreement_id)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
        if count >= MAX_COMMENTS {
            return Err(Error::Conflict(format!(
                "an agreement keeps at most {MAX_COMMENTS} comments"
            )));
        }
        let id: CommentId = new_id("CM");
        // Numbered in the order written (several may share a millisecond); the agreement's
        // row lock keeps two comments from taking the same number.
        sqlx::query(&format!(
            "INSERT INTO agreement_comments (seq, {COMMENT_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL)"
        ))
        .bind(count + 1)
        .bind(&id)
        .bind(agreement_id)
        .bind(clause_id)
        .bind(&author.identity)
        .bind(&author.name)
        .bind(&author.role)
        .bind(text)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.comment(agreement_id, &id).await
    }

    /// The agreement's comments, oldest first.
    pub async fn comments(&self, agreement_id: &AgreementId) -> Result<Vec<Comment>> {
        let rows = sqlx::query(&format!(
            "SELECT {COMMENT_COLUMNS} FROM agreement_comments WHERE agreement_id = $1 \
             ORDER BY seq"
        ))
        .bind(agreement_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(comment_from_row).collect()
    }

    /// One comment of the agreement.
    pub async fn comment(&self, agreement_id: &AgreementId, id: &CommentId) -> Result<Comment> {
        let row = sqlx::query(&format!(
            "SELECT {COMMENT_COLUMNS} FROM agreement_comments WHERE agreement_id = $1 AND id = $2"
        ))
        .bind(agreement_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(Error::NotFound("no such comment"))?;
        comment_from_row(&row)
    }

    /// Marks a comment dealt with. Resolving it again keeps the first time.
    pub async fn resolve_comment(
        &self,
        agreement_id: &AgreementId,
        id: &CommentId,
    ) -> Result<Comment> {
        sqlx::query(
            "UPDATE agreement_comments SET resolved_at = $1 \
             WHERE agreement_id = $2 AND id = $3 AND resolved_at IS NULL",
        )
        .bind(now_ms())
        .bind(agreement_id)
        .bind(id)
        .execute(&self.pool)
        .await?;
        self.comment(agreement_id, id).await
    }
}

fn comment_from_row(row: &AnyRow) -> Result<Comment> {
    Ok(Comment {
        id: row.try_get(0)?,
        agreement_id: row.try_get(1)?,
        clause_id: row.try_get(2)?,
        author_identity: row.try_get(3)?,
        author_name: row.try_get(4)?,
        author_role: row.try_get(5)?,
        text: row.try_get(6)?,
        at: row.try_get(7)?,
        resolved_at: row.try_get(8)?,
    })
}
