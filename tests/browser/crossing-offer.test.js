// A party whose phone hears the server's offer before it makes its own first offer (a busy
// phone that takes long to open its camera, admitted right after someone already publishing)
// must still reach everyone: its camera decoded by the others, its packets going out.
//
// The order is forced, not left to timing: the party's page holds its first offer until the
// server's offer has arrived (window.ACCORD_TEST_OPTIONS.holdFirstOffer, see
// Engine.holdFirstOfferForTest). Before the fix the server numbered its RTP header extensions
// differently from Chromium (sdes:mid as id 2, which Chromium uses for abs-send-time), and
// every later offer of the party failed with "A BUNDLE group contains a codec collision for
// header extension id=2": its camera and microphone never went out.
//
// The same phone then opens the chat drawer while the room shows it toasts: the drawer's
// close button stays reachable (toasts never cover a drawer; issue 12, item 16).
//
// Needs web-client/dist and target/debug/accord (or $ACCORD_BIN).

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { createCaseSession } from './lib/case-session.js';
import { ARTIFACTS_DIR, startServer } from './lib/server.js';
import { inbound, joinAndWait, openClient, openConsole, pressJoin, waitFor, waitInRoom } from './lib/web-client.js';

const outboundPackets = (stats, kind) =>
  (stats?.outbound ?? []).filter((s) => s.kind === kind).reduce((n, s) => n + s.packetsSent, 0);

describe('a party whose first offer crosses the server’s offer', () => {
  let server;
  const people = {};

  before(async () => {
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
    server = await startServer({ name: 'crossing-offer' });
    const world = await createCaseSession(server);
    // The links name the configured public address; this server listens on a port of its own.
    const here = (link) => `${server.httpUrl}${new URL(link).pathname}${new URL(link).hash}`;
    people.mediator = await openClient('mediator', here(world.mediatorLink));
    await pressJoin(people.mediator);
    // Publishing before the party comes: the server then has something to offer the party.
    await waitFor('the mediator to publish', async () => outboundPackets(await people.mediator.stats(), 'video') > 0, 20_000);
    people.party = await openClient('party', here(world.links['张三']), {
      phone: true,
      initScript: () => {
        window.ACCORD_TEST_OPTIONS = { holdFirstOffer: true };
      },
    });
    await joinAndWait(people.party);
    await openConsole(people.mediator);
    await waitFor('the party in the waiting list', async () => (await people.mediator.state())?.waiting?.length === 1, 10_000);
    await people.mediator.page.getByTestId('admit-all').click();
    await waitInRoom(people.party);
  });

  /** Read afresh: a rebuilt connection is a new seat, with a new participant id. */
  const id = async (key) => (await people[key].state()).participantId;

  after(async () => {
    for (const [key, client] of Object.entries(people)) {
      client.saveConsole(join(ARTIFACTS_DIR, `crossing-offer-${key}-console.log`));
      await client.close();
    }
    await server?.stop();
  });

  test('the server’s offer really came first', { timeout: 30_000 }, async () => {
    const n = await waitFor('the party to have had the server’s offer', async () => {
      const s = (await people.party.state()).negotiation;
      return s?.firstServerOfferAt != null ? s : null;
    }, 20_000);
    assert.ok(n.firstOfferSentAt === null || n.firstServerOfferAt < n.firstOfferSentAt, JSON.stringify(n));
  });

  test('the party’s camera is decoded by the mediator and its packets go out', { timeout: 60_000 }, async () => {
    const decoded = async () => inbound(await people.mediator.stats(), await id('party'), 'video', 'framesDecoded');
    const first = await waitFor('the mediator to decode the party’s video', async () => {
      const frames = await decoded();
      return frames > 0 ? frames : null;
    }, 30_000).catch(async (err) => {
      const party = await people.party.state();
      throw new Error(`${err.message}; party negotiation ${JSON.stringify(party.negotiation)}, publishing ${party.publishing}`);
    });
    const sentBefore = await people.party.stats();
    await new Promise((r) => setTimeout(r, 2_000));
    const sentAfter = await people.party.stats();
    assert.ok((await decoded()) > first, 'the party’s video stopped playing at the mediator');
    for (const kind of ['audio', 'video']) {
      assert.ok(outboundPackets(sentAfter, kind) > outboundPackets(sentBefore, kind), `the party sends no ${kind}`);
    }
    assert.ok(inbound(sentAfter, await id('mediator'), 'video', 'framesDecoded') > 0, 'the party does not see the mediator');
    const party = await people.party.state();
    console.log(`party negotiation: ${JSON.stringify(party.negotiation)}, publishing ${party.publishing}`);
    // Reached without repairs: the browser took every offer of the party's.
    assert.equal(party.negotiation.failedOffers, 0, 'the browser refused an offer of the party');
    assert.equal(party.negotiation.rebuilds, 0, 'the party’s connection had to be rebuilt');
    assert.equal(party.publishing, 'sending');
  });

  test('toasts never cover the open chat drawer’s close button on a phone', { timeout: 30_000 }, async () => {
    const { page } = people.party;
    await page.getByTestId('chat-open').click();
    await page.getByTestId('chat-close').waitFor({ state: 'visible' });
    // Four notices at once, as a mediator's taps bring them: two stopped devices, two requests.
    const party = await id('party');
    for (const source of ['microphone', 'camera']) {
      await people.mediator.page.evaluate(([id, s]) => window.ACCORD.send({ type: 'mute_participant', participant_id: id, source: s }), [party, source]);
      await people.mediator.page.evaluate(([id, s]) => window.ACCORD.send({ type: 'ask_unmute', participant_id: id, source: s }), [party, source]);
    }
    await waitFor('four toasts on the phone', async () => (await page.locator('.toast').count()) >= 4, 10_000);
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'crossing-offer-drawer-toasts-phone.png') });
    const onTop = await page.getByTestId('chat-close').evaluate((button) => {
      const r = button.getBoundingClientRect();
      const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
      return hit === button || button.contains(hit) ? 'button' : `${hit?.tagName}.${hit?.className}`;
    });
    assert.equal(onTop, 'button', 'something covers the chat drawer’s close button');
    await page.getByTestId('chat-close').click({ timeout: 2_000 });
    await page.getByTestId('chat-panel').waitFor({ state: 'hidden' });
  });
});
