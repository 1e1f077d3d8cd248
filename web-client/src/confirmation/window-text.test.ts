// @vitest-environment happy-dom
// The confirmation's words: the 30-day window with its 7- and 2-day warnings, the status
// timeline, the court's clocks, the list badge and the apply form's checks.

import { beforeEach, describe, expect, it } from 'vitest';
import { setLanguage } from '../i18n';
import { DEADLINE, EFFECTIVE, viewJson } from './fixtures.test-util';
import { badgeText } from './status-badge';
import type { ConfirmationWindow } from './types';
import { applicantText, applyProblems, clockLines, courtBasisText, deliveryText, timeline, windowText, windowTone, windowWarning } from './window-text';

const DAY = 86_400_000;

function win(days_left: number, warning: ConfirmationWindow['warning'] = null, closed = false): ConfirmationWindow {
  return { effective_at: EFFECTIVE, deadline_at: DEADLINE, days_left, warning, closed };
}

beforeEach(() => setLanguage('zh-CN'));

describe('the 30-day window', () => {
  it('says how many days are left and the last day, not the day after midnight', () => {
    expect(windowText(win(30))).toBe('申请期限：还剩 30 天（至 2027年1月5日）');
    expect(windowTone(win(30))).toBe('ok');
    expect(windowWarning(win(30))).toBeNull();
  });

  it('warns at 7 days and louder at 2', () => {
    expect(windowTone(win(7, '7_days'))).toBe('warn');
    expect(windowWarning(win(7, '7_days'))).toContain('不足 7 天');
    expect(windowTone(win(2, '2_days'))).toBe('urgent');
    expect(windowWarning(win(2, '2_days'))).toContain('最后 2 天');
  });

  it('names the deadline day itself as the last day', () => {
    expect(windowText(win(1, '2_days'))).toBe('申请期限：今天是最后一天（2027年1月5日 24:00 前）');
  });

  it('says why it is closed once the deadline passed', () => {
    const closed = win(0, null, true);
    expect(windowTone(closed)).toBe('closed');
    expect(windowText(closed)).toBe('申请期限已过（2027年1月5日 已截止），不能再申请司法确认。');
    expect(windowWarning(closed)).toBeNull();
  });

  it('speaks English too', () => {
    setLanguage('en');
    expect(windowText(win(12))).toMatch(/^Time to apply: 12 days left \(until .*2027\)$/);
  });
});

describe('the court and the applicants', () => {
  it('gives the venue rule, or the mediator’s reason after a change', () => {
    const view = viewJson();
    expect(courtBasisText(view.court)).toBe('依据：调解组织所在地的基层人民法院。');
    expect(courtBasisText({ ...view.court, basis: 'inviting_court' })).toBe('依据：该法院委派（邀请）了本次调解。');
    expect(courtBasisText({ ...view.court, chosen: '深圳市南山区人民法院', reason: '标的物在南山', changed_by_name: '王调解' })).toBe(
      '王调解 已更换受理法院，理由：标的物在南山',
    );
  });

  it('shows who applied when, and who applied on whose behalf', () => {
    const at = Date.UTC(2026, 11, 6, 2, 20);
    const [a, b] = viewJson().applicants;
    expect(applicantText({ ...a, applied: true, applied_at: at, applied_by_name: '张三' })).toMatch(/^张三 已申请 12月6日.*10:20$/);
    expect(applicantText({ ...b, applied: true, applied_at: at, applied_by_name: '赵律师' })).toMatch(/^李四 已申请 .*（赵律师 代为申请）$/);
    expect(applicantText(b)).toBe('李四 待申请');
  });
});

