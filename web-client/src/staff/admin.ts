// Administration: organisations (system administrators), staff accounts, and an
// organisation's agreement templates.

import { templatesAdmin } from '../agreement/templates-admin';
import { type MessageKey, t } from '../i18n';
import { h } from '../screens/dom';
import { ApiError, type Organisation, type StaffMember } from './api';
import { problemsOf } from './problems';
import type { PageContext } from './app';

export function mountAdmin(main: HTMLElement, context: PageContext): () => void {
  const { client, me } = context;
  const system = me.organisation_id === null;
  let organisations: Organisation[] = [];
  let staff: StaffMember[] = [];
  // Field errors belong to the form that was sent (both forms have a `court`).
  let problems: Record<string, string> = {};
  let problemForm = '';
  // Made once, kept across redraws: a template half-edited survives a staff change above it.
  const templates = me.role === 'administrator' && me.organisation_id !== null ? templatesAdmin(context) : null;

  const reload = () =>
    Promise.all([
      client.call<{ items: Organisation[] }>('GET', '/api/v1/organisations'),
      client.call<{ items: StaffMember[] }>('GET', '/api/v1/staff'),
    ])
      .then(([orgs, people]) => {
        organisations = orgs.items;
        staff = people.items;
        draw();
      })
      .catch(context.fail);

  const submit = (path: string, form: HTMLFormElement) => {
    const data = Object.fromEntries(new FormData(form)) as Record<string, string>;
    const body = Object.fromEntries(Object.entries(data).filter(([, v]) => v.trim() !== ''));
    problems = {};
    problemForm = form.dataset.testid ?? '';
    client
      .call('POST', path, body)
      .then(() => {
        form.reset();
        return reload();
      })
      .catch((error: unknown) => {
        if (error instanceof ApiError && error.status === 422) {
          problems = problemsOf(error);
          // Redrawing rebuilds the forms: what was typed goes back in, to be corrected.
          const typed = [...new FormData(form)];
          draw();
          const again = main.querySelector<HTMLFormElement>(`form[data-testid="${problemForm}"]`);
          for (const [name, value] of typed) {
            const field = again?.elements.namedItem(name);
            if ((field instanceof HTMLInputElement || field instanceof HTMLSelectElement) && typeof value === 'string') field.value = value;
          }
          again?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
        } else context.fail(error);
      });
  };

  const input = (formId: string, name: string, labelKey: MessageKey, type = 'text') =>
    h('div', { class: 'field' }, [
      h('label', { text: t(labelKey) }),
      h('input', {
        name,
        type,
        'data-testid': `admin-${name}`,
        'aria-invalid': problemForm === formId && problems[name] ? 'true' : undefined,
      }),
      problemForm === formId && problems[name] ? h('p', { class: 'field-error', text: problems[name] }) : null,
    ]);

  const draw = () => {
    const orgName = new Map(organisations.map((o) => [o.id, o.short_name]));
    main.replaceChildren(
      h('div', { class: 'staff-page' }, [
        h('h1', { text: t('staff.cases.admin') }),
        h('section', { class: 'case-section' }, [
          h('h2', { text: t('staff.admin.organisations') }),
          h(
            'ul',
            { class: 'plain-list' },
            organisations.map((o) =>
              h('li', { 'data-testid': 'organisation-row' }, [
                h('strong', { text: o.name }),
                ` · ${o.short_name} · ${o.region} · ${t(`channel.${o.channel}` as MessageKey)}${o.court ? ` · ${o.court}` : ''}`,
              ]),
            ),
          ),
          system
            ? h(
                'form',
                {
                  class: 'staff-form',
                  'data-testid': 'new-organisation',
                  onsubmit: (event: Event) => {
                    event.preventDefault();
                    submit('/api/v1/organisations', event.target as HTMLFormElement);
                  },
                },
                [
                  h('h3', { text: t('staff.admin.newOrganisation') }),
                  input('new-organisation', 'name', 'staff.admin.orgName'),
                  input('new-organisation', 'short_name', 'staff.admin.shortName'),
                  input('new-organisation', 'region', 'staff.admin.region'),
                  h('div', { class: 'field' }, [
                    h('label', { text: t('staff.admin.channel') }),
                    h(
                      'select',
                      { name: 'channel', 'data-testid': 'admin-channel' },
                      ['peoples', 'administrative', 'court_annexed'].map((c) =>
                        h('option', { value: c, text: t(`channel.${c}` as MessageKey) }),
                      ),
                    ),
                  ]),
                  input('new-organisation', 'court', 'staff.admin.court'),
                  h('button', { type: 'submit', class: 'primary', text: t('staff.admin.create') }),
                ],
              )
            : null,
        ]),
        h('section', { class: 'case-section' }, [
          h('h2', { text: t('staff.admin.staff') }),
          h(
            'ul',
            { class: 'plain-list' },
            staff.map((s) =>
              h('li', { 'data-testid': 'staff-row', 'data-username': s.username }, [
                h('strong', { text: s.display_name }),
                ` · ${s.username} · ${t(`role.${s.role}` as MessageKey)}`,
                s.organisation_id ? ` · ${orgName.get(s.organisation_id) ?? ''}` : '',
                s.court ? ` · ${s.court}` : '',
                s.disabled_at
                  ? h('span', { class: 'muted', text: ` · ${t('staff.admin.disabled')}` })
                  : s.id !== me.id
                    ? h('button', {
                        type: 'button',
                        class: 'secondary small',
                        text: t('staff.admin.disable'),
                        onclick: () => {
                          // Disabling signs the person out everywhere at once.
                          if (!confirm(t('staff.admin.confirmDisable', { name: s.display_name }))) return;
                          client.call('POST', `/api/v1/staff/${s.id}/disable`).then(reload).catch(context.fail);
                        },
                      })
                    : null,
              ]),
            ),
          ),
          h(
            'form',
            {
              class: 'staff-form',
              'data-testid': 'new-staff',
              onsubmit: (event: Event) => {
                event.preventDefault();
                submit('/api/v1/staff', event.target as HTMLFormElement);
              },
            },
            [
              h('h3', { text: t('staff.admin.newStaff') }),
              input('new-staff', 'username', 'staff.login.username'),
              input('new-staff', 'display_name', 'staff.setup.displayName'),
              input('new-staff', 'password', 'staff.login.password', 'password'),
              h('div', { class: 'field' }, [
                h('label', { text: t('staff.admin.role') }),
                h(
                  'select',
                  { name: 'role', 'data-testid': 'admin-role' },
                  ['mediator', 'administrator', 'court'].map((r) => h('option', { value: r, text: t(`role.${r}` as MessageKey) })),
                ),
              ]),
              h('div', { class: 'field' }, [
                h('label', { text: t('staff.detail.organisation') }),
                h('select', { name: 'organisation_id', 'data-testid': 'admin-organisation_id' }, [
                  system ? h('option', { value: '', text: t('staff.admin.none') }) : null,
                  ...organisations.map((o) => h('option', { value: o.id, text: o.name })),
                ]),
                problemForm === 'new-staff' && problems.organisation_id
                  ? h('p', { class: 'field-error', text: problems.organisation_id })
                  : null,
              ]),
              system ? input('new-staff', 'court', 'staff.admin.court') : null,
              h('button', { type: 'submit', class: 'primary', text: t('staff.admin.create') }),
            ],
          ),
        ]),
        templates,
      ]),
    );
  };
  draw();
  void reload();
  return draw;
}
