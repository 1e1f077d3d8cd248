// The player on the review page: every video track in a grid, the mixed audio as the master
// clock, one set of controls (play/pause, a seek bar with the pauses and unrecorded private
// rooms marked, 1× / 1.5× / 2×). Media elements are made once per recording and kept across
// redraws (a language change), so playback never restarts; only their URLs are swapped when
// the server hands out fresh tickets.

import { hasMessage, t } from '../i18n';
import { h } from '../screens/dom';
import type { RecordedTrack, RecordingDetail } from './api';
import { AudioClock, KeptClock, type MasterClock, SPEEDS, SyncPlayer, type Tile, type TileState } from './sync';
import { barMarks, formatClock, unrecordedAt } from './timeline';

/** How often the tiles are checked against the master clock. */
const TICK_MS = 200;

/** The recording's length: the server's, or for a recording still running, its furthest track. */
export function durationOf(detail: Pick<RecordingDetail, 'duration_ms' | 'tracks' | 'mixed_audio'>): number {
  if (detail.duration_ms !== null) return detail.duration_ms / 1000;
  const ends = [...detail.tracks.map((track) => track.end_ms), detail.mixed_audio?.end_ms ?? 0];
  return Math.max(0, ...ends) / 1000;
}

/** Whose track it is, as a caption says it: the name, and the role in the room in words. */
export function trackOwner(track: Pick<RecordedTrack, 'participant_name' | 'participant_id' | 'role'>): string {
  const name = track.participant_name ?? track.participant_id;
  if (!track.role) return name;
  const key = `role.${track.role}`;
  return `${name} · ${hasMessage(key) ? t(key) : track.role}`;
}

/** What the browser test reads (`window.ACCORD.review`). */
export interface ReviewSnapshot {
  masterTime: number;
  duration: number;
  playing: boolean;
  speed: number;
  /** Each tile, with the frames its video decoded so far (0 for audio). */
  tiles: (TileState & { framesDecoded: number })[];
}

/** A player for one recording; `element()` is redrawn in place, the media inside it are not. */
export class PlayerView {
  private readonly player: SyncPlayer;
  private readonly videos = new Map<string, HTMLVideoElement>();
  private readonly audios = new Map<string, HTMLAudioElement>();
  private readonly mixed: HTMLAudioElement | null;
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly listeners = new Set<() => void>();
  private dragging = false;
  /** While new URLs load, the master's position is not trusted (it reads 0). */
  private swapping = false;
  private root: HTMLElement | null = null;
  /** Whether the current root has been in the page: one that left it means the page was left. */
  private rootShown = false;
  /** The drawn tiles by track name, to show who is not in the room yet or has left. */
  private figures = new Map<string, HTMLElement>();

  constructor(private detail: RecordingDetail) {
    this.mixed = detail.mixed_audio ? mediaElement('audio', detail.mixed_audio.url, false) : null;
    // Without mixed audio each audio track plays for itself, kept in step like a video.
    const audible = detail.mixed_audio ? [] : detail.tracks.filter((track) => track.kind === 'audio');
    for (const track of detail.tracks.filter((tr) => tr.kind === 'video')) this.videos.set(track.name, mediaElement('video', track.url, true));
    for (const track of audible) this.audios.set(track.name, mediaElement('audio', track.url, false));
    const master: MasterClock =
      this.mixed && detail.mixed_audio ? new AudioClock(this.mixed, detail.mixed_audio.start_ms / 1000) : new KeptClock();
    const tileOf = (track: RecordedTrack, media: HTMLMediaElement): Tile => ({
      name: track.name,
      startMs: track.start_ms,
      endMs: track.end_ms,
      media,
    });
    const tiles = detail.tracks.flatMap((track) => {
      const media = this.videos.get(track.name) ?? this.audios.get(track.name);
      return media ? [tileOf(track, media)] : [];
    });
    this.player = new SyncPlayer(master, tiles, durationOf(detail));
    this.mixed?.addEventListener('ended', () => this.update());
    this.timer = setInterval(() => this.update(), TICK_MS);
  }

