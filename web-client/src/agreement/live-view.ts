// What parties see on their phones: the agreement as it is being written, live, in large
// text, with the clause just changed highlighted and "调解员正在输入…" where the mediator
// types; a comment on any clause of the shared text from a bottom sheet; a private draft the
// mediator showed to our side as its own, clearly marked tab (read only: no comments there). Once final: the final text with its version and
// fingerprint, and the signing flow below it.

import type * as Y from 'yjs';
import { t } from '../i18n';
import { h } from '../screens/dom';
import type { Agreement, SideName } from './api';
import { clausesOf, titleOf } from './doc';
import type { AgreementModel } from './model';
import type { DraftSource } from './source';
import { present } from './format';
import { codeText, finalLine, statusText } from './status';

/** The server's limit on a comment. */
export const MAX_COMMENT_CHARS = 1000;

export interface LiveViewOptions {
  model: AgreementModel;
  open: (docName: string) => DraftSource;
  /** Sends a comment; resolves once the server relayed it, rejects with its error code. */
  comment: (clauseId: string, text: string) => Promise<void>;
  signingSlot: HTMLElement;
  /** Our side: only a private draft shown to it is ours to see. */
  side: () => SideName | null;
}

export class LiveView {
  readonly el = h('div', { class: 'ag-live', 'data-testid': 'agreement-live' });
  private readonly head = h('div', { class: 'ag-head' });
  private readonly tabs = h('div', { class: 'ag-tabs', role: 'tablist' });
  private readonly body = h('div', { class: 'ag-live-body' });
  private readonly sheet = h('div', { class: 'ag-sheet', hidden: true, 'data-testid': 'agreement-comment-sheet', role: 'dialog', 'aria-modal': 'true' });
  private readonly sources = new Map<string, { source: DraftSource; offs: (() => void)[] }>();
  private current = 'main';
  private readonly offModel: (() => void)[];
  private observed: { doc: Y.Doc; run: () => void } | null = null;

  constructor(private readonly options: LiveViewOptions) {
    this.el.append(this.head, options.signingSlot, this.tabs, this.body, this.sheet);
    this.offModel = [options.model.on('agreement', () => this.render()), options.model.on('changed', () => this.renderBody())];
    this.render();
  }

  openDrafts(): Map<string, DraftSource> {
    return new Map([...this.sources].map(([name, s]) => [name, s.source]));
  }

  dispose(): void {
    for (const off of this.offModel) off();
    this.unobserve();
    for (const { source, offs } of this.sources.values()) {
      for (const off of offs) off();
      source.close();
    }
    this.sources.clear();
  }

  render(): void {
    const agreement = this.options.model.agreement;
    if (!agreement) return;
    const final = agreement.status !== 'drafting' && agreement.final;
    this.head.replaceChildren(
      ...present(
      h('strong', { class: `ag-status ${agreement.status}`, 'data-testid': 'agreement-status', text: statusText(agreement) }),
      final ? h('p', { class: 'ag-final-meta', 'data-testid': 'agreement-final-meta', text: finalLine(agreement) ?? '' }) : null,
      ),
    );
    const side = this.options.side();
    const shown = side ? agreement.private_drafts.filter((d) => d.shown_to === side) : [];
    if (!shown.some((d) => d.doc === this.current)) this.current = 'main';
    // Private drafts no longer shown to us are closed: the server stops sending them anyway.
    for (const [name, entry] of this.sources) {
      if (name !== 'main' && !shown.some((d) => d.doc === name)) {
        for (const off of entry.offs) off();
        entry.source.close();
        this.sources.delete(name);
      }
    }
    const tab = (doc: string, label: string) =>
      h('button', {
        type: 'button',
        role: 'tab',
        class: `ag-tab${doc === this.current ? ' active' : ''}${doc === 'main' ? '' : ' private'}`,
        'aria-selected': String(doc === this.current),
        'data-testid': doc === 'main' ? 'agreement-tab-main' : 'agreement-tab-private',
        text: label,
        onclick: () => {
          this.current = doc;
          this.render();
        },
      });
    this.tabs.hidden = final ? true : shown.length === 0;
    this.tabs.replaceChildren(tab('main', t('agreement.mainText')), ...shown.map((d) => tab(d.doc, t('agreement.privateForUs'))));
    this.renderBody();
  }

  private source(docName: string): DraftSource {
    let entry = this.sources.get(docName);
    if (!entry) {
      const source = this.options.open(docName);
      entry = {
        source,
        offs: [
          source.onProgress(() => this.renderBody()),
          source.onDoc(() => this.renderBody()),
          source.onProblem((code) => console.warn('[accord] draft', docName, code)),
        ],
      };
      this.sources.set(docName, entry);
    }
    return entry.source;
  }

