// What the server says about connections, and the person's 省流量 (save data) choice: the
// latest health of everyone's link (a moderator's view) or of our own, whether the server
// sends us video at all, and whether we asked it not to. Kept apart from the people in the
// room: health is replaced whole every two seconds and means nothing once the socket is gone.

import { Emitter } from '../emitter';
import type { Engine } from '../engine';
import type { AudioOnlyReason, ConnectionHealth, ServerMessage } from '../signal/messages';

export interface AudioOnly {
  active: boolean;
  reason: AudioOnlyReason | null;
}

export interface NetworkEvents {
  /** A `connection_health` arrived, or what we knew was dropped with the socket. */
  health: undefined;
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
      this.emit('health', undefined);
    } else if (message.type === 'audio_only') {
      this.setAudioOnly({ active: message.active === true, reason: message.active ? (message.reason ?? null) : null });
    }
  }

  private setAudioOnly(next: AudioOnly): void {
    if (this.audioOnly.active === next.active && this.audioOnly.reason === next.reason) return;
    this.audioOnly = next;
    this.emit('audioOnly', next);
  }
}
