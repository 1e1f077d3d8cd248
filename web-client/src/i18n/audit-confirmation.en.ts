// The case trail's words for the judicial confirmation steps in English; keys as in
// `audit-confirmation.zh-CN.ts`.

import type { auditConfirmationZh } from './audit-confirmation.zh-CN';

export const auditConfirmationEn: Record<keyof typeof auditConfirmationZh, string> = {
  'audit.confirmation.applied': 'Applied for judicial confirmation',
  'audit.confirmation.court_changed': 'Court changed',
  'audit.confirmation.submitted': 'Everyone applied: request submitted to the court',
  'audit.confirmation.received': 'The court has the request',
  'audit.confirmation.delivered': 'Package delivered to the court’s system',
  'audit.confirmation.accepted': 'Accepted by the court',
  'audit.confirmation.extended': 'The court extended its time to rule',
  'audit.confirmation.confirmed': 'The court confirmed the agreement',
  'audit.confirmation.rejected': 'The court rejected the request',
  'audit.confirmation.package_downloaded': 'Confirmation package downloaded',
  'audit.confirmation.callback_refused': 'Court system message refused (not verified)',
};
