import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ServerMessage } from '../signal/messages';
import { Engine, JoinError } from './engine';
import { BackoffPolicy } from './reconnect-policy';

/** Just enough of a browser WebSocket: opens on the next tick, answers pings as the server does. */
class FakeSocket {
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
}

class FakePeerConnection {
  close(): void {}
}

const me = { id: 'PA_me', identity: 'party-1', name: '张三', role: 'party' as const };
const waiting: ServerMessage = { type: 'waiting', protocol: 1, participant: me, resume_token: 'wait-1' };
const joined: ServerMessage = {
  type: 'joined',
  protocol: 1,
  participant: me,
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
};

const latest = () => FakeSocket.all[FakeSocket.all.length - 1];

describe('joining through the waiting room', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.all = [];
    vi.stubGlobal('WebSocket', FakeSocket);
    vi.stubGlobal('RTCPeerConnection', FakePeerConnection);
    vi.stubGlobal('window', new EventTarget());
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  it('waits for as long as the mediator takes, and is in once joined arrives', async () => {
    const engine = new Engine('ws://test/ws', 'token');
    const waits: string[] = [];
    engine.on('waiting', (m) => waits.push(m.participant.id));
    let result: unknown = null;
    const connecting = engine.connect().then((j) => (result = j));
    await vi.advanceTimersByTimeAsync(1);
    latest().receive(waiting);
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(waits).toEqual(['PA_me']);
    expect(result, 'still waiting after ten minutes, not timed out').toBeNull();
    expect(FakeSocket.all).toHaveLength(1);
    latest().receive(joined);
    await connecting;
    expect(engine.connectionPhase).toBe('connected');
    expect(engine.self?.id).toBe('PA_me');
  });

  it('ends with the mediator’s reason when turned away', async () => {
    const engine = new Engine('ws://test/ws', 'token');
    const connecting = engine.connect().catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1);
    latest().receive(waiting);
    latest().receive({ type: 'left', reason: 'denied', message: '请由本人参加' });
    const error = await connecting;
    expect(error).toBeInstanceOf(JoinError);
    expect((error as JoinError).reason).toBe('denied');
    expect((error as JoinError).detail).toBe('请由本人参加');
  });

  it('tells a locked room and a missing consent apart from other failures', async () => {
    for (const code of ['room_locked', 'consent_required'] as const) {
      const engine = new Engine('ws://test/ws', 'token');
      const connecting = engine.connect().catch((e: unknown) => e);
      await vi.advanceTimersByTimeAsync(1);
      latest().receive({ type: 'error', code, message: code, fatal: true });
      expect(((await connecting) as JoinError).reason).toBe(code);
    }
  });

  it('keeps its place through a dropped socket while waiting', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    const engine = new Engine('ws://test/ws', 'token', new BackoffPolicy([0], 60_000, () => 0.5));
    let done = false;
    const connecting = engine.connect().then(() => (done = true));
    await vi.advanceTimersByTimeAsync(1);
    latest().receive(waiting);
    latest().close(1006);
    await vi.advanceTimersByTimeAsync(10);
    expect(FakeSocket.all).toHaveLength(2);
    expect(latest().sent[0]).toMatchObject({ type: 'join', resume: 'wait-1' });
    expect(done).toBe(false);
    latest().receive(waiting);
    latest().receive(joined);
    await connecting;
    expect(done).toBe(true);
  });

  it('leaves from the waiting room with a leave frame and a clean end', async () => {
    const engine = new Engine('ws://test/ws', 'token');
    const connecting = engine.connect().catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1);
    latest().receive(waiting);
    const leaving = engine.leave();
    await vi.advanceTimersByTimeAsync(200);
    await leaving;
    expect(latest().sent.map((f) => f.type)).toContain('leave');
    expect(((await connecting) as JoinError).reason).toBe('left');
  });

  it('passes on a removal with the mediator’s words once in the room', async () => {
    const engine = new Engine('ws://test/ws', 'token');
    const ends: unknown[] = [];
    engine.on('ended', (e) => ends.push(e));
    const connecting = engine.connect();
    await vi.advanceTimersByTimeAsync(1);
    latest().receive(joined);
    await connecting;
    latest().receive({ type: 'left', reason: 'removed', message: '多次打断他人发言' });
    await vi.advanceTimersByTimeAsync(1);
    expect(ends).toEqual([{ reason: 'removed', message: '多次打断他人发言' }]);
  });
});
