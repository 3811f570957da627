-- Capacity leases (docs/SYNC.md, "Capacity leases"): the desk-pool queue numbers the platform
-- leased to the desks of this site. Every desk's leases are kept — this desk's own to spend,
-- the others' to avoid. A lease row leaves with the platform's `lease` tombstone (spent,
-- given back, expired, revoked), or when this desk's own spend of it is confirmed.
CREATE TABLE leases (
    session_id      TEXT NOT NULL,
    queue_no        INTEGER NOT NULL CHECK (queue_no >= 1),
    slot_id         TEXT NOT NULL,
    device_id       TEXT NOT NULL,
    -- When the platform takes the number back if unspent, on the platform's clock (RFC 3339).
    -- Never compared with this desk's clock.
    expires_at      TEXT NOT NULL,
    -- Until when this desk may spend it, in milliseconds of its hybrid logical clock's physical
    -- part, counted from receipt (`lease::desk_deadline_ms`). Only this desk's own leases have
    -- one; NULL: not usable (another desk's, or received without the platform's time).
    usable_until_ms INTEGER,
    -- When this desk received the grant, on the same clock.
    received_at_ms  INTEGER NOT NULL,
    -- 1 once this desk gave the number back: never spent again, and sent back to the platform
    -- with the next lease request; the row stays (the number is the platform's until it says
    -- otherwise).
    given_back      INTEGER NOT NULL DEFAULT 0 CHECK (given_back IN (0, 1)),
    PRIMARY KEY (session_id, queue_no)
) STRICT;
CREATE INDEX leases_by_slot ON leases (slot_id);
CREATE INDEX leases_by_device ON leases (device_id, session_id);

-- 1 when the booking spent a number of this desk's own lease: guaranteed, shown and printed
-- without the "not yet confirmed" mark, never renumbered locally.
ALTER TABLE bookings ADD COLUMN leased INTEGER NOT NULL DEFAULT 0 CHECK (leased IN (0, 1));

-- The site's lease policy lives in `meta` under `lease_policy` (JSON of
-- `frontdesk_domain::lease::LeasePolicy`; absent: the site leases nothing).
