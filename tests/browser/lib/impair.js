// The userspace impairment proxy (`accord-impair`, tests/src/impair.rs) for browser tests:
// loss, delay and a rate cap on one phone's media, or a cut of its path, without netem or
// root. The server announces the proxy as its only ICE candidate, so every datagram of every
// browser passes through it:
//
//   const server = await startServer({ env: { ACCORD_MEDIA_LISTEN: '127.0.0.1:0',
//                                             ACCORD_MEDIA_ANNOUNCE: PROXY_HOST } });
//   const impair = await startImpair({ server });            // listens on PROXY_HOST:<media port>
//   const me = await clientAddress(party, impair);           // the phone's flow
//   await impair.send({ cmd: 'set', client: me, loss: 0.05, delay_ms: 150, rate_kbps: 400 });
//   await impair.stop();
//
// Pages whose flow is looked up by clientAddress must be opened with
// `openClient(…, { initScript: TAP_PEER_CONNECTIONS })`, which keeps the app's peer
// connections reachable for getStats.
//
// The binary is $ACCORD_IMPAIR_BIN, else target/debug/accord-impair (`cargo build --bins`).
// Its stderr goes to tests/browser/artifacts/impair-<name>-….log.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { ARTIFACTS_DIR, BROWSER_TEST_DIR, startServer, tailFile } from './server.js';
import { joinLink, openClient, pressJoin } from './web-client.js';

/** Where the proxy listens: loopback, but not the server's own address. */
export const PROXY_HOST = '127.0.0.2';

const READY_RE = /^ACCORD_IMPAIR_READY udp=(\S+) tcp=(\S+)$/;

export function impairBinary() {
  return process.env.ACCORD_IMPAIR_BIN
    ? resolve(process.env.ACCORD_IMPAIR_BIN)
    : resolve(BROWSER_TEST_DIR, '../../target/debug/accord-impair');
}

const running = new Set();
let exitHookInstalled = false;

