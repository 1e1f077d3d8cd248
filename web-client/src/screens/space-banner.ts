// Where we are in a case session: the joint room or one side's private room, and, for a party
// left alone in caucus, that the mediator is with the other side (so silence is not mistaken
// for a broken connection).

import { type MessageKey, t } from '../i18n';
import type { Room } from '../room/room';
import type { Space } from '../signal/messages';
import { h } from './dom';

export function spaceName(space: Space): string {
  return t(`space.${space}` as MessageKey);
}

export class SpaceBanner {
  readonly el = h('div', { class: 'space-banner', 'data-testid': 'space-banner', role: 'status' });

  constructor(private readonly room: Room) {}

  update(): void {
    const room = this.room;
    this.el.hidden = room.session === null;
    this.el.dataset.space = room.space;
    const away = !room.moderator && room.mediatorElsewhere();
    const awayText = room.self?.role === 'party' ? t('space.mediatorWithOtherSide') : t('space.mediatorAway');
    const parts = [h('span', { class: 'space-name', text: t('space.youAreIn', { space: spaceName(room.space) }) })];
    if (room.moderator && room.locked) parts.push(h('span', { class: 'badge locked', 'data-testid': 'locked-badge', text: t('space.locked') }));
    if (away) parts.push(h('span', { class: 'mediator-elsewhere', 'data-testid': 'mediator-elsewhere', text: awayText }));
    this.el.replaceChildren(...parts);
  }
}
