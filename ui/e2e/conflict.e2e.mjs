// A real conflict reaches the conflict inbox and is resolved there. The desk reaches the
// platform through a proxy; with the proxy cut the desk is offline and books a walk-in; the
// platform's admin meanwhile suspends that doctor's session (the admin API); the proxy is
// mended, "sync now" (F9) pushes the booking, the platform refuses it (`session_suspended`)
// and the desk shows it in the inbox with the explanation and a suggested slot. One test
// rebooks into the suggestion (synced, inbox empty); the other gives the booking up, which
// prints the notice for the patient (read back from the PDF with pdftotext).
// Needs FRONTDESK_CENTRAL_BIN (scripts/test-app.sh builds frontdesk-central).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { desk, press, residentId, scan, screenshot, startApp, waitFor, waitText } from './harness.mjs';
import { CENTRAL, enrollDesk, startCentral, startProxy } from './central.mjs';

/** The demo clinic's providers (crates/domain/src/demo.rs): name → provider id. */
const PROVIDERS = {
  王建国: 'demo-nk-1', 李秀英: 'demo-nk-2', 陈志强: 'demo-nk-3',
  刘洋: 'demo-wk-1', 赵敏: 'demo-wk-2',
  孙丽: 'demo-ek-1', 周杰: 'demo-ek-2',
  吴桂芳: 'demo-fk-1', 郑雪: 'demo-fk-2',
  冯磊: 'demo-kq-1', 单晓东: 'demo-kq-2',
};
const PERIODS = { 上午: 'am', 下午: 'pm', 晚上: 'ev' };

/** Presses F9 until `done()` holds (each press waits up to 5 s for it); deadline `timeout`. */
async function syncUntil(browser, what, done, timeout = 60000) {
  const until = Date.now() + timeout;
  while (Date.now() < until) {
    await press(browser, 'F9');
    const ok = await browser.waitUntil(done, { timeout: 5000, interval: 200 }).then(() => true, () => false);
    if (ok) return;
  }
  throw new Error(`sync now: ${what} not reached in ${timeout} ms`);
}

const text = async (browser, selector) => {
  const el = await browser.$(selector);
  return (await el.isExisting()) ? el.getText() : '';
};

/**
 * An app enrolled through a proxy, a walk-in booked while the proxy is cut, its session
 * suspended on the platform meanwhile, the proxy mended and synced: the `session_suspended`
 * conflict is in the inbox (F5). `name` is the patient's name, `id` a resident ID number.
 */
async function conflictInInbox(t, label, name, id) {
  const dirs = desk(label);
  const central = await startCentral(dirs.root);
  t.after(central.stop);
  const proxy = await startProxy(central.port);
  t.after(proxy.close);
  const app = await startApp(dirs);
  t.after(app.stop);
  const { browser } = app;
  await enrollDesk(browser, proxy.url, central.code);

  // Cut off from the platform: sync now says offline.
  proxy.cut();
  await press(browser, 'F5');
  await waitFor(browser, '#sync-now');
  await press(browser, 'F9');
  await waitText(browser, '#net-status', (s) => s.includes('离线'), 30000);

  // An offline walk-in into the first department's suggested slot.
  await scan(browser, residentId(id));
  await (await waitFor(browser, '#pf-name')).setValue(name);
  await browser.keys(['Enter']);
  await waitFor(browser, '#departments');
  await press(browser, '1');
  await waitFor(browser, '#departments li:nth-child(1).active');
  await waitFor(browser, '#slot-options li.active');
  await browser.keys(['Enter']);
  const code = await waitText(browser, '#ticket-code', (s) => /^FD/.test(s));
  await waitFor(browser, '#unconfirmed');
  const lines = await browser.$$('#booked .big-line');
  const who = await lines[0].getText();
  const when = await lines[1].getText();
  const provider = Object.keys(PROVIDERS).find((n) => who.includes(n));
  const period = Object.keys(PERIODS).find((p) => when.includes(p));
  const date = /(\d{4})-(\d{2})-(\d{2})/.exec(when);
  assert.ok(provider && period && date, `booked: ${who} / ${when}`);
  const session = `${PROVIDERS[provider]}-${date[1]}${date[2]}${date[3]}-${PERIODS[period]}`;
  await screenshot(browser, `${label}-offline-booked`);

  // Meanwhile the platform's admin suspends that session.
  const suspended = await central.admin('POST', `/v1/admin/sessions/${session}/suspend`, { reason: '医生临时外出' });
  assert.equal(suspended.id, session);

  // Back online: the platform refuses the booking and it lands in the inbox with a suggestion.
  proxy.mend();
  await press(browser, 'F5');
  const conflict = '#conflict-inbox article[data-reason="session_suspended"]:not(.resolved)';
  await syncUntil(browser, 'the conflict in the inbox', async () => (await browser.$(conflict)).isExisting());
  await waitText(browser, '#sync-pending', (s) => s.trim() === '0');
  const article = await browser.$(conflict);
  const explanation = await article.getText();
  assert.ok(explanation.includes(name.slice(0, 1)), `the patient is named: ${explanation}`);
  assert.ok((await article.$('p').getText()).trim().length > 0, 'an explanation');
  const rebook = await article.$('button.primary');
  assert.ok(await rebook.isExisting(), `a suggested slot: ${explanation}`);
  const suggestion = await rebook.getText();
  assert.ok(!suggestion.includes(provider), `the suggestion is another doctor's: ${suggestion}`);
  await waitText(browser, '#net-status', (s) => s.includes('在线') && s.includes('冲突'));
  await screenshot(browser, `${label}-inbox`);
  return { browser, dirs, conflict, code };
}


