// @vitest-environment happy-dom
import { describe, expect, it, vi } from 'vitest';
import { setLanguage } from '../i18n';
import { afterSignIn } from '../staff/app';
import { inboxState, row } from './inbox';
import { viewOf } from './package-viewer';
import { summary } from './request-page';
import type { CourtRequest, InboxItem } from './types';

setLanguage('zh-CN');

const ACCEPT_DUE = Date.UTC(2026, 11, 9, 16, 0);

const item: InboxItem = {
  id: 'CR_abc',
  case_id: 'CA_1',
  case_number: 'TJ-2026-0001',
  case_title: '张某与李某邻里纠纷',
  category: 'neighbours',
  organisation: '朝阳区人民调解委员会',
  court: '朝阳区人民法院',
  status: 'received',
  submitted_at: Date.UTC(2026, 11, 6, 2, 0),
  received_at: Date.UTC(2026, 11, 6, 3, 0),
  accepted_at: null,
  accept_due_at: ACCEPT_DUE,
  ruling_due_at: null,
  extended: false,
  overdue: false,
  days_left: 2,
  court_case_number: null,
};

describe('the court inbox', () => {
  it('reads its tab from the address, open by default', () => {
    expect(inboxState(new URLSearchParams(''))).toBe('open');
    expect(inboxState(new URLSearchParams('state=decided'))).toBe('decided');
    expect(inboxState(new URLSearchParams('state=bogus'))).toBe('open');
  });

  it('shows a row with its category, status and running clock, and opens the request on click', () => {
    const go = vi.fn();
    const tr = row({ go }, item, Date.UTC(2026, 11, 8, 1, 0));
    expect(tr.dataset.id).toBe('CR_abc');
    expect(tr.textContent).toContain('邻里');
    expect(tr.textContent).toContain('已收到，待受理');
    const clock = tr.querySelector('[data-testid=court-clock]') as HTMLElement;
    expect(clock.textContent).toBe('受理期限 12月9日（剩 2 天）');
    expect(clock.classList.contains('court-overdue')).toBe(false);
    tr.click();
    expect(go).toHaveBeenCalledWith('/staff/court/requests/CR_abc');
    (tr.querySelector('a') as HTMLAnchorElement).click();
    expect(go).toHaveBeenCalledTimes(2);
  });

  it('marks an overdue clock red', () => {
    const tr = row({ go: vi.fn() }, { ...item, overdue: true, days_left: 0 }, ACCEPT_DUE + 1000);
    const clock = tr.querySelector('[data-testid=court-clock]') as HTMLElement;
    expect(clock.classList.contains('court-overdue')).toBe(true);
    expect(clock.textContent).toBe('受理期限 12月9日（已超期）');
  });

  it('is where a court user lands after sign-in', () => {
    expect(afterSignIn('', 'court')).toBe('/staff/court');
    expect(afterSignIn('', 'mediator')).toBe('/staff/cases');
    expect(afterSignIn('?next=%2Fstaff%2Fcourt%2Frequests%2FCR_1', 'court')).toBe('/staff/court/requests/CR_1');
  });
});

describe('the request page', () => {
  it('shows the decision of a confirmed request and no clock', () => {
    const request = {
      ...item,
      status: 'confirmed',
      decision: { court_case_number: '（2026）京0105民特1号', decided_at: 1, ruling_number: '（2026）京0105民特1号', ruling_date: '2026-12-20', has_ruling: true, reject_reasons: null },
      extension_reason: null,
    } as unknown as CourtRequest;
    const header = summary(request, Date.UTC(2026, 11, 21));
    expect(header.querySelector('[data-testid=court-clock]')).toBeNull();
    expect(header.querySelector('[data-testid=court-decision]')?.textContent).toBe('已确认有效：（2026）京0105民特1号，裁定日期 2026-12-20');
  });

  it('opens PDFs, text, JSON and images by extension', () => {
    expect(viewOf('application/申请书.pdf')).toBe('pdf');
    expect(viewOf('records/SE_1.txt')).toBe('text');
    expect(viewOf('parties/parties.json')).toBe('text');
    expect(viewOf('signatures/01-PT_a/drawn.PNG')).toBe('image');
    expect(viewOf('evidence/files/01-x.webm')).toBe('none');
  });
});
