// The real backend: the generated bindings over Tauri IPC.

import { commands, events } from './bindings';
import { type Backend, BackendError } from './backend';

type Result<T> = { status: 'ok'; data: T } | { status: 'error'; error: import('./bindings').ApiError };

async function unwrap<T>(p: Promise<Result<T>>): Promise<T> {
  const r = await p;
  if (r.status === 'error') {
    // Tauri's own failures (a denied permission, a bad argument) reject with a plain string.
    const e: unknown = r.error;
    if (typeof e === 'object' && e !== null && 'code' in e) throw new BackendError(r.error);
    throw new BackendError({ code: 'ipc_error', message: String(e), fields: [], suggestion: null });
  }
  return r.data;
}

export const tauriBackend: Backend = {
  appInfo: () => unwrap(commands.appInfo()),
  setupDemo: () => unwrap(commands.setupDemo()),
  enroll: (server, code, name) => unwrap(commands.enroll(server, code, name)),
  signIn: (staffId, password) => unwrap(commands.signIn(staffId, password)),
  createFirstAdmin: (staffId, displayName, password) => unwrap(commands.createFirstAdmin(staffId, displayName, password)),
  signOut: () => unwrap(commands.signOut()).then(() => undefined),
  setLang: (lang) => unwrap(commands.setLang(lang)),
  board: (date) => unwrap(commands.board(date ?? null)),
  slotOptions: (department) => unwrap(commands.slotOptions(department)),
  searchPatients: (query, limit) => unwrap(commands.searchPatients(query, limit)),
  registerPatient: (form) => unwrap(commands.registerPatient(form)),
  updatePatient: (id, form) => unwrap(commands.updatePatient(id, form)),
  scan: (payload) => unwrap(commands.scan(payload)),
  book: (patientId, slotId) => unwrap(commands.book(patientId, slotId)),
  bookEarliest: (patientId, department) => unwrap(commands.bookEarliest(patientId, department)),
  overbook: (patientId, slotId, reason) => unwrap(commands.overbook(patientId, slotId, reason)),
  cancelBooking: (id, reason) => unwrap(commands.cancelBooking(id, reason)),
  checkIn: (code) => unwrap(commands.checkIn(code)),
  bookings: (date) => unwrap(commands.bookings(date ?? null)),
  reprint: (id) => unwrap(commands.reprint(id)),
  syncStatus: () => unwrap(commands.syncStatus()),
  syncNow: () => unwrap(commands.syncNow()),
  leases: () => unwrap(commands.leases()),
  topUpLeases: () => unwrap(commands.topUpLeases()),
  giveBackLeases: (sessionId, numbers) => unwrap(commands.giveBackLeases(sessionId, numbers)),
  conflicts: (includeResolved) => unwrap(commands.conflicts(includeResolved)),
  resolveConflict: (id, action) => unwrap(commands.resolveConflict(id, action)),
  printNotice: (id) => unwrap(commands.printNotice(id)),
  suspendSession: (id, reason) => unwrap(commands.suspendSession(id, reason)).then(() => undefined),
  resumeSession: (id) => unwrap(commands.resumeSession(id)).then(() => undefined),
  printSlotSheet: (date) => unwrap(commands.printSlotSheet(date ?? null)),
  getSettings: () => unwrap(commands.getSettings()),
  saveSettings: (s) => unwrap(commands.saveSettings(s)),
  listStaff: () => unwrap(commands.listStaff()),
  addStaff: (id, name, role, password) => unwrap(commands.addStaff(id, name, role, password)),
  queues: () => unwrap(commands.queues()),
  queue: (sessionId) => unwrap(commands.queue(sessionId)),
  callNext: (sessionId) => unwrap(commands.callNext(sessionId)),
  queueAct: (bookingId, action) => unwrap(commands.queueAct(bookingId, action)),
  displayBoard: () => unwrap(commands.displayBoard()),
  claimAnnouncements: () => unwrap(commands.claimAnnouncements()),
  openDisplay: () => unwrap(commands.openDisplay()).then(() => undefined),
  monitors: () => unwrap(commands.monitors()),
  openRoomView: (sessionId) => unwrap(commands.openRoomView(sessionId)).then(() => undefined),
  roomSession: () => unwrap(commands.roomSession()),
  onSyncStatus: async (listener) => {
    const unlisten = await events.syncStatus.listen((e) => listener(e.payload));
    return unlisten;
  },
};
