// The agreement (issue 15) in real Chromium against the real server, one server for the file.
//
// 1. The whole way: a mediator on a desktop and two parties on phones in a case session; the
//    mediator drafts from the category's template and every edit shows on both phones (timed:
//    the mediator's last keystroke to the text on each phone, one machine clock); a party
//    comments on a clause and the mediator sees it; the mediator finalises; for each party
//    the mediator asks about their free will alone in their private room, the party reads to
//    the end, gets the code (read from the server log: the log notification channel writes
//    it), draws a signature with a finger and signs; the mediator signs and seals; the phones
//    and the case page show it in force with its date; each party downloads the PDF, which
//    carries every clause and both names.
// 2. Convergence: two mediators type into one clause at once, one of them loses its
//    connection while it goes on typing; afterwards both editors, a party's phone and the
//    server's final text agree, and no keystroke of either is lost or reordered.
// 3. An edit after a party signed: drafting again as version 2, the signature on version 1 no
//    longer counts, the phone reads version 2; the other party's phone, reloaded between the
//    code and the drawing, signs with the key it kept.
//    (TODO until fixed) The mediator's caret stays in the clause when that edit reopens the
//    agreement: today the redraw on `agreement_changed` drops it and later keystrokes are lost.
// 4. A private draft shown to the applicant's side reaches that side only (page, room API,
//    HTTP draft read and a hand-made draft_open from the other side).
// 5. The free-will question is asked alone: with the party's lawyer in the private room the
//    console says so and the server refuses an answer; a lawyer without a power of attorney
//    does not sign; a party's refusal and its reason reach the mediator and keep the seal shut.
// 6. A family case concerning personal status: the phones explain why it cannot be signed
//    electronically and offer no way to sign.
//
// Every wait is for a state, with room to spare (no timed assertion). Needs web-client/dist,
// target/debug/accord, pdftotext (poppler-utils) and ffmpeg.

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  SLOW, agreementState, assertFitsPhone, caseSession, chinaTime, createCentre, drawWithFinger, focusClauseEnd,
  lastInputAt, loggedCodes, mainClauses, nextCode, openAgreementPanel, openStaff, pdfBody, pdfImages, percentiles, signingState,
  rejoin, signAndSeal, squeeze, watchArrivals, watchInputs,
} from './lib/agreement.js';
import { ARTIFACTS_DIR, startServer } from './lib/server.js';
import { clickJoin, joinAndWait, openClient, openConsole, waitFor, waitInRoom } from './lib/web-client.js';

/** Edits timed from the mediator's keyboard to both phones. */
const EDITS = 24;

