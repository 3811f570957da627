-- The desk's local replica: schedule, patients, bookings, and the outbox of ops not yet
-- settled by the platform. Applied migrations are never edited; add a new file instead.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE sites (
    id       TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    timezone TEXT NOT NULL
) STRICT;

CREATE TABLE departments (
    id      TEXT PRIMARY KEY,
    site_id TEXT NOT NULL REFERENCES sites(id),
    code    TEXT NOT NULL,
    name    TEXT NOT NULL,
    name_en TEXT NOT NULL,
    UNIQUE (site_id, code)
) STRICT;

CREATE TABLE providers (
    id            TEXT PRIMARY KEY,
    site_id       TEXT NOT NULL REFERENCES sites(id),
    department_id TEXT NOT NULL REFERENCES departments(id),
    name          TEXT NOT NULL,
    title         TEXT NOT NULL,
    fee_fen       INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    site_id       TEXT NOT NULL REFERENCES sites(id),
    department_id TEXT NOT NULL REFERENCES departments(id),
    provider_id   TEXT NOT NULL REFERENCES providers(id),
    date          TEXT NOT NULL,
    period        TEXT NOT NULL CHECK (period IN ('morning', 'afternoon', 'evening')),
    status        TEXT NOT NULL CHECK (status IN ('open', 'suspended', 'cancelled')),
    status_reason TEXT
) STRICT;
CREATE INDEX sessions_by_date ON sessions (date, department_id);

CREATE TABLE slots (
    id              TEXT PRIMARY KEY,
    session_id      TEXT NOT NULL REFERENCES sessions(id),
    start_time      TEXT NOT NULL,
    end_time        TEXT NOT NULL,
    first_queue_no  INTEGER NOT NULL CHECK (first_queue_no >= 1),
    online_capacity INTEGER NOT NULL CHECK (online_capacity >= 0),
    desk_capacity   INTEGER NOT NULL CHECK (desk_capacity >= 0)
) STRICT;
CREATE INDEX slots_by_session ON slots (session_id);

CREATE TABLE patients (
    rowid           INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    site_id         TEXT NOT NULL,
    name            TEXT NOT NULL,
    sex             TEXT CHECK (sex IN ('F', 'M')),
    birth_date      TEXT,
    document_kind   TEXT NOT NULL,
    document_number TEXT NOT NULL,
    identity_key    TEXT NOT NULL UNIQUE,
    phone           TEXT,
    medical_card    TEXT,
    ehealth_card    TEXT,
    -- 1 once the platform has the patient; 0 while it exists only here.
    confirmed       INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX patients_by_card ON patients (medical_card) WHERE medical_card IS NOT NULL;
CREATE INDEX patients_by_ehealth ON patients (ehealth_card) WHERE ehealth_card IS NOT NULL;

-- Search keys per patient (characters, pinyin, initials, document, phone, card), rowid =
-- patients.rowid. Contentless: the keys are derived, the patient row is the truth.
CREATE VIRTUAL TABLE patient_search USING fts5(
    keys,
    content = '',
    contentless_delete = 1,
    prefix = '1 2 3',
    tokenize = 'unicode61'
);

CREATE TABLE bookings (
    id              TEXT PRIMARY KEY,
    site_id         TEXT NOT NULL,
    patient_id      TEXT NOT NULL,
    slot_id         TEXT NOT NULL REFERENCES slots(id),
    session_id      TEXT NOT NULL REFERENCES sessions(id),
    department_id   TEXT NOT NULL,
    date            TEXT NOT NULL,
    queue_no        INTEGER NOT NULL CHECK (queue_no >= 1),
    channel         TEXT NOT NULL CHECK (channel IN ('desk', 'online', 'phone')),
    status          TEXT NOT NULL CHECK (status IN ('booked', 'checked_in', 'done', 'cancelled', 'no_show')),
    ticket_code     TEXT NOT NULL UNIQUE,
    overbook_reason TEXT,
    -- 1 once the platform has confirmed the booking; 0 while it is the desk's prediction.
    confirmed       INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL
) STRICT;
-- Rule 4 as a backstop under the rules: a number is held by at most one live booking the
-- platform has confirmed. (A booking still pending on this desk holds a provisional number that
-- a pulled booking may take; sync renumbers or reports it, see docs/SYNC.md.)
CREATE UNIQUE INDEX bookings_live_number ON bookings (session_id, queue_no) WHERE status <> 'cancelled' AND confirmed = 1;
CREATE INDEX bookings_by_slot ON bookings (slot_id);
CREATE INDEX bookings_by_patient ON bookings (patient_id, date);

-- Every local change, in the order it was made, until the platform has settled it.
CREATE TABLE outbox (
    seq         INTEGER PRIMARY KEY,
    op_id       TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    -- The patient or booking the op is about, to find the ops a later op depends on.
    subject     TEXT NOT NULL,
    staff_id    TEXT NOT NULL,
    hlc         TEXT NOT NULL,
    envelope    TEXT NOT NULL,
    created_at  TEXT NOT NULL
) STRICT;
