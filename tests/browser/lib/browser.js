// Launches Debian's Chromium (never a downloaded one) with fake camera/microphone, one browser
// process with its own fresh profile per participant, and records the page's console.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/**
 * Open `url` in a new headless Chromium with a fresh --user-data-dir.
 * @returns {Promise<{name, page, context, console: string[], close: () => Promise<void>,
 *                    saveConsole: (path: string) => void}>}
 */
export async function openParticipant(name, url) {
  const userDataDir = mkdtempSync(join(tmpdir(), `accord-chromium-${name}-`));
  let context;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 800 },
      permissions: ['camera', 'microphone'],
      timeout: 60_000,
    });
  } catch (err) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw err;
  }
  const lines = [];
  const started = Date.now();
  const stamp = () => `${String(Date.now() - started).padStart(6)}ms`;
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => lines.push(`${stamp()} [${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => lines.push(`${stamp()} [pageerror] ${e.stack || e.message}`));
  page.on('crash', () => lines.push(`${stamp()} [crash] page crashed`));
  await page.goto(url, { waitUntil: 'load', timeout: 30_000 });

  return {
    name,
    page,
    context,
    console: lines,
    saveConsole(path) {
      writeFileSync(path, lines.join('\n') + '\n');
    },
    async close() {
      await context.close().catch(() => {});
      removeProfile(userDataDir);
    },
  };
}

/**
 * A leftover temporary profile is no failure of the client under test, so a profile that
 * will not go away is reported and left behind rather than failing the test.
 */
export function removeProfile(dir) {
  try {
    // Chromium's helper processes may still be writing into the profile for a moment.
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  } catch (err) {
    process.stderr.write(`# could not remove the Chromium profile ${dir}: ${err.code ?? err.message}\n`);
  }
}
