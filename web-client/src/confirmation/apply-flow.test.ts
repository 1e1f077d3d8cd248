// @vitest-environment happy-dom
// The party's phone flow against fake server answers shaped like common.md: the form's checks
// keep a bad application from being sent, a representative names whom they apply for, the
// answers move the panel on, and refusals are shown in the party's words.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { setLanguage } from '../i18n';
import { RoomApiError } from '../room/room-api';
import { ConfirmationApi, problemText } from './api';
import { ApplyFlow } from './apply-flow';
import { EFFECTIVE, viewJson } from './fixtures.test-util';
import { confirmationTestHook } from './test-hook';
import type { ConfirmationView } from './types';

interface Sent {
  method: string;
  url: string;
  body: unknown;
  auth: string | null;
}

let sent: Sent[] = [];
let answers: { status: number; body: unknown }[] = [];

function answer(status: number, body: unknown): void {
  answers.push({ status, body });
}

beforeEach(() => {
  setLanguage('zh-CN');
  sent = [];
  answers = [];
  vi.stubGlobal('fetch', async (url: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    sent.push({ method: init.method ?? 'GET', url, body: init.body ? JSON.parse(String(init.body)) : undefined, auth: headers.get('authorization') });
    const next = answers.shift() ?? { status: 500, body: { code: 'internal', message: 'no answer queued' } };
    return new Response(JSON.stringify(next.body), { status: next.status, headers: { 'content-type': 'application/json' } });
  });
});

afterEach(() => {
  vi.unstubAllGlobals();
  document.body.replaceChildren();
});

async function mounted(view: ConfirmationView): Promise<ApplyFlow> {
  answer(200, view);
  const flow = new ApplyFlow({ api: ConfirmationApi.forToken('join.token.here'), agreementId: 'AG_1', phone: true });
  document.body.append(flow.el);
  await flow.refresh();
  return flow;
}

const q = (id: string) => document.querySelector(`[data-testid="${id}"]`) as HTMLElement | null;

function fill(address: string, declared: boolean): void {
  (q('confirm-address') as HTMLTextAreaElement).value = address;
  (q('confirm-declare') as HTMLInputElement).checked = declared;
}

async function submit(): Promise<void> {
  q('confirm-form')!.dispatchEvent(new Event('submit', { cancelable: true }));
  await vi.waitFor(() => expect((q('confirm-apply') as HTMLButtonElement).disabled).toBe(false));
}

