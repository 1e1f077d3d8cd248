// TURN relay with a real coturn: a phone whose browser may only use relayed candidates (as
// behind a firewall that lets nothing but the TURN server through) still sees and hears the
// mediator, and is seen and heard, with every packet of its media going through coturn.
//
// The server signs a coturn REST credential into every `joined` frame; the phone's Chromium
// gets `iceTransportPolicy: 'relay'` forced on every peer connection by an init script, so
// the web client itself is unchanged. Path of the phone's media:
//   Chromium ⇄ coturn 127.0.0.1:<listening port> ⇄ coturn relay 127.0.0.1:<relay port> ⇄ SFU
// Everything on loopback works without Chromium flags: Chromium leaves out the loopback
// adapter only for its own host candidates, not for TURN servers or the relay addresses they
// give; coturn needs `allow-loopback-peers` (lib/coturn.js) to relay to the SFU on 127.0.0.1.
//
// Needs /usr/bin/turnserver (Debian's coturn), web-client/dist and target/debug/accord. The
// measured figures land in tests/browser/artifacts/turn.json.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { startCoturn } from './lib/coturn.js';
import { ARTIFACTS_DIR, startServer } from './lib/server.js';
import { clickJoin, inbound, joinLink, openClient, waitFor, waitInRoom } from './lib/web-client.js';

// Generous: this machine has two cores, shared by two browsers, coturn and a debug build.
const FIRST_MEDIA_TIMEOUT_MS = 60_000;
const SAMPLES = 3;
const SAMPLE_GAP_MS = 2_500;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs in the phone's page before the app: every RTCPeerConnection may only use relayed
 * candidates, and the test can reach the connections and the configurations they were given.
 */
function forceRelayOnly() {
  const Native = window.RTCPeerConnection;
  const seen = { configs: [], connections: [] };
  const relayOnly = (config) => ({ ...(config ?? {}), iceTransportPolicy: 'relay' });
  class RelayOnlyPeerConnection extends Native {
    constructor(config, ...rest) {
      super(relayOnly(config), ...rest);
      seen.configs.push(this.getConfiguration());
      seen.connections.push(this);
    }

    setConfiguration(config) {
      return super.setConfiguration(relayOnly(config));
    }
  }
  window.RTCPeerConnection = RelayOnlyPeerConnection;
  window.__relayOnly = seen;
}

/** The phone's current connection: its ICE path as getStats sees it. */
function relayPath() {
  const pc = window.__relayOnly.connections.filter((c) => c.connectionState !== 'closed').at(-1);
  if (!pc) return null;
  return pc.getStats().then((report) => {
    const all = [...report.values()];
    const transport = all.find((s) => s.type === 'transport' && s.selectedCandidatePairId);
    const pair = transport && report.get(transport.selectedCandidatePairId);
    const describe = (c) => c && { candidateType: c.candidateType, address: c.address, port: c.port, protocol: c.protocol, relayProtocol: c.relayProtocol ?? null, url: c.url ?? null };
    const succeeded = all.filter((s) => s.type === 'candidate-pair' && (s.state === 'succeeded' || s.nominated));
    return {
      connectionState: pc.connectionState,
      policy: pc.getConfiguration().iceTransportPolicy,
      selected: pair && {
        state: pair.state,
        local: describe(report.get(pair.localCandidateId)),
        remote: describe(report.get(pair.remoteCandidateId)),
        packetsSent: pair.packetsSent ?? null,
        packetsReceived: pair.packetsReceived ?? null,
        currentRoundTripTime: pair.currentRoundTripTime ?? null,
      },
      localCandidateTypes: all.filter((s) => s.type === 'local-candidate').map((c) => c.candidateType),
      pairsInUseLocalTypes: succeeded.map((p) => report.get(p.localCandidateId)?.candidateType ?? null),
    };
  });
}

/** Collects the `joined` frames a page receives on its WebSocket. */
function watchJoined(page) {
  const frames = [];
  page.on('websocket', (ws) => {
    ws.on('framereceived', ({ payload }) => {
      if (typeof payload !== 'string') return;
      try {
        const frame = JSON.parse(payload);
        if (frame?.type === 'joined') frames.push(frame);
      } catch {
        // Not JSON: nothing the test looks at.
      }
    });
  });
  return frames;
}

