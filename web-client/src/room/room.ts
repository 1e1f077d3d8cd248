// The room model: who is here, what they publish, who speaks, how their connection is. Screens
// read it and listen to its typed events; they never see the engine's socket or SDP.
//
// A publication (a `TrackInfo` from the server: exists, muted or not) is kept apart from the
// media (`MediaStreamTrack`), which only exists once the server forwards it to us.

import type { ConnectionPhase, DeviceClass, EndReason } from '../engine';
import { Engine } from '../engine';
import { Emitter } from '../emitter';
import type { Quality } from '../engine/quality';
import type { ParticipantInfo, ServerMessage, TrackInfo, TrackSource } from '../signal/messages';
import { QualityMonitor } from './quality-monitor';

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
  ended: EndReason;
  /** Every participant_left seen, for the test hook ("the others never saw a leave"). */
  participantLeft: { id: string; reason: string };
}

export class Room extends Emitter<RoomEvents> {
  readonly participants = new Map<string, RemoteParticipant>();
  private readonly media = new Map<string, MediaStreamTrack>();
  self: ParticipantInfo | null = null;
  roomName = '';
  activeSpeaker: string | null = null;
  private readonly quality: QualityMonitor;

  constructor(readonly engine: Engine) {
    super();
    this.quality = new QualityMonitor(engine, this);
    engine.on('joined', ({ message, resumed }) => {
      if (!resumed) this.reset(message.participants, message.tracks);
      else this.merge(message.participants, message.tracks);
      this.self = message.participant;
    });
    engine.on('message', (m) => this.onMessage(m));
    engine.on('remoteTracks', (tracks) => this.onRemoteTracks(tracks));
    engine.on('phase', (phase) => this.emit('phase', phase));
    engine.on('ended', (reason) => {
      this.quality.stop();
      this.emit('ended', reason);
    });
  }

  /** Joins and publishes `stream` (which may be null when joining without devices). */
  async join(stream: MediaStream | null, device: DeviceClass): Promise<void> {
    const joined = await this.engine.connect();
    this.self = joined.participant;
    this.roomName = joined.room;
    this.reset(joined.participants, joined.tracks);
    if (stream) await this.engine.publish(stream, device);
    this.quality.start();
  }

  list(): RemoteParticipant[] {
    return [...this.participants.values()];
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
      case 'participant_joined':
        this.participants.set(message.participant.id, {
          info: message.participant,
          publications: new Map(),
          quality: 'unknown',
        });
        this.emit('participants', this.list());
        return;
      case 'participant_left':
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
        if (!participant) return;
        participant.publications.set(message.track.source, message.track);
        this.emit('participantUpdated', participant);
        return;
      }
      case 'track_unpublished':
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
        return;
    }
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