test('conflict: a booking made offline into a session suspended meanwhile is rebooked from the inbox', { skip: !CENTRAL && 'FRONTDESK_CENTRAL_BIN is not set' }, async (t) => {
  const { browser, dirs, conflict, code } = await conflictInInbox(t, 'conflict', '周冲突', '44010619750412004');
  // The refused booking left the bookings list.
  await press(browser, 'F4');
  await waitFor(browser, '#bookings-table');
  assert.equal(await (await browser.$(`#bookings-table tr[data-ticket="${code}"]`)).isExisting(), false, 'refused booking gone');

  // Rebook into the suggestion, sync: the inbox is empty and the new booking is confirmed.
  await press(browser, 'F5');
  await (await waitFor(browser, `${conflict} button.primary`)).click();
  await waitFor(browser, '#conflicts-empty');
  await syncUntil(browser, 'nothing pending, online', async () => {
    const pending = await text(browser, '#sync-pending');
    const line = await text(browser, '#net-status');
    return pending.trim() === '0' && line.includes('在线') && !line.includes('冲突');
  });
  assert.equal(await (await browser.$('#conflict-inbox article')).isExisting(), false, 'inbox empty');
  await screenshot(browser, 'conflict-resolved');
  await press(browser, 'F4');
  const rows = await browser.$$('#bookings-table tbody tr');
  assert.equal(rows.length, 1, 'one booking: the rebooked one');
  await browser.waitUntil(async () => !(await rows[0].getText()).includes('待平台确认'), { timeout: 20000, timeoutMsg: 'rebooked booking not confirmed' });
  const newCode = await rows[0].getAttribute('data-ticket');
  assert.notEqual(newCode, code);
  assert.ok(existsSync(join(dirs.print, `ticket-${newCode}.pdf`)), 'the rebooked ticket printed');
  await screenshot(browser, 'conflict-rebooked');
});

test('conflict: giving the booking up prints the notice for the patient', { skip: !CENTRAL && 'FRONTDESK_CENTRAL_BIN is not set' }, async (t) => {
  const { browser, dirs, conflict, code } = await conflictInInbox(t, 'notice', '吴通知', '44010619800101002');
  await (await waitFor(browser, `${conflict} button.danger`)).click();
  await waitFor(browser, '#conflicts-empty');
  const shown = await waitText(browser, '#conflict-notice', (s) => s.includes('吴*'));
  assert.ok(!shown.includes('吴通知'), `the full name is not shown to others: ${shown}`);
  await waitFor(browser, '#notice-print-status[data-printed="true"]');
  await screenshot(browser, 'notice-printed');
  const notices = readdirSync(dirs.print).filter((f) => /^notice-\d+\.pdf$/.test(f));
  assert.equal(notices.length, 1, `one notice printed: ${readdirSync(dirs.print)}`);
  const printed = execFileSync('pdftotext', ['-layout', join(dirs.print, notices[0]), '-'], { encoding: 'utf8' });
  assert.match(printed, /挂号未能确认通知/);
  assert.match(printed, /吴\*/);
  assert.ok(!printed.includes('吴通知'), 'the notice carries the masked name only');
  // Nothing is pending and the given-up booking is gone from the bookings list.
  await waitText(browser, '#sync-pending', (s) => s.trim() === '0');
  await press(browser, 'F4');
  await waitFor(browser, '#bookings-table');
  assert.equal(await (await browser.$(`#bookings-table tr[data-ticket="${code}"]`)).isExisting(), false, 'given-up booking gone');
});
