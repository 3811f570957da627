// Drives the real Frontdesk binary through tauri-driver + WebKitWebDriver (under Xvfb, set up
// by scripts/test-app.sh). Every app gets its own data, print and config directories and
// ports the OS picked; nothing waits on a fixed sleep, only on conditions.

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { remote } from 'webdriverio';

const here = dirname(fileURLToPath(import.meta.url));
export const ARTIFACTS = join(here, 'artifacts');
export const APP = process.env.FRONTDESK_APP_BIN;
/** 08:30 on Monday 2026-11-23 in Shanghai: the morning sessions are open. */
export const NOW = process.env.FRONTDESK_E2E_NOW ?? '2026-11-23T00:30:00Z';

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port, child, timeoutMs = 20000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`tauri-driver exited with ${child.exitCode}`);
    const ok = await new Promise((resolve) => {
      const s = connect(port, '127.0.0.1', () => { s.end(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`tauri-driver did not listen on ${port}`);
}

function processState(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return 'gone';
  }
}

/** `pid` and all its descendants (Linux /proc). */
/** A figure of /proc/PID/FILE in kB ("Pss", "Pss_Anon" of smaps_rollup, "VmRSS" of status); 0 when gone. */
export function kb(pid, file, key) {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/${file}`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** A process's name (/proc/PID/comm), "?" when it is gone. */
export function comm(pid) {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

export function processTree(pid) {
  const all = [pid];
  const byParent = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      byParent.set(ppid, [...(byParent.get(ppid) ?? []), Number(d)]);
    } catch {
      // The process ended meanwhile.
    }
  }
  for (let i = 0; i < all.length; i++) all.push(...(byParent.get(all[i]) ?? []));
  return all;
}

/** Fresh directories for one desk (reuse them to restart the same desk). */
export function desk(name) {
  const root = mkdtempSync(join(tmpdir(), `frontdesk-e2e-${name}-`));
  const dirs = { root, data: join(root, 'data'), print: join(root, 'print'), home: join(root, 'home') };
  for (const d of [dirs.data, dirs.print, dirs.home]) mkdirSync(d, { recursive: true });
  return dirs;
}

/**
 * Starts the app for `dirs` with the OS locale `locale` and its clock pinned at `now`
 * (default `NOW`); returns { browser, stop, pid }.
 */
export async function startApp(dirs, { locale = 'zh_CN.UTF-8', now = NOW } = {}) {
  if (!APP || !existsSync(APP)) throw new Error(`FRONTDESK_APP_BIN is not the built app: ${APP}`);
  const port = await freePort();
  const nativePort = await freePort();
  const env = {
    ...process.env,
    FRONTDESK_DATA_DIR: dirs.data,
    FRONTDESK_PRINT_DIR: dirs.print,
    FRONTDESK_NOW: now,
    LANG: locale,
    LC_ALL: locale,
    LANGUAGE: '',
    HOME: dirs.home,
    XDG_CONFIG_HOME: join(dirs.home, '.config'),
    XDG_DATA_HOME: join(dirs.home, '.local/share'),
    XDG_CACHE_HOME: join(dirs.home, '.cache'),
  };
  const driver = spawn('tauri-driver', ['--port', String(port), '--native-port', String(nativePort)], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  driver.stderr.on('data', (d) => { stderr += d; });
  try {
    await waitForPort(port, driver);
    // tauri-driver listens before the WebKitWebDriver it started does; a session request in
    // between fails with a closed socket.
    await waitForPort(nativePort, driver);
  } catch (e) {
    driver.kill('SIGKILL');
    throw new Error(`${e.message}\n${stderr}`);
  }
  const started = Date.now();
  const browser = await remote({
    hostname: '127.0.0.1',
    port,
    logLevel: 'warn',
    connectionRetryCount: 0,
    capabilities: { 'tauri:options': { application: APP } },
  });
  const stop = async () => {
    try {
      // The last state of every run, for when a step failed.
      await screenshot(browser, `last-${basename(dirs.root)}`);
    } catch {
      // No window left to take.
    }
    try {
      await browser.deleteSession();
    } catch {
      // The app may already be gone.
    }
    // The app (and its WebKit processes) must be gone before the next start: a second
    // instance would only hand over to it (single instance) and exit.
    const left = processTree(driver.pid).filter((p) => p !== driver.pid);
    driver.kill('SIGTERM');
    await new Promise((r) => (driver.exitCode !== null ? r() : driver.once('exit', r)));
    const until = Date.now() + 10000;
    for (;;) {
      const alive = left.filter((p) => existsSync(`/proc/${p}`) && processState(p) !== 'Z');
      if (alive.length === 0) break;
      if (Date.now() > until) {
        for (const p of alive) {
          try {
            process.kill(p, 'SIGKILL');
          } catch {
            // Ended meanwhile.
          }
        }
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { browser, stop, started, driverPid: driver.pid };
}

/**
 * Saves a screenshot of the window. The app draws without accelerated compositing, and then
 * WebKitWebDriver answers a screenshot only after the page paints again: a page at rest never
 * does, so while the screenshot is pending the page is asked to repaint (an invisible outline
 * toggled on the root element, removed afterwards) until it arrives or the deadline passes.
 */
export async function screenshot(browser, name, timeoutMs = 15000) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = join(ARTIFACTS, `${name}.png`);
  let done = false;
  const shot = browser.saveScreenshot(file).finally(() => { done = true; });
  const repaint = async () => {
    for (let i = 0; !done; i++) {
      await browser.execute((on) => { document.documentElement.style.outline = on ? '1px solid transparent' : ''; }, i % 2 === 0);
      await Promise.race([shot.catch(() => {}), new Promise((r) => setTimeout(r, 50))]);
    }
    await browser.execute(() => { document.documentElement.style.outline = ''; });
  };
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`screenshot ${name}: no paint within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([Promise.all([shot, repaint()]), deadline]);
  } finally {
    done = true;
    clearTimeout(timer);
  }
  return file;
}

/**
 * Types `payload` + Enter as fast as WebDriver can: a keyboard-wedge scanner. (WebKitWebDriver
 * drops the second of two identical keys sent back to back, so those get a 2 ms pause.)
 */
export async function scan(browser, payload) {
  const actions = [];
  let prev = '';
  for (const ch of [...payload.split(''), '\uE007']) {
    if (ch === prev) actions.push({ type: 'pause', duration: 2 });
    actions.push({ type: 'keyDown', value: ch }, { type: 'keyUp', value: ch });
    prev = ch;
  }
  await browser.performActions([{ type: 'key', id: 'scanner', actions }]);
  await browser.releaseActions();
}

/** Presses keys one at a time, like a person (the scanner detector must not fire). */
export async function press(browser, ...keys) {
  for (const k of keys) {
    await browser.keys([k]);
    await browser.pause(0);
  }
}

export async function waitText(browser, selector, predicate, timeout = 15000) {
  let last = '';
  await browser.waitUntil(
    async () => {
      const el = await browser.$(selector);
      if (!(await el.isExisting())) return false;
      last = await el.getText();
      return predicate(last);
    },
    { timeout, timeoutMsg: `${selector}: condition not met; last text: ${JSON.stringify(last)}` },
  );
  return last;
}

/**
 * Waits until `selector` is in the page and not inside a hidden part (the walk-in and check-in
 * screens and the walk-in's search and form stay in the page, hidden, when not shown).
 */
export async function waitFor(browser, selector, timeout = 15000) {
  await browser.waitUntil(
    () =>
      browser.execute((s) => {
        const el = document.querySelector(s);
        return el !== null && el.closest('[hidden]') === null;
      }, selector),
    { timeout, timeoutMsg: `element ("${selector}") still not shown after ${timeout}ms` },
  );
  return browser.$(selector);
}

/** From a fresh desk to the signed-in board: start the offline demo and sign in. */
export async function demoSignIn(browser, staff = 'nurse', password = 'nurse123') {
  const start = await waitFor(browser, '#start-demo, #staff-id', 30000);
  if ((await start.getAttribute('id')) === 'start-demo') {
    await browser.keys(['Enter']);
  }
  const id = await waitFor(browser, '#staff-id');
  await id.setValue(staff);
  await (await browser.$('#password')).setValue(password);
  await browser.keys(['Enter']);
  await waitFor(browser, '#board .dept');
}

/** A valid 18-digit resident ID (ISO 7064 MOD 11-2 check character). */
export function residentId(body17) {
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = body17.split('').reduce((s, c, i) => s + Number(c) * w[i], 0);
  return body17 + '10X98765432'[sum % 11];
}

/** Decodes the Code128 barcodes of a PDF (pdftoppm at 300 dpi, then zbarimg). */
export function decodeCode128(pdf) {
  const out = mkdtempSync(join(tmpdir(), 'frontdesk-e2e-decode-'));
  execFileSync('pdftoppm', ['-r', '300', '-png', pdf, join(out, 'page')]);
  const pngs = readdirSync(out).filter((f) => f.endsWith('.png')).map((f) => join(out, f));
  try {
    return execFileSync('zbarimg', ['-q', '--raw', '-Sdisable', '-Scode128.enable', ...pngs], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean);
  } catch (e) {
    if (e.status === 4) return [];
    throw e;
  }
}
