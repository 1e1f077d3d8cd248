// The court's review page for one recording (/staff/recordings/<id>): the integrity result on
// top, the player with the session's timeline beside it (below it on a narrow screen), the
// recording's facts and its downloads. Court users to whom the case was sent and the case's
// mediators see it; the server answers 404 to everyone else, and audits every view.

import './review.css';
import { t } from '../i18n';
import { h } from '../screens/dom';
import { ApiError, formatChinaTime } from '../staff/api';
import type { PageContext } from '../staff/app';
import { type MomentsState, loadMoments, momentsSection } from './agreement-moments';
import { type RecordingDetail, getRecording, holdRecording, ticketRefreshDelay, verifyRecording } from './api';
import { PlayerView, type ReviewSnapshot, durationOf, trackOwner } from './player-view';
import { type ClickedRow, formatClock, markedRow, timelineRows } from './timeline';
import { statusWords, verificationWords } from './verification';

type State =
  | { phase: 'loading' }
  | { phase: 'failed'; status: number }
  | { phase: 'ready'; detail: RecordingDetail; verifying: boolean };

/** Exposes the player to browser tests as `window.ACCORD.review` (see src/test-hook.ts). */
function exposeForTests(snapshot: () => ReviewSnapshot | null): void {
  const w = window as unknown as { ACCORD?: object };
  w.ACCORD ??= {};
  Object.defineProperty(w.ACCORD, 'review', { configurable: true, enumerable: true, get: snapshot });
}

