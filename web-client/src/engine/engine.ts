// The engine: one signal client plus one RTCPeerConnection, kept alive across network trouble.
//
// - Negotiation is "perfect negotiation" with this side polite (docs/protocol.md): a server
//   offer that crosses ours wins; setRemoteDescription rolls ours back and we offer again.
// - Publishing: microphone (Opus, DTX + in-band FEC) and camera (simulcast, hardware codec).
// - Staying connected: when the socket drops we rejoin with the `resume_token`, which gives back
//   the same seat and the same peer connection; if ICE failed meanwhile we restart it with a new
//   offer. Only when the server no longer holds the seat do we build a new peer connection.
// - The waiting room: a case session may answer `join` with `waiting` and send `joined` only
//   when a mediator admits us, minutes later. Nothing times out meanwhile, and a socket lost
//   while waiting is opened again so the person keeps their place.
//
// The engine knows nothing of tiles or screens; the room model listens to its events.

import { Emitter } from '../emitter';
import {
  type ClientMessage,
  PROTOCOL_VERSION,
  type ServerMessage,
  type ServerMessageOf,
  type TrackDeclaration,
  type TrackSource,
} from '../signal/messages';
import { SignalClient } from '../signal/signal-client';
import { cameraLayers, type DeviceClass, orderCodecs, prefersH264, simulcastEncodings } from './publishing';
import { type Ended, type EndReason, JoinError, joinErrorReason, leaveReason } from './ending';
import { BackoffPolicy, type ReconnectPolicy, sleep, sleepUntilOnline } from './reconnect-policy';
import { enableOpusDtxAndFec } from './sdp';

export type ConnectionPhase = 'connecting' | 'connected' | 'reconnecting' | 'closed';
export { type Ended, type EndReason, JoinError } from './ending';

export interface EngineEvents {
  /** Every joined, including each resume (`resumed` tells which). */
  joined: { message: ServerMessageOf<'joined'>; resumed: boolean };
  /** We are in the waiting room: `connect()` resolves once a mediator admits us. */
  waiting: ServerMessageOf<'waiting'>;
  /** Room-level frames the engine does not consume itself. */
  message: ServerMessage;
  /** The server's current mapping of its track ids to the tracks we receive them on. */
  remoteTracks: Map<string, MediaStreamTrack>;
  phase: ConnectionPhase;
  ended: Ended;
  /** Whether our camera and microphone reach the server (see `watchPublishing`). */
  publishing: PublishState;
}

/**
 * `sending` while every track we publish has its m-line and its packets go out; `repairing`
 * while the engine rebuilds a connection that does not send them; `failed` once rebuilding
 * has not helped (the person is told: the others do not see or hear them).
 */
export type PublishState = 'sending' | 'repairing' | 'failed';

/** Offer/answer counts, for tests and for the console when something goes wrong. */
export interface NegotiationCounts {
  offersSent: number;
  answersReceived: number;
  offersReceived: number;
  /** Our offers that a crossing server offer rolled back. */
  rollbacks: number;
  /** Offers the browser refused to apply (`setLocalDescription` failed). */
  failedOffers: number;
  /** Connections rebuilt because our media did not go out. */
  rebuilds: number;
  /** `performance.now()` of the first server offer and of our first offer sent. */
  firstServerOfferAt: number | null;
  firstOfferSentAt: number | null;
}

type Joined = ServerMessageOf<'joined'>;

/** A live connection receives RTCP and audio (DTX still sends every 400 ms) well within this. */
const SILENT_PATH_MS = 1_000;
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
/** Offers the browser refused in a row before the connection is rebuilt. */
const MAX_FAILED_OFFERS = 2;

interface Publication {
  stream: MediaStream;
  device: DeviceClass;
}

