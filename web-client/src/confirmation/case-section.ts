// Judicial confirmation on the staff case page: the window and its warnings, the court (the
// venue rule's proposal, and "更换法院" for the mediator before submission), "发送申请链接",
// the applicants with their proofs of identity (查看, 删除, and an upload per party before
// submission), the status with the court's clocks, the delivery to a court system, the
// package and the 申请书, the decision with the ruling, and the next steps after a rejection.
// Shown once the case's agreement is in force; made once per page like the agreement section.

import { AgreementApi, errorCode, staffCall } from '../agreement/api';
import { onLanguageChange, t } from '../i18n';
import { h } from '../screens/dom';
import type { PageContext } from '../staff/app';
import type { CaseDetail } from '../staff/api';
import { copyText } from '../staff/invites';
import { ConfirmationApi, openBlob, problemText, saveBlob } from './api';
import { applicantList, blockedBlock, courtBlock, decisionBlock, fileButton, nextStepsBlock, statusBlock, windowBlock } from './parts';
import { exposeForTests, noteError, noteView } from './test-hook';
import { IDENTITY_ACCEPT, IDENTITY_KINDS, identityProblem, kindText, proofsOf, refusedType, sizeText } from './identity';
import type { ConfirmationLink, ConfirmationView, IdentityProofKind } from './types';
import { applying, clockLines, courtName, deliveryText } from './window-text';
import './confirmation.css';

export interface ConfirmationSection {
  el: HTMLElement;
  /** With the case's latest details (after every reload of the page). */
  update(detail: CaseDetail): void;
}

/** The mediator's court change: a court's name and why (common brief: 2..80 and 2..500). */
export function courtChangeProblems(court: string, reason: string): { court?: 'confirm.court.nameLength'; reason?: 'confirm.court.reasonLength' } {
  const problems: { court?: 'confirm.court.nameLength'; reason?: 'confirm.court.reasonLength' } = {};
  const courtLength = [...court.trim()].length;
  const reasonLength = [...reason.trim()].length;
  if (courtLength < 2 || courtLength > 80) problems.court = 'confirm.court.nameLength';
  if (reasonLength < 2 || reasonLength > 500) problems.reason = 'confirm.court.reasonLength';
  return problems;
}

