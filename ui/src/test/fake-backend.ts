// An in-memory backend with the same interface as the Tauri one, for unit tests of stores,
// forms and flows. It models just enough of the desk: a board, patients, bookings.

import type { Backend } from '../lib/backend';
import { BackendError } from '../lib/backend';
import type { AnnouncementView, AppInfo, BoardView, Booked, BookingInfo, ConflictAction, ConflictResolved, ConflictView, LeaseNumberView, LeaseSummary, LeaseTopUp, DisplayBoardView, MonitorView, PatientForm, PatientView, PrintOutcome, QueueActed, QueueActionView, QueueEntryView, ScanResult, SessionQueueView, Settings, SlotOption, StaffView, SyncStatus, UiLang } from '../lib/bindings';

export class FakeBackend implements Backend {
  lang: UiLang = 'zh';
  ready = true;
  staff: StaffView | null = null;
  patients: PatientView[] = [
    { id: 'p1', name: '张三', maskedName: '张*', sex: 'M', birthDate: '1980-01-01', documentKind: 'resident_id', documentNumber: '11010119800101001X', phone: null, medicalCard: 'MC123456', ehealthCard: null },
  ];
  bookingsList: BookingInfo[] = [];
  remaining = 2;
  calls: string[] = [];
  statusListeners: ((s: SyncStatus) => void)[] = [];
  settings: Settings = { lang: null, printer: { kind: 'cups', queue: null }, ticketWidth: 'mm80', printerOverride: null, display: { monitor: null, fullscreen: false, english: false }, keyFile: null };
  conflictList: ConflictView[] = [];
  /** When set, `syncNow` fails with it (e.g. `offline`). */
  syncFailure: BackendError | null = null;
  /** The site reserves numbers for desks (it has a lease policy). */
  leasePolicy = false;
  /** Numbers of session s1 (slot sl1) reserved for this desk, unspent, lowest first: a booking spends the first. */
  reserved: number[] = [];
  /** Reserved numbers given back that the platform has not taken back yet. */
  returning: number[] = [];
  /** Live bookings made from reserved numbers. */
  spentLeased = 0;
  /** How many numbers a top-up brings. */
  topUpGrant = 2;
  /** When set, `topUpLeases` fails with it (e.g. `offline`). */
  leaseFailure: BackendError | null = null;

  private call(name: string) {
    this.calls.push(name);
  }
  private needStaff() {
    if (!this.staff) throw new BackendError({ code: 'not_signed_in', message: '请先登录', fields: [], suggestion: null });
  }

