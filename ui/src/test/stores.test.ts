import { beforeEach, describe, expect, it } from 'vitest';
import { AppStore } from '../lib/app.svelte';
import { WalkInFlow } from '../lib/walkin.svelte';
import { messages } from '../lib/i18n';
import { BackendError } from '../lib/backend';
import { FakeBackend } from './fake-backend';

describe('i18n', () => {
  it('has every message in both languages, none empty', () => {
    for (const [key, zh] of Object.entries(messages.zh)) {
      expect(zh, key).not.toBe('');
      expect(messages.en[key as keyof typeof messages.en], key).toBeTruthy();
    }
    expect(Object.keys(messages.en).sort()).toEqual(Object.keys(messages.zh).sort());
  });
});

describe('AppStore', () => {
  let backend: FakeBackend;
  let store: AppStore;
  beforeEach(async () => {
    backend = new FakeBackend();
    store = new AppStore(backend);
    await store.init();
  });

  it('follows the backend language and switches it', async () => {
    expect(store.lang).toBe('zh');
    expect(store.t('navBoard')).toBe('看板');
    await store.toggleLang();
    expect(store.lang).toBe('en');
    expect(store.t('navBoard')).toBe('Board');
    expect(backend.lang).toBe('en');
  });

  it('signs in and out; a nurse cannot open the admin screen', async () => {
    await store.signIn('nurse', 'nurse123');
    expect(store.staff?.role).toBe('nurse');
    store.go('admin');
    expect(store.screen).toBe('board');
    expect(store.notice?.code).toBe('forbidden');
    await store.signOut();
    expect(store.staff).toBeNull();
  });

  it('reports a failed sign-in by field code', async () => {
    await expect(store.signIn('nurse', 'nope')).rejects.toMatchObject({ code: 'invalid_input', fields: [{ code: 'sign_in_failed' }] });
    expect(store.staff).toBeNull();
  });

  it('routes a scanned medical card of a known patient to walk-in with the patient chosen', async () => {
    await store.signIn('nurse', 'nurse123');
    await store.handleScan('MC123456');
    expect(store.screen).toBe('walkin');
    expect(store.walkIn.patient?.name).toBe('张三');
    expect(store.walkIn.step).toBe('slot');
  });

  it('routes an unknown resident ID to a prefilled new-patient form', async () => {
    await store.signIn('nurse', 'nurse123');
    await store.handleScan('110101199003070011');
    expect(store.walkIn.step).toBe('form');
    expect(store.walkIn.values.documentNumber).toBe('110101199003070011');
  });

  it('checks a scanned ticket in wherever the nurse is, and explains a second scan', async () => {
    await store.signIn('nurse', 'nurse123');
    const { booking } = await backend.book('p1', 'sl1');
    store.screen = 'board';
    await store.handleScan(booking.ticketCode);
    expect(store.screen).toBe('checkin');
    expect(store.notice?.kind).toBe('ok');
    expect(store.checkIns[0].ticketCode).toBe(booking.ticketCode);
    await store.handleScan(booking.ticketCode);
    expect(store.notice).toMatchObject({ kind: 'error', code: 'already_checked_in' });
  });

  it('shows an unknown scan as an error with its code', async () => {
    await store.signIn('nurse', 'nurse123');
    await store.handleScan('???garbage');
    expect(store.notice).toMatchObject({ kind: 'error', code: 'scan_unknown' });
  });

  it('syncs now on request: the new status, or the failure by its code', async () => {
    await store.signIn('nurse', 'nurse123');
    await store.syncNow();
    expect(backend.calls).toContain('syncNow');
    expect(store.status?.online).toBe(true);
    expect(store.notice?.kind).toBe('ok');
    expect(store.syncing).toBe(false);
    backend.syncFailure = new BackendError({ code: 'offline', message: '连不上平台', fields: [], suggestion: null });
    const revision = store.revision;
    await store.syncNow();
    expect(store.notice?.code).toBe('offline');
    expect(store.revision).toBe(revision + 1);
    expect(store.syncing).toBe(false);
  });

  it('takes pushed sync status', async () => {
    await store.signIn('nurse', 'nurse123');
    backend.statusListeners.forEach((l) => l({ deviceId: 'd', siteName: null, staffId: 'nurse', patients: 1, bookingsToday: 0, server: null, online: null, lastSuccess: null, lastAttempt: null, lastError: null, pendingOps: 7, oldestPending: null, oldestPendingSecs: null, openConflicts: 0, openNotices: 0, outbox: [], leases: { enabled: true, held: 3, spent: 0, expiring: 0, unusable: 0, nextDeadline: null, wantsTopUp: false, sessions: [] } }));
    expect(store.status?.pendingOps).toBe(7);
    expect(store.status?.leases.held).toBe(3);
  });
});

