// A case's page: its status and next steps, parties, sessions with their invites, evidence
// and audit trail. Everything is redrawn from the server's answer after each change, so
// what staff see is what is stored.

import QRCode from 'qrcode';
import { agreementSection } from '../agreement/case-section';
import { confirmationSection } from '../confirmation/case-section';
import { type MessageKey, t } from '../i18n';
import { h } from '../screens/dom';
import {
  ApiError,
  type AuditEntry,
  Notice,
  type CaseDetail,
  type Invite,
  type Party,
  type Session,
  type StaffMember,
  chinaDateTime,
  formatChinaTime,
  KeyedCreate,
} from './api';
import { problemsOf } from './problems';
import type { PageContext } from './app';
import { type Names, auditList } from './audit';
import { invitePanel as invitePanelOf } from './invites';
import { recordPath } from './record-view';
import { type RecordingSummary, listRecordings } from '../review/api';
import { recordingsSection } from '../review/list';

interface State {
  detail: CaseDetail | null;
  invites: Map<string, Invite[]>;
  audit: AuditEntry[];
  thumbnails: Map<string, string>;
  /** The invite whose link and message are open. */
  shown: Invite | null;
  shownQr: string | null;
  problems: Record<string, string>;
  sent: string | null;
  /** Active mediators of the case's organisation, to assign the case to. */
  mediators: StaffMember[];
  /** The case's recordings; null when they could not be listed (the rest of the page still shows). */
  recordings: RecordingSummary[] | null;
}

const label = (key: string) => t(key as MessageKey);

/** Steps that end or turn a case away rather than take it forward. */
const CLOSING = new Set(['declined', 'failed', 'rejected', 'closed']);

/**
 * Which of a case's actions is the one to take next. A case without a session yet (new,
 * assigned) gets a session scheduled: closing it is never what the page invites first. A step
 * that ends the case stays secondary while the case can go forward, and is primary only when it
 * is the one way on (after a failed mediation, a follow-up).
 */
export function nextStepEmphasis(detail: Pick<CaseDetail, 'case' | 'sessions' | 'next_statuses'>, canSchedule: boolean) {
  const scheduleFirst =
    canSchedule && detail.sessions.length === 0 && ['accepted', 'assigned', 'in_mediation'].includes(detail.case.status);
  const steps = detail.next_statuses.filter((status) => status !== 'assigned');
  const forward = steps.some((status) => !CLOSING.has(status));
  const step = (status: string): 'primary' | 'secondary' =>
    scheduleFirst || (CLOSING.has(status) && forward) ? 'secondary' : 'primary';
  return { scheduleFirst, step };
}

