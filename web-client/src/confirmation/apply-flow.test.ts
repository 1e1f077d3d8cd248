// @vitest-environment happy-dom
// The party's phone flow against fake server answers shaped like common.md: the form's checks
// keep a bad application from being sent, a representative names whom they apply for, the
// answers move the panel on, refusals are shown in the party's words, and a proof of identity
// is uploaded (and removed) before applying.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { setLanguage } from '../i18n';
import { RoomApiError } from '../room/room-api';
import { ConfirmationApi, problemText } from './api';
import { ApplyFlow } from './apply-flow';
import { EFFECTIVE, viewJson } from './fixtures.test-util';
import { confirmationTestHook } from './test-hook';
import type { ConfirmationView, IdentityProofView } from './types';

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
    // A multipart upload is kept as its fields; JSON bodies are read.
    const body = init.body instanceof FormData ? Object.fromEntries(init.body.entries()) : init.body ? JSON.parse(String(init.body)) : undefined;
    sent.push({ method: init.method ?? 'GET', url, body, auth: headers.get('authorization') });
    const next = answers.shift() ?? { status: 500, body: { code: 'internal', message: 'no answer queued' } };
    if (next.status === 204) return new Response(null, { status: 204 });
    const text = typeof next.body === 'string' ? next.body : JSON.stringify(next.body);
    return new Response(text, { status: next.status, headers: { 'content-type': 'application/json' } });
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