const tokenOf = (link) => decodeURIComponent(new URL(link).hash.replace(/^#token=/, ''));

describe('the agreement in the browser', () => {
  let server;
  let centre;
  const clients = [];

  before(async () => {
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
    server = await startServer({ name: 'agreement' });
    centre = await createCentre(server, [['wang', '王调解员']]);
  });

  after(async () => {
    await closeAll();
    await server?.stop();
  });

  async function closeAll() {
    for (const client of clients.splice(0)) {
      client.saveConsole(join(ARTIFACTS_DIR, `agreement-${client.name}-console.log`));
      // The last screen of each browser: what a failure looked like.
      await client.page.screenshot({ path: join(ARTIFACTS_DIR, `agreement-${client.name}-last.png`), fullPage: true }).catch(() => {});
      await client.close();
    }
  }

  /** The agreement as the case's mediator reads it over the API. */
  const agreementOf = (caseId) => centre.as('li', 'GET', `/api/v1/cases/${caseId}/agreement`);

  /** The mediator (signed-in desk, then the room) and the parties named, admitted. */
  async function enterRoom(world, parties, tag) {
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

  /** The mediator drafts from the category's template in the room's agreement panel. */
  async function createInRoom(mediator, { personalStatus, locale } = {}) {
    await openAgreementPanel(mediator);
    const form = mediator.page.getByTestId('agreement-create');
    await form.waitFor({ timeout: SLOW });
    if (locale) await form.getByTestId('agreement-locale').selectOption(locale);
    const wanted = `:${locale ?? 'zh-CN'}`;
    await waitFor('the templates listed', async () => {
      const id = await form.getByTestId('agreement-template').inputValue();
      return id.startsWith('builtin:') && id.endsWith(wanted);
    }, SLOW, 200);
    if (personalStatus !== undefined) await form.getByTestId(`agreement-personal-${personalStatus ? 'yes' : 'no'}`).check();
    await form.getByTestId('agreement-create-submit').click();
    await mediator.page.getByTestId('agreement-workspace').waitFor({ timeout: SLOW });
    return waitFor('the shared draft open in the editor', () => mainClauses(mediator), SLOW, 200);
  }

  async function finalise(mediator, caseId) {
    await waitFor('every edit stored', async () => (await agreementState(mediator))?.docs?.main?.pending === 0, SLOW, 100);
    await mediator.page.getByTestId('agreement-finalise').click();
    await waitFor('the agreement final', async () => (await agreementState(mediator))?.status === 'final', SLOW, 200);
    return agreementOf(caseId);
  }

  /**
   * A party signs as the issue has it: the mediator asks about their free will alone in their
   * side's private room, then the party reads to the end, gets the code (from the server log),
   * draws with a finger and signs.
   */
  async function signAsParty(world, mediator, phone, name, masked, variant, { reloadBeforeDrawing = false } = {}) {
    const workspace = mediator.page.getByTestId('agreement-workspace');
    const partyId = world.partyIds[name];
    const ask = workspace.locator(`[data-testid=signing-ask-free-will][data-signer="${partyId}"]`);
    await ask.waitFor({ timeout: SLOW });
    await ask.click();
    await mediator.page.getByTestId('signing-alone').waitFor({ timeout: SLOW });
    assert.notEqual((await phone.state()).space, 'joint', `${name} was moved into their private room`);
    await mediator.page.getByTestId('signing-free-will-yes').click();
    await mediator.page.getByTestId('signing-free-will-recorded').waitFor({ timeout: SLOW });
    const recorded = (await agreementOf(world.caseId)).signers.find((s) => s.signer_id === partyId);
    assert.equal(recorded?.free_will?.answer, 'yes', `${name}'s answer stored: ${JSON.stringify(recorded)}`);
    await mediator.page.getByTestId('signing-back-joint').click();
    await waitFor(`${name} back in the joint room`, async () => (await phone.state())?.space === 'joint', SLOW, 200);

    await phone.page.getByTestId('signing-end').scrollIntoViewIfNeeded();
    const next = phone.page.getByTestId('signing-read-next');
    await waitFor(`${name}'s reading gate open`, () => next.isEnabled(), SLOW, 100);
    await next.click();
    await waitFor(`${name} at the identity step`, async () => (await signingState(phone))?.step === 'identity', SLOW, 200);
    const seen = loggedCodes(server).length;
    await phone.page.getByTestId('signing-otp-send').click();
    await waitFor(`${name} told where the code went`, async () => (await phone.page.getByTestId('signing-otp-sent').innerText()).includes(masked), SLOW, 100);
    const code = await nextCode(server, seen, masked);
    await phone.page.getByTestId('signing-otp').pressSequentially(code);
    await phone.page.getByTestId('signing-otp-confirm').click();
    await waitFor(`${name} at the drawing step`, async () => (await signingState(phone))?.step === 'draw', SLOW, 200);
    if (reloadBeforeDrawing) {
      // The page is reloaded (a phone that killed the tab): back through the waiting room,
      // the text read again, and then straight to drawing with the key kept in IndexedDB.
      await phone.page.reload({ waitUntil: 'load' });
      await rejoin(phone, mediator);
      await openAgreementPanel(phone);
      await waitFor(`${name} at the reading step again`, async () => (await signingState(phone))?.step === 'read', SLOW, 200);
      await phone.page.getByTestId('signing-end').scrollIntoViewIfNeeded();
      await waitFor(`${name}'s reading gate open again`, () => phone.page.getByTestId('signing-read-next').isEnabled(), SLOW, 100);
      await phone.page.getByTestId('signing-read-next').click();
      await waitFor(`${name} straight at the drawing step`, async () => {
        const step = (await signingState(phone))?.step;
        assert.ok(step === 'draw' || step === 'read', `${name} after the reload: ${step} (a new code asked for: the key was not kept)`);
        return step === 'draw';
      }, SLOW, 200);
    }
    const pad = phone.page.getByTestId('signing-pad');
    await pad.scrollIntoViewIfNeeded();
    await drawWithFinger(phone, pad, variant);
    const sign = phone.page.getByTestId('signing-sign');
    await waitFor(`${name}'s sign button enabled by the ink`, () => sign.isEnabled(), SLOW, 100);
    await phone.page.screenshot({ path: join(ARTIFACTS_DIR, `agreement-${phone.name}-drawn.png`) });
    await sign.click();
    await phone.page.getByTestId('signing-done').waitFor({ timeout: SLOW });
    const signer = (await agreementOf(world.caseId)).signers.find((s) => s.signer_id === partyId);
    assert.equal(signer?.status, 'signed', `${name} signed: ${JSON.stringify(signer)}`);
    assert.equal(signer?.identity?.method, 'otp');
  }

  test('draft live, comment, finalise, free will, code, drawn signatures, seal, PDF', async () => {
    const world = await caseSession(centre);
    const { mediator, phones } = await enterRoom(world, [['张三', 'applicant'], ['李四', 'respondent']], 'flow');
    const { applicant, respondent } = phones;
    const partyPhones = [[applicant, '张三', '138****8000', 0], [respondent, '李四', '139****9000', 1]];

    const clauses = await createInRoom(mediator);
    const numbered = clauses.map((c, i) => ({ ...c, index: i })).filter((c) => c.kind !== 'facts');
    assert.ok(numbered.length >= 3, `the template has numbered clauses: ${JSON.stringify(clauses)}`);
    assert.equal(numbered[0].label, '第一条');
    for (const phone of [applicant, respondent]) {
      await openAgreementPanel(phone);
      await waitFor(`${phone.name} showing the draft`, async () => (await mainClauses(phone))?.length === clauses.length, SLOW, 200);
    }
    await applicant.page.screenshot({ path: join(ARTIFACTS_DIR, 'agreement-phone-draft.png') });

    // Each edit: the mediator types a short addition at the end of a clause; each phone notes
    // when the whole addition shows in its live view.
    await watchInputs(mediator);
    const watchers = [await watchArrivals(applicant), await watchArrivals(respondent)];
    const workspace = mediator.page.getByTestId('agreement-workspace');
    const delays = [];
    for (let i = 1; i <= EDITS; i += 1) {
      const clause = numbered[i % 3];
      const addition = `（补充${String(i).padStart(2, '0')}）`;
      for (const w of watchers) await w.expect(addition);
      await focusClauseEnd(workspace, clause.index);
      await mediator.page.keyboard.type(addition);
      const typedAt = await lastInputAt(mediator);
      for (const [w, phone] of [[watchers[0], applicant], [watchers[1], respondent]]) {
        const at = await waitFor(`edit ${i} on ${phone.name}`, () => w.arrivedAt(addition), SLOW, 20);
        delays.push(at - typedAt);
      }
    }
    const figures = percentiles(delays);
    process.stdout.write(`# agreement edit → phone (ms): ${JSON.stringify(figures)}\n`);
    writeFileSync(join(ARTIFACTS_DIR, 'agreement-edit-delays.json'), JSON.stringify({ ...figures, delays }, null, 2));
    assert.equal(delays.length, EDITS * 2, 'every edit reached both phones');
    for (const [w, phone] of [[watchers[0], applicant], [watchers[1], respondent]]) {
      assert.ok((await w.typingSeen()) > 0, `${phone.name} never showed that the mediator was typing`);
    }

    // The phones' documents are the mediator's, clause by clause.
    const drafted = await waitFor('the mediator saved everything', async () => {
      const s = await agreementState(mediator);
      return s?.docs?.main?.pending === 0 ? s.docs.main.clauses : null;
    }, SLOW, 100);
    for (const phone of [applicant, respondent]) {
      await waitFor(`${phone.name} holding the mediator's text`, async () =>
        JSON.stringify((await mainClauses(phone))?.map((c) => c.text)) === JSON.stringify(drafted.map((c) => c.text)), SLOW, 100);
    }

    // A party comments on the first article; the mediator sees it at that clause.
    const comment = '维修期限能否延长到月底？';
    const target = applicant.page.locator(`[data-testid=agreement-live-clause][data-clause-id="${numbered[0].id}"]`);
    await target.getByTestId('agreement-comment-open').click();
    await applicant.page.getByTestId('agreement-comment-input').fill(comment);
    await applicant.page.getByTestId('agreement-comment-send').click();
    await applicant.page.getByTestId('agreement-comment-sheet').waitFor({ state: 'hidden', timeout: SLOW });
    await waitFor('the comment in the mediator\'s state', async () =>
      (await agreementState(mediator))?.comments?.some((c) => c.text === comment && c.clause_id === numbered[0].id && c.author_name === '张三'), SLOW, 100);
    const atClause = workspace.locator(`[data-testid=agreement-clause][data-clause-id="${numbered[0].id}"]`).getByTestId('agreement-comment');
    await waitFor('the comment shown at its clause', async () => (await atClause.allInnerTexts()).some((t) => t.includes(comment)), SLOW, 100);
    await mediator.page.screenshot({ path: join(ARTIFACTS_DIR, 'agreement-mediator-comment.png') });

    // Finalised: the server's text carries every clause as the editors had it.
    const final = await finalise(mediator, world.caseId);
    assert.equal(final.status, 'final');
    const lines = final.final.text.split('\n');
    for (const c of drafted) {
      const line = c.label ? `${c.label} ${c.text}` : c.text;
      assert.ok(lines.includes(line.normalize('NFC').trimEnd()), `final text lacks «${line}»:\n${final.final.text}`);
    }
    for (const phone of [applicant, respondent]) {
      await phone.page.getByTestId('agreement-final-text').waitFor({ timeout: SLOW });
      await waitFor(`${phone.name} at the reading step`, async () => (await signingState(phone))?.step === 'read', SLOW, 200);
      await assertFitsPhone(phone, 'the final text to sign');
    }

    // Each party: free will alone with the mediator, read to the end, the code, a drawn signature.
    for (const [phone, name, masked, variant] of partyPhones) await signAsParty(world, mediator, phone, name, masked, variant);

    // The mediator signs (staff identity, drawn with the mouse) and seals.
    await signAndSeal(mediator);
    const inForce = await agreementOf(world.caseId);
    const areas = workspace.getByTestId('agreement-clause-text');
    await waitFor('the editor read-only once in force', async () => (await areas.evaluateAll((els) => els.every((el) => el.disabled))) && (await areas.count()) > 0, SLOW, 200);
    assert.equal(inForce.status, 'in_force');
    assert.ok(inForce.effective_at > 0 && inForce.seal, `sealed: ${JSON.stringify(inForce.seal)}`);
    const when = chinaTime(inForce.effective_at);

    for (const phone of [applicant, respondent]) {
      const shown = phone.page.getByTestId('signing-in-force');
      await shown.waitFor({ timeout: SLOW });
      const text = await shown.innerText();
      assert.ok(text.includes('已生效') && text.includes(when), `${phone.name} shows «${text}», expected 已生效 and ${when}`);
    }
    await applicant.page.screenshot({ path: join(ARTIFACTS_DIR, 'agreement-phone-in-force.png') });
    for (const phone of [applicant, respondent]) await assertFitsPhone(phone, 'the agreement in force');

    // The case page, in another tab of the mediator's browser.
    const desk = await mediator.page.context().newPage();
    await desk.goto(`${server.httpUrl}/staff/cases/${world.caseId}`, { waitUntil: 'load' });
    const section = desk.getByTestId('agreement-section');
    await section.getByTestId('agreement-status').waitFor({ timeout: SLOW });
    await waitFor('the case page says in force', async () => (await section.getByTestId('agreement-status').innerText()).includes('已生效'), SLOW, 200);
    const effective = await section.getByTestId('agreement-effective').innerText();
    const date = await desk.evaluate((at) => new Date(at).toLocaleDateString('zh-CN', { year: 'numeric', month: 'long', day: 'numeric', timeZone: 'Asia/Shanghai' }), inForce.effective_at);
    assert.ok(effective.includes(date), `case page: «${effective}», expected ${date}`);
    await desk.screenshot({ path: join(ARTIFACTS_DIR, 'agreement-case-page.png'), fullPage: true });
    await desk.close();

    // Each party downloads the PDF; one is read back as text.
    const pdfs = [];
    for (const [phone, name] of partyPhones) {
      const button = phone.page.getByTestId('signing-pdf');
      await waitFor(`${name}'s download offered`, () => button.isEnabled(), SLOW, 200);
      const download = phone.page.waitForEvent('download', { timeout: SLOW });
      await button.click();
      const path = join(ARTIFACTS_DIR, `agreement-${phone.name}.pdf`);
      await (await download).saveAs(path);
      const bytes = readFileSync(path);
      assert.equal(bytes.subarray(0, 4).toString('latin1'), '%PDF', `${name}'s download is no PDF`);
      pdfs.push(path);
    }
    assert.deepEqual(readFileSync(pdfs[0]), readFileSync(pdfs[1]), 'both parties downloaded the same PDF');
    const text = pdfBody(pdfs[0]);
    writeFileSync(join(ARTIFACTS_DIR, 'agreement-pdf.txt'), text);
    for (const c of drafted) assert.ok(text.includes(squeeze(c.text)), `the PDF lacks the clause «${c.text}»`);
    for (const name of ['张三', '李四']) assert.ok(text.includes(name), `the PDF lacks ${name}`);
    // Three different drawings (two fingers, one mouse): three images, none shared.
    const images = Object.values(pdfImages(pdfs[0])).reduce((n, set) => n + set.size, 0);
    assert.ok(images >= 3, `the PDF carries ${images} distinct images, not the three signatures`);

    // The PDF's verification address, opened as a phone that scanned the QR code would.
    const sha = inForce.final.text_sha256;
    const address = /https?:\/\/[^\s]*?\/v\/([0-9a-f]{64})/u.exec(text);
    assert.ok(address, 'the PDF carries its verification address');
    assert.equal(address[1], sha, 'the verification address names the signed text');
    const verify = await applicant.page.context().newPage();
    await verify.goto(address[0], { waitUntil: 'load' });
    const result = verify.getByTestId('verify-result');
    await result.waitFor({ timeout: SLOW });
    assert.equal(await result.getAttribute('data-genuine'), 'true', `verification: ${await result.innerText()}`);
    assert.match(await verify.getByTestId('verify-status').innerText(), /已生效/);
    const listed = await verify.getByTestId('verify-signers').innerText();
    for (const name of ['张三', '李四']) assert.ok(!listed.includes(name), `the public page shows ${name} unmasked: ${listed}`);
    await verify.screenshot({ path: join(ARTIFACTS_DIR, 'agreement-verify.png'), fullPage: true });
    const forged = `${sha.slice(0, -1)}${sha.endsWith('0') ? '1' : '0'}`;
    await verify.goto(`${server.httpUrl}/v/${forged}`, { waitUntil: 'load' });
    await result.waitFor({ timeout: SLOW });
    assert.equal(await result.getAttribute('data-genuine'), 'false', 'another fingerprint is not genuine');
    await verify.close();
    await closeAll();
  });

  test('two editors typing at once, one losing its connection, converge everywhere', async () => {
    const world = await caseSession(centre, { title: '噪音纠纷', facts: '楼上夜间装修噪音。', claims: '夜间停止施工。' });
    const { mediator: first, phones } = await enterRoom(world, [['张三', 'applicant']], 'converge');
    const { applicant } = phones;
    const coLink = (await centre.as('wang', 'POST', `/api/v1/sessions/${world.sessionId}/start`, {})).link;
    const second = await openStaff(server, 'converge-wang', 'wang', coLink);
    clients.push(second);
    await clickJoin(second);
    await waitInRoom(second, SLOW);

    const clauses = await createInRoom(first);
    await openAgreementPanel(second);
    await waitFor('the second editor holding the draft', async () => (await mainClauses(second))?.length === clauses.length, SLOW, 200);
    await openAgreementPanel(applicant);
    await waitFor('the phone holding the draft', async () => (await mainClauses(applicant))?.length === clauses.length, SLOW, 200);
    const index = clauses.findIndex((c) => c.kind !== 'facts');
    const scopes = [first, second].map((c) => c.page.getByTestId('agreement-workspace'));

    // Articles past ten (第十一条 …), added by the first editor: the server numbers them alike.
    const added = ['双方确认无其他争议。', '本协议一式三份。', '未尽事宜另行协商。', '协议履行完毕后申请人撤回投诉。'];
    for (const text of added) {
      await scopes[0].getByTestId('agreement-add-clause').click();
      await first.page.keyboard.type(text);
    }
    const grown = await waitFor('the added articles on the second editor', async () => {
      const c = await mainClauses(second);
      return c?.length === clauses.length + added.length && c.at(-1).text === added.at(-1) ? c : null;
    }, SLOW, 200);
    const lastLabels = grown.slice(-3).map((c) => c.label);
    assert.deepEqual(lastLabels, ['第十条', '第十一条', '第十二条'], `labels past ten: ${lastLabels}`);

    // Letters tell whose keystroke is whose: lower case from the first editor, upper from the second.
    const lower = 'abcdefghijklmnopqrstuvwxyz';
    const typedA = lower.repeat(2);
    const typedB = lower.toUpperCase().repeat(2);
    await focusClauseEnd(scopes[0], index);
    await focusClauseEnd(scopes[1], index);
    await Promise.all([first.page.keyboard.type(typedA.slice(0, 30), { delay: 20 }), second.page.keyboard.type(typedB.slice(0, 30), { delay: 20 })]);

    // The second editor's connection goes while both go on typing.
    await second.page.evaluate(() => window.ACCORD.simulateNetworkDrop(6_000));
    await waitFor('the second editor offline', async () => (await second.state())?.phase !== 'connected', SLOW, 50);
    await Promise.all([first.page.keyboard.type(typedA.slice(30), { delay: 20 }), second.page.keyboard.type(typedB.slice(30), { delay: 20 })]);
    const during = await agreementState(second);
    assert.ok(during.docs.main.pending > 0 || !during.docs.main.synced, `the offline editor keeps its edits pending: ${JSON.stringify(during.docs.main)}`);
    await waitFor('the second editor back', async () => (await second.state())?.phase === 'connected', SLOW, 200);

    const texts = async () => Promise.all([first, second, applicant].map(async (c) => (await mainClauses(c))?.[index]?.text ?? null));
    const converged = await waitFor('both editors and the phone holding one text', async () => {
      const [a, b, p] = await texts();
      const states = await Promise.all([first, second].map(agreementState));
      return a !== null && a === b && b === p && states.every((s) => s.docs.main.pending === 0) ? a : null;
    }, SLOW, 200);
    assert.equal(converged.replace(/[^a-z]/g, ''), typedA, `the first editor's keystrokes, all and in order: ${converged}`);
    assert.equal(converged.replace(/[^A-Z]/g, ''), typedB, `the second editor's keystrokes, all and in order: ${converged}`);
    const everyClause = await mainClauses(first);
    for (const c of [second, applicant]) {
      assert.deepEqual((await mainClauses(c)).map((x) => x.text), everyClause.map((x) => x.text), `${c.name} holds another document`);
    }

    // The server's final text is what the browsers hold.
    const final = await finalise(first, world.caseId);
    const lines = final.final.text.split('\n');
    for (const c of everyClause) {
      const line = (c.label ? `${c.label} ${c.text}` : c.text).normalize('NFC').trimEnd();
      assert.ok(lines.includes(line), `the server's final text lacks «${line}»:\n${final.final.text}`);
    }
    await closeAll();
  });

  test('an edit after a party signed reopens drafting: version 2, that signature no longer counts', async () => {
    const world = await caseSession(centre, { title: '物业漏水维修纠纷', phones: ['13700137000', '13600136000'] });
    const { mediator, phones } = await enterRoom(world, [['张三', 'applicant'], ['李四', 'respondent']], 'reopen');
    const { applicant } = phones;
    const clauses = await createInRoom(mediator);
    await openAgreementPanel(applicant);
    await waitFor('the phone holding the draft', async () => (await mainClauses(applicant))?.length === clauses.length, SLOW, 200);
    const v1 = await finalise(mediator, world.caseId);
    assert.equal(v1.final.version, 1);
    await waitFor('the phone at the reading step', async () => (await signingState(applicant))?.step === 'read', SLOW, 200);
    await signAsParty(world, mediator, applicant, '张三', '137****7000', 0);

    // The mediator changes an article of the signed text.
    const index = clauses.findIndex((c) => c.kind !== 'facts');
    const workspace = mediator.page.getByTestId('agreement-workspace');
    // The first keystroke reopens the agreement; the redraw that follows takes the caret out of
    // the clause (see the TODO test below), so the mediator clicks back into it and goes on.
    await focusClauseEnd(workspace, index);
    await mediator.page.keyboard.type('（');
    await waitFor('the mediator\'s page drafting again', async () => (await agreementState(mediator))?.status === 'drafting', SLOW, 100);
    await focusClauseEnd(workspace, index);
    await mediator.page.keyboard.type('经协商修改）');
    const reopened = await waitFor('drafting again', async () => {
      const a = await agreementOf(world.caseId);
      return a.status === 'drafting' ? a : null;
    }, SLOW, 200);
    assert.equal(reopened.version, 2, `the next version is being drafted: ${JSON.stringify({ status: reopened.status, version: reopened.version })}`);
    await waitFor('the phone showing the change', async () => (await mainClauses(applicant))?.[index]?.text.endsWith('（经协商修改）'), SLOW, 200).catch(async (error) => {
      const brief = async (c) => {
        const m = (await agreementState(c))?.docs?.main;
        return JSON.stringify({ seq: m?.seq, pending: m?.pending, synced: m?.synced, text: m?.clauses?.[index]?.text.slice(-12) });
      };
      const notice = await mediator.page.getByTestId('agreement-notice').innerText().catch(() => '');
      error.message += `\nmediator errors: ${JSON.stringify((await mediator.state()).errors)} notice: ${notice}`;
      error.message += `\nmediator: ${await brief(mediator)}\napplicant: ${await brief(applicant)}\nrespondent: ${await brief(phones.respondent)}`;
      throw error;
    });
    await waitFor('the phone no longer offering version 1 to sign', async () => (await agreementState(applicant))?.status === 'drafting', SLOW, 200);

    const v2 = await finalise(mediator, world.caseId);
    assert.equal(v2.final.version, 2);
    assert.notEqual(v2.final.text_sha256, v1.final.text_sha256);
    assert.ok(v2.final.text.includes('（经协商修改）'), 'version 2 carries the change');
    const signer = v2.signers.find((s) => s.signer_id === world.partyIds['张三']);
    assert.equal(signer?.status, 'pending', `the signature on version 1 does not count for version 2: ${JSON.stringify(signer)}`);
    await waitFor('the phone back at reading version 2', async () => (await signingState(applicant))?.step === 'read', SLOW, 200);
    assert.match(await applicant.page.getByTestId('signing-version').innerText(), /2/, 'the phone names version 2');
    const history = await centre.as('li', 'GET', `/api/v1/agreements/${v2.id}/history`);
    const statuses = Object.fromEntries(history.versions.map((v) => [v.version, v.status]));
    assert.deepEqual(statuses, { 1: 'superseded', 2: 'final' }, `versions: ${JSON.stringify(history.versions)}`);

    // The other party signs version 2, their phone reloaded between the code and the drawing.
    const { respondent } = phones;
    await openAgreementPanel(respondent);
    await waitFor('the respondent at the reading step', async () => (await signingState(respondent))?.step === 'read', SLOW, 200);
    await signAsParty(world, mediator, respondent, '李四', '136****6000', 1, { reloadBeforeDrawing: true });
    await closeAll();
  });

  // The reopen sends `agreement_changed` while the mediator types: the redraw must leave the
  // clause's textarea mounted and focused, or the keystrokes after it go nowhere.
  test('the mediator keeps the caret in the clause when an edit reopens the agreement', async () => {
    const world = await caseSession(centre, { title: '装修噪音纠纷', phones: ['13000130000', '13000130001'] });
    const mediator = await openStaff(server, 'caret-mediator', 'li', world.mediatorLink);
    clients.push(mediator);
    await clickJoin(mediator);
    await waitInRoom(mediator, SLOW);
    const clauses = await createInRoom(mediator);
    await finalise(mediator, world.caseId);
    const index = clauses.findIndex((c) => c.kind !== 'facts');
    const workspace = mediator.page.getByTestId('agreement-workspace');
    await focusClauseEnd(workspace, index);
    await mediator.page.keyboard.type('（');
    await waitFor('drafting again', async () => (await agreementState(mediator))?.status === 'drafting' && (await agreementState(mediator))?.version === 2, SLOW, 100);
    const focused = await mediator.page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? document.activeElement?.tagName);
    await mediator.page.keyboard.type('补充）');
    await waitFor('the edit stored', async () => (await agreementState(mediator))?.docs?.main?.pending === 0, SLOW, 100);
    const text = (await mainClauses(mediator))[index].text;
    assert.equal(focused, 'agreement-clause-text', 'the caret left the clause when the agreement reopened');
    assert.ok(text.endsWith('（补充）'), `keystrokes after the reopen were lost: …${text.slice(-10)}`);
    await closeAll();
  });

  test('a private draft shown to one side reaches that side only', async () => {
    const world = await caseSession(centre, { title: '相邻通行纠纷', phones: ['13500135000', '13300133000'] });
    const { mediator, phones } = await enterRoom(world, [['张三', 'applicant'], ['李四', 'respondent']], 'private');
    const { applicant, respondent } = phones;
    // Written in English (a foreign party): the articles are numbered as in English.
    const clauses = await createInRoom(mediator, { locale: 'en' });
    assert.equal(clauses.find((c) => c.kind !== 'facts')?.label, 'Article 1');
    assert.equal((await agreementOf(world.caseId)).locale, 'en');
    for (const phone of [applicant, respondent]) {
      await openAgreementPanel(phone);
      await waitFor(`${phone.name} holding the draft`, async () => (await mainClauses(phone))?.length === clauses.length, SLOW, 200);
    }
    const index = clauses.findIndex((c) => c.kind !== 'facts');
    const workspace = mediator.page.getByTestId('agreement-workspace');

    // The mediator writes a proposal in a private draft and shows it to the applicant's side.
    await workspace.getByTestId('agreement-new-private').click();
    const doc = await waitFor('the private draft open in the editor', async () => {
      const s = await agreementState(mediator);
      return s?.currentDoc?.startsWith('PD_') && s.docs[s.currentDoc]?.synced ? s.currentDoc : null;
    }, SLOW, 200);
    assert.match(await workspace.getByTestId('agreement-private-visibility').innerText(), /仅调解员/);
    const secret = '（申请人方可考虑：赔偿金额降至两千元）';
    await focusClauseEnd(workspace, index);
    await mediator.page.keyboard.type(secret);
    await waitFor('the private edit stored', async () => (await agreementState(mediator))?.docs?.[doc]?.pending === 0, SLOW, 100);
    await workspace.getByTestId('agreement-show-to').selectOption('applicant');
    await waitFor('shown to the applicant', async () => (await agreementState(mediator))?.privateDrafts?.some((d) => d.doc === doc && d.shown_to === 'applicant'), SLOW, 200);

    await applicant.page.getByTestId('agreement-tab-private').click();
    await applicant.page.getByTestId('agreement-private-note').waitFor({ timeout: SLOW });
    await waitFor('the applicant reading the proposal', async () => (await applicant.page.getByTestId('agreement-live').innerText()).includes(secret), SLOW, 200);
    await applicant.page.screenshot({ path: join(ARTIFACTS_DIR, 'agreement-private-applicant.png') });

    // A public edit after it: once the respondent shows that, the show had its chance to arrive.
    await workspace.getByTestId('agreement-tab-main').click();
    const open = '（公开补充）';
    await focusClauseEnd(workspace, index);
    await mediator.page.keyboard.type(open);
    await waitFor('the respondent showing the public edit', async () => (await mainClauses(respondent))?.[index]?.text.endsWith(open), SLOW, 200);
    const theirs = await agreementState(respondent);
    assert.deepEqual(theirs.privateDrafts, [], 'the respondent is told of the private draft');
    assert.deepEqual(Object.keys(theirs.docs), ['main'], 'the respondent holds the private draft');
    assert.equal(await respondent.page.getByTestId('agreement-tab-private').count(), 0, 'the respondent is offered a private tab');
    assert.ok(!(await respondent.page.getByTestId('agreement-panel').innerText()).includes(secret), 'the respondent sees the proposal');
    const viaApi = await (await fetch(`${server.httpUrl}/api/v1/room/agreement`, { headers: { authorization: `Bearer ${tokenOf(world.links['李四'])}` } })).json();
    assert.deepEqual(viaApi.private_drafts, [], `the respondent's API answer lists: ${JSON.stringify(viaApi.private_drafts)}`);
    const draft = await fetch(`${server.httpUrl}/api/v1/agreements/${viaApi.id}/draft?doc=${doc}`, { headers: { authorization: `Bearer ${tokenOf(world.links['李四'])}` } });
    assert.ok(draft.status === 403 || draft.status === 404, `the respondent reads the private draft over HTTP: ${draft.status}`);

    // Asked for over the socket as it is, the private draft is refused to the respondent.
    const errorsBefore = (await respondent.state()).errors.length;
    await respondent.page.evaluate(({ id, d }) => window.ACCORD.send({ type: 'draft_open', agreement_id: id, doc: d, state_vector: 'AA==' }), { id: viaApi.id, d: doc });
    const refusal = await waitFor('the refusal of the private draft', async () => (await respondent.state()).errors.slice(errorsBefore).find((e) => e.request_id?.startsWith('draft_open')), SLOW, 100);
    assert.ok(refusal.code, `refused with ${refusal.code}`);
    assert.deepEqual(Object.keys((await agreementState(respondent)).docs), ['main']);
    // A comment on a clause the agreement does not have is refused, not stored.
    const errorsNow = (await respondent.state()).errors.length;
    await respondent.page.evaluate((id) => window.ACCORD.send({ type: 'draft_comment', agreement_id: id, clause_id: 'zzzzzzzzzz', text: '没有这一条' }), viaApi.id);
    const noClause = await waitFor('the refusal of a comment on no clause', async () => (await respondent.state()).errors.slice(errorsNow).find((e) => e.request_id?.startsWith('draft_comment')), SLOW, 100);
    assert.ok(noClause.code, `refused with ${noClause.code}`);
    const stored = await centre.as('li', 'GET', `/api/v1/agreements/${viaApi.id}/comments`);
    const list = Array.isArray(stored) ? stored : stored.items;
    assert.ok(!list.some((c) => c.clause_id === 'zzzzzzzzzz'), 'a comment on no clause was stored');
    await closeAll();
  });

  test('free will is asked alone (a lawyer is moved out first; without a power of attorney they do not sign); a refusal reaches the mediator', async () => {
    const world = await caseSession(centre, {
      title: '房屋渗漏赔偿纠纷', phones: ['13200132000', '13100131000'], representatives: [{ name: '王律师', represents: '张三' }],
    });
    const { mediator, phones } = await enterRoom(world, [['张三', 'applicant'], ['王律师', 'lawyer']], 'alone');
    const { applicant, lawyer } = phones;
    await createInRoom(mediator);
    for (const phone of [applicant, lawyer]) await openAgreementPanel(phone);
    const final = await finalise(mediator, world.caseId);
    const lawyerRow = final.signers.find((s) => s.signer_id === world.partyIds['王律师']);
    assert.ok(!lawyerRow || lawyerRow.may_sign === false, `a representative without a power of attorney may sign: ${JSON.stringify(lawyerRow)}`);
    await waitFor('the lawyer told they do not sign', async () => ['not_signer', 'cannot_sign'].includes((await signingState(lawyer))?.step), SLOW, 200);
    for (const id of ['signing-sign', 'signing-otp-send', 'signing-read-next']) assert.equal(await lawyer.page.getByTestId(id).count(), 0, `the lawyer is offered ${id}`);

    // Both of the applicant's side in their private room: the question must wait.
    await openConsole(mediator);
    await mediator.page.getByTestId('separate-sides').click();
    await waitFor('the applicant\'s side in its room', async () => (await applicant.state())?.space === 'applicant' && (await lawyer.state())?.space === 'applicant', SLOW, 200);
    await openAgreementPanel(mediator);
    const workspace = mediator.page.getByTestId('agreement-workspace');
    await workspace.locator(`[data-testid=signing-ask-free-will][data-signer="${world.partyIds['张三']}"]`).click();
    const notAlone = workspace.getByTestId('signing-not-alone');
    await notAlone.waitFor({ timeout: SLOW });
    assert.match(await notAlone.innerText(), /王律师/);
    // Answered anyway, the server refuses: the party is not alone.
    const yes = workspace.getByTestId('signing-free-will-yes');
    if (await yes.count()) {
      await yes.click();
      const message = workspace.getByTestId('signing-console-message');
      await message.waitFor({ timeout: SLOW });
      assert.equal((await signingState(mediator))?.lastError, 'not_alone', `refused as: ${await message.innerText()}`);
      const stored = (await agreementOf(world.caseId)).signers.find((s) => s.signer_id === world.partyIds['张三']);
      assert.equal(stored.free_will, null, 'an answer given with the lawyer listening was stored');
    }
    await workspace.getByRole('button', { name: /王律师/ }).click();
    await waitFor('the lawyer back in the joint room', async () => (await lawyer.state())?.space === 'joint', SLOW, 200);
    // The mediator stayed in the joint room when the sides separated: the console takes them in.
    // Moving the party takes the helpers who follow them along (rooms/moderation.rs), so the
    // lawyer comes back in with them; the console says so and the mediator moves them out again
    // (reported in /work/brief/requests.md: the console should move the party alone).
    await workspace.getByTestId('signing-move-in').click();
    let movedOutAgain = 0;
    for (;;) {
      const now = await waitFor('the console to say who is in the room', async () => {
        if (await workspace.getByTestId('signing-alone').isVisible()) return 'alone';
        if (await workspace.getByTestId('signing-not-alone').isVisible()) return 'not-alone';
        return null;
      }, SLOW, 200);
      if (now === 'alone') break;
      assert.ok(movedOutAgain < 3, 'the lawyer keeps coming back into the free-will room');
      movedOutAgain += 1;
      await workspace.getByRole('button', { name: /王律师/ }).click();
      await waitFor('the lawyer out again', async () => (await lawyer.state())?.space === 'joint', SLOW, 200);
    }
    if (movedOutAgain) process.stdout.write(`# free-will room: the representative came in with the party ${movedOutAgain} time(s) and was moved out again\n`);
    assert.equal((await mediator.state())?.space, 'applicant', 'the mediator asks in the applicant\'s room');
    assert.equal((await lawyer.state())?.space, 'joint', 'the lawyer is outside while the party answers');
    await workspace.getByTestId('signing-free-will-yes').click();
    await workspace.getByTestId('signing-free-will-recorded').waitFor({ timeout: SLOW });
    const asked = (await agreementOf(world.caseId)).signers.find((s) => s.signer_id === world.partyIds['张三']);
    assert.equal(asked.free_will?.answer, 'yes');

    // Having read it, the party declines with a reason: the mediator sees it, no seal is offered.
    await workspace.getByTestId('signing-back-joint').click();
    await applicant.page.getByTestId('signing-end').scrollIntoViewIfNeeded();
    await applicant.page.getByTestId('signing-decline').click();
    const reason = '赔偿金额与口头约定不一致';
    await applicant.page.getByTestId('signing-decline-reason').fill(reason);
    await applicant.page.getByTestId('signing-decline-send').click();
    await waitFor('the phone saying it was declined', async () => (await signingState(applicant))?.step === 'declined', SLOW, 200);
    const row = workspace.locator(`[data-testid=signing-signer][data-signer="${world.partyIds['张三']}"]`);
    await waitFor('the mediator seeing the refusal and its reason', async () =>
      (await row.getAttribute('data-status')) === 'declined' && (await row.innerText()).includes(reason), SLOW, 200);
    const declined = (await agreementOf(world.caseId)).signers.find((s) => s.signer_id === world.partyIds['张三']);
    assert.equal(declined.status, 'declined');
    assert.equal(declined.declined_reason, reason);
    assert.equal(await workspace.getByTestId('signing-seal').isEnabled(), false, 'the seal is offered after a refusal');
    await closeAll();
  });

  test('a personal-status family case: the phones explain, and offer no signing', async () => {
    const world = await caseSession(centre, { category: 'family', title: '离婚后财产分割纠纷', facts: '双方离婚后就共有房屋分割发生争议。', claims: '分割共有房屋。' });
    const { mediator, phones } = await enterRoom(world, [['张三', 'applicant'], ['李四', 'respondent']], 'family');
    await createInRoom(mediator, { personalStatus: true });
    await mediator.page.getByTestId('agreement-not-e-signable').waitFor({ timeout: SLOW });
    const created = await agreementOf(world.caseId);
    assert.equal(created.e_signable, false);
    for (const phone of Object.values(phones)) await openAgreementPanel(phone);
    await finalise(mediator, world.caseId);
    for (const phone of Object.values(phones)) {
      const note = phone.page.getByTestId('signing-not-e-signable');
      await note.waitFor({ timeout: SLOW });
      assert.match(await note.innerText(), /电子签名法|纸质|书面/, `${phone.name}'s explanation`);
      assert.equal((await signingState(phone))?.step, 'not_e_signable');
      for (const id of ['signing-sign', 'signing-otp-send', 'signing-read-next', 'signing-pad']) {
        assert.equal(await phone.page.getByTestId(id).count(), 0, `${phone.name} is offered ${id}`);
      }
    }
    await phones.applicant.page.screenshot({ path: join(ARTIFACTS_DIR, 'agreement-phone-not-e-signable.png') });
    // The server refuses the code as well, whatever the page offers.
    const refused = await fetch(`${server.httpUrl}/api/v1/agreements/${created.id}/identity/otp`, {
      method: 'POST', headers: { authorization: `Bearer ${tokenOf(world.links['张三'])}` },
    });
    const body = await refused.json();
    assert.ok(refused.status >= 400 && refused.status < 500 && typeof body.code === 'string', `OTP for a personal-status case: ${refused.status} ${JSON.stringify(body)}`);
    await closeAll();
  });
});
