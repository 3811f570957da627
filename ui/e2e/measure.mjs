// Measures the real app (not a test): cold start to a usable screen, memory after a series
// of bookings, and the machine time of the returning- and new-patient flows.
//   FRONTDESK_APP_BIN=… DISPLAY=… node e2e/measure.mjs [runs]
// Prints a Markdown table; docs/APP.md records the figures and how they were taken.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { comm, demoSignIn, desk, kb, press, processTree, residentId, scan, startApp, waitFor, waitText } from './harness.mjs';

const runs = Number(process.argv[2] ?? 5);

/** RSS of the app process, and PSS of the app with its WebKit helper processes. */
function memory(driverPid) {
  const procs = processTree(driverPid).filter((p) => ['frontdesk-app', 'WebKitWebProces', 'WebKitNetworkPr', 'WebKitGPUProces'].includes(comm(p)));
  const app = procs.find((p) => comm(p) === 'frontdesk-app');
  return {
    appRssMb: app ? kb(app, 'status', 'VmRSS') / 1024 : NaN,
    totalPssMb: procs.reduce((n, p) => n + kb(p, 'smaps_rollup', 'Pss'), 0) / 1024,
    totalRssMb: procs.reduce((n, p) => n + kb(p, 'status', 'VmRSS'), 0) / 1024,
    processes: procs.map(comm),
    pssMb: Object.fromEntries(procs.map((p) => [comm(p), Math.round(kb(p, 'smaps_rollup', 'Pss') / 1024)])),
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// 1. Cold start: launch → sign-in screen; sign-in → board (a desk already set up).
const dirs = desk('measure');
{
  const first = await startApp(dirs);
  await demoSignIn(first.browser);
  await first.stop();
}
const toSignIn = [];
const toBoard = [];
for (let i = 0; i < runs; i++) {
  const t0 = Date.now();
  const app = await startApp(dirs);
  await waitFor(app.browser, '#staff-id', 30000);
  toSignIn.push(Date.now() - t0);
  await (await app.browser.$('#staff-id')).setValue('nurse');
  await (await app.browser.$('#password')).setValue('nurse123');
  const t1 = Date.now();
  await app.browser.keys(['Enter']);
  await waitFor(app.browser, '#board .dept');
  toBoard.push(Date.now() - t1);
  await app.stop();
}

// 2. Bookings through the UI, then memory; 3. flow timings.
const app = await startApp(dirs);
const { browser } = app;
await demoSignIn(browser);
const memStart = memory(app.driverPid);
const newPatient = [];
const returning = [];
const ids = [];
const N = 20;
for (let i = 0; i < N; i++) {
  const id = residentId(`1101011990${String(1 + (i % 12)).padStart(2, '0')}${String(10 + i).padStart(2, '0')}${String(100 + i).slice(-3)}`);
  ids.push(id);
  const t0 = Date.now();
  await scan(browser, id);
  await waitFor(browser, '#pf-name');
  await (await browser.$('#pf-name')).setValue(`测试${String.fromCharCode(0x4e00 + i)}`);
  await browser.keys(['Enter']);
  await waitFor(browser, '#departments');
  await press(browser, String(1 + (i % 5)));
  await waitFor(browser, `#departments li:nth-child(${1 + (i % 5)}).active`);
  await waitFor(browser, '#slot-options li.active');
  await browser.keys(['Enter']);
  const code = await waitText(browser, '#ticket-code', (s) => /^FD/.test(s));
  const pdf = join(dirs.print, `ticket-${code}.pdf`);
  await browser.waitUntil(async () => existsSync(pdf));
  newPatient.push(Date.now() - t0);
  await browser.keys(['Enter']);
  await waitFor(browser, '#find');
}
for (let i = 0; i < 10; i++) {
  // Returning: the same patients again, another department (one per department and day).
  const t0 = Date.now();
  await scan(browser, ids[i]);
  await waitFor(browser, '#chosen-patient');
  const dept = 1 + ((i + 1) % 5);
  await press(browser, String(dept));
  await waitFor(browser, `#departments li:nth-child(${dept}).active`);
  await waitFor(browser, '#slot-options li.active');
  await browser.keys(['Enter']);
  const code = await waitText(browser, '#ticket-code', (s) => /^FD/.test(s));
  await browser.waitUntil(async () => existsSync(join(dirs.print, `ticket-${code}.pdf`)));
  returning.push(Date.now() - t0);
  await browser.keys(['Enter']);
  await waitFor(browser, '#find');
}
const memEnd = memory(app.driverPid);
await app.stop();

const fmt = (x) => (Number.isFinite(x) ? x.toFixed(0) : '–');
console.log(JSON.stringify({ toSignIn, toBoard, newPatient, returning, memStart, memEnd }));
console.log(`
| measure | median | min | max |
| --- | --- | --- | --- |
| launch → sign-in screen usable (ms, ${runs} runs) | ${median(toSignIn)} | ${Math.min(...toSignIn)} | ${Math.max(...toSignIn)} |
| sign-in (Enter) → board shown (ms) | ${median(toBoard)} | ${Math.min(...toBoard)} | ${Math.max(...toBoard)} |
| new patient: scan → ticket PDF written (ms, ${newPatient.length}) | ${median(newPatient)} | ${Math.min(...newPatient)} | ${Math.max(...newPatient)} |
| returning patient: scan → ticket PDF written (ms, ${returning.length}) | ${median(returning)} | ${Math.min(...returning)} | ${Math.max(...returning)} |

| memory | after sign-in | after ${N + 10} bookings |
| --- | --- | --- |
| app process RSS (MB) | ${fmt(memStart.appRssMb)} | ${fmt(memEnd.appRssMb)} |
| app + WebKit processes, PSS (MB) | ${fmt(memStart.totalPssMb)} | ${fmt(memEnd.totalPssMb)} |
| app + WebKit processes, RSS sum (MB) | ${fmt(memStart.totalRssMb)} | ${fmt(memEnd.totalRssMb)} |
processes: ${memEnd.processes.join(', ')}
PSS by process (MB), after sign-in: ${JSON.stringify(memStart.pssMb)}; after the bookings: ${JSON.stringify(memEnd.pssMb)}`);
