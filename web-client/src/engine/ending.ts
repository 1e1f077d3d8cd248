// How a session ends, in words the screens can explain: the server's fatal error codes and
// leave reasons mapped to one reason each, with a mediator's own words when they gave some.

/** Why the engine stopped for good. */
export type EndReason =
  | 'left'
  | 'invalid_token'
  | 'room_full'
  | 'removed'
  | 'gone'
  | 'gave_up'
  | 'unsupported'
  /** A mediator turned us away from the waiting room. */
  | 'denied'
  /** A mediator ended the session. */
  | 'ended'
  | 'room_locked'
  /** A party who has not agreed to online mediation and recording yet. */
  | 'consent_required';

export interface Ended {
  reason: EndReason;
  /** The mediator's own words for a removal or a denial, shown as they wrote them. */
  message?: string;
}

/** Joining failed for a reason the person can be told (not a network failure). */
export class JoinError extends Error {
  constructor(
    readonly reason: EndReason,
    message: string,
    /** As `Ended.message`. */
    readonly detail?: string,
  ) {
    super(message);
  }
}

/**
 * The server serving the room is going away (it drains before a restart or an upgrade), not
 * the session: like a dropped socket, it is answered by joining again with backoff, never by
 * ending. `node_draining` refuses a join; `node_moving` ends a seat the server let go;
 * `session_unavailable` refuses a join whose session's server could not be reached (it may
 * have died, and another takes the session over once its lease runs out).
 */
export class NodeMoving extends Error {
  constructor(
    message: string,
    /** The server's `retry_after_ms`: the next attempt waits at least this long. */
    readonly retryAfterMs = 0,
  ) {
    super(message);
  }
}

/** Whether a fatal error code means "join again" rather than the end of the session. */
export function isNodeMovingCode(code: string): boolean {
  return code === 'node_draining' || code === 'session_unavailable';
}

/** Whether a leave reason means "join again" rather than the end of the session. */
export function isNodeMovingReason(reason: string): boolean {
  return reason === 'node_moving';
}

export function joinErrorReason(code: string): EndReason {
  switch (code) {
    case 'invalid_token':
      return 'invalid_token';
    case 'room_full':
      return 'room_full';
    case 'unsupported_protocol':
      return 'unsupported';
    case 'room_locked':
      return 'room_locked';
    case 'consent_required':
      return 'consent_required';
    default:
      return 'gone';
  }
}

export function leaveReason(reason: string): EndReason {
  switch (reason) {
    case 'removed':
    case 'denied':
    case 'ended':
      return reason;
    case 'server_shutdown':
      return 'gone';
    // Never ends a session (the engine joins again, see `NodeMoving`); should one reach here
    // all the same, the person is told the connection went, not that they left.
    case 'node_moving':
      return 'gone';
    default:
      return 'left';
  }
}
