// Walk-in registration as a small state machine, so it can be driven (and tested) without a
// screen: find (scan or type) → patient found or new-patient form → department → earliest
// slot suggested → book → ticket printed.

import { type ApiError, type Backend, type Booked, type BoardView, type PatientView, type ScanResult, type SlotOption, toApiError } from './backend';
import { type FieldErrors, type PatientValues, emptyPatient, fieldErrors, prefillFrom, toPatientForm } from './forms';
import { guaranteedOnBoard } from './leases.svelte';

export type WalkInStep = 'find' | 'form' | 'slot' | 'done';

export interface DepartmentChoice {
  code: string;
  name: string;
  nameEn: string;
  /** Free desk numbers left today (numbers reserved for any desk are not free). */
  remaining: number;
  /** This desk's reserved numbers it can spend today: bookings from them are guaranteed. */
  guaranteed: number;
}

export class WalkInFlow {
  private readonly backend: Backend;
  step = $state<WalkInStep>('find');
  query = $state('');
  results = $state<PatientView[]>([]);
  highlighted = $state(0);
  patient = $state<PatientView | null>(null);
  values = $state<PatientValues>(emptyPatient());
  errors = $state<FieldErrors>({});
  formMessages = $state<string[]>([]);
  departments = $state<DepartmentChoice[]>([]);
  department = $state<string | null>(null);
  options = $state<SlotOption[]>([]);
  option = $state(0);
  booked = $state<Booked | null>(null);
  error = $state<ApiError | null>(null);
  busy = $state(false);
  /** Set when the patient was already registered and got picked instead. */
  existingPicked = $state(false);
  private searchSeq = 0;
  private queue: Promise<unknown> = Promise.resolve();

  /** Runs keyboard actions one after another: "2" then Enter books in department 2. */
  enqueue(action: () => Promise<unknown>): Promise<unknown> {
    this.queue = this.queue.then(action, action);
    return this.queue;
  }

  constructor(backend: Backend) {
    this.backend = backend;
  }

  reset(): void {
    this.step = 'find';
    this.query = '';
    this.results = [];
    this.highlighted = 0;
    this.patient = null;
    this.values = emptyPatient();
    this.errors = {};
    this.formMessages = [];
    this.options = [];
    this.option = 0;
    this.booked = null;
    this.error = null;
    this.existingPicked = false;
  }

  async search(q: string): Promise<void> {
    this.query = q;
    const seq = ++this.searchSeq;
    if (q.trim() === '') {
      this.results = [];
      return;
    }
    try {
      const found = await this.backend.searchPatients(q, 20);
      if (seq === this.searchSeq) {
        this.results = found;
        this.highlighted = 0;
      }
    } catch (e) {
      if (seq === this.searchSeq) this.error = toApiError(e);
    }
  }

  move(delta: number): void {
    const n = this.step === 'slot' ? this.options.length : this.results.length;
    if (n === 0) return;
    if (this.step === 'slot') this.option = (this.option + delta + n) % n;
    else this.highlighted = (this.highlighted + delta + n) % n;
  }

  /** Enter in the find step: the highlighted patient, or a new-patient form. */
  async confirmFind(): Promise<void> {
    const p = this.results[this.highlighted];
    if (p) await this.pick(p);
    else this.startNew(prefillFrom(this.query));
  }

  startNew(prefill: Partial<PatientValues> = {}): void {
    this.values = { ...emptyPatient(), ...prefill };
    this.errors = {};
    this.formMessages = [];
    this.step = 'form';
  }

  async pick(p: PatientView): Promise<void> {
    this.patient = p;
    this.error = null;
    await this.toSlots();
  }

  /** A scan that named a patient (found or not). */
  async fromScan(r: ScanResult): Promise<void> {
    this.reset();
    if (r.patient) await this.pick(r.patient);
    else this.startNew(prefillFrom(r.value, r.kind));
  }

