import { describe, expect, it } from 'vitest';
import { clockText, daysLeft, dueDay, runningClock } from './clocks-text';
import type { InboxItem } from './types';

// 2026-12-06 10:00 CST; submitted then, the acceptance clock ends 2026-12-09 24:00 CST.
const SUBMITTED = Date.UTC(2026, 11, 6, 2, 0);
const ACCEPT_DUE = Date.UTC(2026, 11, 9, 16, 0);
const RULING_DUE = Date.UTC(2026, 11, 24, 16, 0);

function item(overrides: Partial<InboxItem>): InboxItem {
  return {
    id: 'CR_1',
    case_id: 'CA_1',
    case_number: 'TJ-2026-1',
    case_title: '邻里纠纷',
    category: 'neighbours',
    organisation: '某某人民调解委员会',
    court: '某某区人民法院',
    status: 'received',
    submitted_at: SUBMITTED,
    received_at: SUBMITTED,
    accepted_at: null,
    accept_due_at: ACCEPT_DUE,
    ruling_due_at: null,
    extended: false,
    overdue: false,
    days_left: null,
    court_case_number: null,
    ...overrides,
  };
}

describe('clock texts', () => {
  it('names the last Beijing day of a due time, not the next day it ends at', () => {
    expect(dueDay(ACCEPT_DUE, 'zh-CN')).toBe('12月9日');
    expect(dueDay(ACCEPT_DUE, 'en')).toBe('9 Dec');
  });

  it('counts Beijing days left, the due day itself as one', () => {
    expect(daysLeft(ACCEPT_DUE, Date.UTC(2026, 11, 8, 1, 0))).toBe(2); // 12-08 09:00 CST
    expect(daysLeft(ACCEPT_DUE, Date.UTC(2026, 11, 7, 17, 0))).toBe(2); // 12-08 01:00 CST
    expect(daysLeft(ACCEPT_DUE, Date.UTC(2026, 11, 7, 15, 59))).toBe(3); // 12-07 23:59 CST
    expect(daysLeft(ACCEPT_DUE, Date.UTC(2026, 11, 9, 15, 59))).toBe(1);
    expect(daysLeft(ACCEPT_DUE, ACCEPT_DUE)).toBe(0);
  });

  it('shows the acceptance clock until the court accepts', () => {
    const clock = runningClock(item({}), Date.UTC(2026, 11, 8, 1, 0));
    expect(clockText(clock, 'zh-CN')).toBe('受理期限 12月9日（剩 2 天）');
    expect(clockText(clock, 'en')).toBe('Acceptance due 9 Dec (2 days left)');
  });

  it('shows the ruling clock once accepted, and says when it was extended', () => {
    const accepted = item({ status: 'accepted', accepted_at: SUBMITTED, ruling_due_at: RULING_DUE, extended: true, days_left: 15 });
    expect(clockText(runningClock(accepted, Date.UTC(2026, 11, 10, 1, 0)), 'zh-CN')).toBe('审查期限 12月24日（剩 15 天，已延长）');
    expect(clockText(runningClock({ ...accepted, extended: false }, 0), 'en')).toBe('Ruling due 24 Dec (15 days left)');
  });

  it('says overdue after the due time, whatever the server counted', () => {
    const clock = runningClock(item({}), ACCEPT_DUE + 1);
    expect(clock?.overdue).toBe(true);
    expect(clockText(clock, 'zh-CN')).toBe('受理期限 12月9日（已超期）');
  });

  it('shows no clock for a decided request', () => {
    expect(runningClock(item({ status: 'confirmed' }), 0)).toBeNull();
    expect(clockText(null)).toBe('');
  });
});
