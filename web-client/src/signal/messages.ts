// The frames of Accord's WebSocket protocol (docs/protocol.md, version 1), as TypeScript types.

export const PROTOCOL_VERSION = 1;

export type Role = 'mediator' | 'party' | 'observer' | 'guest';
export type TrackSource = 'camera' | 'microphone' | 'screen';
export type LeaveReason =
  | 'left'
  | 'disconnected'
  | 'removed'
  | 'replaced'
  | 'server_shutdown'
  /** A moderator turned them away from the waiting room. */
  | 'denied'
  /** A moderator ended the session. */
  | 'ended'
  /** Only in `participant_left`: they went to another space. */
  | 'moved'
  /** The server serving the room is going away, not the session: join again (resume). */
  | 'node_moving';

/** Where in a session's room someone is: together, or one side's private room (背对背). */
export type Space = 'joint' | 'applicant' | 'respondent';
export const SPACES: readonly Space[] = ['joint', 'applicant', 'respondent'];

export type Side = 'applicant' | 'respondent';
export type PartyKind = 'person' | 'organisation' | 'representative' | 'interpreter' | 'expert';

export interface ParticipantInfo {
  id: string;
  identity: string;
  name: string;
  role: Role;
  /** Present while their media is quiet: their app is away, or their connection dropped. */
  paused?: PauseReason;
  /** For parties and the people acting for them. */
  side?: Side;
  kind?: PartyKind;
  /** Absent when lowered. */
  hand_raised?: boolean;
  /** Sent to moderators only. */
  space?: Space;
  /** A mediator who is in another space than ours. */
  elsewhere?: boolean;
  /** A mediator elsewhere who is in our other side's private room (not alone in the joint room). */
  with_other_side?: boolean;
}

export interface ChatMessage {
  id: string;
  participant_id: string;
  name: string;
  text: string;
  /** Unix milliseconds. */
  at: number;
  /** Where it was said; sent to moderators only. */
  space?: Space;
}

export interface SharedEvidence {
  id: string;
  name: string;
  content_type: string;
  size: number;
  participant_id: string;
  shared_by: string;
  /** Unix milliseconds. */
  at: number;
}

export type PauseReason = 'away' | 'reconnecting';

export interface TrackInfo {
  id: string;
  participant_id: string;
  kind: 'audio' | 'video';
  source: TrackSource;
  muted: boolean;
  simulcast: boolean;
  width?: number;
  height?: number;
}

export interface TrackDeclaration {
  mid: string;
  source: TrackSource;
  width?: number;
  height?: number;
}

export interface IceServerInfo {
  urls: string[];
  username?: string;
  credential?: string;
}

/** How the server rates someone's link to it; `lost` when their media stopped reaching it. */
export type HealthQuality = 'good' | 'fair' | 'poor' | 'lost';

/** One participant's link to the server over the last few seconds (`connection_health`). */
export interface ConnectionHealth {
  participant_id: string;
  quality: HealthQuality;
  /** Their packets lost on the way to the server. */
  uplink_loss_percent: number | null;
  /** The server's packets lost on the way to them, from their receiver reports. */
  downlink_loss_percent: number | null;
  rtt_ms: number | null;
  /** What they send to the server. */
  send_kbps: number;
  /** What the server sends them. */
  receive_kbps: number;
  /** They receive no video now (too little bandwidth, or their own save-data choice). */
  audio_only: boolean;
}

/** A moderator's recording control (`record`). */
export type RecordAction = 'start' | 'pause' | 'resume' | 'stop';
export type RecordingState = 'starting' | 'on' | 'paused' | 'off';
/** Why a recording went off. */
export type RecordingEndReason = 'stopped' | 'ended' | 'failed' | 'no_disk_space';

/** The session's recording as we are to see it: the `recording` frame and `joined.recording`. */
export interface RecordingStatus {
  state: RecordingState;
  /** Unix milliseconds when this state began. */
  since: number;
  /** With `starting` only: unix milliseconds when recording begins. */
  starts_at?: number;
  /** The organisation records private rooms (背对背) too. */
  private_rooms_recorded: boolean;
  /** False while we sit in a private room that is not recorded. */
  recorded_here: boolean;
  reason?: RecordingEndReason;
}

/** A comment on a clause of the agreement. */
export interface DraftCommentInfo {
  /** `CM_…`. */
  id: string;
  /** `AG_…`. */
  agreement_id: string;
  clause_id: string;
  author_name: string;
  /** The commenter's role: `mediator`, `party`, … */
  author_role: string;
  text: string;
  /** Unix milliseconds. */
  at: number;
}

