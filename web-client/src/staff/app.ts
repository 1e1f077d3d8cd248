// The staff side of the app, under /staff: first-run setup, sign-in, the case list, a new
// case, a case's page, a session's record, a recording's review, and administration. One page
// at a time is drawn into the root; links between them use the history API so the back button works.

import { type MessageKey, t } from '../i18n';
import { h } from '../screens/dom';
import { header } from '../screens/header';
import { mountAdmin } from './admin';
import { ApiError, Notice, type StaffClient, type StaffMember, browserClient } from './api';
import { problemsOf } from './problems';
import { mountCaseDetail } from './detail';
import { mountCaseList, mountNewCase } from './cases';
import { mountSessionRecord } from './record-view';
import { mountRecordingReview } from '../review/page';
import { mountCourtInbox } from '../court/inbox';
import { mountCourtRequest } from '../court/request-page';

/** What every page gets: the client, who is signed in, and how to move elsewhere. */
export interface PageContext {
  client: StaffClient;
  me: StaffMember;
  go: (path: string) => void;
  /** Shows a failed call as a message at the top of the page. */
  fail: (error: unknown) => void;
  /** Takes a shown failure away again, once something has worked. */
  clearNotice: () => void;
}

/** Mounts the staff app; returns the redraw function used when the language changes. */
export function mountStaff(root: HTMLElement): () => void {
  const client = browserClient();
  let redraw: () => void = () => {};
  const go = (path: string) => {
    if (location.pathname + location.search !== path) history.pushState(null, '', path);
    route();
  };
  const route = () => {
    redraw = () => undefined;
    void show(root, client, go).then((draw) => {
      redraw = draw;
    });
  };
  window.addEventListener('popstate', route);
  route();
  return () => redraw();
}

async function show(root: HTMLElement, client: StaffClient, go: (path: string) => void): Promise<() => void> {
  const path = location.pathname.replace(/\/+$/, '') || '/staff';
  if (path === '/staff/setup' || path === '/staff/login' || path === '/staff') {
    let needed = false;
    try {
      needed = await client.setupNeeded();
    } catch {
      // The setup check failing is not a reason to hide the login form.
    }
    if (needed && path !== '/staff/setup') return show(replace('/staff/setup'), client, go);
    if (!needed && path === '/staff/setup') return show(replace('/staff/login'), client, go);
    const signedIn = needed ? null : await client.resume();
    if (path === '/staff' || (path === '/staff/login' && signedIn)) {
      return show(replace(signedIn ? afterSignIn(location.search, signedIn.role) : '/staff/login'), client, go);
    }
    return signInPage(root, client, go, needed);
  }
  const me = await client.resume();
  if (!me) return show(replace(loginReturningTo(location.pathname + location.search)), client, go);

  const notice = h('p', { class: 'staff-notice', role: 'alert', hidden: true, 'data-testid': 'staff-notice' });
  const main = h('main', { class: 'staff-main' });
  const fail = (error: unknown) => {
    if (error instanceof ApiError && error.status === 401) {
      client.forget();
      go(loginReturningTo(location.pathname + location.search));
      return;
    }
    notice.hidden = false;
    notice.textContent = describe(error);
  };
  const clearNotice = () => {
    notice.hidden = true;
    notice.textContent = '';
  };
  const context: PageContext = { client, me, go, fail, clearNotice };
  const drawShell = () => root.replaceChildren(header(), staffBar(context), notice, main);
  drawShell();
  let redrawPage: () => void;
  const caseMatch = /^\/staff\/cases\/([A-Za-z0-9_]+)$/.exec(path);
  const recordMatch = /^\/staff\/cases\/([A-Za-z0-9_]+)\/sessions\/([A-Za-z0-9_]+)\/record$/.exec(path);
  const recordingMatch = /^\/staff\/recordings\/([A-Za-z0-9_-]+)$/.exec(path);
  const courtRequestMatch = /^\/staff\/court\/requests\/([A-Za-z0-9_]+)$/.exec(path);
  if (path === '/staff/cases') redrawPage = mountCaseList(main, context, new URLSearchParams(location.search));
  else if (path === '/staff/cases/new' && me.role !== 'court') redrawPage = mountNewCase(main, context);
  else if (caseMatch?.[1]) redrawPage = mountCaseDetail(main, context, caseMatch[1]);
  else if (recordMatch?.[1] && recordMatch[2]) redrawPage = mountSessionRecord(main, context, recordMatch[1], recordMatch[2]);
  else if (recordingMatch?.[1]) redrawPage = mountRecordingReview(main, context, recordingMatch[1]);
  else if (path === '/staff/admin') redrawPage = mountAdmin(main, context);
  else if (path === '/staff/court') redrawPage = mountCourtInbox(main, context, new URLSearchParams(location.search));
  else if (courtRequestMatch?.[1]) redrawPage = mountCourtRequest(main, context, courtRequestMatch[1]);
  else return show(replace('/staff/cases'), client, go);
  return () => {
    drawShell();
    redrawPage();
  };
}

