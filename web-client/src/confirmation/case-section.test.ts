// @vitest-environment happy-dom
// The staff case page's confirmation section: hidden until the agreement is in force; the
// mediator changes the court with a reason and sends the application links; the court's clocks,
// the delivery to a court system and the package are shown once submitted.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { setLanguage } from '../i18n';
import type { PageContext } from '../staff/app';
import { type CaseDetail, StaffClient, type StaffMember } from '../staff/api';
import { type ConfirmationSection, confirmationSection, courtChangeProblems } from './case-section';
import { EFFECTIVE, viewJson } from './fixtures.test-util';
import type { ConfirmationView } from './types';

const ORG = 'OR_1';
const DAY = 86_400_000;

class FakeServer {
  agreementStatus = 'in_force';
  view: ConfirmationView = viewJson({ me: { kind: 'staff', may_apply: false, applied: false, for_party_ids: [] } });
  posted: { path: string; body: unknown }[] = [];

  readonly fetch = async (input: string, init?: RequestInit): Promise<Response> => {
    const path = new URL(input, 'http://accord.test').pathname;
    const method = init?.method ?? 'GET';
    const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
    if (method === 'GET' && path === '/api/v1/cases/CA_1/agreement') return json({ id: 'AG_1', status: this.agreementStatus });
    if (method === 'GET' && path === '/api/v1/agreements/AG_1/confirmation') return json(this.view);
    if (method === 'POST') {
      const body = JSON.parse(String(init?.body ?? '{}')) as Record<string, string>;
      this.posted.push({ path, body });
      if (path.endsWith('/confirmation/court')) {
        this.view = { ...this.view, court: { ...this.view.court, chosen: body.court, reason: body.reason, changed_by_name: '李调解' } };
        return json(this.view);
      }
      if (path.endsWith('/confirmation/links')) {
        return json({
          links: [
            { party_id: 'PT_a', name: '张三', phone_masked: '138****0001', link: 'https://accord.test/case#token=x', text: '请点击链接申请司法确认 https://accord.test/case#token=x', sent: true, send_error: null },
            { party_id: 'PT_b', name: '李四', phone_masked: null, link: 'https://accord.test/case#token=y', text: '请点击链接… y', sent: false, send_error: null },
          ],
        });
      }
    }
    return json({ code: 'not_found', message: 'not found' }, 404);
  };
}

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 0));
  if (!done()) throw new Error('the section never got there');
}

const detail = () => ({ case: { id: 'CA_1', organisation_id: ORG, category: 'neighbour', status: 'agreement_signed' } }) as unknown as CaseDetail;
const q = (id: string) => document.querySelector(`[data-testid="${id}"]`) as HTMLElement | null;

let server: FakeServer;
let section: ConfirmationSection;

function mount(now = EFFECTIVE): void {
  const memory = () => {
    const values = new Map<string, string>();
    return { getItem: (k: string) => values.get(k) ?? null, setItem: (k: string, v: string) => void values.set(k, v), removeItem: (k: string) => void values.delete(k) };
  };
  const me: StaffMember = { id: 'ST_me', username: 'li', display_name: '李调解', role: 'mediator', organisation_id: ORG, court: null };
  const context: PageContext = { client: new StaffClient({ access: memory(), refresh: memory() }, server.fetch), me, go: () => {}, fail: () => {}, clearNotice: () => {} };
  section = confirmationSection(context, 'CA_1', () => now);
  document.body.append(section.el);
  section.update(detail());
}

beforeEach(() => {
  setLanguage('zh-CN');
  server = new FakeServer();
});

afterEach(() => document.body.replaceChildren());