export class Engine extends Emitter<EngineEvents> {
  pc: RTCPeerConnection | null = null;
  private signal: SignalClient | null = null;
  private joined: Joined | null = null;
  private phase: ConnectionPhase = 'connecting';
  private leaving = false;
  private makingOffer = false;
  private restartIceWanted = false;
  private inbox: Promise<void> = Promise.resolve();
  private remoteMap: Record<string, string> = {};
  private publication: Publication | null = null;
  /** Kept even while its track is detached (background, simulated outage). */
  private cameraSender: RTCRtpSender | null = null;
  private screenTrack: MediaStreamTrack | null = null;
  private screenSender: RTCRtpSender | null = null;
  /** Set by the latest `waiting`: what a dropped socket rejoins with to keep the place. */
  private waitingResume: string | undefined;
  private waitingSince = 0;
  private readonly trackSettings = new Map<string, { width: number; height: number; enabled: boolean }>();
  private readonly mutes = new Map<TrackSource, boolean>();
  private away = false;
  /** The socket of a reconnect attempt that has not opened yet. */
  private connecting: SignalClient | null = null;
  private iceDisconnectTimer: ReturnType<typeof setTimeout> | undefined;
  /** Test hook state: while set, reconnect attempts wait (a simulated network outage). */
  private offlineUntil = 0;
  private iceRestartsOffered = 0;
  private iceRestartsRequested = 0;
  /** Our ICE-restart offer is out unanswered: a rollback must not lose the restart. */
  private restartOffered = false;
  /** The person's 省流量 choice; null until they make one (the server's default is off). */
  private saveData: boolean | null = null;
  /** The server's latest `layer_demand` for our camera, null until it sends one. */
  private layerDemand: boolean[] | null = null;
  private layerUpdates: Promise<void> = Promise.resolve();
  readonly negotiation: NegotiationCounts = {
    offersSent: 0,
    answersReceived: 0,
    offersReceived: 0,
    rollbacks: 0,
    failedOffers: 0,
    rebuilds: 0,
    firstServerOfferAt: null,
    firstOfferSentAt: null,
  };
  /** Test hook: no offer of ours before the server's first (forces the crossing order). */
  private holdOffersForTest = false;
  private failedOffersInRow = 0;
  private publishTimer: ReturnType<typeof setInterval> | undefined;
  /** Since when a published track has not been going out (0: it is). */
  private stuckSince = 0;
  private packetsSentByMid = new Map<string, number>();
  private rebuildsInRow = 0;
  private rebuilding = false;
  /** The server refused us publishing: nothing to repair. */
  private publishRefused = false;
  /** The request id of our latest offer: a `forbidden` for it means we may not publish. */
  private offerRequest: string | null = null;
  private publishState: PublishState = 'sending';

  constructor(
    private readonly wsUrl: string,
    private readonly token: string,
    private readonly policy: ReconnectPolicy = new BackoffPolicy(),
  ) {
    super();
  }

  get connectionPhase(): ConnectionPhase {
    return this.phase;
  }

  get self(): Joined['participant'] | null {
    return this.joined?.participant ?? null;
  }

  /** How many ICE restarts we have offered: tells a test which recovery path ran. */
  get iceRestarts(): number {
    return this.iceRestartsOffered;
  }

  /** How many `ice_restart` frames the server sent us (one restart may answer several). */
  get iceRestartRequests(): number {
    return this.iceRestartsRequested;
  }

  get publishing(): PublishState {
    return this.publishState;
  }

  /**
   * Test hook: our first offer is applied but not sent until the server's first offer has
   * crossed it and rolled it back, as on a busy phone admitted right after someone who
   * publishes. Call before `connect`.
   */
  holdFirstOfferForTest(): void {
    this.holdOffersForTest = true;
  }

  /**
   * Opens the socket and joins; rejects with a JoinError the screens can explain. Resolves
   * only at `joined`, however long the waiting room takes (see the `waiting` event).
   */
  async connect(): Promise<Joined> {
    const joined = await this.joinThroughWaitingRoom();
    this.createPeerConnection(joined);
    this.sendSaveData();
    this.setPhase('connected');
    return joined;
  }

