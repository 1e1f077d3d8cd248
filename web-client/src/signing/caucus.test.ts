import { describe, expect, it, vi } from 'vitest';
import { Engine } from '../engine';
import { joinedFrame } from '../engine/test-fakes';
import { Room } from '../room/room';
import type { ClientMessage, ParticipantInfo } from '../signal/messages';
import { freeWillMoves, freeWillPhase } from './caucus';

const mediator: ParticipantInfo = { id: 'S1', identity: 'ST_med', name: '李调解员', role: 'mediator', space: 'joint' };
const zhang: ParticipantInfo = { id: 'S2', identity: 'PT_zhang', name: '张三', role: 'party', side: 'applicant', kind: 'person', space: 'joint' };
const lawyer: ParticipantInfo = { id: 'S3', identity: 'PT_wang', name: '王律师', role: 'party', side: 'applicant', kind: 'representative', space: 'joint' };
const li: ParticipantInfo = { id: 'S4', identity: 'PT_li', name: '李四', role: 'party', side: 'respondent', kind: 'person', space: 'joint' };

const at = (p: ParticipantInfo, space: ParticipantInfo['space']): ParticipantInfo => ({ ...p, space });

describe('the free-will moves', () => {
  it('moves the party alone (the lawyer stays) and the mediator after them', () => {
    expect(freeWillMoves([mediator, zhang, lawyer, li], 'PT_zhang', 'applicant', { id: 'S1', space: 'joint' })).toEqual([
      { participant_id: 'S2', to: 'applicant', alone: true },
      { participant_id: 'S1', to: 'applicant', alone: false },
    ]);
  });

  it('does not move a party who is already in their room again', () => {
    const people = [mediator, at(zhang, 'applicant'), lawyer, li];
    expect(freeWillMoves(people, 'PT_zhang', 'applicant', { id: 'S1', space: 'joint' })).toEqual([{ participant_id: 'S1', to: 'applicant', alone: false }]);
    expect(freeWillMoves(people, 'PT_zhang', 'applicant', { id: 'S1', space: 'applicant' })).toEqual([]);
  });

  it('moves nobody while someone else sits in that room', () => {
    expect(freeWillMoves([mediator, zhang, at(lawyer, 'applicant')], 'PT_zhang', 'applicant', { id: 'S1', space: 'joint' })).toEqual([]);
  });

  it('takes the side from the seat when the agreement names none, and nothing for someone not seated', () => {
    expect(freeWillMoves([li], 'PT_li', null, null)).toEqual([{ participant_id: 'S4', to: 'respondent', alone: true }]);
    expect(freeWillMoves([mediator], 'PT_zhang', 'applicant', { id: 'S1', space: 'joint' })).toEqual([]);
  });
});

describe('the free-will phase', () => {
  it('is alone only with the party and mediators in the side’s room', () => {
    const people = [at(mediator, 'applicant'), at(zhang, 'applicant'), lawyer, li];
    expect(freeWillPhase(people, 'PT_zhang', 'applicant', 'applicant')).toEqual({ kind: 'alone', side: 'applicant' });
  });

  it('names whoever else is there', () => {
    const phase = freeWillPhase([at(mediator, 'applicant'), at(zhang, 'applicant'), at(lawyer, 'applicant')], 'PT_zhang', 'applicant', 'applicant');
    expect(phase.kind).toBe('others');
    expect(phase.kind === 'others' ? phase.others.map((p) => p.name) : []).toEqual(['王律师']);
  });

  it('is moving until both the party and we are there', () => {
    expect(freeWillPhase([mediator, at(zhang, 'applicant')], 'PT_zhang', 'applicant', 'joint')).toEqual({ kind: 'moving', side: 'applicant' });
    expect(freeWillPhase([at(mediator, 'applicant'), zhang], 'PT_zhang', 'applicant', 'applicant')).toEqual({ kind: 'moving', side: 'applicant' });
  });

  it('is not seated for a signer who is not in the room', () => {
    expect(freeWillPhase([mediator, zhang], 'PT_li', 'respondent', 'joint')).toEqual({ kind: 'not_seated' });
  });
});

describe('Room.move', () => {
  function room() {
    const engine = new Engine('ws://test/ws', 'token');
    const sent: ClientMessage[] = [];
    vi.spyOn(engine, 'send').mockImplementation((frame) => {
      sent.push(frame);
      return 'id';
    });
    const r = new Room(engine);
    engine.emit('joined', { message: joinedFrame({ moderator: true, participants: [zhang, lawyer] }), resumed: false });
    return { room: r, sent };
  }

  it('asks the server to move only this person with `alone`, and says nothing of it otherwise', () => {
    const { room: r, sent } = room();
    r.move('S2', 'applicant', { alone: true });
    r.move('S3', 'joint');
    expect(sent.filter((f) => f.type === 'move')).toEqual([
      { type: 'move', participant_id: 'S2', to: 'applicant', alone: true },
      { type: 'move', participant_id: 'S3', to: 'joint' },
    ]);
  });
});
