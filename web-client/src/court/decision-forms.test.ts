// @vitest-environment happy-dom
import { describe, expect, it, vi } from 'vitest';
import { setLanguage } from '../i18n';
import { ApiError } from '../staff/api';
import { type DecisionActions, decisionForms, isCalendarDay, validateAccept, validateConfirm, validateExtend, validateReject } from './decision-forms';

setLanguage('zh-CN');

const pdf = { type: 'application/pdf', size: 1000 };

describe('decision form validation', () => {
  it('takes a court case number of 1 to 60 characters', () => {
    expect(validateAccept('（2026）京0105民特123号')).toEqual({});
    expect(validateAccept('  ')).toHaveProperty('court_case_number');
    expect(validateAccept('号'.repeat(61))).toHaveProperty('court_case_number');
    expect(validateAccept('号'.repeat(60))).toEqual({});
  });

  it('wants an extension reason of 2 to 500 characters', () => {
    expect(validateExtend('案情复杂')).toEqual({});
    expect(validateExtend('复')).toHaveProperty('reason');
    expect(validateExtend('复'.repeat(501))).toHaveProperty('reason');
  });

  it('wants a ruling number, a real date and a PDF or image of at most 20 MiB to confirm', () => {
    expect(validateConfirm('（2026）民特1号', '2026-12-20', pdf)).toEqual({});
    expect(validateConfirm('（2026）民特1号', '2026-12-20', { type: 'image/jpeg', size: 20 * 1024 * 1024 })).toEqual({});
    expect(Object.keys(validateConfirm('', '2026-02-30', null)).sort()).toEqual(['ruling_date', 'ruling_file', 'ruling_number']);
    expect(validateConfirm('1', '2026-12-20', { type: 'text/plain', size: 1 })).toHaveProperty('ruling_file');
    expect(validateConfirm('1', '2026-12-20', { type: 'application/pdf', size: 20 * 1024 * 1024 + 1 })).toHaveProperty('ruling_file');
  });

  it('wants reasons of 2 to 2000 characters to reject; the ruling number and file are optional', () => {
    expect(validateReject('协议内容违反法律强制性规定', '', null)).toEqual({});
    expect(validateReject('违', '', null)).toHaveProperty('reasons');
    expect(validateReject('理由充分', 'x'.repeat(61), null)).toHaveProperty('ruling_number');
  });

  it('knows a calendar day', () => {
    expect(isCalendarDay('2028-02-29')).toBe(true);
    expect(isCalendarDay('2027-02-29')).toBe(false);
    expect(isCalendarDay('2027-1-5')).toBe(false);
  });
});

function fakeActions(overrides: Partial<DecisionActions> = {}): DecisionActions {
  return {
    accept: vi.fn(async () => ({})),
    extend: vi.fn(async () => ({})),
    confirm: vi.fn(async () => ({})),
    reject: vi.fn(async () => ({})),
    ask: vi.fn(() => true),
    done: vi.fn(),
    ...overrides,
  };
}

const byTestId = (root: Element, id: string) => root.querySelector(`[data-testid="${id}"]`) as HTMLInputElement;
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('decision forms', () => {
  it('offers acceptance and rejection for a received request, nothing for a decided one', () => {
    const forms = decisionForms({ status: 'received', extended: false }, fakeActions());
    expect(byTestId(forms!, 'court-accept')).toBeTruthy();
    expect(byTestId(forms!, 'court-reject')).toBeTruthy();
    expect(byTestId(forms!, 'court-confirm')).toBeNull();
    expect(decisionForms({ status: 'confirmed', extended: false }, fakeActions())).toBeNull();
  });

  it('offers one extension only', () => {
    expect(byTestId(decisionForms({ status: 'accepted', extended: false }, fakeActions())!, 'court-extend')).toBeTruthy();
    expect(byTestId(decisionForms({ status: 'accepted', extended: true }, fakeActions())!, 'court-extend')).toBeNull();
  });

  it('sends a valid acceptance and refreshes; shows the field problem of an invalid one', async () => {
    const actions = fakeActions();
    const forms = decisionForms({ status: 'submitted', extended: false }, actions)!;
    document.body.replaceChildren(forms);
    byTestId(forms, 'court-accept').click();
    expect(actions.accept).not.toHaveBeenCalled();
    expect(byTestId(forms, 'court-case-number-problem').hidden).toBe(false);
    byTestId(forms, 'court-case-number').value = ' （2026）民特1号 ';
    byTestId(forms, 'court-accept').click();
    await settle();
    expect(actions.accept).toHaveBeenCalledWith('（2026）民特1号');
    expect(actions.done).toHaveBeenCalled();
  });

  it('asks before rejecting, and sends nothing when the clerk says no', async () => {
    const actions = fakeActions({ ask: vi.fn(() => false) });
    const forms = decisionForms({ status: 'received', extended: false }, actions)!;
    document.body.replaceChildren(forms);
    (byTestId(forms, 'court-reject-reasons') as unknown as HTMLTextAreaElement).value = '协议内容损害第三人利益';
    byTestId(forms, 'court-reject').click();
    await settle();
    expect(actions.ask).toHaveBeenCalled();
    expect(actions.reject).not.toHaveBeenCalled();
  });

  it('shows the server’s refusal under the form', async () => {
    const actions = fakeActions({ accept: vi.fn(async () => Promise.reject(new ApiError(409, 'request_state', '申请已被受理'))) });
    const forms = decisionForms({ status: 'received', extended: false }, actions)!;
    document.body.replaceChildren(forms);
    byTestId(forms, 'court-case-number').value = '（2026）民特1号';
    byTestId(forms, 'court-accept').click();
    await settle();
    await settle();
    const refusal = byTestId(forms, 'court-accept-error');
    expect(refusal.hidden).toBe(false);
    expect(refusal.textContent).toContain('申请已被受理');
    expect(actions.done).not.toHaveBeenCalled();
  });
});
