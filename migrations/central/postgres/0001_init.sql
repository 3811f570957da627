-- Frontdesk central platform, PostgreSQL back-end: initial schema.
--
-- Several stateless platform processes share this database. What SQLite gets from its one
-- writer, this schema gets from row locks, `FOR UPDATE SKIP LOCKED` and unique indexes:
-- - `numbers` holds one row per regular queue number of a slot: a booking claims the lowest
--   free, unlocked number of its pool, so concurrent bookings of one slot never queue on one
--   row (a hot slot is not a hot row);
-- - partial unique indexes on `bookings` are the last guard for rules 1, 2, 4 and 7;
-- - change-log cursors are derived from the writing transaction's id (see `changes`);
-- - the audit log is a set of hash chains per site, one per writer lane (see `audit_log`).
-- Domain records are stored as their serde JSON (`record`) beside the columns the platform
-- queries by, so the rules and the change log get the exact domain value back.

CREATE TABLE sites (
    id       TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    timezone TEXT NOT NULL
);

CREATE TABLE departments (
    id      TEXT PRIMARY KEY,
    site_id TEXT NOT NULL REFERENCES sites(id),
    code    TEXT NOT NULL,
    name    TEXT NOT NULL,
    name_en TEXT NOT NULL,
    UNIQUE (site_id, code)
);

CREATE TABLE providers (
    id            TEXT PRIMARY KEY,
    site_id       TEXT NOT NULL REFERENCES sites(id),
    department_id TEXT NOT NULL REFERENCES departments(id),
    record        TEXT NOT NULL
);

CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    site_id       TEXT NOT NULL REFERENCES sites(id),
    department_id TEXT NOT NULL REFERENCES departments(id),
    provider_id   TEXT NOT NULL REFERENCES providers(id),
    date          DATE NOT NULL,
    record        TEXT NOT NULL
);
CREATE INDEX sessions_by_department_date ON sessions (site_id, department_id, date);

CREATE TABLE slots (
    id            TEXT PRIMARY KEY,
    session_id    TEXT NOT NULL REFERENCES sessions(id),
    site_id       TEXT NOT NULL REFERENCES sites(id),
    department_id TEXT NOT NULL,
    date          DATE NOT NULL,
    record        TEXT NOT NULL
);
CREATE INDEX slots_by_session ON slots (session_id);
CREATE INDEX slots_by_department_date ON slots (site_id, department_id, date);

-- One row per regular queue number of a slot. `booking_id` is the live booking holding it
-- (NULL: free). Claimed with UPDATE … (SELECT … FOR UPDATE SKIP LOCKED LIMIT 1).
CREATE TABLE numbers (
    session_id TEXT NOT NULL,
    queue_no   INTEGER NOT NULL,
    slot_id    TEXT NOT NULL REFERENCES slots(id),
    pool       TEXT NOT NULL CHECK (pool IN ('desk', 'online')),
    booking_id TEXT,
    PRIMARY KEY (session_id, queue_no)
);
CREATE INDEX numbers_free ON numbers (slot_id, pool, queue_no) WHERE booking_id IS NULL;

CREATE TABLE patients (
    id             TEXT PRIMARY KEY,
    site_id        TEXT NOT NULL REFERENCES sites(id),
    identity_key   TEXT NOT NULL,
    record         TEXT NOT NULL,
    -- change-log cursor of the row's last change, and who made it (a device id or `online`)
    updated_cursor BIGINT NOT NULL,
    updated_by     TEXT NOT NULL,
    UNIQUE (site_id, identity_key)
);

-- A patient registered twice (rule 6): references to from_id now mean into_id.
CREATE TABLE patient_aliases (
    from_id TEXT PRIMARY KEY,
    into_id TEXT NOT NULL,
    site_id TEXT NOT NULL
);

CREATE TABLE bookings (
    id            TEXT PRIMARY KEY,
    site_id       TEXT NOT NULL REFERENCES sites(id),
    patient_id    TEXT NOT NULL,
    slot_id       TEXT NOT NULL REFERENCES slots(id),
    session_id    TEXT NOT NULL,
    department_id TEXT NOT NULL,
    date          DATE NOT NULL,
    queue_no      INTEGER NOT NULL,
    channel       TEXT NOT NULL,
    status        TEXT NOT NULL,
    ticket_code   TEXT NOT NULL UNIQUE,
    overbooked    BOOLEAN NOT NULL DEFAULT FALSE,
    record        TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
-- The last guard behind the rules: a number is held by at most one live booking of a
-- session (rules 1 and 4), one active booking per patient per department per day (rule 2);
-- ticket codes are unique platform-wide (rule 7, the UNIQUE above).
CREATE UNIQUE INDEX bookings_number_held ON bookings (session_id, queue_no) WHERE status <> 'cancelled';
CREATE UNIQUE INDEX bookings_one_per_day ON bookings (patient_id, department_id, date)
    WHERE status IN ('booked', 'checked_in');
CREATE INDEX bookings_by_department_date ON bookings (site_id, department_id, date);

-- The change log: the latest state of each replicated row and the cursor of its latest
-- change. A cursor is (id of the writing transaction) × 2^20 + (the change's place in that
-- transaction). A pull serves only changes of transactions older than the oldest one still
-- running (`pg_snapshot_xmin`): every transaction that commits later has a larger id, so a
-- change can never appear behind a cursor a desk has already passed.
CREATE TABLE changes (
    site_id   TEXT NOT NULL,
    entity    TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    cursor    BIGINT NOT NULL,
    record    TEXT NOT NULL,
    PRIMARY KEY (site_id, entity, entity_id)
);
CREATE INDEX changes_by_site_cursor ON changes (site_id, cursor);
-- Each process's in-memory availability view follows the whole log by cursor.
CREATE INDEX changes_by_cursor ON changes (cursor);

CREATE TABLE devices (
    id               TEXT PRIMARY KEY,
    site_id          TEXT NOT NULL REFERENCES sites(id),
    name             TEXT NOT NULL,
    token_hash       TEXT NOT NULL UNIQUE,
    enrolled_at      TIMESTAMPTZ NOT NULL,
    revoked_at       TIMESTAMPTZ,
    last_sync_at     TIMESTAMPTZ,
    last_pull_cursor BIGINT NOT NULL DEFAULT 0,
    settled_seq      BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE enroll_codes (
    code_hash  TEXT PRIMARY KEY,
    site_id    TEXT NOT NULL REFERENCES sites(id),
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ,
    device_id  TEXT
);

-- Every settled op's outcome, so a replay gets the original answer.
CREATE TABLE op_results (
    op_id     TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    seq       BIGINT NOT NULL,
    outcome   TEXT NOT NULL,
    UNIQUE (device_id, seq)
);

-- Hash-chained audit log. A site's log is a set of chains, one per writer lane (a lane is
-- one connection of one platform process that commits groups of writes): each row's hash
-- covers the previous row of its chain and every field of the row, so no two writers ever
-- wait on one chain head.
CREATE TABLE audit_log (
    id        BIGSERIAL PRIMARY KEY,
    site_id   TEXT NOT NULL,
    lane      TEXT NOT NULL,
    seq       BIGINT NOT NULL,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL,
    UNIQUE (site_id, lane, seq)
);

-- The head of each chain, so deleting the newest rows is detected too.
CREATE TABLE audit_heads (
    site_id  TEXT NOT NULL,
    lane     TEXT NOT NULL,
    last_seq BIGINT NOT NULL,
    hash     TEXT NOT NULL,
    count    BIGINT NOT NULL,
    PRIMARY KEY (site_id, lane)
);
