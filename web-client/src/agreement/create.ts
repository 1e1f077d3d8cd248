// "起草协议": the mediator picks a template (the organisation's, or the built-in text) and the
// agreement's language; for a family case also whether it concerns marriage, adoption or
// inheritance status, which decides that it cannot be signed electronically.

import { type MessageKey, t } from '../i18n';
import { h } from '../screens/dom';
import { type Agreement, type AgreementApi, type AgreementTemplate, errorStatus } from './api';
import type { AgreementLocale } from './doc';
import { present } from './format';
import { problemText } from './status';
import { ApiError } from '../staff/api';
import { problemsOf } from '../staff/problems';

/** Categories whose agreements may concern personal status (the server insists on the answer). */
export const PERSONAL_STATUS_CATEGORIES = new Set(['family']);

export interface CreateOptions {
  api: AgreementApi;
  caseId: string;
  category: string;
  locale: AgreementLocale;
  onCreated: (agreement: Agreement) => void;
}

export function createForm(options: CreateOptions): HTMLElement {
  const el = h('form', { class: 'ag-create staff-form', 'data-testid': 'agreement-create' });
  const templateSelect = h('select', { name: 'template_id', 'data-testid': 'agreement-template' });
  const localeSelect = h(
    'select',
    { name: 'locale', 'data-testid': 'agreement-locale' },
    (['zh-CN', 'en'] as const).map((l) => h('option', { value: l, text: t(`agreement.locale.${l}` as MessageKey), selected: l === options.locale })),
  );
  const status = h('p', { class: 'ag-create-status', role: 'status', 'data-testid': 'agreement-create-status' });
  const family = PERSONAL_STATUS_CATEGORIES.has(options.category);
  const personalError = h('p', { class: 'field-error', hidden: true, 'data-testid': 'agreement-personal-error' });
  const radio = (value: 'yes' | 'no') =>
    h('label', { class: 'ag-radio' }, [h('input', { type: 'radio', name: 'personal_status', value, 'data-testid': `agreement-personal-${value}` }), h('span', { text: t(value === 'yes' ? 'agreement.yes' : 'agreement.no') })]);
  let templates: AgreementTemplate[] = [];

  const loadTemplates = async () => {
    const locale = localeSelect.value === 'en' ? 'en' : 'zh-CN';
    templateSelect.replaceChildren(h('option', { value: '', text: t('agreement.loadingTemplates') }));
    try {
      templates = await options.api.templates(options.category, locale);
      templateSelect.replaceChildren(...templates.map((tpl) => h('option', { value: tpl.id, text: tpl.builtin || tpl.id.startsWith('builtin:') ? t('agreement.builtinTemplate', { name: tpl.name }) : tpl.name })));
      if (!templates.length) templateSelect.replaceChildren(h('option', { value: '', text: t('agreement.noTemplate') }));
    } catch (error) {
      templateSelect.replaceChildren(h('option', { value: '', text: t('agreement.noTemplate') }));
      status.textContent = problemText(error);
    }
  };
  localeSelect.addEventListener('change', () => void loadTemplates());

  el.addEventListener('submit', (event) => {
    event.preventDefault();
    const locale: AgreementLocale = localeSelect.value === 'en' ? 'en' : 'zh-CN';
    const body: { template_id?: string; locale: AgreementLocale; personal_status?: boolean } = { locale };
    if (templateSelect.value) body.template_id = templateSelect.value;
    if (family) {
      const chosen = el.querySelector<HTMLInputElement>('input[name=personal_status]:checked');
      personalError.hidden = !!chosen;
      personalError.textContent = chosen ? '' : t('agreement.personalRequired');
      if (!chosen) return;
      body.personal_status = chosen.value === 'yes';
    }
    const submit = el.querySelector<HTMLButtonElement>('button[type=submit]');
    if (submit) submit.disabled = true;
    status.textContent = t('agreement.creating');
    options.api
      .create(options.caseId, body)
      .then((agreement) => options.onCreated(agreement))
      .catch((error: unknown) => {
        if (submit) submit.disabled = false;
        if (error instanceof ApiError && errorStatus(error) === 422 && problemsOf(error).personal_status) {
          personalError.hidden = false;
          personalError.textContent = t('agreement.personalRequired');
          status.textContent = '';
        } else status.textContent = problemText(error);
      });
  });

  el.append(
    ...present(
    h('h3', { text: t('agreement.create') }),
    h('div', { class: 'field' }, [h('label', { text: t('agreement.template') }), templateSelect]),
    h('div', { class: 'field' }, [h('label', { text: t('agreement.localeLabel') }), localeSelect]),
    family
      ? h('fieldset', { class: 'field ag-personal', 'data-testid': 'agreement-personal' }, [
          h('legend', { text: t('agreement.personalQuestion') }),
          h('p', { class: 'hint', text: t('agreement.personalHint') }),
          h('div', { class: 'ag-radios' }, [radio('yes'), radio('no')]),
          personalError,
        ])
      : null,
    status,
    h('button', { type: 'submit', class: 'primary', 'data-testid': 'agreement-create-submit', text: t('agreement.createSubmit') }),
    ),
  );
  void loadTemplates();
  return el;
}
