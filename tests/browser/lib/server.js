// Starts the real Accord server binary for a browser test and mints join tokens from it.
//
//   const server = await startServer();
//   const token = await server.mintToken({ room: 'r1', identity: 'alice', name: 'Alice' });
//   ... ws URL is server.wsUrl ...
//   await server.stop();
//
// The binary is $ACCORD_BIN, else target/debug/accord at the repository root. Its stdout and
// stderr go to a log file under tests/browser/artifacts/ (server.logPath); `describe()` returns
// the path plus the last lines of the log for failure messages.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** tests/browser/ */
export const BROWSER_TEST_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** tests/browser/artifacts/ (gitignored): screenshots, logs. */
export const ARTIFACTS_DIR = join(BROWSER_TEST_DIR, 'artifacts');

const READY_RE = /ACCORD_READY http=(\S+) media=(\S+)/;
// eslint-disable-next-line no-control-regex
const ANSI_RE = /\x1b\[[0-9;]*m/g;

export function serverBinary() {
  return process.env.ACCORD_BIN
    ? resolve(process.env.ACCORD_BIN)
    : resolve(BROWSER_TEST_DIR, '../../target/debug/accord');
}

/** Last `n` lines of a text file, or '' if it cannot be read. */
export function tailFile(path, n = 60) {
  try {
    const lines = readFileSync(path, 'utf8').replace(ANSI_RE, '').split('\n');
    return lines.slice(-n - 1).join('\n');
  } catch {
    return '';
  }
}

/**
 * Start `accord serve` on loopback ports chosen by the OS and wait for its ACCORD_READY line.
 * `opts.env` may move the listeners elsewhere (ACCORD_HTTP_LISTEN, ACCORD_MEDIA_LISTEN,
 * ACCORD_MEDIA_ANNOUNCE); the data dir and the secrets are always the test's own.
 * @param {{ readyTimeoutMs?: number, env?: Record<string,string>, name?: string }} [opts]
 */
export async function startServer(opts = {}) {
  const bin = serverBinary();
  if (!existsSync(bin)) {
    throw new Error(
      `Accord server binary not found at ${bin}. Build it with \`cargo build --bins\` ` +
        `or point ACCORD_BIN at it.`,
    );
  }
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const dataDir = mkdtempSync(join(tmpdir(), 'accord-browser-data-'));
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const logPath = join(ARTIFACTS_DIR, `server-${opts.name ?? 'smoke'}-${stamp}.log`);
  const log = createWriteStream(logPath);
  const apiKey = randomBytes(24).toString('hex');
  const tokenSecret = randomBytes(20).toString('hex'); // 40 characters

  const env = {
    ...process.env,
    RUST_BACKTRACE: process.env.RUST_BACKTRACE ?? '1',
    RUST_LOG: process.env.RUST_LOG ?? 'info',
    ACCORD_HTTP_LISTEN: '127.0.0.1:0',
    ACCORD_MEDIA_LISTEN: '127.0.0.1:0',
    ...(opts.env ?? {}),
    ACCORD_DATA_DIR: dataDir,
    ACCORD_AUTH_API_KEY: apiKey,
    ACCORD_AUTH_TOKEN_SECRET: tokenSecret,
  };

  log.write(`# ${bin} serve\n# ACCORD_DATA_DIR=${dataDir}\n`);
  const child = spawn(bin, ['serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let exited = null; // {code, signal} once the process is gone
  const exitPromise = new Promise((res) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      res(exited);
    });
  });
  let spawnError = null;
  child.once('error', (err) => {
    spawnError = err;
  });

  const ready = new Promise((res, rej) => {
    let buf = '';
    child.stdout.on('data', (chunk) => {
      log.write(chunk);
      buf += chunk.toString('utf8');
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).replace(ANSI_RE, '');
        buf = buf.slice(nl + 1);
        const m = READY_RE.exec(line);
        if (m) res({ http: m[1], media: m[2] });
      }
    });
    child.stderr.on('data', (chunk) => log.write(chunk));
    exitPromise.then(({ code, signal }) =>
      rej(new Error(`accord serve exited before ACCORD_READY (code ${code}, signal ${signal})`)),
    );
    child.once('error', (err) => rej(new Error(`cannot start ${bin}: ${err.message}`)));
  });

  const timeoutMs = opts.readyTimeoutMs ?? 60_000;
  let timer;
  const timeout = new Promise((_, rej) => {
    timer = setTimeout(
      () => rej(new Error(`no ACCORD_READY line from accord serve within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });

  const describe = () =>
    `server log: ${logPath}\n--- last lines of the server log ---\n${tailFile(logPath)}\n---`;

  async function stop({ keepData = false } = {}) {
    if (!exited && !spawnError) {
      // The first SIGTERM drains the node, which waits for its live rooms (a closed page's
      // seat is held 15 s for a resume); a second one moves everyone off, stores any
      // recording and exits. Sent apart, as signals that arrive together count once.
      child.kill('SIGTERM');
      const againTimer = setTimeout(() => child.kill('SIGTERM'), 300);
      const killTimer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exitPromise;
      clearTimeout(againTimer);
      clearTimeout(killTimer);
    }
    await new Promise((res) => log.end(res));
    if (!keepData) rmSync(dataDir, { recursive: true, force: true });
  }

  let addrs;
  try {
    addrs = await Promise.race([ready, timeout]);
  } catch (err) {
    await stop({ keepData: true });
    err.message += `\n${describe()}\n(data dir kept: ${dataDir})`;
    throw err;
  } finally {
    clearTimeout(timer);
  }

  const httpUrl = `http://${addrs.http}`;
  const wsUrl = `ws://${addrs.http}/ws`;

  /**
   * POST /api/v1/tokens and return the JWT.
   * @param {{room: string, identity: string, name?: string, role?: string,
   *          can_publish?: boolean, can_subscribe?: boolean}} claims
   */
  async function mintToken(claims) {
    const body = {
      name: claims.identity,
      role: 'party',
      can_publish: true,
      can_subscribe: true,
      ...claims,
    };
    const res = await fetch(`${httpUrl}/api/v1/tokens`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) {
      throw new Error(`POST /api/v1/tokens -> HTTP ${res.status}: ${text}`);
    }
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(`POST /api/v1/tokens answered non-JSON: ${text}`);
    }
    if (typeof json.token !== 'string' || !json.token) {
      throw new Error(`POST /api/v1/tokens answered without a token: ${text}`);
    }
    return json.token;
  }

  return {
    bin,
    pid: child.pid,
    httpUrl,
    wsUrl,
    mediaAddr: addrs.media,
    apiKey,
    dataDir,
    logPath,
    mintToken,
    describe,
    isRunning: () => !exited,
    stop,
  };
}
