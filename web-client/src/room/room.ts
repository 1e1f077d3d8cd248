// The room model: who is here, what they publish, who speaks, how their connection is. Screens
// read it and listen to its typed events; they never see the engine's socket or SDP.
//
// A publication (a `TrackInfo` from the server: exists, muted or not) is kept apart from the
// media (`MediaStreamTrack`), which only exists once the server forwards it to us.
//
// In a case session it also holds the session's state: our space, the lock, whether we
// moderate, who waits, raised hands, and the chat and evidence log. Every session frame we
// may send has a method here.

import type { ConnectionPhase, DeviceClass, Ended } from '../engine';
import { Engine } from '../engine';
import type { ServerMessageOf } from '../signal/messages';
import { Emitter } from '../emitter';
import type { Quality } from '../engine/quality';
import type {
  ClientMessage,
  ErrorCode,
  ParticipantInfo,
  RecordAction,
  RecordingStatus,
  ServerMessage,
  SharedEvidence,
  Space,
  TrackInfo,
  TrackSource,
} from '../signal/messages';
import { NetworkStatus } from './network';
import { type RecordingNotice, recordingNotice, recordingStatusOf } from './recording';
import { QualityMonitor } from './quality-monitor';
import { type LogItem, SessionLog } from './session-log';
import { chatText, isHere, mediatorElsewhere, separationMoves } from './session-logic';

export interface RemoteParticipant {
  info: ParticipantInfo;
  /** Publications by source (camera, microphone, screen). */
  publications: Map<TrackSource, TrackInfo>;
  quality: Quality;
}

export interface RoomEvents {
  /** Someone joined or left, or their publications changed: re-lay the tiles. */
  participants: RemoteParticipant[];
  /** A participant's mute state, media or quality changed: refresh that tile. */
  participantUpdated: RemoteParticipant;
  activeSpeaker: string | null;
  phase: ConnectionPhase;
  selfQuality: Quality;
  ended: Ended;
  /** Every participant_left seen, for the test hook ("the others never saw a leave"). */
  participantLeft: { id: string; reason: string };
  /** We are in the waiting room, as this participant. */
  waiting: ParticipantInfo;
  /** Our space, the lock, moderation, the waiting list or someone's hand changed. */
  session: undefined;
  /** People who just arrived in the waiting room (to moderators). */
  knock: ParticipantInfo[];
  /** Someone we see raised their hand. */
  handRaised: ParticipantInfo;
  /** A new chat message or shared file. */
  log: LogItem;
  /** Our own microphone or camera was turned off or on (by us or by a mediator). */
  localMute: { source: TrackSource; muted: boolean };
  mutedByModerator: TrackSource;
  /** A mediator asks us to turn something on; never done for us. */
  unmuteRequested: { source: TrackSource; by: string };
  /** The server refused a frame we sent (not fatal). */
  refused: { code: ErrorCode; message: string };
  /** The recording's status changed (or arrived with `joined`); `notice` is what to tell. */
  recording: { status: RecordingStatus | null; notice: RecordingNotice | null };
}

export class Room extends Emitter<RoomEvents> {
  readonly participants = new Map<string, RemoteParticipant>();
  private readonly media = new Map<string, MediaStreamTrack>();
  /** Tracks announced before their owner was (by participant id). */
  private readonly earlyTracks = new Map<string, TrackInfo[]>();
  self: ParticipantInfo | null = null;
  roomName = '';
  activeSpeaker: string | null = null;
  /** The case session, or null in a plain room (no session controls there). */
  session: string | null = null;
  space: Space = 'joint';
  locked = false;
  moderator = false;
  /** Until a mediator admits us. */
  inWaitingRoom = false;
  handRaised = false;
  /** To moderators: who waits to be admitted, oldest first. */
  waitingList: ParticipantInfo[] = [];
  /** The session's recording as we are to see it; null while nothing is recorded. */
  recording: RecordingStatus | null = null;
  /** `Date.now()` when the latest status arrived: the countdown runs from it. */
  recordingReceivedAt = 0;
  /** The latest thing said about the recording, for whoever opens the notice again. */
  lastRecordingNotice: RecordingNotice | null = null;
  readonly log = new SessionLog(() => this.self?.id ?? null);
  private readonly localMutes = new Map<TrackSource, boolean>();
  /** Request ids of the session frames we sent: only their refusals concern the person. */
  private readonly requests = new Set<string>();
  private readonly quality: QualityMonitor;
  /** Connection health from the server, audio-only, and the save-data choice. */
  readonly network: NetworkStatus;

