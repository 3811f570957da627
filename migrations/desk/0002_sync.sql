-- Sync state: what the platform answered for each op, the conflict inbox, and patient ids
-- that were merged into another patient's on the platform.

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
