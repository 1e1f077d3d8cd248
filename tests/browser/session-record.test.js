// The session record (笔录) on the staff desk, in real Chromium against the real server: a
// mediator on a desktop and two parties on phones hold a short session (consent, waiting room,
// admission, separating the sides, the mediator joining one side, a chat message, a shared
// photo, a mute, everyone back, the end, after which the mediator's screen leads back to the
// case and this record). Afterwards the mediator signs in to the staff desk
// from a bookmarked case, opens the session's record from the case page, and the record
// lists every entry in order, in Chinese sentences that name the right people and rooms; the
// shared photo opens, the page prints without the desk's navigation, English works, and an
// unknown session says so. The record's screenshot goes to docs/screenshots/.
//
// Needs web-client/dist, target/debug/accord and ffmpeg.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { createCaseSession } from './lib/case-session.js';
import { ARTIFACTS_DIR, BROWSER_TEST_DIR, startServer } from './lib/server.js';
import { joinAndWait, openClient, openConsole, pressJoin, waitFor, waitInRoom } from './lib/web-client.js';

const SCREENSHOT = join(BROWSER_TEST_DIR, '../../docs/screenshots/session-record.png');
const CHAT = '我同意维修，赔偿两千元';
const PHOTO = '漏水照片.png';

function photo() {
  const path = join(ARTIFACTS_DIR, 'session-record-photo.png');
  execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=320x240', '-frames:v', '1', path]);
  return { name: PHOTO, mimeType: 'image/png', buffer: readFileSync(path) };
}

/** The record's rows as the page shows them. */
function rowsOf(page) {
  return page.getByTestId('record-event').evaluateAll((rows) =>
    rows.map((row) => ({
      kind: row.dataset.kind,
      cells: [...row.querySelectorAll('td')].map((td) => td.textContent ?? ''),
    })),
  );
}

