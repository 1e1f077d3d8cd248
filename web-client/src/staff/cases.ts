// The case list (filters, search, more pages) and the form that registers a case with its
// parties.

import { statusBadge } from '../confirmation/status-badge';
import type { ConfirmationBadge } from '../confirmation/types';
import { type MessageKey, t } from '../i18n';
import { CATEGORIES } from '../intake/form';
import { h } from '../screens/dom';
import { ApiError, type Case, type CaseDetail, KeyedCreate, type Organisation, chinaDayStart, formatChinaTime } from './api';
import { problemsOf } from './problems';
import type { PageContext } from './app';

export const STATUSES = [
  'intake',
  'accepted',
  'assigned',
  'in_mediation',
  'agreement_reached',
  'failed',
  'signed',
  'confirmation_requested',
  'confirmed',
  'rejected',
  'follow_up',
  'closed',
  'declined',
] as const;

// The same categories residents pick from when they apply online.
export { CATEGORIES };

const DAY_MS = 24 * 3600 * 1000;

/** The list query for the filter values in a page's URL. */
export function listQuery(filters: URLSearchParams, after?: string): string {
  const query = new URLSearchParams();
  for (const key of ['status', 'category', 'q']) {
    const value = filters.get(key)?.trim();
    if (value) query.set(key, value);
  }
  const from = chinaDayStart(filters.get('from') ?? '');
  if (from !== null) query.set('from', String(from));
  const to = chinaDayStart(filters.get('to') ?? '');
  // The "to" day is included: the API's bound is the start of the next day.
  if (to !== null) query.set('to', String(to + DAY_MS));
  if (after) query.set('after', after);
  return query.toString();
}

export function mountCaseList(main: HTMLElement, context: PageContext, filters: URLSearchParams): () => void {
  let items: Case[] = [];
  let next: string | null = null;
  let loaded = false;
  const load = (after?: string) =>
    context.client
      .call<{ items: Case[]; next: string | null }>('GET', `/api/v1/cases?${listQuery(filters, after)}`)
      .then((page) => {
        items = after ? items.concat(page.items) : page.items;
        next = page.next;
        loaded = true;
        draw();
      })
      .catch(context.fail);

  const draw = () => {
    const select = (name: string, options: readonly string[], anyKey: MessageKey, prefix: string) =>
      h(
        'select',
        { name, 'data-testid': `filter-${name}`, 'aria-label': t(anyKey) },
        [
          h('option', { value: '', text: t(anyKey) }),
          ...options.map((value) =>
            h('option', { value, text: t(`${prefix}.${value}` as MessageKey), selected: filters.get(name) === value }),
          ),
        ],
      );
    const date = (name: string, label: MessageKey) =>
      h('label', { class: 'filter-date' }, [
        t(label),
        h('input', { type: 'date', name, 'data-testid': `filter-${name}`, value: filters.get(name) ?? '' }),
      ]);
    const form = h(
      'form',
      {
        class: 'case-filters',
        'data-testid': 'case-filters',
        onsubmit: (event: Event) => {
          event.preventDefault();
          const data = new FormData(event.target as HTMLFormElement);
          const query = new URLSearchParams();
          for (const [key, value] of data) if (typeof value === 'string' && value.trim()) query.set(key, value.trim());
          const search = query.toString();
          context.go(`/staff/cases${search ? `?${search}` : ''}`);
        },
      },
      [
        h('input', {
          type: 'search',
          name: 'q',
          'data-testid': 'filter-q',
          placeholder: t('staff.cases.search'),
          value: filters.get('q') ?? '',
        }),
        select('status', STATUSES, 'staff.cases.anyStatus', 'status'),
        select('category', CATEGORIES, 'staff.cases.anyCategory', 'category'),
        date('from', 'staff.cases.from'),
        date('to', 'staff.cases.to'),
        h('button', { type: 'submit', class: 'secondary', 'data-testid': 'filter-submit', text: t('staff.cases.filter') }),
        [...filters.values()].some((v) => v.trim())
          ? h('button', {
              type: 'button',
              class: 'link-button',
              'data-testid': 'filter-clear',
              text: t('staff.cases.clear'),
              onclick: () => context.go('/staff/cases'),
            })
          : null,
      ],
    );
    const mayCreate = context.me.role !== 'court';
    const rows = items.map((c) =>
      h('tr', { class: 'case-row', 'data-testid': 'case-row', 'data-number': c.number, 'data-status': c.status }, [
        h('td', {}, [
          h('a', {
            href: `/staff/cases/${c.id}`,
            text: c.number,
            onclick: (event: Event) => {
              event.preventDefault();
              context.go(`/staff/cases/${c.id}`);
            },
          }),
        ]),
        h('td', { text: c.title }),
        h('td', {}, [h('span', { class: `risk risk-${c.risk}`, text: t(`risk.${c.risk}` as MessageKey) })]),
        h('td', { text: t(`category.${c.category}` as MessageKey) }),
        h('td', {}, [t(`status.${c.status}` as MessageKey), statusBadge((c as Case & { confirmation?: ConfirmationBadge | null }).confirmation)]),
        h('td', { text: formatChinaTime(c.created_at) }),
      ]),
    );
    main.replaceChildren(
      h('div', { class: 'staff-page' }, [
        h('div', { class: 'page-title' }, [
          h('h1', { text: t('staff.cases.title') }),
          mayCreate
            ? h('button', {
                type: 'button',
                class: 'primary',
                'data-testid': 'new-case',
                text: t('staff.cases.new'),
                onclick: () => context.go('/staff/cases/new'),
              })
            : null,
        ]),
        form,
        !loaded
          ? h('p', { text: t('staff.loading') })
          : items.length === 0
            ? h('p', { 'data-testid': 'no-cases', text: t('staff.cases.empty') })
            : h('table', { class: 'case-table' }, [
                h('thead', {}, [
                  h('tr', {}, [
                    h('th', { text: t('staff.cases.number') }),
                    h('th', { text: t('staff.case.title') }),
                    h('th', { text: t('staff.case.risk') }),
                    h('th', { text: t('staff.case.category') }),
                    h('th', { text: t('staff.case.status') }),
                    h('th', { text: t('staff.cases.created') }),
                  ]),
                ]),
                h('tbody', {}, rows),
              ]),
        next
          ? h('button', {
              type: 'button',
              class: 'secondary',
              'data-testid': 'more-cases',
              text: t('staff.cases.more'),
              onclick: () => void load(next ?? undefined),
            })
          : null,
      ]),
    );
  };
  draw();
  void load();
  return draw;
}