  async appInfo(): Promise<AppInfo> {
    this.call('appInfo');
    return { version: '0.1.0', lang: this.lang, osLang: 'zh', ready: this.ready, demo: true, siteName: '演示诊所', today: '2026-11-23', clockPinned: true, dataDir: '/tmp/x', staff: this.staff, needsFirstAdmin: false, enrolled: false, displayOnly: false };
  }
  async setupDemo(): Promise<AppInfo> {
    this.ready = true;
    return this.appInfo();
  }
  async enroll(server: string, code: string): Promise<AppInfo> {
    if (code !== 'GOOD-CODE') throw new BackendError({ code: 'enroll_code_invalid', message: '接入码无效', fields: [], suggestion: null });
    this.ready = true;
    this.enrolledTo = server;
    return { ...(await this.appInfo()), enrolled: true, needsFirstAdmin: true };
  }
  enrolledTo: string | null = null;
  async signIn(staffId: string, password: string): Promise<StaffView> {
    this.call('signIn');
    if (staffId === 'nurse' && password === 'nurse123') {
      this.staff = { id: 'nurse', displayName: '王护士', role: 'nurse' };
      return this.staff;
    }
    if (staffId === 'admin' && password === 'admin123') {
      this.staff = { id: 'admin', displayName: '陈主任', role: 'admin' };
      return this.staff;
    }
    throw new BackendError({ code: 'invalid_input', message: '输入: 工号或密码不正确', fields: [{ field: 'password', code: 'sign_in_failed', message: '工号或密码不正确' }], suggestion: null });
  }
  async createFirstAdmin(staffId: string, displayName: string): Promise<StaffView> {
    this.staff = { id: staffId, displayName, role: 'admin' };
    return this.staff;
  }
  async signOut(): Promise<void> {
    this.staff = null;
  }
  async setLang(lang: UiLang | null): Promise<UiLang> {
    this.lang = lang ?? 'zh';
    return this.lang;
  }
  async board(): Promise<BoardView> {
    this.needStaff();
    return {
      date: '2026-11-23',
      now: '08:30',
      departments: [
        { id: 'd-nk', code: 'NK', name: '内科', nameEn: 'Internal Medicine', providers: [
          { id: 'pr1', name: '王建国', title: '主任医师', feeFen: 5000, sessions: [
            { id: 's1', period: 'morning', status: 'open', statusReason: null, remainingDesk: this.remaining, remainingOnline: 3, booked: 0, capacity: 10, guaranteed: this.reserved.length, start: '08:00', end: '12:00', slots: [] },
          ] },
        ] },
        { id: 'd-ek', code: 'EK', name: '儿科', nameEn: 'Paediatrics', providers: [] },
      ],
    };
  }
  async slotOptions(department: string): Promise<SlotOption[]> {
    this.needStaff();
    if (department !== 'NK' || this.remaining + this.reserved.length === 0) return [];
    return [{ slotId: 'sl1', sessionId: 's1', providerId: 'pr1', providerName: '王建国', providerTitle: '主任医师', departmentCode: 'NK', departmentName: '内科', departmentNameEn: 'Internal Medicine', date: '2026-11-23', period: 'morning', start: '08:30', end: '09:00', remaining: this.remaining, guaranteed: this.reserved.length, feeFen: 5000 }];
  }
  async searchPatients(query: string): Promise<PatientView[]> {
    this.call(`search:${query}`);
    const q = query.trim().toLowerCase();
    return this.patients.filter((p) => p.name.includes(q) || p.documentNumber.toLowerCase().startsWith(q) || (q === 'zs' && p.name === '张三'));
  }
  async registerPatient(form: PatientForm): Promise<PatientView> {
    this.call('registerPatient');
    const fields = [];
    if (form.name.trim() === '') fields.push({ field: 'name', code: 'name_missing', message: '请填写姓名' });
    if (!/^\d{17}[\dX]$/.test(form.documentNumber)) fields.push({ field: 'document_number', code: 'resident_id_length', message: '身份证号应为18位' });
    if (fields.length) throw new BackendError({ code: 'invalid_input', message: fields.map((f) => f.message).join('\n'), fields, suggestion: null });
    if (this.patients.some((p) => p.documentNumber === form.documentNumber)) {
      throw new BackendError({ code: 'patient_exists', message: '该证件号已登记', fields: [], suggestion: null });
    }
    const p: PatientView = { id: `p${this.patients.length + 1}`, name: form.name, maskedName: `${form.name[0]}*`, sex: null, birthDate: null, documentKind: form.documentKind ?? 'resident_id', documentNumber: form.documentNumber, phone: form.phone, medicalCard: form.medicalCard, ehealthCard: form.ehealthCard };
    this.patients.push(p);
    return p;
  }
  async updatePatient(): Promise<PatientView> {
    throw new Error('not used');
  }
  async scan(payload: string): Promise<ScanResult> {
    this.call(`scan:${payload}`);
    if (payload.startsWith('FD')) {
      const b = this.bookingsList.find((x) => x.ticketCode === payload);
      if (!b) throw new BackendError({ code: 'ticket_unknown', message: `找不到挂号单 ${payload}`, fields: [], suggestion: null });
      return { kind: 'ticket', value: payload, patient: null, booking: b };
    }
    if (payload.startsWith('MC')) return { kind: 'medical_card', value: payload, patient: this.patients.find((p) => p.medicalCard === payload) ?? null, booking: null };
    if (/^\d{17}[\dX]$/.test(payload)) return { kind: 'resident_id', value: payload, patient: this.patients.find((p) => p.documentNumber === payload) ?? null, booking: null };
    throw new BackendError({ code: 'scan_unknown', message: '无法识别', fields: [], suggestion: null });
  }
  private makeBooking(patientId: string): Booked {
    // This desk's own reserved number first: that booking is guaranteed before the platform confirms it.
    const leasedNo = this.reserved.shift();
    if (leasedNo === undefined) this.remaining -= 1;
    else this.spentLeased += 1;
    const p = this.patients.find((x) => x.id === patientId);
    const booking: BookingInfo = { id: `b${this.bookingsList.length + 1}`, patientId, patientName: p?.name ?? '?', patientNameMasked: p?.maskedName ?? '?', departmentCode: 'NK', departmentName: '内科', providerName: '王建国', providerTitle: '主任医师', sessionId: 's1', slotId: 'sl1', period: 'morning', date: '2026-11-23', start: '08:30', end: '09:00', queueNo: leasedNo ?? this.bookingsList.length + 1, channel: 'desk', status: 'booked', ticketCode: `FD000000000${this.bookingsList.length + 1}X`, overbookReason: null, confirmed: false, leased: leasedNo !== undefined, guaranteed: leasedNo !== undefined };
    this.bookingsList.push(booking);
    return { booking, print: { printed: true, reprint: false, printer: '/tmp/print', file: `/tmp/print/ticket-${booking.ticketCode}.pdf`, jobId: null, error: null } };
  }
  async book(patientId: string, slotId: string): Promise<Booked> {
    this.call(`book:${patientId}:${slotId}`);
    if (this.bookingsList.some((b) => b.patientId === patientId && b.status !== 'cancelled')) {
      throw new BackendError({ code: 'patient_already_booked', message: '该患者今日已挂该科室', fields: [], suggestion: null });
    }
    return this.makeBooking(patientId);
  }
  async bookEarliest(patientId: string): Promise<Booked> {
    return this.makeBooking(patientId);
  }
  async overbook(patientId: string): Promise<Booked> {
    return this.makeBooking(patientId);
  }
  async cancelBooking(bookingId: string): Promise<BookingInfo> {
    const b = this.bookingsList.find((x) => x.id === bookingId);
    if (!b) throw new BackendError({ code: 'not_found', message: 'no', fields: [], suggestion: null });
    b.status = 'cancelled';
    return b;
  }
  async checkIn(code: string): Promise<BookingInfo> {
    this.call(`checkIn:${code}`);
    const b = this.bookingsList.find((x) => x.ticketCode === code);
    if (!b) throw new BackendError({ code: 'ticket_unknown', message: `找不到挂号单 ${code}`, fields: [], suggestion: null });
    if (b.status === 'checked_in') throw new BackendError({ code: 'already_checked_in', message: '已签到', fields: [], suggestion: null });
    b.status = 'checked_in';
    return b;
  }
  async bookings(): Promise<BookingInfo[]> {
    return this.bookingsList;
  }
  async reprint() {
    return { printed: true, reprint: true, printer: '/tmp/print', file: null, jobId: null, error: null };
  }
  async syncStatus(): Promise<SyncStatus> {
    this.needStaff();
    return { deviceId: 'dev', siteName: '演示诊所', staffId: this.staff?.id ?? 'desk', patients: this.patients.length, bookingsToday: this.bookingsList.length, server: null, online: null, lastSuccess: null, lastAttempt: null, lastError: null, pendingOps: this.bookingsList.length, oldestPending: null, oldestPendingSecs: null, openConflicts: this.conflictList.filter((c) => !c.resolvedAt).length, openNotices: 0, outbox: [], leases: this.leaseSummary() };
  }
  private leaseSummary(): LeaseSummary {
    const held = this.reserved.length;
    const nextDeadline = held > 0 ? '2026-11-23T09:40:00+08:00' : null;
    const wantsTopUp = this.leasePolicy && held < 2;
    const any = held + this.spentLeased + this.returning.length > 0;
    return {
      enabled: this.leasePolicy, held, spent: this.spentLeased, expiring: 0, unusable: this.returning.length, nextDeadline, wantsTopUp,
      sessions: any || wantsTopUp ? [{ sessionId: 's1', date: '2026-11-23', period: 'morning', departmentCode: 'NK', departmentName: '内科', departmentNameEn: 'Internal Medicine', providerName: '王建国', held, spent: this.spentLeased, expiring: 0, unusable: this.returning.length, nextDeadline, wantsTopUp }] : [],
    };
  }
  async leases(): Promise<LeaseNumberView[]> {
    this.needStaff();
    const entry = (queueNo: number, state: LeaseNumberView['state']): LeaseNumberView => ({ sessionId: 's1', slotId: 'sl1', queueNo, date: '2026-11-23', period: 'morning', start: '08:30', end: '09:00', departmentCode: 'NK', providerName: '王建国', expiresAt: '2026-11-23T08:20:00+08:00', usableUntil: state === 'usable' ? '2026-11-23T09:40:00+08:00' : null, state, expiring: false });
    return [...this.reserved.map((n) => entry(n, 'usable')), ...this.returning.map((n) => entry(n, 'returning'))];
  }
  async topUpLeases(): Promise<LeaseTopUp> {
    this.call('topUpLeases');
    this.needStaff();
    if (this.leaseFailure) throw this.leaseFailure;
    const returned = this.returning.length;
    this.returning = [];
    const from = Math.max(4, ...this.reserved) + 1;
    const granted = this.leasePolicy ? this.topUpGrant : 0;
    for (let i = 0; i < granted; i++) this.reserved.push(from + i);
    return { granted, returned, status: await this.syncStatus() };
  }
  async giveBackLeases(sessionId: string, numbers: number[]): Promise<number[]> {
    this.call(`giveBack:${sessionId}:${numbers.join(',')}`);
    this.needStaff();
    if (sessionId !== 's1') throw new BackendError({ code: 'not_found', message: '找不到出诊时段', fields: [], suggestion: null });
    const foreign = numbers.filter((n) => !this.reserved.includes(n));
    if (foreign.length > 0) throw new BackendError({ code: 'invalid_input', message: `本机在该出诊时段没有未用的保留号：${foreign.join(', ')}`, fields: [{ field: 'number', code: 'not_leased_to_desk', message: '没有该保留号' }], suggestion: null });
    const given = numbers.length === 0 ? [...this.reserved] : [...numbers].sort((a, b) => a - b);
    this.reserved = this.reserved.filter((n) => !given.includes(n));
    this.returning.push(...given);
    return given;
  }
  async syncNow(): Promise<SyncStatus> {
    this.call('syncNow');
    this.needStaff();
    if (this.syncFailure) throw this.syncFailure;
    return { ...(await this.syncStatus()), server: 'http://127.0.0.1:1', online: true, pendingOps: 0 };
  }
  async conflicts(includeResolved: boolean): Promise<ConflictView[]> {
    return this.conflictList.filter((c) => includeResolved || !c.resolvedAt);
  }
  async resolveConflict(id: number, action: ConflictAction): Promise<ConflictResolved> {
    this.call(`resolve:${id}:${action.kind}`);
    const c = this.conflictList.find((x) => x.id === id);
    if (!c) throw new BackendError({ code: 'not_found', message: 'no conflict', fields: [], suggestion: null });
    c.resolvedAt = '2026-11-23T01:00:00Z';
    c.resolution = action.kind;
    for (const q of this.queueSessions) q.notices = q.notices.filter((n) => n.conflictId !== id);
    if (action.kind === 'rebook') return { booking: this.makeBooking('p1').booking, notice: null, print: null };
    if (action.kind === 'cancel') return { booking: null, notice: '您的挂号未能确认，请到窗口改约。', print: this.noticePrint(id) };
    return { booking: null, notice: null, print: null };
  }
  /** Whether the printer works, for notices. */
  printerWorks = true;
  private noticePrint(id: number): PrintOutcome {
    if (!this.printerWorks) return { printed: false, reprint: false, printer: null, file: null, jobId: null, error: { code: 'printer_unreachable', message: '打印机未连接', fields: [], suggestion: null } };
    return { printed: true, reprint: false, printer: '/tmp/print', file: `/tmp/print/notice-${id}.pdf`, jobId: null, error: null };
  }
  async printNotice(id: number): Promise<PrintOutcome> {
    this.call(`printNotice:${id}`);
    const c = this.conflictList.find((x) => x.id === id);
    if (!c) throw new BackendError({ code: 'not_found', message: 'no conflict', fields: [], suggestion: null });
    if (c.resolution !== 'cancel') throw new BackendError({ code: 'notice_not_available', message: '只有已放弃的挂号才有通知', fields: [], suggestion: null });
    return { ...this.noticePrint(id), reprint: true };
  }
  async suspendSession(): Promise<void> {}
  async resumeSession(): Promise<void> {}
  async printSlotSheet() {
    return { printed: false, reprint: false, printer: null, file: null, jobId: null, error: { code: 'no_printer', message: 'no printer', fields: [], suggestion: null } };
  }
  async getSettings(): Promise<Settings> {
    return this.settings;
  }
  async saveSettings(s: Settings): Promise<Settings> {
    this.settings = s;
    return s;
  }
  async listStaff(): Promise<StaffView[]> {
    return [];
  }
  async addStaff(): Promise<StaffView> {
    throw new Error('not used');
  }
  // The waiting room: a tiny model of one queue, enough to drive the queue screen's store (the
  // rules themselves are the engine's, tested in Rust).
  queueSessions: SessionQueueView[] = [];
  /** When set, the next queue action fails with it (e.g. the queue moved on after a sync). */
  queueFailure: BackendError | null = null;
  announcements: AnnouncementView[] = [];
  displayOpened = 0;
  roomViews: string[] = [];

