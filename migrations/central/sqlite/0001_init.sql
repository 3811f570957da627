-- Frontdesk central platform, SQLite back-end: initial schema.
-- Domain records are stored column by column where the platform queries them and
-- additionally as their serde JSON (`record`) so the change log and the rules get the exact
-- domain value back.

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
    record        TEXT NOT NULL
) STRICT;

CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    site_id       TEXT NOT NULL REFERENCES sites(id),
    department_id TEXT NOT NULL REFERENCES departments(id),
    provider_id   TEXT NOT NULL REFERENCES providers(id),
    date          TEXT NOT NULL,
    record        TEXT NOT NULL
) STRICT;
CREATE INDEX sessions_by_department_date ON sessions (site_id, department_id, date);

CREATE TABLE slots (
    id            TEXT PRIMARY KEY,
    session_id    TEXT NOT NULL REFERENCES sessions(id),
    site_id       TEXT NOT NULL REFERENCES sites(id),
    department_id TEXT NOT NULL,
    date          TEXT NOT NULL,
    record        TEXT NOT NULL
) STRICT;
CREATE INDEX slots_by_session ON slots (session_id);
CREATE INDEX slots_by_department_date ON slots (site_id, department_id, date);

CREATE TABLE patients (
    id             TEXT PRIMARY KEY,
    site_id        TEXT NOT NULL REFERENCES sites(id),
    identity_key   TEXT NOT NULL,
    record         TEXT NOT NULL,
    -- change-log cursor of the row's last change, and who made it (a device id or `online`)
    updated_cursor INTEGER NOT NULL,
    updated_by     TEXT NOT NULL,
    UNIQUE (site_id, identity_key)
) STRICT;

-- A patient registered twice (rule 6): references to from_id now mean into_id.
CREATE TABLE patient_aliases (
    from_id TEXT PRIMARY KEY,
    into_id TEXT NOT NULL,
    site_id TEXT NOT NULL
) STRICT;

CREATE TABLE bookings (
    id              TEXT PRIMARY KEY,
    site_id         TEXT NOT NULL REFERENCES sites(id),
    patient_id      TEXT NOT NULL,
    slot_id         TEXT NOT NULL REFERENCES slots(id),
    session_id      TEXT NOT NULL,
    department_id   TEXT NOT NULL,
    date            TEXT NOT NULL,
    queue_no        INTEGER NOT NULL,
    channel         TEXT NOT NULL,
    status          TEXT NOT NULL,
    ticket_code     TEXT NOT NULL UNIQUE,
    overbooked      INTEGER NOT NULL DEFAULT 0,
    record          TEXT NOT NULL,
    created_at      TEXT NOT NULL
) STRICT;
-- Second line of defence behind the rules: a number is held by at most one live booking of
-- a session (no oversell), one active booking per patient per department per day. The first
-- also serves the session's numbers for the overbook rule.
CREATE UNIQUE INDEX bookings_number_held ON bookings (session_id, queue_no) WHERE status <> 'cancelled';
CREATE UNIQUE INDEX bookings_one_per_day ON bookings (patient_id, department_id, date)
    WHERE status IN ('booked', 'checked_in');
CREATE INDEX bookings_by_department_date ON bookings (site_id, department_id, date);

-- The change log: the latest state of each replicated row and the cursor of its latest change.
CREATE TABLE changes (
    site_id   TEXT NOT NULL,
    entity    TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    cursor    INTEGER NOT NULL UNIQUE,
    record    TEXT NOT NULL,
    PRIMARY KEY (site_id, entity, entity_id)
) STRICT;
CREATE INDEX changes_by_site_cursor ON changes (site_id, cursor);

CREATE TABLE devices (
    id               TEXT PRIMARY KEY,
    site_id          TEXT NOT NULL REFERENCES sites(id),
    name             TEXT NOT NULL,
    token_hash       TEXT NOT NULL UNIQUE,
    enrolled_at      TEXT NOT NULL,
    revoked_at       TEXT,
    last_sync_at     TEXT,
    last_pull_cursor INTEGER NOT NULL DEFAULT 0,
    settled_seq      INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE enroll_codes (
    code_hash  TEXT PRIMARY KEY,
    site_id    TEXT NOT NULL REFERENCES sites(id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT,
    device_id  TEXT
) STRICT;

-- Every settled op's outcome, so a replay gets the original answer.
CREATE TABLE op_results (
    op_id     TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    outcome   TEXT NOT NULL,
    UNIQUE (device_id, seq)
) STRICT;

-- Hash-chained audit log, one chain per site (`-` for platform-wide actions).
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    site_id   TEXT NOT NULL,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
) STRICT;
CREATE INDEX audit_by_site ON audit_log (site_id, seq);

-- The head of each chain, so deleting the newest rows is detected too.
CREATE TABLE audit_heads (
    site_id  TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL,
    hash     TEXT NOT NULL,
    count    INTEGER NOT NULL
) STRICT;
