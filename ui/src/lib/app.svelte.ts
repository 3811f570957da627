// The app's state: language, who is signed in, which screen is up, the sync state, the last
// scan, and a one-line notice. Screens read it; actions go through the backend.

import { type ApiError, type AppInfo, type Backend, type StaffView, type SyncStatus, toApiError } from './backend';
import { type Lang, type MessageKey, langOfLocale, translate, translateDynamic } from './i18n';
import { WalkInFlow } from './walkin.svelte';
import { ConflictInbox } from './conflicts.svelte';
import { LeaseDesk } from './leases.svelte';
import { QueueDesk } from './queue.svelte';

export type Screen = 'board' | 'walkin' | 'checkin' | 'bookings' | 'sync' | 'admin' | 'queue';

export const SCREENS: { id: Screen; key: string; label: MessageKey; admin?: boolean }[] = [
  { id: 'board', key: 'F1', label: 'navBoard' },
  { id: 'walkin', key: 'F2', label: 'navWalkIn' },
  { id: 'checkin', key: 'F3', label: 'navCheckIn' },
  { id: 'bookings', key: 'F4', label: 'navBookings' },
  { id: 'sync', key: 'F5', label: 'navSync' },
  { id: 'admin', key: 'F6', label: 'navAdmin', admin: true },
  { id: 'queue', key: 'F7', label: 'navQueue' },
];

export type Notice = { kind: 'ok' | 'error' | 'info'; text: string; code?: string };

export class AppStore {
  readonly backend: Backend;
  lang = $state<Lang>(langOfLocale(typeof navigator === 'undefined' ? 'zh' : navigator.language));
  info = $state<AppInfo | null>(null);
  staff = $state<StaffView | null>(null);
  screen = $state<Screen>('board');
  status = $state<SyncStatus | null>(null);
  notice = $state<Notice | null>(null);
  /** Walk-in registration in progress (kept while the nurse looks at other screens). */
  readonly walkIn: WalkInFlow;
  readonly inbox: ConflictInbox;
  /** This desk's reserved numbers (capacity leases) and their actions. */
  readonly leases: LeaseDesk;
  /** The waiting-room queues and their keys (kept while the nurse looks at other screens). */
  readonly queue: QueueDesk;
  /** Bumped whenever bookings change, so lists reload. */
  revision = $state(0);
  loadError = $state<ApiError | null>(null);
  /** A sync started by the user (F9) is running. */
  syncing = $state(false);
  private unlisten: (() => void) | null = null;

  constructor(backend: Backend) {
    this.backend = backend;
    this.walkIn = new WalkInFlow(backend);
    this.inbox = new ConflictInbox(this);
    this.leases = new LeaseDesk(this);
    this.queue = new QueueDesk(this);
  }

  t = (key: MessageKey): string => translate(this.lang, key);
  td = (key: string): string => translateDynamic(this.lang, key);

  get isAdmin(): boolean {
    return this.staff?.role === 'admin';
  }

  async init(): Promise<void> {
    try {
      const info = await this.backend.appInfo();
      this.info = info;
      this.lang = info.lang;
      this.staff = info.staff;
      this.unlisten ??= await this.backend.onSyncStatus((s) => {
        this.status = s;
      });
      if (this.staff) await this.refreshStatus();
    } catch (e) {
      this.loadError = toApiError(e);
    }
  }

  async startDemo(): Promise<void> {
    this.info = await this.backend.setupDemo();
  }

  async enroll(server: string, code: string, name: string): Promise<void> {
    this.info = await this.backend.enroll(server, code, name.trim() === '' ? null : name);
  }

  async signIn(staffId: string, password: string): Promise<void> {
    this.staff = await this.backend.signIn(staffId, password);
    this.screen = 'board';
    this.notice = null;
    await this.refreshStatus();
  }

  async createFirstAdmin(staffId: string, displayName: string, password: string): Promise<void> {
    this.staff = await this.backend.createFirstAdmin(staffId, displayName, password);
    this.info = await this.backend.appInfo();
    this.screen = 'board';
    await this.refreshStatus();
  }

  async signOut(): Promise<void> {
    await this.backend.signOut();
    this.staff = null;
    this.status = null;
  }

  async setLang(lang: Lang): Promise<void> {
    this.lang = await this.backend.setLang(lang);
  }

  async toggleLang(): Promise<void> {
    await this.setLang(this.lang === 'zh' ? 'en' : 'zh');
  }

  go(screen: Screen): void {
    if (screen === 'admin' && !this.isAdmin) {
      this.notify('error', this.t('adminOnly'), 'forbidden');
      return;
    }
    if (screen !== this.screen) this.notice = null;
    this.screen = screen;
  }

  notify(kind: Notice['kind'], text: string, code?: string): void {
    this.notice = { kind, text, code };
  }

  fail(e: unknown): ApiError {
    const err = toApiError(e);
    this.notify('error', err.message, err.code);
    return err;
  }

  changed(): void {
    this.revision += 1;
    void this.refreshStatus();
  }

  /** Syncs now (F9, the sync panel's button) instead of waiting for the background sync. */
  async syncNow(): Promise<void> {
    if (this.syncing) return;
    this.syncing = true;
    try {
      this.status = await this.backend.syncNow();
      this.notify('ok', this.t('syncDone'));
    } catch (e) {
      this.fail(e);
      await this.refreshStatus();
    } finally {
      this.syncing = false;
      // Bookings and conflicts may have changed either way.
      this.revision += 1;
    }
  }

  async refreshStatus(): Promise<void> {
    try {
      this.status = await this.backend.syncStatus();
    } catch {
      // The status line is informative only; a failure here must not block the desk.
    }
  }

  /**
   * A scanner burst, wherever focus was. Tickets check in (or, on the bookings screen, are
   * looked up there); patient cards and IDs go to walk-in registration.
   */
  async handleScan(payload: string): Promise<void> {
    if (!this.staff) return;
    try {
      const result = await this.backend.scan(payload);
      if (result.kind === 'ticket') {
        if (this.screen === 'bookings' && result.booking) {
          this.notify('info', `${this.t('ticketCode')} ${result.value}`);
          this.lastTicket = result.value;
          return;
        }
        this.screen = 'checkin';
        await this.checkIn(result.value);
        return;
      }
      this.screen = 'walkin';
      this.notice = null;
      await this.walkIn.fromScan(result);
    } catch (e) {
      this.fail(e);
    }
  }

  /** The ticket code last scanned on the bookings screen. */
  lastTicket = $state<string | null>(null);
  /** Check-ins of this sitting, newest first. */
  checkIns = $state<import('./backend').BookingInfo[]>([]);

  async checkIn(code: string): Promise<boolean> {
    try {
      const b = await this.backend.checkIn(code);
      this.checkIns = [b, ...this.checkIns].slice(0, 20);
      this.notify('ok', `${this.t('checkedIn')}${this.t('colon')}${b.patientNameMasked} · ${b.departmentName} · ${this.t('queueNo')} ${b.queueNo}`);
      this.changed();
      return true;
    } catch (e) {
      this.fail(e);
      return false;
    }
  }
}
