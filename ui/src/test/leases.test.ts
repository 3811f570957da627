import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { flushSync, mount, unmount } from 'svelte';
import { AppStore } from '../lib/app.svelte';
import { WalkInFlow } from '../lib/walkin.svelte';
import { BackendError } from '../lib/backend';
import type { BoardView } from '../lib/backend';
import { bookingMark } from '../lib/bookings';
import { bookableHere, guaranteedOnBoard, siteClock } from '../lib/leases.svelte';
import { translate } from '../lib/i18n';
import BookingMark from '../components/BookingMark.svelte';
import { FakeBackend } from './fake-backend';

describe('the "not yet confirmed" mark follows guaranteed', () => {
  it('marks only bookings that are neither confirmed nor from this desk\'s reserved numbers', () => {
    expect(bookingMark({ confirmed: false, guaranteed: false })).toBe('unconfirmed');
    expect(bookingMark({ confirmed: false, guaranteed: true })).toBe('guaranteed');
    expect(bookingMark({ confirmed: true, guaranteed: true })).toBe('confirmed');
  });

  describe('BookingMark', () => {
    let target: HTMLElement;
    let component: ReturnType<typeof mount> | null = null;
    const t = (key: Parameters<typeof translate>[1]) => translate('zh', key);
    beforeEach(() => {
      target = document.createElement('div');
      document.body.append(target);
    });
    afterEach(() => {
      if (component) unmount(component);
      component = null;
      target.remove();
    });

    it.each([
      [{ confirmed: false, guaranteed: false }, 'unconfirmed', '待平台确认'],
      [{ confirmed: false, guaranteed: true }, 'guaranteed', '已保证'],
      [{ confirmed: true, guaranteed: true }, 'confirmed', '已确认'],
    ])('%o is shown as %s', (booking, mark, text) => {
      component = mount(BookingMark, { target, props: { booking, t, withId: true } });
      flushSync();
      const badge = target.querySelector('[data-mark]');
      expect(badge?.getAttribute('data-mark')).toBe(mark);
      expect(badge?.id).toBe(mark);
      expect(badge?.textContent).toContain(text);
      // A guaranteed booking never shows the mark, not even in part.
      if (mark !== 'unconfirmed') expect(target.textContent).not.toContain('待平台确认');
    });
  });
});

describe('counting reserved numbers', () => {
  const board = (sessions: { dept: string; remainingDesk: number; guaranteed: number }[]): BoardView => ({
    date: '2026-11-23',
    now: '07:30',
    departments: ['NK', 'EK'].map((code) => ({
      id: code,
      code,
      name: code,
      nameEn: code,
      providers: [{
        id: `${code}-1`, name: '医生', title: '', feeFen: 0,
        sessions: sessions.filter((s) => s.dept === code).map((s, i) => ({
          id: `${code}-s${i}`, period: 'morning' as const, status: 'open' as const, statusReason: null, remainingDesk: s.remainingDesk,
          remainingOnline: 0, booked: 0, capacity: 48, guaranteed: s.guaranteed, start: '08:00', end: '12:00', slots: [],
        })),
      }],
    })),
  });

  it('adds this desk\'s reserved numbers to what it can book, per department and in total', () => {
    expect(bookableHere({ remainingDesk: 0, guaranteed: 2 })).toBe(2);
    expect(bookableHere({ remainingDesk: 4, guaranteed: 0 })).toBe(4);
    const b = board([
      { dept: 'NK', remainingDesk: 4, guaranteed: 12 },
      { dept: 'NK', remainingDesk: 2, guaranteed: 3 },
      { dept: 'EK', remainingDesk: 0, guaranteed: 1 },
    ]);
    expect(guaranteedOnBoard(b)).toBe(16);
    expect(guaranteedOnBoard(b, 'NK')).toBe(15);
    expect(guaranteedOnBoard(b, 'EK')).toBe(1);
    expect(guaranteedOnBoard(b, 'KQ')).toBe(0);
    expect(guaranteedOnBoard(null)).toBe(0);
  });

  it('reads lease times as the clinic\'s wall clock', () => {
    expect(siteClock('2026-11-23T08:08:00+08:00', '2026-11-23')).toBe('08:08');
    expect(siteClock('2026-11-24T13:20:00+08:00', '2026-11-23')).toBe('11-24 13:20');
    expect(siteClock(null, '2026-11-23')).toBe('—');
  });
});

