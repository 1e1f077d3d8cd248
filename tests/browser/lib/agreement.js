// Helpers for the agreement browser test (agreement.test.js): a mediation centre made through
// the HTTP API (an administrator, an organisation, mediators), case sessions with two parties
// on record with their phones, staff browsers signed in on the desk before they enter the
// room (the room's agreement panel makes its mutations with that sign-in), the signing code
// read from the server log (the log notification channel writes it there), a signature drawn
// with a finger or a mouse, and timings of a text reaching other browsers.

import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { PASSWORD, call } from './case-session.js';
import { clickJoin, openClient, openConsole, waitFor, waitInRoom } from './web-client.js';

/** How long a state may take to show on a loaded machine (never a measured time). */
export const SLOW = 60_000;

// eslint-disable-next-line no-control-regex
const ANSI_RE = /\x1b\[[0-9;]*m/g;

/** The administrator, an organisation and its mediators (`li` first, then `others`). */
export async function createCentre(server, others = []) {
  const admin = (await call(server, 'POST', '/api/v1/setup', { username: 'admin', display_name: '系统管理员', password: PASSWORD })).access_token;
  const org = await call(server, 'POST', '/api/v1/organisations', {
    name: '宝安区新安街道人民调解委员会', short_name: '宝安', region: '新安街道', channel: 'peoples', court: '深圳市宝安区人民法院',
  }, admin);
  const tokens = {};
  for (const [username, display_name] of [['li', '李调解员'], ...others]) {
    await call(server, 'POST', '/api/v1/staff', { username, display_name, password: PASSWORD, role: 'mediator', organisation_id: org.id }, admin);
    tokens[username] = (await call(server, 'POST', '/api/v1/auth/login', { username, password: PASSWORD })).access_token;
  }
  return {
    organisationId: org.id,
    /** Any API call as the mediator `username` (default the case's mediator, `li`). */
    as: (username, method, path, body) => call(server, method, path, body, tokens[username]),
    asAdmin: (method, path, body) => call(server, method, path, body, admin),
  };
}

/**
 * A case of `category` between 张三 (applicant) and 李四 (respondent), both on record with a
 * phone (`phones`: each case its own, so no case meets another's per-phone code limit), a
 * session started by `li`, and an invite link per party.
 */
export async function caseSession(centre, {
  category = 'neighbours', title = '楼上漏水纠纷', facts = '楼上卫生间漏水，浸泡楼下天花板。', claims = '赔偿维修费用3000元。',
  phones = ['13800138000', '13900139000'],
  /** Applicant-side representatives: `[{name, represents}]` (no power of attorney on file). */
  representatives = [],
} = {}) {
  const detail = await centre.as('li', 'POST', '/api/v1/cases', {
    category, risk: 'yellow', title, facts, claims,
    parties: [
      { side: 'applicant', kind: 'person', name: '张三', phone: phones[0] },
      { side: 'respondent', kind: 'person', name: '李四', phone: phones[1] },
    ],
  });
  const caseId = detail.case.id;
  const partyIds = Object.fromEntries(detail.parties.map((p) => [p.name, p.id]));
  for (const rep of representatives) {
    const made = await centre.as('li', 'POST', `/api/v1/cases/${caseId}/parties`, { side: 'applicant', kind: 'representative', name: rep.name, represents: partyIds[rep.represents] });
    partyIds[rep.name] = made.id;
  }
  const session = await centre.as('li', 'POST', `/api/v1/cases/${caseId}/sessions`, { scheduled_at: Date.now() + 3_600_000 });
  const links = {};
  for (const [name, id] of Object.entries(partyIds)) {
    links[name] = (await centre.as('li', 'POST', `/api/v1/sessions/${session.id}/invites`, { party_id: id })).link;
  }
  const started = await centre.as('li', 'POST', `/api/v1/sessions/${session.id}/start`, {});
  return { caseId, sessionId: session.id, mediatorLink: started.link, links, partyIds };
}

/** Signs in on the staff desk as a person would. */
export async function signIn(page, username) {
  await page.getByTestId('login-form').waitFor({ timeout: 30_000 });
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-password').fill(PASSWORD);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('signed-in-as').waitFor({ timeout: 30_000 });
}

/**
 * A staff member's desktop browser: signed in on the desk first, then at `link` (their join
 * link for the session) in the same tab, as a mediator who opens the session from the case page.
 */
export async function openStaff(server, name, username, link) {
  const client = await openClient(name, `${server.httpUrl}/staff`);
  await signIn(client.page, username);
  if (link) await client.page.goto(link, { waitUntil: 'load', timeout: 30_000 });
  return client;
}

/** `window.ACCORD.agreement` of a page (null before the panel exists). */
export const agreementState = (client) => client.page.evaluate(() => window.ACCORD?.agreement ?? null);
/** `window.ACCORD.signing` of a page. */
export const signingState = (client) => client.page.evaluate(() => window.ACCORD?.signing ?? null);

/** The clause texts of the shared draft as a page holds it (null until it is synced). */
export async function mainClauses(client) {
  const state = await agreementState(client);
  const main = state?.docs?.main;
  return main?.synced ? main.clauses : null;
}

/** Opens the agreement panel from the top bar once the button is offered. */
export async function openAgreementPanel(client, timeout = 60_000) {
  const button = client.page.getByTestId('agreement-open');
  await waitFor(`${client.name}'s agreement button`, () => button.isVisible(), timeout, 200);
  if (!(await client.page.getByTestId('agreement-panel').isVisible())) await button.click();
  await client.page.getByTestId('agreement-panel').waitFor({ state: 'visible', timeout });
}

/** Puts the caret at the end of the `index`th clause's textarea of the editor in `scope`. */
export async function focusClauseEnd(scope, index) {
  const area = scope.getByTestId('agreement-clause-text').nth(index);
  await area.click();
  await area.evaluate((el) => el.setSelectionRange(el.value.length, el.value.length));
  return area;
}

/** Records in the page when the latest input event happened (an edit complete on this side). */
export async function watchInputs(client) {
  await client.page.evaluate(() => {
    window.__agreementInputAt = 0;
    document.addEventListener('input', () => {
      window.__agreementInputAt = Date.now();
    }, true);
  });
}
export const lastInputAt = (client) => client.page.evaluate(() => window.__agreementInputAt);

/**
 * Watches the phone's live view for texts: `expect(text)` registers one, and the page notes
 * (Date.now(), the machine's clock shared by every browser here) when it first shows. A
 * MutationObserver and a 10 ms poll both look, whichever sees it first.
 */
export async function watchArrivals(client) {
  await client.page.evaluate(() => {
    const wanted = new Set();
    const arrived = {};
    const seen = { typing: 0 };
    const check = () => {
      const live = document.querySelector('[data-testid=agreement-live]');
      if (live?.querySelector('[data-testid=agreement-typing]')) seen.typing += 1;
      if (!wanted.size) return;
      const text = live?.textContent ?? '';
      for (const marker of wanted) {
        if (text.includes(marker)) {
          arrived[marker] = Date.now();
          wanted.delete(marker);
        }
      }
    };
    new MutationObserver(check).observe(document.body, { subtree: true, childList: true, characterData: true });
    setInterval(check, 10);
    window.__agreementArrivals = { expect: (marker) => wanted.add(marker), arrived, seen };
  });
  return {
    /** How many looks found "调解员正在输入…" on screen. */
    typingSeen: () => client.page.evaluate(() => window.__agreementArrivals.seen.typing),
    expect: (marker) => client.page.evaluate((m) => window.__agreementArrivals.expect(m), marker),
    arrivedAt: (marker) => client.page.evaluate((m) => window.__agreementArrivals.arrived[m] ?? null, marker),
  };
}

/** Signing codes the server wrote to its log so far: `[{code, to}]`, oldest first. */
export function loggedCodes(server) {
  const text = readFileSync(server.logPath, 'utf8').replace(ANSI_RE, '');
  const codes = [];
  for (const line of text.split('\n')) {
    if (!line.includes('signing_code') || !/code=/.test(line)) continue;
    const code = /\bcode="?(\d{6})\b/.exec(line);
    const to = /\bto="?([0-9*]+)/.exec(line);
    if (code) codes.push({ code: code[1], to: to?.[1] ?? null });
  }
  return codes;
}

/** Waits for a code logged after the first `seen` ones, sent to `maskedPhone`. */
export async function nextCode(server, seen, maskedPhone, timeout = 30_000) {
  const found = await waitFor(`a signing code for ${maskedPhone} in the server log`, () => {
    const fresh = loggedCodes(server).slice(seen).filter((c) => c.to === maskedPhone);
    return fresh.at(-1) ?? null;
  }, timeout, 100);
  return found.code;
}

/** A zigzag across the box: a signature's worth of ink; each `variant` writes a different one. */
function strokes(box, variant) {
  const left = box.x + box.width * 0.15;
  const width = box.width * 0.7;
  const mid = box.y + box.height / 2;
  const amplitude = box.height * 0.25;
  const points = [];
  const n = 16 + 4 * variant;
  for (let i = 0; i <= n; i += 1) {
    points.push({ x: left + (width * i) / n, y: mid + (i % 2 ? amplitude : -amplitude) * Math.sin((i / n) * Math.PI * (2 + variant) + 1) });
  }
  const underline = [0, 1, 2, 3, 4, 5, 6].map((i) => ({ x: left + (width * i) / 6, y: mid + amplitude * 1.6 }));
  return [points, underline];
}

/** Draws a signature on the pad with a finger (touch events, as on a phone). */
export async function drawWithFinger(client, pad, variant = 0) {
  const box = await pad.boundingBox();
  if (!box) throw new Error(`${client.name}: the signature pad is not on screen`);
  const cdp = await client.page.context().newCDPSession(client.page);
  try {
    for (const stroke of strokes(box, variant)) {
      const [first, ...rest] = stroke;
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [{ x: first.x, y: first.y }] });
      for (const p of rest) await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [{ x: p.x, y: p.y }] });
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
    }
  } finally {
    await cdp.detach().catch(() => {});
  }
}

