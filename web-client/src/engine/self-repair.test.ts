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

  it('offers again, then rebuilds, when the microphone stops going out on a connected link', async () => {
    const engine = new Engine('ws://test/ws', 'token', new BackoffPolicy([0], 60_000, () => 0.5));
    const connecting = engine.connect();
    await vi.advanceTimersByTimeAsync(1);
    latestSocket().receive(joinedFrame());
    await connecting;
    const pc = FakePeerConnection.all[0];
    const microphone = { kind: 'audio', readyState: 'live', enabled: true, muted: false };
    const transceiver = { mid: '0', currentDirection: 'sendonly', direction: 'sendonly', sender: { track: microphone } };
    Object.assign(pc, { connectionState: 'connected' });
    vi.spyOn(pc, 'getTransceivers').mockReturnValue([transceiver as unknown as RTCRtpTransceiver]);
    // The packet count stands still: nothing leaves, though the link is up.
    vi.spyOn(pc, 'getStats').mockResolvedValue(new Map([['o', { type: 'outbound-rtp', mid: '0', packetsSent: 40 }]]));

    // Stuck from the second reading (4 s): an ICE restart at 6 s of it, a rebuild at 12 s.
    await vi.advanceTimersByTimeAsync(11_000);
    expect(engine.negotiation.rebuilds).toBe(0);
    expect(pc.offers, 'a new path first').toEqual([{ iceRestart: true }]);
    await vi.advanceTimersByTimeAsync(6_000);
    expect(engine.negotiation.rebuilds).toBe(1);
    expect(engine.publishing).toBe('repairing');
    expect(FakeSocket.all[1].sentOf('join')[0].resume).toBeUndefined();
  });

  it('leaves a muted or paused microphone alone', async () => {
    const engine = new Engine('ws://test/ws', 'token', new BackoffPolicy([0], 60_000, () => 0.5));
    const connecting = engine.connect();
    await vi.advanceTimersByTimeAsync(1);
    latestSocket().receive(joinedFrame());
    await connecting;
    const pc = FakePeerConnection.all[0];
    const microphone = { kind: 'audio', readyState: 'live', enabled: true, muted: true };
    const transceiver = { mid: '0', currentDirection: 'sendonly', direction: 'sendonly', sender: { track: microphone } };
    Object.assign(pc, { connectionState: 'connected' });
    vi.spyOn(pc, 'getTransceivers').mockReturnValue([transceiver as unknown as RTCRtpTransceiver]);
    vi.spyOn(pc, 'getStats').mockResolvedValue(new Map([['o', { type: 'outbound-rtp', mid: '0', packetsSent: 40 }]]));
    await vi.advanceTimersByTimeAsync(30_000);
    expect(engine.negotiation.rebuilds).toBe(0);
    expect(FakeSocket.all).toHaveLength(1);
  });
});
