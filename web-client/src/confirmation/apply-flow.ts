// The party's application for judicial confirmation, on their phone: how long they have, which
// court and why, what applying means, who has applied, an optional proof of identity, the
// address for service and the declarations, then the request's way through the court. The form's fields are made once and
// kept across refreshes (every 30 s, and on each `agreement_changed`), so typing an address is
// never interrupted. Staff see the same panel without the form.

import { errorCode } from '../agreement/api';
import { hasMessage, type MessageKey, t } from '../i18n';
import { h } from '../screens/dom';
import { type ConfirmationApi, openBlob, problemText } from './api';
import { applicantList, blockedBlock, courtBlock, decisionBlock, fileButton, nextStepsBlock, statusBlock, windowBlock } from './parts';
import { IdentityUploads } from './identity';
import { exposeForTests, noteError, noteView } from './test-hook';
import type { ConfirmationView } from './types';
import { ADDRESS_MAX, type ApplyProblems, applyProblems, applying } from './window-text';
import './confirmation.css';

export interface ApplyFlowOptions {
  api: ConfirmationApi;
  agreementId: string;
  /** A phone-sized layout: larger type and full-width buttons. */
  phone?: boolean;
  /**
   * Asks again every `pollMs` while shown: the other side's application and the court's steps
   * reach a live session only this way (no room frame announces them).
   */
  pollMs?: number;
}

/** Codes after which the view on screen is stale: fetch it again. */
const STALE_AFTER = new Set(['request_submitted', 'request_state', 'confirmation_window_closed', 'agreement_not_in_force', 'not_confirmable']);

