// The mediator's agreement pane, in the room and on the case page: the status, the shared
// text and the private drafts as tabs, finalising, the final text with its fingerprint, and
// the history. Drafts are opened through `open` (socket or HTTP): the pane does not care.

import { type MessageKey, t } from '../i18n';
import { h } from '../screens/dom';
import type { Agreement, PrivateDraft, SideName } from './api';
import { clausesOf } from './doc';
import { ClauseEditor } from './editor';
import { present } from './format';
import { HistoryView } from './history';
import type { AgreementModel } from './model';
import type { DraftSource } from './source';
import { codeText, finalLine, problemText, statusText } from './status';

export interface WorkspaceOptions {
  model: AgreementModel;
  /** Opens a draft (`main` or `PD_…`) for editing. */
  open: (docName: string) => DraftSource;
  /** Private drafts are for a caucus: only offered in a live session. */
  privateDrafts: boolean;
  /** Where W2's signing console goes once the agreement is final. */
  signingSlot: HTMLElement;
}

interface OpenDraft {
  source: DraftSource;
  editor: ClauseEditor;
  offs: (() => void)[];
}

export class AgreementWorkspace {
  readonly el = h('div', { class: 'ag-workspace', 'data-testid': 'agreement-workspace' });
  private readonly head = h('div', { class: 'ag-head' });
  private readonly tabs = h('div', { class: 'ag-tabs', role: 'tablist' });
  private readonly body = h('div', { class: 'ag-body' });
  private readonly notice = h('p', { class: 'ag-notice', role: 'status', 'data-testid': 'agreement-notice', hidden: true });
  private readonly finalBox = h('div', { class: 'ag-final', 'data-testid': 'agreement-final', hidden: true });
  private readonly drafts = new Map<string, OpenDraft>();
  private current = 'main';
  private history: HistoryView | null = null;
  private readonly offModel: () => void;

  constructor(private readonly options: WorkspaceOptions) {
    this.el.append(this.head, this.notice, this.finalBox, options.signingSlot, this.tabs, this.body);
    this.offModel = options.model.on('agreement', () => this.render());
    this.render();
  }

  /** The open drafts, for the test hook. */
  openDrafts(): Map<string, DraftSource> {
    return new Map([...this.drafts].map(([name, d]) => [name, d.source]));
  }

  get currentDoc(): string {
    return this.current;
  }

  dispose(): void {
    this.offModel();
    for (const draft of this.drafts.values()) this.closeDraft(draft);
    this.drafts.clear();
  }

  render(): void {
    const agreement = this.options.model.agreement;
    if (!agreement) return;
    this.renderHead(agreement);
    const final = agreement.final && agreement.status !== 'drafting' ? agreement.final : null;
    this.finalBox.hidden = !final;
    if (final) {
      this.finalBox.replaceChildren(
        h('h3', { text: t('agreement.finalText') }),
        h('p', { class: 'ag-final-meta', 'data-testid': 'agreement-final-meta', text: finalLine(agreement) ?? '' }),
        h('p', { class: 'ag-hash', 'data-testid': 'agreement-final-hash', text: t('agreement.fullHash', { hash: final.text_sha256 }) }),
        h('pre', { class: 'ag-final-text', 'data-testid': 'agreement-final-text', text: final.text }),
      );
    }
    this.renderTabs(agreement);
    this.show(this.drafts.has(this.current) || this.current === 'main' ? this.current : 'main');
  }

