// The staff desk in real Chromium against the real server: first-run setup creates the
// administrator, who creates an organisation and a mediator; the mediator registers a case
// with two parties, schedules a session and copies an invite; a phone opens the invite and
// reaches the device check; the mediator starts the session and the phone joins it; a second
// phone applies online with a photo and the mediator finds the application in the list.
// Screenshots land in tests/browser/artifacts/.
//
// Needs web-client/dist, target/debug/accord and ffmpeg.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { ARTIFACTS_DIR, startServer } from './lib/server.js';
import { joinAndWait, openClient, openConsole, pressJoin, waitFor, waitInRoom } from './lib/web-client.js';

const REGION = '新安街道';
const PASSWORD = 'correct horse battery';

/** The datetime-local value for tomorrow at 10:00 in Beijing. */
function tomorrowAtTen() {
  const beijing = new Date(Date.now() + 8 * 3600 * 1000 + 24 * 3600 * 1000);
  const two = (n) => String(n).padStart(2, '0');
  return `${beijing.getUTCFullYear()}-${two(beijing.getUTCMonth() + 1)}-${two(beijing.getUTCDate())}T10:00`;
}

function makePhoto() {
  const path = join(ARTIFACTS_DIR, 'staff-intake-photo.png');
  execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=640x480', '-frames:v', '1', path]);
  return path;
}

async function signIn(page, username, password) {
  await page.getByTestId('login-form').waitFor();
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('signed-in-as').waitFor();
}