function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test that dies must not leave a proxy holding the announced port.
  process.on('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

/**
 * Starts the proxy. With `server` (from startServer, announcing PROXY_HOST) it listens on
 * PROXY_HOST at the server's media port and relays to the real one; otherwise give `listen`
 * and `target`. `tcpListen`/`tcpTarget` add the TCP relay.
 * @param {{server?: {mediaAddr: string}, listen?: string, target?: string, tcpListen?: string,
 *          tcpTarget?: string, seed?: number, name?: string, readyTimeoutMs?: number}} opts
 */
export async function startImpair(opts = {}) {
  const bin = impairBinary();
  if (!existsSync(bin)) {
    throw new Error(`accord-impair not found at ${bin}. Build it with \`cargo build --bins\` or point ACCORD_IMPAIR_BIN at it.`);
  }
  const target = opts.target ?? opts.server?.mediaAddr;
  if (!target) throw new Error('startImpair needs `target` or `server`');
  const listen = opts.listen ?? `${PROXY_HOST}:${target.split(':').pop()}`;
  const args = ['--listen', listen, '--target', target];
  if (opts.tcpListen || opts.tcpTarget) args.push('--tcp-listen', opts.tcpListen, '--tcp-target', opts.tcpTarget);
  if (opts.seed !== undefined) args.push('--seed', String(opts.seed));

  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const logPath = join(ARTIFACTS_DIR, `impair-${opts.name ?? 'proxy'}-${stamp}.log`);
  const log = createWriteStream(logPath);
  log.write(`# ${bin} ${args.join(' ')}\n`);
  const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  running.add(child);
  installExitHook();
  child.stderr.on('data', (chunk) => log.write(chunk));
  // A proxy that died must fail the next send, not leave it waiting.
  child.stdin.on('error', () => {});

  let exited = null;
  const exitPromise = new Promise((res) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      running.delete(child);
      res(exited);
    });
  });

  // stdout: the ready line, then one answer per command, in order.
  const answers = [];
  let readyLine;
  const ready = new Promise((res, rej) => {
    readyLine = { res, rej };
  });
  let buf = '';
  child.stdout.on('data', (chunk) => {
    buf += chunk.toString('utf8');
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (!line) continue;
      log.write(`< ${line}\n`);
      const m = READY_RE.exec(line);
      if (m) {
        readyLine.res({ udp: m[1], tcp: m[2] === 'none' ? null : m[2] });
        continue;
      }
      const waiter = answers.shift();
      if (!waiter) continue;
      try {
        waiter.res(JSON.parse(line));
      } catch {
        waiter.rej(new Error(`accord-impair answered non-JSON: ${line}`));
      }
    }
  });
  exitPromise.then(({ code, signal }) => {
    const err = new Error(`accord-impair exited (code ${code}, signal ${signal})\n${describe()}`);
    readyLine.rej(err);
    for (const waiter of answers.splice(0)) waiter.rej(err);
  });
  child.once('error', (err) => readyLine.rej(new Error(`cannot start ${bin}: ${err.message}`)));

  const describe = () => `impair log: ${logPath}\n--- last lines ---\n${tailFile(logPath, 20)}\n---`;

  const timeoutMs = opts.readyTimeoutMs ?? 10_000;
  let timer;
  let addrs;
  try {
    addrs = await Promise.race([
      ready,
      new Promise((_, rej) => {
        timer = setTimeout(() => rej(new Error(`no ACCORD_IMPAIR_READY within ${timeoutMs} ms\n${describe()}`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  } finally {
    clearTimeout(timer);
  }

  /**
   * Sends one command and returns the proxy's answer; throws on `{"error": …}` unless
   * `{ allowError: true }`.
   */
  async function send(command, { allowError = false } = {}) {
    if (exited) throw new Error(`accord-impair has exited (code ${exited.code})\n${describe()}`);
    const answer = new Promise((res, rej) => answers.push({ res, rej }));
    const line = typeof command === 'string' ? command : JSON.stringify(command);
    log.write(`> ${line}\n`);
    child.stdin.write(`${line}\n`);
    const reply = await answer;
    if (reply.error && !allowError) throw new Error(`accord-impair refused ${line}: ${reply.error}`);
    return reply;
  }

  async function stop() {
    if (!exited) {
      // The end of stdin stops it; SIGKILL only if that does not.
      child.stdin.end();
      const killTimer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exitPromise;
      clearTimeout(killTimer);
    }
    await new Promise((res) => log.end(res));
  }

  return {
    udp: addrs.udp,
    tcp: addrs.tcp,
    pid: child.pid,
    logPath,
    send,
    /** The proxy's flows (client address, upstream address, counters), by client address. */
    flows: async () => (await send({ cmd: 'counters' })).flows,
    /** One flow's counters (`to_server`, `to_client`) or throws if the proxy never saw it. */
    counters: (client) => send(client ? { cmd: 'counters', client } : { cmd: 'counters' }),
    describe,
    isRunning: () => !exited,
    stop,
  };
}

/**
 * For `openClient(…, { initScript: TAP_PEER_CONNECTIONS })`: keeps every RTCPeerConnection
 * the page creates in `window.__accordPeerConnections`, so tests can read getStats parts the
 * app's own test hook does not report (candidate pairs, audio concealment).
 */
export const TAP_PEER_CONNECTIONS = () => {
  const Native = window.RTCPeerConnection;
  if (!Native || window.__accordPeerConnections) return;
  const tapped = [];
  window.__accordPeerConnections = tapped;
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      tapped.push(this);
    }
  };
};

/**
 * The full getStats report of the page's newest open peer connection, as plain objects
 * (empty when it has none or was not opened with TAP_PEER_CONNECTIONS).
 */
export function rawStats(client) {
  return client.page.evaluate(async () => {
    const open = (window.__accordPeerConnections ?? []).filter((pc) => pc.connectionState !== 'closed');
    const pc = open[open.length - 1];
    if (!pc) return [];
    const report = await pc.getStats();
    return [...report.values()].map((s) => ({ ...s }));
  });
}

/**
 * The page's selected candidate pair: its local candidate (`local`, and `base`, the socket it
 * sends from, for a peer-reflexive or server-reflexive one) and remote candidate, or null.
 */
export async function selectedPair(client) {
  const stats = await rawStats(client);
  const byId = new Map(stats.map((s) => [s.id, s]));
  const transport = stats.find((s) => s.type === 'transport' && s.selectedCandidatePairId);
  const pair = transport
    ? byId.get(transport.selectedCandidatePairId)
    : stats.find((s) => s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded');
  if (!pair) return null;
  const local = byId.get(pair.localCandidateId);
  const remote = byId.get(pair.remoteCandidateId);
  if (!local || !remote) return null;
  const at = (c) => `${c.address ?? c.ip}:${c.port}`;
  return {
    local: at(local),
    base: local.relatedAddress ? `${local.relatedAddress}:${local.relatedPort}` : at(local),
    localType: local.candidateType,
    remote: at(remote),
    protocol: local.protocol,
  };
}

/**
 * The page's media flow as the proxy sees it (`ip:port`, the `client` of the proxy's
 * commands). The page's selected candidate pair tells: through the proxy its local candidate
 * is peer-reflexive, the address the server saw (the flow's upstream), with the socket it
 * sends from (the flow's client) as its base; a host candidate is the client itself. Failing
 * that (Chromium hiding addresses), by elimination: the one flow not in `others`, the
 * addresses of everyone else's flows.
 * @param {{others?: string[], timeoutMs?: number}} [opts]
 */
export async function clientAddress(client, impair, { others = [], timeoutMs = 10_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const pair = await selectedPair(client).catch(() => null);
    const flows = await impair.flows();
    const found =
      flows.find((f) => pair && f.upstream === pair.local) ??
      flows.find((f) => pair && (f.client === pair.local || f.client === pair.base));
    if (found) return found.client;
    const rest = flows.filter((f) => !others.includes(f.client));
    if (others.length > 0 && rest.length === 1) return rest[0].client;
    last = `selected pair ${JSON.stringify(pair)}, flows ${JSON.stringify(flows.map((f) => [f.client, f.upstream]))}`;
    if (Date.now() > deadline) throw new Error(`cannot tell ${client.name}'s flow at the proxy: ${last}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * A room whose media all passes the proxy: the server announcing PROXY_HOST, the proxy, and
 * a mediator on a desktop and a party on a phone viewport, both in the room (pages tapped
 * for clientAddress). Once media flows, `findFlows()` fills `flows.mediator` and
 * `flows.party`. `close()` saves both consoles as artifacts/<name>-<key>-console.log and
 * stops everything.
 */
export async function startRoomBehindProxy(name) {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const world = { server: null, impair: null, people: {}, ids: {}, flows: {} };
  world.close = async () => {
    for (const [key, client] of Object.entries(world.people)) {
      client.saveConsole(join(ARTIFACTS_DIR, `${name}-${key}-console.log`));
      await client.close();
    }
    await world.impair?.stop();
    await world.server?.stop();
  };
  world.findFlows = async () => {
    world.flows.mediator = await clientAddress(world.people.mediator, world.impair);
    world.flows.party = await clientAddress(world.people.party, world.impair, { others: [world.flows.mediator] });
    if (world.flows.party === world.flows.mediator) throw new Error(`both browsers map to one flow at the proxy: ${world.flows.party}`);
    return world.flows;
  };
  try {
    // ICE-TCP off: the proxy's UDP is then the media's only way in, so nothing it does can
    // be dodged by a TCP candidate.
    world.server = await startServer({
      name,
      env: { ACCORD_MEDIA_LISTEN: '127.0.0.1:0', ACCORD_MEDIA_ANNOUNCE: PROXY_HOST, ACCORD_MEDIA_TCP_LISTEN: 'off' },
    });
    world.impair = await startImpair({ server: world.server, name });
    const room = `case-${randomBytes(3).toString('hex')}`;
    const cast = [
      { key: 'mediator', identity: 'mediator-1', name: '李调解员', role: 'mediator', phone: false },
      { key: 'party', identity: 'party-1', name: '张三', role: 'party', phone: true },
    ];
    for (const who of cast) {
      const token = await world.server.mintToken({ room, identity: who.identity, name: who.name, role: who.role });
      world.people[who.key] = await openClient(`${name}-${who.key}`, joinLink(world.server, token), {
        phone: who.phone,
        initScript: TAP_PEER_CONNECTIONS,
      });
    }
    for (const client of Object.values(world.people)) await pressJoin(client);
    for (const [key, client] of Object.entries(world.people)) world.ids[key] = (await client.state()).participantId;
  } catch (err) {
    await world.close().catch(() => {});
    throw err;
  }
  return world;
}
