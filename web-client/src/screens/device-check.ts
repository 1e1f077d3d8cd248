// Before entering: a live self-view, a microphone meter, a front/back camera switch, and plain
// help when the camera or microphone cannot be used. On a desktop, a QR code of the link lets
// the person move to their phone instead.

import QRCode from 'qrcode';
import type { DeviceClass } from '../engine';
import { type MessageKey, t } from '../i18n';
import type { TokenClaims } from '../link';
import type { RoomInfo } from '../room/room-api';
import {
  browserFamily,
  cameraCount,
  DeviceError,
  type DeviceProblem,
  type Facing,
  openDevices,
  watchMicLevel,
} from '../media/devices';
import { h } from './dom';
import { header } from './header';

export interface DeviceCheckOptions {
  claims: TokenClaims;
  device: DeviceClass;
  joinLink: string;
  /** What the session is (case title, organisation, mediator), once the server said. */
  info?: Promise<RoomInfo | null>;
  /** Called with the stream to publish (null: join without devices). */
  onJoin: (stream: MediaStream | null, facing: Facing) => Promise<void>;
}

export interface DeviceCheck {
  /** Stops the meter; the stream itself is handed to the room. */
  dispose(): void;
}

/**
 * The line under the greeting that says which mediation this is: the case's title, the
 * organisation and the mediator, as far as known. Never the internal room id, which means
 * nothing to a party.
 */
export function sessionLine(info: RoomInfo | null | undefined): string {
  if (!info) return '';
  const parts: string[] = [];
  if (info.case_title) parts.push(t('check.case', { title: info.case_title }));
  if (info.organisation) parts.push(info.organisation);
  if (info.mediator) parts.push(t('check.mediator', { name: info.mediator }));
  return parts.join(' · ');
}

