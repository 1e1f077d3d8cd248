// Reconnection when the network really goes away: one phone's Chromium runs in a network
// namespace of its own whose link the test cuts for 3 s, so its WebSocket, its media and its
// ICE consent checks all stop both ways (web-client.test.js only simulates this inside the
// page, which cannot block UDP). The phone must come back into the same seat with video
// flowing within 10 s of the network returning, and the others must never see it leave.
//
// Needs root (for `ip netns`), web-client/dist and target/debug/accord. The measured times
// land in tests/browser/artifacts/reconnect.json.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { createNetns } from './lib/netns.js';
import { ARTIFACTS_DIR, startServer } from './lib/server.js';
import { inbound, joinLink, openClient, pressJoin, waitFor } from './lib/web-client.js';

const OUTAGE_MS = 3_000;
const MOVE_OUTAGE_MS = 5_000;
const BACK_WITHIN_MS = 10_000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Records each change of a client's connection phase and ICE state, for the artifact. */
function watchPhases(client) {
  const started = Date.now();
  const changes = [];
  let last = '';
  let stopped = false;
  const poll = async () => {
    while (!stopped) {
      const state = await client.state().catch(() => null);
      const now = `${state?.phase} ice=${state?.iceState} ICE restarts=${state?.iceRestarts} seat=${state?.participantId}`;
      if (now !== last) changes.push(`${Date.now() - started} ms: ${(last = now)}`);
      await sleep(50);
    }
  };
  const done = poll();
  return {
    changes,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

describe('a phone whose network really drops for 3 s', () => {
  let ns;
  let server;
  const people = {};
  const ids = {};

  before(async () => {
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
    ns = createNetns('reconnect');
    // Only the namespace's link address: reachable from the namespace and from this machine,
    // from no other network.
    server = await startServer({
      name: 'reconnect',
      env: { ACCORD_HTTP_LISTEN: `${ns.hostAddress}:0`, ACCORD_MEDIA_LISTEN: `${ns.hostAddress}:0` },
    });
    const room = `case-${randomBytes(3).toString('hex')}`;
    const cast = [
      { key: 'mediator', identity: 'mediator-1', name: '李调解员', role: 'mediator', phone: false },
      { key: 'alice', identity: 'party-1', name: '张三', role: 'party', phone: true, namespaced: true },
      { key: 'bob', identity: 'party-2', name: '王五', role: 'party', phone: true },
    ];
    for (const who of cast) {
      const token = await server.mintToken({ room, identity: who.identity, name: who.name, role: who.role });
      people[who.key] = await openClient(`reconnect-${who.key}`, joinLink(server, token), {
        phone: who.phone,
        executablePath: who.namespaced ? ns.chromiumWrapper() : undefined,
      });
    }
    for (const client of Object.values(people)) await pressJoin(client);
    for (const [key, client] of Object.entries(people)) ids[key] = (await client.state()).participantId;
    for (const [key, client] of Object.entries(people)) {
      const others = Object.keys(people).filter((k) => k !== key);
      await waitFor(`${key} to receive video from ${others}`, async () => {
        const s = await client.stats();
        return others.every((o) => inbound(s, ids[o], 'video', 'framesDecoded') > 0);
      }, 30_000);
    }
  });

  after(async () => {
    for (const [key, client] of Object.entries(people)) {
      client.saveConsole(join(ARTIFACTS_DIR, `reconnect-${key}-console.log`));
      await client.close();
    }
    await server?.stop();
    ns?.destroy();
  });

  /**
   * Cuts alice's network for `outageMs`, kills her socket, restores the network and checks she
   * is back in her seat with video flowing both ways within BACK_WITHIN_MS, unseen by the
   * others. Returns the measurements (also written to `artifact`).
   */
  async function dropAndReturn(outageMs, artifact, { newAddress = false } = {}) {
    const { alice, mediator } = people;
    const fromAlice = async () => inbound(await mediator.stats(), ids.alice, 'video', 'packetsReceived');
    const before = await alice.state();
    const timeline = watchPhases(alice);
    const result = { outageMs: null, networkBackToConnectedMs: null, networkBackToVideoFlowingMs: null };
    try {
      // The network goes first, so not even the socket's close frame reaches the server; the
      // socket is then killed as the phone's own watchdog would once it noticed.
      ns.cut();
      const cutAt = Date.now();
      await alice.page.evaluate(() => window.ACCORD.dropSocket());
      await waitFor('alice to notice the drop', async () => (await alice.state()).phase === 'reconnecting', 2_000, 50);

      // The cut is real: nothing of alice's reaches the mediator while it lasts.
      await sleep(1_000 - (Date.now() - cutAt));
      const duringCut = await fromAlice();
      await sleep(outageMs - 500 - (Date.now() - cutAt));
      assert.equal(await fromAlice(), duringCut, 'media from alice still arrives: the network is not cut');

      await sleep(outageMs - (Date.now() - cutAt));
      result.iceStateDuringOutage = (await alice.state()).iceState;
      await ns.restore({ newAddress });
      const restoredAt = Date.now();
      result.outageMs = restoredAt - cutAt;
      const framesAt = inbound(await alice.stats(), ids.mediator, 'video', 'framesDecoded');
      const seenAt = inbound(await mediator.stats(), ids.alice, 'video', 'framesDecoded');

      await waitFor('alice back in the room', async () => (await alice.state()).phase === 'connected', BACK_WITHIN_MS, 50);
      result.networkBackToConnectedMs = Date.now() - restoredAt;
      assert.equal((await alice.state()).participantId, before.participantId, 'alice came back into a different seat');
      await waitFor('video flowing both ways again', async () => {
        result.framesDecoded = {
          byAliceFromMediator: [framesAt, inbound(await alice.stats(), ids.mediator, 'video', 'framesDecoded')],
          byMediatorFromAlice: [seenAt, inbound(await mediator.stats(), ids.alice, 'video', 'framesDecoded')],
        };
        const { byAliceFromMediator: [a0, a1], byMediatorFromAlice: [m0, m1] } = result.framesDecoded;
        return a1 > a0 && m1 > m0 + 5;
      }, BACK_WITHIN_MS - (Date.now() - restoredAt), 50);
      result.networkBackToVideoFlowingMs = Date.now() - restoredAt;
    } finally {
      await timeline.stop();
      const after = await alice.state().catch(() => null);
      result.iceRestarts = (after?.iceRestarts ?? 0) - before.iceRestarts;
      result.alice = timeline.changes;
      writeFileSync(join(ARTIFACTS_DIR, artifact), JSON.stringify(result, null, 2) + '\n');
    }
    for (const key of ['mediator', 'bob']) {
      assert.deepEqual((await people[key].state()).leftSeen, [], `${key} saw a leave`);
    }
    return result;
  }

  test('the phone is back in the same seat with video flowing within 10 s, unseen by the others', { timeout: 60_000 }, async (t) => {
    const result = await dropAndReturn(OUTAGE_MS, 'reconnect.json');
    t.diagnostic(`network back → video flowing: ${result.networkBackToVideoFlowingMs} ms ` +
      `(connected after ${result.networkBackToConnectedMs} ms, ICE restarts: ${result.iceRestarts})`);
  });

  test('back on another address after 5 s, it restarts ICE and keeps its seat', { timeout: 60_000 }, async (t) => {
    // A phone moving from Wi-Fi to mobile data: the old path cannot come back, so only an
    // ICE restart (new candidates, new credentials) brings media back.
    const result = await dropAndReturn(MOVE_OUTAGE_MS, 'reconnect-ice-restart.json', { newAddress: true });
    t.diagnostic(`after ${result.outageMs} ms: network back → video flowing: ${result.networkBackToVideoFlowingMs} ms ` +
      `(ICE during the outage: ${result.iceStateDuringOutage}, ICE restarts: ${result.iceRestarts})`);
    assert.ok(result.iceRestarts >= 1, `no ICE restart (ICE during the outage: ${result.iceStateDuringOutage})`);
  });
});
