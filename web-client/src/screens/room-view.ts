// The room: tiles laid out for 1:1 (other person large, us small and draggable), or a grid for
// more people, or one pinned person large with the others in a strip; the controls a thumb
// can hit; a banner while reconnecting.

import type { Facing } from '../media/devices';
import { openCamera } from '../media/devices';
import type { Quality } from '../engine/quality';
import { t } from '../i18n';
import type { RemoteParticipant, Room } from '../room/room';
import { h } from './dom';
import { bestGrid, layoutMode } from './layout';
import { Tile } from './tile';

const SELF = 'self';

export interface RoomViewOptions {
  room: Room;
  stream: MediaStream | null;
  facing: Facing;
  phone: boolean;
  onLeft: () => void;
}

export class RoomView {
  readonly tiles = new Map<string, Tile>();
  private readonly audio = new Map<string, HTMLAudioElement>();
  private readonly stage = h('div', { class: 'stage', 'data-testid': 'stage' });
  private readonly strip = h('div', { class: 'strip' });
  private readonly banner = h('div', { class: 'banner', hidden: true, role: 'status', 'data-testid': 'banner' });
  private readonly audioBox = h('div', { hidden: true });
  private readonly controls = h('nav', { class: 'controls' });
  private pinned: string | null = null;
  private audioMuted = false;
  private videoMuted = false;
  private facing: Facing;
  private readonly relayout = new ResizeObserver(() => this.layout());

  constructor(
    root: HTMLElement,
    private readonly options: RoomViewOptions,
  ) {
    this.facing = options.facing;
    const room = options.room;
    this.videoMuted = !options.stream?.getVideoTracks().length;
    this.audioMuted = !options.stream?.getAudioTracks().length;
    const self = new Tile(SELF, null);
    self.setVideo(options.stream?.getVideoTracks()[0] ?? null, this.facing === 'user');
    this.tiles.set(SELF, self);
    this.stage.append(self.el, this.strip);
    this.enableDragging(self.el);
    root.replaceChildren(h('main', { class: 'room', 'data-testid': 'room' }, [this.banner, this.stage, this.controls, this.audioBox]));
    this.relayout.observe(this.stage);

    room.on('participants', () => this.sync());
    room.on('participantUpdated', (p) => this.refresh(p));
    room.on('activeSpeaker', () => this.refreshAll());
    room.on('selfQuality', (quality) => {
      this.selfQuality = quality;
      this.refreshSelf();
    });
    room.on('phase', (phase) => {
      this.banner.hidden = phase === 'connected';
      this.banner.textContent = phase === 'reconnecting' ? t('room.reconnecting') : t('room.connecting');
    });
    document.addEventListener('visibilitychange', this.onVisibility);
    this.renderControls();
    this.sync();
  }

  dispose(): void {
    document.removeEventListener('visibilitychange', this.onVisibility);
    this.relayout.disconnect();
    for (const tile of this.tiles.values()) tile.dispose();
    for (const el of this.audio.values()) el.srcObject = null;
  }

  /** Redraws every text after a language change. */
  rerenderText(): void {
    this.renderControls();
    this.refreshAll();
    this.layout();
  }

  /** Coming back to the page: phones may have paused audio output; sizes matter again. */
  private readonly onVisibility = () => {
    if (document.visibilityState !== 'visible') return;
    for (const el of this.audio.values()) void el.play().catch(() => {});
    for (const tile of this.tiles.values()) tile.refresh();
  };

