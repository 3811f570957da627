// Form state helpers: a form keeps every value the nurse typed, whatever the backend says,
// and maps the backend's field errors onto its fields.

import type { ApiError, PatientForm } from './backend';

/** The registration form's fields, in tab order. */
export const PATIENT_FIELDS = ['name', 'documentKind', 'documentNumber', 'phone', 'medicalCard', 'ehealthCard', 'sex', 'birthDate'] as const;
export type PatientField = (typeof PATIENT_FIELDS)[number];

export type PatientValues = Record<PatientField, string>;

export function emptyPatient(): PatientValues {
  return { name: '', documentKind: 'resident_id', documentNumber: '', phone: '', medicalCard: '', ehealthCard: '', sex: '', birthDate: '' };
}

/** The backend's snake_case field names → the form's fields. */
const BACKEND_FIELD: Record<string, PatientField> = {
  name: 'name',
  document_kind: 'documentKind',
  document_number: 'documentNumber',
  phone: 'phone',
  medical_card: 'medicalCard',
  ehealth_card: 'ehealthCard',
  sex: 'sex',
  birth_date: 'birthDate',
};

export type FieldErrors = Partial<Record<PatientField, { code: string; message: string }>>;

/** Field errors of an `invalid_input` answer, per form field; unknown fields go under `name`'s neighbour list. */
export function fieldErrors(e: ApiError): { fields: FieldErrors; other: string[] } {
  const fields: FieldErrors = {};
  const other: string[] = [];
  for (const f of e.fields) {
    const key = BACKEND_FIELD[f.field];
    if (key && !fields[key]) fields[key] = { code: f.code, message: f.message };
    else if (!key) other.push(f.message);
  }
  if (e.fields.length === 0) other.push(e.message);
  return { fields, other };
}

/** What the form sends (empty optional fields as null). */
export function toPatientForm(v: PatientValues): PatientForm {
  const opt = (s: string) => (s.trim() === '' ? null : s.trim());
  return {
    name: v.name.trim(),
    documentKind: opt(v.documentKind),
    documentNumber: v.documentNumber.trim(),
    sex: opt(v.sex),
    birthDate: opt(v.birthDate),
    phone: opt(v.phone),
    medicalCard: opt(v.medicalCard),
    ehealthCard: opt(v.ehealthCard),
  };
}

/** Does a typed query look like a document number (so a new-patient form gets it there)? */
export function looksLikeDocument(q: string): boolean {
  return /^[0-9]{6,17}[0-9Xx]$/.test(q.trim()) || /^[A-Za-z]{1,2}[0-9]{6,9}$/.test(q.trim());
}

/** Prefill for a new patient from what was typed or scanned. */
export function prefillFrom(query: string, scanKind?: string): Partial<PatientValues> {
  const q = query.trim();
  if (scanKind === 'medical_card') return { medicalCard: q };
  if (scanKind === 'ehealth_card') return { ehealthCard: q };
  if (scanKind === 'resident_id') return { documentNumber: q };
  if (q === '') return {};
  if (/^1[3-9][0-9]{9}$/.test(q)) return { phone: q };
  if (looksLikeDocument(q)) return { documentNumber: q.toUpperCase(), documentKind: /^[A-Za-z]/.test(q) ? 'passport' : 'resident_id' };
  if (/^[a-z]+$/i.test(q)) return {};
  return { name: q };
}

/** Fen → "12.00". */
export function yuan(fen: number): string {
  return (fen / 100).toFixed(2);
}
