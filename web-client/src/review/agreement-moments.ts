// "协议条款" beside the court's review player: each clause of the case's agreement with the
// moment it was last edited, and a jump to that moment of the recording. Wall-clock times map
// onto the recording's clock the way the server maps the session record onto the timeline:
// the time minus the recording's start (pauses do not stop that clock).

import { t } from '../i18n';
import { h } from '../screens/dom';
import { ApiError, type StaffClient, formatChinaTime } from '../staff/api';
import { formatClock, seekTargetOf } from './timeline';

/** `GET /agreements/{id}/moments`: one per clause, in the agreement's order. */
export interface ClauseMoment {
  clause_id: string;
  /** As shown: 第一条 / Article 1, or empty for a facts clause. */
  label: string;
  last_edit_at: number;
  session_id: string | null;
  by_name: string;
}

export interface MomentRow {
  clauseId: string;
  label: string;
  byName: string;
  /** When it was last edited, as a person reads the time. */
  when: string;
  /** On the recording's clock; negative or past the end when outside it. */
  offsetMs: number;
  /** Only moments inside the recording can be jumped to. */
  inside: boolean;
  /** Where a click seeks, in seconds. */
  seekS: number;
  clock: string;
}

/** Every moment placed on a recording that started at `startedAt` and lasted `durationMs`. */
export function momentRows(moments: readonly ClauseMoment[], startedAt: number, durationMs: number | null): MomentRow[] {
  const length = durationMs ?? 0;
  return moments.map((m) => {
    const offsetMs = m.last_edit_at - startedAt;
    const inside = offsetMs >= 0 && offsetMs <= length;
    return {
      clauseId: m.clause_id,
      // An unnumbered facts clause has an empty label.
      label: m.label === '' ? t('signing.review.facts') : (m.label ?? m.clause_id),
      byName: m.by_name,
      when: formatChinaTime(m.last_edit_at),
      offsetMs,
      inside,
      seekS: seekTargetOf(offsetMs, length),
      clock: formatClock(offsetMs / 1000),
    };
  });
}

/** The case's agreement's moments; null when the case has no agreement. */
export async function loadMoments(client: StaffClient, caseId: string): Promise<ClauseMoment[] | null> {
  let agreement: { id: string };
  try {
    agreement = await client.call<{ id: string }>('GET', `/api/v1/cases/${encodeURIComponent(caseId)}/agreement`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
  const body = await client.call<ClauseMoment[] | { moments: ClauseMoment[] }>('GET', `/api/v1/agreements/${encodeURIComponent(agreement.id)}/moments`);
  return Array.isArray(body) ? body : body.moments;
}

export type MomentsState = { phase: 'loading' } | { phase: 'none' } | { phase: 'failed' } | { phase: 'ready'; moments: ClauseMoment[] };

/** The list; `seek` moves the player (seconds on the recording's clock). */
export function momentsSection(state: MomentsState, startedAt: number, durationMs: number | null, seek: (s: number) => void): HTMLElement {
  const title = h('h2', { text: t('signing.review.title') });
  if (state.phase !== 'ready') {
    const key = state.phase === 'loading' ? 'signing.review.loading' : state.phase === 'none' ? 'signing.review.none' : 'signing.review.failed';
    return h('section', { class: 'case-section review-moments', 'data-testid': 'review-moments', 'data-phase': state.phase }, [title, h('p', { class: 'muted', text: t(key) })]);
  }
  const rows = momentRows(state.moments, startedAt, durationMs);
  const items = rows.map((row) =>
    h('li', {}, [
      h(
        'button',
        {
          type: 'button',
          class: 'review-row review-moment',
          'data-testid': 'review-moment',
          'data-clause': row.clauseId,
          'data-offset-ms': row.offsetMs,
          disabled: !row.inside,
          title: row.inside ? undefined : t('signing.review.outside'),
          onclick: () => seek(row.seekS),
        },
        [
          h('span', { class: 'review-row-time', text: row.inside ? row.clock : '—' }),
          h('span', { class: 'review-row-who', text: row.label }),
          h('span', { class: 'review-row-what', text: t('signing.review.edited', { when: row.when, name: row.byName }) }),
          row.inside ? null : h('span', { class: 'review-row-outside', text: t('signing.review.outside') }),
        ],
      ),
    ]),
  );
  return h('section', { class: 'case-section review-moments', 'data-testid': 'review-moments', 'data-phase': 'ready' }, [
    title,
    items.length ? h('ol', { class: 'review-rows' }, items) : h('p', { class: 'muted', text: t('signing.review.empty') }),
  ]);
}
