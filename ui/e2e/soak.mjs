// The memory soak of a scripted clinic day (not a test): the real app, enrolled at a real
// frontdesk-central, works through a compressed day — walk-ins registered, booked and checked in
// by scanning their tickets, patients called from the queue screen, the waiting-room display
// window open the whole time announcing, the background sync running throughout (and online
// bookings arriving from the platform) — split into equal parts ("hours"). After every part the
// app settles on the same screen and the PSS of the app and its WebKit processes is read
// (smaps_rollup, as measure.mjs does). The floor: an empty Tauri 2 window (tools/empty-window)
// started and measured the same way, before and after the day.
//
//   FRONTDESK_APP_BIN=… FRONTDESK_CENTRAL_BIN=… FRONTDESK_FLOOR_BIN=… DISPLAY=… node e2e/soak.mjs \
//     [--walkins 600] [--calls 600] [--parts 8] [--settle-ms 5000] [--rest board|queue]
//     [--display on|off] [--online-every 4] [--lag 4] [--out FILE.md]
//
// scripts/soak.sh builds everything and runs this under a private Xvfb. Every wait has a
// deadline; every process started here is stopped at the end, also on failure.

import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus, loadavg, totalmem } from 'node:os';
import { remote } from 'webdriverio';
import { ARTIFACTS, NOW, comm, desk, freePort, kb, press, processTree, residentId, scan, screenshot, startApp, waitFor, waitForPort, waitText } from './harness.mjs';
import { enrollDesk, startCentral } from './central.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');

// ---------------------------------------------------------------------------------------------
// Options

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const WALKINS = Number(option('walkins', 600));
const CALLS = Number(option('calls', 600));
const PARTS = Number(option('parts', 8));
const SETTLE_MS = Number(option('settle-ms', 5000));
const REST = option('rest', 'board'); // the screen the desk rests on while measured
const DISPLAY_ON = option('display', 'on') === 'on';
const ONLINE_EVERY = Number(option('online-every', 4)); // one online booking per N walk-ins (0: none)
const LAG = Number(option('lag', 4)); // calls start once this many of the part's patients wait
// After each call, wait until the display window has started announcing it (a real day's calls
// are minutes apart, so every one is heard; without the wait a compressed day's calls would
// replace each other before the display's next poll).
const ANNOUNCE_WAIT = option('announce', 'wait') === 'wait';
const OUT = option('out', join(ARTIFACTS, `soak-${new Date().toISOString().replace(/[:.]/g, '-')}.md`));
const FLOOR = process.env.FRONTDESK_FLOOR_BIN;
const STEP_TIMEOUT = 20000;

if (WALKINS % PARTS !== 0 || CALLS % PARTS !== 0) throw new Error('walk-ins and calls must split into equal parts');
if (CALLS > WALKINS) throw new Error('every call needs a checked-in patient');
if (!['board', 'queue'].includes(REST)) throw new Error('--rest board|queue');
if (!process.env.FRONTDESK_CENTRAL_BIN) throw new Error('FRONTDESK_CENTRAL_BIN names frontdesk-central');

mkdirSync(ARTIFACTS, { recursive: true });
const log = (...a) => {
  const line = `[${new Date().toISOString().slice(11, 19)}] ${a.join(' ')}`;
  console.log(line);
};
const jsonl = OUT.replace(/\.md$/, '') + '.jsonl';
const record = (o) => appendFileSync(jsonl, `${JSON.stringify(o)}\n`);

// ---------------------------------------------------------------------------------------------
// Memory: PSS of the app (or the floor) and its WebKit helper processes, from smaps_rollup.

function startTime(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  } catch {
    return Infinity;
  }
}
const HELPERS = ['WebKitWebProces', 'WebKitNetworkPr', 'WebKitGPUProces'];

/**
 * One reading: each process of the app's tree (the app binary and the WebKit helpers, not
 * WebKitWebDriver) with its PSS, anonymous PSS and RSS in kB. Web processes are named in the
 * order they started: the first is the main window's, the second the display window's.
 */
