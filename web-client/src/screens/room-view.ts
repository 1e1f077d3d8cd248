// The room: tiles laid out for 1:1 (other person large, us small and draggable), or a grid for
// more people, or one pinned person large with the others in a strip; the controls a thumb
// can hit; a banner while reconnecting. In a case session also: where we are (joint room or a
// side's private room), raising a hand, the chat and evidence panel, and for a mediator the
// console. Only the people in our space get tiles.

import type { Facing } from '../media/devices';
import { openCamera } from '../media/devices';
import type { Quality } from '../engine/quality';
import { t } from '../i18n';
import type { RemoteParticipant, Room } from '../room/room';
import type { RoomApi } from '../room/room-api';
import { AgreementPanel } from '../agreement/room-panel';
import { tokenFromLocation } from '../link';
import { ChatPanel } from './chat-panel';
import { AudioOnlyBanner, MyHealth } from './connection-health';
import { h } from './dom';
import { bestGrid, layoutMode } from './layout';
import { enablePipDragging } from './pip-drag';
import { ModeratorPanel } from './moderator-panel';
import { RecordingBadge, RecordingNoticeBanner, reopenRecordingNotice, showRecording } from './recording-notice';
import { ScreenShare } from './screen-share';
import { showSessionNotices } from './session-notices';
import { SpaceBanner } from './space-banner';
import { languageSwitch, relabelLanguageSwitch } from './header';
import { Tile } from './tile';
import { Toasts } from './toast';

const SELF = 'self';

export interface RoomViewOptions {
  room: Room;
  api: RoomApi;
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
  private readonly spaceBanner: SpaceBanner;
  /** Where we are and how our link is, in one bar coloured by the space. */
  private readonly top = h('div', { class: 'room-top' });
  /** Like every other screen's: a party may be more at ease in the other language. */
  private readonly languageSwitch = languageSwitch();
  private readonly myHealth: MyHealth;
  private readonly audioOnlyBanner: AudioOnlyBanner;
  private readonly chat: ChatPanel;
  private readonly console: ModeratorPanel;
  /** The agreement being drafted (a case session only: it needs the join token's case). */
  private readonly agreement: AgreementPanel | null;
  private readonly agreementButton = h('button', { type: 'button', class: 'control toggle agreement-open', 'data-testid': 'agreement-open', hidden: true });
  private readonly toasts = new Toasts();
  private readonly stopNotices: () => void;
  private readonly recordingNotice: RecordingNoticeBanner;
  private readonly recordingBadge: RecordingBadge;
  private readonly stopRecordingNotices: () => void;
  private pinned: string | null = null;
  private audioMuted = false;
  private videoMuted = false;
  private facing: Facing;
  private readonly screenShare: ScreenShare;
  /** Who shares a screen now: a new share is pinned large once, not again after an unpin. */
  private readonly sharing = new Set<string>();
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
    enablePipDragging(self.el, this.stage);
    this.spaceBanner = new SpaceBanner(room);
    this.myHealth = new MyHealth(room.network);
    this.recordingNotice = new RecordingNoticeBanner(room);
    this.recordingBadge = new RecordingBadge(room, () => reopenRecordingNotice(room, this.recordingNotice));
    // First in the top bar, which no tile, drawer or chat covers on any layout.
    this.top.append(this.recordingBadge.el, this.spaceBanner.el, this.myHealth.el, this.languageSwitch);
    this.audioOnlyBanner = new AudioOnlyBanner(room.network);
    this.screenShare = new ScreenShare(room, () => this.renderControls(), () => this.toasts.show(t('room.shareFailed'), { testId: 'toast-share-failed' }));
    this.chat = new ChatPanel(room, options.api, options.phone, () => this.renderControls());
    this.console = new ModeratorPanel(room, () => this.togglePanel('console', false));
    // The token is still in the address (the join link's fragment); the agreement's HTTP calls need it.
    const token = tokenFromLocation(location);
    this.agreement = token ? new AgreementPanel(room, token, options.phone, () => this.renderAgreementButton()) : null;
    this.agreementButton.addEventListener('click', () => this.togglePanel('agreement', !this.agreement?.opened));
    this.top.append(this.agreementButton);
    root.replaceChildren(
      h('main', { class: `room${options.phone ? ' phone' : ''}`, 'data-testid': 'room' }, [
        this.banner,
        this.top,
        this.audioOnlyBanner.el,
        h('div', { class: 'room-body' }, [this.stage, this.chat.el, this.console.el, this.agreement?.el ?? null, this.toasts.el]),
        this.controls,
        this.audioBox,
        this.recordingNotice.el,
      ]),
    );
    this.relayout.observe(this.stage);
    // A desktop mediator keeps the console beside the video; on a phone it would hide it.
    if (room.moderator && !options.phone) this.console.setOpen(true);
    this.stopNotices = showSessionNotices(room, this.toasts, {
      canTurnOn: (source) => !!(source === 'microphone' ? options.stream?.getAudioTracks() : options.stream?.getVideoTracks())?.length,
      stopScreen: () => this.screenShare.stop(),
    });
    const recordingToast = (text: string, sticky: boolean) => this.toasts.show(text, { testId: 'toast-recording', key: 'recording', sticky });
    this.stopRecordingNotices = showRecording(room, this.recordingBadge, this.recordingNotice, (notice) => recordingToast(t(notice.key), false));
    // Someone admitted while it runs (or after a pause was announced) reads what the others
    // were told; a countdown still running is shown and heard in full.
    const last = room.lastRecordingNotice;
    if (last?.kind === 'starting' && room.recording?.state === 'starting') this.recordingNotice.show(last, true);
    else if (last && room.recording) recordingToast(t(last.key), true);

