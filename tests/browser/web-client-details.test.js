// The web client's finer promises, each in real Chromium against the real server: plain help
// when the camera is refused or missing (per browser), the 1:1 layout with a draggable
// self-view on a phone, the screen wake lock, the codec the device encodes, and simulcast
// layers a publisher stops when nobody watches them.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { ARTIFACTS_DIR, startServer } from './lib/server.js';
import { inbound, joinLink, openClient, pressJoin, waitFor } from './lib/web-client.js';

const UA = {
  wechat:
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 ' +
    'Mobile Safari/537.36 MicroMessenger/8.0.50.2701(0x28003253) NetType/WIFI Language/zh_CN',
  iphone:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) ' +
    'Version/17.5 Mobile/15E148 Safari/604.1',
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let server;
before(async () => {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  server = await startServer({ name: 'web-client-details' });
});
after(async () => {
  await server?.stop();
});

const newRoom = () => `case-${randomBytes(3).toString('hex')}`;
const link = async (room, identity, role = 'party') =>
  joinLink(server, await server.mintToken({ room, identity, name: identity, role }));

describe('device check help', () => {
  for (const [label, opts, expected] of [
    ['refused camera on Chrome for Android', { phone: true, media: 'denied' }, /锁形图标/],
    ['refused camera in WeChat', { phone: true, media: 'denied', userAgent: UA.wechat }, /在浏览器中打开/],
    ['refused camera on iPhone Safari', { phone: true, media: 'denied', userAgent: UA.iphone }, /Safari 浏览器/],
  ]) {
    test(`${label}: plain help in Chinese`, { timeout: 60_000 }, async () => {
      const client = await openClient(`help-${label.split(' ').at(-1)}`, await link(newRoom(), 'p'), opts);
      try {
        const problem = client.page.getByTestId('device-problem');
        await problem.waitFor({ state: 'visible', timeout: 15_000 });
        const text = await problem.innerText();
        assert.match(text, /没有获得摄像头或麦克风的权限/);
        assert.match(text, expected);
        assert.ok(!client.console.some((l) => l.includes('[pageerror]')), client.console.join('\n'));
      } finally {
        await client.close();
      }
    });
  }

  test('no camera or microphone at all: says so, and one can still join to listen', { timeout: 60_000 }, async () => {
    const client = await openClient('help-none', await link(newRoom(), 'p'), { media: 'none' });
    try {
      const problem = client.page.getByTestId('device-problem');
      await problem.waitFor({ state: 'visible', timeout: 15_000 });
      const { title } = await client.page.evaluate(async () => ({ title: document.title }));
      assert.ok(title);
      assert.doesNotMatch(await problem.innerText(), /权限/, 'a missing device is not a permission problem');
      await client.page.getByTestId('join-without-devices').click();
      await waitFor('in the room without devices', async () => (await client.state())?.phase === 'connected', 20_000);
    } finally {
      await client.close();
    }
  });
});

