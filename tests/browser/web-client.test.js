// The product web client in real Chromium against the real server (which serves the client
// itself): three people in one room (a desktop and two phones), simulcast layers by tile size,
// reconnection into the same seat, a bad link, and screenshots for people to look at.
//
// Needs web-client/dist (npm run build in web-client/; scripts/test-all.sh does it) and
// target/debug/accord. Screenshots land in tests/browser/artifacts/.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { ARTIFACTS_DIR, startServer } from './lib/server.js';
import { inbound, joinLink, openClient, pressJoin, waitFor } from './lib/web-client.js';

const shot = (client, file) => client.page.screenshot({ path: join(ARTIFACTS_DIR, file) });

describe('web client: a desktop and two phones in one room', () => {
  let server;
  const people = {};
  const ids = {};

  before(async () => {
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
    server = await startServer({ name: 'web-client' });
    const room = `case-${randomBytes(3).toString('hex')}`;
    const cast = [
      { key: 'mediator', identity: 'mediator-1', name: '李调解员', role: 'mediator', phone: false },
      { key: 'alice', identity: 'party-1', name: '张三', role: 'party', phone: true },
      { key: 'bob', identity: 'party-2', name: '王五', role: 'party', phone: true },
    ];
    for (const who of cast) {
      const token = await server.mintToken({ room, identity: who.identity, name: who.name, role: who.role });
      people[who.key] = await openClient(who.key, joinLink(server, token), { phone: who.phone });
    }
    await people.mediator.page.getByTestId('device-check').waitFor();
    await waitFor('the QR code', () => people.mediator.page.getByTestId('join-qr').isVisible(), 5_000);
    await waitFor('a live self-view', () =>
      people.alice.page.getByTestId('self-view').evaluate((v) => v.videoWidth > 0), 15_000);
    await shot(people.mediator, 'device-check-desktop.png');
    await shot(people.alice, 'device-check-phone.png');
    for (const client of Object.values(people)) await pressJoin(client);
    for (const [key, client] of Object.entries(people)) ids[key] = (await client.state()).participantId;
  });

  after(async () => {
    for (const [key, client] of Object.entries(people)) {
      client.saveConsole(join(ARTIFACTS_DIR, `web-client-${key}-console.log`));
      await client.close();
    }
    await server?.stop();
  });

  test('each sees the two others’ video and hears their audio', { timeout: 60_000 }, async () => {
    for (const [key, client] of Object.entries(people)) {
      const others = Object.keys(people).filter((k) => k !== key);
      const first = await waitFor(`${key} to receive video from ${others}`, async () => {
        const s = await client.stats();
        return others.every((o) => inbound(s, ids[o], 'video', 'framesDecoded') > 0) ? s : null;
      }, 30_000);
      // Playing, not just started: more frames and packets from each other person. The wait is
      // generous because a receiver's first frames are often the low layer, and the switch up
      // waits for the publisher's next keyframe (a loaded machine once took over 1.5 s).
      const grows = (s, other, kind, field) => inbound(s, ids[other], kind, field) > inbound(first, ids[other], kind, field);
      const second = await waitFor(`${key}: video and audio from ${others} to keep coming`, async () => {
        const s = await client.stats();
        return others.every((o) => grows(s, o, 'video', 'framesDecoded') && grows(s, o, 'audio', 'packetsReceived')) ? s : null;
      }, 10_000, 250).catch(() => client.stats());
      for (const other of others) {
        assert.ok(grows(second, other, 'video', 'framesDecoded'), `${key}: video from ${other} is not playing`);
        assert.ok(grows(second, other, 'audio', 'packetsReceived'), `${key}: audio from ${other} is not arriving`);
      }
      // Audio in the SDP we sent asks for DTX and in-band FEC.
      assert.match(second.localSdp, /usedtx=1/);
      assert.match(second.localSdp, /useinbandfec=1/);
    }
    await shot(people.mediator, 'room-3-desktop.png');
    await shot(people.alice, 'room-3-phone.png');
  });

  test('desktop publishes three simulcast layers, phones two', async () => {
    const rids = async (c) => (await c.stats()).outbound.filter((s) => s.kind === 'video').map((s) => s.rid).sort();
    assert.deepEqual(await rids(people.mediator), ['f', 'h', 'q']);
    assert.deepEqual(await rids(people.alice), ['f', 'h']);
  });

  test('a phone-sized tile receives a lower layer than a desktop spotlight tile', { timeout: 40_000 }, async () => {
    // The desktop pins the phone publisher `alice` large; `bob` shows her in a phone grid tile.
    await people.mediator.page.locator(`[data-participant-id="${ids.alice}"]`).click();
    const widths = await waitFor('the spotlight to get a larger layer than the phone tile', async () => {
      const spotlight = inbound(await people.mediator.stats(), ids.alice, 'video', 'frameWidth');
      const phoneTile = inbound(await people.bob.stats(), ids.alice, 'video', 'frameWidth');
      return spotlight > phoneTile && phoneTile > 0 ? { spotlight, phoneTile } : null;
    }, 30_000, 500);
    assert.ok(widths.spotlight > widths.phoneTile, JSON.stringify(widths));
    await people.mediator.page.locator(`[data-participant-id="${ids.alice}"]`).click(); // unpin
  });

  test('a mute shows on the others’ screens within 1 s', async () => {
    await people.bob.page.getByTestId('toggle-mic').click();
    const started = Date.now();
    for (const key of ['mediator', 'alice']) {
      await waitFor(`${key} to show bob muted`, () =>
        people[key].page.locator(`[data-participant-id="${ids.bob}"] [data-testid=muted-badge]`).isVisible(), 1_000, 50);
    }
    assert.ok(Date.now() - started <= 1_000);
    await people.bob.page.getByTestId('toggle-mic').click();
  });

  test('a phone sent to the background shows as paused to the others and comes back by itself', { timeout: 30_000 }, async () => {
    // Headless Chromium keeps every page visible (no CDP call hides one), so the page is told it
    // is hidden the way a phone's browser tells it: document.visibilityState and the event.
    const setHidden = (hidden) => people.bob.page.evaluate((h) => {
      if (h) Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
      else delete document.visibilityState;
      document.dispatchEvent(new Event('visibilitychange'));
    }, hidden);
    const bobTile = people.mediator.page.locator(`[data-participant-id="${ids.bob}"]`);
    // Frames, not packets: a sender without a track still pads for bandwidth probing.
    const bobVideoSent = async () => (await people.bob.stats()).outbound
      .filter((s) => s.kind === 'video').reduce((n, s) => n + s.framesEncoded, 0);
    const bobAudioSent = async () => (await people.bob.stats()).outbound
      .filter((s) => s.kind === 'audio').reduce((n, s) => n + s.packetsSent, 0);

    await setHidden(true);
    await waitFor('the mediator to see bob paused', () => bobTile.locator('[data-testid=paused-badge]').isVisible(), 3_000, 50);
    assert.match(await bobTile.innerText(), /已暂停/);
    // The camera stops, the microphone goes on (a call may be short; the others still hear).
    await new Promise((r) => setTimeout(r, 1_000));
    const [video0, audio0] = [await bobVideoSent(), await bobAudioSent()];
    await new Promise((r) => setTimeout(r, 2_000));
    assert.equal((await bobVideoSent()) - video0, 0, 'bob still sends video in the background');
    assert.ok((await bobAudioSent()) > audio0, 'bob stopped sending audio in the background');

    await setHidden(false);
    await waitFor('the paused badge to go', async () => (await bobTile.locator('[data-testid=paused-badge]').count()) === 0, 5_000);
    const seen = inbound(await people.mediator.stats(), ids.bob, 'video', 'framesDecoded');
    await waitFor('bob\'s video to play again', async () =>
      inbound(await people.mediator.stats(), ids.bob, 'video', 'framesDecoded') > seen + 5, 10_000);
    assert.deepEqual((await people.mediator.state()).leftSeen, [], 'the mediator saw a leave');
  });

  test('after a 3 s network drop the phone is back in the same seat with video flowing, unseen by the others', { timeout: 40_000 }, async () => {
    // Simulated in the page (ACCORD.simulateNetworkDrop): the WebSocket is dropped, reconnecting
    // waits out 3 s, and the page stops sending media meanwhile. Incoming UDP cannot be blocked
    // from inside the page, so ICE consent keeps working: this tests resume, not ICE restart.
    const before = await people.alice.state();
    const started = Date.now();
    await people.alice.page.evaluate(() => window.ACCORD.simulateNetworkDrop(3_000));
    await waitFor('alice to notice', async () => (await people.alice.state()).phase === 'reconnecting', 2_000, 50);
    const aliceTile = (key) => people[key].page.locator(`[data-participant-id="${ids.alice}"]`);
    // Meanwhile the others see her seat kept and marked "reconnecting", not an empty chair.
    await waitFor('the mediator to see alice reconnecting', () =>
      aliceTile('mediator').locator('[data-testid=reconnecting-badge]').isVisible(), 2_500, 50);
    assert.match(await aliceTile('mediator').innerText(), /重连中/);
    await waitFor('alice back in the room', async () => (await people.alice.state()).phase === 'connected', 10_000);
    await waitFor('the badge to go', async () =>
      (await aliceTile('mediator').locator('[data-testid=reconnecting-badge]').count()) === 0, 3_000);
    const framesAt = inbound(await people.alice.stats(), ids.mediator, 'video', 'framesDecoded');
    const seenAt = inbound(await people.mediator.stats(), ids.alice, 'video', 'framesDecoded');
    await waitFor('video flowing both ways again', async () =>
      inbound(await people.alice.stats(), ids.mediator, 'video', 'framesDecoded') > framesAt &&
      inbound(await people.mediator.stats(), ids.alice, 'video', 'framesDecoded') > seenAt + 5,
    10_000 - (Date.now() - started) + 3_000);
    assert.ok(Date.now() - started < 13_000, 'back within 10 s of the network returning');
    assert.equal((await people.alice.state()).participantId, before.participantId, 'same seat');
    for (const key of ['mediator', 'bob']) {
      assert.deepEqual((await people[key].state()).leftSeen, [], `${key} saw a leave`);
    }
  });

  test('one leaves and its tile disappears for the others', { timeout: 20_000 }, async () => {
    await people.bob.page.getByTestId('leave').click();
    for (const key of ['mediator', 'alice']) {
      await waitFor(`${key} to drop bob's tile`, async () =>
        (await people[key].page.locator(`[data-participant-id="${ids.bob}"]`).count()) === 0, 10_000);
    }
    await people.bob.page.getByTestId('message-screen').waitFor({ timeout: 5_000 });
  });
});

