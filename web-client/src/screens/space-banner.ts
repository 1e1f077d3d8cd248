// Where we are in a case session: the joint room or one side's private room, and, for a party
// left alone in caucus, that the mediator is with the other side (so silence is not mistaken
// for a broken connection).

import { type MessageKey, t } from '../i18n';
import type { Room } from '../room/room';
import { mediatorElsewhere } from '../room/session-logic';
import type { ParticipantInfo, Space } from '../signal/messages';
import { h } from './dom';

/**
 * What someone in a room without a mediator is told about where the mediator is, or null when
 * a mediator is here (or none has come yet). "With the other side" only when the server says
 * a mediator is in our other side's room: right after 分开调解 the mediator is still alone in
 * the joint room, and a party is then told the mediator will come.
 */
export function mediatorAwayText(participants: readonly ParticipantInfo[], party: boolean): MessageKey | null {
  if (!mediatorElsewhere(participants)) return null;
  if (participants.some((p) => p.role === 'mediator' && p.with_other_side === true)) return 'space.mediatorWithOtherSide';
  return party ? 'space.mediatorComing' : 'space.mediatorAway';
}

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
    const away = room.moderator ? null : mediatorAwayText(room.list().map((p) => p.info), room.self?.role === 'party');
    const parts = [h('span', { class: 'space-name', text: t('space.youAreIn', { space: spaceName(room.space) }) })];
    if (room.moderator && room.locked) parts.push(h('span', { class: 'badge locked', 'data-testid': 'locked-badge', text: t('space.locked') }));
    // The one place that says where the mediator is (the empty stage says nothing more).
    if (away) parts.push(h('span', { class: 'mediator-elsewhere', 'data-testid': 'mediator-elsewhere', text: t(away) }));
    this.el.replaceChildren(...parts);
  }
}
