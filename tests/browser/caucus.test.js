// Back-to-back mediation (背对背) in real Chromium: a mediator on a desktop and two parties on
// phone viewports. Each party consents and waits; the mediator admits them from the console;
// they see and hear each other in the joint room; the mediator separates the sides with one
// tap. While separated, each phone's getStats and the SFU's per-subscriber counts show zero
// packets from the other side, and each phone says where it is and, once (in the banner),
// where the mediator is: coming, while still alone in the joint room; with the other side
// once there. After "everyone back", both sides receive each other again.
//
// Needs web-client/dist, target/debug/accord and ffmpeg.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { createCaseSession } from './lib/case-session.js';
import { ARTIFACTS_DIR, startServer } from './lib/server.js';
import { joinAndWait, openClient, openConsole, pressJoin, waitFor, waitInRoom } from './lib/web-client.js';

/** Packets received per inbound mid. */
async function packetsByMid(client) {
  const stats = await client.stats();
  return Object.fromEntries((stats?.inbound ?? []).filter((s) => s.mid).map((s) => [s.mid, s.packetsReceived]));
}

/** The mids on which `client` receives `fromId`'s media. */
async function midsFrom(client, fromId) {
  const stats = await client.stats();
  return (stats?.inbound ?? []).filter((s) => s.from?.startsWith(`${fromId}/`)).map((s) => s.mid);
}

const sum = (counts, mids) => mids.reduce((n, mid) => n + (counts[mid] ?? 0), 0);

/** Packets the SFU forwarded to `to` from `from`. */
function forwarded(report, to, from) {
  const subscriber = report.subscribers.find((s) => s.participant_id === to);
  return subscriber?.received_from.find((r) => r.participant_id === from)?.packets ?? 0;
}

