// The names the server writes for what happened, with the words the desk shows for each: audit
// actions (a case's audit trail) and the kinds of session-record (笔录) entries. The server's
// copy is `AuditAction` and `SessionEventKind` in cases/src/store/vocabulary.rs; both copies
// are checked against the examples in docs/api/examples/ (vocabulary.test.ts here), so a name
// one has and the other lacks fails a test.

import type { MessageKey } from '../i18n';

/**
 * Every audit action, with its words. Actions about staff accounts, organisations, the store and
 * the signing key are never in a case's trail, the only trail the desk shows, so they have none
 * (null).
 */
export const AUDIT_ACTION_WORDS = {
  'case.created': 'audit.case.created',
  'case.status_changed': 'audit.case.status_changed',
  'case.assigned': 'audit.case.assigned',
  'party.added': 'audit.party.added',
  'party.attorney_letter': 'audit.party.attorney_letter',
  'party.id_number_read': 'audit.party.id_number_read',
  'party.identity_proof_added': 'audit.party.identity_proof_added',
  'party.identity_proof_removed': 'audit.party.identity_proof_removed',
  'party.identity_proof_read': 'audit.party.identity_proof_read',
  'session.scheduled': 'audit.session.scheduled',
  'session.started': 'audit.session.started',
  'session.ended': 'audit.session.ended',
  'session.failed_over': 'audit.session.failed_over',
  'invite.created': 'audit.invite.created',
  'invite.revoked': 'audit.invite.revoked',
  'invite.sent': 'audit.invite.sent',
  'consent.given': 'audit.consent.given',
  'evidence.added': 'audit.evidence.added',
  'organisation.created': null,
  'staff.created': null,
  'staff.disabled': null,
  'staff.password_changed': null,
  'staff.login': null,
  'staff.logout': null,
  'staff.refresh_token_reused': null,
  'setup.completed': null,
  'store.phones_sealed': null,
  'recording.started': 'audit.recording.started',
  'recording.paused': 'audit.recording.paused',
  'recording.resumed': 'audit.recording.resumed',
  'recording.stopped': 'audit.recording.stopped',
  'recording.finalised': 'audit.recording.finalised',
  'recording.interrupted': 'audit.recording.interrupted',
  'recording.failed': 'audit.recording.failed',
  'recording.viewed': 'audit.recording.viewed',
  'recording.downloaded': 'audit.recording.downloaded',
  'recording.held': 'audit.recording.held',
  'recording.released': 'audit.recording.released',
  'recording.deleted': 'audit.recording.deleted',
  'recording.integrity_checked': 'audit.recording.integrity_checked',
  'organisation.recording_policy_changed': null,
  'signing_key.rotated': null,
  // The agreement's words live in its own catalogue (i18n/agreement.*.ts).
  'agreement_template.saved': null,
  'agreement.created': 'audit.agreement.created',
  'agreement.personal_status_set': 'audit.agreement.personal_status_set',
  'agreement.finalised': 'audit.agreement.finalised',
  'agreement.reopened': 'audit.agreement.reopened',
  'agreement.private_draft_shown': 'audit.agreement.private_draft_shown',
  'agreement.attested': 'audit.agreement.attested',
  'agreement.identity_checked': 'audit.agreement.identity_checked',
  'agreement.free_will': 'audit.agreement.free_will',
  'agreement.signed': 'audit.agreement.signed',
  'agreement.declined': 'audit.agreement.declined',
  'agreement.sealed': 'audit.agreement.sealed',
  'seal_key.rotated': null,
  // Judicial confirmation's words are in i18n/audit-confirmation.*.ts.
  'confirmation.applied': 'audit.confirmation.applied',
  'confirmation.court_changed': 'audit.confirmation.court_changed',
  'confirmation.submitted': 'audit.confirmation.submitted',
  'confirmation.received': 'audit.confirmation.received',
  'confirmation.delivered': 'audit.confirmation.delivered',
  'confirmation.accepted': 'audit.confirmation.accepted',
  'confirmation.extended': 'audit.confirmation.extended',
  'confirmation.confirmed': 'audit.confirmation.confirmed',
  'confirmation.rejected': 'audit.confirmation.rejected',
  'confirmation.package_downloaded': 'audit.confirmation.package_downloaded',
  'confirmation.callback_refused': 'audit.confirmation.callback_refused',
} as const satisfies Record<string, MessageKey | null>;

/** What an audit entry records (`AuditEntry.action`). */
export type AuditAction = keyof typeof AUDIT_ACTION_WORDS;

/**
 * Every kind of session-record entry, with the sentence that tells it. Kinds whose sentence
 * depends on the entry (who moved whom, why someone left, which device) have null here:
 * record.ts picks among their sentences.
 */
export const SESSION_EVENT_SENTENCES = {
  consent: 'record.event.consent',
  joined: 'record.event.joined',
  waiting: 'record.event.waiting',
  admitted: 'record.event.admitted',
  denied: 'record.event.denied',
  left: null,
  moved: null,
  hand_raised: 'record.event.hand_raised',
  hand_lowered: 'record.event.hand_lowered',
  chat: 'record.event.chat',
  evidence_shared: 'record.event.evidence_shared',
  unmute_asked: null,
  muted: 'record.event.muted',
  video_stopped: null,
  removed: 'record.event.removed',
  locked: 'record.event.locked',
  unlocked: 'record.event.unlocked',
  ended: 'record.event.ended',
  recording_notice: 'record.event.recording_notice',
  recording_started: 'record.event.recording_started',
  recording_paused: 'record.event.recording_paused',
  recording_resumed: 'record.event.recording_resumed',
  recording_stopped: 'record.event.recording_stopped',
  recording_private_room_skipped: 'record.event.recording_private_room_skipped',
  recording_interrupted: 'record.event.recording_interrupted',
  agreement_comment: 'record.event.agreement_comment',
  agreement_finalised: 'record.event.agreement_finalised',
  agreement_free_will: 'record.event.agreement_free_will',
  agreement_signed: 'record.event.agreement_signed',
  agreement_declined: 'record.event.agreement_declined',
  agreement_in_force: 'record.event.agreement_in_force',
  node_failover: 'record.event.node_failover',
} as const satisfies Record<string, MessageKey | null>;

/** What a session-record entry says happened (`SessionEvent.kind`). */
export type SessionEventKind = keyof typeof SESSION_EVENT_SENTENCES;

function isKeyOf<T extends object>(table: T, name: string): name is Extract<keyof T, string> {
  return Object.prototype.hasOwnProperty.call(table, name);
}

/** The action if this page knows it; null for one newer than the page. */
export function auditActionOf(action: string): AuditAction | null {
  return isKeyOf(AUDIT_ACTION_WORDS, action) ? action : null;
}

/** The kind if this page knows it; null for one newer than the page. */
export function sessionEventKindOf(kind: string): SessionEventKind | null {
  return isKeyOf(SESSION_EVENT_SENTENCES, kind) ? kind : null;
}
