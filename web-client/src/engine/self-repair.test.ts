import { describe, expect, it, vi } from 'vitest';
import { Engine } from './engine';
import { BackoffPolicy } from './reconnect-policy';
import { FakePeerConnection, FakeSocket, joinedFrame, latestSocket, ME, withFakeBrowser } from './test-fakes';

describe('a connection that cannot send: the engine', () => {
  withFakeBrowser();

  it('rebuilds on a fresh seat when the browser keeps refusing its offers', async () => {
    const engine = new Engine('ws://test/ws', 'token', new BackoffPolicy([0], 60_000, () => 0.5));
    const states: string[] = [];
    engine.on('publishing', (s) => states.push(s));
    const connecting = engine.connect();
    await vi.advanceTimersByTimeAsync(1);
    latestSocket().receive(joinedFrame());
    await connecting;
    const first = FakePeerConnection.all[0];
    // What Chromium does once a header-extension id means two things in one BUNDLE group.
    vi.spyOn(first, 'setLocalDescription').mockRejectedValue(new Error('A BUNDLE group contains a codec collision for header extension id=2'));
    latestSocket().receive({ type: 'ice_restart', reason: 'media_silent' });
    await vi.advanceTimersByTimeAsync(200);

    expect(engine.negotiation.failedOffers).toBe(2);
    expect(engine.negotiation.rebuilds).toBe(1);
    expect(FakeSocket.all).toHaveLength(2);
    const join = FakeSocket.all[1].sentOf('join')[0];
    expect(join.resume, 'a fresh seat: the old one holds the broken connection').toBeUndefined();
    latestSocket().receive(joinedFrame({ participant: { ...ME, id: 'PA_new' }, resume_token: 'seat-2' }));
    await vi.advanceTimersByTimeAsync(1);
    expect(FakePeerConnection.all).toHaveLength(2);
    expect(first.signalingState).toBe('closed');
    expect(engine.connectionPhase).toBe('connected');
    expect(states).toEqual(['repairing']);
    const leaving = engine.leave();
    await vi.advanceTimersByTimeAsync(200);
    await leaving;
  });
});