export class ApplyFlow {
  readonly el: HTMLElement;
  view: ConfirmationView | null = null;
  private readonly top = h('div', { class: 'cf-top' });
  private readonly notice = h('p', { class: 'cf-problem', role: 'alert', hidden: true, 'data-testid': 'confirm-error' });
  private readonly bottom = h('div', { class: 'cf-bottom' });
  private readonly form: HTMLFormElement;
  private readonly partyChoice = h('fieldset', { class: 'cf-party-choice', 'data-testid': 'confirm-for' });
  private readonly address = h('textarea', { rows: 2, maxlength: ADDRESS_MAX, 'data-testid': 'confirm-address', autocomplete: 'street-address' });
  private readonly declare = h('input', { type: 'checkbox', 'data-testid': 'confirm-declare' });
  private readonly button = h('button', { type: 'submit', class: 'primary cf-apply', 'data-testid': 'confirm-apply' });
  private readonly fieldProblems = {
    party: h('p', { class: 'cf-field-problem', hidden: true }),
    address: h('p', { class: 'cf-field-problem', hidden: true, 'data-testid': 'confirm-address-problem' }),
    declare: h('p', { class: 'cf-field-problem', hidden: true, 'data-testid': 'confirm-declare-problem' }),
  };
  private readonly identity: IdentityUploads;
  private partyId: string | null = null;
  private refreshing: Promise<void> | null = null;
  private sending = false;
  private disposed = false;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly options: ApplyFlowOptions) {
    exposeForTests();
    this.el = h('section', { class: `cf-flow${options.phone ? ' cf-phone' : ''}`, 'data-testid': 'confirm-flow' });
    this.form = h('form', { class: 'cf-form', 'data-testid': 'confirm-form', novalidate: true, hidden: true }, [
      this.partyChoice,
      this.fieldProblems.party,
      h('label', { class: 'cf-field' }, [h('span', { class: 'cf-field-label', 'data-key': 'address' }), this.address]),
      this.fieldProblems.address,
      h('label', { class: 'cf-declare' }, [this.declare, h('span', { class: 'cf-declare-text' })]),
      this.fieldProblems.declare,
      this.button,
    ]);
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.apply();
    });
    this.identity = new IdentityUploads(options.api, options.agreementId, () => this.refresh());
    this.el.append(h('h3', { class: 'cf-title' }), this.top, this.notice, this.identity.el, this.form, this.bottom);
    this.render();
    if (options.pollMs) {
      this.timer = setInterval(() => {
        // The typed address survives a redraw (its field is kept); only a send in flight waits.
        if (this.el.isConnected && !this.sending) void this.refresh();
      }, options.pollMs);
    }
  }

  /** Fetches the view again; concurrent asks share one call. */
  refresh(): Promise<void> {
    this.refreshing ??= this.options.api
      .view(this.options.agreementId)
      .then((view) => {
        this.view = view;
        this.render();
      })
      .catch((error: unknown) => {
        // A refresh that fails keeps what is on screen and says why.
        noteError(errorCode(error));
        this.say(problemText(error));
      })
      .finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer) clearInterval(this.timer);
    this.el.remove();
  }

  /** Draws everything from the last view; the form's typed values stay. */
  render(): void {
    if (this.disposed) return;
    this.el.querySelector('.cf-title')!.textContent = t('confirm.title');
    this.form.querySelector('[data-key="address"]')!.textContent = t('confirm.form.address');
    this.address.placeholder = t('confirm.form.addressHint');
    this.form.querySelector('.cf-declare-text')!.textContent = t('confirm.form.declare');
    this.button.textContent = this.sending ? t('confirm.form.sending') : t('confirm.form.apply');
    const view = this.view;
    if (!view) {
      this.top.replaceChildren(h('p', { class: 'cf-muted', text: t('confirm.loading') }));
      this.form.hidden = true;
      this.identity.render(null, null);
      this.bottom.replaceChildren();
      return;
    }
    noteView(view);
    const open = applying(view);
    this.top.replaceChildren(
      ...[
        blockedBlock(view),
        windowBlock(view),
        view.blocked ? null : courtBlock(view),
        open ? h('p', { class: 'cf-explain', text: t('confirm.explain') }) : null,
        view.applicants.length > 0 ? applicantList(view) : null,
      ].filter((node): node is HTMLElement => node !== null),
    );
    const mayApply = open && view.me.kind === 'party' && view.me.may_apply;
    this.form.hidden = !mayApply;
    if (mayApply) this.drawPartyChoice(view);
    this.identity.render(view, this.partyId);
    this.bottom.replaceChildren(
      ...[statusBlock(view), decisionBlock(view), this.files(view), nextStepsBlock(view.next_steps), this.cannotApply(view)].filter(
        (node): node is HTMLElement => node !== null,
      ),
    );
  }

  /** A representative (or someone who may apply for several) picks whom this application is for. */
  private drawPartyChoice(view: ConfirmationView): void {
    const ids = view.me.for_party_ids;
    const waiting = ids.filter((id) => !view.applicants.find((a) => a.party_id === id)?.applied);
    if (!this.partyId || !waiting.includes(this.partyId)) this.partyId = waiting[0] ?? null;
    if (ids.length <= 1) {
      this.partyChoice.hidden = true;
      this.partyChoice.replaceChildren();
      return;
    }
    this.partyChoice.hidden = false;
    this.partyChoice.replaceChildren(
      h('legend', { text: t('confirm.form.forWhom') }),
      ...ids.map((id) => {
        const applicant = view.applicants.find((a) => a.party_id === id);
        const done = applicant?.applied ?? false;
        const radio = h('input', { type: 'radio', name: 'cf-party', value: id, checked: this.partyId === id, disabled: done, 'data-testid': 'confirm-for-party' });
        radio.addEventListener('change', () => {
          this.partyId = id;
          this.fieldProblems.party.hidden = true;
          // The proofs uploaded next are for the party chosen here.
          this.identity.render(view, id);
        });
        return h('label', { class: 'cf-radio' }, [radio, h('span', { text: `${applicant?.name ?? id}${done ? ` · ${t('confirm.form.alreadyApplied')}` : ''}` })]);
      }),
    );
  }

  /** The 申请书 and the ruling, once there are any. */
  private files(view: ConfirmationView): HTMLElement | null {
    const requestId = view.request_id;
    if (!requestId) return null;
    const fail = (error: unknown) => this.say(problemText(error));
    const buttons = [
      view.application_pdf
        ? fileButton(t('confirm.files.application'), 'confirm-application', async () => openBlob(await this.options.api.applicationPdf(requestId)), fail)
        : null,
      view.decision?.has_ruling ? fileButton(t('confirm.files.ruling'), 'confirm-ruling', async () => openBlob(await this.options.api.ruling(requestId)), fail) : null,
    ].filter((node): node is HTMLButtonElement => node !== null);
    return buttons.length ? h('div', { class: 'cf-files' }, buttons) : null;
  }

  /**
   * A party who may not apply is told why. The server gives a reason per applicant as seen by
   * this viewer ("applied", "not_an_applicant", a closed window…): only the reasons for the
   * parties this viewer could apply for say anything about them.
   */
  private cannotApply(view: ConfirmationView): HTMLElement | null {
    if (view.me.kind !== 'party' || view.me.may_apply || view.me.applied || !applying(view)) return null;
    const mine = view.applicants.filter((a) => view.me.for_party_ids.includes(a.party_id));
    if (mine.length > 0 && mine.every((a) => a.applied)) return null;
    const reason = mine.map((a) => a.cannot_apply_reason).find((r) => r && r !== 'applied') ?? (mine.length === 0 ? 'not_an_applicant' : null);
    const key = `confirm.error.${reason ?? ''}`;
    const text = reason && hasMessage(key) ? t(key as MessageKey) : t('confirm.form.cannotApply');
    return h('p', { class: 'cf-muted', 'data-testid': 'confirm-cannot-apply', text });
  }

  private async apply(): Promise<void> {
    const view = this.view;
    if (!view || this.sending) return;
    const problems = applyProblems({ address: this.address.value, declared: this.declare.checked, partyId: this.partyId }, view.me.for_party_ids);
    this.showProblems(problems);
    if (Object.keys(problems).length > 0) {
      noteError('invalid');
      return;
    }
    this.sending = true;
    this.button.disabled = true;
    this.say('');
    this.render();
    try {
      const body = { address: this.address.value.trim(), declarations: true as const, ...(this.partyId ? { party_id: this.partyId } : {}) };
      this.view = await this.options.api.apply(this.options.agreementId, body);
      noteError(null);
      this.declare.checked = false;
    } catch (error) {
      const code = errorCode(error);
      noteError(code);
      this.say(problemText(error));
      if (STALE_AFTER.has(code)) void this.refresh();
    } finally {
      this.sending = false;
      this.button.disabled = false;
      this.render();
    }
  }

  private showProblems(problems: ApplyProblems): void {
    for (const field of ['party', 'address', 'declare'] as const) {
      const key = problems[field];
      this.fieldProblems[field].hidden = !key;
      this.fieldProblems[field].textContent = key ? t(key) : '';
    }
  }

  private say(text: string): void {
    this.notice.hidden = !text;
    this.notice.textContent = text;
  }
}