describe('applying on the phone', () => {
  it('shows the window, the court and why, and who has applied', async () => {
    await mounted(viewJson());
    expect(sent[0]).toMatchObject({ method: 'GET', url: '/api/v1/agreements/AG_1/confirmation', auth: 'Bearer join.token.here' });
    expect(q('confirm-window')!.textContent).toContain('申请期限：还剩 30 天（至 2027年1月5日）');
    expect(q('confirm-court')!.textContent).toContain('深圳市宝安区人民法院');
    expect(q('confirm-court')!.textContent).toContain('调解组织所在地');
    expect(q('confirm-applicants')!.textContent).toContain('李四 待申请');
    expect(q('confirm-form')!.hidden).toBe(false);
    expect(q('confirm-for')!.hidden).toBe(true);
    expect(confirmationTestHook()).toMatchObject({ status: null, days_left: 30, warning: null, applied: false });
  });

  it('sends nothing without an address for service and the declarations', async () => {
    await mounted(viewJson());
    fill('', false);
    await submit();
    expect(sent).toHaveLength(1);
    expect(q('confirm-address-problem')!.textContent).toBe('请填写送达地址。');
    expect(q('confirm-declare-problem')!.textContent).toBe('请阅读并勾选上面的声明。');
  });

  it('applies, then says it waits for the other side', async () => {
    await mounted(viewJson());
    fill(' 深圳市宝安区新安街道1号 ', true);
    const [a, b] = viewJson().applicants;
    answer(200, viewJson({ request_id: 'CR_1', status: 'applying', applicants: [{ ...a, applied: true, applied_at: EFFECTIVE, applied_by_name: '张三' }, b], me: { kind: 'party', may_apply: false, applied: true, for_party_ids: ['PT_a'] } }));
    await submit();
    expect(sent[1]).toMatchObject({ method: 'POST', url: '/api/v1/agreements/AG_1/confirmation/apply', body: { address: '深圳市宝安区新安街道1号', declarations: true, party_id: 'PT_a' } });
    expect(q('confirm-status')!.textContent).toBe('已申请，等待对方申请。');
    expect(q('confirm-form')!.hidden).toBe(true);
    expect(confirmationTestHook()).toMatchObject({ status: 'applying', applied: true, lastError: null });
  });

  it('lets a representative choose whom they apply for', async () => {
    const [a, b] = viewJson().applicants;
    await mounted(viewJson({ applicants: [{ ...a, applied: true, applied_at: EFFECTIVE, applied_by_name: '张三' }, b, { ...b, party_id: 'PT_c', name: '王五' }], me: { kind: 'party', may_apply: true, applied: false, for_party_ids: ['PT_a', 'PT_b', 'PT_c'] } }));
    const radios = [...document.querySelectorAll<HTMLInputElement>('[data-testid="confirm-for-party"]')];
    expect(radios.map((r) => [r.value, r.disabled, r.checked])).toEqual([
      ['PT_a', true, false],
      ['PT_b', false, true],
      ['PT_c', false, false],
    ]);
    radios[2].checked = true;
    radios[2].dispatchEvent(new Event('change'));
    fill('深圳市南山区1号', true);
    answer(200, viewJson());
    await submit();
    expect(sent[1].body).toMatchObject({ party_id: 'PT_c' });
  });

  it('shows the court’s way once everyone applied, with the ruling and the next steps after a rejection', async () => {
    const clocks = { submitted_at: EFFECTIVE + 1000, received_at: EFFECTIVE + 2000, accepted_at: null, accept_due_at: null, ruling_due_at: null, extended: false, extension_reason: null, overdue: false };
    const decision = { court_case_number: null, decided_at: EFFECTIVE + 3000, ruling_number: '（2026）粤0306民特1号', ruling_date: '2026-12-08', has_ruling: true, reject_reasons: '协议内容违反法律规定' };
    await mounted(viewJson({ request_id: 'CR_1', status: 'rejected', clocks, decision, next_steps: ['amend', 'new_agreement', 'litigation'], application_pdf: true }));
    expect(q('confirm-status')!.textContent).toContain('深圳市宝安区人民法院 驳回了司法确认申请');
    expect([...q('confirm-status')!.querySelectorAll('li')].map((li) => li.dataset.step)).toEqual(['submitted', 'received', 'rejected']);
    expect(q('confirm-ruling')).not.toBeNull();
    expect(q('confirm-application')).not.toBeNull();
    expect(q('confirm-next-steps')!.textContent).toContain('修改协议');
    expect(q('confirm-next-steps')!.textContent).toContain('向法院起诉');
    expect(q('confirm-form')!.hidden).toBe(true);
  });

  it('says why once the window has closed', async () => {
    await mounted(viewJson({ window: { effective_at: EFFECTIVE, deadline_at: Date.UTC(2027, 0, 5, 16), days_left: 0, warning: null, closed: true }, next_steps: ['new_agreement', 'litigation'] }));
    expect(q('confirm-window')!.dataset.tone).toBe('closed');
    expect(q('confirm-window')!.textContent).toContain('申请期限已过');
    expect(q('confirm-form')!.hidden).toBe(true);
    expect(q('confirm-next-steps')).not.toBeNull();
  });
  it('tells a representative without a power of attorney why there is no form', async () => {
    const [a, b] = viewJson().applicants;
    const others = [
      { ...a, may_apply: false, cannot_apply_reason: 'not_an_applicant' },
      { ...b, applied: true, applied_at: EFFECTIVE, applied_by_name: '李四', may_apply: false, cannot_apply_reason: 'applied' },
    ];
    await mounted(viewJson({ status: 'applying', request_id: 'CR_1', applicants: others, me: { kind: 'party', may_apply: false, applied: false, for_party_ids: [] } }));
    expect(q('confirm-form')!.hidden).toBe(true);
    expect(q('confirm-cannot-apply')!.textContent).toContain('授权委托书');
  });
});

describe('refusals in the party’s words', () => {
  it('maps the known codes and fetches the view again when it is stale', async () => {
    await mounted(viewJson());
    fill('深圳市宝安区新安街道1号', true);
    answer(409, { code: 'confirmation_window_closed', message: 'the window closed' });
    answer(200, viewJson());
    await submit();
    expect(q('confirm-error')!.textContent).toBe('申请期限（协议生效之日起 30 日）已过，不能再申请司法确认。');
    expect(confirmationTestHook().lastError).toBe('confirmation_window_closed');
    await vi.waitFor(() => expect(sent).toHaveLength(3));
  });

  it('shows the server’s message for a code it does not know', async () => {
    await mounted(viewJson());
    fill('深圳市宝安区新安街道1号', true);
    answer(422, { code: 'something_new', message: '服务器的说明' });
    await submit();
    expect(q('confirm-error')!.textContent).toBe('服务器的说明');
  });

  it('has Chinese words for every code a party meets', () => {
    const said = (code: string) => problemText(new RoomApiError(code, 'server words', 409));
    expect(said('confirmation_window_closed')).toContain('30 日');
    expect(said('not_confirmable')).toContain('身份关系');
    expect(said('attorney_letter_missing')).toContain('授权委托书');
    expect(said('agreement_not_in_force')).toContain('尚未生效');
    expect(said('rate_limited')).toContain('频繁');
    expect(said('unknown_code')).toBe('server words');
    expect(problemText(new RoomApiError('unknown_code', '', 500))).toBe('操作未成功（unknown_code）。');
  });
});
