// Starts Debian's coturn for a browser test: loopback only, the REST shared-secret scheme the
// server signs TURN credentials with, its log under tests/browser/artifacts/.
//
//   const turn = await startCoturn({ name: 'turn' });
//   ... ACCORD_TURN_URLS=turn.url, ACCORD_TURN_SHARED_SECRET=turn.secret ...
//   await turn.stop();                      // also happens when the test process exits
//
// It is only "ready" once it answers a STUN binding request on its port: coturn logs nothing
// when its listener is up, and retries a taken port forever instead of exiting.

import { spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ARTIFACTS_DIR, tailFile } from './server.js';

export const TURNSERVER_PATH = process.env.TURNSERVER_PATH || '/usr/bin/turnserver';

const HOST = '127.0.0.1';
const REALM = 'accord.test';
const STUN_MAGIC_COOKIE = 0x2112a442;
const BINDING_REQUEST = 0x0001;
const BINDING_SUCCESS = 0x0101;
// coturn keeps retrying a listener port someone else took; this line says it happened.
const PORT_TAKEN_RE = /Cannot bind .*listener socket to addr/;
const ATTEMPTS = 4;
// Relay ports come from above Linux's default ephemeral range (32768-60999), so sockets the
// OS hands out to browsers and servers never sit in coturn's way; the block is random so
// that tests running side by side rarely share one.
const RELAY_BLOCK = 32;
const RELAY_FIRST = 61_000;
const RELAY_LAST = 65_000;

const live = new Set();
let hooksInstalled = false;

