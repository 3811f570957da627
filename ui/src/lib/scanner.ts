// Keyboard-wedge scanner detection. A USB scanner "types" its payload a few milliseconds per
// key and ends with Enter; a person cannot keep every gap that short. The detector looks only
// at keydown timing (event.timeStamp), wherever focus is, and reads each character from
// `event.key` — or from `event.code` when an input method is active (key "Process"), so a
// Chinese IME cannot swallow a scan. Composition events are ignored on purpose.

export interface KeyLike {
  key: string;
  code: string;
  timeStamp: number;
  shiftKey?: boolean;
  ctrlKey?: boolean;
  altKey?: boolean;
  metaKey?: boolean;
  isComposing?: boolean;
}

export interface ScanDetectorOptions {
  /** A longer gap between two characters ends a burst (ms). Generous, because a busy web
   *  view delivers even a scanner's keys with the odd 50–100 ms hiccup. */
  maxGapMs: number;
  /** A scan's average gap between characters is at most this (ms): no person keeps it up. */
  maxAvgGapMs: number;
  /** Leading characters separated by more than this (ms) were typed, not scanned. */
  leadGapMs: number;
  /** Longest gap between the last character and Enter (ms). */
  maxEnterGapMs: number;
  /** Fewest characters a scan has (shorter bursts are typing). */
  minLength: number;
}

export const DEFAULT_SCAN_OPTIONS: ScanDetectorOptions = {
  maxGapMs: 150,
  maxAvgGapMs: 35,
  leadGapMs: 50,
  maxEnterGapMs: 150,
  minLength: 6,
};

/** What the detector made of a key. */
export type KeyVerdict =
  | { kind: 'pass' }
  | { kind: 'char'; char: string; index: number; startsBurst: boolean }
  | { kind: 'scan'; payload: string; start: number };

const CODE_CHARS: Record<string, [string, string]> = {
  Minus: ['-', '_'],
  Equal: ['=', '+'],
  Period: ['.', '>'],
  Comma: [',', '<'],
  Slash: ['/', '?'],
  Semicolon: [';', ':'],
  Quote: ["'", '"'],
  BracketLeft: ['[', '{'],
  BracketRight: [']', '}'],
  Backslash: ['\\', '|'],
  Space: [' ', ' '],
};
const SHIFTED_DIGITS = ')!@#$%^&*(';

/** The character a key stands for, even when an IME reports key "Process". */
export function charOf(e: KeyLike): string | null {
  // Scanners type printable ASCII only; anything else (CJK text committed by an input method,
  // typed by a test driver) is a person's text.
  if (e.key.length === 1) return e.key >= ' ' && e.key <= '~' ? e.key : null;
  if (e.key !== 'Process' && e.key !== 'Unidentified') return null;
  const shift = !!e.shiftKey;
  let m = /^Digit(\d)$/.exec(e.code);
  if (m) return shift ? SHIFTED_DIGITS[Number(m[1])] : m[1];
  m = /^Numpad(\d)$/.exec(e.code);
  if (m) return m[1];
  m = /^Key([A-Z])$/.exec(e.code);
  if (m) return shift ? m[1] : m[1].toLowerCase();
  const pair = CODE_CHARS[e.code];
  return pair ? pair[shift ? 1 : 0] : null;
}

export function isEnter(e: KeyLike): boolean {
  return e.key === 'Enter' || e.code === 'Enter' || e.code === 'NumpadEnter';
}

export class ScanDetector {
  private chars: string[] = [];
  private times: number[] = [];
  readonly options: ScanDetectorOptions;

  constructor(options: Partial<ScanDetectorOptions> = {}) {
    this.options = { ...DEFAULT_SCAN_OPTIONS, ...options };
  }

  /** Feeds one keydown; says whether it is part of a burst and when a scan is complete. */
  key(e: KeyLike): KeyVerdict {
    if (e.ctrlKey || e.altKey || e.metaKey) {
      this.reset();
      return { kind: 'pass' };
    }
    const t = e.timeStamp;
    if (isEnter(e)) {
      const found = this.evaluate(t);
      this.reset();
      return found ? { kind: 'scan', ...found } : { kind: 'pass' };
    }
    const c = charOf(e);
    if (c === null) {
      // Shift alone is part of typing an upper-case letter; anything else ends a burst.
      if (e.key !== 'Shift') this.reset();
      return { kind: 'pass' };
    }
    const last = this.times[this.times.length - 1];
    if (last !== undefined && t - last > this.options.maxGapMs) this.reset();
    this.chars.push(c);
    this.times.push(t);
    const index = this.chars.length - 1;
    return { kind: 'char', char: c, index, startsBurst: index === 0 };
  }

  /** The scan ending at an Enter at time `t`, if the burst is one. */
  private evaluate(t: number): { payload: string; start: number } | null {
    const n = this.chars.length;
    if (n === 0 || t - this.times[n - 1] > this.options.maxEnterGapMs) return null;
    // Slow leading keys were typed by a person just before the scanner fired.
    let s = 0;
    while (s < n - 1 && this.times[s + 1] - this.times[s] > this.options.leadGapMs) s += 1;
    const len = n - s;
    if (len < this.options.minLength) return null;
    const avg = (this.times[n - 1] - this.times[s]) / (len - 1);
    if (avg > this.options.maxAvgGapMs) return null;
    return { payload: this.chars.slice(s).join(''), start: s };
  }

  reset(): void {
    this.chars = [];
    this.times = [];
  }
}

type Editable = HTMLInputElement | HTMLTextAreaElement;

function editable(el: Element | null): Editable | null {
  if (el instanceof HTMLTextAreaElement) return el;
  if (el instanceof HTMLInputElement && !['checkbox', 'radio', 'button', 'submit'].includes(el.type)) return el;
  return null;
}

/**
 * Listens on `target` (the window) in the capture phase. When a burst turns out to be a scan,
 * the Enter is swallowed, whatever the burst typed into the focused field is taken out again,
 * and `onScan` gets the payload.
 */
export function attachScanner(
  target: Window,
  onScan: (payload: string) => void,
  options: Partial<ScanDetectorOptions> = {},
  enabled: () => boolean = () => true,
): () => void {
  const detector = new ScanDetector(options);
  let field: Editable | null = null;
  // The focused field's value before each character of the burst, to put back what the
  // scanner typed (and only that: keys a person typed before it stay).
  let before: string[] = [];
  const onKey = (ev: KeyboardEvent) => {
    const verdict = detector.key(ev);
    if (verdict.kind === 'char') {
      if (verdict.startsBurst) {
        field = editable(target.document.activeElement);
        before = [];
      }
      before[verdict.index] = field?.value ?? '';
    } else if (verdict.kind === 'scan') {
      // Nothing to route before sign-in, and a password (or a password manager typing it)
      // is never a scan.
      const active = target.document.activeElement;
      if (!enabled() || (active instanceof HTMLInputElement && active.type === 'password')) return;
      ev.preventDefault();
      ev.stopImmediatePropagation();
      const restore = before[verdict.start];
      if (field && restore !== undefined && field.value !== restore) {
        field.value = restore;
        field.dispatchEvent(new Event('input', { bubbles: true }));
      }
      field = null;
      onScan(verdict.payload);
    }
  };
  target.addEventListener('keydown', onKey, { capture: true });
  return () => target.removeEventListener('keydown', onKey, { capture: true });
}
