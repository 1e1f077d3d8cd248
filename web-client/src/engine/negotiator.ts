// Negotiation with the server, and ICE restarts.
//
// "Perfect negotiation" with this side polite (docs/protocol.md): a server offer that crosses
// ours wins; setRemoteDescription rolls ours back and we offer again. An ICE restart is an
// offer with `iceRestart`; one rolled back by a crossing offer is offered again.

import type { ServerMessageOf, TrackDeclaration } from '../signal/messages';
import type { SignalClient } from '../signal/signal-client';
import type { NegotiationCounts } from './engine-events';
import { enableOpusDtxAndFec } from './sdp';
import { sleep } from './reconnect-policy';

/** A live connection receives RTCP and audio (DTX still sends every 400 ms) well within this. */
const SILENT_PATH_MS = 1_000;
/** Offers the browser refused in a row before the connection is rebuilt. */
const MAX_FAILED_OFFERS = 2;

/** What the negotiator needs of the engine around it. */
export interface NegotiationHost {
  /** The current peer connection. */
  pc(): RTCPeerConnection | null;
  /** The current socket. */
  signal(): SignalClient | null;
  /** The sender of a shared screen, declared as source `screen`. */
  screenSender(): RTCRtpSender | null;
  /** Runs `work` after the server frames already queued. */
  enqueue(work: () => Promise<void>): void;
  /** The browser keeps refusing our offers: the connection is to be rebuilt. */
  rebuild(why: string): void;
}