  /** Sends any client frame; the request id, or null while no socket is open. */
  send(message: ClientMessage): string | null {
    return this.signal?.send(message) ?? null;
  }

  /** Starts sending a shared screen (declared as source `screen`, one layer: text stays sharp). */
  async publishScreen(track: MediaStreamTrack): Promise<void> {
    this.screenTrack = track;
    if (this.pc) this.addScreenTrack(this.pc);
  }

  /** Stops sending the shared screen; the renegotiation withdraws it from the others. */
  stopScreen(): void {
    const sender = this.screenSender;
    this.screenTrack = null;
    this.screenSender = null;
    if (sender && this.pc && this.pc.signalingState !== 'closed') this.pc.removeTrack(sender);
  }

  /** Starts sending the microphone and camera of `stream`. */
  async publish(stream: MediaStream, device: DeviceClass): Promise<void> {
    this.publication = { stream, device };
    if (this.pc) await this.addLocalTracks(this.pc);
  }

  /** Swaps the camera (front/back) without renegotiating. */
  async replaceVideoTrack(track: MediaStreamTrack): Promise<void> {
    await this.cameraSender?.replaceTrack(track);
  }

  /**
   * Stops (or resumes) sending camera frames without telling anyone it is "off": used while the
   * page is in the background, where phones stop the camera anyway. Receivers see the video
   * track go quiet and show "paused".
   */
  async pauseVideo(paused: boolean): Promise<void> {
    const camera = this.publication?.stream.getVideoTracks()[0] ?? null;
    if (!this.cameraSender || !camera) return;
    await this.cameraSender.replaceTrack(paused ? null : camera).catch(() => {});
  }

  /**
   * 省流量: the server sends us no video, and our camera sends only its lowest layer; turned
   * off, both come back. Kept for every later socket and connection of this session.
   */
  setSaveData(enabled: boolean): void {
    this.saveData = enabled;
    // In the waiting room the server refuses everything but leave and ping: `connect` sends it.
    if (this.joined) this.sendSaveData();
    void this.updateCameraLayers();
  }

  /** Tells the room we are away (app in the background, a phone call) or back. */
  setAway(away: boolean): void {
    if (this.away === away) return;
    this.away = away;
    this.signal?.send({ type: 'pause', paused: away });
  }

  setMuted(source: TrackSource, muted: boolean): void {
    this.mutes.set(source, muted);
    const kind = source === 'microphone' ? 'audio' : 'video';
    for (const track of this.publication?.stream.getTracks() ?? []) {
      if (track.kind === kind) track.enabled = !muted;
    }
    this.send({ type: 'mute', source, muted });
  }

  /** The size we render a remote video at; `enabled: false` asks for no video of it. */
  setTrackSettings(trackId: string, width: number, height: number, enabled: boolean): void {
    const previous = this.trackSettings.get(trackId);
    if (previous && previous.width === width && previous.height === height && previous.enabled === enabled) return;
    this.trackSettings.set(trackId, { width, height, enabled });
    this.signal?.send({ type: 'track_settings', track_id: trackId, width, height, enabled });
  }

  forgetTrackSettings(trackId: string): void {
    this.trackSettings.delete(trackId);
  }

  async leave(): Promise<void> {
    this.leaving = true;
    if (!this.signal) {
      // Still opening the first socket: nothing to tell the server.
      this.connecting?.close();
      this.shutdown('left');
      return;
    }
    this.signal?.send({ type: 'leave' });
    await new Promise((resolve) => setTimeout(resolve, 100)); // let the frame go out
    this.shutdown('left');
  }

