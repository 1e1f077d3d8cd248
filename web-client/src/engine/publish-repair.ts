// Checks that what we publish goes out, and repairs a connection where it does not: offered
// again, then a new path (ICE restart), then rebuilt on a fresh seat. The person is told while
// it is repaired, and if repairing does not help.

import type { ConnectionPhase, NegotiationCounts, PublishState } from './engine-events';

/** How often what we publish is checked to be going out. */
const PUBLISH_CHECK_MS = 2_000;
/**
 * A track without its m-line, or whose packets stop, this long while the connection is up
 * is not reaching anyone: offer again. Twice this long, rebuild the connection. Negotiation
 * takes well under a second even on a loaded phone; ICE trouble is left to its own repair.
 */
const PUBLISH_STUCK_MS = 6_000;
/** Rebuilds in a row before the person is told it failed (checking goes on meanwhile). */
const MAX_REBUILDS = 2;

/** What the repair needs of the engine around it. */
export interface PublishRepairHost {
  pc(): RTCPeerConnection | null;
  phase(): ConnectionPhase;
  leaving(): boolean;
  /** Away (in the background, a phone call), the device may deliver nothing to send. */
  away(): boolean;
  /** The server refused us publishing: nothing to repair. */
  publishRefused(): boolean;
  offerAgainIfNeeded(pc: RTCPeerConnection): void;
  restartIce(): void;
  /** Leaves the seat's connection behind and joins again as new. */
  joinAsNew(): Promise<void>;
  stateChanged(state: PublishState): void;
}

export class PublishRepair {
  private timer: ReturnType<typeof setInterval> | undefined;
  /** Since when a published track has not been going out (0: it is). */
  private stuckSince = 0;
  private packetsSentByMid = new Map<string, number>();
  private rebuildsInRow = 0;
  private rebuilding = false;
  private current: PublishState = 'sending';

  constructor(
    private readonly host: PublishRepairHost,
    private readonly counts: NegotiationCounts,
  ) {}

  get state(): PublishState {
    return this.current;
  }

  /** Starts checking a new connection. */
  watch(pc: RTCPeerConnection): void {
    this.stuckSince = 0;
    this.packetsSentByMid = new Map();
    clearInterval(this.timer);
    this.timer = setInterval(() => void this.check(pc), PUBLISH_CHECK_MS);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * Checks that what we publish goes out: every track has its m-line and sends, and the
   * microphone's packet count grows. A connection where it does not (an offer the browser refused, a publish lost
   * to a crossing offer) is offered again, then rebuilt on a fresh seat; the person is told
   * while it is repaired, and if it does not help.
   */
  private async check(pc: RTCPeerConnection): Promise<void> {
    const host = this.host;
    if (pc !== host.pc() || host.phase() !== 'connected' || host.away() || host.publishRefused() || pc.signalingState === 'closed') return;
    const published = pc.getTransceivers().filter((t) => t.sender.track?.readyState === 'live' && t.currentDirection !== 'stopped');
    let stuck = false;
    let unnegotiated = false;
    let confirmed = published.length > 0 && pc.connectionState === 'connected';
    if (pc.connectionState === 'connected') {
      const sent = new Map<string, number>();
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'outbound-rtp' && s.mid != null) sent.set(s.mid, (sent.get(s.mid) ?? 0) + (s.packetsSent ?? 0));
      });
      for (const t of published) {
        if (!t.mid || !['sendonly', 'sendrecv'].includes(t.currentDirection ?? '')) {
          stuck ||= pc.signalingState === 'stable';
          unnegotiated = true;
          confirmed = false;
          continue;
        }
        // Audio only: it never stops (silence under DTX still sends every 400 ms, a muted
        // microphone sends silence), while a browser may suspend video on a starved link.
        // A source the system muted (another app took the microphone) delivers nothing either.
        if (t.sender.track?.kind !== 'audio' || t.sender.track.muted) continue;
        const now = sent.get(t.mid) ?? 0;
        const before = this.packetsSentByMid.get(t.mid);
        this.packetsSentByMid.set(t.mid, now);
        if (before === undefined || now <= before) confirmed = false;
        if (before !== undefined && now <= before) stuck = true;
      }
    }
    if (pc !== host.pc()) return;
    if (!stuck) {
      this.stuckSince = 0;
      // Only media seen going out ends a series of rebuilds: a new connection has no m-lines
      // yet, and must not count as repaired before it sends.
      if (confirmed) {
        this.rebuildsInRow = 0;
        this.setState('sending');
      }
      return;
    }
    const now = Date.now();
    if (this.stuckSince === 0) this.stuckSince = now;
    const stuckFor = now - this.stuckSince;
    if (stuckFor >= 2 * PUBLISH_STUCK_MS) void this.rebuild('published tracks do not go out');
    // A track without its m-line needs an offer; packets that do not leave, a new path.
    else if (stuckFor >= PUBLISH_STUCK_MS) unnegotiated ? host.offerAgainIfNeeded(pc) : host.restartIce();
  }

  /** Leaves the seat's connection behind and joins again as new (see `Engine.reconnect`). */
  async rebuild(why: string): Promise<void> {
    if (this.rebuilding || this.host.phase() !== 'connected' || this.host.leaving()) return;
    if (this.rebuildsInRow >= MAX_REBUILDS) {
      this.setState('failed');
      return;
    }
    console.warn(`[accord] rebuilding the connection: ${why}`);
    this.rebuilding = true;
    this.rebuildsInRow++;
    this.counts.rebuilds++;
    this.setState('repairing');
    this.stuckSince = 0;
    try {
      await this.host.joinAsNew();
    } finally {
      this.rebuilding = false;
    }
  }

  private setState(state: PublishState): void {
    if (this.current === state) return;
    this.current = state;
    this.host.stateChanged(state);
  }
}
