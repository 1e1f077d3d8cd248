// The engine: one signal client plus one RTCPeerConnection, kept alive across network trouble.
//
// - Negotiation is "perfect negotiation" with this side polite (docs/protocol.md): a server
//   offer that crosses ours wins; setRemoteDescription rolls ours back and we offer again
//   (`negotiator.ts`, with ICE restarts).
// - Publishing: microphone (Opus, DTX + in-band FEC) and camera (simulcast, hardware codec)
//   (`local-tracks.ts`); a connection that does not send them is repaired (`publish-repair.ts`).
// - Staying connected: when the socket drops we rejoin with the `resume_token`, which gives back
//   the same seat and the same peer connection; if ICE failed meanwhile we restart it with a new
//   offer. Only when the server no longer holds the seat do we build a new peer connection.
// - The waiting room: a case session may answer `join` with `waiting` and send `joined` only
//   when a mediator admits us, minutes later. Nothing times out meanwhile, and a socket lost
//   while waiting is opened again so the person keeps their place.
//
// This file holds the socket, the join and the reconnect, and the API the room model uses. The
// engine knows nothing of tiles or screens; the room model listens to its events
// (`engine-events.ts`).

import { Emitter } from '../emitter';
import { type ClientMessage, PROTOCOL_VERSION, type ServerMessage, type ServerMessageOf, type TrackSource } from '../signal/messages';
import { SignalClient } from '../signal/signal-client';
import { type EndReason, isNodeMovingCode, isNodeMovingReason, JoinError, joinErrorReason, leaveReason, NodeMoving } from './ending';
import type { ConnectionPhase, EngineEvents, NegotiationCounts, PublishState } from './engine-events';
import { LocalTracks } from './local-tracks';
import { Negotiator } from './negotiator';
import { PublishRepair } from './publish-repair';
import type { DeviceClass } from './publishing';
import { BackoffPolicy, type ReconnectPolicy, sleep, sleepUntilOnline } from './reconnect-policy';

export { type Ended, type EndReason, JoinError } from './ending';
export type { ConnectionPhase, EngineEvents, NegotiationCounts, PublishState } from './engine-events';

type Joined = ServerMessageOf<'joined'>;

