// @vitest-environment happy-dom
// The party's case page `/case#token=…`: the agreement in force, then the application; a bad,
// expired or refused link says so like /join does; the staff case list badge and the end of a
// session lead here.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Agreement } from '../agreement/api';
import { setLanguage } from '../i18n';
import { endScreen } from '../screens/end-screen';
import { viewJson } from './fixtures.test-util';
import { mountPartyCase } from './party-page';
import { statusBadge } from './status-badge';

function token(claims: Record<string, unknown>): string {
  const part = (value: unknown) => btoa(JSON.stringify(value)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  return `${part({ alg: 'EdDSA' })}.${part(claims)}.sig`;
}

const CASE_LINK = token({ sub: 'PT_a', room: '', role: 'party', case: 'CA_1', exp: 4_000_000_000 });

const agreement = {
  id: 'AG_1',
  case_id: 'CA_1',
  status: 'in_force',
  version: 2,
  final: { version: 2, text: '…', text_sha256: 'b5f11634e3c1129c0000', finalised_at: 1, finalised_by_name: '王调解' },
  effective_at: Date.UTC(2026, 11, 6, 2),
  pdf_url: '/api/v1/agreements/AG_1/pdf',
} as unknown as Agreement;

let routes: Record<string, { status: number; body: unknown }> = {};
const asked: string[] = [];

beforeEach(() => {
  setLanguage('zh-CN');
  routes = {};
  asked.length = 0;
  vi.stubGlobal('fetch', async (url: string) => {
    asked.push(url);
    const route = routes[url] ?? { status: 404, body: { code: 'not_found', message: 'none' } };
    return new Response(JSON.stringify(route.body), { status: route.status });
  });
});

afterEach(() => {
  vi.unstubAllGlobals();
  document.body.replaceChildren();
});

function mount(hash: string): HTMLElement {
  const root = document.createElement('div');
  document.body.append(root);
  mountPartyCase(root, { location: { hash, search: '' }, poll: false });
  return root;
}

describe('the party case page', () => {
  it('shows the agreement in force, then the application', async () => {
    routes['/api/v1/room/agreement'] = { status: 200, body: agreement };
    routes['/api/v1/agreements/AG_1/confirmation'] = { status: 200, body: viewJson() };
    const root = mount(`#token=${CASE_LINK}`);
    await vi.waitFor(() => expect(root.querySelector('[data-testid="confirm-window"]')).not.toBeNull());
    expect(root.querySelector('[data-testid="party-agreement-status"]')!.textContent).toContain('已生效');
    expect(root.querySelector('[data-testid="party-agreement-pdf"]')).not.toBeNull();
    expect(root.querySelector('[data-testid="confirm-apply"]')).not.toBeNull();
  });

  it('waits for the agreement to come into force', async () => {
    routes['/api/v1/room/agreement'] = { status: 200, body: { ...agreement, status: 'final', effective_at: null } };
    const root = mount(`#token=${CASE_LINK}`);
    await vi.waitFor(() => expect(root.querySelector('[data-testid="party-case-not-in-force"]')).not.toBeNull());
    expect(root.querySelector('[data-testid="confirm-flow"]')).toBeNull();
  });

  it('says a broken or expired link is one, like /join', async () => {
    expect(mount('#token=garbage').querySelector('[data-testid="message-screen"] h1')!.textContent).toBe('链接无效');
    document.body.replaceChildren();
    const expired = token({ sub: 'PT_a', room: '', role: 'party', case: 'CA_1', exp: 1_000 });
    expect(mount(`#token=${expired}`).querySelector('h1')!.textContent).toBe('链接已过期');
  });

  it('says so when the server refuses the link', async () => {
    routes['/api/v1/room/agreement'] = { status: 401, body: { code: 'unauthorized', message: 'bad token' } };
    const root = mount(`#token=${CASE_LINK}`);
    await vi.waitFor(() => expect(root.querySelector('[data-testid="message-screen"] h1')?.textContent).toBe('链接无效'));
  });
});

describe('the ways to the page and the case list', () => {
  it('ends a party’s session with a link to the case page once the agreement is in force', () => {
    const claims = { sub: 'PT_a', room: 'r', role: 'party', case: 'CA_1' };
    expect(endScreen('ended', undefined, claims, () => undefined).links).toBeUndefined();
    const links = endScreen('ended', undefined, claims, () => undefined, 'a.b.c').links;
    expect(links).toEqual([{ label: 'confirm.end.toCase', href: '/case#token=a.b.c', testId: 'end-to-confirmation' }]);
  });

  it('puts a badge on the case row only when the list carries the data', () => {
    expect(statusBadge(undefined)).toBeNull();
    expect(statusBadge({ status: 'submitted', days_left: null, warning: null })!.textContent).toBe('已提交法院');
    expect(statusBadge({ status: null, days_left: 2, warning: '2_days' })!.className).toContain('cf-badge-urgent');
  });
});
