import { describe, expect, it, vi } from 'vitest';
import { Engine } from '../engine';
import type { ConnectionHealth } from '../signal/messages';
import { joinedFrame, ME } from '../engine/test-fakes';
import { type ChoiceStore, LinkJudge, loadSaveData, NetworkStatus } from './network';

class MemoryStore implements ChoiceStore {
  readonly items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
}

function entry(participant_id: string, extra: Partial<ConnectionHealth> = {}): ConnectionHealth {
  return {
    participant_id,
    quality: 'good',
    uplink_loss_percent: 0,
    downlink_loss_percent: 0,
    rtt_ms: 40,
    send_kbps: 800,
    receive_kbps: 900,
    audio_only: false,
    ...extra,
  };
}

/** Network status over an engine that never opens a socket: frames go in as engine events. */
function statusWith(store: ChoiceStore = new MemoryStore()) {
  const engine = new Engine('ws://test/ws', 'token');
  const saveData = vi.spyOn(engine, 'setSaveData').mockImplementation(() => {});
  vi.spyOn(engine, 'self', 'get').mockReturnValue(ME);
  const network = new NetworkStatus(engine, store);
  const events: string[] = [];
  network.on('health', () => events.push('health'));
  network.on('audioOnly', (a) => events.push(`audioOnly ${a.active} ${a.reason}`));
  network.on('saveData', (on) => events.push(`saveData ${on}`));
  return { engine, network, store, saveData, events };
}

describe('network status', () => {
  it('keeps the latest health frame whole, and finds our own entry in it', () => {
    const { engine, network, events } = statusWith();
    engine.emit('message', { type: 'connection_health', participants: [entry(ME.id), entry('PA_other', { quality: 'poor' })] });
    engine.emit('message', { type: 'connection_health', participants: [entry(ME.id, { quality: 'fair' })] });
    expect([...network.health.keys()]).toEqual([ME.id]);
    expect(network.mine?.quality).toBe('fair');
    expect(events).toEqual(['health', 'health']);
  });

  it('has no health of ours until the server gives it, and forgets all of it when the socket goes', () => {
    const { engine, network, events } = statusWith();
    engine.emit('message', { type: 'connection_health', participants: [entry('PA_other')] });
    expect(network.mine).toBeNull();
    engine.emit('phase', 'reconnecting');
    expect(network.health.size).toBe(0);
    expect(events).toEqual(['health', 'health']);
  });

  it('follows audio_only, and a new seat starts with video again', () => {
    const { engine, network, events } = statusWith();
    engine.emit('message', { type: 'audio_only', active: true, reason: 'bandwidth' });
    engine.emit('message', { type: 'audio_only', active: true, reason: 'bandwidth' });
    engine.emit('joined', { message: joinedFrame(), resumed: true });
    expect(network.audioOnly).toEqual({ active: true, reason: 'bandwidth' });
    engine.emit('message', { type: 'audio_only', active: true, reason: 'save_data' });
    engine.emit('joined', { message: joinedFrame(), resumed: false });
    expect(network.audioOnly).toEqual({ active: false, reason: null });
    expect(events).toEqual(['audioOnly true bandwidth', 'audioOnly true save_data', 'audioOnly false null']);
  });

  it('remembers the save-data choice for the next session and hands it to the engine', () => {
    const first = statusWith();
    expect(first.network.saveData).toBe(false);
    expect(first.saveData).not.toHaveBeenCalled();
    first.network.setSaveData(true);
    first.network.setSaveData(true);
    expect(first.saveData.mock.calls).toEqual([[true]]);
    expect(first.events).toEqual(['saveData true']);
    expect(loadSaveData(first.store)).toBe(true);

    const next = statusWith(first.store);
    expect(next.network.saveData).toBe(true);
    expect(next.saveData.mock.calls).toEqual([[true]]);
    next.network.setSaveData(false);
    expect(loadSaveData(first.store)).toBe(false);
  });

  it('works without storage, as in a private WebView', () => {
    const throwing: ChoiceStore = {
      getItem: () => {
        throw new Error('denied');
      },
      setItem: () => {
        throw new Error('denied');
      },
    };
    const { network } = statusWith(throwing);
    expect(network.saveData).toBe(false);
    network.setSaveData(true);
    expect(network.saveData).toBe(true);
  });
});

describe('judging our own link', () => {
  const good = { lossPercent: 0, rttMs: 40 };

  it('does not call a CPU stall a poor network: one late report among good ones stays good', () => {
    const judge = new LinkJudge();
    // A page stalled by a busy CPU answers its reports late once: 900 ms "delay", no loss.
    const levels = [good, good, { lossPercent: 0, rttMs: 900 }, good, good].map((r) => judge.take(r));
    expect(levels).not.toContain('poor');
    expect(levels[levels.length - 1]).toBe('good');
  });

  it('calls sustained loss or delay poor, and a silent link lost at once', () => {
    const lossy = new LinkJudge();
    expect([good, { lossPercent: 12, rttMs: 60 }, { lossPercent: 10, rttMs: 60 }].map((r) => lossy.take(r))).toEqual(['good', 'good', 'poor']);
    const slow = new LinkJudge();
    expect([{ lossPercent: 0, rttMs: 800 }, { lossPercent: 0, rttMs: 900 }].map((r) => slow.take(r))).toEqual(['fair', 'poor']);
    expect(slow.take({ lossPercent: null, rttMs: null, silent: true })).toBe('lost');
  });

  it('gives the badge and the save-data tip one judgment, from the server’s health of us', () => {
    const { engine, network } = statusWith();
    const links: string[] = [];
    network.on('link', (level) => links.push(level));
    const say = (extra: Partial<ConnectionHealth>) => engine.emit('message', { type: 'connection_health', participants: [entry(ME.id, extra)] });
    say({ quality: 'poor', rtt_ms: 950 }); // alone: a stall, not yet the network
    expect(network.link).toBe('fair');
    say({ quality: 'fair', rtt_ms: 350 });
    expect(network.link).toBe('fair');
    say({ quality: 'poor', uplink_loss_percent: 15 });
    say({ quality: 'poor', uplink_loss_percent: 11 });
    expect(network.link).toBe('poor');
    // Our own statistics do not overrule the server's word.
    network.measured({ lossPercent: 0, rttMs: 20 });
    expect(network.link).toBe('poor');
    say({ quality: 'good' });
    expect(links).toEqual(['fair', 'poor', 'good']);
  });
});
