// Plays every case of a plan in Debian's headless Chromium and checks the
// expectations: node driver.mjs PLAN.json
//
// The plan (written by stacks.py) lists cases {name, player, path, mode,
// stream, kind, page, expect}. Every case loads the test page (www/play.html)
// in a fresh browser context of one shared browser, lets the player play for
// a few seconds and reads window.dpTest. Prints one `PASS: name` or
// `FAIL: name: reason` per assertion (and `name.requests` for a case that
// says where its requests must go) and a results table; exits 1 on any
// failure. On failure the screenshot and the player's log go to the
// artifacts directory and the log's tail to stdout.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// The flags the issue fixes. Without the background-networking ones Chromium
// keeps trying Google's hosts, which this machine's closed network refuses.
const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

const plan = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const play = plan.play;  // {target_time, target_frames, min_frames, min_time, stall_ms, cap_ms}
const concurrency = Number(process.env.DASHPIFF_BROWSER_JOBS || plan.concurrency || 3);
fs.mkdirSync(plan.artifacts, { recursive: true });

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

// Plays one case in a new page; never throws (a crash of the page is a
// result too). Pages of one worker share a context, so the players' libraries
// come from the HTTP cache after the first case.
async function runCase(context, c) {
  const page = await context.newPage();
  const consoleLines = [];
  // Every URL the page asked for (the test page and players' libraries
  // included): what a proxied case must not leave the proxy for.
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => consoleLines.push(`[console.${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`[pageerror] ${e.message}`));
  page.on('requestfailed', (r) => consoleLines.push(`[requestfailed] ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => { if (r.status() >= 400) consoleLines.push(`[http ${r.status()}] ${r.url()}`); });
  const started = Date.now();
  let snap = null;
  let crash = null;
  try {
    // Generous: on a loaded machine the first paint can take a while; the
    // stall timer below bounds the rest.
    await page.goto(c.page, { waitUntil: 'domcontentloaded', timeout: 30000 });
    // Play until enough has been decoded or the stream ended; give up once
    // an error has had a second to settle, after stall_ms without progress
    // or after cap_ms.
    let progressAt = Date.now();
    // Progress is anything the player did: a new event (segment loaded,
    // key session, ...), a decoded frame, media time moving.
    let seen = '';
    let errorAt = 0;
    for (;;) {
      snap = await page.evaluate(c.probe === 'player-page' ? probePlayerPage : () => window.dpTest && window.dpTest.snapshot());
      const now = Date.now();
      const mark = snap ? `${snap.events}/${snap.totalVideoFrames}/${snap.currentTime}` : '';
      if (mark !== seen) {
        seen = mark;
        progressAt = now;
      }
      const reached = snap && (snap.ended ||
          (snap.currentTime >= (c.target_time ?? play.target_time) &&
           snap.totalVideoFrames >= play.target_frames));
      // The /player page is done once it also heard back from /inspect.
      if (reached && (c.probe !== 'player-page' || (snap.inspected.video && snap.inspected.audio))) break;
      if (snap && snap.errors.length && !errorAt) errorAt = now;
      if (errorAt && now - errorAt > 1000) break;
      if (now - progressAt > play.stall_ms || now - started > play.cap_ms) break;
      await sleep(250);
    }
  } catch (e) {
    crash = String(e.message || e).split('\n')[0];
  }
  let log = [];
  try { log = await page.evaluate(() => (window.dpTest ? window.dpTest.log : [])); } catch (e) { /* page gone */ }
  const result = {
    ...c,
    seconds: (Date.now() - started) / 1000,
    time: snap ? snap.currentTime : 0,
    frames: snap ? snap.totalVideoFrames : 0,
    errors: (snap ? snap.errors : []).concat(crash ? ['driver: ' + crash] : []),
    snap,
    log: log.concat(consoleLines),
    requests,
    page_obj: page,
  };
  return result;
}

