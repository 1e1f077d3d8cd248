// Entry point: read the link, check devices, ask a party's consent when their case needs it,
// wait to be admitted, enter the room, and show a clear message for anything that goes wrong
// (never a blank page).

import './styles.css';
import { detectDeviceClass, Engine, JoinError } from './engine';
import { language, onLanguageChange, t } from './i18n';
import { checkLink, joinUrl, type LinkProblem, readClaims, type TokenClaims, tokenFromLocation, webSocketUrl } from './link';
import type { Facing } from './media/devices';
import { Room } from './room/room';
import { RoomApi } from './room/room-api';
import { careForSession } from './room/session-care';
import { renderConsent } from './screens/consent';
import { renderDeviceCheck } from './screens/device-check';
import { endScreen } from './screens/end-screen';
import { type MessageScreen, renderMessage } from './screens/message-screen';
import { RoomView } from './screens/room-view';
import { renderWaiting, type WaitingScreen } from './screens/waiting';
import { mountApply } from './screens/apply';
import { mountHome } from './screens/home';
import { mountTrack } from './screens/track';
import { mountVerify } from './verify/page';
import { mountPartyCase } from './confirmation/party-page';
import { AgreementApi, tokenCall } from './agreement/api';
import { mountStaff } from './staff/app';
import { installTestHook } from './test-hook';

const root = document.getElementById('app') as HTMLElement;
const device = detectDeviceClass(navigator, Math.min(screen.width, screen.height));
document.documentElement.lang = language();
document.title = t('app.title');

const LINK_MESSAGES: Record<LinkProblem, MessageScreen> = {
  // Someone who typed the bare address of the join screen is offered the home page's ways in.
  missing: { title: 'link.missing.title', body: 'link.missing.body', action: { label: 'link.toHome', run: () => location.assign('/') } },
  invalid: { title: 'link.invalid.title', body: 'link.invalid.body' },
  expired: { title: 'link.expired.title', body: 'link.expired.body' },
  not_yet: { title: 'link.notYet.title', body: 'link.notYet.body' },
};

/** Whatever screen is up re-renders itself when the language changes. */
let rerender: () => void = () => {};
onLanguageChange(() => {
  document.title = t('app.title');
  rerender();
});

const reload = () => location.reload();

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

  const api = new RoomApi(token);
  // Asked once: the device check redraws on a language change.
  const info = api.info().catch(() => null);
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
        info,
        onJoin: (stream, facing) => {
          checked = { stream, facing };
          return consentThenEnter(token, claims, api, stream, facing);
        },
      },
      checked,
    ).dispose;
  };
  // A party of a case agrees to online mediation and recording once, before anything else;
  // the server would refuse their join without it (`consent_required`).
  rerender = showCheck;
  showCheck();
}

/**
 * A party of a case agrees to online mediation and to the recording once, before their first
 * session; the server refuses their join without it (`consent_required`). Asked after the
 * device check, when they press "进入调解": the link first greets them and shows their camera,
 * and nothing is recorded before the room.
 */
async function consentThenEnter(token: string, claims: TokenClaims, api: RoomApi, stream: MediaStream | null, facing: Facing): Promise<void> {
  if (claims.role !== 'party' || !claims.case) return enter(token, claims, api, stream, facing);
  const known = await api.consent().catch(() => null);
  if (known && !known.required) return enter(token, claims, api, stream, facing);
  // Asked (or the question failed and the screen retries it): the screen says what to do.
  rerender = renderConsent(root, { api, known, onDone: () => void enter(token, claims, api, stream, facing) }).rerender;
}

async function enter(token: string, claims: TokenClaims, api: RoomApi, stream: MediaStream | null, facing: Facing): Promise<void> {
  hook.joinPressedAt = performance.now();
  const engine = new Engine(webSocketUrl(location), token);
  const room = new Room(engine);
  hook.attach(room);
  let waiting: WaitingScreen | null = null;
  room.on('waiting', () => {
    if (waiting) return;
    waiting = renderWaiting(root, { room, stream, facing, onLeave: () => void room.leave() });
    rerender = () => waiting?.rerender();
  });
  try {
    await room.join(stream, device);
  } catch (error) {
    (waiting as WaitingScreen | null)?.dispose();
    for (const track of stream?.getTracks() ?? []) track.stop();
    if (error instanceof JoinError) showMessage(endScreen(error.reason, error.detail, claims, reload));
    else showMessage({ title: 'error.network', action: { label: 'check.retry', run: () => location.reload() } });
    return;
  }
  (waiting as WaitingScreen | null)?.dispose();
  const care = careForSession(engine, device === 'phone', stream);
  hook.wakeLock = () => care.wakeLock();
  const view = new RoomView(root, { room, api, stream, facing, phone: device === 'phone', onLeft: () => undefined });
  hook.view = view;
  // Room text is drawn from the model on each update; a language change just redraws it.
  rerender = () => view.rerenderText();
  room.on('ended', ({ reason, message }) => {
    care.stop();
    view.dispose();
    for (const track of stream?.getTracks() ?? []) track.stop();
    showMessage(endScreen(reason, message, claims, reload));
    // A party whose agreement is in force is offered its page: the PDF and the application for
    // judicial confirmation (asked after the goodbye is up, so a slow answer delays nothing).
    if (claims.role === 'party' && claims.case && (reason === 'ended' || reason === 'left')) {
      void new AgreementApi(tokenCall(token))
        .ofRoom()
        .then((agreement) => {
          if (agreement?.status === 'in_force') showMessage(endScreen(reason, message, claims, reload, token));
        })
        .catch(() => undefined);
    }
  });
}

const hook = installTestHook();
// The public intake pages need no link, the staff pages sign in, the bare address is the
// home page (unless a join link points at it); everything else is joining a room.
if (location.pathname === '/' && !tokenFromLocation(location)) rerender = mountHome(root);
else if (location.pathname === '/apply') rerender = mountApply(root);
else if (location.pathname === '/track') rerender = mountTrack(root, location.search);
else if (location.pathname === '/staff' || location.pathname.startsWith('/staff/')) rerender = mountStaff(root);
else if (location.pathname.startsWith('/v/')) rerender = mountVerify(root, location.pathname);
else if (location.pathname === '/case') rerender = mountPartyCase(root);
else start();
