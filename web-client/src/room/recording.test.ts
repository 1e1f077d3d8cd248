import { describe, expect, it } from 'vitest';
import { en } from '../i18n/en';
import { zhCN } from '../i18n/zh-CN';
import { parseServerMessage, type RecordingStatus } from '../signal/messages';
import { countdownEnd, recordingBadge, recordingControls, recordingNotice, recordingStatusOf, secondsLeft } from './recording';

const examples = import.meta.glob('../../../docs/protocol/examples/server/{recording,joined}*.json', {
  query: '?raw',
  import: 'default',
  eager: true,
}) as Record<string, string>;

function example(name: string): unknown {
  const entry = Object.entries(examples).find(([file]) => file.endsWith(`/${name}`));
  if (!entry) throw new Error(`no example ${name}`);
  return parseServerMessage(entry[1]);
}

const T0 = 1_796_515_200_000;
const status = (state: RecordingStatus['state'], extra: Partial<RecordingStatus> = {}): RecordingStatus => ({
  state,
  since: T0,
  private_rooms_recorded: false,
  recorded_here: true,
  ...extra,
});

describe('the recording frames as this client reads them', () => {
  it('reads the announced start with its countdown', () => {
    const read = recordingStatusOf(example('recording.json'));
    expect(read).toEqual({ state: 'starting', since: T0, starts_at: T0 + 10_000, private_rooms_recorded: false, recorded_here: true });
  });

  it('reads a stop with its reason and the late joiner’s status in joined', () => {
    expect(recordingStatusOf(example('recording.stopped.json'))?.reason).toBe('no_disk_space');
    const joined = example('joined.recording.json') as { recording?: unknown };
    expect(recordingStatusOf(joined.recording)?.state).toBe('paused');
    const plain = example('joined.session.json') as { recording?: unknown };
    expect(recordingStatusOf(plain.recording), 'no recording object: nothing is recorded').toBeNull();
  });

  it('refuses a status it does not understand rather than guess', () => {
    expect(recordingStatusOf({ state: 'recording', since: T0 })).toBeNull();
    expect(recordingStatusOf({ state: 'on' })).toBeNull();
    expect(recordingStatusOf('on')).toBeNull();
    expect(recordingStatusOf({ state: 'off', since: T0, reason: 'aliens' })?.reason).toBeUndefined();
  });
});

describe('the badge everyone sees', () => {
  it('shows REC while recording and "paused" while paused', () => {
    expect(recordingBadge(status('on'))).toEqual({ kind: 'rec', key: 'recording.badge.on' });
    expect(recordingBadge(status('paused'))).toEqual({ kind: 'paused', key: 'recording.badge.paused' });
    expect(zhCN['recording.badge.on']).toBe('● 录制中 REC');
    expect(zhCN['recording.badge.paused']).toBe('录制已暂停');
  });

  it('says "not recorded" in a private room the policy leaves unrecorded, whatever the state', () => {
    for (const state of ['starting', 'on', 'paused'] as const) {
      expect(recordingBadge(status(state, { recorded_here: false }))?.kind).toBe('not-recorded');
    }
    expect(zhCN['recording.badge.notRecorded']).toBe('本房间不录制 (not recorded)');
  });

  it('shows nothing while nothing is recorded, nor before the announced start', () => {
    expect(recordingBadge(null)).toBeNull();
    expect(recordingBadge(status('off'))).toBeNull();
    expect(recordingBadge(status('starting'))).toBeNull();
  });
});

describe('the notice people read and hear', () => {
  it('announces the start with a countdown, then says nothing more when it begins', () => {
    const starting = status('starting', { starts_at: T0 + 10_000 });
    expect(recordingNotice(null, starting)).toEqual({ kind: 'starting', key: 'recording.notice.starting', announce: true, startsAt: T0 + 10_000 });
    expect(recordingNotice(status('off'), starting)?.announce).toBe(true);
    expect(recordingNotice(starting, status('on'))).toBeNull();
    expect(zhCN['recording.notice.starting']).toMatch(/^本次调解将被录音录像/);
  });

  it('announces a pause and a resumption aloud', () => {
    expect(recordingNotice(status('on'), status('paused'))).toMatchObject({ kind: 'paused', key: 'recording.notice.paused', announce: true });
    expect(recordingNotice(status('paused'), status('on'))).toMatchObject({ kind: 'resumed', key: 'recording.notice.resumed', announce: true });
    expect(zhCN['recording.notice.resumed']).toBe('录音录像已恢复');
    expect(zhCN['recording.notice.paused']).toBe('录音录像已暂停');
  });

  it('tells someone who arrives while it runs, quietly', () => {
    expect(recordingNotice(null, status('on'))).toEqual({ kind: 'ongoing', key: 'recording.notice.ongoing', announce: false, startsAt: null });
    expect(recordingNotice(null, status('paused'))?.announce).toBe(false);
    expect(recordingNotice(null, status('off'))).toBeNull();
  });

  it('follows moves between recorded and unrecorded rooms', () => {
    const here = status('on');
    const away = status('on', { recorded_here: false });
    expect(recordingNotice(here, away)?.kind).toBe('not-recorded');
    expect(recordingNotice(away, away)).toBeNull();
    expect(recordingNotice(away, here), 'back where it records: told aloud').toMatchObject({ kind: 'ongoing', announce: true });
  });

  it('says why it stopped', () => {
    expect(recordingNotice(status('on'), status('off', { reason: 'stopped' }))?.key).toBe('recording.notice.stopped');
    expect(recordingNotice(status('paused'), status('off', { reason: 'no_disk_space' }))?.key).toBe('recording.notice.noDiskSpace');
    expect(recordingNotice(status('on'), status('off', { reason: 'failed' }))?.key).toBe('recording.notice.failed');
    expect(recordingNotice(status('off'), status('off'))).toBeNull();
  });

  it('repeats nothing for a status sent again', () => {
    for (const state of ['starting', 'on', 'paused'] as const) expect(recordingNotice(status(state), status(state))).toBeNull();
  });
});

describe('the countdown', () => {
  it('counts to the server’s start time when the clocks agree', () => {
    const starting = status('starting', { starts_at: T0 + 10_000 });
    expect(countdownEnd(starting, T0 + 300)).toBe(T0 + 10_000);
    expect(secondsLeft(T0 + 10_000, T0 + 300)).toBe(10);
    expect(secondsLeft(T0 + 10_000, T0 + 10_001)).toBe(0);
  });

  it('counts the announced wait from arrival when the phone’s clock is off', () => {
    const starting = status('starting', { starts_at: T0 + 10_000 });
    const phoneNow = T0 - 5 * 60_000;
    expect(countdownEnd(starting, phoneNow)).toBe(phoneNow + 10_000);
    expect(countdownEnd(status('on'), T0)).toBeNull();
  });
});

describe('the console’s recording controls', () => {
  it('offers what fits each state', () => {
    expect(recordingControls('off')).toEqual(['start']);
    expect(recordingControls('starting')).toEqual(['stop']);
    expect(recordingControls('on')).toEqual(['pause', 'stop']);
    expect(recordingControls('paused')).toEqual(['resume', 'stop']);
  });
});

describe('recording texts', () => {
  it('exist in both languages', () => {
    const keys = Object.keys(zhCN).filter((k) => k.startsWith('recording.') || k.startsWith('refused.recording_'));
    expect(keys.length).toBeGreaterThan(20);
    for (const key of keys) expect(en[key as keyof typeof en], key).toBeTruthy();
  });
});
