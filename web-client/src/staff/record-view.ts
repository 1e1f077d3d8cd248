// One session's record (笔录) as a page of its own, so it can be bookmarked, read after the
// session by a mediator or a court clerk, and printed to be signed: the case and session on
// top, then every entry in order with its time, who, where, and what happened in words.

import { type MessageKey, t } from '../i18n';
import { h } from '../screens/dom';
import { ApiError, type CaseDetail, type Session, type SessionEvent, formatChinaTime } from './api';
import type { PageContext } from './app';
import {
  type People,
  attendeesOf,
  chinaClock,
  chinaDate,
  eventParts,
  mediatorsOf,
  peopleOf,
  placeOf,
  whoOf,
} from './record';

/** Where a session's record lives in the staff app. */
export function recordPath(caseId: string, sessionId: string): string {
  return `/staff/cases/${encodeURIComponent(caseId)}/sessions/${encodeURIComponent(sessionId)}/record`;
}

type State =
  | { phase: 'loading' }
  | { phase: 'failed'; status: number; message: string }
  | { phase: 'ready'; detail: CaseDetail; session: Session; events: SessionEvent[] };

export function mountSessionRecord(main: HTMLElement, context: PageContext, caseId: string, sessionId: string): () => void {
  const { client } = context;
  const casePath = `/staff/cases/${encodeURIComponent(caseId)}`;
  let state: State = { phase: 'loading' };

  const load = async () => {
    state = { phase: 'loading' };
    draw();
    try {
      const [detail, timeline] = await Promise.all([
        client.call<CaseDetail>('GET', `/api/v1/cases/${encodeURIComponent(caseId)}`),
        client.call<{ items: SessionEvent[] }>('GET', `/api/v1/sessions/${encodeURIComponent(sessionId)}/timeline`),
      ]);
      const session = detail.sessions.find((s) => s.id === sessionId);
      // A session of another case is not this case's record, whatever the server holds.
      state = session
        ? { phase: 'ready', detail, session, events: [...timeline.items].sort((a, b) => a.seq - b.seq) }
        : { phase: 'failed', status: 404, message: '' };
      context.clearNotice();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        context.fail(error);
        return;
      }
      state = {
        phase: 'failed',
        status: error instanceof ApiError ? error.status : 0,
        message: error instanceof ApiError && error.code !== 'network' ? error.message : '',
      };
    }
    draw();
  };

  const openEvidence = (evidenceId: string) => {
    // The tab is opened at the click, before the file arrives, so no popup blocker stops it.
    const tab = window.open('', '_blank');
    client
      .blob(`/api/v1/cases/${encodeURIComponent(caseId)}/evidence/${encodeURIComponent(evidenceId)}`)
      .then((blob) => {
        const url = URL.createObjectURL(blob);
        if (tab) tab.location.href = url;
        else window.location.href = url;
      })
      .catch((error: unknown) => {
        tab?.close();
        context.fail(error);
      });
  };

  const back = () =>
    h('a', {
      href: casePath,
      class: 'back-link no-print',
      'data-testid': 'record-back',
      text: t('record.back'),
      onclick: (event: Event) => {
        event.preventDefault();
        context.go(casePath);
      },
    });

  const draw = () => {
    if (state.phase === 'loading') {
      main.replaceChildren(
        h('div', { class: 'staff-page' }, [back(), h('p', { 'data-testid': 'record-loading', text: t('staff.loading') })]),
      );
      return;
    }
    if (state.phase === 'failed') {
      const headline =
        state.status === 404
          ? 'record.error.notFound'
          : state.status === 403
            ? 'record.error.forbidden'
            : state.status === 0
              ? 'error.network'
              : 'record.error.other';
      main.replaceChildren(
        h('div', { class: 'staff-page' }, [
          back(),
          h('div', { class: 'record-error', role: 'alert', 'data-testid': 'record-error', 'data-status': String(state.status) }, [
            h('p', { text: t(headline) }),
            state.message ? h('p', { class: 'muted', text: t('record.error.server', { message: state.message }) }) : null,
            h('button', { type: 'button', class: 'secondary', 'data-testid': 'record-retry', text: t('record.retry'), onclick: () => void load() }),
          ]),
        ]),
      );
      return;
    }
    main.replaceChildren(recordPage(state.detail, state.session, state.events));
  };

  const recordPage = (detail: CaseDetail, session: Session, events: SessionEvent[]) => {
    const people = peopleOf(detail.parties);
    return h('div', { class: 'staff-page session-record', 'data-testid': 'session-record', 'data-status': session.status }, [
      back(),
      h('div', { class: 'record-head' }, [
        h('h1', { text: t('record.title') }),
        h('div', { class: 'actions no-print' }, [
          h('button', { type: 'button', class: 'secondary', 'data-testid': 'record-refresh', text: t('record.refresh'), onclick: () => void load() }),
          h('button', { type: 'button', class: 'primary', 'data-testid': 'record-print', text: t('record.print'), onclick: () => window.print() }),
        ]),
      ]),
      summary(detail, session, events, people),
      session.status === 'live' ? h('p', { class: 'muted no-print', 'data-testid': 'record-live', text: t('record.live') }) : null,
      events.length ? eventTable(events, people) : h('p', { class: 'record-empty', 'data-testid': 'record-empty', text: t('record.empty') }),
      signatures(),
    ]);
  };

  const summary = (detail: CaseDetail, session: Session, events: SessionEvent[], people: People) => {
    const first = events[0];
    const last = events[events.length - 1];
    const held =
      first && last
        ? t('record.heldSpan', { date: chinaDate(first.at), from: chinaClock(first.at), to: chinaClock(last.at) })
        : t('record.notHeld');
    const mediators = mediatorsOf(events);
    const mediator = mediators.length ? mediators.join('、') : detail.mediator?.display_name ?? t('staff.detail.unassigned');
    const present = attendeesOf(events, people);
    const fact = (term: string, value: string, testId?: string) => [
      h('dt', { text: term }),
      h('dd', { text: value, 'data-testid': testId }),
    ];
    return h('dl', { class: 'facts record-facts' }, [
      ...fact(t('record.case'), `${detail.case.number} ${detail.case.title}`, 'record-case'),
      ...fact(t('staff.detail.organisation'), detail.organisation.name),
      ...fact(t('record.scheduled'), formatChinaTime(session.scheduled_at)),
      ...fact(t('record.held'), held, 'record-held'),
      ...fact(t('staff.case.status'), t(`session.${session.status}` as MessageKey)),
      ...fact(t('staff.detail.mediator'), mediator, 'record-mediator'),
      ...(present.length ? fact(t('record.people'), present.join('、'), 'record-people') : []),
    ]);
  };

  const eventTable = (events: SessionEvent[], people: People) => {
    const rows: HTMLElement[] = [];
    let day = events[0] ? chinaDate(events[0].at) : '';
    for (const event of events) {
      // The date is said once in the summary, and again only where a session runs past midnight.
      const date = chinaDate(event.at);
      if (date !== day) {
        day = date;
        rows.push(h('tr', { class: 'record-date', 'data-testid': 'record-date' }, [h('td', { colspan: 4, text: date })]));
      }
      rows.push(
        h('tr', { 'data-testid': 'record-event', 'data-kind': event.kind, 'data-seq': event.seq, title: event.detail ?? '' }, [
          h('td', { class: 'record-time', text: chinaClock(event.at) }),
          h('td', { class: 'record-who', text: whoOf(event, people) }),
          h('td', { class: 'record-where', text: placeOf(event) }),
          h('td', { class: 'record-what', 'data-testid': 'record-sentence' }, sentence(event)),
        ]),
      );
    }
    return h('div', { class: 'record-events' }, [
      h('p', { class: 'muted', text: t('record.note', { count: String(events.length) }) }),
      h('table', { class: 'record-table' }, [
        h('thead', {}, [
          h('tr', {}, (['time', 'who', 'where', 'what'] as const).map((column) => h('th', { text: t(`record.col.${column}`) }))),
        ]),
        h('tbody', {}, rows),
      ]),
    ]);
  };

  const sentence = (event: SessionEvent): (string | HTMLElement)[] =>
    eventParts(event).map((part) =>
      typeof part === 'string'
        ? part
        : h('a', {
            href: '#',
            'data-testid': 'record-evidence',
            'data-evidence-id': part.evidenceId,
            text: part.name,
            onclick: (e: Event) => {
              e.preventDefault();
              openEvidence(part.evidenceId);
            },
          }),
    );

  /** A printed record is signed; the lines show only on paper. */
  const signatures = () =>
    h('div', { class: 'record-signatures print-only' }, [
      h('p', { text: t('record.sign.mediator') }),
      h('p', { text: t('record.sign.parties') }),
      h('p', { text: t('record.sign.date') }),
    ]);

  draw();
  void load();
  return draw;
}
