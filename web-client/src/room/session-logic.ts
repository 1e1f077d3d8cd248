// Decisions about a case session's room that need no socket and no DOM: who is with us, whether
// the mediator is away with the other side, what "分开调解" moves, how a moderator's list groups.

import type { ParticipantInfo, Role, Space } from '../signal/messages';
import { SPACES } from '../signal/messages';

/**
 * Whether someone shares our space, so there is media of them to show. The server lists a
 * mediator in another space with `elsewhere` (so a party knows they exist), and tells
 * moderators everyone's `space`; neither kind is in the room with us.
 */
export function isHere(info: ParticipantInfo, ourSpace: Space): boolean {
  if (info.elsewhere) return false;
  return info.space === undefined || info.space === ourSpace;
}

/**
 * Whether the people we can see have no mediator with us: every mediator listed is in another
 * space (背对背, with the other side). False when there is no mediator at all, as before the
 * mediator arrives: nobody is "with the other side" then.
 */
export function mediatorElsewhere(participants: readonly ParticipantInfo[]): boolean {
  const mediators = participants.filter((p) => p.role === 'mediator');
  return mediators.length > 0 && mediators.every((p) => p.elsewhere === true);
}

/**
 * The `move`s that split the room into the two sides' private rooms. Only the parties
 * themselves are moved: the server takes their representatives and interpreters along, and
 * moving those too could race with it.
 */
export function separationMoves(participants: readonly ParticipantInfo[]): { participant_id: string; to: Space }[] {
  return participants
    .filter((p) => p.role === 'party' && (p.kind === 'person' || p.kind === 'organisation') && p.side)
    .filter((p) => p.space !== p.side)
    .map((p) => ({ participant_id: p.id, to: p.side as Space }));
}

/** A moderator's view of the room: everyone by space, ourselves included, in a stable order. */
export function groupBySpace(
  others: readonly ParticipantInfo[],
  self: ParticipantInfo | null,
  ourSpace: Space,
): Record<Space, ParticipantInfo[]> {
  const groups: Record<Space, ParticipantInfo[]> = { joint: [], applicant: [], respondent: [] };
  if (self) groups[ourSpace].push({ ...self, space: ourSpace });
  for (const info of others) groups[info.space ?? ourSpace].push(info);
  for (const space of SPACES) groups[space].sort(byRoleThenName);
  return groups;
}

const ROLE_ORDER: Record<Role, number> = { mediator: 0, party: 1, observer: 2, guest: 3 };
const SIDE_ORDER = { applicant: 0, respondent: 1 } as const;

function byRoleThenName(a: ParticipantInfo, b: ParticipantInfo): number {
  return (
    ROLE_ORDER[a.role] - ROLE_ORDER[b.role] ||
    (a.side ? SIDE_ORDER[a.side] : 2) - (b.side ? SIDE_ORDER[b.side] : 2) ||
    a.name.localeCompare(b.name, 'zh-CN')
  );
}

/** Chat text as the server takes it: 1–2000 characters once trimmed; null when it would refuse. */
export function chatText(text: string): string | null {
  const trimmed = text.trim();
  const length = Array.from(trimmed).length;
  return length >= 1 && length <= MAX_CHAT_CHARS ? trimmed : null;
}

export const MAX_CHAT_CHARS = 2000;
