// The pieces the party's flow and the staff section both show: the window, the court, the
// applicants, the status timeline, the decision and the next steps. Each returns a fresh
// element from the view; the callers arrange them.

import { type MessageKey, t } from '../i18n';
import { h } from '../screens/dom';
import type { ConfirmationView, NextStep } from './types';
import { applicantText, courtBasisText, courtName, formatTime, timeline, windowText, windowTone, windowWarning } from './window-text';

export function windowBlock(view: ConfirmationView): HTMLElement | null {
  const window = view.window;
  // Once the request went to the court the 30 days no longer matter; a window that closed
  // before submission still says why nothing can be sent.
  const submitted = view.status !== null && view.status !== 'applying';
  if (!window || submitted) return null;
  const tone = windowTone(window);
  const warning = windowWarning(window);
  return h('div', { class: `cf-window cf-${tone}`, 'data-testid': 'confirm-window', 'data-tone': tone, role: tone === 'ok' ? undefined : 'status' }, [
    h('strong', { text: windowText(window) }),
    warning ? h('p', { class: 'cf-window-warning', text: warning }) : null,
  ]);
}

export function courtBlock(view: ConfirmationView, extra: (Node | null)[] = []): HTMLElement {
  const name = courtName(view.court);
  return h('div', { class: 'cf-court', 'data-testid': 'confirm-court' }, [
    h('p', {}, [
      h('span', { class: 'cf-label', text: t('confirm.court.label') }),
      h('strong', { 'data-testid': 'confirm-court-name', text: name ?? t('confirm.court.none') }),
    ]),
    h('p', { class: 'cf-muted', text: courtBasisText(view.court) }),
    view.court.venue_note ? h('p', { class: 'cf-muted cf-small', text: view.court.venue_note }) : null,
    ...extra,
  ]);
}

export function applicantList(view: ConfirmationView): HTMLElement {
  return h(
    'ul',
    { class: 'cf-applicants', 'data-testid': 'confirm-applicants' },
    view.applicants.map((applicant) =>
      h('li', { class: applicant.applied ? 'cf-applied' : 'cf-waiting', 'data-party': applicant.party_id, 'data-applied': String(applicant.applied) }, [
        h('span', { class: 'cf-dot', 'aria-hidden': 'true' }),
        h('span', { text: applicantText(applicant) }),
      ]),
    ),
  );
}

/** The status: a line while applying, then the timeline with dates. */
export function statusBlock(view: ConfirmationView): HTMLElement | null {
  const status = view.status;
  if (!status) return null;
  const court = courtName(view.court) ?? '';
  if (status === 'applying') {
    return h('div', { class: 'cf-status', 'data-testid': 'confirm-status', 'data-status': status }, [
      h('p', { class: 'cf-headline', text: view.me.applied ? t('confirm.status.waitingOthers') : t('confirm.status.applyingLine') }),
    ]);
  }
  const headline = status === 'confirmed' ? t('confirm.status.confirmedLine', { court }) : status === 'rejected' ? t('confirm.status.rejectedLine', { court }) : t('confirm.status.submittedTo', { court });
  return h('div', { class: 'cf-status', 'data-testid': 'confirm-status', 'data-status': status }, [
    h('p', { class: `cf-headline cf-${status}`, text: headline }),
    h(
      'ol',
      { class: 'cf-timeline' },
      timeline(view).map((step) =>
        h('li', { class: step.done ? `cf-done cf-step-${step.key}` : 'cf-todo', 'data-step': step.key }, [
          h('span', { class: 'cf-step-label', text: step.label }),
          step.at ? h('span', { class: 'cf-step-at', text: formatTime(step.at) }) : null,
        ]),
      ),
    ),
  ]);
}

/** The court's decision: the ruling's number and date, or the reasons for rejecting. */
export function decisionBlock(view: ConfirmationView): HTMLElement | null {
  const decision = view.decision;
  if (!decision || (view.status !== 'confirmed' && view.status !== 'rejected')) return null;
  return h('div', { class: 'cf-decision', 'data-testid': 'confirm-decision' }, [
    decision.ruling_number ? h('p', { text: t('confirm.decision.ruling', { number: decision.ruling_number, date: decision.ruling_date ?? '' }) }) : null,
    decision.reject_reasons ? h('p', { text: t('confirm.decision.reasons', { reasons: decision.reject_reasons }) }) : null,
  ]);
}

/**
 * After a rejection (or a window that closed before both applied): what the parties can do,
 * each explained in a sentence (人民调解法 第三十三条).
 */
export function nextStepsBlock(steps: readonly NextStep[]): HTMLElement | null {
  if (steps.length === 0) return null;
  return h('div', { class: 'cf-next', 'data-testid': 'confirm-next-steps' }, [
    h('h4', { text: t('confirm.next.title') }),
    h(
      'ul',
      {},
      steps.map((step) =>
        h('li', { 'data-step': step }, [h('strong', { text: t(`confirm.next.${step}` as MessageKey) }), h('span', { text: t(`confirm.next.${step}.why` as MessageKey) })]),
      ),
    ),
  ]);
}

/** The blocked reasons: not in force yet, or an agreement on personal status. */
export function blockedBlock(view: ConfirmationView): HTMLElement | null {
  if (!view.blocked) return null;
  return h('p', { class: 'cf-blocked', 'data-testid': 'confirm-blocked', text: t(`confirm.blocked.${view.blocked}` as MessageKey) });
}

/** A button that fetches a file and hands it to the browser; failures land in `fail`. */
export function fileButton(label: string, testId: string, fetch: () => Promise<void>, fail: (error: unknown) => void): HTMLButtonElement {
  const button = h('button', { type: 'button', class: 'secondary cf-file', 'data-testid': testId, text: label });
  button.addEventListener('click', () => {
    button.disabled = true;
    fetch()
      .catch(fail)
      .finally(() => {
        button.disabled = false;
      });
  });
  return button;
}
