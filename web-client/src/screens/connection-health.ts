// Connection health on screen: a badge per person in the mediator's console, our own link in
// the room's top bar, and the banner that explains why no video arrives. Health comes every
// two seconds, so each element is updated in place: redrawing the console that often would
// take a click or a half-typed reason away from the mediator.

import { t } from '../i18n';
import type { NetworkStatus } from '../room/network';
import type { ConnectionHealth } from '../signal/messages';
import { h } from './dom';
import { healthDetail, healthSummary, isProminent, qualityWords } from './health-text';

/** A console badge for one person (`health-<id>`); hidden until the server rates them. */
export function healthBadge(participantId: string): HTMLElement {
  return h('span', { class: 'health', 'data-testid': `health-${participantId}`, hidden: true });
}

export function updateHealthBadge(el: HTMLElement, health: ConnectionHealth | undefined): void {
  el.hidden = !health;
  if (!health) {
    delete el.dataset.quality;
    el.textContent = '';
    el.removeAttribute('title');
    return;
  }
  el.dataset.quality = health.quality;
  el.dataset.audioOnly = String(health.audio_only);
  el.textContent = healthSummary(health);
  el.title = healthDetail(health);
}

/**
 * Our own link (`my-health`): a quiet dot while it is fine, words when it is not ("网络较差").
 * It shows the network status's one judgment (`NetworkStatus.link`), which any toast about
 * the link also follows: the two never disagree.
 */
export class MyHealth {
  readonly el = h('div', { class: 'my-health', 'data-testid': 'my-health', role: 'status' });

  constructor(private readonly network: NetworkStatus) {}

  update(): void {
    const quality = this.network.link;
    const prominent = isProminent(quality);
    const words = qualityWords(quality);
    this.el.dataset.quality = quality;
    this.el.classList.toggle('prominent', prominent);
    this.el.hidden = quality === 'unknown';
    this.el.setAttribute('aria-label', words);
    this.el.title = words;
    const dot = h('span', { class: 'health-dot', 'aria-hidden': 'true' });
    this.el.replaceChildren(...(prominent ? [dot, h('span', { class: 'my-health-text', text: words })] : [dot]));
  }
}

/** Why the videos show names only (`audio-only-banner`): a weak link, or the person's choice. */
export class AudioOnlyBanner {
  readonly el = h('div', { class: 'banner audio-only', role: 'status', 'data-testid': 'audio-only-banner', hidden: true });

  constructor(private readonly network: NetworkStatus) {}

  update(): void {
    const { active, reason } = this.network.audioOnly;
    this.el.hidden = !active;
    this.el.dataset.reason = reason ?? '';
    this.el.textContent = !active ? '' : reason === 'bandwidth' ? t('audioOnly.bandwidth') : reason === 'save_data' ? t('audioOnly.save_data') : t('audioOnly.other');
  }
}
