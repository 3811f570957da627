// Single-key shortcuts (digits, letters) must not fire on the characters of a scanner burst.
// A shortcut key is therefore acted on only after a short quiet time with no further
// character: a person presses one key, a scanner types many within milliseconds.

import { DEFAULT_SCAN_OPTIONS, charOf } from './scanner';

let charCount = 0;

/** Counts every character key (capture phase), installed once by `installShortcutGuard`. */
export function noteKey(e: { key: string; code: string; timeStamp: number; shiftKey?: boolean }): void {
  if (charOf(e) !== null) charCount += 1;
}

export function installShortcutGuard(target: Window): () => void {
  const onKey = (e: KeyboardEvent) => noteKey(e);
  target.addEventListener('keydown', onKey, { capture: true });
  return () => target.removeEventListener('keydown', onKey, { capture: true });
}

/** Runs `action` unless another character key arrives within the scanner's gap. */
export function deferShortcut(action: () => void, quietMs = DEFAULT_SCAN_OPTIONS.leadGapMs + 20): void {
  const at = charCount;
  setTimeout(() => {
    if (charCount === at) action();
  }, quietMs);
}