  private renderHead(agreement: Agreement): void {
    const source = this.drafts.get(this.current)?.source;
    const pending = source ? source.pending() : 0;
    const saving = !source || !source.synced() ? t('agreement.connecting') : pending > 0 ? t('agreement.saving') : t('agreement.saved');
    const finalise = h('button', {
      type: 'button',
      class: 'primary',
      'data-testid': 'agreement-finalise',
      text: t('agreement.finalise'),
      // An edit while final reopens drafting (version n+1) on the server: only then again.
      disabled: agreement.status !== 'drafting',
      onclick: () => void this.finalise(agreement),
    });
    this.head.replaceChildren(
      ...present(
      h('div', { class: 'ag-status-row' }, [
        h('strong', { class: `ag-status ${agreement.status}`, 'data-testid': 'agreement-status', text: statusText(agreement) }),
        h('span', { class: 'ag-saving', 'data-testid': 'agreement-saving', text: saving }),
      ]),
      agreement.e_signable || !agreement.not_e_signable_reason
        ? null
        : h('p', { class: 'ag-warning', 'data-testid': 'agreement-not-e-signable', text: t('agreement.notESignable') }),
      agreement.status === 'final' ? h('p', { class: 'ag-warning', text: t('agreement.editVoids') }) : null,
      agreement.status === 'in_force' ? h('p', { class: 'muted', text: t('agreement.inForceReadOnly') }) : null,
      h('div', { class: 'ag-actions' }, [
        finalise,
        h('button', {
          type: 'button',
          class: 'secondary',
          'data-testid': 'agreement-history-toggle',
          text: this.history ? t('agreement.hideHistory') : t('agreement.history'),
          onclick: () => this.toggleHistory(agreement),
        }),
      ]),
      this.history?.el ?? null,
      ),
    );
  }

  private renderTabs(agreement: Agreement): void {
    const tab = (doc: string, label: string, note: string | null) =>
      h('button', {
        type: 'button',
        role: 'tab',
        class: `ag-tab${doc === this.current ? ' active' : ''}`,
        'aria-selected': String(doc === this.current),
        'data-testid': doc === 'main' ? 'agreement-tab-main' : 'agreement-tab-private',
        'data-doc': doc,
        text: note ? `${label} · ${note}` : label,
        onclick: () => this.show(doc),
      });
    const privates = this.options.privateDrafts ? agreement.private_drafts : [];
    this.tabs.replaceChildren(
      ...present(
      tab('main', t('agreement.mainText'), null),
      ...privates.map((d, i) => tab(d.doc, t('agreement.privateDraftN', { n: String(i + 1) }), shownToText(d.shown_to))),
      this.options.privateDrafts && agreement.status !== 'in_force'
        ? h('button', { type: 'button', class: 'secondary small', 'data-testid': 'agreement-new-private', text: t('agreement.newPrivateDraft'), onclick: () => void this.newPrivate(agreement) })
        : null,
      ),
    );
    this.tabs.hidden = !this.options.privateDrafts;
  }

  private show(docName: string): void {
    const agreement = this.options.model.agreement;
    if (!agreement) return;
    this.current = docName;
    let draft = this.drafts.get(docName);
    if (!draft) {
      const source = this.options.open(docName);
      const editor = new ClauseEditor(source.doc(), {
        model: this.options.model,
        docName,
        locale: agreement.locale,
        editable: () => this.options.model.agreement?.status !== 'in_force',
        typing: source.typing,
      });
      const opened: OpenDraft = { source, editor, offs: [] };
      opened.offs.push(
        source.onDoc((doc) => editor.setDoc(doc)),
        source.onProgress(() => {
          if (this.current === docName) this.renderHead(this.options.model.agreement ?? agreement);
        }),
        source.onProblem((code) => this.say(codeText(code), true)),
      );
      draft = opened;
      this.drafts.set(docName, draft);
    }
    const privateDraft = agreement.private_drafts.find((d) => d.doc === docName) ?? null;
    const bar = privateDraft ? this.privateBar(agreement, privateDraft) : null;
    const editorEl = draft.editor.el;
    if (editorEl.parentNode === this.body) {
      // A refresh of the same draft (agreement_changed while someone types): detaching the
      // editor would blur the focused textarea and drop the keystrokes typed until the caret
      // is back, and end an input method's composition. Only what precedes it is swapped.
      while (this.body.firstChild && this.body.firstChild !== editorEl) this.body.firstChild.remove();
      if (bar) editorEl.before(bar);
      while (editorEl.nextSibling) editorEl.nextSibling.remove();
    } else {
      // Another draft's editor was showing: this one holds no focus to lose.
      this.body.replaceChildren(...present(bar, editorEl));
    }
    draft.editor.refresh();
    for (const el of this.tabs.querySelectorAll<HTMLElement>('.ag-tab')) {
      el.classList.toggle('active', el.dataset.doc === docName);
      el.setAttribute('aria-selected', String(el.dataset.doc === docName));
    }
    this.renderHead(agreement);
  }

