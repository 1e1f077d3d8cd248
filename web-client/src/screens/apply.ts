// The online intake page (/apply): a resident applies for mediation from a phone. One
// column, large targets, the phone keyboard for phone numbers; photos show as thumbnails
// that can be removed. The idempotency key is made once per application and kept across
// retries, so pressing Submit again after a dropped connection never files twice.

import { type MessageKey, t } from '../i18n';
import { type Submitted, fetchRegions, submitIntake } from '../intake/api';
import {
  ACCEPTED_FILES,
  CATEGORIES,
  type FieldName,
  type IntakeForm,
  MAX_FILE_BYTES,
  MAX_FILES,
  type Problems,
  emptyForm,
  newIdempotencyKey,
  problemsFromServer,
  toApplication,
  validate,
} from '../intake/form';
import { h } from './dom';
import { header } from './header';

interface Picked {
  file: File;
  url: string;
}

interface State {
  form: IntakeForm;
  files: Picked[];
  problems: Problems;
  key: string;
  busy: boolean;
  notice: MessageKey | null;
  regions: string[] | null;
  done: Submitted | null;
}

type TextField = {
  [K in keyof IntakeForm]: IntakeForm[K] extends string ? K : never;
}[keyof IntakeForm];

/** Shows the page in `root`; returns the function that redraws it (language change). */
export function mountApply(root: HTMLElement): () => void {
  const state: State = {
    form: emptyForm(),
    files: [],
    problems: {},
    key: newIdempotencyKey(),
    busy: false,
    notice: null,
    regions: null,
    done: null,
  };
  const render = () => root.replaceChildren(header(), state.done ? doneView(state.done) : formView(state, render));
  fetchRegions()
    .then((regions) => {
      state.regions = regions;
      if (regions.length === 1 && !state.form.region) state.form.region = regions[0] ?? '';
    })
    .catch(() => {
      state.regions = [];
      state.notice = 'error.network';
    })
    .finally(render);
  render();
  return render;
}