  /** Saves the new patient; on field errors every typed value stays and bad fields are marked. */
  async submitForm(): Promise<boolean> {
    this.busy = true;
    try {
      const p = await this.backend.registerPatient(toPatientForm(this.values));
      this.errors = {};
      this.formMessages = [];
      await this.pick(p);
      return true;
    } catch (e) {
      const err = toApiError(e);
      if (err.code === 'patient_exists') {
        const existing = await this.backend.searchPatients(this.values.documentNumber, 1).catch(() => []);
        if (existing[0]) {
          this.existingPicked = true;
          await this.pick(existing[0]);
          return true;
        }
      }
      const { fields, other } = fieldErrors(err);
      this.errors = fields;
      this.formMessages = other;
      return false;
    } finally {
      this.busy = false;
    }
  }

  async loadDepartments(board?: BoardView): Promise<void> {
    const b = board ?? (await this.backend.board(null));
    this.departments = b.departments.map((d) => ({
      code: d.code,
      name: d.name,
      nameEn: d.nameEn,
      remaining: d.providers.reduce((n, p) => n + p.sessions.reduce((m, s) => m + s.remainingDesk, 0), 0),
      guaranteed: guaranteedOnBoard(b, d.code),
    }));
  }

  /** This desk's reserved numbers it can spend today, over every department. */
  get guaranteedToday(): number {
    return this.departments.reduce((n, d) => n + d.guaranteed, 0);
  }

  private async toSlots(): Promise<void> {
    this.step = 'slot';
    this.options = [];
    // The counts change with every booking (and every sync): read them again for each patient.
    try {
      await this.loadDepartments();
    } catch (e) {
      this.error = toApiError(e);
    }
    if (this.department) await this.chooseDepartment(this.department);
  }

  async chooseDepartment(code: string): Promise<void> {
    this.department = code;
    this.error = null;
    try {
      this.options = await this.backend.slotOptions(code);
      this.option = 0;
    } catch (e) {
      this.error = toApiError(e);
    }
  }

  /** Department by its 1-based number on screen. */
  async chooseDepartmentNumber(n: number): Promise<void> {
    const d = this.departments[n - 1];
    if (d) await this.chooseDepartment(d.code);
  }

  async book(): Promise<boolean> {
    if (!this.patient || this.busy) return false;
    const chosen = this.options[this.option];
    this.busy = true;
    this.error = null;
    try {
      this.booked = chosen
        ? await this.backend.book(this.patient.id, chosen.slotId)
        : this.department
          ? await this.backend.bookEarliest(this.patient.id, this.department)
          : null;
      if (this.booked) this.step = 'done';
      return this.booked !== null;
    } catch (e) {
      this.error = toApiError(e);
      return false;
    } finally {
      this.busy = false;
    }
  }

  /** After a refusal: book the slot the engine suggested instead. */
  async bookSuggestion(): Promise<boolean> {
    const slot = this.error?.suggestion?.slotId;
    if (!this.patient || !slot || this.busy) return false;
    return this.run(() => this.backend.book(this.patient!.id, slot));
  }

  /** Admins: book the chosen slot beyond its capacity, with a reason. */
  async overbook(reason: string): Promise<boolean> {
    const chosen = this.options[this.option];
    if (!this.patient || !chosen || this.busy) return false;
    return this.run(() => this.backend.overbook(this.patient!.id, chosen.slotId, reason));
  }

  private async run(action: () => Promise<Booked>): Promise<boolean> {
    this.busy = true;
    try {
      this.booked = await action();
      this.error = null;
      this.step = 'done';
      return true;
    } catch (e) {
      this.error = toApiError(e);
      return false;
    } finally {
      this.busy = false;
    }
  }

  async reprint(): Promise<void> {
    if (!this.booked) return;
    const print = await this.backend.reprint(this.booked.booking.id);
    this.booked = { ...this.booked, print };
  }
}
