-- The waiting room (docs/SYNC.md, "The waiting room"): each checked-in booking's entry in its
-- session's queue (`frontdesk_protocol::sync::QueueItem` as JSON). A check-in or a queue op
-- first locks its session's row (`FOR NO KEY UPDATE`, which bookings' foreign-key checks do
-- not wait for), so the processes change one session's queue one after the other.
CREATE TABLE queue_entries (
    booking_id TEXT PRIMARY KEY REFERENCES bookings(id),
    site_id    TEXT NOT NULL REFERENCES sites(id),
    session_id TEXT NOT NULL,
    record     TEXT NOT NULL
);
CREATE INDEX queue_entries_by_session ON queue_entries (session_id);

-- Waiting-room display PCs enroll like desks but may only read (docs/CENTRAL.md, "Device
-- roles"): an enrollment code is issued for a role, the device keeps it.
ALTER TABLE enroll_codes ADD COLUMN role TEXT NOT NULL DEFAULT 'desk' CHECK (role IN ('desk', 'display'));
ALTER TABLE devices ADD COLUMN role TEXT NOT NULL DEFAULT 'desk' CHECK (role IN ('desk', 'display'));