describe('WalkInFlow', () => {
  let backend: FakeBackend;
  let flow: WalkInFlow;
  beforeEach(async () => {
    backend = new FakeBackend();
    await backend.signIn('nurse', 'nurse123');
    flow = new WalkInFlow(backend);
  });

  it('returning patient: search, pick, department, earliest slot, book', async () => {
    await flow.search('zs');
    expect(flow.results.map((p) => p.name)).toEqual(['张三']);
    await flow.confirmFind();
    expect(flow.step).toBe('slot');
    await flow.chooseDepartmentNumber(1);
    expect(flow.options[0].providerName).toBe('王建国');
    expect(await flow.book()).toBe(true);
    expect(flow.step).toBe('done');
    expect(flow.booked?.booking.confirmed).toBe(false);
    expect(flow.booked?.print.printed).toBe(true);
  });

  it('new patient: field errors keep every typed value and mark each bad field', async () => {
    await flow.search('李四');
    await flow.confirmFind();
    expect(flow.step).toBe('form');
    expect(flow.values.name).toBe('李四');
    flow.values.name = '';
    flow.values.documentNumber = '12345';
    flow.values.phone = '13800138000';
    expect(await flow.submitForm()).toBe(false);
    expect(flow.errors.name?.code).toBe('name_missing');
    expect(flow.errors.documentNumber?.code).toBe('resident_id_length');
    expect(flow.values.documentNumber).toBe('12345');
    expect(flow.values.phone).toBe('13800138000');
    flow.values.name = '李四';
    flow.values.documentNumber = '110101199003070011';
    expect(await flow.submitForm()).toBe(true);
    expect(flow.step).toBe('slot');
    expect(flow.errors).toEqual({});
  });

  it('an already registered document picks the existing patient', async () => {
    flow.startNew({ name: '张三', documentNumber: '11010119800101001X' });
    expect(await flow.submitForm()).toBe(true);
    expect(flow.existingPicked).toBe(true);
    expect(flow.patient?.id).toBe('p1');
  });

  it('a refused booking stays on the slot step with the error code', async () => {
    await backend.book('p1', 'sl1');
    await flow.search('zs');
    await flow.confirmFind();
    await flow.chooseDepartment('NK');
    expect(await flow.book()).toBe(false);
    expect(flow.step).toBe('slot');
    expect(flow.error?.code).toBe('patient_already_booked');
  });

  it('remembers the department for the next patient', async () => {
    await flow.search('zs');
    await flow.confirmFind();
    await flow.chooseDepartment('NK');
    await flow.book();
    flow.reset();
    flow.startNew({ name: '王五', documentNumber: '110101199003070011' });
    await flow.submitForm();
    expect(flow.department).toBe('NK');
    expect(flow.options).toHaveLength(1);
  });
});

describe('WalkInFlow keyboard queue', () => {
  it('a department key followed at once by Enter books in that department', async () => {
    const backend = new FakeBackend();
    await backend.signIn('nurse', 'nurse123');
    const flow = new WalkInFlow(backend);
    await flow.search('zs');
    await flow.confirmFind();
    await flow.loadDepartments();
    void flow.enqueue(() => flow.chooseDepartmentNumber(1));
    await flow.enqueue(() => flow.book());
    expect(flow.step).toBe('done');
    expect(backend.calls).toContain('book:p1:sl1');
  });
});

describe('WalkInFlow refusals', () => {
  it('books the suggested slot after a refusal', async () => {
    const backend = new FakeBackend();
    await backend.signIn('nurse', 'nurse123');
    const flow = new WalkInFlow(backend);
    await flow.search('zs');
    await flow.confirmFind();
    flow.error = { code: 'slot_full', message: '满', fields: [], suggestion: { slotId: 'sl2', sessionId: 's1', providerId: 'pr1', providerName: '王建国', providerTitle: '', departmentCode: 'NK', departmentName: '内科', departmentNameEn: 'IM', date: '2026-11-23', period: 'morning', start: '09:00', end: '09:30', remaining: 1, guaranteed: 0, feeFen: 0 } };
    expect(await flow.bookSuggestion()).toBe(true);
    expect(backend.calls).toContain('book:p1:sl2');
    expect(flow.step).toBe('done');
  });
});

