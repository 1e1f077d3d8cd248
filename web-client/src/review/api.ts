// What the server says about a case's recordings (docs/api.md, "Recordings"), and the calls the
// review page makes. Media and download URLs carry their own short-lived `?ticket=`, because a
// <video> element cannot send the staff bearer header; they are used exactly as given.

import type { StaffClient } from '../staff/api';

/** Where a recording stands, from the first packet to its deletion. */
export type RecordingStatus = 'recording' | 'paused' | 'finalising' | 'complete' | 'interrupted' | 'failed' | 'deleted';

/** The outcome of the last integrity check of a recording's files against its signed manifest. */
export type IntegrityState = 'unchecked' | 'verified' | 'failed';

/** One recording in a case's list. Times are Unix milliseconds. */
export interface RecordingSummary {
  id: string;
  session_id: string;
  status: RecordingStatus;
  started_at: number;
  ended_at: number | null;
  duration_ms: number | null;
  integrity: IntegrityState;
  hold: boolean;
  delete_after: number | null;
}

/** One recorded track; `start_ms`/`end_ms` are on the recording's clock (0 = recording start). */
export interface RecordedTrack {
  name: string;
  kind: 'audio' | 'video';
  participant_id: string;
  /** Null when the session record never named the participant. */
  participant_name: string | null;
  /** The participant's role in the room (`mediator`, `party`, …), when known. */
  role: string | null;
  space: 'joint' | 'private';
  start_ms: number;
  end_ms: number;
  size: number;
  url: string;
}

/** The whole session's audio, mixed into one file. */
export interface MixedAudio {
  name: string;
  start_ms: number;
  end_ms: number;
  size: number;
  url: string;
}

/** A span of the recording's clock: a pause, or a private room that was not recorded. */
export interface Span {
  from_ms: number;
  to_ms: number;
}

/** Someone in a private room while private rooms were not recorded. */
export interface PrivateGap extends Span {
  participant_id: string;
  participant_name: string | null;
}

/** A session-record entry placed on the recording's clock (may fall before 0 or after the end). */
export interface TimelineEntry {
  at_ms: number;
  kind: string;
  /** The entry's detail as the session record holds it (a chat's text, a move's rooms). */
  text: string | null;
  /** Who acted. */
  participant_name: string | null;
  /** Their role in the room (`mediator`, `party`, …), when known. */
  role?: string | null;
  /** Whom it was done to (admitted, moved, muted), when anyone. */
  subject_name?: string | null;
  /** The room it happened in (`joint`, `applicant`, `respondent`), when the server says. */
  space?: string | null;
}

/** A file that did not match the signed manifest, and how. */
export interface IntegrityProblem {
  file: string;
  problem: string;
}

export interface Verification {
  state: IntegrityState;
  checked_at: number | null;
  problems: IntegrityProblem[];
  /** The signing key's id, when the server names it (the manifest's `key_id`). */
  key_id?: string | null;
}

/** Everything the review page shows of one recording. */
export interface RecordingDetail extends RecordingSummary {
  case_id: string;
  private_rooms_recorded: boolean;
  ticket: string;
  ticket_expires_at: number;
  tracks: RecordedTrack[];
  mixed_audio: MixedAudio | null;
  pauses: Span[];
  gaps: PrivateGap[];
  timeline: TimelineEntry[];
  verification: Verification;
  downloads: { archive_url: string; manifest_url: string };
  /** The manifest's signing key id, if the server adds it here rather than to `verification`. */
  key_id?: string | null;
}

/** Where one recording's review page lives in the staff app. */
export function recordingPath(recordingId: string): string {
  return `/staff/recordings/${encodeURIComponent(recordingId)}`;
}

const recordingBase = (id: string) => `/api/v1/recordings/${encodeURIComponent(id)}`;

/** A case's recordings, newest as the server orders them. */
export async function listRecordings(client: StaffClient, caseId: string): Promise<RecordingSummary[]> {
  const body = await client.call<{ recordings: RecordingSummary[] }>('GET', `/api/v1/cases/${encodeURIComponent(caseId)}/recordings`);
  return body.recordings;
}

/** One recording with fresh media tickets (each call is a `recording.viewed` audit entry). */
export function getRecording(client: StaffClient, recordingId: string): Promise<RecordingDetail> {
  return client.call<RecordingDetail>('GET', recordingBase(recordingId));
}

/** Checks the files against the signed manifest now. */
export function verifyRecording(client: StaffClient, recordingId: string): Promise<Verification> {
  return client.call<Verification>('POST', `${recordingBase(recordingId)}/verify`, {});
}

/** Keeps the recording past its retention date (or lets it go again). */
export function holdRecording(client: StaffClient, recordingId: string, hold: boolean, reason: string): Promise<RecordingSummary> {
  return client.call<RecordingSummary>('POST', `${recordingBase(recordingId)}/hold`, { hold, reason });
}

/** How long before a ticket runs out the page fetches new URLs. */
export const TICKET_MARGIN_MS = 60_000;

/**
 * Milliseconds to wait before fetching new media URLs. A ticket given in Unix seconds (any
 * value before 2001 in milliseconds is one) is read as seconds. Never sooner than a second, so
 * a server whose tickets are already stale is not asked in a tight loop.
 */
export function ticketRefreshDelay(expiresAt: number, nowMs: number): number {
  const expiresMs = expiresAt < 1e12 ? expiresAt * 1000 : expiresAt;
  const remaining = expiresMs - nowMs;
  // A short-lived ticket is renewed halfway through rather than a minute before it ends.
  const wait = remaining > 2 * TICKET_MARGIN_MS ? remaining - TICKET_MARGIN_MS : remaining / 2;
  return Math.max(1000, Math.floor(wait));
}