describe('the staff confirmation section', () => {
  it('stays hidden while the agreement is not in force', async () => {
    server.agreementStatus = 'final';
    mount();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(section.el.hidden).toBe(true);
  });

  it('lets the mediator change the court with a reason', async () => {
    mount();
    await until(() => q('confirm-change-court') !== null);
    q('confirm-change-court')!.click();
    const court = q('confirm-court-input') as HTMLInputElement;
    const reason = q('confirm-court-reason') as HTMLTextAreaElement;
    expect(court.value).toBe('深圳市宝安区人民法院');
    court.value = '深圳市南山区人民法院';
    reason.value = '';
    q('confirm-court-form')!.dispatchEvent(new Event('submit', { cancelable: true }));
    expect(server.posted).toHaveLength(0);
    expect(q('confirm-error')!.textContent).toBe('更换理由需 2–500 个字。');
    reason.value = '标的物位于南山区';
    q('confirm-court-form')!.dispatchEvent(new Event('submit', { cancelable: true }));
    await until(() => q('confirm-court-name')?.textContent === '深圳市南山区人民法院');
    expect(server.posted[0]).toEqual({ path: '/api/v1/agreements/AG_1/confirmation/court', body: { court: '深圳市南山区人民法院', reason: '标的物位于南山区' } });
    expect(q('confirm-court')!.textContent).toContain('李调解 已更换受理法院，理由：标的物位于南山区');
  });

  it('sends the application links and shows each text to copy', async () => {
    mount();
    await until(() => q('confirm-links') !== null);
    q('confirm-links')!.click();
    await until(() => q('confirm-link-list') !== null);
    const rows = [...q('confirm-link-list')!.querySelectorAll('li')];
    expect(rows.map((row) => row.dataset.sent)).toEqual(['true', 'false']);
    expect(rows[0].textContent).toContain('已发送短信至 138****0001');
    expect(rows[1].textContent).toContain('没有登记手机号');
    expect((rows[1].querySelector('textarea') as HTMLTextAreaElement).value).toContain('y');
  });

  it('shows the clocks, the delivery and the package once submitted', async () => {
    server.view = viewJson({
      request_id: 'CR_1',
      status: 'received',
      court: { ...server.view.court, may_change: false },
      clocks: { submitted_at: EFFECTIVE + DAY, received_at: EFFECTIVE + DAY, accepted_at: null, accept_due_at: Date.UTC(2026, 11, 10, 16), ruling_due_at: null, extended: false, extension_reason: null, overdue: false },
      delivery: { court_system: true, state: 'given_up', attempts: 30, last_error: 'HTTP 400', delivered_at: null },
      package: { sha256: 'ab'.repeat(32), size: 1234 },
      application_pdf: true,
      me: { kind: 'staff', may_apply: false, applied: false, for_party_ids: [] },
    });
    mount(Date.UTC(2026, 11, 11));
    await until(() => q('confirm-status') !== null);
    expect(q('confirm-change-court')).toBeNull();
    expect(q('confirm-links')).toBeNull();
    expect(q('confirm-status')!.textContent).toContain('已提交至 深圳市宝安区人民法院');
    const clock = q('confirm-clocks')!.querySelector('li')!;
    expect(clock.dataset.overdue).toBe('true');
    expect(clock.textContent).toBe('受理期限：2026年12月10日已超期');
    expect(q('confirm-delivery')!.dataset.state).toBe('given_up');
    expect(q('confirm-package')).not.toBeNull();
    expect(q('confirm-application')).not.toBeNull();
  });
});

describe('the court change form', () => {
  it('takes 2..80 characters of court and 2..500 of reason', () => {
    expect(courtChangeProblems('法', '理由')).toEqual({ court: 'confirm.court.nameLength' });
    expect(courtChangeProblems('深圳市南山区人民法院', '')).toEqual({ reason: 'confirm.court.reasonLength' });
    expect(courtChangeProblems('院'.repeat(81), '理'.repeat(501))).toEqual({ court: 'confirm.court.nameLength', reason: 'confirm.court.reasonLength' });
    expect(courtChangeProblems('深圳市南山区人民法院', '标的物在南山')).toEqual({});
  });
});
