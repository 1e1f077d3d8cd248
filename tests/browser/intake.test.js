// Online intake from a phone in real Chromium against the real server: a resident opens
// /apply, fills the form in Chinese, attaches a photo, submits, gets a tracking code, and
// follows the case on /track. Screenshots land in tests/browser/artifacts/.
//
// Needs web-client/dist (npm run build in web-client/), target/debug/accord, sqlite3 and
// ffmpeg.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { ARTIFACTS_DIR, startServer } from './lib/server.js';
import { openClient, waitFor } from './lib/web-client.js';

const REGION = '新安街道';

/**
 * Registers the organisation serving REGION in the server's database. Until the
 * administration API exists, the row is written directly, as the store writes it.
 */
function seedOrganisation(dataDir) {
  const sql =
    'INSERT INTO organisations (id, name, short_name, region, channel, court, created_at) ' +
    `VALUES ('OR_browserintake01', '宝安区新安街道人民调解委员会', '宝安', '${REGION}', 'peoples', NULL, ${Date.now()});`;
  execFileSync('sqlite3', [join(dataDir, 'accord.db'), sql]);
}

/** A real photo: a 640×480 PNG test pattern. */
function makePhoto() {
  const path = join(ARTIFACTS_DIR, 'intake-photo.png');
  execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=640x480', '-frames:v', '1', path]);
  return path;
}

describe('online intake from a phone', () => {
  let server;
  let phone;

  before(async () => {
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
    server = await startServer({ name: 'intake' });
    seedOrganisation(server.dataDir);
    phone = await openClient('applicant', `${server.httpUrl}/apply`, { phone: true });
  });

  after(async () => {
    phone?.saveConsole(join(ARTIFACTS_DIR, 'intake-applicant-console.log'));
    await phone?.close();
    await server?.stop();
  });

  test('a resident applies with a photo, gets a tracking code and follows the case', async () => {
    const page = phone.page;
    await page.getByTestId('intake-form').waitFor();
    await waitFor(
      'the region picker',
      () => page.getByTestId('region').evaluate((s, region) => [...s.options].some((o) => o.value === region), REGION),
      10_000,
    );
    assert.equal(await page.locator('h1').textContent(), '在线申请调解');

    await page.getByTestId('applicant.name').fill('张三');
    await page.getByTestId('applicant.phone').fill('138 0013 8000');
    await page.getByTestId('applicant.id_number').fill('11010519491231002X');
    await page.getByTestId('respondent.kind.organisation').check();
    await page.getByTestId('respondent.name').fill('某物业服务有限公司');
    await page.getByTestId('region').selectOption(REGION);
    await page.getByTestId('category').selectOption('property');
    await page.getByTestId('facts').fill('楼上漏水三个月，物业一直未处理，墙面发霉。');
    await page.getByTestId('claims').fill('维修漏水并赔偿损失两千元。');
    await page.getByTestId('photos').setInputFiles(makePhoto());
    await page.getByTestId('photo-thumb').waitFor();
    await waitFor(
      'the thumbnail to load',
      () => page.locator('.thumb img').evaluate((img) => img.complete && img.naturalWidth > 0),
      5_000,
    );
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'intake-form-phone.png'), fullPage: true });

    await page.getByTestId('intake-submit').tap();
    await page.getByTestId('intake-done').waitFor({ timeout: 15_000 });
    const code = (await page.getByTestId('tracking-code').textContent()) ?? '';
    const number = (await page.getByTestId('case-number').textContent()) ?? '';
    assert.match(code, /^[2-9A-HJKMNP-Z]{10}$/);
    assert.match(number, /^\d{4}-宝安-\d{6}$/);
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'intake-phone.png') });

    await page.getByTestId('track-link').tap();
    await page.getByTestId('track-result').waitFor({ timeout: 10_000 });
    assert.equal(await page.getByTestId('track-status').textContent(), '当前状态：已提交，等待受理');
    assert.equal(await page.getByTestId('track-code').inputValue(), code);
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'intake-track-phone.png') });

    // The other way in: typing the code by hand, in lower case.
    await page.goto(`${server.httpUrl}/track`);
    await page.getByTestId('track-code').fill(code.toLowerCase());
    await page.getByTestId('track-lookup').tap();
    await page.getByTestId('track-result').waitFor({ timeout: 10_000 });
    assert.match((await page.getByTestId('track-result').textContent()) ?? '', new RegExp(number));

    // English on request, like every page.
    await page.getByTestId('language-switch').tap();
    assert.equal(await page.getByTestId('track-status').textContent(), 'Status: Submitted, awaiting acceptance');
    await page.goto(`${server.httpUrl}/apply`);
    assert.equal(await page.locator('h1').textContent(), 'Apply for mediation');
    await page.getByTestId('intake-submit').tap();
    assert.equal(await page.getByTestId('error-applicant.name').textContent(), 'Please fill this in');
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'intake-form-errors-phone-en.png') });
  });
});