  /** Who sees this private draft, and the choice to show it to one side or hide it again. */
  private privateBar(agreement: Agreement, draft: PrivateDraft): HTMLElement {
    const select = h(
      'select',
      { 'data-testid': 'agreement-show-to', 'aria-label': t('agreement.showTo') },
      (['', 'applicant', 'respondent'] as const).map((side) =>
        h('option', { value: side, text: side ? t(`agreement.showToSide.${side}` as MessageKey) : t('agreement.showToNobody'), selected: (draft.shown_to ?? '') === side }),
      ),
    );
    select.addEventListener('change', () => {
      const side: SideName | null = select.value === 'applicant' || select.value === 'respondent' ? select.value : null;
      this.options.model.api
        .showPrivateDraft(agreement.id, draft.doc, side)
        .then(() => this.options.model.refresh())
        .catch((error: unknown) => this.say(problemText(error), true));
    });
    return h('div', { class: `ag-private-bar${draft.shown_to ? ' shown' : ''}`, 'data-testid': 'agreement-private-bar' }, [
      h('strong', { 'data-testid': 'agreement-private-visibility', text: shownToText(draft.shown_to) }),
      h('label', {}, [h('span', { text: t('agreement.showTo') }), select]),
    ]);
  }

  private async newPrivate(agreement: Agreement): Promise<void> {
    try {
      const { doc } = await this.options.model.api.createPrivateDraft(agreement.id);
      await this.options.model.refresh();
      this.show(doc);
    } catch (error) {
      this.say(problemText(error), true);
    }
  }

  private async finalise(agreement: Agreement): Promise<void> {
    const pending = this.drafts.get('main')?.source.pending() ?? 0;
    if (pending > 0) {
      this.say(t('agreement.waitSaved'), true);
      return;
    }
    if (!window.confirm(t('agreement.finaliseConfirm'))) return;
    try {
      const answer = await this.options.model.api.finalise(agreement.id);
      this.options.model.agreement = answer;
      await this.options.model.refresh();
      this.say(t('agreement.finalised', { n: String(answer.final?.version ?? answer.version) }), false);
    } catch (error) {
      this.say(problemText(error), true);
    }
  }

  private toggleHistory(agreement: Agreement): void {
    if (this.history) this.history = null;
    else {
      const main = this.drafts.get('main')?.source.doc();
      const labels = new Map(main ? clausesOf(main, agreement.locale).map((c) => [c.id, c.label ?? t('agreement.kind.facts')]) : []);
      this.history = new HistoryView(this.options.model.api, agreement.id, (id) => labels.get(id) ?? t('agreement.removedClause'));
      void this.history.load();
    }
    this.renderHead(agreement);
  }

  private say(text: string, problem: boolean): void {
    this.notice.hidden = !text;
    this.notice.textContent = text;
    this.notice.classList.toggle('problem-text', problem);
    this.notice.setAttribute('role', problem ? 'alert' : 'status');
  }

  private closeDraft(draft: OpenDraft): void {
    for (const off of draft.offs) off();
    draft.editor.dispose();
    draft.source.close();
  }
}

export function shownToText(side: SideName | null): string {
  return side ? t(`agreement.shownTo.${side}` as MessageKey) : t('agreement.mediatorOnly');
}