export function mountCaseDetail(main: HTMLElement, context: PageContext, caseId: string): () => void {
  const state: State = {
    detail: null,
    invites: new Map(),
    audit: [],
    thumbnails: new Map(),
    shown: null,
    shownQr: null,
    problems: {},
    sent: null,
    mediators: [],
    recordings: null,
  };
  const { client } = context;
  const scheduling = new KeyedCreate(client);
  const base = `/api/v1/cases/${encodeURIComponent(caseId)}`;
  const worker = context.me.role !== 'court';
  // Made once: its editor and what is typed there outlive the page's redraws.
  const agreement = agreementSection(context, caseId);
  const confirmation = confirmationSection(context, caseId);

  const reload = async () => {
    try {
      const detail = await client.call<CaseDetail>('GET', base);
      state.detail = detail;
      const audit = await client.call<{ items: AuditEntry[] }>('GET', `${base}/audit`);
      state.audit = audit.items;
      state.recordings = await listRecordings(client, caseId).catch(() => null);
      if (worker && assignable(detail) && state.mediators.length === 0) {
        // Only a choice to offer: a failure here leaves "assign to me".
        const query = `organisation_id=${encodeURIComponent(detail.case.organisation_id)}`;
        state.mediators = await client
          .call<{ items: StaffMember[] }>('GET', `/api/v1/staff?${query}`)
          .then((list) => list.items.filter((s) => s.role === 'mediator' && !s.disabled_at))
          .catch(() => []);
      }
      if (worker) {
        for (const session of detail.sessions) {
          const invites = await client.call<{ items: Invite[] }>('GET', `/api/v1/sessions/${session.id}/invites`);
          state.invites.set(session.id, invites.items);
        }
      }
      for (const item of detail.evidence) {
        if (!item.media_type.startsWith('image/') || state.thumbnails.has(item.id)) continue;
        const blob = await client.blob(`${base}/evidence/${item.id}`);
        state.thumbnails.set(item.id, URL.createObjectURL(blob));
      }
      draw();
    } catch (error) {
      context.fail(error);
    }
  };

  /** Runs a change, then shows the stored result; field errors stay next to their fields. */
  const act = (change: () => Promise<unknown>) => {
    state.problems = {};
    change()
      .then(() => {
        context.clearNotice();
        return reload();
      })
      .catch((error: unknown) => {
        if (error instanceof ApiError && error.status === 422) {
          state.problems = problemsOf(error);
          draw();
        } else if (error instanceof ApiError && (error.status === 413 || error.status === 415)) {
          context.fail(new Notice(t(error.status === 413 ? 'staff.detail.tooLarge' : 'staff.detail.wrongType')));
        } else context.fail(error);
      });
  };

  const showInvite = async (invite: Invite) => {
    state.shown = invite;
    state.sent = null;
    state.shownQr = await QRCode.toDataURL(invite.link, { margin: 2, width: 240, errorCorrectionLevel: 'M' });
    draw();
  };

  const draw = () => {
    const detail = state.detail;
    if (!detail) {
      main.replaceChildren(h('p', { text: t('staff.loading') }));
      return;
    }
    main.replaceChildren(
      h('div', { class: 'staff-page case-detail', 'data-testid': 'case-detail', 'data-status': detail.case.status }, [
        h('a', {
          href: '/staff/cases',
          class: 'back-link',
          text: t('staff.case.back'),
          onclick: (event: Event) => {
            event.preventDefault();
            context.go('/staff/cases');
          },
        }),
        summary(detail),
        partiesSection(detail),
        sessionsSection(detail),
        agreementPart(detail),
        confirmationPart(detail),
        recordingsSection(state.recordings, context.go),
        evidenceSection(detail),
        auditSection(),
      ]),
    );
  };

  const summary = (detail: CaseDetail) => {
    const c = detail.case;
    const emphasis = nextStepEmphasis(detail, worker);
    // Assigning has its own button: it names the mediator.
    const steps = detail.next_statuses.filter((status) => status !== 'assigned').map((status) =>
      h('button', {
        type: 'button',
        class: emphasis.step(status),
        'data-testid': `status-${status}`,
        text: label(`step.${status}`),
        onclick: () => {
          if (!confirm(t('staff.detail.confirmStep', { status: label(`status.${status}`) }))) return;
          act(() => client.call('POST', `${base}/status`, { status }));
        },
      }),
    );
    const assign = (mediatorId: string) => act(() => client.call('POST', `${base}/assign`, { mediator_id: mediatorId }));
    const assignMe =
      context.me.role === 'mediator' && assignable(detail) && c.mediator_id !== context.me.id
        ? h('button', {
            type: 'button',
            class: 'secondary',
            'data-testid': 'assign-me',
            text: t('staff.detail.assignMe'),
            onclick: () => assign(context.me.id),
          })
        : null;
    const others = state.mediators.filter((m) => m.id !== context.me.id && m.id !== c.mediator_id);
    const assignOther =
      worker && assignable(detail) && others.length
        ? h(
            'form',
            {
              class: 'inline-form',
              'data-testid': 'assign-form',
              onsubmit: (event: Event) => {
                event.preventDefault();
                const chosen = (event.target as HTMLFormElement).querySelector('select')?.value;
                if (chosen) assign(chosen);
              },
            },
            [
              h(
                'select',
                { name: 'mediator_id', 'data-testid': 'assign-select', 'aria-label': t('staff.detail.assignTo') },
                others.map((m) => h('option', { value: m.id, text: m.display_name })),
              ),
              h('button', { type: 'submit', class: 'secondary', 'data-testid': 'assign-submit', text: t('staff.detail.assign') }),
              state.problems.mediator_id ? h('p', { class: 'field-error', text: state.problems.mediator_id }) : null,
            ],
          )
        : null;
    return h('section', { class: 'case-summary' }, [
      h('h1', {}, [h('span', { 'data-testid': 'case-number', text: c.number }), ' ', c.title]),
      h('dl', { class: 'facts' }, [
        h('dt', { text: t('staff.case.status') }),
        h('dd', { 'data-testid': 'case-status', text: label(`status.${c.status}`) }),
        h('dt', { text: t('staff.case.risk') }),
        h('dd', {}, [h('span', { class: `risk risk-${c.risk}`, text: label(`risk.${c.risk}`) })]),
        h('dt', { text: t('staff.case.category') }),
        h('dd', { text: label(`category.${c.category}`) }),
        h('dt', { text: t('staff.detail.organisation') }),
        h('dd', { text: detail.organisation.name }),
        h('dt', { text: t('staff.detail.mediator') }),
        h('dd', { 'data-testid': 'case-mediator', text: detail.mediator?.display_name ?? t('staff.detail.unassigned') }),
        c.tracking_code ? h('dt', { text: t('staff.detail.tracking') }) : null,
        c.tracking_code ? h('dd', { text: c.tracking_code }) : null,
        h('dt', { text: t('staff.case.facts') }),
        h('dd', { class: 'long-text', text: c.facts }),
        h('dt', { text: t('staff.case.claims') }),
        h('dd', { class: 'long-text', text: c.claims }),
      ]),
      steps.length || assignMe || assignOther || emphasis.scheduleFirst
        ? h('div', { class: 'actions', 'data-testid': 'status-actions' }, [scheduleNext(emphasis.scheduleFirst), assignMe, assignOther, ...steps])
        : null,
    ]);
  };

  /** The first thing to do with a new case: its session, whose form is further down. */
  const scheduleNext = (shown: boolean) =>
    shown
      ? h('button', {
          type: 'button',
          class: 'primary',
          'data-testid': 'schedule-next',
          text: t('staff.detail.schedule'),
          onclick: () => {
            const at = main.querySelector<HTMLInputElement>('[data-testid=schedule-at]');
            at?.scrollIntoView({ block: 'center' });
            at?.focus();
          },
        })
      : null;

  const partiesSection = (detail: CaseDetail) => {
    const names = new Map(detail.parties.map((p) => [p.id, p.name]));
    const rows = detail.parties.map((p) =>
      h('li', { class: 'party-row', 'data-testid': 'party-row', 'data-name': p.name, 'data-side': p.side }, [
        h('strong', { text: p.name }),
        ` · ${label(`side.${p.side}`)} · ${label(`kind.${p.kind}`)}`,
        p.represents ? ` → ${names.get(p.represents) ?? ''}` : '',
        p.phone ? h('span', { class: 'muted', text: ` · ${p.phone}` }) : null,
        p.id_number_masked ? h('span', { class: 'muted', 'data-testid': 'id-masked', text: ` · ${p.id_number_masked}` }) : null,
        p.kind === 'representative' ? attorneyLetter(p) : null,
      ]),
    );
    return h('section', { class: 'case-section' }, [
      h('h2', { text: t('staff.case.parties') }),
      h('ul', { class: 'plain-list' }, rows),
      worker ? addPartyForm(detail.parties) : null,
    ]);
  };

  /** A representative's power of attorney (授权委托书): uploaded once, then noted. */
  const attorneyLetter = (party: Party) =>
    party.attorney_letter
      ? h('span', { class: 'attorney-letter', 'data-testid': 'attorney-letter-done', text: ` · ${t('staff.party.letterOnFile')}` })
      : worker
        ? fileButton('link-button attorney-letter', t('staff.party.uploadLetter'), 'attorney-letter-upload', (file) =>
            act(() => client.uploadTo(`${base}/parties/${encodeURIComponent(party.id)}/attorney-letter`, file)),
          )
        : h('span', { class: 'muted', text: ` · ${t('staff.party.noLetter')}` });

  const addPartyForm = (parties: Party[]) => {
    const principals = parties.filter((p) => !p.represents);
    const problem = (name: string) =>
      state.problems[name] ? h('p', { class: 'field-error', text: state.problems[name] }) : null;
    return h(
      'form',
      {
        class: 'inline-form',
        'data-testid': 'add-party',
        onsubmit: (event: Event) => {
          event.preventDefault();
          const data = Object.fromEntries(new FormData(event.target as HTMLFormElement)) as Record<string, string>;
          const helper = !['person', 'organisation'].includes(data.kind ?? '');
          act(() =>
            client.call('POST', `${base}/parties`, {
              side: data.side,
              kind: data.kind,
              name: data.name,
              phone: data.phone || undefined,
              id_number: data.id_number || undefined,
              represents: helper ? data.represents : undefined,
            }),
          );
        },
      },
      [
        h('select', { name: 'side', 'aria-label': t('staff.party.side') }, [
          h('option', { value: 'applicant', text: t('side.applicant') }),
          h('option', { value: 'respondent', text: t('side.respondent') }),
        ]),
        h(
          'select',
          { name: 'kind', 'aria-label': t('staff.party.kind') },
          ['person', 'organisation', 'representative', 'interpreter', 'expert'].map((k) =>
            h('option', { value: k, text: label(`kind.${k}`) }),
          ),
        ),
        h(
          'select',
          { name: 'represents', 'aria-label': t('staff.party.represents') },
          [h('option', { value: '', text: t('staff.party.represents') }), ...principals.map((p) => h('option', { value: p.id, text: p.name }))],
        ),
        h('input', { name: 'name', placeholder: t('staff.party.name'), 'aria-label': t('staff.party.name') }),
        h('input', { name: 'phone', type: 'tel', placeholder: t('staff.party.phone'), 'aria-label': t('staff.party.phone') }),
        h('input', { name: 'id_number', placeholder: t('staff.party.idNumber'), 'aria-label': t('staff.party.idNumber') }),
        h('button', { type: 'submit', class: 'secondary', text: t('staff.case.addParty') }),
        problem('name'),
        problem('phone'),
        problem('id_number'),
        problem('represents'),
      ],
    );
  };

  const sessionsSection = (detail: CaseDetail) => {
    const schedule = worker
      ? h(
          'form',
          {
            class: 'inline-form',
            'data-testid': 'schedule-form',
            onsubmit: (event: Event) => {
              event.preventDefault();
              const value = (event.target as HTMLFormElement).querySelector('input')?.value ?? '';
              const at = chinaDateTime(value);
              if (at === null) {
                state.problems = { scheduled_at: t('staff.detail.scheduleAt') };
                draw();
                return;
              }
              act(() => scheduling.post(`${base}/sessions`, { scheduled_at: at }));
            },
          },
          [
            h('label', {}, [
              t('staff.detail.scheduleAt'),
              h('input', { type: 'datetime-local', name: 'scheduled_at', 'data-testid': 'schedule-at', required: true }),
            ]),
            h('button', {
              type: 'submit',
              class: nextStepEmphasis(detail, worker).scheduleFirst ? 'primary' : 'secondary',
              'data-testid': 'schedule-submit',
              text: t('staff.detail.schedule'),
            }),
            state.problems.scheduled_at ? h('p', { class: 'field-error', text: state.problems.scheduled_at }) : null,
          ],
        )
      : null;
    return h('section', { class: 'case-section' }, [
      h('h2', { text: t('staff.detail.sessions') }),
      detail.sessions.length ? null : h('p', { class: 'muted', text: t('staff.detail.noSessions') }),
      ...detail.sessions.map((s) => sessionCard(s, detail.parties)),
      schedule,
    ]);
  };

  const sessionCard = (session: Session, parties: Party[]) => {
    const invites = state.invites.get(session.id) ?? [];
    const open = session.status === 'scheduled' || session.status === 'live';
    const inviteButtons = parties.map((party) => {
      const current = invites.filter((i) => i.party_id === party.id && i.status === 'active').pop();
      return h('button', {
        type: 'button',
        class: 'secondary',
        'data-testid': 'invite-button',
        'data-party-name': party.name,
        disabled: !open,
        text: `${t('staff.detail.invite')} ${party.name}${current ? ` (${t('invite.active')})` : ''}`,
        onclick: () => {
          if (current) {
            void showInvite(current);
            return;
          }
          client
            .call<Invite>('POST', `/api/v1/sessions/${session.id}/invites`, { party_id: party.id })
            .then(async (invite) => {
              state.invites.set(session.id, [...invites, invite]);
              await showInvite(invite);
            })
            .catch(context.fail);
        },
      });
    });
    const shown = state.shown && state.shown.session_id === session.id ? invitePanel(state.shown) : null;
    const record = recordPath(caseId, session.id);
    return h('div', { class: 'session-card', 'data-testid': 'session-card', 'data-status': session.status, 'data-session-id': session.id }, [
      h('p', { class: 'session-line' }, [
        h('strong', { text: formatChinaTime(session.scheduled_at) }),
        h('span', { 'data-testid': 'session-status', text: ` · ${label(`session.${session.status}`)} ` }),
        h('a', {
          href: record,
          class: 'session-record-link',
          'data-testid': `session-record-${session.id}`,
          text: t('staff.detail.record'),
          onclick: (event: Event) => {
            event.preventDefault();
            context.go(record);
          },
        }),
      ]),
      worker && open
        ? h('div', { class: 'actions' }, [
            h('button', {
              type: 'button',
              class: 'primary',
              'data-testid': 'start-session',
              text: t('staff.detail.start'),
              onclick: () =>
                client
                  .call<{ link: string }>('POST', `/api/v1/sessions/${session.id}/start`, {})
                  .then(({ link }) => {
                    location.href = link;
                  })
                  .catch(context.fail),
            }),
            ...inviteButtons,
          ])
        : null,
      invites.length
        ? h(
            'ul',
            { class: 'plain-list' },
            invites.map((invite) =>
              h('li', { 'data-testid': 'invite-row', 'data-status': invite.status, 'data-party-name': invite.name }, [
                // `expires_at` is in seconds, like the join token's `exp`.
                `${invite.name} · ${label(`invite.${invite.status}`)} · ${formatChinaTime(invite.expires_at * 1000)} `,
                invite.status === 'active'
                  ? h('button', {
                      type: 'button',
                      class: 'link-button',
                      'data-testid': 'invite-show',
                      text: t('staff.detail.showInvite'),
                      onclick: () => void showInvite(invite),
                    })
                  : null,
              ]),
            ),
          )
        : null,
      shown,
    ]);
  };

  const invitePanel = (invite: Invite) =>
    invitePanelOf(invite, {
      qr: state.shownQr,
      sent: state.sent,
      hasPhone: hasPhone(invite.party_id),
      send: () =>
        client
          .call<{ to_masked: string }>('POST', `/api/v1/invites/${invite.id}/send`, {})
          .then((sent) => {
            context.clearNotice();
            state.sent = t('staff.detail.sent', { to: sent.to_masked });
            void reload();
          })
          .catch((error: unknown) =>
            context.fail(error instanceof ApiError && error.status === 409 ? new Notice(t('staff.detail.noPhone')) : error),
          ),
      revoke: () => {
        state.shown = null;
        act(() => client.call('POST', `/api/v1/invites/${invite.id}/revoke`, {}));
      },
      downloadPng: () =>
        void client
          .blob(`/api/v1/invites/${invite.id}/qr.png`)
          .then((blob) => h('a', { href: URL.createObjectURL(blob), download: `invite-${invite.name}.png` }).click())
          .catch(context.fail),
    });

  const partyName = (partyId: string) => state.detail?.parties.find((p) => p.id === partyId)?.name ?? '';
  const hasPhone = (partyId: string) => Boolean(state.detail?.parties.find((p) => p.id === partyId)?.phone);

  const evidenceSection = (detail: CaseDetail) => {
    const upload = worker
      ? fileButton('upload button secondary', t('staff.detail.upload'), 'evidence-upload', (file) =>
          act(() => client.upload(caseId, file)),
        )
      : null;
    const items = detail.evidence.map((item) => {
      const thumbnail = state.thumbnails.get(item.id);
      return h('li', { class: 'evidence-item', 'data-testid': 'evidence-item', 'data-type': item.media_type }, [
        thumbnail ? h('img', { src: thumbnail, alt: item.file_name }) : h('span', { class: 'thumb-pdf', text: 'PDF' }),
        h('a', {
          href: '#',
          text: item.file_name,
          onclick: (event: Event) => {
            event.preventDefault();
            void client.blob(`${base}/evidence/${item.id}`).then((blob) => window.open(URL.createObjectURL(blob), '_blank'));
          },
        }),
        h('span', { class: 'muted', text: ` · ${Math.ceil(item.size / 1024)} KB · ${formatChinaTime(item.created_at)}` }),
        item.party_id ? h('span', { class: 'muted', text: partyName(item.party_id) }) : null,
      ]);
    });
    return h('section', { class: 'case-section' }, [
      h('h2', { text: t('staff.detail.evidence') }),
      items.length ? h('ul', { class: 'evidence-list' }, items) : h('p', { class: 'muted', text: t('staff.detail.noEvidence') }),
      upload,
    ]);
  };

  /** What audit entries refer to, by name: staff, parties, files, sessions, the organisation. */
  const detailNames = (): Names => {
    const names: Names = new Map([[`staff:${context.me.id}`, context.me.display_name]]);
    const detail = state.detail;
    if (!detail) return names;
    if (detail.mediator) names.set(`staff:${detail.mediator.id}`, detail.mediator.display_name);
    for (const m of state.mediators) names.set(`staff:${m.id}`, m.display_name);
    for (const party of detail.parties) names.set(`party:${party.id}`, party.name);
    for (const item of detail.evidence) names.set(`evidence:${item.id}`, item.file_name);
    for (const session of detail.sessions) names.set(`session:${session.id}`, formatChinaTime(session.scheduled_at));
    names.set(`organisation:${detail.organisation.id}`, detail.organisation.name);
    return names;
  };

  const agreementPart = (detail: CaseDetail) => {
    agreement.update(detail);
    return agreement.el;
  };

  const confirmationPart = (detail: CaseDetail) => {
    confirmation.update(detail);
    return confirmation.el;
  };

  const auditSection = () =>
    h('section', { class: 'case-section' }, [h('h2', { text: t('staff.detail.audit') }), auditList(state.audit, detailNames())]);

  draw();
  void reload();
  return draw;
}

/** Whether the case can be given to a mediator now. */
function assignable(detail: CaseDetail): boolean {
  return detail.case.status === 'accepted' || detail.case.status === 'assigned' || detail.next_statuses.includes('assigned');
}

/** A button-like label that picks one photo or PDF (the input itself stays hidden). */
function fileButton(className: string, text: string, testId: string, picked: (file: File) => void): HTMLElement {
  return h('label', { class: className }, [
    text,
    h('input', {
      type: 'file',
      class: 'visually-hidden',
      accept: 'image/*,application/pdf',
      'data-testid': testId,
      onchange: (event: Event) => {
        const file = (event.target as HTMLInputElement).files?.[0];
        if (file) picked(file);
      },
    }),
  ]);
}
