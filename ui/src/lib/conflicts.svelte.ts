// The conflict inbox's actions, so they can be driven (and tested) without the screen: one
// action resolves a conflict; giving a booking up prints the notice for the patient, and a
// notice that did not print can be printed again.

import type { AppStore } from './app.svelte';
import type { ConflictAction, ConflictView, PrintOutcome } from './backend';

export class ConflictInbox {
  private readonly store: AppStore;
  /** The notice for the patient of the booking given up last. */
  notice = $state<string | null>(null);
  /** Which conflict that notice belongs to. */
  noticeConflict = $state<number | null>(null);
  /** What the printer did with the notice. */
  noticePrint = $state<PrintOutcome | null>(null);

  constructor(store: AppStore) {
    this.store = store;
  }

  /** Resolves `c` with one action; false when it was refused (the reason is shown). */
  async resolve(c: ConflictView, action: ConflictAction): Promise<boolean> {
    try {
      const done = await this.store.backend.resolveConflict(c.id, action);
      this.notice = done.notice;
      this.noticeConflict = done.notice ? c.id : null;
      this.noticePrint = done.notice ? done.print : null;
      if (done.booking) {
        const b = done.booking;
        const t = (k: Parameters<AppStore['t']>[0]) => this.store.t(k);
        this.store.notify('ok', `${t('bookedTitle')}${t('colon')}${b.patientNameMasked} · ${b.departmentName} · ${t('queueNo')} ${b.queueNo}`);
      }
      this.store.changed();
      return true;
    } catch (e) {
      this.store.fail(e);
      return false;
    }
  }

  /** Prints the notice of a booking given up again (the last one, or conflict `id`). */
  async printNotice(id: number | null = this.noticeConflict): Promise<boolean> {
    if (id === null) return false;
    try {
      this.noticePrint = await this.store.backend.printNotice(id);
      this.noticeConflict = id;
      return this.noticePrint.printed;
    } catch (e) {
      this.store.fail(e);
      return false;
    }
  }
}