function formView(state: State, render: () => void): HTMLElement {
  const { form, problems } = state;
  const input = (key: TextField, name: FieldName, props: Record<string, string> = {}) =>
    h('input', {
      id: name,
      name,
      'data-testid': name,
      value: form[key],
      'aria-invalid': problems[name] ? 'true' : undefined,
      oninput: (e: Event) => {
        (form[key] as string) = (e.target as HTMLInputElement).value;
      },
      ...props,
    });
  const textarea = (key: 'facts' | 'claims', name: FieldName) => {
    const el = h('textarea', {
      id: name,
      name,
      'data-testid': name,
      rows: 4,
      'aria-invalid': problems[name] ? 'true' : undefined,
      oninput: (e: Event) => {
        form[key] = (e.target as HTMLTextAreaElement).value;
      },
    });
    el.value = form[key];
    return el;
  };
  const select = (name: FieldName, options: [string, string][], value: string, set: (v: string) => void) => {
    const el = h(
      'select',
      { id: name, name, 'data-testid': name, onchange: (e: Event) => set((e.target as HTMLSelectElement).value) },
      [h('option', { value: '', text: t('intake.regionPick') }), ...options.map(([v, label]) => h('option', { value: v, text: label }))],
    );
    el.value = value;
    return el;
  };

  const kinds = (['person', 'organisation'] as const).map((kind) =>
    h('label', { class: 'choice' }, [
      h('input', {
        type: 'radio',
        name: 'respondent.kind',
        value: kind,
        'data-testid': `respondent.kind.${kind}`,
        checked: form.respondentKind === kind,
        onchange: () => {
          form.respondentKind = kind;
        },
      }),
      t(kind === 'person' ? 'intake.kind.person' : 'intake.kind.organisation'),
    ]),
  );

  const regions = state.regions ?? [];
  return h('main', { class: 'intake', 'data-testid': 'intake-form' }, [
    h('h1', { text: t('intake.title') }),
    h('p', { class: 'hint', text: t('intake.intro') }),
    h('a', { class: 'intake-link', href: '/track', text: t('intake.trackLink') }),
    h('fieldset', {}, [
      h('legend', { text: t('intake.applicant') }),
      field(state, 'intake.name', 'applicant.name', input('applicantName', 'applicant.name', { autocomplete: 'name' })),
      field(
        state,
        'intake.phone',
        'applicant.phone',
        input('applicantPhone', 'applicant.phone', { type: 'tel', inputmode: 'tel', autocomplete: 'tel' }),
      ),
      field(state, 'intake.idNumber', 'applicant.id_number', input('idNumber', 'applicant.id_number', { autocomplete: 'off' })),
    ]),
    h('fieldset', {}, [
      h('legend', { text: t('intake.respondent') }),
      h('div', { class: 'choices', role: 'radiogroup' }, kinds),
      field(state, 'intake.respondentName', 'respondent.name', input('respondentName', 'respondent.name')),
      field(
        state,
        'intake.respondentPhone',
        'respondent.phone',
        input('respondentPhone', 'respondent.phone', { type: 'tel', inputmode: 'tel' }),
      ),
    ]),
    h('fieldset', {}, [
      h('legend', { text: t('intake.dispute') }),
      field(
        state,
        'intake.region',
        'region',
        select('region', regions.map((r) => [r, r]), form.region, (v) => {
          form.region = v;
        }),
        state.regions && regions.length === 0 ? 'intake.noRegions' : undefined,
      ),
      field(
        state,
        'intake.category',
        'category',
        select('category', CATEGORIES.map((c) => [c, t(`category.${c}`)]), form.category, (v) => {
          form.category = v as IntakeForm['category'];
        }),
      ),
      field(state, 'intake.facts', 'facts', textarea('facts', 'facts'), 'intake.factsHint'),
      field(state, 'intake.claims', 'claims', textarea('claims', 'claims'), 'intake.claimsHint'),
    ]),
    photosView(state, render),
    state.notice ? h('p', { class: 'problem', role: 'alert', 'data-testid': 'intake-notice', text: t(state.notice) }) : null,
    h('button', {
      class: 'primary intake-submit',
      type: 'button',
      'data-testid': 'intake-submit',
      disabled: state.busy,
      text: t(state.busy ? 'intake.submitting' : 'intake.submit'),
      onclick: () => void submit(state, render),
    }),
  ]);
}

const PROBLEM_TEXT: Record<NonNullable<Problems[FieldName]>, MessageKey> = {
  required: 'intake.error.required',
  tooLong: 'intake.error.tooLong',
  phone: 'intake.error.phone',
  idNumber: 'intake.error.idNumber',
  region: 'intake.error.region',
  tooMany: 'intake.error.tooMany',
  invalid: 'intake.error.invalid',
};

function field(state: State, label: MessageKey, name: FieldName, control: HTMLElement, hint?: MessageKey): HTMLElement {
  const problem = state.problems[name];
  return h('div', { class: 'field' }, [
    h('label', { for: name, text: t(label) }),
    control,
    hint ? h('p', { class: 'hint', text: t(hint) }) : null,
    problem
      ? h('p', { class: 'field-error', 'data-testid': `error-${name}`, text: t(PROBLEM_TEXT[problem], { max: String(MAX_FILES) }) })
      : null,
  ]);
}

