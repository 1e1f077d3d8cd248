// Administrators' agreement templates: for each case category and language, the
// organisation's own template or the built-in one, editable (name, title, clauses with their
// kinds) and resettable to the built-in text. Field errors from the server stand next to the
// field they concern (`name`, `title`, `clauses[2].text`, …).

import { type MessageKey, onLanguageChange, t } from '../i18n';
import { CATEGORIES } from '../intake/form';
import { h } from '../screens/dom';
import { ApiError } from '../staff/api';
import type { PageContext } from '../staff/app';
import { problemsOf } from '../staff/problems';
import { type AgreementTemplate, AgreementApi, staffCall } from './api';
import { type AgreementLocale, CLAUSE_KINDS, type ClauseKind, isClauseKind } from './doc';
import { present } from './format';
import { problemText } from './status';

const LOCALES: readonly AgreementLocale[] = ['zh-CN', 'en'];

interface Editing {
  category: string;
  locale: AgreementLocale;
  name: string;
  title: string;
  clauses: { kind: ClauseKind; text: string }[];
  custom: boolean;
}

/** The section element; it loads itself and redraws in place. */
export function templatesAdmin(context: PageContext): HTMLElement {
  const el = h('section', { class: 'case-section ag-templates', 'data-testid': 'agreement-templates' });
  const organisationId = context.me.organisation_id;
  const api = new AgreementApi(staffCall(context.client));
  let templates: AgreementTemplate[] = [];
  let editing: Editing | null = null;
  let problems: Record<string, string> = {};
  let notice: string | null = null;

  const find = (category: string, locale: AgreementLocale) => {
    const matching = templates.filter((tpl) => tpl.category === category && tpl.locale === locale);
    return matching.find((tpl) => !isBuiltin(tpl)) ?? matching.find(isBuiltin) ?? null;
  };

  const load = async () => {
    try {
      // One list per category: the server filters by category, each answer holds both languages.
      const lists = await Promise.all(CATEGORIES.map((category) => api.templates(category)));
      templates = lists.flat();
      notice = null;
    } catch (error) {
      notice = problemText(error);
    }
    draw();
  };

  const edit = (category: string, locale: AgreementLocale) => {
    const tpl = find(category, locale);
    editing = {
      category,
      locale,
      name: tpl?.name ?? '',
      title: tpl?.title ?? '',
      clauses: tpl?.clauses.map((c) => ({ kind: isClauseKind(c.kind) ? c.kind : 'term', text: c.text })) ?? [],
      custom: !!tpl && !isBuiltin(tpl),
    };
    problems = {};
    notice = null;
    draw();
  };

  const save = async () => {
    if (!editing || !organisationId) return;
    problems = {};
    try {
      await api.saveTemplate(organisationId, editing.category, editing.locale, { name: editing.name, title: editing.title, clauses: editing.clauses });
      notice = t('agreement.tpl.saved');
      editing = null;
      await load();
    } catch (error) {
      if (error instanceof ApiError && error.status === 422) {
        problems = problemsOf(error);
        notice = problems[''] ?? t('agreement.error.validation');
        draw();
      } else {
        notice = problemText(error);
        draw();
      }
    }
  };

  const reset = async (category: string, locale: AgreementLocale) => {
    if (!organisationId || !window.confirm(t('agreement.tpl.resetConfirm'))) return;
    try {
      await api.resetTemplate(organisationId, category, locale);
      notice = t('agreement.tpl.resetDone');
      editing = null;
      await load();
    } catch (error) {
      notice = problemText(error);
      draw();
    }
  };

  const fieldError = (name: string) => (problems[name] ? h('p', { class: 'field-error', 'data-testid': `template-error-${name}`, text: problems[name] }) : null);

  const form = (e: Editing) => {
    const input = (name: 'name' | 'title', label: MessageKey) => {
      const field = h('input', { name, value: e[name], 'data-testid': `template-${name}`, 'aria-invalid': problems[name] ? 'true' : undefined });
      field.addEventListener('input', () => (e[name] = field.value));
      return h('div', { class: 'field' }, present(h('label', { text: t(label) }), field, fieldError(name)));
    };
    const clauseRows = e.clauses.map((clause, i) => {
      const kind = h('select', { 'data-testid': 'template-clause-kind', 'aria-label': t('agreement.kindLabel') }, CLAUSE_KINDS.map((k) => h('option', { value: k, text: t(`agreement.kind.${k}` as MessageKey), selected: k === clause.kind })));
      kind.addEventListener('change', () => {
        if (isClauseKind(kind.value)) clause.kind = kind.value;
      });
      const key = `clauses[${i}].text`;
      const text = h('textarea', { rows: 3, 'data-testid': 'template-clause-text', 'aria-label': t('agreement.tpl.clauseText'), 'aria-invalid': problems[key] ? 'true' : undefined });
      text.value = clause.text;
      text.addEventListener('input', () => (clause.text = text.value));
      const move = (delta: number) => {
        const j = i + delta;
        if (j < 0 || j >= e.clauses.length) return;
        const [item] = e.clauses.splice(i, 1);
        if (item) e.clauses.splice(j, 0, item);
        draw();
      };
      return h('li', { class: 'ag-clause', 'data-testid': 'template-clause' }, present(
        h('div', { class: 'ag-clause-head' }, [
          kind,
          h('button', { type: 'button', class: 'secondary small', text: t('agreement.moveUp'), disabled: i === 0, onclick: () => move(-1) }),
          h('button', { type: 'button', class: 'secondary small', text: t('agreement.moveDown'), disabled: i === e.clauses.length - 1, onclick: () => move(1) }),
          h('button', { type: 'button', class: 'secondary small', 'data-testid': 'template-clause-delete', text: t('agreement.deleteClause'), onclick: () => { e.clauses.splice(i, 1); draw(); } }),
        ]),
        text,
        fieldError(key) ?? fieldError(`clauses[${i}]`),
      ));
    });
    const f = h('form', { class: 'staff-form ag-template-form', 'data-testid': 'template-form' }, present(
      h('h3', { text: `${t(`category.${e.category}` as MessageKey)} · ${t(`agreement.locale.${e.locale}` as MessageKey)}` }),
      input('name', 'agreement.tpl.name'),
      input('title', 'agreement.tpl.docTitle'),
      h('h4', { text: t('agreement.tpl.clauses') }),
      h('ol', { class: 'ag-clauses' }, clauseRows),
      fieldError('clauses'),
      h('button', { type: 'button', class: 'secondary', 'data-testid': 'template-add-clause', text: t('agreement.addClause'), onclick: () => { e.clauses.push({ kind: 'term', text: '' }); draw(); } }),
      h('div', { class: 'ag-actions' }, present(
        h('button', { type: 'submit', class: 'primary', 'data-testid': 'template-save', text: t('agreement.tpl.save') }),
        e.custom ? h('button', { type: 'button', class: 'secondary', 'data-testid': 'template-reset', text: t('agreement.tpl.reset'), onclick: () => void reset(e.category, e.locale) }) : null,
        h('button', { type: 'button', class: 'secondary', 'data-testid': 'template-close', text: t('agreement.tpl.close'), onclick: () => { editing = null; problems = {}; draw(); } }),
      )),
    ));
    f.addEventListener('submit', (event) => {
      event.preventDefault();
      void save();
    });
    return f;
  };

  const draw = () => {
    if (!organisationId) {
      el.replaceChildren(h('h2', { text: t('agreement.tpl.title') }), h('p', { class: 'muted', text: t('agreement.tpl.noOrganisation') }));
      return;
    }
    const rows = CATEGORIES.map((category) =>
      h('tr', { 'data-testid': 'template-row', 'data-category': category }, [
        h('th', { scope: 'row', text: t(`category.${category}` as MessageKey) }),
        ...LOCALES.map((locale) => {
          const tpl = find(category, locale);
          return h('td', {}, present(
            h('span', { class: tpl && !isBuiltin(tpl) ? 'ag-tpl-custom' : 'muted', text: tpl ? `${tpl.name} · ${isBuiltin(tpl) ? t('agreement.tpl.builtin') : t('agreement.tpl.custom')}` : t('agreement.tpl.builtin') }),
            ' ',
            h('button', { type: 'button', class: 'secondary small', 'data-testid': `template-edit-${category}-${locale}`, text: t('agreement.tpl.edit'), onclick: () => edit(category, locale) }),
          ));
        }),
      ]),
    );
    el.replaceChildren(...present(
      h('h2', { text: t('agreement.tpl.title') }),
      h('p', { class: 'hint', text: t('agreement.tpl.intro') }),
      notice ? h('p', { class: 'ag-notice', role: 'status', 'data-testid': 'template-notice', text: notice }) : null,
      h('table', { class: 'ag-template-table' }, [
        h('thead', {}, [h('tr', {}, [h('th', { text: t('agreement.tpl.category') }), ...LOCALES.map((l) => h('th', { text: t(`agreement.locale.${l}` as MessageKey) }))])]),
        h('tbody', {}, rows),
      ]),
      editing ? form(editing) : null,
    ));
    el.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  };

  // The admin page is made once per visit; the listener goes with the section.
  const off = onLanguageChange(() => {
    if (el.isConnected) draw();
    else off();
  });
  draw();
  void load();
  return el;
}

function isBuiltin(tpl: AgreementTemplate): boolean {
  return tpl.builtin === true || tpl.id.startsWith('builtin:');
}
