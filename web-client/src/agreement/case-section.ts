// The agreement on the case page: its status, the effective date and the PDF once in force,
// and for the case's mediators the editor over HTTP (drafting between sessions) with its
// history. The section is made once per page and kept across the page's redraws, so an open
// editor and what is typed in it survive a change elsewhere on the page.

import { onLanguageChange, t } from '../i18n';
import { h } from '../screens/dom';
import type { PageContext } from '../staff/app';
import type { CaseDetail } from '../staff/api';
import { type Agreement, AgreementApi, errorCode, staffCall } from './api';
import { createForm } from './create';
import { formatDate, present } from './format';
import { HistoryView } from './history';
import { HttpDraftSync } from './http-sync';
import { AgreementModel } from './model';
import { httpSource } from './source';
import { finalLine, problemText, statusText } from './status';
import { setAgreementTestState, snapshotOf } from './test-state';
import { AgreementWorkspace } from './workspace';

export interface AgreementSection {
  el: HTMLElement;
  /** With the case's latest details (after every reload of the page). */
  update(detail: CaseDetail): void;
}

export function agreementSection(context: PageContext, caseId: string): AgreementSection {
  const el = h('section', { class: 'case-section agreement-section', 'data-testid': 'agreement-section' });
  const api = new AgreementApi(staffCall(context.client));
  const model = new AgreementModel(api, () => api.ofCase(caseId));
  let detail: CaseDetail | null = null;
  let workspace: AgreementWorkspace | null = null;
  let history: HistoryView | null = null;
  let problem: string | null = null;
  let pdfUrl: string | null = null;
  const signingSlot = h('div', { class: 'ag-signing' });

  const editor = () => {
    const c = detail?.case;
    return !!c && context.me.role === 'mediator' && context.me.organisation_id === c.organisation_id;
  };

  const openWorkspace = () => {
    workspace = new AgreementWorkspace({
      model,
      open: (doc) => {
        const agreement = model.agreement;
        const sync = new HttpDraftSync(
          doc,
          {
            get: (name, vector) => api.draft(agreement?.id ?? '', name, vector),
            post: (name, update) => api.postDraft(agreement?.id ?? '', name, update),
          },
          undefined,
          () => el.isConnected,
        );
        sync.start();
        return httpSource(sync, errorCode);
      },
      privateDrafts: false,
      signingSlot,
    });
    setAgreementTestState(() => snapshotOf(model, workspace?.openDrafts() ?? new Map(), workspace?.currentDoc ?? 'main'));
  };

  const closeWorkspace = () => {
    workspace?.dispose();
    workspace = null;
    setAgreementTestState(null);
  };

  const openPdf = async (agreement: Agreement) => {
    if (!agreement.pdf_url) return;
    try {
      pdfUrl ??= URL.createObjectURL(await context.client.blob(agreement.pdf_url));
      window.open(pdfUrl, '_blank', 'noopener');
    } catch (error) {
      problem = problemText(error);
      draw();
    }
  };

  /**
   * Shows `before`, then `kept`, then `after` in the section. A refresh (agreement_changed, a
   * reload of the page) arrives while the mediator types: detaching the open editor would blur
   * the focused clause, send the next keystrokes to <body> and end an input method's
   * composition, so an editor already in place stays put and only its neighbours are swapped.
   */
  const mountAround = (before: (Node | string)[], kept: HTMLElement | null, after: (Node | string)[]) => {
    if (!kept || kept.parentNode !== el) {
      el.replaceChildren(...before, ...(kept ? [kept] : []), ...after);
      return;
    }
    for (const child of [...el.childNodes]) if (child !== kept) child.remove();
    kept.before(...before);
    kept.after(...after);
  };

  const draw = () => {
    const agreement = model.agreement;
    if (!model.loaded || !detail) {
      el.replaceChildren(h('h2', { text: t('agreement.case.title') }), h('p', { class: 'muted', text: t('agreement.loading') }));
      return;
    }
    if (!agreement) {
      el.replaceChildren(
        ...present(
          h('h2', { text: t('agreement.case.title') }),
          problem ? h('p', { class: 'problem-text', role: 'alert', text: problem }) : null,
          h('p', { class: 'muted', 'data-testid': 'agreement-none', text: t('agreement.case.noneYet') }),
          editor()
            ? createForm({
                api,
                caseId,
                category: detail.case.category,
                locale: 'zh-CN',
                onCreated: (created) => {
                  model.agreement = created;
                  void model.refresh().then(() => {
                    openWorkspace();
                    draw();
                  });
                },
              })
            : null,
        ),
      );
      return;
    }
    mountAround(
      present(
        h('h2', { text: t('agreement.case.title') }),
        problem ? h('p', { class: 'problem-text', role: 'alert', text: problem }) : null,
        // The open editor shows the status and the final text's line itself.
        workspace ? null : h('p', {}, [h('strong', { class: `ag-status ${agreement.status}`, 'data-testid': 'agreement-status', text: statusText(agreement) })]),
        agreement.effective_at ? h('p', { 'data-testid': 'agreement-effective', text: t('agreement.case.effective', { date: formatDate(agreement.effective_at) }) }) : null,
        agreement.final && !workspace ? h('p', { class: 'ag-final-meta', 'data-testid': 'agreement-final-meta', text: finalLine(agreement) ?? '' }) : null,
        agreement.pdf_url ? h('button', { type: 'button', class: 'secondary', 'data-testid': 'agreement-pdf', text: t('agreement.case.pdf'), onclick: () => void openPdf(agreement) }) : null,
        editor()
          ? h('button', {
              type: 'button',
              class: workspace ? 'secondary' : 'primary',
              'data-testid': 'agreement-edit',
              text: workspace ? t('agreement.case.closeEditor') : t('agreement.case.edit'),
              onclick: () => {
                if (workspace) closeWorkspace();
                else openWorkspace();
                draw();
              },
            })
          : h('button', {
              type: 'button',
              class: 'secondary',
              'data-testid': 'agreement-history-toggle',
              text: history ? t('agreement.hideHistory') : t('agreement.history'),
              onclick: () => {
                history = history ? null : new HistoryView(api, agreement.id, () => t('agreement.removedClause'));
                void history?.load();
                draw();
              },
            }),
      ),
      workspace?.el ?? null,
      present(history?.el ?? null),
    );
  };

  model.on('agreement', () => {
    problem = null;
    draw();
  });
  const off = onLanguageChange(() => {
    if (!el.isConnected) {
      off();
      return;
    }
    workspace?.render();
    draw();
  });
  let loaded = false;
  return {
    el,
    update(next: CaseDetail) {
      // The page redraws for many reasons; only a fresh answer from the server is news.
      const fresh = next !== detail;
      detail = next;
      if (!fresh) return;
      if (!loaded) {
        loaded = true;
        model.refresh().catch((error: unknown) => {
          model.loaded = true;
          problem = problemText(error);
          draw();
        });
      } else {
        // The page reloaded after a change elsewhere (a status step): the agreement may have moved too.
        void model.refresh().catch(() => undefined);
      }
      draw();
    },
  };
}
