// What the session's recording means for the person in front of the screen: which badge they
// see, which notice they read and hear when it changes, and which controls a mediator gets.
// Pure functions of the server's `recording` status, so every rule is tested without a page.

import type { MessageKey } from '../i18n';
import type { RecordAction, RecordingEndReason, RecordingState, RecordingStatus } from '../signal/messages';

const STATES: readonly RecordingState[] = ['starting', 'on', 'paused', 'off'];
const END_REASONS: readonly RecordingEndReason[] = ['stopped', 'ended', 'failed', 'no_disk_space'];

/**
 * The status a `recording` frame or `joined.recording` carries, or null when it is not one
 * this client understands: a garbled status must not show a badge that lies.
 */
export function recordingStatusOf(value: unknown): RecordingStatus | null {
  if (!value || typeof value !== 'object') return null;
  const v = value as Record<string, unknown>;
  if (!STATES.includes(v.state as RecordingState) || typeof v.since !== 'number') return null;
  const status: RecordingStatus = {
    state: v.state as RecordingState,
    since: v.since,
    private_rooms_recorded: v.private_rooms_recorded === true,
    // Absent means recorded: telling someone "not recorded" wrongly is the worse mistake.
    recorded_here: v.recorded_here !== false,
  };
  if (typeof v.starts_at === 'number') status.starts_at = v.starts_at;
  if (END_REASONS.includes(v.reason as RecordingEndReason)) status.reason = v.reason as RecordingEndReason;
  return status;
}

export type BadgeKind = 'rec' | 'paused' | 'not-recorded';

/** The badge everyone sees while a recording exists, or null when there is none to show. */
export function recordingBadge(status: RecordingStatus | null): { kind: BadgeKind; key: MessageKey } | null {
  if (!status || status.state === 'off') return null;
  if (!status.recorded_here) return { kind: 'not-recorded', key: 'recording.badge.notRecorded' };
  if (status.state === 'on') return { kind: 'rec', key: 'recording.badge.on' };
  if (status.state === 'paused') return { kind: 'paused', key: 'recording.badge.paused' };
  // Starting: the notice with its countdown says it; a badge would claim it runs already.
  return null;
}

export type NoticeKind = 'starting' | 'resumed' | 'paused' | 'ongoing' | 'stopped' | 'not-recorded';

export interface RecordingNotice {
  kind: NoticeKind;
  key: MessageKey;
  /** Spoken aloud with a chime: the moments everyone must notice even without looking. */
  announce: boolean;
  /** With `starting`: unix ms (server clock) when recording begins, for the countdown. */
  startsAt: number | null;
}

const STOP_KEYS: Record<RecordingEndReason, MessageKey> = {
  stopped: 'recording.notice.stopped',
  ended: 'recording.notice.stopped',
  failed: 'recording.notice.failed',
  no_disk_space: 'recording.notice.noDiskSpace',
};

function notice(kind: NoticeKind, key: MessageKey, announce: boolean, startsAt: number | null = null): RecordingNotice {
  return { kind, key, announce, startsAt };
}

/**
 * What to tell the person when the status changes from `before` (null: we just arrived) to
 * `after`, or null when nothing new is to be said (a repeat of the same state, or the start
 * that the `starting` notice already announced).
 */
export function recordingNotice(before: RecordingStatus | null, after: RecordingStatus): RecordingNotice | null {
  const was = before?.state ?? 'off';
  const wasHere = before?.recorded_here ?? true;
  if (after.state === 'off') {
    if (was === 'off') return null;
    return notice('stopped', STOP_KEYS[after.reason ?? 'stopped'], false);
  }
  if (!after.recorded_here) {
    return wasHere || was === 'off' ? notice('not-recorded', 'recording.notice.notRecordedHere', false) : null;
  }
  if (after.state === 'starting') {
    return was === 'starting' && wasHere ? null : notice('starting', 'recording.notice.starting', true, after.starts_at ?? null);
  }
  if (after.state === 'paused') {
    return was === 'paused' && wasHere ? null : notice('paused', 'recording.notice.paused', before !== null);
  }
  // On.
  if (was === 'paused' && wasHere) return notice('resumed', 'recording.notice.resumed', true);
  if (was === 'starting' && wasHere) return null;
  if (was === 'on' && wasHere) return null;
  // We arrive, or come back from an unrecorded room, while it runs: we were never told.
  return notice('ongoing', 'recording.notice.ongoing', before !== null);
}

/**
 * The local time (ms) at which a `starting` recording begins. The server's clock says when;
 * a phone's clock may be minutes off, so the wait the server meant (`starts_at - since`) is
 * counted from when the frame arrived whenever the two clocks disagree by more than a few
 * seconds.
 */
export function countdownEnd(status: RecordingStatus, receivedAt: number): number | null {
  if (status.state !== 'starting' || status.starts_at === undefined) return null;
  const skew = receivedAt - status.since;
  if (Math.abs(skew) <= 5_000) return status.starts_at;
  return receivedAt + Math.max(0, status.starts_at - status.since);
}

/** Whole seconds left until `end`, never negative. */
export function secondsLeft(end: number, now: number): number {
  return Math.max(0, Math.ceil((end - now) / 1000));
}

/** The recording buttons a mediator's console offers in each state, in their order. */
export function recordingControls(state: RecordingState): RecordAction[] {
  switch (state) {
    case 'off':
      return ['start'];
    case 'starting':
      return ['stop'];
    case 'on':
      return ['pause', 'stop'];
    case 'paused':
      return ['resume', 'stop'];
  }
}