/** Draws a signature on the pad with the mouse (a desktop). */
export async function drawWithMouse(client, pad, variant = 0) {
  await pad.scrollIntoViewIfNeeded();
  const box = await pad.boundingBox();
  if (!box) throw new Error(`${client.name}: the signature pad is not on screen`);
  for (const stroke of strokes(box, variant)) {
    const [first, ...rest] = stroke;
    await client.page.mouse.move(first.x, first.y);
    await client.page.mouse.down();
    for (const p of rest) await client.page.mouse.move(p.x, p.y, { steps: 2 });
    await client.page.mouse.up();
  }
}

/** p50 / p95 / max of a list of numbers (nearest rank). */
export function percentiles(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
  return { n: sorted.length, p50: rank(50), p95: rank(95), max: sorted.at(-1) };
}

/** The distinct images (by PDF object) on each page: `{page: Set(objectId)}`, soft masks left out. */
export function pdfImages(path) {
  const pages = {};
  const rows = execFileSync('pdfimages', ['-list', path], { encoding: 'utf8' }).split('\n').slice(2);
  for (const row of rows) {
    const cols = row.trim().split(/\s+/u);
    if (cols.length < 12 || cols[2] !== 'image') continue;
    (pages[cols[0]] ??= new Set()).add(cols[10]);
  }
  return pages;
}

