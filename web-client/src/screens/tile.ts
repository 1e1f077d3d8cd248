// One person's tile: video (or their initial when the camera is off), name, role, mute and
// paused badges, connection quality. A remote tile tells the room the size it renders at, so
// the SFU sends the simulcast layer that fits, and asks for no video while it is off-screen.

import type { Quality } from '../engine/quality';
import { type MessageKey, t } from '../i18n';
import type { PartyKind, PauseReason, Role, Side } from '../signal/messages';
import { h } from './dom';

export interface TileState {
  name: string;
  role: Role | null;
  isSelf: boolean;
  audioMuted: boolean;
  videoMuted: boolean;
  speaking: boolean;
  quality: Quality;
  /** What the server says about them being away or reconnecting. */
  paused?: PauseReason;
  handRaised?: boolean;
  /** For parties: which side, and whether they act for someone (代理人, 翻译). */
  side?: Side;
  kind?: PartyKind;
  /** The server sends us no video now: their initial stands in for a frozen picture. */
  audioOnly?: boolean;
}

export class Tile {
  readonly el: HTMLElement;
  private readonly video: HTMLVideoElement;
  private readonly label: HTMLElement;
  private readonly badges: HTMLElement;
  private readonly qualityEl: HTMLElement;
  private videoTrack: MediaStreamTrack | null = null;
  private paused = false;
  private visible = true;
  private readonly resize: ResizeObserver;
  private readonly intersection: IntersectionObserver;
  /** performance.now() of the first decoded frame, for the join → first frame benchmark. */
  firstFrameAt: number | null = null;

  constructor(
    readonly id: string,
    /** Where the rendered size goes (remote tiles only). */
    private readonly reportSize: ((width: number, height: number, visible: boolean) => void) | null,
    private readonly maxPixelRatio = Infinity,
  ) {
    this.video = h('video', { autoplay: true, playsinline: true });
    this.video.muted = true; // sound plays from separate audio elements that survive re-layout
    this.label = h('span', { class: 'tile-name' });
    this.badges = h('span', { class: 'tile-badges' });
    this.qualityEl = h('span', { class: 'tile-quality', 'data-testid': 'tile-quality' });
    this.el = h('div', { class: 'tile', 'data-participant-id': id, 'data-testid': 'tile' }, [
      this.video,
      h('div', { class: 'tile-avatar', 'aria-hidden': 'true' }),
      h('div', { class: 'tile-footer' }, [this.label, this.badges, this.qualityEl]),
    ]);
    this.resize = new ResizeObserver(() => this.sendSize());
    this.resize.observe(this.el);
    this.intersection = new IntersectionObserver((entries) => {
      this.visible = entries.some((e) => e.isIntersecting);
      this.sendSize();
    });
    this.intersection.observe(this.el);
  }

  setVideo(track: MediaStreamTrack | null, mirrored = false): void {
    this.el.classList.toggle('mirrored', mirrored);
    if (track === this.videoTrack) return;
    this.videoTrack = track;
    this.video.srcObject = track ? new MediaStream([track]) : null;
    if (track) {
      // A remote track goes "muted" when its RTP stops: the publisher's phone put the page in
      // the background or took a call. Show "paused" rather than a frozen picture.
      track.onmute = () => this.setPaused(true);
      track.onunmute = () => this.setPaused(false);
      this.setPaused(track.muted && !!this.reportSize);
      this.watchFirstFrame();
      void this.video.play().catch(() => {});
    }
    this.sendSize();
  }

  update(state: TileState): void {
    this.el.dataset.audioMuted = String(state.audioMuted);
    this.el.dataset.videoMuted = String(state.videoMuted);
    this.el.dataset.audioOnly = String(state.audioOnly === true);
    this.el.classList.toggle('speaking', state.speaking);
    this.el.classList.toggle('video-off', state.videoMuted || !this.videoTrack || state.audioOnly === true);
    const avatar = this.el.querySelector('.tile-avatar');
    if (avatar) avatar.textContent = Array.from(state.name)[0] ?? '?';
    const role = describe(state);
    this.label.textContent = state.isSelf ? `${state.name}（${t('room.you')}）` : role ? `${state.name} · ${role}` : state.name;
    const badges: HTMLElement[] = [];
    if (state.handRaised) badges.push(h('span', { class: 'badge hand', 'data-testid': 'hand-badge', text: t('room.handRaised') }));
    if (state.audioMuted) badges.push(h('span', { class: 'badge muted', 'data-testid': 'muted-badge', text: t('room.muted') }));
    // Without video sent to us (audio only) their track goes quiet too: that is not them pausing.
    const stalled = this.paused && !state.audioOnly;
    if (state.paused === 'reconnecting') {
      badges.push(h('span', { class: 'badge paused', 'data-testid': 'reconnecting-badge', text: t('room.participantReconnecting') }));
    } else if (state.paused === 'away' || stalled) {
      badges.push(h('span', { class: 'badge paused', 'data-testid': 'paused-badge', text: t('room.paused') }));
    }
    this.el.classList.toggle('paused', stalled || !!state.paused);
    this.badges.replaceChildren(...badges);
    this.qualityEl.dataset.quality = state.quality;
    this.qualityEl.title = t(`quality.${state.quality}` as MessageKey);
    this.qualityEl.setAttribute('aria-label', this.qualityEl.title);
    this.lastState = state;
  }

  private lastState: TileState | null = null;

  private setPaused(paused: boolean): void {
    if (this.paused === paused) return;
    this.paused = paused;
    this.el.classList.toggle('paused', paused);
    if (this.lastState) this.update(this.lastState);
  }

  private watchFirstFrame(): void {
    const video = this.video as HTMLVideoElement & {
      requestVideoFrameCallback?: (cb: (now: number) => void) => number;
    };
    if (this.firstFrameAt !== null) return;
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback((now) => (this.firstFrameAt ??= now));
    else video.addEventListener('loadeddata', () => (this.firstFrameAt ??= performance.now()), { once: true });
  }

  /**
   * Device pixels, as the SFU compares them with its layers' sizes. On phones the ratio is
   * capped (`maxPixelRatio`): a party on weak 4G is better served by a smooth lower layer than
   * by a sharp one that stalls, and a small phone tile hardly shows the difference.
   */
  private sendSize(): void {
    if (!this.reportSize || !this.videoTrack) return;
    const dpr = Math.min(window.devicePixelRatio || 1, this.maxPixelRatio);
    const width = Math.round(this.el.clientWidth * dpr);
    const height = Math.round(this.el.clientHeight * dpr);
    const shown = this.visible && width > 0 && height > 0 && document.visibilityState === 'visible';
    this.reportSize(width, height, shown);
  }

  /** Re-reports the size (after the page becomes visible again). */
  refresh(): void {
    this.sendSize();
  }

  dispose(): void {
    this.resize.disconnect();
    this.intersection.disconnect();
    this.video.srcObject = null;
    this.el.remove();
  }
}

/** "申请人", "申请人 · 代理人", "调解员": in a mediation the side says more than "当事人". */
function describe(state: TileState): string {
  if (!state.role) return '';
  if (state.role !== 'party' || !state.side) return t(`role.${state.role}` as MessageKey);
  const side = t(`side.${state.side}` as MessageKey);
  const helper = state.kind && state.kind !== 'person' && state.kind !== 'organisation';
  return helper ? `${side} · ${t(`kind.${state.kind}` as MessageKey)}` : side;
}