  /** A session with patients waiting at `numbers`. */
  addQueue(sessionId: string, numbers: number[], room: number | null = 3): SessionQueueView {
    const entry = (n: number): QueueEntryView => ({
      bookingId: `b${n}`, ticketCode: `T${n}`, queueNo: n, patientNameMasked: `患*${n}`, state: 'waiting', calls: 0,
      joinedAt: '08:00', calledAt: null, pending: false,
    });
    const q: SessionQueueView = {
      sessionId, departmentCode: 'NK', departmentName: '内科', departmentNameEn: 'Internal Medicine', providerName: '王建国',
      period: 'morning', room, called: null, waiting: numbers.map(entry), done: [], notices: [],
    };
    this.queueSessions.push(q);
    return q;
  }
  private queueOf(bookingId: string): SessionQueueView {
    const q = this.queueSessions.find((s) => s.called?.bookingId === bookingId || s.waiting.some((e) => e.bookingId === bookingId));
    if (!q) throw new BackendError({ code: 'not_in_queue', message: '该患者不在这个候诊队列里', fields: [], suggestion: null });
    return q;
  }
  async queues(): Promise<SessionQueueView[]> {
    this.call('queues');
    return structuredClone(this.queueSessions);
  }
  async queue(sessionId: string): Promise<SessionQueueView> {
    this.call('queue');
    const q = this.queueSessions.find((s) => s.sessionId === sessionId);
    if (!q) throw new BackendError({ code: 'session_unknown', message: '没有这个出诊', fields: [], suggestion: null });
    return structuredClone(q);
  }
  async callNext(sessionId: string): Promise<QueueActed> {
    const q = this.queueSessions.find((s) => s.sessionId === sessionId);
    const first = q?.waiting[0];
    if (!first) throw new BackendError({ code: 'nobody_waiting', message: '没有候诊的患者', fields: [], suggestion: null });
    return this.queueAct(first.bookingId, 'call');
  }
  async queueAct(bookingId: string, action: QueueActionView): Promise<QueueActed> {
    this.call(`queue:${action}:${bookingId}`);
    this.needStaff();
    if (this.queueFailure) {
      const f = this.queueFailure;
      this.queueFailure = null;
      throw f;
    }
    const q = this.queueOf(bookingId);
    let call: QueueActed['call'] = null;
    const at = q.waiting.findIndex((e) => e.bookingId === bookingId);
    if (action === 'call' || action === 'to_end') {
      if (at < 0) throw new BackendError({ code: 'not_waiting', message: '该患者不在候诊中', fields: [], suggestion: null });
      const [e] = q.waiting.splice(at, 1);
      if (action === 'to_end') {
        q.waiting.push(e);
      } else {
        if (q.called) q.done.unshift({ ...q.called, state: 'seen' });
        q.called = { ...e, state: 'called', calls: e.calls + 1, calledAt: '09:00:00' };
        call = { bookingId, queueNo: e.queueNo, call: q.called.calls };
      }
    } else {
      if (q.called?.bookingId !== bookingId) throw new BackendError({ code: 'not_called', message: '该患者不是当前叫到的患者', fields: [], suggestion: null });
      const c = q.called;
      if (action === 'recall') {
        q.called = { ...c, calls: c.calls + 1 };
        call = { bookingId, queueNo: c.queueNo, call: q.called.calls };
      } else if (action === 'seen') {
        q.done.unshift({ ...c, state: 'seen' });
        q.called = null;
      } else {
        q.called = null;
        if (c.calls >= 3) q.done.unshift({ ...c, state: 'no_show' });
        else q.waiting.push({ ...c, state: 'waiting' });
      }
    }
    return { queue: structuredClone(q), call };
  }
  async displayBoard(): Promise<DisplayBoardView> {
    return {
      siteName: '演示诊所', now: '09:00',
      rooms: this.queueSessions.map((q) => ({
        sessionId: q.sessionId, departmentCode: q.departmentCode, departmentName: q.departmentName, departmentNameEn: q.departmentNameEn,
        providerName: q.providerName, room: q.room,
        called: q.called ? { queueNo: q.called.queueNo, patientNameMasked: q.called.patientNameMasked, calls: q.called.calls, calledAt: '09:00:00', secondsAgo: 1 } : null,
        next: q.waiting.slice(0, 3).map((e) => ({ queueNo: e.queueNo, patientNameMasked: e.patientNameMasked })),
        waiting: q.waiting.length,
      })),
    };
  }
  async claimAnnouncements(): Promise<AnnouncementView[]> {
    const out = this.announcements;
    this.announcements = [];
    return out;
  }
  async openDisplay(): Promise<void> {
    this.displayOpened += 1;
  }
  async monitors(): Promise<MonitorView[]> {
    return [{ name: 'HDMI-1', width: 1920, height: 1080, primary: true }];
  }
  async openRoomView(sessionId: string): Promise<void> {
    this.roomViews.push(sessionId);
  }
  async roomSession(): Promise<string> {
    const s = this.roomViews.at(-1);
    if (!s) throw new BackendError({ code: 'not_found', message: '没有这个诊室视图', fields: [], suggestion: null });
    return s;
  }

  async onSyncStatus(listener: (s: SyncStatus) => void): Promise<() => void> {
    this.statusListeners.push(listener);
    return () => {
      this.statusListeners = this.statusListeners.filter((l) => l !== listener);
    };
  }
}
