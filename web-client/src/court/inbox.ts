// The court's inbox (/staff/court): the confirmation requests sent to this court, with the
// clock that runs on each, so a clerk sees first what is due. Tabs: 待处理 (the court has
// something to do), 已办结 (decided), 全部. The tab is in the address (?state=) so the back
// button and a reload keep it.

import './court.css';
import { type MessageKey, hasMessage, t } from '../i18n';
import { h } from '../screens/dom';
import { formatChinaTime } from '../staff/api';
import type { PageContext } from '../staff/app';
import { listRequests } from './api';
import { clockText, runningClock } from './clocks-text';
import type { InboxItem, InboxState } from './types';

const TABS: InboxState[] = ['open', 'decided', 'all'];

/** The tab a query names, open when it names none. */
export function inboxState(params: URLSearchParams): InboxState {
  const state = params.get('state');
  return state === 'decided' || state === 'all' ? state : 'open';
}

/** Words for a code the server sends, or the code itself when the app does not know it. */
export function known(key: string, fallback: string): string {
  return hasMessage(key) ? t(key as MessageKey) : fallback;
}

type State = { phase: 'loading' } | { phase: 'ready'; items: InboxItem[] } | { phase: 'failed' };

export function mountCourtInbox(main: HTMLElement, context: PageContext, params: URLSearchParams): () => void {
  const tab = inboxState(params);
  let state: State = { phase: 'loading' };
  const draw = () => main.replaceChildren(page(context, tab, state));
  draw();
  listRequests(context.client, tab)
    .then((items) => {
      state = { phase: 'ready', items };
      context.clearNotice();
    })
    .catch((error: unknown) => {
      state = { phase: 'failed' };
      context.fail(error);
    })
    .finally(draw);
  return draw;
}

function page(context: PageContext, tab: InboxState, state: State): HTMLElement {
  return h('div', { class: 'staff-page court-page', 'data-testid': 'court-inbox' }, [
    h('div', { class: 'page-title' }, [h('h1', { text: t('court.inbox.title') })]),
    h(
      'nav',
      { class: 'court-tabs' },
      TABS.map((name) =>
        h('a', {
          href: `/staff/court?state=${name}`,
          'data-testid': `inbox-tab-${name}`,
          'aria-current': name === tab ? 'page' : undefined,
          text: t(`court.inbox.tab.${name}`),
          onclick: (event: Event) => {
            event.preventDefault();
            context.go(`/staff/court?state=${name}`);
          },
        }),
      ),
    ),
    body(context, state),
  ]);
}

function body(context: PageContext, state: State): HTMLElement {
  if (state.phase === 'loading') return h('p', { role: 'status', text: t('court.inbox.loading') });
  if (state.phase === 'failed') return h('p', {});
  if (state.items.length === 0) return h('p', { 'data-testid': 'inbox-empty', text: t('court.inbox.empty') });
  const headings: MessageKey[] = [
    'court.inbox.caseNumber',
    'court.inbox.caseTitle',
    'court.inbox.category',
    'court.inbox.organisation',
    'court.inbox.status',
    'court.inbox.submitted',
    'court.inbox.received',
    'court.inbox.clock',
    'court.inbox.courtCaseNumber',
  ];
  return h('table', { class: 'case-table court-inbox' }, [
    h('thead', {}, [h('tr', {}, headings.map((key) => h('th', { text: t(key) })))]),
    h('tbody', {}, state.items.map((item) => row(context, item, Date.now()))),
  ]);
}

/** One request's row; the whole row opens it (the case number is its link for keyboards). */
export function row(context: Pick<PageContext, 'go'>, item: InboxItem, nowMs: number): HTMLElement {
  const path = `/staff/court/requests/${encodeURIComponent(item.id)}`;
  const open = (event: Event) => {
    event.preventDefault();
    // The link sits inside the row: one click, one navigation.
    event.stopPropagation();
    context.go(path);
  };
  const clock = runningClock(item, nowMs);
  return h('tr', { class: 'court-row', 'data-testid': 'inbox-row', 'data-id': item.id, 'data-status': item.status, onclick: open }, [
    h('td', {}, [h('a', { href: path, text: item.case_number, onclick: open })]),
    h('td', { text: item.case_title }),
    h('td', { text: known(`category.${item.category}`, item.category) }),
    h('td', { text: item.organisation }),
    h('td', { text: known(`court.status.${item.status}`, item.status) }),
    h('td', { text: item.submitted_at === null ? '' : formatChinaTime(item.submitted_at) }),
    h('td', { text: item.received_at === null ? '' : formatChinaTime(item.received_at) }),
    h('td', {
      class: clock?.overdue ? 'court-overdue' : undefined,
      'data-testid': 'court-clock',
      'data-overdue': clock?.overdue ? 'true' : 'false',
      text: clockText(clock),
    }),
    h('td', { text: item.court_case_number ?? '' }),
  ]);
}