    room.on('session', () => {
      this.renderAgreementButton();
      this.updateTop();
      this.renderControls();
      this.refreshSelf();
      this.layout();
    });
    room.on('localMute', ({ source, muted }) => {
      if (source === 'microphone') this.audioMuted = muted;
      else if (source === 'camera') this.videoMuted = muted;
      this.renderControls();
      this.refreshSelf();
    });
    room.on('participants', () => this.sync());
    room.on('participantUpdated', (p) => this.refresh(p));
    room.on('activeSpeaker', () => this.refreshAll());
    room.on('selfQuality', (quality) => {
      this.selfQuality = quality;
      this.refreshSelf();
    });
    room.network.on('link', () => this.myHealth.update());
    room.network.on('audioOnly', () => {
      this.audioOnlyBanner.update();
      this.refreshAll();
    });
    room.network.on('saveData', () => this.renderControls());
    room.on('phase', (phase) => {
      this.banner.hidden = phase === 'connected';
      this.banner.textContent = phase === 'reconnecting' ? t('room.reconnecting') : t('room.connecting');
    });
    document.addEventListener('visibilitychange', this.onVisibility);
    this.updateTop();
    this.myHealth.update();
    this.audioOnlyBanner.update();
    this.renderControls();
    this.sync();
  }

  dispose(): void {
    document.removeEventListener('visibilitychange', this.onVisibility);
    this.relayout.disconnect();
    this.stopNotices();
    this.stopRecordingNotices();
    this.toasts.clear();
    this.chat.dispose();
    this.agreement?.dispose();
    this.screenShare.stop();
    for (const tile of this.tiles.values()) tile.dispose();
    for (const el of this.audio.values()) el.srcObject = null;
  }

  /** Redraws every text after a language change. */
  rerenderText(): void {
    relabelLanguageSwitch(this.languageSwitch);
    this.recordingBadge.update();
    this.recordingNotice.render();
    this.updateTop();
    this.myHealth.update();
    this.audioOnlyBanner.update();
    this.chat.render();
    this.console.render();
    this.agreement?.render();
    this.renderAgreementButton();
    this.renderControls();
    this.refreshAll();
    this.layout();
  }

  private updateTop(): void {
    const room = this.options.room;
    this.spaceBanner.update();
    this.top.dataset.space = room.session === null ? '' : room.space;
  }

  /** Coming back to the page: phones may have paused audio output; sizes matter again. */
  private readonly onVisibility = () => {
    if (document.visibilityState !== 'visible') return;
    for (const el of this.audio.values()) void el.play().catch(() => {});
    for (const tile of this.tiles.values()) tile.refresh();
  };

  private sync(): void {
    const room = this.options.room;
    const here = room.present();
    const present = new Set(here.map((p) => p.info.id));
    for (const [id, tile] of this.tiles) {
      if (id === SELF || present.has(id)) continue;
      tile.dispose();
      this.tiles.delete(id);
      this.audio.get(id)?.remove();
      this.audio.delete(id);
      this.sharing.delete(id);
      if (this.pinned === id) this.pinned = null;
    }
    for (const participant of here) {
      const id = participant.info.id;
      if (!this.tiles.has(id)) {
        const tile = new Tile(id, (width, height, visible) => this.reportSize(id, width, height, visible), this.options.phone ? 1 : Infinity);
        tile.el.addEventListener('click', () => this.togglePin(id));
        this.tiles.set(id, tile);
        this.stage.insertBefore(tile.el, this.strip);
      }
      this.refresh(participant);
    }
    this.refreshSelf();
    this.layout();
  }

  /**
   * A shared screen takes the tile's place of the camera, at the tile's size; the camera is
   * then not wanted at all, which saves the sharer's uplink and our downlink.
   */
  private reportSize(id: string, width: number, height: number, visible: boolean): void {
    const room = this.options.room;
    const participant = room.participants.get(id);
    if (!participant) return;
    const screen = room.mediaOf(participant, 'screen');
    const camera = room.mediaOf(participant, 'camera');
    if (screen) room.engine.setTrackSettings(screen.trackId, width, height, visible);
    if (camera) room.engine.setTrackSettings(camera.trackId, width, height, visible && !screen);
  }

  private refresh(participant: RemoteParticipant): void {
    const room = this.options.room;
    const id = participant.info.id;
    const tile = this.tiles.get(id);
    if (!tile) return;
    const screen = room.mediaOf(participant, 'screen')?.track ?? null;
    tile.setVideo(screen ?? room.mediaOf(participant, 'camera')?.track ?? null);
    tile.el.classList.toggle('screen', !!screen);
    if (screen && !this.sharing.has(id)) {
      this.sharing.add(id);
      if (this.pinned === null) this.togglePin(id);
    } else if (!screen) this.sharing.delete(id);
    tile.update({
      name: participant.info.name,
      role: participant.info.role,
      isSelf: false,
      audioMuted: room.isMuted(participant, 'microphone'),
      videoMuted: room.isMuted(participant, 'camera') && !screen,
      speaking: room.activeSpeaker === id,
      quality: participant.quality,
      paused: participant.info.paused,
      handRaised: participant.info.hand_raised === true,
      side: participant.info.side,
      kind: participant.info.kind,
      audioOnly: room.network.audioOnly.active,
    });
    this.playAudio(id, room.mediaOf(participant, 'microphone')?.track ?? null);
  }

  private refreshAll(): void {
    for (const participant of this.options.room.present()) this.refresh(participant);
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
      handRaised: room.handRaised,
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
    const room = this.options.room;
    // While the mediator is away, the space banner says so; saying it here too was twice.
    this.stage.dataset.waitingText = !room.moderator && room.mediatorElsewhere() ? '' : t('room.waiting');
  }

  private renderControls(): void {
    const room = this.options.room;
    const button = (testId: string, label: string, active: boolean, run: () => void, extra = '') =>
      h('button', { type: 'button', class: `control${active ? ' off' : ''}${extra}`, 'data-testid': testId, 'aria-pressed': String(active), text: label, onclick: run });
    const stream = this.options.stream;
    const session = room.session !== null;
    const unread = room.log.unread;
    const chatButton = session ? button('chat-open', t('room.chat'), false, () => this.togglePanel('chat', !this.chat.opened), ' toggle') : null;
    chatButton?.setAttribute('aria-pressed', String(this.chat.opened));
    if (chatButton && unread > 0 && !this.chat.opened) {
      chatButton.append(h('span', { class: 'unread', 'data-testid': 'chat-unread', 'aria-label': t('chat.unread', { count: String(unread) }), text: unread > 99 ? '99+' : String(unread) }));
    }
    const consoleButton = room.moderator ? button('moderator-open', t('room.console'), false, () => this.togglePanel('console', !this.console.opened), ' toggle') : null;
    consoleButton?.setAttribute('aria-pressed', String(this.console.opened));
    if (consoleButton && room.waitingList.length > 0) {
      consoleButton.append(h('span', { class: 'unread', 'data-testid': 'waiting-count', text: String(room.waitingList.length) }));
    }
    const saveData = room.network.saveData;
    const saveDataButton = button('save-data-toggle', t('room.saveData'), false, () => room.network.setSaveData(!saveData), ' toggle');
    saveDataButton.setAttribute('aria-pressed', String(saveData));
    saveDataButton.title = t('room.saveDataHint');
    const canShare = !this.options.phone && ScreenShare.supported();
    const sharing = this.screenShare.active;
    this.controls.replaceChildren(
      ...[
        button('toggle-mic', this.audioMuted ? t('room.unmute') : t('room.mute'), this.audioMuted, () => this.toggle('microphone')),
        button('toggle-camera', this.videoMuted ? t('room.cameraOn') : t('room.cameraOff'), this.videoMuted, () => this.toggle('camera')),
        this.options.phone && stream?.getVideoTracks().length ? button('switch-camera', t('room.switchCamera'), false, () => void this.switchCamera()) : null,
        session ? button('raise-hand', room.handRaised ? t('room.lowerHand') : t('room.raiseHand'), false, () => room.raiseHand(!room.handRaised), room.handRaised ? ' raised' : '') : null,
        chatButton,
        canShare ? button('screen-share', sharing ? t('room.stopShare') : t('room.shareScreen'), false, () => void this.screenShare.toggle(), sharing ? ' sharing' : '') : null,
        consoleButton,
        saveDataButton,
        h('button', { type: 'button', class: 'control leave', 'data-testid': 'leave', text: t('room.leave'), onclick: () => void this.leave() }),
      ].filter((el): el is HTMLButtonElement => el !== null),
    );
    this.controls.querySelector('[data-testid=raise-hand]')?.setAttribute('aria-pressed', String(room.handRaised));
    this.controls.querySelector('[data-testid=screen-share]')?.setAttribute('aria-pressed', String(sharing));
    if (!stream?.getAudioTracks().length) this.controls.querySelector<HTMLButtonElement>('[data-testid=toggle-mic]')?.setAttribute('disabled', '');
    if (!stream?.getVideoTracks().length) this.controls.querySelector<HTMLButtonElement>('[data-testid=toggle-camera]')?.setAttribute('disabled', '');
  }

  /** One side panel at a time on a phone: each covers most of the screen there. */
  private togglePanel(panel: 'chat' | 'console' | 'agreement', open: boolean): void {
    if (panel === 'chat') this.chat.setOpen(open);
    else if (panel === 'console') this.console.setOpen(open);
    else this.agreement?.setOpen(open);
    if (open && this.options.phone) {
      if (panel !== 'chat') this.chat.setOpen(false);
      if (panel !== 'console') this.console.setOpen(false);
      if (panel !== 'agreement' && this.agreement?.opened) this.agreement.setOpen(false);
    }
    this.renderControls();
    this.renderAgreementButton();
  }

  /** In the top bar, which nothing covers: shown once there is an agreement (or to a mediator). */
  private renderAgreementButton(): void {
    const panel = this.agreement;
    const button = this.agreementButton;
    button.hidden = !panel?.available;
    if (!panel) return;
    const fresh = panel.unseen && !panel.opened;
    button.textContent = fresh ? t('agreement.openNew') : t('agreement.open');
    button.classList.toggle('fresh', fresh);
    button.setAttribute('aria-pressed', String(panel.opened));
  }

  private toggle(source: 'microphone' | 'camera'): void {
    const muted = source === 'microphone' ? !this.audioMuted : !this.videoMuted;
    this.options.room.setMuted(source, muted);
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
}
