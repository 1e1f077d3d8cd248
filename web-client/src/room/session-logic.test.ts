import { describe, expect, it } from 'vitest';
import type { ParticipantInfo } from '../signal/messages';
import { chatText, groupBySpace, isHere, mediatorElsewhere, separationMoves } from './session-logic';

function person(id: string, extra: Partial<ParticipantInfo> = {}): ParticipantInfo {
  return { id, identity: id, name: id, role: 'party', ...extra };
}

const mediator = (id: string, extra: Partial<ParticipantInfo> = {}) => person(id, { role: 'mediator', ...extra });

describe('who is with us', () => {
  it('counts a mediator elsewhere and a moderator-view person of another space as not here', () => {
    expect(isHere(person('a'), 'joint')).toBe(true);
    expect(isHere(mediator('m', { elsewhere: true }), 'applicant')).toBe(false);
    expect(isHere(person('b', { space: 'respondent' }), 'joint')).toBe(false);
    expect(isHere(person('b', { space: 'joint' }), 'joint')).toBe(true);
  });

  it('says the mediator is with the other side only when every mediator is elsewhere', () => {
    expect(mediatorElsewhere([person('a'), mediator('m1', { elsewhere: true })])).toBe(true);
    expect(mediatorElsewhere([mediator('m1', { elsewhere: true }), mediator('m2')])).toBe(false);
    expect(mediatorElsewhere([person('a')]), 'no mediator yet is not "with the other side"').toBe(false);
  });
});

describe('分开调解', () => {
  it('moves each side’s persons and organisations to their own room, not their helpers', () => {
    const moves = separationMoves([
      person('zhang', { side: 'applicant', kind: 'person' }),
      person('lawyer', { side: 'applicant', kind: 'representative' }),
      person('company', { side: 'respondent', kind: 'organisation' }),
      person('interp', { side: 'respondent', kind: 'interpreter' }),
      person('already', { side: 'respondent', kind: 'person', space: 'respondent' }),
      mediator('m'),
      person('guest', { role: 'guest' }),
    ]);
    expect(moves).toEqual([
      { participant_id: 'zhang', to: 'applicant' },
      { participant_id: 'company', to: 'respondent' },
    ]);
  });
});

describe('moderator list', () => {
  it('groups everyone by space with ourselves in ours, mediators first then sides', () => {
    const self = mediator('me', { name: '李调解员' });
    const groups = groupBySpace(
      [
        person('r', { name: '王五', side: 'respondent', space: 'joint' }),
        person('a', { name: '张三', side: 'applicant', space: 'joint' }),
        person('b', { name: '赵六', side: 'applicant', space: 'applicant' }),
      ],
      self,
      'joint',
    );
    expect(groups.joint.map((p) => p.id)).toEqual(['me', 'a', 'r']);
    expect(groups.applicant.map((p) => p.id)).toEqual(['b']);
    expect(groups.respondent).toEqual([]);
  });
});

describe('chat text', () => {
  it('takes 1–2000 characters once trimmed, counting Chinese and emoji as one each', () => {
    expect(chatText('  你好 ')).toBe('你好');
    expect(chatText('   ')).toBeNull();
    expect(chatText('好'.repeat(2000))).not.toBeNull();
    expect(chatText('😀'.repeat(2000))).not.toBeNull();
    expect(chatText('好'.repeat(2001))).toBeNull();
  });
});
