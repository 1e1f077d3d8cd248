// A connection-quality level from WebRTC statistics, for the indicator on each tile.

export type Quality = 'good' | 'fair' | 'poor' | 'unknown';

export interface QualitySample {
  /** Packets lost / expected since the previous sample, 0..1. */
  lossRatio: number;
  /** Round-trip time in seconds, if known. */
  rttSeconds: number | null;
  /** Bits per second received (or sent, for our own tile) since the previous sample. */
  bitrate: number;
}

/** Thresholds follow what a person notices: ~3 % loss or 300 ms RTT degrades a call. */
export function qualityOf(sample: QualitySample | null, expectsVideo: boolean): Quality {
  if (!sample) return 'unknown';
  const rtt = sample.rttSeconds ?? 0;
  if (sample.lossRatio > 0.1 || rtt > 0.6 || (expectsVideo && sample.bitrate < 30_000)) return 'poor';
  if (sample.lossRatio > 0.03 || rtt > 0.3 || (expectsVideo && sample.bitrate < 150_000)) return 'fair';
  return 'good';
}

export interface RtpCounters {
  packetsReceived: number;
  packetsLost: number;
  bytes: number;
  at: number; // ms
}

/** The sample between two readings of the same stream's counters. */
export function sampleBetween(previous: RtpCounters, next: RtpCounters, rttSeconds: number | null): QualitySample {
  const received = Math.max(0, next.packetsReceived - previous.packetsReceived);
  const lost = Math.max(0, next.packetsLost - previous.packetsLost);
  const expected = received + lost;
  const seconds = Math.max(0.001, (next.at - previous.at) / 1000);
  return {
    lossRatio: expected === 0 ? 0 : lost / expected,
    rttSeconds,
    bitrate: (Math.max(0, next.bytes - previous.bytes) * 8) / seconds,
  };
}
