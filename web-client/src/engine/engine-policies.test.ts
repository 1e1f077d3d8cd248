import { describe, expect, it } from 'vitest';
import { qualityOf, sampleBetween } from './quality';
import { BackoffPolicy } from './reconnect-policy';

describe('reconnect backoff', () => {
  it('retries at once, backs off to a ceiling, and gives up after the limit', () => {
    const policy = new BackoffPolicy([0, 1000, 5000], 60_000, () => 0.5);
    expect(policy.nextDelay(0, 0)).toBe(0);
    expect(policy.nextDelay(1, 100)).toBe(1000);
    expect(policy.nextDelay(9, 100)).toBe(5000);
    expect(policy.nextDelay(2, 60_000)).toBeNull();
  });
});

describe('connection quality', () => {
  it('grades loss, round trip and bitrate', () => {
    const a = { packetsReceived: 0, packetsLost: 0, bytes: 0, at: 0 };
    const clean = sampleBetween(a, { packetsReceived: 100, packetsLost: 0, bytes: 100_000, at: 1000 }, 0.05);
    expect(qualityOf(clean, true)).toBe('good');
    const lossy = sampleBetween(a, { packetsReceived: 80, packetsLost: 20, bytes: 100_000, at: 1000 }, 0.05);
    expect(qualityOf(lossy, true)).toBe('poor');
    expect(qualityOf({ lossRatio: 0, rttSeconds: 0.4, bitrate: 1e6 }, true)).toBe('fair');
    expect(qualityOf(null, true)).toBe('unknown');
  });
});
