// Who sits where for the free-will question: the party confirms that they sign of their own
// will with nobody of theirs listening, their lawyer included. Pure, so the decisions the
// console makes on every seat change are tested without a room or a page.

import type { ParticipantInfo, Space } from '../signal/messages';

/** Who, besides the party and mediators, sits in the private room the party is to be asked in. */
export function othersInSpace(participants: readonly ParticipantInfo[], space: Space, partySeatId: string): ParticipantInfo[] {
  return participants.filter((p) => p.space === space && p.id !== partySeatId && p.role !== 'mediator');
}

/** The party's seat in the room: the join token's identity is their party id. */
export function seatOf(participants: readonly ParticipantInfo[], signerId: string): ParticipantInfo | null {
  return participants.find((p) => p.identity === signerId) ?? null;
}

/** Where the question stands; only `alone` may show the question and its answers. */
export type FreeWillPhase =
  | { kind: 'not_seated' }
  | { kind: 'others'; side: Space; others: ParticipantInfo[] }
  | { kind: 'moving'; side: Space }
  | { kind: 'alone'; side: Space };

/** The private room the party is asked in: their side's, as the agreement or their seat says. */
function sideOf(seat: ParticipantInfo | null, signerSide: Space | null): Space | null {
  return signerSide ?? seat?.side ?? null;
}

export function freeWillPhase(participants: readonly ParticipantInfo[], signerId: string, signerSide: Space | null, ourSpace: Space): FreeWillPhase {
  const seat = seatOf(participants, signerId);
  const side = sideOf(seat, signerSide);
  if (!seat || !side) return { kind: 'not_seated' };
  const others = othersInSpace(participants, side, seat.id);
  if (others.length) return { kind: 'others', side, others };
  if (seat.space !== side || ourSpace !== side) return { kind: 'moving', side };
  return { kind: 'alone', side };
}

export interface Move {
  participant_id: string;
  to: Space;
  alone: boolean;
}

/**
 * The moves that bring the party and us into their side's room. The party moves `alone`, so
 * the server leaves the helpers who follow them (their lawyer) where they are; and only when
 * not there yet, since a plain move of someone already there still pulls their helpers in.
 * Nothing while someone else sits in that room: the mediator moves them out first, by hand,
 * seeing who it is.
 */
export function freeWillMoves(
  participants: readonly ParticipantInfo[],
  signerId: string,
  signerSide: Space | null,
  us: { id: string; space: Space } | null,
): Move[] {
  const seat = seatOf(participants, signerId);
  const side = sideOf(seat, signerSide);
  if (!seat || !side || othersInSpace(participants, side, seat.id).length) return [];
  const moves: Move[] = [];
  if (seat.space !== side) moves.push({ participant_id: seat.id, to: side, alone: true });
  if (us && us.space !== side) moves.push({ participant_id: us.id, to: side, alone: false });
  return moves;
}
