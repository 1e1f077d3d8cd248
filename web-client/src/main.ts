// Entry point: read the link, check devices, enter the room, and show a clear message for
// anything that goes wrong (never a blank page).

import './styles.css';
import { detectDeviceClass, Engine, type EndReason, JoinError } from './engine';
import { type MessageKey, language, onLanguageChange, t } from './i18n';
import { checkLink, joinUrl, type LinkProblem, readClaims, tokenFromLocation, webSocketUrl } from './link';
import type { Facing } from './media/devices';
import { Room } from './room/room';
import { careForSession } from './room/session-care';
import { renderDeviceCheck } from './screens/device-check';
import { type MessageScreen, renderMessage } from './screens/message-screen';
import { RoomView } from './screens/room-view';
import { mountApply } from './screens/apply';
import { mountTrack } from './screens/track';
import { mountStaff } from './staff/app';
import { installTestHook } from './test-hook';

const root = document.getElementById('app') as HTMLElement;
const device = detectDeviceClass(navigator, Math.min(screen.width, screen.height));
document.documentElement.lang = language();
document.title = t('app.title');

const LINK_MESSAGES: Record<LinkProblem, MessageScreen> = {
  missing: { title: 'link.missing.title', body: 'link.missing.body' },
  invalid: { title: 'link.invalid.title', body: 'link.invalid.body' },
  expired: { title: 'link.expired.title', body: 'link.expired.body' },
  not_yet: { title: 'link.notYet.title', body: 'link.notYet.body' },
};

const END_MESSAGES: Record<EndReason, MessageKey> = {
  left: 'room.left',
  invalid_token: 'link.invalid.body',
  room_full: 'room.full',
  removed: 'room.removed',
  gone: 'room.ended',
  gave_up: 'room.ended',
  unsupported: 'device.unsupported.body',
};

/** Whatever screen is up re-renders itself when the language changes. */
let rerender: () => void = () => {};
onLanguageChange(() => {
  document.title = t('app.title');
  rerender();
});

function showMessage(screen: MessageScreen): void {
  rerender = () => renderMessage(root, screen);
  rerender();
}

function start(): void {
  const token = tokenFromLocation(location);
  const problem = checkLink(token, Date.now() / 1000);
  const claims = token ? readClaims(token) : null;
  if (problem || !token || !claims) {
    showMessage(LINK_MESSAGES[problem ?? 'invalid']);
    return;
  }

  let checked: { stream: MediaStream | null; facing: Facing } | undefined;
  let dispose = () => {};
  const showCheck = () => {
    dispose();
    dispose = renderDeviceCheck(
      root,
      {
        claims,
        device,
        joinLink: joinUrl(location.origin, token),
        onJoin: (stream, facing) => {
          checked = { stream, facing };
          return enter(token, stream, facing);
        },
      },
      checked,
    ).dispose;
  };
  rerender = showCheck;
  showCheck();
}

async function enter(token: string, stream: MediaStream | null, facing: Facing): Promise<void> {
  hook.joinPressedAt = performance.now();
  const engine = new Engine(webSocketUrl(location), token);
  const room = new Room(engine);
  hook.attach(room);
  try {
    await room.join(stream, device);
  } catch (error) {
    for (const track of stream?.getTracks() ?? []) track.stop();
    if (error instanceof JoinError) showMessage({ title: 'app.title', body: END_MESSAGES[error.reason] });
    else showMessage({ title: 'error.network', action: { label: 'check.retry', run: () => location.reload() } });
    return;
  }
  const care = careForSession(engine, device === 'phone', stream);
  hook.wakeLock = () => care.wakeLock();
  const view = new RoomView(root, { room, stream, facing, phone: device === 'phone', onLeft: () => undefined });
  hook.view = view;
  // Room text is drawn from the model on each update; a language change just redraws it.
  rerender = () => view.rerenderText();
  room.on('ended', (reason) => {
    care.stop();
    view.dispose();
    for (const track of stream?.getTracks() ?? []) track.stop();
    showMessage({
      title: 'app.title',
      body: END_MESSAGES[reason],
      action: { label: 'room.leftRejoin', run: () => location.reload() },
    });
  });
}

const hook = installTestHook();
// The public intake pages need no link, the staff pages sign in; everything else is joining
// a room.
if (location.pathname === '/apply') rerender = mountApply(root);
else if (location.pathname === '/track') rerender = mountTrack(root, location.search);
else if (location.pathname === '/staff' || location.pathname.startsWith('/staff/')) rerender = mountStaff(root);
else start();
