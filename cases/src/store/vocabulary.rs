//! The names of what happens: audit actions and the kinds of session-record entries. Each is
//! stored and sent as the same text it always was (the audit chain hashes that text), and
//! the staff desk's copy (`web-client/src/staff/vocabulary.ts`) is checked against the
//! examples in `docs/api/examples/` by both sides' tests, so neither can grow a name the
//! other lacks.

use serde::{Deserialize, Serialize};

use super::model::text_enum;
use crate::error::{Error, Result};

text_enum!(
    /// What an audit entry records. Its text is part of the entry's hash, so a variant's
    /// text never changes once written.
    AuditAction {
        /// A case was registered by staff or applied for online.
        CaseCreated = "case.created",
        /// A case moved from one status to another.
        CaseStatusChanged = "case.status_changed",
        /// A case was given to a mediator.
        CaseAssigned = "case.assigned",
        /// A person was added to a case.
        PartyAdded = "party.added",
        /// A representative's power of attorney was uploaded.
        PartyAttorneyLetter = "party.attorney_letter",
        /// Someone read a party's ID number in full.
        PartyIdNumberRead = "party.id_number_read",
        /// A proof of identity (an ID card side, a passport) was uploaded for a party.
        PartyIdentityProofAdded = "party.identity_proof_added",
        /// A proof of identity was removed before the request went to the court.
        PartyIdentityProofRemoved = "party.identity_proof_removed",
        /// Staff or a court user opened a proof of identity.
        PartyIdentityProofRead = "party.identity_proof_read",
        /// A session was scheduled.
        SessionScheduled = "session.scheduled",
        /// A session's mediator opened its room.
        SessionStarted = "session.started",
        /// A session ended.
        SessionEnded = "session.ended",
        /// The node running a session's room stopped and another took the session over
        /// (detail: the session and both nodes).
        SessionFailedOver = "session.failed_over",
        /// An invite (a join link) was made for a person.
        InviteCreated = "invite.created",
        /// An invite was revoked; its link stops admitting.
        InviteRevoked = "invite.revoked",
        /// An invite was sent through a channel (SMS, WeChat, the log).
        InviteSent = "invite.sent",
        /// A party consented to online mediation and its recording.
        ConsentGiven = "consent.given",
        /// A file was added to a case's evidence.
        EvidenceAdded = "evidence.added",
        /// An organisation was created.
        OrganisationCreated = "organisation.created",
        /// A staff account was created.
        StaffCreated = "staff.created",
        /// A staff account was disabled.
        StaffDisabled = "staff.disabled",
        /// A staff member changed their password.
        StaffPasswordChanged = "staff.password_changed",
        /// A staff member signed in.
        StaffLogin = "staff.login",
        /// A staff member signed out.
        StaffLogout = "staff.logout",
        /// A spent refresh token came back: every sign-in of that account was revoked.
        StaffRefreshTokenReused = "staff.refresh_token_reused",
        /// The first administrator's account was made (first-run setup).
        SetupCompleted = "setup.completed",
        /// Phones stored in clear by an older version were sealed at startup.
        StorePhonesSealed = "store.phones_sealed",
        /// A session's recording began (detail: the recording, whether private rooms are
        /// recorded).
        RecordingStarted = "recording.started",
        /// A recording was paused.
        RecordingPaused = "recording.paused",
        /// A paused recording went on.
        RecordingResumed = "recording.resumed",
        /// A recording was stopped; its files are being finalised.
        RecordingStopped = "recording.stopped",
        /// A recording's files were finalised and its manifest signed (detail: the
        /// manifest's SHA-256, which enters the chain here).
        RecordingFinalised = "recording.finalised",
        /// A recording cut short by a crash was recovered from its logs and marked
        /// interrupted (detail: the manifest's SHA-256).
        RecordingInterrupted = "recording.interrupted",
        /// A recording could not be made or recovered (detail: why).
        RecordingFailed = "recording.failed",
        /// Someone opened a recording's review page.
        RecordingViewed = "recording.viewed",
        /// Someone downloaded a recording's file or its whole archive (detail: which).
        RecordingDownloaded = "recording.downloaded",
        /// A hold keeps a recording past its retention date (detail: the reason).
        RecordingHeld = "recording.held",
        /// A hold was lifted; the retention policy applies again.
        RecordingReleased = "recording.released",
        /// A recording's files were deleted under the retention policy.
        RecordingDeleted = "recording.deleted",
        /// A recording's files were checked against its signed manifest (detail: the
        /// result and what failed).
        RecordingIntegrityChecked = "recording.integrity_checked",
        /// An organisation changed whether private rooms are recorded or how long
        /// recordings are kept.
        OrganisationRecordingPolicyChanged = "organisation.recording_policy_changed",
        /// The platform's manifest-signing key was replaced (detail: the new key's id).
        SigningKeyRotated = "signing_key.rotated",
        /// An organisation's agreement template was saved or reset (detail: category and
        /// locale).
        AgreementTemplateSaved = "agreement_template.saved",
        /// An agreement was started from a template (detail: the template).
        AgreementCreated = "agreement.created",
        /// Whether the case concerns marriage, adoption or inheritance status was changed
        /// (detail: the value).
        AgreementPersonalStatusSet = "agreement.personal_status_set",
        /// A version's text was frozen (detail: version and its SHA-256).
        AgreementFinalised = "agreement.finalised",
        /// An edit after finalising started a new version; signatures on the old one are void
        /// (detail: the new version).
        AgreementReopened = "agreement.reopened",
        /// A private draft was shown to one side, or hidden again (detail: draft and side).
        AgreementPrivateDraftShown = "agreement.private_draft_shown",
        /// The mediator attested a signer's identity on camera.
        AgreementAttested = "agreement.attested",
        /// A signer's identity was checked (detail: how).
        AgreementIdentityChecked = "agreement.identity_checked",
        /// A party's free-will answer was recorded (detail: version and answer).
        AgreementFreeWill = "agreement.free_will",
        /// A signer signed a version (detail: version and signer).
        AgreementSigned = "agreement.signed",
        /// A signer declined to sign (detail: version and signer).
        AgreementDeclined = "agreement.declined",
        /// The organisation's seal was applied: the agreement is in force (detail: version).
        AgreementSealed = "agreement.sealed",
        /// An organisation's seal key was replaced (detail: the new key's id).
        SealKeyRotated = "seal_key.rotated",
        /// A party (or their representative) applied for judicial confirmation.
        ConfirmationApplied = "confirmation.applied",
        /// The mediator chose another competent court, with a reason.
        ConfirmationCourtChanged = "confirmation.court_changed",
        /// Every applicant applied: the package was built and the request submitted.
        ConfirmationSubmitted = "confirmation.submitted",
        /// The request reached the court (its inbox opened it, or its system answered 2xx).
        ConfirmationReceived = "confirmation.received",
        /// The package was delivered to a court's system (outbound connector).
        ConfirmationDelivered = "confirmation.delivered",
        /// The court accepted the request (立案, 调确字 case number).
        ConfirmationAccepted = "confirmation.accepted",
        /// The court extended its time to rule by 10 days.
        ConfirmationExtended = "confirmation.extended",
        /// The court confirmed the agreement (确认有效).
        ConfirmationConfirmed = "confirmation.confirmed",
        /// The court rejected the request (驳回), with reasons.
        ConfirmationRejected = "confirmation.rejected",
        /// A court user or mediator downloaded the package.
        ConfirmationPackageDownloaded = "confirmation.package_downloaded",
        /// A status callback from a court system was refused (bad signature, stale, unknown).
        ConfirmationCallbackRefused = "confirmation.callback_refused",
    }
);