describe('the session record on the staff desk', () => {
  let server;
  let world;
  const clients = [];

  before(async () => {
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
    server = await startServer({ name: 'session-record' });
    world = await createCaseSession(server);
  });

  after(async () => {
    for (const client of clients) {
      client.saveConsole(join(ARTIFACTS_DIR, `session-record-${client.name}-console.log`));
      await client.close();
    }
    await server?.stop();
  });

  test('a held session reads back in order, in words, from the case page', async () => {
    // The session: both parties consent and wait, the mediator admits them.
    const mediator = await openClient('mediator', world.mediatorLink);
    const applicant = await openClient('applicant', world.links['张三'], { phone: true });
    const respondent = await openClient('respondent', world.links['李四'], { phone: true });
    clients.push(mediator, applicant, respondent);
    await pressJoin(mediator);
    await joinAndWait(applicant);
    await joinAndWait(respondent);
    await openConsole(mediator);
    await waitFor('both parties waiting', async () => (await mediator.state())?.waiting?.length === 2, 10_000);
    await mediator.page.getByTestId('admit-all').click();
    await waitInRoom(applicant);
    await waitInRoom(respondent);
    const aId = (await applicant.state()).participantId;

    // Back to back: each side in its own room, the mediator with the applicant.
    await mediator.page.getByTestId('separate-sides').click();
    await waitFor('the sides apart', async () => (await applicant.state())?.space === 'applicant' && (await respondent.state())?.space === 'respondent', 5_000);
    await mediator.page.getByTestId('go-applicant').click();
    await waitFor('the mediator with the applicant', async () => (await mediator.state())?.space === 'applicant', 5_000);

    // The room, like every page, switches to English and back.
    await applicant.page.getByTestId('language-switch').tap();
    await waitFor('the room in English', async () => /Messages/.test(await applicant.page.getByTestId('chat-open').innerText()), 5_000);
    await applicant.page.getByTestId('language-switch').tap();
    await waitFor('the room in Chinese', async () => !/Messages/.test(await applicant.page.getByTestId('chat-open').innerText()), 5_000);

    // The applicant writes and shares a photo; the mediator mutes them.
    await applicant.page.getByTestId('chat-open').click();
    await applicant.page.getByTestId('chat-input').fill(CHAT);
    await applicant.page.getByTestId('chat-send').click();
    await applicant.page.getByTestId('chat-message').filter({ hasText: CHAT }).waitFor();
    await applicant.page.getByTestId('evidence-input').setInputFiles(photo());
    await applicant.page.getByTestId('evidence-item').waitFor({ timeout: 15_000 });
    await mediator.page.getByTestId(`mute-${aId}`).click();
    await applicant.page.getByTestId('toast-muted').waitFor();

    // Everyone back together, then the end.
    await mediator.page.getByTestId('gather').click();
    await waitFor('everyone back in the joint room', async () =>
      (await applicant.state())?.space === 'joint' && (await respondent.state())?.space === 'joint' && (await mediator.state())?.space === 'joint', 5_000);
    await mediator.page.getByTestId('end-session').click();
    await respondent.page.getByTestId('message-screen').waitFor({ timeout: 10_000 });
    // The mediator is not thanked for taking part: their screen leads back to the case and
    // to this session's record.
    await mediator.page.getByTestId('message-screen').waitFor({ timeout: 10_000 });
    const ended = await mediator.page.getByTestId('message-screen').innerText();
    assert.doesNotMatch(ended, /感谢您的参与/, ended);
    assert.equal(await mediator.page.getByTestId('end-to-case').getAttribute('href'), `/staff/cases/${world.caseId}`);
    assert.equal(
      await mediator.page.getByTestId('end-to-record').getAttribute('href'),
      `/staff/cases/${world.caseId}/sessions/${world.sessionId}/record`,
    );

    // The mediator opens the case from a bookmark, signs in, and is taken back to it.
    const desk = await openClient('desk', `${server.httpUrl}/staff/cases/${world.caseId}`);
    clients.push(desk);
    const page = desk.page;
    await page.getByTestId('login-form').waitFor();
    await page.getByTestId('login-username').fill('li');
    await page.getByTestId('login-password').fill('correct horse battery');
    await page.getByTestId('login-submit').click();
    await page.getByTestId('case-detail').waitFor();
    const card = page.locator(`[data-testid=session-card][data-session-id="${world.sessionId}"]`);
    await waitFor('the session to show as ended', async () => (await card.getAttribute('data-status')) === 'ended', 5_000);
    assert.match((await card.getByTestId('session-status').textContent()) ?? '', /已结束/);
    const caseNumber = (await page.getByTestId('case-number').textContent()) ?? '';

    await page.screenshot({ path: join(ARTIFACTS_DIR, 'session-record-case.png'), fullPage: true });
    await card.getByTestId(`session-record-${world.sessionId}`).click();
    const record = page.getByTestId('session-record');
    await record.waitFor();
    const recordPath = `/staff/cases/${world.caseId}/sessions/${world.sessionId}/record`;
    assert.equal(new URL(page.url()).pathname, recordPath);

    // The header: the case, the mediator, who was there.
    assert.equal(await page.getByTestId('record-case').textContent(), `${caseNumber} 楼上漏水纠纷`);
    assert.equal(await page.getByTestId('record-mediator').textContent(), '李调解员');
    assert.equal(await page.getByTestId('record-people').textContent(), '李调解员（调解员）、张三（申请人）、李四（被申请人）');

    // Every entry, in the order it happened.
    const rows = await rowsOf(page);
    const kinds = rows.map((r) => r.kind);
    assert.deepEqual(kinds, [
      'joined',
      'consent', 'waiting', 'consent', 'waiting',
      'admitted', 'admitted',
      'moved', 'moved', 'moved',
      'chat', 'evidence_shared', 'muted',
      'moved', 'moved', 'moved',
      'ended',
    ], JSON.stringify(rows, null, 1));
    const what = rows.map((r) => r.cells[3]);
    const times = rows.map((r) => r.cells[0]);
    for (const time of times) assert.match(time, /^\d{2}:\d{2}:\d{2}$/);
    assert.deepEqual([...times].sort(), times, 'times only go forward');

    assert.equal(what[0], '调解员 李调解员 进入 共同调解室');
    assert.deepEqual(rows[1].cells.slice(1, 4), ['张三（申请人）', '', '张三 确认同意在线调解及全程录音录像']);
    assert.deepEqual(rows[2].cells.slice(1, 4), ['张三（申请人）', '等候室', '张三 进入等候室，等待调解员允许']);
    assert.equal(rows[3].cells[1], '李四（被申请人）');
    // Admissions and the gathering move people in one step, in no particular order.
    assert.deepEqual(new Set(what.slice(5, 7)), new Set(['调解员 李调解员 允许 张三 进入 共同调解室', '调解员 李调解员 允许 李四 进入 共同调解室']));
    assert.deepEqual(new Set(what.slice(7, 9)), new Set(['调解员 李调解员 将 张三 移至 申请人方单独调解室', '调解员 李调解员 将 李四 移至 被申请人方单独调解室']));
    assert.equal(what[9], '调解员 李调解员 进入 申请人方单独调解室');
    assert.deepEqual(rows[10].cells.slice(1, 4), ['张三（申请人）', '申请人方单独调解室', `张三 发送消息：${CHAT}`]);
    assert.equal(what[11], `张三 分享证据《${PHOTO}》`);
    assert.deepEqual(rows[12].cells.slice(1, 4), ['李调解员（调解员）', '申请人方单独调解室', '调解员 李调解员 将 张三 静音']);
    assert.deepEqual(
      new Set(what.slice(13, 16)),
      new Set(['调解员 李调解员 将 张三 移至 共同调解室', '调解员 李调解员 将 李四 移至 共同调解室', '调解员 李调解员 进入 共同调解室']),
    );
    assert.equal(what[16], '调解员 李调解员 结束调解');
    assert.ok(!(await record.textContent()).includes('{'), 'no raw JSON or placeholders');

    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'session-record.png'), fullPage: true });

    // The shared photo opens from its entry, fetched with the desk's sign-in.
    const [tab] = await Promise.all([page.context().waitForEvent('page'), page.getByTestId('record-evidence').click()]);
    await waitFor('the photo in its tab', () => tab.url().startsWith('blob:'), 10_000);
    await tab.close();

    // On paper: no navigation or buttons, lines to sign on.
    await page.emulateMedia({ media: 'print' });
    assert.equal(await page.locator('.staff-bar').isVisible(), false);
    assert.equal(await page.getByTestId('record-print').isVisible(), false);
    assert.equal(await page.locator('.record-signatures').isVisible(), true);
    await page.emulateMedia({ media: 'screen' });

    // The page is its own address: opened again, it shows the same record; in English too.
    await page.goto(`${server.httpUrl}${recordPath}`);
    await record.waitFor();
    assert.equal(await page.getByTestId('record-event').count(), rows.length);
    await page.getByTestId('language-switch').click();
    await waitFor('the record in English', async () =>
      (await page.locator('[data-testid=record-event][data-kind=ended] td').last().textContent()) === 'Mediator 李调解员 ended the session', 5_000);
    assert.equal(await page.locator('[data-testid=record-event][data-kind=chat] td').nth(2).textContent(), "Applicant's private room");
    await page.getByTestId('language-switch').click();

    // A session that does not exist says so, with the server's words.
    await page.goto(`${server.httpUrl}/staff/cases/${world.caseId}/sessions/SE_nosuch/record`);
    const error = page.getByTestId('record-error');
    await error.waitFor();
    assert.equal(await error.getAttribute('data-status'), '404');
    assert.match((await error.textContent()) ?? '', /没有找到这次调解的笔录.*no such session/);

    // A session not held yet has an empty record that says what will be in it.
    await page.goto(`${server.httpUrl}/staff/cases/${world.caseId}`);
    // The datetime-local field is read as Beijing time; two days ahead is always allowed.
    const later = new Date(Date.now() + (8 + 48) * 3600 * 1000).toISOString().slice(0, 11);
    await page.getByTestId('schedule-at').fill(`${later}10:00`);
    await page.getByTestId('schedule-submit').click();
    const planned = page.locator('[data-testid=session-card][data-status=scheduled]');
    await planned.waitFor();
    await planned.locator('[data-testid^=session-record-]').click();
    await page.getByTestId('record-empty').waitFor();
    assert.equal(await page.getByTestId('record-held').textContent(), '尚未开始');
  });
});
