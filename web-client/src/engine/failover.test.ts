import { describe, expect, it, vi } from 'vitest';
import { Engine } from './engine';
import { BackoffPolicy } from './reconnect-policy';
import { FakePeerConnection, FakeSocket, ME, joinedFrame, latestSocket as latest, withFakeBrowser } from './test-fakes';

// The node running the session dies: the socket drops without a word, the node the proxy
// reaches next cannot serve the session until the dead node's lease runs out
// (`session_unavailable`, retry after 2 s), then takes the session over and seats us anew
// (it never issued our resume token) in the private room we were in.

const policy = () => new BackoffPolicy([0, 300, 1000], 120_000, () => 0.5);

describe('the node running the session dies', () => {
  withFakeBrowser();

  it('rejoins, waits as long as it is asked, and is seated anew in its private room', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    const engine = new Engine('ws://test/ws', 'token', policy());
    const ends: unknown[] = [];
    const seats: { id: string; space: string | undefined; resumed: boolean }[] = [];
    engine.on('ended', (e) => ends.push(e));
    engine.on('joined', (j) => seats.push({ id: j.message.participant.id, space: j.message.space, resumed: j.resumed }));
    const connecting = engine.connect();
    await vi.advanceTimersByTimeAsync(1);
    latest().receive(joinedFrame({ space: 'applicant' }));
    await connecting;

    latest().close(1006);
    await vi.advanceTimersByTimeAsync(10);
    expect(engine.connectionPhase).toBe('reconnecting');
    expect(FakeSocket.all).toHaveLength(2);
    expect(latest().sent[0]).toMatchObject({ type: 'join', token: 'token', resume: 'seat-1' });
    latest().receive({
      type: 'error',
      request_id: 'j1',
      code: 'session_unavailable',
      message: 'the session cannot be reached now',
      fatal: true,
      retry_after_ms: 2000,
    });
    await vi.advanceTimersByTimeAsync(1500);
    expect(FakeSocket.all, 'the backoff alone would have tried again by now').toHaveLength(2);
    await vi.advanceTimersByTimeAsync(600);
    expect(FakeSocket.all).toHaveLength(3);
    expect(latest().sent[0]).toMatchObject({ type: 'join', resume: 'seat-1' });

    latest().receive({ type: 'error', code: 'resume_failed', message: 'joined as new', fatal: false });
    latest().receive(
      joinedFrame({ participant: { ...ME, id: 'PA_new' }, resume_token: 'seat-2', space: 'applicant' }),
    );
    await vi.advanceTimersByTimeAsync(10);
    expect(engine.connectionPhase).toBe('connected');
    expect(seats).toEqual([{ id: 'PA_new', space: 'applicant', resumed: false }]);
    expect(FakePeerConnection.all, 'a new seat gets a new peer connection').toHaveLength(2);
    expect(ends).toEqual([]);
  });
});
