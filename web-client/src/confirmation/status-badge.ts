// The case list's badge for a case's judicial confirmation: the request's status once there is
// one (已提交 / 法院已接收 / 已立案 / 已确认 / 已驳回), else the window's warning while the
// parties may still apply ("申请期限剩 N 天"). Nothing when the list item carries no data.

import { t } from '../i18n';
import { h } from '../screens/dom';
import type { ConfirmationBadge } from './types';
import { statusLabel } from './window-text';
import './confirmation.css';

export interface BadgeText {
  text: string;
  tone: 'info' | 'done' | 'bad' | 'warn' | 'urgent';
}

/** What the badge says, or null when there is nothing worth a badge. */
export function badgeText(badge: ConfirmationBadge | null | undefined): BadgeText | null {
  if (!badge) return null;
  const status = badge.status;
  if (status && status !== 'applying') {
    const tone = status === 'confirmed' ? 'done' : status === 'rejected' ? 'bad' : 'info';
    return { text: statusLabel(status), tone };
  }
  if (badge.warning && badge.days_left !== null) {
    return { text: t('confirm.badge.daysLeft', { n: String(badge.days_left) }), tone: badge.warning === '2_days' ? 'urgent' : 'warn' };
  }
  if (status === 'applying') return { text: statusLabel(status), tone: 'info' };
  return null;
}

export function statusBadge(badge: ConfirmationBadge | null | undefined): HTMLElement | null {
  const shown = badgeText(badge);
  if (!shown) return null;
  return h('span', { class: `cf-badge cf-badge-${shown.tone}`, 'data-testid': 'confirm-badge', 'data-status': badge?.status ?? '', text: shown.text });
}