describe('conflict inbox (fake backend)', () => {
  it('resolving a conflict by cancelling returns the notice for the patient', async () => {
    const backend = new FakeBackend();
    await backend.signIn('nurse', 'nurse123');
    backend.conflictList.push({ id: 1, kind: 'book', reason: 'slot_full', title: '号源已满', explanation: '平台上该时段已满', patientName: '张三', suggestions: [], errors: [], createdAt: '2026-11-23T00:40:00Z', resolvedAt: null, resolution: null });
    expect((await backend.syncStatus()).openConflicts).toBe(1);
    const done = await backend.resolveConflict(1, { kind: 'cancel' });
    expect(done.notice).toContain('改约');
    expect(await backend.conflicts(false)).toEqual([]);
  });

  it('giving a booking up prints the notice; a failed print can be printed again', async () => {
    const backend = new FakeBackend();
    await backend.signIn('nurse', 'nurse123');
    const conflict = (id: number) => ({ id, kind: 'book', reason: 'slot_full', title: '号源已满', explanation: '平台上该时段已满', patientName: '张三', suggestions: [], errors: [], createdAt: '2026-11-23T00:40:00Z', resolvedAt: null, resolution: null });
    backend.conflictList.push(conflict(1), conflict(2));
    const store = new AppStore(backend);
    expect(await store.inbox.resolve(conflict(1), { kind: 'cancel' })).toBe(true);
    expect(store.inbox.notice).toContain('改约');
    expect(store.inbox.noticePrint).toMatchObject({ printed: true, file: '/tmp/print/notice-1.pdf' });

    backend.printerWorks = false;
    expect(await store.inbox.resolve(conflict(2), { kind: 'cancel' })).toBe(true);
    expect(store.inbox.noticeConflict).toBe(2);
    expect(store.inbox.noticePrint?.printed).toBe(false);
    expect(store.inbox.noticePrint?.error?.code).toBe('printer_unreachable');
    // The resolution stands; the printer comes back and the same notice prints.
    expect((await backend.conflicts(false)).length).toBe(0);
    backend.printerWorks = true;
    expect(await store.inbox.printNotice()).toBe(true);
    expect(backend.calls).toContain('printNotice:2');
    expect(store.inbox.noticePrint).toMatchObject({ printed: true, reprint: true });
  });

  it('a rebooked conflict prints no notice and tells what was booked', async () => {
    const backend = new FakeBackend();
    await backend.signIn('nurse', 'nurse123');
    const c = { id: 3, kind: 'book', reason: 'slot_full', title: '号源已满', explanation: '', patientName: '张三', suggestions: [], errors: [], createdAt: '2026-11-23T00:40:00Z', resolvedAt: null, resolution: null };
    backend.conflictList.push(c);
    const store = new AppStore(backend);
    expect(await store.inbox.resolve(c, { kind: 'rebook', slotId: 'sl2' })).toBe(true);
    expect(store.inbox.notice).toBeNull();
    expect(store.inbox.noticePrint).toBeNull();
    expect(store.notice?.kind).toBe('ok');
    expect(await store.inbox.printNotice()).toBe(false);
    // Printing the notice of a conflict that was not given up is refused with its code.
    expect(await store.inbox.printNotice(3)).toBe(false);
    expect(store.notice?.code).toBe('notice_not_available');
  });
});

describe('first run', () => {
  it('enrolling with a platform leads to creating the first admin', async () => {
    const backend = new FakeBackend();
    backend.ready = false;
    const store = new AppStore(backend);
    await store.init();
    expect(store.info?.ready).toBe(false);
    await expect(store.enroll('http://platform', 'BAD', '')).rejects.toMatchObject({ code: 'enroll_code_invalid' });
    await store.enroll('http://platform', 'GOOD-CODE', '窗口 1');
    expect(store.info?.ready).toBe(true);
    expect(store.info?.needsFirstAdmin).toBe(true);
    await store.createFirstAdmin('boss', '院长', 'secret-1');
    expect(store.staff?.role).toBe('admin');
  });
});
