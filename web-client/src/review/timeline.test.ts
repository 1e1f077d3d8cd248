import { describe, expect, it } from 'vitest';
import type { RecordingDetail } from './api';
import { KeptClock, SyncPlayer } from './sync';
import { barMarks, currentRowIndex, formatClock, markedRow, seekTargetOf, timelineRows, unrecordedAt } from './timeline';

type TimelinePart = Pick<RecordingDetail, 'timeline' | 'pauses' | 'gaps' | 'duration_ms'>;

const detail: TimelinePart = {
  duration_ms: 60_000,
  timeline: [
    { at_ms: -3_000, kind: 'joined', text: '', participant_name: '李调解员' },
    { at_ms: 5_000, kind: 'admitted', text: null, participant_name: '李调解员', subject_name: '张三', space: 'joint' },
    { at_ms: 20_000, kind: 'chat', text: '我同意分期付款', participant_name: '张三' },
    { at_ms: 40_000, kind: 'something_new', text: 'detail', participant_name: null },
    { at_ms: 61_000, kind: 'ended', text: '', participant_name: '李调解员' },
  ],
  pauses: [{ from_ms: 20_000, to_ms: 25_000 }],
  gaps: [{ participant_id: 'PT_b', participant_name: '李四', from_ms: 30_000, to_ms: 45_000 }],
};

describe('times on the recording clock', () => {
  it('reads as minutes and seconds, hours from an hour on', () => {
    expect(formatClock(0)).toBe('0:00');
    expect(formatClock(65.9)).toBe('1:05');
    expect(formatClock(3725)).toBe('1:02:05');
    expect(formatClock(-3)).toBe('−0:03');
  });

  it('seeks to an entry’s moment, and to the nearest end for entries outside the recording', () => {
    expect(seekTargetOf(12_345, 60_000)).toBeCloseTo(12.345);
    expect(seekTargetOf(-5_000, 60_000)).toBe(0);
    expect(seekTargetOf(70_000, 60_000)).toBe(60);
  });
});

describe('the timeline list', () => {
  const rows = timelineRows(detail, 'en');

  it('lists entries, pauses and gaps in order, a pause before an entry at the same moment', () => {
    expect(rows.map((row) => `${row.kind}:${row.code}@${row.atMs}`)).toEqual([
      'entry:joined@-3000',
      'entry:admitted@5000',
      'pause:pause@20000',
      'entry:chat@20000',
      'gap:gap@30000',
      'entry:something_new@40000',
      'entry:ended@61000',
    ]);
  });

  it('says who and what in the desk’s words for each kind', () => {
    const chat = rows.find((row) => row.code === 'chat');
    expect(chat?.who).toBe('张三');
    expect(chat?.what).toBe('张三 wrote: 我同意分期付款');
    expect(chat?.clock).toBe('0:20');
    const pause = rows.find((row) => row.kind === 'pause');
    expect(pause?.what).toBe('Recording paused 0:20–0:25');
    const gap = rows.find((row) => row.kind === 'gap');
    expect(gap?.who).toBe('李四');
    expect(gap?.what).toBe('In a private room (not recorded) 0:30–0:45');
    const admitted = rows.find((row) => row.code === 'admitted');
    expect(admitted?.what).toBe('李调解员 let 张三 into the joint room');
    // A kind newer than the page is still shown, with its code and text.
    expect(rows.find((row) => row.code === 'something_new')?.what).toContain('something_new');
  });

  it('marks entries from before and after the recording, and seeks them to its ends', () => {
    expect(rows[0]?.outside).toBe('before');
    expect(rows[0]?.seekS).toBe(0);
    const last = rows[rows.length - 1];
    expect(last?.outside).toBe('after');
    expect(last?.seekS).toBe(60);
    expect(rows[1]?.outside).toBeNull();
  });

  it('tells a mediator moving someone from a mediator going to a room', () => {
    const moves: TimelinePart = {
      duration_ms: 60_000,
      pauses: [],
      gaps: [],
      timeline: [
        { at_ms: 1_000, kind: 'moved', text: 'joint → applicant', participant_name: '李调解员', role: 'mediator', subject_name: '张三', space: 'applicant' },
        { at_ms: 2_000, kind: 'moved', text: 'joint → applicant', participant_name: '李调解员', role: 'mediator', subject_name: '李调解员', space: 'applicant' },
        { at_ms: 3_000, kind: 'moved', text: 'applicant → joint', participant_name: '李调解员', role: 'mediator', subject_name: null, space: 'joint' },
      ],
    };
    expect(timelineRows(moves, 'zh-CN').map((row) => row.what)).toEqual([
      '调解员 李调解员 将 张三 移至 申请人方单独调解室',
      '调解员 李调解员 进入 申请人方单独调解室',
      '调解员 李调解员 进入 共同调解室',
    ]);
  });

  it('in Chinese too', () => {
    const zh = timelineRows(detail, 'zh-CN');
    expect(zh.find((row) => row.kind === 'pause')?.what).toBe('录像暂停 0:20–0:25');
  });

  it('clicking an entry lands playback at its moment (within a second) and marks it as now', () => {
    const player = new SyncPlayer(new KeptClock(() => 0), [], 60);
    const chat = rows.find((row) => row.code === 'chat');
    player.seek(chat?.seekS ?? -1);
    expect(Math.abs(player.time() - 20)).toBeLessThan(1);
    expect(rows[currentRowIndex(rows, player.time()) ?? -1]?.code).toBe('chat');
  });

  it('marks a clicked row even when the player lands a few milliseconds before it', () => {
    const rows = timelineRows(detail, 'en');
    const chat = rows.findIndex((r) => r.code === 'chat');
    expect(currentRowIndex(rows, 19.996)).toBe(chat);
    expect(rows[currentRowIndex(rows, 19.9) ?? -1]?.code).not.toBe('chat');
  });

  it('keeps a clicked row marked while a busy player lands up to a second before it, then lets go', () => {
    const rows = timelineRows(detail, 'en');
    const chat = rows.findIndex((r) => r.code === 'chat');
    const clicked = { index: chat, atS: 20 };
    // Sought to 20 s, the media reported 19.4 s: the clicked row, not the one before it.
    expect(markedRow(rows, 19.4, clicked)).toEqual({ index: chat, clicked });
    // Rows a few milliseconds apart: the one clicked, not the next one within reach.
    const close = timelineRows(
      { ...detail, timeline: [...detail.timeline, { at_ms: 20_020, kind: 'moved', text: null, participant_name: '张三' }] },
      'en',
    );
    const closeChat = close.findIndex((r) => r.code === 'chat');
    expect(markedRow(close, 20, { index: closeChat, atS: 20 }).index).toBe(closeChat);
    expect(close[currentRowIndex(close, 20) ?? -1]?.code).toBe('moved');
    // Playing on past the next row marks that row.
    const next = rows.findIndex((r) => r.code === 'something_new');
    expect(markedRow(rows, 40.5, clicked)).toEqual({ index: next, clicked: null });
    // Sent elsewhere (the seek bar), the click no longer counts.
    expect(markedRow(rows, 10, clicked)).toEqual({ index: currentRowIndex(rows, 10), clicked: null });
    expect(markedRow(rows, 19.4, null).index).not.toBe(chat);
  });

  it('knows no current row before the first entry', () => {
    expect(currentRowIndex(timelineRows({ ...detail, timeline: [detail.timeline[1]!] }, 'en'), 1)).toBeNull();
  });
});