  /**
   * Test hook: the network vanishes for `ms`. The socket is dropped and reconnecting waits out
   * the outage; our media is stopped by detaching the senders' tracks (the browser cannot block
   * its own UDP, so incoming media and ICE consent checks still flow during the outage).
   */
  async simulateNetworkDrop(ms: number): Promise<void> {
    this.offlineUntil = Date.now() + ms;
    const senders = this.pc?.getSenders() ?? [];
    const detached = senders.map((s) => [s, s.track] as const);
    await Promise.all(senders.map((s) => s.replaceTrack(null)));
    this.signal?.drop();
    setTimeout(() => {
      for (const [sender, track] of detached) sender.replaceTrack(track).catch(() => {});
    }, ms);
  }

  /**
   * Test hook: the socket dies as it does when the network goes away under it. The test takes
   * the network itself away, so unlike `simulateNetworkDrop` nothing else is faked here.
   */
  dropSocketForTest(): void {
    this.signal?.drop();
  }

  // ------------------------------------------------------------------------------------------
  // Socket and join

  /**
   * The first join. A socket lost before `joined` is an ordinary failure, except in the
   * waiting room: a phone there may wait for minutes on a moving network, and should not
   * lose its place (or its screen) to one dropped connection.
   */
  private async joinThroughWaitingRoom(): Promise<Joined> {
    let attempt = 0;
    let dropSince = 0;
    for (;;) {
      try {
        return await this.openAndJoin(this.waitingResume);
      } catch (err) {
        if (err instanceof JoinError) throw err;
        if (this.leaving) throw new JoinError('left', 'left before joined');
        if (this.waitingSince === 0) throw err;
        if (this.waitingSince > dropSince) {
          attempt = 0;
          dropSince = Date.now();
        }
        const delay = this.policy.nextDelay(attempt++, Date.now() - dropSince);
        if (delay === null) throw err;
        console.warn('[accord] lost the socket in the waiting room; opening it again', err);
        this.setPhase('reconnecting');
        await sleepUntilOnline(delay);
        if (this.leaving) throw new JoinError('left', 'left while waiting');
      }
    }
  }

  private async openAndJoin(resume: string | undefined): Promise<Joined> {
    const signal = new SignalClient(this.wsUrl);
    this.connecting = signal;
    try {
      await signal.connect();
    } finally {
      this.connecting = null;
    }
    return new Promise<Joined>((resolve, reject) => {
      let settled = false;
      const offMessage = signal.on('message', (message) => {
        if (!settled) {
          if (message.type === 'joined') {
            settled = true;
            this.adopt(signal, message);
            resolve(message);
          } else if (message.type === 'waiting') {
            // Frames such as `leave` go out on this socket while we wait.
            this.signal = signal;
            this.waitingResume = message.resume_token ?? this.waitingResume;
            this.waitingSince = Date.now();
            if (this.phase === 'reconnecting') this.setPhase('connecting');
            this.emit('waiting', message);
          } else if (message.type === 'left') {
            settled = true;
            signal.close();
            reject(new JoinError(leaveReason(message.reason), `left: ${message.reason}`, message.message));
          } else if (message.type === 'error' && message.fatal) {
            settled = true;
            signal.close();
            reject(new JoinError(joinErrorReason(message.code), message.message));
          }
          return;
        }
        if (message.type === 'left') {
          // At once, not behind the inbox: the server closes the socket right after, and a
          // slow renegotiation still queued there would let the close start a reconnect that
          // meets a dead token ("link invalid") instead of the reason we were given.
          this.shutdown(leaveReason(message.reason), message.message);
          return;
        }
        this.inbox = this.inbox.then(() => this.handle(message)).catch((err) => console.error('[accord]', err));
      });
      signal.on('closed', (closed) => {
        offMessage();
        if (!settled) {
          settled = true;
          if (this.leaving) reject(new JoinError('left', 'left before joined'));
          else reject(new Error(`socket closed before joined (${closed.code})`));
          return;
        }
        if (this.signal === signal && !closed.byUs && !this.leaving) void this.reconnect();
      });
      signal.send({ type: 'join', protocol: PROTOCOL_VERSION, token: this.token, resume });
    });
  }