  private unobserve(): void {
    if (this.observed) this.observed.doc.off('update', this.observed.run);
    this.observed = null;
  }

  private renderBody(): void {
    const agreement = this.options.model.agreement;
    if (!agreement) return;
    if (agreement.status !== 'drafting' && agreement.final) {
      this.unobserve();
      this.body.replaceChildren(h('pre', { class: 'ag-final-text ag-live-text', 'data-testid': 'agreement-final-text', text: agreement.final.text }));
      return;
    }
    const source = this.source(this.current);
    const doc = source.doc();
    if (this.observed?.doc !== doc) {
      this.unobserve();
      const run = () => this.renderBody();
      doc.on('update', run);
      this.observed = { doc, run };
    }
    this.body.replaceChildren(...present(this.current === 'main' ? null : h('p', { class: 'ag-private-note', 'data-testid': 'agreement-private-note', text: t('agreement.privateForUsNote') }), this.renderDoc(agreement, doc)));
  }

  private renderDoc(agreement: Agreement, doc: Y.Doc): HTMLElement {
    const model = this.options.model;
    const clauses = clausesOf(doc, agreement.locale);
    if (!sourceSynced(this.sources.get(this.current)?.source)) return h('p', { class: 'muted', text: t('agreement.connecting') });
    // Comments are about the shared text: a private proposal's clauses carry the same ids, so a
    // comment made there would land under the shared article, the mediator none the wiser.
    const shared = this.current === 'main';
    return h('article', { class: 'ag-live-text' }, [
      h('h3', { class: 'ag-live-title', 'data-testid': 'agreement-live-title', text: titleOf(doc).toString() }),
      ...clauses.map((clause) => {
        const who = model.typingIn(this.current, clause.id);
        const comments = shared ? model.commentsOf(clause.id) : [];
        return h('section', { class: `ag-live-clause${model.flashed.has(clause.id) ? ' ag-flash' : ''}`, 'data-testid': 'agreement-live-clause', 'data-clause-id': clause.id }, [
          h('p', {}, [clause.label ? h('strong', { class: 'ag-label', text: `${clause.label} ` }) : null, h('span', { 'data-testid': 'agreement-live-clause-text', text: clause.text })]),
          who ? h('p', { class: 'ag-typing', 'data-testid': 'agreement-typing', role: 'status', text: t('agreement.mediatorTyping') }) : null,
          comments.length
            ? h('ul', { class: 'ag-comments' }, comments.map((c) => h('li', { class: 'ag-comment', 'data-testid': 'agreement-comment' }, [h('span', { class: 'ag-comment-meta', text: c.author_name }), h('span', { class: 'ag-comment-text', text: c.text })])))
            : null,
          shared
            ? h('button', { type: 'button', class: 'secondary ag-comment-open', 'data-testid': 'agreement-comment-open', text: t('agreement.commentOn'), onclick: () => this.openSheet(clause.id, clause.label ?? t('agreement.kind.facts')) })
            : null,
        ]);
      }),
    ]);
  }

  private openSheet(clauseId: string, label: string): void {
    const text = h('textarea', { class: 'ag-sheet-text', rows: 4, maxlength: MAX_COMMENT_CHARS, 'data-testid': 'agreement-comment-input', 'aria-label': t('agreement.commentPlaceholder'), placeholder: t('agreement.commentPlaceholder') });
    const status = h('p', { class: 'ag-sheet-status', role: 'status', 'data-testid': 'agreement-comment-status' });
    const send = h('button', { type: 'submit', class: 'primary', 'data-testid': 'agreement-comment-send', text: t('agreement.commentSend') });
    const close = () => {
      this.sheet.hidden = true;
      this.sheet.replaceChildren();
    };
    const form = h('form', { class: 'ag-sheet-card' }, [
      h('h3', { text: t('agreement.commentTitle', { label }) }),
      text,
      status,
      h('div', { class: 'ag-sheet-actions' }, [h('button', { type: 'button', class: 'secondary', 'data-testid': 'agreement-comment-cancel', text: t('agreement.cancel'), onclick: close }), send]),
    ]);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const value = text.value.trim();
      if (!value) {
        status.textContent = t('agreement.commentEmpty');
        return;
      }
      send.disabled = true;
      status.textContent = t('agreement.commentSending');
      this.options
        .comment(clauseId, value)
        .then(close)
        .catch((error: unknown) => {
          send.disabled = false;
          status.textContent = codeText(error instanceof Error ? error.message : String(error));
          status.classList.add('problem-text');
        });
    });
    this.sheet.replaceChildren(form);
    this.sheet.hidden = false;
    text.focus();
  }
}

function sourceSynced(source: DraftSource | undefined): boolean {
  return source?.synced() ?? false;
}
