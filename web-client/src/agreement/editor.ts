// The mediator's editor of one draft (the shared text or a private draft): the title and
// the clauses, each a textarea bound to its Y.Text, with its label, kind, moves, who else is
// typing there and the parties' comments on it. Structural changes (a clause added, moved,
// retyped) redraw the list; text changes only touch their textarea.

import * as Y from 'yjs';
import { type MessageKey, t } from '../i18n';
import { h } from '../screens/dom';
import { TextareaBinding } from './binding';
import {
  type AgreementLocale,
  addClause,
  CLAUSE_KINDS,
  type ClauseKind,
  clauseArray,
  clausesOf,
  isClauseKind,
  moveClause,
  removeClause,
  setClauseKind,
  titleOf,
} from './doc';
import type { AgreementModel } from './model';
import { LOCAL } from './sync';
import { formatTime } from './format';

export interface EditorOptions {
  model: AgreementModel;
  /** `main` or `PD_…`: typing notices and comments are per doc. */
  docName: string;
  locale: AgreementLocale;
  /** False while the agreement is in force: the text is shown, not editable. */
  editable: () => boolean;
  /** Tells the others we type in a clause (the socket only; null over HTTP). */
  typing: ((clauseId: string) => void) | null;
}

export class ClauseEditor {
  readonly el = h('div', { class: 'ag-editor', 'data-testid': 'agreement-editor' });
  private readonly bindings: TextareaBinding[] = [];
  private doc: Y.Doc;
  private readonly observer = (events: Y.YEvent<Y.AbstractType<unknown>>[]) => {
    // Only text changed: the bindings already show it.
    if (events.every((event) => event.target instanceof Y.Text)) return;
    this.render();
  };
  private readonly offModel: () => void;
  /** Whether the controls on screen were drawn editable (the agreement may have come in force since). */
  private editableShown = true;

  constructor(
    doc: Y.Doc,
    private readonly options: EditorOptions,
  ) {
    this.doc = doc;
    clauseArray(doc).observeDeep(this.observer);
    this.offModel = options.model.on('changed', () => this.refreshNotes());
    this.render();
  }

  /** After the sync replaced its document (a refused edit was dropped). */
  setDoc(doc: Y.Doc): void {
    clauseArray(this.doc).unobserveDeep(this.observer);
    this.doc = doc;
    clauseArray(doc).observeDeep(this.observer);
    this.render();
  }

  dispose(): void {
    clauseArray(this.doc).unobserveDeep(this.observer);
    this.offModel();
    for (const binding of this.bindings.splice(0)) binding.destroy();
  }

  /**
   * After the agreement changed (signed, shown, reopened…): the same textareas stay, with their
   * focus, selection and any composition; only whether they can be edited and the notes change.
   */
  refresh(): void {
    const editable = this.options.editable();
    if (editable !== this.editableShown) {
      this.editableShown = editable;
      for (const el of this.el.querySelectorAll<HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement | HTMLButtonElement>('[data-editing]')) {
        el.disabled = !editable || el.dataset.editing === 'edge';
      }
    }
    this.refreshNotes();
  }

