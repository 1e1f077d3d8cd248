import { describe, expect, it } from 'vitest';
import type { Party, SessionEvent } from './api';
import {
  attendeesOf,
  chinaClock,
  chinaDate,
  eventParts,
  eventSentence,
  mediatorsOf,
  peopleOf,
  placeOf,
  sharedFile,
  whoOf,
} from './record';

const party = (id: string, name: string, side: Party['side'], kind = 'person', represents: string | null = null): Party => ({
  id,
  side,
  kind,
  name,
  phone: null,
  id_number_masked: null,
  represents,
  attorney_letter: null,
});

const people = peopleOf([
  party('PT_a', '张三', 'applicant'),
  party('PT_b', '李四', 'respondent'),
  party('PT_l', '王律师', 'applicant', 'representative', 'PT_a'),
]);

const MEDIATOR = { actor_identity: 'ST_m', actor_name: '李调解员', actor_role: 'mediator' };
const ZHANG = { actor_identity: 'PT_a', actor_name: '张三', actor_role: 'party' };
const LAWYER = { actor_identity: 'PT_l', actor_name: '王律师', actor_role: 'party' };
const ON_ZHANG = { subject_identity: 'PT_a', subject_name: '张三' };
const ON_LI = { subject_identity: 'PT_b', subject_name: '李四' };

let seq = 0;
/** An entry as the server writes it (signaling/src/rooms/record.rs, room_api.rs). */
function entry(kind: string, fields: Partial<SessionEvent> = {}): SessionEvent {
  seq += 1;
  return {
    id: `SV_${seq}`,
    seq,
    session_id: 'SE_1',
    case_id: 'CA_1',
    at: Date.UTC(2026, 0, 5, 2, 3, 4),
    kind,
    actor_identity: null,
    actor_name: null,
    actor_role: null,
    subject_identity: null,
    subject_name: null,
    space: null,
    detail: null,
    ...fields,
  };
}

// Every kind the server records, with the detail it writes, and the sentence in both languages.
const CASES: [string, SessionEvent, string, string][] = [
  [
    'consent',
    entry('consent', { ...ZHANG, detail: 'online-mediation-and-recording/2026-1' }),
    '张三 确认同意在线调解及全程录音录像',
    '张三 agreed to mediation online and to its recording',
  ],
  ['joined', entry('joined', { ...MEDIATOR, space: 'joint' }), '调解员 李调解员 进入 共同调解室', 'Mediator 李调解员 entered the joint room'],
  ['waiting', entry('waiting', { ...ZHANG, space: 'joint' }), '张三 进入等候室，等待调解员允许', '张三 arrived in the waiting room'],
  [
    'admitted',
    entry('admitted', { ...MEDIATOR, ...ON_ZHANG, space: 'joint' }),
    '调解员 李调解员 允许 张三 进入 共同调解室',
    'Mediator 李调解员 let 张三 into the joint room',
  ],
  [
    'denied with a reason',
    entry('denied', { ...MEDIATOR, ...ON_LI, detail: '身份不符' }),
    '调解员 李调解员 拒绝 李四 进入，原因：身份不符',
    'Mediator 李调解员 turned 李四 away, reason: 身份不符',
  ],
  ['denied without one', entry('denied', { ...MEDIATOR, ...ON_LI, detail: '' }), '调解员 李调解员 拒绝 李四 进入', 'Mediator 李调解员 turned 李四 away'],
  ['left', entry('left', { ...ZHANG, space: 'joint', detail: 'left' }), '张三 离开调解室', '张三 left the session'],
  [
    'left when the connection died',
    entry('left', { ...ZHANG, space: 'applicant', detail: 'disconnected' }),
    '张三 离开调解室（网络中断）',
    '张三 left the session (connection lost)',
  ],
  [
    'left the waiting room',
    entry('left', { ...ZHANG, space: 'joint', detail: 'left (waiting)' }),
    '张三 离开等候室',
    '张三 left the waiting room',
  ],
  [
    'left for a reason this page does not know',
    entry('left', { ...ZHANG, space: 'joint', detail: 'teleported' }),
    '张三 离开调解室（teleported）',
    '张三 left the session (teleported)',
  ],
  [
    'moved',
    entry('moved', { ...MEDIATOR, ...ON_ZHANG, space: 'applicant', detail: 'joint → applicant' }),
    '调解员 李调解员 将 张三 移至 申请人方单独调解室',
    "Mediator 李调解员 moved 张三 to the applicant's private room",
  ],
  [
    'moved themself',
    entry('moved', { ...MEDIATOR, subject_identity: 'ST_m', subject_name: '李调解员', space: 'respondent', detail: 'joint → respondent' }),
    '调解员 李调解员 进入 被申请人方单独调解室',
    "Mediator 李调解员 went to the respondent's private room",
  ],
  ['hand_raised', entry('hand_raised', { ...ZHANG, space: 'joint' }), '张三 举手', '张三 raised a hand'],
  ['hand_lowered', entry('hand_lowered', { ...ZHANG, space: 'joint' }), '张三 放下手', '张三 lowered their hand'],
  ['chat', entry('chat', { ...ZHANG, space: 'applicant', detail: '我同意赔偿两千元' }), '张三 发送消息：我同意赔偿两千元', '张三 wrote: 我同意赔偿两千元'],
  [
    'evidence_shared',
    entry('evidence_shared', { ...LAWYER, space: 'applicant', detail: 'EV_9 维修 报价单.pdf' }),
    '王律师 分享证据《维修 报价单.pdf》',
    '王律师 shared evidence “维修 报价单.pdf”',
  ],
  [
    'unmute_asked for the microphone',
    entry('unmute_asked', { ...MEDIATOR, ...ON_LI, space: 'joint', detail: 'microphone' }),
    '调解员 李调解员 请 李四 打开麦克风',
    'Mediator 李调解员 asked 李四 to unmute',
  ],
  [
    'unmute_asked for the camera',
    entry('unmute_asked', { ...MEDIATOR, ...ON_LI, space: 'joint', detail: 'camera' }),
    '调解员 李调解员 请 李四 打开摄像头',
    'Mediator 李调解员 asked 李四 to turn on the camera',
  ],
  [
    'muted',
    entry('muted', { ...MEDIATOR, ...ON_LI, space: 'joint', detail: 'microphone' }),
    '调解员 李调解员 将 李四 静音',
    'Mediator 李调解员 muted 李四',
  ],
  [
    'video_stopped',
    entry('video_stopped', { ...MEDIATOR, ...ON_LI, space: 'joint', detail: 'camera' }),
    '调解员 李调解员 关闭 李四 的摄像头',
    "Mediator 李调解员 turned off 李四's camera",
  ],
  [
    'video_stopped for a screen',
    entry('video_stopped', { ...MEDIATOR, ...ON_LI, space: 'joint', detail: 'screen' }),
    '调解员 李调解员 停止 李四 的屏幕共享',
    "Mediator 李调解员 stopped 李四's screen sharing",
  ],
  [
    'removed',
    entry('removed', { ...MEDIATOR, ...ON_LI, space: 'joint', detail: '扰乱秩序' }),
    '调解员 李调解员 将 李四 移出调解室，原因：扰乱秩序',
    'Mediator 李调解员 removed 李四 from the session, reason: 扰乱秩序',
  ],
  ['locked', entry('locked', MEDIATOR), '调解员 李调解员 锁定调解室', 'Mediator 李调解员 locked the session'],
  ['unlocked', entry('unlocked', MEDIATOR), '调解员 李调解员 解除调解室锁定', 'Mediator 李调解员 unlocked the session'],
  ['ended', entry('ended', MEDIATOR), '调解员 李调解员 结束调解', 'Mediator 李调解员 ended the session'],
  [
    'a kind newer than the page',
    entry('hearing_adjourned', { ...MEDIATOR, detail: 'camera' }),
    '调解员 李调解员：hearing_adjourned camera',
    'Mediator 李调解员: hearing_adjourned camera',
  ],
];