function photosView(state: State, render: () => void): HTMLElement {
  const picker = h('input', {
    type: 'file',
    accept: ACCEPTED_FILES,
    multiple: true,
    class: 'visually-hidden',
    id: 'photos',
    'data-testid': 'photos',
    onchange: (e: Event) => {
      const target = e.target as HTMLInputElement;
      addFiles(state, [...(target.files ?? [])]);
      target.value = '';
      render();
    },
  });
  const thumbs = state.files.map((picked, index) =>
    h('div', { class: 'thumb', 'data-testid': 'photo-thumb' }, [
      picked.file.type.startsWith('image/')
        ? h('img', { src: picked.url, alt: picked.file.name })
        : h('span', { class: 'thumb-pdf', text: 'PDF' }),
      h('button', {
        type: 'button',
        class: 'thumb-remove',
        'aria-label': t('intake.remove'),
        text: '×',
        onclick: () => {
          URL.revokeObjectURL(picked.url);
          state.files.splice(index, 1);
          delete state.problems.photos;
          render();
        },
      }),
    ]),
  );
  const problem = state.problems.photos;
  return h('div', { class: 'field' }, [
    h('span', { class: 'label', text: t('intake.photos', { max: String(MAX_FILES) }) }),
    h('div', { class: 'thumbs' }, thumbs),
    state.files.length < MAX_FILES ? h('label', { class: 'button secondary add-photos', for: 'photos', text: t('intake.addPhotos') }) : null,
    picker,
    problem ? h('p', { class: 'field-error', text: t(PROBLEM_TEXT[problem], { max: String(MAX_FILES) }) }) : null,
  ]);
}

function addFiles(state: State, files: File[]): void {
  state.notice = null;
  for (const file of files) {
    if (state.files.length >= MAX_FILES) {
      state.problems.photos = 'tooMany';
      break;
    }
    if (file.size > MAX_FILE_BYTES) {
      state.notice = 'intake.error.fileSize';
      continue;
    }
    state.files.push({ file, url: URL.createObjectURL(file) });
  }
}

async function submit(state: State, render: () => void): Promise<void> {
  state.problems = validate(state.form, state.files.length);
  if (Object.keys(state.problems).length > 0) {
    state.notice = 'intake.fixFields';
    render();
    focusFirstProblem();
    return;
  }
  state.busy = true;
  state.notice = null;
  render();
  const result = await submitIntake(
    toApplication(state.form),
    state.files.map((p) => p.file),
    state.key,
  );
  state.busy = false;
  if (result.ok) {
    for (const picked of state.files) URL.revokeObjectURL(picked.url);
    state.done = result.value;
  } else {
    const failure = result.failure;
    if (failure.kind === 'fields') {
      state.problems = problemsFromServer(failure.fields);
      state.notice = 'intake.fixFields';
    } else {
      const notices: Record<typeof failure.kind, MessageKey> = {
        fileType: 'intake.error.fileType',
        fileSize: 'intake.error.fileSize',
        server: 'error.server',
        network: 'intake.retryHint',
        keyReused: 'intake.error.keyReused',
      };
      state.notice = notices[failure.kind];
      if (failure.kind === 'keyReused') state.key = newIdempotencyKey();
    }
  }
  render();
  if (Object.keys(state.problems).length > 0) focusFirstProblem();
}

/** On a phone the first wrong field is often off screen: take the visitor to it. */
function focusFirstProblem(): void {
  const first = document.querySelector<HTMLElement>('[aria-invalid="true"]');
  first?.focus();
  first?.scrollIntoView({ block: 'center' });
}

function doneView(done: Submitted): HTMLElement {
  return h('main', { class: 'intake intake-done', 'data-testid': 'intake-done' }, [
    h('h1', { text: t('intake.done.title') }),
    h('p', { text: t('intake.done.body') }),
    h('dl', { class: 'intake-result' }, [
      h('dt', { text: t('intake.done.code') }),
      h('dd', { class: 'tracking-code', 'data-testid': 'tracking-code', text: done.tracking_code }),
      h('dt', { text: t('intake.done.number') }),
      h('dd', { 'data-testid': 'case-number', text: done.case_number }),
    ]),
    h('a', {
      class: 'button primary',
      href: `/track?code=${encodeURIComponent(done.tracking_code)}`,
      'data-testid': 'track-link',
      text: t('intake.done.track'),
    }),
  ]);
}
