import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { deferShortcut, noteKey } from '../lib/shortcuts';

/** A key as the capture-phase guard sees it, then the shortcut handler asking for its action. */
function press(key: string, at: number, action: () => void): void {
  noteKey({ key, code: `Key${key.toUpperCase()}`, timeStamp: at });
  deferShortcut(action);
}

describe('deferShortcut', () => {
  let clock = 1_000_000;
  beforeEach(() => {
    vi.useFakeTimers();
    // Far from whatever the previous test typed.
    clock += 100_000;
  });
  afterEach(() => vi.useRealTimers());

  it('runs a key a person pressed once things are quiet', () => {
    const fired = vi.fn();
    press('p', clock, fired);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(100);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it('does not run a key followed at once by another character', () => {
    const fired = vi.fn();
    press('n', clock, fired);
    noteKey({ key: 'X', code: 'KeyX', timeStamp: clock + 10 });
    vi.advanceTimersByTime(100);
    expect(fired).not.toHaveBeenCalled();
  });

  it('does not run the last character of a scanned ticket code, whenever its Enter comes', () => {
    // FDRY0HKN7X28P scanned on the screen that shows the ticket just booked: P is "reprint".
    const fired = vi.fn();
    const code = 'FDRY0HKN7X28P';
    for (let i = 0; i < code.length; i += 1) {
      const key = code[i];
      const at = clock + i * 8;
      if (i === code.length - 1) press(key, at, fired);
      else noteKey({ key, code: `Key${key}`, timeStamp: at });
    }
    // Enter is no character; it may come up to 150 ms later.
    vi.advanceTimersByTime(200);
    expect(fired).not.toHaveBeenCalled();
  });

  it('runs a key pressed after a scan has ended', () => {
    for (let i = 0; i < 12; i += 1) noteKey({ key: 'A', code: 'KeyA', timeStamp: clock + i * 8 });
    const fired = vi.fn();
    press('p', clock + 2000, fired);
    vi.advanceTimersByTime(100);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it('runs a key pressed right after the Enter that ends a scan', () => {
    // The ID scanned on the find step, Enter, then the nurse's department key at once.
    const id = '11010519491231002X';
    for (let i = 0; i < id.length; i += 1) noteKey({ key: id[i], code: `Key${id[i]}`, timeStamp: clock + i * 8 });
    noteKey({ key: 'Enter', code: 'Enter', timeStamp: clock + id.length * 8 });
    const fired = vi.fn();
    press('2', clock + id.length * 8 + 10, fired);
    vi.advanceTimersByTime(100);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it('keeps counting a scan across the Shift a scanner sends for capitals', () => {
    const fired = vi.fn();
    const code = 'FDRY0HKN7X28P';
    for (let i = 0; i < code.length; i += 1) {
      const at = clock + i * 8;
      noteKey({ key: 'Shift', code: 'ShiftLeft', timeStamp: at - 1 });
      if (i === code.length - 1) press(code[i], at, fired);
      else noteKey({ key: code[i], code: `Key${code[i]}`, timeStamp: at });
    }
    vi.advanceTimersByTime(200);
    expect(fired).not.toHaveBeenCalled();
  });

  it('runs a short fast run of keys typed by a person (fewer characters than a scan)', () => {
    const fired = vi.fn();
    noteKey({ key: '1', code: 'Digit1', timeStamp: clock });
    press('n', clock + 30, fired);
    vi.advanceTimersByTime(100);
    expect(fired).toHaveBeenCalledTimes(1);
  });
});
