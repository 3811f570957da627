// Walk-in from a scanned payload to a printed ticket file whose barcode decodes to the
// booking's ticket code; then a returning patient, scan to ticket.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { decodeCode128, demoSignIn, desk, press, residentId, scan, screenshot, startApp, waitFor, waitText } from './harness.mjs';

test('walk-in: scanned ID → new patient → earliest slot → printed ticket', async (t) => {
  const dirs = desk('walkin');
  const app = await startApp(dirs);
  t.after(app.stop);
  const { browser } = app;

  await demoSignIn(browser);
  await screenshot(browser, 'board');

  // A new patient's resident ID arrives from the scanner while focus is on the board.
  const id = residentId('31010419850612003');
  await scan(browser, id);
  const docInput = await waitFor(browser, '#pf-documentNumber');
  assert.equal(await docInput.getValue(), id);

  // Submitting without a name marks the field and keeps the scanned number.
  await browser.keys(['Enter']);
  await waitFor(browser, 'label.bad #pf-name');
  assert.equal(await docInput.getValue(), id);
  await screenshot(browser, 'walkin-form-error');

  const nameField = await browser.$('#pf-name');
  await nameField.setValue('赵测试');
  await browser.keys(['Enter']);
  await waitFor(browser, '#departments');

  // Department 1 (number key), then the suggested earliest slot with Enter.
  await press(browser, '1');
  await waitFor(browser, '#departments li:nth-child(1).active');
  await waitFor(browser, '#slot-options li.active');
  await screenshot(browser, 'walkin-slot');
  await browser.keys(['Enter']);
  const code = await waitText(browser, '#ticket-code', (s) => /^FD[0-9A-Z]{11}$/.test(s));
  assert.ok(await (await browser.$('#unconfirmed')).isExisting(), 'an offline booking is marked not yet confirmed');
  await waitFor(browser, '#print-status[data-printed="true"]');
  await screenshot(browser, 'walkin-booked');

  const pdf = join(dirs.print, `ticket-${code}.pdf`);
  assert.ok(existsSync(pdf), `ticket file ${pdf}`);
  assert.deepEqual(decodeCode128(pdf), [code]);

  // Returning patient: the same ID again; the department is remembered, so Enter books.
  // Rule 2 allows one booking per department and day, so pick department 2.
  await browser.keys(['Enter']); // next patient
  const findField = await waitFor(browser, '#find');

  // The screens of a patient's round and the walk-in's text fields are made once and kept,
  // through other screens too (a WebDriver element id names one node: one made again would get
  // another).
  await press(browser, 'F3');
  const checkIn = await waitFor(browser, '#checkin-code');
  await press(browser, 'F1');
  const board = await waitFor(browser, '#board');
  await press(browser, 'F7');
  const queue = await waitFor(browser, '#queue');
  await press(browser, 'F1');
  assert.equal((await waitFor(browser, '#board')).elementId, board.elementId, 'the board is the same one');
  await press(browser, 'F7');
  assert.equal((await waitFor(browser, '#queue')).elementId, queue.elementId, 'the queue screen is the same one');
  await press(browser, 'F3');
  assert.equal((await waitFor(browser, '#checkin-code')).elementId, checkIn.elementId, 'the check-in field is the same one');
  await press(browser, 'F2');
  assert.equal((await waitFor(browser, '#find')).elementId, findField.elementId, 'the search field is the same one');
  await browser.keys(['Alt', 'n']);
  await browser.keys(['Alt']);
  assert.equal((await waitFor(browser, '#pf-name')).elementId, nameField.elementId, 'the name field is the same one');
  assert.equal(await (await browser.$('#pf-name')).getValue(), '', 'and empty for the next patient');
  await browser.keys(['Escape']);
  await waitFor(browser, '#find');
  await scan(browser, id);
  await waitFor(browser, '#chosen-patient');
  await press(browser, '2');
  await waitFor(browser, '#departments li:nth-child(2).active');
  await waitFor(browser, '#slot-options li.active');
  await browser.keys(['Enter']);
  const code2 = await waitText(browser, '#ticket-code', (s) => /^FD/.test(s) && s !== code);
  assert.ok(existsSync(join(dirs.print, `ticket-${code2}.pdf`)));
});
