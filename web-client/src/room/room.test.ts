import { describe, expect, it, vi } from 'vitest';
import { Engine } from '../engine';
import { joinedFrame } from '../engine/test-fakes';
import type { ClientMessage, ParticipantInfo, ServerMessage, ServerMessageOf } from '../signal/messages';
import { Room } from './room';

function person(id: string, extra: Partial<ParticipantInfo> = {}): ParticipantInfo {
  return { id, identity: id, name: id, role: 'party', ...extra };
}

function joined(extra: Partial<ServerMessageOf<'joined'>> = {}): ServerMessageOf<'joined'> {
  return joinedFrame({ participant: person('me'), ...extra });
}

/** A room whose engine never opens a socket: frames go in as engine events, out through `sent`. */
function roomWith(first: ServerMessageOf<'joined'>) {
  const engine = new Engine('ws://test/ws', 'token');
  const sent: ClientMessage[] = [];
  vi.spyOn(engine, 'send').mockImplementation((frame) => {
    sent.push(frame);
    return 'id';
  });
  const room = new Room(engine);
  engine.emit('joined', { message: first, resumed: false });
  const receive = (frame: ServerMessage) => engine.emit('message', frame);
  return { engine, room, sent, receive };
}

describe('room model in a case session', () => {
  it('takes space, lock, moderation, session and chat history from joined', () => {
    const { room } = roomWith(
      joined({
        space: 'applicant',
        locked: true,
        moderator: true,
        chat: [{ id: 'c1', participant_id: 'x', name: '张三', text: '您好', at: 1 }],
      }),
    );
    expect([room.space, room.locked, room.moderator, room.session]).toEqual(['applicant', true, true, 'SE_1']);
    expect(room.log.chatMessages().map((m) => m.text)).toEqual(['您好']);
  });

  it('keeps the waiting list and tells of new arrivals only once', () => {
    const { room, receive } = roomWith(joined({ moderator: true }));
    const knocks: string[][] = [];
    room.on('knock', (arrived) => knocks.push(arrived.map((p) => p.id)));
    receive({ type: 'waiting_room', waiting: [person('a')] });
    receive({ type: 'waiting_room', waiting: [person('a'), person('b')] });
    receive({ type: 'waiting_room', waiting: [person('b')] });
    expect(room.waitingList.map((p) => p.id)).toEqual(['b']);
    expect(knocks).toEqual([['a'], ['b']]);
  });

  it('replaces a participant’s info on participant_updated, keeps their tracks, and tells of a raised hand', () => {
    const { room, receive } = roomWith(
      joined({
        participants: [person('zhang')],
        tracks: [{ id: 'TR_1', participant_id: 'zhang', kind: 'audio', source: 'microphone', muted: false, simulcast: false }],
      }),
    );
    const hands: string[] = [];
    room.on('handRaised', (p) => hands.push(p.id));
    receive({ type: 'participant_updated', participant: person('zhang', { hand_raised: true }) });
    receive({ type: 'participant_updated', participant: person('zhang', { hand_raised: true, paused: 'away' }) });
    const zhang = room.participants.get('zhang');
    expect(zhang?.info.hand_raised).toBe(true);
    expect(zhang?.publications.get('microphone')?.id).toBe('TR_1');
    expect(hands).toEqual(['zhang']);
  });

  it('shows a party that the mediator is with the other side, and who is here', () => {
    const { room, receive } = roomWith(joined({ participants: [person('m', { role: 'mediator' }), person('wang')] }));
    expect(room.mediatorElsewhere()).toBe(false);
    receive({ type: 'participant_updated', participant: person('m', { role: 'mediator', elsewhere: true }) });
    expect(room.mediatorElsewhere()).toBe(true);
    expect(room.present().map((p) => p.info.id)).toEqual(['wang']);
  });

  it('follows moved: our space, a marker in the log, and who counts as here for a moderator', () => {
    const { room, receive } = roomWith(
      joined({ moderator: true, participants: [person('a', { space: 'applicant' }), person('r', { space: 'joint' })] }),
    );
    expect(room.present().map((p) => p.info.id)).toEqual(['r']);
    receive({ type: 'moved', space: 'applicant' });
    expect(room.space).toBe('applicant');
    expect(room.present().map((p) => p.info.id)).toEqual(['a']);
    expect(room.log.list().map((i) => i.kind)).toEqual(['moved']);
  });

  it('turns our microphone off when a mediator mutes it, and never turns anything on by itself', () => {
    const { room, sent, receive } = roomWith(joined());
    const events: string[] = [];
    room.on('mutedByModerator', (source) => events.push(`muted ${source}`));
    room.on('unmuteRequested', ({ source, by }) => events.push(`asked ${source} by ${by}`));
    receive({ type: 'muted_by_moderator', source: 'microphone' });
    receive({ type: 'unmute_requested', source: 'microphone', by: '李调解员' });
    expect(sent).toEqual([{ type: 'mute', source: 'microphone', muted: true }]);
    expect(room.isLocallyMuted('microphone')).toBe(true);
    expect(events).toEqual(['muted microphone', 'asked microphone by 李调解员']);
  });

  it('sends every session frame as the protocol spells it', () => {
    const { room, sent } = roomWith(joined({ moderator: true }));
    room.admit('a');
    room.admit();
    room.deny('b', '身份不符');
    room.lock(true);
    room.move('me', 'respondent');
    room.gather();
    room.askUnmute('c', 'microphone');
    room.muteParticipant('c', 'camera');
    room.remove('c', '扰乱秩序');
    room.endSession();
    room.raiseHand(true);
    expect(room.chat('  你好  ')).toBe(true);
    expect(room.chat('   ')).toBe(false);
    expect(sent).toEqual([
      { type: 'admit', participant_id: 'a' },
      { type: 'admit' },
      { type: 'deny', participant_id: 'b', reason: '身份不符' },
      { type: 'lock', locked: true },
      { type: 'move', participant_id: 'me', to: 'respondent' },
      { type: 'gather' },
      { type: 'ask_unmute', participant_id: 'c', source: 'microphone' },
      { type: 'mute_participant', participant_id: 'c', source: 'camera' },
      { type: 'remove', participant_id: 'c', reason: '扰乱秩序' },
      { type: 'end_session' },
      { type: 'raise_hand', raised: true },
      { type: 'chat', text: '你好' },
    ]);
    expect(room.handRaised).toBe(true);
  });

  it('separates the sides by moving each party, leaving their helpers to the server', () => {
    const { room, sent } = roomWith(
      joined({
        moderator: true,
        participants: [
          person('zhang', { side: 'applicant', kind: 'person', space: 'joint' }),
          person('lawyer', { side: 'applicant', kind: 'representative', space: 'joint' }),
          person('shop', { side: 'respondent', kind: 'organisation', space: 'joint' }),
        ],
      }),
    );
    room.separateSides();
    expect(sent).toEqual([
      { type: 'move', participant_id: 'zhang', to: 'applicant' },
      { type: 'move', participant_id: 'shop', to: 'respondent' },
    ]);
  });

  it('logs chat and shared evidence once each, and reports refusals of session frames only', () => {
    const { room, receive } = roomWith(joined());
    const refused: string[] = [];
    room.on('refused', ({ code }) => refused.push(code));
    const message = { id: 'c1', participant_id: 'zhang', name: '张三', text: '我有收据', at: 10 };
    const evidence = { id: 'EV_1', name: '收据.jpg', content_type: 'image/jpeg', size: 2048, participant_id: 'zhang', shared_by: '张三', at: 11 };
    receive({ type: 'chat', message });
    receive({ type: 'chat', message });
    receive({ type: 'evidence_shared', evidence });
    room.noteEvidence(evidence);
    room.gather();
    receive({ type: 'error', request_id: 'id', code: 'forbidden', message: 'moderators only', fatal: false });
    receive({ type: 'error', request_id: 'track_settings-9', code: 'unknown_track', message: 'unknown track', fatal: false });
    expect(room.log.chatMessages().map((m) => m.text)).toEqual(['我有收据']);
    expect(room.log.evidence().map((e) => e.id)).toEqual(['EV_1']);
    expect(room.log.unread).toBe(2);
    expect(refused).toEqual(['forbidden']);
  });
});

