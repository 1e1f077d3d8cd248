// The recording as people meet it: a badge that stays on screen while it runs, and a notice
// they read and hear when it is about to start, pauses or resumes (a chime, then the text
// spoken in the page's language, so someone looking away still knows). The same pieces serve
// the room and the waiting room.

import { language, t } from '../i18n';
import { type RecordingNotice, countdownEnd, recordingBadge, secondsLeft } from '../room/recording';
import type { Room } from '../room/room';
import { h } from './dom';

/** The badge: "● 录制中 REC", "录制已暂停" or "本房间不录制"; tapping it shows the notice again. */
export class RecordingBadge {
  readonly el = h('button', { type: 'button', class: 'recording-badge', hidden: true, 'data-testid': 'recording-badge' });

  constructor(
    private readonly room: Room,
    reopen: () => void,
  ) {
    this.el.addEventListener('click', reopen);
  }

  update(): void {
    const badge = recordingBadge(this.room.recording);
    this.el.hidden = badge === null;
    this.el.dataset.state = badge?.kind ?? 'off';
    this.el.textContent = badge ? t(badge.key) : '';
    this.el.title = t('recording.badgeHint');
  }
}

/**
 * The notice: a banner over the page with the text (and, before a start, the countdown),
 * dismissed with "知道了". Announced notices also sound; nothing fails where a browser lacks
 * WebAudio or speech.
 */
export class RecordingNoticeBanner {
  readonly el = h('div', { class: 'recording-notice', hidden: true, role: 'alertdialog', 'aria-live': 'assertive', 'data-testid': 'recording-notice' });
  private readonly title = h('h2');
  private readonly text = h('p', { class: 'recording-notice-text', 'data-testid': 'recording-notice-text' });
  private readonly countdown = h('p', { class: 'recording-countdown', 'data-testid': 'recording-countdown' });
  private readonly ok = h('button', { type: 'button', class: 'primary', 'data-testid': 'recording-notice-ok', onclick: () => this.hide() });
  private shown: RecordingNotice | null = null;
  private countdownTo: number | null = null;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly room: Room) {
    // Built once and only relabelled: redrawing each tick would take a keyboard's focus away.
    this.el.append(h('div', { class: 'recording-notice-box' }, [this.title, this.text, this.countdown, this.ok]));
  }

  /** Shows `notice`; `sound` plays the chime and speaks it when the notice asks to be heard. */
  show(notice: RecordingNotice, sound: boolean): void {
    this.shown = notice;
    this.countdownTo = notice.kind === 'starting' && this.room.recording ? countdownEnd(this.room.recording, this.room.recordingReceivedAt) : null;
    this.el.dataset.kind = notice.kind;
    this.render();
    this.el.hidden = false;
    // A keyboard or screen-reader user lands on the one thing to do with it.
    this.ok.focus();
    clearInterval(this.timer);
    if (this.countdownTo !== null) this.timer = setInterval(() => this.render(), 500);
    if (sound && notice.announce) announce(t(notice.key));
  }

  /** Redraws the text (each countdown tick, a language change) while it is up. */
  render(): void {
    const notice = this.shown;
    if (!notice) return;
    this.title.textContent = t('recording.noticeTitle');
    this.text.textContent = t(notice.key);
    this.ok.textContent = t('room.dismiss');
    const end = this.countdownTo;
    this.countdown.hidden = end === null;
    if (end === null) return;
    const left = secondsLeft(end, Date.now());
    this.countdown.textContent = left > 0 ? t('recording.countdown', { seconds: String(left) }) : t('recording.countdownNow');
    if (left === 0) clearInterval(this.timer);
  }

  hide(): void {
    clearInterval(this.timer);
    this.el.hidden = true;
    this.shown = null;
  }

  /** A starting notice whose recording began (or was called off) has done its work. */
  settle(): void {
    if (this.shown?.kind === 'starting' && this.room.recording?.state !== 'starting') this.hide();
  }

  dispose(): void {
    this.hide();
    window.speechSynthesis?.cancel();
  }
}

/** Plays a short two-note chime, then speaks `text` in the page's language. */
function announce(text: string): void {
  const chimeMs = chime();
  setTimeout(() => speak(text), chimeMs);
}

function chime(): number {
  const Context = window.AudioContext ?? (window as unknown as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext;
  if (!Context) return 0;
  try {
    const context = new Context();
    // Created outside a tap, a context may start suspended; the join tap usually allows it.
    void context.resume().catch(() => {});
    const start = context.currentTime + 0.05;
    for (const [i, frequency] of [880, 660].entries()) {
      const tone = context.createOscillator();
      const gain = context.createGain();
      tone.frequency.value = frequency;
      const at = start + i * 0.35;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.3, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.3);
      tone.connect(gain).connect(context.destination);
      tone.start(at);
      tone.stop(at + 0.32);
    }
    // Phones allow only a few live contexts: give this one back once it has played.
    setTimeout(() => void context.close().catch(() => {}), 1_200);
    return 800;
  } catch {
    return 0; // autoplay policy or no audio device: the text is still on screen
  }
}

function speak(text: string): void {
  const synthesis = window.speechSynthesis;
  if (!synthesis || typeof SpeechSynthesisUtterance === 'undefined') return;
  try {
    const utterance = new SpeechSynthesisUtterance(text);
    utterance.lang = language();
    synthesis.cancel();
    synthesis.speak(utterance);
  } catch {
    // Some WebViews expose the API and throw; the notice is on screen regardless.
  }
}

/**
 * Wires the badge and the banner to the room: a change of status updates the badge, a notice
 * shows the banner (with sound) or, for the quieter ones, goes to `quiet` (a toast in the
 * room). Returns the function that unwires it.
 */
export function showRecording(room: Room, badge: RecordingBadge, banner: RecordingNoticeBanner, quiet: (notice: RecordingNotice) => void): () => void {
  const off = room.on('recording', ({ notice }) => {
    badge.update();
    banner.settle();
    if (!notice) return;
    if (notice.kind === 'starting' || notice.announce) banner.show(notice, true);
    else quiet(notice);
  });
  badge.update();
  return () => {
    off();
    banner.dispose();
  };
}

/** The latest notice about the recording, shown again without sound (the badge's tap, a late joiner). */
export function reopenRecordingNotice(room: Room, banner: RecordingNoticeBanner): void {
  if (room.lastRecordingNotice) banner.show(room.lastRecordingNotice, false);
}
