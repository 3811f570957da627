// Single-key shortcuts (digits, letters) must not fire on the characters of a scanner burst.
// A shortcut key is therefore acted on only after a short quiet time with no further
// character: a person presses one key, a scanner types many within milliseconds. And the last
// character of a burst — a ticket code ending in P, N or a digit, whose Enter may follow up to
// `maxEnterGapMs` later — is never a shortcut: a key that ends a run of scanner-fast
// characters as long as a scan is part of that scan.

import { DEFAULT_SCAN_OPTIONS, charOf } from './scanner';

let charCount = 0;
/** When the last character key came (the event's timeStamp). */
let lastAt = Number.NEGATIVE_INFINITY;
/** Characters in the current run of scanner-fast keys, the last one included. */
let run = 0;
/** Keys a scanner may send between the characters of one scan (Shift for capitals). */
const MODIFIERS = new Set(['Shift', 'Control', 'Alt', 'Meta', 'CapsLock', 'AltGraph']);

/** Counts every character key (capture phase), installed once by `installShortcutGuard`. */
export function noteKey(e: { key: string; code: string; timeStamp: number; shiftKey?: boolean }): void {
  if (charOf(e) === null) {
    // Enter (or any other key that is no character and no modifier) ends a scan: a key after it
    // starts a new run, however soon it comes.
    if (!MODIFIERS.has(e.key)) {
      run = 0;
      lastAt = Number.NEGATIVE_INFINITY;
    }
    return;
  }
  charCount += 1;
  run = e.timeStamp - lastAt <= DEFAULT_SCAN_OPTIONS.leadGapMs ? run + 1 : 1;
  lastAt = e.timeStamp;
}

export function installShortcutGuard(target: Window): () => void {
  const onKey = (e: KeyboardEvent) => noteKey(e);
  target.addEventListener('keydown', onKey, { capture: true });
  return () => target.removeEventListener('keydown', onKey, { capture: true });
}

/**
 * Runs `action` unless another character key arrives within the scanner's gap, or the key that
 * asked for it ended a scanner burst (call it from the key's own handler, after `noteKey`).
 */
export function deferShortcut(action: () => void, quietMs = DEFAULT_SCAN_OPTIONS.leadGapMs + 20): void {
  if (run >= DEFAULT_SCAN_OPTIONS.minLength) return;
  const at = charCount;
  setTimeout(() => {
    if (charCount === at) action();
  }, quietMs);
}
