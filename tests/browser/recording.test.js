// Recording a mediation and reviewing it as the court, in real Chromium against the real
// server. Live: the mediator (desktop, staff console) and a party (phone) are in a case
// session; the mediator starts recording and both pages show the spoken notice, then the REC
// badge; a second party sees the badge already in the waiting room; pause and resume show on
// every page; with the sides apart (private rooms are not recorded) each party's badge says
// so; the mediator stops. Review: the case goes to the court for confirmation, a judge of
// that court signs in on the staff desk and opens the recording: every track runs to the
// stop, each party's private-room gap ends with their return, the pause and the gaps are
// marked on the seek bar, every tile plays and decodes frames, a timeline entry seeks to its
// moment, and the integrity banner says verified. A judge of another court meets "not found"
// in the page and from the API, and the view is in the case's audit trail.
//
// Every wait is for a state, with room to spare: the machine may be busy (run it with CPU
// hogs too). Needs web-client/dist, target/debug/accord and ffmpeg.

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { PASSWORD, call, createCaseSession } from './lib/case-session.js';
import { ARTIFACTS_DIR, startServer } from './lib/server.js';
import { clickJoin, joinAndWait, openClient, openConsole, waitFor, waitInRoom } from './lib/web-client.js';

/** The court the organisation sends its cases to, and one it does not. */
const OWN_COURT = '深圳市宝安区人民法院';
const OTHER_COURT = '深圳市南山区人民法院';
/** How long a state may take to show on a loaded machine (never a measured time). */
const SLOW = 60_000;
/** Seconds of media recorded while everyone is in the room, so every tile has frames to play. */
const RECORDED_SECONDS = 6;
/** Seconds the sides spend apart in their (unrecorded) private rooms. */
const PRIVATE_SECONDS = 3;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The badge's state on a page ('rec', 'paused', 'not-recorded'), or 'off' while it is hidden. */
async function badgeState(client) {
  const badge = client.page.getByTestId('recording-badge');
  if (!(await badge.count()) || !(await badge.isVisible())) return 'off';
  return (await badge.getAttribute('data-state')) ?? 'off';
}

async function waitBadge(clients, state) {
  for (const client of clients) {
    await waitFor(`${client.name}'s badge to be ${state}`, async () => (await badgeState(client)) === state, SLOW, 200);
  }
}

/** Waits for the notice of `kind` on each page and presses its "知道了", as a person would. */
async function readNotice(clients, kind) {
  for (const client of clients) {
    const notice = client.page.getByTestId('recording-notice');
    await waitFor(`${client.name}'s ${kind} notice`, async () => (await notice.isVisible()) && (await notice.getAttribute('data-kind')) === kind, SLOW, 200);
    assert.ok((await client.page.getByTestId('recording-notice-text').innerText()).trim().length > 0, `${client.name}'s ${kind} notice has no text`);
    await client.page.getByTestId('recording-notice-ok').click();
    await notice.waitFor({ state: 'hidden', timeout: SLOW });
  }
}

/** The case's statuses from a new case to the court's confirmation, in order. */
const TO_CONFIRMATION = ['accepted', 'assigned', 'in_mediation', 'agreement_reached', 'signed', 'confirmation_requested'];