describe('back-to-back mediation', () => {
  let server;
  let world;
  const clients = [];

  before(async () => {
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
    server = await startServer({ name: 'caucus' });
    world = await createCaseSession(server);
  });

  after(async () => {
    for (const client of clients) {
      client.saveConsole(join(ARTIFACTS_DIR, `caucus-${client.name}-console.log`));
      await client.close();
    }
    await server?.stop();
  });

  test('the sides are isolated while separated and together again after', async () => {
    const mediator = await openClient('mediator', world.mediatorLink);
    const applicant = await openClient('applicant', world.links['张三'], { phone: true });
    const respondent = await openClient('respondent', world.links['李四'], { phone: true });
    clients.push(mediator, applicant, respondent);
    await pressJoin(mediator);

    // Waiting room: each phone consents and waits; the mediator sees them and admits.
    await joinAndWait(applicant);
    await joinAndWait(respondent);
    await applicant.page.screenshot({ path: join(ARTIFACTS_DIR, 'caucus-waiting-phone.png') });
    await openConsole(mediator);
    await waitFor('both parties in the waiting list', async () => (await mediator.state())?.waiting?.length === 2, 10_000);
    await mediator.page.screenshot({ path: join(ARTIFACTS_DIR, 'caucus-waiting-console.png') });
    await mediator.page.getByTestId('admit-all').click();
    await waitInRoom(applicant);
    await waitInRoom(respondent);

    const aId = (await applicant.state()).participantId;
    const bId = (await respondent.state()).participantId;
    await waitFor('each side receiving the other', async () => {
      const a = await applicant.stats();
      const b = await respondent.stats();
      const got = (stats, from) => (stats?.inbound ?? []).filter((s) => s.from?.startsWith(`${from}/`) && s.packetsReceived > 50).length;
      return got(a, bId) === 2 && got(b, aId) === 2;
    }, 20_000);
    const bAtA = await midsFrom(applicant, bId);
    const aAtB = await midsFrom(respondent, aId);

    // One tap separates the sides.
    await mediator.page.getByTestId('separate-sides').click();
    await waitFor('both phones in their private rooms', async () => (await applicant.state())?.space === 'applicant' && (await respondent.state())?.space === 'respondent', 5_000);
    // The mediator is still alone in the joint room: neither side is told "with the other side".
    const awayText = async (client) => {
      const banner = client.page.getByTestId('mediator-elsewhere');
      return (await banner.count()) ? banner.innerText() : '';
    };
    const stageText = (client) => client.page.evaluate(() => document.querySelector('.stage')?.dataset.waitingText ?? '');
    await waitFor('each phone told the mediator will come', async () => /稍后/.test(await awayText(applicant)) && /稍后/.test(await awayText(respondent)), 5_000);
    for (const client of [applicant, respondent]) {
      assert.doesNotMatch(await awayText(client), /另一方/, `${client.name} told the mediator is with the other side while alone in the joint room`);
      assert.doesNotMatch(await stageText(client), /调解员/, `${client.name}: said once, in the banner`);
    }
    await mediator.page.getByTestId('go-respondent').click();
    await waitFor('the applicant told the mediator is with the other side', async () => (await applicant.state())?.mediatorElsewhere === true, 5_000);
    await waitFor('the banner says so', async () => /另一方单独沟通/.test(await awayText(applicant)), 5_000);
    assert.doesNotMatch(await stageText(applicant), /调解员/, 'said once, in the banner, not again on the stage');
    assert.equal(await awayText(respondent), '', 'the respondent has the mediator with them');
    await applicant.page.screenshot({ path: join(ARTIFACTS_DIR, 'caucus-separated-phone.png') });
    await mediator.page.screenshot({ path: join(ARTIFACTS_DIR, 'caucus-separated-console.png') });
    await new Promise((r) => setTimeout(r, 500));

    const aBefore = await packetsByMid(applicant);
    const bBefore = await packetsByMid(respondent);
    const sfuBefore = await world.get(`/api/v1/sessions/${world.sessionId}/media`);
    await new Promise((r) => setTimeout(r, 3_000));
    const aAfter = await packetsByMid(applicant);
    const bAfter = await packetsByMid(respondent);
    const sfuAfter = await world.get(`/api/v1/sessions/${world.sessionId}/media`);

    assert.equal(sum(aAfter, bAtA) - sum(aBefore, bAtA), 0, "the applicant's phone received the respondent's media while separated");
    assert.equal(sum(bAfter, aAtB) - sum(bBefore, aAtB), 0, "the respondent's phone received the applicant's media while separated");
    assert.equal(forwarded(sfuAfter, aId, bId) - forwarded(sfuBefore, aId, bId), 0, 'the SFU forwarded B to A');
    assert.equal(forwarded(sfuAfter, bId, aId) - forwarded(sfuBefore, bId, aId), 0, 'the SFU forwarded A to B');
    const mediatorId = (await mediator.state()).participantId;
    assert.ok(
      forwarded(sfuAfter, bId, mediatorId) > forwarded(sfuBefore, bId, mediatorId),
      'the respondent hears the mediator in their room',
    );
    const aSees = (await applicant.state()).participants;
    assert.ok(!aSees.includes(bId), `the applicant's list has nobody of side B: ${aSees}`);

    // Everyone back together.
    await mediator.page.getByTestId('gather').click();
    await waitFor('both phones back in the joint room', async () => (await applicant.state())?.space === 'joint' && (await respondent.state())?.space === 'joint', 5_000);
    // Whatever receivers carry the other side now, their packets grow again.
    const fromOther = async (client, otherId) => ((await client.stats())?.inbound ?? [])
      .filter((s) => s.from?.startsWith(`${otherId}/`))
      .reduce((n, s) => n + s.packetsReceived, 0);
    const aBase = await fromOther(applicant, bId);
    const bBase = await fromOther(respondent, aId);
    await waitFor('each side receiving the other again', async () =>
      (await fromOther(applicant, bId)) - aBase > 50 && (await fromOther(respondent, aId)) - bBase > 50, 30_000);
    const timeline = await world.get(`/api/v1/sessions/${world.sessionId}/timeline`);
    const kinds = timeline.items.map((e) => e.kind);
    for (const kind of ['consent', 'waiting', 'admitted', 'moved']) assert.ok(kinds.includes(kind), `${kind} in ${kinds}`);
  });
});
