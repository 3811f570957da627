import { describe, expect, it, vi } from 'vitest';
import { ScanDetector, attachScanner, charOf } from '../lib/scanner';

type K = { key: string; code?: string; shiftKey?: boolean };

function codeOf(ch: string): string {
  if (/\d/.test(ch)) return `Digit${ch}`;
  if (/[a-z]/i.test(ch)) return `Key${ch.toUpperCase()}`;
  return 'Unknown';
}

/** Feeds `text` + Enter with `gap` ms between keys, returns the verdicts. */
function feed(d: ScanDetector, text: string, gap: number, start = 1000, opts: { ime?: boolean } = {}) {
  let t = start;
  const out = [];
  for (const ch of text) {
    const key: K = opts.ime ? { key: 'Process', code: codeOf(ch), shiftKey: /[A-Z]/.test(ch) } : { key: ch, code: codeOf(ch) };
    out.push(d.key({ key: key.key, code: key.code ?? '', shiftKey: key.shiftKey, timeStamp: t }));
    t += gap;
  }
  out.push(d.key({ key: 'Enter', code: 'Enter', timeStamp: t }));
  return out;
}

describe('ScanDetector', () => {
  it('recognises a fast burst ending in Enter as a scan', () => {
    const d = new ScanDetector();
    const v = feed(d, 'FD7K2M9QX4RT8', 4);
    expect(v.at(-1)).toMatchObject({ kind: 'scan', payload: 'FD7K2M9QX4RT8' });
  });

  it('treats human typing (slow keys) as typing', () => {
    const d = new ScanDetector();
    const v = feed(d, 'zhangsan', 120);
    expect(v.at(-1)).toEqual({ kind: 'pass' });
  });

  it('ignores a short fast burst (a fast typist, not a scanner)', () => {
    const d = new ScanDetector();
    expect(feed(d, 'zs', 10).at(-1)).toEqual({ kind: 'pass' });
  });

  it('starts a new burst after a pause, so typed text before a scan is not part of it', () => {
    const d = new ScanDetector();
    let t = 0;
    for (const ch of 'abc') d.key({ key: ch, code: codeOf(ch), timeStamp: (t += 200) });
    const v = feed(d, '110101199003070011', 5, t + 500);
    expect(v.at(-1)).toMatchObject({ kind: 'scan', payload: '110101199003070011' });
    expect(v[0]).toMatchObject({ kind: 'char', startsBurst: true });
  });

  it('reads characters from event.code when an input method reports key "Process"', () => {
    const d = new ScanDetector();
    const v = feed(d, 'FD7K2M9QX4RT8', 3, 0, { ime: true });
    expect(v.at(-1)).toMatchObject({ kind: 'scan', payload: 'FD7K2M9QX4RT8' });
  });

  it('does not take a late Enter as the end of a scan', () => {
    const d = new ScanDetector();
    let t = 0;
    for (const ch of '1234567890') d.key({ key: ch, code: codeOf(ch), timeStamp: (t += 5) });
    expect(d.key({ key: 'Enter', code: 'Enter', timeStamp: t + 1000 })).toEqual({ kind: 'pass' });
  });

  it('lets shortcuts with modifiers through and resets', () => {
    const d = new ScanDetector();
    expect(d.key({ key: 'n', code: 'KeyN', altKey: true, timeStamp: 1 })).toEqual({ kind: 'pass' });
  });

  it('maps shifted digits and letters under an IME', () => {
    expect(charOf({ key: 'Process', code: 'KeyA', shiftKey: true, timeStamp: 0 })).toBe('A');
    expect(charOf({ key: 'Process', code: 'KeyA', timeStamp: 0 })).toBe('a');
    expect(charOf({ key: 'Process', code: 'Digit7', timeStamp: 0 })).toBe('7');
    expect(charOf({ key: 'Process', code: 'Minus', timeStamp: 0 })).toBe('-');
    expect(charOf({ key: 'ArrowDown', code: 'ArrowDown', timeStamp: 0 })).toBeNull();
    expect(charOf({ key: '医', code: '', timeStamp: 0 })).toBeNull();
  });
});

describe('attachScanner', () => {
  it('routes a burst typed into a focused field to onScan and takes it out of the field', () => {
    const input = document.createElement('input');
    document.body.appendChild(input);
    input.value = 'wang';
    input.focus();
    const onScan = vi.fn();
    const seen: string[] = [];
    input.addEventListener('input', () => seen.push(input.value));
    const detach = attachScanner(window, onScan);
    let t = 5000;
    const fire = (key: string, code: string) => {
      const ev = new KeyboardEvent('keydown', { key, code, bubbles: true, cancelable: true });
      Object.defineProperty(ev, 'timeStamp', { value: (t += 4) });
      input.dispatchEvent(ev);
      return ev;
    };
    for (const ch of 'MC12345678') {
      fire(ch, codeOf(ch));
      input.value += ch; // what the browser would have typed
    }
    const enter = fire('Enter', 'Enter');
    expect(onScan).toHaveBeenCalledWith('MC12345678');
    expect(enter.defaultPrevented).toBe(true);
    expect(input.value).toBe('wang');
    expect(seen.at(-1)).toBe('wang');
    detach();
  });
});

describe('attachScanner when disabled or in a password field', () => {
  it('leaves a fast-typed password alone', () => {
    const input = document.createElement('input');
    input.type = 'password';
    document.body.appendChild(input);
    input.focus();
    const onScan = vi.fn();
    const detach = attachScanner(window, onScan);
    let t = 9000;
    for (const ch of 'nurse123') {
      const ev = new KeyboardEvent('keydown', { key: ch, code: codeOf(ch), bubbles: true, cancelable: true });
      Object.defineProperty(ev, 'timeStamp', { value: (t += 3) });
      input.dispatchEvent(ev);
    }
    const enter = new KeyboardEvent('keydown', { key: 'Enter', code: 'Enter', bubbles: true, cancelable: true });
    Object.defineProperty(enter, 'timeStamp', { value: t + 3 });
    input.dispatchEvent(enter);
    expect(onScan).not.toHaveBeenCalled();
    expect(enter.defaultPrevented).toBe(false);
    detach();
  });
});

describe('ScanDetector under a busy web view', () => {
  it('tolerates the odd slow key in the middle of a scan', () => {
    const d = new ScanDetector();
    const code = 'FD7K2M9QX4RT8';
    let t = 0;
    code.split('').forEach((ch, i) => d.key({ key: ch, code: codeOf(ch), timeStamp: (t += i === 6 ? 90 : 3) }));
    expect(d.key({ key: 'Enter', code: 'Enter', timeStamp: t + 3 })).toEqual({ kind: 'scan', payload: code, start: 0 });
  });

  it('keeps keys a person typed just before the scan out of it', () => {
    const d = new ScanDetector();
    d.key({ key: 'a', code: 'KeyA', timeStamp: 0 });
    d.key({ key: 'b', code: 'KeyB', timeStamp: 120 });
    const v = feed(d, 'MC12345678', 4, 220);
    expect(v.at(-1)).toEqual({ kind: 'scan', payload: 'MC12345678', start: 2 });
  });

  it('never takes Chinese text for a scan, however fast it arrives', () => {
    const d = new ScanDetector();
    expect(feed(d, '医生外出会诊', 2).at(-1)).toEqual({ kind: 'pass' });
  });

  it('never takes steady fast typing (80 ms a key) for a scan', () => {
    const d = new ScanDetector();
    expect(feed(d, '1234567890', 80).at(-1)).toEqual({ kind: 'pass' });
  });
});
