import { describe, expect, it } from 'vitest';
import { momentRows } from './agreement-moments';

const start = 1_750_000_000_000;
const moment = (label: string, at: number) => ({ clause_id: `c_${label}`, label, last_edit_at: at, session_id: 'SE_1', by_name: '李调解' });

describe('clause moments on the recording', () => {
  it('places a wall-clock edit on the recording clock and seeks there', () => {
    const [row] = momentRows([moment('第一条', start + 83_500)], start, 600_000);
    expect(row.offsetMs).toBe(83_500);
    expect(row.inside).toBe(true);
    expect(row.seekS).toBe(83.5);
    expect(row.clock).toBe('1:23');
  });

  it('makes only moments inside the recording clickable', () => {
    const rows = momentRows([moment('第一条', start - 1), moment('第二条', start), moment('第三条', start + 600_000), moment('第四条', start + 600_001)], start, 600_000);
    expect(rows.map((r) => r.inside)).toEqual([false, true, true, false]);
    // An outside moment would seek to the nearest end, but is not offered.
    expect(rows[0].seekS).toBe(0);
    expect(rows[3].seekS).toBe(600);
  });

  it('treats a recording without a length (still running) as empty', () => {
    expect(momentRows([moment('第一条', start + 10)], start, null)[0].inside).toBe(false);
  });

  it('labels an unnumbered facts clause', () => {
    expect(momentRows([moment('', start)], start, 1000)[0].label).not.toBe('');
  });
});
