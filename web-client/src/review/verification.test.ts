import { describe, expect, it } from 'vitest';
import { ticketRefreshDelay } from './api';
import { statusWords, verificationWords } from './verification';

// 2026-12-06 08:00:00 in Beijing.
const CHECKED_AT = Date.UTC(2026, 11, 6, 0, 0, 0);

describe('the integrity result in words', () => {
  it('says verified, with the signing key and when', () => {
    const zh = verificationWords({ state: 'verified', checked_at: CHECKED_AT, problems: [], key_id: 'ed25519-2026-1' }, undefined, 'zh-CN');
    expect(zh.tone).toBe('ok');
    expect(zh.headline).toBe('完整性已验证');
    expect(zh.lines).toEqual(['签名密钥：ed25519-2026-1', '校验时间：2026-12-06 08:00']);
    const en = verificationWords({ state: 'verified', checked_at: CHECKED_AT, problems: [] }, 'key-7', 'en');
    expect(en.headline).toBe('Integrity verified');
    expect(en.lines[0]).toBe('Signing key: key-7');
  });

  it('names each failed file and its problem, in red', () => {
    const words = verificationWords(
      {
        state: 'failed',
        checked_at: CHECKED_AT,
        problems: [
          { file: 't01-video.webm', problem: 'hash_mismatch' },
          { file: 't02-audio.webm', problem: 'truncated at 1200 bytes' },
        ],
      },
      null,
      'zh-CN',
    );
    expect(words.tone).toBe('failed');
    expect(words.headline).toBe('完整性校验失败');
    expect(words.lines[0]).toBe('t01-video.webm：文件内容已被改动（SHA-256 不符）');
    // A problem the page has no words for is shown as the server said it.
    expect(words.lines[1]).toBe('t02-audio.webm：truncated at 1200 bytes');
    expect(words.lines[2]).toBe('校验时间：2026-12-06 08:00');
  });

  it('still says it failed when the server names no file', () => {
    const words = verificationWords({ state: 'failed', checked_at: null, problems: [] }, null, 'en');
    expect(words.headline).toBe('Integrity check failed');
    expect(words.lines).toEqual(['The server did not name the file that differs']);
  });

  it('says plainly when nothing was checked yet', () => {
    const words = verificationWords({ state: 'unchecked', checked_at: null, problems: [] }, null, 'en');
    expect(words).toEqual({ tone: 'unchecked', headline: 'Integrity not checked yet', lines: [] });
  });

  it('words a recording status, and keeps an unknown one as it is', () => {
    expect(statusWords('interrupted', 'en')).toBe('Interrupted (recovered up to the interruption)');
    expect(statusWords('complete', 'zh-CN')).toBe('已完成');
    expect(statusWords('archived', 'en')).toBe('archived');
  });
});

describe('renewing media tickets', () => {
  const now = 1_700_000_000_000;

  it('fetches new URLs a minute before a long ticket runs out', () => {
    expect(ticketRefreshDelay(now + 10 * 60_000, now)).toBe(9 * 60_000);
  });

  it('renews a short ticket halfway, and reads Unix seconds as seconds', () => {
    expect(ticketRefreshDelay(now + 60_000, now)).toBe(30_000);
    expect(ticketRefreshDelay((now + 10 * 60_000) / 1000, now)).toBe(9 * 60_000);
  });

  it('waits at least a second for a ticket already stale', () => {
    expect(ticketRefreshDelay(now - 5_000, now)).toBe(1000);
  });
});
