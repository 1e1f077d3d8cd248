//! Who may see what: the rules, on what the store holds, whatever the request came through.
//! The edge checks the caller's credentials and builds a [`Viewer`]; the decisions are made
//! here, so the staff API, the recorder and the agreement code apply the same ones.

use crate::agreements::model::{Agreement, DraftDoc};
use crate::error::{Error, Result};
use crate::ids::{AgreementId, CaseId, InviteId, OrganisationId, RecordingId, SessionId, StaffId};
use crate::store::model::{Case, Invite, Recording, Session, SessionStatus, Side, StaffRole};
use crate::store::{Store, now_ms};

/// A staff member as the rules know them: who they are, their role and where they work.
#[derive(Clone, Copy, Debug)]
pub struct Viewer<'a> {
    /// Their staff id.
    pub id: &'a StaffId,
    /// Their role.
    pub role: StaffRole,
    /// The organisation they work for; `None` for a system-wide administrator.
    pub organisation_id: Option<&'a OrganisationId>,
    /// The court a court user works at.
    pub court: Option<&'a str>,
}

impl Viewer<'_> {
    /// Whether they see every organisation's records (an administrator of none).
    pub fn sees_everything(&self) -> bool {
        self.role == StaffRole::Administrator && self.organisation_id.is_none()
    }

    /// Whether they may see `case`: court users the cases of their court, everyone else the
    /// cases of their organisation (or all, for a system-wide administrator).
    pub fn may_see(&self, case: &Case) -> bool {
        match self.role {
            StaffRole::Court => self.court.is_some() && case.court.as_deref() == self.court,
            StaffRole::Administrator | StaffRole::Mediator => {
                self.sees_everything() || self.organisation_id == Some(&case.organisation_id)
            }
        }
    }

    /// Whether they see the parties' phones in full: only the case's own mediator, who calls
    /// them; everyone else, administrators and court users included, sees them masked.
    pub fn sees_phones_of(&self, case: &Case) -> bool {
        self.role == StaffRole::Mediator && case.mediator_id.as_ref() == Some(self.id)
    }

    /// Whether they may edit, finalise and keep private drafts of the case's agreement: the
    /// mediators of the case's organisation (its mediator and co-mediators). Administrators
    /// manage templates but do not write a case's agreement; court users only read it.
    pub fn may_edit_agreement(&self, case: &Case) -> bool {
        self.role == StaffRole::Mediator && self.organisation_id == Some(&case.organisation_id)
    }

    /// Whether they may replace or reset `organisation`'s agreement templates: its
    /// administrators, or a system-wide administrator.
    pub fn may_manage_templates(&self, organisation: &OrganisationId) -> bool {
        self.role == StaffRole::Administrator
            && (self.organisation_id.is_none() || self.organisation_id == Some(organisation))
    }
}

/// Whether someone following an agreement sees one of its documents: the shared draft
/// everyone admitted to the session; a private draft the moderators and, once shown to a
/// side, that side's seats. A side's caucus draft must not reach the other side.
pub fn sees_draft(doc: &DraftDoc, moderator: bool, side: Option<Side>) -> bool {
    doc.is_main() || moderator || (side.is_some() && doc.shown_to == side)
}

impl Store {
    /// The case `id` if `viewer` may see it; [`Error::NotFound`] both when it does not exist
    /// and when it is not theirs, so nobody learns that another organisation's case exists.
    pub async fn visible_case(&self, viewer: &Viewer<'_>, id: &CaseId) -> Result<Case> {
        match self.case(id).await {
            Ok(case) if viewer.may_see(&case) => Ok(case),
            Ok(_) | Err(Error::NotFound(_)) => Err(Error::NotFound("no such case")),
            Err(other) => Err(other),
        }
    }

    /// The session `id` and its case, if `viewer` may see the case; "no such session"
    /// otherwise, whether it is missing or not theirs.
    pub async fn visible_session(
        &self,
        viewer: &Viewer<'_>,
        id: &SessionId,
    ) -> Result<(Session, Case)> {
        let session = self.session(id).await.map_err(hidden("no such session"))?;
        let case = self
            .visible_case(viewer, &session.case_id)
            .await
            .map_err(hidden("no such session"))?;
        Ok((session, case))
    }