/** Text with every kind of whitespace removed: PDF text extraction breaks lines anywhere. */
export const squeeze = (text) => text.replace(/\s+/gu, '');

/** Each page's running footer (case number, page n of m, short fingerprint), one line each. */
const PAGE_FURNITURE = [/^案号：\S+$/u, /^第\d+页\/共\d+页$/u, /^SHA-256 [0-9a-f]+…?$/u];

/**
 * The PDF's text as pdftotext reads it, without the page footers (a clause that runs onto the
 * next page has the footer in the middle of it) and without whitespace.
 */
export function pdfBody(path) {
  const text = execFileSync('pdftotext', ['-enc', 'UTF-8', path, '-'], { encoding: 'utf8' });
  const lines = text.split(/[\n\f]/u).map((l) => l.trim()).filter((l) => !PAGE_FURNITURE.some((re) => re.test(l)));
  return squeeze(lines.join('\n'));
}

/** formatChinaTime of the web client: the moment in Beijing, `YYYY-MM-DD HH:MM`. */
export function chinaTime(ms) {
  const t = new Date(ms + 8 * 3600 * 1000);
  const two = (n) => String(n).padStart(2, '0');
  return `${t.getUTCFullYear()}-${two(t.getUTCMonth() + 1)}-${two(t.getUTCDate())} ${two(t.getUTCHours())}:${two(t.getUTCMinutes())}`;
}

