import { describe, expect, it } from 'vitest';
import { parseServerMessage, type ClientMessage, type ErrorCode, type ServerMessage } from './messages';

// The example frames every copy of the protocol parses (docs/protocol/examples): the server,
// the Rust test client and this one. A message or error code one copy has and another lacks
// fails one of their tests.
const serverExamples = import.meta.glob('../../../docs/protocol/examples/server/*.json', {
  query: '?raw',
  import: 'default',
  eager: true,
}) as Record<string, string>;
const clientExamples = import.meta.glob('../../../docs/protocol/examples/client/*.json', {
  query: '?raw',
  import: 'default',
  eager: true,
}) as Record<string, string>;
const errorCodeList = import.meta.glob('../../../docs/protocol/examples/error_codes.json', {
  query: '?raw',
  import: 'default',
  eager: true,
}) as Record<string, string>;

// TypeScript refuses these objects when a member of the union is missing (or one is extra),
// so each type this client knows is listed here and must have an example.
const SERVER_TYPES: Record<ServerMessage['type'], true> = {
  joined: true,
  waiting: true,
  waiting_room: true,
  participant_updated: true,
  moved: true,
  locked: true,
  recording: true,
  unmute_requested: true,
  muted_by_moderator: true,
  chat: true,
  evidence_shared: true,
  draft_state: true,
  draft_ack: true,
  draft_changed: true,
  draft_typing: true,
  draft_comment: true,
  agreement_changed: true,
  offer: true,
  answer: true,
  participant_joined: true,
  participant_left: true,
  participant_paused: true,
  track_published: true,
  track_unpublished: true,
  track_muted: true,
  active_speakers: true,
  layer_demand: true,
  left: true,
  pong: true,
  ice_restart: true,
  connection_health: true,
  audio_only: true,
  error: true,
};
const CLIENT_TYPES: Record<ClientMessage['type'], true> = {
  join: true,
  offer: true,
  answer: true,
  candidate: true,
  track_settings: true,
  mute: true,
  pause: true,
  leave: true,
  ping: true,
  admit: true,
  deny: true,
  lock: true,
  move: true,
  gather: true,
  ask_unmute: true,
  mute_participant: true,
  remove: true,
  end_session: true,
  record: true,
  raise_hand: true,
  chat: true,
  save_data: true,
  draft_open: true,
  draft_update: true,
  draft_typing: true,
  draft_comment: true,
};
const ERROR_CODES: Record<ErrorCode, true> = {
  bad_json: true,
  frame_too_large: true,
  not_joined: true,
  already_joined: true,
  unsupported_protocol: true,
  invalid_token: true,
  forbidden: true,
  room_full: true,
  bad_sdp: true,
  bad_candidate: true,
  unknown_track: true,
  glare: true,
  no_offer_outstanding: true,
  gone: true,
  resume_failed: true,
  internal: true,
  room_locked: true,
  unknown_participant: true,
  consent_required: true,
  bad_request: true,
  not_admitted: true,
  rate_limited: true,
  slow_consumer: true,
  account_disabled: true,
  recording_unavailable: true,
  recording_state: true,
  draft_rejected: true,
  draft_not_stored: true,
  node_draining: true,
  session_unavailable: true,
};

function known(list: Record<string, true>, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(list, key);
}

function typeOf(file: string, text: string): string {
  const value = JSON.parse(text) as { type?: unknown };
  expect(typeof value.type, `${file} has a string type`).toBe('string');
  const type = value.type as string;
  const name = file.split('/').pop() ?? '';
  expect(name.split('.')[0], `${file}: the file name starts with its type`).toBe(type);
  return type;
}

describe('example frames (docs/protocol/examples)', () => {
  it('finds the examples', () => {
    expect(Object.keys(serverExamples).length).toBeGreaterThan(0);
    expect(Object.keys(clientExamples).length).toBeGreaterThan(0);
    expect(Object.keys(errorCodeList)).toHaveLength(1);
  });

  it('parses every server example into a message type this client knows', () => {
    for (const [file, text] of Object.entries(serverExamples)) {
      const type = typeOf(file, text);
      const message = parseServerMessage(text);
      expect(message, file).not.toBeNull();
      expect(known(SERVER_TYPES, type), `${file}: unknown type ${type}`).toBe(true);
      if (message?.type === 'error') {
        expect(known(ERROR_CODES, message.code), `${file}: unknown code ${message.code}`).toBe(
          true,
        );
      }
    }
  });

  it('knows the type of every client example', () => {
    for (const [file, text] of Object.entries(clientExamples)) {
      const type = typeOf(file, text);
      expect(known(CLIENT_TYPES, type), `${file}: unknown type ${type}`).toBe(true);
    }
  });

  it('has an example of every message type this client knows', () => {
    const types = (examples: Record<string, string>) =>
      new Set(Object.entries(examples).map(([file, text]) => typeOf(file, text)));
    const server = types(serverExamples);
    const client = types(clientExamples);
    expect(Object.keys(SERVER_TYPES).filter((t) => !server.has(t))).toEqual([]);
    expect(Object.keys(CLIENT_TYPES).filter((t) => !client.has(t))).toEqual([]);
  });

  it('knows exactly the error codes the server sends', () => {
    const listed = JSON.parse(Object.values(errorCodeList)[0] ?? '[]') as string[];
    expect([...listed].sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });
});