    /// The invite `id` with its session and case, if `viewer` may see the case; "no such
    /// invite" otherwise.
    pub async fn visible_invite(
        &self,
        viewer: &Viewer<'_>,
        id: &InviteId,
    ) -> Result<(Invite, Session, Case)> {
        let invite = self.invite(id).await?;
        let (session, case) = self
            .visible_session(viewer, &invite.session_id)
            .await
            .map_err(hidden("no such invite"))?;
        Ok((invite, session, case))
    }
}

impl Store {
    /// The recording `id` and its case, if `viewer` may review it: the staff who may work
    /// the case (its organisation's mediators and administrators, or a system-wide
    /// administrator) and the court users of the court the case was sent to. Everyone else,
    /// a court user of another court included, gets "no such recording", as when it does not
    /// exist: a stranger must not learn that a session was recorded.
    pub async fn visible_recording(
        &self,
        viewer: &Viewer<'_>,
        id: &RecordingId,
    ) -> Result<(Recording, Case)> {
        let recording = self
            .recording(id)
            .await
            .map_err(hidden("no such recording"))?;
        let case = self
            .visible_case(viewer, &recording.case_id)
            .await
            .map_err(hidden("no such recording"))?;
        Ok((recording, case))
    }
}

impl Store {
    /// The agreement `id` and its case, if `viewer` may see the case; "no such agreement"
    /// otherwise, whether it is missing or not theirs.
    pub async fn visible_agreement(
        &self,
        viewer: &Viewer<'_>,
        id: &AgreementId,
    ) -> Result<(Agreement, Case)> {
        let agreement = self
            .agreement(id)
            .await
            .map_err(hidden("no such agreement"))?;
        let case = self
            .visible_case(viewer, &agreement.case_id)
            .await
            .map_err(hidden("no such agreement"))?;
        Ok((agreement, case))
    }
}

/// Answers any not-found on the way to a record as that record being not found, so the
/// answer does not tell which step (the record, its session, its case) was missing or hidden.
fn hidden(what: &'static str) -> impl Fn(Error) -> Error {
    move |error| match error {
        Error::NotFound(_) => Error::NotFound(what),
        other => other,
    }
}

/// A join token's claims as the admission rules need them.
#[derive(Clone, Copy, Debug)]
pub struct Seat<'a> {
    /// Who: a party's id, or a staff id for a mediator's own seat.
    pub sub: &'a str,
    /// The room the token is for.
    pub room: &'a str,
    /// The mediation session, for a case session's seat.
    pub session: Option<&'a str>,
    /// The invite it came from; `None` for a mediator's own seat or an API-key token.
    pub invite: Option<&'a str>,
    /// When the token was issued, Unix seconds.
    pub issued_at: u64,
}

const ACCOUNT_DISABLED: &str =
    "this staff account has been disabled; its join tokens no longer admit";

impl Store {
    /// Refuses a seat whose invite was revoked or has expired, whose session is over, or
    /// whose bearer a moderator removed from the session; a mediator's seat (a session
    /// without an invite) whose staff account was disabled; and a seat without a session
    /// (the API key, `accord token create`) in a case session's room, whose seats come only
    /// from invites and from opening the session, so each is in its record. Who was removed
    /// from a live room but not yet recorded is the edge's to check.
    pub async fn admits(&self, seat: &Seat<'_>) -> Result<()> {
        if seat.session.is_none() && seat.invite.is_none() {
            if self.session_by_room(seat.room).await?.is_some() {
                return Err(Error::Unauthorized(
                    "this room belongs to a mediation session; join it through your invitation",
                ));
            }
            return Ok(());
        }
        match seat.invite {
            None => {
                self.check_staff_seat(&StaffId::from(seat.sub), seat.issued_at)
                    .await?
            }
            Some(invite_id) => {
                let refused = Error::Unauthorized(
                    "this invitation is no longer valid; ask the mediator for a new link",
                );
                let invite = match self.invite(&InviteId::from(invite_id)).await {
                    Ok(invite) => invite,
                    Err(Error::NotFound(_)) => return Err(refused),
                    Err(other) => return Err(other),
                };
                if !invite.is_active(now_ms() / 1000)
                    || seat.session != Some(invite.session_id.as_str())
                {
                    return Err(refused);
                }
            }
        }
        let Some(session_id) = seat.session.map(SessionId::from) else {
            return Ok(());
        };
        let session = match self.session(&session_id).await {
            Ok(session) => session,
            Err(Error::NotFound(_)) => {
                return Err(Error::Unauthorized("this mediation session does not exist"));
            }
            Err(other) => return Err(other),
        };
        if matches!(
            session.status,
            SessionStatus::Ended | SessionStatus::Cancelled
        ) {
            return Err(Error::Unauthorized("this mediation session is over"));
        }
        if self.removed_from_session(&session_id, seat.sub).await? {
            return Err(Error::Unauthorized(
                "the mediator removed you from this session",
            ));
        }
        Ok(())
    }

