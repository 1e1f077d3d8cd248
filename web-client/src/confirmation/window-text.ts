// The confirmation's state in words: the 30-day window ("申请期限：还剩 N 天（至 2027年1月5日）"),
// the court's basis, each applicant's line, the status timeline and the court's clocks. Pure
// functions of the server's JSON, so the screens and their tests read the same sentences.

import { formatDate } from '../agreement/format';
import { language, type MessageKey, t } from '../i18n';
import type { ApplicantState, ConfirmationView, ConfirmationWindow, CourtChoice, RequestStatus } from './types';

/**
 * A deadline is 24:00 Beijing time, which is the first instant of the next day: the day a
 * person must act by is the one before it. One millisecond back lands on that day.
 */
export function dueDay(dueAt: number): string {
  return formatDate(dueAt - 1);
}

/** Beijing time is UTC+8 all year (no daylight saving since 1991). */
const BEIJING_OFFSET_MS = 8 * 3_600_000;

/**
 * A moment as "12月6日 10:20" (Chinese) or "6 Dec, 10:20" in Beijing time, whatever the
 * device's zone: the dates a party compares with the court's letters.
 */
export function formatTime(at: number): string {
  const beijing = new Date(at + BEIJING_OFFSET_MS);
  const hh = String(beijing.getUTCHours()).padStart(2, '0');
  const mm = String(beijing.getUTCMinutes()).padStart(2, '0');
  const month = beijing.getUTCMonth() + 1;
  const day = beijing.getUTCDate();
  if (language() === 'zh-CN') return `${month}月${day}日 ${hh}:${mm}`;
  const name = new Date(Date.UTC(2000, month - 1, 1)).toLocaleString('en', { month: 'short', timeZone: 'UTC' });
  return `${day} ${name}, ${hh}:${mm}`;
}

export type WindowTone = 'ok' | 'warn' | 'urgent' | 'closed';

/** How loudly the window speaks: plain, amber at 7 days, red at 2 days and once closed. */
export function windowTone(window: ConfirmationWindow): WindowTone {
  if (window.closed) return 'closed';
  if (window.warning === '2_days') return 'urgent';
  if (window.warning === '7_days') return 'warn';
  return 'ok';
}

/** "申请期限：还剩 12 天（至 2027年1月5日）", "今天是最后一天", or why it is closed. */
export function windowText(window: ConfirmationWindow): string {
  const date = dueDay(window.deadline_at);
  if (window.closed) return t('confirm.window.closed', { date });
  if (window.days_left <= 1) return t('confirm.window.lastDay', { date });
  return t('confirm.window.left', { n: String(window.days_left), date });
}

/** The sentence under the window at 7 and 2 days: act now, the other side must apply too. */
export function windowWarning(window: ConfirmationWindow): string | null {
  if (window.closed || !window.warning) return null;
  return t(window.warning === '2_days' ? 'confirm.window.warn2' : 'confirm.window.warn7');
}

/** The court the request goes to: the chosen one, else the proposal; null when none yet. */
export function courtName(court: CourtChoice): string | null {
  return court.chosen ?? court.proposed;
}

/** Why this court: the venue rule that proposed it, or the mediator's change and reason. */
export function courtBasisText(court: CourtChoice): string {
  if (court.chosen && court.chosen !== court.proposed && court.reason) {
    return court.changed_by_name
      ? t('confirm.court.changedBy', { name: court.changed_by_name, reason: court.reason })
      : t('confirm.court.changed', { reason: court.reason });
  }
  if (court.basis === 'inviting_court') return t('confirm.court.basis.inviting_court');
  if (court.basis === 'organisation_seat') return t('confirm.court.basis.organisation_seat');
  return t('confirm.court.basis.none');
}

/** "张三 已申请 12月6日 10:20", "李四 待申请", with who applied on their behalf when it was not them. */
export function applicantText(applicant: ApplicantState): string {
  if (!applicant.applied) return t('confirm.applicant.pending', { name: applicant.name });
  const at = applicant.applied_at ? formatTime(applicant.applied_at) : '';
  const by =
    applicant.applied_by_name && applicant.applied_by_name !== applicant.name
      ? t('confirm.applicant.by', { name: applicant.applied_by_name })
      : '';
  return t('confirm.applicant.applied', { name: applicant.name, at, by }).trim();
}

const ORDER: Record<RequestStatus, number> = { applying: -1, submitted: 0, received: 1, accepted: 2, confirmed: 3, rejected: 3 };

export type StepKey = 'submitted' | 'received' | 'accepted' | 'confirmed' | 'rejected';

export interface TimelineStep {
  key: StepKey;
  label: string;
  at: number | null;
  done: boolean;
}

/**
 * 已提交 → 法院已接收 → 已立案（案号） → 已确认有效 / 已驳回, each with its date once reached.
 * A rejection may come before acceptance: steps that never happened are then left out rather
 * than shown as still to come.
 */
