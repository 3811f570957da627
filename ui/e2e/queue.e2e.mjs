// The waiting room: a patient checked in by scanning the ticket is called from the desk's
// queue screen; the waiting-room display window shows the number and the masked name and
// announces the call with the right clips, rendered to a WAV whose length is checked.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { demoSignIn, desk, press, scan, screenshot, startApp, waitFor, waitText } from './harness.mjs';

const CLI = process.env.FRONTDESK_CLI_BIN;

/** Mandarin reading of 1–99 as clip names (十二 → shi 2), written here independently of the app. */
function zhNumber(n) {
  if (n < 10) return [String(n)];
  const tens = Math.floor(n / 10);
  const ones = n % 10;
  return [...(tens === 1 ? [] : [String(tens)]), 'shi', ...(ones === 0 ? [] : [String(ones)])];
}

/** The length of a 16 kHz mono 16-bit PCM WAV, from its header. */
function wavMillis(bytes) {
  assert.equal(bytes.subarray(0, 4).toString('latin1'), 'RIFF');
  assert.equal(bytes.subarray(8, 12).toString('latin1'), 'WAVE');
  const rate = bytes.readUInt32LE(24);
  const channels = bytes.readUInt16LE(22);
  const bits = bytes.readUInt16LE(34);
  assert.deepEqual([rate, channels, bits], [16000, 1, 16]);
  const data = bytes.readUInt32LE(40);
  return Math.round((data / 2 / rate) * 1000);
}

test('check in by scan, call from the desk, the display shows and announces it', async (t) => {
  assert.ok(CLI, 'FRONTDESK_CLI_BIN names the frontdesk CLI (scripts/test-app.sh sets it)');
  const dirs = desk('queue');
  const app = await startApp(dirs);
  t.after(app.stop);
  const { browser } = app;
  await demoSignIn(browser);
  const main = await browser.getWindowHandle();

  // A walk-in booked into the first department offered and checked in by scanning the ticket.
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
  await press(browser, 'F1');
  await waitFor(browser, '#board .dept');
  await scan(browser, code);
  await waitFor(browser, `#checkins tr[data-ticket="${code}"]`);

  // The queue screen (F7): the patient waits; N calls the next one.
  await press(browser, 'F7');
  const row = await waitFor(browser, '#queue-waiting tr[data-queue-no]');
  const number = Number(await row.getAttribute('data-queue-no'));
  assert.ok(number > 0);
  await waitText(browser, '#queue-waiting', (s) => s.includes('张*'));
  await press(browser, 'n');
  await browser.waitUntil(async () => (await (await browser.$('#queue-called')).getAttribute('data-queue-no')) === String(number), {
    timeout: 15000,
    timeoutMsg: 'the desk shows the patient called',
  });
  await waitText(browser, '#notice.ok', (s) => s.includes(String(number)));
  await screenshot(browser, 'queue-desk');

  // O opens the waiting-room display in a window of its own.
  await press(browser, 'o');
  await browser.waitUntil(async () => (await browser.getWindowHandles()).length === 2, {
    timeout: 20000,
    timeoutMsg: 'the display window opens',
  });
  const display = (await browser.getWindowHandles()).find((h) => h !== main);
  await browser.switchToWindow(display);
  const card = await waitFor(browser, `.room-card[data-called="${number}"]`, 20000);
  const text = await card.getText();
  assert.match(text, /张\*/, 'the masked name is shown');
  assert.doesNotMatch(text, /张三/, 'never the full name');
  const dept = await card.getAttribute('data-dept');
  const names = { NK: ['内科', 'Internal Medicine'], WK: ['外科', 'Surgery'], EK: ['儿科', 'Paediatrics'], FK: ['妇科', 'Gynaecology'], KQ: ['口腔科', 'Dentistry'] }[dept];
  assert.ok(names, `a demo department: ${dept}`);
  assert.ok(text.includes(names[0]) && text.includes(names[1]), `the department in both languages: ${text}`);
  const room = Number(await card.getAttribute('data-room'));
  assert.ok(room > 0, 'the demo session has a consultation room');

  // Announced once, with the right clips, rendered to sound.
  const foot = await waitFor(browser, '#announcement', 20000);
  const clips = (await foot.getAttribute('data-clips')).split(' ');
  assert.deepEqual(clips, [
    'chime',
    'zh/qing',
    ...zhNumber(number).map((c) => `zh/${c}`),
    'zh/hao',
    'zh/dao',
    `zh/dept_${dept}`,
    ...zhNumber(room).map((c) => `zh/${c}`),
    'zh/zhenshi',
  ]);
  const millis = Number(await foot.getAttribute('data-duration-ms'));
  const bytes = Number(await foot.getAttribute('data-wav-bytes'));
  assert.equal(Math.round(((bytes - 44) / 2 / 16000) * 1000), millis, 'the WAV handed to the speaker is as long as announced');
  assert.ok(millis > 1500 && millis < 15000, `a sensible length: ${millis} ms`);
  await screenshot(browser, 'queue-display');

  // The same announcement rendered by the engine's audio path to a file: same clips, same length.
  const wav = join(dirs.root, 'call.wav');
  const out = JSON.parse(
    execFileSync(CLI, ['--json', 'announce', '--number', String(number), '--department', dept, '--room', String(room), '--out', wav], {
      encoding: 'utf8',
      env: { ...process.env, FRONTDESK_DATA_DIR: dirs.data },
    }),
  );
  assert.deepEqual(out.clips.map((c) => c.clip), clips);
  assert.equal(wavMillis(readFileSync(wav)), millis);

  // A recall is announced again; nothing is announced twice meanwhile.
  await browser.switchToWindow(main);
  await press(browser, 'r');
  await waitText(browser, '#notice.ok', (s) => s.includes('呼叫次数 2'));
  await browser.switchToWindow(display);
  await browser.waitUntil(async () => (await (await browser.$('#announcement')).getAttribute('data-key'))?.endsWith('#2'), {
    timeout: 20000,
    timeoutMsg: 'the recall is announced',
  });
  assert.equal(await (await browser.$('#display')).getAttribute('data-played'), '2', 'two calls, two announcements');
});
