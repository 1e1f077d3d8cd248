// What the server says about connections, and the person's 省流量 (save data) choice: the
// latest health of everyone's link (a moderator's view) or of our own, whether the server
// sends us video at all, and whether we asked it not to. Kept apart from the people in the
// room: health is replaced whole every two seconds and means nothing once the socket is gone.

import { Emitter } from '../emitter';
import type { Engine } from '../engine';
import type { AudioOnlyReason, ConnectionHealth, HealthQuality, ServerMessage } from '../signal/messages';

/** Our own link as the person is told it: in the top bar's badge and in any toast about it. */
export type LinkLevel = HealthQuality | 'unknown';

/**
 * One reading of our link, in network measures only: loss and round-trip time. Frame rate
 * and bitrate are left out on purpose: they fall when the phone (or the page) is too busy to
 * encode, which no network setting helps.
 */
export interface LinkReading {
  /** The worse direction's loss, 0–100, if known. */
  lossPercent: number | null;
  rttMs: number | null;
  /** The server hears nothing from us. */
  silent?: boolean;
  /** The server sends us no video for lack of bandwidth. */
  audioOnly?: boolean;
}

const RANK: Record<LinkLevel, number> = { unknown: 0, good: 1, fair: 2, poor: 3, lost: 4 };

/** The server's thresholds (sfu/src/health.rs), so that our own readings mean the same. */
export function levelOf(reading: LinkReading): LinkLevel {
  if (reading.silent) return 'lost';
  const loss = reading.lossPercent ?? 0;
  const rtt = reading.rttMs ?? 0;
  if (loss >= 8 || rtt >= 700) return 'poor';
  if (loss >= 2 || rtt >= 300 || reading.audioOnly) return 'fair';
  return 'good';
}

export function readingOf(health: ConnectionHealth): LinkReading {
  const losses = [health.uplink_loss_percent, health.downlink_loss_percent].filter((v): v is number => typeof v === 'number');
  return {
    lossPercent: losses.length ? Math.max(...losses) : null,
    rttMs: health.rtt_ms ?? null,
    silent: health.quality === 'lost',
    audioOnly: health.audio_only,
  };
}

/**
 * The one judgment of our link. A worse level is said only once two readings in a row (about
 * four seconds) reach it, a better one at once: a page or browser stalled by a busy CPU sends
 * its reports late, and one reading then shows a delay the network never had. A lost link is
 * said at once.
 */
export class LinkJudge {
  private previous: LinkLevel | null = null;
  level: LinkLevel = 'unknown';

  take(reading: LinkReading): LinkLevel {
    const now = levelOf(reading);
    const before = this.previous;
    this.previous = now;
    if (now === 'lost') this.level = 'lost';
    else if (before === null || before === 'lost') this.level = RANK[now] > RANK.fair ? 'fair' : now;
    else this.level = RANK[now] < RANK[before] ? now : before;
    return this.level;
  }

  reset(): void {
    this.previous = null;
    this.level = 'unknown';
  }
}

export interface AudioOnly {
  active: boolean;
  reason: AudioOnlyReason | null;
}

export interface NetworkEvents {
  /** A `connection_health` arrived, or what we knew was dropped with the socket. */
  health: undefined;
  /** The judgment of our own link changed (see `LinkJudge`). */
  link: LinkLevel;
  audioOnly: AudioOnly;
  saveData: boolean;
}

/** The subset of `Storage` the choice needs; absent or throwing in some WebViews' private mode. */
export type ChoiceStore = Pick<Storage, 'getItem' | 'setItem'>;

const SAVE_DATA_KEY = 'accord.saveData';

export function loadSaveData(store: ChoiceStore | null): boolean {
  try {
    return store?.getItem(SAVE_DATA_KEY) === '1';
  } catch {
    return false;
  }
}

export function storeSaveData(store: ChoiceStore | null, enabled: boolean): void {
  try {
    store?.setItem(SAVE_DATA_KEY, enabled ? '1' : '0');
  } catch {
    // not remembered for the next session; it still holds for this one
  }
}

function browserStore(): ChoiceStore | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null;
  }
}

export class NetworkStatus extends Emitter<NetworkEvents> {
  /** The latest `connection_health`, by participant id. */
  health = new Map<string, ConnectionHealth>();
  audioOnly: AudioOnly = { active: false, reason: null };
  saveData: boolean;
  private readonly judge = new LinkJudge();

  constructor(
    private readonly engine: Engine,
    private readonly store: ChoiceStore | null = browserStore(),
  ) {
    super();
    // Chosen in an earlier session on this phone: a person who pays for data by the megabyte
    // should not have to find the switch again.
    this.saveData = loadSaveData(store);
    if (this.saveData) engine.setSaveData(true);
    engine.on('message', (message) => this.take(message));
    engine.on('joined', ({ resumed }) => {
      // A new seat starts with video, whatever the old one had; our choice is sent again.
      if (!resumed) this.setAudioOnly({ active: false, reason: null });
    });
    engine.on('phase', (phase) => {
      if (phase === 'reconnecting') {
        this.judge.reset();
        this.emit('link', this.judge.level);
      }
      if (phase === 'reconnecting' && this.health.size > 0) {
        this.health = new Map();
        this.emit('health', undefined);
      }
    });
  }

  /** Our own link as the server sees it, once it has said. */
  get mine(): ConnectionHealth | null {
    const id = this.engine.self?.id;
    return (id && this.health.get(id)) || null;
  }

  /** Our own link as the person is told it, by the badge and by any toast alike. */
  get link(): LinkLevel {
    return this.judge.level;
  }

  /**
   * A reading from our own statistics (the quality monitor): judged only while the server
   * says nothing about us, whose word covers both directions.
   */
  measured(reading: LinkReading): void {
    if (!this.mine) this.judgeLink(reading);
  }

  setSaveData(enabled: boolean): void {
    if (this.saveData === enabled) return;
    this.saveData = enabled;
    storeSaveData(this.store, enabled);
    this.engine.setSaveData(enabled);
    this.emit('saveData', enabled);
  }

  private take(message: ServerMessage): void {
    if (message.type === 'connection_health') {
      this.health = new Map((message.participants ?? []).map((h) => [h.participant_id, h]));
      const mine = this.mine;
      if (mine) this.judgeLink(readingOf(mine));
      this.emit('health', undefined);
    } else if (message.type === 'audio_only') {
      this.setAudioOnly({ active: message.active === true, reason: message.active ? (message.reason ?? null) : null });
    }
  }

  private judgeLink(reading: LinkReading): void {
    const before = this.judge.level;
    if (this.judge.take(reading) !== before) this.emit('link', this.judge.level);
  }

  private setAudioOnly(next: AudioOnly): void {
    if (this.audioOnly.active === next.active && this.audioOnly.reason === next.reason) return;
    this.audioOnly = next;
    this.emit('audioOnly', next);
  }
}