/** `main` (the shared agreement) or a private draft `PD_…`. */
export type DraftDoc = string;
export type AgreementStatus = 'drafting' | 'final' | 'in_force';

/** Why the server sends us no video: our link is too weak, or we asked (`save_data`). */
export type AudioOnlyReason = 'bandwidth' | 'save_data';

export type ClientMessage =
  | { type: 'join'; protocol: number; token: string; resume?: string }
  | { type: 'offer'; sdp: string; tracks: TrackDeclaration[] }
  | { type: 'answer'; sdp: string }
  | { type: 'candidate'; candidate: RTCIceCandidateInit }
  | { type: 'track_settings'; track_id: string; width: number; height: number; enabled?: boolean }
  | { type: 'mute'; source: TrackSource; muted: boolean }
  | { type: 'pause'; paused: boolean }
  | { type: 'leave' }
  | { type: 'ping' }
  // Session controls; the server refuses the moderator ones (`forbidden`) from anyone else.
  | { type: 'admit'; participant_id?: string }
  | { type: 'deny'; participant_id: string; reason: string }
  | { type: 'lock'; locked: boolean }
  | { type: 'move'; participant_id: string; to: Space; alone?: boolean }
  | { type: 'gather' }
  | { type: 'ask_unmute'; participant_id: string; source: TrackSource }
  | { type: 'mute_participant'; participant_id: string; source: TrackSource }
  | { type: 'remove'; participant_id: string; reason: string }
  | { type: 'end_session' }
  | { type: 'record'; action: RecordAction }
  | { type: 'raise_hand'; raised: boolean }
  | { type: 'chat'; text: string }
  /** 省流量: no video to us until `enabled: false` (and enough bandwidth). */
  | { type: 'save_data'; enabled: boolean }
  // Agreement drafting. Updates and state vectors are Yjs v1 encodings in base64 (padded).
  /** Follow a draft; answered by `draft_state` with what our `state_vector` lacks ('' = nothing). */
  | { type: 'draft_open'; agreement_id: string; doc: DraftDoc; state_vector: string; request_id?: string }
  /** Editors only; at most 64 KiB decoded; answered by `draft_ack` once stored. */
  | { type: 'draft_update'; agreement_id: string; doc: DraftDoc; update: string; request_id?: string }
  /** Editors only; relayed to the draft's followers, never stored. */
  | { type: 'draft_typing'; agreement_id: string; doc: DraftDoc; clause_id: string; request_id?: string }
  /** 1–1000 characters. */
  | { type: 'draft_comment'; agreement_id: string; clause_id: string; text: string; request_id?: string };