  /** Called after every tick (the timeline follows playback with it). */
  onTick(listener: () => void): void {
    this.listeners.add(listener);
  }

  time(): number {
    return this.player.time();
  }

  seek(seconds: number): void {
    this.player.seek(seconds);
    this.update();
  }

  snapshot(): ReviewSnapshot {
    return {
      masterTime: this.player.time(),
      duration: this.player.duration(),
      playing: this.player.playing(),
      speed: this.player.speed(),
      tiles: this.player.tileStates().map((tile) => ({
        ...tile,
        framesDecoded: this.videos.get(tile.name)?.getVideoPlaybackQuality?.().totalVideoFrames ?? 0,
      })),
    };
  }

  /** Stops playback and the clock; the page calls it when it goes away. */
  dispose(): void {
    clearInterval(this.timer);
    this.player.pause();
    for (const media of this.allMedia()) media.removeAttribute('src');
  }

  /**
   * Puts fresh ticketed URLs on every element without losing the place: position and
   * play state are noted, the sources swapped, and both restored once the master has loaded.
   */
  swapSources(detail: RecordingDetail): void {
    this.detail = detail;
    const at = this.player.time();
    const wasPlaying = this.player.playing();
    this.player.pause();
    this.swapping = true;
    const restore = () => {
      this.swapping = false;
      // Loading a new source resets an element's speed to 1×.
      this.player.setSpeed(this.player.speed());
      this.player.seek(at);
      if (wasPlaying) this.player.play();
      this.update();
    };
    for (const track of detail.tracks) {
      const media = this.videos.get(track.name) ?? this.audios.get(track.name);
      if (media) media.src = track.url;
    }
    if (this.mixed && detail.mixed_audio) {
      this.mixed.addEventListener('loadedmetadata', restore, { once: true });
      this.mixed.src = detail.mixed_audio.url;
    } else restore();
  }

  private allMedia(): HTMLMediaElement[] {
    return [...this.videos.values(), ...this.audios.values(), ...(this.mixed ? [this.mixed] : [])];
  }

  /** The player's elements, drawn anew (the media elements are moved in, not recreated). */
  element(): HTMLElement {
    this.figures = new Map();
    const tiles = this.detail.tracks.filter((track) => this.videos.has(track.name)).map((track) => this.tile(track));
    const marks = barMarks(this.detail).map((mark) => {
      const span = h('span', { class: `review-mark review-mark-${mark.kind}`, 'data-testid': `seek-mark-${mark.kind}`, title: mark.title });
      // Through the CSSOM: the page's CSP (style-src 'self') blocks a style attribute.
      span.style.left = `${mark.leftPct}%`;
      span.style.width = `${mark.widthPct}%`;
      return span;
    });
    const duration = this.player.duration();
    this.rootShown = false;
    this.root = h('div', { class: 'review-player', 'data-testid': 'review-player' }, [
      tiles.length
        ? h('div', { class: `review-grid review-grid-${Math.min(tiles.length, 4)}` }, tiles)
        : h('p', { class: 'review-no-video', 'data-testid': 'review-no-video', text: t('review.noVideo') }),
      ...(this.mixed ? [this.mixed] : []),
      ...this.audios.values(),
      h('div', { class: 'review-controls' }, [
        h('button', {
          type: 'button',
          class: 'primary review-play',
          'data-testid': 'review-play',
          onclick: () => {
            if (this.player.playing()) this.player.pause();
            else this.player.play();
            this.update();
          },
        }),
        h('span', { class: 'review-clock', 'data-testid': 'review-clock' }),
        h('div', { class: 'review-seek' }, [
          h('div', { class: 'review-marks', 'aria-hidden': 'true' }, marks),
          h('input', {
            type: 'range',
            min: 0,
            max: duration,
            step: 0.1,
            value: 0,
            'data-testid': 'review-seek',
            'aria-label': t('review.seek'),
            oninput: (event: Event) => {
              this.dragging = true;
              this.showClock(Number((event.target as HTMLInputElement).value));
            },
            onchange: (event: Event) => {
              this.dragging = false;
              this.seek(Number((event.target as HTMLInputElement).value));
            },
          }),
        ]),
        h(
          'div',
          { class: 'review-speeds', role: 'group', 'aria-label': t('review.speed') },
          SPEEDS.map((speed) =>
            h('button', {
              type: 'button',
              class: 'secondary review-speed',
              'data-testid': `review-speed-${speed}`,
              'data-speed': speed,
              text: `${speed}×`,
              onclick: () => {
                this.player.setSpeed(speed);
                this.update();
              },
            }),
          ),
        ),
      ]),
    ]);
    this.update();
    return this.root;
  }

