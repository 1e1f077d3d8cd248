// A new user's first minutes, in real Chromium against the real server: the bare address is a
// home page with every way in (join with a link or code, apply, track, staff sign-in), in
// Chinese with English a tap away; a pasted invite leads to the device check, which names the
// case rather than an internal room id; every page has an icon (no 404 for /favicon.ico); and
// the desktop application form fits a 1280-px window. The home page's phone screenshot goes
// to docs/screenshots/home.png.
//
// Needs web-client/dist and target/debug/accord.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { createCaseSession } from './lib/case-session.js';
import { ARTIFACTS_DIR, BROWSER_TEST_DIR, startServer } from './lib/server.js';
import { openClient, waitFor } from './lib/web-client.js';

const SCREENSHOT = join(BROWSER_TEST_DIR, '../../docs/screenshots/home.png');

describe('first run', () => {
  let server;
  let world;
  const clients = [];
  const open = async (name, url, opts) => {
    const client = await openClient(name, url, opts);
    clients.push(client);
    return client;
  };

  before(async () => {
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
    server = await startServer({ name: 'first-run' });
    world = await createCaseSession(server);
  });

  after(async () => {
    for (const client of clients) {
      client.saveConsole(join(ARTIFACTS_DIR, `first-run-${client.name}-console.log`));
      await client.close();
    }
    await server?.stop();
  });

  test('the bare address is a home page with every way in, and its join field takes a pasted invite', async () => {
    const phone = await open('home', `${server.httpUrl}/`, { phone: true });
    const page = phone.page;
    await page.getByTestId('home').waitFor({ timeout: 10_000 });
    const text = await page.locator('body').innerText();
    assert.doesNotMatch(text, /链接不完整/);
    assert.match(text, /在线调解/);
    assert.equal(await page.getByTestId('home-apply').getAttribute('href'), '/apply');
    assert.equal(await page.getByTestId('home-track').getAttribute('href'), '/track');
    assert.equal(await page.getByTestId('home-staff').getAttribute('href'), '/staff/login');
    assert.equal(await page.getByLabel('调解员发给您的链接或加入码').count(), 1, 'the join field has a label');
    // Every way in is a big enough target for a thumb.
    for (const id of ['join-code', 'join-go', 'home-apply', 'home-track', 'home-staff']) {
      const box = await page.getByTestId(id).boundingBox();
      assert.ok(box && box.height >= 44, `${id}: ${JSON.stringify(box)}`);
    }
    assert.ok(
      await page.evaluate(() => document.scrollingElement.scrollWidth <= window.innerWidth),
      'the home page fits the phone',
    );
    await page.screenshot({ path: SCREENSHOT });

    // Something that is no invite: said plainly, and nothing happens.
    await page.getByTestId('join-code').fill('123456');
    await page.getByTestId('join-go').tap();
    await page.getByTestId('join-problem').waitFor();
    assert.equal(new URL(page.url()).pathname, '/');

    // English, then back.
    await page.getByTestId('language-switch').tap();
    await waitFor('the page in English', async () => /Join a mediation/.test(await page.locator('body').innerText()), 5_000);
    await page.getByTestId('language-switch').tap();
    await waitFor('the page in Chinese', async () => /参加调解/.test(await page.locator('body').innerText()), 5_000);

    // The whole SMS, pasted: the party's device check.
    await page.getByTestId('join-code').fill(`【调解中心】张三您好，请点击 ${world.links['张三']} 参加调解。`);
    await page.getByTestId('join-go').tap();
    await page.getByTestId('device-check').waitFor({ timeout: 15_000 });
    assert.equal(new URL(page.url()).pathname, '/join');
  });

  test('the device check names the case, not an internal room id', async () => {
    const phone = await open('check', world.links['李四'], { phone: true });
    const page = phone.page;
    await page.getByTestId('device-check').waitFor({ timeout: 15_000 });
    const line = page.getByTestId('session-line');
    await line.waitFor({ timeout: 10_000 });
    const said = await line.innerText();
    assert.match(said, /楼上漏水纠纷/);
    assert.match(said, /宝安区新安街道人民调解委员会/);
    assert.match(said, /李调解员/);
    const text = await page.locator('main').innerText();
    assert.doesNotMatch(text, /room-|调解室：/, text);
  });

  test('every page has an icon: /favicon.ico is an image, and no page logs a 404 for it', async () => {
    const icon = await fetch(`${server.httpUrl}/favicon.ico`);
    assert.equal(icon.status, 200);
    assert.match(icon.headers.get('content-type') ?? '', /^image\//);
    const desk = await open('icon', `${server.httpUrl}/track`);
    await desk.page.getByTestId('track').waitFor();
    const failed = [];
    desk.page.on('response', (r) => r.status() >= 400 && failed.push(`${r.status()} ${r.url()}`));
    await desk.page.reload({ waitUntil: 'load' });
    const href = await desk.page.evaluate(() => document.querySelector('link[rel~=icon]')?.href ?? '');
    assert.ok(href, 'the page links its icon');
    assert.equal((await fetch(href)).status, 200, href);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(failed, []);
  });

  test('the desktop application form fits a 1280-px window', async () => {
    const desk = await open('apply', `${server.httpUrl}/apply`);
    await desk.page.setViewportSize({ width: 1280, height: 800 });
    await desk.page.getByTestId('intake-form').waitFor();
    const width = await desk.page.evaluate(() => document.scrollingElement.scrollWidth);
    assert.ok(width <= 1280, `the page is ${width} px wide`);
  });
});