  private adopt(signal: SignalClient, joined: Joined): void {
    this.signal = signal;
    this.joined = joined;
  }

  private async reconnect(fresh = false): Promise<void> {
    if (this.phase === 'reconnecting' || this.phase === 'closed') return;
    this.setPhase('reconnecting');
    // A fresh seat (no resume token) gives a new peer connection on both sides.
    const previous = fresh ? null : this.joined;
    const started = Date.now();
    // An attempt begun while the network was away may hang on a dead path (a phone that came
    // back on another address never hears from it): when the browser says the network is
    // back, that attempt is abandoned and the next one starts at once.
    let attemptStarted = 0;
    let networkBackAt = 0;
    const onOnline = () => {
      networkBackAt = Date.now();
      this.connecting?.close();
    };
    window.addEventListener('online', onOnline);
    try {
      for (let attempt = 0; ; attempt++) {
        const backoff = this.policy.nextDelay(attempt, Date.now() - started);
        if (backoff === null) return this.shutdown('gave_up');
        const delay = networkBackAt > attemptStarted ? 0 : backoff;
        const outage = this.offlineUntil - Date.now();
        await (outage > 0 ? sleep(Math.max(delay, outage)) : sleepUntilOnline(delay));
        if (this.leaving) return;
        attemptStarted = Date.now();
        if (await this.tryResume(previous, attempt)) return;
      }
    } finally {
      window.removeEventListener('online', onOnline);
    }
  }

  /** One reconnect attempt; true when it ended the reconnecting (back in, or given up). */
  private async tryResume(previous: Joined | null, attempt: number): Promise<boolean> {
    try {
      const joined = await this.openAndJoin(previous?.resume_token);
      const sameSeat = joined.participant.id === previous?.participant.id;
      if (sameSeat) {
        this.emit('joined', { message: joined, resumed: true });
        this.resendState();
        const ice = this.pc?.iceConnectionState;
        if (ice === 'failed' || ice === 'disconnected') this.restartIce();
        else void this.restartIceIfSilent();
      } else {
        // The server no longer held the seat: a new participant needs a new connection.
        this.pc?.close();
        this.remoteMap = {};
        this.emit('remoteTracks', new Map());
        this.createPeerConnection(joined);
        this.emit('joined', { message: joined, resumed: false });
        this.resendState();
      }
      this.setPhase('connected');
      return true;
    } catch (err) {
      if (err instanceof JoinError) {
        this.shutdown(err.reason, err.detail);
        return true;
      }
      console.warn(`[accord] reconnect attempt ${attempt + 1} failed`, err);
      return false;
    }
  }

  /** After a new socket: the server forgets nothing of a resumed seat, but mutes and sizes
   *  are cheap to repeat and a new seat needs them. */
  private resendState(): void {
    for (const [source, muted] of this.mutes) this.signal?.send({ type: 'mute', source, muted });
    if (this.away) this.signal?.send({ type: 'pause', paused: true });
    for (const [trackId, s] of this.trackSettings) {
      this.signal?.send({ type: 'track_settings', track_id: trackId, width: s.width, height: s.height, enabled: s.enabled });
    }
    this.sendSaveData();
  }

  /** Only once chosen: a server from before save-data would refuse the frame as unknown. */
  private sendSaveData(): void {
    if (this.saveData !== null) this.signal?.send({ type: 'save_data', enabled: this.saveData });
  }

  private shutdown(reason: EndReason, message?: string): void {
    if (this.phase === 'closed') return;
    this.leaving = true;
    clearTimeout(this.iceDisconnectTimer);
    clearInterval(this.publishTimer);
    this.signal?.close();
    this.pc?.close();
    this.setPhase('closed');
    this.emit('ended', { reason, message });
  }

  private setPhase(phase: ConnectionPhase): void {
    if (this.phase === phase) return;
    this.phase = phase;
    this.emit('phase', phase);
  }

  // ------------------------------------------------------------------------------------------
  // Peer connection