export class Negotiator {
  private makingOffer = false;
  private restartIceWanted = false;
  /** Our ICE-restart offer is out unanswered: a rollback must not lose the restart. */
  private restartOffered = false;
  private iceRestartsOffered = 0;
  private iceRestartsRequested = 0;
  private failedOffersInRow = 0;
  /** The request id of our latest offer: a `forbidden` for it means we may not publish. */
  private offerRequest: string | null = null;
  /** Test hook: no offer of ours before the server's first (forces the crossing order). */
  private holdOffersForTest = false;
  private iceDisconnectTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly host: NegotiationHost,
    private readonly counts: NegotiationCounts,
  ) {}

  /** How many ICE restarts we have offered. */
  get restartsOffered(): number {
    return this.iceRestartsOffered;
  }

  /** How many `ice_restart` frames the server sent us. */
  get restartsRequested(): number {
    return this.iceRestartsRequested;
  }

  /** See `Engine.holdFirstOfferForTest`. */
  holdFirstOfferForTest(): void {
    this.holdOffersForTest = true;
  }

  /** A new peer connection starts with nothing outstanding. */
  reset(): void {
    this.restartOffered = false;
    this.failedOffersInRow = 0;
  }

  /** Whether `requestId` is that of our latest offer. */
  isLatestOffer(requestId: string | null | undefined): boolean {
    return requestId === this.offerRequest;
  }

  /** Restarts ICE when it failed, or when it stays disconnected for a while. */
  onIceState(pc: RTCPeerConnection): void {
    clearTimeout(this.iceDisconnectTimer);
    if (pc.iceConnectionState === 'failed') this.restartIce();
    // "disconnected" often heals by itself within a second or two on a moving phone.
    if (pc.iceConnectionState === 'disconnected') this.iceDisconnectTimer = setTimeout(() => this.restartIce(), 2_000);
  }

  /** The engine is closing: no restart is to come. */
  stop(): void {
    clearTimeout(this.iceDisconnectTimer);
  }

  /**
   * After a resume ICE may still say "connected" about a path that died with the network
   * (the phone came back on another address): Chromium takes seconds to notice. Nothing
   * received for a second on a connection that carries audio settles it sooner.
   */
  async restartIceIfSilent(): Promise<void> {
    const pc = this.host.pc();
    if (!pc) return;
    const received = async () => {
      let bytes = 0;
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'transport') bytes += s.bytesReceived ?? 0;
      });
      return bytes;
    };
    const before = await received();
    await sleep(SILENT_PATH_MS);
    if (this.host.pc() === pc && pc.iceConnectionState !== 'closed' && (await received()) === before) this.restartIce();
  }

  restartIce(): void {
    if (!this.host.pc() || !this.host.signal()?.isOpen) return; // the reconnect after the socket returns does it
    this.restartIceWanted = true;
    void this.offer();
  }

  /** The server asks for an ICE restart (it saw our media stop or come from a new address). */
  onRestartRequest(pc: RTCPeerConnection | null): void {
    // A restart offer still waiting for its answer answers further requests too.
    this.iceRestartsRequested++;
    if (!(this.restartOffered && pc?.signalingState === 'have-local-offer')) this.restartIce();
  }

  private declaredTracks(pc: RTCPeerConnection): TrackDeclaration[] {
    const tracks: TrackDeclaration[] = [];
    for (const t of pc.getTransceivers()) {
      const track = t.sender.track;
      if (!track || !t.mid || t.currentDirection === 'stopped') continue;
      if (t.direction !== 'sendonly' && t.direction !== 'sendrecv') continue;
      if (track.kind === 'audio') tracks.push({ mid: t.mid, source: 'microphone' });
      else if (t.sender === this.host.screenSender()) {
        const { width, height } = track.getSettings();
        tracks.push({ mid: t.mid, source: 'screen', width, height });
      } else {
        const { width, height } = track.getSettings();
        tracks.push({ mid: t.mid, source: 'camera', width, height });
      }
    }
    return tracks;
  }

  async offer(): Promise<void> {
    const pc = this.host.pc();
    if (!pc || this.makingOffer || pc.signalingState !== 'stable' || !this.host.signal()?.isOpen) return;
    this.makingOffer = true;
    let applying = false;
    try {
      const iceRestart = this.restartIceWanted;
      const offer = await pc.createOffer({ iceRestart });
      // A server offer got in first; answering it offers again, the restart still wanted.
      if (pc.signalingState !== 'stable') return;
      applying = true;
      await pc.setLocalDescription({ type: 'offer', sdp: enableOpusDtxAndFec(offer.sdp ?? '') });
      applying = false;
      this.failedOffersInRow = 0;
      // Test hook: applied but still "on the wire" when the server's offer crosses it, which
      // rolls it back (a server with an offer out refuses a crossing one as `glare` anyway).
      if (this.holdOffersForTest && this.counts.offersReceived === 0) return;
      // On the socket open now: it may have been replaced while the offer was made.
      const signal = this.host.signal();
      if (!signal) throw new Error('the socket closed while making an offer');
      this.offerRequest = signal.send({ type: 'offer', sdp: pc.localDescription?.sdp ?? '', tracks: this.declaredTracks(pc) });
      this.counts.offersSent++;
      this.counts.firstOfferSentAt ??= performance.now();
      if (iceRestart) {
        this.restartIceWanted = false;
        this.restartOffered = true;
        this.iceRestartsOffered++;
      }
    } catch (err) {
      console.warn('[accord] offer failed', err);
      // A server offer that got in between makes ours fail harmlessly (answering it offers
      // again). Refused in a stable state, the browser will refuse the same offer again (a
      // header-extension id it cannot bundle): our media would never go out.
      if (applying && pc === this.host.pc() && pc.signalingState === 'stable') {
        this.counts.failedOffers++;
        if (++this.failedOffersInRow >= MAX_FAILED_OFFERS) this.host.rebuild('offer refused by the browser');
        else this.offerAgainIfNeeded(pc);
      }
    } finally {
      this.makingOffer = false;
    }
  }

  /** The server's answer to our offer. */
  async onAnswer(pc: RTCPeerConnection, message: ServerMessageOf<'answer'>): Promise<void> {
    if (pc.signalingState !== 'have-local-offer') return;
    this.counts.answersReceived++;
    await pc.setRemoteDescription({ type: 'answer', sdp: enableOpusDtxAndFec(message.sdp) });
    this.restartOffered = false;
    this.offerAgainIfNeeded(pc);
  }

  /** Applies a server offer (rolling back a crossing one of ours) and answers it. */
  async answerServerOffer(pc: RTCPeerConnection, message: ServerMessageOf<'offer'>): Promise<void> {
    this.counts.offersReceived++;
    this.counts.firstServerOfferAt ??= performance.now();
    // Polite peer: applying the server's offer rolls back an offer of ours that crossed it.
    if (pc.signalingState === 'have-local-offer') {
      this.counts.rollbacks++;
      this.requeueIceRestart();
    }
    await pc.setRemoteDescription({ type: 'offer', sdp: message.sdp });
    for (const t of pc.getTransceivers()) {
      if (t.mid != null && message.tracks[t.mid] && t.direction === 'sendonly') t.direction = 'sendrecv';
    }
    const answer = await pc.createAnswer();
    await pc.setLocalDescription({ type: 'answer', sdp: enableOpusDtxAndFec(answer.sdp ?? '') });
    this.host.signal()?.send({ type: 'answer', sdp: pc.localDescription?.sdp ?? '' });
  }

  /** A rollback or a missed negotiationneeded leaves our own tracks unsent: offer them. */
  offerAgainIfNeeded(pc: RTCPeerConnection): void {
    const unsent = pc
      .getTransceivers()
      .some((t) => t.sender.track && (!t.mid || !['sendonly', 'sendrecv'].includes(t.currentDirection ?? '')));
    if (unsent || this.restartIceWanted) setTimeout(() => void this.offer(), 50);
  }

  /** The server refused our offer as `glare` (it had one out): roll ours back, offer again. */
  retryAfterGlare(): void {
    const pc = this.host.pc();
    if (!pc) return;
    this.host.enqueue(async () => {
      if (pc.signalingState === 'have-local-offer') {
        this.requeueIceRestart();
        await pc.setLocalDescription({ type: 'rollback' });
      }
      this.offerAgainIfNeeded(pc);
    });
  }

  /** A restart offer of ours was rolled back unanswered: the next offer restarts instead. */
  private requeueIceRestart(): void {
    if (this.restartOffered) this.restartIceWanted = true;
    this.restartOffered = false;
  }
}