text_enum!(
    /// What a session-record (笔录) entry says happened in a case session's room.
    SessionEventKind {
        /// A party consented to online mediation and its recording (detail: the text's
        /// version).
        Consent = "consent",
        /// Someone entered the session.
        Joined = "joined",
        /// A party arrived in the waiting room.
        Waiting = "waiting",
        /// A moderator let someone in from the waiting room.
        Admitted = "admitted",
        /// A moderator turned someone away (detail: the reason).
        Denied = "denied",
        /// Someone left (detail: the reason).
        Left = "left",
        /// Someone was moved, or moved, to another room (detail: `joint → applicant`).
        Moved = "moved",
        /// A hand went up.
        HandRaised = "hand_raised",
        /// A hand went down.
        HandLowered = "hand_lowered",
        /// A chat message (detail: the text).
        Chat = "chat",
        /// A file was shared as evidence (detail: the evidence id, a space, the file name).
        EvidenceShared = "evidence_shared",
        /// A moderator asked someone to turn a device on (detail: which).
        UnmuteAsked = "unmute_asked",
        /// A moderator muted someone's microphone.
        Muted = "muted",
        /// A moderator stopped someone's camera or screen (detail: which).
        VideoStopped = "video_stopped",
        /// A moderator removed someone for good (detail: the reason).
        Removed = "removed",
        /// The room was locked: nobody new comes in.
        Locked = "locked",
        /// The room was unlocked.
        Unlocked = "unlocked",
        /// A moderator ended the session for everyone.
        Ended = "ended",
        /// Everyone was told the session is about to be recorded (detail: when it starts).
        RecordingNotice = "recording_notice",
        /// Recording began (detail: the recording id).
        RecordingStarted = "recording_started",
        /// Recording was paused.
        RecordingPaused = "recording_paused",
        /// Recording went on after a pause.
        RecordingResumed = "recording_resumed",
        /// Recording was stopped.
        RecordingStopped = "recording_stopped",
        /// Someone moved into a private room that is not recorded: from here their media is
        /// a gap in the recording (the space is the room entered).
        RecordingPrivateRoomSkipped = "recording_private_room_skipped",
        /// The recording was cut short (the server stopped) and recovered up to that point.
        RecordingInterrupted = "recording_interrupted",
        /// A party commented on a clause of the agreement (detail: the clause).
        AgreementComment = "agreement_comment",
        /// The mediator froze a version of the agreement (detail: version and SHA-256).
        AgreementFinalised = "agreement_finalised",
        /// A party answered the free-will question alone with the mediator (detail: answer).
        AgreementFreeWill = "agreement_free_will",
        /// Someone signed the agreement (detail: version).
        AgreementSigned = "agreement_signed",
        /// Someone declined to sign (detail: version; the reason stays with the agreement).
        AgreementDeclined = "agreement_declined",
        /// The seal was applied and the agreement took effect (detail: version).
        AgreementInForce = "agreement_in_force",
        /// The server running the session stopped and the session went on on another; the
        /// people in it had to reconnect (detail: `<dead node> → <new node>`).
        NodeFailover = "node_failover",
    }
);

impl std::fmt::Display for AuditAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for SessionEventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests;
