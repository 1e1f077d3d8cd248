// @vitest-environment happy-dom
// The staff case page's confirmation section: hidden until the agreement is in force; the
// mediator changes the court with a reason and sends the application links; the court's clocks,
// the delivery to a court system and the package are shown once submitted; each applicant's
// proofs of identity are counted, opened, uploaded and removed.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { setLanguage } from '../i18n';
import type { PageContext } from '../staff/app';
import { type CaseDetail, StaffClient, type StaffMember } from '../staff/api';
import { type ConfirmationSection, confirmationSection, courtChangeProblems } from './case-section';
import { EFFECTIVE, viewJson } from './fixtures.test-util';
import type { ConfirmationView, IdentityProofView } from './types';

const ORG = 'OR_1';
const DAY = 86_400_000;

class FakeServer {
  agreementStatus = 'in_force';
  view: ConfirmationView = viewJson({ me: { kind: 'staff', may_apply: false, applied: false, for_party_ids: [] } });
  posted: { path: string; body: unknown }[] = [];
  deleted: string[] = [];
  read: string[] = [];

  readonly fetch = async (input: string, init?: RequestInit): Promise<Response> => {
    const path = new URL(input, 'http://accord.test').pathname;
    const method = init?.method ?? 'GET';
    const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
    if (method === 'GET' && path === '/api/v1/cases/CA_1/agreement') return json({ id: 'AG_1', status: this.agreementStatus });
    if (method === 'GET' && path === '/api/v1/agreements/AG_1/confirmation') return json(this.view);
    const proofPath = /^\/api\/v1\/agreements\/AG_1\/confirmation\/identity-proofs(?:\/(IP_\w+))?$/.exec(path);
    if (proofPath && method === 'POST' && init?.body instanceof FormData) {
      const fields = Object.fromEntries(init.body.entries());
      this.posted.push({ path, body: fields });
      const file = fields.file as File;
      const proof: IdentityProofView = { id: `IP_${this.view.identity_proofs.length + 1}`, party_id: String(fields.party_id), kind: fields.kind as IdentityProofView['kind'], media_type: file.type, size: file.size, created_at: EFFECTIVE, may_remove: true };
      this.view = { ...this.view, identity_proofs: [...this.view.identity_proofs, proof], applicants: this.view.applicants.map((a) => (a.party_id === proof.party_id ? { ...a, identity_proofs: a.identity_proofs + 1 } : a)) };
      return json(proof, 201);
    }
    if (proofPath?.[1] && method === 'GET') {
      this.read.push(proofPath[1]);
      return new Response(new Uint8Array([0x89, 0x50, 0x4e, 0x47]), { status: 200, headers: { 'content-type': 'image/png' } });
    }
    if (proofPath?.[1] && method === 'DELETE') {
      this.deleted.push(proofPath[1]);
      const gone = this.view.identity_proofs.find((p) => p.id === proofPath[1]);
      this.view = { ...this.view, identity_proofs: this.view.identity_proofs.filter((p) => p !== gone), applicants: this.view.applicants.map((a) => (a.party_id === gone?.party_id ? { ...a, identity_proofs: a.identity_proofs - 1 } : a)) };
      return new Response(null, { status: 204 });
    }
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

describe('proofs of identity on the case page', () => {
  it('counts each applicant’s proofs, uploads one for a party, opens it and removes it', async () => {
    const opened: string[] = [];
    vi.stubGlobal('open', (url: string) => {
      opened.push(url);
      return null;
    });
    URL.createObjectURL = () => 'blob:accord.test/1';
    URL.revokeObjectURL = () => {};
    mount();
    await until(() => q('staff-identity') !== null);
    const party = (id: string) => q('staff-identity')!.querySelector(`[data-party="${id}"]`) as HTMLElement;
    const count = (id: string) => party(id).querySelector('[data-testid="staff-identity-count"]')!.textContent;
    expect(count('PT_a')).toBe('身份证明 0 份');
    expect(count('PT_b')).toBe('身份证明 0 份');

    const kind = party('PT_b').querySelector('[data-testid="staff-identity-kind"]') as HTMLSelectElement;
    expect([...kind.options].map((o) => o.textContent)).toEqual(['身份证人像面', '身份证国徽面', '其他证件']);
    kind.value = 'id_card_back';
    const input = party('PT_b').querySelector('[data-testid="staff-identity-upload"]') as HTMLInputElement;
    expect(input.accept).toBe('image/jpeg,image/png,application/pdf');
    Object.defineProperty(input, 'files', { value: [new File([new Uint8Array(3000)], 'back.jpg', { type: 'image/jpeg' })], configurable: true });
    input.dispatchEvent(new Event('change'));
    await until(() => count('PT_b') === '身份证明 1 份');
    expect(server.posted[0].path).toBe('/api/v1/agreements/AG_1/confirmation/identity-proofs');
    expect(server.posted[0].body).toMatchObject({ kind: 'id_card_back', party_id: 'PT_b' });
    const row = party('PT_b').querySelector('[data-testid="identity-proof"]') as HTMLElement;
    expect(row.textContent).toContain('身份证国徽面 · 3 KB');
    // The kind chosen is still chosen after the redraw.
    expect((party('PT_b').querySelector('[data-testid="staff-identity-kind"]') as HTMLSelectElement).value).toBe('id_card_back');

    (row.querySelector('[data-testid="staff-identity-view"]') as HTMLButtonElement).click();
    await until(() => opened.length === 1);
    expect(server.read).toEqual(['IP_1']);
    expect(opened[0]).toMatch(/^blob:/);

    (row.querySelector('[data-testid="identity-remove"]') as HTMLButtonElement).click();
    await until(() => count('PT_b') === '身份证明 0 份');
    expect(server.deleted).toEqual(['IP_1']);
    vi.unstubAllGlobals();
  });

  it('offers no upload once the request went to the court, but still opens the files', async () => {
    const proof: IdentityProofView = { id: 'IP_9', party_id: 'PT_a', kind: 'id_card_front', media_type: 'image/png', size: 1024, created_at: EFFECTIVE, may_remove: false };
    const [a, b] = server.view.applicants;
    server.view = viewJson({ request_id: 'CR_1', status: 'submitted', applicants: [{ ...a, identity_proofs: 1 }, b], identity_proofs: [proof], me: { kind: 'staff', may_apply: false, applied: false, for_party_ids: [] } });
    mount();
    await until(() => q('staff-identity') !== null);
    expect(q('staff-identity-upload')).toBeNull();
    expect(q('identity-remove')).toBeNull();
    expect(q('staff-identity-view')).not.toBeNull();
    expect(q('staff-identity-count')!.textContent).toBe('身份证明 1 份');
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
