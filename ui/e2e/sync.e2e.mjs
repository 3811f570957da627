// With a real platform: enroll from the first-run screen, create the first admin, register
// and book a walk-in, and see the background sync upload it and the platform confirm it.
// Needs FRONTDESK_CENTRAL_BIN (scripts/test-app.sh builds frontdesk-central).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { NOW, desk, press, residentId, scan, screenshot, startApp, waitFor, waitText } from './harness.mjs';

const CENTRAL = process.env.FRONTDESK_CENTRAL_BIN;

async function startCentral(dir) {
  const child = spawn(
    CENTRAL,
    ['serve', '--demo', '--plain-logs', '--listen', '127.0.0.1:0', '--db', join(dir, 'central.db'), '--admin-token-file', join(dir, 'admin-token')],
    { env: { ...process.env, FRONTDESK_NOW: NOW, RUST_LOG: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  const found = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`frontdesk-central did not start: ${out}`)), 30000);
    child.stdout.on('data', (d) => {
      out += d;
      const url = /listening on (\S+)/.exec(out);
      const code = /enrollment code (\S+)/.exec(out);
      if (url && code) {
        clearTimeout(timer);
        resolve({ url: url[1], code: code[1] });
      }
    });
    child.once('exit', (c) => reject(new Error(`frontdesk-central exited with ${c}: ${out}`)));
  });
  return { ...found, stop: () => child.kill('SIGTERM') };
}

test('enrolled desk: first admin, walk-in, synced and confirmed by the platform', { skip: !CENTRAL && 'FRONTDESK_CENTRAL_BIN is not set' }, async (t) => {
  const dirs = desk('sync');
  const central = await startCentral(dirs.root);
  t.after(central.stop);
  const app = await startApp(dirs);
  t.after(app.stop);
  const { browser } = app;

  await (await waitFor(browser, '#enroll-server', 30000)).setValue(central.url);
  await (await browser.$('#enroll-code')).setValue(central.code);
  await (await browser.$('#enroll-name')).setValue('E2E');
  await browser.keys(['Enter']);

  // An enrolled desk has no staff yet: the first admin is created here.
  await (await waitFor(browser, '#display-name', 30000)).setValue('院长');
  await (await browser.$('#staff-id')).setValue('boss');
  await (await browser.$('#password')).setValue('boss-pass-1');
  await browser.keys(['Enter']);
  await waitFor(browser, '#board .dept');
  await waitText(browser, '#net-status', (s) => s.includes('在线'));

  const id = residentId('44010619920315002');
  await scan(browser, id);
  await (await waitFor(browser, '#pf-name')).setValue('钱同步');
  await browser.keys(['Enter']);
  await waitFor(browser, '#departments');
  await press(browser, '1');
  await waitFor(browser, '#departments li:nth-child(1).active');
  await waitFor(browser, '#slot-options li.active');
  await browser.keys(['Enter']);
  const code = await waitText(browser, '#ticket-code', (s) => /^FD/.test(s));

  // The background sync uploads it (15 s poll at most) and the platform confirms it.
  await press(browser, 'F5');
  await waitText(browser, '#sync-pending', (s) => s.trim() === '0', 45000);
  assert.equal(await (await browser.$('#conflict-inbox article')).isExisting(), false, 'no conflict');
  await press(browser, 'F4');
  const row = await waitFor(browser, `#bookings-table tr[data-ticket="${code}"]`);
  await browser.waitUntil(async () => !(await row.getText()).includes('待平台确认'), { timeout: 20000, timeoutMsg: 'booking not confirmed' });
  await screenshot(browser, 'sync-confirmed');
});
