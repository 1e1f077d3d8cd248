import { describe, expect, it, vi } from 'vitest';
import type { ServerMessage } from '../signal/messages';
import { Engine, JoinError } from './engine';
import { BackoffPolicy } from './reconnect-policy';
import { FakeSocket, joinedFrame, latestSocket as latest, ME, withFakeBrowser } from './test-fakes';

const waiting: ServerMessage = { type: 'waiting', protocol: 1, participant: ME, resume_token: 'wait-1' };
const joined = joinedFrame();

describe('joining through the waiting room', () => {
  withFakeBrowser();

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