describe('a mediator (desktop) and a party (phone) one to one', () => {
  const people = {};
  const ids = {};

  before(async () => {
    const room = newRoom();
    people.mediator = await openClient('pair-mediator', await link(room, 'mediator', 'mediator'));
    people.party = await openClient('pair-party', await link(room, 'party'), { phone: true });
    for (const client of Object.values(people)) await pressJoin(client);
    for (const [key, client] of Object.entries(people)) ids[key] = (await client.state()).participantId;
    await waitFor('video both ways', async () =>
      inbound(await people.mediator.stats(), ids.party, 'video', 'framesDecoded') > 0 &&
      inbound(await people.party.stats(), ids.mediator, 'video', 'framesDecoded') > 0, 30_000);
  });

  after(async () => {
    for (const [key, client] of Object.entries(people)) {
      client.saveConsole(join(ARTIFACTS_DIR, `details-${key}-console.log`));
      await client.close();
    }
  });

  test('on the phone the other person fills the screen and the self-view is small and draggable', async () => {
    const { page } = people.party;
    const viewport = page.viewportSize();
    const remote = await page.locator(`[data-participant-id="${ids.mediator}"]`).boundingBox();
    const self = page.locator('[data-participant-id="self"]');
    const selfBox = await self.boundingBox();
    assert.ok(remote.width * remote.height > 0.5 * viewport.width * viewport.height, `remote tile ${JSON.stringify(remote)}`);
    assert.ok(selfBox.width * selfBox.height < 0.15 * viewport.width * viewport.height, `self tile ${JSON.stringify(selfBox)}`);

    // Dragged far past the top-left corner, it moves and stays entirely on screen.
    const grab = { x: selfBox.x + selfBox.width / 2, y: selfBox.y + selfBox.height / 2 };
    await page.mouse.move(grab.x, grab.y);
    await page.mouse.down();
    await page.mouse.move(grab.x - 150, grab.y - 200, { steps: 5 });
    await page.mouse.move(-500, -500, { steps: 5 });
    await page.mouse.up();
    const moved = await self.boundingBox();
    assert.ok(Math.abs(moved.x - selfBox.x) > 50 || Math.abs(moved.y - selfBox.y) > 50, `not moved: ${JSON.stringify(moved)}`);
    assert.ok(moved.x >= 0 && moved.y >= 0, `off screen: ${JSON.stringify(moved)}`);
    assert.ok(moved.x + moved.width <= viewport.width && moved.y + moved.height <= viewport.height, `off screen: ${JSON.stringify(moved)}`);
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'room-1to1-phone.png') });
  });

  test('the screen is kept on while in the session', async () => {
    for (const client of Object.values(people)) {
      assert.equal((await client.state()).wakeLock, 'held', `${client.name}: the wake lock is not held`);
    }
  });

  test('without a hardware encoder the camera is sent as VP8 (libvpx)', async () => {
    const video = (await people.mediator.stats()).outbound.filter((s) => s.kind === 'video');
    assert.ok(video.length > 0);
    for (const stream of video) {
      assert.equal(stream.codec, 'video/VP8', JSON.stringify(stream));
      assert.match(stream.encoder ?? '', /libvpx/, JSON.stringify(stream));
    }
  });

  test('the full layer stops while nobody shows it large, and comes back when it is', { timeout: 90_000 }, async () => {
    // The party's phone shows the mediator across its screen: the full layer is wanted, even
    // though Chromium had not started it yet when the server first said what it wanted.
    // Shrinking the phone's window to a stamp leaves only the smallest layer wanted.
    const sent = async () => Object.fromEntries((await people.mediator.stats()).outbound
      .filter((s) => s.kind === 'video').map((s) => [s.rid, s.packetsSent]));
    const growth = async (ms = 2_000) => {
      const before = await sent();
      await sleep(ms);
      const now = await sent();
      return Object.fromEntries(Object.keys(now).map((rid) => [rid, now[rid] - (before[rid] ?? 0)]));
    };
    await waitFor('the full layer to be sent', async () => (await growth(1_000)).f > 10, 30_000, 0);

    const { page } = people.party;
    const full = page.viewportSize();
    await page.setViewportSize({ width: 120, height: 160 });
    const stopped = await waitFor('the full layer to stop', async () => {
      const g = await growth();
      return g.f === 0 ? g : null;
    }, 20_000, 0);
    assert.ok(stopped.q + stopped.h > 10, `the lower layers stopped too: ${JSON.stringify(stopped)}`);

    await page.setViewportSize(full);
    await waitFor('the full layer to come back', async () => (await growth(1_000)).f > 10, 20_000, 0);
  });
});

test('the screen is taken again for staying on when the page comes back from the background', { timeout: 60_000 }, async () => {
  const client = await openClient('wake-lock', await link(newRoom(), 'mediator', 'mediator'), { hideable: true });
  const visibility = () => client.page.evaluate(() => document.visibilityState);
  try {
    await pressJoin(client);
    await waitFor('the wake lock', async () => (await client.state()).wakeLock === 'held', 5_000);
    // The browser lets go of the lock while the page is hidden, as a phone's does.
    await client.setHidden(true);
    await waitFor('the page to be hidden', async () => (await visibility()) === 'hidden', 5_000);
    await waitFor('the lock to be let go', async () => (await client.state()).wakeLock === 'released', 5_000);
    await client.setHidden(false);
    await waitFor('the page to be visible', async () => (await visibility()) === 'visible', 5_000);
    await waitFor('the wake lock to be held again', async () => (await client.state()).wakeLock === 'held', 5_000);
    assert.ok(!client.console.some((l) => l.includes('[pageerror]')), client.console.join('\n'));
  } finally {
    client.saveConsole(join(ARTIFACTS_DIR, 'details-wake-lock-console.log'));
    await client.close();
  }
});
