// The one door from the UI to the desk. Screens and stores talk to a `Backend`; the real one
// calls the generated Tauri bindings, tests use `FakeBackend`. Failures are thrown as
// `BackendError` carrying the backend's `{ code, message, fields, suggestion }`: the UI
// switches on `code`, never on the message.

import type {
  AnnouncementView,
  ApiError,
  AppInfo,
  BoardView,
  Booked,
  BookingInfo,
  ConflictAction,
  ConflictResolved,
  ConflictView,
  DisplayBoardView,
  LeaseNumberView,
  LeaseStateView,
  LeaseSummary,
  LeaseTopUp,
  MonitorView,
  PatientForm,
  PatientView,
  PrintOutcome,
  QueueActed,
  QueueActionView,
  QueueEntryView,
  ScanResult,
  SessionLeaseView,
  SessionQueueView,
  SessionView,
  Settings,
  SlotOption,
  SlotView,
  StaffRole,
  StaffView,
  SyncStatus,
  UiLang,
} from './bindings';

export type {
  AnnouncementView,
  ApiError,
  AppInfo,
  BoardView,
  Booked,
  BookingInfo,
  ConflictAction,
  ConflictResolved,
  ConflictView,
  DisplayBoardView,
  LeaseNumberView,
  LeaseStateView,
  LeaseSummary,
  LeaseTopUp,
  MonitorView,
  PatientForm,
  PatientView,
  PrintOutcome,
  QueueActed,
  QueueActionView,
  QueueEntryView,
  ScanResult,
  SessionLeaseView,
  SessionQueueView,
  SessionView,
  Settings,
  SlotOption,
  SlotView,
  StaffRole,
  StaffView,
  SyncStatus,
  UiLang,
};

export class BackendError extends Error {
  readonly code: string;
  readonly fields: ApiError['fields'];
  readonly suggestion: ApiError['suggestion'];

  constructor(e: ApiError) {
    super(e.message);
    this.name = 'BackendError';
    this.code = e.code;
    this.fields = e.fields;
    this.suggestion = e.suggestion;
  }
}

/** Turns anything thrown into an `ApiError` shape the UI can show. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof BackendError) return { code: e.code, message: e.message, fields: e.fields, suggestion: e.suggestion };
  if (e && typeof e === 'object' && 'code' in e && 'message' in e) {
    const o = e as Partial<ApiError>;
    return { code: String(o.code), message: String(o.message), fields: o.fields ?? [], suggestion: o.suggestion ?? null };
  }
  return { code: 'internal', message: String(e), fields: [], suggestion: null };
}

export interface Backend {
  appInfo(): Promise<AppInfo>;
  setupDemo(): Promise<AppInfo>;
  enroll(server: string, code: string, name: string | null): Promise<AppInfo>;
  signIn(staffId: string, password: string): Promise<StaffView>;
  createFirstAdmin(staffId: string, displayName: string, password: string): Promise<StaffView>;
  signOut(): Promise<void>;
  setLang(lang: UiLang | null): Promise<UiLang>;
  board(date?: string | null): Promise<BoardView>;
  slotOptions(department: string): Promise<SlotOption[]>;
  searchPatients(query: string, limit: number): Promise<PatientView[]>;
  registerPatient(form: PatientForm): Promise<PatientView>;
  updatePatient(patientId: string, form: PatientForm): Promise<PatientView>;
  scan(payload: string): Promise<ScanResult>;
  book(patientId: string, slotId: string): Promise<Booked>;
  bookEarliest(patientId: string, department: string): Promise<Booked>;
  overbook(patientId: string, slotId: string, reason: string): Promise<Booked>;
  cancelBooking(bookingId: string, reason: string | null): Promise<BookingInfo>;
  checkIn(code: string): Promise<BookingInfo>;
  bookings(date?: string | null): Promise<BookingInfo[]>;
  reprint(bookingId: string): Promise<PrintOutcome>;
  syncStatus(): Promise<SyncStatus>;
  /** One sync cycle now (push, then pull); the new state, or the failure (`offline`, …). */
  syncNow(): Promise<SyncStatus>;
  /** Every number reserved for this desk (its capacity leases), with where each stands. */
  leases(): Promise<LeaseNumberView[]>;
  /** Asks the platform now for more reserved numbers (up to this desk's share); fails offline. */
  topUpLeases(): Promise<LeaseTopUp>;
  /** Gives reserved numbers of a session back (`[]`: every unspent one); works offline. The numbers given back. */
  giveBackLeases(sessionId: string, numbers: number[]): Promise<number[]>;
  conflicts(includeResolved: boolean): Promise<ConflictView[]>;
  resolveConflict(id: number, action: ConflictAction): Promise<ConflictResolved>;
  /** Prints the notice for the patient of a booking given up (a conflict resolved by cancelling) again. */
  printNotice(id: number): Promise<PrintOutcome>;
  suspendSession(sessionId: string, reason: string): Promise<void>;
  resumeSession(sessionId: string): Promise<void>;
  printSlotSheet(date?: string | null): Promise<PrintOutcome>;
  getSettings(): Promise<Settings>;
  saveSettings(settings: Settings): Promise<Settings>;
  listStaff(): Promise<StaffView[]>;
  addStaff(staffId: string, displayName: string, role: StaffRole, password: string): Promise<StaffView>;
  /** Today's waiting-room queues (sessions with checked-in patients, and those running now). */
  queues(): Promise<SessionQueueView[]>;
  /** One session's queue. */
  queue(sessionId: string): Promise<SessionQueueView>;
  /** Calls the next waiting patient of a session. */
  callNext(sessionId: string): Promise<QueueActed>;
  /** Calls, recalls, skips, marks seen or moves to the end one booking of a queue. */
  queueAct(bookingId: string, action: QueueActionView): Promise<QueueActed>;
  /** What the waiting-room display shows. */
  displayBoard(): Promise<DisplayBoardView>;
  /** New calls to announce, each handed to one window only. */
  claimAnnouncements(): Promise<AnnouncementView[]>;
  /** Opens (or brings forward) the waiting-room display on its remembered monitor. */
  openDisplay(): Promise<void>;
  /** The monitors the display can open on. */
  monitors(): Promise<MonitorView[]>;
  /** Opens a consultation-room view of one session's queue. */
  openRoomView(sessionId: string): Promise<void>;
  /** The session a consultation-room window shows. */
  roomSession(): Promise<string>;
  /** Sync state pushed by the backend (`sync-status`), e.g. after every booking and, later, by the sync loop. */
  onSyncStatus(listener: (s: SyncStatus) => void): Promise<() => void>;
}