  private createPeerConnection(joined: Joined): void {
    const pc = new RTCPeerConnection({
      iceServers: joined.ice_servers,
      bundlePolicy: 'max-bundle',
      rtcpMuxPolicy: 'require',
    });
    this.pc = pc;
    this.restartOffered = false;
    this.layerDemand = null;
    this.failedOffersInRow = 0;
    this.stuckSince = 0;
    this.packetsSentByMid = new Map();
    clearInterval(this.publishTimer);
    this.publishTimer = setInterval(() => void this.watchPublishing(pc), PUBLISH_CHECK_MS);
    pc.onicecandidate = (ev) => {
      if (ev.candidate) this.signal?.send({ type: 'candidate', candidate: ev.candidate.toJSON() });
    };
    pc.onnegotiationneeded = () => void this.offer();
    pc.oniceconnectionstatechange = () => this.onIceState(pc);
    pc.ontrack = () => this.emitRemoteTracks();
    if (this.publication) void this.addLocalTracks(pc);
    this.screenSender = null;
    this.addScreenTrack(pc);
  }

  private addScreenTrack(pc: RTCPeerConnection): void {
    const track = this.screenTrack;
    if (!track || this.screenSender || track.readyState === 'ended') return;
    // Text on a shared screen must stay legible: keep resolution, let the frame rate drop.
    track.contentHint = 'detail';
    this.screenSender = pc.addTransceiver(track, { direction: 'sendonly' }).sender;
  }

  private async addLocalTracks(pc: RTCPeerConnection): Promise<void> {
    const publication = this.publication;
    if (!publication) return;
    const h264First = await prefersH264();
    for (const track of publication.stream.getTracks()) {
      if (pc.getSenders().some((s) => s.track === track)) continue;
      if (track.kind === 'audio') {
        pc.addTransceiver(track, { direction: 'sendonly', streams: [publication.stream] });
        continue;
      }
      const transceiver = pc.addTransceiver(track, {
        direction: 'sendonly',
        streams: [publication.stream],
        sendEncodings: cameraLayers(simulcastEncodings(publication.device), null, this.saveData === true),
      });
      this.cameraSender = transceiver.sender;
      const capabilities = RTCRtpSender.getCapabilities?.('video');
      if (capabilities && transceiver.setCodecPreferences) {
        const ordered = orderCodecs(capabilities.codecs, h264First);
        if (ordered.length > 0) transceiver.setCodecPreferences(ordered);
      }
    }
  }

  private onIceState(pc: RTCPeerConnection): void {
    clearTimeout(this.iceDisconnectTimer);
    if (pc.iceConnectionState === 'failed') this.restartIce();
    // "disconnected" often heals by itself within a second or two on a moving phone.
    if (pc.iceConnectionState === 'disconnected') this.iceDisconnectTimer = setTimeout(() => this.restartIce(), 2_000);
  }

  /**
   * After a resume ICE may still say "connected" about a path that died with the network
   * (the phone came back on another address): Chromium takes seconds to notice. Nothing
   * received for a second on a connection that carries audio settles it sooner.
   */
  private async restartIceIfSilent(): Promise<void> {
    const pc = this.pc;
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
    if (this.pc === pc && pc.iceConnectionState !== 'closed' && (await received()) === before) this.restartIce();
  }

  private restartIce(): void {
    if (!this.pc || !this.signal?.isOpen) return; // the reconnect after the socket returns does it
    this.restartIceWanted = true;
    void this.offer();
  }

  private declaredTracks(pc: RTCPeerConnection): TrackDeclaration[] {
    const tracks: TrackDeclaration[] = [];
    for (const t of pc.getTransceivers()) {
      const track = t.sender.track;
      if (!track || !t.mid || t.currentDirection === 'stopped') continue;
      if (t.direction !== 'sendonly' && t.direction !== 'sendrecv') continue;
      if (track.kind === 'audio') tracks.push({ mid: t.mid, source: 'microphone' });
      else if (t.sender === this.screenSender) {
        const { width, height } = track.getSettings();
        tracks.push({ mid: t.mid, source: 'screen', width, height });
      } else {
        const { width, height } = track.getSettings();
        tracks.push({ mid: t.mid, source: 'camera', width, height });
      }
    }
    return tracks;
  }