  constructor(readonly engine: Engine) {
    super();
    this.quality = new QualityMonitor(engine, this);
    this.network = new NetworkStatus(engine);
    engine.on('joined', ({ message, resumed }) => this.adopt(message, resumed));
    engine.on('waiting', (message) => {
      this.self = message.participant;
      this.inWaitingRoom = true;
      this.emit('waiting', message.participant);
    });
    engine.on('message', (m) => this.onMessage(m));
    engine.on('remoteTracks', (tracks) => this.onRemoteTracks(tracks));
    engine.on('phase', (phase) => this.emit('phase', phase));
    engine.on('ended', (ended) => {
      this.quality.stop();
      this.emit('ended', ended);
    });
  }

  /**
   * Joins and publishes `stream` (which may be null when joining without devices). In a case
   * session this may first wait in the waiting room (the `waiting` event) for minutes.
   */
  async join(stream: MediaStream | null, device: DeviceClass): Promise<void> {
    const joined = await this.engine.connect();
    this.adopt(joined, false);
    for (const track of stream?.getTracks() ?? []) this.localMutes.set(track.kind === 'audio' ? 'microphone' : 'camera', false);
    if (stream) await this.engine.publish(stream, device);
    this.quality.start();
  }

  list(): RemoteParticipant[] {
    return [...this.participants.values()];
  }

  /** Who is in our space with us: the people there is media of. */
  present(): RemoteParticipant[] {
    return this.list().filter((p) => isHere(p.info, this.space));
  }

  /** For a party: every mediator is away in the other side's private room. */
  mediatorElsewhere(): boolean {
    return mediatorElsewhere(this.list().map((p) => p.info));
  }

  /** Turns our own microphone or camera off or on; everyone sees the change. */
  setMuted(source: 'microphone' | 'camera', muted: boolean): void {
    this.localMutes.set(source, muted);
    this.engine.setMuted(source, muted);
    this.emit('localMute', { source, muted });
  }

  /** True also when we have no such device. */
  isLocallyMuted(source: 'microphone' | 'camera'): boolean {
    return this.localMutes.get(source) ?? true;
  }

  /** Evidence we shared, from the upload's answer: the frame that also announces it may lag. */
  noteEvidence(evidence: SharedEvidence): void {
    const item = this.log.addEvidence(evidence);
    if (item) this.emit('log', item);
  }

  /** Shares a screen (a desktop's window or tab) as source `screen`. */
  shareScreen(track: MediaStreamTrack): Promise<void> {
    return this.engine.publishScreen(track);
  }

  stopScreen(): void {
    this.engine.stopScreen();
  }

  // Session frames. Sending returns nothing: the effect arrives as frames from the server,
  // and a refusal as the `refused` event.

  /** Admits one waiting person, or everyone waiting. */
  admit(participantId?: string): void {
    this.sendSession(participantId ? { type: 'admit', participant_id: participantId } : { type: 'admit' });
  }

  deny(participantId: string, reason: string): void {
    this.sendSession({ type: 'deny', participant_id: participantId, reason });
  }

  lock(locked: boolean): void {
    this.sendSession({ type: 'lock', locked });
  }

  /**
   * Moves someone, or ourselves (our own id), to a space. A party's helpers follow them unless
   * `alone` (the free-will question before signing is asked with nobody else there).
   */
  move(participantId: string, to: Space, opts: { alone?: boolean } = {}): void {
    this.sendSession(opts.alone ? { type: 'move', participant_id: participantId, to, alone: true } : { type: 'move', participant_id: participantId, to });
  }

  /** 分开调解: each side's parties to their private room; their helpers follow on the server. */
  separateSides(): void {
    for (const move of separationMoves(this.list().map((p) => p.info))) this.move(move.participant_id, move.to);
  }

  /** Everyone back to the joint room. */
  gather(): void {
    this.sendSession({ type: 'gather' });
  }

  askUnmute(participantId: string, source: TrackSource): void {
    this.sendSession({ type: 'ask_unmute', participant_id: participantId, source });
  }

  muteParticipant(participantId: string, source: TrackSource): void {
    this.sendSession({ type: 'mute_participant', participant_id: participantId, source });
  }

  remove(participantId: string, reason: string): void {
    this.sendSession({ type: 'remove', participant_id: participantId, reason });
  }

  endSession(): void {
    this.sendSession({ type: 'end_session' });
  }

  /** Starts, pauses, resumes or stops recording (moderators). */
  record(action: RecordAction): void {
    this.sendSession({ type: 'record', action });
  }

  raiseHand(raised: boolean): void {
    this.handRaised = raised;
    this.sendSession({ type: 'raise_hand', raised });
    this.emit('session', undefined);
  }

  /** False when the text is empty or too long to send (the server would refuse it). */
  chat(text: string): boolean {
    const checked = chatText(text);
    if (checked === null) return false;
    return this.sendSession({ type: 'chat', text: checked });
  }

  /** The received media of a participant's source, if the server forwards it to us. */
  mediaOf(participant: RemoteParticipant, source: TrackSource): { trackId: string; track: MediaStreamTrack } | null {
    const publication = participant.publications.get(source);
    const track = publication && this.media.get(publication.id);
    return publication && track ? { trackId: publication.id, track } : null;
  }

