// A network namespace joined to this machine by one veth pair, so that a browser launched
// inside it has a network the test can really take away: `cut()` drops the link (TCP and UDP
// stop both ways, as when a phone loses its signal) and `restore()` brings it back.
//
//   const ns = createNetns('reconnect');     // throws a clear error without root / ip
//   ... serve on ns.hostAddress, launch Chromium with ns.chromiumWrapper() ...
//   ns.cut(); ...; await ns.restore();
//   ns.destroy();                            // also runs on process exit and on signals
//
// Traffic stays between the root namespace and this one: the host side does not forward what
// comes from the namespace, so nothing from inside it can reach any other network.

import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { CHROMIUM_PATH } from './browser.js';

const NAME_PREFIX = 'accord-test-';
/** Addresses are taken as a /29 out of 10.213.0.0/16, the block chosen by the process id. */
const FIRST_OCTETS = [10, 213];

function ip(...args) {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function ipQuietly(...args) {
  try {
    ip(...args);
  } catch {
    // Already gone: cleaning up is idempotent.
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/** Namespaces left by a test process that was killed before it could clean up. */
function removeOrphans() {
  let names = [];
  try {
    names = ip('netns', 'list').split('\n').map((line) => line.split(' ')[0]);
  } catch {
    return;
  }
  for (const name of names) {
    const match = name.startsWith(NAME_PREFIX) && /-(\d+)$/.exec(name);
    if (match && !isAlive(Number(match[1]))) ipQuietly('netns', 'delete', name);
  }
}

/** A /29 whose addresses no interface here uses yet: the host end, the inside end, and a
 *  second inside address for a phone whose address changes (Wi-Fi to mobile data). */
function freeSubnet(pid) {
  const used = ip('-4', '-o', 'addr', 'show');
  for (let attempt = 0; attempt < 250; attempt++) {
    const third = (pid + attempt) % 250;
    const prefix = `${FIRST_OCTETS.join('.')}.${third}.`;
    if (!used.includes(` ${prefix}`)) return { host: `${prefix}1`, inside: `${prefix}2`, moved: `${prefix}3` };
  }
  throw new Error(`no free /29 in ${FIRST_OCTETS.join('.')}.0.0/16 for a test network namespace`);
}

const live = new Set();
let exitHooksInstalled = false;

function installExitHooks() {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', () => {
    for (const ns of live) ns.destroy();
  });
  for (const [signal, number] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]]) {
    process.once(signal, () => {
      for (const ns of live) ns.destroy();
      process.exit(128 + number);
    });
  }
}

/**
 * Creates the namespace `accord-test-<label>-<pid>` with its veth pair and addresses.
 * @param {string} label a short word naming the test (letters and digits)
 */
export function createNetns(label) {
  const pid = process.pid;
  const name = `${NAME_PREFIX}${label}-${pid}`;
  // Interface names are limited to 15 characters.
  const hostInterface = `acch${pid}`;
  const insideInterface = `accn${pid}`;
  let subnet;
  let wrapperDir = null;
  let destroyed = false;

  try {
    removeOrphans();
    subnet = freeSubnet(pid);
    ip('netns', 'add', name);
  } catch (err) {
    throw new Error(
      `cannot create the network namespace ${name}: this test needs root (CAP_NET_ADMIN) and ` +
        `the \`ip\` tool (iproute2).\n${err.stderr || err.message}`,
    );
  }

  const ns = {
    name,
    /** The root namespace's end of the link: serve here so both sides can reach it. */
    hostAddress: subnet.host,
    /** The namespace's own address. */
    insideAddress: subnet.inside,

    /** A script that runs Chromium inside the namespace, for Playwright's executablePath. */
    chromiumWrapper() {
      if (!wrapperDir) {
        wrapperDir = mkdtempSync(join(tmpdir(), `${name}-`));
        const wrapper = join(wrapperDir, 'chromium');
        writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${name} ${CHROMIUM_PATH} "$@"\n`);
        chmodSync(wrapper, 0o755);
      }
      return join(wrapperDir, 'chromium');
    },

    /** Takes the link away: nothing passes either way until `restore()`. */
    cut() {
      ip('link', 'set', hostInterface, 'down');
    },

    /**
     * Brings the link back and waits until the namespace sees its carrier again. With
     * `{ newAddress: true }` the namespace comes back with another address, as a phone that
     * moved from Wi-Fi to mobile data: its old ICE candidate is gone for good.
     */
    async restore({ newAddress = false } = {}) {
      if (newAddress) {
        ip('-n', name, 'addr', 'del', `${subnet.inside}/29`, 'dev', insideInterface);
        ip('-n', name, 'addr', 'add', `${subnet.moved}/29`, 'dev', insideInterface);
        ip('-n', name, 'route', 'replace', 'default', 'via', subnet.host);
      }
      // Address resolutions that failed during the outage are forgotten first, as a phone
      // whose interface went down has none: they would refuse the first packets after it.
      // Not after the link is up: that would drop packets already queued for resolution.
      ipQuietly('-n', name, 'neigh', 'flush', 'dev', insideInterface);
      ipQuietly('neigh', 'flush', 'dev', hostInterface);
      ip('link', 'set', hostInterface, 'up');
      const deadline = Date.now() + 5_000;
      while (!/state UP/.test(ip('-n', name, '-o', 'link', 'show', insideInterface))) {
        if (Date.now() > deadline) throw new Error(`${insideInterface} in ${name} did not come back up`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },

    /** Removes the namespace, both veth ends and the wrapper. Safe to call more than once. */
    destroy() {
      if (destroyed) return;
      destroyed = true;
      live.delete(ns);
      ipQuietly('netns', 'delete', name);
      ipQuietly('link', 'delete', hostInterface);
      if (wrapperDir) rmSync(wrapperDir, { recursive: true, force: true });
    },
  };
  live.add(ns);
  installExitHooks();

  try {
    ip('link', 'add', hostInterface, 'type', 'veth', 'peer', 'name', insideInterface);
    ip('link', 'set', insideInterface, 'netns', name);
    // Whatever the machine's global setting, nothing arriving from the namespace is routed on.
    writeFileSync(`/proc/sys/net/ipv4/conf/${hostInterface}/forwarding`, '0');
    ip('addr', 'add', `${subnet.host}/29`, 'dev', hostInterface);
    ip('link', 'set', hostInterface, 'up');
    ip('-n', name, 'link', 'set', 'lo', 'up');
    ip('-n', name, 'addr', 'add', `${subnet.inside}/29`, 'dev', insideInterface);
    ip('-n', name, 'link', 'set', insideInterface, 'up');
    ip('-n', name, 'route', 'add', 'default', 'via', subnet.host);
  } catch (err) {
    ns.destroy();
    throw new Error(`cannot set up the veth link of ${name}: ${err.stderr || err.message}`);
  }
  return ns;
}