export function timeline(view: ConfirmationView): TimelineStep[] {
  const status = view.status;
  if (!status || status === 'applying') return [];
  const reached = ORDER[status];
  const clocks = view.clocks;
  const decision = view.decision;
  const number = decision?.court_case_number ?? null;
  const steps: TimelineStep[] = [
    { key: 'submitted', label: t('confirm.step.submitted'), at: clocks?.submitted_at ?? null, done: reached >= 0 },
    { key: 'received', label: t('confirm.step.received'), at: clocks?.received_at ?? null, done: reached >= 1 },
    {
      key: 'accepted',
      label: number ? t('confirm.step.acceptedNumber', { number }) : t('confirm.step.accepted'),
      at: clocks?.accepted_at ?? null,
      done: reached >= 2,
    },
  ];
  if (status === 'rejected') {
    // A rejection comes from submitted, received or accepted: the steps that happened have dates.
    const happened = steps.filter((step) => step.key === 'submitted' || step.at !== null);
    return [...happened, { key: 'rejected', label: t('confirm.step.rejected'), at: decision?.decided_at ?? null, done: true }];
  }
  steps.push({ key: 'confirmed', label: t('confirm.step.confirmed'), at: decision?.decided_at ?? null, done: status === 'confirmed' });
  return steps;
}

/** One word for a status, as the case list's badge and the staff section show it. */
export function statusLabel(status: RequestStatus): string {
  return t(`confirm.status.${status}` as MessageKey);
}

export interface ClockLine {
  key: 'accept' | 'ruling';
  text: string;
  overdue: boolean;
}

/**
 * The court's clocks for the staff page: 受理期限 (3 days) until accepted, then 审查期限
 * (15 days, +10 once extended). Only the running clock can be overdue; the server's `overdue`
 * (its clock may be set ahead in tests) counts as well as this browser's.
 */
export function clockLines(view: ConfirmationView, nowMs: number): ClockLine[] {
  const clocks = view.clocks;
  if (!clocks) return [];
  const lines: ClockLine[] = [];
  const running = view.status === 'submitted' || view.status === 'received' || view.status === 'accepted';
  if (clocks.accept_due_at !== null) {
    const open = running && clocks.accepted_at === null;
    lines.push({
      key: 'accept',
      text: t('confirm.clock.accept', { date: dueDay(clocks.accept_due_at) }),
      overdue: open && (clocks.overdue || nowMs > clocks.accept_due_at),
    });
  }
  if (clocks.ruling_due_at !== null) {
    const open = running && view.status === 'accepted';
    const extended = clocks.extended ? t('confirm.clock.extended', { reason: clocks.extension_reason ?? '' }) : '';
    lines.push({
      key: 'ruling',
      text: `${t('confirm.clock.ruling', { date: dueDay(clocks.ruling_due_at) })}${extended}`,
      overdue: open && (clocks.overdue || nowMs > clocks.ruling_due_at),
    });
  }
  return lines;
}

/** The delivery to the court's own system: 待发送 / 已送达 / 重试中（第N次） / 已放弃 with the last error. */
export function deliveryText(view: ConfirmationView): string | null {
  const delivery = view.delivery;
  if (!delivery) return null;
  switch (delivery.state) {
    case 'pending':
      return t('confirm.delivery.pending');
    case 'delivered':
      return t('confirm.delivery.delivered', { at: delivery.delivered_at ? formatTime(delivery.delivered_at) : '' });
    case 'retrying':
      return t('confirm.delivery.retrying', { n: String(delivery.attempts), error: delivery.last_error ?? '' });
    case 'given_up':
      return t('confirm.delivery.givenUp', { n: String(delivery.attempts), error: delivery.last_error ?? '' });
  }
}

export interface ApplyDraft {
  address: string;
  declared: boolean;
  partyId: string | null;
}

export type ApplyProblems = Partial<Record<'address' | 'declare' | 'party', MessageKey>>;

/** The address for service (送达地址) must be a real address: 2..200 characters. */
export const ADDRESS_MIN = 2;
export const ADDRESS_MAX = 200;

/**
 * What keeps the apply form from being sent: the address for service, the declarations ticked,
 * and for a representative, whom they apply for. Empty when it may be sent.
 */
export function applyProblems(draft: ApplyDraft, forPartyIds: readonly string[]): ApplyProblems {
  const problems: ApplyProblems = {};
  const length = [...draft.address.trim()].length;
  if (length === 0) problems.address = 'confirm.form.addressRequired';
  else if (length < ADDRESS_MIN || length > ADDRESS_MAX) problems.address = 'confirm.form.addressLength';
  if (!draft.declared) problems.declare = 'confirm.form.declareRequired';
  if (forPartyIds.length > 1 && (!draft.partyId || !forPartyIds.includes(draft.partyId))) problems.party = 'confirm.form.partyRequired';
  return problems;
}

/** Whether the parties may still apply: in force, confirmable, window open, not yet submitted. */
export function applying(view: ConfirmationView): boolean {
  return view.confirmable && !view.blocked && !!view.window && !view.window.closed && (view.status === null || view.status === 'applying');
}