  private sync(): void {
    const room = this.options.room;
    const present = new Set(room.list().map((p) => p.info.id));
    for (const [id, tile] of this.tiles) {
      if (id === SELF || present.has(id)) continue;
      tile.dispose();
      this.tiles.delete(id);
      this.audio.get(id)?.remove();
      this.audio.delete(id);
      if (this.pinned === id) this.pinned = null;
    }
    for (const participant of room.list()) {
      if (!this.tiles.has(participant.info.id)) {
        const tile = new Tile(participant.info.id, (width, height, visible) => {
          const media = room.mediaOf(participant, 'camera');
          if (media) room.engine.setTrackSettings(media.trackId, width, height, visible);
        }, this.options.phone ? 1 : Infinity);
        tile.el.addEventListener('click', () => this.togglePin(participant.info.id));
        this.tiles.set(participant.info.id, tile);
        this.stage.insertBefore(tile.el, this.strip);
      }
      this.refresh(participant);
    }
    this.refreshSelf();
    this.layout();
  }

  private refresh(participant: RemoteParticipant): void {
    const room = this.options.room;
    const tile = this.tiles.get(participant.info.id);
    if (!tile) return;
    tile.setVideo(room.mediaOf(participant, 'camera')?.track ?? null);
    tile.update({
      name: participant.info.name,
      role: participant.info.role,
      isSelf: false,
      audioMuted: room.isMuted(participant, 'microphone'),
      videoMuted: room.isMuted(participant, 'camera'),
      speaking: room.activeSpeaker === participant.info.id,
      quality: participant.quality,
      paused: participant.info.paused,
    });
    this.playAudio(participant.info.id, room.mediaOf(participant, 'microphone')?.track ?? null);
  }

  private refreshAll(): void {
    for (const participant of this.options.room.list()) this.refresh(participant);
    this.refreshSelf();
  }

  private selfQuality: Quality = 'unknown';

  private refreshSelf(): void {
    const room = this.options.room;
    this.tiles.get(SELF)?.update({
      name: room.self?.name ?? '',
      role: room.self?.role ?? null,
      isSelf: true,
      audioMuted: this.audioMuted,
      videoMuted: this.videoMuted,
      speaking: !!room.self && room.activeSpeaker === room.self.id,
      quality: this.selfQuality,
    });
  }

  private playAudio(id: string, track: MediaStreamTrack | null): void {
    let el = this.audio.get(id);
    if (!track) {
      el?.remove();
      this.audio.delete(id);
      return;
    }
    if (!el) {
      el = h('audio', { autoplay: true });
      this.audio.set(id, el);
      this.audioBox.append(el);
    }
    if ((el.srcObject as MediaStream | null)?.getTracks()[0] !== track) {
      el.srcObject = new MediaStream([track]);
      void el.play().catch(() => {});
    }
  }

  private togglePin(id: string): void {
    this.pinned = this.pinned === id ? null : id;
    this.layout();
  }

  /** Places every tile for the current mode and stage size. */
  private layout(): void {
    const remotes = [...this.tiles.keys()].filter((id) => id !== SELF);
    const mode = layoutMode(remotes.length, this.pinned !== null);
    this.stage.dataset.layout = mode;
    const self = this.tiles.get(SELF);
    for (const [id, tile] of this.tiles) {
      tile.el.classList.toggle('pip', mode === 'one-to-one' && id === SELF);
      tile.el.classList.toggle('pinned', id === this.pinned);
      tile.el.classList.toggle('in-strip', mode === 'spotlight' && id !== this.pinned);
      tile.el.style.width = '';
      tile.el.style.height = '';
      tile.el.style.order = id === SELF ? '1' : '0';
      if (mode === 'spotlight' && id !== this.pinned) this.strip.append(tile.el);
      else if (tile.el.parentElement !== this.stage) this.stage.insertBefore(tile.el, this.strip);
    }
    if (mode !== 'one-to-one' && self) {
      self.el.style.left = '';
      self.el.style.top = '';
    }
    if (mode === 'grid' || mode === 'alone') {
      const count = this.tiles.size;
      const rect = this.stage.getBoundingClientRect();
      const portrait = rect.height > rect.width;
      const shape = bestGrid(count, rect.width - 12, rect.height - 12, portrait ? 3 / 4 : 4 / 3);
      for (const tile of this.tiles.values()) {
        tile.el.style.width = `${Math.floor(shape.tileWidth)}px`;
        tile.el.style.height = `${Math.floor(shape.tileHeight)}px`;
      }
    }
    this.stage.classList.toggle('waiting', mode === 'alone');
    this.stage.dataset.waitingText = t('room.waiting');
  }

