// Judicial confirmation (issue 16) in real Chromium against the real server, one server for the file.
//
// 1. The whole way: the mediator records the case session from the start, drafts, both parties
//    sign on their phones and the mediator seals (the agreement flow of agreement.test.js);
//    the recording is stored and the session ends. The mediator sends the application links
//    from the case page ("发送申请链接"; the log channel records one per phone); each phone
//    opens its case link; the applicant uploads a photo of their ID card's front (身份证明) and
//    sees it listed, then each applies (address, declarations): the first sees "等待对方申请",
//    then both see it submitted; the mediator's case page shows the package and counts the
//    applicant's proof. A court user of the
//    organisation's court signs in on a desktop, sees the request in the inbox with its clock
//    (受理期限), opens it, sees the index of materials and the ID photo's place in the package
//    (parties/identity/…), opens the recording (it plays), accepts
//    with a court case number, uploads a ruling PDF and confirms. The case page says 司法确认有效,
//    both phones show the confirmation, and the server's log channel notified each party.
// 2. The verify page gives the same answers as `accord verify`: the real package (downloaded as
//    the court user) and tampered variants of it (one byte of the agreement PDF, a file
//    removed, a file added, two signatures swapped under a manifest re-signed by another key,
//    the manifest signed by another key, and one byte changed in each file in turn), each
//    checked by the CLI against the platform's published keys and dropped on /v/<sha>:
//    pass/fail and the problems (code and path) agree. The package carries the uploaded ID
//    photo byte for byte.
// 3. After the session, a party's own session link still opens their case page (the end
//    screen's "apply for confirmation" button) and reads the agreement.
//
// Every wait is for a state, with room to spare (no timed assertion). Needs web-client/dist,
// target/debug/accord (or $ACCORD_BIN) and ffmpeg.

import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { SLOW, assertFitsPhone, caseSession, createCentre, openStaff } from './lib/agreement.js';
import { PASSWORD, call } from './lib/case-session.js';
import {
  applyOnPhone, beijingDate, byteVariants, cliVerify, confirmationStatus, draftAndFinalise, enterRoom, idCardPng, loggedNotices, packageVariants, pageProblems,
  rulingPdf, signAndSeal, signAsParty, startRecording, stopRecording, unzip, uploadIdCardFront,
} from './lib/confirmation.js';
import { ARTIFACTS_DIR, serverBinary, startServer } from './lib/server.js';
import { openClient, openConsole, waitFor } from './lib/web-client.js';

/** The court the organisation sits under (createCentre's organisation names it). */
const COURT = '深圳市宝安区人民法院';
const COURT_CASE_NUMBER = '(2026)粤0306民特123号';
const RULING_NUMBER = '(2026)粤0306民特123号之一';
/** The phones' own refresh runs every 30 s: a status may take that long to reach them. */
const PHONE_REFRESH = 100_000;

