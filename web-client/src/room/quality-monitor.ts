// Reads getStats every two seconds and turns each participant's incoming streams (and our own
// outgoing ones) into a quality level for the tile indicator.

import type { Engine } from '../engine';
import { type Quality, qualityOf, type RtpCounters, sampleBetween } from '../engine/quality';
import type { Room } from './room';

const INTERVAL_MS = 2_000;
const RANK: Record<Quality, number> = { unknown: 0, good: 1, fair: 2, poor: 3 };

export class QualityMonitor {
  private timer: ReturnType<typeof setInterval> | undefined;
  private previous = new Map<string, RtpCounters>();

  constructor(
    private readonly engine: Engine,
    private readonly room: Room,
  ) {}

  start(): void {
    this.stop();
    this.timer = setInterval(() => void this.measure(), INTERVAL_MS);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async measure(): Promise<void> {
    const pc = this.engine.pc;
    if (!pc || pc.connectionState === 'closed') return;
    const report = await pc.getStats();
    let rtt: number | null = null;
    const inbound: { mid: string; kind: string; counters: RtpCounters }[] = [];
    let outboundLoss = 0;
    report.forEach((s) => {
      if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') rtt = s.currentRoundTripTime ?? rtt;
      if (s.type === 'inbound-rtp' && s.mid != null) {
        inbound.push({
          mid: s.mid,
          kind: s.kind,
          counters: { packetsReceived: s.packetsReceived ?? 0, packetsLost: s.packetsLost ?? 0, bytes: s.bytesReceived ?? 0, at: s.timestamp },
        });
      }
      if (s.type === 'remote-inbound-rtp') outboundLoss = Math.max(outboundLoss, s.fractionLost ?? 0);
    });
    const byMid = new Map(pc.getTransceivers().map((t) => [t.mid, t]));
    const perParticipant = new Map<string, Quality>();
    for (const participant of this.room.list()) {
      for (const publication of participant.publications.values()) {
        const media = this.room.mediaOf(participant, publication.source);
        if (!media) continue;
        const entry = inbound.find((i) => byMid.get(i.mid)?.receiver.track === media.track);
        if (!entry) continue;
        const before = this.previous.get(publication.id);
        this.previous.set(publication.id, entry.counters);
        if (!before) continue;
        if (publication.kind === 'audio' && publication.muted) continue;
        const sample = sampleBetween(before, entry.counters, rtt);
        // DTX sends almost nothing during silence, and a hidden tile asks for no video: only
        // video that is flowing says something by its bitrate.
        const expectsVideo = publication.kind === 'video' && !publication.muted && sample.bitrate > 0;
        const quality = qualityOf(sample, expectsVideo);
        const worst = perParticipant.get(participant.info.id) ?? 'unknown';
        perParticipant.set(participant.info.id, RANK[quality] > RANK[worst] ? quality : worst);
      }
    }
    for (const [id, quality] of perParticipant) this.room.setQuality(id, quality);
    this.room.emit('selfQuality', qualityOf({ lossRatio: outboundLoss, rttSeconds: rtt, bitrate: Infinity }, false));
    const rttSeconds: number | null = rtt;
    this.room.network.measured({ lossPercent: outboundLoss * 100, rttMs: rttSeconds === null ? null : rttSeconds * 1000 });
  }
}
