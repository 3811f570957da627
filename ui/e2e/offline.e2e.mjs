// Offline and back, against a real platform: an enrolled desk loses the platform (the
// frontdesk-central process is killed), shows it is offline, still books a walk-in and prints
// the ticket marked "not yet confirmed"; the platform starts again on the same port and
// database, "sync now" (F9) uploads the booking and the mark clears.
// Needs FRONTDESK_CENTRAL_BIN (scripts/test-app.sh builds frontdesk-central).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { decodeCode128, desk, press, residentId, scan, screenshot, startApp, waitFor, waitText } from './harness.mjs';
import { CENTRAL, enrollDesk, startCentral } from './central.mjs';

/** Presses F9 until the sync panel shows nothing pending and the desk online (deadline). */
async function syncUntilCaughtUp(browser, timeout = 60000) {
  const until = Date.now() + timeout;
  let last = '';
  while (Date.now() < until) {
    await press(browser, 'F9');
    const done = await browser
      .waitUntil(
        async () => {
          const pending = await (await browser.$('#sync-pending')).getText();
          last = `${pending} / ${await (await browser.$('#net-status')).getText()}`;
          return pending.trim() === '0' && last.includes('在线');
        },
        { timeout: 5000, interval: 200 },
      )
      .then(() => true, () => false);
    if (done) return;
  }
  throw new Error(`not caught up after ${timeout} ms: ${last}`);
}

test('offline and back: a walk-in booked while the platform is down is confirmed when it returns', { skip: !CENTRAL && 'FRONTDESK_CENTRAL_BIN is not set' }, async (t) => {
  const dirs = desk('offline');
  const central = await startCentral(dirs.root);
  t.after(central.stop);
  const app = await startApp(dirs);
  t.after(app.stop);
  const { browser } = app;
  await enrollDesk(browser, central.url, central.code);

  // The platform goes away; "sync now" finds it unreachable and the desk says it is offline.
  await central.kill();
  await press(browser, 'F5');
  await waitFor(browser, '#sync-now');
  await press(browser, 'F9');
  await waitText(browser, '#net-status', (s) => s.includes('离线'), 30000);
  await waitFor(browser, '#notice[data-code="offline"]');
  await waitText(browser, '#sync-server', (s) => s.includes('离线'));
  await screenshot(browser, 'offline-detected');

  // A walk-in still books and prints, marked as not yet confirmed.
  const id = residentId('44010619880709003');
  await scan(browser, id);
  await (await waitFor(browser, '#pf-name')).setValue('孙离线');
  await browser.keys(['Enter']);
  await waitFor(browser, '#departments');
  await press(browser, '1');
  await waitFor(browser, '#departments li:nth-child(1).active');
  await waitFor(browser, '#slot-options li.active');
  await browser.keys(['Enter']);
  const code = await waitText(browser, '#ticket-code', (s) => /^FD/.test(s));
  await waitText(browser, '#unconfirmed', (s) => s.includes('待平台确认'));
  await waitFor(browser, '#print-status[data-printed="true"]');
  const pdf = join(dirs.print, `ticket-${code}.pdf`);
  assert.ok(existsSync(pdf), `ticket file ${pdf}`);
  assert.deepEqual(decodeCode128(pdf), [code]);
  const ticketText = execFileSync('pdftotext', [pdf, '-'], { encoding: 'utf8' });
  assert.ok(ticketText.includes('待平台确认'), `the ticket is marked unconfirmed: ${ticketText}`);
  await waitText(browser, '#net-status', (s) => /离线 · [1-9]/.test(s));
  await screenshot(browser, 'offline-booked');
  await press(browser, 'F4');
  const row = await waitFor(browser, `#bookings-table tr[data-ticket="${code}"]`);
  assert.match(await row.getText(), /待平台确认/);

  // The platform comes back on the same port and database; the booking syncs and is confirmed.
  await central.restart();
  await press(browser, 'F5');
  await syncUntilCaughtUp(browser);
  assert.equal(await (await browser.$('#conflict-inbox article')).isExisting(), false, 'no conflict');
  await screenshot(browser, 'offline-back-synced');
  await press(browser, 'F4');
  const back = await waitFor(browser, `#bookings-table tr[data-ticket="${code}"]`);
  await browser.waitUntil(async () => !(await back.getText()).includes('待平台确认'), { timeout: 20000, timeoutMsg: 'booking still not confirmed' });
  await screenshot(browser, 'offline-back-confirmed');
});