  private renderControls(): void {
    const button = (testId: string, label: string, active: boolean, run: () => void) =>
      h('button', { type: 'button', class: `control${active ? ' off' : ''}`, 'data-testid': testId, 'aria-pressed': String(active), text: label, onclick: run });
    const stream = this.options.stream;
    this.controls.replaceChildren(
      button('toggle-mic', this.audioMuted ? t('room.unmute') : t('room.mute'), this.audioMuted, () => this.toggle('microphone')),
      button('toggle-camera', this.videoMuted ? t('room.cameraOn') : t('room.cameraOff'), this.videoMuted, () => this.toggle('camera')),
      this.options.phone && stream?.getVideoTracks().length
        ? button('switch-camera', t('room.switchCamera'), false, () => void this.switchCamera())
        : '',
      h('button', { type: 'button', class: 'control leave', 'data-testid': 'leave', text: t('room.leave'), onclick: () => void this.leave() }),
    );
    if (!stream?.getAudioTracks().length) this.controls.querySelector<HTMLButtonElement>('[data-testid=toggle-mic]')?.setAttribute('disabled', '');
    if (!stream?.getVideoTracks().length) this.controls.querySelector<HTMLButtonElement>('[data-testid=toggle-camera]')?.setAttribute('disabled', '');
  }

  private toggle(source: 'microphone' | 'camera'): void {
    if (source === 'microphone') this.audioMuted = !this.audioMuted;
    else this.videoMuted = !this.videoMuted;
    this.options.room.engine.setMuted(source, source === 'microphone' ? this.audioMuted : this.videoMuted);
    this.renderControls();
    this.refreshSelf();
  }

  private async switchCamera(): Promise<void> {
    const stream = this.options.stream;
    if (!stream) return;
    this.facing = this.facing === 'user' ? 'environment' : 'user';
    for (const old of stream.getVideoTracks()) {
      old.stop();
      stream.removeTrack(old);
    }
    const track = await openCamera(this.facing, this.options.phone);
    track.enabled = !this.videoMuted;
    stream.addTrack(track);
    await this.options.room.engine.replaceVideoTrack(track);
    this.tiles.get(SELF)?.setVideo(track, this.facing === 'user');
  }

  private async leave(): Promise<void> {
    if (!window.confirm(t('room.leaveConfirm'))) return;
    await this.options.room.leave();
    for (const track of this.options.stream?.getTracks() ?? []) track.stop();
    this.options.onLeft();
  }

  /** Our own small tile in 1:1 can be moved out of the way of the other person's face. */
  private enableDragging(el: HTMLElement): void {
    let start: { x: number; y: number; left: number; top: number } | null = null;
    el.addEventListener('pointerdown', (ev) => {
      if (!el.classList.contains('pip')) return;
      start = { x: ev.clientX, y: ev.clientY, left: el.offsetLeft, top: el.offsetTop };
      el.setPointerCapture(ev.pointerId);
    });
    el.addEventListener('pointermove', (ev) => {
      if (!start) return;
      const parent = this.stage.getBoundingClientRect();
      const left = Math.min(Math.max(0, start.left + ev.clientX - start.x), parent.width - el.offsetWidth);
      const top = Math.min(Math.max(0, start.top + ev.clientY - start.y), parent.height - el.offsetHeight);
      el.style.left = `${left}px`;
      el.style.top = `${top}px`;
      el.style.right = 'auto';
      el.style.bottom = 'auto';
    });
    const end = () => (start = null);
    el.addEventListener('pointerup', end);
    el.addEventListener('pointercancel', end);
  }
}
