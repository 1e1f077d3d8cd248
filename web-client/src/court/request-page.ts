// One confirmation request as the court reviews it (/staff/court/requests/<CR id>): the case
// and its running clock, who applied, the agreement, the package, the recordings, and the
// decisions the request's status allows. Opening a submitted request marks it received on
// the server (route 9). After each decision the request is loaded again, so what is shown is
// always what the server holds.

import './court.css';
import { t } from '../i18n';
import { h } from '../screens/dom';
import { formatChinaTime } from '../staff/api';
import type { PageContext } from '../staff/app';
import { accept, confirm, extend, getRequest, reject, rulingUrl, uploadRuling } from './api';
import { clockText, runningClock } from './clocks-text';
import { type DecisionActions, decisionForms } from './decision-forms';
import { known } from './inbox';
import { openInTab, packageViewer } from './package-viewer';
import type { CourtRequest } from './types';

type State = { phase: 'loading' } | { phase: 'ready'; request: CourtRequest } | { phase: 'failed' };

export function mountCourtRequest(main: HTMLElement, context: PageContext, id: string): () => void {
  let state: State = { phase: 'loading' };
  const draw = () => main.replaceChildren(page(context, state, actions));
  const load = () =>
    getRequest(context.client, id)
      .then((request) => {
        state = { phase: 'ready', request };
        context.clearNotice();
      })
      .catch((error: unknown) => {
        if (state.phase !== 'ready') state = { phase: 'failed' };
        context.fail(error);
      })
      .finally(draw);
  const { client } = context;
  const actions: DecisionActions = {
    accept: (number) => accept(client, id, number),
    extend: (reason) => extend(client, id, reason),
    confirm: async (rulingNumber, rulingDate, file) => {
      const ruling = await uploadRuling(client, id, file);
      return confirm(client, id, { ruling_number: rulingNumber, ruling_date: rulingDate, ruling_sha256: ruling.sha256 });
    },
    reject: async (reasons, rulingNumber, file) => {
      const ruling = file ? await uploadRuling(client, id, file) : null;
      return reject(client, id, {
        reasons,
        ...(rulingNumber ? { ruling_number: rulingNumber } : {}),
        ...(ruling ? { ruling_sha256: ruling.sha256 } : {}),
      });
    },
    ask: (question) => window.confirm(question),
    done: () => void load(),
  };
  draw();
  void load();
  return draw;
}

function page(context: PageContext, state: State, actions: DecisionActions): HTMLElement {
  const back = h('a', {
    href: '/staff/court',
    'data-testid': 'court-back',
    text: t('court.request.back'),
    onclick: (event: Event) => {
      event.preventDefault();
      context.go('/staff/court');
    },
  });
  if (state.phase === 'loading') return h('div', { class: 'staff-page court-page' }, [back, h('p', { role: 'status', text: t('court.request.loading') })]);
  if (state.phase === 'failed') return h('div', { class: 'staff-page court-page' }, [back]);
  const request = state.request;
  return h('div', { class: 'staff-page court-page', 'data-testid': 'court-request', 'data-id': request.id, 'data-status': request.status }, [
    back,
    summary(request),
    request.decision?.has_ruling
      ? h('p', {}, [
          h('button', {
            type: 'button',
            class: 'secondary',
            'data-testid': 'court-ruling-open',
            text: t('court.decision.ruling'),
            onclick: () => void openInTab(context, rulingUrl(request.id)),
          }),
        ])
      : null,
    applicants(request),
    agreement(request),
    request.package ? packageViewer({ id: request.id, package: request.package }, context) : null,
    recordings(context, request),
    decisionForms(request, actions),
  ]);
}

/** The header: which case, where it stands, and the clock that runs on it. */
export function summary(request: CourtRequest, nowMs: number = Date.now()): HTMLElement {
  const clock = runningClock(request, nowMs);
  const line = (text: string, testid?: string) => h('p', { text, 'data-testid': testid });
  const decision = request.decision;
  return h('header', { class: 'court-summary' }, [
    h('h1', { text: t('court.request.title', { id: request.id }) }),
    line(t('court.request.case', { number: request.case_number, title: request.case_title })),
    line(t('court.request.organisation', { organisation: request.organisation })),
    request.court ? line(t('court.request.court', { court: request.court })) : null,
    line(t('court.request.status', { status: known(`court.status.${request.status}`, request.status) }), 'court-status'),
    clock
      ? h('p', { class: clock.overdue ? 'court-overdue' : undefined, 'data-testid': 'court-clock', 'data-overdue': clock.overdue ? 'true' : 'false', text: clockText(clock) })
      : null,
    request.submitted_at !== null ? line(t('court.request.submittedAt', { time: formatChinaTime(request.submitted_at) })) : null,
    request.received_at !== null ? line(t('court.request.receivedAt', { time: formatChinaTime(request.received_at) })) : null,
    request.accepted_at !== null ? line(t('court.request.acceptedAt', { time: formatChinaTime(request.accepted_at) })) : null,
    request.court_case_number ? line(t('court.request.courtCaseNumber', { number: request.court_case_number }), 'court-case-number-shown') : null,
    request.extension_reason ? line(t('court.request.extensionReason', { reason: request.extension_reason })) : null,
    decision && request.status === 'confirmed'
      ? line(t('court.decision.confirmed', { number: decision.ruling_number ?? '', date: decision.ruling_date ?? '' }), 'court-decision')
      : null,
    decision && request.status === 'rejected' ? line(t('court.decision.rejected', { reasons: decision.reject_reasons ?? '' }), 'court-decision') : null,
  ]);
}

function applicants(request: CourtRequest): HTMLElement {
  return h('section', { 'data-testid': 'court-applicants' }, [
    h('h2', { text: t('court.applicants.title') }),
    h(
      'ul',
      {},
      request.applicants.map((a) =>
        h('li', {
          text: t('court.applicants.line', {
            name: a.name,
            side: known(`court.side.${a.side}`, a.side),
            time: formatChinaTime(a.applied_at),
            by: a.applied_by_name && a.applied_by_name !== a.name ? t('court.applicants.by', { name: a.applied_by_name }) : '',
          }),
        }),
      ),
    ),
  ]);
}

function agreement(request: CourtRequest): HTMLElement {
  const a = request.agreement;
  return h('section', { 'data-testid': 'court-agreement' }, [
    h('h2', { text: t('court.agreement.title') }),
    h('p', { text: t('court.agreement.line', { version: String(a.version), time: a.effective_at === null ? '' : formatChinaTime(a.effective_at) }) }),
    h('p', { class: 'court-hash' }, [t('court.agreement.hash'), h('br'), h('code', { 'data-testid': 'court-text-sha256', text: a.text_sha256 })]),
  ]);
}

function recordings(context: PageContext, request: CourtRequest): HTMLElement {
  return h('section', { 'data-testid': 'court-recordings' }, [
    h('h2', { text: t('court.recordings.title') }),
    request.recordings.length === 0
      ? h('p', { text: t('court.recordings.none') })
      : h(
          'ul',
          {},
          request.recordings.map((r) => {
            const path = `/staff/recordings/${encodeURIComponent(r.id)}`;
            return h('li', {}, [
              t('court.recordings.line', { id: r.id, start: formatChinaTime(r.started_at) }),
              ' ',
              h('a', {
                href: path,
                'data-testid': 'court-recording-link',
                'data-id': r.id,
                text: t('court.recordings.open'),
                onclick: (event: Event) => {
                  event.preventDefault();
                  context.go(path);
                },
              }),
            ]);
          }),
        ),
  ]);
}
