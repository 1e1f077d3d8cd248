// What someone sees when their time in the room is over: why, whether opening the link again
// can help, and, for the case's mediator, the way back to the case and the session's record.

import type { EndReason } from '../engine';
import type { MessageKey } from '../i18n';
import type { TokenClaims } from '../link';
import type { MessageScreen } from './message-screen';

/** What to say when the session ends, and whether opening the link again can help. */
const END_MESSAGES: Record<EndReason, { body: MessageKey; rejoin: boolean }> = {
  left: { body: 'room.left', rejoin: true },
  invalid_token: { body: 'link.invalid.body', rejoin: false },
  room_full: { body: 'room.full', rejoin: true },
  // A removed person's token never joins this session again; an ended session is over.
  removed: { body: 'room.removed', rejoin: false },
  ended: { body: 'room.sessionEnded', rejoin: false },
  denied: { body: 'room.denied', rejoin: true },
  room_locked: { body: 'room.locked', rejoin: true },
  // Opening the link again goes through the consent screen first.
  consent_required: { body: 'room.consentRequired', rejoin: true },
  gone: { body: 'room.ended', rejoin: true },
  gave_up: { body: 'room.ended', rejoin: true },
  unsupported: { body: 'device.unsupported.body', rejoin: false },
};

/**
 * `caseToken` is given once the party's agreement is known to be in force: the screen then
 * links to the party's case page (`/case#token=…`, the same token) to apply for judicial
 * confirmation.
 */
export function endScreen(reason: EndReason, detail: string | undefined, claims: TokenClaims | null, rejoin: () => void, caseToken?: string): MessageScreen {
  const end = END_MESSAGES[reason];
  const action = end.rejoin ? { label: 'room.leftRejoin' as const, run: rejoin } : undefined;
  // The mediator of a case session goes back to the desk: the case, and what this session
  // recorded. The parties' goodbye ("the mediator ended the session") is not theirs.
  if (claims?.role === 'mediator' && claims.case && (reason === 'ended' || reason === 'left')) {
    const caseHref = `/staff/cases/${encodeURIComponent(claims.case)}`;
    const links: NonNullable<MessageScreen['links']> = [{ label: 'room.end.toCase', href: caseHref, testId: 'end-to-case' }];
    if (claims.session) {
      links.push({ label: 'room.end.toRecord', href: `${caseHref}/sessions/${encodeURIComponent(claims.session)}/record`, testId: 'end-to-record' });
    }
    return {
      title: 'app.title',
      body: reason === 'ended' ? 'room.end.mediatorEnded' : 'room.left',
      action: reason === 'left' ? action : undefined,
      links,
    };
  }
  const links: MessageScreen['links'] = caseToken
    ? [{ label: 'confirm.end.toCase', href: `/case#token=${encodeURIComponent(caseToken)}`, testId: 'end-to-confirmation' }]
    : undefined;
  return { title: 'app.title', body: end.body, detail, action, links };
}
