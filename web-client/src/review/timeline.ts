// The session's timeline beside the player: record entries, pauses and unrecorded private-room
// time on the recording's clock, each a moment playback can jump to, and the same pauses and
// gaps as marks on the seek bar. Functions of the server's answer only, so they test without a DOM.

import { type Language, language, t } from '../i18n';
import type { SessionEvent } from '../staff/api';
import { eventSentence } from '../staff/record';
import { clampToRecording } from './sync';
import type { PrivateGap, RecordingDetail, Span, TimelineEntry } from './api';

/** Seconds as `m:ss`, or `h:mm:ss` from an hour on; negative times keep their sign. */
export function formatClock(seconds: number): string {
  const sign = seconds < 0 ? '−' : '';
  const whole = Math.floor(Math.abs(seconds));
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = String(whole % 60).padStart(2, '0');
  return h > 0 ? `${sign}${h}:${String(m).padStart(2, '0')}:${s}` : `${sign}${m}:${s}`;
}

/** Where playback goes for a moment of the recording's clock: kept within the recording. */
export function seekTargetOf(atMs: number, durationMs: number): number {
  return clampToRecording(atMs / 1000, durationMs / 1000);
}

/** What kind of row: a session-record entry, a recording pause, or an unrecorded private room. */
export type RowKind = 'entry' | 'pause' | 'gap';

/** One line of the timeline list. */
export interface TimelineRow {
  kind: RowKind;
  /** The session-record kind for entries (`joined`, `chat`, …), else the row kind. */
  code: string;
  atMs: number;
  /** Where a click on it seeks to, in seconds. */
  seekS: number;
  /** The time shown: the moment on the recording's clock. */
  clock: string;
  who: string;
  what: string;
  /** Entries from before the recording started or after it ended. */
  outside: 'before' | 'after' | null;
}

/** An entry as the staff desk's record reads it: the vocabulary's sentence for its kind. */
function entrySentence(entry: TimelineEntry, lang: Language): string {
  const event: SessionEvent = {
    id: '',
    seq: 0,
    session_id: '',
    case_id: '',
    at: 0,
    kind: entry.kind,
    // The server names people rather than giving their identities; the desk's sentences
    // only compare them (a move is the mover's own when nobody else is named), so names do.
    actor_identity: entry.participant_name,
    actor_name: entry.participant_name,
    actor_role: entry.role ?? null,
    subject_identity: entry.subject_name ?? entry.participant_name,
    subject_name: entry.subject_name ?? null,
    space: entry.space ?? null,
    detail: entry.text || null,
  };
  return eventSentence(event, lang);
}

function spanWords(span: Span): { from: string; to: string } {
  return { from: formatClock(span.from_ms / 1000), to: formatClock(span.to_ms / 1000) };
}

/** Every row in the order things happened; at the same moment, pauses and gaps come first. */
export function timelineRows(
  detail: Pick<RecordingDetail, 'timeline' | 'pauses' | 'gaps' | 'duration_ms'>,
  lang: Language = language(),
): TimelineRow[] {
  const durationMs = detail.duration_ms ?? 0;
  const row = (kind: RowKind, code: string, atMs: number, who: string, what: string): TimelineRow => ({
    kind,
    code,
    atMs,
    seekS: seekTargetOf(atMs, durationMs),
    clock: formatClock(atMs / 1000),
    who,
    what,
    outside: atMs < 0 ? 'before' : atMs > durationMs ? 'after' : null,
  });
  const pauses = detail.pauses.map((p) => row('pause', 'pause', p.from_ms, '', t('review.timeline.pause', spanWords(p), lang)));
  const gaps = detail.gaps.map((g: PrivateGap) =>
    row('gap', 'gap', g.from_ms, g.participant_name ?? '', t('review.timeline.gap', spanWords(g), lang)),
  );
  const entries = detail.timeline.map((e) => row('entry', e.kind, e.at_ms, e.participant_name ?? '', entrySentence(e, lang)));
  const order: Record<RowKind, number> = { pause: 0, gap: 1, entry: 2 };
  // A stable sort: entries at the same moment keep the server's order.
  return [...pauses, ...gaps, ...entries].sort((a, b) => a.atMs - b.atMs || order[a.kind] - order[b.kind]);
}