function installExitHooks() {
  if (hooksInstalled) return;
  hooksInstalled = true;
  // The kernel does not end a child with its parent: a test process that exits without
  // stopping coturn would leave it listening.
  process.on('exit', () => {
    for (const instance of live) instance.kill();
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(signal, () => {
      for (const instance of live) instance.kill();
      // Whatever else listens (netns.js) still runs; alone, the default action follows.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

/** A UDP port on loopback that nobody holds right now (coturn may still lose it to a race). */
async function freeUdpPort() {
  const socket = createSocket('udp4');
  await new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, HOST, resolve);
  });
  const { port } = socket.address();
  await new Promise((resolve) => socket.close(resolve));
  return port;
}

function configText({ port, relayMin, secret, logPath, pidPath, dbPath }) {
  return [
    `listening-ip=${HOST}`,
    `listening-port=${port}`,
    `relay-ip=${HOST}`,
    `min-port=${relayMin}`,
    `max-port=${relayMin + RELAY_BLOCK - 1}`,
    'use-auth-secret',
    `static-auth-secret=${secret}`,
    `realm=${REALM}`,
    // The SFU listens on 127.0.0.1 in the tests; coturn refuses loopback peers without this.
    'allow-loopback-peers',
    // Browsers reach it over UDP only; no TCP listener means one port fewer to collide on.
    'no-tcp',
    'no-tcp-relay',
    'no-tls',
    'no-dtls',
    'no-cli',
    'fingerprint',
    // Without it coturn logs no session or allocation, which the tests look for.
    'verbose',
    `log-file=${logPath}`,
    // One log file with exactly this name, instead of one per day with the date appended.
    'simple-log',
    'no-stdout-log',
    `pidfile=${pidPath}`,
    // Credentials come from the shared secret; this only keeps coturn away from /var/lib/turn.
    `userdb=${dbPath}`,
    '',
  ].join('\n');
}

/** Sends STUN binding requests to `port` until one is answered or `deadline` passes. */
async function answersStun(port, deadline, gone) {
  const socket = createSocket('udp4');
  const transaction = randomBytes(12);
  const request = Buffer.alloc(20);
  request.writeUInt16BE(BINDING_REQUEST, 0);
  request.writeUInt16BE(0, 2);
  request.writeUInt32BE(STUN_MAGIC_COOKIE, 4);
  transaction.copy(request, 8);
  let answered = false;
  socket.on('message', (msg) => {
    if (msg.length >= 20 && msg.readUInt16BE(0) === BINDING_SUCCESS && msg.subarray(8, 20).equals(transaction)) {
      answered = true;
    }
  });
  // An ICMP "port unreachable" before coturn binds shows up as an error on the socket.
  socket.on('error', () => {});
  try {
    while (!answered && !gone() && Date.now() < deadline) {
      socket.send(request, port, HOST);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return answered;
  } finally {
    socket.close();
  }
}

/**
 * Starts coturn and waits until it answers STUN.
 * @param {{ name?: string, readyTimeoutMs?: number }} [opts] `name` goes into the log's file name
 * @returns {Promise<{url: string, secret: string, realm: string, port: number, logPath: string,
 *                    describe: () => string, log: () => string, stop: () => Promise<void>}>}
 */
export async function startCoturn(opts = {}) {
  if (!existsSync(TURNSERVER_PATH)) {
    throw new Error(
      `coturn's turnserver not found at ${TURNSERVER_PATH}: install Debian's coturn package ` +
        `(\`apt-get install coturn\`, as .ci/run does) or point TURNSERVER_PATH at it.`,
    );
  }
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const logPath = join(ARTIFACTS_DIR, `coturn-${opts.name ?? 'turn'}-${stamp}.log`);
  const secret = randomBytes(24).toString('hex');
  const timeoutMs = opts.readyTimeoutMs ?? 20_000;
  const failures = [];
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const instance = await launch({ logPath, secret, timeoutMs });
    if (instance.ready) return instance.handle;
    failures.push(`attempt ${attempt} on port ${instance.port}: ${instance.why}`);
    if (!instance.retry) break;
  }
  throw new Error(
    `coturn did not start:\n  ${failures.join('\n  ')}\ncoturn log: ${logPath}\n` +
      `--- last lines of the coturn log ---\n${tailFile(logPath)}\n---`,
  );
}

async function launch({ logPath, secret, timeoutMs }) {
  const dir = mkdtempSync(join(tmpdir(), 'accord-coturn-'));
  const port = await freeUdpPort();
  const relayMin = randomInt(RELAY_FIRST, RELAY_LAST - RELAY_BLOCK);
  const configPath = join(dir, 'turnserver.conf');
  writeFileSync(configPath, configText({
    port, relayMin, secret, logPath, pidPath: join(dir, 'turnserver.pid'), dbPath: join(dir, 'turndb'),
  }), { mode: 0o600 });

  const logStart = existsSync(logPath) ? statSync(logPath).size : 0;
  // coturn writes a few socket errors to stderr before its log is open; they belong in it too.
  const stderrFd = openSync(logPath, 'a');
  const child = spawn(TURNSERVER_PATH, ['-c', configPath], { stdio: ['ignore', 'ignore', stderrFd] });
  closeSync(stderrFd);
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
  });
  child.once('error', (err) => {
    exited = { error: err.message };
  });

  let stopped = false;
  const instance = {
    kill() {
      if (!exited) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  live.add(instance);
  installExitHooks();

  async function stop() {
    if (stopped) return;
    stopped = true;
    live.delete(instance);
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exitPromise;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  }

  const logText = (from = 0) => {
    try {
      return readFileSync(logPath).subarray(from).toString('utf8');
    } catch {
      return '';
    }
  };
  // The log is shared by every attempt: only this one's lines say whether its port was taken.
  const portTaken = () => PORT_TAKEN_RE.test(logText(logStart));
  const ready = await answersStun(port, Date.now() + timeoutMs, () => exited !== null || portTaken());
  if (ready) {
    return {
      ready,
      port,
      handle: {
        url: `turn:${HOST}:${port}?transport=udp`,
        secret,
        realm: REALM,
        port,
        logPath,
        /** The whole coturn log so far. */
        log: () => logText(),
        describe: () => `coturn log: ${logPath}\n--- last lines of the coturn log ---\n${tailFile(logPath)}\n---`,
        stop,
      },
    };
  }
  const taken = portTaken();
  const why = exited
    ? `turnserver exited (${JSON.stringify(exited)})`
    : taken
      ? 'the port was taken before coturn could bind it'
      : `no answer to STUN within ${timeoutMs} ms`;
  await stop();
  return { ready: false, port, why, retry: taken };
}
