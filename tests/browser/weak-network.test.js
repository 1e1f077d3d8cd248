// A phone on a weak network: its own path to the SFU loses 5 % of datagrams, adds 150 ms
// each way and is capped at 400 kbit/s (both directions), while the mediator's path is
// perfect. The conversation must go on: the phone keeps hearing the mediator (little of the
// audio concealed), the video it receives steps down to the lowest simulcast layer or stops
// (audio-only, the server's decision for lack of bandwidth), the mediator's console shows the
// phone's link as fair or poor with loss, and once the network is good again the video comes
// back at a higher layer.
//
// The impairment is real and only the phone's: the server announces the impairment proxy
// (lib/impair.js) as its only ICE candidate, and the proxy applies the conditions to the
// phone's flow alone; its counters prove the loss. No root or netem needed.
//
// Needs web-client/dist, target/debug/accord and target/debug/accord-impair. Figures land in
// tests/browser/artifacts/weak-network.json.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { clientAddress, rawStats, startRoomBehindProxy } from './lib/impair.js';
import { ARTIFACTS_DIR } from './lib/server.js';
import { openConsole, waitFor } from './lib/web-client.js';

const IMPAIRMENT = { loss: 0.05, delay_ms: 150, rate_kbps: 400 };
/** The audio is judged over at least this long, under the impairment. */
const AUDIO_WINDOW_MS = 30_000;
const MAX_CONCEALED = 0.05;
const LOW_LAYER_MAX_WIDTH = 320;
const HIGH_LAYER_MIN_WIDTH = 640;
/** Audio-only holds when no video frame was decoded for this long. */
const NO_FRAMES_FOR_MS = 3_000;
/** Bounded waits for what adapts (congestion control, layer switches): generous on 2 cores. */
const ADAPT_WITHIN_MS = 90_000;
/** The proxy's measured loss must be near 5 %, over enough datagrams to say so. */
const LOSS_RANGE = [0.03, 0.07];
const MIN_DATAGRAMS = 500;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * What `client` receives from `fromId`: the camera's decoded frames and width (app stats) and
 * the microphone's audio counters (the raw report, which the app's hook does not carry).
 */
async function reception(client, fromId) {
  const stats = await client.stats();
  const mine = (stats?.inbound ?? []).filter((s) => s.from?.startsWith(`${fromId}/`));
  const camera = mine.filter((s) => s.kind === 'video' && s.from.endsWith('/camera'));
  const micMids = new Set(mine.filter((s) => s.kind === 'audio').map((s) => s.mid));
  const audio = (await rawStats(client)).filter((s) => s.type === 'inbound-rtp' && s.kind === 'audio' && micMids.has(s.mid));
  const sum = (list, field) => list.reduce((n, s) => n + (s[field] ?? 0), 0);
  return {
    at: Date.now(),
    framesDecoded: sum(camera, 'framesDecoded'),
    frameWidth: Math.max(0, ...camera.filter((s) => s.framesDecoded > 0).map((s) => s.frameWidth)),
    audio: {
      packetsReceived: sum(audio, 'packetsReceived'),
      packetsLost: sum(audio, 'packetsLost'),
      totalSamplesReceived: sum(audio, 'totalSamplesReceived'),
      concealedSamples: sum(audio, 'concealedSamples'),
    },
  };
}

function audioBetween(a, b) {
  const d = (field) => b.audio[field] - a.audio[field];
  const total = d('totalSamplesReceived');
  return {
    windowMs: b.at - a.at,
    packetsReceived: d('packetsReceived'),
    packetsLost: d('packetsLost'),
    totalSamplesReceived: total,
    concealedSamples: d('concealedSamples'),
    concealedRatio: total > 0 ? d('concealedSamples') / total : null,
  };
}

function counterDelta(a, b) {
  const out = {};
  for (const key of ['passed', 'bytes', 'dropped_loss', 'dropped_queue', 'dropped_cut']) out[key] = (b?.[key] ?? 0) - (a?.[key] ?? 0);
  out.offered = out.passed + out.dropped_loss + out.dropped_queue + out.dropped_cut;
  out.lossRate = out.offered > 0 ? out.dropped_loss / out.offered : null;
  return out;
}

