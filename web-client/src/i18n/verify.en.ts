import type { verifyZh } from './verify.zh-CN';

// The verification page's strings in English; keys match `verify.zh-CN.ts` exactly.
export const verifyEn: Record<keyof typeof verifyZh, string> = {
  'verify.title': 'Verify a mediation agreement',
  'verify.hash': 'SHA-256 of the agreement text:',
  'verify.checking': 'Checking…',
  'verify.genuine': '✓ Genuine: a mediation agreement with exactly this text is registered on this platform.',
  'verify.notGenuine': '✗ Not found: no mediation agreement with this text is registered on this platform. The agreement may have been altered, or the QR code was not issued here.',
  'verify.badHash': 'This is not a valid verification address; please scan the QR code on the agreement again.',
  'verify.busy': 'Too many lookups; please try again in a minute.',
  'verify.organisation': 'Mediation organisation: {organisation}',
  'verify.status': 'Status: {status}',
  'verify.status.in_force': 'In force',
  'verify.status.final': 'Final, not yet in force',
  'verify.status.superseded': 'Replaced by a newer version (this version is void)',
  'verify.effective': 'In force since: {time}',
  'verify.signers': 'Signatures',
  'verify.role.party': 'Party',
  'verify.role.representative': 'Representative',
  'verify.role.mediator': 'Mediator',
  'verify.signedAt': '{name} ({role}) signed on {time}',
  'verify.privacy': 'This page shows only whether the agreement is genuine, who signed it when, and its status — never its content. Names are partly hidden.',
};
