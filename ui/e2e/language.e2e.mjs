// The app follows the OS locale, switches language with F8, and keeps the choice.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoSignIn, desk, press, screenshot, startApp, waitFor, waitText } from './harness.mjs';

test('language follows the OS, switches with F8 and is kept', async (t) => {
  const dirs = desk('lang');
  let app = await startApp(dirs, { locale: 'en_US.UTF-8' });
  let { browser } = app;
  await waitText(browser, '#start-demo', (s) => s.includes('Start the offline demo'));
  await demoSignIn(browser);
  await waitText(browser, '#nav-board', (s) => s.includes('Board'));
  await screenshot(browser, 'board-en');

  await press(browser, 'F8');
  await waitText(browser, '#nav-board', (s) => s.includes('看板'));
  await waitText(browser, '#board h1', (s) => s.includes('今日号源'));
  await app.stop();

  // Restarted on the same desk, still with an English OS: the choice (Chinese) is kept.
  app = await startApp(dirs, { locale: 'en_US.UTF-8' });
  t.after(app.stop);
  browser = app.browser;
  const title = await waitText(browser, '#sign-in h1', (s) => s.length > 0);
  assert.equal(title, '登录');
});
