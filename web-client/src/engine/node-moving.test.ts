import { describe, expect, it, vi } from 'vitest';
import type { ServerMessage } from '../signal/messages';
import { Engine, JoinError } from './engine';
import { isNodeMovingCode, isNodeMovingReason, leaveReason } from './ending';
import { BackoffPolicy } from './reconnect-policy';
import { FakePeerConnection, FakeSocket, joinedFrame, latestSocket as latest, withFakeBrowser } from './test-fakes';

// A server that drains (SIGTERM before a restart or an upgrade) refuses new rooms with
// `node_draining` and, at its deadline, lets seats go with `left` `node_moving`. Neither ends
// the session: the engine joins again, as after a dropped socket.

const draining: ServerMessage = {
  type: 'error',
  request_id: 'j1',
  code: 'node_draining',
  message: 'this server is shutting down',
  fatal: true,
  retry_after_ms: 2000,
};

const policy = () => new BackoffPolicy([0, 300, 1000], 120_000, () => 0.5);

describe('a server going away', () => {
  withFakeBrowser();

  it('maps node_draining and node_moving to "join again", not to an end', () => {
    expect(isNodeMovingCode('node_draining')).toBe(true);
    expect(isNodeMovingCode('session_unavailable')).toBe(true);
    expect(isNodeMovingCode('room_full')).toBe(false);
    expect(isNodeMovingReason('node_moving')).toBe(true);
    expect(isNodeMovingReason('server_shutdown')).toBe(false);
    expect(leaveReason('node_moving')).not.toBe('left');
  });

  it('joins again after node_draining, waiting at least retry_after_ms', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    const engine = new Engine('ws://test/ws', 'token', policy());
    const ends: unknown[] = [];
    engine.on('ended', (e) => ends.push(e));
    let joined = false;
    const connecting = engine.connect().then(() => (joined = true));
    await vi.advanceTimersByTimeAsync(1);
    latest().receive(draining);
    await vi.advanceTimersByTimeAsync(1);
    expect(engine.connectionPhase).toBe('reconnecting');
    await vi.advanceTimersByTimeAsync(1500);
    expect(FakeSocket.all, 'no second attempt before retry_after_ms').toHaveLength(1);
    await vi.advanceTimersByTimeAsync(600);
    expect(FakeSocket.all).toHaveLength(2);
    // Refused again: it keeps trying with backoff.
    await vi.advanceTimersByTimeAsync(1);
    latest().receive(draining);
    await vi.advanceTimersByTimeAsync(2100);
    expect(FakeSocket.all).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(1);
    expect(latest().sent[0]).toMatchObject({ type: 'join', token: 'token' });
    latest().receive(joinedFrame());
    await connecting;
    expect(joined).toBe(true);
    expect(ends).toEqual([]);
    expect(engine.connectionPhase).toBe('connected');
  });

  it('joins again after session_unavailable (its server could not be reached)', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    const engine = new Engine('ws://test/ws', 'token', policy());
    const ends: unknown[] = [];
    engine.on('ended', (e) => ends.push(e));
    const connecting = engine.connect();
    await vi.advanceTimersByTimeAsync(1);
    latest().receive({ ...draining, code: 'session_unavailable', message: 'cannot be reached' });
    await vi.advanceTimersByTimeAsync(1500);
    expect(FakeSocket.all, 'no second attempt before retry_after_ms').toHaveLength(1);
    await vi.advanceTimersByTimeAsync(600);
    expect(FakeSocket.all).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    latest().receive(joinedFrame());
    await connecting;
    expect(ends).toEqual([]);
    expect(engine.connectionPhase).toBe('connected');
  });

  it('resumes its seat after left node_moving instead of ending', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    const engine = new Engine('ws://test/ws', 'token', policy());
    const ends: unknown[] = [];
    const rejoined: boolean[] = [];
    engine.on('ended', (e) => ends.push(e));
    engine.on('joined', (j) => rejoined.push(j.resumed));
    const connecting = engine.connect();
    await vi.advanceTimersByTimeAsync(1);
    latest().receive(joinedFrame());
    await connecting;
    const first = latest();
    first.receive({ type: 'left', reason: 'node_moving' });
    await vi.advanceTimersByTimeAsync(10);
    expect(ends).toEqual([]);
    expect(engine.connectionPhase).toBe('reconnecting');
    expect(first.readyState, 'the old socket is closed').toBe(FakeSocket.CLOSED);
    expect(FakeSocket.all).toHaveLength(2);
    expect(latest().sent[0]).toMatchObject({ type: 'join', resume: 'seat-1' });
    // The new node holds no seat for the token: it seats us as new, and we rebuild media.
    latest().receive({ type: 'error', code: 'resume_failed', message: 'joined as new', fatal: false });
    latest().receive(joinedFrame({ participant: { ...joinedFrame().participant, id: 'PA_new' }, resume_token: 'seat-2' }));
    await vi.advanceTimersByTimeAsync(10);
    expect(engine.connectionPhase).toBe('connected');
    expect(rejoined).toEqual([false]);
    expect(FakePeerConnection.all).toHaveLength(2);
    expect(ends).toEqual([]);
  });

  it('keeps trying while the restarted server is not up yet, then gets back in', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    const engine = new Engine('ws://test/ws', 'token', policy());
    const ends: unknown[] = [];
    engine.on('ended', (e) => ends.push(e));
    const connecting = engine.connect();
    await vi.advanceTimersByTimeAsync(1);
    latest().receive(joinedFrame());
    await connecting;
    latest().receive({ type: 'left', reason: 'node_moving' });
    await vi.advanceTimersByTimeAsync(10);
    // The only server is restarting: the socket closes before anything is said.
    latest().close(1006);
    await vi.advanceTimersByTimeAsync(400);
    latest().receive(draining);
    // Not before the 2 s it asked for.
    await vi.advanceTimersByTimeAsync(1100);
    expect(FakeSocket.all).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(1000);
    expect(FakeSocket.all.length).toBeGreaterThanOrEqual(4);
    latest().receive(joinedFrame());
    await vi.advanceTimersByTimeAsync(10);
    expect(engine.connectionPhase).toBe('connected');
    expect(ends).toEqual([]);
  });

  it('still ends on server_shutdown and on the other fatal codes', async () => {
    const engine = new Engine('ws://test/ws', 'token', policy());
    const connecting = engine.connect().catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1);
    latest().receive({ type: 'error', code: 'room_full', message: 'full', fatal: true });
    expect(((await connecting) as JoinError).reason).toBe('room_full');
    expect(FakeSocket.all).toHaveLength(1);
  });
});