describe('room model: the recording', () => {
  const on = { state: 'on', since: 1, private_rooms_recorded: false, recorded_here: true } as const;

  it('gives a late joiner the badge’s state and the notice the others heard', () => {
    const { room } = roomWith(joined({ recording: { ...on } }));
    expect(room.recording?.state).toBe('on');
    expect(room.lastRecordingNotice?.key).toBe('recording.notice.ongoing');
    const { room: plain } = roomWith(joined());
    expect([plain.recording, plain.lastRecordingNotice]).toEqual([null, null]);
  });

  it('follows the recording frames and tells each change once', () => {
    const { room, receive, sent } = roomWith(joined({ moderator: true }));
    const notices: (string | null)[] = [];
    room.on('recording', ({ notice }) => notices.push(notice?.kind ?? null));
    room.record('start');
    expect(sent).toEqual([{ type: 'record', action: 'start' }]);
    receive({ type: 'recording', state: 'starting', since: 1, starts_at: 10_001, private_rooms_recorded: false, recorded_here: true });
    receive({ type: 'recording', ...on });
    receive({ type: 'recording', ...on, state: 'paused' });
    receive({ type: 'recording', ...on, state: 'on' });
    receive({ type: 'recording', ...on, state: 'off', reason: 'stopped' });
    expect(notices).toEqual(['starting', null, 'paused', 'resumed', 'stopped']);
    expect(room.recording).toBeNull();
    expect(room.lastRecordingNotice?.key).toBe('recording.notice.stopped');
  });

  it('drops the badge when a resume finds the recording over', () => {
    const { room, engine } = roomWith(joined({ recording: { ...on } }));
    engine.emit('joined', { message: joined(), resumed: true });
    expect(room.recording).toBeNull();
    expect(room.lastRecordingNotice?.kind).toBe('stopped');
  });
});

describe('room model: the recording heard in the waiting room', () => {
  it('does not tell again at admission what the waiting room already announced', () => {
    const engine = new Engine('ws://test/ws', 'token');
    const room = new Room(engine);
    const notices: (string | null)[] = [];
    room.on('recording', ({ notice }) => notices.push(notice?.kind ?? null));
    const status = { state: 'on', since: 1, private_rooms_recorded: true, recorded_here: true } as const;
    engine.emit('message', { type: 'recording', ...status });
    engine.emit('joined', { message: joined({ recording: { ...status } }), resumed: false });
    expect(notices).toEqual(['ongoing', null]);
    expect(room.recording?.private_rooms_recorded).toBe(true);
  });
});