  private async offer(): Promise<void> {
    const pc = this.pc;
    if (!pc || this.makingOffer || pc.signalingState !== 'stable' || !this.signal?.isOpen) return;
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
      if (this.holdOffersForTest && this.negotiation.offersReceived === 0) return;
      this.offerRequest = this.signal.send({ type: 'offer', sdp: pc.localDescription?.sdp ?? '', tracks: this.declaredTracks(pc) });
      this.negotiation.offersSent++;
      this.negotiation.firstOfferSentAt ??= performance.now();
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
      if (applying && pc === this.pc && pc.signalingState === 'stable') {
        this.negotiation.failedOffers++;
        if (++this.failedOffersInRow >= MAX_FAILED_OFFERS) void this.rebuild('offer refused by the browser');
        else this.offerAgainIfNeeded(pc);
      }
    } finally {
      this.makingOffer = false;
    }
  }

  /**
   * Checks that what we publish goes out: every track has its m-line and sends, and the
   * microphone's packet count grows. A connection where it does not (an offer the browser refused, a publish lost
   * to a crossing offer) is offered again, then rebuilt on a fresh seat; the person is told
   * while it is repaired, and if it does not help.
   */
  private async watchPublishing(pc: RTCPeerConnection): Promise<void> {
    // Away (in the background, a phone call), the device may deliver nothing to send.
    if (pc !== this.pc || this.phase !== 'connected' || this.away || this.publishRefused || pc.signalingState === 'closed') return;
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
    if (pc !== this.pc) return;
    if (!stuck) {
      this.stuckSince = 0;
      // Only media seen going out ends a series of rebuilds: a new connection has no m-lines
      // yet, and must not count as repaired before it sends.
      if (confirmed) {
        this.rebuildsInRow = 0;
        this.setPublishState('sending');
      }
      return;
    }
    const now = Date.now();
    if (this.stuckSince === 0) this.stuckSince = now;
    const stuckFor = now - this.stuckSince;
    if (stuckFor >= 2 * PUBLISH_STUCK_MS) void this.rebuild('published tracks do not go out');
    // A track without its m-line needs an offer; packets that do not leave, a new path.
    else if (stuckFor >= PUBLISH_STUCK_MS) unnegotiated ? this.offerAgainIfNeeded(pc) : this.restartIce();
  }

  /** Leaves the seat's connection behind and joins again as new (see `reconnect`). */
  private async rebuild(why: string): Promise<void> {
    if (this.rebuilding || this.phase !== 'connected' || this.leaving) return;
    if (this.rebuildsInRow >= MAX_REBUILDS) {
      this.setPublishState('failed');
      return;
    }
    console.warn(`[accord] rebuilding the connection: ${why}`);
    this.rebuilding = true;
    this.rebuildsInRow++;
    this.negotiation.rebuilds++;
    this.setPublishState('repairing');
    this.stuckSince = 0;
    try {
      // Closed first: the server tells the old socket it was `replaced`, which would end us.
      const old = this.signal;
      this.signal = null;
      old?.close();
      await this.reconnect(true);
    } finally {
      this.rebuilding = false;
    }
  }

  private setPublishState(state: PublishState): void {
    if (this.publishState === state) return;
    this.publishState = state;
    this.emit('publishing', state);
  }

  private async handle(message: ServerMessage): Promise<void> {
    const pc = this.pc;
    switch (message.type) {
      case 'offer':
        if (pc) await this.onServerOffer(pc, message);
        return;
      case 'answer':
        if (pc?.signalingState === 'have-local-offer') {
          this.negotiation.answersReceived++;
          await pc.setRemoteDescription({ type: 'answer', sdp: enableOpusDtxAndFec(message.sdp) });
          this.restartOffered = false;
          this.offerAgainIfNeeded(pc);
        }
        return;
      case 'layer_demand':
        this.layerDemand = message.active;
        await this.updateCameraLayers();
        return;
      case 'ice_restart':
        // The server saw our media stop or come from a new address while the socket lived
        // on. A restart offer still waiting for its answer answers further requests too.
        this.iceRestartsRequested++;
        if (!(this.restartOffered && pc?.signalingState === 'have-local-offer')) this.restartIce();
        return;
      case 'error':
        if (message.code === 'glare') setTimeout(() => this.retryAfterGlare(), 1_500);
        else if (message.fatal) this.shutdown(joinErrorReason(message.code));
        else {
          if (message.code === 'forbidden' && message.request_id === this.offerRequest) this.publishRefused = true;
          console.warn(`[accord] server refused: ${message.code} ${message.message}`);
          // The room tells the person when something they asked for was refused.
          this.emit('message', message);
        }
        return;
      default:
        this.emit('message', message);
    }
  }

  private async onServerOffer(pc: RTCPeerConnection, message: ServerMessageOf<'offer'>): Promise<void> {
    this.remoteMap = message.tracks;
    this.negotiation.offersReceived++;
    this.negotiation.firstServerOfferAt ??= performance.now();
    // Polite peer: applying the server's offer rolls back an offer of ours that crossed it.
    if (pc.signalingState === 'have-local-offer') {
      this.negotiation.rollbacks++;
      this.requeueIceRestart();
    }
    await pc.setRemoteDescription({ type: 'offer', sdp: message.sdp });
    for (const t of pc.getTransceivers()) {
      if (t.mid != null && this.remoteMap[t.mid] && t.direction === 'sendonly') t.direction = 'sendrecv';
    }
    const answer = await pc.createAnswer();
    await pc.setLocalDescription({ type: 'answer', sdp: enableOpusDtxAndFec(answer.sdp ?? '') });
    this.signal?.send({ type: 'answer', sdp: pc.localDescription?.sdp ?? '' });
    this.emitRemoteTracks();
    this.offerAgainIfNeeded(pc);
  }

  /** A rollback or a missed negotiationneeded leaves our own tracks unsent: offer them. */
  private offerAgainIfNeeded(pc: RTCPeerConnection): void {
    const unsent = pc
      .getTransceivers()
      .some((t) => t.sender.track && (!t.mid || !['sendonly', 'sendrecv'].includes(t.currentDirection ?? '')));
    if (unsent || this.restartIceWanted) setTimeout(() => void this.offer(), 50);
  }

  private retryAfterGlare(): void {
    const pc = this.pc;
    if (!pc) return;
    this.inbox = this.inbox.then(async () => {
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

  /** One at a time: a setParameters begun on parameters read before another's ends is refused. */
  private updateCameraLayers(): Promise<void> {
    const update = async () => {
      const sender = this.cameraSender;
      if (!sender) return;
      const parameters = sender.getParameters();
      if (!parameters.encodings || parameters.encodings.length < 2) return;
      parameters.encodings = cameraLayers(parameters.encodings, this.layerDemand, this.saveData === true);
      await sender.setParameters(parameters);
    };
    this.layerUpdates = this.layerUpdates.then(update).catch((err) => console.warn('[accord] camera layers', err));
    return this.layerUpdates;
  }

  private emitRemoteTracks(): void {
    const tracks = new Map<string, MediaStreamTrack>();
    for (const t of this.pc?.getTransceivers() ?? []) {
      const trackId = t.mid != null ? this.remoteMap[t.mid] : undefined;
      if (trackId && t.receiver.track) tracks.set(trackId, t.receiver.track);
    }
    this.emit('remoteTracks', tracks);
  }
}
