// Calling patients from the desk or a consultation room, keyboard first: which session's queue
// is up, which waiting patient is selected, and what each key does. Every action is an op of
// the desk engine (offline too); the queue shown is the engine's answer.

import type { AppStore } from './app.svelte';
import type { QueueActed, QueueActionView, QueueEntryView, SessionQueueView } from './bindings';

/** The keys of the queue screen (single keys act after the scanner's quiet time). */
export const QUEUE_KEYS: { key: string; action: QueueKeyAction; label: string }[] = [
  { key: 'Enter', action: 'call_selected', label: 'queueCallSelected' },
  { key: 'N', action: 'call_next', label: 'queueCallNext' },
  { key: 'R', action: 'recall', label: 'queueRecall' },
  { key: 'S', action: 'skip', label: 'queueSkip' },
  { key: 'D', action: 'seen', label: 'queueSeen' },
  { key: 'E', action: 'to_end', label: 'queueToEnd' },
];

export type QueueKeyAction = 'call_selected' | 'call_next' | 'recall' | 'skip' | 'seen' | 'to_end';

/** What a key does on the queue screen, or null for a key it does not use. */
export function queueKeyAction(e: { key: string; ctrlKey?: boolean; altKey?: boolean; metaKey?: boolean }): QueueKeyAction | null {
  if (e.ctrlKey || e.altKey || e.metaKey) return null;
  if (e.key === 'Enter') return 'call_selected';
  const found = QUEUE_KEYS.find((k) => k.key.length === 1 && k.key === e.key.toUpperCase());
  return found ? found.action : null;
}

/** `内科 3诊室` / `Internal Medicine, room 3`: how a session is named in the queue lists. */
export function sessionLabel(q: Pick<SessionQueueView, 'departmentName' | 'departmentNameEn' | 'room'>, lang: 'zh' | 'en'): string {
  if (lang === 'zh') return q.room === null ? q.departmentName : `${q.departmentName} ${q.room}诊室`;
  return q.room === null ? q.departmentNameEn : `${q.departmentNameEn}, room ${q.room}`;
}

export class QueueDesk {
  private readonly store: AppStore;
  /** Today's queues, as last loaded. */
  sessions = $state<SessionQueueView[]>([]);
  /** The session whose queue is up. */
  sessionId = $state<string | null>(null);
  /** The selected waiting patient (index into `current.waiting`). */
  selected = $state(0);
  /** An action is under way (keys wait for it). */
  busy = $state(false);
  /** The one session shown (the consultation-room view), or every queue of today. */
  private only: string | undefined;

  constructor(store: AppStore) {
    this.store = store;
  }

  get current(): SessionQueueView | null {
    return this.sessions.find((s) => s.sessionId === this.sessionId) ?? this.sessions[0] ?? null;
  }

  get selectedEntry(): QueueEntryView | null {
    const q = this.current;
    if (!q || q.waiting.length === 0) return null;
    return q.waiting[Math.min(this.selected, q.waiting.length - 1)] ?? null;
  }

  /** Loads today's queues; `only` keeps one session (the consultation-room view). */
  async load(only?: string): Promise<void> {
    this.only = only;
    try {
      const all = only ? [await this.store.backend.queue(only)] : await this.store.backend.queues();
      this.sessions = all;
      if (!this.sessionId || !all.some((s) => s.sessionId === this.sessionId)) this.sessionId = all[0]?.sessionId ?? null;
      this.clampSelection();
    } catch (e) {
      this.store.fail(e);
    }
  }

  /** Shows the next (`+1`) or previous (`-1`) session's queue. */
  moveSession(delta: number): void {
    if (this.sessions.length === 0) return;
    const at = Math.max(0, this.sessions.findIndex((s) => s.sessionId === this.current?.sessionId));
    const next = (at + delta + this.sessions.length) % this.sessions.length;
    this.sessionId = this.sessions[next].sessionId;
    this.selected = 0;
  }

  /** Moves the selection among the waiting patients. */
  moveSelection(delta: number): void {
    this.selected += delta;
    this.clampSelection();
  }

  private clampSelection(): void {
    const n = this.current?.waiting.length ?? 0;
    this.selected = n === 0 ? 0 : Math.max(0, Math.min(this.selected, n - 1));
  }

  /** Does what a key asks, on the current queue. */
  async run(action: QueueKeyAction): Promise<void> {
    const q = this.current;
    if (!q || this.busy) return;
    switch (action) {
      case 'call_next':
        return this.apply(() => this.store.backend.callNext(q.sessionId));
      case 'call_selected': {
        const e = this.selectedEntry;
        if (!e) return this.apply(() => this.store.backend.callNext(q.sessionId));
        return this.act(e.bookingId, 'call');
      }
      case 'to_end': {
        const e = this.selectedEntry;
        if (!e) return this.nothing('queueNobodyWaiting');
        return this.act(e.bookingId, 'to_end');
      }
      default: {
        if (!q.called) return this.nothing('queueNobodyCalled');
        return this.act(q.called.bookingId, action);
      }
    }
  }

  /** Dismisses a notice of an action the platform did not take. */
  async dismiss(conflictId: number): Promise<void> {
    try {
      await this.store.backend.resolveConflict(conflictId, { kind: 'acknowledge' });
      await this.load(this.only);
      this.store.changed();
    } catch (e) {
      this.store.fail(e);
    }
  }

  /** One action on one booking (also the buttons' way in). */
  act(bookingId: string, action: QueueActionView): Promise<void> {
    return this.apply(() => this.store.backend.queueAct(bookingId, action));
  }

  private nothing(key: 'queueNobodyWaiting' | 'queueNobodyCalled'): void {
    this.store.notify('error', this.store.t(key), key === 'queueNobodyWaiting' ? 'nobody_waiting' : 'nobody_called');
  }

  private async apply(f: () => Promise<QueueActed>): Promise<void> {
    this.busy = true;
    try {
      const r = await f();
      this.sessions = this.sessions.map((s) => (s.sessionId === r.queue.sessionId ? r.queue : s));
      this.sessionId = r.queue.sessionId;
      this.clampSelection();
      if (r.call) {
        const who = r.queue.called?.patientNameMasked ?? '';
        const again = r.call.call > 1 ? ` (${this.store.t('queueCallCount')} ${r.call.call})` : '';
        this.store.notify('ok', `${this.store.t('queueCalled')}${this.store.t('colon')}${r.call.queueNo} ${who}${again}`);
      } else {
        this.store.notice = null;
      }
      this.store.changed();
    } catch (e) {
      this.store.fail(e);
      // The queue may have moved under this desk (a sync): show it as it is.
      await this.load(this.only);
    } finally {
      this.busy = false;
    }
  }
}