  isMuted(participant: RemoteParticipant, source: TrackSource): boolean {
    const publication = participant.publications.get(source);
    return !publication || publication.muted;
  }

  /** Called by the quality monitor. */
  setQuality(participantId: string, quality: Quality): void {
    const participant = this.participants.get(participantId);
    if (!participant || participant.quality === quality) return;
    participant.quality = quality;
    this.emit('participantUpdated', participant);
  }

  trackIdsOf(participantId: string): string[] {
    const participant = this.participants.get(participantId);
    return participant ? [...participant.publications.values()].map((p) => p.id) : [];
  }

  leave(): Promise<void> {
    this.quality.stop();
    return this.engine.leave();
  }

  private sendSession(frame: ClientMessage): boolean {
    const id = this.engine.send(frame);
    if (id === null) return false;
    this.requests.add(id);
    // Refusals come at once; the oldest ids are long answered.
    if (this.requests.size > 100) this.requests.delete(this.requests.values().next().value as string);
    return true;
  }

  private adopt(joined: ServerMessageOf<'joined'>, resumed: boolean): void {
    this.self = joined.participant;
    this.roomName = joined.room;
    // A server from before the session controls leaves these out.
    this.session = joined.session ?? null;
    this.space = joined.space ?? 'joint';
    this.locked = joined.locked ?? false;
    this.moderator = joined.moderator ?? false;
    this.inWaitingRoom = false;
    this.handRaised = joined.participant.hand_raised === true;
    if (!this.moderator) this.waitingList = [];
    this.log.resetChat(joined.chat ?? [], resumed);
    // Absent means nothing is recorded. Compared with what we knew: nothing on a first join
    // (whatever runs is news), the waiting room's frames, or the state before a dropped socket.
    this.setRecording(recordingStatusOf(joined.recording), this.recording);
    if (resumed) this.merge(joined.participants, joined.tracks);
    else this.reset(joined.participants, joined.tracks);
    this.emit('session', undefined);
  }

  private reset(participants: ParticipantInfo[], tracks: TrackInfo[]): void {
    this.participants.clear();
    this.merge(participants, tracks);
  }

  /** A resume lists the room as it is now: drop who went, add who came, keep the rest. */
  private merge(participants: ParticipantInfo[], tracks: TrackInfo[]): void {
    const present = new Set(participants.map((p) => p.id));
    for (const id of [...this.participants.keys()]) if (!present.has(id)) this.participants.delete(id);
    for (const info of participants) {
      const existing = this.participants.get(info.id);
      if (existing) {
        existing.info = info;
        existing.publications.clear();
      } else this.participants.set(info.id, { info, publications: new Map(), quality: 'unknown' });
    }
    for (const track of tracks) this.participants.get(track.participant_id)?.publications.set(track.source, track);
    this.emit('participants', this.list());
  }

  private onMessage(message: ServerMessage): void {
    switch (message.type) {
      case 'participant_joined': {
        if (message.participant.hand_raised) this.emit('handRaised', message.participant);
        const early = this.earlyTracks.get(message.participant.id) ?? [];
        this.earlyTracks.delete(message.participant.id);
        this.participants.set(message.participant.id, {
          info: message.participant,
          publications: new Map(early.map((track) => [track.source, track])),
          quality: 'unknown',
        });
        this.emit('participants', this.list());
        return;
      }
      case 'participant_left':
        this.earlyTracks.delete(message.participant_id);
        this.participants.delete(message.participant_id);
        if (this.activeSpeaker === message.participant_id) this.setActiveSpeaker(null);
        this.emit('participantLeft', { id: message.participant_id, reason: message.reason });
        this.emit('participants', this.list());
        return;
      case 'participant_paused': {
        const participant = this.participants.get(message.participant_id);
        if (!participant) return;
        participant.info = { ...participant.info, paused: message.paused ? (message.reason ?? 'away') : undefined };
        this.emit('participantUpdated', participant);
        return;
      }
      case 'track_published': {
        const participant = this.participants.get(message.track.participant_id);
        if (!participant) {
          // Media and room news travel apart: keep a track announced before its owner.
          const early = this.earlyTracks.get(message.track.participant_id) ?? [];
          this.earlyTracks.set(message.track.participant_id, [...early.filter((t) => t.id !== message.track.id), message.track]);
          return;
        }
        participant.publications.set(message.track.source, message.track);
        this.emit('participantUpdated', participant);
        return;
      }
      case 'track_unpublished':
        for (const [owner, early] of this.earlyTracks) {
          this.earlyTracks.set(owner, early.filter((t) => t.id !== message.track_id));
        }
        for (const participant of this.participants.values()) {
          for (const [source, publication] of participant.publications) {
            if (publication.id !== message.track_id) continue;
            participant.publications.delete(source);
            this.engine.forgetTrackSettings(publication.id);
            this.emit('participantUpdated', participant);
          }
        }
        return;
      case 'track_muted':
        for (const participant of this.participants.values()) {
          for (const publication of participant.publications.values()) {
            if (publication.id !== message.track_id) continue;
            publication.muted = message.muted;
            this.emit('participantUpdated', participant);
          }
        }
        return;
      case 'active_speakers':
        this.setActiveSpeaker(message.speakers[0]?.participant_id ?? null);
        return;
      default:
        this.onSessionMessage(message);
    }
  }

