// Opens the product web client (served by `accord serve` itself) in Debian's Chromium, as a
// desktop or as an emulated phone (touch, 390×844, a phone user agent so the app publishes two
// simulcast layers), with fake camera and microphone and a fresh profile per participant.

import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

import { CHROMIUM_ARGS, CHROMIUM_PATH, removeProfile } from './browser.js';

const PHONE = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
  userAgent:
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) ' +
    'Chrome/130.0.0.0 Mobile Safari/537.36',
};
const DESKTOP = { viewport: { width: 1280, height: 800 } };

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Camera and microphone need a secure context; a page served over plain http from a test
 * address that is not loopback (a network namespace's link) is only one when Chromium is told.
 */
function secureOriginArgs(url) {
  const { origin, hostname } = new URL(url);
  return LOOPBACK_HOSTS.has(hostname) ? [] : [`--unsafely-treat-insecure-origin-as-secure=${origin}`];
}

/**
 * @param {string} name
 * @param {string} url the join link
 * @param {{phone?: boolean, locale?: string, executablePath?: string, userAgent?: string,
 *          media?: 'fake' | 'denied' | 'none', hideable?: boolean,
 *          initScript?: Function | string | {path: string}}} [opts] `executablePath` runs
 *   a wrapper instead of Chromium itself (e.g. one that enters a network namespace); `media` is
 *   what getUserMedia meets: fake devices granted (default), a refused permission, or no
 *   devices; `hideable` opens a desktop whose page `setHidden` can really hide (see
 *   launchHideable; `phone`, `locale` and `userAgent` do not apply to it); `initScript` runs
 *   in every page before the app's own scripts (Playwright's addInitScript), for a test that
 *   changes what the browser offers the app
 */
export async function openClient(name, url, opts = {}) {
  const userDataDir = mkdtempSync(join(tmpdir(), `accord-web-${name}-`));
  const media = opts.media ?? 'fake';
  const dropped = {
    fake: [],
    // Without the fake prompt Chromium asks, and --deny-permission-prompts answers "block".
    denied: ['--use-fake-ui-for-media-stream'],
    // This machine has no camera or microphone: without fake devices there are none.
    none: ['--use-fake-device-for-media-stream'],
  }[media];
  const args = [
    ...CHROMIUM_ARGS.filter((a) => !dropped.includes(a)),
    ...(media === 'denied' ? ['--deny-permission-prompts'] : []),
    ...secureOriginArgs(url),
  ];
  const hideable = opts.hideable ? await launchHideable(userDataDir, args) : null;
  const context = hideable?.context ?? await chromium.launchPersistentContext(userDataDir, {
    executablePath: opts.executablePath ?? CHROMIUM_PATH,
    headless: true,
    args,
    permissions: media === 'denied' ? [] : ['camera', 'microphone'],
    locale: opts.locale ?? 'zh-CN',
    timeout: 60_000,
    ...(opts.phone ? PHONE : DESKTOP),
    ...(opts.userAgent ? { userAgent: opts.userAgent } : {}),
  });
  const lines = [];
  const started = Date.now();
  const page = context.pages()[0] ?? (await context.newPage());
  // Granting camera and microphone makes Playwright deny every other permission, the screen
  // wake lock among them, which phones grant without asking.
  const cdp = await context.newCDPSession(page);
  await cdp.send('Browser.setPermission', { permission: { name: 'screen-wake-lock' }, setting: 'granted' });
  await cdp.detach();
  if (opts.initScript) await context.addInitScript(opts.initScript);
  page.on('console', (m) => lines.push(`${Date.now() - started}ms [${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => lines.push(`${Date.now() - started}ms [pageerror] ${e.stack || e.message}`));
  // "Leave the mediation?" confirmations are accepted, as a person would.
  page.on('dialog', (d) => d.accept().catch(() => {}));
  await page.goto(url, { waitUntil: 'load', timeout: 30_000 });
  return {
    name,
    page,
    console: lines,
    state: () => page.evaluate(() => window.ACCORD?.state() ?? null),
    stats: () => page.evaluate(() => window.ACCORD?.stats() ?? null),
    saveConsole: (path) => writeFileSync(path, lines.join('\n') + '\n'),
    /** Minimises (or restores) the window, as a phone's home button hides the page. */
    async setHidden(hidden) {
      if (!hideable) throw new Error('setHidden needs openClient(…, { hideable: true })');
      const cdp = await context.newCDPSession(page);
      const { windowId } = await cdp.send('Browser.getWindowForTarget');
      await cdp.send('Browser.setWindowBounds', { windowId, bounds: { windowState: hidden ? 'minimized' : 'normal' } });
      await cdp.detach();
    },
    async close() {
      await context.close().catch(() => {});
      await hideable?.stop();
      removeProfile(userDataDir);
    },
  };
}

/**
 * Chromium started here and attached over CDP without Playwright's defaults. Playwright
 * otherwise emulates focus on every page it drives, which keeps the page "visible" whatever
 * happens to its window (document.visibilityState never changes). Attached this way, a
 * minimised window hides its page and restoring the window shows it again.
 */
async function launchHideable(userDataDir, args) {
  const { width, height } = DESKTOP.viewport;
  const child = spawn(
    CHROMIUM_PATH,
    ['--headless', '--remote-debugging-port=0', `--user-data-dir=${userDataDir}`, `--window-size=${width},${height}`, ...args, 'about:blank'],
    // Its own process group, so stop() can end the helpers (zygote, renderers, crashpad)
    // that outlive the browser process and keep writing into the profile.
    { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
  );
  const killGroup = () => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // The group is already gone.
    }
  };
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const address = new Promise((resolve, reject) => {
    let printed = '';
    const timer = setTimeout(() => reject(new Error(`Chromium printed no DevTools address:\n${printed}`)), 30_000);
    child.once('exit', (code) => reject(new Error(`Chromium exited (${code}) before its DevTools address:\n${printed}`)));
    // Chromium's stderr is read to the end, or a full pipe would stall it.
    child.stderr.on('data', (chunk) => {
      if (printed === null) return;
      printed += chunk;
      const listening = /DevTools listening on (ws:\/\/\S+)/.exec(printed);
      if (listening) {
        clearTimeout(timer);
        printed = null;
        resolve(listening[1]);
      }
    });
  });
  let browser;
  try {
    browser = await chromium.connectOverCDP(await address, { noDefaults: true, isLocal: true });
  } catch (err) {
    killGroup();
    throw err;
  }
  return {
    context: browser.contexts()[0],
    async stop() {
      await browser.close().catch(() => {});
      child.kill();
      await exited;
      killGroup();
    },
  };
}

/** Polls `check` (async, returns truthy when done) until it passes or `timeoutMs` runs out. */
export async function waitFor(what, check, timeoutMs, intervalMs = 100) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The join link for a token minted by `server`. */
export const joinLink = (server, token) => `${server.httpUrl}/join#token=${encodeURIComponent(token)}`;

/** Sum of a counter over the inbound streams of `kind` that come from `participantId`. */
export function inbound(stats, participantId, kind, field) {
  return (stats?.inbound ?? [])
    .filter((s) => s.kind === kind && s.from?.startsWith(`${participantId}/`))
    .reduce((n, s) => n + (s[field] ?? 0), 0);
}

/** Presses "join" on the device check as a person would (a party then consents and waits). */
export async function clickJoin(client) {
  await client.page.getByTestId('join').waitFor({ state: 'visible' });
  await waitFor('the join button to be enabled', () => client.page.getByTestId('join').isEnabled(), 15_000);
  await client.page.getByTestId('join').click();
}

/** Waits until the client is in the room with its media connected. */
export async function waitInRoom(client, timeout = 20_000) {
  await waitFor(`${client.name} to be in the room`, async () => (await client.state())?.phase === 'connected', timeout);
}

/** Presses "join" on the device check and waits until in the room (no waiting room). */
export async function pressJoin(client) {
  await clickJoin(client);
  await waitInRoom(client);
}

/** A party's way in: join, consent to online mediation and recording, then the waiting room. */
export async function joinAndWait(client) {
  await clickJoin(client);
  await client.page.getByTestId('consent-screen').waitFor();
  await client.page.getByTestId('consent-online').check();
  await client.page.getByTestId('consent-recording').check();
  await client.page.getByTestId('consent-submit').click();
  await client.page.getByTestId('waiting-screen').waitFor();
}

/** Opens the mediator's console unless it is already showing (desktops show it beside the video). */
export async function openConsole(client) {
  if (!(await client.page.getByTestId('moderator-panel').isVisible())) await client.page.getByTestId('moderator-open').click();
  await client.page.getByTestId('moderator-panel').waitFor();
}
