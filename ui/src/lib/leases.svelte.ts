// This desk's reserved numbers (capacity leases): numbers the platform leased to this desk, so
// a booking from one of them is guaranteed even offline. What the board and the walk-in screen
// count, and the sync panel's actions (top up now, give a session's numbers back), so they can
// be driven and tested without a screen.

import type { AppStore } from './app.svelte';
import type { BoardView, LeaseNumberView, SessionLeaseView } from './backend';

/** What this desk can book in a session or slot now: free desk numbers plus its own reserved ones. */
export function bookableHere(x: { remainingDesk: number; guaranteed: number }): number {
  return x.remainingDesk + x.guaranteed;
}

/** Reserved numbers this desk can spend on the board's day, over every department or one (by code). */
export function guaranteedOnBoard(board: BoardView | null, departmentCode?: string): number {
  if (!board) return 0;
  return board.departments
    .filter((d) => departmentCode === undefined || d.code === departmentCode)
    .reduce((n, d) => n + d.providers.reduce((m, p) => m + p.sessions.reduce((k, s) => k + s.guaranteed, 0), 0), 0);
}

/**
 * A lease time as the clinic's wall clock: the backend sends RFC 3339 with the site's offset
 * (`2026-11-23T08:08:00+08:00`), read as is whatever zone the computer is in. `HH:MM` on the
 * site's `today`, `MM-DD HH:MM` on another day, `—` for none.
 */
export function siteClock(ts: string | null | undefined, today: string | null | undefined): string {
  const m = ts ? /^(\d{4}-(\d{2}-\d{2}))T(\d{2}:\d{2})/.exec(ts) : null;
  if (!m) return '—';
  return m[1] === today ? m[3] : `${m[2]} ${m[3]}`;
}

export class LeaseDesk {
  private readonly store: AppStore;
  /** Every number reserved for this desk, as last loaded. */
  numbers = $state<LeaseNumberView[]>([]);
  /** A top-up or give-back is under way. */
  busy = $state(false);
  /** The sync panel lists every number (kept while the nurse visits other screens). */
  showNumbers = $state(false);
  /** The session whose give-back waits for the nurse to confirm it. */
  confirming = $state<string | null>(null);

  constructor(store: AppStore) {
    this.store = store;
  }

  /** The sessions with reserved numbers, from the last sync state. */
  get sessions(): SessionLeaseView[] {
    return this.store.status?.leases.sessions ?? [];
  }

  async load(): Promise<void> {
    try {
      this.numbers = await this.store.backend.leases();
    } catch (e) {
      this.store.fail(e);
    }
  }

  /** Asks the platform for more reserved numbers now; false when that failed (e.g. offline: the reason is shown). */
  async topUp(): Promise<boolean> {
    if (this.busy) return false;
    this.busy = true;
    try {
      const done = await this.store.backend.topUpLeases();
      this.store.status = done.status;
      const t = this.store.t;
      // Nothing new when this desk already holds its share (the sync tops it up by itself).
      this.store.notify('ok', done.granted > 0 ? `${t('leaseGranted')}${t('colon')}${done.granted}` : t('leaseFull'));
      this.store.changed();
      await this.load();
      return true;
    } catch (e) {
      this.store.fail(e);
      return false;
    } finally {
      this.busy = false;
    }
  }

  /** First step of giving a session's numbers back: the nurse confirms (or `cancel()`). */
  ask(sessionId: string): void {
    this.confirming = sessionId;
  }

  cancel(): void {
    this.confirming = null;
  }

  /** Gives every unspent reserved number of the session being confirmed back; false when refused. */
  async giveBack(): Promise<boolean> {
    const session = this.confirming;
    if (session === null || this.busy) return false;
    this.busy = true;
    try {
      const given = await this.store.backend.giveBackLeases(session, []);
      const t = this.store.t;
      if (given.length === 0) this.store.notify('info', t('leaseNoneToGiveBack'));
      else {
        // Offline, the platform hears of it with the next sync.
        const later = this.store.status?.online === true ? '' : t('leaseGiveBackLater');
        this.store.notify('ok', `${t('leaseGivenBack')}${t('colon')}${given.join(', ')}${later}`);
      }
      this.confirming = null;
      this.store.changed();
      await this.load();
      return true;
    } catch (e) {
      this.store.fail(e);
      return false;
    } finally {
      this.busy = false;
    }
  }
}