describe('the status timeline', () => {
  const clocks = {
    submitted_at: EFFECTIVE + DAY,
    received_at: EFFECTIVE + DAY + 3_600_000,
    accepted_at: EFFECTIVE + 2 * DAY,
    accept_due_at: null,
    ruling_due_at: null,
    extended: false,
    extension_reason: null,
    overdue: false,
  };
  const decision = { court_case_number: '（2026）粤0306民特123号', decided_at: EFFECTIVE + 5 * DAY, ruling_number: null, ruling_date: null, has_ruling: false, reject_reasons: null };

  it('is empty while the parties apply', () => {
    expect(timeline(viewJson({ status: 'applying' }))).toEqual([]);
  });

  it('runs submitted → received → accepted (with the case number) → confirmed', () => {
    const steps = timeline(viewJson({ status: 'accepted', clocks, decision }));
    expect(steps.map((s) => s.label)).toEqual(['已提交', '法院已接收', '已立案（案号：（2026）粤0306民特123号）', '已确认有效']);
    expect(steps.map((s) => s.done)).toEqual([true, true, true, false]);
    const confirmed = timeline(viewJson({ status: 'confirmed', clocks, decision }));
    expect(confirmed[confirmed.length - 1]).toMatchObject({ key: 'confirmed', done: true, at: decision.decided_at });
  });

  it('leaves out an acceptance that never happened when the court rejects at once', () => {
    const steps = timeline(viewJson({ status: 'rejected', clocks: { ...clocks, accepted_at: null }, decision: { ...decision, court_case_number: null } }));
    expect(steps.map((s) => s.label)).toEqual(['已提交', '法院已接收', '已驳回']);
  });

  it('shows the court’s clocks and flags only the running one as overdue', () => {
    const due = { ...clocks, accepted_at: null, accept_due_at: Date.UTC(2026, 11, 9, 16), ruling_due_at: null };
    const lines = clockLines(viewJson({ status: 'received', clocks: due }), Date.UTC(2026, 11, 10));
    expect(lines).toEqual([{ key: 'accept', text: '受理期限：2026年12月9日', overdue: true }]);
    const accepted = { ...clocks, accept_due_at: Date.UTC(2026, 11, 9, 16), ruling_due_at: Date.UTC(2027, 0, 3, 16), extended: true, extension_reason: '案情复杂' };
    const both = clockLines(viewJson({ status: 'accepted', clocks: accepted }), Date.UTC(2026, 11, 20));
    expect(both).toEqual([
      { key: 'accept', text: '受理期限：2026年12月9日', overdue: false },
      { key: 'ruling', text: '审查期限：2027年1月3日（已延长：案情复杂）', overdue: false },
    ]);
  });

  it('says how the delivery to a court system goes', () => {
    const delivery = { court_system: true as const, state: 'retrying' as const, attempts: 2, last_error: 'HTTP 503', delivered_at: null };
    expect(deliveryText(viewJson({ delivery }))).toBe('法院系统：发送失败，正在重试（已尝试 2 次）：HTTP 503');
    expect(deliveryText(viewJson())).toBeNull();
  });
});

describe('the case list badge', () => {
  it('shows the status once submitted, else the window’s warning', () => {
    expect(badgeText({ status: 'accepted', days_left: null, warning: null })).toEqual({ text: '法院已立案', tone: 'info' });
    expect(badgeText({ status: 'confirmed', days_left: null, warning: null })?.tone).toBe('done');
    expect(badgeText({ status: null, days_left: 5, warning: '7_days' })).toEqual({ text: '申请期限剩 5 天', tone: 'warn' });
    expect(badgeText({ status: 'applying', days_left: 2, warning: '2_days' })).toEqual({ text: '申请期限剩 2 天', tone: 'urgent' });
    expect(badgeText({ status: null, days_left: 20, warning: null })).toBeNull();
    expect(badgeText(null)).toBeNull();
  });
});

describe('the apply form’s checks', () => {
  it('needs an address for service and the declarations', () => {
    expect(applyProblems({ address: '  ', declared: false, partyId: 'PT_a' }, ['PT_a'])).toEqual({
      address: 'confirm.form.addressRequired',
      declare: 'confirm.form.declareRequired',
    });
    expect(applyProblems({ address: '深', declared: true, partyId: 'PT_a' }, ['PT_a'])).toEqual({ address: 'confirm.form.addressLength' });
    expect(applyProblems({ address: '深'.repeat(201), declared: true, partyId: 'PT_a' }, ['PT_a'])).toEqual({ address: 'confirm.form.addressLength' });
    expect(applyProblems({ address: '深圳市宝安区新安街道1号', declared: true, partyId: null }, ['PT_a'])).toEqual({});
  });

  it('makes a representative name whom they apply for', () => {
    const ok = { address: '深圳市宝安区新安街道1号', declared: true };
    expect(applyProblems({ ...ok, partyId: null }, ['PT_a', 'PT_c'])).toEqual({ party: 'confirm.form.partyRequired' });
    expect(applyProblems({ ...ok, partyId: 'PT_x' }, ['PT_a', 'PT_c'])).toEqual({ party: 'confirm.form.partyRequired' });
    expect(applyProblems({ ...ok, partyId: 'PT_c' }, ['PT_a', 'PT_c'])).toEqual({});
  });
});
