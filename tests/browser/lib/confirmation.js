// Helpers for the judicial confirmation browser test (confirmation.test.js): an agreement
// brought into force in a RECORDED case session (the mediator records from the start, so the
// court has a recording to open), the party's application on a phone, the server log's
// notifications, a small ruling PDF and ID card photo, and the ZIP work behind "the verify page gives the same
// answers as `accord verify`": reading a package, writing tampered variants of it, running the
// CLI and reading its FAIL lines.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, createHash, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';

import { SLOW, agreementState, drawWithFinger, loggedCodes, mainClauses, nextCode, openAgreementPanel, openStaff, signingState } from './agreement.js';

export { signAndSeal } from './agreement.js';
import { BROWSER_TEST_DIR } from './server.js';
import { clickJoin, joinAndWait, openClient, openConsole, waitFor, waitInRoom } from './web-client.js';

// fflate is the web client's own ZIP library; the tests borrow it rather than add a copy.
const fflate = createRequire(join(BROWSER_TEST_DIR, '../../web-client/package.json'))('fflate');

// eslint-disable-next-line no-control-regex
const ANSI_RE = /\x1b\[[0-9;]*m/g;

/**
 * The mediator (signed in on the desk, then in the room) and the named parties on phones,
 * admitted from the waiting room. `clients` collects every browser for the caller to close.
 */
export async function enterRoom(server, world, parties, tag, clients) {
  const mediator = await openStaff(server, `${tag}-mediator`, 'li', world.mediatorLink);
  clients.push(mediator);
  await clickJoin(mediator);
  await waitInRoom(mediator, SLOW);
  const phones = {};
  for (const [name, key] of parties) {
    phones[key] = await openClient(`${tag}-${key}`, world.links[name], { phone: true });
    clients.push(phones[key]);
    await joinAndWait(phones[key]);
  }
  await openConsole(mediator);
  await waitFor('the parties waiting', async () => (await mediator.state())?.waiting?.length === parties.length, SLOW, 200);
  await mediator.page.getByTestId('admit-all').click();
  for (const phone of Object.values(phones)) await waitInRoom(phone, SLOW);
  return { mediator, phones };
}

/** Waits for the recording notice of `kind` on each page and presses its "知道了", as a person would. */
export async function readRecordingNotice(clients, kind) {
  for (const client of clients) {
    const notice = client.page.getByTestId('recording-notice');
    await waitFor(`${client.name}'s ${kind} recording notice`, async () => (await notice.isVisible()) && (await notice.getAttribute('data-kind')) === kind, SLOW, 200);
    await client.page.getByTestId('recording-notice-ok').click();
    await notice.waitFor({ state: 'hidden', timeout: SLOW });
  }
}

/** The mediator starts recording from the console; everyone is told and sees the REC badge. */
export async function startRecording(mediator, everyone) {
  await openConsole(mediator);
  await mediator.page.getByTestId('record-start').click();
  await readRecordingNotice(everyone, 'starting');
  await waitFor('the console to say it records', async () => (await mediator.page.getByTestId('recording-controls').getAttribute('data-state')) === 'on', SLOW, 200);
}

/** Stops the recording (the page's dialog handler says yes) and waits until it is stored complete. */
export async function stopRecording(mediator, centre, caseId) {
  await openConsole(mediator);
  await mediator.page.getByTestId('record-stop').click();
  await waitFor('the console to offer a new start', async () => (await mediator.page.getByTestId('record-start').count()) === 1, SLOW, 200);
  const done = await waitFor('the recording to be complete', async () => {
    const { recordings } = await centre.as('li', 'GET', `/api/v1/cases/${caseId}/recordings`);
    return recordings.find((r) => !['recording', 'paused', 'finalising'].includes(r.status)) ?? null;
  }, 120_000, 500);
  assert.equal(done.status, 'complete', `the recording: ${JSON.stringify(done)}`);
  return done;
}

/** The mediator drafts from the category's template in the room's agreement panel and finalises it. */
export async function draftAndFinalise(mediator, phones) {
  await openAgreementPanel(mediator);
  const form = mediator.page.getByTestId('agreement-create');
  await form.waitFor({ timeout: SLOW });
  await waitFor('the templates listed', async () => (await form.getByTestId('agreement-template').inputValue()).startsWith('builtin:'), SLOW, 200);
  await form.getByTestId('agreement-create-submit').click();
  await mediator.page.getByTestId('agreement-workspace').waitFor({ timeout: SLOW });
  const clauses = await waitFor('the shared draft open in the editor', () => mainClauses(mediator), SLOW, 200);
  for (const phone of phones) {
    await openAgreementPanel(phone);
    await waitFor(`${phone.name} showing the draft`, async () => (await mainClauses(phone))?.length === clauses.length, SLOW, 200);
  }
  await waitFor('every edit stored', async () => (await agreementState(mediator))?.docs?.main?.pending === 0, SLOW, 100);
  await mediator.page.getByTestId('agreement-finalise').click();
  await waitFor('the agreement final', async () => (await agreementState(mediator))?.status === 'final', SLOW, 200);
  for (const phone of phones) {
    await waitFor(`${phone.name} at the reading step`, async () => (await signingState(phone))?.step === 'read', SLOW, 200);
  }
}

/**
 * A party signs as in the agreement test: free will asked alone in their private room, the
 * text read to the end, the one-time code from the server log, a finger-drawn signature.
 */
export async function signAsParty(server, mediator, phone, partyId, masked, variant) {
  const workspace = mediator.page.getByTestId('agreement-workspace');
  const ask = workspace.locator(`[data-testid=signing-ask-free-will][data-signer="${partyId}"]`);
  await ask.waitFor({ timeout: SLOW });
  await ask.click();
  await mediator.page.getByTestId('signing-alone').waitFor({ timeout: SLOW });
  await mediator.page.getByTestId('signing-free-will-yes').click();
  await mediator.page.getByTestId('signing-free-will-recorded').waitFor({ timeout: SLOW });
  await mediator.page.getByTestId('signing-back-joint').click();
  await waitFor(`${phone.name} back in the joint room`, async () => (await phone.state())?.space === 'joint', SLOW, 200);
  // Back in the recorded room, both are told again that it records.
  await readRecordingNotice([mediator, phone], 'ongoing');

  await phone.page.getByTestId('signing-end').scrollIntoViewIfNeeded();
  const next = phone.page.getByTestId('signing-read-next');
  await waitFor(`${phone.name}'s reading gate open`, () => next.isEnabled(), SLOW, 100);
  await next.click();
  await waitFor(`${phone.name} at the identity step`, async () => (await signingState(phone))?.step === 'identity', SLOW, 200);
  const seen = loggedCodes(server).length;
  await phone.page.getByTestId('signing-otp-send').click();
  const code = await nextCode(server, seen, masked);
  await phone.page.getByTestId('signing-otp').pressSequentially(code);
  await phone.page.getByTestId('signing-otp-confirm').click();
  await waitFor(`${phone.name} at the drawing step`, async () => (await signingState(phone))?.step === 'draw', SLOW, 200);
  const pad = phone.page.getByTestId('signing-pad');
  await pad.scrollIntoViewIfNeeded();
  await drawWithFinger(phone, pad, variant);
  const button = phone.page.getByTestId('signing-sign');
  await waitFor(`${phone.name}'s sign button enabled by the ink`, () => button.isEnabled(), SLOW, 100);
  await button.click();
  await phone.page.getByTestId('signing-done').waitFor({ timeout: SLOW });
}

/** `window.ACCORD.confirmation` of a page (what its confirmation view last showed). */
export const confirmationState = (client) => client.page.evaluate(() => window.ACCORD?.confirmation ?? null);

/** The text and `data-status` of the confirmation status block on a page, or null while absent. */
export async function confirmationStatus(page) {
  const block = page.getByTestId('confirm-status');
  if ((await block.count()) !== 1 || !(await block.isVisible())) return null;
  return { status: await block.getAttribute('data-status'), text: await block.innerText() };
}

/** A party applies on their phone: the address for service, the declarations, "申请司法确认". */
export async function applyOnPhone(phone, address) {
  const form = phone.page.getByTestId('confirm-form');
  await form.waitFor({ state: 'visible', timeout: SLOW });
  await phone.page.getByTestId('confirm-address').fill(address);
  await phone.page.getByTestId('confirm-declare').check();
  await phone.page.getByTestId('confirm-apply').click();
  await waitFor(`${phone.name}'s application accepted`, async () => {
    const state = await confirmationState(phone);
    assert.equal(state?.lastError ?? null, null, `${phone.name}'s application refused: ${JSON.stringify(state)}`);
    return state?.applied === true;
  }, SLOW, 200);
}

/** Notifications of `template` the server's log channel recorded: the masked phone of each, oldest first. */
export function loggedNotices(server, template) {
  const text = readFileSync(server.logPath, 'utf8').replace(ANSI_RE, '');
  return text
    .split('\n')
    .filter((line) => line.includes('notification due') && new RegExp(`template="?${template}\\b`).test(line))
    .map((line) => /\bto="?([0-9*]+)/.exec(line)?.[1] ?? null);
}

/** Today's date in Beijing, `YYYY-MM-DD` (a ruling's date). */
export function beijingDate(ms = Date.now()) {
  return new Date(ms + 8 * 3600 * 1000).toISOString().slice(0, 10);
}

/**
 * A one-page PDF with a line of text, well formed (its cross-reference table gives every
 * object's byte offset), standing in for the scanned ruling a clerk uploads.
 */
export function rulingPdf(line) {
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    null, // the content stream, below
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  const content = `BT /F1 18 Tf 72 760 Td (${line.replace(/[()\\]/g, '\\$&')}) Tj ET`;
  objects[3] = `<< /Length ${Buffer.byteLength(content, 'latin1')} >>\nstream\n${content}\nendstream`;
  let body = '%PDF-1.4\n';
  const offsets = [];
  objects.forEach((object, i) => {
    offsets.push(Buffer.byteLength(body, 'latin1'));
    body += `${i + 1} 0 obj\n${object}\nendobj\n`;
  });
  const xref = Buffer.byteLength(body, 'latin1');
  body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) body += `${String(offset).padStart(10, '0')} 00000 n \n`;
  body += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(body, 'latin1');
}

/**
 * A small real PNG (8-bit RGB) standing in for the photo of an ID card's front: a pale card with
 * a darker square where the portrait goes, so a viewer shows something recognisable.
 */
export function idCardPng(width = 64, height = 40) {
  const rows = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3); // filter byte 0: the row as it is
    for (let x = 0; x < width; x++) {
      const portrait = x > width * 0.62 && x < width * 0.92 && y > height * 0.2 && y < height * 0.8;
      row.set(portrait ? [90, 110, 140] : [226, 236, 246 - (y % 8)], 1 + x * 3);
    }
    rows.push(row);
  }
  const chunk = (type, data) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const typed = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(typed) >>> 0);
    return Buffer.concat([length, typed, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8 bits, RGB, deflate, no filter method, not interlaced
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * A party uploads `png` as their ID card's front on the confirmation page and waits until it is
 * listed. Returns the listed row's text.
 */
export async function uploadIdCardFront(phone, png) {
  const section = phone.page.getByTestId('identity-proofs');
  await section.waitFor({ state: 'visible', timeout: SLOW });
  await phone.page.getByTestId('identity-upload-front').setInputFiles({ name: 'id-front.png', mimeType: 'image/png', buffer: png });
  const row = section.locator('[data-testid=identity-proof][data-kind=id_card_front]');
  await waitFor(`${phone.name}'s ID card listed`, async () => {
    const state = await confirmationState(phone);
    assert.equal(state?.lastError ?? null, null, `${phone.name}'s upload refused: ${JSON.stringify(state)}`);
    return (await row.count()) === 1;
  }, SLOW, 200);
  return row.innerText();
}

// ---- packages ----

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** A package's entries, `{path: Uint8Array}` in the ZIP's order. */
export const unzip = (bytes) => fflate.unzipSync(new Uint8Array(bytes));

/** A ZIP of `entries` (DEFLATE), as Buffer. */
export const zip = (entries) => Buffer.from(fflate.zipSync(entries, { level: 6, mtime: new Date('2000-01-01T00:00:00Z') }));

const textOf = (bytes) => Buffer.from(bytes).toString('utf8');

/**
 * A new Ed25519 key (not the platform's): its raw public key in base64 and its key id as the
 * package names keys (the first 16 hex digits of the raw key's SHA-256), so a signature by it
 * is well formed and fails only for not being the platform's.
 */
function anotherKey() {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  return { privateKey, publicKeyB64: raw.toString('base64'), keyId: sha256(raw).slice(0, 16) };
}

/** manifest.sig.json for `manifestBytes`, signed by `key` (an `anotherKey()`). */
function signedBy(key, manifestBytes, previous) {
  const sig = {
    ...previous,
    algorithm: 'Ed25519',
    key_id: key.keyId,
    public_key: key.publicKeyB64,
    signature: sign(null, Buffer.from(manifestBytes), key.privateKey).toString('base64'),
  };
  return new TextEncoder().encode(JSON.stringify(sig, null, 2));
}

/**
 * The tampered packages of the "Done means", each `{name, bytes, expect}` where
 * `expect` lists what must be reported: each item a list of problem codes of which at least
 * one is found (empty: the package passes); `at`, when set, a path a problem must name;
 * `only`, when set, the codes every problem must have.
 */
export function packageVariants(good) {
  const entries = unzip(good);
  const paths = Object.keys(entries);
  const manifest = JSON.parse(textOf(entries['manifest.json']));
  const sig = JSON.parse(textOf(entries['manifest.sig.json']));
  const variants = [{ name: 'untouched', bytes: Buffer.from(good), expect: [] }];

  // One byte of the agreement's PDF changed.
  const pdf = new Uint8Array(entries['agreement/agreement.pdf']);
  assert.ok(pdf.length > 100, 'the package carries agreement/agreement.pdf');
  pdf[Math.floor(pdf.length / 2)] ^= 0x01;
  variants.push({ name: 'pdf-byte', bytes: zip({ ...entries, 'agreement/agreement.pdf': pdf }), expect: [['file_hash']], at: 'agreement/agreement.pdf', only: ['file_hash'] });

  // A listed file removed.
  const removed = paths.includes('application/申请书.txt') ? 'application/申请书.txt' : manifest.files.at(-1).path;
  variants.push({ name: 'file-removed', bytes: zip(Object.fromEntries(Object.entries(entries).filter(([p]) => p !== removed))), expect: [['file_missing']], at: removed, only: ['file_missing'] });

  // A file added.
  const added = 'evidence/files/99-added.txt';
  variants.push({ name: 'file-added', bytes: zip({ ...entries, [added]: new TextEncoder().encode('added after signing\n') }), expect: [['file_unlisted']], at: added, only: ['file_unlisted'] });

  // Two signers' signature.json swapped, the manifest re-hashed so the files look consistent,
  // and signed again by a key of our own: the platform's key is not in our hands.
  const dirs = manifest.signatures.map((s) => s.dir);
  assert.ok(dirs.length >= 2, `two signature directories: ${JSON.stringify(manifest.signatures)}`);
  const [a, b] = [`${dirs[0]}/signature.json`, `${dirs[1]}/signature.json`];
  const swapped = { ...entries, [a]: entries[b], [b]: entries[a] };
  const rehashed = {
    ...manifest,
    files: manifest.files.map((f) => (f.path === a || f.path === b ? { ...f, sha256: sha256(swapped[f.path]), size: swapped[f.path].length } : f)),
  };
  const rehashedBytes = new TextEncoder().encode(JSON.stringify(rehashed, null, 2));
  const key = anotherKey();
  variants.push({
    name: 'signatures-swapped',
    bytes: zip({ ...swapped, 'manifest.json': rehashedBytes, 'manifest.sig.json': signedBy(key, rehashedBytes, sig) }),
    // Our key is not the platform's; the swapped signatures no longer fit their payloads.
    expect: [['manifest_signature'], ['signature_invalid', 'signature_mismatch']],
  });

  // The manifest as it was, signed by another key.
  variants.push({ name: 'other-key', bytes: zip({ ...entries, 'manifest.sig.json': signedBy(anotherKey(), entries['manifest.json'], sig) }), expect: [['manifest_signature']], only: ['manifest_signature'] });
  return variants;
}

/**
 * One byte changed in each file of the package in turn, each `{name, path, bytes}`: every one
 * must fail, and the listed files must be named (the manifest and its signature fail as the
 * manifest's signature, or as unreadable).
 */
export function byteVariants(good) {
  const entries = unzip(good);
  return Object.keys(entries).map((path, i) => {
    const changed = new Uint8Array(entries[path]);
    // XOR 1 keeps UTF-8 text valid UTF-8: the file still parses where it parsed before.
    changed[Math.floor(changed.length / 2)] ^= 0x01;
    return { name: `byte-${String(i).padStart(2, '0')}`, path, bytes: zip({ ...entries, [path]: changed }) };
  });
}

/**
 * `accord verify FILE --keys KEYS` (Chinese report): its exit code, its output, and the
 * problems of its `FAIL <path>: <message> [<code>]` lines as `code path` strings, sorted.
 */
export function cliVerify(bin, file, keysFile, lang = 'zh') {
  const run = spawnSync(bin, ['verify', file, '--keys', keysFile, '--lang', lang], { encoding: 'utf8', timeout: 60_000 });
  const output = `${run.stdout ?? ''}${run.stderr ?? ''}`.replace(ANSI_RE, '');
  const problems = [];
  for (const line of output.split('\n')) {
    const found = /^FAIL (.+?): .* \[([a-z_]+)\]\s*$/u.exec(line.trim());
    if (found) problems.push(`${found[2]} ${found[1]}`);
  }
  return { code: run.status, output, problems: problems.sort() };
}

/** The verify page's hook after a check, as `code path` strings, sorted. */
export function pageProblems(check) {
  return check.codes.map((code, i) => `${code} ${check.paths[i]}`).sort();
}