describe('the staff desk', () => {
  let server;
  let desk;
  const phones = [];

  before(async () => {
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
    server = await startServer({ name: 'staff' });
    desk = await openClient('mediator', `${server.httpUrl}/staff`);
  });

  after(async () => {
    desk?.saveConsole(join(ARTIFACTS_DIR, 'staff-desk-console.log'));
    for (const phone of phones) {
      phone.saveConsole(join(ARTIFACTS_DIR, `staff-${phone.name}-console.log`));
      await phone.close();
    }
    await desk?.close();
    await server?.stop();
  });

  test('setup, a case with two parties, a session, an invite that reaches the device check, and an intake in the list', async () => {
    const page = desk.page;

    // First run: /staff leads to setup; the administrator creates the organisation and a mediator.
    await page.getByTestId('login-form').waitFor();
    assert.equal(new URL(page.url()).pathname, '/staff/setup');
    await page.getByTestId('login-username').fill('admin');
    await page.getByTestId('login-displayName').fill('系统管理员');
    await page.getByTestId('login-password').fill(PASSWORD);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('nav-admin').click();
    const org = page.getByTestId('new-organisation');
    await org.waitFor();
    await page.getByTestId('admin-name').fill('宝安区新安街道人民调解委员会');
    await page.getByTestId('admin-short_name').fill('宝安');
    await page.getByTestId('admin-region').first().fill(REGION);
    await org.getByTestId('admin-court').fill('深圳市宝安区人民法院');
    await org.locator('button[type=submit]').click();
    await page.getByTestId('organisation-row').waitFor();
    const staffForm = page.getByTestId('new-staff');
    await staffForm.getByTestId('admin-username').fill('li.mediator');
    await staffForm.getByTestId('admin-display_name').fill('李调解员');
    await staffForm.getByTestId('admin-password').fill(PASSWORD);
    await staffForm.getByTestId('admin-role').selectOption('mediator');
    await waitFor('the organisation choice', () => staffForm.getByTestId('admin-organisation_id').locator('option').count().then((n) => n >= 2), 5_000);
    await staffForm.getByTestId('admin-organisation_id').selectOption({ label: '宝安区新安街道人民调解委员会' });
    await staffForm.locator('button[type=submit]').click();
    await page.locator('[data-testid=staff-row][data-username="li.mediator"]').waitFor();
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'staff-admin.png'), fullPage: true });
    await page.getByTestId('logout').click();

    // The mediator registers a case with an applicant and a respondent.
    await signIn(page, 'li.mediator', PASSWORD);
    assert.equal(new URL(page.url()).pathname, '/staff/cases');
    await page.getByTestId('no-cases').waitFor();
    // The refresh token lives in an HttpOnly cookie: no script of the page can read it...
    const kept = await page.evaluate(() => ({ keys: Object.keys(localStorage), cookie: document.cookie }));
    assert.ok(!kept.keys.some((k) => /refresh/i.test(k)), JSON.stringify(kept));
    assert.equal(kept.cookie, '');
    // ...and it still brings a tab back without signing in (the desk's silent refresh).
    await page.evaluate(() => sessionStorage.clear());
    await page.reload();
    await page.getByTestId('no-cases').waitFor();
    assert.equal(await page.getByTestId('login-form').count(), 0);
    await page.getByTestId('new-case').click();
    await page.getByTestId('case-category').selectOption('neighbours');
    await page.getByTestId('case-risk').selectOption('yellow');
    await page.getByTestId('case-title').fill('楼上漏水纠纷');
    await page.getByTestId('case-facts').fill('楼上卫生间漏水，楼下天花板发霉。');
    await page.getByTestId('case-claims').fill('维修并赔偿三千元。');
    await page.getByTestId('party-0-name').fill('张三');
    await page.getByTestId('party-0-phone').fill('13800138000');
    await page.getByTestId('party-0-id_number').fill('11010519491231002X');
    await page.getByTestId('party-1-side').selectOption('respondent');
    await page.getByTestId('party-1-name').fill('李四');
    await page.getByTestId('party-1-phone').fill('13900139000');
    await page.getByTestId('create-case').click();
    await page.getByTestId('case-detail').waitFor();
    const number = (await page.getByTestId('case-number').textContent()) ?? '';
    assert.match(number, /^\d{4}-宝安-\d{6}$/);
    assert.equal(await page.getByTestId('party-row').count(), 2);
    // The ID number shows masked, never whole.
    assert.equal((await page.getByTestId('id-masked').textContent())?.trim(), '· 110***********002X');
    assert.ok(!(await page.content()).includes('11010519491231002X'));
    // The mediator who entered the case has it, and the page's first offer is a session, not closing it.
    assert.equal((await page.getByTestId('case-mediator').textContent())?.trim(), '李调解员');
    assert.equal(await page.getByTestId('case-detail').getAttribute('data-status'), 'assigned');
    const classOf = (id) => page.getByTestId(id).getAttribute('class');
    assert.match(await classOf('schedule-next'), /\bprimary\b/);
    assert.match(await classOf('schedule-submit'), /\bprimary\b/);
    assert.doesNotMatch(await classOf('status-closed'), /\bprimary\b/);
    await page.getByTestId('schedule-next').click();
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'schedule-at');

    // A session tomorrow at 10:00, and an invite for the applicant.
    await page.getByTestId('schedule-at').fill(tomorrowAtTen());
    await page.getByTestId('schedule-submit').click();
    await page.getByTestId('session-card').waitFor();
    await page.locator('[data-testid=invite-button][data-party-name="张三"]').click();
    await page.getByTestId('invite-panel').waitFor();
    const link = await page.getByTestId('invite-link').inputValue();
    assert.ok(link.startsWith(`${server.httpUrl}/join#token=`), link);
    const message = await page.getByTestId('invite-message').inputValue();
    assert.ok(message.includes(link) && message.includes('张三') && message.includes('10:00'), message);
    await page.getByTestId('invite-copy').click();
    await waitFor('the copy to be confirmed', async () => (await page.getByTestId('invite-copy').textContent()) === '已复制', 5_000);
    await waitFor('the QR code', () => page.getByTestId('invite-qr').evaluate((img) => img.complete && img.naturalWidth > 0), 5_000);
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'staff-case-invite.png'), fullPage: true });

    // The applicant's phone opens the invite and reaches the device check, greeted by name.
    const applicant = await openClient('applicant', link, { phone: true });
    phones.push(applicant);
    await applicant.page.getByTestId('device-check').waitFor();
    assert.match((await applicant.page.locator('.greeting').first().textContent()) ?? '', /张三/);
    await applicant.page.screenshot({ path: join(ARTIFACTS_DIR, 'staff-invite-device-check-phone.png') });

    // The mediator starts the session: the room opens. The applicant consents to online
    // mediation and recording, waits, and the mediator lets them in.
    await page.getByTestId('start-session').click();
    await page.getByTestId('device-check').waitFor();
    await pressJoin(desk);
    await joinAndWait(applicant);
    await openConsole(desk);
    await page.getByTestId('admit-all').click();
    await waitInRoom(applicant);
    await waitFor(
      'the mediator to see the applicant by name',
      () => page.locator('.tile-name', { hasText: '张三' }).count().then((n) => n > 0),
      15_000,
    );
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'staff-session-started.png') });

    // A second phone applies online with a photo.
    const resident = await openClient('resident', `${server.httpUrl}/apply`, { phone: true });
    phones.push(resident);
    const form = resident.page;
    await form.getByTestId('intake-form').waitFor();
    await waitFor('the region picker', () => form.getByTestId('region').evaluate((s, r) => [...s.options].some((o) => o.value === r), REGION), 10_000);
    await form.getByTestId('applicant.name').fill('王五');
    await form.getByTestId('applicant.phone').fill('13700137000');
    await form.getByTestId('respondent.kind.organisation').check();
    await form.getByTestId('respondent.name').fill('某劳务派遣有限公司');
    await form.getByTestId('region').selectOption(REGION);
    await form.getByTestId('category').selectOption('labour');
    await form.getByTestId('facts').fill('公司拖欠三个月工资共一万二千元。');
    await form.getByTestId('claims').fill('支付拖欠工资。');
    await form.getByTestId('photos').setInputFiles(makePhoto());
    await form.getByTestId('photo-thumb').waitFor();
    await form.getByTestId('intake-submit').tap();
    await form.getByTestId('intake-done').waitFor({ timeout: 15_000 });
    const intakeNumber = (await form.getByTestId('case-number').textContent()) ?? '';

    // Back at the desk: the application is in the list as an intake, with its photo.
    await page.goto(`${server.httpUrl}/staff/cases?status=intake`);
    const row = page.locator(`[data-testid=case-row][data-number="${intakeNumber}"]`);
    await row.waitFor({ timeout: 10_000 });
    assert.equal(await row.getAttribute('data-status'), 'intake');
    assert.equal(await page.getByTestId('case-row').count(), 1, 'the status filter leaves only the intake');
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'staff-case-list.png'), fullPage: true });
    await row.locator('a').click();
    await page.getByTestId('case-detail').waitFor();
    await waitFor(
      'the photo thumbnail',
      () => page.locator('[data-testid=evidence-item] img').evaluate((img) => img.complete && img.naturalWidth === 640),
      10_000,
    );
    // Accepting it is the next step the page offers.
    await page.getByTestId('status-accepted').click();
    await waitFor('the case to be accepted', async () => (await page.getByTestId('case-detail').getAttribute('data-status')) === 'accepted', 10_000);
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'staff-intake-accepted.png'), fullPage: true });

    // Searching by party name finds the first case only.
    await page.goto(`${server.httpUrl}/staff/cases?q=${encodeURIComponent('李四')}`);
    await page.locator(`[data-testid=case-row][data-number="${number}"]`).waitFor();
    assert.equal(await page.getByTestId('case-row').count(), 1);
    // The security policy let every screen work: the browser refused nothing.
    const refused = [...desk.console, ...phones.flatMap((p) => p.console)].filter((l) => /Content Security Policy/i.test(l));
    assert.deepEqual(refused, []);
  });
});