    /// Refuses a mediator's seat once their staff account is disabled (or gone), or once
    /// the token it came with (issued at `issued_at`, Unix seconds) was revoked by a
    /// password change or a detected token theft.
    pub async fn check_staff_seat(&self, staff_id: &StaffId, issued_at: u64) -> Result<()> {
        let staff = match self.staff(staff_id).await {
            Ok(staff) => staff,
            Err(Error::NotFound(_)) => return Err(Error::Unauthorized(ACCOUNT_DISABLED)),
            Err(other) => return Err(other),
        };
        if staff.disabled_at.is_some() {
            return Err(Error::Unauthorized(ACCOUNT_DISABLED));
        }
        // Whole seconds: a token issued in the second of a revocation, after it, still admits.
        let valid_from = u64::try_from(staff.tokens_valid_from / 1000).unwrap_or(0);
        if issued_at < valid_from {
            return Err(Error::Unauthorized(
                "this link was revoked when the account's password changed; start the session again from the case",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::model::{CaseStatus, Category, Channel, Risk};

    fn case_sent_to(court: Option<&str>) -> Case {
        Case {
            id: CaseId::from("CA_1"),
            number: "2026-宝安-000001".into(),
            organisation_id: OrganisationId::from("OR_home"),
            mediator_id: Some(StaffId::from("ST_mediator")),
            category: Category::Neighbours,
            channel: Channel::Peoples,
            region: "新安街道".into(),
            risk: Risk::Blue,
            status: CaseStatus::ConfirmationRequested,
            title: "楼上漏水纠纷".into(),
            facts: String::new(),
            claims: String::new(),
            tracking_code: None,
            court: court.map(str::to_owned),
            created_at: 0,
            updated_at: 0,
        }
    }

    fn viewer<'a>(
        id: &'a StaffId,
        role: StaffRole,
        organisation_id: Option<&'a OrganisationId>,
        court: Option<&'a str>,
    ) -> Viewer<'a> {
        Viewer {
            id,
            role,
            organisation_id,
            court,
        }
    }

    #[test]
    fn court_users_see_only_what_was_sent_to_their_court() {
        let case = case_sent_to(Some("宝安区人民法院"));
        let judge = StaffId::from("ST_judge");
        assert!(viewer(&judge, StaffRole::Court, None, Some("宝安区人民法院")).may_see(&case));
        assert!(!viewer(&judge, StaffRole::Court, None, Some("南山区人民法院")).may_see(&case));
        assert!(!viewer(&judge, StaffRole::Court, None, None).may_see(&case));
        let unsent = case_sent_to(None);
        assert!(!viewer(&judge, StaffRole::Court, None, Some("宝安区人民法院")).may_see(&unsent));
    }

    #[test]
    fn staff_see_their_organisation_s_cases_and_system_administrators_all() {
        let case = case_sent_to(None);
        let (me, home, other) = (
            StaffId::from("ST_x"),
            OrganisationId::from("OR_home"),
            OrganisationId::from("OR_other"),
        );
        assert!(viewer(&me, StaffRole::Mediator, Some(&home), None).may_see(&case));
        assert!(viewer(&me, StaffRole::Administrator, Some(&home), None).may_see(&case));
        assert!(!viewer(&me, StaffRole::Mediator, Some(&other), None).may_see(&case));
        assert!(!viewer(&me, StaffRole::Administrator, Some(&other), None).may_see(&case));
        assert!(viewer(&me, StaffRole::Administrator, None, None).may_see(&case));
        assert!(!viewer(&me, StaffRole::Mediator, None, None).may_see(&case));
    }
}