  private tile(track: RecordedTrack): HTMLElement {
    const video = this.videos.get(track.name) as HTMLVideoElement;
    const figure = h('figure', { class: 'review-tile', 'data-testid': 'review-tile', 'data-name': track.name }, [
      video,
      h('p', { class: 'review-tile-note', 'data-testid': 'review-tile-note', hidden: true }),
      h('figcaption', {}, [
        trackOwner(track),
        track.space === 'private' ? h('span', { class: 'review-badge', text: t('review.tile.private') }) : null,
      ]),
    ]);
    this.figures.set(track.name, figure);
    return figure;
  }

  private showClock(seconds: number): void {
    const clock = this.root?.querySelector('[data-testid=review-clock]');
    if (clock) clock.textContent = `${formatClock(seconds)} / ${formatClock(this.player.duration())}`;
  }

  /** One tick: keeps the tiles in step, then shows where playback is. */
  private update(): void {
    if (this.root?.isConnected) this.rootShown = true;
    else if (this.rootShown) {
      // The page was left: nothing is to keep playing behind another page.
      this.dispose();
      return;
    }
    if (this.swapping) return;
    this.player.tick();
    const root = this.root;
    if (!root) return;
    const now = this.player.time();
    if (!this.dragging) {
      this.showClock(now);
      const seek = root.querySelector<HTMLInputElement>('[data-testid=review-seek]');
      if (seek) seek.value = String(now);
    }
    const play = root.querySelector('[data-testid=review-play]');
    if (play) play.textContent = t(this.player.playing() ? 'review.pause' : 'review.play');
    for (const button of root.querySelectorAll<HTMLElement>('.review-speed')) {
      button.setAttribute('aria-pressed', String(Number(button.dataset.speed) === this.player.speed()));
    }
    const owners = new Map(this.detail.tracks.map((track) => [track.name, track.participant_id]));
    for (const state of this.player.tileStates()) {
      const figure = this.figures.get(state.name);
      if (!figure) continue;
      const unrecorded = state.presence === 'inside' ? unrecordedAt(this.detail, owners.get(state.name) ?? '', now) : null;
      figure.dataset.presence = unrecorded ? 'unrecorded' : state.presence;
      const note = figure.querySelector<HTMLElement>('.review-tile-note');
      if (note) {
        note.hidden = state.presence === 'inside' && !unrecorded;
        note.textContent =
          unrecorded ?? (state.presence === 'before' ? t('review.tile.before') : state.presence === 'after' ? t('review.tile.after') : '');
      }
    }
    for (const listener of this.listeners) listener();
  }
}

function mediaElement(kind: 'audio', url: string, muted: boolean): HTMLAudioElement;
function mediaElement(kind: 'video', url: string, muted: boolean): HTMLVideoElement;
function mediaElement(kind: 'audio' | 'video', url: string, muted: boolean): HTMLMediaElement {
  const media = h(kind, { preload: 'auto', playsinline: true, src: url });
  // The property, not only the attribute: autoplay rules look at it.
  media.muted = muted;
  return media;
}