/** Bytes in the unit a person reads: KB below a megabyte, else MB. */
export function sizeWords(bytes: number): string {
  return bytes < 1024 * 1024 ? `${Math.ceil(bytes / 1024)} KB` : `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

export function mountRecordingReview(main: HTMLElement, context: PageContext, recordingId: string): () => void {
  const { client } = context;
  let state: State = { phase: 'loading' };
  let player: PlayerView | null = null;
  let refreshTimer: ReturnType<typeof setTimeout> | null = null;
  /** The timeline as last drawn, so following playback does not rebuild it every tick. */
  let shownRows: ReturnType<typeof timelineRows> = [];
  /** The timeline row last clicked, marked while playback is at its moment. */
  let clickedRow: ClickedRow | null = null;
  /** The case agreement's clause moments, fetched once the recording (and so its case) is known. */
  let moments: MomentsState = { phase: 'loading' };
  let momentsFor: string | null = null;
  exposeForTests(() => player?.snapshot() ?? null);

  const stillShown = () => main.isConnected && main.querySelector('[data-testid=recording-review]') !== null;

  /** Fetches new ticketed URLs shortly before the current ones run out, keeping the place. */
  const scheduleRefresh = (detail: RecordingDetail) => {
    if (refreshTimer) clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => {
      if (!stillShown()) {
        player?.dispose();
        return;
      }
      getRecording(client, recordingId)
        .then((fresh) => {
          if (state.phase !== 'ready') return;
          state = { ...state, detail: fresh };
          player?.swapSources(fresh);
          draw();
          scheduleRefresh(fresh);
        })
        .catch((error: unknown) => {
          context.fail(error);
          // The old URLs may still serve for a while; try again on the same schedule.
          scheduleRefresh(detail);
        });
    }, ticketRefreshDelay(detail.ticket_expires_at, Date.now()));
  };

  const load = async () => {
    state = { phase: 'loading' };
    draw();
    try {
      const detail = await getRecording(client, recordingId);
      player?.dispose();
      player = new PlayerView(detail);
      player.onTick(followPlayback);
      state = { phase: 'ready', detail, verifying: false };
      context.clearNotice();
      scheduleRefresh(detail);
      if (momentsFor !== detail.case_id) {
        momentsFor = detail.case_id;
        void fetchMoments(detail.case_id);
      }
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        context.fail(error);
        return;
      }
      state = { phase: 'failed', status: error instanceof ApiError ? error.status : 0 };
    }
    draw();
  };

  const fetchMoments = async (caseId: string) => {
    moments = { phase: 'loading' };
    try {
      const found = await loadMoments(client, caseId);
      moments = found ? { phase: 'ready', moments: found } : { phase: 'none' };
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) context.fail(error);
      moments = { phase: 'failed' };
    }
    if (state.phase === 'ready') draw();
  };

  const verifyAgain = () => {
    if (state.phase !== 'ready' || state.verifying) return;
    state = { ...state, verifying: true };
    draw();
    verifyRecording(client, recordingId)
      .then((verification) => {
        if (state.phase === 'ready') state = { ...state, detail: { ...state.detail, verification }, verifying: false };
        context.clearNotice();
        draw();
      })
      .catch((error: unknown) => {
        if (state.phase === 'ready') state = { ...state, verifying: false };
        draw();
        context.fail(error);
      });
  };

  /** Keeps the recording past its retention date, or lets it go; the server says who may. */
  const setHold = (hold: boolean, reason: string) => {
    holdRecording(client, recordingId, hold, reason)
      .then((summary) => {
        if (state.phase === 'ready') state = { ...state, detail: { ...state.detail, ...summary } };
        context.clearNotice();
        draw();
      })
      .catch(context.fail);
  };

  /** Marks the timeline row playback is in, without redrawing the list. */
  const followPlayback = () => {
    if (!player) return;
    const list = main.querySelector('[data-testid=review-timeline]');
    if (!list) return;
    const marked = markedRow(shownRows, player.time(), clickedRow);
    clickedRow = marked.clicked;
    const index = marked.index;
    list.querySelectorAll('.review-row').forEach((row, i) => row.classList.toggle('review-row-now', i === index));
  };

  const back = (caseId: string | null) => {
    const path = caseId ? `/staff/cases/${encodeURIComponent(caseId)}` : '/staff/cases';
    return h('a', {
      href: path,
      class: 'back-link',
      'data-testid': 'review-back',
      text: t(caseId ? 'review.back' : 'staff.cases.title'),
      onclick: (event: Event) => {
        event.preventDefault();
        context.go(path);
      },
    });
  };

  const draw = () => {
    if (state.phase === 'loading') {
      main.replaceChildren(h('div', { class: 'staff-page' }, [back(null), h('p', { 'data-testid': 'review-loading', text: t('staff.loading') })]));
      return;
    }
    if (state.phase === 'failed') {
      const headline = state.status === 404 ? 'review.error.notFound' : state.status === 0 ? 'error.network' : 'review.error.other';
      main.replaceChildren(
        h('div', { class: 'staff-page' }, [
          back(null),
          h('div', { class: 'record-error', role: 'alert', 'data-testid': 'review-error', 'data-status': String(state.status) }, [
            h('p', { text: t(headline) }),
            h('button', { type: 'button', class: 'secondary', 'data-testid': 'review-retry', text: t('review.retry'), onclick: () => void load() }),
          ]),
        ]),
      );
      return;
    }
    const { detail } = state;
    main.replaceChildren(
      h('div', { class: 'staff-page review-page', 'data-testid': 'recording-review', 'data-status': detail.status }, [
        back(detail.case_id),
        h('h1', { text: `${t('review.title')} · ${formatChinaTime(detail.started_at)}` }),
        integrityBanner(detail, state.verifying),
        h('div', { class: 'review-layout' }, [player ? player.element() : null, timelineList(detail)]),
        momentsSection(moments, detail.started_at, detail.duration_ms, (seconds) => player?.seek(seconds)),
        facts(detail),
        downloads(detail),
      ]),
    );
    followPlayback();
  };

  const integrityBanner = (detail: RecordingDetail, verifying: boolean) => {
    const words = verificationWords(detail.verification, detail.verification.key_id ?? detail.key_id ?? null);
    return h(
      'section',
      {
        class: `review-integrity review-integrity-${words.tone}`,
        role: words.tone === 'failed' ? 'alert' : 'status',
        'data-testid': 'review-integrity',
        'data-state': detail.verification.state,
      },
      [
        h('p', { class: 'review-integrity-headline', 'data-testid': 'review-integrity-headline', text: words.headline }),
        words.lines.length
          ? h('ul', { class: 'review-integrity-lines' }, words.lines.map((line) => h('li', { 'data-testid': 'review-integrity-line', text: line })))
          : null,
        h('button', {
          type: 'button',
          class: 'secondary',
          'data-testid': 'review-verify',
          disabled: verifying,
          text: t(verifying ? 'review.integrity.verifying' : 'review.integrity.verifyAgain'),
          onclick: verifyAgain,
        }),
      ],
    );
  };

  const timelineList = (detail: RecordingDetail) => {
    shownRows = timelineRows(detail);
    const items = shownRows.map((row, index) =>
      h('li', {}, [
        h(
          'button',
          {
            type: 'button',
            class: `review-row review-row-${row.kind}`,
            'data-testid': 'timeline-entry',
            'data-kind': row.code,
            'data-at-ms': row.atMs,
            onclick: () => {
              clickedRow = { index, atS: row.seekS };
              player?.seek(row.seekS);
              followPlayback();
            },
          },
          [
            h('span', { class: 'review-row-time', text: row.clock }),
            h('span', { class: 'review-row-who', text: row.who }),
            h('span', { class: 'review-row-what', text: row.what }),
            row.outside ? h('span', { class: 'review-row-outside', text: t(`review.timeline.${row.outside}`) }) : null,
          ],
        ),
      ]),
    );
    return h('aside', { class: 'review-timeline' }, [
      h('h2', { text: t('review.timeline.title') }),
      items.length
        ? h('ol', { class: 'review-rows', 'data-testid': 'review-timeline' }, items)
        : h('p', { class: 'muted', text: t('review.timeline.empty') }),
    ]);
  };

  const facts = (detail: RecordingDetail) => {
    const fact = (term: string, value: string, testId?: string) => [h('dt', { text: term }), h('dd', { text: value, 'data-testid': testId })];
    const retention = detail.hold
      ? t('review.fact.held')
      : detail.delete_after !== null
        ? t('review.fact.deleteAfter', { when: formatChinaTime(detail.delete_after) })
        : t('review.fact.keptIndefinitely');
    return h('dl', { class: 'facts review-facts' }, [
      ...fact(t('staff.case.status'), statusWords(detail.status), 'review-status'),
      ...fact(t('review.fact.started'), formatChinaTime(detail.started_at)),
      ...fact(t('review.fact.ended'), detail.ended_at !== null ? formatChinaTime(detail.ended_at) : '—'),
      ...fact(t('review.fact.duration'), formatClock(durationOf(detail))),
      ...fact(
        t('review.fact.privateRooms'),
        t(detail.private_rooms_recorded ? 'review.fact.privateRecorded' : 'review.fact.privateNotRecorded'),
        'review-private-rooms',
      ),
      ...fact(t('review.fact.retention'), retention, 'review-retention'),
      h('dt', { text: t('review.hold.title') }),
      h('dd', {}, [holdForm(detail)]),
    ]);
  };

  const holdForm = (detail: RecordingDetail) =>
    h(
      'form',
      {
        class: 'inline-form',
        'data-testid': 'review-hold',
        onsubmit: (event: Event) => {
          event.preventDefault();
          const reason = (event.target as HTMLFormElement).querySelector('input')?.value.trim() ?? '';
          setHold(!detail.hold, reason);
        },
      },
      [
        h('input', { name: 'reason', required: true, placeholder: t('review.hold.reason'), 'aria-label': t('review.hold.reason') }),
        h('button', {
          type: 'submit',
          class: 'secondary',
          'data-testid': 'review-hold-submit',
          text: t(detail.hold ? 'review.hold.release' : 'review.hold.keep'),
        }),
      ],
    );

  const downloads = (detail: RecordingDetail) => {
    const link = (url: string, label: string, testId: string, size?: number) =>
      h('li', {}, [
        h('a', { href: url, download: '', 'data-testid': testId, text: label }),
        size !== undefined ? h('span', { class: 'muted', text: ` · ${sizeWords(size)}` }) : null,
      ]);
    return h('section', { class: 'case-section review-downloads' }, [
      h('h2', { text: t('review.downloads.title') }),
      h('ul', { class: 'plain-list' }, [
        link(detail.downloads.archive_url, t('review.downloads.archive'), 'download-archive'),
        link(detail.downloads.manifest_url, t('review.downloads.manifest'), 'download-manifest'),
        detail.mixed_audio
          ? link(detail.mixed_audio.url, `${t('review.downloads.mixed')} (${detail.mixed_audio.name})`, 'download-file', detail.mixed_audio.size)
          : null,
        ...detail.tracks.map((track) => link(track.url, `${trackOwner(track)} · ${track.name}`, 'download-file', track.size)),
      ]),
      h('p', { class: 'muted', text: t('review.downloads.note') }),
    ]);
  };

  draw();
  void load();
  return draw;
}
