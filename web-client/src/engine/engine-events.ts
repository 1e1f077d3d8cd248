// What the engine tells the room model: its events and the states and counts they carry.

import type { ServerMessage, ServerMessageOf } from '../signal/messages';
import type { Ended } from './ending';

export type ConnectionPhase = 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface EngineEvents {
  /** Every joined, including each resume (`resumed` tells which). */
  joined: { message: ServerMessageOf<'joined'>; resumed: boolean };
  /** We are in the waiting room: `connect()` resolves once a mediator admits us. */
  waiting: ServerMessageOf<'waiting'>;
  /** Room-level frames the engine does not consume itself. */
  message: ServerMessage;
  /** The server's current mapping of its track ids to the tracks we receive them on. */
  remoteTracks: Map<string, MediaStreamTrack>;
  phase: ConnectionPhase;
  ended: Ended;
  /** Whether our camera and microphone reach the server (see `PublishRepair`). */
  publishing: PublishState;
}

/**
 * `sending` while every track we publish has its m-line and its packets go out; `repairing`
 * while the engine rebuilds a connection that does not send them; `failed` once rebuilding
 * has not helped (the person is told: the others do not see or hear them).
 */
export type PublishState = 'sending' | 'repairing' | 'failed';

/** Offer/answer counts, for tests and for the console when something goes wrong. */
export interface NegotiationCounts {
  offersSent: number;
  answersReceived: number;
  offersReceived: number;
  /** Our offers that a crossing server offer rolled back. */
  rollbacks: number;
  /** Offers the browser refused to apply (`setLocalDescription` failed). */
  failedOffers: number;
  /** Connections rebuilt because our media did not go out. */
  rebuilds: number;
  /** `performance.now()` of the first server offer and of our first offer sent. */
  firstServerOfferAt: number | null;
  firstOfferSentAt: number | null;
}
