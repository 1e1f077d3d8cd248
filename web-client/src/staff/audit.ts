// A case's audit trail in words: what happened, who did it, and the details that matter to a
// reader (statuses, names, times), with the stored record kept in each entry's tooltip.

import { type MessageKey, hasMessage, t } from '../i18n';
import { h } from '../screens/dom';
import { type AuditEntry, formatChinaTime } from './api';
import { AUDIT_ACTION_WORDS, auditActionOf } from './vocabulary';

/**
 * Names the page knows, keyed like the server's references: `staff:ST_…`, `party:PT_…`,
 * `evidence:EV_…` (file name), `session:SE_…` (its time), `organisation:OR_…`.
 */
export type Names = Map<string, string>;

/** An audit action in words, or its code when there are no words for it yet. */
export function auditAction(action: string): string {
  const known = auditActionOf(action);
  const key = known ? AUDIT_ACTION_WORDS[known] : null;
  return key ? t(key) : action;
}

/** Who did something, by name where the page knows it. */
export function auditActor(actor: string, names: Names): string {
  if (actor === 'applicant' || actor === 'system') return t(`audit.actor.${actor}` as MessageKey);
  if (actor.startsWith('court_system:')) return t('audit.actor.courtSystem', { court: actor.slice('court_system:'.length) });
  return names.get(actor) ?? actor;
}

/** A code's label (`status.accepted`), or the code itself when the app has no words for it. */
function labelled(prefix: string, value: string): string {
  const key = `${prefix}.${value}`;
  return hasMessage(key) ? t(key) : value;
}

/** Keys whose values are identifiers or hashes nobody reads; the tooltip keeps them. */
const UNREAD = new Set(['helper', 'sha256', 'invite', 'media_type', 'proof']);

/**
 * An entry's `detail` (JSON text) as a short line: `已受理 → 调解中`, a party's name, a
 * session's time. References the page cannot name are left out rather than shown as ids.
 */
export function auditDetail(detail: string, names: Names): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(detail);
  } catch {
    return detail;
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return '';
  const fields = parsed as Record<string, unknown>;
  const parts: string[] = [];
  const name = (kind: string, id: unknown) => (typeof id === 'string' ? names.get(`${kind}:${id}`) : undefined);
  for (const [key, value] of Object.entries(fields)) {
    if (value === null || value === undefined || value === '' || UNREAD.has(key)) continue;
    const text = typeof value === 'string' ? value : typeof value === 'number' ? value : null;
    if (text === null) continue;
    switch (key) {
      case 'to':
        break; // shown with `from`
      case 'from':
        // Alone (an assignment), the earlier status says little; with `to` it is the step.
        if (typeof fields.to === 'string') parts.push(`${labelled('status', String(text))} → ${labelled('status', fields.to)}`);
        break;
      case 'status':
        parts.push(labelled('status', String(text)));
        break;
      case 'category':
      case 'side':
      case 'kind':
      case 'role':
      case 'channel':
        parts.push(labelled(key, String(text)));
        break;
      case 'party':
      case 'mediator':
      case 'evidence':
      case 'organisation': {
        const found = name(key === 'mediator' ? 'staff' : key, text);
        if (found) parts.push(found);
        break;
      }
      case 'session':
        // A session's time, unless the entry carries it itself.
        if (!('scheduled_at' in fields)) {
          const found = name('session', text);
          if (found) parts.push(found);
        }
        break;
      case 'scheduled_at':
        if (typeof value === 'number') parts.push(formatChinaTime(value));
        break;
      case 'expires_at':
        // Invite expiry is in seconds, like the join token's `exp`.
        if (typeof value === 'number') parts.push(t('staff.audit.until', { time: formatChinaTime(value * 1000) }));
        break;
      case 'size':
        if (typeof value === 'number') parts.push(`${Math.ceil(value / 1024)} KB`);
        break;
      default:
        parts.push(String(text));
    }
  }
  return parts.join(' · ');
}

/** The audit trail as a list, oldest first. */
export function auditList(entries: AuditEntry[], names: Names): HTMLElement {
  return h(
    'ol',
    { class: 'audit-list' },
    entries.map((entry) => {
      const detail = auditDetail(entry.detail, names);
      return h('li', { 'data-testid': 'audit-entry', 'data-action': entry.action, title: entry.detail }, [
        h('span', { class: 'muted', text: `${formatChinaTime(entry.at)} ` }),
        h('strong', { text: auditAction(entry.action) }),
        ` · ${auditActor(entry.actor, names)}`,
        detail ? h('span', { class: 'audit-detail', 'data-testid': 'audit-detail', text: ` · ${detail}` }) : null,
      ]);
    }),
  );
}