describe('a phone that may only use TURN', () => {
  let turn;
  let server;
  const people = {};
  const ids = {};
  const joined = {};
  const result = { turnUrl: null };
  let firstMediaMs = null;

  before(async () => {
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
    turn = await startCoturn({ name: 'turn' });
    result.turnUrl = turn.url;
    server = await startServer({
      name: 'turn',
      env: { ACCORD_TURN_URLS: turn.url, ACCORD_TURN_SHARED_SECRET: turn.secret, ACCORD_TURN_TTL_SECONDS: '3600' },
    });
    const room = `case-${randomBytes(3).toString('hex')}`;
    const cast = [
      { key: 'mediator', identity: 'mediator-1', name: '李调解员', role: 'mediator', phone: false },
      { key: 'party', identity: 'party-1', name: '张三', role: 'party', phone: true, relayOnly: true },
    ];
    for (const who of cast) {
      const token = await server.mintToken({ room, identity: who.identity, name: who.name, role: who.role });
      people[who.key] = await openClient(`turn-${who.key}`, joinLink(server, token), {
        phone: who.phone,
        initScript: who.relayOnly ? forceRelayOnly : undefined,
      });
      joined[who.key] = watchJoined(people[who.key].page);
    }
    const joinStarted = Date.now();
    try {
      await Promise.all(Object.values(people).map(async (client) => {
        await clickJoin(client);
        await waitInRoom(client, FIRST_MEDIA_TIMEOUT_MS);
      }));
      for (const [key, client] of Object.entries(people)) ids[key] = (await client.state()).participantId;
      const { mediator, party } = people;
      await waitFor('video decoded both ways through the relay', async () => {
        const [p, m] = [await party.stats(), await mediator.stats()];
        return inbound(p, ids.mediator, 'video', 'framesDecoded') > 0 && inbound(m, ids.party, 'video', 'framesDecoded') > 0;
      }, FIRST_MEDIA_TIMEOUT_MS, 50);
    } catch (err) {
      // Whether coturn refused the credential or the SFU never answered shows in their logs.
      err.message += `\n${turn.describe()}\n${server.describe()}`;
      throw err;
    }
    firstMediaMs = Date.now() - joinStarted;
  });

  after(async () => {
    for (const [key, client] of Object.entries(people)) {
      client.saveConsole(join(ARTIFACTS_DIR, `turn-${key}-console.log`));
      await client.close();
    }
    await server?.stop();
    await turn?.stop();
    writeFileSync(join(ARTIFACTS_DIR, 'turn.json'), JSON.stringify(result, null, 2) + '\n');
  });

  test('the joined frame carries a coturn credential that has not expired', () => {
    const frame = joined.party[0];
    assert.ok(frame, 'the phone received no joined frame');
    const iceServer = frame.ice_servers.find((s) => [s.urls].flat().includes(turn.url));
    assert.ok(iceServer, `no ICE server with ${turn.url} in ${JSON.stringify(frame.ice_servers)}`);
    const match = /^(\d+):(.+)$/.exec(iceServer.username ?? '');
    assert.ok(match, `username ${iceServer.username} is not <expiry>:<participant>`);
    assert.ok(Number(match[1]) > Date.now() / 1000, `the credential expired at ${match[1]}`);
    assert.ok(iceServer.credential, 'no credential');
    result.credential = { username: iceServer.username, expiresInS: Number(match[1]) - Math.round(Date.now() / 1000) };
  });

  test('the phone\'s media goes through a relayed candidate only', async () => {
    const path = await people.party.page.evaluate(relayPath);
    result.partyPath = path;
    assert.ok(path?.selected, `no selected candidate pair: ${JSON.stringify(path)}`);
    assert.equal(path.policy, 'relay', 'the init script did not force relay');
    assert.equal(path.selected.local.candidateType, 'relay', `selected local candidate: ${JSON.stringify(path.selected.local)}`);
    assert.deepEqual([...new Set(path.localCandidateTypes)], ['relay'], 'the phone gathered non-relay candidates');
    assert.ok(path.pairsInUseLocalTypes.every((t) => t === 'relay'), `pairs in use: ${path.pairsInUseLocalTypes}`);
    // The relay address is coturn's, on loopback, in the range its config gives it.
    assert.equal(path.selected.local.address, '127.0.0.1');
    const configs = await people.party.page.evaluate(() => window.__relayOnly.configs);
    assert.ok(configs.every((c) => c.iceTransportPolicy === 'relay'), JSON.stringify(configs));
    assert.ok(configs[0].iceServers.some((s) => [s.urls].flat().includes(turn.url)), 'the app did not pass the TURN server to its peer connection');
  });

  test('video and audio are decoded both ways through the relay, and keep coming', { timeout: 60_000 }, async (t) => {
    const { mediator, party } = people;
    const counters = async () => {
      const [p, m] = [await party.stats(), await mediator.stats()];
      return {
        partyFromMediator: {
          videoFrames: inbound(p, ids.mediator, 'video', 'framesDecoded'),
          videoPackets: inbound(p, ids.mediator, 'video', 'packetsReceived'),
          audioPackets: inbound(p, ids.mediator, 'audio', 'packetsReceived'),
        },
        mediatorFromParty: {
          videoFrames: inbound(m, ids.party, 'video', 'framesDecoded'),
          videoPackets: inbound(m, ids.party, 'video', 'packetsReceived'),
          audioPackets: inbound(m, ids.party, 'audio', 'packetsReceived'),
        },
      };
    };
    const samples = [await counters()];
    for (let i = 1; i < SAMPLES; i++) {
      await sleep(SAMPLE_GAP_MS);
      samples.push(await counters());
      const [before, now] = samples.slice(-2);
      for (const direction of Object.keys(now)) {
        for (const [field, value] of Object.entries(now[direction])) {
          assert.ok(value > before[direction][field], `${direction}.${field} stopped at ${value} (sample ${i}: ${JSON.stringify(samples)})`);
        }
      }
    }
    result.samples = samples;
    result.partyPathAfter = await party.page.evaluate(relayPath);
    assert.equal(result.partyPathAfter.selected?.local.candidateType, 'relay', 'the phone moved off the relay');
    const [partyState, mediatorState] = [await party.state(), await mediator.state()];
    const firstFrame = (s) => s.firstRemoteFrameAt !== null && s.joinPressedAt !== null ? Math.round(s.firstRemoteFrameAt - s.joinPressedAt) : null;
    result.timeToFirstFrameMs = {
      joinToVideoDecodedBothWays: firstMediaMs,
      partyJoinToFirstRelayedFramePainted: firstFrame(partyState),
      mediatorJoinToFirstFramePainted: firstFrame(mediatorState),
    };
    const last = samples.at(-1);
    t.diagnostic(`join → video decoded both ways through coturn: ${firstMediaMs} ms (phone's first relayed frame painted ` +
      `${result.timeToFirstFrameMs.partyJoinToFirstRelayedFramePainted} ms after its join press)`);
    t.diagnostic(`after ${((SAMPLES - 1) * SAMPLE_GAP_MS) / 1000} s more: phone ← mediator ${JSON.stringify(last.partyFromMediator)}, ` +
      `mediator ← phone ${JSON.stringify(last.mediatorFromParty)}`);
  });

  test('coturn allocated a relay for the phone\'s credential and relays to the SFU', () => {
    const username = joined.party[0].ice_servers.find((s) => s.username)?.username;
    const log = turn.log();
    const forUser = log.split('\n').filter((line) => line.includes(`<${username}>`));
    const allocated = forUser.find((line) => /ALLOCATE processed, success/.test(line));
    const permitted = forUser.find((line) => /(CREATE_PERMISSION|CHANNEL_BIND) processed, success/.test(line));
    result.coturnLog = { path: turn.logPath, allocated: allocated ?? null, permitted: permitted ?? null };
    assert.ok(allocated, `coturn logged no allocation for ${username}\n${turn.describe()}`);
    assert.ok(permitted, `coturn logged no permission to a peer for ${username}\n${turn.describe()}`);
  });

  test('leaving releases the allocation; coturn relayed the media to and from the SFU', { timeout: 60_000 }, async (t) => {
    const username = joined.party[0].ice_servers.find((s) => s.username)?.username;
    // Closing its peer connection makes Chromium release the allocation, and coturn then logs
    // the session's totals (a browser that is just killed leaves it to time out in 10 min).
    await people.party.page.getByTestId('leave').click();
    const totals = await waitFor(`coturn's totals for ${username}`, () => usage(turn.log(), username), 30_000);
    result.coturnUsage = totals;
    t.diagnostic(`coturn relayed ${totals.peer.sp} packets (${totals.peer.sb} bytes) to the SFU and ` +
      `${totals.peer.rp} packets (${totals.peer.rb} bytes) from it`);
    const last = result.samples?.at(-1);
    // At least what the other side decoded went through the relay (ICE checks and RTCP on top).
    assert.ok(totals.peer.sp >= (last?.mediatorFromParty.videoPackets ?? 1), `coturn sent ${totals.peer.sp} packets to the SFU`);
    assert.ok(totals.peer.rp >= (last?.partyFromMediator.videoPackets ?? 1), `coturn received ${totals.peer.rp} packets from the SFU`);
  });
});

/**
 * coturn's totals for `username`'s sessions once they are deleted: `client` counts what went
 * between the browser and coturn, `peer` between coturn's relay address and the SFU (rp/sp:
 * packets received/sent, rb/sb: bytes). coturn logs them in instalments while a session
 * lives, each since the one before, and the last when it is released.
 */
function usage(log, username) {
  const totals = { client: { rp: 0, rb: 0, sp: 0, sb: 0 }, peer: { rp: 0, rb: 0, sp: 0, sb: 0 } };
  let deleted = false;
  for (const line of log.split('\n')) {
    if (line.includes(`delete: realm=<`) && line.includes(`username=<${username}>`)) deleted = true;
    const match = /: (peer )?usage: realm=<[^>]*>, username=<([^>]*)>, rp=(\d+), rb=(\d+), sp=(\d+), sb=(\d+)/.exec(line);
    if (!match || match[2] !== username) continue;
    const sum = totals[match[1] ? 'peer' : 'client'];
    const [rp, rb, sp, sb] = match.slice(3).map(Number);
    Object.assign(sum, { rp: sum.rp + rp, rb: sum.rb + rb, sp: sum.sp + sp, sb: sum.sb + sb });
  }
  return deleted ? totals : null;
}