describe('walk-in with reserved numbers (fake backend)', () => {
  let backend: FakeBackend;
  let flow: WalkInFlow;
  beforeEach(async () => {
    backend = new FakeBackend();
    backend.leasePolicy = true;
    backend.reserved = [5, 6];
    backend.remaining = 0;
    await backend.signIn('nurse', 'nurse123');
    flow = new WalkInFlow(backend);
  });

  it('shows what is reserved here, books from it as guaranteed, and counts down for the next patient', async () => {
    await flow.search('zs');
    await flow.confirmFind();
    await flow.chooseDepartment('NK');
    expect(flow.departments.find((d) => d.code === 'NK')).toMatchObject({ remaining: 0, guaranteed: 2 });
    expect(flow.guaranteedToday).toBe(2);
    expect(flow.options[0]).toMatchObject({ remaining: 0, guaranteed: 2 });
    expect(await flow.book()).toBe(true);
    const booked = flow.booked!.booking;
    expect(booked).toMatchObject({ confirmed: false, leased: true, guaranteed: true, queueNo: 5 });
    expect(bookingMark(booked)).toBe('guaranteed');

    // The next patient sees one reserved number left; once they are spent, bookings are tentative again.
    flow.reset();
    flow.startNew({ name: '王五', documentNumber: '110101199003070011' });
    expect(await flow.submitForm()).toBe(true);
    expect(flow.guaranteedToday).toBe(1);
    expect(flow.options[0].guaranteed).toBe(1);
    await flow.book();
    expect(bookingMark(flow.booked!.booking)).toBe('guaranteed');
    backend.remaining = 2;
    flow.reset();
    flow.startNew({ name: '赵六', documentNumber: '110101199003070038' });
    expect(await flow.submitForm()).toBe(true);
    expect(flow.guaranteedToday).toBe(0);
    await flow.book();
    expect(bookingMark(flow.booked!.booking)).toBe('unconfirmed');
  });
});

describe('the sync panel\'s reserved numbers (fake backend)', () => {
  let backend: FakeBackend;
  let store: AppStore;
  beforeEach(async () => {
    backend = new FakeBackend();
    backend.leasePolicy = true;
    store = new AppStore(backend);
    await store.init();
    await store.signIn('nurse', 'nurse123');
  });

  it('tops up now: the new counts, the numbers and what the platform granted', async () => {
    expect(store.status?.leases).toMatchObject({ enabled: true, held: 0, wantsTopUp: true });
    const revision = store.revision;
    expect(await store.leases.topUp()).toBe(true);
    expect(backend.calls).toContain('topUpLeases');
    expect(store.status?.leases).toMatchObject({ held: 2, wantsTopUp: false });
    expect(store.leases.numbers.map((n) => [n.queueNo, n.state])).toEqual([[5, 'usable'], [6, 'usable']]);
    expect(store.notice).toMatchObject({ kind: 'ok', text: '平台新分配保留号：2' });
    expect(store.revision).toBeGreaterThan(revision);
    expect(store.leases.busy).toBe(false);
    // Asking again when the desk holds its share brings nothing new, and says so.
    backend.topUpGrant = 0;
    expect(await store.leases.topUp()).toBe(true);
    expect(store.notice).toMatchObject({ kind: 'ok', text: '本机保留号已满额，平台没有新分配' });
    expect(store.status?.leases.held).toBe(2);
  });

  it('a top-up that cannot reach the platform says so by its code and changes nothing', async () => {
    backend.leaseFailure = new BackendError({ code: 'offline', message: '连不上平台', fields: [], suggestion: null });
    expect(await store.leases.topUp()).toBe(false);
    expect(store.notice?.code).toBe('offline');
    expect(store.status?.leases.held).toBe(0);
    expect(store.leases.busy).toBe(false);
  });

  it('gives a session\'s numbers back only once the nurse confirms, and says the platform hears later when offline', async () => {
    await store.leases.topUp();
    expect(await store.leases.giveBack()).toBe(false);
    store.leases.ask('s1');
    store.leases.cancel();
    expect(await store.leases.giveBack()).toBe(false);
    expect(backend.reserved).toEqual([5, 6]);

    store.leases.ask('s1');
    expect(store.leases.confirming).toBe('s1');
    expect(await store.leases.giveBack()).toBe(true);
    expect(backend.calls).toContain('giveBack:s1:');
    expect(store.leases.confirming).toBeNull();
    expect(store.notice?.text).toBe('已归还保留号：5, 6（下次同步时告知平台）');
    expect(store.leases.numbers.map((n) => n.state)).toEqual(['returning', 'returning']);
    await store.refreshStatus();
    expect(store.status?.leases).toMatchObject({ held: 0, unusable: 2 });

    // Nothing left to give back: said plainly, not as an error.
    store.leases.ask('s1');
    expect(await store.leases.giveBack()).toBe(true);
    expect(store.notice).toMatchObject({ kind: 'info', text: '该时段没有可归还的保留号' });
  });

  it('a refused give-back keeps the question open and shows the reason by its code', async () => {
    store.leases.ask('s-unknown');
    expect(await store.leases.giveBack()).toBe(false);
    expect(store.notice?.code).toBe('not_found');
    expect(store.leases.confirming).toBe('s-unknown');
  });
});