  /**
   * Redraws everything (the clauses' structure changed), keeping the focus and caret of whoever
   * is typing: restored before this returns, so no keystroke lands elsewhere.
   */
  render(): void {
    const active = document.activeElement;
    const focusKey = active instanceof HTMLElement && this.el.contains(active) ? active.dataset.focusKey : undefined;
    const selection = active instanceof HTMLTextAreaElement || active instanceof HTMLInputElement ? [active.selectionStart ?? 0, active.selectionEnd ?? 0] : null;
    for (const binding of this.bindings.splice(0)) binding.destroy();
    const editable = this.options.editable();
    this.editableShown = editable;
    // `data-editing` marks what `refresh` enables or disables in place; `edge` stays disabled.
    const title = h('input', { class: 'ag-title-input', 'data-testid': 'agreement-title-input', 'data-focus-key': 'title', 'data-editing': '', 'aria-label': t('agreement.titleLabel'), disabled: !editable });
    this.bindings.push(new TextareaBinding(title, titleOf(this.doc), LOCAL));
    const clauses = clausesOf(this.doc, this.options.locale);
    const list = h(
      'ol',
      { class: 'ag-clauses' },
      clauses.map((clause, index) => {
        const text = h('textarea', {
          class: 'ag-clause-text',
          rows: 3,
          'data-testid': 'agreement-clause-text',
          'data-focus-key': `clause:${clause.id}`,
          'aria-label': clause.label ?? t('agreement.kind.facts'),
          'data-editing': '',
          disabled: !editable,
        });
        this.bindings.push(new TextareaBinding(text, clause.ytext, LOCAL, () => this.options.typing?.(clause.id)));
        const kind = h(
          'select',
          { class: 'ag-kind', 'data-testid': 'agreement-clause-kind', 'data-editing': '', 'aria-label': t('agreement.kindLabel'), disabled: !editable },
          CLAUSE_KINDS.map((k) => h('option', { value: k, text: t(`agreement.kind.${k}` as MessageKey), selected: k === clause.kind })),
        );
        kind.addEventListener('change', () => {
          if (isClauseKind(kind.value)) setClauseKind(this.doc, clause.id, kind.value, LOCAL);
        });
        const button = (testId: string, label: string, run: () => void, disabled = false) =>
          h('button', { type: 'button', class: 'secondary small', 'data-testid': testId, 'data-editing': disabled ? 'edge' : '', text: label, disabled: disabled || !editable, onclick: run });
        return h('li', { class: 'ag-clause', 'data-clause-id': clause.id, 'data-testid': 'agreement-clause' }, [
          h('div', { class: 'ag-clause-head' }, [
            h('span', { class: 'ag-label', 'data-testid': 'agreement-clause-label', text: clause.label ?? t('agreement.kind.facts') }),
            kind,
            button('agreement-clause-up', t('agreement.moveUp'), () => moveClause(this.doc, clause.id, -1, LOCAL), index === 0),
            button('agreement-clause-down', t('agreement.moveDown'), () => moveClause(this.doc, clause.id, 1, LOCAL), index === clauses.length - 1),
            button('agreement-clause-delete', t('agreement.deleteClause'), () => {
              if (clause.text.trim() && !window.confirm(t('agreement.deleteConfirm', { label: clause.label ?? t('agreement.kind.facts') }))) return;
              removeClause(this.doc, clause.id, LOCAL);
            }),
          ]),
          text,
          h('p', { class: 'ag-typing', 'data-testid': 'agreement-typing', role: 'status', hidden: true }),
          h('ul', { class: 'ag-comments', 'data-testid': 'agreement-comments' }),
        ]);
      }),
    );
    const newKind = h(
      'select',
      { class: 'ag-kind', 'data-testid': 'agreement-new-kind', 'data-editing': '', 'aria-label': t('agreement.kindLabel'), disabled: !editable },
      CLAUSE_KINDS.map((k) => h('option', { value: k, text: t(`agreement.kind.${k}` as MessageKey), selected: k === 'term' })),
    );
    const add = h('button', {
      type: 'button',
      class: 'secondary',
      'data-testid': 'agreement-add-clause',
      'data-editing': '',
      text: t('agreement.addClause'),
      disabled: !editable,
      onclick: () => {
        const kind: ClauseKind = isClauseKind(newKind.value) ? newKind.value : 'term';
        const id = addClause(this.doc, kind, '', undefined, LOCAL);
        this.el.querySelector<HTMLTextAreaElement>(`[data-focus-key="clause:${id}"]`)?.focus();
      },
    });
    this.el.replaceChildren(
      h('label', { class: 'ag-field' }, [h('span', { text: t('agreement.titleLabel') }), title]),
      clauses.length ? list : h('p', { class: 'muted', text: t('agreement.noClauses') }),
      h('div', { class: 'ag-add' }, [newKind, add]),
    );
    if (focusKey) {
      const again = this.el.querySelector<HTMLTextAreaElement | HTMLInputElement>(`[data-focus-key="${CSS.escape(focusKey)}"]`);
      again?.focus();
      if (again && selection) again.setSelectionRange(selection[0] ?? 0, selection[1] ?? 0);
    }
    this.refreshNotes();
  }

  /** Typing notices, highlights and comments: redrawn without touching the textareas. */
  private refreshNotes(): void {
    const model = this.options.model;
    for (const item of this.el.querySelectorAll<HTMLElement>('.ag-clause')) {
      const id = item.dataset.clauseId ?? '';
      const who = model.typingIn(this.options.docName, id);
      const typing = item.querySelector<HTMLElement>('.ag-typing');
      if (typing) {
        typing.hidden = who === null;
        typing.textContent = who ? t('agreement.typingBy', { name: who }) : '';
      }
      item.classList.toggle('ag-flash', model.flashed.has(id));
      const list = item.querySelector('.ag-comments');
      // Comments are on the shared text; a private draft's clauses are copies with their own ids.
      const comments = model.commentsOf(id);
      list?.replaceChildren(
        ...comments.map((c) =>
          h('li', { class: 'ag-comment', 'data-testid': 'agreement-comment', 'data-comment-id': c.id }, [
            h('span', { class: 'ag-comment-meta', text: `${c.author_name} · ${formatTime(c.at)}` }),
            h('span', { class: 'ag-comment-text', text: c.text }),
            model.resolvable
              ? h('button', {
                  type: 'button',
                  class: 'secondary small',
                  'data-testid': 'agreement-comment-resolve',
                  text: t('agreement.resolve'),
                  onclick: () => void model.resolve(c.id).catch((error: unknown) => console.warn('[accord] resolve comment', error)),
                })
              : null,
          ]),
        ),
      );
    }
  }
}
