// A phone's network changes under it while its signaling stays up: the UDP path of its media
// is cut for 3 s and comes back through a new port, as when a NAT rebinds or the phone hops
// between Wi-Fi access points. Its WebSocket is untouched, so the server still hears from
// it; what must bring the media back is an ICE restart (asked for by the server when it saw
// the media go silent or move, or started by the phone itself), within 5 s of the path
// returning, in the same seat, without anyone seeing the phone leave.
//
// The cut is real: the server announces only the impairment proxy (lib/impair.js) as its ICE
// candidate, and the proxy drops everything of the phone's flow both ways, then restores it
// on a new upstream socket. No root or netem needed.
//
// Needs web-client/dist, target/debug/accord and target/debug/accord-impair. The times land
// in tests/browser/artifacts/network-change.json.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { selectedPair, startRoomBehindProxy } from './lib/impair.js';
import { ARTIFACTS_DIR } from './lib/server.js';
import { inbound, waitFor } from './lib/web-client.js';

const OUTAGE_MS = 3_000;
/** The acceptance criterion: back within this long after the path returns. */
const BACK_WITHIN_MS = 5_000;
/** How long the test waits for recovery at all, so that a slow one is measured, not cut off. */
const GIVE_UP_MS = 30_000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Records each change of a client's connection phase and ICE state, for the artifact. */
function watchPhases(client, origin) {
  const changes = [];
  const phases = new Set();
  let last = '';
  let stopped = false;
  const poll = async () => {
    while (!stopped) {
      const s = await client.state().catch(() => null);
      if (s) {
        phases.add(s.phase);
        const now = `${s.phase} ice=${s.iceState} restarts=${s.iceRestarts} asked=${s.iceRestartRequests} seat=${s.participantId}`;
        if (now !== last) changes.push(`${Date.now() - origin} ms: ${(last = now)}`);
      }
      await sleep(50);
    }
  };
  const done = poll();
  return {
    changes,
    phases,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

describe("the participant's UDP path is cut and restored on a new port", () => {
  let world;
  let impair;
  let people;
  let ids;
  let flows;
  const result = {};

  before(async () => {
    world = await startRoomBehindProxy('network-change');
    ({ impair, people, ids } = world);
    await waitFor('video both ways', async () =>
      inbound(await people.party.stats(), ids.mediator, 'video', 'framesDecoded') > 0 &&
      inbound(await people.mediator.stats(), ids.party, 'video', 'framesDecoded') > 0, 30_000);
    flows = await world.findFlows();
  });

  after(async () => {
    writeFileSync(join(ARTIFACTS_DIR, 'network-change.json'), JSON.stringify(result, null, 2) + '\n');
    await world?.close();
  });

  test('ICE restart recovers within 5 s without a leave event', { timeout: 120_000 }, async (t) => {
    const { party, mediator } = people;
    const framesAtParty = async () => inbound(await party.stats(), ids.mediator, 'video', 'framesDecoded');
    const framesAtMediator = async () => inbound(await mediator.stats(), ids.party, 'video', 'framesDecoded');
    const packetsAtMediator = async () => inbound(await mediator.stats(), ids.party, 'video', 'packetsReceived');
    const start = await party.state();
    const origin = Date.now();
    const timeline = watchPhases(party, origin);
    result.flows = { ...flows };
    result.pairBefore = await selectedPair(party);
    const upstreamBefore = (await impair.counters(flows.party)).flows[0]?.upstream;
    try {
      await impair.send({ cmd: 'cut', client: flows.party });
      const cutAt = Date.now();
      result.cutAtMs = cutAt - origin;

      // The cut is real and only the media's: nothing of the party's reaches the mediator,
      // while its socket stays up (the phase never says the socket was lost for good).
      await sleep(1_000 - (Date.now() - cutAt));
      const duringCut = await packetsAtMediator();
      await sleep(OUTAGE_MS - 500 - (Date.now() - cutAt));
      assert.equal(await packetsAtMediator(), duringCut, "the party's media still reaches the mediator: the cut is not real");
      await sleep(OUTAGE_MS - (Date.now() - cutAt));
      const atRestore = await party.state();
      result.duringOutage = { iceState: atRestore.iceState, phase: atRestore.phase, iceRestarts: atRestore.iceRestarts - start.iceRestarts };

      const restored = await impair.send({ cmd: 'restore', client: flows.party, rebind: true });
      const restoredAt = Date.now();
      result.outageMs = restoredAt - cutAt;
      result.upstream = { before: upstreamBefore, after: restored.flows[0]?.upstream };
      result.restoredAtMs = restoredAt - origin;

      // Back means: at least one ICE restart offered, ICE connected again, and video decoded
      // both ways after that restart (so it is the restarted path that carries it).
      let mark = null;
      await waitFor('the party back with video flowing both ways after an ICE restart', async () => {
        const s = await party.state();
        if (s.iceRestarts <= start.iceRestarts) return false;
        const frames = { party: await framesAtParty(), mediator: await framesAtMediator() };
        if (!mark) {
          mark = { ...frames, at: Date.now() };
          result.restartSeenAfterRestoreMs = Math.max(0, mark.at - restoredAt);
          return false;
        }
        if (!['connected', 'completed'].includes(s.iceState)) return false;
        result.iceConnectedAfterRestoreMs ??= Date.now() - restoredAt;
        result.framesDecoded = { byPartyFromMediator: [mark.party, frames.party], byMediatorFromParty: [mark.mediator, frames.mediator] };
        return s.phase === 'connected' && frames.party > mark.party && frames.mediator > mark.mediator + 5;
      }, GIVE_UP_MS, 50);
      result.restoreToVideoBothWaysMs = Date.now() - restoredAt;
    } finally {
      await timeline.stop();
      const end = await party.state().catch(() => null);
      result.iceRestarts = (end?.iceRestarts ?? 0) - start.iceRestarts;
      result.iceRestartRequests = (end?.iceRestartRequests ?? 0) - (start.iceRestartRequests ?? 0);
      result.phasesSeen = [...timeline.phases];
      result.party = timeline.changes;
      result.pairAfter = await selectedPair(party).catch(() => null);
      const counters = await impair.counters(flows.party).catch(() => null);
      result.proxyPartyFlow = counters && { to_server: counters.to_server, to_client: counters.to_client };
      result.mediatorLeftSeen = (await mediator.state().catch(() => null))?.leftSeen ?? null;
    }
    t.diagnostic(
      `path back → video both ways: ${result.restoreToVideoBothWaysMs} ms (ICE connected after ${result.iceConnectedAfterRestoreMs} ms; ` +
        `ICE restarts ${result.iceRestarts}, asked by the server ${result.iceRestartRequests}; ` +
        `ICE during the outage: ${result.duringOutage?.iceState}; upstream ${result.upstream?.before} → ${result.upstream?.after})`,
    );

    const end = await party.state();
    assert.equal(end.participantId, start.participantId, 'the party came back into a different seat');
    assert.ok(result.iceRestarts >= 1, 'no ICE restart');
    assert.notEqual(result.upstream.after, result.upstream.before, 'the proxy did not move the flow to a new port');
    assert.ok(result.proxyPartyFlow.to_server.dropped_cut > 0 && result.proxyPartyFlow.to_client.dropped_cut > 0,
      `the proxy dropped nothing of the party's flow: ${JSON.stringify(result.proxyPartyFlow)}`);
    assert.ok(!timeline.phases.has('closed'), `the party's connection closed: ${result.party.join('; ')}`);
    assert.deepEqual(result.mediatorLeftSeen, [], 'the mediator saw the party leave');
    assert.ok(result.restoreToVideoBothWaysMs <= BACK_WITHIN_MS,
      `video flowed both ways ${result.restoreToVideoBothWaysMs} ms after the path returned, over ${BACK_WITHIN_MS} ms`);
  });
});