function readMemory(driverPid, appComm) {
  const procs = processTree(driverPid).filter((p) => comm(p) === appComm || HELPERS.includes(comm(p)));
  procs.sort((a, b) => startTime(a) - startTime(b));
  let web = 0;
  return procs.map((pid) => {
    const c = comm(pid);
    let name = c === appComm ? 'app' : c === 'WebKitNetworkPr' ? 'network' : c === 'WebKitGPUProces' ? 'gpu' : '';
    if (c === 'WebKitWebProces') {
      web += 1;
      name = web === 1 ? 'web:main' : web === 2 ? 'web:display' : `web:${web}`;
    }
    return { name, pid, pss: kb(pid, 'smaps_rollup', 'Pss'), anon: kb(pid, 'smaps_rollup', 'Pss_Anon'), rss: kb(pid, 'status', 'VmRSS') };
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Three readings a second apart after the settle time; per process the median of each figure. */
async function measure(driverPid, appComm) {
  await sleep(SETTLE_MS);
  const samples = [];
  for (let i = 0; i < 3; i++) {
    if (i > 0) await sleep(1000);
    samples.push(readMemory(driverPid, appComm));
  }
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const names = [...new Set(samples.flat().map((p) => p.name))];
  const procs = names.map((name) => {
    const of = samples.map((s) => s.find((p) => p.name === name)).filter(Boolean);
    return { name, pid: of[0].pid, pss: med(of.map((p) => p.pss)), anon: med(of.map((p) => p.anon)), rss: med(of.map((p) => p.rss)) };
  });
  const totals = samples.map((s) => s.reduce((n, p) => n + p.pss, 0));
  return { procs, totalPss: med(totals), totalSamples: totals };
}

const mb = (kbs) => (kbs / 1024).toFixed(1);

// ---------------------------------------------------------------------------------------------
// The floor: tools/empty-window, started through tauri-driver exactly as the harness starts the
// app, with the app's tuned environment (src-tauri/src/launch.rs, read from the source so the
// two never drift apart).

function tunedEnvironment() {
  const src = readFileSync(join(repo, 'src-tauri/src/launch.rs'), 'utf8');
  const table = src.slice(src.indexOf('pub const TUNING'), src.indexOf('];', src.indexOf('pub const TUNING')));
  const env = {};
  for (const m of table.matchAll(/\(\s*"([A-Z_a-z]+)"\s*,\s*"([^"]*)"\s*\)/g)) env[m[1]] = m[2];
  if (Object.keys(env).length === 0) throw new Error('no TUNING table found in src-tauri/src/launch.rs');
  return env;
}

async function startFloor(dirs, windows) {
  if (!FLOOR || !existsSync(FLOOR)) throw new Error(`FRONTDESK_FLOOR_BIN is not the built empty window: ${FLOOR}`);
  const port = await freePort();
  const nativePort = await freePort();
  const env = {
    ...process.env,
    ...tunedEnvironment(),
    FRONTDESK_EMPTY_WINDOWS: String(windows),
    LANG: 'zh_CN.UTF-8',
    LC_ALL: 'zh_CN.UTF-8',
    LANGUAGE: '',
    HOME: dirs.home,
    XDG_CONFIG_HOME: join(dirs.home, '.config'),
    XDG_DATA_HOME: join(dirs.home, '.local/share'),
    XDG_CACHE_HOME: join(dirs.home, '.cache'),
  };
  const driver = spawn('tauri-driver', ['--port', String(port), '--native-port', String(nativePort)], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  driver.stderr.on('data', (d) => { stderr += d; });
  const stop = async (browser) => {
    try {
      await browser?.deleteSession();
    } catch {
      // Gone already.
    }
    const left = processTree(driver.pid).filter((p) => p !== driver.pid);
    driver.kill('SIGTERM');
    if (driver.exitCode === null) await Promise.race([new Promise((r) => driver.once('exit', r)), sleep(10000)]);
    const until = Date.now() + 10000;
    while (left.some((p) => existsSync(`/proc/${p}`)) && Date.now() < until) await sleep(20);
    for (const p of left.filter((q) => existsSync(`/proc/${q}`))) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // Ended meanwhile.
      }
    }
  };
  try {
    // As the harness: tauri-driver listens before the WebKitWebDriver it started does.
    await waitForPort(port, driver);
    await waitForPort(nativePort, driver);
  } catch (e) {
    await stop();
    throw new Error(`${e.message}\n${stderr}`);
  }
  let browser;
  try {
    browser = await remote({
      hostname: '127.0.0.1',
      port,
      logLevel: 'warn',
      connectionRetryCount: 0,
      capabilities: { 'tauri:options': { application: FLOOR } },
    });
    await waitFor(browser, '#empty', 30000);
    await browser.waitUntil(async () => (await browser.getWindowHandles()).length === windows, { timeout: 30000, timeoutMsg: `${windows} empty windows open` });
    for (const h of await browser.getWindowHandles()) {
      await browser.switchToWindow(h);
      await waitFor(browser, '#empty', 30000);
    }
  } catch (e) {
    await stop(browser);
    throw e;
  }
  return { browser, driverPid: driver.pid, stop: () => stop(browser) };
}

async function measureFloor(label, windows) {
  if (!FLOOR) {
    log(`floor (${label}): skipped, FRONTDESK_FLOOR_BIN is not set`);
    return null;
  }
  const dirs = desk('soak-floor');
  const floor = await startFloor(dirs, windows);
  try {
    const m = { label, windows, ...(await measure(floor.driverPid, basename(FLOOR).slice(0, 15))) };
    log(`floor (${label}, ${windows} window${windows > 1 ? 's' : ''}): ${mb(m.totalPss)} MB PSS`, m.procs.map((p) => `${p.name} ${mb(p.pss)}`).join(', '));
    record({ kind: 'floor', ...m });
    return m;
  } finally {
    await floor.stop();
    rmSync(dirs.root, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// The site: two departments with the demo's voice clips (NK, WK), two doctors each, one morning
// session per doctor on the pinned day (08:00–12:00, hourly slots of 100 numbers, 80 of them the
// desk's) — 1,280 desk numbers, enough for the day's walk-ins; the clock stays at 08:30.

const SITE = 'soak';
const DEPARTMENTS = [
  { id: 'soak-nk', code: 'NK', name: '内科', name_en: 'Internal Medicine' },
  { id: 'soak-wk', code: 'WK', name: '外科', name_en: 'Surgery' },
];
const PROVIDERS = [
  { id: 'soak-nk-1', department_id: 'soak-nk', name: '林志明', title: '主任医师', fee_fen: 5000, room: 1 },
  { id: 'soak-nk-2', department_id: 'soak-nk', name: '周雅琴', title: '主治医师', fee_fen: 2000, room: 2 },
  { id: 'soak-wk-1', department_id: 'soak-wk', name: '郑国华', title: '副主任医师', fee_fen: 3000, room: 3 },
  { id: 'soak-wk-2', department_id: 'soak-wk', name: '何晓东', title: '主治医师', fee_fen: 2000, room: 4 },
];
const DAY = new Date(NOW).toLocaleDateString('sv-SE', { timeZone: 'Asia/Shanghai' });

async function setUpSite(central) {
  await central.admin('POST', '/v1/admin/sites', { id: SITE, name: '城西社区卫生服务中心', timezone: 'Asia/Shanghai' });
  for (const d of DEPARTMENTS) await central.admin('POST', `/v1/admin/sites/${SITE}/departments`, { ...d, site_id: SITE });
  for (const p of PROVIDERS) {
    const { room, ...provider } = p;
    await central.admin('POST', `/v1/admin/sites/${SITE}/providers`, { ...provider, site_id: SITE });
    await central.admin('POST', `/v1/admin/sites/${SITE}/sessions/generate`, {
      provider_id: p.id,
      from: DAY,
      days: 1,
      templates: [{ weekdays: [1, 2, 3, 4, 5, 6, 7], period: 'morning', start: '08:00', end: '12:00', slot_minutes: 60, per_slot: 100, desk_per_slot: 80, room }],
    });
  }
  const code = await central.admin('POST', `/v1/admin/sites/${SITE}/enroll-codes`, { ttl_hours: 24 });
  return code.code;
}

// ---------------------------------------------------------------------------------------------
// Patients

const SURNAMES = ['王', '李', '张', '刘', '陈', '杨', '黄', '赵', '吴', '周', '徐', '孙', '马', '朱', '胡', '郭', '何', '高', '林', '罗'];
const GIVEN = ['伟', '芳', '娜', '秀英', '敏', '静', '丽', '强', '磊', '军', '洋', '勇', '艳', '杰', '娟', '涛', '明', '超', '秀兰', '霞', '平', '刚', '桂英'];

/** The n-th walk-in's resident ID (Beijing Dongcheng, born 1950 onwards, one day apart per 23). */
function walkInId(n) {
  const born = new Date(Date.UTC(1950, 0, 1) + n * 23 * 86400000);
  const ymd = born.toISOString().slice(0, 10).replace(/-/g, '');
  return residentId(`110101${ymd}${String(100 + (n % 900)).padStart(3, '0')}`);
}
const walkInName = (n) => `${SURNAMES[n % SURNAMES.length]}${GIVEN[Math.floor(n / SURNAMES.length) % GIVEN.length]}`;

/** An online booking from the platform's public API (Shanghai Huangpu IDs, never the desk's). */
async function bookOnline(central, n) {
  const born = new Date(Date.UTC(1960, 0, 1) + n * 17 * 86400000);
  const ymd = born.toISOString().slice(0, 10).replace(/-/g, '');
  const body = {
    patient: { name: `${SURNAMES[(n + 7) % SURNAMES.length]}${GIVEN[(n * 5) % GIVEN.length]}`, document_kind: null, document_number: residentId(`310101${ymd}${String(200 + (n % 700)).padStart(3, '0')}`), phone: `139${String(n).padStart(8, '0')}` },
    slot_id: null,
    department: DEPARTMENTS[n % DEPARTMENTS.length].code,
    date: DAY,
  };
  const resp = await fetch(`${central.url}/v1/public/sites/${SITE}/bookings`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(15000),
  });
  return resp.status === 201;
}

// ---------------------------------------------------------------------------------------------
// The day

const machine = {
  nproc: execFileSync('nproc', { encoding: 'utf8' }).trim(),
  cpu: cpus()[0]?.model ?? '?',
  memGb: (totalmem() / 2 ** 30).toFixed(1),
  kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
  webkit: (() => {
    try {
      return execFileSync('dpkg-query', ['-W', '-f', '${Version}', 'libwebkit2gtk-4.1-0'], { encoding: 'utf8' }).trim();
    } catch {
      return '?';
    }
  })(),
};
const command = `FRONTDESK_APP_BIN=${process.env.FRONTDESK_APP_BIN} FRONTDESK_CENTRAL_BIN=${process.env.FRONTDESK_CENTRAL_BIN} FRONTDESK_FLOOR_BIN=${FLOOR} node e2e/soak.mjs ${process.argv.slice(2).join(' ')}`.trim();
log(`soak: ${WALKINS} walk-ins, ${CALLS} calls in ${PARTS} parts; display ${DISPLAY_ON ? 'open' : 'closed'}; rests on ${REST}; settle ${SETTLE_MS} ms`);
log(`machine: ${machine.nproc} CPUs (${machine.cpu}), ${machine.memGb} GB, kernel ${machine.kernel}, WebKitGTK ${machine.webkit}`);
writeFileSync(jsonl, '');
record({ kind: 'start', machine, command, walkins: WALKINS, calls: CALLS, parts: PARTS, settleMs: SETTLE_MS, rest: REST, display: DISPLAY_ON, onlineEvery: ONLINE_EVERY, lag: LAG, announceWait: ANNOUNCE_WAIT, now: NOW });

const floors = [];
const rows = [];

const cleanups = [];
let failed = null;
let printedSummary = '';
const t0 = Date.now();

try {
  // The floor: one empty window, and — with the display open, the app has two windows — two.
  const FLOOR_SHAPES = DISPLAY_ON ? [1, 2] : [1];
  for (const w of FLOOR_SHAPES) {
    const f = await measureFloor('before the day', w);
    if (f) floors.push(f);
  }

  const dirs = desk('soak');
  cleanups.push(() => rmSync(dirs.root, { recursive: true, force: true }));
  const central = await startCentral(dirs.root);
  cleanups.unshift(() => central.stop());
  const code = await setUpSite(central);
  const app = await startApp(dirs);
  cleanups.unshift(() => app.stop());
  const { browser } = app;
  await enrollDesk(browser, central.url, code);
  const main = await browser.getWindowHandle();

  let walkIns = 0;
  let calls = 0;
  let online = 0;
  let checkedIn = 0;
  let lastTicket = '';
  let screen = 'board';

  // The display window, opened from the queue screen (O) and left open all day.
  let display = null;
  if (DISPLAY_ON) {
    await press(browser, 'F7');
    await waitFor(browser, '#queue');
    screen = 'queue';
    await press(browser, 'o');
    await browser.waitUntil(async () => (await browser.getWindowHandles()).length === 2, { timeout: 20000, timeoutMsg: 'the display window opens' });
    display = (await browser.getWindowHandles()).find((h) => h !== main);
    await browser.switchToWindow(display);
    await waitFor(browser, '#display', 20000);
    await browser.switchToWindow(main);
  }

  async function displayState() {
    if (!display) return null;
    await browser.switchToWindow(display);
    try {
      return await browser.execute(() => {
        const d = document.getElementById('display');
        const a = document.getElementById('announcement');
        return {
          played: Number(d?.dataset.played ?? 0),
          rooms: Number(d?.dataset.rooms ?? 0),
          called: [...document.querySelectorAll('.room-card')].map((c) => c.getAttribute('data-called')).join(','),
          last: a?.getAttribute('data-key') ?? null,
          error: a?.querySelector('.muted')?.textContent ?? null,
          nodes: document.getElementsByTagName('*').length,
        };
      });
    } finally {
      await browser.switchToWindow(main);
    }
  }

  async function rest() {
    if (REST === 'board') {
      await press(browser, 'F1');
      await waitFor(browser, '#board .dept');
      screen = 'board';
    } else {
      await press(browser, 'F7');
      await waitFor(browser, '#queue');
      screen = 'queue';
    }
  }

  async function measurePhase(phase) {
    await rest();
    const m = await measure(app.driverPid, 'frontdesk-app');
    const net = await (await browser.$('#net-status')).getText();
    const mainNodes = await browser.execute(() => document.getElementsByTagName('*').length);
    const shown = await displayState();
    const row = { phase, walkIns, calls, online, elapsedS: Math.round((Date.now() - t0) / 1000), ...m, net, mainNodes, display: shown, load: loadavg()[0].toFixed(2) };
    rows.push(row);
    record({ kind: 'phase', ...row });
    log(`${phase}: ${walkIns} walk-ins, ${calls} calls, ${online} online; ${mb(m.totalPss)} MB PSS (${m.procs.map((p) => `${p.name} ${mb(p.pss)}`).join(', ')}); ${net}; display ${JSON.stringify(shown)}`);
  }

  /** One walk-in: scanned ID → new-patient form → department and doctor → booked → ticket scanned to check in. */
  async function walkIn(n) {
    const id = walkInId(n);
    const dept = n % DEPARTMENTS.length;
    const doctor = Math.floor(n / DEPARTMENTS.length) % 2;
    await scan(browser, id);
    const name = await waitFor(browser, '#pf-name', STEP_TIMEOUT);
    await name.setValue(walkInName(n));
    await browser.keys(['Enter']);
    await waitFor(browser, '#departments', STEP_TIMEOUT);
    const code = DEPARTMENTS[dept].code;
    const index = await browser.execute((c) => [...document.querySelectorAll('#departments li button')].findIndex((b) => b.dataset.code === c), code);
    if (index < 0) throw new Error(`department ${code} is not offered`);
    await press(browser, String(index + 1));
    await waitFor(browser, `#departments li:nth-child(${index + 1}).active`, STEP_TIMEOUT);
    await waitFor(browser, '#slot-options li.active', STEP_TIMEOUT);
    // The doctor: the nurse moves to the one wanted (↓) when the suggestion is the other one.
    const want = PROVIDERS.filter((p) => p.department_id === DEPARTMENTS[dept].id)[doctor].name;
    const offered = await browser.execute(() => [...document.querySelectorAll('#slot-options li b')].map((b) => b.textContent));
    const at = offered.indexOf(want);
    for (let k = 1; k <= at; k++) {
      await press(browser, 'ArrowDown');
      await waitFor(browser, `#slot-options li:nth-child(${k + 1}).active`, STEP_TIMEOUT);
    }
    await browser.keys(['Enter']);
    const ticket = await waitText(browser, '#ticket-code', (s) => /^FD/.test(s) && s !== lastTicket, STEP_TIMEOUT);
    lastTicket = ticket;
    walkIns += 1;
    await scan(browser, ticket);
    await waitFor(browser, `#checkins tr[data-ticket="${ticket}"]`, STEP_TIMEOUT);
    checkedIn += 1;
    screen = 'checkin';
  }

  /** The waiting counts of the queue screen's session list: { session: waiting }. */
  const waitingBySession = () =>
    browser.execute(() =>
      Object.fromEntries(
        [...document.querySelectorAll('.queue-sessions button')].map((b) => {
          const smalls = b.querySelectorAll('small');
          const m = /(\d+)\s*$/.exec(smalls[smalls.length - 1]?.textContent ?? '');
          return [b.dataset.session, m ? Number(m[1]) : 0];
        }),
      ),
    );

  /** One call: F7, the session where most wait, N; the called number changes and one fewer waits. */
  async function call() {
    if (screen !== 'queue') {
      await press(browser, 'F7');
      await waitFor(browser, '#queue', STEP_TIMEOUT);
      screen = 'queue';
    }
    const waiting = checkedIn - calls;
    let counts = {};
    await browser.waitUntil(
      async () => {
        counts = await waitingBySession();
        return Object.values(counts).reduce((a, b) => a + b, 0) === waiting;
      },
      { timeout: STEP_TIMEOUT, timeoutMsg: `the queue screen shows ${waiting} waiting: ${JSON.stringify(counts)}` },
    );
    const ids = Object.keys(counts);
    const target = ids.reduce((a, b) => (counts[b] > counts[a] ? b : a));
    // The room is picked in the session list (a click: WebKitWebDriver drops a repeated
    // arrow key, so → twice in a row would move once).
    const current = await (await browser.$('#queue-panel')).getAttribute('data-session');
    if (current !== target) await (await browser.$(`.queue-sessions button[data-session="${target}"]`)).click();
    await waitFor(browser, `#queue-panel[data-session="${target}"]`, STEP_TIMEOUT);
    const before = await (await browser.$('#queue-called')).getAttribute('data-queue-no');
    await press(browser, 'n');
    await browser.waitUntil(
      async () => {
        const now = await (await browser.$('#queue-called')).getAttribute('data-queue-no');
        if (now === before || now === '') return false;
        const c = await waitingBySession();
        return c[target] === counts[target] - 1;
      },
      { timeout: STEP_TIMEOUT, timeoutMsg: `call next in ${target}: the called number stays ${before}` },
    );
    calls += 1;
    if (display && ANNOUNCE_WAIT) {
      await browser.switchToWindow(display);
      try {
        await browser.waitUntil(async () => Number(await (await browser.$('#display')).getAttribute('data-played')) >= calls, {
          timeout: 30000,
          timeoutMsg: `the display announces call ${calls}`,
        });
      } finally {
        await browser.switchToWindow(main);
      }
    }
  }

  await measurePhase('start');
  const perPartWalkIns = WALKINS / PARTS;
  const perPartCalls = CALLS / PARTS;
  for (let part = 1; part <= PARTS; part++) {
    const partStart = Date.now();
    let partCalls = 0;
    for (let j = 0; j < perPartWalkIns; j++) {
      const n = walkIns;
      await walkIn(n);
      if (ONLINE_EVERY > 0 && n % ONLINE_EVERY === ONLINE_EVERY - 1 && (await bookOnline(central, n))) online += 1;
      // Calls follow the check-ins at a short distance: the waiting room is never empty for long.
      const left = perPartCalls - partCalls;
      const walkInsLeft = perPartWalkIns - j - 1;
      if (left > 0 && (j >= LAG || left > walkInsLeft) && checkedIn > calls) {
        await call();
        partCalls += 1;
      }
    }
    while (partCalls < perPartCalls) {
      await call();
      partCalls += 1;
    }
    log(`part ${part}: ${perPartWalkIns} walk-ins and ${perPartCalls} calls in ${((Date.now() - partStart) / 1000).toFixed(0)} s`);
    await measurePhase(`hour ${part}`);
  }

  await screenshot(browser, 'soak-desk').catch(() => {});
  if (display) {
    await browser.switchToWindow(display);
    await screenshot(browser, 'soak-display').catch(() => {});
    await browser.switchToWindow(main);
  }
  const devices = await central.admin('GET', `/v1/admin/devices?site=${SITE}`).catch((e) => String(e));
  record({ kind: 'devices', devices });
  log(`platform's view of the desk: ${JSON.stringify(devices)}`);
  const pdfs = readdirSync(dirs.print).filter((f) => f.endsWith('.pdf'));
  const reprints = pdfs.filter((f) => /-\d+\.pdf$/.test(f));
  log(`ticket PDFs: ${pdfs.length} (${reprints.length} of them second prints of a ticket: ${reprints.join(' ')})`);
  record({ kind: 'printed', printed: pdfs.length, reprints });
  printedSummary = `${pdfs.length} ticket PDFs (${reprints.length} of them a second print of a ticket already printed)`;
  for (const c of cleanups.splice(0)) await c();

  for (const w of DISPLAY_ON ? [1, 2] : [1]) {
    const f = await measureFloor('after the day', w);
    if (f) floors.push(f);
  }
} catch (e) {
  failed = e;
  console.error(e);
} finally {
  for (const c of cleanups.splice(0)) {
    try {
      await c();
    } catch (e) {
      console.error('cleanup:', e);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The report

const names = ['app', 'web:main', 'web:display', 'network'];
const extra = [...new Set(rows.flatMap((r) => r.procs.map((p) => p.name)))].filter((n) => !names.includes(n));
const cols = [...names, ...extra];
const pssOf = (r, n) => {
  const p = r.procs.find((q) => q.name === n);
  return p ? mb(p.pss) : '–';
};
const anonOf = (r, n) => {
  const p = r.procs.find((q) => q.name === n);
  return p ? mb(p.anon) : '–';
};
const hour1 = rows.find((r) => r.phase === 'hour 1');
const last = rows.find((r) => r.phase === `hour ${PARTS}`);
const growth = hour1 && last ? ((last.totalPss - hour1.totalPss) / hour1.totalPss) * 100 : NaN;
/** The mean PSS of the floor's readings with `w` windows (before and after the day). */
const floorOf = (w) => {
  const of = floors.filter((f) => f.windows === w);
  return of.length ? of.reduce((n, f) => n + f.totalPss, 0) / of.length : NaN;
};
const floorPss = floorOf(1);
const overFloor = last ? (last.totalPss - floorPss) / 1024 : NaN;
const floor2Pss = floorOf(2);
const overFloor2 = last ? (last.totalPss - floor2Pss) / 1024 : NaN;
const lines = [];
lines.push(`## Memory soak: a scripted clinic day (${new Date().toISOString().slice(0, 16)} UTC)`);
lines.push('');
lines.push(`Machine: ${machine.nproc} CPUs (${machine.cpu}), ${machine.memGb} GB RAM, Linux ${machine.kernel}, WebKitGTK ${machine.webkit}; Xvfb 1366×768×24; clock pinned at ${NOW}.`);
lines.push(`Command: \`${command}\` (from \`ui/\`; \`scripts/soak.sh\` builds and runs it).`);
lines.push(`Work: ${WALKINS} walk-ins (new patients: scanned ID, name typed, department and doctor, booked, ticket PDF, ticket scanned to check in), ${CALLS} calls (queue screen, N), ${ONLINE_EVERY > 0 ? `an online booking from the platform every ${ONLINE_EVERY} walk-ins, ` : ''}display window ${DISPLAY_ON ? `open all day${ANNOUNCE_WAIT ? ', each call announced before the next is made' : ''}` : 'closed'}; ${PARTS} equal parts. Measured on the ${REST === 'board' ? 'board (F1)' : 'queue screen (F7)'} after ${SETTLE_MS / 1000} s of rest, median of 3 readings 1 s apart; PSS from /proc/PID/smaps_rollup.`);
lines.push('');
lines.push(`| phase | walk-ins | calls | online | elapsed (s) | ${cols.join(' | ')} | **total PSS (MB)** | display played |`);
lines.push(`| --- | --- | --- | --- | --- | ${cols.map(() => '---').join(' | ')} | --- | --- |`);
for (const r of rows) {
  lines.push(`| ${r.phase} | ${r.walkIns} | ${r.calls} | ${r.online} | ${r.elapsedS} | ${cols.map((n) => pssOf(r, n)).join(' | ')} | **${mb(r.totalPss)}** | ${r.display?.played ?? '–'} |`);
}
for (const f of floors) {
  lines.push(`| floor: ${f.windows === 1 ? 'an empty Tauri 2 window' : `${f.windows} empty Tauri 2 windows`} (${f.label}) | | | | | ${cols.map((n) => pssOf(f, n)).join(' | ')} | **${mb(f.totalPss)}** | |`);
}
lines.push('');
lines.push(`Anonymous PSS (Pss_Anon, MB) — heap and other private memory: ${rows.map((r) => `${r.phase}: ${cols.map((n) => `${n} ${anonOf(r, n)}`).join(', ')}`).join('; ')}.`);
lines.push('');
lines.push(`- growth hour 1 → hour ${PARTS}: **${Number.isFinite(growth) ? growth.toFixed(1) : '–'} %** (${hour1 ? mb(hour1.totalPss) : '–'} → ${last ? mb(last.totalPss) : '–'} MB; target ≤ 5 %: ${growth <= 5 ? 'met' : 'NOT met'})`);
lines.push(`- app − floor (one empty window) after hour ${PARTS}: **${Number.isFinite(overFloor) ? overFloor.toFixed(1) : '–'} MB** (floor ${Number.isFinite(floorPss) ? mb(floorPss) : '–'} MB, the mean of its readings before and after the day; target ≤ 60 MB: ${overFloor <= 60 ? 'met' : 'NOT met'})`);
if (Number.isFinite(floor2Pss)) {
  lines.push(`- app with its display window − floor of two empty windows (the same shape: two web views, two web processes) after hour ${PARTS}: **${Number.isFinite(overFloor2) ? overFloor2.toFixed(1) : '–'} MB** (floor ${mb(floor2Pss)} MB; ≤ 60 MB: ${overFloor2 <= 60 ? 'met' : 'NOT met'})`);
}
if (printedSummary) lines.push(`- printed: ${printedSummary}`);
if (failed) lines.push(`- **the run failed**: ${failed.message ?? failed}`);
const report = lines.join('\n');
console.log(`\n${report}`);
writeFileSync(OUT, `${report}\n`);
log(`report: ${OUT}; readings: ${jsonl}`);
process.exit(failed ? 1 : 0);
