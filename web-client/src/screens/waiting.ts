// The waiting room: the person sees themselves (so they can fix their hair and their light
// before they are seen) and is told plainly that the mediator will let them in. The page
// switches to the room by itself when `joined` arrives. The recording notice reaches them
// here too: they are told before they are seen.

import type { Facing } from '../media/devices';
import { t } from '../i18n';
import type { Room } from '../room/room';
import { h } from './dom';
import { header } from './header';
import { RecordingBadge, RecordingNoticeBanner, reopenRecordingNotice, showRecording } from './recording-notice';

export interface WaitingOptions {
  room: Room;
  stream: MediaStream | null;
  facing: Facing;
  onLeave: () => void;
}

export interface WaitingScreen {
  rerender(): void;
  dispose(): void;
}

export function renderWaiting(root: HTMLElement, options: WaitingOptions): WaitingScreen {
  const video = h('video', { class: 'self-view', autoplay: true, playsinline: true, 'data-testid': 'waiting-self-view' });
  video.muted = true;
  let reconnecting = false;
  const notice = new RecordingNoticeBanner(options.room);
  const badge = new RecordingBadge(options.room, () => reopenRecordingNotice(options.room, notice));
  // No toasts here: a quieter notice takes the banner too, without sound.
  const stopRecording = showRecording(options.room, badge, notice, (quiet) => notice.show(quiet, false));

  const render = () => {
    const hasVideo = !!options.stream?.getVideoTracks().length;
    video.classList.toggle('mirrored', options.facing === 'user');
    if (video.srcObject !== options.stream) video.srcObject = options.stream;
    const name = options.room.self?.name ?? '';
    root.replaceChildren(
      header(),
      h('main', { class: 'waiting-screen', 'data-testid': 'waiting-screen' }, [
        badge.el,
        h('h1', { text: t('waiting.title') }),
        h('div', { class: `preview${hasVideo ? '' : ' no-video'}` }, [video, h('span', { class: 'preview-name', text: name })]),
        h('p', { class: 'waiting-body', role: 'status', text: t('waiting.body') }),
        reconnecting ? h('p', { class: 'waiting-status', role: 'alert', text: t('waiting.reconnecting') }) : null,
        h('button', { type: 'button', class: 'secondary', 'data-testid': 'waiting-leave', text: t('waiting.leave'), onclick: () => options.onLeave() }),
      ]),
      notice.el,
    );
    badge.update();
    notice.render();
    void video.play().catch(() => {});
  };

  const offPhase = options.room.on('phase', (phase) => {
    const now = phase === 'reconnecting';
    if (now === reconnecting) return;
    reconnecting = now;
    render();
  });
  render();
  return {
    rerender: render,
    dispose() {
      offPhase();
      stopRecording();
      video.srcObject = null;
    },
  };
}