interface PartyRow {
  side: 'applicant' | 'respondent';
  kind: 'person' | 'organisation';
  name: string;
  phone: string;
  id_number: string;
}

const emptyParty = (side: PartyRow['side']): PartyRow => ({ side, kind: 'person', name: '', phone: '', id_number: '' });

/** The form fields a 422 may name that the new-case form shows next to a field. */
export function shownFields(partyCount: number): Set<string> {
  const names = ['organisation_id', 'category', 'risk', 'title', 'facts', 'claims', 'parties'];
  for (let i = 0; i < partyCount; i++) {
    for (const field of ['side', 'kind', 'name', 'phone', 'id_number']) names.push(`parties[${i}].${field}`);
  }
  return new Set(names);
}

export function mountNewCase(main: HTMLElement, context: PageContext): () => void {
  const form = { organisation_id: '', category: '', risk: 'blue', title: '', facts: '', claims: '' };
  const parties: PartyRow[] = [emptyParty('applicant'), emptyParty('respondent')];
  // A system administrator belongs to no organisation and picks the one taking the case.
  const picksOrganisation = context.me.organisation_id === null;
  let organisations: Organisation[] = [];
  // Pressing the button again after a lost answer repeats the same create, which the server
  // recognises by its key.
  const create = new KeyedCreate(context.client);
  let problems: Record<string, string> = {};
  let busy = false;

  const submit = () => {
    if (busy) return;
    busy = true;
    const { organisation_id, ...fields } = form;
    const body = {
      ...fields,
      organisation_id: picksOrganisation ? organisation_id : undefined,
      parties: parties.map((p) => ({
        side: p.side,
        kind: p.kind,
        name: p.name,
        phone: p.phone || undefined,
        id_number: p.id_number || undefined,
      })),
    };
    create
      .post<CaseDetail>('/api/v1/cases', body)
      .then((detail) => context.go(`/staff/cases/${detail.case.id}`))
      .catch((error: unknown) => {
        busy = false;
        if (error instanceof ApiError && error.status === 422) {
          problems = problemsOf(error);
          draw();
          main.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
        } else context.fail(error);
      });
  };

  const draw = () => {
    const error = (name: string) =>
      problems[name] ? h('p', { class: 'field-error', 'data-testid': `error-${name}`, text: problems[name] }) : null;
    const text = (name: keyof typeof form, label: MessageKey, long = false) =>
      h('div', { class: 'field' }, [
        h('label', { for: `case-${name}`, text: t(label) }),
        h(long ? 'textarea' : 'input', {
          id: `case-${name}`,
          'data-testid': `case-${name}`,
          'aria-invalid': problems[name] ? 'true' : undefined,
          oninput: (event: Event) => {
            form[name] = (event.target as HTMLInputElement).value;
          },
        }),
        error(name),
      ]);
    const choose = (name: 'category' | 'risk', label: MessageKey, options: readonly string[], prefix: string) =>
      h('div', { class: 'field' }, [
        h('label', { for: `case-${name}`, text: t(label) }),
        h(
          'select',
          {
            id: `case-${name}`,
            'data-testid': `case-${name}`,
            'aria-invalid': problems[name] ? 'true' : undefined,
            onchange: (event: Event) => {
              form[name] = (event.target as HTMLSelectElement).value;
            },
          },
          [
            name === 'category' ? h('option', { value: '', text: '—' }) : null,
            ...options.map((value) =>
              h('option', { value, text: t(`${prefix}.${value}` as MessageKey), selected: form[name] === value }),
            ),
          ],
        ),
        error(name),
      ]);
    const partyRow = (party: PartyRow, index: number) => {
      const field = (name: 'name' | 'phone' | 'id_number', label: MessageKey, type = 'text') =>
        h('div', { class: 'field' }, [
          h('label', { for: `party-${index}-${name}`, text: t(label) }),
          h('input', {
            id: `party-${index}-${name}`,
            type,
            value: party[name],
            'data-testid': `party-${index}-${name}`,
            'aria-invalid': problems[`parties[${index}].${name}`] ? 'true' : undefined,
            oninput: (event: Event) => {
              party[name] = (event.target as HTMLInputElement).value;
            },
          }),
          error(`parties[${index}].${name}`),
        ]);
      const pick = <K extends 'side' | 'kind'>(name: K, options: readonly PartyRow[K][], prefix: string) =>
        h(
          'select',
          {
            'data-testid': `party-${index}-${name}`,
            'aria-label': t(name === 'side' ? 'staff.party.side' : 'staff.party.kind'),
            onchange: (event: Event) => {
              party[name] = (event.target as HTMLSelectElement).value as PartyRow[K];
            },
          },
          options.map((value) => h('option', { value, text: t(`${prefix}.${value}` as MessageKey), selected: party[name] === value })),
        );
      return h('fieldset', { class: 'party-form', 'data-testid': 'party-form', 'data-index': String(index) }, [
        h('legend', { text: `${t('staff.case.parties')} ${index + 1}` }),
        h('div', { class: 'party-picks' }, [
          pick('side', ['applicant', 'respondent'], 'side'),
          pick('kind', ['person', 'organisation'], 'kind'),
        ]),
        error(`parties[${index}].side`),
        error(`parties[${index}].kind`),
        field('name', 'staff.party.name'),
        field('phone', 'staff.party.phone', 'tel'),
        field('id_number', 'staff.party.idNumber'),
        parties.length > 2
          ? h('button', {
              type: 'button',
              class: 'secondary',
              text: t('staff.party.remove'),
              onclick: () => {
                parties.splice(index, 1);
                draw();
              },
            })
          : null,
      ]);
    };
    const organisationChoice = () =>
      h('div', { class: 'field' }, [
        h('label', { for: 'case-organisation_id', text: t('staff.case.organisation') }),
        h(
          'select',
          {
            id: 'case-organisation_id',
            'data-testid': 'case-organisation_id',
            'aria-invalid': problems.organisation_id ? 'true' : undefined,
            onchange: (event: Event) => {
              form.organisation_id = (event.target as HTMLSelectElement).value;
            },
          },
          [
            h('option', { value: '', text: '—' }),
            ...organisations.map((o) => h('option', { value: o.id, text: o.name, selected: form.organisation_id === o.id })),
          ],
        ),
        error('organisation_id'),
      ]);
    // Problems with fields this form does not show (a newer server's) are listed, never lost.
    const otherProblems = () => {
      const shown = shownFields(parties.length);
      const rest = Object.entries(problems).filter(([field]) => !shown.has(field));
      return rest.length
        ? h('div', { class: 'field-error', role: 'alert', 'data-testid': 'other-problems' }, [
            h('p', { text: t('staff.case.otherProblems') }),
            h('ul', {}, rest.map(([field, message]) => h('li', { text: `${field}: ${message}` }))),
          ])
        : null;
    };
    main.replaceChildren(
      h(
        'form',
        {
          class: 'staff-page staff-form',
          'data-testid': 'new-case-form',
          onsubmit: (event: Event) => {
            event.preventDefault();
            submit();
          },
        },
        [
          h('h1', { text: t('staff.cases.new') }),
          picksOrganisation ? organisationChoice() : null,
          choose('category', 'staff.case.category', CATEGORIES, 'category'),
          choose('risk', 'staff.case.risk', ['blue', 'yellow', 'red'], 'risk'),
          text('title', 'staff.case.title'),
          text('facts', 'staff.case.facts', true),
          text('claims', 'staff.case.claims', true),
          error('parties'),
          ...parties.map(partyRow),
          h('button', {
            type: 'button',
            class: 'secondary',
            'data-testid': 'add-party-row',
            text: t('staff.case.addParty'),
            onclick: () => {
              parties.push(emptyParty('respondent'));
              draw();
            },
          }),
          otherProblems(),
          h('button', { type: 'submit', class: 'primary', 'data-testid': 'create-case', text: t('staff.case.create') }),
        ],
      ),
    );
    // Values typed before a redraw stay: the inputs are rebuilt from `form`.
    for (const name of ['title', 'facts', 'claims'] as const) {
      const input = main.querySelector<HTMLInputElement>(`#case-${name}`);
      if (input) input.value = form[name];
    }
  };
  draw();
  if (picksOrganisation) {
    context.client
      .call<{ items: Organisation[] }>('GET', '/api/v1/organisations')
      .then((list) => {
        organisations = list.items;
        if (organisations.length === 1 && organisations[0]) form.organisation_id = organisations[0].id;
        draw();
      })
      .catch(context.fail);
  }
  return draw;
}