/**
 * How far ahead of playback a row still counts as reached. A media element sought to a moment
 * may report a few milliseconds before it (the audio frame it landed on), and a reviewer who
 * clicked a row expects that row, not the one before it, to be marked.
 */
const ROW_REACHED_S = 0.05;

/** The row playback is in: the last one at or before `masterS` (null before the first). */
export function currentRowIndex(rows: readonly TimelineRow[], masterS: number): number | null {
  let found: number | null = null;
  rows.forEach((row, index) => {
    if (row.atMs / 1000 <= masterS + ROW_REACHED_S) found = index;
  });
  return found;
}

/** A row the reviewer clicked, and the moment playback was sent to. */
export interface ClickedRow {
  index: number;
  atS: number;
}

/**
 * How near its moment playback must stay for a clicked row to stay marked. A media element
 * sought while the machine is busy can land a good fraction of a second before the moment
 * asked for (the frame or page it could reach), which would mark the row before the one clicked.
 */
const CLICKED_HELD_S = 1;

/**
 * The row to mark at `masterS`: the row the reviewer clicked while playback is still at its
 * moment and has not yet passed a later row (several rows often lie within a few
 * milliseconds of each other: a move, its unrecorded private room, the gap), else the row
 * playback is in. `clicked` comes back null once playback has left that moment.
 */
export function markedRow(
  rows: readonly TimelineRow[],
  masterS: number,
  clicked: ClickedRow | null,
): { index: number | null; clicked: ClickedRow | null } {
  const chosen = clicked ? rows[clicked.index] : undefined;
  if (clicked && chosen && Math.abs(masterS - clicked.atS) <= CLICKED_HELD_S) {
    const passed = rows.some((row, i) => i > clicked.index && row.atMs > chosen.atMs && row.atMs / 1000 <= masterS);
    if (!passed) return { index: clicked.index, clicked };
  }
  return { index: currentRowIndex(rows, masterS), clicked: null };
}

/** A stretch drawn on the seek bar, in percent of the recording's length. */
export interface BarMark {
  kind: 'pause' | 'gap';
  leftPct: number;
  widthPct: number;
  title: string;
}

/** Pauses and unrecorded private-room time as marks on the seek bar; nothing for a zero-length recording. */
export function barMarks(
  detail: Pick<RecordingDetail, 'pauses' | 'gaps' | 'duration_ms'>,
  lang: Language = language(),
): BarMark[] {
  const durationMs = detail.duration_ms ?? 0;
  if (durationMs <= 0) return [];
  const pct = (ms: number) => (Math.min(Math.max(ms, 0), durationMs) / durationMs) * 100;
  const mark = (kind: BarMark['kind'], span: Span, title: string): BarMark => {
    const leftPct = pct(span.from_ms);
    // Even a pause of a few milliseconds stays visible and clickable.
    return { kind, leftPct, widthPct: Math.max(0.5, pct(span.to_ms) - leftPct), title };
  };
  return [
    ...detail.pauses.map((p) => mark('pause', p, t('review.timeline.pause', spanWords(p), lang))),
    ...detail.gaps.map((g) => mark('gap', g, `${g.participant_name ?? ''}: ${t('review.timeline.gap', spanWords(g), lang)}`)),
  ];
}

/**
 * Why a participant's tile holds no picture of this moment (`masterS` on the recording's
 * clock): the recording was paused, or they were in a private room that was not recorded.
 * Null when they were recorded then. Their file just skips such time, so without this the
 * tile would show the last frame before it, frozen, as if they were still there.
 */
export function unrecordedAt(
  detail: Pick<RecordingDetail, 'pauses' | 'gaps'>,
  participantId: string,
  masterS: number,
  lang: Language = language(),
): string | null {
  // Whole milliseconds: a seek to a gap's start (its timeline row) must land inside it.
  const ms = Math.round(masterS * 1000);
  const within = (span: Span) => span.from_ms <= ms && ms < span.to_ms;
  const pause = detail.pauses.find(within);
  if (pause) return t('review.timeline.pause', spanWords(pause), lang);
  const gap = detail.gaps.find((g) => g.participant_id === participantId && within(g));
  return gap ? t('review.timeline.gap', spanWords(gap), lang) : null;
}
