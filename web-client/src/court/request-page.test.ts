// @vitest-environment happy-dom
// The request page against a fake server: what a clerk sees, and a decision sent then the
// request loaded again.
import { describe, expect, it, vi } from 'vitest';
import { setLanguage } from '../i18n';
import { StaffClient } from '../staff/api';
import type { PageContext } from '../staff/app';
import { mountCourtRequest } from './request-page';
import type { CourtRequest } from './types';

setLanguage('zh-CN');

function memory() {
  const values = new Map<string, string>([['accord.staff.access', 'T'], ['accord.staff.signed-in', '1']]);
  return { getItem: (k: string) => values.get(k) ?? null, setItem: (k: string, v: string) => void values.set(k, v), removeItem: (k: string) => void values.delete(k) };
}

const request = (status: CourtRequest['status']): CourtRequest => ({
  id: 'CR_1',
  case_id: 'CA_1',
  case_number: 'TJ-2026-0001',
  case_title: '邻里纠纷',
  category: 'neighbours',
  organisation: '某调委会',
  court: '某区人民法院',
  status,
  submitted_at: Date.UTC(2026, 11, 6, 2),
  received_at: Date.UTC(2026, 11, 6, 3),
  accepted_at: null,
  accept_due_at: Date.UTC(2026, 11, 9, 16),
  ruling_due_at: null,
  extended: false,
  overdue: false,
  days_left: 3,
  court_case_number: null,
  applicants: [{ name: '张三', side: 'applicant', applied_at: Date.UTC(2026, 11, 6, 1), applied_by_name: '李律师' }],
  agreement: { id: 'AG_1', version: 2, text_sha256: 'ab'.repeat(32), effective_at: Date.UTC(2026, 11, 5) },
  package: {
    sha256: 'cd'.repeat(32),
    size: 4096,
    files: [{ path: 'agreement/agreement.pdf', sha256: 'ef'.repeat(32), size: 2048, kind: 'agreement', title: '调解协议' }],
    index: [
      { item: 'agreement', label: '调解协议', required: true, present: true, files: ['agreement/agreement.pdf'], note: '' },
      { item: 'attorney', label: '授权委托书', required: true, present: false, files: [], note: '代理人未上传授权委托书' },
    ],
  },
  recordings: [{ id: 'RC_1', session_id: 'SE_1', started_at: Date.UTC(2026, 11, 4), ended_at: null, status: 'complete' }],
  decision: null,
  extension_reason: null,
});

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 0));
};

describe('the court request page', () => {
  it('shows the index, the recordings and the forms, and reloads after accepting', async () => {
    let current = request('received');
    const calls: string[] = [];
    const fetcher = vi.fn(async (url: string, init?: RequestInit) => {
      calls.push(`${init?.method ?? 'GET'} ${url}`);
      if (init?.method === 'POST') {
        current = { ...request('accepted'), court_case_number: JSON.parse(String(init.body)).court_case_number };
        return new Response('{}', { status: 200 });
      }
      return new Response(JSON.stringify(current), { status: 200 });
    });
    const client = new StaffClient({ access: memory(), refresh: memory() }, fetcher);
    const go = vi.fn();
    const context = { client, me: null, go, fail: vi.fn(), clearNotice: vi.fn() } as unknown as PageContext;
    const main = document.createElement('main');
    document.body.replaceChildren(main);
    mountCourtRequest(main, context, 'CR_1');
    await settle();

    const rows = [...main.querySelectorAll('[data-testid=court-index-row]')];
    expect(rows.map((r) => r.getAttribute('data-present'))).toEqual(['true', 'false']);
    expect(rows[1].textContent).toContain('缺');
    expect(rows[1].textContent).toContain('代理人未上传授权委托书');
    expect(main.querySelector('[data-testid=court-clock]')?.textContent).toContain('受理期限 12月9日');
    expect(main.textContent).toContain('由 李律师 代为申请');
    const recording = main.querySelector('[data-testid=court-recording-link]') as HTMLAnchorElement;
    expect(recording.getAttribute('href')).toBe('/staff/recordings/RC_1');
    recording.click();
    expect(go).toHaveBeenCalledWith('/staff/recordings/RC_1');

    (main.querySelector('[data-testid=court-case-number]') as HTMLInputElement).value = '（2026）民特1号';
    (main.querySelector('[data-testid=court-accept]') as HTMLButtonElement).click();
    await settle();
    expect(calls).toContain('POST /api/v1/court/requests/CR_1/accept');
    expect(main.querySelector('[data-testid=court-request]')?.getAttribute('data-status')).toBe('accepted');
    expect(main.querySelector('[data-testid=court-confirm]')).not.toBeNull();
    expect(main.querySelector('[data-testid=court-accept]')).toBeNull();
  });

  it('uploads the ruling first, then confirms naming its hash', async () => {
    const calls: { method: string; url: string; body: unknown }[] = [];
    const respond = async (url: string, init?: RequestInit) => {
      calls.push({ method: init?.method ?? 'GET', url, body: init?.body });
      if (init?.method === 'PUT') return new Response(JSON.stringify({ sha256: '12'.repeat(32), size: 3 }), { status: 200 });
      if (init?.method === 'POST') return new Response('{}', { status: 200 });
      return new Response(JSON.stringify({ ...request('accepted'), accepted_at: 1, ruling_due_at: Date.UTC(2026, 11, 24, 16) }), { status: 200 });
    };
    vi.stubGlobal('fetch', respond);
    vi.stubGlobal('confirm', () => true);
    const client = new StaffClient({ access: memory(), refresh: memory() }, respond);
    const context = { client, me: null, go: vi.fn(), fail: vi.fn(), clearNotice: vi.fn() } as unknown as PageContext;
    const main = document.createElement('main');
    document.body.replaceChildren(main);
    mountCourtRequest(main, context, 'CR_1');
    await settle();
    (main.querySelector('[data-testid=court-ruling-number]') as HTMLInputElement).value = '（2026）民特1号';
    (main.querySelector('[data-testid=court-ruling-date]') as HTMLInputElement).value = '2026-12-20';
    const file = new File([new Uint8Array([37, 80, 68])], 'ruling.pdf', { type: 'application/pdf' });
    Object.defineProperty(main.querySelector('[data-testid=court-ruling-file]'), 'files', { value: [file] });
    (main.querySelector('[data-testid=court-confirm]') as HTMLButtonElement).click();
    await settle();
    const sent = calls.filter((c) => c.method !== 'GET');
    expect(sent.map((c) => `${c.method} ${c.url}`)).toEqual(['PUT /api/v1/court/requests/CR_1/ruling', 'POST /api/v1/court/requests/CR_1/confirm']);
    expect(JSON.parse(String(sent[1].body))).toEqual({ ruling_number: '（2026）民特1号', ruling_date: '2026-12-20', ruling_sha256: '12'.repeat(32) });
    vi.unstubAllGlobals();
  });
});