test('a bad link shows a clear localized message, never a blank page', { timeout: 60_000 }, async () => {
  const server = await startServer({ name: 'web-client-bad-link' });
  const zh = await openClient('bad-link-zh', `${server.httpUrl}/join#token=not-a-token`);
  const en = await openClient('bad-link-en', `${server.httpUrl}/join`, { locale: 'en-US' });
  try {
    await zh.page.getByTestId('message-screen').waitFor();
    assert.match(await zh.page.getByTestId('message-screen').innerText(), /链接无效/);
    await en.page.getByTestId('message-screen').waitFor();
    assert.match(await en.page.getByTestId('message-screen').innerText(), /link is incomplete/);
  } finally {
    await zh.close();
    await en.close();
    await server.stop();
  }
});

test('join → first remote frame: measured over several runs (recorded in docs/benchmarks.md)', { timeout: 180_000 }, async (t) => {
  const RUNS = 5;
  const server = await startServer({ name: 'web-client-join-time' });
  const room = `bench-${randomBytes(3).toString('hex')}`;
  const host = await openClient('bench-host', joinLink(server, await server.mintToken({ room, identity: 'host', name: '调解员' })));
  const samples = [];
  try {
    await pressJoin(host);
    for (let run = 0; run < RUNS; run++) {
      const token = await server.mintToken({ room, identity: `guest-${run}`, name: `当事人${run}` });
      const guest = await openClient(`bench-guest-${run}`, joinLink(server, token), { phone: run % 2 === 1 });
      try {
        await guest.page.getByTestId('join').waitFor({ state: 'visible' });
        await waitFor('devices', () => guest.page.getByTestId('join').isEnabled(), 15_000);
        await guest.page.getByTestId('join').click();
        // Both times are the page's performance.now(): the click handler's and the first frame
        // presented by the remote tile's <video> (requestVideoFrameCallback).
        const s = await waitFor('the first remote frame', async () => {
          const st = await guest.state();
          return st?.firstRemoteFrameAt != null ? st : null;
        }, 15_000, 20);
        samples.push(s.firstRemoteFrameAt - s.joinPressedAt);
        await guest.page.getByTestId('leave').click();
      } finally {
        await guest.close();
      }
    }
  } finally {
    await host.close();
    await server.stop();
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const p50 = sorted[Math.floor(sorted.length / 2)];
  const result = { runs: samples.map(Math.round), p50: Math.round(p50), max: Math.round(sorted.at(-1)) };
  writeFileSync(join(ARTIFACTS_DIR, 'join-to-first-frame.json'), JSON.stringify(result, null, 2) + '\n');
  t.diagnostic(`join → first remote frame (ms): ${JSON.stringify(result)}`);
  assert.equal(samples.length, RUNS);
  // The target is 1 s on loopback; fail only well past it so a loaded CI machine does not flake.
  assert.ok(p50 < 3_000, `p50 ${p50} ms`);
});
