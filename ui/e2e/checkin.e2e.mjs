// Check-in by scanning a ticket: the first scan checks in, a second one is a clear refusal.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoSignIn, desk, press, scan, screenshot, startApp, waitFor, waitText } from './harness.mjs';

test('check-in by scanning the ticket', async (t) => {
  const app = await startApp(desk('checkin'));
  t.after(app.stop);
  const { browser } = app;
  await demoSignIn(browser);

  // Book a demo patient found by pinyin initials.
  await press(browser, 'F2');
  const find = await waitFor(browser, '#find');
  await find.setValue('zs');
  await waitText(browser, '#results', (s) => s.includes('张三'));
  await browser.keys(['Enter']);
  await waitFor(browser, '#departments');
  await press(browser, '1');
  await waitFor(browser, '#slot-options li.active');
  await browser.keys(['Enter']);
  const code = await waitText(browser, '#ticket-code', (s) => /^FD/.test(s));

  // The ticket is scanned from the board screen: it is checked in wherever focus is.
  await press(browser, 'F1');
  await waitFor(browser, '#board .dept');
  await scan(browser, code);
  await waitFor(browser, `#checkins tr[data-ticket="${code}"]`);
  await waitFor(browser, '#notice.ok');
  await screenshot(browser, 'checkin');

  // Scanning it again is refused with a code, not silently ignored.
  await scan(browser, code);
  const notice = await waitFor(browser, '#notice.error');
  assert.notEqual(await notice.getAttribute('data-code'), '');

  // The bookings list shows it checked in.
  await press(browser, 'F4');
  await waitFor(browser, `#bookings-table tr[data-ticket="${code}"]`);
  await screenshot(browser, 'bookings');
});