export type ServerMessage =
  | {
      type: 'joined';
      request_id?: string;
      protocol: number;
      participant: ParticipantInfo;
      room: string;
      participants: ParticipantInfo[];
      tracks: TrackInfo[];
      ice_servers: IceServerInfo[];
      resume_token: string;
      space: Space;
      locked: boolean;
      /** Whether we may moderate (a mediator's seat). */
      moderator: boolean;
      /** Earlier chat of our space, oldest first. */
      chat: ChatMessage[];
      /** The case session this room belongs to; absent for a plain room. */
      session?: string;
      /** Absent while nothing is recorded. */
      recording?: RecordingStatus;
    }
  | {
      type: 'waiting';
      request_id?: string;
      protocol: number;
      participant: ParticipantInfo;
      /** Takes the same waiting place back after a dropped socket. */
      resume_token?: string;
    }
  | { type: 'waiting_room'; waiting: ParticipantInfo[] }
  | { type: 'participant_updated'; participant: ParticipantInfo }
  | { type: 'moved'; space: Space }
  | { type: 'locked'; locked: boolean }
  /** To everyone in the session, the waiting room too, on every change and when we move. */
  | ({ type: 'recording' } & RecordingStatus)
  | { type: 'unmute_requested'; source: TrackSource; by: string }
  | { type: 'muted_by_moderator'; source: TrackSource }
  | { type: 'chat'; message: ChatMessage }
  | { type: 'evidence_shared'; evidence: SharedEvidence }
  /** The reply to `draft_open`: what we lacked, and the server's state vector (send what it lacks). */
  | {
      type: 'draft_state';
      request_id?: string;
      agreement_id: string;
      doc: DraftDoc;
      update: string;
      state_vector: string;
      /** The last stored update's number. */
      seq: number;
    }
  /** Our `draft_update` is stored (survives a crash). */
  | { type: 'draft_ack'; request_id?: string; agreement_id: string; doc: DraftDoc; seq: number }
  /** Someone else changed a draft we follow. */
  | {
      type: 'draft_changed';
      agreement_id: string;
      doc: DraftDoc;
      update: string;
      seq: number;
      /** The editor's seat. */
      by: string;
      by_name: string;
      /** The clauses whose text it changed. */
      clauses: string[];
    }
  | { type: 'draft_typing'; agreement_id: string; doc: DraftDoc; clause_id: string; participant_id: string; name: string }
  | { type: 'draft_comment'; comment: DraftCommentInfo }
  /** The agreement changed state: fetch it again over HTTP. */
  | { type: 'agreement_changed'; agreement_id: string; status: AgreementStatus; version: number }
  | { type: 'offer'; sdp: string; tracks: Record<string, string> }
  | { type: 'answer'; request_id?: string; sdp: string }
  | { type: 'participant_joined'; participant: ParticipantInfo }
  | { type: 'participant_left'; participant_id: string; reason: LeaveReason }
  | { type: 'participant_paused'; participant_id: string; paused: boolean; reason?: PauseReason }
  | { type: 'track_published'; track: TrackInfo }
  | { type: 'track_unpublished'; track_id: string }
  | { type: 'track_muted'; track_id: string; muted: boolean }
  | { type: 'active_speakers'; speakers: { participant_id: string; level: number }[] }
  | { type: 'layer_demand'; track_id: string; active: boolean[] }
  | { type: 'left'; reason: LeaveReason; message?: string }
  | { type: 'pong'; request_id?: string }
  /** The server saw our media path go quiet or move: restart ICE, the socket being fine. */
  | { type: 'ice_restart'; reason: 'media_silent' | 'path_changed' }
  /** Every 2 s: everyone's link to a moderator, only our own to anybody else. */
  | { type: 'connection_health'; participants: ConnectionHealth[] }
  /** The server stopped (`active`) or resumed sending us video; audio always flows. */
  | { type: 'audio_only'; active: boolean; reason: AudioOnlyReason | null }
  | {
      type: 'error';
      request_id?: string;
      code: ErrorCode;
      message: string;
      fatal: boolean;
      /** With `rate_limited`: when the frame would be taken again. */
      retry_after_ms?: number;
    };

export type ErrorCode =
  | 'bad_json'
  | 'frame_too_large'
  | 'not_joined'
  | 'already_joined'
  | 'unsupported_protocol'
  | 'invalid_token'
  | 'forbidden'
  | 'room_full'
  | 'bad_sdp'
  | 'bad_candidate'
  | 'unknown_track'
  | 'glare'
  | 'no_offer_outstanding'
  | 'gone'
  | 'resume_failed'
  | 'internal'
  | 'room_locked'
  | 'unknown_participant'
  | 'consent_required'
  | 'bad_request'
  /** A frame other than `leave` or `ping` from someone still in the waiting room. */
  | 'not_admitted'
  /** Too many chats, hands or pauses in a short time; `message` says when to try again. */
  | 'rate_limited'
  /** We did not read what the server sent for too long; it gave up our seat (fatal). */
  | 'slow_consumer'
  /** The mediator's staff account was disabled or its tokens revoked; the seat is gone (fatal). */
  | 'account_disabled'
  /** Recording cannot start now (no disk space, storage down); `message` says which. */
  | 'recording_unavailable'
  /** A `record` action that does not fit the recording's state (pause while paused, …). */
  | 'recording_state'
  /** A draft frame the agreement refuses (not an editor, no such draft, a bad update, in force). */
  | 'draft_rejected'
  /** The update could not be stored; nothing changed on the server: send it again. */
  | 'draft_not_stored'
  /** The server is shutting down and opens no new room (fatal): join again after `retry_after_ms`. */
  | 'node_draining'
  /** The session's server cannot be reached or is taking the session over (fatal): join again after `retry_after_ms`. */
  | 'session_unavailable';

export type ServerMessageOf<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;

/** Parses one frame; `null` for anything that is not an object with a string `type`. */
export function parseServerMessage(text: string): ServerMessage | null {
  try {
    const value: unknown = JSON.parse(text);
    if (value && typeof value === 'object' && typeof (value as { type?: unknown }).type === 'string') {
      return value as ServerMessage;
    }
  } catch {
    // fall through: a torn or garbled frame is dropped, not fatal
  }
  return null;
}
