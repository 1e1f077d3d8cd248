// Stand-ins for the browser's WebSocket and RTCPeerConnection, for the engine's unit tests:
// frames go in with `receive`, what the engine sent is in `sent`, offers it made in `offers`.

import { afterEach, beforeEach, vi } from 'vitest';
import type { ServerMessage, ServerMessageOf } from '../signal/messages';

export const ME = { id: 'PA_me', identity: 'party-1', name: '张三', role: 'party' as const };

/** Our `joined`, admitted to a case session's joint room. */
export function joinedFrame(extra: Partial<ServerMessageOf<'joined'>> = {}): ServerMessageOf<'joined'> {
  return {
    type: 'joined',
    protocol: 1,
    participant: ME,
    room: 'case',
    participants: [],
    tracks: [],
    ice_servers: [],
    resume_token: 'seat-1',
    space: 'joint',
    locked: false,
    moderator: false,
    chat: [],
    session: 'SE_1',
    ...extra,
  };
}

/** Just enough of a browser WebSocket: opens on the next tick, answers pings as the server does. */
export class FakeSocket {
  static readonly OPEN = 1;
  static readonly CLOSED = 3;
  static all: FakeSocket[] = [];
  readyState = 0;
  readonly sent: Record<string, unknown>[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((ev: { data: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;

  constructor(readonly url: string) {
    FakeSocket.all.push(this);
    setTimeout(() => {
      this.readyState = FakeSocket.OPEN;
      this.onopen?.();
    }, 0);
  }

  send(text: string): void {
    const frame = JSON.parse(text) as Record<string, unknown>;
    this.sent.push(frame);
    if (frame.type === 'ping') this.receive({ type: 'pong' });
  }

  receive(frame: ServerMessage): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  close(code = 1000): void {
    if (this.readyState === FakeSocket.CLOSED) return;
    this.readyState = FakeSocket.CLOSED;
    this.onclose?.({ code, reason: '' });
  }

  /** The frames of one type sent on this socket. */
  sentOf(type: string): Record<string, unknown>[] {
    return this.sent.filter((f) => f.type === type);
  }
}

export const latestSocket = (): FakeSocket => FakeSocket.all[FakeSocket.all.length - 1];

/** Signaling states as a browser keeps them, and the offers asked of it; no media at all. */
export class FakePeerConnection {
  static all: FakePeerConnection[] = [];
  signalingState: RTCSignalingState = 'stable';
  iceConnectionState: RTCIceConnectionState = 'connected';
  localDescription: RTCSessionDescriptionInit | null = null;
  readonly offers: { iceRestart: boolean }[] = [];
  onicecandidate: unknown = null;
  onnegotiationneeded: unknown = null;
  oniceconnectionstatechange: unknown = null;
  ontrack: unknown = null;

  constructor() {
    FakePeerConnection.all.push(this);
  }

  async createOffer(options: RTCOfferOptions = {}): Promise<RTCSessionDescriptionInit> {
    this.offers.push({ iceRestart: options.iceRestart === true });
    return { type: 'offer', sdp: `offer ${this.offers.length}` };
  }

  async createAnswer(): Promise<RTCSessionDescriptionInit> {
    return { type: 'answer', sdp: 'answer' };
  }

  async setLocalDescription(description: RTCSessionDescriptionInit): Promise<void> {
    if (description.type === 'rollback') {
      this.signalingState = 'stable';
      return;
    }
    this.localDescription = description;
    this.signalingState = description.type === 'offer' ? 'have-local-offer' : 'stable';
  }

  /** An offer arriving over our own rolls ours back, as browsers do for the polite peer. */
  async setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void> {
    this.signalingState = description.type === 'offer' ? 'have-remote-offer' : 'stable';
  }

  getTransceivers(): RTCRtpTransceiver[] {
    return [];
  }

  getSenders(): RTCRtpSender[] {
    return [];
  }

  async getStats(): Promise<Map<string, unknown>> {
    return new Map();
  }

  close(): void {
    this.signalingState = 'closed';
  }
}

/** Within a `describe`: fake timers, and the fakes above in place of the browser's own. */
export function withFakeBrowser(): void {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.all = [];
    FakePeerConnection.all = [];
    vi.stubGlobal('WebSocket', FakeSocket);
    vi.stubGlobal('RTCPeerConnection', FakePeerConnection);
    vi.stubGlobal('window', new EventTarget());
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });
}
