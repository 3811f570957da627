-- The waiting room (docs/SYNC.md, "The waiting room").

-- The consultation room a session's patients are called to, when the site numbers its rooms.
ALTER TABLE sessions ADD COLUMN room INTEGER CHECK (room IS NULL OR room >= 0);

-- Each checked-in booking's place in its session's queue as the platform last said
-- (`queue_entry` records pulled). Never changed by this desk's own ops.
CREATE TABLE queue_base (
    booking_id  TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL,
    queue_no    INTEGER NOT NULL CHECK (queue_no >= 1),
    state       TEXT NOT NULL CHECK (state IN ('waiting', 'called', 'seen', 'no_show')),
    calls       INTEGER NOT NULL DEFAULT 0 CHECK (calls >= 0),
    place_after INTEGER NOT NULL CHECK (place_after >= 0),
    place_seq   INTEGER NOT NULL CHECK (place_seq >= 0),
    -- RFC 3339.
    joined_at   TEXT NOT NULL,
    called_at   TEXT
) STRICT;
CREATE INDEX queue_base_by_session ON queue_base (session_id);

-- What the desk shows: `queue_base` with this desk's own check-in and queue ops on top whose
-- effect no pull has brought yet (those still in the outbox, and those in `queue_inflight`),
-- replayed with the domain's queue rules (`frontdesk_domain::queue`). `predicted` marks the
-- entries such an op changed.
CREATE TABLE queue_entries (
    booking_id  TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL,
    queue_no    INTEGER NOT NULL CHECK (queue_no >= 1),
    state       TEXT NOT NULL CHECK (state IN ('waiting', 'called', 'seen', 'no_show')),
    calls       INTEGER NOT NULL DEFAULT 0 CHECK (calls >= 0),
    place_after INTEGER NOT NULL CHECK (place_after >= 0),
    place_seq   INTEGER NOT NULL CHECK (place_seq >= 0),
    -- RFC 3339.
    joined_at   TEXT NOT NULL,
    called_at   TEXT,
    predicted   INTEGER NOT NULL DEFAULT 0 CHECK (predicted IN (0, 1))
) STRICT;
CREATE INDEX queue_entries_by_session ON queue_entries (session_id, state);

-- This desk's check-in and queue ops the platform applied whose effect is at change-log
-- position `cursor`, not pulled yet: replayed on top of `queue_base` until a pull passes it.
CREATE TABLE queue_inflight (
    seq      INTEGER PRIMARY KEY,
    cursor   INTEGER NOT NULL,
    envelope TEXT NOT NULL
) STRICT;