export function renderDeviceCheck(root: HTMLElement, options: DeviceCheckOptions, previous?: { stream: MediaStream | null; facing: Facing }): DeviceCheck {
  let stream: MediaStream | null = previous?.stream ?? null;
  let facing: Facing = previous?.facing ?? 'user';
  let stopMeter = () => {};
  let joining = false;

  const video = h('video', { class: 'self-view mirrored', autoplay: true, playsinline: true, 'data-testid': 'self-view' });
  video.muted = true;
  const meterFill = h('div', { class: 'meter-fill', 'data-testid': 'mic-meter' });
  const status = h('p', { class: 'check-status', text: t('check.starting') });
  const problemBox = h('div', { class: 'problem', hidden: true, role: 'alert', 'data-testid': 'device-problem' });
  const switchButton = h('button', {
    class: 'secondary',
    type: 'button',
    hidden: true,
    'data-testid': 'switch-camera',
    text: t('check.switchCamera'),
    onclick: () => void switchCamera(),
  });
  const joinButton = h('button', {
    class: 'primary join',
    type: 'button',
    disabled: true,
    'data-testid': 'join',
    text: t('check.join'),
    onclick: () => void join(),
  });
  const preview = h('div', { class: 'preview' }, [video]);
  const about = h('p', { class: 'greeting session-line', 'data-testid': 'session-line', hidden: true });
  void options.info?.then((info) => {
    about.textContent = sessionLine(info);
    about.hidden = !about.textContent;
  });

  const qr = options.device === 'desktop' ? qrPanel(options.joinLink) : null;
  root.replaceChildren(
    header(),
    h('main', { class: 'device-check', 'data-testid': 'device-check' }, [
      h('section', { class: 'check-main' }, [
        h('h1', { text: t('check.title') }),
        h('p', { class: 'greeting', text: t('check.greeting', { name: options.claims.name ?? options.claims.sub }) }),
        about,
        preview,
        h('div', { class: 'meter-row' }, [
          h('span', { class: 'meter-label', text: t('check.micLevel') }),
          h('div', { class: 'meter', role: 'meter', 'aria-label': t('check.micLevel') }, [meterFill]),
        ]),
        h('p', { class: 'hint', text: t('check.micHint') }),
        status,
        problemBox,
        h('div', { class: 'check-actions' }, [switchButton, joinButton]),
      ]),
      qr,
    ]),
  );

  async function start(): Promise<void> {
    problemBox.hidden = true;
    try {
      stream ??= await openDevices(facing, options.device === 'phone');
      show(stream);
      status.hidden = true;
      joinButton.disabled = false;
      switchButton.hidden = options.device !== 'phone' && (await cameraCount()) < 2;
    } catch (error) {
      showProblem(error instanceof DeviceError ? error.problem : 'unsupported');
    }
  }

  function show(s: MediaStream): void {
    video.srcObject = s;
    video.classList.toggle('mirrored', facing === 'user');
    preview.classList.toggle('no-video', s.getVideoTracks().length === 0);
    stopMeter();
    stopMeter = watchMicLevel(s, (level) => {
      meterFill.style.transform = `scaleX(${level.toFixed(3)})`;
    });
  }

  function showProblem(problem: DeviceProblem): void {
    status.hidden = true;
    const [title, body] = problemText(problem);
    problemBox.replaceChildren(
      h('h2', { text: t(title) }),
      h('p', { text: t(body) }),
      h('div', { class: 'check-actions' }, [
        h('button', { class: 'secondary', type: 'button', text: t('check.retry'), onclick: () => void start() }),
        h('button', { class: 'secondary', type: 'button', 'data-testid': 'join-without-devices', text: t('check.joinWithout'), onclick: () => void join() }),
      ]),
    );
    problemBox.hidden = false;
  }

  async function switchCamera(): Promise<void> {
    if (!stream) return;
    facing = facing === 'user' ? 'environment' : 'user';
    // Phones can open only one camera at a time: stop the old one before opening the other.
    for (const track of stream.getVideoTracks()) {
      track.stop();
      stream.removeTrack(track);
    }
    try {
      const fresh = await openDevices(facing, options.device === 'phone');
      for (const track of fresh.getAudioTracks()) track.stop();
      for (const track of fresh.getVideoTracks()) stream.addTrack(track);
      show(stream);
    } catch (error) {
      showProblem(error instanceof DeviceError ? error.problem : 'unsupported');
    }
  }

  async function join(): Promise<void> {
    if (joining) return;
    joining = true;
    joinButton.disabled = true;
    joinButton.textContent = t('check.joining');
    stopMeter();
    await options.onJoin(stream, facing);
  }

  void start();
  return { dispose: () => stopMeter() };
}

function problemText(problem: DeviceProblem): [MessageKey, MessageKey] {
  switch (problem) {
    case 'denied': {
      const family = browserFamily(navigator.userAgent);
      const help: Record<typeof family, MessageKey> = {
        chrome: 'device.denied.chrome',
        safari: 'device.denied.safari',
        wechat: 'device.denied.wechat',
        other: 'device.denied.other',
      };
      return ['device.denied.title', help[family]];
    }
    case 'missing':
      return ['device.missing.title', 'device.missing.body'];
    case 'busy':
      return ['device.busy.title', 'device.busy.body'];
    case 'insecure':
      return ['device.insecure.title', 'device.insecure.body'];
    default:
      return ['device.unsupported.title', 'device.unsupported.body'];
  }
}

function qrPanel(link: string): HTMLElement {
  const canvas = h('canvas', { class: 'qr', 'data-testid': 'join-qr', 'aria-label': t('check.qrTitle') });
  void QRCode.toCanvas(canvas, link, { width: 200, margin: 1, errorCorrectionLevel: 'M' }).catch((err: unknown) =>
    console.warn('[accord] QR code', err),
  );
  return h('aside', { class: 'qr-panel' }, [h('h2', { text: t('check.qrTitle') }), canvas, h('p', { class: 'hint', text: t('check.qrHint') })]);
}
