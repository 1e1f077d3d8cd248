import { describe, expect, it } from 'vitest';
import type { ParticipantInfo } from '../signal/messages';
import { mediatorAwayText } from './space-banner';

const person = (id: string, extra: Partial<ParticipantInfo> = {}): ParticipantInfo => ({ id, identity: id, name: id, role: 'party', ...extra });
const mediator = (id: string, extra: Partial<ParticipantInfo> = {}) => person(id, { role: 'mediator', ...extra });

describe('where a party in caucus is told the mediator is', () => {
  it('says "with the other side" only when a mediator is in the other side’s room', () => {
    const alone = [person('rep'), mediator('m', { elsewhere: true })];
    expect(mediatorAwayText(alone, true), 'right after 分开调解, the mediator is alone in the joint room').toBe('space.mediatorComing');
    expect(mediatorAwayText([mediator('m', { elsewhere: true, with_other_side: true })], true)).toBe('space.mediatorWithOtherSide');
    expect(mediatorAwayText([mediator('m1', { elsewhere: true }), mediator('m2', { elsewhere: true, with_other_side: true })], true)).toBe(
      'space.mediatorWithOtherSide',
    );
  });

  it('says nothing while a mediator is here or before any came', () => {
    expect(mediatorAwayText([mediator('m')], true)).toBeNull();
    expect(mediatorAwayText([mediator('m1', { elsewhere: true, with_other_side: true }), mediator('m2')], true)).toBeNull();
    expect(mediatorAwayText([person('a')], true)).toBeNull();
  });

  it('tells someone without a side that the mediator is in another room', () => {
    expect(mediatorAwayText([mediator('m', { elsewhere: true })], false)).toBe('space.mediatorAway');
  });
});