describe('recording a session and the court reviewing it', () => {
  let server;
  let world;
  let recordingId;
  const clients = [];

  before(async () => {
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
    server = await startServer({ name: 'recording' });
    world = await createCaseSession(server);
  });

  /** A staff desk opened at `url` (a bookmark), where `username` signs in as a person would. */
  async function signedInAt(url, username) {
    const desk = await openClient(username, url);
    clients.push(desk);
    await desk.page.getByTestId('login-form').waitFor({ timeout: SLOW });
    await desk.page.getByTestId('login-username').fill(username);
    await desk.page.getByTestId('login-password').fill(PASSWORD);
    await desk.page.getByTestId('login-submit').click();
    return desk;
  }

  after(async () => {
    for (const client of clients) {
      client.saveConsole(join(ARTIFACTS_DIR, `recording-${client.name}-console.log`));
      await client.close();
    }
    await server?.stop();
  });

  test('everyone in the room is told, and sees the badge follow the recording', async () => {
    const mediator = await openClient('mediator', world.mediatorLink);
    const applicant = await openClient('applicant', world.links['张三'], { phone: true });
    clients.push(mediator, applicant);
    await clickJoin(mediator);
    await waitInRoom(mediator, SLOW);
    await joinAndWait(applicant);
    await openConsole(mediator);
    await waitFor('the applicant waiting', async () => (await mediator.state())?.waiting?.length === 1, SLOW);
    await mediator.page.getByTestId('admit-all').click();
    await waitInRoom(applicant, SLOW);

    await mediator.page.getByTestId('record-start').click();
    // The notice first, on both pages, with words in it, before anything is recorded.
    for (const client of [mediator, applicant]) {
      const notice = client.page.getByTestId('recording-notice');
      await notice.waitFor({ state: 'visible', timeout: SLOW });
      const text = (await client.page.getByTestId('recording-notice-text').innerText()).trim();
      assert.ok(text.length > 0, `${client.name}'s notice has no text`);
      assert.equal(await notice.getAttribute('data-kind'), 'starting');
    }
    await mediator.page.screenshot({ path: join(ARTIFACTS_DIR, 'recording-notice-mediator.png') });
    await applicant.page.screenshot({ path: join(ARTIFACTS_DIR, 'recording-notice-applicant.png') });
    await waitBadge([mediator, applicant], 'rec');
    await waitFor('the console to say it records', async () =>
      (await mediator.page.getByTestId('recording-controls').getAttribute('data-state')) === 'on', SLOW);

    // Someone who arrives while it runs sees the badge from the moment they are in.
    const respondent = await openClient('respondent', world.links['李四'], { phone: true });
    clients.push(respondent);
    await joinAndWait(respondent);
    // Already in the waiting room they are told, and see the badge.
    await waitBadge([respondent], 'rec');
    await respondent.page.screenshot({ path: join(ARTIFACTS_DIR, 'recording-waiting-room.png') });
    await waitFor('the respondent waiting', async () => (await mediator.state())?.waiting?.length === 1, SLOW);
    await mediator.page.getByTestId('admit-all').click();
    await waitInRoom(respondent, SLOW);
    await waitBadge([respondent], 'rec');
    await respondent.page.screenshot({ path: join(ARTIFACTS_DIR, 'recording-badge-late-joiner.png') });
    const everyone = [mediator, applicant, respondent];
    // Media from all three for a while, so the review has something to play of each.
    await waitFor('the respondent receiving media', async () => ((await respondent.stats())?.inbound ?? []).some((s) => s.packetsReceived > 50), SLOW);
    await sleep(RECORDED_SECONDS * 1000);

    await mediator.page.getByTestId('record-pause').click();
    await waitBadge(everyone, 'paused');
    await readNotice(everyone, 'paused');
    await mediator.page.getByTestId('record-resume').click();
    await waitBadge(everyone, 'rec');
    await readNotice(everyone, 'resumed');
    await sleep(RECORDED_SECONDS * 1000);

    // The organisation does not record private rooms: each side, alone in theirs, is told so.
    const parties = [applicant, respondent];
    await mediator.page.getByTestId('separate-sides').click();
    await waitBadge(parties, 'not-recorded');
    await waitBadge([mediator], 'rec');
    await applicant.page.screenshot({ path: join(ARTIFACTS_DIR, 'recording-private-room.png') });
    await sleep(PRIVATE_SECONDS * 1000);
    await mediator.page.getByTestId('gather').click();
    await waitBadge(parties, 'rec');
    await readNotice(parties, 'ongoing');
    await sleep(RECORDED_SECONDS * 1000);

    // Stopping asks for confirmation; the page's dialog handler says yes.
    await mediator.page.getByTestId('record-stop').click();
    await waitBadge(everyone, 'off');
    await waitFor('the console to offer a new start', async () => (await mediator.page.getByTestId('record-start').count()) === 1, SLOW);

    // The recording is finalised and stored; the session may go on.
    const done = await waitFor('the recording to be complete', async () => {
      const { recordings } = await world.get(`/api/v1/cases/${world.caseId}/recordings`);
      const finished = recordings.find((r) => !['recording', 'paused', 'finalising'].includes(r.status));
      return finished ?? null;
    }, 120_000, 500);
    assert.equal(done.status, 'complete', JSON.stringify(done));
    recordingId = done.id;

    await mediator.page.getByTestId('end-session').click();
    await mediator.page.getByTestId('message-screen').waitFor({ timeout: SLOW });
  });

  test('the court of the case reviews it; another court cannot', async () => {
    assert.ok(recordingId, 'the first test made a recording');
    // The organisation sends its cases to its court; the case goes there for confirmation.
    const organisations = await world.asAdmin('GET', '/api/v1/organisations');
    const organisation = (organisations.items ?? organisations).find((o) => o.id === world.organisationId);
    assert.equal(organisation?.court, OWN_COURT, JSON.stringify(organisations));
    const current = (await world.get(`/api/v1/cases/${world.caseId}`)).case.status;
    for (const status of TO_CONFIRMATION.slice(TO_CONFIRMATION.indexOf(current) + 1)) {
      await world.asMediator('POST', `/api/v1/cases/${world.caseId}/status`, { status });
    }
    assert.equal((await world.get(`/api/v1/cases/${world.caseId}`)).case.status, 'confirmation_requested');

    const judge = async (username, court) => {
      const staff = await world.asAdmin('POST', '/api/v1/staff', { username, display_name: `${username}法官`, password: PASSWORD, role: 'court', court });
      const { access_token: token } = await call(server, 'POST', '/api/v1/auth/login', { username, password: PASSWORD });
      return { id: staff.id, token };
    };
    const { id: judgeId, token: ownJudge } = await judge('judge', OWN_COURT);
    const { token: otherJudge } = await judge('stranger', OTHER_COURT);

    // The check against the signed manifest runs after upload; the page shows its result.
    const detail = await waitFor('the integrity check to pass', async () => {
      const d = await call(server, 'GET', `/api/v1/recordings/${recordingId}`, undefined, ownJudge);
      assert.notEqual(d.verification.state, 'failed', JSON.stringify(d.verification));
      return d.verification.state === 'verified' ? d : null;
    }, SLOW, 1_000);
    // Kept for whoever reads a failure: what the page was given, and the whole recording.
    writeFileSync(join(ARTIFACTS_DIR, 'recording-detail.json'), JSON.stringify(detail, null, 1));
    const archive = await fetch(`${server.httpUrl}${detail.downloads.archive_url}`);
    assert.equal(archive.status, 200);
    writeFileSync(join(ARTIFACTS_DIR, 'recording-archive.zip'), Buffer.from(await archive.arrayBuffer()));
    const videos = detail.tracks.filter((t) => t.kind === 'video');
    const filmed = new Set(videos.map((t) => t.participant_name));
    assert.deepEqual(filmed, new Set(['李调解员', '张三', '李四']), `video of everyone: ${JSON.stringify(detail.tracks)}`);
    // Everyone stayed to the end: every track runs on to the stop, across the private rooms.
    for (const track of detail.tracks) {
      assert.ok(track.end_ms > detail.duration_ms - 2_000, `${track.name} (${track.participant_name}) ends at ${track.end_ms} of ${detail.duration_ms} ms`);
    }
    // Each party's time apart is a gap from their move to the private room to their return.
    const back = detail.timeline.find((e) => e.kind === 'moved' && e.space === 'joint' && e.at_ms > 0);
    assert.ok(back, `the return to the joint room in the timeline: ${JSON.stringify(detail.timeline)}`);
    const gapsOf = (name) => detail.gaps.filter((g) => g.participant_name === name);
    for (const name of ['张三', '李四']) {
      const gaps = gapsOf(name);
      assert.equal(gaps.length, 1, `one private-room gap for ${name}: ${JSON.stringify(detail.gaps)}`);
      assert.ok(gaps[0].to_ms - gaps[0].from_ms >= PRIVATE_SECONDS * 1000, `${name}'s gap is as long as their time apart: ${JSON.stringify(gaps)}`);
      assert.ok(Math.abs(gaps[0].to_ms - back.at_ms) < 1_000, `${name}'s gap ends with the return at ${back.at_ms} ms: ${JSON.stringify(gaps)}`);
    }
    assert.deepEqual(gapsOf('李调解员'), [], 'the mediator stayed in the recorded joint room');
    assert.equal(detail.pauses.length, 1, JSON.stringify(detail.pauses));

    // The judge opens the recording's address, signs in, and lands on it.
    const reviewUrl = `${server.httpUrl}/staff/recordings/${recordingId}`;
    const { page } = await signedInAt(reviewUrl, 'judge');
    await page.getByTestId('recording-review').waitFor({ timeout: SLOW });
    assert.equal(await page.getByTestId('review-integrity').getAttribute('data-state'), 'verified');
    assert.equal(await page.getByTestId('review-tile').count(), videos.length);
    // The pause and the unrecorded private rooms are marked on the seek bar and in the timeline.
    assert.equal(await page.getByTestId('seek-mark-pause').count(), 1);
    assert.equal(await page.getByTestId('seek-mark-gap').count(), 2);
    // Drawn where they happened along the bar, wide enough to see.
    const marks = await page.locator('.review-mark').evaluateAll((spans) =>
      spans.map((span) => ({ kind: span.dataset.testid, at: span.offsetLeft / span.parentElement.offsetWidth, width: span.offsetWidth })),
    );
    const expected = [...detail.pauses.map((p) => ['seek-mark-pause', p.from_ms]), ...detail.gaps.map((g) => ['seek-mark-gap', g.from_ms])];
    for (const [kind, fromMs] of expected) {
      const at = fromMs / detail.duration_ms;
      assert.ok(marks.some((m) => m.kind === kind && m.width > 0 && Math.abs(m.at - at) < 0.03), `a ${kind} mark at ${at.toFixed(3)} of the bar: ${JSON.stringify(marks)}`);
    }
    assert.equal(await page.locator('[data-testid=timeline-entry][data-kind=gap]').count(), 2);

    // Played through, every tile's clock moves and its video decodes frames.
    const review = () => page.evaluate(() => window.ACCORD?.review ?? null);
    await page.getByTestId('review-play').click();
    // A tile is seen playing once, while in its span, and then again half a second of media
    // and some frames later: a tile that is only moved along by the master would not decode.
    const firstSeen = new Map();
    const masterStart = (await review()).masterTime;
    await waitFor('every tile playing with frames decoded', async () => {
      const snapshot = await review();
      if (!snapshot?.playing) await page.getByTestId('review-play').click();
      const moved = snapshot.tiles.filter((tile) => {
        if (tile.presence !== 'inside' || !tile.playing) return false;
        const first = firstSeen.get(tile.name);
        if (!first) firstSeen.set(tile.name, tile);
        return first && tile.currentTime > first.currentTime + 0.5 && tile.framesDecoded > first.framesDecoded + 5;
      });
      return new Set(moved.map((tile) => tile.name)).size === snapshot.tiles.length;
    }, 120_000, 250);
    assert.ok((await review()).masterTime > masterStart, 'the mixed audio, the master clock, plays');
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'recording-review.png'), fullPage: true });

    // A timeline entry inside the recording takes playback to its moment.
    await page.getByTestId('review-play').click();
    await waitFor('playback paused', async () => (await review())?.playing === false, SLOW);
    const entries = await page.getByTestId('timeline-entry').evaluateAll((rows) =>
      rows.map((row, index) => ({ index, kind: row.dataset.kind, atMs: Number(row.dataset.atMs) })),
    );
    const duration = (await review()).duration;
    const inside = entries.filter((e) => e.atMs > 1_000 && e.atMs < duration * 1000 - 1_000);
    assert.ok(inside.length > 0, `an entry inside the recording: ${JSON.stringify(entries)} (duration ${duration} s)`);
    const target = inside[Math.floor(inside.length / 2)];
    const masterBefore = (await review()).masterTime;
    await page.getByTestId('timeline-entry').nth(target.index).click();
    await waitFor(`playback at ${target.atMs} ms (was ${masterBefore} s)`, async () =>
      Math.abs((await review()).masterTime - target.atMs / 1000) < 1, SLOW);
    // The timeline marks where playback now is: the entry clicked, or one at the same moment.
    const now = page.locator('[data-testid=timeline-entry].review-row-now');
    await waitFor('the clicked moment marked in the timeline', async () => {
      const marked = await now.evaluateAll((rows) => rows.map((row) => Number(row.dataset.atMs)));
      return marked.length === 1 && marked[0] === target.atMs;
    }, SLOW);

    // In a party's unrecorded private room their tile says so instead of a frozen picture;
    // the mediator, recorded in the joint room all along, is still shown.
    const tileOf = (name) => page.locator(`[data-testid=review-tile][data-name="${videos.find((t) => t.participant_name === name).name}"]`);
    const applicantGap = gapsOf('张三')[0];
    await page.locator(`[data-testid=timeline-entry][data-kind=gap][data-at-ms="${applicantGap.from_ms}"]`).click();
    await waitFor("the applicant's tile saying they were not recorded", async () =>
      (await tileOf('张三').getAttribute('data-presence')) === 'unrecorded' && /未录制/.test(await tileOf('张三').getByTestId('review-tile-note').innerText()), SLOW);
    assert.equal(await tileOf('李调解员').getAttribute('data-presence'), 'inside');
    // The timeline says who was moved where, as the session record does.
    const moves = await page.locator('[data-testid=timeline-entry][data-kind=moved] .review-row-what').allInnerTexts();
    assert.ok(moves.includes('调解员 李调解员 将 张三 移至 申请人方单独调解室'), JSON.stringify(moves));
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'recording-review-gap.png') });

    // Another court's judge: not found, in the page and from the API.
    const answer = await fetch(`${server.httpUrl}/api/v1/recordings/${recordingId}`, { headers: { authorization: `Bearer ${otherJudge}` } });
    assert.equal(answer.status, 404);
    const strangerDesk = await signedInAt(reviewUrl, 'stranger');
    const error = strangerDesk.page.getByTestId('review-error');
    await error.waitFor({ timeout: SLOW });
    assert.equal(await error.getAttribute('data-status'), '404');

    // The judge's view is in the case's audit trail.
    const audit = await world.get(`/api/v1/cases/${world.caseId}/audit`);
    const views = audit.items.filter((item) => item.action === 'recording.viewed' && item.detail.includes(recordingId));
    assert.ok(views.some((item) => item.actor === `staff:${judgeId}`), `a view by the judge (${judgeId}) in ${JSON.stringify(views)}`);
  });
});
