// The words for a connection's health: a mediator's compact line per person ("丢包 3.2% ·
// 延迟 150 ms · ↓420 kbps"), its longer tooltip, and what a party is told about their own
// link, which names no numbers.

import type { Quality } from '../engine/quality';
import { type Language, type MessageKey, t } from '../i18n';
import type { ConnectionHealth, HealthQuality } from '../signal/messages';

/** A tenth of a percent says something only while the loss is small. */
export function percent(value: number): string {
  const shown = value < 10 ? Math.round(value * 10) / 10 : Math.round(value);
  return `${shown}%`;
}

/** The worse direction: a mediator asks "is this person's line bad", not which way. */
function worstLoss(health: ConnectionHealth): number | null {
  const known = [health.uplink_loss_percent, health.downlink_loss_percent].filter((v): v is number => typeof v === 'number');
  return known.length ? Math.max(...known) : null;
}

const round = (value: number) => String(Math.round(value));

/** The mediator's line: loss, delay and what reaches them; "连接中断" alone when nothing does. */
export function healthSummary(health: ConnectionHealth, lang?: Language): string {
  const parts: string[] = [];
  if (health.quality === 'lost') parts.push(t('health.lost', {}, lang));
  else {
    const loss = worstLoss(health);
    if (loss !== null) parts.push(t('health.loss', { value: percent(loss) }, lang));
    if (typeof health.rtt_ms === 'number') parts.push(t('health.rtt', { value: round(health.rtt_ms) }, lang));
    parts.push(t('health.receive', { value: round(health.receive_kbps ?? 0) }, lang));
  }
  if (health.audio_only) parts.push(t('health.audioOnly', {}, lang));
  return parts.join(' · ');
}

/** Every number, each direction apart: for the tooltip and screen readers. */
export function healthDetail(health: ConnectionHealth, lang?: Language): string {
  const none = t('health.none', {}, lang);
  const loss = (value: number | null) => (typeof value === 'number' ? percent(value) : none);
  return t(
    'health.detail',
    {
      quality: qualityWords(health.quality, lang),
      up: loss(health.uplink_loss_percent),
      down: loss(health.downlink_loss_percent),
      rtt: typeof health.rtt_ms === 'number' ? `${round(health.rtt_ms)} ms` : none,
      send: round(health.send_kbps ?? 0),
      receive: round(health.receive_kbps ?? 0),
    },
    lang,
  );
}

/** "网络良好" … "网络中断，正在恢复…": calm words, no numbers. */
export function qualityWords(quality: HealthQuality | Quality, lang?: Language): string {
  return t(`quality.${quality}` as MessageKey, {}, lang);
}

/**
 * Our own link as the person sees it: the server's word when it has given one, else what our
 * own statistics say. Only `fair` and worse call for attention.
 */
export function ownQuality(server: ConnectionHealth | null, measured: Quality): HealthQuality | Quality {
  return server?.quality ?? measured;
}

export function isProminent(quality: HealthQuality | Quality): boolean {
  return quality === 'fair' || quality === 'poor' || quality === 'lost';
}