export function confirmationSection(context: PageContext, caseId: string, now: () => number = Date.now): ConfirmationSection {
  exposeForTests();
  const el = h('section', { class: 'case-section cf-section', 'data-testid': 'confirmation-section', hidden: true });
  const agreements = new AgreementApi(staffCall(context.client));
  const api = ConfirmationApi.forStaff(context.client);
  let detail: CaseDetail | null = null;
  let agreementId: string | null = null;
  let view: ConfirmationView | null = null;
  let problem: string | null = null;
  let changing = false;
  let links: ConfirmationLink[] | null = null;
  let busy = false;
  // The change form's fields outlive redraws, so what is typed stays.
  const courtInput = h('input', { type: 'text', maxlength: 80, 'data-testid': 'confirm-court-input' });
  const reasonInput = h('textarea', { rows: 2, maxlength: 500, 'data-testid': 'confirm-court-reason' });
  // Each party's upload control, likewise kept: the kind chosen survives a redraw.
  const uploads = new Map<string, { kind: HTMLSelectElement; file: HTMLInputElement }>();

  const mediator = () => {
    const c = detail?.case;
    return !!c && context.me.role === 'mediator' && context.me.organisation_id === c.organisation_id;
  };

  const fail = (error: unknown) => {
    noteError(errorCode(error));
    problem = problemText(error);
    draw();
  };

  const load = async () => {
    try {
      const agreement = await agreements.ofCase(caseId);
      agreementId = agreement && agreement.status === 'in_force' ? agreement.id : null;
      view = agreementId ? await api.view(agreementId) : null;
      problem = null;
    } catch (error) {
      noteError(errorCode(error));
      problem = problemText(error);
    }
    draw();
  };

  const act = async (change: () => Promise<void>, words: (error: unknown) => string = problemText) => {
    if (busy) return;
    busy = true;
    problem = null;
    draw();
    try {
      await change();
      noteError(null);
    } catch (error) {
      noteError(errorCode(error));
      problem = words(error);
    } finally {
      busy = false;
      draw();
    }
  };

  const changeCourt = (id: string) => {
    const problems = courtChangeProblems(courtInput.value, reasonInput.value);
    const first = problems.court ?? problems.reason;
    if (first) {
      problem = t(first);
      draw();
      return;
    }
    void act(async () => {
      view = await api.changeCourt(id, courtInput.value.trim(), reasonInput.value.trim());
      changing = false;
      reasonInput.value = '';
    });
  };

  const courtForm = (id: string, current: ConfirmationView) => {
    if (!courtInput.value) courtInput.value = courtName(current.court) ?? '';
    return h('form', {
      class: 'cf-court-form',
      'data-testid': 'confirm-court-form',
      onsubmit: (event: Event) => {
        event.preventDefault();
        changeCourt(id);
      },
    }, [
      h('label', { class: 'cf-field' }, [h('span', { text: t('confirm.court.newName') }), courtInput]),
      h('label', { class: 'cf-field' }, [h('span', { text: t('confirm.court.reason') }), reasonInput]),
      h('div', { class: 'actions' }, [
        h('button', { type: 'submit', class: 'primary', 'data-testid': 'confirm-court-save', disabled: busy, text: t('confirm.court.save') }),
        h('button', { type: 'button', class: 'secondary', text: t('confirm.cancel'), onclick: () => { changing = false; draw(); } }),
      ]),
    ]);
  };

  const linkList = (list: ConfirmationLink[]) =>
    h(
      'ul',
      { class: 'cf-links', 'data-testid': 'confirm-link-list' },
      list.map((link) => {
        const text = h('textarea', { readonly: true, rows: 4, 'data-testid': 'confirm-link-text', text: link.text });
        const copy = h('button', { type: 'button', class: 'secondary', text: t('staff.detail.copyMessage') });
        copy.addEventListener('click', () => copyText(link.text, text, copy));
        const sent = link.sent
          ? t('confirm.links.sent', { phone: link.phone_masked ?? '' })
          : link.send_error
            ? t('confirm.links.notSent', { error: link.send_error })
            : t('confirm.links.noPhone');
        return h('li', { 'data-party': link.party_id, 'data-sent': String(link.sent) }, [
          h('strong', { text: link.name }),
          text,
          copy,
          h('p', { class: link.sent ? 'cf-muted' : 'cf-problem', text: sent }),
        ]);
      }),
    );

  const clocksBlock = (current: ConfirmationView) => {
    const lines = clockLines(current, now());
    if (lines.length === 0) return null;
    return h(
      'ul',
      { class: 'cf-clocks', 'data-testid': 'confirm-clocks' },
      lines.map((line) =>
        h('li', { class: line.overdue ? 'cf-overdue' : '', 'data-clock': line.key, 'data-overdue': String(line.overdue) }, [
          line.text,
          line.overdue ? h('span', { class: 'cf-flag', text: t('confirm.clock.overdue') }) : null,
        ]),
      ),
    );
  };

  /** One party's upload control: what the file shows, then the file (sent once chosen). */
  const uploadControl = (id: string, partyId: string) => {
    let control = uploads.get(partyId);
    if (!control) {
      const kind = h(
        'select',
        { 'data-testid': 'staff-identity-kind', 'aria-label': t('confirm.identity.kindLabel') },
        IDENTITY_KINDS.map((k) => h('option', { value: k, text: kindText(k) })),
      );
      const file = h('input', { type: 'file', accept: IDENTITY_ACCEPT, class: 'visually-hidden', 'data-testid': 'staff-identity-upload', 'data-party': partyId });
      file.addEventListener('change', () => {
        const chosen = file.files?.[0];
        file.value = '';
        if (!chosen) return;
        if (refusedType(chosen)) {
          noteError('unsupported_media_type');
          problem = t('confirm.identity.error.unsupported_media_type');
          draw();
          return;
        }
        const what = kind.value as IdentityProofKind;
        void act(async () => {
          try {
            await api.uploadIdentityProof(id, chosen, what, partyId);
          } finally {
            // Refused or not, the counts and the list are fetched again.
            view = await api.view(id);
          }
        }, identityProblem);
      });
      control = { kind, file };
      uploads.set(partyId, control);
    }
    // Option labels follow the language.
    for (const option of control.kind.options) option.textContent = kindText(option.value);
    control.file.disabled = busy;
    return h('div', { class: 'cf-identity-upload' }, [
      control.kind,
      h('label', { class: `button secondary cf-pick${busy ? ' cf-disabled' : ''}` }, [control.file, h('span', { text: t('confirm.identity.upload') })]),
    ]);
  };

  /** 身份证明 per applicant: the count, each file with 查看 and 删除, and an upload before submission. */
  const identityBlock = (id: string, current: ConfirmationView) => {
    const proofs = proofsOf(current);
    const mayUpload = context.me.role !== 'court' && applying(current);
    if (current.applicants.length === 0) return null;
    return h('div', { class: 'cf-identity', 'data-testid': 'staff-identity' }, [
      h('h4', { text: t('confirm.identity.staffTitle') }),
      ...current.applicants.map((applicant) => {
        const own = proofs.filter((p) => p.party_id === applicant.party_id);
        const count = applicant.identity_proofs ?? own.length;
        return h('div', { class: 'cf-identity-party', 'data-party': applicant.party_id }, [
          h('p', {}, [
            h('strong', { text: applicant.name }),
            ' ',
            h('span', { class: 'cf-muted', 'data-testid': 'staff-identity-count', 'data-count': String(count), text: t('confirm.identity.count', { n: String(count) }) }),
          ]),
          own.length
            ? h(
                'ul',
                { class: 'cf-identity-list' },
                own.map((proof) =>
                  h('li', { 'data-testid': 'identity-proof', 'data-id': proof.id, 'data-kind': proof.kind, 'data-party': proof.party_id }, [
                    h('span', { class: 'cf-identity-what', text: `${kindText(proof.kind)} · ${sizeText(proof.size)}` }),
                    h('span', { class: 'actions' }, [
                      fileButton(t('confirm.identity.view'), 'staff-identity-view', async () => openBlob(await api.identityProof(id, proof.id)), fail),
                      proof.may_remove
                        ? h('button', {
                            type: 'button',
                            class: 'secondary',
                            'data-testid': 'identity-remove',
                            disabled: busy,
                            text: t('confirm.identity.remove'),
                            onclick: () =>
                              void act(async () => {
                                await api.removeIdentityProof(id, proof.id);
                                view = await api.view(id);
                              }),
                          })
                        : null,
                    ]),
                  ]),
                ),
              )
            : null,
          mayUpload ? uploadControl(id, applicant.party_id) : null,
        ]);
      }),
    ]);
  };

  const draw = () => {
    el.hidden = !view && !problem;
    if (!view || !agreementId) {
      el.replaceChildren(h('h2', { text: t('confirm.title') }), problem ? h('p', { class: 'problem-text', role: 'alert', text: problem }) : '');
      return;
    }
    noteView(view);
    const id = agreementId;
    const current = view;
    const requestId = current.request_id;
    // Before submission only; the server says so too (`may_change`), this keeps a stale flag from offering it.
    const mayChange = mediator() && current.court.may_change && (current.status === null || current.status === 'applying');
    const delivery = deliveryText(current);
    const files = requestId
      ? [
          current.package ? fileButton(t('confirm.files.package'), 'confirm-package', async () => saveBlob(await api.packageZip(requestId), `${current.case_number || requestId}-司法确认材料.zip`), fail) : null,
          current.application_pdf ? fileButton(t('confirm.files.application'), 'confirm-application', async () => openBlob(await api.applicationPdf(requestId)), fail) : null,
          current.decision?.has_ruling ? fileButton(t('confirm.files.ruling'), 'confirm-ruling', async () => openBlob(await api.ruling(requestId)), fail) : null,
        ].filter((b): b is HTMLButtonElement => b !== null)
      : [];
    const courtExtra: (Node | null)[] = [
      mayChange && !changing
        ? h('button', { type: 'button', class: 'secondary', 'data-testid': 'confirm-change-court', text: t('confirm.court.change'), onclick: () => { changing = true; draw(); } })
        : null,
      mayChange && changing ? courtForm(id, current) : null,
    ];
    const mayInvite = mediator() && (current.status === null || current.status === 'applying') && !current.window?.closed && !current.blocked;
    el.replaceChildren(
      ...[
        h('h2', { text: t('confirm.title') }),
        problem ? h('p', { class: 'problem-text', role: 'alert', 'data-testid': 'confirm-error', text: problem }) : null,
        blockedBlock(current),
        windowBlock(current),
        current.blocked ? null : courtBlock(current, courtExtra),
        current.applicants.length ? applicantList(current) : null,
        identityBlock(id, current),
        mayInvite
          ? h('button', { type: 'button', class: 'primary', 'data-testid': 'confirm-links', disabled: busy, text: t('confirm.links.send'), onclick: () => void act(async () => { links = await api.links(id); }) })
          : null,
        links ? linkList(links) : null,
        statusBlock(current),
        clocksBlock(current),
        delivery ? h('p', { class: `cf-delivery cf-${current.delivery?.state ?? ''}`, 'data-testid': 'confirm-delivery', 'data-state': current.delivery?.state ?? '', text: delivery }) : null,
        decisionBlock(current),
        files.length ? h('div', { class: 'cf-files' }, files) : null,
        nextStepsBlock(current.next_steps),
      ].filter((node): node is HTMLElement => node !== null),
    );
  };

  const off = onLanguageChange(() => {
    if (!el.isConnected) {
      off();
      return;
    }
    draw();
  });
  return {
    el,
    update(next: CaseDetail) {
      // The page redraws for many reasons; only a fresh answer from the server is news.
      if (next === detail) return;
      detail = next;
      void load();
    },
  };
}