describe('proofs of identity on the phone', () => {
  const PROOF: IdentityProofView = { id: 'IP_1', party_id: 'PT_a', kind: 'id_card_front', media_type: 'image/png', size: 2048, created_at: EFFECTIVE, may_remove: true };
  const png = (name = 'id.png', type = 'image/png') => new File([new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3])], name, { type });

  /** Picks `file` in the chooser behind `testId`, as the phone's picker would. */
  function choose(testId: string, file: File): void {
    const input = q(testId) as HTMLInputElement;
    Object.defineProperty(input, 'files', { value: [file], configurable: true });
    input.dispatchEvent(new Event('change'));
  }

  const withProof = (proof: IdentityProofView, count = 1) => {
    const [a, b] = viewJson().applicants;
    return viewJson({ identity_proofs: [proof], applicants: [{ ...a, identity_proofs: count }, b] });
  };

  it('offers three uploads before the apply button, for JPEG, PNG or PDF', async () => {
    await mounted(viewJson());
    const section = q('identity-proofs')!;
    expect(section.hidden).toBe(false);
    expect(section.textContent).toContain('身份证明（选填）');
    expect(section.textContent).toContain('法院审查时可能要求核对');
    expect(section.compareDocumentPosition(q('confirm-apply')!) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
    for (const [id, label] of [['identity-upload-front', '上传身份证人像面'], ['identity-upload-back', '上传身份证国徽面'], ['identity-upload-other', '上传其他证件']]) {
      const input = q(id) as HTMLInputElement;
      expect(input.type).toBe('file');
      expect(input.accept).toBe('image/jpeg,image/png,application/pdf');
      expect(input.closest('label')!.textContent).toBe(label);
    }
    expect(section.textContent).toContain('尚未上传身份证明。');
  });

  it('uploads a front photo, lists it, and removes it', async () => {
    await mounted(viewJson());
    answer(201, PROOF);
    answer(200, withProof(PROOF));
    choose('identity-upload-front', png());
    await vi.waitFor(() => expect(q('identity-proof')).not.toBeNull());
    expect(sent[1]).toMatchObject({ method: 'POST', url: '/api/v1/agreements/AG_1/confirmation/identity-proofs', auth: 'Bearer join.token.here' });
    const fields = sent[1].body as Record<string, FormDataEntryValue>;
    expect(fields.kind).toBe('id_card_front');
    expect(fields.party_id).toBeUndefined();
    expect((fields.file as File).name).toBe('id.png');
    expect(q('identity-proof')!.textContent).toContain('身份证人像面 · 2 KB');

    answer(204, null);
    answer(200, viewJson());
    q('identity-remove')!.click();
    await vi.waitFor(() => expect(q('identity-proof')).toBeNull());
    expect(sent[3]).toMatchObject({ method: 'DELETE', url: '/api/v1/agreements/AG_1/confirmation/identity-proofs/IP_1' });
  });

  it('says why a file was refused, in the party’s words', async () => {
    await mounted(viewJson());
    choose('identity-upload-other', png('notes.txt', 'text/plain'));
    expect(q('identity-error')!.textContent).toBe('请上传 JPG、PNG 照片或 PDF。');
    expect(sent).toHaveLength(1);

    const cases: [number, unknown, string][] = [
      [415, { code: 'unsupported_media_type', message: 'no' }, '请上传 JPG、PNG 照片或 PDF。'],
      [413, 'length limit exceeded', '文件不能超过 10 MB。'],
      [409, { code: 'too_many_identity_proofs', message: 'no' }, '每位当事人最多上传 4 份身份证明，请先删除一份再上传。'],
      [429, { code: 'rate_limited', message: 'slow down' }, '上传太频繁，请稍候再试。'],
      [409, { code: 'request_submitted', message: 'no' }, '申请已提交法院，不能再更改。'],
    ];
    for (const [status, body, words] of cases) {
      answer(status, body);
      answer(200, viewJson());
      choose('identity-upload-back', png('id.heic.jpg', 'image/jpeg'));
      await vi.waitFor(() => expect(q('identity-error')?.textContent).toBe(words));
    }
  });

  it('uploads for the party a representative chose, and stops at four', async () => {
    const [a, b] = viewJson().applicants;
    const four = [1, 2, 3, 4].map((n) => ({ ...PROOF, id: `IP_${n}`, party_id: 'PT_b' }));
    const me = { kind: 'party' as const, may_apply: true, applied: false, for_party_ids: ['PT_a', 'PT_b'] };
    await mounted(viewJson({ me, applicants: [a, { ...b, identity_proofs: 4 }], identity_proofs: four }));
    expect(q('identity-proofs')!.textContent).toContain('为 张三 上传');
    expect((q('identity-upload-front') as HTMLInputElement).disabled).toBe(false);
    const radios = [...document.querySelectorAll<HTMLInputElement>('[data-testid="confirm-for-party"]')];
    radios[1].checked = true;
    radios[1].dispatchEvent(new Event('change'));
    expect(q('identity-proofs')!.textContent).toContain('为 李四 上传');
    expect(q('identity-full')!.textContent).toContain('已上传 4 份');
    expect((q('identity-upload-front') as HTMLInputElement).disabled).toBe(true);
    expect(document.querySelectorAll('[data-testid="identity-proof"]')[0].textContent).toContain('李四 · 身份证人像面');

    radios[0].checked = true;
    radios[0].dispatchEvent(new Event('change'));
    answer(201, { ...PROOF, kind: 'other' });
    answer(200, viewJson({ me }));
    choose('identity-upload-other', png('passport.pdf', 'application/pdf'));
    await vi.waitFor(() => expect(sent).toHaveLength(3));
    expect(sent[1].body).toMatchObject({ kind: 'other', party_id: 'PT_a' });
  });

  it('keeps the list without changes once the request went to the court', async () => {
    await mounted(viewJson({ ...withProof({ ...PROOF, may_remove: false }), request_id: 'CR_1', status: 'submitted', me: { kind: 'party', may_apply: false, applied: true, for_party_ids: ['PT_a'] } }));
    expect(q('identity-proof')!.textContent).toContain('身份证人像面');
    expect(q('identity-remove')).toBeNull();
    expect(q('identity-upload-front')).toBeNull();
  });

  it('shows no section after submission when none were uploaded', async () => {
    await mounted(viewJson({ request_id: 'CR_1', status: 'submitted', me: { kind: 'party', may_apply: false, applied: true, for_party_ids: ['PT_a'] } }));
    expect(q('identity-proofs')!.hidden).toBe(true);
  });
});