/**
 * After a reload: the device check's join, then whatever the session asks again (consent,
 * the waiting room and the mediator's admission) until the phone is back in the room.
 */
export async function rejoin(phone, mediator) {
  const page = phone.page;
  await clickJoin(phone);
  const where = await waitFor(`${phone.name} past the device check`, async () => {
    if ((await phone.state())?.phase === 'connected' && !(await phone.state())?.inWaitingRoom) return 'room';
    if (await page.getByTestId('consent-screen').isVisible()) return 'consent';
    if (await page.getByTestId('waiting-screen').isVisible()) return 'waiting';
    return null;
  }, SLOW, 200);
  if (where === 'consent') {
    await page.getByTestId('consent-online').check();
    await page.getByTestId('consent-recording').check();
    await page.getByTestId('consent-submit').click();
  }
  if (where !== 'room') {
    await openConsole(mediator);
    await waitFor(`${phone.name} waiting again`, async () => (await mediator.state())?.waiting?.length === 1, SLOW, 200);
    await mediator.page.getByTestId('admit-all').click();
    await openAgreementPanel(mediator);
  }
  await waitInRoom(phone, SLOW);
}

/** Nothing on the phone's screen is wider than the phone (no sideways scrolling, no zoom-out). */
export async function assertFitsPhone(phone, what) {
  const { inner, scroll } = await phone.page.evaluate(() => ({ inner: window.innerWidth, scroll: document.documentElement.scrollWidth }));
  assert.ok(inner === 390 && scroll <= inner, `${phone.name}: ${what} is ${scroll} px wide in a ${inner} px layout on a 390 px phone`);
}

/** The mediator signs with the staff identity (mouse-drawn) and seals; the agreement is in force. */
export async function signAndSeal(mediator) {
  const workspace = mediator.page.getByTestId('agreement-workspace');
  const own = workspace.getByTestId('signing-own');
  await own.getByTestId('signing-end').scrollIntoViewIfNeeded();
  const ownNext = own.getByTestId('signing-read-next');
  await waitFor('the mediator\'s reading gate open', () => ownNext.isEnabled(), SLOW, 100);
  await ownNext.click();
  await own.getByTestId('signing-identity-staff').click();
  const pad = own.getByTestId('signing-pad');
  await pad.waitFor({ timeout: SLOW });
  await drawWithMouse(mediator, pad, 2);
  const button = own.getByTestId('signing-sign');
  await waitFor('the mediator\'s sign button enabled', () => button.isEnabled(), SLOW, 100);
  await button.click();
  const seal = workspace.getByTestId('signing-seal');
  await waitFor('the seal offered', () => seal.isEnabled(), SLOW, 200);
  await seal.click();
  await waitFor('the agreement in force', async () => (await agreementState(mediator))?.status === 'in_force', SLOW, 200);
}
