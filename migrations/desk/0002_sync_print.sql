-- Sync state (what the platform answered for each op, the conflict inbox, patient ids merged
-- into another on the platform) and the log of everything this desk printed.

-- The platform's answer for every settled op (applied, duplicate, conflict, rejected).
CREATE TABLE op_results (
    op_id      TEXT PRIMARY KEY,
    seq        INTEGER NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('applied', 'duplicate', 'conflict', 'rejected')),
    result     TEXT NOT NULL,
    settled_at TEXT NOT NULL
) STRICT;

-- Conflicts and rejections waiting for a person, with what the platform said.
CREATE TABLE conflicts (
    id          INTEGER PRIMARY KEY,
    op_id       TEXT NOT NULL UNIQUE,
    seq         INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    envelope    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    resolved_at TEXT,
    resolution  TEXT
) STRICT;
CREATE INDEX conflicts_open ON conflicts (resolved_at, id);

-- A patient registered at two desks is one patient: references to `from_id` mean `into_id`.
CREATE TABLE patient_aliases (
    from_id TEXT PRIMARY KEY,
    into_id TEXT NOT NULL
) STRICT;

-- Every ticket, notice and slot sheet this desk printed (reprints included), and failures.
CREATE TABLE print_log (
    id         INTEGER PRIMARY KEY,
    document   TEXT NOT NULL CHECK (document IN ('ticket', 'sheet', 'notice')),
    subject    TEXT NOT NULL,
    reprint    INTEGER NOT NULL DEFAULT 0,
    printer    TEXT NOT NULL,
    staff_id   TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    printed_at TEXT NOT NULL
) STRICT;
CREATE INDEX print_log_by_subject ON print_log (subject);
