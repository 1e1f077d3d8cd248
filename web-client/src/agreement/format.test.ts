import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const lang = vi.hoisted(() => ({ current: 'zh-CN' as 'zh-CN' | 'en' }));
vi.mock('../i18n', () => ({ language: () => lang.current }));

import { fingerprint, formatDate, formatTime } from './format';

// 2026-12-06 17:30 UTC is 2026-12-07 01:30 in Beijing: another day, as for any seal made
// between 16:00 and 24:00 UTC.
const LATE_UTC = Date.UTC(2026, 11, 6, 17, 30);

describe('agreement dates and times', () => {
  let zone: string | undefined;
  beforeEach(() => {
    // A device far from Beijing: what it shows must not depend on where it is.
    zone = process.env.TZ;
    process.env.TZ = 'America/Los_Angeles';
  });
  afterEach(() => {
    if (zone === undefined) delete process.env.TZ;
    else process.env.TZ = zone;
    lang.current = 'zh-CN';
  });

  it('gives the date in Beijing time', () => {
    expect(formatDate(LATE_UTC)).toBe('2026年12月7日');
    lang.current = 'en';
    expect(formatDate(LATE_UTC)).toBe('December 7, 2026');
  });

  it('gives the time in Beijing time', () => {
    expect(formatTime(LATE_UTC)).toBe('12/7 01:30');
    lang.current = 'en';
    expect(formatTime(LATE_UTC)).toMatch(/^12\/7, 01:30\s?AM$/);
  });
});

describe('the text fingerprint', () => {
  it('is the first 16 hex digits, as the PDF footer prints them', () => {
    const sha = 'b5f11634e3c1129c' + '0'.repeat(44) + 'c8ab';
    expect(fingerprint(sha)).toBe('b5f11634e3c1129c…');
  });

  it('leaves something already that short alone', () => {
    expect(fingerprint('b5f1')).toBe('b5f1');
  });
});