describe('judicial confirmation in the browser', () => {
  let server;
  let centre;
  const clients = [];
  /** What test 1 leaves for test 2: the agreement, the request and the court user's token. */
  const done = {};

  before(async () => {
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
    server = await startServer({ name: 'confirmation' });
    centre = await createCentre(server);
  });

  after(async () => {
    await closeAll();
    await server?.stop();
  });

  async function closeAll() {
    for (const client of clients.splice(0)) {
      client.saveConsole(join(ARTIFACTS_DIR, `confirmation-${client.name}-console.log`));
      // The last screen of each browser: what a failure looked like.
      await client.page.screenshot({ path: join(ARTIFACTS_DIR, `confirmation-${client.name}-last.png`), fullPage: true }).catch(() => {});
      await client.close();
    }
  }

  /** Waits until the confirmation status block of `page` shows `status`; returns its text. */
  async function statusShown(what, page, status, timeout = SLOW) {
    const shown = await waitFor(`${what} showing ${status}`, async () => {
      const s = await confirmationStatus(page);
      return s?.status === status ? s : null;
    }, timeout, 250);
    return shown.text;
  }

  /** A staff member with the court role at `court`; returns the API token. */
  async function courtUser(username, court) {
    await centre.asAdmin('POST', '/api/v1/staff', { username, display_name: `${username}法官`, password: PASSWORD, role: 'court', court });
    return (await call(server, 'POST', '/api/v1/auth/login', { username, password: PASSWORD })).access_token;
  }

  test('both parties apply on their phones; the court accepts and confirms; everyone sees it', async () => {
    const world = await caseSession(centre);
    const { mediator, phones } = await enterRoom(server, world, [['张三', 'applicant'], ['李四', 'respondent']], 'flow', clients);
    const { applicant, respondent } = phones;
    const parties = [[applicant, '张三', '138****8000', 0], [respondent, '李四', '139****9000', 1]];

    // Recorded from the start, so the court has the mediation to watch.
    await startRecording(mediator, [mediator, applicant, respondent]);
    await draftAndFinalise(mediator, [applicant, respondent]);
    for (const [phone, name, masked, variant] of parties) await signAsParty(server, mediator, phone, world.partyIds[name], masked, variant);
    await signAndSeal(mediator);
    const agreement = await centre.as('li', 'GET', `/api/v1/cases/${world.caseId}/agreement`);
    assert.equal(agreement.status, 'in_force');
    const recording = await stopRecording(mediator, centre, world.caseId);

    // The session ends. The mediator sends each party the link to their case page from the
    // case page ("发送申请链接"); each phone opens the link it was sent.
    await openConsole(mediator);
    await mediator.page.getByTestId('end-session').click();
    await mediator.page.getByTestId('message-screen').waitFor({ timeout: SLOW });
    const caseLinks = {};
    const desk = await mediator.page.context().newPage();
    const casePage = `${server.httpUrl}/staff/cases/${world.caseId}`;
    await desk.goto(casePage, { waitUntil: 'load' });
    const section = desk.getByTestId('confirmation-section');
    await section.waitFor({ state: 'visible', timeout: SLOW });
    await section.getByTestId('confirm-links').click();
    await section.getByTestId('confirm-link-list').waitFor({ timeout: SLOW });
    for (const [phone, name, masked] of parties) {
      const item = section.locator(`[data-testid=confirm-link-list] li[data-party="${world.partyIds[name]}"]`);
      assert.equal(await item.getAttribute('data-sent'), 'true', `${name}'s link sent: ${await item.innerText()}`);
      assert.ok((await item.innerText()).includes(masked), `the case page says where ${name}'s link went: ${await item.innerText()}`);
      const text = await item.getByTestId('confirm-link-text').inputValue();
      const token = /\/case#token=([A-Za-z0-9_.%-]+)/u.exec(text)?.[1];
      assert.ok(token, `${name}'s message carries a case link: «${text}»`);
      caseLinks[name] = decodeURIComponent(token);
      // The message names the configured public address; this server listens elsewhere.
      await phone.page.goto(`${server.httpUrl}/case#token=${token}`, { waitUntil: 'load' });
      await phone.page.getByTestId('party-case').waitFor({ timeout: SLOW });
      await phone.page.getByTestId('confirm-flow').waitFor({ timeout: SLOW });
      await waitFor(`${name}'s phone naming the court`, async () => (await phone.page.getByTestId('confirm-court-name').innerText()).trim() === COURT, SLOW, 200);
    }
    const linksLogged = loggedNotices(server, 'confirmation_link');
    for (const [, name, masked] of parties) assert.ok(linksLogged.includes(masked), `a confirmation_link to ${name} in the server log: ${JSON.stringify(linksLogged)}`);

    // Before applying, the applicant adds a photo of their ID card's front for the court.
    const idPhoto = idCardPng();
    const listed = await uploadIdCardFront(applicant, idPhoto);
    assert.match(listed, /身份证人像面/u, `the uploaded proof listed: «${listed}»`);
    await applicant.page.screenshot({ path: join(ARTIFACTS_DIR, 'confirmation-phone-apply.png'), fullPage: true });
    await assertFitsPhone(applicant, 'the application form');

    // The applicant applies first and waits for the other side; then the respondent applies.
    await applyOnPhone(applicant, '广东省深圳市宝安区新安街道海滨路1号');
    const waiting = await statusShown('the applicant\'s phone', applicant.page, 'applying');
    assert.match(waiting, /等待对方申请/u);
    await applicant.page.screenshot({ path: join(ARTIFACTS_DIR, 'confirmation-phone-waiting.png'), fullPage: true });
    await applyOnPhone(respondent, '广东省深圳市宝安区新安街道建安路2号');
    assert.match(await statusShown('the respondent\'s phone', respondent.page, 'submitted'), /已提交/u);
    assert.match(await statusShown('the applicant\'s phone', applicant.page, 'submitted', PHONE_REFRESH), /已提交/u);
    await respondent.page.screenshot({ path: join(ARTIFACTS_DIR, 'confirmation-phone-submitted.png'), fullPage: true });

    const view = await centre.as('li', 'GET', `/api/v1/agreements/${agreement.id}/confirmation`);
    assert.equal(view.status, 'submitted', JSON.stringify(view));
    assert.ok(view.package?.sha256 && view.package.size > 0, `the package built: ${JSON.stringify(view.package)}`);
    const requestId = view.request_id;

    // The mediator's case page shows the request and its package.
    await desk.reload({ waitUntil: 'load' });
    await section.waitFor({ state: 'visible', timeout: SLOW });
    await statusShown('the case page', section, 'submitted');
    await section.getByTestId('confirm-package').waitFor({ timeout: SLOW });
    const idCount = section.locator(`[data-testid=staff-identity] [data-party="${world.partyIds['张三']}"] [data-testid=staff-identity-count]`);
    assert.equal(await idCount.getAttribute('data-count'), '1', `the case page counts 张三's proof: ${await idCount.innerText()}`);
    await desk.screenshot({ path: join(ARTIFACTS_DIR, 'confirmation-case-submitted.png'), fullPage: true });

    // A court user of that court: the inbox, with the clock to accept by.
    const courtToken = await courtUser('judge', COURT);
    const court = await openStaff(server, 'court', 'judge');
    clients.push(court);
    const page = court.page;
    await page.goto(`${server.httpUrl}/staff/court`, { waitUntil: 'load' });
    const row = page.locator(`[data-testid=inbox-row][data-id="${requestId}"]`);
    await row.waitFor({ timeout: SLOW });
    const clock = await row.getByTestId('court-clock').innerText();
    assert.match(clock, /受理期限/u, `the inbox row's clock: «${clock}»`);
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'confirmation-court-inbox.png'), fullPage: true });

    // The request: the index of materials, then the recording on the review page.
    await row.click();
    const request = page.locator(`[data-testid=court-request][data-id="${requestId}"]`);
    await request.waitFor({ timeout: SLOW });
    const requestUrl = page.url();
    const indexRows = page.getByTestId('court-index-row');
    await waitFor('the index of materials', async () => (await indexRows.count()) > 0, SLOW, 200);
    const index = await indexRows.evaluateAll((rows) => rows.map((r) => ({ item: r.dataset.item, present: r.dataset.present })));
    for (const item of ['application', 'agreement', 'process']) {
      assert.ok(index.some((r) => r.item === item && r.present === 'true'), `the index has ${item} present: ${JSON.stringify(index)}`);
    }
    const identityFiles = await page.locator('[data-testid=court-file]').evaluateAll((rows) => rows.map((r) => r.dataset.path));
    assert.ok(identityFiles.some((path) => path.startsWith('parties/identity/')), `the package lists the ID photo under parties/identity/: ${JSON.stringify(identityFiles)}`);
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'confirmation-court-request.png'), fullPage: true });
    assert.equal((await call(server, 'GET', `/api/v1/court/requests/${requestId}`, undefined, courtToken)).status, 'received', 'opened by the court, the request is received');

    await page.locator(`[data-testid=court-recording-link][data-id="${recording.id}"]`).click();
    await page.getByTestId('recording-review').waitFor({ timeout: SLOW });
    const review = () => page.evaluate(() => window.ACCORD?.review ?? null);
    await page.getByTestId('review-play').click();
    const { masterTime: start } = await waitFor('the review player ready', review, SLOW, 200);
    // Playing: the master clock and some tile's video move on.
    const tileStart = new Map();
    await waitFor('the recording playing', async () => {
      const r = await review();
      if (r && !r.playing) await page.getByTestId('review-play').click();
      const moved = (r?.tiles ?? []).some((tile) => {
        if (!tile.playing) return false;
        if (!tileStart.has(tile.name)) tileStart.set(tile.name, tile.currentTime);
        return tile.currentTime > tileStart.get(tile.name) + 0.5;
      });
      return r?.playing && r.masterTime > start + 0.5 && moved;
    }, SLOW, 250);
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'confirmation-court-review.png') });

    // Accepted with the court's case number, then confirmed with an uploaded ruling.
    await page.goto(requestUrl, { waitUntil: 'load' });
    await request.waitFor({ timeout: SLOW });
    await page.getByTestId('court-case-number').fill(COURT_CASE_NUMBER);
    await page.getByTestId('court-accept').click();
    await page.locator(`[data-testid=court-request][data-status=accepted]`).waitFor({ timeout: SLOW });
    assert.match(await statusShown('the respondent\'s phone', respondent.page, 'accepted', PHONE_REFRESH), /已提交/u);

    const noticesBefore = loggedNotices(server, 'confirmation_status');
    await page.getByTestId('court-ruling-number').fill(RULING_NUMBER);
    await page.getByTestId('court-ruling-date').fill(beijingDate());
    const ruling = rulingPdf('Civil ruling (2026) 0306 No. 123-1');
    await page.getByTestId('court-ruling-file').setInputFiles({ name: '民事裁定书.pdf', mimeType: 'application/pdf', buffer: ruling });
    // "确认裁定此调解协议有效？" is answered yes by the page's dialog handler.
    await page.getByTestId('court-confirm').click();
    await page.locator(`[data-testid=court-request][data-status=confirmed]`).waitFor({ timeout: SLOW });
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'confirmation-court-confirmed.png'), fullPage: true });
    await page.goto(`${server.httpUrl}/staff/court?state=decided`, { waitUntil: 'load' });
    const decided = page.locator(`[data-testid=inbox-row][data-id="${requestId}"][data-status=confirmed]`);
    await decided.waitFor({ timeout: SLOW });
    assert.ok((await decided.innerText()).includes(COURT_CASE_NUMBER), `the decided tab names the court case number: ${await decided.innerText()}`);

    // The case page and both phones say so.
    await desk.reload({ waitUntil: 'load' });
    await waitFor('the case status 司法确认有效', async () => (await desk.getByTestId('case-status').innerText()).includes('司法确认有效'), SLOW, 250);
    assert.match(await statusShown('the case page', section, 'confirmed'), /确认/u);
    assert.ok((await section.getByTestId('confirm-decision').innerText()).includes(RULING_NUMBER), 'the case page names the ruling');
    await desk.screenshot({ path: join(ARTIFACTS_DIR, 'confirmation-case-confirmed.png'), fullPage: true });
    for (const [phone] of parties) {
      const text = await statusShown(`${phone.name}`, phone.page, 'confirmed', PHONE_REFRESH);
      assert.match(text, /已确认调解协议有效/u, `${phone.name} shows «${text}»`);
      assert.ok((await phone.page.getByTestId('confirm-decision').innerText()).includes(RULING_NUMBER), `${phone.name} names the ruling`);
      await phone.page.getByTestId('confirm-ruling').waitFor({ timeout: SLOW });
      await assertFitsPhone(phone, 'the confirmed status');
    }
    // The ruling a party can open is the document the court uploaded, byte for byte.
    for (const [name, token] of Object.entries(caseLinks)) {
      const answer = await fetch(`${server.httpUrl}/api/v1/confirmation-requests/${requestId}/ruling`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(answer.status, 200, `${name} fetches the ruling`);
      assert.deepEqual(Buffer.from(await answer.arrayBuffer()), ruling, `${name} gets the uploaded ruling`);
    }
    await applicant.page.screenshot({ path: join(ARTIFACTS_DIR, 'confirmation-phone-confirmed.png'), fullPage: true });

    // Each party was told of the confirmation (the log channel names the masked phone only).
    for (const [, name, masked] of parties) {
      await waitFor(`a confirmation_status notice to ${name} after the ruling`, () =>
        loggedNotices(server, 'confirmation_status').slice(noticesBefore.length).includes(masked), SLOW, 200);
    }
    const all = loggedNotices(server, 'confirmation_status');
    for (const [, name, masked] of parties) {
      assert.ok(all.filter((to) => to === masked).length >= 3, `${name} was told at submission, acceptance and confirmation: ${JSON.stringify(all)}`);
    }

    Object.assign(done, { sha: agreement.final.text_sha256, requestId, courtToken, sessionLink: world.links['张三'], idPhoto });
    await desk.close();
    await closeAll();
  });

  test('after the session, the party\'s own session link still opens their case page', async () => {
    assert.ok(done.sessionLink, 'the first test ran a session');
    const token = decodeURIComponent(new URL(done.sessionLink).hash.replace(/^#token=/u, ''));
    const answer = await fetch(`${server.httpUrl}/api/v1/room/agreement`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(answer.status, 200, `GET /api/v1/room/agreement with the ended session's token: ${answer.status} ${await answer.text()}`);
    const phone = await openClient('after-session', `${server.httpUrl}/case#token=${encodeURIComponent(token)}`, { phone: true });
    clients.push(phone);
    await phone.page.getByTestId('confirm-flow').waitFor({ timeout: SLOW });
    assert.equal((await confirmationStatus(phone.page))?.status, 'confirmed');
    await closeAll();
  });

  test('the verify page gives the same answers as accord verify', async () => {
    assert.ok(done.requestId, 'the first test made a confirmed request');
    const download = await fetch(`${server.httpUrl}/api/v1/confirmation-requests/${done.requestId}/package.zip`, { headers: { authorization: `Bearer ${done.courtToken}` } });
    assert.equal(download.status, 200, `the court user downloads the package: ${download.status}`);
    const good = Buffer.from(await download.arrayBuffer());
    const identity = Object.entries(unzip(good)).filter(([path]) => path.startsWith('parties/identity/'));
    assert.equal(identity.length, 1, `one ID photo in the package: ${identity.map(([path]) => path)}`);
    assert.deepEqual(Buffer.from(identity[0][1]), done.idPhoto, `${identity[0][0]} is the uploaded photo`);
    const keys = await fetch(`${server.httpUrl}/.well-known/accord/signing-keys.json`);
    assert.equal(keys.status, 200);
    const keysFile = join(ARTIFACTS_DIR, 'confirmation-signing-keys.json');
    writeFileSync(keysFile, Buffer.from(await keys.arrayBuffer()));

    const verifier = await openClient('verify', `${server.httpUrl}/v/${done.sha}`);
    clients.push(verifier);
    const input = verifier.page.getByTestId('package-file-input');
    await input.waitFor({ state: 'attached', timeout: SLOW });
    /** `accord verify` and the page on one file. */
    const checkBoth = async (file) => {
      const cli = cliVerify(serverBinary(), file, keysFile);
      await verifier.page.evaluate(() => {
        if (window.ACCORD) window.ACCORD.packageCheck = null;
      });
      await input.setInputFiles(file);
      const check = await waitFor(`the page's check of ${file}`, () => verifier.page.evaluate(() => window.ACCORD?.packageCheck ?? null), SLOW, 100);
      return { cli, check };
    };
    const answers = {};
    for (const variant of packageVariants(good)) {
      const file = join(ARTIFACTS_DIR, `confirmation-package-${variant.name}.zip`);
      writeFileSync(file, variant.bytes);
      const { cli, check } = await checkBoth(file);
      const page = pageProblems(check);
      answers[variant.name] = { cli: { exit: cli.code, problems: cli.problems }, page: { ok: check.ok, problems: page, keysChecked: check.keysChecked } };
      const context = `${variant.name}: ${JSON.stringify(answers[variant.name])}\n--- accord verify ---\n${cli.output}`;

      const passes = variant.expect.length === 0;
      assert.equal(cli.code, passes ? 0 : 1, `accord verify's exit code, ${context}`);
      assert.equal(check.ok, passes, `the page's answer, ${context}`);
      assert.equal(check.unreadable, false, context);
      assert.equal(check.keysChecked, true, `the page checked the published keys, ${context}`);
      assert.deepEqual(page, cli.problems, `the same problems, ${context}`);
      const codes = new Set(cli.problems.map((p) => p.split(' ')[0]));
      for (const oneOf of variant.expect) assert.ok(oneOf.some((code) => codes.has(code)), `one of ${oneOf} reported, ${context}`);
      if (variant.only) assert.deepEqual([...codes].filter((c) => !variant.only.includes(c)), [], `nothing but ${variant.only} reported, ${context}`);
      if (variant.at) assert.ok(cli.problems.some((p) => p.endsWith(` ${variant.at}`)), `a problem names ${variant.at}, ${context}`);
      await verifier.page.screenshot({ path: join(ARTIFACTS_DIR, `confirmation-verify-${variant.name}.png`), fullPage: true });
    }

    // One byte of each file in turn: both fail, with the same problems, naming the file. Every
    // disagreement is collected first, so a failure lists them all.
    const disagreements = [];
    for (const variant of byteVariants(good)) {
      const file = join(ARTIFACTS_DIR, `confirmation-package-${variant.name}.zip`);
      writeFileSync(file, variant.bytes);
      const { cli, check } = await checkBoth(file);
      const answer = { cli: { exit: cli.code, problems: cli.problems }, page: { ...check, problems: pageProblems(check) } };
      answers[`${variant.name} ${variant.path}`] = answer;
      const wrong = [
        cli.code === 1 || cli.code === 2 ? null : `accord verify exits ${cli.code}`,
        check.unreadable === (cli.code === 2) ? null : 'only one of them finds it unreadable',
        check.ok === false ? null : 'the page passes it',
        JSON.stringify(answer.page.problems) === JSON.stringify(cli.problems) ? null : 'the problems differ',
        variant.path.startsWith('manifest') || cli.problems.includes(`file_hash ${variant.path}`) ? null : 'no file_hash names the file',
      ].filter(Boolean);
      if (wrong.length) disagreements.push(`one byte of ${variant.path} (${variant.name}): ${wrong.join('; ')}: ${JSON.stringify(answer)}`);
      else rmSync(file);
    }
    writeFileSync(join(ARTIFACTS_DIR, 'confirmation-verify-answers.json'), JSON.stringify(answers, null, 2));
    assert.deepEqual(disagreements, [], disagreements.join('\n'));

    // The CLI speaks English when asked.
    const english = cliVerify(serverBinary(), join(ARTIFACTS_DIR, 'confirmation-package-file-added.zip'), keysFile, 'en');
    assert.match(english.output, /Result: \d+ problem/u, english.output);
    await closeAll();
  });
});