export class Engine extends Emitter<EngineEvents> {
  pc: RTCPeerConnection | null = null;
  private signal: SignalClient | null = null;
  private joined: Joined | null = null;
  private phase: ConnectionPhase = 'connecting';
  private leaving = false;
  private inbox: Promise<void> = Promise.resolve();
  private remoteMap: Record<string, string> = {};
  /** Set by the latest `waiting`: what a dropped socket rejoins with to keep the place. */
  private waitingResume: string | undefined;
  private waitingSince = 0;
  private readonly trackSettings = new Map<string, { width: number; height: number; enabled: boolean }>();
  private readonly mutes = new Map<TrackSource, boolean>();
  private away = false;
  /** The socket of a reconnect attempt that has not opened yet. */
  private connecting: SignalClient | null = null;
  /** A server that refused a reconnect retryably (its node is going away or gone) said not
   *  to try again before this time (ms since the epoch). */
  private retryNotBefore = 0;
  /** Test hook state: while set, reconnect attempts wait (a simulated network outage). */
  private offlineUntil = 0;
  /** The person's 省流量 choice; null until they make one (the server's default is off). */
  private saveData: boolean | null = null;
  /** The server refused us publishing: nothing to repair. */
  private publishRefused = false;
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
  private readonly local = new LocalTracks(() => this.saveData === true);
  private readonly negotiator = new Negotiator(
    {
      pc: () => this.pc,
      signal: () => this.signal,
      screenSender: () => this.local.screenSender,
      enqueue: (work) => {
        this.inbox = this.inbox.then(work);
      },
      rebuild: (why) => void this.repair.rebuild(why),
    },
    this.negotiation,
  );
  private readonly repair = new PublishRepair(
    {
      pc: () => this.pc,
      phase: () => this.phase,
      leaving: () => this.leaving,
      away: () => this.away,
      publishRefused: () => this.publishRefused,
      offerAgainIfNeeded: (pc) => this.negotiator.offerAgainIfNeeded(pc),
      restartIce: () => this.negotiator.restartIce(),
      joinAsNew: () => {
        // Closed first: the server tells the old socket it was `replaced`, which would end us.
        const old = this.signal;
        this.signal = null;
        old?.close();
        return this.reconnect(true);
      },
      stateChanged: (state) => this.emit('publishing', state),
    },
    this.negotiation,
  );

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
    return this.negotiator.restartsOffered;
  }

  /** How many `ice_restart` frames the server sent us (one restart may answer several). */
  get iceRestartRequests(): number {
    return this.negotiator.restartsRequested;
  }

  get publishing(): PublishState {
    return this.repair.state;
  }

  /**
   * Test hook: our first offer is applied but not sent until the server's first offer has
   * crossed it and rolled it back, as on a busy phone admitted right after someone who
   * publishes. Call before `connect`.
   */
  holdFirstOfferForTest(): void {
    this.negotiator.holdFirstOfferForTest();
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
    this.local.publishScreen(track, this.pc);
  }

  /** Stops sending the shared screen; the renegotiation withdraws it from the others. */
  stopScreen(): void {
    this.local.stopScreen(this.pc);
  }

  /** Starts sending the microphone and camera of `stream`. */
  async publish(stream: MediaStream, device: DeviceClass): Promise<void> {
    await this.local.publish(stream, device, this.pc);
  }

  /** Swaps the camera (front/back) without renegotiating. */
  async replaceVideoTrack(track: MediaStreamTrack): Promise<void> {
    await this.local.replaceVideoTrack(track);
  }

  /**
   * Stops (or resumes) sending camera frames without telling anyone it is "off": used while the
   * page is in the background, where phones stop the camera anyway. Receivers see the video
   * track go quiet and show "paused".
   */
  async pauseVideo(paused: boolean): Promise<void> {
    await this.local.pauseVideo(paused);
  }

  /**
   * 省流量: the server sends us no video, and our camera sends only its lowest layer; turned
   * off, both come back. Kept for every later socket and connection of this session.
   */
  setSaveData(enabled: boolean): void {
    this.saveData = enabled;
    // In the waiting room the server refuses everything but leave and ping: `connect` sends it.
    if (this.joined) this.sendSaveData();
    void this.local.updateCameraLayers();
  }

  /** Tells the room we are away (app in the background, a phone call) or back. */
  setAway(away: boolean): void {
    if (this.away === away) return;
    this.away = away;
    this.signal?.send({ type: 'pause', paused: away });
  }

  setMuted(source: TrackSource, muted: boolean): void {
    this.mutes.set(source, muted);
    this.local.setMuted(source, muted);
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
        // A server going away is no failure of ours: join again, waiting room or not.
        const moving = err instanceof NodeMoving;
        if (this.waitingSince === 0 && !moving) throw err;
        if (this.waitingSince > dropSince || dropSince === 0) {
          attempt = 0;
          dropSince = Date.now();
        }
        const backoff = this.policy.nextDelay(attempt++, Date.now() - dropSince);
        if (backoff === null) throw err;
        const delay = moving ? Math.max(backoff, err.retryAfterMs) : backoff;
        console.warn('[accord] lost the socket before joining; opening it again', err);
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
          } else if (message.type === 'recording') {
            // Told in the waiting room too: people hear they will be recorded before they are seen.
            this.emit('message', message);
          } else if (message.type === 'left') {
            settled = true;
            signal.close();
            if (isNodeMovingReason(message.reason)) reject(new NodeMoving(`left: ${message.reason}`));
            else reject(new JoinError(leaveReason(message.reason), `left: ${message.reason}`, message.message));
          } else if (message.type === 'error' && message.fatal) {
            settled = true;
            signal.close();
            if (isNodeMovingCode(message.code)) reject(new NodeMoving(message.message, message.retry_after_ms ?? 0));
            else reject(new JoinError(joinErrorReason(message.code), message.message));
          }
          return;
        }
        if (message.type === 'left' && isNodeMovingReason(message.reason)) {
          // The server let our seat go because it is going away: join again, as after a
          // dropped socket, with the resume token (another node may hold or rebuild the seat).
          this.rejoinAfterMove(signal);
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

  /** The server is going away under `signal`: close it ourselves and reconnect. */
  private rejoinAfterMove(signal: SignalClient): void {
    if (this.signal !== signal || this.leaving) return;
    // Closed by us, so the socket's own close does not start a second reconnect.
    this.signal = null;
    signal.close();
    void this.reconnect();
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
        const asked = this.retryNotBefore - Date.now();
        const delay = Math.max(networkBackAt > attemptStarted ? 0 : backoff, asked);
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
        if (ice === 'failed' || ice === 'disconnected') this.negotiator.restartIce();
        else void this.negotiator.restartIceIfSilent();
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
      // While a dead node's sessions move, every node asks to be given a moment: asking
      // sooner only adds refusals.
      if (err instanceof NodeMoving) this.retryNotBefore = Date.now() + err.retryAfterMs;
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
    this.negotiator.stop();
    this.repair.stop();
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
    this.negotiator.reset();
    this.repair.watch(pc);
    pc.onicecandidate = (ev) => {
      if (ev.candidate) this.signal?.send({ type: 'candidate', candidate: ev.candidate.toJSON() });
    };
    pc.onnegotiationneeded = () => void this.negotiator.offer();
    pc.oniceconnectionstatechange = () => this.negotiator.onIceState(pc);
    pc.ontrack = () => this.emitRemoteTracks();
    this.local.attach(pc);
  }

  private async handle(message: ServerMessage): Promise<void> {
    const pc = this.pc;
    switch (message.type) {
      case 'offer':
        if (pc) {
          this.remoteMap = message.tracks;
          await this.negotiator.answerServerOffer(pc, message);
          this.emitRemoteTracks();
          this.negotiator.offerAgainIfNeeded(pc);
        }
        return;
      case 'answer':
        if (pc) await this.negotiator.onAnswer(pc, message);
        return;
      case 'layer_demand':
        await this.local.setLayerDemand(message.active);
        return;
      case 'ice_restart':
        // The server saw our media stop or come from a new address while the socket lived on.
        this.negotiator.onRestartRequest(pc);
        return;
      case 'error':
        if (message.code === 'glare') setTimeout(() => this.negotiator.retryAfterGlare(), 1_500);
        else if (message.fatal && isNodeMovingCode(message.code) && this.signal) this.rejoinAfterMove(this.signal);
        else if (message.fatal) this.shutdown(joinErrorReason(message.code));
        else {
          if (message.code === 'forbidden' && this.negotiator.isLatestOffer(message.request_id)) this.publishRefused = true;
          console.warn(`[accord] server refused: ${message.code} ${message.message}`);
          // The room tells the person when something they asked for was refused.
          this.emit('message', message);
        }
        return;
      default:
        this.emit('message', message);
    }
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
