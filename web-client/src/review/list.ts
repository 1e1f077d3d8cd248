// The "recordings" section of a case's page: each recording of the case with when it ran, how
// long, its status and integrity, and a link to its review page.

import { t } from '../i18n';
import { h } from '../screens/dom';
import { formatChinaTime } from '../staff/api';
import { type RecordingSummary, recordingPath } from './api';
import { formatClock } from './timeline';
import { statusWords } from './verification';

/** The section; `null` recordings (the list could not be had) draws nothing. */
export function recordingsSection(recordings: readonly RecordingSummary[] | null, go: (path: string) => void): HTMLElement | null {
  if (recordings === null) return null;
  const rows = recordings.map((recording) => {
    const path = recordingPath(recording.id);
    const length = recording.duration_ms !== null ? ` · ${formatClock(recording.duration_ms / 1000)}` : '';
    return h(
      'li',
      { class: 'recording-row', 'data-testid': 'recording-row', 'data-recording-id': recording.id, 'data-status': recording.status },
      [
        h('strong', { text: formatChinaTime(recording.started_at) }),
        `${length} · ${statusWords(recording.status)} · `,
        h('span', {
          class: `recording-integrity recording-integrity-${recording.integrity}`,
          text: t(`review.integrity.short.${recording.integrity}`),
        }),
        recording.hold ? h('span', { class: 'muted', text: ` · ${t('review.list.held')}` }) : null,
        ' ',
        recording.status === 'deleted'
          ? null
          : h('a', {
              href: path,
              'data-testid': `recording-open-${recording.id}`,
              text: t('review.list.open'),
              onclick: (event: Event) => {
                event.preventDefault();
                go(path);
              },
            }),
      ],
    );
  });
  return h('section', { class: 'case-section', 'data-testid': 'case-recordings' }, [
    h('h2', { text: t('review.list.title') }),
    rows.length ? h('ul', { class: 'plain-list' }, rows) : h('p', { class: 'muted', text: t('review.list.empty') }),
  ]);
}