// The /player page has no test hooks beyond its segment table: read the
// video element, the status line and what the page learnt from /inspect.
function probePlayerPage() {
  const video = document.getElementById('video');
  const statusLine = document.getElementById('status');
  const q = video.getVideoPlaybackQuality();
  const segs = window.dashpiffPlayerSegments || {};
  const inspected = {};
  for (const [type, s] of Object.entries(segs)) inspected[type] = s.inspect;
  return {
    currentTime: video.currentTime,
    totalVideoFrames: q.totalVideoFrames,
    ended: video.ended,
    errors: statusLine.className === 'error' ? [statusLine.textContent] : [],
    events: document.querySelectorAll('#log li').length + Object.keys(segs).length,
    inspected,
    shownChanges: Array.from(document.querySelectorAll('#segments li.change')).map((li) => li.textContent),
  };
}

// For the /player page: the changes it shows for the last video segment.
function pageChangesProblem(r) {
  const v = r.snap && r.snap.inspected && r.snap.inspected.video;
  if (!v) return 'no video segment was inspected';
  if (v.error) return 'inspect: ' + v.error;
  if (!(v.piff_neutralised + v.piff_converted > 0)) return `inspect reports no PIFF box handled: ${JSON.stringify(v)}`;
  if (!(r.snap.shownChanges || []).length) return 'the page lists no change';
  return '';
}

function played(r) {
  return r.errors.length === 0 && r.frames >= (r.min_frames ?? play.min_frames) && r.time >= (r.min_time ?? play.min_time);
}

function why(r) {
  const parts = [`${r.frames} frames decoded, media time ${r.time.toFixed(2)} s`];
  if (r.errors.length) parts.push('error: ' + r.errors[0].slice(0, 300));
  return parts.join('; ');
}

async function saveArtifacts(r) {
  const base = path.join(plan.artifacts, r.name.replace(/[^A-Za-z0-9._-]+/g, '_'));
  const shot = base + '.png';
  const logFile = base + '.log';
  try { await r.page_obj.screenshot({ path: shot }); } catch (e) { fs.writeFileSync(shot + '.missing', String(e)); }
  const text = [
    `case: ${r.name}`, `page: ${r.page}`, `manifest: ${r.mpd}`,
    `snapshot: ${JSON.stringify(r.snap)}`, `errors:`, ...r.errors.map((e) => '  ' + e), 'log:', ...r.log,
    'requests:', ...(r.requests || []).map((u) => '  ' + u),
  ].join('\n') + '\n';
  fs.writeFileSync(logFile, text);
  console.log(`  screenshot: ${shot}`);
  console.log(`  player log: ${logFile}`);
  for (const line of r.log.slice(-15)) console.log('  | ' + line.slice(0, 400));
}

