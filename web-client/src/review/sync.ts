// Playing many recorded files as one session: a single master clock (the mixed audio, or a
// clock kept here when there is none) says where the session is, and every track's element is
// placed on it by its start time. Media elements are reached through a small interface, so
// the rules can be checked without a browser.

/** How far an element may wander from where the master says it should be before it is moved. */
export const DRIFT_LIMIT_S = 0.3;

/** The playback speeds offered. */
export const SPEEDS = [1, 1.5, 2] as const;

/** Where the master is relative to a track's span: not in the room yet, in it, or gone. */
export type Presence = 'before' | 'inside' | 'after';

/** Where a track's element should be for a master time, in the element's own seconds. */
export interface Placement {
  presence: Presence;
  time: number;
}

/**
 * The element time for `masterS` (seconds on the recording's clock) of a track spanning
 * `startMs`..`endMs`. Outside its span the element is held at its first or last moment.
 */
export function placeOnTrack(masterS: number, startMs: number, endMs: number): Placement {
  const lengthS = Math.max(0, endMs - startMs) / 1000;
  const time = masterS - startMs / 1000;
  if (time < 0) return { presence: 'before', time: 0 };
  if (time >= lengthS) return { presence: 'after', time: lengthS };
  return { presence: 'inside', time };
}

/** Whether an element at `actualS` is far enough from `wantedS` to be moved there. */
export function drifted(actualS: number, wantedS: number): boolean {
  return Math.abs(actualS - wantedS) > DRIFT_LIMIT_S;
}

/** A seek target kept on the recording: 0 up to its end. */
export function clampToRecording(seconds: number, durationS: number): number {
  if (!Number.isFinite(seconds)) return 0;
  return Math.min(Math.max(0, seconds), Math.max(0, durationS));
}

/** What the player needs of an <audio> or <video> element. */
export interface MediaLike {
  currentTime: number;
  readonly paused: boolean;
  /** HTMLMediaElement's readiness: 3 and up means it has data to play on. */
  readonly readyState?: number;
  playbackRate: number;
  play(): Promise<void> | void;
  pause(): void;
}

/** The clock every track follows. */
export interface MasterClock {
  /** Seconds on the recording's clock. */
  time(): number;
  /** Whether playback was asked for (the play button's state). */
  playing(): boolean;
  /** Whether time is moving now: playing and not waiting for data. */
  advancing(): boolean;
  play(): void;
  pause(): void;
  seek(seconds: number): void;
  setRate(rate: number): void;
}

/** Starts an element, ignoring a refusal (autoplay rules): the next tick tries again. */
function start(media: MediaLike): void {
  try {
    const started = media.play();
    if (started && typeof started.catch === 'function') started.catch(() => undefined);
  } catch {
    // Same as a refused promise: the element stays paused and is retried.
  }
}

/** A clock of our own, for a recording without mixed audio: wall time times the speed. */
export class KeptClock implements MasterClock {
  private anchorS = 0;
  private anchorAt = 0;
  private running = false;
  private rate = 1;

  constructor(private readonly now: () => number = () => performance.now()) {}

  time(): number {
    return this.running ? this.anchorS + ((this.now() - this.anchorAt) / 1000) * this.rate : this.anchorS;
  }

  playing(): boolean {
    return this.running;
  }

  advancing(): boolean {
    return this.running;
  }

  play(): void {
    if (this.running) return;
    this.anchorAt = this.now();
    this.running = true;
  }

  pause(): void {
    this.anchorS = this.time();
    this.running = false;
  }

  seek(seconds: number): void {
    this.anchorS = seconds;
    this.anchorAt = this.now();
  }

  setRate(rate: number): void {
    // Re-anchored first, so the time already played keeps the old speed.
    this.anchorS = this.time();
    this.anchorAt = this.now();
    this.rate = rate;
  }
}

/** The mixed audio as the master: its position plus where it starts on the recording's clock. */
export class AudioClock implements MasterClock {
  constructor(
    private readonly audio: MediaLike,
    private readonly startS: number,
  ) {}

  time(): number {
    return this.audio.currentTime + this.startS;
  }

  playing(): boolean {
    return !this.audio.paused;
  }

  advancing(): boolean {
    // HAVE_FUTURE_DATA: below it the audio waits for the network while claiming to play.
    return !this.audio.paused && (this.audio.readyState ?? 4) >= 3;
  }

  play(): void {
    start(this.audio);
  }

  pause(): void {
    this.audio.pause();
  }

  seek(seconds: number): void {
    this.audio.currentTime = Math.max(0, seconds - this.startS);
  }

  setRate(rate: number): void {
    this.audio.playbackRate = rate;
  }
}

/** One track's element and its span on the recording's clock. */
export interface Tile {
  name: string;
  startMs: number;
  endMs: number;
  media: MediaLike;
}

/** What a test (or a caption) sees of a tile after the last tick. */
export interface TileState {
  name: string;
  presence: Presence;
  currentTime: number;
  playing: boolean;
}

/** Keeps every tile on the master clock: call `tick` often (a few times a second) and after any change. */
export class SyncPlayer {
  private rate = 1;
  private states: TileState[] = [];

  constructor(
    private readonly master: MasterClock,
    private readonly tiles: readonly Tile[],
    private readonly durationS: number,
  ) {
    this.tick();
  }

  /** Seconds on the recording's clock. */
  time(): number {
    return clampToRecording(this.master.time(), this.durationS);
  }

  duration(): number {
    return this.durationS;
  }

  playing(): boolean {
    return this.master.playing();
  }

  speed(): number {
    return this.rate;
  }

  play(): void {
    // Played from the end, the recording starts over.
    if (this.master.time() >= this.durationS) this.master.seek(0);
    this.master.play();
    this.tick();
  }

  pause(): void {
    this.master.pause();
    this.tick();
  }

  seek(seconds: number): void {
    this.master.seek(clampToRecording(seconds, this.durationS));
    this.tick();
  }

  setSpeed(rate: number): void {
    this.rate = rate;
    this.master.setRate(rate);
    this.tick();
  }

  /** The tiles as of the last tick. */
  tileStates(): readonly TileState[] {
    return this.states;
  }

  /** Moves, starts and stops each tile to match the master; stops everything at the end. */
  tick(): void {
    if (this.master.playing() && this.master.time() >= this.durationS) this.master.pause();
    const masterS = this.time();
    // Tiles wait with the master while it buffers, rather than run ahead and be pulled back.
    const running = this.master.advancing();
    this.states = this.tiles.map((tile) => {
      const { media } = tile;
      const place = placeOnTrack(masterS, tile.startMs, tile.endMs);
      if (media.playbackRate !== this.rate) media.playbackRate = this.rate;
      if (drifted(media.currentTime, place.time)) media.currentTime = place.time;
      const shouldPlay = running && place.presence === 'inside';
      if (shouldPlay && media.paused) start(media);
      if (!shouldPlay && !media.paused) media.pause();
      return { name: tile.name, presence: place.presence, currentTime: media.currentTime, playing: !media.paused };
    });
  }
}
