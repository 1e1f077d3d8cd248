// The running clock of a request in the words a clerk reads in the inbox: "受理期限 12月9日
// （剩 2 天）", "审查期限 12月24日（剩 15 天，已延长）", or overdue. Both clocks are counted in
// Beijing calendar days (法释〔2011〕5号 第四、五条); a due time is 24:00 of its last day, so the
// day shown is the Beijing day just before it.

import { type Language, language, t } from '../i18n';
import type { InboxItem } from './types';

const BEIJING_OFFSET_MS = 8 * 3600 * 1000;
const DAY_MS = 24 * 3600 * 1000;
const MONTHS_EN = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** The Beijing day a due time (24:00 of that day) closes, as "12月9日" / "9 Dec". */
export function dueDay(dueMs: number, lang: Language = language()): string {
  const last = new Date(dueMs - 1 + BEIJING_OFFSET_MS);
  const month = last.getUTCMonth();
  const day = String(last.getUTCDate());
  return t('court.clock.date', { month: String(month + 1), day, monthName: MONTHS_EN[month] ?? '' }, lang);
}

/** Days numbered in Beijing time, so two instants of one Beijing day share a number. */
function beijingDay(ms: number): number {
  return Math.floor((ms + BEIJING_OFFSET_MS) / DAY_MS);
}

/**
 * Whole Beijing days from today to the due day, today counting as one (the due day itself ⇒ 1);
 * 0 once due. The server sends this too; the page computes it only when it does not.
 */
export function daysLeft(dueMs: number, nowMs: number): number {
  if (nowMs >= dueMs) return 0;
  return beijingDay(dueMs - 1) - beijingDay(nowMs) + 1;
}

/** Which clock runs: acceptance until the court accepts, then the ruling's; none once decided. */
export type RunningClock = { kind: 'accept' | 'ruling'; due: number; extended: boolean; daysLeft: number; overdue: boolean };

export function runningClock(item: Pick<InboxItem, 'status' | 'accept_due_at' | 'ruling_due_at' | 'extended' | 'overdue' | 'days_left'>, nowMs: number): RunningClock | null {
  const kind = item.status === 'submitted' || item.status === 'received' ? 'accept' : item.status === 'accepted' ? 'ruling' : null;
  const due = kind === 'accept' ? item.accept_due_at : kind === 'ruling' ? item.ruling_due_at : null;
  if (!kind || due === null) return null;
  const left = item.days_left ?? daysLeft(due, nowMs);
  return { kind, due, extended: item.extended, daysLeft: left, overdue: item.overdue || nowMs > due };
}

/** The clock in words, or '' when no clock runs. */
export function clockText(clock: RunningClock | null, lang: Language = language()): string {
  if (!clock) return '';
  const left = clock.overdue ? t('court.clock.overdue', {}, lang) : t('court.clock.daysLeft', { days: String(clock.daysLeft) }, lang);
  const key = clock.kind === 'accept' ? 'court.clock.accept' : clock.extended ? 'court.clock.rulingExtended' : 'court.clock.ruling';
  return t(key, { date: dueDay(clock.due, lang), left }, lang);
}