  private onSessionMessage(message: ServerMessage): void {
    switch (message.type) {
      case 'participant_updated':
        this.updateParticipant(message.participant);
        return;
      case 'waiting_room': {
        const before = new Set(this.waitingList.map((p) => p.id));
        this.waitingList = message.waiting;
        const arrived = message.waiting.filter((p) => !before.has(p.id));
        this.emit('session', undefined);
        if (arrived.length) this.emit('knock', arrived);
        return;
      }
      case 'moved': {
        if (message.space === this.space) return;
        this.space = message.space;
        this.emit('log', this.log.addMove(message.space));
        this.emit('session', undefined);
        // Who counts as "here" changed with us.
        this.emit('participants', this.list());
        return;
      }
      case 'locked':
        this.locked = message.locked;
        this.emit('session', undefined);
        return;
      case 'recording': {
        const status = recordingStatusOf(message);
        // A garbled status changes nothing rather than hiding a badge that should stay.
        if (status) this.setRecording(status, this.recording);
        return;
      }
      case 'unmute_requested':
        this.emit('unmuteRequested', { source: message.source, by: message.by });
        return;
      case 'muted_by_moderator':
        // The server already stopped forwarding it; turning it off here too keeps what the
        // person sees (their button, their tile) true, and sends the usual `mute`.
        if (message.source !== 'screen') this.setMuted(message.source, true);
        this.emit('mutedByModerator', message.source);
        return;
      case 'chat': {
        const item = this.log.addChat(message.message);
        if (item) this.emit('log', item);
        return;
      }
      case 'evidence_shared': {
        const item = this.log.addEvidence(message.evidence);
        if (item) this.emit('log', item);
        return;
      }
      case 'error':
        // Refusals of media frames (a track gone by the time its size was sent) are the
        // engine's business, not something to tell the person about.
        if (message.request_id && this.requests.delete(message.request_id)) {
          this.emit('refused', { code: message.code, message: message.message });
        }
        return;
      default:
        return;
    }
  }

  /** Adopts a status (null: nothing is recorded), telling what changed since `before`. */
  private setRecording(status: RecordingStatus | null, before: RecordingStatus | null): void {
    const notice = status ? recordingNotice(before, status) : before ? recordingNotice(before, { ...before, state: 'off' }) : null;
    this.recording = status && status.state !== 'off' ? status : null;
    this.recordingReceivedAt = Date.now();
    if (notice) this.lastRecordingNotice = notice;
    else if (!this.recording) this.lastRecordingNotice = null;
    this.emit('recording', { status: this.recording, notice });
  }

  /** `participant_updated`: the info is replaced whole; publications and media stay. */
  private updateParticipant(info: ParticipantInfo): void {
    if (info.id === this.self?.id) {
      this.self = info;
      this.handRaised = info.hand_raised === true;
      this.emit('session', undefined);
      return;
    }
    const existing = this.participants.get(info.id);
    const wasRaised = existing?.info.hand_raised === true;
    if (existing) existing.info = info;
    else this.participants.set(info.id, { info, publications: new Map(), quality: 'unknown' });
    if (info.hand_raised && !wasRaised) this.emit('handRaised', info);
    // Their space or `elsewhere` may have changed, which decides whether they have a tile.
    this.emit('participants', this.list());
    this.emit('session', undefined);
  }

  private setActiveSpeaker(id: string | null): void {
    if (this.activeSpeaker === id) return;
    this.activeSpeaker = id;
    this.emit('activeSpeaker', id);
  }

  private onRemoteTracks(tracks: Map<string, MediaStreamTrack>): void {
    const changed = new Set<RemoteParticipant>();
    const owner = (trackId: string) =>
      [...this.participants.values()].find((p) => [...p.publications.values()].some((t) => t.id === trackId));
    for (const trackId of new Set([...tracks.keys(), ...this.media.keys()])) {
      if (this.media.get(trackId) === tracks.get(trackId)) continue;
      const participant = owner(trackId);
      if (participant) changed.add(participant);
    }
    this.media.clear();
    for (const [id, track] of tracks) this.media.set(id, track);
    for (const participant of changed) this.emit('participantUpdated', participant);
  }
}
