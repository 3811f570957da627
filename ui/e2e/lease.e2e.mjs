// Capacity leases against a real platform: `frontdesk-central serve --demo --demo-leases` gives
// the demo site a lease policy; the desk enrolls, syncs and receives numbers reserved for it
// (the sync panel shows them, "top up now" asks for more); the platform process is killed; a
// walk-in booked offline from a reserved number is guaranteed — shown without the "not yet
// confirmed" mark, and its printed ticket (read back with pdftotext) carries none either;
// numbers given back offline wait for the next sync.
// Needs FRONTDESK_CENTRAL_BIN (scripts/test-app.sh builds frontdesk-central).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { decodeCode128, desk, press, residentId, scan, screenshot, startApp, waitFor, waitText } from './harness.mjs';
import { CENTRAL, enrollDesk, startCentral } from './central.mjs';

/**
 * 07:30 on Monday 2026-11-23 in Shanghai, on both clocks: no morning slot has started, so the
 * platform can reserve numbers of the first slot (08:00) too — a lease returns 10 minutes before
 * its slot starts, and the walk-in's earliest slot is the 08:00 one.
 */
const LEASE_NOW = '2026-11-22T23:30:00Z';

const count = (s) => Number(s.replace(/[^0-9]/g, ''));

test('a walk-in booked offline from the desk\'s reserved numbers is guaranteed: no "not yet confirmed" mark on screen or ticket', { skip: !CENTRAL && 'FRONTDESK_CENTRAL_BIN is not set' }, async (t) => {
  const dirs = desk('lease');
  const central = await startCentral(dirs.root, { now: LEASE_NOW, args: ['--demo-leases'] });
  t.after(central.stop);
  const app = await startApp(dirs, { now: LEASE_NOW });
  t.after(app.stop);
  const { browser } = app;
  await enrollDesk(browser, central.url, central.code);

  // The sync panel: the site reserves numbers, this desk holds some after its first sync;
  // "top up now" asks the platform again (it never goes beyond this desk's share).
  await press(browser, 'F5');
  await waitFor(browser, '#leases[data-enabled="true"]');
  await (await waitFor(browser, '#lease-top-up')).click();
  // The first sync after enrolling already asked: the platform answers with what is new, if anything.
  await waitText(browser, '#notice', (s) => s.includes('平台新分配保留号') || s.includes('本机保留号已满额'), 30000);
  const held = count(await waitText(browser, '#lease-held', (s) => count(s) > 0, 30000));
  assert.equal(count(await (await browser.$('#lease-spent')).getText()), 0);
  await waitFor(browser, '#lease-sessions tr[data-session]');
  assert.match(await (await browser.$('#lease-deadline')).getText(), /^\d{2}:\d{2}$/, 'the next deadline is a time today');
  await (await browser.$('#show-lease-numbers')).click();
  await waitFor(browser, '#lease-numbers tr[data-state="usable"]');
  await waitText(browser, '#lease-total', (s) => count(s) === held);
  await screenshot(browser, 'lease-sync-panel');

  // The board counts today's reserved numbers, per session and in total.
  await press(browser, 'F1');
  const boardHeld = count(await waitText(browser, '#board-held', (s) => count(s) > 0));
  assert.ok(boardHeld <= held, `today's reserved numbers (${boardHeld}) are among those held (${held})`);
  const ek = await waitFor(browser, '#board .dept[data-code="EK"] .session[data-held]:not([data-held="0"])');
  assert.ok(Number(await ek.getAttribute('data-held')) > 0);
  await screenshot(browser, 'lease-board');

  // The platform goes away; the desk notices it is offline.
  await central.kill();
  await press(browser, 'F5');
  await waitFor(browser, '#sync-now');
  await press(browser, 'F9');
  await waitText(browser, '#net-status', (s) => s.includes('离线'), 30000);

  // A walk-in: the suggested slot holds this desk's reserved numbers, so the booking is guaranteed.
  const id = residentId('32010219900512004');
  await scan(browser, id);
  await (await waitFor(browser, '#pf-name')).setValue('钱保证');
  await browser.keys(['Enter']);
  await waitFor(browser, '#departments');
  await waitText(browser, '#walkin-held', (s) => count(s) > 0);
  await press(browser, '1');
  await waitFor(browser, '#departments li:nth-child(1).active');
  const option = await waitFor(browser, '#slot-options li.active .option-held');
  assert.ok(Number(await option.getAttribute('data-held')) > 0, 'the suggested slot has reserved numbers');
  await screenshot(browser, 'lease-walkin-options');
  await browser.keys(['Enter']);
  const code = await waitText(browser, '#ticket-code', (s) => /^FD/.test(s));
  await waitText(browser, '#guaranteed', (s) => s.includes('已保证'));
  await waitFor(browser, '#booked[data-mark="guaranteed"]');
  assert.equal(await (await browser.$('#unconfirmed')).isExisting(), false, 'no "not yet confirmed" mark on screen');
  assert.doesNotMatch(await (await browser.$('#booked')).getText(), /待平台确认/);
  await waitFor(browser, '#print-status[data-printed="true"]');
  const pdf = join(dirs.print, `ticket-${code}.pdf`);
  assert.ok(existsSync(pdf), `ticket file ${pdf}`);
  assert.deepEqual(decodeCode128(pdf), [code]);
  const ticketText = execFileSync('pdftotext', [pdf, '-'], { encoding: 'utf8' });
  assert.ok(ticketText.includes('钱*证'), `the ticket is the patient's: ${ticketText}`);
  assert.ok(!ticketText.includes('待平台确认') && !ticketText.includes('离线挂号'), `the ticket carries no "not yet confirmed" mark: ${ticketText}`);
  await screenshot(browser, 'lease-booked');

  // The bookings list agrees.
  await press(browser, 'F4');
  const row = await waitFor(browser, `#bookings-table tr[data-ticket="${code}"]`);
  await waitFor(browser, `#bookings-table tr[data-ticket="${code}"] [data-mark="guaranteed"]`);
  assert.doesNotMatch(await row.getText(), /待平台确认/);
  await screenshot(browser, 'lease-bookings');

  // Back on the sync panel, offline: one number spent, one fewer held; a session's numbers
  // given back wait for the next sync.
  await press(browser, 'F5');
  await waitText(browser, '#lease-spent', (s) => count(s) === 1);
  await waitText(browser, '#lease-held', (s) => count(s) === held - 1);
  const session = await waitFor(browser, '#lease-sessions tr[data-session]:not([data-held="0"])');
  const sessionId = await session.getAttribute('data-session');
  const giving = Number(await session.getAttribute('data-held'));
  await (await session.$('.give-back')).click();
  await (await waitFor(browser, '#lease-give-back-confirm')).click();
  await waitText(browser, '#notice', (s) => s.includes('已归还保留号') && s.includes('下次同步时告知平台'));
  await waitFor(browser, `#lease-sessions tr[data-session="${sessionId}"][data-held="0"]`);
  await waitText(browser, '#lease-held', (s) => count(s) === held - 1 - giving);
  await waitFor(browser, '#lease-numbers tr[data-state="returning"]');
  await screenshot(browser, 'lease-offline-panel');

  // The same in English (F8): the sync panel and the board.
  await press(browser, 'F8');
  await waitText(browser, '#leases h2', (s) => s.includes('reserved for this desk'));
  await screenshot(browser, 'lease-offline-panel-en');
  await press(browser, 'F1');
  await waitText(browser, '#board-held', (s) => s.includes('Held by this desk today'));
  await screenshot(browser, 'lease-board-en');
});
