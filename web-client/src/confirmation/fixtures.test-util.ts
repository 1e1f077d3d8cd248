// Views shaped exactly like the common brief's ConfirmationView, for the tests of this folder.

import type { ConfirmationView } from './types';

/** 2026-12-06 10:00 Beijing time: the agreement took effect. */
export const EFFECTIVE = Date.UTC(2026, 11, 6, 2, 0);
/** 2027-01-05 24:00 Beijing time. */
export const DEADLINE = Date.UTC(2027, 0, 5, 16, 0);

export function viewJson(patch: Partial<ConfirmationView> = {}): ConfirmationView {
  return {
    agreement_id: 'AG_1',
    case_id: 'CA_1',
    case_number: '宝调〔2026〕12号',
    request_id: null,
    confirmable: true,
    blocked: null,
    window: { effective_at: EFFECTIVE, deadline_at: DEADLINE, days_left: 30, warning: null, closed: false },
    court: {
      proposed: '深圳市宝安区人民法院',
      basis: 'organisation_seat',
      chosen: null,
      reason: null,
      changed_by_name: null,
      venue_note: '当事人住所地、标的物所在地的基层法院也有管辖权。',
      may_change: true,
    },
    applicants: [
      { party_id: 'PT_a', name: '张三', side: 'applicant', applied: false, applied_at: null, applied_by_name: null, may_apply: true, cannot_apply_reason: null, identity_proofs: 0 },
      { party_id: 'PT_b', name: '李四', side: 'respondent', applied: false, applied_at: null, applied_by_name: null, may_apply: true, cannot_apply_reason: null, identity_proofs: 0 },
    ],
    status: null,
    clocks: null,
    decision: null,
    next_steps: [],
    package: null,
    application_pdf: false,
    delivery: null,
    identity_proofs: [],
    me: { kind: 'party', may_apply: true, applied: false, for_party_ids: ['PT_a'] },
    ...patch,
  };
}