// For a case that names `via` (every case played through dashpiff): a
// request that went anywhere but the proxy (a manifest, remote element,
// segment or licence fetched from the origin directly) is the failure the
// rewrite exists to prevent. `must_request`: [what, regular expression of
// the URL] pairs that must each have been asked for (the remote elements through /mpd/, the
// media they name), so that "nothing left the proxy" cannot pass because
// nothing was fetched.
// Requests a player makes of its own accord, named by no manifest: dash.js's
// default time source for a dynamic MPD without UTCTiming (its setting
// streaming.utcSynchronization.defaultTimingSource; the Smooth live
// presentation's MPD has none). A clock, not media, and no address the
// rewrite could have changed (a manifest's own UTCTiming stays direct too:
// src/mpd/rewriter.cpp).
const PLAYERS_OWN = [/^https?:\/\/time\.akamai\.com\//];

function requestsProblem(r) {
  if (r.via) {
    const away = r.requests.filter((u) => !/^(data|blob):/.test(u) && !u.startsWith(r.via + '/') &&
                                          !PLAYERS_OWN.some((re) => re.test(u)));
    if (away.length) return `${away.length} request(s) not through the proxy, first: ${away[0]}`;
  }
  for (const [what, re] of r.must_request || []) {
    if (!r.requests.some((u) => new RegExp(re).test(u))) return `never requested ${what} (${re})`;
  }
  for (const [what, re] of r.must_not_request || []) {
    if (r.requests.some((u) => new RegExp(re).test(u))) return `requested ${what} (${re})`;
  }
  return '';
}

// One assertion per case, decided by its expectation; one more on its
// requests where the case says what they must be.
async function judge(r) {
  let ok;
  let reason;
  if (r.expect === 'play') {
    ok = played(r);
    reason = ok ? '' : `did not play: ${why(r)}`;
  } else if (r.expect === 'play+changes') {
    const problem = played(r) ? pageChangesProblem(r) : `did not play: ${why(r)}`;
    ok = !problem;
    reason = problem;
  } else if (r.expect === 'fail') {
    // The difference dashpiff makes: the same stream must not play direct.
    ok = !played(r);
    reason = ok ? '' : `played although it should not: ${why(r)}`;
  } else {
    ok = true;  // recorded only
  }
  let saved = false;
  if (process.env.DASHPIFF_BROWSER_DEBUG) { await saveArtifacts(r); saved = true; }
  if (r.expect !== 'record') {
    if (ok) console.log(`PASS: ${r.name}`);
    else {
      console.log(`FAIL: ${r.name}: ${reason}`);
      if (!saved) { await saveArtifacts(r); saved = true; }
    }
  }
  if (r.via || r.must_request || r.must_not_request) {
    const problem = requestsProblem(r);
    if (problem) {
      console.log(`FAIL: ${r.name}.requests: ${problem}`);
      if (!saved) await saveArtifacts(r);
      ok = false;
    } else {
      console.log(`PASS: ${r.name}.requests`);
    }
  }
  return ok;
}

async function main() {
  const t0 = Date.now();
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dashpiff-chromium-'));
  let browser;
  try {
    browser = await chromium.launch({
      executablePath: plan.chromium,
      // Exactly the flags: Playwright's own defaults are left out, so
      // it needs the profile and the pipe it talks over named here.
      ignoreDefaultArgs: true,
      args: [...CHROMIUM_FLAGS, `--user-data-dir=${userDataDir}`, '--remote-debugging-pipe'],
      timeout: 30000,
    });
  } catch (e) {
    console.log(`FAIL: browser.launch: ${String(e.message || e).split('\n')[0]}`);
    process.exit(1);
  }
  console.log(`chromium ${browser.version()}, ${plan.cases.length} cases, ${concurrency} at a time`);

  const results = [];
  let failures = 0;
  let next = 0;
  async function worker() {
    const context = await browser.newContext({ viewport: { width: 480, height: 320 } });
    while (next < plan.cases.length) {
      const c = plan.cases[next++];
      const r = await runCase(context, c);
      if (!(await judge(r))) failures++;
      await r.page_obj.close().catch(() => {});
      delete r.page_obj;
      results.push(r);
    }
    await context.close();
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  await browser.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });

  // The table: what every case reached.
  results.sort((a, b) => plan.cases.indexOf(plan.cases.find((c) => c.name === a.name)) -
                         plan.cases.indexOf(plan.cases.find((c) => c.name === b.name)));
  const rows = results.map((r) => [r.stream, r.player, r.path, r.mode, r.expect,
    r.time.toFixed(2), String(r.frames), played(r) ? 'played' : 'no',
    r.errors.length ? r.errors[0].slice(0, 70) : '']);
  const head = ['stream', 'player', 'path', 'mode', 'expect', 'time', 'frames', 'result', 'first error'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const fmt = (row) => row.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd();
  console.log('');
  console.log(fmt(head));
  for (const row of rows) console.log(fmt(row));
  fs.writeFileSync(path.join(plan.artifacts, 'results.json'),
    JSON.stringify(results.map(({ log, snap, requests, ...rest }) => ({ ...rest, errors: rest.errors })), null, 1));
  console.log(`browser suite: ${results.length} cases in ${((Date.now() - t0) / 1000).toFixed(1)} s, ` +
              `${failures} assertion(s) failed`);
  process.exit(failures ? 1 : 0);
}

main().catch((e) => {
  console.log(`FAIL: browser.driver: ${String(e && e.stack || e).split('\n')[0]}`);
  process.exit(1);
});
