import { describe, expect, it, vi } from 'vitest';
import { Engine } from './engine';
import { BackoffPolicy } from './reconnect-policy';
import { FakePeerConnection, FakeSocket, joinedFrame, latestSocket, withFakeBrowser } from './test-fakes';

/** An engine in the room, its socket open and its (fake) peer connection made. */
async function connected(before?: (engine: Engine) => void) {
  const engine = new Engine('ws://test/ws', 'token', new BackoffPolicy([0], 60_000, () => 0.5));
  before?.(engine);
  const connecting = engine.connect();
  await vi.advanceTimersByTimeAsync(1);
  latestSocket().receive(joinedFrame());
  await connecting;
  const pc = FakePeerConnection.all[FakePeerConnection.all.length - 1];
  return { engine, pc, socket: latestSocket() };
}

const restartOffers = (pc: FakePeerConnection) => pc.offers.filter((o) => o.iceRestart).length;

describe('weak networks: the engine', () => {
  withFakeBrowser();

  it('restarts ICE when the server asks, on the socket it already has', async () => {
    const { engine, pc, socket } = await connected();
    socket.receive({ type: 'ice_restart', reason: 'media_silent' });
    await vi.advanceTimersByTimeAsync(1);
    expect(restartOffers(pc)).toBe(1);
    expect(socket.sentOf('offer')).toHaveLength(1);
    expect(FakeSocket.all).toHaveLength(1);
    expect([engine.iceRestarts, engine.iceRestartRequests]).toEqual([1, 1]);
  });

  it('answers requests made while a restart is under way with that restart', async () => {
    const { engine, pc, socket } = await connected();
    socket.receive({ type: 'ice_restart', reason: 'media_silent' });
    socket.receive({ type: 'ice_restart', reason: 'path_changed' });
    await vi.advanceTimersByTimeAsync(100);
    expect([engine.iceRestarts, engine.iceRestartRequests]).toEqual([1, 2]);
    socket.receive({ type: 'answer', sdp: 'answer' });
    await vi.advanceTimersByTimeAsync(100);
    expect(restartOffers(pc), 'no second restart queued behind the first').toBe(1);
    socket.receive({ type: 'ice_restart', reason: 'path_changed' });
    await vi.advanceTimersByTimeAsync(100);
    expect(restartOffers(pc)).toBe(2);
    expect([engine.iceRestarts, engine.iceRestartRequests]).toEqual([2, 3]);
  });

  it('offers the restart again when a server offer rolls it back', async () => {
    const { engine, pc, socket } = await connected();
    socket.receive({ type: 'ice_restart', reason: 'path_changed' });
    await vi.advanceTimersByTimeAsync(1);
    socket.receive({ type: 'offer', sdp: 'server offer', tracks: {} });
    await vi.advanceTimersByTimeAsync(100);
    expect(socket.sentOf('answer')).toHaveLength(1);
    expect(pc.offers.map((o) => o.iceRestart)).toEqual([true, true]);
    expect(engine.iceRestarts).toBe(2);
  });

  it('ignores a request while no peer connection exists yet', async () => {
    const engine = new Engine('ws://test/ws', 'token');
    const connecting = engine.connect();
    await vi.advanceTimersByTimeAsync(1);
    latestSocket().receive({ type: 'waiting', protocol: 1, participant: joinedFrame().participant });
    latestSocket().receive({ type: 'ice_restart', reason: 'media_silent' });
    await vi.advanceTimersByTimeAsync(1);
    expect([engine.iceRestarts, engine.iceRestartRequests]).toEqual([0, 0]);
    latestSocket().receive(joinedFrame());
    await connecting;
  });

  it('sends save_data once chosen, after joined, and again on every new socket', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    const { engine, socket } = await connected((e) => e.setSaveData(true));
    expect(socket.sentOf('save_data').map((f) => f.enabled)).toEqual([true]);
    engine.setSaveData(false);
    expect(socket.sentOf('save_data').map((f) => f.enabled)).toEqual([true, false]);
    socket.close(1006);
    await vi.advanceTimersByTimeAsync(10);
    latestSocket().receive(joinedFrame());
    await vi.advanceTimersByTimeAsync(10);
    expect(latestSocket()).not.toBe(socket);
    expect(latestSocket().sentOf('save_data').map((f) => f.enabled)).toEqual([false]);
  });

  it('never sends save_data to a server when the person never chose', async () => {
    const { socket } = await connected();
    expect(socket.sentOf('save_data')).toEqual([]);
  });
});