describe('marks on the seek bar', () => {
  it('places pauses and gaps in percent of the recording', () => {
    const marks = barMarks(detail, 'en');
    expect(marks).toHaveLength(2);
    expect(marks[0]).toMatchObject({ kind: 'pause', leftPct: (20 / 60) * 100 });
    expect(marks[0]?.widthPct).toBeCloseTo((5 / 60) * 100);
    expect(marks[1]).toMatchObject({ kind: 'gap', leftPct: 50, widthPct: 25 });
    expect(marks[1]?.title).toContain('李四');
  });

  it('keeps a very short pause visible and a gap running past the end inside the bar', () => {
    const marks = barMarks(
      { ...detail, pauses: [{ from_ms: 1000, to_ms: 1010 }], gaps: [{ participant_id: 'x', participant_name: 'x', from_ms: 50_000, to_ms: 90_000 }] },
      'en',
    );
    expect(marks[0]?.widthPct).toBe(0.5);
    expect((marks[1]?.leftPct ?? 0) + (marks[1]?.widthPct ?? 0)).toBeCloseTo(100);
  });

  it('draws nothing for a recording with no length yet', () => {
    expect(barMarks({ ...detail, duration_ms: null }, 'en')).toEqual([]);
  });
});

describe('a tile at an unrecorded moment', () => {
  it('says the recording was paused, for everyone', () => {
    expect(unrecordedAt(detail, 'PT_a', 22, 'zh-CN')).toBe('录像暂停 0:20–0:25');
    expect(unrecordedAt(detail, 'PT_b', 20, 'en')).toBe('Recording paused 0:20–0:25');
  });

  it('says only the person in the private room was not recorded, until they are back', () => {
    expect(unrecordedAt(detail, 'PT_b', 30, 'zh-CN')).toBe('在背对背调解室（未录制）0:30–0:45');
    expect(unrecordedAt(detail, 'PT_a', 30, 'zh-CN')).toBeNull();
    expect(unrecordedAt(detail, 'PT_b', 45, 'zh-CN')).toBeNull();
    expect(unrecordedAt(detail, 'PT_b', 25, 'zh-CN')).toBeNull();
  });
});