/** The sign-in page, which comes back to `path` afterwards (a case opened from a link). */
export function loginReturningTo(path: string): string {
  return path.startsWith('/staff/') ? `/staff/login?next=${encodeURIComponent(path)}` : '/staff/login';
}

/**
 * Where sign-in leads: the page it interrupted when that is a staff page, else a court
 * user's inbox or everyone else's cases.
 */
export function afterSignIn(search: string, role?: StaffMember['role']): string {
  const next = new URLSearchParams(search).get('next') ?? '';
  // Only a path of this app: never another site, never the sign-in pages again.
  const own = /^\/staff\/[^/]/.test(next) && !/^\/staff\/(login|setup)\b/.test(next);
  return own ? next : role === 'court' ? '/staff/court' : '/staff/cases';
}

function replace(path: string): HTMLElement {
  history.replaceState(null, '', path);
  return document.getElementById('app') as HTMLElement;
}

/** A failed call in words a staff member can act on. */
export function describe(error: unknown): string {
  if (error instanceof Notice) return error.message;
  if (error instanceof ApiError) {
    if (error.status === 403) return t('staff.error.forbidden');
    if (error.status === 404) return t('staff.error.notFound');
    if (error.code === 'network') return t('error.network');
    return t('staff.error.generic', { message: error.message });
  }
  return t('error.network');
}

function staffBar(context: PageContext): HTMLElement {
  const { me, client, go } = context;
  const role = t(`role.${me.role}` as MessageKey);
  return h('nav', { class: 'staff-bar' }, [
    h('a', {
      href: '/staff/cases',
      'data-testid': 'nav-cases',
      text: t('staff.cases.title'),
      onclick: (event: Event) => {
        event.preventDefault();
        go('/staff/cases');
      },
    }),
    me.role === 'court'
      ? h('a', {
          href: '/staff/court',
          'data-testid': 'nav-court',
          text: t('court.nav'),
          onclick: (event: Event) => {
            event.preventDefault();
            go('/staff/court');
          },
        })
      : null,
    me.role === 'administrator'
      ? h('a', {
          href: '/staff/admin',
          'data-testid': 'nav-admin',
          text: t('staff.cases.admin'),
          onclick: (event: Event) => {
            event.preventDefault();
            go('/staff/admin');
          },
        })
      : null,
    h('span', { class: 'staff-who', 'data-testid': 'signed-in-as', text: t('staff.signedInAs', { name: me.display_name, role }) }),
    h('button', {
      type: 'button',
      class: 'secondary',
      'data-testid': 'logout',
      text: t('staff.logout'),
      onclick: () => void client.logout().then(() => go('/staff/login')),
    }),
  ]);
}

function signInPage(root: HTMLElement, client: StaffClient, go: (path: string) => void, setup: boolean): () => void {
  const values = { username: '', displayName: '', password: '' };
  let problem = '';
  let fields: Record<string, string> = {};
  let busy = false;
  const draw = () => {
    const field = (name: 'username' | 'displayName' | 'password', label: MessageKey, type = 'text') =>
      h('div', { class: 'field' }, [
        h('label', { for: `staff-${name}`, text: t(label) }),
        h('input', {
          id: `staff-${name}`,
          name,
          type,
          'data-testid': `login-${name}`,
          autocomplete: name === 'password' ? (setup ? 'new-password' : 'current-password') : name === 'username' ? 'username' : 'name',
          value: values[name],
          oninput: (event: Event) => {
            values[name] = (event.target as HTMLInputElement).value;
          },
        }),
        fields[name === 'displayName' ? 'display_name' : name]
          ? h('p', { class: 'field-error', text: fields[name === 'displayName' ? 'display_name' : name] })
          : null,
      ]);
    const form = h(
      'form',
      {
        class: 'staff-login',
        'data-testid': 'login-form',
        onsubmit: (event: Event) => {
          event.preventDefault();
          if (busy) return;
          busy = true;
          const attempt = setup
            ? client.setup(values.username.trim(), values.displayName.trim(), values.password)
            : client.login(values.username.trim(), values.password);
          attempt
            .then((signedIn) => go(afterSignIn(location.search, signedIn.role)))
            .catch((error: unknown) => {
              busy = false;
              fields = error instanceof ApiError ? problemsOf(error) : {};
              // A 422's fields are shown next to their inputs; nothing more to say above them.
              problem =
                error instanceof ApiError && error.status === 401
                  ? t('staff.login.failed')
                  : error instanceof ApiError && error.status === 422
                    ? ''
                    : describe(error);
              draw();
            });
        },
      },
      [
        h('h1', { text: t(setup ? 'staff.setup.title' : 'staff.login.title') }),
        field('username', 'staff.login.username'),
        setup ? field('displayName', 'staff.setup.displayName') : null,
        field('password', 'staff.login.password', 'password'),
        problem ? h('p', { class: 'field-error', role: 'alert', 'data-testid': 'login-problem', text: problem }) : null,
        h('button', {
          type: 'submit',
          class: 'primary',
          'data-testid': 'login-submit',
          text: t(setup ? 'staff.setup.submit' : 'staff.login.submit'),
        }),
      ],
    );
    root.replaceChildren(header(), form);
  };
  draw();
  return draw;
}