describe('a phone on a lossy, slow, capped network', () => {
  let world;
  let impair;
  let people;
  let ids;
  let flows;
  const figures = { impairment: IMPAIRMENT };
  const samples = [];
  let sampler = null;
  let impairedAt = null;
  let proxyAtImpairment = null;
  let receptionAtImpairment = null;
  /** The phone's flows at the proxy: an ICE restart under the impairment opens a new one,
   *  which must be impaired too or the phone would escape onto a perfect path. */
  const partyFlows = [];

  /** What the proxy did so far toward the phone, over all its flows. */
  async function partyDownlink() {
    const answer = await impair.counters();
    const sum = { passed: 0, dropped_loss: 0, dropped_queue: 0 };
    for (const f of answer.flows.filter((f) => partyFlows.includes(f.client))) {
      for (const k of Object.keys(sum)) sum[k] += f.to_client[k];
    }
    return sum;
  }

  async function followPartyFlow() {
    const current = await clientAddress(people.party, impair, { timeoutMs: 0 }).catch(() => null);
    if (!current || partyFlows.includes(current)) return;
    partyFlows.push(current);
    if (impairedAt) await impair.send({ cmd: 'set', client: current, direction: 'both', ...IMPAIRMENT });
    (figures.partyFlowChanges ??= []).push({ t: Date.now() - (impairedAt ?? Date.now()), flow: current });
  }

  /** Every second while impaired: what the phone receives and what the console says of it. */
  function startSampling() {
    let stopped = false;
    const run = async () => {
      while (!stopped) {
        await followPartyFlow();
        const [rx, party, mediator, badge, proxy] = await Promise.all([
          reception(people.party, ids.mediator),
          people.party.state(),
          people.mediator.state(),
          people.mediator.page.getByTestId(`health-${ids.party}`).getAttribute('data-quality', { timeout: 1_000 }).catch(() => null),
          partyDownlink(),
        ]).catch(() => []);
        if (rx) {
          const health = mediator?.health?.[ids.party] ?? null;
          samples.push({
            t: rx.at - impairedAt,
            frameWidth: rx.frameWidth,
            framesDecoded: rx.framesDecoded,
            audioOnly: party?.audioOnly ?? null,
            health: health && {
              quality: health.quality,
              uplink_loss_percent: health.uplink_loss_percent,
              downlink_loss_percent: health.downlink_loss_percent,
              rtt_ms: health.rtt_ms,
              receive_kbps: health.receive_kbps,
              audio_only: health.audio_only,
            },
            badge,
            proxyToPhone: proxy,
          });
        }
        await sleep(1_000);
      }
    };
    const done = run();
    return async () => {
      stopped = true;
      await done;
    };
  }

  before(async () => {
    world = await startRoomBehindProxy('weak-network');
    ({ impair, people, ids } = world);
    await openConsole(people.mediator);
    // The baseline: on a good network the phone gets the mediator's video at a higher layer.
    await waitFor('the phone receiving the mediator at a higher layer', async () =>
      (await reception(people.party, ids.mediator)).frameWidth >= HIGH_LAYER_MIN_WIDTH, 60_000);
    flows = await world.findFlows();
    figures.flows = { ...flows };
    partyFlows.push(flows.party);
    // Unimpaired audio, for comparison with the impaired window.
    const a = await reception(people.party, ids.mediator);
    await sleep(5_000);
    figures.baseline = { frameWidth: a.frameWidth, audio: audioBetween(a, await reception(people.party, ids.mediator)) };
  });

  after(async () => {
    await sampler?.();
    figures.samples = samples;
    writeFileSync(join(ARTIFACTS_DIR, 'weak-network.json'), JSON.stringify(figures, null, 2) + '\n');
    await world?.close();
  });

  test('the video the phone receives drops to the low layer or to audio-only', { timeout: ADAPT_WITHIN_MS + 30_000 }, async (t) => {
    proxyAtImpairment = await impair.counters();
    receptionAtImpairment = await reception(people.party, ids.mediator);
    await impair.send({ cmd: 'set', client: flows.party, direction: 'both', ...IMPAIRMENT });
    impairedAt = Date.now();
    sampler = startSampling();

    let previous = await reception(people.party, ids.mediator);
    let how = null;
    await waitFor('low-layer video or audio-only at the phone', async () => {
      const [now, state] = [await reception(people.party, ids.mediator), await people.party.state()];
      const decoding = now.framesDecoded > previous.framesDecoded;
      previous = now;
      if (state.audioOnly?.active && state.audioOnly.reason === 'bandwidth') how = 'audio-only';
      else if (decoding && now.frameWidth > 0 && now.frameWidth <= LOW_LAYER_MAX_WIDTH) how = `low layer (${now.frameWidth} px wide)`;
      return how;
    }, ADAPT_WITHIN_MS, 500);
    figures.degraded = { how, afterMs: Date.now() - impairedAt };

    if (how === 'audio-only') {
      // Audio-only means no video at all: once what was in flight has drained (the capped
      // queue, the delay, the jitter buffer), the phone decodes no new frame for 3 s running
      // while audio-only holds. How long frames still came is in the figures.
      const seenAt = Date.now();
      const start = await reception(people.party, ids.mediator);
      let last = start;
      let quietSince = Date.now();
      let ended = null;
      await waitFor('no new video frames while audio-only', async () => {
        const [now, state] = [await reception(people.party, ids.mediator), await people.party.state()];
        if (!state.audioOnly?.active) return (ended = state.audioOnly ?? {});
        if (now.framesDecoded !== last.framesDecoded) [last, quietSince] = [now, Date.now()];
        return Date.now() - quietSince >= NO_FRAMES_FOR_MS;
      }, ADAPT_WITHIN_MS, 250);
      assert.equal(ended, null, `audio-only ended under the impairment before the video stopped: ${JSON.stringify(ended)}`);
      figures.degraded.framesAfterAudioOnly = last.framesDecoded - start.framesDecoded;
      figures.degraded.lastFrameAfterAudioOnlyMs = Math.max(0, quietSince - seenAt);
      t.diagnostic(`after audio-only began: ${figures.degraded.framesAfterAudioOnly} more frames, the last ${figures.degraded.lastFrameAfterAudioOnlyMs} ms later`);
    }
    t.diagnostic(`degraded to ${how} ${figures.degraded.afterMs} ms after the impairment began`);
  });

  test("the phone keeps hearing the mediator: under 5 % of the audio concealed over 30 s", { timeout: ADAPT_WITHIN_MS + AUDIO_WINDOW_MS + 30_000 }, async (t) => {
    assert.ok(impairedAt, 'the impairment was not applied');
    // The window opens once the phone's downlink stopped overflowing the cap (nothing dropped
    // over it for 2 s): what the party hears on this network, not the seconds the server
    // took to notice it. Those seconds are in the figures (audioSinceImpairment).
    let drops = -1;
    let changedAt = Date.now();
    await waitFor("the phone's downlink to settle under the cap", async () => {
      const now = (await partyDownlink()).dropped_queue;
      if (now !== drops) [drops, changedAt] = [now, Date.now()];
      return Date.now() - changedAt >= 2_000;
    }, ADAPT_WITHIN_MS, 250);
    const a = await reception(people.party, ids.mediator);
    figures.audioWindowOpenedAtMs = a.at - impairedAt;
    await sleep(AUDIO_WINDOW_MS);
    const b = await reception(people.party, ids.mediator);
    const audio = audioBetween(a, b);
    figures.audioUnderImpairment = audio;
    figures.audioSinceImpairment = audioBetween(receptionAtImpairment, b);
    const pct = (r) => (100 * (r ?? 0)).toFixed(2);
    t.diagnostic(`audio over ${audio.windowMs} ms from ${figures.audioWindowOpenedAtMs} ms into the impairment: ` +
      `${audio.packetsReceived} packets, ${pct(audio.concealedRatio)} % concealed (${audio.concealedSamples}/${audio.totalSamplesReceived} samples); ` +
      `since the impairment began: ${pct(figures.audioSinceImpairment.concealedRatio)} %`);
    assert.ok(audio.windowMs >= AUDIO_WINDOW_MS, `the window lasted only ${audio.windowMs} ms`);
    assert.ok(audio.packetsReceived > 0, 'no audio from the mediator reached the phone');
    // 48 kHz for most of the window: the audio kept playing, not just trickling in.
    assert.ok(audio.totalSamplesReceived >= 48 * audio.windowMs * 0.8, `only ${audio.totalSamplesReceived} samples played in ${audio.windowMs} ms`);
    assert.ok(audio.concealedRatio < MAX_CONCEALED,
      `${pct(audio.concealedRatio)} % of the audio was concealed (over ${100 * MAX_CONCEALED} %)`);
  });

  test("the mediator's console rated the phone's link fair or poor, with loss", async (t) => {
    const rated = samples.filter((s) => ['fair', 'poor'].includes(s.health?.quality) &&
      ((s.health.uplink_loss_percent ?? 0) > 0 || (s.health.downlink_loss_percent ?? 0) > 0));
    const badged = samples.filter((s) => ['fair', 'poor'].includes(s.badge));
    figures.health = {
      samples: samples.length,
      ratedFairOrPoorWithLoss: rated.length,
      badgeFairOrPoor: badged.length,
      firstRatedAtMs: rated[0]?.t ?? null,
      qualities: [...new Set(samples.map((s) => s.health?.quality ?? 'none'))],
    };
    t.diagnostic(`console: ${rated.length}/${samples.length} samples fair or poor with loss (first after ${figures.health.firstRatedAtMs} ms), badge ${badged.length}`);
    assert.ok(rated.length > 0, `state().health never rated the phone fair or poor with loss: ${JSON.stringify(figures.health)}`);
    assert.ok(badged.length > 0, `the console badge health-${ids.party} never showed fair or poor`);
  });

  test("the proxy's counters show the loss was real, and only the phone's", async (t) => {
    const now = await impair.counters();
    /** What `clients`' flows did in one direction since the impairment began. */
    const delta = (clients, way) => {
      const total = (answer) => {
        const sum = {};
        for (const f of answer.flows.filter((f) => clients.includes(f.client))) {
          for (const [k, v] of Object.entries(f[way])) sum[k] = (sum[k] ?? 0) + v;
        }
        return sum;
      };
      return counterDelta(total(proxyAtImpairment), total(now));
    };
    figures.proxy = {
      partyFlows,
      party: { to_server: delta(partyFlows, 'to_server'), to_client: delta(partyFlows, 'to_client') },
      mediator: { to_server: delta([flows.mediator], 'to_server'), to_client: delta([flows.mediator], 'to_client') },
      partyConditions: now.flows.find((f) => f.client === flows.party)?.conditions,
    };
    const { party: p, mediator: m } = figures.proxy;
    t.diagnostic(`phone's flow: to the server ${p.to_server.dropped_loss}/${p.to_server.offered} lost, ` +
      `${p.to_server.dropped_queue} over the cap; to the phone ${p.to_client.dropped_loss}/${p.to_client.offered} lost, ${p.to_client.dropped_queue} over the cap`);
    for (const [way, c] of Object.entries(p)) {
      assert.ok(c.offered >= MIN_DATAGRAMS, `only ${c.offered} datagrams ${way}: is the phone's media bypassing the proxy?`);
      assert.ok(c.lossRate >= LOSS_RANGE[0] && c.lossRate <= LOSS_RANGE[1], `the proxy dropped ${(100 * c.lossRate).toFixed(2)} % ${way}, not about 5 %`);
    }
    for (const [way, c] of Object.entries(m)) assert.equal(c.dropped_loss + c.dropped_queue, 0, `the mediator's flow lost datagrams ${way}`);
  });

  test('once the network is good again, the phone gets a higher layer back', { timeout: ADAPT_WITHIN_MS + 30_000 }, async (t) => {
    await sampler?.();
    sampler = null;
    for (const client of partyFlows) await impair.send({ cmd: 'clear', client });
    const liftedAt = Date.now();
    let previous = await reception(people.party, ids.mediator);
    await waitFor(`video at least ${HIGH_LAYER_MIN_WIDTH} px wide at the phone`, async () => {
      const [now, state] = [await reception(people.party, ids.mediator), await people.party.state()];
      const decoding = now.framesDecoded > previous.framesDecoded;
      previous = now;
      figures.recovery = { frameWidth: now.frameWidth, audioOnly: state.audioOnly };
      return decoding && now.frameWidth >= HIGH_LAYER_MIN_WIDTH && !state.audioOnly?.active;
    }, ADAPT_WITHIN_MS, 500);
    figures.recovery.afterMs = Date.now() - liftedAt;
    t.diagnostic(`back to ${figures.recovery.frameWidth} px wide ${figures.recovery.afterMs} ms after the limit was lifted`);
  });
});