describe('the session record in words', () => {
  for (const [name, event, zh, en] of CASES) {
    it(`says ${name}`, () => {
      expect(eventSentence(event, 'zh-CN')).toBe(zh);
      expect(eventSentence(event, 'en')).toBe(en);
    });
  }

  it('keeps a shared file as its own part, to be linked', () => {
    const shared = entry('evidence_shared', { ...LAWYER, space: 'applicant', detail: 'EV_9 报价单.pdf' });
    expect(eventParts(shared, 'zh-CN')).toEqual(['王律师 分享证据《', { evidenceId: 'EV_9', name: '报价单.pdf' }, '》']);
    expect(sharedFile('EV_9')).toBeNull();
  });

  it('names who did it with their side, helper kind or role', () => {
    expect(whoOf(entry('chat', ZHANG), people, 'zh-CN')).toBe('张三（申请人）');
    expect(whoOf(entry('chat', LAWYER), people, 'zh-CN')).toBe('王律师（申请人代理人）');
    expect(whoOf(entry('ended', MEDIATOR), people, 'zh-CN')).toBe('李调解员（调解员）');
    expect(whoOf(entry('chat', { actor_identity: 'PT_b', actor_name: '李四', actor_role: 'party' }), people, 'en')).toBe('李四 (Respondent)');
    expect(whoOf(entry('chat', LAWYER), people, 'en')).toBe("王律师 (Applicant's Representative)");
    expect(whoOf(entry('joined', { actor_identity: 'obs', actor_name: '旁听人', actor_role: 'observer' }), people, 'zh-CN')).toBe('旁听人（旁听）');
  });

  it('places each entry in its room, the waiting room, or the session as a whole', () => {
    expect(placeOf(entry('chat', { space: 'applicant' }), 'zh-CN')).toBe('申请人方单独调解室');
    expect(placeOf(entry('waiting', { space: 'joint' }), 'zh-CN')).toBe('等候室');
    expect(placeOf(entry('left', { space: 'joint', detail: 'disconnected (waiting)' }), 'en')).toBe('Waiting room');
    expect(placeOf(entry('ended'), 'zh-CN')).toBe('');
  });

  it('tells the time in Beijing, with the date apart', () => {
    const at = Date.UTC(2026, 0, 5, 16, 3, 4);
    expect(chinaClock(at)).toBe('00:03:04');
    expect(chinaDate(at)).toBe('2026-01-06');
  });

  it('lists the mediators and everyone present once each', () => {
    const events = [
      entry('joined', { ...MEDIATOR, space: 'joint' }),
      entry('waiting', ZHANG),
      entry('admitted', { ...MEDIATOR, ...ON_ZHANG, space: 'joint' }),
      entry('admitted', { ...MEDIATOR, subject_identity: 'PT_l', subject_name: '王律师', space: 'joint' }),
      entry('joined', { ...MEDIATOR, space: 'joint' }),
    ];
    expect(mediatorsOf(events)).toEqual(['李调解员']);
    expect(attendeesOf(events, people, 'zh-CN')).toEqual(['李调解员（调解员）', '张三（申请人）', '王律师（申请人代理人）']);
  });
});
