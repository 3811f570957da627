// Admin: suspend a session with a reason (the board shows it), print the day's slot sheet
// (a PDF in the test printer folder), and a nurse does not get the admin screen.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { demoSignIn, desk, press, screenshot, startApp, waitFor, waitText } from './harness.mjs';

test('admin suspends a session and prints the slot sheet; a nurse cannot', async (t) => {
  const dirs = desk('admin');
  const app = await startApp(dirs);
  t.after(app.stop);
  const { browser } = app;
  await demoSignIn(browser, 'admin', 'admin123');

  await press(browser, 'F6');
  await waitFor(browser, '#admin-sessions');
  await press(browser, 'ArrowDown');
  await press(browser, 's');
  const reason = await waitFor(browser, '#suspend-reason');
  await reason.setValue('医生外出会诊');
  await browser.keys(['Enter']);
  await browser.waitUntil(async () => (await browser.$$('#admin-sessions tr.suspended')).length === 1, {
    timeoutMsg: 'the session was not suspended',
  });

  await browser.keys(['Control', 'p']);
  await waitText(browser, '#notice', (s) => s.includes('.pdf'));
  assert.ok(readdirSync(dirs.print).some((f) => f.startsWith('sheet-') && f.endsWith('.pdf')));
  await screenshot(browser, 'admin');

  await press(browser, 'F1');
  await waitFor(browser, '#board .session.suspended .badge[title="医生外出会诊"]');
  await screenshot(browser, 'board-suspended');

  // Sign out (F10) and in as a nurse: F6 does nothing but say so.
  await press(browser, 'F10');
  await (await waitFor(browser, '#staff-id')).setValue('nurse');
  await (await browser.$('#password')).setValue('nurse123');
  await browser.keys(['Enter']);
  await waitFor(browser, '#board .dept');
  assert.equal(await (await browser.$('#nav-admin')).isExisting(), false);
  await press(browser, 'F6');
  const notice = await waitFor(browser, '#notice.error');
  assert.equal(await notice.getAttribute('data-code'), 'forbidden');
});
